//! # tokio drivers: the sans-IO E2AP state machines on real transports
//!
//! * [`RicServer`] owns one [`crate::ric::Ric`] in one task and serves every
//!   association of the RIC: from an [`crate::transport::sctp::SctpListener`]
//!   ([`RicHandle::serve_sctp`]) and, for tests, from any
//!   [`crate::transport::E2Transport`] handed in ([`RicHandle::attach`],
//!   [`RicHandle::connect_memory`]). Applications use the cloneable
//!   [`RicHandle`]: `subscribe` resolves once the node answers and returns a
//!   [`RicSubscription`] whose channel carries that subscription's
//!   indications (dispatched by RIC request id), `control` resolves with the
//!   acknowledge, every other [`crate::ric::Event`] goes to a broadcast
//!   stream ([`RicHandle::events`]).
//! * [`NodeClient`] runs one [`crate::node::E2NodeAgent`] over a
//!   [`Connector`] (kernel SCTP with backoff until a deadline, or in-memory
//!   to a [`RicServer`]), reconnects after a loss (a new E2 Setup each
//!   time), and gives the application a [`NodeHandle`] to send indications
//!   and answer subscriptions and controls, and a stream of [`NodeEvent`]s.
//! * [`traffic`]: the sequenced KPM indications of the E2 node simulator
//!   (64-bit sequence number and send timestamp), and how to read them back.
//!
//! ## Tasks and channels
//!
//! ```text
//!  per association                      one task                                 application
//!  reader ── Inbound (mpsc, batched) ──▶ Ric task: handle_pdu / handle_timeout ─▶ RicSubscription (mpsc per subscription)
//!  writer ◀── Transmit (mpsc, bounded) ─   poll_transmit (drained after a batch)  ─▶ events (broadcast, lifecycle only)
//!                                          ◀── commands (mpsc + oneshot replies) ◀── RicHandle
//! ```
//!
//! ## Flow control: nothing is dropped
//!
//! Indications are never dropped or reordered by the driver. Each
//! association's reader forwards frames in order into one bounded channel;
//! the Ric task handles them in order and pushes each indication into its
//! subscription's bounded channel, **waiting** when that channel is full.
//! So a slow consumer slows the RIC task, which fills the inbound channel,
//! which stops the readers, which fills the transport (SCTP receive window /
//! in-memory channel), which makes the nodes' sends wait. Consequence for
//! applications: **drain a subscription's indications in a task that does
//! not wait on a RicHandle call**, or the two wait on each other.
//!
//! The RIC writes little (requests and answers); if an association's writer
//! channel is full because the peer stopped reading, the RIC closes the
//! association rather than block every other one.
//!
//! Lifecycle events go to a `tokio::sync::broadcast` channel: a receiver
//! that falls behind by more than [`RicServerOptions::event_capacity`]
//! events skips the oldest (`RecvError::Lagged`); procedures are still
//! answered through their own futures.

mod error;
mod node;
mod ric;
pub mod traffic;

pub use error::DriverError;
pub use node::{
    Connector, MemoryConnector, NodeClient, NodeCommandStats, NodeEvent, NodeHandle, NodeOptions, SctpConnector,
};
pub use ric::{ControlOutcome, RicHandle, RicServer, RicServerOptions, RicServerStats, RicSubscription};
