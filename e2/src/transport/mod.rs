//! # E2 transport: E2AP PDUs over kernel SCTP, or over an in-memory pair
//!
//! E2AP (O-RAN.WG3.E2AP) runs over SCTP. What this module guarantees:
//!
//! * **Whole PDUs.** An APER-encoded E2AP PDU has no outer length, so the
//!   transport must deliver each SCTP message whole. The SCTP receiver reads
//!   with `recvmsg` in a loop until the kernel sets `MSG_EOR`, into a growable
//!   buffer (tested with PDUs of 1 B to 1 MiB, across 4095/4096/4097 and
//!   65535/65536/65537 boundaries, in the kernel tier `tests/kernel/`).
//! * **PPID 70** (E2-CP) on every send; **any PPID accepted** on receive (OSC
//!   e2sim sends 0) and reported in [`E2Frame::ppid`].
//! * **Streams**: each send names its stream; receive reports it.
//! * **Association events** ([`TransportEvent::Up`], [`TransportEvent::Down`],
//!   [`TransportEvent::Shutdown`], [`TransportEvent::Restart`]) from the
//!   kernel's `SCTP_ASSOC_CHANGE` and `SCTP_SHUTDOWN_EVENT` notifications.
//!
//! ## Shape
//!
//! * [`E2Transport`]: one association, both directions, `send`/`recv`
//!   through `&mut self`. [`E2Transport::into_split`] gives an
//!   [`E2Sender`] (cloneable) and an [`E2Receiver`] so a reader task and a
//!   writer task run in parallel (full duplex: 100k indications/s must not
//!   wait behind a send).
//! * [`sctp`]: kernel SCTP, one-to-one style (`SOCK_STREAM`, `IPPROTO_SCTP`),
//!   IPv4 and IPv6: [`sctp::SctpListener`] (RIC side, default port
//!   [`DEFAULT_E2_PORT`] 36421) and [`sctp::SctpAssociation::connect`]
//!   (E2 node side).
//! * [`memory`]: [`memory::pair`], two connected in-memory ends over tokio
//!   channels with the same event semantics, for procedure tests in plain
//!   `cargo test`.
//!
//! Event order on every transport: `Up` first, then frames and
//! `Shutdown`/`Restart` as they happen, then one `Down`, after which
//! `recv` returns `Ok(None)` for good. `recv` is cancel-safe: a partially
//! read PDU stays buffered in the receiver, so it can sit in a `select!`.
//!
//! ## Why not sctp-rs
//!
//! The design card named the `sctp-rs` crate. Version 0.3.1 keeps its socket
//! fd private (`ConnectedSocket { inner: AsyncFd<RawFd> }`, no `AsRawFd`) and
//! its receive path reads into a fresh 4096-byte buffer per call without
//! reporting `MSG_EOR`: a PDU over 4 KiB arrives as several data items with
//! no boundary marker, and since APER E2AP PDUs carry no outer length they
//! cannot be reassembled. Nothing in its public API avoids this. It also
//! reports a kernel without SCTP as EBADF. So this module has its own small
//! socket layer: `socket2` creates, binds, listens, connects and accepts
//! (non-blocking); `libc` does `setsockopt(SOL_SCTP, ...)`, `recvmsg` (until
//! `MSG_EOR`, with `SCTP_RCVINFO` ancillary data and `MSG_NOTIFICATION`s) and
//! `sendmsg` (with an `SCTP_SNDINFO` for stream and PPID); tokio's `AsyncFd`
//! gives readiness. The unsafe code is confined to `sys.rs` (four syscall
//! wrappers, each with a `SAFETY:` note); all byte layouts are parsed by safe,
//! unit-tested functions in `wire.rs`.
//!
//! ## A kernel without SCTP
//!
//! Creating an SCTP socket where the kernel has no SCTP fails with
//! [`TransportError::SctpUnavailable`], whose message is exactly
//! `kernel SCTP not available: load the sctp module`.

mod error;
pub mod memory;
pub mod sctp;
mod sys;
pub(crate) mod wire;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;

pub use error::TransportError;

/// SCTP payload protocol identifier of E2AP, E2-CP (IANA): sent on every PDU.
pub const E2AP_PPID: u32 = 70;

/// Default E2 port (FlexRIC, srsRAN, OSC e2sim; the RIC-side listener).
pub const DEFAULT_E2_PORT: u16 = 36421;

/// Resolves an E2 address as operators write it: `ADDR` or `ADDR:PORT`,
/// IPv4, IPv6 with or without brackets, or a host name; the port defaults to
/// [`DEFAULT_E2_PORT`]. The error says what was expected.
pub fn resolve_e2_address(s: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
    let s = s.trim();
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let bare = s.strip_prefix('[').and_then(|x| x.strip_suffix(']')).unwrap_or(s);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_E2_PORT));
    }
    let with_port = if s.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        s.to_string()
    } else {
        format!("{s}:{DEFAULT_E2_PORT}")
    };
    match with_port.to_socket_addrs() {
        Ok(mut addrs) => addrs.next().ok_or_else(|| format!("{s:?} resolves to no address")),
        Err(e) => Err(format!("{s:?} is not IPv4/IPv6[:port] and does not resolve: {e}")),
    }
}

/// The port the OSC near-RT RIC E2 termination listens on in its deployments.
pub const OSC_E2T_PORT: u16 = 36422;

/// One E2AP PDU as carried by the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct E2Frame {
    /// SCTP stream id.
    pub stream: u16,
    /// SCTP payload protocol id (host order). 70 when we send; whatever the
    /// peer used when we receive (OSC e2sim: 0).
    pub ppid: u32,
    /// The whole PDU.
    pub payload: Bytes,
}

impl E2Frame {
    /// An E2AP frame (PPID 70) on `stream`.
    pub fn e2ap(stream: u16, payload: Bytes) -> Self {
        E2Frame { stream, ppid: E2AP_PPID, payload }
    }
}

/// Who is at the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    /// A kernel SCTP association with this primary peer address.
    Sctp(SocketAddr),
    /// An in-memory pair; the number identifies the pair within the process.
    Memory(u64),
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Sctp(a) => write!(f, "sctp://{a}"),
            Peer::Memory(n) => write!(f, "memory#{n}"),
        }
    }
}

/// Why an association went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownReason {
    /// `SCTP_COMM_LOST`: the peer aborted or stopped answering. `cause` is
    /// the SCTP error cause code (RFC 9260 §3.3.10; 12 = user-initiated
    /// abort), 0 if none.
    CommLost {
        /// SCTP error cause code.
        cause: u16,
    },
    /// `SCTP_SHUTDOWN_COMP`: a graceful shutdown finished.
    ShutdownComplete,
    /// `SCTP_CANT_STR_ASSOC`: the association could not be started.
    CannotStart {
        /// SCTP error cause code.
        cause: u16,
    },
    /// The socket reported a reset (ECONNRESET) without a notification.
    Reset,
    /// The other end closed (in-memory pair dropped, or end of file).
    Closed,
}

/// What [`E2Receiver::recv`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportEvent {
    /// A whole PDU.
    Frame(E2Frame),
    /// The association is established (`SCTP_COMM_UP`); always the first event.
    Up {
        /// The peer.
        peer: Peer,
        /// Outbound streams negotiated (sends must use `stream < outbound_streams`).
        outbound_streams: u16,
        /// Inbound streams negotiated.
        inbound_streams: u16,
    },
    /// The peer restarted the association (`SCTP_RESTART`): E2AP state
    /// must be reset as after a new E2 setup.
    Restart {
        /// Outbound streams after the restart.
        outbound_streams: u16,
        /// Inbound streams after the restart.
        inbound_streams: u16,
    },
    /// The peer started a graceful shutdown (`SCTP_SHUTDOWN_EVENT`); no new
    /// data will come, a `Down` follows.
    Shutdown,
    /// The association is gone; the last event.
    Down {
        /// Why.
        reason: DownReason,
    },
}

/// The sending half of an E2 transport.
pub trait E2Sender: Send {
    /// Send one whole frame (any stream, any PPID). Completes when the kernel
    /// (or the in-memory channel) has accepted the PDU, waiting for buffer
    /// space if needed (backpressure).
    fn send_frame(&mut self, frame: E2Frame) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Send one E2AP PDU (PPID 70) on `stream`.
    fn send(&mut self, stream: u16, pdu: Bytes) -> impl Future<Output = Result<(), TransportError>> + Send {
        self.send_frame(E2Frame::e2ap(stream, pdu))
    }
}

/// The receiving half of an E2 transport.
pub trait E2Receiver: Send {
    /// The next event; `Ok(None)` once the association is down and every
    /// event has been delivered. Cancel-safe.
    fn recv(&mut self) -> impl Future<Output = Result<Option<TransportEvent>, TransportError>> + Send;
}

/// One E2 association: send and receive, or split into halves.
///
/// Implemented by [`sctp::SctpAssociation`] and [`memory::MemTransport`];
/// procedure drivers are written against this trait and tested over
/// [`memory::pair`].
pub trait E2Transport: E2Sender + E2Receiver {
    /// The sending half; cloneable so several tasks may send.
    type Sender: E2Sender + Clone + 'static;
    /// The receiving half.
    type Receiver: E2Receiver + 'static;

    /// Who is at the other end.
    fn peer(&self) -> Peer;

    /// The local address of the association (kernel SCTP: the primary
    /// local address and port), when there is one.
    fn local(&self) -> Option<std::net::SocketAddr> {
        None
    }

    /// Split into halves that can live in different tasks.
    fn into_split(self) -> (Self::Sender, Self::Receiver);
}
