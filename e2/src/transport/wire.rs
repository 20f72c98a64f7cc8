//! Pure (safe, allocation-free) encoding and parsing of the bytes the SCTP
//! socket API exchanges with the kernel: ancillary data (`cmsghdr` +
//! `sctp_sndinfo` / `sctp_rcvinfo`) and notifications (`sctp_assoc_change`,
//! `sctp_shutdown_event`, `sctp_pdapi_event`).
//!
//! Layouts are the Linux UAPI ones (`include/uapi/linux/sctp.h`, RFC 6458),
//! fields in host byte order except the PPID (network order, passed through
//! untouched by the kernel) and `sac_error` (Linux stores the SCTP error
//! cause code big-endian: `SCTP_ERROR_USER_ABORT` is `cpu_to_be16(12)`).
//! Everything here works on byte slices so it can be unit-tested without a
//! kernel and never panics on short or inconsistent input.

use std::mem::size_of;

/// `SOL_SCTP` / `IPPROTO_SCTP`.
pub(crate) const SOL_SCTP: i32 = 132;
/// cmsg type of `struct sctp_sndinfo` (RFC 6458 5.3.4).
pub(crate) const SCTP_SNDINFO: i32 = 2;
/// cmsg type of `struct sctp_rcvinfo` (RFC 6458 5.3.5).
pub(crate) const SCTP_RCVINFO: i32 = 3;

/// `msg_flags`: end of a record (one whole SCTP message).
pub(crate) const MSG_EOR: i32 = 0x80;
/// `msg_flags`: the data is a notification, not user data.
pub(crate) const MSG_NOTIFICATION: i32 = 0x8000;
/// `msg_flags`: ancillary data was truncated.
pub(crate) const MSG_CTRUNC: i32 = 0x8;

/// Notification types (`enum sctp_sn_type`).
pub(crate) const SCTP_ASSOC_CHANGE: u16 = 0x8001;
pub(crate) const SCTP_SHUTDOWN_EVENT: u16 = 0x8005;
pub(crate) const SCTP_PARTIAL_DELIVERY_EVENT: u16 = 0x8006;

/// `struct sctp_sndinfo` size: sid u16, flags u16, ppid u32, context u32,
/// assoc_id i32.
const SNDINFO_LEN: usize = 16;
/// `struct sctp_rcvinfo` size: sid, ssn, flags u16 (+2 pad), ppid, tsn,
/// cumtsn, context u32, assoc_id i32.
const RCVINFO_LEN: usize = 28;

/// `CMSG_ALIGN`: Linux aligns control messages to `sizeof(long)`.
pub(crate) const fn cmsg_align(len: usize) -> usize {
    let a = size_of::<std::ffi::c_long>();
    (len + a - 1) & !(a - 1)
}

/// `sizeof(struct cmsghdr)`: `size_t cmsg_len; int cmsg_level; int cmsg_type`.
const CMSG_HDR: usize = cmsg_align(size_of::<usize>() + 2 * size_of::<i32>());

/// `CMSG_LEN(n)`.
pub(crate) const fn cmsg_len(n: usize) -> usize {
    CMSG_HDR + n
}

/// `CMSG_SPACE(n)`.
pub(crate) const fn cmsg_space(n: usize) -> usize {
    CMSG_HDR + cmsg_align(n)
}

/// Bytes of one `SCTP_SNDINFO` control message.
pub(crate) const SNDINFO_SPACE: usize = cmsg_space(SNDINFO_LEN);

/// Room for the control data `recvmsg` may return: one `SCTP_RCVINFO`
/// (and some slack for an `SCTP_NXTINFO` should someone enable it).
pub(crate) const RECV_CONTROL_SPACE: usize = cmsg_space(RCVINFO_LEN) + cmsg_space(RCVINFO_LEN);

/// A buffer aligned like `struct cmsghdr`, as `msg_control` must be.
#[repr(C, align(8))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct CmsgBuf<const N: usize>(pub(crate) [u8; N]);

impl<const N: usize> CmsgBuf<N> {
    pub(crate) const fn zeroed() -> Self {
        CmsgBuf([0; N])
    }
}

/// Encode the `SCTP_SNDINFO` control message for one send: stream `sid`,
/// payload protocol id `ppid` (host order here; written in network order).
pub(crate) fn encode_sndinfo(sid: u16, ppid: u32) -> CmsgBuf<SNDINFO_SPACE> {
    let mut b = CmsgBuf::<SNDINFO_SPACE>::zeroed();
    let usz = size_of::<usize>();
    b.0[..usz].copy_from_slice(&cmsg_len(SNDINFO_LEN).to_ne_bytes());
    b.0[usz..usz + 4].copy_from_slice(&SOL_SCTP.to_ne_bytes());
    b.0[usz + 4..usz + 8].copy_from_slice(&SCTP_SNDINFO.to_ne_bytes());
    let d = &mut b.0[CMSG_HDR..CMSG_HDR + SNDINFO_LEN];
    d[0..2].copy_from_slice(&sid.to_ne_bytes());
    // snd_flags 0, snd_context 0, snd_assoc_id 0 (ignored on one-to-one sockets).
    d[4..8].copy_from_slice(&ppid.to_be_bytes());
    b
}

/// What `SCTP_RCVINFO` tells about a received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RcvInfo {
    /// Stream id.
    pub(crate) sid: u16,
    /// Payload protocol id, host order.
    pub(crate) ppid: u32,
}

/// Walk the control buffer filled by `recvmsg` (`msg_controllen` bytes) and
/// return the `SCTP_RCVINFO`, if present. Malformed headers end the walk.
pub(crate) fn parse_rcvinfo(control: &[u8]) -> Option<RcvInfo> {
    let usz = size_of::<usize>();
    let mut off = 0usize;
    while off + CMSG_HDR <= control.len() {
        let h = &control[off..];
        let len = usize::from_ne_bytes(h[..usz].try_into().ok()?);
        let level = i32::from_ne_bytes(h[usz..usz + 4].try_into().ok()?);
        let kind = i32::from_ne_bytes(h[usz + 4..usz + 8].try_into().ok()?);
        if len < CMSG_HDR || len > h.len() {
            return None;
        }
        let data = &h[CMSG_HDR..len];
        if level == SOL_SCTP && kind == SCTP_RCVINFO && data.len() >= RCVINFO_LEN {
            return Some(RcvInfo {
                sid: u16::from_ne_bytes([data[0], data[1]]),
                ppid: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
            });
        }
        off += cmsg_align(len);
    }
    None
}

/// `enum sctp_sac_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AssocState {
    CommUp,
    CommLost,
    Restart,
    ShutdownComplete,
    CantStartAssoc,
    Unknown(u16),
}

impl From<u16> for AssocState {
    fn from(v: u16) -> Self {
        match v {
            0 => AssocState::CommUp,
            1 => AssocState::CommLost,
            2 => AssocState::Restart,
            3 => AssocState::ShutdownComplete,
            4 => AssocState::CantStartAssoc,
            other => AssocState::Unknown(other),
        }
    }
}

/// A parsed SCTP notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notification {
    /// `SCTP_ASSOC_CHANGE`.
    AssocChange {
        state: AssocState,
        /// SCTP error cause code (RFC 9260 3.3.10), 0 if none.
        error: u16,
        outbound_streams: u16,
        inbound_streams: u16,
    },
    /// `SCTP_SHUTDOWN_EVENT`: the peer started a graceful shutdown.
    Shutdown,
    /// `SCTP_PARTIAL_DELIVERY_EVENT`; indication 0 = aborted.
    PartialDelivery { indication: u32 },
    /// A type we did not subscribe to or do not handle.
    Other { kind: u16 },
}

/// Why a notification could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotificationError {
    /// Fewer bytes than the header (8) or than the type's fixed part.
    Short { kind: u16, need: usize, have: usize },
    /// `sn_length` disagrees with the bytes received.
    BadLength { declared: u32, have: usize },
}

impl std::fmt::Display for NotificationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotificationError::Short { kind, need, have } => {
                write!(f, "type {kind:#06x}: need {need} bytes, have {have}")
            }
            NotificationError::BadLength { declared, have } => {
                write!(f, "declared length {declared} but {have} bytes received")
            }
        }
    }
}

fn ne_u16(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn ne_u32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parse one notification (the whole record, as read up to MSG_EOR).
pub(crate) fn parse_notification(b: &[u8]) -> Result<Notification, NotificationError> {
    // struct sctp_tlv / sn_header: u16 type, u16 flags, u32 length.
    const HDR: usize = 8;
    if b.len() < HDR {
        return Err(NotificationError::Short {
            kind: if b.len() >= 2 { ne_u16(b, 0) } else { 0 },
            need: HDR,
            have: b.len(),
        });
    }
    let kind = ne_u16(b, 0);
    let declared = ne_u32(b, 4);
    if (declared as usize) < HDR || declared as usize > b.len() {
        return Err(NotificationError::BadLength { declared, have: b.len() });
    }
    let b = &b[..declared as usize];
    let need = |n: usize| {
        if b.len() < n { Err(NotificationError::Short { kind, need: n, have: b.len() }) } else { Ok(()) }
    };
    match kind {
        SCTP_ASSOC_CHANGE => {
            // + u16 state, u16 error, u16 outbound, u16 inbound, i32 assoc_id
            need(20)?;
            Ok(Notification::AssocChange {
                state: AssocState::from(ne_u16(b, 8)),
                error: u16::from_be_bytes([b[10], b[11]]),
                outbound_streams: ne_u16(b, 12),
                inbound_streams: ne_u16(b, 14),
            })
        }
        SCTP_SHUTDOWN_EVENT => {
            // + i32 assoc_id
            need(12)?;
            Ok(Notification::Shutdown)
        }
        SCTP_PARTIAL_DELIVERY_EVENT => {
            // + u32 indication, i32 assoc_id (+ stream, seq on newer kernels)
            need(16)?;
            Ok(Notification::PartialDelivery { indication: ne_u32(b, 8) })
        }
        other => Ok(Notification::Other { kind: other }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assoc_change(state: u16, error_be: u16, out: u16, inb: u16, extra: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&SCTP_ASSOC_CHANGE.to_ne_bytes());
        v.extend_from_slice(&0u16.to_ne_bytes());
        v.extend_from_slice(&((20 + extra.len()) as u32).to_ne_bytes());
        v.extend_from_slice(&state.to_ne_bytes());
        v.extend_from_slice(&error_be.to_be_bytes());
        v.extend_from_slice(&out.to_ne_bytes());
        v.extend_from_slice(&inb.to_ne_bytes());
        v.extend_from_slice(&7i32.to_ne_bytes());
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn comm_up_is_parsed() {
        let b = assoc_change(0, 0, 4, 4, &[]);
        assert_eq!(
            parse_notification(&b),
            Ok(Notification::AssocChange {
                state: AssocState::CommUp,
                error: 0,
                outbound_streams: 4,
                inbound_streams: 4
            })
        );
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn comm_lost_bytes_as_seen_from_linux_6_1() {
        // The first 20 bytes as recorded in a UML 6.1 guest after the peer
        // closed with SO_LINGER 0, i.e. ABORT with cause 12 (User-Initiated
        // Abort); sn_length 24, so 4 bytes of sac_info follow (arbitrary here).
        let b: Vec<u8> = [
            0x01, 0x80, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
            0x00, 0x00, 0xaa, 0xbb, 0xcc, 0xdd,
        ]
        .to_vec();
        assert_eq!(
            parse_notification(&b),
            Ok(Notification::AssocChange {
                state: AssocState::CommLost,
                error: 12,
                outbound_streams: 0,
                inbound_streams: 0
            })
        );
    }

    #[test]
    fn shutdown_and_pdapi_and_unknown() {
        let mut s = Vec::new();
        s.extend_from_slice(&SCTP_SHUTDOWN_EVENT.to_ne_bytes());
        s.extend_from_slice(&0u16.to_ne_bytes());
        s.extend_from_slice(&12u32.to_ne_bytes());
        s.extend_from_slice(&1i32.to_ne_bytes());
        assert_eq!(parse_notification(&s), Ok(Notification::Shutdown));

        let mut p = Vec::new();
        p.extend_from_slice(&SCTP_PARTIAL_DELIVERY_EVENT.to_ne_bytes());
        p.extend_from_slice(&0u16.to_ne_bytes());
        p.extend_from_slice(&24u32.to_ne_bytes());
        p.extend_from_slice(&0u32.to_ne_bytes());
        p.extend_from_slice(&[0; 12]);
        assert_eq!(parse_notification(&p), Ok(Notification::PartialDelivery { indication: 0 }));

        let mut o = Vec::new();
        o.extend_from_slice(&0x8002u16.to_ne_bytes());
        o.extend_from_slice(&0u16.to_ne_bytes());
        o.extend_from_slice(&8u32.to_ne_bytes());
        assert_eq!(parse_notification(&o), Ok(Notification::Other { kind: 0x8002 }));
    }

    #[test]
    fn short_or_inconsistent_notifications_are_errors_not_panics() {
        assert!(parse_notification(&[]).is_err());
        assert!(parse_notification(&[1]).is_err());
        assert!(parse_notification(&[0x01, 0x80, 0, 0]).is_err());
        // declared length beyond the data
        let mut b = assoc_change(0, 0, 1, 1, &[]);
        b[4..8].copy_from_slice(&100u32.to_ne_bytes());
        assert!(matches!(parse_notification(&b), Err(NotificationError::BadLength { declared: 100, .. })));
        // declared length shorter than an assoc change
        let mut b = assoc_change(0, 0, 1, 1, &[]);
        b[4..8].copy_from_slice(&12u32.to_ne_bytes());
        assert!(matches!(parse_notification(&b), Err(NotificationError::Short { need: 20, .. })));
        // every prefix of a valid notification is handled
        let full = assoc_change(1, 12, 0, 0, &[1, 2, 3, 4]);
        for n in 0..full.len() {
            let _ = parse_notification(&full[..n]);
        }
    }

    #[test]
    fn sndinfo_round_trips_through_the_cmsg_walker_layout() {
        let c = encode_sndinfo(3, 70);
        let usz = size_of::<usize>();
        assert_eq!(usize::from_ne_bytes(c.0[..usz].try_into().unwrap_or_default()), cmsg_len(SNDINFO_LEN));
        assert_eq!(&c.0[CMSG_HDR + 4..CMSG_HDR + 8], &[0, 0, 0, 70]);
        assert_eq!(&c.0[CMSG_HDR..CMSG_HDR + 2], &3u16.to_ne_bytes());
    }

    fn rcvinfo_cmsg(sid: u16, ppid_wire: [u8; 4]) -> Vec<u8> {
        let mut v = vec![0u8; cmsg_space(RCVINFO_LEN)];
        let usz = size_of::<usize>();
        v[..usz].copy_from_slice(&cmsg_len(RCVINFO_LEN).to_ne_bytes());
        v[usz..usz + 4].copy_from_slice(&SOL_SCTP.to_ne_bytes());
        v[usz + 4..usz + 8].copy_from_slice(&SCTP_RCVINFO.to_ne_bytes());
        v[CMSG_HDR..CMSG_HDR + 2].copy_from_slice(&sid.to_ne_bytes());
        v[CMSG_HDR + 8..CMSG_HDR + 12].copy_from_slice(&ppid_wire);
        v
    }

    #[test]
    fn rcvinfo_is_found_and_ppid_is_network_order() {
        let v = rcvinfo_cmsg(2, [0, 0, 0, 0x46]);
        assert_eq!(parse_rcvinfo(&v), Some(RcvInfo { sid: 2, ppid: 70 }));
        // preceded by an unrelated cmsg
        let mut w = vec![0u8; cmsg_space(4)];
        let usz = size_of::<usize>();
        w[..usz].copy_from_slice(&cmsg_len(4).to_ne_bytes());
        w[usz..usz + 4].copy_from_slice(&0i32.to_ne_bytes());
        w.extend_from_slice(&v);
        assert_eq!(parse_rcvinfo(&w), Some(RcvInfo { sid: 2, ppid: 70 }));
    }

    #[test]
    fn malformed_control_data_yields_none() {
        assert_eq!(parse_rcvinfo(&[]), None);
        assert_eq!(parse_rcvinfo(&[0xff; 64]), None);
        let mut v = rcvinfo_cmsg(1, [0; 4]);
        // cmsg_len shorter than the header
        v[0] = 3;
        for b in v.iter_mut().skip(1).take(size_of::<usize>() - 1) {
            *b = 0;
        }
        assert_eq!(parse_rcvinfo(&v), None);
        let v = rcvinfo_cmsg(1, [0; 4]);
        for n in 0..v.len() {
            let _ = parse_rcvinfo(&v[..n]);
        }
    }
}
