//! Properties of `derive` that the fixed vectors alone do not show: the
//! mode policy in full, that every bound field matters, direction
//! separation, redaction and zeroization, and the configuration types.

use qsafe_hybrid::{
    CombineError, ESP_KEYMAT_LEN, EspKey, KeyId, KeySource, LinkContext, LinkKeys, Mode, QkdKey, Role, derive,
};
use zeroize::{Zeroize, ZeroizeOnDrop};

const QKD: [u8; 32] = [0x51; 32];
const PQC: [u8; 32] = [0xA7; 32];
const KEY_ID: [u8; 16] = [0x0C; 16];

fn ctx() -> LinkContext<'static> {
    LinkContext {
        ric_id: b"ric-1",
        node_id: b"gnb-1",
        epoch: 9,
        spi_ric_to_node: 0x1000,
        spi_node_to_ric: 0x2000,
        transcript: b"transcript",
    }
}

fn qkd() -> QkdKey<'static> {
    QkdKey { key_id: KeyId::from_bytes(KEY_ID), key: &QKD }
}

fn hybrid(ctx: &LinkContext<'_>) -> LinkKeys {
    derive(Mode::QkdAndPqc, Some(qkd()), Some(&PQC), ctx).expect("derive")
}

/// Both directions' key material.
fn material(k: &LinkKeys) -> ([u8; ESP_KEYMAT_LEN], [u8; ESP_KEYMAT_LEN]) {
    (*k.ric_to_node().keymat(), *k.node_to_ric().keymat())
}

#[test]
fn every_mode_and_presence_combination() {
    use KeySource::*;
    // (mode, qkd present, pqc present) -> expected, written out by hand.
    let table: [(Mode, bool, bool, Result<KeySource, &str>); 16] = [
        (Mode::QkdAndPqc, true, true, Ok(Hybrid)),
        (Mode::QkdAndPqc, true, false, Err("pqc-required")),
        (Mode::QkdAndPqc, false, true, Err("qkd-required")),
        (Mode::QkdAndPqc, false, false, Err("qkd-required")),
        (Mode::AtLeastQkd, true, true, Ok(Hybrid)),
        (Mode::AtLeastQkd, true, false, Ok(Qkd)),
        (Mode::AtLeastQkd, false, true, Err("qkd-required")),
        (Mode::AtLeastQkd, false, false, Err("qkd-required")),
        (Mode::AtLeastPqc, true, true, Ok(Hybrid)),
        (Mode::AtLeastPqc, true, false, Err("pqc-required")),
        (Mode::AtLeastPqc, false, true, Ok(Pqc)),
        (Mode::AtLeastPqc, false, false, Err("pqc-required")),
        (Mode::Either, true, true, Ok(Hybrid)),
        (Mode::Either, true, false, Ok(Qkd)),
        (Mode::Either, false, true, Ok(Pqc)),
        (Mode::Either, false, false, Err("no-source")),
    ];
    for (mode, has_qkd, has_pqc, expected) in table {
        let got = derive(mode, has_qkd.then(qkd), has_pqc.then_some(&PQC[..]), &ctx());
        let label = format!("{mode} qkd={has_qkd} pqc={has_pqc}");
        match (got, expected) {
            (Ok(k), Ok(source)) => assert_eq!(k.source(), source, "{label}"),
            (Err(e), Err(code)) => {
                let ok = match code {
                    "qkd-required" => e == CombineError::QkdRequired { mode },
                    "pqc-required" => e == CombineError::PqcRequired { mode },
                    "no-source" => e == CombineError::NoSource { mode },
                    _ => false,
                };
                assert!(ok, "{label}: {e}");
                assert!(e.to_string().contains(mode.as_str()), "{label}: the message names the mode: {e}");
            }
            (got, expected) => panic!("{label}: got {got:?}, expected {expected:?}"),
        }
    }
}

#[test]
fn the_same_inputs_give_the_same_keys() {
    assert_eq!(material(&hybrid(&ctx())), material(&hybrid(&ctx())));
}

#[test]
fn directions_never_share_key_or_salt() {
    for (mode, q, p) in [
        (Mode::QkdAndPqc, Some(qkd()), Some(&PQC[..])),
        (Mode::AtLeastQkd, Some(qkd()), None),
        (Mode::AtLeastPqc, None, Some(&PQC[..])),
    ] {
        // Even with one SPI for both SAs, the direction label separates them.
        let c = LinkContext { spi_node_to_ric: 0x1000, ..ctx() };
        let k = derive(mode, q, p, &c).expect("derive");
        assert_ne!(k.ric_to_node().key(), k.node_to_ric().key(), "{mode}");
        assert_ne!(k.ric_to_node().salt(), k.node_to_ric().salt(), "{mode}");
        assert_eq!(k.outbound(Role::Ric).key(), k.ric_to_node().key());
        assert_eq!(k.inbound(Role::Ric).key(), k.node_to_ric().key());
        assert_eq!(k.outbound(Role::E2Node).key(), k.inbound(Role::Ric).key());
        assert_eq!(k.inbound(Role::E2Node).spi(), 0x1000);
    }
}

#[test]
fn changing_any_bound_input_changes_both_keys() {
    let reference = material(&hybrid(&ctx()));
    let other_qkd = {
        let mut q = QKD;
        q[31] ^= 1;
        q
    };
    let other_pqc = {
        let mut p = PQC;
        p[0] ^= 0x80;
        p
    };
    let other_id = QkdKey { key_id: KeyId::from_bytes([0x0D; 16]), key: &QKD };
    let variants: Vec<(&str, LinkKeys)> = vec![
        ("qkd key", derive(Mode::QkdAndPqc, Some(QkdKey { key: &other_qkd, ..qkd() }), Some(&PQC), &ctx()).expect("d")),
        ("ml-kem secret", derive(Mode::QkdAndPqc, Some(qkd()), Some(&other_pqc), &ctx()).expect("d")),
        ("key_ID", derive(Mode::QkdAndPqc, Some(other_id), Some(&PQC), &ctx()).expect("d")),
        ("mode (same sources)", derive(Mode::Either, Some(qkd()), Some(&PQC), &ctx()).expect("d")),
        ("ric id", hybrid(&LinkContext { ric_id: b"ric-2", ..ctx() })),
        ("node id", hybrid(&LinkContext { node_id: b"gnb-2", ..ctx() })),
        ("ids swapped", hybrid(&LinkContext { ric_id: b"gnb-1", node_id: b"ric-1", ..ctx() })),
        ("id boundary", hybrid(&LinkContext { ric_id: b"ric-1g", node_id: b"nb-1", ..ctx() })),
        ("epoch", hybrid(&LinkContext { epoch: 10, ..ctx() })),
        ("spi ric->node", hybrid(&LinkContext { spi_ric_to_node: 0x1001, ..ctx() })),
        ("spi node->ric", hybrid(&LinkContext { spi_node_to_ric: 0x2001, ..ctx() })),
        ("spis swapped", hybrid(&LinkContext { spi_ric_to_node: 0x2000, spi_node_to_ric: 0x1000, ..ctx() })),
        ("transcript", hybrid(&LinkContext { transcript: b"transcripT", ..ctx() })),
    ];
    for (what, keys) in &variants {
        let (r2n, n2r) = material(keys);
        assert_ne!(r2n[..32], reference.0[..32], "{what}: RIC->node key unchanged");
        assert_ne!(n2r[..32], reference.1[..32], "{what}: node->RIC key unchanged");
        assert_ne!(r2n[32..], reference.0[32..], "{what}: RIC->node salt unchanged");
        assert_ne!(n2r[32..], reference.1[32..], "{what}: node->RIC salt unchanged");
    }
    // A single-source key differs from the hybrid one and from the other source's.
    let q = material(&derive(Mode::Either, Some(qkd()), None, &ctx()).expect("d"));
    let p = material(&derive(Mode::Either, None, Some(&PQC), &ctx()).expect("d"));
    let h = material(&derive(Mode::Either, Some(qkd()), Some(&PQC), &ctx()).expect("d"));
    assert!(q != p && q != h && p != h);
}

#[test]
fn bad_inputs_are_errors_even_when_the_source_is_optional() {
    let short = [0u8; 15];
    let bad_qkd = QkdKey { key: &short, ..qkd() };
    // A malformed QKD key in at-least-pqc mode is not silently dropped.
    assert!(matches!(
        derive(Mode::AtLeastPqc, Some(bad_qkd), Some(&PQC), &ctx()),
        Err(CombineError::QkdKeyLength { len: 15, min: 16, max: 1024 })
    ));
    assert!(matches!(
        derive(Mode::AtLeastQkd, Some(qkd()), Some(&PQC[..31]), &ctx()),
        Err(CombineError::PqcSecretLength { len: 31, expected: 32 })
    ));
    let long_id = [b'x'; 256];
    let cases: [(LinkContext<'_>, CombineError); 6] = [
        (LinkContext { ric_id: b"", ..ctx() }, CombineError::EmptyEndpointId { endpoint: Role::Ric }),
        (LinkContext { node_id: b"", ..ctx() }, CombineError::EmptyEndpointId { endpoint: Role::E2Node }),
        (
            LinkContext { node_id: &long_id, ..ctx() },
            CombineError::EndpointIdTooLong { endpoint: Role::E2Node, len: 256, max: 255 },
        ),
        (
            LinkContext { spi_ric_to_node: 255, ..ctx() },
            CombineError::ReservedSpi { spi: 255, from: Role::Ric, to: Role::E2Node },
        ),
        (
            LinkContext { spi_node_to_ric: 0, ..ctx() },
            CombineError::ReservedSpi { spi: 0, from: Role::E2Node, to: Role::Ric },
        ),
        (LinkContext { transcript: b"", ..ctx() }, CombineError::EmptyTranscript),
    ];
    for (c, expected) in cases {
        let e = derive(Mode::QkdAndPqc, Some(qkd()), Some(&PQC), &c).expect_err("invalid context");
        assert_eq!(e, expected);
        assert!(!e.to_string().is_empty());
    }
}

/// Every 4-byte window of `secret`, as Debug would print it in hex or as a
/// decimal list.
fn leaks(text: &str, secret: &[u8]) -> bool {
    secret.windows(4).any(|w| {
        let hex: String = w.iter().map(|b| format!("{b:02x}")).collect();
        let decimal = format!("{}, {}, {}, {}", w[0], w[1], w[2], w[3]);
        text.to_lowercase().contains(&hex) || text.contains(&decimal)
    })
}

#[test]
fn debug_output_never_shows_key_bytes() {
    let keys = hybrid(&ctx());
    let text = format!("{keys:?} {:?} {:#?}", keys.ric_to_node(), keys);
    for secret in [&keys.ric_to_node().keymat()[..], &keys.node_to_ric().keymat()[..], &QKD[..]] {
        assert!(!leaks(&text, secret), "Debug leaks key bytes: {text}");
    }
    assert!(text.contains("<redacted>") && text.contains("Hybrid") && text.contains("0x00001000"), "{text}");
    let q = format!("{:?}", qkd());
    assert!(!leaks(&q, &QKD) && q.contains("<32 bytes redacted>"), "{q}");
    // The test itself can fail: a plain Debug of the bytes would be caught.
    assert!(leaks(&format!("{:?}", keys.ric_to_node().key()), keys.ric_to_node().key()));
}

fn wiped_on_drop<T: ZeroizeOnDrop>() {}

#[test]
fn keys_are_wiped() {
    wiped_on_drop::<EspKey>();
    wiped_on_drop::<LinkKeys>();
    // Drop runs exactly this `zeroize`; calling it directly makes it observable.
    let mut keys = hybrid(&ctx());
    assert_ne!(keys.ric_to_node().key(), &[0u8; 32]);
    assert_ne!(keys.node_to_ric().salt(), &[0u8; 4]);
    keys.zeroize();
    for k in [keys.ric_to_node(), keys.node_to_ric()] {
        assert_eq!(k.key(), &[0u8; 32]);
        assert_eq!(k.salt(), &[0u8; 4]);
        assert_eq!(*k.keymat(), [0u8; ESP_KEYMAT_LEN]);
    }
}

#[test]
fn modes_and_sources_have_their_names() {
    for (mode, name, arnika) in [
        (Mode::QkdAndPqc, "qkd-and-pqc", "QkdAndPqcRequired"),
        (Mode::AtLeastQkd, "at-least-qkd", "AtLeastQkdRequired"),
        (Mode::AtLeastPqc, "at-least-pqc", "AtLeastPqcRequired"),
        (Mode::Either, "either", "EitherQkdOrPqcRequired"),
    ] {
        assert_eq!(mode.to_string(), name);
        assert_eq!(name.parse::<Mode>(), Ok(mode));
        assert_eq!(arnika.parse::<Mode>(), Ok(mode));
        assert_eq!(serde_json::to_string(&mode).expect("json"), format!("\"{name}\""));
        assert_eq!(serde_json::from_str::<Mode>(&format!("\"{name}\"")).expect("json"), mode);
        assert_eq!(serde_json::from_str::<Mode>(&format!("\"{arnika}\"")).expect("json"), mode);
    }
    assert_eq!(Mode::default(), Mode::QkdAndPqc, "the default is the strictest mode");
    let e = "QkdAndPqc".parse::<Mode>().expect_err("not kebab");
    assert!(e.to_string().contains("qkd-and-pqc, at-least-qkd, at-least-pqc or either"), "{e}");
    assert!(serde_json::from_str::<Mode>("\"both\"").is_err());
    for (source, name) in [(KeySource::Qkd, "qkd"), (KeySource::Pqc, "pqc"), (KeySource::Hybrid, "hybrid")] {
        assert_eq!(source.to_string(), name);
        assert_eq!(serde_json::to_string(&source).expect("json"), format!("\"{name}\""));
    }
}
