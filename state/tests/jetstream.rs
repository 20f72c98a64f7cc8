//! The conformance suite against the JetStream KV backend, on a real
//! `nats-server -js` (skipped without one unless QSAFE_REQUIRE_NATS=1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use qsafe_state::testkit::NatsServer;
use qsafe_state::{DurableState, JetStreamKvState, JetStreamOptions, StateConfig, StateError, conformance, open};

#[tokio::test]
async fn conformance_single_store() {
    let Some(server) = NatsServer::start("jetstream conformance_single_store") else { return };
    let store = open(&StateConfig::jetstream(server.url(), "conformance")).await.unwrap();
    assert_eq!(store.backend(), "jetstream");
    conformance::run_all(store).await;
}

#[tokio::test]
async fn persistence_across_server_restart() {
    let Some(mut server) = NatsServer::start("jetstream persistence_across_server_restart") else { return };
    let config = StateConfig::jetstream(server.url(), "persist");
    let options = JetStreamOptions {
        bucket: "persist".into(),
        request_timeout: Duration::from_millis(500),
        ..JetStreamOptions::default()
    };
    let store = JetStreamKvState::connect(&server.url(), options).await.unwrap();
    let written = conformance::persistence_write(&store).await;

    server.kill();
    let err = store.get("persist/k00").await.unwrap_err();
    assert!(matches!(err, StateError::Backend { .. }), "{err}");
    server.start_again();

    // The old handle's client reconnects by itself...
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match store.get("persist/k00").await {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for the reconnection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no reconnection: {e}"),
        }
    }
    conformance::persistence_check(&store, &written).await;
    drop(store);

    // ...and a fresh connection sees the same.
    server.restart();
    let store = open(&config).await.unwrap();
    let now = store.get("persist/after").await.unwrap().unwrap();
    assert_eq!(now.value, Bytes::from_static(b"after"));
    assert_eq!(store.keys("persist/").await.unwrap().len(), 23);
}

#[tokio::test]
async fn connect_failures_are_clear() {
    let Some(mut server) = NatsServer::start("jetstream connect_failures_are_clear") else { return };
    let url = server.url();
    server.kill();
    let options = JetStreamOptions { connect_timeout: Duration::from_secs(1), ..JetStreamOptions::default() };
    let err = JetStreamKvState::connect(&url, options).await.unwrap_err();
    assert!(err.to_string().contains(&url), "{err}");
    let err = open(&StateConfig::jetstream(&url, "bad.bucket")).await.unwrap_err();
    assert!(matches!(err, StateError::Config(_)), "{err}");
}

#[tokio::test]
async fn history_is_configurable() {
    let Some(server) = NatsServer::start("jetstream history_is_configurable") else { return };
    let options = JetStreamOptions { bucket: "hist".into(), history: 5, ..JetStreamOptions::default() };
    let store = JetStreamKvState::connect(&server.url(), options.clone()).await.unwrap();
    let r = store.put("k", Bytes::from_static(b"1")).await.unwrap();
    // Opening an existing bucket binds to it.
    let again = JetStreamKvState::connect(&server.url(), options).await.unwrap();
    assert_eq!(again.get("k").await.unwrap().unwrap().revision, r);
    assert_eq!(again.bucket(), "hist");
}

#[tokio::test]
async fn small_max_payload_is_refused() {
    let Some(server) = NatsServer::start_with_max_payload("jetstream small_max_payload_is_refused", 1024 * 1024) else {
        return;
    };
    let err = open(&StateConfig::jetstream(server.url(), "small")).await.unwrap_err();
    assert!(matches!(err, StateError::Config(_)) && err.to_string().contains("max_payload"), "{err}");
}
