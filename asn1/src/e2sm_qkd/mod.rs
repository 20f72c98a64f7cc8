//! # E2SM-QKD v01.00 — the qsafe-ran E2 service model for keyed E2 links
//!
//! The ASN.1 is `asn1/modules/e2sm-qkd-v01.00/e2sm-qkd-v01.00.asn` (APER,
//! like the O-RAN E2SMs); [`crate::e2sm_qkd_asn`] holds the types
//! rasn-compiler generates from it. This module is the typed layer the xApp,
//! the E2 node simulator and the rekey protocol use: plain structs with
//! Rust-native fields, one `decode`/`encode` pair per E2AP octet string, and
//! errors that say which payload and which field failed.
//!
//! Nothing here checks signatures or protocol rules: that is
//! `qsafe-rekey`'s job. This layer only guarantees that what it decodes is
//! well-formed per the ASN.1 (sizes, ranges, the header/message command
//! match) and that what it encodes decodes back to the same value.
//!
//! See `docs/e2sm-qkd.md` for the design.

mod codec;
mod types;

pub use codec::*;
pub use types::*;
