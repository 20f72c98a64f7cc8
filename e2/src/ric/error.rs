//! Errors of the RIC's API calls. Peer input never produces one: bad PDUs
//! are answered with Error Indications and reported as events.

use qsafe_asn1::e2ap::E2apError;

use crate::common::{E2NodeId, RequestId};

use super::AssociationId;

/// Why a RIC API call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RicError {
    /// The driver named an association the RIC does not know (never opened or already lost).
    #[error("unknown association {0}")]
    UnknownAssociation(AssociationId),
    /// No such node in the registry.
    #[error("unknown E2 node {0}")]
    UnknownNode(E2NodeId),
    /// The node is known but has no set-up association.
    #[error("E2 node {0} is not connected")]
    NodeNotConnected(E2NodeId),
    /// The node is connected; forgetting it would orphan its association.
    #[error("E2 node {0} is connected and cannot be forgotten")]
    NodeConnected(E2NodeId),
    /// The RIC did not accept such a RAN function from the node.
    #[error("E2 node {node} has no accepted RAN function {ran_function_id}")]
    UnknownRanFunction {
        /// The node.
        node: E2NodeId,
        /// The RAN function id asked for.
        ran_function_id: u16,
    },
    /// The actions of a subscription are not 1..16 actions with distinct ids.
    #[error("invalid subscription actions: {0}")]
    InvalidActions(String),
    /// All 65536 instance ids of the requestor id are in use.
    #[error("every ricInstanceID of requestor {0} is in use")]
    RequestIdsExhausted(u16),
    /// All 256 transaction ids of the association are in use.
    #[error("every transaction id towards {0} is in use")]
    TransactionIdsExhausted(E2NodeId),
    /// No live subscription has this request id.
    #[error("no subscription {0}")]
    UnknownSubscription(RequestId),
    /// The subscription is already being deleted.
    #[error("subscription {0} is already being deleted")]
    DeleteInProgress(RequestId),
    /// A Reset towards the node is still outstanding.
    #[error("a reset of E2 node {0} is in progress")]
    ResetInProgress(E2NodeId),
    /// Our own message could not be encoded (a value is out of its range).
    #[error("encoding failed: {0}")]
    Encode(#[from] E2apError),
}
