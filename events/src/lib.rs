//! E2 security events from the xApp to the rApp over NATS JetStream.
//!
//! The xApp sees what happens on every E2 link (link state changes, key
//! freshness violations, rekey results, alarms); the rApp in the SMO needs the
//! same facts to steer the PQC rollout and show the RAN's security posture.
//! [`E2SecurityEvent`]s carry them on the subjects `qsafe.events.e2.<node
//! token>` ([`subject`]) of the JetStream stream `QSAFE_EVENTS`.
//!
//! # Delivery: at-least-once plus deduplication
//!
//! Exactly-once delivery over a network does not exist; what does exist is
//! at-least-once delivery with idempotent processing, and that is the design:
//!
//! * The [`EventPublisher`] publishes each event with the header
//!   `Nats-Msg-Id` = the event's id and waits for JetStream's ack (the event is
//!   then stored on disk). No ack (timeout, outage) → it retries *with the same
//!   id*, so a retry of an event that was in fact stored is dropped by the
//!   server's duplicate window instead of stored twice.
//! * The caller never waits for NATS: [`EventPublisher::publish`] puts the event
//!   in a bounded in-memory queue and returns. During a NATS outage the queue
//!   fills; when it is full the oldest event is dropped and counted (an E2
//!   link must never stall on its monitoring), and the queue drains when NATS
//!   is back.
//! * The [`EventConsumer`] acknowledges an event only after the caller has
//!   processed it, so a crash in between redelivers it; and it remembers the
//!   ids it processed recently, so a redelivery of an event whose ack was lost
//!   (or a duplicate stored outside the duplicate window) is dropped rather
//!   than counted twice.
//!
//! # Why a durable consumer
//!
//! The rApp is not always running (upgrades, rescheduling, SMO maintenance).
//! A durable pull consumer is state on the server: it remembers what the rApp
//! acknowledged, so a restarted rApp resumes exactly where it stopped and
//! replays what it missed, instead of either losing the events published while
//! it was away (a plain subscription) or re-reading the whole stream. Pull
//! (rather than push) lets the rApp take events at its own pace, and survives
//! NATS restarts: the consumer re-issues its pull requests.
//!
//! # The rApp's view
//!
//! [`E2SecurityView`] folds the events into a per-node picture (link state,
//! epoch, key source, active alarms, last violation and rekey, counts) that is
//! serialisable for a status endpoint; applying events in any order and more
//! than once gives the same latest state.

mod consumer;
mod event;
mod publisher;
pub mod subject;
mod view;

use std::time::Duration;

use async_nats::jetstream;
use serde::{Deserialize, Serialize};

pub use consumer::{ConsumerConfig, ConsumerStats, Delivery, EventConsumer};
pub use event::{
    E2SecurityEvent, EventKind, KeySource, LinkState, MAX_ID_LEN, Severity, now_utc_millis, rfc3339_utc, validate_id,
};
pub use publisher::{EventPublisher, PublisherConfig, PublisherStats};
pub use subject::{node_from_subject, node_from_token, node_token, subject_for_node};
pub use view::{ActiveAlarm, E2SecurityView, NodeCounts, NodeView, RekeyRecord, ViolationRecord};

/// The stream's name.
pub const STREAM_NAME: &str = "QSAFE_EVENTS";
/// The stream's subjects.
pub const STREAM_SUBJECTS: &str = "qsafe.events.>";
/// The subjects of E2 security events (the consumer's default filter).
pub const E2_EVENTS_FILTER: &str = "qsafe.events.e2.>";

/// Why an events operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// The event is not valid (bad id or node id); it was not queued.
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    /// A subject or subject token is not one this crate produces.
    #[error("invalid event subject: {0}")]
    InvalidSubject(String),
    /// JSON encoding or decoding.
    #[error("event JSON: {0}")]
    Json(String),
    /// The configuration is not usable.
    #[error("events configuration: {0}")]
    Config(String),
    /// NATS or JetStream failed.
    #[error("NATS: {0}")]
    Nats(String),
    /// The publisher was shut down.
    #[error("the event publisher is shut down")]
    Closed,
}

impl EventsError {
    pub(crate) fn nats(e: impl std::fmt::Display) -> Self {
        EventsError::Nats(e.to_string())
    }
}

/// The `QSAFE_EVENTS` stream's limits (file storage, one replica, limits
/// retention, oldest discarded first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct StreamSettings {
    /// How long events are kept (default 7 days).
    pub max_age_seconds: u64,
    /// How long the server remembers an event id to drop duplicates (default
    /// 120 s; at most `max-age-seconds`).
    pub duplicate_window_seconds: u64,
    /// Largest stream size in bytes (default -1: unlimited).
    pub max_bytes: i64,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings { max_age_seconds: 7 * 24 * 3600, duplicate_window_seconds: 120, max_bytes: -1 }
    }
}

impl StreamSettings {
    /// Checks the limits.
    pub fn validate(&self) -> Result<(), EventsError> {
        if self.max_age_seconds == 0 {
            return Err(EventsError::Config("max-age-seconds must be > 0".into()));
        }
        if self.duplicate_window_seconds == 0 || self.duplicate_window_seconds > self.max_age_seconds {
            return Err(EventsError::Config("duplicate-window-seconds must be 1 to max-age-seconds".into()));
        }
        if self.max_bytes == 0 || self.max_bytes < -1 {
            return Err(EventsError::Config("max-bytes must be positive or -1".into()));
        }
        Ok(())
    }

    fn stream_config(&self) -> jetstream::stream::Config {
        jetstream::stream::Config {
            name: STREAM_NAME.to_owned(),
            description: Some("qsafe-ran coordination events".to_owned()),
            subjects: vec![STREAM_SUBJECTS.to_owned()],
            storage: jetstream::stream::StorageType::File,
            num_replicas: 1,
            retention: jetstream::stream::RetentionPolicy::Limits,
            discard: jetstream::stream::DiscardPolicy::Old,
            max_age: Duration::from_secs(self.max_age_seconds),
            duplicate_window: Duration::from_secs(self.duplicate_window_seconds),
            max_bytes: self.max_bytes,
            max_messages: -1,
            max_messages_per_subject: -1,
            max_message_size: -1,
            ..jetstream::stream::Config::default()
        }
    }
}

/// Makes sure the stream exists; with `update`, also that its limits are
/// `settings` (the publisher owns them; the consumer only creates a missing
/// stream).
pub(crate) async fn ensure_stream(
    js: &jetstream::Context,
    settings: &StreamSettings,
    update: bool,
) -> Result<(), EventsError> {
    let want = settings.stream_config();
    match js.get_stream(STREAM_NAME).await {
        Ok(mut stream) => {
            if update {
                let info = stream.info().await.map_err(EventsError::nats)?;
                let have = &info.config;
                if have.max_age != want.max_age
                    || have.duplicate_window != want.duplicate_window
                    || have.max_bytes != want.max_bytes
                    || !have.subjects.iter().any(|s| s == STREAM_SUBJECTS)
                {
                    tracing::info!(stream = STREAM_NAME, "updating the stream's limits");
                    js.update_stream(want).await.map_err(EventsError::nats)?;
                }
            }
            Ok(())
        }
        Err(e)
            if matches!(e.kind(), jetstream::context::GetStreamErrorKind::JetStream(j)
                if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND) =>
        {
            tracing::info!(stream = STREAM_NAME, "creating the stream");
            js.create_stream(want).await.map_err(EventsError::nats)?;
            Ok(())
        }
        Err(e) => Err(EventsError::nats(e)),
    }
}

/// A NATS client for the events: reconnects by itself (first retry at once,
/// then 100 ms doubling to 2 s), and with `retry_initial` does not wait for
/// the first connection either.
pub(crate) async fn connect(url: &str, name: &str, retry_initial: bool) -> Result<async_nats::Client, EventsError> {
    let mut options = async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .reconnect_delay_callback(reconnect_delay);
    if retry_initial {
        options = options.retry_on_initial_connect();
    }
    options.connect(url).await.map_err(|e| EventsError::Nats(format!("connecting to {url}: {e}")))
}

/// 0, then 100 ms doubling up to 2 s.
pub(crate) fn reconnect_delay(attempt: usize) -> Duration {
    backoff(attempt.saturating_sub(1))
}

/// Retry delay after `failures` consecutive failures: 0, 100 ms, 200 ms, …, 2 s.
pub(crate) fn backoff(failures: usize) -> Duration {
    if failures == 0 {
        Duration::ZERO
    } else {
        let exp = u32::try_from(failures - 1).unwrap_or(u32::MAX).min(5);
        Duration::from_millis(100u64 << exp).min(Duration::from_secs(2))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn settings() {
        StreamSettings::default().validate().unwrap();
        let bad = StreamSettings { duplicate_window_seconds: 10, max_age_seconds: 5, ..StreamSettings::default() };
        assert!(bad.validate().is_err());
        let c = StreamSettings::default().stream_config();
        assert_eq!(c.duplicate_window, Duration::from_secs(120));
        assert_eq!(c.subjects, [STREAM_SUBJECTS]);
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(50), Duration::from_secs(2));
    }
}
