//! What a scan found: the data model every output (table, JSON, CycloneDX CBOM, diff) is
//! written from.
//!
//! The JSON form of [`ScanReport`] (serde, `snake_case`) is the scanner's machine interface and
//! the input of `qsafe-rapp scan diff`; keep it backwards compatible (add fields with
//! `#[serde(default)]`). Algorithm and group names are the IANA TLS registry names; code points
//! are kept next to them so nothing depends on our spelling.

use serde::{Deserialize, Serialize};

/// Version of the JSON report format (bumped on incompatible changes).
pub const REPORT_FORMAT: u32 = 1;

/// One scan: what was asked, when, and one report per endpoint, in the order given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanReport {
    /// [`REPORT_FORMAT`] of the writer.
    pub format: u32,
    /// Scanner name and version (`qsafe-rapp` + crate version).
    pub tool: ToolInfo,
    /// RFC 3339 UTC time the scan started.
    pub started_at: String,
    /// RFC 3339 UTC time the last probe ended.
    pub finished_at: String,
    /// Per-endpoint results, in target order.
    pub endpoints: Vec<EndpointReport>,
}

/// The scanner that wrote a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// e.g. `qsafe-rapp`.
    pub name: String,
    /// e.g. `0.1.0`.
    pub version: String,
}

/// A TLS endpoint to probe.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Target {
    /// Host name or IP literal as given (the TCP destination).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// SNI sent (defaults to `host` when it is a DNS name; none for IP literals).
    #[serde(default)]
    pub server_name: Option<String>,
}

impl Target {
    /// `host:port` (IPv6 literals in brackets): the key endpoints are matched by in a diff.
    pub fn key(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Everything learned about one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointReport {
    /// What was probed.
    pub target: Target,
    /// The address connected to (`ip:port`), when the name resolved.
    #[serde(default)]
    pub address: Option<String>,
    /// Whether a TLS server answered at all.
    pub reachability: Reachability,
    /// Protocol versions the server accepted, newest first (separate probes per version).
    #[serde(default)]
    pub tls_versions: Vec<TlsVersion>,
    /// Key-exchange probes: one per offered group set (see [`GroupProbe`]).
    #[serde(default)]
    pub group_probes: Vec<GroupProbe>,
    /// HelloRetryRequest check: classical key share offered, PQ groups listed as supported.
    #[serde(default)]
    pub hello_retry: Option<HelloRetryProbe>,
    /// The handshake of the server's preferred configuration (default client offer).
    #[serde(default)]
    pub negotiated: Option<Negotiated>,
    /// The certificate chain the server sent, leaf first.
    #[serde(default)]
    pub chain: Vec<CertificateInfo>,
    /// Whether the server asks for / requires a client certificate.
    #[serde(default)]
    pub client_auth: ClientAuthDemand,
    /// The verdict.
    pub classification: Classification,
    /// Human-readable reasons behind the verdict and anything odd (expired leaf, …).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Wall time of all probes of this endpoint, milliseconds.
    pub duration_ms: u64,
}

/// Did a TLS server answer?
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Reachability {
    /// At least one TLS handshake (or ServerHello) came back.
    Tls,
    /// TCP connect failed or timed out.
    Unreachable {
        /// The error, e.g. `connection refused`, `timed out after 3 s`.
        error: String,
    },
    /// TCP worked but the peer did not speak TLS (or closed at once).
    NotTls {
        /// What came back instead.
        error: String,
    },
}

/// A TLS protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TlsVersion {
    /// TLS 1.0 (0x0301).
    #[serde(rename = "TLSv1.0")]
    Tls10,
    /// TLS 1.1 (0x0302).
    #[serde(rename = "TLSv1.1")]
    Tls11,
    /// TLS 1.2 (0x0303).
    #[serde(rename = "TLSv1.2")]
    Tls12,
    /// TLS 1.3 (0x0304).
    #[serde(rename = "TLSv1.3")]
    Tls13,
}

impl TlsVersion {
    /// IANA name, e.g. `TLSv1.3`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tls10 => "TLSv1.0",
            Self::Tls11 => "TLSv1.1",
            Self::Tls12 => "TLSv1.2",
            Self::Tls13 => "TLSv1.3",
        }
    }

    /// Wire code point.
    pub fn code(self) -> u16 {
        match self {
            Self::Tls10 => 0x0301,
            Self::Tls11 => 0x0302,
            Self::Tls12 => 0x0303,
            Self::Tls13 => 0x0304,
        }
    }
}

/// A TLS named group (IANA "TLS Supported Groups"), by name and code point.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NamedGroup {
    /// IANA name: `X25519MLKEM768`, `MLKEM768`, `MLKEM1024`, `SecP256r1MLKEM768`, `x25519`,
    /// `secp256r1`, `secp384r1`, … (`unknown_0xNNNN` otherwise).
    pub name: String,
    /// Code point, e.g. 0x11EC.
    pub code: u16,
}

impl NamedGroup {
    /// The group with this code point, named from the IANA registry where known.
    pub fn from_code(code: u16) -> Self {
        let name = match code {
            0x0017 => "secp256r1",
            0x0018 => "secp384r1",
            0x0019 => "secp521r1",
            0x001D => "x25519",
            0x001E => "x448",
            0x0100 => "ffdhe2048",
            0x0101 => "ffdhe3072",
            0x0200 => "MLKEM512",
            0x0201 => "MLKEM768",
            0x0202 => "MLKEM1024",
            0x11EB => "SecP256r1MLKEM768",
            0x11EC => "X25519MLKEM768",
            0x11ED => "SecP384r1MLKEM1024",
            _ => return Self { name: format!("unknown_0x{code:04X}"), code },
        };
        Self { name: name.to_owned(), code }
    }

    /// Whether the group's key agreement includes ML-KEM (pure or hybrid).
    pub fn is_post_quantum(&self) -> bool {
        matches!(self.code, 0x0200..=0x0202 | 0x11EB..=0x11ED)
    }

    /// Whether the group is a hybrid (ML-KEM + ECDH).
    pub fn is_hybrid(&self) -> bool {
        matches!(self.code, 0x11EB..=0x11ED)
    }
}

/// Which group set a key-exchange probe offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupOffer {
    /// X25519MLKEM768 only (key share and supported_groups).
    X25519Mlkem768Only,
    /// MLKEM768 (pure) only.
    Mlkem768Only,
    /// Classical ECDHE groups only (x25519, secp256r1, secp384r1).
    ClassicalOnly,
}

/// One key-exchange probe: a TLS 1.3 handshake offering only [`GroupOffer`]'s groups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupProbe {
    /// What was offered.
    pub offered: GroupOffer,
    /// Whether the handshake completed with one of the offered groups.
    pub accepted: bool,
    /// The group the server chose, when accepted.
    #[serde(default)]
    pub negotiated_group: Option<NamedGroup>,
    /// Why it was refused (alert, e.g. `handshake_failure`), when not accepted.
    #[serde(default)]
    pub error: Option<String>,
}

/// The HelloRetryRequest check: the ClientHello carries a key share for x25519 only but lists
/// X25519MLKEM768 (first) and x25519 in supported_groups. A server that prefers post-quantum
/// key exchange answers with a HelloRetryRequest selecting the PQ group; one that does not
/// completes on x25519.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloRetryProbe {
    /// The server sent a HelloRetryRequest.
    pub retry_requested: bool,
    /// The group it asked for (HRR) or chose (ServerHello).
    #[serde(default)]
    pub selected_group: Option<NamedGroup>,
    /// The server prefers PQ key exchange over a classical share it already has.
    pub prefers_post_quantum: bool,
    /// Error, when the probe got no ServerHello.
    #[serde(default)]
    pub error: Option<String>,
}

/// The server's preferred handshake, as a default client (all our groups, all schemes) saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Negotiated {
    /// Protocol version.
    pub version: TlsVersion,
    /// IANA cipher suite name, e.g. `TLS_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    /// Key-exchange group.
    pub group: Option<NamedGroup>,
    /// Signature scheme of CertificateVerify / ServerKeyExchange.
    pub signature_scheme: Option<SignatureScheme>,
}

/// A TLS SignatureScheme (IANA), by name and code point.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SignatureScheme {
    /// IANA name: `mldsa65`, `ecdsa_secp256r1_sha256`, `rsa_pss_rsae_sha256`, `ed25519`, …
    pub name: String,
    /// Code point, e.g. 0x0905.
    pub code: u16,
}

impl SignatureScheme {
    /// Whether this is ML-DSA (0x0904..=0x0906).
    pub fn is_ml_dsa(&self) -> bool {
        matches!(self.code, 0x0904..=0x0906)
    }
}

/// One certificate of the server's chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInfo {
    /// Subject DN (RFC 4514 string).
    pub subject: String,
    /// Issuer DN (RFC 4514 string).
    pub issuer: String,
    /// Serial number, lowercase hex.
    pub serial: String,
    /// RFC 3339 UTC.
    pub not_before: String,
    /// RFC 3339 UTC.
    pub not_after: String,
    /// Subject public key algorithm.
    pub public_key: KeyAlgorithm,
    /// Algorithm the issuer signed this certificate with.
    pub signature_algorithm: CertSignatureAlgorithm,
    /// basicConstraints cA.
    pub is_ca: bool,
    /// DNS and IP subjectAltNames.
    #[serde(default)]
    pub subject_alt_names: Vec<String>,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
}

/// A subject public key algorithm.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyAlgorithm {
    /// ML-DSA-44/65/87 (`parameter_set` 44, 65 or 87).
    MlDsa {
        /// 44, 65 or 87.
        parameter_set: u16,
    },
    /// ECDSA / ECDH key on a named curve.
    Ec {
        /// e.g. `secp256r1`.
        curve: String,
    },
    /// RSA.
    Rsa {
        /// Modulus size, bits.
        bits: u32,
    },
    /// Ed25519.
    Ed25519,
    /// Ed448.
    Ed448,
    /// Anything else, by OID.
    Other {
        /// Dotted OID.
        oid: String,
    },
}

impl KeyAlgorithm {
    /// Whether the key is a post-quantum signature key.
    pub fn is_post_quantum(&self) -> bool {
        matches!(self, Self::MlDsa { .. })
    }
}

/// The algorithm a certificate was signed with.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CertSignatureAlgorithm {
    /// Readable name, e.g. `ML-DSA-65`, `ecdsa-with-SHA256`, `sha256WithRSAEncryption`.
    pub name: String,
    /// Dotted OID.
    pub oid: String,
}

impl CertSignatureAlgorithm {
    /// ML-DSA OIDs 2.16.840.1.101.3.4.3.17–.19 (RFC 9881).
    pub fn is_ml_dsa(&self) -> bool {
        matches!(self.oid.as_str(), "2.16.840.1.101.3.4.3.17" | "2.16.840.1.101.3.4.3.18" | "2.16.840.1.101.3.4.3.19")
    }
}

/// Whether the server asks the client for a certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthDemand {
    /// Not probed / unknown (no handshake).
    #[default]
    Unknown,
    /// No CertificateRequest.
    None,
    /// CertificateRequest sent, but the handshake completes without a certificate.
    Optional,
    /// CertificateRequest sent and an empty Certificate is refused.
    Required,
}

/// The verdict on an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// No PQ key exchange accepted: traffic recorded today can be decrypted later.
    QuantumVulnerable,
    /// PQ (hybrid or pure ML-KEM) key exchange accepted, but authentication is classical.
    HybridKeyExchangeOnly,
    /// PQ key exchange and ML-DSA authentication (CertificateVerify and every chain signature
    /// up to the last certificate sent).
    FullPqc,
    /// No TLS handshake: nothing to judge.
    Unreachable,
}

impl Classification {
    /// Short label for tables, e.g. `quantum-vulnerable`.
    pub fn label(self) -> &'static str {
        match self {
            Self::QuantumVulnerable => "quantum-vulnerable",
            Self::HybridKeyExchangeOnly => "hybrid-kex-only",
            Self::FullPqc => "full-pqc",
            Self::Unreachable => "unreachable",
        }
    }
}
