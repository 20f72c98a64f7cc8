//! The xApp's HTTP endpoint (axum): Prometheus metrics and the JSON status
//! of the key-freshness monitor.
//!
//! | route | answer |
//! |---|---|
//! | `GET /metrics` | [`XappMetrics::render`], `text/plain; version=0.0.4` |
//! | `GET /status` | the [`StatusReport`]: policy, every link, active alarms |
//! | `GET /status/{node}` | one link and its active alarms; 404 `application/problem+json` for an unknown node (node ids contain `/`: both raw and percent-encoded forms work) |
//! | `GET /healthz` | `ok` |
//!
//! The link driver owns the monitor and, after every tick, publishes a
//! snapshot with [`StatusPublisher::publish`] (which also sets the metric
//! gauges). Handlers only clone an `Arc` out of a `watch` channel, so a
//! scrape never waits for the driver and the driver never waits for a
//! scrape.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::freshness::{Alarm, LinkStatus, StatusReport};
use crate::metrics::{CONTENT_TYPE, XappMetrics};

/// What the handlers read: the latest status snapshot and the metrics.
#[derive(Debug, Clone)]
pub struct HttpState {
    status: watch::Receiver<Arc<StatusReport>>,
    metrics: XappMetrics,
}

impl HttpState {
    /// The latest snapshot.
    pub fn status(&self) -> Arc<StatusReport> {
        self.status.borrow().clone()
    }

    /// The metrics.
    pub fn metrics(&self) -> &XappMetrics {
        &self.metrics
    }
}

/// The driver's end: publishes snapshots.
#[derive(Debug)]
pub struct StatusPublisher {
    tx: watch::Sender<Arc<StatusReport>>,
    metrics: XappMetrics,
}

impl StatusPublisher {
    /// Makes `report` the one served, and sets the metric gauges from it.
    pub fn publish(&self, report: StatusReport) {
        self.metrics.update(&report);
        self.tx.send_replace(Arc::new(report));
    }

    /// The metrics (for the counters: rekeys, alarms).
    pub fn metrics(&self) -> &XappMetrics {
        &self.metrics
    }
}

/// A publisher and the state the router serves, starting from an empty report.
pub fn channel(metrics: XappMetrics) -> (StatusPublisher, HttpState) {
    let (tx, rx) = watch::channel(Arc::new(StatusReport::default()));
    (StatusPublisher { tx, metrics: metrics.clone() }, HttpState { status: rx, metrics })
}

/// The routes.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/status/{*node}", get(node_status))
        .route("/healthz", get(healthz))
        .with_state(state)
}

async fn metrics(State(s): State<HttpState>) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], s.metrics.render()).into_response()
}

async fn status(State(s): State<HttpState>) -> Response {
    json(StatusCode::OK, &*s.status())
}

#[derive(Serialize)]
struct NodeStatus<'a> {
    #[serde(flatten)]
    link: &'a LinkStatus,
    alarms: Vec<&'a Alarm>,
}

/// RFC 9457 problem details.
#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: String,
}

async fn node_status(State(s): State<HttpState>, Path(node): Path<String>) -> Response {
    let report = s.status();
    match report.link(&node) {
        Some(link) => {
            let alarms = report.alarms.iter().filter(|a| a.node == node).collect();
            json(StatusCode::OK, &NodeStatus { link, alarms })
        }
        None => {
            let problem = Problem {
                kind: "about:blank",
                title: "Not Found",
                status: 404,
                detail: format!("no E2 link of node {node:?} is known"),
            };
            let mut r = json(StatusCode::NOT_FOUND, &problem);
            r.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/problem+json"));
            r
        }
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

fn json<T: Serialize>(code: StatusCode, body: &T) -> Response {
    match serde_json::to_vec_pretty(body) {
        Ok(bytes) => (code, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode the status: {e}\n")).into_response(),
    }
}

/// Serves [`router`] (merged with `extra`, e.g. the A1-P v2 routes) on `addr` until `stop` turns true (or its sender is
/// dropped). Returns the bound address (port 0 → the one chosen) and the
/// server task.
pub async fn serve(
    addr: SocketAddr,
    state: HttpState,
    extra: Option<Router>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, JoinHandle<std::io::Result<()>>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tracing::info!(%local, "serving /metrics and /status");
    let app = match extra {
        Some(extra) => router(state).merge(extra),
        None => router(state),
    };
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                while !*stop.borrow_and_update() {
                    if stop.changed().await.is_err() {
                        break;
                    }
                }
            })
            .await
    });
    Ok((local, task))
}
