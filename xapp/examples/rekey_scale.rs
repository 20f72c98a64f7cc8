//! Bench: rekey latency and rekeys/s of the xApp's key plane for many links.
//!
//! ```text
//! cargo run --release -p qsafe-xapp --example rekey_scale -- --nodes 1000 --seconds 20 [--rekey-period 5] [--json]
//! # rekeys under KPM load: 10 links rekeyed every second while 10 x 1000 indications/s flow
//! cargo run --release -p qsafe-xapp --example rekey_scale -- --nodes 10 --rekey-period 1 --kpm-rate 1000 --seconds 20
//! ```
//!
//! One process: the xApp's key plane as `qsafe-xapp` builds it
//! (`startup::key_plane`: default prefetch policy, 1 s monitor tick) and its
//! E2 role, against `--nodes` emulated `qsafe-e2node --keyed` nodes over
//! in-memory E2 associations (`sim::run_with`, `MemoryConnector`), in-memory
//! data planes on both sides (no kernel ESP), and the in-process KME pair
//! (real ETSI 014 over ML-DSA-65 / X25519MLKEM768 mutual TLS) with a large
//! key pool and a high secret key rate. Every link does real ML-DSA-65
//! signatures and ML-KEM-768 encapsulations.
//!
//! Printed: PKI and setup time (until every link is protected), the
//! bootstrap rekey latencies, then over `--seconds` of steady state: rekeys,
//! rekeys/s, latency p50/p90/p99/max (REKEY sent → verified success
//! outcome, from each link's latency window in the freshness monitor), and
//! failed rekeys by cause (from the key plane's warnings).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use qsafe_hybrid::KeySource;
use qsafe_xapp::freshness::{KeyFreshness, LATENCY_WINDOW, LatencyWindow, LinkState};
use qsafe_xfrm::MemoryDataPlane;
use serde::Serialize;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Rekey latency and throughput of the xApp key plane for many links.
#[derive(Debug, Parser)]
struct Args {
    /// Emulated keyed E2 nodes (links).
    #[arg(long, default_value_t = 1000)]
    nodes: u32,
    /// Seconds of steady state measured after every link is protected.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// The policy's rekey period, seconds.
    #[arg(long, default_value_t = 5.0)]
    rekey_period: f64,
    /// Key-source mode of the policy.
    #[arg(long, default_value = "qkd-and-pqc")]
    mode: String,
    /// Deadline for every link to be protected, seconds.
    #[arg(long, default_value_t = 300.0)]
    setup_timeout: f64,
    /// KPM indications per second per node while rekeying (0: none). The xApp
    /// subscribes every node's KPM and checks the node's sequence numbers.
    #[arg(long, default_value_t = 0)]
    kpm_rate: u32,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Latency quantiles, milliseconds.
#[derive(Debug, Default, Serialize)]
struct Latency {
    samples: usize,
    p50_ms: Option<f64>,
    p90_ms: Option<f64>,
    p99_ms: Option<f64>,
    max_ms: Option<f64>,
    mean_ms: Option<f64>,
}

impl Latency {
    fn of(mut v: Vec<Duration>) -> Self {
        v.sort_unstable();
        let q = |q: f64| -> Option<f64> {
            if v.is_empty() {
                return None;
            }
            let rank = (q * v.len() as f64).ceil() as usize;
            Some(ms(v[rank.clamp(1, v.len()) - 1]))
        };
        let mean = (!v.is_empty()).then(|| ms(v.iter().sum::<Duration>()) / v.len() as f64);
        Latency {
            samples: v.len(),
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p99_ms: q(0.99),
            max_ms: v.last().map(|d| ms(*d)),
            mean_ms: mean,
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[derive(Debug, Serialize)]
struct Report {
    nodes: u32,
    mode: String,
    rekey_period_seconds: f64,
    pki_seconds: f64,
    setup_seconds: f64,
    bootstrap_latency: Latency,
    measured_seconds: f64,
    rekeys: u64,
    rekeys_per_second: f64,
    /// nodes / rekey period: what the schedule asks for.
    scheduled_rekeys_per_second: f64,
    latency: Latency,
    /// Every latency sample of the window was read (no link did more than the window holds).
    latency_complete: bool,
    failed_rekeys: u64,
    failures_by_cause: BTreeMap<String, u64>,
    links_not_protected_at_end: usize,
    links_not_hybrid_at_end: usize,
    /// KPM indications received by the xApp over the whole run (with --kpm-rate).
    kpm_indications: u64,
    /// KPM indications per second over the whole run, E2 Setup to stop.
    kpm_per_second: f64,
    /// Indications the node's sequence says are missing / came out of order.
    kpm_missing: u64,
    kpm_reordered: u64,
}

/// Every latency in a link's window (the last [`LATENCY_WINDOW`]), read
/// through its nearest-rank quantiles: the k-th smallest of n is the
/// quantile (k - 0.5) / n.
fn window_samples(w: &LatencyWindow) -> Vec<Duration> {
    let n = (w.count() as usize).min(LATENCY_WINDOW);
    (1..=n).filter_map(|k| w.quantile((k as f64 - 0.5) / n as f64)).collect()
}

/// Counts the key plane's warnings about failed rekeys, by cause.
#[derive(Clone, Default)]
struct FailureLog(Arc<Mutex<BTreeMap<String, u64>>>);

#[derive(Default)]
struct Fields {
    message: String,
    cause: Option<String>,
    error: Option<String>,
    command: Option<String>,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let s = format!("{value:?}");
        match field.name() {
            "message" => self.message = s,
            "cause" => self.cause = Some(s),
            "error" => self.error = Some(s),
            "command" => self.command = Some(s),
            _ => {}
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "error" => self.error = Some(value.to_string()),
            _ => self.record_debug(field, &value),
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for FailureLog {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "qsafe_xapp::keyplane" || *event.metadata().level() > tracing::Level::WARN {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let key = match f.message.as_str() {
            "key plane: rekey failed" => format!("rekey failed: {}", f.cause.unwrap_or_default()),
            "key plane: cannot rekey now" => format!("not started: {}", f.error.unwrap_or_default()),
            "key plane: rekey refused" => format!("refused: {}", f.error.unwrap_or_default()),
            "key plane: control failed" => {
                format!("control {} failed: {}", f.command.unwrap_or_default(), f.cause.unwrap_or_default())
            }
            other => format!("{other}: {}", f.error.or(f.cause).unwrap_or_default()),
        };
        *self.0.lock().unwrap().entry(key).or_insert(0) += 1;
    }
}

fn protected_count(monitor: &Mutex<KeyFreshness>) -> (usize, usize) {
    let m = monitor.lock().unwrap();
    let total = m.nodes().count();
    let protected = m.nodes().filter_map(|n| m.link(n)).filter(|l| l.state == LinkState::Protected).count();
    (total, protected)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let failures = FailureLog::default();
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "error".into())),
        )
        .with(failures.clone().with_filter(tracing_subscriber::filter::LevelFilter::WARN))
        .init();
    let nodes = args.nodes;
    let progress = |s: &str| {
        if !args.json {
            eprintln!("rekey_scale: {s}");
        }
    };

    // ---- PKI: the xApp's and every node's ML-DSA-65 certificate
    let t = Instant::now();
    let (dir, pki) = common::demo_pki(nodes);
    let pki_seconds = t.elapsed().as_secs_f64();
    progress(&format!("PKI for {nodes} nodes in {pki_seconds:.1} s"));

    // ---- KME pair: a full pool (the prefetch buffers take up to 64 keys
    // per link at start) and 100 Mbit/s of secret key.
    let kme = common::start_kme(&pki, |s| {
        s.link.max_key_count = 1_000_000;
        s.link.initial_key_count = 1_000_000;
        s.link.max_pending_keys = 1_000_000;
        s.link.secret_key_rate_bps = 100_000_000;
        s.limits.max_connections = 8 * nodes as usize + 256;
    })
    .await;
    let pki_dir = dir.path().to_str().expect("utf-8").to_string();

    // ---- the xApp, as qsafe-xapp builds it
    let period = args.rekey_period.to_string();
    let kpm_period = if args.kpm_rate > 0 { "1000" } else { "0" };
    let xapp = common::start_xapp(&common::xapp_settings(
        &pki_dir,
        &kme,
        &["--rekey-period", &period, "--mode", &args.mode, "--kpm-period-ms", kpm_period],
    ))
    .await;
    let (handle, monitor) = (xapp.handle.clone(), xapp.monitor.clone());

    // ---- the nodes
    let rate = args.kpm_rate.to_string();
    let mut node_args = vec!["--connect-timeout", "600"];
    if args.kpm_rate > 0 {
        node_args.extend(["--rate", rate.as_str()]);
    }
    let run_start = Instant::now();
    let (node_stop_tx, node_run) =
        common::spawn_keyed_nodes(handle, &pki_dir, &kme, nodes, &node_args, Arc::new(MemoryDataPlane::new()));
    // (Node key material is loaded by then: setup time is E2 + rekeys only.)
    let t = Instant::now();

    // ---- setup: until every link is protected
    let deadline = t + Duration::from_secs_f64(args.setup_timeout);
    let mut last_report = Instant::now();
    loop {
        let (total, protected) = protected_count(&monitor);
        if total == nodes as usize && protected == total {
            break;
        }
        if Instant::now() > deadline {
            eprintln!("rekey_scale: only {protected}/{nodes} links protected after {:.0} s", args.setup_timeout);
            std::process::exit(1);
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            progress(&format!("{protected}/{total} links protected after {:.1} s", t.elapsed().as_secs_f64()));
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let setup_seconds = t.elapsed().as_secs_f64();
    progress(&format!("all {nodes} links protected in {setup_seconds:.2} s; measuring {} s", args.seconds));

    // ---- steady state: reset the latency windows, count rekeys for `seconds`
    let (bootstrap, ok0, failed0) = {
        let mut m = monitor.lock().unwrap();
        let names: Vec<String> = m.nodes().map(str::to_string).collect();
        let mut bootstrap = Vec::new();
        let (mut ok, mut failed) = (0, 0);
        for n in &names {
            let l = m.link_mut(n);
            bootstrap.extend(window_samples(&l.latency));
            l.latency = LatencyWindow::default();
            ok += l.rekeys_ok;
            failed += l.rekeys_failed;
        }
        (bootstrap, ok, failed)
    };
    let failures_at_start: BTreeMap<String, u64> = failures.0.lock().unwrap().clone();
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    let measured = t.elapsed().as_secs_f64();
    let (samples, ok1, failed1, complete, not_protected, not_hybrid) = {
        let m = monitor.lock().unwrap();
        let mut samples = Vec::new();
        let (mut ok, mut failed, mut complete, mut np, mut nh) = (0, 0, true, 0, 0);
        for l in m.nodes().filter_map(|n| m.link(n)) {
            complete &= l.latency.count() as usize <= LATENCY_WINDOW;
            samples.extend(window_samples(&l.latency));
            ok += l.rekeys_ok;
            failed += l.rekeys_failed;
            np += usize::from(l.state != LinkState::Protected);
            nh += usize::from(l.key_source != Some(KeySource::Hybrid));
        }
        (samples, ok, failed, complete, np, nh)
    };
    let mut by_cause = failures.0.lock().unwrap().clone();
    for (k, v) in failures_at_start {
        if let Some(n) = by_cause.get_mut(&k) {
            *n -= v;
        }
    }
    by_cause.retain(|_, n| *n > 0);
    let rekeys = ok1 - ok0;
    node_stop_tx.send(true).expect("stop nodes");
    let _ = node_run.await;
    let run_seconds = run_start.elapsed().as_secs_f64();
    xapp.stop.send(true).expect("stop xapp");
    let summary = xapp.run.await.expect("xapp");
    kme.shutdown().await;
    let report = Report {
        nodes,
        mode: args.mode.clone(),
        rekey_period_seconds: args.rekey_period,
        pki_seconds,
        setup_seconds,
        bootstrap_latency: Latency::of(bootstrap),
        measured_seconds: measured,
        rekeys,
        rekeys_per_second: rekeys as f64 / measured,
        scheduled_rekeys_per_second: f64::from(nodes) / args.rekey_period,
        latency: Latency::of(samples),
        latency_complete: complete,
        failed_rekeys: failed1 - failed0,
        failures_by_cause: by_cause,
        links_not_protected_at_end: not_protected,
        links_not_hybrid_at_end: not_hybrid,
        kpm_indications: summary.indications,
        kpm_per_second: summary.indications as f64 / run_seconds,
        kpm_missing: summary.links.iter().map(|l| l.seq_missing).sum(),
        kpm_reordered: summary.links.iter().map(|l| l.seq_reordered).sum(),
    };

    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        println!("{}", text(&report));
    }
}

fn text(r: &Report) -> String {
    let l = |x: &Latency| {
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
        format!(
            "n={} p50={} p90={} p99={} max={} mean={} ms",
            x.samples,
            f(x.p50_ms),
            f(x.p90_ms),
            f(x.p99_ms),
            f(x.max_ms),
            f(x.mean_ms)
        )
    };
    let mut s = String::new();
    let _ = writeln!(s, "rekey_scale: {} links, mode {}, rekey period {} s", r.nodes, r.mode, r.rekey_period_seconds);
    let _ = writeln!(s, "  PKI generation         {:.1} s", r.pki_seconds);
    let _ = writeln!(s, "  setup (all protected)  {:.2} s", r.setup_seconds);
    let _ = writeln!(s, "  bootstrap latency      {}", l(&r.bootstrap_latency));
    let _ = writeln!(s, "  measured               {:.1} s", r.measured_seconds);
    let _ = writeln!(
        s,
        "  rekeys                 {} ({:.1}/s; the schedule asks {:.1}/s)",
        r.rekeys, r.rekeys_per_second, r.scheduled_rekeys_per_second
    );
    let _ = writeln!(
        s,
        "  rekey latency          {}{}",
        l(&r.latency),
        if r.latency_complete { "" } else { " (last 256 per link)" }
    );
    let _ = writeln!(s, "  failed rekeys          {}", r.failed_rekeys);
    for (cause, n) in &r.failures_by_cause {
        let _ = writeln!(s, "    {n:>6}  {cause}");
    }
    let _ = writeln!(
        s,
        "  at end: {} links not protected, {} not on hybrid keys",
        r.links_not_protected_at_end, r.links_not_hybrid_at_end
    );
    let _ = write!(
        s,
        "  KPM                    {} indications ({:.0}/s over the run), {} missing, {} out of order",
        r.kpm_indications, r.kpm_per_second, r.kpm_missing, r.kpm_reordered
    );
    s
}
