//! Certificates: the PQC trust anchors a link verifies its peer against, the verified peer, and
//! our own identity.
//!
//! Chains are verified with rustls-webpki (as `qsafe_pqc::tls` does for TLS), restricted to the
//! accepted ML-DSA levels for every signature in the chain, at the wall-clock time the caller
//! passes in. Extended key usage: a leaf without the extension, or with `id-kp-clientAuth` or
//! `id-kp-serverAuth` among its purposes, is accepted (an E2 node certificate is usually a TLS
//! server or dual-use certificate, the xApp's a client one; the signatures here are not TLS, so
//! either TLS purpose is accepted and no new EKU is invented). The leaf's own key must be ML-DSA
//! at an accepted level.

use std::fmt;
use std::time::SystemTime;

use bytes::Bytes;
use qsafe_pqc::pki::{CertifiedKey, SignatureAlgorithm, certificate_algorithm, parse_pem_certificates};
use qsafe_pqc::sign::{MlDsaSigner, SignatureError, verify_with_certificate};
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeId, KeyPurposeIdIter};

/// DER contents of `id-kp-serverAuth` (1.3.6.1.5.5.7.3.1).
const EKU_SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
/// DER contents of `id-kp-clientAuth` (1.3.6.1.5.5.7.3.2).
const EKU_CLIENT_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];

/// Why a chain or a signature was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// No trust anchors configured.
    #[error("no trust anchors")]
    NoAnchors,
    /// A trust anchor is unusable.
    #[error("trust anchor {index}: {reason}")]
    BadAnchor {
        /// Its position.
        index: usize,
        /// Why.
        reason: String,
    },
    /// The peer sent no certificate, or more than 8.
    #[error("certificate chain has {len} certificates (1..=8 expected)")]
    ChainLength {
        /// How many.
        len: usize,
    },
    /// The leaf key is not an accepted ML-DSA level.
    #[error("leaf key algorithm {0} is not accepted")]
    LeafAlgorithm(String),
    /// webpki refused the chain.
    #[error("chain does not verify against the trust anchors: {0}")]
    Chain(String),
    /// The wall clock is before 1970.
    #[error("wall clock before the Unix epoch")]
    Clock,
    /// A message signature did not verify with the peer's leaf.
    #[error("signature: {0}")]
    Signature(#[from] SignatureError),
}

/// Accepts a leaf without EKU, or with clientAuth or serverAuth.
struct TlsEitherEku;

impl ExtendedKeyUsageValidator for TlsEitherEku {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        let mut present = Vec::new();
        for id in iter {
            let id = id?;
            if id == KeyPurposeId::new(EKU_SERVER_AUTH) || id == KeyPurposeId::new(EKU_CLIENT_AUTH) {
                return Ok(());
            }
            present.push(id.to_decoded_oid());
        }
        if present.is_empty() {
            Ok(())
        } else {
            Err(webpki::Error::RequiredEkuNotFoundContext(webpki::RequiredEkuNotFoundContext {
                required: webpki::KeyUsage::client_auth(),
                present,
            }))
        }
    }
}

fn webpki_alg(a: SignatureAlgorithm) -> Option<&'static dyn rustls_pki_types::SignatureVerificationAlgorithm> {
    match a {
        SignatureAlgorithm::MlDsa44 => Some(webpki::aws_lc_rs::ML_DSA_44),
        SignatureAlgorithm::MlDsa65 => Some(webpki::aws_lc_rs::ML_DSA_65),
        SignatureAlgorithm::MlDsa87 => Some(webpki::aws_lc_rs::ML_DSA_87),
        SignatureAlgorithm::EcdsaP256 => None,
    }
}

/// The PQC roots a link verifies its peer against, and the accepted ML-DSA levels.
pub struct TrustAnchors {
    ders: Vec<CertificateDer<'static>>,
    anchors: Vec<TrustAnchor<'static>>,
    /// ML-DSA levels accepted in chains and for the leaf key (default: 44, 65, 87).
    pub accepted: Vec<SignatureAlgorithm>,
}

impl fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustAnchors").field("anchors", &self.anchors.len()).field("accepted", &self.accepted).finish()
    }
}

impl TrustAnchors {
    /// Anchors from concatenated PEM `CERTIFICATE` blocks.
    pub fn from_pem(pem: &str) -> Result<Self, TrustError> {
        let certs =
            parse_pem_certificates(pem).map_err(|e| TrustError::BadAnchor { index: 0, reason: e.to_string() })?;
        Self::from_der(certs)
    }

    /// Anchors from DER certificates. Every anchor must carry an ML-DSA key.
    pub fn from_der(certs: Vec<CertificateDer<'static>>) -> Result<Self, TrustError> {
        if certs.is_empty() {
            return Err(TrustError::NoAnchors);
        }
        let mut anchors = Vec::with_capacity(certs.len());
        for (index, c) in certs.iter().enumerate() {
            match certificate_algorithm(c) {
                Ok(a) if a.is_post_quantum() => {}
                Ok(a) => return Err(TrustError::BadAnchor { index, reason: format!("{a} is not ML-DSA") }),
                Err(e) => return Err(TrustError::BadAnchor { index, reason: e.to_string() }),
            }
            let ta = webpki::anchor_from_trusted_cert(c)
                .map_err(|e| TrustError::BadAnchor { index, reason: e.to_string() })?
                .to_owned();
            anchors.push(ta);
        }
        Ok(TrustAnchors {
            ders: certs,
            anchors,
            accepted: vec![SignatureAlgorithm::MlDsa44, SignatureAlgorithm::MlDsa65, SignatureAlgorithm::MlDsa87],
        })
    }

    /// Restricts the accepted ML-DSA levels.
    #[must_use]
    pub fn with_accepted(mut self, accepted: Vec<SignatureAlgorithm>) -> Self {
        self.accepted = accepted.into_iter().filter(|a| a.is_post_quantum()).collect();
        self
    }

    /// The anchors as DER.
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.ders
    }

    /// Verifies `chain` (DER, leaf first) at wall-clock time `now`.
    pub fn verify_chain(&self, chain: &[Bytes], now: SystemTime) -> Result<PeerIdentity, TrustError> {
        if chain.is_empty() || chain.len() > qsafe_asn1::e2sm_qkd::MAX_CERTIFICATE_CHAIN_LENGTH {
            return Err(TrustError::ChainLength { len: chain.len() });
        }
        let leaf = CertificateDer::from(chain[0].to_vec());
        let algorithm = certificate_algorithm(&leaf).map_err(|e| TrustError::LeafAlgorithm(e.to_string()))?;
        if !self.accepted.contains(&algorithm) {
            return Err(TrustError::LeafAlgorithm(algorithm.to_string()));
        }
        let algs: Vec<_> = self.accepted.iter().filter_map(|a| webpki_alg(*a)).collect();
        let intermediates: Vec<CertificateDer<'_>> =
            chain[1..].iter().map(|c| CertificateDer::from(c.as_ref())).collect();
        let since = now.duration_since(SystemTime::UNIX_EPOCH).map_err(|_| TrustError::Clock)?;
        let ee = EndEntityCert::try_from(&leaf).map_err(|e| TrustError::Chain(e.to_string()))?;
        ee.verify_for_usage(
            &algs,
            &self.anchors,
            &intermediates,
            UnixTime::since_unix_epoch(since),
            TlsEitherEku,
            None,
            None,
        )
        .map_err(|e| TrustError::Chain(e.to_string()))?;
        Ok(PeerIdentity { chain: chain.to_vec(), leaf, algorithm })
    }
}

/// A peer whose chain verified: its leaf verifies its message signatures.
#[derive(Clone)]
pub struct PeerIdentity {
    chain: Vec<Bytes>,
    leaf: CertificateDer<'static>,
    algorithm: SignatureAlgorithm,
}

impl fmt::Debug for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerIdentity")
            .field("algorithm", &self.algorithm)
            .field("chain_len", &self.chain.len())
            .finish()
    }
}

impl PeerIdentity {
    /// Verifies an ML-DSA signature over `msg` with the leaf's key.
    pub fn verify(&self, msg: &[u8], signature: &[u8]) -> Result<(), TrustError> {
        Ok(verify_with_certificate(&self.leaf, msg, signature)?)
    }
    /// The verified chain as received.
    pub fn chain(&self) -> &[Bytes] {
        &self.chain
    }
    /// The leaf key's algorithm.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }
}

/// Our own identity: the ML-DSA signer and the chain we present (leaf first, no root).
pub struct LocalIdentity {
    /// Signs our TBS.
    pub signer: MlDsaSigner,
    /// Our chain, DER, leaf first.
    pub chain: Vec<Bytes>,
}

impl fmt::Debug for LocalIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalIdentity").field("signer", &self.signer).field("chain_len", &self.chain.len()).finish()
    }
}

impl LocalIdentity {
    /// From a certified ML-DSA key.
    pub fn from_certified_key(key: &CertifiedKey) -> Result<Self, SignatureError> {
        Ok(LocalIdentity {
            signer: MlDsaSigner::from_certified_key(key)?,
            chain: key.chain().iter().map(|c| Bytes::copy_from_slice(c.as_ref())).collect(),
        })
    }

    /// Signs `msg`.
    pub fn sign(&self, msg: &[u8]) -> Result<Bytes, SignatureError> {
        self.signer.sign(msg).map(Bytes::from)
    }
}
