//! Intake of policy bodies: size cap, JSON parsing, JSON Schema draft-07
//! validation against the type's `policySchema`, typed decoding into
//! [`KeyFreshnessPolicy`] / [`PqcTrustPolicy`], and the checks the schema
//! cannot express.
//!
//! Why every step reports *all* violations with a JSON pointer: an A1-P
//! consumer (the rApp, an SMO, an operator with curl) gets one 400 with
//! every field to fix, each named by its path (`/rekeyPeriodSeconds`,
//! `/trustAnchors/1/pem`), instead of fixing one error per round trip.
//!
//! Why typed decoding after the schema: the xApp enforces Rust values, not
//! JSON, and a body that passes the schema can still not fit them (a draft-07
//! "integer" may be `5.0` or `1e30`) or contradict itself
//! (`maxKeyAgeSeconds` < `rekeyPeriodSeconds`). Those are refused here, at
//! intake, with a path like schema errors, rather than failing later in the
//! enforcement. Trust-anchor PEM blocks are checked for framing only (one
//! `CERTIFICATE` block, base64 that decodes, a DER SEQUENCE of the right
//! length); the certificate itself is verified by the xApp's PKI code.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use jsonschema::Validator;
use jsonschema::error::ValidationErrorKind;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::types::PolicyKind;

/// Default cap on a policy body (64 KiB): a trust policy of 16 ML-DSA-87
/// roots in PEM is well under it.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Longest `reason` kept in a [`Violation`]: messages quote the offending
/// value, which may be as large as the body.
const MAX_REASON_CHARS: usize = 300;

/// One thing wrong with a body, at a place in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// JSON pointer (RFC 6901) of the offending value; `""` is the whole body.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Violation {
    /// A violation at `path`, its reason truncated to a readable length.
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { path: path.into(), reason: truncate(reason.into()) }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { "(body)" } else { &self.path };
        write!(f, "{path}: {}", self.reason)
    }
}

/// Every violation found in one body (never empty when returned as an error).
pub type Violations = Vec<Violation>;

fn truncate(mut s: String) -> String {
    if let Some((idx, _)) = s.char_indices().nth(MAX_REASON_CHARS) {
        s.truncate(idx);
        s.push('…');
    }
    s
}

/// Appends `segment` to a JSON pointer, escaped per RFC 6901.
pub fn pointer_push(base: &str, segment: &str) -> String {
    let escaped = segment.replace('~', "~0").replace('/', "~1");
    format!("{base}/{escaped}")
}

/// Why a request body is not a JSON document this service can look at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// No body at all (A1-P requires one on PUT).
    #[error("the request has no body; a policy object is required")]
    Empty,
    /// Larger than the cap.
    #[error("the body is {len} bytes, more than the {limit} accepted")]
    TooLarge {
        /// Its length (at least `limit + 1` when it was cut off while reading).
        len: usize,
        /// The cap.
        limit: usize,
    },
    /// Not JSON (or not UTF-8, or truncated, or nested too deeply).
    #[error("the body is not JSON: {reason} at line {line} column {column}")]
    NotJson {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's message.
        reason: String,
    },
}

/// Parses a request body as JSON, refusing empty and oversized ones.
pub fn parse_json_body(body: &[u8], limit: usize) -> Result<Value, BodyError> {
    if body.len() > limit {
        return Err(BodyError::TooLarge { len: body.len(), limit });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::Empty);
    }
    serde_json::from_slice(body).map_err(|e| {
        // serde_json's Display appends " at line L column C"; keep the message only.
        let full = e.to_string();
        let reason = match full.rfind(" at line ") {
            Some(i) => full[..i].to_owned(),
            None => full,
        };
        BodyError::NotJson { line: e.line(), column: e.column(), reason }
    })
}

/// All schema violations of `instance` under `validator`.
///
/// Refinements over the raw validator output, so paths name the field
/// to fix: an `additionalProperties` error names each unexpected member
/// (`/colour`, not `""`), a missing required member is named by its own
/// path (`/trustAnchors`), and a failed `oneOf` whose branches differ by type
/// (`"all"` or a list) reports the errors of the branch of the value's type
/// (`/scope: [] has less than 1 item`).
pub fn schema_violations(validator: &Validator, instance: &Value) -> Result<(), Violations> {
    let mut out = Vec::new();
    for e in validator.iter_errors(instance) {
        collect(&e, &mut out);
    }
    dedup(&mut out);
    if out.is_empty() { Ok(()) } else { Err(out) }
}

fn collect(e: &jsonschema::ValidationError<'_>, out: &mut Violations) {
    let path = e.instance_path().as_str().to_owned();
    match e.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for name in unexpected {
                out.push(Violation::new(pointer_push(&path, name), "unknown member: not in the policy schema"));
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().map_or_else(|| property.to_string(), str::to_owned);
            out.push(Violation::new(pointer_push(&path, &name), "required member is missing"));
        }
        ValidationErrorKind::OneOfNotValid { context } => {
            let typed: Vec<_> = context
                .iter()
                .filter(|branch| {
                    !branch.iter().any(|b| {
                        matches!(b.kind(), ValidationErrorKind::Type { .. }) && b.instance_path().as_str() == path
                    })
                })
                .collect();
            match typed.as_slice() {
                [branch] if !branch.is_empty() => branch.iter().for_each(|b| collect(b, out)),
                _ => out.push(Violation::new(path, e.to_string())),
            }
        }
        _ => out.push(Violation::new(path, e.to_string())),
    }
}

fn dedup(v: &mut Violations) {
    let mut seen = BTreeSet::new();
    v.retain(|x| seen.insert((x.path.clone(), x.reason.clone())));
}

/// The E2 nodes a policy applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every E2 node (`"all"`).
    All,
    /// These E2 node ids (non-empty, unique).
    Nodes(Vec<String>),
}

impl Scope {
    /// Whether `node` is in scope.
    pub fn contains(&self, node: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Nodes(n) => n.iter().any(|x| x == node),
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Scope::All => s.serialize_str("all"),
            Scope::Nodes(n) => n.serialize(s),
        }
    }
}

/// Key-source mode of a link (`mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeySourceMode {
    /// Hybrid keys only (QKD and ML-KEM).
    #[default]
    QkdAndPqc,
    /// QKD at least.
    AtLeastQkd,
    /// ML-KEM at least.
    AtLeastPqc,
    /// Either source.
    Either,
}

/// What a violation triggers (`onViolation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ViolationAction {
    /// Rekey in the policy's mode (fails closed when a source is missing).
    #[default]
    Rekey,
    /// Continue on ML-KEM-only keys, alarm.
    Degrade,
    /// Remove the link's SAs, bar the node's E2 Setup until recovery, alarm.
    Isolate,
}

/// How a degraded or isolated link returns to the policy's mode (`recovery`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecoveryMode {
    /// Once the missing source has been back for `recoveryHoldSeconds`.
    #[default]
    Auto,
    /// Only by an operator.
    Manual,
}

/// A `qsafe-e2-key-freshness_1.0.0` policy, defaults filled in. Field names
/// and defaults are the schema file's; seconds stay `f64` as the schema's
/// `number` (use the `Duration` accessors).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyFreshnessPolicy {
    /// The E2 nodes it applies to (default all).
    pub scope: Scope,
    /// Seconds between scheduled rekeys (default 60).
    pub rekey_period_seconds: f64,
    /// A key older than this is a violation (default 300; >= rekey period).
    pub max_key_age_seconds: f64,
    /// Bytes under one SA pair before a violation (default 1 GiB).
    pub max_bytes_per_key: u64,
    /// Packets under one SA pair before a violation (default none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_packets_per_key: Option<u64>,
    /// KME stock below this raises kme-stock-low (default 10).
    pub min_kme_stock: u64,
    /// KME time-to-empty below this raises an alarm (default 600).
    pub time_to_empty_alarm_seconds: f64,
    /// Key-source mode (default qkd-and-pqc).
    pub mode: KeySourceMode,
    /// What a violation triggers (default rekey).
    pub on_violation: ViolationAction,
    /// How long a node may stay unprotected after E2 Setup (default 60).
    pub isolate_deadline_seconds: f64,
    /// Consecutive failed rekeys before a violation (default 3).
    pub max_rekey_failures: u32,
    /// How a degraded/isolated link recovers (default auto).
    pub recovery: RecoveryMode,
    /// How long a returned source must stay before recovery (default 10).
    pub recovery_hold_seconds: f64,
}

impl Default for KeyFreshnessPolicy {
    fn default() -> Self {
        Self {
            scope: Scope::All,
            rekey_period_seconds: 60.0,
            max_key_age_seconds: 300.0,
            max_bytes_per_key: 1_073_741_824,
            max_packets_per_key: None,
            min_kme_stock: 10,
            time_to_empty_alarm_seconds: 600.0,
            mode: KeySourceMode::default(),
            on_violation: ViolationAction::default(),
            isolate_deadline_seconds: 60.0,
            max_rekey_failures: 3,
            recovery: RecoveryMode::default(),
            recovery_hold_seconds: 10.0,
        }
    }
}

fn secs(x: f64) -> Duration {
    // Validated range is (0, 1e9] (recovery hold [0, 1e9]); try_ keeps this total.
    Duration::try_from_secs_f64(x).unwrap_or(Duration::MAX)
}

impl KeyFreshnessPolicy {
    /// `rekeyPeriodSeconds` as a duration.
    pub fn rekey_period(&self) -> Duration {
        secs(self.rekey_period_seconds)
    }
    /// `maxKeyAgeSeconds` as a duration.
    pub fn max_key_age(&self) -> Duration {
        secs(self.max_key_age_seconds)
    }
    /// `timeToEmptyAlarmSeconds` as a duration.
    pub fn time_to_empty_alarm(&self) -> Duration {
        secs(self.time_to_empty_alarm_seconds)
    }
    /// `isolateDeadlineSeconds` as a duration.
    pub fn isolate_deadline(&self) -> Duration {
        secs(self.isolate_deadline_seconds)
    }
    /// `recoveryHoldSeconds` as a duration.
    pub fn recovery_hold(&self) -> Duration {
        secs(self.recovery_hold_seconds)
    }

    /// Decodes a body that passed the schema, then checks what the schema
    /// cannot (`maxKeyAgeSeconds` >= `rekeyPeriodSeconds`).
    pub fn from_json(body: &Value) -> Result<Self, Violations> {
        let mut d = Decoder::new(body)?;
        let mut p = KeyFreshnessPolicy::default();
        if let Some(s) = d.scope("scope") {
            p.scope = s;
        }
        d.number("rekeyPeriodSeconds", &mut p.rekey_period_seconds);
        d.number("maxKeyAgeSeconds", &mut p.max_key_age_seconds);
        d.uint("maxBytesPerKey", &mut p.max_bytes_per_key);
        if let Some(v) = d.opt_uint("maxPacketsPerKey") {
            p.max_packets_per_key = Some(v);
        }
        d.uint("minKmeStock", &mut p.min_kme_stock);
        d.number("timeToEmptyAlarmSeconds", &mut p.time_to_empty_alarm_seconds);
        d.choice(
            "mode",
            &mut p.mode,
            &[
                ("qkd-and-pqc", KeySourceMode::QkdAndPqc),
                ("at-least-qkd", KeySourceMode::AtLeastQkd),
                ("at-least-pqc", KeySourceMode::AtLeastPqc),
                ("either", KeySourceMode::Either),
            ],
        );
        d.choice(
            "onViolation",
            &mut p.on_violation,
            &[
                ("rekey", ViolationAction::Rekey),
                ("degrade", ViolationAction::Degrade),
                ("isolate", ViolationAction::Isolate),
            ],
        );
        d.number("isolateDeadlineSeconds", &mut p.isolate_deadline_seconds);
        let mut failures = u64::from(p.max_rekey_failures);
        d.uint("maxRekeyFailures", &mut failures);
        match u32::try_from(failures) {
            Ok(f) => p.max_rekey_failures = f,
            Err(_) => d.violation("/maxRekeyFailures", format!("{failures} is larger than {} (u32)", u32::MAX)),
        }
        d.choice("recovery", &mut p.recovery, &[("auto", RecoveryMode::Auto), ("manual", RecoveryMode::Manual)]);
        d.number("recoveryHoldSeconds", &mut p.recovery_hold_seconds);
        d.unknown_members(&[
            "scope",
            "rekeyPeriodSeconds",
            "maxKeyAgeSeconds",
            "maxBytesPerKey",
            "maxPacketsPerKey",
            "minKmeStock",
            "timeToEmptyAlarmSeconds",
            "mode",
            "onViolation",
            "isolateDeadlineSeconds",
            "maxRekeyFailures",
            "recovery",
            "recoveryHoldSeconds",
        ]);
        d.finish()?;

        let mut semantic = Vec::new();
        if p.max_key_age_seconds < p.rekey_period_seconds {
            let given = if body.get("maxKeyAgeSeconds").is_some() { "" } else { " (the default)" };
            semantic.push(Violation::new(
                "/maxKeyAgeSeconds",
                format!(
                    "maxKeyAgeSeconds {}{given} is less than rekeyPeriodSeconds {}; it must be at least the rekey period",
                    p.max_key_age_seconds, p.rekey_period_seconds
                ),
            ));
        }
        if semantic.is_empty() { Ok(p) } else { Err(semantic) }
    }

    /// The policy as JSON (every field, defaults included).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// An accepted ML-DSA parameter set (`acceptedSignatureAlgorithms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum MlDsaLevel {
    /// ML-DSA-44 (FIPS 204, category 2).
    #[serde(rename = "ML-DSA-44")]
    MlDsa44,
    /// ML-DSA-65 (category 3).
    #[serde(rename = "ML-DSA-65")]
    MlDsa65,
    /// ML-DSA-87 (category 5).
    #[serde(rename = "ML-DSA-87")]
    MlDsa87,
}

/// One trust anchor: a root certificate as one PEM block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustAnchor {
    /// A label for logs and status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The PEM block as received.
    pub pem: String,
    /// The DER bytes the PEM block carries (framing checked, not parsed).
    #[serde(skip)]
    pub der: Vec<u8>,
}

/// A `qsafe-pqc-trust_1.0.0` policy, defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PqcTrustPolicy {
    /// The E2 nodes whose chains these anchors verify (default all).
    pub scope: Scope,
    /// Root certificates (1 to 16).
    pub trust_anchors: Vec<TrustAnchor>,
    /// Accepted ML-DSA levels (default ML-DSA-65, ML-DSA-87).
    pub accepted_signature_algorithms: Vec<MlDsaLevel>,
}

impl PqcTrustPolicy {
    /// Decodes a body that passed the schema, then checks each anchor's PEM
    /// framing and that no certificate is listed twice.
    pub fn from_json(body: &Value) -> Result<Self, Violations> {
        let mut d = Decoder::new(body)?;
        let scope = d.scope("scope").unwrap_or(Scope::All);
        let mut anchors = Vec::new();
        match body.get("trustAnchors") {
            Some(Value::Array(items)) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    let at = format!("/trustAnchors/{i}");
                    let Some(obj) = item.as_object() else {
                        d.violation(&at, "a trust anchor is an object {name?, pem}");
                        continue;
                    };
                    let name = match obj.get("name") {
                        None => None,
                        Some(Value::String(s)) => Some(s.clone()),
                        Some(_) => {
                            d.violation(&format!("{at}/name"), "not a string");
                            None
                        }
                    };
                    match obj.get("pem") {
                        Some(Value::String(pem)) => match pem_certificate_der(pem) {
                            Ok(der) => anchors.push((i, TrustAnchor { name, pem: pem.clone(), der })),
                            Err(e) => d.violation(&format!("{at}/pem"), e.to_string()),
                        },
                        _ => d.violation(&format!("{at}/pem"), "required: one PEM CERTIFICATE block"),
                    }
                }
            }
            _ => d.violation("/trustAnchors", "required: a non-empty list of trust anchors"),
        }
        for (pos, (i, a)) in anchors.iter().enumerate() {
            if let Some((first, _)) = anchors[..pos].iter().find(|(_, b)| b.der == a.der) {
                d.violation(
                    &format!("/trustAnchors/{i}/pem"),
                    format!("the same certificate as /trustAnchors/{first}"),
                );
            }
        }
        let mut algorithms = vec![MlDsaLevel::MlDsa65, MlDsaLevel::MlDsa87];
        if let Some(v) = body.get("acceptedSignatureAlgorithms") {
            match v.as_array() {
                Some(items) if !items.is_empty() => {
                    algorithms.clear();
                    for (i, item) in items.iter().enumerate() {
                        match item.as_str() {
                            Some("ML-DSA-44") => algorithms.push(MlDsaLevel::MlDsa44),
                            Some("ML-DSA-65") => algorithms.push(MlDsaLevel::MlDsa65),
                            Some("ML-DSA-87") => algorithms.push(MlDsaLevel::MlDsa87),
                            _ => d.violation(
                                &format!("/acceptedSignatureAlgorithms/{i}"),
                                "one of ML-DSA-44, ML-DSA-65, ML-DSA-87",
                            ),
                        }
                    }
                }
                _ => d.violation("/acceptedSignatureAlgorithms", "a non-empty list of ML-DSA levels"),
            }
        }
        d.unknown_members(&["scope", "trustAnchors", "acceptedSignatureAlgorithms"]);
        d.finish()?;
        Ok(Self {
            scope,
            trust_anchors: anchors.into_iter().map(|(_, a)| a).collect(),
            accepted_signature_algorithms: algorithms,
        })
    }

    /// The policy as JSON (defaults included, DER omitted).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A validated policy of either type: what the enforcement side receives.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedPolicy {
    /// `qsafe-e2-key-freshness_1.0.0`.
    KeyFreshness(KeyFreshnessPolicy),
    /// `qsafe-pqc-trust_1.0.0`.
    PqcTrust(PqcTrustPolicy),
}

impl TypedPolicy {
    /// Its type.
    pub fn kind(&self) -> PolicyKind {
        match self {
            TypedPolicy::KeyFreshness(_) => PolicyKind::KeyFreshness,
            TypedPolicy::PqcTrust(_) => PolicyKind::PqcTrust,
        }
    }

    /// Its scope.
    pub fn scope(&self) -> &Scope {
        match self {
            TypedPolicy::KeyFreshness(p) => &p.scope,
            TypedPolicy::PqcTrust(p) => &p.scope,
        }
    }
}

/// Full validation of a parsed body of type `kind`: schema, then typed
/// decoding and semantic checks (only when the schema passed, so a wrong
/// field is reported once).
pub fn validate_policy(kind: PolicyKind, schema: &Validator, body: &Value) -> Result<TypedPolicy, Violations> {
    schema_violations(schema, body)?;
    match kind {
        PolicyKind::KeyFreshness => KeyFreshnessPolicy::from_json(body).map(TypedPolicy::KeyFreshness),
        PolicyKind::PqcTrust => PqcTrustPolicy::from_json(body).map(TypedPolicy::PqcTrust),
    }
}

/// Why a PEM trust anchor is refused (framing only).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// Does not start with the BEGIN line.
    #[error("does not start with -----BEGIN CERTIFICATE-----")]
    NoBegin,
    /// No END line.
    #[error("has no -----END CERTIFICATE----- line")]
    NoEnd,
    /// More than one PEM block, or text after the END line.
    #[error(
        "holds more than one PEM block or text after -----END CERTIFICATE-----; give each certificate as its own anchor"
    )]
    TrailingData,
    /// A header line (`Name: value`) inside the block.
    #[error("holds a header line in line {line}; a CERTIFICATE block has none (RFC 7468)")]
    Header {
        /// 1-based line number.
        line: usize,
    },
    /// The body is not base64.
    #[error("the base64 body does not decode: {reason}")]
    Base64 {
        /// The decoder's message.
        reason: String,
    },
    /// The body decodes to nothing.
    #[error("the PEM block is empty")]
    EmptyBody,
    /// The DER is not one SEQUENCE of exactly the decoded length.
    #[error("the base64 body is not one DER SEQUENCE: {reason}")]
    NotDer {
        /// What is off.
        reason: String,
    },
}

/// Checks that `pem` is exactly one `CERTIFICATE` PEM block (RFC 7468, lax
/// whitespace) whose content is one DER SEQUENCE, and returns the DER.
pub fn pem_certificate_der(pem: &str) -> Result<Vec<u8>, PemError> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = pem.trim_start();
    let rest = text.strip_prefix(BEGIN).ok_or(PemError::NoBegin)?;
    let end = rest.find(END).ok_or(PemError::NoEnd)?;
    let (body, after) = (&rest[..end], &rest[end + END.len()..]);
    if !after.trim().is_empty() {
        return Err(PemError::TrailingData);
    }
    if body.contains("-----") {
        return Err(PemError::TrailingData);
    }
    let mut b64 = String::with_capacity(body.len());
    for (n, line) in body.lines().enumerate() {
        if line.contains(':') {
            return Err(PemError::Header { line: n + 1 });
        }
        b64.extend(line.chars().filter(|c| !c.is_ascii_whitespace()));
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| PemError::Base64 { reason: e.to_string() })?;
    if der.is_empty() {
        return Err(PemError::EmptyBody);
    }
    check_der_sequence(&der)?;
    Ok(der)
}

fn check_der_sequence(der: &[u8]) -> Result<(), PemError> {
    let not = |reason: String| PemError::NotDer { reason };
    if der[0] != 0x30 {
        return Err(not(format!("tag 0x{:02x}, a certificate starts with SEQUENCE (0x30)", der[0])));
    }
    let Some(&first) = der.get(1) else { return Err(not("no length".into())) };
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return Err(not(format!("length of {n} octets is not DER")));
        }
        let Some(octets) = der.get(2..2 + n) else { return Err(not("truncated length".into())) };
        if octets[0] == 0 || (n == 1 && octets[0] < 0x80) {
            return Err(not("length not in its shortest form".into()));
        }
        (octets.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)), 2 + n)
    };
    if header + len != der.len() {
        return Err(not(format!("the SEQUENCE says {} bytes, the block carries {}", header + len, der.len())));
    }
    Ok(())
}

/// Reads typed fields out of a body object, recording a violation for every
/// field that does not fit (so a caller sees them all).
struct Decoder<'a> {
    obj: &'a Map<String, Value>,
    violations: Violations,
}

impl<'a> Decoder<'a> {
    fn new(body: &'a Value) -> Result<Self, Violations> {
        match body.as_object() {
            Some(obj) => Ok(Self { obj, violations: Vec::new() }),
            None => Err(vec![Violation::new("", "a policy is a JSON object")]),
        }
    }

    fn violation(&mut self, path: &str, reason: impl Into<String>) {
        self.violations.push(Violation::new(path, reason));
    }

    fn number(&mut self, key: &str, out: &mut f64) {
        match self.obj.get(key) {
            None => {}
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() => *out = x,
                _ => self.violation(&format!("/{key}"), "not a number"),
            },
        }
    }

    fn opt_uint(&mut self, key: &str) -> Option<u64> {
        let v = self.obj.get(key)?;
        if let Some(x) = v.as_u64() {
            return Some(x);
        }
        // Draft-07 "integer" includes numbers with a zero fraction (5.0, 1e3).
        match v.as_f64() {
            Some(f) if f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f) => Some(f as u64),
            Some(f) if f.fract() == 0.0 && f > 0.0 => {
                self.violation(&format!("/{key}"), format!("{f} is larger than {} (u64)", u64::MAX));
                None
            }
            _ => {
                self.violation(&format!("/{key}"), "not a non-negative integer");
                None
            }
        }
    }

    fn uint(&mut self, key: &str, out: &mut u64) {
        if let Some(x) = self.opt_uint(key) {
            *out = x;
        }
    }

    fn choice<T: Copy>(&mut self, key: &str, out: &mut T, options: &[(&str, T)]) {
        let Some(v) = self.obj.get(key) else { return };
        match options.iter().find(|(name, _)| v.as_str() == Some(name)) {
            Some((_, t)) => *out = *t,
            None => {
                let names: Vec<_> = options.iter().map(|(n, _)| *n).collect();
                self.violation(&format!("/{key}"), format!("one of {}", names.join(", ")));
            }
        }
    }

    fn scope(&mut self, key: &str) -> Option<Scope> {
        let v = self.obj.get(key)?;
        match v {
            Value::String(s) if s == "all" => Some(Scope::All),
            Value::Array(items) if !items.is_empty() => {
                let mut nodes: Vec<String> = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(s) if !s.trim().is_empty() && !nodes.iter().any(|n| n == s) => nodes.push(s.to_owned()),
                        Some(s) if !s.trim().is_empty() => {
                            self.violation(&format!("/{key}/{i}"), "listed twice");
                        }
                        _ => self.violation(&format!("/{key}/{i}"), "an E2 node id (a non-blank string)"),
                    }
                }
                Some(Scope::Nodes(nodes))
            }
            _ => {
                self.violation(&format!("/{key}"), "\"all\" or a non-empty list of E2 node ids");
                None
            }
        }
    }

    fn unknown_members(&mut self, known: &[&str]) {
        let unknown: Vec<String> = self.obj.keys().filter(|k| !known.contains(&k.as_str())).cloned().collect();
        for k in unknown {
            self.violation(&pointer_push("", &k), "unknown member: not in the policy schema");
        }
    }

    fn finish(self) -> Result<(), Violations> {
        if self.violations.is_empty() { Ok(()) } else { Err(self.violations) }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::registry::PolicyTypeRegistry;
    use serde_json::json;

    fn reg() -> PolicyTypeRegistry {
        PolicyTypeRegistry::builtin().expect("schemas")
    }

    fn freshness(body: Value) -> Result<TypedPolicy, Violations> {
        reg().of_kind(PolicyKind::KeyFreshness).expect("type").validate_policy(&body)
    }

    /// A syntactically valid certificate-shaped DER (SEQUENCE of 70 bytes).
    pub(crate) fn fake_cert_pem(fill: u8) -> String {
        let mut der = vec![0x30, 0x44];
        der.extend(std::iter::repeat_n(fill, 0x44));
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        format!("-----BEGIN CERTIFICATE-----\n{}\n{}\n-----END CERTIFICATE-----\n", &b64[..64], &b64[64..])
    }

    #[test]
    fn empty_object_takes_every_default() {
        let Ok(TypedPolicy::KeyFreshness(p)) = freshness(json!({})) else { panic!("valid") };
        assert_eq!(p, KeyFreshnessPolicy::default());
        assert_eq!(p.rekey_period(), Duration::from_secs(60));
    }

    #[test]
    fn all_fields_decode() {
        let body = json!({"scope": ["gNB/001-01/1:22", "gNB/001-01/2:22"], "rekeyPeriodSeconds": 1.5,
            "maxKeyAgeSeconds": 2, "maxBytesPerKey": 1000, "maxPacketsPerKey": 5.0, "minKmeStock": 0,
            "timeToEmptyAlarmSeconds": 30, "mode": "either", "onViolation": "isolate",
            "isolateDeadlineSeconds": 9, "maxRekeyFailures": 1, "recovery": "manual", "recoveryHoldSeconds": 0});
        let Ok(TypedPolicy::KeyFreshness(p)) = freshness(body.clone()) else { panic!("valid") };
        assert_eq!(p.scope, Scope::Nodes(vec!["gNB/001-01/1:22".into(), "gNB/001-01/2:22".into()]));
        assert_eq!(p.max_packets_per_key, Some(5));
        assert_eq!(p.mode, KeySourceMode::Either);
        assert_eq!(p.on_violation, ViolationAction::Isolate);
        assert_eq!(p.recovery, RecoveryMode::Manual);
        assert_eq!(p.rekey_period(), Duration::from_millis(1500));
        // to_json is the same document with defaults spelled out.
        assert_eq!(p.to_json()["maxPacketsPerKey"], 5);
        assert_eq!(p.to_json()["mode"], "either");
    }

    #[test]
    fn every_violation_is_reported_with_its_path() {
        let errs =
            freshness(json!({"rekeyPeriodSeconds": 0, "mode": "qkd", "colour": 1, "scope": []})).expect_err("invalid");
        let paths: BTreeSet<_> = errs.iter().map(|v| v.path.as_str()).collect();
        assert_eq!(paths, BTreeSet::from(["/rekeyPeriodSeconds", "/mode", "/colour", "/scope"]), "{errs:?}");
    }

    #[test]
    fn semantic_key_age_check() {
        let errs = freshness(json!({"rekeyPeriodSeconds": 600})).expect_err("default max age 300 < 600");
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].path, "/maxKeyAgeSeconds");
        assert!(errs[0].reason.contains("(the default)"), "{}", errs[0].reason);
        assert!(freshness(json!({"rekeyPeriodSeconds": 600, "maxKeyAgeSeconds": 600})).is_ok());
    }

    #[test]
    fn huge_integral_float_is_refused_with_path() {
        let errs = freshness(json!({"maxBytesPerKey": 1e30})).expect_err("too large");
        assert_eq!(errs[0].path, "/maxBytesPerKey");
        let errs = freshness(json!({"maxRekeyFailures": 5_000_000_000u64})).expect_err("too large");
        assert_eq!(errs[0].path, "/maxRekeyFailures");
    }

    #[test]
    fn pem_framing() {
        let good = fake_cert_pem(1);
        assert_eq!(pem_certificate_der(&good).expect("ok").len(), 70);
        assert_eq!(pem_certificate_der("x"), Err(PemError::NoBegin));
        assert_eq!(pem_certificate_der("-----BEGIN CERTIFICATE-----\nAAAA\n"), Err(PemError::NoEnd));
        assert_eq!(pem_certificate_der(&format!("{good}{good}")), Err(PemError::TrailingData));
        assert!(matches!(
            pem_certificate_der("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----"),
            Err(PemError::Base64 { .. })
        ));
        assert!(matches!(
            pem_certificate_der("-----BEGIN CERTIFICATE-----\nMAM=\n-----END CERTIFICATE-----"),
            Err(PemError::NotDer { .. })
        ));
        assert!(matches!(
            pem_certificate_der("-----BEGIN CERTIFICATE-----\nAgEA\n-----END CERTIFICATE-----"),
            Err(PemError::NotDer { .. })
        ));
        assert_eq!(
            pem_certificate_der("-----BEGIN CERTIFICATE-----\nProc-Type: 4\nAgEA\n-----END CERTIFICATE-----"),
            Err(PemError::Header { line: 2 })
        );
    }

    #[test]
    fn trust_policy() {
        let r = reg();
        let t = r.of_kind(PolicyKind::PqcTrust).expect("type");
        let a = fake_cert_pem(1);
        let b = fake_cert_pem(2);
        let Ok(TypedPolicy::PqcTrust(p)) =
            t.validate_policy(&json!({"trustAnchors": [{"name": "g1", "pem": a}, {"pem": b}]}))
        else {
            panic!("valid")
        };
        assert_eq!(p.trust_anchors.len(), 2);
        assert_eq!(p.accepted_signature_algorithms, vec![MlDsaLevel::MlDsa65, MlDsaLevel::MlDsa87]);
        let errs = t.validate_policy(&json!({"trustAnchors": [{"pem": a}, {"pem": a}]})).expect_err("dup");
        assert_eq!(errs, vec![Violation::new("/trustAnchors/1/pem", "the same certificate as /trustAnchors/0")]);
        let broken = a.replace("-----END", "AAAA-----END");
        let errs = t.validate_policy(&json!({"trustAnchors": [{"pem": b}, {"pem": broken}]})).expect_err("bad");
        assert_eq!(errs[0].path, "/trustAnchors/1/pem");
    }

    #[test]
    fn body_parsing() {
        assert_eq!(parse_json_body(b"", 10), Err(BodyError::Empty));
        assert_eq!(parse_json_body(b" \n", 10), Err(BodyError::Empty));
        assert_eq!(parse_json_body(&[b' '; 11], 10), Err(BodyError::TooLarge { len: 11, limit: 10 }));
        let Err(BodyError::NotJson { line, column, .. }) = parse_json_body(b"{\n  \"a\": }", 100) else {
            panic!("not json")
        };
        assert_eq!((line, column), (2, 8));
        let deep = "[".repeat(10_000);
        assert!(matches!(parse_json_body(deep.as_bytes(), 100_000), Err(BodyError::NotJson { .. })));
    }

    #[test]
    fn reasons_are_truncated() {
        let v = Violation::new("/x", "y".repeat(10_000));
        assert_eq!(v.reason.chars().count(), MAX_REASON_CHARS + 1);
    }

    #[test]
    fn pointer_escaping() {
        assert_eq!(pointer_push("/a", "b/c~d"), "/a/b~1c~0d");
    }
}
