//! Typed E2AP v03.01 messages over the generated APER codec.
//!
//! ```
//! use qsafe_asn1::e2ap::{E2apPdu, E2SetupRequest, build};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let req = E2SetupRequest {
//!     transaction_id: build::transaction_id(1),
//!     global_e2_node_id: build::gnb_node_id(build::plmn("001", "01")?, 0xE000, 28)?,
//!     ran_functions: vec![build::ran_function(2, 1, qsafe_asn1::kpm::RAN_FUNCTION_OID, b"kpm-def")?],
//!     component_config_addition: vec![build::f1_component(7, b"f1 setup", b"f1 setup ack")?],
//! };
//! let bytes = E2apPdu::from(req.clone()).encode()?;
//! assert_eq!(E2apPdu::decode(&bytes)?, E2apPdu::E2SetupRequest(req));
//! # Ok(())
//! # }
//! ```
//!
//! Decoding never panics on any input: every failure is an [`E2apError`]
//! naming the message and IE. IEs whose id the message does not define are
//! skipped when their criticality is `ignore` or `notify` and listed in the
//! [`DecodeReport`]; with criticality `reject` the PDU is refused
//! ([`E2apError::UnknownIeReject`]), as E2AP §10 requires.

pub mod build;
mod error;
mod ie;
mod message;

pub use error::{E2apError, IeError, MessageKind};
pub use ie::{ContainerItem, IeValue, RawIe, SubscriptionDetails};
pub use message::*;

use rasn::types::Any;
use serde_json::{Value, json};

use crate::e2ap_asn::{self as asn, Criticality, ProcedureCode};

/// An IE the decoder did not understand and skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedIe {
    /// ASN.1 name of the message that carried it.
    pub message: &'static str,
    /// Its protocol IE id.
    pub id: u16,
    /// Its criticality (`ignore` or `notify`; `notify` should be reported back
    /// in an Error Indication's criticality diagnostics).
    pub criticality: Criticality,
    /// Length of its (unparsed) value in bytes.
    pub len: usize,
}

/// What the decoder noticed but did not fail on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeReport {
    /// IEs with unknown ids that were skipped.
    pub skipped: Vec<SkippedIe>,
}

macro_rules! pdus {
    ($( $variant:ident => $kind:ident $proc:ident $crit:ident; )*) => {
        /// One E2AP PDU of the procedures qsafe-ran speaks.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[allow(clippy::large_enum_variant)]
        pub enum E2apPdu {
            $( $variant($variant), )*
        }

        $(
            impl From<$variant> for E2apPdu {
                fn from(m: $variant) -> Self { E2apPdu::$variant(m) }
            }
        )*

        impl E2apPdu {
            /// The message's ASN.1 name, e.g. `"RICindication"`.
            pub fn name(&self) -> &'static str {
                match self { $( E2apPdu::$variant(_) => $variant::ASN1_NAME, )* }
            }

            /// Which PDU alternative the message is sent as.
            pub fn kind(&self) -> MessageKind {
                match self { $( E2apPdu::$variant(_) => MessageKind::$kind, )* }
            }

            /// The elementary procedure code (E2AP §9.2).
            pub fn procedure_code(&self) -> u8 {
                match self { $( E2apPdu::$variant(_) => asn::$proc.0, )* }
            }

            /// The procedure's criticality from the E2AP-ELEMENTARY-PROCEDURE table.
            pub fn procedure_criticality(&self) -> Criticality {
                match self { $( E2apPdu::$variant(_) => Criticality::$crit, )* }
            }

            /// Encodes the whole E2AP-PDU in APER.
            pub fn encode(&self) -> Result<Vec<u8>, E2apError> {
                let value = match self { $( E2apPdu::$variant(m) => m.encode_value()?, )* };
                let pc = ProcedureCode(self.procedure_code());
                let crit = self.procedure_criticality();
                let pdu = match self.kind() {
                    MessageKind::InitiatingMessage => asn::E2APPDU::initiatingMessage(asn::InitiatingMessage::new(pc, crit, Any::new(value))),
                    MessageKind::SuccessfulOutcome => asn::E2APPDU::successfulOutcome(asn::SuccessfulOutcome::new(pc, crit, Any::new(value))),
                    MessageKind::UnsuccessfulOutcome => asn::E2APPDU::unsuccessfulOutcome(asn::UnsuccessfulOutcome::new(pc, crit, Any::new(value))),
                };
                rasn::aper::encode(&pdu).map_err(|e| E2apError::Encode { message: self.name(), ie: "E2AP-PDU", detail: e.to_string() })
            }

            /// Decodes an APER E2AP-PDU; unknown `ignore`/`notify` IEs are skipped silently.
            pub fn decode(bytes: &[u8]) -> Result<Self, E2apError> {
                Self::decode_with_report(bytes).map(|(pdu, _)| pdu)
            }

            /// Decodes an APER E2AP-PDU and reports what was skipped.
            pub fn decode_with_report(bytes: &[u8]) -> Result<(Self, DecodeReport), E2apError> {
                let pdu: asn::E2APPDU = rasn::aper::decode(bytes).map_err(|e| E2apError::Pdu(e.to_string()))?;
                let (kind, code, value) = match &pdu {
                    asn::E2APPDU::initiatingMessage(m) => (MessageKind::InitiatingMessage, m.procedure_code.0, m.value.as_bytes()),
                    asn::E2APPDU::successfulOutcome(m) => (MessageKind::SuccessfulOutcome, m.procedure_code.0, m.value.as_bytes()),
                    asn::E2APPDU::unsuccessfulOutcome(m) => (MessageKind::UnsuccessfulOutcome, m.procedure_code.0, m.value.as_bytes()),
                };
                let mut report = DecodeReport::default();
                $(
                    if kind == MessageKind::$kind && code == asn::$proc.0 {
                        let m = $variant::decode_value(value, &mut report)?;
                        return Ok((E2apPdu::$variant(m), report));
                    }
                )*
                Err(E2apError::UnsupportedProcedure { kind, procedure_code: code })
            }

            /// The X.697 JER view of the whole PDU, open types opened — the same
            /// JSON pycrate's `to_jer()` produces (modulo hex letter case) for
            /// PDUs that use the IE tables' criticalities. Limit: an INTEGER
            /// beyond 64 bits (possible in an extensible range such as
            /// `TransactionID ::= INTEGER (0..255, ...)`) cannot be shown
            /// (rasn's JER) and gives [`E2apError::Ie`]; APER carries it.
            pub fn to_jer(&self) -> Result<Value, E2apError> {
                let value = match self { $( E2apPdu::$variant(m) => m.to_jer()?, )* };
                let crit = match self.procedure_criticality() {
                    Criticality::reject => "reject",
                    Criticality::ignore => "ignore",
                    Criticality::notify => "notify",
                };
                Ok(json!({ self.kind().to_string(): {
                    "procedureCode": self.procedure_code(),
                    "criticality": crit,
                    "value": value,
                }}))
            }

            /// Reads the JER view back (inverse of [`E2apPdu::to_jer`]).
            pub fn from_jer(v: &Value) -> Result<Self, E2apError> {
                let (kind, inner) = [
                    (MessageKind::InitiatingMessage, "initiatingMessage"),
                    (MessageKind::SuccessfulOutcome, "successfulOutcome"),
                    (MessageKind::UnsuccessfulOutcome, "unsuccessfulOutcome"),
                ]
                .into_iter()
                .find_map(|(k, key)| v.get(key).map(|inner| (k, inner)))
                .ok_or_else(|| E2apError::Jer("not an E2AP-PDU CHOICE".into()))?;
                let code = inner
                    .get("procedureCode")
                    .and_then(Value::as_u64)
                    .and_then(|c| u8::try_from(c).ok())
                    .ok_or_else(|| E2apError::Jer("missing procedureCode".into()))?;
                let value = inner.get("value").ok_or_else(|| E2apError::Jer("missing value".into()))?;
                $(
                    if kind == MessageKind::$kind && code == asn::$proc.0 {
                        return Ok(E2apPdu::$variant($variant::from_jer(value)?));
                    }
                )*
                Err(E2apError::UnsupportedProcedure { kind, procedure_code: code })
            }
        }
    };
}

pdus! {
    E2SetupRequest => InitiatingMessage ID_E2SETUP reject;
    E2SetupResponse => SuccessfulOutcome ID_E2SETUP reject;
    E2SetupFailure => UnsuccessfulOutcome ID_E2SETUP reject;
    RicSubscriptionRequest => InitiatingMessage ID_RICSUBSCRIPTION reject;
    RicSubscriptionResponse => SuccessfulOutcome ID_RICSUBSCRIPTION reject;
    RicSubscriptionFailure => UnsuccessfulOutcome ID_RICSUBSCRIPTION reject;
    RicSubscriptionDeleteRequest => InitiatingMessage ID_RICSUBSCRIPTION_DELETE reject;
    RicSubscriptionDeleteResponse => SuccessfulOutcome ID_RICSUBSCRIPTION_DELETE reject;
    RicSubscriptionDeleteFailure => UnsuccessfulOutcome ID_RICSUBSCRIPTION_DELETE reject;
    RicSubscriptionDeleteRequired => InitiatingMessage ID_RICSUBSCRIPTION_DELETE_REQUIRED ignore;
    RicIndication => InitiatingMessage ID_RICINDICATION ignore;
    RicControlRequest => InitiatingMessage ID_RICCONTROL reject;
    RicControlAcknowledge => SuccessfulOutcome ID_RICCONTROL reject;
    RicControlFailure => UnsuccessfulOutcome ID_RICCONTROL reject;
    ErrorIndication => InitiatingMessage ID_ERROR_INDICATION ignore;
    ResetRequest => InitiatingMessage ID_RESET reject;
    ResetResponse => SuccessfulOutcome ID_RESET reject;
    RicServiceUpdate => InitiatingMessage ID_RICSERVICE_UPDATE reject;
    RicServiceUpdateAcknowledge => SuccessfulOutcome ID_RICSERVICE_UPDATE reject;
    RicServiceUpdateFailure => UnsuccessfulOutcome ID_RICSERVICE_UPDATE reject;
    RicServiceQuery => InitiatingMessage ID_RICSERVICE_QUERY ignore;
    E2NodeConfigurationUpdate => InitiatingMessage ID_E2NODE_CONFIGURATION_UPDATE reject;
    E2NodeConfigurationUpdateAcknowledge => SuccessfulOutcome ID_E2NODE_CONFIGURATION_UPDATE reject;
    E2NodeConfigurationUpdateFailure => UnsuccessfulOutcome ID_E2NODE_CONFIGURATION_UPDATE reject;
}

/// Re-encodes raw bytes through the generated types only (no typed layer):
/// the byte-identity check used by the conformance tests.
pub fn reencode_raw(bytes: &[u8]) -> Result<Vec<u8>, E2apError> {
    let pdu: asn::E2APPDU = rasn::aper::decode(bytes).map_err(|e| E2apError::Pdu(e.to_string()))?;
    rasn::aper::encode(&pdu).map_err(|e| E2apError::Pdu(e.to_string()))
}
