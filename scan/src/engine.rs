//! The probe engine: bounded-concurrency scanning of TLS endpoints.
//!
//! Per endpoint, all against one resolved address:
//!
//! 1. **Reachability / TLS 1.3 probe** (raw, [`crate::hello`]): a ClientHello offering TLS 1.3
//!    and 1.2 with every group. Connect failure → `unreachable`; no answer within the timeout
//!    → `not_tls` and nothing else is tried (a black hole costs one timeout, not eight).
//! 2. Then, concurrently (each under its own `timeout` for connect + handshake):
//!    * the **default handshake** (rustls, TLS 1.3+1.2, all groups, ML-DSA and classical
//!      schemes): negotiated version/suite/group, CertificateVerify scheme, chain, client-cert
//!      demand;
//!    * three **group probes** (rustls): X25519MLKEM768 only, MLKEM768 only (both TLS 1.3),
//!      classical x25519+secp256r1+secp384r1 (TLS 1.3 and 1.2);
//!    * the **HelloRetryRequest probe** (raw): key share x25519 only, supported_groups
//!      X25519MLKEM768 then x25519;
//!    * **version probes** (raw): TLS 1.2 alone and, unless disabled, TLS 1.1 and TLS 1.0 alone.
//!
//! The scanner's certificate verifier accepts everything: it observes, it does not trust.
//!
//! **Client-certificate demand.** The default handshake's client-certificate resolver records
//! a CertificateRequest and answers with no certificate. If asked: in TLS 1.2 a server that
//! requires a certificate fails the handshake (→ `required`); in TLS 1.3 the client finishes
//! first, so the probe then sends close_notify and reads: the server processes our (empty)
//! Certificate before our close_notify, so a requiring server's alert (certificate_required,
//! …) arrives first (→ `required`); a close_notify / EOF / data means the empty certificate
//! was accepted (→ `optional`). No sleeping: the read ends on the server's answer or on the
//! probe timeout (→ `optional`, noted).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, Resumption};
use rustls::crypto::SupportedKxGroup;
use rustls::crypto::aws_lc_rs::{self as provider, kx_group};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SupportedProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::cert::{describe, rfc3339};
use crate::classify::classify;
use crate::hello::{self, ClientHelloSpec, FlightParser, HelloError, ServerFlight};
use crate::model::{
    ClientAuthDemand, EndpointReport, GroupOffer, GroupProbe, HelloRetryProbe, NamedGroup, Negotiated, REPORT_FORMAT,
    Reachability, ScanReport, SignatureScheme, Target, TlsVersion, ToolInfo,
};

/// How to scan.
#[derive(Clone, Debug)]
pub struct ScanConfig {
    /// Endpoints probed at once (default 32).
    pub concurrency: usize,
    /// Per probe: TCP connect + handshake (default 5 s). An endpoint takes at most about
    /// three times this (resolve, first probe, the concurrent rest).
    pub timeout: Duration,
    /// Raw TLS 1.0 / 1.1 probes (default true).
    pub probe_legacy_versions: bool,
    /// Written into the report's `tool` (default `qsafe-scan` and this crate's version).
    pub tool: ToolInfo,
}

impl Default for ScanConfig {
    fn default() -> Self {
        Self {
            concurrency: 32,
            timeout: Duration::from_secs(5),
            probe_legacy_versions: true,
            tool: ToolInfo { name: "qsafe-scan".into(), version: env!("CARGO_PKG_VERSION").into() },
        }
    }
}

/// Progress callbacks (a progress bar, logs). Called from the scanning task.
pub trait ScanProgress: Send + Sync {
    /// The scan starts with `total` endpoints.
    fn started(&self, total: usize);
    /// One endpoint is done (in completion order, not target order).
    fn endpoint_done(&self, report: &EndpointReport);
}

/// No progress reporting.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl ScanProgress for NoProgress {
    fn started(&self, _total: usize) {}
    fn endpoint_done(&self, _report: &EndpointReport) {}
}

/// Scans `targets` with at most `config.concurrency` endpoints in flight. Never fails:
/// per-endpoint problems are in the endpoint reports. Reports are in target order.
pub async fn scan(targets: Vec<Target>, config: &ScanConfig, progress: &dyn ScanProgress) -> ScanReport {
    let started_at = rfc3339(time::OffsetDateTime::now_utc());
    progress.started(targets.len());
    let concurrency = config.concurrency.max(1);
    let mut results: Vec<(usize, EndpointReport)> = futures_util::stream::iter(targets.into_iter().enumerate())
        .map(|(i, t)| async move {
            let r = scan_endpoint(&t, config).await;
            progress.endpoint_done(&r);
            (i, r)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    ScanReport {
        format: REPORT_FORMAT,
        tool: config.tool.clone(),
        started_at,
        finished_at: rfc3339(time::OffsetDateTime::now_utc()),
        endpoints: results.into_iter().map(|(_, r)| r).collect(),
    }
}

/// Probes one endpoint (see the module docs) and classifies it.
pub async fn scan_endpoint(target: &Target, config: &ScanConfig) -> EndpointReport {
    let start = Instant::now();
    let mut report = EndpointReport {
        target: target.clone(),
        address: None,
        reachability: Reachability::Tls,
        tls_versions: Vec::new(),
        group_probes: Vec::new(),
        hello_retry: None,
        negotiated: None,
        chain: Vec::new(),
        client_auth: ClientAuthDemand::Unknown,
        classification: crate::model::Classification::Unreachable,
        notes: Vec::new(),
        duration_ms: 0,
    };
    // Safety net over the per-probe timeouts: resolve + first probe + the concurrent rest.
    let deadline = config.timeout.saturating_mul(3).saturating_add(Duration::from_secs(1));
    if timeout(deadline, probe_all(target, config, &mut report)).await.is_err() {
        report.notes.push(format!("endpoint deadline of {} s hit; results are partial", deadline.as_secs()));
        if report.group_probes.is_empty() && report.negotiated.is_none() {
            report.reachability = Reachability::NotTls { error: "endpoint deadline exceeded".into() };
        }
    }
    let (class, reasons) = classify(&report);
    report.classification = class;
    let findings = std::mem::take(&mut report.notes);
    report.notes = reasons;
    report.notes.extend(findings);
    report.duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    report
}

async fn probe_all(target: &Target, config: &ScanConfig, report: &mut EndpointReport) {
    let t = config.timeout;
    let addr = match timeout(t, tokio::net::lookup_host((target.host.as_str(), target.port))).await {
        Err(_) => {
            report.reachability =
                Reachability::Unreachable { error: format!("name resolution timed out after {}", secs(t)) };
            return;
        }
        Ok(Err(e)) => {
            report.reachability = Reachability::Unreachable { error: format!("cannot resolve {}: {e}", target.host) };
            return;
        }
        Ok(Ok(mut addrs)) => match addrs.next() {
            Some(a) => a,
            None => {
                report.reachability = Reachability::Unreachable { error: format!("{} has no address", target.host) };
                return;
            }
        },
    };
    report.address = Some(addr.to_string());
    let sni = target.server_name.clone();

    // 1. Reachability + TLS 1.3 (or whatever the server picks from 1.3/1.2).
    let all_groups = vec![0x11EC, 0x0201, 0x001D, 0x0017, 0x0018];
    let first = raw_probe(addr, ClientHelloSpec::tls13(all_groups, x25519_share(), sni.clone(), true), t).await;
    let mut saw_tls = false;
    let mut not_tls_error = None;
    match &first {
        Err(ProbeError::Connect(e)) => {
            report.reachability = Reachability::Unreachable { error: e.clone() };
            return;
        }
        Err(ProbeError::Timeout) => {
            report.reachability =
                Reachability::NotTls { error: format!("connected, but no TLS answer within {}", secs(t)) };
            return;
        }
        Err(e) => not_tls_error = Some(e.to_string()),
        Ok(ServerFlight::Hello(h)) => {
            saw_tls = true;
            if h.version == 0x0304 {
                push_version(report, TlsVersion::Tls13);
            }
        }
        Ok(ServerFlight::Alert(_)) => saw_tls = true,
    }

    // 2. Everything else, concurrently.
    let server_name = rustls_server_name(target);
    let hrr_spec = ClientHelloSpec::tls13(vec![0x11EC, 0x001D], x25519_share(), sni.clone(), false);
    let pq_hybrid: Vec<&'static dyn SupportedKxGroup> = vec![kx_group::X25519MLKEM768];
    let pq_pure: Vec<&'static dyn SupportedKxGroup> = vec![kx_group::MLKEM768];
    let classical: Vec<&'static dyn SupportedKxGroup> =
        vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1];
    let default_groups: Vec<&'static dyn SupportedKxGroup> =
        vec![kx_group::X25519MLKEM768, kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1, kx_group::MLKEM768];
    let legacy = config.probe_legacy_versions;
    let (default, p_hybrid, p_pure, p_classical, hrr, v12, v11, v10) = tokio::join!(
        rustls_probe(addr, server_name.clone(), default_groups, ALL_VERSIONS, true, t),
        rustls_probe(addr, server_name.clone(), pq_hybrid, TLS13_ONLY, false, t),
        rustls_probe(addr, server_name.clone(), pq_pure, TLS13_ONLY, false, t),
        rustls_probe(addr, server_name.clone(), classical, ALL_VERSIONS, false, t),
        raw_probe(addr, hrr_spec, t),
        raw_probe(addr, ClientHelloSpec::legacy(0x0303, sni.clone()), t),
        optional(legacy, raw_probe(addr, ClientHelloSpec::legacy(0x0302, sni.clone()), t)),
        optional(legacy, raw_probe(addr, ClientHelloSpec::legacy(0x0301, sni.clone()), t)),
    );

    // Default handshake.
    match default {
        Ok(o) => {
            saw_tls = true;
            if let Some(v) = o.version {
                push_version(report, v);
            }
            report.negotiated = o.version.map(|version| Negotiated {
                version,
                cipher_suite: o.cipher_suite.clone().unwrap_or_default(),
                group: o.group.clone(),
                signature_scheme: o.observed.scheme.map(|s| scheme_of(s, version)),
            });
            record_chain(report, &o.observed.chain);
            report.client_auth = o.client_auth;
            report.notes.extend(o.notes);
        }
        Err(ProbeFailure { error, observed }) => {
            if error.is_tls() {
                saw_tls = true;
            }
            record_chain(report, &observed.chain);
            if observed.cert_requested {
                // TLS 1.2: the server refused our empty Certificate inside the handshake.
                report.client_auth = ClientAuthDemand::Required;
                report.notes.push(format!("client certificate required: handshake without one failed ({error})"));
                if let Some(s) = observed.scheme {
                    report.negotiated = Some(Negotiated {
                        version: TlsVersion::Tls12,
                        cipher_suite: String::new(),
                        group: None,
                        signature_scheme: Some(scheme_of(s, TlsVersion::Tls12)),
                    });
                }
            } else {
                report.notes.push(format!("default handshake failed: {error}"));
            }
        }
    }

    // Group probes.
    for (offered, result) in [
        (GroupOffer::X25519Mlkem768Only, p_hybrid),
        (GroupOffer::Mlkem768Only, p_pure),
        (GroupOffer::ClassicalOnly, p_classical),
    ] {
        let probe = match result {
            Ok(o) => {
                saw_tls = true;
                if let Some(v) = o.version {
                    push_version(report, v);
                }
                GroupProbe { offered, accepted: o.group.is_some(), negotiated_group: o.group, error: None }
            }
            Err(f) => {
                saw_tls |= f.error.is_tls();
                GroupProbe { offered, accepted: false, negotiated_group: None, error: Some(f.error.to_string()) }
            }
        };
        report.group_probes.push(probe);
    }

    // HelloRetryRequest probe.
    report.hello_retry = Some(match hrr {
        Ok(ServerFlight::Hello(h)) if h.version == 0x0304 => {
            saw_tls = true;
            let selected_group = h.selected_group.map(NamedGroup::from_code);
            let prefers_post_quantum =
                h.hello_retry_request && selected_group.as_ref().is_some_and(NamedGroup::is_post_quantum);
            HelloRetryProbe {
                retry_requested: h.hello_retry_request,
                selected_group,
                prefers_post_quantum,
                error: None,
            }
        }
        Ok(ServerFlight::Hello(h)) => {
            saw_tls = true;
            HelloRetryProbe {
                retry_requested: false,
                selected_group: None,
                prefers_post_quantum: false,
                error: Some(format!("server answered with {} instead of TLS 1.3", version_name(h.version))),
            }
        }
        Ok(ServerFlight::Alert(a)) => {
            saw_tls = true;
            HelloRetryProbe {
                retry_requested: false,
                selected_group: None,
                prefers_post_quantum: false,
                error: Some(format!("alert {}", a.name())),
            }
        }
        Err(e) => HelloRetryProbe {
            retry_requested: false,
            selected_group: None,
            prefers_post_quantum: false,
            error: Some(e.to_string()),
        },
    });

    // Version probes.
    for (version, result) in [(TlsVersion::Tls12, Some(v12)), (TlsVersion::Tls11, v11), (TlsVersion::Tls10, v10)] {
        match result {
            Some(Ok(ServerFlight::Hello(h))) => {
                saw_tls = true;
                if h.version == version.code() && !h.hello_retry_request {
                    push_version(report, version);
                }
            }
            Some(Ok(ServerFlight::Alert(_))) => saw_tls = true,
            _ => {}
        }
    }

    if !saw_tls {
        report.reachability =
            Reachability::NotTls { error: not_tls_error.unwrap_or_else(|| "no TLS handshake succeeded".to_owned()) };
    }
}

async fn optional<F: std::future::Future>(enabled: bool, f: F) -> Option<F::Output> {
    if enabled { Some(f.await) } else { None }
}

fn push_version(report: &mut EndpointReport, v: TlsVersion) {
    if !report.tls_versions.contains(&v) {
        report.tls_versions.push(v);
        report.tls_versions.sort_by(|a, b| b.cmp(a));
    }
}

fn record_chain(report: &mut EndpointReport, chain: &[CertificateDer<'static>]) {
    if !report.chain.is_empty() || chain.is_empty() {
        return;
    }
    for der in chain {
        let (info, problem) = describe(der);
        report.chain.push(info);
        report.notes.extend(problem);
    }
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

fn version_name(v: u16) -> String {
    match v {
        0x0301 => "TLSv1.0".into(),
        0x0302 => "TLSv1.1".into(),
        0x0303 => "TLSv1.2".into(),
        0x0304 => "TLSv1.3".into(),
        other => format!("version 0x{other:04X}"),
    }
}

fn x25519_share() -> [u8; 32] {
    let mut share = [0u8; 32];
    // A real public key, so a server that answers with a ServerHello could even continue.
    if let Ok(key) = aws_lc_rs::agreement::PrivateKey::generate(&aws_lc_rs::agreement::X25519)
        && let Ok(public) = key.compute_public_key()
        && public.as_ref().len() == 32
    {
        share.copy_from_slice(public.as_ref());
    } else {
        // Fallback: the x25519 base point (a valid public key).
        share[0] = 9;
    }
    share
}

fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        b = [0x5A; 32];
    }
    b
}

/// Why a probe produced no result.
#[derive(Debug, thiserror::Error)]
enum ProbeError {
    #[error("{0}")]
    Connect(String),
    #[error("timed out")]
    Timeout,
    #[error("{0}")]
    Hello(#[from] HelloError),
    #[error("{0}")]
    Io(String),
    #[error("alert {0}")]
    Alert(String),
    #[error("{0}")]
    Tls(String),
}

impl ProbeError {
    /// The peer spoke TLS (an alert or a TLS-level error after a ServerHello).
    fn is_tls(&self) -> bool {
        matches!(self, Self::Alert(_) | Self::Tls(_))
    }
}

async fn connect(addr: SocketAddr, t: Duration) -> Result<TcpStream, ProbeError> {
    match timeout(t, TcpStream::connect(addr)).await {
        Err(_) => Err(ProbeError::Connect(format!("connect timed out after {}", secs(t)))),
        Ok(Err(e)) => Err(ProbeError::Connect(format!("connect to {addr}: {e}"))),
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
    }
}

/// Sends one raw ClientHello and reads the server's first flight.
async fn raw_probe(addr: SocketAddr, spec: ClientHelloSpec, t: Duration) -> Result<ServerFlight, ProbeError> {
    let hello = hello::build_client_hello(&spec, random32(), random32());
    let started = Instant::now();
    let mut stream = connect(addr, t).await?;
    let remaining = t.saturating_sub(started.elapsed());
    match timeout(remaining, async {
        stream.write_all(&hello).await.map_err(|e| ProbeError::Io(format!("write: {e}")))?;
        let mut parser = FlightParser::new();
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => return Err(ProbeError::Hello(parser.finish())),
                Ok(n) => {
                    if let Some(flight) = parser.push(&buf[..n])? {
                        return Ok(flight);
                    }
                }
                Err(e) => {
                    // A reset right after our hello: the peer closed on us.
                    return Err(match parser.finish() {
                        HelloError::NotTls(_) => ProbeError::Io(format!("read: {e}")),
                        other => ProbeError::Hello(other),
                    });
                }
            }
        }
    })
    .await
    {
        Err(_) => Err(ProbeError::Timeout),
        Ok(r) => r,
    }
}

/// What the recording verifier and client-cert resolver saw.
#[derive(Debug, Default, Clone)]
struct Observed {
    chain: Vec<CertificateDer<'static>>,
    scheme: Option<rustls::SignatureScheme>,
    cert_requested: bool,
}

/// Accepts any server (it observes, it does not trust) and records what it was shown; as a
/// client-cert resolver, records the CertificateRequest and sends no certificate.
#[derive(Debug)]
struct Recorder {
    seen: Mutex<Observed>,
    schemes: Vec<rustls::SignatureScheme>,
}

impl Recorder {
    fn new() -> Self {
        use rustls::SignatureScheme as S;
        let mut schemes = vec![S::ML_DSA_65, S::ML_DSA_87, S::ML_DSA_44];
        for s in provider::default_provider().signature_verification_algorithms.supported_schemes() {
            if !schemes.contains(&s) {
                schemes.push(s);
            }
        }
        for s in [S::ED448, S::RSA_PKCS1_SHA1, S::ECDSA_SHA1_Legacy] {
            if !schemes.contains(&s) {
                schemes.push(s);
            }
        }
        Self { seen: Mutex::new(Observed::default()), schemes }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Observed) -> R) -> R {
        let mut g = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut g)
    }

    fn snapshot(&self) -> Observed {
        self.with(|o| o.clone())
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.with(|o| {
            o.chain = std::iter::once(end_entity).chain(intermediates).map(|c| c.clone().into_owned()).collect();
        });
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.with(|o| o.scheme = Some(dss.scheme));
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.with(|o| o.scheme = Some(dss.scheme));
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.schemes.clone()
    }
}

impl ResolvesClientCert for Recorder {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.with(|o| o.cert_requested = true);
        None
    }

    fn has_certs(&self) -> bool {
        true
    }
}

static ALL_VERSIONS: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
static TLS13_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

#[derive(Debug)]
struct RustlsOutcome {
    version: Option<TlsVersion>,
    cipher_suite: Option<String>,
    group: Option<NamedGroup>,
    observed: Observed,
    client_auth: ClientAuthDemand,
    notes: Vec<String>,
}

#[derive(Debug)]
struct ProbeFailure {
    error: ProbeError,
    observed: Observed,
}

fn rustls_server_name(target: &Target) -> ServerName<'static> {
    if let Some(name) = &target.server_name
        && let Ok(n) = ServerName::try_from(name.clone())
    {
        return n;
    }
    match target.host.parse::<std::net::IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => ServerName::try_from("invalid.invalid")
            .unwrap_or(ServerName::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]).into())),
    }
}

/// The error a failed rustls handshake / read carries, with alerts named.
fn tls_error(e: &std::io::Error) -> ProbeError {
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return match inner {
            rustls::Error::AlertReceived(a) => ProbeError::Alert(hello::alert_name(u8::from(*a))),
            rustls::Error::InvalidMessage(m) => {
                ProbeError::Hello(HelloError::NotTls(format!("invalid TLS message: {m:?}")))
            }
            other => ProbeError::Tls(other.to_string()),
        };
    }
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => ProbeError::Io("connection closed during the handshake".into()),
        _ => ProbeError::Io(e.to_string()),
    }
}

/// One rustls handshake offering exactly `groups` and `versions`; with `check_client_auth` the
/// client-certificate demand is settled too (see the module docs).
async fn rustls_probe(
    addr: SocketAddr,
    server_name: ServerName<'static>,
    groups: Vec<&'static dyn SupportedKxGroup>,
    versions: &'static [&'static SupportedProtocolVersion],
    check_client_auth: bool,
    t: Duration,
) -> Result<RustlsOutcome, ProbeFailure> {
    let recorder = Arc::new(Recorder::new());
    let fail = |error: ProbeError, r: &Recorder| ProbeFailure { error, observed: r.snapshot() };
    let mut p = provider::default_provider();
    p.kx_groups = groups;
    if versions.len() == 1 {
        p.cipher_suites.retain(|s| s.version() == versions[0]);
    }
    let config = match ClientConfig::builder_with_provider(Arc::new(p)).with_protocol_versions(versions) {
        Ok(b) => b,
        Err(e) => return Err(fail(ProbeError::Tls(format!("client config: {e}")), &recorder)),
    };
    let mut config = config
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_client_cert_resolver(recorder.clone());
    config.resumption = Resumption::disabled();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let started = Instant::now();
    let tcp = connect(addr, t).await.map_err(|e| fail(e, &recorder))?;
    let remaining = t.saturating_sub(started.elapsed());
    let mut tls = match timeout(remaining, connector.connect(server_name, tcp)).await {
        Err(_) => return Err(fail(ProbeError::Timeout, &recorder)),
        Ok(Err(e)) => return Err(fail(tls_error(&e), &recorder)),
        Ok(Ok(s)) => s,
    };
    let (version, cipher_suite, group) = {
        let conn = tls.get_ref().1;
        let version = conn.protocol_version().and_then(|v| match v {
            rustls::ProtocolVersion::TLSv1_3 => Some(TlsVersion::Tls13),
            rustls::ProtocolVersion::TLSv1_2 => Some(TlsVersion::Tls12),
            _ => None,
        });
        let suite = conn.negotiated_cipher_suite().map(|s| {
            let code = u16::from(s.suite());
            match s.suite().as_str() {
                Some(n) => n.replacen("TLS13_", "TLS_", 1),
                None => format!("0x{code:04X}"),
            }
        });
        let group = conn.negotiated_key_exchange_group().map(|g| NamedGroup::from_code(u16::from(g.name())));
        (version, suite, group)
    };
    let mut notes = Vec::new();
    let client_auth = if !check_client_auth {
        ClientAuthDemand::Unknown
    } else if !recorder.snapshot().cert_requested {
        ClientAuthDemand::None
    } else {
        // Asked for a certificate, sent none, handshake done on our side. Send close_notify and
        // read: a requiring server's alert comes before its reaction to our close_notify.
        tls.get_mut().1.send_close_notify();
        let _ = tls.flush().await;
        let remaining = t.saturating_sub(started.elapsed()).max(Duration::from_millis(100));
        let mut buf = [0u8; 512];
        let verdict = timeout(remaining, async {
            loop {
                match tls.read(&mut buf).await {
                    Ok(0) => return Ok(()),
                    Ok(_) => continue,
                    Err(e) => return Err(e),
                }
            }
        })
        .await;
        match verdict {
            Ok(Ok(())) => ClientAuthDemand::Optional,
            Ok(Err(e)) => match tls_error(&e) {
                ProbeError::Alert(a) => {
                    notes.push(format!(
                        "client certificate required: the server answered an empty certificate with alert {a}"
                    ));
                    ClientAuthDemand::Required
                }
                ProbeError::Io(m) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    let _ = m;
                    ClientAuthDemand::Optional
                }
                other => {
                    notes.push(format!(
                        "client certificate requested; connection failed after an empty certificate ({other}): taken as required"
                    ));
                    ClientAuthDemand::Required
                }
            },
            Err(_) => {
                notes.push(
                    "client certificate requested; no answer to close_notify within the timeout: taken as optional"
                        .into(),
                );
                ClientAuthDemand::Optional
            }
        }
    };
    let _ = tls.shutdown().await;
    Ok(RustlsOutcome { version, cipher_suite, group, observed: recorder.snapshot(), client_auth, notes })
}

/// The IANA name of a TLS SignatureScheme.
pub fn signature_scheme_name(code: u16) -> String {
    let n = match code {
        0x0201 => "rsa_pkcs1_sha1",
        0x0203 => "ecdsa_sha1",
        0x0401 => "rsa_pkcs1_sha256",
        0x0501 => "rsa_pkcs1_sha384",
        0x0601 => "rsa_pkcs1_sha512",
        0x0403 => "ecdsa_secp256r1_sha256",
        0x0503 => "ecdsa_secp384r1_sha384",
        0x0603 => "ecdsa_secp521r1_sha512",
        0x0804 => "rsa_pss_rsae_sha256",
        0x0805 => "rsa_pss_rsae_sha384",
        0x0806 => "rsa_pss_rsae_sha512",
        0x0807 => "ed25519",
        0x0808 => "ed448",
        0x0809 => "rsa_pss_pss_sha256",
        0x080A => "rsa_pss_pss_sha384",
        0x080B => "rsa_pss_pss_sha512",
        0x0904 => "mldsa44",
        0x0905 => "mldsa65",
        0x0906 => "mldsa87",
        _ => return format!("unknown_0x{code:04X}"),
    };
    n.to_owned()
}

/// The scheme as negotiated in `version`. In TLS 1.2 the code points 0x0403/0x0503/0x0603 are
/// (hash, ECDSA) pairs that do not bind the curve (RFC 5246 §7.4.1.4.1): a P-256 key signing
/// with SHA-512 sends 0x0603, whose TLS 1.3 name `ecdsa_secp521r1_sha512` would misstate the key.
/// Those are named `ecdsa_sha256/384/512` for TLS 1.2.
fn scheme_of(s: rustls::SignatureScheme, version: TlsVersion) -> SignatureScheme {
    let code = u16::from(s);
    let name = match (version, code) {
        (TlsVersion::Tls13, _) => signature_scheme_name(code),
        (_, 0x0403) => "ecdsa_sha256".to_owned(),
        (_, 0x0503) => "ecdsa_sha384".to_owned(),
        (_, 0x0603) => "ecdsa_sha512".to_owned(),
        _ => signature_scheme_name(code),
    };
    SignatureScheme { name, code }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_scheme_names_bind_the_curve_only_in_tls13() {
        let s = rustls::SignatureScheme::ECDSA_NISTP521_SHA512;
        assert_eq!(scheme_of(s, TlsVersion::Tls13).name, "ecdsa_secp521r1_sha512");
        assert_eq!(scheme_of(s, TlsVersion::Tls12).name, "ecdsa_sha512");
        assert_eq!(scheme_of(rustls::SignatureScheme::ML_DSA_65, TlsVersion::Tls13).name, "mldsa65");
        let pss = scheme_of(rustls::SignatureScheme::RSA_PSS_SHA256, TlsVersion::Tls12);
        assert_eq!((pss.name.as_str(), pss.code), ("rsa_pss_rsae_sha256", 0x0804));
    }
}
