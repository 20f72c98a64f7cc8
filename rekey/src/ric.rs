//! The RIC side of one E2 link (the xApp, ETSI 014 master SAE), sans-IO.
//!
//! Inputs are method calls ([`RicLink::on_ran_function`], [`RicLink::on_report`],
//! [`RicLink::on_outcome`], [`RicLink::start_rekey`], [`RicLink::set_mode`],
//! [`RicLink::isolate`], [`RicLink::restore`], [`RicLink::handle_timeout`]); outputs are polled
//! ([`RicLink::poll_action`], [`RicLink::poll_timeout`]). Time is passed in. See
//! `docs/rekey-protocol.md` for the protocol.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use qsafe_asn1::e2sm_qkd::{
    ControlCommand, ControlFailureCause, ControlHeader, ControlMessage, ControlOutcome, ControlResult,
    IndicationMessage, IsolateCommand, KeySource, KeySourceMode, LinkState, RanFunctionDefinition, RekeyCommand,
    SetModeCommand, SignedKemKey,
};
use qsafe_pqc::kem::{EncapsulationKey, KemBackend};
use tracing::{debug, warn};

use crate::common::{DeriveInput, derive_sas, kem_to_pqc, key_id_bytes, satisfies};
use crate::error::{RekeyError, RicError};
use crate::sa::{DataPlaneOp, Direction, SaSpec};
use crate::tbs;
use crate::trust::{LocalIdentity, PeerIdentity, TrustAnchors};

/// Configuration of one RIC-side link.
#[derive(Debug, Clone)]
pub struct RicLinkConfig {
    /// Our (master) SAE ID.
    pub ric_sae_id: String,
    /// The node's SAE ID (must match its RAN function definition).
    pub node_sae_id: String,
    /// The link's policy mode: keys that do not satisfy it make the link `Degraded`.
    pub mode: KeySourceMode,
    /// Old SAs are deleted this long after the switch (also sent to the node, max 600 s).
    pub grace: Duration,
    /// A CONTROL is sent again when no outcome arrived within this time.
    pub rekey_timeout: Duration,
    /// How many times a CONTROL is sent again before the RIC gives up.
    pub max_retransmits: u32,
}

impl RicLinkConfig {
    /// Defaults: mode qkd-and-pqc, grace 2 s, timeout 1 s, 3 retransmissions.
    pub fn new(ric_sae_id: impl Into<String>, node_sae_id: impl Into<String>) -> Self {
        RicLinkConfig {
            ric_sae_id: ric_sae_id.into(),
            node_sae_id: node_sae_id.into(),
            mode: KeySourceMode::QkdAndPqc,
            grace: Duration::from_secs(2),
            rekey_timeout: Duration::from_secs(1),
            max_retransmits: 3,
        }
    }
}

/// Why a rekey failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RekeyFailure {
    /// The node refused (signed outcome); nothing changed at the node.
    Node(ControlFailureCause),
    /// No verified outcome after all retransmissions; the epoch is abandoned.
    Timeout,
    /// Cancelled by [`RicLink::isolate`].
    Cancelled,
    /// The node's signed outcome names other sources than the REKEY (a node bug).
    SourceMismatch {
        /// What the REKEY said.
        sent: KeySource,
        /// What the outcome said.
        claimed: KeySource,
    },
}

/// Why a SET-MODE / ISOLATE / RESTORE failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlFailure {
    /// The node refused.
    Node(ControlFailureCause),
    /// No verified outcome after all retransmissions.
    Timeout,
}

/// What the RIC asks its driver to do.
#[derive(Debug)]
pub enum RicAction {
    /// Execute a data-plane operation (in order).
    DataPlane(DataPlaneOp),
    /// Send RIC CONTROL REQUEST with this E2SM-QKD header and message.
    SendControl {
        /// The header.
        header: ControlHeader,
        /// The message.
        message: ControlMessage,
    },
    /// A rekey completed: the RIC switched its outbound SA.
    RekeyDone {
        /// The new epoch.
        epoch: u32,
        /// Its sources.
        key_source: KeySource,
        /// From `start_rekey` to the verified outcome.
        latency: Duration,
        /// The QKD key_ID used.
        key_id: Option<[u8; 16]>,
    },
    /// A rekey failed (the epoch is never reused).
    RekeyFailed {
        /// The epoch.
        epoch: u32,
        /// Why.
        cause: RekeyFailure,
        /// Whether the QKD key was sent (it is then spent: never offer it again).
        qkd_key_consumed: bool,
    },
    /// SET-MODE / ISOLATE / RESTORE acknowledged by the node.
    ControlDone {
        /// Which.
        command: ControlCommand,
        /// Its epoch.
        epoch: u32,
    },
    /// SET-MODE / ISOLATE / RESTORE failed.
    ControlFailed {
        /// Which.
        command: ControlCommand,
        /// Its epoch.
        epoch: u32,
        /// Why.
        cause: ControlFailure,
    },
    /// The link state changed.
    StateChanged(LinkState),
}

/// A snapshot of the link's security, for the monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSecurity {
    /// The state.
    pub state: LinkState,
    /// Current epoch (0: never rekeyed).
    pub epoch: u32,
    /// Highest epoch issued or seen.
    pub max_epoch: u32,
    /// QKD key_ID of the current SAs.
    pub key_id: Option<[u8; 16]>,
    /// Sources of the current SAs.
    pub key_source: Option<KeySource>,
    /// When the current SAs were switched to.
    pub installed_at: Option<Instant>,
    /// The epoch of the REKEY awaiting its outcome.
    pub outstanding_rekey: Option<u32>,
    /// Current SPIs (RIC → node, node → RIC).
    pub spis: Option<(u32, u32)>,
    /// Policy mode.
    pub mode: KeySourceMode,
    /// Whether the ESP-required policy is installed.
    pub esp_required: bool,
    /// The node's last reported epoch.
    pub node_reported_epoch: Option<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Current {
    epoch: u32,
    spis: (u32, u32),
    key_source: KeySource,
    key_id: Option<[u8; 16]>,
    installed_at: Instant,
}

#[derive(Debug)]
enum Pending {
    Rekey { out_sa: SaSpec, key_source: KeySource, key_id: Option<[u8; 16]>, started: Instant, spis: (u32, u32) },
    Other { mode: Option<KeySourceMode> },
}

#[derive(Debug)]
struct Outstanding {
    epoch: u32,
    command: ControlCommand,
    message: ControlMessage,
    tbs: Vec<u8>,
    deadline: Instant,
    retransmits: u32,
    pending: Pending,
}

/// A REKEY given up after its retransmissions, remembered so that its outcome, should it still
/// arrive (a slow node; the node re-sends it while it waits for the RIC to switch), is adopted.
#[derive(Debug)]
struct Abandoned {
    epoch: u32,
    tbs: Vec<u8>,
    out_sa: SaSpec,
    key_source: KeySource,
    key_id: Option<[u8; 16]>,
    started: Instant,
    spis: (u32, u32),
}

/// How many abandoned REKEYs are remembered for a late outcome.
const ABANDONED_KEPT: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isolation {
    None,
    Requested,
    Isolated,
}

/// The RIC side of one E2 link.
#[derive(Debug)]
pub struct RicLink {
    cfg: RicLinkConfig,
    identity: Arc<LocalIdentity>,
    anchors: Arc<TrustAnchors>,
    peer: Option<PeerIdentity>,
    node_modes: Vec<KeySourceMode>,
    node_kme_id: Option<String>,
    kem_key: Option<SignedKemKey>,
    used_kem_ids: VecDeque<u32>,
    max_epoch: u32,
    mode: KeySourceMode,
    esp_required: bool,
    chain_acked: bool,
    current: Option<Current>,
    /// Installed inbound SAs (node → RIC): epoch → SPI.
    inbound: BTreeMap<u32, u32>,
    /// Outbound SAs (RIC → node) installed, or allocated for an abandoned epoch: epoch → SPI.
    outbound: BTreeMap<u32, u32>,
    deletes: Vec<(Instant, Direction, u32, u32)>,
    outstanding: Option<Outstanding>,
    /// REKEYs given up on whose outcome may still arrive (oldest first).
    abandoned: VecDeque<Abandoned>,
    isolation: Isolation,
    node_reported_epoch: Option<u32>,
    last_state: LinkState,
    actions: VecDeque<RicAction>,
}

impl RicLink {
    /// A link in bootstrap (no SA, waiting for the node's RAN function definition).
    pub fn new(cfg: RicLinkConfig, identity: Arc<LocalIdentity>, anchors: Arc<TrustAnchors>) -> Self {
        let mode = cfg.mode;
        RicLink {
            cfg,
            identity,
            anchors,
            peer: None,
            node_modes: Vec::new(),
            node_kme_id: None,
            kem_key: None,
            used_kem_ids: VecDeque::new(),
            max_epoch: 0,
            mode,
            esp_required: false,
            chain_acked: false,
            current: None,
            inbound: BTreeMap::new(),
            outbound: BTreeMap::new(),
            deletes: Vec::new(),
            outstanding: None,
            abandoned: VecDeque::new(),
            isolation: Isolation::None,
            node_reported_epoch: None,
            last_state: LinkState::Unprotected,
            actions: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RicLinkConfig {
        &self.cfg
    }

    /// The node's KME ID (from its RAN function definition).
    pub fn node_kme_id(&self) -> Option<&str> {
        self.node_kme_id.as_deref()
    }

    /// Modes the node supports.
    pub fn node_supported_modes(&self) -> &[KeySourceMode] {
        &self.node_modes
    }

    /// Whether a verified, unused KEM key of the node is at hand (ML-KEM possible).
    pub fn has_kem_key(&self) -> bool {
        self.kem_key.is_some()
    }

    /// The security snapshot.
    pub fn security(&self) -> LinkSecurity {
        LinkSecurity {
            state: self.state(),
            epoch: self.current.map_or(0, |c| c.epoch),
            max_epoch: self.max_epoch,
            key_id: self.current.and_then(|c| c.key_id),
            key_source: self.current.map(|c| c.key_source),
            installed_at: self.current.map(|c| c.installed_at),
            outstanding_rekey: self
                .outstanding
                .as_ref()
                .filter(|o| o.command == ControlCommand::Rekey)
                .map(|o| o.epoch),
            spis: self.current.map(|c| c.spis),
            mode: self.mode,
            esp_required: self.esp_required,
            node_reported_epoch: self.node_reported_epoch,
        }
    }

    /// The link state.
    pub fn state(&self) -> LinkState {
        if self.isolation == Isolation::Isolated {
            return LinkState::Isolated;
        }
        match &self.current {
            None => LinkState::Unprotected,
            Some(c) if satisfies(c.key_source, self.mode) => LinkState::Protected,
            Some(_) => LinkState::Degraded,
        }
    }

    /// Whether RIC Control (application traffic) may be sent to the node.
    pub fn may_send_control(&self) -> bool {
        self.isolation == Isolation::None
    }

    /// Next action for the driver.
    pub fn poll_action(&mut self) -> Option<RicAction> {
        self.actions.pop_front()
    }

    /// When [`Self::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let d = self.deletes.iter().map(|d| d.0).min();
        let o = self.outstanding.as_ref().map(|o| o.deadline);
        match (d, o) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The node's E2SM-QKD RAN function definition (from E2 Setup or RIC Service Update):
    /// verifies the node's chain and its first KEM key. On error nothing changes.
    pub fn on_ran_function(&mut self, def: &RanFunctionDefinition, now_wall: SystemTime) -> Result<(), RicError> {
        if def.node_sae_id != self.cfg.node_sae_id {
            return Err(RicError::WrongSaeId { expected: self.cfg.node_sae_id.clone(), got: def.node_sae_id.clone() });
        }
        let peer = self.anchors.verify_chain(&def.certificate_chain, now_wall).map_err(RicError::Untrusted)?;
        let ktbs = tbs::kem_key_tbs(&def.node_sae_id, &def.first_kem_key)?;
        peer.verify(&ktbs, &def.first_kem_key.signature).map_err(RicError::BadSignature)?;
        if def.supported_modes.is_empty() {
            return Err(RicError::Malformed("no supported modes"));
        }
        self.peer = Some(peer);
        self.node_modes = def.supported_modes.clone();
        self.node_kme_id = Some(def.node_kme_id.clone());
        self.kem_key = Some(def.first_kem_key.clone());
        self.used_kem_ids.clear();
        Ok(())
    }

    /// Raises the epoch floor: the next REKEY uses an epoch above `epoch`.
    /// For a node this RIC keyed before under another `RicLink` (e.g. the
    /// node reconnected after an isolation, when its REPORTs carry no current
    /// SA): its old epochs must never be reused, and the node would refuse
    /// them as replayed.
    pub fn raise_epoch_floor(&mut self, epoch: u32) {
        self.max_epoch = self.max_epoch.max(epoch);
    }

    /// A REPORT: adopts its next KEM key (after verifying it) and learns the node's epoch.
    pub fn on_report(&mut self, msg: &IndicationMessage, _now_wall: SystemTime) -> Result<(), RicError> {
        let peer = self.peer.as_ref().ok_or(RicError::NotBootstrapped)?;
        if let Some(k) = &msg.next_kem_key {
            let ktbs = tbs::kem_key_tbs(&self.cfg.node_sae_id, k)?;
            peer.verify(&ktbs, &k.signature).map_err(RicError::BadSignature)?;
            self.adopt_kem_key(k.clone());
        }
        if let Some(sa) = &msg.current_sa {
            self.node_reported_epoch = Some(sa.epoch);
            if sa.epoch > self.max_epoch {
                // The node applied an epoch we do not remember (e.g. after our restart): never
                // reuse it.
                warn!(node = %self.cfg.node_sae_id, epoch = sa.epoch, "node reports an epoch above ours");
                self.max_epoch = sa.epoch;
            }
        }
        Ok(())
    }

    fn adopt_kem_key(&mut self, k: SignedKemKey) {
        if self.used_kem_ids.contains(&k.kem_key_id) {
            return;
        }
        match &self.kem_key {
            Some(held) if held.kem_key_id >= k.kem_key_id => {}
            _ => self.kem_key = Some(k),
        }
    }

    /// Checks whether a rekey in `mode` could start now with or without a QKD key (no state
    /// change).
    pub fn check_start(&self, mode: KeySourceMode, have_qkd: bool) -> Result<(), RekeyError> {
        if self.peer.is_none() {
            return Err(RekeyError::NotBootstrapped);
        }
        if self.isolation != Isolation::None {
            return Err(RekeyError::Isolated);
        }
        if let Some(o) = &self.outstanding {
            return Err(RekeyError::Busy { epoch: o.epoch, command: o.command });
        }
        if !self.node_modes.contains(&mode) {
            return Err(RekeyError::ModeNotSupported { mode });
        }
        crate::common::mode_to_hybrid(mode)
            .select(have_qkd, self.kem_key.is_some())
            .map_err(|e| RekeyError::SourceMissing { mode, reason: e.to_string() })?;
        if self.max_epoch == u32::MAX {
            return Err(RekeyError::EpochExhausted);
        }
        Ok(())
    }

    /// Starts a rekey in `mode` with the QKD key `qkd` (taken from the prefetch buffer) and the
    /// SPIs `spis` = (RIC → node, node → RIC) from the [`crate::sa::SpiAllocator`]. Fails
    /// closed (no REKEY, nothing changed; the caller releases the SPIs) if the mode's required
    /// source is missing. Returns the new epoch. On success each of the two SPIs later appears
    /// in exactly one [`DataPlaneOp::Delete`] (or a [`DataPlaneOp::DeleteAll`]).
    pub fn start_rekey(
        &mut self,
        now: Instant,
        mode: KeySourceMode,
        qkd: Option<qsafe_qkd::api::Key>,
        spis: (u32, u32),
    ) -> Result<u32, RekeyError> {
        self.check_start(mode, qkd.is_some())?;
        let (spi_r2n, spi_n2r) = spis;
        for spi in [spi_r2n, spi_n2r] {
            if spi < 256 {
                return Err(RekeyError::BadSpi { spi });
            }
            if self.inbound.values().chain(self.outbound.values()).any(|s| *s == spi)
                || self.deletes.iter().any(|d| d.2 == spi)
            {
                return Err(RekeyError::SpiInUse { spi });
            }
        }
        if spi_r2n == spi_n2r {
            return Err(RekeyError::SpiInUse { spi: spi_r2n });
        }
        let (want_qkd, want_pqc) = {
            let src = crate::common::mode_to_hybrid(mode)
                .select(qkd.is_some(), self.kem_key.is_some())
                .map_err(|e| RekeyError::SourceMissing { mode, reason: e.to_string() })?;
            (src.uses_qkd(), src.uses_pqc())
        };
        let epoch = self.max_epoch.checked_add(1).ok_or(RekeyError::EpochExhausted)?;
        // ML-KEM: encapsulate to the latest verified node key.
        let mut kem_part = None;
        if want_pqc {
            let k = self.kem_key.as_ref().ok_or(RekeyError::SourceMissing { mode, reason: "no KEM key".into() })?;
            let alg = kem_to_pqc(k.algorithm);
            let kem = qsafe_pqc::kem::kem(alg, KemBackend::AwsLc)?;
            let ek = EncapsulationKey::from_bytes(alg, &k.encapsulation_key)?;
            let (ct, ss) = kem.encapsulate(&ek)?;
            kem_part = Some((k.kem_key_id, Bytes::copy_from_slice(ct.as_bytes()), ss));
        }
        let qkd_part = if want_qkd { qkd.as_ref().map(|k| (key_id_bytes(&k.key_id), k.key.as_bytes())) } else { None };
        let key_source = match (qkd_part.is_some(), kem_part.is_some()) {
            (true, true) => KeySource::Hybrid,
            (true, false) => KeySource::Qkd,
            _ => KeySource::Pqc,
        };
        let grace_ms = u32::try_from(self.cfg.grace.as_millis()).unwrap_or(u32::MAX).min(600_000);
        let mut cmd = RekeyCommand {
            epoch,
            ric_sae_id: self.cfg.ric_sae_id.clone(),
            node_sae_id: self.cfg.node_sae_id.clone(),
            key_id: qkd_part.map(|q| q.0),
            kem_key_id: kem_part.as_ref().map(|k| k.0),
            kem_ciphertext: kem_part.as_ref().map(|k| k.1.clone()),
            spi_ric_to_node: spi_r2n,
            spi_node_to_ric: spi_n2r,
            mode,
            key_source,
            grace_ms,
            ric_certificate_chain: if self.chain_acked { None } else { Some(self.identity.chain.clone()) },
            signature: Bytes::new(),
        };
        let rtbs = tbs::rekey_tbs(&cmd)?;
        cmd.signature = self.identity.sign(&rtbs)?;
        let derived = derive_sas(&DeriveInput {
            mode,
            qkd: qkd_part,
            pqc: kem_part.as_ref().map(|k| k.2.expose_secret()),
            ric_sae_id: &self.cfg.ric_sae_id,
            node_sae_id: &self.cfg.node_sae_id,
            epoch,
            spi_ric_to_node: spi_r2n,
            spi_node_to_ric: spi_n2r,
            transcript: &rtbs,
        })?;
        // Commit.
        if let Some((id, _, _)) = &kem_part {
            self.kem_key = None;
            self.used_kem_ids.push_back(*id);
            if self.used_kem_ids.len() > 16 {
                self.used_kem_ids.pop_front();
            }
        }
        self.max_epoch = epoch;
        self.inbound.insert(epoch, spi_n2r);
        self.outbound.insert(epoch, spi_r2n);
        self.actions.push_back(RicAction::DataPlane(DataPlaneOp::InstallInbound(derived.node_to_ric)));
        let message = ControlMessage::Rekey(cmd);
        self.send(&message);
        debug!(node = %self.cfg.node_sae_id, epoch, ?key_source, "REKEY sent");
        self.outstanding = Some(Outstanding {
            epoch,
            command: ControlCommand::Rekey,
            message,
            tbs: rtbs,
            deadline: now + self.cfg.rekey_timeout,
            retransmits: 0,
            pending: Pending::Rekey {
                out_sa: derived.ric_to_node,
                key_source,
                key_id: qkd_part.map(|q| q.0),
                started: now,
                spis,
            },
        });
        Ok(epoch)
    }

    fn send(&mut self, message: &ControlMessage) {
        self.actions.push_back(RicAction::SendControl {
            header: ControlHeader { command: message.command() },
            message: message.clone(),
        });
    }

    fn check_command(&self) -> Result<(), RekeyError> {
        if self.peer.is_none() {
            return Err(RekeyError::NotBootstrapped);
        }
        if let Some(o) = &self.outstanding {
            return Err(RekeyError::Busy { epoch: o.epoch, command: o.command });
        }
        Ok(())
    }

    /// Sends SET-MODE: the link's policy mode becomes `mode` once the node acknowledges.
    pub fn set_mode(&mut self, now: Instant, mode: KeySourceMode) -> Result<u32, RekeyError> {
        self.check_command()?;
        if self.isolation != Isolation::None {
            return Err(RekeyError::Isolated);
        }
        if !self.node_modes.contains(&mode) {
            return Err(RekeyError::ModeNotSupported { mode });
        }
        let mut cmd = SetModeCommand {
            epoch: self.max_epoch,
            ric_sae_id: self.cfg.ric_sae_id.clone(),
            node_sae_id: self.cfg.node_sae_id.clone(),
            mode,
            signature: Bytes::new(),
        };
        let t = tbs::set_mode_tbs(&cmd)?;
        cmd.signature = self.identity.sign(&t)?;
        self.issue(now, ControlMessage::SetMode(cmd), t, Pending::Other { mode: Some(mode) });
        Ok(self.max_epoch)
    }

    fn issue(&mut self, now: Instant, message: ControlMessage, t: Vec<u8>, pending: Pending) {
        self.send(&message);
        self.outstanding = Some(Outstanding {
            epoch: self.max_epoch,
            command: message.command(),
            message,
            tbs: t,
            deadline: now + self.cfg.rekey_timeout,
            retransmits: 0,
            pending,
        });
    }

    fn isolate_message(&self, isolate: bool) -> Result<(ControlMessage, Vec<u8>), RekeyError> {
        let mut cmd = IsolateCommand {
            epoch: self.max_epoch,
            ric_sae_id: self.cfg.ric_sae_id.clone(),
            node_sae_id: self.cfg.node_sae_id.clone(),
            isolate,
            signature: Bytes::new(),
        };
        let t = tbs::isolate_tbs(&cmd)?;
        cmd.signature = self.identity.sign(&t)?;
        Ok((ControlMessage::Isolate(cmd), t))
    }

    /// Sends ISOLATE (cancelling an outstanding rekey). After the node's ack (or a timeout) the
    /// RIC deletes its SAs (the policy stays) and stops RIC Control to the node.
    pub fn isolate(&mut self, now: Instant) -> Result<u32, RekeyError> {
        if self.peer.is_none() {
            return Err(RekeyError::NotBootstrapped);
        }
        if self.isolation != Isolation::None {
            return Err(RekeyError::Isolated);
        }
        let (message, t) = self.isolate_message(true)?;
        if let Some(o) = self.outstanding.take() {
            self.abandon(o, RekeyFailure::Cancelled, ControlFailure::Timeout);
        }
        self.isolation = Isolation::Requested;
        self.issue(now, message, t, Pending::Other { mode: None });
        Ok(self.max_epoch)
    }

    /// Lifts an isolation. While the ISOLATE is still unanswered, sends RESTORE (signed) to
    /// cancel it. Once isolated, removes the ESP-required policy for the node (`ReleaseEsp`) and
    /// returns the link to bootstrap: the node reconnects unprotected, sends its RAN function
    /// definition again, and the next REKEY re-protects the link (epochs keep increasing).
    pub fn restore(&mut self, now: Instant) -> Result<(), RekeyError> {
        match self.isolation {
            Isolation::None => Err(RekeyError::NotIsolated),
            Isolation::Requested => {
                let (message, t) = self.isolate_message(false)?;
                self.outstanding = None;
                self.issue(now, message, t, Pending::Other { mode: None });
                Ok(())
            }
            Isolation::Isolated => {
                self.actions.push_back(RicAction::DataPlane(DataPlaneOp::ReleaseEsp));
                self.esp_required = false;
                self.chain_acked = false;
                self.peer = None;
                self.kem_key = None;
                self.current = None;
                self.inbound.clear();
                self.outbound.clear();
                self.deletes.clear();
                self.outstanding = None;
                self.isolation = Isolation::None;
                self.note_state();
                Ok(())
            }
        }
    }

    /// A CONTROL OUTCOME from the node (from RIC CONTROL ACKNOWLEDGE or FAILURE). Outcomes for
    /// anything but the outstanding command are ignored (`Ok(false)`); a bad signature is an
    /// error and changes nothing (the RIC keeps waiting and retransmitting).
    pub fn on_outcome(&mut self, outcome: &ControlOutcome, now: Instant) -> Result<bool, RicError> {
        let for_outstanding =
            self.outstanding.as_ref().is_some_and(|o| o.command == outcome.command && o.epoch == outcome.epoch);
        if !for_outstanding
            && outcome.command == ControlCommand::Rekey
            && let Some(pos) = self.abandoned.iter().position(|a| a.epoch == outcome.epoch)
        {
            return self.on_late_outcome(pos, outcome, now);
        }
        let Some(o) = &self.outstanding else {
            return Ok(false);
        };
        if o.command != outcome.command || o.epoch != outcome.epoch {
            debug!(epoch = outcome.epoch, "stale or unrelated outcome ignored");
            return Ok(false);
        }
        let peer = self.peer.as_ref().ok_or(RicError::NotBootstrapped)?;
        let otbs = tbs::outcome_tbs(outcome, &o.tbs)?;
        peer.verify(&otbs, &outcome.signature).map_err(RicError::BadSignature)?;
        if let Some(k) = &outcome.next_kem_key {
            let ktbs = tbs::kem_key_tbs(&self.cfg.node_sae_id, k)?;
            peer.verify(&ktbs, &k.signature).map_err(RicError::BadSignature)?;
        }
        if outcome.result == ControlResult::Failure(ControlFailureCause::BadSignature) {
            // Our signature is good, so the node got a corrupted or tampered copy (the outcome
            // binds the TBS, which excludes the signature). Keep retransmitting the genuine
            // command; an attacker able to corrupt it can drop it anyway.
            warn!(epoch = outcome.epoch, "node could not verify our signature: retransmitting");
            return Ok(false);
        }
        let Some(o) = self.outstanding.take() else {
            return Ok(false);
        };
        if let Some(k) = &outcome.next_kem_key {
            self.adopt_kem_key(k.clone());
        }
        match (o.pending, outcome.result) {
            (Pending::Rekey { out_sa, key_source, key_id, started, spis }, ControlResult::Success(claimed)) => {
                if claimed != key_source {
                    self.actions.push_back(RicAction::RekeyFailed {
                        epoch: o.epoch,
                        cause: RekeyFailure::SourceMismatch { sent: key_source, claimed },
                        qkd_key_consumed: key_id.is_some(),
                    });
                    return Ok(true);
                }
                self.switch(now, o.epoch, out_sa, key_source, key_id, spis);
                self.actions.push_back(RicAction::RekeyDone {
                    epoch: o.epoch,
                    key_source,
                    latency: now.saturating_duration_since(started),
                    key_id,
                });
                self.note_state();
            }
            (Pending::Rekey { key_id, spis, .. }, ControlResult::Failure(cause)) => {
                // Nothing changed at the node: drop the new SAs now.
                self.inbound.remove(&o.epoch);
                self.outbound.remove(&o.epoch);
                self.actions.push_back(RicAction::DataPlane(DataPlaneOp::Delete {
                    direction: Direction::NodeToRic,
                    spi: spis.1,
                    epoch: o.epoch,
                }));
                self.actions.push_back(RicAction::DataPlane(DataPlaneOp::Delete {
                    direction: Direction::RicToNode,
                    spi: spis.0,
                    epoch: o.epoch,
                }));
                self.actions.push_back(RicAction::RekeyFailed {
                    epoch: o.epoch,
                    cause: RekeyFailure::Node(cause),
                    qkd_key_consumed: key_id.is_some(),
                });
            }
            (Pending::Other { mode }, ControlResult::Success(_)) => {
                match o.command {
                    ControlCommand::SetMode => {
                        if let Some(m) = mode {
                            self.mode = m;
                        }
                    }
                    ControlCommand::Isolate => self.complete_isolation(),
                    ControlCommand::Restore => self.isolation = Isolation::None,
                    ControlCommand::Rekey => {}
                }
                self.actions.push_back(RicAction::ControlDone { command: o.command, epoch: o.epoch });
                self.note_state();
            }
            (Pending::Other { .. }, ControlResult::Failure(cause)) => {
                if o.command == ControlCommand::Isolate {
                    // The node refused to isolate itself: the RIC isolates its side anyway.
                    self.complete_isolation();
                }
                self.actions.push_back(RicAction::ControlFailed {
                    command: o.command,
                    epoch: o.epoch,
                    cause: ControlFailure::Node(cause),
                });
                self.note_state();
            }
        }
        Ok(true)
    }

    /// The outcome of a REKEY the RIC gave up on. A verified success means the node applied
    /// it and switched its outbound SA; in bootstrap it also installed its ESP-required policy,
    /// so every later plaintext REKEY is dropped by the node's kernel and only switching to
    /// this epoch (its inbound SA was kept) re-opens the path. Adopted only if it is newer
    /// than the epoch in use. A failure only forgets it.
    fn on_late_outcome(&mut self, pos: usize, outcome: &ControlOutcome, now: Instant) -> Result<bool, RicError> {
        let peer = self.peer.as_ref().ok_or(RicError::NotBootstrapped)?;
        let a = &self.abandoned[pos];
        let otbs = tbs::outcome_tbs(outcome, &a.tbs)?;
        peer.verify(&otbs, &outcome.signature).map_err(RicError::BadSignature)?;
        if let Some(k) = &outcome.next_kem_key {
            let ktbs = tbs::kem_key_tbs(&self.cfg.node_sae_id, k)?;
            peer.verify(&ktbs, &k.signature).map_err(RicError::BadSignature)?;
        }
        let Some(a) = self.abandoned.remove(pos) else {
            return Ok(false);
        };
        let newer = self.current.is_none_or(|c| c.epoch < a.epoch);
        let claimed_ok = outcome.result == ControlResult::Success(a.key_source);
        if !newer || !claimed_ok || self.isolation != Isolation::None || !self.inbound.contains_key(&a.epoch) {
            debug!(epoch = a.epoch, ?outcome.result, "late outcome of an abandoned REKEY: nothing to adopt");
            return Ok(false);
        }
        if let Some(k) = &outcome.next_kem_key {
            self.adopt_kem_key(k.clone());
        }
        warn!(node = %self.cfg.node_sae_id, epoch = a.epoch, "late outcome of an abandoned REKEY: switching to it");
        self.switch(now, a.epoch, a.out_sa, a.key_source, a.key_id, a.spis);
        self.actions.push_back(RicAction::RekeyDone {
            epoch: a.epoch,
            key_source: a.key_source,
            latency: now.saturating_duration_since(a.started),
            key_id: a.key_id,
        });
        self.note_state();
        Ok(true)
    }

    fn switch(
        &mut self,
        now: Instant,
        epoch: u32,
        out_sa: SaSpec,
        key_source: KeySource,
        key_id: Option<[u8; 16]>,
        spis: (u32, u32),
    ) {
        self.actions.push_back(RicAction::DataPlane(DataPlaneOp::InstallOutbound(out_sa)));
        if !self.esp_required {
            self.esp_required = true;
            self.actions.push_back(RicAction::DataPlane(DataPlaneOp::RequireEsp));
        }
        self.chain_acked = true;
        // Every older SA (including those of abandoned epochs the node may have applied) goes
        // after the grace period: the node switched its outbound to `epoch` before acking.
        let at = now + self.cfg.grace;
        let old_in: Vec<_> = self.inbound.range(..epoch).map(|(e, s)| (*e, *s)).collect();
        for (e, s) in old_in {
            self.inbound.remove(&e);
            self.deletes.push((at, Direction::NodeToRic, s, e));
        }
        let old_out: Vec<_> = self.outbound.range(..epoch).map(|(e, s)| (*e, *s)).collect();
        for (e, s) in old_out {
            self.outbound.remove(&e);
            self.deletes.push((at, Direction::RicToNode, s, e));
        }
        self.current = Some(Current { epoch, spis, key_source, key_id, installed_at: now });
        self.abandoned.retain(|a| a.epoch > epoch);
    }

    fn complete_isolation(&mut self) {
        self.isolation = Isolation::Isolated;
        self.actions.push_back(RicAction::DataPlane(DataPlaneOp::DeleteAll));
        self.inbound.clear();
        self.outbound.clear();
        self.deletes.clear();
        self.abandoned.clear();
        self.current = None;
    }

    fn abandon(&mut self, o: Outstanding, rekey: RekeyFailure, control: ControlFailure) {
        match o.pending {
            Pending::Rekey { out_sa, key_source, key_id, started, spis } => {
                // The node may have applied it (the outcome may be late or lost): keep the
                // inbound SA until a later rekey succeeds (see `switch`), and after a timeout
                // remember the REKEY so that a late outcome is adopted (`on_late_outcome`).
                if rekey == RekeyFailure::Timeout {
                    self.abandoned.push_back(Abandoned {
                        epoch: o.epoch,
                        tbs: o.tbs,
                        out_sa,
                        key_source,
                        key_id,
                        started,
                        spis,
                    });
                    while self.abandoned.len() > ABANDONED_KEPT {
                        self.abandoned.pop_front();
                    }
                }
                self.actions.push_back(RicAction::RekeyFailed {
                    epoch: o.epoch,
                    cause: rekey,
                    qkd_key_consumed: key_id.is_some(),
                });
            }
            Pending::Other { .. } => {
                self.actions.push_back(RicAction::ControlFailed { command: o.command, epoch: o.epoch, cause: control });
            }
        }
    }

    /// Timers: retransmissions, giving up, deleting old SAs.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due = Vec::new();
        self.deletes.retain(|d| {
            if d.0 <= now {
                due.push(*d);
                false
            } else {
                true
            }
        });
        due.sort_by_key(|d| (d.3, d.1));
        for (_, direction, spi, epoch) in due {
            self.actions.push_back(RicAction::DataPlane(DataPlaneOp::Delete { direction, spi, epoch }));
        }
        let expired = self.outstanding.as_ref().is_some_and(|o| o.deadline <= now);
        if !expired {
            return;
        }
        let Some(mut o) = self.outstanding.take() else {
            return;
        };
        if o.retransmits < self.cfg.max_retransmits {
            o.retransmits += 1;
            o.deadline = now + self.cfg.rekey_timeout;
            let m = o.message.clone();
            self.send(&m);
            self.outstanding = Some(o);
            return;
        }
        let command = o.command;
        warn!(node = %self.cfg.node_sae_id, epoch = o.epoch, ?command, "no outcome: giving up");
        self.abandon(o, RekeyFailure::Timeout, ControlFailure::Timeout);
        if matches!(command, ControlCommand::Isolate | ControlCommand::Restore) {
            // No answer to ISOLATE, or to a RESTORE sent to a node that probably isolated
            // itself already: fail closed.
            self.complete_isolation();
            self.note_state();
        }
    }

    fn note_state(&mut self) {
        let s = self.state();
        if s != self.last_state {
            self.last_state = s;
            self.actions.push_back(RicAction::StateChanged(s));
        }
    }

    /// Whether the RIC has a usable outbound SA for the node (false in bootstrap).
    pub fn is_protected(&self) -> bool {
        self.current.is_some() && self.isolation == Isolation::None
    }

    #[doc(hidden)]
    /// Installed inbound SAs (epoch → SPI), for tests.
    pub fn inbound_sas(&self) -> Vec<(u32, u32)> {
        self.inbound.iter().map(|(e, s)| (*e, *s)).collect()
    }

    /// The peer's verified identity.
    pub fn peer(&self) -> Option<&PeerIdentity> {
        self.peer.as_ref()
    }
}
