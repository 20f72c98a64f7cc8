//! A tiny in-test network: one `Ric`, N `E2NodeAgent`s, a fake clock, and a
//! pump that moves every `poll_transmit` output to the peer's `handle_pdu`.
//! No sockets, no tasks: every step is deterministic.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use qsafe_asn1::e2ap::{E2apPdu, build};
use qsafe_asn1::e2ap_asn as asn;
use qsafe_asn1::kpm::{self, KpmPayload};
use qsafe_e2::common::{ComponentConfig, RanFunction};
use qsafe_e2::node::{self, E2NodeAgent, E2NodeConfig};
use qsafe_e2::ric::{self, AssociationId, Ric, RicConfig, SubscriptionRequest};
use qsafe_e2::{E2NodeId, RequestId};

/// The RAN function id of the KPM function every test node offers.
pub const KPM: u16 = 2;
/// A second function with an OID a restrictive RIC policy rejects.
pub const OTHER: u16 = 7;
pub const OTHER_OID: &str = "1.3.6.1.4.1.53148.1.1.2.3";
pub const REQUESTOR: u16 = 1001;
pub const TIMEOUT: Duration = Duration::from_secs(2);

pub fn ric_config() -> RicConfig {
    let ric_id = build::ric_id(build::plmn("001", "01").expect("plmn"), 0x5).expect("ric id");
    RicConfig::new(ric_id, REQUESTOR)
}

pub fn node_id(n: u32) -> E2NodeId {
    E2NodeId::gnb("001", "01", 0x1000 + n, 28).expect("node id")
}

pub fn node_config(n: u32) -> E2NodeConfig {
    let definition = kpm::ran_function_description(&["DRB.UEThpDl"]).expect("kpm").encode_aper().expect("encode");
    E2NodeConfig::new(
        node_id(n),
        vec![
            RanFunction::new(KPM, 1, kpm::RAN_FUNCTION_OID, definition),
            RanFunction::new(OTHER, 3, OTHER_OID, b"rc-definition".to_vec()),
        ],
        vec![
            ComponentConfig::f1(u64::from(n), b"f1 setup request".to_vec(), b"f1 setup response".to_vec()).expect("f1"),
        ],
    )
}

pub fn kpm_subscription(actions: &[u8]) -> SubscriptionRequest {
    let trigger = kpm::periodic_trigger(1000).encode_aper().expect("trigger");
    let definition = kpm::action_definition_format1(&["DRB.UEThpDl"], 1000).expect("def").encode_aper().expect("enc");
    SubscriptionRequest {
        ran_function_id: KPM,
        event_trigger: trigger.into(),
        actions: actions.iter().map(|id| build::action(*id, asn::RICactionType::report, Some(&definition))).collect(),
    }
}

#[derive(Debug)]
pub struct NodeSlot {
    pub agent: E2NodeAgent,
    pub association: Option<AssociationId>,
    pub events: Vec<node::Event>,
    /// Drop what the node sends (to make RIC procedures time out).
    pub mute: bool,
    /// Drop what the RIC sends to the node.
    pub deaf: bool,
}

#[derive(Debug)]
pub struct Net {
    pub now: Instant,
    pub ric: Ric,
    pub ric_events: Vec<ric::Event>,
    pub nodes: Vec<NodeSlot>,
    /// Every PDU the RIC sent, decoded (association, pdu).
    pub ric_sent: Vec<(AssociationId, E2apPdu)>,
    /// Every PDU each node sent, decoded.
    pub node_sent: Vec<Vec<E2apPdu>>,
    /// Record sent PDUs (off for the load test).
    pub record: bool,
}

impl Net {
    pub fn new(config: RicConfig) -> Self {
        Self {
            now: Instant::now(),
            ric: Ric::new(config),
            ric_events: Vec::new(),
            nodes: Vec::new(),
            ric_sent: Vec::new(),
            node_sent: Vec::new(),
            record: true,
        }
    }

    pub fn add_node(&mut self, config: E2NodeConfig) -> usize {
        let agent = E2NodeAgent::new(config).expect("agent");
        self.nodes.push(NodeSlot { agent, association: None, events: Vec::new(), mute: false, deaf: false });
        self.node_sent.push(Vec::new());
        self.nodes.len() - 1
    }

    /// Opens an association for node `i` and lets E2 Setup run.
    pub fn connect(&mut self, i: usize) -> AssociationId {
        let a = self.ric.connection_up(self.now);
        self.nodes[i].association = Some(a);
        self.nodes[i].agent.connection_up(self.now);
        self.pump();
        a
    }

    /// Both ends see the association go down.
    pub fn disconnect(&mut self, i: usize) {
        let a = self.nodes[i].association.take().expect("connected");
        self.ric.connection_lost(self.now, a).expect("known association");
        self.nodes[i].agent.connection_lost(self.now);
        self.pump();
    }

    /// A node with a set-up association.
    pub fn setup_node(&mut self, n: u32) -> usize {
        let i = self.add_node(node_config(n));
        self.connect(i);
        assert!(self.nodes[i].agent.is_established(), "node {n} not set up: {:?}", self.nodes[i].events);
        i
    }

    fn slot_of(&self, a: AssociationId) -> Option<usize> {
        self.nodes.iter().position(|n| n.association == Some(a))
    }

    /// Moves PDUs both ways until nobody has anything to send; collects events.
    pub fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some((a, t)) = self.ric.poll_transmit() {
                moved = true;
                if self.record {
                    self.ric_sent.push((a, E2apPdu::decode(&t.bytes).expect("the RIC sends valid PDUs")));
                }
                if let Some(i) = self.slot_of(a).filter(|i| !self.nodes[*i].deaf) {
                    self.nodes[i].agent.handle_pdu(self.now, t.stream, &t.bytes);
                }
            }
            for i in 0..self.nodes.len() {
                while let Some(t) = self.nodes[i].agent.poll_transmit() {
                    moved = true;
                    if self.record {
                        self.node_sent[i].push(E2apPdu::decode(&t.bytes).expect("nodes send valid PDUs"));
                    }
                    if self.nodes[i].mute {
                        continue;
                    }
                    if let Some(a) = self.nodes[i].association {
                        self.ric.handle_pdu(self.now, a, t.stream, &t.bytes).expect("known association");
                    }
                }
            }
            if !moved {
                break;
            }
        }
        while let Some(e) = self.ric.poll_event() {
            self.ric_events.push(e);
        }
        for slot in &mut self.nodes {
            while let Some(e) = slot.agent.poll_event() {
                slot.events.push(e);
            }
        }
    }

    /// Advances the fake clock, fires timers, pumps.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.ric.handle_timeout(self.now);
        for slot in &mut self.nodes {
            slot.agent.handle_timeout(self.now);
        }
        self.pump();
    }

    /// Feeds raw bytes to the RIC as if node `i` had sent them.
    pub fn inject_to_ric(&mut self, i: usize, bytes: &[u8]) {
        let a = self.nodes[i].association.expect("connected");
        self.ric.handle_pdu(self.now, a, 0, bytes).expect("known association");
        self.pump();
    }

    /// Feeds raw bytes to node `i` as if the RIC had sent them.
    pub fn inject_to_node(&mut self, i: usize, bytes: &[u8]) {
        self.nodes[i].agent.handle_pdu(self.now, 0, bytes);
        self.pump();
    }

    pub fn take_ric_events(&mut self) -> Vec<ric::Event> {
        std::mem::take(&mut self.ric_events)
    }

    pub fn take_node_events(&mut self, i: usize) -> Vec<node::Event> {
        std::mem::take(&mut self.nodes[i].events)
    }

    /// Subscribes node `i` to the KPM function (Ask policy: the node accepts all actions).
    pub fn subscribe_and_accept(&mut self, i: usize, actions: &[u8]) -> RequestId {
        let node = self.nodes[i].agent.config().node_id.clone();
        let id = self.ric.subscribe(self.now, &node, kpm_subscription(actions), TIMEOUT).expect("subscribe");
        self.pump();
        if self.nodes[i].agent.config().subscription_policy == node::SubscriptionPolicy::Ask {
            self.nodes[i].agent.accept_subscription(id, actions, Vec::new()).expect("accept");
            self.pump();
        }
        assert!(
            matches!(self.ric.subscription(id).map(|s| &s.state), Some(ric::SubscriptionState::Established)),
            "subscription {id} not established"
        );
        id
    }

    /// The Error Indications the RIC sent to node `i`.
    pub fn ric_error_indications(&self, i: usize) -> Vec<qsafe_asn1::e2ap::ErrorIndication> {
        let a = self.nodes[i].association;
        self.ric_sent
            .iter()
            .filter(|(x, _)| Some(*x) == a)
            .filter_map(|(_, p)| match p {
                E2apPdu::ErrorIndication(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    /// The Error Indications node `i` sent.
    pub fn node_error_indications(&self, i: usize) -> Vec<qsafe_asn1::e2ap::ErrorIndication> {
        self.node_sent[i]
            .iter()
            .filter_map(|p| match p {
                E2apPdu::ErrorIndication(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }
}

pub fn protocol(c: asn::CauseProtocol) -> asn::Cause {
    asn::Cause::protocol(c)
}

pub fn ric_request(c: asn::CauseRICrequest) -> asn::Cause {
    asn::Cause::ricRequest(c)
}
