//! What the RIC does with each received message.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use bytes::Bytes;
use qsafe_asn1::e2ap::{
    E2NodeConfigurationUpdate, E2NodeConfigurationUpdateAcknowledge, E2SetupFailure, E2SetupRequest, E2SetupResponse,
    E2apPdu, ErrorIndication, ResetRequest, ResetResponse, RicControlAcknowledge, RicControlFailure, RicIndication,
    RicServiceUpdate, RicServiceUpdateAcknowledge, RicServiceUpdateFailure, RicSubscriptionDeleteFailure,
    RicSubscriptionDeleteRequired, RicSubscriptionDeleteResponse, RicSubscriptionFailure, RicSubscriptionResponse,
    build,
};
use qsafe_asn1::e2ap_asn as asn;

use super::{AssociationId, DeleteReason, Event, Indication, Ric, SubscriptionState};
use crate::common::{
    ComponentConfig, ComponentKey, ComponentOutcome, Decoded, E2NodeId, NotAdmittedAction, ProtocolError, RanFunction,
    ReceivedErrorIndication, RejectedFunction, RequestId, decode, transaction_value,
};

fn protocol_cause(c: asn::CauseProtocol) -> asn::Cause {
    asn::Cause::protocol(c)
}

impl Ric {
    pub(super) fn receive(&mut self, now: Instant, association: AssociationId, stream: u16, bytes: &[u8]) {
        let Decoded { pdu, notify } = match decode(bytes) {
            Ok(d) => d,
            Err(error) => {
                self.stats.pdus_undecodable += 1;
                self.protocol_error(association, stream, error);
                return;
            }
        };
        let notify = (!notify.is_empty()).then(|| ProtocolError::ignored_and_notified(&pdu, &notify));
        self.dispatch(now, association, stream, pdu);
        if let Some(error) = notify {
            self.protocol_error(association, stream, error);
        }
    }

    fn dispatch(&mut self, now: Instant, a: AssociationId, stream: u16, pdu: E2apPdu) {
        let set_up = self.associations.get(&a).is_some_and(|x| x.node.is_some());
        match pdu {
            // The hot path first.
            E2apPdu::RicIndication(m) if set_up => self.on_indication(a, stream, m),
            E2apPdu::E2SetupRequest(m) => self.on_setup_request(now, a, stream, m),
            E2apPdu::ErrorIndication(m) => self.on_error_indication(a, m),
            other if !set_up => {
                self.protocol_error(a, stream, ProtocolError::not_compatible(&other, "received before E2 Setup"))
            }
            E2apPdu::RicSubscriptionResponse(m) => self.on_subscription_response(a, stream, m),
            E2apPdu::RicSubscriptionFailure(m) => self.on_subscription_failure(a, stream, m),
            E2apPdu::RicSubscriptionDeleteResponse(m) => self.on_delete_response(a, stream, m),
            E2apPdu::RicSubscriptionDeleteFailure(m) => self.on_delete_failure(a, stream, m),
            E2apPdu::RicSubscriptionDeleteRequired(m) => self.on_delete_required(now, a, m),
            E2apPdu::RicControlAcknowledge(m) => self.on_control_ack(a, stream, m),
            E2apPdu::RicControlFailure(m) => self.on_control_failure(a, stream, m),
            E2apPdu::ResetRequest(m) => self.on_reset_request(a, stream, m),
            E2apPdu::ResetResponse(m) => self.on_reset_response(a, stream, m),
            E2apPdu::RicServiceUpdate(m) => self.on_service_update(a, stream, m),
            E2apPdu::E2NodeConfigurationUpdate(m) => self.on_configuration_update(a, stream, m),
            // Messages only a RIC sends, or answers to procedures only an E2 node answers.
            other @ (E2apPdu::RicIndication(_)
            | E2apPdu::E2SetupResponse(_)
            | E2apPdu::E2SetupFailure(_)
            | E2apPdu::RicSubscriptionRequest(_)
            | E2apPdu::RicSubscriptionDeleteRequest(_)
            | E2apPdu::RicControlRequest(_)
            | E2apPdu::RicServiceUpdateAcknowledge(_)
            | E2apPdu::RicServiceUpdateFailure(_)
            | E2apPdu::RicServiceQuery(_)
            | E2apPdu::E2NodeConfigurationUpdateAcknowledge(_)
            | E2apPdu::E2NodeConfigurationUpdateFailure(_)) => {
                self.protocol_error(a, stream, ProtocolError::not_compatible(&other, "not expected by the RIC role"))
            }
        }
    }

    fn node_of(&self, a: AssociationId) -> Option<E2NodeId> {
        self.associations.get(&a).and_then(|x| x.node.clone())
    }

    // ------------------------------------------------------------ E2 Setup

    fn on_setup_request(&mut self, now: Instant, a: AssociationId, stream: u16, m: E2SetupRequest) {
        let node = E2NodeId(m.global_e2_node_id.clone());
        let refuse = |ric: &mut Self, cause: asn::Cause, time_to_wait: Option<asn::TimeToWait>| {
            let failure = E2SetupFailure {
                transaction_id: m.transaction_id.clone(),
                cause: cause.clone(),
                time_to_wait,
                criticality_diagnostics: None,
                tnl_information: None,
            };
            ric.answer(a, stream, failure.into());
            ric.events.push_back(Event::E2SetupRejected { association: a, node: node.clone(), cause });
        };
        if self.associations.get(&a).is_some_and(|x| x.node.is_some()) {
            refuse(self, protocol_cause(asn::CauseProtocol::message_not_compatible_with_receiver_state), None);
            return;
        }
        if self.barred.contains(&node) {
            let ttw = Some(self.config.barred_time_to_wait);
            refuse(self, asn::Cause::misc(asn::CauseMisc::om_intervention), ttw);
            return;
        }
        let connected_elsewhere =
            self.registry.get(&node).and_then(|n| n.association()).is_some_and(|other| other != a);
        if connected_elsewhere {
            let ttw = self.config.duplicate_setup_time_to_wait;
            refuse(self, protocol_cause(asn::CauseProtocol::message_not_compatible_with_receiver_state), ttw);
            return;
        }
        let mut seen = HashSet::new();
        if !m.ran_functions.iter().all(|f| seen.insert(f.ran_function_id.0)) {
            refuse(self, protocol_cause(asn::CauseProtocol::semantic_error), None);
            return;
        }
        let mut accepted = BTreeMap::new();
        let mut rejected = Vec::new();
        for item in &m.ran_functions {
            let function = RanFunction::from_item(item);
            if self.config.function_acceptance.accepts(&function.oid) {
                accepted.insert(function.id, function);
            } else {
                rejected.push(RejectedFunction {
                    id: function.id,
                    cause: asn::Cause::ricService(asn::CauseRICservice::ran_function_not_supported),
                });
            }
        }
        let components: Vec<ComponentConfig> =
            m.component_config_addition.iter().map(ComponentConfig::from_addition).collect();
        let accepted_items: Vec<asn::RANfunctionIDItem> = accepted.values().map(RanFunction::id_item).collect();
        let rejected_items: Vec<asn::RANfunctionIDcauseItem> = rejected
            .iter()
            .map(|r| asn::RANfunctionIDcauseItem::new(asn::RANfunctionID(r.id), r.cause.clone()))
            .collect();
        let response = E2SetupResponse {
            transaction_id: m.transaction_id.clone(),
            global_ric_id: self.config.global_ric_id.clone(),
            ran_functions_accepted: (!accepted_items.is_empty()).then_some(accepted_items),
            ran_functions_rejected: (!rejected_items.is_empty()).then_some(rejected_items),
            component_config_addition_ack: m.component_config_addition.iter().map(build::component_ack).collect(),
        };
        if !self.answer(a, stream, response.into()) {
            return;
        }
        let accepted_ids: Vec<u16> = accepted.keys().copied().collect();
        let reconnected = self.registry.record_setup(&node, a, now, accepted, components);
        if let Some(assoc) = self.associations.get_mut(&a) {
            assoc.node = Some(node.clone());
            if let Some(deadline) = assoc.setup_deadline.take() {
                self.timers.disarm(deadline, super::TimerKey::SetupWait(a));
            }
        }
        self.events.push_back(Event::NodeConnected {
            node,
            association: a,
            accepted: accepted_ids,
            rejected,
            reconnected,
        });
    }

    // ------------------------------------------------------------ RIC Indication

    fn on_indication(&mut self, a: AssociationId, stream: u16, m: RicIndication) {
        let id = RequestId::from(&m.ric_request_id);
        let verdict = match self.subscriptions.get(&id) {
            Some(s) if s.association == a && s.ran_function_id == m.ran_function_id.0 => match &s.state {
                SubscriptionState::Deleting { reason: DeleteReason::AfterTimeout, .. } => Some(false),
                _ => Some(true),
            },
            _ => None,
        };
        match verdict {
            Some(true) => {
                self.stats.indications_delivered += 1;
                self.events.push_back(Event::Indication(Indication {
                    association: a,
                    subscription: id,
                    ran_function_id: m.ran_function_id.0,
                    action_id: m.action_id.0,
                    sn: m.sn.map(|s| s.0),
                    indication_type: m.indication_type,
                    header: Bytes::from(m.header.0),
                    message: Bytes::from(m.message.0),
                    call_process_id: m.call_process_id.map(|c| Bytes::from(c.0)),
                }));
            }
            Some(false) => self.stats.indications_dropped += 1,
            None => {
                let resetting = self.associations.get(&a).is_some_and(|x| x.reset.is_some());
                if resetting {
                    self.stats.indications_dropped += 1;
                } else {
                    self.stats.indications_unknown += 1;
                    let detail = format!("no subscription {id} for RAN function {}", m.ran_function_id.0);
                    let error = ProtocolError::request_id_unknown(&E2apPdu::RicIndication(m), detail);
                    self.protocol_error(a, stream, error);
                }
            }
        }
    }

    // ------------------------------------------------------------ RIC Subscription

    /// The live subscription `id` of association `a` on RAN function `f`, if any.
    fn own_subscription(&self, a: AssociationId, id: RequestId, f: u16) -> Option<&super::Subscription> {
        self.subscriptions.get(&id).filter(|s| s.association == a && s.ran_function_id == f)
    }

    fn on_subscription_response(&mut self, a: AssociationId, stream: u16, m: RicSubscriptionResponse) {
        let id = RequestId::from(&m.ric_request_id);
        let state = self.own_subscription(a, id, m.ran_function_id.0).map(|s| s.state.clone());
        match state {
            Some(SubscriptionState::Requested { deadline }) => {
                self.timers.disarm(deadline, super::TimerKey::Subscription(id));
                let admitted: Vec<u8> = m.actions_admitted.iter().map(|x| x.ric_action_id.0).collect();
                let not_admitted: Vec<NotAdmittedAction> = m
                    .actions_not_admitted
                    .unwrap_or_default()
                    .into_iter()
                    .map(|x| NotAdmittedAction { action_id: x.ric_action_id.0, cause: x.cause })
                    .collect();
                if let Some(sub) = self.subscriptions.get_mut(&id) {
                    sub.state = SubscriptionState::Established;
                    sub.admitted = admitted.clone();
                    sub.not_admitted = not_admitted.clone();
                    self.events.push_back(Event::SubscriptionEstablished {
                        subscription: id,
                        node: sub.node.clone(),
                        ran_function_id: sub.ran_function_id,
                        admitted,
                        not_admitted,
                    });
                }
            }
            // A late answer: the subscription is being deleted already.
            Some(SubscriptionState::Deleting { .. }) => {}
            Some(SubscriptionState::Established) => self.unexpected_subscription_answer(a, stream, m.into(), id, true),
            None => self.unexpected_subscription_answer(a, stream, m.into(), id, false),
        }
    }

    fn on_subscription_failure(&mut self, a: AssociationId, stream: u16, m: RicSubscriptionFailure) {
        let id = RequestId::from(&m.ric_request_id);
        let state = self.own_subscription(a, id, m.ran_function_id.0).map(|s| s.state.clone());
        match state {
            Some(SubscriptionState::Requested { .. }) => {
                if let Some(sub) = self.remove_subscription(id) {
                    self.events.push_back(Event::SubscriptionFailed {
                        subscription: id,
                        node: sub.node,
                        ran_function_id: sub.ran_function_id,
                        cause: m.cause,
                        diagnostics: m.criticality_diagnostics,
                    });
                }
            }
            Some(SubscriptionState::Deleting { .. }) => {}
            Some(SubscriptionState::Established) => self.unexpected_subscription_answer(a, stream, m.into(), id, true),
            None => self.unexpected_subscription_answer(a, stream, m.into(), id, false),
        }
    }

    /// A RIC SUBSCRIPTION RESPONSE/FAILURE that answers nothing pending: for
    /// an established subscription it is not compatible with the state, for
    /// an unknown request id the id is unknown.
    fn unexpected_subscription_answer(
        &mut self,
        a: AssociationId,
        stream: u16,
        pdu: E2apPdu,
        id: RequestId,
        established: bool,
    ) {
        let error = if established {
            ProtocolError::not_compatible(&pdu, format!("subscription {id} is already established"))
        } else {
            ProtocolError::request_id_unknown(&pdu, format!("no subscription request {id}"))
        };
        self.protocol_error(a, stream, error);
    }

    /// A RIC SUBSCRIPTION DELETE answer for `id` that matches no outstanding
    /// delete: of a subscription that `exists` but is not being deleted, or
    /// of none at all.
    fn unexpected_delete_answer(&mut self, a: AssociationId, stream: u16, pdu: E2apPdu, id: RequestId, exists: bool) {
        let error = if exists {
            ProtocolError::not_compatible(&pdu, format!("no delete of {id} outstanding"))
        } else {
            ProtocolError::request_id_unknown(&pdu, format!("no subscription {id}"))
        };
        self.protocol_error(a, stream, error);
    }

    fn on_delete_response(&mut self, a: AssociationId, stream: u16, m: RicSubscriptionDeleteResponse) {
        let id = RequestId::from(&m.ric_request_id);
        let state = self.own_subscription(a, id, m.ran_function_id.0).map(|s| s.state.clone());
        match state {
            Some(SubscriptionState::Deleting { reason, .. }) => {
                let removed = self.remove_subscription(id);
                if let Some(sub) = removed.filter(|_| reason != DeleteReason::AfterTimeout) {
                    self.events.push_back(Event::SubscriptionDeleted { subscription: id, node: sub.node, reason });
                }
            }
            other => self.unexpected_delete_answer(a, stream, m.into(), id, other.is_some()),
        }
    }

    fn on_delete_failure(&mut self, a: AssociationId, stream: u16, m: RicSubscriptionDeleteFailure) {
        let id = RequestId::from(&m.ric_request_id);
        let state = self.own_subscription(a, id, m.ran_function_id.0).map(|s| s.state.clone());
        match state {
            Some(SubscriptionState::Deleting { reason, deadline }) => {
                let unknown_at_node = m.cause == asn::Cause::ricRequest(asn::CauseRICrequest::request_id_unknown);
                if unknown_at_node || reason == DeleteReason::AfterTimeout {
                    let removed = self.remove_subscription(id);
                    if let Some(sub) = removed.filter(|_| reason != DeleteReason::AfterTimeout) {
                        self.events.push_back(Event::SubscriptionDeleteFailed {
                            subscription: id,
                            node: sub.node,
                            cause: m.cause,
                            still_active: false,
                        });
                    }
                } else {
                    self.timers.disarm(deadline, super::TimerKey::Subscription(id));
                    if let Some(sub) = self.subscriptions.get_mut(&id) {
                        sub.state = SubscriptionState::Established;
                        self.events.push_back(Event::SubscriptionDeleteFailed {
                            subscription: id,
                            node: sub.node.clone(),
                            cause: m.cause,
                            still_active: true,
                        });
                    }
                }
            }
            other => self.unexpected_delete_answer(a, stream, m.into(), id, other.is_some()),
        }
    }

    fn on_delete_required(&mut self, now: Instant, a: AssociationId, m: RicSubscriptionDeleteRequired) {
        for item in m.subscriptions {
            let id = RequestId::from(&item.ric_request_id);
            let Some(sub) = self.own_subscription(a, id, item.ran_function_id.0) else { continue };
            if matches!(sub.state, SubscriptionState::Deleting { .. }) {
                continue;
            }
            let node = sub.node.clone();
            let timeout = self.config.internal_delete_timeout;
            match self.start_delete(now, id, DeleteReason::RequiredByNode(item.cause.clone()), timeout) {
                Ok(()) => self.events.push_back(Event::SubscriptionDeleteRequired {
                    subscription: id,
                    node,
                    cause: item.cause,
                }),
                Err(e) => self.events.push_back(Event::InternalError {
                    association: a,
                    detail: format!("encoding the delete request of {id}: {e}"),
                }),
            }
        }
    }

    // ------------------------------------------------------------ RIC Control

    fn on_control_ack(&mut self, a: AssociationId, stream: u16, m: RicControlAcknowledge) {
        let id = RequestId::from(&m.ric_request_id);
        let ours =
            self.controls.get(&id).is_some_and(|c| c.association == a && c.ran_function_id == m.ran_function_id.0);
        if !ours {
            let error = ProtocolError::request_id_unknown(&m.into(), format!("no control request {id} awaits an ack"));
            self.protocol_error(a, stream, error);
            return;
        }
        if let Some(c) = self.remove_control(id) {
            self.events.push_back(Event::ControlAcknowledged {
                request: id,
                node: c.node,
                ran_function_id: c.ran_function_id,
                call_process_id: m.call_process_id.map(|x| Bytes::from(x.0)),
                outcome: m.outcome.map(|x| Bytes::from(x.0)),
            });
        }
    }

    fn on_control_failure(&mut self, a: AssociationId, stream: u16, m: RicControlFailure) {
        let id = RequestId::from(&m.ric_request_id);
        let pending =
            self.controls.get(&id).is_some_and(|c| c.association == a && c.ran_function_id == m.ran_function_id.0);
        let node = if pending {
            self.remove_control(id).map(|c| c.node)
        } else if id.requestor == self.config.requestor_id {
            // A control sent without an ack request may still fail.
            self.node_of(a)
        } else {
            None
        };
        match node {
            Some(node) => self.events.push_back(Event::ControlFailed {
                request: id,
                node,
                ran_function_id: m.ran_function_id.0,
                cause: m.cause,
                call_process_id: m.call_process_id.map(|x| Bytes::from(x.0)),
                outcome: m.outcome.map(|x| Bytes::from(x.0)),
            }),
            None => {
                let error = ProtocolError::request_id_unknown(&m.into(), format!("no control request {id}"));
                self.protocol_error(a, stream, error);
            }
        }
    }

    // ------------------------------------------------------------ Error Indication

    fn on_error_indication(&mut self, a: AssociationId, m: ErrorIndication) {
        self.stats.error_indications_received += 1;
        let report = ReceivedErrorIndication::from_message(m);
        let node = self.node_of(a);
        // An Error Indication naming a pending request ends it.
        if let (Some(id), Some(node)) = (report.refs.request_id, node.clone()) {
            let cause = report.cause.clone().unwrap_or(asn::Cause::misc(asn::CauseMisc::unspecified));
            let pending_control = self.controls.get(&id).is_some_and(|c| c.association == a);
            let requested = self
                .subscriptions
                .get(&id)
                .is_some_and(|s| s.association == a && matches!(s.state, SubscriptionState::Requested { .. }));
            if requested {
                if let Some(sub) = self.remove_subscription(id) {
                    self.events.push_back(Event::SubscriptionFailed {
                        subscription: id,
                        node: sub.node,
                        ran_function_id: sub.ran_function_id,
                        cause: cause.clone(),
                        diagnostics: report.diagnostics.clone(),
                    });
                }
            } else if let Some(c) = pending_control.then(|| self.remove_control(id)).flatten() {
                self.events.push_back(Event::ControlFailed {
                    request: id,
                    node,
                    ran_function_id: c.ran_function_id,
                    cause,
                    call_process_id: None,
                    outcome: None,
                });
            }
        }
        self.events.push_back(Event::ErrorIndicationReceived { association: a, node: self.node_of(a), report });
    }

    // ------------------------------------------------------------ Reset

    fn on_reset_request(&mut self, a: AssociationId, stream: u16, m: ResetRequest) {
        let (subscriptions_cleared, controls_aborted) = self.clear_association(a);
        let response = ResetResponse { transaction_id: m.transaction_id, criticality_diagnostics: None };
        self.answer(a, stream, response.into());
        if let Some(node) = self.node_of(a) {
            self.events.push_back(Event::ResetByNode { node, cause: m.cause, subscriptions_cleared, controls_aborted });
        }
    }

    fn on_reset_response(&mut self, a: AssociationId, stream: u16, m: ResetResponse) {
        let transaction = transaction_value(&m.transaction_id);
        let Some(assoc) = self.associations.get_mut(&a) else { return };
        let matches = assoc.reset.as_ref().is_some_and(|r| Some(r.transaction) == transaction);
        if !matches {
            let error = ProtocolError::not_compatible(&m.into(), "no reset with this transaction id is outstanding");
            self.protocol_error(a, stream, error);
            return;
        }
        if let Some(reset) = assoc.reset.take() {
            assoc.transactions.release(reset.transaction);
            self.timers.disarm(reset.deadline, super::TimerKey::Reset(a));
            if let Some(node) = assoc.node.clone() {
                self.events.push_back(Event::ResetCompleted {
                    node,
                    subscriptions_cleared: reset.subscriptions_cleared,
                    controls_aborted: reset.controls_aborted,
                });
            }
        }
    }

    // ------------------------------------------------------------ RIC Service Update

    fn on_service_update(&mut self, a: AssociationId, stream: u16, m: RicServiceUpdate) {
        let Some(node) = self.node_of(a) else { return };
        let added = m.ran_functions_added.clone().unwrap_or_default();
        let modified = m.ran_functions_modified.clone().unwrap_or_default();
        let deleted = m.ran_functions_deleted.clone().unwrap_or_default();
        let mut seen = HashSet::new();
        let consistent = added
            .iter()
            .map(|f| f.ran_function_id.0)
            .chain(modified.iter().map(|f| f.ran_function_id.0))
            .chain(deleted.iter().map(|f| f.ran_function_id.0))
            .all(|id| seen.insert(id));
        if !consistent {
            let cause = protocol_cause(asn::CauseProtocol::semantic_error);
            let failure = RicServiceUpdateFailure {
                transaction_id: m.transaction_id,
                cause: cause.clone(),
                time_to_wait: None,
                criticality_diagnostics: None,
            };
            self.answer(a, stream, failure.into());
            self.events.push_back(Event::ServiceUpdateRefused { node, cause });
            return;
        }
        let not_supported = || asn::Cause::ricService(asn::CauseRICservice::ran_function_not_supported);
        let policy = self.config.function_acceptance.clone();
        let Some(info) = self.registry.get_mut(&node) else { return };
        let mut accepted_items = Vec::new();
        let mut rejected = Vec::new();
        let (mut added_ids, mut modified_ids, mut deleted_ids) = (Vec::new(), Vec::new(), Vec::new());
        for item in &added {
            let f = RanFunction::from_item(item);
            if policy.accepts(&f.oid) {
                accepted_items.push(f.id_item());
                added_ids.push(f.id);
                info.ran_functions.insert(f.id, f);
            } else {
                rejected.push(RejectedFunction { id: f.id, cause: not_supported() });
            }
        }
        for item in &modified {
            let f = RanFunction::from_item(item);
            if policy.accepts(&f.oid) && info.ran_functions.contains_key(&f.id) {
                accepted_items.push(f.id_item());
                modified_ids.push(f.id);
                info.ran_functions.insert(f.id, f);
            } else {
                rejected.push(RejectedFunction { id: f.id, cause: not_supported() });
            }
        }
        for item in &deleted {
            if info.ran_functions.remove(&item.ran_function_id.0).is_some() {
                deleted_ids.push(item.ran_function_id.0);
            }
        }
        let rejected_items: Vec<asn::RANfunctionIDcauseItem> = rejected
            .iter()
            .map(|r| asn::RANfunctionIDcauseItem::new(asn::RANfunctionID(r.id), r.cause.clone()))
            .collect();
        let ack = RicServiceUpdateAcknowledge {
            transaction_id: m.transaction_id,
            ran_functions_accepted: (!accepted_items.is_empty()).then_some(accepted_items),
            ran_functions_rejected: (!rejected_items.is_empty()).then_some(rejected_items),
        };
        self.answer(a, stream, ack.into());
        self.events.push_back(Event::ServiceUpdated {
            node,
            added: added_ids,
            modified: modified_ids,
            deleted: deleted_ids,
            rejected,
        });
    }

    // ------------------------------------------------------------ E2 Node Configuration Update

    fn on_configuration_update(&mut self, a: AssociationId, stream: u16, m: E2NodeConfigurationUpdate) {
        let Some(node) = self.node_of(a) else { return };
        let Some(info) = self.registry.get_mut(&node) else { return };
        let unknown = || asn::Cause::e2Node(asn::CauseE2node::e2node_component_unknown);
        let outcome =
            |key: &ComponentKey, ok: bool| ComponentOutcome { key: key.clone(), failure: (!ok).then(unknown) };
        let (mut added, mut updated, mut removed, mut failed) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());

        let mut addition_acks = Vec::new();
        for item in m.component_config_addition.unwrap_or_default() {
            let config = ComponentConfig::from_addition(&item);
            let o = outcome(&config.key, true);
            addition_acks.push(asn::E2nodeComponentConfigAdditionAckItem::new(
                item.e2node_component_interface_type,
                item.e2node_component_id,
                o.ack(),
            ));
            added.push(config.key.clone());
            info.upsert_component(config);
        }
        let mut update_acks = Vec::new();
        for item in m.component_config_update.unwrap_or_default() {
            let config = ComponentConfig::from_update(&item);
            let key = config.key.clone();
            let ok = info.replace_component(config);
            let o = outcome(&key, ok);
            update_acks.push(asn::E2nodeComponentConfigUpdateAckItem::new(
                item.e2node_component_interface_type,
                item.e2node_component_id,
                o.ack(),
            ));
            if ok { updated.push(key) } else { failed.push(o) }
        }
        let mut removal_acks = Vec::new();
        for item in m.component_config_removal.unwrap_or_default() {
            let key = ComponentKey {
                interface_type: item.e2node_component_interface_type,
                component_id: item.e2node_component_id.clone(),
            };
            let ok = info.remove_component(&key);
            let o = outcome(&key, ok);
            removal_acks.push(asn::E2nodeComponentConfigRemovalAckItem::new(
                item.e2node_component_interface_type,
                item.e2node_component_id,
                o.ack(),
            ));
            if ok { removed.push(key) } else { failed.push(o) }
        }
        let ack = E2NodeConfigurationUpdateAcknowledge {
            transaction_id: m.transaction_id,
            component_config_addition_ack: (!addition_acks.is_empty()).then_some(addition_acks),
            component_config_update_ack: (!update_acks.is_empty()).then_some(update_acks),
            component_config_removal_ack: (!removal_acks.is_empty()).then_some(removal_acks),
        };
        self.answer(a, stream, ack.into());
        self.events.push_back(Event::NodeConfigurationUpdated { node, added, updated, removed, failed });
    }
}
