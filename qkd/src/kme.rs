//! A sans-IO model of one QKD link: the two KMEs at its ends (site A and site B), the secret
//! key they share, and the ETSI GS QKD 014 semantics of the three calls.
//!
//! Why sans-IO: the behaviour that matters (pool accounting, exactly-once delivery to the slave,
//! the spec's error answers, atomicity) is pure state. Keeping sockets, TLS and clocks out makes
//! every rule testable in microseconds and deterministically (`seed`, time passed in), lets the
//! `qsafe-kme` binary put any HTTP stack in front of it, and lets the client's integration tests
//! run a real KME pair in-process.
//!
//! # The model
//!
//! * The QKD devices produce `secret_key_rate_bps` bits of secret key per second, identical at
//!   both sites. We keep one count of those bits (the *pool*, in bits so that any key size that
//!   is a multiple of 8 can be cut from it), bounded by `max_key_count` keys of `key_size` bits.
//!   Bits produced while the pool is full are lost, as on a real link whose key store is full.
//!   The bytes themselves are drawn from a CSPRNG (ChaCha20) at the moment keys are issued; a
//!   simulator gains nothing from materialising them earlier.
//! * `enc_keys` at one site takes `number × size` bits from the pool, gives the master SAE the
//!   keys under fresh random (v4) UUIDs, and records the same bytes for the named slave SAE (and
//!   the `additional_slave_SAE_IDs`). `dec_keys` by such a slave **at the other site**, naming
//!   that master, returns each key exactly once per slave; when every named slave has its copy
//!   the record is dropped and the bytes are zeroized.
//! * Keys issued but not yet fetched by their slaves are bounded by `max_pending_keys`: past
//!   it, the oldest records are evicted (zeroized; counted in [`LinkStats::pending_evicted_total`]).
//!   A KME that stopped issuing because one slave never fetched would let one SAE deny service to
//!   all; evicting keeps the link serving, and the slave that was too late gets the spec's
//!   "not found" answer.
//! * Time is an [`Instant`] passed into every call. Generation is exact: bits are credited as
//!   `rate × elapsed` with the sub-bit remainder carried, so many short steps generate what one
//!   long step does. A `now` earlier than the last one is treated as no time passing.
//!
//! # Errors and atomicity
//!
//! Answers are the spec's: 400 with an [`ErrorBody`] for a request outside the advertised
//! limits, 401 (no body) for an SAE that may not have the keys, 503 with a body when the link
//! cannot serve (not enough key material, or an injected fault). Every check runs before any
//! change, so a failing request changes nothing: no bits are taken, no key record is touched.
//! (Time passing is not a change made by the request: each call first credits the bits generated
//! up to `now`, whatever the request's outcome.) Only the per-call counters in [`LinkStats`] move.
//!
//! # Check order in `dec_keys`
//!
//! A key_ID is *visible* at a site if it was issued at the other site by the master named in the
//! path. If the caller is not a named slave of some visible key the answer is 401; otherwise, if
//! some key_ID is not visible or was already fetched by this caller, it is 400 "one or more keys
//! specified are not found on KME" with the missing IDs in the details.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::{Duration, Instant};

use rand::{Rng as _, RngCore as _, SeedableRng as _};
use rand_chacha::ChaCha20Rng;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::api::{ErrorBody, Key, KeyContainer, KeyId, KeyIds, KeyMaterial, KeyRequest, Status, messages, path::Call};

/// One end of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Site {
    /// The first KME (`kme_ids[0]`).
    A,
    /// The second KME (`kme_ids[1]`).
    B,
}

impl Site {
    /// Both sites, A first.
    pub const BOTH: [Site; 2] = [Site::A, Site::B];

    /// The site at the other end of the link.
    pub const fn other(self) -> Site {
        match self {
            Site::A => Site::B,
            Site::B => Site::A,
        }
    }
    /// 0 for A, 1 for B (the index into [`LinkConfig::kme_ids`]).
    pub const fn index(self) -> usize {
        match self {
            Site::A => 0,
            Site::B => 1,
        }
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Site::A => "A",
            Site::B => "B",
        })
    }
}

/// Parameters of a link. Sizes are in bits. The values a KME advertises in its status come from
/// here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkConfig {
    /// KME IDs of site A and site B (distinct, non-empty).
    pub kme_ids: [String; 2],
    /// Default key size (a multiple of 8, within `min_key_size..=max_key_size`).
    pub key_size: u32,
    /// Smallest size a request may ask for (a multiple of 8, at least 8).
    pub min_key_size: u32,
    /// Largest size a request may ask for (a multiple of 8).
    pub max_key_size: u32,
    /// Pool capacity in keys of `key_size` bits (at least 1).
    pub max_key_count: u64,
    /// Most keys one enc_keys request may ask for (at least 1).
    pub max_key_per_request: u32,
    /// Most additional_slave_SAE_IDs in one request; 0 means no key multicast.
    pub max_sae_id_count: u32,
    /// Secret key generated per second, in bits, the same at both sites.
    pub secret_key_rate_bps: u64,
    /// Seed for deterministic key bytes and key IDs (tests); `None` seeds from the OS.
    pub seed: Option<u64>,
    /// Keys of `key_size` bits in the pool at start (capped at `max_key_count`).
    pub initial_key_count: u64,
    /// Most keys issued to masters and not yet fetched by all their slaves; older records are
    /// evicted past this (at least `max_key_per_request`).
    pub max_pending_keys: u64,
}

impl Default for LinkConfig {
    /// A 10 kb/s link (metro distance) with 256-bit default keys, the spec example's limits
    /// otherwise, no multicast, and an empty pool.
    fn default() -> Self {
        Self {
            kme_ids: ["KME_A".to_owned(), "KME_B".to_owned()],
            key_size: 256,
            min_key_size: 64,
            max_key_size: 1024,
            max_key_count: 100_000,
            max_key_per_request: 128,
            max_sae_id_count: 0,
            secret_key_rate_bps: 10_000,
            seed: None,
            initial_key_count: 0,
            max_pending_keys: 100_000,
        }
    }
}

/// Why a [`LinkConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A KME ID is empty.
    #[error("kme_ids[{0}] is empty")]
    EmptyKmeId(usize),
    /// Both KME IDs are the same.
    #[error("kme_ids must differ, both are {0:?}")]
    SameKmeIds(String),
    /// A size is not a positive multiple of 8.
    #[error("{name} must be a positive multiple of 8, got {value}")]
    SizeNotMultipleOf8 {
        /// The field.
        name: &'static str,
        /// Its value.
        value: u32,
    },
    /// `min_key_size <= key_size <= max_key_size` does not hold.
    #[error("need min_key_size <= key_size <= max_key_size, got {min} <= {default} <= {max}")]
    SizeOrder {
        /// min_key_size.
        min: u32,
        /// key_size.
        default: u32,
        /// max_key_size.
        max: u32,
    },
    /// A count that must be at least 1 (or at least another) is not.
    #[error("{name} must be at least {min}, got {value}")]
    TooSmall {
        /// The field.
        name: &'static str,
        /// The least allowed value.
        min: u64,
        /// Its value.
        value: u64,
    },
    /// `max_key_count × key_size` does not fit in 64 bits.
    #[error("max_key_count x key_size overflows 64 bits")]
    CapacityOverflow,
}

impl LinkConfig {
    /// Checks the config; [`KmeLink::new`] calls this.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, id) in self.kme_ids.iter().enumerate() {
            if id.is_empty() {
                return Err(ConfigError::EmptyKmeId(i));
            }
        }
        if self.kme_ids[0] == self.kme_ids[1] {
            return Err(ConfigError::SameKmeIds(self.kme_ids[0].clone()));
        }
        for (name, value) in
            [("key_size", self.key_size), ("min_key_size", self.min_key_size), ("max_key_size", self.max_key_size)]
        {
            if value == 0 || value % 8 != 0 {
                return Err(ConfigError::SizeNotMultipleOf8 { name, value });
            }
        }
        if !(self.min_key_size <= self.key_size && self.key_size <= self.max_key_size) {
            return Err(ConfigError::SizeOrder {
                min: self.min_key_size,
                default: self.key_size,
                max: self.max_key_size,
            });
        }
        for (name, min, value) in [
            ("max_key_count", 1, self.max_key_count),
            ("max_key_per_request", 1, u64::from(self.max_key_per_request)),
            ("max_pending_keys", u64::from(self.max_key_per_request), self.max_pending_keys),
        ] {
            if value < min {
                return Err(ConfigError::TooSmall { name, min, value });
            }
        }
        self.max_key_count.checked_mul(u64::from(self.key_size)).ok_or(ConfigError::CapacityOverflow)?;
        Ok(())
    }

    fn capacity_bits(&self) -> u64 {
        self.max_key_count.saturating_mul(u64::from(self.key_size))
    }
}

/// An answer other than 200, as the spec defines them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KmeError {
    /// 400 Bad Request, with the spec's error body.
    #[error("400 bad request: {0}")]
    BadRequest(ErrorBody),
    /// 401 Unauthorized (the spec gives this answer no body).
    #[error("401 unauthorized")]
    Unauthorized,
    /// 503 Service Unavailable, with an error body.
    #[error("503 unavailable: {0}")]
    Unavailable(ErrorBody),
}

impl KmeError {
    /// The HTTP status code.
    pub fn http_status(&self) -> u16 {
        match self {
            KmeError::BadRequest(_) => 400,
            KmeError::Unauthorized => 401,
            KmeError::Unavailable(_) => 503,
        }
    }
    /// The body to send, if the spec gives this answer one.
    pub fn body(&self) -> Option<&ErrorBody> {
        match self {
            KmeError::BadRequest(b) | KmeError::Unavailable(b) => Some(b),
            KmeError::Unauthorized => None,
        }
    }
}

fn bad_request(message: &str, name: &str, value: impl Into<Value>) -> KmeError {
    KmeError::BadRequest(ErrorBody::with_detail(message, name, value))
}

/// Faults to inject, for tests and demos of failure handling.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// The quantum channel is down: no key is generated (stored key is still served).
    pub link_down: bool,
    /// Delay the HTTP edge should add before answering. The model itself has no clock to wait
    /// on; the `qsafe-kme` server and test servers read this.
    pub extra_latency: Duration,
    /// Answer this many of the next calls (any call, any site) with 503, then serve normally.
    pub fail_next: u32,
}

/// Counters of one call kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounters {
    /// Answered 200.
    pub ok: u64,
    /// Answered 400.
    pub bad_request: u64,
    /// Answered 401.
    pub unauthorized: u64,
    /// Answered 503.
    pub unavailable: u64,
}

impl CallCounters {
    fn count<T>(&mut self, result: &Result<T, KmeError>) {
        let slot = match result {
            Ok(_) => &mut self.ok,
            Err(KmeError::BadRequest(_)) => &mut self.bad_request,
            Err(KmeError::Unauthorized) => &mut self.unauthorized,
            Err(KmeError::Unavailable(_)) => &mut self.unavailable,
        };
        *slot += 1;
    }
}

/// A snapshot of the link's state and counters (for metrics and tests). Call
/// [`KmeLink::advance`] first for an up-to-date pool level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStats {
    /// Secret key bits in the pool now.
    pub pool_bits: u64,
    /// Pool capacity in bits (`max_key_count × key_size`).
    pub pool_capacity_bits: u64,
    /// Keys of the default size in the pool (what status reports as stored_key_count).
    pub stored_key_count: u64,
    /// Bits credited to the pool since start (initial fill included).
    pub generated_bits_total: u64,
    /// Bits generated while the pool was full, and so lost.
    pub overflow_bits_total: u64,
    /// Bits emptied by [`KmeLink::drain`].
    pub drained_bits_total: u64,
    /// Keys issued by enc_keys since start.
    pub keys_issued_total: u64,
    /// Bits issued by enc_keys since start.
    pub bits_issued_total: u64,
    /// Key copies delivered by dec_keys since start.
    pub keys_retrieved_total: u64,
    /// Keys issued and not yet fetched by all their slaves.
    pub pending_keys: u64,
    /// Pending keys evicted unfetched (see `max_pending_keys`).
    pub pending_evicted_total: u64,
    /// Counters of the status call.
    pub status: CallCounters,
    /// Counters of the enc_keys call.
    pub enc_keys: CallCounters,
    /// Counters of the dec_keys call.
    pub dec_keys: CallCounters,
    /// Whether the quantum channel is down now.
    pub link_down: bool,
}

/// Key bytes issued to a master and waiting for its slaves at the other site.
struct PendingKey {
    /// Order of issue, for eviction of the oldest.
    seq: u64,
    master: String,
    /// The site whose KME issued the key; slaves fetch at the other one.
    origin: Site,
    /// Named slaves, each with whether it has fetched its copy.
    slaves: Vec<(String, bool)>,
    key: KeyMaterial,
}

/// The two KMEs of one QKD link. See the module docs.
pub struct KmeLink {
    config: LinkConfig,
    rng: ChaCha20Rng,
    faults: Faults,
    /// Time up to which generation has been credited.
    clock: Instant,
    /// `rate × ns` not yet worth a whole bit, in bit-nanoseconds (always < 1e9).
    carry: u128,
    pool_bits: u64,
    pending: HashMap<KeyId, PendingKey>,
    pending_order: BTreeMap<u64, KeyId>,
    next_seq: u64,
    stats: LinkStats,
}

impl fmt::Debug for KmeLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmeLink")
            .field("kme_ids", &self.config.kme_ids)
            .field("pool_bits", &self.pool_bits)
            .field("pending_keys", &self.pending.len())
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

const NANOS_PER_SEC: u128 = 1_000_000_000;

impl KmeLink {
    /// A link whose clock starts at `now`, with `initial_key_count` keys in the pool.
    pub fn new(config: LinkConfig, now: Instant) -> Result<Self, ConfigError> {
        config.validate()?;
        let rng = match config.seed {
            Some(seed) => ChaCha20Rng::seed_from_u64(seed),
            None => ChaCha20Rng::from_rng(&mut rand::rng()),
        };
        let capacity = config.capacity_bits();
        let initial = config.initial_key_count.min(config.max_key_count).saturating_mul(u64::from(config.key_size));
        let stats = LinkStats {
            pool_bits: 0,
            pool_capacity_bits: capacity,
            stored_key_count: 0,
            generated_bits_total: initial,
            overflow_bits_total: 0,
            drained_bits_total: 0,
            keys_issued_total: 0,
            bits_issued_total: 0,
            keys_retrieved_total: 0,
            pending_keys: 0,
            pending_evicted_total: 0,
            status: CallCounters::default(),
            enc_keys: CallCounters::default(),
            dec_keys: CallCounters::default(),
            link_down: false,
        };
        Ok(Self {
            config,
            rng,
            faults: Faults::default(),
            clock: now,
            carry: 0,
            pool_bits: initial,
            pending: HashMap::new(),
            pending_order: BTreeMap::new(),
            next_seq: 0,
            stats,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// The KME ID of a site.
    pub fn kme_id(&self, site: Site) -> &str {
        &self.config.kme_ids[site.index()]
    }

    /// The site whose KME has this ID.
    pub fn site_of(&self, kme_id: &str) -> Option<Site> {
        Site::BOTH.into_iter().find(|s| self.kme_id(*s) == kme_id)
    }

    /// Credits the key generated up to `now` (nothing while the link is down, nothing if `now`
    /// is not later than the last time seen). Every call does this first.
    pub fn advance(&mut self, now: Instant) {
        let Some(elapsed) = now.checked_duration_since(self.clock) else { return };
        self.clock = now;
        if self.faults.link_down {
            self.carry = 0;
            return;
        }
        let bit_nanos = u128::from(self.config.secret_key_rate_bps)
            .checked_mul(elapsed.as_nanos())
            .and_then(|p| p.checked_add(self.carry))
            .unwrap_or(u128::MAX);
        let new_bits = u64::try_from(bit_nanos / NANOS_PER_SEC).unwrap_or(u64::MAX);
        self.carry = bit_nanos % NANOS_PER_SEC;
        let room = self.config.capacity_bits() - self.pool_bits;
        let added = new_bits.min(room);
        self.pool_bits += added;
        self.stats.generated_bits_total = self.stats.generated_bits_total.saturating_add(added);
        self.stats.overflow_bits_total = self.stats.overflow_bits_total.saturating_add(new_bits - added);
    }

    /// The faults to inject; change them in place.
    pub fn faults(&mut self) -> &mut Faults {
        &mut self.faults
    }

    /// Empties the pool (keys already issued stay retrievable by their slaves).
    pub fn drain(&mut self) {
        self.stats.drained_bits_total = self.stats.drained_bits_total.saturating_add(self.pool_bits);
        self.pool_bits = 0;
    }

    /// A snapshot of state and counters.
    pub fn stats(&self) -> LinkStats {
        LinkStats {
            pool_bits: self.pool_bits,
            stored_key_count: self.pool_bits / u64::from(self.config.key_size),
            pending_keys: self.pending.len() as u64,
            link_down: self.faults.link_down,
            ..self.stats.clone()
        }
    }

    /// Get status (`GET /api/v1/keys/{slave_SAE_ID}/status`) at `site`, called by `caller_sae`.
    pub fn status(&mut self, site: Site, caller_sae: &str, slave_sae: &str, now: Instant) -> Result<Status, KmeError> {
        self.advance(now);
        let result = self.status_inner(site, caller_sae, slave_sae);
        self.stats.status.count(&result);
        result
    }

    /// Get key (`POST|GET /api/v1/keys/{slave_SAE_ID}/enc_keys`) at `site`, called by the master
    /// `caller_sae`, for `slave_sae` (and the request's additional slaves).
    pub fn enc_keys(
        &mut self,
        site: Site,
        caller_sae: &str,
        slave_sae: &str,
        req: &KeyRequest,
        now: Instant,
    ) -> Result<KeyContainer, KmeError> {
        self.advance(now);
        let result = self.enc_keys_inner(site, caller_sae, slave_sae, req);
        self.stats.enc_keys.count(&result);
        result
    }

    /// Get key with key IDs (`POST|GET /api/v1/keys/{master_SAE_ID}/dec_keys`) at `site`, called
    /// by the slave `caller_sae`.
    pub fn dec_keys(
        &mut self,
        site: Site,
        caller_sae: &str,
        master_sae: &str,
        req: &KeyIds,
        now: Instant,
    ) -> Result<KeyContainer, KmeError> {
        self.advance(now);
        let result = self.dec_keys_inner(site, caller_sae, master_sae, req);
        self.stats.dec_keys.count(&result);
        result
    }

    /// An injected 503, if one is due (consumes one).
    fn injected_failure(&mut self, call: Call) -> Result<(), KmeError> {
        if self.faults.fail_next == 0 {
            return Ok(());
        }
        self.faults.fail_next -= 1;
        Err(KmeError::Unavailable(ErrorBody::with_detail(
            "KME temporarily unavailable (injected fault)",
            "call",
            call.as_str(),
        )))
    }

    fn check_parties(caller_sae: &str, other_sae: &str, other_name: &str) -> Result<(), KmeError> {
        if caller_sae.is_empty() {
            return Err(KmeError::Unauthorized);
        }
        if other_sae.is_empty() {
            return Err(bad_request(messages::PARAMETERS_OUT_OF_RANGE, other_name, "empty SAE ID"));
        }
        Ok(())
    }

    fn status_inner(&mut self, site: Site, caller_sae: &str, slave_sae: &str) -> Result<Status, KmeError> {
        self.injected_failure(Call::Status)?;
        Self::check_parties(caller_sae, slave_sae, "slave_SAE_ID")?;
        let c = &self.config;
        Ok(Status {
            source_kme_id: c.kme_ids[site.index()].clone(),
            target_kme_id: c.kme_ids[site.other().index()].clone(),
            master_sae_id: caller_sae.to_owned(),
            slave_sae_id: slave_sae.to_owned(),
            key_size: c.key_size,
            stored_key_count: self.pool_bits / u64::from(c.key_size),
            max_key_count: c.max_key_count,
            max_key_per_request: c.max_key_per_request,
            max_key_size: c.max_key_size,
            min_key_size: c.min_key_size,
            max_sae_id_count: c.max_sae_id_count,
            status_extension: None,
        })
    }

    /// Checks an enc_keys request against the limits; returns (number, size in bits, slaves).
    fn check_key_request(&self, slave_sae: &str, req: &KeyRequest) -> Result<(u32, u32, Vec<String>), KmeError> {
        let c = &self.config;
        if let Some(mandatory) = req.extension_mandatory.as_ref().filter(|m| !m.is_empty()) {
            // No extension is supported; the details list what was asked for.
            return Err(bad_request(
                messages::EXTENSION_MANDATORY_UNSUPPORTED,
                "extension_mandatory_unsupported",
                Value::Array(mandatory.iter().cloned().map(Value::Object).collect()),
            ));
        }
        let number = req.number.unwrap_or(1);
        if number == 0 || number > c.max_key_per_request {
            return Err(bad_request(
                messages::PARAMETERS_OUT_OF_RANGE,
                "number_unsupported",
                format!("number is {number}, must be 1..={} (max_key_per_request)", c.max_key_per_request),
            ));
        }
        let size = req.size.unwrap_or(c.key_size);
        if size % 8 != 0 {
            return Err(bad_request(messages::SIZE_NOT_MULTIPLE_OF_8, "size", size));
        }
        if size < c.min_key_size || size > c.max_key_size {
            return Err(bad_request(
                messages::PARAMETERS_OUT_OF_RANGE,
                "size_unsupported",
                format!(
                    "size is {size} bits, must be {}..={} (min_key_size..=max_key_size)",
                    c.min_key_size, c.max_key_size
                ),
            ));
        }
        let mut slaves = vec![slave_sae.to_owned()];
        let additional = req.additional_slave_sae_ids.as_deref().unwrap_or_default();
        if !additional.is_empty() {
            if c.max_sae_id_count == 0 {
                return Err(bad_request(
                    messages::PARAMETERS_OUT_OF_RANGE,
                    "additional_slave_SAE_IDs_unsupported",
                    "this KME does not support key multicast (max_SAE_ID_count is 0)",
                ));
            }
            if additional.len() > c.max_sae_id_count as usize {
                return Err(bad_request(
                    messages::PARAMETERS_OUT_OF_RANGE,
                    "additional_slave_SAE_IDs_unsupported",
                    format!("{} additional slaves, max_SAE_ID_count is {}", additional.len(), c.max_sae_id_count),
                ));
            }
            for id in additional {
                if id.is_empty() || slaves.contains(id) {
                    return Err(bad_request(
                        messages::PARAMETERS_OUT_OF_RANGE,
                        "additional_slave_SAE_IDs_unsupported",
                        "additional slave SAE IDs must be non-empty and distinct from each other and the slave",
                    ));
                }
                slaves.push(id.clone());
            }
        }
        Ok((number, size, slaves))
    }

    fn enc_keys_inner(
        &mut self,
        site: Site,
        caller_sae: &str,
        slave_sae: &str,
        req: &KeyRequest,
    ) -> Result<KeyContainer, KmeError> {
        self.injected_failure(Call::EncKeys)?;
        Self::check_parties(caller_sae, slave_sae, "slave_SAE_ID")?;
        let (number, size, slaves) = self.check_key_request(slave_sae, req)?;
        let need_bits = u64::from(number) * u64::from(size);
        if need_bits > self.pool_bits {
            let mut body = ErrorBody::new("not enough key material in the KME's key store");
            body.details = Some(vec![json!({"requested_bits": need_bits, "stored_bits": self.pool_bits})]);
            return Err(KmeError::Unavailable(body));
        }

        // Every check has passed: from here on nothing fails.
        self.pool_bits -= need_bits;
        self.evict_for(number as usize);
        let size_bytes = size as usize / 8;
        let mut keys = Vec::with_capacity(number as usize);
        for _ in 0..number {
            let key_id = self.fresh_key_id();
            let mut bytes = Zeroizing::new(vec![0u8; size_bytes]);
            self.rng.fill_bytes(&mut bytes);
            let key = KeyMaterial::new(bytes);
            let seq = self.next_seq;
            self.next_seq += 1;
            self.pending_order.insert(seq, key_id);
            self.pending.insert(
                key_id,
                PendingKey {
                    seq,
                    master: caller_sae.to_owned(),
                    origin: site,
                    slaves: slaves.iter().map(|s| (s.clone(), false)).collect(),
                    key: key.clone(),
                },
            );
            keys.push(Key::new(key_id, key));
        }
        self.stats.keys_issued_total += u64::from(number);
        self.stats.bits_issued_total += need_bits;
        Ok(KeyContainer { keys, key_container_extension: None })
    }

    /// A v4 UUID not in use by a pending key.
    fn fresh_key_id(&mut self) -> KeyId {
        loop {
            let id = KeyId::from_random_bytes(self.rng.random());
            if !self.pending.contains_key(&id) {
                return id;
            }
        }
    }

    /// Evicts the oldest pending keys so that `incoming` more fit under `max_pending_keys`.
    fn evict_for(&mut self, incoming: usize) {
        let max = usize::try_from(self.config.max_pending_keys).unwrap_or(usize::MAX);
        while self.pending.len() + incoming > max {
            let Some((_, id)) = self.pending_order.pop_first() else { break };
            if self.pending.remove(&id).is_some() {
                self.stats.pending_evicted_total += 1;
            }
        }
    }

    fn dec_keys_inner(
        &mut self,
        site: Site,
        caller_sae: &str,
        master_sae: &str,
        req: &KeyIds,
    ) -> Result<KeyContainer, KmeError> {
        self.injected_failure(Call::DecKeys)?;
        Self::check_parties(caller_sae, master_sae, "master_SAE_ID")?;
        if req.key_ids.is_empty() {
            return Err(bad_request(messages::PARAMETERS_OUT_OF_RANGE, "key_IDs", "must list at least one key_ID"));
        }
        let mut seen = HashSet::with_capacity(req.key_ids.len());
        if let Some(dup) = req.ids().find(|id| !seen.insert(*id)) {
            return Err(bad_request(
                messages::PARAMETERS_OUT_OF_RANGE,
                "key_IDs",
                format!("key_ID {dup} is listed more than once"),
            ));
        }

        let mut not_found = Vec::new();
        let mut unauthorized = false;
        for id in req.ids() {
            match self.pending.get(&id) {
                Some(p) if p.origin != site && p.master == master_sae => {
                    match p.slaves.iter().find(|(name, _)| name == caller_sae) {
                        None => unauthorized = true,
                        Some((_, true)) => not_found.push(Value::String(id.to_string())),
                        Some((_, false)) => {}
                    }
                }
                _ => not_found.push(Value::String(id.to_string())),
            }
        }
        if unauthorized {
            return Err(KmeError::Unauthorized);
        }
        if !not_found.is_empty() {
            return Err(bad_request(messages::KEYS_NOT_FOUND, "key_IDs_not_found", Value::Array(not_found)));
        }

        // Every check has passed: deliver, and drop records every slave has fetched.
        let mut keys = Vec::with_capacity(req.key_ids.len());
        for id in req.ids() {
            let Some(p) = self.pending.get_mut(&id) else { continue };
            for (name, fetched) in &mut p.slaves {
                if name == caller_sae {
                    *fetched = true;
                }
            }
            keys.push(Key::new(id, p.key.clone()));
            if p.slaves.iter().all(|(_, fetched)| *fetched) {
                let seq = p.seq;
                self.pending.remove(&id);
                self.pending_order.remove(&seq);
            }
        }
        self.stats.keys_retrieved_total += keys.len() as u64;
        Ok(KeyContainer { keys, key_container_extension: None })
    }
}

#[cfg(test)]
mod tests;
