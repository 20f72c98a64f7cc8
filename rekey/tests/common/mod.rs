//! Back-to-back RIC <-> node harness: real ML-DSA-65 certificates, real ML-KEM-768, an
//! in-memory KME pair and a tiny "kernel" per side applying the DataPlaneOps.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use qsafe_pqc::kem::{AwsLcKem, KemAlgorithm};
use qsafe_pqc::pki::{CertificateAuthority, CertifiedKey, LeafProfile, LeafUsage, SignatureAlgorithm};
use qsafe_qkd::api::{Key, KeyId, KeyMaterial};
use qsafe_rekey::e2sm_qkd::{ControlFailureCause, ControlHeader, ControlMessage, ControlOutcome, KeySourceMode};
use qsafe_rekey::{
    DataPlaneOp, LocalIdentity, NodeAction, NodeLink, NodeLinkConfig, QkdFetchError, RicAction, RicLink, RicLinkConfig,
    SpiAllocator, TrustAnchors,
};

pub const RIC: &str = "ric-sae-1";
pub const NODE: &str = "gnb-sae-1";

pub struct Pki {
    pub root: CertificateAuthority,
    pub ric: CertifiedKey,
    pub node: CertifiedKey,
    pub other_root: CertificateAuthority,
    pub other_ric: CertifiedKey,
    pub other_node: CertifiedKey,
}

pub fn pki() -> &'static Pki {
    static P: OnceLock<Pki> = OnceLock::new();
    P.get_or_init(|| {
        const YEAR: Duration = Duration::from_secs(365 * 86_400);
        let root = CertificateAuthority::new_root("root", SignatureAlgorithm::MlDsa65, 10 * YEAR).unwrap();
        let ca = root.new_intermediate("ric ca", SignatureAlgorithm::MlDsa65, 5 * YEAR).unwrap();
        let ric = ca.issue(&LeafProfile::new("xapp", LeafUsage::Client)).unwrap();
        let node =
            root.issue(&LeafProfile::new("gnb", LeafUsage::ServerAndClient).with_dns_name("gnb.example")).unwrap();
        let other_root = CertificateAuthority::new_root("other", SignatureAlgorithm::MlDsa65, 10 * YEAR).unwrap();
        let other_ric = other_root.issue(&LeafProfile::new("xapp", LeafUsage::Client)).unwrap();
        let other_node = other_root.issue(&LeafProfile::new("gnb", LeafUsage::Client)).unwrap();
        Pki { root, ric, node, other_root, other_ric, other_node }
    })
}

pub fn anchors() -> Arc<TrustAnchors> {
    Arc::new(TrustAnchors::from_der(vec![pki().root.certificate().clone()]).unwrap())
}

#[derive(Default)]
pub struct Kernel {
    /// spi → (epoch, keymat)
    pub inbound: BTreeMap<u32, (u32, [u8; 36])>,
    /// install order; newest last: (epoch, spi, keymat)
    pub outbound: Vec<(u32, u32, [u8; 36])>,
    pub esp_required: bool,
    pub released: Vec<u32>,
    pub rx_packets: HashMap<u32, u64>,
}

impl Kernel {
    pub fn apply(&mut self, op: DataPlaneOp) {
        match op {
            DataPlaneOp::InstallInbound(sa) => {
                assert!(self.inbound.insert(sa.spi, (sa.epoch, *sa.keymat)).is_none(), "inbound SPI reused");
            }
            DataPlaneOp::InstallOutbound(sa) => self.outbound.push((sa.epoch, sa.spi, *sa.keymat)),
            DataPlaneOp::Delete { direction: _, spi, epoch } => {
                if let Some((e, _)) = self.inbound.get(&spi)
                    && *e == epoch
                {
                    self.inbound.remove(&spi);
                }
                self.outbound.retain(|o| !(o.1 == spi && o.0 == epoch));
                self.released.push(spi);
            }
            DataPlaneOp::RequireEsp => self.esp_required = true,
            DataPlaneOp::ReleaseEsp => self.esp_required = false,
            DataPlaneOp::DeleteAll => {
                self.inbound.clear();
                self.outbound.clear();
            }
        }
    }
    /// The SA the kernel encrypts with (the newest outbound), if ESP is in force.
    pub fn current_out(&self) -> Option<(u32, u32, [u8; 36])> {
        self.outbound.last().copied()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    Ok,
    NotFound,
    Unavailable,
}

pub struct World {
    pub ric: RicLink,
    pub node: NodeLink,
    pub rk: Kernel,
    pub nk: Kernel,
    pub spis: SpiAllocator,
    pub kme: HashMap<KeyId, Vec<u8>>,
    pub to_node: VecDeque<(ControlHeader, ControlMessage)>,
    pub to_ric: VecDeque<ControlOutcome>,
    pub ric_events: Vec<RicAction>,
    pub node_events: Vec<NodeAction>,
    pub now: Instant,
    pub wall: SystemTime,
    pub fetch: Fetch,
    /// Drop the next n messages in each direction.
    pub drop_to_node: usize,
    pub drop_to_ric: usize,
    pub applied_epochs: Vec<u32>,
    pub key_counter: u64,
    /// Packets the node saw under each epoch (for evidence).
    pub check_invariant: bool,
}

pub fn ric_cfg() -> RicLinkConfig {
    let mut c = RicLinkConfig::new(RIC, NODE);
    c.grace = Duration::from_millis(500);
    c.rekey_timeout = Duration::from_millis(200);
    c.max_retransmits = 3;
    c
}

pub fn node_cfg() -> NodeLinkConfig {
    let mut c = NodeLinkConfig::new(NODE, "kme-b");
    c.ric_sae_id = Some(RIC.into());
    c.grace = Duration::from_millis(500);
    c.hard_cap = Duration::from_secs(3600);
    c
}

impl World {
    pub fn new() -> Self {
        Self::with(ric_cfg(), node_cfg(), &pki().ric, &pki().node)
    }

    pub fn with(rc: RicLinkConfig, nc: NodeLinkConfig, ric_id: &CertifiedKey, node_id: &CertifiedKey) -> Self {
        let ric = RicLink::new(rc, Arc::new(LocalIdentity::from_certified_key(ric_id).unwrap()), anchors());
        let node = NodeLink::new(
            nc,
            Arc::new(LocalIdentity::from_certified_key(node_id).unwrap()),
            anchors(),
            Arc::new(AwsLcKem::new(KemAlgorithm::MlKem768).unwrap()),
        )
        .unwrap();
        World {
            ric,
            node,
            rk: Kernel::default(),
            nk: Kernel::default(),
            spis: SpiAllocator::starting_at(0x1000),
            kme: HashMap::new(),
            to_node: VecDeque::new(),
            to_ric: VecDeque::new(),
            ric_events: Vec::new(),
            node_events: Vec::new(),
            now: Instant::now(),
            wall: SystemTime::now(),
            fetch: Fetch::Ok,
            drop_to_node: 0,
            drop_to_ric: 0,
            applied_epochs: Vec::new(),
            key_counter: 0,
            check_invariant: true,
        }
    }

    pub fn bootstrap(&mut self) {
        let def = self.node.ran_function_definition().unwrap();
        self.ric.on_ran_function(&def, self.wall).unwrap();
    }

    /// A fresh QKD key, known to both KMEs.
    pub fn qkd_key(&mut self) -> Key {
        self.key_counter += 1;
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.key_counter.to_be_bytes());
        b[8] = 0x42;
        let id = KeyId::from_random_bytes(b);
        let bytes = vec![(self.key_counter & 0xff) as u8 ^ 0x5a; 32];
        self.kme.insert(id, bytes.clone());
        Key::new(id, KeyMaterial::from_slice(&bytes))
    }

    /// Checks make-before-break: each sender's current outbound SA is installed inbound at the
    /// receiver with the same key.
    pub fn invariant(&self) {
        if !self.check_invariant {
            return;
        }
        for (name, tx, rx) in [("RIC->node", &self.rk, &self.nk), ("node->RIC", &self.nk, &self.rk)] {
            if let Some((epoch, spi, key)) = tx.current_out() {
                let got = rx.inbound.get(&spi);
                assert_eq!(
                    got,
                    Some(&(epoch, key)),
                    "{name}: sender uses epoch {epoch} SPI {spi:#x}, receiver lacks it"
                );
            }
        }
    }

    fn ric_action(&mut self, a: RicAction) {
        match a {
            RicAction::DataPlane(op) => {
                if let DataPlaneOp::Delete { spi, .. } = &op {
                    self.spis.release(*spi);
                }
                self.rk.apply(op);
                self.invariant();
            }
            RicAction::SendControl { header, message } => {
                if self.drop_to_node > 0 {
                    self.drop_to_node -= 1;
                } else {
                    self.to_node.push_back((header, message));
                }
            }
            other => self.ric_events.push(other),
        }
    }

    fn node_action(&mut self, a: NodeAction) {
        match a {
            NodeAction::DataPlane(op) => {
                if let DataPlaneOp::InstallOutbound(sa) = &op {
                    self.applied_epochs.push(sa.epoch);
                }
                self.nk.apply(op);
                self.invariant();
            }
            NodeAction::FetchQkdKey { key_id, master_sae_id } => {
                assert_eq!(master_sae_id, RIC);
                let r = match self.fetch {
                    Fetch::Ok => match self.kme.remove(&key_id) {
                        Some(b) => Ok(Key::new(key_id, KeyMaterial::from_slice(&b))),
                        None => Err(QkdFetchError::NotFound),
                    },
                    Fetch::NotFound => Err(QkdFetchError::NotFound),
                    Fetch::Unavailable => Err(QkdFetchError::Unavailable),
                };
                self.node.on_qkd_key(r, self.now).unwrap();
            }
            NodeAction::SendOutcome { outcome, .. } => {
                if self.drop_to_ric > 0 {
                    self.drop_to_ric -= 1;
                } else {
                    self.to_ric.push_back(outcome);
                }
            }
            other => self.node_events.push(other),
        }
    }

    /// Runs actions and delivers every queued message until nothing moves.
    pub fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(a) = self.ric.poll_action() {
                moved = true;
                self.ric_action(a);
            }
            while let Some(a) = self.node.poll_action() {
                moved = true;
                self.node_action(a);
            }
            if let Some((h, m)) = self.to_node.pop_front() {
                moved = true;
                self.node.on_control(&h, &m, self.wall, self.now).unwrap();
            }
            if let Some(o) = self.to_ric.pop_front() {
                moved = true;
                let _ = self.ric.on_outcome(&o, self.now);
            }
            if !moved {
                break;
            }
        }
    }

    /// RIC → node and node → RIC data packets under the current SAs; feeds the node's
    /// counters (evidence). Panics if a packet would not decrypt.
    pub fn traffic(&mut self) {
        if let Some((epoch, spi, key)) = self.rk.current_out() {
            let (e, k) = self.nk.inbound.get(&spi).copied().expect("RIC->node packet: no inbound SA");
            assert_eq!((e, k), (epoch, key), "RIC->node key mismatch");
            *self.nk.rx_packets.entry(spi).or_default() += 1;
            self.node.on_sa_usage(epoch, 1, self.now);
        }
        if let Some((epoch, spi, key)) = self.nk.current_out() {
            let (e, k) = self.rk.inbound.get(&spi).copied().expect("node->RIC packet: no inbound SA");
            assert_eq!((e, k), (epoch, key), "node->RIC key mismatch");
        }
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.ric.handle_timeout(self.now);
        self.node.handle_timeout(self.now);
        self.pump();
    }

    /// Starts a rekey in `mode` (with a QKD key when `qkd`) and runs it to the end.
    pub fn rekey(&mut self, mode: KeySourceMode, qkd: bool) -> Result<u32, qsafe_rekey::RekeyError> {
        let key = qkd.then(|| self.qkd_key());
        let spis = self.spis.allocate_pair().unwrap();
        match self.ric.start_rekey(self.now, mode, key, spis) {
            Ok(e) => {
                self.pump();
                Ok(e)
            }
            Err(e) => {
                self.spis.release(spis.0);
                self.spis.release(spis.1);
                Err(e)
            }
        }
    }

    pub fn last_ric_event(&self) -> Option<&RicAction> {
        self.ric_events.iter().rev().find(|e| !matches!(e, RicAction::StateChanged(_)))
    }

    pub fn last_node_cause(&self) -> Option<ControlFailureCause> {
        None
    }
}

/// The cause of the last outcome the node sent (captures outcomes by peeking at to_ric).
pub fn cause_of(o: &ControlOutcome) -> Option<ControlFailureCause> {
    match o.result {
        qsafe_rekey::e2sm_qkd::ControlResult::Failure(c) => Some(c),
        _ => None,
    }
}
