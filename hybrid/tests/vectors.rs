//! Checks `derive` against every vector of `tests/vectors/combiner.json`,
//! computed by the independent Python implementation
//! (`tests/vectors/make_vectors.py`, standard library only). This test only
//! reads expectations; it never computes its own.

use qsafe_hybrid::{CombineError, KeyId, LinkContext, Mode, QkdKey, derive};
use serde_json::Value;

const VECTORS: &str = include_str!("vectors/combiner.json");

fn hex_field(v: &Value, field: &str) -> Option<Vec<u8>> {
    match &v[field] {
        Value::Null => None,
        Value::String(s) => Some(hex::decode(s).unwrap_or_else(|e| panic!("{field}: {e}"))),
        other => panic!("{field}: not a hex string: {other}"),
    }
}

fn u64_field(v: &Value, field: &str) -> u64 {
    v[field].as_u64().unwrap_or_else(|| panic!("{field}: not a u64"))
}

fn u32_field(v: &Value, field: &str) -> u32 {
    u32::try_from(u64_field(v, field)).unwrap_or_else(|_| panic!("{field}: not a u32"))
}

/// The vector file's names for the errors.
fn code(e: &CombineError) -> &'static str {
    match e {
        CombineError::QkdRequired { .. } => "qkd-required",
        CombineError::PqcRequired { .. } => "pqc-required",
        CombineError::NoSource { .. } => "no-source",
        CombineError::QkdKeyLength { .. } => "qkd-key-length",
        CombineError::PqcSecretLength { .. } => "pqc-secret-length",
        CombineError::EmptyEndpointId { .. } => "empty-endpoint-id",
        CombineError::EndpointIdTooLong { .. } => "endpoint-id-too-long",
        CombineError::EmptyTranscript => "empty-transcript",
        CombineError::ReservedSpi { .. } => "reserved-spi",
        other => panic!("error not covered by the vectors: {other}"),
    }
}

#[test]
fn every_vector_matches_the_independent_implementation() {
    let doc: Value = serde_json::from_str(VECTORS).expect("combiner.json parses");
    assert_eq!(doc["label"].as_str(), std::str::from_utf8(qsafe_hybrid::LABEL).ok(), "label");
    let vectors = doc["vectors"].as_array().expect("vectors array");
    assert!(vectors.len() >= 40, "only {} vectors", vectors.len());
    let (mut keys, mut errors) = (0, 0);
    for v in vectors {
        let name = v["name"].as_str().expect("name");
        let mode: Mode = v["mode"].as_str().expect("mode").parse().expect("mode name");
        let qkd_bytes = hex_field(v, "qkd_key");
        let key_id: Option<KeyId> = v["key_id"].as_str().map(|s| s.parse().expect("key_ID"));
        let qkd = match (&qkd_bytes, key_id) {
            (Some(key), Some(key_id)) => Some(QkdKey { key_id, key }),
            (None, None) => None,
            _ => panic!("{name}: qkd_key and key_id must come together"),
        };
        let pqc = hex_field(v, "pqc_secret");
        let (ric_id, node_id) = (hex_field(v, "ric_id").expect("ric_id"), hex_field(v, "node_id").expect("node_id"));
        let transcript = hex_field(v, "transcript").expect("transcript");
        let ctx = LinkContext {
            ric_id: &ric_id,
            node_id: &node_id,
            epoch: u64_field(v, "epoch"),
            spi_ric_to_node: u32_field(v, "spi_ric_to_node"),
            spi_node_to_ric: u32_field(v, "spi_node_to_ric"),
            transcript: &transcript,
        };
        let expected = &v["expected"];
        match (derive(mode, qkd, pqc.as_deref(), &ctx), expected["error"].as_str()) {
            (Ok(k), None) => {
                keys += 1;
                assert_eq!(k.source().as_str(), expected["source"].as_str().expect("source"), "{name}: source");
                for (dir, key) in [("ric_to_node", k.ric_to_node()), ("node_to_ric", k.node_to_ric())] {
                    assert_eq!(
                        hex::encode(key.key()),
                        expected[dir]["key"].as_str().expect("key"),
                        "{name}: {dir} key"
                    );
                    assert_eq!(
                        hex::encode(key.salt()),
                        expected[dir]["salt"].as_str().expect("salt"),
                        "{name}: {dir} salt"
                    );
                }
                assert_eq!(k.ric_to_node().spi(), ctx.spi_ric_to_node, "{name}");
                assert_eq!(k.node_to_ric().spi(), ctx.spi_node_to_ric, "{name}");
            }
            (Err(e), Some(code_expected)) => {
                errors += 1;
                assert_eq!(code(&e), code_expected, "{name}: {e}");
            }
            (Ok(k), Some(code_expected)) => panic!("{name}: expected error {code_expected}, derived {k:?}"),
            (Err(e), None) => panic!("{name}: expected keys, got error: {e}"),
        }
    }
    // Both kinds are present: the file is not all errors or all keys.
    assert!(keys >= 20 && errors >= 20, "{keys} key vectors, {errors} error vectors");
}
