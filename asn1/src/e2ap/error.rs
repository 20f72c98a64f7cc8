//! Errors of the typed E2AP layer. Every decoding error names where it
//! happened: the message (its ASN.1 name) and, for IE problems, the IE.

use std::fmt;

/// Which of the three E2AP-PDU alternatives a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    InitiatingMessage,
    SuccessfulOutcome,
    UnsuccessfulOutcome,
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InitiatingMessage => "initiatingMessage",
            Self::SuccessfulOutcome => "successfulOutcome",
            Self::UnsuccessfulOutcome => "unsuccessfulOutcome",
        })
    }
}

/// A problem with one IE value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IeError {
    #[error("APER decoding failed: {0}")]
    Aper(String),
    #[error("APER encoding failed: {0}")]
    Encode(String),
    #[error("JER: {0}")]
    Jer(String),
    #[error("{list_item} #{index}: container carries IE id {found}, expected {expected}")]
    UnexpectedItem { list_item: &'static str, index: usize, expected: u16, found: u16 },
    #[error("{list_item} #{index}: {source}")]
    Item { list_item: &'static str, index: usize, source: Box<IeError> },
}

/// Why an E2AP PDU could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum E2apError {
    /// The outer `E2AP-PDU` (CHOICE + procedure code + criticality) is not valid APER.
    #[error("E2AP-PDU: {0}")]
    Pdu(String),
    /// The procedure code / message kind pair is valid E2AP but not one this layer types.
    #[error("{kind} with procedure code {procedure_code} is not supported by the typed E2AP layer")]
    UnsupportedProcedure { kind: MessageKind, procedure_code: u8 },
    /// The message's `protocolIEs` container itself is malformed.
    #[error("{message}: protocolIEs container: {detail}")]
    Container { message: &'static str, detail: String },
    /// One IE's value is malformed.
    #[error("{message}: IE {ie} (id {id}): {source}")]
    Ie { message: &'static str, ie: &'static str, id: u16, source: IeError },
    /// A mandatory IE is absent.
    #[error("{message}: mandatory IE {ie} (id {id}) is missing")]
    MissingIe { message: &'static str, ie: &'static str, id: u16 },
    /// An IE occurs more than once.
    #[error("{message}: IE {ie} (id {id}) occurs more than once")]
    DuplicateIe { message: &'static str, ie: &'static str, id: u16 },
    /// An IE id this message does not define, sent with criticality `reject`.
    #[error("{message}: unknown IE id {id} with criticality reject")]
    UnknownIeReject { message: &'static str, id: u16 },
    /// Encoding failed (a value violates its constraint, e.g. an empty list with SIZE(1..)).
    #[error("{message}: encoding {ie}: {detail}")]
    Encode { message: &'static str, ie: &'static str, detail: String },
    /// The JER view could not be read.
    #[error("JER: {0}")]
    Jer(String),
}
