//! A [`Ric`] and an [`E2NodeAgent`] joined back to back, with no transport
//! at all: what benches, profiling examples and fuzz targets need to put one
//! PDU through a live, set-up association.
//!
//! [`BackToBack::new`] runs E2 Setup (one E2SM-KPM RAN function, id
//! [`KPM_RAN_FUNCTION_ID`]) and one KPM REPORT subscription with action
//! [`KPM_ACTION_ID`], so [`E2NodeAgent::send_indication`] works at once.
//! [`BackToBack::pump`] moves PDUs both ways until both sides are quiet and
//! discards the events (the caller polls what it wants first).

use std::time::{Duration, Instant};

use qsafe_asn1::e2ap::build;
use qsafe_asn1::e2ap_asn as asn;
use qsafe_asn1::kpm::{self, KpmPayload};

use crate::common::{ComponentConfig, RanFunction};
use crate::node::{E2NodeAgent, E2NodeConfig, SubscriptionPolicy};
use crate::ric::{AssociationId, Ric, RicConfig, SubscriptionRequest};
use crate::{E2NodeId, RequestId};

/// RAN function id of the node's E2SM-KPM function.
pub const KPM_RAN_FUNCTION_ID: u16 = 2;
/// Action id of the KPM REPORT action of the subscription.
pub const KPM_ACTION_ID: u8 = 1;

/// A set-up RIC and E2 node with one live KPM subscription.
#[derive(Debug)]
pub struct BackToBack {
    /// The RIC side.
    pub ric: Ric,
    /// The E2 node side.
    pub node: E2NodeAgent,
    /// The node's association at the RIC.
    pub association: AssociationId,
    /// The KPM subscription (action [`KPM_ACTION_ID`], admitted).
    pub subscription: RequestId,
    /// The time both sides were given (never advanced).
    pub now: Instant,
}

/// Why [`BackToBack::new`] failed (a bug in this module or the builders).
#[derive(Debug, thiserror::Error)]
#[error("back-to-back set-up failed at {step}: {detail}")]
pub struct BackToBackError {
    step: &'static str,
    detail: String,
}

fn at<E: std::fmt::Display>(step: &'static str) -> impl FnOnce(E) -> BackToBackError {
    move |e| BackToBackError { step, detail: e.to_string() }
}

impl BackToBack {
    /// E2 Setup of node gNB 001-01/0xE000 (KPM reporting `DRB.UEThpDl`) and
    /// one KPM subscription, all pumped through.
    pub fn new() -> Result<Self, BackToBackError> {
        let now = Instant::now();
        let ric_id = build::ric_id(build::plmn("001", "01").map_err(at("PLMN"))?, 5).map_err(at("RIC id"))?;
        let mut ric = Ric::new(RicConfig::new(ric_id, 1001));
        let node_id = E2NodeId::gnb("001", "01", 0xE000, 28).map_err(at("node id"))?;
        let definition = kpm::ran_function_description(&["DRB.UEThpDl"])
            .map_err(at("RAN function description"))?
            .encode_aper()
            .map_err(at("RAN function description"))?;
        let mut config = E2NodeConfig::new(
            node_id.clone(),
            vec![RanFunction::new(KPM_RAN_FUNCTION_ID, 1, kpm::RAN_FUNCTION_OID, definition)],
            vec![ComponentConfig::f1(7, b"req".to_vec(), b"resp".to_vec()).map_err(at("component"))?],
        );
        config.subscription_policy = SubscriptionPolicy::AdmitAll;
        let mut node = E2NodeAgent::new(config).map_err(at("node agent"))?;
        let association = ric.connection_up(now);
        node.connection_up(now);
        let mut p = BackToBack { ric, node, association, subscription: RequestId::new(0, 0), now };
        p.pump();
        let action_definition = kpm::action_definition_format1(&["DRB.UEThpDl"], 1000)
            .map_err(at("action definition"))?
            .encode_aper()
            .map_err(at("action definition"))?;
        let request = SubscriptionRequest {
            ran_function_id: KPM_RAN_FUNCTION_ID,
            event_trigger: kpm::periodic_trigger(1000).encode_aper().map_err(at("event trigger"))?.into(),
            actions: vec![build::action(KPM_ACTION_ID, asn::RICactionType::report, Some(&action_definition))],
        };
        p.subscription = p.ric.subscribe(now, &node_id, request, Duration::from_secs(2)).map_err(at("subscribe"))?;
        p.pump();
        Ok(p)
    }

    /// Moves PDUs both ways until neither side has anything to send, then
    /// drops both sides' events.
    pub fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some((_, t)) = self.ric.poll_transmit() {
                moved = true;
                self.node.handle_pdu(self.now, t.stream, &t.bytes);
            }
            while let Some(t) = self.node.poll_transmit() {
                moved = true;
                // The association is ours and live: this cannot fail.
                let _ = self.ric.handle_pdu(self.now, self.association, t.stream, &t.bytes);
            }
            if !moved {
                break;
            }
        }
        while self.ric.poll_event().is_some() {}
        while self.node.poll_event().is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indication_goes_through() {
        let mut p = BackToBack::new().expect("set up");
        p.node.send_indication(p.subscription, KPM_ACTION_ID, vec![1u8], vec![2u8, 3]).expect("indication");
        let t = p.node.poll_transmit().expect("a PDU");
        p.ric.handle_pdu(p.now, p.association, t.stream, &t.bytes).expect("association");
        match p.ric.poll_event() {
            Some(crate::ric::Event::Indication(ind)) => {
                assert_eq!(ind.subscription, p.subscription);
                assert_eq!(&ind.message[..], &[2, 3]);
            }
            other => panic!("expected an indication, got {other:?}"),
        }
    }
}
