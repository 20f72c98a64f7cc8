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

use std::time::{Duration, Instant, SystemTime};

use qsafe_e2::back_to_back::{BackToBack, KPM_ACTION_ID};
use qsafe_e2::driver::traffic::{KpmTraffic, read_stamp};
fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let size = args.first().copied().unwrap_or(65_536);
    let n = args.get(1).copied().unwrap_or(20).clamp(1, 1_000_000) as u32;
    let t = KpmTraffic::new(&["DRB.UEThpDl"], 1000, size).expect("KPM traffic");
    let mut p = BackToBack::new().expect("set up");
    let (mut tb, mut te, mut td, mut ts) = (Duration::ZERO, Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for i in 0..n {
        let t0 = Instant::now();
        let (h, m) = t.build(i.into(), SystemTime::now()).expect("build");
        tb += t0.elapsed();
        let t0 = Instant::now();
        p.node.send_indication(p.subscription, KPM_ACTION_ID, h, m).expect("send");
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
