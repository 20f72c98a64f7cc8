//! The xApp side: a bounded queue in front of an at-least-once JetStream
//! publisher (see the crate docs).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_nats::jetstream;
use bytes::Bytes;
use serde::Serialize;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::{E2SecurityEvent, EventsError, StreamSettings, backoff, connect, ensure_stream};

/// How an [`EventPublisher`] connects, queues and retries.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// The NATS server, e.g. `nats://nats.ric:4222`.
    pub nats_url: String,
    /// The stream's limits (the publisher creates the stream, or updates it to
    /// these).
    pub stream: StreamSettings,
    /// Events held while NATS is slow or away (default 10 000); when full,
    /// the oldest is dropped.
    pub queue_capacity: usize,
    /// How long to wait for JetStream's ack before retrying (default 2 s).
    pub ack_timeout: Duration,
}

impl PublisherConfig {
    /// Defaults for the server at `nats_url`.
    pub fn new(nats_url: impl Into<String>) -> Self {
        PublisherConfig {
            nats_url: nats_url.into(),
            stream: StreamSettings::default(),
            queue_capacity: 10_000,
            ack_timeout: Duration::from_secs(2),
        }
    }
}

/// Counters of an [`EventPublisher`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublisherStats {
    /// Events accepted by [`EventPublisher::publish`].
    pub enqueued: u64,
    /// Events acked by JetStream (duplicates included).
    pub published: u64,
    /// Acks that said "duplicate": the server already had that id.
    pub duplicates: u64,
    /// Events dropped because the queue was full.
    pub dropped: u64,
    /// Publish attempts that failed or timed out and were retried.
    pub retries: u64,
    /// Events waiting now (including one in flight).
    pub queued: u64,
}

#[derive(Debug, Clone)]
struct Queued {
    seq: u64,
    id: String,
    subject: String,
    payload: Bytes,
}

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Queued>,
    next_seq: u64,
}

#[derive(Debug, Default)]
struct Counters {
    enqueued: AtomicU64,
    published: AtomicU64,
    duplicates: AtomicU64,
    dropped: AtomicU64,
    retries: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    capacity: usize,
    /// A new event, or shutdown.
    wake: Notify,
    /// The queue became empty.
    drained: Notify,
    closed: AtomicBool,
    counters: Counters,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Publishes [`E2SecurityEvent`]s to JetStream without ever blocking the
/// caller.
///
/// [`publish`](Self::publish) validates and queues; a background task sends
/// the queue head with `Nats-Msg-Id` = the event id, waits for the JetStream
/// ack and only then takes the next (so order is kept), retrying the same
/// event with the same id on a timeout or error. The task connects (and
/// creates or updates the stream) on its own, also when NATS is not up yet at
/// start. Dropping the publisher stops the task at once (queued events are
/// lost); [`shutdown`](Self::shutdown) first waits for the queue to drain.
#[derive(Debug)]
pub struct EventPublisher {
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl EventPublisher {
    /// Starts the background task (needs a tokio runtime). Does not wait for
    /// NATS.
    pub fn start(config: PublisherConfig) -> Result<Self, EventsError> {
        config.stream.validate()?;
        if config.queue_capacity == 0 {
            return Err(EventsError::Config("queue_capacity must be > 0".into()));
        }
        if config.ack_timeout.is_zero() {
            return Err(EventsError::Config("ack_timeout must be > 0".into()));
        }
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            capacity: config.queue_capacity,
            wake: Notify::new(),
            drained: Notify::new(),
            closed: AtomicBool::new(false),
            counters: Counters::default(),
        });
        let task = tokio::spawn(worker(config, Arc::clone(&shared)));
        Ok(EventPublisher { shared, task: Some(task) })
    }

    /// Queues an event; returns at once. An invalid event is refused (and not
    /// queued); when the queue is full the oldest queued event is dropped.
    pub fn publish(&self, event: &E2SecurityEvent) -> Result<(), EventsError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(EventsError::Closed);
        }
        event.validate()?;
        let payload = Bytes::from(event.to_json()?);
        let dropped = {
            let mut q = self.shared.queue();
            let dropped = if q.items.len() >= self.shared.capacity { q.items.pop_front() } else { None };
            let seq = q.next_seq;
            q.next_seq += 1;
            q.items.push_back(Queued { seq, id: event.id.clone(), subject: event.subject(), payload });
            dropped
        };
        self.shared.counters.enqueued.fetch_add(1, Ordering::Relaxed);
        if let Some(d) = dropped {
            let n = self.shared.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n == 1 || n.is_power_of_two() || n.is_multiple_of(1000) {
                tracing::warn!(
                    dropped_total = n,
                    event_id = %d.id,
                    capacity = self.shared.capacity,
                    "event queue full (NATS slow or away): dropped the oldest event"
                );
            }
        }
        self.shared.wake.notify_one();
        Ok(())
    }

    /// The counters.
    pub fn stats(&self) -> PublisherStats {
        let c = &self.shared.counters;
        PublisherStats {
            enqueued: c.enqueued.load(Ordering::Relaxed),
            published: c.published.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            queued: self.shared.queue().items.len() as u64,
        }
    }

    /// Waits until every queued event is acked by JetStream, at most
    /// `timeout`; whether the queue is empty.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let drained = self.shared.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if self.shared.queue().items.is_empty() {
                return true;
            }
            if tokio::time::timeout_at(deadline, drained).await.is_err() {
                return self.shared.queue().items.is_empty();
            }
        }
    }

    /// [`flush`](Self::flush), then stops the task; the final counters
    /// (`queued` > 0: events not delivered in time, lost).
    pub async fn shutdown(mut self, timeout: Duration) -> PublisherStats {
        self.flush(timeout).await;
        self.stop();
        if let Some(task) = self.task.take() {
            // It may be waiting for an ack that will not come: don't wait.
            task.abort();
            let _ = task.await;
        }
        self.stats()
    }

    fn stop(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake.notify_one();
    }
}

impl Drop for EventPublisher {
    fn drop(&mut self) {
        self.stop();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// What the worker needs from a connection.
struct Link {
    client: async_nats::Client,
    js: jetstream::Context,
    stream_ready: bool,
}

async fn worker(config: PublisherConfig, shared: Arc<Shared>) {
    let mut link: Option<Link> = None;
    let mut failures = 0usize;
    loop {
        if shared.closed.load(Ordering::Acquire) {
            return;
        }
        let wake = shared.wake.notified();
        let head = shared.queue().items.front().cloned();
        let Some(item) = head else {
            shared.drained.notify_waiters();
            wake.await;
            continue;
        };
        match send(&config, &mut link, &item).await {
            Ok(duplicate) => {
                failures = 0;
                shared.counters.published.fetch_add(1, Ordering::Relaxed);
                if duplicate {
                    shared.counters.duplicates.fetch_add(1, Ordering::Relaxed);
                }
                let mut q = shared.queue();
                // The caller may have dropped it (queue full) meanwhile.
                if q.items.front().is_some_and(|h| h.seq == item.seq) {
                    q.items.pop_front();
                }
            }
            Err(e) => {
                failures += 1;
                shared.counters.retries.fetch_add(1, Ordering::Relaxed);
                if failures == 1 || failures.is_multiple_of(50) {
                    tracing::warn!(event_id = %item.id, failures, error = %e, "event not acked by JetStream, retrying");
                } else {
                    tracing::debug!(event_id = %item.id, failures, error = %e, "event not acked, retrying");
                }
                tokio::time::sleep(backoff(failures)).await;
            }
        }
    }
}

/// One attempt: connects if needed, ensures the stream, publishes, waits for
/// the ack. `Ok(duplicate)`.
async fn send(config: &PublisherConfig, link: &mut Option<Link>, item: &Queued) -> Result<bool, EventsError> {
    if link.is_none() {
        let client = connect(&config.nats_url, "qsafe-events-publisher", true).await?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(config.ack_timeout);
        *link = Some(Link { client, js, stream_ready: false });
    }
    let Some(l) = link.as_mut() else { return Err(EventsError::Nats("no connection".into())) };
    if l.client.connection_state() != async_nats::connection::State::Connected {
        // Nothing is sent while disconnected: a publish would sit in the
        // client's buffer and go out again with every retry.
        return Err(EventsError::Nats("not connected".into()));
    }
    if !l.stream_ready {
        tokio::time::timeout(config.ack_timeout, ensure_stream(&l.js, &config.stream, true))
            .await
            .map_err(|_| EventsError::Nats("timed out ensuring the stream".into()))??;
        l.stream_ready = true;
    }
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, item.id.as_str());
    let js = l.js.clone();
    let (subject, payload) = (item.subject.clone(), item.payload.clone());
    let attempt = async move { js.publish_with_headers(subject, headers, payload).await?.await };
    match tokio::time::timeout(config.ack_timeout + Duration::from_millis(500), attempt).await {
        Ok(Ok(ack)) => Ok(ack.duplicate),
        Ok(Err(e)) => {
            if e.kind() == jetstream::context::PublishErrorKind::StreamNotFound {
                l.stream_ready = false;
            }
            Err(EventsError::nats(e))
        }
        Err(_) => Err(EventsError::Nats("timed out waiting for the ack".into())),
    }
}
