//! Bad, unexpected and partly understood PDUs: each gets the Error
//! Indication E2AP §10 asks for, and nothing panics — in either role.

mod procedures_support;

use procedures_support::*;
use qsafe_asn1::e2ap::{
    E2SetupRequest, E2SetupResponse, E2apPdu, ErrorIndication, MessageKind, RicControlRequest, RicIndication,
    RicServiceQuery, RicServiceUpdate, RicServiceUpdateAcknowledge, RicSubscriptionDeleteRequest,
    RicSubscriptionRequest, RicSubscriptionResponse, SubscriptionDetails, build,
};
use qsafe_asn1::e2ap_asn::{self as asn, Criticality};
use qsafe_e2::{RequestId, node, ric};
use rasn::types::Any;

type RawIes = Vec<(u16, Criticality, Vec<u8>)>;

/// The envelope and IEs of a valid PDU, to be tampered with.
fn explode(pdu: &E2apPdu) -> (MessageKind, u8, Criticality, RawIes) {
    let bytes = pdu.encode().expect("encode");
    let outer: asn::E2APPDU = rasn::aper::decode(&bytes).expect("outer");
    let (kind, m) = match outer {
        asn::E2APPDU::initiatingMessage(m) => {
            (MessageKind::InitiatingMessage, (m.procedure_code, m.criticality, m.value))
        }
        asn::E2APPDU::successfulOutcome(m) => {
            (MessageKind::SuccessfulOutcome, (m.procedure_code, m.criticality, m.value))
        }
        asn::E2APPDU::unsuccessfulOutcome(m) => {
            (MessageKind::UnsuccessfulOutcome, (m.procedure_code, m.criticality, m.value))
        }
        _ => unreachable!(),
    };
    // Every message is SEQUENCE { protocolIEs, ... }: one container type reads them all.
    let container: asn::RICsubscriptionDeleteRequest = rasn::aper::decode(m.2.as_bytes()).expect("container");
    let ies = container.protocol_ies.0.into_iter().map(|ie| (ie.id.0, ie.criticality, ie.value.into_bytes())).collect();
    (kind, m.0.0, m.1, ies)
}

fn implode(kind: MessageKind, code: u8, crit: Criticality, ies: RawIes) -> Vec<u8> {
    let ies = ies
        .into_iter()
        .map(|(id, c, v)| {
            asn::AnonymousRICsubscriptionDeleteRequestProtocolIEs::new(asn::ProtocolIEID(id), c, Any::new(v))
        })
        .collect();
    let value =
        rasn::aper::encode(&asn::RICsubscriptionDeleteRequest::new(asn::RICsubscriptionDeleteRequestProtocolIEs(ies)))
            .expect("value");
    let (pc, value) = (asn::ProcedureCode(code), Any::new(value));
    let pdu = match kind {
        MessageKind::InitiatingMessage => asn::E2APPDU::initiatingMessage(asn::InitiatingMessage::new(pc, crit, value)),
        MessageKind::SuccessfulOutcome => asn::E2APPDU::successfulOutcome(asn::SuccessfulOutcome::new(pc, crit, value)),
        MessageKind::UnsuccessfulOutcome => {
            asn::E2APPDU::unsuccessfulOutcome(asn::UnsuccessfulOutcome::new(pc, crit, value))
        }
    };
    rasn::aper::encode(&pdu).expect("pdu")
}

fn indication(request: RequestId) -> E2apPdu {
    E2apPdu::from(RicIndication {
        ric_request_id: request.into(),
        ran_function_id: asn::RANfunctionID(KPM),
        action_id: asn::RICactionID(1),
        sn: Some(asn::RICindicationSN(0)),
        indication_type: asn::RICindicationType::report,
        header: asn::RICindicationHeader(b"header".to_vec().into()),
        message: asn::RICindicationMessage(vec![7; 300].into()),
        call_process_id: None,
    })
}

/// A set-up RIC/node pair with one established subscription.
fn setup() -> (Net, usize, RequestId) {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    let id = net.subscribe_and_accept(i, &[1]);
    net.take_ric_events();
    net.take_node_events(i);
    (net, i, id)
}

/// The single ProtocolError the RIC reported since the last call.
fn ric_protocol_error(net: &mut Net) -> qsafe_e2::ProtocolError {
    let events = net.take_ric_events();
    let errors: Vec<_> = events
        .into_iter()
        .filter_map(|e| match e {
            ric::Event::ProtocolError { error, .. } => Some(error),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 1, "expected one protocol error, got {errors:?}");
    errors.into_iter().next().expect("one")
}

fn last_ric_ei(net: &Net, i: usize) -> ErrorIndication {
    net.ric_error_indications(i).last().cloned().expect("an Error Indication from the RIC")
}

fn ie_items(ei: &ErrorIndication) -> Vec<asn::CriticalityDiagnosticsIEItem> {
    ei.criticality_diagnostics
        .as_ref()
        .and_then(|d| d.i_es_criticality_diagnostics.as_ref())
        .map(|l| l.0.clone())
        .unwrap_or_default()
}

#[test]
fn garbage_is_a_transfer_syntax_error() {
    let (mut net, i, _) = setup();
    for bad in [&[][..], &[0xFF][..], &[0x7F; 64][..], &[0x00, 0x09, 0x00][..]] {
        net.inject_to_ric(i, bad);
        let error = ric_protocol_error(&mut net);
        assert!(error.error_indication_sent);
        let ei = last_ric_ei(&net, i);
        assert!(
            matches!(
                ei.cause,
                Some(asn::Cause::protocol(
                    asn::CauseProtocol::transfer_syntax_error
                        | asn::CauseProtocol::abstract_syntax_error_falsely_constructed_message
                ))
            ),
            "{bad:02x?}: {:?}",
            ei.cause
        );
    }
    net.inject_to_ric(i, &[0xFF, 0xFF]);
    assert_eq!(last_ric_ei(&net, i).cause, Some(protocol(asn::CauseProtocol::transfer_syntax_error)));
    assert!(net.ric.stats().pdus_undecodable >= 5);
    // The same at the node.
    let before = net.node_error_indications(i).len();
    net.inject_to_node(i, &[0xFF, 0xFF]);
    let sent = net.node_error_indications(i);
    assert_eq!(sent.len(), before + 1);
    assert_eq!(sent[before].cause, Some(protocol(asn::CauseProtocol::transfer_syntax_error)));
}

#[test]
fn random_bytes_never_panic_either_role() {
    let (mut net, i, _) = setup();
    // xorshift: deterministic, no dependency.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..3000 {
        let len = (next() % 96) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Half of them start like a real E2AP-PDU header so the inner decoders get exercised.
        if round % 2 == 0 && len > 3 {
            bytes[0] = [0x00, 0x20, 0x40][round % 3];
            bytes[1] = (next() % 17) as u8;
        }
        net.inject_to_ric(i, &bytes);
        net.inject_to_node(i, &bytes);
    }
    // Everything sent back decodes (the harness decodes every PDU) and both still work.
    net.take_ric_events();
    net.take_node_events(i);
    let id = net.subscribe_and_accept(i, &[1]);
    net.nodes[i].agent.send_indication(id, 1, vec![1], vec![2]).expect("indication");
    net.pump();
    assert!(net.take_ric_events().iter().any(|e| matches!(e, ric::Event::Indication(_))));
}

#[test]
fn every_truncation_of_a_pdu_is_answered_cleanly() {
    let (mut net, i, id) = setup();
    for pdu in [indication(id)] {
        let bytes = pdu.encode().expect("encode");
        for len in 0..bytes.len() {
            net.inject_to_ric(i, &bytes[..len]);
            let error = ric_protocol_error(&mut net);
            assert!(
                matches!(
                    error.cause,
                    asn::Cause::protocol(
                        asn::CauseProtocol::transfer_syntax_error
                            | asn::CauseProtocol::abstract_syntax_error_falsely_constructed_message
                            | asn::CauseProtocol::abstract_syntax_error_reject
                    )
                ),
                "prefix {len}: {error}"
            );
        }
    }
    // And at the node, with every prefix of an E2 setup response and a subscription request.
    let request = E2apPdu::from(RicSubscriptionRequest {
        ric_request_id: RequestId::new(REQUESTOR, 77).into(),
        ran_function_id: asn::RANfunctionID(KPM),
        details: SubscriptionDetails {
            event_trigger_definition: b"trigger".to_vec(),
            actions: vec![build::action(1, asn::RICactionType::report, Some(b"def"))],
        },
        start_time: None,
        end_time: None,
    });
    let bytes = request.encode().expect("encode");
    for len in 0..bytes.len() {
        net.inject_to_node(i, &bytes[..len]);
    }
    let errors = net.take_node_events(i).into_iter().filter(|e| matches!(e, node::Event::ProtocolError { .. })).count();
    assert_eq!(errors, bytes.len());
}

#[test]
fn a_malformed_ie_value_is_a_falsely_constructed_message() {
    let (mut net, i, id) = setup();
    let (kind, code, crit, mut ies) = explode(&indication(id));
    // Corrupt the RICactionID value (IE 15): an empty open type.
    for ie in &mut ies {
        if ie.0 == 15 {
            ie.2 = vec![];
        }
    }
    net.inject_to_ric(i, &implode(kind, code, crit, ies));
    let ei = last_ric_ei(&net, i);
    assert_eq!(ei.cause, Some(protocol(asn::CauseProtocol::abstract_syntax_error_falsely_constructed_message)));
    // The request id could still be read and is reported back.
    assert_eq!(ei.ric_request_id, Some(id.into()));
    assert_eq!(ie_items(&ei).iter().map(|x| x.i_e_id.0).collect::<Vec<_>>(), vec![15]);
    ric_protocol_error(&mut net);
    // A duplicated IE too.
    let (kind, code, crit, mut ies) = explode(&indication(id));
    let dup = ies.iter().find(|x| x.0 == 15).cloned().expect("action id IE");
    ies.push(dup);
    net.inject_to_ric(i, &implode(kind, code, crit, ies));
    assert_eq!(
        last_ric_ei(&net, i).cause,
        Some(protocol(asn::CauseProtocol::abstract_syntax_error_falsely_constructed_message))
    );
}

#[test]
fn an_unknown_ie_with_criticality_reject_is_refused_with_diagnostics() {
    let (mut net, i, id) = setup();
    let (kind, code, crit, mut ies) = explode(&indication(id));
    ies.push((999, Criticality::reject, vec![0x00]));
    net.inject_to_ric(i, &implode(kind, code, crit, ies));
    let error = ric_protocol_error(&mut net);
    assert_eq!(error.cause, protocol(asn::CauseProtocol::abstract_syntax_error_reject));
    let ei = last_ric_ei(&net, i);
    assert_eq!(ei.cause, Some(protocol(asn::CauseProtocol::abstract_syntax_error_reject)));
    assert_eq!(ei.ric_request_id, Some(id.into()));
    assert_eq!(ei.ran_function_id, Some(asn::RANfunctionID(KPM)));
    let diag = ei.criticality_diagnostics.clone().expect("diagnostics");
    assert_eq!(diag.procedure_code, Some(asn::ProcedureCode(5)));
    assert_eq!(diag.triggering_message, Some(asn::TriggeringMessage::initiating_message));
    assert_eq!(diag.procedure_criticality, Some(Criticality::ignore));
    assert_eq!(diag.ric_requestor_id, Some(id.into()));
    assert_eq!(
        ie_items(&ei),
        vec![asn::CriticalityDiagnosticsIEItem::new(
            Criticality::reject,
            asn::ProtocolIEID(999),
            asn::TypeOfError::not_understood
        )]
    );
    assert_eq!(net.ric.stats().indications_delivered, 0, "the message was not processed");
    // The node sees it as an Error Indication with the same diagnostics.
    assert!(net.take_node_events(i).iter().any(|e| matches!(
        e,
        node::Event::ErrorIndicationReceived { report } if report.diagnostics == Some(diag.clone())
    )));
}

#[test]
fn unknown_ies_with_notify_are_processed_and_reported() {
    let (mut net, i, id) = setup();
    let (kind, code, crit, mut ies) = explode(&indication(id));
    ies.push((998, Criticality::notify, vec![0x01, 0x02]));
    ies.push((997, Criticality::ignore, vec![0x03]));
    net.inject_to_ric(i, &implode(kind, code, crit, ies));
    let events = net.take_ric_events();
    assert!(matches!(&events[0], ric::Event::Indication(ind) if ind.subscription == id), "processed: {events:?}");
    assert!(matches!(&events[1], ric::Event::ProtocolError { error, .. }
        if error.cause == protocol(asn::CauseProtocol::abstract_syntax_error_ignore_and_notify)));
    let ei = last_ric_ei(&net, i);
    assert_eq!(ei.cause, Some(protocol(asn::CauseProtocol::abstract_syntax_error_ignore_and_notify)));
    // Only the notify IE is listed; the ignore IE is ignored silently.
    assert_eq!(
        ie_items(&ei),
        vec![asn::CriticalityDiagnosticsIEItem::new(
            Criticality::notify,
            asn::ProtocolIEID(998),
            asn::TypeOfError::not_understood
        )]
    );
    // An unknown IE with criticality ignore alone: processed, nothing sent back.
    let before = net.ric_error_indications(i).len();
    let (kind, code, crit, mut ies) = explode(&indication(id));
    ies.push((997, Criticality::ignore, vec![0x03]));
    net.inject_to_ric(i, &implode(kind, code, crit, ies));
    assert!(matches!(&net.take_ric_events()[..], [ric::Event::Indication(_)]));
    assert_eq!(net.ric_error_indications(i).len(), before);
}

#[test]
fn a_missing_mandatory_ie_is_reported_as_missing() {
    let (mut net, i, id) = setup();
    let (kind, code, crit, mut ies) = explode(&indication(id));
    ies.retain(|ie| ie.0 != 26); // RICindicationMessage
    net.inject_to_ric(i, &implode(kind, code, crit, ies));
    let ei = last_ric_ei(&net, i);
    assert_eq!(ei.cause, Some(protocol(asn::CauseProtocol::abstract_syntax_error_reject)));
    assert_eq!(
        ie_items(&ei),
        vec![asn::CriticalityDiagnosticsIEItem::new(
            Criticality::reject,
            asn::ProtocolIEID(26),
            asn::TypeOfError::missing
        )]
    );
}

#[test]
fn messages_the_ric_never_receives_are_not_compatible() {
    let (mut net, i, id) = setup();
    let wrong: Vec<E2apPdu> = vec![
        RicSubscriptionRequest {
            ric_request_id: id.into(),
            ran_function_id: asn::RANfunctionID(KPM),
            details: SubscriptionDetails {
                event_trigger_definition: b"t".to_vec(),
                actions: vec![build::action(1, asn::RICactionType::report, None)],
            },
            start_time: None,
            end_time: None,
        }
        .into(),
        RicSubscriptionDeleteRequest { ric_request_id: id.into(), ran_function_id: asn::RANfunctionID(KPM) }.into(),
        RicControlRequest {
            ric_request_id: id.into(),
            ran_function_id: asn::RANfunctionID(KPM),
            call_process_id: None,
            header: asn::RICcontrolHeader(b"h".to_vec().into()),
            message: asn::RICcontrolMessage(b"m".to_vec().into()),
            ack_request: None,
        }
        .into(),
        RicServiceQuery { transaction_id: build::transaction_id(3), ran_functions_accepted: None }.into(),
        E2SetupResponse {
            transaction_id: build::transaction_id(3),
            global_ric_id: ric_config().global_ric_id,
            ran_functions_accepted: None,
            ran_functions_rejected: None,
            component_config_addition_ack: vec![build::component_ack(&build::f1_component(1, b"a", b"b").expect("f1"))],
        }
        .into(),
        RicServiceUpdateAcknowledge {
            transaction_id: build::transaction_id(3),
            ran_functions_accepted: None,
            ran_functions_rejected: None,
        }
        .into(),
    ];
    for pdu in wrong {
        net.inject_to_ric(i, &pdu.encode().expect("encode"));
        let error = ric_protocol_error(&mut net);
        assert_eq!(
            error.cause,
            protocol(asn::CauseProtocol::message_not_compatible_with_receiver_state),
            "{}",
            pdu.name()
        );
        let ei = last_ric_ei(&net, i);
        assert_eq!(ei.cause, Some(error.cause.clone()));
        let diag = ei.criticality_diagnostics.expect("diagnostics");
        assert_eq!(diag.procedure_code, Some(asn::ProcedureCode(pdu.procedure_code())), "{}", pdu.name());
    }
    // Nothing changed.
    assert!(net.ric.subscription(id).is_some());
}

#[test]
fn messages_the_node_never_receives_are_not_compatible() {
    let (mut net, i, id) = setup();
    let setup_request = E2SetupRequest {
        transaction_id: build::transaction_id(1),
        global_e2_node_id: node_id(1).0,
        ran_functions: vec![build::ran_function(KPM, 1, qsafe_asn1::kpm::RAN_FUNCTION_OID, b"def").expect("function")],
        component_config_addition: vec![build::f1_component(1, b"a", b"b").expect("f1")],
    };
    let wrong: Vec<E2apPdu> = vec![
        setup_request.into(),
        indication(id),
        RicSubscriptionResponse {
            ric_request_id: id.into(),
            ran_function_id: asn::RANfunctionID(KPM),
            actions_admitted: vec![asn::RICactionAdmittedItem::new(asn::RICactionID(1))],
            actions_not_admitted: None,
        }
        .into(),
        RicServiceUpdate {
            transaction_id: build::transaction_id(1),
            ran_functions_added: None,
            ran_functions_modified: None,
            ran_functions_deleted: None,
        }
        .into(),
    ];
    for pdu in wrong {
        let before = net.node_error_indications(i).len();
        net.inject_to_node(i, &pdu.encode().expect("encode"));
        let sent = net.node_error_indications(i);
        assert_eq!(sent.len(), before + 1, "{}", pdu.name());
        assert_eq!(
            sent[before].cause,
            Some(protocol(asn::CauseProtocol::message_not_compatible_with_receiver_state)),
            "{}",
            pdu.name()
        );
    }
    assert!(net.nodes[i].agent.subscription(id).is_some());
}

#[test]
fn pdus_before_e2_setup_are_not_compatible() {
    let mut net = Net::new(ric_config());
    let i = net.add_node(node_config(1));
    // The association is up, but the node never sends E2 Setup.
    let a = net.ric.connection_up(net.now);
    net.nodes[i].association = Some(a);
    net.inject_to_ric(i, &indication(RequestId::new(REQUESTOR, 1)).encode().expect("encode"));
    let error = ric_protocol_error(&mut net);
    assert_eq!(error.cause, protocol(asn::CauseProtocol::message_not_compatible_with_receiver_state));
    assert!(error.detail.contains("before E2 Setup"), "{}", error.detail);
    assert_eq!(net.ric.stats().indications_delivered, 0);
    let update = RicServiceUpdate {
        transaction_id: build::transaction_id(1),
        ran_functions_added: None,
        ran_functions_modified: None,
        ran_functions_deleted: None,
    };
    net.inject_to_ric(i, &E2apPdu::from(update).encode().expect("encode"));
    assert_eq!(
        ric_protocol_error(&mut net).cause,
        protocol(asn::CauseProtocol::message_not_compatible_with_receiver_state)
    );
    assert!(net.ric.registry().is_empty());
    // The node before its setup completes.
    net.nodes[i].agent.connection_up(net.now);
    net.nodes[i].deaf = true;
    net.pump();
    net.nodes[i].deaf = false;
    while net.nodes[i].agent.poll_transmit().is_some() {}
    let request = RicSubscriptionDeleteRequest {
        ric_request_id: RequestId::new(REQUESTOR, 1).into(),
        ran_function_id: asn::RANfunctionID(KPM),
    };
    net.inject_to_node(i, &E2apPdu::from(request).encode().expect("encode"));
    assert!(net.take_node_events(i).iter().any(|e| matches!(e, node::Event::ProtocolError { error }
        if error.cause == protocol(asn::CauseProtocol::message_not_compatible_with_receiver_state))));
}

#[test]
fn unknown_procedures_follow_their_criticality() {
    let (mut net, i, _) = setup();
    // RIC query (procedure 16) is valid E2AP v3 but not spoken here.
    let query = implode(MessageKind::InitiatingMessage, 16, Criticality::reject, vec![]);
    net.inject_to_ric(i, &query);
    let error = ric_protocol_error(&mut net);
    assert_eq!(error.cause, protocol(asn::CauseProtocol::abstract_syntax_error_reject));
    assert!(error.error_indication_sent);
    let diag = last_ric_ei(&net, i).criticality_diagnostics.expect("diagnostics");
    assert_eq!(diag.procedure_code, Some(asn::ProcedureCode(16)));
    // With criticality ignore: dropped without an answer.
    let before = net.ric_error_indications(i).len();
    net.inject_to_ric(i, &implode(MessageKind::InitiatingMessage, 16, Criticality::ignore, vec![]));
    let error = ric_protocol_error(&mut net);
    assert!(!error.error_indication_sent);
    assert_eq!(net.ric_error_indications(i).len(), before);
    // With notify: reported.
    net.inject_to_ric(i, &implode(MessageKind::InitiatingMessage, 16, Criticality::notify, vec![]));
    assert_eq!(last_ric_ei(&net, i).cause, Some(protocol(asn::CauseProtocol::abstract_syntax_error_ignore_and_notify)));
}

#[test]
fn a_broken_error_indication_is_never_answered() {
    let (mut net, i, _) = setup();
    let before = net.ric_error_indications(i).len();
    // Error Indication (procedure 2) with a malformed cause IE.
    let bad =
        implode(MessageKind::InitiatingMessage, 2, Criticality::ignore, vec![(1, Criticality::ignore, vec![0xFF])]);
    net.inject_to_ric(i, &bad);
    let error = ric_protocol_error(&mut net);
    assert!(!error.error_indication_sent);
    assert_eq!(net.ric_error_indications(i).len(), before);
    // An Error Indication with an unknown reject IE: not answered either.
    let bad =
        implode(MessageKind::InitiatingMessage, 2, Criticality::ignore, vec![(999, Criticality::reject, vec![0])]);
    net.inject_to_ric(i, &bad);
    assert!(!ric_protocol_error(&mut net).error_indication_sent);
    assert_eq!(net.ric_error_indications(i).len(), before);
    // Same at the node.
    let before = net.node_error_indications(i).len();
    net.inject_to_node(i, &bad);
    assert_eq!(net.node_error_indications(i).len(), before);
}
