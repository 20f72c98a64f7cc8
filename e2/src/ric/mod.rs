//! # The RIC role: E2AP procedures of the near-RT RIC side, sans-IO
//!
//! [`Ric`] is a pure state machine. It never touches a socket, a clock or a
//! task: the driver feeds it what happened and drains what it wants done.
//!
//! | input | output |
//! |---|---|
//! | [`Ric::connection_up`] / [`Ric::connection_lost`] (SCTP association events) | [`Ric::poll_transmit`] → `(AssociationId, Transmit)`: one PDU for one association |
//! | [`Ric::handle_pdu`] (one received SCTP message) | [`Ric::poll_event`] → [`Event`] |
//! | [`Ric::handle_timeout`] (the clock reached [`Ric::poll_timeout`]) | [`Ric::poll_timeout`] → earliest deadline |
//! | API: [`Ric::subscribe`], [`Ric::unsubscribe`], [`Ric::control`], [`Ric::reset`], [`Ric::service_query`] | |
//!
//! Every input takes `now: Instant`; deadlines are computed from it. The
//! RIC answers on the SCTP stream a request came on and starts its own
//! procedures on [`RicConfig::stream`]. Tests
//! drive it with a fake clock and move bytes between a `Ric` and
//! [`crate::node::E2NodeAgent`]s by hand — the whole protocol is testable
//! without sockets, deterministic, and the codec is the only cost.
//!
//! ## One `Ric` for all associations (not one object per association)
//!
//! A `Ric` owns every association of the RIC, keyed by an [`AssociationId`]
//! it allocates on [`Ric::connection_up`]. The alternative — one state
//! machine per association plus a shared registry — needs shared mutable
//! state (a lock or a message protocol) for everything that spans
//! associations: rejecting an E2 Setup whose node id is connected elsewhere,
//! keeping a node's registry entry across reconnects, keeping RIC request ids
//! unique across the xApp, and addressing API calls by *node* rather than by
//! association. With a single owner these are plain map operations and the
//! invariants hold by construction. The cost is that one task runs all E2AP
//! processing; decoding and dispatching a 1 KiB KPM indication takes
//! ~2.7 µs (`benches/procedures.rs`, ~360 k indications/s on one core of
//! the 2-vCPU reference machine), far above what the xApp consumes.
//! The driver is: one task owns the `Ric`; per-association socket tasks
//! forward `(AssociationId, stream, bytes)` to it over a channel and write
//! what `poll_transmit` returns.
//!
//! ```text
//! loop {
//!     select! {
//!         msg = rx.recv()             => ric.handle_pdu(now, msg.assoc, msg.stream, &msg.bytes)?,
//!         _ = sleep_until(deadline)   => ric.handle_timeout(now),
//!         cmd = api.recv()            => { ric.subscribe(now, &node, req, timeout)?; }
//!     }
//!     while let Some((assoc, t)) = ric.poll_transmit() { writers[assoc].send(t) }
//!     while let Some(ev) = ric.poll_event() { app.handle(ev) }
//!     deadline = ric.poll_timeout();
//! }
//! ```
//!
//! ## Who allocates what
//!
//! * [`AssociationId`]: the `Ric`, on `connection_up`; never reused.
//! * RIC request ids ([`RequestId`]): the `Ric`. The requestor id is fixed
//!   per xApp ([`RicConfig::requestor_id`]); instance ids are handed out
//!   round-robin over 0..=65535, skipping ids held by a live subscription or
//!   an outstanding control request, so they wrap around safely and are
//!   reused only after the previous holder is gone.
//! * Transaction ids: each side for the global procedures it initiates — the
//!   node for E2 Setup, Service Update, Configuration Update and its Resets;
//!   the `Ric` (per association) for its Resets and Service Queries. Answers
//!   echo the initiator's id.
//!
//! ## Procedure states
//!
//! * **E2 Setup** (node-initiated): an association starts *not set up*; the
//!   only message accepted then is E2 SETUP REQUEST (anything else gets an
//!   Error Indication, message-not-compatible-with-receiver-state). Accept →
//!   E2 SETUP RESPONSE with the accepted/rejected RAN functions (policy:
//!   [`FunctionAcceptance`]), the node is registered *Connected*. A node id
//!   connected on another association (answered with `TimeToWait`), a
//!   second setup on a set-up association, or duplicated RAN function ids →
//!   E2 SETUP FAILURE. Without a successful setup within
//!   [`RicConfig::setup_wait`], [`Event::SetupWaitExpired`] asks the driver
//!   to close the association.
//! * **Subscription**: `Requested` (deadline) → response → `Established` |
//!   failure → gone | timeout → [`Event::SubscriptionTimedOut`] and a
//!   clean-up delete (`Deleting(AfterTimeout)`). `Established` →
//!   [`Ric::unsubscribe`] or DELETE REQUIRED from the node
//!   ([`Event::SubscriptionDeleteRequired`]) → `Deleting`
//!   (deadline) → response → gone | failure → established again (or gone
//!   when the node does not know the id) | timeout → event.
//! * **Indication**: dispatched by RIC request id + RAN function id to
//!   [`Event::Indication`]; an unknown id gets an Error Indication
//!   (ricRequest / request-id-unknown) — except right after a reset the RIC
//!   sent, when in-flight indications are dropped silently.
//! * **Control**: with ack requested `Pending` (deadline) → ack | failure |
//!   timeout; without, the request is complete once queued.
//! * **Reset**: received → subscriptions and controls of the node cleared,
//!   RESET RESPONSE sent; sent via [`Ric::reset`] → cleared at once, then
//!   `Pending` until RESET RESPONSE or its deadline.
//! * **Service Update / Configuration Update** (node-initiated): the
//!   registry is updated and the acknowledge lists each function/component.
//!   **Service Query**: sent via [`Ric::service_query`], answered by the
//!   node with a Service Update.
//! * **Error Indication**: received → event (and, when it names a pending
//!   subscription request or control request, that procedure fails); sent
//!   for every PDU the RIC cannot accept, with the cause E2AP §10 asks for
//!   (see [`crate::common::ProtocolError`]); never a panic on peer input.

mod config;
mod error;
mod event;
mod inbound;
mod registry;

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use qsafe_asn1::e2ap::{
    E2apError, E2apPdu, ResetRequest, RicControlRequest, RicServiceQuery, RicSubscriptionDeleteRequest,
    RicSubscriptionRequest, SubscriptionDetails,
};
use qsafe_asn1::e2ap_asn as asn;

pub use config::{FunctionAcceptance, RicConfig};
pub use error::RicError;
pub use event::{DeleteReason, Event, Indication};
pub use registry::{ConnectionState, NodeInfo, NodeRegistry};

use crate::common::{
    E2NodeId, NotAdmittedAction, ProtocolError, RequestId, Timers, TransactionIds, Transmit, deadline,
};

/// One SCTP association of the RIC, named by the `Ric` when the driver
/// reports it up. Never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AssociationId(u64);

impl AssociationId {
    /// The number behind the id (for logs and maps in the driver).
    pub fn value(self) -> u64 {
        self.0
    }
}

impl fmt::Display for AssociationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "assoc#{}", self.0)
    }
}

/// A RIC subscription to set up ([`Ric::subscribe`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRequest {
    /// The RAN function (must be accepted from the node).
    pub ran_function_id: u16,
    /// `ricEventTriggerDefinition` (E2SM-defined, e.g. [`qsafe_asn1::kpm::periodic_trigger`] encoded).
    pub event_trigger: Bytes,
    /// 1..16 actions with distinct ids ([`qsafe_asn1::e2ap::build::action`]).
    pub actions: Vec<asn::RICactionToBeSetupItem>,
}

/// A RIC control request to send ([`Ric::control`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlRequest {
    /// The RAN function (must be accepted from the node).
    pub ran_function_id: u16,
    /// `ricControlHeader` (E2SM-defined).
    pub header: Bytes,
    /// `ricControlMessage` (E2SM-defined).
    pub message: Bytes,
    /// `ricCallProcessID`, when controlling an insert.
    pub call_process_id: Option<Bytes>,
    /// Whether the node must acknowledge (`ricControlAckRequest` ack / noAck).
    pub ack_requested: bool,
}

/// Where a subscription is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionState {
    /// Request sent, awaiting the response until `deadline`.
    Requested {
        /// When the request times out.
        deadline: Instant,
    },
    /// The node admitted it.
    Established,
    /// Delete request sent, awaiting the response until `deadline`.
    Deleting {
        /// When the delete times out.
        deadline: Instant,
        /// Why.
        reason: DeleteReason,
    },
}

/// A live RIC subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Its RIC request id.
    pub id: RequestId,
    /// Its node.
    pub node: E2NodeId,
    /// The node's association.
    pub association: AssociationId,
    /// Its RAN function.
    pub ran_function_id: u16,
    /// The event trigger sent.
    pub event_trigger: Bytes,
    /// The action ids requested.
    pub actions: Vec<u8>,
    /// The action ids the node admitted (empty until established).
    pub admitted: Vec<u8>,
    /// Actions the node did not admit.
    pub not_admitted: Vec<NotAdmittedAction>,
    /// Where it is.
    pub state: SubscriptionState,
}

#[derive(Debug, Clone)]
struct PendingControl {
    node: E2NodeId,
    association: AssociationId,
    ran_function_id: u16,
    deadline: Instant,
}

#[derive(Debug, Clone)]
struct PendingReset {
    transaction: u8,
    deadline: Instant,
    subscriptions_cleared: Vec<RequestId>,
    controls_aborted: Vec<RequestId>,
}

#[derive(Debug)]
struct Association {
    /// Set once E2 Setup succeeded.
    node: Option<E2NodeId>,
    /// Until E2 Setup succeeds: when the RIC gives up waiting for it.
    setup_deadline: Option<Instant>,
    /// RIC-initiated transaction ids (Reset, Service Query).
    transactions: TransactionIds,
    reset: Option<PendingReset>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKey {
    Subscription(RequestId),
    Control(RequestId),
    Reset(AssociationId),
    SetupWait(AssociationId),
}

/// Allocation of `ricInstanceID`s for one requestor id.
#[derive(Debug)]
struct InstanceIds {
    requestor: u16,
    next: u16,
    in_use: HashSet<u16>,
}

impl InstanceIds {
    fn allocate(&mut self) -> Option<RequestId> {
        if self.in_use.len() > usize::from(u16::MAX) {
            return None;
        }
        loop {
            let instance = self.next;
            self.next = self.next.wrapping_add(1);
            if self.in_use.insert(instance) {
                return Some(RequestId::new(self.requestor, instance));
            }
        }
    }

    fn release(&mut self, id: RequestId) {
        if id.requestor == self.requestor {
            self.in_use.remove(&id.instance);
        }
    }
}

/// Counters of what went through the RIC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RicStats {
    /// PDUs handed to [`Ric::handle_pdu`].
    pub pdus_received: u64,
    /// PDUs that did not decode.
    pub pdus_undecodable: u64,
    /// Indications delivered as [`Event::Indication`].
    pub indications_delivered: u64,
    /// Indications for unknown request ids (answered with an Error Indication).
    pub indications_unknown: u64,
    /// Indications dropped silently (after a reset the RIC sent, or for a timed-out subscription).
    pub indications_dropped: u64,
    /// Error Indications sent.
    pub error_indications_sent: u64,
    /// Error Indications received.
    pub error_indications_received: u64,
}

/// The RIC side of E2AP for every association of one xApp; see the module doc.
#[derive(Debug)]
pub struct Ric {
    config: RicConfig,
    registry: NodeRegistry,
    associations: HashMap<AssociationId, Association>,
    next_association: u64,
    subscriptions: HashMap<RequestId, Subscription>,
    controls: HashMap<RequestId, PendingControl>,
    instance_ids: InstanceIds,
    timers: Timers<TimerKey>,
    transmits: VecDeque<(AssociationId, Transmit)>,
    events: VecDeque<Event>,
    stats: RicStats,
    barred: HashSet<E2NodeId>,
}

impl Ric {
    /// A RIC with no association yet.
    pub fn new(config: RicConfig) -> Self {
        let instance_ids =
            InstanceIds { requestor: config.requestor_id, next: config.first_instance_id, in_use: HashSet::new() };
        Self {
            config,
            registry: NodeRegistry::default(),
            associations: HashMap::new(),
            next_association: 1,
            subscriptions: HashMap::new(),
            controls: HashMap::new(),
            instance_ids,
            timers: Timers::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: RicStats::default(),
            barred: HashSet::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RicConfig {
        &self.config
    }

    /// The node registry.
    pub fn registry(&self) -> &NodeRegistry {
        &self.registry
    }

    /// A live subscription.
    pub fn subscription(&self, id: RequestId) -> Option<&Subscription> {
        self.subscriptions.get(&id)
    }

    /// All live subscriptions, in no particular order.
    pub fn subscriptions(&self) -> impl Iterator<Item = &Subscription> {
        self.subscriptions.values()
    }

    /// The node set up on an association, if any.
    pub fn association_node(&self, association: AssociationId) -> Option<&E2NodeId> {
        self.associations.get(&association).and_then(|a| a.node.as_ref())
    }

    /// Counters.
    pub fn stats(&self) -> RicStats {
        self.stats
    }

    /// Bars (`true`) or admits again (`false`) a node: while barred, its E2
    /// Setup is refused (cause misc/om-intervention, with
    /// [`RicConfig::barred_time_to_wait`], so the node retries on its own).
    /// An association the node already has is not touched. The xApp bars
    /// an isolated node until its policy lets it recover. Returns whether
    /// the node's barring changed.
    pub fn bar(&mut self, node: &E2NodeId, barred: bool) -> bool {
        if barred { self.barred.insert(node.clone()) } else { self.barred.remove(node) }
    }

    /// Whether a node is barred.
    pub fn is_barred(&self, node: &E2NodeId) -> bool {
        self.barred.contains(node)
    }

    // ------------------------------------------------------------ driver side

    /// A new SCTP association is up; the node is expected to start E2 Setup on it.
    pub fn connection_up(&mut self, now: Instant) -> AssociationId {
        let id = AssociationId(self.next_association);
        self.next_association += 1;
        let setup_deadline = self.config.setup_wait.map(|wait| deadline(now, wait));
        if let Some(deadline) = setup_deadline {
            self.timers.arm(deadline, TimerKey::SetupWait(id));
        }
        self.associations.insert(
            id,
            Association { node: None, setup_deadline, transactions: TransactionIds::default(), reset: None },
        );
        id
    }

    /// The association is gone. Its node (if set up) is marked disconnected,
    /// its subscriptions and pending requests end ([`Event::NodeDisconnected`]),
    /// and PDUs still queued for it are dropped.
    pub fn connection_lost(&mut self, now: Instant, association: AssociationId) -> Result<(), RicError> {
        let assoc = self.associations.remove(&association).ok_or(RicError::UnknownAssociation(association))?;
        self.transmits.retain(|(a, _)| *a != association);
        if let Some(reset) = &assoc.reset {
            self.timers.disarm(reset.deadline, TimerKey::Reset(association));
        }
        if let Some(deadline) = assoc.setup_deadline {
            self.timers.disarm(deadline, TimerKey::SetupWait(association));
        }
        let (subscriptions_lost, controls_lost) = self.clear_association(association);
        if let Some(node) = assoc.node {
            self.registry.mark_disconnected(&node, now);
            self.events.push_back(Event::NodeDisconnected { node, association, subscriptions_lost, controls_lost });
        }
        Ok(())
    }

    /// One received SCTP message (a whole E2AP PDU) on `stream` of
    /// `association`. Never fails on peer input: bad PDUs are answered with an
    /// Error Indication and reported as [`Event::ProtocolError`]. Fails only
    /// for an association the `Ric` does not know.
    pub fn handle_pdu(
        &mut self,
        now: Instant,
        association: AssociationId,
        stream: u16,
        bytes: &[u8],
    ) -> Result<(), RicError> {
        if !self.associations.contains_key(&association) {
            return Err(RicError::UnknownAssociation(association));
        }
        self.stats.pdus_received += 1;
        self.receive(now, association, stream, bytes);
        Ok(())
    }

    /// Fires every deadline that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(key) = self.timers.pop_expired(now) {
            match key {
                TimerKey::Subscription(id) => self.subscription_timer(now, id),
                TimerKey::Control(id) => {
                    if let Some(c) = self.controls.remove(&id) {
                        self.instance_ids.release(id);
                        self.events.push_back(Event::ControlTimedOut {
                            request: id,
                            node: c.node,
                            ran_function_id: c.ran_function_id,
                        });
                    }
                }
                TimerKey::SetupWait(association) => {
                    let Some(assoc) = self.associations.get_mut(&association) else { continue };
                    if assoc.node.is_none() && assoc.setup_deadline.take().is_some() {
                        self.events.push_back(Event::SetupWaitExpired { association });
                    }
                }
                TimerKey::Reset(association) => {
                    let Some(assoc) = self.associations.get_mut(&association) else { continue };
                    if let Some(reset) = assoc.reset.take() {
                        assoc.transactions.release(reset.transaction);
                        if let Some(node) = assoc.node.clone() {
                            self.events.push_back(Event::ResetTimedOut { node });
                        }
                    }
                }
            }
        }
    }

    /// The next PDU to send, and on which association.
    pub fn poll_transmit(&mut self) -> Option<(AssociationId, Transmit)> {
        self.transmits.pop_front()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Ric::handle_timeout`] must be called next, if anything is pending.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.earliest()
    }

    // ------------------------------------------------------------ application API

    /// Sends a RIC SUBSCRIPTION REQUEST; the outcome arrives as
    /// [`Event::SubscriptionEstablished`], [`Event::SubscriptionFailed`] or
    /// [`Event::SubscriptionTimedOut`] (after `timeout`).
    pub fn subscribe(
        &mut self,
        now: Instant,
        node: &E2NodeId,
        request: SubscriptionRequest,
        timeout: Duration,
    ) -> Result<RequestId, RicError> {
        let association = self.connected_association(node)?;
        self.check_function(node, request.ran_function_id)?;
        let mut action_ids: Vec<u8> = request.actions.iter().map(|a| a.ric_action_id.0).collect();
        if action_ids.is_empty() || action_ids.len() > 16 {
            return Err(RicError::InvalidActions(format!("{} actions (1..16 allowed)", action_ids.len())));
        }
        let mut distinct = action_ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != action_ids.len() {
            return Err(RicError::InvalidActions("duplicate action ids".into()));
        }
        let id = self.instance_ids.allocate().ok_or(RicError::RequestIdsExhausted(self.config.requestor_id))?;
        let pdu = E2apPdu::from(RicSubscriptionRequest {
            ric_request_id: id.into(),
            ran_function_id: asn::RANfunctionID(request.ran_function_id),
            details: SubscriptionDetails {
                event_trigger_definition: request.event_trigger.to_vec(),
                actions: request.actions,
            },
            start_time: None,
            end_time: None,
        });
        if let Err(e) = self.send(association, self.config.stream, &pdu) {
            self.instance_ids.release(id);
            return Err(e.into());
        }
        let deadline = deadline(now, timeout);
        self.timers.arm(deadline, TimerKey::Subscription(id));
        action_ids.shrink_to_fit();
        self.subscriptions.insert(
            id,
            Subscription {
                id,
                node: node.clone(),
                association,
                ran_function_id: request.ran_function_id,
                event_trigger: request.event_trigger,
                actions: action_ids,
                admitted: Vec::new(),
                not_admitted: Vec::new(),
                state: SubscriptionState::Requested { deadline },
            },
        );
        Ok(id)
    }

    /// Sends a RIC SUBSCRIPTION DELETE REQUEST; the outcome arrives as
    /// [`Event::SubscriptionDeleted`], [`Event::SubscriptionDeleteFailed`] or
    /// [`Event::SubscriptionDeleteTimedOut`]. Allowed while the subscription
    /// request is still outstanding (its outcome is then not reported).
    pub fn unsubscribe(&mut self, now: Instant, subscription: RequestId, timeout: Duration) -> Result<(), RicError> {
        let sub = self.subscriptions.get(&subscription).ok_or(RicError::UnknownSubscription(subscription))?;
        if matches!(sub.state, SubscriptionState::Deleting { .. }) {
            return Err(RicError::DeleteInProgress(subscription));
        }
        self.start_delete(now, subscription, DeleteReason::Requested, timeout)?;
        Ok(())
    }

    /// Sends a RIC CONTROL REQUEST. With `ack_requested` the outcome arrives
    /// as [`Event::ControlAcknowledged`], [`Event::ControlFailed`] or
    /// [`Event::ControlTimedOut`]; without, the request is complete once
    /// queued (a later RIC CONTROL FAILURE is still reported).
    pub fn control(
        &mut self,
        now: Instant,
        node: &E2NodeId,
        request: ControlRequest,
        timeout: Duration,
    ) -> Result<RequestId, RicError> {
        let association = self.connected_association(node)?;
        self.check_function(node, request.ran_function_id)?;
        let id = self.instance_ids.allocate().ok_or(RicError::RequestIdsExhausted(self.config.requestor_id))?;
        let pdu = E2apPdu::from(RicControlRequest {
            ric_request_id: id.into(),
            ran_function_id: asn::RANfunctionID(request.ran_function_id),
            call_process_id: request.call_process_id.map(|c| asn::RICcallProcessID(c.into())),
            header: asn::RICcontrolHeader(request.header.into()),
            message: asn::RICcontrolMessage(request.message.into()),
            ack_request: Some(if request.ack_requested {
                asn::RICcontrolAckRequest::ack
            } else {
                asn::RICcontrolAckRequest::noAck
            }),
        });
        let sent = self.send(association, self.config.stream, &pdu);
        if sent.is_err() || !request.ack_requested {
            self.instance_ids.release(id);
        }
        sent?;
        if request.ack_requested {
            let deadline = deadline(now, timeout);
            self.timers.arm(deadline, TimerKey::Control(id));
            self.controls.insert(
                id,
                PendingControl { node: node.clone(), association, ran_function_id: request.ran_function_id, deadline },
            );
        }
        Ok(id)
    }

    /// Resets the E2 association of `node`: its subscriptions and pending
    /// control requests are cleared at once, RESET REQUEST is sent, and the
    /// outcome arrives as [`Event::ResetCompleted`] or [`Event::ResetTimedOut`].
    pub fn reset(
        &mut self,
        now: Instant,
        node: &E2NodeId,
        cause: asn::Cause,
        timeout: Duration,
    ) -> Result<(), RicError> {
        let association = self.connected_association(node)?;
        let assoc = self.associations.get_mut(&association).ok_or(RicError::UnknownAssociation(association))?;
        if assoc.reset.is_some() {
            return Err(RicError::ResetInProgress(node.clone()));
        }
        let transaction =
            assoc.transactions.allocate().ok_or_else(|| RicError::TransactionIdsExhausted(node.clone()))?;
        let pdu = E2apPdu::from(ResetRequest { transaction_id: crate::common::transaction(transaction), cause });
        if let Err(e) = self.send(association, self.config.stream, &pdu) {
            if let Some(assoc) = self.associations.get_mut(&association) {
                assoc.transactions.release(transaction);
            }
            return Err(e.into());
        }
        let (subscriptions_cleared, controls_aborted) = self.clear_association(association);
        let deadline = deadline(now, timeout);
        self.timers.arm(deadline, TimerKey::Reset(association));
        if let Some(assoc) = self.associations.get_mut(&association) {
            assoc.reset = Some(PendingReset { transaction, deadline, subscriptions_cleared, controls_aborted });
        }
        Ok(())
    }

    /// Sends a RIC SERVICE QUERY listing the functions the registry holds for
    /// `node`; the node answers with a RIC Service Update
    /// ([`Event::ServiceUpdated`]).
    pub fn service_query(&mut self, node: &E2NodeId) -> Result<(), RicError> {
        let association = self.connected_association(node)?;
        let accepted: Vec<asn::RANfunctionIDItem> = self
            .registry
            .get(node)
            .map(|n| n.ran_functions.values().map(|f| f.id_item()).collect())
            .unwrap_or_default();
        let assoc = self.associations.get_mut(&association).ok_or(RicError::UnknownAssociation(association))?;
        let transaction = assoc.transactions.next_unreserved();
        let pdu = E2apPdu::from(RicServiceQuery {
            transaction_id: crate::common::transaction(transaction),
            ran_functions_accepted: (!accepted.is_empty()).then_some(accepted),
        });
        self.send(association, self.config.stream, &pdu)?;
        Ok(())
    }

    /// Removes a disconnected node from the registry.
    pub fn forget_node(&mut self, node: &E2NodeId) -> Result<NodeInfo, RicError> {
        match self.registry.get(node) {
            None => Err(RicError::UnknownNode(node.clone())),
            Some(info) if info.is_connected() => Err(RicError::NodeConnected(node.clone())),
            Some(_) => self.registry.remove(node).ok_or_else(|| RicError::UnknownNode(node.clone())),
        }
    }

    // ------------------------------------------------------------ internals

    fn connected_association(&self, node: &E2NodeId) -> Result<AssociationId, RicError> {
        let info = self.registry.get(node).ok_or_else(|| RicError::UnknownNode(node.clone()))?;
        info.association().ok_or_else(|| RicError::NodeNotConnected(node.clone()))
    }

    fn check_function(&self, node: &E2NodeId, ran_function_id: u16) -> Result<(), RicError> {
        let known = self.registry.get(node).is_some_and(|n| n.ran_functions.contains_key(&ran_function_id));
        if known { Ok(()) } else { Err(RicError::UnknownRanFunction { node: node.clone(), ran_function_id }) }
    }

    /// Encodes and queues one PDU.
    fn send(&mut self, association: AssociationId, stream: u16, pdu: &E2apPdu) -> Result<(), E2apError> {
        let bytes = pdu.encode()?;
        self.transmits.push_back((association, Transmit { stream, bytes }));
        Ok(())
    }

    /// Queues an answer the RIC owes the peer; an encoding failure becomes an
    /// [`Event::InternalError`].
    fn answer(&mut self, association: AssociationId, stream: u16, pdu: E2apPdu) -> bool {
        match self.send(association, stream, &pdu) {
            Ok(()) => true,
            Err(e) => {
                self.events
                    .push_back(Event::InternalError { association, detail: format!("encoding {}: {e}", pdu.name()) });
                false
            }
        }
    }

    /// Reports a bad PDU: Error Indication (when due) and event.
    fn protocol_error(&mut self, association: AssociationId, stream: u16, error: ProtocolError) {
        if error.error_indication_sent {
            let pdu = E2apPdu::from(error.error_indication());
            if self.answer(association, stream, pdu) {
                self.stats.error_indications_sent += 1;
            }
        }
        let node = self.associations.get(&association).and_then(|a| a.node.clone());
        self.events.push_back(Event::ProtocolError { association, node, error });
    }

    /// Sends a delete request and moves the subscription to `Deleting`.
    fn start_delete(
        &mut self,
        now: Instant,
        id: RequestId,
        reason: DeleteReason,
        timeout: Duration,
    ) -> Result<(), E2apError> {
        let Some(sub) = self.subscriptions.get(&id) else { return Ok(()) };
        let association = sub.association;
        let pdu = E2apPdu::from(RicSubscriptionDeleteRequest {
            ric_request_id: id.into(),
            ran_function_id: asn::RANfunctionID(sub.ran_function_id),
        });
        self.send(association, self.config.stream, &pdu)?;
        let deadline = deadline(now, timeout);
        if let Some(sub) = self.subscriptions.get_mut(&id) {
            match sub.state {
                SubscriptionState::Requested { deadline } | SubscriptionState::Deleting { deadline, .. } => {
                    self.timers.disarm(deadline, TimerKey::Subscription(id))
                }
                SubscriptionState::Established => {}
            }
            sub.state = SubscriptionState::Deleting { deadline, reason };
            self.timers.arm(deadline, TimerKey::Subscription(id));
        }
        Ok(())
    }

    /// Forgets a subscription: disarms its timer, frees its request id.
    fn remove_subscription(&mut self, id: RequestId) -> Option<Subscription> {
        let sub = self.subscriptions.remove(&id)?;
        match &sub.state {
            SubscriptionState::Requested { deadline } | SubscriptionState::Deleting { deadline, .. } => {
                self.timers.disarm(*deadline, TimerKey::Subscription(id))
            }
            SubscriptionState::Established => {}
        }
        self.instance_ids.release(id);
        Some(sub)
    }

    fn remove_control(&mut self, id: RequestId) -> Option<PendingControl> {
        let c = self.controls.remove(&id)?;
        self.timers.disarm(c.deadline, TimerKey::Control(id));
        self.instance_ids.release(id);
        Some(c)
    }

    /// Drops every subscription and pending control of an association
    /// (reset, loss); returns their ids, sorted.
    fn clear_association(&mut self, association: AssociationId) -> (Vec<RequestId>, Vec<RequestId>) {
        let mut subs: Vec<RequestId> =
            self.subscriptions.values().filter(|s| s.association == association).map(|s| s.id).collect();
        subs.sort_unstable();
        for id in &subs {
            self.remove_subscription(*id);
        }
        let mut controls: Vec<RequestId> =
            self.controls.iter().filter(|(_, c)| c.association == association).map(|(id, _)| *id).collect();
        controls.sort_unstable();
        for id in &controls {
            self.remove_control(*id);
        }
        (subs, controls)
    }

    fn subscription_timer(&mut self, now: Instant, id: RequestId) {
        let Some(sub) = self.subscriptions.get(&id) else { return };
        let node = sub.node.clone();
        let ran_function_id = sub.ran_function_id;
        match sub.state.clone() {
            SubscriptionState::Established => {}
            SubscriptionState::Requested { .. } => {
                self.events.push_back(Event::SubscriptionTimedOut { subscription: id, node, ran_function_id });
                if let Some(sub) = self.subscriptions.get_mut(&id) {
                    // The timer has fired; nothing to disarm.
                    sub.state = SubscriptionState::Established;
                }
                let timeout = self.config.internal_delete_timeout;
                if self.start_delete(now, id, DeleteReason::AfterTimeout, timeout).is_err() {
                    self.remove_subscription(id);
                }
            }
            SubscriptionState::Deleting { reason, .. } => match reason {
                DeleteReason::AfterTimeout => {
                    self.remove_subscription(id);
                }
                DeleteReason::RequiredByNode(_) => {
                    self.remove_subscription(id);
                    self.events.push_back(Event::SubscriptionDeleteTimedOut {
                        subscription: id,
                        node,
                        still_active: false,
                    });
                }
                DeleteReason::Requested => {
                    if let Some(sub) = self.subscriptions.get_mut(&id) {
                        sub.state = SubscriptionState::Established;
                    }
                    self.events.push_back(Event::SubscriptionDeleteTimedOut {
                        subscription: id,
                        node,
                        still_active: true,
                    });
                }
            },
        }
    }
}
