//! Where the time of one E2 indication goes, stage by stage, through the
//! sans-IO state machines (no transport): sequenced KPM build
//! (`KpmTraffic::build`), node-side E2AP encode (`send_indication` +
//! `poll_transmit`), RIC-side decode and dispatch (`handle_pdu` +
//! `poll_event`) and the checker's `read_stamp`.
//!
//! ```sh
//! cargo run --release -p qsafe-e2 --example indication_cost -- [MESSAGE_BYTES] [ROUNDS]
//! ```
//!
//! Defaults: 65 536-byte KPM messages, 20 rounds. The kernel tier's 64 KiB
//! case used it to show that its former ~5 indications/s were not CPU (this
//! costs ~8 ms per indication in UML) but the SCTP receive buffer.

use qsafe_asn1::e2ap::build;
use qsafe_asn1::e2ap_asn as asn;
use qsafe_asn1::kpm::{self, KpmPayload};
use qsafe_e2::common::{ComponentConfig, RanFunction};
use qsafe_e2::driver::traffic::{KpmTraffic, read_stamp};
use qsafe_e2::node::{E2NodeAgent, E2NodeConfig, SubscriptionPolicy};
use qsafe_e2::ric::{AssociationId, Ric, RicConfig, SubscriptionRequest};
use qsafe_e2::{E2NodeId, RequestId};
use std::time::{Duration, Instant, SystemTime};
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

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let size = args.first().copied().unwrap_or(65_536);
    let n = args.get(1).copied().unwrap_or(20).clamp(1, 1_000_000) as u32;
    let t = KpmTraffic::new(&["DRB.UEThpDl"], 1000, size).expect("KPM traffic");
    let mut p = pair();
    let (mut tb, mut te, mut td, mut ts) = (Duration::ZERO, Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for i in 0..n {
        let t0 = Instant::now();
        let (h, m) = t.build(i.into(), SystemTime::now()).expect("build");
        tb += t0.elapsed();
        let t0 = Instant::now();
        p.node.send_indication(p.subscription, 1, h, m).expect("send");
        let tx = p.node.poll_transmit().expect("a PDU to send");
        te += t0.elapsed();
        let t0 = Instant::now();
        p.ric.handle_pdu(p.now, p.association, tx.stream, &tx.bytes).expect("association");
        let ev = p.ric.poll_event().expect("an event");
        td += t0.elapsed();
        let t0 = Instant::now();
        let qsafe_e2::ric::Event::Indication(ind) = ev else { panic!("expected an indication, got {ev:?}") };
        assert_eq!(read_stamp(&ind.header, &ind.message).expect("stamp").seq, u64::from(i));
        ts += t0.elapsed();
    }
    println!(
        "{size}-byte KPM message, mean of {n}: KPM build {:?}, E2AP encode {:?}, RIC decode+dispatch {:?}, read_stamp {:?}",
        tb / n,
        te / n,
        td / n,
        ts / n
    );
}
