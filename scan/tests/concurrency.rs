//! Bounded-concurrency scanning: 200 TLS listeners and one black hole.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use qsafe_scan::model::{Classification, EndpointReport, Reachability};
use qsafe_scan::testserver::{ServerProfile, server_config, spawn_blackhole, spawn_with_config};
use qsafe_scan::{ScanConfig, ScanProgress, parse_targets, scan};

#[derive(Default)]
struct Counting {
    total: AtomicUsize,
    done: AtomicUsize,
    order: Mutex<Vec<String>>,
}

impl ScanProgress for Counting {
    fn started(&self, total: usize) {
        self.total.store(total, Ordering::SeqCst);
    }
    fn endpoint_done(&self, report: &EndpointReport) {
        self.done.fetch_add(1, Ordering::SeqCst);
        self.order.lock().unwrap().push(report.target.key());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_listeners_and_a_black_hole() {
    let config = server_config(ServerProfile::Hybrid).unwrap();
    let mut servers = Vec::new();
    for _ in 0..200 {
        servers.push(spawn_with_config(config.clone(), "127.0.0.1:0").await.unwrap());
    }
    let hole = spawn_blackhole().await.unwrap();
    // The black hole first: it must not hold up the rest.
    let mut list = vec![hole.target()];
    list.extend(servers.iter().map(|s| s.target()));
    let targets = parse_targets(&list.join("\n")).unwrap();
    assert_eq!(targets.len(), 201);

    let timeout = Duration::from_secs(3);
    let cfg = ScanConfig { concurrency: 16, timeout, probe_legacy_versions: true, ..ScanConfig::default() };
    let progress = Counting::default();
    let started = Instant::now();
    let report = scan(targets.clone(), &cfg, &progress).await;
    let elapsed = started.elapsed();

    assert_eq!(progress.total.load(Ordering::SeqCst), 201);
    assert_eq!(progress.done.load(Ordering::SeqCst), 201);
    assert_eq!(report.endpoints.len(), 201);
    // Reported in target order, whatever the completion order.
    let keys: Vec<String> = report.endpoints.iter().map(|e| e.target.key()).collect();
    assert_eq!(keys, list);
    // The black hole finished within its timeout (one probe, not one per probe kind) ...
    let hole_report = &report.endpoints[0];
    assert!(matches!(hole_report.reachability, Reachability::NotTls { .. }), "{hole_report:#?}");
    assert!(hole_report.duration_ms < 3 * 1000 + 1500, "{}", hole_report.duration_ms);
    // ... and the others went on meanwhile: far more than one pool's worth finished before it.
    let order = progress.order.lock().unwrap().clone();
    let hole_pos = order.iter().position(|k| *k == list[0]).unwrap();
    assert!(hole_pos >= 16, "the black hole finished as #{hole_pos}: it stalled the pool");
    for e in &report.endpoints[1..] {
        assert_eq!(e.classification, Classification::HybridKeyExchangeOnly, "{e:#?}");
    }
    assert!(elapsed < Duration::from_secs(120), "{elapsed:?}");
}
