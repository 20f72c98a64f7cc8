//! Conformance against PDUs we did not make: third-party captures (OSC e2sim,
//! srsRAN_4G, an E2setupResponse OSC e2sim accepted) and pycrate-encoded
//! vectors covering each codec trap, in `../shared/testvectors`.

mod common;

use std::path::{Path, PathBuf};

use qsafe_asn1::e2ap::{E2apPdu, reencode_raw};
use qsafe_asn1::kpm::{KpmPayload, record_value};
use qsafe_asn1::kpm_asn as kpm;

fn hex_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "hex"))
        .collect();
    v.sort();
    v
}

fn name(p: &Path) -> String {
    p.file_stem().expect("file name").to_string_lossy().into_owned()
}

#[test]
fn every_e2ap_vector_decodes_and_reencodes_byte_identically() {
    let Some(dir) = common::testvectors() else { return };
    let mut checked = 0;
    for sub in ["e2ap", "e2ap-pycrate"] {
        for path in hex_files(&dir.join(sub)) {
            let bytes = common::read_hex(&path);
            let n = name(&path);
            // Codec level: decode → encode through the generated types is byte-identical.
            assert_eq!(
                reencode_raw(&bytes).unwrap_or_else(|e| panic!("{n}: {e}")),
                bytes,
                "{n}: raw re-encode differs"
            );

            // Typed level.
            let (pdu, report) = E2apPdu::decode_with_report(&bytes).unwrap_or_else(|e| panic!("{n}: {e}"));
            let reencoded = pdu.encode().unwrap_or_else(|e| panic!("{n}: {e}"));
            assert_eq!(
                E2apPdu::decode(&reencoded).unwrap_or_else(|e| panic!("{n}: {e}")),
                pdu,
                "{n}: typed round trip"
            );
            if n.ends_with("unknownIE200_ignore") {
                assert_eq!(report.skipped.len(), 1, "{n}: the unknown IE must be reported");
                assert_eq!(report.skipped[0].id, 200);
            } else {
                assert!(report.skipped.is_empty(), "{n}: nothing should be skipped: {report:?}");
            }
            if sub == "e2ap-pycrate" && !n.ends_with("unknownIE200_ignore") {
                // pycrate uses the IE tables' criticalities, as our encoder does,
                // so even the typed re-encoding is byte-identical. (OSC e2sim and
                // srsRAN send `reject` where the tables say `ignore`, so their
                // PDUs are only value-identical after a typed round trip.)
                assert_eq!(reencoded, bytes, "{n}: typed re-encode differs");
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "expected all E2AP vectors, checked {checked}");
}

#[test]
fn vector_sizes_match_sizes_json() {
    let Some(dir) = common::testvectors() else { return };
    let sizes: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("e2ap-pycrate/sizes.json")).expect("sizes.json"))
            .expect("json");
    let sizes = sizes.as_object().expect("object");
    assert!(sizes.len() >= 10);
    for (stem, size) in sizes {
        let bytes = common::read_hex(&dir.join("e2ap-pycrate").join(format!("{stem}.hex")));
        assert_eq!(bytes.len() as u64, size.as_u64().expect("number"), "{stem}: PDU size");
        // Decoding and re-encoding keeps the exact size (no fragment lost or added).
        let pdu = E2apPdu::decode(&bytes).unwrap_or_else(|e| panic!("{stem}: {e}"));
        assert_eq!(pdu.encode().expect("encode").len(), bytes.len(), "{stem}");
    }
}

fn kpm_roundtrip<T: KpmPayload + std::fmt::Debug + PartialEq>(bytes: &[u8], n: &str) -> T {
    let v = T::decode_aper(bytes).unwrap_or_else(|e| panic!("{n}: {e}"));
    assert_eq!(v.encode_aper().unwrap_or_else(|e| panic!("{n}: {e}")), bytes, "{n}: re-encode differs");
    v
}

#[test]
fn every_kpm_vector_decodes_and_reencodes_byte_identically() {
    let Some(dir) = common::testvectors() else { return };
    let files = hex_files(&dir.join("e2sm-kpm-pycrate"));
    assert!(files.len() >= 6);
    for path in files {
        let bytes = common::read_hex(&path);
        let n = name(&path);
        if n.starts_with("KPM_ActionDefinition") {
            kpm_roundtrip::<kpm::E2SMKPMActionDefinition>(&bytes, &n);
        } else if n.starts_with("KPM_EventTrigger") {
            kpm_roundtrip::<kpm::E2SMKPMEventTriggerDefinition>(&bytes, &n);
        } else if n.starts_with("KPM_IndicationHeader") {
            let h = kpm_roundtrip::<kpm::E2SMKPMIndicationHeader>(&bytes, &n);
            let kpm::E2SMKPMIndicationHeaderIndicationHeaderFormats::indicationHeader_Format1(f1) =
                h.indication_header_formats
            else {
                panic!("{n}: format 1 expected")
            };
            assert!(f1.sender_name.is_some() || f1.vendor_name.is_some(), "{n}: header strings expected");
        } else if n.starts_with("KPM_IndicationMessage") {
            let m = kpm_roundtrip::<kpm::E2SMKPMIndicationMessage>(&bytes, &n);
            if n.ends_with("_real") {
                let kpm::E2SMKPMIndicationMessageIndicationMessageFormats::indicationMessage_Format1(f1) =
                    m.indication_message_formats
                else {
                    panic!("{n}: format 1 expected")
                };
                let reals: Vec<f64> = f1
                    .meas_data
                    .0
                    .iter()
                    .flat_map(|d| d.meas_record.0.iter())
                    .filter(|r| matches!(r, kpm::MeasurementRecordItem::real(_)))
                    .map(|r| record_value(r).expect("value").expect("valid REAL"))
                    .collect();
                assert!(!reals.is_empty(), "{n}: REAL records expected");
                assert!(reals.iter().all(|v| v.is_finite()), "{n}: {reals:?}");
            }
        } else {
            panic!("{n}: unknown KPM vector kind");
        }
    }
}
