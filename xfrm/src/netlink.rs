//! NETLINK_XFRM messages, built and parsed by hand (sans-IO).
//!
//! Only what qsafe-ran needs: ESP transport-mode SAs with
//! `rfc4106(gcm(aes))` (AES-256-GCM, 288-bit key = 256-bit key ‖ 32-bit salt,
//! 128-bit ICV) whose selector is SCTP (protocol 132) between two addresses
//! and, for a per-association link, two SCTP ports (a port 0 is any port),
//! and ESP-required policies (in and out) for the same traffic with an ESP
//! transport template carrying the link's reqid.
//!
//! The layouts are the kernel UAPI structs of `<linux/xfrm.h>` and
//! `<linux/netlink.h>` on Linux (native endianness for host-order fields,
//! big-endian for `__be*` fields; every struct is naturally aligned, sizes
//! below are checked by the unit tests):
//!
//! | struct | size |
//! |---|---|
//! | `nlmsghdr` | 16 |
//! | `xfrm_selector` | 56 |
//! | `xfrm_id` | 24 |
//! | `xfrm_lifetime_cfg` | 64 |
//! | `xfrm_lifetime_cur` | 32 |
//! | `xfrm_usersa_info` | 224 |
//! | `xfrm_usersa_id` | 24 |
//! | `xfrm_userpolicy_info` | 168 |
//! | `xfrm_userpolicy_id` | 64 |
//! | `xfrm_user_tmpl` | 64 |
//! | `xfrm_algo_aead` | 72 + key |
//! | `xfrm_replay_state_esn` | 24 + 4 × bmp_len |
//!
//! Messages that carry key material are built into [`Zeroizing`] buffers.

use std::net::IpAddr;

use zeroize::Zeroizing;

use crate::{Direction, KEYMAT_LEN, Lifetime, Link, SaCounters};

/// `NETLINK_XFRM` protocol number.
pub const NETLINK_XFRM: i32 = 6;

/// `nlmsghdr` size.
pub const NLMSG_HDRLEN: usize = 16;
/// `NLMSG_ERROR`.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`.
pub const NLMSG_DONE: u16 = 3;
/// `NLM_F_REQUEST`.
pub const NLM_F_REQUEST: u16 = 0x1;
/// `NLM_F_ACK`.
pub const NLM_F_ACK: u16 = 0x4;
/// `NLM_F_EXCL`.
pub const NLM_F_EXCL: u16 = 0x200;
/// `NLM_F_CREATE`.
pub const NLM_F_CREATE: u16 = 0x400;

/// `XFRM_MSG_NEWSA`.
pub const XFRM_MSG_NEWSA: u16 = 0x10;
/// `XFRM_MSG_DELSA`.
pub const XFRM_MSG_DELSA: u16 = 0x11;
/// `XFRM_MSG_GETSA`.
pub const XFRM_MSG_GETSA: u16 = 0x12;
/// `XFRM_MSG_NEWPOLICY`.
pub const XFRM_MSG_NEWPOLICY: u16 = 0x13;
/// `XFRM_MSG_DELPOLICY`.
pub const XFRM_MSG_DELPOLICY: u16 = 0x14;
/// `XFRM_MSG_UPDPOLICY` (create or replace).
pub const XFRM_MSG_UPDPOLICY: u16 = 0x19;

/// `XFRMA_TMPL`.
pub const XFRMA_TMPL: u16 = 5;
/// `XFRMA_ALG_AEAD`.
pub const XFRMA_ALG_AEAD: u16 = 18;
/// `XFRMA_REPLAY_ESN_VAL`.
pub const XFRMA_REPLAY_ESN_VAL: u16 = 23;

/// `IPPROTO_ESP`.
pub const IPPROTO_ESP: u8 = 50;
/// `IPPROTO_SCTP`.
pub const IPPROTO_SCTP: u8 = 132;
/// `XFRM_MODE_TRANSPORT`.
pub const XFRM_MODE_TRANSPORT: u8 = 0;
/// `XFRM_POLICY_IN`.
pub const XFRM_POLICY_IN: u8 = 0;
/// `XFRM_POLICY_OUT`.
pub const XFRM_POLICY_OUT: u8 = 1;
/// `XFRM_POLICY_ALLOW`.
pub const XFRM_POLICY_ALLOW: u8 = 0;
/// `XFRM_INF`: no limit.
pub const XFRM_INF: u64 = u64::MAX;
/// `AF_INET`.
pub const AF_INET: u16 = 2;
/// `AF_INET6`.
pub const AF_INET6: u16 = 10;

/// The AEAD algorithm (kernel crypto API name).
pub const AEAD_NAME: &str = "rfc4106(gcm(aes))";
/// Key length in bits, salt included (256 + 32).
pub const AEAD_KEY_BITS: u32 = 288;
/// ICV length in bits.
pub const AEAD_ICV_BITS: u32 = 128;
/// The largest replay window in the legacy `xfrm_usersa_info` field that the
/// kernel honours (its legacy bitmap is 32 bits); larger windows go in an
/// `XFRMA_REPLAY_ESN_VAL` attribute (bitmap replay, ESN off).
pub const LEGACY_REPLAY_MAX: u32 = 32;

/// Struct sizes (see the module table).
pub mod size {
    /// `xfrm_selector`.
    pub const SELECTOR: usize = 56;
    /// `xfrm_id`.
    pub const ID: usize = 24;
    /// `xfrm_lifetime_cfg`.
    pub const LIFETIME_CFG: usize = 64;
    /// `xfrm_lifetime_cur`.
    pub const LIFETIME_CUR: usize = 32;
    /// `xfrm_usersa_info`.
    pub const USERSA_INFO: usize = 224;
    /// `xfrm_usersa_id`.
    pub const USERSA_ID: usize = 24;
    /// `xfrm_userpolicy_info`.
    pub const USERPOLICY_INFO: usize = 168;
    /// `xfrm_userpolicy_id`.
    pub const USERPOLICY_ID: usize = 64;
    /// `xfrm_user_tmpl`.
    pub const USER_TMPL: usize = 64;
    /// `xfrm_algo_aead` without the key.
    pub const ALGO_AEAD: usize = 72;
    /// `xfrm_replay_state_esn` without the bitmap.
    pub const REPLAY_ESN: usize = 24;
}

/// Offset of `curlft` in `xfrm_usersa_info`.
const USERSA_CURLFT: usize = 160;

/// A message decoded from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `NLMSG_ERROR` with error 0: the request succeeded.
    Ack {
        /// Sequence number of the request.
        seq: u32,
    },
    /// `NLMSG_ERROR` with a negative errno.
    Error {
        /// Sequence number of the request.
        seq: u32,
        /// The (positive) errno.
        errno: i32,
    },
    /// An `XFRM_MSG_NEWSA` (the answer to GETSA): the SA's counters.
    Sa {
        /// Sequence number of the request.
        seq: u32,
        /// The SPI (host order).
        spi: u32,
        /// Current lifetime values.
        counters: SaCounters,
    },
    /// Any other message (ignored by callers).
    Other {
        /// Its type.
        kind: u16,
        /// Its sequence number.
        seq: u32,
    },
}

/// A malformed kernel message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed netlink message: {0}")]
pub struct ParseError(pub &'static str);

fn family(addr: &IpAddr) -> u16 {
    if addr.is_ipv4() { AF_INET } else { AF_INET6 }
}

fn prefix_len(addr: &IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

/// `xfrm_address_t`: 16 bytes, IPv4 in the first 4 (network order).
fn put_addr(buf: &mut [u8], addr: &IpAddr) {
    buf[..16].fill(0);
    match addr {
        IpAddr::V4(a) => buf[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => buf[..16].copy_from_slice(&a.octets()),
    }
}

fn put_u16(buf: &mut [u8], at: usize, v: u16) {
    buf[at..at + 2].copy_from_slice(&v.to_ne_bytes());
}
fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}
fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_ne_bytes());
}
fn get_u16(buf: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([buf[at], buf[at + 1]])
}
fn get_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}
fn get_u64(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_ne_bytes(b)
}

/// One end of a selector: address and SCTP port (0 = any port).
pub type Endpoint = (IpAddr, u16);

/// `xfrm_selector` for SCTP from `src` to `dst` (full-length prefixes). A
/// port of 0 is any port (mask 0); any other port is matched exactly (mask
/// `0xffff`). Ports and masks are big-endian (`__be16`).
pub fn selector(src: &Endpoint, dst: &Endpoint) -> [u8; size::SELECTOR] {
    let (src, sport) = src;
    let (dst, dport) = dst;
    let mask = |p: u16| if p == 0 { 0u16 } else { 0xffff };
    let mut s = [0u8; size::SELECTOR];
    put_addr(&mut s[0..16], dst);
    put_addr(&mut s[16..32], src);
    s[32..34].copy_from_slice(&dport.to_be_bytes());
    s[34..36].copy_from_slice(&mask(*dport).to_be_bytes());
    s[36..38].copy_from_slice(&sport.to_be_bytes());
    s[38..40].copy_from_slice(&mask(*sport).to_be_bytes());
    put_u16(&mut s, 40, family(dst));
    s[42] = prefix_len(dst);
    s[43] = prefix_len(src);
    s[44] = IPPROTO_SCTP;
    // ifindex (48) 0, user (52) 0
    s
}

/// `xfrm_lifetime_cfg` with the byte and packet limits ([`XFRM_INF`] = none)
/// and no time limits. Careful: the kernel's "no limit" is `XFRM_INF` for
/// bytes and packets but **0** for the four `*_expires_seconds` fields
/// (`XFRM_INF` there overflows the kernel's timer arithmetic and the SA or
/// policy expires about a second after it is added).
pub fn lifetime_cfg(l: &Lifetime) -> [u8; size::LIFETIME_CFG] {
    let mut c = [0u8; size::LIFETIME_CFG];
    for (i, v) in [l.soft_bytes, l.hard_bytes, l.soft_packets, l.hard_packets].into_iter().enumerate() {
        put_u64(&mut c, i * 8, v);
    }
    // soft/hard add/use expires (32..64): 0 = none
    c
}

/// Appends a netlink attribute (4-byte aligned).
fn put_attr(msg: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    msg.extend_from_slice(&(len as u16).to_ne_bytes());
    msg.extend_from_slice(&kind.to_ne_bytes());
    msg.extend_from_slice(payload);
    msg.resize(msg.len().next_multiple_of(4), 0);
}

/// Starts a message: the header with a placeholder length.
fn header(kind: u16, flags: u16, seq: u32, capacity: usize) -> Zeroizing<Vec<u8>> {
    let mut m = Zeroizing::new(Vec::with_capacity(capacity));
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // pid: the kernel fills in ours
    m
}

fn finish(mut m: Zeroizing<Vec<u8>>) -> Zeroizing<Vec<u8>> {
    let len = m.len() as u32;
    m[0..4].copy_from_slice(&len.to_ne_bytes());
    m
}

/// Source and destination (address, SCTP port) of the SA or policy in
/// `direction`: outbound local → peer, inbound peer → local.
fn endpoints(link: &Link, direction: Direction) -> (Endpoint, Endpoint) {
    let local = (link.local, link.local_port);
    let peer = (link.peer, link.peer_port);
    match direction {
        Direction::Inbound => (peer, local),
        Direction::Outbound => (local, peer),
    }
}

/// Everything a NEWSA needs.
#[derive(Debug, Clone, Copy)]
pub struct NewSa<'a> {
    /// The link (addresses and reqid).
    pub link: &'a Link,
    /// Which way the SA carries traffic.
    pub direction: Direction,
    /// SPI (host order).
    pub spi: u32,
    /// AES-256 key ‖ 4-byte salt.
    pub keymat: &'a [u8; KEYMAT_LEN],
    /// Anti-replay window in packets (0 = none).
    pub replay_window: u32,
    /// Byte / packet limits.
    pub lifetime: &'a Lifetime,
}

/// `XFRM_MSG_NEWSA` (create, exclusive, ack requested). The buffer holds the key.
pub fn new_sa(seq: u32, sa: &NewSa<'_>) -> Zeroizing<Vec<u8>> {
    let (src, dst) = endpoints(sa.link, sa.direction);
    let mut m = header(XFRM_MSG_NEWSA, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, 512);
    let mut info = Zeroizing::new([0u8; size::USERSA_INFO]);
    info[0..56].copy_from_slice(&selector(&src, &dst));
    let ((src, _), (dst, _)) = (src, dst);
    // xfrm_id: daddr, spi (be), proto
    put_addr(&mut info[56..72], &dst);
    info[72..76].copy_from_slice(&sa.spi.to_be_bytes());
    info[76] = IPPROTO_ESP;
    put_addr(&mut info[80..96], &src);
    info[96..160].copy_from_slice(&lifetime_cfg(sa.lifetime));
    // curlft, stats: 0; seq (204): 0
    put_u32(&mut info[..], 208, sa.link.reqid);
    put_u16(&mut info[..], 212, family(&dst));
    info[214] = XFRM_MODE_TRANSPORT;
    info[215] = if sa.replay_window <= LEGACY_REPLAY_MAX { sa.replay_window as u8 } else { 0 };
    info[216] = 0; // flags: no ESN
    m.extend_from_slice(&info[..]);

    let mut aead = Zeroizing::new(Vec::with_capacity(size::ALGO_AEAD + KEYMAT_LEN));
    let mut name = [0u8; 64];
    name[..AEAD_NAME.len()].copy_from_slice(AEAD_NAME.as_bytes());
    aead.extend_from_slice(&name);
    aead.extend_from_slice(&AEAD_KEY_BITS.to_ne_bytes());
    aead.extend_from_slice(&AEAD_ICV_BITS.to_ne_bytes());
    aead.extend_from_slice(sa.keymat);
    put_attr(&mut m, XFRMA_ALG_AEAD, &aead);

    if sa.replay_window > LEGACY_REPLAY_MAX {
        put_attr(&mut m, XFRMA_REPLAY_ESN_VAL, &replay_esn(sa.replay_window));
    }
    finish(m)
}

/// `xfrm_replay_state_esn` for a bitmap window of `window` packets (ESN off).
pub fn replay_esn(window: u32) -> Vec<u8> {
    let bmp_len = window.div_ceil(32);
    let mut r = vec![0u8; size::REPLAY_ESN + 4 * bmp_len as usize];
    put_u32(&mut r, 0, bmp_len);
    // oseq, seq, oseq_hi, seq_hi: 0
    put_u32(&mut r, 20, window);
    r
}

/// `xfrm_usersa_id` of the ESP SA `spi` towards `dst`.
fn usersa_id(dst: &IpAddr, spi: u32) -> [u8; size::USERSA_ID] {
    let mut id = [0u8; size::USERSA_ID];
    put_addr(&mut id[0..16], dst);
    id[16..20].copy_from_slice(&spi.to_be_bytes());
    put_u16(&mut id, 20, family(dst));
    id[22] = IPPROTO_ESP;
    id
}

/// `XFRM_MSG_DELSA` of the ESP SA `spi` of `link` in `direction`.
pub fn del_sa(seq: u32, link: &Link, direction: Direction, spi: u32) -> Zeroizing<Vec<u8>> {
    let (_, (dst, _)) = endpoints(link, direction);
    let mut m = header(XFRM_MSG_DELSA, NLM_F_REQUEST | NLM_F_ACK, seq, 64);
    m.extend_from_slice(&usersa_id(&dst, spi));
    finish(m)
}

/// `XFRM_MSG_GETSA` of the ESP SA `spi` of `link` in `direction` (the
/// kernel answers with an `XFRM_MSG_NEWSA`, or an error).
pub fn get_sa(seq: u32, link: &Link, direction: Direction, spi: u32) -> Zeroizing<Vec<u8>> {
    let (_, (dst, _)) = endpoints(link, direction);
    let mut m = header(XFRM_MSG_GETSA, NLM_F_REQUEST, seq, 64);
    m.extend_from_slice(&usersa_id(&dst, spi));
    finish(m)
}

/// `xfrm_user_tmpl`: ESP, transport mode, `reqid`, any algorithm.
pub fn esp_template(link: &Link) -> [u8; size::USER_TMPL] {
    let mut t = [0u8; size::USER_TMPL];
    // id: daddr 0 (transport mode: taken from the flow), spi 0 (any), proto ESP
    t[20] = IPPROTO_ESP;
    put_u16(&mut t, 24, family(&link.local));
    // saddr (28..44): 0
    put_u32(&mut t, 44, link.reqid);
    t[48] = XFRM_MODE_TRANSPORT;
    t[49] = 0; // share: any
    t[50] = 0; // optional: no — the ESP SA is required
    put_u32(&mut t, 52, u32::MAX); // aalgos
    put_u32(&mut t, 56, u32::MAX); // ealgos
    put_u32(&mut t, 60, u32::MAX); // calgos
    t
}

fn policy_dir(direction: Direction) -> u8 {
    match direction {
        Direction::Inbound => XFRM_POLICY_IN,
        Direction::Outbound => XFRM_POLICY_OUT,
    }
}

/// `XFRM_MSG_NEWPOLICY`: SCTP between the link's endpoints in `direction`
/// must use ESP (transport, the link's reqid); `priority` (lower wins).
pub fn new_policy(seq: u32, link: &Link, direction: Direction, priority: u32) -> Zeroizing<Vec<u8>> {
    policy(XFRM_MSG_NEWPOLICY, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, link, direction, priority)
}

/// `XFRM_MSG_UPDPOLICY`: the same policy as [`new_policy`], created or
/// replacing one with the same selector and direction.
pub fn update_policy(seq: u32, link: &Link, direction: Direction, priority: u32) -> Zeroizing<Vec<u8>> {
    policy(XFRM_MSG_UPDPOLICY, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, seq, link, direction, priority)
}

fn policy(kind: u16, flags: u16, seq: u32, link: &Link, direction: Direction, priority: u32) -> Zeroizing<Vec<u8>> {
    let (src, dst) = endpoints(link, direction);
    let mut m = header(kind, flags, seq, 320);
    let mut p = [0u8; size::USERPOLICY_INFO];
    p[0..56].copy_from_slice(&selector(&src, &dst));
    p[56..120].copy_from_slice(&lifetime_cfg(&Lifetime::UNLIMITED));
    // curlft 120..152: 0
    put_u32(&mut p, 152, priority);
    // index 156: 0 (the kernel picks)
    p[160] = policy_dir(direction);
    p[161] = XFRM_POLICY_ALLOW;
    m.extend_from_slice(&p);
    put_attr(&mut m, XFRMA_TMPL, &esp_template(link));
    finish(m)
}

/// `XFRM_MSG_DELPOLICY` of the policy `new_policy` creates.
pub fn del_policy(seq: u32, link: &Link, direction: Direction) -> Zeroizing<Vec<u8>> {
    let (src, dst) = endpoints(link, direction);
    let mut m = header(XFRM_MSG_DELPOLICY, NLM_F_REQUEST | NLM_F_ACK, seq, 96);
    let mut id = [0u8; size::USERPOLICY_ID];
    id[0..56].copy_from_slice(&selector(&src, &dst));
    id[60] = policy_dir(direction);
    m.extend_from_slice(&id);
    finish(m)
}

/// Splits a datagram from the kernel into messages and decodes each.
pub fn parse_replies(buf: &[u8]) -> Result<Vec<Reply>, ParseError> {
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        if rest.len() < NLMSG_HDRLEN {
            return Err(ParseError("truncated header"));
        }
        let len = get_u32(rest, 0) as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Err(ParseError("bad nlmsg_len"));
        }
        let kind = get_u16(rest, 4);
        let seq = get_u32(rest, 8);
        let body = &rest[NLMSG_HDRLEN..len];
        out.push(match kind {
            NLMSG_ERROR => {
                if body.len() < 4 {
                    return Err(ParseError("truncated NLMSG_ERROR"));
                }
                let err = get_u32(body, 0) as i32;
                if err == 0 { Reply::Ack { seq } } else { Reply::Error { seq, errno: err.saturating_neg() } }
            }
            XFRM_MSG_NEWSA => {
                if body.len() < size::USERSA_INFO {
                    return Err(ParseError("truncated xfrm_usersa_info"));
                }
                let spi = u32::from_be_bytes([body[72], body[73], body[74], body[75]]);
                let counters = SaCounters {
                    bytes: get_u64(body, USERSA_CURLFT),
                    packets: get_u64(body, USERSA_CURLFT + 8),
                    add_time: get_u64(body, USERSA_CURLFT + 16),
                };
                Reply::Sa { seq, spi, counters }
            }
            _ => Reply::Other { kind, seq },
        });
        rest = &rest[len.next_multiple_of(4).min(rest.len())..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn link4() -> Link {
        Link::host(IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1)), IpAddr::V4(Ipv4Addr::new(10, 99, 0, 2)), 7)
    }
    fn link6() -> Link {
        Link::host(
            IpAddr::V6("fd00:99::1".parse::<Ipv6Addr>().unwrap()),
            IpAddr::V6("fd00:99::2".parse::<Ipv6Addr>().unwrap()),
            9,
        )
    }
    /// One association: 10.99.0.1:40001 <-> 10.99.0.2:36421.
    fn assoc4(local_port: u16) -> Link {
        Link::association("10.99.0.1:0".parse().unwrap(), "10.99.0.2:36421".parse().unwrap(), 7)
            .with_ports(local_port, 36421)
    }
    /// (dport, dport_mask, sport, sport_mask) of a selector, as the kernel reads them (big-endian).
    fn ports(sel: &[u8]) -> (u16, u16, u16, u16) {
        let be = |at: usize| u16::from_be_bytes([sel[at], sel[at + 1]]);
        (be(32), be(34), be(36), be(38))
    }
    const KEY: [u8; 36] = [0xAB; 36];

    fn hdr(m: &[u8]) -> (u32, u16, u16, u32) {
        (get_u32(m, 0), get_u16(m, 4), get_u16(m, 6), get_u32(m, 8))
    }

    #[test]
    fn newsa_ipv4_layout() {
        let l = link4();
        let lt = Lifetime { soft_bytes: 1000, hard_bytes: 2000, soft_packets: 10, hard_packets: 20 };
        let m = new_sa(
            5,
            &NewSa {
                link: &l,
                direction: Direction::Outbound,
                spi: 0x1234_5678,
                keymat: &KEY,
                replay_window: 32,
                lifetime: &lt,
            },
        );
        // 16 header + 224 info + (4 + 72 + 36) aead = 352
        assert_eq!(m.len(), 16 + 224 + 112);
        assert_eq!(hdr(&m), (352, XFRM_MSG_NEWSA, 0x605, 5));
        let i = &m[16..240];
        // selector: daddr = peer, saddr = local, family 2, /32 /32, proto 132
        assert_eq!(&i[0..4], &[10, 99, 0, 2]);
        assert_eq!(&i[4..16], &[0; 12]);
        assert_eq!(&i[16..20], &[10, 99, 0, 1]);
        assert_eq!(&i[32..40], &[0; 8]);
        assert_eq!(get_u16(i, 40), 2);
        assert_eq!((i[42], i[43], i[44]), (32, 32, 132));
        // id: daddr, spi big-endian, proto 50
        assert_eq!(&i[56..60], &[10, 99, 0, 2]);
        assert_eq!(&i[72..76], &[0x12, 0x34, 0x56, 0x78]);
        assert_eq!(i[76], 50);
        assert_eq!(&i[80..84], &[10, 99, 0, 1]);
        assert_eq!(get_u64(i, 96), 1000);
        assert_eq!(get_u64(i, 104), 2000);
        assert_eq!(get_u64(i, 112), 10);
        assert_eq!(get_u64(i, 120), 20);
        assert_eq!(&i[128..160], &[0; 32], "time limits must be 0 (none), not XFRM_INF");
        assert_eq!(&i[160..208], &[0; 48]); // curlft, stats, seq
        assert_eq!(get_u32(i, 208), 7);
        assert_eq!(get_u16(i, 212), 2);
        assert_eq!((i[214], i[215], i[216]), (0, 32, 0));
        // AEAD attribute
        let a = &m[240..];
        assert_eq!((get_u16(a, 0), get_u16(a, 2)), (112, XFRMA_ALG_AEAD));
        assert_eq!(&a[4..21], b"rfc4106(gcm(aes))");
        assert_eq!(&a[21..68], &[0; 47]);
        assert_eq!((get_u32(a, 68), get_u32(a, 72)), (288, 128));
        assert_eq!(&a[76..112], &KEY);
    }

    #[test]
    fn newsa_large_window_uses_esn_attribute() {
        let l = link6();
        let m = new_sa(
            1,
            &NewSa {
                link: &l,
                direction: Direction::Inbound,
                spi: 0x100,
                keymat: &KEY,
                replay_window: 128,
                lifetime: &Lifetime::UNLIMITED,
            },
        );
        let i = &m[16..240];
        // inbound: daddr = local
        assert_eq!(&i[0..16], &"fd00:99::1".parse::<Ipv6Addr>().unwrap().octets());
        assert_eq!(&i[16..32], &"fd00:99::2".parse::<Ipv6Addr>().unwrap().octets());
        assert_eq!(get_u16(i, 40), 10);
        assert_eq!((i[42], i[43], i[44]), (128, 128, 132));
        assert_eq!(get_u16(i, 212), 10);
        assert_eq!(i[215], 0, "legacy window must be 0 with XFRMA_REPLAY_ESN_VAL");
        let e = &m[240 + 112..];
        // 4 + 24 + 4*4 = 44
        assert_eq!((get_u16(e, 0), get_u16(e, 2)), (44, XFRMA_REPLAY_ESN_VAL));
        assert_eq!(get_u32(e, 4), 4);
        assert_eq!(get_u32(e, 24), 128);
        assert_eq!(m.len(), 240 + 112 + 44);
        assert_eq!(get_u32(&m, 0) as usize, m.len());
    }

    #[test]
    fn delsa_getsa_layout() {
        let l = link4();
        let m = del_sa(3, &l, Direction::Inbound, 0x101);
        assert_eq!(hdr(&m), (40, XFRM_MSG_DELSA, 0x5, 3));
        assert_eq!(&m[16..20], &[10, 99, 0, 1]);
        assert_eq!(&m[32..36], &[0, 0, 1, 1]);
        assert_eq!(get_u16(&m, 36), 2);
        assert_eq!(m[38], 50);
        let g = get_sa(4, &l, Direction::Outbound, 0x101);
        assert_eq!(hdr(&g), (40, XFRM_MSG_GETSA, 0x1, 4));
        assert_eq!(&g[16..20], &[10, 99, 0, 2]);
    }

    #[test]
    fn policy_layout() {
        let l = link4();
        let m = new_policy(8, &l, Direction::Inbound, 900);
        assert_eq!(m.len(), 16 + 168 + 68);
        assert_eq!(hdr(&m), (252, XFRM_MSG_NEWPOLICY, 0x605, 8));
        let p = &m[16..184];
        assert_eq!(&p[0..4], &[10, 99, 0, 1]); // in: daddr = local
        assert_eq!(&p[16..20], &[10, 99, 0, 2]);
        assert_eq!(p[44], 132);
        assert_eq!(get_u64(p, 56), u64::MAX);
        assert_eq!(get_u64(p, 80), u64::MAX);
        assert_eq!(&p[88..120], &[0; 32]);
        assert_eq!(get_u32(p, 152), 900);
        assert_eq!((p[160], p[161], p[162], p[163]), (0, 0, 0, 0));
        let t = &m[184..];
        assert_eq!((get_u16(t, 0), get_u16(t, 2)), (68, XFRMA_TMPL));
        let t = &t[4..];
        assert_eq!(&t[0..20], &[0; 20]);
        assert_eq!(t[20], 50);
        assert_eq!(get_u16(t, 24), 2);
        assert_eq!(get_u32(t, 44), 7);
        assert_eq!((t[48], t[49], t[50]), (0, 0, 0));
        assert_eq!((get_u32(t, 52), get_u32(t, 56), get_u32(t, 60)), (u32::MAX, u32::MAX, u32::MAX));
        let u = update_policy(8, &l, Direction::Inbound, 900);
        assert_eq!(hdr(&u), (252, XFRM_MSG_UPDPOLICY, 0x405, 8));
        assert_eq!(&u[16..], &m[16..]);
        let d = del_policy(9, &l, Direction::Outbound);
        assert_eq!(hdr(&d), (80, XFRM_MSG_DELPOLICY, 0x5, 9));
        assert_eq!(&d[16..20], &[10, 99, 0, 2]); // out: daddr = peer
        assert_eq!(d[16 + 60], 1);
    }

    #[test]
    fn selector_ports_big_endian_with_masks() {
        let a = (IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1)), 40001);
        let b = (IpAddr::V4(Ipv4Addr::new(10, 99, 0, 2)), 36421);
        let s = selector(&a, &b);
        // 36421 = 0x8e45, 40001 = 0x9c41
        assert_eq!(&s[32..40], &[0x8e, 0x45, 0xff, 0xff, 0x9c, 0x41, 0xff, 0xff]);
        assert_eq!(ports(&s), (36421, 0xffff, 40001, 0xffff));
        assert_eq!(&s[0..4], &[10, 99, 0, 2]);
        assert_eq!(&s[16..20], &[10, 99, 0, 1]);
        // port 0 = any: port and mask 0, the rest as before
        let any = selector(&(a.0, 0), &(b.0, 36421));
        assert_eq!(ports(&any), (36421, 0xffff, 0, 0));
        let host = selector(&(a.0, 0), &(b.0, 0));
        assert_eq!(&host[32..40], &[0; 8]);
        assert_eq!(&host[40..], &s[40..]);
    }

    #[test]
    fn sa_and_policy_selectors_carry_the_ports() {
        let l = assoc4(40001);
        let sa = |d| {
            new_sa(
                1,
                &NewSa {
                    link: &l,
                    direction: d,
                    spi: 0x1001,
                    keymat: &KEY,
                    replay_window: 32,
                    lifetime: &Lifetime::UNLIMITED,
                },
            )
        };
        // outbound: sport = local port, dport = peer port; inbound the reverse
        let out = sa(Direction::Outbound);
        assert_eq!(ports(&out[16..72]), (36421, 0xffff, 40001, 0xffff));
        assert_eq!(&out[16..20], &[10, 99, 0, 2]);
        let inb = sa(Direction::Inbound);
        assert_eq!(ports(&inb[16..72]), (40001, 0xffff, 36421, 0xffff));
        assert_eq!(&inb[16..20], &[10, 99, 0, 1]);
        // the SA id (daddr, SPI) does not depend on the ports
        assert_eq!(&out[72..112], &sa(Direction::Outbound)[72..112]);
        assert_eq!(
            del_sa(2, &l, Direction::Outbound, 0x1001)[16..],
            del_sa(2, &link4(), Direction::Outbound, 0x1001)[16..]
        );
        // policies in both directions, and the DELPOLICY selectors match them
        let pin = new_policy(3, &l, Direction::Inbound, 1000);
        assert_eq!(ports(&pin[16..72]), (40001, 0xffff, 36421, 0xffff));
        let pout = update_policy(4, &l, Direction::Outbound, 1000);
        assert_eq!(ports(&pout[16..72]), (36421, 0xffff, 40001, 0xffff));
        assert_eq!(&del_policy(5, &l, Direction::Inbound)[16..72], &pin[16..72]);
        assert_eq!(&del_policy(6, &l, Direction::Outbound)[16..72], &pout[16..72]);
        // a host-wide link: ports and masks 0 everywhere
        for m in [new_policy(7, &link4(), Direction::Outbound, 1), del_policy(8, &link4(), Direction::Inbound)] {
            assert_eq!(ports(&m[16..72]), (0, 0, 0, 0));
        }
    }

    #[test]
    fn two_links_on_one_address_pair_are_distinct() {
        let (a, b) = (assoc4(40001), assoc4(40002));
        assert_ne!(a, b);
        for d in [Direction::Inbound, Direction::Outbound] {
            // different selectors: UPDPOLICY of one does not replace the other, DELPOLICY removes only its own
            assert_ne!(&update_policy(1, &a, d, 1000)[16..72], &update_policy(1, &b, d, 1000)[16..72]);
            assert_ne!(&del_policy(1, &a, d)[16..72], &del_policy(1, &b, d)[16..72]);
            let sa = |l: &Link| {
                new_sa(
                    1,
                    &NewSa {
                        link: l,
                        direction: d,
                        spi: 0x1001,
                        keymat: &KEY,
                        replay_window: 0,
                        lifetime: &Lifetime::UNLIMITED,
                    },
                )
            };
            assert_ne!(&sa(&a)[16..72], &sa(&b)[16..72]);
            // ... and neither is the host-wide selector
            assert_ne!(&del_policy(1, &a, d)[16..72], &del_policy(1, &link4(), d)[16..72]);
        }
    }

    #[test]
    fn parse_ack_error_and_sa() {
        let mut buf = Vec::new();
        // ACK (error 0) with the original header echoed
        buf.extend_from_slice(&36u32.to_ne_bytes());
        buf.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        buf.extend_from_slice(&0u16.to_ne_bytes());
        buf.extend_from_slice(&11u32.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&0i32.to_ne_bytes());
        buf.extend_from_slice(&[0; 16]);
        // error -EEXIST
        buf.extend_from_slice(&36u32.to_ne_bytes());
        buf.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        buf.extend_from_slice(&0u16.to_ne_bytes());
        buf.extend_from_slice(&12u32.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&(-17i32).to_ne_bytes());
        buf.extend_from_slice(&[0; 16]);
        // NEWSA reply with counters
        let l = link4();
        let mut sa = new_sa(
            13,
            &NewSa {
                link: &l,
                direction: Direction::Outbound,
                spi: 0xABCD,
                keymat: &KEY,
                replay_window: 0,
                lifetime: &Lifetime::UNLIMITED,
            },
        );
        put_u64(&mut sa[16..], USERSA_CURLFT, 4096);
        put_u64(&mut sa[16..], USERSA_CURLFT + 8, 17);
        put_u64(&mut sa[16..], USERSA_CURLFT + 16, 1_700_000_000);
        put_u16(&mut sa, 4, XFRM_MSG_NEWSA);
        buf.extend_from_slice(&sa);
        let r = parse_replies(&buf).unwrap();
        assert_eq!(
            r,
            vec![
                Reply::Ack { seq: 11 },
                Reply::Error { seq: 12, errno: 17 },
                Reply::Sa {
                    seq: 13,
                    spi: 0xABCD,
                    counters: SaCounters { bytes: 4096, packets: 17, add_time: 1_700_000_000 }
                }
            ]
        );
        assert!(parse_replies(&buf[..10]).is_err());
        let mut bad = buf.clone();
        bad[0] = 200;
        assert!(parse_replies(&bad).is_err());
    }
}
