//! The NATS JetStream KV backend.
//!
//! A key is a KV key as it is (the crate's key rules are the KV rules), a
//! revision is the KV revision — the sequence number of the bucket's stream,
//! so it only ever increases within the bucket. The bucket uses file storage
//! with one replica and keeps `history` revisions per key; a delete writes a
//! delete marker (the key then reads as absent and `put_if(.., None)` may
//! create it again). Compare-and-set is the KV `update` (the server checks the
//! key's last revision, `Nats-Expected-Last-Subject-Sequence`), so it holds
//! across every client of the bucket.
//!
//! Values up to [`MAX_VALUE_LEN`] need a server whose `max_payload` leaves room
//! for them plus headers: [`JetStreamKvState::connect`] refuses a server with a
//! `max_payload` below [`REQUIRED_MAX_PAYLOAD`] (the NATS default is 1 MiB; set
//! `max_payload: 2MB` in the server configuration).

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::TryStreamExt;

use crate::{
    Conflict, DEFAULT_BUCKET, DurableState, Entry, MAX_VALUE_LEN, StateError, validate_key, validate_prefix,
    validate_write,
};

const BACKEND: &str = "jetstream";
/// The smallest server `max_payload` accepted: a largest value plus room for
/// the headers of a compare-and-set.
pub const REQUIRED_MAX_PAYLOAD: usize = MAX_VALUE_LEN + 8 * 1024;

fn js_err(err: impl std::fmt::Display) -> StateError {
    StateError::backend(BACKEND, err)
}

pub(crate) fn validate_bucket(bucket: &str) -> Result<(), StateError> {
    if bucket.is_empty()
        || bucket.len() > 64
        || !bucket.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(StateError::Config(format!("bucket {bucket:?}: 1 to 64 characters of A-Z a-z 0-9 _ -")));
    }
    Ok(())
}

/// How [`JetStreamKvState::connect`] sets up the client and the bucket.
#[derive(Debug, Clone)]
pub struct JetStreamOptions {
    /// The KV bucket, created when missing (default [`DEFAULT_BUCKET`]).
    pub bucket: String,
    /// Revisions kept per key, 1 to 64 (default 1).
    pub history: u8,
    /// How long the first connection may take (default 5 s).
    pub connect_timeout: Duration,
    /// How long one request (a read, or a write's ack) may take (default 5 s).
    pub request_timeout: Duration,
}

impl Default for JetStreamOptions {
    fn default() -> Self {
        JetStreamOptions {
            bucket: DEFAULT_BUCKET.to_owned(),
            history: 1,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// The JetStream KV [`DurableState`] backend (see the module docs).
#[derive(Clone)]
pub struct JetStreamKvState {
    kv: kv::Store,
    bucket: String,
}

impl std::fmt::Debug for JetStreamKvState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamKvState").field("bucket", &self.bucket).finish_non_exhaustive()
    }
}

/// Reconnection delay after the `attempt`th failed try: 0, then 100 ms
/// doubling up to 2 s.
pub(crate) fn reconnect_delay(attempt: usize) -> Duration {
    if attempt <= 1 {
        Duration::ZERO
    } else {
        let exp = u32::try_from(attempt - 2).unwrap_or(u32::MAX).min(5);
        Duration::from_millis(100u64 << exp).min(Duration::from_secs(2))
    }
}

/// The stream behind a KV bucket, as NATS clients lay it out: `KV_<bucket>`
/// on subjects `$KV.<bucket>.>`, `history` messages per subject, rollups
/// allowed, direct gets, discard-new; file storage, one replica.
fn kv_stream_config(options: &JetStreamOptions) -> jetstream::stream::Config {
    jetstream::stream::Config {
        name: format!("KV_{}", options.bucket),
        description: Some("qsafe-ran durable state".to_owned()),
        subjects: vec![format!("$KV.{}.>", options.bucket)],
        max_messages_per_subject: i64::from(options.history),
        max_bytes: -1,
        max_messages: -1,
        max_message_size: -1,
        storage: jetstream::stream::StorageType::File,
        num_replicas: 1,
        allow_rollup: true,
        deny_delete: true,
        deny_purge: false,
        allow_direct: true,
        discard: jetstream::stream::DiscardPolicy::New,
        ..jetstream::stream::Config::default()
    }
}

impl JetStreamKvState {
    /// Connects to `url` and opens the bucket, creating it when missing.
    ///
    /// Fails when the server can't be reached within
    /// [`JetStreamOptions::connect_timeout`], has no JetStream, or has a
    /// `max_payload` below [`REQUIRED_MAX_PAYLOAD`]. Once connected the client
    /// reconnects by itself; operations fail with a backend error while the
    /// server is away.
    pub async fn connect(url: &str, options: JetStreamOptions) -> Result<Self, StateError> {
        validate_bucket(&options.bucket)?;
        if !(1..=64).contains(&options.history) {
            return Err(StateError::Config("history must be 1 to 64".to_owned()));
        }
        let client = async_nats::ConnectOptions::new()
            .name("qsafe-state")
            .connection_timeout(options.connect_timeout)
            .request_timeout(Some(options.request_timeout))
            .reconnect_delay_callback(reconnect_delay)
            .connect(url)
            .await
            .map_err(|e| StateError::backend(BACKEND, format!("connecting to {url}: {e}")))?;
        let max_payload = client.server_info().max_payload;
        if max_payload < REQUIRED_MAX_PAYLOAD {
            return Err(StateError::Config(format!(
                "the NATS server at {url} has max_payload {max_payload}; values up to {MAX_VALUE_LEN} bytes need at \
                 least {REQUIRED_MAX_PAYLOAD} (set `max_payload: 2MB` in its configuration)"
            )));
        }
        let mut js = jetstream::new(client);
        js.set_timeout(options.request_timeout);
        let kv = match js.get_key_value(options.bucket.as_str()).await {
            Ok(kv) => kv,
            Err(get_err) => {
                // Not `create_key_value`: it first reads the account info,
                // whose reply from a 2.9 server lacks fields this client
                // requires (`reserved_memory`, `reserved_storage`; added in
                // 2.10). The stream below is the KV layout that
                // `create_key_value` would make.
                js.get_or_create_stream(kv_stream_config(&options)).await.map_err(|e| {
                    StateError::backend(
                        BACKEND,
                        format!("bucket {:?}: opening it failed ({get_err}), creating it failed ({e})", options.bucket),
                    )
                })?;
                js.get_key_value(options.bucket.as_str())
                    .await
                    .map_err(|e| StateError::backend(BACKEND, format!("bucket {:?}: {e}", options.bucket)))?
            }
        };
        tracing::debug!(url, bucket = %options.bucket, "jetstream kv state opened");
        Ok(JetStreamKvState { kv, bucket: options.bucket })
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn current(&self, key: &str) -> Result<Option<kv::Entry>, StateError> {
        self.kv.entry(key).await.map_err(js_err)
    }

    async fn current_revision(&self, key: &str) -> Option<u64> {
        match self.current(key).await {
            Ok(Some(e)) if e.operation == kv::Operation::Put => Some(e.revision),
            _ => None,
        }
    }

    async fn update(&self, key: &str, value: Bytes, last: u64, expected: Option<u64>) -> Result<u64, StateError> {
        match self.kv.update(key, value, last).await {
            Ok(revision) => Ok(revision),
            Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                let actual = self.current_revision(key).await;
                Err(StateError::Conflict(Conflict { key: key.to_owned(), expected, actual }))
            }
            Err(e) => Err(js_err(e)),
        }
    }
}

#[async_trait]
impl DurableState for JetStreamKvState {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, StateError> {
        validate_key(key)?;
        Ok(match self.current(key).await? {
            Some(e) if e.operation == kv::Operation::Put => Some(Entry { value: e.value, revision: e.revision }),
            _ => None,
        })
    }

    async fn put(&self, key: &str, value: Bytes) -> Result<u64, StateError> {
        validate_write(key, &value)?;
        self.kv.put(key, value).await.map_err(js_err)
    }

    async fn put_if(&self, key: &str, value: Bytes, expected: Option<u64>) -> Result<u64, StateError> {
        validate_write(key, &value)?;
        match expected {
            Some(revision) => self.update(key, value, revision, expected).await,
            None => match self.kv.update(key, value.clone(), 0).await {
                Ok(revision) => Ok(revision),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                    // The subject has messages: a live value (conflict) or a
                    // delete marker, which may be overwritten at its revision.
                    match self.current(key).await? {
                        Some(entry) if entry.operation != kv::Operation::Put => {
                            self.update(key, value, entry.revision, None).await
                        }
                        found => Err(StateError::Conflict(Conflict {
                            key: key.to_owned(),
                            expected: None,
                            actual: found.map(|e| e.revision),
                        })),
                    }
                }
                Err(e) => Err(js_err(e)),
            },
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StateError> {
        validate_key(key)?;
        self.kv.delete(key).await.map_err(js_err)
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        validate_prefix(prefix)?;
        let keys = self.kv.keys().await.map_err(js_err)?;
        let mut keys: Vec<String> =
            keys.try_filter(|k| std::future::ready(k.starts_with(prefix))).try_collect().await.map_err(js_err)?;
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays() {
        assert_eq!(reconnect_delay(1), Duration::ZERO);
        assert_eq!(reconnect_delay(2), Duration::from_millis(100));
        assert_eq!(reconnect_delay(3), Duration::from_millis(200));
        assert_eq!(reconnect_delay(100), Duration::from_secs(2));
        assert!(validate_bucket("a_b-C9").is_ok());
        assert!(validate_bucket("a.b").is_err());
        assert!(validate_bucket("").is_err());
    }
}
