//! Post-quantum primitives for qsafe-ran: the xApp, the KME simulator and the rApp CA build on
//! this crate and nothing else for ML-KEM, ML-DSA, certificates and TLS policy.
//!
//! # What is where
//!
//! | module | what | used by |
//! |---|---|---|
//! | [`pki`] | ML-DSA X.509 (RFC 9881): root / issuing CA / leaf issuance, PEM load and save | rApp CA, test fixtures, KME simulator identities |
//! | [`tls`] | rustls server/client configs from two policies: key exchange and peer authentication | E2 (xApp ↔ E2 node), KME (ETSI GS QKD 014 over HTTPS), A1/O1 |
//! | [`kem`] | one `Kem` trait, ML-KEM-768/1024 from aws-lc, plus FrodoKEM-976-SHAKE and HQC-192 (and a second ML-KEM) from liboqs | xApp key schedule (QKD ⊕ ML-KEM), KEM comparisons |
//! | [`sign`] | ML-DSA signatures over application messages, verified with a peer certificate | signing ephemeral KEM keys |
//!
//! # Example
//!
//! An operator PKI, an E2 termination (server) and an xApp (client) on a PQ-only, ML-DSA-only
//! link, and an ML-KEM exchange signed with the xApp's certified key:
//!
//! ```
//! use std::time::Duration;
//! use qsafe_pqc::kem::{kem, KemAlgorithm, KemBackend};
//! use qsafe_pqc::pki::{CertificateAuthority, LeafProfile, LeafUsage, SignatureAlgorithm};
//! use qsafe_pqc::sign::{verify_with_certificate, MlDsaSigner};
//! use qsafe_pqc::tls::{client_config, server_config, AuthPolicy, KeyExchangePolicy};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! const YEAR: Duration = Duration::from_secs(365 * 86_400);
//! let root = CertificateAuthority::new_root("operator root", SignatureAlgorithm::MlDsa87, 10 * YEAR)?;
//! let ric_ca = root.new_intermediate("near-RT RIC CA", SignatureAlgorithm::MlDsa65, 2 * YEAR)?;
//! let e2term = ric_ca.issue(&LeafProfile::new("e2term", LeafUsage::Server).with_dns_name("e2term.ric.local"))?;
//! let xapp = ric_ca.issue(&LeafProfile::new("kpimon", LeafUsage::Client))?;
//!
//! let roots = [root.certificate().clone()];
//! let _server = server_config(&e2term, Some(&roots), KeyExchangePolicy::PqOnly, AuthPolicy::MlDsaOnly)?;
//! let _client = client_config(&roots, Some(&xapp), KeyExchangePolicy::PqOnly, AuthPolicy::MlDsaOnly)?;
//!
//! let ml_kem = kem(KemAlgorithm::MlKem768, KemBackend::AwsLc)?;
//! let (ek, dk) = ml_kem.generate()?;
//! let label_and_key = [b"qsafe-ran e2 kem-ek v1\0".as_slice(), ek.as_bytes()].concat();
//! let signature = MlDsaSigner::from_certified_key(&xapp)?.sign(&label_and_key)?;
//! // The E2 side checks the signature with the xApp's (TLS-authenticated) certificate ...
//! verify_with_certificate(xapp.leaf(), &label_and_key, &signature)?;
//! // ... encapsulates to the key, and both sides now share a secret to mix with QKD key material.
//! let (ct, e2_secret) = ml_kem.encapsulate(&ek)?;
//! assert!(ml_kem.decapsulate(&dk, &ct)?.ct_eq(&e2_secret));
//! # Ok(()) }
//! ```
//!
//! # Why aws-lc-rs by default, liboqs optional
//!
//! rustls' aws-lc-rs provider already brings AWS-LC into every binary for TLS: it has
//! X25519MLKEM768 and ML-DSA certificate verification, and AWS-LC's ML-KEM and ML-DSA are
//! FIPS 203/204 implementations that go through FIPS 140-3 validation upstream. Using the same
//! library for our own KEM and signatures means one C crypto library, one set of build
//! requirements (a C compiler) and one audit target. liboqs (cargo feature `oqs`) is the research
//! backend: it adds the non-lattice/conservative KEMs the O-RAN IPsec literature compares
//! (FrodoKEM, HQC) and an independent ML-KEM to cross-check AWS-LC against (keys, ciphertexts and
//! decapsulation keys interoperate; see `tests/kem.rs`). It needs cmake and libclang to build and
//! is not FIPS validated, so it stays off by default.
//!
//! Independently of both, `tests/conformance/pyca_check.py` checks our certificates, keys,
//! signatures and ML-KEM against pyca/cryptography's OpenSSL.
//!
//! # Policies
//!
//! * [`tls::KeyExchangePolicy`]: `HybridPreferred` (X25519MLKEM768, then X25519, P-256; default),
//!   `PqOnly` (X25519MLKEM768 or MLKEM768, TLS 1.3 only), `ClassicalOnly` (baseline). Key
//!   exchange is what "harvest now, decrypt later" attacks, so it goes post-quantum first.
//! * [`tls::AuthPolicy`]: `MlDsaOnly` (default: peer chains and handshake signatures must be
//!   ML-DSA-44/65/87, and our own identity must be ML-DSA) or `Any`.
//! * TLS 1.2 is offered only when both policies allow classical cryptography.
//! * Each rustls config carries its own `CryptoProvider`; the process-wide default is never set.
//!
//! # Secrets
//!
//! Private keys live in AWS-LC (which cleanses them when freed) with one `Zeroizing` PKCS#8 copy
//! for export; KEM decapsulation keys and shared secrets are `Zeroizing` buffers. None of them is
//! printed by `Debug`, and accessors that hand them out are named `expose_secret` /
//! `private_key_pem` so they stand out in review.
//!
//! # Sizes (bytes)
//!
//! | | public key | private key (as stored) | ciphertext / signature | shared secret |
//! |---|---|---|---|---|
//! | ML-KEM-768 | 1184 | 2400 | 1088 | 32 |
//! | ML-KEM-1024 | 1568 | 3168 | 1568 | 32 |
//! | FrodoKEM-976-SHAKE | 15632 | 31296 | 15744 | 24 |
//! | HQC-192 (liboqs 0.13) | 4522 | 4586 | 8978 | 64 |
//! | ML-DSA-44 / 65 / 87 | 1312 / 1952 / 2592 | 54 (PKCS#8 seed) | 2420 / 3309 / 4627 | |

pub mod kem;
pub mod pem;
pub mod pki;
pub mod sign;
pub mod tls;

/// A name that is not one of the accepted spellings of an algorithm, backend or policy.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {input:?} (expected one of: {expected})")]
pub struct ParseNameError {
    /// What was being parsed, e.g. "signature algorithm".
    pub kind: &'static str,
    /// The rejected input.
    pub input: String,
    /// The accepted names.
    pub expected: &'static str,
}
