//! The rApp's per-node picture of E2 link security, folded from events.
//!
//! Events can arrive late, out of order (a redelivery after a newer event) or
//! twice (a redelivery the consumer no longer remembers, e.g. after an rApp
//! restart). The view therefore keeps, per node, the latest fact by event
//! time for each field (link state, last violation, last rekey, each alarm),
//! takes the highest successful epoch, and ignores an event id it has already
//! applied (a bounded memory of recent ids per node), so the picture is the
//! same whatever the delivery order. Only `counts` depend on how many distinct
//! events arrived.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{E2SecurityEvent, EventKind, KeySource, LinkState, Severity, rfc3339_utc};

/// Event ids remembered per node to ignore repeats.
const RECENT_IDS_PER_NODE: usize = 256;

/// An active alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveAlarm {
    /// How bad.
    pub severity: Severity,
    /// For people.
    pub text: String,
    /// When raised (or last updated).
    #[serde(with = "rfc3339_utc")]
    pub since: OffsetDateTime,
}

/// The last freshness violation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ViolationRecord {
    /// The measure.
    pub what: String,
    /// Its value.
    pub value: f64,
    /// The limit.
    pub limit: f64,
    /// When.
    #[serde(with = "rfc3339_utc")]
    pub at: OffsetDateTime,
}

/// The last rekey result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RekeyRecord {
    /// The epoch.
    pub epoch: u64,
    /// Whether it succeeded.
    pub ok: bool,
    /// The key source (on success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_source: Option<KeySource>,
    /// Latency in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// When.
    #[serde(with = "rfc3339_utc")]
    pub at: OffsetDateTime,
}

/// Event counts of a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeCounts {
    /// All events applied.
    pub events: u64,
    /// Link state changes.
    pub link_changes: u64,
    /// Freshness violations.
    pub violations: u64,
    /// Successful rekeys.
    pub rekeys_ok: u64,
    /// Failed rekeys.
    pub rekeys_failed: u64,
    /// Alarms raised.
    pub alarms_raised: u64,
    /// Alarms cleared.
    pub alarms_cleared: u64,
}

/// What the rApp knows about one E2 node's link security.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeView {
    /// The latest link state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_state: Option<LinkState>,
    /// Since when (the time of the change).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_utc::option")]
    pub link_state_since: Option<OffsetDateTime>,
    /// The highest epoch rekeyed successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    /// The key source of that epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_source: Option<KeySource>,
    /// Active alarms by name.
    pub active_alarms: BTreeMap<String, ActiveAlarm>,
    /// The latest freshness violation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_violation: Option<ViolationRecord>,
    /// The latest rekey result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rekey: Option<RekeyRecord>,
    /// Counts.
    pub counts: NodeCounts,
    /// The time of the newest event.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "rfc3339_utc::option")]
    pub last_event_at: Option<OffsetDateTime>,
    /// Time of the latest raise or clear per alarm (to order them).
    #[serde(default, skip_serializing)]
    alarm_edges: BTreeMap<String, OffsetDateTime>,
    /// Recently applied event ids.
    #[serde(default, skip_serializing)]
    recent_ids: VecDeque<String>,
}

fn newer(at: OffsetDateTime, than: Option<OffsetDateTime>) -> bool {
    than.is_none_or(|t| at >= t)
}

impl NodeView {
    fn apply(&mut self, e: &E2SecurityEvent) -> bool {
        if self.recent_ids.iter().any(|id| *id == e.id) {
            return false;
        }
        self.recent_ids.push_back(e.id.clone());
        if self.recent_ids.len() > RECENT_IDS_PER_NODE {
            self.recent_ids.pop_front();
        }
        self.counts.events += 1;
        if newer(e.at, self.last_event_at) {
            self.last_event_at = Some(e.at);
        }
        match &e.kind {
            EventKind::LinkStateChanged { to, .. } => {
                self.counts.link_changes += 1;
                if newer(e.at, self.link_state_since) {
                    self.link_state = Some(*to);
                    self.link_state_since = Some(e.at);
                }
            }
            EventKind::FreshnessViolation { what, value, limit } => {
                self.counts.violations += 1;
                if newer(e.at, self.last_violation.as_ref().map(|v| v.at)) {
                    self.last_violation =
                        Some(ViolationRecord { what: what.clone(), value: *value, limit: *limit, at: e.at });
                }
            }
            EventKind::RekeyResult { epoch, ok, key_source, latency_ms, cause } => {
                if *ok {
                    self.counts.rekeys_ok += 1;
                    if self.epoch.is_none_or(|current| *epoch >= current) {
                        self.epoch = Some(*epoch);
                        self.key_source = *key_source;
                    }
                } else {
                    self.counts.rekeys_failed += 1;
                }
                if newer(e.at, self.last_rekey.as_ref().map(|r| r.at)) {
                    self.last_rekey = Some(RekeyRecord {
                        epoch: *epoch,
                        ok: *ok,
                        key_source: *key_source,
                        latency_ms: *latency_ms,
                        cause: cause.clone(),
                        at: e.at,
                    });
                }
            }
            EventKind::AlarmRaised { alarm, severity, text } => {
                self.counts.alarms_raised += 1;
                if newer(e.at, self.alarm_edges.get(alarm).copied()) {
                    self.alarm_edges.insert(alarm.clone(), e.at);
                    self.active_alarms
                        .insert(alarm.clone(), ActiveAlarm { severity: *severity, text: text.clone(), since: e.at });
                }
            }
            EventKind::AlarmCleared { alarm } => {
                self.counts.alarms_cleared += 1;
                if newer(e.at, self.alarm_edges.get(alarm).copied()) {
                    self.alarm_edges.insert(alarm.clone(), e.at);
                    self.active_alarms.remove(alarm);
                }
            }
        }
        true
    }
}

/// The per-node view of every E2 node the events mentioned (serialises as
/// `{"nodes": {"<node id>": {...}}, "eventsApplied": n}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct E2SecurityView {
    nodes: BTreeMap<String, NodeView>,
    events_applied: u64,
}

impl E2SecurityView {
    /// An empty view.
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds in one event; `false` when this event id was already applied
    /// to its node recently (then nothing changes).
    pub fn apply(&mut self, event: &E2SecurityEvent) -> bool {
        let applied = self.nodes.entry(event.node.clone()).or_default().apply(event);
        if applied {
            self.events_applied += 1;
        }
        applied
    }

    /// One node.
    pub fn node(&self, node: &str) -> Option<&NodeView> {
        self.nodes.get(node)
    }

    /// Every node, by id.
    pub fn nodes(&self) -> impl Iterator<Item = (&str, &NodeView)> {
        self.nodes.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many events were applied.
    pub fn events_applied(&self) -> u64 {
        self.events_applied
    }

    /// Nodes with at least one active alarm of at least `severity`.
    pub fn alarmed_nodes(&self, severity: Severity) -> Vec<&str> {
        self.nodes
            .iter()
            .filter(|(_, v)| v.active_alarms.values().any(|a| a.severity >= severity))
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use time::format_description::well_known::Rfc3339;

    fn t(s: u32) -> OffsetDateTime {
        OffsetDateTime::parse(&format!("2025-06-01T12:00:{s:02}Z"), &Rfc3339).unwrap()
    }

    fn ev(id: &str, node: &str, s: u32, kind: EventKind) -> E2SecurityEvent {
        E2SecurityEvent { id: id.into(), node: node.into(), at: t(s), kind }
    }

    fn events() -> Vec<E2SecurityEvent> {
        let n = "gNB/001-01/0x1000:28";
        vec![
            ev("1", n, 1, EventKind::LinkStateChanged { from: LinkState::Unprotected, to: LinkState::Protected }),
            ev(
                "2",
                n,
                2,
                EventKind::RekeyResult {
                    epoch: 1,
                    ok: true,
                    key_source: Some(KeySource::Hybrid),
                    latency_ms: Some(80),
                    cause: None,
                },
            ),
            ev("3", n, 3, EventKind::FreshnessViolation { what: "key-age".into(), value: 4000.0, limit: 3600.0 }),
            ev(
                "4",
                n,
                4,
                EventKind::AlarmRaised { alarm: "key-age".into(), severity: Severity::Major, text: "old".into() },
            ),
            ev(
                "5",
                n,
                5,
                EventKind::RekeyResult {
                    epoch: 2,
                    ok: true,
                    key_source: Some(KeySource::Pqc),
                    latency_ms: Some(90),
                    cause: None,
                },
            ),
            ev("6", n, 6, EventKind::LinkStateChanged { from: LinkState::Protected, to: LinkState::Degraded }),
            ev("7", n, 7, EventKind::AlarmCleared { alarm: "key-age".into() }),
            ev(
                "8",
                n,
                8,
                EventKind::AlarmRaised {
                    alarm: "link-degraded".into(),
                    severity: Severity::Warning,
                    text: "pqc".into(),
                },
            ),
            ev(
                "9",
                n,
                9,
                EventKind::RekeyResult {
                    epoch: 3,
                    ok: false,
                    key_source: None,
                    latency_ms: None,
                    cause: Some("kme".into()),
                },
            ),
            ev(
                "10",
                "other",
                3,
                EventKind::AlarmRaised {
                    alarm: "link-isolated".into(),
                    severity: Severity::Critical,
                    text: "cut".into(),
                },
            ),
        ]
    }

    #[test]
    fn folds_events() {
        let mut view = E2SecurityView::new();
        for e in events() {
            assert!(view.apply(&e));
        }
        let n = view.node("gNB/001-01/0x1000:28").unwrap();
        assert_eq!(n.link_state, Some(LinkState::Degraded));
        assert_eq!(n.link_state_since, Some(t(6)));
        assert_eq!((n.epoch, n.key_source), (Some(2), Some(KeySource::Pqc)));
        assert_eq!(n.active_alarms.keys().collect::<Vec<_>>(), ["link-degraded"]);
        assert_eq!(n.last_violation.as_ref().unwrap().what, "key-age");
        let last = n.last_rekey.as_ref().unwrap();
        assert_eq!((last.epoch, last.ok, last.cause.as_deref()), (3, false, Some("kme")));
        assert_eq!(
            n.counts,
            NodeCounts {
                events: 9,
                link_changes: 2,
                violations: 1,
                rekeys_ok: 2,
                rekeys_failed: 1,
                alarms_raised: 2,
                alarms_cleared: 1
            }
        );
        assert_eq!(view.events_applied(), 10);
        assert_eq!(view.alarmed_nodes(Severity::Critical), ["other"]);
        assert_eq!(view.alarmed_nodes(Severity::Warning).len(), 2);

        let json = serde_json::to_value(&view).unwrap();
        let node = &json["nodes"]["gNB/001-01/0x1000:28"];
        assert_eq!(node["linkState"], "degraded");
        assert_eq!(node["linkStateSince"], "2025-06-01T12:00:06Z");
        assert_eq!(node["epoch"], 2);
        assert_eq!(node["keySource"], "pqc");
        assert_eq!(node["activeAlarms"]["link-degraded"]["severity"], "warning");
        assert_eq!(node["lastRekey"]["cause"], "kme");
        assert_eq!(node["counts"]["rekeysOk"], 2);
        assert!(node.get("recentIds").is_none() && node.get("alarmEdges").is_none());
        assert_eq!(json["eventsApplied"], 10);
        let back: E2SecurityView = serde_json::from_value(json).unwrap();
        assert_eq!(back.node("other").unwrap().active_alarms.len(), 1);
    }

    #[test]
    fn order_and_repeats_do_not_change_the_state() {
        let mut forward = E2SecurityView::new();
        for e in events() {
            forward.apply(&e);
        }
        let mut backward = E2SecurityView::new();
        for e in events().iter().rev() {
            backward.apply(e);
        }
        for e in events() {
            assert!(!backward.apply(&e), "a repeat is ignored");
        }
        assert_eq!(backward.events_applied(), 10);
        for (id, f) in forward.nodes() {
            let b = backward.node(id).unwrap();
            assert_eq!(
                (f.link_state, f.epoch, f.key_source, &f.active_alarms, &f.last_violation, &f.last_rekey, f.counts),
                (b.link_state, b.epoch, b.key_source, &b.active_alarms, &b.last_violation, &b.last_rekey, b.counts),
            );
        }
    }
}
