//! Shared test helpers: a CA in a temp dir (fast KDF), CSRs made with rcgen.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use qsafe_ca::{CaStore, HierarchyOptions, Passphrase, RootAlgorithm};
use zeroize::Zeroizing;

pub const PASS: &str = "correct horse battery staple";

pub fn pass() -> Passphrase {
    Passphrase::new(Zeroizing::new(PASS.to_owned())).unwrap()
}

pub fn wrong_pass() -> Passphrase {
    Passphrase::new(Zeroizing::new("incorrect horse battery".to_owned())).unwrap()
}

/// Fast-KDF options for tests (the production default is measured separately).
pub fn opts(root: RootAlgorithm) -> HierarchyOptions {
    HierarchyOptions { root_algorithm: root, kdf_iterations: 1000, ..HierarchyOptions::default() }
}

pub fn new_ca(dir: &Path) -> CaStore {
    CaStore::init(dir, &pass(), &opts(RootAlgorithm::MlDsa87)).unwrap()
}

pub fn key(alg: &'static rcgen::SignatureAlgorithm) -> rcgen::KeyPair {
    rcgen::KeyPair::generate_for(alg).unwrap()
}

/// A PEM CSR for `key` with CN `cn` and DNS SANs `dns`.
pub fn csr(key: &rcgen::KeyPair, cn: &str, dns: &[&str]) -> String {
    let mut params = rcgen::CertificateParams::new(dns.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, cn);
    params.serialize_request(key).unwrap().pem().unwrap()
}

/// A DER CSR.
pub fn csr_der(key: &rcgen::KeyPair, cn: &str, dns: &[&str]) -> Vec<u8> {
    let mut params = rcgen::CertificateParams::new(dns.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, cn);
    params.serialize_request(key).unwrap().der().to_vec()
}

pub fn metadata_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("ca.json")).unwrap()
}
