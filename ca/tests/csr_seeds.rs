//! The committed fuzz seeds (pyca-made CSRs) are accepted by the intake, so the fuzzer starts
//! from inputs that reach the signature check and the profile policy.
#![allow(clippy::unwrap_used)]

use qsafe_ca::{KeyAlgorithm, Profile, csr};

#[test]
fn fuzz_seeds_are_valid_csrs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/csr_intake");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        let (mode, rest) = data.split_first().unwrap();
        let input = if mode & 1 == 1 {
            qsafe_pqc::pem::encode("CERTIFICATE REQUEST", rest).into_bytes()
        } else {
            rest.to_vec()
        };
        let v = csr::parse_and_verify(&input).unwrap();
        assert_eq!(csr::check_profile(&v, Profile::KmeSae, false).is_ok(), v.key_algorithm.is_post_quantum());
        seen.push(v.key_algorithm);
        // Flipping the last byte (inside the signature) breaks the proof of possession.
        let mut bad = rest.to_vec();
        *bad.last_mut().unwrap() ^= 1;
        assert!(matches!(csr::parse_and_verify(&bad), Err(csr::CsrError::BadSignature { .. })));
    }
    for want in [KeyAlgorithm::MlDsa65, KeyAlgorithm::MlDsa44, KeyAlgorithm::EcdsaP256] {
        assert!(seen.contains(&want), "{seen:?}");
    }
}
