//! The one error type of the transport layer.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Everything that can go wrong in an E2 transport.
///
/// Errors carry the operation and address they concern, and the kernel's
/// `io::Error` as [`std::error::Error::source`]. Nothing a peer sends makes
/// the transport panic: malformed or oversized input becomes one of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// `socket(AF_INET[6], SOCK_STREAM, IPPROTO_SCTP)` failed because the
    /// kernel has no SCTP (module not loaded / not built, or blocked).
    /// The Display text is fixed: tests and operators match on it.
    #[error("kernel SCTP not available: load the sctp module")]
    SctpUnavailable {
        /// What `socket()` returned (typically EPROTONOSUPPORT).
        #[source]
        source: io::Error,
    },

    /// A socket call other than connect/send/recv failed (socket, bind,
    /// listen, accept, getsockname, ...).
    #[error("SCTP {op} failed{}: {source}", fmt_addr(.addr))]
    Socket {
        /// The call, e.g. "bind" or "listen".
        op: &'static str,
        /// The address involved, when there is one.
        addr: Option<SocketAddr>,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },

    /// `setsockopt`/`getsockopt` failed.
    #[error("SCTP socket option {option} failed: {source}")]
    SocketOption {
        /// The option, e.g. "SCTP_INITMSG".
        option: &'static str,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },

    /// Establishing an association failed.
    #[error("SCTP connect to {addr} failed: {source}")]
    Connect {
        /// The peer we tried.
        addr: SocketAddr,
        /// The kernel's error (ECONNREFUSED: nobody listens there).
        #[source]
        source: io::Error,
    },

    /// An operation did not finish in time.
    #[error("{op} timed out after {after:?}{}", fmt_last(.last))]
    Timeout {
        /// What timed out, e.g. "SCTP connect to 10.0.0.1:36421".
        op: String,
        /// The time allowed.
        after: Duration,
        /// The last underlying error, for retried operations.
        last: Option<String>,
    },

    /// The PDU was sent on a stream the association does not have
    /// (SCTP: `stream >= negotiated outbound streams`, the kernel says EINVAL).
    #[error("stream {stream} is not open on this association ({streams} outbound streams)")]
    InvalidStream {
        /// The stream asked for.
        stream: u16,
        /// Outbound streams known for the association (0 if not known yet).
        streams: u16,
    },

    /// A PDU to send is larger than the socket send buffer; SCTP sends a
    /// message whole or not at all, so the kernel refuses it (EMSGSIZE).
    /// Raise [`crate::transport::sctp::SctpOptions::send_buffer`] (and
    /// `net.core.wmem_max`, or run with CAP_NET_ADMIN for SO_SNDBUFFORCE).
    #[error(
        "PDU of {len} bytes does not fit the SCTP send buffer ({send_buffer} bytes): raise SctpOptions::send_buffer"
    )]
    PduTooLargeToSend {
        /// The PDU's size.
        len: usize,
        /// The socket's SO_SNDBUF.
        send_buffer: usize,
    },

    /// The peer sent a PDU larger than
    /// [`crate::transport::sctp::SctpOptions::max_pdu_size`]; it was read and
    /// discarded, and the association stays usable.
    #[error("received PDU of at least {len} bytes exceeds the limit of {max} bytes; discarded")]
    PduTooLargeReceived {
        /// Bytes received for the PDU before and while discarding.
        len: usize,
        /// The configured limit.
        max: usize,
    },

    /// Sending failed.
    #[error("SCTP send of {len} bytes on stream {stream} failed: {source}")]
    Send {
        /// The stream.
        stream: u16,
        /// The PDU's size.
        len: usize,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },

    /// Receiving failed.
    #[error("SCTP receive failed: {source}")]
    Recv {
        /// The kernel's error.
        #[source]
        source: io::Error,
    },

    /// The kernel handed us a notification we could not parse (truncated or
    /// inconsistent length). Reported, not fatal.
    #[error("malformed SCTP notification: {0}")]
    MalformedNotification(String),

    /// The association (or in-memory peer) is gone.
    #[error("transport closed")]
    Closed,
}

fn fmt_addr(addr: &Option<SocketAddr>) -> String {
    addr.map(|a| format!(" for {a}")).unwrap_or_default()
}

fn fmt_last(last: &Option<String>) -> String {
    last.as_ref().map(|l| format!(" (last error: {l})")).unwrap_or_default()
}

impl TransportError {
    /// True when the association can no longer carry PDUs (as opposed to a
    /// per-PDU problem such as [`TransportError::InvalidStream`]).
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            TransportError::InvalidStream { .. }
                | TransportError::PduTooLargeToSend { .. }
                | TransportError::PduTooLargeReceived { .. }
                | TransportError::MalformedNotification(_)
        )
    }
}
