//! The conformance suite against the embedded redb backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bytes::Bytes;
use qsafe_state::{DurableState, RedbState, StateConfig, conformance, open};

#[tokio::test]
async fn conformance_single_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&StateConfig::redb(dir.path().join("a/b/state.redb"))).await.unwrap();
    assert_eq!(store.backend(), "redb");
    conformance::run_all(store).await;
}

#[tokio::test]
async fn persistence_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/state.redb");
    let store = open(&StateConfig::redb(&path)).await.unwrap();
    let written = conformance::persistence_write(store.as_ref()).await;
    drop(store);
    let store = open(&StateConfig::redb(&path)).await.unwrap();
    conformance::persistence_check(store.as_ref(), &written).await;
}

#[tokio::test]
async fn second_open_of_the_same_file_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let first = RedbState::open(&path).await.unwrap();
    let err = RedbState::open(&path).await.unwrap_err();
    assert!(err.to_string().contains("state.redb"), "{err}");
    first.put("k", Bytes::from_static(b"v")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_get_distinct_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn DurableState> = Arc::new(RedbState::open(dir.path().join("s.redb")).await.unwrap());
    let mut tasks = Vec::new();
    for t in 0..4 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut revs = Vec::new();
            for i in 0..25 {
                revs.push(s.put(&format!("w{t}/{i}"), Bytes::from_static(b"x")).await.unwrap());
            }
            revs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let revs = t.await.unwrap();
        assert!(revs.windows(2).all(|w| w[0] < w[1]));
        all.extend(revs);
    }
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 100);
    assert_eq!(store.keys("w").await.unwrap().len(), 100);
}
