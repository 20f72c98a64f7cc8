//! E2AP procedure throughput through the sans-IO state machines:
//!
//! * `ric_indication_dispatch/kpm_1KiB`: `Ric::handle_pdu` + `Ric::poll_event`
//!   for a RIC INDICATION whose E2SM-KPM indication message is ~1 KiB —
//!   decode, subscription lookup, event (what the xApp pays per indication).
//! * `node_send_indication/kpm_1KiB`: `E2NodeAgent::send_indication` +
//!   `poll_transmit` (SN assignment and encoding, what a simulated node pays).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qsafe_asn1::e2ap::build;
use qsafe_asn1::e2ap_asn as asn;
use qsafe_asn1::kpm::{self, KpmPayload};
use qsafe_e2::common::{ComponentConfig, RanFunction};
use qsafe_e2::node::{E2NodeAgent, E2NodeConfig, SubscriptionPolicy};
use qsafe_e2::ric::{AssociationId, Event, Ric, RicConfig, SubscriptionRequest};
use qsafe_e2::{E2NodeId, RequestId};

struct Pair {
    ric: Ric,
    node: E2NodeAgent,
    association: AssociationId,
    subscription: RequestId,
    now: Instant,
}

impl Pair {
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some((_, t)) = self.ric.poll_transmit() {
                moved = true;
                self.node.handle_pdu(self.now, t.stream, &t.bytes);
            }
            while let Some(t) = self.node.poll_transmit() {
                moved = true;
                self.ric.handle_pdu(self.now, self.association, t.stream, &t.bytes).expect("association");
            }
            if !moved {
                break;
            }
        }
        while self.ric.poll_event().is_some() {}
        while self.node.poll_event().is_some() {}
    }
}

fn pair() -> Pair {
    let now = Instant::now();
    let ric_id = build::ric_id(build::plmn("001", "01").expect("plmn"), 5).expect("ric id");
    let mut ric = Ric::new(RicConfig::new(ric_id, 1001));
    let node_id = E2NodeId::gnb("001", "01", 0xE000, 28).expect("node id");
    let definition = kpm::ran_function_description(&["DRB.UEThpDl"]).expect("kpm").encode_aper().expect("enc");
    let mut config = E2NodeConfig::new(
        node_id.clone(),
        vec![RanFunction::new(2, 1, kpm::RAN_FUNCTION_OID, definition)],
        vec![ComponentConfig::f1(7, b"req".to_vec(), b"resp".to_vec()).expect("f1")],
    );
    config.subscription_policy = SubscriptionPolicy::AdmitAll;
    let mut node = E2NodeAgent::new(config).expect("agent");
    let association = ric.connection_up(now);
    node.connection_up(now);
    let mut p = Pair { ric, node, association, subscription: RequestId::new(0, 0), now };
    p.pump();
    let action_definition =
        kpm::action_definition_format1(&["DRB.UEThpDl"], 1000).expect("def").encode_aper().expect("enc");
    let request = SubscriptionRequest {
        ran_function_id: 2,
        event_trigger: kpm::periodic_trigger(1000).encode_aper().expect("trigger").into(),
        actions: vec![build::action(1, asn::RICactionType::report, Some(&action_definition))],
    };
    p.subscription = p.ric.subscribe(now, &node_id, request, Duration::from_secs(2)).expect("subscribe");
    p.pump();
    p
}

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
    let mut p = pair();
    p.node.send_indication(p.subscription, 1, header.clone(), message.clone()).expect("indication");
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
            p.node.send_indication(p.subscription, 1, header.clone(), message.clone()).expect("indication");
            black_box(p.node.poll_transmit().expect("pdu"));
        })
    });
    group.finish();
}

criterion_group!(benches, procedures);
criterion_main!(benches);
