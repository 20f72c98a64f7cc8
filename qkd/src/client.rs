//! The SAE side of ETSI GS QKD 014: an async client over HTTP/1.1 and mutual TLS.
//!
//! # Why hyper + tokio-rustls rather than reqwest
//!
//! The spec makes the SAE check the KME's identity from the server certificate. That check
//! must happen **before** a request is sent, because `enc_keys` and `dec_keys` consume keys: a
//! client that learned the peer's identity only from the response (reqwest exposes the peer
//! certificate as response metadata, after the fact) would already have drawn keys from a KME
//! it should not have talked to. With tokio-rustls we own the TLS stream, read the end-entity
//! certificate after the handshake, compare the KME ID, and only then hand the stream to
//! hyper's HTTP/1.1 connection. We also control connection reuse (each pooled connection was
//! checked when it was opened) and read response bodies ourselves, with a size limit, into
//! zeroizing buffers.
//!
//! # Behaviour
//!
//! * TLS comes from the caller (`Arc<rustls::ClientConfig>` with the SAE's client certificate),
//!   so the same client runs classical, hybrid or PQ-only TLS (`qsafe_pqc::tls::client_config`).
//! * The KME ID is read from the certificate's subject commonName, a DNS subjectAltName or a
//!   URI subjectAltName ([`IdSource`]; the spec leaves the mapping open) and must equal
//!   `expected_kme_id`; the status call's `source_KME_ID` is checked against it too (except with
//!   a URI, whose relation to the bare KME ID the spec does not define).
//! * Every attempt runs under `timeout` (connect, handshake, request and whole body). Retries
//!   with exponential backoff happen **only** after a 503 or a transport failure (connect,
//!   reset, timeout); 400, 401, other statuses, certificate problems and malformed answers are
//!   returned at once. A 503's `Retry-After` (seconds) lengthens the wait, up to `max_backoff`.
//! * Answers are checked, not trusted: size limit, JSON shape, key sizes, duplicate or
//!   unrequested key IDs. Two deviations seen in other KMEs are reported as
//!   [`ClientError::Shortfall`] with whatever keys did arrive: a 200 with fewer keys than asked,
//!   and 404 (instead of the spec's 400) for unknown key IDs on `dec_keys`.
//!
//! # Retrying a call that consumes keys
//!
//! A transport failure after the request was written leaves it unknown whether the KME served
//! it. Retrying `enc_keys` is then safe (at worst keys are issued that nobody uses, and the
//! slave side never asks for them). Retrying `dec_keys` can meet the spec's exactly-once rule:
//! the first attempt may have been served and the retry answered 400 "not found". The client
//! reports that case as [`ClientError::PossiblyDelivered`] rather than as a plain 400, so the
//! caller knows the keys are gone rather than never issued.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;
use zeroize::Zeroizing;

use crate::api::{
    self, ErrorBody, Key, KeyContainer, KeyId, KeyIds, KeyRequest, MAX_BODY_BYTES, Status, messages, path::Call,
};

/// Where in the KME's certificate its KME ID is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdSource {
    /// The subject's commonName (any of them, if several).
    CommonName,
    /// A dNSName subjectAltName.
    SanDns,
    /// A uniformResourceIdentifier subjectAltName (compared as the whole URI string).
    SanUri,
}

impl std::fmt::Display for IdSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IdSource::CommonName => "subject commonName",
            IdSource::SanDns => "DNS subjectAltName",
            IdSource::SanUri => "URI subjectAltName",
        })
    }
}

/// How often and how patiently to retry after a 503 or a transport failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (at least 1; 0 is treated as 1).
    pub attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub base_backoff: Duration,
    /// Cap on any single wait.
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub const NONE: RetryPolicy =
        RetryPolicy { attempts: 1, base_backoff: Duration::ZERO, max_backoff: Duration::ZERO };

    /// The wait before retry number `retry` (1 for the first retry):
    /// `min(max_backoff, base_backoff × 2^(retry-1))`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

impl Default for RetryPolicy {
    /// 4 attempts, 100 ms doubling up to 2 s.
    fn default() -> Self {
        Self { attempts: 4, base_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(2) }
    }
}

/// Everything the client needs to reach one KME.
#[derive(Clone)]
pub struct ClientConfig {
    /// `https://host[:port][/prefix]` or `host:port` (port 443 if absent). Plain `http` is
    /// refused: the spec requires mutual TLS.
    pub base_url: String,
    /// TLS settings, including the SAE's client certificate and the roots that verify the KME.
    pub tls: Arc<rustls::ClientConfig>,
    /// The KME ID the server certificate must carry.
    pub expected_kme_id: String,
    /// Where in the certificate that ID is.
    pub kme_id_from: IdSource,
    /// Limit for one attempt (connect, handshake, request, whole answer).
    pub timeout: Duration,
    /// Retries after 503 and transport failures.
    pub retry: RetryPolicy,
    /// Largest answer body read (default [`MAX_BODY_BYTES`]).
    pub max_response_bytes: usize,
}

impl ClientConfig {
    /// A config with a 5 s timeout, the default retry policy, the KME ID in the commonName.
    pub fn new(
        base_url: impl Into<String>,
        tls: Arc<rustls::ClientConfig>,
        expected_kme_id: impl Into<String>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            tls,
            expected_kme_id: expected_kme_id.into(),
            kme_id_from: IdSource::CommonName,
            timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            max_response_bytes: MAX_BODY_BYTES,
        }
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("expected_kme_id", &self.expected_kme_id)
            .field("kme_id_from", &self.kme_id_from)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

/// A 200 that did not carry every key asked for, or a 404 for key IDs (both peer deviations
/// from the spec, which answers all-or-nothing and uses 400 for unknown keys).
#[derive(Debug, Clone, PartialEq)]
pub struct Shortfall {
    /// The call.
    pub call: Call,
    /// The HTTP status of the answer (200 or 404).
    pub http_status: u16,
    /// How many keys were asked for.
    pub requested: usize,
    /// The keys that did arrive (valid and usable; for dec_keys in request order).
    pub received: Vec<Key>,
    /// For dec_keys: the requested key IDs that did not arrive.
    pub missing: Vec<KeyId>,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The client configuration cannot be used (bad base URL, a request the GET form cannot
    /// carry, ...).
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// TCP connect failed.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// host:port.
        addr: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// The TLS handshake failed (including certificate verification by rustls).
    #[error("TLS handshake with {addr} failed: {source}")]
    Tls {
        /// host:port.
        addr: String,
        /// The error (wrapping a `rustls::Error` when TLS itself refused).
        source: std::io::Error,
    },
    /// The server certificate could not be read for its KME ID.
    #[error("server certificate: {0}")]
    Certificate(String),
    /// The KME is not the one expected.
    #[error("KME ID mismatch: expected {expected:?}, {found_in} has {found:?}")]
    KmeIdMismatch {
        /// The configured KME ID.
        expected: String,
        /// The IDs found.
        found: Vec<String>,
        /// Where they were found (certificate field, or the status answer).
        found_in: String,
    },
    /// An attempt took longer than the configured timeout.
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    /// The HTTP exchange broke (connection reset, malformed HTTP, ...).
    #[error("HTTP exchange failed: {0}")]
    Http(String),
    /// 400 from the KME.
    #[error("KME answered 400: {0}")]
    BadRequest(ErrorBody),
    /// 401 from the KME: this SAE may not make this call (or these keys are not for it).
    #[error("KME answered 401 unauthorized")]
    Unauthorized,
    /// 503 from the KME, after the retries.
    #[error("KME answered 503{}", .0.as_ref().map(|b| format!(": {b}")).unwrap_or_default())]
    Unavailable(Option<ErrorBody>),
    /// A status the spec does not define for this call.
    #[error("KME answered HTTP {status}: {excerpt}")]
    UnexpectedStatus {
        /// The status code.
        status: u16,
        /// The start of the body, as text.
        excerpt: String,
    },
    /// The answer could not be used: too large, not the expected JSON, keys of the wrong size,
    /// duplicate or unrequested key IDs. Any keys in it are dropped (and zeroized).
    #[error("unusable answer to {call}: {reason}")]
    BadResponse {
        /// The call.
        call: Call,
        /// What was wrong.
        reason: String,
    },
    /// Fewer keys than asked for (see [`Shortfall`]).
    #[error("KME delivered {} of {} keys ({} to {})", .0.received.len(), .0.requested, .0.http_status, .0.call)]
    Shortfall(Box<Shortfall>),
    /// dec_keys was answered 400 "not found" on a retry after a transport failure: the earlier
    /// attempt may have been served, so the keys may have been delivered and lost in transit.
    #[error("dec_keys retried after a transport failure and the KME no longer has the keys: {0}")]
    PossiblyDelivered(ErrorBody),
}

impl ClientError {
    /// Whether the client retries after this error (503 and transport failures).
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Unavailable(_)
            | ClientError::Connect { .. }
            | ClientError::Timeout(_)
            | ClientError::Http(_) => true,
            // A handshake cut short by the network is transient; one rustls refused is not.
            ClientError::Tls { source, .. } => {
                source.get_ref().is_none_or(|inner| inner.downcast_ref::<rustls::Error>().is_none())
            }
            _ => false,
        }
    }

    /// Whether the KME said the requested keys are not there (spec 400, a peer's 404, or a
    /// short answer).
    pub fn is_keys_not_found(&self) -> bool {
        match self {
            ClientError::BadRequest(body) | ClientError::PossiblyDelivered(body) => {
                body.message.eq_ignore_ascii_case(messages::KEYS_NOT_FOUND)
            }
            ClientError::Shortfall(s) => s.call == Call::DecKeys,
            _ => false,
        }
    }
}

/// Counters of one client (for metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Calls made.
    pub calls: u64,
    /// HTTP attempts made (calls + retries).
    pub attempts: u64,
    /// Retries after 503 or transport failures.
    pub retries: u64,
    /// TLS connections opened.
    pub connections_opened: u64,
    /// Connections refused because the certificate's KME ID did not match.
    pub kme_id_rejections: u64,
}

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    attempts: AtomicU64,
    retries: AtomicU64,
    connections_opened: AtomicU64,
    kme_id_rejections: AtomicU64,
}

/// Where to connect, from the base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    /// Host name or IP (without IPv6 brackets), for DNS and the TLS server name.
    host: String,
    port: u16,
    /// Host header value.
    authority: String,
    /// Path prefix without trailing slash ("" for none).
    prefix: String,
}

impl Endpoint {
    fn parse(base_url: &str) -> Result<Self, ClientError> {
        let bad = |why: &str| ClientError::Config(format!("base_url {base_url:?}: {why}"));
        let uri: http::Uri = base_url.parse().map_err(|e| bad(&format!("{e}")))?;
        match uri.scheme_str() {
            None | Some("https") => {}
            Some(other) => return Err(bad(&format!("scheme {other:?} is not https (the spec requires mutual TLS)"))),
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user info is not supported"));
        }
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let port = authority.port_u16().unwrap_or(443);
        let prefix = if uri.scheme().is_some() { uri.path().trim_end_matches('/').to_owned() } else { String::new() };
        if uri.query().is_some() {
            return Err(bad("a query string is not allowed"));
        }
        Ok(Self { host, port, authority: authority.as_str().to_owned(), prefix })
    }

    fn addr(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("[{}]:{}", self.host, self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

type Sender = SendRequest<Full<Bytes>>;

/// Idle connections kept for reuse.
const MAX_IDLE_CONNECTIONS: usize = 8;
/// Characters of an unexpected body quoted in errors.
const EXCERPT_CHARS: usize = 200;

struct Inner {
    config: ClientConfig,
    endpoint: Endpoint,
    server_name: ServerName<'static>,
    connector: TlsConnector,
    idle: Mutex<Vec<Sender>>,
    counters: Counters,
}

/// An ETSI GS QKD 014 client for one KME. Cheap to clone (clones share connections and
/// counters).
#[derive(Clone)]
pub struct Etsi014Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Etsi014Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Etsi014Client").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

/// A raw answer: status, body (zeroizing: it may hold keys), Retry-After.
struct Answer {
    status: u16,
    body: Zeroizing<Vec<u8>>,
    retry_after: Option<Duration>,
}

/// How one attempt failed, and whether the request may have reached the KME.
struct AttemptError {
    error: ClientError,
    maybe_sent: bool,
}

impl Etsi014Client {
    /// Checks the config (base URL, TLS server name); opens no connection yet.
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        let endpoint = Endpoint::parse(&config.base_url)?;
        let server_name = ServerName::try_from(endpoint.host.clone()).map_err(|e| {
            ClientError::Config(format!("host {:?} is not a valid TLS server name: {e}", endpoint.host))
        })?;
        if config.expected_kme_id.is_empty() {
            return Err(ClientError::Config("expected_kme_id is empty".into()));
        }
        if config.timeout.is_zero() {
            return Err(ClientError::Config("timeout is zero".into()));
        }
        let connector = TlsConnector::from(config.tls.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                endpoint,
                server_name,
                connector,
                idle: Mutex::new(Vec::new()),
                counters: Counters::default(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.counters;
        ClientStats {
            calls: c.calls.load(Ordering::Relaxed),
            attempts: c.attempts.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            connections_opened: c.connections_opened.load(Ordering::Relaxed),
            kme_id_rejections: c.kme_id_rejections.load(Ordering::Relaxed),
        }
    }

    /// Get status for the key stream to `slave_sae_id`.
    pub async fn status(&self, slave_sae_id: &str) -> Result<Status, ClientError> {
        let answer = self.call(Call::Status, Method::GET, &api::path::status(slave_sae_id), None, None).await?;
        let status = interpret_status(&answer.0)?;
        // With the ID in a commonName or dNSName the certificate value *is* the KME ID, so the
        // status must name the same KME. A URI subjectAltName usually wraps the ID
        // (`urn:...:KME_A`) in a form the spec does not define, so it is not compared.
        let comparable = self.inner.config.kme_id_from != IdSource::SanUri;
        if comparable && status.source_kme_id != self.inner.config.expected_kme_id {
            return Err(ClientError::KmeIdMismatch {
                expected: self.inner.config.expected_kme_id.clone(),
                found: vec![status.source_kme_id],
                found_in: "the status answer's source_KME_ID".into(),
            });
        }
        Ok(status)
    }

    /// Get key (POST): keys for the master (this SAE) to share with `slave_sae_id`.
    pub async fn enc_keys(&self, slave_sae_id: &str, request: &KeyRequest) -> Result<KeyContainer, ClientError> {
        let answer = self
            .call(Call::EncKeys, Method::POST, &api::path::enc_keys(slave_sae_id), None, Some(request.to_json()))
            .await?;
        interpret_enc_keys(&answer.0, request)
    }

    /// Get key, GET form (`?number=&size=`); refused for requests with fields the query cannot
    /// carry.
    pub async fn enc_keys_get(&self, slave_sae_id: &str, request: &KeyRequest) -> Result<KeyContainer, ClientError> {
        let query = request.to_query().ok_or_else(|| {
            ClientError::Config("the GET form carries only number and size; use enc_keys (POST)".into())
        })?;
        let answer =
            self.call(Call::EncKeys, Method::GET, &api::path::enc_keys(slave_sae_id), Some(&query), None).await?;
        interpret_enc_keys(&answer.0, request)
    }

    /// Get key with key IDs (POST): the slave (this SAE) fetches keys `master_sae_id` obtained.
    pub async fn dec_keys(&self, master_sae_id: &str, key_ids: &KeyIds) -> Result<KeyContainer, ClientError> {
        if key_ids.key_ids.is_empty() {
            return Err(ClientError::Config("dec_keys needs at least one key ID".into()));
        }
        let answer = self
            .call(Call::DecKeys, Method::POST, &api::path::dec_keys(master_sae_id), None, Some(key_ids.to_json()))
            .await?;
        interpret_dec_keys(answer, key_ids)
    }

    /// Get key with key IDs, GET form (`?key_ID=..&key_ID=..`).
    pub async fn dec_keys_get(&self, master_sae_id: &str, key_ids: &KeyIds) -> Result<KeyContainer, ClientError> {
        let query = key_ids
            .to_query()
            .filter(|_| !key_ids.key_ids.is_empty())
            .ok_or_else(|| ClientError::Config("the GET form needs key IDs without extensions".into()))?;
        let answer =
            self.call(Call::DecKeys, Method::GET, &api::path::dec_keys(master_sae_id), Some(&query), None).await?;
        interpret_dec_keys(answer, key_ids)
    }

    /// One call with retries. Returns the final answer (any status but 503) and whether an
    /// earlier attempt may have reached the KME.
    async fn call(
        &self,
        call: Call,
        method: Method,
        path: &str,
        query: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<(Answer, bool), ClientError> {
        let inner = &self.inner;
        inner.counters.calls.fetch_add(1, Ordering::Relaxed);
        let mut target = format!("{}{path}", inner.endpoint.prefix);
        if let Some(q) = query {
            target.push('?');
            target.push_str(q);
        }
        let body = Bytes::from(body.unwrap_or_default());
        let attempts = inner.config.retry.attempts.max(1);
        let mut maybe_sent_before = false;
        let mut attempt = 1;
        loop {
            inner.counters.attempts.fetch_add(1, Ordering::Relaxed);
            let outcome =
                tokio::time::timeout(inner.config.timeout, self.attempt(call, method.clone(), &target, body.clone()))
                    .await;
            let (error, retry_after) = match outcome {
                Ok(Ok(answer)) if answer.status != 503 => return Ok((answer, maybe_sent_before)),
                Ok(Ok(answer)) => {
                    let body = ErrorBody::from_json(&answer.body).ok();
                    (ClientError::Unavailable(body), answer.retry_after)
                }
                Ok(Err(AttemptError { error, maybe_sent })) => {
                    maybe_sent_before |= maybe_sent;
                    (error, None)
                }
                Err(_elapsed) => {
                    maybe_sent_before = true;
                    (ClientError::Timeout(inner.config.timeout), None)
                }
            };
            if !error.is_retryable() || attempt >= attempts {
                tracing::debug!(%call, attempt, %error, "KME call failed");
                return Err(error);
            }
            // backoff() is already capped at max_backoff; Retry-After may lengthen it to that cap.
            let wait = inner.config.retry.backoff(attempt).max(retry_after.unwrap_or_default());
            let wait = wait.min(inner.config.retry.max_backoff);
            tracing::debug!(%call, attempt, %error, ?wait, "retrying KME call");
            inner.counters.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One HTTP exchange on a pooled or new connection.
    async fn attempt(&self, call: Call, method: Method, target: &str, body: Bytes) -> Result<Answer, AttemptError> {
        let inner = &self.inner;
        let not_sent = |error| AttemptError { error, maybe_sent: false };
        let build = || {
            let mut builder = Request::builder()
                .method(method.clone())
                .uri(target)
                .header(header::HOST, &inner.endpoint.authority)
                .header(header::ACCEPT, "application/json")
                .header(header::USER_AGENT, concat!("qsafe-qkd/", env!("CARGO_PKG_VERSION")));
            if method == Method::POST {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
            }
            builder.body(Full::new(body.clone())).map_err(|e| not_sent(ClientError::Config(format!("request: {e}"))))
        };

        // A pooled connection may have been closed by the server since; hyper hands the request
        // back if it could not be written, and we then try the next one or a fresh connection.
        let mut request = build()?;
        while let Some(mut pooled) = self.take_idle() {
            match pooled.try_send_request(request).await {
                Ok(response) => return self.read_answer(call, pooled, response).await,
                Err(mut e) => match e.take_message() {
                    Some(unsent) => request = unsent,
                    None => {
                        let error = ClientError::Http(e.into_error().to_string());
                        return Err(AttemptError { error, maybe_sent: true });
                    }
                },
            }
        }
        let mut fresh = self.connect().await.map_err(not_sent)?;
        let response = fresh
            .send_request(request)
            .await
            .map_err(|e| AttemptError { error: ClientError::Http(e.to_string()), maybe_sent: true })?;
        self.read_answer(call, fresh, response).await
    }

    /// Reads status, Retry-After and the whole body (size-limited), then pools the connection.
    async fn read_answer(
        &self,
        call: Call,
        mut sender: Sender,
        response: http::Response<hyper::body::Incoming>,
    ) -> Result<Answer, AttemptError> {
        let status = response.status();
        let retry_after = (status == StatusCode::SERVICE_UNAVAILABLE)
            .then(|| response.headers().get(header::RETRY_AFTER))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let max = self.inner.config.max_response_bytes;
        let too_large =
            |reason: String| AttemptError { error: ClientError::BadResponse { call, reason }, maybe_sent: true };
        let mut expected_len = 0;
        if let Some(len) = response.headers().get(header::CONTENT_LENGTH) {
            match len.to_str().ok().and_then(|l| l.parse::<usize>().ok()) {
                Some(n) if n <= max => expected_len = n,
                _ => return Err(too_large(format!("Content-Length {len:?} is invalid or over the {max}-byte limit"))),
            }
        }
        let mut incoming = response.into_body();
        // Sized up front when the length is known, so the key material is not copied around.
        let mut buf = Zeroizing::new(Vec::with_capacity(expected_len));
        while let Some(frame) = incoming.frame().await {
            let frame =
                frame.map_err(|e| AttemptError { error: ClientError::Http(e.to_string()), maybe_sent: true })?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > max {
                    return Err(too_large(format!("body exceeds the {max}-byte limit")));
                }
                api::extend_zeroizing(&mut buf, &data);
            }
        }
        drop(incoming);
        if !sender.is_closed() {
            // Ready again once the body is read, unless the server asked to close.
            if sender.ready().await.is_ok() {
                self.put_idle(sender);
            }
        }
        Ok(Answer { status: status.as_u16(), body: buf, retry_after })
    }

    fn take_idle(&self) -> Option<Sender> {
        let mut idle = self.inner.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(s) = idle.pop() {
            if !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    fn put_idle(&self, sender: Sender) {
        let mut idle = self.inner.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE_CONNECTIONS {
            idle.push(sender);
        }
    }

    /// TCP connect, TLS handshake, KME ID check, HTTP/1.1 handshake.
    async fn connect(&self) -> Result<Sender, ClientError> {
        let inner = &self.inner;
        let addr = inner.endpoint.addr();
        let tcp = tokio::net::TcpStream::connect((inner.endpoint.host.as_str(), inner.endpoint.port))
            .await
            .map_err(|source| ClientError::Connect { addr: addr.clone(), source })?;
        let _ = tcp.set_nodelay(true);
        let tls = inner
            .connector
            .connect(inner.server_name.clone(), tcp)
            .await
            .map_err(|source| ClientError::Tls { addr: addr.clone(), source })?;
        inner.counters.connections_opened.fetch_add(1, Ordering::Relaxed);
        let leaf = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or_else(|| ClientError::Certificate("the server sent no certificate".into()))?;
        if let Err(e) = check_kme_id(leaf, &inner.config.expected_kme_id, inner.config.kme_id_from) {
            if matches!(e, ClientError::KmeIdMismatch { .. }) {
                inner.counters.kme_id_rejections.fetch_add(1, Ordering::Relaxed);
            }
            tracing::warn!(%addr, error = %e, "refusing KME");
            return Err(e);
        }
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| ClientError::Http(format!("HTTP/1.1 handshake: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "KME connection ended");
            }
        });
        Ok(sender)
    }
}

/// Checks that `expected` is among the IDs the certificate carries in `from`.
pub fn check_kme_id(cert_der: &[u8], expected: &str, from: IdSource) -> Result<(), ClientError> {
    let found = kme_ids_in_certificate(cert_der, from)?;
    if found.iter().any(|id| id == expected) {
        Ok(())
    } else {
        Err(ClientError::KmeIdMismatch {
            expected: expected.to_owned(),
            found,
            found_in: format!("the certificate's {from}"),
        })
    }
}

/// The IDs a certificate carries in `from` (in certificate order).
pub fn kme_ids_in_certificate(cert_der: &[u8], from: IdSource) -> Result<Vec<String>, ClientError> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der)
        .map_err(|e| ClientError::Certificate(format!("cannot parse the server certificate: {e}")))?;
    let mut found = Vec::new();
    match from {
        IdSource::CommonName => {
            for cn in cert.subject().iter_common_name() {
                let text = cn
                    .as_str()
                    .map_err(|e| ClientError::Certificate(format!("subject commonName is not text: {e}")))?;
                found.push(text.to_owned());
            }
        }
        IdSource::SanDns | IdSource::SanUri => {
            let san = cert
                .subject_alternative_name()
                .map_err(|e| ClientError::Certificate(format!("subjectAltName: {e}")))?;
            for name in san.iter().flat_map(|s| s.value.general_names.iter()) {
                match (from, name) {
                    (IdSource::SanDns, GeneralName::DNSName(d)) | (IdSource::SanUri, GeneralName::URI(d)) => {
                        found.push((*d).to_owned());
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(found)
}

// ---------------------------------------------------------------------------------------------
// Reading answers (pure: no I/O, tested without sockets)

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(EXCERPT_CHARS).collect();
    if text.chars().count() > EXCERPT_CHARS {
        out.push_str("...");
    }
    out
}

/// An error body, or a synthetic one quoting the start of whatever was sent.
fn error_body(body: &[u8]) -> ErrorBody {
    ErrorBody::from_json(body).unwrap_or_else(|_| ErrorBody::new(format!("(no JSON error body) {}", excerpt(body))))
}

/// The error for a non-200 answer, as the spec defines them.
fn status_error(status: u16, body: &[u8]) -> ClientError {
    match status {
        400 => ClientError::BadRequest(error_body(body)),
        401 => ClientError::Unauthorized,
        503 => ClientError::Unavailable(ErrorBody::from_json(body).ok()),
        _ => ClientError::UnexpectedStatus { status, excerpt: excerpt(body) },
    }
}

fn interpret_status(answer: &Answer) -> Result<Status, ClientError> {
    if answer.status != 200 {
        return Err(status_error(answer.status, &answer.body));
    }
    Status::from_json(&answer.body).map_err(|e| ClientError::BadResponse { call: Call::Status, reason: e.to_string() })
}

fn interpret_enc_keys(answer: &Answer, request: &KeyRequest) -> Result<KeyContainer, ClientError> {
    if answer.status != 200 {
        return Err(status_error(answer.status, &answer.body));
    }
    let bad = |reason: String| ClientError::BadResponse { call: Call::EncKeys, reason };
    let container = KeyContainer::from_json(&answer.body).map_err(|e| bad(e.to_string()))?;
    let requested = request.number.unwrap_or(1) as usize;
    if container.keys.len() > requested {
        return Err(bad(format!("{} keys for a request of {requested}", container.keys.len())));
    }
    let mut seen = std::collections::HashSet::new();
    for key in &container.keys {
        if !seen.insert(key.key_id) {
            return Err(bad(format!("key_ID {} appears twice", key.key_id)));
        }
        if key.key.is_empty() {
            return Err(bad(format!("key {} is empty", key.key_id)));
        }
        if let Some(size) = request.size {
            if key.key.len_bits() != u64::from(size) {
                return Err(bad(format!("key {} has {} bits, {size} requested", key.key_id, key.key.len_bits())));
            }
        }
    }
    if let Some(first) = container.keys.first() {
        if container.keys.iter().any(|k| k.key.len() != first.key.len()) {
            return Err(bad("keys of different sizes in one answer".into()));
        }
    }
    if container.keys.len() < requested {
        return Err(ClientError::Shortfall(Box::new(Shortfall {
            call: Call::EncKeys,
            http_status: 200,
            requested,
            received: container.keys,
            missing: Vec::new(),
        })));
    }
    Ok(container)
}

fn interpret_dec_keys(
    (answer, maybe_sent_before): (Answer, bool),
    request: &KeyIds,
) -> Result<KeyContainer, ClientError> {
    let requested: Vec<KeyId> = request.ids().collect();
    match answer.status {
        200 => {}
        404 => {
            return Err(ClientError::Shortfall(Box::new(Shortfall {
                call: Call::DecKeys,
                http_status: 404,
                requested: requested.len(),
                received: Vec::new(),
                missing: requested,
            })));
        }
        status => {
            let error = status_error(status, &answer.body);
            return Err(match error {
                ClientError::BadRequest(body)
                    if maybe_sent_before && body.message.eq_ignore_ascii_case(messages::KEYS_NOT_FOUND) =>
                {
                    ClientError::PossiblyDelivered(body)
                }
                other => other,
            });
        }
    }
    let bad = |reason: String| ClientError::BadResponse { call: Call::DecKeys, reason };
    let container = KeyContainer::from_json(&answer.body).map_err(|e| bad(e.to_string()))?;
    let mut by_id: std::collections::HashMap<KeyId, Key> = std::collections::HashMap::new();
    for key in container.keys {
        if !requested.contains(&key.key_id) {
            return Err(bad(format!("key_ID {} was not requested", key.key_id)));
        }
        if key.key.is_empty() {
            return Err(bad(format!("key {} is empty", key.key_id)));
        }
        let id = key.key_id;
        if by_id.insert(id, key).is_some() {
            return Err(bad(format!("key_ID {id} appears twice")));
        }
    }
    let mut keys = Vec::with_capacity(requested.len());
    let mut missing = Vec::new();
    for id in &requested {
        match by_id.remove(id) {
            Some(key) => keys.push(key),
            None => missing.push(*id),
        }
    }
    if !missing.is_empty() {
        return Err(ClientError::Shortfall(Box::new(Shortfall {
            call: Call::DecKeys,
            http_status: 200,
            requested: requested.len(),
            received: keys,
            missing,
        })));
    }
    Ok(KeyContainer { keys, key_container_extension: container.key_container_extension })
}

#[cfg(test)]
mod tests;
