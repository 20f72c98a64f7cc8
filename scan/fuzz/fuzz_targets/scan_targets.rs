//! Fuzzes target-list parsing (`qsafe_scan::parse_targets`) on arbitrary text.
//!
//! Properties: never panics; a parsed list has no duplicates; every target's `key()` parses
//! back to the same host and port.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qsafe_scan::{parse_targets, parse_targets_with_default_port};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = parse_targets_with_default_port(text, Some(443));
    if let Ok(targets) = parse_targets(text) {
        let mut keys: Vec<String> = targets.iter().map(|t| t.key()).collect();
        for (t, key) in targets.iter().zip(&keys) {
            let back = parse_targets(key).expect("a target's key parses");
            assert_eq!(back.len(), 1);
            assert_eq!((&back[0].host, back[0].port), (&t.host, t.port));
        }
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n, "duplicates kept");
    }
});
