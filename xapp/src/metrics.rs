//! Prometheus metrics of the xApp's key plane (prefix `qsafe_xapp_`),
//! served as text on `/metrics` by [`crate::http`].
//!
//! Gauges are set from a [`StatusReport`] ([`XappMetrics::update`], after
//! every monitor tick); counters and the latency histogram are bumped by the
//! link driver as things happen ([`XappMetrics::record_rekey`],
//! [`XappMetrics::record_alarms`]). Per-link series carry the `node` label
//! (E2 node ids: one per link, a bounded set); a link that disappears from
//! the report has every one of its label sets removed.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::freshness::{AlarmEdge, AlarmEvent, AlarmKind, LinkState, StatusReport};

/// Content type of [`XappMetrics::render`].
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Buckets of the rekey latency histogram (seconds).
pub const LATENCY_BUCKETS: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Key sources as the `key_source` gauge labels them (`none`: no SA).
const SOURCES: [&str; 4] = ["qkd", "pqc", "hybrid", "none"];

/// How a rekey ended, for `rekeys_total{result}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RekeyResult {
    /// Success outcome verified, outbound switched.
    Success,
    /// Refused by the node (failure outcome) or not sent (fail closed).
    Failure,
    /// No outcome before the retransmissions ran out.
    Timeout,
}

impl RekeyResult {
    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            RekeyResult::Success => "success",
            RekeyResult::Failure => "failure",
            RekeyResult::Timeout => "timeout",
        }
    }
}

/// The metric families. Cheap to clone (shared registry).
#[derive(Debug, Clone)]
pub struct XappMetrics {
    registry: Registry,
    known: Arc<Mutex<BTreeSet<String>>>,
    /// Age of the current keys, per node.
    pub key_age_seconds: GaugeVec,
    /// Bytes under the current SA pair, per node.
    pub sa_bytes: IntGaugeVec,
    /// Packets under the current SA pair, per node.
    pub sa_packets: IntGaugeVec,
    /// Seconds since the last successful rekey, per node.
    pub seconds_since_rekey: GaugeVec,
    /// Seconds past the scheduled rekey, per node.
    pub rekey_lateness_seconds: GaugeVec,
    /// Rekey latency, per node.
    pub rekey_latency_seconds: HistogramVec,
    /// Rekeys by node and result.
    pub rekeys_total: IntCounterVec,
    /// 1 for the source of the current keys, per node and source.
    pub key_source: IntGaugeVec,
    /// 1 for the current state, per node and state.
    pub link_state: IntGaugeVec,
    /// Current epoch, per node.
    pub epoch: IntGaugeVec,
    /// Keys the RIC KME holds for the link (stored + prefetched), per node.
    pub kme_stored_keys: IntGaugeVec,
    /// Estimated time until the KME stock runs out, per node (absent: not draining).
    pub kme_time_to_empty_seconds: GaugeVec,
    /// Active alarms, per kind.
    pub alarms_active: IntGaugeVec,
    /// Alarms raised, per kind.
    pub alarms_total: IntCounterVec,
    /// Links known.
    pub links: Gauge,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    // Names and labels are constants; the unit tests exercise every family.
    match r {
        Ok(v) => v,
        Err(e) => panic!("metric definition: {e}"),
    }
}

impl Default for XappMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl XappMetrics {
    /// Creates and registers every family.
    pub fn new() -> Self {
        let registry = must(Registry::new_custom(Some("qsafe_xapp".into()), None));
        let node = &["node"];
        let m = Self {
            known: Arc::default(),
            key_age_seconds: must(GaugeVec::new(Opts::new("key_age_seconds", "Age of the link's current keys"), node)),
            sa_bytes: must(IntGaugeVec::new(Opts::new("sa_bytes", "Bytes under the link's current SA pair"), node)),
            sa_packets: must(IntGaugeVec::new(
                Opts::new("sa_packets", "Packets under the link's current SA pair"),
                node,
            )),
            seconds_since_rekey: must(GaugeVec::new(
                Opts::new("seconds_since_rekey", "Seconds since the link's last successful rekey"),
                node,
            )),
            rekey_lateness_seconds: must(GaugeVec::new(
                Opts::new("rekey_lateness_seconds", "Seconds past the link's scheduled rekey (0: not late)"),
                node,
            )),
            rekey_latency_seconds: must(HistogramVec::new(
                HistogramOpts::new("rekey_latency_seconds", "From REKEY sent to the verified success outcome")
                    .buckets(LATENCY_BUCKETS.to_vec()),
                node,
            )),
            rekeys_total: must(IntCounterVec::new(
                Opts::new("rekeys_total", "Rekeys by result (success, failure, timeout)"),
                &["node", "result"],
            )),
            key_source: must(IntGaugeVec::new(
                Opts::new("key_source", "1 for the sources of the link's current keys (qkd, pqc, hybrid, none)"),
                &["node", "source"],
            )),
            link_state: must(IntGaugeVec::new(
                Opts::new("link_state", "1 for the link's state (unprotected, protected, degraded, isolated)"),
                &["node", "state"],
            )),
            epoch: must(IntGaugeVec::new(Opts::new("epoch", "The link's current rekey epoch"), node)),
            kme_stored_keys: must(IntGaugeVec::new(
                Opts::new("kme_stored_keys", "QKD keys left for the link at the RIC's KME (stored + prefetched)"),
                node,
            )),
            kme_time_to_empty_seconds: must(GaugeVec::new(
                Opts::new("kme_time_to_empty_seconds", "Estimated time until the link's KME stock runs out"),
                node,
            )),
            alarms_active: must(IntGaugeVec::new(Opts::new("alarms_active", "Active alarms by kind"), &["kind"])),
            alarms_total: must(IntCounterVec::new(Opts::new("alarms_total", "Alarms raised by kind"), &["kind"])),
            links: must(Gauge::new("links", "E2 links known to the key-freshness monitor")),
            registry,
        };
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(m.key_age_seconds.clone()),
            Box::new(m.sa_bytes.clone()),
            Box::new(m.sa_packets.clone()),
            Box::new(m.seconds_since_rekey.clone()),
            Box::new(m.rekey_lateness_seconds.clone()),
            Box::new(m.rekey_latency_seconds.clone()),
            Box::new(m.rekeys_total.clone()),
            Box::new(m.key_source.clone()),
            Box::new(m.link_state.clone()),
            Box::new(m.epoch.clone()),
            Box::new(m.kme_stored_keys.clone()),
            Box::new(m.kme_time_to_empty_seconds.clone()),
            Box::new(m.alarms_active.clone()),
            Box::new(m.alarms_total.clone()),
            Box::new(m.links.clone()),
        ];
        for c in collectors {
            must(m.registry.register(c));
        }
        for kind in AlarmKind::ALL {
            m.alarms_active.with_label_values(&[kind.as_str()]).set(0);
            m.alarms_total.with_label_values(&[kind.as_str()]);
        }
        m
    }

    /// Sets every gauge from a status report; removes the series of links
    /// no longer in it.
    pub fn update(&self, report: &StatusReport) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        let now: BTreeSet<String> = report.links.iter().map(|l| l.node.clone()).collect();
        for gone in known.difference(&now) {
            self.remove_series(gone);
        }
        *known = now;
        drop(known);
        self.links.set(report.links.len() as f64);
        for l in &report.links {
            let n = l.node.as_str();
            self.key_age_seconds.with_label_values(&[n]).set(l.key_age_seconds.unwrap_or(0.0));
            self.sa_bytes.with_label_values(&[n]).set(clamp_i64(l.sa.bytes));
            self.sa_packets.with_label_values(&[n]).set(clamp_i64(l.sa.packets));
            self.seconds_since_rekey.with_label_values(&[n]).set(l.seconds_since_rekey.unwrap_or(0.0));
            self.rekey_lateness_seconds.with_label_values(&[n]).set(l.rekey_lateness_seconds);
            self.epoch.with_label_values(&[n]).set(i64::from(l.epoch));
            let source = l.key_source.map_or("none", |s| s.as_str());
            for s in SOURCES {
                self.key_source.with_label_values(&[n, s]).set(i64::from(s == source));
            }
            for s in LinkState::ALL {
                self.link_state.with_label_values(&[n, s.as_str()]).set(i64::from(s == l.state));
            }
            let keys = l.kme.stored_keys.map(|k| k.saturating_add(l.kme.prefetched)).unwrap_or(l.kme.prefetched);
            self.kme_stored_keys.with_label_values(&[n]).set(clamp_i64(keys));
            match l.kme.time_to_empty_seconds {
                Some(t) => self.kme_time_to_empty_seconds.with_label_values(&[n]).set(t),
                None => {
                    let _ = self.kme_time_to_empty_seconds.remove_label_values(&[n]);
                }
            }
            // Histogram and counters exist from the first report on (zeros, not gaps).
            self.rekey_latency_seconds.with_label_values(&[n]);
            for r in [RekeyResult::Success, RekeyResult::Failure, RekeyResult::Timeout] {
                self.rekeys_total.with_label_values(&[n, r.as_str()]);
            }
        }
        let mut counts = [0i64; AlarmKind::ALL.len()];
        for a in &report.alarms {
            if let Some(i) = AlarmKind::ALL.iter().position(|k| *k == a.kind) {
                counts[i] += 1;
            }
        }
        for (kind, count) in AlarmKind::ALL.iter().zip(counts) {
            self.alarms_active.with_label_values(&[kind.as_str()]).set(count);
        }
    }

    /// Counts one rekey of `node` (latency: successful rekeys only).
    pub fn record_rekey(&self, node: &str, result: RekeyResult, latency: Option<Duration>) {
        self.rekeys_total.with_label_values(&[node, result.as_str()]).inc();
        if let Some(d) = latency {
            self.rekey_latency_seconds.with_label_values(&[node]).observe(d.as_secs_f64());
        }
    }

    /// Counts raised alarms (and keeps `alarms_active` current between
    /// two [`update`](Self::update)s).
    pub fn record_alarms(&self, events: &[AlarmEvent]) {
        for e in events {
            let kind = e.alarm.kind.as_str();
            let active = self.alarms_active.with_label_values(&[kind]);
            match e.edge {
                AlarmEdge::Raised => {
                    self.alarms_total.with_label_values(&[kind]).inc();
                    active.inc();
                }
                AlarmEdge::Cleared => {
                    if active.get() > 0 {
                        active.dec();
                    }
                }
            }
        }
    }

    /// Removes every series of `node` (the link went away).
    pub fn remove_link(&self, node: &str) {
        self.known.lock().unwrap_or_else(|p| p.into_inner()).remove(node);
        self.remove_series(node);
    }

    fn remove_series(&self, n: &str) {
        let _ = self.key_age_seconds.remove_label_values(&[n]);
        let _ = self.sa_bytes.remove_label_values(&[n]);
        let _ = self.sa_packets.remove_label_values(&[n]);
        let _ = self.seconds_since_rekey.remove_label_values(&[n]);
        let _ = self.rekey_lateness_seconds.remove_label_values(&[n]);
        let _ = self.rekey_latency_seconds.remove_label_values(&[n]);
        let _ = self.epoch.remove_label_values(&[n]);
        let _ = self.kme_stored_keys.remove_label_values(&[n]);
        let _ = self.kme_time_to_empty_seconds.remove_label_values(&[n]);
        for r in [RekeyResult::Success, RekeyResult::Failure, RekeyResult::Timeout] {
            let _ = self.rekeys_total.remove_label_values(&[n, r.as_str()]);
        }
        for s in SOURCES {
            let _ = self.key_source.remove_label_values(&[n, s]);
        }
        for s in LinkState::ALL {
            let _ = self.link_state.remove_label_values(&[n, s.as_str()]);
        }
    }

    /// Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "metrics encoding failed");
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use qsafe_hybrid::{KeySource, Mode};

    use super::*;
    use crate::freshness::{KeyFreshness, RekeyDone, SaCounters};
    use crate::policy::FreshnessPolicy;

    const A: &str = "gNB/001-01/0x1000:28";
    const B: &str = "gNB/001-01/0x2000:28";

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s)
    }

    fn series(text: &str, name: &str) -> Option<f64> {
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
    }

    #[test]
    fn series_follow_the_status() {
        let m = XappMetrics::new();
        let mut f = KeyFreshness::new(FreshnessPolicy::default());
        let link = f.link_mut(A);
        link.on_setup(true, t(0));
        link.on_rekey_started(t(1));
        let done = RekeyDone {
            epoch: 7,
            key_id: None,
            key_source: KeySource::Hybrid,
            mode: Mode::QkdAndPqc,
            latency: Duration::from_millis(30),
        };
        link.on_rekey_succeeded(done, Mode::QkdAndPqc, true, t(10));
        link.on_ric_counters(SaCounters { bytes: 123_456, packets: 789 });
        f.stock_mut(A).on_status(1000, 5000, t(0));
        f.stock_mut(A).on_status(900, 5000, t(10));
        f.stock_mut(A).on_prefetch(4, 0, t(10));
        f.link_mut(B).on_setup(true, t(0));
        let tick = f.tick(t(100));
        m.record_alarms(&tick.alarms);
        m.record_rekey(A, RekeyResult::Success, Some(Duration::from_millis(30)));
        m.record_rekey(A, RekeyResult::Failure, None);
        m.update(&f.status(t(100)));
        let text = m.render();
        for (name, value) in [
            (format!("qsafe_xapp_key_age_seconds{{node=\"{A}\"}}"), 90.0),
            (format!("qsafe_xapp_sa_bytes{{node=\"{A}\"}}"), 123_456.0),
            (format!("qsafe_xapp_sa_packets{{node=\"{A}\"}}"), 789.0),
            (format!("qsafe_xapp_seconds_since_rekey{{node=\"{A}\"}}"), 90.0),
            (format!("qsafe_xapp_rekey_lateness_seconds{{node=\"{A}\"}}"), 30.0),
            (format!("qsafe_xapp_epoch{{node=\"{A}\"}}"), 7.0),
            (format!("qsafe_xapp_rekeys_total{{node=\"{A}\",result=\"success\"}}"), 1.0),
            (format!("qsafe_xapp_rekeys_total{{node=\"{A}\",result=\"failure\"}}"), 1.0),
            (format!("qsafe_xapp_rekeys_total{{node=\"{A}\",result=\"timeout\"}}"), 0.0),
            (format!("qsafe_xapp_rekey_latency_seconds_count{{node=\"{A}\"}}"), 1.0),
            (format!("qsafe_xapp_rekey_latency_seconds_bucket{{node=\"{A}\",le=\"0.05\"}}"), 1.0),
            (format!("qsafe_xapp_rekey_latency_seconds_bucket{{node=\"{A}\",le=\"0.025\"}}"), 0.0),
            (format!("qsafe_xapp_key_source{{node=\"{A}\",source=\"hybrid\"}}"), 1.0),
            (format!("qsafe_xapp_key_source{{node=\"{A}\",source=\"qkd\"}}"), 0.0),
            (format!("qsafe_xapp_key_source{{node=\"{B}\",source=\"none\"}}"), 1.0),
            (format!("qsafe_xapp_link_state{{node=\"{A}\",state=\"protected\"}}"), 1.0),
            (format!("qsafe_xapp_link_state{{node=\"{A}\",state=\"degraded\"}}"), 0.0),
            (format!("qsafe_xapp_link_state{{node=\"{B}\",state=\"unprotected\"}}"), 1.0),
            (format!("qsafe_xapp_kme_stored_keys{{node=\"{A}\"}}"), 904.0),
            (format!("qsafe_xapp_kme_time_to_empty_seconds{{node=\"{A}\"}}"), 90.4),
            (format!("qsafe_xapp_kme_stored_keys{{node=\"{B}\"}}"), 0.0),
            ("qsafe_xapp_alarms_active{kind=\"unprotected-past-deadline\"}".into(), 1.0),
            ("qsafe_xapp_alarms_active{kind=\"source-unavailable\"}".into(), 1.0),
            ("qsafe_xapp_alarms_active{kind=\"key-age\"}".into(), 0.0),
            ("qsafe_xapp_alarms_total{kind=\"source-unavailable\"}".into(), 1.0),
            ("qsafe_xapp_links".into(), 2.0),
        ] {
            assert_eq!(series(&text, &name), Some(value), "{name} in\n{text}");
        }
        assert!(!text.contains(&format!("qsafe_xapp_kme_time_to_empty_seconds{{node=\"{B}\"}}")), "{text}");
        // B goes away: all its series go; A's stay.
        f.remove_link(B, t(101));
        m.update(&f.status(t(101)));
        let text = m.render();
        assert!(!text.contains(B), "{text}");
        assert!(text.contains(&format!("qsafe_xapp_sa_bytes{{node=\"{A}\"}} 123456")), "{text}");
        assert_eq!(series(&text, "qsafe_xapp_alarms_active{kind=\"source-unavailable\"}"), Some(0.0));
        assert_eq!(series(&text, "qsafe_xapp_alarms_total{kind=\"source-unavailable\"}"), Some(1.0));
        m.remove_link(A);
        assert!(!m.render().contains(A));
    }
}
