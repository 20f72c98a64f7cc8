//! The client against a real KME pair over mutual TLS on loopback (ML-DSA-65 certificates,
//! X25519MLKEM768): key agreement between master and slave, the spec's errors, KME ID checks,
//! retries, timeouts, and the prefetch buffer.

mod support;

use std::sync::Arc;
use std::time::Duration;

use qsafe_qkd::api::{KeyIds, KeyRequest, messages};
use qsafe_qkd::client::{ClientConfig, ClientError, Etsi014Client, IdSource, RetryPolicy};
use qsafe_qkd::kme::Site;
use qsafe_qkd::prefetch::{PrefetchBuffer, PrefetchObserver, RefillPolicy, TakeError};
use support::{KME_IDS, MASTER, Pki, SLAVE, STRANGER, TestKme, fast_retry, link_config};
use tokio::sync::mpsc;

#[tokio::test]
async fn master_and_slave_agree_on_key_bytes() {
    let pki = Pki::new();
    let kme = TestKme::start(&pki, link_config()).await;
    let master = kme.client(&pki, MASTER, Site::A, KME_IDS[0], RetryPolicy::NONE);
    let slave = kme.client(&pki, SLAVE, Site::B, KME_IDS[1], RetryPolicy::NONE);

    let status = master.status(SLAVE).await.unwrap();
    assert_eq!((status.source_kme_id.as_str(), status.target_kme_id.as_str()), ("KME_A", "KME_B"));
    assert_eq!((status.master_sae_id.as_str(), status.slave_sae_id.as_str()), (MASTER, SLAVE));
    assert!(status.stored_key_count >= 100);

    let issued = master.enc_keys(SLAVE, &KeyRequest::new(3, Some(512))).await.unwrap();
    assert_eq!(issued.keys.len(), 3);
    assert!(issued.keys.iter().all(|k| k.key.len_bits() == 512));
    let ids = KeyIds::new(issued.keys.iter().map(|k| k.key_id));
    let fetched = slave.dec_keys(MASTER, &ids).await.unwrap();
    assert_eq!(fetched.keys, issued.keys, "same IDs and key bytes at both ends");
    // Exactly once.
    let again = slave.dec_keys(MASTER, &ids).await.unwrap_err();
    assert!(matches!(&again, ClientError::BadRequest(b) if b.message == messages::KEYS_NOT_FOUND), "{again:?}");

    // The GET forms.
    let issued = master.enc_keys_get(SLAVE, &KeyRequest::new(2, None)).await.unwrap();
    let fetched = slave.dec_keys_get(MASTER, &KeyIds::new(issued.keys.iter().map(|k| k.key_id))).await.unwrap();
    assert_eq!(fetched.keys, issued.keys);

    // Connections were reused: a handful of calls, one connection per client.
    assert_eq!(master.stats().connections_opened, 1);
    assert_eq!(slave.stats().connections_opened, 1);
}

#[tokio::test]
async fn an_sae_that_is_not_the_slave_gets_401() {
    let pki = Pki::new();
    let kme = TestKme::start(&pki, link_config()).await;
    let master = kme.client(&pki, MASTER, Site::A, KME_IDS[0], fast_retry(3));
    let stranger = kme.client(&pki, STRANGER, Site::B, KME_IDS[1], fast_retry(3));
    let slave = kme.client(&pki, SLAVE, Site::B, KME_IDS[1], fast_retry(3));
    let issued = master.enc_keys(SLAVE, &KeyRequest::new(1, None)).await.unwrap();
    let ids = KeyIds::new([issued.keys[0].key_id]);
    let err = stranger.dec_keys(MASTER, &ids).await.unwrap_err();
    assert!(matches!(err, ClientError::Unauthorized), "{err:?}");
    assert_eq!(stranger.stats().attempts, 1, "401 is not retried");
    // The refusal changed nothing: the slave still gets the key.
    assert_eq!(slave.dec_keys(MASTER, &ids).await.unwrap().keys, issued.keys);
}

#[tokio::test]
async fn a_kme_with_the_wrong_id_is_refused_before_any_request() {
    let pki = Pki::new();
    let kme = TestKme::start(&pki, link_config()).await;
    // Site A presents KME_A; this client expects KME_B.
    let confused = kme.client(&pki, MASTER, Site::A, KME_IDS[1], fast_retry(3));
    let before = kme.with_link(|l| l.stats());
    let err = confused.enc_keys(SLAVE, &KeyRequest::new(4, None)).await.unwrap_err();
    match &err {
        ClientError::KmeIdMismatch { expected, found, .. } => {
            assert_eq!(expected, "KME_B");
            assert_eq!(found, &vec!["KME_A".to_owned()]);
        }
        other => panic!("{other:?}"),
    }
    let after = kme.with_link(|l| l.stats());
    assert_eq!(after.enc_keys, before.enc_keys, "the KME never saw the request");
    assert_eq!(after.keys_issued_total, before.keys_issued_total);
    let stats = confused.stats();
    assert_eq!((stats.attempts, stats.kme_id_rejections), (1, 1), "a mismatch is not retried");

    // The same check through the URI subjectAltName.
    let by_uri = ClientConfig {
        kme_id_from: IdSource::SanUri,
        retry: RetryPolicy::NONE,
        ..ClientConfig::new(kme.base_url(Site::A), pki.client_tls(MASTER), "urn:etsi:qkd:kme:KME_A")
    };
    let by_uri = Etsi014Client::new(by_uri).unwrap();
    assert_eq!(by_uri.status(SLAVE).await.unwrap().source_kme_id, "KME_A");
}

#[tokio::test]
async fn a_status_naming_another_kme_is_refused() {
    let pki = Pki::new();
    // The certificate says KME_A, but the KME's status calls itself KME_X.
    let config = qsafe_qkd::kme::LinkConfig { kme_ids: ["KME_X".into(), "KME_B".into()], ..link_config() };
    let kme = TestKme::start(&pki, config).await;
    let client = kme.client(&pki, MASTER, Site::A, KME_IDS[0], RetryPolicy::NONE);
    match client.status(SLAVE).await.unwrap_err() {
        ClientError::KmeIdMismatch { found, found_in, .. } => {
            assert_eq!(found, vec!["KME_X".to_owned()]);
            assert!(found_in.contains("source_KME_ID"), "{found_in}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_503_burst_is_retried_then_served() {
    let pki = Pki::new();
    let kme = TestKme::start(&pki, link_config()).await;
    let master = kme.client(&pki, MASTER, Site::A, KME_IDS[0], fast_retry(4));
    kme.with_link(|l| l.faults().fail_next = 3);
    let issued = master.enc_keys(SLAVE, &KeyRequest::new(2, None)).await.unwrap();
    assert_eq!(issued.keys.len(), 2);
    let stats = master.stats();
    assert_eq!((stats.calls, stats.attempts, stats.retries), (1, 4, 3));
    assert_eq!(kme.with_link(|l| l.stats().enc_keys.unavailable), 3);

    // A longer burst exhausts the attempts: the last 503 and its body come back.
    kme.with_link(|l| l.faults().fail_next = 10);
    let err = master.enc_keys(SLAVE, &KeyRequest::new(2, None)).await.unwrap_err();
    match err {
        ClientError::Unavailable(Some(body)) => assert!(body.message.contains("injected"), "{body:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(master.stats().attempts, 8);
    // Not enough key material is a 503 too, with the KME's explanation.
    kme.with_link(|l| {
        l.faults().fail_next = 0;
        l.faults().link_down = true;
        l.drain();
    });
    let err = master.enc_keys(SLAVE, &KeyRequest::new(1, None)).await.unwrap_err();
    assert!(matches!(&err, ClientError::Unavailable(Some(b)) if b.message.contains("not enough")), "{err:?}");
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let pki = Pki::new();
    let kme = TestKme::start(&pki, link_config()).await;
    let master = kme.client(&pki, MASTER, Site::A, KME_IDS[0], fast_retry(4));
    let err = master.enc_keys(SLAVE, &KeyRequest::new(1, Some(12))).await.unwrap_err();
    assert!(matches!(&err, ClientError::BadRequest(b) if b.message == messages::SIZE_NOT_MULTIPLE_OF_8), "{err:?}");
    let err = master.enc_keys(SLAVE, &KeyRequest::new(17, None)).await.unwrap_err();
    assert!(matches!(&err, ClientError::BadRequest(b) if b.message == messages::PARAMETERS_OUT_OF_RANGE), "{err:?}");
    let stats = master.stats();
    assert_eq!((stats.calls, stats.attempts, stats.retries), (2, 2, 0));
}

#[tokio::test]
async fn slow_answers_time_out_and_dead_ports_are_transport_errors() {
    let pki = Pki::new();
    let kme = TestKme::start(&pki, link_config()).await;
    kme.with_link(|l| l.faults().extra_latency = Duration::from_secs(2));
    let config = ClientConfig {
        timeout: Duration::from_millis(200),
        retry: fast_retry(2),
        ..ClientConfig::new(kme.base_url(Site::A), pki.client_tls(MASTER), KME_IDS[0])
    };
    let client = Etsi014Client::new(config).unwrap();
    let err = client.status(SLAVE).await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout(d) if d == Duration::from_millis(200)), "{err:?}");
    assert_eq!(client.stats().attempts, 2, "a timeout is retried");

    // A port nobody listens on: connect fails, is retried, and is reported as such.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let config = ClientConfig {
        retry: fast_retry(3),
        ..ClientConfig::new(format!("https://localhost:{port}"), pki.client_tls(MASTER), KME_IDS[0])
    };
    let client = Etsi014Client::new(config).unwrap();
    let err = client.status(SLAVE).await.unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");
    assert_eq!(client.stats().attempts, 3);
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_rejected_by_the_kme() {
    let pki = Pki::new();
    let other = Pki::new();
    let kme = TestKme::start(&pki, link_config()).await;
    // Trusts the right root for the server but presents a certificate the KME does not trust.
    let identity = other.sae(MASTER);
    let tls = qsafe_pqc::tls::client_config(
        &[pki.root.certificate().clone()],
        Some(&identity),
        qsafe_pqc::tls::KeyExchangePolicy::HybridPreferred,
        qsafe_pqc::tls::AuthPolicy::MlDsaOnly,
    )
    .unwrap();
    let config = ClientConfig { retry: fast_retry(3), ..ClientConfig::new(kme.base_url(Site::A), tls, KME_IDS[0]) };
    let client = Etsi014Client::new(config).unwrap();
    let err = client.enc_keys(SLAVE, &KeyRequest::new(1, None)).await.unwrap_err();
    // TLS 1.3: the server's refusal arrives after the client's handshake completes, so it shows
    // as a TLS alert on the first read (an HTTP error) or as a handshake error.
    assert!(matches!(err, ClientError::Http(_) | ClientError::Tls { .. }), "{err:?}");
    assert_eq!(kme.with_link(|l| l.stats().keys_issued_total), 0);
}

/// Observer that forwards refill events to the test.
struct Events(mpsc::UnboundedSender<Result<usize, String>>);

impl PrefetchObserver for Events {
    fn on_refill(&self, _received: usize, level: usize) {
        let _ = self.0.send(Ok(level));
    }
    fn on_refill_error(&self, error: &ClientError, _level: usize) {
        let _ = self.0.send(Err(error.to_string()));
    }
}

/// Waits for refill events until one reports `level`.
async fn until_level(events: &mut mpsc::UnboundedReceiver<Result<usize, String>>, level: usize) {
    let wait = async {
        while let Some(event) = events.recv().await {
            if event == Ok(level) {
                return;
            }
        }
        panic!("observer gone");
    };
    tokio::time::timeout(Duration::from_secs(10), wait).await.expect("refill event");
}

#[tokio::test]
async fn the_prefetch_buffer_refills_below_low_water_and_recovers_after_link_down() {
    let pki = Pki::new();
    let kme = TestKme::start(&pki, link_config()).await;
    let master = kme.client(&pki, MASTER, Site::A, KME_IDS[0], fast_retry(2));
    let slave = kme.client(&pki, SLAVE, Site::B, KME_IDS[1], RetryPolicy::NONE);
    let policy = RefillPolicy {
        low_water: 4,
        capacity: 8,
        batch: 4,
        key_size: Some(256),
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
    };
    let (tx, mut events) = mpsc::unbounded_channel();
    let source = qsafe_qkd::prefetch::EncKeysSource { client: master.clone(), slave_sae_id: SLAVE.into() };
    let buffer = PrefetchBuffer::spawn_with_source(source, policy, Some(Arc::new(Events(tx)))).unwrap();
    until_level(&mut events, 8).await;
    assert_eq!(kme.with_link(|l| l.stats().keys_issued_total), 8);

    // A prefetched key is a real key: the slave gets the same bytes under its ID.
    let key = buffer.take().unwrap();
    let at_slave = slave.dec_keys(MASTER, &KeyIds::new([key.key_id])).await.unwrap();
    assert_eq!(at_slave.keys[0], key);

    // Down to 4 (not below low water): no refill. To 3: refill to capacity.
    for _ in 0..3 {
        buffer.take().unwrap();
    }
    assert_eq!(buffer.level(), 4);
    assert_eq!(kme.with_link(|l| l.stats().keys_issued_total), 8, "no refill at the low-water mark");
    buffer.take().unwrap();
    until_level(&mut events, 8).await;
    assert_eq!(kme.with_link(|l| l.stats().keys_issued_total), 13, "3 < 4 triggered a refill of 5");

    // The quantum link goes down and the store is empty: the buffer drains, refills fail.
    kme.with_link(|l| {
        l.faults().link_down = true;
        l.drain();
    });
    while buffer.take().is_some() {}
    match buffer.take_wait(Duration::from_secs(2)).await {
        Err(TakeError::Timeout { last_error: Some(e), .. }) => assert!(e.contains("503"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(buffer.stats().refill_errors >= 1);
    assert!(buffer.stats().consecutive_failures >= 1);

    // The link comes back: keys are generated again and the buffer recovers by itself.
    kme.with_link(|l| l.faults().link_down = false);
    let key = buffer.take_wait(Duration::from_secs(10)).await.unwrap();
    assert_eq!(key.key.len_bits(), 256);
    until_level(&mut events, 8).await;
    assert_eq!(buffer.stats().consecutive_failures, 0);
    buffer.stop().await;
}
