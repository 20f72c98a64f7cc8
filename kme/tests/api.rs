//! The ETSI GS QKD 014 API over real sockets and real mutual TLS (ML-DSA-65
//! certificates, X25519MLKEM768): pairing, forms, answers, identity.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use std::collections::HashSet;

use common::*;
use qsafe_kme::Site;
use qsafe_kme::client::Connection;
use qsafe_kme::identity::SaeIdSource;
use qsafe_pqc::tls::{AuthPolicy, KeyExchangePolicy};

#[tokio::test]
async fn enc_keys_at_a_then_dec_keys_at_b_returns_the_same_bytes_once() {
    let pair = Pair::start(|s| s.link.initial_key_count = 100).await;
    let mut master = pair.connect(Site::A, MASTER).await;
    assert_eq!(master.negotiated_group(), Some("X25519MLKEM768"));
    let enc = master.post_json(&enc_path(SLAVE), br#"{"number": 3, "size": 512}"#).await.unwrap();
    assert_eq!(enc.status, 200, "{}", enc.text());
    assert_eq!(enc.content_type.as_deref(), Some("application/json"));
    let issued = keys(&enc);
    assert_eq!(issued.len(), 3);
    for (_, k) in &issued {
        assert_eq!(k.len(), 88, "512-bit key is 64 bytes, 88 base64 characters");
    }

    let mut slave = pair.connect(Site::B, SLAVE).await;
    let ids: Vec<&str> = issued.iter().map(|(id, _)| id.as_str()).collect();
    let dec = slave.post_json(&dec_path(MASTER), &key_ids_body(&ids)).await.unwrap();
    assert_eq!(dec.status, 200, "{}", dec.text());
    assert_eq!(keys(&dec), issued, "the slave gets the master's bytes under the same key_IDs");

    // Exactly once.
    let again = slave.post_json(&dec_path(MASTER), &key_ids_body(&ids[..1])).await.unwrap();
    assert_eq!(again.status, 400);
    assert_eq!(again.json()["message"], "one or more keys specified are not found on KME");

    // Not at the issuing KME: a key issued at A is fetched at B only.
    let enc = master.get(&enc_path(SLAVE)).await.unwrap();
    let (id, _) = keys(&enc).remove(0);
    let mut slave_at_a = pair.connect(Site::A, SLAVE).await;
    let wrong_site = slave_at_a.get(&format!("{}?key_ID={id}", dec_path(MASTER))).await.unwrap();
    assert_eq!(wrong_site.status, 400, "{}", wrong_site.text());
}

#[tokio::test]
async fn another_sae_gets_401_without_a_body() {
    let pair = Pair::start(|s| s.link.initial_key_count = 10).await;
    let mut master = pair.connect(Site::A, MASTER).await;
    let (id, _) = keys(&master.get(&enc_path(SLAVE)).await.unwrap()).remove(0);
    let mut intruder = pair.connect(Site::B, "intruder").await;
    let r = intruder.get(&format!("{}?key_ID={id}", dec_path(MASTER))).await.unwrap();
    assert_eq!(r.status, 401);
    assert!(r.body.is_empty() && r.content_type.is_none(), "401 has no body: {r:?}");
    // The key is still there for the real slave.
    let mut slave = pair.connect(Site::B, SLAVE).await;
    let r = slave.get(&format!("{}?key_ID={id}", dec_path(MASTER))).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn saes_not_attached_to_a_kme_get_401() {
    let pair = Pair::start(|s| {
        s.link.initial_key_count = 10;
        s.attached_saes = [Some(vec![MASTER.into()]), Some(vec![SLAVE.into()])];
    })
    .await;
    let mut slave_at_a = pair.connect(Site::A, SLAVE).await;
    for path in [status_path(MASTER), enc_path(MASTER)] {
        let r = slave_at_a.get(&path).await.unwrap();
        assert_eq!((r.status, r.body.is_empty()), (401, true), "{path}");
    }
    // POST with a bad body: still 401, decided before the body is looked at.
    let r = slave_at_a.post_json(&enc_path(MASTER), b"{oops").await.unwrap();
    assert_eq!(r.status, 401);
    let mut master = pair.connect(Site::A, MASTER).await;
    assert_eq!(master.get(&status_path(SLAVE)).await.unwrap().status, 200);
    assert_eq!(pair.state().await["pool"]["keys_issued_total"], 0);
}

#[tokio::test]
async fn get_forms_and_status_fields() {
    let pair = Pair::start(|s| {
        s.link.initial_key_count = 50;
        s.link.secret_key_rate_bps = 1;
    })
    .await;
    let mut master = pair.connect(Site::A, MASTER).await;
    let status = master.get(&status_path(SLAVE)).await.unwrap();
    assert_eq!(status.status, 200);
    let s = status.json();
    assert_eq!(s["source_KME_ID"], "kme-a");
    assert_eq!(s["target_KME_ID"], "kme-b");
    assert_eq!(s["master_SAE_ID"], MASTER);
    assert_eq!(s["slave_SAE_ID"], SLAVE);
    assert_eq!(s["key_size"], 256);
    assert_eq!(s["stored_key_count"], 50);
    assert_eq!(s["max_key_count"], 100_000);
    assert_eq!(s["max_key_per_request"], 128);
    assert_eq!(s["max_key_size"], 1024);
    assert_eq!(s["min_key_size"], 64);
    assert_eq!(s["max_SAE_ID_count"], 0);

    let enc = master.get(&format!("{}?number=2&size=128", enc_path(SLAVE))).await.unwrap();
    assert_eq!(enc.status, 200, "{}", enc.text());
    let issued = keys(&enc);
    assert_eq!(issued.len(), 2);
    assert!(issued.iter().all(|(_, k)| k.len() == 24), "128-bit keys");

    let mut slave = pair.connect(Site::B, SLAVE).await;
    let status_b = slave.get(&status_path(MASTER)).await.unwrap().json();
    assert_eq!(status_b["source_KME_ID"], "kme-b");
    assert_eq!(status_b["target_KME_ID"], "kme-a");
    // 50 keys of 256 bits minus 256 bits taken.
    assert_eq!(status_b["stored_key_count"], 49);

    for (id, key) in &issued {
        let dec = slave.get(&format!("{}?key_ID={id}", dec_path(MASTER))).await.unwrap();
        assert_eq!(dec.status, 200, "{}", dec.text());
        assert_eq!(keys(&dec), vec![(id.clone(), key.clone())]);
    }
}

#[tokio::test]
async fn bad_requests_get_the_spec_answers_and_change_nothing() {
    let pair = Pair::start(|s| {
        s.link.initial_key_count = 10;
        s.link.secret_key_rate_bps = 1;
        s.limits.max_body_bytes = 1024;
    })
    .await;
    let mut c = pair.connect(Site::A, MASTER).await;
    /// method, path, body, content type, expected status, expected message fragment.
    type Case<'a> = (&'a str, String, Option<&'a [u8]>, Option<&'a str>, u16, &'a str);
    let cases: &[Case] = &[
        (
            "POST",
            enc_path(SLAVE),
            Some(br#"{"size": 100}"#),
            Some("application/json"),
            400,
            "size shall be a multiple of 8",
        ),
        ("POST", enc_path(SLAVE), Some(b"{not json"), Some("application/json"), 400, "bad request format"),
        ("POST", enc_path(SLAVE), Some(br#"{"number": 129}"#), Some("application/json"), 400, "requested parameters"),
        (
            "POST",
            enc_path(SLAVE),
            Some(br#"{"extension_mandatory": [{"abc_route_type": "direct"}]}"#),
            Some("application/json"),
            400,
            "not all extension_mandatory parameters are supported",
        ),
        ("GET", format!("{}?size=abc", enc_path(SLAVE)), None, None, 400, "size"),
        ("GET", format!("{}?key_ID=not-a-uuid", dec_path(SLAVE)), None, None, 400, "key_ID"),
        ("POST", enc_path(SLAVE), Some(b"{}"), Some("text/plain"), 415, "application/json"),
        ("POST", enc_path(SLAVE), Some(&[b' '; 2000]), Some("application/json"), 413, "1024 bytes"),
        ("GET", "/api/v1/keys/x/other".into(), None, None, 404, "/api/v1/keys"),
        ("GET", "/".into(), None, None, 404, "/api/v1/keys"),
        ("POST", status_path(SLAVE), Some(b"{}"), Some("application/json"), 405, "GET"),
        ("DELETE", enc_path(SLAVE), None, None, 405, "GET, POST"),
    ];
    for (method, path, body, ct, status, needle) in cases {
        let m = hyper::Method::from_bytes(method.as_bytes()).unwrap();
        let r = c.send_with(m, path, *body, *ct).await.unwrap();
        assert_eq!(r.status, *status, "{method} {path}: {}", r.text());
        assert_eq!(r.content_type.as_deref(), Some("application/json"), "{method} {path}");
        let msg = r.json()["message"].as_str().unwrap_or_default().to_string();
        assert!(msg.contains(needle), "{method} {path}: {msg:?} lacks {needle:?}");
        if *status == 405 {
            assert_eq!(r.allow.as_deref(), Some(*needle));
        }
    }
    let state = pair.state().await;
    assert_eq!(state["pool"]["keys_issued_total"], 0);
    assert_eq!(state["pool"]["stored_key_count"], 10);
}

#[tokio::test]
async fn sae_id_from_a_uri_or_dns_san() {
    let pair = Pair::start(|s| {
        s.link.initial_key_count = 10;
        s.sae_id_source = SaeIdSource::SanUri { prefix: "urn:qsafe:sae:".into() };
    })
    .await;
    // CN says something else: the URI SAN decides.
    let id = pair.issue_client(client_profile("not-the-sae-id").with_uri("urn:qsafe:sae:ric-xapp"));
    let mut c = pair.connect_as(Site::A, &id).await;
    let s = c.get(&status_path(SLAVE)).await.unwrap();
    assert_eq!(s.status, 200, "{}", s.text());
    assert_eq!(s.json()["master_SAE_ID"], MASTER);
    // No matching URI: 401 on every request, counted.
    let bare = pair.issue_client(client_profile("ric-xapp").with_uri("urn:other:ric-xapp"));
    let mut c = pair.connect_as(Site::A, &bare).await;
    let r = c.get(&status_path(SLAVE)).await.unwrap();
    assert_eq!((r.status, r.body.is_empty()), (401, true));
    let m = pair.metrics().await;
    assert_eq!(metric(&m, r#"qsafe_kme_identity_failures_total{site="A"}"#), Some(1.0), "{m}");

    let pair = Pair::start(|s| s.sae_id_source = SaeIdSource::SanDns).await;
    let id = pair.issue_client(client_profile("cn-ignored").with_dns_name("e2node-7"));
    let mut c = pair.connect_as(Site::B, &id).await;
    assert_eq!(c.get(&status_path(MASTER)).await.unwrap().json()["master_SAE_ID"], "e2node-7");
}

#[tokio::test]
async fn a_client_certificate_from_an_unknown_ca_is_refused_at_the_tls_layer() {
    let pair = Pair::start(|s| s.link.initial_key_count = 10).await;
    let stranger = demo_pki(qsafe_kme::config::PkiAlgorithm::MlDsa65, &[MASTER]);
    // Trusts the right server CA, presents a same-named SAE certificate from another CA.
    let cfg = qsafe_pqc::tls::client_config(
        &[pair.pki.ca.certificate().clone()],
        Some(stranger.sae(MASTER).unwrap()),
        KeyExchangePolicy::HybridPreferred,
        AuthPolicy::Any,
    )
    .unwrap();
    // TLS 1.3: the client finishes its side before the server checks the
    // certificate, so the refusal surfaces at the latest on first use.
    let refused = match Connection::tls(pair.kme.addr(Site::A), "localhost", cfg).await {
        Err(_) => true,
        Ok(mut c) => c.get(&status_path(SLAVE)).await.is_err(),
    };
    assert!(refused, "a foreign client certificate must not get an HTTP answer");
    // And without any client certificate.
    let no_cert = qsafe_pqc::tls::client_config(
        &[pair.pki.ca.certificate().clone()],
        None,
        KeyExchangePolicy::HybridPreferred,
        AuthPolicy::Any,
    )
    .unwrap();
    let refused = match Connection::tls(pair.kme.addr(Site::B), "localhost", no_cert).await {
        Err(_) => true,
        Ok(mut c) => c.get(&status_path(SLAVE)).await.is_err(),
    };
    assert!(refused);
    let m = pair.metrics().await;
    assert_eq!(metric(&m, r#"qsafe_kme_tls_handshake_failures_total{site="A"}"#), Some(1.0), "{m}");
    assert_eq!(metric(&m, r#"qsafe_kme_tls_handshake_failures_total{site="B"}"#), Some(1.0), "{m}");
    assert_eq!(pair.state().await["calls"]["status"]["ok"], 0);
}

#[tokio::test]
async fn pq_only_policy_refuses_a_classical_key_exchange() {
    let pair = Pair::start(|s| s.tls.kx = qsafe_kme::config::KxPolicy::PqOnly).await;
    let classical = qsafe_pqc::tls::client_config(
        &[pair.pki.ca.certificate().clone()],
        pair.pki.sae(MASTER),
        KeyExchangePolicy::ClassicalOnly,
        AuthPolicy::Any,
    )
    .unwrap();
    assert!(Connection::tls(pair.kme.addr(Site::A), "localhost", classical).await.is_err());
    let mut pq = pair.connect(Site::A, MASTER).await;
    assert_eq!(pq.negotiated_group(), Some("X25519MLKEM768"));
    assert_eq!(pq.get(&status_path(SLAVE)).await.unwrap().status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_each_get_their_own_keys_exactly_once() {
    const CLIENTS: usize = 8;
    const ROUNDS: usize = 25;
    let pair = std::sync::Arc::new(Pair::start(|s| s.link.initial_key_count = 10_000).await);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let pair = pair.clone();
        tasks.spawn(async move {
            let mut master = pair.connect(Site::A, MASTER).await;
            let mut slave = pair.connect(Site::B, SLAVE).await;
            let mut ids = Vec::new();
            for _ in 0..ROUNDS {
                let enc = master.post_json(&enc_path(SLAVE), br#"{"number": 2}"#).await.unwrap();
                assert_eq!(enc.status, 200, "{}", enc.text());
                let issued = keys(&enc);
                let list: Vec<&str> = issued.iter().map(|(id, _)| id.as_str()).collect();
                let dec = slave.post_json(&dec_path(MASTER), &key_ids_body(&list)).await.unwrap();
                assert_eq!(dec.status, 200, "{}", dec.text());
                assert_eq!(keys(&dec), issued);
                ids.extend(issued.into_iter().map(|(id, _)| id));
            }
            ids
        });
    }
    let mut all = HashSet::new();
    while let Some(ids) = tasks.join_next().await {
        for id in ids.unwrap() {
            assert!(all.insert(id), "key_ID handed out twice");
        }
    }
    assert_eq!(all.len(), CLIENTS * ROUNDS * 2);
    let state = pair.state().await;
    assert_eq!(state["pool"]["keys_issued_total"], CLIENTS * ROUNDS * 2);
    assert_eq!(state["pool"]["keys_retrieved_total"], CLIENTS * ROUNDS * 2);
    assert_eq!(state["pool"]["pending_keys"], 0);
}

#[tokio::test]
async fn kme_id_must_match_the_certificate() {
    let pki = demo_pki(qsafe_kme::config::PkiAlgorithm::EcdsaP256, &[MASTER]);
    let mut s = loopback_settings();
    s.kme_ids = [Some("kme-a".into()), Some("kme-x".into())];
    let e = qsafe_kme::server::start_with_material(s, pki.tls_material()).await.unwrap_err();
    assert!(e.to_string().contains("kme-x"), "{e}");
}

#[tokio::test]
async fn port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let pki = demo_pki(qsafe_kme::config::PkiAlgorithm::EcdsaP256, &[MASTER]);
    let mut s = loopback_settings();
    s.listen[1] = addr;
    let e = qsafe_kme::server::start_with_material(s, pki.tls_material()).await.unwrap_err().to_string();
    assert!(e.contains(&addr.to_string()) && e.contains("KME B"), "{e}");
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let pair = Pair::start(|s| s.limits.idle_timeout = std::time::Duration::from_millis(300)).await;
    let mut c = pair.connect(Site::A, MASTER).await;
    assert_eq!(c.get(&status_path(SLAVE)).await.unwrap().status, 200);
    // Waiting is the point: the server must close the connection on its own.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let m = r#"qsafe_kme_open_connections{site="A"}"#;
    while metric(&pair.metrics().await, m) != Some(0.0) {
        assert!(std::time::Instant::now() < deadline, "idle connection not closed");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(c.get(&status_path(SLAVE)).await.is_err(), "the closed connection cannot be reused");
}
