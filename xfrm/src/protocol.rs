//! The broker's wire protocol, version 2 (pure encode/decode + validation).
//!
//! A Unix stream socket carries frames: a `u32` big-endian length (1 ..=
//! [`MAX_FRAME`]) then that many bytes of body. The client sends one request
//! frame and reads one response frame, any number of times per connection.
//!
//! Request body: `version (u8 = 2) ‖ op (u8) ‖ fields`, every integer
//! big-endian, no padding, nothing after the last field:
//!
//! | op | request | fields |
//! |---|---|---|
//! | 0 | Ping | — |
//! | 1 | InstallSa | link ‖ dir ‖ spi u32 ‖ replay_window u32 ‖ soft_bytes u64 ‖ hard_bytes u64 ‖ soft_packets u64 ‖ hard_packets u64 ‖ key_len u8 (= 36) ‖ key |
//! | 2 | DeleteSa | link ‖ dir ‖ spi u32 |
//! | 3 | SaCounters | link ‖ dir ‖ spi u32 |
//! | 4 | RequireEsp | link |
//! | 5 | ReleaseEsp | link |
//! | 6 | DeleteAll | link |
//!
//! `link = family u8 (4 | 6) ‖ local (4 | 16 bytes) ‖ peer (4 | 16) ‖ reqid u32
//! ‖ local_port u16 ‖ peer_port u16` (SCTP ports, 0 = any port),
//! `dir = u8 (0 inbound, 1 outbound)`. There is deliberately no field for
//! the protocol, the mode, the algorithm, prefix lengths or port masks: the
//! broker only ever creates ESP transport SAs with `rfc4106(gcm(aes))` and
//! SCTP selectors between two full-length addresses, each port exact or any.
//!
//! Version 1 (the same without the two ports: host-wide links only) is
//! refused with [`ErrorCode::Version`] (a v1 client reads the v2 answer as
//! "broker speaks protocol version 2"), so an old client cannot silently
//! install a host-wide policy that would override per-association ones.
//!
//! Response body: `version ‖ status`, then
//! `0 Ok`, `1 Counters (bytes u64 ‖ packets u64 ‖ add_time u64)`,
//! `2 Count (u32)`, or `0x80 Error (code u8 ‖ errno i32 ‖ len u16 ‖ UTF-8 message)`
//! with codes in [`ErrorCode`].
//!
//! [`decode_request`] validates everything before anything is done: a
//! request that fails it changes nothing (see [`RequestError`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use zeroize::Zeroizing;

use crate::{DataPlaneError, Direction, KEYMAT_LEN, Lifetime, Link, MAX_REPLAY_WINDOW, MIN_SPI, SaCounters, SaRequest};

/// Protocol version (2: links carry SCTP ports; 1 is refused).
pub const VERSION: u8 = 2;
/// Largest frame body accepted (either way).
pub const MAX_FRAME: usize = 512;
/// Longest error message sent.
pub const MAX_MESSAGE: usize = 256;

/// Request op codes.
pub mod op {
    /// Ping.
    pub const PING: u8 = 0;
    /// Install an SA.
    pub const INSTALL_SA: u8 = 1;
    /// Delete an SA.
    pub const DELETE_SA: u8 = 2;
    /// Read an SA's counters.
    pub const SA_COUNTERS: u8 = 3;
    /// Install the ESP-required policies.
    pub const REQUIRE_ESP: u8 = 4;
    /// Remove them.
    pub const RELEASE_ESP: u8 = 5;
    /// Delete every SA of a link.
    pub const DELETE_ALL: u8 = 6;
}

/// A decoded, validated request.
#[derive(Debug)]
pub enum Request {
    /// Liveness check.
    Ping,
    /// Install an SA.
    InstallSa(SaRequest),
    /// Delete an SA.
    DeleteSa {
        /// Link.
        link: Link,
        /// Direction.
        direction: Direction,
        /// SPI.
        spi: u32,
    },
    /// Read an SA's counters.
    SaCounters {
        /// Link.
        link: Link,
        /// Direction.
        direction: Direction,
        /// SPI.
        spi: u32,
    },
    /// Install the link's ESP-required policy pair.
    RequireEsp(Link),
    /// Remove it.
    ReleaseEsp(Link),
    /// Delete every SA of the link.
    DeleteAll(Link),
}

impl Request {
    /// Short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Ping => "ping",
            Request::InstallSa(_) => "install_sa",
            Request::DeleteSa { .. } => "delete_sa",
            Request::SaCounters { .. } => "sa_counters",
            Request::RequireEsp(_) => "require_esp",
            Request::ReleaseEsp(_) => "release_esp",
            Request::DeleteAll(_) => "delete_all",
        }
    }
}

/// Why a request was refused before anything was done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The body ended inside a field.
    #[error("truncated request (in {0})")]
    Truncated(&'static str),
    /// Bytes after the last field.
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    /// Frame length 0 or above [`MAX_FRAME`].
    #[error("frame length {0} outside 1..={MAX_FRAME}")]
    BadFrameLength(usize),
    /// Another protocol version.
    #[error("unsupported protocol version {0} (this broker speaks {VERSION})")]
    UnsupportedVersion(u8),
    /// Unknown op code.
    #[error("unknown op {0}")]
    UnknownOp(u8),
    /// Address family not 4 or 6.
    #[error("unknown address family {0}")]
    BadFamily(u8),
    /// Direction not 0 or 1.
    #[error("unknown direction {0}")]
    BadDirection(u8),
    /// SPI below 256.
    #[error("SPI {0:#x} is reserved (< 256)")]
    SpiReserved(u32),
    /// Key not exactly 36 bytes.
    #[error("key length {0}, expected {KEYMAT_LEN}")]
    BadKeyLength(u8),
    /// reqid 0.
    #[error("reqid 0 is not allowed")]
    ZeroReqid,
    /// local == peer.
    #[error("local and peer address are the same")]
    SameAddress,
    /// Unspecified, multicast, broadcast or IPv4-mapped address.
    #[error("address {0} cannot be an SCTP endpoint")]
    BadAddress(IpAddr),
    /// Address outside every `--allow-net` prefix.
    #[error("address {0} is outside the allowed networks")]
    AddressNotAllowed(IpAddr),
    /// Replay window too large.
    #[error("replay window {0} > {MAX_REPLAY_WINDOW}")]
    ReplayWindowTooLarge(u32),
    /// A soft limit above its hard limit.
    #[error("soft lifetime limit above the hard limit")]
    SoftAboveHard,
    /// A hard limit of zero (the SA would expire at once).
    #[error("hard lifetime limit 0")]
    ZeroHardLimit,
}

impl RequestError {
    /// The response code: [`ErrorCode::NotAllowed`] for policy refusals,
    /// [`ErrorCode::Malformed`] otherwise.
    pub fn code(&self) -> ErrorCode {
        match self {
            RequestError::AddressNotAllowed(_) => ErrorCode::NotAllowed,
            RequestError::UnsupportedVersion(_) => ErrorCode::Version,
            _ => ErrorCode::Malformed,
        }
    }
}

/// An IP prefix (`10.99.0.0/24`, `fd00:99::/64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

impl Prefix {
    /// Parses `addr/len` (or a bare address = full length).
    pub fn parse(s: &str) -> Result<Prefix, String> {
        let (a, l) = s.split_once('/').unwrap_or((s, ""));
        let addr: IpAddr = a.trim().parse().map_err(|_| format!("{s}: not an IP prefix"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = if l.is_empty() { max } else { l.trim().parse::<u8>().map_err(|_| format!("{s}: bad length"))? };
        if len > max {
            return Err(format!("{s}: prefix length above {max}"));
        }
        Ok(Prefix { addr, len })
    }

    /// Does the prefix contain `ip`?
    pub fn contains(&self, ip: &IpAddr) -> bool {
        fn bits(a: &IpAddr) -> u128 {
            match a {
                IpAddr::V4(v) => u128::from(u32::from(*v)) << 96,
                IpAddr::V6(v) => u128::from(*v),
            }
        }
        if self.addr.is_ipv4() != ip.is_ipv4() {
            return false;
        }
        if self.len == 0 {
            return true;
        }
        let mask = u128::MAX << (128 - u32::from(self.len));
        bits(&self.addr) & mask == bits(ip) & mask
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Where the broker lets SAs and policies be created.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    /// Both addresses of a link must be in one of these (empty: nothing allowed).
    pub nets: Vec<Prefix>,
}

impl AllowList {
    /// Is `ip` allowed?
    pub fn allows(&self, ip: &IpAddr) -> bool {
        self.nets.iter().any(|p| p.contains(ip))
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], RequestError> {
        if self.buf.len() < n {
            return Err(RequestError::Truncated(what));
        }
        let (h, t) = self.buf.split_at(n);
        self.buf = t;
        Ok(h)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, RequestError> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, RequestError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, RequestError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, RequestError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    fn addr(&mut self, family: u8, what: &'static str) -> Result<IpAddr, RequestError> {
        Ok(if family == 4 {
            let b = self.take(4, what)?;
            IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        } else {
            let b = self.take(16, what)?;
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            IpAddr::V6(Ipv6Addr::from(a))
        })
    }
    fn finish(&self) -> Result<(), RequestError> {
        if self.buf.is_empty() { Ok(()) } else { Err(RequestError::TrailingBytes(self.buf.len())) }
    }
}

fn endpoint_ok(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !(a.is_unspecified() || a.is_multicast() || a.is_broadcast()),
        IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast() || a.to_ipv4_mapped().is_some()),
    }
}

fn read_link(r: &mut Reader<'_>, allow: &AllowList) -> Result<Link, RequestError> {
    let family = r.u8("family")?;
    if family != 4 && family != 6 {
        return Err(RequestError::BadFamily(family));
    }
    let local = r.addr(family, "local address")?;
    let peer = r.addr(family, "peer address")?;
    let reqid = r.u32("reqid")?;
    let local_port = r.u16("local port")?;
    let peer_port = r.u16("peer port")?;
    for a in [&local, &peer] {
        if !endpoint_ok(a) {
            return Err(RequestError::BadAddress(*a));
        }
    }
    if local == peer {
        return Err(RequestError::SameAddress);
    }
    if reqid == 0 {
        return Err(RequestError::ZeroReqid);
    }
    for a in [&local, &peer] {
        if !allow.allows(a) {
            return Err(RequestError::AddressNotAllowed(*a));
        }
    }
    // The ports need no allow-list check: a port only narrows the selector
    // (port 0 = any, the host-wide link the addresses already allow).
    Ok(Link { local, peer, reqid, local_port, peer_port })
}

fn read_dir_spi(r: &mut Reader<'_>) -> Result<(Direction, u32), RequestError> {
    let direction = match r.u8("direction")? {
        0 => Direction::Inbound,
        1 => Direction::Outbound,
        d => return Err(RequestError::BadDirection(d)),
    };
    let spi = r.u32("spi")?;
    if spi < MIN_SPI {
        return Err(RequestError::SpiReserved(spi));
    }
    Ok((direction, spi))
}

/// Decodes and validates one request body. Pure: no I/O, no state.
pub fn decode_request(body: &[u8], allow: &AllowList) -> Result<Request, RequestError> {
    if body.is_empty() || body.len() > MAX_FRAME {
        return Err(RequestError::BadFrameLength(body.len()));
    }
    let mut r = Reader { buf: body };
    let version = r.u8("version")?;
    if version != VERSION {
        return Err(RequestError::UnsupportedVersion(version));
    }
    let opcode = r.u8("op")?;
    let req = match opcode {
        op::PING => Request::Ping,
        op::INSTALL_SA => {
            let link = read_link(&mut r, allow)?;
            let (direction, spi) = read_dir_spi(&mut r)?;
            let replay_window = r.u32("replay window")?;
            let lifetime = Lifetime {
                soft_bytes: r.u64("soft bytes")?,
                hard_bytes: r.u64("hard bytes")?,
                soft_packets: r.u64("soft packets")?,
                hard_packets: r.u64("hard packets")?,
            };
            let key_len = r.u8("key length")?;
            if usize::from(key_len) != KEYMAT_LEN {
                return Err(RequestError::BadKeyLength(key_len));
            }
            let mut keymat = Zeroizing::new([0u8; KEYMAT_LEN]);
            keymat.copy_from_slice(r.take(KEYMAT_LEN, "key")?);
            if replay_window > MAX_REPLAY_WINDOW {
                return Err(RequestError::ReplayWindowTooLarge(replay_window));
            }
            if lifetime.hard_bytes == 0 || lifetime.hard_packets == 0 {
                return Err(RequestError::ZeroHardLimit);
            }
            if !lifetime.is_consistent() {
                return Err(RequestError::SoftAboveHard);
            }
            Request::InstallSa(SaRequest { link, direction, spi, keymat, replay_window, lifetime })
        }
        op::DELETE_SA | op::SA_COUNTERS => {
            let link = read_link(&mut r, allow)?;
            let (direction, spi) = read_dir_spi(&mut r)?;
            if opcode == op::DELETE_SA {
                Request::DeleteSa { link, direction, spi }
            } else {
                Request::SaCounters { link, direction, spi }
            }
        }
        op::REQUIRE_ESP => Request::RequireEsp(read_link(&mut r, allow)?),
        op::RELEASE_ESP => Request::ReleaseEsp(read_link(&mut r, allow)?),
        op::DELETE_ALL => Request::DeleteAll(read_link(&mut r, allow)?),
        other => return Err(RequestError::UnknownOp(other)),
    };
    r.finish()?;
    Ok(req)
}

fn put_link(out: &mut Vec<u8>, link: &Link) {
    match (link.local, link.peer) {
        (IpAddr::V4(l), IpAddr::V4(p)) => {
            out.push(4);
            out.extend_from_slice(&l.octets());
            out.extend_from_slice(&p.octets());
        }
        (l, p) => {
            // Mixed families cannot be encoded; IPv4 in a v6 link becomes
            // IPv4-mapped, which the broker refuses.
            let v6 = |a: IpAddr| match a {
                IpAddr::V4(v) => v.to_ipv6_mapped(),
                IpAddr::V6(v) => v,
            };
            out.push(6);
            out.extend_from_slice(&v6(l).octets());
            out.extend_from_slice(&v6(p).octets());
        }
    }
    out.extend_from_slice(&link.reqid.to_be_bytes());
    out.extend_from_slice(&link.local_port.to_be_bytes());
    out.extend_from_slice(&link.peer_port.to_be_bytes());
}

fn put_dir(out: &mut Vec<u8>, d: Direction) {
    out.push(match d {
        Direction::Inbound => 0,
        Direction::Outbound => 1,
    });
}

/// Encodes a request body (zeroized on drop: it may hold a key).
pub fn encode_request(req: &Request) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(128));
    out.push(VERSION);
    match req {
        Request::Ping => out.push(op::PING),
        Request::InstallSa(sa) => {
            out.push(op::INSTALL_SA);
            put_link(&mut out, &sa.link);
            put_dir(&mut out, sa.direction);
            out.extend_from_slice(&sa.spi.to_be_bytes());
            out.extend_from_slice(&sa.replay_window.to_be_bytes());
            for v in
                [sa.lifetime.soft_bytes, sa.lifetime.hard_bytes, sa.lifetime.soft_packets, sa.lifetime.hard_packets]
            {
                out.extend_from_slice(&v.to_be_bytes());
            }
            out.push(KEYMAT_LEN as u8);
            out.extend_from_slice(&sa.keymat[..]);
        }
        Request::DeleteSa { link, direction, spi } | Request::SaCounters { link, direction, spi } => {
            out.push(if matches!(req, Request::DeleteSa { .. }) { op::DELETE_SA } else { op::SA_COUNTERS });
            put_link(&mut out, link);
            put_dir(&mut out, *direction);
            out.extend_from_slice(&spi.to_be_bytes());
        }
        Request::RequireEsp(link) | Request::ReleaseEsp(link) | Request::DeleteAll(link) => {
            out.push(match req {
                Request::RequireEsp(_) => op::REQUIRE_ESP,
                Request::ReleaseEsp(_) => op::RELEASE_ESP,
                _ => op::DELETE_ALL,
            });
            put_link(&mut out, link);
        }
    }
    out
}

/// Error codes of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ErrorCode {
    /// The request did not decode or failed validation.
    Malformed = 1,
    /// The caller or the request is not allowed (peer credentials, addresses).
    NotAllowed = 2,
    /// SA exists already.
    Exists = 3,
    /// No such SA installed by the broker.
    NotFound = 4,
    /// The kernel refused (errno set).
    Kernel = 5,
    /// Broker-internal failure.
    Internal = 6,
    /// Unsupported protocol version.
    Version = 7,
}

impl ErrorCode {
    fn from_u8(v: u8) -> Option<ErrorCode> {
        Some(match v {
            1 => ErrorCode::Malformed,
            2 => ErrorCode::NotAllowed,
            3 => ErrorCode::Exists,
            4 => ErrorCode::NotFound,
            5 => ErrorCode::Kernel,
            6 => ErrorCode::Internal,
            7 => ErrorCode::Version,
            _ => return None,
        })
    }
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Done.
    Ok,
    /// An SA's counters.
    Counters(SaCounters),
    /// How many objects an operation removed.
    Count(u32),
    /// Refused or failed; nothing changed.
    Error {
        /// Class.
        code: ErrorCode,
        /// errno for [`ErrorCode::Kernel`], else 0.
        errno: i32,
        /// Human-readable reason (never contains key material).
        message: String,
    },
}

impl Response {
    /// The response for a data-plane error.
    pub fn from_error(e: &DataPlaneError) -> Response {
        let (code, errno) = match e {
            DataPlaneError::Exists { .. } => (ErrorCode::Exists, 0),
            DataPlaneError::NotFound { .. } => (ErrorCode::NotFound, 0),
            DataPlaneError::Invalid(_) => (ErrorCode::Malformed, 0),
            DataPlaneError::Refused(_) => (ErrorCode::NotAllowed, 0),
            DataPlaneError::Kernel { errno, .. } => (ErrorCode::Kernel, *errno),
            DataPlaneError::Io(_) | DataPlaneError::Protocol(_) => (ErrorCode::Internal, 0),
        };
        Response::Error { code, errno, message: e.to_string() }
    }

    /// The response for a refused request.
    pub fn from_request_error(e: &RequestError) -> Response {
        Response::Error { code: e.code(), errno: 0, message: e.to_string() }
    }
}

/// Encodes a response body.
pub fn encode_response(r: &Response) -> Vec<u8> {
    let mut out = vec![VERSION];
    match r {
        Response::Ok => out.push(0),
        Response::Counters(c) => {
            out.push(1);
            for v in [c.bytes, c.packets, c.add_time] {
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
        Response::Count(n) => {
            out.push(2);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Response::Error { code, errno, message } => {
            out.push(0x80);
            out.push(*code as u8);
            out.extend_from_slice(&errno.to_be_bytes());
            let mut end = message.len().min(MAX_MESSAGE);
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            out.extend_from_slice(&(end as u16).to_be_bytes());
            out.extend_from_slice(&message.as_bytes()[..end]);
        }
    }
    out
}

/// Decodes a response body.
pub fn decode_response(body: &[u8]) -> Result<Response, String> {
    let mut r = Reader { buf: body };
    let e = |x: RequestError| x.to_string();
    let version = r.u8("version").map_err(e)?;
    if version != VERSION {
        return Err(format!("broker speaks protocol version {version}, this client {VERSION}"));
    }
    let resp = match r.u8("status").map_err(e)? {
        0 => Response::Ok,
        1 => Response::Counters(SaCounters {
            bytes: r.u64("bytes").map_err(e)?,
            packets: r.u64("packets").map_err(e)?,
            add_time: r.u64("add_time").map_err(e)?,
        }),
        2 => Response::Count(r.u32("count").map_err(e)?),
        0x80 => {
            let code = r.u8("code").map_err(e)?;
            let code = ErrorCode::from_u8(code).ok_or_else(|| format!("unknown error code {code}"))?;
            let errno = r.u32("errno").map_err(e)? as i32;
            let b = r.take(2, "length").map_err(e)?;
            let len = usize::from(u16::from_be_bytes([b[0], b[1]]));
            let message = String::from_utf8_lossy(r.take(len, "message").map_err(e)?).into_owned();
            Response::Error { code, errno, message }
        }
        s => return Err(format!("unknown response status {s}")),
    };
    r.finish().map_err(e)?;
    Ok(resp)
}

/// Prefixes a body with its length.
pub fn frame(body: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(body.len() + 4));
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Reads one frame body (zeroized on drop); `Ok(None)` at a clean EOF
/// before the length.
pub async fn read_frame<R: tokio::io::AsyncRead + Unpin>(
    r: &mut R,
) -> std::io::Result<Result<Option<Zeroizing<Vec<u8>>>, RequestError>> {
    use tokio::io::AsyncReadExt;
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(Ok(None)),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 || len > MAX_FRAME {
        return Ok(Err(RequestError::BadFrameLength(len)));
    }
    let mut body = Zeroizing::new(vec![0u8; len]);
    r.read_exact(&mut body).await?;
    Ok(Ok(Some(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow() -> AllowList {
        AllowList { nets: vec![Prefix::parse("10.99.0.0/24").unwrap(), Prefix::parse("fd00:99::/64").unwrap()] }
    }
    /// One association (10.99.0.1:40001 <-> 10.99.0.2:36421).
    fn link4() -> Link {
        Link::association("10.99.0.1:40001".parse().unwrap(), "10.99.0.2:36421".parse().unwrap(), 5)
    }
    /// Host-wide (any port).
    fn link6() -> Link {
        Link::host("fd00:99::1".parse().unwrap(), "fd00:99::2".parse().unwrap(), 6)
    }
    fn install(link: Link) -> Vec<u8> {
        let mut sa = SaRequest::new(link, Direction::Outbound, 0x1001, Zeroizing::new([0x5A; 36]));
        sa.lifetime = Lifetime { soft_bytes: 10, hard_bytes: 20, soft_packets: 1, hard_packets: 2 };
        encode_request(&Request::InstallSa(sa)).to_vec()
    }

    #[test]
    fn roundtrip_every_request() {
        let reqs = vec![
            Request::Ping,
            Request::InstallSa(SaRequest::new(link4(), Direction::Inbound, 256, Zeroizing::new([1; 36]))),
            Request::InstallSa(SaRequest::new(link6(), Direction::Outbound, u32::MAX, Zeroizing::new([2; 36]))),
            Request::DeleteSa { link: link4(), direction: Direction::Outbound, spi: 0x300 },
            Request::SaCounters { link: link6(), direction: Direction::Inbound, spi: 0x301 },
            Request::RequireEsp(link4()),
            Request::ReleaseEsp(link6()),
            Request::DeleteAll(link4()),
            Request::RequireEsp(link4().with_ports(0, 36421)),
            Request::RequireEsp(Link::host("10.99.0.1".parse().unwrap(), "10.99.0.2".parse().unwrap(), 5)),
            Request::DeleteAll(link6().with_ports(36421, 65535)),
        ];
        for r in reqs {
            let bytes = encode_request(&r);
            let back = decode_request(&bytes, &allow()).unwrap_or_else(|e| panic!("{r:?}: {e}"));
            assert_eq!(encode_request(&back), bytes, "{r:?}");
            assert_eq!(format!("{back:?}"), format!("{r:?}"));
        }
        // the install body: 2 + 17 (link4) + 1 + 4 + 4 + 32 + 1 + 36
        assert_eq!(install(link4()).len(), 97);
        // the link: family, local, peer, reqid, local port, peer port (big-endian)
        assert_eq!(&install(link4())[2..19], &[4, 10, 99, 0, 1, 10, 99, 0, 2, 0, 0, 0, 5, 0x9c, 0x41, 0x8e, 0x45]);
        assert_eq!(encode_request(&Request::RequireEsp(link6())).len(), 2 + 41);
        assert!(!format!("{:?}", decode_request(&install(link4()), &allow()).unwrap()).contains("5a"));
    }

    /// A table of bad requests, each refused with the right error.
    #[test]
    fn bad_requests_are_refused() {
        let good = install(link4());
        // offsets in an IPv4 install body
        const FAMILY: usize = 2;
        const LOCAL: usize = 3;
        const PEER: usize = 7;
        const REQID: usize = 11;
        const DIR: usize = 19;
        const SPI: usize = 20;
        const WINDOW: usize = 24;
        const SOFT_BYTES: usize = 28;
        const HARD_BYTES: usize = 36;
        const HARD_PACKETS: usize = 52;
        const KEYLEN: usize = 60;
        let with = |at: usize, bytes: &[u8]| {
            let mut b = good.clone();
            b[at..at + bytes.len()].copy_from_slice(bytes);
            b
        };
        let mut long = good.clone();
        long.push(0);
        let mut key_long = good.clone();
        key_long[KEYLEN] = 37;
        key_long.push(0);
        let mut key_short = good.clone();
        key_short[KEYLEN] = 32;
        key_short.truncate(good.len() - 4);
        let mut mixed = encode_request(&Request::RequireEsp(link4())).to_vec();
        mixed[FAMILY] = 6;
        let table: Vec<(&str, Vec<u8>, RequestError)> = vec![
            ("empty", vec![], RequestError::BadFrameLength(0)),
            ("too long", vec![1; MAX_FRAME + 1], RequestError::BadFrameLength(MAX_FRAME + 1)),
            ("version 1", with(0, &[1]), RequestError::UnsupportedVersion(1)),
            ("version 3", with(0, &[3]), RequestError::UnsupportedVersion(3)),
            ("version only", vec![VERSION], RequestError::Truncated("op")),
            ("unknown op", with(1, &[9]), RequestError::UnknownOp(9)),
            ("family 5", with(FAMILY, &[5]), RequestError::BadFamily(5)),
            ("truncated link", good[..9].to_vec(), RequestError::Truncated("peer address")),
            ("no ports (v1 link)", good[..15].to_vec(), RequestError::Truncated("local port")),
            ("one port", good[..17].to_vec(), RequestError::Truncated("peer port")),
            ("truncated key", good[..good.len() - 1].to_vec(), RequestError::Truncated("key")),
            ("trailing byte", long, RequestError::TrailingBytes(1)),
            ("direction 2", with(DIR, &[2]), RequestError::BadDirection(2)),
            ("SPI 0", with(SPI, &[0, 0, 0, 0]), RequestError::SpiReserved(0)),
            ("SPI 255", with(SPI, &[0, 0, 0, 255]), RequestError::SpiReserved(255)),
            ("key 37 bytes", key_long, RequestError::BadKeyLength(37)),
            ("key 32 bytes", key_short, RequestError::BadKeyLength(32)),
            ("reqid 0", with(REQID, &[0, 0, 0, 0]), RequestError::ZeroReqid),
            ("same address", with(PEER, &[10, 99, 0, 1]), RequestError::SameAddress),
            ("unspecified", with(LOCAL, &[0, 0, 0, 0]), RequestError::BadAddress("0.0.0.0".parse().unwrap())),
            ("multicast", with(PEER, &[224, 0, 0, 1]), RequestError::BadAddress("224.0.0.1".parse().unwrap())),
            ("broadcast", with(PEER, &[255; 4]), RequestError::BadAddress("255.255.255.255".parse().unwrap())),
            (
                "outside allow-net",
                with(PEER, &[10, 98, 0, 2]),
                RequestError::AddressNotAllowed("10.98.0.2".parse().unwrap()),
            ),
            ("window 4097", with(WINDOW, &4097u32.to_be_bytes()), RequestError::ReplayWindowTooLarge(4097)),
            ("soft > hard", with(SOFT_BYTES, &21u64.to_be_bytes()), RequestError::SoftAboveHard),
            ("hard bytes 0", with(HARD_BYTES, &0u64.to_be_bytes()), RequestError::ZeroHardLimit),
            ("hard packets 0", with(HARD_PACKETS, &0u64.to_be_bytes()), RequestError::ZeroHardLimit),
            ("v6 family, v4-sized body", mixed, RequestError::Truncated("peer address")),
            ("ping with payload", vec![VERSION, 0, 0], RequestError::TrailingBytes(1)),
        ];
        assert!(table.len() >= 15);
        for (what, body, want) in table {
            match decode_request(&body, &allow()) {
                Err(e) => assert_eq!(e, want, "{what}"),
                Ok(r) => panic!("{what}: accepted {r:?}"),
            }
        }
        // an IPv4-mapped IPv6 address and an empty allow list
        let mut m = link6();
        m.peer = "::ffff:10.99.0.2".parse().unwrap();
        let b = encode_request(&Request::RequireEsp(m));
        assert!(matches!(decode_request(&b, &allow()), Err(RequestError::BadAddress(_))));
        assert!(matches!(decode_request(&good, &AllowList::default()), Err(RequestError::AddressNotAllowed(_))));
        assert_eq!(RequestError::AddressNotAllowed("10.0.0.1".parse().unwrap()).code(), ErrorCode::NotAllowed);
    }

    /// What a version-1 client sends (link without ports) is refused with
    /// the Version code, whatever follows the version byte.
    #[test]
    fn version_1_is_refused() {
        let v1_require = [
            1,
            op::REQUIRE_ESP,
            4,
            10,
            99,
            0,
            1,
            10,
            99,
            0,
            2,
            0,
            0,
            0,
            7, // v1 RequireEsp 10.99.0.1 <-> .2 reqid 7
        ];
        for body in [&v1_require[..], &[1, op::PING][..]] {
            let e = decode_request(body, &allow()).unwrap_err();
            assert_eq!(e, RequestError::UnsupportedVersion(1));
            assert_eq!(e.code(), ErrorCode::Version);
            let resp = Response::from_request_error(&e);
            let bytes = encode_response(&resp);
            assert_eq!(bytes[0], 2);
            assert_eq!(decode_response(&bytes).unwrap(), resp);
        }
        // the same request in v2 (ports 0 appended) is accepted as a host-wide link
        let mut v2 = v1_require.to_vec();
        v2[0] = VERSION;
        v2.extend_from_slice(&[0, 0, 0, 0]);
        match decode_request(&v2, &allow()).unwrap() {
            Request::RequireEsp(l) => {
                assert_eq!(l, Link::host("10.99.0.1".parse().unwrap(), "10.99.0.2".parse().unwrap(), 7));
                assert!(l.is_host_wide());
            }
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn prefixes() {
        let p = Prefix::parse("10.99.0.0/24").unwrap();
        assert!(p.contains(&"10.99.0.200".parse().unwrap()));
        assert!(!p.contains(&"10.99.1.1".parse().unwrap()));
        assert!(!p.contains(&"fd00::1".parse().unwrap()));
        assert!(Prefix::parse("0.0.0.0/0").unwrap().contains(&"1.2.3.4".parse().unwrap()));
        assert!(Prefix::parse("fd00:99::/64").unwrap().contains(&"fd00:99::2".parse().unwrap()));
        assert!(Prefix::parse("10.0.0.1").unwrap().contains(&"10.0.0.1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "x/8", "fd00::/129", "10.0.0.0/a"] {
            assert!(Prefix::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn responses_roundtrip() {
        for r in [
            Response::Ok,
            Response::Counters(SaCounters { bytes: 1, packets: 2, add_time: 3 }),
            Response::Count(4),
            Response::Error { code: ErrorCode::Kernel, errno: 17, message: "exists".into() },
        ] {
            assert_eq!(decode_response(&encode_response(&r)).unwrap(), r);
        }
        let long = Response::Error { code: ErrorCode::Internal, errno: 0, message: "é".repeat(200) };
        let Response::Error { message, .. } = decode_response(&encode_response(&long)).unwrap() else { panic!() };
        assert!(message.len() <= MAX_MESSAGE);
        assert!(decode_response(&[1, 0]).is_err(), "a v1 response");
        assert!(decode_response(&[VERSION, 9]).is_err());
        assert!(decode_response(&[VERSION, 0, 0]).is_err());
    }
}
