//! Readable constructors for the IE values the generated types make verbose
//! (TBCD PLMN identities, bit-string node ids, PrintableString OIDs, …).
//! Functions whose input can be out of range return [`BuildError`].

use rasn::types::{BitString, FixedOctetString, Integer, PrintableString};

use crate::e2ap_asn as asn;

/// A value given to a builder is out of its ASN.1 range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {why}")]
pub struct BuildError {
    pub what: &'static str,
    pub why: String,
}

fn err(what: &'static str, why: impl Into<String>) -> BuildError {
    BuildError { what, why: why.into() }
}

/// PLMN identity in TBCD (3GPP TS 24.008 §10.5.1.3) from MCC and MNC digits.
/// `plmn("001", "01")` is `00 F1 10`.
pub fn plmn(mcc: &str, mnc: &str) -> Result<asn::PLMNIdentity, BuildError> {
    let digits = |s: &str, what| -> Result<Vec<u8>, BuildError> {
        s.bytes()
            .map(|b| if b.is_ascii_digit() { Ok(b - b'0') } else { Err(err(what, format!("{s:?} is not all digits"))) })
            .collect()
    };
    let c = digits(mcc, "MCC")?;
    let n = digits(mnc, "MNC")?;
    if c.len() != 3 {
        return Err(err("MCC", format!("{mcc:?} must have 3 digits")));
    }
    if !(2..=3).contains(&n.len()) {
        return Err(err("MNC", format!("{mnc:?} must have 2 or 3 digits")));
    }
    let mnc3 = n.get(2).copied().unwrap_or(0xF);
    Ok(asn::PLMNIdentity(FixedOctetString::new([c[1] << 4 | c[0], mnc3 << 4 | c[2], n[1] << 4 | n[0]])))
}

/// The MCC and MNC digits of a PLMN identity (inverse of [`plmn`]).
pub fn plmn_digits(p: &asn::PLMNIdentity) -> (String, String) {
    let b = p.0.as_ref();
    let d = |x: u8| char::from(b'0' + (x & 0xF).min(9));
    let mcc: String = [d(b[0]), d(b[0] >> 4), d(b[1])].into_iter().collect();
    let mut mnc: String = [d(b[2]), d(b[2] >> 4)].into_iter().collect();
    if b[1] >> 4 != 0xF {
        mnc.push(d(b[1] >> 4));
    }
    (mcc, mnc)
}

fn bits(value: u64, len: usize) -> BitString {
    (0..len).rev().map(|i| (value >> i) & 1 == 1).collect()
}

/// The integer value of a bit string (most significant bit first), if ≤ 64 bits.
pub fn bits_value(b: &BitString) -> Option<u64> {
    (b.len() <= 64).then(|| b.iter().fold(0u64, |acc, bit| acc << 1 | u64::from(*bit)))
}

/// E2AP transaction id (0..255).
pub fn transaction_id(id: u8) -> asn::TransactionID {
    asn::TransactionID(Integer::from(id))
}

/// RIC request id (requestor id, instance id).
pub fn request_id(requestor: u16, instance: u16) -> asn::RICrequestID {
    asn::RICrequestID::new(requestor, instance)
}

/// Global E2 node id of a gNB with a `gnb_id_bits`-long gNB id (22..=32 bits).
pub fn gnb_node_id(plmn: asn::PLMNIdentity, gnb_id: u32, gnb_id_bits: u8) -> Result<asn::GlobalE2nodeID, BuildError> {
    if !(22..=32).contains(&gnb_id_bits) {
        return Err(err("gNB-ID", format!("length {gnb_id_bits} bits is outside 22..=32")));
    }
    if gnb_id_bits < 32 && gnb_id >> gnb_id_bits != 0 {
        return Err(err("gNB-ID", format!("{gnb_id:#x} does not fit in {gnb_id_bits} bits")));
    }
    let global = asn::GlobalgNBID::new(plmn, asn::GNBIDChoice::gnb_ID(bits(gnb_id.into(), gnb_id_bits.into())));
    Ok(asn::GlobalE2nodeID::gNB(asn::GlobalE2nodeGNBID::new(global, None, None, None)))
}

/// Global RIC id (PLMN + 20-bit RIC id).
pub fn ric_id(plmn: asn::PLMNIdentity, ric_id: u32) -> Result<asn::GlobalRICID, BuildError> {
    if ric_id >> 20 != 0 {
        return Err(err("ric-ID", format!("{ric_id:#x} does not fit in 20 bits")));
    }
    Ok(asn::GlobalRICID::new(plmn, bits(ric_id.into(), 20)))
}

/// A RAN function as advertised in E2 Setup / RIC Service Update.
/// `oid` is the E2SM's RAN function OID (PrintableString, 1..1000 chars).
pub fn ran_function(id: u16, revision: u16, oid: &str, definition: &[u8]) -> Result<asn::RANfunctionItem, BuildError> {
    if id > 4095 {
        return Err(err("RANfunctionID", format!("{id} is outside 0..4095")));
    }
    if revision > 4095 {
        return Err(err("RANfunctionRevision", format!("{revision} is outside 0..4095")));
    }
    if oid.is_empty() || oid.len() > 1000 {
        return Err(err("RANfunctionOID", "must be 1..1000 characters"));
    }
    let oid = PrintableString::try_from(oid.to_string()).map_err(|e| err("RANfunctionOID", e.to_string()))?;
    Ok(asn::RANfunctionItem::new(
        asn::RANfunctionID(id),
        asn::RANfunctionDefinition(definition.to_vec().into()),
        asn::RANfunctionRevision(revision),
        asn::RANfunctionOID(oid),
    ))
}

/// An F1 E2 node component (the gNB-DU with id `du_id`) with the F1 setup
/// request/response it reports as its configuration.
pub fn f1_component(
    du_id: u64,
    request: &[u8],
    response: &[u8],
) -> Result<asn::E2nodeComponentConfigAdditionItem, BuildError> {
    if du_id > (1 << 36) - 1 {
        return Err(err("gNB-DU-ID", format!("{du_id} is outside 0..2^36-1")));
    }
    Ok(asn::E2nodeComponentConfigAdditionItem::new(
        asn::E2nodeComponentInterfaceType::f1,
        asn::E2nodeComponentID::e2nodeComponentInterfaceTypeF1(asn::E2nodeComponentInterfaceF1::new(asn::GNBDUID(
            du_id,
        ))),
        asn::E2nodeComponentConfiguration::new(request.to_vec().into(), response.to_vec().into()),
    ))
}

/// The acknowledgement of a component addition (success).
pub fn component_ack(item: &asn::E2nodeComponentConfigAdditionItem) -> asn::E2nodeComponentConfigAdditionAckItem {
    asn::E2nodeComponentConfigAdditionAckItem::new(
        item.e2node_component_interface_type,
        item.e2node_component_id.clone(),
        asn::E2nodeComponentConfigurationAck::new(asn::E2nodeComponentConfigurationAckUpdateOutcome::success, None),
    )
}

/// A REPORT/INSERT/POLICY action to set up in a RIC subscription.
pub fn action(id: u8, action_type: asn::RICactionType, definition: Option<&[u8]>) -> asn::RICactionToBeSetupItem {
    asn::RICactionToBeSetupItem::new(
        asn::RICactionID(id),
        action_type,
        definition.map(|d| asn::RICactionDefinition(d.to_vec().into())),
        None,
        None,
    )
}
