//! rustls configurations for quantum-safe E2, KME (ETSI GS QKD 014) and A1/O1 links.
//!
//! Two independent knobs, because they protect against different things:
//!
//! * [`KeyExchangePolicy`] protects *confidentiality* against "harvest now, decrypt later": the
//!   traffic recorded today must stay secret after a quantum computer exists, so the key exchange
//!   must include ML-KEM today. The default is the hybrid X25519MLKEM768 (IETF
//!   draft-ietf-tls-ecdhe-mlkem; secure if *either* half holds), with classical fallbacks for
//!   peers that do not have it yet.
//! * [`AuthPolicy`] protects *authentication*, which only matters against an attacker who has a
//!   quantum computer at connection time; it can therefore be migrated later, peer by peer.
//!   `MlDsaOnly` accepts ML-DSA certificate chains and CertificateVerify signatures only.
//!
//! Every config gets its own [`rustls::crypto::CryptoProvider`] (aws-lc-rs based), never the
//! process-wide default, so two links in one process can run different policies and nothing
//! depends on initialisation order. TLS 1.2 is offered only when both policies tolerate classical
//! cryptography (the hybrid group and ML-DSA exist only in TLS 1.3).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use rustls::crypto::aws_lc_rs::{self as provider, kx_group};
use rustls::crypto::{CryptoProvider, SupportedKxGroup, WebPkiSupportedAlgorithms};
use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, NamedGroup, RootCertStore, ServerConfig, SignatureScheme, SupportedProtocolVersion};

use crate::ParseNameError;
use crate::pki::{CertifiedKey, SignatureAlgorithm, certificate_algorithm};

/// Which key-exchange groups a config offers or accepts, in preference order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum KeyExchangePolicy {
    /// X25519MLKEM768 first, then X25519 and P-256 for peers without ML-KEM (TLS 1.2 allowed when
    /// the [`AuthPolicy`] is `Any`).
    #[default]
    HybridPreferred,
    /// X25519MLKEM768, then pure MLKEM768; nothing classical; TLS 1.3 only. A peer without ML-KEM
    /// fails the handshake.
    PqOnly,
    /// X25519, then P-256 (baseline for measurements and legacy peers; not quantum-safe).
    ClassicalOnly,
}

impl KeyExchangePolicy {
    /// Every policy.
    pub const ALL: [Self; 3] = [Self::HybridPreferred, Self::PqOnly, Self::ClassicalOnly];

    /// Canonical name, as accepted by [`FromStr`].
    pub const fn name(self) -> &'static str {
        match self {
            Self::HybridPreferred => "hybrid-preferred",
            Self::PqOnly => "pq-only",
            Self::ClassicalOnly => "classical-only",
        }
    }

    /// The groups offered (client) or accepted (server), most preferred first.
    pub fn groups(self) -> Vec<&'static dyn SupportedKxGroup> {
        match self {
            Self::HybridPreferred => vec![kx_group::X25519MLKEM768, kx_group::X25519, kx_group::SECP256R1],
            Self::PqOnly => vec![kx_group::X25519MLKEM768, kx_group::MLKEM768],
            Self::ClassicalOnly => vec![kx_group::X25519, kx_group::SECP256R1],
        }
    }
}

impl fmt::Display for KeyExchangePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyExchangePolicy {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL.into_iter().find(|p| p.name() == wanted).ok_or_else(|| ParseNameError {
            kind: "key exchange policy",
            input: s.to_owned(),
            expected: "hybrid-preferred, pq-only, classical-only",
        })
    }
}

/// Which signature algorithms are accepted from the *peer* (its chain and CertificateVerify).
///
/// Under `MlDsaOnly` the local identity must be ML-DSA too (a config that would present an ECDSA
/// certificate to a peer with the same policy is refused up front).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum AuthPolicy {
    /// Only ML-DSA-44/65/87 (TLS 1.3 schemes 0x0904-0x0906, RFC 9881 certificates).
    #[default]
    MlDsaOnly,
    /// Everything aws-lc-rs verifies: ML-DSA, ECDSA, Ed25519, RSA-PSS/PKCS#1.
    Any,
}

impl AuthPolicy {
    /// Every policy.
    pub const ALL: [Self; 2] = [Self::MlDsaOnly, Self::Any];

    /// Canonical name, as accepted by [`FromStr`].
    pub const fn name(self) -> &'static str {
        match self {
            Self::MlDsaOnly => "ml-dsa-only",
            Self::Any => "any",
        }
    }
}

impl fmt::Display for AuthPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AuthPolicy {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL.into_iter().find(|p| p.name() == wanted).ok_or_else(|| ParseNameError {
            kind: "authentication policy",
            input: s.to_owned(),
            expected: "ml-dsa-only, any",
        })
    }
}

/// Errors building a TLS configuration. Nothing is half-built: on error no config exists.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// No trust anchors were given for verifying the peer.
    #[error("no trust anchors given for verifying {peer} certificates")]
    NoTrustAnchors {
        /// "server" or "client".
        peer: &'static str,
    },
    /// A trust anchor could not be used (not parseable by webpki).
    #[error("trust anchor #{index} is unusable: {source}")]
    InvalidTrustAnchor {
        /// Index in the given slice.
        index: usize,
        /// rustls' reason.
        #[source]
        source: rustls::Error,
    },
    /// Under [`AuthPolicy::MlDsaOnly`] a trust anchor is not an ML-DSA certificate (nothing it
    /// signs could ever be accepted).
    #[error("trust anchor #{index} is not an ML-DSA certificate ({reason}) but the policy is ml-dsa-only")]
    TrustAnchorNotAllowed {
        /// Index in the given slice.
        index: usize,
        /// Its algorithm, or why it could not be determined.
        reason: String,
    },
    /// Under [`AuthPolicy::MlDsaOnly`] the local identity is not ML-DSA.
    #[error("local {algorithm} identity is not allowed under the ml-dsa-only authentication policy")]
    IdentityNotAllowed {
        /// The identity's algorithm.
        algorithm: SignatureAlgorithm,
    },
    /// rustls refused to build the certificate verifier.
    #[error("building the {peer} certificate verifier failed: {source}")]
    Verifier {
        /// "server" or "client".
        peer: &'static str,
        /// rustls' reason.
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
    /// rustls refused the configuration (e.g. key and certificate do not match).
    #[error("rustls refused the {context}: {source}")]
    Rustls {
        /// Which step.
        context: &'static str,
        /// rustls' reason.
        #[source]
        source: rustls::Error,
    },
}

/// Signature verification restricted to ML-DSA (chains and handshake signatures).
static ML_DSA_ONLY: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[webpki::aws_lc_rs::ML_DSA_44, webpki::aws_lc_rs::ML_DSA_65, webpki::aws_lc_rs::ML_DSA_87],
    mapping: &[
        (SignatureScheme::ML_DSA_44, &[webpki::aws_lc_rs::ML_DSA_44]),
        (SignatureScheme::ML_DSA_65, &[webpki::aws_lc_rs::ML_DSA_65]),
        (SignatureScheme::ML_DSA_87, &[webpki::aws_lc_rs::ML_DSA_87]),
    ],
};

/// The aws-lc-rs [`CryptoProvider`] for a pair of policies (groups, verification algorithms and
/// cipher suites restricted accordingly). Exposed for callers that build their own rustls configs.
pub fn crypto_provider(kx: KeyExchangePolicy, auth: AuthPolicy) -> CryptoProvider {
    let mut p = provider::default_provider();
    p.kx_groups = kx.groups();
    if auth == AuthPolicy::MlDsaOnly {
        p.signature_verification_algorithms = ML_DSA_ONLY;
    }
    if !allows_tls12(kx, auth) {
        p.cipher_suites.retain(|s| s.version() == &rustls::version::TLS13);
    }
    p
}

fn allows_tls12(kx: KeyExchangePolicy, auth: AuthPolicy) -> bool {
    kx != KeyExchangePolicy::PqOnly && auth == AuthPolicy::Any
}

fn protocol_versions(kx: KeyExchangePolicy, auth: AuthPolicy) -> &'static [&'static SupportedProtocolVersion] {
    static TLS13_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
    if allows_tls12(kx, auth) { rustls::ALL_VERSIONS } else { TLS13_ONLY }
}

fn check_identity(identity: &CertifiedKey, auth: AuthPolicy) -> Result<(), TlsConfigError> {
    if auth == AuthPolicy::MlDsaOnly && !identity.algorithm().is_post_quantum() {
        return Err(TlsConfigError::IdentityNotAllowed { algorithm: identity.algorithm() });
    }
    Ok(())
}

fn root_store(
    roots: &[CertificateDer<'static>],
    auth: AuthPolicy,
    peer: &'static str,
) -> Result<Arc<RootCertStore>, TlsConfigError> {
    if roots.is_empty() {
        return Err(TlsConfigError::NoTrustAnchors { peer });
    }
    let mut store = RootCertStore::empty();
    for (index, root) in roots.iter().enumerate() {
        if auth == AuthPolicy::MlDsaOnly {
            match certificate_algorithm(root) {
                Ok(alg) if alg.is_post_quantum() => {}
                Ok(alg) => return Err(TlsConfigError::TrustAnchorNotAllowed { index, reason: alg.to_string() }),
                Err(e) => return Err(TlsConfigError::TrustAnchorNotAllowed { index, reason: e.to_string() }),
            }
        }
        store.add(root.clone()).map_err(|source| TlsConfigError::InvalidTrustAnchor { index, source })?;
    }
    Ok(Arc::new(store))
}

/// A server config presenting `identity`.
///
/// With `client_roots = Some(..)` every client must present a certificate chaining to one of
/// them (mutual TLS, as on E2 and KME links); with `None` clients are not authenticated.
pub fn server_config(
    identity: &CertifiedKey,
    client_roots: Option<&[CertificateDer<'static>]>,
    kx: KeyExchangePolicy,
    auth: AuthPolicy,
) -> Result<Arc<ServerConfig>, TlsConfigError> {
    check_identity(identity, auth)?;
    let provider = Arc::new(crypto_provider(kx, auth));
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(protocol_versions(kx, auth))
        .map_err(|source| TlsConfigError::Rustls { context: "protocol versions", source })?;
    let builder = match client_roots {
        Some(roots) => {
            let store = root_store(roots, auth, "client")?;
            let verifier = WebPkiClientVerifier::builder_with_provider(store, provider)
                .build()
                .map_err(|source| TlsConfigError::Verifier { peer: "client", source })?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(identity.chain().to_vec(), identity.private_key())
        .map_err(|source| TlsConfigError::Rustls { context: "server certificate and key", source })?;
    Ok(Arc::new(config))
}

/// A client config that verifies servers against `roots` and, with `identity = Some(..)`,
/// authenticates itself with that certificate when the server asks.
pub fn client_config(
    roots: &[CertificateDer<'static>],
    identity: Option<&CertifiedKey>,
    kx: KeyExchangePolicy,
    auth: AuthPolicy,
) -> Result<Arc<ClientConfig>, TlsConfigError> {
    if let Some(identity) = identity {
        check_identity(identity, auth)?;
    }
    let provider = Arc::new(crypto_provider(kx, auth));
    let store = root_store(roots, auth, "server")?;
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(store, provider.clone())
        .build()
        .map_err(|source| TlsConfigError::Verifier { peer: "server", source })?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(protocol_versions(kx, auth))
        .map_err(|source| TlsConfigError::Rustls { context: "protocol versions", source })?
        .with_webpki_verifier(verifier);
    let config = match identity {
        Some(identity) => builder
            .with_client_auth_cert(identity.chain().to_vec(), identity.private_key())
            .map_err(|source| TlsConfigError::Rustls { context: "client certificate and key", source })?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// What a completed handshake negotiated, for logs and metrics (no secrets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeSummary {
    /// TLS version.
    pub protocol: Option<rustls::ProtocolVersion>,
    /// Key-exchange group (e.g. `X25519MLKEM768`).
    pub group: Option<NamedGroup>,
    /// Cipher suite.
    pub cipher_suite: Option<rustls::CipherSuite>,
    /// Algorithm of the peer's end-entity certificate, if it sent one we understand.
    pub peer_algorithm: Option<SignatureAlgorithm>,
}

impl HandshakeSummary {
    /// Reads the negotiated parameters from a connection (after the handshake).
    pub fn of(conn: &rustls::CommonState) -> Self {
        Self {
            protocol: conn.protocol_version(),
            group: conn.negotiated_key_exchange_group().map(|g| g.name()),
            cipher_suite: conn.negotiated_cipher_suite().map(|s| s.suite()),
            peer_algorithm: conn
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| certificate_algorithm(c).ok()),
        }
    }

    /// Whether the key exchange included ML-KEM (confidentiality safe against a future quantum
    /// computer).
    pub fn key_exchange_is_quantum_safe(&self) -> bool {
        matches!(
            self.group,
            Some(
                NamedGroup::X25519MLKEM768
                    | NamedGroup::MLKEM768
                    | NamedGroup::MLKEM1024
                    | NamedGroup::secp256r1MLKEM768
            )
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_round_trip() {
        for p in KeyExchangePolicy::ALL {
            assert_eq!(p.to_string().parse::<KeyExchangePolicy>().unwrap(), p);
        }
        for p in AuthPolicy::ALL {
            assert_eq!(p.to_string().parse::<AuthPolicy>().unwrap(), p);
        }
        assert!("quantum".parse::<KeyExchangePolicy>().is_err());
        assert!("rsa".parse::<AuthPolicy>().is_err());
    }

    #[test]
    fn providers_follow_the_policies() {
        let names = |kx: KeyExchangePolicy| kx.groups().iter().map(|g| g.name()).collect::<Vec<_>>();
        assert_eq!(
            names(KeyExchangePolicy::HybridPreferred),
            [NamedGroup::X25519MLKEM768, NamedGroup::X25519, NamedGroup::secp256r1]
        );
        assert_eq!(names(KeyExchangePolicy::PqOnly), [NamedGroup::X25519MLKEM768, NamedGroup::MLKEM768]);
        assert_eq!(names(KeyExchangePolicy::ClassicalOnly), [NamedGroup::X25519, NamedGroup::secp256r1]);

        let pq = crypto_provider(KeyExchangePolicy::PqOnly, AuthPolicy::Any);
        assert!(pq.cipher_suites.iter().all(|s| s.version() == &rustls::version::TLS13));
        let legacy = crypto_provider(KeyExchangePolicy::HybridPreferred, AuthPolicy::Any);
        assert!(legacy.cipher_suites.iter().any(|s| s.version() == &rustls::version::TLS12));
        let ml_dsa = crypto_provider(KeyExchangePolicy::HybridPreferred, AuthPolicy::MlDsaOnly);
        let schemes = ml_dsa.signature_verification_algorithms.supported_schemes();
        assert_eq!(schemes, [SignatureScheme::ML_DSA_44, SignatureScheme::ML_DSA_65, SignatureScheme::ML_DSA_87]);
        assert!(ml_dsa.cipher_suites.iter().all(|s| s.version() == &rustls::version::TLS13));
    }
}
