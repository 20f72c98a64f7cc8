//! `qsafe-rapp` as an operator runs it: `--help` teaches, bad invocations get
//! a clear error and a failure status, and `a1` drives a real A1-P v2
//! termination (the `qsafe-a1` service over HTTP on loopback): put, status
//! (with --wait), get, delete, and a refused policy shows the failing path.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use assert_cmd::Command;
use qsafe_a1::http::{A1Handle, Notifier, router};
use qsafe_a1::registry::PolicyTypeRegistry;
use qsafe_a1::service::{A1Service, PolicyEffect, ServiceConfig};
use qsafe_a1::store::MemoryStore;
use serde_json::json;

fn rapp() -> Command {
    Command::cargo_bin("qsafe-rapp").expect("binary")
}

#[test]
fn help_teaches_and_bad_invocations_fail_clearly() {
    let out = rapp().arg("--help").assert().success().get_output().stdout.clone();
    let help = String::from_utf8(out).unwrap();
    for word in ["a1", "e2-view", "Examples:", "--a1p"] {
        assert!(help.contains(word), "--help lacks {word}: {help}");
    }
    let out = rapp().args(["a1", "types"]).env_remove("QSAFE_RAPP_A1P").assert().failure().get_output().stderr.clone();
    assert!(String::from_utf8(out).unwrap().contains("--a1p URL"), "no target named");
    let out =
        rapp().args(["a1", "types", "--pms", "http://127.0.0.1:1"]).assert().failure().get_output().stderr.clone();
    assert!(String::from_utf8(out).unwrap().contains("--ric"));
    let out = rapp()
        .args(["a1", "put", "t", "p", "/nonexistent/policy.json", "--a1p", "http://127.0.0.1:1"])
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8(out).unwrap().contains("/nonexistent/policy.json"));
}

/// An A1-P v2 termination on loopback that marks every applied policy ENFORCED.
async fn a1_termination() -> String {
    let registry = Arc::new(PolicyTypeRegistry::builtin().unwrap());
    let opened = A1Service::open(registry, ServiceConfig::default(), Box::new(MemoryStore::new())).unwrap();
    let (handle, mut effects) = A1Handle::new(opened, Notifier::disabled());
    let h = handle.clone();
    tokio::spawn(async move {
        while let Some(e) = effects.recv().await {
            if let PolicyEffect::Apply { policy_type_id, policy_id, .. } = e {
                let _ = h.update_status(&policy_type_id, policy_id.as_str(), json!({"enforceStatus": "ENFORCED"}));
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(handle)).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a1_put_status_get_delete_against_a_real_termination() {
    let api = a1_termination().await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(&good, r#"{"scope": "all", "rekeyPeriodSeconds": 30, "mode": "either"}"#).unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"rekeyPeriodSeconds": "soon"}"#).unwrap();
    let t = "qsafe-e2-key-freshness_1.0.0";
    let run = move |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let o = rapp().args(&args).output().unwrap();
            (
                o.status.success(),
                String::from_utf8_lossy(&o.stdout).to_string(),
                String::from_utf8_lossy(&o.stderr).to_string(),
            )
        })
    };
    let a = |v: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        v.extend(["--a1p".to_string(), api.clone()]);
        v
    };
    let (ok, out, _) = run(a(&["a1", "types"])).await.unwrap();
    assert!(ok && out.contains(t) && out.contains("qsafe-pqc-trust_1.0.0"), "{out}");
    let (ok, out, err) = run(a(&["a1", "put", t, "lab-1", good.to_str().unwrap()])).await.unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("lab-1: created"), "{out}");
    let (ok, out, _) = run(a(&["a1", "put", t, "lab-1", good.to_str().unwrap()])).await.unwrap();
    assert!(ok && out.contains("lab-1: updated"), "idempotent PUT: {out}");
    let (ok, out, err) = run(a(&["a1", "status", t, "lab-1", "--wait", "ENFORCED", "--timeout", "20"])).await.unwrap();
    assert!(ok && out.contains("ENFORCED"), "{out}{err}");
    let (ok, out, _) = run(a(&["--json", "a1", "get", t, "lab-1"])).await.unwrap();
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rekeyPeriodSeconds"], 30);
    // Refused by the schema: the path is in the error, the policy unchanged.
    let (ok, _, err) = run(a(&["a1", "put", t, "lab-1", bad.to_str().unwrap()])).await.unwrap();
    assert!(!ok && err.contains("/rekeyPeriodSeconds"), "{err}");
    let (_, out, _) = run(a(&["--json", "a1", "get", t, "lab-1"])).await.unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["rekeyPeriodSeconds"], 30);
    let (ok, out, _) = run(a(&["a1", "delete", t, "lab-1"])).await.unwrap();
    assert!(ok && out.contains("deleted"));
    let (ok, _, err) = run(a(&["a1", "get", t, "lab-1"])).await.unwrap();
    assert!(!ok && err.contains("no such policy"), "{err}");
}
