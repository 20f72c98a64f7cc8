//! Information-element plumbing: how one typed IE value becomes the APER
//! bytes of an open-type `value` field (and back), and how it is shown in
//! JER (X.697), which is what the pycrate cross-check compares.
//!
//! rasn-compiler leaves every `ProtocolIE-Field.value` and every
//! `ProtocolIE-SingleContainer.value` as [`Any`]. [`IeValue`] is the one
//! place that knows how to open them: plain IE types decode directly, lists
//! of single containers (`RANfunctions-List`, `RICaction-Admitted-List`, …)
//! are `Vec<Item>` and open each container in turn.

use rasn::types::Any;
use serde_json::{Map, Value};

use super::error::IeError;
use crate::e2ap_asn::{self as asn, Criticality, ProtocolIEID};

/// One IE as it travels: id, criticality and the APER bytes of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawIe {
    pub id: u16,
    pub criticality: Criticality,
    pub value: Vec<u8>,
}

/// rasn-compiler 0.16 spells a container field's `id` and `criticality`
/// either as the shared `ProtocolIE-ID`/`Criticality` types or, for some
/// containers, as a plain `u16` and an inlined copy of the Criticality enum
/// (wire-identical). These two traits let the macros treat both alike.
pub(crate) trait IdRepr {
    fn from_u16(v: u16) -> Self;
    fn to_u16(&self) -> u16;
}

impl IdRepr for u16 {
    fn from_u16(v: u16) -> Self {
        v
    }
    fn to_u16(&self) -> u16 {
        *self
    }
}

impl IdRepr for ProtocolIEID {
    fn from_u16(v: u16) -> Self {
        ProtocolIEID(v)
    }
    fn to_u16(&self) -> u16 {
        self.0
    }
}

/// See [`IdRepr`].
pub(crate) trait CritRepr {
    fn from_crit(c: Criticality) -> Self;
    fn to_crit(&self) -> Criticality;
}

macro_rules! crit_repr {
    ($($ty:path),* $(,)?) => {$(
        impl CritRepr for $ty {
            fn from_crit(c: Criticality) -> Self {
                match c {
                    Criticality::reject => Self::reject,
                    Criticality::ignore => Self::ignore,
                    Criticality::notify => Self::notify,
                }
            }
            fn to_crit(&self) -> Criticality {
                match self {
                    Self::reject => Criticality::reject,
                    Self::ignore => Criticality::ignore,
                    Self::notify => Criticality::notify,
                }
            }
        }
    )*};
}

crit_repr!(
    Criticality,
    asn::AnonymousE2nodeComponentConfigAdditionListCriticality,
    asn::AnonymousE2nodeComponentConfigAdditionAckListCriticality,
    asn::AnonymousE2nodeComponentConfigRemovalListCriticality,
    asn::AnonymousE2nodeComponentConfigRemovalAckListCriticality,
    asn::AnonymousE2nodeComponentConfigUpdateListCriticality,
    asn::AnonymousE2nodeComponentConfigUpdateAckListCriticality,
    asn::AnonymousE2nodeConfigurationUpdateProtocolIEsCriticality,
    asn::AnonymousE2nodeConfigurationUpdateAcknowledgeProtocolIEsCriticality,
    asn::AnonymousE2nodeConfigurationUpdateFailureProtocolIEsCriticality,
    asn::AnonymousE2nodeTNLassociationRemovalListCriticality,
    asn::AnonymousE2setupFailureProtocolIEsCriticality,
    asn::AnonymousE2setupRequestProtocolIEsCriticality,
    asn::AnonymousE2setupResponseProtocolIEsCriticality,
    asn::AnonymousErrorIndicationProtocolIEsCriticality,
);

/// A typed IE value: APER bytes in an open type, and a JER view.
pub trait IeValue: Sized {
    /// APER encoding of the value (the contents of the open type).
    fn encode_value(&self) -> Result<Vec<u8>, IeError>;
    /// Decodes the contents of the open type.
    fn decode_value(bytes: &[u8]) -> Result<Self, IeError>;
    /// X.697 JER view of the value, with nested containers opened.
    fn to_jer(&self) -> Result<Value, IeError>;
    /// Parses the JER view back.
    fn from_jer(value: &Value) -> Result<Self, IeError>;
}

pub(crate) fn aper_encode<T: rasn::Encode>(v: &T) -> Result<Vec<u8>, IeError> {
    rasn::aper::encode(v).map_err(|e| IeError::Encode(e.to_string()))
}

pub(crate) fn aper_decode<T: rasn::Decode>(bytes: &[u8]) -> Result<T, IeError> {
    rasn::aper::decode(bytes).map_err(|e| IeError::Aper(e.to_string()))
}

pub(crate) fn jer_encode<T: rasn::Encode>(v: &T) -> Result<Value, IeError> {
    let text = rasn::jer::encode(v).map_err(|e| IeError::Jer(e.to_string()))?;
    let mut value = serde_json::from_str(&text).map_err(|e| IeError::Jer(e.to_string()))?;
    fix_optional_fixed_bit_strings(&mut value, FixDirection::ToX697);
    Ok(value)
}

pub(crate) fn jer_decode<T: rasn::Decode>(v: &Value) -> Result<T, IeError> {
    let mut v = v.clone();
    fix_optional_fixed_bit_strings(&mut v, FixDirection::ToRasn);
    rasn::jer::decode(&v.to_string()).map_err(|e| IeError::Jer(e.to_string()))
}

/// The OPTIONAL fixed-size BIT STRINGs of E2AP v03.01 (field name, size).
/// rasn 0.30's JER ignores an OPTIONAL field's constraints, so these come
/// out in the variable-size form `{"length":16,"value":..}` instead of
/// X.697's plain hex string, and only that form is read back. APER is
/// unaffected. `TNLinformation.tnlPort` is the only such field (checked
/// against the generated code); see docs/rasn-bugs.md.
const OPTIONAL_FIXED_BIT_STRINGS: [(&str, u64); 1] = [("tnlPort", 16)];

#[derive(Clone, Copy)]
enum FixDirection {
    ToX697,
    ToRasn,
}

fn fix_optional_fixed_bit_strings(v: &mut Value, dir: FixDirection) {
    match v {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if let Some(&(_, len)) = OPTIONAL_FIXED_BIT_STRINGS.iter().find(|(name, _)| name == key) {
                    match dir {
                        FixDirection::ToX697 if field.get("length").and_then(Value::as_u64) == Some(len) => {
                            if let Some(hex) = field.get("value").cloned() {
                                *field = hex;
                            }
                        }
                        FixDirection::ToRasn if field.is_string() => {
                            *field = serde_json::json!({ "length": len, "value": field.clone() });
                        }
                        _ => {}
                    }
                } else {
                    fix_optional_fixed_bit_strings(field, dir);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| fix_optional_fixed_bit_strings(i, dir)),
        _ => {}
    }
}

/// Implements [`IeValue`] for generated types that hold no open type.
macro_rules! plain_ie {
    ($($ty:ty),* $(,)?) => {$(
        impl IeValue for $ty {
            fn encode_value(&self) -> Result<Vec<u8>, IeError> { aper_encode(self) }
            fn decode_value(bytes: &[u8]) -> Result<Self, IeError> { aper_decode(bytes) }
            fn to_jer(&self) -> Result<Value, IeError> { jer_encode(self) }
            fn from_jer(value: &Value) -> Result<Self, IeError> { jer_decode(value) }
        }
    )*};
}

plain_ie!(
    asn::TransactionID,
    asn::GlobalE2nodeID,
    asn::GlobalRICID,
    asn::Cause,
    asn::TimeToWait,
    asn::TNLinformation,
    asn::CriticalityDiagnostics,
    asn::RICrequestID,
    asn::RANfunctionID,
    asn::RICsubscriptionTime,
    asn::RICactionID,
    asn::RICindicationSN,
    asn::RICindicationType,
    asn::RICindicationHeader,
    asn::RICindicationMessage,
    asn::RICcallProcessID,
    asn::RICcontrolHeader,
    asn::RICcontrolMessage,
    asn::RICcontrolAckRequest,
    asn::RICcontrolOutcome,
);

/// An item carried in a `ProtocolIE-SingleContainer` inside a list IE.
pub trait ContainerItem: rasn::Encode + rasn::Decode + Clone {
    /// ASN.1 name of the item (for errors).
    const NAME: &'static str;
    /// The only IE id the list's IE set allows.
    const ID: u16;
    /// The criticality the IE set gives it.
    const CRITICALITY: Criticality;
    /// The generated list type (carries the SIZE constraint).
    type List: rasn::Encode + rasn::Decode;
    fn wrap(items: Vec<RawIe>) -> Self::List;
    fn unwrap(list: &Self::List) -> Vec<(u16, Criticality, &[u8])>;
}

macro_rules! container_item {
    ($($item:ident in $list:ident / $anon:ident = $id:ident, $crit:ident;)*) => {$(
        impl ContainerItem for asn::$item {
            const NAME: &'static str = stringify!($item);
            const ID: u16 = asn::$id.0;
            const CRITICALITY: Criticality = Criticality::$crit;
            type List = asn::$list;
            fn wrap(items: Vec<RawIe>) -> Self::List {
                asn::$list(
                    items
                        .into_iter()
                        .map(|r| asn::$anon::new(IdRepr::from_u16(r.id), CritRepr::from_crit(r.criticality), Any::new(r.value)))
                        .collect(),
                )
            }
            fn unwrap(list: &Self::List) -> Vec<(u16, Criticality, &[u8])> {
                list.0.iter().map(|a| (a.id.to_u16(), a.criticality.to_crit(), a.value.as_bytes())).collect()
            }
        }
    )*};
}

container_item! {
    RANfunctionItem in RANfunctionsList / AnonymousRANfunctionsList = ID_RANFUNCTION_ITEM, ignore;
    RANfunctionIDItem in RANfunctionsIDList / AnonymousRANfunctionsIDList = ID_RANFUNCTION_ID_ITEM, ignore;
    RANfunctionIDcauseItem in RANfunctionsIDcauseList / AnonymousRANfunctionsIDcauseList = ID_RANFUNCTION_IECAUSE_ITEM, ignore;
    RICactionAdmittedItem in RICactionAdmittedList / AnonymousRICactionAdmittedList = ID_RICACTION_ADMITTED_ITEM, ignore;
    RICactionNotAdmittedItem in RICactionNotAdmittedList / AnonymousRICactionNotAdmittedList = ID_RICACTION_NOT_ADMITTED_ITEM, ignore;
    RICactionToBeSetupItem in RICactionsToBeSetupList / AnonymousRICactionsToBeSetupList = ID_RICACTION_TO_BE_SETUP_ITEM, ignore;
    RICsubscriptionWithCauseItem in RICsubscriptionListWithCause / AnonymousRICsubscriptionListWithCause = ID_RICSUBSCRIPTION_WITH_CAUSE_ITEM, ignore;
    E2nodeComponentConfigAdditionItem in E2nodeComponentConfigAdditionList / AnonymousE2nodeComponentConfigAdditionList = ID_E2NODE_COMPONENT_CONFIG_ADDITION_ITEM, reject;
    E2nodeComponentConfigAdditionAckItem in E2nodeComponentConfigAdditionAckList / AnonymousE2nodeComponentConfigAdditionAckList = ID_E2NODE_COMPONENT_CONFIG_ADDITION_ACK_ITEM, reject;
    E2nodeComponentConfigUpdateItem in E2nodeComponentConfigUpdateList / AnonymousE2nodeComponentConfigUpdateList = ID_E2NODE_COMPONENT_CONFIG_UPDATE_ITEM, reject;
    E2nodeComponentConfigUpdateAckItem in E2nodeComponentConfigUpdateAckList / AnonymousE2nodeComponentConfigUpdateAckList = ID_E2NODE_COMPONENT_CONFIG_UPDATE_ACK_ITEM, reject;
    E2nodeComponentConfigRemovalItem in E2nodeComponentConfigRemovalList / AnonymousE2nodeComponentConfigRemovalList = ID_E2NODE_COMPONENT_CONFIG_REMOVAL_ITEM, reject;
    E2nodeComponentConfigRemovalAckItem in E2nodeComponentConfigRemovalAckList / AnonymousE2nodeComponentConfigRemovalAckList = ID_E2NODE_COMPONENT_CONFIG_REMOVAL_ACK_ITEM, reject;
    E2nodeTNLassociationRemovalItem in E2nodeTNLassociationRemovalList / AnonymousE2nodeTNLassociationRemovalList = ID_E2NODE_TNLASSOCIATION_REMOVAL_ITEM, reject;
}

fn open_items<T: ContainerItem>(list: &T::List) -> Result<Vec<T>, IeError> {
    T::unwrap(list)
        .into_iter()
        .enumerate()
        .map(|(index, (id, _crit, bytes))| {
            if id != T::ID {
                return Err(IeError::UnexpectedItem { list_item: T::NAME, index, expected: T::ID, found: id });
            }
            aper_decode::<T>(bytes).map_err(|e| IeError::Item { list_item: T::NAME, index, source: Box::new(e) })
        })
        .collect()
}

fn seal_items<T: ContainerItem>(items: &[T]) -> Result<T::List, IeError> {
    let raw = items
        .iter()
        .map(|item| Ok(RawIe { id: T::ID, criticality: T::CRITICALITY, value: aper_encode(item)? }))
        .collect::<Result<Vec<_>, IeError>>()?;
    Ok(T::wrap(raw))
}

fn criticality_name(c: Criticality) -> &'static str {
    match c {
        Criticality::reject => "reject",
        Criticality::ignore => "ignore",
        Criticality::notify => "notify",
    }
}

/// JER of one `ProtocolIE-Field` / `ProtocolIE-SingleContainer`.
pub(crate) fn field_jer(id: u16, criticality: Criticality, value: Value) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(id));
    m.insert("criticality".into(), Value::from(criticality_name(criticality)));
    m.insert("value".into(), value);
    Value::Object(m)
}

/// Reads `{"id":..,"value":..}` from a JER field.
pub(crate) fn field_from_jer(v: &Value) -> Result<(u16, &Value), IeError> {
    let id = v
        .get("id")
        .and_then(Value::as_u64)
        .and_then(|id| u16::try_from(id).ok())
        .ok_or_else(|| IeError::Jer("IE field without a numeric id".into()))?;
    let value = v.get("value").ok_or_else(|| IeError::Jer(format!("IE {id} without a value")))?;
    Ok((id, value))
}

fn items_to_jer<T: ContainerItem>(items: &[T]) -> Result<Value, IeError> {
    items
        .iter()
        .map(|item| Ok(field_jer(T::ID, T::CRITICALITY, jer_encode(item)?)))
        .collect::<Result<Vec<_>, IeError>>()
        .map(Value::Array)
}

fn items_from_jer<T: ContainerItem>(v: &Value) -> Result<Vec<T>, IeError> {
    let arr = v.as_array().ok_or_else(|| IeError::Jer(format!("{} list is not a JSON array", T::NAME)))?;
    arr.iter()
        .enumerate()
        .map(|(index, f)| {
            let (id, value) = field_from_jer(f)?;
            if id != T::ID {
                return Err(IeError::UnexpectedItem { list_item: T::NAME, index, expected: T::ID, found: id });
            }
            jer_decode(value)
        })
        .collect()
}

impl<T: ContainerItem> IeValue for Vec<T> {
    fn encode_value(&self) -> Result<Vec<u8>, IeError> {
        aper_encode(&seal_items(self)?)
    }
    fn decode_value(bytes: &[u8]) -> Result<Self, IeError> {
        open_items::<T>(&aper_decode::<T::List>(bytes)?)
    }
    fn to_jer(&self) -> Result<Value, IeError> {
        items_to_jer(self)
    }
    fn from_jer(value: &Value) -> Result<Self, IeError> {
        items_from_jer(value)
    }
}

/// `RICsubscriptionDetails` with its action list opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionDetails {
    /// E2SM-specific event trigger (e.g. an E2SM-KPM event trigger definition).
    pub event_trigger_definition: Vec<u8>,
    /// Actions to set up (1..16).
    pub actions: Vec<asn::RICactionToBeSetupItem>,
}

impl IeValue for SubscriptionDetails {
    fn encode_value(&self) -> Result<Vec<u8>, IeError> {
        aper_encode(&asn::RICsubscriptionDetails::new(
            asn::RICeventTriggerDefinition(self.event_trigger_definition.clone().into()),
            seal_items(&self.actions)?,
        ))
    }
    fn decode_value(bytes: &[u8]) -> Result<Self, IeError> {
        let d: asn::RICsubscriptionDetails = aper_decode(bytes)?;
        Ok(Self {
            event_trigger_definition: d.ric_event_trigger_definition.0.to_vec(),
            actions: open_items::<asn::RICactionToBeSetupItem>(&d.ric_action_to_be_setup_list)?,
        })
    }
    fn to_jer(&self) -> Result<Value, IeError> {
        let mut m = Map::new();
        m.insert(
            "ricEventTriggerDefinition".into(),
            jer_encode(&asn::RICeventTriggerDefinition(self.event_trigger_definition.clone().into()))?,
        );
        m.insert("ricAction-ToBeSetup-List".into(), items_to_jer(&self.actions)?);
        Ok(Value::Object(m))
    }
    fn from_jer(value: &Value) -> Result<Self, IeError> {
        let trigger: asn::RICeventTriggerDefinition = jer_decode(
            value
                .get("ricEventTriggerDefinition")
                .ok_or_else(|| IeError::Jer("missing ricEventTriggerDefinition".into()))?,
        )?;
        let actions = items_from_jer(
            value
                .get("ricAction-ToBeSetup-List")
                .ok_or_else(|| IeError::Jer("missing ricAction-ToBeSetup-List".into()))?,
        )?;
        Ok(Self { event_trigger_definition: trigger.0.to_vec(), actions })
    }
}
