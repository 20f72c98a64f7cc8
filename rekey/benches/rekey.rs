//! One full rekey (RIC start -> node -> outcome -> RIC done) and its parts.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use qsafe_pqc::kem::{AwsLcKem, Kem, KemAlgorithm};
use qsafe_pqc::pki::{CertificateAuthority, LeafProfile, LeafUsage, SignatureAlgorithm};
use qsafe_qkd::api::{Key, KeyId, KeyMaterial};
use qsafe_rekey::e2sm_qkd::{ControlMessage, KeySourceMode};
use qsafe_rekey::{
    LocalIdentity, NodeAction, NodeLink, NodeLinkConfig, RicAction, RicLink, RicLinkConfig, SpiAllocator, TrustAnchors,
    tbs,
};

fn bench(c: &mut Criterion) {
    const YEAR: Duration = Duration::from_secs(365 * 86_400);
    let root = CertificateAuthority::new_root("root", SignatureAlgorithm::MlDsa65, YEAR).unwrap();
    let ric_key = root.issue(&LeafProfile::new("xapp", LeafUsage::Client)).unwrap();
    let node_key = root.issue(&LeafProfile::new("gnb", LeafUsage::Client)).unwrap();
    let anchors = Arc::new(TrustAnchors::from_der(vec![root.certificate().clone()]).unwrap());
    let ric_id = Arc::new(LocalIdentity::from_certified_key(&ric_key).unwrap());
    let node_id = Arc::new(LocalIdentity::from_certified_key(&node_key).unwrap());
    let mut nc = NodeLinkConfig::new("gnb", "kme-b");
    nc.hard_cap = Duration::from_secs(1);
    nc.grace = Duration::ZERO;
    let mut rc = RicLinkConfig::new("ric", "gnb");
    rc.grace = Duration::ZERO;
    let mut ric = RicLink::new(rc, ric_id.clone(), anchors.clone());
    let kem: Arc<dyn Kem> = Arc::new(AwsLcKem::new(KemAlgorithm::MlKem768).unwrap());
    let mut node = NodeLink::new(nc, node_id.clone(), anchors.clone(), kem.clone()).unwrap();
    let wall = SystemTime::now();
    ric.on_ran_function(&node.ran_function_definition().unwrap(), wall).unwrap();
    let mut spis = SpiAllocator::starting_at(0x1000);
    let mut now = Instant::now();
    let mut n: u64 = 0;

    c.bench_function("rekey/full hybrid (RIC start -> node -> outcome -> done)", |b| {
        b.iter(|| {
            n += 1;
            now += Duration::from_millis(10);
            let mut idb = [0u8; 16];
            idb[..8].copy_from_slice(&n.to_be_bytes());
            let id = KeyId::from_random_bytes(idb);
            let key = Key::new(id, KeyMaterial::from_slice(&[7u8; 32]));
            let pair = spis.allocate_pair().unwrap();
            ric.start_rekey(now, KeySourceMode::QkdAndPqc, Some(key), pair).unwrap();
            let mut outcome = None;
            while let Some(a) = ric.poll_action() {
                if let RicAction::SendControl { header, message } = a {
                    node.on_control(&header, &message, wall, now).unwrap();
                }
            }
            while let Some(a) = node.poll_action() {
                match a {
                    NodeAction::FetchQkdKey { key_id, .. } => {
                        node.on_qkd_key(Ok(Key::new(key_id, KeyMaterial::from_slice(&[7u8; 32]))), now).unwrap();
                    }
                    NodeAction::SendOutcome { outcome: o, .. } => outcome = Some(o),
                    _ => {}
                }
            }
            assert!(ric.on_outcome(&outcome.unwrap(), now).unwrap());
            while let Some(a) = ric.poll_action() {
                if let RicAction::DataPlane(qsafe_rekey::DataPlaneOp::Delete { spi, .. }) = a {
                    spis.release(spi);
                }
            }
            // old SAs: delete at once so the tables stay small
            now += Duration::from_secs(2);
            ric.handle_timeout(now);
            node.on_sa_usage(node.current_epoch(), 1, now);
            node.handle_timeout(now);
            while let Some(a) = ric.poll_action() {
                if let RicAction::DataPlane(qsafe_rekey::DataPlaneOp::Delete { spi, .. }) = a {
                    spis.release(spi);
                }
            }
            while node.poll_action().is_some() {}
        })
    });

    // Parts.
    let pair = spis.allocate_pair().unwrap();
    ric.start_rekey(now, KeySourceMode::AtLeastPqc, None, pair).unwrap();
    let mut cmd = None;
    while let Some(a) = ric.poll_action() {
        if let RicAction::SendControl { message: ControlMessage::Rekey(c), .. } = a {
            cmd = Some(c);
        }
    }
    let cmd = cmd.unwrap();
    let t = tbs::rekey_tbs(&cmd).unwrap();
    c.bench_function("rekey/part: ML-DSA-65 sign (rekey TBS)", |b| b.iter(|| ric_id.sign(black_box(&t)).unwrap()));
    let peer = anchors.verify_chain(&ric_id.chain, wall).unwrap();
    c.bench_function("rekey/part: ML-DSA-65 verify (rekey TBS)", |b| {
        b.iter(|| peer.verify(black_box(&t), &cmd.signature).unwrap())
    });
    c.bench_function("rekey/part: chain verify (webpki, 1 ML-DSA-65 cert)", |b| {
        b.iter(|| anchors.verify_chain(black_box(&ric_id.chain), wall).unwrap())
    });
    let (ek, dk) = kem.generate().unwrap();
    c.bench_function("rekey/part: ML-KEM-768 keygen", |b| b.iter(|| kem.generate().unwrap()));
    c.bench_function("rekey/part: ML-KEM-768 encapsulate", |b| b.iter(|| kem.encapsulate(black_box(&ek)).unwrap()));
    let (ct, _) = kem.encapsulate(&ek).unwrap();
    c.bench_function("rekey/part: ML-KEM-768 decapsulate", |b| {
        b.iter(|| kem.decapsulate(&dk, black_box(&ct)).unwrap())
    });
    let ctx = qsafe_hybrid::LinkContext {
        ric_id: b"ric",
        node_id: b"gnb",
        epoch: 1,
        spi_ric_to_node: 0x1000,
        spi_node_to_ric: 0x1001,
        transcript: &t,
    };
    let q = qsafe_hybrid::QkdKey { key_id: qsafe_hybrid::KeyId::from_bytes([1; 16]), key: &[7u8; 32] };
    c.bench_function("rekey/part: derive (HKDF-SHA-384, both directions)", |b| {
        b.iter(|| {
            qsafe_hybrid::derive(qsafe_hybrid::Mode::QkdAndPqc, Some(q), Some(&[9u8; 32]), black_box(&ctx)).unwrap()
        })
    });
    c.bench_function("rekey/part: rekey TBS", |b| b.iter(|| tbs::rekey_tbs(black_box(&cmd)).unwrap()));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500));
    targets = bench
}
criterion_main!(benches);
