//! Writes the seed corpus for the qsafe-pqc fuzz targets into `seeds/<target>/`:
//!
//!     cargo run --manifest-path pqc/fuzz/Cargo.toml --example make_seeds
//!
//! Keys are random (aws-lc has no deterministic key generation), so the files change on every
//! run; regenerate only when the formats change.

use std::path::{Path, PathBuf};
use std::time::Duration;

use qsafe_pqc::kem::{AwsLcKem, Kem, KemAlgorithm};
use qsafe_pqc::pki::{CertificateAuthority, LeafProfile, LeafUsage, SignatureAlgorithm};
use qsafe_pqc::sign::MlDsaSigner;

fn out(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds").join(target);
    std::fs::create_dir_all(&dir).expect("create seed dir");
    dir
}

fn main() {
    let day = Duration::from_secs(86_400);
    let pem_dir = out("pem_certificates");
    let sig_dir = out("certificate_signature");
    for alg in [SignatureAlgorithm::MlDsa44, SignatureAlgorithm::MlDsa65, SignatureAlgorithm::EcdsaP256] {
        let root = CertificateAuthority::new_root("seed root", alg, day).expect("root");
        let inter = root.new_intermediate("seed issuing", alg, day).expect("intermediate");
        let leaf = inter
            .issue(&LeafProfile::new("seed", LeafUsage::Server).with_dns_name("e2term.ric.local").with_algorithm(alg))
            .expect("leaf");
        let chain_and_key = format!("{}\0{}", leaf.chain_pem(), leaf.private_key_pem().as_str());
        std::fs::write(pem_dir.join(format!("{alg}-leaf")), chain_and_key).expect("write");
        let ca = inter.certified_key();
        let ca_and_key = format!("{}\0{}", ca.chain_pem(), ca.private_key_pem().as_str());
        std::fs::write(pem_dir.join(format!("{alg}-ca")), ca_and_key).expect("write");
        std::fs::write(pem_dir.join(format!("{alg}-root-only")), root.certificate_pem()).expect("write");

        if alg.is_post_quantum() {
            let msg = b"seed message";
            let sig = MlDsaSigner::from_certified_key(&leaf).expect("signer").sign(msg).expect("sign");
            let cert = leaf.leaf().as_ref();
            let mut input = u16::try_from(cert.len()).expect("cert < 64 KiB").to_be_bytes().to_vec();
            input.extend_from_slice(cert);
            input.push(u8::try_from(msg.len()).expect("short message"));
            input.extend_from_slice(msg);
            input.extend_from_slice(&sig);
            std::fs::write(sig_dir.join(format!("{alg}-valid")), input).expect("write");
        }
    }

    let kem_dir = out("kem_inputs");
    for (bit, alg) in [(0u8, KemAlgorithm::MlKem768), (1, KemAlgorithm::MlKem1024)] {
        let kem = AwsLcKem::new(alg).expect("kem");
        let (ek, dk) = kem.generate().expect("keygen");
        let (ct, _) = kem.encapsulate(&ek).expect("encaps");
        for (kind, name, bytes) in [(0u8, "ek", ek.as_bytes()), (1, "ct", ct.as_bytes()), (2, "dk", dk.expose_secret())]
        {
            let mut input = vec![bit | (kind << 1)];
            input.extend_from_slice(bytes);
            std::fs::write(kem_dir.join(format!("{alg}-{name}")), input).expect("write");
        }
    }
    println!("wrote seeds under {}", Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds").display());
}
