//! The A1 policy plane of the standalone xApp: an A1-P v2 termination
//! ([`qsafe_a1`]) served at `/A1-P/v2` on the xApp's HTTP endpoint, its
//! policies applied to the key plane, and the status of each policy taken
//! from what the key plane really does.
//!
//! * `qsafe-e2-key-freshness` policies go to the freshness monitor by id
//!   ([`crate::freshness::KeyFreshness::upsert_a1_policy`]): the latest
//!   policy naming a node governs its link (rekey period, limits, mode,
//!   on-violation action). Their status is
//!   [`crate::freshness::KeyFreshness::a1_enforcement`]: `ENFORCED` only when
//!   every node in scope is known and keyed under the policy, else
//!   `NOT_ENFORCED` with the reason per node (an unknown node, not keyed yet,
//!   superseded by a later policy). It is re-evaluated every second and sent
//!   to the policy's `notificationDestination` when it changes.
//! * `qsafe-pqc-trust` policies add ML-DSA trust anchors (and restrict the
//!   accepted ML-DSA levels) for the nodes in scope
//!   ([`KeyPlane::set_trust_policy`]): an E2 node's chain is verified under
//!   them at its next E2 Setup (the rApp publishes the new root before it
//!   rolls out node certificates under it, trust first). A policy whose
//!   anchors the key plane refuses (not ML-DSA, not a certificate) is
//!   `NOT_ENFORCED` with the reason.
//!
//! Policies persist in the durable state ([`qsafe_state::DurableState`],
//! through [`StatePolicyStore`]): a redb file by default, or a JetStream KV
//! bucket when a NATS URL is configured (xApp replicas then share them).
//! After a restart the service replays one `Apply` per stored policy before
//! it answers anything, so the key plane starts from the same policies.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use qsafe_a1::http::{A1Handle, Notifier, NotifierConfig};
use qsafe_a1::registry::PolicyTypeRegistry;
use qsafe_a1::service::{A1Service, PolicyEffect, ServiceConfig};
use qsafe_a1::store::{PolicyStore, StoreError, StoredPolicy};
use qsafe_a1::types::{KEY_FRESHNESS_TYPE_ID, PQC_TRUST_TYPE_ID};
use qsafe_a1::validate::{MlDsaLevel, PqcTrustPolicy, Scope as A1Scope, TypedPolicy};
use qsafe_pqc::pki::SignatureAlgorithm;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::keyplane::{KeyPlane, TrustPolicy};
use crate::policy::FreshnessPolicy;

/// Settings of the A1 termination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct A1Settings {
    /// Where policies persist: a redb file (the default backend).
    pub store: PathBuf,
    /// Keep them in a JetStream KV bucket on this NATS server instead.
    pub state_nats_url: Option<String>,
}

/// The JetStream KV bucket of the xApp's A1 policies.
pub const A1_BUCKET: &str = "qsafe_xapp_a1";

/// [`PolicyStore`] over the durable state. Keys: `a1/<type>/<hex(policy id)>`
/// (policy ids may hold any character; state keys may not); values: the
/// stored policy as JSON. The A1 core calls it on a blocking thread, where it
/// waits for the async backend.
#[derive(Debug)]
pub struct StatePolicyStore {
    state: Arc<dyn qsafe_state::DurableState>,
    rt: tokio::runtime::Handle,
}

impl StatePolicyStore {
    /// Over `state`, waiting on the runtime `rt`.
    pub fn new(state: Arc<dyn qsafe_state::DurableState>, rt: tokio::runtime::Handle) -> Self {
        Self { state, rt }
    }

    fn key(policy_type_id: &str, policy_id: &str) -> String {
        format!("a1/{}/{}", hex::encode(policy_type_id), hex::encode(policy_id))
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable { reason: e.to_string() }
}

impl PolicyStore for StatePolicyStore {
    fn load_all(&mut self) -> Result<Vec<StoredPolicy>, StoreError> {
        let state = self.state.clone();
        self.rt.block_on(async move {
            let mut out = Vec::new();
            for key in state.keys("a1/").await.map_err(unavailable)? {
                let Some(e) = state.get(&key).await.map_err(unavailable)? else { continue };
                let p: StoredPolicy = serde_json::from_slice(&e.value)
                    .map_err(|err| StoreError::Corrupt { path: PathBuf::from(&key), reason: err.to_string() })?;
                out.push(p);
            }
            Ok(out)
        })
    }

    fn put(&mut self, policy: &StoredPolicy) -> Result<(), StoreError> {
        let key = Self::key(&policy.policy_type_id, &policy.policy_id);
        let value = serde_json::to_vec(policy).map_err(unavailable)?;
        self.rt.block_on(self.state.put(&key, value.into())).map(|_| ()).map_err(|e| match e {
            qsafe_state::StateError::ValueTooLarge { .. } => StoreError::Full { reason: e.to_string() },
            e => unavailable(e),
        })
    }

    fn delete(&mut self, policy_type_id: &str, policy_id: &str) -> Result<(), StoreError> {
        self.rt.block_on(self.state.delete(&Self::key(policy_type_id, policy_id))).map_err(unavailable)
    }
}

/// How often the status of every freshness policy is re-evaluated.
pub const STATUS_PERIOD: Duration = Duration::from_secs(1);

/// Starts the A1 plane on `keyplane`: returns the handle to serve
/// ([`qsafe_a1::http::router`]) and the task applying policies and
/// reporting status until `stop`.
pub async fn start(
    settings: &A1Settings,
    keyplane: KeyPlane,
    stop: watch::Receiver<bool>,
) -> Result<(A1Handle, JoinHandle<()>), String> {
    let registry = Arc::new(PolicyTypeRegistry::builtin().map_err(|e| format!("A1 policy types: {e}"))?);
    let (config, where_) = match &settings.state_nats_url {
        Some(url) => (qsafe_state::StateConfig::jetstream(url.clone(), A1_BUCKET), format!("{url} bucket {A1_BUCKET}")),
        None => (qsafe_state::StateConfig::redb(settings.store.clone()), settings.store.display().to_string()),
    };
    let state = qsafe_state::open(&config).await.map_err(|e| format!("A1 policy store {where_}: {e}"))?;
    let store = StatePolicyStore::new(state, tokio::runtime::Handle::current());
    // Loading waits on the async backend: off the runtime's worker threads.
    let opened =
        tokio::task::spawn_blocking(move || A1Service::open(registry, ServiceConfig::default(), Box::new(store)))
            .await
            .map_err(|e| format!("A1 policy store {where_}: {e}"))?
            .map_err(|e| format!("A1 policy store {where_}: {e}"))?;
    for s in &opened.skipped {
        tracing::warn!(skipped = ?s, "A1: a stored policy is not served (it no longer validates)");
    }
    let loaded = opened.effects.len();
    let (handle, effects) = A1Handle::new(opened, Notifier::spawn(NotifierConfig::default()));
    tracing::info!(policies = loaded, store = %where_, "A1-P v2 termination at /A1-P/v2");
    let plane = A1Plane { handle: handle.clone(), keyplane, sent: HashMap::new() };
    Ok((handle, tokio::spawn(plane.run(effects, stop))))
}

struct A1Plane {
    handle: A1Handle,
    keyplane: KeyPlane,
    /// The last status reported per (type, policy id).
    sent: HashMap<(String, String), Value>,
}

impl A1Plane {
    async fn run(mut self, mut effects: mpsc::UnboundedReceiver<PolicyEffect>, mut stop: watch::Receiver<bool>) {
        let mut every = tokio::time::interval(STATUS_PERIOD);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                e = effects.recv() => match e {
                    Some(e) => {
                        self.apply(e);
                        self.refresh();
                    }
                    None => break,
                },
                _ = every.tick() => self.refresh(),
                r = stop.changed() => if r.is_err() || *stop.borrow() { break },
            }
        }
    }

    fn report(&mut self, type_id: &str, id: &str, status: Value) {
        let key = (type_id.to_string(), id.to_string());
        if self.sent.get(&key) == Some(&status) {
            return;
        }
        match self.handle.update_status(type_id, id, status.clone()) {
            Ok(_) => {
                tracing::info!(policy = id, r#type = type_id, status = %status["enforceStatus"], "A1 policy status");
                self.sent.insert(key, status);
            }
            Err(e) => tracing::error!(policy = id, error = %e, "A1: cannot report the policy status"),
        }
    }

    fn apply(&mut self, effect: PolicyEffect) {
        match effect {
            PolicyEffect::Apply { policy_type_id, policy_id, policy } => {
                let id = policy_id.as_str().to_string();
                self.sent.remove(&(policy_type_id.clone(), id.clone()));
                match policy {
                    TypedPolicy::KeyFreshness(p) => {
                        let applied = FreshnessPolicy::from_json(&p.to_json().to_string())
                            .map_err(|e| e.to_string())
                            .and_then(|fp| {
                                crate::keyplane::lock_monitor(&self.keyplane)
                                    .upsert_a1_policy(&id, fp)
                                    .map_err(|e| e.to_string())
                            });
                        match applied {
                            Ok(()) => tracing::info!(policy = %id, "A1: key-freshness policy applied"),
                            Err(why) => {
                                tracing::warn!(policy = %id, %why, "A1: key-freshness policy not applied");
                                self.report(&policy_type_id, &id, not_enforced(&why));
                            }
                        }
                    }
                    TypedPolicy::PqcTrust(p) => {
                        let status = self.apply_trust(&id, &p);
                        self.report(&policy_type_id, &id, status);
                    }
                }
            }
            PolicyEffect::Remove { policy_type_id, policy_id } => {
                let id = policy_id.as_str();
                self.sent.remove(&(policy_type_id.clone(), id.to_string()));
                if policy_type_id == KEY_FRESHNESS_TYPE_ID {
                    crate::keyplane::lock_monitor(&self.keyplane).remove_a1_policy(id);
                } else if policy_type_id == PQC_TRUST_TYPE_ID {
                    self.keyplane.remove_trust_policy(id);
                }
                tracing::info!(policy = id, r#type = %policy_type_id, "A1: policy removed");
            }
        }
    }

    fn apply_trust(&self, id: &str, p: &PqcTrustPolicy) -> Value {
        let accepted = p
            .accepted_signature_algorithms
            .iter()
            .map(|l| match l {
                MlDsaLevel::MlDsa44 => SignatureAlgorithm::MlDsa44,
                MlDsaLevel::MlDsa65 => SignatureAlgorithm::MlDsa65,
                MlDsaLevel::MlDsa87 => SignatureAlgorithm::MlDsa87,
            })
            .collect();
        let policy = TrustPolicy {
            id: id.to_string(),
            nodes: match &p.scope {
                A1Scope::All => None,
                A1Scope::Nodes(n) => Some(n.clone()),
            },
            anchors: p.trust_anchors.iter().map(|a| a.der.clone()).collect(),
            accepted,
        };
        match self.keyplane.set_trust_policy(policy) {
            Ok(_) => {
                tracing::info!(policy = id, anchors = p.trust_anchors.len(), "A1: PQC trust anchors in force");
                let anchors: Vec<Value> = p
                    .trust_anchors
                    .iter()
                    .map(|a| {
                        let mut v = json!({ "sha256": hex::encode(Sha256::digest(&a.der)) });
                        if let Some(n) = &a.name {
                            v["name"] = json!(n);
                        }
                        if let Ok(alg) = qsafe_pqc::pki::certificate_algorithm(&rustls_pki_types::CertificateDer::from(
                            a.der.as_slice(),
                        )) {
                            v["algorithm"] = json!(alg.to_string());
                        }
                        v
                    })
                    .collect();
                json!({
                    "enforceStatus": "ENFORCED",
                    "enforceReason": "verifies E2 node chains from their next E2 Setup on",
                    "anchors": anchors,
                })
            }
            Err(why) => {
                tracing::warn!(policy = id, %why, "A1: PQC trust policy refused by the key plane");
                not_enforced(&why)
            }
        }
    }

    /// Re-evaluates every key-freshness policy's enforcement.
    fn refresh(&mut self) {
        let statuses: Vec<(String, Value)> = {
            let monitor = crate::keyplane::lock_monitor(&self.keyplane);
            let ids: Vec<String> = monitor.policies().a1_policies().map(|(id, _)| id.to_string()).collect();
            ids.into_iter()
                .filter_map(|id| {
                    let e = monitor.a1_enforcement(&id)?;
                    Some((id, serde_json::to_value(e).ok()?))
                })
                .collect()
        };
        for (id, status) in statuses {
            self.report(KEY_FRESHNESS_TYPE_ID, &id, status);
        }
    }
}

fn not_enforced(why: &str) -> Value {
    json!({ "enforceStatus": "NOT_ENFORCED", "enforceReason": why })
}
