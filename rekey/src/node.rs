//! The E2 node side of one E2 link (ETSI 014 slave SAE), sans-IO.
//!
//! Inputs: [`NodeLink::on_control`], [`NodeLink::on_qkd_key`], [`NodeLink::on_sa_usage`],
//! [`NodeLink::on_association_lost`], [`NodeLink::handle_timeout`]; outputs:
//! [`NodeLink::poll_action`], [`NodeLink::poll_timeout`]. Time is passed in.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use qsafe_asn1::e2sm_qkd::{
    ControlCommand, ControlFailureCause, ControlHeader, ControlMessage, ControlOutcome, ControlResult, CurrentSa,
    IndicationMessage, KemAlgorithm, KeySource, KeySourceMode, LinkState, RAN_FUNCTION_DESCRIPTION, RAN_FUNCTION_OID,
    RAN_FUNCTION_SHORT_NAME, RanFunctionDefinition, RekeyCommand, SignedKemKey,
};
use qsafe_pqc::kem::{Ciphertext, DecapsulationKey, Kem};
use tracing::{debug, warn};

use crate::common::{DeriveInput, derive_sas, kem_from_pqc, kem_to_pqc, key_id_from_bytes, satisfies, uses};
use crate::error::NodeError;
use crate::sa::{DataPlaneOp, Direction};
use crate::tbs;
use crate::trust::{LocalIdentity, PeerIdentity, TrustAnchors};

/// Why the node's KME could not deliver a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QkdFetchError {
    /// dec_keys: the key_ID is unknown (key-ID desync).
    NotFound,
    /// The KME could not be reached or failed.
    Unavailable,
}

/// Configuration of one node-side link.
#[derive(Debug, Clone)]
pub struct NodeLinkConfig {
    /// Our (slave) SAE ID.
    pub node_sae_id: String,
    /// Our KME's ID.
    pub node_kme_id: String,
    /// The RIC's (master) SAE ID; `None`: taken from the first verified REKEY, then pinned.
    pub ric_sae_id: Option<String>,
    /// Modes we support.
    pub supported_modes: Vec<KeySourceMode>,
    /// Mode in force until a SET-MODE: keys not satisfying it make the link `Degraded`.
    pub initial_mode: KeySourceMode,
    /// Our KEM.
    pub kem_algorithm: KemAlgorithm,
    /// Minimum wait before deleting old SAs (the REKEY's `grace_ms` is used when longer).
    pub grace: Duration,
    /// Old SAs are deleted this long after they were superseded even without evidence that
    /// the RIC switched (an alarm is raised).
    pub hard_cap: Duration,
    /// After the bootstrap REKEY (the one that installs the ESP-required policy), how long the
    /// node waits for evidence that the RIC switched to it before returning to bootstrap (the
    /// RIC sends in clear until it switches, which the node's policy drops). Must exceed the
    /// time the outcome takes to reach the RIC's key plane plus its reaction, including a late
    /// outcome after the RIC gave the epoch up (default 10 s).
    pub bootstrap_confirm: Duration,
    /// How many unused KEM keys are kept (default 16). Every REPORT (with
    /// `includeNextKemKey`) and every outcome carries a fresh key, and REPORTs
    /// queue behind application traffic: measured in the kernel tier (10 nodes,
    /// 1 000 KPM indications/s each, a rekey per second), the RIC sometimes
    /// adopted a key 4 generations old by the time its REKEY arrived. 16 keys
    /// cost 16 × 2 400 bytes of ML-KEM-768 decapsulation keys per link.
    pub kem_keys_kept: usize,
    /// How many SET-MODE/ISOLATE/RESTORE are accepted per epoch (replay memory).
    pub max_commands_per_epoch: usize,
}

impl NodeLinkConfig {
    /// Defaults: all modes, initial mode qkd-and-pqc, ML-KEM-768, grace 2 s, hard cap 20 s,
    /// bootstrap confirmation 10 s, 16 KEM keys.
    pub fn new(node_sae_id: impl Into<String>, node_kme_id: impl Into<String>) -> Self {
        NodeLinkConfig {
            node_sae_id: node_sae_id.into(),
            node_kme_id: node_kme_id.into(),
            ric_sae_id: None,
            supported_modes: vec![
                KeySourceMode::QkdAndPqc,
                KeySourceMode::AtLeastQkd,
                KeySourceMode::AtLeastPqc,
                KeySourceMode::Either,
            ],
            initial_mode: KeySourceMode::QkdAndPqc,
            kem_algorithm: KemAlgorithm::MlKem768,
            grace: Duration::from_secs(2),
            hard_cap: Duration::from_secs(20),
            bootstrap_confirm: Duration::from_secs(10),
            kem_keys_kept: 16,
            max_commands_per_epoch: 64,
        }
    }
}

/// What the node asks its driver to do.
#[derive(Debug)]
pub enum NodeAction {
    /// Execute a data-plane operation (in order).
    DataPlane(DataPlaneOp),
    /// Fetch the QKD key `key_id` from our KME (`dec_keys`, master = `master_sae_id`), then
    /// call [`NodeLink::on_qkd_key`].
    FetchQkdKey {
        /// The key_ID.
        key_id: qsafe_qkd::api::KeyId,
        /// The master SAE ID.
        master_sae_id: String,
    },
    /// Send the outcome: RIC CONTROL ACKNOWLEDGE when `success`, else RIC CONTROL FAILURE.
    SendOutcome {
        /// The signed outcome.
        outcome: ControlOutcome,
        /// Success or failure.
        success: bool,
    },
    /// Old SAs were deleted by the hard cap, without evidence that the RIC switched (alarm).
    HardCapExpired {
        /// The epoch deleted.
        epoch: u32,
    },
    /// The bootstrap REKEY of `epoch` was applied but no packet arrived under it within
    /// `bootstrap_confirm`: the RIC never switched (it gave the epoch up and its outcome never reached
    /// it). The node returned to bootstrap (SAs deleted, policy released) so that the RIC's
    /// next REKEY, which it sends in clear, is not dropped by the node's policy (alarm).
    BootstrapUnconfirmed {
        /// The epoch given up.
        epoch: u32,
    },
    /// The link state changed.
    StateChanged(LinkState),
}

/// Kernel counters of the current SA pair, for [`NodeLink::report`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SaCounters {
    /// Bytes in.
    pub inbound_bytes: u64,
    /// Packets in.
    pub inbound_packets: u64,
    /// Bytes out.
    pub outbound_bytes: u64,
    /// Packets out.
    pub outbound_packets: u64,
}

struct KemSlot {
    key: SignedKemKey,
    dk: DecapsulationKey,
}

#[derive(Debug, Clone)]
struct NodeSa {
    epoch: u32,
    spi_in: u32,
    spi_out: u32,
    key_source: KeySource,
    key_id: Option<[u8; 16]>,
    installed_at: Instant,
    /// When this SA pair was superseded by a newer one.
    retired_at: Option<Instant>,
    /// First evidence that the RIC sends with this epoch.
    evidence_at: Option<Instant>,
    grace: Duration,
}

struct PendingRekey {
    cmd: RekeyCommand,
    tbs: Vec<u8>,
    kem: Option<(DecapsulationKey, Ciphertext)>,
}

/// The E2 node side of one E2 link.
pub struct NodeLink {
    cfg: NodeLinkConfig,
    identity: Arc<LocalIdentity>,
    anchors: Arc<TrustAnchors>,
    kem: Arc<dyn Kem>,
    ric: Option<PeerIdentity>,
    ric_sae_id: Option<String>,
    kem_keys: VecDeque<KemSlot>,
    next_kem_id: u32,
    /// Highest epoch of any verified command.
    control_epoch: u32,
    /// SHA-384 of the signatures of the SET-MODE/ISOLATE/RESTORE accepted at `control_epoch`.
    seen: Vec<[u8; 48]>,
    last: Option<(ControlMessage, ControlOutcome, bool)>,
    pending: Option<PendingRekey>,
    sas: Vec<NodeSa>,
    mode: KeySourceMode,
    esp_required: bool,
    /// When the bootstrap REKEY was applied, until evidence that the RIC switched to it.
    unconfirmed_since: Option<Instant>,
    isolated: bool,
    last_state: LinkState,
    actions: VecDeque<NodeAction>,
}

impl fmt::Debug for NodeLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeLink")
            .field("node_sae_id", &self.cfg.node_sae_id)
            .field("control_epoch", &self.control_epoch)
            .field("sas", &self.sas)
            .field("mode", &self.mode)
            .field("esp_required", &self.esp_required)
            .field("isolated", &self.isolated)
            .field("kem_keys", &self.kem_keys.iter().map(|k| k.key.kem_key_id).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl NodeLink {
    /// A node link in bootstrap. `kem` must implement `cfg.kem_algorithm`.
    pub fn new(
        cfg: NodeLinkConfig,
        identity: Arc<LocalIdentity>,
        anchors: Arc<TrustAnchors>,
        kem: Arc<dyn Kem>,
    ) -> Result<Self, NodeError> {
        if kem_from_pqc(kem.algorithm()) != Some(cfg.kem_algorithm) {
            return Err(NodeError::Config("the KEM backend does not implement kem_algorithm"));
        }
        if cfg.supported_modes.is_empty() || cfg.kem_keys_kept == 0 {
            return Err(NodeError::Config("supported_modes and kem_keys_kept must not be empty"));
        }
        let mode = cfg.initial_mode;
        let ric_sae_id = cfg.ric_sae_id.clone();
        Ok(NodeLink {
            cfg,
            identity,
            anchors,
            kem,
            ric: None,
            ric_sae_id,
            kem_keys: VecDeque::new(),
            next_kem_id: 1,
            control_epoch: 0,
            seen: Vec::new(),
            last: None,
            pending: None,
            sas: Vec::new(),
            mode,
            esp_required: false,
            unconfirmed_since: None,
            isolated: false,
            last_state: LinkState::Unprotected,
            actions: VecDeque::new(),
        })
    }

    /// Our E2SM-QKD RAN function definition, with a freshly generated and signed first KEM key.
    pub fn ran_function_definition(&mut self) -> Result<RanFunctionDefinition, NodeError> {
        Ok(RanFunctionDefinition {
            short_name: RAN_FUNCTION_SHORT_NAME.into(),
            oid: RAN_FUNCTION_OID.into(),
            description: RAN_FUNCTION_DESCRIPTION.into(),
            node_sae_id: self.cfg.node_sae_id.clone(),
            node_kme_id: self.cfg.node_kme_id.clone(),
            supported_modes: self.cfg.supported_modes.clone(),
            certificate_chain: self.identity.chain.clone(),
            first_kem_key: self.next_kem_key()?,
        })
    }

    /// A fresh signed KEM key. The last `kem_keys_kept` unused keys stay usable; older ones are
    /// dropped (zeroized).
    pub fn next_kem_key(&mut self) -> Result<SignedKemKey, NodeError> {
        let (ek, dk) = self.kem.generate()?;
        let mut key = SignedKemKey {
            kem_key_id: self.next_kem_id,
            algorithm: self.cfg.kem_algorithm,
            encapsulation_key: Bytes::copy_from_slice(ek.as_bytes()),
            signature: Bytes::new(),
        };
        let t = tbs::kem_key_tbs(&self.cfg.node_sae_id, &key)?;
        key.signature = self.identity.sign(&t)?;
        self.next_kem_id = self.next_kem_id.wrapping_add(1).max(1);
        self.kem_keys.push_back(KemSlot { key: key.clone(), dk });
        while self.kem_keys.len() > self.cfg.kem_keys_kept {
            self.kem_keys.pop_front();
        }
        Ok(key)
    }

    /// Next action for the driver.
    pub fn poll_action(&mut self) -> Option<NodeAction> {
        self.actions.pop_front()
    }

    /// The mode in force.
    pub fn mode(&self) -> KeySourceMode {
        self.mode
    }

    /// Highest epoch of any verified command (never accepted again).
    pub fn control_epoch(&self) -> u32 {
        self.control_epoch
    }

    /// Epoch of the SAs in use (0: none).
    pub fn current_epoch(&self) -> u32 {
        self.sas.last().map_or(0, |s| s.epoch)
    }

    /// Epochs of all installed SA pairs (oldest first).
    pub fn installed_epochs(&self) -> Vec<u32> {
        self.sas.iter().map(|s| s.epoch).collect()
    }

    /// The link state as the node sees it.
    pub fn state(&self) -> LinkState {
        if self.isolated || (self.esp_required && self.sas.is_empty()) {
            return LinkState::Isolated;
        }
        match self.sas.last() {
            None => LinkState::Unprotected,
            Some(s) if satisfies(s.key_source, self.mode) => LinkState::Protected,
            Some(_) => LinkState::Degraded,
        }
    }

    /// Whether application (KPM) traffic may be sent: only when protected (ESP required and an
    /// SA pair installed) and not isolated.
    pub fn may_send_application_traffic(&self) -> bool {
        !self.isolated && self.esp_required && !self.sas.is_empty()
    }

    /// A REPORT of the link.
    pub fn report(
        &mut self,
        now: Instant,
        counters: SaCounters,
        kme_stored_keys: Option<u32>,
        include_next_kem_key: bool,
    ) -> Result<IndicationMessage, NodeError> {
        let next_kem_key = if include_next_kem_key { Some(self.next_kem_key()?) } else { None };
        Ok(IndicationMessage {
            link_state: self.state(),
            mode: self.mode,
            current_sa: self.sas.last().map(|s| CurrentSa {
                epoch: s.epoch,
                key_id: s.key_id,
                spi_ric_to_node: s.spi_in,
                spi_node_to_ric: s.spi_out,
                key_source: s.key_source,
                age_ms: u32::try_from(now.saturating_duration_since(s.installed_at).as_millis()).unwrap_or(u32::MAX),
                inbound_bytes: counters.inbound_bytes,
                inbound_packets: counters.inbound_packets,
                outbound_bytes: counters.outbound_bytes,
                outbound_packets: counters.outbound_packets,
            }),
            kme_stored_keys,
            next_kem_key,
        })
    }

    /// Kernel counters: `inbound_packets` received under the inbound SA of `epoch`. A packet
    /// under an epoch is the evidence that the RIC switched to it.
    pub fn on_sa_usage(&mut self, epoch: u32, inbound_packets: u64, now: Instant) {
        if inbound_packets == 0 {
            return;
        }
        if let Some(sa) = self.sas.iter_mut().find(|s| s.epoch == epoch)
            && sa.evidence_at.is_none()
        {
            sa.evidence_at = Some(now);
            self.unconfirmed_since = None;
        }
    }

    /// The E2 association died. Its SAs and ESP-required policy select that association's
    /// ports only, so they protect nothing any more: they are deleted and released, and the link
    /// returns to bootstrap (epochs keep increasing, the peer's KEM keys are kept). Application
    /// traffic is held until the next association's first REKEY protects it, so nothing is sent
    /// in clear on the new association. (Keeping them would not fail closed: a new association
    /// has new ports, which the old selectors do not cover; they would only pile up and block
    /// a later association that reuses the port pair.)
    pub fn on_association_lost(&mut self) {
        self.pending = None;
        self.unconfirmed_since = None;
        if !self.sas.is_empty() {
            self.actions.push_back(NodeAction::DataPlane(DataPlaneOp::DeleteAll));
            self.sas.clear();
        }
        if self.esp_required {
            self.actions.push_back(NodeAction::DataPlane(DataPlaneOp::ReleaseEsp));
        }
        self.esp_required = false;
        self.isolated = false;
        self.note_state();
    }

    /// When [`Self::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let n = self.sas.len();
        let mut best: Option<Instant> = self.unconfirmed_since.map(|t| t + self.cfg.bootstrap_confirm);
        for (i, sa) in self.sas.iter().enumerate() {
            if i + 1 == n {
                break;
            }
            let mut t = sa.retired_at.map(|r| r + self.cfg.hard_cap);
            if let Some(e) = self.sas[i + 1..].iter().filter_map(|y| y.evidence_at.map(|e| e + y.grace)).min() {
                t = Some(t.map_or(e, |t| t.min(e)));
            }
            if let Some(t) = t {
                best = Some(best.map_or(t, |b| b.min(t)));
            }
        }
        best
    }

    /// Timers: deleting superseded SAs once the RIC has provably switched past them (a packet
    /// arrived under a newer inbound SA, and the grace period has passed since), or at the hard
    /// cap; returning to bootstrap when the RIC never switched to the bootstrap epoch
    /// (`bootstrap_confirm`).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.unconfirmed_since.is_some_and(|t| t + self.cfg.bootstrap_confirm <= now) {
            self.unconfirmed_since = None;
            let epoch = self.current_epoch();
            warn!(epoch, "bootstrap REKEY applied but the RIC never switched to it: back to bootstrap");
            self.pending = None;
            if !self.sas.is_empty() {
                self.actions.push_back(NodeAction::DataPlane(DataPlaneOp::DeleteAll));
                self.sas.clear();
            }
            if self.esp_required {
                self.esp_required = false;
                self.actions.push_back(NodeAction::DataPlane(DataPlaneOp::ReleaseEsp));
            }
            self.actions.push_back(NodeAction::BootstrapUnconfirmed { epoch });
            self.note_state();
            return;
        }
        let n = self.sas.len();
        if n < 2 {
            return;
        }
        let mut keep = Vec::with_capacity(n);
        let sas = std::mem::take(&mut self.sas);
        for (i, sa) in sas.iter().enumerate() {
            if i + 1 == n {
                keep.push(sa.clone());
                continue;
            }
            let evidence = sas[i + 1..].iter().any(|y| y.evidence_at.is_some_and(|e| e + y.grace <= now));
            let capped = sa.retired_at.is_some_and(|r| r + self.cfg.hard_cap <= now);
            if evidence || capped {
                if !evidence {
                    warn!(epoch = sa.epoch, "hard cap: deleting old SAs without evidence the RIC switched");
                    self.actions.push_back(NodeAction::HardCapExpired { epoch: sa.epoch });
                }
                self.delete_pair(sa);
            } else {
                keep.push(sa.clone());
            }
        }
        self.sas = keep;
    }

    fn delete_pair(&mut self, sa: &NodeSa) {
        self.actions.push_back(NodeAction::DataPlane(DataPlaneOp::Delete {
            direction: Direction::RicToNode,
            spi: sa.spi_in,
            epoch: sa.epoch,
        }));
        self.actions.push_back(NodeAction::DataPlane(DataPlaneOp::Delete {
            direction: Direction::NodeToRic,
            spi: sa.spi_out,
            epoch: sa.epoch,
        }));
    }

    fn note_state(&mut self) {
        let s = self.state();
        if s != self.last_state {
            self.last_state = s;
            self.actions.push_back(NodeAction::StateChanged(s));
        }
    }

    fn refuse(
        &mut self,
        command: ControlCommand,
        epoch: u32,
        answered_tbs: &[u8],
        cause: ControlFailureCause,
        next_kem_key: bool,
    ) -> Result<(), NodeError> {
        debug!(?command, epoch, ?cause, "CONTROL refused");
        let next = if next_kem_key { Some(self.next_kem_key()?) } else { None };
        let outcome = self.outcome(command, epoch, ControlResult::Failure(cause), next, answered_tbs)?;
        self.actions.push_back(NodeAction::SendOutcome { outcome, success: false });
        Ok(())
    }

    fn outcome(
        &self,
        command: ControlCommand,
        epoch: u32,
        result: ControlResult,
        next_kem_key: Option<SignedKemKey>,
        answered_tbs: &[u8],
    ) -> Result<ControlOutcome, NodeError> {
        let mut o = ControlOutcome { command, epoch, result, next_kem_key, signature: Bytes::new() };
        let t = tbs::outcome_tbs(&o, answered_tbs)?;
        o.signature = self.identity.sign(&t)?;
        Ok(o)
    }

    fn finish(&mut self, message: ControlMessage, outcome: ControlOutcome, success: bool) {
        self.actions.push_back(NodeAction::SendOutcome { outcome: outcome.clone(), success });
        self.last = Some((message, outcome, success));
    }

    /// Verifies the RIC's identity for a command: a chain in the command is verified (and
    /// cached); without one the cached chain is re-verified at `now_wall`.
    fn ric_identity(&mut self, chain: Option<&Vec<Bytes>>, now_wall: SystemTime) -> Option<PeerIdentity> {
        let chain = match chain {
            Some(c) => c.clone(),
            None => self.ric.as_ref()?.chain().to_vec(),
        };
        self.anchors.verify_chain(&chain, now_wall).ok()
    }

    /// A RIC CONTROL REQUEST with an E2SM-QKD header and message. Every refusal produces a
    /// signed [`NodeAction::SendOutcome`] and changes nothing (except that a verified REKEY's
    /// epoch is consumed). An accepted REKEY produces [`NodeAction::FetchQkdKey`] when it
    /// carries a key_ID, else completes at once. `Err` only for internal failures (signing).
    pub fn on_control(
        &mut self,
        header: &ControlHeader,
        message: &ControlMessage,
        now_wall: SystemTime,
        now: Instant,
    ) -> Result<(), NodeError> {
        let command = message.command();
        let (epoch, ric_sae_id, node_sae_id) = match message {
            ControlMessage::Rekey(c) => (c.epoch, &c.ric_sae_id, &c.node_sae_id),
            ControlMessage::SetMode(c) => (c.epoch, &c.ric_sae_id, &c.node_sae_id),
            ControlMessage::Isolate(c) => (c.epoch, &c.ric_sae_id, &c.node_sae_id),
        };
        let t = match tbs::control_tbs(message) {
            Ok(t) => t,
            Err(_) => return self.refuse(command, epoch, &[], ControlFailureCause::Malformed, false),
        };
        if header.command != command {
            return self.refuse(command, epoch, &t, ControlFailureCause::Malformed, false);
        }
        if *node_sae_id != self.cfg.node_sae_id || self.ric_sae_id.as_ref().is_some_and(|pinned| pinned != ric_sae_id) {
            return self.refuse(command, epoch, &t, ControlFailureCause::WrongSaeId, false);
        }
        // An exact retransmission of the last verified command gets its outcome again.
        if let Some((m, o, s)) = &self.last
            && m == message
        {
            let (o, s) = (o.clone(), *s);
            self.actions.push_back(NodeAction::SendOutcome { outcome: o, success: s });
            return Ok(());
        }
        if let Some(p) = &self.pending {
            if matches!(message, ControlMessage::Rekey(c) if *c == p.cmd) {
                return Ok(()); // retransmission while the QKD key is being fetched
            }
            return self.refuse(command, epoch, &t, ControlFailureCause::Busy, false);
        }
        let (signature, chain) = match message {
            ControlMessage::Rekey(c) => (&c.signature, c.ric_certificate_chain.as_ref()),
            ControlMessage::SetMode(c) => (&c.signature, None),
            ControlMessage::Isolate(c) => (&c.signature, None),
        };
        let sig_hash = tbs::tbs_hash(signature);
        let replayed = match message {
            ControlMessage::Rekey(_) => epoch <= self.control_epoch,
            _ => epoch < self.control_epoch || (epoch == self.control_epoch && self.seen.contains(&sig_hash)),
        };
        if replayed {
            return self.refuse(command, epoch, &t, ControlFailureCause::ReplayedEpoch, false);
        }
        let Some(ric) = self.ric_identity(chain, now_wall) else {
            return self.refuse(command, epoch, &t, ControlFailureCause::UntrustedCertificate, false);
        };
        if ric.verify(&t, signature).is_err() {
            return self.refuse(command, epoch, &t, ControlFailureCause::BadSignature, false);
        }
        // Verified: the RIC's identity and SAE ID are pinned; the epoch is consumed.
        self.ric = Some(ric);
        if self.ric_sae_id.is_none() {
            self.ric_sae_id = Some(ric_sae_id.clone());
        }
        if epoch > self.control_epoch {
            self.control_epoch = epoch;
            self.seen.clear();
        }
        match message {
            ControlMessage::Rekey(c) => self.on_rekey(c, t, message, now),
            ControlMessage::SetMode(c) => {
                if self.seen.len() >= self.cfg.max_commands_per_epoch {
                    return self.refuse(command, epoch, &t, ControlFailureCause::Busy, false);
                }
                self.seen.push(sig_hash);
                if !self.cfg.supported_modes.contains(&c.mode) {
                    let o = self.outcome(
                        command,
                        epoch,
                        ControlResult::Failure(ControlFailureCause::ModeNotSupported),
                        None,
                        &t,
                    )?;
                    self.finish(message.clone(), o, false);
                    return Ok(());
                }
                self.mode = c.mode;
                let src = self.sas.last().map_or(KeySource::Hybrid, |s| s.key_source);
                let o = self.outcome(command, epoch, ControlResult::Success(src), None, &t)?;
                self.finish(message.clone(), o, true);
                self.note_state();
                Ok(())
            }
            ControlMessage::Isolate(c) => {
                if self.seen.len() >= self.cfg.max_commands_per_epoch {
                    return self.refuse(command, epoch, &t, ControlFailureCause::Busy, false);
                }
                self.seen.push(sig_hash);
                let src = self.sas.last().map_or(KeySource::Hybrid, |s| s.key_source);
                let o = self.outcome(command, epoch, ControlResult::Success(src), None, &t)?;
                self.finish(message.clone(), o, true);
                if c.isolate {
                    // Ack first (it leaves under the current SA), then remove the SAs: the
                    // policy stays, so traffic stops.
                    self.isolated = true;
                    self.unconfirmed_since = None;
                    if !self.sas.is_empty() {
                        self.actions.push_back(NodeAction::DataPlane(DataPlaneOp::DeleteAll));
                        self.sas.clear();
                    }
                } else {
                    self.isolated = false;
                }
                self.note_state();
                Ok(())
            }
        }
    }

    fn on_rekey(
        &mut self,
        c: &RekeyCommand,
        t: Vec<u8>,
        message: &ControlMessage,
        now: Instant,
    ) -> Result<(), NodeError> {
        let fail = |s: &mut Self, cause| -> Result<(), NodeError> {
            let next = Some(s.next_kem_key()?);
            let o = s.outcome(ControlCommand::Rekey, c.epoch, ControlResult::Failure(cause), next, &t)?;
            s.finish(message.clone(), o, false);
            Ok(())
        };
        if !self.cfg.supported_modes.contains(&c.mode) {
            return fail(self, ControlFailureCause::ModeNotSupported);
        }
        let (uq, up) = uses(c.key_source);
        let fields_ok = c.key_id.is_some() == uq
            && c.kem_key_id.is_some() == up
            && c.kem_ciphertext.is_some() == up
            && crate::common::mode_to_hybrid(c.mode).select(uq, up).is_ok();
        if !fields_ok {
            return fail(self, ControlFailureCause::ModeViolation);
        }
        if c.spi_ric_to_node < 256 || c.spi_node_to_ric < 256 || c.spi_ric_to_node == c.spi_node_to_ric {
            return fail(self, ControlFailureCause::Malformed);
        }
        if self
            .sas
            .iter()
            .any(|s| [s.spi_in, s.spi_out].iter().any(|x| *x == c.spi_ric_to_node || *x == c.spi_node_to_ric))
        {
            return fail(self, ControlFailureCause::SpiInUse);
        }
        let mut kem = None;
        if let (Some(id), Some(ct)) = (c.kem_key_id, &c.kem_ciphertext) {
            let Some(pos) = self.kem_keys.iter().position(|k| k.key.kem_key_id == id) else {
                return fail(self, ControlFailureCause::UnknownKemKey);
            };
            // A KEM key is used at most once, whatever happens next.
            let Some(slot) = self.kem_keys.remove(pos) else {
                return fail(self, ControlFailureCause::UnknownKemKey);
            };
            let Ok(ct) = Ciphertext::from_bytes(kem_to_pqc(slot.key.algorithm), ct) else {
                return fail(self, ControlFailureCause::KemFailure);
            };
            kem = Some((slot.dk, ct));
        }
        self.pending = Some(PendingRekey { cmd: c.clone(), tbs: t, kem });
        if let Some(id) = c.key_id {
            self.actions.push_back(NodeAction::FetchQkdKey {
                key_id: key_id_from_bytes(id),
                master_sae_id: c.ric_sae_id.clone(),
            });
            Ok(())
        } else {
            self.complete(None, now)
        }
    }

    /// The result of the [`NodeAction::FetchQkdKey`] the node asked for.
    pub fn on_qkd_key(
        &mut self,
        result: Result<qsafe_qkd::api::Key, QkdFetchError>,
        now: Instant,
    ) -> Result<(), NodeError> {
        let Some(p) = &self.pending else {
            return Err(NodeError::NoPendingFetch);
        };
        let want = p.cmd.key_id;
        match result {
            Ok(k) if want.is_some_and(|w| key_id_from_bytes(w) == k.key_id) => self.complete(Some(k), now),
            Ok(_) => self.fail_pending(ControlFailureCause::KmeUnavailable),
            Err(QkdFetchError::NotFound) => self.fail_pending(ControlFailureCause::QkdKeyNotFound),
            Err(QkdFetchError::Unavailable) => self.fail_pending(ControlFailureCause::KmeUnavailable),
        }
    }

    fn fail_pending(&mut self, cause: ControlFailureCause) -> Result<(), NodeError> {
        let Some(p) = self.pending.take() else {
            return Err(NodeError::NoPendingFetch);
        };
        let next = Some(self.next_kem_key()?);
        let o = self.outcome(ControlCommand::Rekey, p.cmd.epoch, ControlResult::Failure(cause), next, &p.tbs)?;
        self.finish(ControlMessage::Rekey(p.cmd), o, false);
        Ok(())
    }

    fn complete(&mut self, qkd: Option<qsafe_qkd::api::Key>, now: Instant) -> Result<(), NodeError> {
        let Some(p) = self.pending.take() else {
            return Err(NodeError::NoPendingFetch);
        };
        let c = &p.cmd;
        let ss = match &p.kem {
            Some((dk, ct)) => match self.kem.decapsulate(dk, ct) {
                Ok(ss) => Some(ss),
                Err(_) => {
                    self.pending = Some(p);
                    return self.fail_pending(ControlFailureCause::KemFailure);
                }
            },
            None => None,
        };
        let derived = derive_sas(&DeriveInput {
            mode: c.mode,
            qkd: qkd.as_ref().and_then(|k| c.key_id.map(|id| (id, k.key.as_bytes()))),
            pqc: ss.as_ref().map(|s| s.expose_secret()),
            ric_sae_id: &c.ric_sae_id,
            node_sae_id: &c.node_sae_id,
            epoch: c.epoch,
            spi_ric_to_node: c.spi_ric_to_node,
            spi_node_to_ric: c.spi_node_to_ric,
            transcript: &p.tbs,
        });
        let derived = match derived {
            Ok(d) if d.source == c.key_source => d,
            Ok(_) => {
                self.pending = Some(p);
                return self.fail_pending(ControlFailureCause::ModeViolation);
            }
            Err(e) => {
                warn!(error = %e, "derivation refused");
                self.pending = Some(p);
                return self.fail_pending(ControlFailureCause::Malformed);
            }
        };
        let next = self.next_kem_key()?;
        let o =
            self.outcome(ControlCommand::Rekey, c.epoch, ControlResult::Success(derived.source), Some(next), &p.tbs)?;
        // Make before break: inbound first, then outbound (the switch), then the policy.
        self.actions.push_back(NodeAction::DataPlane(DataPlaneOp::InstallInbound(derived.ric_to_node)));
        self.actions.push_back(NodeAction::DataPlane(DataPlaneOp::InstallOutbound(derived.node_to_ric)));
        if !self.esp_required {
            // Bootstrap: from now on the node's policy drops the RIC's plaintext, so only the
            // RIC's switch to this epoch (on our outcome) keeps the link alive; see
            // `handle_timeout` for when that never happens.
            self.esp_required = true;
            self.unconfirmed_since = Some(now);
            self.actions.push_back(NodeAction::DataPlane(DataPlaneOp::RequireEsp));
        }
        let grace = self.cfg.grace.max(Duration::from_millis(u64::from(c.grace_ms)));
        if let Some(prev) = self.sas.last_mut() {
            prev.retired_at = Some(now);
        }
        self.sas.push(NodeSa {
            epoch: c.epoch,
            spi_in: c.spi_ric_to_node,
            spi_out: c.spi_node_to_ric,
            key_source: derived.source,
            key_id: c.key_id,
            installed_at: now,
            retired_at: None,
            evidence_at: None,
            grace,
        });
        debug!(epoch = c.epoch, source = ?derived.source, "REKEY applied");
        self.finish(ControlMessage::Rekey(p.cmd), o, true);
        self.note_state();
        Ok(())
    }
}
