//! The derivation itself: HKDF-SHA-384 over the length-prefixed secrets,
//! salted with the transcript hash, expanded once per direction with an
//! `info` that binds the link. The byte layout is specified in
//! `docs/hybrid-combiner.md` and reproduced independently by
//! `tests/vectors/make_vectors.py`.

use hkdf::HkdfExtract;
use sha2::{Digest, Sha384};
use zeroize::{Zeroize, Zeroizing};

use crate::error::CombineError;
use crate::key_id::KeyId;
use crate::keys::{ESP_KEYMAT_LEN, EspKey, LinkKeys, Role};
use crate::mode::{KeySource, Mode};

/// Protocol label at the start of every `info`; a different construction
/// gets a different label.
pub const LABEL: &[u8] = b"qsafe-ran e2 link key v1";
/// Direction label of the RIC → E2 node SA.
pub const DIRECTION_RIC_TO_NODE: &[u8] = b"ric-to-node";
/// Direction label of the E2 node → RIC SA.
pub const DIRECTION_NODE_TO_RIC: &[u8] = b"node-to-ric";
/// Shortest QKD key accepted: 128 bits.
pub const MIN_QKD_KEY_LEN: usize = 16;
/// Longest QKD key accepted: 8192 bits (ETSI GS QKD 014 lets the SAE ask
/// for any size; anything longer is a configuration mistake).
pub const MAX_QKD_KEY_LEN: usize = 1024;
/// Length of an ML-KEM shared secret (every parameter set, FIPS 203).
pub const PQC_SECRET_LEN: usize = 32;
/// Longest endpoint id accepted.
pub const MAX_ENDPOINT_ID_LEN: usize = 255;

/// A QKD key as delivered by the KME (ETSI GS QKD 014 `key` + `key_ID`).
///
/// Borrowed: the caller keeps the bytes in its own zeroizing storage; the
/// combiner never copies them into a buffer of its own.
#[derive(Clone, Copy)]
pub struct QkdKey<'a> {
    /// The key's `key_ID`, bound into the derivation.
    pub key_id: KeyId,
    /// The key bytes (16..=1024).
    pub key: &'a [u8],
}

impl std::fmt::Debug for QkdKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QkdKey")
            .field("key_id", &self.key_id)
            .field("key", &format_args!("<{} bytes redacted>", self.key.len()))
            .finish()
    }
}

/// What the keys are for: the link, its epoch and its SAs, and the rekey
/// exchange that produced the secrets. Nothing here is secret.
#[derive(Debug, Clone, Copy)]
pub struct LinkContext<'a> {
    /// The RIC's id (1..=255 bytes; the same bytes on both ends).
    pub ric_id: &'a [u8],
    /// The E2 node's id (1..=255 bytes; the same bytes on both ends).
    pub node_id: &'a [u8],
    /// The rekey epoch (increases with every rekey of the link).
    pub epoch: u64,
    /// SPI of the RIC → E2 node SA (>= 256).
    pub spi_ric_to_node: u32,
    /// SPI of the E2 node → RIC SA (>= 256).
    pub spi_node_to_ric: u32,
    /// The rekey transcript (non-empty); its SHA-384 is the HKDF salt.
    pub transcript: &'a [u8],
}

/// Derives the ESP keys of both directions of an E2 link.
///
/// * `mode`: which sources are required ([`Mode`]); a missing required
///   source is an error, never a weaker key.
/// * `qkd`: the QKD key and its `key_ID`, if one is available.
/// * `pqc`: the ML-KEM shared secret (32 bytes), if one is available.
///
/// Every *present* input is validated and used: a malformed QKD key or
/// ML-KEM secret is an error, not treated as absent. The sources used are
/// returned ([`LinkKeys::source`]) and bound into both keys.
pub fn derive(
    mode: Mode,
    qkd: Option<QkdKey<'_>>,
    pqc: Option<&[u8]>,
    ctx: &LinkContext<'_>,
) -> Result<LinkKeys, CombineError> {
    validate(qkd, pqc, ctx)?;
    let source = mode.select(qkd.is_some(), pqc.is_some())?;

    // IKM = u16(len Z_qkd) || Z_qkd || u16(len Z_pqc) || Z_pqc, an absent
    // source being length 0. Fed to HKDF-Extract piecewise, so the secrets
    // are never concatenated into a buffer of ours.
    let transcript_hash = Sha384::digest(ctx.transcript);
    let mut extract = HkdfExtract::<Sha384>::new(Some(&transcript_hash));
    for secret in [qkd.map(|q| q.key), pqc] {
        let secret = secret.unwrap_or_default();
        extract.input_ikm(&u16_len(secret.len()).to_be_bytes());
        extract.input_ikm(secret);
    }
    let (mut prk, hkdf) = extract.finalize();
    // The PRK copy returned to us is wiped at once (the HMAC state inside
    // `hkdf` belongs to RustCrypto and is not wiped; see the design note).
    prk.as_mut_slice().zeroize();

    let key_id = qkd.map(|q| q.key_id);
    let expand = |direction: &[u8], spi: u32| {
        let info = info(direction, mode, source, key_id, ctx);
        let mut keymat = Zeroizing::new([0u8; ESP_KEYMAT_LEN]);
        // HKDF-Expand fails only above 255 * 48 bytes; 36 never does, but
        // that stays an error rather than a panic.
        hkdf.expand(&info, keymat.as_mut_slice()).map_err(|_| CombineError::ExpandLength { len: ESP_KEYMAT_LEN })?;
        Ok::<_, CombineError>(EspKey::from_keymat(spi, &keymat))
    };
    let ric_to_node = expand(DIRECTION_RIC_TO_NODE, ctx.spi_ric_to_node)?;
    let node_to_ric = expand(DIRECTION_NODE_TO_RIC, ctx.spi_node_to_ric)?;
    Ok(LinkKeys::new(source, ric_to_node, node_to_ric))
}

fn validate(qkd: Option<QkdKey<'_>>, pqc: Option<&[u8]>, ctx: &LinkContext<'_>) -> Result<(), CombineError> {
    if let Some(q) = qkd
        && !(MIN_QKD_KEY_LEN..=MAX_QKD_KEY_LEN).contains(&q.key.len())
    {
        return Err(CombineError::QkdKeyLength { len: q.key.len(), min: MIN_QKD_KEY_LEN, max: MAX_QKD_KEY_LEN });
    }
    if let Some(p) = pqc
        && p.len() != PQC_SECRET_LEN
    {
        return Err(CombineError::PqcSecretLength { len: p.len(), expected: PQC_SECRET_LEN });
    }
    for (endpoint, id) in [(Role::Ric, ctx.ric_id), (Role::E2Node, ctx.node_id)] {
        if id.is_empty() {
            return Err(CombineError::EmptyEndpointId { endpoint });
        }
        if id.len() > MAX_ENDPOINT_ID_LEN {
            return Err(CombineError::EndpointIdTooLong { endpoint, len: id.len(), max: MAX_ENDPOINT_ID_LEN });
        }
    }
    for (spi, from) in [(ctx.spi_ric_to_node, Role::Ric), (ctx.spi_node_to_ric, Role::E2Node)] {
        if spi < 256 {
            return Err(CombineError::ReservedSpi { spi, from, to: from.peer() });
        }
    }
    if ctx.transcript.is_empty() {
        return Err(CombineError::EmptyTranscript);
    }
    Ok(())
}

/// Lengths are bounded by validation (<= 1024); saturate rather than wrap.
fn u16_len(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

fn put_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&u16_len(bytes.len()).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// The HKDF `info` of one direction (see the design note for the layout).
fn info(direction: &[u8], mode: Mode, source: KeySource, key_id: Option<KeyId>, ctx: &LinkContext<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + ctx.ric_id.len() + ctx.node_id.len());
    put_prefixed(&mut out, LABEL);
    put_prefixed(&mut out, direction);
    put_prefixed(&mut out, mode.as_str().as_bytes());
    put_prefixed(&mut out, source.as_str().as_bytes());
    put_prefixed(&mut out, ctx.ric_id);
    put_prefixed(&mut out, ctx.node_id);
    match key_id {
        Some(id) => {
            out.push(0x01);
            out.extend_from_slice(id.as_bytes());
        }
        None => out.push(0x00),
    }
    out.extend_from_slice(&ctx.epoch.to_be_bytes());
    out.extend_from_slice(&ctx.spi_ric_to_node.to_be_bytes());
    out.extend_from_slice(&ctx.spi_node_to_ric.to_be_bytes());
    out
}
