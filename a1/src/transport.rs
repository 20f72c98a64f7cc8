//! The HTTP/1.1 client the crate's clients and notifier share: one request
//! with a deadline over hyper, and the retry schedule.
//!
//! Why here and not in each caller: the A1-P client, the PMS client, the PMS
//! simulator's forwarding and the status notifier all need the same three
//! things (a bounded request, a capped response body, and exponential
//! backoff that retries only what may succeed on a second try), and they
//! should behave the same way on the same failure.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Largest response body read (schemas and status objects are far smaller).
pub(crate) const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// When and how often a failed request is tried again.
///
/// Retried: connection failures, timeouts, 5xx and 429 answers. Not
/// retried: any other 4xx (the request itself is wrong; sending it again
/// cannot help). The wait doubles from `initial_backoff` up to
/// `max_backoff`; a `Retry-After` of a 429/503 (in seconds) replaces the
/// computed wait, capped at `max_backoff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in total (at least 1).
    pub max_attempts: u32,
    /// Wait before the second try.
    pub initial_backoff: Duration,
    /// Longest wait between tries.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 4, initial_backoff: Duration::from_millis(200), max_backoff: Duration::from_secs(5) }
    }
}

impl RetryPolicy {
    /// No retries.
    pub fn none() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// The wait after failed try number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.max_backoff);
        }
        let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }

    /// Whether an answer with this status is worth another try.
    pub fn retryable_status(status: u16) -> bool {
        status == 429 || (500..600).contains(&status)
    }
}

/// An answer as received.
#[derive(Debug, Clone)]
pub(crate) struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RawResponse {
    pub fn retry_after(&self) -> Option<Duration> {
        let v = self.headers.get(hyper::header::RETRY_AFTER)?.to_str().ok()?;
        v.trim().parse::<u64>().ok().map(Duration::from_secs)
    }
}

/// Why one try failed before an answer arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TransportError {
    /// Could not connect.
    Connect(String),
    /// No complete answer within the deadline.
    Timeout(Duration),
    /// The connection failed after connecting, or the answer was unreadable.
    Broken(String),
}

/// A plain-HTTP client with per-request deadlines.
#[derive(Clone)]
pub(crate) struct Transport {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").finish_non_exhaustive()
    }
}

impl Transport {
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build::<_, Full<Bytes>>(connector);
        Self { client }
    }

    /// Sends one request and reads the whole answer within `timeout`.
    pub async fn send(
        &self,
        method: Method,
        uri: &Uri,
        headers: &[(HeaderName, &str)],
        body: Option<Bytes>,
        timeout: Duration,
    ) -> Result<RawResponse, TransportError> {
        let mut builder = hyper::Request::builder().method(method).uri(uri.clone());
        for (name, value) in headers {
            let v = HeaderValue::from_str(value).map_err(|e| TransportError::Broken(e.to_string()))?;
            builder = builder.header(name, v);
        }
        let req = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| TransportError::Broken(format!("building the request: {e}")))?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| {
                if e.is_connect() {
                    TransportError::Connect(error_chain(&e))
                } else {
                    TransportError::Broken(error_chain(&e))
                }
            })?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| TransportError::Broken(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok(RawResponse { status: parts.status.as_u16(), headers: parts.headers, body })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(TransportError::Timeout(timeout)),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(700),
        };
        let waits: Vec<_> = (1..=5).map(|a| p.backoff(a, None).as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 400, 700, 700]);
        assert_eq!(p.backoff(40, None), Duration::from_millis(700));
        assert_eq!(p.backoff(1, Some(Duration::from_secs(60))), Duration::from_millis(700));
        assert_eq!(p.backoff(1, Some(Duration::from_millis(0))), Duration::ZERO);
    }

    #[test]
    fn retryable_statuses() {
        assert!(RetryPolicy::retryable_status(503));
        assert!(RetryPolicy::retryable_status(429));
        assert!(RetryPolicy::retryable_status(500));
        assert!(!RetryPolicy::retryable_status(400));
        assert!(!RetryPolicy::retryable_status(404));
        assert!(!RetryPolicy::retryable_status(409));
    }
}
