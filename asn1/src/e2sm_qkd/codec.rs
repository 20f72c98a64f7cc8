//! APER encoding and decoding of the E2SM-QKD payloads.
//!
//! Every payload goes through the same three steps in both directions:
//!
//! * **encode**: check the field rules on the typed value → convert to the
//!   generated type ([`crate::e2sm_qkd_asn`]) → `rasn::aper::encode`;
//! * **decode**: `rasn::aper::decode` → convert to the typed value → check
//!   the same field rules.
//!
//! So a value that encodes always decodes back to itself, and a decoded
//! value always encodes again. The rules are the ASN.1 sizes and ranges
//! (including those APER cannot see: the character counts of the UTF8String
//! IDs, the root sizes of the extensible PrintableStrings) and the rules of
//! the module comments (see [`E2smQkdError::Invalid`]). Values of an
//! extensible ENUMERATED or CHOICE that E2SM-QKD v01.00 does not define decode
//! to [`E2smQkdError::Invalid`] naming the field; unknown SEQUENCE extension
//! additions (a later minor version) are skipped.

use bytes::Bytes;
use rasn::error::{DecodeError, DecodeErrorKind};
use rasn::types::{FixedOctetString, OctetString, PrintableString};

use super::types::*;
use crate::e2sm_qkd_asn as asn;

/// Longest SAE ID / KME ID, in characters (`SAE-ID`, `KME-ID`).
pub const MAX_ID_CHARS: usize = 255;
/// Longest `ranFunctionShortName` / `ranFunctionDescription`, in characters.
pub const MAX_RAN_FUNCTION_NAME_CHARS: usize = 150;
/// Longest `ranFunctionOID`, in characters.
pub const MAX_RAN_FUNCTION_OID_CHARS: usize = 1000;
/// Most key source modes a RAN function definition lists.
pub const MAX_KEY_SOURCE_MODES: usize = 8;
/// Longest DER certificate in a chain, in octets.
pub const MAX_CERTIFICATE_LEN: usize = 65_535;
/// Longest ML-DSA signature, in octets (ML-DSA-87 is 4627).
pub const MAX_SIGNATURE_LEN: usize = 8192;
/// Longest ML-KEM encapsulation key or ciphertext, in octets.
pub const MAX_KEM_BLOB_LEN: usize = 4096;
/// Smallest valid SPI (RFC 4303 reserves 1..=255).
pub const MIN_SPI: u32 = 256;
/// Longest make-before-break grace, in ms.
pub const MAX_GRACE_MS: u32 = 600_000;
/// Shortest reporting period, in ms.
pub const MIN_REPORTING_PERIOD_MS: u32 = 10;
/// Longest reporting period, in ms.
pub const MAX_REPORTING_PERIOD_MS: u32 = 3_600_000;

/// An E2SM-QKD payload could not be decoded or encoded, or broke a field rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum E2smQkdError {
    /// The bytes are not a valid APER encoding of the payload type.
    #[error("E2SM-QKD {payload}: APER decoding failed: {detail}")]
    Decode {
        /// ASN.1 name of the payload type.
        payload: &'static str,
        /// What the decoder said.
        detail: String,
    },
    /// The value could not be encoded.
    #[error("E2SM-QKD {payload}: APER encoding failed: {detail}")]
    Encode {
        /// ASN.1 name of the payload type.
        payload: &'static str,
        /// What the encoder said.
        detail: String,
    },
    /// A field is out of its ASN.1 range/size, or a rule of the module
    /// comments is broken (e.g. header command ≠ message alternative,
    /// an event trigger with no trigger, ciphertext without KEM key id).
    #[error("E2SM-QKD {payload}.{field}: {reason}")]
    Invalid {
        /// ASN.1 name of the payload type.
        payload: &'static str,
        /// The field (ASN.1 name).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// One of the top-level E2SM-QKD payloads (one per E2AP octet string).
pub trait E2smQkdPayload: Sized {
    /// ASN.1 name of the payload type.
    const NAME: &'static str;
    /// Decodes from APER and checks the field rules.
    fn decode(bytes: &[u8]) -> Result<Self, E2smQkdError>;
    /// Checks the field rules and encodes in APER.
    fn encode(&self) -> Result<Vec<u8>, E2smQkdError>;
}

/// Decodes a RIC CONTROL REQUEST's header and message together and checks
/// that the header's command matches the message.
pub fn decode_control(header: &[u8], message: &[u8]) -> Result<(ControlHeader, ControlMessage), E2smQkdError> {
    let h = ControlHeader::decode(header)?;
    let m = ControlMessage::decode(message)?;
    check_header_matches(&h, &m)?;
    Ok((h, m))
}

/// Encodes a RIC CONTROL REQUEST's header (derived from the message, see
/// [`ControlHeader::for_message`]) and message: `(header, message)` bytes.
pub fn encode_control(message: &ControlMessage) -> Result<(Vec<u8>, Vec<u8>), E2smQkdError> {
    let header = ControlHeader::for_message(message);
    Ok((header.encode()?, message.encode()?))
}

/// Checks that a CONTROL header's command is the one its message carries
/// (`rekey` ↔ `rekey`, `set-mode` ↔ `setMode`, `isolate`/`restore` ↔
/// `isolate` with `isolate` TRUE/FALSE).
pub fn check_header_matches(header: &ControlHeader, message: &ControlMessage) -> Result<(), E2smQkdError> {
    let carried = message.command();
    if header.command == carried {
        return Ok(());
    }
    Err(E2smQkdError::Invalid {
        payload: ControlHeader::NAME,
        field: "command",
        reason: format!(
            "the header says {} but the message is {}",
            command_name(header.command),
            command_name(carried)
        ),
    })
}

fn command_name(c: ControlCommand) -> &'static str {
    match c {
        ControlCommand::Rekey => "rekey",
        ControlCommand::SetMode => "set-mode",
        ControlCommand::Isolate => "isolate",
        ControlCommand::Restore => "restore",
    }
}

// ---------------------------------------------------------------------------
// The payloads

macro_rules! payload {
    ($ty:ty, $asn:ty, $name:literal) => {
        impl E2smQkdPayload for $ty {
            const NAME: &'static str = $name;

            fn decode(bytes: &[u8]) -> Result<Self, E2smQkdError> {
                let raw: $asn = rasn::aper::decode(bytes).map_err(|e| decode_error(Self::NAME, &e))?;
                let value = <$ty>::from_asn(raw);
                value.check(Self::NAME)?;
                Ok(value)
            }

            fn encode(&self) -> Result<Vec<u8>, E2smQkdError> {
                self.check(Self::NAME)?;
                let raw = self.to_asn(Self::NAME)?;
                rasn::aper::encode(&raw)
                    .map_err(|e| E2smQkdError::Encode { payload: Self::NAME, detail: e.to_string() })
            }
        }
    };
}

payload!(RanFunctionDefinition, asn::E2SMQKDRANfunctionDefinition, "E2SM-QKD-RANfunction-Definition");
payload!(EventTrigger, asn::E2SMQKDEventTrigger, "E2SM-QKD-EventTrigger");
payload!(ActionDefinition, asn::E2SMQKDActionDefinition, "E2SM-QKD-ActionDefinition");
payload!(IndicationHeader, asn::E2SMQKDIndicationHeader, "E2SM-QKD-IndicationHeader");
payload!(IndicationMessage, asn::E2SMQKDIndicationMessage, "E2SM-QKD-IndicationMessage");
payload!(ControlHeader, asn::E2SMQKDControlHeader, "E2SM-QKD-ControlHeader");
payload!(ControlMessage, asn::E2SMQKDControlMessage, "E2SM-QKD-ControlMessage");
payload!(ControlOutcome, asn::E2SMQKDControlOutcome, "E2SM-QKD-ControlOutcome");

/// A rasn decoding error; an unknown extension value of an ENUMERATED or an
/// unknown extension alternative of a CHOICE becomes `Invalid` naming the
/// innermost field.
fn decode_error(payload: &'static str, e: &DecodeError) -> E2smQkdError {
    let mut path: Vec<&'static str> = Vec::new();
    let mut root = e;
    while let DecodeErrorKind::FieldError { name, nested } = &*root.kind {
        path.push(asn1_field_name(name));
        root = nested;
    }
    let field = path.last().copied().unwrap_or("(top level)");
    let at = if path.len() > 1 { format!(" (at {})", path.join(".")) } else { String::new() };
    match &*root.kind {
        DecodeErrorKind::EnumerationIndexNotFound { index, extended_list: true } => E2smQkdError::Invalid {
            payload,
            field,
            reason: format!("extension value #{index} of an ENUMERATED that E2SM-QKD v01.00 does not define{at}"),
        },
        DecodeErrorKind::ChoiceIndexNotFound { index, .. } => E2smQkdError::Invalid {
            payload,
            field,
            reason: format!("CHOICE alternative #{index} that E2SM-QKD v01.00 does not define{at}"),
        },
        _ => E2smQkdError::Decode { payload, detail: e.to_string() },
    }
}

/// The ASN.1 name of a generated field (rasn names fields `Type.rust_name`).
fn asn1_field_name(rasn_name: &'static str) -> &'static str {
    let rust = rasn_name.rsplit('.').next().unwrap_or(rasn_name);
    match rust {
        "ran_function_short_name" => "ranFunctionShortName",
        "ran_function_oid" => "ranFunctionOID",
        "ran_function_description" => "ranFunctionDescription",
        "node_sae_id" => "nodeSaeId",
        "node_kme_id" => "nodeKmeId",
        "ric_sae_id" => "ricSaeId",
        "supported_modes" => "supportedModes",
        "certificate_chain" => "certificateChain",
        "ric_certificate_chain" => "ricCertificateChain",
        "first_kem_key" => "firstKemKey",
        "next_kem_key" => "nextKemKey",
        "kem_key_id" => "kemKeyId",
        "encapsulation_key" => "encapsulationKey",
        "kem_ciphertext" => "kemCiphertext",
        "reporting_period_ms" => "reportingPeriodMs",
        "on_change" => "onChange",
        "include_next_kem_key" => "includeNextKemKey",
        "link_state" => "linkState",
        "current_sa" => "currentSa",
        "kme_stored_keys" => "kmeStoredKeys",
        "key_id" => "keyId",
        "spi_ric_to_node" => "spiRicToNode",
        "spi_node_to_ric" => "spiNodeToRic",
        "key_source" => "keySource",
        "age_ms" => "ageMs",
        "inbound_bytes" => "inboundBytes",
        "inbound_packets" => "inboundPackets",
        "outbound_bytes" => "outboundBytes",
        "outbound_packets" => "outboundPackets",
        "grace_ms" => "graceMs",
        "set_mode" => "setMode",
        other => other,
    }
}

// ---------------------------------------------------------------------------
// Field rules

fn invalid(payload: &'static str, field: &'static str, reason: impl Into<String>) -> E2smQkdError {
    E2smQkdError::Invalid { payload, field, reason: reason.into() }
}

/// A PrintableString of 1..=max characters (root size of `SIZE(1..max, ...)`).
fn check_printable(p: &'static str, field: &'static str, s: &str, max: usize) -> Result<(), E2smQkdError> {
    let n = s.chars().count();
    if n == 0 || n > max {
        return Err(invalid(p, field, format!("{n} characters; must be 1..={max}")));
    }
    if let Some(c) = s.chars().find(|&c| !is_printable(c)) {
        return Err(invalid(p, field, format!("character {c:?} is not in the PrintableString alphabet")));
    }
    Ok(())
}

/// The X.680 PrintableString alphabet.
fn is_printable(c: char) -> bool {
    c.is_ascii_alphanumeric() || " '()+,-./:=?".contains(c)
}

/// An `SAE-ID` / `KME-ID`: UTF8String of 1..=255 characters.
fn check_id(p: &'static str, field: &'static str, s: &str) -> Result<(), E2smQkdError> {
    let n = s.chars().count();
    if n == 0 || n > MAX_ID_CHARS {
        return Err(invalid(p, field, format!("{n} characters; must be 1..={MAX_ID_CHARS}")));
    }
    Ok(())
}

fn check_len(p: &'static str, field: &'static str, b: &[u8], max: usize) -> Result<(), E2smQkdError> {
    if b.is_empty() || b.len() > max {
        return Err(invalid(p, field, format!("{} octets; must be 1..={max}", b.len())));
    }
    Ok(())
}

fn check_range(p: &'static str, field: &'static str, v: u32, min: u32, max: u32) -> Result<(), E2smQkdError> {
    if v < min || v > max {
        return Err(invalid(p, field, format!("{v} is outside {min}..={max}")));
    }
    Ok(())
}

fn check_spi(p: &'static str, field: &'static str, spi: u32) -> Result<(), E2smQkdError> {
    if spi < MIN_SPI {
        return Err(invalid(p, field, format!("SPI {spi} is reserved (RFC 4303); must be >= {MIN_SPI}")));
    }
    Ok(())
}

fn check_chain(p: &'static str, field: &'static str, chain: &[Bytes]) -> Result<(), E2smQkdError> {
    if chain.is_empty() || chain.len() > MAX_CERTIFICATE_CHAIN_LENGTH {
        return Err(invalid(
            p,
            field,
            format!("{} certificates; must be 1..={MAX_CERTIFICATE_CHAIN_LENGTH}", chain.len()),
        ));
    }
    for (i, c) in chain.iter().enumerate() {
        if c.is_empty() || c.len() > MAX_CERTIFICATE_LEN {
            return Err(invalid(
                p,
                field,
                format!("certificate {i}: {} octets; must be 1..={MAX_CERTIFICATE_LEN}", c.len()),
            ));
        }
    }
    Ok(())
}

/// The field names of a `SignedKemKey` where it is used.
#[derive(Clone, Copy)]
enum KemKeyAt {
    First,
    Next,
}

fn check_kem_key(p: &'static str, at: KemKeyAt, k: &SignedKemKey) -> Result<(), E2smQkdError> {
    let (key, sig) = match at {
        KemKeyAt::First => ("firstKemKey.encapsulationKey", "firstKemKey.signature"),
        KemKeyAt::Next => ("nextKemKey.encapsulationKey", "nextKemKey.signature"),
    };
    check_len(p, key, &k.encapsulation_key, MAX_KEM_BLOB_LEN)?;
    check_len(p, sig, &k.signature, MAX_SIGNATURE_LEN)
}

/// Field rules of a typed value (the same on encode and decode).
trait Check {
    fn check(&self, p: &'static str) -> Result<(), E2smQkdError>;
}

impl Check for RanFunctionDefinition {
    fn check(&self, p: &'static str) -> Result<(), E2smQkdError> {
        check_printable(p, "ranFunctionShortName", &self.short_name, MAX_RAN_FUNCTION_NAME_CHARS)?;
        check_printable(p, "ranFunctionOID", &self.oid, MAX_RAN_FUNCTION_OID_CHARS)?;
        check_printable(p, "ranFunctionDescription", &self.description, MAX_RAN_FUNCTION_NAME_CHARS)?;
        check_id(p, "nodeSaeId", &self.node_sae_id)?;
        check_id(p, "nodeKmeId", &self.node_kme_id)?;
        let n = self.supported_modes.len();
        if n == 0 || n > MAX_KEY_SOURCE_MODES {
            return Err(invalid(p, "supportedModes", format!("{n} modes; must be 1..={MAX_KEY_SOURCE_MODES}")));
        }
        check_chain(p, "certificateChain", &self.certificate_chain)?;
        check_kem_key(p, KemKeyAt::First, &self.first_kem_key)
    }
}

impl Check for EventTrigger {
    fn check(&self, p: &'static str) -> Result<(), E2smQkdError> {
        match self.reporting_period_ms {
            Some(ms) => check_range(p, "reportingPeriodMs", ms, MIN_REPORTING_PERIOD_MS, MAX_REPORTING_PERIOD_MS),
            None if self.on_change => Ok(()),
            None => Err(invalid(p, "reportingPeriodMs", "no trigger: neither a reporting period nor onChange")),
        }
    }
}

impl Check for ActionDefinition {
    fn check(&self, _: &'static str) -> Result<(), E2smQkdError> {
        Ok(())
    }
}

impl Check for IndicationHeader {
    fn check(&self, _: &'static str) -> Result<(), E2smQkdError> {
        Ok(())
    }
}

impl Check for IndicationMessage {
    fn check(&self, p: &'static str) -> Result<(), E2smQkdError> {
        if let Some(sa) = &self.current_sa {
            check_spi(p, "currentSa.spiRicToNode", sa.spi_ric_to_node)?;
            check_spi(p, "currentSa.spiNodeToRic", sa.spi_node_to_ric)?;
        }
        if let Some(k) = &self.next_kem_key {
            check_kem_key(p, KemKeyAt::Next, k)?;
        }
        Ok(())
    }
}

impl Check for ControlHeader {
    fn check(&self, _: &'static str) -> Result<(), E2smQkdError> {
        Ok(())
    }
}

impl Check for ControlMessage {
    fn check(&self, p: &'static str) -> Result<(), E2smQkdError> {
        match self {
            ControlMessage::Rekey(r) => {
                check_id(p, "rekey.ricSaeId", &r.ric_sae_id)?;
                check_id(p, "rekey.nodeSaeId", &r.node_sae_id)?;
                match (&r.kem_key_id, &r.kem_ciphertext) {
                    (Some(_), Some(ct)) => check_len(p, "rekey.kemCiphertext", ct, MAX_KEM_BLOB_LEN)?,
                    (None, None) => {}
                    (Some(_), None) => {
                        return Err(invalid(
                            p,
                            "rekey.kemCiphertext",
                            "kemKeyId is present but kemCiphertext is absent",
                        ));
                    }
                    (None, Some(_)) => {
                        return Err(invalid(p, "rekey.kemKeyId", "kemCiphertext is present but kemKeyId is absent"));
                    }
                }
                check_spi(p, "rekey.spiRicToNode", r.spi_ric_to_node)?;
                check_spi(p, "rekey.spiNodeToRic", r.spi_node_to_ric)?;
                check_range(p, "rekey.activation.graceMs", r.grace_ms, 0, MAX_GRACE_MS)?;
                if let Some(chain) = &r.ric_certificate_chain {
                    check_chain(p, "rekey.ricCertificateChain", chain)?;
                }
                check_len(p, "rekey.signature", &r.signature, MAX_SIGNATURE_LEN)
            }
            ControlMessage::SetMode(s) => {
                check_id(p, "setMode.ricSaeId", &s.ric_sae_id)?;
                check_id(p, "setMode.nodeSaeId", &s.node_sae_id)?;
                check_len(p, "setMode.signature", &s.signature, MAX_SIGNATURE_LEN)
            }
            ControlMessage::Isolate(i) => {
                check_id(p, "isolate.ricSaeId", &i.ric_sae_id)?;
                check_id(p, "isolate.nodeSaeId", &i.node_sae_id)?;
                check_len(p, "isolate.signature", &i.signature, MAX_SIGNATURE_LEN)
            }
        }
    }
}

impl Check for ControlOutcome {
    fn check(&self, p: &'static str) -> Result<(), E2smQkdError> {
        if let Some(k) = &self.next_kem_key {
            check_kem_key(p, KemKeyAt::Next, k)?;
        }
        check_len(p, "signature", &self.signature, MAX_SIGNATURE_LEN)
    }
}

// ---------------------------------------------------------------------------
// Conversions typed <-> generated (after / before `check`)

fn printable(p: &'static str, field: &'static str, s: &str) -> Result<PrintableString, E2smQkdError> {
    PrintableString::from_bytes(s.as_bytes()).map_err(|e| invalid(p, field, format!("not a PrintableString: {e}")))
}

fn from_printable(s: &PrintableString) -> String {
    String::from_utf8_lossy(s.as_bytes()).into_owned()
}

fn octets(b: &Bytes) -> OctetString {
    OctetString::from(b.clone())
}

fn bytes(o: OctetString) -> Bytes {
    Bytes::from(o)
}

fn mode_to(m: KeySourceMode) -> asn::KeySourceMode {
    match m {
        KeySourceMode::QkdAndPqc => asn::KeySourceMode::qkd_and_pqc,
        KeySourceMode::AtLeastQkd => asn::KeySourceMode::at_least_qkd,
        KeySourceMode::AtLeastPqc => asn::KeySourceMode::at_least_pqc,
        KeySourceMode::Either => asn::KeySourceMode::either,
    }
}

fn mode_from(m: asn::KeySourceMode) -> KeySourceMode {
    match m {
        asn::KeySourceMode::qkd_and_pqc => KeySourceMode::QkdAndPqc,
        asn::KeySourceMode::at_least_qkd => KeySourceMode::AtLeastQkd,
        asn::KeySourceMode::at_least_pqc => KeySourceMode::AtLeastPqc,
        asn::KeySourceMode::either => KeySourceMode::Either,
    }
}

fn source_to(s: KeySource) -> asn::KeySource {
    match s {
        KeySource::Qkd => asn::KeySource::qkd,
        KeySource::Pqc => asn::KeySource::pqc,
        KeySource::Hybrid => asn::KeySource::hybrid,
    }
}

fn source_from(s: asn::KeySource) -> KeySource {
    match s {
        asn::KeySource::qkd => KeySource::Qkd,
        asn::KeySource::pqc => KeySource::Pqc,
        asn::KeySource::hybrid => KeySource::Hybrid,
    }
}

fn state_to(s: LinkState) -> asn::LinkState {
    match s {
        LinkState::Unprotected => asn::LinkState::unprotected,
        LinkState::Protected => asn::LinkState::protected,
        LinkState::Degraded => asn::LinkState::degraded,
        LinkState::Isolated => asn::LinkState::isolated,
    }
}

fn state_from(s: asn::LinkState) -> LinkState {
    match s {
        asn::LinkState::unprotected => LinkState::Unprotected,
        asn::LinkState::protected => LinkState::Protected,
        asn::LinkState::degraded => LinkState::Degraded,
        asn::LinkState::isolated => LinkState::Isolated,
    }
}

fn algorithm_to(a: KemAlgorithm) -> asn::KemAlgorithm {
    match a {
        KemAlgorithm::MlKem768 => asn::KemAlgorithm::ml_kem_768,
        KemAlgorithm::MlKem1024 => asn::KemAlgorithm::ml_kem_1024,
    }
}

fn algorithm_from(a: asn::KemAlgorithm) -> KemAlgorithm {
    match a {
        asn::KemAlgorithm::ml_kem_768 => KemAlgorithm::MlKem768,
        asn::KemAlgorithm::ml_kem_1024 => KemAlgorithm::MlKem1024,
    }
}

fn reason_to(r: ReportReason) -> asn::ReportReason {
    match r {
        ReportReason::Periodic => asn::ReportReason::periodic,
        ReportReason::EpochChange => asn::ReportReason::epoch_change,
        ReportReason::ModeChange => asn::ReportReason::mode_change,
        ReportReason::StateChange => asn::ReportReason::state_change,
    }
}

fn reason_from(r: asn::ReportReason) -> ReportReason {
    match r {
        asn::ReportReason::periodic => ReportReason::Periodic,
        asn::ReportReason::epoch_change => ReportReason::EpochChange,
        asn::ReportReason::mode_change => ReportReason::ModeChange,
        asn::ReportReason::state_change => ReportReason::StateChange,
    }
}

fn command_to(c: ControlCommand) -> asn::ControlCommand {
    match c {
        ControlCommand::Rekey => asn::ControlCommand::rekey,
        ControlCommand::SetMode => asn::ControlCommand::set_mode,
        ControlCommand::Isolate => asn::ControlCommand::isolate,
        ControlCommand::Restore => asn::ControlCommand::restore,
    }
}

fn command_from(c: asn::ControlCommand) -> ControlCommand {
    match c {
        asn::ControlCommand::rekey => ControlCommand::Rekey,
        asn::ControlCommand::set_mode => ControlCommand::SetMode,
        asn::ControlCommand::isolate => ControlCommand::Isolate,
        asn::ControlCommand::restore => ControlCommand::Restore,
    }
}

fn cause_to(c: ControlFailureCause) -> asn::ControlFailureCause {
    use ControlFailureCause as C;
    use asn::ControlFailureCause as A;
    match c {
        C::Malformed => A::malformed,
        C::BadSignature => A::bad_signature,
        C::UntrustedCertificate => A::untrusted_certificate,
        C::WrongSaeId => A::wrong_sae_id,
        C::ReplayedEpoch => A::replayed_epoch,
        C::UnknownKemKey => A::unknown_kem_key,
        C::KemFailure => A::kem_failure,
        C::QkdKeyNotFound => A::qkd_key_not_found,
        C::KmeUnavailable => A::kme_unavailable,
        C::ModeNotSupported => A::mode_not_supported,
        C::ModeViolation => A::mode_violation,
        C::SpiInUse => A::spi_in_use,
        C::SaInstallFailed => A::sa_install_failed,
        C::Busy => A::busy,
    }
}

fn cause_from(c: asn::ControlFailureCause) -> ControlFailureCause {
    use ControlFailureCause as C;
    use asn::ControlFailureCause as A;
    match c {
        A::malformed => C::Malformed,
        A::bad_signature => C::BadSignature,
        A::untrusted_certificate => C::UntrustedCertificate,
        A::wrong_sae_id => C::WrongSaeId,
        A::replayed_epoch => C::ReplayedEpoch,
        A::unknown_kem_key => C::UnknownKemKey,
        A::kem_failure => C::KemFailure,
        A::qkd_key_not_found => C::QkdKeyNotFound,
        A::kme_unavailable => C::KmeUnavailable,
        A::mode_not_supported => C::ModeNotSupported,
        A::mode_violation => C::ModeViolation,
        A::spi_in_use => C::SpiInUse,
        A::sa_install_failed => C::SaInstallFailed,
        A::busy => C::Busy,
    }
}

fn kem_key_to(k: &SignedKemKey) -> asn::SignedKemKey {
    asn::SignedKemKey::new(
        asn::KemKeyID(k.kem_key_id),
        algorithm_to(k.algorithm),
        octets(&k.encapsulation_key),
        asn::Signature(octets(&k.signature)),
    )
}

fn kem_key_from(k: asn::SignedKemKey) -> SignedKemKey {
    SignedKemKey {
        kem_key_id: k.kem_key_id.0,
        algorithm: algorithm_from(k.algorithm),
        encapsulation_key: bytes(k.encapsulation_key),
        signature: bytes(k.signature.0),
    }
}

fn chain_to(chain: &[Bytes]) -> asn::CertificateChain {
    asn::CertificateChain(chain.iter().map(|c| asn::Certificate(octets(c))).collect())
}

fn chain_from(chain: asn::CertificateChain) -> Vec<Bytes> {
    chain.0.into_iter().map(|c| bytes(c.0)).collect()
}

fn sae(s: &str) -> asn::SAEID {
    asn::SAEID(s.to_owned())
}

fn key_id_to(k: &Option<[u8; 16]>) -> Option<asn::QKDKeyID> {
    k.map(|k| asn::QKDKeyID(FixedOctetString::new(k)))
}

fn key_id_from(k: Option<asn::QKDKeyID>) -> Option<[u8; 16]> {
    k.map(|k| *k.0)
}

/// Conversion between a typed payload and its generated type.
trait Convert: Sized {
    type Asn;
    fn to_asn(&self, p: &'static str) -> Result<Self::Asn, E2smQkdError>;
    fn from_asn(a: Self::Asn) -> Self;
}

impl Convert for RanFunctionDefinition {
    type Asn = asn::E2SMQKDRANfunctionDefinition;

    fn to_asn(&self, p: &'static str) -> Result<Self::Asn, E2smQkdError> {
        Ok(asn::E2SMQKDRANfunctionDefinition::new(
            printable(p, "ranFunctionShortName", &self.short_name)?,
            printable(p, "ranFunctionOID", &self.oid)?,
            printable(p, "ranFunctionDescription", &self.description)?,
            sae(&self.node_sae_id),
            asn::KMEID(self.node_kme_id.clone()),
            self.supported_modes.iter().copied().map(mode_to).collect(),
            chain_to(&self.certificate_chain),
            kem_key_to(&self.first_kem_key),
        ))
    }

    fn from_asn(a: Self::Asn) -> Self {
        RanFunctionDefinition {
            short_name: from_printable(&a.ran_function_short_name),
            oid: from_printable(&a.ran_function_oid),
            description: from_printable(&a.ran_function_description),
            node_sae_id: a.node_sae_id.0,
            node_kme_id: a.node_kme_id.0,
            supported_modes: a.supported_modes.into_iter().map(mode_from).collect(),
            certificate_chain: chain_from(a.certificate_chain),
            first_kem_key: kem_key_from(a.first_kem_key),
        }
    }
}

impl Convert for EventTrigger {
    type Asn = asn::E2SMQKDEventTrigger;

    fn to_asn(&self, _: &'static str) -> Result<Self::Asn, E2smQkdError> {
        Ok(asn::E2SMQKDEventTrigger::new(self.reporting_period_ms, self.on_change))
    }

    fn from_asn(a: Self::Asn) -> Self {
        EventTrigger { reporting_period_ms: a.reporting_period_ms, on_change: a.on_change }
    }
}

impl Convert for ActionDefinition {
    type Asn = asn::E2SMQKDActionDefinition;

    fn to_asn(&self, _: &'static str) -> Result<Self::Asn, E2smQkdError> {
        Ok(asn::E2SMQKDActionDefinition::new(self.include_next_kem_key))
    }

    fn from_asn(a: Self::Asn) -> Self {
        ActionDefinition { include_next_kem_key: a.include_next_kem_key }
    }
}

impl Convert for IndicationHeader {
    type Asn = asn::E2SMQKDIndicationHeader;

    fn to_asn(&self, _: &'static str) -> Result<Self::Asn, E2smQkdError> {
        Ok(asn::E2SMQKDIndicationHeader::new(OctetString::from(self.timestamp), reason_to(self.reason)))
    }

    fn from_asn(a: Self::Asn) -> Self {
        // SIZE(8) is PER-visible: the decoder only yields 8 octets.
        let mut timestamp = [0u8; 8];
        let n = a.timestamp.len().min(8);
        timestamp[..n].copy_from_slice(&a.timestamp[..n]);
        IndicationHeader { timestamp, reason: reason_from(a.reason) }
    }
}

impl Convert for IndicationMessage {
    type Asn = asn::E2SMQKDIndicationMessage;

    fn to_asn(&self, _: &'static str) -> Result<Self::Asn, E2smQkdError> {
        let sa = self.current_sa.map(|s| {
            asn::CurrentSA::new(
                asn::Epoch(s.epoch),
                key_id_to(&s.key_id),
                asn::SPI(s.spi_ric_to_node),
                asn::SPI(s.spi_node_to_ric),
                source_to(s.key_source),
                s.age_ms,
                asn::Counter64(s.inbound_bytes),
                asn::Counter64(s.inbound_packets),
                asn::Counter64(s.outbound_bytes),
                asn::Counter64(s.outbound_packets),
            )
        });
        Ok(asn::E2SMQKDIndicationMessage::new(
            state_to(self.link_state),
            mode_to(self.mode),
            sa,
            self.kme_stored_keys,
            self.next_kem_key.as_ref().map(kem_key_to),
        ))
    }

    fn from_asn(a: Self::Asn) -> Self {
        IndicationMessage {
            link_state: state_from(a.link_state),
            mode: mode_from(a.mode),
            current_sa: a.current_sa.map(|s| CurrentSa {
                epoch: s.epoch.0,
                key_id: key_id_from(s.key_id),
                spi_ric_to_node: s.spi_ric_to_node.0,
                spi_node_to_ric: s.spi_node_to_ric.0,
                key_source: source_from(s.key_source),
                age_ms: s.age_ms,
                inbound_bytes: s.inbound_bytes.0,
                inbound_packets: s.inbound_packets.0,
                outbound_bytes: s.outbound_bytes.0,
                outbound_packets: s.outbound_packets.0,
            }),
            kme_stored_keys: a.kme_stored_keys,
            next_kem_key: a.next_kem_key.map(kem_key_from),
        }
    }
}

impl Convert for ControlHeader {
    type Asn = asn::E2SMQKDControlHeader;

    fn to_asn(&self, _: &'static str) -> Result<Self::Asn, E2smQkdError> {
        Ok(asn::E2SMQKDControlHeader::new(command_to(self.command)))
    }

    fn from_asn(a: Self::Asn) -> Self {
        ControlHeader { command: command_from(a.command) }
    }
}

impl Convert for ControlMessage {
    type Asn = asn::E2SMQKDControlMessage;

    fn to_asn(&self, _: &'static str) -> Result<Self::Asn, E2smQkdError> {
        Ok(match self {
            ControlMessage::Rekey(r) => asn::E2SMQKDControlMessage::rekey(asn::RekeyCommand::new(
                asn::Epoch(r.epoch),
                sae(&r.ric_sae_id),
                sae(&r.node_sae_id),
                key_id_to(&r.key_id),
                r.kem_key_id.map(asn::KemKeyID),
                r.kem_ciphertext.as_ref().map(octets),
                asn::SPI(r.spi_ric_to_node),
                asn::SPI(r.spi_node_to_ric),
                mode_to(r.mode),
                source_to(r.key_source),
                asn::Activation::new(r.grace_ms),
                r.ric_certificate_chain.as_deref().map(chain_to),
                asn::Signature(octets(&r.signature)),
            )),
            ControlMessage::SetMode(s) => asn::E2SMQKDControlMessage::setMode(asn::SetModeCommand::new(
                asn::Epoch(s.epoch),
                sae(&s.ric_sae_id),
                sae(&s.node_sae_id),
                mode_to(s.mode),
                asn::Signature(octets(&s.signature)),
            )),
            ControlMessage::Isolate(i) => asn::E2SMQKDControlMessage::isolate(asn::IsolateCommand::new(
                asn::Epoch(i.epoch),
                sae(&i.ric_sae_id),
                sae(&i.node_sae_id),
                i.isolate,
                asn::Signature(octets(&i.signature)),
            )),
        })
    }

    fn from_asn(a: Self::Asn) -> Self {
        match a {
            asn::E2SMQKDControlMessage::rekey(r) => ControlMessage::Rekey(RekeyCommand {
                epoch: r.epoch.0,
                ric_sae_id: r.ric_sae_id.0,
                node_sae_id: r.node_sae_id.0,
                key_id: key_id_from(r.key_id),
                kem_key_id: r.kem_key_id.map(|k| k.0),
                kem_ciphertext: r.kem_ciphertext.map(bytes),
                spi_ric_to_node: r.spi_ric_to_node.0,
                spi_node_to_ric: r.spi_node_to_ric.0,
                mode: mode_from(r.mode),
                key_source: source_from(r.key_source),
                grace_ms: r.activation.grace_ms,
                ric_certificate_chain: r.ric_certificate_chain.map(chain_from),
                signature: bytes(r.signature.0),
            }),
            asn::E2SMQKDControlMessage::setMode(s) => ControlMessage::SetMode(SetModeCommand {
                epoch: s.epoch.0,
                ric_sae_id: s.ric_sae_id.0,
                node_sae_id: s.node_sae_id.0,
                mode: mode_from(s.mode),
                signature: bytes(s.signature.0),
            }),
            asn::E2SMQKDControlMessage::isolate(i) => ControlMessage::Isolate(IsolateCommand {
                epoch: i.epoch.0,
                ric_sae_id: i.ric_sae_id.0,
                node_sae_id: i.node_sae_id.0,
                isolate: i.isolate,
                signature: bytes(i.signature.0),
            }),
        }
    }
}

impl Convert for ControlOutcome {
    type Asn = asn::E2SMQKDControlOutcome;

    fn to_asn(&self, _: &'static str) -> Result<Self::Asn, E2smQkdError> {
        let result = match self.result {
            ControlResult::Success(s) => asn::E2SMQKDControlOutcomeResult::success(source_to(s)),
            ControlResult::Failure(c) => asn::E2SMQKDControlOutcomeResult::failure(cause_to(c)),
        };
        Ok(asn::E2SMQKDControlOutcome::new(
            command_to(self.command),
            asn::Epoch(self.epoch),
            result,
            self.next_kem_key.as_ref().map(kem_key_to),
            asn::Signature(octets(&self.signature)),
        ))
    }

    fn from_asn(a: Self::Asn) -> Self {
        ControlOutcome {
            command: command_from(a.command),
            epoch: a.epoch.0,
            result: match a.result {
                asn::E2SMQKDControlOutcomeResult::success(s) => ControlResult::Success(source_from(s)),
                asn::E2SMQKDControlOutcomeResult::failure(c) => ControlResult::Failure(cause_from(c)),
            },
            next_kem_key: a.next_kem_key.map(kem_key_from),
            signature: bytes(a.signature.0),
        }
    }
}
