//! Fuzzes the X.690 REAL contents decoder used for the E2SM-KPM `REAL`
//! alternatives (`MeasurementRecordItem.real`, bin range and test values).
//!
//! Properties:
//! * `real::decode` never panics;
//! * any non-NaN value it returns survives `encode` → `decode` bit for bit
//!   (sign of zero and infinities included);
//! * NaN encodes to contents that decode to NaN again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qsafe_asn1::real;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = real::decode(data) else {
        return;
    };
    let contents = real::encode(v);
    match real::decode(&contents) {
        Ok(back) if v.is_nan() => assert!(back.is_nan(), "NaN encoded as {contents:02x?} decodes to {back}"),
        Ok(back) => assert_eq!(
            back.to_bits(),
            v.to_bits(),
            "{v:e} ({:#018x}) encoded as {contents:02x?} decodes to {back:e} ({:#018x})",
            v.to_bits(),
            back.to_bits()
        ),
        Err(e) => panic!("{v:e} encoded as {contents:02x?} does not decode: {e}"),
    }
});
