//! The HTTP endpoint: routes through `tower::ServiceExt::oneshot` (no
//! sockets), and once over a real listener on 127.0.0.1:0.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use qsafe_hybrid::{KeySource, Mode};
use qsafe_xapp::freshness::{KeyFreshness, RekeyDone, SaCounters};
use qsafe_xapp::http::{self, HttpState, StatusPublisher};
use qsafe_xapp::metrics::{RekeyResult, XappMetrics};
use qsafe_xapp::policy::FreshnessPolicy;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

const A: &str = "gNB/001-01/0x1000:28";
const B: &str = "gNB/001-01/0x2000:28";

fn t(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s)
}

/// Two links: A protected with a hybrid key, B just set up (unprotected
/// past the deadline, no QKD), published.
fn published() -> (StatusPublisher, HttpState) {
    let (publisher, state) = http::channel(XappMetrics::new());
    let mut f = KeyFreshness::new(FreshnessPolicy::default());
    let a = f.link_mut(A);
    a.on_setup(true, t(0));
    a.on_rekey_started(t(1));
    let done = RekeyDone {
        epoch: 3,
        key_id: None,
        key_source: KeySource::Hybrid,
        mode: Mode::QkdAndPqc,
        latency: Duration::from_millis(12),
    };
    a.on_rekey_succeeded(done, Mode::QkdAndPqc, true, t(10));
    a.on_ric_counters(SaCounters { bytes: 5000, packets: 50 });
    f.stock_mut(A).on_status(800, 1000, t(10));
    f.link_mut(B).on_setup(true, t(0));
    let tick = f.tick(t(100));
    publisher.metrics().record_alarms(&tick.alarms);
    publisher.metrics().record_rekey(A, RekeyResult::Success, Some(Duration::from_millis(12)));
    publisher.publish(f.status(t(100)));
    (publisher, state)
}

async fn get(state: &HttpState, uri: &str) -> (StatusCode, String, String) {
    call(state, Method::GET, uri).await
}

async fn call(state: &HttpState, method: Method, uri: &str) -> (StatusCode, String, String) {
    let req = Request::builder().method(method).uri(uri).body(Body::empty()).expect("request");
    let resp = http::router(state.clone()).oneshot(req).await.expect("infallible");
    let status = resp.status();
    let ctype = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, ctype, String::from_utf8(body.to_vec()).expect("utf-8"))
}

#[tokio::test]
async fn metrics_endpoint() {
    let (_publisher, state) = published();
    let (status, ctype, body) = get(&state, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype, "text/plain; version=0.0.4; charset=utf-8");
    for line in [
        format!("qsafe_xapp_key_age_seconds{{node=\"{A}\"}} 90"),
        format!("qsafe_xapp_sa_bytes{{node=\"{A}\"}} 5000"),
        format!("qsafe_xapp_link_state{{node=\"{A}\",state=\"protected\"}} 1"),
        format!("qsafe_xapp_link_state{{node=\"{B}\",state=\"unprotected\"}} 1"),
        format!("qsafe_xapp_rekeys_total{{node=\"{A}\",result=\"success\"}} 1"),
        format!("qsafe_xapp_kme_stored_keys{{node=\"{A}\"}} 800"),
        "qsafe_xapp_alarms_active{kind=\"unprotected-past-deadline\"} 1".to_string(),
        "qsafe_xapp_alarms_total{kind=\"source-unavailable\"} 1".to_string(),
    ] {
        assert!(body.lines().any(|l| l == line), "missing {line} in\n{body}");
    }
}

#[tokio::test]
async fn status_endpoint() {
    let (_publisher, state) = published();
    let (status, ctype, body) = get(&state, "/status").await;
    assert_eq!((status, ctype.as_str()), (StatusCode::OK, "application/json"));
    let json: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["generatedAt"], 1_700_000_100.0);
    assert_eq!(json["policy"]["mode"], "qkd-and-pqc");
    assert_eq!(json["policy"]["onViolation"], "rekey");
    assert_eq!(json["links"].as_array().map(Vec::len), Some(2));
    assert_eq!(json["links"][0]["node"], A);
    assert_eq!(json["links"][0]["state"], "protected");
    assert_eq!(json["links"][0]["epoch"], 3);
    assert_eq!(json["links"][0]["kme"]["storedKeys"], 800);
    assert_eq!(json["links"][0]["verdict"]["due"], "scheduled");
    assert_eq!(json["links"][1]["state"], "unprotected");
    let kinds: Vec<&str> =
        json["alarms"].as_array().expect("alarms").iter().filter_map(|a| a["kind"].as_str()).collect();
    assert_eq!(kinds, ["unprotected-past-deadline", "source-unavailable"]);
    assert_eq!(json["alarms"][0]["severity"], "critical");
    assert_eq!(json["alarms"][0]["node"], B);
    assert_eq!(json["alarms"][0]["clearedAt"], Value::Null);
}

#[tokio::test]
async fn node_status_endpoint() {
    let (_publisher, state) = published();
    // Node ids contain '/': raw and percent-encoded both work.
    for uri in [format!("/status/{B}"), format!("/status/{}", B.replace('/', "%2F"))] {
        let (status, _, body) = get(&state, &uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        let json: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(json["node"], B);
        assert_eq!(json["verdict"]["due"], "bootstrap");
        assert_eq!(json["alarms"].as_array().map(Vec::len), Some(2));
    }
    let (status, _, body) = get(&state, &format!("/status/{A}")).await;
    assert_eq!(status, StatusCode::OK);
    let json: Value = serde_json::from_str(&body).expect("json");
    assert_eq!((json["keySource"].as_str(), json["alarms"].as_array().map(Vec::len)), (Some("hybrid"), Some(0)));

    let (status, ctype, body) = get(&state, "/status/gNB/999-99/0x1:28").await;
    assert_eq!((status, ctype.as_str()), (StatusCode::NOT_FOUND, "application/problem+json"));
    let json: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["status"], 404);
    assert_eq!(json["title"], "Not Found");
    assert!(json["detail"].as_str().is_some_and(|d| d.contains("gNB/999-99/0x1:28")), "{json}");
}

#[tokio::test]
async fn health_and_other_routes() {
    let (_publisher, state) = published();
    assert_eq!(get(&state, "/healthz").await.0, StatusCode::OK);
    assert_eq!(get(&state, "/healthz").await.2, "ok\n");
    assert_eq!(get(&state, "/nope").await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&state, Method::POST, "/status").await.0, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(call(&state, Method::DELETE, "/metrics").await.0, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn publishing_replaces_the_snapshot() {
    let (publisher, state) = http::channel(XappMetrics::new());
    let (_, _, body) = get(&state, "/status").await;
    let json: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["links"].as_array().map(Vec::len), Some(0), "an empty report before the first tick");
    let mut f = KeyFreshness::new(FreshnessPolicy::default());
    f.link_mut(A).on_setup(true, t(0));
    f.tick(t(1));
    publisher.publish(f.status(t(1)));
    assert_eq!(state.status().links.len(), 1);
    assert_eq!(get(&state, &format!("/status/{A}")).await.0, StatusCode::OK);
    f.remove_link(A, t(2));
    publisher.publish(f.status(t(2)));
    assert_eq!(get(&state, &format!("/status/{A}")).await.0, StatusCode::NOT_FOUND);
    assert!(!get(&state, "/metrics").await.2.contains(A), "the link's series are gone");
}

async fn raw_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    out
}

#[tokio::test]
async fn real_listener() {
    let (_publisher, state) = published();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (addr, task) = http::serve("127.0.0.1:0".parse().expect("addr"), state, None, stop_rx).await.expect("serve");
    assert_ne!(addr.port(), 0);
    let health = raw_get(addr, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200 OK\r\n") && health.ends_with("ok\n"), "{health}");
    let metrics = raw_get(addr, "/metrics").await;
    assert!(metrics.contains("content-type: text/plain; version=0.0.4"), "{metrics}");
    assert!(metrics.contains(&format!("qsafe_xapp_epoch{{node=\"{A}\"}} 3")), "{metrics}");
    let missing = raw_get(addr, "/status/unknown").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    stop_tx.send(true).expect("stop");
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops").expect("join").expect("served");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "listener closed");
}
