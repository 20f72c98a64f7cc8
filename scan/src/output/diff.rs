//! What changed between two scans of the same estate.
//!
//! Why: the rApp re-scans periodically; an operator (or an alarm rule) needs the *movement*, not
//! two full reports: which endpoints gained post-quantum protection, which lost it (a
//! regression, e.g. a node rolled back to a classical build or a load balancer that stopped
//! offering X25519MLKEM768), which appeared or vanished, and which rotated their certificate.
//!
//! Endpoints are matched by [`Target::key`](crate::model::Target::key) (`host:port`); if a report
//! lists the same endpoint twice, its first entry counts. Classifications are ranked
//! `quantum-vulnerable` < `hybrid-kex-only` < `full-pqc`: a move up is an improvement, down a
//! regression; a move to or from `unreachable` is a change that is neither. `ScanDiff` is
//! `Serialize + Deserialize` so a diff can be stored or shipped as JSON like the reports.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::model::{Classification, ClientAuthDemand, EndpointReport, ScanReport, TlsVersion};

use super::{accepted_groups, client_auth_label, key_algorithm_label};

/// The difference between an old and a new scan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanDiff {
    /// Endpoints only in the new scan (new order).
    #[serde(default)]
    pub added: Vec<EndpointSummary>,
    /// Endpoints only in the old scan (old order).
    #[serde(default)]
    pub removed: Vec<EndpointSummary>,
    /// Endpoints in both scans with at least one difference (new order).
    #[serde(default)]
    pub changed: Vec<EndpointDiff>,
    /// Counts.
    pub summary: DiffSummary,
}

/// An endpoint that appeared or disappeared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointSummary {
    /// `host:port`.
    pub endpoint: String,
    /// Its classification in the scan it is in.
    pub classification: Classification,
}

/// Direction of a classification change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// Moved up (e.g. quantum-vulnerable → hybrid-kex-only).
    Improved,
    /// Moved down (e.g. full-pqc → hybrid-kex-only).
    Regressed,
    /// Classification unchanged, or a move to or from unreachable; other fields changed.
    Changed,
}

/// An old and a new value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change<T> {
    /// Value in the old scan.
    pub old: T,
    /// Value in the new scan.
    pub new: T,
}

impl<T: PartialEq + Clone> Change<T> {
    fn of(old: &T, new: &T) -> Option<Self> {
        (old != new).then(|| Self { old: old.clone(), new: new.clone() })
    }
}

/// The identity of a leaf certificate, as far as the diff cares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeafSummary {
    /// SHA-256 of the DER, hex.
    pub sha256: String,
    /// Key algorithm label, e.g. `ML-DSA-65`.
    pub key_algorithm: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
}

/// Everything that differs for one endpoint (`None` = same in both scans).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointDiff {
    /// `host:port`.
    pub endpoint: String,
    /// Improved, regressed or (otherwise) changed.
    pub trend: Trend,
    /// The verdict.
    #[serde(default)]
    pub classification: Option<Change<Classification>>,
    /// Accepted protocol versions.
    #[serde(default)]
    pub tls_versions: Option<Change<Vec<TlsVersion>>>,
    /// Groups accepted in the key-exchange probes (sorted names).
    #[serde(default)]
    pub accepted_groups: Option<Change<Vec<String>>>,
    /// Group of the default handshake.
    #[serde(default)]
    pub negotiated_group: Option<Change<Option<String>>>,
    /// Signature scheme of the default handshake.
    #[serde(default)]
    pub signature_scheme: Option<Change<Option<String>>>,
    /// Leaf certificate (a different SHA-256: rotated, re-keyed or replaced).
    #[serde(default)]
    pub leaf: Option<Change<Option<LeafSummary>>>,
    /// Client-certificate demand.
    #[serde(default)]
    pub client_auth: Option<Change<ClientAuthDemand>>,
}

/// Counts over all endpoints of both scans.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffSummary {
    /// Classification moved up.
    pub improved: usize,
    /// Classification moved down.
    pub regressed: usize,
    /// Something else differs (or a move to/from unreachable).
    pub changed: usize,
    /// In both scans, nothing differs.
    pub unchanged: usize,
    /// Only in the new scan.
    pub added: usize,
    /// Only in the old scan.
    pub removed: usize,
}

/// Rank for improvement/regression; `None` for unreachable (not comparable).
fn rank(c: Classification) -> Option<u8> {
    match c {
        Classification::QuantumVulnerable => Some(0),
        Classification::HybridKeyExchangeOnly => Some(1),
        Classification::FullPqc => Some(2),
        Classification::Unreachable => None,
    }
}

fn leaf(e: &EndpointReport) -> Option<LeafSummary> {
    e.chain.first().map(|c| LeafSummary {
        sha256: c.sha256.clone(),
        key_algorithm: key_algorithm_label(&c.public_key),
        not_after: c.not_after.clone(),
    })
}

fn first_by_key(report: &ScanReport) -> HashMap<String, &EndpointReport> {
    let mut map = HashMap::new();
    for e in &report.endpoints {
        map.entry(e.target.key()).or_insert(e);
    }
    map
}

/// Compares two endpoints with the same key; `None` when nothing differs.
fn diff_endpoint(old: &EndpointReport, new: &EndpointReport) -> Option<EndpointDiff> {
    let group = |e: &EndpointReport| e.negotiated.as_ref().and_then(|n| n.group.as_ref()).map(|g| g.name.clone());
    let scheme =
        |e: &EndpointReport| e.negotiated.as_ref().and_then(|n| n.signature_scheme.as_ref()).map(|s| s.name.clone());
    let classification = Change::of(&old.classification, &new.classification);
    let trend = match (rank(old.classification), rank(new.classification)) {
        (Some(a), Some(b)) if b > a => Trend::Improved,
        (Some(a), Some(b)) if b < a => Trend::Regressed,
        _ => Trend::Changed,
    };
    let d = EndpointDiff {
        endpoint: new.target.key(),
        trend,
        classification,
        tls_versions: Change::of(&old.tls_versions, &new.tls_versions),
        accepted_groups: Change::of(&accepted_groups(old), &accepted_groups(new)),
        negotiated_group: Change::of(&group(old), &group(new)),
        signature_scheme: Change::of(&scheme(old), &scheme(new)),
        leaf: Change::of(&leaf(old), &leaf(new)),
        client_auth: Change::of(&old.client_auth, &new.client_auth),
    };
    let any = d.classification.is_some()
        || d.tls_versions.is_some()
        || d.accepted_groups.is_some()
        || d.negotiated_group.is_some()
        || d.signature_scheme.is_some()
        || d.leaf.is_some()
        || d.client_auth.is_some();
    any.then_some(d)
}

/// What changed from `old` to `new`.
pub fn diff(old: &ScanReport, new: &ScanReport) -> ScanDiff {
    let old_map = first_by_key(old);
    let new_map = first_by_key(new);
    let mut out = ScanDiff::default();
    let mut done = std::collections::HashSet::new();
    for e in &new.endpoints {
        let key = e.target.key();
        if !done.insert(key.clone()) {
            continue;
        }
        match old_map.get(&key) {
            None => out.added.push(EndpointSummary { endpoint: key, classification: e.classification }),
            Some(o) => match diff_endpoint(o, e) {
                Some(d) => {
                    match d.trend {
                        Trend::Improved => out.summary.improved += 1,
                        Trend::Regressed => out.summary.regressed += 1,
                        Trend::Changed => out.summary.changed += 1,
                    }
                    out.changed.push(d);
                }
                None => out.summary.unchanged += 1,
            },
        }
    }
    let mut done_old = std::collections::HashSet::new();
    for e in &old.endpoints {
        let key = e.target.key();
        if done_old.insert(key.clone()) && !new_map.contains_key(&key) {
            out.removed.push(EndpointSummary { endpoint: key, classification: e.classification });
        }
    }
    out.summary.added = out.added.len();
    out.summary.removed = out.removed.len();
    out
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

fn list<T: AsRef<str>>(v: &[T]) -> String {
    if v.is_empty() { "-".to_owned() } else { v.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(",") }
}

fn leaf_text(l: &Option<LeafSummary>) -> String {
    match l {
        Some(l) => {
            format!("{} {} (notAfter {})", l.key_algorithm, l.sha256.get(..16).unwrap_or(&l.sha256), l.not_after)
        }
        None => "-".to_owned(),
    }
}

impl ScanDiff {
    /// Nothing added, removed or changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    /// Whether any endpoint's classification moved down (for exit codes and alarms).
    pub fn has_regressions(&self) -> bool {
        self.summary.regressed > 0
    }

    /// Plain-text rendering: a summary line, then one block per added, removed and changed
    /// endpoint (regressions first).
    pub fn render_text(&self) -> String {
        let s = &self.summary;
        let mut out = format!(
            "scan diff: {} improved, {} regressed, {} changed, {} unchanged, {} added, {} removed\n",
            s.improved, s.regressed, s.changed, s.unchanged, s.added, s.removed
        );
        if self.is_empty() {
            out.push_str("no differences\n");
            return out;
        }
        let mut changed: Vec<&EndpointDiff> = self.changed.iter().collect();
        changed.sort_by_key(|d| match d.trend {
            Trend::Regressed => 0,
            Trend::Improved => 1,
            Trend::Changed => 2,
        });
        for d in changed {
            let tag = match d.trend {
                Trend::Regressed => "REGRESSED",
                Trend::Improved => "IMPROVED ",
                Trend::Changed => "CHANGED  ",
            };
            let _ = writeln!(out, "{tag} {}", d.endpoint);
            if let Some(c) = &d.classification {
                let _ = writeln!(out, "    classification: {} -> {}", c.old.label(), c.new.label());
            }
            if let Some(c) = &d.tls_versions {
                let names = |v: &[TlsVersion]| list(&v.iter().map(|x| x.name()).collect::<Vec<_>>());
                let _ = writeln!(out, "    tls versions: {} -> {}", names(&c.old), names(&c.new));
            }
            if let Some(c) = &d.accepted_groups {
                let _ = writeln!(out, "    accepted groups: {} -> {}", list(&c.old), list(&c.new));
            }
            if let Some(c) = &d.negotiated_group {
                let _ = writeln!(out, "    negotiated group: {} -> {}", opt(&c.old), opt(&c.new));
            }
            if let Some(c) = &d.signature_scheme {
                let _ = writeln!(out, "    signature scheme: {} -> {}", opt(&c.old), opt(&c.new));
            }
            if let Some(c) = &d.leaf {
                let _ = writeln!(out, "    leaf certificate: {} -> {}", leaf_text(&c.old), leaf_text(&c.new));
            }
            if let Some(c) = &d.client_auth {
                let _ = writeln!(out, "    client auth: {} -> {}", client_auth_label(c.old), client_auth_label(c.new));
            }
        }
        for a in &self.added {
            let _ = writeln!(out, "ADDED     {} ({})", a.endpoint, a.classification.label());
        }
        for r in &self.removed {
            let _ = writeln!(out, "REMOVED   {} (was {})", r.endpoint, r.classification.label());
        }
        out
    }
}
