//! Sans-IO throughput of the KME link model: one enc_keys at site A followed by the slave's
//! dec_keys at site B, per iteration, for 1 and for 16 keys of 256 bits per request.
//!
//!     cargo bench -p qsafe-qkd --bench kme

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use qsafe_qkd::api::{KeyIds, KeyRequest};
use qsafe_qkd::kme::{KmeLink, LinkConfig, Site};

fn enc_dec_pairs(c: &mut Criterion) {
    let mut group = c.benchmark_group("kme_enc_dec_pair");
    for number in [1u32, 16] {
        group.throughput(Throughput::Elements(u64::from(number)));
        group.bench_with_input(BenchmarkId::new("keys_per_request", number), &number, |b, &number| {
            let t0 = Instant::now();
            // A fast link (1 Gb/s) so the pool never runs dry: each iteration advances the
            // model's clock by 10 µs (10 000 bits), more than 16 x 256 bits.
            let config = LinkConfig {
                secret_key_rate_bps: 1_000_000_000,
                initial_key_count: 100_000,
                seed: Some(1),
                ..LinkConfig::default()
            };
            let mut link = KmeLink::new(config, t0).expect("valid config");
            let req = KeyRequest::new(number, None);
            let mut now = t0;
            b.iter(|| {
                now += Duration::from_micros(10);
                let issued = link.enc_keys(Site::A, "SAE_M", "SAE_S", &req, now).expect("enc_keys");
                let ids = KeyIds::new(issued.keys.iter().map(|k| k.key_id));
                let fetched = link.dec_keys(Site::B, "SAE_S", "SAE_M", &ids, now).expect("dec_keys");
                assert_eq!(fetched.keys.len(), number as usize);
                fetched
            });
        });
    }
    group.finish();
}

criterion_group!(benches, enc_dec_pairs);
criterion_main!(benches);
