//! Fuzzes the whole-PDU E2AP decoder (the bytes an E2 node or a RIC sends
//! over SCTP) and the raw re-encoder used by the conformance tests.
//!
//! Properties (any violation panics, i.e. is a finding):
//! * `E2apPdu::decode_with_report` and `reencode_raw` never panic;
//! * typed round trip: a decoded PDU encodes, and the re-encoded bytes decode
//!   to an equal PDU with nothing skipped;
//! * JER round trip: `to_jer` succeeds and `from_jer` (also after a JSON text
//!   round trip) gives back an equal PDU;
//! * raw re-encoding is a fixed point: re-encoding its own output gives the
//!   same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qsafe_asn1::e2ap::{E2apPdu, reencode_raw};

mod known_bugs;

fuzz_target!(|data: &[u8]| {
    if let Ok(raw) = reencode_raw(data) {
        match reencode_raw(&raw) {
            Ok(again) => assert_eq!(again, raw, "raw APER re-encoding is not a fixed point"),
            Err(e) => panic!("raw APER re-encoding does not decode again: {e}"),
        }
    }

    let Ok((pdu, _report)) = E2apPdu::decode_with_report(data) else {
        return;
    };

    let bytes = match pdu.encode() {
        Ok(b) => b,
        Err(e) => panic!("{}: decoded PDU does not encode: {e}\n{pdu:?}", pdu.name()),
    };
    match E2apPdu::decode_with_report(&bytes) {
        Ok((back, report)) => {
            assert_eq!(back, pdu, "typed APER round trip changed the PDU");
            assert!(report.skipped.is_empty(), "re-encoded PDU has skipped IEs: {report:?}");
        }
        Err(e) => panic!("{}: re-encoded PDU does not decode: {e}\nbytes: {bytes:02x?}", pdu.name()),
    }

    let jer = match pdu.to_jer() {
        Ok(j) => j,
        Err(e) if known_bugs::skip_jer_error(&e.to_string()) => return,
        Err(e) => panic!("{}: decoded PDU has no JER view: {e}\n{pdu:?}", pdu.name()),
    };
    match E2apPdu::from_jer(&jer) {
        Ok(back) => assert_eq!(back, pdu, "JER round trip changed the PDU\nJER: {jer}"),
        Err(e) => panic!("{}: JER view does not read back: {e}\nJER: {jer}", pdu.name()),
    }
    let text = jer.to_string();
    let reparsed: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => panic!("JER text does not parse: {e}\n{text}"),
    };
    match E2apPdu::from_jer(&reparsed) {
        Ok(back) => assert_eq!(back, pdu, "JER text round trip changed the PDU\nJER: {text}"),
        Err(e) => panic!("{}: JER text does not read back: {e}\nJER: {text}", pdu.name()),
    }
});
