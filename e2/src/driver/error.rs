//! Errors of the driver APIs.

use bytes::Bytes;
use qsafe_asn1::e2ap_asn as asn;

use crate::common::{DisplayCause, E2NodeId, RequestId};
use crate::node::NodeError;
use crate::ric::RicError;

/// Why a [`super::RicHandle`] or [`super::NodeHandle`] call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The RIC refused the call (unknown node, not connected, …).
    #[error(transparent)]
    Ric(#[from] RicError),
    /// The E2 node agent refused the call (not set up, unknown subscription, …).
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The driver task has stopped (shut down, or every handle dropped).
    #[error("the E2 driver has stopped")]
    Stopped,
    /// The node answered RIC SUBSCRIPTION FAILURE.
    #[error("subscription {subscription} refused by {node}: {}", DisplayCause(.cause))]
    SubscriptionFailed {
        /// The request id (free again).
        subscription: RequestId,
        /// The node.
        node: Box<E2NodeId>,
        /// The node's cause.
        cause: asn::Cause,
    },
    /// The node answered RIC SUBSCRIPTION DELETE FAILURE.
    #[error("deleting subscription {subscription} failed: {}", DisplayCause(.cause))]
    DeleteFailed {
        /// The subscription.
        subscription: RequestId,
        /// The node's cause.
        cause: asn::Cause,
    },
    /// The node answered RIC CONTROL FAILURE.
    #[error("control request {request} failed at {node}: {}", DisplayCause(.cause))]
    ControlFailed {
        /// The request id.
        request: RequestId,
        /// The node.
        node: Box<E2NodeId>,
        /// The node's cause.
        cause: asn::Cause,
        /// `ricControlOutcome`, if any.
        outcome: Option<Bytes>,
    },
    /// No answer before the deadline.
    #[error("{0} timed out")]
    Timeout(&'static str),
    /// The node's association went down (or was reset) before the answer.
    #[error("E2 node {0} disconnected or was reset before answering")]
    NodeGone(Box<E2NodeId>),
}
