//! Quantum-readiness scanner (issue 8): probes TLS endpoints for ML-KEM key exchange, ML-DSA
//! authentication, HelloRetryRequest behaviour, protocol versions, certificate chains and
//! client-certificate demand, and classifies each (see [`classify`]).
//!
//! * [`engine`]: the probes and the bounded-concurrency scan ([`scan`], [`scan_endpoint`]).
//! * [`hello`]: the sans-IO ClientHello builder / ServerHello parser for the raw probes.
//! * [`targets`]: target-list parsing ([`parse_targets`]).
//! * [`model`]: the report data model (JSON interface).
//! * [`testserver`]: rustls reference servers (tests, examples, demos).

pub mod cert;
pub mod classify;
pub mod engine;
pub mod hello;
pub mod model;
pub mod output;
pub mod progress;
pub mod targets;
pub mod testserver;

pub use classify::classify;
pub use engine::{NoProgress, ScanConfig, ScanProgress, scan, scan_endpoint};
pub use targets::{TargetError, parse_targets, parse_targets_with_default_port};
