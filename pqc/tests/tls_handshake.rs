//! Real mutual-TLS handshakes over loopback TCP (tokio-rustls) with the configs from
//! `qsafe_pqc::tls`: what gets negotiated, and what gets refused.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns unwrap too

mod common;

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use qsafe_pqc::pki::{CertificateAuthority, CertifiedKey, LeafProfile, LeafUsage, SignatureAlgorithm};
use qsafe_pqc::tls::{AuthPolicy, HandshakeSummary, KeyExchangePolicy, TlsConfigError, client_config, server_config};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, NamedGroup, ProtocolVersion, SignatureScheme};

const DAY: Duration = Duration::from_secs(86_400);
const SERVER_NAME: &str = "e2term.ric.local";

struct Pki {
    root: CertificateAuthority,
    server: CertifiedKey,
    client: CertifiedKey,
}

/// Root -> issuing CA -> server and client leaves, like an operator PKI.
fn make_pki(root_alg: SignatureAlgorithm, leaf_alg: SignatureAlgorithm) -> Pki {
    make_named_pki("qsafe", root_alg, leaf_alg)
}

/// The same, with CA names starting with `operator`.
fn make_named_pki(operator: &str, root_alg: SignatureAlgorithm, leaf_alg: SignatureAlgorithm) -> Pki {
    let root = CertificateAuthority::new_root(&format!("{operator} root"), root_alg, DAY).unwrap();
    let issuing = root.new_intermediate(&format!("{operator} issuing CA"), root_alg, DAY).unwrap();
    let server = issuing
        .issue(
            &LeafProfile::new("e2term", LeafUsage::Server)
                .with_dns_name(SERVER_NAME)
                .with_ip_address(IpAddr::V4(Ipv4Addr::LOCALHOST))
                .with_algorithm(leaf_alg),
        )
        .unwrap();
    let client = issuing
        .issue(&LeafProfile::new("xapp-1", LeafUsage::Client).with_uri("urn:qsafe:xapp:1").with_algorithm(leaf_alg))
        .unwrap();
    Pki { root, server, client }
}

fn roots(ca: &CertificateAuthority) -> Vec<CertificateDer<'static>> {
    vec![ca.certificate().clone()]
}

#[tokio::test]
async fn mutual_tls_negotiates_x25519mlkem768_and_ml_dsa_65() {
    let pki = make_pki(SignatureAlgorithm::MlDsa65, SignatureAlgorithm::MlDsa65);
    let server =
        server_config(&pki.server, Some(&roots(&pki.root)), KeyExchangePolicy::HybridPreferred, AuthPolicy::MlDsaOnly)
            .unwrap();
    let client =
        client_config(&roots(&pki.root), Some(&pki.client), KeyExchangePolicy::HybridPreferred, AuthPolicy::MlDsaOnly)
            .unwrap();
    let (server, server_log) = common::record_server_signatures(&server);
    let (client, client_log) = common::record_client_signatures(&client);

    let (s, c) = common::handshake_and_echo(server, client, SERVER_NAME).await;
    let (s, c) = (s.expect("server handshake"), c.expect("client handshake"));
    for summary in [&s, &c] {
        assert_eq!(summary.protocol, Some(ProtocolVersion::TLSv1_3));
        assert_eq!(summary.group, Some(NamedGroup::X25519MLKEM768));
        assert!(summary.key_exchange_is_quantum_safe());
        assert_eq!(summary.peer_algorithm, Some(SignatureAlgorithm::MlDsa65));
    }
    // The CertificateVerify signatures actually made on each side.
    assert_eq!(server_log.schemes(), [SignatureScheme::ML_DSA_65]);
    assert_eq!(client_log.schemes(), [SignatureScheme::ML_DSA_65]);
}

#[tokio::test]
async fn pq_only_server_refuses_a_classical_only_client() {
    let pki = make_pki(SignatureAlgorithm::MlDsa65, SignatureAlgorithm::MlDsa65);
    let server =
        server_config(&pki.server, Some(&roots(&pki.root)), KeyExchangePolicy::PqOnly, AuthPolicy::MlDsaOnly).unwrap();
    let client =
        client_config(&roots(&pki.root), Some(&pki.client), KeyExchangePolicy::ClassicalOnly, AuthPolicy::MlDsaOnly)
            .unwrap();
    let (s, c) = common::handshake_and_echo(server, client, SERVER_NAME).await;
    let s = s.expect_err("server must refuse");
    assert!(c.is_err(), "client must fail too");
    assert!(
        matches!(common::rustls_error(&s), Some(rustls::Error::PeerIncompatible(_))),
        "server error should be 'peer incompatible' (no common group), got {s}"
    );
}

#[tokio::test]
async fn pq_only_server_accepts_a_hybrid_preferred_client() {
    let pki = make_pki(SignatureAlgorithm::MlDsa44, SignatureAlgorithm::MlDsa44);
    let server =
        server_config(&pki.server, Some(&roots(&pki.root)), KeyExchangePolicy::PqOnly, AuthPolicy::MlDsaOnly).unwrap();
    let client =
        client_config(&roots(&pki.root), Some(&pki.client), KeyExchangePolicy::HybridPreferred, AuthPolicy::MlDsaOnly)
            .unwrap();
    let (s, c) = common::handshake_and_echo(server, client, SERVER_NAME).await;
    assert_eq!(s.unwrap().group, Some(NamedGroup::X25519MLKEM768));
    assert_eq!(c.unwrap().peer_algorithm, Some(SignatureAlgorithm::MlDsa44));
}

#[tokio::test]
async fn hybrid_preferred_client_falls_back_to_x25519_with_a_classical_server() {
    let pki = make_pki(SignatureAlgorithm::EcdsaP256, SignatureAlgorithm::EcdsaP256);
    let server =
        server_config(&pki.server, Some(&roots(&pki.root)), KeyExchangePolicy::ClassicalOnly, AuthPolicy::Any).unwrap();
    let client =
        client_config(&roots(&pki.root), Some(&pki.client), KeyExchangePolicy::HybridPreferred, AuthPolicy::Any)
            .unwrap();
    let (s, c) = common::handshake_and_echo(server, client, SERVER_NAME).await;
    let c = c.unwrap();
    assert_eq!(s.unwrap().group, Some(NamedGroup::X25519));
    assert!(!c.key_exchange_is_quantum_safe());
    assert_eq!(c.peer_algorithm, Some(SignatureAlgorithm::EcdsaP256));
}

#[tokio::test]
async fn ml_dsa_only_server_refuses_an_ecdsa_client_certificate() {
    let pki = make_pki(SignatureAlgorithm::MlDsa65, SignatureAlgorithm::MlDsa65);
    // Same (ML-DSA) CA, but the client's own key is classical ECDSA P-256.
    let issuing = pki.root.new_intermediate("issuing 2", SignatureAlgorithm::MlDsa65, DAY).unwrap();
    let ecdsa_client = issuing
        .issue(&LeafProfile::new("legacy-client", LeafUsage::Client).with_algorithm(SignatureAlgorithm::EcdsaP256))
        .unwrap();
    let server =
        server_config(&pki.server, Some(&roots(&pki.root)), KeyExchangePolicy::HybridPreferred, AuthPolicy::MlDsaOnly)
            .unwrap();
    // The client itself accepts anything (otherwise its own config would refuse the ECDSA key).
    let client =
        client_config(&roots(&pki.root), Some(&ecdsa_client), KeyExchangePolicy::HybridPreferred, AuthPolicy::Any)
            .unwrap();
    let (s, c) = common::handshake_and_echo(server, client, SERVER_NAME).await;
    let s = s.expect_err("server must refuse the ECDSA client");
    assert!(c.is_err(), "client must see the refusal");
    // The server only offers ML-DSA schemes in its CertificateRequest, so the ECDSA client cannot
    // sign and sends no certificate; client auth is mandatory, so the server aborts.
    assert!(
        matches!(common::rustls_error(&s), Some(rustls::Error::NoCertificatesPresented)),
        "unexpected server error: {s}"
    );
}

#[tokio::test]
async fn ml_dsa_only_client_refuses_an_ecdsa_server() {
    let pki = make_pki(SignatureAlgorithm::MlDsa65, SignatureAlgorithm::MlDsa65);
    let issuing = pki.root.new_intermediate("issuing 2", SignatureAlgorithm::MlDsa65, DAY).unwrap();
    let ecdsa_server = issuing
        .issue(
            &LeafProfile::new("legacy-e2term", LeafUsage::Server)
                .with_dns_name(SERVER_NAME)
                .with_algorithm(SignatureAlgorithm::EcdsaP256),
        )
        .unwrap();
    let server =
        server_config(&ecdsa_server, Some(&roots(&pki.root)), KeyExchangePolicy::HybridPreferred, AuthPolicy::Any)
            .unwrap();
    let client =
        client_config(&roots(&pki.root), Some(&pki.client), KeyExchangePolicy::HybridPreferred, AuthPolicy::MlDsaOnly)
            .unwrap();
    let (s, c) = common::handshake_and_echo(server, client, SERVER_NAME).await;
    assert!(c.is_err(), "client must not complete");
    // The client offers ML-DSA signature schemes only; an ECDSA key cannot sign any of them.
    let s = s.expect_err("server cannot authenticate");
    assert!(
        matches!(common::rustls_error(&s), Some(rustls::Error::PeerIncompatible(_))),
        "unexpected server error: {s}"
    );
}

/// Runs a handshake where the client presents `client_identity` to a server trusting `pki.root`.
async fn client_refused(pki: &Pki, client_identity: &CertifiedKey) -> io::Error {
    let server =
        server_config(&pki.server, Some(&roots(&pki.root)), KeyExchangePolicy::HybridPreferred, AuthPolicy::MlDsaOnly)
            .unwrap();
    let client = client_config(
        &roots(&pki.root),
        Some(client_identity),
        KeyExchangePolicy::HybridPreferred,
        AuthPolicy::MlDsaOnly,
    )
    .unwrap();
    let (s, c) = common::handshake_and_echo(server, client, SERVER_NAME).await;
    assert!(c.is_err(), "client must see the refusal");
    s.expect_err("server must refuse")
}

#[tokio::test]
async fn client_certificate_from_another_ca_is_refused() {
    let pki = make_pki(SignatureAlgorithm::MlDsa65, SignatureAlgorithm::MlDsa65);
    let other = make_named_pki("other operator", SignatureAlgorithm::MlDsa65, SignatureAlgorithm::MlDsa65);
    let s = client_refused(&pki, &other.client).await;
    assert!(
        matches!(common::rustls_error(&s), Some(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer))),
        "unexpected server error: {s}"
    );
}

#[tokio::test]
async fn client_certificate_from_an_impostor_ca_with_the_same_names_is_refused() {
    // The impostor copies every name of the real PKI: the chain is built by name up to our root,
    // and then the signature check against our root's key fails.
    let pki = make_pki(SignatureAlgorithm::MlDsa65, SignatureAlgorithm::MlDsa65);
    let impostor = make_pki(SignatureAlgorithm::MlDsa65, SignatureAlgorithm::MlDsa65);
    let s = client_refused(&pki, &impostor.client).await;
    assert!(
        matches!(common::rustls_error(&s), Some(rustls::Error::InvalidCertificate(CertificateError::BadSignature))),
        "unexpected server error: {s}"
    );
}

#[tokio::test]
async fn server_certificate_from_another_ca_is_refused() {
    let pki = make_pki(SignatureAlgorithm::MlDsa65, SignatureAlgorithm::MlDsa65);
    let other = make_named_pki("other operator", SignatureAlgorithm::MlDsa87, SignatureAlgorithm::MlDsa65);
    let server = server_config(
        &other.server,
        Some(&roots(&pki.root)),
        KeyExchangePolicy::HybridPreferred,
        AuthPolicy::MlDsaOnly,
    )
    .unwrap();
    let client =
        client_config(&roots(&pki.root), Some(&pki.client), KeyExchangePolicy::HybridPreferred, AuthPolicy::MlDsaOnly)
            .unwrap();
    let (s, c) = common::handshake_and_echo(server, client, SERVER_NAME).await;
    let c = c.expect_err("client must refuse");
    assert!(s.is_err());
    assert!(
        matches!(common::rustls_error(&c), Some(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer))),
        "unexpected client error: {c}"
    );
}

#[test]
fn configs_that_cannot_work_are_refused_up_front() {
    let ml = make_pki(SignatureAlgorithm::MlDsa65, SignatureAlgorithm::MlDsa65);
    let ec = make_pki(SignatureAlgorithm::EcdsaP256, SignatureAlgorithm::EcdsaP256);
    let kx = KeyExchangePolicy::HybridPreferred;

    let err = server_config(&ec.server, None, kx, AuthPolicy::MlDsaOnly).unwrap_err();
    assert!(matches!(err, TlsConfigError::IdentityNotAllowed { algorithm: SignatureAlgorithm::EcdsaP256 }), "{err}");
    let err = client_config(&roots(&ml.root), Some(&ec.client), kx, AuthPolicy::MlDsaOnly).unwrap_err();
    assert!(matches!(err, TlsConfigError::IdentityNotAllowed { .. }), "{err}");

    let err = client_config(&[], None, kx, AuthPolicy::Any).unwrap_err();
    assert!(matches!(err, TlsConfigError::NoTrustAnchors { peer: "server" }), "{err}");
    let err = server_config(&ml.server, Some(&[]), kx, AuthPolicy::MlDsaOnly).unwrap_err();
    assert!(matches!(err, TlsConfigError::NoTrustAnchors { peer: "client" }), "{err}");

    let err = client_config(&roots(&ec.root), None, kx, AuthPolicy::MlDsaOnly).unwrap_err();
    assert!(matches!(err, TlsConfigError::TrustAnchorNotAllowed { index: 0, .. }), "{err}");
    let garbage = vec![CertificateDer::from(vec![0x30, 0x00])];
    let err = client_config(&garbage, None, kx, AuthPolicy::Any).unwrap_err();
    assert!(matches!(err, TlsConfigError::InvalidTrustAnchor { index: 0, .. }), "{err}");

    // Same policies with matching material build fine.
    assert!(server_config(&ml.server, Some(&roots(&ml.root)), kx, AuthPolicy::MlDsaOnly).is_ok());
    assert!(client_config(&roots(&ec.root), Some(&ec.client), kx, AuthPolicy::Any).is_ok());
}

#[test]
fn in_memory_handshake_matches_the_socket_one() {
    let pki = make_pki(SignatureAlgorithm::MlDsa65, SignatureAlgorithm::MlDsa65);
    let server =
        server_config(&pki.server, Some(&roots(&pki.root)), KeyExchangePolicy::PqOnly, AuthPolicy::MlDsaOnly).unwrap();
    let client =
        client_config(&roots(&pki.root), Some(&pki.client), KeyExchangePolicy::PqOnly, AuthPolicy::MlDsaOnly).unwrap();
    let mut s = rustls::ServerConnection::new(server).unwrap();
    let mut c = rustls::ClientConnection::new(client, ServerName::try_from(SERVER_NAME).unwrap()).unwrap();
    let (to_server, to_client) = common::handshake_in_memory(&mut c, &mut s).unwrap();
    // Both sides send an ML-DSA-65 chain (2 × (1952-byte key + 3309-byte signature)) and a
    // 3309-byte CertificateVerify, so each direction carries well over 10 KB.
    assert!(to_server > 10_000 && to_client > 10_000, "{to_server} / {to_client} bytes");
    let summary = HandshakeSummary::of(&s);
    assert_eq!(summary.group, Some(NamedGroup::X25519MLKEM768));
    assert_eq!(summary.peer_algorithm, Some(SignatureAlgorithm::MlDsa65));
}
