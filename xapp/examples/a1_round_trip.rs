//! Bench: the A1 round trip — the rApp side PUTs a `qsafe-e2-key-freshness`
//! policy over A1-P v2 → the xApp's key plane enforces it → the status
//! ENFORCED reaches the rApp's notificationDestination.
//!
//! ```text
//! cargo run --release -p qsafe-xapp --example a1_round_trip -- [--nodes 10] [--policies 200] [--json]
//! ```
//!
//! One process, real HTTP on loopback: the xApp as `qsafe-xapp --a1-store`
//! builds it (E2 role, key plane, A1 termination on its HTTP endpoint)
//! against `--nodes` emulated `qsafe-e2node --keyed` nodes over in-memory E2
//! (in-process KME pair, real ML-DSA-65 / ML-KEM-768), all links protected
//! before measuring; the rApp's `qsafe_a1` A1-P v2 client; a local
//! notificationDestination. Each policy names one node (round robin), so it
//! takes over that node's link; its status is evaluated on the A1 plane's
//! effect and at each 1 s refresh.
//!
//! Printed: PUT answered (201) latency and PUT → ENFORCED notification
//! latency, p50/p90/p99/max over `--policies` sequential round trips.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use qsafe_a1::client::{A1pClient, A1pConfig};
use qsafe_a1::types::KEY_FRESHNESS_TYPE_ID;
use qsafe_xapp::freshness::LinkState;
use qsafe_xfrm::MemoryDataPlane;
use serde::Serialize;
use serde_json::json;

/// A1 round-trip latency (PUT → enforced → ENFORCED notification).
#[derive(Debug, Parser)]
struct Args {
    /// Emulated keyed E2 nodes.
    #[arg(long, default_value_t = 10)]
    nodes: u32,
    /// Sequential round trips measured.
    #[arg(long, default_value_t = 200)]
    policies: u32,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Quantiles {
    n: usize,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

fn quantiles(mut v: Vec<Duration>) -> Quantiles {
    v.sort();
    let q = |p: f64| v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1].as_secs_f64() * 1e3;
    Quantiles { n: v.len(), p50_ms: q(0.50), p90_ms: q(0.90), p99_ms: q(0.99), max_ms: q(1.0) }
}

#[derive(Debug, Serialize)]
struct Report {
    nodes: u32,
    put_answered: Quantiles,
    put_to_enforced_notification: Quantiles,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let (dir, pki) = common::demo_pki(args.nodes);
    let kme = common::start_kme(&pki, |s| s.link.initial_key_count = 4096).await;
    let pki_dir = dir.path().to_str().unwrap().to_string();
    let store = dir.path().join("a1.redb").to_str().unwrap().to_string();
    let settings =
        common::xapp_settings(&pki_dir, &kme, &["--rekey-period", "60", "--mode", "either", "--a1-store", &store]);
    let xapp = common::start_xapp(&settings).await;
    let api = xapp.api.clone().expect("A1 apiRoot");
    let (node_stop, node_run) = common::spawn_keyed_nodes(
        xapp.handle.clone(),
        &pki_dir,
        &kme,
        args.nodes,
        &["--rate", "10"],
        Arc::new(MemoryDataPlane::new()),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let nodes: Vec<String> = loop {
        let s = xapp.monitor.lock().unwrap().status(SystemTime::now());
        if s.links.len() == args.nodes as usize && s.links.iter().all(|l| l.state == LinkState::Protected) {
            break s.links.iter().map(|l| l.node.clone()).collect();
        }
        assert!(Instant::now() < deadline, "links not protected in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let client = A1pClient::new(A1pConfig::new(api)).unwrap();
    let (notify, mut rx) = common::notification_listener().await;
    let (mut answered, mut enforced) = (Vec::new(), Vec::new());
    for i in 0..args.policies {
        let id = format!("bench-{i}");
        let node = &nodes[i as usize % nodes.len()];
        let policy = json!({"scope": [node], "rekeyPeriodSeconds": 30 + i % 30, "mode": "either"});
        let t0 = Instant::now();
        client.put_policy(KEY_FRESHNESS_TYPE_ID, &id, &policy, Some(&format!("{notify}/{id}"))).await.unwrap();
        answered.push(t0.elapsed());
        let (_, at) = common::wait_status(&mut rx, &id, "ENFORCED").await;
        enforced.push(at.duration_since(t0));
    }
    let report = Report {
        nodes: args.nodes,
        put_answered: quantiles(answered),
        put_to_enforced_notification: quantiles(enforced),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap());
    } else {
        let p = |q: &Quantiles| {
            format!(
                "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms (n = {})",
                q.p50_ms, q.p90_ms, q.p99_ms, q.max_ms, q.n
            )
        };
        println!("A1 round trip, {} keyed nodes", report.nodes);
        println!("  PUT answered (201):            {}", p(&report.put_answered));
        println!("  PUT -> ENFORCED notification:  {}", p(&report.put_to_enforced_notification));
    }
    node_stop.send(true).unwrap();
    let _ = node_run.await;
    xapp.stop.send(true).unwrap();
    let _ = xapp.run.await;
}
