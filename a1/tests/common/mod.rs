//! Shared rigs of the HTTP tests: servers on 127.0.0.1:0, a callback
//! listener, a flaky front, and polling with a deadline.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use qsafe_a1::http::{A1Handle, Notifier, router};
use qsafe_a1::service::ServiceConfig;
use qsafe_a1::{A1Service, PolicyEffect, PolicyStore, PolicyTypeRegistry};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long a test waits for something that should happen at once.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A server running `router` on an ephemeral loopback port; stops on drop.
pub struct Server {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    pub async fn start(router: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serve");
        });
        Self { addr, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn registry() -> Arc<PolicyTypeRegistry> {
    Arc::new(PolicyTypeRegistry::builtin().expect("schemas"))
}

/// An A1-P termination over `store`, served; with its effect receiver.
pub async fn a1_server(
    store: Box<dyn PolicyStore>,
    notifier: Notifier,
) -> (Server, A1Handle, mpsc::UnboundedReceiver<PolicyEffect>) {
    let opened = A1Service::open(registry(), ServiceConfig::default(), store).expect("open");
    let (handle, effects) = A1Handle::new(opened, notifier);
    let server = Server::start(router(handle.clone())).await;
    (server, handle, effects)
}

/// One POST received by a [`Callback`] listener.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub query: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
}

/// A listener for status notifications: answers the first `fail_first`
/// POSTs with `fail_status`, then 204; every POST is reported.
pub struct Callback {
    pub server: Server,
    pub rx: mpsc::UnboundedReceiver<Received>,
    pub posts: Arc<AtomicU32>,
}

#[derive(Clone)]
struct CallbackState {
    tx: mpsc::UnboundedSender<Received>,
    remaining_failures: Arc<AtomicU32>,
    fail_status: StatusCode,
    posts: Arc<AtomicU32>,
}

async fn callback_handler(State(s): State<CallbackState>, req: Request) -> StatusCode {
    s.posts.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.expect("body");
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let content_type = parts.headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let _ = s.tx.send(Received {
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        content_type,
        body,
    });
    if s.remaining_failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
        s.fail_status
    } else {
        StatusCode::NO_CONTENT
    }
}

impl Callback {
    pub async fn start(fail_first: u32, fail_status: StatusCode) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let posts = Arc::new(AtomicU32::new(0));
        let state = CallbackState {
            tx,
            remaining_failures: Arc::new(AtomicU32::new(fail_first)),
            fail_status,
            posts: posts.clone(),
        };
        let router = Router::new().route("/notify/{*rest}", post(callback_handler)).with_state(state);
        Self { server: Server::start(router).await, rx, posts }
    }

    pub fn url(&self, rest: &str) -> String {
        format!("{}/notify/{rest}", self.server.url())
    }

    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(DEADLINE, self.rx.recv()).await.expect("a notification in time").expect("open")
    }
}

/// Fails the first `failures` requests with `status` (and `Retry-After: 0`),
/// then passes requests on; counts all of them.
#[derive(Clone)]
pub struct Flaky {
    pub seen: Arc<AtomicU32>,
    remaining: Arc<AtomicU32>,
    status: StatusCode,
}

impl Flaky {
    pub fn new(failures: u32, status: StatusCode) -> Self {
        Self { seen: Arc::default(), remaining: Arc::new(AtomicU32::new(failures)), status }
    }

    pub fn seen(&self) -> u32 {
        self.seen.load(Ordering::SeqCst)
    }

    pub fn wrap(&self, router: Router) -> Router {
        router.layer(axum::middleware::from_fn_with_state(self.clone(), flaky))
    }
}

async fn flaky(State(f): State<Flaky>, req: Request, next: Next) -> Response {
    f.seen.fetch_add(1, Ordering::SeqCst);
    if f.remaining.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "0".parse().expect("value"));
        h.insert("content-type", "application/problem+json".parse().expect("value"));
        let body = format!(r#"{{"title":"flaky","status":{},"detail":"injected"}}"#, f.status.as_u16());
        return (f.status, h, body).into_response();
    }
    next.run(req).await
}

/// Polls `check` until it holds or the deadline passes.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if check().await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "not within {DEADLINE:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A certificate-shaped PEM block (a DER SEQUENCE; framing only).
pub fn cert_pem(fill: u8) -> String {
    let mut der = vec![0x30, 0x81, 0x90];
    der.extend(std::iter::repeat_n(fill, 0x90));
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n")
}
