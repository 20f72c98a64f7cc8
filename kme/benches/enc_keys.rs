//! enc_keys round trips over real mutual TLS on loopback (ML-DSA-65
//! certificates, X25519MLKEM768), against a KME pair in this process:
//!
//! * `sequential`: one SAE, one keep-alive connection, one request at a time;
//! * `concurrent_8`: eight SAE connections, each with one request in flight
//!   (throughput counts all eight);
//! * `enc_then_dec`: enc_keys at KME A then dec_keys at KME B for the same key;
//! * `new_connection`: a fresh TCP + TLS handshake for every enc_keys
//!   (what a client without keep-alive pays).
//!
//! The link runs at 1 Gbit/s with a full pool so no request waits for key.
//! Client and server share the machine's cores, as on a single host.
//!
//!   cargo bench -p qsafe-kme --bench enc_keys

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qsafe_kme::Site;
use qsafe_kme::client::Connection;
use qsafe_kme::config::{DemoPkiSettings, PkiAlgorithm, ServeSettings};
use qsafe_kme::pki::DemoPki;
use qsafe_kme::server::RunningKme;
use qsafe_pqc::tls::{AuthPolicy, KeyExchangePolicy};

const MASTER: &str = "ric-xapp";
const SLAVE: &str = "e2node-1";
const CONCURRENCY: usize = 8;

struct Bench {
    kme: RunningKme,
    master: Arc<rustls::ClientConfig>,
    slave: Arc<rustls::ClientConfig>,
}

async fn start() -> Bench {
    let pki = DemoPki::generate(&DemoPkiSettings {
        out: "unused".into(),
        algorithm: PkiAlgorithm::MlDsa65,
        kme_ids: ["kme-a".into(), "kme-b".into()],
        saes: vec![MASTER.into(), SLAVE.into()],
        dns: vec![],
        ips: vec![],
        validity: Duration::from_secs(86_400),
        force: false,
    })
    .unwrap();
    let any = "127.0.0.1:0".parse().unwrap();
    let mut s = ServeSettings { listen: [any, any], admin_listen: any, ..ServeSettings::default() };
    s.link.max_key_count = 4_000_000;
    s.link.initial_key_count = 4_000_000;
    s.link.secret_key_rate_bps = 1_000_000_000;
    s.limits.max_connections = 1024;
    let kme = qsafe_kme::server::start_with_material(s, pki.tls_material()).await.unwrap();
    let cfg = |sae: &str| {
        qsafe_pqc::tls::client_config(
            &[pki.ca.certificate().clone()],
            pki.sae(sae),
            KeyExchangePolicy::HybridPreferred,
            AuthPolicy::Any,
        )
        .unwrap()
    };
    Bench { master: cfg(MASTER), slave: cfg(SLAVE), kme }
}

fn enc_path() -> String {
    qsafe_qkd::api::path::enc_keys(SLAVE)
}

async fn enc_once(c: &mut Connection, path: &str) -> String {
    let r = c.post_json(path, br#"{"number":1}"#).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["keys"][0]["key_ID"].as_str().unwrap().to_string()
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let b = rt.block_on(start());
    let a_addr = b.kme.addr(Site::A);
    let b_addr = b.kme.addr(Site::B);
    let path = enc_path();

    let mut g = c.benchmark_group("kme_enc_keys_mtls");
    g.measurement_time(Duration::from_secs(5));

    g.throughput(Throughput::Elements(1));
    let mut conn = rt.block_on(Connection::tls(a_addr, "localhost", b.master.clone())).unwrap();
    assert_eq!(conn.negotiated_group(), Some("X25519MLKEM768"));
    g.bench_function("sequential", |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    enc_once(&mut conn, &path).await;
                }
                t.elapsed()
            })
        })
    });

    let mut conns: Vec<Connection> = rt.block_on(async {
        let mut v = Vec::new();
        for _ in 0..CONCURRENCY {
            v.push(Connection::tls(a_addr, "localhost", b.master.clone()).await.unwrap());
        }
        v
    });
    g.throughput(Throughput::Elements(CONCURRENCY as u64));
    g.bench_function("concurrent_8", |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                let mut tasks = tokio::task::JoinSet::new();
                for mut c in conns.drain(..) {
                    let path = path.clone();
                    tasks.spawn(async move {
                        for _ in 0..iters {
                            enc_once(&mut c, &path).await;
                        }
                        c
                    });
                }
                while let Some(c) = tasks.join_next().await {
                    conns.push(c.unwrap());
                }
                t.elapsed()
            })
        })
    });

    g.throughput(Throughput::Elements(1));
    let mut slave = rt.block_on(Connection::tls(b_addr, "localhost", b.slave.clone())).unwrap();
    let dec_path = qsafe_qkd::api::path::dec_keys(MASTER);
    g.bench_function("enc_then_dec", |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    let id = enc_once(&mut conn, &path).await;
                    let r = slave.get(&format!("{dec_path}?key_ID={id}")).await.unwrap();
                    assert_eq!(r.status, 200);
                }
                t.elapsed()
            })
        })
    });

    g.bench_function("new_connection", |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    let mut c = Connection::tls(a_addr, "localhost", b.master.clone()).await.unwrap();
                    enc_once(&mut c, &path).await;
                }
                t.elapsed()
            })
        })
    });
    g.finish();
    drop((conn, conns, slave));
    rt.block_on(b.kme.shutdown());
}

criterion_group!(kme, benches);
criterion_main!(kme);
