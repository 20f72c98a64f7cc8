//! The A1 round trip (issue 7, "Bar"): the rApp side puts a key-freshness
//! policy over A1-P v2 (the `qsafe-a1` client, real HTTP) → the xApp's key
//! plane enforces it (its status and the link's governing policy show it) →
//! status ENFORCED reaches the rApp's notificationDestination. Also: a scope
//! naming an unknown node is NOT_ENFORCED with the reason; an invalid body
//! is refused with the failing path and changes nothing; the policies survive
//! an xApp restart; a PQC trust policy with a non-ML-DSA anchor is
//! NOT_ENFORCED.
//!
//! One process: the xApp (E2 role + key plane + A1 termination on an HTTP
//! port) against `qsafe-e2node --keyed` nodes over in-memory E2, a real KME
//! pair, real ML-DSA / ML-KEM. Waits are deadlines on channels or polls.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use qsafe_a1::client::{A1pClient, A1pConfig, PutOutcome};
use qsafe_a1::types::{KEY_FRESHNESS_TYPE_ID, PQC_TRUST_TYPE_ID};
use qsafe_xapp::freshness::LinkState;
use qsafe_xfrm::MemoryDataPlane;
use serde_json::{Value, json};

const NODE_1: &str = "gNB/001-01/0x1000:28";
const NODE_2: &str = "gNB/001-01/0x1001:28";

fn freshness_policy(scope: Value, period: u64) -> Value {
    json!({ "scope": scope, "rekeyPeriodSeconds": period, "maxKeyAgeSeconds": period * 10, "mode": "at-least-pqc" })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_round_trip_enforced_status_and_restart() {
    let (dir, pki) = common::demo_pki(2);
    let kme = common::start_kme(&pki, |s| s.link.initial_key_count = 256).await;
    let pki_dir = dir.path().to_str().expect("utf-8").to_string();
    let store = dir.path().join("a1-policies.redb");
    let store_arg = store.to_str().unwrap().to_string();
    let settings =
        common::xapp_settings(&pki_dir, &kme, &["--rekey-period", "30", "--mode", "either", "--a1-store", &store_arg]);
    let mut xapp = common::start_xapp(&settings).await;
    let api = xapp.api.clone().expect("A1 apiRoot");
    let (node_stop, node_run) = common::spawn_keyed_nodes(
        xapp.handle.clone(),
        &pki_dir,
        &kme,
        2,
        &["--rate", "10", "--grace-ms", "200"],
        Arc::new(MemoryDataPlane::new()),
    );
    // Both links protected under the configured policy first.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !{
        let s = xapp.monitor.lock().unwrap().status(SystemTime::now());
        s.links.len() == 2 && s.links.iter().all(|l| l.state == LinkState::Protected)
    } {
        assert!(Instant::now() < deadline, "links not protected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let client = A1pClient::new(A1pConfig::new(api.clone())).expect("client");
    let (notify, mut rx) = common::notification_listener().await;
    assert!(client.policy_type_ids().await.unwrap().contains(&KEY_FRESHNESS_TYPE_ID.to_string()));

    // ---- round trip: PUT → enforced in the key plane → ENFORCED notification
    let mut rtts = Vec::new();
    for i in 0..20u64 {
        let id = format!("rt-{i}");
        let t0 = Instant::now();
        let out = client
            .put_policy(
                KEY_FRESHNESS_TYPE_ID,
                &id,
                &freshness_policy(json!([NODE_1]), 20 + i),
                Some(&format!("{notify}/{id}")),
            )
            .await
            .expect("put");
        assert_eq!(out, PutOutcome::Created);
        let (status, at) = common::wait_status(&mut rx, &id, "ENFORCED").await;
        rtts.push(at.duration_since(t0));
        assert_eq!(status["nodes"][0]["node"], NODE_1, "{status}");
        // The key plane really uses it: the link's governing policy and period.
        let m = xapp.monitor.lock().unwrap();
        assert_eq!(m.policy_for(NODE_1).rekey_period, Duration::from_secs(20 + i));
        assert_eq!(m.status(SystemTime::now()).link(NODE_1).unwrap().policy_id.as_deref(), Some(id.as_str()));
    }
    rtts.sort();
    println!(
        "A1 round trip PUT -> ENFORCED notification: p50 {:?}, p99 {:?}, max {:?} (n = {})",
        rtts[rtts.len() / 2],
        rtts[(rtts.len() * 99).div_ceil(100) - 1],
        rtts[rtts.len() - 1],
        rtts.len()
    );
    // The rApp can also poll it.
    let polled = client.policy_status(KEY_FRESHNESS_TYPE_ID, "rt-19").await.unwrap().unwrap();
    assert_eq!(polled["enforceStatus"], "ENFORCED");

    // ---- a scope naming an unknown node: NOT_ENFORCED with the reason
    let unknown = "gNB/001-01/0x1fff:28";
    client
        .put_policy(
            KEY_FRESHNESS_TYPE_ID,
            "unknown",
            &freshness_policy(json!([NODE_2, unknown]), 25),
            Some(&format!("{notify}/unknown")),
        )
        .await
        .unwrap();
    let (status, _) = common::wait_status(&mut rx, "unknown", "NOT_ENFORCED").await;
    assert!(status["enforceReason"].as_str().unwrap().contains(&format!("{unknown}: unknown-node")), "{status}");
    assert_eq!(xapp.monitor.lock().unwrap().policy_for(NODE_2).rekey_period, Duration::from_secs(25));

    // ---- an invalid body: 400 with the path, nothing changes
    let err = client
        .put_policy(KEY_FRESHNESS_TYPE_ID, "unknown", &json!({"rekeyPeriodSeconds": -1}), None)
        .await
        .expect_err("refused");
    let text = format!("{err:?}");
    assert!(text.contains("400") && text.contains("/rekeyPeriodSeconds"), "{text}");
    assert_eq!(xapp.monitor.lock().unwrap().policy_for(NODE_2).rekey_period, Duration::from_secs(25));

    // ---- a trust policy whose anchor is not ML-DSA: NOT_ENFORCED, nothing changes
    let classical = rcgen_like_classical_pem();
    client
        .put_policy(
            PQC_TRUST_TYPE_ID,
            "trust-bad",
            &json!({"trustAnchors": [{"name": "p256", "pem": classical}]}),
            Some(&format!("{notify}/trust-bad")),
        )
        .await
        .unwrap();
    let (status, _) = common::wait_status(&mut rx, "trust-bad", "NOT_ENFORCED").await;
    assert!(status["enforceReason"].as_str().unwrap().contains("not ML-DSA"), "{status}");
    // The PKI's own CA as a trust policy: ENFORCED with its fingerprint.
    let ca = std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();
    client
        .put_policy(
            PQC_TRUST_TYPE_ID,
            "trust-ca",
            &json!({"trustAnchors": [{"name": "demo-ca", "pem": ca}], "acceptedSignatureAlgorithms": ["ML-DSA-65"]}),
            Some(&format!("{notify}/trust-ca")),
        )
        .await
        .unwrap();
    let (status, _) = common::wait_status(&mut rx, "trust-ca", "ENFORCED").await;
    assert_eq!(status["anchors"][0]["sha256"].as_str().unwrap().len(), 64, "{status}");

    // ---- restart: the policies come back from the store and apply again
    node_stop.send(true).unwrap();
    let _ = node_run.await.unwrap();
    xapp.stop.send(true).unwrap();
    let _ = xapp.run.await.unwrap();
    // The endpoint and the A1 plane end with the xApp (the store closes).
    let _ = xapp.http.take().expect("http task").await.unwrap();
    let mut xapp = common::start_xapp(&settings).await;
    let api = xapp.api.clone().expect("A1 apiRoot");
    let deadline = Instant::now() + Duration::from_secs(10);
    while xapp.monitor.lock().unwrap().policies().a1_policies().count() < 21 {
        assert!(Instant::now() < deadline, "policies not reloaded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(xapp.monitor.lock().unwrap().policy_for(NODE_2).rekey_period, Duration::from_secs(25));
    let client = A1pClient::new(A1pConfig::new(api.clone())).expect("client");
    assert!(client.get_policy(KEY_FRESHNESS_TYPE_ID, "rt-7").await.unwrap().is_some());
    assert!(client.delete_policy(KEY_FRESHNESS_TYPE_ID, "unknown").await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    while xapp.monitor.lock().unwrap().policy_for(NODE_2).rekey_period != Duration::from_secs(30) {
        assert!(Instant::now() < deadline, "the deleted policy still governs node 2");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    xapp.stop.send(true).unwrap();
    let _ = xapp.run.await.unwrap();
    let _ = xapp.http.take().expect("http task").await.unwrap();
}

/// A classical (ECDSA P-256) self-signed certificate, PEM.
fn rcgen_like_classical_pem() -> String {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["classical".into()]).unwrap().self_signed(&key).unwrap();
    cert.pem()
}
