//! The A1-P v2 termination (O-RAN.WG2.A1AP-v02.00, `{apiRoot}/A1-P/v2`) as a
//! sans-IO state machine: a [`Request`] value in, an [`Outcome`] out (the
//! HTTP response, the [`PolicyEffect`]s the enforcement side must carry
//! out, and the status [`NotificationJob`]s to deliver).
//!
//! Why sans-IO (in the manner of quinn-proto): every rule of the A1-P
//! OpenAPI (which path, which method, which code, which header, what a
//! failed request must leave unchanged) lives here as plain code that a
//! table test or a fuzzer drives directly, with no sockets, clock or
//! runtime. The axum edge ([`crate::http`]) only moves bytes and executes
//! what the outcome says.
//!
//! Rules beyond the OpenAPI text, each to keep state and answers honest:
//!
//! * Nothing changes unless the answer is 2xx. A request is checked fully
//!   (path, type, id, content type, size, JSON, schema, semantics, query)
//!   and persisted ([`PolicyStore`]) before memory changes and before the
//!   answer; a store failure is 503 (507 when the store is full).
//! * A PUT of the policy already held (same JSON value, same destination) is
//!   200 with no effect: A1-P PUT is idempotent and consumers retry it.
//! * The status is not invented: a policy starts, and after an update
//!   restarts, as `NOT_ENFORCED` / `pending` until the enforcement side
//!   reports what it really enforces ([`A1Service::update_status`]); each
//!   change is a notification job when the consumer gave a
//!   `notificationDestination`.
//! * Errors are RFC 7807 `application/problem+json` (the spec's
//!   `ProblemDetails`), with an `invalidParams` member listing each invalid
//!   field as a JSON pointer (body) or parameter name (path, query).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use serde::Serialize;
use serde_json::{Value, json};

use crate::registry::PolicyTypeRegistry;
use crate::store::{PolicyStore, StoreError, StoredPolicy};
use crate::types::{PolicyId, PolicyKind};
use crate::validate::{self, BodyError, DEFAULT_MAX_BODY_BYTES, TypedPolicy, Violation};

/// Where the A1-P v2 resources live under the API root.
pub const API_PREFIX: &str = "/A1-P/v2";
/// `Content-Type` of JSON answers.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// `Content-Type` of RFC 7807 error answers.
pub const CONTENT_TYPE_PROBLEM: &str = "application/problem+json";
/// `enforceReason` of a policy whose enforcement is not known yet.
pub const PENDING_REASON: &str = "pending";
/// Longest accepted `notificationDestination`.
pub const MAX_DESTINATION_LEN: usize = 2048;

/// The status of a policy until the enforcement side reports one.
pub fn pending_status() -> Value {
    json!({ "enforceStatus": "NOT_ENFORCED", "enforceReason": PENDING_REASON })
}

/// Limits and naming of a service instance.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Largest accepted PUT body (413 above).
    pub max_body_bytes: usize,
    /// Most policies per type (507 Insufficient Storage above).
    pub max_policies_per_type: usize,
    /// Prepended to `Location` (e.g. `http://xapp:8080`); empty gives a
    /// path-absolute reference, which RFC 9110 allows.
    pub location_base: String,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self { max_body_bytes: DEFAULT_MAX_BODY_BYTES, max_policies_per_type: 1024, location_base: String::new() }
    }
}

/// One HTTP request as the edge received it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Method, as sent (methods are case-sensitive).
    pub method: &'a str,
    /// Path, still percent-encoded, including [`API_PREFIX`].
    pub path: &'a str,
    /// Query string without `?`, still encoded.
    pub query: Option<&'a str>,
    /// `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// A request without query, content type or body.
    pub fn new(method: &'a str, path: &'a str) -> Self {
        Self { method, path, query: None, content_type: None, body: &[] }
    }

    /// A JSON PUT.
    pub fn put_json(path: &'a str, body: &'a [u8]) -> Self {
        Self { method: "PUT", path, query: None, content_type: Some(CONTENT_TYPE_JSON), body }
    }

    /// The same request with a query string.
    pub fn with_query(self, query: &'a str) -> Self {
        Self { query: Some(query), ..self }
    }
}

/// One HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers (`Content-Type`, `Location`, `Allow`, `Retry-After`).
    pub headers: Vec<(&'static str, String)>,
    /// Body (empty for 204).
    pub body: Vec<u8>,
}

impl Response {
    fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            headers: vec![("Content-Type", CONTENT_TYPE_JSON.to_owned())],
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }

    fn no_content() -> Self {
        Self { status: 204, headers: Vec::new(), body: Vec::new() }
    }

    /// The value of a header (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is.
    pub fn json_body(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The kinds of problem this service reports (`type` of the
/// ProblemDetails; `title` is the status's reason phrase).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// No resource at this path (404).
    ResourceNotFound,
    /// Unknown policy type id (404).
    PolicyTypeNotFound,
    /// No such policy (404).
    PolicyNotFound,
    /// Method not defined for the path (405, with `Allow`).
    MethodNotAllowed,
    /// Body is not `application/json` (415).
    UnsupportedMediaType,
    /// Body over the cap (413).
    BodyTooLarge,
    /// Body missing or not JSON (400).
    MalformedBody,
    /// Body violates the policy type (400, `invalidParams` with pointers).
    InvalidPolicy,
    /// Path or query parameter invalid (400, `invalidParams` with names).
    InvalidParameter,
    /// Store full or policy limit reached (507).
    InsufficientStorage,
    /// Store failed (503).
    StoreUnavailable,
}

impl ProblemKind {
    /// HTTP status.
    pub fn status(self) -> u16 {
        match self {
            ProblemKind::ResourceNotFound | ProblemKind::PolicyTypeNotFound | ProblemKind::PolicyNotFound => 404,
            ProblemKind::MethodNotAllowed => 405,
            ProblemKind::UnsupportedMediaType => 415,
            ProblemKind::BodyTooLarge => 413,
            ProblemKind::MalformedBody | ProblemKind::InvalidPolicy | ProblemKind::InvalidParameter => 400,
            ProblemKind::InsufficientStorage => 507,
            ProblemKind::StoreUnavailable => 503,
        }
    }

    /// The `type` URI.
    pub fn type_uri(self) -> &'static str {
        match self {
            ProblemKind::ResourceNotFound => "urn:qsafe-ran:a1:problem:resource-not-found",
            ProblemKind::PolicyTypeNotFound => "urn:qsafe-ran:a1:problem:policy-type-not-found",
            ProblemKind::PolicyNotFound => "urn:qsafe-ran:a1:problem:policy-not-found",
            ProblemKind::MethodNotAllowed => "urn:qsafe-ran:a1:problem:method-not-allowed",
            ProblemKind::UnsupportedMediaType => "urn:qsafe-ran:a1:problem:unsupported-media-type",
            ProblemKind::BodyTooLarge => "urn:qsafe-ran:a1:problem:body-too-large",
            ProblemKind::MalformedBody => "urn:qsafe-ran:a1:problem:malformed-body",
            ProblemKind::InvalidPolicy => "urn:qsafe-ran:a1:problem:invalid-policy",
            ProblemKind::InvalidParameter => "urn:qsafe-ran:a1:problem:invalid-parameter",
            ProblemKind::InsufficientStorage => "urn:qsafe-ran:a1:problem:insufficient-storage",
            ProblemKind::StoreUnavailable => "urn:qsafe-ran:a1:problem:store-unavailable",
        }
    }

    /// The `title` (the status's reason phrase).
    pub fn title(self) -> &'static str {
        match self.status() {
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            413 => "Content Too Large",
            415 => "Unsupported Media Type",
            503 => "Service Unavailable",
            _ => "Insufficient Storage",
        }
    }
}

/// One entry of the `invalidParams` extension member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidParam {
    /// A JSON pointer into the body, or a path/query parameter name.
    pub param: String,
    /// What is wrong.
    pub reason: String,
}

impl From<Violation> for InvalidParam {
    fn from(v: Violation) -> Self {
        Self { param: v.path, reason: v.reason }
    }
}

/// An RFC 7807 problem as this service writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `type`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// `title`.
    pub title: String,
    /// `status`.
    pub status: u16,
    /// `detail`.
    pub detail: String,
    /// `instance`: the request path.
    pub instance: String,
    /// Each invalid field (400 only).
    #[serde(rename = "invalidParams", skip_serializing_if = "Vec::is_empty")]
    pub invalid_params: Vec<InvalidParam>,
}

impl Problem {
    /// A problem of `kind` about the request at `instance`.
    pub fn new(kind: ProblemKind, instance: &str, detail: impl Into<String>) -> Self {
        Self {
            type_uri: kind.type_uri().to_owned(),
            title: kind.title().to_owned(),
            status: kind.status(),
            detail: detail.into(),
            instance: instance.to_owned(),
            invalid_params: Vec::new(),
        }
    }

    /// With `invalidParams`.
    pub fn with_params(mut self, params: Vec<InvalidParam>) -> Self {
        self.invalid_params = params;
        self
    }

    /// As an HTTP answer (`application/problem+json`).
    pub fn into_response(self) -> Response {
        Response {
            status: self.status,
            headers: vec![("Content-Type", CONTENT_TYPE_PROBLEM.to_owned())],
            body: serde_json::to_vec(&self).unwrap_or_default(),
        }
    }
}

/// The 413 answer for a body the edge stopped reading at `limit` bytes.
pub fn body_too_large_response(path: &str, limit: usize) -> Response {
    Problem::new(ProblemKind::BodyTooLarge, path, format!("the body is larger than the {limit} bytes accepted"))
        .into_response()
}

/// What the enforcement side (the xApp) must do after an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyEffect {
    /// Enforce this policy (new, or replacing the one with the same id).
    Apply {
        /// Its type.
        policy_type_id: String,
        /// Its id.
        policy_id: PolicyId,
        /// The validated policy.
        policy: TypedPolicy,
    },
    /// Stop enforcing this policy.
    Remove {
        /// Its type.
        policy_type_id: String,
        /// Its id.
        policy_id: PolicyId,
    },
}

/// A status notification to POST (expecting 204) to a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationJob {
    /// The consumer's `notificationDestination`.
    pub destination: String,
    /// Type of the policy.
    pub policy_type_id: String,
    /// Id of the policy.
    pub policy_id: String,
    /// The status object to send.
    pub status: Value,
}

/// Everything one request produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The answer.
    pub response: Response,
    /// Effects to execute, in order.
    pub effects: Vec<PolicyEffect>,
    /// Notifications to deliver.
    pub notifications: Vec<NotificationJob>,
}

impl From<Response> for Outcome {
    fn from(response: Response) -> Self {
        Self { response, effects: Vec::new(), notifications: Vec::new() }
    }
}

impl From<Problem> for Outcome {
    fn from(p: Problem) -> Self {
        p.into_response().into()
    }
}

/// Why a status could not be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// No such type.
    #[error("unknown policy type {0}")]
    UnknownType(String),
    /// No such policy.
    #[error("no policy {policy_id} of type {policy_type_id}")]
    UnknownPolicy {
        /// Type.
        policy_type_id: String,
        /// Id.
        policy_id: String,
    },
    /// The status object does not follow the type's status schema.
    #[error("status of {policy_type_id}/{policy_id} violates the status schema: {}", list(violations))]
    Invalid {
        /// Type.
        policy_type_id: String,
        /// Id.
        policy_id: String,
        /// What is wrong.
        violations: Vec<Violation>,
    },
}

fn list(v: &[Violation]) -> String {
    v.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The store could not be read.
    #[error("loading policies: {0}")]
    Load(#[from] StoreError),
}

/// A stored policy not loaded at start-up, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SkippedPolicy {
    /// The stored record.
    pub stored: StoredPolicy,
    /// Why it was not loaded.
    pub reason: String,
}

/// The service after [`A1Service::open`], with what the enforcement side
/// must apply for the policies it loaded.
#[derive(Debug)]
pub struct Opened {
    /// The service.
    pub service: A1Service,
    /// One `Apply` per loaded policy.
    pub effects: Vec<PolicyEffect>,
    /// Stored policies that no longer validate or whose type is not served
    /// (left in the store, not served).
    pub skipped: Vec<SkippedPolicy>,
}

#[derive(Debug, Clone)]
struct PolicyEntry {
    body: Value,
    typed: TypedPolicy,
    notification_destination: Option<String>,
    status: Value,
}

/// The A1-P v2 termination's state: the policies of each type, their
/// status, and the store they are persisted in.
pub struct A1Service {
    registry: Arc<PolicyTypeRegistry>,
    config: ServiceConfig,
    store: Box<dyn PolicyStore>,
    policies: BTreeMap<PolicyKind, BTreeMap<PolicyId, PolicyEntry>>,
}

impl fmt::Debug for A1Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("A1Service")
            .field("config", &self.config)
            .field("policies", &self.policies.values().map(BTreeMap::len).sum::<usize>())
            .finish_non_exhaustive()
    }
}

/// Characters escaped in a path segment of `Location`.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

/// A path-segment-encoded string (for building A1 URLs).
pub fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

enum Route<'p> {
    Types,
    Type(&'p str),
    Policies(&'p str),
    Policy(&'p str, &'p str),
    Status(&'p str, &'p str),
}

fn route(path: &str) -> Option<Route<'_>> {
    let rest = path.strip_prefix(API_PREFIX)?.strip_prefix("/policytypes")?;
    if rest.is_empty() {
        return Some(Route::Types);
    }
    let segs: Vec<&str> = rest.strip_prefix('/')?.split('/').collect();
    match segs.as_slice() {
        [t] => Some(Route::Type(t)),
        [t, "policies"] => Some(Route::Policies(t)),
        [t, "policies", p] => Some(Route::Policy(t, p)),
        [t, "policies", p, "status"] => Some(Route::Status(t, p)),
        _ => None,
    }
}

fn decode(seg: &str) -> Option<String> {
    percent_decode_str(seg).decode_utf8().ok().map(|s| s.into_owned())
}

/// Checks a `notificationDestination`: an absolute `http://` URI with a
/// host. (https is refused: the notifier of this crate speaks plain HTTP,
/// and accepting a destination it cannot reach would be a silent failure.)
pub fn check_notification_destination(dest: &str) -> Result<(), String> {
    if dest.is_empty() || dest.len() > MAX_DESTINATION_LEN {
        return Err(format!("must be an absolute http:// URI of at most {MAX_DESTINATION_LEN} characters"));
    }
    let uri: hyper::Uri = dest.parse().map_err(|e| format!("not a URI: {e}"))?;
    match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") => {}
        Some(s) => return Err(format!("scheme {s} is not supported; only http:// destinations are")),
        None => return Err("must be an absolute http:// URI".into()),
    }
    match uri.host() {
        Some(h) if !h.is_empty() => Ok(()),
        _ => Err("has no host".into()),
    }
}

impl A1Service {
    /// Loads the store and builds the service. Stored policies of unknown
    /// types, with invalid ids, or no longer valid are skipped (reported,
    /// left in the store).
    pub fn open(
        registry: Arc<PolicyTypeRegistry>,
        config: ServiceConfig,
        mut store: Box<dyn PolicyStore>,
    ) -> Result<Opened, OpenError> {
        let stored = store.load_all()?;
        let mut service = Self { registry, config, store, policies: BTreeMap::new() };
        let mut effects = Vec::new();
        let mut skipped = Vec::new();
        for s in stored {
            let Some(t) = service.registry.get(&s.policy_type_id) else {
                skipped.push(SkippedPolicy { reason: "policy type not served".into(), stored: s });
                continue;
            };
            let kind = t.kind();
            let id = match PolicyId::parse(&s.policy_id) {
                Ok(id) => id,
                Err(e) => {
                    skipped.push(SkippedPolicy { reason: e.to_string(), stored: s });
                    continue;
                }
            };
            let typed = match t.validate_policy(&s.policy) {
                Ok(p) => p,
                Err(v) => {
                    skipped.push(SkippedPolicy { reason: list(&v), stored: s });
                    continue;
                }
            };
            effects.push(PolicyEffect::Apply {
                policy_type_id: s.policy_type_id.clone(),
                policy_id: id.clone(),
                policy: typed.clone(),
            });
            service.policies.entry(kind).or_default().insert(
                id,
                PolicyEntry {
                    body: s.policy,
                    typed,
                    notification_destination: s.notification_destination,
                    status: pending_status(),
                },
            );
        }
        for s in &skipped {
            tracing::warn!(policy_type = %s.stored.policy_type_id, policy_id = %s.stored.policy_id,
                reason = %s.reason, "stored A1 policy not loaded");
        }
        Ok(Opened { service, effects, skipped })
    }

    /// The served policy types.
    pub fn registry(&self) -> &PolicyTypeRegistry {
        &self.registry
    }

    /// The configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// Every policy held, as stored (type, id, body, destination), in order.
    pub fn stored_policies(&self) -> Vec<StoredPolicy> {
        self.policies
            .iter()
            .flat_map(|(kind, m)| {
                m.iter().map(|(id, e)| StoredPolicy {
                    policy_type_id: kind.type_id().to_owned(),
                    policy_id: id.to_string(),
                    policy: e.body.clone(),
                    notification_destination: e.notification_destination.clone(),
                })
            })
            .collect()
    }

    /// Every policy held, typed, for the enforcement side to reconcile.
    pub fn typed_policies(&self) -> Vec<(PolicyKind, PolicyId, TypedPolicy)> {
        self.policies
            .iter()
            .flat_map(|(kind, m)| m.iter().map(|(id, e)| (*kind, id.clone(), e.typed.clone())))
            .collect()
    }

    /// The current status object of a policy.
    pub fn status(&self, policy_type_id: &str, policy_id: &str) -> Option<&Value> {
        self.entry(policy_type_id, policy_id).map(|e| &e.status)
    }

    fn entry(&self, policy_type_id: &str, policy_id: &str) -> Option<&PolicyEntry> {
        let kind = PolicyKind::from_type_id(policy_type_id)?;
        let id = PolicyId::parse(policy_id).ok()?;
        self.policies.get(&kind)?.get(&id)
    }

    /// Records what the enforcement side really enforces for a policy. The
    /// status must follow the type's status schema. Returns the notification
    /// to deliver when the status changed and the consumer gave a
    /// destination.
    pub fn update_status(
        &mut self,
        policy_type_id: &str,
        policy_id: &str,
        status: Value,
    ) -> Result<Option<NotificationJob>, StatusError> {
        let t = self.registry.get(policy_type_id).ok_or_else(|| StatusError::UnknownType(policy_type_id.into()))?;
        let kind = t.kind();
        let unknown =
            || StatusError::UnknownPolicy { policy_type_id: policy_type_id.into(), policy_id: policy_id.into() };
        let id = PolicyId::parse(policy_id).map_err(|_| unknown())?;
        if !self.policies.get(&kind).is_some_and(|m| m.contains_key(&id)) {
            return Err(unknown());
        }
        t.validate_status(&status).map_err(|violations| StatusError::Invalid {
            policy_type_id: policy_type_id.into(),
            policy_id: policy_id.into(),
            violations,
        })?;
        let Some(entry) = self.policies.get_mut(&kind).and_then(|m| m.get_mut(&id)) else { return Err(unknown()) };
        if entry.status == status {
            return Ok(None);
        }
        entry.status = status;
        Ok(entry.notification_destination.as_ref().map(|d| NotificationJob {
            destination: d.clone(),
            policy_type_id: policy_type_id.to_owned(),
            policy_id: policy_id.to_owned(),
            status: entry.status.clone(),
        }))
    }

    /// Answers one A1-P v2 request.
    pub fn handle(&mut self, req: &Request<'_>) -> Outcome {
        let path = req.path;
        let Some(route) = route(path) else {
            return Problem::new(ProblemKind::ResourceNotFound, path, "no A1-P v2 resource at this path").into();
        };
        match route {
            Route::Types => {
                if let Some(o) = method_not_allowed(req, &["GET"]) {
                    return o;
                }
                Response::json(200, &json!(self.registry.type_ids())).into()
            }
            Route::Type(t) => {
                if let Some(o) = method_not_allowed(req, &["GET"]) {
                    return o;
                }
                match decode(t).and_then(|t| self.registry.policy_type_object(&t)) {
                    Some(obj) => Response::json(200, &obj).into(),
                    None => type_not_found(path),
                }
            }
            Route::Policies(t) => {
                if let Some(o) = method_not_allowed(req, &["GET"]) {
                    return o;
                }
                let Some(kind) = self.kind(t) else { return type_not_found(path) };
                let ids: Vec<&str> =
                    self.policies.get(&kind).map(|m| m.keys().map(PolicyId::as_str).collect()).unwrap_or_default();
                Response::json(200, &json!(ids)).into()
            }
            Route::Policy(t, p) => {
                if let Some(o) = method_not_allowed(req, &["GET", "PUT", "DELETE"]) {
                    return o;
                }
                let Some(kind) = self.kind(t) else { return type_not_found(path) };
                match req.method {
                    "PUT" => self.put(req, kind, p),
                    "GET" => match self.lookup(kind, p) {
                        Some(e) => Response::json(200, &e.body).into(),
                        None => policy_not_found(path),
                    },
                    _ => self.delete(req, kind, p),
                }
            }
            Route::Status(t, p) => {
                if let Some(o) = method_not_allowed(req, &["GET"]) {
                    return o;
                }
                let Some(kind) = self.kind(t) else { return type_not_found(path) };
                match self.lookup(kind, p) {
                    Some(e) => Response::json(200, &e.status).into(),
                    None => policy_not_found(path),
                }
            }
        }
    }

    fn kind(&self, encoded_type: &str) -> Option<PolicyKind> {
        decode(encoded_type).and_then(|t| self.registry.get(&t)).map(|t| t.kind())
    }

    fn lookup(&self, kind: PolicyKind, encoded_id: &str) -> Option<&PolicyEntry> {
        let id = PolicyId::parse(&decode(encoded_id)?).ok()?;
        self.policies.get(&kind)?.get(&id)
    }

    fn put(&mut self, req: &Request<'_>, kind: PolicyKind, encoded_id: &str) -> Outcome {
        let path = req.path;
        let bad_param = |param: &str, reason: String| -> Outcome {
            Problem::new(ProblemKind::InvalidParameter, path, format!("invalid {param}: {reason}"))
                .with_params(vec![InvalidParam { param: param.to_owned(), reason }])
                .into()
        };
        let id = match decode(encoded_id) {
            None => return bad_param("policyId", "not UTF-8 after percent-decoding".into()),
            Some(raw) => match PolicyId::parse(&raw) {
                Ok(id) => id,
                Err(e) => return bad_param("policyId", e.to_string()),
            },
        };
        if !is_json_media_type(req.content_type) {
            let got = req.content_type.unwrap_or("none");
            return Problem::new(
                ProblemKind::UnsupportedMediaType,
                path,
                format!("a policy is sent as {CONTENT_TYPE_JSON}, not {got}"),
            )
            .into();
        }
        let body = match validate::parse_json_body(req.body, self.config.max_body_bytes) {
            Ok(v) => v,
            Err(e @ BodyError::TooLarge { .. }) => {
                return Problem::new(ProblemKind::BodyTooLarge, path, e.to_string()).into();
            }
            Err(e) => return Problem::new(ProblemKind::MalformedBody, path, e.to_string()).into(),
        };
        let destination = match notification_destination(req.query) {
            Ok(d) => d,
            Err(reason) => return bad_param("notificationDestination", reason),
        };
        let Some(t) = self.registry.of_kind(kind) else { return type_not_found(path) };
        let type_id = t.type_id();
        let typed = match t.validate_policy(&body) {
            Ok(p) => p,
            Err(violations) => {
                let detail = format!(
                    "the policy does not follow {type_id}: {} violation(s), see invalidParams",
                    violations.len()
                );
                return Problem::new(ProblemKind::InvalidPolicy, path, detail)
                    .with_params(violations.into_iter().map(InvalidParam::from).collect())
                    .into();
            }
        };

        let existing = self.policies.get(&kind).and_then(|m| m.get(&id));
        let same_body = existing.is_some_and(|e| e.body == body);
        if same_body && existing.is_some_and(|e| e.notification_destination == destination) {
            return Response::json(200, &body).into();
        }
        let count = self.policies.get(&kind).map_or(0, BTreeMap::len);
        if existing.is_none() && count >= self.config.max_policies_per_type {
            let detail = format!("{type_id} already has {count} policies, the most this termination keeps");
            return Problem::new(ProblemKind::InsufficientStorage, path, detail).into();
        }
        let stored = StoredPolicy {
            policy_type_id: type_id.to_owned(),
            policy_id: id.to_string(),
            policy: body.clone(),
            notification_destination: destination.clone(),
        };
        if let Err(e) = self.store.put(&stored) {
            return store_problem(path, &e);
        }

        let created = existing.is_none();
        let mut outcome = Outcome::from(Response::json(if created { 201 } else { 200 }, &body));
        if created {
            let location = format!(
                "{}{API_PREFIX}/policytypes/{}/policies/{}",
                self.config.location_base,
                encode_segment(type_id),
                encode_segment(id.as_str())
            );
            outcome.response.headers.push(("Location", location));
        }
        let map = self.policies.entry(kind).or_default();
        let previous_status = map.get(&id).map(|e| e.status.clone());
        let status = if same_body { previous_status.clone().unwrap_or_else(pending_status) } else { pending_status() };
        if !same_body {
            outcome.effects.push(PolicyEffect::Apply {
                policy_type_id: type_id.to_owned(),
                policy_id: id.clone(),
                policy: typed.clone(),
            });
            if let (Some(prev), Some(dest)) = (previous_status, destination.as_ref())
                && prev != status
            {
                outcome.notifications.push(NotificationJob {
                    destination: dest.clone(),
                    policy_type_id: type_id.to_owned(),
                    policy_id: id.to_string(),
                    status: status.clone(),
                });
            }
        }
        map.insert(id, PolicyEntry { body, typed, notification_destination: destination, status });
        outcome
    }

    fn delete(&mut self, req: &Request<'_>, kind: PolicyKind, encoded_id: &str) -> Outcome {
        let path = req.path;
        let Some(id) = decode(encoded_id).and_then(|raw| PolicyId::parse(&raw).ok()) else {
            return policy_not_found(path);
        };
        if !self.policies.get(&kind).is_some_and(|m| m.contains_key(&id)) {
            return policy_not_found(path);
        }
        if let Err(e) = self.store.delete(kind.type_id(), id.as_str()) {
            return store_problem(path, &e);
        }
        if let Some(m) = self.policies.get_mut(&kind) {
            m.remove(&id);
        }
        let mut outcome = Outcome::from(Response::no_content());
        outcome.effects.push(PolicyEffect::Remove { policy_type_id: kind.type_id().to_owned(), policy_id: id });
        outcome
    }
}

fn method_not_allowed(req: &Request<'_>, allowed: &[&str]) -> Option<Outcome> {
    if allowed.contains(&req.method) {
        return None;
    }
    let mut r = Problem::new(
        ProblemKind::MethodNotAllowed,
        req.path,
        format!("{} is not allowed here; allowed: {}", truncate_method(req.method), allowed.join(", ")),
    )
    .into_response();
    r.headers.push(("Allow", allowed.join(", ")));
    Some(r.into())
}

fn truncate_method(m: &str) -> &str {
    match m.char_indices().nth(32) {
        Some((i, _)) => &m[..i],
        None => m,
    }
}

fn type_not_found(path: &str) -> Outcome {
    Problem::new(ProblemKind::PolicyTypeNotFound, path, "no such policy type").into()
}

fn policy_not_found(path: &str) -> Outcome {
    Problem::new(ProblemKind::PolicyNotFound, path, "no such policy").into()
}

fn store_problem(path: &str, e: &StoreError) -> Outcome {
    tracing::error!(error = %e, path, "A1 policy store failed; request refused");
    match e {
        StoreError::Full { .. } => {
            Problem::new(ProblemKind::InsufficientStorage, path, "the policy store is full; nothing was changed").into()
        }
        _ => {
            let mut r =
                Problem::new(ProblemKind::StoreUnavailable, path, "the policy store failed; nothing was changed")
                    .into_response();
            r.headers.push(("Retry-After", "1".to_owned()));
            r.into()
        }
    }
}

/// Whether a `Content-Type` is `application/json` (parameters ignored).
pub fn is_json_media_type(content_type: Option<&str>) -> bool {
    content_type.and_then(|ct| ct.split(';').next()).is_some_and(|mt| mt.trim().eq_ignore_ascii_case(CONTENT_TYPE_JSON))
}

fn notification_destination(query: Option<&str>) -> Result<Option<String>, String> {
    let Some(q) = query else { return Ok(None) };
    let mut found = None;
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        if k == "notificationDestination" {
            if found.is_some() {
                return Err("given more than once".into());
            }
            check_notification_destination(&v)?;
            found = Some(v.into_owned());
        }
    }
    Ok(found)
}
