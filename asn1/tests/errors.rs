//! Bad input gets a typed error that names where it failed — never a panic.

use qsafe_asn1::e2ap::{E2apError, E2apPdu, IeError, MessageKind, RicSubscriptionDeleteRequest, build};
use qsafe_asn1::e2ap_asn as asn;
use rasn::types::Any;

fn delete_request_pdu(ies: Vec<(u16, asn::Criticality, Vec<u8>)>) -> Vec<u8> {
    let ies = ies
        .into_iter()
        .map(|(id, c, v)| {
            asn::AnonymousRICsubscriptionDeleteRequestProtocolIEs::new(asn::ProtocolIEID(id), c, Any::new(v))
        })
        .collect();
    let value =
        rasn::aper::encode(&asn::RICsubscriptionDeleteRequest::new(asn::RICsubscriptionDeleteRequestProtocolIEs(ies)))
            .expect("enc");
    rasn::aper::encode(&asn::E2APPDU::initiatingMessage(asn::InitiatingMessage::new(
        asn::ProcedureCode(9),
        asn::Criticality::reject,
        Any::new(value),
    )))
    .expect("enc")
}

fn rid() -> Vec<u8> {
    rasn::aper::encode(&build::request_id(1, 2)).expect("enc")
}

fn rfid() -> Vec<u8> {
    rasn::aper::encode(&asn::RANfunctionID(3)).expect("enc")
}

#[test]
fn garbage_and_truncation_are_pdu_errors() {
    for bad in [&[][..], &[0xFF][..], &[0x00, 0x09, 0x00][..], &[0x7F; 64][..]] {
        match E2apPdu::decode(bad) {
            Err(E2apError::Pdu(_) | E2apError::Container { .. } | E2apError::UnsupportedProcedure { .. }) => {}
            other => panic!("{bad:02x?}: unexpected {other:?}"),
        }
    }
    // Every prefix of a valid PDU fails cleanly.
    let good = delete_request_pdu(vec![(29, asn::Criticality::reject, rid()), (5, asn::Criticality::reject, rfid())]);
    assert!(E2apPdu::decode(&good).is_ok());
    for len in 0..good.len() {
        assert!(E2apPdu::decode(&good[..len]).is_err(), "prefix of {len} bytes decoded");
    }
}

#[test]
fn a_bad_ie_value_is_named() {
    let bytes =
        delete_request_pdu(vec![(29, asn::Criticality::reject, vec![0x01]), (5, asn::Criticality::reject, rfid())]);
    let err = E2apPdu::decode(&bytes).expect_err("truncated RICrequestID");
    match &err {
        E2apError::Ie {
            message: "RICsubscriptionDeleteRequest",
            ie: "ID_RICREQUEST_ID",
            id: 29,
            source: IeError::Aper(_),
        } => {}
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string().starts_with("RICsubscriptionDeleteRequest: IE ID_RICREQUEST_ID (id 29): APER decoding failed"),
        "{err}"
    );
}

#[test]
fn missing_and_duplicate_ies() {
    let missing = delete_request_pdu(vec![(29, asn::Criticality::reject, rid())]);
    assert_eq!(
        E2apPdu::decode(&missing),
        Err(E2apError::MissingIe { message: "RICsubscriptionDeleteRequest", ie: "ID_RANFUNCTION_ID", id: 5 })
    );
    let dup = delete_request_pdu(vec![
        (29, asn::Criticality::reject, rid()),
        (5, asn::Criticality::reject, rfid()),
        (5, asn::Criticality::reject, rfid()),
    ]);
    assert_eq!(
        E2apPdu::decode(&dup),
        Err(E2apError::DuplicateIe { message: "RICsubscriptionDeleteRequest", ie: "ID_RANFUNCTION_ID", id: 5 })
    );
}

#[test]
fn ies_in_any_order_are_accepted() {
    let bytes = delete_request_pdu(vec![(5, asn::Criticality::reject, rfid()), (29, asn::Criticality::reject, rid())]);
    assert_eq!(
        E2apPdu::decode(&bytes),
        Ok(E2apPdu::RicSubscriptionDeleteRequest(RicSubscriptionDeleteRequest {
            ric_request_id: build::request_id(1, 2),
            ran_function_id: asn::RANfunctionID(3),
        }))
    );
}

#[test]
fn procedures_outside_the_typed_set_are_reported() {
    // RIC query (procedure code 16) is valid E2AP v3 but not typed here.
    let pdu = asn::E2APPDU::initiatingMessage(asn::InitiatingMessage::new(
        asn::ProcedureCode(16),
        asn::Criticality::reject,
        Any::new(vec![0x00, 0x00, 0x00]),
    ));
    let bytes = rasn::aper::encode(&pdu).expect("enc");
    assert_eq!(
        E2apPdu::decode(&bytes),
        Err(E2apError::UnsupportedProcedure { kind: MessageKind::InitiatingMessage, procedure_code: 16 })
    );
}

#[test]
fn builders_reject_out_of_range_values() {
    assert!(build::plmn("0012", "01").is_err());
    assert!(build::plmn("001", "1").is_err());
    assert!(build::plmn("0a1", "01").is_err());
    assert!(build::gnb_node_id(build::plmn("001", "01").expect("plmn"), 1 << 22, 22).is_err());
    assert!(build::gnb_node_id(build::plmn("001", "01").expect("plmn"), 1, 21).is_err());
    assert!(build::ric_id(build::plmn("001", "01").expect("plmn"), 1 << 20).is_err());
    assert!(build::ran_function(4096, 1, "x", b"").is_err());
    assert!(build::ran_function(1, 1, "", b"").is_err());
    assert!(build::f1_component(1 << 36, b"", b"").is_err());
}

#[test]
fn plmn_tbcd_round_trip() {
    for (mcc, mnc) in [("001", "01"), ("310", "410"), ("262", "01"), ("999", "999")] {
        let p = build::plmn(mcc, mnc).expect("plmn");
        assert_eq!(build::plmn_digits(&p), (mcc.to_string(), mnc.to_string()));
    }
    assert_eq!(build::plmn("001", "01").expect("plmn").0.as_ref(), &[0x00, 0xF1, 0x10]);
}

#[test]
fn an_empty_mandatory_list_is_an_encode_error_not_a_panic() {
    let req = qsafe_asn1::e2ap::E2SetupRequest {
        transaction_id: build::transaction_id(1),
        global_e2_node_id: build::gnb_node_id(build::plmn("001", "01").expect("plmn"), 1, 22).expect("id"),
        ran_functions: vec![], // SIZE(1..256)
        component_config_addition: vec![build::f1_component(1, b"a", b"b").expect("component")],
    };
    match E2apPdu::from(req).encode() {
        Err(E2apError::Encode { message: "E2setupRequest", .. }) => {}
        other => panic!("unexpected {other:?}"),
    }
}
