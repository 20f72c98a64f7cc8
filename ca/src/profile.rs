//! Named issuance profiles: what an O1/O2/E2 certificate may contain.
//!
//! Why profiles instead of free-form flags: the operator picks *what the endpoint is*
//! (`o1-server`, `e2-node`, ...), and the CA derives key usage, extended key usage, validity
//! limits and SAN rules from that, so no certificate leaves the CA with a combination nobody
//! reviewed. Key usage is always `digitalSignature` only: RFC 9881 §5 forbids keyEncipherment for
//! ML-DSA keys, and TLS 1.3 needs nothing else for ECDSA/Ed25519/RSA keys either.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Extended key usage a profile grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Usage {
    /// id-kp-serverAuth.
    Server,
    /// id-kp-clientAuth.
    Client,
    /// Both.
    ServerAndClient,
}

/// Public-key algorithms a certificate subject may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAlgorithm {
    /// ML-DSA-44.
    #[serde(rename = "ml-dsa-44")]
    MlDsa44,
    /// ML-DSA-65.
    #[serde(rename = "ml-dsa-65")]
    MlDsa65,
    /// ML-DSA-87.
    #[serde(rename = "ml-dsa-87")]
    MlDsa87,
    /// ECDSA P-256.
    #[serde(rename = "ecdsa-p256")]
    EcdsaP256,
    /// ECDSA P-384.
    #[serde(rename = "ecdsa-p384")]
    EcdsaP384,
    /// Ed25519.
    Ed25519,
    /// RSA (modulus bits).
    Rsa(u32),
}

impl KeyAlgorithm {
    /// Whether the key is post-quantum (ML-DSA).
    pub fn is_post_quantum(self) -> bool {
        matches!(self, Self::MlDsa44 | Self::MlDsa65 | Self::MlDsa87)
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MlDsa44 => f.write_str("ML-DSA-44"),
            Self::MlDsa65 => f.write_str("ML-DSA-65"),
            Self::MlDsa87 => f.write_str("ML-DSA-87"),
            Self::EcdsaP256 => f.write_str("ECDSA-P256"),
            Self::EcdsaP384 => f.write_str("ECDSA-P384"),
            Self::Ed25519 => f.write_str("Ed25519"),
            Self::Rsa(bits) => write!(f, "RSA-{bits}"),
        }
    }
}

/// Smallest RSA modulus accepted from a classical CSR.
pub const MIN_RSA_BITS: u32 = 2048;

/// A named issuance profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// O1 endpoint (NETCONF/TLS server, RFC 7589): serverAuth, needs a DNS/IP SAN.
    O1Server,
    /// O2 endpoint (O-Cloud IMS/DMS API over HTTPS): serverAuth, needs a DNS/IP SAN.
    O2Server,
    /// E2 node or E2 termination (SCTP/TLS peers that both dial and listen): serverAuth +
    /// clientAuth, needs a DNS/IP SAN.
    E2Node,
    /// Any TLS server.
    TlsServer,
    /// Any TLS client (rApp, xApp, operator tooling).
    TlsClient,
    /// ETSI GS QKD 014 SAE talking to a KME (TLS client).
    KmeSae,
}

impl Profile {
    /// Every profile, in help order.
    pub const ALL: [Self; 6] =
        [Self::O1Server, Self::O2Server, Self::E2Node, Self::TlsServer, Self::TlsClient, Self::KmeSae];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Self::O1Server => "o1-server",
            Self::O2Server => "o2-server",
            Self::E2Node => "e2-node",
            Self::TlsServer => "tls-server",
            Self::TlsClient => "tls-client",
            Self::KmeSae => "kme-sae",
        }
    }

    /// One-line description.
    pub fn description(self) -> &'static str {
        match self {
            Self::O1Server => "O1 NETCONF/TLS endpoint (serverAuth)",
            Self::O2Server => "O2 O-Cloud API endpoint (serverAuth)",
            Self::E2Node => "E2 node / E2 termination peer (serverAuth+clientAuth)",
            Self::TlsServer => "generic TLS server (serverAuth)",
            Self::TlsClient => "generic TLS client (clientAuth)",
            Self::KmeSae => "QKD 014 SAE client of a KME (clientAuth)",
        }
    }

    /// Extended key usage.
    pub fn usage(self) -> Usage {
        match self {
            Self::O1Server | Self::O2Server | Self::TlsServer => Usage::Server,
            Self::E2Node => Usage::ServerAndClient,
            Self::TlsClient | Self::KmeSae => Usage::Client,
        }
    }

    /// Whether at least one DNS or IP subjectAltName is required (TLS matches SANs only).
    pub fn needs_san(self) -> bool {
        matches!(self.usage(), Usage::Server | Usage::ServerAndClient)
    }

    /// Validity when none is asked for, days.
    pub fn default_days(self) -> u32 {
        match self {
            Self::E2Node | Self::KmeSae => 90,
            _ => 365,
        }
    }

    /// Largest validity that may be asked for, days.
    pub fn max_days(self) -> u32 {
        match self {
            Self::E2Node | Self::KmeSae => 397,
            _ => 825,
        }
    }

    /// Whether the profile accepts only ML-DSA subject keys regardless of `--pqc-only`.
    /// E2 peers and KME SAEs are new, quantum-safe-by-design links.
    pub fn ml_dsa_only(self) -> bool {
        matches!(self, Self::KmeSae)
    }

    /// Whether `alg` may be certified under this profile (`pqc_only` narrows to ML-DSA).
    pub fn allows(self, alg: KeyAlgorithm, pqc_only: bool) -> bool {
        if pqc_only || self.ml_dsa_only() {
            return alg.is_post_quantum();
        }
        match alg {
            KeyAlgorithm::Rsa(bits) => bits >= MIN_RSA_BITS,
            _ => true,
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|p| p.name()).collect();
            format!("unknown profile {s:?} (expected one of: {})", names.join(", "))
        })
    }
}

/// Subject alternative names to put in a certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sans {
    /// dNSName entries.
    pub dns: Vec<String>,
    /// iPAddress entries.
    pub ips: Vec<IpAddr>,
    /// uniformResourceIdentifier entries.
    pub uris: Vec<String>,
}

impl Sans {
    /// No SAN at all.
    pub fn is_empty(&self) -> bool {
        self.dns.is_empty() && self.ips.is_empty() && self.uris.is_empty()
    }
}

/// Checks a DNS name for a certificate: LDH labels (RFC 1123), optional leading `*.` wildcard
/// label, 1..=253 characters.
pub fn validate_dns_name(name: &str) -> Result<(), String> {
    let body = name.strip_prefix("*.").unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return Err("must be 1..=253 characters".into());
    }
    for label in body.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!("label {label:?} is not 1..=63 letters, digits or inner hyphens"));
        }
    }
    Ok(())
}
