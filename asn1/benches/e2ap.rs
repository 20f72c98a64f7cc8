//! E2AP codec throughput: RICindication with a 1 KiB and a 16 KiB message and
//! an E2setupRequest, encode and decode through the typed layer.
//! `scripts/bench-codec.sh` runs this and the same PDUs through pycrate and
//! prints the ratio.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use qsafe_asn1::e2ap::{E2SetupRequest, E2apPdu, RicIndication, build};
use qsafe_asn1::e2ap_asn as asn;
use std::hint::black_box;

/// The benchmark PDUs (`tests/conformance/pycrate_bench.py` builds the same values).
fn pdus() -> Vec<(&'static str, E2apPdu)> {
    let indication = |len: usize| {
        E2apPdu::from(RicIndication {
            ric_request_id: build::request_id(1001, 7),
            ran_function_id: asn::RANfunctionID(2),
            action_id: asn::RICactionID(1),
            sn: Some(asn::RICindicationSN(4242)),
            indication_type: asn::RICindicationType::report,
            header: asn::RICindicationHeader(vec![0xA5; 16].into()),
            message: asn::RICindicationMessage((0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into()),
            call_process_id: None,
        })
    };
    let plmn = build::plmn("001", "01").expect("plmn");
    let setup = E2apPdu::from(E2SetupRequest {
        transaction_id: build::transaction_id(1),
        global_e2_node_id: build::gnb_node_id(plmn, 0xE000, 28).expect("gnb id"),
        ran_functions: (0..4)
            .map(|i| {
                build::ran_function(i, 1, qsafe_asn1::kpm::RAN_FUNCTION_OID, &[i as u8; 256]).expect("ran function")
            })
            .collect(),
        component_config_addition: vec![build::f1_component(7, &[1; 64], &[2; 64]).expect("component")],
    });
    vec![
        ("RICindication_1KiB", indication(1024)),
        ("RICindication_16KiB", indication(16 * 1024)),
        ("E2setupRequest", setup),
    ]
}

fn codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("e2ap");
    group.throughput(Throughput::Elements(1));
    // The encodings go next to criterion's results so pycrate_bench.py can
    // check it measures the very same bytes.
    let dump = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion/e2ap-pdus");
    let _ = std::fs::create_dir_all(&dump);
    for (name, pdu) in pdus() {
        let bytes = pdu.encode().expect("encode");
        let _ = std::fs::write(dump.join(format!("{name}.hex")), hex::encode(&bytes));
        group.bench_with_input(BenchmarkId::new("encode", name), &pdu, |b, pdu| {
            b.iter(|| black_box(pdu.encode().expect("encode")))
        });
        group.bench_with_input(BenchmarkId::new("decode", name), &bytes, |b, bytes| {
            b.iter(|| black_box(E2apPdu::decode(bytes).expect("decode")))
        });
    }
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
