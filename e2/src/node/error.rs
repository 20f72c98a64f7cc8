//! Errors of the E2 node's API calls. Peer input never produces one.

use qsafe_asn1::e2ap::E2apError;
use qsafe_asn1::e2ap::build::BuildError;

use crate::common::RequestId;

/// Why an E2 node API call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// The configuration cannot work (no component, too many or duplicate RAN functions, …).
    #[error("invalid E2 node configuration: {0}")]
    InvalidConfig(String),
    /// E2 Setup has not completed (or the association is down).
    #[error("E2 Setup has not completed")]
    NotSetUp,
    /// No active subscription has this request id.
    #[error("no active subscription {0}")]
    UnknownSubscription(RequestId),
    /// No subscription request with this id awaits a decision.
    #[error("no subscription request {0} awaits a decision")]
    NoPendingSubscription(RequestId),
    /// Accepting a subscription needs at least one admitted action.
    #[error("subscription {0}: at least one action must be admitted")]
    NoActionAdmitted(RequestId),
    /// The action is not part of the subscription, or was not admitted.
    #[error("subscription {subscription}: action {action_id} is not admitted")]
    ActionNotAdmitted {
        /// The subscription.
        subscription: RequestId,
        /// The action.
        action_id: u8,
    },
    /// Only report and insert actions produce indications.
    #[error("subscription {subscription}: action {action_id} is a policy action and sends no indications")]
    PolicyAction {
        /// The subscription.
        subscription: RequestId,
        /// The action.
        action_id: u8,
    },
    /// No control request with this id awaits an answer.
    #[error("no control request {0} awaits an answer")]
    NoPendingControl(RequestId),
    /// A procedure of this kind is still outstanding.
    #[error("a {0} is already in progress")]
    ProcedureInProgress(&'static str),
    /// All 256 transaction ids are in use.
    #[error("every transaction id is in use")]
    TransactionIdsExhausted,
    /// A RAN function or component is out of its ASN.1 range.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// Our own message could not be encoded.
    #[error("encoding failed: {0}")]
    Encode(#[from] E2apError),
}
