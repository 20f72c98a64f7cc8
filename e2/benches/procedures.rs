//! E2AP procedure throughput through the sans-IO state machines:
//!
//! * `ric_indication_dispatch/kpm_1KiB`: `Ric::handle_pdu` + `Ric::poll_event`
//!   for a RIC INDICATION whose E2SM-KPM indication message is ~1 KiB —
//!   decode, subscription lookup, event (what the xApp pays per indication).
//! * `node_send_indication/kpm_1KiB`: `E2NodeAgent::send_indication` +
//!   `poll_transmit` (SN assignment and encoding, what a simulated node pays).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qsafe_asn1::kpm::{self, KpmPayload};
use qsafe_e2::back_to_back::{BackToBack, KPM_ACTION_ID};
use qsafe_e2::ric::Event;

/// A KPM indication header and a Format 1 message of about 1 KiB.
fn kpm_payload() -> (Vec<u8>, Vec<u8>) {
    let header = kpm::indication_header([0xE8, 0x5B, 0x2C, 0x10, 0, 0, 0, 0]).encode_aper().expect("header");
    let mut records = 100;
    loop {
        let items = (0..records)
            .map(|i| {
                if i % 4 == 0 {
                    kpm::record_real(f64::from(i) * 1.25)
                } else {
                    qsafe_asn1::kpm_asn::MeasurementRecordItem::integer(i * 1000)
                }
            })
            .collect();
        let message = kpm::indication_message_format1(items, 1000).encode_aper().expect("message");
        if message.len() >= 1024 {
            return (header, message);
        }
        records += 10;
    }
}

fn procedures(c: &mut Criterion) {
    let (header, message) = kpm_payload();
    let mut p = BackToBack::new().expect("set up");
    p.node.send_indication(p.subscription, KPM_ACTION_ID, header.clone(), message.clone()).expect("indication");
    let (_, pdu) = p.node.poll_transmit().map(|t| (t.stream, t.bytes)).expect("pdu");
    eprintln!("RIC INDICATION: {} bytes (KPM message {} bytes)", pdu.len(), message.len());

    let mut group = c.benchmark_group("ric_indication_dispatch");
    group.throughput(Throughput::Elements(1));
    let (now, association) = (p.now, p.association);
    group.bench_function("kpm_1KiB", |b| {
        b.iter(|| {
            p.ric.handle_pdu(now, association, 0, black_box(&pdu)).expect("association");
            match p.ric.poll_event() {
                Some(Event::Indication(ind)) => black_box(ind),
                other => panic!("unexpected {other:?}"),
            };
        })
    });
    group.finish();

    let mut group = c.benchmark_group("node_send_indication");
    group.throughput(Throughput::Elements(1));
    let (header, message) = (bytes::Bytes::from(header), bytes::Bytes::from(message));
    group.bench_function("kpm_1KiB", |b| {
        b.iter(|| {
            p.node.send_indication(p.subscription, KPM_ACTION_ID, header.clone(), message.clone()).expect("indication");
            black_box(p.node.poll_transmit().expect("pdu"));
        })
    });
    group.finish();
}

criterion_group!(benches, procedures);
criterion_main!(benches);
