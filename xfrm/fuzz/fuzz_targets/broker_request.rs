//! Fuzzes what a (possibly compromised) client sends the privileged broker:
//! `qsafe_xfrm::protocol::decode_request`, the pure decoder + validator the
//! broker runs on every request body before touching the kernel.
//!
//! Input: the first byte selects the allow list (low bit 0: the kernel
//! tier's `10.99.0.0/24` + `fd00:99::/64`; 1: everything, `0.0.0.0/0` +
//! `::/0`), the rest is the request body.
//!
//! Properties (any violation panics, i.e. is a finding):
//! * decoding never panics and is deterministic;
//! * only protocol version 2 is accepted (version 1, links without ports,
//!   is refused with the Version code);
//! * an accepted request re-encodes to exactly the input (one encoding per
//!   request: nothing the broker acts on can hide in unread bytes, the
//!   SCTP ports included);
//! * an accepted request satisfies every rule the broker promises: both
//!   addresses in the allow list, same family, distinct, not unspecified /
//!   multicast; reqid ≠ 0; SPI ≥ 256; replay window ≤ 4096; soft ≤ hard
//!   and hard > 0 lifetimes;
//! * a refused request's error response encodes and decodes back, and its
//!   message never contains the request bytes after the op (no key echo).
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use qsafe_xfrm::protocol::{self, AllowList, Prefix, Request, Response};
use qsafe_xfrm::{Link, MAX_REPLAY_WINDOW, MIN_SPI};

fn allow(all: bool) -> AllowList {
    let nets = if all { ["0.0.0.0/0", "::/0"] } else { ["10.99.0.0/24", "fd00:99::/64"] };
    AllowList { nets: nets.iter().map(|n| Prefix::parse(n).expect("prefix")).collect() }
}

fn check_link(l: &Link, allow: &AllowList) {
    assert_eq!(l.local.is_ipv4(), l.peer.is_ipv4(), "mixed families accepted");
    assert_ne!(l.local, l.peer, "same address accepted");
    assert_ne!(l.reqid, 0, "reqid 0 accepted");
    for a in [l.local, l.peer] {
        assert!(allow.allows(&a), "{a} outside the allow list accepted");
        assert!(!a.is_unspecified() && !a.is_multicast(), "{a} accepted");
        if let IpAddr::V6(v) = a {
            assert!(v.to_ipv4_mapped().is_none(), "IPv4-mapped {a} accepted");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else { return };
    let allow = allow(sel & 1 == 1);
    let r = protocol::decode_request(body, &allow);
    match &r {
        Ok(req) => {
            assert_eq!(body[0], protocol::VERSION, "another version accepted");
            assert_eq!(&protocol::encode_request(req)[..], body, "accepted request is not canonical");
            match req {
                Request::Ping => {}
                Request::InstallSa(sa) => {
                    check_link(&sa.link, &allow);
                    assert!(sa.spi >= MIN_SPI);
                    assert!(sa.replay_window <= MAX_REPLAY_WINDOW);
                    assert!(sa.lifetime.is_consistent());
                    assert!(sa.lifetime.hard_bytes > 0 && sa.lifetime.hard_packets > 0);
                    assert!(!format!("{req:?}").contains(&format!("{:?}", &sa.keymat[..])), "key in Debug");
                }
                Request::DeleteSa { link, spi, .. } | Request::SaCounters { link, spi, .. } => {
                    check_link(link, &allow);
                    assert!(*spi >= MIN_SPI);
                }
                Request::RequireEsp(l) | Request::ReleaseEsp(l) | Request::DeleteAll(l) => check_link(l, &allow),
            }
        }
        Err(e) => {
            if body.len() <= protocol::MAX_FRAME && body.first().is_some_and(|&v| v != protocol::VERSION) {
                assert_eq!(e.code(), protocol::ErrorCode::Version, "another version: {e}");
            }
            let again = protocol::decode_request(body, &allow);
            assert_eq!(again.as_ref().err(), Some(e), "not deterministic");
            let resp = Response::from_request_error(e);
            let back = protocol::decode_response(&protocol::encode_response(&resp)).expect("error response decodes");
            assert_eq!(back, resp);
        }
    }
});
