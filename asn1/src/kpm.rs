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
    fn decode_aper(bytes: &[u8]) -> Result<Self, KpmError> {
        rasn::aper::decode(bytes).map_err(|e| KpmError::Decode { payload: Self::NAME, detail: e.to_string() })
    }

    /// Encodes the payload in APER.
    fn encode_aper(&self) -> Result<Vec<u8>, KpmError> {
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

/// A KPM value or string is out of its ASN.1 range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("E2SM-KPM {what}: {why}")]
pub struct KpmBuildError {
    pub what: &'static str,
    pub why: String,
}

fn printable(what: &'static str, s: &str, max: usize) -> Result<rasn::types::PrintableString, KpmBuildError> {
    if s.is_empty() || s.chars().count() > max {
        return Err(KpmBuildError { what, why: format!("{s:?} must be 1..={max} characters") });
    }
    rasn::types::PrintableString::try_from(s.to_string())
        .map_err(|e| KpmBuildError { what, why: format!("{s:?}: {e}") })
}

fn no_label() -> asn::MeasurementLabel {
    asn::MeasurementLabel {
        no_label: Some(asn::MeasurementLabelNoLabel::R_true),
        plmn_id: None,
        slice_id: None,
        five_qi: None,
        q_fi: None,
        q_ci: None,
        q_cimax: None,
        q_cimin: None,
        a_rpmax: None,
        a_rpmin: None,
        bitrate_range: None,
        layer_mu_mimo: None,
        s_um: None,
        dist_bin_x: None,
        dist_bin_y: None,
        dist_bin_z: None,
        pre_label_override: None,
        start_end_ind: None,
        min: None,
        max: None,
        avg: None,
        ssb_index: None,
        non_go_b_bfmode_index: None,
        m_imo_mode_index: None,
    }
}

/// RAN function description of a node offering REPORT style 1 ("E2 Node
/// Measurement", action/header/message format 1) for `measurements`
/// (3GPP TS 28.552 names such as `DRB.UEThpDl`).
pub fn ran_function_description(measurements: &[&str]) -> Result<asn::E2SMKPMRANfunctionDescription, KpmBuildError> {
    let name = asn::RANfunctionName::new(
        printable("ranFunction-ShortName", RAN_FUNCTION_SHORT_NAME, 150)?,
        printable("ranFunction-E2SM-OID", RAN_FUNCTION_OID, 1000)?,
        printable("ranFunction-Description", "KPM Monitor", 150)?,
        None,
    );
    let actions = measurements
        .iter()
        .map(|m| {
            Ok(asn::MeasurementInfoActionItem::new(
                asn::MeasurementTypeName(printable("measName", m, 150)?),
                None,
                None,
            ))
        })
        .collect::<Result<Vec<_>, KpmBuildError>>()?;
    if actions.is_empty() {
        return Err(KpmBuildError { what: "measInfo-Action-List", why: "at least one measurement".into() });
    }
    let style = asn::RICReportStyleItem::new(
        asn::RICStyleType(1.into()),
        asn::RICStyleName(printable("ric-ReportStyle-Name", "E2 Node Measurement", 150)?),
        asn::RICFormatType(1.into()),
        asn::MeasurementInfoActionList(actions),
        asn::RICFormatType(1.into()),
        asn::RICFormatType(1.into()),
    );
    Ok(asn::E2SMKPMRANfunctionDescription::new(name, None, Some(vec![style])))
}

/// Action definition Format 1 (style 1): collect `measurements` every `granularity_ms`.
pub fn action_definition_format1(
    measurements: &[&str],
    granularity_ms: u32,
) -> Result<asn::E2SMKPMActionDefinition, KpmBuildError> {
    let items = measurements
        .iter()
        .map(|m| {
            Ok(asn::MeasurementInfoItem::new(
                asn::MeasurementType::measName(asn::MeasurementTypeName(printable("measName", m, 150)?)),
                asn::LabelInfoList(vec![asn::LabelInfoItem::new(no_label())]),
            ))
        })
        .collect::<Result<Vec<_>, KpmBuildError>>()?;
    if items.is_empty() {
        return Err(KpmBuildError { what: "measInfoList", why: "at least one measurement".into() });
    }
    Ok(asn::E2SMKPMActionDefinition::new(
        asn::RICStyleType(1.into()),
        asn::E2SMKPMActionDefinitionActionDefinitionFormats::actionDefinition_Format1(
            asn::E2SMKPMActionDefinitionFormat1::new(
                asn::MeasurementInfoList(items),
                asn::GranularityPeriod(granularity_ms.max(1)),
                None,
                None,
            ),
        ),
    ))
}

/// Indication header Format 1 with the collection start time (8-octet NTP timestamp).
pub fn indication_header(collect_start: [u8; 8]) -> asn::E2SMKPMIndicationHeader {
    asn::E2SMKPMIndicationHeader::new(asn::E2SMKPMIndicationHeaderIndicationHeaderFormats::indicationHeader_Format1(
        asn::E2SMKPMIndicationHeaderFormat1::new(
            asn::TimeStamp(rasn::types::FixedOctetString::new(collect_start)),
            None,
            None,
            None,
            None,
        ),
    ))
}

/// Indication message Format 1 with one measurement-data item holding `records`.
pub fn indication_message_format1(
    records: Vec<asn::MeasurementRecordItem>,
    granularity_ms: u32,
) -> asn::E2SMKPMIndicationMessage {
    asn::E2SMKPMIndicationMessage::new(
        asn::E2SMKPMIndicationMessageIndicationMessageFormats::indicationMessage_Format1(
            asn::E2SMKPMIndicationMessageFormat1::new(
                asn::MeasurementData(vec![asn::MeasurementDataItem::new(asn::MeasurementRecord(records), None)]),
                None,
                Some(asn::GranularityPeriod(granularity_ms.max(1))),
            ),
        ),
    )
}

/// Event trigger "report every `period_ms` milliseconds" (Format 1).
pub fn periodic_trigger(period_ms: u32) -> asn::E2SMKPMEventTriggerDefinition {
    asn::E2SMKPMEventTriggerDefinition::new(
        asn::E2SMKPMEventTriggerDefinitionEventDefinitionFormats::eventDefinition_Format1(
            asn::E2SMKPMEventTriggerDefinitionFormat1::new(period_ms.max(1)),
        ),
    )
}

/// The five top-level E2SM-KPM payloads, by name — for tools that are told
/// at run time which payload a byte string is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KpmPayloadKind {
    RanFunctionDescription,
    EventTriggerDefinition,
    ActionDefinition,
    IndicationHeader,
    IndicationMessage,
}

/// Runs `$body` with `$T` bound to the generated type of `$kind`.
macro_rules! with_payload_type {
    ($kind:expr, $T:ident => $body:expr) => {
        match $kind {
            KpmPayloadKind::RanFunctionDescription => {
                type $T = asn::E2SMKPMRANfunctionDescription;
                $body
            }
            KpmPayloadKind::EventTriggerDefinition => {
                type $T = asn::E2SMKPMEventTriggerDefinition;
                $body
            }
            KpmPayloadKind::ActionDefinition => {
                type $T = asn::E2SMKPMActionDefinition;
                $body
            }
            KpmPayloadKind::IndicationHeader => {
                type $T = asn::E2SMKPMIndicationHeader;
                $body
            }
            KpmPayloadKind::IndicationMessage => {
                type $T = asn::E2SMKPMIndicationMessage;
                $body
            }
        }
    };
}

impl KpmPayloadKind {
    /// All kinds, in E2AP order of use.
    pub const ALL: [Self; 5] = [
        Self::RanFunctionDescription,
        Self::EventTriggerDefinition,
        Self::ActionDefinition,
        Self::IndicationHeader,
        Self::IndicationMessage,
    ];

    /// The ASN.1 type name, e.g. `E2SM-KPM-IndicationMessage`.
    pub fn asn1_name(self) -> &'static str {
        with_payload_type!(self, T => T::NAME)
    }

    /// Looks a kind up by its ASN.1 name (case-insensitive; the `E2SM-KPM-` prefix is optional).
    pub fn from_name(name: &str) -> Option<Self> {
        let want = name.to_ascii_lowercase();
        Self::ALL.into_iter().find(|k| {
            let full = k.asn1_name().to_ascii_lowercase();
            full == want || full.trim_start_matches("e2sm-kpm-") == want
        })
    }

    /// Decodes APER bytes and returns the X.697 JER view (REALs appear as
    /// the hex of their X.690 contents). rasn's JER cannot show INTEGERs
    /// outside the 64-bit range (APER carries them fine): those values give
    /// a [`KpmError::Encode`] here.
    pub fn decode_to_jer(self, bytes: &[u8]) -> Result<serde_json::Value, KpmError> {
        with_payload_type!(self, T => {
            let v = T::decode_aper(bytes)?;
            let jer_err = |e: &dyn std::fmt::Display| KpmError::Encode { payload: T::NAME, detail: format!("JER: {e}") };
            let text = rasn::jer::encode(&v).map_err(|e| jer_err(&e))?;
            serde_json::from_str(&text).map_err(|e| jer_err(&e))
        })
    }

    /// Decodes APER bytes and encodes the value again (byte-identity checks).
    pub fn reencode(self, bytes: &[u8]) -> Result<Vec<u8>, KpmError> {
        with_payload_type!(self, T => T::decode_aper(bytes)?.encode_aper())
    }

    /// Encodes a JER view in APER (inverse of [`Self::decode_to_jer`]).
    pub fn encode_from_jer(self, jer: &serde_json::Value) -> Result<Vec<u8>, KpmError> {
        with_payload_type!(self, T => {
            let v: T = rasn::jer::decode(&jer.to_string())
                .map_err(|e| KpmError::Decode { payload: T::NAME, detail: format!("JER: {e}") })?;
            v.encode_aper()
        })
    }
}
