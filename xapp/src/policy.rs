//! The key-freshness policy: what the xApp enforces on every E2 link.
//!
//! [`FreshnessPolicy`] is the one struct both sources of policy fill: the
//! `[freshness]` table of the config file today, and the A1 policy type
//! `qsafe-e2-key-freshness` later (so the JSON field names are the A1 style,
//! camelCase; the config file may also spell them kebab-case). Durations are
//! numbers of seconds (`…Seconds`, fractions allowed). Every field has a
//! default, so `{}` is a valid policy; [`FreshnessPolicy::validate`] refuses
//! inconsistent ones with a message naming the field.
//!
//! ```
//! use qsafe_xapp::policy::{FreshnessPolicy, OnViolation, Scope};
//!
//! let p: FreshnessPolicy = serde_json::from_str(
//!     r#"{"scope": ["gNB/001-01/0x1000:28"], "rekeyPeriodSeconds": 30, "onViolation": "isolate"}"#,
//! )?;
//! p.validate()?;
//! assert_eq!(p.on_violation, OnViolation::Isolate);
//! assert!(p.scope.contains("gNB/001-01/0x1000:28"));
//! assert!(!Scope::Nodes(vec![]).contains("x"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::time::Duration;

use qsafe_hybrid::Mode;
use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// Default rekey period: 60 s.
pub const DEFAULT_REKEY_PERIOD: Duration = Duration::from_secs(60);
/// Default maximum key age: 300 s.
pub const DEFAULT_MAX_KEY_AGE: Duration = Duration::from_secs(300);
/// Default maximum bytes under one key: 1 GiB.
pub const DEFAULT_MAX_BYTES_PER_KEY: u64 = 1 << 30;
/// Default minimum KME stock (keys) before an alarm: 10.
pub const DEFAULT_MIN_KME_STOCK: u64 = 10;
/// Default time-to-empty alarm threshold: 600 s.
pub const DEFAULT_TIME_TO_EMPTY_ALARM: Duration = Duration::from_secs(600);
/// Default deadline for a node to become protected after E2 Setup: 60 s.
pub const DEFAULT_ISOLATE_DEADLINE: Duration = Duration::from_secs(60);
/// Default consecutive failed rekeys before that is a violation: 3.
pub const DEFAULT_MAX_REKEY_FAILURES: u32 = 3;
/// Default time a returned source must stay available before recovery: 10 s.
pub const DEFAULT_RECOVERY_HOLD: Duration = Duration::from_secs(10);

/// Which E2 nodes a policy applies to. JSON/TOML: the string `"all"`, or a
/// list of E2 node ids (`["gNB/001-01/0x1000:28", …]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Scope {
    /// Every node.
    #[default]
    All,
    /// Only these nodes (by their E2 node id string).
    Nodes(Vec<String>),
}

impl Scope {
    /// Whether `node` is in scope.
    pub fn contains(&self, node: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Nodes(nodes) => nodes.iter().any(|n| n == node),
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Scope::All => s.serialize_str("all"),
            Scope::Nodes(nodes) => nodes.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            List(Vec<String>),
        }
        match Raw::deserialize(d).map_err(|_| de::Error::custom("scope: expected \"all\" or a list of E2 node ids"))? {
            Raw::Word(w) if w == "all" => Ok(Scope::All),
            Raw::Word(w) => Err(de::Error::custom(format!("scope: {w:?}: expected \"all\" or a list of E2 node ids"))),
            Raw::List(nodes) => Ok(Scope::Nodes(nodes)),
        }
    }
}

/// What to do when a link violates the policy (A1: `rekey`, `degrade`, `isolate`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnViolation {
    /// Rekey with the policy's mode (which fails closed when a required
    /// source is missing: the link keeps its last key and stays in alarm).
    #[default]
    Rekey,
    /// Rekey with ML-KEM only (`at-least-pqc`); the link becomes Degraded.
    Degrade,
    /// Remove the link's SAs while ESP stays required: its E2 traffic stops.
    Isolate,
}

impl OnViolation {
    /// The kebab-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OnViolation::Rekey => "rekey",
            OnViolation::Degrade => "degrade",
            OnViolation::Isolate => "isolate",
        }
    }
}

impl fmt::Display for OnViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a degraded or isolated link gets back to the policy's mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recovery {
    /// As soon as the missing source has been back for `recoveryHoldSeconds`.
    #[default]
    Auto,
    /// Only by an operator (a new policy or an explicit restore).
    Manual,
}

/// The key-freshness policy of a set of E2 links (config `[freshness]`, A1
/// type `qsafe-e2-key-freshness`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct FreshnessPolicy {
    /// The nodes it applies to.
    pub scope: Scope,
    /// A rekey is due this long after the last successful one.
    #[serde(rename = "rekeyPeriodSeconds", with = "secs", alias = "rekey-period-seconds")]
    pub rekey_period: Duration,
    /// A key older than this is a violation (>= `rekey_period`).
    #[serde(rename = "maxKeyAgeSeconds", with = "secs", alias = "max-key-age-seconds")]
    pub max_key_age: Duration,
    /// More bytes than this under one SA pair is a violation; a rekey is due
    /// at [`REKEY_AT_FRACTION`](crate::freshness::REKEY_AT_FRACTION) of it.
    #[serde(alias = "max-bytes-per-key")]
    pub max_bytes_per_key: u64,
    /// Likewise for packets; none by default.
    #[serde(alias = "max-packets-per-key", skip_serializing_if = "Option::is_none")]
    pub max_packets_per_key: Option<u64>,
    /// A KME stock (keys stored for this link) below this raises an alarm.
    #[serde(alias = "min-kme-stock")]
    pub min_kme_stock: u64,
    /// A KME time-to-empty below this raises an alarm.
    #[serde(rename = "timeToEmptyAlarmSeconds", with = "secs", alias = "time-to-empty-alarm-seconds")]
    pub time_to_empty_alarm: Duration,
    /// The key-source mode links must be keyed in.
    #[serde(alias = "key-source-mode", alias = "keySourceMode")]
    pub mode: Mode,
    /// What to do on a violation.
    #[serde(alias = "on-violation")]
    pub on_violation: OnViolation,
    /// How long a node may stay unprotected after its E2 Setup.
    #[serde(rename = "isolateDeadlineSeconds", with = "secs", alias = "isolate-deadline-seconds")]
    pub isolate_deadline: Duration,
    /// Consecutive failed rekeys that make a violation.
    #[serde(alias = "max-rekey-failures")]
    pub max_rekey_failures: u32,
    /// How degraded or isolated links return to the policy's mode.
    pub recovery: Recovery,
    /// How long a returned source must stay available before recovery.
    #[serde(rename = "recoveryHoldSeconds", with = "secs", alias = "recovery-hold-seconds")]
    pub recovery_hold: Duration,
}

impl Default for FreshnessPolicy {
    fn default() -> Self {
        Self {
            scope: Scope::All,
            rekey_period: DEFAULT_REKEY_PERIOD,
            max_key_age: DEFAULT_MAX_KEY_AGE,
            max_bytes_per_key: DEFAULT_MAX_BYTES_PER_KEY,
            max_packets_per_key: None,
            min_kme_stock: DEFAULT_MIN_KME_STOCK,
            time_to_empty_alarm: DEFAULT_TIME_TO_EMPTY_ALARM,
            mode: Mode::QkdAndPqc,
            on_violation: OnViolation::Rekey,
            isolate_deadline: DEFAULT_ISOLATE_DEADLINE,
            max_rekey_failures: DEFAULT_MAX_REKEY_FAILURES,
            recovery: Recovery::Auto,
            recovery_hold: DEFAULT_RECOVERY_HOLD,
        }
    }
}

/// Why a policy is refused: the field (JSON name) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid freshness policy: {field}: {why}")]
pub struct PolicyError {
    /// The field, as the JSON names it (`rekeyPeriodSeconds`, …).
    pub field: &'static str,
    /// Why.
    pub why: String,
}

fn refuse(field: &'static str, why: impl Into<String>) -> PolicyError {
    PolicyError { field, why: why.into() }
}

/// Largest duration accepted (about 31 years), as for the config file.
const MAX_SECONDS: f64 = 1e9;

impl FreshnessPolicy {
    /// Checks the fields against each other.
    pub fn validate(&self) -> Result<(), PolicyError> {
        for (field, d) in [
            ("rekeyPeriodSeconds", self.rekey_period),
            ("maxKeyAgeSeconds", self.max_key_age),
            ("timeToEmptyAlarmSeconds", self.time_to_empty_alarm),
            ("isolateDeadlineSeconds", self.isolate_deadline),
        ] {
            if d.is_zero() {
                return Err(refuse(field, "must be greater than 0"));
            }
            if d.as_secs_f64() >= MAX_SECONDS {
                return Err(refuse(field, format!("{} s is too long", d.as_secs_f64())));
            }
        }
        if self.recovery_hold.as_secs_f64() >= MAX_SECONDS {
            return Err(refuse("recoveryHoldSeconds", "too long"));
        }
        if self.max_key_age < self.rekey_period {
            return Err(refuse(
                "maxKeyAgeSeconds",
                format!(
                    "{} s is shorter than rekeyPeriodSeconds ({} s): every key would be a violation before its rekey is due",
                    self.max_key_age.as_secs_f64(),
                    self.rekey_period.as_secs_f64()
                ),
            ));
        }
        if self.max_bytes_per_key == 0 {
            return Err(refuse("maxBytesPerKey", "must be greater than 0"));
        }
        if self.max_packets_per_key == Some(0) {
            return Err(refuse("maxPacketsPerKey", "must be greater than 0 (omit it for no limit)"));
        }
        if self.max_rekey_failures == 0 {
            return Err(refuse("maxRekeyFailures", "must be at least 1"));
        }
        if let Scope::Nodes(nodes) = &self.scope {
            if nodes.is_empty() {
                return Err(refuse("scope", "an empty list applies to no node; use \"all\" or name nodes"));
            }
            if let Some(bad) = nodes.iter().find(|n| n.trim().is_empty()) {
                return Err(refuse("scope", format!("{bad:?} is not an E2 node id")));
            }
            for (i, n) in nodes.iter().enumerate() {
                if nodes[..i].contains(n) {
                    return Err(refuse("scope", format!("{n:?} is listed twice")));
                }
            }
        }
        Ok(())
    }

    /// Parses a JSON policy (A1 body) and validates it.
    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| refuse("(body)", e.to_string()))?;
        if !value.is_object() {
            return Err(refuse("(body)", "expected a JSON object"));
        }
        let p: Self = serde_json::from_value(value).map_err(|e| refuse("(body)", e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// Parses a TOML policy (the config file's `[freshness]` table) and validates it.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let p: Self = toml::from_str(text).map_err(|e| refuse("(file)", e.to_string().trim().to_string()))?;
        p.validate()?;
        Ok(p)
    }
}

/// Durations as a number of seconds (fractions allowed).
pub(crate) mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        let secs = d.as_secs_f64();
        if d.subsec_nanos() == 0 { s.serialize_u64(d.as_secs()) } else { s.serialize_f64(secs) }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        if !(v.is_finite() && (0.0..super::MAX_SECONDS).contains(&v)) {
            return Err(de::Error::custom(format!("{v}: expected a number of seconds >= 0")));
        }
        Ok(Duration::from_secs_f64(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_sensible() {
        let p = FreshnessPolicy::default();
        p.validate().expect("default policy");
        assert_eq!(p.rekey_period, Duration::from_secs(60));
        assert_eq!(p.max_key_age, Duration::from_secs(300));
        assert_eq!(p.max_bytes_per_key, 1 << 30);
        assert_eq!(p.mode, Mode::QkdAndPqc);
        assert_eq!(FreshnessPolicy::from_json("{}").expect("empty"), p);
        assert_eq!(FreshnessPolicy::from_toml("").expect("empty"), p);
    }

    #[test]
    fn json_round_trip_in_a1_style() {
        let text = r#"{
            "scope": ["gNB/001-01/0x1000:28", "gNB/001-01/0x1001:28"],
            "rekeyPeriodSeconds": 30,
            "maxKeyAgeSeconds": 90.5,
            "maxBytesPerKey": 1000000,
            "maxPacketsPerKey": 5000,
            "minKmeStock": 4,
            "timeToEmptyAlarmSeconds": 120,
            "mode": "at-least-qkd",
            "onViolation": "degrade",
            "isolateDeadlineSeconds": 20,
            "maxRekeyFailures": 2,
            "recovery": "manual",
            "recoveryHoldSeconds": 0
        }"#;
        let p = FreshnessPolicy::from_json(text).expect("policy");
        assert_eq!(p.scope, Scope::Nodes(vec!["gNB/001-01/0x1000:28".into(), "gNB/001-01/0x1001:28".into()]));
        assert_eq!(p.max_key_age, Duration::from_secs_f64(90.5));
        assert_eq!(p.max_packets_per_key, Some(5000));
        assert_eq!((p.mode, p.on_violation, p.recovery), (Mode::AtLeastQkd, OnViolation::Degrade, Recovery::Manual));
        let json = serde_json::to_value(&p).expect("serialize");
        assert_eq!(json["rekeyPeriodSeconds"], 30);
        assert_eq!(json["maxKeyAgeSeconds"], 90.5);
        assert_eq!(json["onViolation"], "degrade");
        assert_eq!(json["mode"], "at-least-qkd");
        let back: FreshnessPolicy = serde_json::from_value(json).expect("back");
        assert_eq!(back, p);
        let all = serde_json::to_value(FreshnessPolicy::default()).expect("serialize");
        assert_eq!(all["scope"], "all");
        assert!(all.get("maxPacketsPerKey").is_none());
    }

    #[test]
    fn toml_kebab_and_camel() {
        let p = FreshnessPolicy::from_toml(
            "scope = \"all\"\nrekey-period-seconds = 10\nmax-key-age-seconds = 40\non-violation = \"isolate\"\nmode = \"AtLeastPqcRequired\"\n",
        )
        .expect("kebab");
        assert_eq!((p.rekey_period, p.max_key_age), (Duration::from_secs(10), Duration::from_secs(40)));
        assert_eq!((p.on_violation, p.mode), (OnViolation::Isolate, Mode::AtLeastPqc));
        let q = FreshnessPolicy::from_toml(
            "rekeyPeriodSeconds = 10\nmaxKeyAgeSeconds = 40\nonViolation = \"isolate\"\nmode = \"at-least-pqc\"\n",
        )
        .expect("camel");
        assert_eq!(p, q);
    }

    #[test]
    fn bad_policies_name_the_field() {
        for (text, field) in [
            (r#"{"rekeyPeriodSeconds": 0}"#, "rekeyPeriodSeconds"),
            (r#"{"maxKeyAgeSeconds": 0}"#, "maxKeyAgeSeconds"),
            (r#"{"rekeyPeriodSeconds": 120, "maxKeyAgeSeconds": 60}"#, "maxKeyAgeSeconds"),
            (r#"{"maxBytesPerKey": 0}"#, "maxBytesPerKey"),
            (r#"{"maxPacketsPerKey": 0}"#, "maxPacketsPerKey"),
            (r#"{"timeToEmptyAlarmSeconds": 0}"#, "timeToEmptyAlarmSeconds"),
            (r#"{"isolateDeadlineSeconds": 0}"#, "isolateDeadlineSeconds"),
            (r#"{"maxRekeyFailures": 0}"#, "maxRekeyFailures"),
            (r#"{"scope": []}"#, "scope"),
            (r#"{"scope": ["a", "a"]}"#, "scope"),
            (r#"{"scope": [" "]}"#, "scope"),
            (r#"{"scope": "some"}"#, "(body)"),
            (r#"{"rekeyPeriodSeconds": -1}"#, "(body)"),
            (r#"{"mode": "qkd-only"}"#, "(body)"),
            (r#"{"onViolation": "panic"}"#, "(body)"),
            (r#"{"rekeyPeriod": 60}"#, "(body)"),
            (r#"[]"#, "(body)"),
        ] {
            let err = FreshnessPolicy::from_json(text).expect_err(text);
            assert_eq!(err.field, field, "{text}: {err}");
        }
        let err = FreshnessPolicy::from_toml("rekey-period = 5\n").expect_err("unknown key");
        assert!(err.why.contains("rekey-period"), "{err}");
    }
}

/// The policies in force: the configured one (the base, `[freshness]`) and
/// the A1 policies of type `qsafe-e2-key-freshness`, by A1 policy id.
///
/// Which policy governs a link: the most recently created or updated A1
/// policy whose scope names the node or is `all`; when none, the base. (A1
/// does not order policies; "last writer wins" is what an operator expects
/// when a narrower policy is put after a broad one, and it is deterministic.)
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicySet {
    base: FreshnessPolicy,
    /// Oldest first: later entries take precedence.
    a1: Vec<(String, FreshnessPolicy)>,
}

impl PolicySet {
    /// Only the base policy (validated by the caller).
    pub fn new(base: FreshnessPolicy) -> Self {
        Self { base, a1: Vec::new() }
    }

    /// The base (configured) policy.
    pub fn base(&self) -> &FreshnessPolicy {
        &self.base
    }

    /// Replaces the base policy.
    pub fn set_base(&mut self, policy: FreshnessPolicy) -> Result<(), PolicyError> {
        policy.validate()?;
        self.base = policy;
        Ok(())
    }

    /// Creates or replaces the A1 policy `id` (it then takes precedence over
    /// every other one). Refused (nothing changes) when invalid.
    pub fn upsert(&mut self, id: &str, policy: FreshnessPolicy) -> Result<(), PolicyError> {
        policy.validate()?;
        self.a1.retain(|(i, _)| i != id);
        self.a1.push((id.to_string(), policy));
        Ok(())
    }

    /// Deletes the A1 policy `id`; whether it existed.
    pub fn remove(&mut self, id: &str) -> bool {
        let n = self.a1.len();
        self.a1.retain(|(i, _)| i != id);
        n != self.a1.len()
    }

    /// The A1 policy `id`.
    pub fn get(&self, id: &str) -> Option<&FreshnessPolicy> {
        self.a1.iter().find(|(i, _)| i == id).map(|(_, p)| p)
    }

    /// The A1 policies, oldest first.
    pub fn a1_policies(&self) -> impl Iterator<Item = (&str, &FreshnessPolicy)> {
        self.a1.iter().map(|(i, p)| (i.as_str(), p))
    }

    /// The policy governing `node` and the A1 id it comes from (`None`: the base).
    pub fn for_node(&self, node: &str) -> (&FreshnessPolicy, Option<&str>) {
        match self.a1.iter().rev().find(|(_, p)| p.scope.contains(node)) {
            Some((id, p)) => (p, Some(id.as_str())),
            None => (&self.base, None),
        }
    }
}
