//! The rApp's PmsClient against the A1PMS v2 simulator, which forwards to
//! the xApp's A1-P v2 termination over real HTTP: service registration,
//! keepalive and expiry, policy put/get/delete/status, the RIC's refusals
//! passed on, and client retries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{Callback, Flaky, Server, a1_server, eventually};
use qsafe_a1::client::{
    A1ClientConfig, A1PolicyClient, AnyA1Client, ClientError, PmsClient, PmsConfig, PutOutcome, RetryPolicy,
};
use qsafe_a1::http::{A1Handle, Notifier, NotifierConfig};
use qsafe_a1::pms_sim::{PmsSimConfig, PmsSimHandle, pms_router};
use qsafe_a1::service::pending_status;
use qsafe_a1::{KEY_FRESHNESS_TYPE_ID, MemoryStore, PQC_TRUST_TYPE_ID, PolicyEffect};
use serde_json::json;
use tokio::sync::mpsc;

const RIC: &str = "ric-1";

/// xApp A1-P termination ← PMS simulator ← (optional flaky front).
struct Rig {
    _ric: Server,
    xapp: A1Handle,
    effects: mpsc::UnboundedReceiver<PolicyEffect>,
    sim: PmsSimHandle,
    pms: Server,
    flaky: Flaky,
    _supervision: tokio::task::JoinHandle<()>,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self._supervision.abort();
    }
}

async fn rig(flaky: Flaky) -> Rig {
    let notifier = Notifier::spawn(NotifierConfig::default());
    let (ric, xapp, effects) = a1_server(Box::new(MemoryStore::new()), notifier).await;
    let sim = PmsSimHandle::new(PmsSimConfig::single(RIC, ric.url())).expect("sim");
    let supervision = sim.spawn_supervision();
    let pms = Server::start(flaky.wrap(pms_router(sim.clone()))).await;
    Rig { _ric: ric, xapp, effects, sim, pms, flaky, _supervision: supervision }
}

fn config(rig: &Rig, service_id: &str) -> PmsConfig {
    PmsConfig {
        keep_alive_interval_seconds: 60,
        retry: RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
        },
        ..PmsConfig::new(rig.pms.url(), RIC, service_id)
    }
}

fn xapp_has(rig: &Rig, type_id: &str, id: &str) -> bool {
    rig.xapp.with_service(|s| s.status(type_id, id).is_some())
}

#[tokio::test]
async fn register_put_status_delete_through_the_pms() {
    let mut rig = rig(Flaky::new(0, StatusCode::OK)).await;
    let pms = PmsClient::new(config(&rig, "qsafe-rapp")).expect("client");

    assert_eq!(pms.register_service().await.expect("register"), PutOutcome::Created);
    assert_eq!(pms.register_service().await.expect("re-register"), PutOutcome::Updated);
    pms.keepalive().await.expect("keepalive");
    assert_eq!(rig.sim.with_sim(|s| s.service_ids()), vec!["qsafe-rapp"]);

    assert_eq!(pms.policy_type_ids().await.expect("types"), vec![KEY_FRESHNESS_TYPE_ID, PQC_TRUST_TYPE_ID]);

    let body = json!({"rekeyPeriodSeconds": 30, "onViolation": "isolate"});
    assert_eq!(pms.put_policy(KEY_FRESHNESS_TYPE_ID, "fresh-1", &body, None).await.expect("put"), PutOutcome::Created);
    // Forwarded: the xApp's termination holds it and emitted Apply.
    assert!(xapp_has(&rig, KEY_FRESHNESS_TYPE_ID, "fresh-1"));
    assert!(matches!(rig.effects.try_recv(), Ok(PolicyEffect::Apply { .. })));
    assert_eq!(pms.put_policy(KEY_FRESHNESS_TYPE_ID, "fresh-1", &body, None).await.expect("put"), PutOutcome::Updated);
    assert!(rig.effects.try_recv().is_err(), "same policy again: no new effect at the xApp");

    let info = pms.get_policy_info("fresh-1").await.expect("get").expect("exists");
    assert_eq!((info.ric_id.as_str(), info.service_id.as_str()), (RIC, "qsafe-rapp"));
    assert_eq!(info.policy_data, body);
    assert_eq!(A1PolicyClient::get_policy(&pms, KEY_FRESHNESS_TYPE_ID, "fresh-1").await.expect("get"), Some(body));

    // Status: pending until the xApp reports, then what it reports.
    let st = pms.policy_status_info("fresh-1").await.expect("status").expect("exists");
    assert_eq!(st.status, pending_status());
    assert!(st.last_modified.as_deref().is_some_and(|t| t.ends_with('Z') && t.len() == 20), "{st:?}");
    let enforced = json!({"enforceStatus": "ENFORCED"});
    rig.xapp.update_status(KEY_FRESHNESS_TYPE_ID, "fresh-1", enforced.clone()).expect("status");
    assert_eq!(A1PolicyClient::policy_status(&pms, KEY_FRESHNESS_TYPE_ID, "fresh-1").await.expect("s"), Some(enforced));

    assert!(pms.delete_policy("fresh-1").await.expect("delete"));
    assert!(!xapp_has(&rig, KEY_FRESHNESS_TYPE_ID, "fresh-1"));
    assert!(matches!(rig.effects.try_recv(), Ok(PolicyEffect::Remove { .. })));
    assert!(!pms.delete_policy("fresh-1").await.expect("second delete"));
    assert!(pms.get_policy_info("fresh-1").await.expect("get").is_none());
    assert!(pms.policy_status_info("fresh-1").await.expect("status").is_none());

    // Unregistering deletes the service's policies at the RIC.
    pms.put_policy(KEY_FRESHNESS_TYPE_ID, "fresh-2", &json!({}), None).await.expect("put");
    assert!(pms.unregister_service().await.expect("unregister"));
    assert!(!pms.unregister_service().await.expect("again"));
    eventually("fresh-2 deleted at the RIC", || async { !xapp_has(&rig, KEY_FRESHNESS_TYPE_ID, "fresh-2") }).await;
    assert_eq!(pms.keepalive().await.expect_err("unknown").status(), Some(404));
    assert_eq!(rig.flaky.seen(), 18, "one request per call: nothing was retried");
}

#[tokio::test]
async fn the_rics_refusal_reaches_the_rapp_unretried() {
    let rig = rig(Flaky::new(0, StatusCode::OK)).await;
    let pms = PmsClient::new(config(&rig, "qsafe-rapp")).expect("client");
    let before = rig.flaky.seen();
    let err = pms
        .put_policy(KEY_FRESHNESS_TYPE_ID, "bad", &json!({"mode": "qkd", "scope": []}), None)
        .await
        .expect_err("refused");
    let ClientError::Status { status: 400, attempts: 1, problem: Some(p), .. } = &err else { panic!("{err:?}") };
    let params: Vec<&str> = p.invalid_params.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(params, vec!["/mode", "/scope"]);
    assert!(p.detail.as_deref().is_some_and(|d| d.contains("ric-1")), "{p:?}");
    assert_eq!(rig.flaky.seen() - before, 1);
    assert!(pms.get_policy_info("bad").await.expect("get").is_none(), "a refused policy is not kept by the PMS");

    // Unknown type at the RIC: 404 passed on.
    let err = pms.put_policy("nope_1.0.0", "x", &json!({}), None).await.expect_err("404");
    assert_eq!(err.status(), Some(404));
    // Unknown RIC: 404 from the PMS itself.
    let other = PmsClient::new(PmsConfig { ric_id: "ric-9".into(), ..config(&rig, "qsafe-rapp") }).expect("c");
    assert_eq!(
        other.put_policy(KEY_FRESHNESS_TYPE_ID, "y", &json!({}), None).await.expect_err("x").status(),
        Some(404)
    );
}

#[tokio::test]
async fn pms_client_retries_transient_failures() {
    let rig = rig(Flaky::new(3, StatusCode::SERVICE_UNAVAILABLE)).await;
    let pms = PmsClient::new(config(&rig, "qsafe-rapp")).expect("client");
    // Three 503s, then through: four requests for one call.
    assert_eq!(pms.register_service().await.expect("register"), PutOutcome::Created);
    assert_eq!(rig.flaky.seen(), 4);
    pms.put_policy(KEY_FRESHNESS_TYPE_ID, "p", &json!({}), None).await.expect("put");
    assert_eq!(rig.flaky.seen(), 5);

    // When the RIC behind the PMS is down, the PMS answers 502, which is retried and then reported.
    let down = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let sim = PmsSimHandle::new(PmsSimConfig { forward_retry: RetryPolicy::none(), ..PmsSimConfig::single(RIC, down) })
        .expect("sim");
    let counter = Flaky::new(0, StatusCode::OK);
    let pms_down = Server::start(counter.wrap(pms_router(sim))).await;
    let c = PmsClient::new(PmsConfig { base_url: pms_down.url(), ..config(&rig, "qsafe-rapp") }).expect("client");
    let err = c.put_policy(KEY_FRESHNESS_TYPE_ID, "p", &json!({}), None).await.expect_err("502");
    assert!(matches!(err, ClientError::Status { status: 502, attempts: 4, .. }), "{err:?}");
    assert_eq!(counter.seen(), 4);
}

#[tokio::test]
async fn lapsed_keepalive_expires_the_service_and_its_policies() {
    let rig = rig(Flaky::new(0, StatusCode::OK)).await;
    let pms =
        PmsClient::new(PmsConfig { keep_alive_interval_seconds: 1, ..config(&rig, "short-lived") }).expect("client");
    pms.register_service().await.expect("register");
    pms.put_policy(KEY_FRESHNESS_TYPE_ID, "temp", &json!({}), None).await.expect("put");
    assert!(xapp_has(&rig, KEY_FRESHNESS_TYPE_ID, "temp"));
    // No keepalive: after ~1 s the PMS drops the service and deletes the policy at the RIC.
    eventually("the service expired", || async { rig.sim.with_sim(|s| s.service_ids().is_empty()) }).await;
    eventually("its policy deleted at the RIC", || async { !xapp_has(&rig, KEY_FRESHNESS_TYPE_ID, "temp") }).await;
    assert!(pms.get_policy_info("temp").await.expect("get").is_none());
}

#[tokio::test]
async fn keepalive_task_registers_again_after_expiry() {
    let rig = rig(Flaky::new(0, StatusCode::OK)).await;
    let pms = PmsClient::new(config(&rig, "resilient")).expect("client");
    pms.register_service().await.expect("register");
    let task = pms.spawn_keepalive(Duration::from_millis(50));
    // The PMS forgets the service (as after an expiry); the task notices the 404.
    assert!(pms.unregister_service().await.expect("unregister"));
    eventually("registered again", || async { rig.sim.with_sim(|s| s.service_ids()) == vec!["resilient"] }).await;
    drop(task);
}

#[tokio::test]
async fn status_notifications_reach_the_rapp_through_the_pms_path() {
    let rig = rig(Flaky::new(0, StatusCode::OK)).await;
    let mut cb = Callback::start(0, StatusCode::OK).await;
    let any = AnyA1Client::new(A1ClientConfig::Pms(config(&rig, "qsafe-rapp"))).expect("client");
    let dest = cb.url("fresh-9");
    any.put_policy(KEY_FRESHNESS_TYPE_ID, "fresh-9", &json!({}), Some(&dest)).await.expect("put");
    let st = json!({"enforceStatus": "NOT_ENFORCED", "enforceReason": "unknown-node"});
    rig.xapp.update_status(KEY_FRESHNESS_TYPE_ID, "fresh-9", st.clone()).expect("status");
    assert_eq!(cb.next().await.body, st);
    assert_eq!(any.policy_status(KEY_FRESHNESS_TYPE_ID, "fresh-9").await.expect("status"), Some(st));
    assert!(any.delete_policy(KEY_FRESHNESS_TYPE_ID, "fresh-9").await.expect("delete"));
    assert_eq!(any.get_policy(KEY_FRESHNESS_TYPE_ID, "fresh-9").await.expect("get"), None);
}
