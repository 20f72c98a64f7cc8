//! Persistence of A1 policies: a small [`PolicyStore`] trait the service
//! calls *before* it answers 200/201/204, an in-memory store, and a JSON
//! file store.
//!
//! Why write-before-answer: an A1-P consumer that got 201 must find its
//! policy after the xApp restarts, or it would never re-send it (the PMS
//! only re-pushes after a RIC restart it noticed). A store failure is
//! therefore a 503 with nothing changed, never a 201 that is later lost.
//!
//! Why synchronous: the service core is sans-IO and runs under one lock; the
//! stores here are a few kilobytes of JSON, and the axum edge calls the core
//! from a blocking thread. A redb or JetStream backend adapts to the three
//! methods (`qsafe-state`).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One stored policy: what a restart needs to serve and re-apply it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredPolicy {
    /// The A1-P v2 policy type id.
    pub policy_type_id: String,
    /// The policy id.
    pub policy_id: String,
    /// The policy object as the consumer sent it (parsed).
    pub policy: Value,
    /// Where status changes are POSTed, if the consumer asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_destination: Option<String>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// File system error.
    #[error("policy store {path}: {op}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// The stored document is not what this crate writes.
    #[error("policy store {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The store refuses more data (maps to 507 Insufficient Storage).
    #[error("policy store is full: {reason}")]
    Full {
        /// Why.
        reason: String,
    },
    /// The store is not reachable now (a fault, or an injected one).
    #[error("policy store unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
}

/// Where the service keeps its policies across restarts.
///
/// `put` replaces a policy with the same (type, id); `delete` of an absent
/// policy is not an error. Each call is durable when it returns `Ok`.
pub trait PolicyStore: Send {
    /// Every stored policy (at start-up).
    fn load_all(&mut self) -> Result<Vec<StoredPolicy>, StoreError>;
    /// Creates or replaces one policy.
    fn put(&mut self, policy: &StoredPolicy) -> Result<(), StoreError>;
    /// Removes one policy.
    fn delete(&mut self, policy_type_id: &str, policy_id: &str) -> Result<(), StoreError>;
}

type Key = (String, String);

#[derive(Debug, Default)]
struct MemoryInner {
    policies: BTreeMap<Key, StoredPolicy>,
    fail_writes: bool,
}

/// An in-memory store (policies do not survive the process). Clones share
/// the same contents, so a test can look into, or break, the store the
/// service owns.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<MemoryInner>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes every later `put`/`delete` fail with [`StoreError::Unavailable`]
    /// (fault injection) until called with `false`.
    pub fn fail_writes(&self, fail: bool) {
        self.lock().fail_writes = fail;
    }

    /// A copy of the stored policies.
    pub fn snapshot(&self) -> Vec<StoredPolicy> {
        self.lock().policies.values().cloned().collect()
    }
}

impl PolicyStore for MemoryStore {
    fn load_all(&mut self) -> Result<Vec<StoredPolicy>, StoreError> {
        Ok(self.snapshot())
    }

    fn put(&mut self, policy: &StoredPolicy) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.fail_writes {
            return Err(StoreError::Unavailable { reason: "write failure injected".into() });
        }
        inner.policies.insert((policy.policy_type_id.clone(), policy.policy_id.clone()), policy.clone());
        Ok(())
    }

    fn delete(&mut self, policy_type_id: &str, policy_id: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.fail_writes {
            return Err(StoreError::Unavailable { reason: "write failure injected".into() });
        }
        inner.policies.remove(&(policy_type_id.to_owned(), policy_id.to_owned()));
        Ok(())
    }
}

/// Version of the file format.
const FILE_FORMAT_VERSION: u64 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct FileDocument {
    version: u64,
    policies: Vec<StoredPolicy>,
}

/// A store in one JSON file, rewritten whole on each change: written to a
/// temporary file next to it (mode 0600), synced, renamed over the old one,
/// and the directory synced, so a crash leaves the old or the new document,
/// never a torn one.
#[derive(Debug)]
pub struct JsonFileStore {
    path: PathBuf,
    policies: BTreeMap<Key, StoredPolicy>,
}

impl JsonFileStore {
    /// Opens (reads) the file at `path`; a missing file is an empty store
    /// (created on the first write).
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let path = path.into();
        let policies = match fs::read(&path) {
            Ok(bytes) => {
                let doc: FileDocument = serde_json::from_slice(&bytes)
                    .map_err(|e| StoreError::Corrupt { path: path.clone(), reason: e.to_string() })?;
                if doc.version != FILE_FORMAT_VERSION {
                    return Err(StoreError::Corrupt {
                        path,
                        reason: format!("format version {}, this build reads {FILE_FORMAT_VERSION}", doc.version),
                    });
                }
                doc.policies.into_iter().map(|p| ((p.policy_type_id.clone(), p.policy_id.clone()), p)).collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(StoreError::Io { path, op: "read", source }),
        };
        Ok(Self { path, policies })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&self, policies: &BTreeMap<Key, StoredPolicy>) -> Result<(), StoreError> {
        let doc = FileDocument { version: FILE_FORMAT_VERSION, policies: policies.values().cloned().collect() };
        let bytes = serde_json::to_vec_pretty(&doc)
            .map_err(|e| StoreError::Corrupt { path: self.path.clone(), reason: e.to_string() })?;
        let file_name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = self.path.with_file_name(format!(".{file_name}.tmp"));
        let io = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, op, source }
        };
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(io("create temporary file", &tmp))?;
        // The mode only applies on creation; a stale temp file keeps its own.
        #[cfg(unix)]
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600)).map_err(io("set permissions", &tmp))?;
        f.write_all(&bytes).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("sync", &tmp))?;
        drop(f);
        fs::rename(&tmp, &self.path).map_err(io("rename", &self.path))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Makes the rename durable; not all file systems allow it.
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl PolicyStore for JsonFileStore {
    fn load_all(&mut self) -> Result<Vec<StoredPolicy>, StoreError> {
        Ok(self.policies.values().cloned().collect())
    }

    fn put(&mut self, policy: &StoredPolicy) -> Result<(), StoreError> {
        let mut next = self.policies.clone();
        next.insert((policy.policy_type_id.clone(), policy.policy_id.clone()), policy.clone());
        self.write(&next)?;
        self.policies = next;
        Ok(())
    }

    fn delete(&mut self, policy_type_id: &str, policy_id: &str) -> Result<(), StoreError> {
        let key = (policy_type_id.to_owned(), policy_id.to_owned());
        if !self.policies.contains_key(&key) {
            return Ok(());
        }
        let mut next = self.policies.clone();
        next.remove(&key);
        self.write(&next)?;
        self.policies = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn p(id: &str) -> StoredPolicy {
        StoredPolicy {
            policy_type_id: "t".into(),
            policy_id: id.into(),
            policy: serde_json::json!({"x": id}),
            notification_destination: Some("http://127.0.0.1:1/n".into()),
        }
    }

    #[test]
    fn file_store_survives_reopen_and_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a1.json");
        let mut s = JsonFileStore::open(&path).expect("open");
        assert!(s.load_all().expect("load").is_empty());
        s.put(&p("a")).expect("put");
        s.put(&p("b")).expect("put");
        s.delete("t", "a").expect("delete");
        s.delete("t", "zzz").expect("absent delete is ok");
        let mut again = JsonFileStore::open(&path).expect("reopen");
        assert_eq!(again.load_all().expect("load"), vec![p("b")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(!dir.path().join(".a1.json.tmp").exists());
    }

    #[test]
    fn file_store_refuses_corrupt_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a1.json");
        fs::write(&path, b"{\"version\": 1, \"policies\": [").expect("write");
        assert!(matches!(JsonFileStore::open(&path), Err(StoreError::Corrupt { .. })));
        fs::write(&path, b"{\"version\": 9, \"policies\": []}").expect("write");
        assert!(matches!(JsonFileStore::open(&path), Err(StoreError::Corrupt { .. })));
    }

    #[test]
    fn failed_write_leaves_store_unchanged() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The "file" is a directory: rename over it fails.
        let path = dir.path().join("sub");
        fs::create_dir(&path).expect("mkdir");
        fs::write(path.join("keep"), b"x").expect("write");
        let mut s = JsonFileStore { path: path.clone(), policies: BTreeMap::new() };
        assert!(matches!(s.put(&p("a")), Err(StoreError::Io { .. })));
        assert!(s.load_all().expect("load").is_empty());
    }

    #[test]
    fn memory_store_fault_injection() {
        let mut s = MemoryStore::new();
        s.put(&p("a")).expect("put");
        s.fail_writes(true);
        assert!(matches!(s.put(&p("b")), Err(StoreError::Unavailable { .. })));
        assert!(matches!(s.delete("t", "a"), Err(StoreError::Unavailable { .. })));
        s.fail_writes(false);
        assert_eq!(s.snapshot(), vec![p("a")]);
    }
}
