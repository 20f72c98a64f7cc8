//! What the scanner writes, all from one [`ScanReport`](crate::model::ScanReport):
//!
//! | output | for whom | why it exists |
//! |---|---|---|
//! | [`table`] | an operator at a terminal | one line per endpoint with the verdict and the facts behind it (versions, group, signature scheme, leaf key, client-auth demand), and a count per classification; plain text so it survives logs, `less` and CI consoles |
//! | JSON (`serde_json` of the report itself) | machines, and `scan diff` | the lossless form; the model's doc describes its compatibility rules |
//! | [`cbom`] | asset inventories, auditors, migration tooling | a CycloneDX 1.6 *Cryptography Bill of Materials*: the standard format other tools (Dependency-Track, IBM's CBOMkit, …) read, so the scan feeds the organisation's crypto inventory instead of staying a qsafe-only artefact |
//! | [`diff`] | the rApp's periodic re-scan, change review | what moved between two scans: endpoints that gained or lost post-quantum protection, new or vanished endpoints, certificate rotations; regressions are the alarm-worthy part |
//!
//! The naming helpers here (key algorithm labels, accepted groups) are shared so the table, the
//! CBOM and the diff describe an endpoint with the same words.

pub mod cbom;
pub mod diff;
pub mod table;

use crate::model::{ClientAuthDemand, EndpointReport, KeyAlgorithm};

/// Short label for a subject public key algorithm, e.g. `ML-DSA-65`, `EC secp256r1`, `RSA-2048`.
pub fn key_algorithm_label(key: &KeyAlgorithm) -> String {
    match key {
        KeyAlgorithm::MlDsa { parameter_set } => format!("ML-DSA-{parameter_set}"),
        KeyAlgorithm::Ec { curve } => format!("EC {curve}"),
        KeyAlgorithm::Rsa { bits } => format!("RSA-{bits}"),
        KeyAlgorithm::Ed25519 => "Ed25519".to_owned(),
        KeyAlgorithm::Ed448 => "Ed448".to_owned(),
        KeyAlgorithm::Other { oid } => format!("OID {oid}"),
    }
}

/// Label for a client-certificate demand: `unknown`, `none`, `optional`, `required`.
pub fn client_auth_label(demand: ClientAuthDemand) -> &'static str {
    match demand {
        ClientAuthDemand::Unknown => "unknown",
        ClientAuthDemand::None => "none",
        ClientAuthDemand::Optional => "optional",
        ClientAuthDemand::Required => "required",
    }
}

/// Names of the groups the endpoint accepted in its key-exchange probes (sorted, deduplicated).
/// A probe that was accepted without a recorded group counts by what it offered.
pub fn accepted_groups(endpoint: &EndpointReport) -> Vec<String> {
    let mut groups: Vec<String> = endpoint
        .group_probes
        .iter()
        .filter(|p| p.accepted)
        .map(|p| match &p.negotiated_group {
            Some(g) => g.name.clone(),
            None => format!("{:?}", p.offered),
        })
        .collect();
    groups.sort();
    groups.dedup();
    groups
}
