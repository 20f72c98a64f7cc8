//! One test per known E2AP v3 / KPM v3 codec trap. Each expected byte string
//! was produced by pycrate 0.8.1 (an independent APER codec) from the value
//! the test builds; the script is `tests/conformance/make_trap_vectors.py`.
//! Each test fails on a codec that has the trap (hampi 0.7.2 fails the first
//! four; rasn without our `build.rs` workarounds fails the sequence-extension
//! and REAL tests).

use qsafe_asn1::e2ap::{
    E2apError, E2apPdu, ErrorIndication, RicIndication, RicSubscriptionRequest, SubscriptionDetails, build,
};
use qsafe_asn1::e2ap_asn as asn;
use qsafe_asn1::kpm::{KpmPayload, record_real, record_value};
use qsafe_asn1::kpm_asn as kpm;
use sha2::{Digest, Sha256};

fn hex(b: &[u8]) -> String {
    hex::encode(b)
}

fn roundtrip(pdu: &E2apPdu, expected_hex: &str) {
    let bytes = pdu.encode().expect("encode");
    assert_eq!(hex(&bytes), expected_hex, "{} encoding differs from pycrate", pdu.name());
    let back = E2apPdu::decode(&hex::decode(expected_hex).expect("hex")).expect("decode pycrate bytes");
    assert_eq!(&back, pdu);
}

/// ENUMERATED extension value: CauseRICrequest `duplicate-ric-request-id` is
/// the third extension addition (index 16). hampi decodes it as
/// `excessive-actions` and cannot encode it.
#[test]
fn enumerated_extension_value() {
    let pdu = E2apPdu::from(ErrorIndication {
        transaction_id: None,
        ric_request_id: Some(build::request_id(1001, 7)),
        ran_function_id: Some(asn::RANfunctionID(2)),
        cause: Some(asn::Cause::ricRequest(asn::CauseRICrequest::duplicate_ric_request_id)),
        criticality_diagnostics: None,
    });
    roundtrip(&pdu, "00024018000003001d00050003e90007000500020002000140020820");
}

/// v3 SEQUENCE extension addition `ricActionExecutionOrder` (a constrained
/// newtype): rasn-compiler bug 1 encodes it unconstrained (`…0105`); the
/// build.rs workaround makes it `…0005`.
#[test]
fn sequence_extension_addition_with_constrained_type() {
    let mut action = build::action(1, asn::RICactionType::report, None);
    action.ric_action_execution_order = Some(asn::RICactionExecutionOrder(5.into()));
    let pdu = E2apPdu::from(RicSubscriptionRequest {
        ric_request_id: build::request_id(1001, 7),
        ran_function_id: asn::RANfunctionID(2),
        details: SubscriptionDetails { event_trigger_definition: vec![1, 2], actions: vec![action] },
        start_time: None,
        end_time: None,
    });
    roundtrip(&pdu, "00080026000003001d00050003e90007000500020002001e001000020102000013400780010020020005");
}

/// CHOICE extension addition: ENB-ID `short-Macro-eNB-ID` inside an
/// E2setupRequest from an eNB (hampi fails to decode it).
#[test]
fn choice_extension_addition() {
    use rasn::types::{BitString, FixedOctetString};
    let enb_id: BitString = (0..18).rev().map(|i| (0x2ABCDu32 >> i) & 1 == 1).collect();
    let global = asn::GlobalE2nodeID::eNB(asn::GlobalE2nodeENBID::new(asn::GlobalENBID::new(
        asn::PLMNIdentity(FixedOctetString::new([0x00, 0xF1, 0x10])),
        asn::ENBID::short_Macro_eNB_ID(enb_id),
    )));
    let component = asn::E2nodeComponentConfigAdditionItem::new(
        asn::E2nodeComponentInterfaceType::s1,
        asn::E2nodeComponentID::e2nodeComponentInterfaceTypeS1(asn::E2nodeComponentInterfaceS1::new(asn::MMEname(
            "mme1".to_string().try_into().expect("printable"),
        ))),
        asn::E2nodeComponentConfiguration::new(b"req".to_vec().into(), b"resp".to_vec().into()),
    );
    let pdu = E2apPdu::from(qsafe_asn1::e2ap::E2SetupRequest {
        transaction_id: build::transaction_id(3),
        global_e2_node_id: global,
        ran_functions: vec![build::ran_function(2, 1, "1.3.6.1.4.1.53148.1.3.2.2", b"kpm").expect("ran function")],
        component_config_addition: vec![component],
    });
    roundtrip(
        &pdu,
        "0001005f000004003100020003000300096000f1108003aaf340000a002a0000084025000002036b706d0001000018312e332e362e312e342e312e35333134382e312e332e322e32003200170000003300112a80606d6d653100037265710472657370",
    );
}

/// OCTET STRING of 70 000 bytes: APER fragments it into 64 K, then the
/// remainder (X.691 §11.9.3.8). hampi silently corrupts ≥ 16 KiB.
#[test]
fn seventy_kib_octet_string_fragmentation() {
    let message: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let pdu = E2apPdu::from(RicIndication {
        ric_request_id: build::request_id(1, 2),
        ran_function_id: asn::RANfunctionID(2),
        action_id: asn::RICactionID(1),
        sn: Some(asn::RICindicationSN(65535)),
        indication_type: asn::RICindicationType::report,
        header: asn::RICindicationHeader(b"hdr".to_vec().into()),
        message: asn::RICindicationMessage(message.clone().into()),
        call_process_id: None,
    });
    let bytes = pdu.encode().expect("encode");
    assert_eq!(bytes.len(), 70_057);
    assert_eq!(
        hex::encode(Sha256::digest(&bytes)),
        "958fc89bbe0fe6b348db68dff730824d9632908688a4439ab020a5390cfffa21",
        "70 KiB RICindication differs from pycrate's encoding"
    );
    let E2apPdu::RicIndication(back) = E2apPdu::decode(&bytes).expect("decode") else { panic!("wrong message") };
    assert_eq!(back.message.0.as_ref(), &message[..]);
}

fn delete_request_with_extra_ie(criticality: asn::Criticality) -> Vec<u8> {
    use rasn::types::Any;
    let ie = |id: u16, crit, value: Vec<u8>| {
        asn::AnonymousRICsubscriptionDeleteRequestProtocolIEs::new(asn::ProtocolIEID(id), crit, Any::new(value))
    };
    let msg = asn::RICsubscriptionDeleteRequest::new(asn::RICsubscriptionDeleteRequestProtocolIEs(vec![
        ie(29, asn::Criticality::reject, rasn::aper::encode(&build::request_id(5, 6)).expect("enc")),
        ie(5, asn::Criticality::reject, rasn::aper::encode(&asn::RANfunctionID(2)).expect("enc")),
        ie(200, criticality, vec![0x42]),
    ]));
    let value = rasn::aper::encode(&msg).expect("enc");
    let pdu = asn::E2APPDU::initiatingMessage(asn::InitiatingMessage::new(
        asn::ProcedureCode(9),
        asn::Criticality::reject,
        Any::new(value),
    ));
    rasn::aper::encode(&pdu).expect("enc")
}

/// An IE id the message does not define, criticality `ignore`: the PDU
/// decodes, the IE is skipped and reported (hampi aborts the whole PDU).
#[test]
fn unknown_ie_with_criticality_ignore_is_skipped_and_reported() {
    let (pdu, report) =
        E2apPdu::decode_with_report(&delete_request_with_extra_ie(asn::Criticality::ignore)).expect("decodes");
    let E2apPdu::RicSubscriptionDeleteRequest(req) = pdu else { panic!("wrong message") };
    assert_eq!(req.ric_request_id, build::request_id(5, 6));
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].id, 200);
    assert_eq!(report.skipped[0].criticality, asn::Criticality::ignore);
}

/// The same IE with criticality `reject` refuses the PDU with a typed error.
#[test]
fn unknown_ie_with_criticality_reject_is_refused() {
    let err = E2apPdu::decode(&delete_request_with_extra_ie(asn::Criticality::reject)).expect_err("must refuse");
    assert_eq!(err, E2apError::UnknownIeReject { message: "RICsubscriptionDeleteRequest", id: 200 });
}

/// KPM `MeasurementRecordItem.real`: APER REAL (unsupported by rasn) carried
/// as X.690 contents. pycrate encodes 1.5 as `80 ff 03`, −0.75 as `c0 fe 03`
/// and 1e300 in decimal NR3 form `03 "1.E300"`.
#[test]
fn kpm_real_values() {
    let expected = "04000000050007200380ff034403c0fe03200703312e453330304003e7";
    let msg = kpm::E2SMKPMIndicationMessage::decode_aper(&hex::decode(expected).expect("hex")).expect("decode");
    let kpm::E2SMKPMIndicationMessageIndicationMessageFormats::indicationMessage_Format1(f1) =
        &msg.indication_message_formats
    else {
        panic!("format 1 expected")
    };
    let values: Vec<Option<f64>> =
        f1.meas_data.0[0].meas_record.0.iter().map(|r| record_value(r).map(|v| v.expect("valid REAL"))).collect();
    assert_eq!(values, vec![Some(7.0), Some(1.5), None, Some(-0.75), Some(1e300)]);
    assert_eq!(hex(&msg.encode_aper().expect("encode")), expected);

    // Built from f64 (canonical binary form), the same first four records encode like pycrate.
    let built = kpm::E2SMKPMIndicationMessage::new(
        kpm::E2SMKPMIndicationMessageIndicationMessageFormats::indicationMessage_Format1(
            kpm::E2SMKPMIndicationMessageFormat1::new(
                kpm::MeasurementData(vec![kpm::MeasurementDataItem::new(
                    kpm::MeasurementRecord(vec![
                        kpm::MeasurementRecordItem::integer(7),
                        record_real(1.5),
                        kpm::MeasurementRecordItem::noValue(()),
                        record_real(-0.75),
                    ]),
                    None,
                )]),
                None,
                Some(kpm::GranularityPeriod(1000)),
            ),
        ),
    );
    assert_eq!(hex(&built.encode_aper().expect("encode")), "04000000040007200380ff034403c0fe034003e7");
}
