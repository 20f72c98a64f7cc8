//! Why a derivation (or parsing its configuration) failed. Every error is
//! raised before any key material is produced, so a failure yields nothing.

use thiserror::Error;

use crate::keys::Role;
use crate::mode::Mode;

/// Why [`crate::derive`] refused to produce link keys.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CombineError {
    /// The mode requires a QKD key and none was given.
    #[error("mode {mode} requires a QKD key, but none is available (refusing to derive a weaker key)")]
    QkdRequired {
        /// The mode.
        mode: Mode,
    },
    /// The mode requires an ML-KEM shared secret and none was given.
    #[error("mode {mode} requires an ML-KEM shared secret, but none is available (refusing to derive a weaker key)")]
    PqcRequired {
        /// The mode.
        mode: Mode,
    },
    /// Neither source is available.
    #[error("mode {mode}: neither a QKD key nor an ML-KEM shared secret is available")]
    NoSource {
        /// The mode.
        mode: Mode,
    },
    /// The QKD key is shorter than 128 bits or longer than the bound.
    #[error("QKD key is {len} bytes; {min}..={max} bytes ({}..={} bits) are accepted", min * 8, max * 8)]
    QkdKeyLength {
        /// Its length.
        len: usize,
        /// [`crate::MIN_QKD_KEY_LEN`].
        min: usize,
        /// [`crate::MAX_QKD_KEY_LEN`].
        max: usize,
    },
    /// The ML-KEM shared secret is not 32 bytes.
    #[error("ML-KEM shared secret is {len} bytes; ML-KEM shared secrets are exactly {expected} bytes")]
    PqcSecretLength {
        /// Its length.
        len: usize,
        /// [`crate::PQC_SECRET_LEN`].
        expected: usize,
    },
    /// An endpoint id is empty.
    #[error("the {endpoint} id is empty")]
    EmptyEndpointId {
        /// Which one.
        endpoint: Role,
    },
    /// An endpoint id is longer than [`crate::MAX_ENDPOINT_ID_LEN`].
    #[error("the {endpoint} id is {len} bytes; at most {max} are accepted")]
    EndpointIdTooLong {
        /// Which one.
        endpoint: Role,
        /// Its length.
        len: usize,
        /// [`crate::MAX_ENDPOINT_ID_LEN`].
        max: usize,
    },
    /// The rekey transcript is empty (the caller forgot to pass it).
    #[error("the rekey transcript is empty; the salt must bind the exchange that produced the secrets")]
    EmptyTranscript,
    /// An SPI in the reserved range 0..=255 (RFC 4303 §2.1).
    #[error("SPI {spi:#x} ({from} to {to}) is reserved (RFC 4303: 0..=255 are not assigned to SAs)")]
    ReservedSpi {
        /// The SPI.
        spi: u32,
        /// Sending end of the SA.
        from: Role,
        /// Receiving end of the SA.
        to: Role,
    },
    /// HKDF-Expand refused the output length (cannot happen for the fixed
    /// 36 bytes per direction; reported rather than panicking).
    #[error("HKDF-SHA-384 cannot expand to {len} bytes")]
    ExpandLength {
        /// The length asked for.
        len: usize,
    },
}

/// A mode name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown key mode {given:?}: expected qkd-and-pqc, at-least-qkd, at-least-pqc or either (or Arnika's name)")]
pub struct ParseModeError {
    /// What was given.
    pub given: String,
}

/// A `key_ID` that is not a canonical UUID string.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid QKD key_ID {given:?}: {reason}")]
pub struct ParseKeyIdError {
    /// What was given (at most 64 characters of it).
    pub given: String,
    /// What is wrong.
    pub reason: &'static str,
}
