//! The registry of policy types this A1 termination serves: each type's
//! schemas, parsed once, with their compiled draft-07 validators.
//!
//! Why a registry and not two constants: the service, the rApp's clients
//! and the PMS simulator all need "is this a known type, and what are its
//! schemas", and compiling a JSON Schema is far more expensive than using
//! it. The registry does both once, at start-up, and fails there (not on the
//! first request) if a schema file were ever broken.

use std::fmt;

use jsonschema::{Draft, Validator};
use serde_json::Value;

use crate::types::{OscTypeIds, PolicyKind, osc_mediator_type};
use crate::validate::{self, TypedPolicy, Violations};

/// Why the registry could not be built (only a broken schema file, caught
/// by the crate's tests).
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A compiled-in schema file is not JSON.
    #[error("the {which} schema of {kind} is not JSON: {source}")]
    SchemaNotJson {
        /// The type.
        kind: PolicyKind,
        /// "policy" or "status".
        which: &'static str,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A compiled-in schema file is not a valid draft-07 schema.
    #[error("the {which} schema of {kind} does not compile as JSON Schema draft-07: {reason}")]
    SchemaInvalid {
        /// The type.
        kind: PolicyKind,
        /// "policy" or "status".
        which: &'static str,
        /// The compiler's message.
        reason: String,
    },
}

/// One policy type: its schemas and their validators.
pub struct RegisteredType {
    kind: PolicyKind,
    policy_schema: Value,
    status_schema: Value,
    policy_validator: Validator,
    status_validator: Validator,
}

impl fmt::Debug for RegisteredType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredType").field("kind", &self.kind).finish_non_exhaustive()
    }
}

fn compile(kind: PolicyKind, which: &'static str, text: &str) -> Result<(Value, Validator), RegistryError> {
    let schema: Value =
        serde_json::from_str(text).map_err(|source| RegistryError::SchemaNotJson { kind, which, source })?;
    let validator = jsonschema::options()
        .with_draft(Draft::Draft7)
        .build(&schema)
        .map_err(|e| RegistryError::SchemaInvalid { kind, which, reason: e.to_string() })?;
    Ok((schema, validator))
}

impl RegisteredType {
    fn new(kind: PolicyKind) -> Result<Self, RegistryError> {
        let (policy_schema, policy_validator) = compile(kind, "policy", kind.policy_schema_text())?;
        let (status_schema, status_validator) = compile(kind, "status", kind.status_schema_text())?;
        Ok(Self { kind, policy_schema, status_schema, policy_validator, status_validator })
    }

    /// Which type.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The A1-P v2 `policyTypeId`.
    pub fn type_id(&self) -> &'static str {
        self.kind.type_id()
    }

    /// The policy schema (draft-07).
    pub fn policy_schema(&self) -> &Value {
        &self.policy_schema
    }

    /// The status schema (draft-07).
    pub fn status_schema(&self) -> &Value {
        &self.status_schema
    }

    /// The A1-P v2 `PolicyTypeObject`: `{"policySchema": ..., "statusSchema": ...}`.
    pub fn policy_type_object(&self) -> Value {
        serde_json::json!({ "policySchema": self.policy_schema, "statusSchema": self.status_schema })
    }

    /// Validates a policy body: the schema, then typed decoding and the
    /// checks the schema cannot express. Every violation is reported.
    pub fn validate_policy(&self, body: &Value) -> Result<TypedPolicy, Violations> {
        validate::validate_policy(self.kind, &self.policy_validator, body)
    }

    /// Validates a status object against the status schema.
    pub fn validate_status(&self, status: &Value) -> Result<(), Violations> {
        validate::schema_violations(&self.status_validator, status)
    }
}

/// The policy types served: the two qsafe types, and the OSC integer ids
/// they have at the mediator.
#[derive(Debug)]
pub struct PolicyTypeRegistry {
    types: Vec<RegisteredType>,
    osc_ids: OscTypeIds,
}

impl PolicyTypeRegistry {
    /// Both qsafe types with the default OSC ids (31001, 31002).
    pub fn builtin() -> Result<Self, RegistryError> {
        Self::with_osc_ids(OscTypeIds::default())
    }

    /// Both qsafe types with configured OSC ids.
    pub fn with_osc_ids(osc_ids: OscTypeIds) -> Result<Self, RegistryError> {
        let types = PolicyKind::ALL.into_iter().map(RegisteredType::new).collect::<Result<_, _>>()?;
        Ok(Self { types, osc_ids })
    }

    /// The A1-P v2 type ids, in a stable order.
    pub fn type_ids(&self) -> Vec<&'static str> {
        self.types.iter().map(RegisteredType::type_id).collect()
    }

    /// Every registered type.
    pub fn types(&self) -> impl Iterator<Item = &RegisteredType> {
        self.types.iter()
    }

    /// The type an A1-P v2 `policyTypeId` names.
    pub fn get(&self, type_id: &str) -> Option<&RegisteredType> {
        self.types.iter().find(|t| t.type_id() == type_id)
    }

    /// The type of a kind.
    pub fn of_kind(&self, kind: PolicyKind) -> Option<&RegisteredType> {
        self.types.iter().find(|t| t.kind == kind)
    }

    /// The A1-P v2 `PolicyTypeObject` of a type id, `None` if unknown.
    pub fn policy_type_object(&self, type_id: &str) -> Option<Value> {
        self.get(type_id).map(RegisteredType::policy_type_object)
    }

    /// The configured OSC mediator ids.
    pub fn osc_ids(&self) -> OscTypeIds {
        self.osc_ids
    }

    /// The OSC A1 mediator's shape of a type: `{name, description,
    /// policy_type_id, create_schema}`.
    pub fn osc_mediator_type(&self, kind: PolicyKind) -> Option<Value> {
        self.of_kind(kind).map(|t| osc_mediator_type(kind, &self.osc_ids, &t.policy_schema))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn builtin_types_compile_and_serve_their_files() {
        let reg = PolicyTypeRegistry::builtin().expect("schemas compile");
        assert_eq!(reg.type_ids(), vec!["qsafe-e2-key-freshness_1.0.0", "qsafe-pqc-trust_1.0.0"]);
        let obj = reg.policy_type_object("qsafe-pqc-trust_1.0.0").expect("known");
        assert_eq!(obj["policySchema"]["$id"], "urn:qsafe-ran:a1:qsafe-pqc-trust:1.0.0:policy");
        assert_eq!(obj["statusSchema"]["$id"], "urn:qsafe-ran:a1:qsafe-pqc-trust:1.0.0:status");
        assert!(reg.policy_type_object("qsafe-pqc-trust_1.0.1").is_none());
    }

    #[test]
    fn osc_shape() {
        let reg = PolicyTypeRegistry::with_osc_ids(OscTypeIds::new(40001, 40002).expect("ids")).expect("schemas");
        let t = reg.osc_mediator_type(PolicyKind::KeyFreshness).expect("known");
        assert_eq!(t["policy_type_id"], 40001);
        assert_eq!(t["name"], "qsafe-e2-key-freshness");
        assert!(t["description"].as_str().expect("string").starts_with("Key freshness"));
        assert_eq!(t["create_schema"]["title"], "qsafe-e2-key-freshness policy");
        assert_eq!(t.as_object().expect("object").len(), 4);
    }
}
