//! What the E2 node agent does with each received message.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use bytes::Bytes;
use qsafe_asn1::e2ap::{
    E2NodeConfigurationUpdateAcknowledge, E2NodeConfigurationUpdateFailure, E2SetupFailure, E2SetupResponse, E2apPdu,
    ErrorIndication, ResetRequest, ResetResponse, RicControlFailure, RicControlRequest, RicServiceQuery,
    RicServiceUpdateAcknowledge, RicServiceUpdateFailure, RicSubscriptionDeleteFailure, RicSubscriptionDeleteRequest,
    RicSubscriptionDeleteResponse, RicSubscriptionFailure, RicSubscriptionRequest,
};
use qsafe_asn1::e2ap_asn as asn;

use super::{
    ControlPolicy, E2NodeAgent, Event, PendingControl, PendingSubscription, SetupState, SubscriptionPolicy, TimerKey,
};
use crate::common::{
    ComponentOutcome, Decoded, ProtocolError, RanFunction, ReceivedErrorIndication, RejectedFunction, RequestId,
    deadline, decode, time_to_wait, transaction_value,
};

fn ric_request_cause(c: asn::CauseRICrequest) -> asn::Cause {
    asn::Cause::ricRequest(c)
}

impl E2NodeAgent {
    pub(super) fn receive(&mut self, now: Instant, stream: u16, bytes: &[u8]) {
        let Decoded { pdu, notify } = match decode(bytes) {
            Ok(d) => d,
            Err(error) => {
                self.stats.pdus_undecodable += 1;
                self.protocol_error(stream, error);
                return;
            }
        };
        let notify = (!notify.is_empty()).then(|| ProtocolError::ignored_and_notified(&pdu, &notify));
        self.dispatch(now, stream, pdu);
        if let Some(error) = notify {
            self.protocol_error(stream, error);
        }
    }

    fn dispatch(&mut self, now: Instant, stream: u16, pdu: E2apPdu) {
        let established = self.is_established();
        match pdu {
            E2apPdu::ErrorIndication(m) => self.on_error_indication(m),
            E2apPdu::E2SetupResponse(m) => self.on_setup_response(now, stream, m),
            E2apPdu::E2SetupFailure(m) => self.on_setup_failure(now, stream, m),
            other if !established => {
                self.protocol_error(stream, ProtocolError::not_compatible(&other, "E2 Setup has not completed"))
            }
            E2apPdu::RicSubscriptionRequest(m) => self.on_subscription_request(stream, m),
            E2apPdu::RicSubscriptionDeleteRequest(m) => self.on_delete_request(stream, m),
            E2apPdu::RicControlRequest(m) => self.on_control_request(stream, m),
            E2apPdu::ResetRequest(m) => self.on_reset_request(stream, m),
            E2apPdu::ResetResponse(m) => self.on_reset_response(stream, m),
            E2apPdu::RicServiceQuery(m) => self.on_service_query(now, m),
            E2apPdu::RicServiceUpdateAcknowledge(m) => self.on_service_update_ack(stream, m),
            E2apPdu::RicServiceUpdateFailure(m) => self.on_service_update_failure(stream, m),
            E2apPdu::E2NodeConfigurationUpdateAcknowledge(m) => self.on_configuration_ack(stream, m),
            E2apPdu::E2NodeConfigurationUpdateFailure(m) => self.on_configuration_failure(stream, m),
            // Messages only an E2 node sends, or answers only a RIC gives.
            other @ (E2apPdu::E2SetupRequest(_)
            | E2apPdu::RicSubscriptionResponse(_)
            | E2apPdu::RicSubscriptionFailure(_)
            | E2apPdu::RicSubscriptionDeleteResponse(_)
            | E2apPdu::RicSubscriptionDeleteFailure(_)
            | E2apPdu::RicSubscriptionDeleteRequired(_)
            | E2apPdu::RicIndication(_)
            | E2apPdu::RicControlAcknowledge(_)
            | E2apPdu::RicControlFailure(_)
            | E2apPdu::RicServiceUpdate(_)
            | E2apPdu::E2NodeConfigurationUpdate(_)) => {
                self.protocol_error(stream, ProtocolError::not_compatible(&other, "not expected by the E2 node role"))
            }
        }
    }

    /// Whether `t` answers the outstanding E2 SETUP REQUEST.
    fn answers_setup(&self, t: &asn::TransactionID) -> bool {
        matches!(self.state, SetupState::SetupPending { .. })
            && self.setup_transaction.is_some()
            && self.setup_transaction == transaction_value(t)
    }

    fn end_setup_wait(&mut self) {
        if let SetupState::SetupPending { deadline } = self.state {
            self.timers.disarm(deadline, TimerKey::Setup);
        }
        if let Some(id) = self.setup_transaction.take() {
            self.transactions.release(id);
        }
    }

    // ------------------------------------------------------------ E2 Setup

    /// An answer whose transaction id matches no outstanding `procedure`.
    fn no_such_transaction(&mut self, stream: u16, pdu: E2apPdu, procedure: &str) {
        let detail = format!("no {procedure} with this transaction id is outstanding");
        self.protocol_error(stream, ProtocolError::not_compatible(&pdu, detail));
    }

    fn on_setup_response(&mut self, now: Instant, stream: u16, m: E2SetupResponse) {
        if !self.answers_setup(&m.transaction_id) {
            self.no_such_transaction(stream, m.into(), "E2 Setup");
            return;
        }
        self.end_setup_wait();
        let (accepted, rejected) = function_outcome(m.ran_functions_accepted, m.ran_functions_rejected);
        self.accepted_functions = accepted.iter().copied().collect();
        self.state = SetupState::Established { ric_id: m.global_ric_id.clone(), since: now };
        self.events.push_back(Event::SetupComplete { ric_id: m.global_ric_id, accepted, rejected });
    }

    fn on_setup_failure(&mut self, now: Instant, stream: u16, m: E2SetupFailure) {
        if !self.answers_setup(&m.transaction_id) {
            self.no_such_transaction(stream, m.into(), "E2 Setup");
            return;
        }
        self.end_setup_wait();
        let wait = m.time_to_wait.map(time_to_wait).or(self.config.setup_retry_delay);
        let retry_at = wait.map(|w| deadline(now, w));
        match retry_at {
            Some(at) => {
                self.timers.arm(at, TimerKey::SetupRetry);
                self.state = SetupState::WaitingToRetry { retry_at: at };
            }
            None => self.state = SetupState::Refused,
        }
        self.events.push_back(Event::SetupFailed { cause: m.cause, retry_at });
    }

    // ------------------------------------------------------------ RIC Subscription

    fn on_subscription_request(&mut self, stream: u16, m: RicSubscriptionRequest) {
        let request = RequestId::from(&m.ric_request_id);
        let ran_function_id = m.ran_function_id.0;
        let refuse = |agent: &mut Self, cause: asn::CauseRICrequest| {
            let failure = RicSubscriptionFailure {
                ric_request_id: m.ric_request_id.clone(),
                ran_function_id: m.ran_function_id.clone(),
                cause: ric_request_cause(cause),
                criticality_diagnostics: None,
            };
            agent.answer(stream, failure.into());
        };
        if !self.accepted_functions.contains(&ran_function_id) {
            refuse(self, asn::CauseRICrequest::ran_function_id_invalid);
            return;
        }
        if self.subscriptions.contains_key(&request) || self.pending_subscriptions.contains_key(&request) {
            refuse(self, asn::CauseRICrequest::duplicate_ric_request_id);
            return;
        }
        let mut ids = HashSet::new();
        if !m.details.actions.iter().all(|a| ids.insert(a.ric_action_id.0)) {
            refuse(self, asn::CauseRICrequest::duplicate_action);
            return;
        }
        let pending = PendingSubscription {
            ran_function_id,
            event_trigger: Bytes::from(m.details.event_trigger_definition),
            actions: m.details.actions,
            stream,
        };
        match self.config.subscription_policy {
            SubscriptionPolicy::AdmitAll => {
                let admitted = pending.actions.iter().map(|a| a.ric_action_id.0).collect();
                if let Err(e) = self.admit(request, pending, admitted, Vec::new()) {
                    self.events.push_back(Event::InternalError { detail: format!("subscription {request}: {e}") });
                }
            }
            SubscriptionPolicy::Ask => {
                self.events.push_back(Event::SubscriptionRequested {
                    request,
                    ran_function_id,
                    event_trigger: pending.event_trigger.clone(),
                    actions: pending.actions.clone(),
                });
                self.pending_subscriptions.insert(request, pending);
            }
        }
    }

    fn on_delete_request(&mut self, stream: u16, m: RicSubscriptionDeleteRequest) {
        let request = RequestId::from(&m.ric_request_id);
        let ran_function_id = m.ran_function_id.0;
        let active = self.subscriptions.get(&request).is_some_and(|s| s.ran_function_id == ran_function_id);
        let pending = self.pending_subscriptions.get(&request).is_some_and(|s| s.ran_function_id == ran_function_id);
        if active || pending {
            self.subscriptions.remove(&request);
            self.pending_subscriptions.remove(&request);
            let response =
                RicSubscriptionDeleteResponse { ric_request_id: m.ric_request_id, ran_function_id: m.ran_function_id };
            self.answer(stream, response.into());
            self.events.push_back(Event::SubscriptionDeleted { request, ran_function_id });
        } else {
            let failure = RicSubscriptionDeleteFailure {
                ric_request_id: m.ric_request_id,
                ran_function_id: m.ran_function_id,
                cause: ric_request_cause(asn::CauseRICrequest::request_id_unknown),
                criticality_diagnostics: None,
            };
            self.answer(stream, failure.into());
        }
    }

    // ------------------------------------------------------------ RIC Control

    fn on_control_request(&mut self, stream: u16, m: RicControlRequest) {
        let request = RequestId::from(&m.ric_request_id);
        let ran_function_id = m.ran_function_id.0;
        let refusal = if !self.accepted_functions.contains(&ran_function_id) {
            Some(asn::CauseRICrequest::ran_function_id_invalid)
        } else if self.pending_controls.contains_key(&request) {
            Some(asn::CauseRICrequest::duplicate_ric_request_id)
        } else {
            None
        };
        if let Some(cause) = refusal {
            let failure = RicControlFailure {
                ric_request_id: m.ric_request_id,
                ran_function_id: m.ran_function_id,
                call_process_id: m.call_process_id,
                cause: ric_request_cause(cause),
                outcome: None,
                criticality_diagnostics: None,
            };
            self.answer(stream, failure.into());
            return;
        }
        // E2AP: without the IE the node acknowledges.
        let ack_requested = !matches!(m.ack_request, Some(asn::RICcontrolAckRequest::noAck));
        let pending =
            PendingControl { ran_function_id, call_process_id: m.call_process_id.clone(), ack_requested, stream };
        let answered = self.config.control_policy == ControlPolicy::AcknowledgeAll;
        self.events.push_back(Event::ControlRequested {
            request,
            ran_function_id,
            header: Bytes::from(m.header.0),
            message: Bytes::from(m.message.0),
            call_process_id: m.call_process_id.map(|c| Bytes::from(c.0)),
            ack_requested,
            answered,
        });
        if answered {
            if let Err(e) = self.acknowledge(request, pending, None) {
                self.events.push_back(Event::InternalError { detail: format!("control {request}: {e}") });
            }
        } else {
            self.pending_controls.insert(request, pending);
        }
    }

    // ------------------------------------------------------------ Error Indication

    fn on_error_indication(&mut self, m: ErrorIndication) {
        self.stats.error_indications_received += 1;
        self.events.push_back(Event::ErrorIndicationReceived { report: ReceivedErrorIndication::from_message(m) });
    }

    // ------------------------------------------------------------ Reset

    fn on_reset_request(&mut self, stream: u16, m: ResetRequest) {
        let subscriptions_cleared = self.clear_subscriptions();
        self.answer(stream, ResetResponse { transaction_id: m.transaction_id, criticality_diagnostics: None }.into());
        self.events.push_back(Event::ResetByRic { cause: m.cause, subscriptions_cleared });
    }

    fn on_reset_response(&mut self, stream: u16, m: ResetResponse) {
        match self.reset {
            Some(o) if Some(o.transaction) == transaction_value(&m.transaction_id) => {
                self.reset = None;
                self.timers.disarm(o.deadline, TimerKey::Reset);
                self.transactions.release(o.transaction);
                self.events.push_back(Event::ResetCompleted);
            }
            _ => {
                self.no_such_transaction(stream, m.into(), "reset");
            }
        }
    }

    // ------------------------------------------------------------ RIC Service Query / Update

    fn on_service_query(&mut self, now: Instant, m: RicServiceQuery) {
        if self.service_update.is_some() {
            self.events.push_back(Event::ServiceQueryReceived { answered: false });
            return;
        }
        // What the RIC believes (id → revision) against what the node has.
        let known: BTreeMap<u16, u16> = m
            .ran_functions_accepted
            .unwrap_or_default()
            .iter()
            .map(|f| (f.ran_function_id.0, f.ran_function_revision.0))
            .collect();
        let mut added = Vec::new();
        let mut modified = Vec::new();
        for f in &self.config.ran_functions {
            match known.get(&f.id) {
                None => added.push(f),
                Some(revision) if *revision != f.revision => modified.push(f),
                Some(_) => {}
            }
        }
        let deleted: Vec<asn::RANfunctionIDItem> = known
            .iter()
            .filter(|(id, _)| !self.config.ran_functions.iter().any(|f| f.id == **id))
            .map(|(id, revision)| {
                asn::RANfunctionIDItem::new(asn::RANfunctionID(*id), asn::RANfunctionRevision(*revision))
            })
            .collect();
        let items = |fs: Vec<&RanFunction>| fs.into_iter().map(RanFunction::to_item).collect::<Result<Vec<_>, _>>();
        let (added, modified) = match (items(added), items(modified)) {
            (Ok(a), Ok(m)) => (a, m),
            (Err(e), _) | (_, Err(e)) => {
                self.events.push_back(Event::InternalError { detail: format!("RAN function: {e}") });
                return;
            }
        };
        let timeout = self.config.procedure_timeout;
        let answered = match self.start_service_update(now, added, modified, deleted, timeout) {
            Ok(()) => true,
            Err(e) => {
                self.events.push_back(Event::InternalError { detail: format!("RIC service update: {e}") });
                false
            }
        };
        self.events.push_back(Event::ServiceQueryReceived { answered });
    }

    /// Ends the outstanding service update if `t` is its transaction id.
    fn take_service_update(&mut self, t: &asn::TransactionID) -> Option<Vec<u16>> {
        match &self.service_update {
            Some((o, _)) if Some(o.transaction) == transaction_value(t) => {
                let (o, deleted) = self.service_update.take()?;
                self.timers.disarm(o.deadline, TimerKey::ServiceUpdate);
                self.transactions.release(o.transaction);
                Some(deleted)
            }
            _ => None,
        }
    }

    fn on_service_update_ack(&mut self, stream: u16, m: RicServiceUpdateAcknowledge) {
        let Some(deleted) = self.take_service_update(&m.transaction_id) else {
            self.no_such_transaction(stream, m.into(), "service update");
            return;
        };
        let (accepted, rejected) = function_outcome(m.ran_functions_accepted, m.ran_functions_rejected);
        for id in &deleted {
            self.accepted_functions.remove(id);
        }
        self.accepted_functions.extend(accepted.iter().copied());
        for r in &rejected {
            self.accepted_functions.remove(&r.id);
        }
        self.events.push_back(Event::ServiceUpdateAcknowledged { accepted, rejected });
    }

    fn on_service_update_failure(&mut self, stream: u16, m: RicServiceUpdateFailure) {
        if self.take_service_update(&m.transaction_id).is_none() {
            self.no_such_transaction(stream, m.into(), "service update");
            return;
        }
        self.events
            .push_back(Event::ServiceUpdateFailed { cause: m.cause, time_to_wait: m.time_to_wait.map(time_to_wait) });
    }

    // ------------------------------------------------------------ E2 Node Configuration Update

    fn take_configuration_update(&mut self, t: &asn::TransactionID) -> bool {
        match self.configuration_update {
            Some(o) if Some(o.transaction) == transaction_value(t) => {
                self.configuration_update = None;
                self.timers.disarm(o.deadline, TimerKey::ConfigurationUpdate);
                self.transactions.release(o.transaction);
                true
            }
            _ => false,
        }
    }

    fn on_configuration_ack(&mut self, stream: u16, m: E2NodeConfigurationUpdateAcknowledge) {
        if !self.take_configuration_update(&m.transaction_id) {
            self.no_such_transaction(stream, m.into(), "configuration update");
            return;
        }
        let mut outcomes = Vec::new();
        for a in m.component_config_addition_ack.unwrap_or_default() {
            outcomes.push(ComponentOutcome::from_ack(
                a.e2node_component_interface_type,
                &a.e2node_component_id,
                &a.e2node_component_configuration_ack,
            ));
        }
        for a in m.component_config_update_ack.unwrap_or_default() {
            outcomes.push(ComponentOutcome::from_ack(
                a.e2node_component_interface_type,
                &a.e2node_component_id,
                &a.e2node_component_configuration_ack,
            ));
        }
        for a in m.component_config_removal_ack.unwrap_or_default() {
            outcomes.push(ComponentOutcome::from_ack(
                a.e2node_component_interface_type,
                &a.e2node_component_id,
                &a.e2node_component_configuration_ack,
            ));
        }
        self.events.push_back(Event::ConfigurationUpdateAcknowledged { outcomes });
    }

    fn on_configuration_failure(&mut self, stream: u16, m: E2NodeConfigurationUpdateFailure) {
        if !self.take_configuration_update(&m.transaction_id) {
            self.no_such_transaction(stream, m.into(), "configuration update");
            return;
        }
        self.events.push_back(Event::ConfigurationUpdateFailed {
            cause: m.cause,
            time_to_wait: m.time_to_wait.map(time_to_wait),
        });
    }
}

/// The RAN function ids a RIC accepted and the ones it rejected (with their
/// causes), from an E2 SETUP RESPONSE or a RIC SERVICE UPDATE ACKNOWLEDGE.
fn function_outcome(
    accepted: Option<Vec<asn::RANfunctionIDItem>>,
    rejected: Option<Vec<asn::RANfunctionIDcauseItem>>,
) -> (Vec<u16>, Vec<RejectedFunction>) {
    let accepted = accepted.unwrap_or_default().iter().map(|f| f.ran_function_id.0).collect();
    let rejected = rejected
        .unwrap_or_default()
        .into_iter()
        .map(|r| RejectedFunction { id: r.ran_function_id.0, cause: r.cause })
        .collect();
    (accepted, rejected)
}
