//! E2 security events from the xApp to the rApp over a real NATS JetStream
//! (issue 7, "NATS JetStream coordination"): the xApp's key plane publishes
//! link-state changes and rekey results for its keyed nodes to
//! `qsafe.events.e2.<node>`; the rApp's durable consumer builds the per-node
//! view and saves it in its durable state (redb). The rApp then goes offline
//! while the xApp keeps rekeying, and a restarted rApp (same durable name,
//! same state file) replays what it missed: its view's epochs catch up with
//! the xApp's.
//!
//! Needs `nats-server` (Debian package): skipped with a message when it is
//! missing, a failure when `QSAFE_REQUIRE_NATS=1` (as in CI).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use qsafe_events::{ConsumerConfig, LinkState};
use qsafe_rapp::e2view::E2ViewKeeper;
use qsafe_state::StateConfig;
use qsafe_state::testkit::NatsServer;
use qsafe_xapp::freshness::LinkState as XLinkState;
use qsafe_xfrm::MemoryDataPlane;

const NODES: u32 = 2;

async fn keeper(server: &NatsServer, state: &std::path::Path) -> E2ViewKeeper {
    let state = qsafe_state::open(&StateConfig::redb(state)).await.expect("state");
    let mut cfg = ConsumerConfig::new(server.url());
    cfg.durable_name = "rapp-e2-view".into();
    E2ViewKeeper::open(cfg, state).await.expect("keeper")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xapp_events_reach_the_rapp_view_and_an_offline_rapp_catches_up() {
    let Some(server) = NatsServer::start("events_to_rapp") else { return };
    let (dir, pki) = common::demo_pki(NODES);
    let kme = common::start_kme(&pki, |s| s.link.initial_key_count = 512).await;
    let pki_dir = dir.path().to_str().expect("utf-8").to_string();
    let url = server.url();
    let settings =
        common::xapp_settings(&pki_dir, &kme, &["--rekey-period", "1", "--mode", "qkd-and-pqc", "--nats-url", &url]);
    assert_eq!(settings.nats_url.as_deref(), Some(url.as_str()));
    let xapp = common::start_xapp(&settings).await;
    let (node_stop, node_run) = common::spawn_keyed_nodes(
        xapp.handle.clone(),
        &pki_dir,
        &kme,
        NODES,
        &["--rate", "10", "--grace-ms", "200"],
        Arc::new(MemoryDataPlane::new()),
    );

    // ---- the rApp's view sees every node protected on hybrid keys
    let state_file = dir.path().join("rapp-state.redb");
    let mut rapp = keeper(&server, &state_file).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        rapp.catch_up(Duration::from_millis(300)).await.expect("catch up");
        let v = rapp.view();
        let ok = v.nodes().count() == NODES as usize
            && v.nodes().all(|(_, n)| {
                n.link_state == Some(LinkState::Protected)
                    && n.epoch.is_some_and(|e| e >= 2)
                    && n.key_source == Some(qsafe_events::KeySource::Hybrid)
            });
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "view incomplete: {}", serde_json::to_string_pretty(v).unwrap());
    }
    let before: Vec<u64> = rapp.view().nodes().map(|(_, n)| n.epoch.unwrap()).collect();
    for (node, n) in rapp.view().nodes() {
        assert!(n.counts.rekeys_ok >= 1, "{node}: {n:?}");
        assert!(n.last_rekey.as_ref().is_some_and(|r| r.ok), "{node}: {n:?}");
    }
    drop(rapp); // offline

    // ---- while the rApp is away the xApp rekeys on (each link at least 3 more epochs)
    let target: Vec<u32> = before.iter().map(|e| *e as u32 + 3).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = xapp.monitor.lock().unwrap().status(SystemTime::now());
        let mut epochs: Vec<u32> =
            s.links.iter().filter(|l| l.state == XLinkState::Protected).map(|l| l.epoch).collect();
        epochs.sort();
        let mut want = target.clone();
        want.sort();
        if epochs.len() == want.len() && epochs.iter().zip(&want).all(|(a, b)| a >= b) {
            break;
        }
        assert!(Instant::now() < deadline, "xApp did not rekey on: {epochs:?} vs {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let xapp_epochs: std::collections::BTreeMap<String, u32> = xapp
        .monitor
        .lock()
        .unwrap()
        .status(SystemTime::now())
        .links
        .iter()
        .map(|l| (l.node.clone(), l.epoch))
        .collect();

    // ---- a restarted rApp (same durable consumer, same state) replays what it missed
    let mut rapp = keeper(&server, &state_file).await;
    assert!(rapp.view().events_applied() > 0, "the saved view was loaded");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        rapp.catch_up(Duration::from_millis(500)).await.expect("catch up");
        let caught_up = xapp_epochs
            .iter()
            .all(|(node, e)| rapp.view().node(node).and_then(|n| n.epoch).is_some_and(|v| v >= u64::from(*e)));
        if caught_up {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted rApp did not catch up to {xapp_epochs:?}: {}",
            serde_json::to_string_pretty(rapp.view()).unwrap()
        );
    }

    node_stop.send(true).unwrap();
    let _ = node_run.await.unwrap();
    xapp.stop.send(true).unwrap();
    let _ = xapp.run.await.unwrap();
    drop(server);
}
