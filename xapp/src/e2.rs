//! Standalone mode's RIC role: E2 terminated by the xApp itself.
//!
//! In an OSC RIC the E2 termination (E2T) owns the SCTP associations and the
//! xApp sees E2AP through RMR; standalone, nobody does that for us, so the
//! xApp serves E2AP over kernel SCTP with [`RicServer`] (the sans-IO
//! [`qsafe_e2::ric::Ric`] behind a tokio driver). This module turns the
//! server's events into one [`LinkView`] per E2 node: connected or not, how
//! often it set up, its RAN functions, and — when [`E2Settings::kpm`] asks
//! for it — a KPM REPORT subscription whose indications are counted and
//! checked to decode. The key plane later attaches to these same links.
//!
//! Subscriptions are made from their own tasks: a node that is slow to
//! answer a RIC SUBSCRIPTION REQUEST never holds up the setup of others.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use qsafe_asn1::e2ap::build;
use qsafe_asn1::e2ap_asn as asn;
use qsafe_asn1::kpm::{self, KpmPayload};
use qsafe_asn1::kpm_asn;
use qsafe_e2::E2NodeId;
use qsafe_e2::driver::traffic::read_stamp;
use qsafe_e2::driver::{RicHandle, RicServer, RicServerOptions, RicServerStats};
use qsafe_e2::ric::{Event, FunctionAcceptance, RicConfig, SubscriptionRequest};
use qsafe_e2::transport::TransportError;
use qsafe_e2::transport::sctp::{SctpListener, SctpOptions};
use serde::Serialize;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::config::{E2Settings, KpmWatch};

/// Action id of the KPM REPORT action the xApp subscribes.
const KPM_ACTION_ID: u8 = 1;

/// Why the E2 role could not start.
#[derive(Debug, thiserror::Error)]
pub enum E2RoleError {
    /// The GlobalRIC-ID could not be built from the settings.
    #[error("invalid RIC identity: {0}")]
    Identity(String),
    /// The KPM subscription could not be encoded from the settings.
    #[error("invalid KPM subscription: {0}")]
    Kpm(String),
    /// The SCTP listener could not be opened.
    #[error("cannot serve E2 on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why (e.g. kernel SCTP not available, address in use).
        source: TransportError,
    },
}

/// What the xApp knows about one E2 node's link.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LinkView {
    /// The node (`gNB/001-01/0x1000:28`).
    pub node: String,
    /// Whether its association is up and set up.
    pub connected: bool,
    /// Successful E2 Setups (more than 1: it reconnected).
    pub setups: u32,
    /// Accepted RAN functions: id → OID.
    pub ran_functions: BTreeMap<u16, String>,
    /// The current KPM subscription (`requestor:instance`), if any.
    pub kpm_subscription: Option<String>,
    /// KPM subscriptions established so far (one per setup when all goes well).
    pub kpm_subscriptions: u32,
    /// Why the last KPM subscription attempt failed, if it did.
    pub kpm_error: Option<String>,
    /// KPM indications received (all subscriptions, all associations).
    pub indications: u64,
    /// Indications whose KPM header or message did not decode.
    pub undecodable: u64,
    /// Sequenced indications (qsafe-e2node's 64-bit sequence) missing
    /// between those received: lost on the way.
    pub seq_missing: u64,
    /// Sequenced indications that arrived after a later one: reordered.
    pub seq_reordered: u64,
    /// Wall-clock time of the last indication (seconds since the Unix epoch).
    pub last_indication_unix: Option<f64>,
    /// The highest sequence number received.
    pub last_seq: Option<u64>,
}

/// The E2 side at exit: every link and the driver's counters.
#[derive(Debug, Clone, Serialize)]
pub struct E2Summary {
    /// One entry per node ever set up, by node id.
    pub links: Vec<LinkView>,
    /// Nodes connected at exit.
    pub connected: usize,
    /// Indications over all links.
    pub indications: u64,
    /// Associations that came up.
    pub associations_up: u64,
    /// Associations that went down or were closed.
    pub associations_down: u64,
}

/// The link views, shared by the event loop and the KPM watchers, keyed by
/// node id as displayed (`gNB/001-01/0x1000:28`). Every update bumps a
/// generation counter that [`LinkTable::wait_until`] waits on.
#[derive(Debug, Clone)]
pub struct LinkTable {
    links: Arc<Mutex<BTreeMap<String, LinkView>>>,
    generation: Arc<watch::Sender<u64>>,
}

impl Default for LinkTable {
    fn default() -> Self {
        Self { links: Arc::default(), generation: Arc::new(watch::channel(0).0) }
    }
}

impl LinkTable {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, LinkView>> {
        // A panicking holder cannot leave a view inconsistent in a way that
        // matters (counters and flags): keep going with the data.
        self.links.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies `f` to the table and tells the waiters.
    fn update<R>(&self, f: impl FnOnce(&mut BTreeMap<String, LinkView>) -> R) -> R {
        let r = f(&mut self.lock());
        self.generation.send_modify(|g| *g += 1);
        r
    }

    /// Every link, by node id.
    pub fn snapshot(&self) -> Vec<LinkView> {
        self.lock().values().cloned().collect()
    }

    /// Waits until `pred` holds for the table (checked now and after every
    /// update); false if `timeout` passed first.
    pub async fn wait_until(&self, timeout: std::time::Duration, pred: impl Fn(&[LinkView]) -> bool) -> bool {
        let mut rx = self.generation.subscribe();
        let wait = async {
            loop {
                rx.borrow_and_update();
                if pred(&self.snapshot()) {
                    return true;
                }
                if rx.changed().await.is_err() {
                    return false;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.unwrap_or(false)
    }
}

/// The running E2 role.
#[derive(Debug)]
pub struct E2Role {
    server: RicServer,
    handle: RicHandle,
    events: broadcast::Receiver<Event>,
    links: LinkTable,
    kpm: Option<KpmSubscription>,
    accept: Option<JoinHandle<()>>,
    local_addr: Option<SocketAddr>,
    keyplane: Option<crate::keyplane::KeyPlane>,
}

/// The encoded KPM subscription made on every node.
#[derive(Debug, Clone)]
struct KpmSubscription {
    event_trigger: bytes::Bytes,
    action_definition: Vec<u8>,
}

impl KpmSubscription {
    fn new(watch: &KpmWatch) -> Result<Self, E2RoleError> {
        let names: Vec<&str> = watch.measurements.iter().map(String::as_str).collect();
        let err = |e: &dyn std::fmt::Display| E2RoleError::Kpm(e.to_string());
        let action_definition = kpm::action_definition_format1(&names, watch.period_ms)
            .map_err(|e| err(&e))?
            .encode_aper()
            .map_err(|e| err(&e))?;
        let event_trigger = kpm::periodic_trigger(watch.period_ms).encode_aper().map_err(|e| err(&e))?.into();
        Ok(Self { event_trigger, action_definition })
    }

    fn request(&self, ran_function_id: u16) -> SubscriptionRequest {
        SubscriptionRequest {
            ran_function_id,
            event_trigger: self.event_trigger.clone(),
            actions: vec![build::action(KPM_ACTION_ID, asn::RICactionType::report, Some(&self.action_definition))],
        }
    }
}

impl E2Role {
    /// Starts the RIC (no listener yet: see [`E2Role::serve_sctp`]; tests
    /// attach in-memory associations through [`E2Role::handle`]).
    pub fn new(settings: &E2Settings) -> Result<Self, E2RoleError> {
        let plmn = build::plmn(&settings.mcc, &settings.mnc).map_err(|e| E2RoleError::Identity(e.to_string()))?;
        let ric_id = build::ric_id(plmn, settings.ric_id).map_err(|e| E2RoleError::Identity(e.to_string()))?;
        let mut config = RicConfig::new(ric_id, settings.requestor_id);
        if !settings.accept_oids.is_empty() {
            config.function_acceptance = FunctionAcceptance::oids(settings.accept_oids.iter().cloned());
        }
        config.setup_wait = Some(settings.setup_wait);
        let kpm = settings.kpm.as_ref().map(KpmSubscription::new).transpose()?;
        let server = RicServer::spawn(config, RicServerOptions::default());
        let handle = server.handle();
        // Subscribe before anything can connect: no setup is missed.
        let events = handle.events();
        Ok(Self {
            server,
            handle,
            events,
            links: LinkTable::default(),
            kpm,
            accept: None,
            local_addr: None,
            keyplane: None,
        })
    }

    /// Serves E2 over kernel SCTP on `addr` (port 0: any free port).
    pub async fn serve_sctp(&mut self, addr: SocketAddr) -> Result<SocketAddr, E2RoleError> {
        let listener = SctpListener::bind(addr, SctpOptions::default())
            .await
            .map_err(|source| E2RoleError::Listen { addr, source })?;
        let local = listener.local_addr();
        self.accept = Some(self.handle.serve_sctp(listener));
        self.local_addr = Some(local);
        tracing::info!(addr = %local, "serving E2 over SCTP");
        Ok(local)
    }

    /// Keys every E2 node that offers E2SM-QKD with `keyplane` (one link
    /// task per node, started at each E2 Setup).
    pub fn set_key_plane(&mut self, keyplane: crate::keyplane::KeyPlane) {
        self.keyplane = Some(keyplane);
    }

    /// The RIC server's handle (subscribe, control, in-memory associations).
    pub fn handle(&self) -> &RicHandle {
        &self.handle
    }

    /// The link views (a shared handle: it stays live while [`E2Role::run`] runs).
    pub fn links(&self) -> LinkTable {
        self.links.clone()
    }

    /// Follows the RIC's events until `stop` turns true, then shuts the
    /// server down and returns the summary.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> E2Summary {
        loop {
            tokio::select! {
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        break;
                    }
                }
                ev = self.events.recv() => match ev {
                    Ok(ev) => self.on_event(ev).await,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "E2 event stream lagged; link views may be stale");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            }
        }
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
        let links = self.links.snapshot();
        let stats = self.server.shutdown().await;
        summary(links, stats)
    }

    async fn on_event(&mut self, ev: Event) {
        match ev {
            Event::NodeConnected { node, accepted, rejected, reconnected, .. } => {
                let registry = self.handle.registry().await.ok();
                let accepted_functions: Vec<_> = registry
                    .as_ref()
                    .and_then(|r| r.get(&node))
                    .map(|info| {
                        info.ran_functions
                            .iter()
                            .filter(|(id, _)| accepted.contains(id))
                            .map(|(_, f)| f.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                let functions: BTreeMap<u16, String> =
                    accepted_functions.iter().map(|f| (f.id, f.oid.clone())).collect();
                let keyed = accepted_functions.iter().find(|f| f.oid == qsafe_asn1::e2sm_qkd::RAN_FUNCTION_OID);
                if let (Some(kp), Some(f)) = (&self.keyplane, keyed) {
                    kp.attach(self.handle.clone(), node.clone(), f.id, f.definition.clone());
                }
                tracing::info!(%node, ?accepted, rejected = rejected.len(), reconnected, "E2 node set up");
                let kpm_function =
                    functions.iter().find(|(_, oid)| oid.as_str() == kpm::RAN_FUNCTION_OID).map(|(id, _)| *id);
                self.links.update(|links| {
                    let name = node.to_string();
                    let link =
                        links.entry(name.clone()).or_insert_with(|| LinkView { node: name, ..LinkView::default() });
                    link.connected = true;
                    link.setups += 1;
                    link.ran_functions = functions;
                    link.kpm_subscription = None;
                });
                if let (Some(kpm), Some(function)) = (&self.kpm, kpm_function) {
                    tokio::spawn(watch_kpm(self.handle.clone(), self.links.clone(), node, kpm.request(function)));
                }
            }
            Event::NodeDisconnected { node, subscriptions_lost, .. } => {
                tracing::info!(%node, subscriptions_lost = subscriptions_lost.len(), "E2 node disconnected");
                self.links.update(|links| {
                    if let Some(link) = links.get_mut(&node.to_string()) {
                        link.connected = false;
                        link.kpm_subscription = None;
                    }
                });
            }
            Event::E2SetupRejected { node, cause, .. } => tracing::warn!(%node, ?cause, "E2 Setup rejected"),
            Event::SetupWaitExpired { association } => {
                tracing::info!(?association, "no E2 Setup in time; association closed")
            }
            other => tracing::debug!(event = ?other, "E2 event"),
        }
    }
}

fn summary(links: Vec<LinkView>, stats: RicServerStats) -> E2Summary {
    E2Summary {
        connected: links.iter().filter(|l| l.connected).count(),
        indications: links.iter().map(|l| l.indications).sum(),
        links,
        associations_up: stats.associations_up,
        associations_down: stats.associations_down,
    }
}

/// Subscribes to `node`'s KPM function and counts its indications until the
/// subscription ends (deleted, node disconnected).
async fn watch_kpm(handle: RicHandle, links: LinkTable, node: E2NodeId, request: SubscriptionRequest) {
    let name = node.to_string();
    let mut sub = match handle.subscribe(&node, request).await {
        Ok(sub) => sub,
        Err(e) => {
            tracing::warn!(%node, error = %e, "KPM subscription failed");
            links.update(|l| l.get_mut(&name).map(|link| link.kpm_error = Some(e.to_string())));
            return;
        }
    };
    tracing::info!(%node, subscription = %sub.id, admitted = ?sub.admitted, "KPM subscription established");
    links.update(|l| {
        if let Some(link) = l.get_mut(&name) {
            link.kpm_subscription = Some(sub.id.to_string());
            link.kpm_subscriptions += 1;
            link.kpm_error = None;
        }
    });
    let mut batch = Vec::with_capacity(256);
    let mut last_seq = links.lock().get(&name).and_then(|l| l.last_seq);
    while sub.recv_many(&mut batch, 256).await > 0 {
        let (mut bad, mut missing, mut reordered) = (0u64, 0u64, 0u64);
        for i in &batch {
            if kpm_asn::E2SMKPMIndicationHeader::decode_aper(&i.header).is_err()
                || kpm_asn::E2SMKPMIndicationMessage::decode_aper(&i.message).is_err()
            {
                bad += 1;
                continue;
            }
            // Sequenced indications (the simulator's) also prove order and completeness.
            if let Ok(stamp) = read_stamp(&i.header, &i.message) {
                match last_seq {
                    Some(last) if stamp.seq <= last => reordered += 1,
                    Some(last) => missing += stamp.seq - last - 1,
                    None => missing += stamp.seq,
                }
                last_seq = Some(last_seq.map_or(stamp.seq, |l| l.max(stamp.seq)));
            }
        }
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).ok();
        links.update(|l| {
            if let Some(link) = l.get_mut(&name) {
                link.indications += batch.len() as u64;
                link.undecodable += bad;
                link.seq_missing += missing;
                link.seq_reordered += reordered;
                link.last_seq = last_seq;
                link.last_indication_unix = now;
            }
        });
        batch.clear();
    }
    tracing::debug!(%node, subscription = %sub.id, "KPM subscription ended");
}
