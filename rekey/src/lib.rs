//! # qsafe-rekey — the authenticated hybrid rekey protocol of an E2 link
//!
//! The RIC (xApp, ETSI 014 master SAE) and the E2 node (slave SAE) key the ESP SAs that protect
//! their E2 SCTP association from a QKD key and an ML-KEM shared secret (combined by
//! [`qsafe_hybrid::derive`]), authenticated with ML-DSA signatures over the E2SM-QKD messages,
//! and rotate them make-before-break. Both sides are sans-IO state machines in the style of
//! `qsafe_e2::node`: inputs are method calls, outputs are polled actions, time is passed in;
//! nothing here reads a clock, opens a socket or spawns a task. The protocol is specified in
//! `docs/rekey-protocol.md`; `model/rekey.pml` is its spin model.
//!
//! ## Public API
//!
//! | module | what |
//! |---|---|
//! | [`tbs`] | the bytes each signature covers: [`tbs::kem_key_tbs`], [`tbs::rekey_tbs`], [`tbs::set_mode_tbs`], [`tbs::isolate_tbs`], [`tbs::outcome_tbs`] (all `-> Result<Vec<u8>, TbsError>`) |
//! | [`trust`] | [`TrustAnchors`] (`from_pem`, `from_der`, `accepted`, `verify_chain(&[Bytes], SystemTime) -> Result<PeerIdentity, TrustError>`), [`PeerIdentity`] (`verify`), [`LocalIdentity`] (`from_certified_key`) |
//! | [`sa`] | [`Direction`], [`SaSpec`] (Debug redacts the key), [`DataPlaneOp`], [`SpiAllocator`] |
//! | [`ric`] | [`RicLink`]: `new(RicLinkConfig, Arc<LocalIdentity>, Arc<TrustAnchors>)`, `on_ran_function`, `on_report`, `check_start`, `start_rekey(now, mode, Option<Key>, (spi_r2n, spi_n2r)) -> Result<u32, RekeyError>`, `set_mode`, `isolate`, `restore`, `on_outcome(&ControlOutcome, now) -> Result<bool, RicError>`, `handle_timeout`, `poll_timeout`, `poll_action -> Option<RicAction>`, `security() -> LinkSecurity` |
//! | [`node`] | [`NodeLink`]: `new(NodeLinkConfig, Arc<LocalIdentity>, Arc<TrustAnchors>, Arc<dyn Kem>)`, `ran_function_definition`, `next_kem_key`, `on_control(&ControlHeader, &ControlMessage, now_wall, now)`, `on_qkd_key(Result<Key, QkdFetchError>, now)`, `on_sa_usage(epoch, inbound_packets, now)`, `on_association_lost`, `report(now, SaCounters, kme_stored_keys, include_next_kem_key)`, `may_send_application_traffic`, `handle_timeout`, `poll_timeout`, `poll_action -> Option<NodeAction>` |
//!
//! ## Driving it
//!
//! The driver executes [`DataPlaneOp`]s **in order**, each completed before the next (the order
//! is the make-before-break guarantee), sends `SendControl`/`SendOutcome` over E2AP (RIC CONTROL
//! REQUEST / ACKNOWLEDGE / FAILURE), feeds the node's kernel counters to
//! [`NodeLink::on_sa_usage`], and calls `handle_timeout` at `poll_timeout`. Every SPI passed to
//! [`RicLink::start_rekey`] that returned `Ok` later appears in exactly one
//! [`DataPlaneOp::Delete`] (or a [`DataPlaneOp::DeleteAll`]); the driver then releases it to
//! the [`SpiAllocator`]. Deleting an SA that is not installed must succeed (idempotent).
//!
//! ## Secrets
//!
//! Keys live in `Zeroizing` buffers ([`SaSpec::keymat`]) or qsafe-pqc's secret types and are
//! never printed by `Debug` or logged.

mod common;
mod error;
pub mod node;
pub mod ric;
pub mod sa;
pub mod tbs;
pub mod trust;

pub use error::{NodeError, RekeyError, RicError};
pub use node::{NodeAction, NodeLink, NodeLinkConfig, QkdFetchError, SaCounters};
pub use ric::{ControlFailure, LinkSecurity, RekeyFailure, RicAction, RicLink, RicLinkConfig};
pub use sa::{DataPlaneOp, Direction, SaSpec, SpiAllocator, SpiExhausted};
pub use tbs::TbsError;
pub use trust::{LocalIdentity, PeerIdentity, TrustAnchors, TrustError};

/// Re-exported E2SM-QKD types the API uses.
pub use qsafe_asn1::e2sm_qkd;
