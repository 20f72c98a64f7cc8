//! Socket-free tests: URL parsing, backoff, certificate ID extraction, and how answers are read.
//! The mutual-TLS round trips are in `qkd/tests/client_mtls.rs`.

use super::*;
use crate::api::KeyMaterial;

fn answer(status: u16, body: impl Into<Vec<u8>>) -> Answer {
    Answer { status, body: Zeroizing::new(body.into()), retry_after: None }
}

fn key(seed: u8, bytes: usize) -> Key {
    Key::new(KeyId::from_random_bytes([seed; 16]), KeyMaterial::from_slice(&vec![seed; bytes]))
}

fn container_json(keys: &[Key]) -> Vec<u8> {
    KeyContainer { keys: keys.to_vec(), key_container_extension: None }.to_json().to_vec()
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let p =
        RetryPolicy { attempts: 5, base_backoff: Duration::from_millis(100), max_backoff: Duration::from_millis(700) };
    let waits: Vec<u128> = (1..=5).map(|r| p.backoff(r).as_millis()).collect();
    assert_eq!(waits, vec![100, 200, 400, 700, 700]);
    assert_eq!(p.backoff(200), Duration::from_millis(700), "no overflow for large retry numbers");
    assert_eq!(RetryPolicy::NONE.backoff(1), Duration::ZERO);
}

#[test]
fn base_urls() {
    let e = Endpoint::parse("https://kme-a.example:8443").unwrap();
    assert_eq!(
        (e.host.as_str(), e.port, e.authority.as_str(), e.prefix.as_str()),
        ("kme-a.example", 8443, "kme-a.example:8443", "")
    );
    let e = Endpoint::parse("kme-a:9000").unwrap();
    assert_eq!((e.host.as_str(), e.port), ("kme-a", 9000));
    let e = Endpoint::parse("https://[::1]:8443/qkd/").unwrap();
    assert_eq!((e.host.as_str(), e.prefix.as_str(), e.addr()), ("::1", "/qkd", "[::1]:8443".to_owned()));
    assert_eq!(Endpoint::parse("https://kme").unwrap().port, 443);
    for bad in ["http://kme:80", "https://", "https://user@kme:1", "https://kme:1/?x=1", "not a url", ""] {
        assert!(matches!(Endpoint::parse(bad), Err(ClientError::Config(_))), "{bad}");
    }
}

#[test]
fn client_config_is_checked_up_front() {
    let tls = test_tls_config();
    assert!(Etsi014Client::new(ClientConfig::new("https://127.0.0.1:1", tls.clone(), "KME_A")).is_ok());
    assert!(matches!(
        Etsi014Client::new(ClientConfig::new("http://x", tls.clone(), "KME_A")),
        Err(ClientError::Config(_))
    ));
    assert!(matches!(
        Etsi014Client::new(ClientConfig::new("https://x:1", tls.clone(), "")),
        Err(ClientError::Config(_))
    ));
    let zero = ClientConfig { timeout: Duration::ZERO, ..ClientConfig::new("https://x:1", tls, "K") };
    assert!(matches!(Etsi014Client::new(zero), Err(ClientError::Config(_))));
}

fn test_tls_config() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
    )
}

fn certificate(cn: &str, dns: &[&str], uris: &[&str]) -> Vec<u8> {
    let mut params = rcgen::CertificateParams::new(dns.iter().map(|d| (*d).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, cn);
    for uri in uris {
        params.subject_alt_names.push(rcgen::SanType::URI((*uri).try_into().unwrap()));
    }
    let key = rcgen::KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().der().to_vec()
}

#[test]
fn kme_id_is_read_from_the_configured_certificate_field() {
    let der = certificate("KME_A", &["kme-a.example", "KME_A_DNS"], &["urn:etsi:qkd:kme:KME_A"]);
    assert_eq!(kme_ids_in_certificate(&der, IdSource::CommonName).unwrap(), vec!["KME_A"]);
    assert_eq!(kme_ids_in_certificate(&der, IdSource::SanDns).unwrap(), vec!["kme-a.example", "KME_A_DNS"]);
    assert_eq!(kme_ids_in_certificate(&der, IdSource::SanUri).unwrap(), vec!["urn:etsi:qkd:kme:KME_A"]);
    check_kme_id(&der, "KME_A", IdSource::CommonName).unwrap();
    check_kme_id(&der, "KME_A_DNS", IdSource::SanDns).unwrap();
    check_kme_id(&der, "urn:etsi:qkd:kme:KME_A", IdSource::SanUri).unwrap();
    match check_kme_id(&der, "KME_B", IdSource::CommonName) {
        Err(ClientError::KmeIdMismatch { expected, found, found_in }) => {
            assert_eq!(expected, "KME_B");
            assert_eq!(found, vec!["KME_A"]);
            assert!(found_in.contains("commonName"), "{found_in}");
        }
        other => panic!("{other:?}"),
    }
    // The CN is not a DNS name: asking the SAN for it must not match.
    assert!(matches!(check_kme_id(&der, "KME_A", IdSource::SanDns), Err(ClientError::KmeIdMismatch { .. })));
    let no_san = certificate("KME_A", &[], &[]);
    assert_eq!(kme_ids_in_certificate(&no_san, IdSource::SanUri).unwrap(), Vec::<String>::new());
    assert!(matches!(check_kme_id(b"not DER", "KME_A", IdSource::CommonName), Err(ClientError::Certificate(_))));
}

#[test]
fn enc_keys_answers() {
    let req = KeyRequest::new(2, Some(256));
    let keys = [key(1, 32), key(2, 32)];
    let ok = interpret_enc_keys(&answer(200, container_json(&keys)), &req).unwrap();
    assert_eq!(ok.keys, keys);

    // A short 200: a typed shortfall carrying the key that came.
    match interpret_enc_keys(&answer(200, container_json(&keys[..1])), &req) {
        Err(ClientError::Shortfall(s)) => {
            assert_eq!((s.call, s.http_status, s.requested), (Call::EncKeys, 200, 2));
            assert_eq!(s.received, keys[..1]);
        }
        other => panic!("{other:?}"),
    }
    let empty = interpret_enc_keys(&answer(200, br#"{"keys":[]}"#.to_vec()), &req).unwrap_err();
    assert!(matches!(empty, ClientError::Shortfall(ref s) if s.received.is_empty()), "{empty:?}");

    let bad = |body: Vec<u8>, req: &KeyRequest| match interpret_enc_keys(&answer(200, body), req) {
        Err(ClientError::BadResponse { call: Call::EncKeys, reason }) => reason,
        other => panic!("{other:?}"),
    };
    assert!(bad(container_json(&[key(1, 32), key(2, 32), key(3, 32)]), &req).contains("3 keys"));
    assert!(bad(container_json(&[key(1, 16), key(2, 16)]), &req).contains("128 bits"));
    assert!(bad(container_json(&[key(1, 32), key(1, 32)]), &req).contains("twice"));
    assert!(bad(container_json(&[key(1, 32), key(2, 16)]), &KeyRequest::new(2, None)).contains("different sizes"));
    assert!(bad(container_json(&[key(1, 0)]), &KeyRequest::default()).contains("empty"));
    assert!(bad(b"<html>".to_vec(), &req).contains("not valid JSON"));
    assert!(bad(b"[]".to_vec(), &req).contains("not valid JSON"));
}

#[test]
fn error_statuses_map_to_typed_errors() {
    let req = KeyRequest::default();
    let body = ErrorBody::new(messages::SIZE_NOT_MULTIPLE_OF_8).to_json();
    assert!(matches!(
        interpret_enc_keys(&answer(400, body), &req),
        Err(ClientError::BadRequest(b)) if b.message == messages::SIZE_NOT_MULTIPLE_OF_8
    ));
    // A 400 without a JSON body still says what came.
    match interpret_enc_keys(&answer(400, b"nope".to_vec()), &req) {
        Err(ClientError::BadRequest(b)) => assert!(b.message.contains("nope"), "{b:?}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(interpret_enc_keys(&answer(401, Vec::new()), &req), Err(ClientError::Unauthorized)));
    assert!(matches!(interpret_status(&answer(401, Vec::new())), Err(ClientError::Unauthorized)));
    let unavailable = ErrorBody::new("no key").to_json();
    assert!(matches!(
        interpret_enc_keys(&answer(503, unavailable), &req),
        Err(ClientError::Unavailable(Some(b))) if b.message == "no key"
    ));
    match interpret_enc_keys(&answer(500, "x".repeat(10_000)), &req) {
        Err(ClientError::UnexpectedStatus { status: 500, excerpt }) => assert!(excerpt.len() < 300),
        other => panic!("{other:?}"),
    }
    // 404 on enc_keys is a wrong URL, not missing keys.
    assert!(matches!(
        interpret_enc_keys(&answer(404, Vec::new()), &req),
        Err(ClientError::UnexpectedStatus { status: 404, .. })
    ));
}

#[test]
fn dec_keys_answers() {
    let keys = [key(1, 32), key(2, 32), key(3, 32)];
    let req = KeyIds::new(keys.iter().map(|k| k.key_id));
    // Any order on the wire; request order out.
    let shuffled = [keys[2].clone(), keys[0].clone(), keys[1].clone()];
    let ok = interpret_dec_keys((answer(200, container_json(&shuffled)), false), &req).unwrap();
    assert_eq!(ok.keys, keys);

    match interpret_dec_keys((answer(200, container_json(&keys[1..2])), false), &req) {
        Err(ClientError::Shortfall(s)) => {
            assert_eq!((s.call, s.http_status, s.requested), (Call::DecKeys, 200, 3));
            assert_eq!(s.received, keys[1..2]);
            assert_eq!(s.missing, vec![keys[0].key_id, keys[2].key_id]);
        }
        other => panic!("{other:?}"),
    }
    // A peer's 404 for unknown keys.
    let not_found = interpret_dec_keys((answer(404, b"Not Found".to_vec()), false), &req).unwrap_err();
    assert!(not_found.is_keys_not_found());
    match not_found {
        ClientError::Shortfall(s) => {
            assert_eq!(s.http_status, 404);
            assert_eq!(s.missing.len(), 3);
        }
        other => panic!("{other:?}"),
    }
    let stranger = [keys[0].clone(), keys[1].clone(), key(9, 32)];
    assert!(matches!(
        interpret_dec_keys((answer(200, container_json(&stranger)), false), &req),
        Err(ClientError::BadResponse { reason, .. }) if reason.contains("not requested")
    ));
    let twice = [keys[0].clone(), keys[0].clone()];
    assert!(matches!(
        interpret_dec_keys((answer(200, container_json(&twice)), false), &req),
        Err(ClientError::BadResponse { reason, .. }) if reason.contains("twice")
    ));

    // The spec's 400: plain, or "possibly delivered" after a transport failure on an earlier attempt.
    let nf = ErrorBody::new(messages::KEYS_NOT_FOUND).to_json();
    let plain = interpret_dec_keys((answer(400, nf.clone()), false), &req).unwrap_err();
    assert!(matches!(plain, ClientError::BadRequest(_)) && plain.is_keys_not_found());
    let lost = interpret_dec_keys((answer(400, nf), true), &req).unwrap_err();
    assert!(matches!(lost, ClientError::PossiblyDelivered(_)) && lost.is_keys_not_found());
    let other_400 = ErrorBody::new("something else").to_json();
    assert!(matches!(interpret_dec_keys((answer(400, other_400), true), &req), Err(ClientError::BadRequest(_))));
}

#[test]
fn status_answers() {
    let status = Status {
        source_kme_id: "KME_A".into(),
        target_kme_id: "KME_B".into(),
        master_sae_id: "M".into(),
        slave_sae_id: "S".into(),
        key_size: 256,
        stored_key_count: 1,
        max_key_count: 2,
        max_key_per_request: 3,
        max_key_size: 1024,
        min_key_size: 64,
        max_sae_id_count: 0,
        status_extension: None,
    };
    assert_eq!(interpret_status(&answer(200, status.to_json())).unwrap(), status);
    assert!(matches!(
        interpret_status(&answer(200, b"{}".to_vec())),
        Err(ClientError::BadResponse { call: Call::Status, .. })
    ));
}

#[test]
fn which_errors_are_retried() {
    let io = || std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
    assert!(ClientError::Unavailable(None).is_retryable());
    assert!(ClientError::Timeout(Duration::from_secs(1)).is_retryable());
    assert!(ClientError::Http("reset".into()).is_retryable());
    assert!(ClientError::Connect { addr: "a".into(), source: io() }.is_retryable());
    assert!(ClientError::Tls { addr: "a".into(), source: io() }.is_retryable());
    let refused = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::DecryptError);
    assert!(!ClientError::Tls { addr: "a".into(), source: refused }.is_retryable());
    assert!(!ClientError::BadRequest(ErrorBody::new("x")).is_retryable());
    assert!(!ClientError::Unauthorized.is_retryable());
    assert!(!ClientError::KmeIdMismatch { expected: "a".into(), found: vec![], found_in: "x".into() }.is_retryable());
    assert!(!ClientError::UnexpectedStatus { status: 500, excerpt: String::new() }.is_retryable());
}
