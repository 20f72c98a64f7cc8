//! Writes (and answers for) the material that `tests/conformance/pyca_check.py` checks with
//! pyca/cryptography (OpenSSL), an ML-DSA/ML-KEM stack we did not write.
//!
//! ```text
//! pqc_conformance write DIR     # PKIs, keys, a message signature, ML-KEM keys -> DIR/manifest.json
//! pqc_conformance respond DIR   # the Rust half of the cross-checks the script starts
//! ```
//!
//! All of it is throw-away test material: private keys and shared secrets are written to DIR.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use qsafe_pqc::kem::{Ciphertext, DecapsulationKey, EncapsulationKey, KemAlgorithm, KemBackend, kem};
use qsafe_pqc::pki::parse_pem_certificates;
use qsafe_pqc::pki::{CertificateAuthority, CertifiedKey, LeafProfile, LeafUsage, SignatureAlgorithm};
use qsafe_pqc::sign::{MlDsaSigner, verify_with_certificate};
use serde_json::{Value, json};

const USAGE: &str = "usage: pqc_conformance write DIR | pqc_conformance respond DIR";
const DAY: Duration = Duration::from_secs(86_400);
const MESSAGE: &[u8] = b"qsafe-ran conformance v1\0ephemeral ML-KEM-768 key of e2 link 7";
const KEMS: [KemAlgorithm; 2] = [KemAlgorithm::MlKem768, KemAlgorithm::MlKem1024];

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.as_slice() {
        [cmd, dir] if cmd == "write" => write(Path::new(dir)),
        [cmd, dir] if cmd == "respond" => respond(Path::new(dir)),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pqc_conformance: {e}");
            ExitCode::FAILURE
        }
    }
}

fn save(dir: &Path, name: &str, data: impl AsRef<[u8]>) -> Result<String> {
    std::fs::write(dir.join(name), data).map_err(|e| format!("writing {}: {e}", dir.join(name).display()))?;
    Ok(name.to_owned())
}

fn load(dir: &Path, name: &str) -> Result<Vec<u8>> {
    let path: PathBuf = dir.join(name);
    Ok(std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?)
}

fn save_identity(dir: &Path, name: &str, id: &CertifiedKey) -> Result<(String, String)> {
    Ok((
        save(dir, &format!("{name}.chain.pem"), id.chain_pem())?,
        save(dir, &format!("{name}.key.pem"), id.private_key_pem().as_bytes())?,
    ))
}

/// One operator PKI: root -> issuing CA -> server and client leaves.
fn hierarchy(dir: &Path, name: &str, ca_alg: SignatureAlgorithm, leaf_alg: SignatureAlgorithm) -> Result<Value> {
    let root = CertificateAuthority::new_root(&format!("{name} root"), ca_alg, DAY * 3650)?;
    let issuing = root.new_intermediate(&format!("{name} issuing CA"), ca_alg, DAY * 1825)?;
    let server = issuing.issue(
        &LeafProfile::new(format!("{name} e2term"), LeafUsage::Server)
            .with_dns_name("e2term.ric.local")
            .with_ip_address([127, 0, 0, 1].into())
            .with_algorithm(leaf_alg),
    )?;
    let client = issuing.issue(
        &LeafProfile::new(format!("{name} xapp"), LeafUsage::Client)
            .with_uri("urn:qsafe:xapp:kpimon")
            .with_algorithm(leaf_alg),
    )?;
    let (root_cert, root_key) = save_identity(dir, &format!("{name}-root"), root.certified_key())?;
    let (inter_cert, inter_key) = save_identity(dir, &format!("{name}-intermediate"), issuing.certified_key())?;
    let (server_chain, server_key) = save_identity(dir, &format!("{name}-server"), &server)?;
    let (client_chain, client_key) = save_identity(dir, &format!("{name}-client"), &client)?;
    Ok(json!({
        "name": name,
        "root": { "cert": root_cert, "key": root_key, "algorithm": ca_alg.to_string() },
        "intermediate": { "cert": inter_cert, "key": inter_key, "algorithm": ca_alg.to_string() },
        "leaves": [
            { "chain": server_chain, "key": server_key, "algorithm": leaf_alg.to_string(), "usage": "server",
              "dns": "e2term.ric.local" },
            { "chain": client_chain, "key": client_key, "algorithm": leaf_alg.to_string(), "usage": "client" },
        ],
    }))
}

fn write(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let hierarchies = vec![
        hierarchy(dir, "mldsa65", SignatureAlgorithm::MlDsa65, SignatureAlgorithm::MlDsa65)?,
        hierarchy(dir, "mldsa87", SignatureAlgorithm::MlDsa87, SignatureAlgorithm::MlDsa44)?,
    ];

    // A message signature with the ML-DSA-65 client key, verifiable with its certificate.
    let chain = std::fs::read_to_string(dir.join("mldsa65-client.chain.pem"))?;
    let key = std::fs::read_to_string(dir.join("mldsa65-client.key.pem"))?;
    let client = CertifiedKey::from_pem(&chain, &key)?;
    let signature = MlDsaSigner::from_certified_key(&client)?.sign(MESSAGE)?;

    let mut kems = Vec::new();
    for alg in KEMS {
        let (ek, dk) = kem(alg, KemBackend::AwsLc)?.generate()?;
        kems.push(json!({
            "algorithm": alg.to_string(),
            "ek": save(dir, &format!("{alg}.ek"), ek.as_bytes())?,
            "dk": save(dir, &format!("{alg}.dk"), dk.expose_secret())?,
        }));
    }

    let manifest = json!({
        "hierarchies": hierarchies,
        "signature": {
            "cert": "mldsa65-client.chain.pem",
            "algorithm": "ml-dsa-65",
            "message": save(dir, "message.bin", MESSAGE)?,
            "signature": save(dir, "message.sig", &signature)?,
        },
        "kems": kems,
    });
    save(dir, "manifest.json", serde_json::to_string_pretty(&manifest)?)?;
    println!(
        "wrote 2 PKIs (ML-DSA-65 and ML-DSA-87 roots), an ML-DSA-65 signature and ML-KEM keys to {}",
        dir.display()
    );
    Ok(())
}

/// The Rust half of the cross-checks: decapsulate pyca's ciphertexts with our keys, encapsulate to
/// pyca's keys, verify pyca's signature made with our key.
fn respond(dir: &Path) -> Result<()> {
    for alg in KEMS {
        let kem = kem(alg, KemBackend::AwsLc)?;
        let dk = DecapsulationKey::from_bytes(alg, &load(dir, &format!("{alg}.dk"))?)?;
        let ct = Ciphertext::from_bytes(alg, &load(dir, &format!("py-{alg}.ct"))?)?;
        save(dir, &format!("rust-{alg}-decapsulated.ss"), kem.decapsulate(&dk, &ct)?.expose_secret())?;

        let py_ek = EncapsulationKey::from_bytes(alg, &load(dir, &format!("py-{alg}.ek"))?)?;
        let (ct, ss) = kem.encapsulate(&py_ek)?;
        save(dir, &format!("rust-{alg}.ct"), ct.as_bytes())?;
        save(dir, &format!("rust-{alg}.ss"), ss.expose_secret())?;
    }
    let certs = parse_pem_certificates(&String::from_utf8(load(dir, "mldsa65-client.chain.pem")?)?)?;
    let message = load(dir, "py-message.bin")?;
    verify_with_certificate(&certs[0], &message, &load(dir, "py-message.sig")?)
        .map_err(|e| format!("pyca's ML-DSA-65 signature made with our key does not verify: {e}"))?;
    let mut tampered = message.clone();
    tampered.push(0);
    if verify_with_certificate(&certs[0], &tampered, &load(dir, "py-message.sig")?).is_ok() {
        return Err("a signature verified over a tampered message".into());
    }
    println!("rust: decapsulated and encapsulated ML-KEM-768/1024 with pyca, verified pyca's ML-DSA-65 signature");
    Ok(())
}
