//! Entry points for the cargo-fuzz targets (`e2/fuzz/`) and the transport
//! bench (`benches/transport.rs`). Not part of the supported API: hidden
//! from the docs, may change without notice.
//!
//! The SCTP socket layer parses two kinds of bytes the kernel hands it —
//! notifications (`sctp_assoc_change`, `sctp_shutdown_event`,
//! `sctp_pdapi_event`) and `recvmsg` control data (`cmsghdr` +
//! `sctp_rcvinfo`) — in `transport/wire.rs`, whose functions are
//! `pub(crate)` because nothing outside the socket layer should depend on
//! their types. A fuzz target or a bench is another crate, so it reaches
//! them through the thin wrappers here, which return plain mirror types.
//! The wrappers only forward; the parsers' behaviour is what is fuzzed.
//!
//! The encoders ([`assoc_change`], [`shutdown_event`],
//! [`partial_delivery_event`], [`rcvinfo_cmsg`]) write what the *kernel*
//! writes (Linux UAPI layout, `include/uapi/linux/sctp.h`), so seeds and
//! benches start from realistic records; [`sndinfo_cmsg`] is the socket
//! layer's own send-side encoder.
//!
//! ## Why this module is compiled in every build
//!
//! It is not behind a cargo feature or `cfg(fuzzing)`: a feature would
//! force `required-features` on the bench (so a plain `cargo bench -p
//! qsafe-e2` would silently skip it), and `cfg(fuzzing)` is only set by
//! cargo-fuzz, so wrappers that drifted from `wire.rs` would break only in
//! the fuzz build, which ordinary CI does not run. Always compiling it
//! means `cargo test`/`clippy` keep it honest. It costs nothing at run
//! time (a few small functions nobody calls), holds no `unsafe`, and
//! exposes no internal type.

#![doc(hidden)]

use crate::transport::wire;

/// `SCTP_ASSOC_CHANGE` notification type.
pub const SCTP_ASSOC_CHANGE: u16 = wire::SCTP_ASSOC_CHANGE;
/// `SCTP_SHUTDOWN_EVENT` notification type.
pub const SCTP_SHUTDOWN_EVENT: u16 = wire::SCTP_SHUTDOWN_EVENT;
/// `SCTP_PARTIAL_DELIVERY_EVENT` notification type.
pub const SCTP_PARTIAL_DELIVERY_EVENT: u16 = wire::SCTP_PARTIAL_DELIVERY_EVENT;

/// `sac_state` values of `SCTP_ASSOC_CHANGE` (`enum sctp_sac_state`).
pub mod sac_state {
    /// `SCTP_COMM_UP`.
    pub const COMM_UP: u16 = 0;
    /// `SCTP_COMM_LOST`.
    pub const COMM_LOST: u16 = 1;
    /// `SCTP_RESTART`.
    pub const RESTART: u16 = 2;
    /// `SCTP_SHUTDOWN_COMP`.
    pub const SHUTDOWN_COMP: u16 = 3;
    /// `SCTP_CANT_STR_ASSOC`.
    pub const CANT_STR_ASSOC: u16 = 4;
}

/// A parsed notification (mirror of the socket layer's internal type; the
/// association state is given as its raw `sac_state` value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notification {
    /// `SCTP_ASSOC_CHANGE`.
    AssocChange {
        /// `sac_state` (see [`sac_state`]).
        state: u16,
        /// SCTP error cause code.
        error: u16,
        /// `sac_outbound_streams`.
        outbound_streams: u16,
        /// `sac_inbound_streams`.
        inbound_streams: u16,
    },
    /// `SCTP_SHUTDOWN_EVENT`.
    Shutdown,
    /// `SCTP_PARTIAL_DELIVERY_EVENT`.
    PartialDelivery {
        /// `pdapi_indication` (0 = aborted).
        indication: u32,
    },
    /// Any other notification type.
    Other {
        /// `sn_type`.
        kind: u16,
    },
}

/// Parses one notification record as `recvmsg` returned it up to
/// `MSG_EOR`. The error is the message the socket layer puts into
/// `TransportError::MalformedNotification`.
pub fn parse_notification(record: &[u8]) -> Result<Notification, String> {
    match wire::parse_notification(record) {
        Ok(n) => Ok(mirror(n)),
        Err(e) => Err(e.to_string()),
    }
}

fn mirror(n: wire::Notification) -> Notification {
    match n {
        wire::Notification::AssocChange { state, error, outbound_streams, inbound_streams } => {
            Notification::AssocChange { state: sac_state_value(state), error, outbound_streams, inbound_streams }
        }
        wire::Notification::Shutdown => Notification::Shutdown,
        wire::Notification::PartialDelivery { indication } => Notification::PartialDelivery { indication },
        wire::Notification::Other { kind } => Notification::Other { kind },
    }
}

fn sac_state_value(state: wire::AssocState) -> u16 {
    match state {
        wire::AssocState::CommUp => sac_state::COMM_UP,
        wire::AssocState::CommLost => sac_state::COMM_LOST,
        wire::AssocState::Restart => sac_state::RESTART,
        wire::AssocState::ShutdownComplete => sac_state::SHUTDOWN_COMP,
        wire::AssocState::CantStartAssoc => sac_state::CANT_STR_ASSOC,
        wire::AssocState::Unknown(other) => other,
    }
}

/// Walks `recvmsg` control data (`msg_controllen` bytes) and returns the
/// `SCTP_RCVINFO`'s `(stream id, PPID in host order)`, if there is one.
pub fn parse_rcvinfo(control: &[u8]) -> Option<(u16, u32)> {
    wire::parse_rcvinfo(control).map(|i| (i.sid, i.ppid))
}

/// `sizeof(struct cmsghdr)` on this platform (`CMSG_LEN(0)`).
pub const fn cmsg_header_len() -> usize {
    wire::cmsg_len(0)
}

/// `CMSG_ALIGN(len)` on this platform.
pub const fn cmsg_align(len: usize) -> usize {
    wire::cmsg_align(len)
}

/// A `SCTP_ASSOC_CHANGE` notification as the kernel writes it (`sac_error`
/// big-endian like Linux, `sac_assoc_id` 1, no `sac_info`).
pub fn assoc_change(state: u16, error: u16, outbound_streams: u16, inbound_streams: u16) -> Vec<u8> {
    let mut v = header(SCTP_ASSOC_CHANGE, 20);
    v.extend_from_slice(&state.to_ne_bytes());
    v.extend_from_slice(&error.to_be_bytes());
    v.extend_from_slice(&outbound_streams.to_ne_bytes());
    v.extend_from_slice(&inbound_streams.to_ne_bytes());
    v.extend_from_slice(&1i32.to_ne_bytes());
    v
}

/// A `SCTP_SHUTDOWN_EVENT` notification as the kernel writes it.
pub fn shutdown_event() -> Vec<u8> {
    let mut v = header(SCTP_SHUTDOWN_EVENT, 12);
    v.extend_from_slice(&1i32.to_ne_bytes());
    v
}

/// A `SCTP_PARTIAL_DELIVERY_EVENT` as Linux ≥ 4.x writes it
/// (`pdapi_indication`, `pdapi_assoc_id`, `pdapi_stream`, `pdapi_seq`).
pub fn partial_delivery_event(indication: u32, stream: u32, seq: u32) -> Vec<u8> {
    let mut v = header(SCTP_PARTIAL_DELIVERY_EVENT, 24);
    v.extend_from_slice(&indication.to_ne_bytes());
    v.extend_from_slice(&1i32.to_ne_bytes());
    v.extend_from_slice(&stream.to_ne_bytes());
    v.extend_from_slice(&seq.to_ne_bytes());
    v
}

fn header(kind: u16, len: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(len as usize);
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(&0u16.to_ne_bytes());
    v.extend_from_slice(&len.to_ne_bytes());
    v
}

/// One `SCTP_RCVINFO` control message (`CMSG_SPACE(sizeof(struct
/// sctp_rcvinfo))` bytes) as the kernel writes it: stream `sid`, PPID
/// `ppid` (host order here, network order on the wire), TSNs 0.
pub fn rcvinfo_cmsg(sid: u16, ppid: u32) -> Vec<u8> {
    const RCVINFO_LEN: usize = 28;
    let hdr = cmsg_header_len();
    let usz = std::mem::size_of::<usize>();
    let mut v = vec![0u8; hdr + cmsg_align(RCVINFO_LEN)];
    v[..usz].copy_from_slice(&wire::cmsg_len(RCVINFO_LEN).to_ne_bytes());
    v[usz..usz + 4].copy_from_slice(&wire::SOL_SCTP.to_ne_bytes());
    v[usz + 4..usz + 8].copy_from_slice(&wire::SCTP_RCVINFO.to_ne_bytes());
    v[hdr..hdr + 2].copy_from_slice(&sid.to_ne_bytes());
    v[hdr + 8..hdr + 12].copy_from_slice(&ppid.to_be_bytes());
    v
}

/// The `SCTP_SNDINFO` control message the socket layer sends with every PDU.
pub fn sndinfo_cmsg(sid: u16, ppid: u32) -> Vec<u8> {
    wire::encode_sndinfo(sid, ppid).0.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoders_round_trip_through_the_parsers() {
        assert_eq!(
            parse_notification(&assoc_change(sac_state::COMM_LOST, 12, 3, 4)),
            Ok(Notification::AssocChange {
                state: sac_state::COMM_LOST,
                error: 12,
                outbound_streams: 3,
                inbound_streams: 4
            })
        );
        assert_eq!(parse_notification(&shutdown_event()), Ok(Notification::Shutdown));
        assert_eq!(
            parse_notification(&partial_delivery_event(0, 2, 9)),
            Ok(Notification::PartialDelivery { indication: 0 })
        );
        assert_eq!(parse_rcvinfo(&rcvinfo_cmsg(3, 70)), Some((3, 70)));
        // The send-side cmsg is not a receive info.
        assert_eq!(parse_rcvinfo(&sndinfo_cmsg(3, 70)), None);
        assert!(parse_notification(&[0x01]).is_err());
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn assoc_change_matches_bytes_recorded_from_linux() {
        // COMM_LOST with cause 12 as recorded in a UML 6.1 guest (see
        // wire.rs), minus the 4 bytes of sac_info and with assoc id 1.
        let recorded = [
            0x01, 0x80, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
            0x00, 0x00,
        ];
        assert_eq!(assoc_change(sac_state::COMM_LOST, 12, 0, 0), recorded);
    }
}
