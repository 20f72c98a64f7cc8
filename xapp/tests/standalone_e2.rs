//! The xApp's standalone RIC role end to end over the in-memory transport:
//! E2 nodes (the real `NodeClient` driver) set up, the xApp subscribes to
//! each node's E2SM-KPM function on its own, counts the indications per link,
//! marks a node down when its association is lost, and subscribes again when
//! it comes back. A node without KPM is set up but not subscribed; a function
//! outside `accept_oids` is rejected.

use std::time::{Duration, SystemTime};

use qsafe_asn1::kpm::{self, KpmPayload};
use qsafe_e2::E2NodeId;
use qsafe_e2::common::{ComponentConfig, RanFunction};
use qsafe_e2::driver::traffic::KpmTraffic;
use qsafe_e2::driver::{MemoryConnector, NodeClient, NodeEvent, NodeOptions};
use qsafe_e2::node::{self, E2NodeConfig, SubscriptionPolicy};
use qsafe_xapp::config::{E2Settings, KpmWatch};
use qsafe_xapp::e2::{E2Role, LinkView};

const WAIT: Duration = Duration::from_secs(30);
const PER_SUBSCRIPTION: u64 = 500;
const OTHER_OID: &str = "1.3.6.1.4.1.53148.1.1.2.3";

fn settings(accept_oids: Vec<String>) -> E2Settings {
    E2Settings {
        listen: "127.0.0.1:0".parse().expect("addr"),
        mcc: "001".into(),
        mnc: "01".into(),
        ric_id: 5,
        requestor_id: 1001,
        accept_oids,
        setup_wait: Duration::from_secs(30),
        kpm: Some(KpmWatch { period_ms: 100, measurements: vec!["DRB.UEThpDl".into()] }),
    }
}

fn gnb(n: u32) -> E2NodeId {
    E2NodeId::gnb("001", "01", 0x2000 + n, 28).expect("node id")
}

fn kpm_function() -> RanFunction {
    let definition = kpm::ran_function_description(&["DRB.UEThpDl"]).expect("kpm").encode_aper().expect("encode");
    RanFunction::new(2, 1, kpm::RAN_FUNCTION_OID, definition)
}

fn other_function() -> RanFunction {
    RanFunction::new(3, 1, OTHER_OID, b"other".to_vec())
}

fn link(links: &[LinkView], n: u32) -> Option<&LinkView> {
    let name = gnb(n).to_string();
    links.iter().find(|l| l.node == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribes_counts_and_resubscribes_after_reconnect() {
    let role = E2Role::new(&settings(Vec::new())).expect("role");
    let links = role.links();
    let handle = role.handle().clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(role.run(stop_rx));

    // Three KPM nodes and one that offers only another function.
    for n in 0..3 {
        spawn_node(&handle, n, vec![kpm_function(), other_function()]);
    }
    spawn_node(&handle, 9, vec![other_function()]);

    let all_counted = |links: &[LinkView]| {
        (0..3).all(|n| link(links, n).is_some_and(|l| l.connected && l.indications == PER_SUBSCRIPTION))
            && link(links, 9).is_some_and(|l| l.connected)
    };
    assert!(links.wait_until(WAIT, all_counted).await, "links: {:#?}", links.snapshot());
    let now = links.snapshot();
    for n in 0..3 {
        let l = link(&now, n).expect("link");
        assert_eq!(l.setups, 1);
        assert_eq!(l.undecodable, 0);
        assert!(l.kpm_subscription.is_some(), "{l:?}");
        assert_eq!(l.kpm_subscriptions, 1);
        assert_eq!(l.ran_functions.len(), 2);
        assert!(l.last_indication_unix.is_some());
    }
    let other = link(&now, 9).expect("link 9");
    assert_eq!((other.kpm_subscription.as_deref(), other.indications), (None, 0));
    assert_eq!(other.ran_functions.values().collect::<Vec<_>>(), vec![OTHER_OID]);

    // The RIC drops node 1's association: it is marked down, comes back (the
    // NodeClient reconnects), is subscribed again and counts on.
    handle.disconnect(&gnb(1)).await.expect("disconnect");
    let back = |links: &[LinkView]| {
        link(links, 1).is_some_and(|l| {
            l.connected && l.setups == 2 && l.kpm_subscriptions == 2 && l.indications == 2 * PER_SUBSCRIPTION
        })
    };
    assert!(links.wait_until(WAIT, back).await, "links: {:#?}", links.snapshot());

    stop_tx.send(true).expect("stop");
    let summary = tokio::time::timeout(WAIT, run).await.expect("stops in time").expect("run");
    assert_eq!(summary.links.len(), 4);
    assert_eq!(summary.indications, 4 * PER_SUBSCRIPTION);
    assert!(summary.associations_up >= 5, "{summary:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_oids_limit_the_functions() {
    let role = E2Role::new(&settings(vec![kpm::RAN_FUNCTION_OID.to_string()])).expect("role");
    let links = role.links();
    let ric = role.handle().clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(role.run(stop_rx));
    spawn_node(&ric, 0, vec![kpm_function(), other_function()]);
    let counted = |links: &[LinkView]| link(links, 0).is_some_and(|l| l.connected && l.indications == PER_SUBSCRIPTION);
    assert!(links.wait_until(WAIT, counted).await, "links: {:#?}", links.snapshot());
    let l = link(&links.snapshot(), 0).cloned().expect("link");
    assert_eq!(l.ran_functions.keys().copied().collect::<Vec<_>>(), vec![2], "only KPM accepted: {l:?}");
    stop_tx.send(true).expect("stop");
    tokio::time::timeout(WAIT, run).await.expect("stops in time").expect("run");
}

/// A node offering `functions`, connected to `ric` in memory; on every
/// subscription it sends `PER_SUBSCRIPTION` sequenced KPM indications.
fn spawn_node(ric: &qsafe_e2::driver::RicHandle, n: u32, functions: Vec<RanFunction>) {
    let mut config = E2NodeConfig::new(
        gnb(n),
        functions,
        vec![ComponentConfig::f1(u64::from(n), b"req".to_vec(), b"resp".to_vec()).expect("f1")],
    );
    config.subscription_policy = SubscriptionPolicy::AdmitAll;
    let mut client =
        NodeClient::spawn(config, MemoryConnector { ric: ric.clone() }, NodeOptions::default()).expect("node client");
    tokio::spawn(async move {
        let traffic = KpmTraffic::new(&["DRB.UEThpDl"], 100, 0).expect("traffic");
        let mut seq = 0;
        while let Some(ev) = client.events.recv().await {
            if let NodeEvent::Agent(node::Event::SubscriptionAdded { request, admitted, .. }) = ev {
                for _ in 0..PER_SUBSCRIPTION {
                    let (h, m) = traffic.build(seq, SystemTime::now()).expect("build");
                    seq += 1;
                    if client.handle.send_indication(request, admitted[0], h, m).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
}
