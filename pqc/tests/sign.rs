//! ML-DSA message signatures: sign with a certified key, verify with its certificate.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns unwrap too

use std::time::Duration;

use qsafe_pqc::pki::{CertificateAuthority, CertifiedKey, LeafProfile, LeafUsage, SignatureAlgorithm};
use qsafe_pqc::sign::{MlDsaSigner, SignatureError, signature_len, verify_with_certificate, verify_with_public_key};

const DAY: Duration = Duration::from_secs(86_400);
const MSG: &[u8] = b"qsafe-ran e2 kem-ek v1\0<1184 bytes of ML-KEM-768 encapsulation key>";

fn identity(alg: SignatureAlgorithm) -> (CertificateAuthority, CertifiedKey) {
    let root = CertificateAuthority::new_root("sign test root", SignatureAlgorithm::MlDsa65, DAY).unwrap();
    let leaf = root.issue(&LeafProfile::new("xapp", LeafUsage::Client).with_algorithm(alg)).unwrap();
    (root, leaf)
}

#[test]
fn sign_and_verify_with_the_certificate_for_every_level() {
    for alg in [SignatureAlgorithm::MlDsa44, SignatureAlgorithm::MlDsa65, SignatureAlgorithm::MlDsa87] {
        let (_, id) = identity(alg);
        let signer = MlDsaSigner::from_certified_key(&id).unwrap();
        assert_eq!(signer.algorithm(), alg);
        assert_eq!(signer.public_key(), id.public_key());
        let sig = signer.sign(MSG).unwrap();
        assert_eq!(Some(sig.len()), signature_len(alg));
        verify_with_certificate(id.leaf(), MSG, &sig).unwrap();
        verify_with_public_key(alg, signer.public_key(), MSG, &sig).unwrap();

        // Independent path: rustls-webpki's ML-DSA algorithm object over the same certificate.
        let ee = webpki::EndEntityCert::try_from(id.leaf()).unwrap();
        let webpki_alg = match alg {
            SignatureAlgorithm::MlDsa44 => webpki::aws_lc_rs::ML_DSA_44,
            SignatureAlgorithm::MlDsa65 => webpki::aws_lc_rs::ML_DSA_65,
            _ => webpki::aws_lc_rs::ML_DSA_87,
        };
        ee.verify_signature(webpki_alg, MSG, &sig).unwrap();
    }
}

#[test]
fn tampered_message_or_signature_fails() {
    let (_, id) = identity(SignatureAlgorithm::MlDsa65);
    let signer = MlDsaSigner::from_certified_key(&id).unwrap();
    let sig = signer.sign(MSG).unwrap();
    let mut msg = MSG.to_vec();
    msg[0] ^= 1;
    assert!(matches!(verify_with_certificate(id.leaf(), &msg, &sig), Err(SignatureError::BadSignature { .. })));
    let mut bad_sig = sig.clone();
    bad_sig[1000] ^= 1;
    assert!(matches!(verify_with_certificate(id.leaf(), MSG, &bad_sig), Err(SignatureError::BadSignature { .. })));
    let err = verify_with_certificate(id.leaf(), MSG, &sig[..sig.len() - 1]).unwrap_err();
    assert!(matches!(err, SignatureError::InvalidSignatureLength { expected: 3309, actual: 3308, .. }), "{err}");
}

#[test]
fn certificate_of_another_key_fails() {
    let (root, id) = identity(SignatureAlgorithm::MlDsa65);
    let other = root.issue(&LeafProfile::new("other", LeafUsage::Client)).unwrap();
    let sig = MlDsaSigner::from_certified_key(&id).unwrap().sign(MSG).unwrap();
    assert!(matches!(verify_with_certificate(other.leaf(), MSG, &sig), Err(SignatureError::BadSignature { .. })));
    // Another level: the length check already tells.
    let (_, id87) = identity(SignatureAlgorithm::MlDsa87);
    assert!(matches!(
        verify_with_certificate(id87.leaf(), MSG, &sig),
        Err(SignatureError::InvalidSignatureLength { algorithm: SignatureAlgorithm::MlDsa87, .. })
    ));
    // The CA's own certificate (same algorithm, different key) does not verify it either.
    assert!(matches!(verify_with_certificate(root.certificate(), MSG, &sig), Err(SignatureError::BadSignature { .. })));
}

#[test]
fn non_ml_dsa_keys_and_certificates_are_refused() {
    let (_, ecdsa) = identity(SignatureAlgorithm::EcdsaP256);
    assert!(matches!(
        MlDsaSigner::from_certified_key(&ecdsa),
        Err(SignatureError::NotMlDsa { algorithm: SignatureAlgorithm::EcdsaP256 })
    ));
    let err = verify_with_certificate(ecdsa.leaf(), MSG, &[0; 64]).unwrap_err();
    assert!(matches!(err, SignatureError::NotMlDsa { .. }), "{err}");
    let garbage = rustls::pki_types::CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
    assert!(matches!(verify_with_certificate(&garbage, MSG, &[0; 3309]), Err(SignatureError::Certificate(_))));
}

#[test]
fn fresh_signer_and_raw_public_key() {
    let signer = MlDsaSigner::generate(SignatureAlgorithm::MlDsa44).unwrap();
    let sig = signer.sign(b"x").unwrap();
    verify_with_public_key(SignatureAlgorithm::MlDsa44, signer.public_key(), b"x", &sig).unwrap();
    let other = MlDsaSigner::generate(SignatureAlgorithm::MlDsa44).unwrap();
    assert!(matches!(
        verify_with_public_key(SignatureAlgorithm::MlDsa44, other.public_key(), b"x", &sig),
        Err(SignatureError::BadSignature { .. })
    ));
    assert!(matches!(
        verify_with_public_key(SignatureAlgorithm::MlDsa44, &signer.public_key()[1..], b"x", &sig),
        Err(SignatureError::InvalidPublicKeyLength { .. })
    ));
    assert!(format!("{signer:?}").contains("<redacted>"));
}
