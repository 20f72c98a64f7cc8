//! A1 `qsafe-e2-key-freshness` policies in the key-freshness monitor: which
//! policy governs a link, and the status object that says what is really
//! enforced (ENFORCED / NOT_ENFORCED with the reason per node).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use qsafe_hybrid::{KeySource, Mode};
use qsafe_xapp::freshness::{KeyFreshness, LinkState, RekeyDone};
use qsafe_xapp::policy::{FreshnessPolicy, OnViolation, Scope};

const A: &str = "gNB/001-01/0x1000:28";
const B: &str = "gNB/001-01/0x1001:28";

fn policy(scope: Scope, period: u64, mode: Mode) -> FreshnessPolicy {
    FreshnessPolicy {
        scope,
        rekey_period: Duration::from_secs(period),
        max_key_age: Duration::from_secs(period * 5),
        mode,
        ..FreshnessPolicy::default()
    }
}

fn keyed(m: &mut KeyFreshness, node: &str, now: SystemTime) {
    let l = m.link_mut(node);
    l.on_setup(true, now);
    l.on_rekey_started(now);
    l.on_rekey_succeeded(
        RekeyDone {
            epoch: 1,
            key_id: None,
            key_source: KeySource::Pqc,
            mode: Mode::AtLeastPqc,
            latency: Duration::ZERO,
        },
        Mode::AtLeastPqc,
        true,
        now,
    );
}

#[test]
fn the_latest_policy_naming_a_node_governs_it() {
    let now = SystemTime::now();
    let mut m = KeyFreshness::new(policy(Scope::All, 60, Mode::QkdAndPqc));
    keyed(&mut m, A, now);
    keyed(&mut m, B, now);
    assert_eq!(m.policy_for(A).rekey_period, Duration::from_secs(60), "the base governs before A1");
    m.upsert_a1_policy("broad", policy(Scope::All, 30, Mode::AtLeastPqc)).unwrap();
    m.upsert_a1_policy("narrow", policy(Scope::Nodes(vec![A.into()]), 10, Mode::AtLeastPqc)).unwrap();
    assert_eq!(m.policy_for(A).rekey_period, Duration::from_secs(10));
    assert_eq!(m.policy_for(B).rekey_period, Duration::from_secs(30));
    // Updating "broad" makes it the latest: it now governs A too.
    m.upsert_a1_policy("broad", policy(Scope::All, 20, Mode::AtLeastPqc)).unwrap();
    assert_eq!(m.policy_for(A).rekey_period, Duration::from_secs(20));
    // The status names the governing policy per link.
    let status = m.status(now);
    assert_eq!(status.a1_policies, vec!["narrow".to_string(), "broad".to_string()]);
    assert_eq!(status.link(A).unwrap().policy_id.as_deref(), Some("broad"));
    // Deleting it: each node falls back to the next policy naming it.
    assert!(m.remove_a1_policy("broad"));
    assert!(!m.remove_a1_policy("broad"));
    assert_eq!(m.policy_for(A).rekey_period, Duration::from_secs(10));
    assert_eq!(m.policy_for(B).rekey_period, Duration::from_secs(60));
}

#[test]
fn an_invalid_policy_is_refused_and_changes_nothing() {
    let mut m = KeyFreshness::new(FreshnessPolicy::default());
    m.upsert_a1_policy("p", policy(Scope::All, 30, Mode::Either)).unwrap();
    let mut bad = policy(Scope::All, 30, Mode::Either);
    bad.max_key_age = Duration::from_secs(1); // below the rekey period
    let err = m.upsert_a1_policy("p", bad).unwrap_err();
    assert_eq!(err.field, "maxKeyAgeSeconds", "{err}");
    assert_eq!(m.policy_for(A).rekey_period, Duration::from_secs(30));
    assert_eq!(m.policies().a1_policies().count(), 1);
}

#[test]
fn enforcement_status_per_node() {
    let now = SystemTime::now();
    let mut m = KeyFreshness::new(FreshnessPolicy::default());
    keyed(&mut m, A, now);
    m.link_mut(B).on_setup(true, now); // connected, not keyed yet
    let unknown = "gNB/001-01/0x1fff:28";
    m.upsert_a1_policy("p", policy(Scope::Nodes(vec![A.into(), B.into(), unknown.into()]), 30, Mode::Either)).unwrap();
    let e = m.a1_enforcement("p").unwrap();
    assert_eq!(e.enforce_status, "NOT_ENFORCED");
    let reason = e.enforce_reason.clone().unwrap();
    assert!(reason.contains(&format!("{unknown}: unknown-node")), "{reason}");
    assert!(reason.contains(&format!("{B}: not-keyed")), "{reason}");
    let a = e.nodes.iter().find(|n| n.node == A).unwrap();
    assert!(a.enforced && a.reason.is_none());
    assert_eq!((a.state, a.epoch, a.key_source), (Some(LinkState::Protected), 1, Some(KeySource::Pqc)));
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["enforceStatus"], "NOT_ENFORCED");
    assert_eq!(json["nodes"][0]["node"], A);

    // Only keyed nodes in scope: ENFORCED.
    m.upsert_a1_policy("q", policy(Scope::Nodes(vec![A.into()]), 30, Mode::Either)).unwrap();
    let e = m.a1_enforcement("q").unwrap();
    assert_eq!((e.enforce_status, e.nodes.len()), ("ENFORCED", 1));
    // "p" no longer governs A: superseded.
    let e = m.a1_enforcement("p").unwrap();
    let a = e.nodes.iter().find(|n| n.node == A).unwrap();
    assert_eq!(a.reason.as_deref(), Some("superseded-by:q"));

    // Scope all with no node connected: vacuously enforced, with a note.
    let mut empty = KeyFreshness::new(FreshnessPolicy::default());
    empty.upsert_a1_policy("all", policy(Scope::All, 30, Mode::Either)).unwrap();
    let e = empty.a1_enforcement("all").unwrap();
    assert_eq!(e.enforce_status, "ENFORCED");
    assert!(e.enforce_reason.unwrap().contains("no E2 node"));
    assert!(empty.a1_enforcement("nope").is_none());
}

#[test]
fn isolation_enforces_an_isolate_policy() {
    let now = SystemTime::now();
    let mut m = KeyFreshness::new(FreshnessPolicy::default());
    keyed(&mut m, A, now);
    let mut p = policy(Scope::All, 30, Mode::QkdAndPqc);
    p.on_violation = OnViolation::Isolate;
    m.upsert_a1_policy("iso", p).unwrap();
    m.link_mut(A).on_isolated(now);
    let e = m.a1_enforcement("iso").unwrap();
    assert_eq!(e.enforce_status, "ENFORCED", "{e:?}");
    assert_eq!(e.nodes[0].state, Some(LinkState::Isolated));
}
