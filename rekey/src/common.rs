//! Conversions between the E2SM-QKD types and the combiner / KEM types, and the key derivation
//! both sides share.

use qsafe_asn1::e2sm_qkd::{KemAlgorithm, KeySource, KeySourceMode};
use qsafe_hybrid::{CombineError, LinkContext, QkdKey};
use zeroize::Zeroizing;

use crate::sa::{Direction, SaSpec};

/// E2SM-QKD mode → combiner mode.
pub fn mode_to_hybrid(m: KeySourceMode) -> qsafe_hybrid::Mode {
    match m {
        KeySourceMode::QkdAndPqc => qsafe_hybrid::Mode::QkdAndPqc,
        KeySourceMode::AtLeastQkd => qsafe_hybrid::Mode::AtLeastQkd,
        KeySourceMode::AtLeastPqc => qsafe_hybrid::Mode::AtLeastPqc,
        KeySourceMode::Either => qsafe_hybrid::Mode::Either,
    }
}

/// Combiner source → E2SM-QKD source.
pub fn source_from_hybrid(s: qsafe_hybrid::KeySource) -> KeySource {
    match s {
        qsafe_hybrid::KeySource::Qkd => KeySource::Qkd,
        qsafe_hybrid::KeySource::Pqc => KeySource::Pqc,
        qsafe_hybrid::KeySource::Hybrid => KeySource::Hybrid,
    }
}

/// Whether keys from `source` satisfy `mode`.
pub fn satisfies(source: KeySource, mode: KeySourceMode) -> bool {
    let (q, p) = uses(source);
    mode_to_hybrid(mode).select(q, p).is_ok()
}

/// (uses QKD, uses ML-KEM).
pub fn uses(source: KeySource) -> (bool, bool) {
    match source {
        KeySource::Qkd => (true, false),
        KeySource::Pqc => (false, true),
        KeySource::Hybrid => (true, true),
    }
}

/// E2SM-QKD KEM algorithm → qsafe-pqc KEM algorithm.
pub fn kem_to_pqc(a: KemAlgorithm) -> qsafe_pqc::kem::KemAlgorithm {
    match a {
        KemAlgorithm::MlKem768 => qsafe_pqc::kem::KemAlgorithm::MlKem768,
        KemAlgorithm::MlKem1024 => qsafe_pqc::kem::KemAlgorithm::MlKem1024,
    }
}

/// qsafe-pqc KEM algorithm → E2SM-QKD (ML-KEM only).
pub fn kem_from_pqc(a: qsafe_pqc::kem::KemAlgorithm) -> Option<KemAlgorithm> {
    match a {
        qsafe_pqc::kem::KemAlgorithm::MlKem768 => Some(KemAlgorithm::MlKem768),
        qsafe_pqc::kem::KemAlgorithm::MlKem1024 => Some(KemAlgorithm::MlKem1024),
        _ => None,
    }
}

/// The 16 bytes of an ETSI 014 key_ID.
pub fn key_id_bytes(id: &qsafe_qkd::api::KeyId) -> [u8; 16] {
    *id.as_uuid().as_bytes()
}

/// An ETSI 014 key_ID from its 16 bytes.
pub fn key_id_from_bytes(b: [u8; 16]) -> qsafe_qkd::api::KeyId {
    qsafe_qkd::api::KeyId::from_uuid(uuid_from(b))
}

fn uuid_from(b: [u8; 16]) -> uuid::Uuid {
    uuid::Uuid::from_bytes(b)
}

/// Both SAs of one epoch.
pub struct DerivedSas {
    /// RIC → node.
    pub ric_to_node: SaSpec,
    /// node → RIC.
    pub node_to_ric: SaSpec,
    /// Sources used.
    pub source: KeySource,
}

/// Inputs of one derivation.
pub struct DeriveInput<'a> {
    pub mode: KeySourceMode,
    pub qkd: Option<([u8; 16], &'a [u8])>,
    pub pqc: Option<&'a [u8]>,
    pub ric_sae_id: &'a str,
    pub node_sae_id: &'a str,
    pub epoch: u32,
    pub spi_ric_to_node: u32,
    pub spi_node_to_ric: u32,
    pub transcript: &'a [u8],
}

/// Derives both SAs with the hybrid combiner (transcript = the rekey TBS).
pub fn derive_sas(i: &DeriveInput<'_>) -> Result<DerivedSas, CombineError> {
    let ctx = LinkContext {
        ric_id: i.ric_sae_id.as_bytes(),
        node_id: i.node_sae_id.as_bytes(),
        epoch: u64::from(i.epoch),
        spi_ric_to_node: i.spi_ric_to_node,
        spi_node_to_ric: i.spi_node_to_ric,
        transcript: i.transcript,
    };
    let qkd = i.qkd.map(|(id, key)| QkdKey { key_id: qsafe_hybrid::KeyId::from_bytes(id), key });
    let keys = qsafe_hybrid::derive(mode_to_hybrid(i.mode), qkd, i.pqc, &ctx)?;
    let source = source_from_hybrid(keys.source());
    let spec = |direction, spi, keymat: Zeroizing<[u8; 36]>| SaSpec {
        epoch: i.epoch,
        spi,
        direction,
        keymat,
        key_source: source,
    };
    Ok(DerivedSas {
        ric_to_node: spec(Direction::RicToNode, i.spi_ric_to_node, keys.ric_to_node().keymat()),
        node_to_ric: spec(Direction::NodeToRic, i.spi_node_to_ric, keys.node_to_ric().keymat()),
        source,
    })
}
