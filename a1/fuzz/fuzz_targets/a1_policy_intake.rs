//! Fuzzes the A1-P v2 termination's policy intake as the axum edge drives
//! it: a PUT (or another method) of arbitrary bytes as the body, with an
//! arbitrary policy id, query and content type, against a service that
//! already holds one valid policy of each type.
//!
//! Input: byte 0 picks the method (bits 0-1), the policy type (bit 2), the
//! content type (bits 3-4), whether the id is percent-encoded or used raw
//! (bit 5) and whether the body is also fed to `update_status` (bit 6); the
//! rest is `policy id \0 query \0 body` (missing parts are empty).
//!
//! Properties: never panics; every answer has a status the service
//! documents (200/201/204/400/404/405/413/415/503/507), non-2xx answers are
//! `application/problem+json` whose `status` member matches; a non-2xx
//! answer changes nothing (policies, destinations, statuses, the store) and
//! has no effects or notifications; a 2xx PUT leaves the policy readable
//! with exactly the body sent.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use qsafe_a1::service::CONTENT_TYPE_PROBLEM;
use qsafe_a1::{A1Service, MemoryStore, PolicyTypeRegistry, Request, ServiceConfig};
use serde_json::{Value, json};

const METHODS: [&str; 4] = ["PUT", "PUT", "GET", "DELETE"];
const TYPES: [&str; 2] = ["qsafe-e2-key-freshness_1.0.0", "qsafe-pqc-trust_1.0.0"];
const CONTENT_TYPES: [Option<&str>; 4] =
    [Some("application/json"), Some("Application/JSON; charset=utf-8"), None, Some("text/plain")];
const STATUSES: [u16; 10] = [200, 201, 204, 400, 404, 405, 413, 415, 503, 507];
const PEM: &str = concat!(
    "-----BEGIN CERTIFICATE-----\n",
    "MIGQAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB\n",
    "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB\n",
    "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB\n",
    "AQEB\n",
    "-----END CERTIFICATE-----\n",
);

fn registry() -> Arc<PolicyTypeRegistry> {
    static REGISTRY: OnceLock<Arc<PolicyTypeRegistry>> = OnceLock::new();
    REGISTRY.get_or_init(|| Arc::new(PolicyTypeRegistry::builtin().expect("built-in schemas compile"))).clone()
}

/// A service holding `p1` of each type, one with a notification destination.
fn service() -> (A1Service, MemoryStore) {
    let store = MemoryStore::new();
    let config = ServiceConfig { max_body_bytes: 4096, max_policies_per_type: 3, ..ServiceConfig::default() };
    let mut s = A1Service::open(registry(), config, Box::new(store.clone())).expect("open").service;
    let fresh = serde_json::to_vec(&json!({"rekeyPeriodSeconds": 30})).expect("json");
    let path = format!("/A1-P/v2/policytypes/{}/policies/p1", TYPES[0]);
    let r = s
        .handle(&Request::put_json(&path, &fresh).with_query("notificationDestination=http%3A%2F%2F127.0.0.1%3A9%2Fn"));
    assert_eq!(r.response.status, 201);
    let trust = serde_json::to_vec(&json!({"trustAnchors": [{"pem": PEM}]})).expect("json");
    let path = format!("/A1-P/v2/policytypes/{}/policies/p1", TYPES[1]);
    assert_eq!(s.handle(&Request::put_json(&path, &trust)).response.status, 201);
    (s, store)
}

type Snapshot = (Vec<qsafe_a1::StoredPolicy>, Vec<Option<Value>>, Vec<qsafe_a1::StoredPolicy>);

fn snapshot(s: &A1Service, store: &MemoryStore) -> Snapshot {
    let stored = s.stored_policies();
    let statuses = stored.iter().map(|p| s.status(&p.policy_type_id, &p.policy_id).cloned()).collect();
    (stored, statuses, store.snapshot())
}

fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let mut parts = rest.splitn(3, |b| *b == 0);
    let id = parts.next().unwrap_or_default();
    let query = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();

    let method = METHODS[usize::from(ctl & 3)];
    let type_id = TYPES[usize::from((ctl >> 2) & 1)];
    let content_type = CONTENT_TYPES[usize::from((ctl >> 3) & 3)];
    let id = if ctl & 0x20 != 0 { encode(id) } else { String::from_utf8_lossy(id).into_owned() };
    let query = String::from_utf8_lossy(query);
    let path = format!("/A1-P/v2/policytypes/{type_id}/policies/{id}");

    let (mut s, store) = service();
    let before = snapshot(&s, &store);
    let req = Request { method, path: &path, query: (!query.is_empty()).then_some(&*query), content_type, body };
    let out = s.handle(&req);
    let status = out.response.status;
    assert!(STATUSES.contains(&status), "undocumented status {status}");
    if out.response.is_success() {
        if method == "PUT" {
            assert!(status == 200 || status == 201);
            let sent: Value = serde_json::from_slice(body).expect("a 2xx PUT had a JSON body");
            let got = s.handle(&Request::new("GET", &path));
            assert_eq!(got.response.status, 200);
            assert_eq!(got.response.json_body(), Some(sent));
            assert_eq!(s.stored_policies(), store.snapshot(), "memory and store agree");
        }
    } else {
        assert_eq!(out.response.header("content-type"), Some(CONTENT_TYPE_PROBLEM));
        let problem = out.response.json_body().expect("problem body is JSON");
        assert_eq!(problem["status"], status);
        assert!(out.effects.is_empty() && out.notifications.is_empty());
        assert_eq!(snapshot(&s, &store), before, "a {status} answer changed state");
    }

    // The body as a status report of the enforcement side: refused or
    // recorded, never a panic; a refusal changes nothing.
    if ctl & 0x40 != 0
        && let Ok(v) = serde_json::from_slice::<Value>(body)
    {
        let before = snapshot(&s, &store);
        if s.update_status(type_id, "p1", v).is_err() {
            assert_eq!(snapshot(&s, &store), before);
        }
    }
});
