//! The publisher, the durable consumer and the view against a real
//! `nats-server -js` (started per test on a free port with a temporary store;
//! skipped without nats-server unless QSAFE_REQUIRE_NATS=1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use qsafe_events::{
    ConsumerConfig, E2SecurityEvent, E2SecurityView, EventConsumer, EventKind, EventPublisher, KeySource, LinkState,
    PublisherConfig, STREAM_NAME, Severity, subject_for_node,
};
use qsafe_state::testkit::NatsServer;

const IDLE: Duration = Duration::from_millis(1500);
const FLUSH: Duration = Duration::from_secs(20);

fn event(node: &str, i: u64) -> E2SecurityEvent {
    let kind = match i % 5 {
        0 => EventKind::LinkStateChanged { from: LinkState::Unprotected, to: LinkState::Protected },
        1 => EventKind::FreshnessViolation { what: "key-age".into(), value: 3700.0 + i as f64, limit: 3600.0 },
        2 => EventKind::RekeyResult {
            epoch: i,
            ok: true,
            key_source: Some(KeySource::Hybrid),
            latency_ms: Some(50 + i),
            cause: None,
        },
        3 => EventKind::AlarmRaised { alarm: format!("a{i}"), severity: Severity::Major, text: format!("alarm {i}") },
        _ => EventKind::AlarmCleared { alarm: format!("a{}", i - 1) },
    };
    E2SecurityEvent::new(node, kind)
}

fn consumer_config(server: &NatsServer, durable: &str) -> ConsumerConfig {
    ConsumerConfig {
        durable_name: durable.into(),
        ack_wait: Duration::from_secs(3),
        ..ConsumerConfig::new(server.url())
    }
}

async fn drain(consumer: &mut EventConsumer) -> Vec<E2SecurityEvent> {
    let mut got = Vec::new();
    consumer.process_until_idle(IDLE, |e| got.push(e.clone())).await.unwrap();
    got
}

fn ids(events: &[E2SecurityEvent]) -> Vec<String> {
    events.iter().map(|e| e.id.clone()).collect()
}

async fn stream_messages(server: &NatsServer) -> u64 {
    let client = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(client);
    let mut stream = js.get_stream(STREAM_NAME).await.unwrap();
    stream.info().await.unwrap().state.messages
}

#[tokio::test]
async fn publish_consume_round_trip() {
    let Some(server) = NatsServer::start("events publish_consume_round_trip") else { return };
    let publisher = EventPublisher::start(PublisherConfig::new(server.url())).unwrap();
    let nodes = ["gNB/001-01/0x1000:28", "ng-eNB 7.a*>", "gNB/001-01/0x2000:28"];
    let sent: Vec<E2SecurityEvent> = (0..15).map(|i| event(nodes[i as usize % 3], i)).collect();
    for e in &sent {
        publisher.publish(e).unwrap();
    }
    assert!(publisher.flush(FLUSH).await, "{:?}", publisher.stats());
    let stats = publisher.stats();
    assert_eq!((stats.enqueued, stats.published, stats.duplicates, stats.dropped, stats.queued), (15, 15, 0, 0, 0));

    let mut consumer = EventConsumer::connect(consumer_config(&server, "rapp")).await.unwrap();
    let got = drain(&mut consumer).await;
    assert_eq!(got, sent, "every event, in order, unchanged");
    let c = consumer.stats();
    assert_eq!((c.received, c.delivered, c.acked, c.duplicates, c.malformed), (15, 15, 15, 0, 0));

    // A consumer filtered on one node's subject sees exactly that node's events.
    let filtered =
        ConsumerConfig { filter_subject: subject_for_node("ng-eNB 7.a*>"), ..consumer_config(&server, "one-node") };
    let mut one = EventConsumer::connect(filtered).await.unwrap();
    let got = drain(&mut one).await;
    let want: Vec<_> = sent.iter().filter(|e| e.node == "ng-eNB 7.a*>").cloned().collect();
    assert_eq!(got, want);

    // The view built from the events.
    let mut view = E2SecurityView::new();
    for e in &sent {
        view.apply(e);
    }
    assert_eq!(view.nodes().count(), 3);
    assert_eq!(view.events_applied(), 15);
    publisher.shutdown(FLUSH).await;
}

#[tokio::test]
async fn duplicate_publish_is_stored_once() {
    let Some(server) = NatsServer::start("events duplicate_publish_is_stored_once") else { return };
    let publisher = EventPublisher::start(PublisherConfig::new(server.url())).unwrap();
    let e = event("gNB/1", 2);
    for _ in 0..3 {
        publisher.publish(&e).unwrap();
    }
    let other = event("gNB/1", 3);
    publisher.publish(&other).unwrap();
    assert!(publisher.flush(FLUSH).await);
    let stats = publisher.stats();
    assert_eq!((stats.published, stats.duplicates), (4, 2));
    assert_eq!(stream_messages(&server).await, 2);
    let mut consumer = EventConsumer::connect(consumer_config(&server, "rapp")).await.unwrap();
    assert_eq!(ids(&drain(&mut consumer).await), [e.id, other.id]);
}

#[tokio::test]
async fn consumer_drops_redelivered_ids_and_malformed_messages() {
    let Some(server) = NatsServer::start("events consumer_drops_redelivered_ids") else { return };
    let client = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(client);
    let mut consumer = EventConsumer::connect(consumer_config(&server, "rapp")).await.unwrap();
    // The consumer creates the stream when it is missing.
    assert!(consumer.next(Duration::from_millis(300)).await.unwrap().is_none());
    let e = event("gNB/2", 0);
    let json = e.to_json().unwrap();
    // Stored twice (no Nats-Msg-Id: the server can't tell), plus garbage.
    js.publish(e.subject(), json.clone().into()).await.unwrap().await.unwrap();
    js.publish(subject_for_node("gNB/2"), "not json".into()).await.unwrap().await.unwrap();
    js.publish(e.subject(), json.into()).await.unwrap().await.unwrap();
    let got = drain(&mut consumer).await;
    assert_eq!(ids(&got), [e.id.as_str()]);
    let s = consumer.stats();
    assert_eq!((s.received, s.delivered, s.duplicates, s.malformed), (3, 1, 1, 1));

    // A nak'd event comes back; an event dropped without ack comes back after
    // the ack wait.
    let e2 = event("gNB/2", 1);
    js.publish(e2.subject(), e2.to_json().unwrap().into()).await.unwrap().await.unwrap();
    let d = consumer.next(Duration::from_secs(5)).await.unwrap().unwrap();
    assert_eq!(d.event, e2);
    assert_eq!(d.delivered, 1);
    consumer.nak(d, None).await.unwrap();
    let d = consumer.next(Duration::from_secs(5)).await.unwrap().unwrap();
    assert_eq!((d.event.id.as_str(), d.delivered), (e2.id.as_str(), 2));
    drop(d);
    let start = Instant::now();
    let d = consumer.next(Duration::from_secs(10)).await.unwrap().unwrap();
    assert_eq!((d.event.id.as_str(), d.delivered), (e2.id.as_str(), 3));
    assert!(start.elapsed() >= Duration::from_secs(2), "redelivered after the 3 s ack wait");
    consumer.ack(d).await.unwrap();
    assert!(consumer.next(Duration::from_millis(500)).await.unwrap().is_none());
}

#[tokio::test]
async fn offline_consumer_replays_exactly_what_it_missed() {
    let Some(server) = NatsServer::start("events offline_consumer_replays") else { return };
    let publisher = EventPublisher::start(PublisherConfig::new(server.url())).unwrap();
    let first: Vec<_> = (0..5).map(|i| event("gNB/3", i)).collect();
    for e in &first {
        publisher.publish(e).unwrap();
    }
    assert!(publisher.flush(FLUSH).await);

    let mut consumer = EventConsumer::connect(consumer_config(&server, "rapp")).await.unwrap();
    assert_eq!(ids(&drain(&mut consumer).await), ids(&first));
    drop(consumer); // the rApp stops

    let missed: Vec<_> = (5..12).map(|i| event("gNB/3", i)).collect();
    for e in &missed {
        publisher.publish(e).unwrap();
    }
    assert!(publisher.flush(FLUSH).await);

    let mut consumer = EventConsumer::connect(consumer_config(&server, "rapp")).await.unwrap();
    let got = drain(&mut consumer).await;
    assert_eq!(ids(&got), ids(&missed), "exactly the missed events, in order");
    assert_eq!(consumer.stats().duplicates, 0);
    // Nothing more comes, also after the ack wait.
    assert!(consumer.next(Duration::from_secs(4)).await.unwrap().is_none());
}

#[tokio::test]
async fn server_restart_loses_nothing_acked() {
    let Some(mut server) = NatsServer::start("events server_restart_loses_nothing_acked") else { return };
    let publisher = EventPublisher::start(PublisherConfig::new(server.url())).unwrap();
    let before: Vec<_> = (0..10).map(|i| event("gNB/4", i)).collect();
    for e in &before {
        publisher.publish(e).unwrap();
    }
    assert!(publisher.flush(FLUSH).await);
    let mut consumer = EventConsumer::connect(consumer_config(&server, "rapp")).await.unwrap();
    assert_eq!(drain(&mut consumer).await.len(), 10);

    server.kill();
    server.start_again();

    let after: Vec<_> = (10..15).map(|i| event("gNB/4", i)).collect();
    for e in &after {
        publisher.publish(e).unwrap();
    }
    assert!(publisher.flush(FLUSH).await, "{:?}", publisher.stats());
    // The consumer that lived through the restart gets exactly the new ones.
    let mut got = Vec::new();
    let deadline = Instant::now() + FLUSH;
    while got.len() < after.len() && Instant::now() < deadline {
        got.extend(drain(&mut consumer).await);
    }
    assert_eq!(ids(&got), ids(&after));
    // A new durable consumer replays everything: nothing acked was lost.
    let mut fresh = EventConsumer::connect(consumer_config(&server, "audit")).await.unwrap();
    let all = drain(&mut fresh).await;
    assert_eq!(ids(&all), ids(&before.iter().chain(&after).cloned().collect::<Vec<_>>()));
    assert_eq!(stream_messages(&server).await, 15);
}

#[tokio::test]
async fn publisher_queue_drains_after_an_outage() {
    let Some(mut server) = NatsServer::start("events publisher_queue_drains_after_an_outage") else { return };
    let publisher = EventPublisher::start(PublisherConfig::new(server.url())).unwrap();
    let first = event("gNB/5", 0);
    publisher.publish(&first).unwrap();
    assert!(publisher.flush(FLUSH).await);

    server.kill();
    let during: Vec<_> = (1..21).map(|i| event("gNB/5", i)).collect();
    let start = Instant::now();
    for e in &during {
        publisher.publish(e).unwrap();
    }
    assert!(start.elapsed() < Duration::from_millis(200), "publish never waits for NATS");
    assert!(!publisher.flush(Duration::from_millis(500)).await, "nothing can be acked while NATS is down");
    assert_eq!(publisher.stats().queued, 20);

    server.start_again();
    assert!(publisher.flush(FLUSH).await, "{:?}", publisher.stats());
    let stats = publisher.stats();
    assert_eq!((stats.enqueued, stats.published, stats.dropped, stats.queued), (21, 21, 0, 0));
    assert!(stats.retries > 0);

    let mut consumer = EventConsumer::connect(consumer_config(&server, "rapp")).await.unwrap();
    let got = drain(&mut consumer).await;
    let want: Vec<_> = std::iter::once(&first).chain(&during).cloned().collect();
    assert_eq!(ids(&got), ids(&want));
    assert_eq!(stream_messages(&server).await, 21);
}

#[tokio::test]
async fn full_queue_drops_the_oldest_and_the_publisher_starts_without_nats() {
    let Some(mut server) = NatsServer::start("events full_queue_drops_the_oldest") else { return };
    server.kill();
    let config = PublisherConfig { queue_capacity: 5, ..PublisherConfig::new(server.url()) };
    let publisher = EventPublisher::start(config).unwrap();
    let sent: Vec<_> = (0..8).map(|i| event("gNB/6", i)).collect();
    for e in &sent {
        publisher.publish(e).unwrap();
    }
    let s = publisher.stats();
    assert_eq!((s.enqueued, s.dropped, s.queued), (8, 3, 5));
    server.start_again();
    assert!(publisher.flush(FLUSH).await, "{:?}", publisher.stats());
    let mut consumer = EventConsumer::connect(consumer_config(&server, "rapp")).await.unwrap();
    let got = drain(&mut consumer).await;
    assert_eq!(ids(&got), ids(&sent[3..]), "the newest five, in order");
    let unique: HashSet<_> = ids(&got).into_iter().collect();
    assert_eq!(unique.len(), 5);
    let stats = publisher.shutdown(FLUSH).await;
    assert_eq!(stats.queued, 0);
}

#[tokio::test]
async fn consumer_started_before_the_server_catches_up() {
    let Some(mut server) = NatsServer::start("events consumer_started_before_the_server") else { return };
    server.kill();
    let mut consumer = EventConsumer::connect(consumer_config(&server, "rapp")).await.unwrap();
    assert!(consumer.next(Duration::from_millis(500)).await.unwrap().is_none());
    server.start_again();
    let publisher = EventPublisher::start(PublisherConfig::new(server.url())).unwrap();
    let sent: Vec<_> = (0..3).map(|i| event("gNB/7", i)).collect();
    for e in &sent {
        publisher.publish(e).unwrap();
    }
    assert!(publisher.flush(FLUSH).await);
    let mut got = Vec::new();
    let deadline = Instant::now() + FLUSH;
    while got.len() < sent.len() && Instant::now() < deadline {
        got.extend(drain(&mut consumer).await);
    }
    assert_eq!(ids(&got), ids(&sent));
}

#[test]
fn invalid_events_are_refused_before_queueing() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        // No server needed: nothing is sent.
        let publisher = EventPublisher::start(PublisherConfig::new("nats://127.0.0.1:1")).unwrap();
        let mut e = event("gNB/8", 0);
        e.id = "has space".into();
        assert!(publisher.publish(&e).is_err());
        e.id = "ok".into();
        e.node = String::new();
        assert!(publisher.publish(&e).is_err());
        assert_eq!(publisher.stats().enqueued, 0);
        let bad = PublisherConfig { queue_capacity: 0, ..PublisherConfig::new("nats://127.0.0.1:1") };
        assert!(EventPublisher::start(bad).is_err());
    });
}
