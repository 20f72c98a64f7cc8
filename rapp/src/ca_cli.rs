//! `qsafe-rapp ca ...`: the PQC certificate authority (qsafe-ca).
//!
//! Thin: parse flags, read the passphrase, call [`qsafe_ca::CaStore`], print the result as text or
//! (`--json`) one JSON object. Every failure is an error string (exit 1) and leaves the CA
//! directory unchanged: the store validates everything before it writes `ca.json`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};
use qsafe_ca::store::{self, CrlRecord, Generation, IssuedRecord, Status};
use qsafe_ca::{CaStore, HierarchyOptions, IssueRequest, Passphrase, Profile, RevocationReason, RootAlgorithm, Sans};
use serde_json::{Value, json};

const CA_EXAMPLES: &str = "\
Examples:
  export QSAFE_CA_DIR=/var/lib/qsafe/ca QSAFE_CA_PASSPHRASE='a long secret passphrase'

  # create the hierarchy: ML-DSA-87 root + ML-DSA-65 issuing CA, keys encrypted (PKCS#8 PBES2)
  qsafe-rapp ca init --root-algorithm ml-dsa-87

  # sign a CSR (ML-DSA or classical) for an O1 NETCONF/TLS endpoint
  qsafe-rapp ca sign du1.csr --profile o1-server --dns du1.oam.example --out du1.pem

  # an E2 node that cannot make a CSR: the CA generates its ML-DSA-65 key
  qsafe-rapp ca issue --profile e2-node --cn gnb-17 --dns gnb-17.ran.example \\
      --out-cert gnb-17.pem --out-key gnb-17.key

  # revoke, then publish a CRL signed by the issuing CA
  qsafe-rapp ca revoke 4f3a...c1 --reason keyCompromise
  qsafe-rapp ca crl --out crl.pem --next-update-hours 24

  # root rollover: trust bundle (old+new roots) first, then chains with the cross certificate
  qsafe-rapp ca rollover --root-algorithm ml-dsa-87
  qsafe-rapp ca export trust-bundle --out trust.pem
  qsafe-rapp ca export chain --cross --out chain.pem

  qsafe-rapp --json ca show

Profiles: o1-server, o2-server, e2-node, tls-server, tls-client, kme-sae
  (`ca profiles` lists key usage, EKU, validity and SAN rules).
Passphrase: $QSAFE_CA_PASSPHRASE or --passphrase-file FILE (one trailing newline
  is removed); at least 12 characters. Files in the CA directory are 0600, the
  directory 0700.";

/// Arguments of `qsafe-rapp ca`.
#[derive(Debug, Args)]
#[command(after_help = CA_EXAMPLES)]
pub struct CaArgs {
    /// The CA directory.
    #[arg(long, env = "QSAFE_CA_DIR", value_name = "DIR", global = true)]
    ca_dir: Option<PathBuf>,
    /// Read the CA passphrase from FILE instead of $QSAFE_CA_PASSPHRASE.
    #[arg(long, value_name = "FILE", global = true)]
    passphrase_file: Option<PathBuf>,
    #[command(subcommand)]
    op: CaOp,
}

#[derive(Debug, Subcommand)]
enum CaOp {
    /// Create a CA: ML-DSA root and ML-DSA-65 issuing intermediate (refuses an existing CA).
    Init(HierarchyArgs),
    /// Sign a PKCS#10 CSR (PEM or DER; ML-DSA, ECDSA, Ed25519 or RSA) under a profile.
    Sign {
        /// The CSR file.
        csr: PathBuf,
        #[command(flatten)]
        leaf: LeafArgs,
        /// Accept ML-DSA subject keys only.
        #[arg(long)]
        pqc_only: bool,
        /// Write the certificate followed by the issuing CA certificate here (default: print).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Generate an ML-DSA-65 key for a device and issue its certificate (no CSR).
    Issue {
        #[command(flatten)]
        leaf: LeafArgs,
        /// Certificate chain output (leaf + issuing CA).
        #[arg(long, value_name = "FILE")]
        out_cert: PathBuf,
        /// Private key output (0600; plain PKCS#8 unless --key-passphrase-file).
        #[arg(long, value_name = "FILE")]
        out_key: PathBuf,
        /// Encrypt the new key with the passphrase in FILE.
        #[arg(long, value_name = "FILE")]
        key_passphrase_file: Option<PathBuf>,
    },
    /// Revoke an issued certificate by serial (hex, as `ca show` prints it).
    Revoke {
        /// Serial number.
        serial: String,
        /// RFC 5280 reason: unspecified, keyCompromise, cACompromise, affiliationChanged,
        /// superseded, cessationOfOperation, privilegeWithdrawn.
        #[arg(long, default_value = "unspecified")]
        reason: RevocationReason,
    },
    /// Sign and publish a CRL of the current issuing CA (cRLNumber increases).
    Crl {
        /// Also write the CRL (PEM) here.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// nextUpdate, hours from now.
        #[arg(long, default_value_t = 24)]
        next_update_hours: u32,
    },
    /// Root rollover: new generation (root cross-signed by the current root, new intermediate).
    Rollover(HierarchyArgs),
    /// Show generations, issued and revoked certificates, CRLs.
    Show,
    /// List the issuance profiles.
    Profiles,
    /// Export public material: trust-bundle (all roots) or chain (issuing CA [+ cross cert]).
    Export {
        /// trust-bundle or chain.
        what: ExportKind,
        /// Include the cross certificate in the chain (for peers that trust only the old root).
        #[arg(long)]
        cross: bool,
        /// Write here instead of printing.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ExportKind {
    TrustBundle,
    Chain,
}

#[derive(Debug, Args)]
struct HierarchyArgs {
    /// Root key algorithm.
    #[arg(long, default_value = "ml-dsa-87")]
    root_algorithm: RootAlgorithm,
    /// Root validity, days (the intermediate gets half, clamped to the root).
    #[arg(long, default_value_t = 3650)]
    validity_days: u32,
    /// Subject name prefix ("<NAME> Root CA G1").
    #[arg(long, default_value = "qsafe-ran")]
    name: String,
}

impl HierarchyArgs {
    fn options(&self) -> HierarchyOptions {
        HierarchyOptions {
            name: self.name.clone(),
            root_algorithm: self.root_algorithm,
            root_days: self.validity_days,
            intermediate_days: (self.validity_days / 2).max(1),
            ..HierarchyOptions::default()
        }
    }
}

#[derive(Debug, Args)]
struct LeafArgs {
    /// Profile: o1-server, o2-server, e2-node, tls-server, tls-client, kme-sae.
    #[arg(long)]
    profile: Profile,
    /// Subject commonName (default: the CSR's, else the first DNS name).
    #[arg(long)]
    cn: Option<String>,
    /// DNS subjectAltName (repeatable; replaces the CSR's SANs).
    #[arg(long = "dns", value_name = "NAME")]
    dns: Vec<String>,
    /// IP subjectAltName (repeatable).
    #[arg(long = "ip", value_name = "IP")]
    ip: Vec<IpAddr>,
    /// URI subjectAltName (repeatable).
    #[arg(long = "uri", value_name = "URI")]
    uri: Vec<String>,
    /// Validity in days (default and maximum from the profile; clamped to the issuing CA).
    #[arg(long)]
    days: Option<u32>,
}

impl LeafArgs {
    fn request(&self, pqc_only: bool) -> IssueRequest {
        IssueRequest {
            profile: self.profile,
            common_name: self.cn.clone(),
            sans: Sans { dns: self.dns.clone(), ips: self.ip.clone(), uris: self.uri.clone() },
            days: self.days,
            pqc_only,
        }
    }
}

/// Runs `qsafe-rapp ca`.
pub async fn run(args: CaArgs, json: bool) -> Result<(), String> {
    // CPU-bound and file-based (PBKDF2, ML-DSA signing): off the async workers.
    tokio::task::spawn_blocking(move || run_blocking(args, json)).await.map_err(|e| e.to_string())?
}

fn run_blocking(args: CaArgs, json: bool) -> Result<(), String> {
    let e = |e: qsafe_ca::CaError| e.to_string();
    if let CaOp::Profiles = args.op {
        return profiles(json);
    }
    let dir = args.ca_dir.clone().ok_or("no CA directory: pass --ca-dir DIR or set QSAFE_CA_DIR")?;
    let pass = || Passphrase::from_env_or_file(args.passphrase_file.as_deref()).map_err(|e| e.to_string());
    match &args.op {
        CaOp::Profiles => profiles(json),
        CaOp::Init(h) => {
            let p = pass()?;
            let store = CaStore::init(&dir, &p, &h.options()).map_err(e)?;
            let g = &store.metadata().generations[0];
            let files = vec![
                dir.join("gen-1/root.pem"),
                dir.join("gen-1/intermediate.pem"),
                dir.join("gen-1/root.key.pem"),
                dir.join("gen-1/intermediate.key.pem"),
            ];
            emit(json, json!({"ca_dir": dir, "generation": generation_json(g), "files": files}), || {
                format!(
                    "created CA in {}\n  root:         {} ({}), until {}\n  intermediate: {} (ml-dsa-65), until {}\n  keys: encrypted PKCS#8 (0600) in {}/gen-1/",
                    dir.display(),
                    g.root_subject,
                    g.root_algorithm.name(),
                    g.root_not_after,
                    g.intermediate_subject,
                    g.intermediate_not_after,
                    dir.display()
                )
            })
        }
        CaOp::Sign { csr, leaf, pqc_only, out } => {
            let mut store = CaStore::open(&dir).map_err(e)?;
            let p = pass()?;
            let bytes = read_limited(csr)?;
            let issued = store.sign_csr(&bytes, &leaf.request(*pqc_only), &p).map_err(e)?;
            if let Some(out) = out {
                write_public(out, &issued.chain_pem)?;
            } else if !json {
                print!("{}", issued.chain_pem);
            }
            emit_issued(json, &issued.record, &issued.path, out.as_deref(), None, &issued.chain_pem)
        }
        CaOp::Issue { leaf, out_cert, out_key, key_passphrase_file } => {
            for f in [out_cert, out_key] {
                if f.exists() {
                    return Err(format!("{} exists; refusing to overwrite it", f.display()));
                }
            }
            let mut store = CaStore::open(&dir).map_err(e)?;
            let p = pass()?;
            let key_pass = match key_passphrase_file {
                Some(f) => Some(Passphrase::from_env_or_file(Some(f)).map_err(|e| e.to_string())?),
                None => None,
            };
            let (issued, key_pem) = store.issue_with_new_key(&leaf.request(true), &p, key_pass.as_ref()).map_err(e)?;
            store::write_atomic(out_key, key_pem.as_bytes(), 0o600).map_err(e)?;
            write_public(out_cert, &issued.chain_pem)?;
            emit_issued(json, &issued.record, &issued.path, Some(out_cert), Some(out_key), &issued.chain_pem)
        }
        CaOp::Revoke { serial, reason } => {
            let mut store = CaStore::open(&dir).map_err(e)?;
            let r = store.revoke(serial, *reason).map_err(e)?;
            emit(json, json!({"revoked": record_json(&r)}), || {
                format!("revoked {} ({}) reason {reason}; publish a CRL with `qsafe-rapp ca crl`", r.serial, r.subject)
            })
        }
        CaOp::Crl { out, next_update_hours } => {
            let mut store = CaStore::open(&dir).map_err(e)?;
            let p = pass()?;
            let crl = store.publish_crl(Duration::from_secs(u64::from(*next_update_hours) * 3600), &p).map_err(e)?;
            if let Some(out) = out {
                write_public(out, &crl.pem)?;
            }
            emit(json, json!({"crl": crl_json(&crl.record), "path": crl.path, "out": out}), || {
                format!(
                    "CRL #{} (generation {}, {} revoked) valid until {}\n  {}{}",
                    crl.record.number,
                    crl.record.generation,
                    crl.record.entries,
                    crl.record.next_update,
                    crl.path.display(),
                    out.as_ref().map(|o| format!("\n  {}", o.display())).unwrap_or_default()
                )
            })
        }
        CaOp::Rollover(h) => {
            let mut store = CaStore::open(&dir).map_err(e)?;
            let p = pass()?;
            let g = store.rollover(&h.options(), &p).map_err(e)?;
            emit(json, json!({"generation": generation_json(&g)}), || {
                format!(
                    "generation {} is current: {} ({}), cross-signed by generation {}\n  next: distribute `ca export trust-bundle`, then serve chains from `ca export chain --cross`",
                    g.number,
                    g.root_subject,
                    g.root_algorithm.name(),
                    g.cross_signed_by.unwrap_or_default()
                )
            })
        }
        CaOp::Show => {
            let store = CaStore::open(&dir).map_err(e)?;
            show(&store, json)
        }
        CaOp::Export { what, cross, out } => {
            let store = CaStore::open(&dir).map_err(e)?;
            let pem = match what {
                ExportKind::TrustBundle => store.trust_bundle_pem(),
                ExportKind::Chain => store.chain_pem(*cross),
            }
            .map_err(e)?;
            match out {
                Some(out) => {
                    write_public(out, &pem)?;
                    emit(json, json!({"out": out}), || format!("wrote {}", out.display()))
                }
                None if json => emit(json, json!({"pem": pem}), String::new),
                None => {
                    print!("{pem}");
                    Ok(())
                }
            }
        }
    }
}

const MAX_INPUT: u64 = 1024 * 1024;

fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    if meta.len() > MAX_INPUT {
        return Err(format!("{} is {} bytes: not a CSR", path.display(), meta.len()));
    }
    std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

fn write_public(path: &Path, text: &str) -> Result<(), String> {
    store::write_atomic(path, text.as_bytes(), 0o644).map_err(|e| e.to_string())
}

fn emit(json: bool, value: Value, text: impl FnOnce() -> String) -> Result<(), String> {
    if json {
        println!("{value}");
    } else {
        let t = text();
        if !t.is_empty() {
            println!("{t}");
        }
    }
    Ok(())
}

fn emit_issued(
    json: bool,
    r: &IssuedRecord,
    ca_copy: &Path,
    out_cert: Option<&Path>,
    out_key: Option<&Path>,
    chain_pem: &str,
) -> Result<(), String> {
    let mut v = json!({"issued": record_json(r), "ca_copy": ca_copy, "out_cert": out_cert, "out_key": out_key});
    if out_cert.is_none() {
        v["chain_pem"] = json!(chain_pem);
    }
    emit(json, v, || {
        let mut s = format!(
            "issued serial {} to {} ({}, {}), until {}\n  CA copy: {}",
            r.serial,
            r.subject,
            r.profile,
            r.key_algorithm,
            r.not_after,
            ca_copy.display()
        );
        if let Some(c) = out_cert {
            s.push_str(&format!("\n  certificate chain: {}", c.display()));
        }
        if let Some(k) = out_key {
            s.push_str(&format!("\n  private key (0600): {}", k.display()));
        }
        s
    })
}

fn generation_json(g: &Generation) -> Value {
    serde_json::to_value(g).unwrap_or(Value::Null)
}

fn record_json(r: &IssuedRecord) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

fn crl_json(r: &CrlRecord) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

fn profiles(json: bool) -> Result<(), String> {
    let rows: Vec<Value> = Profile::ALL
        .iter()
        .map(|p| {
            json!({"name": p.name(), "description": p.description(), "usage": p.usage(),
                   "key_usage": ["digitalSignature"], "needs_san": p.needs_san(),
                   "default_days": p.default_days(), "max_days": p.max_days(), "ml_dsa_only": p.ml_dsa_only()})
        })
        .collect();
    emit(json, json!({"profiles": rows}), || {
        let mut s = format!("{:<11} {:<18} {:>8} {:>5}  {}\n", "PROFILE", "EKU", "DAYS", "MAX", "DESCRIPTION");
        for p in Profile::ALL {
            let eku = match p.usage() {
                qsafe_ca::profile::Usage::Server => "serverAuth",
                qsafe_ca::profile::Usage::Client => "clientAuth",
                qsafe_ca::profile::Usage::ServerAndClient => "serverAuth+client",
            };
            s.push_str(&format!(
                "{:<11} {:<18} {:>8} {:>5}  {}{}{}\n",
                p.name(),
                eku,
                p.default_days(),
                p.max_days(),
                p.description(),
                if p.needs_san() { "; needs DNS/IP SAN" } else { "" },
                if p.ml_dsa_only() { "; ML-DSA keys only" } else { "" }
            ));
        }
        s.push_str("key usage: digitalSignature only (RFC 9881 §5)");
        s
    })
}

fn show(store: &CaStore, json: bool) -> Result<(), String> {
    let m = store.metadata();
    if json {
        println!("{}", json!({"ca_dir": store.dir(), "metadata": m}));
        return Ok(());
    }
    println!("CA {} (current generation {}, {})", store.dir().display(), m.current_generation, m.key_encryption);
    for g in &m.generations {
        println!(
            "  generation {}: root {} ({}, until {}); intermediate {} (until {}){}",
            g.number,
            g.root_subject,
            g.root_algorithm.name(),
            g.root_not_after,
            g.intermediate_subject,
            g.intermediate_not_after,
            g.cross_signed_by.map(|n| format!("; cross-signed by generation {n}")).unwrap_or_default()
        );
    }
    let revoked = m.issued.iter().filter(|r| matches!(r.status, Status::Revoked { .. })).count();
    println!("issued: {} ({} revoked)", m.issued.len(), revoked);
    for r in &m.issued {
        let status = match &r.status {
            Status::Valid => "valid".to_owned(),
            Status::Revoked { at, reason } => format!("REVOKED {reason} at {at}"),
        };
        println!(
            "  {} {} {} {} gen {} until {} {}",
            r.serial, r.subject, r.profile, r.key_algorithm, r.generation, r.not_after, status
        );
    }
    match m.crls.last() {
        Some(c) => println!(
            "last CRL: #{} (generation {}, {} entries), next update {}",
            c.number, c.generation, c.entries, c.next_update
        ),
        None => println!("no CRL published yet"),
    }
    Ok(())
}
