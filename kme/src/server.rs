//! The tokio edge: two HTTPS listeners (KME A, KME B) and the admin
//! listener around one shared [`KmeLink`], a generator task that drives the
//! link with real time, and graceful shutdown.
//!
//! # Why hyper 1 + tokio-rustls, not axum
//!
//! The calling SAE is a property of the *connection* (its client
//! certificate), not of a request, so the natural unit is: accept TCP →
//! rustls handshake → read the SAE ID once from the peer certificate → serve
//! HTTP/1.1 on that stream with a per-connection service closure that
//! carries the identity. hyper's `serve_connection` is exactly that, with no
//! connect-info plumbing. The request handling is a few lines over
//! [`crate::endpoint`], whose answers must be the spec's byte for byte; a
//! router with its own extractor rejections (axum's 400/415/422 bodies)
//! would be one more thing producing non-spec answers to guard against.
//! hyper also gives what the edge needs for robustness: header-read
//! timeout, keep-alive, graceful shutdown of open connections.
//!
//! # Robustness
//!
//! * TLS handshakes have a deadline ([`Limits::handshake_timeout`]); a
//!   connection on which no complete request header arrives within
//!   [`Limits::idle_timeout`] is closed (hyper's header-read timeout, which
//!   also runs while a keep-alive connection is idle); each KME accepts at most
//!   [`Limits::max_connections`] at once (a semaphore held per connection;
//!   the accept loop waits when it is exhausted).
//! * Bodies are capped at [`Limits::max_body_bytes`] (413), checked against
//!   `Content-Length` first and enforced while reading.
//! * The link is behind one `std::sync::Mutex`, held only for the
//!   synchronous model call (microseconds), never across an `.await`; the
//!   injected latency is slept first, without it.
//! * Shutdown stops accepting, lets in-flight requests finish (hyper
//!   graceful shutdown), and gives up on connections after a grace period.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use qsafe_qkd::kme::{KmeLink, Site};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};
use zeroize::Zeroizing;

use crate::config::{DemoPkiSettings, Limits, LinkParams, PkiAlgorithm, PkiSource, ServeSettings};
use crate::endpoint::{self, Answer, Attachment, Route};
use crate::identity::{IdentityError, SaeIdSource};
use crate::metrics::Metrics;
use crate::pki::{self, DemoPki, KmeTlsMaterial, PkiFileError};
use crate::site_label;

/// How often the generator task credits generated key and refreshes the
/// pool metrics. Generation itself is exact at any step (the link carries
/// sub-bit remainders); this only bounds how stale `/metrics` can be.
pub const GENERATOR_TICK: Duration = Duration::from_millis(100);

/// How long shutdown waits for open connections to finish their requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why the KME pair did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Certificates or keys.
    #[error(transparent)]
    Pki(#[from] PkiFileError),
    /// The temporary directory for a generated PKI.
    #[error("cannot create a directory for the generated demo PKI: {0}")]
    TempDir(std::io::Error),
    /// rustls refused the material or policy.
    #[error("TLS configuration of KME {site}: {source}")]
    Tls {
        /// Which KME.
        site: Site,
        /// Why.
        source: qsafe_pqc::tls::TlsConfigError,
    },
    /// A KME ID does not match the certificate.
    #[error("KME {site}: configured KME ID {expected:?} but the server certificate's CN is {found:?}")]
    KmeIdMismatch {
        /// Which KME.
        site: Site,
        /// Configured.
        expected: String,
        /// In the certificate.
        found: String,
    },
    /// The link model refused its parameters.
    #[error("link parameters: {0}")]
    Link(#[from] qsafe_qkd::kme::ConfigError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why (e.g. address in use).
        source: std::io::Error,
    },
}

/// State shared by all tasks.
pub struct Shared {
    link: Mutex<KmeLink>,
    /// The metric families.
    pub metrics: Metrics,
    attachments: [Attachment; 2],
    sae_id_source: SaeIdSource,
    limits: Limits,
    params: LinkParams,
    kme_ids: [String; 2],
    listen: [SocketAddr; 2],
    admin: SocketAddr,
    started: Instant,
    last_generated: Mutex<(Instant, u64)>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("kme_ids", &self.kme_ids).field("listen", &self.listen).finish_non_exhaustive()
    }
}

impl Shared {
    /// Locks the link (recovering from a poisoned lock: the model's calls
    /// check before they change, so its state stays consistent).
    pub fn link(&self) -> MutexGuard<'_, KmeLink> {
        self.link.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// KME IDs of A and B.
    pub fn kme_ids(&self) -> &[String; 2] {
        &self.kme_ids
    }

    /// Link parameters.
    pub fn params(&self) -> &LinkParams {
        &self.params
    }

    /// HTTPS addresses of A and B.
    pub fn listen(&self) -> [SocketAddr; 2] {
        self.listen
    }

    /// Admin address.
    pub fn admin(&self) -> SocketAddr {
        self.admin
    }

    /// Time since start.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Credits generation up to now and copies pool, generation and fault
    /// state into the metrics.
    pub fn refresh_metrics(&self) {
        let now = Instant::now();
        let (stats, faults) = {
            let mut link = self.link();
            link.advance(now);
            (link.stats(), link.faults().clone())
        };
        let m = &self.metrics;
        for site in Site::BOTH {
            // One pool feeds both ends of the link: the same level at each site.
            m.pool_keys.with_label_values(&[site_label(site)]).set(gauge(stats.stored_key_count));
            m.pool_bits.with_label_values(&[site_label(site)]).set(gauge(stats.pool_bits));
        }
        m.set_generated_bits(stats.generated_bits_total);
        {
            let mut last = self.last_generated.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let dt = now.saturating_duration_since(last.0).as_secs_f64();
            if dt >= GENERATOR_TICK.as_secs_f64() / 2.0 {
                let bits = stats.generated_bits_total.saturating_sub(last.1);
                m.generation_rate.set(bits as f64 / dt);
                *last = (now, stats.generated_bits_total);
            }
        }
        m.fault_link_down.set(i64::from(faults.link_down));
        m.fault_latency_seconds.set(faults.extra_latency.as_secs_f64());
        m.fault_fail_next.set(i64::from(faults.fail_next));
    }
}

fn gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A running KME pair.
#[derive(Debug)]
pub struct RunningKme {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    generated_pki: Option<PathBuf>,
}

impl RunningKme {
    /// HTTPS address of a KME.
    pub fn addr(&self, site: Site) -> SocketAddr {
        self.shared.listen[site.index()]
    }
    /// Admin (plain HTTP, `/admin/*`, `/metrics`) address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.shared.admin
    }
    /// KME ID of a site.
    pub fn kme_id(&self, site: Site) -> &str {
        &self.shared.kme_ids[site.index()]
    }
    /// Where a generated demo PKI was written (`None` when files were configured).
    pub fn generated_pki_dir(&self) -> Option<&std::path::Path> {
        self.generated_pki.as_deref()
    }
    /// The shared state (metrics, link), for embedding and tests.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops accepting, lets open requests finish (up to [`SHUTDOWN_GRACE`]),
    /// and waits for every task.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::sleep(SHUTDOWN_GRACE + Duration::from_secs(1));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                joined = self.tasks.join_next() => if joined.is_none() { break },
                () = &mut deadline => {
                    warn!("shutdown: tasks still running after the grace period, aborting them");
                    self.tasks.abort_all();
                    while self.tasks.join_next().await.is_some() {}
                    break;
                }
            }
        }
    }
}

/// SAE IDs for the client certificates of a generated PKI: the attached
/// SAEs if configured, else `ric-xapp` and `e2node-1`.
fn generated_saes(settings: &ServeSettings) -> Vec<String> {
    let mut saes: Vec<String> = Vec::new();
    for id in settings.attached_saes.iter().flatten().flatten() {
        if !saes.contains(id) {
            saes.push(id.clone());
        }
    }
    if saes.is_empty() {
        saes = vec!["ric-xapp".into(), "e2node-1".into()];
    }
    saes
}

/// Resolves the TLS material: loads the configured files, or generates a
/// demo PKI into a new temporary directory (kept, and returned).
pub fn material(settings: &ServeSettings) -> Result<(KmeTlsMaterial, Option<PathBuf>), StartError> {
    match &settings.pki {
        PkiSource::Files(files) => Ok((pki::load(files)?, None)),
        PkiSource::Generate => {
            let dir = tempfile::Builder::new().prefix("qsafe-kme-pki-").tempdir().map_err(StartError::TempDir)?.keep();
            let demo = DemoPkiSettings {
                out: dir.clone(),
                algorithm: PkiAlgorithm::MlDsa65,
                kme_ids: [
                    settings.kme_ids[0].clone().unwrap_or_else(|| "kme-a".into()),
                    settings.kme_ids[1].clone().unwrap_or_else(|| "kme-b".into()),
                ],
                saes: generated_saes(settings),
                dns: Vec::new(),
                ips: Vec::new(),
                validity: Duration::from_secs(30 * 86_400),
                force: false,
            };
            let pki = DemoPki::generate(&demo)?;
            pki.write(&dir, false)?;
            Ok((pki.tls_material(), Some(dir)))
        }
    }
}

/// Starts the KME pair from settings (loading or generating the PKI).
pub async fn start(settings: ServeSettings) -> Result<RunningKme, StartError> {
    let (material, generated) = material(&settings)?;
    let mut running = start_with_material(settings, material).await?;
    running.generated_pki = generated;
    Ok(running)
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).await.map_err(|source| StartError::Bind { what, addr, source })
}

/// Starts the KME pair with TLS material already in memory (tests, embedding).
pub async fn start_with_material(settings: ServeSettings, material: KmeTlsMaterial) -> Result<RunningKme, StartError> {
    for site in Site::BOTH {
        if let Some(expected) = &settings.kme_ids[site.index()] {
            let found = &material.kme_ids[site.index()];
            if expected != found {
                return Err(StartError::KmeIdMismatch { site, expected: expected.clone(), found: found.clone() });
            }
        }
    }
    let tls_config = |site: Site| {
        crate::tls::server_config(&material, site, settings.tls).map_err(|source| StartError::Tls { site, source })
    };
    let tls = [tls_config(Site::A)?, tls_config(Site::B)?];
    let p = &settings.link;
    let config = p.link_config(material.kme_ids.clone());
    let now = Instant::now();
    let link = KmeLink::new(config, now)?;
    // The initial fill counts as generated; the rate gauge measures from here.
    let initial_bits = link.stats().generated_bits_total;

    let listeners = [bind("KME A", settings.listen[0]).await?, bind("KME B", settings.listen[1]).await?];
    let admin_listener = bind("admin", settings.admin_listen).await?;
    let local = |l: &TcpListener, want: SocketAddr| l.local_addr().unwrap_or(want);
    let listen = [local(&listeners[0], settings.listen[0]), local(&listeners[1], settings.listen[1])];
    let admin = local(&admin_listener, settings.admin_listen);

    let attachment = |i: usize| match &settings.attached_saes[i] {
        Some(ids) => Attachment::only(ids.iter().cloned()),
        None => Attachment::any(),
    };
    let shared = Arc::new(Shared {
        link: Mutex::new(link),
        metrics: Metrics::new(),
        attachments: [attachment(0), attachment(1)],
        sae_id_source: settings.sae_id_source.clone(),
        limits: settings.limits,
        params: settings.link.clone(),
        kme_ids: material.kme_ids.clone(),
        listen,
        admin,
        started: now,
        last_generated: Mutex::new((now, initial_bits)),
    });
    shared.metrics.secret_key_rate.set(p.secret_key_rate_bps as f64);
    shared.refresh_metrics();

    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let [tls_a, tls_b] = tls;
    let [listener_a, listener_b] = listeners;
    for (site, listener, cfg) in [(Site::A, listener_a, tls_a), (Site::B, listener_b, tls_b)] {
        tasks.spawn(accept_loop(shared.clone(), site, listener, TlsAcceptor::from(cfg), stop_rx.clone()));
    }
    tasks.spawn(crate::admin::serve(shared.clone(), admin_listener, stop_rx.clone()));
    tasks.spawn(generator(shared.clone(), stop_rx));
    info!(
        kme_a = %listen[0], kme_b = %listen[1], admin = %admin,
        kme_id_a = %shared.kme_ids[0], kme_id_b = %shared.kme_ids[1],
        rate_bps = p.secret_key_rate_bps, key_size = p.key_size,
        "KME pair listening"
    );
    Ok(RunningKme { shared, stop, tasks, generated_pki: None })
}

pub(crate) async fn stopped(mut rx: watch::Receiver<bool>) {
    // Resolves when `true` is sent or the sender is gone.
    let _ = rx.wait_for(|s| *s).await;
}

async fn generator(shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(GENERATOR_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stop = stopped(stop);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = tick.tick() => shared.refresh_metrics(),
            () = &mut stop => return,
        }
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    site: Site,
    listener: TcpListener,
    acceptor: TlsAcceptor,
    stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(shared.limits.max_connections));
    let graceful = GracefulShutdown::new();
    let stop_fut = stopped(stop);
    tokio::pin!(stop_fut);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = &mut stop_fut => break,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: log, back off briefly, go on.
                    warn!(site = %site, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop_fut => break,
        };
        let watcher = graceful.watcher();
        let shared = shared.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            connection(shared, site, tcp, peer, acceptor, watcher).await;
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        warn!(site = %site, "connections still open after the shutdown grace period");
    }
}

/// Holds a gauge one higher for its lifetime (connections, requests in flight).
struct GaugeHold(prometheus::IntGauge);

impl GaugeHold {
    fn new(family: &prometheus::IntGaugeVec, site: Site) -> Self {
        let g = family.with_label_values(&[site_label(site)]);
        g.inc();
        Self(g)
    }
}

impl Drop for GaugeHold {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn connection(
    shared: Arc<Shared>,
    site: Site,
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let _open = GaugeHold::new(&shared.metrics.open_connections, site);
    let _ = tcp.set_nodelay(true);
    let tls = match tokio::time::timeout(shared.limits.handshake_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            shared.metrics.tls_handshake_failures.with_label_values(&[site_label(site)]).inc();
            info!(site = %site, %peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            shared.metrics.tls_handshake_failures.with_label_values(&[site_label(site)]).inc();
            info!(site = %site, %peer, "TLS handshake timed out");
            return;
        }
    };
    let (_, conn) = tls.get_ref();
    let summary = qsafe_pqc::tls::HandshakeSummary::of(conn);
    let group = summary.group.map_or_else(|| "none".to_string(), |g| format!("{g:?}"));
    shared.metrics.tls_handshakes.with_label_values(&[site_label(site), &group]).inc();
    let caller: Result<String, IdentityError> = match conn.peer_certificates().and_then(|c| c.first()) {
        Some(leaf) => crate::identity::sae_id_from_certificate(leaf, &shared.sae_id_source),
        None => Err(IdentityError::Missing("client certificate".into())),
    };
    match &caller {
        Ok(sae) => debug!(site = %site, %peer, sae = %sae, group = %group, "connection"),
        Err(e) => {
            shared.metrics.identity_failures.with_label_values(&[site_label(site)]).inc();
            warn!(site = %site, %peer, error = %e, source = %shared.sae_id_source,
                "client certificate yields no SAE ID: every request on this connection gets 401");
        }
    }
    let caller = Arc::new(caller.ok());
    let service_shared = shared.clone();
    let service = hyper::service::service_fn(move |req| {
        let shared = service_shared.clone();
        let caller = caller.clone();
        async move { Ok::<_, Infallible>(handle(&shared, site, caller.as_deref(), req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.limits.idle_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(tls), service);
    if let Err(e) = watcher.watch(conn).await {
        debug!(site = %site, %peer, error = %e, "connection ended with an error");
    }
}

/// The body type of every answer: one chunk whose buffer is zeroized when
/// hyper drops it (it may hold key material).
pub type AnswerBody = Full<Bytes>;

/// Turns zeroizing bytes into a body that stays zeroizing until hyper is done with it.
pub fn zeroizing_body(bytes: Zeroizing<Vec<u8>>) -> AnswerBody {
    Full::new(Bytes::from_owner(bytes))
}

fn to_response(answer: Answer) -> Response<AnswerBody> {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut b = Response::builder().status(status);
    if answer.body.is_some() {
        b = b.header(CONTENT_TYPE, "application/json");
    }
    if let Some(allow) = answer.allow {
        b = b.header(ALLOW, allow);
    }
    let body = match answer.body {
        Some(bytes) => zeroizing_body(bytes),
        None => Full::new(Bytes::new()),
    };
    b.body(body).unwrap_or_else(|_| {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

async fn read_body(req: Request<Incoming>, limit: usize, call: &'static str) -> Result<Zeroizing<Vec<u8>>, Answer> {
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(endpoint::body_too_large(call, limit));
    }
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => Ok(Zeroizing::new(collected.to_bytes().to_vec())),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            Err(endpoint::body_too_large(call, limit))
        }
        Err(e) => Err(endpoint::body_unreadable(call, &e.to_string())),
    }
}

async fn handle(shared: &Shared, site: Site, caller: Option<&str>, req: Request<Incoming>) -> Response<AnswerBody> {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let in_flight = GaugeHold::new(&shared.metrics.requests_in_flight, site);
    let answer = answer(shared, site, caller, req).await;
    drop(in_flight);
    let m = &shared.metrics;
    m.count_request(site, &method, answer.call, answer.status);
    if answer.delivered.keys > 0 {
        m.count_delivery(site, answer.call, answer.delivered.keys, answer.delivered.bits);
    }
    let micros = started.elapsed().as_micros() as u64;
    let sae = caller.unwrap_or("-");
    if answer.status == 200 {
        debug!(site = %site, sae, method, call = answer.call, status = answer.status, keys = answer.delivered.keys, micros, "request");
    } else {
        // Error bodies carry no key material; they say why.
        info!(site = %site, sae, method, call = answer.call, status = answer.status, micros,
            answer = %answer.error_text(), "request refused");
    }
    to_response(answer)
}

async fn answer(shared: &Shared, site: Site, caller: Option<&str>, req: Request<Incoming>) -> Answer {
    // The latency fault delays every answer of the KME listeners, refusals included.
    let latency = shared.link().faults().extra_latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let request = endpoint::Request {
        method: req.method().as_str(),
        path: req.uri().path(),
        query: req.uri().query(),
        content_type: req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
    };
    let route: Route = match endpoint::route(&request) {
        Ok(r) => r,
        Err(a) => return a,
    };
    if caller.is_none_or(|c| !shared.attachments[site.index()].admits(c)) {
        // Decided before the body is read.
        return Answer::unauthorized(route.call.as_str());
    }
    if let Err(a) = endpoint::check_content_type(&route, request.content_type) {
        return a;
    }
    let call = route.call.as_str();
    let body = if route.post {
        match read_body(req, shared.limits.max_body_bytes, call).await {
            Ok(b) => b,
            Err(a) => return a,
        }
    } else {
        Zeroizing::new(Vec::new())
    };
    let mut link = shared.link();
    endpoint::serve(&mut link, site, &shared.attachments[site.index()], caller, &route, &body, Instant::now())
}
