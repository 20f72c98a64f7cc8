//! Writes the seed corpus of the fuzz targets to `qkd/fuzz/seeds/<target>/`.
//!
//! ```text
//! cargo run --manifest-path qkd/fuzz/Cargo.toml --example make_seeds
//! ```
//!
//! Seeds are built with the `qsafe_qkd::api` types (plus the spec's own examples as text) and
//! each is checked to parse before it is written. The output is deterministic.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use qsafe_qkd::api::{ErrorBody, Key, KeyContainer, KeyId, KeyIds, KeyMaterial, KeyRequest, Status, path};

type Res<T> = Result<T, Box<dyn Error>>;

fn id(n: u8) -> KeyId {
    KeyId::from_random_bytes([n; 16])
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Res<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join(name), bytes)?;
    Ok(())
}

fn with_selector(selector: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![selector];
    v.extend_from_slice(body);
    v
}

fn main() -> Res<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let api = root.join("api_parse");
    let kme = root.join("kme_calls");

    // api_parse: selector byte, then the input.
    let spec_request = br#"{"number":3,"size":1024,"additional_slave_SAE_IDs":["ABCDEFG","HIJKLMN"],"extension_mandatory":[{"abc_route_type":"direct"},{"abc_transfer_method":"qkd"}],"extension_optional":[{"abc_max_age":30000}]}"#;
    KeyRequest::from_json(spec_request)?;
    write(&api, "key_request_spec", &with_selector(0, spec_request))?;
    write(&api, "key_request_min", &with_selector(0, &KeyRequest::new(1, None).to_json()))?;

    let ids = KeyIds::new([id(1), id(2)]);
    write(&api, "key_ids", &with_selector(1, &ids.to_json()))?;
    let ext = br#"{"key_IDs":[{"key_ID":"bc490419-7d60-487f-adc1-4ddcc177c139","key_ID_extension":{"a":1.5e300}}],"key_IDs_extension":[null,true,-0]}"#;
    KeyIds::from_json(ext)?;
    write(&api, "key_ids_ext", &with_selector(1, ext))?;

    let container = KeyContainer {
        keys: vec![
            Key::new(id(3), KeyMaterial::from_slice(&[0xAB; 32])),
            Key {
                key_id: id(4),
                key: KeyMaterial::from_slice(&[1, 2, 3]),
                key_id_extension: Some(serde_json::json!({"x": "y"})),
                key_extension: Some(serde_json::json!([1, 2])),
            },
        ],
        key_container_extension: Some(serde_json::json!({"vendor": {"n": 1}})),
    };
    write(&api, "key_container", &with_selector(2, &container.to_json()))?;

    let status = Status {
        source_kme_id: "AAAAAAAAAAAAAAAA".into(),
        target_kme_id: "BBBBBBBBBBBBBBBB".into(),
        master_sae_id: "IIIIIIIIIIIIIIII".into(),
        slave_sae_id: "CCCCCCCCCCCCCCCC".into(),
        key_size: 352,
        stored_key_count: 25000,
        max_key_count: 100000,
        max_key_per_request: 128,
        max_key_size: 1024,
        min_key_size: 64,
        max_sae_id_count: 0,
        status_extension: None,
    };
    write(&api, "status_spec", &with_selector(3, &status.to_json()))?;

    let error = ErrorBody::with_detail(
        "not all extension_mandatory parameters are supported",
        "extension_mandatory_unsupported",
        serde_json::json!([{"abc_route_type": "direct"}]),
    );
    write(&api, "error_body", &with_selector(4, &error.to_json()))?;
    write(&api, "enc_query", &with_selector(5, b"number=2&size=512"))?;
    write(&api, "dec_query", &with_selector(6, ids.to_query().unwrap_or_default().as_bytes()))?;
    write(&api, "path_status", &with_selector(7, path::status("SAE 1/x").as_bytes()))?;
    write(&api, "path_dec", &with_selector(7, path::dec_keys("M").as_bytes()))?;

    // kme_calls: records separated by 0xFF: [op, who, body...].
    // who: bit 0 site, bits 1-2 caller, bits 3-4 other SAE (S0, S1, S2, "").
    let who = |site: u8, caller: u8, other: u8| site | (caller << 1) | (other << 3);
    let mut s = Vec::new();
    // S0 at A asks 2 keys of 128 bits for S1; S1 at B fetches them by reuse; then by S2 (401).
    s.extend([0, who(0, 0, 1)]);
    s.extend_from_slice(&KeyRequest::new(2, Some(128)).to_json());
    s.extend([0xFF, 4, who(1, 1, 0), 0, 1]);
    s.extend([0xFF, 4, who(1, 2, 0), 0]);
    s.extend([0xFF, 5, who(0, 0, 1)]);
    s.extend([0xFF, 6, 200]);
    s.extend([0xFF, 1, who(1, 0, 2)]);
    s.extend_from_slice(b"number=3&size=64");
    s.extend([0xFF, 7, 0, 0xFF, 6, 255, 0xFF, 7, 0x32]);
    s.extend([0xFF, 0, who(0, 0, 1)]);
    s.extend_from_slice(br#"{"number":1,"additional_slave_SAE_IDs":["S2"]}"#);
    s.extend([0xFF, 4, who(1, 1, 0), 2, 0xFF, 4, who(1, 2, 0), 2]);
    write(&kme, "pairing", &s)?;
    let mut d = vec![2, who(1, 1, 0)];
    d.extend_from_slice(&ids.to_json());
    write(&kme, "dec_unknown", &d)?;

    println!("seeds written to {}", root.display());
    Ok(())
}
