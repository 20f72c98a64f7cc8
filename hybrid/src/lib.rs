//! # qsafe-hybrid — the QKD + ML-KEM hybrid key combiner
//!
//! Every E2 link of qsafe-ran is protected by a pair of ESP SAs
//! (`rfc4106(gcm(aes))`, one per direction) whose keys are re-derived at
//! every rekey epoch from up to two independent secrets:
//!
//! * a **QKD key** that both ends fetched from their KMEs over ETSI GS QKD
//!   014 (same `key_ID`, same bytes), and
//! * an **ML-KEM shared secret** from a KEM exchange between the two ends.
//!
//! This crate turns those secrets into the two ESP keys. It does nothing
//! else: no I/O, no KME client, no KEM — the callers bring the secrets
//! (borrowed, so they stay in the caller's zeroizing storage) and get keys
//! back in zeroizing types.
//!
//! ## Construction (details: `docs/hybrid-combiner.md`)
//!
//! In the style of ETSI TS 103 744 (hybrid key establishment: concatenate
//! the secrets and feed them to a KDF) and NIST SP 800-56C rev. 2 (a
//! "hybrid" shared secret `Z' = Z || T` into a two-step KDF):
//!
//! ```text
//! IKM     = u16(len Zqkd) || Zqkd || u16(len Zpqc) || Zpqc      (absent = length 0)
//! salt    = SHA-384(transcript)
//! PRK     = HKDF-Extract-SHA-384(salt, IKM)
//! info(d) = label, direction d, mode, source, RIC id, node id,
//!           key_ID (or absent), epoch, SPI ric->node, SPI node->ric
//! keymat  = HKDF-Expand-SHA-384(PRK, info(d), 36) = AES-256 key (32) || salt (4)
//! ```
//!
//! The output is as strong as the stronger input: if either secret is
//! unknown to the attacker, so are the keys. The two directions use
//! different `info`, so they never share a key; the epoch, SPIs and
//! `key_ID` in `info` make every SA of every epoch get a fresh key; both
//! endpoint ids make a key valid for one link only.
//!
//! ## Modes fail closed
//!
//! [`Mode`] says which sources are *required* (Arnika's names:
//! `qkd-and-pqc`, `at-least-qkd`, `at-least-pqc`, `either`). A missing
//! required source is an error ([`CombineError::QkdRequired`],
//! [`CombineError::PqcRequired`], [`CombineError::NoSource`]) — the combiner
//! never hands back a key from fewer sources than the operator asked for.
//! A present but malformed input is an error too, not "absent". The
//! sources used ([`KeySource`]) are returned and bound into the keys, so
//! two ends that disagree about them derive different keys and the link
//! fails visibly instead of running on a weaker key.
//!
//! ## Example
//!
//! ```
//! use qsafe_hybrid::{derive, KeyId, KeySource, LinkContext, Mode, QkdKey, Role};
//!
//! let qkd_bytes = [0x11u8; 32]; // from the KME (GET .../dec_keys?key_ID=...)
//! let mlkem_secret = [0x22u8; 32]; // from ML-KEM decapsulation
//! let ctx = LinkContext {
//!     ric_id: b"ric-001-01-5",
//!     node_id: b"gnb-001-01-e000",
//!     epoch: 7,
//!     spi_ric_to_node: 0x1000_0007,
//!     spi_node_to_ric: 0x2000_0007,
//!     transcript: b"...rekey messages as exchanged...",
//! };
//! let qkd = QkdKey { key_id: "bc490419-7d60-487f-adc1-4ddcc177c139".parse()?, key: &qkd_bytes };
//! let keys = derive(Mode::QkdAndPqc, Some(qkd), Some(&mlkem_secret), &ctx)?;
//! assert_eq!(keys.source(), KeySource::Hybrid);
//! let out = keys.outbound(Role::Ric); // install as the RIC's outbound SA
//! assert_eq!(out.spi(), 0x1000_0007);
//! assert_eq!(out.keymat().len(), 36);
//! // Without ML-KEM, qkd-and-pqc refuses:
//! assert!(derive(Mode::QkdAndPqc, Some(qkd), None, &ctx).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Conformance
//!
//! `tests/vectors/combiner.json` holds vectors computed by an independent
//! implementation (`tests/vectors/make_vectors.py`: Python standard library
//! only, HKDF written out with `hmac`/`hashlib`, the layout taken from the
//! design note); `tests/vectors.rs` checks every one against [`derive()`].

mod combine;
mod error;
mod key_id;
mod keys;
mod mode;

pub use combine::{
    DIRECTION_NODE_TO_RIC, DIRECTION_RIC_TO_NODE, LABEL, LinkContext, MAX_ENDPOINT_ID_LEN, MAX_QKD_KEY_LEN,
    MIN_QKD_KEY_LEN, PQC_SECRET_LEN, QkdKey, derive,
};
pub use error::{CombineError, ParseKeyIdError, ParseModeError};
pub use key_id::KeyId;
pub use keys::{ESP_KEY_LEN, ESP_KEYMAT_LEN, ESP_SALT_LEN, EspKey, LinkKeys, Role};
pub use mode::{KeySource, Mode};
