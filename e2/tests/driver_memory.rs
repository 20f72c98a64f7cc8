//! The tokio drivers end to end over the in-memory transport: a RicServer
//! and 20 NodeClients (setup, one KPM subscription per node, 10 000
//! indications per node at full speed, none lost or reordered by the
//! 64-bit sequence in the KPM message; control round trips; association
//! loss from either side → node disconnected → reconnect → E2 Setup again).

mod procedures_support;

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use procedures_support::{KPM, kpm_subscription, node_config, node_id, ric_config};
use qsafe_asn1::e2ap_asn as asn;
use qsafe_e2::driver::traffic::{KpmTraffic, read_stamp};
use qsafe_e2::driver::{
    DriverError, MemoryConnector, NodeClient, NodeEvent, NodeHandle, NodeOptions, RicHandle, RicServer,
    RicServerOptions,
};
use qsafe_e2::node::{self, ControlPolicy, SubscriptionPolicy};
use qsafe_e2::ric::{self, ControlRequest};
use qsafe_e2::{E2NodeId, RequestId};
use tokio::sync::{broadcast, mpsc};

const NODES: u32 = 20;
const PER_NODE: u64 = 10_000;
const WAIT: Duration = Duration::from_secs(60);

/// Node-side application: on every subscription it is given, sends `count`
/// sequenced KPM indications as fast as the client accepts them; answers
/// control requests per `fail_controls`. Reports what happened.
fn node_app(
    id: u32,
    mut client: NodeClient,
    count: u64,
    fail_controls: bool,
) -> (NodeHandle, mpsc::UnboundedReceiver<NodeEvent>) {
    let handle = client.handle.clone();
    let (tx, rx) = mpsc::unbounded_channel();
    let app = handle.clone();
    tokio::spawn(async move {
        let traffic = KpmTraffic::new(&["DRB.UEThpDl"], 1000, 0).expect("traffic");
        let mut seq: u64 = 0;
        while let Some(ev) = client.events.recv().await {
            match &ev {
                NodeEvent::Agent(node::Event::SubscriptionAdded { request, admitted, .. }) => {
                    let action = admitted[0];
                    for _ in 0..count {
                        let (h, m) = traffic.build(seq, SystemTime::now()).expect("build");
                        seq += 1;
                        if app.send_indication(*request, action, h, m).await.is_err() {
                            break;
                        }
                    }
                }
                NodeEvent::Agent(node::Event::ControlRequested { request, answered: false, .. }) => {
                    let r = if fail_controls {
                        app.fail_control(*request, asn::Cause::misc(asn::CauseMisc::unspecified), None).await
                    } else {
                        app.ack_control(*request, Some(b"done".to_vec().into())).await
                    };
                    r.expect("answer control");
                }
                _ => {}
            }
            if tx.send(ev).is_err() {
                // The test stopped listening; keep serving.
            }
        }
        let _ = id;
    });
    (handle, rx)
}

fn spawn_node(
    ric: &RicHandle,
    n: u32,
    count: u64,
    ask_controls: bool,
) -> (NodeHandle, mpsc::UnboundedReceiver<NodeEvent>) {
    let mut config = node_config(n);
    config.subscription_policy = SubscriptionPolicy::AdmitAll;
    config.control_policy = if ask_controls { ControlPolicy::Ask } else { ControlPolicy::AcknowledgeAll };
    let client = NodeClient::spawn(config, MemoryConnector { ric: ric.clone() }, NodeOptions::default()).expect("node");
    node_app(n, client, count, ask_controls)
}

async fn wait_ric<F: FnMut(&ric::Event) -> bool>(events: &mut broadcast::Receiver<ric::Event>, mut f: F) -> ric::Event {
    tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Ok(ev) if f(&ev) => return ev,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => panic!("lagged {n}"),
                Err(e) => panic!("events: {e}"),
            }
        }
    })
    .await
    .expect("RIC event in time")
}

async fn wait_node<F: FnMut(&NodeEvent) -> bool>(
    events: &mut mpsc::UnboundedReceiver<NodeEvent>,
    mut f: F,
) -> NodeEvent {
    tokio::time::timeout(WAIT, async {
        loop {
            let ev = events.recv().await.expect("node events");
            if f(&ev) {
                return ev;
            }
        }
    })
    .await
    .expect("node event in time")
}

fn control(ack: bool) -> ControlRequest {
    ControlRequest {
        ran_function_id: KPM,
        header: b"hdr".to_vec().into(),
        message: b"msg".to_vec().into(),
        call_process_id: None,
        ack_requested: ack,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_nodes_ten_thousand_indications_each() {
    let server = RicServer::spawn(ric_config(), RicServerOptions::default());
    let ric = server.handle();
    let mut events = ric.events();
    let mut nodes: HashMap<E2NodeId, (NodeHandle, mpsc::UnboundedReceiver<NodeEvent>)> = HashMap::new();
    for n in 0..NODES {
        nodes.insert(node_id(n), spawn_node(&ric, n, PER_NODE, false));
    }
    let mut connected = 0;
    while connected < NODES {
        wait_ric(&mut events, |e| matches!(e, ric::Event::NodeConnected { reconnected: false, .. })).await;
        connected += 1;
    }
    let registry = ric.registry().await.expect("registry");
    assert_eq!(registry.connected().count(), NODES as usize);

    // One subscription per node; a consumer per subscription checks the sequence.
    let started = Instant::now();
    let mut consumers = Vec::new();
    for n in 0..NODES {
        let mut sub = ric.subscribe(&node_id(n), kpm_subscription(&[1])).await.expect("subscribe");
        assert_eq!(sub.admitted, vec![1]);
        consumers.push(tokio::spawn(async move {
            let mut expected = 0u64;
            let mut latencies = Vec::with_capacity(PER_NODE as usize);
            let mut buf = Vec::with_capacity(256);
            while expected < PER_NODE {
                if sub.recv_many(&mut buf, 256).await == 0 {
                    break;
                }
                let now = SystemTime::now();
                for ind in buf.drain(..) {
                    let stamp = read_stamp(&ind.header, &ind.message).expect("sequenced indication");
                    assert_eq!(stamp.seq, expected, "node {n}: lost or reordered");
                    assert_eq!(ind.sn, Some(expected as u16), "node {n}: RICindicationSN");
                    latencies.push(stamp.latency(now));
                    expected += 1;
                }
            }
            (expected, latencies, sub)
        }));
    }
    let mut all = Vec::new();
    let mut subs = Vec::new();
    for c in consumers {
        let (got, lat, sub) = tokio::time::timeout(WAIT, c).await.expect("indications in time").expect("consumer");
        assert_eq!(got, PER_NODE);
        all.extend(lat);
        subs.push(sub);
    }
    let elapsed = started.elapsed();
    all.sort_unstable();
    let total = u64::from(NODES) * PER_NODE;
    println!(
        "driver_memory: {total} indications from {NODES} nodes in {elapsed:?} = {:.0} indications/s; latency p50 {:?} p99 {:?} (debug build)",
        total as f64 / elapsed.as_secs_f64(),
        all[all.len() / 2],
        all[all.len() * 99 / 100],
    );
    let stats = ric.stats().await.expect("stats");
    assert_eq!(stats.indications_delivered, total);
    assert_eq!(stats.indications_unrouted, 0);

    // Control round trips (AcknowledgeAll).
    for n in 0..NODES {
        let out = ric.control(&node_id(n), control(true)).await.expect("control");
        assert!(out.acknowledged);
        let out = ric.control(&node_id(n), control(false)).await.expect("control without ack");
        assert!(!out.acknowledged);
    }

    // Unsubscribe one: its channel ends.
    let mut first = subs.remove(0);
    ric.unsubscribe(first.id).await.expect("unsubscribe");
    assert!(first.recv().await.is_none());

    // Node-side drop: RIC sees the node go, the node reconnects and sets up again.
    let victim = node_id(3);
    let (handle, node_events) = nodes.get_mut(&victim).expect("node 3");
    handle.drop_association().await.expect("drop");
    let ev = wait_ric(&mut events, |e| matches!(e, ric::Event::NodeDisconnected { node, .. } if *node == victim)).await;
    if let ric::Event::NodeDisconnected { subscriptions_lost, .. } = ev {
        assert_eq!(subscriptions_lost.len(), 1);
    }
    wait_node(node_events, |e| matches!(e, NodeEvent::Disconnected { .. })).await;
    wait_node(node_events, |e| matches!(e, NodeEvent::Agent(node::Event::SetupComplete { .. }))).await;
    wait_ric(
        &mut events,
        |e| matches!(e, ric::Event::NodeConnected { node, reconnected: true, .. } if *node == victim),
    )
    .await;
    let info = ric.registry().await.expect("registry").get(&victim).cloned().expect("victim");
    assert!(info.is_connected());
    assert_eq!(info.setups, 2);
    // The lost subscription's channel ended; the node works again.
    let out = ric.control(&victim, control(true)).await.expect("control after reconnect");
    assert!(out.acknowledged);

    // RIC-side drop.
    let victim = node_id(7);
    ric.disconnect(&victim).await.expect("disconnect");
    wait_ric(
        &mut events,
        |e| matches!(e, ric::Event::NodeConnected { node, reconnected: true, .. } if *node == victim),
    )
    .await;
    let (_, node_events) = nodes.get_mut(&victim).expect("node 7");
    wait_node(node_events, |e| matches!(e, NodeEvent::Disconnected { .. })).await;
    wait_node(node_events, |e| matches!(e, NodeEvent::Agent(node::Event::SetupComplete { .. }))).await;

    // A fresh subscription after the reconnect carries on with the node's sequence.
    let mut sub = ric.subscribe(&victim, kpm_subscription(&[1])).await.expect("resubscribe");
    let ind = tokio::time::timeout(WAIT, sub.recv()).await.expect("in time").expect("indication");
    assert_eq!(read_stamp(&ind.header, &ind.message).expect("stamp").seq, PER_NODE);
    assert_eq!(ind.sn, Some(0));

    let stats = server.shutdown().await;
    assert!(stats.associations_up >= u64::from(NODES) + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_failure_and_errors() {
    let server = RicServer::spawn(ric_config(), RicServerOptions::default());
    let ric = server.handle();
    let mut events = ric.events();
    let (_node, _node_events) = spawn_node(&ric, 1, 0, true);
    wait_ric(&mut events, |e| matches!(e, ric::Event::NodeConnected { .. })).await;
    match ric.control(&node_id(1), control(true)).await {
        Err(DriverError::ControlFailed { cause, .. }) => {
            assert_eq!(cause, asn::Cause::misc(asn::CauseMisc::unspecified))
        }
        other => panic!("expected a control failure, got {other:?}"),
    }
    // Unknown node, unknown subscription: refused at once.
    assert!(matches!(
        ric.control(&node_id(99), control(true)).await,
        Err(DriverError::Ric(ric::RicError::UnknownNode(_)))
    ));
    assert!(matches!(
        ric.unsubscribe(RequestId::new(1, 999)).await,
        Err(DriverError::Ric(ric::RicError::UnknownSubscription(_)))
    ));
    // Unsupported RAN function.
    let mut bad = kpm_subscription(&[1]);
    bad.ran_function_id = 55;
    assert!(matches!(ric.subscribe(&node_id(1), bad).await, Err(DriverError::Ric(_))));
    server.shutdown().await;
    assert!(matches!(ric.registry().await, Err(DriverError::Stopped)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_association_is_closed() {
    let mut config = ric_config();
    config.setup_wait = Some(Duration::from_millis(100));
    let server = RicServer::spawn(config, RicServerOptions::default());
    let ric = server.handle();
    let mut events = ric.events();
    // A transport that never sends E2 Setup.
    let mut silent = ric.connect_memory().expect("memory");
    let ev = wait_ric(&mut events, |e| matches!(e, ric::Event::SetupWaitExpired { .. })).await;
    assert!(matches!(ev, ric::Event::SetupWaitExpired { .. }));
    use qsafe_e2::transport::{E2Receiver, TransportEvent};
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match silent.recv().await {
                Ok(Some(TransportEvent::Down { .. })) | Ok(None) => return true,
                Ok(Some(_)) => {}
                Err(_) => return true,
            }
        }
    })
    .await
    .expect("closed in time");
    assert!(closed);
    let stats = server.shutdown().await;
    assert_eq!(stats.associations_closed, 1);
}
