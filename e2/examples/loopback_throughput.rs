//! End-to-end E2 throughput and latency over the in-memory transport:
//! a `RicServer` and N `NodeClient`s in one process, each node sending
//! sequenced KPM indications (64-bit sequence + NTP send time, see
//! `qsafe_e2::driver::traffic`) on one subscription; the RIC side checks
//! that none is lost or reordered and measures receive time − send time.
//!
//! ```sh
//! cargo run --release -p qsafe-e2 --example loopback_throughput -- [NODES] [PER_NODE] [PACED_RATE]
//! ```
//!
//! Phase 1 sends at full speed (throughput; latency then is mostly queueing
//! in the bounded buffers). Phase 2 paces each node at PACED_RATE
//! indications/s (default 1000) for 2 s: latency of an unloaded path.

use std::time::{Duration, Instant, SystemTime};

use qsafe_asn1::e2ap::build;
use qsafe_asn1::e2ap_asn as asn;
use qsafe_asn1::kpm::{self, KpmPayload};
use qsafe_e2::E2NodeId;
use qsafe_e2::common::{ComponentConfig, RanFunction};
use qsafe_e2::driver::traffic::{KpmTraffic, read_stamp};
use qsafe_e2::driver::{MemoryConnector, NodeClient, NodeEvent, NodeOptions, RicHandle, RicServer, RicServerOptions};
use qsafe_e2::node::{self, E2NodeConfig, SubscriptionPolicy};
use qsafe_e2::ric::{self, RicConfig, SubscriptionRequest};

type Error = Box<dyn std::error::Error + Send + Sync>;

fn node_id(n: u32) -> Result<E2NodeId, Error> {
    Ok(E2NodeId::gnb("001", "01", 0x1000 + n, 28)?)
}

fn spawn_node(ric: &RicHandle, n: u32, per_sub: u64, pace: Option<Duration>) -> Result<(), Error> {
    let definition = kpm::ran_function_description(&["DRB.UEThpDl"])?.encode_aper()?;
    let mut config = E2NodeConfig::new(
        node_id(n)?,
        vec![RanFunction::new(2, 1, kpm::RAN_FUNCTION_OID, definition)],
        vec![ComponentConfig::f1(u64::from(n), b"req".to_vec(), b"resp".to_vec())?],
    );
    config.subscription_policy = SubscriptionPolicy::AdmitAll;
    let mut client = NodeClient::spawn(config, MemoryConnector { ric: ric.clone() }, NodeOptions::default())?;
    let size = std::env::var("QSAFE_INDICATION_SIZE").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let traffic = KpmTraffic::new(&["DRB.UEThpDl"], 1000, size)?;
    tokio::spawn(async move {
        let mut seq = 0u64;
        while let Some(ev) = client.events.recv().await {
            if let NodeEvent::Agent(node::Event::SubscriptionAdded { request, admitted, .. }) = ev {
                let mut iv = pace.map(tokio::time::interval);
                for _ in 0..per_sub {
                    if let Some(iv) = &mut iv {
                        iv.tick().await;
                    }
                    let Ok((h, m)) = traffic.build(seq, SystemTime::now()) else { return };
                    seq += 1;
                    if client.handle.send_indication(request, admitted[0], h, m).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    Ok(())
}

fn subscription() -> Result<SubscriptionRequest, Error> {
    let trigger = kpm::periodic_trigger(1000).encode_aper()?;
    let def = kpm::action_definition_format1(&["DRB.UEThpDl"], 1000)?.encode_aper()?;
    Ok(SubscriptionRequest {
        ran_function_id: 2,
        event_trigger: trigger.into(),
        actions: vec![build::action(1, asn::RICactionType::report, Some(&def))],
    })
}

async fn phase(nodes: u32, per_node: u64, pace: Option<Duration>) -> Result<(f64, Duration, Duration), Error> {
    let ric_id = build::ric_id(build::plmn("001", "01")?, 5)?;
    let server = RicServer::spawn(RicConfig::new(ric_id, 1001), RicServerOptions::default());
    let ric = server.handle();
    let mut events = ric.events();
    for n in 0..nodes {
        spawn_node(&ric, n, per_node, pace)?;
    }
    let mut up = 0;
    while up < nodes {
        if let ric::Event::NodeConnected { .. } = events.recv().await? {
            up += 1;
        }
    }
    let start = Instant::now();
    let mut consumers = Vec::new();
    for n in 0..nodes {
        let mut sub = ric.subscribe(&node_id(n)?, subscription()?).await?;
        consumers.push(tokio::spawn(async move {
            let mut expected = 0u64;
            let mut lat = Vec::with_capacity(per_node as usize);
            let mut buf = Vec::with_capacity(256);
            while expected < per_node && sub.recv_many(&mut buf, 256).await > 0 {
                let now = SystemTime::now();
                for ind in buf.drain(..) {
                    let stamp = read_stamp(&ind.header, &ind.message).map_err(|e| e.to_string())?;
                    if stamp.seq != expected {
                        return Err(format!("node {n}: expected sequence {expected}, got {}", stamp.seq));
                    }
                    lat.push(stamp.latency(now));
                    expected += 1;
                }
            }
            if expected != per_node {
                return Err(format!("node {n}: {expected} of {per_node} indications"));
            }
            Ok::<_, String>(lat)
        }));
    }
    let mut all = Vec::new();
    for c in consumers {
        all.extend(c.await?.map_err(Error::from)?);
    }
    let secs = start.elapsed().as_secs_f64();
    server.shutdown().await;
    all.sort_unstable();
    let p = |q: usize| all.get(all.len() * q / 100).copied().unwrap_or_default();
    Ok((all.len() as f64 / secs, p(50), p(99)))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let nodes = arg(1, 20) as u32;
    let per_node = arg(2, 10_000);
    let rate = arg(3, 1000).max(1);
    let (rate_full, p50, p99) = phase(nodes, per_node, None).await?;
    println!(
        "full speed: {} indications from {nodes} nodes, none lost or reordered: {rate_full:.0} indications/s; latency p50 {p50:?} p99 {p99:?}",
        u64::from(nodes) * per_node
    );
    println!("METRIC memory_indications_per_s={rate_full:.0}");
    let paced = rate * 2;
    let (r, p50, p99) = phase(nodes, paced, Some(Duration::from_secs_f64(1.0 / rate as f64))).await?;
    println!(
        "paced {rate}/s per node: {} indications, {r:.0} indications/s; latency p50 {p50:?} p99 {p99:?}",
        u64::from(nodes) * paced
    );
    Ok(())
}
