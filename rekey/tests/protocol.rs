//! The rekey protocol, RIC <-> node back to back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Fetch, World, node_cfg, pki};
use qsafe_rekey::e2sm_qkd::{
    ControlFailureCause, ControlHeader, ControlMessage, ControlOutcome, ControlResult, KeySource, KeySourceMode,
    LinkState,
};
use qsafe_rekey::{NodeAction, RekeyError, RekeyFailure, RicAction, RicError};

const ALL_MODES: [KeySourceMode; 4] =
    [KeySourceMode::QkdAndPqc, KeySourceMode::AtLeastQkd, KeySourceMode::AtLeastPqc, KeySourceMode::Either];

fn done(w: &World) -> (u32, KeySource) {
    match w.last_ric_event() {
        Some(RicAction::RekeyDone { epoch, key_source, .. }) => (*epoch, *key_source),
        other => panic!("expected RekeyDone, got {other:?}"),
    }
}

fn failed(w: &World) -> (u32, RekeyFailure, bool) {
    match w.last_ric_event() {
        Some(RicAction::RekeyFailed { epoch, cause, qkd_key_consumed }) => (*epoch, *cause, *qkd_key_consumed),
        other => panic!("expected RekeyFailed, got {other:?}"),
    }
}

/// Starts a rekey and returns the REKEY without delivering it (RIC data-plane ops applied).
fn take_rekey(w: &mut World, mode: KeySourceMode, qkd: bool) -> (ControlHeader, ControlMessage) {
    let key = qkd.then(|| w.qkd_key());
    let spis = w.spis.allocate_pair().unwrap();
    w.ric.start_rekey(w.now, mode, key, spis).unwrap();
    let mut out = None;
    while let Some(a) = w.ric.poll_action() {
        match a {
            RicAction::DataPlane(op) => w.rk.apply(op),
            RicAction::SendControl { header, message } => out = Some((header, message)),
            _ => {}
        }
    }
    out.unwrap()
}

/// Delivers a control to the node and returns its (signed) outcome; runs the QKD fetch.
fn deliver(w: &mut World, h: &ControlHeader, m: &ControlMessage) -> ControlOutcome {
    w.node.on_control(h, m, w.wall, w.now).unwrap();
    loop {
        match w.node.poll_action() {
            Some(NodeAction::SendOutcome { outcome, .. }) => return outcome,
            Some(NodeAction::FetchQkdKey { key_id, .. }) => {
                let r = match w.kme.get(&key_id) {
                    Some(b) => Ok(qsafe_qkd::api::Key::new(key_id, qsafe_qkd::api::KeyMaterial::from_slice(b))),
                    None => Err(qsafe_rekey::QkdFetchError::NotFound),
                };
                w.node.on_qkd_key(r, w.now).unwrap();
            }
            Some(NodeAction::DataPlane(op)) => w.nk.apply(op),
            Some(_) => {}
            None => panic!("node sent no outcome"),
        }
    }
}

#[test]
fn keys_match_per_direction_and_100_rekeys_increase_epochs() {
    let mut w = World::new();
    w.bootstrap();
    assert_eq!(w.ric.state(), LinkState::Unprotected);
    assert!(!w.node.may_send_application_traffic());
    let mut last = 0;
    for i in 0..100 {
        let e = w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
        assert_eq!(done(&w), (e, KeySource::Hybrid));
        assert!(e > last, "epoch {e} after {last}");
        last = e;
        // Data flows both ways under the new SAs, keys equal per direction.
        w.traffic();
        assert_eq!(w.rk.current_out().unwrap().0, e);
        assert_eq!(w.nk.current_out().unwrap().0, e);
        if i % 3 == 0 {
            w.advance(Duration::from_secs(1));
            w.traffic();
        }
    }
    assert!(w.rk.esp_required && w.nk.esp_required);
    assert!(w.node.may_send_application_traffic());
    assert_eq!(w.ric.state(), LinkState::Protected);
    assert_eq!(w.node.state(), LinkState::Protected);
    // Epochs applied at the node strictly increase.
    assert!(w.applied_epochs.windows(2).all(|p| p[0] < p[1]));
    assert_eq!(w.applied_epochs.len(), 100);
    // Old SAs go away once grace has passed and the RIC has switched.
    w.advance(Duration::from_secs(1));
    w.traffic();
    w.advance(Duration::from_secs(1));
    assert_eq!(w.rk.inbound.len(), 1, "RIC inbound SAs: {:?}", w.rk.inbound.keys());
    assert_eq!(w.nk.inbound.len(), 1, "node inbound SAs: {:?}", w.nk.inbound.keys());
    assert_eq!(w.node.installed_epochs(), vec![last]);
    // Every SPI but the current two went back to the allocator.
    assert_eq!(w.spis.len(), 2);
}

#[test]
fn each_mode_with_and_without_qkd_fails_closed() {
    for mode in ALL_MODES {
        for qkd in [true, false] {
            for kem in [true, false] {
                let mut w = World::new();
                w.bootstrap();
                if !kem {
                    // Use up the only KEM key with a PQC rekey, dropping the outcome (no new key).
                    w.drop_to_ric = 10;
                    w.rekey(KeySourceMode::AtLeastPqc, false).unwrap();
                    for _ in 0..5 {
                        w.advance(Duration::from_millis(300));
                    }
                    assert!(!w.ric.has_kem_key());
                    w.drop_to_ric = 0;
                }
                let expect_ok = match mode {
                    KeySourceMode::QkdAndPqc => qkd && kem,
                    KeySourceMode::AtLeastQkd => qkd,
                    KeySourceMode::AtLeastPqc => kem,
                    KeySourceMode::Either => qkd || kem,
                };
                let before = w.nk.inbound.len();
                match w.rekey(mode, qkd) {
                    Ok(e) => {
                        assert!(expect_ok, "{mode:?} qkd={qkd} kem={kem} should fail closed");
                        let (de, src) = done(&w);
                        assert_eq!(de, e);
                        assert_eq!(matches!(src, KeySource::Hybrid | KeySource::Qkd), qkd, "{mode:?} {src:?}");
                        assert_eq!(matches!(src, KeySource::Hybrid | KeySource::Pqc), kem, "{mode:?} {src:?}");
                        w.traffic();
                    }
                    Err(RekeyError::SourceMissing { .. }) => {
                        assert!(!expect_ok, "{mode:?} qkd={qkd} kem={kem} should work");
                        assert_eq!(w.nk.inbound.len(), before);
                        assert!(w.to_node.is_empty());
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        }
    }
}

#[test]
fn lost_rekey_is_retransmitted() {
    let mut w = World::new();
    w.bootstrap();
    w.drop_to_node = 2;
    let e = w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    assert!(w.ric.security().outstanding_rekey.is_some());
    w.advance(Duration::from_millis(250));
    w.advance(Duration::from_millis(250));
    assert_eq!(done(&w).0, e);
    w.traffic();
}

#[test]
fn lost_outcome_retransmission_gets_the_cached_outcome() {
    let mut w = World::new();
    w.bootstrap();
    w.drop_to_ric = 1;
    let e = w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    // The node applied it (its outbound switched), the RIC has not.
    assert_eq!(w.node.current_epoch(), e);
    assert!(w.rk.current_out().is_none());
    w.traffic();
    w.advance(Duration::from_millis(250));
    assert_eq!(done(&w).0, e);
    assert_eq!(w.applied_epochs, vec![e], "applied once");
    w.traffic();
}

#[test]
fn duplicated_and_reordered_outcomes_are_ignored() {
    let mut w = World::new();
    w.bootstrap();
    let (h, m) = take_rekey(&mut w, KeySourceMode::QkdAndPqc, true);
    let o1 = deliver(&mut w, &h, &m);
    let o1b = deliver(&mut w, &h, &m); // retransmission: the same outcome again
    assert_eq!(o1, o1b);
    assert!(w.ric.on_outcome(&o1, w.now).unwrap());
    w.pump();
    assert!(!w.ric.on_outcome(&o1b, w.now).unwrap(), "duplicate ignored");
    let e1 = done(&w).0;
    // A second rekey; the old outcome arriving late is ignored.
    let (h2, m2) = take_rekey(&mut w, KeySourceMode::QkdAndPqc, true);
    assert!(!w.ric.on_outcome(&o1, w.now).unwrap());
    let o2 = deliver(&mut w, &h2, &m2);
    assert!(w.ric.on_outcome(&o2, w.now).unwrap());
    w.pump();
    assert!(done(&w).0 > e1);
    w.traffic();
}

#[test]
fn giving_up_keeps_no_gap_and_next_rekey_uses_a_new_epoch() {
    let mut w = World::new();
    w.bootstrap();
    let e0 = w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    w.traffic();
    // Every outcome lost: the node applied e1, the RIC gives up.
    w.drop_to_ric = 100;
    let e1 = w.rekey(KeySourceMode::AtLeastQkd, true).unwrap();
    for _ in 0..5 {
        w.advance(Duration::from_millis(250));
        w.traffic(); // node sends under e1, RIC still has the inbound SA
    }
    let (fe, cause, consumed) = failed(&w);
    assert_eq!((fe, cause, consumed), (e1, RekeyFailure::Timeout, true));
    assert_eq!(w.node.current_epoch(), e1);
    w.advance(Duration::from_secs(5));
    w.traffic();
    w.drop_to_ric = 0;
    let e2 = w.rekey(KeySourceMode::AtLeastQkd, true).unwrap();
    assert!(e2 > e1 && e1 > e0);
    assert_eq!(done(&w).0, e2);
    w.traffic();
    w.advance(Duration::from_secs(1));
    w.traffic();
    w.advance(Duration::from_secs(1));
    assert_eq!(w.node.installed_epochs(), vec![e2]);
    assert_eq!(w.rk.inbound.len(), 1);
}

#[test]
fn tampered_rekey_fields_are_refused_and_nothing_changes() {
    type Tamper = (&'static str, fn(&mut qsafe_rekey::e2sm_qkd::RekeyCommand), ControlFailureCause);
    let tampers: Vec<Tamper> = vec![
        ("epoch", |c| c.epoch += 1, ControlFailureCause::BadSignature),
        ("ric_sae_id", |c| c.ric_sae_id.push('x'), ControlFailureCause::WrongSaeId),
        ("node_sae_id", |c| c.node_sae_id.push('x'), ControlFailureCause::WrongSaeId),
        ("key_id", |c| c.key_id.as_mut().unwrap()[0] ^= 1, ControlFailureCause::BadSignature),
        ("kem_key_id", |c| *c.kem_key_id.as_mut().unwrap() += 1, ControlFailureCause::BadSignature),
        (
            "kem_ciphertext",
            |c| {
                let mut v = c.kem_ciphertext.as_ref().unwrap().to_vec();
                v[7] ^= 1;
                c.kem_ciphertext = Some(v.into());
            },
            ControlFailureCause::BadSignature,
        ),
        ("spi_ric_to_node", |c| c.spi_ric_to_node += 1, ControlFailureCause::BadSignature),
        ("spi_node_to_ric", |c| c.spi_node_to_ric += 1, ControlFailureCause::BadSignature),
        ("mode", |c| c.mode = KeySourceMode::Either, ControlFailureCause::BadSignature),
        ("key_source", |c| c.key_source = KeySource::Pqc, ControlFailureCause::BadSignature),
        ("grace_ms", |c| c.grace_ms += 1, ControlFailureCause::BadSignature),
        (
            "ric_certificate_chain",
            |c| {
                let chain = c.ric_certificate_chain.as_mut().unwrap();
                let mut v = chain[0].to_vec();
                let n = v.len();
                v[n - 10] ^= 1;
                chain[0] = v.into();
            },
            ControlFailureCause::UntrustedCertificate,
        ),
        (
            "ric_certificate_chain (other valid chain)",
            |c| {
                c.ric_certificate_chain =
                    Some(pki().node.chain().iter().map(|d| bytes::Bytes::copy_from_slice(d.as_ref())).collect());
            },
            ControlFailureCause::BadSignature,
        ),
        (
            "signature",
            |c| {
                let mut v = c.signature.to_vec();
                v[100] ^= 1;
                c.signature = v.into();
            },
            ControlFailureCause::BadSignature,
        ),
    ];
    let mut w = World::new();
    w.bootstrap();
    let (h, m) = take_rekey(&mut w, KeySourceMode::QkdAndPqc, true);
    let ControlMessage::Rekey(orig) = &m else { unreachable!() };
    for (name, f, want) in tampers {
        let mut c = orig.clone();
        f(&mut c);
        let before = (w.node.control_epoch(), w.node.installed_epochs(), w.nk.inbound.len());
        let o = deliver(&mut w, &h, &ControlMessage::Rekey(c));
        assert_eq!(o.result, ControlResult::Failure(want), "{name}");
        assert!(o.next_kem_key.is_none(), "{name}: no KEM key for an unverified REKEY");
        assert_eq!(before, (w.node.control_epoch(), w.node.installed_epochs(), w.nk.inbound.len()), "{name}");
        // The refusal is signed and bound to the tampered command, so the RIC ignores it
        // (epoch differs) or refuses it (bad signature) and keeps waiting.
        let r = w.ric.on_outcome(&o, w.now);
        assert!(matches!(r, Ok(false) | Err(RicError::BadSignature(_))), "{name}: {r:?}");
        assert!(w.ric.security().outstanding_rekey.is_some());
    }
    // The genuine one still works.
    let o = deliver(&mut w, &h, &m);
    assert!(matches!(o.result, ControlResult::Success(KeySource::Hybrid)));
    assert!(w.ric.on_outcome(&o, w.now).unwrap());
    w.pump();
    w.traffic();
}

#[test]
fn replayed_epoch_is_refused_but_last_retransmission_gets_cached_outcome() {
    let mut w = World::new();
    w.bootstrap();
    let (h1, m1) = take_rekey(&mut w, KeySourceMode::AtLeastPqc, false);
    let o1 = deliver(&mut w, &h1, &m1);
    w.ric.on_outcome(&o1, w.now).unwrap();
    w.pump();
    let (h2, m2) = take_rekey(&mut w, KeySourceMode::AtLeastPqc, false);
    let o2 = deliver(&mut w, &h2, &m2);
    w.ric.on_outcome(&o2, w.now).unwrap();
    w.pump();
    let epochs = w.node.installed_epochs();
    // Old REKEY replayed: refused, nothing changes.
    let r = deliver(&mut w, &h1, &m1);
    assert_eq!(r.result, ControlResult::Failure(ControlFailureCause::ReplayedEpoch));
    assert_eq!(w.node.installed_epochs(), epochs);
    // The last one again: the cached outcome, byte for byte.
    let again = deliver(&mut w, &h2, &m2);
    assert_eq!(again, o2);
    assert_eq!(w.node.installed_epochs(), epochs);
}

#[test]
fn wrong_sae_id_and_untrusted_chains_are_refused() {
    // RIC configured for another node.
    let mut rc = common::ric_cfg();
    rc.node_sae_id = "other-node".into();
    let mut w = World::with(rc, common::node_cfg(), &pki().ric, &pki().node);
    let def = w.node.ran_function_definition().unwrap();
    assert!(matches!(w.ric.on_ran_function(&def, w.wall), Err(RicError::WrongSaeId { .. })));
    assert!(matches!(
        w.ric.start_rekey(w.now, KeySourceMode::Either, None, (300, 301)),
        Err(RekeyError::NotBootstrapped)
    ));

    // Node certified by another CA.
    let mut w = World::with(common::ric_cfg(), common::node_cfg(), &pki().ric, &pki().other_node);
    let def = w.node.ran_function_definition().unwrap();
    assert!(matches!(w.ric.on_ran_function(&def, w.wall), Err(RicError::Untrusted(_))));

    // Tampered KEM key in the RAN function definition.
    let mut w = World::new();
    let mut def = w.node.ran_function_definition().unwrap();
    let mut ek = def.first_kem_key.encapsulation_key.to_vec();
    ek[0] ^= 1;
    def.first_kem_key.encapsulation_key = ek.into();
    assert!(matches!(w.ric.on_ran_function(&def, w.wall), Err(RicError::BadSignature(_))));

    // RIC certified by another CA: the node refuses the REKEY.
    let mut w = World::with(common::ric_cfg(), common::node_cfg(), &pki().other_ric, &pki().node);
    w.bootstrap();
    let (h, m) = take_rekey(&mut w, KeySourceMode::AtLeastPqc, false);
    let o = deliver(&mut w, &h, &m);
    assert_eq!(o.result, ControlResult::Failure(ControlFailureCause::UntrustedCertificate));
    assert_eq!(w.node.control_epoch(), 0);
}

#[test]
fn unknown_kem_key_then_recovery_with_the_fresh_one() {
    let mut w = World::new();
    w.bootstrap();
    // The node rotates through more keys than it keeps (e.g. reports the RIC did not see).
    for _ in 0..=node_cfg().kem_keys_kept {
        w.node.next_kem_key().unwrap();
    }
    let e1 = w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    let (fe, cause, consumed) = failed(&w);
    assert_eq!((fe, cause, consumed), (e1, RekeyFailure::Node(ControlFailureCause::UnknownKemKey), true));
    assert!(w.nk.inbound.is_empty() && w.rk.inbound.is_empty());
    assert!(w.ric.has_kem_key(), "the failure outcome carried a fresh KEM key");
    let e2 = w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    assert!(e2 > e1);
    assert_eq!(done(&w).0, e2);
    w.traffic();
}

#[test]
fn key_id_desync_gives_new_key_and_new_epoch() {
    let mut w = World::new();
    w.bootstrap();
    let e0 = w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    w.fetch = Fetch::NotFound;
    let e1 = w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    let (fe, cause, consumed) = failed(&w);
    assert_eq!((fe, cause, consumed), (e1, RekeyFailure::Node(ControlFailureCause::QkdKeyNotFound), true));
    // The verified epoch was consumed at the node: it can never be used again.
    assert_eq!(w.node.control_epoch(), e1);
    assert_eq!(w.node.current_epoch(), e0);
    w.fetch = Fetch::Unavailable;
    let e2 = w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    assert_eq!(failed(&w).1, RekeyFailure::Node(ControlFailureCause::KmeUnavailable));
    w.fetch = Fetch::Ok;
    let e3 = w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    assert!(e0 < e1 && e1 < e2 && e2 < e3);
    let ids: Vec<_> = w
        .ric_events
        .iter()
        .filter_map(|e| match e {
            RicAction::RekeyDone { key_id, .. } => *key_id,
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1], "a QKD key is never reused");
    w.traffic();
}

#[test]
fn isolate_restore_and_rebootstrap() {
    let mut w = World::new();
    w.bootstrap();
    w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    w.traffic();
    // Isolation breaks the link on purpose: no make-before-break invariant from here.
    w.check_invariant = false;
    w.ric.isolate(w.now).unwrap();
    assert!(matches!(w.ric.start_rekey(w.now, KeySourceMode::Either, None, (300, 301)), Err(RekeyError::Isolated)));
    w.pump();
    assert_eq!(w.ric.state(), LinkState::Isolated);
    assert_eq!(w.node.state(), LinkState::Isolated);
    assert!(!w.node.may_send_application_traffic());
    assert!(!w.ric.may_send_control());
    // SAs gone, policies stay: nothing passes.
    assert!(w.rk.inbound.is_empty() && w.rk.outbound.is_empty() && w.rk.esp_required);
    assert!(w.nk.inbound.is_empty() && w.nk.outbound.is_empty() && w.nk.esp_required);
    let max_before = w.ric.security().max_epoch;
    // Recovery: the association died; both release their policies; re-bootstrap.
    w.node.on_association_lost();
    w.ric.restore(w.now).unwrap();
    w.pump();
    assert!(!w.rk.esp_required && !w.nk.esp_required);
    assert_eq!(w.ric.state(), LinkState::Unprotected);
    assert_eq!(w.node.state(), LinkState::Unprotected);
    w.bootstrap();
    w.check_invariant = true;
    let e = w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    assert!(e > max_before);
    assert_eq!(done(&w).0, e);
    assert!(w.rk.esp_required && w.nk.esp_required);
    assert_eq!(w.ric.state(), LinkState::Protected);
    w.traffic();
}

/// Association loss of a protected link (per-association selectors): the
/// node deletes that association's SAs, releases its policy and goes back
/// to bootstrap, holding application traffic; the RIC's next link (a fresh
/// `RicLink` above the old epochs, as the xApp runs one per association)
/// re-protects it at a higher epoch.
#[test]
fn association_loss_returns_a_protected_node_to_bootstrap() {
    let mut w = World::new();
    w.bootstrap();
    w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    w.traffic();
    assert!(w.node.may_send_application_traffic());
    let max_before = w.ric.security().max_epoch;
    w.check_invariant = false;
    w.node.on_association_lost();
    w.pump();
    assert_eq!(w.node.state(), LinkState::Unprotected);
    assert!(!w.node.may_send_application_traffic(), "KPM is held on the new association until it is protected");
    assert!(w.nk.inbound.is_empty() && w.nk.outbound.is_empty() && !w.nk.esp_required);
    // The RIC side of the dead association goes too; a new link bootstraps.
    w.rk = common::Kernel::default();
    w.ric = World::new().ric;
    w.ric.raise_epoch_floor(max_before);
    w.bootstrap();
    w.check_invariant = true;
    let e = w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    assert!(e > max_before, "epoch {e} above {max_before}");
    assert_eq!(w.node.state(), LinkState::Protected);
    assert!(w.node.may_send_application_traffic());
    w.traffic();
}

#[test]
fn restore_cancels_an_isolate_in_flight() {
    let mut w = World::new();
    w.bootstrap();
    w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    w.drop_to_node = 1; // the ISOLATE is lost
    w.ric.isolate(w.now).unwrap();
    w.pump();
    w.ric.restore(w.now).unwrap();
    w.pump();
    assert_eq!(w.ric.state(), LinkState::Protected);
    assert_eq!(w.node.state(), LinkState::Protected);
    w.traffic();
    assert!(w.ric.may_send_control());
}

#[test]
fn set_mode_and_degrade() {
    let mut w = World::new();
    w.bootstrap();
    w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    assert_eq!(w.ric.state(), LinkState::Protected);
    // No QKD: enforcement degrades to ML-KEM only.
    assert!(matches!(w.rekey(KeySourceMode::QkdAndPqc, false), Err(RekeyError::SourceMissing { .. })));
    w.rekey(KeySourceMode::AtLeastPqc, false).unwrap();
    assert_eq!(done(&w).1, KeySource::Pqc);
    assert_eq!(w.ric.state(), LinkState::Degraded);
    assert_eq!(w.node.state(), LinkState::Degraded);
    // QKD back: hybrid again.
    w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    assert_eq!(w.ric.state(), LinkState::Protected);
    // SET-MODE to at-least-pqc: a PQC key now satisfies the policy.
    w.ric.set_mode(w.now, KeySourceMode::AtLeastPqc).unwrap();
    w.pump();
    assert!(matches!(w.last_ric_event(), Some(RicAction::ControlDone { .. })));
    assert_eq!(w.node.mode(), KeySourceMode::AtLeastPqc);
    w.rekey(KeySourceMode::AtLeastPqc, false).unwrap();
    assert_eq!(w.ric.state(), LinkState::Protected);
    assert_eq!(w.node.state(), LinkState::Protected);
}

#[test]
fn replayed_set_mode_is_refused() {
    let mut w = World::new();
    w.bootstrap();
    w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    // Capture a SET-MODE to a weaker mode, then a stronger one.
    w.ric.set_mode(w.now, KeySourceMode::Either).unwrap();
    let mut weak = None;
    while let Some(a) = w.ric.poll_action() {
        if let RicAction::SendControl { header, message } = a {
            weak = Some((header, message));
        }
    }
    let (hw, mw) = weak.unwrap();
    let o = deliver(&mut w, &hw, &mw);
    w.ric.on_outcome(&o, w.now).unwrap();
    w.ric.set_mode(w.now, KeySourceMode::QkdAndPqc).unwrap();
    w.pump();
    assert_eq!(w.node.mode(), KeySourceMode::QkdAndPqc);
    // An attacker replays the weak one: refused.
    let r = deliver(&mut w, &hw, &mw);
    assert_eq!(r.result, ControlResult::Failure(ControlFailureCause::ReplayedEpoch));
    assert_eq!(w.node.mode(), KeySourceMode::QkdAndPqc);
}

#[test]
fn forged_outcome_is_refused_and_changes_nothing() {
    let mut w = World::new();
    w.bootstrap();
    let (h, m) = take_rekey(&mut w, KeySourceMode::QkdAndPqc, true);
    let mut o = deliver(&mut w, &h, &m);
    let genuine = o.clone();
    o.result = ControlResult::Failure(ControlFailureCause::Busy);
    assert!(matches!(w.ric.on_outcome(&o, w.now), Err(RicError::BadSignature(_))));
    assert!(w.ric.security().outstanding_rekey.is_some());
    assert!(w.ric.on_outcome(&genuine, w.now).unwrap());
    w.pump();
    w.traffic();
}

#[test]
fn busy_and_spi_checks() {
    let mut w = World::new();
    w.bootstrap();
    let _ = take_rekey(&mut w, KeySourceMode::AtLeastPqc, false);
    assert!(matches!(w.ric.start_rekey(w.now, KeySourceMode::Either, None, (900, 901)), Err(RekeyError::Busy { .. })));
    let mut w = World::new();
    w.bootstrap();
    assert!(matches!(w.ric.start_rekey(w.now, KeySourceMode::Either, None, (10, 901)), Err(RekeyError::BadSpi { .. })));
    assert!(matches!(
        w.ric.start_rekey(w.now, KeySourceMode::Either, None, (900, 900)),
        Err(RekeyError::SpiInUse { .. })
    ));
}

#[test]
fn debug_output_redacts_keys() {
    let mut w = World::new();
    w.bootstrap();
    let spis = w.spis.allocate_pair().unwrap();
    let key = w.qkd_key();
    w.ric.start_rekey(w.now, KeySourceMode::QkdAndPqc, Some(key), spis).unwrap();
    while let Some(a) = w.ric.poll_action() {
        if let RicAction::DataPlane(op) = &a {
            let s = format!("{op:?}");
            assert!(s.contains("<redacted>"), "{s}");
        }
    }
    let s = format!("{:?}", w.ric);
    assert!(s.contains("<redacted>"));
}

#[test]
fn node_sends_no_application_traffic_before_protection() {
    let mut w = World::new();
    w.bootstrap();
    assert!(!w.node.may_send_application_traffic());
    w.drop_to_node = 100;
    w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    assert!(!w.node.may_send_application_traffic());
    for _ in 0..5 {
        w.advance(Duration::from_millis(250));
    }
    assert!(!w.node.may_send_application_traffic());
    w.drop_to_node = 0;
    // The abandoned REKEY used the RIC's KEM key: a report brings a fresh one.
    let r = w.node.report(w.now, qsafe_rekey::SaCounters::default(), None, true).unwrap();
    w.ric.on_report(&r, w.wall).unwrap();
    w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    assert!(w.node.may_send_application_traffic());
}

#[test]
fn report_carries_epoch_and_fresh_kem_key() {
    let mut w = World::new();
    w.bootstrap();
    let e = w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    let r = w.node.report(w.now, qsafe_rekey::SaCounters::default(), Some(7), true).unwrap();
    assert_eq!(r.current_sa.unwrap().epoch, e);
    assert_eq!(r.link_state, LinkState::Protected);
    w.ric.on_report(&r, w.wall).unwrap();
    assert!(w.ric.has_kem_key());
    assert_eq!(w.ric.security().node_reported_epoch, Some(e));
}

/// Gives the outstanding REKEY up: every retransmission lost on the way to the node.
fn give_up(w: &mut World) {
    w.drop_to_node = 100;
    for _ in 0..4 {
        w.advance(Duration::from_millis(200));
    }
    w.drop_to_node = 0;
}

/// A REPORT with a fresh KEM key (the abandoned REKEY used the RIC's last one).
fn fresh_kem_key(w: &mut World) {
    let r = w.node.report(w.now, qsafe_rekey::SaCounters::default(), None, true).unwrap();
    w.ric.on_report(&r, w.wall).unwrap();
}

#[test]
fn late_bootstrap_outcome_is_adopted_after_giving_up() {
    // A slow node: the bootstrap REKEY reaches it, but its outcome arrives after the RIC gave
    // the epoch up. The node has installed its ESP-required policy, so the RIC's later plaintext
    // REKEYs would be dropped by the node's kernel: only switching to this epoch re-opens the
    // path, and the signed outcome proves the node applied it.
    let mut w = World::new();
    w.bootstrap();
    let (h, m) = take_rekey(&mut w, KeySourceMode::QkdAndPqc, true);
    let e1 = w.ric.security().outstanding_rekey.unwrap();
    give_up(&mut w);
    assert_eq!(failed(&w), (e1, RekeyFailure::Timeout, true));
    assert_eq!(w.ric.state(), LinkState::Unprotected);
    let o = deliver(&mut w, &h, &m);
    assert!(w.nk.esp_required, "the node applied the bootstrap REKEY");
    assert!(w.ric.on_outcome(&o, w.now).unwrap(), "the late outcome is adopted");
    w.pump();
    assert_eq!(done(&w), (e1, KeySource::Hybrid));
    assert!(w.rk.esp_required);
    assert_eq!(w.rk.current_out().unwrap().0, e1);
    assert_eq!(w.ric.state(), LinkState::Protected);
    w.traffic();
    // A copy arriving again changes nothing.
    assert!(!w.ric.on_outcome(&o, w.now).unwrap());
    let e2 = w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    assert_eq!(done(&w).0, e2);
    assert!(e2 > e1);
    w.traffic();
}

#[test]
fn late_outcome_is_adopted_while_a_newer_rekey_is_outstanding() {
    let mut w = World::new();
    w.bootstrap();
    let (h1, m1) = take_rekey(&mut w, KeySourceMode::QkdAndPqc, true);
    let e1 = w.ric.security().outstanding_rekey.unwrap();
    give_up(&mut w);
    fresh_kem_key(&mut w);
    // The RIC moves on to e2 (its plaintext REKEY would be dropped by the node's policy once
    // the node applied e1); then e1's outcome arrives.
    let (h2, m2) = take_rekey(&mut w, KeySourceMode::QkdAndPqc, true);
    let e2 = w.ric.security().outstanding_rekey.unwrap();
    let o1 = deliver(&mut w, &h1, &m1);
    assert!(w.ric.on_outcome(&o1, w.now).unwrap());
    w.pump();
    assert_eq!(done(&w).0, e1);
    assert_eq!(w.ric.security().outstanding_rekey, Some(e2), "e2 is still outstanding");
    w.traffic();
    // e2's REKEY now travels under e1 and completes.
    let o2 = deliver(&mut w, &h2, &m2);
    assert!(w.ric.on_outcome(&o2, w.now).unwrap());
    w.pump();
    assert_eq!(done(&w).0, e2);
    w.traffic();
    // An outcome of e1 arriving now is older than the epoch in use: ignored.
    assert!(!w.ric.on_outcome(&o1, w.now).unwrap());
    assert_eq!(w.rk.current_out().unwrap().0, e2);
}

#[test]
fn forged_or_failed_late_outcomes_change_nothing() {
    let mut w = World::new();
    w.bootstrap();
    let (h, m) = take_rekey(&mut w, KeySourceMode::QkdAndPqc, true);
    give_up(&mut w);
    let genuine = deliver(&mut w, &h, &m);
    let mut forged = genuine.clone();
    forged.result = ControlResult::Success(KeySource::Pqc);
    assert!(matches!(w.ric.on_outcome(&forged, w.now), Err(RicError::BadSignature(_))));
    w.pump();
    assert!(w.rk.current_out().is_none() && !w.rk.esp_required, "a forged late outcome switched nothing");
    assert!(w.ric.on_outcome(&genuine, w.now).unwrap(), "the genuine one still counts");

    // A late *failure* (the node refused; nothing applied there) is only forgotten.
    let mut w = World::new();
    w.bootstrap();
    let (h, m) = take_rekey(&mut w, KeySourceMode::QkdAndPqc, true);
    give_up(&mut w);
    w.kme.clear(); // dec_keys: not found
    let refused = deliver(&mut w, &h, &m);
    assert!(matches!(refused.result, ControlResult::Failure(ControlFailureCause::QkdKeyNotFound)));
    assert!(!w.ric.on_outcome(&refused, w.now).unwrap());
    w.pump();
    assert!(w.rk.current_out().is_none() && !w.rk.esp_required);
    assert_eq!(w.ric.state(), LinkState::Unprotected);
}

#[test]
fn node_returns_to_bootstrap_when_the_ric_never_switches() {
    // The bootstrap outcome never reaches the RIC (here: every copy lost), so the RIC never
    // switches and keeps sending in clear, which the node's new policy drops. After
    // `bootstrap_confirm` without a packet under the bootstrap SA the node gives the epoch up.
    let mut nc = node_cfg();
    nc.bootstrap_confirm = Duration::from_secs(2);
    let mut w = World::with(common::ric_cfg(), nc, &pki().ric, &pki().node);
    w.bootstrap();
    w.drop_to_ric = 100;
    let e1 = w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    assert!(w.nk.esp_required);
    assert_eq!(w.node.state(), LinkState::Protected);
    for _ in 0..4 {
        w.advance(Duration::from_millis(200));
    }
    assert_eq!(failed(&w).0, e1);
    assert!(w.node.poll_timeout().is_some());
    w.advance(Duration::from_millis(1300));
    assert!(
        w.node_events.iter().any(|a| matches!(a, NodeAction::BootstrapUnconfirmed { epoch } if *epoch == e1)),
        "{:?}",
        w.node_events
    );
    assert!(!w.nk.esp_required && w.nk.inbound.is_empty() && w.nk.current_out().is_none());
    assert_eq!(w.node.state(), LinkState::Unprotected);
    assert!(!w.node.may_send_application_traffic());
    assert_eq!(w.node.current_epoch(), 0);
    // The RIC's next REKEY gets through and protects the link; epochs keep increasing.
    w.drop_to_ric = 0;
    fresh_kem_key(&mut w);
    let e2 = w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    assert_eq!(done(&w).0, e2);
    assert!(e2 > e1);
    w.traffic();
    assert!(w.node.may_send_application_traffic());
}

#[test]
fn evidence_confirms_the_bootstrap_epoch() {
    let mut nc = node_cfg();
    nc.bootstrap_confirm = Duration::from_secs(2);
    let mut w = World::with(common::ric_cfg(), nc, &pki().ric, &pki().node);
    w.bootstrap();
    let e1 = w.rekey(KeySourceMode::QkdAndPqc, true).unwrap();
    w.traffic(); // a packet under e1: the RIC switched
    w.advance(Duration::from_secs(5));
    assert!(!w.node_events.iter().any(|a| matches!(a, NodeAction::BootstrapUnconfirmed { .. })));
    assert_eq!(w.node.current_epoch(), e1);
    assert!(w.nk.esp_required);
    assert!(w.node.poll_timeout().is_none());
}
