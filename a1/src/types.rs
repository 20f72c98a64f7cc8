//! The two qsafe policy types, compiled in from `descriptors/a1/*.json`, and
//! the identifiers A1 uses for them.
//!
//! Why compiled in: the schema files are the single source of the policy
//! shapes (descriptors/a1/README.md). The xApp serves them over A1-P, the
//! rApp validates against them before it sends, and both must agree byte
//! for byte; `include_str!` makes a drifted copy impossible.
//!
//! A1-P v2 names a type by a string (`<name>_<semver>`); the OSC A1 mediator
//! by an integer in 1..=2^31-1, which has no registry, so the integers are
//! configurable ([`OscTypeIds`]).

use std::fmt;

use serde_json::Value;

/// The key-freshness policy type id (A1-P v2 `policyTypeId`).
pub const KEY_FRESHNESS_TYPE_ID: &str = "qsafe-e2-key-freshness_1.0.0";
/// The PQC-trust policy type id (A1-P v2 `policyTypeId`).
pub const PQC_TRUST_TYPE_ID: &str = "qsafe-pqc-trust_1.0.0";

/// Default OSC mediator integer id of the key-freshness type.
pub const DEFAULT_OSC_KEY_FRESHNESS_ID: u32 = 31001;
/// Default OSC mediator integer id of the PQC-trust type.
pub const DEFAULT_OSC_PQC_TRUST_ID: u32 = 31002;

/// Largest OSC mediator `policy_type_id` (its OpenAPI: `maximum: 2147483647`).
pub const OSC_TYPE_ID_MAX: u32 = i32::MAX as u32;

/// Longest policy id this termination accepts.
pub const POLICY_ID_MAX_LEN: usize = 256;

const KEY_FRESHNESS_POLICY_SCHEMA: &str =
    include_str!("../../descriptors/a1/qsafe-e2-key-freshness.policy-schema.json");
const KEY_FRESHNESS_STATUS_SCHEMA: &str =
    include_str!("../../descriptors/a1/qsafe-e2-key-freshness.status-schema.json");
const PQC_TRUST_POLICY_SCHEMA: &str = include_str!("../../descriptors/a1/qsafe-pqc-trust.policy-schema.json");
const PQC_TRUST_STATUS_SCHEMA: &str = include_str!("../../descriptors/a1/qsafe-pqc-trust.status-schema.json");

/// Which of the qsafe policy types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyKind {
    /// `qsafe-e2-key-freshness_1.0.0`: rekey periods, key age/usage limits,
    /// KME alarms, key-source mode, violation handling.
    KeyFreshness,
    /// `qsafe-pqc-trust_1.0.0`: ML-DSA trust anchors and accepted levels.
    PqcTrust,
}

impl PolicyKind {
    /// Every kind, in the order the registry lists them.
    pub const ALL: [PolicyKind; 2] = [PolicyKind::KeyFreshness, PolicyKind::PqcTrust];

    /// The A1-P v2 `policyTypeId`.
    pub fn type_id(self) -> &'static str {
        match self {
            PolicyKind::KeyFreshness => KEY_FRESHNESS_TYPE_ID,
            PolicyKind::PqcTrust => PQC_TRUST_TYPE_ID,
        }
    }

    /// The kind an A1-P v2 `policyTypeId` names, if it is one of ours.
    pub fn from_type_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.type_id() == id)
    }

    /// The type's name: its id without the `_<version>` suffix.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::KeyFreshness => "qsafe-e2-key-freshness",
            PolicyKind::PqcTrust => "qsafe-pqc-trust",
        }
    }

    /// The policy schema file's text, as compiled in.
    pub fn policy_schema_text(self) -> &'static str {
        match self {
            PolicyKind::KeyFreshness => KEY_FRESHNESS_POLICY_SCHEMA,
            PolicyKind::PqcTrust => PQC_TRUST_POLICY_SCHEMA,
        }
    }

    /// The status schema file's text, as compiled in.
    pub fn status_schema_text(self) -> &'static str {
        match self {
            PolicyKind::KeyFreshness => KEY_FRESHNESS_STATUS_SCHEMA,
            PolicyKind::PqcTrust => PQC_TRUST_STATUS_SCHEMA,
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_id())
    }
}

/// The OSC A1 mediator's integer ids of the two types (config `[a1]
/// freshness-type-id`, `trust-type-id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OscTypeIds {
    /// Integer id of `qsafe-e2-key-freshness_1.0.0`.
    pub key_freshness: u32,
    /// Integer id of `qsafe-pqc-trust_1.0.0`.
    pub pqc_trust: u32,
}

impl Default for OscTypeIds {
    fn default() -> Self {
        Self { key_freshness: DEFAULT_OSC_KEY_FRESHNESS_ID, pqc_trust: DEFAULT_OSC_PQC_TRUST_ID }
    }
}

/// Why a pair of OSC type ids cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OscTypeIdError {
    /// Outside the mediator's range 1..=2147483647.
    #[error("OSC policy_type_id {id} for {kind} is outside 1..={OSC_TYPE_ID_MAX}")]
    OutOfRange {
        /// The type it was meant for.
        kind: PolicyKind,
        /// The refused id.
        id: u32,
    },
    /// Both types would have the same integer.
    #[error("OSC policy_type_id {id} is configured for both policy types")]
    Duplicate {
        /// The shared id.
        id: u32,
    },
}

impl OscTypeIds {
    /// Checks the mediator's range and that the two ids differ.
    pub fn new(key_freshness: u32, pqc_trust: u32) -> Result<Self, OscTypeIdError> {
        for (kind, id) in [(PolicyKind::KeyFreshness, key_freshness), (PolicyKind::PqcTrust, pqc_trust)] {
            if id == 0 || id > OSC_TYPE_ID_MAX {
                return Err(OscTypeIdError::OutOfRange { kind, id });
            }
        }
        if key_freshness == pqc_trust {
            return Err(OscTypeIdError::Duplicate { id: key_freshness });
        }
        Ok(Self { key_freshness, pqc_trust })
    }

    /// The integer id of `kind`.
    pub fn id_of(&self, kind: PolicyKind) -> u32 {
        match kind {
            PolicyKind::KeyFreshness => self.key_freshness,
            PolicyKind::PqcTrust => self.pqc_trust,
        }
    }

    /// The kind an integer id names.
    pub fn kind_of(&self, id: u32) -> Option<PolicyKind> {
        PolicyKind::ALL.into_iter().find(|k| self.id_of(*k) == id)
    }
}

/// Why a string is not a usable policy id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyIdError {
    /// The empty string.
    #[error("policy id is empty")]
    Empty,
    /// Longer than [`POLICY_ID_MAX_LEN`] characters.
    #[error("policy id is {len} characters long, at most {POLICY_ID_MAX_LEN} are accepted")]
    TooLong {
        /// Its length in characters.
        len: usize,
    },
    /// Holds a control character (C0, DEL or C1).
    #[error("policy id holds control character U+{code:04X} at character {index}")]
    ControlCharacter {
        /// The character's code point.
        code: u32,
        /// Its index (in characters).
        index: usize,
    },
    /// Holds a `/`, which would make it a path of its own.
    #[error("policy id holds '/' at character {index}")]
    Slash {
        /// Its index (in characters).
        index: usize,
    },
}

/// An A1-P policy id (a string assigned by the A1-P consumer) that this
/// termination accepts: 1 to 256 characters, no control characters, no `/`.
///
/// A1-P itself only says "string"; the limits keep ids usable as path
/// segments, file-store keys and log fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct PolicyId(String);

impl PolicyId {
    /// Checks `id` and wraps it.
    pub fn parse(id: &str) -> Result<Self, PolicyIdError> {
        validate_policy_id(id)?;
        Ok(Self(id.to_owned()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for PolicyId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for PolicyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PolicyId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Checks a policy id (see [`PolicyId`]).
pub fn validate_policy_id(id: &str) -> Result<(), PolicyIdError> {
    if id.is_empty() {
        return Err(PolicyIdError::Empty);
    }
    let mut len = 0;
    for (index, c) in id.chars().enumerate() {
        len += 1;
        if c.is_control() {
            return Err(PolicyIdError::ControlCharacter { code: u32::from(c), index });
        }
        if c == '/' {
            return Err(PolicyIdError::Slash { index });
        }
    }
    if len > POLICY_ID_MAX_LEN {
        return Err(PolicyIdError::TooLong { len });
    }
    Ok(())
}

/// The OSC A1 mediator's shape of a type (`policy_type_schema`): `{name,
/// description, policy_type_id, create_schema}`, with the policy schema's
/// description. The mediator has no status schema.
pub fn osc_mediator_type(kind: PolicyKind, ids: &OscTypeIds, policy_schema: &Value) -> Value {
    let description = policy_schema.get("description").and_then(Value::as_str).unwrap_or_default();
    serde_json::json!({
        "name": kind.name(),
        "description": description,
        "policy_type_id": ids.id_of(kind),
        "create_schema": policy_schema,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn policy_ids() {
        assert!(validate_policy_id("abc-1").is_ok());
        assert!(validate_policy_id("ünïcode ok").is_ok());
        assert_eq!(validate_policy_id(""), Err(PolicyIdError::Empty));
        assert_eq!(validate_policy_id(&"x".repeat(256)), Ok(()));
        assert_eq!(validate_policy_id(&"x".repeat(257)), Err(PolicyIdError::TooLong { len: 257 }));
        assert_eq!(validate_policy_id("a\nb"), Err(PolicyIdError::ControlCharacter { code: 10, index: 1 }));
        assert_eq!(validate_policy_id("a\u{7f}"), Err(PolicyIdError::ControlCharacter { code: 0x7f, index: 1 }));
        assert_eq!(validate_policy_id("a\u{85}"), Err(PolicyIdError::ControlCharacter { code: 0x85, index: 1 }));
        assert_eq!(validate_policy_id("a/b"), Err(PolicyIdError::Slash { index: 1 }));
    }

    #[test]
    fn osc_ids() {
        assert!(OscTypeIds::new(1, OSC_TYPE_ID_MAX).is_ok());
        assert_eq!(OscTypeIds::new(0, 2), Err(OscTypeIdError::OutOfRange { kind: PolicyKind::KeyFreshness, id: 0 }));
        assert_eq!(
            OscTypeIds::new(1, OSC_TYPE_ID_MAX + 1),
            Err(OscTypeIdError::OutOfRange { kind: PolicyKind::PqcTrust, id: OSC_TYPE_ID_MAX + 1 })
        );
        assert_eq!(OscTypeIds::new(5, 5), Err(OscTypeIdError::Duplicate { id: 5 }));
        let ids = OscTypeIds::default();
        assert_eq!(ids.kind_of(31002), Some(PolicyKind::PqcTrust));
        assert_eq!(ids.kind_of(31003), None);
    }

    #[test]
    fn kinds_round_trip() {
        for k in PolicyKind::ALL {
            assert_eq!(PolicyKind::from_type_id(k.type_id()), Some(k));
            assert!(k.type_id().starts_with(k.name()));
        }
        assert_eq!(PolicyKind::from_type_id("ORAN_QoSTarget_2.0.0"), None);
    }
}
