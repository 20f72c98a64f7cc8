//! What the E2AP procedure targets share: the state each target starts
//! from (rebuilt for every input, so every run is deterministic and an
//! input reproduces alone) and the checks on everything that comes out.
//!
//! The starting state is reached by replaying PDUs recorded once from a
//! real exchange between a `Ric` and an `E2NodeAgent` ([`script`]), not by
//! hand-built messages: the RIC has one set-up node, one established KPM
//! subscription and one control request awaiting its acknowledge; the node
//! has completed E2 Setup and holds that subscription.
//!
//! Each role starts its own procedures on stream [`OWN_STREAM`] and the
//! fuzz input arrives on [`INPUT_STREAM`], so "answers go back on the
//! stream the request came on" is a checkable property.
//!
//! Also used by `examples/make_seeds.rs` (through `#[path]`), which is why
//! some items are unused in one target or the other.
#![allow(dead_code)]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use qsafe_asn1::e2ap::{E2apPdu, MessageKind, build};
use qsafe_asn1::e2ap_asn as asn;
use qsafe_asn1::kpm::{self, KpmPayload};
use qsafe_e2::common::{ComponentConfig, RanFunction};
use qsafe_e2::node::{self, ControlPolicy, E2NodeAgent, E2NodeConfig, SubscriptionPolicy};
use qsafe_e2::ric::{self, AssociationId, ControlRequest, Ric, RicConfig, RicError, SubscriptionRequest};
use qsafe_e2::{E2NodeId, RequestId};

/// Requestor id of the RIC (its RIC request ids are `1001/n`).
pub const REQUESTOR: u16 = 1001;
/// RAN function id of the node's E2SM-KPM function.
pub const KPM: u16 = 2;
/// RAN function id of a second, opaque function.
pub const OTHER: u16 = 7;
/// The stream the fuzz input arrives on; answers must go back on it.
pub const INPUT_STREAM: u16 = 0;
/// The stream each role starts its own procedures on.
pub const OWN_STREAM: u16 = 1;
/// Timeout of the procedures the harness starts.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// How many timer rounds are fired after the input.
const TIMER_ROUNDS: usize = 32;

pub fn ric_config() -> RicConfig {
    let ric_id = build::ric_id(build::plmn("001", "01").expect("plmn"), 0x5).expect("ric id");
    let mut c = RicConfig::new(ric_id, REQUESTOR);
    c.stream = OWN_STREAM;
    c
}

pub fn node_id() -> E2NodeId {
    E2NodeId::gnb("001", "01", 0xE000, 28).expect("node id")
}

pub fn node_config() -> E2NodeConfig {
    let definition =
        kpm::ran_function_description(&["DRB.UEThpDl", "RRU.PrbUsedDl"]).expect("kpm").encode_aper().expect("encode");
    let mut c = E2NodeConfig::new(
        node_id(),
        vec![
            RanFunction::new(KPM, 1, kpm::RAN_FUNCTION_OID, definition),
            RanFunction::new(OTHER, 3, "1.3.6.1.4.1.53148.1.1.2.3", b"rc-definition".to_vec()),
        ],
        vec![ComponentConfig::f1(7, b"f1 setup request".to_vec(), b"f1 setup response".to_vec()).expect("f1")],
    );
    c.stream = OWN_STREAM;
    c.subscription_policy = SubscriptionPolicy::AdmitAll;
    c.control_policy = ControlPolicy::AcknowledgeAll;
    c
}

pub fn kpm_subscription() -> SubscriptionRequest {
    let trigger = kpm::periodic_trigger(1000).encode_aper().expect("trigger");
    let definition =
        kpm::action_definition_format1(&["DRB.UEThpDl"], 1000).expect("definition").encode_aper().expect("encode");
    SubscriptionRequest {
        ran_function_id: KPM,
        event_trigger: trigger.into(),
        actions: vec![
            build::action(1, asn::RICactionType::report, Some(&definition)),
            build::action(2, asn::RICactionType::insert, None),
        ],
    }
}

pub fn control_request() -> ControlRequest {
    ControlRequest {
        ran_function_id: OTHER,
        header: b"\x00\x01ctl-hdr".to_vec().into(),
        message: b"\x10\x20ctl-msg".to_vec().into(),
        call_process_id: None,
        ack_requested: true,
    }
}

/// PDUs recorded from one real exchange (E2 Setup, then a subscription).
#[derive(Debug)]
pub struct Script {
    /// Node → RIC: E2 SETUP REQUEST.
    pub setup_request: Vec<u8>,
    /// RIC → node: E2 SETUP RESPONSE.
    pub setup_response: Vec<u8>,
    /// RIC → node: RIC SUBSCRIPTION REQUEST.
    pub subscription_request: Vec<u8>,
    /// Node → RIC: RIC SUBSCRIPTION RESPONSE.
    pub subscription_response: Vec<u8>,
}

fn only<T>(mut v: Vec<T>, what: &str) -> T {
    assert_eq!(v.len(), 1, "{what}: expected exactly one PDU");
    v.remove(0)
}

/// Runs the exchange once per process.
pub fn script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        let now = Instant::now();
        let mut ric = Ric::new(ric_config());
        let mut node = E2NodeAgent::new(node_config()).expect("agent");
        let a = ric.connection_up(now);
        node.connection_up(now);
        let setup_request = only(drain_node(&mut node), "setup request");
        ric.handle_pdu(now, a, INPUT_STREAM, &setup_request).expect("association");
        let setup_response = only(drain_ric(&mut ric), "setup response");
        node.handle_pdu(now, INPUT_STREAM, &setup_response);
        assert!(node.is_established(), "recorded setup failed");
        ric.subscribe(now, &node_id(), kpm_subscription(), TIMEOUT).expect("subscribe");
        let subscription_request = only(drain_ric(&mut ric), "subscription request");
        node.handle_pdu(now, INPUT_STREAM, &subscription_request);
        let subscription_response = only(drain_node(&mut node), "subscription response");
        Script { setup_request, setup_response, subscription_request, subscription_response }
    })
}

fn drain_ric(ric: &mut Ric) -> Vec<Vec<u8>> {
    while ric.poll_event().is_some() {}
    std::iter::from_fn(|| ric.poll_transmit()).map(|(_, t)| t.bytes).collect()
}

fn drain_node(node: &mut E2NodeAgent) -> Vec<Vec<u8>> {
    while node.poll_event().is_some() {}
    std::iter::from_fn(|| node.poll_transmit()).map(|t| t.bytes).collect()
}

/// A RIC with one set-up node, one established subscription and one
/// pending control request.
#[derive(Debug)]
pub struct RicUnderTest {
    pub ric: Ric,
    pub association: AssociationId,
    pub now: Instant,
    pub subscription: RequestId,
    pub control: RequestId,
}

pub fn ric_under_test() -> RicUnderTest {
    let s = script();
    let now = Instant::now();
    let mut ric = Ric::new(ric_config());
    let association = ric.connection_up(now);
    ric.handle_pdu(now, association, INPUT_STREAM, &s.setup_request).expect("association");
    let subscription = ric.subscribe(now, &node_id(), kpm_subscription(), TIMEOUT).expect("subscribe");
    ric.handle_pdu(now, association, INPUT_STREAM, &s.subscription_response).expect("association");
    let control = ric.control(now, &node_id(), control_request(), TIMEOUT).expect("control");
    drain_ric(&mut ric);
    assert!(
        matches!(ric.subscription(subscription).map(|x| &x.state), Some(ric::SubscriptionState::Established)),
        "harness: subscription not established"
    );
    RicUnderTest { ric, association, now, subscription, control }
}

/// An E2 node agent after E2 Setup, holding one subscription.
#[derive(Debug)]
pub struct NodeUnderTest {
    pub node: E2NodeAgent,
    pub now: Instant,
    pub subscription: RequestId,
}

pub fn node_under_test() -> NodeUnderTest {
    let s = script();
    let now = Instant::now();
    let mut node = E2NodeAgent::new(node_config()).expect("agent");
    node.connection_up(now);
    drain_node(&mut node);
    node.handle_pdu(now, INPUT_STREAM, &s.setup_response);
    node.handle_pdu(now, INPUT_STREAM, &s.subscription_request);
    drain_node(&mut node);
    let subscription = RequestId::new(REQUESTOR, ric_config().first_instance_id);
    assert!(node.is_established() && node.subscription(subscription).is_some(), "harness: node not ready");
    NodeUnderTest { node, now, subscription }
}

/// Checks one PDU a role sent and returns it decoded.
///
/// * it decodes (`E2apPdu::decode`: everything we send must be valid APER);
/// * answers (successful / unsuccessful outcomes, Error Indications) go
///   back on the input stream, procedures the role starts on its own stream.
fn check_sent(role: &str, stream: u16, bytes: &[u8]) -> E2apPdu {
    let pdu = match E2apPdu::decode(bytes) {
        Ok(p) => p,
        Err(e) => panic!("{role} sent a PDU that does not decode: {e}\nbytes: {bytes:02x?}"),
    };
    let is_answer = pdu.kind() != MessageKind::InitiatingMessage || matches!(pdu, E2apPdu::ErrorIndication(_));
    let expected = if is_answer { INPUT_STREAM } else { OWN_STREAM };
    assert_eq!(stream, expected, "{role} sent {} on stream {stream}, expected {expected}", pdu.name());
    pdu
}

fn is_error_indication(bytes: &[u8]) -> bool {
    matches!(E2apPdu::decode(bytes), Ok(E2apPdu::ErrorIndication(_)))
}

/// Feeds `input` to the RIC on [`INPUT_STREAM`], then fires its timers, and
/// checks every output.
pub fn exercise_ric(t: &mut RicUnderTest, input: &[u8]) {
    let before = t.ric.stats();
    if let Err(e) = t.ric.handle_pdu(t.now, t.association, INPUT_STREAM, input) {
        panic!("handle_pdu failed for a known association: {e}");
    }
    let after = t.ric.stats();
    assert_eq!(after.pdus_received, before.pdus_received + 1, "pdus_received");
    assert!(after.pdus_undecodable - before.pdus_undecodable <= 1, "pdus_undecodable moved by more than one");

    let mut error_indications = 0u64;
    while let Some((a, tx)) = t.ric.poll_transmit() {
        assert_eq!(a, t.association, "the RIC sent on an association nobody opened");
        if matches!(check_sent("RIC", tx.stream, &tx.bytes), E2apPdu::ErrorIndication(_)) {
            error_indications += 1;
        }
    }
    assert_eq!(
        after.error_indications_sent - before.error_indications_sent,
        error_indications,
        "error_indications_sent disagrees with the Error Indications transmitted"
    );
    if error_indications > 0 {
        assert!(!is_error_indication(input), "the RIC answered an Error Indication with an Error Indication");
    }
    let mut protocol_errors = 0u64;
    while let Some(ev) = t.ric.poll_event() {
        if matches!(ev, ric::Event::ProtocolError { .. }) {
            protocol_errors += 1;
        }
    }
    assert!(protocol_errors >= error_indications, "an Error Indication was sent without a ProtocolError event");

    // Every RIC procedure ends: firing the timers must quiesce.
    let mut rounds = 0;
    while let Some(at) = t.ric.poll_timeout() {
        rounds += 1;
        assert!(rounds <= TIMER_ROUNDS, "RIC timers still armed after {TIMER_ROUNDS} rounds");
        t.now = t.now.max(at);
        t.ric.handle_timeout(t.now);
        while let Some((a, tx)) = t.ric.poll_transmit() {
            assert_eq!(a, t.association, "the RIC sent on an association nobody opened");
            check_sent("RIC (after a timeout)", tx.stream, &tx.bytes);
        }
        while t.ric.poll_event().is_some() {}
    }
    check_ric_consistency(t);
}

/// Cross-structure invariants of the RIC, and that it still works.
fn check_ric_consistency(t: &mut RicUnderTest) {
    for s in t.ric.subscriptions() {
        assert_eq!(
            t.ric.association_node(s.association),
            Some(&s.node),
            "subscription {} points at an association its node is not on",
            s.id
        );
        let info = t.ric.registry().get(&s.node).expect("subscription of an unregistered node");
        assert_eq!(info.association(), Some(s.association), "registry and subscription disagree on the association");
    }
    for info in t.ric.registry().connected() {
        let a = info.association().expect("connected node without association");
        assert_eq!(t.ric.association_node(a), Some(&info.id), "registry says connected on an association without it");
    }
    // Still usable: a new subscription goes out (unless the node is gone
    // or its KPM function was withdrawn by the input).
    match t.ric.subscribe(t.now, &node_id(), kpm_subscription(), TIMEOUT) {
        Ok(_) => {
            let (a, tx) = t.ric.poll_transmit().expect("subscribe queued nothing");
            assert_eq!(a, t.association);
            assert!(
                matches!(check_sent("RIC", tx.stream, &tx.bytes), E2apPdu::RicSubscriptionRequest(_)),
                "subscribe sent something else"
            );
        }
        Err(RicError::UnknownRanFunction { .. } | RicError::NodeNotConnected(_) | RicError::UnknownNode(_)) => {}
        Err(e) => panic!("the RIC cannot subscribe any more: {e}"),
    }
}

/// Feeds `input` to the node on [`INPUT_STREAM`], then fires its timers,
/// and checks every output.
pub fn exercise_node(t: &mut NodeUnderTest, input: &[u8]) {
    let before = t.node.stats();
    t.node.handle_pdu(t.now, INPUT_STREAM, input);
    let after = t.node.stats();
    assert_eq!(after.pdus_received, before.pdus_received + 1, "pdus_received");
    assert!(after.pdus_undecodable - before.pdus_undecodable <= 1, "pdus_undecodable moved by more than one");

    let mut error_indications = 0u64;
    while let Some(tx) = t.node.poll_transmit() {
        if matches!(check_sent("node", tx.stream, &tx.bytes), E2apPdu::ErrorIndication(_)) {
            error_indications += 1;
        }
    }
    assert_eq!(
        after.error_indications_sent - before.error_indications_sent,
        error_indications,
        "error_indications_sent disagrees with the Error Indications transmitted"
    );
    if error_indications > 0 {
        assert!(!is_error_indication(input), "the node answered an Error Indication with an Error Indication");
    }
    let mut protocol_errors = 0u64;
    while let Some(ev) = t.node.poll_event() {
        if matches!(ev, node::Event::ProtocolError { .. }) {
            protocol_errors += 1;
        }
    }
    assert!(protocol_errors >= error_indications, "an Error Indication was sent without a ProtocolError event");

    // A node retries E2 Setup for ever, so its timers need not quiesce;
    // fire a bounded number of rounds and check what they send.
    for _ in 0..TIMER_ROUNDS {
        let Some(at) = t.node.poll_timeout() else { break };
        t.now = t.now.max(at);
        t.node.handle_timeout(t.now);
        while let Some(tx) = t.node.poll_transmit() {
            check_sent("node (after a timeout)", tx.stream, &tx.bytes);
        }
        while t.node.poll_event().is_some() {}
    }
    for s in t.node.subscriptions() {
        assert!(!s.admitted.is_empty(), "subscription {} is active with no admitted action", s.request);
        for id in &s.admitted {
            assert!(
                s.actions.iter().any(|a| a.ric_action_id.0 == *id),
                "subscription {} admitted action {id} nobody asked for",
                s.request
            );
        }
    }
}
