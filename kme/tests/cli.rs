//! The `qsafe-kme` binary: help, demo-pki, configuration errors, and a
//! serve run on embedded defaults stopped by SIGTERM.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_qsafe-kme");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).env_remove("RUST_LOG").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn help_teaches_an_example_session() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for needle in
        ["demo-pki --out", "serve --pki-dir", "--cert pki/sae-ric-xapp.pem", "/admin/link/down", "dec_keys?key_ID="]
    {
        assert!(out.contains(needle), "--help lacks {needle:?}");
    }
    let (code, out, _) = run(&["serve", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("QSAFE_KME_SECRET_KEY_RATE") && out.contains("--sae-id-source"));
    assert!(out.contains("An example session"), "serve --help shows the example session too");
}

#[test]
fn demo_pki_writes_files_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let d = dir.to_str().unwrap();
    let (code, out, err) = run(&["demo-pki", "--out", d, "--algorithm", "ecdsa-p256", "--sae", "a1,b2"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("sae-a1.key") && out.contains("0600"), "{out}");
    for f in ["ca.pem", "kme-a.pem", "kme-a.key", "kme-b.pem", "kme-b.key", "sae-a1.pem", "sae-b2.key"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let (code, _, err) = run(&["demo-pki", "--out", d]);
    assert_eq!(code, 1);
    assert!(err.contains("exists") && err.contains("--force"), "{err}");
}

#[test]
fn bad_configuration_exits_2_with_a_clear_message() {
    let (code, _, err) = run(&["serve", "--key-size", "100"]);
    assert_eq!(code, 2);
    assert!(err.contains("multiple of 8") && err.contains("--help"), "{err}");
    let (code, _, err) = run(&[
        "serve",
        "--pki-dir",
        "/nonexistent/pki",
        "--listen-a",
        "127.0.0.1:0",
        "--listen-b",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/pki/ca.pem"), "{err}");
}

#[test]
fn serve_runs_on_embedded_defaults_and_stops_on_sigterm() {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen-a", "127.0.0.1:0", "--listen-b", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut pki_dir = None;
    let mut ready = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("qsafe-kme: no PKI configured; generated a demo PKI (ML-DSA-65) in ") {
            pki_dir = Some(std::path::PathBuf::from(rest));
        }
        if line.starts_with("qsafe-kme: ready ") {
            ready = Some(line);
            break;
        }
    }
    let ready = ready.expect("ready line");
    assert!(ready.contains("(kme-a)") && ready.contains("(kme-b)"), "{ready}");
    let pki_dir = pki_dir.expect("the generated PKI location is printed");
    assert!(pki_dir.join("sae-ric-xapp.key").is_file() && pki_dir.join("ca.pem").is_file());

    // SIGTERM: graceful stop, exit 0.
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "qsafe-kme did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let _ = std::fs::remove_dir_all(pki_dir);
}
