//! `ric_check`: the RIC side of the E2AP cases of the user-mode-Linux tier
//! (`tests/kernel/cases/40-*`), run against the `qsafe-e2node` simulator.
//!
//! ```text
//! ric_check --listen 10.99.0.2:36421 --nodes 100 --count 1000      # in netns b
//! qsafe-e2node --ric 10.99.0.2 --nodes 100 --rate max --count 1000 # in netns a
//! ```
//!
//! Steps (each bounded by a deadline; no fixed sleeps):
//! 1. serve E2 over kernel SCTP ([`RicServer`] + `serve_sctp`) and wait
//!    until `--nodes` distinct nodes have completed E2 Setup;
//! 2. subscribe once per node (KPM periodic trigger, action definition
//!    Format 1) and drain every subscription in its own task: per node the
//!    64-bit sequence of [`traffic::read_stamp`] must be 0, 1, …, `--count`-1
//!    (none lost, none reordered, `RICindicationSN` matching mod 2^16), and
//!    each message at least `--min-message-size` bytes; measures
//!    indications/s and the send→receive latency (p50/p99/max);
//! 3. `--controls` RIC CONTROL round trips (ack requested) to distinct
//!    nodes: each must be acknowledged;
//! 4. aborts one node's association (`RicHandle::disconnect`) and waits for
//!    that node to set up again (`NodeConnected { reconnected: true }`), then
//!    subscribes again and checks its sequence continues at `--count`.
//!
//! Prints progress lines, `METRIC name=value` lines, and ends with `PASS
//! ric_check` (exit 0) or `FAIL ric_check: <why>` (exit 1).
//!
//! Build: `cargo build --release -p qsafe-e2 --example ric_check`.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use clap::Parser;
use qsafe_asn1::e2ap::build;
use qsafe_asn1::e2ap_asn as asn;
use qsafe_asn1::kpm::{self, KpmPayload};
use qsafe_e2::E2NodeId;
use qsafe_e2::driver::traffic::read_stamp;
use qsafe_e2::driver::{RicServer, RicServerOptions, RicSubscription};
use qsafe_e2::ric::{ControlRequest, Event, RicConfig, SubscriptionRequest};
use qsafe_e2::transport::sctp::{SctpListener, SctpOptions};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tracing_subscriber::EnvFilter;

/// RAN function id of the simulator's KPM function.
const KPM: u16 = 2;

#[derive(Parser, Debug)]
#[command(about = "RIC-side E2AP checks for the user-mode-Linux tier (tests/kernel/)")]
struct Cli {
    /// SCTP address to serve E2 on.
    #[arg(long, default_value = "10.99.0.2:36421")]
    listen: SocketAddr,
    /// E2 nodes expected to set up.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Indications expected per node (the simulator's --count).
    #[arg(long, default_value_t = 1000)]
    count: u64,
    /// Every indication message must be at least this many bytes.
    #[arg(long, default_value_t = 0)]
    min_message_size: usize,
    /// RIC CONTROL round trips (to distinct nodes).
    #[arg(long, default_value_t = 3)]
    controls: usize,
    /// Skip the disconnect / reconnect check.
    #[arg(long)]
    no_reconnect: bool,
    /// Seconds allowed for all nodes to complete E2 Setup.
    #[arg(long, default_value_t = 60.0)]
    setup_deadline: f64,
    /// Seconds allowed for all indications (from the first subscribe).
    #[arg(long, default_value_t = 120.0)]
    deadline: f64,
    /// Seconds allowed for a disconnected node to set up again.
    #[arg(long, default_value_t = 30.0)]
    reconnect_deadline: f64,
    /// Timeout of subscribe / control requests, seconds.
    #[arg(long, default_value_t = 30.0)]
    request_timeout: f64,
    /// Prefix of the METRIC names.
    #[arg(long, default_value = "e2")]
    metric_prefix: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            println!("FAIL ric_check: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => {
            println!("PASS ric_check");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("FAIL ric_check: {e}");
            ExitCode::FAILURE
        }
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn ric_config() -> Result<RicConfig, String> {
    let plmn = build::plmn("001", "01").map_err(|e| format!("plmn: {e}"))?;
    let ric_id = build::ric_id(plmn, 0x5).map_err(|e| format!("ric id: {e}"))?;
    Ok(RicConfig::new(ric_id, 1001))
}

fn kpm_subscription() -> Result<SubscriptionRequest, String> {
    let trigger = kpm::periodic_trigger(1000).encode_aper().map_err(|e| format!("trigger: {e}"))?;
    let definition = kpm::action_definition_format1(&["DRB.UEThpDl"], 1000)
        .map_err(|e| format!("action definition: {e}"))?
        .encode_aper()
        .map_err(|e| format!("action definition: {e}"))?;
    Ok(SubscriptionRequest {
        ran_function_id: KPM,
        event_trigger: trigger.into(),
        actions: vec![build::action(1, asn::RICactionType::report, Some(&definition))],
    })
}

/// Next event, bounded by `until`; lagging is tolerated (returns `Ok(None)`).
async fn next_event(
    events: &mut broadcast::Receiver<Event>,
    until: Instant,
    what: &str,
) -> Result<Option<Event>, String> {
    let left = until.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, events.recv()).await {
        Err(_) => Err(format!("timed out waiting for {what}")),
        Ok(Ok(ev)) => Ok(Some(ev)),
        Ok(Err(RecvError::Lagged(n))) => {
            println!("[ric] event receiver lagged by {n} events");
            Ok(None)
        }
        Ok(Err(RecvError::Closed)) => Err(format!("RIC stopped while waiting for {what}")),
    }
}

/// What one consumer saw.
struct Drained {
    node: E2NodeId,
    received: u64,
    latencies: Vec<Duration>,
    sub: RicSubscription,
}

/// Drains `sub` until `count` indications, checking sequence, SN and size.
async fn drain(
    mut sub: RicSubscription,
    first_seq: u64,
    count: u64,
    min_size: usize,
    progress: Arc<AtomicU64>,
) -> Result<Drained, String> {
    let node = sub.node.clone();
    let mut latencies = Vec::with_capacity(count as usize);
    let mut buf = Vec::with_capacity(256);
    let mut received = 0u64;
    while received < count {
        if sub.recv_many(&mut buf, 256).await == 0 {
            return Err(format!("node {node}: subscription ended after {received} of {count} indications"));
        }
        let now = SystemTime::now();
        for ind in buf.drain(..) {
            let stamp = read_stamp(&ind.header, &ind.message)
                .map_err(|e| format!("node {node}: indication {received}: {e}"))?;
            let expected = first_seq + received;
            if stamp.seq != expected {
                return Err(format!(
                    "node {node}: expected sequence {expected}, got {} ({})",
                    stamp.seq,
                    if stamp.seq > expected { "lost" } else { "reordered or duplicated" }
                ));
            }
            if let Some(sn) = ind.sn
                && sn != received as u16
            {
                return Err(format!("node {node}: indication {received} has RICindicationSN {sn}"));
            }
            if ind.message.len() < min_size {
                return Err(format!(
                    "node {node}: indication {received} message is {} bytes, expected >= {min_size}",
                    ind.message.len()
                ));
            }
            latencies.push(stamp.latency(now));
            received += 1;
            progress.store(received, Ordering::Relaxed);
        }
    }
    Ok(Drained { node, received, latencies, sub })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run(cli: Cli) -> Result<(), String> {
    let m = &cli.metric_prefix;
    let options = RicServerOptions { request_timeout: secs(cli.request_timeout), ..RicServerOptions::default() };
    let server = RicServer::spawn(ric_config()?, options);
    let ric = server.handle();
    // Subscribe to events before anything can connect: no setup is missed.
    let mut events = ric.events();
    let mut sctp = SctpOptions::default();
    if cli.min_message_size > 64 << 10 {
        sctp.recv_buffer = Some(cli.min_message_size * 4);
    }
    let listener = SctpListener::bind(cli.listen, sctp).await.map_err(|e| format!("listen on {}: {e}", cli.listen))?;
    let _accept = ric.serve_sctp(listener);
    println!("[ric] listening on {}; waiting for {} E2 nodes", cli.listen, cli.nodes);

    // 1. E2 Setup of every node.
    let t_listen = Instant::now();
    let setup_until = t_listen + secs(cli.setup_deadline);
    let mut nodes: Vec<E2NodeId> = Vec::new();
    let mut seen: HashSet<E2NodeId> = HashSet::new();
    while nodes.len() < cli.nodes {
        let what = format!("E2 Setup of {} nodes ({} so far)", cli.nodes, nodes.len());
        match next_event(&mut events, setup_until, &what).await? {
            Some(Event::NodeConnected { node, accepted, .. }) => {
                if !accepted.contains(&KPM) {
                    return Err(format!("node {node}: KPM function {KPM} not accepted ({accepted:?})"));
                }
                if seen.insert(node.clone()) {
                    nodes.push(node);
                }
            }
            Some(Event::E2SetupRejected { node, cause, .. }) => {
                return Err(format!("E2 Setup of {node} rejected: {cause:?}"));
            }
            Some(_) => {}
            None => {
                // Lagged: recount from the registry.
                let registry = ric.registry().await.map_err(|e| format!("registry: {e}"))?;
                for info in registry.iter() {
                    if info.is_connected() && seen.insert(info.id.clone()) {
                        nodes.push(info.id.clone());
                    }
                }
            }
        }
    }
    let setup_time = t_listen.elapsed();
    println!("[ric] {} nodes set up in {} ms", nodes.len(), ms(setup_time));
    println!("METRIC {m}_setup_all_ms={}", ms(setup_time));

    // 2. One subscription per node, each drained in its own task.
    let total = cli.count * nodes.len() as u64;
    let t_sub = Instant::now();
    let mut progress = Vec::new();
    let mut consumers = tokio::task::JoinSet::new();
    for node in &nodes {
        let p = Arc::new(AtomicU64::new(0));
        progress.push((node.clone(), p.clone()));
        let (ric, node, count, min) = (ric.clone(), node.clone(), cli.count, cli.min_message_size);
        consumers.spawn(async move {
            let request = kpm_subscription()?;
            // The subscribe call finishes before this task starts draining,
            // and nothing else here waits on the RicHandle: no deadlock.
            let sub = ric.subscribe(&node, request).await.map_err(|e| format!("subscribe to {node}: {e}"))?;
            if sub.admitted != [1] {
                return Err(format!("node {node}: admitted {:?}, not [1]", sub.admitted));
            }
            drain(sub, 0, count, min, p).await
        });
    }
    let until = t_sub + secs(cli.deadline);
    let mut latencies = Vec::with_capacity(total as usize);
    let mut kept = Vec::new();
    let mut received = 0u64;
    while !consumers.is_empty() {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, consumers.join_next()).await {
            Err(_) => {
                let behind: Vec<String> = progress
                    .iter()
                    .map(|(n, p)| (n, p.load(Ordering::Relaxed)))
                    .filter(|(_, got)| *got < cli.count)
                    .take(10)
                    .map(|(n, got)| format!("{n}: {got}"))
                    .collect();
                let got: u64 = progress.iter().map(|(_, p)| p.load(Ordering::Relaxed)).sum();
                return Err(format!(
                    "timed out after {} s with {got} of {total} indications; behind: {}",
                    cli.deadline,
                    behind.join(", ")
                ));
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(format!("consumer task failed: {e}")),
            Ok(Some(Ok(Err(e)))) => return Err(e),
            Ok(Some(Ok(Ok(d)))) => {
                received += d.received;
                latencies.extend(d.latencies);
                kept.push((d.node, d.sub));
            }
        }
    }
    let elapsed = t_sub.elapsed();
    if received != total {
        return Err(format!("received {received} indications, expected {total}"));
    }
    latencies.sort_unstable();
    let rate = total as f64 / elapsed.as_secs_f64();
    println!(
        "[ric] {total} indications from {} nodes, each node's sequence 0..{} contiguous, in {} ms",
        nodes.len(),
        cli.count,
        ms(elapsed)
    );
    println!("METRIC {m}_indications={total}");
    println!("METRIC {m}_indications_per_s={rate:.0}");
    println!("METRIC {m}_latency_p50_ms={}", ms(percentile(&latencies, 0.50)));
    println!("METRIC {m}_latency_p99_ms={}", ms(percentile(&latencies, 0.99)));
    println!("METRIC {m}_latency_max_ms={}", ms(latencies.last().copied().unwrap_or_default()));

    // 3. Control round trips.
    let mut rtts = Vec::new();
    for (i, node) in nodes.iter().cycle().take(cli.controls).enumerate() {
        let request = ControlRequest {
            ran_function_id: KPM,
            header: Bytes::from(format!("qsafe control header {i}")),
            message: Bytes::from(format!("qsafe control message {i}")),
            call_process_id: None,
            ack_requested: true,
        };
        let t = Instant::now();
        let outcome = ric.control(node, request).await.map_err(|e| format!("control {i} to {node}: {e}"))?;
        rtts.push(t.elapsed());
        if !outcome.acknowledged {
            return Err(format!("control {i} to {node}: not acknowledged ({outcome:?})"));
        }
    }
    if let Some(max) = rtts.iter().max() {
        println!("[ric] {} control round trips acknowledged", rtts.len());
        println!("METRIC {m}_control_rtt_max_ms={}", ms(*max));
    }

    // 4. Abort one node's association; it must set up again.
    if !cli.no_reconnect {
        let victim = nodes.last().cloned().ok_or("no nodes")?;
        let t = Instant::now();
        ric.disconnect(&victim).await.map_err(|e| format!("disconnect {victim}: {e}"))?;
        println!("[ric] aborted the association of {victim}; waiting for it to set up again");
        let until = t + secs(cli.reconnect_deadline);
        loop {
            let what = format!("{victim} to set up again after the abort");
            match next_event(&mut events, until, &what).await? {
                Some(Event::NodeConnected { node, reconnected, .. }) if node == victim => {
                    if !reconnected {
                        return Err(format!("{victim} set up again but reconnected=false"));
                    }
                    break;
                }
                Some(Event::NodeConnected { node, .. }) => {
                    return Err(format!("unexpected E2 Setup of {node} while waiting for {victim}"));
                }
                Some(Event::E2SetupRejected { node, cause, .. }) => {
                    return Err(format!("E2 Setup of {node} rejected: {cause:?}"));
                }
                _ => {}
            }
        }
        let reconnect = t.elapsed();
        println!("[ric] {victim} reconnected and set up again in {} ms", ms(reconnect));
        println!("METRIC {m}_reconnect_ms={}", ms(reconnect));
        // Its old subscription is gone; a new one continues the node's sequence.
        let sub = ric
            .subscribe(&victim, kpm_subscription()?)
            .await
            .map_err(|e| format!("subscribe to {victim} after reconnect: {e}"))?;
        let check = cli.count.min(10);
        let d = tokio::time::timeout(
            secs(cli.reconnect_deadline),
            drain(sub, cli.count, check, cli.min_message_size, Arc::new(AtomicU64::new(0))),
        )
        .await
        .map_err(|_| format!("{victim}: no indications on the new subscription"))??;
        println!("[ric] {victim}: new subscription continues the sequence at {} ({} checked)", cli.count, d.received);
    }

    let stats = ric.shutdown().await.map_err(|e| format!("shutdown: {e}"))?;
    println!(
        "[ric] stats: associations up={} down={} closed={} indications delivered={} unrouted={}",
        stats.associations_up,
        stats.associations_down,
        stats.associations_closed,
        stats.indications_delivered,
        stats.indications_unrouted
    );
    drop(kept);
    Ok(())
}
