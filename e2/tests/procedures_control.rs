//! RIC Control and Reset (both directions), through the pure state machines.

mod procedures_support;

use std::time::Duration;

use bytes::Bytes;
use procedures_support::*;
use qsafe_asn1::e2ap::{E2apPdu, RicIndication};
use qsafe_asn1::e2ap_asn as asn;
use qsafe_e2::RequestId;
use qsafe_e2::node::{self, ControlPolicy, NodeError};
use qsafe_e2::ric::{self, ControlRequest, RicError};

fn control(ack: bool) -> ControlRequest {
    ControlRequest {
        ran_function_id: KPM,
        header: Bytes::from_static(b"control header"),
        message: Bytes::from_static(b"control message"),
        call_process_id: Some(Bytes::from_static(b"cp-1")),
        ack_requested: ack,
    }
}

#[test]
fn control_with_ack_is_acknowledged() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    net.take_ric_events();
    net.take_node_events(i);
    let id = net.ric.control(net.now, &node_id(1), control(true), TIMEOUT).expect("control");
    assert_eq!(net.ric.poll_timeout(), Some(net.now + TIMEOUT));
    net.pump();
    assert_eq!(
        net.take_node_events(i),
        vec![node::Event::ControlRequested {
            request: id,
            ran_function_id: KPM,
            header: Bytes::from_static(b"control header"),
            message: Bytes::from_static(b"control message"),
            call_process_id: Some(Bytes::from_static(b"cp-1")),
            ack_requested: true,
            answered: false,
        }]
    );
    net.nodes[i].agent.ack_control(id, Some(Bytes::from_static(b"done"))).expect("ack");
    net.pump();
    assert_eq!(
        net.take_ric_events(),
        vec![ric::Event::ControlAcknowledged {
            request: id,
            node: node_id(1),
            ran_function_id: KPM,
            call_process_id: Some(Bytes::from_static(b"cp-1")),
            outcome: Some(Bytes::from_static(b"done")),
        }]
    );
    assert_eq!(net.ric.poll_timeout(), None);
    assert_eq!(net.nodes[i].agent.ack_control(id, None), Err(NodeError::NoPendingControl(id)));
}

#[test]
fn control_without_ack_completes_on_send() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    net.take_ric_events();
    net.take_node_events(i);
    let id = net.ric.control(net.now, &node_id(1), control(false), TIMEOUT).expect("control");
    assert_eq!(net.ric.poll_timeout(), None, "nothing to wait for");
    net.pump();
    assert!(matches!(
        &net.take_node_events(i)[..],
        [node::Event::ControlRequested { ack_requested: false, request, .. }] if *request == id
    ));
    let sent_before = net.node_sent[i].len();
    net.nodes[i].agent.ack_control(id, Some(Bytes::from_static(b"ignored"))).expect("ack");
    net.pump();
    assert_eq!(net.node_sent[i].len(), sent_before, "no acknowledge when none was requested");
    assert!(net.take_ric_events().is_empty());

    // A failure is still sent, and still reported.
    let id = net.ric.control(net.now, &node_id(1), control(false), TIMEOUT).expect("control");
    net.pump();
    let cause = ric_request(asn::CauseRICrequest::control_failed_to_execute);
    net.nodes[i].agent.fail_control(id, cause.clone(), None).expect("fail");
    net.pump();
    assert!(matches!(
        &net.take_ric_events()[..],
        [ric::Event::ControlFailed { request, cause: c, .. }] if *request == id && *c == cause
    ));
    assert!(net.ric_error_indications(i).is_empty());
}

#[test]
fn control_failure_is_reported() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    net.take_ric_events();
    let id = net.ric.control(net.now, &node_id(1), control(true), TIMEOUT).expect("control");
    net.pump();
    let cause = ric_request(asn::CauseRICrequest::control_message_invalid);
    net.nodes[i].agent.fail_control(id, cause.clone(), Some(Bytes::from_static(b"why"))).expect("fail");
    net.pump();
    assert_eq!(
        net.take_ric_events(),
        vec![ric::Event::ControlFailed {
            request: id,
            node: node_id(1),
            ran_function_id: KPM,
            cause,
            call_process_id: Some(Bytes::from_static(b"cp-1")),
            outcome: Some(Bytes::from_static(b"why")),
        }]
    );
    assert_eq!(net.ric.poll_timeout(), None);
}

#[test]
fn control_times_out() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    net.take_ric_events();
    let id = net.ric.control(net.now, &node_id(1), control(true), TIMEOUT).expect("control");
    net.pump();
    net.advance(TIMEOUT);
    assert_eq!(
        net.take_ric_events(),
        vec![ric::Event::ControlTimedOut { request: id, node: node_id(1), ran_function_id: KPM }]
    );
    // The late acknowledge is for an unknown request: Error Indication.
    net.nodes[i].agent.ack_control(id, None).expect("late ack");
    net.pump();
    let sent = net.ric_error_indications(i);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].cause, Some(ric_request(asn::CauseRICrequest::request_id_unknown)));
    assert_eq!(sent[0].ric_request_id, Some(id.into()));
}

#[test]
fn control_refusals() {
    let mut net = Net::new(ric_config());
    let mut config = node_config(1);
    config.control_policy = ControlPolicy::AcknowledgeAll;
    let i = net.add_node(config);
    net.connect(i);
    net.take_ric_events();
    net.take_node_events(i);
    // AcknowledgeAll answers at once and still tells the application.
    let id = net.ric.control(net.now, &node_id(1), control(true), TIMEOUT).expect("control");
    net.pump();
    assert!(matches!(&net.take_ric_events()[..], [ric::Event::ControlAcknowledged { request, .. }] if *request == id));
    assert!(matches!(&net.take_node_events(i)[..], [node::Event::ControlRequested { answered: true, .. }]));
    // Unknown RAN function: the RIC refuses locally; injected at the node, it is refused there.
    let mut other = control(true);
    other.ran_function_id = 99;
    assert_eq!(
        net.ric.control(net.now, &node_id(1), other, TIMEOUT),
        Err(RicError::UnknownRanFunction { node: node_id(1), ran_function_id: 99 })
    );
    let request = qsafe_asn1::e2ap::RicControlRequest {
        ric_request_id: RequestId::new(REQUESTOR, 321).into(),
        ran_function_id: asn::RANfunctionID(99),
        call_process_id: None,
        header: asn::RICcontrolHeader(b"h".to_vec().into()),
        message: asn::RICcontrolMessage(b"m".to_vec().into()),
        ack_request: None,
    };
    net.inject_to_node(i, &E2apPdu::from(request).encode().expect("encode"));
    assert!(matches!(
        net.node_sent[i].last(),
        Some(E2apPdu::RicControlFailure(f)) if f.cause == ric_request(asn::CauseRICrequest::ran_function_id_invalid)
    ));
    assert_eq!(net.ric.control(net.now, &node_id(5), control(true), TIMEOUT), Err(RicError::UnknownNode(node_id(5))));
}

#[test]
fn reset_from_the_node_clears_subscriptions_on_both_sides() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    let other = net.setup_node(2);
    let a = net.subscribe_and_accept(i, &[1]);
    let b = net.subscribe_and_accept(i, &[1]);
    let kept = net.subscribe_and_accept(other, &[1]);
    let pending_control = net.ric.control(net.now, &node_id(1), control(true), TIMEOUT).expect("control");
    net.pump();
    net.take_ric_events();
    net.take_node_events(i);

    let cause = asn::Cause::misc(asn::CauseMisc::hardware_failure);
    let cleared = net.nodes[i].agent.reset(net.now, cause.clone(), TIMEOUT).expect("reset");
    assert_eq!(cleared, vec![a, b]);
    assert_eq!(net.nodes[i].agent.reset(net.now, cause.clone(), TIMEOUT), Err(NodeError::ProcedureInProgress("reset")));
    net.pump();
    assert_eq!(
        net.take_ric_events(),
        vec![ric::Event::ResetByNode {
            node: node_id(1),
            cause,
            subscriptions_cleared: vec![a, b],
            controls_aborted: vec![pending_control],
        }]
    );
    assert_eq!(net.take_node_events(i), vec![node::Event::ResetCompleted]);
    assert!(net.ric.subscription(a).is_none() && net.ric.subscription(b).is_none());
    assert!(net.ric.subscription(kept).is_some(), "other nodes are untouched");
    assert_eq!(net.nodes[i].agent.subscriptions().count(), 0);
    assert_eq!(net.ric.poll_timeout(), None);
    assert_eq!(net.nodes[i].agent.poll_timeout(), None);
    // Still set up: a new subscription works.
    net.subscribe_and_accept(i, &[1]);
}

#[test]
fn reset_from_the_ric_clears_subscriptions_on_both_sides() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    let a = net.subscribe_and_accept(i, &[1]);
    net.take_ric_events();
    net.take_node_events(i);
    let cause = asn::Cause::misc(asn::CauseMisc::om_intervention);
    net.ric.reset(net.now, &node_id(1), cause.clone(), TIMEOUT).expect("reset");
    assert!(net.ric.subscription(a).is_none(), "cleared at once");
    assert_eq!(net.ric.reset(net.now, &node_id(1), cause.clone(), TIMEOUT), Err(RicError::ResetInProgress(node_id(1))));
    // An indication sent before the node saw the reset is dropped silently.
    let in_flight = RicIndication {
        ric_request_id: a.into(),
        ran_function_id: asn::RANfunctionID(KPM),
        action_id: asn::RICactionID(1),
        sn: Some(asn::RICindicationSN(9)),
        indication_type: asn::RICindicationType::report,
        header: asn::RICindicationHeader(b"h".to_vec().into()),
        message: asn::RICindicationMessage(b"m".to_vec().into()),
        call_process_id: None,
    };
    let assoc = net.nodes[i].association.expect("a");
    net.ric.handle_pdu(net.now, assoc, 0, &E2apPdu::from(in_flight).encode().expect("encode")).expect("handle");
    assert_eq!(net.ric.stats().indications_dropped, 1);
    net.pump();
    assert_eq!(net.take_node_events(i), vec![node::Event::ResetByRic { cause, subscriptions_cleared: vec![a] }]);
    assert_eq!(
        net.take_ric_events(),
        vec![ric::Event::ResetCompleted { node: node_id(1), subscriptions_cleared: vec![a], controls_aborted: vec![] }]
    );
    assert!(net.ric_error_indications(i).is_empty());
    assert_eq!(net.nodes[i].agent.subscriptions().count(), 0);
    assert_eq!(net.ric.poll_timeout(), None);
}

#[test]
fn reset_from_the_ric_times_out() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    net.take_ric_events();
    net.nodes[i].mute = true;
    net.ric.reset(net.now, &node_id(1), asn::Cause::misc(asn::CauseMisc::unspecified), TIMEOUT).expect("reset");
    net.pump();
    net.advance(Duration::from_secs(2));
    assert_eq!(net.take_ric_events(), vec![ric::Event::ResetTimedOut { node: node_id(1) }]);
    // A new reset is possible again.
    net.nodes[i].mute = false;
    net.ric.reset(net.now, &node_id(1), asn::Cause::misc(asn::CauseMisc::unspecified), TIMEOUT).expect("reset");
    net.pump();
    assert!(matches!(&net.take_ric_events()[..], [ric::Event::ResetCompleted { .. }]));
}
