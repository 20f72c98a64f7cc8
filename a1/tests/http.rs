//! The A1-P v2 termination over real HTTP (axum on 127.0.0.1:0) with the
//! rApp's A1pClient: round trips, status notifications to a local
//! listener, persistence across a restart, client retries and timeouts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use bytes::Bytes;
use common::{Callback, DEADLINE, Flaky, Server, a1_server, cert_pem, registry};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use qsafe_a1::client::{A1PolicyClient, A1pClient, A1pConfig, ClientError, PutOutcome, RetryPolicy};
use qsafe_a1::http::{A1Handle, DeliveryResult, Notifier, NotifierConfig, router};
use qsafe_a1::service::{CONTENT_TYPE_PROBLEM, pending_status};
use qsafe_a1::{
    A1Service, JsonFileStore, KEY_FRESHNESS_TYPE_ID, MemoryStore, PQC_TRUST_TYPE_ID, PolicyEffect, ServiceConfig,
};
use serde_json::{Value, json};

fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy { max_attempts, initial_backoff: Duration::from_millis(10), max_backoff: Duration::from_millis(50) }
}

fn client(url: &str) -> A1pClient {
    A1pClient::new(A1pConfig { retry: fast_retry(3), ..A1pConfig::new(url) }).expect("client")
}

fn fast_notifier() -> NotifierConfig {
    NotifierConfig { timeout: Duration::from_secs(2), retry: fast_retry(4) }
}

/// A raw request, for what the client never sends (wrong content type,
/// oversized bodies).
async fn raw(method: &str, url: &str, content_type: &str, body: Vec<u8>) -> (u16, Option<String>, Value) {
    let c = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    let resp = tokio::time::timeout(DEADLINE, c.request(req)).await.expect("in time").expect("answer");
    let status = resp.status().as_u16();
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (status, ct, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn round_trip_with_a1p_client() {
    let (server, _handle, mut effects) = a1_server(Box::new(MemoryStore::new()), Notifier::disabled()).await;
    let c = client(&server.url());

    assert_eq!(c.policy_type_ids().await.expect("types"), vec![KEY_FRESHNESS_TYPE_ID, PQC_TRUST_TYPE_ID]);
    let t = c.policy_type(PQC_TRUST_TYPE_ID).await.expect("get").expect("known");
    assert_eq!(t["policySchema"]["required"], json!(["trustAnchors"]));
    assert!(c.policy_type("nope_1.0.0").await.expect("404 is None").is_none());
    assert_eq!(c.policy_ids(KEY_FRESHNESS_TYPE_ID).await.expect("ids"), Some(vec![]));
    assert_eq!(c.policy_ids("nope_1.0.0").await.expect("ids"), None);

    let body = json!({"rekeyPeriodSeconds": 30, "scope": ["gNB/001-01/1:22"]});
    assert_eq!(c.put_policy(KEY_FRESHNESS_TYPE_ID, "p 1", &body, None).await.expect("put"), PutOutcome::Created);
    let Ok(PolicyEffect::Apply { policy_id, .. }) = effects.try_recv() else { panic!("Apply after 201") };
    assert_eq!(policy_id.as_str(), "p 1");
    // Idempotent: 200 and no new effect.
    assert_eq!(c.put_policy(KEY_FRESHNESS_TYPE_ID, "p 1", &body, None).await.expect("put"), PutOutcome::Updated);
    assert!(effects.try_recv().is_err());

    assert_eq!(c.get_policy(KEY_FRESHNESS_TYPE_ID, "p 1").await.expect("get"), Some(body.clone()));
    assert_eq!(c.policy_ids(KEY_FRESHNESS_TYPE_ID).await.expect("ids"), Some(vec!["p 1".to_owned()]));
    assert_eq!(c.policy_status(KEY_FRESHNESS_TYPE_ID, "p 1").await.expect("status"), Some(pending_status()));

    assert!(c.delete_policy(KEY_FRESHNESS_TYPE_ID, "p 1").await.expect("delete"));
    assert!(matches!(effects.try_recv(), Ok(PolicyEffect::Remove { .. })));
    assert!(!c.delete_policy(KEY_FRESHNESS_TYPE_ID, "p 1").await.expect("second delete"));
    assert_eq!(c.get_policy(KEY_FRESHNESS_TYPE_ID, "p 1").await.expect("get"), None);
    assert_eq!(c.policy_status(KEY_FRESHNESS_TYPE_ID, "p 1").await.expect("status"), None);
}

#[tokio::test]
async fn refusals_carry_problem_details_and_are_not_retried() {
    let opened = A1Service::open(registry(), ServiceConfig::default(), Box::new(MemoryStore::new())).expect("open");
    let (handle, mut effects) = A1Handle::new(opened, Notifier::disabled());
    let counter = Flaky::new(0, StatusCode::OK);
    let a1 = Server::start(counter.wrap(router(handle))).await;
    let c = client(&a1.url());
    let err =
        c.put_policy(KEY_FRESHNESS_TYPE_ID, "p1", &json!({"mode": "qkd", "colour": 1}), None).await.expect_err("400");
    let ClientError::Status { status, attempts, problem: Some(p), .. } = &err else { panic!("{err:?}") };
    assert_eq!((*status, *attempts), (400, 1));
    let params: Vec<&str> = p.invalid_params.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(params, vec!["/mode", "/colour"]);
    assert!(err.to_string().contains("/mode"), "{err}");
    assert!(effects.try_recv().is_err());
    assert_eq!(counter.seen(), 1, "a 400 is not retried");

    // Checked before sending: a bad id, and (with a registry) a bad policy.
    let err = c.put_policy(KEY_FRESHNESS_TYPE_ID, "a/b", &json!({}), None).await.expect_err("bad id");
    assert!(matches!(err, ClientError::InvalidArgument { .. }), "{err:?}");
    let checked = A1pClient::new(A1pConfig { registry: Some(registry()), ..A1pConfig::new(a1.url()) }).expect("c");
    let err = checked.put_policy(KEY_FRESHNESS_TYPE_ID, "p1", &json!({"mode": "qkd"}), None).await.expect_err("x");
    let ClientError::InvalidPolicy { violations, .. } = &err else { panic!("{err:?}") };
    assert_eq!(violations[0].path, "/mode");
    assert_eq!(c.get_policy(KEY_FRESHNESS_TYPE_ID, "p1").await.expect("get"), None);
    assert_eq!(counter.seen(), 2, "the refused PUTs never left the client");
}

#[tokio::test]
async fn edge_refuses_oversized_and_non_json_bodies() {
    let (server, handle, _effects) = a1_server(Box::new(MemoryStore::new()), Notifier::disabled()).await;
    let url = format!("{}/A1-P/v2/policytypes/{KEY_FRESHNESS_TYPE_ID}/policies/p1", server.url());
    let big = vec![b' '; handle.max_body_bytes() + 10];
    let (status, ct, p) = raw("PUT", &url, "application/json", big).await;
    assert_eq!((status, ct.as_deref()), (413, Some(CONTENT_TYPE_PROBLEM)));
    assert_eq!(p["status"], 413);
    let (status, ct, _) = raw("PUT", &url, "text/plain", b"{}".to_vec()).await;
    assert_eq!((status, ct.as_deref()), (415, Some(CONTENT_TYPE_PROBLEM)));
    let (status, _, p) = raw("PUT", &url, "application/json", b"{\"mode\": ".to_vec()).await;
    assert_eq!(status, 400);
    assert!(p["detail"].as_str().expect("detail").contains("line 1 column"), "{p}");
    let (status, _, _) = raw("POST", &url, "application/json", b"{}".to_vec()).await;
    assert_eq!(status, 405);
    assert!(handle.with_service(|s| s.stored_policies().is_empty()));
}

#[tokio::test]
async fn status_change_is_notified_to_the_destination() {
    let mut cb = Callback::start(0, StatusCode::OK).await;
    let (notifier, mut reports) = Notifier::spawn_with_reports(fast_notifier());
    let (server, handle, _effects) = a1_server(Box::new(MemoryStore::new()), notifier).await;
    let c = client(&server.url());
    let dest = cb.url("p1?token=a%20b&x=1");
    c.put_policy(KEY_FRESHNESS_TYPE_ID, "p1", &json!({}), Some(&dest)).await.expect("put");

    let enforced = json!({"enforceStatus": "ENFORCED", "nodes": [{"node": "gNB/1", "enforced": true}]});
    assert!(handle.update_status(KEY_FRESHNESS_TYPE_ID, "p1", enforced.clone()).expect("valid status"));
    let got = cb.next().await;
    assert_eq!(got.path, "/notify/p1");
    assert_eq!(got.query.as_deref(), Some("token=a%20b&x=1"));
    assert_eq!(got.content_type.as_deref(), Some("application/json"));
    assert_eq!(got.body, enforced);
    let report = tokio::time::timeout(DEADLINE, reports.recv()).await.expect("in time").expect("report");
    assert_eq!((report.attempts, report.result), (1, DeliveryResult::Delivered { status: 204 }));

    // The same status again is not a change: nothing is sent.
    assert!(!handle.update_status(KEY_FRESHNESS_TYPE_ID, "p1", enforced.clone()).expect("valid"));
    // An update makes it pending again, which is notified too.
    c.put_policy(KEY_FRESHNESS_TYPE_ID, "p1", &json!({"mode": "either"}), Some(&dest)).await.expect("put");
    assert_eq!(cb.next().await.body, pending_status());
    assert_eq!(c.policy_status(KEY_FRESHNESS_TYPE_ID, "p1").await.expect("status"), Some(pending_status()));
}

#[tokio::test]
async fn notifier_retries_5xx_and_gives_up_on_4xx() {
    let mut flaky_cb = Callback::start(2, StatusCode::SERVICE_UNAVAILABLE).await;
    let mut refusing_cb = Callback::start(u32::MAX, StatusCode::BAD_REQUEST).await;
    let (notifier, mut reports) = Notifier::spawn_with_reports(fast_notifier());
    let (server, handle, _effects) = a1_server(Box::new(MemoryStore::new()), notifier).await;
    let c = client(&server.url());
    c.put_policy(KEY_FRESHNESS_TYPE_ID, "a", &json!({}), Some(&flaky_cb.url("a"))).await.expect("put");
    c.put_policy(KEY_FRESHNESS_TYPE_ID, "b", &json!({}), Some(&refusing_cb.url("b"))).await.expect("put");
    let st = json!({"enforceStatus": "NOT_ENFORCED", "enforceReason": "unknown-node"});
    handle.update_status(KEY_FRESHNESS_TYPE_ID, "a", st.clone()).expect("a");
    handle.update_status(KEY_FRESHNESS_TYPE_ID, "b", st.clone()).expect("b");

    let mut by_id = std::collections::BTreeMap::new();
    for _ in 0..2 {
        let r = tokio::time::timeout(DEADLINE, reports.recv()).await.expect("in time").expect("report");
        by_id.insert(r.job.policy_id.clone(), r);
    }
    assert_eq!(by_id["a"].attempts, 3);
    assert_eq!(by_id["a"].result, DeliveryResult::Delivered { status: 204 });
    assert_eq!(by_id["b"].attempts, 1);
    assert!(matches!(&by_id["b"].result, DeliveryResult::Failed { reason } if reason.contains("400")));
    for _ in 0..3 {
        assert_eq!(flaky_cb.next().await.body, st);
    }
    assert_eq!(refusing_cb.next().await.body, st);
    assert_eq!(refusing_cb.posts.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn policies_survive_a_restart_with_the_file_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a1-policies.json");
    let trust = json!({"trustAnchors": [{"name": "root-g1", "pem": cert_pem(7)}]});
    let fresh = json!({"rekeyPeriodSeconds": 120, "maxKeyAgeSeconds": 600});
    {
        let store = JsonFileStore::open(&path).expect("open");
        let (server, _h, _e) = a1_server(Box::new(store), Notifier::disabled()).await;
        let c = client(&server.url());
        c.put_policy(PQC_TRUST_TYPE_ID, "roots", &trust, None).await.expect("put");
        c.put_policy(KEY_FRESHNESS_TYPE_ID, "f1", &fresh, Some("http://127.0.0.1:9/n")).await.expect("put");
        c.put_policy(KEY_FRESHNESS_TYPE_ID, "f2", &fresh, None).await.expect("put");
        assert!(c.delete_policy(KEY_FRESHNESS_TYPE_ID, "f2").await.expect("delete"));
    }
    // A new process: the file is read again, the policies served and re-applied.
    let store = JsonFileStore::open(&path).expect("reopen");
    let opened = A1Service::open(registry(), ServiceConfig::default(), Box::new(store)).expect("open");
    assert!(opened.skipped.is_empty());
    let (handle, mut effects) = A1Handle::new(opened, Notifier::disabled());
    let server = Server::start(router(handle)).await;
    let mut applied = Vec::new();
    while let Ok(PolicyEffect::Apply { policy_id, .. }) = effects.try_recv() {
        applied.push(policy_id.to_string());
    }
    applied.sort();
    assert_eq!(applied, vec!["f1", "roots"]);
    let c = client(&server.url());
    assert_eq!(c.get_policy(PQC_TRUST_TYPE_ID, "roots").await.expect("get"), Some(trust));
    assert_eq!(c.get_policy(KEY_FRESHNESS_TYPE_ID, "f1").await.expect("get"), Some(fresh));
    assert_eq!(c.get_policy(KEY_FRESHNESS_TYPE_ID, "f2").await.expect("get"), None);
    assert_eq!(c.policy_status(KEY_FRESHNESS_TYPE_ID, "f1").await.expect("status"), Some(pending_status()));
}

#[tokio::test]
async fn client_retries_503_and_429_then_succeeds() {
    let opened = A1Service::open(registry(), ServiceConfig::default(), Box::new(MemoryStore::new())).expect("open");
    let (handle, _effects) = A1Handle::new(opened, Notifier::disabled());
    let flaky = Flaky::new(2, StatusCode::SERVICE_UNAVAILABLE);
    let server = Server::start(flaky.wrap(router(handle.clone()))).await;
    let c = client(&server.url());
    assert_eq!(c.put_policy(KEY_FRESHNESS_TYPE_ID, "p", &json!({}), None).await.expect("put"), PutOutcome::Created);
    assert_eq!(flaky.seen(), 3);

    let flaky = Flaky::new(1, StatusCode::TOO_MANY_REQUESTS);
    let server = Server::start(flaky.wrap(router(handle.clone()))).await;
    let c = client(&server.url());
    assert_eq!(c.policy_type_ids().await.expect("types").len(), 2);
    assert_eq!(flaky.seen(), 2);

    // More failures than tries: the last 503 is returned with its problem.
    let flaky = Flaky::new(10, StatusCode::SERVICE_UNAVAILABLE);
    let server = Server::start(flaky.wrap(router(handle))).await;
    let err = client(&server.url()).get_policy(KEY_FRESHNESS_TYPE_ID, "p").await.expect_err("503");
    let ClientError::Status { status: 503, attempts: 3, problem: Some(p), .. } = &err else { panic!("{err:?}") };
    assert_eq!(p.detail.as_deref(), Some("injected"));
    assert_eq!(flaky.seen(), 3);
}

#[tokio::test]
async fn client_reports_connect_failures_and_timeouts() {
    // A port that was just free: connection refused on every try.
    let addr = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr")
    };
    let err = client(&format!("http://{addr}")).policy_type_ids().await.expect_err("refused");
    assert!(matches!(err, ClientError::Connect { attempts: 3, .. }), "{err:?}");

    // A listener that accepts and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = silent.local_addr().expect("addr");
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let c = A1pClient::new(A1pConfig {
        request_timeout: Duration::from_millis(200),
        retry: fast_retry(2),
        ..A1pConfig::new(format!("http://{addr}"))
    })
    .expect("client");
    let err = c.policy_type_ids().await.expect_err("timeout");
    assert!(matches!(err, ClientError::Timeout { attempts: 2, .. }), "{err:?}");
    hold.abort();
}

#[tokio::test]
async fn trait_object_use_through_any_client() {
    let (server, _h, _e) = a1_server(Box::new(MemoryStore::new()), Notifier::disabled()).await;
    let any =
        qsafe_a1::client::AnyA1Client::new(qsafe_a1::client::A1ClientConfig::Direct(A1pConfig::new(server.url())))
            .expect("client");
    exercise(&any).await;
}

async fn exercise(c: &impl A1PolicyClient) {
    assert!(c.policy_type_ids().await.expect("types").contains(&KEY_FRESHNESS_TYPE_ID.to_owned()));
    let body = json!({"onViolation": "degrade"});
    assert_eq!(c.put_policy(KEY_FRESHNESS_TYPE_ID, "x", &body, None).await.expect("put"), PutOutcome::Created);
    assert_eq!(c.get_policy(KEY_FRESHNESS_TYPE_ID, "x").await.expect("get"), Some(body));
    assert_eq!(c.policy_status(KEY_FRESHNESS_TYPE_ID, "x").await.expect("status"), Some(pending_status()));
    assert!(c.delete_policy(KEY_FRESHNESS_TYPE_ID, "x").await.expect("delete"));
}
