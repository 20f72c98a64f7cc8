//! Runs the spin model (`model/check.sh`) when spin and a C compiler are installed. With
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `QSAFE_REQUIRE_SPIN=1` a missing spin is a failure, not a skip.

use std::path::Path;
use std::process::Command;

fn have(cmd: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {cmd}")).output().is_ok_and(|o| o.status.success())
}

#[test]
fn spin_model_holds_and_catches_the_broken_variants() {
    let required = std::env::var("QSAFE_REQUIRE_SPIN").is_ok_and(|v| v == "1");
    if !have("spin") || !(have("cc") || have("gcc")) {
        assert!(!required, "QSAFE_REQUIRE_SPIN=1 but spin or cc is missing (apt-get install spin gcc)");
        println!("SKIPPED: spin or cc not installed");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("model/check.sh");
    let out = Command::new("bash").arg(&script).output().expect("run check.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "model check failed");
    assert!(stdout.contains("ok   safety"));
    assert!(stdout.contains("ok   liveness"));
    assert!(stdout.contains("ok   broken-early-delete"));
    assert!(stdout.contains("ok   no-bootstrap-repair"));
}
