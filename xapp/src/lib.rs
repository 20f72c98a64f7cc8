//! # qsafe-xapp — the near-RT RIC side of qsafe-ran
//!
//! The xApp keys every E2 link from QKD key material (ETSI GS QKD 014) mixed
//! with ML-KEM, installs the result as kernel IPsec ESP SAs protecting the
//! E2 SCTP association, rotates keys make-before-break, monitors key
//! freshness and enforces A1 policy (rekey, degrade to PQC-only, isolate).
//!
//! This crate is the wiring point: E2AP comes from `qsafe-asn1` today; the E2
//! transport and procedures, the QKD key plane, the rekey protocol, the XFRM
//! broker and the A1 termination arrive as their own crates (see the
//! README's crate map) and this crate's binary (`qsafe-xapp`) wires them
//! together. Until then it only re-exports the codec it is built on.

pub use qsafe_asn1 as asn1;
