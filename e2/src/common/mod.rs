//! What both roles share: the output type [`Transmit`], identifiers, plain
//! views of E2AP values, the handling of bad PDUs, and (crate-internal)
//! timers and transaction-id allocation.

mod ids;
mod inbound;
mod model;
mod timers;

pub use ids::{E2NodeId, RequestId};
pub use inbound::{ProcedureRefs, ProtocolError, ReceivedErrorIndication};
pub use model::{
    ComponentConfig, ComponentKey, ComponentOutcome, DisplayCause, NotAdmittedAction, RanFunction, RejectedFunction,
    time_to_wait,
};

pub(crate) use inbound::{Decoded, decode};
pub(crate) use timers::{Timers, TransactionIds, deadline, transaction, transaction_value};

/// One E2AP PDU to send: the driver writes `bytes` as one SCTP message
/// (PPID 70) on `stream`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// SCTP stream id.
    pub stream: u16,
    /// The APER-encoded E2AP-PDU.
    pub bytes: Vec<u8>,
}
