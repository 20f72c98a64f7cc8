//! `sctp_check`: the kernel-SCTP checks of the user-mode-Linux test tier
//! (`tests/kernel/`), one binary playing either side of a test.
//!
//! ```text
//! sctp_check serve <TEST> --listen 10.99.0.2:36421     # in netns b
//! sctp_check drive <TEST> --connect 10.99.0.2:36421    # in netns a
//! ```
//!
//! Each side checks what it receives, prints what it does as `[serve]` /
//! `[drive]` lines, prints `METRIC name=value` for figures worth keeping, and
//! ends with `PASS <test>` (exit 0) or `FAIL <test>: <why>` (exit 1). The
//! driver retries `connect` until the server listens (bounded by
//! `--deadline`), so the two sides need no other synchronisation.
//!
//! Tests:
//! * `large-pdus`: 200 PDUs of 1 B … 1 MiB (including 4095/4096/4097,
//!   65535/65536/65537, 1048576), streams 0–3, each verified whole and
//!   byte-identical with its stream id and PPID 70 by the server, echoed, and
//!   verified again by the driver.
//! * `streams`: 4×100 frames on streams 0–3 arrive with their stream ids and
//!   in order per stream; sending on stream 4 fails with `InvalidStream` and
//!   leaves the association usable; a PPID 0 frame (as OSC e2sim sends) is
//!   accepted.
//! * `echo`: a few PDUs echoed; checks the address family of both ends
//!   matches the address given (used for the IPv6 case).
//! * `updown`: association 1: Up on accept, then the driver aborts and the
//!   server sees `Down { CommLost }`; association 2: the driver shuts down
//!   gracefully, the server sees `Shutdown`, the driver `Down
//!   { ShutdownComplete }`; association 3: the server aborts, the driver sees
//!   `Down { CommLost }`.
//! * `throughput`: the driver sends `--pdu-size` PDUs (default 1 KiB) as
//!   fast as it can for `--seconds`; the server counts them and prints
//!   PDUs/s, failing below `--min-rate` (both ends use the library's default
//!   `SctpOptions`, unlike the other tests' 4 MiB buffers).
//!
//! Build: `cargo build --release -p qsafe-e2 --example sctp_check`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, Subcommand, ValueEnum};
use qsafe_e2::transport::sctp::{SctpAssociation, SctpListener, SctpOptions};
use qsafe_e2::transport::{
    DownReason, E2AP_PPID, E2Frame, E2Receiver, E2Sender, E2Transport, Peer, TransportError, TransportEvent,
};

#[derive(Parser, Debug)]
#[command(about = "kernel SCTP checks for the user-mode-Linux tier (tests/kernel/)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Server side: listen, accept, check.
    Serve {
        test: Test,
        #[arg(long)]
        listen: SocketAddr,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// Throughput: fail below this many PDUs/s.
        #[arg(long, default_value_t = 0.0)]
        min_rate: f64,
    },
    /// Client side: connect (retrying until the server listens), drive, check.
    Drive {
        test: Test,
        #[arg(long)]
        connect: SocketAddr,
        /// Seconds to keep retrying connect while nobody listens yet.
        #[arg(long, default_value_t = 15)]
        deadline: u64,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// Duration of the throughput run.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// PDU size of the throughput run (bytes).
        #[arg(long, default_value_t = 1024)]
        pdu_size: usize,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Test {
    LargePdus,
    Streams,
    Echo,
    Updown,
    Throughput,
}

type R<T> = Result<T, String>;

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

fn opts() -> SctpOptions {
    // 1 MiB PDUs need a send buffer above 1 MiB (SCTP sends a message whole).
    SctpOptions { send_buffer: Some(4 << 20), recv_buffer: Some(4 << 20), ..SctpOptions::default() }
}

const EVENT_WAIT: Duration = Duration::from_secs(30);

async fn event(rx: &mut impl E2Receiver, what: &str) -> R<TransportEvent> {
    match tokio::time::timeout(EVENT_WAIT, rx.recv()).await {
        Err(_) => Err(format!("timed out waiting for {what}")),
        Ok(Err(e)) => Err(format!("waiting for {what}: {e}")),
        Ok(Ok(None)) => Err(format!("stream ended while waiting for {what}")),
        Ok(Ok(Some(ev))) => Ok(ev),
    }
}

async fn frame(rx: &mut impl E2Receiver, what: &str) -> R<E2Frame> {
    match event(rx, what).await? {
        TransportEvent::Frame(f) => Ok(f),
        other => Err(format!("expected {what}, got {other:?}")),
    }
}

async fn up(rx: &mut impl E2Receiver, role: &str) -> R<(SocketAddr, u16, u16)> {
    match event(rx, "Up").await? {
        TransportEvent::Up { peer: Peer::Sctp(p), outbound_streams, inbound_streams } => {
            println!("[{role}] Up: peer {p}, {outbound_streams} out / {inbound_streams} in streams");
            Ok((p, outbound_streams, inbound_streams))
        }
        other => Err(format!("first event should be Up, got {other:?}")),
    }
}

/// The stream must end (`Ok(None)`) after `Down`, promptly.
async fn ends(rx: &mut impl E2Receiver) -> R<()> {
    match tokio::time::timeout(EVENT_WAIT, rx.recv()).await {
        Ok(Ok(None)) => Ok(()),
        other => Err(format!("after Down, recv should return None, got {other:?}")),
    }
}

fn send_err(e: TransportError) -> String {
    format!("send: {e}")
}

// ---------------------------------------------------------------- large PDUs

/// 200 sizes: the boundaries that matter, then log-uniform sizes up to 1 MiB.
fn sizes() -> Vec<usize> {
    let mut v = vec![
        1, 2, 3, 100, 1000, 1500, 4095, 4096, 4097, 8191, 8192, 8193, 16384, 32767, 32768, 65535, 65536, 65537, 131072,
        262144, 524288, 1048575, 1048576,
    ];
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    while v.len() < 200 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let exp = (x % 2000) as f64 / 100.0; // 2^0 .. 2^20
        v.push((2f64.powf(exp) as usize).clamp(1, 1 << 20));
    }
    v
}

/// Deterministic content of PDU `i`.
fn content(i: usize, len: usize) -> Bytes {
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out.into()
}

/// Checks frames against `sizes()` per stream (SCTP orders within a stream only).
struct PerStream {
    sizes: Vec<usize>,
    next: [usize; 4],
    seen: usize,
}

impl PerStream {
    fn new() -> Self {
        PerStream { sizes: sizes(), next: [0, 1, 2, 3], seen: 0 }
    }
    fn check(&mut self, f: &E2Frame) -> R<usize> {
        let s = usize::from(f.stream);
        ensure!(s < 4, "frame on unexpected stream {s}");
        let i = self.next[s];
        ensure!(i < self.sizes.len(), "extra frame on stream {s}");
        let len = self.sizes[i];
        ensure!(f.ppid == E2AP_PPID, "PDU #{i}: PPID {} (expected {E2AP_PPID})", f.ppid);
        ensure!(
            f.payload.len() == len,
            "PDU #{i} on stream {s}: {} bytes, expected {len} (split or merged)",
            f.payload.len()
        );
        ensure!(f.payload == content(i, len), "PDU #{i} ({len} bytes) is not byte-identical");
        self.next[s] += 4;
        self.seen += 1;
        Ok(len)
    }
    fn done(&self) -> bool {
        self.seen == self.sizes.len()
    }
}

async fn serve_large(mut a: SctpAssociation) -> R<()> {
    up(&mut a, "serve").await?;
    let mut check = PerStream::new();
    let mut bytes = 0usize;
    let mut max = 0usize;
    while !check.done() {
        let f = frame(&mut a, "a PDU").await?;
        let len = check.check(&f)?;
        bytes += len;
        max = max.max(len);
        a.send(f.stream, f.payload).await.map_err(send_err)?;
    }
    println!(
        "[serve] {} PDUs ({bytes} bytes, largest {max}) whole, byte-identical, right stream, PPID 70; echoed",
        check.seen
    );
    // The driver shuts down once it has every echo.
    match event(&mut a, "Shutdown").await? {
        TransportEvent::Shutdown => Ok(()),
        other => Err(format!("expected Shutdown, got {other:?}")),
    }
}

async fn drive_large(a: SctpAssociation) -> R<()> {
    let (tx, mut rx) = a.into_split();
    up(&mut rx, "drive").await?;
    let sizes = sizes();
    let sender = tx.clone();
    let writer = tokio::spawn(async move {
        let mut tx = sender;
        for (i, &len) in sizes.iter().enumerate() {
            tx.send((i % 4) as u16, content(i, len)).await.map_err(send_err)?;
        }
        R::Ok(())
    });
    let t0 = Instant::now();
    let mut check = PerStream::new();
    while !check.done() {
        let f = frame(&mut rx, "an echo").await?;
        check.check(&f).map_err(|e| format!("echo: {e}"))?;
    }
    writer.await.map_err(|e| format!("writer task: {e}"))??;
    println!("[drive] {} echoes verified in {:.2?}", check.seen, t0.elapsed());
    tx.shutdown().map_err(|e| e.to_string())?;
    match event(&mut rx, "Down").await? {
        TransportEvent::Down { reason: DownReason::ShutdownComplete } => Ok(()),
        other => Err(format!("expected Down(ShutdownComplete), got {other:?}")),
    }
}

// ------------------------------------------------------------------- streams

const PER_STREAM: u32 = 100;

async fn serve_streams(mut a: SctpAssociation) -> R<()> {
    let (_, out, inb) = up(&mut a, "serve").await?;
    ensure!((out, inb) == (4, 4), "negotiated {out}/{inb} streams, expected 4/4");
    let mut next = [0u32; 4];
    let mut saw_ppid0 = false;
    while next.iter().any(|&n| n < PER_STREAM) || !saw_ppid0 {
        let f = frame(&mut a, "a frame").await?;
        if f.ppid == 0 {
            ensure!(f.payload[..] == b"e2sim-style PPID 0"[..], "unexpected PPID 0 frame {:?}", f.payload);
            saw_ppid0 = true;
            continue;
        }
        ensure!(f.ppid == E2AP_PPID, "PPID {}", f.ppid);
        ensure!(f.payload.len() == 5, "frame of {} bytes", f.payload.len());
        let s = f.payload[0];
        let seq = u32::from_be_bytes([f.payload[1], f.payload[2], f.payload[3], f.payload[4]]);
        ensure!(u16::from(s) == f.stream, "frame sent on stream {s} arrived on stream {}", f.stream);
        let n = &mut next[usize::from(s)];
        ensure!(seq == *n, "stream {s}: frame {seq} arrived when {} was due (order within a stream)", *n);
        *n += 1;
    }
    println!("[serve] {PER_STREAM} frames on each of streams 0-3 in order with their stream ids; PPID 0 accepted");
    a.send(1, Bytes::from_static(b"ok")).await.map_err(send_err)?;
    match event(&mut a, "Down").await? {
        TransportEvent::Down { .. } => ends(&mut a).await,
        other => Err(format!("expected Down, got {other:?}")),
    }
}

async fn drive_streams(mut a: SctpAssociation) -> R<()> {
    let (_, out, _) = up(&mut a, "drive").await?;
    ensure!(out == 4, "{out} outbound streams, expected 4");
    for i in 0..4 * PER_STREAM {
        let s = (i % 4) as u8;
        let mut p = vec![s];
        p.extend_from_slice(&(i / 4).to_be_bytes());
        a.send(u16::from(s), p.into()).await.map_err(send_err)?;
    }
    match a.send(4, Bytes::from_static(b"nope")).await {
        Err(TransportError::InvalidStream { stream: 4, streams: 4 }) => {
            println!("[drive] stream 4 refused: InvalidStream (4 outbound streams)")
        }
        other => return Err(format!("send on stream 4: expected InvalidStream, got {other:?}")),
    }
    a.send_frame(E2Frame { stream: 3, ppid: 0, payload: Bytes::from_static(b"e2sim-style PPID 0") })
        .await
        .map_err(send_err)?;
    let f = frame(&mut a, "the server's ok").await?;
    ensure!(
        (f.stream, f.ppid, &f.payload[..]) == (1, E2AP_PPID, &b"ok"[..]),
        "reply: stream {} PPID {} {:?}",
        f.stream,
        f.ppid,
        f.payload
    );
    a.abort().map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------- echo

async fn serve_echo(mut a: SctpAssociation, listen: SocketAddr) -> R<()> {
    let (peer, _, _) = up(&mut a, "serve").await?;
    ensure!(peer.is_ipv6() == listen.is_ipv6(), "peer {peer} is not of the family of {listen}");
    loop {
        match event(&mut a, "a PDU or Down").await? {
            TransportEvent::Frame(f) => a.send(f.stream, f.payload).await.map_err(send_err)?,
            TransportEvent::Shutdown => {}
            TransportEvent::Down { reason } => {
                println!("[serve] Down: {reason:?}");
                return ends(&mut a).await;
            }
            other => return Err(format!("unexpected {other:?}")),
        }
    }
}

async fn drive_echo(mut a: SctpAssociation, connect: SocketAddr) -> R<()> {
    let (peer, _, _) = up(&mut a, "drive").await?;
    ensure!(peer == connect, "Up peer {peer} != {connect}");
    ensure!(a.local_addr().is_ipv6() == connect.is_ipv6(), "local address {} family", a.local_addr());
    for (i, len) in [1usize, 100, 4097, 65536, 65537].into_iter().enumerate() {
        let pdu = content(i, len);
        a.send((i % 4) as u16, pdu.clone()).await.map_err(send_err)?;
        let f = frame(&mut a, "an echo").await?;
        ensure!(f.payload == pdu && f.stream == (i % 4) as u16, "echo #{i} differs");
    }
    println!("[drive] 5 PDUs up to 65537 bytes echoed over {} -> {}", a.local_addr(), connect);
    a.shutdown().map_err(|e| e.to_string())?;
    match event(&mut a, "Down").await? {
        TransportEvent::Down { reason: DownReason::ShutdownComplete } => ends(&mut a).await,
        other => Err(format!("expected Down(ShutdownComplete), got {other:?}")),
    }
}

// -------------------------------------------------------------------- updown

async fn serve_updown(l: &SctpListener) -> R<()> {
    // 1: the driver aborts.
    let mut a = accept(l).await?;
    up(&mut a, "serve").await?;
    let f = frame(&mut a, "hello").await?;
    ensure!(f.payload[..] == b"hello"[..], "got {:?}", f.payload);
    a.send(0, Bytes::from_static(b"hello-ack")).await.map_err(send_err)?;
    match event(&mut a, "Down after the peer's abort").await? {
        TransportEvent::Down { reason: DownReason::CommLost { cause } } => {
            println!("[serve] association 1: Down(CommLost, cause {cause}) after the peer aborted")
        }
        other => return Err(format!("association 1: expected Down(CommLost), got {other:?}")),
    }
    ends(&mut a).await?;
    // 2: the driver shuts down gracefully.
    let mut a = accept(l).await?;
    up(&mut a, "serve").await?;
    match event(&mut a, "Shutdown").await? {
        TransportEvent::Shutdown => println!("[serve] association 2: Shutdown (peer-initiated graceful close)"),
        other => return Err(format!("association 2: expected Shutdown, got {other:?}")),
    }
    loop {
        match tokio::time::timeout(EVENT_WAIT, a.recv()).await {
            Ok(Ok(None)) => break,
            Ok(Ok(Some(TransportEvent::Down { reason }))) => println!("[serve] association 2: Down({reason:?})"),
            other => return Err(format!("association 2: expected Down/end, got {other:?}")),
        }
    }
    // 3: we abort.
    let mut a = accept(l).await?;
    up(&mut a, "serve").await?;
    let f = frame(&mut a, "abort-me").await?;
    ensure!(f.payload[..] == b"abort-me"[..], "got {:?}", f.payload);
    a.abort().map_err(|e| e.to_string())?;
    println!("[serve] association 3: aborted by us");
    Ok(())
}

async fn drive_updown(connect: SocketAddr, deadline: Duration) -> R<()> {
    let mut a = dial(connect, deadline, opts()).await?;
    up(&mut a, "drive").await?;
    a.send(0, Bytes::from_static(b"hello")).await.map_err(send_err)?;
    frame(&mut a, "hello-ack").await?;
    a.abort().map_err(|e| e.to_string())?;
    println!("[drive] association 1: aborted");

    let mut a = dial(connect, deadline, opts()).await?;
    up(&mut a, "drive").await?;
    a.shutdown().map_err(|e| e.to_string())?;
    match event(&mut a, "Down").await? {
        TransportEvent::Down { reason: DownReason::ShutdownComplete } => {
            println!("[drive] association 2: Down(ShutdownComplete)")
        }
        other => return Err(format!("association 2: expected Down(ShutdownComplete), got {other:?}")),
    }
    ends(&mut a).await?;

    let mut a = dial(connect, deadline, opts()).await?;
    up(&mut a, "drive").await?;
    a.send(0, Bytes::from_static(b"abort-me")).await.map_err(send_err)?;
    match event(&mut a, "Down after the server's abort").await? {
        TransportEvent::Down { reason: DownReason::CommLost { cause } } => {
            println!("[drive] association 3: Down(CommLost, cause {cause}) after the server aborted")
        }
        other => return Err(format!("association 3: expected Down(CommLost), got {other:?}")),
    }
    ends(&mut a).await?;
    match a.send(0, Bytes::from_static(b"late")).await {
        Err(e) if e.is_fatal() => println!("[drive] send after Down: {e}"),
        other => return Err(format!("send after Down should fail fatally, got {other:?}")),
    }
    Ok(())
}

// ---------------------------------------------------------------- throughput

const END_PPID: u32 = 0xE2E2;

/// Counts equal-sized PDUs until the driver's end marker; prints the rate.
async fn serve_throughput(mut a: SctpAssociation, min_rate: f64) -> R<()> {
    up(&mut a, "serve").await?;
    let mut n = 0u64;
    let mut first = None;
    let mut size = None;
    loop {
        let f = frame(&mut a, "a PDU").await?;
        if f.ppid == END_PPID {
            let sent = u64::from_be_bytes(f.payload[..].try_into().map_err(|_| "bad end marker".to_string())?);
            let dt = first.map(|t: Instant| t.elapsed()).unwrap_or_default().as_secs_f64().max(1e-9);
            ensure!(sent == n, "driver sent {sent} PDUs, {n} arrived");
            let size = size.unwrap_or(0);
            let rate = n as f64 / dt;
            println!(
                "[serve] {n} PDUs of {size} B in {dt:.2} s on one association: {rate:.0} PDUs/s ({:.1} MiB/s)",
                rate * size as f64 / f64::from(1 << 20)
            );
            println!("METRIC sctp_{}_pdus_per_s={rate:.0}", size_label(size));
            a.send(0, Bytes::copy_from_slice(&n.to_be_bytes())).await.map_err(send_err)?;
            if rate < min_rate {
                return Err(format!("{rate:.0} PDUs/s is below --min-rate {min_rate}"));
            }
            return Ok(());
        }
        let len = f.payload.len();
        ensure!(*size.get_or_insert(len) == len && f.ppid == E2AP_PPID, "PDU of {len} bytes, PPID {}", f.ppid);
        first.get_or_insert_with(Instant::now);
        n += 1;
    }
}

/// "1KiB", "64KiB", or the byte count.
fn size_label(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) { format!("{}KiB", size / 1024) } else { format!("{size}B") }
}

async fn drive_throughput(mut a: SctpAssociation, seconds: f64, pdu_size: usize) -> R<()> {
    up(&mut a, "drive").await?;
    let pdu = Bytes::from(vec![0xA5u8; pdu_size.clamp(1, 1 << 20)]);
    let t0 = Instant::now();
    let run = Duration::from_secs_f64(seconds.clamp(0.1, 600.0));
    let batch = (256 * 1024 / pdu.len()).clamp(1, 256) as u64;
    let mut n = 0u64;
    while t0.elapsed() < run {
        for _ in 0..batch {
            a.send(0, pdu.clone()).await.map_err(send_err)?;
        }
        n += batch;
    }
    let dt = t0.elapsed().as_secs_f64();
    println!("[drive] sent {n} PDUs of {} B in {dt:.2} s ({:.0} PDUs/s offered)", pdu.len(), n as f64 / dt);
    a.send_frame(E2Frame { stream: 0, ppid: END_PPID, payload: Bytes::copy_from_slice(&n.to_be_bytes()) })
        .await
        .map_err(send_err)?;
    let f = frame(&mut a, "the server's count").await?;
    ensure!(f.payload[..] == n.to_be_bytes()[..], "server counted {:?}", f.payload);
    a.abort().map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------- main

async fn accept(l: &SctpListener) -> R<SctpAssociation> {
    match tokio::time::timeout(EVENT_WAIT, l.accept()).await {
        Ok(r) => r.map_err(|e| format!("accept: {e}")),
        Err(_) => Err("timed out waiting for an association".into()),
    }
}

async fn dial(connect: SocketAddr, deadline: Duration, options: SctpOptions) -> R<SctpAssociation> {
    SctpAssociation::connect_with_retry(connect, options, deadline).await.map_err(|e| format!("connect: {e}"))
}

async fn serve(test: Test, listen: SocketAddr, min_rate: f64) -> R<()> {
    let options = if test == Test::Throughput { SctpOptions::default() } else { opts() };
    let l = SctpListener::bind(listen, options).await.map_err(|e| format!("listen: {e}"))?;
    println!("[serve] listening on {}", l.local_addr());
    match test {
        Test::Updown => serve_updown(&l).await,
        _ => {
            let a = accept(&l).await?;
            match test {
                Test::LargePdus => serve_large(a).await,
                Test::Streams => serve_streams(a).await,
                Test::Echo => serve_echo(a, listen).await,
                Test::Throughput => serve_throughput(a, min_rate).await,
                Test::Updown => Ok(()),
            }
        }
    }
}

async fn drive(test: Test, connect: SocketAddr, deadline: Duration, seconds: f64, pdu_size: usize) -> R<()> {
    if test == Test::Updown {
        return drive_updown(connect, deadline).await;
    }
    let options = if test == Test::Throughput { SctpOptions::default() } else { opts() };
    let a = dial(connect, deadline, options).await?;
    match test {
        Test::LargePdus => drive_large(a).await,
        Test::Streams => drive_streams(a).await,
        Test::Echo => drive_echo(a, connect).await,
        Test::Throughput => drive_throughput(a, seconds, pdu_size).await,
        Test::Updown => Ok(()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // RUST_LOG=qsafe_e2=debug shows the transport's decisions (on stderr).
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("FAIL: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (test, role, timeout) = match &cli.cmd {
        Cmd::Serve { test, timeout, .. } => (*test, "serve", *timeout),
        Cmd::Drive { test, timeout, .. } => (*test, "drive", *timeout),
    };
    let name = format!("{test:?}").to_lowercase();
    let t0 = Instant::now();
    let result = rt.block_on(async {
        let work = async {
            match cli.cmd {
                Cmd::Serve { test, listen, min_rate, .. } => serve(test, listen, min_rate).await,
                Cmd::Drive { test, connect, deadline, seconds, pdu_size, .. } => {
                    drive(test, connect, Duration::from_secs(deadline), seconds, pdu_size).await
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(timeout), work)
            .await
            .unwrap_or_else(|_| Err(format!("gave up after {timeout} s")))
    });
    match result {
        Ok(()) => {
            println!("PASS {name} ({role}, {:.2?})", t0.elapsed());
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("FAIL {name} ({role}): {e}");
            ExitCode::FAILURE
        }
    }
}
