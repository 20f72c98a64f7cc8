//! Bug 2: rasn 0.30's APER (and UPER) codec has no REAL. X.691 §15 encodes a
//! REAL as an unconstrained length determinant followed by the X.690 CER
//! contents octets, so REAL 1.5 is `03 80 ff 03` in both APER and UPER
//! (pycrate 0.8.1).
//!
//! Every test here FAILS on rasn 0.30.0 with "Decoder doesn't support `REAL`
//! type" / "Encoder doesn't support `REAL` type".

use rasn::{aper, uper};
use rasn_bugs_repro::{expected, hex, unhex};

#[test]
fn aper_decodes_real() {
    let decoded = aper::decode::<f64>(&unhex(expected::REAL_1_5));
    assert_eq!(decoded.map_err(|e| e.to_string()), Ok(1.5));
}

#[test]
fn aper_encodes_real() {
    let encoded = aper::encode(&1.5f64).map(|b| hex(&b));
    assert_eq!(encoded.map_err(|e| e.to_string()), Ok(expected::REAL_1_5.to_string()));
}

#[test]
fn uper_decodes_real() {
    let decoded = uper::decode::<f64>(&unhex(expected::REAL_1_5));
    assert_eq!(decoded.map_err(|e| e.to_string()), Ok(1.5));
}

#[test]
fn uper_encodes_real() {
    let encoded = uper::encode(&1.5f64).map(|b| hex(&b));
    assert_eq!(encoded.map_err(|e| e.to_string()), Ok(expected::REAL_1_5.to_string()));
}
