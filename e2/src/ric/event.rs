//! What the RIC reports to its application ([`super::Ric::poll_event`]).

use bytes::Bytes;
use qsafe_asn1::e2ap_asn as asn;

use crate::common::{
    ComponentKey, ComponentOutcome, E2NodeId, NotAdmittedAction, ProtocolError, ReceivedErrorIndication,
    RejectedFunction, RequestId,
};

use super::AssociationId;

/// Why a subscription is being (or was) deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteReason {
    /// The application called [`super::Ric::unsubscribe`].
    Requested,
    /// The node sent RIC SUBSCRIPTION DELETE REQUIRED with this cause.
    RequiredByNode(asn::Cause),
    /// The subscription request timed out; the RIC deletes whatever the
    /// node may have set up. No further event is emitted for it.
    AfterTimeout,
}

/// A RIC INDICATION for a live subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indication {
    /// The association it arrived on.
    pub association: AssociationId,
    /// The subscription (its RIC request id).
    pub subscription: RequestId,
    /// `ranFunctionID`.
    pub ran_function_id: u16,
    /// `ricActionID`.
    pub action_id: u8,
    /// `ricIndicationSN`, if the node sends one.
    pub sn: Option<u16>,
    /// Report or insert.
    pub indication_type: asn::RICindicationType,
    /// `ricIndicationHeader` (E2SM-defined, e.g. an E2SM-KPM indication header).
    pub header: Bytes,
    /// `ricIndicationMessage` (E2SM-defined).
    pub message: Bytes,
    /// `ricCallProcessID`, for insert indications.
    pub call_process_id: Option<Bytes>,
}

/// An outcome of a RIC procedure or a change in the RIC's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A node completed E2 Setup.
    NodeConnected {
        /// The node.
        node: E2NodeId,
        /// Its association.
        association: AssociationId,
        /// RAN function ids accepted.
        accepted: Vec<u16>,
        /// RAN functions rejected, with causes.
        rejected: Vec<RejectedFunction>,
        /// Whether the node was known before (an E2 Setup after a lost association).
        reconnected: bool,
    },
    /// The RIC answered an E2 Setup Request with E2 Setup Failure.
    E2SetupRejected {
        /// The association the request came on.
        association: AssociationId,
        /// The node id it claimed.
        node: E2NodeId,
        /// The cause sent.
        cause: asn::Cause,
    },
    /// No E2 Setup succeeded on a new association within
    /// [`super::RicConfig::setup_wait`]; the driver should close it (and
    /// report [`super::Ric::connection_lost`]).
    SetupWaitExpired {
        /// The association.
        association: AssociationId,
    },
    /// A set-up node's association was lost; its subscriptions and control
    /// requests are gone, the node stays in the registry as disconnected.
    NodeDisconnected {
        /// The node.
        node: E2NodeId,
        /// The association that was lost.
        association: AssociationId,
        /// Subscriptions that ended with it.
        subscriptions_lost: Vec<RequestId>,
        /// Control requests that were awaiting an answer.
        controls_lost: Vec<RequestId>,
    },
    /// RIC SUBSCRIPTION RESPONSE.
    SubscriptionEstablished {
        /// The subscription.
        subscription: RequestId,
        /// Its node.
        node: E2NodeId,
        /// Its RAN function.
        ran_function_id: u16,
        /// Admitted action ids.
        admitted: Vec<u8>,
        /// Actions not admitted, with causes.
        not_admitted: Vec<NotAdmittedAction>,
    },
    /// RIC SUBSCRIPTION FAILURE (or an Error Indication about the request).
    SubscriptionFailed {
        /// The subscription (its request id is free again).
        subscription: RequestId,
        /// Its node.
        node: E2NodeId,
        /// Its RAN function.
        ran_function_id: u16,
        /// The node's cause.
        cause: asn::Cause,
        /// The node's criticality diagnostics, if any.
        diagnostics: Option<asn::CriticalityDiagnostics>,
    },
    /// No answer to a subscription request before its deadline. The RIC
    /// deletes whatever the node may have set up; the request id stays
    /// reserved until that delete finishes.
    SubscriptionTimedOut {
        /// The subscription.
        subscription: RequestId,
        /// Its node.
        node: E2NodeId,
        /// Its RAN function.
        ran_function_id: u16,
    },
    /// The node sent RIC SUBSCRIPTION DELETE REQUIRED for this subscription;
    /// the RIC has sent the delete request.
    SubscriptionDeleteRequired {
        /// The subscription.
        subscription: RequestId,
        /// Its node.
        node: E2NodeId,
        /// The node's cause.
        cause: asn::Cause,
    },
    /// RIC SUBSCRIPTION DELETE RESPONSE: the subscription is gone.
    SubscriptionDeleted {
        /// The subscription (its request id is free again).
        subscription: RequestId,
        /// Its node.
        node: E2NodeId,
        /// Why it was deleted.
        reason: DeleteReason,
    },
    /// RIC SUBSCRIPTION DELETE FAILURE.
    SubscriptionDeleteFailed {
        /// The subscription.
        subscription: RequestId,
        /// Its node.
        node: E2NodeId,
        /// The node's cause.
        cause: asn::Cause,
        /// `false` when the node does not know the request id (the RIC
        /// forgets the subscription too), `true` otherwise (it stays established).
        still_active: bool,
    },
    /// No answer to a delete request before its deadline.
    SubscriptionDeleteTimedOut {
        /// The subscription.
        subscription: RequestId,
        /// Its node.
        node: E2NodeId,
        /// `true` for an application delete (the subscription stays
        /// established; retry or reset), `false` for a delete the node
        /// required (the RIC forgets it).
        still_active: bool,
    },
    /// A RIC INDICATION for a live subscription.
    Indication(Indication),
    /// RIC CONTROL ACKNOWLEDGE.
    ControlAcknowledged {
        /// The control request.
        request: RequestId,
        /// Its node.
        node: E2NodeId,
        /// Its RAN function.
        ran_function_id: u16,
        /// `ricCallProcessID`, if echoed.
        call_process_id: Option<Bytes>,
        /// `ricControlOutcome` (E2SM-defined), if any.
        outcome: Option<Bytes>,
    },
    /// RIC CONTROL FAILURE (also for a request sent without an ack request,
    /// or an Error Indication about the request).
    ControlFailed {
        /// The control request.
        request: RequestId,
        /// Its node.
        node: E2NodeId,
        /// Its RAN function.
        ran_function_id: u16,
        /// The node's cause.
        cause: asn::Cause,
        /// `ricCallProcessID`, if echoed.
        call_process_id: Option<Bytes>,
        /// `ricControlOutcome`, if any.
        outcome: Option<Bytes>,
    },
    /// No answer to a control request (with ack requested) before its deadline.
    ControlTimedOut {
        /// The control request.
        request: RequestId,
        /// Its node.
        node: E2NodeId,
        /// Its RAN function.
        ran_function_id: u16,
    },
    /// The node reset the E2 association: the RIC cleared its subscriptions
    /// and answered RESET RESPONSE.
    ResetByNode {
        /// The node.
        node: E2NodeId,
        /// The node's cause.
        cause: asn::Cause,
        /// Subscriptions cleared.
        subscriptions_cleared: Vec<RequestId>,
        /// Control requests that were awaiting an answer.
        controls_aborted: Vec<RequestId>,
    },
    /// RESET RESPONSE to [`super::Ric::reset`].
    ResetCompleted {
        /// The node.
        node: E2NodeId,
        /// Subscriptions cleared when the reset was sent.
        subscriptions_cleared: Vec<RequestId>,
        /// Control requests aborted when the reset was sent.
        controls_aborted: Vec<RequestId>,
    },
    /// No RESET RESPONSE before the deadline (local state was cleared anyway).
    ResetTimedOut {
        /// The node.
        node: E2NodeId,
    },
    /// RIC SERVICE UPDATE processed and acknowledged; the registry changed.
    ServiceUpdated {
        /// The node.
        node: E2NodeId,
        /// RAN function ids added.
        added: Vec<u16>,
        /// RAN function ids modified.
        modified: Vec<u16>,
        /// RAN function ids deleted.
        deleted: Vec<u16>,
        /// Functions rejected.
        rejected: Vec<RejectedFunction>,
    },
    /// RIC SERVICE UPDATE refused with RIC SERVICE UPDATE FAILURE (inconsistent lists).
    ServiceUpdateRefused {
        /// The node.
        node: E2NodeId,
        /// The cause sent.
        cause: asn::Cause,
    },
    /// E2 NODE CONFIGURATION UPDATE processed and acknowledged; the registry changed.
    NodeConfigurationUpdated {
        /// The node.
        node: E2NodeId,
        /// Components added (or replaced).
        added: Vec<ComponentKey>,
        /// Components updated.
        updated: Vec<ComponentKey>,
        /// Components removed.
        removed: Vec<ComponentKey>,
        /// Components whose update or removal failed (unknown component).
        failed: Vec<ComponentOutcome>,
    },
    /// The peer sent an ERROR INDICATION.
    ErrorIndicationReceived {
        /// The association.
        association: AssociationId,
        /// The node, if set up.
        node: Option<E2NodeId>,
        /// What it said.
        report: ReceivedErrorIndication,
    },
    /// The peer sent a PDU the RIC could not accept (or accepted while
    /// ignoring IEs); an Error Indication went back unless noted otherwise.
    ProtocolError {
        /// The association.
        association: AssociationId,
        /// The node, if set up.
        node: Option<E2NodeId>,
        /// What was wrong and what was answered.
        error: ProtocolError,
    },
    /// The RIC could not encode one of its own answers (a bug or a value out
    /// of range); nothing was sent.
    InternalError {
        /// The association.
        association: AssociationId,
        /// What failed.
        detail: String,
    },
}
