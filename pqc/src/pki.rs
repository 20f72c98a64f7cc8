//! ML-DSA X.509 PKI: a small certificate authority for E2/KME/A1 links.
//!
//! Why we run our own CA code instead of shelling out to OpenSSL: the xApp, the KME simulator and
//! the rApp CA all need to mint and reload ML-DSA certificates at run time (per-link identities,
//! rotation), and RFC 9881 ML-DSA support only landed in OpenSSL 3.5. rcgen (with the aws-lc-rs
//! backend) writes RFC 9881 certificates; this module wraps it with:
//!
//! * our own key type ([`CertifiedKey`]) so the private key lives in aws-lc (freed with
//!   `OPENSSL_cleanse`) plus one [`Zeroizing`] PKCS#8 copy for saving, and is redacted in `Debug`
//!   output. (rcgen's own `KeyPair` cannot reload ML-DSA PKCS#8 keys, and keeps the DER in a plain
//!   `Vec`.)
//! * fixed, boring profiles: roots are unconstrained CAs, intermediates have `pathLen = 0` (an
//!   operator root signs one issuing CA per site, which signs leaves), leaves carry exactly the
//!   EKU their [`LeafUsage`] asks for and `digitalSignature` only (RFC 9881 §5 forbids key
//!   encipherment for ML-DSA keys).
//! * strict loading: [`CertifiedKey::from_pem`] refuses a key that does not match the leaf, and
//!   every certificate is parsed before it is accepted.
//!
//! Private keys are written as PKCS#8 v1 with the 32-byte ML-DSA *seed* only (54 bytes in total,
//! the RFC 9881 `seed` CHOICE); OpenSSL ≥ 3.5 and pyca/cryptography read that form (checked by
//! `tests/conformance/pyca_check.py`).
//!
//! This module does not validate chains: rustls-webpki does that at handshake time through
//! [`crate::tls`], with the algorithm policy applied there.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as lc_sig, EcdsaKeyPair, KeyPair as _, PqdsaKeyPair, PqdsaSigningAlgorithm};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::ParseNameError;

/// OID of id-ecPublicKey (RFC 5480), the SPKI algorithm of ECDSA keys.
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
/// OID of the prime256v1 / secp256r1 named curve (RFC 5480).
const OID_P256: &str = "1.2.840.10045.3.1.7";
/// Clock skew tolerated between the CA and relying parties: certificates start this long ago.
const BACKDATE: Duration = Duration::from_secs(5 * 60);
/// X.520 upper bound for a commonName.
const MAX_COMMON_NAME_LEN: usize = 64;

/// A signature algorithm for certificate keys and message signatures.
///
/// ML-DSA (FIPS 204) at the three NIST levels, and ECDSA P-256 with SHA-256 as the classical
/// baseline (benchmarks, interop with legacy peers, negative tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// ML-DSA-44 (NIST category 2).
    MlDsa44,
    /// ML-DSA-65 (NIST category 3); the default for qsafe-ran identities.
    MlDsa65,
    /// ML-DSA-87 (NIST category 5); for long-lived roots.
    MlDsa87,
    /// ECDSA on P-256 with SHA-256 (classical, not quantum-safe).
    EcdsaP256,
}

impl SignatureAlgorithm {
    /// Every supported algorithm, post-quantum first.
    pub const ALL: [Self; 4] = [Self::MlDsa44, Self::MlDsa65, Self::MlDsa87, Self::EcdsaP256];

    /// Canonical name, as accepted by [`FromStr`] and printed by [`fmt::Display`].
    pub const fn name(self) -> &'static str {
        match self {
            Self::MlDsa44 => "ml-dsa-44",
            Self::MlDsa65 => "ml-dsa-65",
            Self::MlDsa87 => "ml-dsa-87",
            Self::EcdsaP256 => "ecdsa-p256",
        }
    }

    /// Whether the algorithm resists a quantum adversary (ML-DSA: yes; ECDSA: no).
    pub const fn is_post_quantum(self) -> bool {
        !matches!(self, Self::EcdsaP256)
    }

    /// The OID in the certificate's SubjectPublicKeyInfo (and, for ML-DSA, also the signature
    /// algorithm OID, RFC 9881 §2). For ECDSA this is id-ecPublicKey.
    pub const fn spki_oid(self) -> &'static str {
        match self {
            Self::MlDsa44 => "2.16.840.1.101.3.4.3.17",
            Self::MlDsa65 => "2.16.840.1.101.3.4.3.18",
            Self::MlDsa87 => "2.16.840.1.101.3.4.3.19",
            Self::EcdsaP256 => OID_EC_PUBLIC_KEY,
        }
    }

    /// The TLS 1.3 SignatureScheme a key of this algorithm signs CertificateVerify with.
    pub fn tls_signature_scheme(self) -> rustls::SignatureScheme {
        match self {
            Self::MlDsa44 => rustls::SignatureScheme::ML_DSA_44,
            Self::MlDsa65 => rustls::SignatureScheme::ML_DSA_65,
            Self::MlDsa87 => rustls::SignatureScheme::ML_DSA_87,
            Self::EcdsaP256 => rustls::SignatureScheme::ECDSA_NISTP256_SHA256,
        }
    }

    /// The aws-lc-rs ML-DSA signing parameters, `None` for ECDSA.
    pub(crate) fn ml_dsa_signing(self) -> Option<&'static PqdsaSigningAlgorithm> {
        match self {
            Self::MlDsa44 => Some(&lc_sig::ML_DSA_44_SIGNING),
            Self::MlDsa65 => Some(&lc_sig::ML_DSA_65_SIGNING),
            Self::MlDsa87 => Some(&lc_sig::ML_DSA_87_SIGNING),
            Self::EcdsaP256 => None,
        }
    }

    fn rcgen(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            Self::MlDsa44 => &rcgen::PKCS_ML_DSA_44,
            Self::MlDsa65 => &rcgen::PKCS_ML_DSA_65,
            Self::MlDsa87 => &rcgen::PKCS_ML_DSA_87,
            Self::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        }
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SignatureAlgorithm {
    type Err = ParseNameError;

    /// Accepts the canonical names (`ml-dsa-65`, `ecdsa-p256`, ...), case-insensitively and with
    /// `_` in place of `-`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL.into_iter().find(|a| a.name() == wanted).ok_or_else(|| ParseNameError {
            kind: "signature algorithm",
            input: s.to_owned(),
            expected: "ml-dsa-44, ml-dsa-65, ml-dsa-87, ecdsa-p256",
        })
    }
}

/// Which TLS role(s) a leaf certificate may be used for (its extendedKeyUsage).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeafUsage {
    /// TLS server only (id-kp-serverAuth); needs at least one DNS or IP subjectAltName.
    Server,
    /// TLS client only (id-kp-clientAuth).
    Client,
    /// Both (e.g. an E2 node that both listens and dials).
    ServerAndClient,
}

impl LeafUsage {
    fn is_server(self) -> bool {
        matches!(self, Self::Server | Self::ServerAndClient)
    }

    fn is_client(self) -> bool {
        matches!(self, Self::Client | Self::ServerAndClient)
    }
}

/// What to put in an end-entity certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafProfile {
    /// Subject commonName (1..=64 characters). Informational: TLS matches subjectAltNames only.
    pub common_name: String,
    /// DNS subjectAltNames.
    pub dns_names: Vec<String>,
    /// IP address subjectAltNames.
    pub ip_addresses: Vec<IpAddr>,
    /// URI subjectAltNames (e.g. SPIFFE-style workload IDs).
    pub uris: Vec<String>,
    /// Extended key usage.
    pub usage: LeafUsage,
    /// Key algorithm of the new leaf (the CA signs with its own algorithm).
    pub algorithm: SignatureAlgorithm,
    /// How long the certificate is valid, from now (clamped to the issuer's own expiry).
    pub validity: Duration,
}

impl LeafProfile {
    /// A profile with an ML-DSA-65 key, valid for 365 days, and no subjectAltNames yet.
    pub fn new(common_name: impl Into<String>, usage: LeafUsage) -> Self {
        Self {
            common_name: common_name.into(),
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            uris: Vec::new(),
            usage,
            algorithm: SignatureAlgorithm::MlDsa65,
            validity: Duration::from_secs(365 * 24 * 60 * 60),
        }
    }

    /// Adds a DNS subjectAltName.
    #[must_use]
    pub fn with_dns_name(mut self, name: impl Into<String>) -> Self {
        self.dns_names.push(name.into());
        self
    }

    /// Adds an IP address subjectAltName.
    #[must_use]
    pub fn with_ip_address(mut self, ip: IpAddr) -> Self {
        self.ip_addresses.push(ip);
        self
    }

    /// Adds a URI subjectAltName.
    #[must_use]
    pub fn with_uri(mut self, uri: impl Into<String>) -> Self {
        self.uris.push(uri.into());
        self
    }

    /// Sets the key algorithm.
    #[must_use]
    pub fn with_algorithm(mut self, algorithm: SignatureAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Sets the validity period.
    #[must_use]
    pub fn with_validity(mut self, validity: Duration) -> Self {
        self.validity = validity;
        self
    }
}

/// Errors from building, issuing, parsing and loading certificates and keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// The random key generation in aws-lc failed (entropy source or internal error).
    #[error("generating a {algorithm} key pair failed")]
    KeyGeneration {
        /// Requested algorithm.
        algorithm: SignatureAlgorithm,
    },
    /// The system random number generator failed (drawing a serial number).
    #[error("the system random number generator failed")]
    Random,
    /// rcgen refused to encode or sign the certificate.
    #[error("building the {what} certificate {common_name:?} failed: {source}")]
    CertificateGeneration {
        /// "root", "intermediate" or "leaf".
        what: &'static str,
        /// Subject commonName.
        common_name: String,
        /// rcgen's reason.
        #[source]
        source: rcgen::Error,
    },
    /// A name in a profile cannot go into a certificate.
    #[error("invalid {kind} {value:?}: {reason}")]
    InvalidName {
        /// "commonName", "DNS name" or "URI".
        kind: &'static str,
        /// The offending value.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// A profile is inconsistent (e.g. a server certificate without any subjectAltName).
    #[error("invalid certificate profile for {common_name:?}: {reason}")]
    InvalidProfile {
        /// Subject commonName of the refused profile.
        common_name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The validity is zero or too large to represent as an X.509 time.
    #[error("validity of {validity:?} is out of range (must be > 0 and end before year 9999)")]
    InvalidValidity {
        /// Requested validity.
        validity: Duration,
    },
    /// PEM text could not be decoded.
    #[error("malformed PEM in {what}: {reason}")]
    Pem {
        /// "certificate chain" or "private key".
        what: &'static str,
        /// Parser message.
        reason: String,
    },
    /// The PEM text contains no `CERTIFICATE` block.
    #[error("no CERTIFICATE block found in {what}")]
    NoCertificates {
        /// Which input.
        what: &'static str,
    },
    /// A certificate is not valid DER X.509.
    #[error("certificate #{index} is not a valid X.509 certificate: {reason}")]
    CertificateParse {
        /// Position in the chain (0 = leaf).
        index: usize,
        /// Parser message.
        reason: String,
    },
    /// The certificate's public key is not ML-DSA-44/65/87 or ECDSA P-256, or its algorithm
    /// parameters are malformed (RFC 9881 requires them absent for ML-DSA).
    #[error("certificate #{index} has an unsupported public key algorithm {oid}{detail}")]
    UnsupportedAlgorithm {
        /// Position in the chain (0 = leaf).
        index: usize,
        /// The SPKI algorithm OID found.
        oid: String,
        /// Extra explanation (may be empty).
        detail: &'static str,
    },
    /// The private key is not a PKCS#8 key of the leaf certificate's algorithm.
    #[error("private key is not a valid PKCS#8 {algorithm} key: {reason}")]
    InvalidPrivateKey {
        /// Algorithm expected from the leaf certificate.
        algorithm: SignatureAlgorithm,
        /// aws-lc's reason.
        reason: String,
    },
    /// The private key belongs to a different public key than the leaf certificate.
    #[error("private key does not match the leaf certificate's public key")]
    KeyMismatch,
    /// A CA was loaded from a certificate that may not sign certificates.
    #[error("certificate {subject:?} cannot act as a CA: {reason}")]
    NotACa {
        /// Subject of the certificate.
        subject: String,
        /// What is missing.
        reason: &'static str,
    },
    /// The CA's pathLenConstraint forbids another CA below it.
    #[error("CA {subject:?} has pathLenConstraint 0: it may issue end-entity certificates only")]
    PathLengthExceeded {
        /// Subject of the CA.
        subject: String,
    },
}

/// A key pair held by aws-lc, plus its PKCS#8 encoding for export.
///
/// aws-lc frees (and cleanses) its own key memory; our PKCS#8 copy is zeroized on drop.
pub(crate) struct KeyPair {
    algorithm: SignatureAlgorithm,
    kind: KeyPairKind,
    pkcs8: Zeroizing<Vec<u8>>,
}

enum KeyPairKind {
    MlDsa(PqdsaKeyPair),
    Ecdsa(EcdsaKeyPair),
}

impl KeyPair {
    pub(crate) fn generate(algorithm: SignatureAlgorithm) -> Result<Self, PkiError> {
        let failed = |_| PkiError::KeyGeneration { algorithm };
        let (kind, pkcs8) = match algorithm.ml_dsa_signing() {
            Some(params) => {
                let pair = PqdsaKeyPair::generate(params).map_err(failed)?;
                let pkcs8 = Zeroizing::new(pair.to_pkcs8v1().map_err(failed)?.as_ref().to_vec());
                (KeyPairKind::MlDsa(pair), pkcs8)
            }
            None => {
                let pair = EcdsaKeyPair::generate(&lc_sig::ECDSA_P256_SHA256_ASN1_SIGNING).map_err(failed)?;
                let pkcs8 = Zeroizing::new(pair.to_pkcs8v1().map_err(failed)?.as_ref().to_vec());
                (KeyPairKind::Ecdsa(pair), pkcs8)
            }
        };
        Ok(Self { algorithm, kind, pkcs8 })
    }

    pub(crate) fn from_pkcs8(algorithm: SignatureAlgorithm, pkcs8: &[u8]) -> Result<Self, PkiError> {
        let rejected =
            |e: aws_lc_rs::error::KeyRejected| PkiError::InvalidPrivateKey { algorithm, reason: e.to_string() };
        let kind = match algorithm.ml_dsa_signing() {
            Some(params) => KeyPairKind::MlDsa(PqdsaKeyPair::from_pkcs8(params, pkcs8).map_err(rejected)?),
            None => KeyPairKind::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&lc_sig::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8).map_err(rejected)?,
            ),
        };
        Ok(Self { algorithm, kind, pkcs8: Zeroizing::new(pkcs8.to_vec()) })
    }

    pub(crate) fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The raw public key (FIPS 204 encoding for ML-DSA, uncompressed SEC1 point for ECDSA), i.e.
    /// the content of the certificate's subjectPublicKey BIT STRING.
    pub(crate) fn public_key(&self) -> &[u8] {
        match &self.kind {
            KeyPairKind::MlDsa(pair) => pair.public_key().as_ref(),
            KeyPairKind::Ecdsa(pair) => pair.public_key().as_ref(),
        }
    }

    /// Signs `msg` (pure ML-DSA with an empty context string, or ECDSA-SHA256 in ASN.1 form).
    pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, aws_lc_rs::error::Unspecified> {
        match &self.kind {
            KeyPairKind::MlDsa(pair) => {
                let mut sig = vec![0; pair.algorithm().signature_len()];
                let len = pair.sign(msg, &mut sig)?;
                sig.truncate(len);
                Ok(sig)
            }
            KeyPairKind::Ecdsa(pair) => Ok(pair.sign(&SystemRandom::new(), msg)?.as_ref().to_vec()),
        }
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair").field("algorithm", &self.algorithm).field("private_key", &"<redacted>").finish()
    }
}

impl rcgen::PublicKeyData for KeyPair {
    fn der_bytes(&self) -> &[u8] {
        self.public_key()
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.algorithm.rcgen()
    }
}

impl rcgen::SigningKey for KeyPair {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        KeyPair::sign(self, msg).map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// A certificate chain (leaf first, then intermediates; never the root) and its private key.
///
/// The private key is zeroized on drop and never shown by `Debug`. Cloning is cheap (the key is
/// shared, not copied).
#[derive(Clone)]
pub struct CertifiedKey {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<KeyPair>,
}

impl CertifiedKey {
    /// The chain to present to peers: leaf first, then intermediates (not the root).
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The leaf (end-entity, or the CA's own) certificate.
    pub fn leaf(&self) -> &CertificateDer<'static> {
        // `chain` is never empty: every constructor puts the leaf in it.
        &self.chain[0]
    }

    /// The private key as PKCS#8 DER (a copy; rustls wraps it in `Zeroizing` when loading).
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.pkcs8.to_vec()))
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.key.algorithm
    }

    /// The raw public key (FIPS 204 encoding for ML-DSA).
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key()
    }

    /// The chain as concatenated `CERTIFICATE` PEM blocks, leaf first.
    pub fn chain_pem(&self) -> String {
        self.chain.iter().map(|c| crate::pem::encode("CERTIFICATE", c)).collect()
    }

    /// The private key as a `PRIVATE KEY` (PKCS#8) PEM block, in a zeroizing string.
    pub fn private_key_pem(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::new());
        crate::pem::encode_into(&mut out, "PRIVATE KEY", &self.key.pkcs8);
        out
    }

    /// Loads a chain (leaf first) and its PKCS#8 private key from PEM, as written by
    /// [`Self::chain_pem`] and [`Self::private_key_pem`] (or OpenSSL).
    ///
    /// The key algorithm is taken from the leaf certificate and the key must match the leaf's
    /// public key. Chain signatures are *not* checked here (rustls does that against the peer's
    /// trust anchors).
    pub fn from_pem(chain_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let chain = parse_pem_certificates_in(chain_pem, "certificate chain")?;
        let mut leaf_info = None;
        for (index, cert) in chain.iter().enumerate() {
            let info = CertInfo::parse(cert, index)?;
            if index == 0 {
                leaf_info = Some(info);
            }
        }
        let leaf = leaf_info.ok_or(PkiError::NoCertificates { what: "certificate chain" })?;
        let pkcs8 = PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| PkiError::Pem { what: "private key", reason: e.to_string() })?;
        let key = KeyPair::from_pkcs8(leaf.algorithm, pkcs8.secret_pkcs8_der())?;
        if key.public_key() != leaf.public_key.as_slice() {
            return Err(PkiError::KeyMismatch);
        }
        Ok(Self { chain, key: Arc::new(key) })
    }

    pub(crate) fn key_pair(&self) -> &Arc<KeyPair> {
        &self.key
    }
}

impl fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertifiedKey")
            .field("algorithm", &self.key.algorithm)
            .field("chain_len", &self.chain.len())
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// A certificate authority: its own certificate chain and signing key.
///
/// A root is created with [`Self::new_root`]; an issuing (intermediate) CA with
/// [`Self::new_intermediate`]. Both can be saved with [`Self::certified_key`] (`chain_pem` +
/// `private_key_pem`) and reloaded with [`Self::from_pem`].
#[derive(Clone, Debug)]
pub struct CertificateAuthority {
    identity: CertifiedKey,
    info: CertInfo,
}

impl CertificateAuthority {
    /// Creates a self-signed root CA (no path length limit).
    pub fn new_root(common_name: &str, algorithm: SignatureAlgorithm, validity: Duration) -> Result<Self, PkiError> {
        let mut params = base_params(common_name, validity, None)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate(algorithm)?;
        let cert = params.self_signed(&key).map_err(|source| PkiError::CertificateGeneration {
            what: "root",
            common_name: common_name.to_owned(),
            source,
        })?;
        Self::from_identity(CertifiedKey { chain: vec![cert.der().clone()], key: Arc::new(key) })
    }

    /// Creates an issuing CA signed by this one, with `pathLenConstraint = 0` (it can sign leaves
    /// but no further CAs). Its chain is `[intermediate]` plus this CA's chain if this CA is not a
    /// root.
    pub fn new_intermediate(
        &self,
        common_name: &str,
        algorithm: SignatureAlgorithm,
        validity: Duration,
    ) -> Result<Self, PkiError> {
        if self.info.path_len == Some(0) {
            return Err(PkiError::PathLengthExceeded { subject: self.info.subject.clone() });
        }
        let mut params = base_params(common_name, validity, Some(self.info.not_after))?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate(algorithm)?;
        let cert = self.sign(&params, &key, "intermediate", common_name)?;
        Self::from_identity(CertifiedKey { chain: self.chain_below(cert), key: Arc::new(key) })
    }

    /// Issues an end-entity certificate with a freshly generated key.
    pub fn issue(&self, profile: &LeafProfile) -> Result<CertifiedKey, PkiError> {
        let params = self.leaf_params(profile)?;
        let key = KeyPair::generate(profile.algorithm)?;
        let cert = self.sign(&params, &key, "leaf", &profile.common_name)?;
        Ok(CertifiedKey { chain: self.chain_below(cert), key: Arc::new(key) })
    }

    /// Issues an end-entity certificate for a public key this CA never holds the private half of
    /// (CSR signing). `spki_der` is the subject's DER SubjectPublicKeyInfo (ML-DSA-44/65/87,
    /// ECDSA P-256/P-384, Ed25519 or RSA); `profile.algorithm` is ignored. Checking the proof of
    /// possession (the CSR signature) is the caller's job.
    pub fn issue_for_public_key(
        &self,
        profile: &LeafProfile,
        spki_der: &[u8],
    ) -> Result<CertificateDer<'static>, PkiError> {
        let params = self.leaf_params(profile)?;
        let spki = ForeignPublicKey::from_spki_der(spki_der, &profile.common_name)?;
        self.sign(&params, &spki, "leaf", &profile.common_name)
    }

    /// Cross-certifies `other` (normally the *new* root of a rollover): a CA certificate with
    /// `other`'s subject and public key, issued and signed by this CA. Relying parties that trust
    /// only this CA validate chains under `other` through it. Validity is clamped to both CAs.
    pub fn cross_sign(
        &self,
        other: &CertificateAuthority,
        validity: Duration,
    ) -> Result<CertificateDer<'static>, PkiError> {
        let cn = other.common_name()?;
        let mut params = base_params(&cn, validity, Some(self.info.not_after.min(other.info.not_after)))?;
        params.is_ca = match other.info.path_len {
            None => IsCa::Ca(BasicConstraints::Unconstrained),
            Some(n) => IsCa::Ca(BasicConstraints::Constrained(n.try_into().unwrap_or(u8::MAX))),
        };
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let spki = CertInfo::spki_der(other.certificate())?;
        let spki = ForeignPublicKey::from_spki_der(&spki, &cn)?;
        self.sign(&params, &spki, "cross", &cn)
    }

    /// Signs a CRL v2 (RFC 5280 §5) listing `revoked`, with this CA as issuer (the
    /// authorityKeyIdentifier is this CA's key identifier).
    pub fn sign_crl(&self, crl: &CrlRequest) -> Result<CertificateRevocationListDer<'static>, PkiError> {
        let failed =
            |source| PkiError::CertificateGeneration { what: "CRL", common_name: self.info.subject.clone(), source };
        let mut revoked_certs = Vec::with_capacity(crl.revoked.len());
        for entry in &crl.revoked {
            revoked_certs.push(rcgen::RevokedCertParams {
                serial_number: SerialNumber::from_slice(&entry.serial),
                revocation_time: entry.revoked_at,
                reason_code: revocation_reason(entry.reason_code),
                invalidity_date: None,
            });
        }
        let params = rcgen::CertificateRevocationListParams {
            this_update: crl.this_update,
            next_update: crl.next_update,
            crl_number: SerialNumber::from(crl.crl_number),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        let issuer = Issuer::from_ca_cert_der(self.certificate(), &*self.identity.key).map_err(failed)?;
        Ok(params.signed_by(&issuer).map_err(failed)?.der().clone())
    }

    /// The end of this CA certificate's validity.
    pub fn not_after(&self) -> OffsetDateTime {
        self.info.not_after
    }

    /// This CA's subject, RFC 4514 style (e.g. `CN=qsafe root`).
    pub fn subject(&self) -> &str {
        &self.info.subject
    }

    fn common_name(&self) -> Result<String, PkiError> {
        let (_, cert) = x509_parser::parse_x509_certificate(self.certificate())
            .map_err(|e| PkiError::CertificateParse { index: 0, reason: e.to_string() })?;
        let cn = cert.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok()).map(str::to_owned);
        cn.ok_or_else(|| PkiError::NotACa { subject: self.info.subject.clone(), reason: "subject has no commonName" })
    }

    fn leaf_params(&self, profile: &LeafProfile) -> Result<CertificateParams, PkiError> {
        if profile.usage.is_server() && profile.dns_names.is_empty() && profile.ip_addresses.is_empty() {
            return Err(PkiError::InvalidProfile {
                common_name: profile.common_name.clone(),
                reason: "a server certificate needs at least one DNS name or IP address (TLS matches SANs only)",
            });
        }
        let mut params = base_params(&profile.common_name, profile.validity, Some(self.info.not_after))?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if profile.usage.is_server() {
            params.extended_key_usages.push(ExtendedKeyUsagePurpose::ServerAuth);
        }
        if profile.usage.is_client() {
            params.extended_key_usages.push(ExtendedKeyUsagePurpose::ClientAuth);
        }
        for name in &profile.dns_names {
            let checked = rustls::pki_types::DnsName::try_from(name.as_str()).map_err(|e| PkiError::InvalidName {
                kind: "DNS name",
                value: name.clone(),
                reason: e.to_string(),
            })?;
            params.subject_alt_names.push(SanType::DnsName(ia5(checked.as_ref(), "DNS name")?));
        }
        params.subject_alt_names.extend(profile.ip_addresses.iter().copied().map(SanType::IpAddress));
        for uri in &profile.uris {
            validate_uri(uri)?;
            params.subject_alt_names.push(SanType::URI(ia5(uri, "URI")?));
        }
        params.use_authority_key_identifier_extension = true;
        Ok(params)
    }

    /// This CA's own certificate (for a root: the trust anchor to distribute).
    pub fn certificate(&self) -> &CertificateDer<'static> {
        self.identity.leaf()
    }

    /// This CA's own certificate as PEM.
    pub fn certificate_pem(&self) -> String {
        crate::pem::encode("CERTIFICATE", self.certificate())
    }

    /// The CA's chain and key, e.g. to save them (`chain_pem`, `private_key_pem`).
    pub fn certified_key(&self) -> &CertifiedKey {
        &self.identity
    }

    /// The CA key's algorithm (the algorithm of every signature it makes).
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.identity.algorithm()
    }

    /// Whether this CA is a self-signed root.
    pub fn is_root(&self) -> bool {
        self.info.self_issued
    }

    /// Reloads a CA saved with `certified_key().chain_pem()` / `private_key_pem()`.
    ///
    /// The leaf of the chain must be a CA certificate (basicConstraints cA, keyCertSign) whose
    /// public key matches the key.
    pub fn from_pem(chain_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        Self::from_identity(CertifiedKey::from_pem(chain_pem, key_pem)?)
    }

    fn from_identity(identity: CertifiedKey) -> Result<Self, PkiError> {
        let info = CertInfo::parse(identity.leaf(), 0)?;
        if !info.is_ca {
            return Err(PkiError::NotACa { subject: info.subject, reason: "basicConstraints cA is not set" });
        }
        if !info.key_cert_sign {
            return Err(PkiError::NotACa { subject: info.subject, reason: "keyUsage lacks keyCertSign" });
        }
        Ok(Self { identity, info })
    }

    fn sign(
        &self,
        params: &CertificateParams,
        subject_key: &impl rcgen::PublicKeyData,
        what: &'static str,
        common_name: &str,
    ) -> Result<CertificateDer<'static>, PkiError> {
        let failed = |source| PkiError::CertificateGeneration { what, common_name: common_name.to_owned(), source };
        // Re-derive the issuer name and key identifier from our certificate so the issued
        // certificate's issuer/AKI match it byte for byte, also for CAs loaded from PEM.
        let issuer = Issuer::from_ca_cert_der(self.certificate(), &*self.identity.key).map_err(failed)?;
        let cert = params.signed_by(subject_key, &issuer).map_err(failed)?;
        Ok(cert.der().clone())
    }

    /// `[new]` followed by this CA's chain unless this CA is a root (roots are never sent).
    fn chain_below(&self, new: CertificateDer<'static>) -> Vec<CertificateDer<'static>> {
        let mut chain = vec![new];
        if !self.info.self_issued {
            chain.extend(self.identity.chain.iter().cloned());
        }
        chain
    }
}

/// A subject public key we certify without holding its private key (CSR signing,
/// cross-certification). rcgen's own `SubjectPublicKeyInfo::from_der` does not know ML-DSA, so
/// the SPKI algorithm is mapped here; rcgen re-encodes the AlgorithmIdentifier from it.
struct ForeignPublicKey {
    algorithm: &'static rcgen::SignatureAlgorithm,
    key: Vec<u8>,
}

impl ForeignPublicKey {
    fn from_spki_der(spki_der: &[u8], common_name: &str) -> Result<Self, PkiError> {
        use x509_parser::prelude::FromDer;
        let (rest, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der).map_err(|e| {
            PkiError::InvalidName { kind: "public key", value: common_name.to_owned(), reason: e.to_string() }
        })?;
        let oid = spki.algorithm.algorithm.to_id_string();
        let unsupported = |detail| PkiError::UnsupportedAlgorithm { index: 0, oid: oid.clone(), detail };
        if !rest.is_empty() {
            return Err(unsupported(" (trailing bytes after the SubjectPublicKeyInfo)"));
        }
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string());
        let algorithm = match (oid.as_str(), curve.as_deref()) {
            ("2.16.840.1.101.3.4.3.17", _) => &rcgen::PKCS_ML_DSA_44,
            ("2.16.840.1.101.3.4.3.18", _) => &rcgen::PKCS_ML_DSA_65,
            ("2.16.840.1.101.3.4.3.19", _) => &rcgen::PKCS_ML_DSA_87,
            (OID_EC_PUBLIC_KEY, Some(OID_P256)) => &rcgen::PKCS_ECDSA_P256_SHA256,
            (OID_EC_PUBLIC_KEY, Some("1.3.132.0.34")) => &rcgen::PKCS_ECDSA_P384_SHA384,
            ("1.3.101.112", _) => &rcgen::PKCS_ED25519,
            ("1.2.840.113549.1.1.1", _) => &rcgen::PKCS_RSA_SHA256,
            _ => return Err(unsupported(" (expected ML-DSA, ECDSA P-256/P-384, Ed25519 or RSA)")),
        };
        if oid.starts_with("2.16.840.1.101.3.4.3.") && spki.algorithm.parameters.is_some() {
            return Err(unsupported(" (RFC 9881: ML-DSA parameters must be absent)"));
        }
        Ok(Self { algorithm, key: spki.subject_public_key.data.to_vec() })
    }
}

impl rcgen::PublicKeyData for ForeignPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.key
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.algorithm
    }
}

/// One revoked certificate in a [`CrlRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Serial number, big-endian magnitude as in the certificate.
    pub serial: Vec<u8>,
    /// When it was revoked.
    pub revoked_at: OffsetDateTime,
    /// RFC 5280 §5.3.1 CRLReason code (0 = unspecified, 1 = keyCompromise, ...); `None` omits the
    /// reasonCode entry extension. Unknown codes are written as unspecified.
    pub reason_code: Option<u8>,
}

/// What goes into a CRL signed by [`CertificateAuthority::sign_crl`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlRequest {
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate (must be after `this_update`).
    pub next_update: OffsetDateTime,
    /// cRLNumber (monotonically increasing per issuer, RFC 5280 §5.2.3).
    pub crl_number: u64,
    /// The revoked certificates.
    pub revoked: Vec<RevokedEntry>,
}

fn revocation_reason(code: Option<u8>) -> Option<rcgen::RevocationReason> {
    use rcgen::RevocationReason as R;
    Some(match code? {
        1 => R::KeyCompromise,
        2 => R::CaCompromise,
        3 => R::AffiliationChanged,
        4 => R::Superseded,
        5 => R::CessationOfOperation,
        6 => R::CertificateHold,
        8 => R::RemoveFromCrl,
        9 => R::PrivilegeWithdrawn,
        10 => R::AaCompromise,
        _ => R::Unspecified,
    })
}

/// The file name stem of an SAE's certificate and key in a PKI directory
/// (`<stem>.pem`, `<stem>.key`, as `qsafe-kme demo-pki` writes them):
/// `sae-<ID>` with characters other than `A-Za-z0-9._-` replaced by `_`.
pub fn sae_file_stem(sae_id: &str) -> String {
    let safe: String = sae_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect();
    format!("sae-{safe}")
}

/// Parses every `CERTIFICATE` block in `pem` (other blocks, e.g. keys, are skipped).
///
/// Errors if the PEM is malformed, holds no certificate, or a certificate is not valid X.509 with
/// a supported key algorithm.
pub fn parse_pem_certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = parse_pem_certificates_in(pem, "certificate PEM")?;
    for (index, cert) in certs.iter().enumerate() {
        CertInfo::parse(cert, index)?;
    }
    Ok(certs)
}

/// The algorithm of the public key in `cert` (checks the RFC 9881 encoding for ML-DSA).
pub fn certificate_algorithm(cert: &CertificateDer<'_>) -> Result<SignatureAlgorithm, PkiError> {
    Ok(CertInfo::parse(cert, 0)?.algorithm)
}

fn parse_pem_certificates_in(pem: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PkiError::Pem { what, reason: e.to_string() })?;
    if certs.is_empty() {
        return Err(PkiError::NoCertificates { what });
    }
    Ok(certs)
}

/// What this crate needs to know about a certificate, parsed once with x509-parser.
#[derive(Clone, Debug)]
pub(crate) struct CertInfo {
    pub(crate) algorithm: SignatureAlgorithm,
    pub(crate) public_key: Vec<u8>,
    subject: String,
    self_issued: bool,
    is_ca: bool,
    path_len: Option<u32>,
    key_cert_sign: bool,
    not_after: OffsetDateTime,
}

impl CertInfo {
    /// The DER SubjectPublicKeyInfo of `der`.
    fn spki_der(der: &[u8]) -> Result<Vec<u8>, PkiError> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| PkiError::CertificateParse { index: 0, reason: e.to_string() })?;
        Ok(cert.public_key().raw.to_vec())
    }

    pub(crate) fn parse(der: &[u8], index: usize) -> Result<Self, PkiError> {
        let parse_error = |reason: String| PkiError::CertificateParse { index, reason };
        let (rest, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| parse_error(e.to_string()))?;
        if !rest.is_empty() {
            return Err(parse_error(format!("{} trailing bytes after the certificate", rest.len())));
        }
        let spki = cert.public_key();
        let oid = spki.algorithm.algorithm.to_id_string();
        let unsupported = |detail| PkiError::UnsupportedAlgorithm { index, oid: oid.clone(), detail };
        let algorithm = if oid == OID_EC_PUBLIC_KEY {
            let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string());
            if curve.as_deref() != Some(OID_P256) {
                return Err(unsupported(" (only the P-256 curve is supported)"));
            }
            SignatureAlgorithm::EcdsaP256
        } else {
            let alg = SignatureAlgorithm::ALL
                .into_iter()
                .find(|a| a.is_post_quantum() && a.spki_oid() == oid)
                .ok_or_else(|| unsupported(" (expected ML-DSA-44/65/87 or ECDSA P-256)"))?;
            if spki.algorithm.parameters.is_some() {
                return Err(unsupported(" (RFC 9881: ML-DSA parameters must be absent)"));
            }
            alg
        };
        let public_key = spki.subject_public_key.data.to_vec();
        let expected_len = match algorithm {
            SignatureAlgorithm::MlDsa44 => 1312,
            SignatureAlgorithm::MlDsa65 => 1952,
            SignatureAlgorithm::MlDsa87 => 2592,
            SignatureAlgorithm::EcdsaP256 => 65,
        };
        if public_key.len() != expected_len || spki.subject_public_key.unused_bits != 0 {
            return Err(unsupported(" (public key has the wrong length for its algorithm)"));
        }
        let basic = cert
            .basic_constraints()
            .map_err(|e| parse_error(e.to_string()))?
            .map(|b| (b.value.ca, b.value.path_len_constraint));
        let key_usage = cert.key_usage().map_err(|e| parse_error(e.to_string()))?;
        let not_after = OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp())
            .map_err(|e| parse_error(e.to_string()))?;
        Ok(Self {
            algorithm,
            public_key,
            subject: cert.subject().to_string(),
            self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
            is_ca: basic.is_some_and(|(ca, _)| ca),
            path_len: basic.and_then(|(_, path_len)| path_len),
            // No keyUsage extension means "any usage" (RFC 5280 §4.2.1.3).
            key_cert_sign: key_usage.is_none_or(|ku| ku.value.key_cert_sign()),
            not_after,
        })
    }
}

fn base_params(
    common_name: &str,
    validity: Duration,
    issuer_not_after: Option<OffsetDateTime>,
) -> Result<CertificateParams, PkiError> {
    let name_error = |reason: &str| PkiError::InvalidName {
        kind: "commonName",
        value: common_name.to_owned(),
        reason: reason.to_owned(),
    };
    if common_name.is_empty() {
        return Err(name_error("must not be empty"));
    }
    if common_name.chars().count() > MAX_COMMON_NAME_LEN {
        return Err(name_error("longer than 64 characters (X.520 ub-common-name)"));
    }
    if common_name.chars().any(char::is_control) {
        return Err(name_error("contains control characters"));
    }
    let now = OffsetDateTime::now_utc();
    let out_of_range = || PkiError::InvalidValidity { validity };
    // 9999-12-31T23:59:59Z, the largest GeneralizedTime (RFC 5280 §4.1.2.5).
    let max_not_after = OffsetDateTime::from_unix_timestamp(253_402_300_799).map_err(|_| out_of_range())?;
    let lifetime = time::Duration::try_from(validity).map_err(|_| out_of_range())?;
    let mut not_after = now.checked_add(lifetime).filter(|t| *t <= max_not_after).ok_or_else(out_of_range)?;
    if validity.is_zero() {
        return Err(out_of_range());
    }
    if let Some(limit) = issuer_not_after {
        // A certificate never outlives its issuer.
        not_after = not_after.min(limit);
    }
    let backdate = time::Duration::try_from(BACKDATE).map_err(|_| out_of_range())?;

    let mut params = CertificateParams::default();
    params.not_before = now - backdate;
    params.not_after = not_after;
    params.serial_number = Some(random_serial().map_err(|_| PkiError::Random)?);
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    Ok(params)
}

/// 127-bit random positive serial (RFC 5280 §4.1.2.2: positive, at most 20 octets; CA/B BR: ≥ 64
/// bits of randomness).
fn random_serial() -> Result<SerialNumber, aws_lc_rs::error::Unspecified> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40; // positive, and no leading zero octet to strip
    Ok(SerialNumber::from_slice(&bytes))
}

fn ia5(value: &str, kind: &'static str) -> Result<rcgen::string::Ia5String, PkiError> {
    rcgen::string::Ia5String::try_from(value).map_err(|e| PkiError::InvalidName {
        kind,
        value: value.to_owned(),
        reason: e.to_string(),
    })
}

/// RFC 3986 scheme check plus IA5 (ASCII, no spaces or controls): enough to keep garbage out of a
/// certificate; full URI grammar is the relying party's business.
fn validate_uri(uri: &str) -> Result<(), PkiError> {
    let invalid =
        |reason: &str| PkiError::InvalidName { kind: "URI", value: uri.to_owned(), reason: reason.to_owned() };
    let (scheme, rest) = uri.split_once(':').ok_or_else(|| invalid("missing scheme (e.g. spiffe://...)"))?;
    let mut chars = scheme.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return Err(invalid("scheme must be a letter followed by letters, digits, '+', '-' or '.'"));
    }
    if rest.is_empty() || !uri.chars().all(|c| c.is_ascii_graphic()) {
        return Err(invalid("must be non-empty printable ASCII without spaces"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn algorithm_names_round_trip_and_reject_unknown() {
        for alg in SignatureAlgorithm::ALL {
            assert_eq!(alg.to_string().parse::<SignatureAlgorithm>().unwrap(), alg);
        }
        assert_eq!("ML_DSA_87".parse::<SignatureAlgorithm>().unwrap(), SignatureAlgorithm::MlDsa87);
        let err = "rsa-2048".parse::<SignatureAlgorithm>().unwrap_err();
        assert!(err.to_string().contains("ml-dsa-65"), "{err}");
    }

    #[test]
    fn root_and_leaf_have_the_requested_algorithms_and_reload_from_pem() {
        let root = CertificateAuthority::new_root("qsafe root", SignatureAlgorithm::MlDsa87, DAY).unwrap();
        assert!(root.is_root());
        assert_eq!(certificate_algorithm(root.certificate()).unwrap(), SignatureAlgorithm::MlDsa87);
        let leaf =
            root.issue(&LeafProfile::new("e2term", LeafUsage::Server).with_dns_name("e2term.ric.local")).unwrap();
        assert_eq!(leaf.chain().len(), 1, "root is not part of the chain");
        assert_eq!(certificate_algorithm(leaf.leaf()).unwrap(), SignatureAlgorithm::MlDsa65);
        // 54-byte seed-only PKCS#8 (RFC 9881) for ML-DSA.
        assert_eq!(leaf.key.pkcs8.len(), 54);

        let reloaded = CertifiedKey::from_pem(&leaf.chain_pem(), &leaf.private_key_pem()).unwrap();
        assert_eq!(reloaded.chain(), leaf.chain());
        assert_eq!(reloaded.public_key(), leaf.public_key());
        assert_eq!(reloaded.algorithm(), SignatureAlgorithm::MlDsa65);
    }

    #[test]
    fn intermediate_chain_and_path_length() {
        let root = CertificateAuthority::new_root("root", SignatureAlgorithm::MlDsa65, DAY).unwrap();
        let inter = root.new_intermediate("issuing", SignatureAlgorithm::MlDsa65, DAY).unwrap();
        assert!(!inter.is_root());
        assert_eq!(inter.certified_key().chain().len(), 1);
        let leaf = inter.issue(&LeafProfile::new("client", LeafUsage::Client)).unwrap();
        assert_eq!(leaf.chain().len(), 2);
        assert_eq!(&leaf.chain()[1], inter.certificate());
        let err = inter.new_intermediate("too deep", SignatureAlgorithm::MlDsa65, DAY).unwrap_err();
        assert!(matches!(err, PkiError::PathLengthExceeded { .. }), "{err}");

        // Reloaded intermediate keeps its path length and still chains leaves the same way.
        let ck = inter.certified_key();
        let again = CertificateAuthority::from_pem(&ck.chain_pem(), &ck.private_key_pem()).unwrap();
        assert!(!again.is_root());
        assert_eq!(again.issue(&LeafProfile::new("c2", LeafUsage::Client)).unwrap().chain().len(), 2);
        assert!(matches!(
            again.new_intermediate("x", SignatureAlgorithm::MlDsa44, DAY),
            Err(PkiError::PathLengthExceeded { .. })
        ));
    }

    #[test]
    fn mismatched_key_is_refused() {
        let root = CertificateAuthority::new_root("root", SignatureAlgorithm::MlDsa65, DAY).unwrap();
        let a = root.issue(&LeafProfile::new("a", LeafUsage::Client)).unwrap();
        let b = root.issue(&LeafProfile::new("b", LeafUsage::Client)).unwrap();
        let err = CertifiedKey::from_pem(&a.chain_pem(), &b.private_key_pem()).unwrap_err();
        assert!(matches!(err, PkiError::KeyMismatch), "{err}");
        // A key of another algorithm is refused as invalid for the leaf's algorithm.
        let e = root.issue(&LeafProfile::new("e", LeafUsage::Client).with_algorithm(SignatureAlgorithm::EcdsaP256));
        let err = CertifiedKey::from_pem(&a.chain_pem(), &e.unwrap().private_key_pem()).unwrap_err();
        assert!(matches!(err, PkiError::InvalidPrivateKey { .. }), "{err}");
    }

    #[test]
    fn leaf_is_not_a_ca() {
        let root = CertificateAuthority::new_root("root", SignatureAlgorithm::MlDsa44, DAY).unwrap();
        let leaf = root.issue(&LeafProfile::new("leaf", LeafUsage::Client)).unwrap();
        let err = CertificateAuthority::from_pem(&leaf.chain_pem(), &leaf.private_key_pem()).unwrap_err();
        assert!(matches!(err, PkiError::NotACa { .. }), "{err}");
    }

    #[test]
    fn bad_profiles_are_refused_with_context() {
        let root = CertificateAuthority::new_root("root", SignatureAlgorithm::MlDsa44, DAY).unwrap();
        let no_san = root.issue(&LeafProfile::new("srv", LeafUsage::Server)).unwrap_err();
        assert!(matches!(no_san, PkiError::InvalidProfile { .. }), "{no_san}");
        let bad_dns =
            root.issue(&LeafProfile::new("srv", LeafUsage::Server).with_dns_name("bad name.example")).unwrap_err();
        assert!(matches!(bad_dns, PkiError::InvalidName { kind: "DNS name", .. }), "{bad_dns}");
        let bad_uri = root.issue(&LeafProfile::new("c", LeafUsage::Client).with_uri("no-scheme")).unwrap_err();
        assert!(matches!(bad_uri, PkiError::InvalidName { kind: "URI", .. }), "{bad_uri}");
        let zero = root.issue(&LeafProfile::new("c", LeafUsage::Client).with_validity(Duration::ZERO)).unwrap_err();
        assert!(matches!(zero, PkiError::InvalidValidity { .. }), "{zero}");
        let huge = CertificateAuthority::new_root("r", SignatureAlgorithm::MlDsa44, Duration::MAX).unwrap_err();
        assert!(matches!(huge, PkiError::InvalidValidity { .. }), "{huge}");
        let empty = CertificateAuthority::new_root("", SignatureAlgorithm::MlDsa44, DAY).unwrap_err();
        assert!(matches!(empty, PkiError::InvalidName { kind: "commonName", .. }), "{empty}");
    }

    #[test]
    fn leaf_validity_is_clamped_to_the_issuer() {
        let root = CertificateAuthority::new_root("root", SignatureAlgorithm::MlDsa44, DAY).unwrap();
        let leaf = root.issue(&LeafProfile::new("c", LeafUsage::Client).with_validity(DAY * 1000)).unwrap();
        let leaf_info = CertInfo::parse(leaf.leaf(), 0).unwrap();
        assert!(leaf_info.not_after <= root.info.not_after);
    }

    #[test]
    fn pem_parsing_errors() {
        assert!(matches!(parse_pem_certificates(""), Err(PkiError::NoCertificates { .. })));
        let garbage = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(parse_pem_certificates(garbage), Err(PkiError::Pem { .. })));
        let not_x509 = crate::pem::encode("CERTIFICATE", b"\x30\x03\x02\x01\x01");
        assert!(matches!(parse_pem_certificates(&not_x509), Err(PkiError::CertificateParse { index: 0, .. })));
    }

    #[test]
    fn foreign_keys_cross_certificates_and_crls() {
        let root = CertificateAuthority::new_root("root", SignatureAlgorithm::MlDsa65, DAY).unwrap();
        let other = root.issue(&LeafProfile::new("k", LeafUsage::Client)).unwrap();
        let spki = CertInfo::spki_der(other.leaf()).unwrap();
        let cert = root.issue_for_public_key(&LeafProfile::new("csr", LeafUsage::Client), &spki).unwrap();
        assert_eq!(CertInfo::spki_der(&cert).unwrap(), spki);
        assert!(matches!(
            root.issue_for_public_key(&LeafProfile::new("x", LeafUsage::Client), b"garbage"),
            Err(PkiError::InvalidName { kind: "public key", .. })
        ));

        let new_root = CertificateAuthority::new_root("root G2", SignatureAlgorithm::MlDsa87, DAY).unwrap();
        let cross = root.cross_sign(&new_root, DAY).unwrap();
        let (_, c) = x509_parser::parse_x509_certificate(&cross).unwrap();
        let (_, n) = x509_parser::parse_x509_certificate(new_root.certificate()).unwrap();
        assert_eq!(c.subject().as_raw(), n.subject().as_raw());
        assert_eq!(c.public_key().raw, n.public_key().raw);
        assert_eq!(c.issuer().to_string(), root.subject());

        let now = OffsetDateTime::now_utc();
        let crl = root
            .sign_crl(&CrlRequest {
                this_update: now,
                next_update: now + time::Duration::hours(1),
                crl_number: 7,
                revoked: vec![RevokedEntry { serial: vec![0x42, 1], revoked_at: now, reason_code: Some(1) }],
            })
            .unwrap();
        let (_, parsed) = x509_parser::parse_x509_crl(&crl).unwrap();
        assert_eq!(parsed.crl_number().map(|n| n.to_u64_digits()), Some(vec![7]));
        assert_eq!(parsed.iter_revoked_certificates().next().unwrap().raw_serial(), [0x42, 1]);
    }

    #[test]
    fn debug_output_redacts_the_private_key() {
        let root = CertificateAuthority::new_root("root", SignatureAlgorithm::MlDsa44, DAY).unwrap();
        let leaf = root.issue(&LeafProfile::new("c", LeafUsage::Client)).unwrap();
        let pem = leaf.private_key_pem();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        for text in [format!("{leaf:?}"), format!("{root:?}")] {
            assert!(text.contains("<redacted>"), "{text}");
            assert!(!text.contains(&body), "Debug leaks the key");
        }
    }
}
