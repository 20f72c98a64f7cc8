//! ML-DSA (FIPS 204) signatures over application messages.
//!
//! TLS signs its own transcript; this module is for what TLS does not cover, e.g. an xApp signing
//! the ephemeral ML-KEM public key it sends over a QKD-keyed channel, so the peer knows which
//! certified identity the key came from. Signatures are "pure" ML-DSA with an empty context
//! string — the same primitive as TLS 1.3's ML-DSA CertificateVerify and RFC 9881 certificate
//! signatures — so any FIPS 204 implementation (OpenSSL ≥ 3.5, pyca/cryptography, liboqs) verifies
//! them.
//!
//! ML-DSA has no message prefixing of its own: callers must put a protocol label in the message
//! (e.g. `b"qsafe-ran e2 kem-ek v1\0" || ek`) so a signature made for one purpose cannot be
//! replayed for another.
//!
//! [`verify_with_certificate`] does **not** validate the certificate chain; pass only a certificate
//! you have already authenticated (e.g. the peer's TLS end-entity certificate, which rustls
//! verified against the trust anchors and the [`crate::tls::AuthPolicy`]).

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::signature::{self as lc_sig, UnparsedPublicKey};
use rustls::pki_types::CertificateDer;

use crate::pki::{CertInfo, CertifiedKey, KeyPair, PkiError, SignatureAlgorithm};

/// Errors from signing and verification.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The key or certificate is not ML-DSA.
    #[error("{algorithm} is not ML-DSA; only ML-DSA-44/65/87 keys sign and verify messages here")]
    NotMlDsa {
        /// The algorithm found.
        algorithm: SignatureAlgorithm,
    },
    /// The certificate could not be parsed, or its key algorithm is unknown.
    #[error("unusable certificate: {0}")]
    Certificate(#[from] PkiError),
    /// The signature has the wrong length for the algorithm (truncated or for another level).
    #[error("{algorithm} signature must be {expected} bytes, got {actual}")]
    InvalidSignatureLength {
        /// Algorithm of the verifying key.
        algorithm: SignatureAlgorithm,
        /// Required length.
        expected: usize,
        /// Given length.
        actual: usize,
    },
    /// The public key has the wrong length for the algorithm.
    #[error("{algorithm} public key must be {expected} bytes, got {actual}")]
    InvalidPublicKeyLength {
        /// Algorithm.
        algorithm: SignatureAlgorithm,
        /// Required length.
        expected: usize,
        /// Given length.
        actual: usize,
    },
    /// The signature does not verify: wrong key, wrong message, or forged.
    #[error("{algorithm} signature verification failed")]
    BadSignature {
        /// Algorithm of the verifying key.
        algorithm: SignatureAlgorithm,
    },
    /// Key generation failed.
    #[error("generating the signing key failed: {0}")]
    KeyGeneration(#[source] PkiError),
    /// The signing operation failed inside aws-lc.
    #[error("{algorithm} signing failed")]
    Signing {
        /// Algorithm.
        algorithm: SignatureAlgorithm,
    },
}

/// Lengths of ML-DSA encodings (FIPS 204 Table 2): (public key, signature).
fn ml_dsa_lengths(algorithm: SignatureAlgorithm) -> Option<(usize, usize)> {
    match algorithm {
        SignatureAlgorithm::MlDsa44 => Some((1312, 2420)),
        SignatureAlgorithm::MlDsa65 => Some((1952, 3309)),
        SignatureAlgorithm::MlDsa87 => Some((2592, 4627)),
        SignatureAlgorithm::EcdsaP256 => None,
    }
}

/// Length of an ML-DSA signature, `None` for non-ML-DSA algorithms.
pub fn signature_len(algorithm: SignatureAlgorithm) -> Option<usize> {
    ml_dsa_lengths(algorithm).map(|(_, sig)| sig)
}

/// Signs messages with an ML-DSA private key. Cheap to clone (the key is shared); the key stays
/// in aws-lc and is never shown by `Debug`.
#[derive(Clone)]
pub struct MlDsaSigner {
    key: Arc<KeyPair>,
}

impl MlDsaSigner {
    /// A signer with a fresh key pair.
    pub fn generate(algorithm: SignatureAlgorithm) -> Result<Self, SignatureError> {
        if !algorithm.is_post_quantum() {
            return Err(SignatureError::NotMlDsa { algorithm });
        }
        Ok(Self { key: Arc::new(KeyPair::generate(algorithm).map_err(SignatureError::KeyGeneration)?) })
    }

    /// A signer using a certified identity's key, so peers can verify with its certificate.
    pub fn from_certified_key(identity: &CertifiedKey) -> Result<Self, SignatureError> {
        let algorithm = identity.algorithm();
        if !algorithm.is_post_quantum() {
            return Err(SignatureError::NotMlDsa { algorithm });
        }
        Ok(Self { key: identity.key_pair().clone() })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.key.algorithm()
    }

    /// The raw FIPS 204 public key (for [`verify_with_public_key`]).
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key()
    }

    /// Signs `msg` (hedged/randomised ML-DSA, empty context string).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignatureError> {
        self.key.sign(msg).map_err(|_| SignatureError::Signing { algorithm: self.algorithm() })
    }
}

impl fmt::Debug for MlDsaSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MlDsaSigner").field("algorithm", &self.algorithm()).field("private_key", &"<redacted>").finish()
    }
}

/// Verifies an ML-DSA signature over `msg` with the public key in `cert` (which must be an ML-DSA
/// certificate). The certificate itself is not validated; see the module docs.
pub fn verify_with_certificate(cert: &CertificateDer<'_>, msg: &[u8], sig: &[u8]) -> Result<(), SignatureError> {
    let info = CertInfo::parse(cert, 0)?;
    verify_with_public_key(info.algorithm, &info.public_key, msg, sig)
}

/// Verifies an ML-DSA signature over `msg` with a raw FIPS 204 public key.
pub fn verify_with_public_key(
    algorithm: SignatureAlgorithm,
    public_key: &[u8],
    msg: &[u8],
    sig: &[u8],
) -> Result<(), SignatureError> {
    let (pk_len, sig_len) = ml_dsa_lengths(algorithm).ok_or(SignatureError::NotMlDsa { algorithm })?;
    if public_key.len() != pk_len {
        return Err(SignatureError::InvalidPublicKeyLength { algorithm, expected: pk_len, actual: public_key.len() });
    }
    if sig.len() != sig_len {
        return Err(SignatureError::InvalidSignatureLength { algorithm, expected: sig_len, actual: sig.len() });
    }
    let params = match algorithm {
        SignatureAlgorithm::MlDsa44 => &lc_sig::ML_DSA_44,
        SignatureAlgorithm::MlDsa65 => &lc_sig::ML_DSA_65,
        SignatureAlgorithm::MlDsa87 => &lc_sig::ML_DSA_87,
        SignatureAlgorithm::EcdsaP256 => return Err(SignatureError::NotMlDsa { algorithm }),
    };
    UnparsedPublicKey::new(params, public_key).verify(msg, sig).map_err(|_| SignatureError::BadSignature { algorithm })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_match_aws_lc() {
        for alg in [SignatureAlgorithm::MlDsa44, SignatureAlgorithm::MlDsa65, SignatureAlgorithm::MlDsa87] {
            let params = alg.ml_dsa_signing().unwrap();
            assert_eq!(ml_dsa_lengths(alg), Some((params.public_key_len(), params.signature_len())), "{alg}");
        }
    }

    #[test]
    fn ecdsa_is_refused() {
        assert!(matches!(
            MlDsaSigner::generate(SignatureAlgorithm::EcdsaP256),
            Err(SignatureError::NotMlDsa { algorithm: SignatureAlgorithm::EcdsaP256 })
        ));
    }
}
