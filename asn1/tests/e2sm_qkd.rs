//! E2SM-QKD v01.00 typed codec: round trips with realistic PQC sizes, every
//! field rule on the encode and the decode side, pycrate vectors, forward
//! compatibility (extension additions), and hostile input (truncations,
//! mutations, random bytes) that must give errors, never panics.

// The helpers outside #[test] functions build fixed, known-valid values.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use qsafe_asn1::e2sm_qkd::*;
use qsafe_asn1::e2sm_qkd_asn as asn;

// ML-DSA-65 / ML-KEM-768 sizes (FIPS 204 / FIPS 203), as in the xcheck script.
const MLDSA65_SIG: usize = 3309;
const MLKEM768_EK: usize = 1184;
const MLKEM768_CT: usize = 1088;
const CERT: usize = 5500;

/// Deterministic bytes, the same as `pattern` in tests/conformance/e2sm_qkd_xcheck.py.
fn pattern(n: usize, seed: usize) -> Bytes {
    (0..n).map(|i| ((seed + 31 * i) % 256) as u8).collect::<Vec<u8>>().into()
}

fn kem_key(id: u32, seed: usize) -> SignedKemKey {
    SignedKemKey {
        kem_key_id: id,
        algorithm: KemAlgorithm::MlKem768,
        encapsulation_key: pattern(MLKEM768_EK, seed + 1),
        signature: pattern(MLDSA65_SIG, seed + 2),
    }
}

fn key16(seed: usize) -> [u8; 16] {
    pattern(16, seed).as_ref().try_into().unwrap()
}

// --- the values of the pinned pycrate vectors (`pinned()` in the script) ---

fn ran_function() -> RanFunctionDefinition {
    RanFunctionDefinition::new(
        "gnb-001-sae",
        "KME-B",
        vec![KeySourceMode::QkdAndPqc, KeySourceMode::AtLeastPqc, KeySourceMode::Either],
        vec![pattern(CERT, 10), pattern(CERT - 123, 11)],
        kem_key(1, 20),
    )
}

fn indication_message() -> IndicationMessage {
    IndicationMessage {
        link_state: LinkState::Protected,
        mode: KeySourceMode::QkdAndPqc,
        current_sa: Some(CurrentSa {
            epoch: 7,
            key_id: Some(key16(30)),
            spi_ric_to_node: 256,
            spi_node_to_ric: u32::MAX,
            key_source: KeySource::Hybrid,
            age_ms: 123_456,
            inbound_bytes: u64::MAX,
            inbound_packets: 0,
            outbound_bytes: (1 << 40) + 5,
            outbound_packets: 65536,
        }),
        kme_stored_keys: Some(1234),
        next_kem_key: Some(kem_key(8, 40)),
    }
}

fn rekey() -> RekeyCommand {
    RekeyCommand {
        epoch: 8,
        ric_sae_id: "ric-sae".into(),
        node_sae_id: "gnb-001-sae".into(),
        key_id: Some(key16(50)),
        kem_key_id: Some(8),
        kem_ciphertext: Some(pattern(MLKEM768_CT, 51)),
        spi_ric_to_node: 0x1000,
        spi_node_to_ric: 0x1001,
        mode: KeySourceMode::QkdAndPqc,
        key_source: KeySource::Hybrid,
        grace_ms: 600_000,
        ric_certificate_chain: Some(vec![pattern(CERT, 52), pattern(CERT - 77, 53)]),
        signature: pattern(MLDSA65_SIG, 54),
    }
}

fn restore() -> IsolateCommand {
    IsolateCommand {
        epoch: 8,
        ric_sae_id: "ric-sae".into(),
        node_sae_id: "gnb-001-sae".into(),
        isolate: false,
        signature: pattern(MLDSA65_SIG, 60),
    }
}

fn set_mode() -> SetModeCommand {
    SetModeCommand {
        epoch: 8,
        ric_sae_id: "ric-sae".into(),
        node_sae_id: "gnb-001-sae".into(),
        mode: KeySourceMode::AtLeastPqc,
        signature: pattern(MLDSA65_SIG, 61),
    }
}

fn outcome_success() -> ControlOutcome {
    ControlOutcome {
        command: ControlCommand::Rekey,
        epoch: 8,
        result: ControlResult::Success(KeySource::Hybrid),
        next_kem_key: Some(kem_key(9, 70)),
        signature: pattern(MLDSA65_SIG, 71),
    }
}

fn outcome_failure() -> ControlOutcome {
    ControlOutcome {
        command: ControlCommand::Rekey,
        epoch: 9,
        result: ControlResult::Failure(ControlFailureCause::QkdKeyNotFound),
        next_kem_key: None,
        signature: pattern(MLDSA65_SIG, 72),
    }
}

/// Decodes `bytes` as payload `ty` (ASN.1 name) and re-encodes it; the
/// re-encoding must decode to the same value (used by the hostile-input tests).
fn decode_any(ty: &str, bytes: &[u8]) -> Result<Vec<u8>, E2smQkdError> {
    fn go<T: E2smQkdPayload + PartialEq + std::fmt::Debug>(bytes: &[u8]) -> Result<Vec<u8>, E2smQkdError> {
        let v = T::decode(bytes)?;
        let again = v.encode().unwrap_or_else(|e| panic!("{}: decoded value does not encode: {e}\n{v:?}", T::NAME));
        let back = T::decode(&again).unwrap_or_else(|e| panic!("{}: re-encoding does not decode: {e}", T::NAME));
        assert_eq!(back, v, "{}: round trip changed the value", T::NAME);
        Ok(again)
    }
    match ty {
        RanFunctionDefinition::NAME => go::<RanFunctionDefinition>(bytes),
        EventTrigger::NAME => go::<EventTrigger>(bytes),
        ActionDefinition::NAME => go::<ActionDefinition>(bytes),
        IndicationHeader::NAME => go::<IndicationHeader>(bytes),
        IndicationMessage::NAME => go::<IndicationMessage>(bytes),
        ControlHeader::NAME => go::<ControlHeader>(bytes),
        ControlMessage::NAME => go::<ControlMessage>(bytes),
        ControlOutcome::NAME => go::<ControlOutcome>(bytes),
        other => panic!("unknown payload type {other}"),
    }
}

const ALL_TYPES: [&str; 8] = [
    RanFunctionDefinition::NAME,
    EventTrigger::NAME,
    ActionDefinition::NAME,
    IndicationHeader::NAME,
    IndicationMessage::NAME,
    ControlHeader::NAME,
    ControlMessage::NAME,
    ControlOutcome::NAME,
];

fn round_trip<T: E2smQkdPayload + PartialEq + std::fmt::Debug>(v: &T) -> Vec<u8> {
    let bytes = v.encode().unwrap_or_else(|e| panic!("{}: {e}", T::NAME));
    assert_eq!(&T::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", T::NAME)), v);
    bytes
}

fn assert_invalid<T: std::fmt::Debug>(r: Result<T, E2smQkdError>, payload: &str, field: &str) {
    match r {
        Err(E2smQkdError::Invalid { payload: p, field: f, reason }) => {
            assert_eq!((p, f), (payload, field), "wrong field; reason: {reason}");
            assert!(!reason.is_empty());
        }
        other => panic!("want Invalid {payload}.{field}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Round trips

#[test]
fn round_trips_with_realistic_sizes() {
    let def = round_trip(&ran_function());
    // Two ~5.5 KB certificates + a 1184-octet key + a 3309-octet signature.
    assert!(def.len() > 2 * CERT + MLKEM768_EK + MLDSA65_SIG, "{}", def.len());
    round_trip(&EventTrigger::periodic(1000, true));
    round_trip(&EventTrigger::periodic(MIN_REPORTING_PERIOD_MS, false));
    round_trip(&EventTrigger::periodic(MAX_REPORTING_PERIOD_MS, false));
    round_trip(&EventTrigger::on_change_only());
    round_trip(&ActionDefinition { include_next_kem_key: true });
    round_trip(&ActionDefinition { include_next_kem_key: false });
    for reason in
        [ReportReason::Periodic, ReportReason::EpochChange, ReportReason::ModeChange, ReportReason::StateChange]
    {
        round_trip(&IndicationHeader { timestamp: [0xff; 8], reason });
    }
    round_trip(&indication_message());
    round_trip(&IndicationMessage {
        link_state: LinkState::Unprotected,
        mode: KeySourceMode::Either,
        current_sa: None,
        kme_stored_keys: None,
        next_kem_key: None,
    });
    round_trip(&IndicationMessage {
        link_state: LinkState::Isolated,
        mode: KeySourceMode::AtLeastQkd,
        current_sa: Some(CurrentSa { key_id: None, epoch: u32::MAX, ..indication_message().current_sa.unwrap() }),
        kme_stored_keys: Some(0),
        next_kem_key: None,
    });
    for command in [ControlCommand::Rekey, ControlCommand::SetMode, ControlCommand::Isolate, ControlCommand::Restore] {
        round_trip(&ControlHeader { command });
    }
    round_trip(&ControlMessage::Rekey(rekey()));
    // ML-KEM only, QKD only, no chain, boundaries.
    round_trip(&ControlMessage::Rekey(RekeyCommand {
        key_id: None,
        key_source: KeySource::Pqc,
        mode: KeySourceMode::AtLeastPqc,
        ric_certificate_chain: None,
        grace_ms: 0,
        spi_ric_to_node: MIN_SPI,
        spi_node_to_ric: u32::MAX,
        epoch: u32::MAX,
        ..rekey()
    }));
    round_trip(&ControlMessage::Rekey(RekeyCommand {
        kem_key_id: None,
        kem_ciphertext: None,
        key_source: KeySource::Qkd,
        mode: KeySourceMode::AtLeastQkd,
        ..rekey()
    }));
    // ML-KEM-1024 ciphertext and ML-DSA-87 signature, a chain of 8.
    round_trip(&ControlMessage::Rekey(RekeyCommand {
        kem_ciphertext: Some(pattern(1568, 1)),
        signature: pattern(4627, 2),
        ric_certificate_chain: Some((0..8).map(|i| pattern(1000 + i, i)).collect()),
        ..rekey()
    }));
    round_trip(&ControlMessage::SetMode(set_mode()));
    round_trip(&ControlMessage::Isolate(restore()));
    round_trip(&ControlMessage::Isolate(IsolateCommand { isolate: true, ..restore() }));
    round_trip(&outcome_success());
    round_trip(&outcome_failure());
    for cause in [
        ControlFailureCause::Malformed,
        ControlFailureCause::BadSignature,
        ControlFailureCause::UntrustedCertificate,
        ControlFailureCause::WrongSaeId,
        ControlFailureCause::ReplayedEpoch,
        ControlFailureCause::UnknownKemKey,
        ControlFailureCause::KemFailure,
        ControlFailureCause::QkdKeyNotFound,
        ControlFailureCause::KmeUnavailable,
        ControlFailureCause::ModeNotSupported,
        ControlFailureCause::ModeViolation,
        ControlFailureCause::SpiInUse,
        ControlFailureCause::SaInstallFailed,
        ControlFailureCause::Busy,
    ] {
        round_trip(&ControlOutcome { result: ControlResult::Failure(cause), ..outcome_failure() });
    }
    for source in [KeySource::Qkd, KeySource::Pqc, KeySource::Hybrid] {
        round_trip(&ControlOutcome { result: ControlResult::Success(source), ..outcome_success() });
    }
}

#[test]
fn ids_and_names_at_their_limits() {
    // 255 characters of 4 octets each: the SIZE counts characters.
    let long_id = "🔐".repeat(MAX_ID_CHARS);
    round_trip(&ControlMessage::SetMode(SetModeCommand {
        ric_sae_id: long_id.clone(),
        node_sae_id: "é".into(),
        ..set_mode()
    }));
    let mut def = ran_function();
    def.node_sae_id = long_id;
    def.short_name = "S".repeat(MAX_RAN_FUNCTION_NAME_CHARS);
    def.description = "A-Z a-z 0-9 '()+,-./:=?".into();
    def.oid = "1".repeat(MAX_RAN_FUNCTION_OID_CHARS);
    def.supported_modes = vec![KeySourceMode::Either; MAX_KEY_SOURCE_MODES];
    def.certificate_chain = vec![pattern(MAX_CERTIFICATE_LEN, 3), pattern(1, 4)];
    def.first_kem_key.encapsulation_key = pattern(MAX_KEM_BLOB_LEN, 5);
    def.first_kem_key.signature = pattern(MAX_SIGNATURE_LEN, 6);
    round_trip(&def);
}

#[test]
fn constructors_fill_the_constants() {
    let def = ran_function();
    assert_eq!(def.short_name, RAN_FUNCTION_SHORT_NAME);
    assert_eq!(def.oid, RAN_FUNCTION_OID);
    assert_eq!(def.description, RAN_FUNCTION_DESCRIPTION);
    let msg = ControlMessage::Isolate(IsolateCommand { isolate: true, ..restore() });
    assert_eq!(ControlHeader::for_message(&msg).command, ControlCommand::Isolate);
    assert_eq!(EventTrigger::on_change_only(), EventTrigger { reporting_period_ms: None, on_change: true });
}

#[test]
fn control_header_and_message_together() {
    for msg in [
        ControlMessage::Rekey(rekey()),
        ControlMessage::SetMode(set_mode()),
        ControlMessage::Isolate(restore()),
        ControlMessage::Isolate(IsolateCommand { isolate: true, ..restore() }),
    ] {
        let (h, m) = encode_control(&msg).unwrap();
        let (hdr, back) = decode_control(&h, &m).unwrap();
        assert_eq!(hdr.command, msg.command());
        assert_eq!(back, msg);
        check_header_matches(&hdr, &msg).unwrap();
    }
    // isolate = FALSE is RESTORE: every other header is refused.
    let m = ControlMessage::Isolate(restore()).encode().unwrap();
    for command in [ControlCommand::Rekey, ControlCommand::SetMode, ControlCommand::Isolate] {
        let h = ControlHeader { command }.encode().unwrap();
        assert_invalid(decode_control(&h, &m), "E2SM-QKD-ControlHeader", "command");
    }
    let m = ControlMessage::Isolate(IsolateCommand { isolate: true, ..restore() }).encode().unwrap();
    let h = ControlHeader { command: ControlCommand::Restore }.encode().unwrap();
    assert_invalid(decode_control(&h, &m), "E2SM-QKD-ControlHeader", "command");
    let m = ControlMessage::Rekey(rekey()).encode().unwrap();
    let h = ControlHeader { command: ControlCommand::SetMode }.encode().unwrap();
    assert_invalid(decode_control(&h, &m), "E2SM-QKD-ControlHeader", "command");
    // Garbage in either half is an error of that half.
    assert!(matches!(decode_control(&[0xff], &m), Err(E2smQkdError::Decode { payload: "E2SM-QKD-ControlHeader", .. })));
    assert!(matches!(decode_control(&h, &[]), Err(E2smQkdError::Decode { payload: "E2SM-QKD-ControlMessage", .. })));
}

// ---------------------------------------------------------------------------
// Field rules, encode side

#[test]
fn encode_refuses_every_rule() {
    const RFD: &str = "E2SM-QKD-RANfunction-Definition";
    const MSG: &str = "E2SM-QKD-ControlMessage";
    const IND: &str = "E2SM-QKD-IndicationMessage";
    const OUT: &str = "E2SM-QKD-ControlOutcome";
    const ET: &str = "E2SM-QKD-EventTrigger";

    let rfd = |f: &dyn Fn(&mut RanFunctionDefinition)| {
        let mut v = ran_function();
        f(&mut v);
        v.encode()
    };
    assert_invalid(rfd(&|v| v.short_name = String::new()), RFD, "ranFunctionShortName");
    assert_invalid(rfd(&|v| v.short_name = "S".repeat(151)), RFD, "ranFunctionShortName");
    assert_invalid(rfd(&|v| v.short_name = "QSAFE_QKD".into()), RFD, "ranFunctionShortName");
    assert_invalid(rfd(&|v| v.short_name = "QKD*".into()), RFD, "ranFunctionShortName");
    assert_invalid(rfd(&|v| v.oid = "1".repeat(1001)), RFD, "ranFunctionOID");
    assert_invalid(rfd(&|v| v.oid = "2.25@1".into()), RFD, "ranFunctionOID");
    assert_invalid(rfd(&|v| v.description = "é".into()), RFD, "ranFunctionDescription");
    assert_invalid(rfd(&|v| v.description = "line\nbreak".into()), RFD, "ranFunctionDescription");
    assert_invalid(rfd(&|v| v.node_sae_id = String::new()), RFD, "nodeSaeId");
    assert_invalid(rfd(&|v| v.node_sae_id = "x".repeat(256)), RFD, "nodeSaeId");
    assert_invalid(rfd(&|v| v.node_kme_id = String::new()), RFD, "nodeKmeId");
    assert_invalid(rfd(&|v| v.node_kme_id = "é".repeat(256)), RFD, "nodeKmeId");
    assert_invalid(rfd(&|v| v.supported_modes.clear()), RFD, "supportedModes");
    assert_invalid(rfd(&|v| v.supported_modes = vec![KeySourceMode::Either; 9]), RFD, "supportedModes");
    assert_invalid(rfd(&|v| v.certificate_chain.clear()), RFD, "certificateChain");
    assert_invalid(rfd(&|v| v.certificate_chain = vec![pattern(10, 0); 9]), RFD, "certificateChain");
    assert_invalid(rfd(&|v| v.certificate_chain[1] = Bytes::new()), RFD, "certificateChain");
    assert_invalid(rfd(&|v| v.certificate_chain[0] = pattern(65_536, 0)), RFD, "certificateChain");
    assert_invalid(rfd(&|v| v.first_kem_key.encapsulation_key = Bytes::new()), RFD, "firstKemKey.encapsulationKey");
    assert_invalid(rfd(&|v| v.first_kem_key.encapsulation_key = pattern(4097, 0)), RFD, "firstKemKey.encapsulationKey");
    assert_invalid(rfd(&|v| v.first_kem_key.signature = Bytes::new()), RFD, "firstKemKey.signature");
    assert_invalid(rfd(&|v| v.first_kem_key.signature = pattern(8193, 0)), RFD, "firstKemKey.signature");

    assert_invalid(EventTrigger { reporting_period_ms: None, on_change: false }.encode(), ET, "reportingPeriodMs");
    assert_invalid(EventTrigger::periodic(9, true).encode(), ET, "reportingPeriodMs");
    assert_invalid(EventTrigger::periodic(3_600_001, true).encode(), ET, "reportingPeriodMs");

    let ind = |f: &dyn Fn(&mut IndicationMessage)| {
        let mut v = indication_message();
        f(&mut v);
        v.encode()
    };
    assert_invalid(ind(&|v| v.current_sa.as_mut().unwrap().spi_ric_to_node = 255), IND, "currentSa.spiRicToNode");
    assert_invalid(ind(&|v| v.current_sa.as_mut().unwrap().spi_node_to_ric = 0), IND, "currentSa.spiNodeToRic");
    assert_invalid(ind(&|v| v.next_kem_key.as_mut().unwrap().signature = Bytes::new()), IND, "nextKemKey.signature");
    assert_invalid(
        ind(&|v| v.next_kem_key.as_mut().unwrap().encapsulation_key = pattern(4097, 1)),
        IND,
        "nextKemKey.encapsulationKey",
    );

    let rk = |f: &dyn Fn(&mut RekeyCommand)| {
        let mut v = rekey();
        f(&mut v);
        ControlMessage::Rekey(v).encode()
    };
    assert_invalid(rk(&|v| v.ric_sae_id = String::new()), MSG, "rekey.ricSaeId");
    assert_invalid(rk(&|v| v.node_sae_id = "n".repeat(256)), MSG, "rekey.nodeSaeId");
    assert_invalid(rk(&|v| v.kem_ciphertext = None), MSG, "rekey.kemCiphertext");
    assert_invalid(rk(&|v| v.kem_key_id = None), MSG, "rekey.kemKeyId");
    assert_invalid(rk(&|v| v.kem_ciphertext = Some(Bytes::new())), MSG, "rekey.kemCiphertext");
    assert_invalid(rk(&|v| v.kem_ciphertext = Some(pattern(4097, 0))), MSG, "rekey.kemCiphertext");
    assert_invalid(rk(&|v| v.spi_ric_to_node = 255), MSG, "rekey.spiRicToNode");
    assert_invalid(rk(&|v| v.spi_node_to_ric = 1), MSG, "rekey.spiNodeToRic");
    assert_invalid(rk(&|v| v.grace_ms = 600_001), MSG, "rekey.activation.graceMs");
    assert_invalid(rk(&|v| v.ric_certificate_chain = Some(vec![])), MSG, "rekey.ricCertificateChain");
    assert_invalid(rk(&|v| v.ric_certificate_chain = Some(vec![pattern(9, 9); 9])), MSG, "rekey.ricCertificateChain");
    assert_invalid(rk(&|v| v.signature = Bytes::new()), MSG, "rekey.signature");
    assert_invalid(rk(&|v| v.signature = pattern(8193, 0)), MSG, "rekey.signature");
    let sm = |f: &dyn Fn(&mut SetModeCommand)| {
        let mut v = set_mode();
        f(&mut v);
        ControlMessage::SetMode(v).encode()
    };
    assert_invalid(sm(&|v| v.ric_sae_id = String::new()), MSG, "setMode.ricSaeId");
    assert_invalid(sm(&|v| v.node_sae_id = String::new()), MSG, "setMode.nodeSaeId");
    assert_invalid(sm(&|v| v.signature = Bytes::new()), MSG, "setMode.signature");
    let iso = |f: &dyn Fn(&mut IsolateCommand)| {
        let mut v = restore();
        f(&mut v);
        ControlMessage::Isolate(v).encode()
    };
    assert_invalid(iso(&|v| v.ric_sae_id = "r".repeat(256)), MSG, "isolate.ricSaeId");
    assert_invalid(iso(&|v| v.node_sae_id = String::new()), MSG, "isolate.nodeSaeId");
    assert_invalid(iso(&|v| v.signature = pattern(8193, 0)), MSG, "isolate.signature");

    assert_invalid(ControlOutcome { signature: Bytes::new(), ..outcome_success() }.encode(), OUT, "signature");
    let mut o = outcome_success();
    o.next_kem_key.as_mut().unwrap().signature = Bytes::new();
    assert_invalid(o.encode(), OUT, "nextKemKey.signature");

    let e = EventTrigger { reporting_period_ms: None, on_change: false }.encode().unwrap_err();
    assert!(e.to_string().starts_with("E2SM-QKD E2SM-QKD-EventTrigger.reportingPeriodMs: "), "{e}");
}

// ---------------------------------------------------------------------------
// Field rules, decode side: encodings that are valid APER for the ASN.1
// but break a rule. (Rules on PER-visible constraints — SPI >= 256, grace,
// period, octet string sizes, chain and mode list lengths — cannot be broken
// on the wire: the APER encoding has no way to express such a value.)

fn raw<T: rasn::Encode>(v: &T) -> Vec<u8> {
    rasn::aper::encode(v).unwrap()
}

fn raw_kem_key() -> asn::SignedKemKey {
    asn::SignedKemKey::new(
        asn::KemKeyID(1),
        asn::KemAlgorithm::ml_kem_768,
        vec![1u8; 4].into(),
        asn::Signature(vec![2u8].into()),
    )
}

fn raw_ran_function(short: &str, node_sae: &str, kme: &str) -> asn::E2SMQKDRANfunctionDefinition {
    asn::E2SMQKDRANfunctionDefinition::new(
        rasn::types::PrintableString::from_bytes(short.as_bytes()).unwrap(),
        rasn::types::PrintableString::from_bytes(RAN_FUNCTION_OID.as_bytes()).unwrap(),
        rasn::types::PrintableString::from_bytes(b"d").unwrap(),
        asn::SAEID(node_sae.into()),
        asn::KMEID(kme.into()),
        vec![asn::KeySourceMode::either],
        asn::CertificateChain(vec![asn::Certificate(vec![3u8].into())]),
        raw_kem_key(),
    )
}

fn raw_rekey(ric: &str, kem_key_id: Option<u32>, ct: Option<Vec<u8>>) -> asn::E2SMQKDControlMessage {
    asn::E2SMQKDControlMessage::rekey(asn::RekeyCommand::new(
        asn::Epoch(1),
        asn::SAEID(ric.into()),
        asn::SAEID("node".into()),
        None,
        kem_key_id.map(asn::KemKeyID),
        ct.map(Into::into),
        asn::SPI(256),
        asn::SPI(257),
        asn::KeySourceMode::either,
        asn::KeySource::pqc,
        asn::Activation::new(0),
        None,
        asn::Signature(vec![1u8].into()),
    ))
}

#[test]
fn decode_refuses_every_rule_the_wire_can_break() {
    const RFD: &str = "E2SM-QKD-RANfunction-Definition";
    const MSG: &str = "E2SM-QKD-ControlMessage";
    // The raw value itself is fine for the rules:
    RanFunctionDefinition::decode(&raw(&raw_ran_function("QKD", "node", "kme"))).unwrap();
    ControlMessage::decode(&raw(&raw_rekey("ric", Some(1), Some(vec![1])))).unwrap();

    // Extensible SIZE(1..150, ...): 151 characters is valid APER (extension bit).
    let bytes = raw(&raw_ran_function(&"S".repeat(151), "node", "kme"));
    assert_invalid(RanFunctionDefinition::decode(&bytes), RFD, "ranFunctionShortName");
    // UTF8String SIZE is not PER-visible: 0 or 256 characters are valid APER.
    assert_invalid(RanFunctionDefinition::decode(&raw(&raw_ran_function("QKD", "", "kme"))), RFD, "nodeSaeId");
    let long = "x".repeat(256);
    assert_invalid(RanFunctionDefinition::decode(&raw(&raw_ran_function("QKD", &long, "kme"))), RFD, "nodeSaeId");
    assert_invalid(RanFunctionDefinition::decode(&raw(&raw_ran_function("QKD", "n", ""))), RFD, "nodeKmeId");
    assert_invalid(ControlMessage::decode(&raw(&raw_rekey("", Some(1), Some(vec![1])))), MSG, "rekey.ricSaeId");
    // The PrintableString alphabet: patch an encoded character to '*'.
    let mut bytes = raw(&raw_ran_function("QKD", "node", "kme"));
    let at = bytes.windows(3).position(|w| w == b"QKD").unwrap();
    bytes[at + 1] = b'*';
    assert!(RanFunctionDefinition::decode(&bytes).is_err());
    // Module-comment rules.
    assert_invalid(ControlMessage::decode(&raw(&raw_rekey("ric", Some(1), None))), MSG, "rekey.kemCiphertext");
    assert_invalid(ControlMessage::decode(&raw(&raw_rekey("ric", None, Some(vec![1])))), MSG, "rekey.kemKeyId");
    assert_invalid(
        EventTrigger::decode(&raw(&asn::E2SMQKDEventTrigger::new(None, false))),
        "E2SM-QKD-EventTrigger",
        "reportingPeriodMs",
    );
    // pycrate's encoding of {onChange FALSE}.
    assert_invalid(EventTrigger::decode(&[0x00]), "E2SM-QKD-EventTrigger", "reportingPeriodMs");
}

// ---------------------------------------------------------------------------
// pycrate vectors and forward compatibility

#[test]
fn pycrate_vectors() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/e2sm-qkd/vectors.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 10);
    for v in vectors {
        let (name, ty) = (v["name"].as_str().unwrap(), v["type"].as_str().unwrap());
        let bytes = hex::decode(v["hex"].as_str().unwrap()).unwrap();
        let ours = match name {
            "ran-function-definition" => check(&bytes, ran_function()),
            "event-trigger" => check(&bytes, EventTrigger::periodic(1000, true)),
            "action-definition" => check(&bytes, ActionDefinition { include_next_kem_key: true }),
            "indication-header" => check(
                &bytes,
                IndicationHeader { timestamp: [1, 2, 3, 4, 5, 6, 7, 8], reason: ReportReason::EpochChange },
            ),
            "indication-message" => check(&bytes, indication_message()),
            "control-header" => check(&bytes, ControlHeader { command: ControlCommand::Restore }),
            "control-message-rekey" => check(&bytes, ControlMessage::Rekey(rekey())),
            "control-message-restore" => check(&bytes, ControlMessage::Isolate(restore())),
            "control-outcome-success" => check(&bytes, outcome_success()),
            "control-outcome-failure" => check(&bytes, outcome_failure()),
            other => panic!("unknown vector {other}"),
        };
        assert_eq!(ours, bytes, "{name} ({ty}): our encoding differs from pycrate's");
        decode_any(ty, &bytes).unwrap();
    }

    fn check<T: E2smQkdPayload + PartialEq + std::fmt::Debug>(bytes: &[u8], want: T) -> Vec<u8> {
        assert_eq!(T::decode(bytes).unwrap(), want, "{}", T::NAME);
        want.encode().unwrap()
    }
}

#[test]
fn small_fixed_encodings() {
    // X.691 by hand (and pycrate): SPI 256 and 2^32-1, Counter64 extremes.
    let ind = IndicationMessage {
        link_state: LinkState::Protected,
        mode: KeySourceMode::Either,
        current_sa: None,
        kme_stored_keys: None,
        next_kem_key: None,
    };
    assert_eq!(ind.encode().unwrap(), [0x02, 0xc0]);
    assert_eq!(ControlHeader { command: ControlCommand::Rekey }.encode().unwrap(), [0x00]);
    assert_eq!(ControlHeader { command: ControlCommand::Restore }.encode().unwrap(), [0x30]);
    assert_eq!(EventTrigger::on_change_only().encode().unwrap(), [0x20]);
    // CurrentSA {1, -, 256, 2^32-1, hybrid, 0, 0, 2^64-1, 65536, 256} (pycrate).
    let sa = asn::CurrentSA::new(
        asn::Epoch(1),
        None,
        asn::SPI(256),
        asn::SPI(u32::MAX),
        asn::KeySource::hybrid,
        0,
        asn::Counter64(0),
        asn::Counter64(u64::MAX),
        asn::Counter64(65536),
        asn::Counter64(256),
    );
    assert_eq!(hex::encode(raw(&sa)), "00010000c0fffffeff40000000e0ffffffffffffffff40010000200100");
}

#[test]
fn unknown_extension_values_are_invalid_not_panics() {
    // Bytes from pycrate with a copy of the module that adds extension values
    // (tests/conformance/e2sm_qkd_xcheck.py, `future_module`).
    // KeySourceMode qkd-only (first extension value) in an indication.
    assert_invalid(IndicationMessage::decode(&hex::decode("0300").unwrap()), "E2SM-QKD-IndicationMessage", "mode");
    // ControlFailureCause quota-exceeded / KeySource qkd-only in the result CHOICE.
    for h in ["00016000000001", "00012000000001"] {
        assert_invalid(ControlOutcome::decode(&hex::decode(h).unwrap()), "E2SM-QKD-ControlOutcome", "result");
    }
    // A ControlMessage alternative `ping NULL` after the extension marker.
    match ControlMessage::decode(&hex::decode("800100").unwrap()) {
        Err(E2smQkdError::Invalid { payload: "E2SM-QKD-ControlMessage", .. }) => {}
        other => panic!("{other:?}"),
    }
    // ControlCommand extension value #0 (hand-made: 0, 1, 0 000000).
    assert_invalid(ControlHeader::decode(&[0x40, 0x00]), "E2SM-QKD-ControlHeader", "command");
    assert_invalid(decode_control(&[0x40, 0x00], &[0x00]), "E2SM-QKD-ControlHeader", "command");
}

#[test]
fn unknown_sequence_extension_additions_are_skipped() {
    // pycrate: ActionDefinition {TRUE, reportCounters "counters"} of a later version.
    let v = ActionDefinition::decode(&hex::decode("c0400908636f756e74657273").unwrap()).unwrap();
    assert_eq!(v, ActionDefinition { include_next_kem_key: true });
    // pycrate: IndicationMessage {protected, either, [[kmeLatencyMs 12]]}.
    let v = IndicationMessage::decode(&hex::decode("82c0400380000c").unwrap()).unwrap();
    assert_eq!(v.encode().unwrap(), [0x02, 0xc0]);
    // Two extension additions {TRUE, x TRUE, y absent}: X.691 and asn1tools
    // 0.169 give c0 c0 01 80 (pycrate 0.8.1 inserts a stray 00 here, see
    // the xcheck script).
    let v = ActionDefinition::decode(&[0xc0, 0xc0, 0x01, 0x80]).unwrap();
    assert_eq!(v, ActionDefinition { include_next_kem_key: true });
}

// ---------------------------------------------------------------------------
// Hostile input

fn pinned_encodings() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (RanFunctionDefinition::NAME, ran_function().encode().unwrap()),
        (EventTrigger::NAME, EventTrigger::periodic(1000, true).encode().unwrap()),
        (ActionDefinition::NAME, ActionDefinition { include_next_kem_key: true }.encode().unwrap()),
        (
            IndicationHeader::NAME,
            IndicationHeader { timestamp: [9; 8], reason: ReportReason::Periodic }.encode().unwrap(),
        ),
        (IndicationMessage::NAME, indication_message().encode().unwrap()),
        (ControlHeader::NAME, ControlHeader { command: ControlCommand::Isolate }.encode().unwrap()),
        (ControlMessage::NAME, ControlMessage::Rekey(rekey()).encode().unwrap()),
        (ControlMessage::NAME, ControlMessage::SetMode(set_mode()).encode().unwrap()),
        (ControlMessage::NAME, ControlMessage::Isolate(restore()).encode().unwrap()),
        (ControlOutcome::NAME, outcome_success().encode().unwrap()),
        (ControlOutcome::NAME, outcome_failure().encode().unwrap()),
    ]
}

#[test]
fn truncated_input_is_an_error() {
    for (ty, bytes) in pinned_encodings() {
        // Every prefix of the small ones; for the large ones every prefix up to
        // 300 octets, then every 97th, and the last 300.
        let n = bytes.len();
        let cuts: Vec<usize> = (0..n).filter(|&i| n < 1000 || i < 300 || i % 97 == 0 || i + 300 > n).collect();
        for cut in cuts {
            assert!(decode_any(ty, &bytes[..cut]).is_err(), "{ty}: prefix of {cut}/{n} octets decoded");
        }
        // One trailing octet too many.
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode_any(ty, &long).is_err(), "{ty}: trailing octet accepted");
    }
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x5eed_e25d_0001);
    let mut decoded = 0;
    for i in 0..20_000 {
        let len = match i % 4 {
            0 => rng.below(4),
            1 => rng.below(16),
            2 => rng.below(64),
            _ => rng.below(600),
        };
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        for ty in ALL_TYPES {
            if decode_any(ty, &bytes).is_ok() {
                decoded += 1;
            }
        }
        let _ = decode_control(&bytes[..len / 2], &bytes[len / 2..]);
    }
    // Short random inputs do decode as the small payloads (headers, triggers).
    assert!(decoded > 0);
}

#[test]
fn mutated_encodings_never_panic_and_round_trip() {
    let mut rng = Rng(0xbad_c0de);
    for (ty, bytes) in pinned_encodings() {
        for _ in 0..300 {
            let mut m = bytes.clone();
            for _ in 0..=rng.below(4) {
                match rng.below(4) {
                    0 => {
                        let i = rng.below(m.len());
                        m[i] ^= 1 << rng.below(8);
                    }
                    1 => {
                        let i = rng.below(m.len());
                        m[i] = rng.next() as u8;
                    }
                    2 if m.len() > 1 => {
                        let i = rng.below(m.len());
                        m.remove(i);
                    }
                    _ => {
                        let i = rng.below(m.len() + 1);
                        m.insert(i, rng.next() as u8);
                    }
                }
            }
            // decode_any asserts the round trip of whatever decodes.
            let _ = decode_any(ty, &m);
        }
    }
}
