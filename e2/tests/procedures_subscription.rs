//! RIC Subscription, Subscription Delete, Delete Required and RIC
//! Indication dispatch, through the pure state machines.

mod procedures_support;

use std::collections::HashSet;
use std::time::Duration;

use procedures_support::*;
use qsafe_asn1::e2ap::{
    E2apPdu, ErrorIndication, RicIndication, RicSubscriptionDeleteRequest, RicSubscriptionRequest, SubscriptionDetails,
    build,
};
use qsafe_asn1::e2ap_asn as asn;
use qsafe_e2::RequestId;
use qsafe_e2::common::NotAdmittedAction;
use qsafe_e2::node::{self, NodeError, SubscriptionPolicy};
use qsafe_e2::ric::{self, ControlRequest, DeleteReason, RicError, SubscriptionState};

fn encode(pdu: impl Into<E2apPdu>) -> Vec<u8> {
    pdu.into().encode().expect("encode")
}

#[test]
fn subscription_is_established_with_admitted_and_not_admitted_actions() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    net.take_ric_events();
    net.take_node_events(i);

    let id = net.ric.subscribe(net.now, &node_id(1), kpm_subscription(&[1, 2, 3]), TIMEOUT).expect("subscribe");
    assert_eq!(id.requestor, REQUESTOR);
    assert!(matches!(net.ric.subscription(id).map(|s| &s.state), Some(SubscriptionState::Requested { .. })));
    assert_eq!(net.ric.poll_timeout(), Some(net.now + TIMEOUT));
    net.pump();
    let requested = net.take_node_events(i);
    match &requested[..] {
        [node::Event::SubscriptionRequested { request, ran_function_id, actions, event_trigger }] => {
            assert_eq!(*request, id);
            assert_eq!(*ran_function_id, KPM);
            assert_eq!(actions.len(), 3);
            assert_eq!(&event_trigger[..], &kpm_subscription(&[1]).event_trigger[..]);
        }
        other => panic!("unexpected {other:?}"),
    }
    let refused = NotAdmittedAction { action_id: 2, cause: ric_request(asn::CauseRICrequest::function_resource_limit) };
    net.nodes[i].agent.accept_subscription(id, &[3, 1], vec![refused.clone()]).expect("accept");
    net.pump();

    assert_eq!(
        net.take_ric_events(),
        vec![ric::Event::SubscriptionEstablished {
            subscription: id,
            node: node_id(1),
            ran_function_id: KPM,
            admitted: vec![1, 3],
            not_admitted: vec![refused],
        }]
    );
    let sub = net.ric.subscription(id).expect("live");
    assert_eq!(sub.state, SubscriptionState::Established);
    assert_eq!(sub.admitted, vec![1, 3]);
    assert_eq!(net.ric.poll_timeout(), None, "no deadline once established");
    let at_node = net.nodes[i].agent.subscription(id).expect("active at the node");
    assert_eq!(at_node.admitted, vec![1, 3]);
    assert_eq!(
        net.take_node_events(i),
        vec![node::Event::SubscriptionAdded { request: id, ran_function_id: KPM, admitted: vec![1, 3] }]
    );
    // A decision can be given once only.
    assert_eq!(net.nodes[i].agent.accept_subscription(id, &[1], vec![]), Err(NodeError::NoPendingSubscription(id)));
}

#[test]
fn subscription_failure_is_reported_and_frees_the_request() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    net.take_ric_events();
    let id = net.ric.subscribe(net.now, &node_id(1), kpm_subscription(&[1]), TIMEOUT).expect("subscribe");
    net.pump();
    // Accepting with no admitted action is refused by the API.
    assert_eq!(net.nodes[i].agent.accept_subscription(id, &[9], vec![]), Err(NodeError::NoActionAdmitted(id)));
    let cause = ric_request(asn::CauseRICrequest::function_resource_limit);
    net.nodes[i].agent.reject_subscription(id, cause.clone()).expect("reject");
    net.pump();
    assert_eq!(
        net.take_ric_events(),
        vec![ric::Event::SubscriptionFailed {
            subscription: id,
            node: node_id(1),
            ran_function_id: KPM,
            cause,
            diagnostics: None,
        }]
    );
    assert!(net.ric.subscription(id).is_none());
    assert!(net.nodes[i].agent.subscription(id).is_none());
    assert_eq!(net.ric.poll_timeout(), None);
}

#[test]
fn subscription_times_out_and_the_ric_cleans_up() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    net.take_ric_events();
    net.nodes[i].mute = true;
    let id = net.ric.subscribe(net.now, &node_id(1), kpm_subscription(&[1]), TIMEOUT).expect("subscribe");
    net.pump();
    net.advance(TIMEOUT - Duration::from_millis(1));
    assert!(net.take_ric_events().is_empty());
    net.advance(Duration::from_millis(1));
    assert_eq!(
        net.take_ric_events(),
        vec![ric::Event::SubscriptionTimedOut { subscription: id, node: node_id(1), ran_function_id: KPM }]
    );
    // A clean-up delete went out; the request id stays reserved meanwhile.
    assert!(
        matches!(net.ric_sent.last(), Some((_, E2apPdu::RicSubscriptionDeleteRequest(d))) if RequestId::from(&d.ric_request_id) == id)
    );
    assert!(matches!(
        net.ric.subscription(id).map(|s| &s.state),
        Some(SubscriptionState::Deleting { reason: DeleteReason::AfterTimeout, .. })
    ));
    // The node had the request pending; the delete removed it.
    assert!(
        net.take_node_events(i)
            .iter()
            .any(|e| matches!(e, node::Event::SubscriptionDeleted { request, .. } if *request == id))
    );
    // Its delete response was lost too; the clean-up ends silently at its deadline.
    net.advance(ric_config().internal_delete_timeout);
    assert!(net.take_ric_events().is_empty());
    assert!(net.ric.subscription(id).is_none());
    assert_eq!(net.ric.poll_timeout(), None);
}

#[test]
fn a_late_response_after_timeout_is_cleaned_up_silently() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    net.take_ric_events();
    net.nodes[i].deaf = true;
    let id = net.ric.subscribe(net.now, &node_id(1), kpm_subscription(&[1]), TIMEOUT).expect("subscribe");
    net.pump();
    net.advance(TIMEOUT);
    assert!(matches!(&net.take_ric_events()[..], [ric::Event::SubscriptionTimedOut { .. }]));
    // The clean-up delete was lost; the node now answers the original request late.
    net.nodes[i].deaf = false;
    let late = qsafe_asn1::e2ap::RicSubscriptionResponse {
        ric_request_id: id.into(),
        ran_function_id: asn::RANfunctionID(KPM),
        actions_admitted: vec![asn::RICactionAdmittedItem::new(asn::RICactionID(1))],
        actions_not_admitted: None,
    };
    net.inject_to_ric(i, &encode(late));
    // An indication in between is dropped without an Error Indication.
    let indication = RicIndication {
        ric_request_id: id.into(),
        ran_function_id: asn::RANfunctionID(KPM),
        action_id: asn::RICactionID(1),
        sn: Some(asn::RICindicationSN(0)),
        indication_type: asn::RICindicationType::report,
        header: asn::RICindicationHeader(b"h".to_vec().into()),
        message: asn::RICindicationMessage(b"m".to_vec().into()),
        call_process_id: None,
    };
    net.inject_to_ric(i, &encode(indication));
    assert!(net.take_ric_events().is_empty());
    assert_eq!(net.ric.stats().indications_dropped, 1);
    assert!(net.ric_error_indications(i).is_empty());
}

#[test]
fn request_ids_are_unique_and_shared_by_subscriptions_and_controls() {
    let mut net = Net::new(ric_config());
    for n in 0..3 {
        let i = net.setup_node(n);
        net.nodes[i].agent.config();
    }
    let mut seen = HashSet::new();
    for round in 0..100u32 {
        for n in 0..3 {
            let id = net.ric.subscribe(net.now, &node_id(n), kpm_subscription(&[1]), TIMEOUT).expect("subscribe");
            assert!(seen.insert(id), "round {round}: {id} handed out twice");
            let control = ControlRequest {
                ran_function_id: KPM,
                header: b"h".to_vec().into(),
                message: b"m".to_vec().into(),
                call_process_id: None,
                ack_requested: true,
            };
            let c = net.ric.control(net.now, &node_id(n), control, TIMEOUT).expect("control");
            assert!(seen.insert(c), "control got a live id {c}");
        }
    }
    assert_eq!(seen.len(), 600);
    assert!(seen.iter().all(|id| id.requestor == REQUESTOR));
}

#[test]
fn instance_ids_wrap_around_skip_live_ids_and_are_reused_after_delete() {
    let mut config = ric_config();
    config.first_instance_id = 65534;
    let mut net = Net::new(config);
    let i = net.setup_node(1);
    net.nodes[i].agent.config();
    net.record = false;
    let a = net.subscribe_and_accept(i, &[1]);
    assert_eq!(a, RequestId::new(REQUESTOR, 65534));

    // Fire-and-forget controls free their id at once but advance the counter.
    let no_ack = || ControlRequest {
        ran_function_id: KPM,
        header: b"h".to_vec().into(),
        message: b"m".to_vec().into(),
        call_process_id: None,
        ack_requested: false,
    };
    let burn = |net: &mut Net, n: u32| {
        for _ in 0..n {
            net.ric.control(net.now, &node_id(1), no_ack(), TIMEOUT).expect("control");
            while net.ric.poll_transmit().is_some() {}
        }
    };
    // 65535, 0, 1, …, 65533: the counter wraps and reaches 65534 again.
    burn(&mut net, 65535);
    let b = net.subscribe_and_accept(i, &[1]);
    assert_eq!(b, RequestId::new(REQUESTOR, 65535), "65534 is live and skipped");

    net.ric.unsubscribe(net.now, a, TIMEOUT).expect("unsubscribe");
    net.pump();
    assert!(net.ric.subscription(a).is_none());
    burn(&mut net, 65534); // 0 ..= 65533
    let c = net.subscribe_and_accept(i, &[1]);
    assert_eq!(c, a, "the deleted subscription's id is free again");
}

#[test]
fn indications_are_dispatched_in_order_with_sequence_numbers() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    let id = net.subscribe_and_accept(i, &[1, 2]);
    net.take_ric_events();
    for k in 0..5u8 {
        let sn = net.nodes[i].agent.send_indication(id, 1 + k % 2, vec![k], vec![k; 100]).expect("indication");
        assert_eq!(sn, u16::from(k));
    }
    net.pump();
    let a = net.nodes[i].association.expect("a");
    let events = net.take_ric_events();
    assert_eq!(events.len(), 5);
    for (k, e) in events.iter().enumerate() {
        let k = k as u8;
        assert_eq!(
            e,
            &ric::Event::Indication(ric::Indication {
                association: a,
                subscription: id,
                ran_function_id: KPM,
                action_id: 1 + k % 2,
                sn: Some(u16::from(k)),
                indication_type: asn::RICindicationType::report,
                header: vec![k].into(),
                message: vec![k; 100].into(),
                call_process_id: None,
            })
        );
    }
    assert_eq!(net.ric.stats().indications_delivered, 5);
    assert_eq!(net.nodes[i].agent.stats().indications_sent, 5);
    // Refusals on the node side.
    assert_eq!(
        net.nodes[i].agent.send_indication(id, 7, vec![], vec![]),
        Err(NodeError::ActionNotAdmitted { subscription: id, action_id: 7 })
    );
    let unknown = RequestId::new(REQUESTOR, 4242);
    assert_eq!(
        net.nodes[i].agent.send_indication(unknown, 1, vec![], vec![]),
        Err(NodeError::UnknownSubscription(unknown))
    );
}

#[test]
fn indication_sequence_numbers_wrap() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    let id = net.subscribe_and_accept(i, &[1]);
    net.record = false;
    net.take_ric_events();
    let header = bytes::Bytes::from_static(b"h");
    let message = bytes::Bytes::from_static(b"m");
    let mut last = None;
    for k in 0..=65536u32 {
        let sn = net.nodes[i].agent.send_indication(id, 1, header.clone(), message.clone()).expect("indication");
        assert_eq!(u32::from(sn), k % 65536);
        last = Some(sn);
        if k % 4096 == 4095 {
            net.pump();
            net.ric_events.clear();
        }
    }
    assert_eq!(last, Some(0));
    net.pump();
    match net.ric_events.last() {
        Some(ric::Event::Indication(ind)) => assert_eq!(ind.sn, Some(0)),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(net.ric.stats().indications_delivered, 65537);
}

#[test]
fn indication_for_an_unknown_request_id_gets_an_error_indication() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    let id = net.subscribe_and_accept(i, &[1]);
    net.take_ric_events();
    net.take_node_events(i);
    let stray = |request: RequestId, function: u16| RicIndication {
        ric_request_id: request.into(),
        ran_function_id: asn::RANfunctionID(function),
        action_id: asn::RICactionID(1),
        sn: Some(asn::RICindicationSN(3)),
        indication_type: asn::RICindicationType::report,
        header: asn::RICindicationHeader(b"h".to_vec().into()),
        message: asn::RICindicationMessage(b"m".to_vec().into()),
        call_process_id: None,
    };
    let unknown = RequestId::new(REQUESTOR, 999);
    net.inject_to_ric(i, &encode(stray(unknown, KPM)));
    // Right request id, wrong RAN function: unknown as well.
    net.inject_to_ric(i, &encode(stray(id, OTHER)));
    // Another xApp's requestor id.
    net.inject_to_ric(i, &encode(stray(RequestId::new(7, id.instance), KPM)));

    let sent = net.ric_error_indications(i);
    assert_eq!(sent.len(), 3);
    let cause = ric_request(asn::CauseRICrequest::request_id_unknown);
    assert_eq!(sent[0].cause, Some(cause.clone()));
    assert_eq!(sent[0].ric_request_id, Some(unknown.into()));
    assert_eq!(sent[0].ran_function_id, Some(asn::RANfunctionID(KPM)));
    let diag = sent[0].criticality_diagnostics.as_ref().expect("diagnostics");
    assert_eq!(diag.procedure_code, Some(asn::ProcedureCode(5)));
    assert_eq!(diag.triggering_message, Some(asn::TriggeringMessage::initiating_message));
    assert_eq!(sent[1].ran_function_id, Some(asn::RANfunctionID(OTHER)));
    assert_eq!(net.ric.stats().indications_unknown, 3);
    assert_eq!(net.ric.stats().error_indications_sent, 3);
    let events = net.take_ric_events();
    assert_eq!(events.len(), 3);
    for e in &events {
        match e {
            ric::Event::ProtocolError { error, node, .. } => {
                assert_eq!(error.cause, cause);
                assert!(error.error_indication_sent);
                assert_eq!(node.as_ref(), Some(&node_id(1)));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // The node got them as Error Indications.
    let node_events = net.take_node_events(i);
    assert_eq!(node_events.len(), 3);
    assert!(
        matches!(&node_events[0], node::Event::ErrorIndicationReceived { report } if report.refs.request_id == Some(unknown))
    );
    // The live subscription still works.
    net.nodes[i].agent.send_indication(id, 1, vec![1], vec![2]).expect("indication");
    net.pump();
    assert!(matches!(&net.take_ric_events()[..], [ric::Event::Indication(_)]));
}

#[test]
fn unsubscribe_deletes_on_both_sides() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    let id = net.subscribe_and_accept(i, &[1]);
    net.take_ric_events();
    net.take_node_events(i);
    net.ric.unsubscribe(net.now, id, TIMEOUT).expect("unsubscribe");
    assert_eq!(net.ric.unsubscribe(net.now, id, TIMEOUT), Err(RicError::DeleteInProgress(id)));
    net.pump();
    assert_eq!(
        net.take_ric_events(),
        vec![ric::Event::SubscriptionDeleted { subscription: id, node: node_id(1), reason: DeleteReason::Requested }]
    );
    assert_eq!(net.take_node_events(i), vec![node::Event::SubscriptionDeleted { request: id, ran_function_id: KPM }]);
    assert!(net.ric.subscription(id).is_none());
    assert!(net.nodes[i].agent.subscription(id).is_none());
    assert_eq!(net.ric.unsubscribe(net.now, id, TIMEOUT), Err(RicError::UnknownSubscription(id)));
    assert_eq!(net.nodes[i].agent.send_indication(id, 1, vec![], vec![]), Err(NodeError::UnknownSubscription(id)));
}

#[test]
fn delete_of_a_subscription_the_node_does_not_know() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    let id = net.subscribe_and_accept(i, &[1]);
    net.take_ric_events();
    // Someone else deletes it at the node behind the RIC's back.
    let delete = RicSubscriptionDeleteRequest { ric_request_id: id.into(), ran_function_id: asn::RANfunctionID(KPM) };
    net.inject_to_node(i, &encode(delete.clone()));
    // The node's response reaches the RIC, which has no delete outstanding: Error Indication.
    let sent = net.ric_error_indications(i);
    assert_eq!(
        sent.last().and_then(|e| e.cause.clone()),
        Some(protocol(asn::CauseProtocol::message_not_compatible_with_receiver_state))
    );
    net.take_ric_events();
    // Now the RIC deletes: the node answers request-id-unknown, the RIC forgets it.
    net.ric.unsubscribe(net.now, id, TIMEOUT).expect("unsubscribe");
    net.pump();
    assert_eq!(
        net.take_ric_events(),
        vec![ric::Event::SubscriptionDeleteFailed {
            subscription: id,
            node: node_id(1),
            cause: ric_request(asn::CauseRICrequest::request_id_unknown),
            still_active: false,
        }]
    );
    assert!(net.ric.subscription(id).is_none());
    // A node answers an unknown delete with the failure itself.
    net.inject_to_node(i, &encode(delete));
    assert!(matches!(
        net.node_sent[i].last(),
        Some(E2apPdu::RicSubscriptionDeleteFailure(f)) if f.cause == ric_request(asn::CauseRICrequest::request_id_unknown)
    ));
}

#[test]
fn delete_timeout_keeps_the_subscription() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    let id = net.subscribe_and_accept(i, &[1]);
    net.take_ric_events();
    net.nodes[i].mute = true;
    net.ric.unsubscribe(net.now, id, TIMEOUT).expect("unsubscribe");
    net.pump();
    net.advance(TIMEOUT);
    assert_eq!(
        net.take_ric_events(),
        vec![ric::Event::SubscriptionDeleteTimedOut { subscription: id, node: node_id(1), still_active: true }]
    );
    assert_eq!(net.ric.subscription(id).map(|s| &s.state), Some(&SubscriptionState::Established));
    // A retry works once the node is reachable again.
    net.nodes[i].mute = false;
    net.ric.unsubscribe(net.now, id, TIMEOUT).expect("again");
    net.pump();
    assert!(net.ric.subscription(id).is_none());
}

#[test]
fn delete_required_makes_the_ric_delete() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    let a = net.subscribe_and_accept(i, &[1]);
    let b = net.subscribe_and_accept(i, &[1]);
    net.take_ric_events();
    net.take_node_events(i);
    let cause = asn::Cause::misc(asn::CauseMisc::om_intervention);
    let unknown = RequestId::new(REQUESTOR, 5555);
    assert_eq!(
        net.nodes[i].agent.require_deletion(&[(a, cause.clone()), (unknown, cause.clone())]),
        Err(NodeError::UnknownSubscription(unknown))
    );
    net.nodes[i].agent.require_deletion(&[(a, cause.clone())]).expect("required");
    // Still active at the node until the RIC deletes it.
    assert!(net.nodes[i].agent.subscription(a).is_some());
    net.pump();
    assert_eq!(
        net.take_ric_events(),
        vec![
            ric::Event::SubscriptionDeleteRequired { subscription: a, node: node_id(1), cause: cause.clone() },
            ric::Event::SubscriptionDeleted {
                subscription: a,
                node: node_id(1),
                reason: DeleteReason::RequiredByNode(cause),
            },
        ]
    );
    assert_eq!(net.take_node_events(i), vec![node::Event::SubscriptionDeleted { request: a, ran_function_id: KPM }]);
    assert!(net.ric.subscription(a).is_none());
    assert!(net.nodes[i].agent.subscription(a).is_none());
    assert!(net.ric.subscription(b).is_some(), "the other subscription is untouched");
}

#[test]
fn the_node_refuses_requests_it_can_judge_itself() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    let id = net.subscribe_and_accept(i, &[1]);
    let definition = b"def".to_vec();
    let request = |request: RequestId, function: u16, actions: &[u8]| RicSubscriptionRequest {
        ric_request_id: request.into(),
        ran_function_id: asn::RANfunctionID(function),
        details: SubscriptionDetails {
            event_trigger_definition: b"trigger".to_vec(),
            actions: actions.iter().map(|a| build::action(*a, asn::RICactionType::report, Some(&definition))).collect(),
        },
        start_time: None,
        end_time: None,
    };
    let fresh = RequestId::new(REQUESTOR, 4000);
    let cases = [
        (request(fresh, 99, &[1]), asn::CauseRICrequest::ran_function_id_invalid),
        (request(id, KPM, &[1]), asn::CauseRICrequest::duplicate_ric_request_id),
        (request(fresh, KPM, &[1, 1]), asn::CauseRICrequest::duplicate_action),
    ];
    for (pdu, cause) in cases {
        net.inject_to_node(i, &encode(pdu));
        match net.node_sent[i].last() {
            Some(E2apPdu::RicSubscriptionFailure(f)) => assert_eq!(f.cause, ric_request(cause)),
            other => panic!("unexpected {other:?}"),
        }
    }
    // The RIC refuses bad action lists before sending anything.
    let mut bad = kpm_subscription(&[1]);
    bad.actions.push(bad.actions[0].clone());
    assert!(matches!(net.ric.subscribe(net.now, &node_id(1), bad, TIMEOUT), Err(RicError::InvalidActions(_))));
    let mut none = kpm_subscription(&[1]);
    none.actions.clear();
    assert!(matches!(net.ric.subscribe(net.now, &node_id(1), none, TIMEOUT), Err(RicError::InvalidActions(_))));
    assert_eq!(
        net.ric.subscribe(net.now, &node_id(9), kpm_subscription(&[1]), TIMEOUT),
        Err(RicError::UnknownNode(node_id(9)))
    );
}

#[test]
fn admit_all_policy_answers_at_once() {
    let mut net = Net::new(ric_config());
    let mut config = node_config(1);
    config.subscription_policy = SubscriptionPolicy::AdmitAll;
    let i = net.add_node(config);
    net.connect(i);
    net.take_node_events(i);
    let id = net.ric.subscribe(net.now, &node_id(1), kpm_subscription(&[1, 2]), TIMEOUT).expect("subscribe");
    net.pump();
    assert!(matches!(
        &net.take_ric_events()[..],
        [_, ric::Event::SubscriptionEstablished { admitted, .. }] if admitted == &vec![1, 2]
    ));
    assert_eq!(
        net.take_node_events(i),
        vec![node::Event::SubscriptionAdded { request: id, ran_function_id: KPM, admitted: vec![1, 2] }]
    );
}

#[test]
fn an_error_indication_about_a_pending_request_fails_it() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    net.take_ric_events();
    let id = net.ric.subscribe(net.now, &node_id(1), kpm_subscription(&[1]), TIMEOUT).expect("subscribe");
    net.pump();
    let cause = ric_request(asn::CauseRICrequest::system_not_ready);
    let ei = ErrorIndication {
        transaction_id: None,
        ric_request_id: Some(id.into()),
        ran_function_id: Some(asn::RANfunctionID(KPM)),
        cause: Some(cause.clone()),
        criticality_diagnostics: None,
    };
    net.inject_to_ric(i, &encode(ei));
    let events = net.take_ric_events();
    assert!(
        matches!(&events[0], ric::Event::SubscriptionFailed { subscription, cause: c, .. } if *subscription == id && *c == cause)
    );
    assert!(
        matches!(&events[1], ric::Event::ErrorIndicationReceived { report, .. } if report.cause == Some(cause.clone()))
    );
    assert!(net.ric.subscription(id).is_none());
    assert!(net.ric_error_indications(i).is_empty(), "an Error Indication is never answered with one");
}
