//! The simulation: one [`NodeClient`] per emulated node over kernel SCTP,
//! and per node an application task that decides subscriptions, emits
//! indications and answers controls.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use qsafe_asn1::e2ap_asn as asn;
use qsafe_asn1::kpm::{self, KpmPayload};
use qsafe_asn1::kpm_asn as kasn;
use qsafe_e2::common::{ComponentConfig, DisplayCause, NotAdmittedAction, RanFunction};
use qsafe_e2::driver::traffic::KpmTraffic;
use qsafe_e2::driver::{Connector, NodeClient, NodeEvent, NodeHandle, NodeOptions, SctpConnector};
use qsafe_e2::node::{ControlPolicy, E2NodeConfig, Event, SubscriptionPolicy};
use qsafe_e2::transport::sctp::SctpOptions;
use qsafe_e2::{E2NodeId, RequestId};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

/// How long a node's E2 client gets to stop after SIGTERM / the end of the run.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

use qsafe_xfrm::{AnyDataPlane, BrokerClient, DataPlane, MemoryDataPlane};

use crate::config::{ControlAnswer, GNB_ID_BITS, Rate, Settings};
use crate::keyed::{Keyed, KeyedMaterial, KeyedMsg, KeyedStats, NodeKeyPlane, QKD_RAN_FUNCTION_ID};

/// RAN function id of the KPM function every emulated node offers.
pub const KPM_RAN_FUNCTION_ID: u16 = 2;

/// What one node did.
#[derive(Debug, Clone, Default)]
pub struct NodeReport {
    /// Its global id, displayed.
    pub node: String,
    /// RIC INDICATIONs sent.
    pub indications: u64,
    /// Control requests answered.
    pub controls: u64,
    /// Associations that came up.
    pub connections: u64,
    /// E2 Setups completed.
    pub setups: u64,
    /// Why it stopped trying, if it gave up.
    pub gave_up: Option<String>,
    /// Keyed mode: what its key plane did.
    pub keyed: Option<KeyedStats>,
    /// Its E2 client did not stop within the shutdown grace and was aborted (the RIC was not
    /// reading the association); its counters are then incomplete.
    pub shutdown_aborted: bool,
}

/// What the whole run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Per node, in node order.
    pub nodes: Vec<NodeReport>,
}

impl Summary {
    /// Whether every node completed E2 Setup at least once.
    pub fn all_set_up(&self) -> bool {
        self.nodes.iter().all(|n| n.setups > 0)
    }

    /// The one-line summary printed on exit.
    pub fn line(&self) -> String {
        let total: u64 = self.nodes.iter().map(|n| n.indications).sum();
        let controls: u64 = self.nodes.iter().map(|n| n.controls).sum();
        let setups: u64 = self.nodes.iter().map(|n| n.setups).sum();
        let per_node: Vec<String> = self.nodes.iter().map(|n| n.indications.to_string()).collect();
        let per_ctl: Vec<String> = self.nodes.iter().map(|n| n.controls.to_string()).collect();
        let mut line = format!(
            "qsafe-e2node summary: nodes={} set_up={} e2_setups={setups} indications_sent={total} controls_handled={controls} indications_per_node=[{}] controls_per_node=[{}]",
            self.nodes.len(),
            self.nodes.iter().filter(|n| n.setups > 0).count(),
            per_node.join(","),
            per_ctl.join(","),
        );
        let aborted = self.nodes.iter().filter(|n| n.shutdown_aborted).count();
        if aborted > 0 {
            line.push_str(&format!(" shutdown_aborted={aborted}"));
        }
        if self.nodes.iter().any(|n| n.keyed.is_some()) {
            let k: Vec<KeyedStats> = self.nodes.iter().map(|n| n.keyed.clone().unwrap_or_default()).collect();
            let epochs: Vec<String> = k.iter().map(|s| s.epoch.to_string()).collect();
            let rekeys: Vec<String> = k.iter().map(|s| s.rekeys_applied.to_string()).collect();
            let refusals: Vec<String> = k
                .iter()
                .map(|s| {
                    if s.refusals.is_empty() {
                        "-".to_string()
                    } else {
                        s.refusals.iter().map(|(c, n)| format!("{c}:{n}")).collect::<Vec<_>>().join("+")
                    }
                })
                .collect();
            line.push_str(&format!(
                " keyed_epoch_per_node=[{}] rekeys_applied_per_node=[{}] refusals_per_node=[{}]",
                epochs.join(","),
                rekeys.join(","),
                refusals.join(","),
            ));
        }
        line
    }
}

/// The configuration of emulated node `i`.
pub fn node_config(settings: &Settings, i: u32) -> Result<E2NodeConfig, String> {
    node_config_with(settings, i, Vec::new())
}

/// [`node_config`] plus more RAN functions (keyed mode: E2SM-QKD).
pub fn node_config_with(settings: &Settings, i: u32, extra: Vec<RanFunction>) -> Result<E2NodeConfig, String> {
    let gnb = settings.gnb_id + i;
    let id = E2NodeId::gnb(&settings.mcc, &settings.mnc, gnb, GNB_ID_BITS).map_err(|e| e.to_string())?;
    let names: Vec<&str> = settings.measurements.iter().map(String::as_str).collect();
    let description =
        kpm::ran_function_description(&names).map_err(|e| e.to_string())?.encode_aper().map_err(|e| e.to_string())?;
    let function = RanFunction::new(KPM_RAN_FUNCTION_ID, 1, kpm::RAN_FUNCTION_OID, description);
    let component = ComponentConfig::f1(u64::from(gnb), b"F1 SETUP REQUEST".to_vec(), b"F1 SETUP RESPONSE".to_vec())
        .map_err(|e| e.to_string())?;
    let mut functions = vec![function];
    functions.extend(extra);
    let mut config = E2NodeConfig::new(id, functions, vec![component]);
    config.subscription_policy = SubscriptionPolicy::Ask;
    config.control_policy = ControlPolicy::Ask;
    Ok(config)
}

/// Runs every node over kernel SCTP until `stop` turns true or it gives up reconnecting
/// (after [`Settings::connect_timeout`] without the RIC); returns the reports. With `keyed`
/// (`--keyed`, loaded by [`KeyedMaterial::load`]) the nodes also run the keyed E2 link, on the
/// broker's data plane (`--xfrm-broker`) or the in-memory one.
pub async fn run(
    settings: Settings,
    keyed: Option<KeyedMaterial>,
    stop: watch::Receiver<bool>,
) -> Result<Summary, String> {
    let mut sctp = SctpOptions::default();
    if settings.indication_size > 64 << 10 {
        sctp.send_buffer = Some(settings.indication_size * 2 + (256 << 10));
    }
    let connector = SctpConnector { addr: settings.ric, options: sctp };
    let Some(material) = keyed else {
        return run_with::<_, MemoryDataPlane>(settings, connector, None, stop).await;
    };
    let (data_plane, assume_ric_switched) = match &material.settings.xfrm_broker {
        Some(path) => {
            let client = BrokerClient::connect_with_retry(path, Duration::from_secs(10))
                .await
                .map_err(|e| format!("cannot reach the XFRM broker at {}: {e}", path.display()))?;
            (AnyDataPlane::Broker(client), false)
        }
        None => {
            tracing::info!("keyed mode without --xfrm-broker: SAs in an in-memory model (no kernel IPsec)");
            (AnyDataPlane::Memory(Arc::new(MemoryDataPlane::new())), true)
        }
    };
    let keyed = Keyed { material: Arc::new(material), data_plane: Arc::new(data_plane), assume_ric_switched };
    run_with(settings, connector, Some(keyed), stop).await
}

/// [`run`] over any connector (tests: [`qsafe_e2::driver::MemoryConnector`]) and any data plane.
pub async fn run_with<C, D>(
    settings: Settings,
    connector: C,
    keyed: Option<Keyed<D>>,
    stop: watch::Receiver<bool>,
) -> Result<Summary, String>
where
    C: Connector + Clone,
    D: DataPlane + 'static,
{
    let settings = Arc::new(settings);
    let options = NodeOptions { connect_deadline: Some(settings.connect_timeout), ..NodeOptions::default() };
    let mut apps: Vec<JoinHandle<NodeReport>> = Vec::new();
    for i in 0..settings.nodes {
        let plane = match &keyed {
            Some(k) => Some(NodeKeyPlane::new(i, k, settings.ric.ip())?),
            None => None,
        };
        let extra = plane.iter().map(|(p, _)| p.ran_function()).collect();
        let config = node_config_with(&settings, i, extra)?;
        let name = config.node_id.to_string();
        let client = NodeClient::spawn(config, connector.clone(), options.clone()).map_err(|e| e.to_string())?;
        apps.push(tokio::spawn(node_app(name, client, settings.clone(), plane, stop.clone())));
    }
    tracing::info!(nodes = settings.nodes, ric = %settings.ric, keyed = keyed.is_some(), "emulating E2 nodes");
    let mut reports = Vec::with_capacity(apps.len());
    for app in apps {
        reports.push(app.await.unwrap_or_default());
    }
    Ok(Summary { nodes: reports })
}

struct Emitters {
    tasks: HashMap<RequestId, Vec<JoinHandle<u64>>>,
}

impl Emitters {
    fn stop(&mut self, request: &RequestId) {
        if let Some(ts) = self.tasks.remove(request) {
            ts.iter().for_each(JoinHandle::abort);
        }
    }

    fn stop_all(&mut self) {
        for (_, ts) in self.tasks.drain() {
            ts.iter().for_each(JoinHandle::abort);
        }
    }
}

/// A decoded subscription request: reporting period and granularity.
struct Decided {
    period: Duration,
    granularity_ms: u32,
}

fn decide(
    event_trigger: &[u8],
    actions: &[asn::RICactionToBeSetupItem],
) -> Result<(Decided, Vec<u8>, Vec<NotAdmittedAction>), asn::Cause> {
    let trigger = kasn::E2SMKPMEventTriggerDefinition::decode_aper(event_trigger)
        .map_err(|_| asn::Cause::ricRequest(asn::CauseRICrequest::eventTriggerNotSupported))?;
    let period_ms = match trigger.event_definition_formats {
        kasn::E2SMKPMEventTriggerDefinitionEventDefinitionFormats::eventDefinition_Format1(f) => f.reporting_period,
        _ => return Err(asn::Cause::ricRequest(asn::CauseRICrequest::eventTriggerNotSupported)),
    };
    let mut admitted = Vec::new();
    let mut not_admitted = Vec::new();
    let mut granularity_ms = period_ms;
    for a in actions {
        let id = a.ric_action_id.0;
        let parsed =
            a.ric_action_definition.as_ref().and_then(|d| kasn::E2SMKPMActionDefinition::decode_aper(&d.0).ok());
        match (a.ric_action_type, parsed) {
            (asn::RICactionType::report, Some(def)) => {
                if let kasn::E2SMKPMActionDefinitionActionDefinitionFormats::actionDefinition_Format1(f) =
                    &def.action_definition_formats
                {
                    granularity_ms = f.granul_period.0;
                }
                admitted.push(id);
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
    let decided = Decided { period: Duration::from_millis(u64::from(period_ms.max(1))), granularity_ms };
    Ok((decided, admitted, not_admitted))
}

/// The per-node sequence: held while an indication is built and queued, so
/// sequence order is send order even with several emitters.
type Sequence = Arc<Mutex<u64>>;

#[allow(clippy::too_many_arguments)]
async fn emit(
    handle: NodeHandle,
    request: RequestId,
    action: u8,
    traffic: Arc<KpmTraffic>,
    seq: Sequence,
    period: Option<Duration>,
    count: Option<u64>,
    mut gate: watch::Receiver<bool>,
) -> u64 {
    let mut sent = 0u64;
    let mut interval = period.map(|p| {
        let mut iv = tokio::time::interval(p);
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        iv
    });
    while count.is_none_or(|c| sent < c) {
        if let Some(iv) = &mut interval {
            iv.tick().await;
        }
        // Keyed: hold (never drop) application traffic until the link is protected.
        if gate.wait_for(|open| *open).await.is_err() {
            break;
        }
        let mut next = seq.lock().await;
        let (header, message) = match traffic.build(*next, SystemTime::now()) {
            Ok(hm) => hm,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a KPM indication");
                break;
            }
        };
        *next += 1;
        if handle.send_indication(request, action, header, message).await.is_err() {
            break;
        }
        drop(next);
        sent += 1;
    }
    tracing::debug!(%request, action, sent, "emitter done");
    sent
}

type Plane<D> = Option<(NodeKeyPlane<D>, tokio::sync::mpsc::UnboundedReceiver<KeyedMsg>)>;

enum Wake {
    Event(Option<NodeEvent>),
    Keyed(Option<KeyedMsg>),
    Timer,
}

async fn node_app<D: DataPlane + 'static>(
    name: String,
    mut client: NodeClient,
    settings: Arc<Settings>,
    plane: Plane<D>,
    mut stop: watch::Receiver<bool>,
) -> NodeReport {
    let handle = client.handle.clone();
    let (mut plane, mut keyed_rx) = match plane {
        Some((p, rx)) => (Some(p), Some(rx)),
        None => (None, None),
    };
    let (_open_tx, open_rx) = watch::channel(true);
    let gate = plane.as_ref().map_or(open_rx, |p| p.protected());
    let mut report = NodeReport { node: name.clone(), ..NodeReport::default() };
    let mut pending: HashMap<RequestId, Decided> = HashMap::new();
    let mut emitters = Emitters { tasks: HashMap::new() };
    let seq: Sequence = Arc::new(Mutex::new(0));
    let names: Vec<&str> = settings.measurements.iter().map(String::as_str).collect();
    loop {
        let wake_at = plane.as_ref().map(|p| p.next_wake());
        let wake = tokio::select! {
            ev = client.events.recv() => Wake::Event(ev),
            _ = stop.wait_for(|s| *s) => Wake::Event(None),
            msg = async {
                match keyed_rx.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => Wake::Keyed(msg),
            _ = async {
                match wake_at {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending().await,
                }
            } => Wake::Timer,
        };
        let ev = match wake {
            Wake::Event(ev) => ev,
            Wake::Keyed(msg) => {
                if let (Some(p), Some(msg)) = (plane.as_mut(), msg) {
                    p.on_msg(&handle, msg).await;
                }
                continue;
            }
            Wake::Timer => {
                if let Some(p) = plane.as_mut() {
                    p.on_wake(&handle).await;
                }
                continue;
            }
        };
        let Some(ev) = ev else { break };
        match ev {
            NodeEvent::Connected { peer, local } => {
                tracing::debug!(node = %name, %peer, "association up");
                if let Some(p) = plane.as_mut() {
                    p.on_connected(&peer, local);
                }
            }
            NodeEvent::ConnectFailed { error, retry_in } => {
                tracing::debug!(node = %name, %error, ?retry_in, "connect failed")
            }
            NodeEvent::Disconnected { reason } => {
                tracing::info!(node = %name, ?reason, "association lost; reconnecting");
                emitters.stop_all();
                pending.clear();
                if let Some(p) = plane.as_mut() {
                    p.on_association_lost(&handle).await;
                }
            }
            NodeEvent::GaveUp { error } => {
                tracing::warn!(node = %name, %error, "RIC unreachable: giving up");
                report.gave_up = Some(error);
                break;
            }
            NodeEvent::Agent(ev) => match ev {
                Event::SetupComplete { accepted, .. } => {
                    report.setups += 1;
                    tracing::info!(node = %name, ?accepted, "E2 Setup complete");
                }
                Event::SetupFailed { cause, retry_at } => {
                    tracing::warn!(node = %name, cause = %DisplayCause(&cause), retrying = retry_at.is_some(), "E2 Setup failed")
                }
                Event::SubscriptionRequested { request, ran_function_id, event_trigger, actions }
                    if ran_function_id == QKD_RAN_FUNCTION_ID && plane.is_some() =>
                {
                    let Some(p) = plane.as_mut() else { continue };
                    match p.decide_subscription(request, &event_trigger, &actions) {
                        Ok((admitted, not_admitted)) => {
                            if let Err(e) = handle.accept_subscription(request, admitted, not_admitted).await {
                                tracing::warn!(node = %name, %request, error = %e, "cannot accept subscription");
                            }
                        }
                        Err(cause) => {
                            tracing::info!(node = %name, %request, cause = %DisplayCause(&cause), "E2SM-QKD subscription refused");
                            let _ = handle.reject_subscription(request, cause).await;
                        }
                    }
                }
                Event::SubscriptionAdded { request, ran_function_id, .. }
                    if ran_function_id == QKD_RAN_FUNCTION_ID && plane.is_some() =>
                {
                    if let Some(p) = plane.as_mut() {
                        tracing::info!(node = %name, %request, "E2SM-QKD subscription active");
                        p.on_subscription_added(&handle, request).await;
                    }
                }
                Event::ControlRequested {
                    request,
                    ran_function_id,
                    header,
                    message,
                    ack_requested,
                    answered: false,
                    ..
                } if ran_function_id == QKD_RAN_FUNCTION_ID && plane.is_some() => {
                    if let Some(p) = plane.as_mut() {
                        p.on_control(&handle, request, &header, &message, ack_requested).await;
                        report.controls += 1;
                    }
                }
                Event::SubscriptionRequested { request, event_trigger, actions, .. } => {
                    match decide(&event_trigger, &actions) {
                        Ok((decided, admitted, not_admitted)) => {
                            pending.insert(request, decided);
                            if let Err(e) = handle.accept_subscription(request, admitted, not_admitted).await {
                                tracing::warn!(node = %name, %request, error = %e, "cannot accept subscription");
                            }
                        }
                        Err(cause) => {
                            tracing::info!(node = %name, %request, cause = %DisplayCause(&cause), "subscription refused");
                            let _ = handle.reject_subscription(request, cause).await;
                        }
                    }
                }
                Event::SubscriptionAdded { request, admitted, .. } => {
                    let Some(decided) = pending.remove(&request) else { continue };
                    let traffic = match KpmTraffic::new(&names, decided.granularity_ms, settings.indication_size) {
                        Ok(t) => Arc::new(t),
                        Err(e) => {
                            tracing::error!(node = %name, error = %e, "cannot build KPM indications");
                            continue;
                        }
                    };
                    let period = match settings.rate {
                        None => Some(decided.period),
                        Some(Rate::Max) => None,
                        Some(Rate::PerSecond(r)) => Some(Duration::from_secs_f64(1.0 / r)),
                    };
                    tracing::info!(node = %name, %request, ?admitted, ?period, "subscription active; sending indications");
                    let tasks = admitted
                        .iter()
                        .map(|a| {
                            tokio::spawn(emit(
                                handle.clone(),
                                request,
                                *a,
                                traffic.clone(),
                                seq.clone(),
                                period,
                                settings.count,
                                gate.clone(),
                            ))
                        })
                        .collect();
                    emitters.tasks.insert(request, tasks);
                }
                Event::SubscriptionDeleted { request, .. } => {
                    tracing::info!(node = %name, %request, "subscription deleted");
                    emitters.stop(&request);
                    if let Some(p) = plane.as_mut() {
                        p.on_subscription_deleted(&request);
                    }
                }
                Event::ControlRequested { request, answered: false, .. } => {
                    let r = match settings.control {
                        ControlAnswer::Ack => handle.ack_control(request, None).await,
                        ControlAnswer::Fail => {
                            let cause = asn::Cause::ricRequest(asn::CauseRICrequest::control_failed_to_execute);
                            handle.fail_control(request, cause, None).await
                        }
                    };
                    match r {
                        Ok(()) => report.controls += 1,
                        Err(e) => tracing::warn!(node = %name, %request, error = %e, "cannot answer control"),
                    }
                }
                Event::ResetByRic { cause, .. } => {
                    tracing::info!(node = %name, cause = %DisplayCause(&cause), "reset by the RIC");
                    emitters.stop_all();
                    if let Some(p) = plane.as_mut() {
                        p.clear_subscriptions();
                    }
                }
                Event::ConnectionLost { .. } => {
                    emitters.stop_all();
                    if let Some(p) = plane.as_mut() {
                        p.clear_subscriptions();
                    }
                }
                Event::ErrorIndicationReceived { report: r } => {
                    tracing::warn!(node = %name, report = ?r, "Error Indication from the RIC")
                }
                Event::ProtocolError { error } => tracing::warn!(node = %name, ?error, "bad PDU from the RIC"),
                other => tracing::debug!(node = %name, event = ?other, "E2 event"),
            },
        }
    }
    emitters.stop_all();
    // Bounded: the client drains the commands queued before the shutdown, and a send can wait
    // forever when the RIC stops reading the association (a peer that no longer decrypts our
    // ESP, a full SCTP send buffer). A simulator must still exit on SIGTERM; then the counters
    // are lost and the report says so.
    let stopped = async {
        let _ = handle.shutdown().await;
        (&mut client.task).await
    };
    match tokio::time::timeout(SHUTDOWN_GRACE, stopped).await {
        Ok(Ok(stats)) => {
            report.indications = stats.agent.indications_sent;
            report.connections = stats.connections;
        }
        Ok(Err(e)) => tracing::warn!(node = %name, error = %e, "E2 client task failed"),
        Err(_) => {
            client.task.abort();
            report.shutdown_aborted = true;
            tracing::warn!(
                node = %name,
                grace_s = SHUTDOWN_GRACE.as_secs(),
                "E2 client did not stop in time (the RIC is not reading the association): aborted"
            );
        }
    }
    report.keyed = plane.map(|p| p.stats());
    report
}
