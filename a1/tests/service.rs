//! The sans-IO A1-P v2 termination: every path, method and code of the
//! OpenAPI, a table of invalid requests that must change nothing, the
//! store-failure and idempotency rules, status and notifications.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use base64::Engine as _;
use qsafe_a1::service::{CONTENT_TYPE_JSON, CONTENT_TYPE_PROBLEM, StatusError, pending_status};
use qsafe_a1::store::StoredPolicy;
use qsafe_a1::validate::{KeySourceMode, Scope};
use qsafe_a1::{
    A1Service, KEY_FRESHNESS_TYPE_ID, MemoryStore, NotificationJob, Outcome, PQC_TRUST_TYPE_ID, PolicyEffect,
    PolicyTypeRegistry, Request, ServiceConfig, TypedPolicy,
};
use serde_json::{Value, json};

const TYPES: &str = "/A1-P/v2/policytypes";
const FRESH: &str = "/A1-P/v2/policytypes/qsafe-e2-key-freshness_1.0.0";
const TRUST: &str = "/A1-P/v2/policytypes/qsafe-pqc-trust_1.0.0";

fn registry() -> Arc<PolicyTypeRegistry> {
    Arc::new(PolicyTypeRegistry::builtin().expect("schemas compile"))
}

fn service_with(config: ServiceConfig) -> (A1Service, MemoryStore) {
    let store = MemoryStore::new();
    let opened = A1Service::open(registry(), config, Box::new(store.clone())).expect("open");
    assert!(opened.effects.is_empty());
    (opened.service, store)
}

fn service() -> (A1Service, MemoryStore) {
    service_with(ServiceConfig::default())
}

fn pol(base: &str, id: &str) -> String {
    format!("{base}/policies/{id}")
}

fn get(s: &mut A1Service, path: &str) -> Outcome {
    s.handle(&Request::new("GET", path))
}

fn put(s: &mut A1Service, path: &str, body: &Value) -> Outcome {
    let bytes = serde_json::to_vec(body).expect("json");
    s.handle(&Request::put_json(path, &bytes))
}

fn json_of(o: &Outcome) -> Value {
    serde_json::from_slice(&o.response.body).expect("JSON body")
}

/// Asserts a problem+json answer of `status` about `instance`; returns it.
fn problem(o: &Outcome, status: u16, instance: &str) -> Value {
    assert_eq!(o.response.status, status, "body: {}", String::from_utf8_lossy(&o.response.body));
    assert_eq!(o.response.header("content-type"), Some(CONTENT_TYPE_PROBLEM));
    let p = json_of(o);
    assert_eq!(p["status"], status);
    assert_eq!(p["instance"], instance);
    assert!(p["type"].as_str().is_some_and(|t| t.starts_with("urn:qsafe-ran:a1:problem:")), "{p}");
    assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(p["detail"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(o.effects.is_empty() && o.notifications.is_empty(), "a refused request has no effect");
    p
}

fn params(p: &Value) -> BTreeSet<String> {
    p["invalidParams"]
        .as_array()
        .map(|a| a.iter().map(|x| x["param"].as_str().expect("param").to_owned()).collect())
        .unwrap_or_default()
}

fn cert_pem(fill: u8) -> String {
    let mut der = vec![0x30, 0x81, 0x90];
    der.extend(std::iter::repeat_n(fill, 0x90));
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("ascii")).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}

#[test]
fn policy_types_list_and_objects() {
    let (mut s, _) = service();
    let o = get(&mut s, TYPES);
    assert_eq!(o.response.status, 200);
    assert_eq!(o.response.header("Content-Type"), Some(CONTENT_TYPE_JSON));
    assert_eq!(json_of(&o), json!([KEY_FRESHNESS_TYPE_ID, PQC_TRUST_TYPE_ID]));

    for (path, title) in [(FRESH, "qsafe-e2-key-freshness policy"), (TRUST, "qsafe-pqc-trust policy")] {
        let o = get(&mut s, path);
        assert_eq!(o.response.status, 200);
        let v = json_of(&o);
        assert_eq!(v["policySchema"]["title"], title);
        assert_eq!(v["statusSchema"]["required"], json!(["enforceStatus"]));
    }
    problem(&get(&mut s, &format!("{TYPES}/ORAN_QoSTarget_2.0.0")), 404, &format!("{TYPES}/ORAN_QoSTarget_2.0.0"));
    // The id is matched after percent-decoding.
    let encoded = format!("{TYPES}/qsafe-pqc-trust%5F1.0.0");
    assert_eq!(get(&mut s, &encoded).response.status, 200);
}

#[test]
fn policy_lifecycle_codes_headers_and_effects() {
    let (mut s, store) = service();
    let p1 = pol(FRESH, "p1");

    // Empty list, 404 for unknown type.
    let o = get(&mut s, &format!("{FRESH}/policies"));
    assert_eq!((o.response.status, json_of(&o)), (200, json!([])));
    let unknown = format!("{TYPES}/nope_1.0.0/policies");
    problem(&get(&mut s, &unknown), 404, &unknown);
    problem(&get(&mut s, &p1), 404, &p1);
    let st = format!("{p1}/status");
    problem(&get(&mut s, &st), 404, &st);

    // Create: 201, Location, echo, Apply.
    let body = json!({"rekeyPeriodSeconds": 30, "mode": "at-least-pqc"});
    let o = put(&mut s, &p1, &body);
    assert_eq!(o.response.status, 201);
    assert_eq!(o.response.header("Location"), Some(p1.as_str()));
    assert_eq!(o.response.header("Content-Type"), Some(CONTENT_TYPE_JSON));
    assert_eq!(json_of(&o), body);
    let [PolicyEffect::Apply { policy_type_id, policy_id, policy: TypedPolicy::KeyFreshness(kf) }] =
        o.effects.as_slice()
    else {
        panic!("one Apply: {:?}", o.effects)
    };
    assert_eq!((policy_type_id.as_str(), policy_id.as_str()), (KEY_FRESHNESS_TYPE_ID, "p1"));
    assert_eq!(kf.rekey_period_seconds, 30.0);
    assert_eq!(kf.mode, KeySourceMode::AtLeastPqc);
    assert_eq!(kf.scope, Scope::All);
    assert!(o.notifications.is_empty());
    assert_eq!(store.snapshot().len(), 1);

    // Read back.
    let o = get(&mut s, &p1);
    assert_eq!((o.response.status, json_of(&o)), (200, body.clone()));
    let o = get(&mut s, &format!("{FRESH}/policies"));
    assert_eq!(json_of(&o), json!(["p1"]));
    let o = get(&mut s, &st);
    assert_eq!((o.response.status, json_of(&o)), (200, pending_status()));
    assert_eq!(json_of(&o)["enforceReason"], "pending");

    // Idempotent PUT: 200, no effect, and no store write (a broken store does not matter).
    store.fail_writes(true);
    let o = put(&mut s, &p1, &body);
    assert_eq!(o.response.status, 200);
    assert!(o.response.header("Location").is_none());
    assert!(o.effects.is_empty() && o.notifications.is_empty());
    store.fail_writes(false);

    // Update: 200 + Apply.
    let body2 = json!({"rekeyPeriodSeconds": 45});
    let o = put(&mut s, &p1, &body2);
    assert_eq!(o.response.status, 200);
    assert!(matches!(o.effects.as_slice(), [PolicyEffect::Apply { .. }]));
    assert_eq!(json_of(&get(&mut s, &p1)), body2);
    assert_eq!(store.snapshot()[0].policy, body2);

    // Delete: 204 without body + Remove; then 404.
    let o = s.handle(&Request::new("DELETE", &p1));
    assert_eq!(o.response.status, 204);
    assert!(o.response.body.is_empty());
    assert!(o.response.header("Content-Type").is_none());
    assert!(matches!(o.effects.as_slice(), [PolicyEffect::Remove { policy_id, .. }] if policy_id.as_str() == "p1"));
    assert!(store.snapshot().is_empty());
    problem(&s.handle(&Request::new("DELETE", &p1)), 404, &p1);
    problem(&get(&mut s, &p1), 404, &p1);
    let unknown_del = format!("{TYPES}/nope_1.0.0/policies/p1");
    problem(&s.handle(&Request::new("DELETE", &unknown_del)), 404, &unknown_del);
}

#[test]
fn location_and_lookup_of_ids_needing_encoding() {
    let (mut s, _) = service();
    let path = pol(FRESH, "rollout%20%C3%A9%3F1");
    let o = put(&mut s, &path, &json!({}));
    assert_eq!(o.response.status, 201);
    assert_eq!(o.response.header("Location"), Some(pol(FRESH, "rollout%20%C3%A9%3F1").as_str()));
    assert_eq!(json_of(&get(&mut s, &format!("{FRESH}/policies"))), json!(["rollout é?1"]));
    assert_eq!(get(&mut s, &path).response.status, 200);

    let (mut s, _) = service_with(ServiceConfig { location_base: "http://xapp:8080".into(), ..Default::default() });
    let o = put(&mut s, &pol(FRESH, "a"), &json!({}));
    assert_eq!(o.response.header("Location"), Some(format!("http://xapp:8080{}", pol(FRESH, "a")).as_str()));
}

#[test]
fn methods_not_allowed_and_unknown_paths() {
    let (mut s, _) = service();
    let p1 = pol(FRESH, "p1");
    let cases: [(&str, String, &str); 8] = [
        ("POST", TYPES.to_owned(), "GET"),
        ("PUT", TYPES.to_owned(), "GET"),
        ("DELETE", FRESH.to_owned(), "GET"),
        ("POST", format!("{FRESH}/policies"), "GET"),
        ("POST", p1.clone(), "GET, PUT, DELETE"),
        ("PATCH", p1.clone(), "GET, PUT, DELETE"),
        ("get", p1.clone(), "GET, PUT, DELETE"),
        ("PUT", format!("{p1}/status"), "GET"),
    ];
    for (method, path, allow) in cases {
        let o = s.handle(&Request::new(method, &path));
        problem(&o, 405, &path);
        assert_eq!(o.response.header("Allow"), Some(allow), "{method} {path}");
    }
    for path in [
        "/",
        "/A1-P/v2",
        "/A1-P/v2/",
        "/A1-P/v1/policytypes",
        "/A1-P/v2/policytypes/",
        "/A1-P/v2/policytypesX",
        &format!("{FRESH}/"),
        &format!("{FRESH}/policies/"),
        &format!("{FRESH}/policies/p1/status/x"),
        &format!("{FRESH}/instances/p1"),
    ] {
        let o = s.handle(&Request::new("GET", path));
        assert_eq!(o.response.status, 404, "{path}");
        assert_eq!(o.response.header("content-type"), Some(CONTENT_TYPE_PROBLEM));
    }
}

/// One request of the invalid-input table.
struct Case {
    name: &'static str,
    path: String,
    content_type: Option<&'static str>,
    query: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    /// `invalidParams` params; `None`: the answer has none.
    params: Option<&'static [&'static str]>,
}

fn case(name: &'static str, body: Value, status: u16, params: &'static [&'static str]) -> Case {
    Case {
        name,
        path: pol(FRESH, "p1"),
        content_type: Some(CONTENT_TYPE_JSON),
        query: None,
        body: serde_json::to_vec(&body).expect("json"),
        status,
        params: Some(params),
    }
}

fn raw(name: &'static str, body: &[u8], status: u16) -> Case {
    Case {
        name,
        path: pol(FRESH, "p1"),
        content_type: Some(CONTENT_TYPE_JSON),
        query: None,
        body: body.to_vec(),
        status,
        params: None,
    }
}

fn invalid_cases() -> Vec<Case> {
    let a = cert_pem(1);
    let mut v = vec![
        case("number as string", json!({"rekeyPeriodSeconds": "60"}), 400, &["/rekeyPeriodSeconds"]),
        case("zero period", json!({"rekeyPeriodSeconds": 0}), 400, &["/rekeyPeriodSeconds"]),
        case("negative period", json!({"rekeyPeriodSeconds": -5}), 400, &["/rekeyPeriodSeconds"]),
        case("period above maximum", json!({"rekeyPeriodSeconds": 1e10}), 400, &["/rekeyPeriodSeconds"]),
        case("max age below period", json!({"maxKeyAgeSeconds": 10}), 400, &["/maxKeyAgeSeconds"]),
        case(
            "max age below given period",
            json!({"rekeyPeriodSeconds": 900, "maxKeyAgeSeconds": 899}),
            400,
            &["/maxKeyAgeSeconds"],
        ),
        case("zero bytes per key", json!({"maxBytesPerKey": 0}), 400, &["/maxBytesPerKey"]),
        case("fractional bytes per key", json!({"maxBytesPerKey": 1.5}), 400, &["/maxBytesPerKey"]),
        case("integral float beyond u64", json!({"maxBytesPerKey": 1e30}), 400, &["/maxBytesPerKey"]),
        case("null packets per key", json!({"maxPacketsPerKey": null}), 400, &["/maxPacketsPerKey"]),
        case("negative stock", json!({"minKmeStock": -1}), 400, &["/minKmeStock"]),
        case("boolean seconds", json!({"timeToEmptyAlarmSeconds": true}), 400, &["/timeToEmptyAlarmSeconds"]),
        case("unknown mode", json!({"mode": "qkd"}), 400, &["/mode"]),
        case("mode in wrong case", json!({"mode": "QKD-AND-PQC"}), 400, &["/mode"]),
        case("unknown action", json!({"onViolation": "panic"}), 400, &["/onViolation"]),
        case("zero isolate deadline", json!({"isolateDeadlineSeconds": 0}), 400, &["/isolateDeadlineSeconds"]),
        case("zero rekey failures", json!({"maxRekeyFailures": 0}), 400, &["/maxRekeyFailures"]),
        case("rekey failures beyond u32", json!({"maxRekeyFailures": 4_294_967_296u64}), 400, &["/maxRekeyFailures"]),
        case("unknown recovery", json!({"recovery": "later"}), 400, &["/recovery"]),
        case("negative hold", json!({"recoveryHoldSeconds": -1}), 400, &["/recoveryHoldSeconds"]),
        case("unknown member", json!({"colour": 1}), 400, &["/colour"]),
        case("misspelt member", json!({"rekeyPeriod": 60}), 400, &["/rekeyPeriod"]),
        case("member needing escaping", json!({"a/b~c": 1}), 400, &["/a~1b~0c"]),
        case("empty scope list", json!({"scope": []}), 400, &["/scope"]),
        case("duplicate scope entries", json!({"scope": ["gNB/1", "gNB/1"]}), 400, &["/scope"]),
        case("scope keyword other than all", json!({"scope": "some"}), 400, &["/scope"]),
        case("empty node id", json!({"scope": [""]}), 400, &["/scope/0"]),
        case("blank node id", json!({"scope": ["gNB/1", "   "]}), 400, &["/scope/1"]),
        case("numeric node id", json!({"scope": [1]}), 400, &["/scope/0"]),
        case("scope object", json!({"scope": {"all": true}}), 400, &["/scope"]),
        case("array body", json!([]), 400, &[""]),
        case("string body", json!("rekey"), 400, &[""]),
        case("null body", json!(null), 400, &[""]),
        case(
            "several violations",
            json!({"mode": "x", "recovery": "y", "extra": 1}),
            400,
            &["/mode", "/recovery", "/extra"],
        ),
        raw("not JSON", b"rekey every minute", 400),
        raw("truncated JSON", br#"{"rekeyPeriodSeconds": 6"#, 400),
        raw("trailing garbage", br#"{"rekeyPeriodSeconds": 60} x"#, 400),
        raw("empty body", b"", 400),
        raw("whitespace body", b" \r\n ", 400),
        raw("invalid UTF-8", b"{\"mode\": \"\xff\xfe\"}", 400),
        raw("nested too deeply", "[".repeat(5000).as_bytes(), 400),
        raw("huge body", &vec![b' '; 64 * 1024 + 1], 413),
    ];
    let mut huge_valid = br#"{"scope": ["#.to_vec();
    while huge_valid.len() < 70_000 {
        huge_valid.extend_from_slice(br#""gNB/001-01/123456:22","#);
    }
    huge_valid.extend_from_slice(br#""x"]}"#);
    v.push(raw("huge but well-formed body", &huge_valid, 413));
    let json_body = serde_json::to_vec(&json!({})).expect("json");
    for (name, ct) in [
        ("text/plain", Some("text/plain")),
        ("no content type", None),
        ("form encoding", Some("application/x-www-form-urlencoded")),
        ("json-like type", Some("application/jsonx")),
    ] {
        v.push(Case {
            name,
            path: pol(FRESH, "p1"),
            content_type: ct,
            query: None,
            body: json_body.clone(),
            status: 415,
            params: None,
        });
    }
    for (name, id) in [
        ("encoded slash in id", "a%2Fb"),
        ("id too long", &*"x".repeat(257)),
        ("newline in id", "a%0Ab"),
        ("DEL in id", "a%7F"),
        ("id not UTF-8", "a%FF"),
        ("NUL in id", "%00"),
    ] {
        let id: &'static str = Box::leak(id.to_owned().into_boxed_str());
        v.push(Case {
            name,
            path: pol(FRESH, id),
            content_type: Some(CONTENT_TYPE_JSON),
            query: None,
            body: json_body.clone(),
            status: 400,
            params: Some(&["policyId"]),
        });
    }
    for (name, q) in [
        ("ftp destination", "notificationDestination=ftp%3A%2F%2Fx%2Fn"),
        ("https destination", "notificationDestination=https%3A%2F%2Frapp%2Fn"),
        ("relative destination", "notificationDestination=%2Fn"),
        ("empty destination", "notificationDestination="),
        ("destination with space", "notificationDestination=http%3A%2F%2Fa%20b%2F"),
        (
            "destination given twice",
            "notificationDestination=http%3A%2F%2Fa%2F&notificationDestination=http%3A%2F%2Fb%2F",
        ),
    ] {
        v.push(Case {
            name,
            path: pol(FRESH, "p1"),
            content_type: Some(CONTENT_TYPE_JSON),
            query: Some(q),
            body: json_body.clone(),
            status: 400,
            params: Some(&["notificationDestination"]),
        });
    }
    v.push(Case {
        name: "unknown type",
        path: format!("{TYPES}/qsafe-e2-key-freshness_2.0.0/policies/p1"),
        content_type: Some(CONTENT_TYPE_JSON),
        query: None,
        body: json_body.clone(),
        status: 404,
        params: None,
    });
    let trust = |name, body: Value, params: &'static [&'static str]| Case {
        path: pol(TRUST, "t1"),
        ..case(name, body, 400, params)
    };
    v.extend([
        trust("trust without anchors", json!({}), &["/trustAnchors"]),
        trust("trust with empty anchors", json!({"trustAnchors": []}), &["/trustAnchors"]),
        trust("anchor without pem", json!({"trustAnchors": [{"name": "g1"}]}), &["/trustAnchors/0/pem"]),
        trust("anchor not PEM", json!({"trustAnchors": [{"pem": "x".repeat(80)}]}), &["/trustAnchors/0/pem"]),
        trust(
            "anchor with bad base64",
            json!({"trustAnchors": [{"pem": format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----", "*".repeat(64))}]}),
            &["/trustAnchors/0/pem"],
        ),
        trust(
            "anchor with two blocks",
            json!({"trustAnchors": [{"pem": format!("{a}{}", cert_pem(2))}]}),
            &["/trustAnchors/0/pem"],
        ),
        trust("duplicate anchors", json!({"trustAnchors": [{"pem": a}, {"pem": a}]}), &["/trustAnchors/1/pem"]),
        trust(
            "unknown algorithm",
            json!({"trustAnchors": [{"pem": a}], "acceptedSignatureAlgorithms": ["RSA-2048"]}),
            &["/acceptedSignatureAlgorithms/0"],
        ),
        trust(
            "unknown anchor member",
            json!({"trustAnchors": [{"pem": a, "fingerprint": "00"}]}),
            &["/trustAnchors/0/fingerprint"],
        ),
        trust(
            "seventeen anchors",
            json!({"trustAnchors": (0..17u8).map(|i| json!({"pem": cert_pem(i)})).collect::<Vec<_>>()}),
            &["/trustAnchors"],
        ),
    ]);
    v
}

#[test]
fn invalid_requests_are_refused_exactly_and_change_nothing() {
    let (mut s, store) = service();
    let original = json!({"rekeyPeriodSeconds": 20, "scope": ["gNB/001-01/1:22"]});
    let dest = "notificationDestination=http%3A%2F%2F127.0.0.1%3A9%2Fnotify";
    let bytes = serde_json::to_vec(&original).expect("json");
    let o = s.handle(&Request::put_json(&pol(FRESH, "p1"), &bytes).with_query(dest));
    assert_eq!(o.response.status, 201);
    let trust_original = json!({"trustAnchors": [{"pem": cert_pem(9)}]});
    assert_eq!(put(&mut s, &pol(TRUST, "t1"), &trust_original).response.status, 201);
    let before = s.stored_policies();
    let store_before = store.snapshot();

    let cases = invalid_cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    for c in &cases {
        let req = Request { method: "PUT", path: &c.path, query: c.query, content_type: c.content_type, body: &c.body };
        let o = s.handle(&req);
        assert_eq!(o.response.status, c.status, "{}: {}", c.name, String::from_utf8_lossy(&o.response.body));
        let p = problem(&o, c.status, &c.path);
        match c.params {
            Some(expected) => {
                let expected: BTreeSet<String> = expected.iter().map(|s| (*s).to_owned()).collect();
                assert_eq!(params(&p), expected, "{}: {p}", c.name);
                for ip in p["invalidParams"].as_array().expect("array") {
                    assert!(ip["reason"].as_str().is_some_and(|r| !r.is_empty()), "{}: {ip}", c.name);
                }
            }
            None => assert!(p.get("invalidParams").is_none(), "{}: {p}", c.name),
        }
        // Nothing changed: same policies, same store, GET still the original.
        assert_eq!(s.stored_policies(), before, "{}", c.name);
        assert_eq!(store.snapshot(), store_before, "{}", c.name);
        assert_eq!(json_of(&get(&mut s, &pol(FRESH, "p1"))), original, "{}", c.name);
        assert_eq!(json_of(&get(&mut s, &pol(TRUST, "t1"))), trust_original, "{}", c.name);
        assert_eq!(get(&mut s, &pol(FRESH, "p2")).response.status, 404, "{}", c.name);
    }
    // The same table against a new id creates nothing either.
    for c in &cases {
        let path = c.path.replace("/policies/p1", "/policies/p2").replace("/policies/t1", "/policies/t2");
        let req = Request { method: "PUT", path: &path, query: c.query, content_type: c.content_type, body: &c.body };
        assert_eq!(s.handle(&req).response.status, c.status, "{} (new id)", c.name);
        assert_eq!(s.stored_policies(), before, "{} (new id)", c.name);
    }
}

#[test]
fn violation_messages_are_specific() {
    let (mut s, _) = service();
    let o = put(&mut s, &pol(FRESH, "p"), &json!({"scope": [], "rekeyPeriodSeconds": 0}));
    let p = problem(&o, 400, &pol(FRESH, "p"));
    let reasons: Vec<String> = p["invalidParams"]
        .as_array()
        .expect("params")
        .iter()
        .map(|x| format!("{} {}", x["param"].as_str().expect("s"), x["reason"].as_str().expect("s")))
        .collect();
    assert!(reasons.iter().any(|r| r.starts_with("/scope") && r.contains("less than 1 item")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.starts_with("/rekeyPeriodSeconds") && r.contains('0')), "{reasons:?}");
    assert_eq!(p["type"], "urn:qsafe-ran:a1:problem:invalid-policy");
    assert_eq!(p["title"], "Bad Request");
}

#[test]
fn store_failures_are_503_and_change_nothing() {
    let (mut s, store) = service();
    let p1 = pol(FRESH, "p1");
    assert_eq!(put(&mut s, &p1, &json!({"rekeyPeriodSeconds": 10})).response.status, 201);
    store.fail_writes(true);

    // Create, update and delete all refused.
    let p2 = pol(FRESH, "p2");
    let o = put(&mut s, &p2, &json!({}));
    let p = problem(&o, 503, &p2);
    assert_eq!(p["type"], "urn:qsafe-ran:a1:problem:store-unavailable");
    assert_eq!(o.response.header("Retry-After"), Some("1"));
    problem(&put(&mut s, &p1, &json!({"rekeyPeriodSeconds": 11})), 503, &p1);
    problem(&s.handle(&Request::new("DELETE", &p1)), 503, &p1);

    assert_eq!(get(&mut s, &p2).response.status, 404);
    assert_eq!(json_of(&get(&mut s, &p1)), json!({"rekeyPeriodSeconds": 10}));
    assert_eq!(store.snapshot().len(), 1);

    store.fail_writes(false);
    assert_eq!(s.handle(&Request::new("DELETE", &p1)).response.status, 204);
}

#[test]
fn policy_limit_is_507() {
    let (mut s, _) = service_with(ServiceConfig { max_policies_per_type: 2, ..Default::default() });
    assert_eq!(put(&mut s, &pol(FRESH, "a"), &json!({})).response.status, 201);
    assert_eq!(put(&mut s, &pol(FRESH, "b"), &json!({})).response.status, 201);
    problem(&put(&mut s, &pol(FRESH, "c"), &json!({})), 507, &pol(FRESH, "c"));
    // Updates and other types are not limited by it.
    assert_eq!(put(&mut s, &pol(FRESH, "a"), &json!({"mode": "either"})).response.status, 200);
    let trust = json!({"trustAnchors": [{"pem": cert_pem(1)}]});
    assert_eq!(put(&mut s, &pol(TRUST, "t"), &trust).response.status, 201);
}

#[test]
fn status_updates_and_notifications() {
    let (mut s, _) = service();
    let p1 = pol(FRESH, "p1");
    let body = serde_json::to_vec(&json!({})).expect("json");
    let q = "notificationDestination=http%3A%2F%2F127.0.0.1%3A9999%2Fa1%2Fstatus%3Fx%3D1";
    assert_eq!(s.handle(&Request::put_json(&p1, &body).with_query(q)).response.status, 201);
    let enforced = json!({"enforceStatus": "ENFORCED", "nodes": [{"node": "gNB/1", "enforced": true, "epoch": 3}]});

    let job = s.update_status(KEY_FRESHNESS_TYPE_ID, "p1", enforced.clone()).expect("valid").expect("notify");
    assert_eq!(
        job,
        NotificationJob {
            destination: "http://127.0.0.1:9999/a1/status?x=1".into(),
            policy_type_id: KEY_FRESHNESS_TYPE_ID.into(),
            policy_id: "p1".into(),
            status: enforced.clone(),
        }
    );
    assert_eq!(json_of(&get(&mut s, &format!("{p1}/status"))), enforced);
    // Unchanged status: no notification.
    assert_eq!(s.update_status(KEY_FRESHNESS_TYPE_ID, "p1", enforced.clone()), Ok(None));

    // Invalid status objects and unknown policies are refused.
    let bad = s.update_status(KEY_FRESHNESS_TYPE_ID, "p1", json!({"enforceStatus": "MAYBE"}));
    assert!(matches!(bad, Err(StatusError::Invalid { ref violations, .. }) if violations[0].path == "/enforceStatus"));
    assert!(matches!(
        s.update_status(KEY_FRESHNESS_TYPE_ID, "p9", enforced.clone()),
        Err(StatusError::UnknownPolicy { .. })
    ));
    assert!(matches!(s.update_status("x_1.0.0", "p1", enforced.clone()), Err(StatusError::UnknownType(_))));
    assert_eq!(json_of(&get(&mut s, &format!("{p1}/status"))), enforced);

    // An update of the body makes the status pending again, and says so.
    let body2 = serde_json::to_vec(&json!({"mode": "either"})).expect("json");
    let o = s.handle(&Request::put_json(&p1, &body2).with_query(q));
    assert_eq!(o.response.status, 200);
    assert_eq!(o.notifications.len(), 1);
    assert_eq!(o.notifications[0].status, pending_status());
    assert_eq!(json_of(&get(&mut s, &format!("{p1}/status"))), pending_status());

    // Same body, new destination: 200, no effect, later notifications go there.
    let q2 = "notificationDestination=http%3A%2F%2F127.0.0.1%3A9998%2Fn";
    let o = s.handle(&Request::put_json(&p1, &body2).with_query(q2));
    assert_eq!(o.response.status, 200);
    assert!(o.effects.is_empty() && o.notifications.is_empty());
    let job = s.update_status(KEY_FRESHNESS_TYPE_ID, "p1", enforced).expect("ok").expect("notify");
    assert_eq!(job.destination, "http://127.0.0.1:9998/n");

    // Without a destination, status changes are recorded but not sent.
    let p2 = pol(FRESH, "p2");
    assert_eq!(s.handle(&Request::put_json(&p2, &body)).response.status, 201);
    let st = json!({"enforceStatus": "NOT_ENFORCED", "enforceReason": "unknown-node"});
    assert_eq!(s.update_status(KEY_FRESHNESS_TYPE_ID, "p2", st.clone()), Ok(None));
    assert_eq!(json_of(&get(&mut s, &format!("{p2}/status"))), st);
}

#[test]
fn reopen_applies_stored_policies_and_skips_invalid_ones() {
    let store = MemoryStore::new();
    {
        let opened = A1Service::open(registry(), ServiceConfig::default(), Box::new(store.clone())).expect("open");
        let mut s = opened.service;
        assert_eq!(put(&mut s, &pol(FRESH, "p1"), &json!({"mode": "either"})).response.status, 201);
        let trust = json!({"trustAnchors": [{"pem": cert_pem(3)}]});
        assert_eq!(put(&mut s, &pol(TRUST, "t1"), &trust).response.status, 201);
    }
    // Records a newer build might have written, or a hand edit.
    let mut raw_store: Box<dyn qsafe_a1::PolicyStore> = Box::new(store.clone());
    for (t, id, body) in [
        ("other_1.0.0", "x", json!({})),
        (KEY_FRESHNESS_TYPE_ID, "bad", json!({"mode": "nope"})),
        (KEY_FRESHNESS_TYPE_ID, "a/b", json!({})),
    ] {
        raw_store
            .put(&StoredPolicy {
                policy_type_id: t.into(),
                policy_id: id.into(),
                policy: body,
                notification_destination: None,
            })
            .expect("put");
    }
    let opened = A1Service::open(registry(), ServiceConfig::default(), Box::new(store.clone())).expect("reopen");
    let applied: BTreeSet<(String, String)> = opened
        .effects
        .iter()
        .map(|e| match e {
            PolicyEffect::Apply { policy_type_id, policy_id, .. } => (policy_type_id.clone(), policy_id.to_string()),
            PolicyEffect::Remove { .. } => panic!("no removals at start-up"),
        })
        .collect();
    assert_eq!(
        applied,
        BTreeSet::from([
            (KEY_FRESHNESS_TYPE_ID.to_owned(), "p1".to_owned()),
            (PQC_TRUST_TYPE_ID.to_owned(), "t1".to_owned())
        ])
    );
    let skipped: BTreeSet<&str> = opened.skipped.iter().map(|s| s.stored.policy_id.as_str()).collect();
    assert_eq!(skipped, BTreeSet::from(["x", "bad", "a/b"]));
    let mut s = opened.service;
    assert_eq!(json_of(&get(&mut s, &pol(FRESH, "p1"))), json!({"mode": "either"}));
    assert_eq!(json_of(&get(&mut s, &format!("{}/status", pol(FRESH, "p1")))), pending_status());
}
