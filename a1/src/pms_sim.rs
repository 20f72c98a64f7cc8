//! A small A1 Policy Management Service (OSC A1PMS v2, `/a1-policy/v2`)
//! that forwards policies to near-RT RICs over A1-P v2: a sans-IO core
//! ([`PmsSimulator`]) and an axum driver ([`PmsSimHandle`], [`pms_router`]).
//!
//! Why a simulator that really forwards: the rApp's [`PmsClient`] must be
//! tested against a PMS that behaves like one (registers services, expires
//! them when their keepalive lapses and deletes their policies, answers
//! with the RIC's verdict on a policy), and end to end through the xApp's
//! real A1-P termination. A mock answering canned 200s would test nothing
//! of that.
//!
//! The subset implemented is the one [`PmsClient`] uses, plus the
//! read-only calls that make tests and manual checks easy; field names and
//! codes are those of the OSC `pms-api-v2.yaml`:
//!
//! | path | method | codes |
//! |---|---|---|
//! | `/status` | GET | 200 `{status}` |
//! | `/services` | PUT `service_registration_info` | 201 new, 200 updated, 400 |
//! | `/services` | GET `?service_id=` | 200 `{service_list}`, 404 |
//! | `/services/{id}` | DELETE | 204 (its policies deleted at the RIC), 404 |
//! | `/services/{id}/keepalive` | PUT | 200, 404 |
//! | `/policy-types` | GET `?ric_id=` | 200 `{policytype_ids}` (asked of the RIC), 404 |
//! | `/policies` | GET `?policytype_id=&ric_id=&service_id=` | 200 `{policy_ids}` |
//! | `/policies` | PUT `policy_info` | 201, 200, the RIC's 4xx, 404 unknown RIC, 502 RIC unreachable |
//! | `/policies/{id}` | GET / DELETE | 200 `policy_info` / 200; 404 |
//! | `/policies/{id}/status` | GET | 200 `{last_modified, status}` (asked of the RIC), 404 |
//!
//! Errors are `application/problem+json` `error_information` `{title,
//! status, detail}` (plus the RIC's `invalidParams` when it sent some).
//! `status_notification_uri` is passed to the RIC as A1-P
//! `notificationDestination`, so status changes reach the rApp directly.
//! A service is active on registration, keepalive, and PUT of a policy it
//! owns; with `keep_alive_interval_seconds` > 0 it expires after that many
//! seconds without activity, and its policies are deleted at the RIC.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::routing::any;
use hyper::header::CONTENT_TYPE;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::client::{
    A1pClient, A1pConfig, ClientError, PMS_PREFIX, PolicyInfo, PutOutcome, RetryPolicy, ServiceRegistrationInfo,
};
use crate::http::{OwnedRequest, to_axum};
use crate::service::{CONTENT_TYPE_JSON, CONTENT_TYPE_PROBLEM, Request, Response, is_json_media_type};
use crate::types::validate_policy_id;
use crate::validate::{DEFAULT_MAX_BODY_BYTES, parse_json_body};

#[cfg(doc)]
use crate::client::PmsClient;

/// A call to make on a near-RT RIC over A1-P v2.
#[derive(Debug, Clone, PartialEq)]
pub struct Forward {
    /// The RIC.
    pub ric_id: String,
    /// What to do there.
    pub op: ForwardOp,
}

/// The A1-P v2 operation of a [`Forward`].
#[derive(Debug, Clone, PartialEq)]
pub enum ForwardOp {
    /// PUT the policy (with `status_notification_uri` as
    /// `notificationDestination`).
    PutPolicy(PolicyInfo),
    /// DELETE a policy.
    DeletePolicy {
        /// Its type.
        policytype_id: String,
        /// Its id.
        policy_id: String,
    },
    /// GET a policy's status.
    PolicyStatus {
        /// Its type.
        policytype_id: String,
        /// Its id.
        policy_id: String,
    },
    /// GET the type ids.
    PolicyTypes,
}

/// The RIC's answer to a [`Forward`].
#[derive(Debug, Clone, PartialEq)]
pub enum ForwardResult {
    /// PUT answered 201/200.
    Put(PutOutcome),
    /// DELETE answered 204 (`true`) or 404 (`false`).
    Deleted(bool),
    /// Status, `None` on 404.
    Status(Option<Value>),
    /// Type ids.
    Types(Vec<String>),
}

/// What the driver must do with a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Answer now, and run these forwards in the background (their results
    /// change nothing here).
    Respond {
        /// The answer.
        response: Response,
        /// Fire-and-forget RIC calls.
        background: Vec<Forward>,
    },
    /// Make this RIC call, then answer with [`PmsSimulator::complete`].
    Forward(Forward),
}

impl From<Response> for Step {
    fn from(response: Response) -> Self {
        Step::Respond { response, background: Vec::new() }
    }
}

#[derive(Debug, Clone)]
struct ServiceRecord {
    info: ServiceRegistrationInfo,
    last_activity: Instant,
}

#[derive(Debug, Clone)]
struct PolicyRecord {
    info: PolicyInfo,
    last_modified: SystemTime,
}

/// The PMS state: RICs, registered services, policies.
#[derive(Debug, Clone, Default)]
pub struct PmsSimulator {
    rics: BTreeMap<String, String>,
    services: BTreeMap<String, ServiceRecord>,
    policies: BTreeMap<String, PolicyRecord>,
}

fn error(status: u16, detail: impl Into<String>) -> Response {
    error_with(status, detail, None)
}

fn error_with(status: u16, detail: impl Into<String>, invalid_params: Option<Value>) -> Response {
    let title = match status {
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        502 => "Bad Gateway",
        _ => "Error",
    };
    let mut body = json!({ "title": title, "status": status, "detail": detail.into() });
    if let (Some(p), Some(o)) = (invalid_params, body.as_object_mut()) {
        o.insert("invalidParams".into(), p);
    }
    Response {
        status,
        headers: vec![("Content-Type", CONTENT_TYPE_PROBLEM.to_owned())],
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

fn ok_json(status: u16, body: &Value) -> Response {
    Response {
        status,
        headers: vec![("Content-Type", CONTENT_TYPE_JSON.to_owned())],
        body: serde_json::to_vec(body).unwrap_or_default(),
    }
}

fn empty(status: u16) -> Response {
    Response { status, headers: Vec::new(), body: Vec::new() }
}

fn method_not_allowed(allowed: &str) -> Response {
    let mut r = error(405, format!("allowed: {allowed}"));
    r.headers.push(("Allow", allowed.to_owned()));
    r
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// RFC 3339 UTC timestamp (seconds) of a wall-clock time.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil from days (H. Hinnant), for days since 1970-01-01 >= 0.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

impl PmsSimulator {
    /// A PMS managing these RICs (`ric_id` → A1-P `apiRoot`).
    pub fn new(rics: impl IntoIterator<Item = (String, String)>) -> Self {
        Self { rics: rics.into_iter().collect(), ..Self::default() }
    }

    /// The A1-P `apiRoot` of a RIC.
    pub fn ric_url(&self, ric_id: &str) -> Option<&str> {
        self.rics.get(ric_id).map(String::as_str)
    }

    /// Registered service ids.
    pub fn service_ids(&self) -> Vec<String> {
        self.services.keys().cloned().collect()
    }

    /// The `policy_info` of a policy.
    pub fn policy(&self, policy_id: &str) -> Option<&PolicyInfo> {
        self.policies.get(policy_id).map(|p| &p.info)
    }

    /// When the next registered service expires, if any is supervised.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.services
            .values()
            .filter(|s| s.info.keep_alive_interval_seconds > 0)
            .map(|s| s.last_activity + Duration::from_secs(s.info.keep_alive_interval_seconds))
            .min()
    }

    /// Removes services whose keepalive lapsed before `now`, and their
    /// policies; returns the deletions to make at the RICs.
    pub fn expire(&mut self, now: Instant) -> Vec<Forward> {
        let expired: Vec<String> = self
            .services
            .iter()
            .filter(|(_, s)| {
                s.info.keep_alive_interval_seconds > 0
                    && now.saturating_duration_since(s.last_activity)
                        > Duration::from_secs(s.info.keep_alive_interval_seconds)
            })
            .map(|(id, _)| id.clone())
            .collect();
        let mut forwards = Vec::new();
        for id in expired {
            tracing::info!(service_id = %id, "PMS service keepalive lapsed; deleting its policies");
            self.services.remove(&id);
            forwards.extend(self.remove_policies_of(&id));
        }
        forwards
    }

    fn remove_policies_of(&mut self, service_id: &str) -> Vec<Forward> {
        let ids: Vec<String> =
            self.policies.iter().filter(|(_, p)| p.info.service_id == service_id).map(|(k, _)| k.clone()).collect();
        ids.into_iter()
            .filter_map(|id| self.policies.remove(&id))
            .map(|p| Forward {
                ric_id: p.info.ric_id.clone(),
                op: ForwardOp::DeletePolicy { policytype_id: p.info.policytype_id, policy_id: p.info.policy_id },
            })
            .collect()
    }

    fn touch(&mut self, service_id: &str, now: Instant) {
        if let Some(s) = self.services.get_mut(service_id) {
            s.last_activity = now;
        }
    }

    /// Handles one request at time `now`.
    pub fn handle(&mut self, req: &Request<'_>, now: Instant) -> Step {
        let Some(rest) = req.path.strip_prefix(PMS_PREFIX) else {
            return error(404, "not an A1PMS v2 path").into();
        };
        let segs: Vec<String> = match rest.strip_prefix('/') {
            Some(r) => {
                match r.split('/').map(|s| percent_decode_str(s).decode_utf8().map(|c| c.into_owned())).collect() {
                    Ok(v) => v,
                    Err(_) => return error(400, "path is not UTF-8 after percent-decoding").into(),
                }
            }
            None => return error(404, "no resource").into(),
        };
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let m = req.method;
        match segs.as_slice() {
            ["status"] => match m {
                "GET" => ok_json(200, &json!({"status": "success"})).into(),
                _ => method_not_allowed("GET").into(),
            },
            ["services"] => match m {
                "PUT" => self.put_service(req, now).into(),
                "GET" => self.get_services(req.query, now).into(),
                _ => method_not_allowed("GET, PUT").into(),
            },
            ["services", id] => match m {
                "DELETE" => {
                    if self.services.remove(*id).is_none() {
                        return error(404, format!("no service {id}")).into();
                    }
                    Step::Respond { response: empty(204), background: self.remove_policies_of(id) }
                }
                _ => method_not_allowed("DELETE").into(),
            },
            ["services", id, "keepalive"] => match m {
                "PUT" => match self.services.get_mut(*id) {
                    Some(s) => {
                        s.last_activity = now;
                        ok_json(200, &json!({})).into()
                    }
                    None => error(404, format!("no service {id}")).into(),
                },
                _ => method_not_allowed("PUT").into(),
            },
            ["policy-types"] => match m {
                "GET" => {
                    let ric = match query_param(req.query, "ric_id") {
                        Some(r) => r,
                        None if self.rics.len() == 1 => self.rics.keys().next().cloned().unwrap_or_default(),
                        None => return error(400, "ric_id is required: this PMS manages several RICs").into(),
                    };
                    if !self.rics.contains_key(&ric) {
                        return error(404, format!("no Near-RT RIC {ric}")).into();
                    }
                    Step::Forward(Forward { ric_id: ric, op: ForwardOp::PolicyTypes })
                }
                _ => method_not_allowed("GET").into(),
            },
            ["policies"] => match m {
                "PUT" => self.put_policy(req, now),
                "GET" => {
                    let (t, r, s) = (
                        query_param(req.query, "policytype_id"),
                        query_param(req.query, "ric_id"),
                        query_param(req.query, "service_id"),
                    );
                    let ids: Vec<&String> = self
                        .policies
                        .iter()
                        .filter(|(_, p)| t.as_ref().is_none_or(|t| *t == p.info.policytype_id))
                        .filter(|(_, p)| r.as_ref().is_none_or(|r| *r == p.info.ric_id))
                        .filter(|(_, p)| s.as_ref().is_none_or(|s| *s == p.info.service_id))
                        .map(|(k, _)| k)
                        .collect();
                    ok_json(200, &json!({ "policy_ids": ids })).into()
                }
                _ => method_not_allowed("GET, PUT").into(),
            },
            ["policies", id] => {
                let Some(p) = self.policies.get(*id) else {
                    return if ["GET", "DELETE"].contains(&m) {
                        error(404, format!("no policy {id}")).into()
                    } else {
                        method_not_allowed("GET, DELETE").into()
                    };
                };
                match m {
                    "GET" => ok_json(200, &serde_json::to_value(&p.info).unwrap_or(Value::Null)).into(),
                    "DELETE" => Step::Forward(Forward {
                        ric_id: p.info.ric_id.clone(),
                        op: ForwardOp::DeletePolicy {
                            policytype_id: p.info.policytype_id.clone(),
                            policy_id: p.info.policy_id.clone(),
                        },
                    }),
                    _ => method_not_allowed("GET, DELETE").into(),
                }
            }
            ["policies", id, "status"] => match m {
                "GET" => match self.policies.get(*id) {
                    Some(p) => Step::Forward(Forward {
                        ric_id: p.info.ric_id.clone(),
                        op: ForwardOp::PolicyStatus {
                            policytype_id: p.info.policytype_id.clone(),
                            policy_id: p.info.policy_id.clone(),
                        },
                    }),
                    None => error(404, format!("no policy {id}")).into(),
                },
                _ => method_not_allowed("GET").into(),
            },
            _ => error(404, "no such A1PMS v2 resource").into(),
        }
    }

    fn json_body(req: &Request<'_>) -> Result<Value, Response> {
        if !is_json_media_type(req.content_type) {
            return Err(error(415, "the body must be application/json"));
        }
        parse_json_body(req.body, DEFAULT_MAX_BODY_BYTES).map_err(|e| match e {
            crate::validate::BodyError::TooLarge { .. } => error(413, e.to_string()),
            _ => error(400, e.to_string()),
        })
    }

    fn put_service(&mut self, req: &Request<'_>, now: Instant) -> Response {
        let body = match Self::json_body(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let info: ServiceRegistrationInfo = match serde_json::from_value(body) {
            Ok(i) => i,
            Err(e) => return error(400, format!("not a service_registration_info: {e}")),
        };
        if info.service_id.is_empty() {
            return error(400, "service_id is empty");
        }
        let id = info.service_id.clone();
        let created = self.services.insert(id, ServiceRecord { info, last_activity: now }).is_none();
        ok_json(if created { 201 } else { 200 }, &json!({}))
    }

    fn get_services(&self, query: Option<&str>, now: Instant) -> Response {
        let wanted = query_param(query, "service_id");
        if let Some(w) = &wanted
            && !self.services.contains_key(w)
        {
            return error(404, format!("no service {w}"));
        }
        let list: Vec<Value> = self
            .services
            .values()
            .filter(|s| wanted.as_ref().is_none_or(|w| *w == s.info.service_id))
            .map(|s| {
                json!({
                    "service_id": s.info.service_id,
                    "keep_alive_interval_seconds": s.info.keep_alive_interval_seconds,
                    "time_since_last_activity_seconds": now.saturating_duration_since(s.last_activity).as_secs(),
                    "callback_url": s.info.callback_url.clone().unwrap_or_default(),
                })
            })
            .collect();
        ok_json(200, &json!({ "service_list": list }))
    }

    fn put_policy(&mut self, req: &Request<'_>, now: Instant) -> Step {
        let body = match Self::json_body(req) {
            Ok(b) => b,
            Err(r) => return r.into(),
        };
        let info: PolicyInfo = match serde_json::from_value(body) {
            Ok(i) => i,
            Err(e) => return error(400, format!("not a policy_info: {e}")).into(),
        };
        if !info.policy_data.is_object() {
            return error(400, "policy_data must be a JSON object").into();
        }
        if let Err(e) = validate_policy_id(&info.policy_id) {
            return error(400, format!("policy_id: {e}")).into();
        }
        if !self.rics.contains_key(&info.ric_id) {
            return error(404, format!("no Near-RT RIC {}", info.ric_id)).into();
        }
        if let Some(old) = self.policies.get(&info.policy_id)
            && (old.info.ric_id != info.ric_id || old.info.policytype_id != info.policytype_id)
        {
            return error(
                400,
                format!(
                    "policy {} exists for RIC {} and type {}; delete it before reusing its id",
                    info.policy_id, old.info.ric_id, old.info.policytype_id
                ),
            )
            .into();
        }
        if !info.service_id.is_empty() {
            self.touch(&info.service_id, now);
        }
        Step::Forward(Forward { ric_id: info.ric_id.clone(), op: ForwardOp::PutPolicy(info) })
    }

    /// Answers the request that produced `forward`, given the RIC's result.
    pub fn complete(
        &mut self,
        forward: &Forward,
        result: Result<ForwardResult, ClientError>,
        wall: SystemTime,
    ) -> Response {
        let ric = &forward.ric_id;
        let result = match result {
            Ok(r) => r,
            Err(e) => return ric_failure(ric, &e),
        };
        match (&forward.op, result) {
            (ForwardOp::PutPolicy(info), ForwardResult::Put(_)) => {
                let created = self
                    .policies
                    .insert(info.policy_id.clone(), PolicyRecord { info: info.clone(), last_modified: wall })
                    .is_none();
                empty(if created { 201 } else { 200 })
            }
            (ForwardOp::DeletePolicy { policy_id, .. }, ForwardResult::Deleted(_)) => {
                self.policies.remove(policy_id);
                empty(200)
            }
            (ForwardOp::PolicyStatus { policy_id, .. }, ForwardResult::Status(Some(status))) => {
                let last_modified = self.policies.get(policy_id).map(|p| rfc3339(p.last_modified));
                ok_json(200, &json!({ "last_modified": last_modified, "status": status }))
            }
            (ForwardOp::PolicyStatus { policy_id, .. }, ForwardResult::Status(None)) => {
                error(404, format!("Near-RT RIC {ric} has no policy {policy_id}"))
            }
            (ForwardOp::PolicyTypes, ForwardResult::Types(ids)) => ok_json(200, &json!({ "policytype_ids": ids })),
            _ => error(502, format!("Near-RT RIC {ric}: answer does not match the request")),
        }
    }
}

fn ric_failure(ric: &str, e: &ClientError) -> Response {
    match e {
        ClientError::Status { status, problem, .. } if (400..500).contains(status) => {
            let detail = problem.as_ref().and_then(|p| p.detail.clone()).unwrap_or_else(|| format!("HTTP {status}"));
            let params = problem.as_ref().filter(|p| !p.invalid_params.is_empty()).map(|p| {
                Value::Array(
                    p.invalid_params.iter().map(|(param, reason)| json!({"param": param, "reason": reason})).collect(),
                )
            });
            error_with(*status, format!("Near-RT RIC {ric} refused the request: {detail}"), params)
        }
        ClientError::InvalidPolicy { .. } | ClientError::InvalidArgument { .. } => {
            error(400, format!("not forwarded to Near-RT RIC {ric}: {e}"))
        }
        _ => error(502, format!("Near-RT RIC {ric} unreachable or failing: {e}")),
    }
}

/// How the driver reaches the RICs.
#[derive(Debug, Clone)]
pub struct PmsSimConfig {
    /// `ric_id` → A1-P `apiRoot` (`http://host:port`).
    pub rics: Vec<(String, String)>,
    /// Deadline of one A1-P call.
    pub forward_timeout: Duration,
    /// Retries of A1-P calls.
    pub forward_retry: RetryPolicy,
}

impl PmsSimConfig {
    /// One RIC, short deadlines.
    pub fn single(ric_id: impl Into<String>, api_root: impl Into<String>) -> Self {
        Self {
            rics: vec![(ric_id.into(), api_root.into())],
            forward_timeout: Duration::from_secs(5),
            forward_retry: RetryPolicy { max_attempts: 2, ..RetryPolicy::default() },
        }
    }
}

struct SimShared {
    core: Mutex<PmsSimulator>,
    clients: BTreeMap<String, A1pClient>,
    wake: Notify,
}

/// The running simulator: core, A1-P clients of the RICs, supervision.
#[derive(Clone)]
pub struct PmsSimHandle {
    shared: Arc<SimShared>,
}

impl std::fmt::Debug for PmsSimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PmsSimHandle").field("rics", &self.shared.clients.keys()).finish_non_exhaustive()
    }
}

impl PmsSimHandle {
    /// A simulator for `config`'s RICs.
    pub fn new(config: PmsSimConfig) -> Result<Self, ClientError> {
        let mut clients = BTreeMap::new();
        for (id, url) in &config.rics {
            let c = A1pConfig {
                request_timeout: config.forward_timeout,
                retry: config.forward_retry,
                ..A1pConfig::new(url.clone())
            };
            clients.insert(id.clone(), A1pClient::new(c)?);
        }
        let core = PmsSimulator::new(config.rics);
        Ok(Self { shared: Arc::new(SimShared { core: Mutex::new(core), clients, wake: Notify::new() }) })
    }

    fn lock(&self) -> MutexGuard<'_, PmsSimulator> {
        self.shared.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the core (for inspection).
    pub fn with_sim<R>(&self, f: impl FnOnce(&PmsSimulator) -> R) -> R {
        f(&self.lock())
    }

    /// Answers one request, forwarding to a RIC when the core asks.
    pub async fn handle(&self, req: OwnedRequest) -> Response {
        let step = self.lock().handle(
            &Request {
                method: &req.method,
                path: &req.path,
                query: req.query.as_deref(),
                content_type: req.content_type.as_deref(),
                body: &req.body,
            },
            Instant::now(),
        );
        self.shared.wake.notify_one();
        match step {
            Step::Respond { response, background } => {
                for f in background {
                    let this = self.clone();
                    tokio::spawn(async move {
                        if let Err(e) = this.execute(&f).await {
                            tracing::warn!(ric = %f.ric_id, error = %e, "PMS background forward failed");
                        }
                    });
                }
                response
            }
            Step::Forward(f) => {
                let result = self.execute(&f).await;
                self.lock().complete(&f, result, SystemTime::now())
            }
        }
    }

    /// Makes one A1-P call.
    pub async fn execute(&self, f: &Forward) -> Result<ForwardResult, ClientError> {
        let Some(client) = self.shared.clients.get(&f.ric_id) else {
            return Err(ClientError::InvalidArgument { what: "ric_id", reason: format!("no RIC {}", f.ric_id) });
        };
        match &f.op {
            ForwardOp::PutPolicy(i) => client
                .put_policy(&i.policytype_id, &i.policy_id, &i.policy_data, i.status_notification_uri.as_deref())
                .await
                .map(ForwardResult::Put),
            ForwardOp::DeletePolicy { policytype_id, policy_id } => {
                client.delete_policy(policytype_id, policy_id).await.map(ForwardResult::Deleted)
            }
            ForwardOp::PolicyStatus { policytype_id, policy_id } => {
                client.policy_status(policytype_id, policy_id).await.map(ForwardResult::Status)
            }
            ForwardOp::PolicyTypes => client.policy_type_ids().await.map(ForwardResult::Types),
        }
    }

    /// Starts the keepalive supervision: expired services are removed and
    /// their policies deleted at the RICs. Stops when the handle is aborted.
    pub fn spawn_supervision(&self) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let next = this.lock().next_expiry();
                match next {
                    Some(at) => {
                        // Just past the deadline: expiry is "more than the interval".
                        let at = tokio::time::Instant::from_std(at + Duration::from_millis(1));
                        tokio::select! {
                            () = tokio::time::sleep_until(at) => {}
                            () = this.shared.wake.notified() => {}
                        }
                    }
                    None => this.shared.wake.notified().await,
                }
                let forwards = this.lock().expire(Instant::now());
                for f in forwards {
                    if let Err(e) = this.execute(&f).await {
                        tracing::warn!(ric = %f.ric_id, error = %e, "deleting an expired service's policy failed");
                    }
                }
            }
        })
    }
}

/// The A1PMS v2 routes (`/a1-policy/v2/...`).
pub fn pms_router(handle: PmsSimHandle) -> Router {
    Router::new().route(&format!("{PMS_PREFIX}/{{*rest}}"), any(serve)).with_state(handle)
}

async fn serve(State(handle): State<PmsSimHandle>, req: axum::extract::Request) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, DEFAULT_MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return to_axum(error(413, "body too large")),
    };
    let req = OwnedRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        content_type: parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned),
        body,
    };
    to_axum(handle.handle(req).await)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn put<'a>(path: &'a str, body: &'a [u8]) -> Request<'a> {
        Request::put_json(path, body)
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(1_767_225_599)), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn service_registration_and_expiry() {
        let t0 = Instant::now();
        let mut sim = PmsSimulator::new([("ric1".to_owned(), "http://127.0.0.1:1".to_owned())]);
        let body = br#"{"service_id":"rapp","keep_alive_interval_seconds":10}"#;
        let Step::Respond { response, .. } = sim.handle(&put("/a1-policy/v2/services", body), t0) else { panic!() };
        assert_eq!(response.status, 201);
        let Step::Respond { response, .. } = sim.handle(&put("/a1-policy/v2/services", body), t0) else { panic!() };
        assert_eq!(response.status, 200);
        assert_eq!(sim.next_expiry(), Some(t0 + Duration::from_secs(10)));

        // A policy owned by the service, committed as if the RIC accepted it.
        let pbody = br#"{"policy_id":"p1","ric_id":"ric1","service_id":"rapp","policytype_id":"t","policy_data":{}}"#;
        let Step::Forward(f) = sim.handle(&put("/a1-policy/v2/policies", pbody), t0) else { panic!("forward") };
        let r = sim.complete(&f, Ok(ForwardResult::Put(PutOutcome::Created)), SystemTime::now());
        assert_eq!(r.status, 201);

        // Keepalive at t0+8 moves the deadline; nothing expires at t0+15.
        let ka = Request::new("PUT", "/a1-policy/v2/services/rapp/keepalive");
        let Step::Respond { response, .. } = sim.handle(&ka, t0 + Duration::from_secs(8)) else { panic!() };
        assert_eq!(response.status, 200);
        assert!(sim.expire(t0 + Duration::from_secs(15)).is_empty());
        // Lapsed at t0+18.001: the service goes, its policy is deleted at the RIC.
        let fwds = sim.expire(t0 + Duration::from_millis(18_001));
        assert_eq!(
            fwds,
            vec![Forward {
                ric_id: "ric1".into(),
                op: ForwardOp::DeletePolicy { policytype_id: "t".into(), policy_id: "p1".into() }
            }]
        );
        assert!(sim.service_ids().is_empty());
        assert!(sim.policy("p1").is_none());
        let Step::Respond { response, .. } = sim.handle(&ka, t0) else { panic!() };
        assert_eq!(response.status, 404);
    }

    #[test]
    fn policy_put_validation() {
        let t0 = Instant::now();
        let mut sim = PmsSimulator::new([("ric1".to_owned(), "http://127.0.0.1:1".to_owned())]);
        let cases: [(&[u8], u16); 5] = [
            (br#"{"policy_id":"p","ric_id":"nope","policytype_id":"t","policy_data":{}}"#, 404),
            (br#"{"policy_id":"p","ric_id":"ric1","policytype_id":"t"}"#, 400),
            (br#"{"policy_id":"p","ric_id":"ric1","policytype_id":"t","policy_data":"{}"}"#, 400),
            (br#"{"policy_id":"a/b","ric_id":"ric1","policytype_id":"t","policy_data":{}}"#, 400),
            (b"{", 400),
        ];
        for (body, status) in cases {
            let Step::Respond { response, .. } = sim.handle(&put("/a1-policy/v2/policies", body), t0) else {
                panic!("no forward expected")
            };
            assert_eq!(response.status, status, "{}", String::from_utf8_lossy(body));
            assert_eq!(response.header("content-type"), Some(CONTENT_TYPE_PROBLEM));
        }
        let mut text = put("/a1-policy/v2/policies", b"{}");
        text.content_type = Some("text/plain");
        let Step::Respond { response, .. } = sim.handle(&text, t0) else { panic!() };
        assert_eq!(response.status, 415);
    }

    #[test]
    fn ric_refusal_is_passed_on() {
        let mut sim = PmsSimulator::new([("ric1".to_owned(), "http://127.0.0.1:1".to_owned())]);
        let body = br#"{"policy_id":"p","ric_id":"ric1","policytype_id":"t","policy_data":{"x":1}}"#;
        let Step::Forward(f) = sim.handle(&put("/a1-policy/v2/policies", body), Instant::now()) else { panic!() };
        let refusal = ClientError::Status {
            method: "PUT".into(),
            url: "u".into(),
            status: 400,
            attempts: 1,
            problem: Some(Box::new(crate::client::ProblemDetails {
                detail: Some("bad".into()),
                invalid_params: vec![("/x".into(), "unknown member".into())],
                ..Default::default()
            })),
            body: String::new(),
        };
        let r = sim.complete(&f, Err(refusal), SystemTime::now());
        assert_eq!(r.status, 400);
        let v = r.json_body().expect("json");
        assert_eq!(v["invalidParams"][0]["param"], "/x");
        assert!(sim.policy("p").is_none(), "a refused policy is not recorded");
        let down =
            ClientError::Connect { method: "PUT".into(), url: "u".into(), attempts: 2, reason: "refused".into() };
        assert_eq!(sim.complete(&f, Err(down), SystemTime::now()).status, 502);
    }
}
