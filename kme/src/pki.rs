//! The demo PKI (`qsafe-kme demo-pki`) and loading the KMEs' TLS material.
//!
//! A KME pair needs, per ETSI GS QKD 014 §4: a server certificate per KME
//! whose identity the SAEs check (here: the KME ID is the subject CN, and the
//! certificate carries `localhost`/loopback SANs so host-name verification
//! passes), and client certificates for the SAEs, from a CA the KMEs trust.
//! [`DemoPki::generate`] mints all of it with `qsafe-pqc` (ML-DSA-65 by
//! default, ECDSA P-256 for TLS stacks without ML-DSA) and
//! [`DemoPki::write`] lays it out as PEM files:
//!
//! | file | what |
//! |---|---|
//! | `ca.pem` | the CA certificate (trust anchor for both KMEs and SAEs) |
//! | `kme-a.pem`, `kme-a.key` | KME A's chain and private key (CN = KME A's ID) |
//! | `kme-b.pem`, `kme-b.key` | KME B's |
//! | `sae-<ID>.pem`, `sae-<ID>.key` | an SAE's client chain and key (CN = ID, DNS SAN = ID when it is a valid DNS name, URI SAN = `urn:qsafe:sae:<ID>`) |
//!
//! Private keys are written with mode 0600 into a directory of mode 0700,
//! created without a window in which they are world-readable. The CA's own
//! private key is deliberately not written: a demo PKI is regenerated, not
//! extended, and a CA key on disk next to a running simulator is one more
//! secret to leak.

use std::fs;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use qsafe_pqc::pki::{CertificateAuthority, CertifiedKey, LeafProfile, LeafUsage, PkiError, SignatureAlgorithm};
use rustls::pki_types::CertificateDer;
use zeroize::Zeroizing;

use crate::config::{DemoPkiSettings, PkiAlgorithm, PkiFiles};

/// CA certificate file name.
pub const CA_CERT: &str = "ca.pem";
/// KME A chain file name.
pub const KME_A_CERT: &str = "kme-a.pem";
/// KME A key file name.
pub const KME_A_KEY: &str = "kme-a.key";
/// KME B chain file name.
pub const KME_B_CERT: &str = "kme-b.pem";
/// KME B key file name.
pub const KME_B_KEY: &str = "kme-b.key";
/// Prefix of SAE URI SANs in the demo PKI.
pub const SAE_URI_PREFIX: &str = "urn:qsafe:sae:";

/// What went wrong with certificates or key files.
#[derive(Debug, thiserror::Error)]
pub enum PkiFileError {
    /// Minting a certificate failed.
    #[error("issuing {what}: {source}")]
    Issue {
        /// Which certificate.
        what: String,
        /// Why.
        source: PkiError,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file would be overwritten.
    #[error("{path} exists (use --force to overwrite)")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// A file's contents are not usable.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: PkiError,
    },
    /// A certificate does not fit its role.
    #[error("{path}: {why}")]
    Unfit {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
}

/// The algorithm in qsafe-pqc terms.
pub fn signature_algorithm(a: PkiAlgorithm) -> SignatureAlgorithm {
    match a {
        PkiAlgorithm::MlDsa65 => SignatureAlgorithm::MlDsa65,
        PkiAlgorithm::EcdsaP256 => SignatureAlgorithm::EcdsaP256,
    }
}

/// A generated demo PKI, in memory.
#[derive(Debug)]
pub struct DemoPki {
    /// The CA (kept in memory so tests can issue more certificates).
    pub ca: CertificateAuthority,
    /// KME A and KME B server identities.
    pub kmes: [CertifiedKey; 2],
    /// KME IDs (the CNs of `kmes`).
    pub kme_ids: [String; 2],
    /// SAE client identities, by SAE ID.
    pub saes: Vec<(String, CertifiedKey)>,
}

pub use qsafe_pqc::pki::sae_file_stem;

impl DemoPki {
    /// Mints a CA, two KME server certificates and the SAE client certificates.
    pub fn generate(s: &DemoPkiSettings) -> Result<Self, PkiFileError> {
        let alg = signature_algorithm(s.algorithm);
        let issue_err = |what: String| move |source| PkiFileError::Issue { what, source };
        // The CA outlives its leaves by a day so none is clamped.
        let ca = CertificateAuthority::new_root("qsafe-kme demo CA", alg, s.validity + Duration::from_secs(86_400))
            .map_err(issue_err("the CA".into()))?;
        let mut server_ips: Vec<IpAddr> = vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)];
        for ip in &s.ips {
            if !server_ips.contains(ip) {
                server_ips.push(*ip);
            }
        }
        let mut server_dns = vec!["localhost".to_string()];
        for d in &s.dns {
            if !server_dns.contains(d) {
                server_dns.push(d.clone());
            }
        }
        let server = |kme_id: &str| -> Result<CertifiedKey, PkiFileError> {
            let mut p = LeafProfile::new(kme_id, LeafUsage::Server).with_algorithm(alg).with_validity(s.validity);
            p.dns_names = server_dns.clone();
            p.ip_addresses = server_ips.clone();
            ca.issue(&p).map_err(issue_err(format!("the server certificate of KME {kme_id:?}")))
        };
        let kmes = [server(&s.kme_ids[0])?, server(&s.kme_ids[1])?];
        let mut saes = Vec::with_capacity(s.saes.len());
        for id in &s.saes {
            let mut p = LeafProfile::new(id.as_str(), LeafUsage::Client)
                .with_algorithm(alg)
                .with_validity(s.validity)
                .with_uri(format!("{SAE_URI_PREFIX}{id}"));
            if rustls::pki_types::DnsName::try_from(id.as_str()).is_ok() {
                p = p.with_dns_name(id.as_str());
            }
            let key = ca.issue(&p).map_err(issue_err(format!("the client certificate of SAE {id:?}")))?;
            saes.push((id.clone(), key));
        }
        Ok(Self { ca, kmes, kme_ids: s.kme_ids.clone(), saes })
    }

    /// Writes the files into `dir` (created with mode 0700 if missing) and
    /// returns their paths in writing order. Refuses to overwrite unless
    /// `force`.
    pub fn write(&self, dir: &Path, force: bool) -> Result<Vec<PathBuf>, PkiFileError> {
        create_private_dir(dir)?;
        // Every text is zeroizing, whether or not it is a secret, so the
        // key PEMs are wiped on every path out of here (errors included).
        let public = |pem: String| Zeroizing::new(pem);
        let mut files: Vec<(PathBuf, Zeroizing<String>, bool)> = vec![
            (dir.join(CA_CERT), public(self.ca.certificate_pem()), false),
            (dir.join(KME_A_CERT), public(self.kmes[0].chain_pem()), false),
            (dir.join(KME_A_KEY), self.kmes[0].private_key_pem(), true),
            (dir.join(KME_B_CERT), public(self.kmes[1].chain_pem()), false),
            (dir.join(KME_B_KEY), self.kmes[1].private_key_pem(), true),
        ];
        for (id, key) in &self.saes {
            let stem = sae_file_stem(id);
            files.push((dir.join(format!("{stem}.pem")), public(key.chain_pem()), false));
            files.push((dir.join(format!("{stem}.key")), key.private_key_pem(), true));
        }
        if !force {
            if let Some((path, _, _)) = files.iter().find(|(p, _, _)| p.exists()) {
                return Err(PkiFileError::Exists { path: path.clone() });
            }
        }
        let mut written = Vec::with_capacity(files.len());
        for (path, text, secret) in files {
            write_file(&path, text.as_bytes(), secret)?;
            written.push(path);
        }
        Ok(written)
    }
}

fn create_private_dir(dir: &Path) -> Result<(), PkiFileError> {
    let err = |source| PkiFileError::Write { path: dir.to_path_buf(), source };
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    b.create(dir).map_err(err)
}

/// Writes a file; `secret` files get mode 0600 from creation on (no chmod
/// after the fact, so there is no moment where the key is readable by others).
fn write_file(path: &Path, bytes: &[u8], secret: bool) -> Result<(), PkiFileError> {
    let err = |source| PkiFileError::Write { path: path.to_path_buf(), source };
    // Replace rather than truncate in place: an existing file may have looser permissions.
    if path.exists() {
        fs::remove_file(path).map_err(err)?;
    }
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(if secret { 0o600 } else { 0o644 });
    }
    let mut f = opts.open(path).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)
}

fn read_text(path: &Path) -> Result<Zeroizing<String>, PkiFileError> {
    fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|source| PkiFileError::Read { path: path.to_path_buf(), source })
}

/// The TLS material of both KMEs, loaded and checked.
#[derive(Debug, Clone)]
pub struct KmeTlsMaterial {
    /// Trust anchors for client certificates.
    pub client_roots: Vec<CertificateDer<'static>>,
    /// KME A and KME B identities.
    pub identities: [CertifiedKey; 2],
    /// KME IDs read from the server certificates' CNs.
    pub kme_ids: [String; 2],
}

/// Loads the PEM files: chains must match their keys, each server leaf must
/// have exactly one CN, a valid ID (the KME ID), and the two IDs must differ.
pub fn load(files: &PkiFiles) -> Result<KmeTlsMaterial, PkiFileError> {
    let ca_text = read_text(&files.client_ca)?;
    let client_roots = qsafe_pqc::pki::parse_pem_certificates(&ca_text)
        .map_err(|source| PkiFileError::Parse { path: files.client_ca.clone(), source })?;
    let identity = |cert: &Path, key: &Path| -> Result<(CertifiedKey, String), PkiFileError> {
        let chain = read_text(cert)?;
        let key_pem = read_text(key)?;
        let id = CertifiedKey::from_pem(&chain, &key_pem)
            .map_err(|source| PkiFileError::Parse { path: key.to_path_buf(), source })?;
        let kme_id = crate::identity::common_name(id.leaf())
            .and_then(|cn| crate::identity::validate_id(&cn).map(|()| cn))
            .map_err(|e| PkiFileError::Unfit { path: cert.to_path_buf(), why: format!("the KME ID is the CN: {e}") })?;
        Ok((id, kme_id))
    };
    let (a, id_a) = identity(&files.cert_a, &files.key_a)?;
    let (b, id_b) = identity(&files.cert_b, &files.key_b)?;
    if id_a == id_b {
        return Err(PkiFileError::Unfit {
            path: files.cert_b.clone(),
            why: format!("KME B has the same KME ID (CN) as KME A: {id_a:?}"),
        });
    }
    Ok(KmeTlsMaterial { client_roots, identities: [a, b], kme_ids: [id_a, id_b] })
}

impl DemoPki {
    /// The material as [`load`] would return it after [`DemoPki::write`].
    pub fn tls_material(&self) -> KmeTlsMaterial {
        KmeTlsMaterial {
            client_roots: vec![self.ca.certificate().clone()],
            identities: self.kmes.clone(),
            kme_ids: self.kme_ids.clone(),
        }
    }

    /// The identity of an SAE by ID.
    pub fn sae(&self, id: &str) -> Option<&CertifiedKey> {
        self.saes.iter().find(|(i, _)| i == id).map(|(_, k)| k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &Path, alg: PkiAlgorithm) -> DemoPkiSettings {
        DemoPkiSettings {
            out: dir.to_path_buf(),
            algorithm: alg,
            kme_ids: ["kme-a".into(), "kme-b".into()],
            saes: vec!["ric-xapp".into(), "SAE:01".into()],
            dns: vec![],
            ips: vec![],
            validity: Duration::from_secs(86_400),
            force: false,
        }
    }

    #[test]
    fn writes_loads_and_refuses_to_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let s = settings(&dir, PkiAlgorithm::EcdsaP256);
        let pki = DemoPki::generate(&s).unwrap();
        let files = pki.write(&dir, false).unwrap();
        assert!(files.iter().any(|p| p.ends_with("sae-SAE_01.key")));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            for p in &files {
                let mode = fs::metadata(p).unwrap().permissions().mode() & 0o777;
                let want = if p.extension().is_some_and(|e| e == "key") { 0o600 } else { 0o644 };
                assert_eq!(mode, want, "{}", p.display());
            }
            assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        }
        let m = load(&PkiFiles::in_dir(&dir)).unwrap();
        assert_eq!(m.kme_ids, ["kme-a".to_string(), "kme-b".to_string()]);
        assert_eq!(m.client_roots.len(), 1);
        assert!(matches!(pki.write(&dir, false), Err(PkiFileError::Exists { .. })));
        pki.write(&dir, true).unwrap();
        // The SAE certificate carries its ID as CN, DNS SAN (when valid) and URI SAN.
        let sae = pki.sae("ric-xapp").unwrap();
        let cn = crate::identity::sae_id_from_certificate(sae.leaf(), &crate::identity::SaeIdSource::CommonName);
        assert_eq!(cn.unwrap(), "ric-xapp");
        let dns = crate::identity::sae_id_from_certificate(sae.leaf(), &crate::identity::SaeIdSource::SanDns);
        assert_eq!(dns.unwrap(), "ric-xapp");
        let uri = crate::identity::SaeIdSource::SanUri { prefix: SAE_URI_PREFIX.into() };
        assert_eq!(crate::identity::sae_id_from_certificate(sae.leaf(), &uri).unwrap(), "ric-xapp");
    }

    #[test]
    fn load_errors_name_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let pki = DemoPki::generate(&settings(dir, PkiAlgorithm::EcdsaP256)).unwrap();
        pki.write(dir, false).unwrap();
        let mut files = PkiFiles::in_dir(dir);
        files.key_a = dir.join("missing.key");
        let e = load(&files).unwrap_err().to_string();
        assert!(e.contains("missing.key"), "{e}");
        // KME A's certificate with KME B's key.
        let mut files = PkiFiles::in_dir(dir);
        files.key_a = dir.join(KME_B_KEY);
        let e = load(&files).unwrap_err();
        assert!(matches!(e, PkiFileError::Parse { .. }), "{e}");
        // The same identity for both KMEs.
        let mut files = PkiFiles::in_dir(dir);
        files.cert_b = dir.join(KME_A_CERT);
        files.key_b = dir.join(KME_A_KEY);
        assert!(load(&files).unwrap_err().to_string().contains("same KME ID"));
        // Garbage CA file.
        fs::write(dir.join("bad.pem"), "not pem").unwrap();
        let mut files = PkiFiles::in_dir(dir);
        files.client_ca = dir.join("bad.pem");
        assert!(load(&files).unwrap_err().to_string().contains("bad.pem"));
    }
}
