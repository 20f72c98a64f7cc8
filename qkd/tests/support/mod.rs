//! A tiny ETSI GS QKD 014 HTTPS server for the client's tests: the sans-IO [`KmeLink`] behind
//! hyper + tokio-rustls on loopback, one listener per site, mutual TLS with ML-DSA-65
//! certificates from `qsafe-pqc`. The calling SAE is the commonName of its client certificate.
//!
//! This is test scaffolding, not the `qsafe-kme` server: no config, no metrics, no admin API.

// Test scaffolding: a failed setup step should panic the test that uses it.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use qsafe_pqc::pki::{CertificateAuthority, CertifiedKey, LeafProfile, LeafUsage, SignatureAlgorithm};
use qsafe_pqc::tls::{AuthPolicy, KeyExchangePolicy};
use qsafe_qkd::api::{self, ErrorBody, KeyIds, KeyRequest, MAX_BODY_BYTES, path::Call};
use qsafe_qkd::client::{ClientConfig, Etsi014Client, IdSource, RetryPolicy};
use qsafe_qkd::kme::{KmeError, KmeLink, LinkConfig, Site};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

pub const KME_IDS: [&str; 2] = ["KME_A", "KME_B"];
pub const MASTER: &str = "SAE_master";
pub const SLAVE: &str = "SAE_slave";
pub const STRANGER: &str = "SAE_stranger";

/// The test PKI: one ML-DSA-65 root, server certificates for both KMEs, client certificates
/// for the SAEs.
pub struct Pki {
    pub root: CertificateAuthority,
    pub kmes: [CertifiedKey; 2],
    pub algorithm: SignatureAlgorithm,
    pub auth: AuthPolicy,
}

impl Pki {
    /// ML-DSA-65 everywhere, and only ML-DSA accepted.
    pub fn new() -> Self {
        Self::with_algorithm(SignatureAlgorithm::MlDsa65, AuthPolicy::MlDsaOnly)
    }

    /// ECDSA P-256 (for peers whose TLS stack has no ML-DSA, e.g. Python on OpenSSL 3.0).
    pub fn classical() -> Self {
        Self::with_algorithm(SignatureAlgorithm::EcdsaP256, AuthPolicy::Any)
    }

    pub fn with_algorithm(algorithm: SignatureAlgorithm, auth: AuthPolicy) -> Self {
        let day = Duration::from_secs(86_400);
        let root = CertificateAuthority::new_root("qsafe-qkd test root", algorithm, day).unwrap();
        let kme = |id: &str| {
            root.issue(
                &LeafProfile::new(id, LeafUsage::Server)
                    .with_algorithm(algorithm)
                    .with_dns_name("localhost")
                    .with_ip_address(IpAddr::V4(Ipv4Addr::LOCALHOST))
                    .with_uri(format!("urn:etsi:qkd:kme:{id}")),
            )
            .unwrap()
        };
        let kmes = [kme(KME_IDS[0]), kme(KME_IDS[1])];
        Self { root, kmes, algorithm, auth }
    }

    pub fn sae(&self, sae_id: &str) -> CertifiedKey {
        self.root.issue(&LeafProfile::new(sae_id, LeafUsage::Client).with_algorithm(self.algorithm)).unwrap()
    }

    /// A client TLS config for `sae_id` trusting the test root.
    pub fn client_tls(&self, sae_id: &str) -> Arc<rustls::ClientConfig> {
        let identity = self.sae(sae_id);
        qsafe_pqc::tls::client_config(
            &[self.root.certificate().clone()],
            Some(&identity),
            KeyExchangePolicy::HybridPreferred,
            self.auth,
        )
        .unwrap()
    }
}

/// Two KMEs of one link, serving HTTPS on loopback.
pub struct TestKme {
    pub link: Arc<Mutex<KmeLink>>,
    pub addrs: [SocketAddr; 2],
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for TestKme {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

pub fn link_config() -> LinkConfig {
    LinkConfig {
        kme_ids: [KME_IDS[0].into(), KME_IDS[1].into()],
        key_size: 256,
        min_key_size: 64,
        max_key_size: 1024,
        max_key_count: 1000,
        max_key_per_request: 16,
        max_sae_id_count: 0,
        // 1000 keys of 256 bits per second.
        secret_key_rate_bps: 256_000,
        seed: None,
        initial_key_count: 100,
        max_pending_keys: 10_000,
    }
}

impl TestKme {
    pub async fn start(pki: &Pki, config: LinkConfig) -> Self {
        let link = Arc::new(Mutex::new(KmeLink::new(config, Instant::now()).unwrap()));
        let mut addrs = Vec::new();
        let mut tasks = Vec::new();
        for site in Site::BOTH {
            let tls = qsafe_pqc::tls::server_config(
                &pki.kmes[site.index()],
                Some(&[pki.root.certificate().clone()]),
                KeyExchangePolicy::HybridPreferred,
                pki.auth,
            )
            .unwrap();
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
            addrs.push(listener.local_addr().unwrap());
            tasks.push(tokio::spawn(serve(listener, TlsAcceptor::from(tls), site, link.clone())));
        }
        Self { link, addrs: [addrs[0], addrs[1]], tasks }
    }

    pub fn base_url(&self, site: Site) -> String {
        format!("https://localhost:{}", self.addrs[site.index()].port())
    }

    /// A client for `sae_id` talking to the KME at `site`, expecting `expected` as its ID.
    pub fn client(&self, pki: &Pki, sae_id: &str, site: Site, expected: &str, retry: RetryPolicy) -> Etsi014Client {
        let config = ClientConfig {
            kme_id_from: IdSource::CommonName,
            timeout: Duration::from_secs(5),
            retry,
            ..ClientConfig::new(self.base_url(site), pki.client_tls(sae_id), expected)
        };
        Etsi014Client::new(config).unwrap()
    }

    pub fn with_link<T>(&self, f: impl FnOnce(&mut KmeLink) -> T) -> T {
        f(&mut self.link.lock().unwrap())
    }
}

pub fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy { attempts, base_backoff: Duration::from_millis(5), max_backoff: Duration::from_millis(20) }
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor, site: Site, link: Arc<Mutex<KmeLink>>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let acceptor = acceptor.clone();
        let link = link.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            let caller = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|der| {
                    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
                    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?.to_owned();
                    Some(cn)
                })
                .unwrap_or_default();
            let service = hyper::service::service_fn(move |req| {
                let link = link.clone();
                let caller = caller.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(req, site, &caller, &link).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
        });
    }
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn error(e: &KmeError) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(e.http_status()).unwrap();
    match e.body() {
        Some(body) => json(status, body.to_json()),
        None => Response::builder().status(status).body(Full::new(Bytes::new())).unwrap(),
    }
}

fn bad(message: String) -> Response<Full<Bytes>> {
    json(StatusCode::BAD_REQUEST, ErrorBody::new(message).to_json())
}

async fn handle(req: Request<Incoming>, site: Site, caller: &str, link: &Mutex<KmeLink>) -> Response<Full<Bytes>> {
    let latency = link.lock().unwrap().faults().extra_latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let Some((sae, call)) = api::path::parse(req.uri().path()) else {
        return json(StatusCode::NOT_FOUND, ErrorBody::new("no such path").to_json());
    };
    let method = req.method().clone();
    let query = req.uri().query().unwrap_or("").to_owned();
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return bad(format!("body: {e}")),
    };
    let now = Instant::now();
    let mut link = link.lock().unwrap();
    let result = match (call, &method) {
        (Call::Status, &Method::GET) => link.status(site, caller, &sae, now).map(|s| s.to_json()),
        (Call::EncKeys, &Method::GET | &Method::POST) => {
            let parsed =
                if method == Method::GET { KeyRequest::from_query(&query) } else { KeyRequest::from_json(&body) };
            match parsed {
                Ok(r) => link.enc_keys(site, caller, &sae, &r, now).map(|c| c.to_json().to_vec()),
                Err(e) => return bad(e.to_string()),
            }
        }
        (Call::DecKeys, &Method::GET | &Method::POST) => {
            let parsed = if method == Method::GET { KeyIds::from_query(&query) } else { KeyIds::from_json(&body) };
            match parsed {
                Ok(r) => link.dec_keys(site, caller, &sae, &r, now).map(|c| c.to_json().to_vec()),
                Err(e) => return bad(e.to_string()),
            }
        }
        _ => return json(StatusCode::METHOD_NOT_ALLOWED, ErrorBody::new("method not allowed").to_json()),
    };
    match result {
        Ok(body) => json(StatusCode::OK, body),
        Err(e) => error(&e),
    }
}
