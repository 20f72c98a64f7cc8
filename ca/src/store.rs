//! The CA directory: metadata, certificates, encrypted keys, issued-certificate index, CRLs.
//!
//! Layout (directory 0700, every file 0600, written atomically: temp file in the same directory,
//! fsync, rename):
//!
//! ```text
//! ca.json                      metadata: generations, issued index, revocations, CRL number
//! gen-1/root.pem               root certificate (ML-DSA-87 or -65)
//! gen-1/root.key.pem           root key, ENCRYPTED PRIVATE KEY (PBES2)
//! gen-1/intermediate.pem       issuing CA certificate (ML-DSA-65, pathLen 0)
//! gen-1/intermediate.key.pem   issuing CA key, ENCRYPTED PRIVATE KEY
//! gen-2/cross.pem              after a rollover: gen-2 root certified by the gen-1 root
//! issued/<serial>.pem          every issued certificate
//! crl/gen-<g>-<number>.pem     every CRL published; crl/current.pem the latest
//! ```
//!
//! `ca.json` is written last in every operation: it is the commit point. A failed operation
//! (bad CSR, wrong passphrase, unknown serial) returns before touching it, so the CA state is
//! unchanged; an interrupted one may at worst leave an unreferenced certificate file behind.
//! `init` builds the whole directory under a temporary name and renames it into place, and
//! refuses to overwrite an existing CA.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use qsafe_pqc::pki::{
    self, CertificateAuthority, CrlRequest, LeafProfile, LeafUsage, RevokedEntry, SignatureAlgorithm,
};
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use crate::csr::{self, CsrError};
use crate::profile::{KeyAlgorithm, Profile, Sans, Usage, validate_dns_name};
use crate::secret::{self, Passphrase, SecretError};
use qsafe_pqc::pem;

/// Metadata file name.
pub const METADATA_FILE: &str = "ca.json";
const METADATA_VERSION: u32 = 1;
const DAY: u64 = 86_400;
const ENCRYPTED_KEY_LABEL: &str = "ENCRYPTED PRIVATE KEY";

/// Everything that can go wrong in a CA operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    /// A file or directory operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The CA directory already holds a CA.
    #[error("{0} already holds a CA (ca.json exists or the directory is not empty); refusing to overwrite it")]
    AlreadyExists(String),
    /// The directory holds no CA.
    #[error("{0} holds no CA (no ca.json); create one with `qsafe-rapp ca init`")]
    NotFound(String),
    /// ca.json is unreadable.
    #[error("corrupt CA metadata {path}: {reason}")]
    Metadata {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Passphrase or key encryption problem.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The CSR was refused.
    #[error("CSR refused: {0}")]
    Csr(#[from] CsrError),
    /// Certificate building/signing failed or a stored certificate is invalid.
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    /// A request is invalid (names, validity, serials, algorithms).
    #[error("{0}")]
    Invalid(String),
    /// The serial is not one this CA issued.
    #[error("serial {0} was not issued by this CA")]
    UnknownSerial(String),
    /// The certificate is already revoked.
    #[error("serial {serial} is already revoked ({reason}, {at})")]
    AlreadyRevoked {
        /// The serial.
        serial: String,
        /// The earlier reason.
        reason: String,
        /// The earlier time.
        at: String,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CaError {
    let path = path.display().to_string();
    move |source| CaError::Io { action, path, source }
}

/// Root key algorithm (the issuing intermediate is always ML-DSA-65).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RootAlgorithm {
    /// ML-DSA-87 (NIST category 5): the default for a long-lived root.
    #[default]
    #[serde(rename = "ml-dsa-87")]
    MlDsa87,
    /// ML-DSA-65 (category 3).
    #[serde(rename = "ml-dsa-65")]
    MlDsa65,
}

impl RootAlgorithm {
    fn signature_algorithm(self) -> SignatureAlgorithm {
        match self {
            Self::MlDsa87 => SignatureAlgorithm::MlDsa87,
            Self::MlDsa65 => SignatureAlgorithm::MlDsa65,
        }
    }

    /// CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Self::MlDsa87 => "ml-dsa-87",
            Self::MlDsa65 => "ml-dsa-65",
        }
    }
}

impl std::str::FromStr for RootAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ml-dsa-87" | "mldsa87" => Ok(Self::MlDsa87),
            "ml-dsa-65" | "mldsa65" => Ok(Self::MlDsa65),
            _ => Err(format!("unknown root algorithm {s:?} (expected ml-dsa-87 or ml-dsa-65)")),
        }
    }
}

/// Options of [`CaStore::init`] and [`CaStore::rollover`].
#[derive(Clone, Debug)]
pub struct HierarchyOptions {
    /// Name prefix of the CA subjects (`<name> Root CA G1`, `<name> Issuing CA G1`).
    pub name: String,
    /// Root algorithm.
    pub root_algorithm: RootAlgorithm,
    /// Root validity, days.
    pub root_days: u32,
    /// Intermediate validity, days (clamped to the root's).
    pub intermediate_days: u32,
    /// PBKDF2 iterations for the CA keys (tests may lower it; the CLI uses the default).
    pub kdf_iterations: u32,
}

impl Default for HierarchyOptions {
    fn default() -> Self {
        Self {
            name: "qsafe-ran".into(),
            root_algorithm: RootAlgorithm::MlDsa87,
            root_days: 3650,
            intermediate_days: 1825,
            kdf_iterations: secret::PBKDF2_ITERATIONS,
        }
    }
}

/// One CA generation: a root, its issuing intermediate, and (from the second generation on) the
/// cross-certificate of the root by the previous generation's root.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Generation {
    /// 1, 2, ...
    pub number: u32,
    /// When it was created (RFC 3339).
    pub created: String,
    /// Root algorithm.
    pub root_algorithm: RootAlgorithm,
    /// Root subject.
    pub root_subject: String,
    /// Root notAfter (RFC 3339).
    pub root_not_after: String,
    /// Intermediate subject.
    pub intermediate_subject: String,
    /// Intermediate notAfter (RFC 3339).
    pub intermediate_not_after: String,
    /// Whether a cross certificate from the previous root exists (`gen-<n>/cross.pem`).
    pub cross_signed_by: Option<u32>,
}

/// Status of an issued certificate.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Status {
    /// Not revoked.
    Valid,
    /// Revoked.
    Revoked {
        /// When (RFC 3339).
        at: String,
        /// RFC 5280 reason name.
        reason: RevocationReason,
    },
}

/// An issued certificate in the index.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct IssuedRecord {
    /// Serial number, lowercase hex.
    pub serial: String,
    /// Subject (RFC 4514).
    pub subject: String,
    /// Profile.
    pub profile: Profile,
    /// Subject key algorithm.
    pub key_algorithm: String,
    /// Issuing generation.
    pub generation: u32,
    /// notAfter (RFC 3339).
    pub not_after: String,
    /// subjectAltNames.
    pub sans: Sans,
    /// "csr" or "server-generated".
    pub origin: String,
    /// Validity status.
    #[serde(flatten)]
    pub status: Status,
}

/// A published CRL.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CrlRecord {
    /// cRLNumber.
    pub number: u64,
    /// Issuing generation.
    pub generation: u32,
    /// thisUpdate (RFC 3339).
    pub this_update: String,
    /// nextUpdate (RFC 3339).
    pub next_update: String,
    /// Number of entries.
    pub entries: usize,
}

/// ca.json.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Metadata {
    /// Format version.
    pub version: u32,
    /// Key-derivation description (informational).
    pub key_encryption: String,
    /// The generation new certificates are issued under.
    pub current_generation: u32,
    /// All generations, oldest first.
    pub generations: Vec<Generation>,
    /// Issued certificates.
    pub issued: Vec<IssuedRecord>,
    /// Last CRL number used (0 = none yet).
    pub crl_number: u64,
    /// Published CRLs.
    pub crls: Vec<CrlRecord>,
}

/// RFC 5280 §5.3.1 CRLReason.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub enum RevocationReason {
    /// unspecified (0).
    #[default]
    Unspecified,
    /// keyCompromise (1).
    KeyCompromise,
    /// cACompromise (2).
    CaCompromise,
    /// affiliationChanged (3).
    AffiliationChanged,
    /// superseded (4).
    Superseded,
    /// cessationOfOperation (5).
    CessationOfOperation,
    /// privilegeWithdrawn (9).
    PrivilegeWithdrawn,
}

impl RevocationReason {
    /// Every reason, in code order.
    pub const ALL: [Self; 7] = [
        Self::Unspecified,
        Self::KeyCompromise,
        Self::CaCompromise,
        Self::AffiliationChanged,
        Self::Superseded,
        Self::CessationOfOperation,
        Self::PrivilegeWithdrawn,
    ];

    /// RFC 5280 code.
    pub fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::CaCompromise => 2,
            Self::AffiliationChanged => 3,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
            Self::PrivilegeWithdrawn => 9,
        }
    }

    /// RFC 5280 name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "keyCompromise",
            Self::CaCompromise => "cACompromise",
            Self::AffiliationChanged => "affiliationChanged",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessationOfOperation",
            Self::PrivilegeWithdrawn => "privilegeWithdrawn",
        }
    }
}

impl std::fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for RevocationReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|r| r.name().eq_ignore_ascii_case(s)).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|r| r.name()).collect();
            format!("unknown revocation reason {s:?} (expected one of: {})", names.join(", "))
        })
    }
}

/// What to issue: profile, names, validity.
#[derive(Clone, Debug)]
pub struct IssueRequest {
    /// The profile.
    pub profile: Profile,
    /// Subject commonName (default: the CSR's, else the first DNS SAN).
    pub common_name: Option<String>,
    /// SANs; when non-empty they replace the CSR's.
    pub sans: Sans,
    /// Validity, days (default: the profile's).
    pub days: Option<u32>,
    /// Accept ML-DSA subject keys only.
    pub pqc_only: bool,
}

impl IssueRequest {
    /// A request with the profile's defaults.
    pub fn new(profile: Profile) -> Self {
        Self { profile, common_name: None, sans: Sans::default(), days: None, pqc_only: false }
    }
}

/// An issued certificate.
#[derive(Clone, Debug)]
pub struct Issued {
    /// Index record.
    pub record: IssuedRecord,
    /// The leaf certificate.
    pub certificate: CertificateDer<'static>,
    /// Leaf followed by the issuing intermediate, PEM.
    pub chain_pem: String,
    /// Where the CA keeps its copy.
    pub path: PathBuf,
}

/// A published CRL.
#[derive(Clone, Debug)]
pub struct PublishedCrl {
    /// Its record.
    pub record: CrlRecord,
    /// DER.
    pub der: Vec<u8>,
    /// PEM (`X509 CRL`).
    pub pem: String,
    /// Where it was written in the CA directory.
    pub path: PathBuf,
}

/// An open CA directory. Opening needs no passphrase (metadata and certificates are public);
/// operations that sign take the [`Passphrase`].
#[derive(Debug)]
pub struct CaStore {
    dir: PathBuf,
    meta: Metadata,
}

fn now_rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Writes `data` to `path` atomically with mode `mode` (set at creation).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), CaError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut rnd = [0u8; 6];
    aws_lc_rs::rand::fill(&mut rnd).map_err(|_| SecretError::Crypto("drawing a temp-file name"))?;
    let tmp = dir.join(format!(".{name}.tmp-{}", hex(&rnd)));
    let result = (|| {
        let mut f =
            OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp).map_err(io("creating", &tmp))?;
        f.write_all(data).map_err(io("writing", &tmp))?;
        f.sync_all().map_err(io("syncing", &tmp))?;
        fs::rename(&tmp, path).map_err(io("renaming into", path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn mkdir(path: &Path) -> Result<(), CaError> {
    fs::DirBuilder::new().mode(0o700).create(path).map_err(io("creating directory", path))
}

fn read_text(path: &Path) -> Result<String, CaError> {
    fs::read_to_string(path).map_err(io("reading", path))
}

/// Writes a private key PEM (`ENCRYPTED PRIVATE KEY` when `passphrase` is given, else plain
/// PKCS#8) to `path` with mode 0600, atomically, refusing to overwrite.
pub fn write_private_key(
    path: &Path,
    pkcs8: &[u8],
    passphrase: Option<&Passphrase>,
    iterations: u32,
) -> Result<(), CaError> {
    if path.exists() {
        return Err(CaError::Invalid(format!("{} exists; refusing to overwrite a key", path.display())));
    }
    let pem = match passphrase {
        Some(p) => pem::encode_secret(ENCRYPTED_KEY_LABEL, &secret::encrypt_pkcs8(pkcs8, p, iterations)?),
        None => pem::encode_secret("PRIVATE KEY", pkcs8),
    };
    write_atomic(path, pem.as_bytes(), 0o600)
}

struct Hierarchy {
    root: CertificateAuthority,
    intermediate: CertificateAuthority,
}

fn build_hierarchy(opts: &HierarchyOptions, number: u32) -> Result<Hierarchy, CaError> {
    if opts.root_days == 0 || opts.intermediate_days == 0 || opts.root_days > 36_500 {
        return Err(CaError::Invalid("validity must be 1..=36500 days".into()));
    }
    let root = CertificateAuthority::new_root(
        &format!("{} Root CA G{number}", opts.name),
        opts.root_algorithm.signature_algorithm(),
        Duration::from_secs(u64::from(opts.root_days) * DAY),
    )?;
    let intermediate = root.new_intermediate(
        &format!("{} Issuing CA G{number}", opts.name),
        SignatureAlgorithm::MlDsa65,
        Duration::from_secs(u64::from(opts.intermediate_days) * DAY),
    )?;
    Ok(Hierarchy { root, intermediate })
}

fn write_generation(
    gen_dir: &Path,
    h: &Hierarchy,
    cross: Option<&CertificateDer<'_>>,
    passphrase: &Passphrase,
    iterations: u32,
) -> Result<(), CaError> {
    mkdir(gen_dir)?;
    write_atomic(&gen_dir.join("root.pem"), h.root.certificate_pem().as_bytes(), 0o600)?;
    write_atomic(&gen_dir.join("intermediate.pem"), h.intermediate.certificate_pem().as_bytes(), 0o600)?;
    for (name, ca) in [("root.key.pem", &h.root), ("intermediate.key.pem", &h.intermediate)] {
        let key = ca.certified_key().private_key();
        write_private_key(&gen_dir.join(name), key.secret_der(), Some(passphrase), iterations)?;
    }
    if let Some(cross) = cross {
        write_atomic(&gen_dir.join("cross.pem"), cert_pem(cross).as_bytes(), 0o600)?;
    }
    Ok(())
}

fn generation_record(h: &Hierarchy, number: u32, alg: RootAlgorithm, cross_signed_by: Option<u32>) -> Generation {
    Generation {
        number,
        created: now_rfc3339(OffsetDateTime::now_utc()),
        root_algorithm: alg,
        root_subject: h.root.subject().to_owned(),
        root_not_after: now_rfc3339(h.root.not_after()),
        intermediate_subject: h.intermediate.subject().to_owned(),
        intermediate_not_after: now_rfc3339(h.intermediate.not_after()),
        cross_signed_by,
    }
}

/// PEM of one certificate.
pub fn cert_pem(der: &[u8]) -> String {
    pem::encode("CERTIFICATE", der)
}

impl CaStore {
    /// Creates a new CA (root + issuing intermediate, generation 1) in `dir`.
    ///
    /// `dir` must not exist or be empty. The directory is assembled under a temporary sibling
    /// name and renamed into place, so a failure leaves nothing behind.
    pub fn init(dir: &Path, passphrase: &Passphrase, opts: &HierarchyOptions) -> Result<Self, CaError> {
        if dir.join(METADATA_FILE).exists() || fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false) {
            return Err(CaError::AlreadyExists(dir.display().to_string()));
        }
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let h = build_hierarchy(opts, 1)?;
        let mut rnd = [0u8; 6];
        aws_lc_rs::rand::fill(&mut rnd).map_err(|_| SecretError::Crypto("drawing a temp-dir name"))?;
        let tmp = parent.join(format!(".qsafe-ca-init-{}", hex(&rnd)));
        let meta = Metadata {
            version: METADATA_VERSION,
            key_encryption: format!("PKCS#8 PBES2: PBKDF2-HMAC-SHA256 x{} + AES-256-CBC", opts.kdf_iterations),
            current_generation: 1,
            generations: vec![generation_record(&h, 1, opts.root_algorithm, None)],
            issued: Vec::new(),
            crl_number: 0,
            crls: Vec::new(),
        };
        let result = (|| {
            mkdir(&tmp)?;
            write_generation(&tmp.join("gen-1"), &h, None, passphrase, opts.kdf_iterations)?;
            mkdir(&tmp.join("issued"))?;
            mkdir(&tmp.join("crl"))?;
            write_metadata(&tmp, &meta)?;
            // rename(2) replaces an empty directory, and fails if `dir` gained entries meanwhile.
            fs::rename(&tmp, dir).map_err(io("renaming the new CA into", dir))
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result?;
        Ok(Self { dir: dir.to_path_buf(), meta })
    }

    /// Opens an existing CA directory (no passphrase needed).
    pub fn open(dir: &Path) -> Result<Self, CaError> {
        let path = dir.join(METADATA_FILE);
        if !path.exists() {
            return Err(CaError::NotFound(dir.display().to_string()));
        }
        let text = read_text(&path)?;
        let meta: Metadata = serde_json::from_str(&text)
            .map_err(|e| CaError::Metadata { path: path.display().to_string(), reason: e.to_string() })?;
        if meta.version != METADATA_VERSION || !meta.generations.iter().any(|g| g.number == meta.current_generation) {
            return Err(CaError::Metadata {
                path: path.display().to_string(),
                reason: "unknown version or missing current generation".into(),
            });
        }
        Ok(Self { dir: dir.to_path_buf(), meta })
    }

    /// The CA directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The metadata (generations, issued index, CRLs).
    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }

    fn gen_dir(&self, number: u32) -> PathBuf {
        self.dir.join(format!("gen-{number}"))
    }

    /// A certificate of generation `number`: "root", "intermediate" or "cross".
    pub fn certificate(&self, number: u32, which: &str) -> Result<CertificateDer<'static>, CaError> {
        let text = read_text(&self.gen_dir(number).join(format!("{which}.pem")))?;
        let mut certs = pki::parse_pem_certificates(&text)?;
        Ok(certs.remove(0))
    }

    fn load_ca(&self, number: u32, which: &str, passphrase: &Passphrase) -> Result<CertificateAuthority, CaError> {
        let dir = self.gen_dir(number);
        let cert_pem = read_text(&dir.join(format!("{which}.pem")))?;
        let key_path = dir.join(format!("{which}.key.pem"));
        let key_text = Zeroizing::new(read_text(&key_path)?);
        let what = key_path.display().to_string();
        let der = pem::decode(ENCRYPTED_KEY_LABEL, &key_text).ok_or_else(|| SecretError::Unsupported {
            what: what.clone(),
            reason: "no ENCRYPTED PRIVATE KEY PEM block".into(),
        })?;
        let pkcs8 = secret::decrypt_pkcs8(&der, passphrase, &what)?;
        let key_pem = pem::encode_secret("PRIVATE KEY", &pkcs8);
        // A wrong passphrase that happens to pass the padding check yields a non-key.
        CertificateAuthority::from_pem(&cert_pem, &key_pem).map_err(|_| SecretError::WrongPassphrase { what }.into())
    }

    /// Checks the passphrase against the current issuing key without changing anything.
    pub fn check_passphrase(&self, passphrase: &Passphrase) -> Result<(), CaError> {
        self.load_ca(self.meta.current_generation, "intermediate", passphrase).map(|_| ())
    }

    fn leaf_profile(&self, req: &IssueRequest, csr: Option<&csr::VerifiedCsr>) -> Result<(LeafProfile, Sans), CaError> {
        let sans = if req.sans.is_empty() { csr.map(|c| c.sans.clone()).unwrap_or_default() } else { req.sans.clone() };
        for d in &sans.dns {
            validate_dns_name(d).map_err(|r| CaError::Invalid(format!("DNS name {d:?} refused: {r}")))?;
        }
        if req.profile.needs_san() && sans.dns.is_empty() && sans.ips.is_empty() {
            return Err(CaError::Invalid(format!(
                "profile {} needs at least one DNS or IP subjectAltName (--dns/--ip, or in the CSR)",
                req.profile
            )));
        }
        let days = req.days.unwrap_or(req.profile.default_days());
        if days == 0 || days > req.profile.max_days() {
            return Err(CaError::Invalid(format!(
                "validity of {days} days refused: profile {} allows 1..={} days",
                req.profile,
                req.profile.max_days()
            )));
        }
        let cn = req
            .common_name
            .clone()
            .or_else(|| csr.and_then(|c| c.common_name.clone()))
            .or_else(|| sans.dns.first().cloned())
            .ok_or_else(|| CaError::Invalid("no subject name: pass --cn (or a CSR with a CN or DNS SAN)".into()))?;
        let usage = match req.profile.usage() {
            Usage::Server => LeafUsage::Server,
            Usage::Client => LeafUsage::Client,
            Usage::ServerAndClient => LeafUsage::ServerAndClient,
        };
        let mut profile = LeafProfile::new(cn, usage).with_validity(Duration::from_secs(u64::from(days) * DAY));
        profile.dns_names.clone_from(&sans.dns);
        profile.ip_addresses.clone_from(&sans.ips);
        profile.uris.clone_from(&sans.uris);
        Ok((profile, sans))
    }

    /// Signs a PKCS#10 CSR (PEM or DER) under `req`. Nothing changes on any error.
    pub fn sign_csr(
        &mut self,
        csr_bytes: &[u8],
        req: &IssueRequest,
        passphrase: &Passphrase,
    ) -> Result<Issued, CaError> {
        let csr = csr::parse_and_verify(csr_bytes)?;
        csr::check_profile(&csr, req.profile, req.pqc_only)?;
        let (profile, sans) = self.leaf_profile(req, Some(&csr))?;
        let ca = self.load_ca(self.meta.current_generation, "intermediate", passphrase)?;
        let mut cert = ca.issue_for_public_key(&profile, &csr.spki_der)?;
        // 127-bit random serials collide with negligible probability; never reuse one anyway.
        for _ in 0..3 {
            if !self.meta.issued.iter().any(|r| r.serial == serial_hex(&cert).unwrap_or_default()) {
                break;
            }
            cert = ca.issue_for_public_key(&profile, &csr.spki_der)?;
        }
        self.record_issued(&ca, cert, req.profile, csr.key_algorithm.to_string(), sans, "csr")
    }

    /// Server-side key generation for devices that cannot make a CSR: a new ML-DSA-65 key and its
    /// certificate. Returns the issued record and the key as PEM (`ENCRYPTED PRIVATE KEY` when
    /// `key_passphrase` is given, else plain PKCS#8): the caller writes it with mode 0600.
    pub fn issue_with_new_key(
        &mut self,
        req: &IssueRequest,
        passphrase: &Passphrase,
        key_passphrase: Option<&Passphrase>,
    ) -> Result<(Issued, Zeroizing<String>), CaError> {
        let (profile, sans) = self.leaf_profile(req, None)?;
        let ca = self.load_ca(self.meta.current_generation, "intermediate", passphrase)?;
        let leaf = ca.issue(&profile.with_algorithm(SignatureAlgorithm::MlDsa65))?;
        let key = leaf.private_key();
        let key_pem = match key_passphrase {
            Some(p) => pem::encode_secret(
                ENCRYPTED_KEY_LABEL,
                &secret::encrypt_pkcs8(key.secret_der(), p, secret::PBKDF2_ITERATIONS)?,
            ),
            None => pem::encode_secret("PRIVATE KEY", key.secret_der()),
        };
        let issued = self.record_issued(
            &ca,
            leaf.leaf().clone(),
            req.profile,
            KeyAlgorithm::MlDsa65.to_string(),
            sans,
            "server-generated",
        )?;
        Ok((issued, key_pem))
    }

    fn record_issued(
        &mut self,
        ca: &CertificateAuthority,
        cert: CertificateDer<'static>,
        profile: Profile,
        key_algorithm: String,
        sans: Sans,
        origin: &str,
    ) -> Result<Issued, CaError> {
        let (_, parsed) = x509_parser::parse_x509_certificate(&cert)
            .map_err(|e| CaError::Invalid(format!("issued certificate does not parse: {e}")))?;
        let serial = hex(parsed.raw_serial());
        if self.meta.issued.iter().any(|r| r.serial == serial) {
            return Err(CaError::Invalid(format!("serial {serial} collides with an issued certificate")));
        }
        let not_after = OffsetDateTime::from_unix_timestamp(parsed.validity().not_after.timestamp())
            .map(now_rfc3339)
            .unwrap_or_default();
        let record = IssuedRecord {
            serial: serial.clone(),
            subject: parsed.subject().to_string(),
            profile,
            key_algorithm,
            generation: self.meta.current_generation,
            not_after,
            sans,
            origin: origin.to_owned(),
            status: Status::Valid,
        };
        let leaf_pem = cert_pem(&cert);
        let chain_pem = format!("{leaf_pem}{}", ca.certificate_pem());
        let path = self.dir.join("issued").join(format!("{serial}.pem"));
        write_atomic(&path, leaf_pem.as_bytes(), 0o600)?;
        let mut meta = self.meta.clone();
        meta.issued.push(record.clone());
        write_metadata(&self.dir, &meta)?;
        self.meta = meta;
        Ok(Issued { record, certificate: cert, chain_pem, path })
    }

    /// Marks `serial` (hex, optional `0x`/colons) revoked. Unknown or already-revoked serials are
    /// errors that change nothing. Takes effect for relying parties with the next CRL.
    pub fn revoke(&mut self, serial: &str, reason: RevocationReason) -> Result<IssuedRecord, CaError> {
        let wanted = normalize_serial(serial)?;
        let mut meta = self.meta.clone();
        let record = meta
            .issued
            .iter_mut()
            .find(|r| r.serial == wanted)
            .ok_or_else(|| CaError::UnknownSerial(wanted.clone()))?;
        if let Status::Revoked { at, reason } = &record.status {
            return Err(CaError::AlreadyRevoked { serial: wanted, reason: reason.to_string(), at: at.clone() });
        }
        record.status = Status::Revoked { at: now_rfc3339(OffsetDateTime::now_utc()), reason };
        let out = record.clone();
        write_metadata(&self.dir, &meta)?;
        self.meta = meta;
        Ok(out)
    }

    /// Signs and publishes a CRL of the current generation's issuing CA, valid for
    /// `next_update`; the cRLNumber is one more than the last.
    pub fn publish_crl(&mut self, next_update: Duration, passphrase: &Passphrase) -> Result<PublishedCrl, CaError> {
        if next_update.is_zero() || next_update > Duration::from_secs(366 * DAY) {
            return Err(CaError::Invalid("next update must be within 1 second..366 days".into()));
        }
        let generation = self.meta.current_generation;
        let ca = self.load_ca(generation, "intermediate", passphrase)?;
        let mut revoked = Vec::new();
        for r in self.meta.issued.iter().filter(|r| r.generation == generation) {
            if let Status::Revoked { at, reason } = &r.status {
                revoked.push(RevokedEntry {
                    serial: unhex(&r.serial)?,
                    revoked_at: OffsetDateTime::parse(at, &Rfc3339)
                        .map_err(|e| CaError::Invalid(format!("bad revocation time {at:?}: {e}")))?,
                    reason_code: Some(reason.code()),
                });
            }
        }
        let now = OffsetDateTime::now_utc();
        let next = now + time::Duration::try_from(next_update).map_err(|e| CaError::Invalid(e.to_string()))?;
        let number = self.meta.crl_number + 1;
        let der = ca.sign_crl(&CrlRequest {
            this_update: now,
            next_update: next,
            crl_number: number,
            revoked: revoked.clone(),
        })?;
        let pem = pem::encode("X509 CRL", der.as_ref());
        let path = self.dir.join("crl").join(format!("gen-{generation}-{number}.pem"));
        write_atomic(&path, pem.as_bytes(), 0o600)?;
        write_atomic(&self.dir.join("crl").join("current.pem"), pem.as_bytes(), 0o600)?;
        let record = CrlRecord {
            number,
            generation,
            this_update: now_rfc3339(now),
            next_update: now_rfc3339(next),
            entries: revoked.len(),
        };
        let mut meta = self.meta.clone();
        meta.crl_number = number;
        meta.crls.push(record.clone());
        write_metadata(&self.dir, &meta)?;
        self.meta = meta;
        Ok(PublishedCrl { record, der: der.as_ref().to_vec(), pem, path })
    }

    /// Root rollover: a new generation (new root, cross-certified by the current root, and a new
    /// ML-DSA-65 issuing CA), which becomes current. The old generation stays: its certificates
    /// remain valid and revocable until they expire.
    pub fn rollover(&mut self, opts: &HierarchyOptions, passphrase: &Passphrase) -> Result<Generation, CaError> {
        let old = self.meta.current_generation;
        let old_root = self.load_ca(old, "root", passphrase)?;
        let number = old + 1;
        let h = build_hierarchy(opts, number)?;
        let cross = old_root.cross_sign(&h.root, Duration::from_secs(u64::from(opts.root_days) * DAY))?;
        let gen_dir = self.gen_dir(number);
        if gen_dir.exists() {
            return Err(CaError::Invalid(format!("{} exists; refusing to overwrite it", gen_dir.display())));
        }
        if let Err(e) = write_generation(&gen_dir, &h, Some(&cross), passphrase, opts.kdf_iterations) {
            let _ = fs::remove_dir_all(&gen_dir);
            return Err(e);
        }
        let record = generation_record(&h, number, opts.root_algorithm, Some(old));
        let mut meta = self.meta.clone();
        meta.generations.push(record.clone());
        meta.current_generation = number;
        write_metadata(&self.dir, &meta)?;
        self.meta = meta;
        Ok(record)
    }

    /// Every generation's root, newest first: the trust bundle relying parties install *before*
    /// certificates from a new generation are rolled out.
    pub fn trust_bundle_pem(&self) -> Result<String, CaError> {
        let mut out = String::new();
        for g in self.meta.generations.iter().rev() {
            out.push_str(&cert_pem(&self.certificate(g.number, "root")?));
        }
        Ok(out)
    }

    /// The chain a current-generation leaf sends after itself: the issuing intermediate, plus
    /// (with `cross`) the cross certificate so peers that trust only the previous root can
    /// validate it.
    pub fn chain_pem(&self, cross: bool) -> Result<String, CaError> {
        let g = self.meta.current_generation;
        let mut out = cert_pem(&self.certificate(g, "intermediate")?);
        if cross && g > 1 {
            out.push_str(&cert_pem(&self.certificate(g, "cross")?));
        }
        Ok(out)
    }
}

fn write_metadata(dir: &Path, meta: &Metadata) -> Result<(), CaError> {
    let mut text = serde_json::to_string_pretty(meta).map_err(|e| CaError::Invalid(e.to_string()))?;
    text.push('\n');
    write_atomic(&dir.join(METADATA_FILE), text.as_bytes(), 0o600)
}

fn serial_hex(cert: &[u8]) -> Option<String> {
    x509_parser::parse_x509_certificate(cert).ok().map(|(_, c)| hex(c.raw_serial()))
}

/// Normalises a serial given on the command line: lowercase hex, `0x` prefix and `:` removed.
pub fn normalize_serial(s: &str) -> Result<String, CaError> {
    let t: String =
        s.trim().trim_start_matches("0x").chars().filter(|c| *c != ':').collect::<String>().to_ascii_lowercase();
    if t.is_empty() || t.len() > 42 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CaError::Invalid(format!("serial {s:?} is not a hex number (as shown by `ca show`)")));
    }
    Ok(t)
}

fn unhex(s: &str) -> Result<Vec<u8>, CaError> {
    if s.len() % 2 != 0 {
        return Err(CaError::Invalid(format!("serial {s:?} has an odd number of hex digits")));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| CaError::Invalid(e.to_string())))
        .collect()
}
