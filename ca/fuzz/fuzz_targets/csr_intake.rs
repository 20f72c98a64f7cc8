//! Fuzzes the CA's CSR intake as `qsafe-rapp ca sign` drives it: arbitrary bytes as a PKCS#10
//! CSR, raw (DER or whatever the bytes are) or wrapped in a `CERTIFICATE REQUEST` PEM block,
//! then the proof-of-possession check and every profile's key policy.
//!
//! Input: byte 0 bit 0 picks PEM wrapping of the rest; the rest is the CSR.
//!
//! Properties: never panics; a refusal is a `CsrError` value; an accepted CSR has a non-empty
//! SubjectPublicKeyInfo, a key algorithm consistent with the profiles' policy (`--pqc-only`
//! accepts exactly the ML-DSA keys), and parsing it again gives the same result (determinism).
#![no_main]

use libfuzzer_sys::fuzz_target;
use qsafe_ca::{Profile, csr};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let input: Vec<u8> = if mode & 1 == 1 {
        qsafe_pqc::pem::encode("CERTIFICATE REQUEST", rest).into_bytes()
    } else {
        rest.to_vec()
    };
    let Ok(verified) = csr::parse_and_verify(&input) else { return };
    assert!(!verified.spki_der.is_empty());
    assert_eq!(csr::parse_and_verify(&input).as_ref(), Ok(&verified));
    for profile in Profile::ALL {
        let pqc = csr::check_profile(&verified, profile, true);
        assert_eq!(pqc.is_ok(), verified.key_algorithm.is_post_quantum());
        let _ = csr::check_profile(&verified, profile, false);
    }
});
