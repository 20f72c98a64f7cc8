//! Fuzzes `E2NodeAgent::handle_pdu`: the E2 node side of E2AP receiving
//! whatever the RIC (or anyone on the path) sends over SCTP.
//!
//! State (rebuilt per input, see `harness.rs`): E2 Setup completed, one
//! active KPM subscription (`1001/1`, actions 1 and 2 admitted);
//! subscriptions are admitted and controls acknowledged at once
//! (`SubscriptionPolicy::AdmitAll`, `ControlPolicy::AcknowledgeAll`), so
//! valid requests are answered inside `handle_pdu`. The input is one SCTP
//! message on stream 0. Then up to 32 rounds of timers are fired.
//!
//! Properties (any violation panics, i.e. is a finding):
//! * `handle_pdu` never panics;
//! * every PDU the node transmits decodes with `E2apPdu::decode` and is on
//!   the right stream (answers on stream 0, node-initiated procedures on
//!   `E2NodeConfig::stream` = 1);
//! * `NodeStats::error_indications_sent` counts exactly the Error
//!   Indications transmitted, each comes with a `ProtocolError` event, and
//!   an Error Indication is never answered with one;
//! * every active subscription has at least one admitted action, and only
//!   actions the RIC asked for.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod harness;

fuzz_target!(|data: &[u8]| {
    let mut t = harness::node_under_test();
    harness::exercise_node(&mut t, data);
});
