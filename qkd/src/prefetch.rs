//! A buffer of ready keys for one (master, slave) SAE pair, refilled in the background.
//!
//! Why: an E2 link rekey must not wait for a KME round trip (tens of ms over mutual TLS, far
//! more when the KME is busy or the quantum link is down). The master keeps a few keys in
//! hand and tops them up ahead of need, in batches, so one `enc_keys` call serves many rekeys.
//!
//! The decision *when* to fetch and how many is [`RefillMachine`], a sans-IO state machine:
//! given the level, whether a fetch is in flight, and the time, it answers fetch / wait until /
//! idle. It is tested exhaustively without sockets or timers. The tokio task of
//! [`PrefetchBuffer`] is only the edge: it asks the machine, performs the fetch through a
//! [`KeySource`] (normally an [`Etsi014Client`] calling `enc_keys`), and reports the outcome.
//!
//! Refill rule: when the level drops below `low_water`, fetch batches of
//! `min(batch, capacity - level)` until the level reaches `capacity` (hysteresis, so a level
//! hovering at the mark does not cause one small fetch per key taken). After a failure the
//! machine waits `base_backoff × 2^(failures-1)` (capped at `max_backoff`); after a failure that
//! retrying cannot fix (400, 401, a KME ID mismatch, ...) it waits `max_backoff` straight away,
//! since an operator has to act. A short answer keeps the keys that came and counts as a
//! failure for backoff (the KME is low on key material). The client's own retries on 503 run
//! inside one fetch.
//!
//! Keys sit in the buffer as [`Key`]s (zeroizing); dropping or stopping the buffer zeroizes
//! what is left.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::api::{Key, KeyContainer, KeyRequest};
use crate::client::{ClientError, Etsi014Client};

/// Levels, batch size and backoff of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefillPolicy {
    /// Start refilling when fewer keys than this are ready (at least 1).
    pub low_water: usize,
    /// Refill up to this many keys (at least `low_water`).
    pub capacity: usize,
    /// Most keys per enc_keys call (at least 1; keep it within the KME's max_key_per_request).
    pub batch: u32,
    /// Key size in bits (`None`: the KME's default).
    pub key_size: Option<u32>,
    /// Wait after the first failed fetch; doubled for each further one.
    pub base_backoff: Duration,
    /// Cap on the wait, and the wait after a failure retrying cannot fix.
    pub max_backoff: Duration,
}

impl Default for RefillPolicy {
    /// Refill below 16 up to 64, 32 keys a call, default key size, 200 ms to 10 s backoff.
    fn default() -> Self {
        Self {
            low_water: 16,
            capacity: 64,
            batch: 32,
            key_size: None,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// A [`RefillPolicy`] that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// `low_water` is 0 (the buffer would never refill).
    #[error("low_water must be at least 1")]
    ZeroLowWater,
    /// `capacity < low_water`.
    #[error("capacity ({capacity}) must be at least low_water ({low_water})")]
    CapacityBelowLowWater {
        /// capacity.
        capacity: usize,
        /// low_water.
        low_water: usize,
    },
    /// `batch` is 0.
    #[error("batch must be at least 1")]
    ZeroBatch,
    /// `key_size` is not a positive multiple of 8.
    #[error("key_size must be a positive multiple of 8, got {0}")]
    KeySize(u32),
}

impl RefillPolicy {
    /// Checks the policy.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.low_water == 0 {
            return Err(PolicyError::ZeroLowWater);
        }
        if self.capacity < self.low_water {
            return Err(PolicyError::CapacityBelowLowWater { capacity: self.capacity, low_water: self.low_water });
        }
        if self.batch == 0 {
            return Err(PolicyError::ZeroBatch);
        }
        if let Some(size) = self.key_size.filter(|s| *s == 0 || s % 8 != 0) {
            return Err(PolicyError::KeySize(size));
        }
        Ok(())
    }

    fn backoff(&self, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// What the refill task should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Call enc_keys for this many keys, then report with [`RefillMachine::on_outcome`].
    Fetch {
        /// Keys to ask for.
        number: u32,
    },
    /// Backing off: ask again at this time (or when the level changes).
    WaitUntil(Instant),
    /// Nothing to do until the level changes or a fetch completes.
    Idle,
    /// Stopped: end the task.
    Stopped,
}

/// How a fetch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefillOutcome {
    /// All keys asked for arrived.
    Filled {
        /// Keys received.
        received: usize,
    },
    /// Fewer keys arrived than asked for (they were kept).
    Short {
        /// Keys received.
        received: usize,
        /// Keys asked for.
        requested: usize,
    },
    /// The fetch failed; `permanent` when retrying cannot fix it (400, 401, ID mismatch, ...).
    Failed {
        /// Whether the cause is one retrying cannot fix.
        permanent: bool,
    },
}

/// The refill decisions of one buffer, as pure state. See the module docs for the rule.
#[derive(Debug, Clone)]
pub struct RefillMachine {
    policy: RefillPolicy,
    /// Below low water and not yet back to capacity.
    filling: bool,
    inflight: Option<u32>,
    failures: u32,
    retry_at: Option<Instant>,
    stopped: bool,
}

impl RefillMachine {
    /// A machine for a valid policy.
    pub fn new(policy: RefillPolicy) -> Result<Self, PolicyError> {
        policy.validate()?;
        Ok(Self { policy, filling: false, inflight: None, failures: 0, retry_at: None, stopped: false })
    }

    /// The policy.
    pub fn policy(&self) -> &RefillPolicy {
        &self.policy
    }

    /// What to do, given `level` keys ready now. Returning `Fetch` marks a fetch in flight.
    pub fn poll(&mut self, level: usize, now: Instant) -> Decision {
        if self.stopped {
            return Decision::Stopped;
        }
        if self.inflight.is_some() {
            return Decision::Idle;
        }
        if level >= self.policy.capacity {
            self.filling = false;
            return Decision::Idle;
        }
        if level < self.policy.low_water {
            self.filling = true;
        }
        if !self.filling {
            return Decision::Idle;
        }
        if let Some(at) = self.retry_at {
            if now < at {
                return Decision::WaitUntil(at);
            }
            self.retry_at = None;
        }
        let room = self.policy.capacity - level;
        let number = u32::try_from(room).unwrap_or(u32::MAX).min(self.policy.batch);
        self.inflight = Some(number);
        Decision::Fetch { number }
    }

    /// Reports how the fetch in flight ended.
    pub fn on_outcome(&mut self, outcome: RefillOutcome, now: Instant) {
        self.inflight = None;
        match outcome {
            RefillOutcome::Filled { .. } => {
                self.failures = 0;
                self.retry_at = None;
            }
            RefillOutcome::Short { .. } | RefillOutcome::Failed { permanent: false } => {
                self.failures = self.failures.saturating_add(1);
                self.retry_at = Some(now + self.policy.backoff(self.failures));
            }
            RefillOutcome::Failed { permanent: true } => {
                self.failures = self.failures.saturating_add(1);
                self.retry_at = Some(now + self.policy.max_backoff);
            }
        }
    }

    /// Stops: every later poll answers [`Decision::Stopped`].
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Failed fetches since the last complete one.
    pub fn consecutive_failures(&self) -> u32 {
        self.failures
    }

    /// Keys asked for by the fetch in flight, if any.
    pub fn inflight(&self) -> Option<u32> {
        self.inflight
    }
}

// ---------------------------------------------------------------------------------------------
// The tokio edge

/// Where a buffer gets keys: `fetch(number, size)` is one enc_keys call.
pub trait KeySource: Send + Sync + 'static {
    /// Fetches `number` keys of `size` bits (`None`: the KME's default).
    fn fetch(&self, number: u32, size: Option<u32>) -> impl Future<Output = Result<KeyContainer, ClientError>> + Send;
}

/// enc_keys through a client, for one slave SAE.
#[derive(Debug, Clone)]
pub struct EncKeysSource {
    /// The master's client.
    pub client: Etsi014Client,
    /// The slave SAE the keys are for.
    pub slave_sae_id: String,
}

impl KeySource for EncKeysSource {
    fn fetch(&self, number: u32, size: Option<u32>) -> impl Future<Output = Result<KeyContainer, ClientError>> + Send {
        let request = KeyRequest::new(number, size);
        async move { self.client.enc_keys(&self.slave_sae_id, &request).await }
    }
}

/// Metrics hooks, called from the refill task (outside the buffer's lock).
pub trait PrefetchObserver: Send + Sync + 'static {
    /// Keys arrived; `level` is the level after adding them.
    fn on_refill(&self, received: usize, level: usize) {
        let _ = (received, level);
    }
    /// A fetch failed (or came back short: then `received` keys were still added).
    fn on_refill_error(&self, error: &ClientError, level: usize) {
        let _ = (error, level);
    }
}

/// Counters and state of a buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrefetchStats {
    /// Keys ready now.
    pub level: usize,
    /// Keys received from the KME.
    pub keys_fetched_total: u64,
    /// Keys handed out by take.
    pub keys_taken_total: u64,
    /// Fetches that brought every key asked for.
    pub refills_ok: u64,
    /// Fetches that failed or came back short.
    pub refill_errors: u64,
    /// Failed fetches since the last complete one.
    pub consecutive_failures: u32,
    /// The last fetch error, as text.
    pub last_error: Option<String>,
    /// Whether the refill task has stopped.
    pub stopped: bool,
}

/// Why [`PrefetchBuffer::take_wait`] returned no key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TakeError {
    /// No key arrived in time.
    #[error("no key ready within {waited:?}{}", .last_error.as_ref().map(|e| format!(" (last refill error: {e})")).unwrap_or_default())]
    Timeout {
        /// How long it waited.
        waited: Duration,
        /// The last refill error, if any.
        last_error: Option<String>,
    },
    /// The buffer is stopped and empty.
    #[error("prefetch buffer stopped")]
    Stopped,
}

struct State {
    keys: VecDeque<Key>,
    machine: RefillMachine,
    stats: PrefetchStats,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled (to all waiters) when keys arrive or the buffer stops.
    keys_ready: Notify,
    /// Signalled (one permit) when the level drops.
    level_dropped: Notify,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Ready keys for one (master, slave) pair, refilled by a background tokio task.
pub struct PrefetchBuffer {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for PrefetchBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrefetchBuffer").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl PrefetchBuffer {
    /// Starts a buffer that fetches with `client` (authenticated as the master SAE) for
    /// `slave_sae_id`. Must be called within a tokio runtime.
    pub fn spawn(
        client: Etsi014Client,
        slave_sae_id: impl Into<String>,
        policy: RefillPolicy,
    ) -> Result<Self, PolicyError> {
        Self::spawn_with_source(EncKeysSource { client, slave_sae_id: slave_sae_id.into() }, policy, None)
    }

    /// Starts a buffer on any key source, with optional metrics hooks.
    pub fn spawn_with_source<S: KeySource>(
        source: S,
        policy: RefillPolicy,
        observer: Option<Arc<dyn PrefetchObserver>>,
    ) -> Result<Self, PolicyError> {
        let machine = RefillMachine::new(policy)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State { keys: VecDeque::new(), machine, stats: PrefetchStats::default() }),
            keys_ready: Notify::new(),
            level_dropped: Notify::new(),
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(refill_task(shared.clone(), source, observer, shutdown_rx));
        Ok(Self { shared, shutdown, task: Some(task) })
    }

    /// A ready key, if there is one (never waits).
    pub fn take(&self) -> Option<Key> {
        let key = {
            let mut state = self.shared.lock();
            let key = state.keys.pop_front();
            if key.is_some() {
                state.stats.keys_taken_total += 1;
            }
            key
        };
        if key.is_some() {
            self.shared.level_dropped.notify_one();
        }
        key
    }

    /// A ready key, waiting up to `timeout` for one to arrive.
    pub async fn take_wait(&self, timeout: Duration) -> Result<Key, TakeError> {
        let deadline = Instant::now() + timeout;
        loop {
            let arrived = self.shared.keys_ready.notified();
            tokio::pin!(arrived);
            // Registered before looking, so a refill between the look and the wait is not missed.
            arrived.as_mut().enable();
            if let Some(key) = self.take() {
                return Ok(key);
            }
            if self.shared.lock().stats.stopped {
                return Err(TakeError::Stopped);
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                let last_error = self.shared.lock().stats.last_error.clone();
                return Err(TakeError::Timeout { waited: timeout, last_error });
            }
        }
    }

    /// Keys ready now.
    pub fn level(&self) -> usize {
        self.shared.lock().keys.len()
    }

    /// Counters and the last refill error.
    pub fn stats(&self) -> PrefetchStats {
        let state = self.shared.lock();
        PrefetchStats { level: state.keys.len(), ..state.stats.clone() }
    }

    /// Stops the refill task, waits for it to end, and drops (zeroizes) the keys left.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.shared.lock().keys.clear();
    }
}

impl Drop for PrefetchBuffer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.shared.lock().keys.clear();
    }
}

async fn refill_task<S: KeySource>(
    shared: Arc<Shared>,
    source: S,
    observer: Option<Arc<dyn PrefetchObserver>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let decision = {
            let mut state = shared.lock();
            if *shutdown.borrow() {
                state.machine.stop();
            }
            let level = state.keys.len();
            state.machine.poll(level, Instant::now())
        };
        match decision {
            Decision::Stopped => break,
            Decision::Idle => {
                tokio::select! {
                    _ = shared.level_dropped.notified() => {}
                    _ = shutdown.changed() => {}
                }
            }
            Decision::WaitUntil(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Decision::Fetch { number } => {
                let size = shared.lock().machine.policy().key_size;
                let result = tokio::select! {
                    r = source.fetch(number, size) => r,
                    _ = shutdown.changed() => break,
                };
                record_fetch(&shared, observer.as_deref(), number, result);
            }
        }
    }
    shared.lock().stats.stopped = true;
    shared.keys_ready.notify_waiters();
}

fn record_fetch(
    shared: &Shared,
    observer: Option<&dyn PrefetchObserver>,
    number: u32,
    result: Result<KeyContainer, ClientError>,
) {
    let (received, error) = match result {
        Ok(container) => (container.keys, None),
        // The keys of a short answer are good keys: keep (copies of) them; the error, with its
        // own copies, is dropped (zeroized) at the end of this function.
        Err(ClientError::Shortfall(shortfall)) => (shortfall.received.clone(), Some(ClientError::Shortfall(shortfall))),
        Err(e) => (Vec::new(), Some(e)),
    };
    let count = received.len();
    let outcome = match &error {
        None => RefillOutcome::Filled { received: count },
        Some(ClientError::Shortfall(_)) => RefillOutcome::Short { received: count, requested: number as usize },
        Some(e) => RefillOutcome::Failed { permanent: !e.is_retryable() },
    };
    let level = {
        let mut state = shared.lock();
        state.keys.extend(received);
        state.machine.on_outcome(outcome, Instant::now());
        let stats = &mut state.stats;
        stats.keys_fetched_total += count as u64;
        match &error {
            None => stats.refills_ok += 1,
            Some(e) => {
                stats.refill_errors += 1;
                stats.last_error = Some(e.to_string());
            }
        }
        state.stats.consecutive_failures = state.machine.consecutive_failures();
        state.keys.len()
    };
    if count > 0 {
        shared.keys_ready.notify_waiters();
    }
    match (&error, observer) {
        (Some(e), Some(o)) => {
            tracing::debug!(error = %e, level, "prefetch refill failed");
            o.on_refill_error(e, level);
            if count > 0 {
                o.on_refill(count, level);
            }
        }
        (Some(e), None) => tracing::debug!(error = %e, level, "prefetch refill failed"),
        (None, Some(o)) => o.on_refill(count, level),
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests;
