//! # The key plane: one keyed E2 link per E2 node (the RIC side)
//!
//! For every E2 node that offers the E2SM-QKD RAN function
//! ([`qsafe_asn1::e2sm_qkd::RAN_FUNCTION_OID`]) the xApp runs one *link
//! task*. It owns the link's sans-IO rekey machine
//! ([`qsafe_rekey::ric::RicLink`]) and carries out what the machine asks:
//!
//! * data-plane operations (install/delete SAs, require/release ESP) through
//!   the [`AnyDataPlane`] — the privileged `qsafe-xfrm-broker` over its Unix
//!   socket, or an in-process model for runs without `CAP_NET_ADMIN`;
//! * RIC CONTROL REQUESTs (REKEY, SET-MODE, ISOLATE/RESTORE) through the
//!   RIC server, feeding the node's signed outcome back;
//! * the link's REPORT subscription (new signed ML-KEM keys, the node's
//!   epoch and kernel counters).
//!
//! QKD keys come from one [`PrefetchBuffer`] per node (ETSI GS QKD 014
//! `enc_keys` at the xApp's KME for the node's SAE ID), so a rekey never
//! waits for the KME. The key-freshness monitor ([`crate::freshness`]) is
//! shared by all links: a ticker evaluates it every second and sends each
//! link task the enforcement its policy demands (rekey, degrade, isolate,
//! recover); the link tasks report what really happened back to it.
//!
//! Nothing here decides protocol questions: signatures, epochs, modes and
//! make-before-break ordering are the rekey machine's; what to do about a
//! stale key is the monitor's. This module is plumbing, kept thin on purpose.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use qsafe_asn1::e2ap::build;
use qsafe_asn1::e2ap_asn as asn;
use qsafe_asn1::e2sm_qkd::{
    self as sm, ActionDefinition, ControlOutcome, E2smQkdPayload, EventTrigger, IndicationMessage, KeySourceMode,
    RanFunctionDefinition,
};
use qsafe_e2::E2NodeId;
use qsafe_e2::driver::{DriverError, RicHandle};
use qsafe_e2::ric::{ControlRequest, SubscriptionRequest};
use qsafe_e2::transport::Peer;
use qsafe_hybrid::{KeyId, Mode};
use qsafe_qkd::client::Etsi014Client;
use qsafe_qkd::prefetch::{PrefetchBuffer, RefillPolicy};
use qsafe_rekey::ric::{RicAction, RicLink, RicLinkConfig};
use qsafe_rekey::sa::{DataPlaneOp, Direction as SaDirection, SaSpec, SpiAllocator};
use qsafe_rekey::trust::{LocalIdentity, TrustAnchors};
use qsafe_xfrm::{AnyDataPlane, DataPlane, DataPlaneError, Direction, Lifetime, Link, SaRequest};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::events::E2Events;
use crate::freshness::{self, Enforcement, KeyFreshness};
use crate::http::StatusPublisher;
use crate::metrics::RekeyResult;

/// Action id of the E2SM-QKD REPORT action.
const REPORT_ACTION_ID: u8 = 1;

/// Settings of the key plane.
#[derive(Debug, Clone)]
pub struct KeyPlaneSettings {
    /// The xApp's SAE ID (ETSI 014 master SAE).
    pub ric_sae_id: String,
    /// Interval of the nodes' E2SM-QKD reports.
    pub report_period: Duration,
    /// Old SAs are deleted this long after a switch.
    pub grace: Duration,
    /// REKEY retransmission timeout.
    pub rekey_timeout: Duration,
    /// REKEY retransmissions before the epoch is given up.
    pub max_retransmits: u32,
    /// Refill policy of each node's QKD key buffer.
    pub refill: RefillPolicy,
    /// How often the KME's status is polled per node.
    pub kme_status_period: Duration,
    /// The RIC's own address and port on the E2 links (the SCTP listener's).
    pub local: SocketAddr,
    /// Kernel lifetime of every SA: the byte-limit backstop behind the
    /// policy's maxBytesPerKey rekey ([`Lifetime::byte_backstop`]).
    pub sa_lifetime: Lifetime,
}

/// What the key plane needs from the outside, built once at startup.
#[derive(Debug)]
pub struct KeyPlaneParts {
    /// The xApp's ML-DSA identity (signs REKEY and the other controls).
    pub identity: Arc<LocalIdentity>,
    /// PQC trust anchors for the nodes' chains.
    pub anchors: Arc<TrustAnchors>,
    /// The data plane.
    pub data_plane: AnyDataPlane,
    /// The xApp's KME (`None`: no QKD; only ML-KEM modes can rekey).
    pub kme: Option<Etsi014Client>,
}

/// The key plane shared by every link task.
#[derive(Debug, Clone)]
pub struct KeyPlane {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: KeyPlaneSettings,
    parts: KeyPlaneParts,
    spis: Mutex<SpiAllocator>,
    next_reqid: Mutex<u32>,
    monitor: Arc<Mutex<KeyFreshness>>,
    publisher: StatusPublisher,
    links: Mutex<HashMap<String, mpsc::UnboundedSender<Enforcement>>>,
    buffers: Mutex<HashMap<String, Arc<PrefetchBuffer>>>,
    /// The highest epoch issued per node, kept across link tasks: a node
    /// that reconnects (after an isolation its REPORTs carry no SA) is
    /// never offered an epoch it has seen.
    epochs: Mutex<HashMap<String, u32>>,
    /// Isolated nodes whose association was ended: barred from E2 Setup
    /// until the policy lets them recover (then admitted again by the ticker).
    barred: Mutex<HashMap<String, (RicHandle, E2NodeId)>>,
    /// E2 security events (NATS JetStream), when configured.
    events: Mutex<E2Events>,
    /// PQC trust policies from A1 (`qsafe-pqc-trust`), oldest first.
    trust: Mutex<Vec<TrustPolicy>>,
}

/// An A1 PQC trust policy as the key plane applies it: anchors added to the
/// configured ones for the nodes in scope, and the ML-DSA levels accepted.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    /// The A1 policy id.
    pub id: String,
    /// The nodes it applies to (`None`: all).
    pub nodes: Option<Vec<String>>,
    /// Its anchors (DER), each an ML-DSA certificate.
    pub anchors: Vec<Vec<u8>>,
    /// ML-DSA levels accepted in node chains.
    pub accepted: Vec<qsafe_pqc::pki::SignatureAlgorithm>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The key plane's freshness monitor, locked.
pub(crate) fn lock_monitor(kp: &KeyPlane) -> std::sync::MutexGuard<'_, KeyFreshness> {
    lock(&kp.inner.monitor)
}

/// The combiner's mode in E2SM-QKD terms.
pub fn mode_to_e2sm(mode: Mode) -> KeySourceMode {
    match mode {
        Mode::QkdAndPqc => KeySourceMode::QkdAndPqc,
        Mode::AtLeastQkd => KeySourceMode::AtLeastQkd,
        Mode::AtLeastPqc => KeySourceMode::AtLeastPqc,
        Mode::Either => KeySourceMode::Either,
    }
}

impl KeyPlane {
    /// The key plane, with the freshness monitor `monitor` and its status publisher.
    pub fn new(
        settings: KeyPlaneSettings,
        parts: KeyPlaneParts,
        monitor: Arc<Mutex<KeyFreshness>>,
        publisher: StatusPublisher,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                parts,
                spis: Mutex::new(SpiAllocator::new()),
                next_reqid: Mutex::new(0x100),
                monitor,
                publisher,
                links: Mutex::new(HashMap::new()),
                buffers: Mutex::new(HashMap::new()),
                epochs: Mutex::new(HashMap::new()),
                barred: Mutex::new(HashMap::new()),
                events: Mutex::new(E2Events::default()),
                trust: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Publishes E2 security events from now on.
    pub fn set_events(&self, events: E2Events) {
        *lock(&self.inner.events) = events;
    }

    /// The event emitter.
    pub fn events(&self) -> E2Events {
        lock(&self.inner.events).clone()
    }

    /// Adds or replaces an A1 trust policy. Checked first (every anchor an ML-DSA
    /// certificate): refused, nothing changes. It applies to E2 Setups from now on;
    /// connected nodes keep the anchors their chain was verified under until they set up
    /// again. Returns the trust anchors a node in scope is verified under.
    pub fn set_trust_policy(&self, policy: TrustPolicy) -> Result<TrustAnchors, String> {
        let mut all = lock(&self.inner.trust).clone();
        all.retain(|p| p.id != policy.id);
        let probe_node = policy.nodes.as_ref().and_then(|n| n.first().cloned());
        all.push(policy);
        let anchors = self.anchors_among(&all, probe_node.as_deref())?;
        *lock(&self.inner.trust) = all;
        Ok(anchors)
    }

    /// Deletes an A1 trust policy; whether it existed.
    pub fn remove_trust_policy(&self, id: &str) -> bool {
        let mut t = lock(&self.inner.trust);
        let n = t.len();
        t.retain(|p| p.id != id);
        n != t.len()
    }

    /// The anchors `node`'s chain is verified under at its next E2 Setup.
    pub fn trust_anchors_for(&self, node: &str) -> Result<Arc<TrustAnchors>, String> {
        let all = lock(&self.inner.trust).clone();
        if !all.iter().any(|p| p.nodes.as_ref().is_none_or(|n| n.iter().any(|x| x == node))) {
            return Ok(self.inner.parts.anchors.clone());
        }
        self.anchors_among(&all, Some(node)).map(Arc::new)
    }

    /// Configured anchors + those of every trust policy covering `node` (every policy when
    /// `None`); accepted levels of the latest such policy.
    fn anchors_among(&self, all: &[TrustPolicy], node: Option<&str>) -> Result<TrustAnchors, String> {
        let base = &self.inner.parts.anchors;
        let mut ders: Vec<rustls_pki_types::CertificateDer<'static>> = base.certificates().to_vec();
        let mut accepted = base.accepted.clone();
        for p in all.iter().filter(|p| match (node, &p.nodes) {
            (_, None) | (None, _) => true,
            (Some(n), Some(list)) => list.iter().any(|x| x == n),
        }) {
            for d in &p.anchors {
                if !ders.iter().any(|x| x.as_ref() == d.as_slice()) {
                    ders.push(rustls_pki_types::CertificateDer::from(d.clone()));
                }
            }
            accepted = p.accepted.clone();
        }
        TrustAnchors::from_der(ders).map(|a| a.with_accepted(accepted)).map_err(|e| e.to_string())
    }

    /// The shared monitor.
    pub fn monitor(&self) -> Arc<Mutex<KeyFreshness>> {
        self.inner.monitor.clone()
    }

    /// Starts the link task of `node`, whose RAN function `function_id`
    /// carries the E2SM-QKD definition `definition`.
    pub fn attach(&self, ric: RicHandle, node: E2NodeId, function_id: u16, definition: Bytes) -> JoinHandle<()> {
        let kp = self.clone();
        tokio::spawn(async move {
            let name = node.to_string();
            if let Err(e) = kp.run_link(ric, node, function_id, definition).await {
                tracing::warn!(node = %name, error = %e, "key plane: link task ended");
            }
            lock(&kp.inner.links).remove(&name);
        })
    }

    /// Evaluates the monitor every `period`, hands each link its
    /// enforcement, publishes status and metrics, until `stop`.
    pub fn spawn_ticker(&self, period: Duration, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        let kp = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(period);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = every.tick() => kp.tick(),
                    r = stop.changed() => if r.is_err() || *stop.borrow() { break },
                }
            }
        })
    }

    fn tick(&self) {
        let now = SystemTime::now();
        self.refresh_stock(now);
        let (tick, status) = {
            let mut monitor = lock(&self.inner.monitor);
            let tick = monitor.tick(now);
            (tick, monitor.status(now))
        };
        self.inner.publisher.metrics().record_alarms(&tick.alarms);
        self.events().on_tick(&tick, &status, now);
        let links = lock(&self.inner.links);
        for (node, action) in tick.actions() {
            if let Enforcement::Recover { .. } = action
                && let Some((ric, id)) = lock(&self.inner.barred).remove(node)
            {
                // Isolated and gone: admit its next E2 Setup, whose link task
                // re-protects it (bootstrap rekey).
                lock(&self.inner.monitor).link_mut(node).on_recovery_started();
                tracing::info!(node, "key plane: isolated node may set up again (recovery)");
                tokio::spawn(async move {
                    if let Err(e) = ric.bar(&id, false).await {
                        tracing::error!(node = %id, error = %e, "key plane: cannot admit the node again");
                    }
                });
                continue;
            }
            if let Some(tx) = links.get(node) {
                let _ = tx.send(action);
            }
        }
        drop(links);
        self.inner.publisher.publish(status);
    }

    /// Feeds every node's prefetch buffer level into the monitor.
    fn refresh_stock(&self, now: SystemTime) {
        let buffers: Vec<(String, Arc<PrefetchBuffer>)> =
            lock(&self.inner.buffers).iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut monitor = lock(&self.inner.monitor);
        for (node, buffer) in buffers {
            let stats = buffer.stats();
            monitor.stock_mut(&node).on_prefetch(stats.level as u64, stats.consecutive_failures, now);
        }
    }

    fn buffer_for(&self, node: &str, slave_sae_id: &str) -> Option<Arc<PrefetchBuffer>> {
        let client = self.inner.parts.kme.as_ref()?;
        let mut buffers = lock(&self.inner.buffers);
        if let Some(b) = buffers.get(node) {
            return Some(b.clone());
        }
        match PrefetchBuffer::spawn(client.clone(), slave_sae_id, self.inner.settings.refill) {
            Ok(b) => {
                let b = Arc::new(b);
                buffers.insert(node.to_string(), b.clone());
                Some(b)
            }
            Err(e) => {
                tracing::error!(node, error = %e, "key plane: cannot start the QKD key buffer");
                None
            }
        }
    }

    /// The association of `link` is gone: its SAs and ESP-required policy
    /// are removed. The selectors name that association's ports only, so
    /// they protect nothing any more; left behind they would pile up, one
    /// set per reconnect, and block a later association that happens to
    /// reuse the port pair (its bootstrap runs in clear). A reconnecting
    /// node gets a fresh link (bootstrap, new epoch).
    async fn association_ended(&self, link: Link) {
        let dp = &self.inner.parts.data_plane;
        if let Err(e) = dp.delete_all(link).await {
            tracing::warn!(%link, error = %e, "key plane: cannot delete the ended association's SAs");
        }
        if let Err(e) = dp.release_esp(link).await {
            tracing::warn!(%link, error = %e, "key plane: cannot release the ended association's policy");
        }
    }

    fn reqid(&self) -> u32 {
        let mut next = lock(&self.inner.next_reqid);
        *next = next.wrapping_add(1).max(0x100);
        *next
    }

    async fn run_link(
        &self,
        ric: RicHandle,
        node: E2NodeId,
        function_id: u16,
        definition: Bytes,
    ) -> Result<(), String> {
        let name = node.to_string();
        let s = &self.inner.settings;
        let def = RanFunctionDefinition::decode(&definition).map_err(|e| e.to_string())?;
        let policy_mode = lock(&self.inner.monitor).policy_for(&name).mode;
        let mut cfg = RicLinkConfig::new(s.ric_sae_id.clone(), def.node_sae_id.clone());
        cfg.mode = mode_to_e2sm(policy_mode);
        cfg.grace = s.grace;
        cfg.rekey_timeout = s.rekey_timeout;
        cfg.max_retransmits = s.max_retransmits;
        let anchors = self.trust_anchors_for(&name)?;
        let mut link = RicLink::new(cfg, self.inner.parts.identity.clone(), anchors);
        if let Some(epoch) = lock(&self.inner.epochs).get(&name) {
            link.raise_epoch_floor(*epoch);
        }
        if let Err(e) = link.on_ran_function(&def, SystemTime::now()) {
            // A node whose chain or KEM key does not verify is not keyed; the
            // monitor sees an unprotected link and enforces its deadline.
            lock(&self.inner.monitor).link_mut(&name).on_setup(false, SystemTime::now());
            return Err(format!("E2SM-QKD RAN function refused: {e}"));
        }
        let peer = match ric.peer(&node).await.map_err(|e| e.to_string())? {
            Some(Peer::Sctp(addr)) => addr,
            // In-memory associations (tests): a placeholder peer address,
            // distinct per link through the reqid.
            Some(Peer::Memory(n)) => SocketAddr::from(([192, 0, 2, 1], (n % 60_000) as u16 + 1024)),
            None => return Err("the node left before its link was keyed".into()),
        };
        // The selectors name this association only (its ports): several
        // nodes behind one address each get their own SAs and policy.
        let dp_link = Link {
            local: s.local.ip(),
            peer: peer.ip(),
            local_port: s.local.port(),
            peer_port: peer.port(),
            reqid: self.reqid(),
        };
        let buffer = self.buffer_for(&name, &def.node_sae_id);
        lock(&self.inner.monitor).link_mut(&name).on_setup(link.has_kem_key(), SystemTime::now());

        let (enforce_tx, mut enforce_rx) = mpsc::unbounded_channel();
        lock(&self.inner.links).insert(name.clone(), enforce_tx);

        let trigger = EventTrigger::periodic(s.report_period.as_millis().clamp(10, 3_600_000) as u32, true)
            .encode()
            .map_err(|e| e.to_string())?;
        let action = ActionDefinition { include_next_kem_key: true }.encode().map_err(|e| e.to_string())?;
        let request = SubscriptionRequest {
            ran_function_id: function_id,
            event_trigger: trigger.into(),
            actions: vec![build::action(REPORT_ACTION_ID, asn::RICactionType::report, Some(&action))],
        };
        let mut reports = ric.subscribe(&node, request).await.map_err(|e| format!("REPORT subscription: {e}"))?;
        tracing::info!(node = %name, sae = %def.node_sae_id, link = %dp_link, "key plane: link attached");

        let (outcome_tx, mut outcome_rx) = mpsc::unbounded_channel::<Result<Option<Bytes>, String>>();
        let mut driver = LinkDriver {
            kp: self.clone(),
            name: name.clone(),
            node: node.clone(),
            function_id,
            ric: ric.clone(),
            dp_link,
            buffer,
            outcome_tx,
            policy_mode,
            started_mode: policy_mode,
            current_inbound: None,
            isolated: false,
        };
        let mut status_poll = tokio::time::interval(s.kme_status_period);
        let mut counters_poll = tokio::time::interval(Duration::from_secs(1));
        loop {
            driver.drain(&mut link).await;
            let epoch = link.security().max_epoch;
            lock(&self.inner.epochs).insert(name.clone(), epoch);
            let deadline = link.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ind = reports.recv() => {
                    let Some(ind) = ind else { break };
                    match IndicationMessage::decode(&ind.message) {
                        Ok(msg) => {
                            if let Err(e) = link.on_report(&msg, SystemTime::now()) {
                                tracing::warn!(node = %name, error = %e, "key plane: REPORT refused");
                            }
                            let mut monitor = lock(&self.inner.monitor);
                            let obs = monitor.link_mut(&name);
                            obs.on_node_report(&msg, SystemTime::now());
                            if let Some(stored) = msg.kme_stored_keys {
                                let _ = stored; // the xApp's own KME status is authoritative for its stock
                            }
                        }
                        Err(e) => tracing::warn!(node = %name, error = %e, "key plane: undecodable REPORT"),
                    }
                }
                outcome = outcome_rx.recv() => {
                    let Some(outcome) = outcome else { break };
                    driver.on_outcome(&mut link, outcome);
                }
                action = enforce_rx.recv() => {
                    let Some(action) = action else { break };
                    driver.enforce(&mut link, action).await;
                }
                _ = sleep => link.handle_timeout(Instant::now()),
                _ = status_poll.tick() => driver.poll_kme_status(&def.node_sae_id).await,
                _ = counters_poll.tick() => driver.poll_counters().await,
            }
        }
        lock(&self.inner.monitor).link_mut(&name).on_disconnected();
        tracing::info!(node = %name, "key plane: REPORT subscription ended (node gone)");
        self.association_ended(dp_link).await;
        Ok(())
    }
}

/// The per-link plumbing between the rekey machine and the world.
struct LinkDriver {
    kp: KeyPlane,
    name: String,
    node: E2NodeId,
    function_id: u16,
    ric: RicHandle,
    dp_link: Link,
    buffer: Option<Arc<PrefetchBuffer>>,
    outcome_tx: mpsc::UnboundedSender<Result<Option<Bytes>, String>>,
    policy_mode: Mode,
    started_mode: Mode,
    /// SPI of the newest inbound SA (for the RIC-side counters).
    current_inbound: Option<u32>,
    /// The link was isolated: the association is ended after this drain.
    isolated: bool,
}

impl LinkDriver {
    async fn drain(&mut self, link: &mut RicLink) {
        self.drain_actions(link).await;
        if std::mem::take(&mut self.isolated) {
            self.end_isolated_association().await;
        }
    }

    /// An isolated link's association can carry nothing (no SA, ESP
    /// required): SCTP would notice only after minutes of failed
    /// heartbeats, and the node's reconnect would be refused as a duplicate
    /// meanwhile. So the RIC bars the node (its E2 Setup is refused with a
    /// TimeToWait until the policy lets it recover) and ends the
    /// association; the node, isolated by the verified ISOLATE, ends it too.
    /// The dead association's SAs and policy go with it (see
    /// [`KeyPlane::association_ended`]).
    async fn end_isolated_association(&mut self) {
        match self.ric.bar(&self.node, true).await {
            Ok(_) => {
                lock(&self.kp.inner.barred).insert(self.name.clone(), (self.ric.clone(), self.node.clone()));
            }
            Err(e) => tracing::error!(node = %self.name, error = %e, "key plane: cannot bar the isolated node"),
        }
        tracing::info!(node = %self.name, "key plane: isolated: association ended, E2 Setup barred until recovery");
        let _ = self.ric.disconnect(&self.node).await;
    }

    async fn drain_actions(&mut self, link: &mut RicLink) {
        while let Some(action) = link.poll_action() {
            match action {
                RicAction::DataPlane(op) => self.data_plane(op).await,
                RicAction::SendControl { header, message } => self.send_control(header, message),
                RicAction::RekeyDone { epoch, key_source, latency, key_id } => {
                    tracing::info!(node = %self.name, epoch, ?key_source, ?latency, "key plane: rekey done");
                    let done = freshness::RekeyDone {
                        epoch,
                        key_id: key_id.map(KeyId::from_bytes),
                        key_source: freshness::key_source_from_e2sm(key_source),
                        mode: self.started_mode,
                        latency,
                    };
                    let pqc = link.has_kem_key();
                    lock(&self.kp.inner.monitor).link_mut(&self.name).on_rekey_succeeded(
                        done,
                        self.policy_mode,
                        pqc,
                        SystemTime::now(),
                    );
                    self.kp.inner.publisher.metrics().record_rekey(&self.name, RekeyResult::Success, Some(latency));
                    self.kp.events().on_rekey(
                        &self.name,
                        epoch,
                        Ok((freshness::key_source_from_e2sm(key_source), latency)),
                    );
                }
                RicAction::RekeyFailed { epoch, cause, qkd_key_consumed } => {
                    tracing::warn!(node = %self.name, epoch, ?cause, qkd_key_consumed, "key plane: rekey failed");
                    lock(&self.kp.inner.monitor)
                        .link_mut(&self.name)
                        .on_rekey_failed(format!("{cause:?}"), SystemTime::now());
                    self.kp.inner.publisher.metrics().record_rekey(&self.name, RekeyResult::Failure, None);
                    self.kp.events().on_rekey(&self.name, epoch, Err(format!("{cause:?}")));
                }
                RicAction::ControlDone { command, epoch } => {
                    tracing::info!(node = %self.name, ?command, epoch, "key plane: control done");
                    if command == sm::ControlCommand::Isolate {
                        lock(&self.kp.inner.monitor).link_mut(&self.name).on_isolated(SystemTime::now());
                        self.isolated = true;
                    }
                }
                RicAction::ControlFailed { command, epoch, cause } => {
                    tracing::warn!(node = %self.name, ?command, epoch, ?cause, "key plane: control failed");
                    if command == sm::ControlCommand::Isolate {
                        // The RIC isolates its side anyway (fail closed).
                        lock(&self.kp.inner.monitor).link_mut(&self.name).on_isolated(SystemTime::now());
                        self.isolated = true;
                    }
                }
                RicAction::StateChanged(state) => {
                    tracing::info!(node = %self.name, ?state, "key plane: link state");
                }
            }
        }
    }

    fn sa_request(&self, direction: Direction, sa: SaSpec) -> SaRequest {
        let mut req = SaRequest::new(self.dp_link, direction, sa.spi, sa.keymat);
        req.lifetime = self.kp.inner.settings.sa_lifetime;
        req
    }

    async fn data_plane(&mut self, op: DataPlaneOp) {
        let dp = &self.kp.inner.parts.data_plane;
        let link = self.dp_link;
        let result = match op {
            DataPlaneOp::InstallInbound(sa) => {
                self.current_inbound = Some(sa.spi);
                dp.install_sa(self.sa_request(Direction::Inbound, sa)).await
            }
            DataPlaneOp::InstallOutbound(sa) => dp.install_sa(self.sa_request(Direction::Outbound, sa)).await,
            DataPlaneOp::Delete { direction, spi, .. } => {
                let dir = local_direction(direction);
                let r = match dp.delete_sa(link, dir, spi).await {
                    Err(DataPlaneError::NotFound { .. }) => Ok(()),
                    other => other,
                };
                lock(&self.kp.inner.spis).release(spi);
                r
            }
            DataPlaneOp::RequireEsp => dp.require_esp(link).await,
            DataPlaneOp::ReleaseEsp => dp.release_esp(link).await,
            DataPlaneOp::DeleteAll => dp.delete_all(link).await.map(|_| ()),
        };
        if let Err(e) = result {
            // The rekey machine assumes the kernel did what it asked; a
            // refusal here is an operator problem (broker down, privilege).
            tracing::error!(node = %self.name, %link, error = %e, "key plane: data-plane operation failed");
        }
    }

    fn send_control(&self, header: sm::ControlHeader, message: sm::ControlMessage) {
        let (header_bytes, message_bytes) = match sm::encode_control(&message) {
            Ok(hm) => hm,
            Err(e) => {
                tracing::error!(node = %self.name, error = %e, "key plane: cannot encode a control");
                return;
            }
        };
        debug_assert_eq!(header.command, message.command());
        let request = ControlRequest {
            ran_function_id: self.function_id,
            header: header_bytes.into(),
            message: message_bytes.into(),
            call_process_id: None,
            ack_requested: true,
        };
        let ric = self.ric.clone();
        let node = self.node.clone();
        let tx = self.outcome_tx.clone();
        tokio::spawn(async move {
            let result = match ric.control(&node, request).await {
                Ok(outcome) => Ok(outcome.outcome),
                Err(DriverError::ControlFailed { outcome, .. }) => Ok(outcome),
                Err(e) => Err(e.to_string()),
            };
            let _ = tx.send(result);
        });
    }

    fn on_outcome(&mut self, link: &mut RicLink, outcome: Result<Option<Bytes>, String>) {
        match outcome {
            Ok(Some(bytes)) => match ControlOutcome::decode(&bytes) {
                Ok(outcome) => {
                    if let Err(e) = link.on_outcome(&outcome, Instant::now()) {
                        tracing::warn!(node = %self.name, error = %e, "key plane: control outcome refused");
                    }
                }
                Err(e) => tracing::warn!(node = %self.name, error = %e, "key plane: undecodable control outcome"),
            },
            // No outcome (or no answer): the machine's retransmission timer decides.
            Ok(None) => tracing::warn!(node = %self.name, "key plane: control answered without an outcome"),
            Err(e) => tracing::debug!(node = %self.name, error = %e, "key plane: control not answered"),
        }
    }

    async fn enforce(&mut self, link: &mut RicLink, action: Enforcement) {
        let now = SystemTime::now();
        match action {
            Enforcement::Rekey { mode } | Enforcement::Degrade { mode } | Enforcement::Recover { mode }
                if link.state() != sm::LinkState::Isolated =>
            {
                self.policy_mode = lock(&self.kp.inner.monitor).policy_for(&self.name).mode;
                self.rekey(link, mode, now);
            }
            Enforcement::Isolate => {
                lock(&self.kp.inner.monitor).link_mut(&self.name).on_isolate_started();
                if let Err(e) = link.isolate(Instant::now()) {
                    tracing::warn!(node = %self.name, error = %e, "key plane: cannot isolate");
                }
            }
            other => tracing::debug!(node = %self.name, action = ?other, "key plane: enforcement not applicable"),
        }
    }

    fn rekey(&mut self, link: &mut RicLink, mode: Mode, now: SystemTime) {
        let e2sm_mode = mode_to_e2sm(mode);
        let qkd = if mode == Mode::AtLeastPqc && self.kp.inner.parts.kme.is_none() {
            None
        } else {
            self.buffer.as_ref().and_then(|b| b.take())
        };
        // A QKD key taken but refused by the mode check is dropped, never reused.
        if let Err(e) = link.check_start(e2sm_mode, qkd.is_some()) {
            tracing::warn!(node = %self.name, ?mode, error = %e, "key plane: cannot rekey now");
            lock(&self.kp.inner.monitor).link_mut(&self.name).on_rekey_failed(e.to_string(), now);
            return;
        }
        let spis = match lock(&self.kp.inner.spis).allocate_pair() {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(node = %self.name, error = %e, "key plane: no SPI left");
                return;
            }
        };
        match link.start_rekey(Instant::now(), e2sm_mode, qkd, spis) {
            Ok(epoch) => {
                self.started_mode = mode;
                tracing::debug!(node = %self.name, epoch, ?mode, "key plane: rekey started");
                lock(&self.kp.inner.monitor).link_mut(&self.name).on_rekey_started(now);
            }
            Err(e) => {
                let mut spi = lock(&self.kp.inner.spis);
                spi.release(spis.0);
                spi.release(spis.1);
                drop(spi);
                tracing::warn!(node = %self.name, error = %e, "key plane: rekey refused");
                lock(&self.kp.inner.monitor).link_mut(&self.name).on_rekey_failed(e.to_string(), now);
            }
        }
    }

    async fn poll_kme_status(&self, node_sae_id: &str) {
        let Some(kme) = &self.kp.inner.parts.kme else { return };
        let result = kme.status(node_sae_id).await;
        let now = SystemTime::now();
        let mut monitor = lock(&self.kp.inner.monitor);
        match result {
            Ok(status) => monitor.stock_mut(&self.name).on_status(status.stored_key_count, status.max_key_count, now),
            Err(e) => monitor.stock_mut(&self.name).on_status_error(e.to_string(), now),
        }
    }

    async fn poll_counters(&self) {
        let Some(spi) = self.current_inbound else { return };
        if let Ok(c) = self.kp.inner.parts.data_plane.sa_counters(self.dp_link, Direction::Inbound, spi).await {
            lock(&self.kp.inner.monitor)
                .link_mut(&self.name)
                .on_ric_counters(freshness::SaCounters { bytes: c.bytes, packets: c.packets });
        }
    }
}

/// The rekey machine's directions are the link's (RIC → node, node → RIC);
/// the data plane's are this host's (inbound, outbound). On the RIC,
/// node → RIC is inbound.
fn local_direction(d: SaDirection) -> Direction {
    match d {
        SaDirection::NodeToRic => Direction::Inbound,
        SaDirection::RicToNode => Direction::Outbound,
    }
}
