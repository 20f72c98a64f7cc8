//! # qsafe-xapp — the near-RT RIC side of qsafe-ran
//!
//! The xApp keys every E2 link from QKD key material (ETSI GS QKD 014) mixed
//! with ML-KEM, installs the result as kernel IPsec ESP SAs protecting the
//! E2 SCTP association, rotates keys make-before-break, monitors key
//! freshness and enforces A1 policy (rekey, degrade to PQC-only, isolate).
//!
//! This crate is the wiring point; each concern lives in its own crate (see
//! the README's crate map) and the `qsafe-xapp` binary puts them together.
//! What is wired today:
//!
//! * [`e2`]: **standalone mode's RIC role.** Without an OSC RIC in front of
//!   it (no E2 termination, no RMR), the xApp terminates E2 itself: it serves
//!   E2AP over kernel SCTP with [`qsafe_e2::driver::RicServer`], accepts E2
//!   Setup, keeps the registry of E2 nodes and their RAN functions, and
//!   (optionally) subscribes to every node's E2SM-KPM function to watch that
//!   each link carries traffic. The per-link view ([`e2::LinkView`]) is what
//!   the key-freshness monitor extends with key age and bytes per key.
//! * [`config`]: settings from flags, `QSAFE_XAPP_*` environment variables
//!   and a TOML file with one table per concern (`[e2]` today).

pub mod a1;
pub mod config;
pub mod e2;
pub mod events;
pub mod freshness;
pub mod http;
pub mod keyplane;
pub mod metrics;
pub mod policy;
pub mod startup;

pub use qsafe_asn1 as asn1;
