//! Conformance against ETSI GS QKD 014 clients we did not write: the PyPI packages
//! `etsi-qkd-014-client` (LIP6) and `qkdsec` (client and `doctor` probe) talk to the KME model
//! (`qsafe_qkd::kme` behind the test HTTPS server in `support/`) over mutual TLS.
//!
//! Needs a Python with `tests/conformance/requirements.txt` installed, so it is ignored by
//! default and run explicitly:
//!
//! ```text
//! target/pyenv/bin/pip install -r qkd/tests/conformance/requirements.txt
//! cargo test -p qsafe-qkd --test conformance -- --ignored
//! ```
//!
//! The Python interpreter is `$QSAFE_PYTHON`, else `target/pyenv/bin/python` of the
//! workspace. Python's `ssl` (OpenSSL 3.0 on Debian 12) has no ML-DSA, so this test uses
//! ECDSA P-256 certificates; the ML-DSA path is covered by `client_mtls.rs`.

mod support;

use std::path::PathBuf;
use std::process::Command;

use qsafe_qkd::kme::Site;
use support::{MASTER, Pki, SLAVE, STRANGER, TestKme, link_config};

fn python() -> PathBuf {
    std::env::var_os("QSAFE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/pyenv/bin/python"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Python with qkd/tests/conformance/requirements.txt; run with --ignored"]
async fn independent_python_clients_agree_with_the_kme_model() {
    let python = python();
    assert!(python.exists(), "no Python at {} (set QSAFE_PYTHON)", python.display());
    let pki = Pki::classical();
    let kme = TestKme::start(&pki, link_config()).await;

    let dir = std::env::temp_dir().join(format!("qsafe-qkd-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut certs = serde_json::Map::new();
    let mut keys = serde_json::Map::new();
    for sae in [MASTER, SLAVE, STRANGER] {
        let identity = pki.sae(sae);
        let (cert, key) = (dir.join(format!("{sae}.crt")), dir.join(format!("{sae}.key")));
        std::fs::write(&cert, identity.chain_pem()).unwrap();
        std::fs::write(&key, identity.private_key_pem().as_bytes()).unwrap();
        certs.insert(sae.into(), cert.display().to_string().into());
        keys.insert(sae.into(), key.display().to_string().into());
    }
    let ca = dir.join("ca.crt");
    std::fs::write(&ca, pki.root.certificate_pem()).unwrap();
    let config = serde_json::json!({
        "base_urls": [kme.base_url(Site::A), kme.base_url(Site::B)],
        "ca": ca.display().to_string(),
        "saes": [MASTER, SLAVE, STRANGER],
        "certs": certs,
        "keys": keys,
    });
    let config_path = dir.join("config.json");
    std::fs::write(&config_path, config.to_string()).unwrap();

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/etsi014_peers.py");
    let output = tokio::task::spawn_blocking(move || Command::new(python).arg(script).arg(config_path).output())
        .await
        .unwrap()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    let failed: Vec<&str> = stdout.lines().filter(|l| l.contains("\"ok\": false")).collect();
    assert!(output.status.success() && failed.is_empty(), "failed checks:\n{}", failed.join("\n"));
    assert!(stdout.lines().filter(|l| l.contains("\"ok\": true")).count() >= 25, "too few checks ran");
}
