//! Received PDUs: decoding, and what to tell the peer when a PDU cannot be
//! accepted (E2AP §10, "Handling of unknown, unforeseen and erroneous
//! protocol data").
//!
//! | problem | cause in the Error Indication |
//! |---|---|
//! | the outer `E2AP-PDU` does not decode | protocol / transfer-syntax-error |
//! | an IE value or the IE container does not decode, an IE is duplicated | protocol / abstract-syntax-error-falsely-constructed-message |
//! | an unknown IE with criticality reject, a missing mandatory IE, an unknown procedure with criticality reject | protocol / abstract-syntax-error-reject (+ diagnostics) |
//! | unknown IEs with criticality notify (message processed) | protocol / abstract-syntax-error-ignore-and-notify (+ diagnostics) |
//! | a message the role or the procedure state does not expect | protocol / message-not-compatible-with-receiver-state |
//! | a functional message for a RIC request id nobody knows | ricRequest / request-id-unknown |
//!
//! Nothing is ever sent back for a broken Error Indication (no ping-pong),
//! nor for an unknown procedure whose criticality is `ignore`.

use qsafe_asn1::e2ap::{E2apError, E2apPdu, ErrorIndication, MessageKind, SkippedIe};
use qsafe_asn1::e2ap_asn::{self as asn, Criticality};

use super::ids::RequestId;
use super::model::DisplayCause;
use super::timers::transaction_value;

/// The IEs that tie a message to one procedure instance; an Error
/// Indication about the message repeats them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcedureRefs {
    /// `TransactionID` of a global procedure.
    pub transaction_id: Option<asn::TransactionID>,
    /// `RICrequestID` of a functional procedure.
    pub request_id: Option<RequestId>,
    /// `RANfunctionID` of a functional procedure.
    pub ran_function_id: Option<u16>,
}

impl ProcedureRefs {
    /// The transaction id, when it is in the root range 0..255.
    pub fn transaction(&self) -> Option<u8> {
        self.transaction_id.as_ref().and_then(transaction_value)
    }

    /// The refs a typed message carries.
    pub fn of(pdu: &E2apPdu) -> Self {
        let t = |t: &asn::TransactionID| Self { transaction_id: Some(t.clone()), ..Self::default() };
        let f = |r: &asn::RICrequestID, f: &asn::RANfunctionID| Self {
            transaction_id: None,
            request_id: Some(RequestId::from(r)),
            ran_function_id: Some(f.0),
        };
        match pdu {
            E2apPdu::E2SetupRequest(m) => t(&m.transaction_id),
            E2apPdu::E2SetupResponse(m) => t(&m.transaction_id),
            E2apPdu::E2SetupFailure(m) => t(&m.transaction_id),
            E2apPdu::RicSubscriptionRequest(m) => f(&m.ric_request_id, &m.ran_function_id),
            E2apPdu::RicSubscriptionResponse(m) => f(&m.ric_request_id, &m.ran_function_id),
            E2apPdu::RicSubscriptionFailure(m) => f(&m.ric_request_id, &m.ran_function_id),
            E2apPdu::RicSubscriptionDeleteRequest(m) => f(&m.ric_request_id, &m.ran_function_id),
            E2apPdu::RicSubscriptionDeleteResponse(m) => f(&m.ric_request_id, &m.ran_function_id),
            E2apPdu::RicSubscriptionDeleteFailure(m) => f(&m.ric_request_id, &m.ran_function_id),
            E2apPdu::RicSubscriptionDeleteRequired(_) => Self::default(),
            E2apPdu::RicIndication(m) => f(&m.ric_request_id, &m.ran_function_id),
            E2apPdu::RicControlRequest(m) => f(&m.ric_request_id, &m.ran_function_id),
            E2apPdu::RicControlAcknowledge(m) => f(&m.ric_request_id, &m.ran_function_id),
            E2apPdu::RicControlFailure(m) => f(&m.ric_request_id, &m.ran_function_id),
            E2apPdu::ErrorIndication(m) => Self {
                transaction_id: m.transaction_id.clone(),
                request_id: m.ric_request_id.as_ref().map(RequestId::from),
                ran_function_id: m.ran_function_id.as_ref().map(|f| f.0),
            },
            E2apPdu::ResetRequest(m) => t(&m.transaction_id),
            E2apPdu::ResetResponse(m) => t(&m.transaction_id),
            E2apPdu::RicServiceUpdate(m) => t(&m.transaction_id),
            E2apPdu::RicServiceUpdateAcknowledge(m) => t(&m.transaction_id),
            E2apPdu::RicServiceUpdateFailure(m) => t(&m.transaction_id),
            E2apPdu::RicServiceQuery(m) => t(&m.transaction_id),
            E2apPdu::E2NodeConfigurationUpdate(m) => t(&m.transaction_id),
            E2apPdu::E2NodeConfigurationUpdateAcknowledge(m) => t(&m.transaction_id),
            E2apPdu::E2NodeConfigurationUpdateFailure(m) => t(&m.transaction_id),
        }
    }
}

/// The envelope of a PDU: which message of which procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PduHeader {
    pub kind: MessageKind,
    pub procedure_code: u8,
    pub criticality: Criticality,
}

impl PduHeader {
    pub fn of(pdu: &E2apPdu) -> Self {
        Self { kind: pdu.kind(), procedure_code: pdu.procedure_code(), criticality: pdu.procedure_criticality() }
    }

    fn is_error_indication(&self) -> bool {
        self.procedure_code == asn::ID_ERROR_INDICATION.0
    }
}

/// A received PDU the role could not accept, or accepted only partly, and
/// the Error Indication that reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    /// The cause sent (or that would have been sent) in the Error Indication.
    pub cause: asn::Cause,
    /// What exactly was wrong, for logs.
    pub detail: String,
    /// The offending message's transaction / request / RAN function ids, as far as they could be read.
    pub refs: ProcedureRefs,
    /// The criticality diagnostics sent.
    pub diagnostics: Option<asn::CriticalityDiagnostics>,
    /// Whether an Error Indication went back (never for a broken Error
    /// Indication, nor for an unknown procedure with criticality ignore).
    pub error_indication_sent: bool,
}

impl ProtocolError {
    /// The Error Indication reporting this problem.
    pub(crate) fn error_indication(&self) -> ErrorIndication {
        ErrorIndication {
            transaction_id: self.refs.transaction_id.clone(),
            ric_request_id: self.refs.request_id.map(Into::into),
            ran_function_id: self.refs.ran_function_id.map(asn::RANfunctionID),
            cause: Some(self.cause.clone()),
            criticality_diagnostics: self.diagnostics.clone(),
        }
    }

    fn new(
        cause: asn::Cause,
        detail: String,
        header: Option<PduHeader>,
        refs: ProcedureRefs,
        ies: Vec<asn::CriticalityDiagnosticsIEItem>,
        reply: bool,
    ) -> Self {
        let diagnostics = diagnostics(header, refs.request_id, ies);
        let reply = reply && !header.is_some_and(|h| h.is_error_indication());
        Self { cause, detail, refs, diagnostics, error_indication_sent: reply }
    }

    /// A message the receiver's role or procedure state does not expect.
    pub(crate) fn not_compatible(pdu: &E2apPdu, detail: impl Into<String>) -> Self {
        Self::new(
            asn::Cause::protocol(asn::CauseProtocol::message_not_compatible_with_receiver_state),
            format!("{}: {}", pdu.name(), detail.into()),
            Some(PduHeader::of(pdu)),
            ProcedureRefs::of(pdu),
            Vec::new(),
            true,
        )
    }

    /// A functional message for an unknown RIC request id.
    pub(crate) fn request_id_unknown(pdu: &E2apPdu, detail: impl Into<String>) -> Self {
        Self::new(
            asn::Cause::ricRequest(asn::CauseRICrequest::request_id_unknown),
            format!("{}: {}", pdu.name(), detail.into()),
            Some(PduHeader::of(pdu)),
            ProcedureRefs::of(pdu),
            Vec::new(),
            true,
        )
    }

    /// Unknown IEs with criticality notify were skipped (the message itself was processed).
    pub(crate) fn ignored_and_notified(pdu: &E2apPdu, skipped: &[SkippedIe]) -> Self {
        let ies = skipped.iter().map(|s| ie_item(s.criticality, s.id, asn::TypeOfError::not_understood)).collect();
        let ids: Vec<String> = skipped.iter().map(|s| s.id.to_string()).collect();
        Self::new(
            asn::Cause::protocol(asn::CauseProtocol::abstract_syntax_error_ignore_and_notify),
            format!("{}: unknown IE(s) {} with criticality notify were ignored", pdu.name(), ids.join(", ")),
            Some(PduHeader::of(pdu)),
            ProcedureRefs::of(pdu),
            ies,
            true,
        )
    }

    /// A PDU that does not decode.
    pub(crate) fn undecodable(bytes: &[u8], error: &E2apError) -> Self {
        let protocol = |c| asn::Cause::protocol(c);
        let peeked = peek(bytes);
        let (header, refs, received) = match peeked {
            Some(p) => (Some(p.header), p.refs, p.ies),
            None => (None, ProcedureRefs::default(), Vec::new()),
        };
        let received_criticality =
            |id: u16| received.iter().find(|(i, _)| *i == id).map_or(Criticality::reject, |(_, c)| *c);
        let detail = error.to_string();
        match error {
            E2apError::Pdu(_) => {
                Self::new(protocol(asn::CauseProtocol::transfer_syntax_error), detail, None, refs, Vec::new(), true)
            }
            E2apError::UnsupportedProcedure { .. } => {
                let (cause, reply) = match header.map(|h| h.criticality) {
                    Some(Criticality::ignore) => (asn::CauseProtocol::abstract_syntax_error_ignore_and_notify, false),
                    Some(Criticality::notify) => (asn::CauseProtocol::abstract_syntax_error_ignore_and_notify, true),
                    _ => (asn::CauseProtocol::abstract_syntax_error_reject, true),
                };
                Self::new(protocol(cause), detail, header, refs, Vec::new(), reply)
            }
            E2apError::UnknownIeReject { id, .. } => Self::new(
                protocol(asn::CauseProtocol::abstract_syntax_error_reject),
                detail,
                header,
                refs,
                vec![ie_item(Criticality::reject, *id, asn::TypeOfError::not_understood)],
                true,
            ),
            E2apError::MissingIe { id, .. } => Self::new(
                protocol(asn::CauseProtocol::abstract_syntax_error_reject),
                detail,
                header,
                refs,
                vec![ie_item(Criticality::reject, *id, asn::TypeOfError::missing)],
                true,
            ),
            E2apError::Ie { id, .. } | E2apError::DuplicateIe { id, .. } => Self::new(
                protocol(asn::CauseProtocol::abstract_syntax_error_falsely_constructed_message),
                detail,
                header,
                refs,
                vec![ie_item(received_criticality(*id), *id, asn::TypeOfError::not_understood)],
                true,
            ),
            _ => Self::new(
                protocol(asn::CauseProtocol::abstract_syntax_error_falsely_constructed_message),
                detail,
                header,
                refs,
                Vec::new(),
                true,
            ),
        }
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.detail, DisplayCause(&self.cause))
    }
}

/// A received PDU: decoded, with the unknown IEs of criticality notify
/// (to be reported once the message is processed).
pub(crate) struct Decoded {
    pub pdu: E2apPdu,
    pub notify: Vec<SkippedIe>,
}

/// Decodes a received PDU, or says what to report when it cannot be.
pub(crate) fn decode(bytes: &[u8]) -> Result<Decoded, ProtocolError> {
    match E2apPdu::decode_with_report(bytes) {
        Ok((pdu, report)) => {
            let notify = if report.skipped.is_empty() {
                Vec::new()
            } else {
                report.skipped.into_iter().filter(|s| s.criticality == Criticality::notify).collect()
            };
            Ok(Decoded { pdu, notify })
        }
        Err(error) => Err(ProtocolError::undecodable(bytes, &error)),
    }
}

fn ie_item(criticality: Criticality, id: u16, type_of_error: asn::TypeOfError) -> asn::CriticalityDiagnosticsIEItem {
    asn::CriticalityDiagnosticsIEItem::new(criticality, asn::ProtocolIEID(id), type_of_error)
}

fn diagnostics(
    header: Option<PduHeader>,
    request_id: Option<RequestId>,
    ies: Vec<asn::CriticalityDiagnosticsIEItem>,
) -> Option<asn::CriticalityDiagnostics> {
    if header.is_none() && ies.is_empty() {
        return None;
    }
    let triggering = header.map(|h| match h.kind {
        MessageKind::InitiatingMessage => asn::TriggeringMessage::initiating_message,
        MessageKind::SuccessfulOutcome => asn::TriggeringMessage::successful_outcome,
        MessageKind::UnsuccessfulOutcome => asn::TriggeringMessage::unsuccessfull_outcome,
    });
    Some(asn::CriticalityDiagnostics::new(
        header.map(|h| asn::ProcedureCode(h.procedure_code)),
        triggering,
        header.map(|h| h.criticality),
        request_id.map(Into::into),
        (!ies.is_empty()).then_some(asn::CriticalityDiagnosticsIEList(ies)),
    ))
}

/// What could be read from a PDU the typed layer refused.
struct Peeked {
    header: PduHeader,
    refs: ProcedureRefs,
    /// (id, criticality) of every IE in the container.
    ies: Vec<(u16, Criticality)>,
}

/// Reads the envelope of a PDU and, when the IE container itself is
/// intact, the transaction / request / RAN function ids. Every E2AP message
/// is `SEQUENCE { protocolIEs ProtocolIE-Container, ... }` and every
/// container has the same encoding, so one generated message type reads them all.
fn peek(bytes: &[u8]) -> Option<Peeked> {
    let pdu: asn::E2APPDU = rasn::aper::decode(bytes).ok()?;
    let (kind, code, criticality, value) = match &pdu {
        asn::E2APPDU::initiatingMessage(m) => {
            (MessageKind::InitiatingMessage, m.procedure_code.0, m.criticality, m.value.as_bytes())
        }
        asn::E2APPDU::successfulOutcome(m) => {
            (MessageKind::SuccessfulOutcome, m.procedure_code.0, m.criticality, m.value.as_bytes())
        }
        asn::E2APPDU::unsuccessfulOutcome(m) => {
            (MessageKind::UnsuccessfulOutcome, m.procedure_code.0, m.criticality, m.value.as_bytes())
        }
        _ => return None,
    };
    let header = PduHeader { kind, procedure_code: code, criticality };
    let mut refs = ProcedureRefs::default();
    let mut ies = Vec::new();
    if let Ok(container) = rasn::aper::decode::<asn::RICsubscriptionDeleteRequest>(value) {
        for ie in &container.protocol_ies.0 {
            ies.push((ie.id.0, ie.criticality));
            let v = ie.value.as_bytes();
            if ie.id == asn::ID_TRANSACTION_ID {
                refs.transaction_id = rasn::aper::decode::<asn::TransactionID>(v).ok();
            } else if ie.id == asn::ID_RICREQUEST_ID {
                refs.request_id = rasn::aper::decode::<asn::RICrequestID>(v).ok().map(|r| RequestId::from(&r));
            } else if ie.id == asn::ID_RANFUNCTION_ID {
                refs.ran_function_id = rasn::aper::decode::<asn::RANfunctionID>(v).ok().map(|f| f.0);
            }
        }
    }
    Some(Peeked { header, refs, ies })
}

/// What a received Error Indication said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedErrorIndication {
    /// The transaction / request / RAN function the peer complains about.
    pub refs: ProcedureRefs,
    /// Its cause, if it gave one.
    pub cause: Option<asn::Cause>,
    /// Its criticality diagnostics, if any.
    pub diagnostics: Option<asn::CriticalityDiagnostics>,
}

impl ReceivedErrorIndication {
    pub(crate) fn from_message(m: ErrorIndication) -> Self {
        Self {
            refs: ProcedureRefs {
                transaction_id: m.transaction_id,
                request_id: m.ric_request_id.as_ref().map(RequestId::from),
                ran_function_id: m.ran_function_id.map(|f| f.0),
            },
            cause: m.cause,
            diagnostics: m.criticality_diagnostics,
        }
    }
}
