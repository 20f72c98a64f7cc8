//! The typed messages. One `message!` block per E2AP message states its IEs
//! exactly as the E2AP v03.01 IE tables do (id, criticality, presence), so
//! the block reads like the spec and the encoder/decoder cannot drift from it.

use rasn::types::Any;
use serde_json::Value;

use super::error::{E2apError, IeError};
use super::ie::{CritRepr, IdRepr, IeValue, RawIe, SubscriptionDetails, field_from_jer, field_jer};
use super::{DecodeReport, SkippedIe};
use crate::e2ap_asn::{self as asn, Criticality};

/// The `Any` bytes of one IE inside a received container.
pub(crate) struct RawIeRef<'a> {
    pub id: u16,
    pub criticality: Criticality,
    pub value: &'a [u8],
}

macro_rules! field_type {
    (mandatory, $ty:ty) => { $ty };
    (optional, $ty:ty) => { Option<$ty> };
}

macro_rules! field_iter {
    (mandatory, $v:expr) => {
        Some($v)
    };
    (optional, $v:expr) => {
        $v.as_ref()
    };
}

macro_rules! field_take {
    (mandatory, $v:expr, $msg:expr, $ie:expr, $id:expr) => {
        $v.ok_or(E2apError::MissingIe { message: $msg, ie: $ie, id: $id })?
    };
    (optional, $v:expr, $msg:expr, $ie:expr, $id:expr) => {
        $v
    };
}

/// Decides what to do with an IE id the message does not define
/// (E2AP §10.3.4.2 / abstract syntax error: "not comprehended").
fn skip_unknown(message: &'static str, ie: &RawIeRef<'_>, report: &mut DecodeReport) -> Result<(), E2apError> {
    match ie.criticality {
        Criticality::reject => Err(E2apError::UnknownIeReject { message, id: ie.id }),
        Criticality::ignore | Criticality::notify => {
            report.skipped.push(SkippedIe { message, id: ie.id, criticality: ie.criticality, len: ie.value.len() });
            Ok(())
        }
    }
}

macro_rules! message {
    (
        $(#[$meta:meta])*
        pub struct $name:ident = $asn:ident ( $ies:ident / $anon:ident ) {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $presence:ident $ty:ty = $id:ident, $crit:ident;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: field_type!($presence, $ty), )*
        }

        impl $name {
            /// The message's ASN.1 name.
            pub const ASN1_NAME: &'static str = stringify!($asn);

            fn raw_ies(&self) -> Result<Vec<RawIe>, E2apError> {
                let mut out = Vec::new();
                $(
                    if let Some(v) = field_iter!($presence, &self.$field) {
                        let value = IeValue::encode_value(v).map_err(|e| E2apError::Encode {
                            message: Self::ASN1_NAME,
                            ie: stringify!($id),
                            detail: e.to_string(),
                        })?;
                        out.push(RawIe { id: asn::$id.0, criticality: Criticality::$crit, value });
                    }
                )*
                Ok(out)
            }

            pub(crate) fn encode_value(&self) -> Result<Vec<u8>, E2apError> {
                let ies = self
                    .raw_ies()?
                    .into_iter()
                    .map(|r| asn::$anon::new(IdRepr::from_u16(r.id), CritRepr::from_crit(r.criticality), Any::new(r.value)))
                    .collect();
                rasn::aper::encode(&asn::$asn::new(asn::$ies(ies))).map_err(|e| E2apError::Encode {
                    message: Self::ASN1_NAME,
                    ie: "protocolIEs",
                    detail: e.to_string(),
                })
            }

            pub(crate) fn decode_value(bytes: &[u8], report: &mut DecodeReport) -> Result<Self, E2apError> {
                let msg: asn::$asn = rasn::aper::decode(bytes)
                    .map_err(|e| E2apError::Container { message: Self::ASN1_NAME, detail: e.to_string() })?;
                let ies = msg
                    .protocol_ies
                    .0
                    .iter()
                    .map(|f| RawIeRef { id: f.id.to_u16(), criticality: f.criticality.to_crit(), value: f.value.as_bytes() });
                Self::from_raw(ies, report)
            }

            fn from_raw<'a>(
                ies: impl Iterator<Item = RawIeRef<'a>>,
                report: &mut DecodeReport,
            ) -> Result<Self, E2apError> {
                $( let mut $field: Option<$ty> = None; )*
                for ie in ies {
                    $(
                        if ie.id == asn::$id.0 {
                            if $field.is_some() {
                                return Err(E2apError::DuplicateIe { message: Self::ASN1_NAME, ie: stringify!($id), id: ie.id });
                            }
                            $field = Some(<$ty as IeValue>::decode_value(ie.value).map_err(|source| E2apError::Ie {
                                message: Self::ASN1_NAME,
                                ie: stringify!($id),
                                id: ie.id,
                                source,
                            })?);
                            continue;
                        }
                    )*
                    skip_unknown(Self::ASN1_NAME, &ie, report)?;
                }
                Ok(Self { $( $field: field_take!($presence, $field, Self::ASN1_NAME, stringify!($id), asn::$id.0), )* })
            }

            pub(crate) fn to_jer(&self) -> Result<Value, E2apError> {
                let mut ies = Vec::new();
                $(
                    if let Some(v) = field_iter!($presence, &self.$field) {
                        let value = IeValue::to_jer(v).map_err(|source| E2apError::Ie {
                            message: Self::ASN1_NAME,
                            ie: stringify!($id),
                            id: asn::$id.0,
                            source,
                        })?;
                        ies.push(field_jer(asn::$id.0, Criticality::$crit, value));
                    }
                )*
                Ok(serde_json::json!({ "protocolIEs": ies }))
            }

            pub(crate) fn from_jer(v: &Value) -> Result<Self, E2apError> {
                let fields = v
                    .get("protocolIEs")
                    .and_then(Value::as_array)
                    .ok_or_else(|| E2apError::Jer(format!("{}: no protocolIEs array", Self::ASN1_NAME)))?;
                $( let mut $field: Option<$ty> = None; )*
                for f in fields {
                    let (id, value) = field_from_jer(f).map_err(|e| E2apError::Jer(format!("{}: {e}", Self::ASN1_NAME)))?;
                    $(
                        if id == asn::$id.0 {
                            $field = Some(<$ty as IeValue>::from_jer(value).map_err(|source| E2apError::Ie {
                                message: Self::ASN1_NAME,
                                ie: stringify!($id),
                                id,
                                source,
                            })?);
                            continue;
                        }
                    )*
                    return Err(E2apError::Jer(format!("{}: unknown IE id {id}", Self::ASN1_NAME)));
                }
                Ok(Self { $( $field: field_take!($presence, $field, Self::ASN1_NAME, stringify!($id), asn::$id.0), )* })
            }
        }
    };
}

// Silence "unused" for IeError in macro-free builds.
#[allow(dead_code)]
fn _uses(_: IeError) {}

// ---------------------------------------------------------------- E2 Setup (§8.3.1)

message! {
    /// E2 SETUP REQUEST (E2 node → RIC).
    pub struct E2SetupRequest = E2setupRequest(E2setupRequestProtocolIEs / AnonymousE2setupRequestProtocolIEs) {
        transaction_id: mandatory asn::TransactionID = ID_TRANSACTION_ID, reject;
        global_e2_node_id: mandatory asn::GlobalE2nodeID = ID_GLOBAL_E2NODE_ID, reject;
        /// RAN functions the node offers (1..256).
        ran_functions: mandatory Vec<asn::RANfunctionItem> = ID_RANFUNCTIONS_ADDED, reject;
        /// E2 node component configuration (1..1024).
        component_config_addition: mandatory Vec<asn::E2nodeComponentConfigAdditionItem> = ID_E2NODE_COMPONENT_CONFIG_ADDITION, reject;
    }
}

message! {
    /// E2 SETUP RESPONSE (RIC → E2 node).
    pub struct E2SetupResponse = E2setupResponse(E2setupResponseProtocolIEs / AnonymousE2setupResponseProtocolIEs) {
        transaction_id: mandatory asn::TransactionID = ID_TRANSACTION_ID, reject;
        global_ric_id: mandatory asn::GlobalRICID = ID_GLOBAL_RIC_ID, reject;
        ran_functions_accepted: optional Vec<asn::RANfunctionIDItem> = ID_RANFUNCTIONS_ACCEPTED, reject;
        ran_functions_rejected: optional Vec<asn::RANfunctionIDcauseItem> = ID_RANFUNCTIONS_REJECTED, reject;
        component_config_addition_ack: mandatory Vec<asn::E2nodeComponentConfigAdditionAckItem> = ID_E2NODE_COMPONENT_CONFIG_ADDITION_ACK, reject;
    }
}

message! {
    /// E2 SETUP FAILURE (RIC → E2 node).
    pub struct E2SetupFailure = E2setupFailure(E2setupFailureProtocolIEs / AnonymousE2setupFailureProtocolIEs) {
        transaction_id: mandatory asn::TransactionID = ID_TRANSACTION_ID, reject;
        cause: mandatory asn::Cause = ID_CAUSE, ignore;
        time_to_wait: optional asn::TimeToWait = ID_TIME_TO_WAIT, ignore;
        criticality_diagnostics: optional asn::CriticalityDiagnostics = ID_CRITICALITY_DIAGNOSTICS, ignore;
        tnl_information: optional asn::TNLinformation = ID_TNLINFORMATION, ignore;
    }
}

// ---------------------------------------------------------------- RIC Subscription (§8.2.1)

message! {
    /// RIC SUBSCRIPTION REQUEST (RIC → E2 node).
    pub struct RicSubscriptionRequest = RICsubscriptionRequest(RICsubscriptionRequestProtocolIEs / AnonymousRICsubscriptionRequestProtocolIEs) {
        ric_request_id: mandatory asn::RICrequestID = ID_RICREQUEST_ID, reject;
        ran_function_id: mandatory asn::RANfunctionID = ID_RANFUNCTION_ID, reject;
        details: mandatory SubscriptionDetails = ID_RICSUBSCRIPTION_DETAILS, reject;
        /// v3: when the subscription starts (8-octet NTP-style timestamp).
        start_time: optional asn::RICsubscriptionTime = ID_RICSUBSCRIPTION_START_TIME, reject;
        /// v3: when the subscription ends.
        end_time: optional asn::RICsubscriptionTime = ID_RICSUBSCRIPTION_END_TIME, reject;
    }
}

message! {
    /// RIC SUBSCRIPTION RESPONSE (E2 node → RIC).
    pub struct RicSubscriptionResponse = RICsubscriptionResponse(RICsubscriptionResponseProtocolIEs / AnonymousRICsubscriptionResponseProtocolIEs) {
        ric_request_id: mandatory asn::RICrequestID = ID_RICREQUEST_ID, reject;
        ran_function_id: mandatory asn::RANfunctionID = ID_RANFUNCTION_ID, reject;
        actions_admitted: mandatory Vec<asn::RICactionAdmittedItem> = ID_RICACTIONS_ADMITTED, reject;
        actions_not_admitted: optional Vec<asn::RICactionNotAdmittedItem> = ID_RICACTIONS_NOT_ADMITTED, reject;
    }
}

message! {
    /// RIC SUBSCRIPTION FAILURE (E2 node → RIC).
    pub struct RicSubscriptionFailure = RICsubscriptionFailure(RICsubscriptionFailureProtocolIEs / AnonymousRICsubscriptionFailureProtocolIEs) {
        ric_request_id: mandatory asn::RICrequestID = ID_RICREQUEST_ID, reject;
        ran_function_id: mandatory asn::RANfunctionID = ID_RANFUNCTION_ID, reject;
        cause: mandatory asn::Cause = ID_CAUSE, reject;
        criticality_diagnostics: optional asn::CriticalityDiagnostics = ID_CRITICALITY_DIAGNOSTICS, ignore;
    }
}

// ---------------------------------------------------------------- RIC Subscription Delete (§8.2.2, §8.2.3)

message! {
    /// RIC SUBSCRIPTION DELETE REQUEST (RIC → E2 node).
    pub struct RicSubscriptionDeleteRequest = RICsubscriptionDeleteRequest(RICsubscriptionDeleteRequestProtocolIEs / AnonymousRICsubscriptionDeleteRequestProtocolIEs) {
        ric_request_id: mandatory asn::RICrequestID = ID_RICREQUEST_ID, reject;
        ran_function_id: mandatory asn::RANfunctionID = ID_RANFUNCTION_ID, reject;
    }
}

message! {
    /// RIC SUBSCRIPTION DELETE RESPONSE (E2 node → RIC).
    pub struct RicSubscriptionDeleteResponse = RICsubscriptionDeleteResponse(RICsubscriptionDeleteResponseProtocolIEs / AnonymousRICsubscriptionDeleteResponseProtocolIEs) {
        ric_request_id: mandatory asn::RICrequestID = ID_RICREQUEST_ID, reject;
        ran_function_id: mandatory asn::RANfunctionID = ID_RANFUNCTION_ID, reject;
    }
}

message! {
    /// RIC SUBSCRIPTION DELETE FAILURE (E2 node → RIC).
    pub struct RicSubscriptionDeleteFailure = RICsubscriptionDeleteFailure(RICsubscriptionDeleteFailureProtocolIEs / AnonymousRICsubscriptionDeleteFailureProtocolIEs) {
        ric_request_id: mandatory asn::RICrequestID = ID_RICREQUEST_ID, reject;
        ran_function_id: mandatory asn::RANfunctionID = ID_RANFUNCTION_ID, reject;
        cause: mandatory asn::Cause = ID_CAUSE, ignore;
        criticality_diagnostics: optional asn::CriticalityDiagnostics = ID_CRITICALITY_DIAGNOSTICS, ignore;
    }
}

message! {
    /// RIC SUBSCRIPTION DELETE REQUIRED (E2 node → RIC): the node asks the RIC to delete subscriptions.
    pub struct RicSubscriptionDeleteRequired = RICsubscriptionDeleteRequired(RICsubscriptionDeleteRequiredProtocolIEs / AnonymousRICsubscriptionDeleteRequiredProtocolIEs) {
        subscriptions: mandatory Vec<asn::RICsubscriptionWithCauseItem> = ID_RICSUBSCRIPTION_TO_BE_REMOVED, ignore;
    }
}

// ---------------------------------------------------------------- RIC Indication (§8.2.4)

message! {
    /// RIC INDICATION (E2 node → RIC).
    pub struct RicIndication = RICindication(RICindicationProtocolIEs / AnonymousRICindicationProtocolIEs) {
        ric_request_id: mandatory asn::RICrequestID = ID_RICREQUEST_ID, reject;
        ran_function_id: mandatory asn::RANfunctionID = ID_RANFUNCTION_ID, reject;
        action_id: mandatory asn::RICactionID = ID_RICACTION_ID, reject;
        /// Indication sequence number (0..65535).
        sn: optional asn::RICindicationSN = ID_RICINDICATION_SN, reject;
        indication_type: mandatory asn::RICindicationType = ID_RICINDICATION_TYPE, reject;
        header: mandatory asn::RICindicationHeader = ID_RICINDICATION_HEADER, reject;
        message: mandatory asn::RICindicationMessage = ID_RICINDICATION_MESSAGE, reject;
        call_process_id: optional asn::RICcallProcessID = ID_RICCALL_PROCESS_ID, reject;
    }
}

// ---------------------------------------------------------------- RIC Control (§8.2.5)

message! {
    /// RIC CONTROL REQUEST (RIC → E2 node).
    pub struct RicControlRequest = RICcontrolRequest(RICcontrolRequestProtocolIEs / AnonymousRICcontrolRequestProtocolIEs) {
        ric_request_id: mandatory asn::RICrequestID = ID_RICREQUEST_ID, reject;
        ran_function_id: mandatory asn::RANfunctionID = ID_RANFUNCTION_ID, reject;
        call_process_id: optional asn::RICcallProcessID = ID_RICCALL_PROCESS_ID, reject;
        header: mandatory asn::RICcontrolHeader = ID_RICCONTROL_HEADER, reject;
        message: mandatory asn::RICcontrolMessage = ID_RICCONTROL_MESSAGE, reject;
        ack_request: optional asn::RICcontrolAckRequest = ID_RICCONTROL_ACK_REQUEST, reject;
    }
}

message! {
    /// RIC CONTROL ACKNOWLEDGE (E2 node → RIC).
    pub struct RicControlAcknowledge = RICcontrolAcknowledge(RICcontrolAcknowledgeProtocolIEs / AnonymousRICcontrolAcknowledgeProtocolIEs) {
        ric_request_id: mandatory asn::RICrequestID = ID_RICREQUEST_ID, reject;
        ran_function_id: mandatory asn::RANfunctionID = ID_RANFUNCTION_ID, reject;
        call_process_id: optional asn::RICcallProcessID = ID_RICCALL_PROCESS_ID, reject;
        outcome: optional asn::RICcontrolOutcome = ID_RICCONTROL_OUTCOME, reject;
    }
}

message! {
    /// RIC CONTROL FAILURE (E2 node → RIC).
    pub struct RicControlFailure = RICcontrolFailure(RICcontrolFailureProtocolIEs / AnonymousRICcontrolFailureProtocolIEs) {
        ric_request_id: mandatory asn::RICrequestID = ID_RICREQUEST_ID, reject;
        ran_function_id: mandatory asn::RANfunctionID = ID_RANFUNCTION_ID, reject;
        call_process_id: optional asn::RICcallProcessID = ID_RICCALL_PROCESS_ID, reject;
        cause: mandatory asn::Cause = ID_CAUSE, ignore;
        outcome: optional asn::RICcontrolOutcome = ID_RICCONTROL_OUTCOME, reject;
        criticality_diagnostics: optional asn::CriticalityDiagnostics = ID_CRITICALITY_DIAGNOSTICS, ignore;
    }
}

// ---------------------------------------------------------------- Global procedures (§8.3)

message! {
    /// ERROR INDICATION (either direction). Every IE is optional.
    pub struct ErrorIndication = ErrorIndication(ErrorIndicationProtocolIEs / AnonymousErrorIndicationProtocolIEs) {
        transaction_id: optional asn::TransactionID = ID_TRANSACTION_ID, reject;
        ric_request_id: optional asn::RICrequestID = ID_RICREQUEST_ID, reject;
        ran_function_id: optional asn::RANfunctionID = ID_RANFUNCTION_ID, reject;
        cause: optional asn::Cause = ID_CAUSE, ignore;
        criticality_diagnostics: optional asn::CriticalityDiagnostics = ID_CRITICALITY_DIAGNOSTICS, ignore;
    }
}

message! {
    /// RESET REQUEST (either direction).
    pub struct ResetRequest = ResetRequest(ResetRequestProtocolIEs / AnonymousResetRequestProtocolIEs) {
        transaction_id: mandatory asn::TransactionID = ID_TRANSACTION_ID, reject;
        cause: mandatory asn::Cause = ID_CAUSE, ignore;
    }
}

message! {
    /// RESET RESPONSE.
    pub struct ResetResponse = ResetResponse(ResetResponseProtocolIEs / AnonymousResetResponseProtocolIEs) {
        transaction_id: mandatory asn::TransactionID = ID_TRANSACTION_ID, reject;
        criticality_diagnostics: optional asn::CriticalityDiagnostics = ID_CRITICALITY_DIAGNOSTICS, ignore;
    }
}

message! {
    /// RIC SERVICE UPDATE (E2 node → RIC).
    pub struct RicServiceUpdate = RICserviceUpdate(RICserviceUpdateProtocolIEs / AnonymousRICserviceUpdateProtocolIEs) {
        transaction_id: mandatory asn::TransactionID = ID_TRANSACTION_ID, reject;
        ran_functions_added: optional Vec<asn::RANfunctionItem> = ID_RANFUNCTIONS_ADDED, reject;
        ran_functions_modified: optional Vec<asn::RANfunctionItem> = ID_RANFUNCTIONS_MODIFIED, reject;
        ran_functions_deleted: optional Vec<asn::RANfunctionIDItem> = ID_RANFUNCTIONS_DELETED, reject;
    }
}

message! {
    /// RIC SERVICE UPDATE ACKNOWLEDGE (RIC → E2 node).
    pub struct RicServiceUpdateAcknowledge = RICserviceUpdateAcknowledge(RICserviceUpdateAcknowledgeProtocolIEs / AnonymousRICserviceUpdateAcknowledgeProtocolIEs) {
        transaction_id: mandatory asn::TransactionID = ID_TRANSACTION_ID, reject;
        ran_functions_accepted: optional Vec<asn::RANfunctionIDItem> = ID_RANFUNCTIONS_ACCEPTED, reject;
        ran_functions_rejected: optional Vec<asn::RANfunctionIDcauseItem> = ID_RANFUNCTIONS_REJECTED, reject;
    }
}

message! {
    /// RIC SERVICE UPDATE FAILURE (RIC → E2 node).
    pub struct RicServiceUpdateFailure = RICserviceUpdateFailure(RICserviceUpdateFailureProtocolIEs / AnonymousRICserviceUpdateFailureProtocolIEs) {
        transaction_id: mandatory asn::TransactionID = ID_TRANSACTION_ID, reject;
        cause: mandatory asn::Cause = ID_CAUSE, reject;
        time_to_wait: optional asn::TimeToWait = ID_TIME_TO_WAIT, ignore;
        criticality_diagnostics: optional asn::CriticalityDiagnostics = ID_CRITICALITY_DIAGNOSTICS, ignore;
    }
}

message! {
    /// RIC SERVICE QUERY (RIC → E2 node): asks the node to send a RIC SERVICE UPDATE.
    pub struct RicServiceQuery = RICserviceQuery(RICserviceQueryProtocolIEs / AnonymousRICserviceQueryProtocolIEs) {
        transaction_id: mandatory asn::TransactionID = ID_TRANSACTION_ID, reject;
        ran_functions_accepted: optional Vec<asn::RANfunctionIDItem> = ID_RANFUNCTIONS_ACCEPTED, reject;
    }
}

message! {
    /// E2 NODE CONFIGURATION UPDATE (E2 node → RIC).
    pub struct E2NodeConfigurationUpdate = E2nodeConfigurationUpdate(E2nodeConfigurationUpdateProtocolIEs / AnonymousE2nodeConfigurationUpdateProtocolIEs) {
        transaction_id: mandatory asn::TransactionID = ID_TRANSACTION_ID, reject;
        global_e2_node_id: optional asn::GlobalE2nodeID = ID_GLOBAL_E2NODE_ID, reject;
        component_config_addition: optional Vec<asn::E2nodeComponentConfigAdditionItem> = ID_E2NODE_COMPONENT_CONFIG_ADDITION, reject;
        component_config_update: optional Vec<asn::E2nodeComponentConfigUpdateItem> = ID_E2NODE_COMPONENT_CONFIG_UPDATE, reject;
        component_config_removal: optional Vec<asn::E2nodeComponentConfigRemovalItem> = ID_E2NODE_COMPONENT_CONFIG_REMOVAL, reject;
        tnl_association_removal: optional Vec<asn::E2nodeTNLassociationRemovalItem> = ID_E2NODE_TNLASSOCIATION_REMOVAL, reject;
    }
}

message! {
    /// E2 NODE CONFIGURATION UPDATE ACKNOWLEDGE (RIC → E2 node).
    pub struct E2NodeConfigurationUpdateAcknowledge = E2nodeConfigurationUpdateAcknowledge(E2nodeConfigurationUpdateAcknowledgeProtocolIEs / AnonymousE2nodeConfigurationUpdateAcknowledgeProtocolIEs) {
        transaction_id: mandatory asn::TransactionID = ID_TRANSACTION_ID, reject;
        component_config_addition_ack: optional Vec<asn::E2nodeComponentConfigAdditionAckItem> = ID_E2NODE_COMPONENT_CONFIG_ADDITION_ACK, reject;
        component_config_update_ack: optional Vec<asn::E2nodeComponentConfigUpdateAckItem> = ID_E2NODE_COMPONENT_CONFIG_UPDATE_ACK, reject;
        component_config_removal_ack: optional Vec<asn::E2nodeComponentConfigRemovalAckItem> = ID_E2NODE_COMPONENT_CONFIG_REMOVAL_ACK, reject;
    }
}

message! {
    /// E2 NODE CONFIGURATION UPDATE FAILURE (RIC → E2 node).
    pub struct E2NodeConfigurationUpdateFailure = E2nodeConfigurationUpdateFailure(E2nodeConfigurationUpdateFailureProtocolIEs / AnonymousE2nodeConfigurationUpdateFailureProtocolIEs) {
        transaction_id: mandatory asn::TransactionID = ID_TRANSACTION_ID, reject;
        cause: mandatory asn::Cause = ID_CAUSE, ignore;
        time_to_wait: optional asn::TimeToWait = ID_TIME_TO_WAIT, ignore;
        criticality_diagnostics: optional asn::CriticalityDiagnostics = ID_CRITICALITY_DIAGNOSTICS, ignore;
    }
}
