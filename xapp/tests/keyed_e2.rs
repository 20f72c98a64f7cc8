//! The key plane end to end, in one process: the `qsafe-xapp` key plane
//! (E2 role + link tasks + freshness monitor) against `qsafe-e2node --keyed`
//! nodes over in-memory E2 associations, with a real KME pair (ETSI 014 over
//! ML-DSA / X25519MLKEM768 mutual TLS), real ML-DSA-65 certificates and real
//! ML-KEM-768. The data planes are the in-process models (kernel ESP is the
//! user-mode-Linux tier's job: tests/kernel/cases/60-*).
//!
//! Checks: every node's link is keyed on the policy's schedule (epochs go up,
//! state protected, hybrid keys), KPM traffic flows only once protected and
//! arrives complete and in order, and the status report says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use qsafe_hybrid::KeySource;
use qsafe_xapp::freshness::LinkState;
use qsafe_xfrm::MemoryDataPlane;

const NODES: u32 = 4;
/// KPM indications per node (sent once its link is protected).
const COUNT: u64 = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xapp_keys_every_node_and_traffic_flows_only_protected() {
    let (dir, pki) = common::demo_pki(NODES);
    let kme = common::start_kme(&pki, |s| s.link.initial_key_count = 256).await;
    let pki_dir = dir.path().to_str().expect("utf-8").to_string();

    // ---- the xApp: E2 role + key plane (rekey every second)
    let xapp =
        common::start_xapp(&common::xapp_settings(&pki_dir, &kme, &["--rekey-period", "1", "--kpm-period-ms", "100"]))
            .await;
    let (handle, monitor, links) = (xapp.handle.clone(), xapp.monitor.clone(), xapp.links.clone());

    // ---- the nodes: qsafe-e2node --keyed, over in-memory associations
    let count = COUNT.to_string();
    let extra = ["--rate", "100", "--count", &count, "--grace-ms", "200"];
    let (node_stop_tx, node_run) =
        common::spawn_keyed_nodes(handle, &pki_dir, &kme, NODES, &extra, Arc::new(MemoryDataPlane::new()));

    // ---- every link protected and rekeyed at least 3 times (deadline, polled)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        let status = monitor.lock().unwrap().status(SystemTime::now());
        let done = status.links.len() == NODES as usize
            && status.links.iter().all(|l| l.state == LinkState::Protected && l.epoch >= 3);
        if done {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "links not keyed in time: {}",
            serde_json::to_string_pretty(&status).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for l in &status.links {
        assert_eq!(l.key_source, Some(KeySource::Hybrid), "{}: QKD + ML-KEM in qkd-and-pqc mode", l.node);
        assert!(l.key_id.is_some(), "{}: a QKD key_ID is bound", l.node);
        assert!(l.rekeys_ok >= 3 && l.rekey_latency.count >= 3, "{}: {:?}", l.node, l.rekey_latency);
    }
    // KPM flows once protected, while the links keep being rekeyed: every
    // node's COUNT indications arrive.
    assert!(
        links
            .wait_until(Duration::from_secs(60), |ls| ls.len() == NODES as usize
                && ls.iter().all(|l| l.indications == COUNT))
            .await,
        "KPM indications did not all arrive: {:?}",
        links.snapshot()
    );
    let epochs_after: Vec<u32> =
        monitor.lock().unwrap().status(SystemTime::now()).links.iter().map(|l| l.epoch).collect();
    node_stop_tx.send(true).expect("stop nodes");
    let summary = node_run.await.expect("join").expect("nodes ran");
    xapp.stop.send(true).expect("stop xapp");
    let xapp_summary = xapp.run.await.expect("join");
    assert!(summary.all_set_up(), "{}", summary.line());
    for l in &xapp_summary.links {
        assert_eq!((l.undecodable, l.seq_missing, l.seq_reordered), (0, 0, 0), "{l:?}");
    }
    // (The node's indication counter also counts its E2SM-QKD REPORTs.)
    assert!(summary.nodes.iter().all(|n| n.indications > COUNT), "{}", summary.line());
    assert!(epochs_after.iter().all(|e| *e >= 3), "rekeys went on while KPM flowed: {epochs_after:?}");
}
