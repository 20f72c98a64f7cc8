//! # qsafe-xfrm — kernel IPsec (XFRM) for E2 links
//!
//! The E2 link's SCTP association is protected by kernel ESP in transport
//! mode (`rfc4106(gcm(aes))`, AES-256-GCM). The rekey state machines
//! (qsafe-rekey) output data-plane operations; this crate executes them
//! through one API, [`DataPlane`], with three implementations:
//!
//! * [`BrokerClient`] — what the xApp and the E2 node use: a Unix-socket
//!   client of the privileged broker `qsafe-xfrm-broker` (the only process
//!   that needs `CAP_NET_ADMIN`); wire protocol in [`protocol`].
//! * [`DirectNetlink`] — talks NETLINK_XFRM itself (what the broker runs);
//!   messages built by [`netlink`] (sans-IO).
//! * [`MemoryDataPlane`] — no privileges: a model of the kernel for tests.
//!
//! A link is identified by `(local address, local port, peer address, peer
//! port, reqid)` ([`Link`]): one SCTP association. Port 0 means any port
//! ([`Link::host`]: every SCTP association between the two addresses), so
//! several associations between the same two addresses (an E2 node
//! simulator's gNBs towards one RIC) each get their own SAs and policies.
//! Per link: one ESP-required policy pair (in + out, SCTP between the two
//! endpoints, ESP transport template with the reqid) and any number of SAs
//! (each with its own SPI; make-before-break keeps old and new side by side).
//! See `docs/xfrm-broker.md`.

mod any;
pub mod client;
pub mod direct;
pub mod memory;
pub mod netlink;
pub mod protocol;
pub mod server;

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use zeroize::Zeroizing;

pub use any::AnyDataPlane;
pub use client::BrokerClient;
pub use direct::DirectNetlink;
pub use memory::MemoryDataPlane;

/// Key material length: AES-256 key (32 bytes) ‖ salt (4 bytes).
pub const KEYMAT_LEN: usize = 36;
/// Default anti-replay window (packets).
pub const DEFAULT_REPLAY_WINDOW: u32 = 128;
/// Largest anti-replay window accepted.
pub const MAX_REPLAY_WINDOW: u32 = 4096;
/// SPIs below this are reserved (RFC 4303: 1–255 are IANA-reserved).
pub const MIN_SPI: u32 = 256;

/// One E2 link's data-plane identity: the SCTP association's two endpoints
/// and the reqid. The ports go into the XFRM selectors of the link's SAs and
/// policies (port 0 = any port, selector mask 0), so links that share an
/// address pair but differ in a port are distinct kernel objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Link {
    /// This host's address of the SCTP association.
    pub local: IpAddr,
    /// The peer's address.
    pub peer: IpAddr,
    /// The reqid tying the link's SAs to its policy template (non-zero).
    pub reqid: u32,
    /// This host's SCTP port of the association (0 = any).
    pub local_port: u16,
    /// The peer's SCTP port (0 = any).
    pub peer_port: u16,
}

impl Link {
    /// A host-wide link: every SCTP association between the two addresses
    /// (both ports 0 = any).
    pub fn host(local: IpAddr, peer: IpAddr, reqid: u32) -> Link {
        Link { local, peer, reqid, local_port: 0, peer_port: 0 }
    }

    /// A link for one SCTP association: `local:local_port` ↔ `peer:peer_port`.
    pub fn association(local: SocketAddr, peer: SocketAddr, reqid: u32) -> Link {
        Link { local: local.ip(), peer: peer.ip(), reqid, local_port: local.port(), peer_port: peer.port() }
    }

    /// The same link with these ports (0 = any).
    pub fn with_ports(self, local_port: u16, peer_port: u16) -> Link {
        Link { local_port, peer_port, ..self }
    }

    /// Does the link cover every association between its addresses (both ports any)?
    pub fn is_host_wide(&self) -> bool {
        self.local_port == 0 && self.peer_port == 0
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn end(f: &mut fmt::Formatter<'_>, a: &IpAddr, port: u16) -> fmt::Result {
            match (a, port) {
                (_, 0) => write!(f, "{a}"),
                (IpAddr::V4(_), p) => write!(f, "{a}:{p}"),
                (IpAddr::V6(_), p) => write!(f, "[{a}]:{p}"),
            }
        }
        end(f, &self.local, self.local_port)?;
        f.write_str("<->")?;
        end(f, &self.peer, self.peer_port)?;
        write!(f, " reqid {}", self.reqid)
    }
}

/// Which way an SA carries traffic, seen from this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// peer → local.
    Inbound,
    /// local → peer.
    Outbound,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Inbound => "in",
            Direction::Outbound => "out",
        })
    }
}

/// Byte and packet limits of an SA (`u64::MAX` = none). At the soft limit
/// the kernel announces expiry (`XFRM_MSG_EXPIRE`); at the hard limit it
/// deletes the SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    /// Soft byte limit.
    pub soft_bytes: u64,
    /// Hard byte limit.
    pub hard_bytes: u64,
    /// Soft packet limit.
    pub soft_packets: u64,
    /// Hard packet limit.
    pub hard_packets: u64,
}

impl Lifetime {
    /// No limits.
    pub const UNLIMITED: Lifetime =
        Lifetime { soft_bytes: u64::MAX, hard_bytes: u64::MAX, soft_packets: u64::MAX, hard_packets: u64::MAX };

    /// A byte-limit backstop: the kernel deletes the SA after `hard_bytes`
    /// (traffic then stops: the ESP-required policy stays, fail-closed) and
    /// signals a soft expiry at three quarters of it. No packet limit.
    /// `None`: [`Lifetime::UNLIMITED`].
    pub fn byte_backstop(hard_bytes: Option<u64>) -> Lifetime {
        match hard_bytes {
            Some(hard) => Lifetime { soft_bytes: hard / 4 * 3, hard_bytes: hard, ..Lifetime::UNLIMITED },
            None => Lifetime::UNLIMITED,
        }
    }

    /// Soft limits do not exceed hard limits.
    pub fn is_consistent(&self) -> bool {
        self.soft_bytes <= self.hard_bytes && self.soft_packets <= self.hard_packets
    }
}

impl Default for Lifetime {
    fn default() -> Self {
        Lifetime::UNLIMITED
    }
}

/// One SA to install.
pub struct SaRequest {
    /// The link.
    pub link: Link,
    /// Direction of the SA.
    pub direction: Direction,
    /// SPI (host order, ≥ [`MIN_SPI`]).
    pub spi: u32,
    /// AES-256 key ‖ 4-byte salt; zeroized when dropped.
    pub keymat: Zeroizing<[u8; KEYMAT_LEN]>,
    /// Anti-replay window (packets, ≤ [`MAX_REPLAY_WINDOW`]).
    pub replay_window: u32,
    /// Byte / packet limits.
    pub lifetime: Lifetime,
}

impl SaRequest {
    /// An SA with the default replay window and no limits.
    pub fn new(link: Link, direction: Direction, spi: u32, keymat: Zeroizing<[u8; KEYMAT_LEN]>) -> Self {
        SaRequest { link, direction, spi, keymat, replay_window: DEFAULT_REPLAY_WINDOW, lifetime: Lifetime::UNLIMITED }
    }
}

impl fmt::Debug for SaRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaRequest")
            .field("link", &self.link)
            .field("direction", &self.direction)
            .field("spi", &format_args!("{:#x}", self.spi))
            .field("keymat", &"<redacted>")
            .field("replay_window", &self.replay_window)
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

/// An SA's current counters (`xfrm_lifetime_cur`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SaCounters {
    /// Bytes protected so far.
    pub bytes: u64,
    /// Packets protected so far.
    pub packets: u64,
    /// When the SA was added (seconds since the Unix epoch).
    pub add_time: u64,
}

/// Why a data-plane operation failed. Nothing was changed by a failed
/// operation (except as noted for [`DataPlaneError::Kernel`] on multi-step
/// operations, which roll back what they did).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataPlaneError {
    /// An SA with this SPI exists already (on this host's table).
    #[error("SA with SPI {spi:#x} exists already")]
    Exists {
        /// The SPI.
        spi: u32,
    },
    /// No such SA (or not one this data plane installed).
    #[error("no SA with SPI {spi:#x} ({direction}) on link {link}")]
    NotFound {
        /// The link.
        link: Link,
        /// The direction.
        direction: Direction,
        /// The SPI.
        spi: u32,
    },
    /// The request is invalid (bad SPI, key length, mixed address families, …).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The broker refused the request or the caller (peer credentials,
    /// addresses outside `--allow-net`, …).
    #[error("refused by the broker: {0}")]
    Refused(String),
    /// The kernel rejected a netlink request.
    #[error("kernel: {op}: {message} (errno {errno})")]
    Kernel {
        /// The operation (`NEWSA`, `DELPOLICY`, …).
        op: String,
        /// The errno.
        errno: i32,
        /// Its text.
        message: String,
    },
    /// The broker's socket or the netlink socket failed.
    #[error("I/O: {0}")]
    Io(String),
    /// The broker answered something this client does not understand.
    #[error("protocol: {0}")]
    Protocol(String),
}

impl DataPlaneError {
    /// A [`DataPlaneError::Kernel`] for `errno`.
    pub fn kernel(op: &str, errno: i32) -> Self {
        DataPlaneError::Kernel { op: op.into(), errno, message: std::io::Error::from_raw_os_error(errno).to_string() }
    }
}

/// Checks what every implementation checks before touching anything.
pub fn check_link(link: &Link) -> Result<(), DataPlaneError> {
    if link.local.is_ipv4() != link.peer.is_ipv4() {
        return Err(DataPlaneError::Invalid(format!("mixed address families in {link}")));
    }
    if link.local == link.peer {
        return Err(DataPlaneError::Invalid(format!("local and peer address are the same ({})", link.local)));
    }
    if link.reqid == 0 {
        return Err(DataPlaneError::Invalid("reqid 0 (matches any SA in a template)".into()));
    }
    Ok(())
}

/// Checks an SA request (link, SPI, window, lifetimes).
pub fn check_sa(req: &SaRequest) -> Result<(), DataPlaneError> {
    check_link(&req.link)?;
    if req.spi < MIN_SPI {
        return Err(DataPlaneError::Invalid(format!("SPI {:#x} is reserved (< 256)", req.spi)));
    }
    if req.replay_window > MAX_REPLAY_WINDOW {
        return Err(DataPlaneError::Invalid(format!("replay window {} > {MAX_REPLAY_WINDOW}", req.replay_window)));
    }
    if !req.lifetime.is_consistent() {
        return Err(DataPlaneError::Invalid("soft lifetime limit above the hard limit".into()));
    }
    Ok(())
}

/// The data-plane API the rekey drivers use.
///
/// * `install_sa` — add one SA (fails with [`DataPlaneError::Exists`] on a
///   duplicate SPI). For make-before-break install the new inbound SA, then
///   the new outbound SA (the kernel prefers the newest SA for outbound),
///   and delete the old ones after a grace period.
/// * `delete_sa` / `sa_counters` — by link, direction and SPI.
/// * `require_esp` — the ESP-required policy pair for the link (idempotent):
///   from then on SCTP between the addresses without a matching SA is dropped.
/// * `release_esp` — removes that policy pair (idempotent).
/// * `delete_all` — deletes every SA of the link this data plane installed;
///   the policy stays (the link is then fail-closed), see `release_esp`.
pub trait DataPlane: Send + Sync {
    /// Adds one SA. Key material is zeroized when `req` is dropped.
    fn install_sa(&self, req: SaRequest) -> impl Future<Output = Result<(), DataPlaneError>> + Send;
    /// Deletes one SA.
    fn delete_sa(
        &self,
        link: Link,
        direction: Direction,
        spi: u32,
    ) -> impl Future<Output = Result<(), DataPlaneError>> + Send;
    /// Reads one SA's counters.
    fn sa_counters(
        &self,
        link: Link,
        direction: Direction,
        spi: u32,
    ) -> impl Future<Output = Result<SaCounters, DataPlaneError>> + Send;
    /// Installs the ESP-required policy pair of the link.
    fn require_esp(&self, link: Link) -> impl Future<Output = Result<(), DataPlaneError>> + Send;
    /// Removes the ESP-required policy pair of the link.
    fn release_esp(&self, link: Link) -> impl Future<Output = Result<(), DataPlaneError>> + Send;
    /// Deletes every SA of the link; returns how many.
    fn delete_all(&self, link: Link) -> impl Future<Output = Result<u32, DataPlaneError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_backstop_sets_soft_at_three_quarters_and_no_packet_limit() {
        let l = Lifetime::byte_backstop(Some(16_384));
        assert_eq!((l.soft_bytes, l.hard_bytes), (12_288, 16_384));
        assert_eq!((l.soft_packets, l.hard_packets), (u64::MAX, u64::MAX));
        assert!(l.is_consistent());
        assert_eq!(Lifetime::byte_backstop(None), Lifetime::UNLIMITED);
    }

    #[test]
    fn link_constructors_and_display() {
        let host = Link::host("10.99.0.1".parse().unwrap(), "10.99.0.2".parse().unwrap(), 7);
        assert!(host.is_host_wide());
        assert_eq!((host.local_port, host.peer_port), (0, 0));
        assert_eq!(host.to_string(), "10.99.0.1<->10.99.0.2 reqid 7");
        let a = Link::association("10.99.0.1:40001".parse().unwrap(), "10.99.0.2:36421".parse().unwrap(), 7);
        assert_eq!(a, host.with_ports(40001, 36421));
        assert_ne!(a, host);
        assert!(!a.is_host_wide());
        assert_eq!(a.to_string(), "10.99.0.1:40001<->10.99.0.2:36421 reqid 7");
        let v6 = Link::association("[fd00:99::1]:0".parse().unwrap(), "[fd00:99::2]:36421".parse().unwrap(), 8);
        assert_eq!(v6.to_string(), "fd00:99::1<->[fd00:99::2]:36421 reqid 8");
        assert!(check_link(&a).is_ok());
    }
}
