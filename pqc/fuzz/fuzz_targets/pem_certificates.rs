//! Fuzzes PEM certificate and key loading: trust bundles, identities and CA material that arrive
//! from files, config values or the rApp's certificate pushes.
//!
//! Input: UTF-8 text; an optional NUL splits the chain PEM (before) from the key PEM (after).
//!
//! Properties:
//! * `parse_pem_certificates`, `certificate_algorithm`, `CertifiedKey::from_pem` and
//!   `CertificateAuthority::from_pem` never panic;
//! * when `parse_pem_certificates` accepts, every certificate has a supported algorithm;
//! * when `CertifiedKey::from_pem` accepts, the algorithm is the leaf's, and writing the chain and
//!   key back out as PEM and reloading gives the same chain, key algorithm and public key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qsafe_pqc::pki::{CertificateAuthority, CertifiedKey, certificate_algorithm, parse_pem_certificates};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (chain_pem, key_pem) = text.split_once('\0').unwrap_or((text, ""));
    if let Ok(certs) = parse_pem_certificates(chain_pem) {
        assert!(!certs.is_empty(), "accepted PEM without certificates");
        for cert in &certs {
            certificate_algorithm(cert).expect("accepted certificate has no supported algorithm");
        }
    }
    if let Ok(identity) = CertifiedKey::from_pem(chain_pem, key_pem) {
        assert_eq!(certificate_algorithm(identity.leaf()).ok(), Some(identity.algorithm()));
        let again = CertifiedKey::from_pem(&identity.chain_pem(), &identity.private_key_pem())
            .expect("our own PEM output does not reload");
        assert_eq!(again.chain(), identity.chain());
        assert_eq!(again.algorithm(), identity.algorithm());
        assert_eq!(again.public_key(), identity.public_key());
    }
    let _ = CertificateAuthority::from_pem(chain_pem, key_pem);
});
