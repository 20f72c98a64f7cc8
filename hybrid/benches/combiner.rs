//! Cost of one [`qsafe_hybrid::derive`] (both directions of one link), per
//! key source: `derive/hybrid` (32-byte QKD key + ML-KEM secret),
//! `derive/qkd` and `derive/pqc`. One call is one SHA-384 of the transcript
//! (1 KiB here), one HKDF-Extract and two HKDF-Expands of 36 bytes. The ML-KEM
//! encapsulation / decapsulation that produces the secret is not included.
//!
//! ```text
//! cargo bench -p qsafe-hybrid --bench combiner
//! ```

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use qsafe_hybrid::{KeyId, LinkContext, Mode, QkdKey, derive};

fn combiner(c: &mut Criterion) {
    let qkd_bytes = [0x3Cu8; 32];
    let pqc = [0xC3u8; 32];
    let transcript = vec![0x5Au8; 1024];
    let ctx = LinkContext {
        ric_id: b"ric-001-01-00005",
        node_id: b"gnb-001-01-0000e000-28",
        epoch: 42,
        spi_ric_to_node: 0x1000_002A,
        spi_node_to_ric: 0x2000_002A,
        transcript: &transcript,
    };
    let qkd = QkdKey { key_id: KeyId::from_bytes([0xAB; 16]), key: &qkd_bytes };

    let mut group = c.benchmark_group("derive");
    for (label, mode, q, p) in [
        ("hybrid", Mode::QkdAndPqc, Some(qkd), Some(&pqc[..])),
        ("qkd", Mode::AtLeastQkd, Some(qkd), None),
        ("pqc", Mode::AtLeastPqc, None, Some(&pqc[..])),
    ] {
        assert!(derive(mode, q, p, &ctx).is_ok(), "{label}");
        group.bench_function(BenchmarkId::from_parameter(label), |b| {
            b.iter(|| derive(black_box(mode), black_box(q), black_box(p), black_box(&ctx)))
        });
    }
    group.finish();
}

criterion_group!(benches, combiner);
criterion_main!(benches);
