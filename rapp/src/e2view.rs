//! The rApp's per-node view of E2 security, kept from the xApp's events.
//!
//! A durable JetStream consumer ([`qsafe_events::EventConsumer`]) reads
//! `qsafe.events.e2.>`; each event is applied to an
//! [`E2SecurityView`] (idempotent: a redelivered or duplicated event changes
//! nothing), the view is saved to the durable state
//! ([`qsafe_state::DurableState`], key [`SNAPSHOT_KEY`]) and only then is the
//! event acknowledged. A crash between the save and the ack redelivers the
//! event, which the view absorbs. A restarted rApp loads the snapshot and its
//! durable consumer resumes where it stopped: events published while it was
//! down are replayed, none lost. The state is redb by default and JetStream
//! KV when a NATS URL is configured for it (replicas share it).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use qsafe_events::{ConsumerConfig, E2SecurityView, EventConsumer, EventsError};
use qsafe_state::DurableState;

/// Where the view's snapshot lives in the durable state.
pub const SNAPSHOT_KEY: &str = "rapp/e2-view/snapshot";

/// Errors of the view keeper.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// NATS / JetStream.
    #[error("events: {0}")]
    Events(#[from] EventsError),
    /// The durable state.
    #[error("state: {0}")]
    State(#[from] qsafe_state::StateError),
    /// A snapshot that does not decode.
    #[error("the saved E2 view ({SNAPSHOT_KEY}) does not decode: {0}")]
    Snapshot(serde_json::Error),
}

/// The consumer, the view and its durable snapshot.
#[derive(Debug)]
pub struct E2ViewKeeper {
    consumer: EventConsumer,
    state: Arc<dyn DurableState>,
    view: E2SecurityView,
}

impl E2ViewKeeper {
    /// Loads the saved view (if any) and connects the durable consumer.
    pub async fn open(consumer: ConsumerConfig, state: Arc<dyn DurableState>) -> Result<Self, ViewError> {
        let view = match state.get(SNAPSHOT_KEY).await? {
            Some(e) => serde_json::from_slice(&e.value).map_err(ViewError::Snapshot)?,
            None => E2SecurityView::new(),
        };
        let consumer = EventConsumer::connect(consumer).await?;
        Ok(Self { consumer, state, view })
    }

    /// The view.
    pub fn view(&self) -> &E2SecurityView {
        &self.view
    }

    /// Applies what arrives until no event came for `idle`: returns how many were applied
    /// (duplicates excluded). Each event is saved, then acknowledged.
    pub async fn catch_up(&mut self, idle: Duration) -> Result<usize, ViewError> {
        let mut applied = 0;
        while let Some(d) = self.consumer.next(idle).await? {
            if self.view.apply(&d.event) {
                applied += 1;
                let json = serde_json::to_vec(&self.view).map_err(ViewError::Snapshot)?;
                self.state.put(SNAPSHOT_KEY, Bytes::from(json)).await?;
            }
            self.consumer.ack(d).await?;
        }
        Ok(applied)
    }
}
