//! The rApp side of A1: policy clients for the two ways a Non-RT RIC
//! reaches a near-RT RIC.
//!
//! * [`A1pClient`] speaks O-RAN A1-P v2 directly to a near-RT RIC's (or a
//!   standalone xApp's) A1 termination.
//! * [`PmsClient`] goes through an A1 Policy Management Service (OSC
//!   A1PMS v2, `/a1-policy/v2`): it registers the rApp as a service, keeps
//!   it alive, and creates policies as `policy_info` records naming the RIC.
//!
//! Both implement [`A1PolicyClient`], so the rApp is written once and the
//! deployment chooses the path ([`A1ClientConfig`], [`AnyA1Client`]).
//!
//! Why retries live here: A1 PUT, GET and DELETE are idempotent, so a
//! request that failed on the way (connection refused while the RIC
//! restarts, a 503 from an overloaded PMS, a 429) is simply sent again with
//! exponential backoff ([`RetryPolicy`]). A 4xx other than 429 is final and
//! returned at once with the server's problem detail: the request itself is
//! wrong, and repeating it would only hide that.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderName};
use hyper::{Method, Uri};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::registry::PolicyTypeRegistry;
use crate::service::{API_PREFIX, encode_segment};
use crate::transport::{RawResponse, Transport, TransportError};
use crate::types::validate_policy_id;
use crate::validate::Violation;

pub use crate::transport::RetryPolicy;

/// Default per-request deadline (connect, send, whole answer).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest answer body quoted in an error.
const MAX_QUOTED_BODY: usize = 512;

/// An RFC 7807 problem as a server sent it (every member optional; the
/// `invalidParams` extension of the qsafe termination when present).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProblemDetails {
    /// `type`.
    pub type_uri: Option<String>,
    /// `title`.
    pub title: Option<String>,
    /// `status`.
    pub status: Option<u16>,
    /// `detail`.
    pub detail: Option<String>,
    /// `instance`.
    pub instance: Option<String>,
    /// `invalidParams`: (param, reason).
    pub invalid_params: Vec<(String, String)>,
}

impl ProblemDetails {
    /// Reads a problem from a body, leniently (any member may be missing or
    /// of another type); `None` if the body is not a JSON object.
    pub fn from_body(body: &[u8]) -> Option<Self> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let o = v.as_object()?;
        let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
        let invalid_params = o
            .get("invalidParams")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| {
                        let param = p.get("param")?.as_str()?.to_owned();
                        let reason = p.get("reason").and_then(Value::as_str).unwrap_or_default().to_owned();
                        Some((param, reason))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            type_uri: s("type"),
            title: s("title"),
            status: o.get("status").and_then(Value::as_f64).map(|f| f as u16),
            detail: s("detail"),
            instance: s("instance"),
            invalid_params,
        })
    }
}

impl fmt::Display for ProblemDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(t) = &self.title {
            parts.push(t.clone());
        }
        if let Some(d) = &self.detail {
            parts.push(d.clone());
        }
        for (p, r) in &self.invalid_params {
            parts.push(format!("{p}: {r}"));
        }
        f.write_str(&parts.join("; "))
    }
}

/// Why a client call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The configured base URL is unusable.
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A policy or type id the server could never accept (checked before
    /// sending).
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The policy does not follow its type (checked before sending, when
    /// the client has a registry).
    #[error("policy does not follow {policy_type_id}: {}", violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidPolicy {
        /// The type.
        policy_type_id: String,
        /// Every violation.
        violations: Vec<Violation>,
    },
    /// No connection after every try.
    #[error("{method} {url}: cannot connect after {attempts} attempt(s): {reason}")]
    Connect {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// Tries made.
        attempts: u32,
        /// Last failure.
        reason: String,
    },
    /// No complete answer in time after every try.
    #[error("{method} {url}: no answer within {timeout:?} after {attempts} attempt(s)")]
    Timeout {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// Tries made.
        attempts: u32,
        /// The per-request deadline.
        timeout: Duration,
    },
    /// The connection broke after connecting, on every try.
    #[error("{method} {url}: transport failed after {attempts} attempt(s): {reason}")]
    Transport {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// Tries made.
        attempts: u32,
        /// Last failure.
        reason: String,
    },
    /// The server answered with a status the call does not expect.
    #[error("{method} {url}: HTTP {status} after {attempts} attempt(s){}", problem_suffix(problem.as_deref(), body))]
    Status {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// The answer's status.
        status: u16,
        /// Tries made.
        attempts: u32,
        /// The answer's problem detail, if it had one.
        problem: Option<Box<ProblemDetails>>,
        /// The answer's body (truncated) when it was not a problem.
        body: String,
    },
    /// The answer's status was expected but its body is not what the API
    /// defines.
    #[error("{method} {url}: unexpected answer body: {reason}")]
    Decode {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// What is off.
        reason: String,
    },
}

fn problem_suffix(problem: Option<&ProblemDetails>, body: &str) -> String {
    match problem {
        Some(p) => format!(": {p}"),
        None if !body.is_empty() => format!(": {body}"),
        None => String::new(),
    }
}

impl ClientError {
    /// The HTTP status of a [`ClientError::Status`].
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's problem detail, if any.
    pub fn problem(&self) -> Option<&ProblemDetails> {
        match self {
            ClientError::Status { problem, .. } => problem.as_deref(),
            _ => None,
        }
    }
}

/// Whether a PUT created the policy or replaced one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// 201.
    Created,
    /// 200.
    Updated,
}

/// The operations the rApp needs, over either path.
pub trait A1PolicyClient: Send + Sync {
    /// The policy type ids the near-RT RIC supports.
    fn policy_type_ids(&self) -> impl Future<Output = Result<Vec<String>, ClientError>> + Send;
    /// Creates or replaces a policy (idempotent).
    fn put_policy(
        &self,
        policy_type_id: &str,
        policy_id: &str,
        policy: &Value,
        notification_destination: Option<&str>,
    ) -> impl Future<Output = Result<PutOutcome, ClientError>> + Send;
    /// A policy's body, `None` if there is none.
    fn get_policy(
        &self,
        policy_type_id: &str,
        policy_id: &str,
    ) -> impl Future<Output = Result<Option<Value>, ClientError>> + Send;
    /// Deletes a policy; `false` if there was none.
    fn delete_policy(
        &self,
        policy_type_id: &str,
        policy_id: &str,
    ) -> impl Future<Output = Result<bool, ClientError>> + Send;
    /// A policy's status object, `None` if there is no such policy.
    fn policy_status(
        &self,
        policy_type_id: &str,
        policy_id: &str,
    ) -> impl Future<Output = Result<Option<Value>, ClientError>> + Send;
}

/// Base URL, deadline and retries of one HTTP client.
#[derive(Debug, Clone)]
struct HttpCore {
    transport: Transport,
    base: String,
    timeout: Duration,
    retry: RetryPolicy,
}

/// The answer of a call and how many tries it took.
struct Answer {
    raw: RawResponse,
    attempts: u32,
    method: Method,
    url: String,
}

impl Answer {
    fn error(&self) -> ClientError {
        let problem = ProblemDetails::from_body(&self.raw.body).map(Box::new);
        let body = if problem.is_some() {
            String::new()
        } else {
            let mut s = String::from_utf8_lossy(&self.raw.body).into_owned();
            if let Some((i, _)) = s.char_indices().nth(MAX_QUOTED_BODY) {
                s.truncate(i);
            }
            s
        };
        ClientError::Status {
            method: self.method.to_string(),
            url: self.url.clone(),
            status: self.raw.status,
            attempts: self.attempts,
            problem,
            body,
        }
    }

    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_slice(&self.raw.body).map_err(|e| ClientError::Decode {
            method: self.method.to_string(),
            url: self.url.clone(),
            reason: e.to_string(),
        })
    }
}

fn check_base_url(url: &str) -> Result<String, ClientError> {
    let bad = |reason: &str| ClientError::InvalidUrl { url: url.to_owned(), reason: reason.to_owned() };
    let uri: Uri = url.parse().map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(_) => return Err(bad("only http:// is supported")),
        None => return Err(bad("must be absolute (http://host:port)")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if uri.query().is_some() {
        return Err(bad("must not have a query"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

impl HttpCore {
    fn new(base_url: &str, timeout: Duration, retry: RetryPolicy) -> Result<Self, ClientError> {
        let base = check_base_url(base_url)?;
        Ok(Self { transport: Transport::new(), base, timeout, retry })
    }

    /// `GET path`: the JSON body on 200, `None` on 404, else the error.
    async fn get_optional<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ClientError> {
        let a = self.call(Method::GET, path, None).await?;
        match a.raw.status {
            200 => a.json().map(Some),
            404 => Ok(None),
            _ => Err(a.error()),
        }
    }

    /// `DELETE path`: `true` on 200/204, `false` on 404, else the error.
    async fn delete_found(&self, path: &str) -> Result<bool, ClientError> {
        let a = self.call(Method::DELETE, path, None).await?;
        match a.raw.status {
            200 | 204 => Ok(true),
            404 => Ok(false),
            _ => Err(a.error()),
        }
    }

    /// `PUT path` with a JSON body: 201 created, 200 updated, else the error.
    async fn put_json(&self, path: &str, body: &Value) -> Result<PutOutcome, ClientError> {
        let a = self.call(Method::PUT, path, Some(body)).await?;
        match a.raw.status {
            201 => Ok(PutOutcome::Created),
            200 => Ok(PutOutcome::Updated),
            _ => Err(a.error()),
        }
    }

    /// Sends `method path` with retries; returns the last answer (whatever
    /// its status) or the transport failure of the last try.
    async fn call(&self, method: Method, path: &str, json_body: Option<&Value>) -> Result<Answer, ClientError> {
        let url = format!("{}{path}", self.base);
        let uri: Uri = url.parse().map_err(|e: hyper::http::uri::InvalidUri| ClientError::InvalidArgument {
            what: "request URL",
            reason: format!("{url}: {e}"),
        })?;
        let body = json_body.map(|v| Bytes::from(serde_json::to_vec(v).unwrap_or_default()));
        let mut headers: Vec<(HeaderName, &str)> = vec![(ACCEPT, "application/json, application/problem+json")];
        if body.is_some() {
            headers.push((CONTENT_TYPE, "application/json"));
        }
        let max = self.retry.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.transport.send(method.clone(), &uri, &headers, body.clone(), self.timeout).await;
            let (retry_after, failure) = match &result {
                Ok(raw) if RetryPolicy::retryable_status(raw.status) => {
                    (raw.retry_after(), format!("HTTP {}", raw.status))
                }
                Ok(_) => (None, String::new()),
                Err(e) => (None, format!("{e:?}")),
            };
            let retry = match &result {
                Ok(raw) => RetryPolicy::retryable_status(raw.status),
                Err(_) => true,
            };
            if retry && attempt < max {
                let wait = self.retry.backoff(attempt, retry_after);
                tracing::debug!(%method, %url, attempt, ?wait, failure, "A1 request failed; retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
            let m = method.to_string();
            return match result {
                Ok(raw) => Ok(Answer { raw, attempts: attempt, method, url }),
                Err(TransportError::Connect(reason)) => {
                    Err(ClientError::Connect { method: m, url, attempts: attempt, reason })
                }
                Err(TransportError::Timeout(timeout)) => {
                    Err(ClientError::Timeout { method: m, url, attempts: attempt, timeout })
                }
                Err(TransportError::Broken(reason)) => {
                    Err(ClientError::Transport { method: m, url, attempts: attempt, reason })
                }
            };
        }
    }
}

fn check_id(what: &'static str, id: &str) -> Result<(), ClientError> {
    validate_policy_id(id).map_err(|e| ClientError::InvalidArgument { what, reason: e.to_string() })
}

fn check_policy(
    registry: Option<&Arc<PolicyTypeRegistry>>,
    policy_type_id: &str,
    policy: &Value,
) -> Result<(), ClientError> {
    let Some(reg) = registry else { return Ok(()) };
    // Types the registry does not know are left to the server.
    let Some(t) = reg.get(policy_type_id) else { return Ok(()) };
    t.validate_policy(policy)
        .map(|_| ())
        .map_err(|violations| ClientError::InvalidPolicy { policy_type_id: policy_type_id.to_owned(), violations })
}

/// Configuration of an [`A1pClient`].
#[derive(Debug, Clone)]
pub struct A1pConfig {
    /// The A1-P `apiRoot` (`http://host:port`, optionally with a path);
    /// `/A1-P/v2/...` is appended.
    pub api_root: String,
    /// Deadline of each try.
    pub request_timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
    /// When set, policies of known types are validated before sending.
    pub registry: Option<Arc<PolicyTypeRegistry>>,
}

impl A1pConfig {
    /// Defaults for `api_root`.
    pub fn new(api_root: impl Into<String>) -> Self {
        Self {
            api_root: api_root.into(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
            registry: None,
        }
    }
}

/// An A1-P v2 consumer.
#[derive(Debug, Clone)]
pub struct A1pClient {
    http: HttpCore,
    registry: Option<Arc<PolicyTypeRegistry>>,
}

fn policy_path(policy_type_id: &str, policy_id: &str) -> String {
    format!("{API_PREFIX}/policytypes/{}/policies/{}", encode_segment(policy_type_id), encode_segment(policy_id))
}

impl A1pClient {
    /// A client for `config.api_root`.
    pub fn new(config: A1pConfig) -> Result<Self, ClientError> {
        Ok(Self {
            http: HttpCore::new(&config.api_root, config.request_timeout, config.retry)?,
            registry: config.registry,
        })
    }

    /// `GET /policytypes`.
    pub async fn policy_type_ids(&self) -> Result<Vec<String>, ClientError> {
        let a = self.http.call(Method::GET, &format!("{API_PREFIX}/policytypes"), None).await?;
        if a.raw.status != 200 {
            return Err(a.error());
        }
        a.json()
    }

    /// `GET /policytypes/{id}`: the `PolicyTypeObject`, `None` on 404.
    pub async fn policy_type(&self, policy_type_id: &str) -> Result<Option<Value>, ClientError> {
        let path = format!("{API_PREFIX}/policytypes/{}", encode_segment(policy_type_id));
        self.http.get_optional(&path).await
    }

    /// `GET /policytypes/{id}/policies`: `None` when the type is unknown.
    pub async fn policy_ids(&self, policy_type_id: &str) -> Result<Option<Vec<String>>, ClientError> {
        let path = format!("{API_PREFIX}/policytypes/{}/policies", encode_segment(policy_type_id));
        self.http.get_optional(&path).await
    }

    /// `PUT /policytypes/{type}/policies/{id}[?notificationDestination=]`.
    pub async fn put_policy(
        &self,
        policy_type_id: &str,
        policy_id: &str,
        policy: &Value,
        notification_destination: Option<&str>,
    ) -> Result<PutOutcome, ClientError> {
        check_id("policy id", policy_id)?;
        check_policy(self.registry.as_ref(), policy_type_id, policy)?;
        let mut path = policy_path(policy_type_id, policy_id);
        if let Some(d) = notification_destination {
            path.push_str("?notificationDestination=");
            path.extend(form_urlencoded::byte_serialize(d.as_bytes()));
        }
        self.http.put_json(&path, policy).await
    }

    /// `GET` a policy; `None` on 404.
    pub async fn get_policy(&self, policy_type_id: &str, policy_id: &str) -> Result<Option<Value>, ClientError> {
        check_id("policy id", policy_id)?;
        self.http.get_optional(&policy_path(policy_type_id, policy_id)).await
    }

    /// `DELETE` a policy: `true` on 204, `false` on 404.
    pub async fn delete_policy(&self, policy_type_id: &str, policy_id: &str) -> Result<bool, ClientError> {
        check_id("policy id", policy_id)?;
        self.http.delete_found(&policy_path(policy_type_id, policy_id)).await
    }

    /// `GET .../status`; `None` on 404.
    pub async fn policy_status(&self, policy_type_id: &str, policy_id: &str) -> Result<Option<Value>, ClientError> {
        check_id("policy id", policy_id)?;
        let path = format!("{}/status", policy_path(policy_type_id, policy_id));
        self.http.get_optional(&path).await
    }
}

impl A1PolicyClient for A1pClient {
    fn policy_type_ids(&self) -> impl Future<Output = Result<Vec<String>, ClientError>> + Send {
        A1pClient::policy_type_ids(self)
    }
    fn put_policy(
        &self,
        policy_type_id: &str,
        policy_id: &str,
        policy: &Value,
        notification_destination: Option<&str>,
    ) -> impl Future<Output = Result<PutOutcome, ClientError>> + Send {
        A1pClient::put_policy(self, policy_type_id, policy_id, policy, notification_destination)
    }
    fn get_policy(
        &self,
        policy_type_id: &str,
        policy_id: &str,
    ) -> impl Future<Output = Result<Option<Value>, ClientError>> + Send {
        A1pClient::get_policy(self, policy_type_id, policy_id)
    }
    fn delete_policy(
        &self,
        policy_type_id: &str,
        policy_id: &str,
    ) -> impl Future<Output = Result<bool, ClientError>> + Send {
        A1pClient::delete_policy(self, policy_type_id, policy_id)
    }
    fn policy_status(
        &self,
        policy_type_id: &str,
        policy_id: &str,
    ) -> impl Future<Output = Result<Option<Value>, ClientError>> + Send {
        A1pClient::policy_status(self, policy_type_id, policy_id)
    }
}

/// A1PMS v2 base path.
pub const PMS_PREFIX: &str = "/a1-policy/v2";

/// A1PMS v2 `policy_info`: one policy instance as the PMS holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyInfo {
    /// `policy_id`.
    pub policy_id: String,
    /// `ric_id`: the target near-RT RIC.
    pub ric_id: String,
    /// `service_id`: the owning service (`""` for none).
    #[serde(default)]
    pub service_id: String,
    /// `policy_data`: the policy object.
    pub policy_data: Value,
    /// `policytype_id`.
    pub policytype_id: String,
    /// `transient`: deleted rather than re-pushed when the RIC restarts.
    #[serde(default)]
    pub transient: bool,
    /// `status_notification_uri`: where status changes are POSTed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_notification_uri: Option<String>,
}

/// A1PMS v2 `service_registration_info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRegistrationInfo {
    /// `service_id`.
    pub service_id: String,
    /// `keep_alive_interval_seconds`: 0 disables supervision.
    #[serde(default)]
    pub keep_alive_interval_seconds: u64,
    /// `callback_url`: for Near-RT RIC state callbacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

/// A1PMS v2 `policy_status_info`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyStatusInfo {
    /// `last_modified`: timestamp of the last change.
    #[serde(default)]
    pub last_modified: Option<String>,
    /// `status`: the policy's status object from the RIC.
    #[serde(default)]
    pub status: Value,
}

/// Configuration of a [`PmsClient`].
#[derive(Debug, Clone)]
pub struct PmsConfig {
    /// The PMS (`http://host:port`); `/a1-policy/v2/...` is appended.
    pub base_url: String,
    /// The near-RT RIC the policies are for (`ric_id`).
    pub ric_id: String,
    /// This rApp's `service_id`.
    pub service_id: String,
    /// `keep_alive_interval_seconds` registered (0: no supervision).
    pub keep_alive_interval_seconds: u64,
    /// `callback_url` registered.
    pub callback_url: Option<String>,
    /// `transient` of the policies created.
    pub transient: bool,
    /// Deadline of each try.
    pub request_timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
    /// When set, policies of known types are validated before sending.
    pub registry: Option<Arc<PolicyTypeRegistry>>,
}

impl PmsConfig {
    /// Defaults for a PMS, RIC and service id (keepalive 60 s).
    pub fn new(base_url: impl Into<String>, ric_id: impl Into<String>, service_id: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            ric_id: ric_id.into(),
            service_id: service_id.into(),
            keep_alive_interval_seconds: 60,
            callback_url: None,
            transient: false,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
            registry: None,
        }
    }
}

/// An A1PMS v2 client for one rApp service and one near-RT RIC.
#[derive(Debug, Clone)]
pub struct PmsClient {
    http: HttpCore,
    config: Arc<PmsConfig>,
}

impl PmsClient {
    /// A client for `config.base_url`.
    pub fn new(config: PmsConfig) -> Result<Self, ClientError> {
        if config.service_id.is_empty() {
            return Err(ClientError::InvalidArgument { what: "service id", reason: "empty".into() });
        }
        let http = HttpCore::new(&config.base_url, config.request_timeout, config.retry)?;
        Ok(Self { http, config: Arc::new(config) })
    }

    /// The configuration.
    pub fn config(&self) -> &PmsConfig {
        &self.config
    }

    /// `PUT /a1-policy/v2/services`: registers (201) or re-registers (200).
    pub async fn register_service(&self) -> Result<PutOutcome, ClientError> {
        let info = ServiceRegistrationInfo {
            service_id: self.config.service_id.clone(),
            keep_alive_interval_seconds: self.config.keep_alive_interval_seconds,
            callback_url: self.config.callback_url.clone(),
        };
        let body = serde_json::to_value(&info).unwrap_or(Value::Null);
        self.http.put_json(&format!("{PMS_PREFIX}/services"), &body).await
    }

    /// `PUT /a1-policy/v2/services/{id}/keepalive` (404: not registered).
    pub async fn keepalive(&self) -> Result<(), ClientError> {
        let path = format!("{PMS_PREFIX}/services/{}/keepalive", encode_segment(&self.config.service_id));
        let a = self.http.call(Method::PUT, &path, None).await?;
        match a.raw.status {
            200 | 204 => Ok(()),
            _ => Err(a.error()),
        }
    }

    /// `DELETE /a1-policy/v2/services/{id}`: `false` if not registered.
    /// The PMS deletes the service's policies.
    pub async fn unregister_service(&self) -> Result<bool, ClientError> {
        let path = format!("{PMS_PREFIX}/services/{}", encode_segment(&self.config.service_id));
        self.http.delete_found(&path).await
    }

    /// Sends a keepalive every `period` until the task is dropped; when the
    /// PMS no longer knows the service (404, it expired), registers again.
    pub fn spawn_keepalive(&self, period: Duration) -> KeepaliveTask {
        let client = self.clone();
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match client.keepalive().await {
                    Ok(()) => {}
                    Err(e) if e.status() == Some(404) => {
                        tracing::warn!(service_id = %client.config.service_id,
                            "PMS no longer knows this service; registering again");
                        if let Err(e) = client.register_service().await {
                            tracing::warn!(error = %e, "PMS service registration failed");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "PMS keepalive failed"),
                }
            }
        });
        KeepaliveTask { handle }
    }

    /// The `policy_info` this client sends for a policy.
    pub fn policy_info(
        &self,
        policy_type_id: &str,
        policy_id: &str,
        policy: &Value,
        notification_destination: Option<&str>,
    ) -> PolicyInfo {
        PolicyInfo {
            policy_id: policy_id.to_owned(),
            ric_id: self.config.ric_id.clone(),
            service_id: self.config.service_id.clone(),
            policy_data: policy.clone(),
            policytype_id: policy_type_id.to_owned(),
            transient: self.config.transient,
            status_notification_uri: notification_destination.map(str::to_owned),
        }
    }

    /// `PUT /a1-policy/v2/policies` with a `policy_info`.
    pub async fn put_policy(
        &self,
        policy_type_id: &str,
        policy_id: &str,
        policy: &Value,
        notification_destination: Option<&str>,
    ) -> Result<PutOutcome, ClientError> {
        check_id("policy id", policy_id)?;
        check_policy(self.config.registry.as_ref(), policy_type_id, policy)?;
        let info = self.policy_info(policy_type_id, policy_id, policy, notification_destination);
        let body = serde_json::to_value(&info).unwrap_or(Value::Null);
        self.http.put_json(&format!("{PMS_PREFIX}/policies"), &body).await
    }

    /// `GET /a1-policy/v2/policies/{id}`; `None` on 404.
    pub async fn get_policy_info(&self, policy_id: &str) -> Result<Option<PolicyInfo>, ClientError> {
        check_id("policy id", policy_id)?;
        let path = format!("{PMS_PREFIX}/policies/{}", encode_segment(policy_id));
        self.http.get_optional(&path).await
    }

    /// `DELETE /a1-policy/v2/policies/{id}`: `true` on 200/204, `false` on 404.
    pub async fn delete_policy(&self, policy_id: &str) -> Result<bool, ClientError> {
        check_id("policy id", policy_id)?;
        let path = format!("{PMS_PREFIX}/policies/{}", encode_segment(policy_id));
        self.http.delete_found(&path).await
    }

    /// `GET /a1-policy/v2/policies/{id}/status`; `None` on 404.
    pub async fn policy_status_info(&self, policy_id: &str) -> Result<Option<PolicyStatusInfo>, ClientError> {
        check_id("policy id", policy_id)?;
        let path = format!("{PMS_PREFIX}/policies/{}/status", encode_segment(policy_id));
        self.http.get_optional(&path).await
    }

    /// `GET /a1-policy/v2/policy-types?ric_id=`: the RIC's type ids.
    pub async fn policy_type_ids(&self) -> Result<Vec<String>, ClientError> {
        #[derive(Deserialize)]
        struct List {
            policytype_ids: Vec<String>,
        }
        let mut path = format!("{PMS_PREFIX}/policy-types?ric_id=");
        path.extend(form_urlencoded::byte_serialize(self.config.ric_id.as_bytes()));
        let a = self.http.call(Method::GET, &path, None).await?;
        if a.raw.status != 200 {
            return Err(a.error());
        }
        a.json::<List>().map(|l| l.policytype_ids)
    }
}

impl A1PolicyClient for PmsClient {
    fn policy_type_ids(&self) -> impl Future<Output = Result<Vec<String>, ClientError>> + Send {
        PmsClient::policy_type_ids(self)
    }
    fn put_policy(
        &self,
        policy_type_id: &str,
        policy_id: &str,
        policy: &Value,
        notification_destination: Option<&str>,
    ) -> impl Future<Output = Result<PutOutcome, ClientError>> + Send {
        PmsClient::put_policy(self, policy_type_id, policy_id, policy, notification_destination)
    }
    async fn get_policy(&self, policy_type_id: &str, policy_id: &str) -> Result<Option<Value>, ClientError> {
        Ok(self
            .get_policy_info(policy_id)
            .await?
            .filter(|i| i.policytype_id == policy_type_id && i.ric_id == self.config.ric_id)
            .map(|i| i.policy_data))
    }
    async fn delete_policy(&self, _policy_type_id: &str, policy_id: &str) -> Result<bool, ClientError> {
        PmsClient::delete_policy(self, policy_id).await
    }
    async fn policy_status(&self, _policy_type_id: &str, policy_id: &str) -> Result<Option<Value>, ClientError> {
        Ok(self.policy_status_info(policy_id).await?.map(|s| s.status))
    }
}

/// A running keepalive loop; stops when dropped.
#[derive(Debug)]
pub struct KeepaliveTask {
    handle: tokio::task::JoinHandle<()>,
}

impl Drop for KeepaliveTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Which path the rApp uses to reach the near-RT RIC.
#[derive(Debug, Clone)]
pub enum A1ClientConfig {
    /// A1-P v2 directly.
    Direct(A1pConfig),
    /// Through an A1PMS v2.
    Pms(PmsConfig),
}

/// Either client, chosen by configuration.
#[derive(Debug, Clone)]
pub enum AnyA1Client {
    /// A1-P v2 directly.
    Direct(A1pClient),
    /// Through an A1PMS v2.
    Pms(PmsClient),
}

impl AnyA1Client {
    /// The client `config` describes.
    pub fn new(config: A1ClientConfig) -> Result<Self, ClientError> {
        Ok(match config {
            A1ClientConfig::Direct(c) => AnyA1Client::Direct(A1pClient::new(c)?),
            A1ClientConfig::Pms(c) => AnyA1Client::Pms(PmsClient::new(c)?),
        })
    }
}

impl A1PolicyClient for AnyA1Client {
    async fn policy_type_ids(&self) -> Result<Vec<String>, ClientError> {
        match self {
            AnyA1Client::Direct(c) => c.policy_type_ids().await,
            AnyA1Client::Pms(c) => c.policy_type_ids().await,
        }
    }
    async fn put_policy(
        &self,
        policy_type_id: &str,
        policy_id: &str,
        policy: &Value,
        notification_destination: Option<&str>,
    ) -> Result<PutOutcome, ClientError> {
        match self {
            AnyA1Client::Direct(c) => c.put_policy(policy_type_id, policy_id, policy, notification_destination).await,
            AnyA1Client::Pms(c) => c.put_policy(policy_type_id, policy_id, policy, notification_destination).await,
        }
    }
    async fn get_policy(&self, policy_type_id: &str, policy_id: &str) -> Result<Option<Value>, ClientError> {
        match self {
            AnyA1Client::Direct(c) => c.get_policy(policy_type_id, policy_id).await,
            AnyA1Client::Pms(c) => A1PolicyClient::get_policy(c, policy_type_id, policy_id).await,
        }
    }
    async fn delete_policy(&self, policy_type_id: &str, policy_id: &str) -> Result<bool, ClientError> {
        match self {
            AnyA1Client::Direct(c) => c.delete_policy(policy_type_id, policy_id).await,
            AnyA1Client::Pms(c) => c.delete_policy(policy_id).await,
        }
    }
    async fn policy_status(&self, policy_type_id: &str, policy_id: &str) -> Result<Option<Value>, ClientError> {
        match self {
            AnyA1Client::Direct(c) => c.policy_status(policy_type_id, policy_id).await,
            AnyA1Client::Pms(c) => A1PolicyClient::policy_status(c, policy_type_id, policy_id).await,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(check_base_url("http://127.0.0.1:8080/").expect("ok"), "http://127.0.0.1:8080");
        assert_eq!(check_base_url("http://ric/a1").expect("ok"), "http://ric/a1");
        assert!(matches!(check_base_url("https://ric"), Err(ClientError::InvalidUrl { .. })));
        assert!(matches!(check_base_url("ric:80"), Err(ClientError::InvalidUrl { .. })));
        assert!(matches!(check_base_url("http://ric/?x=1"), Err(ClientError::InvalidUrl { .. })));
    }

    #[test]
    fn problem_parsing_is_lenient() {
        let p = ProblemDetails::from_body(
            br#"{"title":"Bad Request","status":400.0,"invalidParams":[{"param":"/a","reason":"r"},{"x":1}]}"#,
        )
        .expect("object");
        assert_eq!(p.status, Some(400));
        assert_eq!(p.invalid_params, vec![("/a".to_owned(), "r".to_owned())]);
        assert!(ProblemDetails::from_body(b"[]").is_none());
        assert!(ProblemDetails::from_body(b"oops").is_none());
    }

    #[test]
    fn pms_wire_names() {
        let info = PolicyInfo {
            policy_id: "p".into(),
            ric_id: "r".into(),
            service_id: "s".into(),
            policy_data: serde_json::json!({}),
            policytype_id: "t".into(),
            transient: false,
            status_notification_uri: Some("http://x/".into()),
        };
        let v = serde_json::to_value(&info).expect("json");
        let mut keys: Vec<_> = v.as_object().expect("obj").keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "policy_data",
                "policy_id",
                "policytype_id",
                "ric_id",
                "service_id",
                "status_notification_uri",
                "transient"
            ]
        );
        let reg = ServiceRegistrationInfo {
            service_id: "s".into(),
            keep_alive_interval_seconds: 5,
            callback_url: Some("http://cb".into()),
        };
        let v = serde_json::to_value(&reg).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"service_id": "s", "keep_alive_interval_seconds": 5, "callback_url": "http://cb"})
        );
    }
}
