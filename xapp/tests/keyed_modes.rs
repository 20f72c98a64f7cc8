//! KME link down under each key-source mode (issue 6, "Proof": "KME link
//! down under each key-source mode → the link ends in the state the mode
//! demands (never plaintext); KME restored → back to hybrid").
//!
//! In one process, as `keyed_e2.rs`: the xApp's key plane (E2 role, link
//! tasks, freshness monitor and its ticker) against `qsafe-e2node --keyed`
//! nodes over in-memory E2 associations, a real KME pair (ETSI 014 over
//! ML-DSA mutual TLS), real ML-DSA-65 certificates and ML-KEM-768, the
//! in-memory data planes on both sides.
//!
//! Each test: links protected with hybrid keys → the KME's quantum link
//! goes down and its pool is drained (admin endpoint) → the link ends in
//! the state the policy's mode and on-violation action demand, and is never
//! unprotected on the way → the quantum link comes back → the link returns
//! to protected/hybrid and every alarm clears.
//!
//! The key plane is assembled here from its public parts (as
//! `startup::key_plane` does) with two settings changed so that the outage
//! shows within seconds: a small QKD prefetch buffer (the default refill
//! policy keeps up to 64 keys in hand: 64 s of 1-s rekeys after the KME ran
//! dry) and a 250 ms KME status poll (default 5 s).
//!
//! Synchronisation is by polling the monitor's status every 100 ms against
//! deadlines; nothing sleeps for a fixed time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use qsafe_hybrid::{KeySource, Mode};
use qsafe_kme::server::RunningKme;
use qsafe_pqc::pki::{CertifiedKey, parse_pem_certificates};
use qsafe_pqc::tls::{AuthPolicy, KeyExchangePolicy};
use qsafe_qkd::client::{ClientConfig, Etsi014Client};
use qsafe_qkd::prefetch::RefillPolicy;
use qsafe_rekey::trust::{LocalIdentity, TrustAnchors};
use qsafe_xapp::e2::{E2Role, E2Summary};
use qsafe_xapp::freshness::{AlarmKind, KeyFreshness, LinkState, LinkStatus, StatusReport};
use qsafe_xapp::http::{self, HttpState};
use qsafe_xapp::keyplane::{KeyPlane, KeyPlaneParts, KeyPlaneSettings};
use qsafe_xapp::metrics::XappMetrics;
use qsafe_xapp::policy::{FreshnessPolicy, OnViolation};
use qsafe_xfrm::AnyDataPlane;
use qsafe_xfrm::MemoryDataPlane;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Poll interval of the status.
const POLL: Duration = Duration::from_millis(100);
/// Deadline for every node to be protected with hybrid keys (setup, recovery).
const PROTECT_DEADLINE: Duration = Duration::from_secs(30);
/// Deadline for the outage to show in the link state.
const OUTAGE_DEADLINE: Duration = Duration::from_secs(25);

/// One xApp key plane, `nodes` keyed E2 nodes and a KME pair.
struct Rig {
    _dir: tempfile::TempDir,
    kme: RunningKme,
    nodes: usize,
    monitor: Arc<Mutex<KeyFreshness>>,
    http: HttpState,
    xapp_dp: Arc<MemoryDataPlane>,
    node_dp: Arc<MemoryDataPlane>,
    stop_tx: watch::Sender<bool>,
    node_stop_tx: watch::Sender<bool>,
    xapp_run: JoinHandle<E2Summary>,
    node_run: JoinHandle<Result<qsafe_e2node::sim::Summary, String>>,
}

fn policy(mode: Mode, on_violation: OnViolation) -> FreshnessPolicy {
    let p = FreshnessPolicy {
        rekey_period: Duration::from_secs(1),
        max_key_age: Duration::from_secs(3),
        mode,
        on_violation,
        recovery_hold: Duration::from_secs(2),
        isolate_deadline: Duration::from_secs(30),
        ..FreshnessPolicy::default()
    };
    p.validate().expect("policy");
    p
}

impl Rig {
    async fn start(mode: Mode, on_violation: OnViolation, nodes: u32) -> Self {
        let (dir, pki) = common::demo_pki(nodes);
        let kme = common::start_kme(&pki, |s| s.link.initial_key_count = 256).await;
        let pki_dir = dir.path().to_str().expect("utf-8").to_string();

        // ---- the xApp: E2 role + key plane, assembled from its parts
        let xapp = common::xapp_settings(&pki_dir, &kme, &["--kpm-period-ms", "0"]);
        let config = xapp.keyplane.as_ref().expect("key plane");
        let cert = std::fs::read_to_string(config.pki_dir.join("sae-ric-xapp.pem")).expect("cert");
        let key = std::fs::read_to_string(config.pki_dir.join("sae-ric-xapp.key")).expect("key");
        let identity = CertifiedKey::from_pem(&cert, &key).expect("identity");
        let signer = LocalIdentity::from_certified_key(&identity).expect("signer");
        let anchors =
            TrustAnchors::from_pem(&std::fs::read_to_string(&config.trust_anchors).expect("anchors")).expect("anchors");
        let (url, kme_id) = config.kme.clone().expect("kme url");
        let roots =
            parse_pem_certificates(&std::fs::read_to_string(config.pki_dir.join("ca.pem")).expect("ca")).expect("ca");
        let tls =
            qsafe_pqc::tls::client_config(&roots, Some(&identity), KeyExchangePolicy::HybridPreferred, AuthPolicy::Any)
                .expect("kme tls");
        let client = Etsi014Client::new(ClientConfig::new(url, tls, kme_id)).expect("kme client");
        let xapp_dp = Arc::new(MemoryDataPlane::new());
        let (publisher, http_state) = http::channel(XappMetrics::new());
        let monitor = Arc::new(Mutex::new(KeyFreshness::new(policy(mode, on_violation))));
        let settings = KeyPlaneSettings {
            ric_sae_id: config.sae_id.clone(),
            report_period: Duration::from_millis(500),
            grace: Duration::from_millis(200),
            rekey_timeout: Duration::from_secs(2),
            max_retransmits: 3,
            // Few keys in hand, so that a dry KME shows within seconds.
            refill: RefillPolicy {
                low_water: 2,
                capacity: 4,
                batch: 4,
                key_size: None,
                base_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(1),
            },
            kme_status_period: Duration::from_millis(250),
            local: SocketAddr::from(([127, 0, 0, 1], 36421)),
            sa_lifetime: qsafe_xfrm::Lifetime::UNLIMITED,
        };
        let parts = KeyPlaneParts {
            identity: Arc::new(signer),
            anchors: Arc::new(anchors),
            data_plane: AnyDataPlane::Memory(xapp_dp.clone()),
            kme: Some(client),
        };
        let (stop_tx, stop) = watch::channel(false);
        let keyplane = KeyPlane::new(settings, parts, monitor.clone(), publisher);
        keyplane.spawn_ticker(Duration::from_secs(1), stop.clone());
        let mut e2 = E2Role::new(&xapp.e2).expect("e2 role");
        e2.set_key_plane(keyplane);
        let handle = e2.handle().clone();
        let xapp_run = tokio::spawn(e2.run(stop.clone()));

        // ---- the nodes: qsafe-e2node --keyed over in-memory associations
        let node_dp = Arc::new(MemoryDataPlane::new());
        let (node_stop_tx, node_run) =
            common::spawn_keyed_nodes(handle, &pki_dir, &kme, nodes, &["--grace-ms", "200"], node_dp.clone());
        Rig {
            _dir: dir,
            kme,
            nodes: nodes as usize,
            monitor,
            http: http_state,
            xapp_dp,
            node_dp,
            stop_tx,
            node_stop_tx,
            xapp_run,
            node_run,
        }
    }

    fn status(&self) -> StatusReport {
        self.monitor.lock().unwrap().status(SystemTime::now())
    }

    /// POSTs to the KME's admin endpoint (plain HTTP/1.1), returns the JSON state.
    async fn admin(&self, path: &str) -> serde_json::Value {
        let mut s = tokio::net::TcpStream::connect(self.kme.admin_addr()).await.expect("admin connect");
        let request =
            format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        s.write_all(request.as_bytes()).await.expect("admin write");
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).await.expect("admin read");
        let answer = String::from_utf8(answer).expect("utf-8");
        assert!(answer.starts_with("HTTP/1.1 200"), "admin {path}: {answer}");
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("admin {path}: {e}: {body}"))
    }

    /// Polls the status every [`POLL`] until `check` says done (`Ok(true)`);
    /// `Err` is a broken invariant (fails at once). Fails at the deadline.
    async fn wait(
        &self,
        what: &str,
        within: Duration,
        mut check: impl FnMut(&StatusReport) -> Result<bool, String>,
    ) -> StatusReport {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let status = self.status();
            match check(&status) {
                Ok(true) => return status,
                Ok(false) => {}
                Err(why) => panic!("{what}: {why}\n{}", serde_json::to_string_pretty(&status).unwrap()),
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: not reached within {within:?}\n{}",
                serde_json::to_string_pretty(&status).unwrap()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Every node protected with hybrid keys, rekeyed past `epochs` (per
    /// node, in status order; empty: past epoch 1), no alarm active.
    async fn wait_protected_hybrid(&self, what: &str, epochs: &[u32], allow_unprotected: bool) -> StatusReport {
        let nodes = self.nodes;
        self.wait(what, PROTECT_DEADLINE, |s| {
            for l in &s.links {
                never_plaintext(l)?;
                if !allow_unprotected && l.state == LinkState::Unprotected && l.epoch > 0 {
                    return Err(format!("{}: unprotected after it was keyed", l.node));
                }
            }
            Ok(s.links.len() == nodes
                && s.links.iter().enumerate().all(|(i, l)| {
                    l.state == LinkState::Protected
                        && l.key_source == Some(KeySource::Hybrid)
                        && l.key_id.is_some()
                        && l.epoch > epochs.get(i).copied().unwrap_or(1)
                })
                && s.alarms.is_empty())
        })
        .await
    }

    fn metric(&self, series: &str) -> f64 {
        let text = self.http.metrics().render();
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    }

    /// The alarm kinds raised over the run were all counted, and none is
    /// active any more (raise and clear edges went through the metrics).
    fn assert_alarms_raised_then_cleared(&self, kinds: &[AlarmKind]) {
        for kind in kinds {
            let raised = self.metric(&format!("qsafe_xapp_alarms_total{{kind=\"{kind}\"}}"));
            assert!(raised >= 1.0, "alarm {kind} was raised ({raised})");
            let active = self.metric(&format!("qsafe_xapp_alarms_active{{kind=\"{kind}\"}}"));
            assert_eq!(active, 0.0, "alarm {kind} cleared");
        }
    }

    async fn stop(self) {
        self.node_stop_tx.send(true).expect("stop nodes");
        let summary = self.node_run.await.expect("join").expect("nodes ran");
        self.stop_tx.send(true).expect("stop xapp");
        let _ = self.xapp_run.await.expect("join");
        assert!(summary.all_set_up(), "{}", summary.line());
        self.kme.shutdown().await;
    }
}

/// A link with an SA pair has keys of a known source (never "protected"
/// without keys).
fn never_plaintext(l: &LinkStatus) -> Result<(), String> {
    if l.state.has_sa() && (l.key_source.is_none() || l.epoch == 0) {
        return Err(format!("{}: {} without keys", l.node, l.state));
    }
    Ok(())
}

fn active(s: &StatusReport, node: &str, kind: AlarmKind) -> bool {
    s.alarms.iter().any(|a| a.node == node && a.kind == kind && a.cleared_at.is_none())
}

/// Bootstrap, then QKD away: link down (no new key) and the pool drained
/// (no stored key). Returns the epochs at the outage.
async fn keyed_then_kme_down(rig: &Rig) -> Vec<u32> {
    let before = rig.wait_protected_hybrid("bootstrap", &[], false).await;
    let down = rig.admin("/admin/link/down").await;
    assert_eq!(down["faults"]["link_down"], true, "{down}");
    let drained = rig.admin("/admin/drain").await;
    assert_eq!(drained["pool"]["stored_key_count"], 0, "{drained}");
    before.links.iter().map(|l| l.epoch).collect()
}

/// The KME's quantum link back up.
async fn kme_up(rig: &Rig) {
    let up = rig.admin("/admin/link/up").await;
    assert_eq!(up["faults"]["link_down"], false, "{up}");
}

/// Modes that can rekey from ML-KEM alone: the link stays Protected, now on
/// ML-KEM-only keys, and goes back to hybrid when QKD returns.
async fn pqc_fallback(mode: Mode, nodes: u32) {
    let rig = Rig::start(mode, OnViolation::Rekey, nodes).await;
    let at_outage = keyed_then_kme_down(&rig).await;
    let n = rig.nodes;
    let s = rig
        .wait("ML-KEM-only keys while QKD is away", OUTAGE_DEADLINE, |s| {
            for l in &s.links {
                never_plaintext(l)?;
                if l.state != LinkState::Protected {
                    return Err(format!("{}: {} (mode {mode} is satisfied by ML-KEM alone)", l.node, l.state));
                }
            }
            Ok(s.links.len() == n
                && s.links.iter().all(|l| {
                    l.key_source == Some(KeySource::Pqc)
                        && l.key_id.is_none()
                        && !l.kme.qkd_available
                        && l.rekeys_ok >= 2
                        && l.epoch > 0
                }))
        })
        .await;
    for l in &s.links {
        assert!(!active(&s, &l.node, AlarmKind::SourceUnavailable), "{mode} does not require QKD: {:?}", s.alarms);
        assert!(!active(&s, &l.node, AlarmKind::LinkDegraded), "{:?}", s.alarms);
        // The KME's empty pool is warned about.
        assert!(active(&s, &l.node, AlarmKind::KmeStockLow), "{:?}", s.alarms);
    }
    let epochs: Vec<u32> = s.links.iter().map(|l| l.epoch).collect();
    assert!(epochs.iter().zip(&at_outage).all(|(e, b)| e > b), "rekeyed during the outage: {at_outage:?} → {epochs:?}");
    kme_up(&rig).await;
    rig.wait_protected_hybrid("back to hybrid", &epochs, false).await;
    rig.assert_alarms_raised_then_cleared(&[AlarmKind::KmeStockLow]);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn either_rekeys_with_ml_kem_alone_then_back_to_hybrid() {
    pqc_fallback(Mode::Either, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_pqc_rekeys_with_ml_kem_alone_then_back_to_hybrid() {
    pqc_fallback(Mode::AtLeastPqc, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qkd_and_pqc_degrade_goes_ml_kem_only_then_recovers() {
    let rig = Rig::start(Mode::QkdAndPqc, OnViolation::Degrade, 2).await;
    let at_outage = keyed_then_kme_down(&rig).await;
    let n = rig.nodes;
    let s = rig
        .wait("degraded", OUTAGE_DEADLINE, |s| {
            for l in &s.links {
                never_plaintext(l)?;
                if matches!(l.state, LinkState::Unprotected | LinkState::Isolated) {
                    return Err(format!("{}: {} (degrade keeps the link keyed)", l.node, l.state));
                }
            }
            Ok(s.links.len() == n
                && s.links.iter().all(|l| {
                    l.state == LinkState::Degraded
                        && l.key_source == Some(KeySource::Pqc)
                        && l.mode == Some(Mode::AtLeastPqc)
                        && active(s, &l.node, AlarmKind::LinkDegraded)
                        && active(s, &l.node, AlarmKind::SourceUnavailable)
                }))
        })
        .await;
    let epochs: Vec<u32> = s.links.iter().map(|l| l.epoch).collect();
    assert!(epochs.iter().zip(&at_outage).all(|(e, b)| e > b), "{at_outage:?} → {epochs:?}");
    // A degraded link keeps rotating (ML-KEM only) while QKD is away.
    let rotated = rig
        .wait("degraded links keep rotating", OUTAGE_DEADLINE, |s| {
            for l in &s.links {
                never_plaintext(l)?;
                if l.state != LinkState::Degraded {
                    return Err(format!("{}: {} while QKD is still away", l.node, l.state));
                }
            }
            Ok(s.links.iter().zip(&epochs).all(|(l, e)| l.epoch > *e))
        })
        .await;
    let epochs: Vec<u32> = rotated.links.iter().map(|l| l.epoch).collect();
    kme_up(&rig).await;
    rig.wait_protected_hybrid("recovered to hybrid", &epochs, false).await;
    rig.assert_alarms_raised_then_cleared(&[AlarmKind::LinkDegraded, AlarmKind::SourceUnavailable]);
    rig.stop().await;
}

/// qkd-and-pqc × isolate: the link is isolated (SAs removed on both sides,
/// ESP still required: nothing passes in clear), with alarms. Returns the rig
/// and the node.
async fn isolate_on_outage() -> (Rig, String) {
    let rig = Rig::start(Mode::QkdAndPqc, OnViolation::Isolate, 1).await;
    keyed_then_kme_down(&rig).await;
    let s = rig
        .wait("isolated", OUTAGE_DEADLINE, |s| {
            for l in &s.links {
                never_plaintext(l)?;
                if l.state == LinkState::Unprotected {
                    return Err(format!("{}: unprotected (isolate must fail closed)", l.node));
                }
                if l.state == LinkState::Protected && l.key_source != Some(KeySource::Hybrid) {
                    return Err(format!("{}: protected on {:?} keys in qkd-and-pqc", l.node, l.key_source));
                }
            }
            Ok(s.links.len() == 1
                && s.links.iter().all(|l| {
                    l.state == LinkState::Isolated
                        && active(s, &l.node, AlarmKind::LinkIsolated)
                        && active(s, &l.node, AlarmKind::SourceUnavailable)
                }))
        })
        .await;
    let node = s.links[0].node.clone();
    rig.wait("SAs removed on both sides", OUTAGE_DEADLINE, |_| {
        Ok(rig.xapp_dp.sa_count() == 0 && rig.node_dp.sa_count() == 0)
    })
    .await;
    (rig, node)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qkd_and_pqc_isolate_removes_the_sas_and_alarms() {
    let (rig, node) = isolate_on_outage().await;
    let s = rig.status();
    let l = s.link(&node).expect("link");
    assert_eq!(l.state, LinkState::Isolated);
    assert!(
        s.alarms.iter().any(|a| a.node == node
            && a.kind == AlarmKind::LinkIsolated
            && a.severity == qsafe_xapp::freshness::Severity::Critical),
        "{:?}",
        s.alarms
    );
    rig.stop().await;
}

/// Recovery of an isolated link: once QKD has been back for the recovery
/// hold, the xApp releases ESP and drops the association; the node
/// reconnects (unprotected, as at bootstrap) and its bootstrap rekey in
/// qkd-and-pqc re-protects it with hybrid keys, and the alarms clear.
/// (Regression: the reconnect's new link task must continue above the
/// node's epochs — the key plane keeps them — and the failures that led to
/// the isolation must not isolate the reconnected node again.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qkd_and_pqc_isolated_link_recovers_to_hybrid() {
    let (rig, _node) = isolate_on_outage().await;
    kme_up(&rig).await;
    rig.wait_protected_hybrid("re-protected after isolation", &[0], true).await;
    rig.assert_alarms_raised_then_cleared(&[AlarmKind::LinkIsolated, AlarmKind::SourceUnavailable]);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_qkd_rekey_keeps_the_old_key_and_alarms() {
    let rig = Rig::start(Mode::AtLeastQkd, OnViolation::Rekey, 1).await;
    keyed_then_kme_down(&rig).await;
    let check = |s: &StatusReport| -> Result<(), String> {
        for l in &s.links {
            never_plaintext(l)?;
            if l.state != LinkState::Protected || l.key_source != Some(KeySource::Hybrid) {
                return Err(format!(
                    "{}: {} on {:?} keys (rekey mode keeps the last good key)",
                    l.node, l.state, l.key_source
                ));
            }
        }
        Ok(())
    };
    let s = rig
        .wait("key-age and rekey-failing alarms on the old key", OUTAGE_DEADLINE, |s| {
            check(s)?;
            Ok(s.links.len() == 1
                && s.links.iter().all(|l| {
                    l.consecutive_failures >= 3
                        && active(s, &l.node, AlarmKind::KeyAge)
                        && active(s, &l.node, AlarmKind::RekeyFailing)
                        && active(s, &l.node, AlarmKind::SourceUnavailable)
                }))
        })
        .await;
    let old = s.links[0].clone();
    // Rekeys keep being tried (and fail closed): the key does not change.
    rig.wait("further failed attempts on the same key", OUTAGE_DEADLINE, |s| {
        check(s)?;
        let l = &s.links[0];
        if (l.epoch, &l.key_id) != (old.epoch, &old.key_id) {
            return Err(format!("key changed while QKD is away: epoch {} → {}", old.epoch, l.epoch));
        }
        Ok(l.rekeys_failed >= old.rekeys_failed + 2)
    })
    .await;
    kme_up(&rig).await;
    rig.wait_protected_hybrid("rekeyed once QKD is back", &[old.epoch], false).await;
    rig.assert_alarms_raised_then_cleared(&[AlarmKind::KeyAge, AlarmKind::RekeyFailing, AlarmKind::SourceUnavailable]);
    rig.stop().await;
}
