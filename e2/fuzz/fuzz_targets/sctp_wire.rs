//! Fuzzes the parsers of what the kernel hands the SCTP socket layer
//! (`e2/src/transport/wire.rs`, reached through `qsafe_e2::fuzzing`):
//! notification records and `recvmsg` control data.
//!
//! Input: the first byte's low bit selects the parser (0: notification,
//! 1: control data), the rest is the bytes.
//!
//! Properties (any violation panics, i.e. is a finding):
//! * neither parser panics;
//! * notifications: `parse_notification` succeeds **exactly** when the
//!   record has its 8-byte header, `8 <= sn_length <= len`, and `sn_length`
//!   covers the fixed part of a known type (20 / 12 / 16 bytes); the type
//!   and the fields it reports are the ones at their UAPI offsets
//!   (`sac_error` big-endian); bytes past `sn_length` change nothing;
//! * control data: the result does not change when a well-formed unrelated
//!   control message is put in front, nor (once an `SCTP_RCVINFO` was
//!   found) when bytes are appended; a found `SCTP_RCVINFO` implies the
//!   buffer holds at least one header plus `sizeof(struct sctp_rcvinfo)`;
//!   an `SCTP_RCVINFO` built by `rcvinfo_cmsg` from input bytes parses
//!   back, also in front of arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qsafe_e2::fuzzing::{self, Notification};

fn ne_u16(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn ne_u32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The fixed size a notification type needs, for the types the parser knows.
fn fixed_part(kind: u16) -> Option<usize> {
    match kind {
        fuzzing::SCTP_ASSOC_CHANGE => Some(20),
        fuzzing::SCTP_SHUTDOWN_EVENT => Some(12),
        fuzzing::SCTP_PARTIAL_DELIVERY_EVENT => Some(16),
        _ => None,
    }
}

fn notification(b: &[u8]) {
    let parsed = fuzzing::parse_notification(b);
    let acceptable = b.len() >= 8 && {
        let declared = ne_u32(b, 4) as usize;
        declared >= 8 && declared <= b.len() && fixed_part(ne_u16(b, 0)).is_none_or(|need| declared >= need)
    };
    match parsed {
        Err(e) => {
            assert!(!acceptable, "a well-formed record was rejected: {e}\n{b:02x?}");
            assert!(!e.is_empty(), "empty error message");
        }
        Ok(n) => {
            assert!(acceptable, "a malformed record was accepted as {n:?}\n{b:02x?}");
            let kind = ne_u16(b, 0);
            let expected = match kind {
                fuzzing::SCTP_ASSOC_CHANGE => Notification::AssocChange {
                    state: ne_u16(b, 8),
                    error: u16::from_be_bytes([b[10], b[11]]),
                    outbound_streams: ne_u16(b, 12),
                    inbound_streams: ne_u16(b, 14),
                },
                fuzzing::SCTP_SHUTDOWN_EVENT => Notification::Shutdown,
                fuzzing::SCTP_PARTIAL_DELIVERY_EVENT => Notification::PartialDelivery { indication: ne_u32(b, 8) },
                other => Notification::Other { kind: other },
            };
            assert_eq!(n, expected, "fields read from the wrong offsets\n{b:02x?}");
            let declared = ne_u32(b, 4) as usize;
            assert_eq!(fuzzing::parse_notification(&b[..declared]), Ok(n), "trimming to sn_length changed the result");
            let mut longer = b.to_vec();
            longer.extend_from_slice(&[0xA5; 9]);
            assert_eq!(fuzzing::parse_notification(&longer), Ok(n), "bytes past sn_length changed the result");
        }
    }
}

fn control(b: &[u8]) {
    let parsed = fuzzing::parse_rcvinfo(b);
    let hdr = fuzzing::cmsg_header_len();
    if parsed.is_some() {
        assert!(b.len() >= hdr + 28, "an SCTP_RCVINFO was found in {} bytes", b.len());
        let mut longer = b.to_vec();
        longer.extend_from_slice(&[0x5A; 13]);
        assert_eq!(fuzzing::parse_rcvinfo(&longer), parsed, "appending bytes changed a found SCTP_RCVINFO");
    }
    // A well-formed, unrelated control message in front (level 0, type 0,
    // 4 bytes of data) shifts the walk by CMSG_SPACE(4) and nothing else.
    let usz = std::mem::size_of::<usize>();
    let mut prefixed = vec![0u8; hdr + fuzzing::cmsg_align(4)];
    prefixed[..usz].copy_from_slice(&(hdr + 4).to_ne_bytes());
    prefixed.extend_from_slice(b);
    assert_eq!(fuzzing::parse_rcvinfo(&prefixed), parsed, "an unrelated control message in front changed the result");

    // Encoder/parser agreement for input-chosen values.
    if b.len() >= 6 {
        let (sid, ppid) = (u16::from_ne_bytes([b[0], b[1]]), u32::from_ne_bytes([b[2], b[3], b[4], b[5]]));
        let mut built = fuzzing::rcvinfo_cmsg(sid, ppid);
        assert_eq!(fuzzing::parse_rcvinfo(&built), Some((sid, ppid)), "rcvinfo_cmsg does not parse back");
        built.extend_from_slice(b);
        assert_eq!(fuzzing::parse_rcvinfo(&built), Some((sid, ppid)), "the first SCTP_RCVINFO must win");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    if selector & 1 == 0 { notification(rest) } else { control(rest) }
});
