//! Plain-Rust views of the E2AP values the procedures exchange: RAN
//! functions, E2 node component configurations, causes, wait times.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use qsafe_asn1::e2ap::build::{self, BuildError};
use qsafe_asn1::e2ap_asn as asn;

/// A RAN function an E2 node offers (`RANfunction-Item`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RanFunction {
    /// `ranFunctionID` (0..4095), the node-local key.
    pub id: u16,
    /// `ranFunctionRevision` (0..4095).
    pub revision: u16,
    /// `ranFunctionOID`: which E2SM the function speaks (e.g. [`qsafe_asn1::kpm::RAN_FUNCTION_OID`]).
    pub oid: String,
    /// `ranFunctionDefinition`: the E2SM's RAN function description (APER).
    pub definition: Bytes,
}

impl RanFunction {
    /// A RAN function; see [`RanFunction::to_item`] for the range checks.
    pub fn new(id: u16, revision: u16, oid: impl Into<String>, definition: impl Into<Bytes>) -> Self {
        Self { id, revision, oid: oid.into(), definition: definition.into() }
    }

    /// Reads a received `RANfunction-Item`.
    pub fn from_item(item: &asn::RANfunctionItem) -> Self {
        Self {
            id: item.ran_function_id.0,
            revision: item.ran_function_revision.0,
            oid: String::from_utf8_lossy(item.ran_function_oid.0.as_bytes()).into_owned(),
            definition: Bytes::from(item.ran_function_definition.0.clone()),
        }
    }

    /// The wire value; fails when the id/revision is above 4095 or the OID is
    /// not a 1..1000-character PrintableString.
    pub fn to_item(&self) -> Result<asn::RANfunctionItem, BuildError> {
        build::ran_function(self.id, self.revision, &self.oid, &self.definition)
    }

    /// The `RANfunctionID-Item` (id and revision) naming this function.
    pub fn id_item(&self) -> asn::RANfunctionIDItem {
        asn::RANfunctionIDItem::new(asn::RANfunctionID(self.id), asn::RANfunctionRevision(self.revision))
    }
}

/// Which E2 node component a configuration belongs to: interface type and
/// component id, the key E2AP uses in every component list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ComponentKey {
    /// `e2nodeComponentInterfaceType` (NG, Xn, E1, F1, W1, S1, X2).
    pub interface_type: asn::E2nodeComponentInterfaceType,
    /// `e2nodeComponentID`.
    pub component_id: asn::E2nodeComponentID,
}

/// The configuration an E2 node reports for one of its components
/// (`E2nodeComponentConfigAddition-Item` / `…Update-Item`): the request and
/// response parts of the 3GPP setup exchange of that interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentConfig {
    /// Which component.
    pub key: ComponentKey,
    /// `e2nodeComponentRequestPart`.
    pub request_part: Bytes,
    /// `e2nodeComponentResponsePart`.
    pub response_part: Bytes,
}

impl ComponentConfig {
    /// An F1 component (the gNB-DU `du_id`) with its F1 setup request/response.
    pub fn f1(du_id: u64, request_part: impl Into<Bytes>, response_part: impl Into<Bytes>) -> Result<Self, BuildError> {
        let item = build::f1_component(du_id, &[], &[])?;
        Ok(Self {
            key: ComponentKey {
                interface_type: item.e2node_component_interface_type,
                component_id: item.e2node_component_id,
            },
            request_part: request_part.into(),
            response_part: response_part.into(),
        })
    }

    fn configuration(&self) -> asn::E2nodeComponentConfiguration {
        asn::E2nodeComponentConfiguration::new(self.request_part.clone().into(), self.response_part.clone().into())
    }

    /// Reads a received addition item.
    pub fn from_addition(item: &asn::E2nodeComponentConfigAdditionItem) -> Self {
        Self::from_item(
            item.e2node_component_interface_type,
            &item.e2node_component_id,
            &item.e2node_component_configuration,
        )
    }

    /// Reads a received update item.
    pub fn from_update(item: &asn::E2nodeComponentConfigUpdateItem) -> Self {
        Self::from_item(
            item.e2node_component_interface_type,
            &item.e2node_component_id,
            &item.e2node_component_configuration,
        )
    }

    fn from_item(
        interface_type: asn::E2nodeComponentInterfaceType,
        component_id: &asn::E2nodeComponentID,
        configuration: &asn::E2nodeComponentConfiguration,
    ) -> Self {
        Self {
            key: ComponentKey { interface_type, component_id: component_id.clone() },
            request_part: Bytes::from(configuration.e2node_component_request_part.clone()),
            response_part: Bytes::from(configuration.e2node_component_response_part.clone()),
        }
    }

    /// The addition item (E2 Setup, E2 Node Configuration Update).
    pub fn to_addition(&self) -> asn::E2nodeComponentConfigAdditionItem {
        asn::E2nodeComponentConfigAdditionItem::new(
            self.key.interface_type,
            self.key.component_id.clone(),
            self.configuration(),
        )
    }

    /// The update item (E2 Node Configuration Update).
    pub fn to_update(&self) -> asn::E2nodeComponentConfigUpdateItem {
        asn::E2nodeComponentConfigUpdateItem::new(
            self.key.interface_type,
            self.key.component_id.clone(),
            self.configuration(),
        )
    }
}

/// The outcome the receiver of a component configuration reported for one
/// component (`E2nodeComponentConfigurationAck`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentOutcome {
    /// Which component.
    pub key: ComponentKey,
    /// `None` on success, the failure cause otherwise.
    pub failure: Option<asn::Cause>,
}

impl ComponentOutcome {
    pub(crate) fn ack(&self) -> asn::E2nodeComponentConfigurationAck {
        match &self.failure {
            None => asn::E2nodeComponentConfigurationAck::new(
                asn::E2nodeComponentConfigurationAckUpdateOutcome::success,
                None,
            ),
            Some(cause) => asn::E2nodeComponentConfigurationAck::new(
                asn::E2nodeComponentConfigurationAckUpdateOutcome::failure,
                Some(cause.clone()),
            ),
        }
    }

    pub(crate) fn from_ack(
        interface_type: asn::E2nodeComponentInterfaceType,
        component_id: &asn::E2nodeComponentID,
        ack: &asn::E2nodeComponentConfigurationAck,
    ) -> Self {
        let failure = match ack.update_outcome {
            asn::E2nodeComponentConfigurationAckUpdateOutcome::success => None,
            _ => Some(ack.failure_cause.clone().unwrap_or(asn::Cause::misc(asn::CauseMisc::unspecified))),
        };
        Self { key: ComponentKey { interface_type, component_id: component_id.clone() }, failure }
    }
}

/// An action of a RIC subscription the E2 node did not admit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAdmittedAction {
    /// `ricActionID`.
    pub action_id: u8,
    /// Why not.
    pub cause: asn::Cause,
}

impl NotAdmittedAction {
    pub(crate) fn to_item(&self) -> asn::RICactionNotAdmittedItem {
        asn::RICactionNotAdmittedItem::new(asn::RICactionID(self.action_id), self.cause.clone())
    }
}

/// A RAN function the receiver rejected, with the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedFunction {
    /// `ranFunctionID`.
    pub id: u16,
    /// Why.
    pub cause: asn::Cause,
}

/// Displays an E2AP cause as `group/value` with the ASN.1 value names,
/// e.g. `protocol/abstract-syntax-error-reject`.
#[derive(Debug, Clone, Copy)]
pub struct DisplayCause<'a>(pub &'a asn::Cause);

impl fmt::Display for DisplayCause<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The generated enums print their Rust names (snake case); E2AP
        // spells them with hyphens.
        let (group, value) = match self.0 {
            asn::Cause::ricRequest(c) => ("ricRequest", format!("{c:?}")),
            asn::Cause::ricService(c) => ("ricService", format!("{c:?}")),
            asn::Cause::e2Node(c) => ("e2Node", format!("{c:?}")),
            asn::Cause::transport(c) => ("transport", format!("{c:?}")),
            asn::Cause::protocol(c) => ("protocol", format!("{c:?}")),
            asn::Cause::misc(c) => ("misc", format!("{c:?}")),
            _ => ("unknown", String::new()),
        };
        write!(f, "{group}/{}", value.replace('_', "-"))
    }
}

/// The duration of an E2AP `TimeToWait`.
pub fn time_to_wait(t: asn::TimeToWait) -> Duration {
    Duration::from_secs(match t {
        asn::TimeToWait::v1s => 1,
        asn::TimeToWait::v2s => 2,
        asn::TimeToWait::v5s => 5,
        asn::TimeToWait::v10s => 10,
        asn::TimeToWait::v20s => 20,
        asn::TimeToWait::v60s => 60,
        _ => 60,
    })
}
