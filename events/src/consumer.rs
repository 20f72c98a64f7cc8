//! The rApp side: a durable pull consumer with consumer-side deduplication
//! (see the crate docs).

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::PullConsumer};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::time::Instant;

use crate::{
    E2_EVENTS_FILTER, E2SecurityEvent, EventsError, STREAM_NAME, StreamSettings, backoff, connect, ensure_stream,
};

/// How long one pull request waits on the server for events. Short, so that a
/// pull request of a consumer that went away stops collecting events soon.
const PULL_EXPIRES: Duration = Duration::from_secs(2);

/// How an [`EventConsumer`] reads.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// The NATS server.
    pub nats_url: String,
    /// The durable consumer's name (default `qsafe-rapp`): one per reader;
    /// replicas of one rApp share it (each event goes to one of them).
    pub durable_name: String,
    /// Which subjects (default `qsafe.events.e2.>`; one node:
    /// [`subject_for_node`](crate::subject_for_node)).
    pub filter_subject: String,
    /// How long the server waits for an ack before redelivering (default 30 s).
    pub ack_wait: Duration,
    /// Events per pull request (default 64).
    pub batch: usize,
    /// How many processed event ids are remembered to drop redeliveries
    /// (default 10 000).
    pub dedupe_capacity: usize,
    /// Used only to create the stream when it does not exist yet (the
    /// publisher owns its limits).
    pub stream: StreamSettings,
}

impl ConsumerConfig {
    /// Defaults for the server at `nats_url`.
    pub fn new(nats_url: impl Into<String>) -> Self {
        ConsumerConfig {
            nats_url: nats_url.into(),
            durable_name: "qsafe-rapp".to_owned(),
            filter_subject: E2_EVENTS_FILTER.to_owned(),
            ack_wait: Duration::from_secs(30),
            batch: 64,
            dedupe_capacity: 10_000,
            stream: StreamSettings::default(),
        }
    }

    fn validate(&self) -> Result<(), EventsError> {
        let name_ok = !self.durable_name.is_empty()
            && self.durable_name.len() <= 64
            && self.durable_name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(EventsError::Config("durable_name: 1 to 64 characters of A-Z a-z 0-9 _ -".into()));
        }
        if !self.filter_subject.starts_with("qsafe.events.") {
            return Err(EventsError::Config(format!("filter_subject must be within {}", crate::STREAM_SUBJECTS)));
        }
        if self.batch == 0 || self.dedupe_capacity == 0 || self.ack_wait.is_zero() {
            return Err(EventsError::Config("batch, dedupe_capacity and ack_wait must be > 0".into()));
        }
        self.stream.validate()
    }
}

/// Counters of an [`EventConsumer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerStats {
    /// Messages received from JetStream.
    pub received: u64,
    /// Events handed to the caller.
    pub delivered: u64,
    /// Events acked after the caller processed them.
    pub acked: u64,
    /// Redeliveries of already processed ids, dropped (and acked).
    pub duplicates: u64,
    /// Messages that were not valid events, dropped (and terminated).
    pub malformed: u64,
    /// Times the consumer was set up again after an error.
    pub reconnects: u64,
    /// Acks that did not reach the server (the event will come again and be
    /// dropped as a duplicate).
    pub ack_failures: u64,
}

/// A bounded set of recently processed ids (oldest forgotten first).
#[derive(Debug)]
struct RecentIds {
    order: VecDeque<String>,
    set: HashSet<String>,
    capacity: usize,
}

impl RecentIds {
    fn new(capacity: usize) -> Self {
        RecentIds { order: VecDeque::new(), set: HashSet::new(), capacity }
    }

    fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    fn insert(&mut self, id: &str) {
        if self.set.insert(id.to_owned()) {
            self.order.push_back(id.to_owned());
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }
}

/// One event handed to the caller; give it back to [`EventConsumer::ack`]
/// once processed (or [`EventConsumer::nak`]). Dropped without either, it is
/// redelivered after the ack wait.
#[derive(Debug)]
pub struct Delivery {
    /// The event.
    pub event: E2SecurityEvent,
    /// Its sequence number in the stream.
    pub stream_sequence: u64,
    /// How many times JetStream delivered it (1 the first time).
    pub delivered: i64,
    message: jetstream::Message,
}

/// A durable pull consumer of [`E2SecurityEvent`]s (see the crate docs).
///
/// Survives NATS restarts: the client reconnects by itself, and after an error
/// the consumer is looked up (or created) again and pulling resumes, with
/// backoff.
pub struct EventConsumer {
    config: ConsumerConfig,
    js: jetstream::Context,
    consumer: Option<PullConsumer>,
    batch: Option<(jetstream::consumer::pull::Batch, Instant)>,
    seen: RecentIds,
    stats: ConsumerStats,
    failures: usize,
}

impl std::fmt::Debug for EventConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventConsumer")
            .field("durable_name", &self.config.durable_name)
            .field("filter_subject", &self.config.filter_subject)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl EventConsumer {
    /// Connects (without waiting for NATS: the durable consumer is set up on
    /// the first [`next`](Self::next) that reaches the server).
    pub async fn connect(config: ConsumerConfig) -> Result<Self, EventsError> {
        config.validate()?;
        let client = connect(&config.nats_url, "qsafe-events-consumer", true).await?;
        let mut js = jetstream::new(client);
        js.set_timeout(Duration::from_secs(5));
        let seen = RecentIds::new(config.dedupe_capacity);
        Ok(EventConsumer {
            config,
            js,
            consumer: None,
            batch: None,
            seen,
            stats: ConsumerStats::default(),
            failures: 0,
        })
    }

    /// The counters.
    pub fn stats(&self) -> ConsumerStats {
        self.stats
    }

    /// The configuration.
    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    /// The next event, waiting at most `wait`; `None` when none came.
    /// Redeliveries of ids already processed and messages that are not valid
    /// events are dropped here. NATS errors are retried until `wait` is over.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<Delivery>, EventsError> {
        let deadline = Instant::now() + wait;
        loop {
            if self.batch.is_none() {
                if Instant::now() >= deadline {
                    return Ok(None);
                }
                if let Err(e) = self.pull().await {
                    self.failed(&e, deadline).await;
                    continue;
                }
            }
            let Some((batch, batch_deadline)) = self.batch.as_mut() else { continue };
            let batch_deadline = *batch_deadline;
            let until = deadline.min(batch_deadline);
            match tokio::time::timeout_at(until, batch.next()).await {
                Ok(Some(Ok(message))) => {
                    self.failures = 0;
                    if let Some(delivery) = self.screen(message).await {
                        self.stats.delivered += 1;
                        return Ok(Some(delivery));
                    }
                }
                Ok(Some(Err(e))) => {
                    self.batch = None;
                    self.failed(&EventsError::nats(e), deadline).await;
                }
                // The pull request is done (all delivered, or expired).
                Ok(None) => self.batch = None,
                Err(_) if Instant::now() >= batch_deadline => self.batch = None,
                Err(_) => return Ok(None),
            }
        }
    }

    /// Acknowledges a processed event (waiting for the server to confirm) and
    /// remembers its id. An error means the ack may not have reached the
    /// server: the event will be redelivered, and dropped as a duplicate.
    pub async fn ack(&mut self, delivery: Delivery) -> Result<(), EventsError> {
        self.seen.insert(&delivery.event.id);
        match tokio::time::timeout(Duration::from_secs(5), delivery.message.double_ack()).await {
            Ok(Ok(())) => {
                self.stats.acked += 1;
                Ok(())
            }
            Ok(Err(e)) => {
                self.stats.ack_failures += 1;
                Err(EventsError::Nats(format!("ack of event {}: {e}", delivery.event.id)))
            }
            Err(_) => {
                self.stats.ack_failures += 1;
                Err(EventsError::Nats(format!("ack of event {}: timed out", delivery.event.id)))
            }
        }
    }

    /// Gives an event back unprocessed: redelivered after `delay` (or at once).
    pub async fn nak(&mut self, delivery: Delivery, delay: Option<Duration>) -> Result<(), EventsError> {
        delivery.message.ack_with(AckKind::Nak(delay)).await.map_err(EventsError::nats)
    }

    /// Hands every event that arrives to `handler` and acks it after the
    /// handler returned, until no event came for `idle`; how many were
    /// processed.
    pub async fn process_until_idle<F>(&mut self, idle: Duration, mut handler: F) -> Result<usize, EventsError>
    where
        F: FnMut(&E2SecurityEvent),
    {
        let mut n = 0;
        while let Some(delivery) = self.next(idle).await? {
            handler(&delivery.event);
            n += 1;
            if let Err(e) = self.ack(delivery).await {
                tracing::warn!(error = %e, "event ack failed");
            }
        }
        Ok(n)
    }

    /// Ensures the stream and the durable consumer, then sends a pull request.
    async fn pull(&mut self) -> Result<(), EventsError> {
        if self.consumer.is_none() {
            ensure_stream(&self.js, &self.config.stream, false).await?;
            let stream = self.js.get_stream(STREAM_NAME).await.map_err(EventsError::nats)?;
            let consumer = stream
                .get_or_create_consumer(
                    &self.config.durable_name,
                    jetstream::consumer::pull::Config {
                        durable_name: Some(self.config.durable_name.clone()),
                        description: Some("qsafe-ran E2 security events".to_owned()),
                        filter_subject: self.config.filter_subject.clone(),
                        deliver_policy: jetstream::consumer::DeliverPolicy::All,
                        ack_policy: jetstream::consumer::AckPolicy::Explicit,
                        ack_wait: self.config.ack_wait,
                        max_deliver: -1,
                        ..Default::default()
                    },
                )
                .await
                .map_err(EventsError::nats)?;
            let info = &consumer.cached_info().config;
            if info.filter_subject != self.config.filter_subject {
                tracing::warn!(
                    durable = %self.config.durable_name,
                    existing = %info.filter_subject,
                    configured = %self.config.filter_subject,
                    "the durable consumer exists with another filter subject; using it as it is"
                );
            }
            self.consumer = Some(consumer);
        }
        let Some(consumer) = self.consumer.as_ref() else { return Err(EventsError::Nats("no consumer".into())) };
        let batch = consumer
            .batch()
            .max_messages(self.config.batch)
            .expires(PULL_EXPIRES)
            .messages()
            .await
            .map_err(EventsError::nats)?;
        self.batch = Some((batch, Instant::now() + PULL_EXPIRES + Duration::from_secs(1)));
        Ok(())
    }

    /// After an error: forget the consumer handle (looked up again next time)
    /// and wait the backoff, but not past `deadline`.
    async fn failed(&mut self, e: &EventsError, deadline: Instant) {
        self.failures += 1;
        if self.consumer.take().is_some() {
            self.stats.reconnects += 1;
        }
        if self.failures == 1 || self.failures.is_multiple_of(50) {
            tracing::warn!(error = %e, failures = self.failures, "event consumer: NATS error, retrying");
        } else {
            tracing::debug!(error = %e, failures = self.failures, "event consumer: NATS error, retrying");
        }
        let pause = backoff(self.failures).max(Duration::from_millis(50));
        tokio::time::sleep_until(deadline.min(Instant::now() + pause)).await;
    }

    /// Decodes a message; `None` for a duplicate or a malformed one (both
    /// acked away).
    async fn screen(&mut self, message: jetstream::Message) -> Option<Delivery> {
        self.stats.received += 1;
        let (stream_sequence, delivered) = message.info().map(|i| (i.stream_sequence, i.delivered)).unwrap_or((0, 1));
        let event = match E2SecurityEvent::from_json(&message.payload) {
            Ok(event) => event,
            Err(e) => {
                self.stats.malformed += 1;
                tracing::warn!(subject = %message.subject, stream_sequence, error = %e, "dropping a message that is not an E2 security event");
                if let Err(e) = message.ack_with(AckKind::Term).await {
                    tracing::debug!(error = %e, "term failed");
                }
                return None;
            }
        };
        if self.seen.contains(&event.id) {
            self.stats.duplicates += 1;
            tracing::debug!(event_id = %event.id, stream_sequence, delivered, "dropping a redelivered event");
            if let Err(e) = message.ack().await {
                tracing::debug!(error = %e, "ack of a duplicate failed");
            }
            return None;
        }
        Some(Delivery { event, stream_sequence, delivered, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_are_bounded() {
        let mut r = RecentIds::new(3);
        for id in ["a", "b", "c", "a", "d"] {
            r.insert(id);
        }
        assert!(!r.contains("a"));
        assert!(r.contains("b") && r.contains("c") && r.contains("d"));
        assert_eq!(r.order.len(), 3);
        assert_eq!(r.set.len(), 3);
    }
}
