//! A slow node at bootstrap: the RIC adopts the late outcome of the REKEY it
//! gave up on (docs/rekey-protocol.md, "A late or lost bootstrap outcome").
//!
//! One `qsafe-e2node --keyed` node with `--fault-slow-bootstrap-ms 9000`
//! (its first dec_keys is held 9 s) against the xApp's key plane, over
//! in-memory E2. The xApp sends REKEY 1 and retransmits it every 2 s (3
//! times), gives the epoch up after 8 s (`RekeyFailed{Timeout}`), but the
//! RIC Control procedure of its last retransmission is open until 11 s: the
//! node's signed success outcome arrives at ~9 s and the key plane must adopt
//! it, so the first epoch the link is ever protected under is epoch 1, after
//! a recorded timeout of epoch 1. (A newer REKEY started meanwhile is refused
//! `Busy` by the node, which is still fetching: it cannot be what protects
//! the link at epoch 1.) The kernel-tier case 63 runs the same fault over
//! real ESP, together with the node's bootstrap fallback.
//!
//! Synchronisation: the monitor's status is polled every 50 ms against a
//! deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use qsafe_hybrid::KeySource;
use qsafe_xapp::freshness::LinkState;
use qsafe_xfrm::MemoryDataPlane;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_bootstrap_outcome_is_adopted() {
    let (dir, pki) = common::demo_pki(1);
    let kme = common::start_kme(&pki, |s| s.link.initial_key_count = 64).await;
    let pki_dir = dir.path().to_str().expect("utf-8").to_string();
    // A long rekey period: after the adoption nothing else rekeys for a while.
    let xapp = common::start_xapp(&common::xapp_settings(&pki_dir, &kme, &["--rekey-period", "30"])).await;
    let (handle, monitor) = (xapp.handle.clone(), xapp.monitor.clone());
    let extra = ["--rate", "10", "--grace-ms", "200", "--fault-slow-bootstrap-ms", "9000"];
    let (node_stop_tx, node_run) =
        common::spawn_keyed_nodes(handle, &pki_dir, &kme, 1, &extra, Arc::new(MemoryDataPlane::new()));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    let first_protected = loop {
        let status = monitor.lock().unwrap().status(SystemTime::now());
        if let Some(l) = status.links.first()
            && l.state == LinkState::Protected
        {
            break l.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the link was never protected: {}",
            serde_json::to_string_pretty(&status).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(first_protected.epoch, 1, "protected first under the given-up epoch 1: {first_protected:?}");
    assert_eq!(first_protected.key_source, Some(KeySource::Hybrid));
    assert!(first_protected.rekeys_failed >= 1, "epoch 1 was given up first: {first_protected:?}");
    assert!(first_protected.rekeys_ok >= 1);
    // The adopted latency is the whole wait (REKEY 1 to the late outcome).
    assert!(first_protected.rekey_latency.count >= 1);

    node_stop_tx.send(true).expect("stop nodes");
    let summary = node_run.await.expect("join").expect("nodes ran");
    xapp.stop.send(true).expect("stop xapp");
    let _ = xapp.run.await.expect("join");
    assert!(summary.all_set_up(), "{}", summary.line());
}
