//! Fuzzes the admin request parser (method, path, query of a plain-HTTP
//! request from loopback).
//!
//! Input: byte 0 picks the method, the rest is `path \0 query`.
//! Properties: never panics; refusals are 400, 404 or 405 (405 names the
//! allowed method); a latency action stays within `MAX_LATENCY_MS`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qsafe_kme::admin::{Action, MAX_LATENCY_MS, parse};

const METHODS: [&str; 4] = ["GET", "POST", "PUT", "post"];

fuzz_target!(|data: &[u8]| {
    let Some((&m, rest)) = data.split_first() else { return };
    let method = METHODS[m as usize % METHODS.len()];
    let text = String::from_utf8_lossy(rest);
    let (path, query) = match text.split_once('\0') {
        Some((p, q)) => (p, Some(q)),
        None => (&*text, None),
    };
    match parse(method, path, query) {
        Ok(Action::Latency(d)) => assert!(d.as_millis() <= u128::from(MAX_LATENCY_MS)),
        Ok(_) => {}
        Err(r) => {
            assert!([400, 404, 405].contains(&r.status), "status {}", r.status);
            assert_eq!(r.allow.is_some(), r.status == 405);
        }
    }
});
