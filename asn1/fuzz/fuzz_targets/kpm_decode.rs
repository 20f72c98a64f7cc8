//! Fuzzes the five E2SM-KPM v03.00 payload decoders (the octet strings an
//! E2 node puts in RAN function definitions, indication headers/messages, …).
//!
//! The first input byte (mod 5) selects the payload type, the rest is the
//! APER payload. Properties:
//! * decoding never panics;
//! * a decoded payload encodes, and the encoding decodes to an equal value;
//! * the encoding is a fixed point (encoding the re-decoded value gives the
//!   same bytes);
//! * for indication messages, every `MeasurementRecordItem` value can be read
//!   with `kpm::record_value` without panicking (REAL contents from the wire);
//! * JER (the view the tools and the pycrate cross-check use): when
//!   `KpmPayloadKind::decode_to_jer` succeeds, `encode_from_jer` gives the
//!   same APER bytes as `reencode`. Its one documented failure (INTEGERs
//!   outside the 64-bit range, which rasn's JER cannot show) is tolerated.
#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use qsafe_asn1::kpm::{self, KpmPayload, KpmPayloadKind};
use qsafe_asn1::kpm_asn as asn;

fn round_trip<T: KpmPayload + PartialEq + Debug>(data: &[u8]) -> Option<T> {
    let value = T::decode_aper(data).ok()?;
    let bytes = match value.encode_aper() {
        Ok(b) => b,
        Err(e) => panic!("{}: decoded value does not encode: {e}\n{value:?}", T::NAME),
    };
    let back = match T::decode_aper(&bytes) {
        Ok(v) => v,
        Err(e) => panic!("{}: re-encoded value does not decode: {e}\nbytes: {bytes:02x?}\n{value:?}", T::NAME),
    };
    assert_eq!(back, value, "{}: APER round trip changed the value", T::NAME);
    match back.encode_aper() {
        Ok(again) => assert_eq!(again, bytes, "{}: APER encoding is not a fixed point", T::NAME),
        Err(e) => panic!("{}: value does not encode a second time: {e}", T::NAME),
    }
    Some(value)
}

fn read_records(data: &asn::MeasurementData) {
    for item in &data.0 {
        for record in &item.meas_record.0 {
            let _ = kpm::record_value(record);
        }
    }
}

fn jer_round_trip(kind: KpmPayloadKind, payload: &[u8]) {
    let name = kind.asn1_name();
    let jer = match kind.decode_to_jer(payload) {
        Ok(j) => j,
        Err(kpm::KpmError::Encode { detail, .. }) if detail.contains("Exceeds supported integer range") => return,
        Err(kpm::KpmError::Decode { .. }) => return,
        Err(e) => panic!("{name}: decoded value has no JER view: {e}"),
    };
    let from_jer = match kind.encode_from_jer(&jer) {
        Ok(b) => b,
        Err(e) => panic!("{name}: JER view does not encode back: {e}\nJER: {jer}"),
    };
    match kind.reencode(payload) {
        Ok(aper) => assert_eq!(from_jer, aper, "{name}: JER round trip changed the value\nJER: {jer}"),
        Err(e) => panic!("{name}: decoded value does not re-encode: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    jer_round_trip(KpmPayloadKind::ALL[usize::from(selector % 5)], payload);
    match selector % 5 {
        0 => {
            round_trip::<asn::E2SMKPMRANfunctionDescription>(payload);
        }
        1 => {
            round_trip::<asn::E2SMKPMEventTriggerDefinition>(payload);
        }
        2 => {
            round_trip::<asn::E2SMKPMActionDefinition>(payload);
        }
        3 => {
            round_trip::<asn::E2SMKPMIndicationHeader>(payload);
        }
        _ => {
            if let Some(msg) = round_trip::<asn::E2SMKPMIndicationMessage>(payload) {
                use asn::E2SMKPMIndicationMessageIndicationMessageFormats as F;
                match &msg.indication_message_formats {
                    F::indicationMessage_Format1(f) => read_records(&f.meas_data),
                    F::indicationMessage_Format2(f) => read_records(&f.meas_data),
                    F::indicationMessage_Format3(f) => {
                        for report in &f.ue_meas_report_list.0 {
                            read_records(&report.meas_report.meas_data);
                        }
                    }
                    #[allow(unreachable_patterns)]
                    _ => {}
                }
            }
        }
    }
});
