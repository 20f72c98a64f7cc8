//! qsafe-a1: the A1 policy plane of qsafe-ran.
//!
//! The rApp (Non-RT RIC) steers the xApp (near-RT RIC) over A1 with two
//! policy types, `qsafe-e2-key-freshness_1.0.0` and `qsafe-pqc-trust_1.0.0`
//! (descriptors/a1/). This crate holds both sides of that interface:
//!
//! * [`types`], [`registry`]: the types, compiled in from their JSON Schema
//!   files, their A1-P v2 and OSC mediator shapes, policy id rules;
//! * [`validate`]: body intake (size, JSON, draft-07 schema, typed decoding,
//!   semantic checks), every violation with its JSON pointer;
//! * [`service`], [`store`]: the xApp's A1-P v2 termination as a sans-IO
//!   core with a persistence trait (in-memory and JSON-file stores);
//! * [`http`]: the tokio/axum edge of that core and the status notifier;
//! * [`client`]: the rApp's clients, A1-P v2 direct ([`client::A1pClient`])
//!   or through an A1 Policy Management Service ([`client::PmsClient`]);
//! * [`pms_sim`]: a small A1PMS v2 that forwards to a near-RT RIC over
//!   A1-P v2, for testing the PMS path end to end.

pub mod client;
pub mod http;
pub mod pms_sim;
pub mod registry;
pub mod service;
pub mod store;
mod transport;
pub mod types;
pub mod validate;

pub use registry::{PolicyTypeRegistry, RegisteredType};
pub use service::{A1Service, NotificationJob, Outcome, PolicyEffect, Request, Response, ServiceConfig};
pub use store::{JsonFileStore, MemoryStore, PolicyStore, StoredPolicy};
pub use types::{KEY_FRESHNESS_TYPE_ID, OscTypeIds, PQC_TRUST_TYPE_ID, PolicyId, PolicyKind};
pub use validate::{KeyFreshnessPolicy, PqcTrustPolicy, TypedPolicy, Violation};
