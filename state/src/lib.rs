//! Durable state for the qsafe-ran xApp and rApp: one small key/value trait,
//! [`DurableState`], with two backends.
//!
//! * [`RedbState`] — embedded ([redb](https://docs.rs/redb)), one file, no
//!   server. The default: a single xApp or rApp replica on one host needs
//!   nothing else, and a demo or a test runs without infrastructure.
//! * [`JetStreamKvState`] — a NATS JetStream key/value bucket, used when a NATS
//!   URL is configured. The state then lives outside the pod: a restarted or
//!   rescheduled replica (another node, an empty volume) finds it again, and the
//!   same NATS deployment already carries the E2 security events
//!   (`qsafe-events`).
//!
//! Both give the same contract, checked by one conformance suite
//! (module `conformance`, feature `testkit`) run against each:
//!
//! * every write returns a **revision**; revisions only ever increase within a
//!   store (redb: a counter kept in the same transaction; JetStream: the KV
//!   revision, i.e. the bucket stream's sequence number);
//! * [`DurableState::put_if`] is a compare-and-set on the key's current
//!   revision (`None`: the key must not exist), so two replicas can't both
//!   win a rollout step or an epoch bump;
//! * a write is durable once it returned (redb commits with an fsync;
//!   JetStream stores the message to its file store before acking);
//! * keys and values are validated *before* anything is written: see
//!   [`validate_key`] and [`MAX_VALUE_LEN`].
//!
//! # Keys
//!
//! A key is 1 to [`MAX_KEY_LEN`] (256) bytes of `A-Z a-z 0-9 _ . = / -`, does
//! not start or end with `.`, and has no `..`. That is exactly what a JetStream
//! KV key may be (`[-/_=.a-zA-Z0-9]+`, no leading or trailing `.`; a key is a
//! subject suffix, so an empty token between two dots is refused too), so a key
//! valid here is valid in either backend and the two never disagree. Use `/` or
//! `.` as the hierarchy separator (`rollout/wave-3`, `epoch.gNB-001`).
//!
//! # Choosing a backend
//!
//! [`StateConfig`] is a TOML table (`backend = "redb"` with `path`, or
//! `backend = "jetstream"` with `nats-url` and `bucket`); [`open`] gives an
//! `Arc<dyn DurableState>` either way.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

mod jetstream;
mod redb_backend;

#[cfg(feature = "testkit")]
pub mod conformance;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use jetstream::{JetStreamKvState, JetStreamOptions, REQUIRED_MAX_PAYLOAD};
pub use redb_backend::RedbState;

/// Longest key, in bytes.
pub const MAX_KEY_LEN: usize = 256;
/// Largest value, in bytes (1 MiB).
pub const MAX_VALUE_LEN: usize = 1024 * 1024;

/// A stored value and the revision that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The value.
    pub value: Bytes,
    /// The revision of the write that stored it (as returned by that write).
    pub revision: u64,
}

/// A failed compare-and-set: the key's revision was not the expected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The key.
    pub key: String,
    /// The revision the caller expected (`None`: expected no value).
    pub expected: Option<u64>,
    /// The key's revision found (`None`: no value), when the backend could
    /// tell; another writer may have changed it again since.
    pub actual: Option<u64>,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn rev(r: Option<u64>) -> String {
            r.map_or_else(|| "no value".to_owned(), |r| format!("revision {r}"))
        }
        write!(
            f,
            "compare-and-set on {:?} failed: expected {}, found {}",
            self.key,
            rev(self.expected),
            rev(self.actual)
        )
    }
}

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The key is not valid (see [`validate_key`]); nothing was changed.
    #[error("invalid state key {key:?}: {reason}")]
    InvalidKey {
        /// The key (at most its first 64 characters).
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The value is larger than [`MAX_VALUE_LEN`]; nothing was changed.
    #[error("value for state key {key:?} is {len} bytes, more than the limit of {max} bytes")]
    ValueTooLarge {
        /// The key.
        key: String,
        /// The value's length.
        len: usize,
        /// The limit ([`MAX_VALUE_LEN`]).
        max: usize,
    },
    /// A compare-and-set found another revision; nothing was changed.
    #[error("{0}")]
    Conflict(Conflict),
    /// The configuration is not usable.
    #[error("state configuration: {0}")]
    Config(String),
    /// The backend failed (I/O, database, NATS); the operation may or may not
    /// have taken effect if it was a write whose answer was lost.
    #[error("{backend} state backend: {message}")]
    Backend {
        /// `redb` or `jetstream`.
        backend: &'static str,
        /// What failed.
        message: String,
    },
}

impl StateError {
    /// The conflict, if this is one.
    pub fn as_conflict(&self) -> Option<&Conflict> {
        match self {
            StateError::Conflict(c) => Some(c),
            _ => None,
        }
    }

    /// Whether this is a compare-and-set conflict.
    pub fn is_conflict(&self) -> bool {
        self.as_conflict().is_some()
    }

    pub(crate) fn backend(backend: &'static str, message: impl fmt::Display) -> Self {
        StateError::Backend { backend, message: message.to_string() }
    }
}

/// Durable key/value state with revisions and compare-and-set.
///
/// Object safe: the xApp and rApp hold an `Arc<dyn DurableState>` from
/// [`open`]. Every method validates its key (and value) first and changes
/// nothing when they are refused.
#[async_trait]
pub trait DurableState: Send + Sync + fmt::Debug {
    /// `"redb"` or `"jetstream"`.
    fn backend(&self) -> &'static str;

    /// The key's value and revision, `None` when it has none (never written,
    /// or deleted).
    async fn get(&self, key: &str) -> Result<Option<Entry>, StateError>;

    /// Stores the value unconditionally; returns the new revision.
    async fn put(&self, key: &str, value: Bytes) -> Result<u64, StateError>;

    /// Compare-and-set: stores the value only if the key's current revision is
    /// `expected` (`None`: only if the key has no value); returns the new
    /// revision, or [`StateError::Conflict`].
    async fn put_if(&self, key: &str, value: Bytes, expected: Option<u64>) -> Result<u64, StateError>;

    /// Removes the key's value (no error when it has none).
    async fn delete(&self, key: &str) -> Result<(), StateError>;

    /// Every key that has a value and starts with `prefix` (`""`: all), sorted.
    async fn keys(&self, prefix: &str) -> Result<Vec<String>, StateError>;
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'=' | b'/' | b'-')
}

fn shown(key: &str) -> String {
    key.chars().take(64).collect()
}

/// Checks a key: 1 to [`MAX_KEY_LEN`] bytes of `[A-Za-z0-9_.=/-]`, no leading
/// or trailing `.`, no `..` (the JetStream KV key rules, see the crate docs).
pub fn validate_key(key: &str) -> Result<(), StateError> {
    let bad = |reason| Err(StateError::InvalidKey { key: shown(key), reason });
    if key.is_empty() {
        return bad("empty");
    }
    if key.len() > MAX_KEY_LEN {
        return bad("longer than 256 bytes");
    }
    if !key.bytes().all(is_key_char) {
        return bad("only A-Z a-z 0-9 _ . = / - are allowed");
    }
    if key.starts_with('.') || key.ends_with('.') {
        return bad("starts or ends with '.'");
    }
    if key.contains("..") {
        return bad("contains '..'");
    }
    Ok(())
}

/// Checks a [`DurableState::keys`] prefix: empty, or at most [`MAX_KEY_LEN`]
/// bytes of the key characters.
pub fn validate_prefix(prefix: &str) -> Result<(), StateError> {
    if prefix.len() > MAX_KEY_LEN || !prefix.bytes().all(is_key_char) {
        return Err(StateError::InvalidKey {
            key: shown(prefix),
            reason: "a key prefix is at most 256 bytes of A-Z a-z 0-9 _ . = / -",
        });
    }
    Ok(())
}

/// Checks a key and a value for a write.
pub fn validate_write(key: &str, value: &[u8]) -> Result<(), StateError> {
    validate_key(key)?;
    if value.len() > MAX_VALUE_LEN {
        return Err(StateError::ValueTooLarge { key: shown(key), len: value.len(), max: MAX_VALUE_LEN });
    }
    Ok(())
}

/// Which backend [`open`] builds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// [`RedbState`] (default).
    #[default]
    Redb,
    /// [`JetStreamKvState`].
    Jetstream,
}

/// Default JetStream KV bucket name.
pub const DEFAULT_BUCKET: &str = "qsafe_state";

/// The `[state]` table of the xApp's and rApp's configuration.
///
/// ```toml
/// [state]
/// backend = "redb"                 # default
/// path = "/var/lib/qsafe/rapp.redb"
///
/// # or
/// [state]
/// backend = "jetstream"
/// nats-url = "nats://nats.smo:4222"
/// bucket = "qsafe_rapp"            # default "qsafe_state"
/// history = 1                      # revisions kept per key, 1..=64
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct StateConfig {
    /// The backend.
    #[serde(default)]
    pub backend: Backend,
    /// The redb file (required for `redb`; parent directories are created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The NATS server (required for `jetstream`), e.g. `nats://127.0.0.1:4222`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nats_url: Option<String>,
    /// The KV bucket (`jetstream`; `[A-Za-z0-9_-]+`, default [`DEFAULT_BUCKET`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Revisions kept per key (`jetstream`; 1 to 64, default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<u8>,
}

impl StateConfig {
    /// An embedded redb store at `path`.
    pub fn redb(path: impl Into<PathBuf>) -> Self {
        StateConfig { backend: Backend::Redb, path: Some(path.into()), nats_url: None, bucket: None, history: None }
    }

    /// A JetStream KV bucket on the NATS server at `url`.
    pub fn jetstream(url: impl Into<String>, bucket: impl Into<String>) -> Self {
        StateConfig {
            backend: Backend::Jetstream,
            path: None,
            nats_url: Some(url.into()),
            bucket: Some(bucket.into()),
            history: None,
        }
    }

    /// Checks that the fields the backend needs are there and valid (and that
    /// none of the other backend's are set, which would be a mistake).
    pub fn validate(&self) -> Result<(), StateError> {
        let err = |m: &str| Err(StateError::Config(m.to_owned()));
        match self.backend {
            Backend::Redb => {
                if self.path.as_deref().is_none_or(|p| p.as_os_str().is_empty()) {
                    return err("backend \"redb\" needs `path`");
                }
                if self.nats_url.is_some() || self.bucket.is_some() || self.history.is_some() {
                    return err("`nats-url`, `bucket` and `history` are for backend \"jetstream\"");
                }
            }
            Backend::Jetstream => {
                if self.nats_url.as_deref().is_none_or(str::is_empty) {
                    return err("backend \"jetstream\" needs `nats-url`");
                }
                if self.path.is_some() {
                    return err("`path` is for backend \"redb\"");
                }
                jetstream::validate_bucket(self.bucket_name())?;
                if !(1..=64).contains(&self.history.unwrap_or(1)) {
                    return err("`history` must be 1 to 64");
                }
            }
        }
        Ok(())
    }

    /// The bucket name in effect.
    pub fn bucket_name(&self) -> &str {
        self.bucket.as_deref().unwrap_or(DEFAULT_BUCKET)
    }
}

/// Opens the configured backend.
///
/// redb: creates the file (and its parent directories) if needed. JetStream:
/// connects (failing fast when the server can't be reached, so a
/// misconfiguration shows at start-up) and creates the bucket if it does not
/// exist; afterwards the client reconnects by itself.
pub async fn open(config: &StateConfig) -> Result<Arc<dyn DurableState>, StateError> {
    config.validate()?;
    match config.backend {
        Backend::Redb => {
            let path = config.path.clone().unwrap_or_default();
            Ok(Arc::new(RedbState::open(path).await?))
        }
        Backend::Jetstream => {
            let options = JetStreamOptions {
                bucket: config.bucket_name().to_owned(),
                history: config.history.unwrap_or(1),
                ..JetStreamOptions::default()
            };
            let url = config.nats_url.clone().unwrap_or_default();
            Ok(Arc::new(JetStreamKvState::connect(&url, options).await?))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn keys() {
        for ok in ["a", "rollout/wave-3", "epoch.gNB-001", "x=1", "A_b", &"k".repeat(256)] {
            validate_key(ok).unwrap();
        }
        for bad in ["", ".a", "a.", "a..b", "a b", "a*", "a>", "ä", "a\n", "#x", "a:b", "a%", &"k".repeat(257), "a\0"]
        {
            assert!(matches!(validate_key(bad), Err(StateError::InvalidKey { .. })), "{bad:?}");
        }
        validate_prefix("").unwrap();
        validate_prefix("a.").unwrap();
        assert!(validate_prefix("a*").is_err());
        assert!(matches!(
            validate_write("k", &vec![0; MAX_VALUE_LEN + 1]),
            Err(StateError::ValueTooLarge { len, .. }) if len == MAX_VALUE_LEN + 1
        ));
        validate_write("k", &vec![0; MAX_VALUE_LEN]).unwrap();
    }

    #[test]
    fn config_from_toml() {
        let c: StateConfig = toml::from_str("path = \"/tmp/x.redb\"").unwrap();
        assert_eq!(c, StateConfig::redb("/tmp/x.redb"));
        c.validate().unwrap();
        let c: StateConfig =
            toml::from_str("backend = \"jetstream\"\nnats-url = \"nats://127.0.0.1:4222\"\nbucket = \"b-1\"").unwrap();
        assert_eq!(c, StateConfig::jetstream("nats://127.0.0.1:4222", "b-1"));
        c.validate().unwrap();
        assert!(toml::from_str::<StateConfig>("backend = \"redb\"\npth = \"x\"").is_err());
        assert!(toml::from_str::<StateConfig>("backend = \"etcd\"").is_err());
        let no_path: StateConfig = toml::from_str("backend = \"redb\"").unwrap();
        assert!(no_path.validate().is_err());
        let bad_bucket = StateConfig::jetstream("nats://x", "a.b");
        assert!(bad_bucket.validate().is_err());
        let mixed: StateConfig = toml::from_str("path = \"x\"\nnats-url = \"nats://x\"").unwrap();
        assert!(mixed.validate().is_err());
    }
}
