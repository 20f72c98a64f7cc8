//! What one E2 link rekey costs in key material, end to end, per ML-KEM
//! backend: take a **buffered QKD key** from a `qsafe_qkd::prefetch::
//! PrefetchBuffer` (refilled in the background from the sans-IO KME model
//! `qsafe_qkd::kme::KmeLink`, as the xApp's buffer is refilled from a KME),
//! **ML-KEM-768 encapsulate** to the node's ephemeral key (xApp side),
//! **decapsulate** (node side), and **derive** both ends' ESP keys with the
//! hybrid combiner (`derive` once per end, `qkd-and-pqc`), checking the two
//! ends agree.
//!
//! Groups: `rekey/aws-lc`, `rekey/oqs` (with `--features oqs`) and, for
//! scale, `derive_only` and `take_qkd_key` alone.
//!
//!     cargo bench -p qsafe-hybrid --bench link_key [--features oqs]

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use qsafe_hybrid::{KeyId, LinkContext, Mode, QkdKey, Role, derive};
use qsafe_pqc::kem::{Kem, KemAlgorithm, KemBackend, kem};
use qsafe_qkd::api::{Key, KeyContainer, KeyRequest};
use qsafe_qkd::client::ClientError;
use qsafe_qkd::kme::{KmeLink, LinkConfig, Site};
use qsafe_qkd::prefetch::{KeySource, PrefetchBuffer, RefillPolicy};

/// enc_keys at site A for the node's SAE, straight from the KME model.
#[derive(Clone)]
struct ModelKme(Arc<Mutex<KmeLink>>);

impl KeySource for ModelKme {
    fn fetch(
        &self,
        number: u32,
        size: Option<u32>,
    ) -> impl std::future::Future<Output = Result<KeyContainer, ClientError>> + Send {
        let link = self.0.clone();
        async move {
            let mut link = link.lock().unwrap_or_else(|p| p.into_inner());
            let request = KeyRequest::new(number, size);
            Ok(link.enc_keys(Site::A, "ric-xapp", "e2node-1", &request, Instant::now()).expect("enc_keys"))
        }
    }
}

fn buffer(rt: &tokio::runtime::Runtime) -> PrefetchBuffer {
    // A fast link (1 Gb/s, far above any real QKD link) so the bench measures
    // our code, not the simulated secret key rate.
    let config = LinkConfig {
        secret_key_rate_bps: 1_000_000_000,
        initial_key_count: 50_000,
        max_key_count: 1_000_000,
        ..LinkConfig::default()
    };
    let link = KmeLink::new(config, Instant::now()).expect("link");
    let policy = RefillPolicy { low_water: 2048, capacity: 8192, batch: 128, ..RefillPolicy::default() };
    let _guard = rt.enter();
    PrefetchBuffer::spawn_with_source(ModelKme(Arc::new(Mutex::new(link))), policy, None).expect("buffer")
}

fn take(rt: &tokio::runtime::Runtime, buf: &PrefetchBuffer) -> Key {
    match buf.take() {
        Some(k) => k,
        None => rt.block_on(buf.take_wait(Duration::from_secs(5))).expect("a QKD key"),
    }
}

fn context(transcript: &[u8]) -> LinkContext<'_> {
    LinkContext {
        ric_id: b"ric-xapp",
        node_id: b"gNB/001-01/0x1000:28",
        epoch: 7,
        spi_ric_to_node: 0x1000_0007,
        spi_node_to_ric: 0x2000_0007,
        transcript,
    }
}

fn rekey(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let buf = buffer(&rt);
    let transcript = vec![0x5A; 2048];
    let ctx = context(&transcript);

    let mut backends = vec![("aws-lc", KemBackend::AwsLc)];
    if KemBackend::Oqs.is_available() {
        backends.push(("oqs", KemBackend::Oqs));
    }
    let mut group = c.benchmark_group("rekey");
    for (name, backend) in backends {
        let k: Box<dyn Kem> = kem(KemAlgorithm::MlKem768, backend).expect("kem");
        // The node's ephemeral key pair (made once per epoch, outside the rekey).
        let (ek, dk) = k.generate().expect("keypair");
        group.bench_function(name, |b| {
            b.iter(|| {
                let qkd = take(&rt, &buf);
                let key_id = KeyId::from_bytes(*qkd.key_id.as_uuid().as_bytes());
                let q = QkdKey { key_id, key: qkd.key.as_bytes() };
                let (ct, ss_ric) = k.encapsulate(&ek).expect("encaps");
                let ss_node = k.decapsulate(&dk, &ct).expect("decaps");
                let ric = derive(Mode::QkdAndPqc, Some(q), Some(ss_ric.expose_secret()), &ctx).expect("ric");
                let node = derive(Mode::QkdAndPqc, Some(q), Some(ss_node.expose_secret()), &ctx).expect("node");
                assert_eq!(ric.outbound(Role::Ric).key(), node.inbound(Role::E2Node).key());
                black_box((ric, node))
            })
        });
    }
    group.finish();

    let qkd = take(&rt, &buf);
    let q = QkdKey { key_id: KeyId::from_bytes(*qkd.key_id.as_uuid().as_bytes()), key: qkd.key.as_bytes() };
    let secret = [0x42u8; 32];
    c.bench_function("derive_only", |b| {
        b.iter(|| black_box(derive(Mode::QkdAndPqc, Some(q), Some(&secret), &ctx).expect("derive")))
    });
    c.bench_function("take_qkd_key", |b| b.iter(|| black_box(take(&rt, &buf))));
}

criterion_group!(benches, rekey);
criterion_main!(benches);
