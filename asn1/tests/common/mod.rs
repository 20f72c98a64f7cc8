//! Locating the third-party test vectors in `../shared/testvectors`.
//!
//! The vectors are reference data outside this repository. When they are
//! absent a test says so and returns — unless `QSAFE_REQUIRE_SHARED=1` (set
//! by `scripts/test-all.sh` and CI), where absence is a failure.

#![allow(dead_code)]

use std::path::PathBuf;

pub fn testvectors() -> Option<PathBuf> {
    let dir = std::env::var_os("QSAFE_TESTVECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testvectors"));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("QSAFE_REQUIRE_SHARED").as_deref() == Ok("1") {
        panic!("test vectors not found at {} and QSAFE_REQUIRE_SHARED=1", dir.display());
    }
    eprintln!("SKIPPED: test vectors not found at {} (set QSAFE_TESTVECTORS)", dir.display());
    None
}

pub fn read_hex(path: &std::path::Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let clean: String = text.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    hex::decode(clean).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
