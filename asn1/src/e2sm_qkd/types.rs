//! The E2SM-QKD values, as plain Rust types (see the module docs).

use bytes::Bytes;

/// The RAN function OID of E2SM-QKD v1 (under the UUID arc
/// 2.25.203644067033296839980795250821322911839, this project's own;
/// configurable at run time).
pub const RAN_FUNCTION_OID: &str = "2.25.203644067033296839980795250821322911839.2.1";
/// The RAN function short name of E2SM-QKD.
pub const RAN_FUNCTION_SHORT_NAME: &str = "QSAFE-E2SM-QKD";
/// The RAN function description.
pub const RAN_FUNCTION_DESCRIPTION: &str = "QKD and ML-KEM keyed IPsec for the E2 link";
/// Longest certificate chain carried.
pub const MAX_CERTIFICATE_CHAIN_LENGTH: usize = 8;

/// Which key sources a link requires (mirrors `qsafe_hybrid::Mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySourceMode {
    /// Both QKD and ML-KEM, or no new key.
    QkdAndPqc,
    /// QKD required, ML-KEM added when available.
    AtLeastQkd,
    /// ML-KEM required, QKD added when available.
    AtLeastPqc,
    /// Whichever is available.
    Either,
}

/// Which sources the keys of an SA were derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySource {
    /// QKD only.
    Qkd,
    /// ML-KEM only.
    Pqc,
    /// Both.
    Hybrid,
}

/// The security state of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkState {
    /// Bootstrap: no SA yet.
    Unprotected,
    /// SAs keyed as the mode demands.
    Protected,
    /// SAs keyed from ML-KEM only where QKD was wanted.
    Degraded,
    /// SAs removed while ESP stays required: no E2 traffic passes.
    Isolated,
}

/// The KEM of a [`SignedKemKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KemAlgorithm {
    /// ML-KEM-768 (FIPS 203).
    MlKem768,
    /// ML-KEM-1024 (FIPS 203).
    MlKem1024,
}

/// An ephemeral ML-KEM encapsulation key of an E2 node, signed by the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedKemKey {
    /// Node-chosen id, strictly increasing per node.
    pub kem_key_id: u32,
    /// Its algorithm.
    pub algorithm: KemAlgorithm,
    /// The encapsulation (public) key, 1..=4096 bytes.
    pub encapsulation_key: Bytes,
    /// ML-DSA signature over the "kem-key" TBS (1..=8192 bytes).
    pub signature: Bytes,
}

/// `E2SM-QKD-RANfunction-Definition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RanFunctionDefinition {
    /// `ranFunctionShortName` (PrintableString 1..=150).
    pub short_name: String,
    /// `ranFunctionOID` (PrintableString 1..=1000).
    pub oid: String,
    /// `ranFunctionDescription` (PrintableString 1..=150).
    pub description: String,
    /// The node's ETSI 014 SAE ID.
    pub node_sae_id: String,
    /// The node's KME ID.
    pub node_kme_id: String,
    /// Modes the node supports (1..=8).
    pub supported_modes: Vec<KeySourceMode>,
    /// The node's ML-DSA certificate chain, DER, leaf first (1..=8).
    pub certificate_chain: Vec<Bytes>,
    /// The node's first ephemeral KEM key.
    pub first_kem_key: SignedKemKey,
}

/// `E2SM-QKD-EventTrigger`: at least one trigger is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTrigger {
    /// Periodic reports, every this many ms (10..=3 600 000).
    pub reporting_period_ms: Option<u32>,
    /// Also report at every epoch, mode or state change.
    pub on_change: bool,
}

/// `E2SM-QKD-ActionDefinition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionDefinition {
    /// Attach a fresh signed KEM key to every report.
    pub include_next_kem_key: bool,
}

/// Why a report was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportReason {
    /// The reporting period elapsed.
    Periodic,
    /// A rekey completed.
    EpochChange,
    /// The mode changed.
    ModeChange,
    /// The link state changed.
    StateChange,
}

/// `E2SM-QKD-IndicationHeader`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndicationHeader {
    /// NTP timestamp (8 octets, as E2SM-KPM).
    pub timestamp: [u8; 8],
    /// Why.
    pub reason: ReportReason,
}

/// The SA pair in use, as the node's kernel counts it (`CurrentSA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentSa {
    /// Its epoch.
    pub epoch: u32,
    /// The QKD key_ID, when a QKD key was used.
    pub key_id: Option<[u8; 16]>,
    /// SPI RIC → node (>= 256).
    pub spi_ric_to_node: u32,
    /// SPI node → RIC (>= 256).
    pub spi_node_to_ric: u32,
    /// The sources its keys came from.
    pub key_source: KeySource,
    /// Age in ms.
    pub age_ms: u32,
    /// Bytes received under the node's inbound SA.
    pub inbound_bytes: u64,
    /// Packets received under the node's inbound SA.
    pub inbound_packets: u64,
    /// Bytes sent under the node's outbound SA.
    pub outbound_bytes: u64,
    /// Packets sent under the node's outbound SA.
    pub outbound_packets: u64,
}

/// `E2SM-QKD-IndicationMessage`: one REPORT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicationMessage {
    /// The node's view of the link state.
    pub link_state: LinkState,
    /// The mode in force at the node.
    pub mode: KeySourceMode,
    /// The SA pair in use (absent before the first rekey and when isolated).
    pub current_sa: Option<CurrentSa>,
    /// The node KME's `stored_key_count`, when known.
    pub kme_stored_keys: Option<u32>,
    /// A fresh signed KEM key for the next rekey.
    pub next_kem_key: Option<SignedKemKey>,
}

/// What a CONTROL asks for (`ControlCommand`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlCommand {
    /// REKEY.
    Rekey,
    /// SET-MODE.
    SetMode,
    /// ISOLATE.
    Isolate,
    /// RESTORE.
    Restore,
}

/// `E2SM-QKD-ControlHeader`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlHeader {
    /// Must match the message ([`ControlMessage::command`]).
    pub command: ControlCommand,
}

/// `RekeyCommand`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RekeyCommand {
    /// The new epoch (greater than every epoch the node has seen).
    pub epoch: u32,
    /// The master SAE (the xApp), for dec_keys.
    pub ric_sae_id: String,
    /// The node's SAE ID.
    pub node_sae_id: String,
    /// The QKD key_ID, when a QKD key is part of this rekey.
    pub key_id: Option<[u8; 16]>,
    /// The node KEM key encapsulated to, when ML-KEM is part of this rekey.
    pub kem_key_id: Option<u32>,
    /// The ML-KEM ciphertext (present exactly when `kem_key_id` is).
    pub kem_ciphertext: Option<Bytes>,
    /// SPI RIC → node.
    pub spi_ric_to_node: u32,
    /// SPI node → RIC.
    pub spi_node_to_ric: u32,
    /// The mode the link is in.
    pub mode: KeySourceMode,
    /// The sources the RIC used.
    pub key_source: KeySource,
    /// Old SAs are deleted this long after the switch (0..=600 000 ms).
    pub grace_ms: u32,
    /// The RIC's ML-DSA chain, when the node may not have it yet.
    pub ric_certificate_chain: Option<Vec<Bytes>>,
    /// ML-DSA signature over the "rekey" TBS.
    pub signature: Bytes,
}

/// `SetModeCommand`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetModeCommand {
    /// The link's current epoch.
    pub epoch: u32,
    /// The master SAE.
    pub ric_sae_id: String,
    /// The node's SAE ID.
    pub node_sae_id: String,
    /// The new mode.
    pub mode: KeySourceMode,
    /// ML-DSA signature over the "set-mode" TBS.
    pub signature: Bytes,
}

/// `IsolateCommand` (ISOLATE when `isolate`, else RESTORE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsolateCommand {
    /// The link's current epoch.
    pub epoch: u32,
    /// The master SAE.
    pub ric_sae_id: String,
    /// The node's SAE ID.
    pub node_sae_id: String,
    /// ISOLATE (true) or RESTORE (false).
    pub isolate: bool,
    /// ML-DSA signature over the "isolate" TBS.
    pub signature: Bytes,
}

/// `E2SM-QKD-ControlMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlMessage {
    /// REKEY.
    Rekey(RekeyCommand),
    /// SET-MODE.
    SetMode(SetModeCommand),
    /// ISOLATE or RESTORE.
    Isolate(IsolateCommand),
}

impl ControlMessage {
    /// The header command this message goes with.
    pub fn command(&self) -> ControlCommand {
        match self {
            ControlMessage::Rekey(_) => ControlCommand::Rekey,
            ControlMessage::SetMode(_) => ControlCommand::SetMode,
            ControlMessage::Isolate(c) if c.isolate => ControlCommand::Isolate,
            ControlMessage::Isolate(_) => ControlCommand::Restore,
        }
    }
}

/// Why a node refused a CONTROL (`ControlFailureCause`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlFailureCause {
    /// The request could not be decoded or broke a field rule.
    Malformed,
    /// The signature did not verify.
    BadSignature,
    /// The signer's chain does not lead to a trust anchor.
    UntrustedCertificate,
    /// The SAE IDs are not this link's.
    WrongSaeId,
    /// The epoch is not greater than every epoch seen.
    ReplayedEpoch,
    /// The KEM key id is not a current key of the node.
    UnknownKemKey,
    /// Decapsulation failed.
    KemFailure,
    /// dec_keys: the key_ID is unknown to the node's KME.
    QkdKeyNotFound,
    /// The node's KME could not be reached.
    KmeUnavailable,
    /// The node does not support the mode.
    ModeNotSupported,
    /// The sources offered do not satisfy the mode.
    ModeViolation,
    /// An SPI is already in use.
    SpiInUse,
    /// The kernel refused the SA.
    SaInstallFailed,
    /// Another rekey of this link is in progress.
    Busy,
}

/// The result in a [`ControlOutcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlResult {
    /// Done; for REKEY the sources used, otherwise the current source.
    Success(KeySource),
    /// Refused, and nothing changed.
    Failure(ControlFailureCause),
}

/// `E2SM-QKD-ControlOutcome` (in RIC CONTROL ACKNOWLEDGE / FAILURE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlOutcome {
    /// What was asked.
    pub command: ControlCommand,
    /// The epoch concerned.
    pub epoch: u32,
    /// What happened.
    pub result: ControlResult,
    /// A fresh signed KEM key for the next rekey.
    pub next_kem_key: Option<SignedKemKey>,
    /// The node's ML-DSA signature over the "outcome" TBS.
    pub signature: Bytes,
}

impl RanFunctionDefinition {
    /// A RAN function definition with this project's short name, OID and
    /// description ([`RAN_FUNCTION_SHORT_NAME`], [`RAN_FUNCTION_OID`],
    /// [`RAN_FUNCTION_DESCRIPTION`]).
    pub fn new(
        node_sae_id: impl Into<String>,
        node_kme_id: impl Into<String>,
        supported_modes: Vec<KeySourceMode>,
        certificate_chain: Vec<Bytes>,
        first_kem_key: SignedKemKey,
    ) -> Self {
        RanFunctionDefinition {
            short_name: RAN_FUNCTION_SHORT_NAME.to_string(),
            oid: RAN_FUNCTION_OID.to_string(),
            description: RAN_FUNCTION_DESCRIPTION.to_string(),
            node_sae_id: node_sae_id.into(),
            node_kme_id: node_kme_id.into(),
            supported_modes,
            certificate_chain,
            first_kem_key,
        }
    }
}

impl EventTrigger {
    /// Reports every `period_ms` (10..=3 600 000) and, if `on_change`, also at
    /// every epoch, mode or state change.
    pub fn periodic(period_ms: u32, on_change: bool) -> Self {
        EventTrigger { reporting_period_ms: Some(period_ms), on_change }
    }

    /// Reports only at epoch, mode or state changes.
    pub fn on_change_only() -> Self {
        EventTrigger { reporting_period_ms: None, on_change: true }
    }
}

impl ControlHeader {
    /// The header that goes with `message` (its [`ControlMessage::command`]).
    pub fn for_message(message: &ControlMessage) -> Self {
        ControlHeader { command: message.command() }
    }
}
