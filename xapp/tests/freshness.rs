//! The key-freshness decisions: `evaluate` tables (every violation kind,
//! every action per on-violation, back-off, recovery), alarm edges, and the
//! observation/stock bookkeeping.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use qsafe_asn1::e2sm_qkd as e2sm;
use qsafe_hybrid::{KeySource, Mode};
use qsafe_xapp::freshness::{
    AlarmEdge, AlarmKind, Enforcement, KeyFreshness, KmeStock, LinkObservation, LinkState, RekeyDone, RekeyReason,
    SCHEDULE_JITTER_FRACTION, SaCounters, Severity, Source, Verdict, Violation, Waiting, evaluate, retry_backoff,
    schedule_jitter,
};
use qsafe_xapp::policy::{FreshnessPolicy, OnViolation, Recovery, Scope};

const NODE: &str = "gNB/001-01/0x1000:28";
const GIB: u64 = 1 << 30;

fn t(secs: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs_f64(1_700_000_000.0 + secs)
}

fn done(epoch: u32, source: KeySource, mode: Mode) -> RekeyDone {
    RekeyDone { epoch, key_id: None, key_source: source, mode, latency: Duration::from_millis(20) }
}

/// A link protected by a hybrid key installed at t(0), KEM key at hand.
fn protected() -> LinkObservation {
    let mut l = LinkObservation::new(NODE);
    l.on_setup(true, t(-10.0));
    l.on_rekey_started(t(-0.02));
    l.on_rekey_succeeded(done(1, KeySource::Hybrid, Mode::QkdAndPqc), Mode::QkdAndPqc, true, t(0.0));
    l
}

/// A KME with plenty of keys since t(-100).
fn stocked() -> KmeStock {
    let mut s = KmeStock::default();
    s.on_status(500, 1000, t(-100.0));
    s.on_status(500, 1000, t(0.0));
    s
}

fn kme_down(s: &mut KmeStock) {
    s.on_status_error("connection refused", t(1.0));
    s.on_prefetch(0, 3, t(1.0));
}

fn policy(on_violation: OnViolation) -> FreshnessPolicy {
    FreshnessPolicy { on_violation, ..FreshnessPolicy::default() }
}

type Setup = fn(&mut LinkObservation, &mut KmeStock, &mut FreshnessPolicy);

struct Case {
    name: &'static str,
    setup: Setup,
    now: f64,
    due: Option<RekeyReason>,
    violations: &'static [AlarmKind],
    /// Expected action for on-violation rekey, degrade, isolate.
    actions: [Option<Enforcement>; 3],
}

const REKEY: Option<Enforcement> = Some(Enforcement::Rekey { mode: Mode::QkdAndPqc });
const REKEY_PQC: Option<Enforcement> = Some(Enforcement::Rekey { mode: Mode::AtLeastPqc });
const DEGRADE: Option<Enforcement> = Some(Enforcement::Degrade { mode: Mode::AtLeastPqc });
const ISOLATE: Option<Enforcement> = Some(Enforcement::Isolate);
const RECOVER: Option<Enforcement> = Some(Enforcement::Recover { mode: Mode::QkdAndPqc });
const NONE: Option<Enforcement> = None;

fn cases() -> Vec<Case> {
    vec![
        Case { name: "fresh key", setup: |_, _, _| {}, now: 10.0, due: None, violations: &[], actions: [NONE; 3] },
        Case {
            name: "period elapsed",
            setup: |_, _, _| {},
            now: 60.0,
            due: Some(RekeyReason::Scheduled),
            violations: &[],
            actions: [REKEY; 3],
        },
        Case {
            name: "bytes at 80 % of the maximum",
            setup: |l, _, _| l.on_ric_counters(SaCounters { bytes: GIB * 8 / 10 + 1, packets: 10 }),
            now: 10.0,
            due: Some(RekeyReason::MaxBytes),
            violations: &[],
            actions: [REKEY; 3],
        },
        Case {
            name: "bytes over the maximum",
            setup: |l, _, _| l.on_ric_counters(SaCounters { bytes: GIB + 1, packets: 10 }),
            now: 10.0,
            due: Some(RekeyReason::MaxBytes),
            violations: &[AlarmKind::SaBytes],
            actions: [REKEY, REKEY, ISOLATE],
        },
        Case {
            name: "node's byte count counts too",
            setup: |l, _, _| {
                l.node_counters = Some(SaCounters { bytes: GIB + 1, packets: 1 });
            },
            now: 10.0,
            due: Some(RekeyReason::MaxBytes),
            violations: &[AlarmKind::SaBytes],
            actions: [REKEY, REKEY, ISOLATE],
        },
        Case {
            name: "packets near the maximum",
            setup: |l, _, p| {
                p.max_packets_per_key = Some(1000);
                l.on_ric_counters(SaCounters { bytes: 1, packets: 800 });
            },
            now: 10.0,
            due: Some(RekeyReason::MaxPackets),
            violations: &[],
            actions: [REKEY; 3],
        },
        Case {
            name: "packets over the maximum",
            setup: |l, _, p| {
                p.max_packets_per_key = Some(1000);
                l.on_ric_counters(SaCounters { bytes: 1, packets: 1001 });
            },
            now: 10.0,
            due: Some(RekeyReason::MaxPackets),
            violations: &[AlarmKind::SaPackets],
            actions: [REKEY, REKEY, ISOLATE],
        },
        Case {
            name: "key older than the maximum age",
            setup: |_, _, _| {},
            now: 301.0,
            due: Some(RekeyReason::MaxAge),
            violations: &[AlarmKind::KeyAge],
            actions: [REKEY, REKEY, ISOLATE],
        },
        Case {
            name: "QKD gone, nothing due: alarm only",
            setup: |_, s, _| kme_down(s),
            now: 10.0,
            due: None,
            violations: &[AlarmKind::SourceUnavailable],
            actions: [NONE; 3],
        },
        Case {
            name: "QKD gone, rekey due",
            setup: |_, s, _| kme_down(s),
            now: 60.0,
            due: Some(RekeyReason::Scheduled),
            violations: &[AlarmKind::SourceUnavailable],
            actions: [REKEY, DEGRADE, ISOLATE],
        },
        Case {
            name: "QKD gone but prefetched keys remain",
            setup: |_, s, _| {
                s.on_status_error("timeout", t(1.0));
                s.on_prefetch(2, 0, t(1.0));
            },
            now: 60.0,
            due: Some(RekeyReason::Scheduled),
            violations: &[],
            actions: [REKEY; 3],
        },
        Case {
            name: "no source at all, due: degrade cannot, waits",
            setup: |l, s, _| {
                kme_down(s);
                l.pqc_available = false;
            },
            now: 60.0,
            due: Some(RekeyReason::Scheduled),
            violations: &[AlarmKind::SourceUnavailable, AlarmKind::SourceUnavailable],
            actions: [REKEY, NONE, ISOLATE],
        },
        Case {
            name: "no source at all, key too old: fail closed",
            setup: |l, s, _| {
                kme_down(s);
                l.pqc_available = false;
            },
            now: 301.0,
            due: Some(RekeyReason::MaxAge),
            violations: &[AlarmKind::SourceUnavailable, AlarmKind::SourceUnavailable, AlarmKind::KeyAge],
            actions: [REKEY, ISOLATE, ISOLATE],
        },
        Case {
            name: "QKD gone and key too old",
            setup: |_, s, _| kme_down(s),
            now: 301.0,
            due: Some(RekeyReason::MaxAge),
            violations: &[AlarmKind::SourceUnavailable, AlarmKind::KeyAge],
            actions: [REKEY, DEGRADE, ISOLATE],
        },
        Case {
            name: "KME stock below the minimum: warning only",
            setup: |_, s, _| s.on_status(5, 1000, t(1.0)),
            now: 10.0,
            due: None,
            violations: &[AlarmKind::KmeStockLow, AlarmKind::TimeToEmpty],
            actions: [NONE; 3],
        },
        Case {
            name: "KME draining fast: time-to-empty warning",
            setup: |_, s, _| {
                // 500 → 400 in 1 s: 100 keys/s, about 4 s left.
                s.on_status(400, 1000, t(1.0));
            },
            now: 10.0,
            due: None,
            violations: &[AlarmKind::TimeToEmpty],
            actions: [NONE; 3],
        },
        Case {
            name: "bootstrap: connected and unprotected",
            setup: |l, _, _| *l = fresh_node(0.0),
            now: 5.0,
            due: Some(RekeyReason::Bootstrap),
            violations: &[],
            actions: [REKEY; 3],
        },
        Case {
            name: "unprotected past the deadline",
            setup: |l, _, _| *l = fresh_node(0.0),
            now: 61.0,
            due: Some(RekeyReason::Bootstrap),
            violations: &[AlarmKind::UnprotectedPastDeadline],
            actions: [REKEY, REKEY, ISOLATE],
        },
        Case {
            name: "unprotected past the deadline without QKD",
            setup: |l, s, _| {
                *l = fresh_node(0.0);
                kme_down(s);
            },
            now: 61.0,
            due: Some(RekeyReason::Bootstrap),
            violations: &[AlarmKind::SourceUnavailable, AlarmKind::UnprotectedPastDeadline],
            actions: [REKEY, DEGRADE, ISOLATE],
        },
        Case {
            name: "unprotected and not connected: nothing to do",
            setup: |l, _, _| {
                *l = fresh_node(0.0);
                l.on_disconnected();
            },
            now: 100.0,
            due: None,
            violations: &[],
            actions: [NONE; 3],
        },
        Case {
            name: "rekeys keep failing",
            setup: |l, _, _| {
                for i in 0..3 {
                    l.on_rekey_started(t(60.0 + f64::from(i)));
                    l.on_rekey_failed("QkdKeyNotFound", t(60.0 + f64::from(i)));
                }
            },
            now: 120.0,
            due: Some(RekeyReason::Scheduled),
            violations: &[AlarmKind::RekeyFailing],
            actions: [REKEY, DEGRADE, ISOLATE],
        },
        Case {
            name: "degraded link, QKD back long enough: recover",
            setup: |l, s, _| {
                l.on_rekey_succeeded(done(2, KeySource::Pqc, Mode::AtLeastPqc), Mode::QkdAndPqc, true, t(0.0));
                s.on_status(500, 1000, t(1.0));
            },
            now: 20.0,
            due: Some(RekeyReason::Recovery),
            violations: &[],
            actions: [RECOVER; 3],
        },
        Case {
            name: "degraded link, QKD still down, due",
            setup: |l, s, _| {
                l.on_rekey_succeeded(done(2, KeySource::Pqc, Mode::AtLeastPqc), Mode::QkdAndPqc, true, t(0.0));
                kme_down(s);
            },
            now: 60.0,
            due: Some(RekeyReason::Scheduled),
            violations: &[AlarmKind::SourceUnavailable],
            actions: [REKEY, REKEY_PQC, ISOLATE],
        },
        Case {
            name: "degraded link, QKD back only briefly: keeps rotating in at-least-pqc",
            setup: |l, s, _| {
                l.on_rekey_succeeded(done(2, KeySource::Pqc, Mode::AtLeastPqc), Mode::QkdAndPqc, true, t(0.0));
                kme_down(s);
                s.on_status(500, 1000, t(58.0));
            },
            now: 60.0,
            due: Some(RekeyReason::Scheduled),
            violations: &[],
            actions: [REKEY, REKEY_PQC, REKEY],
        },
        Case {
            name: "degraded link, manual recovery",
            setup: |l, _, p| {
                p.recovery = Recovery::Manual;
                l.on_rekey_succeeded(done(2, KeySource::Pqc, Mode::AtLeastPqc), Mode::QkdAndPqc, true, t(0.0));
            },
            now: 20.0,
            due: None,
            violations: &[],
            actions: [NONE; 3],
        },
        Case {
            name: "isolated, QKD back, held: recover",
            setup: |l, _, _| {
                l.on_isolated(t(1.0));
                l.on_disconnected();
                l.pqc_available = false;
            },
            now: 20.0,
            due: None,
            violations: &[AlarmKind::SourceUnavailable],
            actions: [RECOVER; 3],
        },
        Case {
            name: "isolated just now: hold first",
            setup: |l, _, _| l.on_isolated(t(15.0)),
            now: 20.0,
            due: None,
            violations: &[],
            actions: [NONE; 3],
        },
        Case {
            name: "isolated, QKD still down",
            setup: |l, s, _| {
                kme_down(s);
                l.on_isolated(t(1.0));
            },
            now: 400.0,
            due: None,
            violations: &[AlarmKind::SourceUnavailable],
            actions: [NONE; 3],
        },
        Case {
            name: "isolated, recovery under way",
            setup: |l, _, _| {
                l.on_isolated(t(1.0));
                l.on_recovery_started();
            },
            now: 20.0,
            due: None,
            violations: &[],
            actions: [NONE; 3],
        },
        Case {
            name: "not in scope",
            setup: |l, s, p| {
                p.scope = Scope::Nodes(vec!["gNB/001-01/0x2000:28".into()]);
                kme_down(s);
                l.on_ric_counters(SaCounters { bytes: GIB * 2, packets: 0 });
            },
            now: 400.0,
            due: None,
            violations: &[],
            actions: [NONE; 3],
        },
        Case {
            name: "mode at-least-pqc without a KEM key",
            setup: |l, s, p| {
                p.mode = Mode::AtLeastPqc;
                l.pqc_available = false;
                kme_down(s);
            },
            now: 60.0,
            due: Some(RekeyReason::Scheduled),
            violations: &[AlarmKind::SourceUnavailable],
            actions: [Some(Enforcement::Rekey { mode: Mode::AtLeastPqc }), NONE, ISOLATE],
        },
        Case {
            name: "mode either with QKD only",
            setup: |l, s, p| {
                p.mode = Mode::Either;
                l.pqc_available = false;
                s.on_status(500, 1000, t(1.0));
            },
            now: 60.0,
            due: Some(RekeyReason::Scheduled),
            violations: &[],
            actions: [Some(Enforcement::Rekey { mode: Mode::Either }); 3],
        },
    ]
}

fn fresh_node(at: f64) -> LinkObservation {
    let mut l = LinkObservation::new(NODE);
    l.on_setup(true, t(at));
    l
}

#[test]
fn evaluate_decision_table() {
    for case in cases() {
        for (i, on_violation) in
            [OnViolation::Rekey, OnViolation::Degrade, OnViolation::Isolate].into_iter().enumerate()
        {
            let (mut link, mut stock, mut p) = (protected(), stocked(), policy(on_violation));
            (case.setup)(&mut link, &mut stock, &mut p);
            p.validate().expect("valid policy");
            let v = evaluate(&p, &link, &stock, t(case.now));
            let what = format!("{} (on-violation {on_violation}): {v:#?}", case.name);
            assert_eq!(v.due, case.due, "due: {what}");
            let kinds: Vec<AlarmKind> = v.violations.iter().map(Violation::kind).collect();
            assert_eq!(kinds, case.violations, "violations: {what}");
            assert_eq!(v.action, case.actions[i], "action: {what}");
            assert_eq!(v.in_scope, case.name != "not in scope", "{what}");
        }
    }
}

/// The per-node schedule advance: fixed per node, within 5 % of the period,
/// different for nodes set up together (so their rekeys drift apart), and a
/// link is due no later than one period after its last rekey started.
#[test]
fn schedule_jitter_spreads_links_within_the_period() {
    let period = Duration::from_secs(60);
    let nodes: Vec<String> = (0..100).map(|i| format!("gNB/001-01/{:#x}:28", 0x1000 + i)).collect();
    let advances: Vec<Duration> = nodes.iter().map(|n| schedule_jitter(n, period)).collect();
    assert!(advances.iter().all(|a| *a <= period.mul_f64(SCHEDULE_JITTER_FRACTION)), "{advances:?}");
    assert_eq!(schedule_jitter(&nodes[7], period), advances[7], "fixed per node");
    let mut distinct = advances.clone();
    distinct.sort();
    distinct.dedup();
    assert!(distinct.len() >= 90, "100 nodes get {} distinct advances", distinct.len());
    let spread = distinct.last().copied().unwrap_or_default() - distinct.first().copied().unwrap_or_default();
    assert!(spread >= period.mul_f64(SCHEDULE_JITTER_FRACTION * 0.8), "spread {spread:?}");

    // Due at period - advance (never later than the period).
    let mut link = protected();
    link.node = nodes[3].clone();
    let p = FreshnessPolicy { rekey_period: period, max_key_age: period * 5, ..policy(OnViolation::Rekey) };
    let installed = link.installed_at.expect("installed");
    let advance = schedule_jitter(&link.node, period);
    let due_at = installed + period - advance;
    let before = evaluate(&p, &link, &stocked(), due_at - Duration::from_secs(1));
    assert_eq!(before.due, None, "not due a second before its advanced schedule");
    let at = evaluate(&p, &link, &stocked(), due_at);
    assert_eq!(at.due, Some(RekeyReason::Scheduled));
}

#[test]
fn lateness_counts_from_the_scheduled_rekey() {
    let p = FreshnessPolicy::default();
    let (link, stock) = (protected(), stocked());
    assert_eq!(evaluate(&p, &link, &stock, t(30.0)).lateness, Duration::ZERO);
    assert_eq!(evaluate(&p, &link, &stock, t(60.0)).lateness, Duration::ZERO);
    assert_eq!(evaluate(&p, &link, &stock, t(75.5)).lateness, Duration::from_secs_f64(15.5));
    let node = fresh_node(0.0);
    assert_eq!(evaluate(&p, &node, &stock, t(7.0)).lateness, Duration::from_secs(7));
    // A clock that stepped back: no panic, no lateness.
    assert_eq!(evaluate(&p, &link, &stock, t(-50.0)).lateness, Duration::ZERO);
}

#[test]
fn violations_carry_values() {
    let p = FreshnessPolicy { max_packets_per_key: Some(10), ..FreshnessPolicy::default() };
    let mut link = protected();
    link.on_ric_counters(SaCounters { bytes: GIB + 5, packets: 11 });
    let mut stock = stocked();
    kme_down(&mut stock);
    let v = evaluate(&p, &link, &stock, t(301.0));
    assert!(v.violations.contains(&Violation::KeyAge { age: Duration::from_secs(301), max: Duration::from_secs(300) }));
    assert!(v.violations.contains(&Violation::SaBytes { bytes: GIB + 5, max: GIB }));
    assert!(v.violations.contains(&Violation::SaPackets { packets: 11, max: 10 }));
    assert!(v.violations.contains(&Violation::SourceUnavailable { source: Source::Qkd, mode: Mode::QkdAndPqc }));
    let json = serde_json::to_value(&v).expect("json");
    assert_eq!(json["violations"][0]["kind"], "source-unavailable");
    assert_eq!(json["violations"][1]["kind"], "key-age");
    assert_eq!(json["violations"][1]["ageSeconds"], 301);
    assert_eq!(json["action"]["action"], "rekey");
    assert_eq!(json["due"], "max-bytes");
    let text = v.violations[1].to_string();
    assert!(text.contains("301.0 s") && text.contains("300.0 s"), "{text}");
}

#[test]
fn backoff_and_in_progress_hold_actions_back() {
    let p = FreshnessPolicy::default();
    let stock = stocked();
    let mut link = protected();
    link.on_rekey_started(t(60.0));
    let v = evaluate(&p, &link, &stock, t(61.0));
    assert_eq!((v.due, v.action, v.waiting), (Some(RekeyReason::Scheduled), None, Some(Waiting::InProgress)));
    link.on_rekey_failed("timeout", t(62.0));
    let v = evaluate(&p, &link, &stock, t(62.5));
    assert_eq!(v.waiting, Some(Waiting::Backoff { left: Duration::from_millis(500) }));
    assert_eq!(v.action, None);
    assert_eq!(evaluate(&p, &link, &stock, t(63.0)).action, REKEY);
    link.on_rekey_failed("timeout", t(63.0));
    assert_eq!(evaluate(&p, &link, &stock, t(64.0)).action, None, "second failure waits 2 s");
    assert_eq!(evaluate(&p, &link, &stock, t(65.0)).action, REKEY);
    assert_eq!(retry_backoff(0, Duration::from_secs(60)), Duration::ZERO);
    assert_eq!(retry_backoff(3, Duration::from_secs(60)), Duration::from_secs(4));
    assert_eq!(retry_backoff(40, Duration::from_secs(60)), Duration::from_secs(30));
    assert_eq!(retry_backoff(40, Duration::from_secs(5)), Duration::from_secs(5));
    // An isolation under way is not asked for again.
    let p = policy(OnViolation::Isolate);
    let mut link = protected();
    assert_eq!(evaluate(&p, &link, &stock, t(301.0)).action, ISOLATE);
    link.on_isolate_started();
    let v = evaluate(&p, &link, &stock, t(302.0));
    assert_eq!((v.action, v.waiting), (None, Some(Waiting::InProgress)));
}

#[test]
fn observation_bookkeeping() {
    let mut l = protected();
    assert_eq!((l.state, l.epoch, l.key_source, l.rekeys_ok), (LinkState::Protected, 1, Some(KeySource::Hybrid), 1));
    assert_eq!(l.key_age(t(12.0)), Some(Duration::from_secs(12)));
    // Node counters count only for the current epoch; the larger count wins.
    let mut report = e2sm::IndicationMessage {
        link_state: e2sm::LinkState::Protected,
        mode: e2sm::KeySourceMode::QkdAndPqc,
        current_sa: Some(e2sm::CurrentSa {
            epoch: 1,
            key_id: None,
            spi_ric_to_node: 0x1000,
            spi_node_to_ric: 0x2000,
            key_source: e2sm::KeySource::Hybrid,
            age_ms: 5000,
            inbound_bytes: 700,
            inbound_packets: 7,
            outbound_bytes: 300,
            outbound_packets: 3,
        }),
        kme_stored_keys: Some(42),
        next_kem_key: None,
    };
    l.on_ric_counters(SaCounters { bytes: 900, packets: 20 });
    l.on_node_report(&report, t(5.0));
    assert_eq!(l.sa_counters(), SaCounters { bytes: 1000, packets: 20 });
    assert_eq!(l.node_kme_stored_keys, Some(42));
    if let Some(sa) = report.current_sa.as_mut() {
        sa.epoch = 0;
        sa.inbound_bytes = 1 << 40;
    }
    l.on_node_report(&report, t(6.0));
    assert_eq!(l.sa_counters().bytes, 1000, "a report of an old epoch is ignored");
    // A rekey resets the counters; a PQC-only key under qkd-and-pqc is degraded.
    l.on_rekey_succeeded(done(2, KeySource::Pqc, Mode::AtLeastPqc), Mode::QkdAndPqc, false, t(10.0));
    assert_eq!((l.state, l.sa_counters(), l.pqc_available), (LinkState::Degraded, SaCounters::default(), false));
    l.on_rekey_succeeded(done(3, KeySource::Pqc, Mode::AtLeastPqc), Mode::AtLeastPqc, true, t(20.0));
    assert_eq!(l.state, LinkState::Protected);
    assert_eq!(l.latency.count(), 3);
    // Isolation clears the SA; a reconnect after it starts over unprotected.
    l.on_isolated(t(30.0));
    assert_eq!((l.state, l.key_source, l.installed_at), (LinkState::Isolated, None, None));
    l.on_disconnected();
    l.on_setup(true, t(40.0));
    assert_eq!((l.state, l.state_since, l.epoch), (LinkState::Unprotected, Some(t(40.0)), 3));
    // A protected link that just reconnects keeps its state.
    let mut p = protected();
    p.on_disconnected();
    p.on_setup(true, t(50.0));
    assert_eq!(p.state, LinkState::Protected);
    assert_eq!(LinkState::from(e2sm::LinkState::Degraded), LinkState::Degraded);
    assert_eq!(e2sm::LinkState::from(LinkState::Isolated), e2sm::LinkState::Isolated);
}

#[test]
fn latency_summary() {
    let mut l = LinkObservation::new(NODE);
    for ms in 1..=100u64 {
        l.latency.record(Duration::from_millis(ms));
    }
    let s = l.latency.summary();
    assert_eq!(s.count, 100);
    assert_eq!(s.last_seconds, Some(0.1));
    assert_eq!(s.p50_seconds, Some(0.05));
    assert_eq!(s.p99_seconds, Some(0.099));
    assert_eq!(s.max_seconds, Some(0.1));
    assert!((s.mean_seconds.expect("mean") - 0.0505).abs() < 1e-9);
    for _ in 0..1000 {
        l.latency.record(Duration::from_millis(1));
    }
    assert_eq!(l.latency.summary().p99_seconds, Some(0.001), "the window forgets old samples");
    assert_eq!(l.latency.summary().max_seconds, Some(0.1), "the maximum does not");
}

#[test]
fn kme_stock_drain_and_time_to_empty() {
    let mut s = KmeStock::default();
    assert!(!s.qkd_available());
    assert_eq!(s.time_to_empty(), None);
    s.on_status(1000, 5000, t(0.0));
    assert_eq!((s.available_since, s.time_to_empty()), (Some(t(0.0)), None));
    s.on_status(900, 5000, t(10.0)); // 10 keys/s
    assert_eq!(s.drain_per_second, Some(10.0));
    assert_eq!(s.time_to_empty(), Some(Duration::from_secs(90)));
    s.on_prefetch(10, 0, t(10.0));
    assert_eq!(s.time_to_empty(), Some(Duration::from_secs(91)));
    s.on_status(900, 5000, t(20.0)); // steady: the estimate decays
    assert!((s.drain_per_second.expect("rate") - 7.0).abs() < 1e-9);
    s.on_status(2000, 5000, t(30.0)); // growing
    assert_eq!(s.time_to_empty(), None);
    s.on_status_error("503", t(40.0));
    assert!(s.qkd_available(), "prefetched keys still count");
    s.on_prefetch(0, 2, t(41.0));
    assert!(!s.qkd_available());
    assert_eq!(s.available_since, None);
    s.on_status(3, 5000, t(50.0));
    assert_eq!(s.available_since, Some(t(50.0)));
    s.on_status(0, 5000, t(60.0));
    assert!(!s.qkd_available(), "an empty KME has no key");
}

#[test]
fn alarms_raise_once_and_clear_once() {
    let mut m = KeyFreshness::new(FreshnessPolicy::default());
    *m.link_mut(NODE) = protected();
    *m.stock_mut(NODE) = stocked();
    assert!(m.tick(t(10.0)).alarms.is_empty());
    kme_down(m.stock_mut(NODE));
    let tick = m.tick(t(11.0));
    assert_eq!(tick.alarms.len(), 1);
    let raised = &tick.alarms[0];
    assert_eq!((raised.edge, raised.alarm.kind), (AlarmEdge::Raised, AlarmKind::SourceUnavailable));
    assert_eq!(
        (raised.alarm.severity, raised.alarm.raised_at, raised.alarm.cleared_at),
        (Severity::Major, t(11.0), None)
    );
    for s in 12..20 {
        assert!(m.tick(t(f64::from(s))).alarms.is_empty(), "no duplicate while the condition persists");
    }
    assert_eq!(m.alarms().active().count(), 1);
    // Due at 60 s without QKD under degrade: the action is to degrade.
    m.set_policy(policy(OnViolation::Degrade)).expect("policy");
    let tick = m.tick(t(60.0));
    assert_eq!(tick.actions().collect::<Vec<_>>(), vec![(NODE, Enforcement::Degrade { mode: Mode::AtLeastPqc })]);
    let link = m.link_mut(NODE);
    link.on_rekey_started(t(60.0));
    link.on_rekey_succeeded(done(2, KeySource::Pqc, Mode::AtLeastPqc), Mode::QkdAndPqc, true, t(60.1));
    let tick = m.tick(t(61.0));
    let kinds: Vec<_> = tick.alarms.iter().map(|e| (e.edge, e.alarm.kind)).collect();
    assert_eq!(kinds, vec![(AlarmEdge::Raised, AlarmKind::LinkDegraded)]);
    // QKD returns: after the hold the link recovers; both alarms clear once.
    m.stock_mut(NODE).on_status(500, 1000, t(62.0));
    let tick = m.tick(t(62.0));
    let kinds: Vec<_> = tick.alarms.iter().map(|e| (e.edge, e.alarm.kind)).collect();
    assert_eq!(kinds, vec![(AlarmEdge::Cleared, AlarmKind::SourceUnavailable)]);
    assert_eq!(tick.alarms[0].alarm.cleared_at, Some(t(62.0)));
    assert_eq!(tick.actions().count(), 0, "recovery waits for the hold");
    let tick = m.tick(t(72.0));
    assert_eq!(tick.actions().collect::<Vec<_>>(), vec![(NODE, Enforcement::Recover { mode: Mode::QkdAndPqc })]);
    let link = m.link_mut(NODE);
    link.on_rekey_started(t(72.0));
    link.on_rekey_succeeded(done(3, KeySource::Hybrid, Mode::QkdAndPqc), Mode::QkdAndPqc, true, t(72.1));
    let tick = m.tick(t(73.0));
    let kinds: Vec<_> = tick.alarms.iter().map(|e| (e.edge, e.alarm.kind)).collect();
    assert_eq!(kinds, vec![(AlarmEdge::Cleared, AlarmKind::LinkDegraded)]);
    assert!(m.tick(t(74.0)).alarms.is_empty());
    assert_eq!(m.alarms().active().count(), 0);
    assert_eq!(m.link(NODE).map(|l| l.state), Some(LinkState::Protected));
}

#[test]
fn isolation_and_recovery_cycle() {
    let mut m = KeyFreshness::new(policy(OnViolation::Isolate));
    *m.link_mut(NODE) = protected();
    *m.stock_mut(NODE) = stocked();
    kme_down(m.stock_mut(NODE));
    let tick = m.tick(t(60.0));
    assert_eq!(tick.actions().collect::<Vec<_>>(), vec![(NODE, Enforcement::Isolate)]);
    m.link_mut(NODE).on_isolate_started();
    assert_eq!(m.tick(t(60.5)).actions().count(), 0);
    m.link_mut(NODE).on_isolated(t(61.0));
    m.link_mut(NODE).on_disconnected();
    let tick = m.tick(t(61.0));
    assert!(tick.alarms.iter().any(|e| e.edge == AlarmEdge::Raised && e.alarm.kind == AlarmKind::LinkIsolated));
    assert_eq!(
        m.alarms().active().find(|a| a.kind == AlarmKind::LinkIsolated).map(|a| a.severity),
        Some(Severity::Critical)
    );
    assert_eq!(m.tick(t(200.0)).actions().count(), 0, "no recovery while QKD is down");
    m.stock_mut(NODE).on_status(500, 1000, t(200.0));
    assert_eq!(m.tick(t(205.0)).actions().count(), 0, "hold");
    let tick = m.tick(t(210.0));
    assert_eq!(tick.actions().collect::<Vec<_>>(), vec![(NODE, Enforcement::Recover { mode: Mode::QkdAndPqc })]);
    m.link_mut(NODE).on_recovery_started();
    assert_eq!(m.tick(t(211.0)).actions().count(), 0);
    // The node reconnects unprotected: bootstrap rekey; isolation alarm clears.
    m.link_mut(NODE).on_setup(true, t(212.0));
    let tick = m.tick(t(212.0));
    assert_eq!(tick.actions().collect::<Vec<_>>(), vec![(NODE, Enforcement::Rekey { mode: Mode::QkdAndPqc })]);
    assert_eq!(m.verdict(NODE).and_then(|v| v.due), Some(RekeyReason::Bootstrap));
    assert!(tick.alarms.iter().any(|e| e.edge == AlarmEdge::Cleared && e.alarm.kind == AlarmKind::LinkIsolated));
    // Removing the link clears what is left.
    m.stock_mut(NODE).on_status(1, 1000, t(213.0));
    m.tick(t(213.0));
    assert!(m.alarms().active().any(|a| a.kind == AlarmKind::KmeStockLow));
    let events = m.remove_link(NODE, t(214.0));
    assert!(events.iter().all(|e| e.edge == AlarmEdge::Cleared) && !events.is_empty());
    assert_eq!(m.alarms().active().count(), 0);
    assert_eq!(m.nodes().count(), 0);
}

#[test]
fn status_view() {
    let mut m = KeyFreshness::new(FreshnessPolicy::default());
    *m.link_mut(NODE) = protected();
    *m.stock_mut(NODE) = stocked();
    m.link_mut(NODE).on_ric_counters(SaCounters { bytes: 4096, packets: 32 });
    m.link_mut("gNB/001-01/0x2000:28").on_setup(true, t(0.0));
    m.tick(t(75.0));
    let report = m.status(t(75.0));
    assert_eq!(report.links.len(), 2);
    let json = serde_json::to_value(&report).expect("json");
    let link = &json["links"][0];
    assert_eq!(link["node"], NODE);
    assert_eq!(link["state"], "protected");
    assert_eq!(link["keySource"], "hybrid");
    assert_eq!(link["keyAgeSeconds"], 75.0);
    assert_eq!(link["rekeyLatenessSeconds"], 15.0);
    assert_eq!(link["nextRekeyInSeconds"], 0.0);
    assert_eq!(link["sa"]["bytes"], 4096);
    assert_eq!(link["kme"]["storedKeys"], 500);
    assert_eq!(link["verdict"]["due"], "scheduled");
    assert_eq!(link["verdict"]["action"]["mode"], "qkd-and-pqc");
    assert_eq!(link["rekeyLatency"]["count"], 1);
    assert_eq!(json["policy"]["rekeyPeriodSeconds"], 60);
    assert_eq!(json["links"][1]["verdict"]["due"], "bootstrap");
    assert_eq!(json["links"][1]["kme"]["qkdAvailable"], false);
    let alarm_kinds: Vec<_> = report.alarms.iter().map(|a| a.kind).collect();
    assert_eq!(alarm_kinds, vec![AlarmKind::UnprotectedPastDeadline, AlarmKind::SourceUnavailable]);
    assert!(report.alarms.iter().all(|a| a.node == "gNB/001-01/0x2000:28"));
    assert!(m.link_status("nope", t(75.0)).is_none());
    let _: &Verdict = m.verdict(NODE).expect("verdict");
}
