//! E2SM-KPM v03.00 payloads: the octet strings E2AP carries as RAN function
//! definition, event trigger, action definition, indication header and
//! indication message.
//!
//! The generated types are already fully typed (KPM has no open types); this
//! module adds named decode/encode entry points with errors that say which
//! payload failed, and REAL helpers for `MeasurementRecordItem.real`.

use crate::kpm_asn as asn;
use crate::real::{self, RealError};

/// The RAN function OID of E2SM-KPM v3 (O-RAN.WG3.E2SM-KPM, §7.2).
pub const RAN_FUNCTION_OID: &str = "1.3.6.1.4.1.53148.1.3.2.2";
/// The RAN function short name of E2SM-KPM.
pub const RAN_FUNCTION_SHORT_NAME: &str = "ORAN-E2SM-KPM";

/// A KPM payload could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KpmError {
    #[error("E2SM-KPM {payload}: APER decoding failed: {detail}")]
    Decode { payload: &'static str, detail: String },
    #[error("E2SM-KPM {payload}: APER encoding failed: {detail}")]
    Encode { payload: &'static str, detail: String },
}

/// One of the top-level E2SM-KPM payload types.
pub trait KpmPayload: rasn::Encode + rasn::Decode {
    /// ASN.1 name of the payload type.
    const NAME: &'static str;

    /// Decodes the payload from APER.
    fn decode(bytes: &[u8]) -> Result<Self, KpmError> {
        rasn::aper::decode(bytes).map_err(|e| KpmError::Decode { payload: Self::NAME, detail: e.to_string() })
    }

    /// Encodes the payload in APER.
    fn encode(&self) -> Result<Vec<u8>, KpmError> {
        rasn::aper::encode(self).map_err(|e| KpmError::Encode { payload: Self::NAME, detail: e.to_string() })
    }
}

macro_rules! payloads {
    ($($ty:ident = $name:literal;)*) => {$(
        impl KpmPayload for asn::$ty { const NAME: &'static str = $name; }
    )*};
}

payloads! {
    E2SMKPMRANfunctionDescription = "E2SM-KPM-RANfunction-Description";
    E2SMKPMEventTriggerDefinition = "E2SM-KPM-EventTriggerDefinition";
    E2SMKPMActionDefinition = "E2SM-KPM-ActionDefinition";
    E2SMKPMIndicationHeader = "E2SM-KPM-IndicationHeader";
    E2SMKPMIndicationMessage = "E2SM-KPM-IndicationMessage";
}

/// A `MeasurementRecordItem.real` holding `value` (canonical X.690 form).
pub fn record_real(value: f64) -> asn::MeasurementRecordItem {
    asn::MeasurementRecordItem::real(real::encode(value).into())
}

/// The numeric value of a record item: `Some(Ok(x))` for integer and real,
/// `None` for `noValue`, `Some(Err(_))` for malformed REAL contents.
pub fn record_value(item: &asn::MeasurementRecordItem) -> Option<Result<f64, RealError>> {
    match item {
        asn::MeasurementRecordItem::integer(i) => Some(Ok(f64::from(*i))),
        asn::MeasurementRecordItem::real(contents) => Some(real::decode(contents)),
        asn::MeasurementRecordItem::noValue(()) => None,
    }
}

/// Event trigger "report every `period_ms` milliseconds" (Format 1).
pub fn periodic_trigger(period_ms: u32) -> asn::E2SMKPMEventTriggerDefinition {
    asn::E2SMKPMEventTriggerDefinition::new(
        asn::E2SMKPMEventTriggerDefinitionEventDefinitionFormats::eventDefinition_Format1(
            asn::E2SMKPMEventTriggerDefinitionFormat1::new(period_ms.max(1)),
        ),
    )
}
