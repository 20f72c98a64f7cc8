//! Fuzzes `Ric::handle_pdu`: the RIC side of E2AP receiving whatever an E2
//! node (or anyone who reached the E2 port) sends over SCTP.
//!
//! State (rebuilt per input, see `harness.rs`): one association with a
//! set-up node, one established KPM subscription (`1001/1`), one control
//! request awaiting its acknowledge (`1001/2`). The input is one SCTP
//! message on stream 0. Then every timer is fired.
//!
//! Properties (any violation panics, i.e. is a finding):
//! * `handle_pdu` never panics and never fails for a known association;
//! * every PDU the RIC transmits decodes with `E2apPdu::decode`, goes to
//!   the one association, and is on the right stream (answers on stream 0,
//!   RIC-initiated procedures on `RicConfig::stream` = 1);
//! * `RicStats::error_indications_sent` counts exactly the Error
//!   Indications transmitted, each comes with a `ProtocolError` event, and
//!   an Error Indication is never answered with one;
//! * after the input, firing the timers quiesces within 32 rounds;
//! * subscriptions, associations and the registry agree with each other,
//!   and the RIC can still start a new subscription.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod harness;

fuzz_target!(|data: &[u8]| {
    let mut t = harness::ric_under_test();
    harness::exercise_ric(&mut t, data);
});
