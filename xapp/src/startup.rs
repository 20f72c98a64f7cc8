//! Building the key plane from [`crate::config::KeyPlaneConfig`]: files are
//! read and checked here, so a bad PKI directory or broker socket is one
//! clear error at startup rather than a failure at the first rekey.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qsafe_pqc::pki::{CertifiedKey, parse_pem_certificates};
use qsafe_pqc::tls::{AuthPolicy, KeyExchangePolicy};
use qsafe_qkd::client::{ClientConfig, Etsi014Client};
use qsafe_qkd::prefetch::RefillPolicy;
use qsafe_rekey::trust::{LocalIdentity, TrustAnchors};
use qsafe_xfrm::{AnyDataPlane, BrokerClient, Lifetime, MemoryDataPlane};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::KeyPlaneConfig;
use crate::freshness::KeyFreshness;
use crate::http;
use crate::keyplane::{KeyPlane, KeyPlaneParts, KeyPlaneSettings};
use crate::metrics::XappMetrics;

fn read(path: &std::path::Path, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

/// The key plane and (when `http_listen` is set) its HTTP endpoint task.
pub async fn key_plane(
    config: &KeyPlaneConfig,
    http_listen: Option<SocketAddr>,
    e2_local: SocketAddr,
    stop: watch::Receiver<bool>,
) -> Result<(KeyPlane, Option<JoinHandle<std::io::Result<()>>>), String> {
    key_plane_with_a1(config, http_listen, None, e2_local, stop).await.map(|(k, h, _)| (k, h))
}

/// The key plane, its HTTP endpoint task (when `http_listen` is set) and, with `a1`, the A1-P
/// v2 termination served on that endpoint at `/A1-P/v2` (its address is returned too).
pub async fn key_plane_with_a1(
    config: &KeyPlaneConfig,
    http_listen: Option<SocketAddr>,
    a1: Option<&crate::a1::A1Settings>,
    e2_local: SocketAddr,
    stop: watch::Receiver<bool>,
) -> Result<(KeyPlane, Option<JoinHandle<std::io::Result<()>>>, Option<SocketAddr>), String> {
    if a1.is_some() && http_listen.is_none() {
        return Err("the A1 termination is served on the HTTP endpoint: set --http-listen".into());
    }
    let stem = qsafe_pqc::pki::sae_file_stem(&config.sae_id);
    let cert = config.pki_dir.join(format!("{stem}.pem"));
    let key = config.pki_dir.join(format!("{stem}.key"));
    let identity = CertifiedKey::from_pem(&read(&cert, "certificate")?, &read(&key, "private key")?)
        .map_err(|e| format!("{} / {}: {e}", cert.display(), key.display()))?;
    let signer = LocalIdentity::from_certified_key(&identity).map_err(|e| format!("{}: {e}", cert.display()))?;
    let anchors_pem = read(&config.trust_anchors, "trust anchors")?;
    let anchors =
        TrustAnchors::from_pem(&anchors_pem).map_err(|e| format!("{}: {e}", config.trust_anchors.display()))?;
    let kme = match &config.kme {
        None => None,
        Some((url, kme_id)) => {
            let roots = parse_pem_certificates(&read(&config.pki_dir.join("ca.pem"), "KME CA")?)
                .map_err(|e| format!("KME CA: {e}"))?;
            let tls = qsafe_pqc::tls::client_config(
                &roots,
                Some(&identity),
                KeyExchangePolicy::HybridPreferred,
                AuthPolicy::Any,
            )
            .map_err(|e| format!("KME TLS: {e}"))?;
            Some(
                Etsi014Client::new(ClientConfig::new(url.clone(), tls, kme_id.clone()))
                    .map_err(|e| format!("KME {url}: {e}"))?,
            )
        }
    };
    let data_plane = match &config.xfrm_broker {
        Some(path) => AnyDataPlane::Broker(
            BrokerClient::connect_with_retry(path, Duration::from_secs(5))
                .await
                .map_err(|e| format!("xfrm broker {}: {e}", path.display()))?,
        ),
        None => {
            tracing::warn!("key plane: no --xfrm-broker: SAs go to an in-process model, not the kernel");
            AnyDataPlane::Memory(Arc::new(MemoryDataPlane::new()))
        }
    };
    let local_ip = if e2_local.ip().is_unspecified() { IpAddr::from([127, 0, 0, 1]) } else { e2_local.ip() };
    let local = SocketAddr::new(local_ip, e2_local.port());
    if e2_local.ip().is_unspecified() && config.xfrm_broker.is_some() {
        return Err(
            "the key plane with kernel ESP needs a specific --e2-listen address (the IPsec selectors use it)".into()
        );
    }
    let metrics = XappMetrics::new();
    let (publisher, state) = http::channel(metrics);
    let monitor = Arc::new(Mutex::new(KeyFreshness::new(config.policy.clone())));
    let settings = KeyPlaneSettings {
        ric_sae_id: config.sae_id.clone(),
        report_period: config.report_period,
        grace: config.grace,
        rekey_timeout: Duration::from_secs(2),
        max_retransmits: 3,
        refill: RefillPolicy {
            low_water: config.prefetch_keys.div_ceil(4),
            capacity: config.prefetch_keys,
            batch: config.prefetch_keys.min(32) as u32,
            ..RefillPolicy::default()
        },
        kme_status_period: config.kme_status_period,
        local,
        sa_lifetime: Lifetime::byte_backstop(config.sa_max_bytes),
    };
    let parts = KeyPlaneParts { identity: Arc::new(signer), anchors: Arc::new(anchors), data_plane, kme };
    let keyplane = KeyPlane::new(settings, parts, monitor, publisher);
    let (extra, a1_task) = match a1 {
        Some(a1) => {
            let (handle, task) = crate::a1::start(a1, keyplane.clone(), stop.clone()).await?;
            (Some(qsafe_a1::http::router(handle)), Some(task))
        }
        None => (None, None),
    };
    let (http_task, bound) = match http_listen {
        Some(addr) => {
            let (bound, task) =
                http::serve(addr, state, extra, stop.clone()).await.map_err(|e| format!("HTTP {addr}: {e}"))?;
            tracing::info!(addr = %bound, "serving /metrics and /status");
            // The endpoint's task ends when the server and the A1 plane both ended (the A1
            // policy store is closed then).
            let task = tokio::spawn(async move {
                let r = task.await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
                if let Some(a) = a1_task {
                    let _ = a.await;
                }
                r
            });
            (Some(task), Some(bound))
        }
        None => (None, None),
    };
    keyplane.spawn_ticker(Duration::from_secs(1), stop);
    Ok((keyplane, http_task, bound))
}

/// The E2 security event emitter publishing to the NATS server at `url`
/// (JetStream stream `QSAFE_EVENTS`, created or updated; the publisher
/// connects in the background and queues meanwhile).
pub fn events(url: &str) -> Result<crate::events::E2Events, String> {
    let publisher = qsafe_events::EventPublisher::start(qsafe_events::PublisherConfig::new(url))
        .map_err(|e| format!("NATS event publisher {url}: {e}"))?;
    Ok(crate::events::E2Events::new(std::sync::Arc::new(publisher)))
}
