//! Costs of the PQC primitives and of a full mutual TLS 1.3 handshake, PQC vs classical,
//! measured in one run so the ratios are comparable.
//!
//! `cargo bench -p qsafe-pqc --bench pqc` (add `--features oqs` for the liboqs ML-KEM rows).
//! The handshakes run in memory (two rustls connections exchanging buffers; no sockets, no
//! resumption), so they measure CPU cost only; wire sizes are printed once at start.
#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark setup

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use qsafe_pqc::kem::{KemAlgorithm, KemBackend, kem};
use qsafe_pqc::pki::{CertificateAuthority, LeafProfile, LeafUsage, SignatureAlgorithm};
use qsafe_pqc::sign::{MlDsaSigner, verify_with_certificate, verify_with_public_key};
use qsafe_pqc::tls::{AuthPolicy, KeyExchangePolicy, client_config, server_config};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

const DAY: Duration = Duration::from_secs(86_400);
const SERVER_NAME: &str = "e2term.ric.local";

fn ml_kem_768(c: &mut Criterion) {
    let mut group = c.benchmark_group("ml-kem-768");
    for backend in KemBackend::ALL.into_iter().filter(|b| b.is_available()) {
        let k = kem(KemAlgorithm::MlKem768, backend).unwrap();
        let (ek, dk) = k.generate().unwrap();
        let (ct, _) = k.encapsulate(&ek).unwrap();
        group.bench_function(format!("{backend}/keygen"), |b| b.iter(|| black_box(k.generate().unwrap())));
        group.bench_function(format!("{backend}/encaps"), |b| b.iter(|| black_box(k.encapsulate(&ek).unwrap())));
        group.bench_function(format!("{backend}/decaps"), |b| b.iter(|| black_box(k.decapsulate(&dk, &ct).unwrap())));
    }
    group.finish();
}

fn ml_dsa_65(c: &mut Criterion) {
    let root = CertificateAuthority::new_root("bench root", SignatureAlgorithm::MlDsa65, DAY).unwrap();
    let id = root.issue(&LeafProfile::new("bench", LeafUsage::Client)).unwrap();
    let signer = MlDsaSigner::from_certified_key(&id).unwrap();
    let msg = vec![0x5a; 1184 + 32]; // an ML-KEM-768 key plus a label, what the xApp signs
    let sig = signer.sign(&msg).unwrap();
    let mut group = c.benchmark_group("ml-dsa-65");
    group.bench_function("keygen", |b| b.iter(|| black_box(MlDsaSigner::generate(SignatureAlgorithm::MlDsa65))));
    group.bench_function("sign", |b| b.iter(|| black_box(signer.sign(&msg).unwrap())));
    group.bench_function("verify", |b| {
        b.iter(|| verify_with_public_key(SignatureAlgorithm::MlDsa65, signer.public_key(), &msg, &sig).unwrap())
    });
    group.bench_function("verify-with-certificate", |b| b.iter(|| verify_with_certificate(id.leaf(), &msg, &sig)));
    group.finish();
}

/// Server and client configs for mutual TLS with `alg` keys (root -> issuing CA -> leaves).
fn configs(alg: SignatureAlgorithm, kx: KeyExchangePolicy) -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let auth = if alg.is_post_quantum() { AuthPolicy::MlDsaOnly } else { AuthPolicy::Any };
    let root = CertificateAuthority::new_root("bench root", alg, DAY).unwrap();
    let issuing = root.new_intermediate("bench issuing", alg, DAY).unwrap();
    let server_id = issuing
        .issue(&LeafProfile::new("e2term", LeafUsage::Server).with_dns_name(SERVER_NAME).with_algorithm(alg))
        .unwrap();
    let client_id = issuing.issue(&LeafProfile::new("xapp", LeafUsage::Client).with_algorithm(alg)).unwrap();
    let roots = [root.certificate().clone()];
    let server = server_config(&server_id, Some(&roots), kx, auth).unwrap();
    let client = client_config(&roots, Some(&client_id), kx, auth).unwrap();
    let mut client = (*client).clone();
    client.resumption = rustls::client::Resumption::disabled(); // every iteration is a full handshake
    (server, Arc::new(client))
}

fn handshake(server: &Arc<ServerConfig>, client: &Arc<ClientConfig>) -> (usize, usize) {
    let mut s = ServerConnection::new(server.clone()).unwrap();
    let mut c = ClientConnection::new(client.clone(), ServerName::try_from(SERVER_NAME).unwrap()).unwrap();
    common::handshake_in_memory(&mut c, &mut s).unwrap()
}

fn tls_handshake(c: &mut Criterion) {
    let setups = [
        ("ml-dsa-65+x25519mlkem768", SignatureAlgorithm::MlDsa65, KeyExchangePolicy::HybridPreferred),
        ("ecdsa-p256+x25519", SignatureAlgorithm::EcdsaP256, KeyExchangePolicy::ClassicalOnly),
        ("ecdsa-p256+x25519mlkem768", SignatureAlgorithm::EcdsaP256, KeyExchangePolicy::HybridPreferred),
    ];
    let mut group = c.benchmark_group("tls13-mutual-handshake");
    for (name, alg, kx) in setups {
        let (server, client) = configs(alg, kx);
        let (to_server, to_client) = handshake(&server, &client);
        eprintln!("{name}: {to_server} bytes client->server, {to_client} bytes server->client");
        group.bench_function(name, |b| b.iter(|| black_box(handshake(&server, &client))));
    }
    group.finish();
}

fn config() -> Criterion {
    // Short runs: the machine is shared; medians over 40 samples are stable to a few percent.
    Criterion::default().sample_size(40).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4))
}

criterion_group! { name = benches; config = config(); targets = ml_kem_768, ml_dsa_65, tls_handshake }
criterion_main!(benches);
