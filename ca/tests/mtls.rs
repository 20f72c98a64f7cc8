//! Certificates issued by the CA from CSRs, in real mutual-TLS handshakes over loopback TCP with
//! the `qsafe_pqc::tls` configs: X25519MLKEM768 + ML-DSA accepted; a classical-only client, an
//! ECDSA client certificate under `MlDsaOnly`, and a revoked client (server has our CRL) refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../pqc/tests/common/mod.rs"]
mod pqc_common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use qsafe_ca::{CaStore, IssueRequest, Profile};
use qsafe_pqc::pki::{CertifiedKey, SignatureAlgorithm};
use qsafe_pqc::tls::{AuthPolicy, KeyExchangePolicy, client_config, crypto_provider, server_config};
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{NamedGroup, ProtocolVersion, RootCertStore, SignatureScheme};

const SERVER_NAME: &str = "e2term.ric.example";

struct Setup {
    _tmp: tempfile::TempDir,
    store: CaStore,
    roots: Vec<CertificateDer<'static>>,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let store = new_ca(&tmp.path().join("ca"));
    let roots = vec![store.certificate(1, "root").unwrap()];
    Setup { _tmp: tmp, store, roots }
}

/// Key generated "on the device" (rcgen), CSR signed by the CA, reloaded as a TLS identity.
fn identity(
    store: &mut CaStore,
    alg: &'static rcgen::SignatureAlgorithm,
    profile: Profile,
    cn: &str,
) -> (CertifiedKey, String) {
    let k = key(alg);
    let dns: &[&str] = if profile == Profile::TlsClient { &[] } else { &[SERVER_NAME] };
    let issued = store.sign_csr(csr(&k, cn, dns).as_bytes(), &IssueRequest::new(profile), &pass()).unwrap();
    (CertifiedKey::from_pem(&issued.chain_pem, &k.serialize_pem()).unwrap(), issued.record.serial)
}

#[tokio::test]
async fn ca_issued_certs_do_mutual_tls_with_x25519mlkem768_and_ml_dsa() {
    let mut s = setup();
    let (server_id, _) = identity(&mut s.store, &rcgen::PKCS_ML_DSA_65, Profile::E2Node, "e2term");
    let (client_id, _) = identity(&mut s.store, &rcgen::PKCS_ML_DSA_65, Profile::TlsClient, "xapp-1");
    let server = server_config(&server_id, Some(&s.roots), KeyExchangePolicy::PqOnly, AuthPolicy::MlDsaOnly).unwrap();
    let client = client_config(&s.roots, Some(&client_id), KeyExchangePolicy::PqOnly, AuthPolicy::MlDsaOnly).unwrap();
    let (server, server_log) = pqc_common::record_server_signatures(&server);
    let (client, client_log) = pqc_common::record_client_signatures(&client);
    let (sv, cl) = pqc_common::handshake_and_echo(server, client, SERVER_NAME).await;
    let (sv, cl) = (sv.expect("server handshake"), cl.expect("client handshake"));
    for summary in [&sv, &cl] {
        assert_eq!(summary.protocol, Some(ProtocolVersion::TLSv1_3));
        assert_eq!(summary.group, Some(NamedGroup::X25519MLKEM768));
        assert_eq!(summary.group.map(u16::from), Some(0x11EC));
        assert_eq!(summary.peer_algorithm, Some(SignatureAlgorithm::MlDsa65));
    }
    assert_eq!(server_log.schemes(), [SignatureScheme::ML_DSA_65]);
    assert_eq!(client_log.schemes(), [SignatureScheme::ML_DSA_65]);
}

#[tokio::test]
async fn pqc_only_server_refuses_a_classical_only_client() {
    let mut s = setup();
    let (server_id, _) = identity(&mut s.store, &rcgen::PKCS_ML_DSA_65, Profile::E2Node, "e2term");
    let (client_id, _) = identity(&mut s.store, &rcgen::PKCS_ML_DSA_65, Profile::TlsClient, "xapp-1");
    let server = server_config(&server_id, Some(&s.roots), KeyExchangePolicy::PqOnly, AuthPolicy::MlDsaOnly).unwrap();
    let client =
        client_config(&s.roots, Some(&client_id), KeyExchangePolicy::ClassicalOnly, AuthPolicy::MlDsaOnly).unwrap();
    let (sv, cl) = pqc_common::handshake_and_echo(server, client, SERVER_NAME).await;
    let sv = sv.expect_err("server must refuse an X25519-only client");
    assert!(cl.is_err());
    assert!(matches!(pqc_common::rustls_error(&sv), Some(rustls::Error::PeerIncompatible(_))), "{sv}");
}

#[tokio::test]
async fn ml_dsa_only_server_refuses_an_ecdsa_client_certificate() {
    let mut s = setup();
    let (server_id, _) = identity(&mut s.store, &rcgen::PKCS_ML_DSA_65, Profile::E2Node, "e2term");
    // A classical CSR, signed by our CA under tls-client: valid chain, but ECDSA.
    let (client_id, _) = identity(&mut s.store, &rcgen::PKCS_ECDSA_P256_SHA256, Profile::TlsClient, "legacy");
    assert_eq!(client_id.algorithm(), SignatureAlgorithm::EcdsaP256);
    let server = server_config(&server_id, Some(&s.roots), KeyExchangePolicy::PqOnly, AuthPolicy::MlDsaOnly).unwrap();
    let client = client_config(&s.roots, Some(&client_id), KeyExchangePolicy::PqOnly, AuthPolicy::Any).unwrap();
    let (sv, cl) = pqc_common::handshake_and_echo(server, client, SERVER_NAME).await;
    let sv = sv.expect_err("server must refuse an ECDSA client certificate");
    assert!(cl.is_err());
    assert!(
        matches!(
            pqc_common::rustls_error(&sv),
            Some(
                rustls::Error::NoCertificatesPresented
                    | rustls::Error::PeerIncompatible(_)
                    | rustls::Error::InvalidCertificate(_)
            )
        ),
        "{sv}"
    );
}

fn server_with_crl(
    identity: &CertifiedKey,
    roots: &[CertificateDer<'static>],
    crls: Vec<CertificateRevocationListDer<'static>>,
) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(crypto_provider(KeyExchangePolicy::PqOnly, AuthPolicy::MlDsaOnly));
    let mut store = RootCertStore::empty();
    for r in roots {
        store.add(r.clone()).unwrap();
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider.clone())
        .with_crls(crls)
        // We publish the issuing CA's CRL; the root signs no CRL (it only certifies
        // intermediates, which a rollover replaces), so check revocation for leaves only.
        .only_check_end_entity_revocation()
        .build()
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.chain().to_vec(), identity.private_key())
        .unwrap();
    Arc::new(config)
}

#[tokio::test]
async fn revoked_client_is_refused_when_the_server_has_our_crl() {
    let mut s = setup();
    let (server_id, _) = identity(&mut s.store, &rcgen::PKCS_ML_DSA_65, Profile::E2Node, "e2term");
    let (good, _) = identity(&mut s.store, &rcgen::PKCS_ML_DSA_65, Profile::TlsClient, "good");
    let (bad, bad_serial) = identity(&mut s.store, &rcgen::PKCS_ML_DSA_65, Profile::TlsClient, "bad");
    s.store.revoke(&bad_serial, qsafe_ca::RevocationReason::KeyCompromise).unwrap();
    let crl = s.store.publish_crl(Duration::from_secs(3600), &pass()).unwrap();
    let crls = vec![CertificateRevocationListDer::from(crl.der.clone())];

    // The non-revoked client still gets in (the CRL is parsed and its ML-DSA signature checked).
    let client = client_config(&s.roots, Some(&good), KeyExchangePolicy::PqOnly, AuthPolicy::MlDsaOnly).unwrap();
    let (sv, cl) =
        pqc_common::handshake_and_echo(server_with_crl(&server_id, &s.roots, crls.clone()), client, SERVER_NAME).await;
    sv.expect("good client accepted");
    cl.expect("good client handshake");

    let client = client_config(&s.roots, Some(&bad), KeyExchangePolicy::PqOnly, AuthPolicy::MlDsaOnly).unwrap();
    let (sv, cl) =
        pqc_common::handshake_and_echo(server_with_crl(&server_id, &s.roots, crls), client, SERVER_NAME).await;
    let sv = sv.expect_err("revoked client must be refused");
    assert!(cl.is_err());
    assert!(
        matches!(
            pqc_common::rustls_error(&sv),
            Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Revoked))
        ),
        "{sv}"
    );
}
