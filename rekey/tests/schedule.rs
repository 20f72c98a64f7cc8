//! Random schedules of message loss, duplication and reordering (proptest), checking the
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! model's properties on the Rust machines: make-before-break at every data-plane step (the
//! harness asserts it after every op), data both ways always decrypts, epochs applied at the
//! node strictly increase, and the link keeps making progress.

mod common;

use std::time::Duration;

use common::World;
use proptest::prelude::*;
use qsafe_rekey::RicAction;
use qsafe_rekey::e2sm_qkd::KeySourceMode;

#[derive(Debug, Clone)]
enum Step {
    Rekey(bool),
    DeliverToNode { index: usize, duplicate: bool },
    DeliverToRic { index: usize, duplicate: bool },
    DropToNode(usize),
    DropToRic(usize),
    Report,
    Tick(u64),
    Traffic,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => any::<bool>().prop_map(Step::Rekey),
        4 => (0usize..4, any::<bool>()).prop_map(|(index, duplicate)| Step::DeliverToNode { index, duplicate }),
        4 => (0usize..4, any::<bool>()).prop_map(|(index, duplicate)| Step::DeliverToRic { index, duplicate }),
        1 => (0usize..4).prop_map(Step::DropToNode),
        1 => (0usize..4).prop_map(Step::DropToRic),
        1 => Just(Step::Report),
        2 => (10u64..700).prop_map(Step::Tick),
        3 => Just(Step::Traffic),
    ]
}

fn drain(w: &mut World) {
    // Run actions without delivering messages (delivery is the schedule's business).
    loop {
        let mut moved = false;
        while let Some(a) = w.ric.poll_action() {
            moved = true;
            match a {
                RicAction::DataPlane(op) => {
                    if let qsafe_rekey::DataPlaneOp::Delete { spi, .. } = &op {
                        w.spis.release(*spi);
                    }
                    w.rk.apply(op);
                    w.invariant();
                }
                RicAction::SendControl { header, message } => w.to_node.push_back((header, message)),
                other => w.ric_events.push(other),
            }
        }
        while let Some(a) = w.node.poll_action() {
            moved = true;
            match a {
                qsafe_rekey::NodeAction::DataPlane(op) => {
                    if let qsafe_rekey::DataPlaneOp::InstallOutbound(sa) = &op {
                        w.applied_epochs.push(sa.epoch);
                    }
                    w.nk.apply(op);
                    w.invariant();
                }
                qsafe_rekey::NodeAction::FetchQkdKey { key_id, .. } => {
                    let r = match w.kme.remove(&key_id) {
                        Some(b) => Ok(qsafe_qkd::api::Key::new(key_id, qsafe_qkd::api::KeyMaterial::from_slice(&b))),
                        None => Err(qsafe_rekey::QkdFetchError::NotFound),
                    };
                    w.node.on_qkd_key(r, w.now).unwrap();
                }
                qsafe_rekey::NodeAction::SendOutcome { outcome, .. } => w.to_ric.push_back(outcome),
                other => w.node_events.push(other),
            }
        }
        if !moved {
            break;
        }
    }
}

fn run(steps: &[Step]) {
    let mut w = World::new();
    w.bootstrap();
    for s in steps {
        match s {
            Step::Rekey(qkd) => {
                let mode = if *qkd { KeySourceMode::AtLeastQkd } else { KeySourceMode::Either };
                let key = qkd.then(|| w.qkd_key());
                let spis = w.spis.allocate_pair().unwrap();
                if w.ric.start_rekey(w.now, mode, key, spis).is_err() {
                    w.spis.release(spis.0);
                    w.spis.release(spis.1);
                }
            }
            Step::DeliverToNode { index, duplicate } => {
                if !w.to_node.is_empty() {
                    let i = index % w.to_node.len();
                    let (h, m) = if *duplicate { w.to_node[i].clone() } else { w.to_node.remove(i).unwrap() };
                    w.node.on_control(&h, &m, w.wall, w.now).unwrap();
                }
            }
            Step::DeliverToRic { index, duplicate } => {
                if !w.to_ric.is_empty() {
                    let i = index % w.to_ric.len();
                    let o = if *duplicate { w.to_ric[i].clone() } else { w.to_ric.remove(i).unwrap() };
                    let _ = w.ric.on_outcome(&o, w.now);
                }
            }
            Step::DropToNode(i) => {
                if !w.to_node.is_empty() {
                    let n = w.to_node.len();
                    w.to_node.remove(i % n);
                }
            }
            Step::DropToRic(i) => {
                if !w.to_ric.is_empty() {
                    let n = w.to_ric.len();
                    w.to_ric.remove(i % n);
                }
            }
            Step::Report => {
                let r = w.node.report(w.now, Default::default(), None, true).unwrap();
                w.ric.on_report(&r, w.wall).unwrap();
            }
            Step::Tick(ms) => {
                w.now += Duration::from_millis(*ms);
                w.ric.handle_timeout(w.now);
                w.node.handle_timeout(w.now);
            }
            Step::Traffic => w.traffic(),
        }
        drain(&mut w);
        w.traffic();
    }
    assert!(w.applied_epochs.windows(2).all(|p| p[0] < p[1]), "node epochs: {:?}", w.applied_epochs);
    // Progress: with a clean network from here on, the link rekeys.
    w.to_node.clear();
    w.to_ric.clear();
    for _ in 0..6 {
        w.advance(Duration::from_millis(300));
    }
    let r = w.node.report(w.now, Default::default(), None, true).unwrap();
    w.ric.on_report(&r, w.wall).unwrap();
    let e = w.rekey(KeySourceMode::AtLeastQkd, true).expect("rekey after the storm");
    assert!(matches!(w.last_ric_event(), Some(RicAction::RekeyDone { epoch, .. }) if *epoch == e));
    w.traffic();
    assert!(w.applied_epochs.windows(2).all(|p| p[0] < p[1]));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn random_loss_duplication_reordering(steps in proptest::collection::vec(step(), 1..60)) {
        run(&steps);
    }
}
