//! # qsafe-e2 — E2 transport and E2AP procedures
//!
//! * [`transport`]: the [`transport::E2Transport`] trait, kernel SCTP
//!   (one-to-one associations, PPID 70, several streams, whole PDUs of any
//!   size via MSG_EOR reassembly) and an in-memory pair for tests.
//! * [`ric`] and [`node`]: E2AP procedures as sans-IO state machines for the
//!   RIC role ([`ric::Ric`]) and the E2 node role ([`node::E2NodeAgent`]);
//!   tokio drivers live at the edge: [`driver`] ([`driver::RicServer`],
//!   [`driver::NodeClient`]). [`common`] holds what both share: the
//!   [`Transmit`] output, [`RequestId`], [`E2NodeId`], plain views of RAN
//!   functions and component configurations, and the bad-PDU handling
//!   ([`ProtocolError`]).
//! * [`back_to_back`]: a set-up RIC and node joined with no transport, for
//!   benches, profiling and fuzzing.

pub mod back_to_back;
pub mod common;
pub mod driver;
pub mod fuzzing;
pub mod node;
pub mod ric;
pub mod transport;

pub use common::{E2NodeId, ProtocolError, RequestId, Transmit};
