//! Fuzzes the raw probes' server-first-flight parser (`qsafe_scan::hello`).
//!
//! Input: byte 0 is the chunk size (1..=256) the rest is fed to the incremental
//! `FlightParser` in; the rest is what the server sent.
//!
//! Properties: never panics; errors are values; feeding in chunks gives the same answer as
//! parsing the whole buffer at once (the split of records across reads does not matter); a
//! parsed HelloRetryRequest has the RFC 8446 random (checked via the flag's consistency with
//! re-parsing).
#![no_main]

use libfuzzer_sys::fuzz_target;
use qsafe_scan::hello::{FlightParser, parse_server_flight};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, wire)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1);
    let whole = parse_server_flight(wire);
    let mut p = FlightParser::new();
    let mut incremental = None;
    for piece in wire.chunks(chunk) {
        match p.push(piece) {
            Ok(Some(f)) => {
                incremental = Some(Ok(f));
                break;
            }
            Ok(None) => {}
            Err(e) => {
                incremental = Some(Err(e));
                break;
            }
        }
    }
    let incremental = incremental.unwrap_or_else(|| Err(p.finish()));
    match (&whole, &incremental) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        _ => panic!("whole {whole:?} vs chunked({chunk}) {incremental:?}"),
    }
});
