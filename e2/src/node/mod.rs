//! # The E2 node role: E2AP procedures of an E2 node, sans-IO
//!
//! [`E2NodeAgent`] is the E2 node's half of one E2 association, as a pure
//! state machine with the same shape as [`crate::ric::Ric`]:
//!
//! | input | output |
//! |---|---|
//! | [`E2NodeAgent::connection_up`] / [`E2NodeAgent::connection_lost`] | [`E2NodeAgent::poll_transmit`] → [`Transmit`] |
//! | [`E2NodeAgent::handle_pdu`] (one received SCTP message) | [`E2NodeAgent::poll_event`] → [`Event`] |
//! | [`E2NodeAgent::handle_timeout`] | [`E2NodeAgent::poll_timeout`] |
//! | API: indications, decisions on subscriptions and controls, delete required, reset, service and configuration updates | |
//!
//! An agent holds no socket, thread or timer and costs about a kilobyte
//! plus its subscriptions, so a simulator can run thousands in one task
//! (one agent per emulated node, one association each).
//!
//! ## Decisions are events plus calls, not callbacks
//!
//! A RIC SUBSCRIPTION REQUEST becomes [`Event::SubscriptionRequested`]; the
//! application answers with [`E2NodeAgent::accept_subscription`] or
//! [`E2NodeAgent::reject_subscription`] whenever it likes (possibly after
//! asynchronous work), and the agent sends the response then. RIC CONTROL
//! REQUESTs work the same way ([`E2NodeAgent::ack_control`] /
//! [`E2NodeAgent::fail_control`]). A callback trait would have to decide
//! synchronously inside `handle_pdu` and borrow application state into the
//! agent; events keep the agent free of application types. For simulators,
//! [`SubscriptionPolicy::AdmitAll`] and [`ControlPolicy::AcknowledgeAll`]
//! answer at once. Requests the agent can judge by itself (unknown RAN
//! function, duplicate request id or action id) are refused without asking.
//!
//! ## Procedure states
//!
//! * **E2 Setup**: `Disconnected` → [`E2NodeAgent::connection_up`] sends E2
//!   SETUP REQUEST (fresh transaction id) → `SetupPending` (deadline:
//!   [`E2NodeConfig::setup_timeout`], then the request is sent again) →
//!   response → `Established` | failure → `WaitingToRetry` (the RIC's
//!   `TimeToWait`, else [`E2NodeConfig::setup_retry_delay`]) or `Refused`.
//!   Until `Established`, only the setup outcome and Error Indications are
//!   accepted; everything else gets an Error Indication
//!   (message-not-compatible-with-receiver-state).
//! * **Subscriptions**: the RIC allocates the request id; the agent keeps the
//!   active ones (function, actions, event trigger, admitted actions) and
//!   numbers each subscription's indications with a wrapping u16
//!   `RICindicationSN` starting at 0. Delete → response, or failure
//!   request-id-unknown. [`E2NodeAgent::require_deletion`] sends RIC
//!   SUBSCRIPTION DELETE REQUIRED; the subscription stays active until the
//!   RIC deletes it.
//! * **Control**: pending until the application answers; an acknowledge is
//!   only sent when the RIC asked for one (an absent ack-request IE counts
//!   as asking), a failure always.
//! * **Reset** (either side), **Service Update** ([`E2NodeAgent::service_update`],
//!   and automatically in answer to a RIC SERVICE QUERY) and **E2 Node
//!   Configuration Update** ([`E2NodeAgent::configuration_update`]): one of
//!   each outstanding at a time, each with a deadline; the node allocates
//!   their transaction ids. A reset clears every subscription.

mod config;
mod error;
mod event;
mod inbound;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use qsafe_asn1::e2ap::{
    E2NodeConfigurationUpdate, E2SetupRequest, E2apError, E2apPdu, ResetRequest, RicControlAcknowledge,
    RicControlFailure, RicIndication, RicServiceUpdate, RicSubscriptionDeleteRequired, RicSubscriptionFailure,
    RicSubscriptionResponse,
};
use qsafe_asn1::e2ap_asn as asn;

pub use config::{ControlPolicy, E2NodeConfig, SubscriptionPolicy};
pub use error::NodeError;
pub use event::Event;

use crate::common::{
    ComponentConfig, ComponentKey, NotAdmittedAction, ProtocolError, RanFunction, RequestId, Timers, TransactionIds,
    Transmit, deadline, transaction,
};

/// Where the agent is with E2 Setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupState {
    /// No association.
    Disconnected,
    /// E2 SETUP REQUEST sent, awaiting the answer until `deadline`.
    SetupPending {
        /// When the request is sent again.
        deadline: Instant,
    },
    /// E2 SETUP FAILURE received; the request is sent again at `retry_at`.
    WaitingToRetry {
        /// When.
        retry_at: Instant,
    },
    /// E2 SETUP FAILURE received and no retry configured.
    Refused,
    /// E2 Setup completed.
    Established {
        /// The RIC's global id.
        ric_id: asn::GlobalRICID,
        /// When.
        since: Instant,
    },
}

/// An active subscription at the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSubscription {
    /// Its RIC request id.
    pub request: RequestId,
    /// The RAN function.
    pub ran_function_id: u16,
    /// `ricEventTriggerDefinition`.
    pub event_trigger: Bytes,
    /// The actions the RIC asked for.
    pub actions: Vec<asn::RICactionToBeSetupItem>,
    /// The action ids admitted.
    pub admitted: Vec<u8>,
    /// The `RICindicationSN` of the next indication.
    pub next_sn: u16,
}

/// RAN function changes to announce with RIC SERVICE UPDATE.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceUpdate {
    /// New functions.
    pub added: Vec<RanFunction>,
    /// Changed functions (same id).
    pub modified: Vec<RanFunction>,
    /// Ids of functions withdrawn.
    pub deleted: Vec<u16>,
}

/// Component configuration changes to announce with E2 NODE CONFIGURATION UPDATE.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigurationUpdate {
    /// New components.
    pub added: Vec<ComponentConfig>,
    /// Changed components.
    pub updated: Vec<ComponentConfig>,
    /// Components removed.
    pub removed: Vec<ComponentKey>,
}

#[derive(Debug, Clone)]
struct PendingSubscription {
    ran_function_id: u16,
    event_trigger: Bytes,
    actions: Vec<asn::RICactionToBeSetupItem>,
    stream: u16,
}

#[derive(Debug, Clone)]
struct PendingControl {
    ran_function_id: u16,
    call_process_id: Option<asn::RICcallProcessID>,
    ack_requested: bool,
    stream: u16,
}

#[derive(Debug, Clone, Copy)]
struct Outstanding {
    transaction: u8,
    deadline: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKey {
    Setup,
    SetupRetry,
    Reset,
    ServiceUpdate,
    ConfigurationUpdate,
}

/// Counters of what went through the agent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// PDUs handed to [`E2NodeAgent::handle_pdu`].
    pub pdus_received: u64,
    /// PDUs that did not decode.
    pub pdus_undecodable: u64,
    /// Indications queued.
    pub indications_sent: u64,
    /// Error Indications sent.
    pub error_indications_sent: u64,
    /// Error Indications received.
    pub error_indications_received: u64,
}

/// The E2 node side of one E2 association; see the module doc.
#[derive(Debug)]
pub struct E2NodeAgent {
    config: E2NodeConfig,
    state: SetupState,
    setup_transaction: Option<u8>,
    accepted_functions: BTreeSet<u16>,
    subscriptions: HashMap<RequestId, ActiveSubscription>,
    pending_subscriptions: HashMap<RequestId, PendingSubscription>,
    pending_controls: HashMap<RequestId, PendingControl>,
    transactions: TransactionIds,
    reset: Option<Outstanding>,
    service_update: Option<(Outstanding, Vec<u16>)>,
    configuration_update: Option<Outstanding>,
    timers: Timers<TimerKey>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: NodeStats,
}

impl E2NodeAgent {
    /// An agent for one node; checks that E2 Setup can carry the configuration.
    pub fn new(config: E2NodeConfig) -> Result<Self, NodeError> {
        if config.components.is_empty() || config.components.len() > 1024 {
            return Err(NodeError::InvalidConfig(format!(
                "{} component configurations (E2 Setup carries 1..1024)",
                config.components.len()
            )));
        }
        if config.ran_functions.is_empty() || config.ran_functions.len() > 256 {
            return Err(NodeError::InvalidConfig(format!(
                "{} RAN functions (E2 Setup carries 1..256)",
                config.ran_functions.len()
            )));
        }
        let mut ids = BTreeSet::new();
        for f in &config.ran_functions {
            f.to_item()?;
            if !ids.insert(f.id) {
                return Err(NodeError::InvalidConfig(format!("RAN function id {} appears twice", f.id)));
            }
        }
        Ok(Self {
            config,
            state: SetupState::Disconnected,
            setup_transaction: None,
            accepted_functions: BTreeSet::new(),
            subscriptions: HashMap::new(),
            pending_subscriptions: HashMap::new(),
            pending_controls: HashMap::new(),
            transactions: TransactionIds::default(),
            reset: None,
            service_update: None,
            configuration_update: None,
            timers: Timers::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: NodeStats::default(),
        })
    }

    /// The configuration (RAN functions and components as currently announced).
    pub fn config(&self) -> &E2NodeConfig {
        &self.config
    }

    /// Where E2 Setup is.
    pub fn state(&self) -> &SetupState {
        &self.state
    }

    /// Whether E2 Setup has completed on the current association.
    pub fn is_established(&self) -> bool {
        matches!(self.state, SetupState::Established { .. })
    }

    /// RAN function ids the RIC accepted.
    pub fn accepted_functions(&self) -> &BTreeSet<u16> {
        &self.accepted_functions
    }

    /// One active subscription.
    pub fn subscription(&self, request: RequestId) -> Option<&ActiveSubscription> {
        self.subscriptions.get(&request)
    }

    /// All active subscriptions, in no particular order.
    pub fn subscriptions(&self) -> impl Iterator<Item = &ActiveSubscription> {
        self.subscriptions.values()
    }

    /// Counters.
    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    // ------------------------------------------------------------ driver side

    /// The association to the RIC is up: sends E2 SETUP REQUEST.
    pub fn connection_up(&mut self, now: Instant) {
        self.clear_association_state();
        self.send_setup(now);
    }

    /// The association is gone: every subscription and pending procedure ends.
    pub fn connection_lost(&mut self, _now: Instant) {
        let subscriptions_cleared = self.clear_association_state();
        self.state = SetupState::Disconnected;
        self.events.push_back(Event::ConnectionLost { subscriptions_cleared });
    }

    /// One received SCTP message (a whole E2AP PDU) on `stream`. Never
    /// fails: bad PDUs are answered with an Error Indication and reported as
    /// [`Event::ProtocolError`].
    pub fn handle_pdu(&mut self, now: Instant, stream: u16, bytes: &[u8]) {
        self.stats.pdus_received += 1;
        self.receive(now, stream, bytes);
    }

    /// Fires every deadline that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(key) = self.timers.pop_expired(now) {
            match key {
                TimerKey::Setup => {
                    if matches!(self.state, SetupState::SetupPending { .. }) {
                        self.events.push_back(Event::SetupTimedOut);
                        self.send_setup(now);
                    }
                }
                TimerKey::SetupRetry => {
                    if matches!(self.state, SetupState::WaitingToRetry { .. }) {
                        self.send_setup(now);
                    }
                }
                TimerKey::Reset => {
                    if let Some(o) = self.reset.take() {
                        self.transactions.release(o.transaction);
                        self.events.push_back(Event::ResetTimedOut);
                    }
                }
                TimerKey::ServiceUpdate => {
                    if let Some((o, _)) = self.service_update.take() {
                        self.transactions.release(o.transaction);
                        self.events.push_back(Event::ServiceUpdateTimedOut);
                    }
                }
                TimerKey::ConfigurationUpdate => {
                    if let Some(o) = self.configuration_update.take() {
                        self.transactions.release(o.transaction);
                        self.events.push_back(Event::ConfigurationUpdateTimedOut);
                    }
                }
            }
        }
    }

    /// The next PDU to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`E2NodeAgent::handle_timeout`] must be called next, if anything is pending.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.earliest()
    }

    // ------------------------------------------------------------ subscriptions

    /// Admits a requested subscription ([`Event::SubscriptionRequested`]):
    /// sends RIC SUBSCRIPTION RESPONSE with `admitted` (at least one of the
    /// requested action ids) and `not_admitted`. Requested actions in
    /// neither list are reported not admitted with cause action-not-supported.
    pub fn accept_subscription(
        &mut self,
        request: RequestId,
        admitted: &[u8],
        not_admitted: Vec<NotAdmittedAction>,
    ) -> Result<(), NodeError> {
        let pending = self.pending_subscriptions.get(&request).ok_or(NodeError::NoPendingSubscription(request))?;
        let requested: Vec<u8> = pending.actions.iter().map(|a| a.ric_action_id.0).collect();
        let mut admitted: Vec<u8> = admitted.iter().copied().filter(|id| requested.contains(id)).collect();
        admitted.sort_unstable();
        admitted.dedup();
        if admitted.is_empty() {
            return Err(NodeError::NoActionAdmitted(request));
        }
        let mut not_admitted: Vec<NotAdmittedAction> = not_admitted
            .into_iter()
            .filter(|n| requested.contains(&n.action_id) && !admitted.contains(&n.action_id))
            .collect();
        for id in &requested {
            if !admitted.contains(id) && !not_admitted.iter().any(|n| n.action_id == *id) {
                not_admitted.push(NotAdmittedAction {
                    action_id: *id,
                    cause: asn::Cause::ricRequest(asn::CauseRICrequest::action_not_supported),
                });
            }
        }
        let pending = self.pending_subscriptions.remove(&request).ok_or(NodeError::NoPendingSubscription(request))?;
        self.admit(request, pending, admitted, not_admitted)
    }

    /// Refuses a requested subscription with RIC SUBSCRIPTION FAILURE.
    pub fn reject_subscription(&mut self, request: RequestId, cause: asn::Cause) -> Result<(), NodeError> {
        let pending = self.pending_subscriptions.remove(&request).ok_or(NodeError::NoPendingSubscription(request))?;
        let pdu = E2apPdu::from(RicSubscriptionFailure {
            ric_request_id: request.into(),
            ran_function_id: asn::RANfunctionID(pending.ran_function_id),
            cause,
            criticality_diagnostics: None,
        });
        self.send(pending.stream, &pdu)?;
        Ok(())
    }

    fn admit(
        &mut self,
        request: RequestId,
        pending: PendingSubscription,
        admitted: Vec<u8>,
        not_admitted: Vec<NotAdmittedAction>,
    ) -> Result<(), NodeError> {
        let pdu = E2apPdu::from(RicSubscriptionResponse {
            ric_request_id: request.into(),
            ran_function_id: asn::RANfunctionID(pending.ran_function_id),
            actions_admitted: admitted
                .iter()
                .map(|id| asn::RICactionAdmittedItem::new(asn::RICactionID(*id)))
                .collect(),
            actions_not_admitted: (!not_admitted.is_empty())
                .then(|| not_admitted.iter().map(NotAdmittedAction::to_item).collect()),
        });
        self.send(pending.stream, &pdu)?;
        self.events.push_back(Event::SubscriptionAdded {
            request,
            ran_function_id: pending.ran_function_id,
            admitted: admitted.clone(),
        });
        self.subscriptions.insert(
            request,
            ActiveSubscription {
                request,
                ran_function_id: pending.ran_function_id,
                event_trigger: pending.event_trigger,
                actions: pending.actions,
                admitted,
                next_sn: 0,
            },
        );
        Ok(())
    }

    /// Sends a report (or insert, per the action's type) RIC INDICATION for
    /// an admitted action; returns the `RICindicationSN` used.
    pub fn send_indication(
        &mut self,
        subscription: RequestId,
        action_id: u8,
        header: impl Into<Bytes>,
        message: impl Into<Bytes>,
    ) -> Result<u16, NodeError> {
        self.indication(subscription, action_id, header.into(), message.into(), None)
    }

    /// Sends an insert RIC INDICATION carrying a `RICcallProcessID`.
    pub fn send_insert_indication(
        &mut self,
        subscription: RequestId,
        action_id: u8,
        header: impl Into<Bytes>,
        message: impl Into<Bytes>,
        call_process_id: impl Into<Bytes>,
    ) -> Result<u16, NodeError> {
        self.indication(subscription, action_id, header.into(), message.into(), Some(call_process_id.into()))
    }

    fn indication(
        &mut self,
        subscription: RequestId,
        action_id: u8,
        header: Bytes,
        message: Bytes,
        call_process_id: Option<Bytes>,
    ) -> Result<u16, NodeError> {
        if !self.is_established() {
            return Err(NodeError::NotSetUp);
        }
        let sub = self.subscriptions.get_mut(&subscription).ok_or(NodeError::UnknownSubscription(subscription))?;
        let not_admitted = NodeError::ActionNotAdmitted { subscription, action_id };
        if !sub.admitted.contains(&action_id) {
            return Err(not_admitted);
        }
        let action = sub.actions.iter().find(|a| a.ric_action_id.0 == action_id).ok_or(not_admitted)?;
        let indication_type = match action.ric_action_type {
            asn::RICactionType::report => asn::RICindicationType::report,
            asn::RICactionType::insert => asn::RICindicationType::insert,
            _ => return Err(NodeError::PolicyAction { subscription, action_id }),
        };
        let sn = sub.next_sn;
        let pdu = E2apPdu::from(RicIndication {
            ric_request_id: subscription.into(),
            ran_function_id: asn::RANfunctionID(sub.ran_function_id),
            action_id: asn::RICactionID(action_id),
            sn: Some(asn::RICindicationSN(sn)),
            indication_type,
            header: asn::RICindicationHeader(header.into()),
            message: asn::RICindicationMessage(message.into()),
            call_process_id: call_process_id.map(|c| asn::RICcallProcessID(c.into())),
        });
        let stream = self.config.stream;
        self.send(stream, &pdu)?;
        if let Some(sub) = self.subscriptions.get_mut(&subscription) {
            sub.next_sn = sn.wrapping_add(1);
        }
        self.stats.indications_sent += 1;
        Ok(sn)
    }

    /// Asks the RIC to delete subscriptions (RIC SUBSCRIPTION DELETE
    /// REQUIRED, one cause each). They stay active until the RIC deletes them.
    pub fn require_deletion(&mut self, subscriptions: &[(RequestId, asn::Cause)]) -> Result<(), NodeError> {
        if !self.is_established() {
            return Err(NodeError::NotSetUp);
        }
        let items = subscriptions
            .iter()
            .map(|(id, cause)| {
                let sub = self.subscriptions.get(id).ok_or(NodeError::UnknownSubscription(*id))?;
                Ok(asn::RICsubscriptionWithCauseItem::new(
                    (*id).into(),
                    asn::RANfunctionID(sub.ran_function_id),
                    cause.clone(),
                ))
            })
            .collect::<Result<Vec<_>, NodeError>>()?;
        let stream = self.config.stream;
        self.send(stream, &E2apPdu::from(RicSubscriptionDeleteRequired { subscriptions: items }))?;
        Ok(())
    }

    // ------------------------------------------------------------ control

    /// Completes a control request successfully: sends RIC CONTROL
    /// ACKNOWLEDGE (with `outcome`) if the RIC asked for one.
    pub fn ack_control(&mut self, request: RequestId, outcome: Option<Bytes>) -> Result<(), NodeError> {
        let pending = self.pending_controls.remove(&request).ok_or(NodeError::NoPendingControl(request))?;
        self.acknowledge(request, pending, outcome)
    }

    fn acknowledge(
        &mut self,
        request: RequestId,
        pending: PendingControl,
        outcome: Option<Bytes>,
    ) -> Result<(), NodeError> {
        if !pending.ack_requested {
            return Ok(());
        }
        let pdu = E2apPdu::from(RicControlAcknowledge {
            ric_request_id: request.into(),
            ran_function_id: asn::RANfunctionID(pending.ran_function_id),
            call_process_id: pending.call_process_id,
            outcome: outcome.map(|o| asn::RICcontrolOutcome(o.into())),
        });
        self.send(pending.stream, &pdu)?;
        Ok(())
    }

    /// Completes a control request unsuccessfully: sends RIC CONTROL FAILURE.
    pub fn fail_control(
        &mut self,
        request: RequestId,
        cause: asn::Cause,
        outcome: Option<Bytes>,
    ) -> Result<(), NodeError> {
        let pending = self.pending_controls.remove(&request).ok_or(NodeError::NoPendingControl(request))?;
        let pdu = E2apPdu::from(RicControlFailure {
            ric_request_id: request.into(),
            ran_function_id: asn::RANfunctionID(pending.ran_function_id),
            call_process_id: pending.call_process_id,
            cause,
            outcome: outcome.map(|o| asn::RICcontrolOutcome(o.into())),
            criticality_diagnostics: None,
        });
        self.send(pending.stream, &pdu)?;
        Ok(())
    }

    // ------------------------------------------------------------ global procedures

    /// Resets the association: clears every subscription, sends RESET
    /// REQUEST; the outcome arrives as [`Event::ResetCompleted`] or
    /// [`Event::ResetTimedOut`].
    pub fn reset(&mut self, now: Instant, cause: asn::Cause, timeout: Duration) -> Result<Vec<RequestId>, NodeError> {
        if !self.is_established() {
            return Err(NodeError::NotSetUp);
        }
        if self.reset.is_some() {
            return Err(NodeError::ProcedureInProgress("reset"));
        }
        let id = self.transactions.allocate().ok_or(NodeError::TransactionIdsExhausted)?;
        let stream = self.config.stream;
        if let Err(e) = self.send(stream, &E2apPdu::from(ResetRequest { transaction_id: transaction(id), cause })) {
            self.transactions.release(id);
            return Err(e.into());
        }
        let deadline = deadline(now, timeout);
        self.timers.arm(deadline, TimerKey::Reset);
        self.reset = Some(Outstanding { transaction: id, deadline });
        Ok(self.clear_subscriptions())
    }

    /// Announces RAN function changes with RIC SERVICE UPDATE (the agent's
    /// own function list changes at once); the outcome arrives as
    /// [`Event::ServiceUpdateAcknowledged`], [`Event::ServiceUpdateFailed`] or
    /// [`Event::ServiceUpdateTimedOut`].
    pub fn service_update(&mut self, now: Instant, update: ServiceUpdate, timeout: Duration) -> Result<(), NodeError> {
        if !self.is_established() {
            return Err(NodeError::NotSetUp);
        }
        if self.service_update.is_some() {
            return Err(NodeError::ProcedureInProgress("RIC service update"));
        }
        let added = update.added.iter().map(RanFunction::to_item).collect::<Result<Vec<_>, _>>()?;
        let modified = update.modified.iter().map(RanFunction::to_item).collect::<Result<Vec<_>, _>>()?;
        let remaining = self
            .config
            .ran_functions
            .iter()
            .filter(|f| !update.deleted.contains(&f.id))
            .map(|f| f.id)
            .chain(update.added.iter().map(|f| f.id))
            .collect::<BTreeSet<_>>()
            .len();
        if remaining == 0 || remaining > 256 {
            return Err(NodeError::InvalidConfig(format!(
                "the update leaves {remaining} RAN functions (E2 Setup after a reconnect carries 1..256)"
            )));
        }
        let deleted: Vec<asn::RANfunctionIDItem> = update
            .deleted
            .iter()
            .map(|id| {
                let revision = self.config.ran_functions.iter().find(|f| f.id == *id).map_or(0, |f| f.revision);
                asn::RANfunctionIDItem::new(asn::RANfunctionID(*id), asn::RANfunctionRevision(revision))
            })
            .collect();
        self.start_service_update(now, added, modified, deleted, timeout)?;
        for f in update.added.into_iter().chain(update.modified) {
            match self.config.ran_functions.iter_mut().find(|x| x.id == f.id) {
                Some(existing) => *existing = f,
                None => self.config.ran_functions.push(f),
            }
        }
        self.config.ran_functions.retain(|f| !update.deleted.contains(&f.id));
        for id in &update.deleted {
            self.accepted_functions.remove(id);
        }
        Ok(())
    }

    fn start_service_update(
        &mut self,
        now: Instant,
        added: Vec<asn::RANfunctionItem>,
        modified: Vec<asn::RANfunctionItem>,
        deleted: Vec<asn::RANfunctionIDItem>,
        timeout: Duration,
    ) -> Result<(), NodeError> {
        let id = self.transactions.allocate().ok_or(NodeError::TransactionIdsExhausted)?;
        let deleted_ids = deleted.iter().map(|d| d.ran_function_id.0).collect();
        let pdu = E2apPdu::from(RicServiceUpdate {
            transaction_id: transaction(id),
            ran_functions_added: (!added.is_empty()).then_some(added),
            ran_functions_modified: (!modified.is_empty()).then_some(modified),
            ran_functions_deleted: (!deleted.is_empty()).then_some(deleted),
        });
        let stream = self.config.stream;
        if let Err(e) = self.send(stream, &pdu) {
            self.transactions.release(id);
            return Err(e.into());
        }
        let deadline = deadline(now, timeout);
        self.timers.arm(deadline, TimerKey::ServiceUpdate);
        self.service_update = Some((Outstanding { transaction: id, deadline }, deleted_ids));
        Ok(())
    }

    /// Announces component configuration changes with E2 NODE CONFIGURATION
    /// UPDATE (the agent's own list changes at once); the outcome arrives as
    /// [`Event::ConfigurationUpdateAcknowledged`],
    /// [`Event::ConfigurationUpdateFailed`] or [`Event::ConfigurationUpdateTimedOut`].
    pub fn configuration_update(
        &mut self,
        now: Instant,
        update: ConfigurationUpdate,
        timeout: Duration,
    ) -> Result<(), NodeError> {
        if !self.is_established() {
            return Err(NodeError::NotSetUp);
        }
        if self.configuration_update.is_some() {
            return Err(NodeError::ProcedureInProgress("E2 node configuration update"));
        }
        let id = self.transactions.allocate().ok_or(NodeError::TransactionIdsExhausted)?;
        let additions: Vec<_> = update.added.iter().map(ComponentConfig::to_addition).collect();
        let updates: Vec<_> = update.updated.iter().map(ComponentConfig::to_update).collect();
        let removals: Vec<_> = update
            .removed
            .iter()
            .map(|k| asn::E2nodeComponentConfigRemovalItem::new(k.interface_type, k.component_id.clone()))
            .collect();
        let pdu = E2apPdu::from(E2NodeConfigurationUpdate {
            transaction_id: transaction(id),
            global_e2_node_id: None,
            component_config_addition: (!additions.is_empty()).then_some(additions),
            component_config_update: (!updates.is_empty()).then_some(updates),
            component_config_removal: (!removals.is_empty()).then_some(removals),
            tnl_association_removal: None,
        });
        let stream = self.config.stream;
        if let Err(e) = self.send(stream, &pdu) {
            self.transactions.release(id);
            return Err(e.into());
        }
        let deadline = deadline(now, timeout);
        self.timers.arm(deadline, TimerKey::ConfigurationUpdate);
        self.configuration_update = Some(Outstanding { transaction: id, deadline });
        for c in update.added.into_iter().chain(update.updated) {
            match self.config.components.iter_mut().find(|x| x.key == c.key) {
                Some(existing) => *existing = c,
                None => self.config.components.push(c),
            }
        }
        self.config.components.retain(|c| !update.removed.contains(&c.key));
        Ok(())
    }

    // ------------------------------------------------------------ internals

    fn send(&mut self, stream: u16, pdu: &E2apPdu) -> Result<(), E2apError> {
        let bytes = pdu.encode()?;
        self.transmits.push_back(Transmit { stream, bytes });
        Ok(())
    }

    /// Queues an answer the agent owes; an encoding failure becomes an [`Event::InternalError`].
    fn answer(&mut self, stream: u16, pdu: E2apPdu) {
        if let Err(e) = self.send(stream, &pdu) {
            self.events.push_back(Event::InternalError { detail: format!("encoding {}: {e}", pdu.name()) });
        }
    }

    fn protocol_error(&mut self, stream: u16, error: ProtocolError) {
        if error.error_indication_sent {
            let before = self.transmits.len();
            self.answer(stream, E2apPdu::from(error.error_indication()));
            if self.transmits.len() > before {
                self.stats.error_indications_sent += 1;
            }
        }
        self.events.push_back(Event::ProtocolError { error });
    }

    fn send_setup(&mut self, now: Instant) {
        if let Some(old) = self.setup_transaction.take() {
            self.transactions.release(old);
        }
        let Some(id) = self.transactions.allocate() else {
            self.events.push_back(Event::InternalError { detail: "no free transaction id for E2 Setup".into() });
            return;
        };
        let ran_functions =
            match self.config.ran_functions.iter().map(RanFunction::to_item).collect::<Result<Vec<_>, _>>() {
                Ok(items) => items,
                Err(e) => {
                    self.events.push_back(Event::InternalError { detail: format!("RAN function: {e}") });
                    return;
                }
            };
        let pdu = E2apPdu::from(E2SetupRequest {
            transaction_id: transaction(id),
            global_e2_node_id: self.config.node_id.0.clone(),
            ran_functions,
            component_config_addition: self.config.components.iter().map(ComponentConfig::to_addition).collect(),
        });
        let stream = self.config.stream;
        self.answer(stream, pdu);
        self.setup_transaction = Some(id);
        let deadline = deadline(now, self.config.setup_timeout);
        self.timers.arm(deadline, TimerKey::Setup);
        self.state = SetupState::SetupPending { deadline };
    }

    /// Clears subscriptions and pending decisions; returns the subscription ids, sorted.
    fn clear_subscriptions(&mut self) -> Vec<RequestId> {
        let mut ids: Vec<RequestId> = self.subscriptions.keys().copied().collect();
        ids.sort_unstable();
        self.subscriptions.clear();
        self.pending_subscriptions.clear();
        self.pending_controls.clear();
        ids
    }

    /// Forgets everything tied to the current association.
    fn clear_association_state(&mut self) -> Vec<RequestId> {
        let ids = self.clear_subscriptions();
        self.timers.clear();
        self.transactions.clear();
        self.transmits.clear();
        self.setup_transaction = None;
        self.reset = None;
        self.service_update = None;
        self.configuration_update = None;
        self.accepted_functions.clear();
        ids
    }
}
