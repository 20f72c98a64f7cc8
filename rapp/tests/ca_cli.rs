//! `qsafe-rapp ca ...` end to end in a temp dir: help text, init/sign/issue/revoke/crl/show/
//! rollover/export, and bad input failing with a clear message and an unchanged ca.json.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const PASS: &str = "correct horse battery staple";

fn ca(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("qsafe-rapp").expect("binary");
    c.env_remove("QSAFE_CA_PASSPHRASE").env("QSAFE_CA_DIR", dir.join("ca")).arg("ca");
    c
}

fn ca_with_pass(dir: &Path) -> Command {
    let mut c = ca(dir);
    c.env("QSAFE_CA_PASSPHRASE", PASS);
    c
}

fn json(c: &mut Command) -> Value {
    let out = c.arg("--json").output().unwrap();
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stderr_of_failure(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "stdout: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stderr).unwrap()
}

fn write_csr(dir: &Path, name: &str, alg: &'static rcgen::SignatureAlgorithm, dns: &[&str]) -> std::path::PathBuf {
    let key = rcgen::KeyPair::generate_for(alg).unwrap();
    let mut params = rcgen::CertificateParams::new(dns.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    let path = dir.join(format!("{name}.csr"));
    std::fs::write(&path, params.serialize_request(&key).unwrap().pem().unwrap()).unwrap();
    path
}

#[test]
fn help_teaches_with_examples() {
    let out = Command::cargo_bin("qsafe-rapp").unwrap().args(["ca", "--help"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "init",
        "sign",
        "issue",
        "revoke",
        "crl",
        "rollover",
        "show",
        "export",
        "QSAFE_CA_PASSPHRASE",
        "--profile o1-server",
        "e2-node",
        "--ca-dir",
    ] {
        assert!(text.contains(needle), "help lacks {needle:?}:\n{text}");
    }
    let out = Command::cargo_bin("qsafe-rapp").unwrap().args(["ca", "sign", "--help"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("--dns") && text.contains("--pqc-only") && text.contains("--days"), "{text}");
}

#[test]
fn init_sign_issue_revoke_crl_show_rollover_export() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let v = json(ca_with_pass(d).args(["init", "--root-algorithm", "ml-dsa-65"]));
    assert_eq!(v["generation"]["root_algorithm"], "ml-dsa-65");
    assert_eq!(std::fs::metadata(d.join("ca")).unwrap().permissions().mode() & 0o777, 0o700);
    let key = std::fs::read_to_string(d.join("ca/gen-1/intermediate.key.pem")).unwrap();
    assert!(key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));

    // Human output by default.
    let csr = write_csr(d, "du1", &rcgen::PKCS_ML_DSA_65, &["du1.oam.example"]);
    let out = ca_with_pass(d)
        .args(["sign"])
        .arg(&csr)
        .args(["--profile", "o1-server", "--out"])
        .arg(d.join("du1.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("issued serial") && text.contains("du1.pem"), "{text}");
    assert_eq!(std::fs::read_to_string(d.join("du1.pem")).unwrap().matches("BEGIN CERTIFICATE").count(), 2);

    // JSON; classical CSR with flags for SANs; passphrase from a file.
    let pf = d.join("pass.txt");
    std::fs::write(&pf, format!("{PASS}\n")).unwrap();
    let csr = write_csr(d, "legacy", &rcgen::PKCS_ECDSA_P256_SHA256, &[]);
    let v = json(ca(d).arg("--passphrase-file").arg(&pf).arg("sign").arg(&csr).args([
        "--profile",
        "e2-node",
        "--dns",
        "gnb-1.ran.example",
        "--ip",
        "10.1.2.3",
        "--days",
        "30",
    ]));
    assert_eq!(v["issued"]["key_algorithm"], "ECDSA-P256");
    assert_eq!(v["issued"]["sans"]["dns"][0], "gnb-1.ran.example");
    let serial = v["issued"]["serial"].as_str().unwrap().to_owned();
    assert!(v["chain_pem"].as_str().unwrap().contains("BEGIN CERTIFICATE"));

    // Server-side key generation.
    let v = json(
        ca_with_pass(d)
            .args(["issue", "--profile", "e2-node", "--cn", "gnb-2", "--dns", "gnb-2.ran.example", "--out-cert"])
            .arg(d.join("gnb2.pem"))
            .arg("--out-key")
            .arg(d.join("gnb2.key")),
    );
    assert_eq!(v["issued"]["key_algorithm"], "ML-DSA-65");
    assert_eq!(std::fs::metadata(d.join("gnb2.key")).unwrap().permissions().mode() & 0o777, 0o600);

    let v = json(ca(d).args(["revoke", &serial, "--reason", "keyCompromise"]));
    assert_eq!(v["revoked"]["status"], "revoked");
    assert_eq!(v["revoked"]["reason"], "keyCompromise");
    let v = json(ca_with_pass(d).args(["crl", "--out"]).arg(d.join("crl.pem")));
    assert_eq!(v["crl"]["number"], 1);
    assert_eq!(v["crl"]["entries"], 1);
    assert!(std::fs::read_to_string(d.join("crl.pem")).unwrap().starts_with("-----BEGIN X509 CRL-----"));

    let v = json(ca(d).arg("show"));
    assert_eq!(v["metadata"]["issued"].as_array().unwrap().len(), 3);
    assert_eq!(v["metadata"]["crl_number"], 1);
    let out = ca(d).arg("show").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("REVOKED keyCompromise") && text.contains("issued: 3 (1 revoked)"), "{text}");

    let v = json(ca_with_pass(d).arg("rollover"));
    assert_eq!(v["generation"]["number"], 2);
    assert_eq!(v["generation"]["cross_signed_by"], 1);
    let out = ca(d).args(["export", "trust-bundle"]).output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().matches("BEGIN CERTIFICATE").count(), 2);
    let out = ca(d).args(["export", "chain", "--cross"]).output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().matches("BEGIN CERTIFICATE").count(), 2);
}

#[test]
fn bad_input_fails_clearly_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // No passphrase at all.
    let err = stderr_of_failure(ca(d).arg("init"));
    assert!(err.contains("QSAFE_CA_PASSPHRASE"), "{err}");
    assert!(!d.join("ca").exists());
    // Too short.
    let err = stderr_of_failure(ca(d).env("QSAFE_CA_PASSPHRASE", "short").arg("init"));
    assert!(err.contains("too short"), "{err}");
    assert!(!d.join("ca").exists());

    ca_with_pass(d).arg("init").assert().success();
    let meta = || std::fs::read_to_string(d.join("ca/ca.json")).unwrap();
    let before = meta();
    let csr = write_csr(d, "x", &rcgen::PKCS_ML_DSA_65, &["x.example"]);

    let err = stderr_of_failure(ca(d).arg("sign").arg(&csr).args(["--profile", "tls-server"]));
    assert!(err.contains("no CA passphrase"), "{err}");
    let err = stderr_of_failure(
        ca(d)
            .env("QSAFE_CA_PASSPHRASE", "the wrong passphrase")
            .arg("sign")
            .arg(&csr)
            .args(["--profile", "tls-server"]),
    );
    assert!(err.contains("wrong passphrase or corrupt key"), "{err}");
    let bad = d.join("bad.csr");
    std::fs::write(&bad, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n").unwrap();
    let err = stderr_of_failure(ca_with_pass(d).arg("sign").arg(&bad).args(["--profile", "tls-server"]));
    assert!(err.contains("CSR refused"), "{err}");
    let err =
        stderr_of_failure(ca_with_pass(d).arg("sign").arg(&csr).args(["--profile", "o1-server", "--days", "9999"]));
    assert!(err.contains("allows 1..="), "{err}");
    let err = stderr_of_failure(ca(d).args(["revoke", "abcdef"]));
    assert!(err.contains("not issued by this CA"), "{err}");
    let err = stderr_of_failure(ca_with_pass(d).arg("init"));
    assert!(err.contains("already holds a CA"), "{err}");
    // clap rejects an unknown profile (exit 2) before anything runs.
    let out = ca_with_pass(d).arg("sign").arg(&csr).args(["--profile", "nope"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown profile"));

    assert_eq!(meta(), before, "ca.json changed after refused commands");
}
