//! The CA store end to end: encrypted keys at rest, CSR signing under profiles, bad CSRs, revoke
//! and CRL, root rollover with a cross certificate (validated with rustls-webpki).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::*;
use qsafe_ca::store::Status;
use qsafe_ca::{
    CaError, CaStore, CsrError, IssueRequest, KeyAlgorithm, Profile, RevocationReason, RootAlgorithm, Sans, SecretError,
};
use rustls_pki_types::{CertificateDer, UnixTime};
use x509_parser::prelude::*;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        }
        out.push(p);
    }
}

#[test]
fn store_round_trip_encrypted_keys_and_permissions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let store = new_ca(&dir);
    assert_eq!(store.metadata().current_generation, 1);
    assert_eq!(mode(&dir), 0o700);
    let mut files = Vec::new();
    walk(&dir, &mut files);
    assert!(files.len() >= 7, "{files:?}");
    for f in &files {
        let want = if f.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(f), want, "{}", f.display());
    }
    for key in ["gen-1/root.key.pem", "gen-1/intermediate.key.pem"] {
        let text = std::fs::read_to_string(dir.join(key)).unwrap();
        assert!(text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"), "{text}");
        assert!(!text.contains("BEGIN PRIVATE KEY"));
    }

    // Reopen: passphrase checks out; wrong passphrase is a clear error.
    let reopened = CaStore::open(&dir).unwrap();
    assert_eq!(reopened.metadata(), store.metadata());
    reopened.check_passphrase(&pass()).unwrap();
    let err = reopened.check_passphrase(&wrong_pass()).unwrap_err();
    assert!(matches!(err, CaError::Secret(SecretError::WrongPassphrase { .. })), "{err}");
    assert!(err.to_string().contains("wrong passphrase or corrupt key"), "{err}");

    // No plaintext key material on disk: issue a server-generated key and make sure its
    // PKCS#8 seed (and the CA keys' seeds, which we cannot see) never appear; the CA key files
    // decode only with the passphrase (checked above). Here: the leaf key is *not* in the dir.
    let mut store = reopened;
    let mut req = IssueRequest::new(Profile::E2Node);
    req.common_name = Some("gnb-1".into());
    req.sans.dns = vec!["gnb-1.ran.example".into()];
    let (issued, key_pem) = store.issue_with_new_key(&req, &pass(), None).unwrap();
    assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let body: String = key_pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut files = Vec::new();
    walk(&dir, &mut files);
    for f in files.iter().filter(|f| f.is_file()) {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(!text.contains(&body), "leaf key leaked into {}", f.display());
        assert!(!text.contains(PASS), "passphrase leaked into {}", f.display());
    }
    assert_eq!(issued.record.key_algorithm, "ML-DSA-65");
    // The CA keys themselves: decrypt them here, then look for their plaintext (raw PKCS#8, the
    // 32-byte ML-DSA seed, and the base64 of a plain PEM) in every file of the store.
    for key in ["gen-1/root.key.pem", "gen-1/intermediate.key.pem"] {
        let text = std::fs::read_to_string(dir.join(key)).unwrap();
        let der = qsafe_pqc::pem::decode("ENCRYPTED PRIVATE KEY", &text).unwrap();
        let pkcs8 = qsafe_ca::secret::decrypt_pkcs8(&der, &pass(), key).unwrap();
        assert_eq!(pkcs8.len(), 54, "seed-only ML-DSA PKCS#8");
        let seed = &pkcs8[pkcs8.len() - 32..];
        let plain_pem = qsafe_pqc::pem::encode_secret("PRIVATE KEY", &pkcs8);
        let plain_body: String = plain_pem.lines().filter(|l| !l.starts_with("-----")).collect();
        for f in files.iter().filter(|f| f.is_file()) {
            let bytes = std::fs::read(f).unwrap();
            assert!(!bytes.windows(32).any(|w| w == seed), "CA key seed in {}", f.display());
            assert!(!String::from_utf8_lossy(&bytes).contains(&plain_body), "plain CA key in {}", f.display());
        }
    }

    // Refuses to overwrite an existing CA, and leaves it alone.
    let before = metadata_text(&dir);
    let err = CaStore::init(&dir, &pass(), &opts(RootAlgorithm::MlDsa65)).unwrap_err();
    assert!(matches!(err, CaError::AlreadyExists(_)), "{err}");
    assert_eq!(metadata_text(&dir), before);
}

#[test]
fn default_kdf_cost_is_measured() {
    // The production setting (600 000 PBKDF2-SHA256 rounds) on one key: report the cost.
    let der = b"0123456789abcdef0123456789abcdef0123456789abcdef012345".to_vec();
    let start = std::time::Instant::now();
    let enc = qsafe_ca::secret::encrypt_pkcs8(&der, &pass(), qsafe_ca::secret::PBKDF2_ITERATIONS).unwrap();
    let back = qsafe_ca::secret::decrypt_pkcs8(&enc, &pass(), "test").unwrap();
    let elapsed = start.elapsed();
    assert_eq!(&back[..], &der[..]);
    eprintln!("PBKDF2-SHA256 x{} encrypt+decrypt: {elapsed:?}", qsafe_ca::secret::PBKDF2_ITERATIONS);
    assert!(elapsed < Duration::from_secs(30));
}

struct Expect {
    profile: Profile,
    server: bool,
    client: bool,
}

#[test]
fn csrs_are_signed_under_each_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let mut store = new_ca(&dir);
    let cases = [
        Expect { profile: Profile::O1Server, server: true, client: false },
        Expect { profile: Profile::O2Server, server: true, client: false },
        Expect { profile: Profile::E2Node, server: true, client: true },
        Expect { profile: Profile::TlsServer, server: true, client: false },
        Expect { profile: Profile::TlsClient, server: false, client: true },
        Expect { profile: Profile::KmeSae, server: false, client: true },
    ];
    let ml = key(&rcgen::PKCS_ML_DSA_65);
    let ec = key(&rcgen::PKCS_ECDSA_P256_SHA256);
    for case in &cases {
        for (k, alg) in [(&ml, KeyAlgorithm::MlDsa65), (&ec, KeyAlgorithm::EcdsaP256)] {
            let csr = csr(k, "node.example", &["node.example"]);
            let mut req = IssueRequest::new(case.profile);
            req.sans.ips = vec!["10.0.0.7".parse().unwrap()];
            req.sans.dns = vec!["du-7.oam.example".into()];
            req.days = Some(30);
            let result = store.sign_csr(csr.as_bytes(), &req, &pass());
            if case.profile == Profile::KmeSae && alg == KeyAlgorithm::EcdsaP256 {
                let err = result.unwrap_err();
                assert!(matches!(err, CaError::Csr(CsrError::KeyNotAllowed { .. })), "{err}");
                continue;
            }
            let issued = result.unwrap_or_else(|e| panic!("{} {alg}: {e}", case.profile));
            assert_eq!(issued.record.key_algorithm, alg.to_string());
            let (_, cert) = parse_x509_certificate(&issued.certificate).unwrap();
            // Key usage: digitalSignature only.
            let ku = cert.key_usage().unwrap().unwrap().value;
            assert!(ku.digital_signature() && !ku.key_encipherment() && !ku.key_cert_sign() && !ku.crl_sign());
            let eku = cert.extended_key_usage().unwrap().unwrap().value;
            assert_eq!(eku.server_auth, case.server, "{}", case.profile);
            assert_eq!(eku.client_auth, case.client, "{}", case.profile);
            let bc = cert.basic_constraints().unwrap().map(|b| b.value.ca);
            assert_ne!(bc, Some(true));
            // SANs from the flags replace the CSR's.
            let san = cert.subject_alternative_name().unwrap().unwrap().value;
            let names: Vec<String> = san.general_names.iter().map(|g| format!("{g}")).collect();
            assert!(names.iter().any(|n| n.contains("du-7.oam.example")), "{names:?}");
            assert!(
                san.general_names.iter().any(|g| matches!(g, GeneralName::IPAddress(ip) if *ip == [10, 0, 0, 7])),
                "{names:?}"
            );
            assert!(!names.iter().any(|n| n.contains("node.example")), "{names:?}");
            // 30 days (+ 5 min backdate).
            let life = cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp();
            assert!((30 * 86_400..=30 * 86_400 + 600).contains(&life), "{life}");
            // Signed by the ML-DSA-65 issuing CA.
            assert_eq!(cert.signature_algorithm.algorithm.to_id_string(), "2.16.840.1.101.3.4.3.18");
            assert_eq!(cert.issuer().to_string(), store.metadata().generations[0].intermediate_subject);
        }
    }
    // CSR SANs are used when no flags are given; DER CSRs work.
    let der = csr_der(&ml, "o2.example", &["o2.example", "o2-alt.example"]);
    let issued = store.sign_csr(&der, &IssueRequest::new(Profile::O2Server), &pass()).unwrap();
    assert_eq!(issued.record.sans.dns, ["o2.example", "o2-alt.example"]);
    assert!(issued.record.subject.contains("o2.example"));
    // --pqc-only refuses the ECDSA key.
    let mut req = IssueRequest::new(Profile::TlsClient);
    req.pqc_only = true;
    let err = store.sign_csr(csr(&ec, "c", &[]).as_bytes(), &req, &pass()).unwrap_err();
    assert!(matches!(err, CaError::Csr(CsrError::KeyNotAllowed { .. })), "{err}");
    // Validity above the profile maximum is refused; a server profile needs a SAN.
    let mut req = IssueRequest::new(Profile::O1Server);
    req.days = Some(5000);
    let err = store.sign_csr(csr(&ml, "x", &["x.example"]).as_bytes(), &req, &pass()).unwrap_err();
    assert!(err.to_string().contains("allows 1..="), "{err}");
    let err =
        store.sign_csr(csr(&ml, "x", &[]).as_bytes(), &IssueRequest::new(Profile::O1Server), &pass()).unwrap_err();
    assert!(err.to_string().contains("subjectAltName"), "{err}");
    let mut req = IssueRequest::new(Profile::TlsServer);
    req.sans = Sans { dns: vec!["bad name!".into()], ..Sans::default() };
    assert!(store.sign_csr(csr(&ml, "x", &[]).as_bytes(), &req, &pass()).is_err());
    // All serials distinct.
    let mut serials: Vec<_> = store.metadata().issued.iter().map(|r| r.serial.clone()).collect();
    let n = serials.len();
    serials.sort();
    serials.dedup();
    assert_eq!(serials.len(), n);
    assert_eq!(n, 12);
}

#[test]
fn other_classical_algorithms_are_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = new_ca(&tmp.path().join("ca"));
    for (alg, want) in [
        (&rcgen::PKCS_ECDSA_P384_SHA384, KeyAlgorithm::EcdsaP384),
        (&rcgen::PKCS_ED25519, KeyAlgorithm::Ed25519),
        (&rcgen::PKCS_ML_DSA_44, KeyAlgorithm::MlDsa44),
        (&rcgen::PKCS_ML_DSA_87, KeyAlgorithm::MlDsa87),
    ] {
        let k = key(alg);
        let issued =
            store.sign_csr(csr(&k, "c", &[]).as_bytes(), &IssueRequest::new(Profile::TlsClient), &pass()).unwrap();
        assert_eq!(issued.record.key_algorithm, want.to_string());
        let (_, cert) = parse_x509_certificate(&issued.certificate).unwrap();
        assert_eq!(cert.public_key().raw, parse_spki(&k));
    }
}

fn parse_spki(k: &rcgen::KeyPair) -> Vec<u8> {
    use rcgen::PublicKeyData;
    k.subject_public_key_info()
}

#[test]
fn bad_csrs_are_refused_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let mut store = new_ca(&dir);
    let before = metadata_text(&dir);
    let ml = key(&rcgen::PKCS_ML_DSA_65);
    let req = IssueRequest::new(Profile::TlsClient);

    // Tampered signature: flip a byte in the last part (the signature BIT STRING).
    let mut der = csr_der(&ml, "c", &[]);
    let n = der.len();
    der[n - 10] ^= 0x01;
    let err = store.sign_csr(&der, &req, &pass()).unwrap_err();
    assert!(matches!(err, CaError::Csr(CsrError::BadSignature { key: KeyAlgorithm::MlDsa65 })), "{err}");
    // Tampered subject (signature no longer covers it).
    let mut der = csr_der(&ml, "client-a", &[]);
    let pos = der.windows(8).position(|w| w == b"client-a").unwrap();
    der[pos] = b'X';
    let err = store.sign_csr(&der, &req, &pass()).unwrap_err();
    assert!(matches!(err, CaError::Csr(CsrError::BadSignature { .. })), "{err}");

    // A CA request.
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_csr = params.serialize_request(&ml).unwrap().pem().unwrap();
    let err = store.sign_csr(ca_csr.as_bytes(), &req, &pass()).unwrap_err();
    assert!(matches!(err, CaError::Csr(CsrError::CaRequested)), "{err}");

    // Garbage, empty, bad PEM, too large.
    for garbage in [
        &b"hello"[..],
        b"",
        b"\x30\x03\x02\x01\x00",
        b"-----BEGIN CERTIFICATE REQUEST-----\n!!\n-----END CERTIFICATE REQUEST-----\n",
    ] {
        let err = store.sign_csr(garbage, &req, &pass()).unwrap_err();
        assert!(matches!(err, CaError::Csr(CsrError::Malformed { .. })), "{err}");
    }
    let big = vec![b'A'; qsafe_ca::MAX_CSR_LEN + 1];
    let err = store.sign_csr(&big, &req, &pass()).unwrap_err();
    assert!(matches!(err, CaError::Csr(CsrError::TooLarge { .. })), "{err}");

    // Wrong passphrase with a good CSR.
    let err = store.sign_csr(csr(&ml, "c", &[]).as_bytes(), &req, &wrong_pass()).unwrap_err();
    assert!(matches!(err, CaError::Secret(SecretError::WrongPassphrase { .. })), "{err}");

    assert_eq!(metadata_text(&dir), before, "a refused CSR changed ca.json");
    assert!(std::fs::read_dir(dir.join("issued")).unwrap().next().is_none());
}

#[test]
fn revoke_and_crl() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let mut store = new_ca(&dir);
    let ml = key(&rcgen::PKCS_ML_DSA_65);
    let a = store.sign_csr(csr(&ml, "a", &[]).as_bytes(), &IssueRequest::new(Profile::TlsClient), &pass()).unwrap();
    let b = store.sign_csr(csr(&ml, "b", &[]).as_bytes(), &IssueRequest::new(Profile::TlsClient), &pass()).unwrap();

    let crl1 = store.publish_crl(Duration::from_secs(3600), &pass()).unwrap();
    assert_eq!(crl1.record.number, 1);
    assert_eq!(crl1.record.entries, 0);

    let r = store.revoke(&a.record.serial.to_uppercase(), RevocationReason::KeyCompromise).unwrap();
    assert!(matches!(r.status, Status::Revoked { reason: RevocationReason::KeyCompromise, .. }));
    // Unknown and already-revoked serials are errors that change nothing.
    let before = metadata_text(&dir);
    assert!(matches!(store.revoke("0badc0de", RevocationReason::Unspecified), Err(CaError::UnknownSerial(_))));
    assert!(matches!(
        store.revoke(&a.record.serial, RevocationReason::Superseded),
        Err(CaError::AlreadyRevoked { .. })
    ));
    assert!(matches!(store.revoke("not-hex", RevocationReason::Superseded), Err(CaError::Invalid(_))));
    assert_eq!(metadata_text(&dir), before);
    // Wrong passphrase: no CRL, no number consumed.
    assert!(store.publish_crl(Duration::from_secs(3600), &wrong_pass()).is_err());
    assert_eq!(metadata_text(&dir), before);

    let crl2 = store.publish_crl(Duration::from_secs(7200), &pass()).unwrap();
    assert_eq!(crl2.record.number, 2);
    let (_, crl) = parse_x509_crl(&crl2.der).unwrap();
    assert_eq!(crl.version(), Some(X509Version::V2));
    assert_eq!(crl.crl_number().map(|n| n.to_u64_digits()), Some(vec![2]));
    assert!(crl.next_update().is_some());
    let serials: Vec<String> = crl.iter_revoked_certificates().map(|r| hex(r.raw_serial())).collect();
    assert_eq!(serials, std::slice::from_ref(&a.record.serial));
    assert!(!serials.contains(&b.record.serial));
    let reason = crl.iter_revoked_certificates().next().unwrap().reason_code().map(|r| r.1.0);
    assert_eq!(reason, Some(1));
    assert_eq!(crl.issuer().to_string(), store.metadata().generations[0].intermediate_subject);
    assert_eq!(crl.signature_algorithm.algorithm.to_id_string(), "2.16.840.1.101.3.4.3.18");
    let has_aki =
        crl.extensions().iter().any(|e| matches!(e.parsed_extension(), ParsedExtension::AuthorityKeyIdentifier(_)));
    assert!(has_aki);
    // rustls-webpki parses it too (its ML-DSA signature is checked in tests/mtls.rs, where a
    // server with this CRL refuses the revoked client).
    webpki::OwnedCertRevocationList::from_der(&crl2.der).expect("webpki parses our CRL");
    assert!(crl2.path.exists() && dir.join("crl/current.pem").exists());
    let reopened = CaStore::open(&dir).unwrap();
    assert_eq!(reopened.metadata().crl_number, 2);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn rollover_cross_certificate_validates_new_chains_against_the_old_root() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ca");
    let mut store = new_ca(&dir);
    let old_root = store.certificate(1, "root").unwrap();
    let g = store.rollover(&opts(RootAlgorithm::MlDsa65), &pass()).unwrap();
    assert_eq!(g.number, 2);
    assert_eq!(g.cross_signed_by, Some(1));
    assert_eq!(store.metadata().current_generation, 2);
    let new_root = store.certificate(2, "root").unwrap();
    let new_int = store.certificate(2, "intermediate").unwrap();
    let cross = store.certificate(2, "cross").unwrap();

    let ml = key(&rcgen::PKCS_ML_DSA_65);
    let mut req = IssueRequest::new(Profile::TlsServer);
    req.sans.dns = vec!["srv.example".into()];
    let leaf = store.sign_csr(csr(&ml, "srv", &[]).as_bytes(), &req, &pass()).unwrap();
    assert_eq!(leaf.record.generation, 2);

    let algs = &[webpki::aws_lc_rs::ML_DSA_44, webpki::aws_lc_rs::ML_DSA_65, webpki::aws_lc_rs::ML_DSA_87];
    let verify = |anchor: &CertificateDer<'_>, intermediates: &[CertificateDer<'static>]| {
        let anchors = [webpki::anchor_from_trusted_cert(anchor).unwrap()];
        let ee = webpki::EndEntityCert::try_from(&leaf.certificate).unwrap();
        ee.verify_for_usage(algs, &anchors, intermediates, UnixTime::now(), webpki::KeyUsage::server_auth(), None, None)
            .map(|_| ())
    };
    // Only the OLD root trusted: [leaf, new intermediate, cross] validates.
    verify(&old_root, &[new_int.clone(), cross.clone()]).expect("old root + cross cert");
    // Without the cross certificate it does not.
    assert!(verify(&old_root, std::slice::from_ref(&new_int)).is_err());
    // The new root validates the chain directly.
    verify(&new_root, std::slice::from_ref(&new_int)).expect("new root");

    // Cross cert: subject and key of the new root, issued by the old root, a CA.
    let (_, c) = parse_x509_certificate(&cross).unwrap();
    let (_, nr) = parse_x509_certificate(&new_root).unwrap();
    let (_, or) = parse_x509_certificate(&old_root).unwrap();
    assert_eq!(c.subject().as_raw(), nr.subject().as_raw());
    assert_eq!(c.public_key().raw, nr.public_key().raw);
    assert_eq!(c.issuer().as_raw(), or.subject().as_raw());
    assert!(c.basic_constraints().unwrap().unwrap().value.ca);

    // Trust bundle: both roots; chain with --cross: intermediate + cross.
    let bundle = store.trust_bundle_pem().unwrap();
    assert_eq!(bundle.matches("BEGIN CERTIFICATE").count(), 2);
    let chain = qsafe_pqc::pki::parse_pem_certificates(&store.chain_pem(true).unwrap()).unwrap();
    assert_eq!(chain, [new_int, cross]);
    // Generation-1 certificates stay in the index and revocable.
    assert_eq!(store.metadata().generations.len(), 2);
}
