//! Identifiers both roles use: the RIC request id of a functional
//! procedure and the global id of an E2 node.

use std::fmt;

use qsafe_asn1::e2ap::build::{self, BuildError};
use qsafe_asn1::e2ap_asn as asn;
use rasn::types::BitString;

/// A `RICrequestID`: the key of a RIC subscription or RIC control request.
///
/// The RIC allocates it (the requestor id names the xApp, the instance id is
/// unique among that xApp's live requests); the E2 node only echoes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId {
    /// `ricRequestorID`: which RIC application asked.
    pub requestor: u16,
    /// `ricInstanceID`: which of its requests.
    pub instance: u16,
}

impl RequestId {
    /// A request id from its two halves.
    pub const fn new(requestor: u16, instance: u16) -> Self {
        Self { requestor, instance }
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.requestor, self.instance)
    }
}

impl From<&asn::RICrequestID> for RequestId {
    fn from(r: &asn::RICrequestID) -> Self {
        Self { requestor: r.ric_requestor_id, instance: r.ric_instance_id }
    }
}

impl From<RequestId> for asn::RICrequestID {
    fn from(r: RequestId) -> Self {
        asn::RICrequestID::new(r.requestor, r.instance)
    }
}

/// The global id of an E2 node (`GlobalE2node-ID`), the key of the RIC's
/// node registry. Displays in a compact readable form, e.g.
/// `gNB/001-01/0xe000:28`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct E2NodeId(pub asn::GlobalE2nodeID);

impl E2NodeId {
    /// The id of a gNB with a `gnb_id_bits`-long gNB id (22..=32 bits).
    pub fn gnb(mcc: &str, mnc: &str, gnb_id: u32, gnb_id_bits: u8) -> Result<Self, BuildError> {
        Ok(Self(build::gnb_node_id(build::plmn(mcc, mnc)?, gnb_id, gnb_id_bits)?))
    }

    /// The wire value.
    pub fn as_asn(&self) -> &asn::GlobalE2nodeID {
        &self.0
    }
}

impl From<asn::GlobalE2nodeID> for E2NodeId {
    fn from(id: asn::GlobalE2nodeID) -> Self {
        Self(id)
    }
}

fn write_plmn(f: &mut fmt::Formatter<'_>, plmn: &asn::PLMNIdentity) -> fmt::Result {
    let (mcc, mnc) = build::plmn_digits(plmn);
    write!(f, "{mcc}-{mnc}")
}

fn write_bits(f: &mut fmt::Formatter<'_>, bits: &BitString) -> fmt::Result {
    match build::bits_value(bits) {
        Some(v) => write!(f, "{v:#x}:{}", bits.len()),
        None => write!(f, "?:{}", bits.len()),
    }
}

fn write_enb_id(f: &mut fmt::Formatter<'_>, id: &asn::ENBID) -> fmt::Result {
    match id {
        asn::ENBID::macro_eNB_ID(b)
        | asn::ENBID::home_eNB_ID(b)
        | asn::ENBID::short_Macro_eNB_ID(b)
        | asn::ENBID::long_Macro_eNB_ID(b) => write_bits(f, b),
        _ => f.write_str("?"),
    }
}

impl fmt::Display for E2NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            asn::GlobalE2nodeID::gNB(g) => {
                f.write_str("gNB/")?;
                write_plmn(f, &g.global_g_nb_id.plmn_id)?;
                f.write_str("/")?;
                match &g.global_g_nb_id.gnb_id {
                    asn::GNBIDChoice::gnb_ID(b) => write_bits(f, b)?,
                    _ => f.write_str("?")?,
                }
                if let Some(cu_up) = &g.g_nb_cu_up_id {
                    write!(f, "/cu-up{}", cu_up.0)?;
                }
                if let Some(du) = &g.g_nb_du_id {
                    write!(f, "/du{}", du.0)?;
                }
                Ok(())
            }
            asn::GlobalE2nodeID::en_gNB(g) => {
                f.write_str("en-gNB/")?;
                write_plmn(f, &g.global_en_g_nb_id.p_lmn_identity)?;
                f.write_str("/")?;
                match &g.global_en_g_nb_id.g_nb_id {
                    asn::ENGNBID::gNB_ID(b) => write_bits(f, b)?,
                    _ => f.write_str("?")?,
                }
                if let Some(cu_up) = &g.en_g_nb_cu_up_id {
                    write!(f, "/cu-up{}", cu_up.0)?;
                }
                if let Some(du) = &g.en_g_nb_du_id {
                    write!(f, "/du{}", du.0)?;
                }
                Ok(())
            }
            asn::GlobalE2nodeID::ng_eNB(g) => {
                f.write_str("ng-eNB/")?;
                write_plmn(f, &g.global_ng_e_nb_id.plmn_id)?;
                f.write_str("/")?;
                match &g.global_ng_e_nb_id.enb_id {
                    asn::ENBIDChoice::enb_ID_macro(b)
                    | asn::ENBIDChoice::enb_ID_shortmacro(b)
                    | asn::ENBIDChoice::enb_ID_longmacro(b) => write_bits(f, b)?,
                    _ => f.write_str("?")?,
                }
                if let Some(du) = &g.ng_enb_du_id {
                    write!(f, "/du{}", du.0)?;
                }
                Ok(())
            }
            asn::GlobalE2nodeID::eNB(g) => {
                f.write_str("eNB/")?;
                write_plmn(f, &g.global_e_nb_id.p_lmn_identity)?;
                f.write_str("/")?;
                write_enb_id(f, &g.global_e_nb_id.e_nb_id)
            }
            _ => f.write_str("E2 node (unknown id type)"),
        }
    }
}
