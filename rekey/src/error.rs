//! Error types.

use qsafe_asn1::e2sm_qkd::{ControlCommand, KeySourceMode};

use crate::tbs::TbsError;
use crate::trust::TrustError;

/// Errors of the RIC's input handlers (RAN function definition, report, outcome). On any error
/// the link's state is unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RicError {
    /// The node announced another SAE ID than configured.
    #[error("node SAE ID {got:?} is not this link's ({expected:?})")]
    WrongSaeId {
        /// Configured.
        expected: String,
        /// Received.
        got: String,
    },
    /// The node's chain does not verify.
    #[error("node certificate chain refused: {0}")]
    Untrusted(#[source] TrustError),
    /// A node signature (KEM key or outcome) does not verify.
    #[error("node signature refused: {0}")]
    BadSignature(#[source] TrustError),
    /// No verified RAN function definition yet.
    #[error("no verified RAN function definition from the node yet")]
    NotBootstrapped,
    /// A field breaks a rule.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// A field is too long to sign.
    #[error(transparent)]
    Tbs(#[from] TbsError),
}

/// Errors of the RIC's commands (`start_rekey`, `set_mode`, `isolate`, `restore`): nothing was
/// sent and nothing changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RekeyError {
    /// No verified RAN function definition yet.
    #[error("no verified RAN function definition from the node yet")]
    NotBootstrapped,
    /// The link is isolated (or being isolated).
    #[error("link is isolated")]
    Isolated,
    /// `restore` on a link that is not isolated.
    #[error("link is not isolated")]
    NotIsolated,
    /// Another command awaits its outcome.
    #[error("{command:?} of epoch {epoch} is outstanding")]
    Busy {
        /// Its epoch.
        epoch: u32,
        /// Which.
        command: ControlCommand,
    },
    /// The node does not support the mode.
    #[error("the node does not support mode {mode:?}")]
    ModeNotSupported {
        /// The mode.
        mode: KeySourceMode,
    },
    /// A source the mode requires is missing (fail closed).
    #[error("mode {mode:?}: {reason}")]
    SourceMissing {
        /// The mode.
        mode: KeySourceMode,
        /// What is missing.
        reason: String,
    },
    /// An SPI below 256.
    #[error("SPI {spi} is reserved (< 256)")]
    BadSpi {
        /// It.
        spi: u32,
    },
    /// An SPI already used on this link.
    #[error("SPI {spi:#x} is in use on this link")]
    SpiInUse {
        /// It.
        spi: u32,
    },
    /// Epoch u32::MAX was used.
    #[error("epochs exhausted")]
    EpochExhausted,
    /// ML-KEM failed.
    #[error("ML-KEM: {0}")]
    Kem(#[from] qsafe_pqc::kem::KemError),
    /// The combiner refused (e.g. a QKD key of a bad length).
    #[error("key derivation: {0}")]
    Combine(#[from] qsafe_hybrid::CombineError),
    /// Signing failed.
    #[error("signing: {0}")]
    Sign(#[from] qsafe_pqc::sign::SignatureError),
    /// A field is too long to sign.
    #[error(transparent)]
    Tbs(#[from] TbsError),
}

/// Errors of the node's handlers (internal failures: no outcome could be produced).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// Signing failed.
    #[error("signing: {0}")]
    Sign(#[from] qsafe_pqc::sign::SignatureError),
    /// KEM key generation failed, or the backend does not match the configured algorithm.
    #[error("ML-KEM: {0}")]
    Kem(#[from] qsafe_pqc::kem::KemError),
    /// A field is too long to sign.
    #[error(transparent)]
    Tbs(#[from] TbsError),
    /// `on_qkd_key` without a pending fetch.
    #[error("no QKD key fetch is pending")]
    NoPendingFetch,
    /// Bad configuration.
    #[error("configuration: {0}")]
    Config(&'static str),
}
