//! Fuzzes the eight E2SM-QKD v01.00 payload decoders (the octet strings of
//! the E2SM-QKD RAN function: definition, event trigger, action definition,
//! indication header/message, control header/message/outcome) and
//! `decode_control`.
//!
//! The first input byte (mod 9) selects the decoder: 0 RANfunction-Definition,
//! 1 EventTrigger, 2 ActionDefinition, 3 IndicationHeader, 4
//! IndicationMessage, 5 ControlHeader, 6 ControlMessage, 7 ControlOutcome;
//! 8 `decode_control` with the second byte as the header length. The rest is
//! the APER payload. Properties:
//! * decoding never panics (errors are `Decode` or `Invalid`);
//! * a decoded payload encodes (the field rules hold after decoding), the
//!   encoding decodes to an equal value, and encoding that again gives the
//!   same bytes.
#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use qsafe_asn1::e2sm_qkd::*;

fn round_trip<T: E2smQkdPayload + PartialEq + Debug>(data: &[u8]) -> Option<T> {
    let value = T::decode(data).ok()?;
    let bytes = match value.encode() {
        Ok(b) => b,
        Err(e) => panic!("{}: decoded value does not encode: {e}\n{value:?}", T::NAME),
    };
    let back = match T::decode(&bytes) {
        Ok(v) => v,
        Err(e) => panic!("{}: re-encoded value does not decode: {e}\nbytes: {bytes:02x?}\n{value:?}", T::NAME),
    };
    assert_eq!(back, value, "{}: APER round trip changed the value", T::NAME);
    match back.encode() {
        Ok(again) => assert_eq!(again, bytes, "{}: APER encoding is not a fixed point", T::NAME),
        Err(e) => panic!("{}: value does not encode a second time: {e}", T::NAME),
    }
    Some(value)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    match selector % 9 {
        0 => drop(round_trip::<RanFunctionDefinition>(payload)),
        1 => drop(round_trip::<EventTrigger>(payload)),
        2 => drop(round_trip::<ActionDefinition>(payload)),
        3 => drop(round_trip::<IndicationHeader>(payload)),
        4 => drop(round_trip::<IndicationMessage>(payload)),
        5 => drop(round_trip::<ControlHeader>(payload)),
        6 => drop(round_trip::<ControlMessage>(payload)),
        7 => drop(round_trip::<ControlOutcome>(payload)),
        _ => {
            let Some((&split, rest)) = payload.split_first() else {
                return;
            };
            let split = usize::from(split).min(rest.len());
            let (header, message) = rest.split_at(split);
            if let Ok((h, m)) = decode_control(header, message) {
                assert_eq!(h.command, m.command(), "decode_control accepted a header that does not match");
                let h2 = round_trip::<ControlHeader>(header).expect("accepted header decodes alone");
                let m2 = round_trip::<ControlMessage>(message).expect("accepted message decodes alone");
                assert_eq!((h2, m2), (h, m));
            }
        }
    }
});
