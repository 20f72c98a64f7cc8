//! The key-freshness monitor: what is known about every E2 link's keys,
//! and what the policy says to do about it. Sans-IO: the link driver feeds
//! observations in (`on_*` methods) and passes the time; [`evaluate`] is a
//! pure function of (policy, link, KME stock, now).
//!
//! * [`LinkObservation`]: one link — epoch, key_ID, key source, when the
//!   keys were installed, bytes/packets under the current SA pair (the RIC's
//!   own kernel counters and the node's REPORTs; the larger counts), rekey
//!   outcomes and latencies, link state, E2 Setup time.
//! * [`KmeStock`]: the RIC KME's stock for the link (ETSI 014 `Status`
//!   polls: `stored_key_count`, `max_key_count`; the prefetch buffer's level
//!   and failures) and a drain-rate estimate → time-to-empty.
//! * [`evaluate`] → [`Verdict`]: whether a rekey is due ([`RekeyReason`]),
//!   how late it is, the policy [`Violation`]s, and the [`Enforcement`]
//!   action (the decision table is in `docs/key-freshness.md`).
//! * [`AlarmBook`]: violations and degraded/isolated states as [`Alarm`]s
//!   with raise and clear edges (one raise while a condition persists, one
//!   clear when it ends).
//! * [`KeyFreshness`]: all of the above for every link, as the driver holds
//!   it; [`KeyFreshness::tick`] evaluates every link and returns the
//!   verdicts and alarm edges; [`KeyFreshness::status`] is the JSON view.
//!
//! Times are wall-clock [`SystemTime`]s (they appear in the status JSON as
//! Unix seconds); a clock that steps backwards makes ages saturate at 0
//! rather than fail.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use qsafe_asn1::e2sm_qkd as qkd;
use qsafe_hybrid::{KeyId, KeySource, Mode};
use serde::{Serialize, Serializer};

use crate::policy::{FreshnessPolicy, OnViolation, PolicySet, Recovery, secs};

/// A rekey is due when the bytes (or packets) under the current SA pair
/// reach this fraction of the policy's maximum; going over the maximum is a
/// violation.
pub const REKEY_AT_FRACTION: f64 = 0.8;
/// First retry delay after a failed rekey; it doubles with every further
/// consecutive failure.
pub const RETRY_BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest retry delay (also never longer than the rekey period).
pub const RETRY_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Rekey latencies kept for the quantiles of [`LatencyWindow`].
pub const LATENCY_WINDOW: usize = 256;
/// Weight of the newest sample in the KME drain-rate estimate.
pub const DRAIN_EWMA_WEIGHT: f64 = 0.3;

/// The security state of a link (as `qsafe_asn1::e2sm_qkd::LinkState`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkState {
    /// No SA yet (bootstrap), or the node reconnected after an isolation.
    #[default]
    Unprotected,
    /// SAs keyed as the policy's mode demands.
    Protected,
    /// SAs keyed from ML-KEM only where the policy wanted QKD.
    Degraded,
    /// SAs removed while ESP stays required: no E2 traffic passes.
    Isolated,
}

impl LinkState {
    /// Every state.
    pub const ALL: [LinkState; 4] =
        [LinkState::Unprotected, LinkState::Protected, LinkState::Degraded, LinkState::Isolated];

    /// The kebab-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            LinkState::Unprotected => "unprotected",
            LinkState::Protected => "protected",
            LinkState::Degraded => "degraded",
            LinkState::Isolated => "isolated",
        }
    }

    /// Whether the link has an SA pair in use.
    pub const fn has_sa(self) -> bool {
        matches!(self, LinkState::Protected | LinkState::Degraded)
    }
}

impl fmt::Display for LinkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<qkd::LinkState> for LinkState {
    fn from(s: qkd::LinkState) -> Self {
        match s {
            qkd::LinkState::Unprotected => LinkState::Unprotected,
            qkd::LinkState::Protected => LinkState::Protected,
            qkd::LinkState::Degraded => LinkState::Degraded,
            qkd::LinkState::Isolated => LinkState::Isolated,
        }
    }
}

impl From<LinkState> for qkd::LinkState {
    fn from(s: LinkState) -> Self {
        match s {
            LinkState::Unprotected => qkd::LinkState::Unprotected,
            LinkState::Protected => qkd::LinkState::Protected,
            LinkState::Degraded => qkd::LinkState::Degraded,
            LinkState::Isolated => qkd::LinkState::Isolated,
        }
    }
}

/// The E2SM-QKD key source as the combiner's.
pub fn key_source_from_e2sm(s: qkd::KeySource) -> KeySource {
    match s {
        qkd::KeySource::Qkd => KeySource::Qkd,
        qkd::KeySource::Pqc => KeySource::Pqc,
        qkd::KeySource::Hybrid => KeySource::Hybrid,
    }
}

/// The E2SM-QKD mode as the combiner's.
pub fn mode_from_e2sm(m: qkd::KeySourceMode) -> Mode {
    match m {
        qkd::KeySourceMode::QkdAndPqc => Mode::QkdAndPqc,
        qkd::KeySourceMode::AtLeastQkd => Mode::AtLeastQkd,
        qkd::KeySourceMode::AtLeastPqc => Mode::AtLeastPqc,
        qkd::KeySourceMode::Either => Mode::Either,
    }
}

/// Bytes and packets under an SA pair (both directions added).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SaCounters {
    /// Bytes.
    pub bytes: u64,
    /// Packets.
    pub packets: u64,
}

/// Summary of rekey latencies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencySummary {
    /// Rekeys measured since the link appeared.
    pub count: u64,
    /// The last one, seconds.
    pub last_seconds: Option<f64>,
    /// Mean of all, seconds.
    pub mean_seconds: Option<f64>,
    /// Median of the last [`LATENCY_WINDOW`], seconds.
    pub p50_seconds: Option<f64>,
    /// 99th percentile of the last [`LATENCY_WINDOW`], seconds.
    pub p99_seconds: Option<f64>,
    /// Largest of all, seconds.
    pub max_seconds: Option<f64>,
}

/// Rekey latencies: a ring buffer of the last [`LATENCY_WINDOW`] plus
/// running totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyWindow {
    recent: VecDeque<Duration>,
    count: u64,
    sum: Duration,
    max: Duration,
}

impl LatencyWindow {
    /// Records one latency.
    pub fn record(&mut self, d: Duration) {
        if self.recent.len() == LATENCY_WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(d);
        self.count += 1;
        self.sum = self.sum.saturating_add(d);
        self.max = self.max.max(d);
    }

    /// Latencies recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The last one.
    pub fn last(&self) -> Option<Duration> {
        self.recent.back().copied()
    }

    /// The `q` quantile (0..=1, nearest rank) of the window.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.recent.is_empty() {
            return None;
        }
        let mut v: Vec<Duration> = self.recent.iter().copied().collect();
        v.sort_unstable();
        let rank = (q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize;
        Some(v[rank.clamp(1, v.len()) - 1])
    }

    /// The summary.
    pub fn summary(&self) -> LatencySummary {
        let s = |d: Duration| d.as_secs_f64();
        LatencySummary {
            count: self.count,
            last_seconds: self.last().map(s),
            mean_seconds: (self.count > 0).then(|| self.sum.as_secs_f64() / self.count as f64),
            p50_seconds: self.quantile(0.5).map(s),
            p99_seconds: self.quantile(0.99).map(s),
            max_seconds: (self.count > 0).then(|| s(self.max)),
        }
    }
}

/// A completed rekey, as the RIC's rekey machine reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RekeyDone {
    /// The new epoch.
    pub epoch: u32,
    /// The QKD key_ID, when a QKD key was used.
    pub key_id: Option<KeyId>,
    /// The sources used.
    pub key_source: KeySource,
    /// The mode the rekey ran in.
    pub mode: Mode,
    /// From sending REKEY to the verified success outcome.
    pub latency: Duration,
}

/// What is known about one E2 link. Fields are public for tests and
/// special cases; the `on_*` methods keep them consistent.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkObservation {
    /// The E2 node id (`gNB/001-01/0x1000:28`).
    pub node: String,
    /// Whether its E2 association is up and set up.
    pub connected: bool,
    /// Its security state.
    pub state: LinkState,
    /// Since when.
    pub state_since: Option<SystemTime>,
    /// Its last successful E2 Setup (the isolate deadline counts from here).
    pub setup_at: Option<SystemTime>,
    /// The current epoch (0: never rekeyed).
    pub epoch: u32,
    /// The mode of the current SA pair's rekey.
    pub mode: Option<Mode>,
    /// The current QKD key_ID.
    pub key_id: Option<KeyId>,
    /// The sources of the current keys.
    pub key_source: Option<KeySource>,
    /// When the current SA pair was installed (the key's birth).
    pub installed_at: Option<SystemTime>,
    /// The RIC's kernel counters of the current SA pair.
    pub ric_counters: SaCounters,
    /// The node's counters of the current SA pair (its last REPORT).
    pub node_counters: Option<SaCounters>,
    /// When the node last reported.
    pub node_report_at: Option<SystemTime>,
    /// The node KME's stored keys (its last REPORT).
    pub node_kme_stored_keys: Option<u32>,
    /// Whether a verified, unused KEM key of the node is at hand (ML-KEM
    /// is available for the next rekey).
    pub pqc_available: bool,
    /// The last successful rekey.
    pub last_rekey_ok: Option<SystemTime>,
    /// The last rekey attempt (start).
    pub last_attempt: Option<SystemTime>,
    /// A rekey of this link is outstanding.
    pub rekey_in_progress: bool,
    /// A recovery from isolation is under way (ESP released, waiting for
    /// the node to reconnect).
    pub recovering: bool,
    /// An isolation is under way (ISOLATE sent, not yet acknowledged).
    pub isolating: bool,
    /// Failed rekeys since the last success.
    pub consecutive_failures: u32,
    /// Why the last rekey failed.
    pub last_failure: Option<String>,
    /// Successful rekeys.
    pub rekeys_ok: u64,
    /// Failed rekeys.
    pub rekeys_failed: u64,
    /// Rekey latencies.
    pub latency: LatencyWindow,
}

impl LinkObservation {
    /// A new, unprotected, unconnected link.
    pub fn new(node: impl Into<String>) -> Self {
        Self {
            node: node.into(),
            connected: false,
            state: LinkState::Unprotected,
            state_since: None,
            setup_at: None,
            epoch: 0,
            mode: None,
            key_id: None,
            key_source: None,
            installed_at: None,
            ric_counters: SaCounters::default(),
            node_counters: None,
            node_report_at: None,
            node_kme_stored_keys: None,
            pqc_available: false,
            last_rekey_ok: None,
            last_attempt: None,
            rekey_in_progress: false,
            recovering: false,
            isolating: false,
            consecutive_failures: 0,
            last_failure: None,
            rekeys_ok: 0,
            rekeys_failed: 0,
            latency: LatencyWindow::default(),
        }
    }

    fn set_state(&mut self, state: LinkState, now: SystemTime) {
        if self.state != state || self.state_since.is_none() {
            self.state = state;
            self.state_since = Some(now);
        }
    }

    fn clear_sa(&mut self) {
        self.mode = None;
        self.key_id = None;
        self.key_source = None;
        self.installed_at = None;
        self.ric_counters = SaCounters::default();
        self.node_counters = None;
    }

    /// E2 Setup succeeded. `pqc_available`: the setup carried a verified
    /// first KEM key. A node that comes back after an isolation starts
    /// over unprotected; a protected link that merely reconnected keeps its
    /// state.
    pub fn on_setup(&mut self, pqc_available: bool, now: SystemTime) {
        self.connected = true;
        self.setup_at = Some(now);
        self.pqc_available = pqc_available;
        self.recovering = false;
        if self.state == LinkState::Isolated || self.state_since.is_none() {
            self.clear_sa();
            self.set_state(LinkState::Unprotected, now);
            // A node back from isolation starts over: the failures that led
            // to the isolation must not isolate it again before its
            // bootstrap rekey had a chance.
            self.consecutive_failures = 0;
            self.last_failure = None;
        }
    }

    /// The association was lost.
    pub fn on_disconnected(&mut self) {
        self.connected = false;
        self.rekey_in_progress = false;
    }

    /// A rekey started (REKEY sent).
    pub fn on_rekey_started(&mut self, now: SystemTime) {
        self.rekey_in_progress = true;
        self.last_attempt = Some(now);
    }

    /// A rekey succeeded (verified success outcome, outbound switched). The
    /// link is Protected when the sources satisfy `policy_mode`, else
    /// Degraded. The KEM key used is consumed: `pqc_available` says whether
    /// the outcome brought the next one.
    pub fn on_rekey_succeeded(&mut self, done: RekeyDone, policy_mode: Mode, pqc_available: bool, now: SystemTime) {
        self.rekey_in_progress = false;
        self.recovering = false;
        self.epoch = done.epoch;
        self.mode = Some(done.mode);
        self.key_id = done.key_id;
        self.key_source = Some(done.key_source);
        self.installed_at = Some(now);
        self.ric_counters = SaCounters::default();
        self.node_counters = None;
        self.pqc_available = pqc_available;
        self.last_rekey_ok = Some(now);
        self.last_attempt.get_or_insert(now);
        self.consecutive_failures = 0;
        self.last_failure = None;
        self.rekeys_ok += 1;
        self.latency.record(done.latency);
        let satisfies = policy_mode.select(done.key_source.uses_qkd(), done.key_source.uses_pqc()).is_ok();
        self.set_state(if satisfies { LinkState::Protected } else { LinkState::Degraded }, now);
    }

    /// A rekey failed (refused before sending, failure outcome, timeout).
    pub fn on_rekey_failed(&mut self, why: impl Into<String>, now: SystemTime) {
        self.rekey_in_progress = false;
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.rekeys_failed += 1;
        self.last_failure = Some(why.into());
        self.last_attempt = Some(now);
    }

    /// The driver started isolating the link (ISOLATE sent).
    pub fn on_isolate_started(&mut self) {
        self.isolating = true;
    }

    /// The link was isolated (ISOLATE acknowledged or timed out, SAs removed).
    pub fn on_isolated(&mut self, now: SystemTime) {
        self.rekey_in_progress = false;
        self.recovering = false;
        self.isolating = false;
        self.clear_sa();
        self.set_state(LinkState::Isolated, now);
    }

    /// The driver started a recovery from isolation (ESP released, RESTORE
    /// sent or the node asked to reconnect).
    pub fn on_recovery_started(&mut self) {
        self.recovering = true;
    }

    /// The RIC's kernel counters for the current SA pair (both directions added).
    pub fn on_ric_counters(&mut self, counters: SaCounters) {
        self.ric_counters = counters;
    }

    /// An E2SM-QKD REPORT from the node. Counters are taken when its SA is
    /// the current epoch's.
    pub fn on_node_report(&mut self, report: &qkd::IndicationMessage, now: SystemTime) {
        self.node_report_at = Some(now);
        self.node_kme_stored_keys = report.kme_stored_keys;
        if report.next_kem_key.is_some() {
            self.pqc_available = true;
        }
        if let Some(sa) = &report.current_sa
            && sa.epoch == self.epoch
        {
            self.node_counters = Some(SaCounters {
                bytes: sa.inbound_bytes.saturating_add(sa.outbound_bytes),
                packets: sa.inbound_packets.saturating_add(sa.outbound_packets),
            });
        }
    }

    /// Age of the current keys.
    pub fn key_age(&self, now: SystemTime) -> Option<Duration> {
        self.installed_at.map(|t| since(t, now))
    }

    /// Time since the last successful rekey.
    pub fn since_rekey(&self, now: SystemTime) -> Option<Duration> {
        self.last_rekey_ok.map(|t| since(t, now))
    }

    /// Bytes and packets under the current SA pair: the larger of the RIC's
    /// and the node's counts.
    pub fn sa_counters(&self) -> SaCounters {
        let n = self.node_counters.unwrap_or_default();
        SaCounters { bytes: self.ric_counters.bytes.max(n.bytes), packets: self.ric_counters.packets.max(n.packets) }
    }
}

fn since(t: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(t).unwrap_or_default()
}

/// The RIC KME's key stock for one link (its ETSI 014 `Status` for the
/// node's SAE ID) and the prefetch buffer in front of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KmeStock {
    /// Whether the last Status poll succeeded.
    pub reachable: bool,
    /// `stored_key_count` of the last poll.
    pub stored_key_count: Option<u64>,
    /// `max_key_count` of the last poll.
    pub max_key_count: Option<u64>,
    /// When it was last polled (successfully or not).
    pub polled_at: Option<SystemTime>,
    /// The last poll error.
    pub last_error: Option<String>,
    /// Keys in the prefetch buffer (`PrefetchStats::level`).
    pub prefetched: u64,
    /// Failed refills in a row (`PrefetchStats::consecutive_failures`).
    pub prefetch_failures: u32,
    /// Net drain of `stored_key_count`, keys/s (negative: it grows).
    pub drain_per_second: Option<f64>,
    /// Since when QKD keys have been available without interruption.
    pub available_since: Option<SystemTime>,
    last_sample: Option<(SystemTime, u64)>,
}

impl KmeStock {
    /// A successful Status poll.
    pub fn on_status(&mut self, stored_key_count: u64, max_key_count: u64, now: SystemTime) {
        if let Some((t, prev)) = self.last_sample
            && let Ok(dt) = now.duration_since(t)
            && dt.as_secs_f64() > 0.0
        {
            let rate = (prev as f64 - stored_key_count as f64) / dt.as_secs_f64();
            self.drain_per_second = Some(match self.drain_per_second {
                Some(old) => DRAIN_EWMA_WEIGHT * rate + (1.0 - DRAIN_EWMA_WEIGHT) * old,
                None => rate,
            });
        }
        self.last_sample = Some((now, stored_key_count));
        self.reachable = true;
        self.stored_key_count = Some(stored_key_count);
        self.max_key_count = Some(max_key_count);
        self.polled_at = Some(now);
        self.last_error = None;
        self.update_availability(now);
    }

    /// A failed Status poll (KME unreachable or refusing).
    pub fn on_status_error(&mut self, why: impl Into<String>, now: SystemTime) {
        self.reachable = false;
        self.polled_at = Some(now);
        self.last_error = Some(why.into());
        self.update_availability(now);
    }

    /// The prefetch buffer's state (`PrefetchStats { level, consecutive_failures, .. }`).
    pub fn on_prefetch(&mut self, level: u64, consecutive_failures: u32, now: SystemTime) {
        self.prefetched = level;
        self.prefetch_failures = consecutive_failures;
        self.update_availability(now);
    }

    fn update_availability(&mut self, now: SystemTime) {
        if self.qkd_available() {
            self.available_since.get_or_insert(now);
        } else {
            self.available_since = None;
        }
    }

    /// Whether a QKD key can be had now: one is prefetched, or the KME
    /// answers and holds some.
    pub fn qkd_available(&self) -> bool {
        self.prefetched > 0 || (self.reachable && self.stored_key_count.is_some_and(|n| n > 0))
    }

    /// Keys left (stored at the KME plus prefetched), when known.
    pub fn keys_left(&self) -> Option<u64> {
        self.stored_key_count.map(|n| n.saturating_add(self.prefetched))
    }

    /// When the stock runs out at the current net drain rate (None: not
    /// draining, or not known).
    pub fn time_to_empty(&self) -> Option<Duration> {
        let left = self.keys_left()?;
        let drain = self.drain_per_second?;
        if drain <= 1e-9 {
            return None;
        }
        Some(Duration::from_secs_f64((left as f64 / drain).min(1e9)))
    }
}

/// How early a scheduled rekey may start. The monitor is evaluated on a
/// ticker (every second in the xApp); without slack a rekey that started a
/// few milliseconds after one tick is not due at the tick one period later,
/// and a 1 s period became a rekey every 2 s (measured by the rekey_scale
/// example).
pub const SCHEDULE_SLACK: Duration = Duration::from_millis(250);

/// When the schedule of the next rekey starts: the start of the last
/// successful rekey (its completion minus its latency), else the time the
/// current key was installed.
/// Most of a rekey period a link's schedule is advanced by [`schedule_jitter`].
pub const SCHEDULE_JITTER_FRACTION: f64 = 0.05;

/// A per-link advance of the schedule, 0 to 5 % of the period, fixed per
/// node id (a hash of it). Links set up together (a RIC restart, a site
/// coming back) would otherwise rekey in lockstep, every period, each time
/// a burst of KME requests, signatures and SA installs at once; with the
/// advance their phases drift apart cycle by cycle. Advancing (never
/// delaying) keeps the policy's period an upper bound.
pub fn schedule_jitter(node: &str, period: Duration) -> Duration {
    let mut h = node.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    // murmur3's finaliser: FNV's low bits barely differ between similar ids
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    let unit = (h >> 11) as f64 / (1u64 << 53) as f64;
    period.mul_f64(SCHEDULE_JITTER_FRACTION * unit)
}

fn scheduled_from(link: &LinkObservation) -> Option<SystemTime> {
    match link.last_rekey_ok {
        Some(done) => Some(done.checked_sub(link.latency.last().unwrap_or_default()).unwrap_or(done)),
        None => link.installed_at,
    }
}

/// Why a rekey is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RekeyReason {
    /// The link is unprotected: the first (bootstrap) rekey.
    Bootstrap,
    /// The rekey period elapsed.
    Scheduled,
    /// The key is older than the maximum age.
    MaxAge,
    /// The bytes under the SA reached [`REKEY_AT_FRACTION`] of the maximum.
    MaxBytes,
    /// The packets under the SA reached [`REKEY_AT_FRACTION`] of the maximum.
    MaxPackets,
    /// A degraded or isolated link's missing source is back.
    Recovery,
}

/// A source of key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// QKD (the KME has no key for the link, or does not answer).
    Qkd,
    /// ML-KEM (no verified unused KEM key of the node).
    Pqc,
    /// Neither (mode `either`).
    Any,
}

/// Alarm (and violation) kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlarmKind {
    /// Key older than the maximum age.
    KeyAge,
    /// Bytes under one key over the maximum.
    SaBytes,
    /// Packets under one key over the maximum.
    SaPackets,
    /// KME stock below the minimum.
    KmeStockLow,
    /// KME time-to-empty below the alarm threshold.
    TimeToEmpty,
    /// Unprotected past the deadline after E2 Setup.
    UnprotectedPastDeadline,
    /// A source the policy's mode requires is unavailable.
    SourceUnavailable,
    /// Rekeys keep failing.
    RekeyFailing,
    /// The link is degraded (ML-KEM only).
    LinkDegraded,
    /// The link is isolated.
    LinkIsolated,
}

impl AlarmKind {
    /// Every kind.
    pub const ALL: [AlarmKind; 10] = [
        AlarmKind::KeyAge,
        AlarmKind::SaBytes,
        AlarmKind::SaPackets,
        AlarmKind::KmeStockLow,
        AlarmKind::TimeToEmpty,
        AlarmKind::UnprotectedPastDeadline,
        AlarmKind::SourceUnavailable,
        AlarmKind::RekeyFailing,
        AlarmKind::LinkDegraded,
        AlarmKind::LinkIsolated,
    ];

    /// The kebab-case name (metric label).
    pub const fn as_str(self) -> &'static str {
        match self {
            AlarmKind::KeyAge => "key-age",
            AlarmKind::SaBytes => "sa-bytes",
            AlarmKind::SaPackets => "sa-packets",
            AlarmKind::KmeStockLow => "kme-stock-low",
            AlarmKind::TimeToEmpty => "time-to-empty",
            AlarmKind::UnprotectedPastDeadline => "unprotected-past-deadline",
            AlarmKind::SourceUnavailable => "source-unavailable",
            AlarmKind::RekeyFailing => "rekey-failing",
            AlarmKind::LinkDegraded => "link-degraded",
            AlarmKind::LinkIsolated => "link-isolated",
        }
    }

    /// The severity of its alarm.
    pub const fn severity(self) -> Severity {
        match self {
            AlarmKind::KmeStockLow | AlarmKind::TimeToEmpty => Severity::Warning,
            AlarmKind::KeyAge
            | AlarmKind::SaBytes
            | AlarmKind::SaPackets
            | AlarmKind::RekeyFailing
            | AlarmKind::LinkDegraded
            | AlarmKind::SourceUnavailable => Severity::Major,
            AlarmKind::UnprotectedPastDeadline | AlarmKind::LinkIsolated => Severity::Critical,
        }
    }
}

impl fmt::Display for AlarmKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy violation found by [`evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Violation {
    /// The key is older than `maxKeyAgeSeconds`.
    KeyAge {
        /// Its age.
        #[serde(rename = "ageSeconds", with = "secs")]
        age: Duration,
        /// The maximum.
        #[serde(rename = "maxSeconds", with = "secs")]
        max: Duration,
    },
    /// More bytes than `maxBytesPerKey` under the SA pair.
    SaBytes {
        /// Bytes.
        bytes: u64,
        /// The maximum.
        max: u64,
    },
    /// More packets than `maxPacketsPerKey` under the SA pair.
    SaPackets {
        /// Packets.
        packets: u64,
        /// The maximum.
        max: u64,
    },
    /// The KME holds fewer keys for the link than `minKmeStock`.
    KmeStockLow {
        /// Keys left (stored + prefetched).
        keys: u64,
        /// The minimum.
        min: u64,
    },
    /// The KME stock runs out sooner than `timeToEmptyAlarmSeconds`.
    TimeToEmpty {
        /// The estimate.
        #[serde(rename = "timeToEmptySeconds", with = "secs")]
        time_to_empty: Duration,
        /// The threshold.
        #[serde(rename = "alarmSeconds", with = "secs")]
        alarm: Duration,
    },
    /// Still unprotected `isolateDeadlineSeconds` after E2 Setup.
    UnprotectedPastDeadline {
        /// Since the setup.
        #[serde(rename = "unprotectedSeconds", with = "secs")]
        unprotected_for: Duration,
        /// The deadline.
        #[serde(rename = "deadlineSeconds", with = "secs")]
        deadline: Duration,
    },
    /// A source the mode requires is unavailable.
    SourceUnavailable {
        /// Which.
        source: Source,
        /// The mode.
        mode: Mode,
    },
    /// `maxRekeyFailures` or more rekeys failed in a row.
    RekeyFailing {
        /// Failures in a row.
        consecutive: u32,
        /// The maximum.
        max: u32,
    },
}

impl Violation {
    /// Its alarm kind.
    pub fn kind(&self) -> AlarmKind {
        match self {
            Violation::KeyAge { .. } => AlarmKind::KeyAge,
            Violation::SaBytes { .. } => AlarmKind::SaBytes,
            Violation::SaPackets { .. } => AlarmKind::SaPackets,
            Violation::KmeStockLow { .. } => AlarmKind::KmeStockLow,
            Violation::TimeToEmpty { .. } => AlarmKind::TimeToEmpty,
            Violation::UnprotectedPastDeadline { .. } => AlarmKind::UnprotectedPastDeadline,
            Violation::SourceUnavailable { .. } => AlarmKind::SourceUnavailable,
            Violation::RekeyFailing { .. } => AlarmKind::RekeyFailing,
        }
    }

    /// Whether it calls for the policy's on-violation action by itself:
    /// the key is stale, the node stayed unprotected, rekeys keep failing.
    /// (Low stock and time-to-empty are early warnings: alarm only. A
    /// missing source acts when a rekey is due.)
    pub fn is_hard(&self) -> bool {
        matches!(
            self,
            Violation::KeyAge { .. }
                | Violation::SaBytes { .. }
                | Violation::SaPackets { .. }
                | Violation::UnprotectedPastDeadline { .. }
                | Violation::RekeyFailing { .. }
        )
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::KeyAge { age, max } => {
                write!(f, "key age {:.1} s exceeds the maximum {:.1} s", age.as_secs_f64(), max.as_secs_f64())
            }
            Violation::SaBytes { bytes, max } => write!(f, "{bytes} bytes under one key exceed the maximum {max}"),
            Violation::SaPackets { packets, max } => {
                write!(f, "{packets} packets under one key exceed the maximum {max}")
            }
            Violation::KmeStockLow { keys, min } => write!(f, "KME stock {keys} keys is below the minimum {min}"),
            Violation::TimeToEmpty { time_to_empty, alarm } => write!(
                f,
                "KME stock runs out in {:.0} s (alarm below {:.0} s)",
                time_to_empty.as_secs_f64(),
                alarm.as_secs_f64()
            ),
            Violation::UnprotectedPastDeadline { unprotected_for, deadline } => write!(
                f,
                "unprotected {:.1} s after E2 Setup (deadline {:.1} s)",
                unprotected_for.as_secs_f64(),
                deadline.as_secs_f64()
            ),
            Violation::SourceUnavailable { source, mode } => {
                let what = match source {
                    Source::Qkd => "no QKD key available",
                    Source::Pqc => "no verified ML-KEM key of the node available",
                    Source::Any => "neither a QKD nor an ML-KEM key available",
                };
                write!(f, "{what}; mode {mode} requires it")
            }
            Violation::RekeyFailing { consecutive, max } => {
                write!(f, "{consecutive} rekeys failed in a row (maximum {max})")
            }
        }
    }
}

/// What enforcement asks the link driver to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Enforcement {
    /// Rekey in this mode.
    Rekey {
        /// The mode.
        mode: Mode,
    },
    /// Rekey in `at-least-pqc` (ML-KEM only when no QKD key); the link
    /// becomes Degraded (alarm).
    Degrade {
        /// Always `at-least-pqc`.
        mode: Mode,
    },
    /// ISOLATE: remove the SAs while ESP stays required; stop RIC Control.
    Isolate,
    /// Back to the policy's mode: for a degraded link a rekey in `mode`;
    /// for an isolated one release ESP (ReleaseEsp) so the node reconnects
    /// and is re-protected by a bootstrap rekey in `mode`.
    Recover {
        /// The policy's mode.
        mode: Mode,
    },
}

/// Why an action was held back this time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "waiting", rename_all = "kebab-case")]
pub enum Waiting {
    /// A rekey or recovery of the link is outstanding.
    InProgress,
    /// Retry back-off after failed rekeys.
    Backoff {
        /// Seconds left.
        #[serde(rename = "seconds", with = "secs")]
        left: Duration,
    },
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    /// Whether the policy's scope covers the link (false: nothing else set).
    pub in_scope: bool,
    /// Why a rekey is due, if one is.
    pub due: Option<RekeyReason>,
    /// How far past its scheduled time (last rekey + period, or E2 Setup
    /// for an unprotected link) the rekey is.
    #[serde(rename = "latenessSeconds", with = "secs")]
    pub lateness: Duration,
    /// Policy violations now.
    pub violations: Vec<Violation>,
    /// What to do now.
    pub action: Option<Enforcement>,
    /// Why an action was held back (then `action` is None).
    pub waiting: Option<Waiting>,
}

/// The retry delay after `failures` consecutive failures.
pub fn retry_backoff(failures: u32, period: Duration) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let d = RETRY_BACKOFF_BASE.saturating_mul(1u32 << (failures - 1).min(16));
    d.min(RETRY_BACKOFF_MAX).min(period)
}

fn over_fraction(value: u64, max: u64) -> bool {
    value as f64 >= REKEY_AT_FRACTION * max as f64
}

/// Decides for one link (pure). See the decision table in
/// `docs/key-freshness.md`.
pub fn evaluate(policy: &FreshnessPolicy, link: &LinkObservation, stock: &KmeStock, now: SystemTime) -> Verdict {
    if !policy.scope.contains(&link.node) {
        return Verdict::default();
    }
    let mut v = Verdict { in_scope: true, ..Verdict::default() };
    let qkd = stock.qkd_available();
    let pqc = link.pqc_available;
    let mode = policy.mode;

    // Sources the policy's mode needs.
    if mode.requires_qkd() && !qkd {
        v.violations.push(Violation::SourceUnavailable { source: Source::Qkd, mode });
    }
    if mode.requires_pqc() && !pqc {
        v.violations.push(Violation::SourceUnavailable { source: Source::Pqc, mode });
    }
    if mode == Mode::Either && !qkd && !pqc {
        v.violations.push(Violation::SourceUnavailable { source: Source::Any, mode });
    }
    // KME stock (early warnings).
    if let Some(keys) = stock.keys_left()
        && keys < policy.min_kme_stock
    {
        v.violations.push(Violation::KmeStockLow { keys, min: policy.min_kme_stock });
    }
    if let Some(tte) = stock.time_to_empty()
        && tte < policy.time_to_empty_alarm
    {
        v.violations.push(Violation::TimeToEmpty { time_to_empty: tte, alarm: policy.time_to_empty_alarm });
    }

    match link.state {
        LinkState::Protected | LinkState::Degraded => {
            let age = link.key_age(now).unwrap_or_default();
            let born = link.last_rekey_ok.or(link.installed_at);
            if let Some(born) = born {
                v.lateness = since(born + policy.rekey_period, now);
            }
            let c = link.sa_counters();
            if age > policy.max_key_age {
                v.violations.push(Violation::KeyAge { age, max: policy.max_key_age });
            }
            if c.bytes > policy.max_bytes_per_key {
                v.violations.push(Violation::SaBytes { bytes: c.bytes, max: policy.max_bytes_per_key });
            }
            if let Some(max) = policy.max_packets_per_key
                && c.packets > max
            {
                v.violations.push(Violation::SaPackets { packets: c.packets, max });
            }
            v.due = if over_fraction(c.bytes, policy.max_bytes_per_key) {
                Some(RekeyReason::MaxBytes)
            } else if policy.max_packets_per_key.is_some_and(|max| over_fraction(c.packets, max)) {
                Some(RekeyReason::MaxPackets)
            } else if age > policy.max_key_age {
                Some(RekeyReason::MaxAge)
            } else if scheduled_from(link).is_none_or(|b| {
                now + SCHEDULE_SLACK >= b + policy.rekey_period - schedule_jitter(&link.node, policy.rekey_period)
            }) {
                Some(RekeyReason::Scheduled)
            } else {
                None
            };
        }
        LinkState::Unprotected if link.connected => {
            v.due = Some(RekeyReason::Bootstrap);
            if let Some(setup) = link.setup_at {
                let unprotected_for = since(setup, now);
                v.lateness = unprotected_for;
                if unprotected_for > policy.isolate_deadline {
                    v.violations.push(Violation::UnprotectedPastDeadline {
                        unprotected_for,
                        deadline: policy.isolate_deadline,
                    });
                }
            }
        }
        LinkState::Unprotected | LinkState::Isolated => {}
    }
    if link.state != LinkState::Isolated && link.consecutive_failures >= policy.max_rekey_failures {
        v.violations
            .push(Violation::RekeyFailing { consecutive: link.consecutive_failures, max: policy.max_rekey_failures });
    }

    // Has a missing source been back long enough to recover?
    let held = |ok: bool| {
        ok && policy.recovery == Recovery::Auto
            && (!mode.requires_qkd() || stock.available_since.is_some_and(|t| since(t, now) >= policy.recovery_hold))
    };
    let action = match link.state {
        LinkState::Isolated => {
            // The node's KEM key arrives with its next E2 Setup: only QKD counts here.
            let isolated_long_enough = link.state_since.is_none_or(|t| since(t, now) >= policy.recovery_hold);
            (held(mode.select(qkd, true).is_ok()) && isolated_long_enough).then_some(Enforcement::Recover { mode })
        }
        LinkState::Degraded if held(mode.select(qkd, pqc).is_ok()) => {
            v.due = Some(RekeyReason::Recovery);
            Some(Enforcement::Recover { mode })
        }
        LinkState::Unprotected if !link.connected => None,
        state => decide(policy, state, &v, qkd, pqc),
    };

    v.action = match action {
        Some(a @ (Enforcement::Rekey { .. } | Enforcement::Degrade { .. } | Enforcement::Recover { .. })) => {
            let left = link
                .last_attempt
                .map(|t| retry_backoff(link.consecutive_failures, policy.rekey_period).saturating_sub(since(t, now)))
                .unwrap_or_default();
            if link.rekey_in_progress || link.recovering {
                v.waiting = Some(Waiting::InProgress);
                None
            } else if !left.is_zero() {
                v.waiting = Some(Waiting::Backoff { left });
                None
            } else {
                Some(a)
            }
        }
        Some(Enforcement::Isolate) if link.isolating => {
            v.waiting = Some(Waiting::InProgress);
            None
        }
        other => other,
    };
    v
}

/// The on-violation part of the decision table (state: unprotected and
/// connected, protected or degraded).
fn decide(policy: &FreshnessPolicy, state: LinkState, v: &Verdict, qkd: bool, pqc: bool) -> Option<Enforcement> {
    let degrade = Enforcement::Degrade { mode: Mode::AtLeastPqc };
    let pqc_ok = Mode::AtLeastPqc.select(qkd, pqc).is_ok();
    // A degraded link under a degrade policy rotates in at-least-pqc.
    let target = if state == LinkState::Degraded && policy.on_violation == OnViolation::Degrade {
        Mode::AtLeastPqc
    } else {
        policy.mode
    };
    let target_ok = target.select(qkd, pqc).is_ok();
    let hard = v.violations.iter().any(Violation::is_hard);
    let failing = v.violations.iter().any(|x| matches!(x, Violation::RekeyFailing { .. }));
    if !hard {
        return match (v.due, target_ok) {
            (None, _) => None,
            (Some(_), true) => Some(Enforcement::Rekey { mode: target }),
            // Due, but a source the mode needs is missing.
            (Some(_), false) => match policy.on_violation {
                OnViolation::Rekey => Some(Enforcement::Rekey { mode: policy.mode }),
                OnViolation::Degrade if pqc_ok => Some(degrade),
                // Nothing can rekey yet; the current key is still within its limits.
                OnViolation::Degrade => None,
                OnViolation::Isolate => Some(Enforcement::Isolate),
            },
        };
    }
    match policy.on_violation {
        OnViolation::Rekey => Some(Enforcement::Rekey { mode: policy.mode }),
        OnViolation::Degrade if target_ok && !failing => Some(Enforcement::Rekey { mode: target }),
        OnViolation::Degrade if pqc_ok && state == LinkState::Degraded => {
            Some(Enforcement::Rekey { mode: Mode::AtLeastPqc })
        }
        OnViolation::Degrade if pqc_ok => Some(degrade),
        // Neither mode can rekey and the key is past its limits: fail closed.
        OnViolation::Degrade | OnViolation::Isolate => Some(Enforcement::Isolate),
    }
}

/// Alarm severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Trouble ahead.
    Warning,
    /// Freshness or protection below policy.
    Major,
    /// The link is unprotected or cut off.
    Critical,
}

impl Severity {
    /// The kebab-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Major => "major",
            Severity::Critical => "critical",
        }
    }
}

/// A structured alarm event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alarm {
    /// The E2 node.
    pub node: String,
    /// What.
    pub kind: AlarmKind,
    /// How bad.
    pub severity: Severity,
    /// The latest description (updated while active, without a new event).
    pub message: String,
    /// When raised.
    #[serde(serialize_with = "unix")]
    pub raised_at: SystemTime,
    /// When cleared (None while active).
    #[serde(serialize_with = "unix_opt")]
    pub cleared_at: Option<SystemTime>,
}

/// Raise or clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlarmEdge {
    /// The condition started.
    Raised,
    /// The condition ended.
    Cleared,
}

/// An alarm edge.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmEvent {
    /// Raised or cleared.
    pub edge: AlarmEdge,
    /// The alarm (with `cleared_at` set on a clear).
    pub alarm: Alarm,
}

/// The active alarms, keyed by (node, kind).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlarmBook {
    active: BTreeMap<(String, AlarmKind), Alarm>,
}

impl AlarmBook {
    /// Sets `node`'s current conditions: raises those that are new, clears
    /// those that ended, updates the message of those that persist.
    pub fn sync(&mut self, node: &str, conditions: &[(AlarmKind, String)], now: SystemTime) -> Vec<AlarmEvent> {
        let mut events = Vec::new();
        let ended: Vec<AlarmKind> = self
            .active
            .keys()
            .filter(|(n, k)| n == node && !conditions.iter().any(|(c, _)| c == k))
            .map(|(_, k)| *k)
            .collect();
        for kind in ended {
            if let Some(mut alarm) = self.active.remove(&(node.to_string(), kind)) {
                alarm.cleared_at = Some(now);
                events.push(AlarmEvent { edge: AlarmEdge::Cleared, alarm });
            }
        }
        for (kind, message) in conditions {
            match self.active.get_mut(&(node.to_string(), *kind)) {
                Some(alarm) => alarm.message.clone_from(message),
                None => {
                    let alarm = Alarm {
                        node: node.to_string(),
                        kind: *kind,
                        severity: kind.severity(),
                        message: message.clone(),
                        raised_at: now,
                        cleared_at: None,
                    };
                    self.active.insert((node.to_string(), *kind), alarm.clone());
                    events.push(AlarmEvent { edge: AlarmEdge::Raised, alarm });
                }
            }
        }
        events
    }

    /// Clears every alarm of `node` (the link went away).
    pub fn clear_node(&mut self, node: &str, now: SystemTime) -> Vec<AlarmEvent> {
        self.sync(node, &[], now)
    }

    /// The active alarms, by node then kind.
    pub fn active(&self) -> impl Iterator<Item = &Alarm> {
        self.active.values()
    }

    /// Active alarms per kind.
    pub fn active_counts(&self) -> BTreeMap<AlarmKind, u64> {
        let mut m = BTreeMap::new();
        for (_, k) in self.active.keys() {
            *m.entry(*k).or_insert(0) += 1;
        }
        m
    }
}

/// The alarm conditions of a link: its violations and its state.
pub fn alarm_conditions(link: &LinkObservation, verdict: &Verdict) -> Vec<(AlarmKind, String)> {
    let mut c: Vec<(AlarmKind, String)> = Vec::new();
    for v in &verdict.violations {
        let kind = v.kind();
        match c.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, m)) => {
                m.push_str("; ");
                m.push_str(&v.to_string());
            }
            None => c.push((kind, v.to_string())),
        }
    }
    match link.state {
        LinkState::Degraded => c.push((AlarmKind::LinkDegraded, "link keyed from ML-KEM only (degraded)".into())),
        LinkState::Isolated => {
            c.push((AlarmKind::LinkIsolated, "link isolated: SAs removed, ESP required, E2 traffic stopped".into()))
        }
        _ => {}
    }
    c
}

fn log_alarm(e: &AlarmEvent) {
    let a = &e.alarm;
    match (e.edge, a.severity) {
        (AlarmEdge::Raised, Severity::Critical) => {
            tracing::error!(node = %a.node, kind = %a.kind, severity = a.severity.as_str(), "alarm raised: {}", a.message)
        }
        (AlarmEdge::Raised, _) => {
            tracing::warn!(node = %a.node, kind = %a.kind, severity = a.severity.as_str(), "alarm raised: {}", a.message)
        }
        (AlarmEdge::Cleared, _) => {
            tracing::info!(node = %a.node, kind = %a.kind, severity = a.severity.as_str(), "alarm cleared")
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Link {
    obs: LinkObservation,
    stock: KmeStock,
    verdict: Verdict,
}

/// What one [`KeyFreshness::tick`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tick {
    /// Every link's verdict, by node.
    pub verdicts: Vec<(String, Verdict)>,
    /// Alarm edges (already logged).
    pub alarms: Vec<AlarmEvent>,
}

impl Tick {
    /// The actions to carry out, by node.
    pub fn actions(&self) -> impl Iterator<Item = (&str, Enforcement)> {
        self.verdicts.iter().filter_map(|(n, v)| v.action.map(|a| (n.as_str(), a)))
    }
}

/// The monitor of every link: observations, KME stock, the policy, alarms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyFreshness {
    policies: PolicySet,
    links: BTreeMap<String, Link>,
    alarms: AlarmBook,
}

impl KeyFreshness {
    /// With this policy (validated by the caller).
    pub fn new(policy: FreshnessPolicy) -> Self {
        Self { policies: PolicySet::new(policy), links: BTreeMap::new(), alarms: AlarmBook::default() }
    }

    /// The base (configured) policy: what governs a node no A1 policy names.
    pub fn policy(&self) -> &FreshnessPolicy {
        self.policies.base()
    }

    /// The policy governing `node` (an A1 policy naming it, else the base).
    pub fn policy_for(&self, node: &str) -> &FreshnessPolicy {
        self.policies.for_node(node).0
    }

    /// Every policy in force.
    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// Replaces the base policy; it applies from the next tick.
    pub fn set_policy(&mut self, policy: FreshnessPolicy) -> Result<(), crate::policy::PolicyError> {
        self.policies.set_base(policy)
    }

    /// Creates or replaces the A1 policy `id`; it applies from the next tick.
    /// Refused (nothing changes) when invalid.
    pub fn upsert_a1_policy(&mut self, id: &str, policy: FreshnessPolicy) -> Result<(), crate::policy::PolicyError> {
        self.policies.upsert(id, policy)
    }

    /// Deletes the A1 policy `id` (its nodes fall back to the next policy); whether it existed.
    pub fn remove_a1_policy(&mut self, id: &str) -> bool {
        self.policies.remove(id)
    }

    /// What is really enforced for the A1 policy `id` (`None`: no such policy). Per node in
    /// scope: known (its E2 link is up or was seen), governed by this policy (no later policy
    /// names it), and keyed under it (not unprotected: protected, degraded or isolated as the
    /// policy's action demands). `ENFORCED` when every node in scope is; for scope `all`, every
    /// known node it governs (vacuously with none, with a reason saying so).
    pub fn a1_enforcement(&self, id: &str) -> Option<A1Enforcement> {
        let policy = self.policies.get(id)?;
        let names: Vec<String> = match &policy.scope {
            crate::policy::Scope::All => self.links.keys().cloned().collect(),
            crate::policy::Scope::Nodes(n) => n.clone(),
        };
        let mut nodes = Vec::new();
        for node in names {
            let governing = self.policies.for_node(&node).1;
            let link = self.links.get(&node);
            let (enforced, reason) = match link {
                None => (false, Some("unknown-node".to_string())),
                Some(_) if governing != Some(id) => {
                    (false, Some(format!("superseded-by:{}", governing.unwrap_or("base"))))
                }
                Some(l) if l.obs.state == LinkState::Unprotected => (false, Some("not-keyed".to_string())),
                Some(_) => (true, None),
            };
            if matches!(policy.scope, crate::policy::Scope::All) && governing != Some(id) {
                continue; // a narrower, later policy governs it: not this one's business
            }
            nodes.push(A1NodeEnforcement {
                node,
                enforced,
                reason,
                state: link.map(|l| l.obs.state),
                key_source: link.and_then(|l| l.obs.key_source),
                epoch: link.map_or(0, |l| l.obs.epoch),
            });
        }
        let not: Vec<&A1NodeEnforcement> = nodes.iter().filter(|n| !n.enforced).collect();
        let (enforce_status, enforce_reason) = if nodes.is_empty() {
            ("ENFORCED", Some("no E2 node in scope is connected yet".to_string()))
        } else if not.is_empty() {
            ("ENFORCED", None)
        } else {
            let mut why: Vec<String> =
                not.iter().map(|n| format!("{}: {}", n.node, n.reason.as_deref().unwrap_or("?"))).collect();
            why.sort();
            ("NOT_ENFORCED", Some(why.join("; ")))
        };
        Some(A1Enforcement { enforce_status, enforce_reason, nodes })
    }

    /// The link of `node`, created when new.
    pub fn link_mut(&mut self, node: &str) -> &mut LinkObservation {
        &mut self.entry(node).obs
    }

    /// The KME stock of `node`'s link, created when new.
    pub fn stock_mut(&mut self, node: &str) -> &mut KmeStock {
        &mut self.entry(node).stock
    }

    fn entry(&mut self, node: &str) -> &mut Link {
        self.links.entry(node.to_string()).or_insert_with(|| Link {
            obs: LinkObservation::new(node),
            stock: KmeStock::default(),
            verdict: Verdict::default(),
        })
    }

    /// The link of `node`.
    pub fn link(&self, node: &str) -> Option<&LinkObservation> {
        self.links.get(node).map(|l| &l.obs)
    }

    /// The KME stock of `node`'s link.
    pub fn stock(&self, node: &str) -> Option<&KmeStock> {
        self.links.get(node).map(|l| &l.stock)
    }

    /// The last verdict of `node`'s link.
    pub fn verdict(&self, node: &str) -> Option<&Verdict> {
        self.links.get(node).map(|l| &l.verdict)
    }

    /// The nodes known.
    pub fn nodes(&self) -> impl Iterator<Item = &str> {
        self.links.keys().map(String::as_str)
    }

    /// Forgets a link (the node is gone for good); its alarms clear.
    pub fn remove_link(&mut self, node: &str, now: SystemTime) -> Vec<AlarmEvent> {
        self.links.remove(node);
        let events = self.alarms.clear_node(node, now);
        events.iter().for_each(log_alarm);
        events
    }

    /// Evaluates every link, updates the alarms (logging the edges).
    pub fn tick(&mut self, now: SystemTime) -> Tick {
        let mut tick = Tick::default();
        for (node, link) in &mut self.links {
            link.verdict = evaluate(self.policies.for_node(node).0, &link.obs, &link.stock, now);
            let conditions =
                if link.verdict.in_scope { alarm_conditions(&link.obs, &link.verdict) } else { Vec::new() };
            let events = self.alarms.sync(node, &conditions, now);
            events.iter().for_each(log_alarm);
            tick.alarms.extend(events);
            tick.verdicts.push((node.clone(), link.verdict.clone()));
        }
        tick
    }

    /// The active alarms.
    pub fn alarms(&self) -> &AlarmBook {
        &self.alarms
    }

    /// The status view of one link (with its last verdict).
    pub fn link_status(&self, node: &str, now: SystemTime) -> Option<LinkStatus> {
        self.links.get(node).map(|l| LinkStatus::new(self.policies.for_node(node), l, now))
    }

    /// The whole status view.
    pub fn status(&self, now: SystemTime) -> StatusReport {
        StatusReport {
            generated_at: now,
            policy: self.policies.base().clone(),
            a1_policies: self.policies.a1_policies().map(|(id, _)| id.to_string()).collect(),
            links: self.links.iter().map(|(node, l)| LinkStatus::new(self.policies.for_node(node), l, now)).collect(),
            alarms: self.alarms.active().cloned().collect(),
        }
    }
}

fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

fn unix<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(unix_secs(*t))
}

fn unix_opt<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_some(&unix_secs(*t)),
        None => s.serialize_none(),
    }
}

/// The SA counters in the status view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SaView {
    /// Bytes (the larger of the two counts).
    pub bytes: u64,
    /// Packets (the larger of the two counts).
    pub packets: u64,
    /// The RIC kernel's count.
    pub ric: SaCounters,
    /// The node's count (its last REPORT).
    pub node: Option<SaCounters>,
}

/// The KME stock in the status view.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KmeView {
    /// Whether QKD keys can be had.
    pub qkd_available: bool,
    /// Whether the last Status poll succeeded.
    pub reachable: bool,
    /// `stored_key_count`.
    pub stored_keys: Option<u64>,
    /// `max_key_count`.
    pub max_keys: Option<u64>,
    /// Keys in the prefetch buffer.
    pub prefetched: u64,
    /// Refills failed in a row.
    pub prefetch_failures: u32,
    /// Net drain, keys/s.
    pub drain_keys_per_second: Option<f64>,
    /// Time to empty, s.
    pub time_to_empty_seconds: Option<f64>,
    /// Last poll (Unix s).
    pub polled_at: Option<f64>,
    /// Last poll error.
    pub last_error: Option<String>,
    /// The node KME's stored keys (node REPORT).
    pub node_stored_keys: Option<u32>,
}

/// One link in the status view.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkStatus {
    /// The E2 node id.
    pub node: String,
    /// Whether the policy applies to it.
    pub in_scope: bool,
    /// The A1 policy governing it (absent: the configured policy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// Whether its association is up.
    pub connected: bool,
    /// Security state.
    pub state: LinkState,
    /// Since when (Unix s).
    pub state_since: Option<f64>,
    /// Current epoch.
    pub epoch: u32,
    /// Mode of the current keys' rekey.
    pub mode: Option<Mode>,
    /// Sources of the current keys.
    pub key_source: Option<KeySource>,
    /// QKD key_ID of the current keys (UUID).
    pub key_id: Option<String>,
    /// When they were installed (Unix s).
    pub installed_at: Option<f64>,
    /// Key age, s.
    pub key_age_seconds: Option<f64>,
    /// Traffic under the current SA pair.
    pub sa: SaView,
    /// Last successful rekey (Unix s).
    pub last_rekey_at: Option<f64>,
    /// Seconds since then.
    pub seconds_since_rekey: Option<f64>,
    /// Seconds until the next scheduled rekey (0: due).
    pub next_rekey_in_seconds: Option<f64>,
    /// Seconds past the scheduled rekey.
    pub rekey_lateness_seconds: f64,
    /// Rekey latencies.
    pub rekey_latency: LatencySummary,
    /// Successful rekeys.
    pub rekeys_ok: u64,
    /// Failed rekeys.
    pub rekeys_failed: u64,
    /// Failed in a row.
    pub consecutive_failures: u32,
    /// Why the last one failed.
    pub last_failure: Option<String>,
    /// A rekey is outstanding.
    pub rekey_in_progress: bool,
    /// A verified ML-KEM key of the node is at hand.
    pub pqc_available: bool,
    /// KME stock.
    pub kme: KmeView,
    /// The last verdict.
    pub verdict: Verdict,
}

impl LinkStatus {
    fn new((policy, policy_id): (&FreshnessPolicy, Option<&str>), l: &Link, now: SystemTime) -> Self {
        let o = &l.obs;
        let s = &l.stock;
        let c = o.sa_counters();
        let next = o
            .last_rekey_ok
            .filter(|_| o.state.has_sa())
            .map(|t| (t + policy.rekey_period).duration_since(now).unwrap_or_default().as_secs_f64());
        Self {
            node: o.node.clone(),
            in_scope: policy.scope.contains(&o.node),
            policy_id: policy_id.map(str::to_string),
            connected: o.connected,
            state: o.state,
            state_since: o.state_since.map(unix_secs),
            epoch: o.epoch,
            mode: o.mode,
            key_source: o.key_source,
            key_id: o.key_id.map(|k| k.to_string()),
            installed_at: o.installed_at.map(unix_secs),
            key_age_seconds: o.key_age(now).map(|d| d.as_secs_f64()),
            sa: SaView { bytes: c.bytes, packets: c.packets, ric: o.ric_counters, node: o.node_counters },
            last_rekey_at: o.last_rekey_ok.map(unix_secs),
            seconds_since_rekey: o.since_rekey(now).map(|d| d.as_secs_f64()),
            next_rekey_in_seconds: next,
            rekey_lateness_seconds: l.verdict.lateness.as_secs_f64(),
            rekey_latency: o.latency.summary(),
            rekeys_ok: o.rekeys_ok,
            rekeys_failed: o.rekeys_failed,
            consecutive_failures: o.consecutive_failures,
            last_failure: o.last_failure.clone(),
            rekey_in_progress: o.rekey_in_progress,
            pqc_available: o.pqc_available,
            kme: KmeView {
                qkd_available: s.qkd_available(),
                reachable: s.reachable,
                stored_keys: s.stored_key_count,
                max_keys: s.max_key_count,
                prefetched: s.prefetched,
                prefetch_failures: s.prefetch_failures,
                drain_keys_per_second: s.drain_per_second,
                time_to_empty_seconds: s.time_to_empty().map(|d| d.as_secs_f64()),
                polled_at: s.polled_at.map(unix_secs),
                last_error: s.last_error.clone(),
                node_stored_keys: o.node_kme_stored_keys,
            },
            verdict: l.verdict.clone(),
        }
    }
}

/// What an A1 `qsafe-e2-key-freshness` policy really achieves: its A1 status
/// object (`descriptors/a1/qsafe-e2-key-freshness.status-schema.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct A1Enforcement {
    /// `ENFORCED` or `NOT_ENFORCED`.
    pub enforce_status: &'static str,
    /// Why not (or a note).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforce_reason: Option<String>,
    /// Per node in scope.
    pub nodes: Vec<A1NodeEnforcement>,
}

/// One node of an [`A1Enforcement`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct A1NodeEnforcement {
    /// E2 node id.
    pub node: String,
    /// Keyed under this policy.
    pub enforced: bool,
    /// Why not: `unknown-node`, `superseded-by:<id>`, `not-keyed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Link state (absent for an unknown node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<LinkState>,
    /// Key source of the SAs in use.
    pub key_source: Option<KeySource>,
    /// Epoch of the SAs in use.
    pub epoch: u32,
}

/// The JSON status: policy, every link, active alarms.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    /// When (Unix s).
    #[serde(serialize_with = "unix")]
    pub generated_at: SystemTime,
    /// The base (configured) policy.
    pub policy: FreshnessPolicy,
    /// The A1 policies in force (ids, oldest first; a later one takes precedence).
    pub a1_policies: Vec<String>,
    /// Every link, by node.
    pub links: Vec<LinkStatus>,
    /// Active alarms.
    pub alarms: Vec<Alarm>,
}

impl Default for StatusReport {
    fn default() -> Self {
        Self {
            generated_at: UNIX_EPOCH,
            policy: FreshnessPolicy::default(),
            a1_policies: Vec::new(),
            links: Vec::new(),
            alarms: Vec::new(),
        }
    }
}

impl StatusReport {
    /// The link of `node`.
    pub fn link(&self, node: &str) -> Option<&LinkStatus> {
        self.links.iter().find(|l| l.node == node)
    }
}
