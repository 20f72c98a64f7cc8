//! The embedded backend: one redb file, one table.
//!
//! Each value is stored as its 8-byte big-endian revision followed by its
//! bytes. The store's revision counter lives in the same table under
//! [`COUNTER_KEY`], a key no caller can use (`#` is not a key character), and
//! is bumped in the same write transaction as the value it numbers, so
//! revisions never repeat, also across crashes and reopenings. redb commits
//! with an fsync ([`redb::Durability::Immediate`], its default): a write is
//! durable when `put` returns. redb is synchronous, so every call runs on
//! tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use redb::{Database, ReadableTable, TableDefinition};

use crate::{Conflict, DurableState, Entry, StateError, validate_key, validate_prefix, validate_write};

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("qsafe_state");
/// Where the last revision handed out is kept.
const COUNTER_KEY: &str = "#revision";
const BACKEND: &str = "redb";

fn db_err(err: impl Into<redb::Error>) -> StateError {
    StateError::backend(BACKEND, err.into())
}

/// The embedded [`DurableState`] backend (see the module docs).
#[derive(Clone)]
pub struct RedbState {
    db: Arc<Database>,
    path: PathBuf,
}

impl std::fmt::Debug for RedbState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbState").field("path", &self.path).finish_non_exhaustive()
    }
}

fn decode(raw: &[u8]) -> Result<Entry, StateError> {
    if raw.len() < 8 {
        return Err(StateError::backend(BACKEND, "corrupt record: shorter than its revision"));
    }
    let (rev, value) = raw.split_at(8);
    let mut r = [0u8; 8];
    r.copy_from_slice(rev);
    Ok(Entry { value: Bytes::copy_from_slice(value), revision: u64::from_be_bytes(r) })
}

impl RedbState {
    /// Opens (or creates) the store at `path`, creating parent directories.
    ///
    /// A redb file can be open only once at a time; a second `open` of the same
    /// file (in this or another process) fails with a backend error.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StateError> {
        let path = path.as_ref().to_path_buf();
        let p = path.clone();
        let db = tokio::task::spawn_blocking(move || -> Result<Database, StateError> {
            if let Some(parent) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| {
                    StateError::backend(BACKEND, format!("creating directory {}: {e}", parent.display()))
                })?;
            }
            let db = Database::create(&p).map_err(|e| {
                StateError::backend(BACKEND, format!("opening {}: {}", p.display(), redb::Error::from(e)))
            })?;
            let txn = db.begin_write().map_err(db_err)?;
            txn.open_table(TABLE).map_err(db_err)?;
            txn.commit().map_err(db_err)?;
            Ok(db)
        })
        .await
        .map_err(|e| StateError::backend(BACKEND, format!("open task: {e}")))??;
        tracing::debug!(path = %path.display(), "redb state opened");
        Ok(RedbState { db: Arc::new(db), path })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, StateError> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| StateError::backend(BACKEND, format!("blocking task: {e}")))?
    }

    /// One write transaction: `decide` sees the key's current entry and returns
    /// `Ok(Some(value))` to store it under a fresh revision, `Ok(None)` to
    /// remove the key, or an error to abort (nothing changes).
    async fn write<F>(&self, key: String, decide: F) -> Result<u64, StateError>
    where
        F: FnOnce(Option<Entry>) -> Result<Option<Bytes>, StateError> + Send + 'static,
    {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(db_err)?;
            let revision = {
                let mut table = txn.open_table(TABLE).map_err(db_err)?;
                let current = match table.get(key.as_str()).map_err(db_err)? {
                    Some(raw) => Some(decode(raw.value())?),
                    None => None,
                };
                let last = match table.get(COUNTER_KEY).map_err(db_err)? {
                    Some(raw) => decode(raw.value())?.revision,
                    None => 0,
                };
                let revision = last + 1;
                match decide(current)? {
                    Some(value) => {
                        let mut record = Vec::with_capacity(8 + value.len());
                        record.extend_from_slice(&revision.to_be_bytes());
                        record.extend_from_slice(&value);
                        table.insert(key.as_str(), record.as_slice()).map_err(db_err)?;
                    }
                    None => {
                        table.remove(key.as_str()).map_err(db_err)?;
                    }
                }
                table.insert(COUNTER_KEY, revision.to_be_bytes().as_slice()).map_err(db_err)?;
                revision
            };
            txn.commit().map_err(db_err)?;
            Ok(revision)
        })
        .await
    }
}

#[async_trait]
impl DurableState for RedbState {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, StateError> {
        validate_key(key)?;
        let key = key.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let table = txn.open_table(TABLE).map_err(db_err)?;
            match table.get(key.as_str()).map_err(db_err)? {
                Some(raw) => Ok(Some(decode(raw.value())?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn put(&self, key: &str, value: Bytes) -> Result<u64, StateError> {
        validate_write(key, &value)?;
        self.write(key.to_owned(), move |_| Ok(Some(value))).await
    }

    async fn put_if(&self, key: &str, value: Bytes, expected: Option<u64>) -> Result<u64, StateError> {
        validate_write(key, &value)?;
        let k = key.to_owned();
        self.write(key.to_owned(), move |current| {
            let actual = current.map(|e| e.revision);
            if actual == expected {
                Ok(Some(value))
            } else {
                Err(StateError::Conflict(Conflict { key: k, expected, actual }))
            }
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StateError> {
        validate_key(key)?;
        self.write(key.to_owned(), |_| Ok(None)).await.map(|_| ())
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        validate_prefix(prefix)?;
        let prefix = prefix.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let table = txn.open_table(TABLE).map_err(db_err)?;
            let mut keys = Vec::new();
            for item in table.range(prefix.as_str()..).map_err(db_err)? {
                let (k, _) = item.map_err(db_err)?;
                let k = k.value();
                if !k.starts_with(prefix.as_str()) {
                    break;
                }
                if k != COUNTER_KEY {
                    keys.push(k.to_owned());
                }
            }
            Ok(keys)
        })
        .await
    }
}
