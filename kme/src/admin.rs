//! The admin listener: runtime fault injection, state, and Prometheus
//! metrics, over plain HTTP/1.1.
//!
//! Why plain HTTP on loopback: this is the operator's and the test
//! harness's lever on the *simulated quantum channel*, not part of the ETSI
//! API, and it must be scriptable with a bare `curl` (no client
//! certificates) from CI and from Prometheus. It has no authentication, so
//! it binds to `127.0.0.1` by default and a non-loopback address needs an
//! explicit `--admin-allow-remote` (see [`crate::config`]). It never shows
//! key material: state is counts and settings only.
//!
//! | method | path | effect |
//! |---|---|---|
//! | GET | `/admin/state` | link, pool, per-call counters, faults (JSON) |
//! | POST | `/admin/link/down` | the quantum channel stops: no new key (stored key is still served) |
//! | POST | `/admin/link/up` | generation resumes |
//! | POST | `/admin/drain` | empties the pool (issued keys stay retrievable by their slaves) |
//! | POST | `/admin/latency?ms=N` | every KME answer is delayed N ms (0 clears) |
//! | POST | `/admin/fail?count=N` | the next N API requests that reach the link (any KME, any call) get 503 (0 clears) |
//! | POST | `/admin/reset` | clears every fault (link up, no latency, no 503s) |
//! | GET | `/metrics` | Prometheus text format |
//! | GET | `/healthz` | `ok` while the process serves |
//!
//! Every POST answers with the new state, as `GET /admin/state` would.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use qsafe_qkd::kme::CallCounters;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::server::{SHUTDOWN_GRACE, Shared};

/// Longest latency fault accepted (ms): one hour.
pub const MAX_LATENCY_MS: u64 = 3_600_000;

/// Most simultaneous admin connections.
const MAX_ADMIN_CONNECTIONS: usize = 64;

/// An admin action, parsed from method, path and query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `GET /admin/state`.
    State,
    /// `POST /admin/link/down`.
    LinkDown,
    /// `POST /admin/link/up`.
    LinkUp,
    /// `POST /admin/drain`.
    Drain,
    /// `POST /admin/latency?ms=N`.
    Latency(Duration),
    /// `POST /admin/fail?count=N`.
    Fail(u32),
    /// `POST /admin/reset`.
    Reset,
    /// `GET /metrics`.
    Metrics,
    /// `GET /healthz`.
    Health,
}

/// Why an admin request was refused: HTTP status, message, and for 405 the allowed method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 400, 404 or 405.
    pub status: u16,
    /// What was wrong.
    pub message: String,
    /// The `Allow` header of a 405.
    pub allow: Option<&'static str>,
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v))
}

fn number<T: std::str::FromStr>(query: Option<&str>, name: &str, max: u64) -> Result<T, Refusal> {
    let bad = |why: String| Refusal { status: 400, message: why, allow: None };
    let raw = query_param(query, name).ok_or_else(|| bad(format!("query parameter {name} is required")))?;
    let v: u64 = raw.parse().map_err(|_| bad(format!("{name}={raw:?} is not a non-negative integer")))?;
    if v > max {
        return Err(bad(format!("{name}={v} is more than {max}")));
    }
    raw.parse::<T>().map_err(|_| bad(format!("{name}={raw:?} is out of range")))
}

/// Parses an admin request.
pub fn parse(method: &str, path: &str, query: Option<&str>) -> Result<Action, Refusal> {
    let (want, action): (&'static str, Result<Action, Refusal>) = match path {
        "/admin/state" => ("GET", Ok(Action::State)),
        "/metrics" => ("GET", Ok(Action::Metrics)),
        "/healthz" => ("GET", Ok(Action::Health)),
        "/admin/link/down" => ("POST", Ok(Action::LinkDown)),
        "/admin/link/up" => ("POST", Ok(Action::LinkUp)),
        "/admin/drain" => ("POST", Ok(Action::Drain)),
        "/admin/reset" => ("POST", Ok(Action::Reset)),
        "/admin/latency" => {
            ("POST", number::<u64>(query, "ms", MAX_LATENCY_MS).map(|ms| Action::Latency(Duration::from_millis(ms))))
        }
        "/admin/fail" => ("POST", number::<u32>(query, "count", u64::from(u32::MAX)).map(Action::Fail)),
        _ => {
            return Err(Refusal {
                status: 404,
                message: "no such admin resource; see /admin/state, /admin/link/{down,up}, /admin/drain, \
                          /admin/latency?ms=N, /admin/fail?count=N, /admin/reset, /metrics"
                    .into(),
                allow: None,
            });
        }
    };
    if method != want {
        return Err(Refusal { status: 405, message: format!("{path} takes {want}"), allow: Some(want) });
    }
    action
}

fn counters(c: &CallCounters) -> Value {
    json!({"ok": c.ok, "bad_request": c.bad_request, "unauthorized": c.unauthorized, "unavailable": c.unavailable})
}

/// The state document of `GET /admin/state`.
pub fn state(shared: &Shared) -> Value {
    let now = std::time::Instant::now();
    let (stats, faults) = {
        let mut link = shared.link();
        link.advance(now);
        (link.stats(), link.faults().clone())
    };
    let p = shared.params();
    let ids = shared.kme_ids();
    let listen = shared.listen();
    json!({
        "kme": {
            "A": {"kme_id": ids[0], "listen": listen[0].to_string()},
            "B": {"kme_id": ids[1], "listen": listen[1].to_string()},
        },
        "admin": shared.admin().to_string(),
        "uptime_s": shared.uptime().as_secs_f64(),
        "link": {
            "key_size": p.key_size,
            "min_key_size": p.min_key_size,
            "max_key_size": p.max_key_size,
            "max_key_count": p.max_key_count,
            "max_key_per_request": p.max_key_per_request,
            "max_SAE_ID_count": p.max_sae_id_count,
            "secret_key_rate_bps": p.secret_key_rate_bps,
            "max_pending_keys": p.max_pending_keys,
            "seeded": p.seed.is_some(),
        },
        "pool": {
            "bits": stats.pool_bits,
            "capacity_bits": stats.pool_capacity_bits,
            "stored_key_count": stats.stored_key_count,
            "generated_bits_total": stats.generated_bits_total,
            "overflow_bits_total": stats.overflow_bits_total,
            "drained_bits_total": stats.drained_bits_total,
            "keys_issued_total": stats.keys_issued_total,
            "bits_issued_total": stats.bits_issued_total,
            "keys_retrieved_total": stats.keys_retrieved_total,
            "pending_keys": stats.pending_keys,
            "pending_evicted_total": stats.pending_evicted_total,
        },
        "calls": {
            "status": counters(&stats.status),
            "enc_keys": counters(&stats.enc_keys),
            "dec_keys": counters(&stats.dec_keys),
        },
        "faults": {
            "link_down": faults.link_down,
            "extra_latency_ms": u64::try_from(faults.extra_latency.as_millis()).unwrap_or(u64::MAX),
            "fail_next": faults.fail_next,
        },
    })
}

/// Applies an action; returns status, content type and body.
pub fn apply(shared: &Shared, action: Action) -> (u16, &'static str, Vec<u8>) {
    let changed = {
        let mut link = shared.link();
        let now = std::time::Instant::now();
        match action {
            Action::State | Action::Metrics | Action::Health => false,
            Action::LinkDown => {
                // Credit what was generated up to now before the channel stops.
                link.advance(now);
                link.faults().link_down = true;
                true
            }
            Action::LinkUp => {
                // No key for the time the link was down: restart the clock now.
                link.advance(now);
                link.faults().link_down = false;
                true
            }
            Action::Drain => {
                link.advance(now);
                link.drain();
                true
            }
            Action::Latency(d) => {
                link.faults().extra_latency = d;
                true
            }
            Action::Fail(n) => {
                link.faults().fail_next = n;
                true
            }
            Action::Reset => {
                link.advance(now);
                *link.faults() = qsafe_qkd::kme::Faults::default();
                true
            }
        }
    };
    if changed {
        info!(?action, "admin: fault changed");
    }
    shared.refresh_metrics();
    match action {
        Action::Metrics => (200, crate::metrics::CONTENT_TYPE, shared.metrics.render().into_bytes()),
        Action::Health => (200, "text/plain; charset=utf-8", b"ok\n".to_vec()),
        _ => (200, "application/json", serde_json::to_vec_pretty(&state(shared)).unwrap_or_default()),
    }
}

fn respond(
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    allow: Option<&'static str>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    if let Some(allow) = allow {
        r.headers_mut().insert(ALLOW, hyper::header::HeaderValue::from_static(allow));
    }
    r
}

fn handle(shared: &Shared, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    match parse(req.method().as_str(), req.uri().path(), req.uri().query()) {
        Ok(action) => {
            let (status, ct, body) = apply(shared, action);
            respond(status, ct, body, None)
        }
        Err(r) => {
            let body = serde_json::to_vec(&json!({"message": r.message})).unwrap_or_default();
            respond(r.status, "application/json", body, r.allow)
        }
    }
}

/// Serves the admin listener until `stop`.
pub async fn serve(shared: Arc<Shared>, listener: TcpListener, stop: watch::Receiver<bool>) {
    let graceful = GracefulShutdown::new();
    let stop = crate::server::stopped(stop);
    tokio::pin!(stop);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_ADMIN_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = &mut stop => break,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let shared = shared.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let shared = shared.clone();
            async move { Ok::<_, Infallible>(handle(&shared, &req)) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(10))
            .serve_connection(TokioIo::new(tcp), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "admin connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_actions() {
        assert_eq!(parse("GET", "/admin/state", None), Ok(Action::State));
        assert_eq!(parse("POST", "/admin/link/down", None), Ok(Action::LinkDown));
        assert_eq!(parse("POST", "/admin/latency", Some("ms=250")), Ok(Action::Latency(Duration::from_millis(250))));
        assert_eq!(parse("POST", "/admin/fail", Some("x=1&count=5")), Ok(Action::Fail(5)));
        assert_eq!(parse("GET", "/metrics", None), Ok(Action::Metrics));
    }

    #[test]
    fn refusals() {
        assert_eq!(parse("GET", "/admin/drain", None).unwrap_err().status, 405);
        assert_eq!(parse("GET", "/admin/drain", None).unwrap_err().allow, Some("POST"));
        assert_eq!(parse("POST", "/metrics", None).unwrap_err().status, 405);
        assert_eq!(parse("GET", "/nope", None).unwrap_err().status, 404);
        for q in [None, Some("ms="), Some("ms=-1"), Some("ms=abc"), Some("ms=3600001")] {
            assert_eq!(parse("POST", "/admin/latency", q).unwrap_err().status, 400, "{q:?}");
        }
        assert_eq!(parse("POST", "/admin/fail", Some("count=4294967296")).unwrap_err().status, 400);
    }
}
