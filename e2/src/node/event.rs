//! What the E2 node agent reports to its application ([`super::E2NodeAgent::poll_event`]).

use std::time::{Duration, Instant};

use bytes::Bytes;
use qsafe_asn1::e2ap_asn as asn;

use crate::common::{ComponentOutcome, ProtocolError, ReceivedErrorIndication, RejectedFunction, RequestId};

/// An outcome of an E2 node procedure or a request from the RIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// E2 SETUP RESPONSE: the node is set up.
    SetupComplete {
        /// The RIC's global id.
        ric_id: asn::GlobalRICID,
        /// RAN function ids the RIC accepted.
        accepted: Vec<u16>,
        /// RAN functions the RIC rejected.
        rejected: Vec<RejectedFunction>,
    },
    /// E2 SETUP FAILURE. With `retry_at` the request is sent again then
    /// (the RIC's `TimeToWait`, or [`super::E2NodeConfig::setup_retry_delay`]).
    SetupFailed {
        /// The RIC's cause.
        cause: asn::Cause,
        /// When the agent retries, if it does.
        retry_at: Option<Instant>,
    },
    /// No E2 SETUP RESPONSE in time; the request was sent again.
    SetupTimedOut,
    /// The association was lost; every subscription is gone.
    ConnectionLost {
        /// Subscriptions that ended.
        subscriptions_cleared: Vec<RequestId>,
    },
    /// A valid RIC SUBSCRIPTION REQUEST awaits a decision
    /// ([`super::SubscriptionPolicy::Ask`]).
    SubscriptionRequested {
        /// Its RIC request id.
        request: RequestId,
        /// The RAN function.
        ran_function_id: u16,
        /// `ricEventTriggerDefinition`.
        event_trigger: Bytes,
        /// The actions to set up.
        actions: Vec<asn::RICactionToBeSetupItem>,
    },
    /// A subscription is active (RIC SUBSCRIPTION RESPONSE sent); indications may flow.
    SubscriptionAdded {
        /// Its RIC request id.
        request: RequestId,
        /// The RAN function.
        ran_function_id: u16,
        /// Admitted action ids.
        admitted: Vec<u8>,
    },
    /// The RIC deleted a subscription (RIC SUBSCRIPTION DELETE RESPONSE sent).
    SubscriptionDeleted {
        /// Its RIC request id.
        request: RequestId,
        /// The RAN function.
        ran_function_id: u16,
    },
    /// A valid RIC CONTROL REQUEST.
    ControlRequested {
        /// Its RIC request id.
        request: RequestId,
        /// The RAN function.
        ran_function_id: u16,
        /// `ricControlHeader`.
        header: Bytes,
        /// `ricControlMessage`.
        message: Bytes,
        /// `ricCallProcessID`, if any.
        call_process_id: Option<Bytes>,
        /// Whether the RIC wants an acknowledge.
        ack_requested: bool,
        /// Whether the agent already answered it ([`super::ControlPolicy::AcknowledgeAll`]).
        answered: bool,
    },
    /// The RIC reset the association: subscriptions cleared, RESET RESPONSE sent.
    ResetByRic {
        /// The RIC's cause.
        cause: asn::Cause,
        /// Subscriptions cleared.
        subscriptions_cleared: Vec<RequestId>,
    },
    /// RESET RESPONSE to [`super::E2NodeAgent::reset`].
    ResetCompleted,
    /// No RESET RESPONSE in time.
    ResetTimedOut,
    /// RIC SERVICE QUERY; `answered` says whether a RIC Service Update was sent.
    ServiceQueryReceived {
        /// Whether a RIC Service Update went back (not when one was outstanding).
        answered: bool,
    },
    /// RIC SERVICE UPDATE ACKNOWLEDGE.
    ServiceUpdateAcknowledged {
        /// RAN function ids accepted.
        accepted: Vec<u16>,
        /// RAN functions rejected.
        rejected: Vec<RejectedFunction>,
    },
    /// RIC SERVICE UPDATE FAILURE.
    ServiceUpdateFailed {
        /// The RIC's cause.
        cause: asn::Cause,
        /// How long the RIC asks to wait before trying again.
        time_to_wait: Option<Duration>,
    },
    /// No answer to the RIC Service Update in time.
    ServiceUpdateTimedOut,
    /// E2 NODE CONFIGURATION UPDATE ACKNOWLEDGE.
    ConfigurationUpdateAcknowledged {
        /// Per component: success or failure cause.
        outcomes: Vec<ComponentOutcome>,
    },
    /// E2 NODE CONFIGURATION UPDATE FAILURE.
    ConfigurationUpdateFailed {
        /// The RIC's cause.
        cause: asn::Cause,
        /// How long the RIC asks to wait before trying again.
        time_to_wait: Option<Duration>,
    },
    /// No answer to the configuration update in time.
    ConfigurationUpdateTimedOut,
    /// The RIC sent an ERROR INDICATION.
    ErrorIndicationReceived {
        /// What it said.
        report: ReceivedErrorIndication,
    },
    /// The RIC sent a PDU the agent could not accept (or accepted while
    /// ignoring IEs); an Error Indication went back unless noted otherwise.
    ProtocolError {
        /// What was wrong and what was answered.
        error: ProtocolError,
    },
    /// The agent could not encode one of its own answers; nothing was sent.
    InternalError {
        /// What failed.
        detail: String,
    },
}
