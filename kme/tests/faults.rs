//! Runtime fault injection over the admin listener, metrics, and shutdown,
//! against a running KME pair (real sockets, real mTLS).
//!
//! Two tests watch generation over wall-clock time (link down/up, recovery
//! after a drain): the property *is* about time passing, so they wait on
//! the clock with generous bounds instead of synchronising on it.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use std::time::{Duration, Instant};

use common::*;
use qsafe_kme::Site;

fn generated(state: &serde_json::Value) -> u64 {
    state["pool"]["generated_bits_total"].as_u64().unwrap()
}

#[tokio::test]
async fn link_down_stops_generation_and_link_up_resumes_it() {
    let pair = Pair::start(|s| s.link.secret_key_rate_bps = 1_000_000).await;
    let down = pair.admin("POST", "/admin/link/down").await;
    assert_eq!(down.status, 200);
    assert_eq!(down.json()["faults"]["link_down"], true);
    let g0 = generated(&down.json());
    assert!(g0 > 0, "the link generated before it went down");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let g1 = generated(&pair.state().await);
    assert_eq!(g1, g0, "no key while the link is down");
    assert_eq!(metric(&pair.metrics().await, "qsafe_kme_fault_link_down"), Some(1.0));
    // Stored key is still served while the link is down.
    let mut c = pair.connect(Site::A, MASTER).await;
    assert_eq!(c.get(&enc_path(SLAVE)).await.unwrap().status, 200);

    let up = pair.admin("POST", "/admin/link/up").await;
    assert_eq!(up.json()["faults"]["link_down"], false);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let g2 = generated(&pair.state().await);
    // 1 Mbit/s for >= 200 ms; at least half of it, allowing for a slow CI box.
    assert!(g2 >= g1 + 100_000, "generation resumed: {g1} -> {g2}");
}

#[tokio::test]
async fn drain_gives_503_with_a_body_then_generation_refills() {
    // 20 kbit/s: a 128 x 1024-bit request needs 6.5 s of generation, one 256-bit key 13 ms.
    let pair = Pair::start(|s| {
        s.link.secret_key_rate_bps = 20_000;
        s.link.initial_key_count = 1_000;
    })
    .await;
    let drained = pair.admin("POST", "/admin/drain").await;
    assert_eq!(drained.json()["pool"]["stored_key_count"], 0);
    let mut c = pair.connect(Site::A, MASTER).await;
    let r = c.post_json(&enc_path(SLAVE), br#"{"number": 128, "size": 1024}"#).await.unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert!(r.json()["message"].as_str().unwrap().contains("not enough key material"), "{}", r.text());

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = c.get(&enc_path(SLAVE)).await.unwrap();
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 503, "{}", r.text());
        assert!(Instant::now() < deadline, "the pool did not refill");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn latency_fault_delays_every_answer() {
    let pair = Pair::start(|s| s.link.initial_key_count = 10).await;
    let mut c = pair.connect(Site::B, SLAVE).await;
    let set = pair.admin("POST", "/admin/latency?ms=300").await;
    assert_eq!(set.json()["faults"]["extra_latency_ms"], 300);
    assert_eq!(metric(&pair.metrics().await, "qsafe_kme_fault_latency_seconds"), Some(0.3));
    let t = Instant::now();
    assert_eq!(c.get(&status_path(MASTER)).await.unwrap().status, 200);
    let slow = t.elapsed();
    assert!(slow >= Duration::from_millis(300), "{slow:?}");

    pair.admin("POST", "/admin/latency?ms=0").await;
    let t = Instant::now();
    assert_eq!(c.get(&status_path(MASTER)).await.unwrap().status, 200);
    assert!(t.elapsed() < Duration::from_millis(300), "{:?}", t.elapsed());
}

#[tokio::test]
async fn a_503_burst_fails_exactly_n_requests() {
    let pair = Pair::start(|s| s.link.initial_key_count = 10).await;
    let set = pair.admin("POST", "/admin/fail?count=3").await;
    assert_eq!(set.json()["faults"]["fail_next"], 3);
    let mut a = pair.connect(Site::A, MASTER).await;
    let mut b = pair.connect(Site::B, SLAVE).await;
    let answers = [
        a.get(&status_path(SLAVE)).await.unwrap(),
        b.get(&status_path(MASTER)).await.unwrap(),
        a.get(&enc_path(SLAVE)).await.unwrap(),
        a.get(&enc_path(SLAVE)).await.unwrap(),
    ];
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 503, 503, 200]);
    for r in &answers[..3] {
        assert!(r.json()["message"].is_string(), "503 has a body: {}", r.text());
    }
    let state = pair.state().await;
    assert_eq!(state["faults"]["fail_next"], 0);
    // Only the one successful enc_keys took key.
    assert_eq!(state["pool"]["keys_issued_total"], 1);
    assert_eq!(metric(&pair.metrics().await, "qsafe_kme_fault_fail_next"), Some(0.0));
}

#[tokio::test]
async fn metrics_reflect_deliveries_requests_and_handshakes() {
    let pair = Pair::start(|s| {
        s.link.initial_key_count = 100;
        s.link.secret_key_rate_bps = 1;
    })
    .await;
    let mut a = pair.connect(Site::A, MASTER).await;
    let mut b = pair.connect(Site::B, SLAVE).await;
    let issued = keys(&a.post_json(&enc_path(SLAVE), br#"{"number": 2, "size": 512}"#).await.unwrap());
    let ids: Vec<&str> = issued.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(b.post_json(&dec_path(MASTER), &key_ids_body(&ids)).await.unwrap().status, 200);
    assert_eq!(b.post_json(&dec_path(MASTER), &key_ids_body(&ids)).await.unwrap().status, 400);

    let m = pair.metrics().await;
    let expect = [
        (r#"qsafe_kme_keys_delivered_total{call="enc_keys",site="A"}"#, 2.0),
        (r#"qsafe_kme_bits_delivered_total{call="enc_keys",site="A"}"#, 1024.0),
        (r#"qsafe_kme_keys_delivered_total{call="dec_keys",site="B"}"#, 2.0),
        (r#"qsafe_kme_keys_delivered_total{call="dec_keys",site="A"}"#, 0.0),
        (r#"qsafe_kme_requests_total{call="enc_keys",method="POST",site="A",status="200"}"#, 1.0),
        (r#"qsafe_kme_requests_total{call="dec_keys",method="POST",site="B",status="200"}"#, 1.0),
        (r#"qsafe_kme_requests_total{call="dec_keys",method="POST",site="B",status="400"}"#, 1.0),
        // 100 keys of 256 bits = 25600 bits, minus 1024 issued (the 1 bit/s rate adds at most a few).
        (r#"qsafe_kme_pool_keys{site="A"}"#, 96.0),
        (r#"qsafe_kme_pool_keys{site="B"}"#, 96.0),
        (r#"qsafe_kme_tls_handshakes_total{group="X25519MLKEM768",site="A"}"#, 1.0),
        (r#"qsafe_kme_tls_handshakes_total{group="X25519MLKEM768",site="B"}"#, 1.0),
        ("qsafe_kme_secret_key_rate_bps", 1.0),
        ("qsafe_kme_fault_link_down", 0.0),
    ];
    for (series, want) in expect {
        assert_eq!(metric(&m, series), Some(want), "{series} in\n{m}");
    }
    let pool_bits = metric(&m, r#"qsafe_kme_pool_bits{site="A"}"#).unwrap();
    assert!((24_576.0..24_700.0).contains(&pool_bits), "{pool_bits}");
    assert!(metric(&m, "qsafe_kme_generated_bits_total").unwrap() >= 25_600.0);
}

#[tokio::test]
async fn admin_refuses_bad_requests_and_changes_nothing() {
    let pair = Pair::start(|_| {}).await;
    for (method, path, status) in [
        ("GET", "/admin/drain", 405),
        ("POST", "/admin/latency?ms=lots", 400),
        ("POST", "/admin/fail", 400),
        ("GET", "/admin/nothing", 404),
    ] {
        let r = pair.admin(method, path).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.text());
        assert!(r.json()["message"].is_string());
    }
    let state = pair.state().await;
    assert_eq!(state["faults"], serde_json::json!({"link_down": false, "extra_latency_ms": 0, "fail_next": 0}));
    assert_eq!(state["pool"]["drained_bits_total"], 0);
    let health = pair.admin("GET", "/healthz").await;
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));
}

#[tokio::test]
async fn reset_clears_every_fault() {
    let pair = Pair::start(|_| {}).await;
    pair.admin("POST", "/admin/link/down").await;
    pair.admin("POST", "/admin/latency?ms=50").await;
    pair.admin("POST", "/admin/fail?count=9").await;
    let r = pair.admin("POST", "/admin/reset").await;
    assert_eq!(r.json()["faults"], serde_json::json!({"link_down": false, "extra_latency_ms": 0, "fail_next": 0}));
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish() {
    let pair = Pair::start(|s| s.link.initial_key_count = 10).await;
    pair.admin("POST", "/admin/latency?ms=300").await;
    let mut c = pair.connect(Site::A, MASTER).await;
    let in_flight = tokio::spawn(async move { c.get(&enc_path(SLAVE)).await.map(|r| r.status) });
    // Wait until the request is being served (the latency fault holds it there).
    let deadline = Instant::now() + Duration::from_secs(5);
    while metric(&pair.metrics().await, r#"qsafe_kme_requests_in_flight{site="A"}"#) != Some(1.0) {
        assert!(Instant::now() < deadline);
        tokio::task::yield_now().await;
    }
    let Pair { kme, .. } = pair;
    let addr = kme.addr(Site::A);
    kme.shutdown().await;
    assert_eq!(in_flight.await.unwrap().unwrap(), 200);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "listener closed after shutdown");
}
