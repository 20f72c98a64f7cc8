use super::*;
use crate::api::{ErrorBody, KeyId, KeyMaterial};
use std::sync::atomic::{AtomicUsize, Ordering};

fn policy() -> RefillPolicy {
    RefillPolicy {
        low_water: 4,
        capacity: 10,
        batch: 4,
        key_size: None,
        base_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
    }
}

// ---------------------------------------------------------------------------------------------
// The state machine, without sockets or timers.

#[test]
fn policy_validation() {
    assert_eq!(RefillPolicy::default().validate(), Ok(()));
    assert_eq!(RefillPolicy { low_water: 0, ..policy() }.validate(), Err(PolicyError::ZeroLowWater));
    assert_eq!(
        RefillPolicy { capacity: 3, ..policy() }.validate(),
        Err(PolicyError::CapacityBelowLowWater { capacity: 3, low_water: 4 })
    );
    assert_eq!(RefillPolicy { batch: 0, ..policy() }.validate(), Err(PolicyError::ZeroBatch));
    assert_eq!(RefillPolicy { key_size: Some(12), ..policy() }.validate(), Err(PolicyError::KeySize(12)));
    assert!(RefillMachine::new(RefillPolicy { batch: 0, ..policy() }).is_err());
}

#[test]
fn fetches_below_low_water_until_capacity_with_hysteresis() {
    let now = Instant::now();
    let mut m = RefillMachine::new(policy()).unwrap();
    // Level at or above low water, not filling: idle.
    assert_eq!(m.poll(4, now), Decision::Idle);
    assert_eq!(m.poll(10, now), Decision::Idle);
    // Below low water: fetch a batch.
    assert_eq!(m.poll(3, now), Decision::Fetch { number: 4 });
    assert_eq!(m.inflight(), Some(4));
    // Only one fetch in flight.
    assert_eq!(m.poll(0, now), Decision::Idle);
    m.on_outcome(RefillOutcome::Filled { received: 4 }, now);
    // 7 is above low water, but the buffer keeps filling until capacity.
    assert_eq!(m.poll(7, now), Decision::Fetch { number: 3 }, "never more than the room left");
    m.on_outcome(RefillOutcome::Filled { received: 3 }, now);
    assert_eq!(m.poll(10, now), Decision::Idle);
    // Back down to 5: not below low water, so no fetch (hysteresis).
    assert_eq!(m.poll(5, now), Decision::Idle);
    assert_eq!(m.poll(3, now), Decision::Fetch { number: 4 });
}

#[test]
fn failures_back_off_exponentially_and_success_resets() {
    let t0 = Instant::now();
    let mut m = RefillMachine::new(policy()).unwrap();
    assert_eq!(m.poll(0, t0), Decision::Fetch { number: 4 });
    m.on_outcome(RefillOutcome::Failed { permanent: false }, t0);
    assert_eq!(m.consecutive_failures(), 1);
    assert_eq!(m.poll(0, t0), Decision::WaitUntil(t0 + Duration::from_millis(100)));
    assert_eq!(m.poll(0, t0 + Duration::from_millis(99)), Decision::WaitUntil(t0 + Duration::from_millis(100)));
    let t1 = t0 + Duration::from_millis(100);
    assert_eq!(m.poll(0, t1), Decision::Fetch { number: 4 });
    m.on_outcome(RefillOutcome::Failed { permanent: false }, t1);
    assert_eq!(m.poll(0, t1), Decision::WaitUntil(t1 + Duration::from_millis(200)));
    let mut t = t1 + Duration::from_millis(200);
    for expected_ms in [400, 800, 1000, 1000] {
        assert_eq!(m.poll(0, t), Decision::Fetch { number: 4 });
        m.on_outcome(RefillOutcome::Failed { permanent: false }, t);
        assert_eq!(m.poll(0, t), Decision::WaitUntil(t + Duration::from_millis(expected_ms)));
        t += Duration::from_millis(expected_ms);
    }
    assert_eq!(m.poll(0, t), Decision::Fetch { number: 4 });
    m.on_outcome(RefillOutcome::Filled { received: 4 }, t);
    assert_eq!(m.consecutive_failures(), 0);
    assert_eq!(m.poll(4, t), Decision::Fetch { number: 4 }, "still filling, no wait after a success");
}

#[test]
fn permanent_failures_wait_the_maximum_and_short_answers_back_off() {
    let t0 = Instant::now();
    let mut m = RefillMachine::new(policy()).unwrap();
    assert!(matches!(m.poll(0, t0), Decision::Fetch { .. }));
    m.on_outcome(RefillOutcome::Failed { permanent: true }, t0);
    assert_eq!(m.poll(0, t0), Decision::WaitUntil(t0 + Duration::from_secs(1)));
    let t1 = t0 + Duration::from_secs(1);
    assert!(matches!(m.poll(0, t1), Decision::Fetch { .. }));
    m.on_outcome(RefillOutcome::Short { received: 1, requested: 4 }, t1);
    assert_eq!(m.consecutive_failures(), 2);
    assert_eq!(m.poll(1, t1), Decision::WaitUntil(t1 + Duration::from_millis(200)));
    // A full buffer while backing off stays idle and stops filling.
    assert_eq!(m.poll(10, t1), Decision::Idle);
}

#[test]
fn stop_is_final() {
    let now = Instant::now();
    let mut m = RefillMachine::new(policy()).unwrap();
    m.stop();
    assert_eq!(m.poll(0, now), Decision::Stopped);
    assert_eq!(m.poll(10, now), Decision::Stopped);
}

// ---------------------------------------------------------------------------------------------
// The tokio edge, with a scripted key source and tokio's paused clock.

/// Answers fetches from a script; records what was asked.
struct Scripted {
    script: Mutex<VecDeque<Result<usize, ClientError>>>,
    asked: Mutex<Vec<u32>>,
    fetches: AtomicUsize,
    /// Answer to give once the script is exhausted (number of keys, or an error).
    then_fail: bool,
}

impl Scripted {
    fn new(script: Vec<Result<usize, ClientError>>, then_fail: bool) -> Arc<Self> {
        Arc::new(Self {
            script: Mutex::new(script.into()),
            asked: Mutex::new(Vec::new()),
            fetches: AtomicUsize::new(0),
            then_fail,
        })
    }
}

fn keys(n: usize) -> KeyContainer {
    let keys = (0..n)
        .map(|i| {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&(i as u64).to_be_bytes());
            id[8] = rand::random();
            id[9] = rand::random();
            Key::new(KeyId::from_random_bytes(id), KeyMaterial::from_slice(&[i as u8; 32]))
        })
        .collect();
    KeyContainer { keys, key_container_extension: None }
}

impl KeySource for Arc<Scripted> {
    fn fetch(&self, number: u32, _size: Option<u32>) -> impl Future<Output = Result<KeyContainer, ClientError>> + Send {
        self.asked.lock().unwrap().push(number);
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let next = self.script.lock().unwrap().pop_front();
        let then_fail = self.then_fail;
        async move {
            match next {
                Some(Ok(n)) => Ok(keys(n.min(number as usize))),
                Some(Err(e)) => Err(e),
                None if then_fail => Err(ClientError::Unavailable(Some(ErrorBody::new("script exhausted")))),
                None => Ok(keys(number as usize)),
            }
        }
    }
}

#[derive(Default)]
struct Recorder {
    refills: Mutex<Vec<(usize, usize)>>,
    errors: Mutex<Vec<String>>,
}

impl PrefetchObserver for Recorder {
    fn on_refill(&self, received: usize, level: usize) {
        self.refills.lock().unwrap().push((received, level));
    }
    fn on_refill_error(&self, error: &ClientError, _level: usize) {
        self.errors.lock().unwrap().push(error.to_string());
    }
}

/// Waits (on tokio's paused clock, which advances only while every task is idle) until `cond`.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if cond() {
            return;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(start_paused = true)]
async fn fills_to_capacity_and_refills_below_low_water() {
    let source = Scripted::new(vec![], false);
    let recorder = Arc::new(Recorder::default());
    let buffer = PrefetchBuffer::spawn_with_source(source.clone(), policy(), Some(recorder.clone())).unwrap();
    eventually("capacity", || buffer.level() == 10).await;
    // Empty (0 < 4): batches of 4 until capacity, never more than the room left.
    assert_eq!(*source.asked.lock().unwrap(), vec![4, 4, 2]);
    // Take down to 4 (not below low water): no fetch.
    for _ in 0..6 {
        assert_eq!(buffer.take().unwrap().key.len(), 32);
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(source.fetches.load(Ordering::SeqCst), 3);
    // One more (3 < 4): refill to capacity.
    assert!(buffer.take().is_some());
    eventually("refill", || buffer.level() == 10).await;
    assert_eq!(*source.asked.lock().unwrap(), vec![4, 4, 2, 4, 3]);
    let stats = buffer.stats();
    assert_eq!((stats.keys_fetched_total, stats.keys_taken_total, stats.refills_ok), (17, 7, 5));
    assert_eq!(stats.level, 10);
    assert_eq!(recorder.refills.lock().unwrap().last(), Some(&(3, 10)));
    buffer.stop().await;
}

#[tokio::test(start_paused = true)]
async fn errors_are_exposed_and_backed_off_then_recovered() {
    let unavailable = || Err(ClientError::Unavailable(Some(ErrorBody::new("link down"))));
    let source = Scripted::new(vec![unavailable(), unavailable(), Ok(2), Ok(4)], false);
    let recorder = Arc::new(Recorder::default());
    let buffer = PrefetchBuffer::spawn_with_source(source.clone(), policy(), Some(recorder.clone())).unwrap();
    let started = Instant::now();
    // Two failures (100 ms + 200 ms of backoff), then a short answer of 2 keys.
    let key = buffer.take_wait(Duration::from_secs(10)).await.unwrap();
    assert_eq!(key.key.len(), 32);
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    let stats = buffer.stats();
    assert!(stats.refill_errors >= 2);
    assert!(stats.last_error.as_deref().unwrap_or_default().contains("503"), "{stats:?}");
    assert_eq!(recorder.errors.lock().unwrap().len(), 2);
    eventually("recovery", || buffer.stats().refills_ok >= 2).await;
    let stats = buffer.stats();
    assert_eq!(stats.consecutive_failures, 0);
    assert!(stats.level >= 4, "{stats:?}");
    buffer.stop().await;
}

#[tokio::test(start_paused = true)]
async fn short_answers_keep_their_keys() {
    let short = || {
        Err(ClientError::Shortfall(Box::new(crate::client::Shortfall {
            call: crate::api::path::Call::EncKeys,
            http_status: 200,
            requested: 4,
            received: keys(1).keys,
            missing: Vec::new(),
        })))
    };
    let source = Scripted::new(vec![short()], true);
    let buffer = PrefetchBuffer::spawn_with_source(source.clone(), policy(), None).unwrap();
    assert!(buffer.take_wait(Duration::from_secs(1)).await.is_ok());
    let stats = buffer.stats();
    assert_eq!(stats.keys_fetched_total, 1);
    assert!(stats.last_error.unwrap().contains("1 of 4"));
    buffer.stop().await;
}

#[tokio::test(start_paused = true)]
async fn take_wait_times_out_with_the_last_error_and_stop_ends_the_task() {
    let source = Scripted::new(vec![], true);
    let buffer = PrefetchBuffer::spawn_with_source(source.clone(), policy(), None).unwrap();
    match buffer.take_wait(Duration::from_millis(500)).await {
        Err(TakeError::Timeout { waited, last_error }) => {
            assert_eq!(waited, Duration::from_millis(500));
            assert!(last_error.unwrap().contains("script exhausted"));
        }
        other => panic!("{other:?}"),
    }
    assert!(buffer.take().is_none());
    let fetches = source.fetches.load(Ordering::SeqCst);
    assert!((2..=4).contains(&fetches), "backoff bounds the fetch rate: {fetches}");
    buffer.stop().await;
    // After stop the task is gone: no more fetches, however long we wait.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(source.fetches.load(Ordering::SeqCst), fetches);
}

#[tokio::test(start_paused = true)]
async fn a_stopped_buffer_reports_stopped() {
    let source = Scripted::new(vec![], true);
    let buffer = PrefetchBuffer::spawn_with_source(source, policy(), None).unwrap();
    let _ = buffer.shutdown.send(true);
    eventually("stop", || buffer.stats().stopped).await;
    assert_eq!(buffer.take_wait(Duration::from_secs(1)).await.unwrap_err(), TakeError::Stopped);
}

#[tokio::test]
async fn an_invalid_policy_is_refused() {
    let source = Scripted::new(vec![], true);
    assert!(PrefetchBuffer::spawn_with_source(source, RefillPolicy { low_water: 0, ..policy() }, None).is_err());
}
