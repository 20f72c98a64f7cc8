//! E2 Setup, the node registry, reconnects, RIC Service Update / Query and
//! E2 Node Configuration Update, through the pure state machines.

mod procedures_support;

use std::time::Duration;

use procedures_support::*;
use qsafe_asn1::e2ap::E2apPdu;
use qsafe_asn1::e2ap_asn as asn;
use qsafe_asn1::kpm;
use qsafe_e2::common::{ComponentConfig, RanFunction, RejectedFunction};
use qsafe_e2::node::{self, ConfigurationUpdate, ServiceUpdate, SetupState};
use qsafe_e2::ric::{self, ConnectionState, FunctionAcceptance};

#[test]
fn setup_accepts_every_function_by_default() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    let a = net.nodes[i].association.expect("association");

    let events = net.take_ric_events();
    assert_eq!(
        events,
        vec![ric::Event::NodeConnected {
            node: node_id(1),
            association: a,
            accepted: vec![KPM, OTHER],
            rejected: vec![],
            reconnected: false,
        }]
    );
    let info = net.ric.registry().get(&node_id(1)).expect("registered");
    assert_eq!(info.connection, ConnectionState::Connected { association: a, since: net.now });
    assert_eq!(info.ran_functions.keys().copied().collect::<Vec<_>>(), vec![KPM, OTHER]);
    assert_eq!(info.ran_functions[&KPM].oid, kpm::RAN_FUNCTION_OID);
    assert_eq!(info.ran_functions[&OTHER].revision, 3);
    assert_eq!(info.components.len(), 1);
    assert_eq!(&info.components[0].request_part[..], b"f1 setup request");
    assert_eq!(info.setups, 1);
    assert_eq!(net.ric.association_node(a), Some(&node_id(1)));

    match &net.take_node_events(i)[..] {
        [node::Event::SetupComplete { accepted, rejected, ric_id }] => {
            assert_eq!(accepted, &vec![KPM, OTHER]);
            assert!(rejected.is_empty());
            assert_eq!(ric_id, &ric_config().global_ric_id);
        }
        other => panic!("unexpected node events {other:?}"),
    }
    assert_eq!(net.nodes[i].agent.accepted_functions().iter().copied().collect::<Vec<_>>(), vec![KPM, OTHER]);
    // The response acknowledged the component.
    let response = net.ric_sent.iter().find_map(|(_, p)| match p {
        E2apPdu::E2SetupResponse(r) => Some(r.clone()),
        _ => None,
    });
    let response = response.expect("E2 setup response");
    assert_eq!(response.component_config_addition_ack.len(), 1);
    assert_eq!(
        response.component_config_addition_ack[0].e2node_component_configuration_ack.update_outcome,
        asn::E2nodeComponentConfigurationAckUpdateOutcome::success
    );
}

#[test]
fn setup_rejects_functions_outside_the_policy() {
    let mut config = ric_config();
    config.function_acceptance = FunctionAcceptance::oids([kpm::RAN_FUNCTION_OID]);
    let mut net = Net::new(config);
    let i = net.setup_node(1);
    let not_supported = asn::Cause::ricService(asn::CauseRICservice::ran_function_not_supported);
    match &net.take_ric_events()[..] {
        [ric::Event::NodeConnected { accepted, rejected, .. }] => {
            assert_eq!(accepted, &vec![KPM]);
            assert_eq!(rejected, &vec![RejectedFunction { id: OTHER, cause: not_supported.clone() }]);
        }
        other => panic!("unexpected {other:?}"),
    }
    match &net.take_node_events(i)[..] {
        [node::Event::SetupComplete { accepted, rejected, .. }] => {
            assert_eq!(accepted, &vec![KPM]);
            assert_eq!(rejected, &vec![RejectedFunction { id: OTHER, cause: not_supported }]);
        }
        other => panic!("unexpected {other:?}"),
    }
    let info = net.ric.registry().get(&node_id(1)).expect("registered");
    assert_eq!(info.ran_functions.keys().copied().collect::<Vec<_>>(), vec![KPM]);
    // Subscribing to a rejected function is refused locally.
    let err = net.ric.subscribe(net.now, &node_id(1), kpm_subscription(&[1]), TIMEOUT);
    assert!(err.is_ok());
    let mut other = kpm_subscription(&[1]);
    other.ran_function_id = OTHER;
    assert_eq!(
        net.ric.subscribe(net.now, &node_id(1), other, TIMEOUT),
        Err(qsafe_e2::ric::RicError::UnknownRanFunction { node: node_id(1), ran_function_id: OTHER })
    );
}

#[test]
fn duplicate_node_id_is_refused_with_time_to_wait_and_retries() {
    let mut net = Net::new(ric_config());
    let first = net.setup_node(1);
    net.take_ric_events();

    // A second association claims the same global node id.
    let second = net.add_node(node_config(1));
    let a2 = net.connect(second);
    let cause = protocol(asn::CauseProtocol::message_not_compatible_with_receiver_state);
    assert_eq!(
        net.take_ric_events(),
        vec![ric::Event::E2SetupRejected { association: a2, node: node_id(1), cause: cause.clone() }]
    );
    let failure = net.node_sent[second].len();
    assert!(failure > 0);
    match &net.take_node_events(second)[..] {
        [node::Event::SetupFailed { cause: c, retry_at: Some(at) }] => {
            assert_eq!(c, &cause);
            assert_eq!(*at, net.now + Duration::from_secs(5), "the RIC's TimeToWait (5 s)");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(net.nodes[second].agent.state(), SetupState::WaitingToRetry { .. }));
    // The registry still points at the first association.
    let info = net.ric.registry().get(&node_id(1)).expect("registered");
    assert_eq!(info.association(), net.nodes[first].association);

    // The first association dies; at the retry the second one is accepted.
    net.disconnect(first);
    net.advance(Duration::from_secs(5));
    assert!(net.nodes[second].agent.is_established());
    let events = net.take_ric_events();
    assert!(matches!(
        &events[..],
        [ric::Event::NodeDisconnected { .. }, ric::Event::NodeConnected { reconnected: true, association, .. }]
            if *association == a2
    ));
}

/// The xApp bars an isolated node: its E2 Setup is refused (om-intervention,
/// the RIC's 2 s TimeToWait) on every retry, the registry keeps it
/// disconnected; once admitted again, the next retry sets it up.
#[test]
fn a_barred_node_is_refused_until_admitted_again() {
    let mut net = Net::new(ric_config());
    let first = net.setup_node(1);
    net.take_ric_events();
    assert!(net.ric.bar(&node_id(1), true), "newly barred");
    assert!(!net.ric.bar(&node_id(1), true), "barring twice changes nothing");
    assert!(net.ric.is_barred(&node_id(1)));
    assert!(net.ric.registry().get(&node_id(1)).expect("node").is_connected(), "a live association is not touched");
    net.disconnect(first);
    net.take_ric_events();

    let again = net.add_node(node_config(1));
    let a2 = net.connect(again);
    let cause = asn::Cause::misc(asn::CauseMisc::om_intervention);
    for attempt in 0..3 {
        assert_eq!(
            net.take_ric_events(),
            vec![ric::Event::E2SetupRejected { association: a2, node: node_id(1), cause: cause.clone() }],
            "attempt {attempt}"
        );
        match &net.take_node_events(again)[..] {
            [node::Event::SetupFailed { cause: c, retry_at: Some(at) }] => {
                assert_eq!(c, &cause);
                assert_eq!(*at, net.now + Duration::from_secs(2), "the barred TimeToWait (2 s)");
            }
            other => panic!("attempt {attempt}: unexpected {other:?}"),
        }
        assert!(!net.ric.registry().get(&node_id(1)).expect("node").is_connected());
        net.advance(Duration::from_secs(2));
    }
    net.take_ric_events();
    net.take_node_events(again);
    assert!(net.ric.bar(&node_id(1), false), "admitted again");
    net.advance(Duration::from_secs(2));
    assert!(net.nodes[again].agent.is_established());
    assert!(matches!(
        &net.take_ric_events()[..],
        [ric::Event::NodeConnected { reconnected: true, association, .. }] if *association == a2
    ));
}

#[test]
fn second_setup_on_a_set_up_association_is_refused() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    net.take_ric_events();
    // The node sends E2 Setup again on the same association (e.g. a restart the driver missed).
    net.nodes[i].agent.connection_up(net.now);
    net.pump();
    assert!(matches!(&net.take_ric_events()[..], [ric::Event::E2SetupRejected { .. }]));
    // The registry entry is untouched.
    assert!(net.ric.registry().get(&node_id(1)).expect("node").is_connected());
}

#[test]
fn association_loss_keeps_the_node_and_a_new_setup_reconnects_it() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    let a1 = net.nodes[i].association.expect("a1");
    let sub = net.subscribe_and_accept(i, &[1]);
    net.take_ric_events();
    net.take_node_events(i);

    net.advance(Duration::from_secs(1));
    let lost_at = net.now;
    net.disconnect(i);
    assert_eq!(
        net.take_ric_events(),
        vec![ric::Event::NodeDisconnected {
            node: node_id(1),
            association: a1,
            subscriptions_lost: vec![sub],
            controls_lost: vec![],
        }]
    );
    let info = net.ric.registry().get(&node_id(1)).expect("still known");
    assert_eq!(info.connection, ConnectionState::Disconnected { since: lost_at });
    assert_eq!(info.ran_functions.len(), 2, "functions are kept while disconnected");
    assert!(net.ric.subscription(sub).is_none());
    assert_eq!(
        net.ric.subscribe(net.now, &node_id(1), kpm_subscription(&[1]), TIMEOUT),
        Err(qsafe_e2::ric::RicError::NodeNotConnected(node_id(1)))
    );
    assert!(matches!(
        &net.take_node_events(i)[..],
        [node::Event::ConnectionLost { subscriptions_cleared }] if subscriptions_cleared == &vec![sub]
    ));
    assert_eq!(net.nodes[i].agent.state(), &SetupState::Disconnected);

    net.advance(Duration::from_secs(3));
    let a2 = net.connect(i);
    assert_ne!(a1, a2);
    match &net.take_ric_events()[..] {
        [ric::Event::NodeConnected { reconnected: true, association, node, .. }] => {
            assert_eq!(*association, a2);
            assert_eq!(node, &node_id(1));
        }
        other => panic!("unexpected {other:?}"),
    }
    let info = net.ric.registry().get(&node_id(1)).expect("known");
    assert_eq!(info.connection, ConnectionState::Connected { association: a2, since: net.now });
    assert_eq!(info.setups, 2);
    assert_eq!(info.last_setup, net.now);
    assert!(info.first_setup < info.last_setup);
    // The old association id is gone for good.
    assert_eq!(net.ric.handle_pdu(net.now, a1, 0, &[0]), Err(qsafe_e2::ric::RicError::UnknownAssociation(a1)));
    // A disconnected node can be forgotten, a connected one cannot.
    assert_eq!(net.ric.forget_node(&node_id(1)).map(|_| ()), Err(qsafe_e2::ric::RicError::NodeConnected(node_id(1))));
    net.disconnect(i);
    assert!(net.ric.forget_node(&node_id(1)).is_ok());
    assert!(net.ric.registry().is_empty());
}

#[test]
fn many_nodes_register_independently() {
    let mut net = Net::new(ric_config());
    for n in 0..20 {
        net.setup_node(n);
    }
    assert_eq!(net.ric.registry().len(), 20);
    assert_eq!(net.ric.registry().connected().count(), 20);
    net.disconnect(3);
    assert_eq!(net.ric.registry().connected().count(), 19);
}

#[test]
fn node_resends_setup_after_a_timeout() {
    let mut net = Net::new(ric_config());
    let i = net.add_node(node_config(1));
    net.nodes[i].mute = true;
    net.connect(i);
    assert!(matches!(net.nodes[i].agent.state(), SetupState::SetupPending { .. }));
    assert_eq!(net.nodes[i].agent.poll_timeout(), Some(net.now + Duration::from_secs(5)));
    // The first request was lost; after 5 s the node sends it again.
    net.nodes[i].mute = false;
    net.advance(Duration::from_secs(5));
    assert_eq!(net.take_node_events(i)[0], node::Event::SetupTimedOut);
    assert!(net.nodes[i].agent.is_established());
    let ids: Vec<_> = net.node_sent[i]
        .iter()
        .filter_map(|p| match p {
            E2apPdu::E2SetupRequest(r) => Some(r.transaction_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1], "each attempt has its own transaction id");
    assert_eq!(net.nodes[i].agent.poll_timeout(), None);
}

#[test]
fn node_gives_up_after_a_failure_without_any_wait_time() {
    let mut config = ric_config();
    config.duplicate_setup_time_to_wait = None;
    let mut net = Net::new(config);
    let first = net.setup_node(2);
    let mut dup = node_config(2);
    dup.setup_retry_delay = None;
    let d = net.add_node(dup);
    net.connect(d);
    assert_eq!(net.nodes[d].agent.state(), &SetupState::Refused);
    assert!(matches!(&net.take_node_events(d)[..], [node::Event::SetupFailed { retry_at: None, .. }]));
    assert_eq!(net.nodes[d].agent.poll_timeout(), None);
    assert!(net.nodes[first].agent.is_established());
}

#[test]
fn service_update_changes_the_registry() {
    let mut config = ric_config();
    config.function_acceptance = FunctionAcceptance::oids([kpm::RAN_FUNCTION_OID, OTHER_OID]);
    let mut net = Net::new(config);
    let i = net.setup_node(1);
    net.take_ric_events();
    net.take_node_events(i);

    let update = ServiceUpdate {
        added: vec![
            RanFunction::new(9, 1, kpm::RAN_FUNCTION_OID, b"second kpm".to_vec()),
            RanFunction::new(10, 1, "1.2.3.4.unsupported", b"?".to_vec()),
        ],
        modified: vec![
            RanFunction::new(KPM, 2, kpm::RAN_FUNCTION_OID, b"kpm v2".to_vec()),
            RanFunction::new(11, 1, kpm::RAN_FUNCTION_OID, b"never added".to_vec()),
        ],
        deleted: vec![OTHER],
    };
    net.nodes[i].agent.service_update(net.now, update, TIMEOUT).expect("service update");
    net.pump();

    let not_supported = asn::Cause::ricService(asn::CauseRICservice::ran_function_not_supported);
    assert_eq!(
        net.take_ric_events(),
        vec![ric::Event::ServiceUpdated {
            node: node_id(1),
            added: vec![9],
            modified: vec![KPM],
            deleted: vec![OTHER],
            rejected: vec![
                RejectedFunction { id: 10, cause: not_supported.clone() },
                RejectedFunction { id: 11, cause: not_supported.clone() },
            ],
        }]
    );
    let info = net.ric.registry().get(&node_id(1)).expect("node");
    assert_eq!(info.ran_functions.keys().copied().collect::<Vec<_>>(), vec![KPM, 9]);
    assert_eq!(info.ran_functions[&KPM].revision, 2);
    assert_eq!(&info.ran_functions[&KPM].definition[..], b"kpm v2");

    match &net.take_node_events(i)[..] {
        [node::Event::ServiceUpdateAcknowledged { accepted, rejected }] => {
            assert_eq!(accepted, &vec![9, KPM]);
            assert_eq!(rejected.len(), 2);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(net.nodes[i].agent.accepted_functions().iter().copied().collect::<Vec<_>>(), vec![KPM, 9]);
    let own: Vec<u16> = net.nodes[i].agent.config().ran_functions.iter().map(|f| f.id).collect();
    assert_eq!(own, vec![KPM, 9, 10, 11]);

    // A RIC Service Query makes the node announce the difference.
    net.ric.service_query(&node_id(1)).expect("query");
    net.pump();
    assert_eq!(net.take_node_events(i)[0], node::Event::ServiceQueryReceived { answered: true });
    match &net.take_ric_events()[..] {
        [ric::Event::ServiceUpdated { added, modified, deleted, rejected, .. }] => {
            // 10 and 11 are not in the RIC's accepted list: announced as added.
            // 11 (a KPM function) is accepted this time, 10 is rejected again.
            assert_eq!(added, &vec![11]);
            assert!(modified.is_empty() && deleted.is_empty());
            assert_eq!(rejected.iter().map(|r| r.id).collect::<Vec<_>>(), vec![10]);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn node_configuration_update_changes_the_registry() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    net.take_ric_events();
    net.take_node_events(i);
    let existing = net.nodes[i].agent.config().components[0].clone();
    let added = ComponentConfig::f1(77, b"du77 req".to_vec(), b"du77 resp".to_vec()).expect("f1");
    let mut changed = existing.clone();
    changed.request_part = b"f1 setup request v2".to_vec().into();
    let unknown = ComponentConfig::f1(999, b"".to_vec(), b"".to_vec()).expect("f1");

    let update = ConfigurationUpdate {
        added: vec![added.clone()],
        updated: vec![changed.clone(), unknown.clone()],
        removed: vec![],
    };
    net.nodes[i].agent.configuration_update(net.now, update, TIMEOUT).expect("update");
    net.pump();
    let unknown_cause = asn::Cause::e2Node(asn::CauseE2node::e2node_component_unknown);
    match &net.take_ric_events()[..] {
        [ric::Event::NodeConfigurationUpdated { node, added: a, updated, removed, failed }] => {
            assert_eq!(node, &node_id(1));
            assert_eq!(a, &vec![added.key.clone()]);
            assert_eq!(updated, &vec![changed.key.clone()]);
            assert!(removed.is_empty());
            assert_eq!(failed.len(), 1);
            assert_eq!(failed[0].key, unknown.key);
            assert_eq!(failed[0].failure, Some(unknown_cause.clone()));
        }
        other => panic!("unexpected {other:?}"),
    }
    let info = net.ric.registry().get(&node_id(1)).expect("node");
    assert_eq!(info.components.len(), 2);
    assert_eq!(&info.component(&changed.key).expect("updated").request_part[..], b"f1 setup request v2");
    assert_eq!(&info.component(&added.key).expect("added").response_part[..], b"du77 resp");
    match &net.take_node_events(i)[..] {
        [node::Event::ConfigurationUpdateAcknowledged { outcomes }] => {
            assert_eq!(outcomes.len(), 3);
            assert_eq!(outcomes.iter().filter(|o| o.failure.is_none()).count(), 2);
            assert_eq!(
                outcomes.iter().find(|o| o.key == unknown.key).and_then(|o| o.failure.clone()),
                Some(unknown_cause)
            );
        }
        other => panic!("unexpected {other:?}"),
    }

    // Removal.
    let update = ConfigurationUpdate { removed: vec![added.key.clone()], ..Default::default() };
    net.nodes[i].agent.configuration_update(net.now, update, TIMEOUT).expect("update");
    net.pump();
    assert!(matches!(
        &net.take_ric_events()[..],
        [ric::Event::NodeConfigurationUpdated { removed, .. }] if removed == &vec![added.key.clone()]
    ));
    assert_eq!(net.ric.registry().get(&node_id(1)).expect("node").components.len(), 1);
}

#[test]
fn node_side_global_procedures_time_out() {
    let mut net = Net::new(ric_config());
    let i = net.setup_node(1);
    net.take_node_events(i);
    net.nodes[i].deaf = true;
    let update = ServiceUpdate { deleted: vec![OTHER], ..Default::default() };
    net.nodes[i].agent.service_update(net.now, update.clone(), TIMEOUT).expect("update");
    assert_eq!(
        net.nodes[i].agent.service_update(net.now, update, TIMEOUT),
        Err(qsafe_e2::node::NodeError::ProcedureInProgress("RIC service update"))
    );
    net.nodes[i]
        .agent
        .configuration_update(net.now, ConfigurationUpdate::default(), Duration::from_secs(3))
        .expect("update");
    net.nodes[i].agent.reset(net.now, asn::Cause::misc(asn::CauseMisc::om_intervention), TIMEOUT).expect("reset");
    net.pump();
    assert_eq!(net.nodes[i].agent.poll_timeout(), Some(net.now + TIMEOUT));
    net.advance(TIMEOUT);
    let events = net.take_node_events(i);
    assert!(events.contains(&node::Event::ServiceUpdateTimedOut));
    assert!(events.contains(&node::Event::ResetTimedOut));
    assert!(!events.contains(&node::Event::ConfigurationUpdateTimedOut));
    net.advance(Duration::from_secs(1));
    assert_eq!(net.take_node_events(i), vec![node::Event::ConfigurationUpdateTimedOut]);
    assert_eq!(net.nodes[i].agent.poll_timeout(), None);
}

#[test]
fn an_association_without_e2_setup_is_reported_after_the_setup_wait() {
    let mut net = Net::new(ric_config());
    let i = net.add_node(node_config(1));
    let a = net.ric.connection_up(net.now);
    net.nodes[i].association = Some(a);
    assert_eq!(net.ric.poll_timeout(), Some(net.now + Duration::from_secs(30)));
    net.advance(Duration::from_secs(30));
    assert_eq!(net.take_ric_events(), vec![ric::Event::SetupWaitExpired { association: a }]);
    assert_eq!(net.ric.poll_timeout(), None);
    // A set-up association is never reported.
    net.setup_node(2);
    net.take_ric_events();
    net.advance(Duration::from_secs(60));
    assert!(net.take_ric_events().is_empty());
}

#[test]
fn ids_and_causes_display_readably() {
    use qsafe_e2::RequestId;
    use qsafe_e2::common::DisplayCause;
    assert_eq!(node_id(1).to_string(), "gNB/001-01/0x1001:28");
    assert_eq!(RequestId::new(1001, 7).to_string(), "1001:7");
    assert_eq!(
        DisplayCause(&protocol(asn::CauseProtocol::abstract_syntax_error_reject)).to_string(),
        "protocol/abstract-syntax-error-reject"
    );
    assert_eq!(
        DisplayCause(&ric_request(asn::CauseRICrequest::request_id_unknown)).to_string(),
        "ricRequest/request-id-unknown"
    );
}
