//! The [`DurableState`] contract as one suite, run against every backend
//! (feature `testkit`; see `tests/redb.rs` and `tests/jetstream.rs`).
//!
//! Each check takes a store and uses its own key prefix, so they can share one
//! store; they panic on the first violation. [`run_all`] runs every
//! single-store check; persistence is two halves, [`persistence_write`] before
//! the store is closed (redb) or its server restarted (JetStream), and
//! [`persistence_check`] on the store opened again.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::{DurableState, Entry, MAX_KEY_LEN, MAX_VALUE_LEN, StateError};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Every single-store check, in order.
pub async fn run_all(store: Arc<dyn DurableState>) {
    put_get_delete(store.as_ref()).await;
    revisions_increase(store.as_ref()).await;
    compare_and_set(store.clone()).await;
    prefix_listing(store.as_ref()).await;
    bad_keys_refused(store.as_ref()).await;
    value_limit(store.as_ref()).await;
}

/// put, get, overwrite, delete, delete again, write after delete; empty values.
pub async fn put_get_delete(s: &dyn DurableState) {
    assert_eq!(s.get("pgd/a").await.unwrap(), None, "a key never written has no value");
    let r1 = s.put("pgd/a", b("one")).await.unwrap();
    assert_eq!(s.get("pgd/a").await.unwrap(), Some(Entry { value: b("one"), revision: r1 }));
    let r2 = s.put("pgd/a", b("two")).await.unwrap();
    assert!(r2 > r1, "overwrite: revision {r2} after {r1}");
    assert_eq!(s.get("pgd/a").await.unwrap(), Some(Entry { value: b("two"), revision: r2 }));
    s.delete("pgd/a").await.unwrap();
    assert_eq!(s.get("pgd/a").await.unwrap(), None, "deleted");
    s.delete("pgd/a").await.unwrap();
    s.delete("pgd/never").await.unwrap();
    assert!(s.keys("pgd/").await.unwrap().is_empty(), "a deleted key is not listed");
    let r3 = s.put("pgd/a", b("three")).await.unwrap();
    assert!(r3 > r2);
    assert_eq!(s.get("pgd/a").await.unwrap().unwrap().value, b("three"));
    let r4 = s.put("pgd/empty", Bytes::new()).await.unwrap();
    assert_eq!(s.get("pgd/empty").await.unwrap(), Some(Entry { value: Bytes::new(), revision: r4 }));
    let binary: Vec<u8> = (0..=255).collect();
    s.put("pgd/binary", Bytes::from(binary.clone())).await.unwrap();
    assert_eq!(s.get("pgd/binary").await.unwrap().unwrap().value, binary);
}

/// Revisions strictly increase over writes to any key, deletes included.
pub async fn revisions_increase(s: &dyn DurableState) {
    let mut last = 0;
    for i in 0..30 {
        let key = format!("rev/k{}", i % 4);
        if i % 7 == 6 {
            s.delete(&key).await.unwrap();
            continue;
        }
        let r = s.put(&key, Bytes::from(format!("v{i}"))).await.unwrap();
        assert!(r > last, "write {i}: revision {r} not above {last}");
        last = r;
        let r = s.put_if(&key, Bytes::from(format!("w{i}")), Some(r)).await.unwrap();
        assert!(r > last, "cas {i}: revision {r} not above {last}");
        last = r;
        assert_eq!(s.get(&key).await.unwrap().unwrap().revision, r);
    }
}

/// Compare-and-set: create-only, expected revision, conflicts change nothing,
/// and of concurrent writers expecting the same revision exactly one wins.
pub async fn compare_and_set(s: Arc<dyn DurableState>) {
    let r1 = s.put_if("cas/a", b("first"), None).await.unwrap();
    let err = s.put_if("cas/a", b("second"), None).await.unwrap_err();
    let c = err.as_conflict().unwrap_or_else(|| panic!("expected a conflict, got {err}"));
    assert_eq!((c.key.as_str(), c.expected, c.actual), ("cas/a", None, Some(r1)));
    let err = s.put_if("cas/a", b("second"), Some(r1 + 1000)).await.unwrap_err();
    let c = err.as_conflict().unwrap_or_else(|| panic!("expected a conflict, got {err}"));
    assert_eq!((c.expected, c.actual), (Some(r1 + 1000), Some(r1)));
    assert_eq!(
        s.get("cas/a").await.unwrap(),
        Some(Entry { value: b("first"), revision: r1 }),
        "conflicts change nothing"
    );
    let r2 = s.put_if("cas/a", b("second"), Some(r1)).await.unwrap();
    assert!(r2 > r1);
    assert_eq!(s.get("cas/a").await.unwrap(), Some(Entry { value: b("second"), revision: r2 }));
    let stale = s.put_if("cas/a", b("stale"), Some(r1)).await.unwrap_err();
    assert!(stale.is_conflict(), "{stale}");

    let err = s.put_if("cas/missing", b("x"), Some(r2)).await.unwrap_err();
    let c = err.as_conflict().unwrap_or_else(|| panic!("expected a conflict, got {err}"));
    assert_eq!((c.expected, c.actual), (Some(r2), None));
    assert_eq!(s.get("cas/missing").await.unwrap(), None);

    // After a delete the key may be created again.
    s.delete("cas/a").await.unwrap();
    let err = s.put_if("cas/a", b("x"), Some(r2)).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");
    let r3 = s.put_if("cas/a", b("again"), None).await.unwrap();
    assert!(r3 > r2);
    assert_eq!(s.get("cas/a").await.unwrap().unwrap().value, b("again"));

    // Racing writers: exactly one wins each round.
    for round in 0..3 {
        let base = s.get("cas/a").await.unwrap().unwrap().revision;
        let mut tasks = Vec::new();
        for w in 0..6 {
            let s = Arc::clone(&s);
            tasks.push(tokio::spawn(async move {
                s.put_if("cas/a", Bytes::from(format!("round {round} writer {w}")), Some(base)).await
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(r) => winners.push(r),
                Err(e) => assert!(e.is_conflict(), "{e}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert_eq!(s.get("cas/a").await.unwrap().unwrap().revision, winners[0]);
    }
}

/// keys(prefix): exactly the live keys with that prefix, sorted.
pub async fn prefix_listing(s: &dyn DurableState) {
    for k in ["pfx/b", "pfx/a", "pfx/c/d", "pfx/c.e", "pfxq", "pfx-other", "pfx/gone"] {
        s.put(k, b(k)).await.unwrap();
    }
    s.delete("pfx/gone").await.unwrap();
    assert_eq!(s.keys("pfx/").await.unwrap(), ["pfx/a", "pfx/b", "pfx/c.e", "pfx/c/d"]);
    assert_eq!(s.keys("pfx/c").await.unwrap(), ["pfx/c.e", "pfx/c/d"]);
    assert_eq!(s.keys("pfx").await.unwrap(), ["pfx-other", "pfx/a", "pfx/b", "pfx/c.e", "pfx/c/d", "pfxq"]);
    assert!(s.keys("pfx/none/").await.unwrap().is_empty());
    let all = s.keys("").await.unwrap();
    assert!(all.windows(2).all(|w| w[0] < w[1]), "sorted and unique: {all:?}");
    for k in ["pfx/a", "pfxq", "pfx-other"] {
        assert!(all.iter().any(|a| a == k), "{k} in {all:?}");
    }
    assert!(!all.iter().any(|a| a == "pfx/gone"));
    assert!(matches!(s.keys("pfx*").await, Err(StateError::InvalidKey { .. })));
}

async fn snapshot(s: &dyn DurableState) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    for k in s.keys("").await.unwrap() {
        if let Some(e) = s.get(&k).await.unwrap() {
            out.insert(k, e);
        }
    }
    out
}

/// Invalid keys: every operation refuses them with [`StateError::InvalidKey`],
/// and the store is unchanged afterwards.
pub async fn bad_keys_refused(s: &dyn DurableState) {
    s.put("bad/guard", b("guard")).await.unwrap();
    let before = snapshot(s).await;
    let long = "k".repeat(MAX_KEY_LEN + 1);
    let bad = [
        "",
        ".lead",
        "trail.",
        "a..b",
        "with space",
        "star*",
        "gt>",
        "colon:x",
        "percent%",
        "hash#revision",
        "#revision",
        "tab\t",
        "nl\n",
        "nul\0",
        "umlaut-ä",
        "back\\slash",
        long.as_str(),
    ];
    for key in bad {
        let is_invalid = |r: &Result<_, StateError>| matches!(r, Err(StateError::InvalidKey { .. }));
        assert!(is_invalid(&s.put(key, b("x")).await.map(|_| ())), "put {key:?}");
        assert!(is_invalid(&s.put_if(key, b("x"), None).await.map(|_| ())), "put_if {key:?}");
        assert!(is_invalid(&s.put_if(key, b("x"), Some(1)).await.map(|_| ())), "put_if {key:?}");
        assert!(is_invalid(&s.get(key).await.map(|_| ())), "get {key:?}");
        assert!(is_invalid(&s.delete(key).await), "delete {key:?}");
    }
    let ok_long = "k".repeat(MAX_KEY_LEN);
    assert!(s.get(&ok_long).await.unwrap().is_none(), "a {MAX_KEY_LEN}-byte key is valid");
    assert_eq!(snapshot(s).await, before, "refused keys changed the store");
    let err = s.put("", b("x")).await.unwrap_err();
    assert!(err.to_string().contains("invalid state key"), "{err}");
}

/// Values up to [`MAX_VALUE_LEN`] are stored; larger ones are refused with
/// [`StateError::ValueTooLarge`] and change nothing.
pub async fn value_limit(s: &dyn DurableState) {
    let big: Bytes = (0..MAX_VALUE_LEN).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into();
    let r = s.put("big/max", big.clone()).await.unwrap();
    assert_eq!(s.get("big/max").await.unwrap(), Some(Entry { value: big.clone(), revision: r }));
    let r = s.put_if("big/max", big.clone(), Some(r)).await.unwrap();
    let too_big = Bytes::from(vec![7u8; MAX_VALUE_LEN + 1]);
    let err = s.put("big/max", too_big.clone()).await.unwrap_err();
    assert!(
        matches!(err, StateError::ValueTooLarge { len, max, .. } if len == MAX_VALUE_LEN + 1 && max == MAX_VALUE_LEN),
        "{err}"
    );
    assert!(matches!(s.put_if("big/max", too_big.clone(), Some(r)).await, Err(StateError::ValueTooLarge { .. })));
    assert!(matches!(s.put_if("big/new", too_big, None).await, Err(StateError::ValueTooLarge { .. })));
    assert_eq!(s.get("big/max").await.unwrap(), Some(Entry { value: big, revision: r }), "unchanged");
    assert_eq!(s.get("big/new").await.unwrap(), None);
    s.delete("big/max").await.unwrap();
}

/// What [`persistence_write`] stored, for [`persistence_check`].
#[derive(Debug, Clone)]
pub struct Written {
    entries: BTreeMap<String, Entry>,
    last_revision: u64,
}

/// The first half of the persistence check: writes puts, a CAS, a delete and
/// a large value; returns what the store must hold after reopening.
pub async fn persistence_write(s: &dyn DurableState) -> Written {
    for i in 0..20 {
        s.put(&format!("persist/k{i:02}"), Bytes::from(format!("value {i}"))).await.unwrap();
    }
    let r = s.get("persist/k03").await.unwrap().unwrap().revision;
    s.put_if("persist/k03", b("cas"), Some(r)).await.unwrap();
    s.put_if("persist/created", b("created"), None).await.unwrap();
    s.delete("persist/k05").await.unwrap();
    s.put("persist/big", Bytes::from(vec![0x5a; 512 * 1024])).await.unwrap();
    let last_revision = s.put("persist/last", b("last")).await.unwrap();
    let entries: BTreeMap<String, Entry> =
        snapshot(s).await.into_iter().filter(|(k, _)| k.starts_with("persist/")).collect();
    assert_eq!(entries.len(), 22);
    Written { entries, last_revision }
}

/// The second half: everything written is there with its revision, the
/// deleted key is still gone, and new revisions continue above the old ones.
pub async fn persistence_check(s: &dyn DurableState, written: &Written) {
    let now: BTreeMap<String, Entry> =
        snapshot(s).await.into_iter().filter(|(k, _)| k.starts_with("persist/")).collect();
    assert_eq!(now.keys().collect::<Vec<_>>(), written.entries.keys().collect::<Vec<_>>());
    assert_eq!(now, written.entries, "values or revisions changed across reopening");
    assert_eq!(s.get("persist/k05").await.unwrap(), None);
    let r = s.put("persist/after", b("after")).await.unwrap();
    assert!(r > written.last_revision, "revision {r} after reopening, {} before", written.last_revision);
    let old = written.entries["persist/k03"].revision;
    s.put_if("persist/k03", b("cas again"), Some(old)).await.unwrap();
}
