//! Kernel SCTP, one-to-one style (`SOCK_STREAM`, `IPPROTO_SCTP`), IPv4 and
//! IPv6, driven by tokio's `AsyncFd`. See the [module docs](super) for what
//! is guaranteed and why this is not built on sctp-rs.
//!
//! ```no_run
//! # async fn demo() -> Result<(), qsafe_e2::transport::TransportError> {
//! use qsafe_e2::transport::sctp::{SctpAssociation, SctpListener, SctpOptions};
//! use qsafe_e2::transport::{E2Receiver, E2Sender, TransportEvent};
//!
//! // RIC side
//! let listener = SctpListener::bind("0.0.0.0:36421".parse().unwrap(), SctpOptions::default()).await?;
//! let mut assoc = listener.accept().await?;
//! while let Some(ev) = assoc.recv().await? {
//!     if let TransportEvent::Frame(f) = ev {
//!         assoc.send(f.stream, f.payload).await?; // echo, PPID 70
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Every socket gets, before `listen`/`connect`: `SCTP_INITMSG` (streams),
//! `SCTP_NODELAY`, `SCTP_RECVRCVINFO` (stream and PPID of each message) and
//! `SCTP_EVENT` subscriptions to `SCTP_ASSOC_CHANGE`, `SCTP_SHUTDOWN_EVENT`
//! and `SCTP_PARTIAL_DELIVERY_EVENT` (Linux ≥ 5.0). Accepted sockets inherit
//! them, so the `SCTP_COMM_UP` of an accepted association is its first event.
//!
//! Size limits: SCTP sends a message whole or not at all, and Linux refuses
//! (EMSGSIZE) a message larger than the socket's send buffer (`SO_SNDBUF`,
//! ~208 KiB by default; capped by `net.core.wmem_max`). Sending PDUs larger
//! than that needs [`SctpOptions::send_buffer`]; when the kernel caps the
//! request, `SO_SNDBUFFORCE` is tried (works with CAP_NET_ADMIN, which the
//! xApp has anyway for XFRM). Receiving has no such limit (partial delivery
//! is reassembled) beyond [`SctpOptions::max_pdu_size`], but the receive
//! buffer decides throughput for messages above 64 KiB: Linux's default
//! (~208 KiB) makes each such message wait for a window update, about 6 per
//! second, so sockets get [`DEFAULT_RECV_BUFFER`] (1 MiB) unless configured
//! otherwise. A receive buffer capped by `net.core.rmem_max` is only a
//! throughput matter: it is logged at debug level, not refused.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::sys;
use super::wire::{self, AssocState, CmsgBuf, MSG_EOR, MSG_NOTIFICATION, Notification, RECV_CONTROL_SPACE};
use super::{DownReason, E2Frame, E2Receiver, E2Sender, E2Transport, Peer, TransportError, TransportEvent};

/// Default `SO_RCVBUF`: 1 MiB. Measured in the kernel tier (Linux 6.1, UML,
/// `tests/kernel/cases/31-sctp-throughput-64k.sh`): a stream of 65 600-byte
/// messages into a socket with the kernel's default receive buffer (~208 KiB)
/// moves at **~6 messages/s** (every message waits for a window update),
/// 65 536-byte ones at ~1 570/s; with 1 MiB, 65 600-byte messages move at
/// ~2 000/s. E2 indications above 64 KiB are ordinary (KPM reports), so the
/// default is the big buffer.
pub const DEFAULT_RECV_BUFFER: usize = 1 << 20;

/// Options for listeners and outgoing associations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SctpOptions {
    /// Outbound streams requested and maximum inbound streams accepted
    /// (`SCTP_INITMSG`); the association uses the minimum of both ends'.
    /// Default 4. (0 = kernel default, 10.)
    pub streams: u16,
    /// `SCTP_NODELAY`: no Nagle-like bundling delay. Default true.
    pub nodelay: bool,
    /// INIT retransmissions before giving up (`sinit_max_attempts`);
    /// 0 = kernel default (8).
    pub max_init_attempts: u16,
    /// Largest INIT retransmission timeout (`sinit_max_init_timeo`, whole
    /// milliseconds, at most 65535); zero = kernel default (60 s).
    pub max_init_timeout: Duration,
    /// `SO_SNDBUF` in bytes (the kernel doubles it). Also the largest PDU that
    /// can be sent. None = kernel default (`net.core.wmem_default`).
    pub send_buffer: Option<usize>,
    /// `SO_RCVBUF` in bytes. Default [`DEFAULT_RECV_BUFFER`] (1 MiB); None =
    /// kernel default (`net.core.rmem_default`, ~208 KiB), which stalls
    /// streams of messages above 64 KiB (see the module docs).
    pub recv_buffer: Option<usize>,
    /// Largest PDU accepted from the peer; larger ones are read, discarded
    /// and reported as [`TransportError::PduTooLargeReceived`]. Default 16 MiB.
    pub max_pdu_size: usize,
    /// `listen()` backlog. Default 128.
    pub backlog: i32,
    /// Time allowed for [`SctpAssociation::connect`]. Default 10 s.
    pub connect_timeout: Duration,
    /// Local address to bind before connecting (outgoing associations only).
    pub local_addr: Option<SocketAddr>,
}

impl Default for SctpOptions {
    fn default() -> Self {
        SctpOptions {
            streams: 4,
            nodelay: true,
            max_init_attempts: 0,
            max_init_timeout: Duration::ZERO,
            send_buffer: None,
            recv_buffer: Some(DEFAULT_RECV_BUFFER),
            max_pdu_size: 16 << 20,
            backlog: 128,
            connect_timeout: Duration::from_secs(10),
            local_addr: None,
        }
    }
}

/// Check that the kernel can create SCTP sockets (creates and closes one).
///
/// Returns [`TransportError::SctpUnavailable`] ("kernel SCTP not available:
/// load the sctp module") where it cannot.
pub fn kernel_sctp_available() -> Result<(), TransportError> {
    new_socket(Domain::IPV4).map(drop)
}

/// Is a `socket()` error the kernel saying "no SCTP here"?
///
/// Without the sctp module, `socket(AF_INET, SOCK_STREAM, 132)` gives
/// EPROTONOSUPPORT (ESOCKTNOSUPPORT on some kernels); sandboxes may give
/// other errors, so a missing `/proc/net/sctp` (created by the module in
/// every network namespace) also counts, except for resource exhaustion.
fn is_sctp_missing(e: &io::Error) -> bool {
    match e.raw_os_error() {
        Some(libc::EPROTONOSUPPORT | libc::ESOCKTNOSUPPORT) => true,
        Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS) => false,
        _ => !Path::new("/proc/net/sctp").exists(),
    }
}

fn new_socket(domain: Domain) -> Result<Socket, TransportError> {
    Socket::new(domain, Type::STREAM.nonblocking().cloexec(), Some(Protocol::from(libc::IPPROTO_SCTP))).map_err(|e| {
        if is_sctp_missing(&e) {
            TransportError::SctpUnavailable { source: e }
        } else {
            TransportError::Socket { op: "socket", addr: None, source: e }
        }
    })
}

fn opt_err(option: &'static str) -> impl FnOnce(io::Error) -> TransportError {
    move |source| TransportError::SocketOption { option, source }
}

/// Options applied to every socket before bind/listen/connect.
fn configure(sock: &Socket, opts: &SctpOptions) -> Result<(), TransportError> {
    let fd = sock.as_fd();
    let timeo = u16::try_from(opts.max_init_timeout.as_millis()).unwrap_or(u16::MAX);
    sys::set_initmsg(
        fd,
        sys::SctpInitMsg {
            num_ostreams: opts.streams,
            max_instreams: opts.streams,
            max_attempts: opts.max_init_attempts,
            max_init_timeo: timeo,
        },
    )
    .map_err(opt_err("SCTP_INITMSG"))?;
    for kind in [wire::SCTP_ASSOC_CHANGE, wire::SCTP_SHUTDOWN_EVENT, wire::SCTP_PARTIAL_DELIVERY_EVENT] {
        sys::subscribe(fd, kind).map_err(opt_err("SCTP_EVENT"))?;
    }
    configure_per_socket(sock, opts)
}

/// Options that are (re)applied to accepted sockets too.
fn configure_per_socket(sock: &Socket, opts: &SctpOptions) -> Result<(), TransportError> {
    let fd = sock.as_fd();
    sys::set_int(fd, wire::SOL_SCTP, sys::SCTP_NODELAY, i32::from(opts.nodelay)).map_err(opt_err("SCTP_NODELAY"))?;
    sys::set_int(fd, wire::SOL_SCTP, sys::SCTP_RECVRCVINFO, 1).map_err(opt_err("SCTP_RECVRCVINFO"))?;
    if let Some(n) = opts.send_buffer {
        sock.set_send_buffer_size(n).map_err(opt_err("SO_SNDBUF"))?;
        if sock.send_buffer_size().map_err(opt_err("SO_SNDBUF"))? < n {
            // Capped by net.core.wmem_max: try to force (needs CAP_NET_ADMIN).
            let v = i32::try_from(n).unwrap_or(i32::MAX);
            if let Err(e) = sys::set_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, v) {
                tracing::warn!(requested = n, error = %e, "SO_SNDBUF capped by net.core.wmem_max and SO_SNDBUFFORCE refused");
            }
        }
    }
    if let Some(n) = opts.recv_buffer {
        sock.set_recv_buffer_size(n).map_err(opt_err("SO_RCVBUF"))?;
        if sock.recv_buffer_size().map_err(opt_err("SO_RCVBUF"))? < n {
            let v = i32::try_from(n).unwrap_or(i32::MAX);
            if let Err(e) = sys::set_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, v) {
                tracing::debug!(requested = n, error = %e, "SO_RCVBUF capped by net.core.rmem_max and SO_RCVBUFFORCE refused");
            }
        }
    }
    Ok(())
}

fn async_fd(sock: Socket, op: &'static str, addr: Option<SocketAddr>) -> Result<AsyncFd<Socket>, TransportError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(TransportError::Socket { op, addr, source: io::Error::other("not called within a tokio runtime") });
    }
    sys::register(sock).map_err(|source| TransportError::Socket { op, addr, source })
}

fn sock_addr(a: io::Result<SockAddr>) -> Option<SocketAddr> {
    a.ok().and_then(|a| a.as_socket())
}

/// A listening SCTP socket (the RIC side of E2).
#[derive(Debug)]
pub struct SctpListener {
    fd: AsyncFd<Socket>,
    local: SocketAddr,
    opts: SctpOptions,
}

impl SctpListener {
    /// Create, configure, bind (SO_REUSEADDR) and listen. Port 0 picks a free
    /// port (see [`SctpListener::local_addr`]). Must run inside a tokio runtime.
    pub async fn bind(addr: SocketAddr, opts: SctpOptions) -> Result<SctpListener, TransportError> {
        let sock = new_socket(Domain::for_address(addr))?;
        sock.set_reuse_address(true).map_err(opt_err("SO_REUSEADDR"))?;
        configure(&sock, &opts)?;
        sock.bind(&addr.into()).map_err(|source| TransportError::Socket { op: "bind", addr: Some(addr), source })?;
        sock.listen(opts.backlog).map_err(|source| TransportError::Socket {
            op: "listen",
            addr: Some(addr),
            source,
        })?;
        let local = sock_addr(sock.local_addr()).unwrap_or(addr);
        Ok(SctpListener { fd: async_fd(sock, "listen", Some(addr))?, local, opts })
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Wait for the next association. Its first event is
    /// [`TransportEvent::Up`]. Cancel-safe.
    pub async fn accept(&self) -> Result<SctpAssociation, TransportError> {
        let accept_err = |source| TransportError::Socket { op: "accept", addr: Some(self.local), source };
        loop {
            let mut guard = self.fd.readable().await.map_err(accept_err)?;
            match guard.try_io(|fd| fd.get_ref().accept()) {
                Err(_would_block) => continue,
                Ok(Err(e)) => match e.raw_os_error() {
                    // The association died in the accept queue, or a signal: try the next one.
                    Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO) => continue,
                    _ => return Err(accept_err(e)),
                },
                Ok(Ok((sock, addr))) => {
                    sock.set_nonblocking(true).map_err(accept_err)?;
                    configure_per_socket(&sock, &self.opts)?;
                    let peer = addr.as_socket().or_else(|| sock_addr(sock.peer_addr()));
                    let local = sock_addr(sock.local_addr()).unwrap_or(self.local);
                    let peer = peer.unwrap_or(local);
                    let fd = async_fd(sock, "accept", Some(peer))?;
                    return Ok(SctpAssociation::new(fd, peer, local, &self.opts));
                }
            }
        }
    }
}

struct Inner {
    fd: AsyncFd<Socket>,
    peer: SocketAddr,
    local: SocketAddr,
    /// Outbound streams from COMM_UP/RESTART; 0 until known.
    out_streams: AtomicU16,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("fd", &self.fd.get_ref())
            .field("peer", &self.peer)
            .field("local", &self.local)
            .field("out_streams", &self.out_streams.load(Ordering::Relaxed))
            .finish()
    }
}

/// One SCTP association (one-to-one socket).
#[derive(Debug)]
pub struct SctpAssociation {
    tx: SctpSender,
    rx: SctpReceiver,
}

/// Sending half of an [`SctpAssociation`]; clones share the socket
/// (each PDU is one atomic `sendmsg`, so concurrent senders do not interleave).
#[derive(Debug, Clone)]
pub struct SctpSender {
    inner: Arc<Inner>,
}

/// Receiving half of an [`SctpAssociation`]: reassembles each message up to
/// `MSG_EOR` and turns notifications into events.
#[derive(Debug)]
pub struct SctpReceiver {
    inner: Arc<Inner>,
    buf: BytesMut,
    control: CmsgBuf<RECV_CONTROL_SPACE>,
    partial: Option<Partial>,
    max_pdu: usize,
    done: bool,
}

/// The record being reassembled.
#[derive(Debug, Clone, Copy)]
struct Partial {
    notification: bool,
    info: Option<wire::RcvInfo>,
    /// Bytes already thrown away because the PDU exceeds `max_pdu`.
    discarded: usize,
}

/// One whole record read from the socket.
#[derive(Debug)]
enum Record {
    Data { payload: Bytes, info: Option<wire::RcvInfo> },
    Notification(Bytes),
    Oversized { len: usize },
    Eof,
}

/// Keep at least this much spare room before each `recvmsg`...
const MIN_SPARE: usize = 16 << 10;
/// ...growing by at least this much (shared by many small PDUs: the split-off
/// `Bytes` of consecutive PDUs share one allocation).
const GROW: usize = 256 << 10;

fn is_gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET | libc::ENOTCONN | libc::ESHUTDOWN))
}

impl SctpAssociation {
    fn new(fd: AsyncFd<Socket>, peer: SocketAddr, local: SocketAddr, opts: &SctpOptions) -> Self {
        let inner = Arc::new(Inner { fd, peer, local, out_streams: AtomicU16::new(0) });
        SctpAssociation {
            tx: SctpSender { inner: inner.clone() },
            rx: SctpReceiver {
                inner,
                buf: BytesMut::new(),
                control: CmsgBuf::zeroed(),
                partial: None,
                max_pdu: opts.max_pdu_size.max(1),
                done: false,
            },
        }
    }

    /// Open an association to `addr` (the E2 node side), within
    /// [`SctpOptions::connect_timeout`]. ECONNREFUSED means nobody listens.
    pub async fn connect(addr: SocketAddr, opts: SctpOptions) -> Result<SctpAssociation, TransportError> {
        match tokio::time::timeout(opts.connect_timeout, Self::connect_once(addr, &opts)).await {
            Ok(r) => r,
            Err(_) => Err(TransportError::Timeout {
                op: format!("SCTP connect to {addr}"),
                after: opts.connect_timeout,
                last: None,
            }),
        }
    }

    /// [`SctpAssociation::connect`], retried while the peer refuses or is
    /// unreachable (it may not be listening yet), with backoff from 10 ms to
    /// 250 ms, until `deadline` has passed (each attempt also within
    /// [`SctpOptions::connect_timeout`]). This is a bounded readiness poll,
    /// not a sleep: it returns as soon as the peer accepts.
    pub async fn connect_with_retry(
        addr: SocketAddr,
        opts: SctpOptions,
        deadline: Duration,
    ) -> Result<SctpAssociation, TransportError> {
        let until = tokio::time::Instant::now() + deadline;
        let mut backoff = Duration::from_millis(10);
        loop {
            let remaining = until.saturating_duration_since(tokio::time::Instant::now());
            let attempt = SctpOptions { connect_timeout: opts.connect_timeout.min(remaining), ..opts.clone() };
            let err = match Self::connect(addr, attempt).await {
                Ok(a) => return Ok(a),
                Err(TransportError::Connect { source, .. })
                    if matches!(
                        source.raw_os_error(),
                        Some(libc::ECONNREFUSED | libc::EHOSTUNREACH | libc::ENETUNREACH | libc::ETIMEDOUT)
                    ) =>
                {
                    source
                }
                Err(e) => return Err(e),
            };
            tracing::debug!(%addr, error = %err, ?backoff, "SCTP connect refused or unreachable; retrying");
            if tokio::time::Instant::now() + backoff > until {
                return Err(TransportError::Timeout {
                    op: format!("SCTP connect to {addr}"),
                    after: deadline,
                    last: Some(err.to_string()),
                });
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(250));
        }
    }

    async fn connect_once(addr: SocketAddr, opts: &SctpOptions) -> Result<SctpAssociation, TransportError> {
        let connect_err = |source| TransportError::Connect { addr, source };
        let sock = new_socket(Domain::for_address(addr))?;
        configure(&sock, opts)?;
        if let Some(local) = opts.local_addr {
            sock.bind(&local.into()).map_err(|source| TransportError::Socket {
                op: "bind",
                addr: Some(local),
                source,
            })?;
        }
        let pending = match sock.connect(&addr.into()) {
            Ok(()) => false,
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => true,
            Err(e) => return Err(connect_err(e)),
        };
        let fd = async_fd(sock, "connect", Some(addr))?;
        tracing::debug!(%addr, pending, "SCTP connect started");
        if pending {
            // Writable once the handshake ends; on failure (ECONNREFUSED when
            // nobody listens) the socket is closed, polls EPOLLERR|EPOLLIN (a
            // CANT_STR_ASSOC notification is queued) but never EPOLLOUT, and
            // tokio's `writable()` does not wake for that: wait for ERROR too.
            // Confirm with SO_ERROR and getpeername either way.
            loop {
                let mut guard = fd.ready(Interest::WRITABLE | Interest::ERROR).await.map_err(connect_err)?;
                if let Some(e) = fd.get_ref().take_error().map_err(connect_err)? {
                    return Err(connect_err(e));
                }
                match fd.get_ref().peer_addr() {
                    Ok(_) => break,
                    Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
                        tracing::debug!(%addr, "SCTP connect: writable but not yet connected");
                        guard.clear_ready()
                    }
                    Err(e) => return Err(connect_err(e)),
                }
            }
        }
        let local = sock_addr(fd.get_ref().local_addr()).unwrap_or(addr);
        Ok(SctpAssociation::new(fd, addr, local, opts))
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.tx.inner.peer
    }

    /// Our address.
    pub fn local_addr(&self) -> SocketAddr {
        self.tx.inner.local
    }

    /// Abort the association now (SO_LINGER 0, then close: the kernel sends
    /// ABORT; the peer sees `Down { CommLost }`). Used to simulate
    /// association loss.
    pub fn abort(self) -> Result<(), TransportError> {
        self.tx.abort_on_close()
        // `self` (both halves, the only handles) is dropped here: close -> ABORT.
    }

    /// Start a graceful shutdown (SHUTDOWN chunk): the peer sees
    /// `Shutdown`; this end later sees `Down { ShutdownComplete }`.
    pub fn shutdown(&self) -> Result<(), TransportError> {
        self.tx.shutdown()
    }
}

impl SctpSender {
    /// Send one whole frame; waits for send-buffer space.
    pub async fn send_frame(&self, frame: E2Frame) -> Result<(), TransportError> {
        let len = frame.payload.len();
        let stream = frame.stream;
        let known = self.inner.out_streams.load(Ordering::Relaxed);
        if known != 0 && stream >= known {
            return Err(TransportError::InvalidStream { stream, streams: known });
        }
        if len == 0 {
            let source = io::Error::new(io::ErrorKind::InvalidInput, "SCTP cannot carry an empty message");
            return Err(TransportError::Send { stream, len, source });
        }
        let control = wire::encode_sndinfo(stream, frame.ppid);
        loop {
            // ERROR too: a dead association polls EPOLLERR|EPOLLIN without
            // EPOLLOUT, and `writable()` alone would wait forever.
            let mut guard = self
                .inner
                .fd
                .ready(Interest::WRITABLE | Interest::ERROR)
                .await
                .map_err(|source| TransportError::Send { stream, len, source })?;
            match guard.try_io(|fd| sys::sendmsg(fd.get_ref().as_fd(), &frame.payload, &control.0)) {
                Err(_would_block) => continue,
                Ok(Ok(n)) if n == len => return Ok(()),
                Ok(Ok(n)) => {
                    let source = io::Error::other(format!("kernel accepted {n} of {len} bytes"));
                    return Err(TransportError::Send { stream, len, source });
                }
                Ok(Err(e)) => match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EMSGSIZE) => {
                        let send_buffer = self.inner.fd.get_ref().send_buffer_size().unwrap_or(0);
                        return Err(TransportError::PduTooLargeToSend { len, send_buffer });
                    }
                    Some(libc::EINVAL) => {
                        return Err(TransportError::InvalidStream {
                            stream,
                            streams: self.inner.out_streams.load(Ordering::Relaxed),
                        });
                    }
                    _ if is_gone(&e) => return Err(TransportError::Closed),
                    _ => return Err(TransportError::Send { stream, len, source: e }),
                },
            }
        }
    }

    /// Set SO_LINGER 0 so that closing the socket aborts the association.
    /// The ABORT goes out when the last handle (this sender, its clones and
    /// the receiver) is dropped.
    pub fn abort_on_close(&self) -> Result<(), TransportError> {
        self.inner.fd.get_ref().set_linger(Some(Duration::ZERO)).map_err(opt_err("SO_LINGER"))
    }

    /// Start a graceful shutdown (`shutdown(SHUT_WR)`: SCTP SHUTDOWN).
    pub fn shutdown(&self) -> Result<(), TransportError> {
        match self.inner.fd.get_ref().shutdown(std::net::Shutdown::Write) {
            Ok(()) => Ok(()),
            Err(e) if is_gone(&e) => Err(TransportError::Closed),
            Err(source) => Err(TransportError::Socket { op: "shutdown", addr: Some(self.inner.peer), source }),
        }
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.peer
    }
}

impl SctpReceiver {
    /// The next event; see [`E2Receiver::recv`]. Cancel-safe: a partly
    /// received PDU stays in the receiver.
    pub async fn recv(&mut self) -> Result<Option<TransportEvent>, TransportError> {
        loop {
            if self.done {
                return Ok(None);
            }
            let record = match self.read_record().await {
                Ok(r) => r,
                Err(e) if is_gone(&e) => {
                    self.done = true;
                    return Ok(Some(TransportEvent::Down { reason: DownReason::Reset }));
                }
                Err(source) => return Err(TransportError::Recv { source }),
            };
            match record {
                Record::Eof => {
                    self.done = true;
                    return Ok(Some(TransportEvent::Down { reason: DownReason::Closed }));
                }
                Record::Oversized { len } => {
                    return Err(TransportError::PduTooLargeReceived { len, max: self.max_pdu });
                }
                Record::Data { payload, info } => {
                    let info = info.unwrap_or_else(|| {
                        tracing::debug!("SCTP message without SCTP_RCVINFO; assuming stream 0, PPID 0");
                        wire::RcvInfo { sid: 0, ppid: 0 }
                    });
                    return Ok(Some(TransportEvent::Frame(E2Frame { stream: info.sid, ppid: info.ppid, payload })));
                }
                Record::Notification(bytes) => {
                    let n = wire::parse_notification(&bytes)
                        .map_err(|e| TransportError::MalformedNotification(e.to_string()))?;
                    if let Some(ev) = self.event_of(n) {
                        return Ok(Some(ev));
                    }
                }
            }
        }
    }

    fn event_of(&mut self, n: Notification) -> Option<TransportEvent> {
        match n {
            Notification::AssocChange { state, error, outbound_streams, inbound_streams } => match state {
                AssocState::CommUp => {
                    self.inner.out_streams.store(outbound_streams, Ordering::Relaxed);
                    Some(TransportEvent::Up { peer: Peer::Sctp(self.inner.peer), outbound_streams, inbound_streams })
                }
                AssocState::Restart => {
                    self.inner.out_streams.store(outbound_streams, Ordering::Relaxed);
                    Some(TransportEvent::Restart { outbound_streams, inbound_streams })
                }
                AssocState::CommLost => self.down(DownReason::CommLost { cause: error }),
                AssocState::ShutdownComplete => self.down(DownReason::ShutdownComplete),
                AssocState::CantStartAssoc => self.down(DownReason::CannotStart { cause: error }),
                AssocState::Unknown(s) => {
                    tracing::debug!(state = s, "ignoring SCTP_ASSOC_CHANGE with unknown state");
                    None
                }
            },
            Notification::Shutdown => Some(TransportEvent::Shutdown),
            Notification::PartialDelivery { indication } => {
                // Partial delivery aborted: the kernel drops the rest of the
                // message; forget what we had of it.
                tracing::debug!(indication, "SCTP partial delivery event");
                None
            }
            Notification::Other { kind } => {
                tracing::debug!(kind, "ignoring SCTP notification");
                None
            }
        }
    }

    fn down(&mut self, reason: DownReason) -> Option<TransportEvent> {
        self.done = true;
        self.inner.out_streams.store(0, Ordering::Relaxed);
        Some(TransportEvent::Down { reason })
    }

    /// Read until one record (data message or notification) is complete.
    async fn read_record(&mut self) -> io::Result<Record> {
        let inner = self.inner.clone();
        loop {
            // ERROR too: a pending socket error alone (EPOLLERR) must surface
            // through recvmsg rather than leave us waiting.
            let mut guard = inner.fd.ready(Interest::READABLE | Interest::ERROR).await?;
            loop {
                if self.buf.capacity() - self.buf.len() < MIN_SPARE {
                    self.buf.reserve(GROW.max(self.buf.len()));
                }
                let before = self.buf.len();
                let (buf, control) = (&mut self.buf, &mut self.control);
                match guard.try_io(|fd| sys::recvmsg_append(fd.get_ref().as_fd(), buf, usize::MAX, control)) {
                    Err(_would_block) => break,
                    Ok(Err(e)) if e.raw_os_error() == Some(libc::EINTR) => continue,
                    Ok(Err(e)) => {
                        self.reset_partial();
                        return Err(e);
                    }
                    Ok(Ok(r)) => {
                        if let Some(rec) = self.absorb(r, before) {
                            return Ok(rec);
                        }
                    }
                }
            }
        }
    }

    fn reset_partial(&mut self) {
        self.partial = None;
        self.buf.clear();
    }

    /// Account for one `recvmsg` result; return a record when it is whole.
    fn absorb(&mut self, r: sys::Received, before: usize) -> Option<Record> {
        let notification = r.flags & MSG_NOTIFICATION != 0;
        if r.n == 0 && r.flags & (MSG_EOR | MSG_NOTIFICATION) == 0 {
            if self.partial.is_some() {
                tracing::debug!(bytes = self.buf.len(), "end of file inside a message; dropped");
            }
            self.reset_partial();
            return Some(Record::Eof);
        }
        if r.flags & wire::MSG_CTRUNC != 0 {
            tracing::debug!("SCTP ancillary data truncated");
        }
        match self.partial {
            Some(p) if p.notification != notification => {
                // A notification in the middle of a data message (or vice
                // versa) means partial delivery was aborted: drop the remains.
                tracing::debug!(bytes = before + p.discarded, "dropping the rest of an aborted partial delivery");
                let _ = self.buf.split_to(before);
                self.partial = None;
            }
            _ => {}
        }
        let p = self.partial.get_or_insert(Partial { notification, info: None, discarded: 0 });
        if !notification && p.info.is_none() {
            p.info = wire::parse_rcvinfo(&self.control.0[..r.control_len]);
        }
        if !notification && self.buf.len() > self.max_pdu {
            p.discarded += self.buf.len();
            self.buf.clear();
        }
        if r.flags & MSG_EOR == 0 {
            return None;
        }
        let p = self.partial.take()?;
        if p.discarded > 0 {
            let len = p.discarded + self.buf.len();
            self.buf.clear();
            return Some(Record::Oversized { len });
        }
        let payload = self.buf.split().freeze();
        Some(if notification { Record::Notification(payload) } else { Record::Data { payload, info: p.info } })
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.peer
    }
}

impl E2Sender for SctpSender {
    fn send_frame(&mut self, frame: E2Frame) -> impl Future<Output = Result<(), TransportError>> + Send {
        SctpSender::send_frame(self, frame)
    }
}

impl E2Receiver for SctpReceiver {
    fn recv(&mut self) -> impl Future<Output = Result<Option<TransportEvent>, TransportError>> + Send {
        SctpReceiver::recv(self)
    }
}

impl E2Sender for SctpAssociation {
    fn send_frame(&mut self, frame: E2Frame) -> impl Future<Output = Result<(), TransportError>> + Send {
        self.tx.send_frame(frame)
    }
}

impl E2Receiver for SctpAssociation {
    fn recv(&mut self) -> impl Future<Output = Result<Option<TransportEvent>, TransportError>> + Send {
        self.rx.recv()
    }
}

impl E2Transport for SctpAssociation {
    type Sender = SctpSender;
    type Receiver = SctpReceiver;

    fn peer(&self) -> Peer {
        Peer::Sctp(self.tx.inner.peer)
    }

    fn local(&self) -> Option<SocketAddr> {
        Some(self.local_addr())
    }

    fn into_split(self) -> (SctpSender, SctpReceiver) {
        (self.tx, self.rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_sctp_errnos_are_recognised() {
        assert!(is_sctp_missing(&io::Error::from_raw_os_error(libc::EPROTONOSUPPORT)));
        assert!(is_sctp_missing(&io::Error::from_raw_os_error(libc::ESOCKTNOSUPPORT)));
        assert!(!is_sctp_missing(&io::Error::from_raw_os_error(libc::EMFILE)));
    }

    #[test]
    fn unavailable_error_text_is_exact() {
        let e = TransportError::SctpUnavailable { source: io::Error::from_raw_os_error(libc::EPROTONOSUPPORT) };
        assert_eq!(e.to_string(), "kernel SCTP not available: load the sctp module");
    }
}
