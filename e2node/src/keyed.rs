//! `--keyed`: the E2 node side of the QKD-keyed E2 link (E2SM-QKD, RAN function id
//! [`QKD_RAN_FUNCTION_ID`]).
//!
//! Per emulated node one [`NodeKeyPlane`] drives a [`qsafe_rekey::NodeLink`] (the sans-IO node
//! side of the rekey protocol, see `docs/rekey-protocol.md`):
//!
//! * **E2 Setup** offers E2SM-QKD ([`qsafe_asn1::e2sm_qkd::RAN_FUNCTION_OID`], revision 1) with
//!   the definition from [`NodeLink::ran_function_definition`] (SAE ID, KME ID, modes, ML-DSA
//!   chain, first signed ML-KEM key).
//! * **RIC SUBSCRIPTION** for function 3 is admitted when the event trigger decodes
//!   ([`EventTrigger`]) and for every REPORT action whose [`ActionDefinition`] decodes (absent:
//!   `include_next_kem_key = false`). The node then sends E2SM-QKD REPORTs (header
//!   [`IndicationHeader`], message [`NodeLink::report`]) at once, every reporting period, and (with
//!   `on_change`) on every epoch, mode or link-state change.
//! * **RIC CONTROL** for function 3 ([`decode_control`]): undecodable → RIC CONTROL FAILURE
//!   `ricRequest/control-message-invalid` without an outcome (NodeLink signs outcomes only for
//!   decoded commands); otherwise [`NodeLink::on_control`], and the signed outcome goes back in
//!   RIC CONTROL ACKNOWLEDGE (success) or RIC CONTROL FAILURE (failure, E2AP cause per
//!   `docs/e2sm-qkd.md`, see [`e2ap_cause`]). The RIC must request an acknowledge
//!   (`ricControlAckRequest = ack`), or the success outcome has no PDU to travel in.
//!   While the QKD key is fetched (`dec_keys` in a spawned task), the request ids that wait for
//!   the outcome (the REKEY and any retransmission of it) are kept and all get the outcome.
//! * **Data plane**: the [`DataPlaneOp`]s are executed in order on a [`DataPlane`] (the
//!   `qsafe-xfrm-broker` through [`qsafe_xfrm::BrokerClient`], or [`MemoryDataPlane`]); the
//!   link is (association's local address, RIC address, reqid `0x1000 + i`). Every tick the
//!   kernel counters of every installed inbound SA feed [`NodeLink::on_sa_usage`] (the evidence
//!   that the RIC switched; older SAs too, since the RIC's first packet under an epoch may come
//!   after the node applied the next one); with the memory data plane (no real traffic) that evidence is assumed at
//!   the first tick after the ack (`assume_ric_switched`).
//! * **KPM gate**: [`NodeKeyPlane::protected`] is a watch of
//!   [`NodeLink::may_send_application_traffic`]; the KPM emitters wait on it (indications are
//!   held, not dropped).
//! * **Association loss**: [`NodeLink::on_association_lost`] deletes the association's SAs,
//!   releases its ESP policy (the selectors name its ports) and returns to bootstrap; KPM is held
//!   until the next association is protected. After a verified ISOLATE the node ends the
//!   association itself (it can carry nothing) and sets up again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use qsafe_asn1::e2ap_asn as asn;
use qsafe_asn1::e2sm_qkd::{
    ActionDefinition, ControlFailureCause, ControlOutcome, ControlResult, E2smQkdPayload, EventTrigger,
    IndicationHeader, KeySourceMode, LinkState, RAN_FUNCTION_OID, ReportReason, decode_control,
};
use qsafe_e2::RequestId;
use qsafe_e2::common::{NotAdmittedAction, RanFunction};
use qsafe_e2::driver::NodeHandle;
use qsafe_e2::driver::traffic::ntp_timestamp;
use qsafe_e2::transport::Peer;
use qsafe_pqc::kem::{AwsLcKem, Kem};
use qsafe_pqc::pki::{CertifiedKey, parse_pem_certificates};
use qsafe_pqc::tls::{AuthPolicy, KeyExchangePolicy};
use qsafe_qkd::api::KeyIds;
use qsafe_qkd::client::{ClientConfig, Etsi014Client};
use qsafe_rekey::{
    DataPlaneOp, LocalIdentity, NodeAction, NodeLink, NodeLinkConfig, QkdFetchError, SaCounters, SaSpec, TrustAnchors,
};
use qsafe_xfrm::{DataPlane, DataPlaneError, Direction, Lifetime, Link, SaRequest};
use tokio::sync::{mpsc, watch};

use crate::config::KeyedSettings;

/// RAN function id of E2SM-QKD on every keyed node.
pub const QKD_RAN_FUNCTION_ID: u16 = 3;
/// RAN function revision of E2SM-QKD v01.00.
pub const QKD_RAN_FUNCTION_REVISION: u16 = 1;
/// reqid of node `i`'s link is this plus `i`.
pub const REQID_BASE: u32 = 0x1000;
/// How often the node KME's stock is polled (`status`), once the RIC's SAE ID is known.
pub const KME_STATUS_EVERY: Duration = Duration::from_secs(3);
/// Longest interval between two ticks (counters, timers).
pub const MAX_TICK: Duration = Duration::from_millis(500);

/// A keyed-mode file could not be used (exit status 2; the message names the file).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct KeyedError(pub String);

/// One node's identity and KME client.
pub struct NodeMaterial {
    /// Its SAE ID.
    pub sae_id: String,
    /// Its ML-DSA identity (signs KEM keys and outcomes).
    pub identity: Arc<LocalIdentity>,
    /// Its KME client (`None`: PQC-only).
    pub kme: Option<Arc<Etsi014Client>>,
}

impl std::fmt::Debug for NodeMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeMaterial").field("sae_id", &self.sae_id).field("kme", &self.kme.is_some()).finish()
    }
}

/// Everything `--keyed` needs, loaded and checked.
pub struct KeyedMaterial {
    /// The settings it came from.
    pub settings: KeyedSettings,
    /// Roots for the RIC's chain.
    pub anchors: Arc<TrustAnchors>,
    /// Per node, in node order.
    pub nodes: Vec<NodeMaterial>,
}

impl std::fmt::Debug for KeyedMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedMaterial").field("settings", &self.settings).field("nodes", &self.nodes.len()).finish()
    }
}

fn read(path: &Path) -> Result<String, KeyedError> {
    std::fs::read_to_string(path).map_err(|e| KeyedError(format!("cannot read {}: {e}", path.display())))
}

impl KeyedMaterial {
    /// Reads the trust anchors, each node's certificate and key, and builds the KME clients.
    pub fn load(settings: &KeyedSettings, nodes: u32) -> Result<Self, KeyedError> {
        let anchors_path = &settings.trust_anchors;
        let anchors = TrustAnchors::from_pem(&read(anchors_path)?)
            .map_err(|e| KeyedError(format!("trust anchors {}: {e}", anchors_path.display())))?;
        let kme_roots = match &settings.kme {
            Some(_) => {
                let ca = settings.pki_dir.join("ca.pem");
                parse_pem_certificates(&read(&ca)?).map_err(|e| KeyedError(format!("{}: {e}", ca.display())))?
            }
            None => Vec::new(),
        };
        let mut out = Vec::with_capacity(nodes as usize);
        for i in 0..nodes {
            let sae_id = settings.sae_id(i);
            let stem = qsafe_pqc::pki::sae_file_stem(&sae_id);
            let cert_path = settings.pki_dir.join(format!("{stem}.pem"));
            let key_path = settings.pki_dir.join(format!("{stem}.key"));
            let key = CertifiedKey::from_pem(&read(&cert_path)?, &read(&key_path)?)
                .map_err(|e| KeyedError(format!("{} / {}: {e}", cert_path.display(), key_path.display())))?;
            let identity = LocalIdentity::from_certified_key(&key).map_err(|e| {
                KeyedError(format!("{}: not usable as an ML-DSA rekey identity: {e}", cert_path.display()))
            })?;
            let kme = match &settings.kme {
                Some(url) => {
                    let tls = qsafe_pqc::tls::client_config(
                        &kme_roots,
                        Some(&key),
                        KeyExchangePolicy::HybridPreferred,
                        AuthPolicy::MlDsaOnly,
                    )
                    .map_err(|e| KeyedError(format!("{}: KME TLS client: {e}", cert_path.display())))?;
                    let client = Etsi014Client::new(ClientConfig::new(url.clone(), tls, settings.kme_id.clone()))
                        .map_err(|e| KeyedError(format!("invalid --kme {url:?}: {e}")))?;
                    Some(Arc::new(client))
                }
                None => None,
            };
            out.push(NodeMaterial { sae_id, identity: Arc::new(identity), kme });
        }
        Ok(KeyedMaterial { settings: settings.clone(), anchors: Arc::new(anchors), nodes: out })
    }
}

/// Shared by all nodes of a run.
pub struct Keyed<D> {
    /// Identities, anchors, KME clients.
    pub material: Arc<KeyedMaterial>,
    /// Where SAs go.
    pub data_plane: Arc<D>,
    /// Assume the RIC switched at the first tick after an ack (no real traffic to count).
    pub assume_ric_switched: bool,
}

impl<D> std::fmt::Debug for Keyed<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyed")
            .field("material", &self.material)
            .field("assume_ric_switched", &self.assume_ric_switched)
            .finish_non_exhaustive()
    }
}

impl<D> Clone for Keyed<D> {
    fn clone(&self) -> Self {
        Keyed {
            material: self.material.clone(),
            data_plane: self.data_plane.clone(),
            assume_ric_switched: self.assume_ric_switched,
        }
    }
}

/// The E2AP cause of a RIC CONTROL FAILURE carrying an outcome with `cause` (docs/e2sm-qkd.md).
pub fn e2ap_cause(cause: ControlFailureCause) -> asn::Cause {
    use ControlFailureCause as C;
    match cause {
        C::KemFailure | C::QkdKeyNotFound | C::KmeUnavailable | C::SaInstallFailed => {
            asn::Cause::ricRequest(asn::CauseRICrequest::control_failed_to_execute)
        }
        C::Busy => asn::Cause::misc(asn::CauseMisc::control_processing_overload),
        _ => asn::Cause::ricRequest(asn::CauseRICrequest::control_message_invalid),
    }
}

/// The ASN.1 name of a failure cause (for logs and the summary).
pub fn cause_name(cause: ControlFailureCause) -> &'static str {
    use ControlFailureCause as C;
    match cause {
        C::Malformed => "malformed",
        C::BadSignature => "bad-signature",
        C::UntrustedCertificate => "untrusted-certificate",
        C::WrongSaeId => "wrong-sae-id",
        C::ReplayedEpoch => "replayed-epoch",
        C::UnknownKemKey => "unknown-kem-key",
        C::KemFailure => "kem-failure",
        C::QkdKeyNotFound => "qkd-key-not-found",
        C::KmeUnavailable => "kme-unavailable",
        C::ModeNotSupported => "mode-not-supported",
        C::ModeViolation => "mode-violation",
        C::SpiInUse => "spi-in-use",
        C::SaInstallFailed => "sa-install-failed",
        C::Busy => "busy",
    }
}

/// What one node's key plane did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyedStats {
    /// Epoch of the SAs in use at the end (0: never rekeyed).
    pub epoch: u32,
    /// Rekeys applied (new SA pairs installed).
    pub rekeys_applied: u64,
    /// Refusals sent, by cause (`undecodable` for controls that did not decode).
    pub refusals: BTreeMap<String, u64>,
    /// E2SM-QKD reports sent.
    pub reports: u64,
    /// Old SAs deleted by the hard cap (no evidence the RIC switched).
    pub hard_caps: u64,
    /// Bootstrap epochs given up because the RIC never switched to them.
    pub bootstrap_unconfirmed: u64,
    /// Data-plane operations that failed.
    pub data_plane_errors: u64,
}

/// Results of the node's background tasks.
#[derive(Debug)]
pub enum KeyedMsg {
    /// A `dec_keys` finished.
    Fetched {
        /// Which fetch (stale ones are ignored).
        generation: u64,
        /// The key or why not.
        result: Result<qsafe_qkd::api::Key, QkdFetchError>,
    },
    /// The KME's stored key count (`None`: status failed).
    Stock(Option<u32>),
}

#[derive(Debug, Clone)]
struct QkdSub {
    period: Option<Duration>,
    on_change: bool,
    /// (action id, include_next_kem_key)
    actions: Vec<(u8, bool)>,
    next_due: Option<Instant>,
}

/// One node's keyed E2 link: see the module docs.
pub struct NodeKeyPlane<D: DataPlane + 'static> {
    name: String,
    link: NodeLink,
    definition: Bytes,
    dp: Arc<D>,
    kme: Option<Arc<Etsi014Client>>,
    /// Fault injection: delay of the first QKD fetch on an association.
    slow_bootstrap: Duration,
    /// Whether this association's first QKD fetch happened (the fault applies once).
    slow_bootstrap_done: bool,
    assume_ric_switched: bool,
    reqid: u32,
    ric_fallback: IpAddr,
    xlink: Option<Link>,
    tx: mpsc::UnboundedSender<KeyedMsg>,
    generation: u64,
    current: Option<RequestId>,
    fetch_requests: Vec<RequestId>,
    ric_sae: Option<String>,
    kme_stock: Option<u32>,
    status_inflight: bool,
    last_status: Option<Instant>,
    /// epoch → (inbound SPI, outbound SPI) installed.
    sas: BTreeMap<u32, (Option<u32>, Option<u32>)>,
    evidence_epoch: u32,
    subs: HashMap<RequestId, QkdSub>,
    pending_subs: HashMap<RequestId, QkdSub>,
    suppressed: HashSet<u32>,
    protected: watch::Sender<bool>,
    last: (u32, KeySourceMode, LinkState),
    next_tick: Instant,
    stats: KeyedStats,
    /// Kernel lifetime of every SA (the byte-limit backstop).
    sa_lifetime: Lifetime,
}

impl<D: DataPlane + 'static> std::fmt::Debug for NodeKeyPlane<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKeyPlane").field("name", &self.name).field("link", &self.link).finish_non_exhaustive()
    }
}

impl<D: DataPlane + 'static> NodeKeyPlane<D> {
    /// Node `index`'s key plane; `ric` is the RIC's configured address (the link's peer when the
    /// transport has no IP address, e.g. in-memory). Returns the receiver of its background
    /// results, to be fed to [`Self::on_msg`].
    pub fn new(index: u32, keyed: &Keyed<D>, ric: IpAddr) -> Result<(Self, mpsc::UnboundedReceiver<KeyedMsg>), String> {
        let m = &keyed.material;
        let node = m.nodes.get(index as usize).ok_or_else(|| format!("no keyed material for node {index}"))?;
        let s = &m.settings;
        let mut cfg = NodeLinkConfig::new(node.sae_id.clone(), s.kme_id.clone());
        cfg.supported_modes = s.modes.clone();
        cfg.initial_mode = s.mode;
        cfg.kem_algorithm = s.kem;
        cfg.grace = s.grace;
        cfg.hard_cap = (s.grace * 10).max(Duration::from_secs(1));
        cfg.bootstrap_confirm = s.bootstrap_confirm;
        let kem: Arc<dyn Kem> =
            Arc::new(AwsLcKem::new(qsafe_rekey_kem(s.kem)).map_err(|e| format!("ML-KEM backend: {e}"))?);
        let mut link = NodeLink::new(cfg, node.identity.clone(), m.anchors.clone(), kem)
            .map_err(|e| format!("node {}: {e}", node.sae_id))?;
        let definition = link
            .ran_function_definition()
            .map_err(|e| e.to_string())?
            .encode()
            .map_err(|e| format!("E2SM-QKD RAN function definition: {e}"))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (protected, _) = watch::channel(false);
        let last = (link.current_epoch(), link.mode(), link.state());
        Ok((
            NodeKeyPlane {
                name: node.sae_id.clone(),
                link,
                definition: Bytes::from(definition),
                dp: keyed.data_plane.clone(),
                kme: node.kme.clone(),
                slow_bootstrap: s.fault_slow_bootstrap,
                slow_bootstrap_done: false,
                assume_ric_switched: keyed.assume_ric_switched,
                reqid: REQID_BASE + index,
                ric_fallback: ric,
                xlink: None,
                tx,
                generation: 0,
                current: None,
                fetch_requests: Vec::new(),
                ric_sae: None,
                kme_stock: None,
                status_inflight: false,
                last_status: None,
                sas: BTreeMap::new(),
                evidence_epoch: 0,
                subs: HashMap::new(),
                pending_subs: HashMap::new(),
                suppressed: HashSet::new(),
                protected,
                last,
                next_tick: Instant::now() + MAX_TICK,
                sa_lifetime: Lifetime::byte_backstop(s.sa_max_bytes),
                stats: KeyedStats::default(),
            },
            rx,
        ))
    }

    /// The E2SM-QKD RAN function for E2 Setup.
    pub fn ran_function(&self) -> RanFunction {
        RanFunction::new(QKD_RAN_FUNCTION_ID, QKD_RAN_FUNCTION_REVISION, RAN_FUNCTION_OID, self.definition.clone())
    }

    /// The node's SAE ID.
    pub fn sae_id(&self) -> &str {
        &self.name
    }

    /// Whether application traffic may flow (watch; the KPM emitters wait on it).
    pub fn protected(&self) -> watch::Receiver<bool> {
        self.protected.subscribe()
    }

    /// The rekey state machine (read-only).
    pub fn link(&self) -> &NodeLink {
        &self.link
    }

    /// The data-plane link, once the association came up.
    pub fn xfrm_link(&self) -> Option<Link> {
        self.xlink
    }

    /// Counters so far.
    pub fn stats(&self) -> KeyedStats {
        let mut s = self.stats.clone();
        s.epoch = self.link.current_epoch();
        s
    }

    /// When [`Self::on_wake`] must run next.
    pub fn next_wake(&self) -> Instant {
        match self.link.poll_timeout() {
            Some(t) => t.min(self.next_tick),
            None => self.next_tick,
        }
    }

    fn tick_period(&self) -> Duration {
        self.subs.values().filter_map(|s| s.period).min().unwrap_or(MAX_TICK).clamp(Duration::from_millis(10), MAX_TICK)
    }

    /// The association is up: the link's addresses.
    pub fn on_connected(&mut self, peer: &Peer, local: Option<SocketAddr>) {
        let link = match (peer, local) {
            (Peer::Sctp(p), Some(l)) => Link::association(l, *p, self.reqid),
            (Peer::Sctp(p), None) => Link::host(placeholder_local(p.ip()), p.ip(), self.reqid),
            // In-memory associations have no addresses: stand-ins for the memory data plane.
            (Peer::Memory(_), _) => Link::host(placeholder_local(self.ric_fallback), self.ric_fallback, self.reqid),
        };
        if let Some(old) = self.xlink
            && old != link
            && !self.sas.is_empty()
        {
            tracing::warn!(node = %self.name, %old, new = %link, "association endpoints changed; SAs stay on the old link");
        }
        self.xlink = Some(link);
        tracing::debug!(node = %self.name, %link, "keyed link");
    }

    /// A RIC SUBSCRIPTION REQUEST for function 3: the admitted and not admitted actions, or the
    /// cause of a RIC SUBSCRIPTION FAILURE.
    pub fn decide_subscription(
        &mut self,
        request: RequestId,
        event_trigger: &[u8],
        actions: &[asn::RICactionToBeSetupItem],
    ) -> Result<(Vec<u8>, Vec<NotAdmittedAction>), asn::Cause> {
        let trigger = EventTrigger::decode(event_trigger)
            .map_err(|_| asn::Cause::ricRequest(asn::CauseRICrequest::eventTriggerNotSupported))?;
        let mut admitted = Vec::new();
        let mut ok = Vec::new();
        let mut not_admitted = Vec::new();
        for a in actions {
            let id = a.ric_action_id.0;
            let def = match &a.ric_action_definition {
                None => Some(false),
                Some(d) => ActionDefinition::decode(&d.0).ok().map(|d| d.include_next_kem_key),
            };
            match (a.ric_action_type, def) {
                (asn::RICactionType::report, Some(include)) => {
                    admitted.push(id);
                    ok.push((id, include));
                }
                _ => not_admitted.push(NotAdmittedAction {
                    action_id: id,
                    cause: asn::Cause::ricRequest(asn::CauseRICrequest::action_not_supported),
                }),
            }
        }
        if admitted.is_empty() {
            return Err(asn::Cause::ricRequest(asn::CauseRICrequest::action_not_supported));
        }
        let period = trigger.reporting_period_ms.map(|ms| Duration::from_millis(u64::from(ms.max(1))));
        self.pending_subs.insert(request, QkdSub { period, on_change: trigger.on_change, actions: ok, next_due: None });
        Ok((admitted, not_admitted))
    }

    /// The subscription is active: a first report at once, then per its trigger.
    pub async fn on_subscription_added(&mut self, handle: &NodeHandle, request: RequestId) {
        let Some(mut sub) = self.pending_subs.remove(&request) else { return };
        let now = Instant::now();
        sub.next_due = sub.period.map(|p| now + p);
        let actions = sub.actions.clone();
        self.subs.insert(request, sub);
        self.next_tick = self.next_tick.min(now + self.tick_period());
        let counters = self.read_counters().await;
        for (action, include) in actions {
            self.report(handle, request, action, include, ReportReason::Periodic, counters).await;
        }
    }

    /// The RIC deleted a subscription.
    pub fn on_subscription_deleted(&mut self, request: &RequestId) {
        self.subs.remove(request);
        self.pending_subs.remove(request);
    }

    /// RIC Reset or association loss: every subscription is gone.
    pub fn clear_subscriptions(&mut self) {
        self.subs.clear();
        self.pending_subs.clear();
    }

    /// A RIC CONTROL REQUEST for function 3.
    pub async fn on_control(
        &mut self,
        handle: &NodeHandle,
        request: RequestId,
        header: &[u8],
        message: &[u8],
        ack_requested: bool,
    ) {
        if !ack_requested {
            tracing::warn!(node = %self.name, %request, "E2SM-QKD control without an ack request: a success outcome cannot be returned");
        }
        let (h, m) = match decode_control(header, message) {
            Ok(hm) => hm,
            Err(e) => {
                tracing::info!(node = %self.name, %request, error = %e, "undecodable E2SM-QKD control");
                *self.stats.refusals.entry("undecodable".into()).or_default() += 1;
                let cause = asn::Cause::ricRequest(asn::CauseRICrequest::control_message_invalid);
                if let Err(e) = handle.fail_control(request, cause, None).await {
                    tracing::warn!(node = %self.name, %request, error = %e, "cannot answer control");
                }
                return;
            }
        };
        self.current = Some(request);
        if let Err(e) = self.link.on_control(&h, &m, SystemTime::now(), Instant::now()) {
            tracing::error!(node = %self.name, %request, error = %e, "cannot process the control");
            self.current = None;
            let cause = asn::Cause::ricRequest(asn::CauseRICrequest::control_failed_to_execute);
            let _ = handle.fail_control(request, cause, None).await;
            return;
        }
        self.drive(handle).await;
        if let Some(r) = self.current.take() {
            // A QKD fetch is in flight (this REKEY or one it retransmits): answered with its outcome.
            self.fetch_requests.push(r);
        }
    }

    /// A background result.
    pub async fn on_msg(&mut self, handle: &NodeHandle, msg: KeyedMsg) {
        match msg {
            KeyedMsg::Fetched { generation, result } => {
                if generation != self.generation {
                    tracing::debug!(node = %self.name, "stale QKD fetch result ignored");
                    return;
                }
                if let Err(e) = self.link.on_qkd_key(result, Instant::now()) {
                    tracing::debug!(node = %self.name, error = %e, "QKD key result not used");
                }
                self.drive(handle).await;
            }
            KeyedMsg::Stock(n) => {
                self.status_inflight = false;
                self.kme_stock = n;
            }
        }
    }

    /// Timers, counters, periodic reports, KME status polls.
    pub async fn on_wake(&mut self, handle: &NodeHandle) {
        let now = Instant::now();
        if now >= self.next_tick {
            self.next_tick = now + self.tick_period();
            let counters = self.read_counters().await;
            let epoch = self.link.current_epoch();
            if epoch != 0 {
                if self.assume_ric_switched {
                    if self.evidence_epoch < epoch {
                        self.link.on_sa_usage(epoch, 1, now);
                        self.evidence_epoch = epoch;
                    }
                } else {
                    self.link.on_sa_usage(epoch, counters.inbound_packets, now);
                    // Older SAs too: a packet under any of them is evidence that the RIC
                    // switched to it (its first packets may come after the node moved on to a
                    // newer epoch, which the current SA's counters would never show).
                    for (e, packets) in self.older_inbound_packets(epoch).await {
                        self.link.on_sa_usage(e, packets, now);
                    }
                }
            }
            self.link.handle_timeout(now);
            self.drive(handle).await;
            let due: Vec<(RequestId, Vec<(u8, bool)>)> = self
                .subs
                .iter_mut()
                .filter_map(|(r, s)| {
                    let (p, d) = (s.period?, s.next_due?);
                    if d > now {
                        return None;
                    }
                    let next = d + p;
                    s.next_due = Some(if next <= now { now + p } else { next });
                    Some((*r, s.actions.clone()))
                })
                .collect();
            if !due.is_empty() {
                let counters = self.read_counters().await;
                for (request, actions) in due {
                    for (action, include) in actions {
                        self.report(handle, request, action, include, ReportReason::Periodic, counters).await;
                    }
                }
            }
            self.poll_status(now);
        } else {
            self.link.handle_timeout(now);
            self.drive(handle).await;
        }
    }

    /// The association is gone.
    pub async fn on_association_lost(&mut self, handle: &NodeHandle) {
        self.link.on_association_lost();
        self.slow_bootstrap_done = false;
        self.generation += 1;
        self.fetch_requests.clear();
        self.current = None;
        self.clear_subscriptions();
        self.drive(handle).await;
    }

    fn poll_status(&mut self, now: Instant) {
        let (Some(kme), Some(master)) = (&self.kme, &self.ric_sae) else { return };
        if self.status_inflight || self.last_status.is_some_and(|t| now.duration_since(t) < KME_STATUS_EVERY) {
            return;
        }
        self.status_inflight = true;
        self.last_status = Some(now);
        let (kme, master, tx) = (kme.clone(), master.clone(), self.tx.clone());
        tokio::spawn(async move {
            let n = kme.status(&master).await.ok().map(|s| u32::try_from(s.stored_key_count).unwrap_or(u32::MAX));
            let _ = tx.send(KeyedMsg::Stock(n));
        });
    }

    /// Inbound packet counts of the installed SAs older than `current`.
    async fn older_inbound_packets(&self, current: u32) -> Vec<(u32, u64)> {
        let Some(link) = self.xlink else { return Vec::new() };
        let mut out = Vec::new();
        for (&epoch, &(spi_in, _)) in self.sas.iter().filter(|(e, _)| **e != current) {
            if let Some(spi) = spi_in
                && let Ok(k) = self.dp.sa_counters(link, Direction::Inbound, spi).await
            {
                out.push((epoch, k.packets));
            }
        }
        out
    }

    async fn read_counters(&self) -> SaCounters {
        let mut c = SaCounters::default();
        let Some(link) = self.xlink else { return c };
        let Some((spi_in, spi_out)) = self.sas.get(&self.link.current_epoch()).copied() else { return c };
        if let Some(spi) = spi_in
            && let Ok(k) = self.dp.sa_counters(link, Direction::Inbound, spi).await
        {
            c.inbound_bytes = k.bytes;
            c.inbound_packets = k.packets;
        }
        if let Some(spi) = spi_out
            && let Ok(k) = self.dp.sa_counters(link, Direction::Outbound, spi).await
        {
            c.outbound_bytes = k.bytes;
            c.outbound_packets = k.packets;
        }
        c
    }

    async fn report(
        &mut self,
        handle: &NodeHandle,
        request: RequestId,
        action: u8,
        include_next_kem_key: bool,
        reason: ReportReason,
        counters: SaCounters,
    ) {
        let message = match self.link.report(Instant::now(), counters, self.kme_stock, include_next_kem_key) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(node = %self.name, error = %e, "cannot build a report");
                return;
            }
        };
        let header = IndicationHeader { timestamp: ntp_timestamp(SystemTime::now()), reason };
        let (header, message) = match (header.encode(), message.encode()) {
            (Ok(h), Ok(m)) => (h, m),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(node = %self.name, error = %e, "cannot encode a report");
                return;
            }
        };
        if handle.send_indication(request, action, Bytes::from(header), Bytes::from(message)).await.is_ok() {
            self.stats.reports += 1;
        }
    }

    /// Executes the link's actions in order.
    async fn drive(&mut self, handle: &NodeHandle) {
        // (the machine changes state when it takes an input; `last` is what the driver saw)
        let was_isolated = self.last.2 == LinkState::Isolated;
        let mut answered = false;
        while let Some(a) = self.link.poll_action() {
            match a {
                NodeAction::DataPlane(op) => {
                    if answered && matches!(op, DataPlaneOp::DeleteAll) {
                        // ISOLATE: let the ack leave under the current SA first.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    self.execute(op).await;
                }
                NodeAction::FetchQkdKey { key_id, master_sae_id } => self.fetch(key_id, master_sae_id),
                NodeAction::SendOutcome { outcome, success } => {
                    self.send_outcome(handle, outcome, success).await;
                    answered = true;
                }
                NodeAction::HardCapExpired { epoch } => {
                    tracing::warn!(node = %self.name, epoch, "old SAs deleted by the hard cap: no evidence the RIC switched");
                    self.stats.hard_caps += 1;
                }
                NodeAction::BootstrapUnconfirmed { epoch } => {
                    tracing::warn!(node = %self.name, epoch, "the RIC never switched to the bootstrap epoch: back to bootstrap");
                    self.stats.bootstrap_unconfirmed += 1;
                }
                NodeAction::StateChanged(s) => tracing::info!(node = %self.name, state = ?s, "link state"),
            }
        }
        if !was_isolated && self.link.state() == LinkState::Isolated {
            // A verified ISOLATE was applied (ack sent, SAs gone, ESP still required): the
            // association can carry nothing, and SCTP would take minutes to notice. End it; the
            // association loss releases its policy and the node sets up again (the RIC refuses
            // the setup with a TimeToWait while it keeps the node isolated).
            tracing::warn!(node = %self.name, "isolated by the RIC: ending the association");
            let _ = handle.drop_association().await;
        }
        let may = self.link.may_send_application_traffic();
        self.protected.send_if_modified(|p| {
            let changed = *p != may;
            *p = may;
            changed
        });
        let now = (self.link.current_epoch(), self.link.mode(), self.link.state());
        let reason = if now.0 != self.last.0 {
            Some(ReportReason::EpochChange)
        } else if now.1 != self.last.1 {
            Some(ReportReason::ModeChange)
        } else if now.2 != self.last.2 {
            Some(ReportReason::StateChange)
        } else {
            None
        };
        self.last = now;
        if let Some(reason) = reason {
            let targets: Vec<(RequestId, Vec<(u8, bool)>)> =
                self.subs.iter().filter(|(_, s)| s.on_change).map(|(r, s)| (*r, s.actions.clone())).collect();
            if !targets.is_empty() {
                let counters = self.read_counters().await;
                for (request, actions) in targets {
                    for (action, include) in actions {
                        self.report(handle, request, action, include, reason, counters).await;
                    }
                }
            }
        }
    }

    fn fetch(&mut self, key_id: qsafe_qkd::api::KeyId, master: String) {
        self.ric_sae = Some(master.clone());
        self.generation += 1;
        let generation = self.generation;
        let tx = self.tx.clone();
        let delay = if self.slow_bootstrap_done { Duration::ZERO } else { self.slow_bootstrap };
        self.slow_bootstrap_done = true;
        if !delay.is_zero() {
            tracing::warn!(node = %self.name, ?delay, "fault injection: the bootstrap REKEY's dec_keys is delayed");
        }
        match &self.kme {
            None => {
                let _ = tx.send(KeyedMsg::Fetched { generation, result: Err(QkdFetchError::Unavailable) });
            }
            Some(kme) => {
                let kme = kme.clone();
                let name = self.name.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let result = match kme.dec_keys(&master, &KeyIds::new([key_id])).await {
                        Ok(c) => c.keys.into_iter().find(|k| k.key_id == key_id).ok_or(QkdFetchError::NotFound),
                        Err(e) if e.is_keys_not_found() => Err(QkdFetchError::NotFound),
                        Err(e) => {
                            tracing::warn!(node = %name, error = %e, "dec_keys failed");
                            Err(QkdFetchError::Unavailable)
                        }
                    };
                    let _ = tx.send(KeyedMsg::Fetched { generation, result });
                });
            }
        }
    }

    async fn send_outcome(&mut self, handle: &NodeHandle, outcome: ControlOutcome, success: bool) {
        let targets = match self.current.take() {
            Some(r) => vec![r],
            None => std::mem::take(&mut self.fetch_requests),
        };
        if let ControlResult::Failure(c) = outcome.result {
            *self.stats.refusals.entry(cause_name(c).into()).or_default() += 1;
            tracing::info!(node = %self.name, epoch = outcome.epoch, command = ?outcome.command, cause = cause_name(c), "control refused");
        }
        if targets.is_empty() {
            tracing::debug!(node = %self.name, epoch = outcome.epoch, "outcome with no control request to answer");
            return;
        }
        let bytes = match outcome.encode() {
            Ok(b) => Bytes::from(b),
            Err(e) => {
                tracing::error!(node = %self.name, error = %e, "cannot encode the outcome");
                return;
            }
        };
        let suppressed = success && self.suppressed.contains(&outcome.epoch);
        for request in targets {
            let r = if suppressed {
                // The kernel refused this epoch's SAs: never tell the RIC to switch to them.
                let cause = asn::Cause::ricRequest(asn::CauseRICrequest::control_failed_to_execute);
                handle.fail_control(request, cause, None).await
            } else if success {
                handle.ack_control(request, Some(bytes.clone())).await
            } else {
                let cause = match outcome.result {
                    ControlResult::Failure(c) => e2ap_cause(c),
                    ControlResult::Success(_) => asn::Cause::misc(asn::CauseMisc::unspecified),
                };
                handle.fail_control(request, cause, Some(bytes.clone())).await
            };
            if let Err(e) = r {
                tracing::warn!(node = %self.name, %request, error = %e, "cannot answer control");
            }
        }
    }

    async fn execute(&mut self, op: DataPlaneOp) {
        let Some(link) = self.xlink else {
            tracing::error!(node = %self.name, ?op, "data-plane operation before the association's addresses are known");
            if let DataPlaneOp::InstallInbound(sa) | DataPlaneOp::InstallOutbound(sa) = &op {
                self.suppressed.insert(sa.epoch);
            }
            self.stats.data_plane_errors += 1;
            return;
        };
        let r = match op {
            DataPlaneOp::InstallInbound(sa) => {
                self.sas.entry(sa.epoch).or_default().0 = Some(sa.spi);
                self.install(link, Direction::Inbound, sa).await
            }
            DataPlaneOp::InstallOutbound(sa) => {
                self.sas.entry(sa.epoch).or_default().1 = Some(sa.spi);
                self.stats.rekeys_applied += 1;
                self.install(link, Direction::Outbound, sa).await
            }
            DataPlaneOp::Delete { direction, spi, epoch } => {
                let dir = map_direction(direction);
                if let Some(e) = self.sas.get_mut(&epoch) {
                    match dir {
                        Direction::Inbound => e.0 = None,
                        Direction::Outbound => e.1 = None,
                    }
                    if *e == (None, None) {
                        self.sas.remove(&epoch);
                    }
                }
                match self.dp.delete_sa(link, dir, spi).await {
                    Err(DataPlaneError::NotFound { .. }) => Ok(()),
                    r => r,
                }
            }
            DataPlaneOp::RequireEsp => self.dp.require_esp(link).await,
            DataPlaneOp::ReleaseEsp => self.dp.release_esp(link).await,
            DataPlaneOp::DeleteAll => {
                self.sas.clear();
                self.dp.delete_all(link).await.map(|_| ())
            }
        };
        if let Err(e) = r {
            self.stats.data_plane_errors += 1;
            tracing::error!(node = %self.name, %link, error = %e, "data-plane operation failed");
        }
    }

    async fn install(&mut self, link: Link, direction: Direction, sa: SaSpec) -> Result<(), DataPlaneError> {
        let epoch = sa.epoch;
        let mut req = SaRequest::new(link, direction, sa.spi, sa.keymat);
        req.lifetime = self.sa_lifetime;
        let r = self.dp.install_sa(req).await;
        if r.is_err() {
            self.suppressed.insert(epoch);
        }
        r
    }
}

fn map_direction(d: qsafe_rekey::Direction) -> Direction {
    match d {
        qsafe_rekey::Direction::RicToNode => Direction::Inbound,
        qsafe_rekey::Direction::NodeToRic => Direction::Outbound,
    }
}

fn qsafe_rekey_kem(k: qsafe_asn1::e2sm_qkd::KemAlgorithm) -> qsafe_pqc::kem::KemAlgorithm {
    match k {
        qsafe_asn1::e2sm_qkd::KemAlgorithm::MlKem768 => qsafe_pqc::kem::KemAlgorithm::MlKem768,
        qsafe_asn1::e2sm_qkd::KemAlgorithm::MlKem1024 => qsafe_pqc::kem::KemAlgorithm::MlKem1024,
    }
}

/// A stand-in local address different from `peer` (same family), for links without one.
fn placeholder_local(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(p) => {
            let a = Ipv4Addr::new(127, 0, 0, 2);
            IpAddr::V4(if p == a { Ipv4Addr::new(127, 0, 0, 3) } else { a })
        }
        IpAddr::V6(p) => {
            let a = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
            IpAddr::V6(if p == a { Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 3) } else { a })
        }
    }
}
