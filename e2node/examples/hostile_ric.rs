//! `hostile_ric`: a RIC that attacks a keyed E2 node's rekey protocol over a
//! real association, for the kernel tier (`tests/kernel/cases/62-*`).
//!
//! It serves E2 over kernel SCTP, waits for one `qsafe-e2node --keyed`
//! node, keys the link like the xApp does (`RicLink`, QKD keys from KME A,
//! ML-KEM, SAs through `qsafe-xfrm-broker`), subscribes the node's KPM
//! indications and E2SM-QKD reports, and then, between honest hybrid
//! rekeys, sends:
//!
//! 1. a **tampered REKEY** (a signed field changed after signing) → the node
//!    must answer `bad-signature`, and its REPORT must still show the same
//!    epoch and SPIs;
//! 2. a **replayed REKEY** (the bytes of an earlier, applied REKEY, a lower
//!    epoch) → `replayed-epoch`, nothing changes;
//! 3. a **desynchronised REKEY** (a key_ID KME B never issued) →
//!    `qkd-key-not-found`; the next rekey takes a fresh QKD key and a new
//!    epoch and succeeds.
//!
//! Throughout, every KPM indication must arrive in order (the node's 64-bit
//! sequence), carried by the ESP SAs. Prints one JSON object and exits 0 when
//! every expectation held, 1 otherwise (the failed expectations are listed).
//!
//! ```text
//! hostile_ric --listen 10.99.0.2:36421 --pki-dir pki --kme https://10.99.0.2:8443 \
//!     --xfrm-broker /run/qsafe-xfrm-b.sock --rekeys 5
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use qsafe_asn1::e2ap::build::action;
use qsafe_asn1::e2ap_asn as asn;
use qsafe_asn1::e2sm_qkd::{
    ActionDefinition, ControlFailureCause, ControlMessage, ControlOutcome, ControlResult, E2smQkdPayload, EventTrigger,
    IndicationMessage, KeySource, KeySourceMode, RanFunctionDefinition, encode_control,
};
use qsafe_asn1::kpm::{self, KpmPayload};
use qsafe_e2::E2NodeId;
use qsafe_e2::driver::traffic::read_stamp;
use qsafe_e2::driver::{DriverError, RicHandle, RicServer, RicServerOptions, RicSubscription};
use qsafe_e2::ric::{self, ControlRequest, RicConfig, SubscriptionRequest};
use qsafe_e2::transport::Peer;
use qsafe_e2::transport::sctp::{SctpListener, SctpOptions};
use qsafe_e2node::keyed::QKD_RAN_FUNCTION_ID;
use qsafe_pqc::pki::{CertifiedKey, parse_pem_certificates};
use qsafe_pqc::tls::{AuthPolicy, KeyExchangePolicy};
use qsafe_qkd::api::{Key, KeyId, KeyMaterial, KeyRequest};
use qsafe_qkd::client::{ClientConfig, Etsi014Client};
use qsafe_rekey::{DataPlaneOp, LocalIdentity, RicAction, RicLink, RicLinkConfig, SpiAllocator, TrustAnchors};
use qsafe_xfrm::{BrokerClient, DataPlane, DataPlaneError, Direction, Link, SaRequest};

#[derive(Parser, Debug)]
#[command(about = "a RIC that sends tampered, replayed and desynchronised REKEYs to one keyed E2 node")]
struct Cli {
    /// SCTP address to serve E2 on (also the IPsec selectors' local end).
    #[arg(long)]
    listen: SocketAddr,
    /// PKI directory (`qsafe-kme demo-pki`): ca.pem, sae-<SAE>.pem/.key.
    #[arg(long)]
    pki_dir: PathBuf,
    /// This RIC's SAE ID.
    #[arg(long, default_value = "ric-xapp")]
    sae_id: String,
    /// KME A (ETSI 014), whose enc_keys serve the node's SAE ID.
    #[arg(long)]
    kme: String,
    /// The KME ID of KME A's certificate.
    #[arg(long, default_value = "kme-a")]
    kme_id: String,
    /// qsafe-xfrm-broker's socket.
    #[arg(long)]
    xfrm_broker: PathBuf,
    /// Honest hybrid rekeys before, between and after the attacks (each round).
    #[arg(long, default_value_t = 3)]
    rekeys: u32,
    /// Seconds to wait for the node.
    #[arg(long, default_value_t = 30.0)]
    wait: f64,
}

struct Hostile {
    handle: RicHandle,
    node: E2NodeId,
    node_sae: String,
    link: RicLink,
    dp: BrokerClient,
    dp_link: Link,
    spis: SpiAllocator,
    kme: Etsi014Client,
    events: Vec<RicAction>,
    reports: RicSubscription,
    last_report: Option<IndicationMessage>,
    /// The REKEY messages sent, by epoch (for the replay).
    sent: Vec<(u32, ControlMessage)>,
    failures: Vec<String>,
}

fn local_direction(d: qsafe_rekey::Direction) -> Direction {
    match d {
        qsafe_rekey::Direction::RicToNode => Direction::Outbound,
        qsafe_rekey::Direction::NodeToRic => Direction::Inbound,
    }
}

impl Hostile {
    fn expect(&mut self, ok: bool, what: impl Into<String>) {
        let what = what.into();
        eprintln!("[hostile] {} {what}", if ok { "ok  " } else { "FAIL" });
        if !ok {
            self.failures.push(what);
        }
    }

    async fn apply(&mut self, op: DataPlaneOp) -> Result<(), DataPlaneError> {
        let link = self.dp_link;
        match op {
            DataPlaneOp::InstallInbound(sa) => {
                self.dp.install_sa(SaRequest::new(link, Direction::Inbound, sa.spi, sa.keymat)).await
            }
            DataPlaneOp::InstallOutbound(sa) => {
                self.dp.install_sa(SaRequest::new(link, Direction::Outbound, sa.spi, sa.keymat)).await
            }
            DataPlaneOp::Delete { direction, spi, .. } => {
                self.spis.release(spi);
                match self.dp.delete_sa(link, local_direction(direction), spi).await {
                    Err(DataPlaneError::NotFound { .. }) => Ok(()),
                    r => r,
                }
            }
            DataPlaneOp::RequireEsp => self.dp.require_esp(link).await,
            DataPlaneOp::ReleaseEsp => self.dp.release_esp(link).await,
            DataPlaneOp::DeleteAll => self.dp.delete_all(link).await.map(|_| ()),
        }
    }

    /// Sends one control; the node's signed outcome.
    async fn send(&self, message: &ControlMessage) -> Result<ControlOutcome, String> {
        let (header, message) = encode_control(message).map_err(|e| e.to_string())?;
        let request = ControlRequest {
            ran_function_id: QKD_RAN_FUNCTION_ID,
            header: header.into(),
            message: message.into(),
            call_process_id: None,
            ack_requested: true,
        };
        let bytes = match self.handle.control(&self.node, request).await {
            Ok(o) => o.outcome.ok_or("acknowledge without an outcome")?,
            Err(DriverError::ControlFailed { outcome: Some(b), .. }) => b,
            Err(e) => return Err(format!("control: {e}")),
        };
        ControlOutcome::decode(&bytes).map_err(|e| e.to_string())
    }

    /// Runs the machine's actions; `tamper` changes the next REKEY after it was signed.
    async fn pump(&mut self, mut tamper: bool) -> Result<Vec<ControlOutcome>, String> {
        let mut outcomes = Vec::new();
        while let Some(a) = self.link.poll_action() {
            match a {
                RicAction::DataPlane(op) => self.apply(op).await.map_err(|e| format!("data plane: {e}"))?,
                RicAction::SendControl { mut message, .. } => {
                    if let ControlMessage::Rekey(c) = &mut message {
                        if tamper {
                            c.grace_ms += 1;
                            tamper = false;
                        } else {
                            self.sent.push((c.epoch, message.clone()));
                        }
                    }
                    let o = self.send(&message).await?;
                    let _ = self.link.on_outcome(&o, Instant::now());
                    outcomes.push(o);
                }
                other => self.events.push(other),
            }
        }
        Ok(outcomes)
    }

    /// Feeds the REPORTs received so far (the node's next KEM key, its current SA).
    fn feed_reports(&mut self) {
        while let Ok(ind) = self.reports.indications.try_recv() {
            if let Ok(m) = IndicationMessage::decode(&ind.message) {
                let _ = self.link.on_report(&m, SystemTime::now());
                self.last_report = Some(m);
            }
        }
    }

    /// Waits for a REPORT newer than now (the node's view after what was just sent).
    async fn fresh_report(&mut self) -> Option<IndicationMessage> {
        self.feed_reports();
        let ind = tokio::time::timeout(Duration::from_secs(3), self.reports.recv()).await.ok()??;
        let m = IndicationMessage::decode(&ind.message).ok()?;
        let _ = self.link.on_report(&m, SystemTime::now());
        self.last_report = Some(m.clone());
        Some(m)
    }

    async fn qkd_key(&self) -> Result<Key, String> {
        let mut keys =
            self.kme.enc_keys(&self.node_sae, &KeyRequest::new(1, None)).await.map_err(|e| e.to_string())?.keys;
        keys.pop().ok_or_else(|| "enc_keys returned no key".to_string())
    }

    fn last_done_epoch(&self) -> Option<u32> {
        self.events.iter().rev().find_map(|e| match e {
            RicAction::RekeyDone { epoch, key_source: KeySource::Hybrid, .. } => Some(*epoch),
            _ => None,
        })
    }

    /// Drives the machine's timers until no REKEY is outstanding (retransmissions of the
    /// genuine command included), at most 15 s.
    async fn settle(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.link.security().outstanding_rekey.is_some() {
            if Instant::now() > deadline {
                return Err("a REKEY stayed outstanding for 15 s".into());
            }
            let at = self.link.poll_timeout().unwrap_or_else(|| Instant::now() + Duration::from_millis(100));
            tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
            self.link.handle_timeout(Instant::now());
            self.feed_reports();
            self.pump(false).await?;
        }
        Ok(())
    }

    /// One honest hybrid rekey, then the old SAs' grace.
    async fn honest_rekey(&mut self) -> Result<u32, String> {
        self.feed_reports();
        let key = self.qkd_key().await?;
        let spis = self.spis.allocate_pair().map_err(|e| e.to_string())?;
        let epoch = self
            .link
            .start_rekey(Instant::now(), KeySourceMode::QkdAndPqc, Some(key), spis)
            .map_err(|e| e.to_string())?;
        self.pump(false).await?;
        self.settle().await?;
        let done = self.last_done_epoch() == Some(epoch);
        let last = if done { String::new() } else { format!(" (last event: {:?})", self.events.last()) };
        self.expect(done, format!("honest hybrid rekey to epoch {epoch}{last}"));
        // grace: let the machine delete the old SAs once due
        let until = Instant::now() + Duration::from_millis(600);
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(100)).await;
            self.link.handle_timeout(Instant::now());
            self.pump(false).await?;
            self.feed_reports();
        }
        Ok(epoch)
    }

    /// The node's current SA as its REPORT states it: (epoch, inbound SPI, outbound SPI).
    async fn node_sa(&mut self) -> Option<(u32, u32, u32)> {
        let r = self.fresh_report().await?;
        r.current_sa.map(|s| (s.epoch, s.spi_ric_to_node, s.spi_node_to_ric))
    }

    /// Sends a REKEY the node must refuse with `cause`; checks that the node's SA did not change.
    async fn refused(
        &mut self,
        what: &str,
        cause: ControlFailureCause,
        outcomes: Vec<ControlOutcome>,
        before: Option<(u32, u32, u32)>,
    ) {
        let got = outcomes.last().map(|o| o.result);
        self.expect(
            got == Some(ControlResult::Failure(cause)),
            format!("{what}: refused with {cause:?} (got {got:?})"),
        );
        let after = self.node_sa().await;
        self.expect(
            before.is_some() && after == before,
            format!("{what}: the node's SA unchanged ({before:?} -> {after:?})"),
        );
    }
}

async fn run(cli: Cli) -> Result<serde_json::Value, String> {
    let read = |name: &str| {
        std::fs::read_to_string(cli.pki_dir.join(name))
            .map_err(|e| format!("{}: {e}", cli.pki_dir.join(name).display()))
    };
    let stem = qsafe_pqc::pki::sae_file_stem(&cli.sae_id);
    let identity = CertifiedKey::from_pem(&read(&format!("{stem}.pem"))?, &read(&format!("{stem}.key"))?)
        .map_err(|e| e.to_string())?;
    let ca = read("ca.pem")?;
    let roots = parse_pem_certificates(&ca).map_err(|e| e.to_string())?;
    let anchors = Arc::new(TrustAnchors::from_pem(&ca).map_err(|e| e.to_string())?);
    let signer = Arc::new(LocalIdentity::from_certified_key(&identity).map_err(|e| e.to_string())?);
    let tls =
        qsafe_pqc::tls::client_config(&roots, Some(&identity), KeyExchangePolicy::HybridPreferred, AuthPolicy::Any)
            .map_err(|e| e.to_string())?;
    let kme =
        Etsi014Client::new(ClientConfig::new(cli.kme.clone(), tls, cli.kme_id.clone())).map_err(|e| e.to_string())?;
    let dp =
        BrokerClient::connect_with_retry(&cli.xfrm_broker, Duration::from_secs(5)).await.map_err(|e| e.to_string())?;

    let ric_id =
        qsafe_asn1::e2ap::build::ric_id(qsafe_asn1::e2ap::build::plmn("001", "01").map_err(|e| e.to_string())?, 5)
            .map_err(|e| e.to_string())?;
    let server = RicServer::spawn(RicConfig::new(ric_id, 1001), RicServerOptions::default());
    let handle = server.handle();
    let mut events = handle.events();
    let listener = SctpListener::bind(cli.listen, SctpOptions::default()).await.map_err(|e| format!("listen: {e}"))?;
    let _accept = handle.serve_sctp(listener);
    eprintln!("[hostile] serving E2 on {}", cli.listen);

    let node = tokio::time::timeout(Duration::from_secs_f64(cli.wait), async {
        loop {
            if let Ok(ric::Event::NodeConnected { node, .. }) = events.recv().await {
                return node;
            }
        }
    })
    .await
    .map_err(|_| "no E2 node set up in time")?;
    let registry = handle.registry().await.map_err(|e| e.to_string())?;
    let f = registry
        .get(&node)
        .and_then(|n| n.ran_functions.get(&QKD_RAN_FUNCTION_ID))
        .ok_or("the node offers no E2SM-QKD")?
        .clone();
    let def = RanFunctionDefinition::decode(&f.definition).map_err(|e| e.to_string())?;
    let peer = match handle.peer(&node).await.map_err(|e| e.to_string())? {
        Some(Peer::Sctp(p)) => p,
        other => return Err(format!("not an SCTP peer: {other:?}")),
    };
    let mut cfg = RicLinkConfig::new(cli.sae_id.clone(), def.node_sae_id.clone());
    cfg.mode = KeySourceMode::QkdAndPqc;
    cfg.grace = Duration::from_millis(300);
    // The first REKEY waits for the node's first TLS handshake with KME B: generous under load.
    cfg.rekey_timeout = Duration::from_secs(3);
    let mut link = RicLink::new(cfg, signer, anchors);
    link.on_ran_function(&def, SystemTime::now()).map_err(|e| format!("RAN function definition: {e}"))?;

    // Every REPORT carries a fresh KEM key and the node keeps its last 16: at 500 ms the key a
    // REKEY was encapsulated to lives 8 s, beyond a retransmission (3 s timeout). (At 100 ms it
    // was evicted before the genuine retransmission of a tampered REKEY: unknown-kem-key.)
    let trigger = EventTrigger::periodic(500, true).encode().map_err(|e| e.to_string())?;
    let adef = ActionDefinition { include_next_kem_key: true }.encode().map_err(|e| e.to_string())?;
    let reports = handle
        .subscribe(
            &node,
            SubscriptionRequest {
                ran_function_id: QKD_RAN_FUNCTION_ID,
                event_trigger: trigger.into(),
                actions: vec![action(1, asn::RICactionType::report, Some(&adef))],
            },
        )
        .await
        .map_err(|e| format!("E2SM-QKD subscription: {e}"))?;
    let ktrigger = kpm::periodic_trigger(100).encode_aper().map_err(|e| e.to_string())?;
    let kdef = kpm::action_definition_format1(&["DRB.UEThpDl"], 100)
        .map_err(|e| e.to_string())?
        .encode_aper()
        .map_err(|e| e.to_string())?;
    let mut kpm_sub = handle
        .subscribe(
            &node,
            SubscriptionRequest {
                ran_function_id: 2,
                event_trigger: ktrigger.into(),
                actions: vec![action(1, asn::RICactionType::report, Some(&kdef))],
            },
        )
        .await
        .map_err(|e| format!("KPM subscription: {e}"))?;
    // KPM: count, and check the node's sequence (no gap, no reordering).
    let (kpm_count, kpm_gaps) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let kpm_task = {
        let (count, gaps) = (kpm_count.clone(), kpm_gaps.clone());
        tokio::spawn(async move {
            let mut next: Option<u64> = None;
            while let Some(ind) = kpm_sub.recv().await {
                match read_stamp(&ind.header, &ind.message) {
                    Ok(s) => {
                        if next.is_some_and(|n| s.seq != n) {
                            gaps.fetch_add(1, Ordering::Relaxed);
                        }
                        next = Some(s.seq + 1);
                    }
                    Err(_) => {
                        gaps.fetch_add(1, Ordering::Relaxed);
                    }
                }
                count.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let mut h = Hostile {
        handle: handle.clone(),
        node: node.clone(),
        node_sae: def.node_sae_id.clone(),
        link,
        dp,
        dp_link: Link::association(cli.listen, peer, 0x77),
        spis: SpiAllocator::starting_at(0x0077_0000),
        kme,
        events: Vec::new(),
        reports,
        last_report: None,
        sent: Vec::new(),
        failures: Vec::new(),
    };
    // The node's first KEM key comes with its RAN function definition; later ones in REPORTs.
    for _ in 0..cli.rekeys {
        h.honest_rekey().await?;
    }

    // 1. tampered REKEY
    let before = h.node_sa().await;
    let spis = h.spis.allocate_pair().map_err(|e| e.to_string())?;
    let key = h.qkd_key().await?;
    h.link.start_rekey(Instant::now(), KeySourceMode::QkdAndPqc, Some(key), spis).map_err(|e| e.to_string())?;
    let tampered = h.link.security().outstanding_rekey.unwrap_or_default();
    let outcomes = h.pump(true).await?;
    h.refused("tampered REKEY (grace changed after signing)", ControlFailureCause::BadSignature, outcomes, before)
        .await;
    // The RIC knows its signature is good: it retransmits the genuine REKEY, which the node
    // applies (the tampered copy did not spend the epoch).
    h.settle().await?;
    let applied = h.last_done_epoch() == Some(tampered);
    h.expect(applied, format!("the genuine retransmission of REKEY {tampered} applied"));
    h.honest_rekey().await?;

    // 2. replayed REKEY: the first applied REKEY's bytes, an old epoch
    let before = h.node_sa().await;
    let (old_epoch, old) = h.sent.first().cloned().ok_or("no REKEY sent")?;
    let outcome = h.send(&old).await?;
    h.refused(
        &format!("replayed REKEY of epoch {old_epoch}"),
        ControlFailureCause::ReplayedEpoch,
        vec![outcome],
        before,
    )
    .await;
    h.honest_rekey().await?;

    // 3. key-ID desync: a key_ID KME B never issued
    let before = h.node_sa().await;
    let bogus = Key::new(KeyId::from_random_bytes([0x5a; 16]), KeyMaterial::from_slice(&[0x33u8; 32]));
    let spis = h.spis.allocate_pair().map_err(|e| e.to_string())?;
    h.feed_reports();
    let bad_epoch =
        h.link.start_rekey(Instant::now(), KeySourceMode::QkdAndPqc, Some(bogus), spis).map_err(|e| e.to_string())?;
    let outcomes = h.pump(false).await?;
    h.refused(
        &format!("REKEY {bad_epoch} with a key_ID unknown to KME B"),
        ControlFailureCause::QkdKeyNotFound,
        outcomes,
        before,
    )
    .await;
    let recovered = h.honest_rekey().await?;
    h.expect(recovered > bad_epoch, format!("recovered with a fresh key at epoch {recovered} > {bad_epoch}"));
    for _ in 1..cli.rekeys {
        h.honest_rekey().await?;
    }

    let counters_in = match h.last_report.as_ref().and_then(|r| r.current_sa.as_ref()) {
        Some(sa) => h.dp.sa_counters(h.dp_link, Direction::Inbound, sa.spi_node_to_ric).await.ok(),
        None => None,
    };
    let received = kpm_count.load(Ordering::Relaxed);
    let gaps = kpm_gaps.load(Ordering::Relaxed);
    h.expect(received > 0 && gaps == 0, format!("KPM: {received} indications, {gaps} out of sequence"));
    let epoch = h.link.security().max_epoch;
    let _ = h.dp.delete_all(h.dp_link).await;
    let _ = h.dp.release_esp(h.dp_link).await;
    kpm_task.abort();
    server.shutdown().await;
    Ok(serde_json::json!({
        "node": node.to_string(),
        "max_epoch": epoch,
        "kpm_indications": received,
        "kpm_out_of_sequence": gaps,
        "ric_inbound_sa_packets": counters_in.map(|c| c.packets),
        "failures": h.failures,
    }))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hostile_ric: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(summary) => {
            println!("{summary}");
            if summary["failures"].as_array().is_some_and(|f| f.is_empty()) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("hostile_ric: {e}");
            ExitCode::FAILURE
        }
    }
}
