//! E2 security events to NATS JetStream (`qsafe.events.e2.<node>`), for the
//! rApp's per-node view (issue 7, "NATS JetStream coordination").
//!
//! The key plane calls [`E2Events`] at the edges it already tracks: alarm
//! raise/clear (from the monitor's tick), link-state changes and freshness
//! violations (diffed here against the previous tick, so a violation that
//! lasts produces one event, not one per second), and rekey results. The
//! publisher ([`qsafe_events::EventPublisher`]) queues without blocking and
//! publishes with the event id as `Nats-Msg-Id`: at-least-once, deduplicated
//! by the stream. Rekey results and state changes get stable ids (a hash of
//! node, time and content), so a retried publish after a reconnect is stored
//! once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use qsafe_events::{E2SecurityEvent, EventKind, EventPublisher};
use qsafe_hybrid::KeySource;

use crate::freshness::{AlarmEdge, AlarmEvent, LinkState, Severity, StatusReport, Tick, Violation};

/// The xApp's event emitter (a no-op without a publisher).
#[derive(Debug, Clone, Default)]
pub struct E2Events {
    publisher: Option<Arc<EventPublisher>>,
    last: Arc<Mutex<Last>>,
}

#[derive(Debug, Default)]
struct Last {
    states: HashMap<String, LinkState>,
    violations: HashSet<(String, &'static str)>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn state(s: LinkState) -> qsafe_events::LinkState {
    match s {
        LinkState::Unprotected => qsafe_events::LinkState::Unprotected,
        LinkState::Protected => qsafe_events::LinkState::Protected,
        LinkState::Degraded => qsafe_events::LinkState::Degraded,
        LinkState::Isolated => qsafe_events::LinkState::Isolated,
    }
}

fn severity(s: Severity) -> qsafe_events::Severity {
    match s {
        Severity::Warning => qsafe_events::Severity::Warning,
        Severity::Major => qsafe_events::Severity::Major,
        Severity::Critical => qsafe_events::Severity::Critical,
    }
}

/// The event key source of a link key source.
pub fn key_source(k: KeySource) -> qsafe_events::KeySource {
    match k {
        KeySource::Qkd => qsafe_events::KeySource::Qkd,
        KeySource::Pqc => qsafe_events::KeySource::Pqc,
        KeySource::Hybrid => qsafe_events::KeySource::Hybrid,
    }
}

/// (measure, value, limit) of a violation, in seconds, bytes, packets, keys or failures.
fn measure(v: &Violation) -> (f64, f64) {
    match v {
        Violation::KeyAge { age, max } => (age.as_secs_f64(), max.as_secs_f64()),
        Violation::SaBytes { bytes, max } => (*bytes as f64, *max as f64),
        Violation::SaPackets { packets, max } => (*packets as f64, *max as f64),
        Violation::KmeStockLow { keys, min } => (*keys as f64, *min as f64),
        Violation::TimeToEmpty { time_to_empty, alarm } => (time_to_empty.as_secs_f64(), alarm.as_secs_f64()),
        Violation::UnprotectedPastDeadline { unprotected_for, deadline } => {
            (unprotected_for.as_secs_f64(), deadline.as_secs_f64())
        }
        Violation::SourceUnavailable { .. } => (0.0, 1.0),
        Violation::RekeyFailing { consecutive, max } => (f64::from(*consecutive), f64::from(*max)),
    }
}

impl E2Events {
    /// Events go to `publisher`.
    pub fn new(publisher: Arc<EventPublisher>) -> Self {
        Self { publisher: Some(publisher), last: Arc::default() }
    }

    /// Whether events are published at all.
    pub fn enabled(&self) -> bool {
        self.publisher.is_some()
    }

    /// The publisher (for its statistics and shutdown).
    pub fn publisher(&self) -> Option<&Arc<EventPublisher>> {
        self.publisher.as_ref()
    }

    fn publish(&self, event: E2SecurityEvent) {
        if let Some(p) = &self.publisher
            && let Err(e) = p.publish(&event)
        {
            tracing::warn!(node = %event.node, error = %e, "event not published");
        }
    }

    fn stable(&self, node: &str, at: SystemTime, kind: EventKind) {
        let at = time::OffsetDateTime::from(at);
        self.publish(E2SecurityEvent::with_stable_id(node, at, kind));
    }

    /// One monitor tick: alarm edges, state changes and new violations.
    pub fn on_tick(&self, tick: &Tick, status: &StatusReport, now: SystemTime) {
        if !self.enabled() {
            return;
        }
        for a in &tick.alarms {
            self.on_alarm(a, now);
        }
        let mut last = lock(&self.last);
        for l in &status.links {
            let before = last.states.insert(l.node.clone(), l.state).unwrap_or(LinkState::Unprotected);
            if before != l.state {
                self.stable(&l.node, now, EventKind::LinkStateChanged { from: state(before), to: state(l.state) });
            }
        }
        let mut current = HashSet::new();
        for (node, verdict) in &tick.verdicts {
            for v in &verdict.violations {
                let what = v.kind().as_str();
                current.insert((node.clone(), what));
                if !last.violations.contains(&(node.clone(), what)) {
                    let (value, limit) = measure(v);
                    self.stable(node, now, EventKind::FreshnessViolation { what: what.to_string(), value, limit });
                }
            }
        }
        last.violations = current;
    }

    fn on_alarm(&self, a: &AlarmEvent, now: SystemTime) {
        let alarm = a.alarm.kind.as_str().to_string();
        let kind = match a.edge {
            AlarmEdge::Raised => {
                EventKind::AlarmRaised { alarm, severity: severity(a.alarm.severity), text: a.alarm.message.clone() }
            }
            AlarmEdge::Cleared => EventKind::AlarmCleared { alarm },
        };
        self.stable(&a.alarm.node, now, kind);
    }

    /// A rekey finished (`Ok`: its key source and latency; `Err`: why).
    pub fn on_rekey(&self, node: &str, epoch: u32, result: Result<(KeySource, std::time::Duration), String>) {
        if !self.enabled() {
            return;
        }
        let kind = match result {
            Ok((k, latency)) => EventKind::RekeyResult {
                epoch: u64::from(epoch),
                ok: true,
                key_source: Some(key_source(k)),
                latency_ms: Some(u64::try_from(latency.as_millis()).unwrap_or(u64::MAX)),
                cause: None,
            },
            Err(cause) => EventKind::RekeyResult {
                epoch: u64::from(epoch),
                ok: false,
                key_source: None,
                latency_ms: None,
                cause: Some(cause),
            },
        };
        self.stable(node, SystemTime::now(), kind);
    }
}
