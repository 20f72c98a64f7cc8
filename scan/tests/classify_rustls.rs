//! The scanner against real rustls servers on loopback, one per configuration.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use qsafe_scan::model::{
    Classification, ClientAuthDemand, EndpointReport, GroupOffer, KeyAlgorithm, Reachability, Target, TlsVersion,
};
use qsafe_scan::testserver::{ServerProfile, spawn, spawn_blackhole, spawn_plain, spawn_with_config};
use qsafe_scan::{ScanConfig, parse_targets, scan_endpoint};

fn config() -> ScanConfig {
    ScanConfig { timeout: Duration::from_secs(5), ..ScanConfig::default() }
}

fn target(addr: std::net::SocketAddr) -> Target {
    parse_targets(&addr.to_string()).unwrap().remove(0)
}

async fn scan_profile(profile: ServerProfile) -> EndpointReport {
    let server = spawn(profile).await.unwrap();
    scan_endpoint(&target(server.addr), &config()).await
}

fn probe(r: &EndpointReport, offered: GroupOffer) -> &qsafe_scan::model::GroupProbe {
    r.group_probes.iter().find(|p| p.offered == offered).unwrap()
}

fn group_name(r: &EndpointReport, offered: GroupOffer) -> Option<String> {
    probe(r, offered).negotiated_group.as_ref().map(|g| g.name.clone())
}

#[tokio::test]
async fn full_pqc_server() {
    let r = scan_profile(ServerProfile::FullPqc).await;
    assert_eq!(r.reachability, Reachability::Tls, "{r:#?}");
    assert_eq!(r.classification, Classification::FullPqc, "{r:#?}");
    assert_eq!(r.tls_versions, vec![TlsVersion::Tls13]);
    assert_eq!(group_name(&r, GroupOffer::X25519Mlkem768Only).as_deref(), Some("X25519MLKEM768"));
    assert!(!probe(&r, GroupOffer::Mlkem768Only).accepted);
    assert!(!probe(&r, GroupOffer::ClassicalOnly).accepted);
    assert!(probe(&r, GroupOffer::ClassicalOnly).error.is_some());
    let n = r.negotiated.as_ref().unwrap();
    assert_eq!(n.group.as_ref().unwrap().name, "X25519MLKEM768");
    assert_eq!(n.signature_scheme.as_ref().unwrap().name, "mldsa65");
    assert!(n.cipher_suite.starts_with("TLS_AES_") || n.cipher_suite.starts_with("TLS_CHACHA20"), "{}", n.cipher_suite);
    // Chain: leaf + intermediate (ML-DSA-65 keys), signed by ML-DSA-65 and ML-DSA-87 (root).
    assert_eq!(r.chain.len(), 2);
    assert_eq!(r.chain[0].public_key, KeyAlgorithm::MlDsa { parameter_set: 65 });
    assert_eq!(r.chain[0].signature_algorithm.name, "ML-DSA-65");
    assert!(!r.chain[0].is_ca);
    assert!(r.chain[0].subject_alt_names.contains(&"127.0.0.1".to_owned()));
    assert!(r.chain[0].subject.contains("qsafe-scan test server"));
    assert_eq!(r.chain[1].public_key, KeyAlgorithm::MlDsa { parameter_set: 65 });
    assert_eq!(r.chain[1].signature_algorithm.name, "ML-DSA-87");
    assert_eq!(r.chain[1].signature_algorithm.oid, "2.16.840.1.101.3.4.3.19");
    assert!(r.chain[1].is_ca);
    assert_eq!(r.chain[0].issuer, r.chain[1].subject);
    assert_eq!(r.chain[0].sha256.len(), 64);
    assert_eq!(r.client_auth, ClientAuthDemand::None);
    // Observed: the server only has X25519MLKEM768, so given an x25519 share it asks for it.
    let hrr = r.hello_retry.as_ref().unwrap();
    assert!(hrr.retry_requested && hrr.prefers_post_quantum, "{hrr:?}");
    assert_eq!(hrr.selected_group.as_ref().unwrap().name, "X25519MLKEM768");
    assert!(r.notes.iter().any(|n| n.contains("ML-DSA authentication throughout")), "{:?}", r.notes);
}

#[tokio::test]
async fn hybrid_default_server() {
    let r = scan_profile(ServerProfile::Hybrid).await;
    assert_eq!(r.classification, Classification::HybridKeyExchangeOnly, "{r:#?}");
    assert_eq!(r.tls_versions, vec![TlsVersion::Tls13, TlsVersion::Tls12]);
    assert_eq!(group_name(&r, GroupOffer::X25519Mlkem768Only).as_deref(), Some("X25519MLKEM768"));
    assert!(!probe(&r, GroupOffer::Mlkem768Only).accepted);
    assert_eq!(group_name(&r, GroupOffer::ClassicalOnly).as_deref(), Some("x25519"));
    let n = r.negotiated.as_ref().unwrap();
    assert_eq!(n.version, TlsVersion::Tls13);
    assert_eq!(n.group.as_ref().unwrap().name, "X25519MLKEM768");
    assert_eq!(n.signature_scheme.as_ref().unwrap().name, "ecdsa_secp256r1_sha256");
    assert_eq!(r.chain[0].public_key, KeyAlgorithm::Ec { curve: "secp256r1".into() });
    assert_eq!(r.chain[0].signature_algorithm.name, "ecdsa-with-SHA256");
    // Observed rustls 0.23 server behaviour: it picks the group by *its own* preference
    // (X25519MLKEM768 first) among the client's supported_groups, and sends a
    // HelloRetryRequest for it although a usable x25519 share was offered.
    let hrr = r.hello_retry.as_ref().unwrap();
    assert!(hrr.retry_requested && hrr.prefers_post_quantum, "{hrr:?}");
    assert_eq!(hrr.selected_group.as_ref().unwrap().name, "X25519MLKEM768");
    assert!(r.notes.iter().any(|n| n.contains("prefers PQ")), "{:?}", r.notes);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("classical authentication: CertificateVerify signed with ecdsa_secp256r1_sha256")),
        "{:?}",
        r.notes
    );
    assert!(r.notes.iter().any(|n| n.contains("downgradeable")), "{:?}", r.notes);
}

#[tokio::test]
async fn classical_server() {
    let r = scan_profile(ServerProfile::Classical).await;
    assert_eq!(r.classification, Classification::QuantumVulnerable, "{r:#?}");
    assert!(!probe(&r, GroupOffer::X25519Mlkem768Only).accepted);
    assert!(!probe(&r, GroupOffer::Mlkem768Only).accepted);
    assert!(probe(&r, GroupOffer::X25519Mlkem768Only).error.is_some());
    assert!(probe(&r, GroupOffer::ClassicalOnly).accepted);
    assert_eq!(r.negotiated.as_ref().unwrap().group.as_ref().unwrap().name, "x25519");
    assert_eq!(r.notes[0], "no ML-KEM group accepted");
    let hrr = r.hello_retry.as_ref().unwrap();
    assert!(!hrr.retry_requested);
    assert_eq!(hrr.selected_group.as_ref().unwrap().name, "x25519");
}

#[tokio::test]
async fn pure_mlkem_server() {
    let r = scan_profile(ServerProfile::PureMlkem).await;
    assert_eq!(r.classification, Classification::FullPqc, "{r:#?}");
    assert!(!probe(&r, GroupOffer::X25519Mlkem768Only).accepted);
    assert_eq!(group_name(&r, GroupOffer::Mlkem768Only).as_deref(), Some("MLKEM768"));
    assert!(!probe(&r, GroupOffer::ClassicalOnly).accepted);
    assert_eq!(r.negotiated.as_ref().unwrap().group.as_ref().unwrap().name, "MLKEM768");
    // The HRR probe lists X25519MLKEM768 and x25519 only: nothing this server has.
    let hrr = r.hello_retry.as_ref().unwrap();
    assert!(!hrr.retry_requested);
    assert!(hrr.error.as_deref().unwrap().contains("handshake_failure"), "{hrr:?}");
}

#[tokio::test]
async fn tls12_only_server() {
    let r = scan_profile(ServerProfile::Tls12Classical).await;
    assert_eq!(r.classification, Classification::QuantumVulnerable, "{r:#?}");
    assert_eq!(r.tls_versions, vec![TlsVersion::Tls12]);
    let n = r.negotiated.as_ref().unwrap();
    assert_eq!(n.version, TlsVersion::Tls12);
    assert!(n.cipher_suite.starts_with("TLS_ECDHE_ECDSA_WITH_"), "{}", n.cipher_suite);
    // TLS 1.2: the code point is (hash, ECDSA); the curve is not bound, so no curve in the name
    assert_eq!(n.signature_scheme.as_ref().unwrap().name, "ecdsa_sha256");
    assert!(probe(&r, GroupOffer::ClassicalOnly).accepted);
    assert!(r.hello_retry.as_ref().unwrap().error.is_some());
}

#[tokio::test]
async fn client_auth_required_and_optional() {
    let r = scan_profile(ServerProfile::ClientAuthRequired).await;
    assert_eq!(r.client_auth, ClientAuthDemand::Required, "{r:#?}");
    assert!(r.notes.iter().any(|n| n.contains("certificate_required")), "{:?}", r.notes);
    assert_eq!(r.classification, Classification::HybridKeyExchangeOnly);
    let r = scan_profile(ServerProfile::ClientAuthOptional).await;
    assert_eq!(r.client_auth, ClientAuthDemand::Optional, "{r:#?}");
    assert_eq!(r.classification, Classification::HybridKeyExchangeOnly);
    let r = scan_profile(ServerProfile::Hybrid).await;
    assert_eq!(r.client_auth, ClientAuthDemand::None);
}

#[tokio::test]
async fn closed_port_and_not_tls() {
    // A port that was just free: bind, read the port, drop.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let r = scan_endpoint(&target(port), &config()).await;
    assert_eq!(r.classification, Classification::Unreachable);
    assert!(matches!(&r.reachability, Reachability::Unreachable { error } if error.contains("refused")), "{r:#?}");
    assert!(r.group_probes.is_empty());

    let http = spawn_plain(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await.unwrap();
    let r = scan_endpoint(&target(http.addr), &config()).await;
    assert_eq!(r.classification, Classification::Unreachable);
    assert!(matches!(&r.reachability, Reachability::NotTls { error } if error.contains("HTTP/1.1 400")), "{r:#?}");
}

#[tokio::test]
async fn blackhole_times_out_once() {
    let hole = spawn_blackhole().await.unwrap();
    let cfg = ScanConfig { timeout: Duration::from_millis(700), ..ScanConfig::default() };
    let started = std::time::Instant::now();
    let r = scan_endpoint(&target(hole.addr), &cfg).await;
    assert!(started.elapsed() < Duration::from_millis(2000), "{:?}", started.elapsed());
    assert!(matches!(&r.reachability, Reachability::NotTls { error } if error.contains("no TLS answer")), "{r:#?}");
}

#[tokio::test]
async fn expired_leaf_is_noted() {
    use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let cert = params.self_signed(&key).unwrap();
    let p = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(p)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()))
        .unwrap();
    let server = spawn_with_config(Arc::new(server_config), "127.0.0.1:0").await.unwrap();
    let r = scan_endpoint(&target(server.addr), &config()).await;
    assert_eq!(r.classification, Classification::HybridKeyExchangeOnly, "{r:#?}");
    assert_eq!(r.chain[0].not_after, "2021-01-01T00:00:00Z");
    assert!(r.notes.iter().any(|n| n.starts_with("leaf") && n.contains("expired on 2021-01-01")), "{:?}", r.notes);
}
