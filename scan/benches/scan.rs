//! Scanner bench (`cargo bench -p qsafe-scan --bench scan`): a plain binary that prints tables.
//!
//! (a) **Scan throughput.** Starts `QSAFE_BENCH_ENDPOINTS` (default 1 000) TLS listeners on
//!     127.0.0.1 in a 1/3 mix of the reference profiles of [`qsafe_scan::testserver`]: full-PQC
//!     (ML-DSA-65 chain, X25519MLKEM768 only), hybrid (ECDSA P-256, rustls default groups) and
//!     classical (ECDSA P-256, x25519/secp256r1), then scans them all with
//!     [`qsafe_scan::scan`] at each concurrency of `QSAFE_BENCH_CONCURRENCY` (default
//!     `16,64,128`) and prints endpoints/second. The classification counts must match the mix
//!     exactly; otherwise the bench prints the first misclassified endpoints and exits 1.
//! (b) **Handshake cost.** `QSAFE_BENCH_HANDSHAKES` (default 500) sequential full handshakes
//!     each (TCP connect + TLS 1.3 handshake with chain verification + 1-byte echo), full-PQC
//!     (ML-DSA-65 root → intermediate → leaf, X25519MLKEM768) vs classical (ECDSA P-256 chain,
//!     X25519), interleaved so both see the same machine load; prints median / p90 latency,
//!     the full-PQC / classical ratio and the bytes each way of one connection.
//!
//! File descriptors: every listener holds one, and each in-flight endpoint a few connections on
//! both ends. The bench reads the soft `RLIMIT_NOFILE` (from `/proc/self/limits`; no `unsafe`
//! here) and refuses to start when it is too low, printing the `ulimit -n` to use.

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use qsafe_pqc::pki::{CertificateAuthority, CertifiedKey, LeafProfile, LeafUsage, SignatureAlgorithm};
use qsafe_pqc::tls::{AuthPolicy, HandshakeSummary, KeyExchangePolicy, client_config, server_config};
use qsafe_scan::model::{Classification, Target};
use qsafe_scan::testserver::{self, ServerProfile, TestServer};
use qsafe_scan::{NoProgress, ScanConfig, scan};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

type BenchResult<T> = Result<T, String>;

fn env_usize(name: &str, default: usize) -> BenchResult<usize> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().map_err(|e| format!("{name}={v}: {e}")),
        Err(_) => Ok(default),
    }
}

fn env_list(name: &str, default: &str) -> BenchResult<Vec<usize>> {
    let v = std::env::var(name).unwrap_or_else(|_| default.to_owned());
    v.split(',').map(|s| s.trim().parse().map_err(|e| format!("{name}={v}: {e}"))).collect()
}

/// Soft RLIMIT_NOFILE from /proc/self/limits (`None` when unknown, e.g. not Linux).
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line.split_whitespace().nth(3)?;
    if soft == "unlimited" { Some(u64::MAX) } else { soft.parse().ok() }
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; a name filter is not supported (one bench).
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> BenchResult<bool> {
    let endpoints = env_usize("QSAFE_BENCH_ENDPOINTS", 1000)?;
    let concurrencies = env_list("QSAFE_BENCH_CONCURRENCY", "16,64,128")?;
    let handshakes = env_usize("QSAFE_BENCH_HANDSHAKES", 500)?;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "qsafe-scan bench: {endpoints} endpoints, concurrency {concurrencies:?}, {handshakes} handshakes/kind, {threads} CPU(s)"
    );

    let mut ok = true;
    if endpoints > 0 && !concurrencies.is_empty() {
        ok &= scan_throughput(endpoints, &concurrencies).await?;
    }
    if handshakes > 0 {
        handshake_cost(handshakes).await?;
    }
    Ok(ok)
}

// ---------------------------------------------------------------------------------------------
// (a) scan throughput

const MIX: [(ServerProfile, Classification); 3] = [
    (ServerProfile::FullPqc, Classification::FullPqc),
    (ServerProfile::Hybrid, Classification::HybridKeyExchangeOnly),
    (ServerProfile::Classical, Classification::QuantumVulnerable),
];

async fn scan_throughput(n: usize, concurrencies: &[usize]) -> BenchResult<bool> {
    let max_conc = concurrencies.iter().copied().max().unwrap_or(1) as u64;
    // listeners + (scanner socket + server socket) x (a handful of probes per endpoint in flight)
    let needed = n as u64 + max_conc * 2 * 8 + 256;
    match open_files_limit() {
        Some(limit) if limit < needed => {
            return Err(format!(
                "RLIMIT_NOFILE soft limit is {limit}, the bench needs about {needed} descriptors: \
                 run `ulimit -n {}` first (or lower QSAFE_BENCH_ENDPOINTS / QSAFE_BENCH_CONCURRENCY)",
                needed.next_power_of_two()
            ));
        }
        Some(limit) => println!("RLIMIT_NOFILE {limit} (need ~{needed})"),
        None => println!("RLIMIT_NOFILE unknown (need ~{needed}; raise `ulimit -n` if binds fail)"),
    }

    let t0 = Instant::now();
    let mut configs = Vec::new();
    for (profile, _) in MIX {
        configs.push(testserver::server_config(profile)?);
    }
    let mut servers: Vec<(TestServer, Classification)> = Vec::with_capacity(n);
    for i in 0..n {
        let (_, class) = MIX[i % MIX.len()];
        let server = testserver::spawn_with_config(configs[i % MIX.len()].clone(), "127.0.0.1:0").await?;
        servers.push((server, class));
    }
    let mut expected: BTreeMap<Classification, usize> = BTreeMap::new();
    for (_, c) in &servers {
        *expected.entry(*c).or_default() += 1;
    }
    println!("started {n} listeners in {:.2} s ({expected:?})\n", t0.elapsed().as_secs_f64());

    let targets: Vec<Target> = servers
        .iter()
        .map(|(s, _)| Target { host: s.addr.ip().to_string(), port: s.addr.port(), server_name: None })
        .collect();

    println!("(a) scan throughput");
    println!(
        "{:>11} {:>10} {:>12} {:>14} {:>9} {:>9} {:>9} {:>9}",
        "concurrency", "endpoints", "wall (s)", "endpoints/s", "full-pqc", "hybrid", "vulnerable", "other"
    );
    let mut ok = true;
    for &concurrency in concurrencies {
        let config = ScanConfig { concurrency, timeout: Duration::from_secs(10), ..ScanConfig::default() };
        let t = Instant::now();
        let report = scan(targets.clone(), &config, &NoProgress).await;
        let wall = t.elapsed().as_secs_f64();
        let mut got: BTreeMap<Classification, usize> = BTreeMap::new();
        for e in &report.endpoints {
            *got.entry(e.classification).or_default() += 1;
        }
        let count = |c| got.get(&c).copied().unwrap_or(0);
        let other = count(Classification::Unreachable);
        println!(
            "{concurrency:>11} {:>10} {wall:>12.2} {:>14.1} {:>9} {:>9} {:>10} {:>9}",
            report.endpoints.len(),
            report.endpoints.len() as f64 / wall,
            count(Classification::FullPqc),
            count(Classification::HybridKeyExchangeOnly),
            count(Classification::QuantumVulnerable),
            other
        );
        if got != expected || report.endpoints.len() != n {
            ok = false;
            println!("  MISMATCH at concurrency {concurrency}: expected {expected:?}, got {got:?}");
            let wrong = report.endpoints.iter().zip(&servers).filter(|(e, (_, want))| e.classification != *want);
            for (e, (_, want)) in wrong.take(5) {
                println!(
                    "    {} want {} got {}: {:?}",
                    e.target.key(),
                    want.label(),
                    e.classification.label(),
                    e.notes
                );
            }
        }
    }
    println!(
        "classification counts {}\n",
        if ok { "match the configured mix at every concurrency" } else { "DO NOT MATCH the configured mix" }
    );
    drop(servers);
    Ok(ok)
}

// ---------------------------------------------------------------------------------------------
// (b) handshake cost

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Root (not sent) → intermediate → leaf, all of `alg`; returns (leaf identity, root).
fn chain(alg: SignatureAlgorithm) -> BenchResult<(CertifiedKey, CertificateAuthority)> {
    let root = CertificateAuthority::new_root("bench root", alg, 30 * DAY).map_err(|e| e.to_string())?;
    let issuing = root.new_intermediate("bench issuing CA", alg, 20 * DAY).map_err(|e| e.to_string())?;
    let leaf = issuing
        .issue(&LeafProfile::new("bench server", LeafUsage::Server).with_dns_name("localhost").with_algorithm(alg))
        .map_err(|e| e.to_string())?;
    Ok((leaf, root))
}

/// Counts the bytes through a stream.
struct Counting<S> {
    inner: S,
    read: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counting<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.read.fetch_add((buf.filled().len() - before) as u64, Ordering::Relaxed);
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counting<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = &r {
            self.written.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// An echo server: handshake, echo one byte, wait for the client to close.
async fn echo_server(
    config: Arc<rustls::ServerConfig>,
) -> BenchResult<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut b = [0u8; 1];
                if tls.read_exact(&mut b).await.is_ok() && tls.write_all(&b).await.is_ok() && tls.flush().await.is_ok()
                {
                    let mut rest = [0u8; 64];
                    while matches!(tls.read(&mut rest).await, Ok(n) if n > 0) {}
                }
            });
        }
    });
    Ok((addr, task))
}

struct Sample {
    elapsed: Duration,
    sent: u64,
    received: u64,
    group: Option<rustls::NamedGroup>,
}

async fn one_handshake(addr: std::net::SocketAddr, connector: &tokio_rustls::TlsConnector) -> BenchResult<Sample> {
    let read = Arc::new(AtomicU64::new(0));
    let written = Arc::new(AtomicU64::new(0));
    let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let t = Instant::now();
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let stream = Counting { inner: tcp, read: read.clone(), written: written.clone() };
    let mut tls = connector.connect(name, stream).await.map_err(|e| format!("handshake: {e}"))?;
    tls.write_all(b"q").await.map_err(|e| e.to_string())?;
    tls.flush().await.map_err(|e| e.to_string())?;
    let mut b = [0u8; 1];
    tls.read_exact(&mut b).await.map_err(|e| format!("echo: {e}"))?;
    let elapsed = t.elapsed();
    let group = HandshakeSummary::of(tls.get_ref().1).group;
    let _ = tls.shutdown().await;
    Ok(Sample { elapsed, sent: written.load(Ordering::Relaxed), received: read.load(Ordering::Relaxed), group })
}

struct Kind {
    name: &'static str,
    addr: std::net::SocketAddr,
    connector: tokio_rustls::TlsConnector,
    want_group: rustls::NamedGroup,
    times: Vec<Duration>,
    bytes: (u64, u64),
    _server: tokio::task::JoinHandle<()>,
}

impl Kind {
    async fn new(
        name: &'static str,
        alg: SignatureAlgorithm,
        kx: KeyExchangePolicy,
        auth: AuthPolicy,
        want_group: rustls::NamedGroup,
    ) -> BenchResult<Self> {
        let (id, root) = chain(alg)?;
        let server = server_config(&id, None, kx, auth).map_err(|e| e.to_string())?;
        let client = client_config(&[root.certificate().clone()], None, kx, auth).map_err(|e| e.to_string())?;
        // Full handshakes only: no session resumption (a resumed TLS 1.3 handshake skips the
        // certificate chain and CertificateVerify, i.e. everything ML-DSA costs).
        let mut client = (*client).clone();
        client.resumption = rustls::client::Resumption::disabled();
        let client = Arc::new(client);
        let (addr, task) = echo_server(server).await?;
        Ok(Self {
            name,
            addr,
            connector: tokio_rustls::TlsConnector::from(client),
            want_group,
            times: Vec::new(),
            bytes: (0, 0),
            _server: task,
        })
    }

    async fn sample(&mut self) -> BenchResult<()> {
        let s = one_handshake(self.addr, &self.connector).await?;
        if s.group != Some(self.want_group) {
            return Err(format!("{}: negotiated {:?}, want {:?}", self.name, s.group, self.want_group));
        }
        self.times.push(s.elapsed);
        self.bytes = (s.sent, s.received);
        Ok(())
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut t = self.times.clone();
        t.sort_unstable();
        let i = ((t.len().saturating_sub(1)) as f64 * p).round() as usize;
        t.get(i).copied().unwrap_or_default()
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn handshake_cost(n: usize) -> BenchResult<()> {
    let mut pqc = Kind::new(
        "full-pqc (ML-DSA-65 chain, X25519MLKEM768)",
        SignatureAlgorithm::MlDsa65,
        KeyExchangePolicy::PqOnly,
        AuthPolicy::MlDsaOnly,
        rustls::NamedGroup::X25519MLKEM768,
    )
    .await?;
    let mut classical = Kind::new(
        "classical (ECDSA P-256 chain, X25519)",
        SignatureAlgorithm::EcdsaP256,
        KeyExchangePolicy::ClassicalOnly,
        AuthPolicy::Any,
        rustls::NamedGroup::X25519,
    )
    .await?;
    // Warm-up (page faults, lazy statics), then interleave.
    for _ in 0..10 {
        pqc.sample().await?;
        classical.sample().await?;
    }
    pqc.times.clear();
    classical.times.clear();
    for _ in 0..n {
        pqc.sample().await?;
        classical.sample().await?;
    }

    println!(
        "(b) full handshakes: TCP connect + TLS 1.3 handshake (chain verified) + 1-byte echo, {n} each, sequential"
    );
    println!(
        "{:<44} {:>11} {:>9} {:>9} {:>11} {:>11}",
        "kind", "median (ms)", "p10 (ms)", "p90 (ms)", "C->S bytes", "S->C bytes"
    );
    for k in [&pqc, &classical] {
        println!(
            "{:<44} {:>11.3} {:>9.3} {:>9.3} {:>11} {:>11}",
            k.name,
            ms(k.percentile(0.5)),
            ms(k.percentile(0.1)),
            ms(k.percentile(0.9)),
            k.bytes.0,
            k.bytes.1
        );
    }
    let ratio = ms(pqc.percentile(0.5)) / ms(classical.percentile(0.5)).max(f64::MIN_POSITIVE);
    let bytes_ratio = (pqc.bytes.0 + pqc.bytes.1) as f64 / ((classical.bytes.0 + classical.bytes.1).max(1)) as f64;
    println!("median ratio full-pqc / classical: {ratio:.2}x; bytes on the wire ratio: {bytes_ratio:.2}x");
    Ok(())
}
