//! The bytes each ML-DSA signature of E2SM-QKD covers ("to be signed").
//!
//! Every TBS is `label || 0x00 || fields`, with
//!
//! * integers big-endian, fixed width (`u8`, `u32`),
//! * every variable-length field prefixed with its length as `u16` BE,
//! * optional fields as a presence byte (`0x00` absent, `0x01` present) followed by the field,
//! * enumerations as one byte (the value listed in `docs/rekey-protocol.md`).
//!
//! The encoding is injective per label (every field has a fixed width or a length prefix), and
//! the labels differ, so a signature made for one kind of message never verifies as another.
//! A field longer than 65 535 bytes cannot be encoded (the E2SM-QKD ASN.1 bounds every field
//! well below that): the functions then return [`TbsError`] instead of truncating.

use qsafe_asn1::e2sm_qkd::{
    ControlCommand, ControlFailureCause, ControlOutcome, ControlResult, IsolateCommand, KemAlgorithm, KeySource,
    KeySourceMode, RekeyCommand, SetModeCommand, SignedKemKey,
};
use sha2::{Digest, Sha384};

/// Label of the signed ephemeral KEM key.
pub const LABEL_KEM_KEY: &[u8] = b"qsafe-ran e2sm-qkd v1 kem-key";
/// Label of REKEY.
pub const LABEL_REKEY: &[u8] = b"qsafe-ran e2sm-qkd v1 rekey";
/// Label of SET-MODE.
pub const LABEL_SET_MODE: &[u8] = b"qsafe-ran e2sm-qkd v1 set-mode";
/// Label of ISOLATE / RESTORE.
pub const LABEL_ISOLATE: &[u8] = b"qsafe-ran e2sm-qkd v1 isolate";
/// Label of the CONTROL OUTCOME.
pub const LABEL_OUTCOME: &[u8] = b"qsafe-ran e2sm-qkd v1 outcome";

/// A field too long for its `u16` length prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TBS field {field} is {len} bytes, longer than 65535")]
pub struct TbsError {
    /// The field.
    pub field: &'static str,
    /// Its length.
    pub len: usize,
}

struct Writer(Vec<u8>);

impl Writer {
    fn new(label: &[u8]) -> Self {
        let mut v = Vec::with_capacity(256);
        v.extend_from_slice(label);
        v.push(0);
        Writer(v)
    }
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn bytes(&mut self, field: &'static str, b: &[u8]) -> Result<(), TbsError> {
        let len = u16::try_from(b.len()).map_err(|_| TbsError { field, len: b.len() })?;
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(b);
        Ok(())
    }
    fn present(&mut self, p: bool) {
        self.0.push(u8::from(p));
    }
    fn raw(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
}

/// Wire byte of a [`KemAlgorithm`]: ML-KEM-768 = 1, ML-KEM-1024 = 2.
pub fn kem_algorithm_byte(a: KemAlgorithm) -> u8 {
    match a {
        KemAlgorithm::MlKem768 => 1,
        KemAlgorithm::MlKem1024 => 2,
    }
}

/// Wire byte of a [`KeySourceMode`]: qkd-and-pqc 1, at-least-qkd 2, at-least-pqc 3, either 4.
pub fn mode_byte(m: KeySourceMode) -> u8 {
    match m {
        KeySourceMode::QkdAndPqc => 1,
        KeySourceMode::AtLeastQkd => 2,
        KeySourceMode::AtLeastPqc => 3,
        KeySourceMode::Either => 4,
    }
}

/// Wire byte of a [`KeySource`]: qkd 1, pqc 2, hybrid 3.
pub fn source_byte(s: KeySource) -> u8 {
    match s {
        KeySource::Qkd => 1,
        KeySource::Pqc => 2,
        KeySource::Hybrid => 3,
    }
}

/// Wire byte of a [`ControlCommand`]: rekey 1, set-mode 2, isolate 3, restore 4.
pub fn command_byte(c: ControlCommand) -> u8 {
    match c {
        ControlCommand::Rekey => 1,
        ControlCommand::SetMode => 2,
        ControlCommand::Isolate => 3,
        ControlCommand::Restore => 4,
    }
}

/// Wire byte of a [`ControlFailureCause`], in ASN.1 enumeration order starting at 1
/// (malformed 1 ... busy 14).
pub fn cause_byte(c: ControlFailureCause) -> u8 {
    use ControlFailureCause as C;
    match c {
        C::Malformed => 1,
        C::BadSignature => 2,
        C::UntrustedCertificate => 3,
        C::WrongSaeId => 4,
        C::ReplayedEpoch => 5,
        C::UnknownKemKey => 6,
        C::KemFailure => 7,
        C::QkdKeyNotFound => 8,
        C::KmeUnavailable => 9,
        C::ModeNotSupported => 10,
        C::ModeViolation => 11,
        C::SpiInUse => 12,
        C::SaInstallFailed => 13,
        C::Busy => 14,
    }
}

/// SHA-384 of a certificate chain: `u8 count || (u16 len || DER)*`.
pub fn chain_hash(chain: &[bytes::Bytes]) -> Result<[u8; 48], TbsError> {
    let count = u8::try_from(chain.len()).map_err(|_| TbsError { field: "certificate chain", len: chain.len() })?;
    let mut h = Sha384::new();
    h.update([count]);
    for c in chain {
        let len = u16::try_from(c.len()).map_err(|_| TbsError { field: "certificate", len: c.len() })?;
        h.update(len.to_be_bytes());
        h.update(c);
    }
    Ok(h.finalize().into())
}

/// SHA-384 of a TBS (what an outcome binds of the command it answers).
pub fn tbs_hash(tbs: &[u8]) -> [u8; 48] {
    Sha384::digest(tbs).into()
}

/// `kem-key` TBS: node SAE ID, kem_key_id, algorithm, encapsulation key.
pub fn kem_key_tbs(node_sae_id: &str, key: &SignedKemKey) -> Result<Vec<u8>, TbsError> {
    let mut w = Writer::new(LABEL_KEM_KEY);
    w.bytes("node_sae_id", node_sae_id.as_bytes())?;
    w.u32(key.kem_key_id);
    w.u8(kem_algorithm_byte(key.algorithm));
    w.bytes("encapsulation_key", &key.encapsulation_key)?;
    Ok(w.0)
}

/// `rekey` TBS: every [`RekeyCommand`] field but the signature, in declaration order; the RIC
/// chain as its [`chain_hash`].
pub fn rekey_tbs(c: &RekeyCommand) -> Result<Vec<u8>, TbsError> {
    let mut w = Writer::new(LABEL_REKEY);
    w.u32(c.epoch);
    w.bytes("ric_sae_id", c.ric_sae_id.as_bytes())?;
    w.bytes("node_sae_id", c.node_sae_id.as_bytes())?;
    w.present(c.key_id.is_some());
    if let Some(id) = &c.key_id {
        w.raw(id);
    }
    w.present(c.kem_key_id.is_some());
    if let Some(id) = c.kem_key_id {
        w.u32(id);
    }
    w.present(c.kem_ciphertext.is_some());
    if let Some(ct) = &c.kem_ciphertext {
        w.bytes("kem_ciphertext", ct)?;
    }
    w.u32(c.spi_ric_to_node);
    w.u32(c.spi_node_to_ric);
    w.u8(mode_byte(c.mode));
    w.u8(source_byte(c.key_source));
    w.u32(c.grace_ms);
    w.present(c.ric_certificate_chain.is_some());
    if let Some(chain) = &c.ric_certificate_chain {
        w.raw(&chain_hash(chain)?);
    }
    Ok(w.0)
}

/// `set-mode` TBS: epoch, RIC SAE ID, node SAE ID, mode.
pub fn set_mode_tbs(c: &SetModeCommand) -> Result<Vec<u8>, TbsError> {
    let mut w = Writer::new(LABEL_SET_MODE);
    w.u32(c.epoch);
    w.bytes("ric_sae_id", c.ric_sae_id.as_bytes())?;
    w.bytes("node_sae_id", c.node_sae_id.as_bytes())?;
    w.u8(mode_byte(c.mode));
    Ok(w.0)
}

/// `isolate` TBS: epoch, RIC SAE ID, node SAE ID, isolate (1) or restore (0).
pub fn isolate_tbs(c: &IsolateCommand) -> Result<Vec<u8>, TbsError> {
    let mut w = Writer::new(LABEL_ISOLATE);
    w.u32(c.epoch);
    w.bytes("ric_sae_id", c.ric_sae_id.as_bytes())?;
    w.bytes("node_sae_id", c.node_sae_id.as_bytes())?;
    w.u8(u8::from(c.isolate));
    Ok(w.0)
}

/// `outcome` TBS: command, epoch, result, next KEM key (id, algorithm, key; not its signature),
/// then SHA-384 of the TBS of the command answered (`answered_tbs`).
pub fn outcome_tbs(o: &ControlOutcome, answered_tbs: &[u8]) -> Result<Vec<u8>, TbsError> {
    let mut w = Writer::new(LABEL_OUTCOME);
    w.u8(command_byte(o.command));
    w.u32(o.epoch);
    match o.result {
        ControlResult::Success(s) => {
            w.u8(0);
            w.u8(source_byte(s));
        }
        ControlResult::Failure(c) => {
            w.u8(1);
            w.u8(cause_byte(c));
        }
    }
    w.present(o.next_kem_key.is_some());
    if let Some(k) = &o.next_kem_key {
        w.u32(k.kem_key_id);
        w.u8(kem_algorithm_byte(k.algorithm));
        w.bytes("next_kem_key", &k.encapsulation_key)?;
    }
    w.raw(&tbs_hash(answered_tbs));
    Ok(w.0)
}

/// The TBS of any control message.
pub fn control_tbs(m: &qsafe_asn1::e2sm_qkd::ControlMessage) -> Result<Vec<u8>, TbsError> {
    use qsafe_asn1::e2sm_qkd::ControlMessage as M;
    match m {
        M::Rekey(c) => rekey_tbs(c),
        M::SetMode(c) => set_mode_tbs(c),
        M::Isolate(c) => isolate_tbs(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn kem_key_tbs_layout() {
        let k = SignedKemKey {
            kem_key_id: 0x0102_0304,
            algorithm: KemAlgorithm::MlKem768,
            encapsulation_key: Bytes::from_static(b"EK"),
            signature: Bytes::from_static(b"ignored"),
        };
        let t = kem_key_tbs("n1", &k).unwrap();
        let mut want = LABEL_KEM_KEY.to_vec();
        want.extend_from_slice(&[0, 0, 2, b'n', b'1', 1, 2, 3, 4, 1, 0, 2, b'E', b'K']);
        assert_eq!(t, want);
    }

    #[test]
    fn too_long_field_is_an_error_not_a_truncation() {
        let k = SignedKemKey {
            kem_key_id: 1,
            algorithm: KemAlgorithm::MlKem768,
            encapsulation_key: Bytes::from(vec![0; 70_000]),
            signature: Bytes::new(),
        };
        assert_eq!(kem_key_tbs("n", &k), Err(TbsError { field: "encapsulation_key", len: 70_000 }));
    }
}
