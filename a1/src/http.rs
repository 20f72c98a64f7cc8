//! The tokio/axum edge of the A1-P v2 termination: [`router`] serves an
//! [`A1Handle`] at `/A1-P/v2`, and [`Notifier`] delivers status
//! notifications.
//!
//! Why this layer is thin: every A1-P rule is in the sans-IO
//! [`A1Service`]; here a request is only read (the body up to the cap),
//! handed to the core on a blocking thread (the store may touch the disk),
//! and the outcome executed: the answer written, the policy effects sent to
//! the enforcement side in the order they happened, the notifications
//! queued. Nothing here waits for a notification or for the enforcement
//! side, so a slow consumer callback or a busy xApp never delays an A1
//! answer.
//!
//! The notifier POSTs each status object to its `notificationDestination`
//! (plain HTTP), expecting 204, with a deadline per try and bounded retries
//! with exponential backoff (connection failures, timeouts, 5xx, 429). It
//! keeps the notifications of one policy in order, and when a newer status
//! of a policy is queued while an older one is still being delivered, the
//! older is not retried further: only the latest status matters.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::routing::any;
use bytes::Bytes;
use hyper::Method;
use hyper::header::CONTENT_TYPE;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::service::{
    A1Service, API_PREFIX, NotificationJob, Opened, PolicyEffect, Request, Response, StatusError,
    body_too_large_response,
};
use crate::transport::{RetryPolicy, Transport, TransportError};

/// A request as the edge owns it (for [`A1Handle::handle`]).
#[derive(Debug, Clone)]
pub struct OwnedRequest {
    /// Method.
    pub method: String,
    /// Path (encoded).
    pub path: String,
    /// Query (encoded, without `?`).
    pub query: Option<String>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// Body.
    pub body: Bytes,
}

struct Shared {
    service: Mutex<A1Service>,
    effects: mpsc::UnboundedSender<PolicyEffect>,
    notifier: Notifier,
    max_body_bytes: usize,
}

/// The running termination: the service core behind a lock, the channel of
/// policy effects, and the notifier. Clones share it.
#[derive(Clone)]
pub struct A1Handle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for A1Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("A1Handle").field("max_body_bytes", &self.shared.max_body_bytes).finish_non_exhaustive()
    }
}

impl A1Handle {
    /// Wraps an opened service. The returned receiver yields every
    /// [`PolicyEffect`], starting with one `Apply` per policy loaded from
    /// the store; the enforcement side must drain it (it is unbounded so
    /// that A1 answers never wait for enforcement).
    pub fn new(opened: Opened, notifier: Notifier) -> (Self, mpsc::UnboundedReceiver<PolicyEffect>) {
        let (tx, rx) = mpsc::unbounded_channel();
        for e in opened.effects {
            // The receiver is alive: it is returned below.
            let _ = tx.send(e);
        }
        let max_body_bytes = opened.service.config().max_body_bytes;
        let shared = Arc::new(Shared { service: Mutex::new(opened.service), effects: tx, notifier, max_body_bytes });
        (Self { shared }, rx)
    }

    fn lock(&self) -> MutexGuard<'_, A1Service> {
        self.shared.service.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the service (for reads: policies held, status).
    pub fn with_service<R>(&self, f: impl FnOnce(&A1Service) -> R) -> R {
        f(&self.lock())
    }

    /// The largest PUT body accepted.
    pub fn max_body_bytes(&self) -> usize {
        self.shared.max_body_bytes
    }

    /// Answers one request: the core runs on a blocking thread, effects are
    /// sent in order, notifications queued.
    pub async fn handle(&self, req: OwnedRequest) -> Response {
        let this = self.clone();
        let path = req.path.clone();
        let joined = tokio::task::spawn_blocking(move || this.handle_blocking(&req)).await;
        match joined {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "A1 request handler failed");
                crate::service::Problem::new(
                    crate::service::ProblemKind::StoreUnavailable,
                    &path,
                    "the request could not be processed; nothing was changed",
                )
                .into_response()
            }
        }
    }

    /// [`A1Handle::handle`] on the calling thread (which may block on the
    /// store).
    pub fn handle_blocking(&self, req: &OwnedRequest) -> Response {
        let mut service = self.lock();
        let outcome = service.handle(&Request {
            method: &req.method,
            path: &req.path,
            query: req.query.as_deref(),
            content_type: req.content_type.as_deref(),
            body: &req.body,
        });
        // Sent under the lock, so effects of concurrent requests keep the
        // order in which the service made them.
        for e in outcome.effects {
            if self.shared.effects.send(e).is_err() {
                tracing::warn!("A1 policy effect dropped: the enforcement side stopped listening");
            }
        }
        drop(service);
        for n in outcome.notifications {
            self.shared.notifier.notify(n);
        }
        outcome.response
    }

    /// Records what the enforcement side enforces for a policy, and queues
    /// a notification when it changed (see [`A1Service::update_status`]).
    pub fn update_status(&self, policy_type_id: &str, policy_id: &str, status: Value) -> Result<bool, StatusError> {
        let job = self.lock().update_status(policy_type_id, policy_id, status)?;
        let notified = job.is_some();
        if let Some(j) = job {
            self.shared.notifier.notify(j);
        }
        Ok(notified)
    }
}

/// The A1-P v2 routes (`/A1-P/v2` and below) served by `handle`. Other
/// paths are left to the caller's router.
pub fn router(handle: A1Handle) -> Router {
    Router::new().route(API_PREFIX, any(serve)).route(&format!("{API_PREFIX}/{{*rest}}"), any(serve)).with_state(handle)
}

async fn serve(State(handle): State<A1Handle>, req: axum::extract::Request) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let limit = handle.max_body_bytes();
    let body = if parts.method == Method::PUT {
        let declared = parts
            .headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return to_axum(body_too_large_response(&path, limit));
        }
        match axum::body::to_bytes(body, limit).await {
            Ok(b) => b,
            Err(_) => return to_axum(body_too_large_response(&path, limit)),
        }
    } else {
        Bytes::new()
    };
    let req = OwnedRequest {
        method: parts.method.as_str().to_owned(),
        path,
        query: parts.uri.query().map(str::to_owned),
        content_type: parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned),
        body,
    };
    to_axum(handle.handle(req).await)
}

/// Converts a core [`Response`] into an axum one.
pub fn to_axum(r: Response) -> axum::response::Response {
    let mut out = axum::response::Response::new(Body::from(r.body));
    *out.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in r.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            out.headers_mut().append(n, v);
        }
    }
    out
}

/// Deadlines and retries of status notifications.
#[derive(Debug, Clone, Copy)]
pub struct NotifierConfig {
    /// Deadline of one POST.
    pub timeout: Duration,
    /// Retries (connection failures, timeouts, 5xx, 429).
    pub retry: RetryPolicy,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            retry: RetryPolicy {
                max_attempts: 5,
                initial_backoff: Duration::from_millis(500),
                max_backoff: Duration::from_secs(10),
            },
        }
    }
}

/// How one notification ended (for logs, metrics and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The notification.
    pub job: NotificationJob,
    /// POSTs made.
    pub attempts: u32,
    /// The final outcome.
    pub result: DeliveryResult,
}

/// The final outcome of one notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryResult {
    /// Answered 2xx (204 expected).
    Delivered {
        /// The status code.
        status: u16,
    },
    /// A newer status of the same policy was queued; this one was dropped.
    Superseded,
    /// Gave up.
    Failed {
        /// Why.
        reason: String,
    },
}

/// Queues status notifications for delivery in the background. Cheap to
/// clone; [`Notifier::notify`] never blocks.
#[derive(Debug, Clone)]
pub struct Notifier {
    tx: Option<mpsc::UnboundedSender<NotificationJob>>,
}

type PolicyKey = (String, String);

impl Notifier {
    /// A notifier that drops every notification (for a service that serves
    /// no consumers with destinations, and for tests of the core).
    pub fn disabled() -> Self {
        Self { tx: None }
    }

    /// Starts the delivery task (needs a tokio runtime).
    pub fn spawn(config: NotifierConfig) -> Self {
        Self::start(config, None)
    }

    /// Starts the delivery task and reports every finished notification.
    pub fn spawn_with_reports(config: NotifierConfig) -> (Self, mpsc::UnboundedReceiver<DeliveryReport>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self::start(config, Some(tx)), rx)
    }

    fn start(config: NotifierConfig, reports: Option<mpsc::UnboundedSender<DeliveryReport>>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(config, rx, reports));
        Self { tx: Some(tx) }
    }

    /// Queues a notification.
    pub fn notify(&self, job: NotificationJob) {
        match &self.tx {
            Some(tx) => {
                if tx.send(job).is_err() {
                    tracing::warn!("A1 status notification dropped: the notifier has stopped");
                }
            }
            None => tracing::debug!(destination = %job.destination, "notifier disabled; status notification dropped"),
        }
    }
}

/// Latest-wins slot per policy, shared between the dispatcher and the
/// delivery of that policy's current notification.
type Pending = Arc<Mutex<HashMap<PolicyKey, NotificationJob>>>;

async fn dispatch(
    config: NotifierConfig,
    mut rx: mpsc::UnboundedReceiver<NotificationJob>,
    reports: Option<mpsc::UnboundedSender<DeliveryReport>>,
) {
    let transport = Transport::new();
    let pending: Pending = Arc::default();
    let mut in_flight: HashSet<PolicyKey> = HashSet::new();
    let mut tasks: JoinSet<(PolicyKey, DeliveryReport)> = JoinSet::new();
    let report = |r: DeliveryReport| {
        match &r.result {
            DeliveryResult::Delivered { .. } => {
                tracing::debug!(destination = %r.job.destination, attempts = r.attempts, "status notification delivered");
            }
            DeliveryResult::Superseded => {}
            DeliveryResult::Failed { reason } => tracing::warn!(destination = %r.job.destination,
                policy_type = %r.job.policy_type_id, policy_id = %r.job.policy_id, attempts = r.attempts,
                reason, "status notification not delivered"),
        }
        if let Some(tx) = &reports {
            let _ = tx.send(r);
        }
    };
    loop {
        tokio::select! {
            job = rx.recv() => {
                let Some(job) = job else { break };
                let key = (job.policy_type_id.clone(), job.policy_id.clone());
                if in_flight.contains(&key) {
                    let old = pending.lock().unwrap_or_else(PoisonError::into_inner).insert(key, job);
                    if let Some(old) = old {
                        report(DeliveryReport { job: old, attempts: 0, result: DeliveryResult::Superseded });
                    }
                } else {
                    in_flight.insert(key.clone());
                    tasks.spawn(deliver(transport.clone(), config, key, job, pending.clone()));
                }
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                let Ok((key, r)) = done else { continue };
                report(r);
                let next = pending.lock().unwrap_or_else(PoisonError::into_inner).remove(&key);
                match next {
                    Some(job) => { tasks.spawn(deliver(transport.clone(), config, key, job, pending.clone())); }
                    None => { in_flight.remove(&key); }
                }
            }
        }
    }
    // Senders gone: finish what is under way, and what is queued behind it.
    while let Some(done) = tasks.join_next().await {
        let Ok((key, r)) = done else { continue };
        report(r);
        let next = pending.lock().unwrap_or_else(PoisonError::into_inner).remove(&key);
        if let Some(job) = next {
            tasks.spawn(deliver(transport.clone(), config, key, job, pending.clone()));
        }
    }
}

async fn deliver(
    transport: Transport,
    config: NotifierConfig,
    key: PolicyKey,
    job: NotificationJob,
    pending: Pending,
) -> (PolicyKey, DeliveryReport) {
    let body = Bytes::from(serde_json::to_vec(&job.status).unwrap_or_default());
    let max = config.retry.max_attempts.max(1);
    let uri: hyper::Uri = match job.destination.parse() {
        Ok(u) => u,
        Err(e) => {
            let result = DeliveryResult::Failed { reason: format!("destination is not a URI: {e}") };
            return (key, DeliveryReport { job, attempts: 0, result });
        }
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let r = transport
            .send(Method::POST, &uri, &[(CONTENT_TYPE, "application/json")], Some(body.clone()), config.timeout)
            .await;
        let (retry_after, reason) = match r {
            Ok(resp) if (200..300).contains(&resp.status) => {
                if resp.status != 204 {
                    tracing::debug!(status = resp.status, destination = %job.destination,
                        "notification answered 2xx other than 204");
                }
                let result = DeliveryResult::Delivered { status: resp.status };
                return (key, DeliveryReport { job, attempts: attempt, result });
            }
            Ok(resp) if RetryPolicy::retryable_status(resp.status) => {
                (resp.retry_after(), format!("HTTP {}", resp.status))
            }
            Ok(resp) => {
                let result = DeliveryResult::Failed { reason: format!("HTTP {} (not retried)", resp.status) };
                return (key, DeliveryReport { job, attempts: attempt, result });
            }
            Err(TransportError::Connect(e)) => (None, format!("connect: {e}")),
            Err(TransportError::Timeout(t)) => (None, format!("no answer within {t:?}")),
            Err(TransportError::Broken(e)) => (None, e),
        };
        if attempt >= max {
            let result = DeliveryResult::Failed { reason };
            return (key, DeliveryReport { job, attempts: attempt, result });
        }
        if pending.lock().unwrap_or_else(PoisonError::into_inner).contains_key(&key) {
            return (key, DeliveryReport { job, attempts: attempt, result: DeliveryResult::Superseded });
        }
        tokio::time::sleep(config.retry.backoff(attempt, retry_after)).await;
    }
}
