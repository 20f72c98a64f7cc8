//! `--keyed` end to end without sockets for E2: the real node app (`sim::run_with`) over the
//! in-memory E2 transport against a `RicServer`, a tiny RIC-side driver built from
//! `qsafe_rekey::RicLink`, a real demo PKI (written to a temp dir, loaded as `--pki-dir`) and a
//! real in-process KME pair (ETSI 014 over ML-DSA / X25519MLKEM768 mTLS on loopback).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use clap::Parser;
use qsafe_asn1::e2ap::build::action;
use qsafe_asn1::e2ap_asn as asn;
use qsafe_asn1::e2sm_qkd::{
    ActionDefinition, ControlFailureCause, ControlMessage, ControlOutcome, ControlResult, E2smQkdPayload, EventTrigger,
    IndicationMessage, KeySource, KeySourceMode, RanFunctionDefinition, encode_control,
};
use qsafe_asn1::kpm::{self, KpmPayload};
use qsafe_e2::E2NodeId;
use qsafe_e2::driver::{DriverError, MemoryConnector, RicHandle, RicServer, RicServerOptions, RicSubscription};
use qsafe_e2::ric::{self, ControlRequest, RicConfig, SubscriptionRequest};
use qsafe_e2node::config::{Cli, Settings};
use qsafe_e2node::keyed::{Keyed, KeyedMaterial, QKD_RAN_FUNCTION_ID, e2ap_cause};
use qsafe_e2node::sim::{self, Summary};
use qsafe_kme::Site;
use qsafe_kme::config::{DemoPkiSettings, PkiAlgorithm, PkiSource, ServeSettings};
use qsafe_kme::pki::DemoPki;
use qsafe_kme::server::RunningKme;
use qsafe_pqc::tls::{AuthPolicy, KeyExchangePolicy};
use qsafe_qkd::api::{Key, KeyId, KeyMaterial, KeyRequest};
use qsafe_qkd::client::{ClientConfig, Etsi014Client};
use qsafe_rekey::{
    DataPlaneOp, LocalIdentity, RekeyFailure, RicAction, RicLink, RicLinkConfig, SpiAllocator, TrustAnchors,
};
use qsafe_xfrm::{DataPlane, DataPlaneError, Direction, Link, MemoryDataPlane, SaCounters, SaRequest};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

const XAPP: &str = "ric-xapp";
const NODE: &str = "e2node-1";
const WAIT: Duration = Duration::from_secs(30);

/// A memory data plane that also remembers each SA's key material (for comparing both ends).
#[derive(Debug, Default)]
struct RecDp {
    inner: MemoryDataPlane,
    keys: Mutex<HashMap<u32, [u8; 36]>>,
}

impl RecDp {
    fn key(&self, spi: u32) -> Option<[u8; 36]> {
        self.keys.lock().unwrap().get(&spi).copied()
    }
}

impl DataPlane for RecDp {
    async fn install_sa(&self, req: SaRequest) -> Result<(), DataPlaneError> {
        let (spi, key) = (req.spi, *req.keymat);
        self.inner.install_sa(req).await?;
        self.keys.lock().unwrap().insert(spi, key);
        Ok(())
    }
    async fn delete_sa(&self, link: Link, direction: Direction, spi: u32) -> Result<(), DataPlaneError> {
        self.inner.delete_sa(link, direction, spi).await
    }
    async fn sa_counters(&self, link: Link, direction: Direction, spi: u32) -> Result<SaCounters, DataPlaneError> {
        self.inner.sa_counters(link, direction, spi).await
    }
    async fn require_esp(&self, link: Link) -> Result<(), DataPlaneError> {
        self.inner.require_esp(link).await
    }
    async fn release_esp(&self, link: Link) -> Result<(), DataPlaneError> {
        self.inner.release_esp(link).await
    }
    async fn delete_all(&self, link: Link) -> Result<u32, DataPlaneError> {
        self.inner.delete_all(link).await
    }
}

fn demo_pki() -> DemoPki {
    DemoPki::generate(&DemoPkiSettings {
        out: "unused".into(),
        algorithm: PkiAlgorithm::MlDsa65,
        kme_ids: ["kme-a".into(), "kme-b".into()],
        saes: vec![XAPP.into(), NODE.into()],
        dns: vec![],
        ips: vec![],
        validity: Duration::from_secs(86_400),
        force: false,
    })
    .expect("demo pki")
}

async fn start_kme(pki: &DemoPki) -> RunningKme {
    let any = "127.0.0.1:0".parse().expect("addr");
    let mut settings =
        ServeSettings { listen: [any, any], admin_listen: any, pki: PkiSource::Generate, ..ServeSettings::default() };
    settings.link.initial_key_count = 64;
    qsafe_kme::server::start_with_material(settings, pki.tls_material()).await.expect("kme")
}

fn xapp_kme_client(pki: &DemoPki, kme: &RunningKme) -> Etsi014Client {
    let tls = qsafe_pqc::tls::client_config(
        &[pki.ca.certificate().clone()],
        Some(pki.sae(XAPP).expect("xapp")),
        KeyExchangePolicy::HybridPreferred,
        AuthPolicy::MlDsaOnly,
    )
    .expect("tls");
    let url = format!("https://localhost:{}", kme.addr(Site::A).port());
    Etsi014Client::new(ClientConfig::new(url, tls, "kme-a")).expect("client")
}

fn gnb() -> E2NodeId {
    E2NodeId::gnb("001", "01", 0x1000, 28).expect("id")
}

/// The RIC side: RicServer + RicLink + its own data plane.
struct Ric {
    handle: RicHandle,
    link: RicLink,
    dp: RecDp,
    dp_link: Link,
    spis: SpiAllocator,
    qkd: Option<Etsi014Client>,
    events: Vec<RicAction>,
}

enum Tamper {
    None,
    GraceMs,
}

impl Ric {
    fn new(handle: RicHandle, pki: &DemoPki, mode: KeySourceMode, qkd: Option<Etsi014Client>) -> Self {
        let mut cfg = RicLinkConfig::new(XAPP, NODE);
        cfg.mode = mode;
        cfg.grace = Duration::from_millis(100);
        let identity = Arc::new(LocalIdentity::from_certified_key(pki.sae(XAPP).expect("xapp")).expect("identity"));
        let anchors = Arc::new(TrustAnchors::from_der(vec![pki.ca.certificate().clone()]).expect("anchors"));
        Ric {
            handle,
            link: RicLink::new(cfg, identity, anchors),
            dp: RecDp::default(),
            dp_link: Link::host(IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 7),
            spis: SpiAllocator::starting_at(0x10_0000),
            qkd,
            events: Vec::new(),
        }
    }

    async fn bootstrap(&mut self) {
        let reg = self.handle.registry().await.expect("registry");
        let info = reg.get(&gnb()).expect("node known");
        let f = info.ran_functions.get(&QKD_RAN_FUNCTION_ID).expect("E2SM-QKD offered");
        assert_eq!(f.oid, qsafe_asn1::e2sm_qkd::RAN_FUNCTION_OID);
        assert_eq!(f.revision, 1);
        let def = RanFunctionDefinition::decode(&f.definition).expect("definition");
        assert_eq!(def.node_sae_id, NODE);
        self.link.on_ran_function(&def, SystemTime::now()).expect("verified definition");
    }

    async fn subscribe_qkd(&self) -> RicSubscription {
        let trigger = EventTrigger::periodic(100, true).encode().expect("trigger");
        let def = ActionDefinition { include_next_kem_key: true }.encode().expect("action def");
        let request = SubscriptionRequest {
            ran_function_id: QKD_RAN_FUNCTION_ID,
            event_trigger: trigger.into(),
            actions: vec![action(1, asn::RICactionType::report, Some(&def))],
        };
        self.handle.subscribe(&gnb(), request).await.expect("E2SM-QKD subscription")
    }

    fn feed_reports(&mut self, sub: &mut RicSubscription) -> Vec<IndicationMessage> {
        let mut out = Vec::new();
        while let Ok(ind) = sub.indications.try_recv() {
            let m = IndicationMessage::decode(&ind.message).expect("report");
            self.link.on_report(&m, SystemTime::now()).expect("report accepted");
            out.push(m);
        }
        out
    }

    async fn qkd_key(&self) -> Key {
        let c = self.qkd.as_ref().expect("KME client");
        let mut keys = c.enc_keys(NODE, &KeyRequest::new(1, None)).await.expect("enc_keys").keys;
        keys.pop().expect("a key")
    }

    async fn apply(&mut self, op: DataPlaneOp) {
        let link = self.dp_link;
        match op {
            DataPlaneOp::InstallInbound(sa) => {
                self.dp.install_sa(SaRequest::new(link, Direction::Inbound, sa.spi, sa.keymat)).await.expect("in")
            }
            DataPlaneOp::InstallOutbound(sa) => {
                self.dp.install_sa(SaRequest::new(link, Direction::Outbound, sa.spi, sa.keymat)).await.expect("out")
            }
            DataPlaneOp::Delete { direction, spi, .. } => {
                let d = match direction {
                    qsafe_rekey::Direction::RicToNode => Direction::Outbound,
                    qsafe_rekey::Direction::NodeToRic => Direction::Inbound,
                };
                let _ = self.dp.delete_sa(link, d, spi).await;
                self.spis.release(spi);
            }
            DataPlaneOp::RequireEsp => self.dp.require_esp(link).await.expect("policy"),
            DataPlaneOp::ReleaseEsp => self.dp.release_esp(link).await.expect("policy"),
            DataPlaneOp::DeleteAll => {
                self.dp.delete_all(link).await.expect("delete all");
            }
        }
    }

    /// Sends one control and returns the node's decoded outcome and whether it came in an ack.
    async fn send(&self, message: &ControlMessage) -> (ControlOutcome, bool) {
        let (header, message) = encode_control(message).expect("encode control");
        self.send_raw(header, message).await
    }

    async fn send_raw(&self, header: Vec<u8>, message: Vec<u8>) -> (ControlOutcome, bool) {
        let request = ControlRequest {
            ran_function_id: QKD_RAN_FUNCTION_ID,
            header: header.into(),
            message: message.into(),
            call_process_id: None,
            ack_requested: true,
        };
        match self.handle.control(&gnb(), request).await {
            Ok(o) => (ControlOutcome::decode(&o.outcome.expect("outcome in the ack")).expect("outcome"), true),
            Err(DriverError::ControlFailed { outcome: Some(b), cause, .. }) => {
                let o = ControlOutcome::decode(&b).expect("outcome");
                if let ControlResult::Failure(c) = o.result {
                    assert_eq!(cause, e2ap_cause(c), "E2AP cause follows the signed cause");
                }
                (o, false)
            }
            Err(e) => panic!("control: {e}"),
        }
    }

    /// Runs the RIC machine's actions, sending controls (optionally tampered) and feeding
    /// outcomes, until it is idle. Returns the outcomes seen.
    async fn pump(&mut self, tamper: Tamper) -> Vec<ControlOutcome> {
        let mut outcomes = Vec::new();
        let mut tamper = tamper;
        while let Some(a) = self.link.poll_action() {
            match a {
                RicAction::DataPlane(op) => self.apply(op).await,
                RicAction::SendControl { message, .. } => {
                    let mut message = message;
                    if let (Tamper::GraceMs, ControlMessage::Rekey(c)) = (&tamper, &mut message) {
                        c.grace_ms += 1;
                    }
                    tamper = Tamper::None;
                    let (o, _) = self.send(&message).await;
                    let _ = self.link.on_outcome(&o, Instant::now());
                    outcomes.push(o);
                }
                other => self.events.push(other),
            }
        }
        outcomes
    }

    async fn rekey(&mut self, mode: KeySourceMode, key: Option<Key>) -> (u32, (u32, u32)) {
        let spis = self.spis.allocate_pair().expect("spis");
        let epoch = self.link.start_rekey(Instant::now(), mode, key, spis).expect("start rekey");
        self.pump(Tamper::None).await;
        (epoch, spis)
    }

    fn last_done(&self) -> Option<(u32, KeySource)> {
        self.events.iter().rev().find_map(|e| match e {
            RicAction::RekeyDone { epoch, key_source, .. } => Some((*epoch, *key_source)),
            _ => None,
        })
    }

    fn last_failed(&self) -> Option<(u32, RekeyFailure)> {
        self.events.iter().rev().find_map(|e| match e {
            RicAction::RekeyFailed { epoch, cause, .. } => Some((*epoch, *cause)),
            _ => None,
        })
    }
}

struct Env {
    _dir: tempfile::TempDir,
    pki: DemoPki,
    kme: Option<RunningKme>,
    server: RicServer,
    events: broadcast::Receiver<ric::Event>,
    node_dp: Arc<RecDp>,
    stop: watch::Sender<bool>,
    run: JoinHandle<Result<Summary, String>>,
}

async fn env(with_kme: bool, extra: &[&str]) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = demo_pki();
    pki.write(dir.path(), false).expect("write pki");
    let kme = if with_kme { Some(start_kme(&pki).await) } else { None };
    let server = RicServer::spawn(
        RicConfig::new(
            qsafe_asn1::e2ap::build::ric_id(qsafe_asn1::e2ap::build::plmn("001", "01").expect("plmn"), 5).expect("id"),
            1001,
        ),
        RicServerOptions::default(),
    );
    let events = server.handle().events();
    let mut args: Vec<String> = ["qsafe-e2node", "--ric", "127.0.0.1", "--keyed", "--grace-ms", "100", "--rate", "50"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push("--pki-dir".into());
    args.push(dir.path().to_str().expect("utf8").into());
    if let Some(k) = &kme {
        args.push("--kme".into());
        args.push(format!("https://localhost:{}", k.addr(Site::B).port()));
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let settings = Settings::resolve(Cli::try_parse_from(args).expect("cli")).expect("settings");
    let material = KeyedMaterial::load(settings.keyed.as_ref().expect("keyed"), settings.nodes).expect("material");
    let node_dp = Arc::new(RecDp::default());
    let keyed = Keyed { material: Arc::new(material), data_plane: node_dp.clone(), assume_ric_switched: true };
    let (stop, stop_rx) = watch::channel(false);
    let connector = MemoryConnector { ric: server.handle() };
    let run = tokio::spawn(sim::run_with(settings, connector, Some(keyed), stop_rx));
    Env { _dir: dir, pki, kme, server, events, node_dp, stop, run }
}

impl Env {
    async fn connected(&mut self) {
        tokio::time::timeout(WAIT, async {
            loop {
                if let Ok(ric::Event::NodeConnected { accepted, .. }) = self.events.recv().await {
                    assert!(accepted.contains(&QKD_RAN_FUNCTION_ID) && accepted.contains(&2), "{accepted:?}");
                    return;
                }
            }
        })
        .await
        .expect("node set up in time");
    }

    async fn finish(self) -> Summary {
        self.stop.send(true).expect("stop");
        let summary = tokio::time::timeout(WAIT, self.run).await.expect("stops").expect("join").expect("run");
        self.server.shutdown().await;
        if let Some(k) = self.kme {
            k.shutdown().await;
        }
        summary
    }
}

async fn subscribe_kpm(handle: &RicHandle) -> RicSubscription {
    let trigger = kpm::periodic_trigger(100).encode_aper().expect("trigger");
    let def = kpm::action_definition_format1(&["DRB.UEThpDl"], 100).expect("def").encode_aper().expect("enc");
    let request = SubscriptionRequest {
        ran_function_id: 2,
        event_trigger: trigger.into(),
        actions: vec![action(1, asn::RICactionType::report, Some(&def))],
    };
    handle.subscribe(&gnb(), request).await.expect("KPM subscription")
}

fn assert_keys_match(ric: &Ric, node: &RecDp, spis: (u32, u32)) {
    for spi in [spis.0, spis.1] {
        let (r, n) = (ric.dp.key(spi), node.key(spi));
        assert!(r.is_some(), "RIC lacks SA {spi:#x}");
        assert_eq!(r, n, "SA {spi:#x}: RIC and node key material differ");
    }
    // Direction: RIC outbound = node inbound (spis.0), node outbound = RIC inbound (spis.1).
    assert!(ric.dp.inner.spis(&ric.dp_link, Direction::Outbound).contains(&spis.0));
    assert!(ric.dp.inner.spis(&ric.dp_link, Direction::Inbound).contains(&spis.1));
    assert_eq!(node.inner.sa(spis.0).expect("node inbound").direction, Direction::Inbound);
    assert_eq!(node.inner.sa(spis.1).expect("node outbound").direction, Direction::Outbound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_hybrid_rekeys_match_kpm_is_held_desync_recovers() {
    let mut e = env(true, &[]).await;
    e.connected().await;
    let handle = e.server.handle();
    let xapp = xapp_kme_client(&e.pki, e.kme.as_ref().expect("kme"));
    let mut ric = Ric::new(handle.clone(), &e.pki, KeySourceMode::QkdAndPqc, Some(xapp));
    ric.bootstrap().await;

    // KPM is subscribed but held: nothing flows before the link is protected.
    let mut kpm_sub = subscribe_kpm(&handle).await;
    let mut qkd_sub = ric.subscribe_qkd().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(kpm_sub.indications.try_recv().is_err(), "KPM indication sent before protection");
    let reports = ric.feed_reports(&mut qkd_sub);
    assert!(reports.len() >= 3, "E2SM-QKD reports flow unprotected: {}", reports.len());
    assert!(reports.iter().all(|r| r.current_sa.is_none() && r.next_kem_key.is_some()));

    let mut last_epoch = 0;
    for i in 0..10 {
        let key = ric.qkd_key().await;
        let (epoch, spis) = ric.rekey(KeySourceMode::QkdAndPqc, Some(key)).await;
        assert_eq!(ric.last_done(), Some((epoch, KeySource::Hybrid)), "rekey {i}: {:?}", ric.events.last());
        assert!(epoch > last_epoch);
        last_epoch = epoch;
        assert_keys_match(&ric, &e.node_dp, spis);
        assert!(e.node_dp.inner.esp_required(&Link::host(
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            0x1000
        )));
        if i == 0 {
            let first = tokio::time::timeout(Duration::from_secs(5), kpm_sub.recv()).await;
            assert!(matches!(first, Ok(Some(_))), "KPM flows once protected");
        }
        // Reports carry the new epoch and a fresh KEM key (on-change report after the ack).
        tokio::time::sleep(Duration::from_millis(150)).await;
        let reports = ric.feed_reports(&mut qkd_sub);
        assert!(reports.iter().any(|r| r.current_sa.is_some_and(|s| s.epoch == epoch)), "rekey {i}: report");
        // Pump the RIC's timers (old SA deletion after grace).
        ric.link.handle_timeout(Instant::now() + Duration::from_secs(1));
        ric.pump(Tamper::None).await;
    }
    // Old SAs are deleted at the node after grace + evidence: at most 2 pairs remain.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(e.node_dp.inner.sa_count() <= 4, "node keeps {} SAs", e.node_dp.inner.sa_count());

    // Key-ID desync: a key_ID KME B does not know → qkd-key-not-found, nothing changes; then a
    // fresh key and a new epoch succeed.
    ric.feed_reports(&mut qkd_sub); // the node's latest KEM key (each report rotates it)
    let before = e.node_dp.inner.changes();
    let bogus = Key::new(KeyId::from_random_bytes([7; 16]), KeyMaterial::from_slice(&[9u8; 32]));
    let spis = ric.spis.allocate_pair().expect("spis");
    let bad_epoch = ric.link.start_rekey(Instant::now(), KeySourceMode::QkdAndPqc, Some(bogus), spis).expect("start");
    let outcomes = ric.pump(Tamper::None).await;
    assert_eq!(outcomes.last().map(|o| o.result), Some(ControlResult::Failure(ControlFailureCause::QkdKeyNotFound)));
    assert_eq!(ric.last_failed(), Some((bad_epoch, RekeyFailure::Node(ControlFailureCause::QkdKeyNotFound))));
    assert_eq!(e.node_dp.inner.changes(), before, "a refused REKEY changes nothing");
    let key = ric.qkd_key().await;
    let (epoch, spis) = ric.rekey(KeySourceMode::QkdAndPqc, Some(key)).await;
    assert!(epoch > bad_epoch);
    assert_eq!(ric.last_done(), Some((epoch, KeySource::Hybrid)));
    assert_keys_match(&ric, &e.node_dp, spis);

    let node_dp = e.node_dp.clone();
    drop(qkd_sub);
    drop(kpm_sub);
    let summary = e.finish().await;
    let k = summary.nodes[0].keyed.clone().expect("keyed stats");
    assert_eq!(k.rekeys_applied, 11);
    assert_eq!(k.epoch, epoch);
    assert_eq!(k.refusals.get("qkd-key-not-found"), Some(&1));
    let line = summary.line();
    assert!(
        line.contains("keyed_epoch_per_node=[") && line.contains("refusals_per_node=[qkd-key-not-found:1]"),
        "{line}"
    );
    assert!(line.contains("indications_per_node=["), "existing fields kept: {line}");
    drop(node_dp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pqc_only_without_kme_and_tampered_rekey_is_refused() {
    let mut e = env(false, &["--mode", "at-least-pqc"]).await;
    e.connected().await;
    let handle = e.server.handle();
    let mut ric = Ric::new(handle.clone(), &e.pki, KeySourceMode::AtLeastPqc, None);
    ric.bootstrap().await;

    // A REKEY needing QKD fails at the node's (absent) KME: kme-unavailable, nothing changes.
    let spis = ric.spis.allocate_pair().expect("spis");
    let fake = Key::new(KeyId::from_random_bytes([3; 16]), KeyMaterial::from_slice(&[1u8; 32]));
    ric.link.start_rekey(Instant::now(), KeySourceMode::AtLeastPqc, Some(fake), spis).expect("start");
    let outcomes = ric.pump(Tamper::None).await;
    assert_eq!(outcomes.last().map(|o| o.result), Some(ControlResult::Failure(ControlFailureCause::KmeUnavailable)));
    assert_eq!(e.node_dp.inner.sa_count(), 0);

    for _ in 0..3 {
        let (epoch, spis) = ric.rekey(KeySourceMode::AtLeastPqc, None).await;
        assert_eq!(ric.last_done(), Some((epoch, KeySource::Pqc)));
        assert_keys_match(&ric, &e.node_dp, spis);
    }

    // Tampered REKEY (a signed field changed in transit): bad-signature, nothing changes.
    let before = (e.node_dp.inner.changes(), e.node_dp.inner.sa_count());
    let spis = ric.spis.allocate_pair().expect("spis");
    ric.link.start_rekey(Instant::now(), KeySourceMode::AtLeastPqc, None, spis).expect("start");
    let outcomes = ric.pump(Tamper::GraceMs).await;
    assert_eq!(outcomes.last().map(|o| o.result), Some(ControlResult::Failure(ControlFailureCause::BadSignature)));
    assert_eq!((e.node_dp.inner.changes(), e.node_dp.inner.sa_count()), before, "tampered REKEY changed nothing");
    assert!(e.node_dp.key(spis.0).is_none());

    // Undecodable control: RIC CONTROL FAILURE control-message-invalid, no outcome.
    let request = ControlRequest {
        ran_function_id: QKD_RAN_FUNCTION_ID,
        header: Bytes::from_static(b"\xff\xff"),
        message: Bytes::from_static(b"junk"),
        call_process_id: None,
        ack_requested: true,
    };
    match handle.control(&gnb(), request).await {
        Err(DriverError::ControlFailed { cause, outcome: None, .. }) => {
            assert_eq!(cause, asn::Cause::ricRequest(asn::CauseRICrequest::control_message_invalid))
        }
        other => panic!("undecodable control: {other:?}"),
    }

    let summary = e.finish().await;
    let k = summary.nodes[0].keyed.clone().expect("keyed");
    assert_eq!(k.rekeys_applied, 3);
    assert_eq!(k.refusals.get("bad-signature"), Some(&1));
    assert_eq!(k.refusals.get("kme-unavailable"), Some(&1));
    assert_eq!(k.refusals.get("undecodable"), Some(&1));
}

#[test]
fn e2ap_causes_follow_the_e2sm_qkd_table() {
    use ControlFailureCause as C;
    let invalid = asn::Cause::ricRequest(asn::CauseRICrequest::control_message_invalid);
    let failed = asn::Cause::ricRequest(asn::CauseRICrequest::control_failed_to_execute);
    for c in [C::Malformed, C::BadSignature, C::UntrustedCertificate, C::WrongSaeId, C::ReplayedEpoch, C::SpiInUse] {
        assert_eq!(e2ap_cause(c), invalid, "{c:?}");
    }
    for c in [C::KemFailure, C::QkdKeyNotFound, C::KmeUnavailable, C::SaInstallFailed] {
        assert_eq!(e2ap_cause(c), failed, "{c:?}");
    }
    assert_eq!(e2ap_cause(C::Busy), asn::Cause::misc(asn::CauseMisc::control_processing_overload));
}

#[test]
fn keyed_flags_resolve_and_bad_pki_is_named() {
    let cli = Cli::try_parse_from([
        "qsafe-e2node",
        "--ric",
        "127.0.0.1",
        "--keyed",
        "--pki-dir",
        "/nonexistent/pki",
        "--modes",
        "at-least-pqc,either",
        "--mode",
        "either",
        "--kem",
        "ml-kem-1024",
    ])
    .expect("cli");
    let s = Settings::resolve(cli).expect("settings");
    let k = s.keyed.clone().expect("keyed");
    assert_eq!(k.modes, vec![KeySourceMode::AtLeastPqc, KeySourceMode::Either]);
    assert_eq!(k.sae_id(0), "e2node-1");
    assert_eq!(k.trust_anchors, std::path::Path::new("/nonexistent/pki/ca.pem"));
    let err = KeyedMaterial::load(&k, 1).expect_err("missing files");
    assert!(err.to_string().contains("/nonexistent/pki/ca.pem"), "{err}");

    let cli =
        Cli::try_parse_from(["qsafe-e2node", "--ric", "127.0.0.1", "--keyed", "--pki-dir", "/p", "--modes", "either"])
            .expect("cli");
    assert!(Settings::resolve(cli).is_err(), "initial mode must be supported");

    // The kernel byte-limit backstop: none by default, at least 64 KiB when set.
    let keyed = |extra: &[&str]| {
        let mut args = vec!["qsafe-e2node", "--ric", "127.0.0.1", "--keyed", "--pki-dir", "/p"];
        args.extend_from_slice(extra);
        Settings::resolve(Cli::try_parse_from(args).expect("cli"))
    };
    assert_eq!(keyed(&[]).expect("default").keyed.expect("keyed").sa_max_bytes, None);
    assert_eq!(keyed(&["--sa-max-bytes", "0"]).expect("none").keyed.expect("keyed").sa_max_bytes, None);
    assert_eq!(
        keyed(&["--sa-max-bytes", "1073741824"]).expect("1 GiB").keyed.expect("keyed").sa_max_bytes,
        Some(1 << 30)
    );
    let err = keyed(&["--sa-max-bytes", "4096"]).expect_err("too small");
    assert!(err.to_string().contains("--sa-max-bytes"), "{err}");

    // Bootstrap confirmation: 10 s by default, 1 s .. 600 s; the fault injection is off by default.
    let k = keyed(&[]).expect("default").keyed.expect("keyed");
    assert_eq!((k.bootstrap_confirm, k.fault_slow_bootstrap), (Duration::from_secs(10), Duration::ZERO));
    let k =
        keyed(&["--bootstrap-confirm-ms", "2500", "--fault-slow-bootstrap-ms", "6000"]).expect("set").keyed.expect("k");
    assert_eq!((k.bootstrap_confirm, k.fault_slow_bootstrap), (Duration::from_millis(2500), Duration::from_secs(6)));
    for (flag, bad) in [
        ("--bootstrap-confirm-ms", "999"),
        ("--bootstrap-confirm-ms", "600001"),
        ("--fault-slow-bootstrap-ms", "600001"),
    ] {
        let err = keyed(&[flag, bad]).expect_err(bad);
        assert!(err.to_string().contains(flag), "{err}");
    }
}
