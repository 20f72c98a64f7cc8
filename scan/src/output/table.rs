//! The human view: one aligned row per endpoint and a summary line.
//!
//! ```text
//! ENDPOINT        CLASSIFICATION      TLS              GROUP           SIG SCHEME  LEAF KEY   CLIENT AUTH  NOTES
//! gnb-1.ran:36421 full-pqc            TLSv1.3          X25519MLKEM768  mldsa65     ML-DSA-65  required     0
//! 1 endpoint: 1 full-pqc, 0 hybrid-kex-only, 0 quantum-vulnerable, 0 unreachable
//! ```
//!
//! Plain ASCII columns (no colours, no box drawing) so the output greps, diffs and pastes well;
//! `-` marks a value the scan could not learn (e.g. everything but the endpoint of an unreachable
//! target).

use crate::model::{Classification, ScanReport};

use super::{client_auth_label, key_algorithm_label};

const HEADER: [&str; 8] =
    ["ENDPOINT", "CLASSIFICATION", "TLS", "GROUP", "SIG SCHEME", "LEAF KEY", "CLIENT AUTH", "NOTES"];

/// Classifications in summary order (best first).
const ORDER: [Classification; 4] = [
    Classification::FullPqc,
    Classification::HybridKeyExchangeOnly,
    Classification::QuantumVulnerable,
    Classification::Unreachable,
];

/// Renders `report` as an aligned text table followed by a summary line (ends with a newline).
pub fn render(report: &ScanReport) -> String {
    let rows: Vec<[String; 8]> = report
        .endpoints
        .iter()
        .map(|e| {
            let versions = if e.tls_versions.is_empty() {
                "-".to_owned()
            } else {
                e.tls_versions.iter().map(|v| v.name()).collect::<Vec<_>>().join(",")
            };
            let negotiated = e.negotiated.as_ref();
            [
                e.target.key(),
                e.classification.label().to_owned(),
                versions,
                negotiated.and_then(|n| n.group.as_ref()).map_or_else(|| "-".to_owned(), |g| g.name.clone()),
                negotiated.and_then(|n| n.signature_scheme.as_ref()).map_or_else(|| "-".to_owned(), |s| s.name.clone()),
                e.chain.first().map_or_else(|| "-".to_owned(), |c| key_algorithm_label(&c.public_key)),
                client_auth_label(e.client_auth).to_owned(),
                e.notes.len().to_string(),
            ]
        })
        .collect();

    let mut widths = HEADER.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }

    let mut out = String::new();
    push_row(&mut out, &HEADER.map(str::to_owned), &widths);
    for row in &rows {
        push_row(&mut out, row, &widths);
    }
    out.push_str(&summary(report));
    out.push('\n');
    out
}

/// The summary line alone, e.g. `4 endpoints: 1 full-pqc, 1 hybrid-kex-only, 1 quantum-vulnerable,
/// 1 unreachable` (no trailing newline).
pub fn summary(report: &ScanReport) -> String {
    let n = report.endpoints.len();
    let counts: Vec<String> = ORDER
        .iter()
        .map(|c| format!("{} {}", report.endpoints.iter().filter(|e| e.classification == *c).count(), c.label()))
        .collect();
    format!("{n} endpoint{}: {}", if n == 1 { "" } else { "s" }, counts.join(", "))
}

fn push_row(out: &mut String, cells: &[String; 8], widths: &[usize; 8]) {
    let mut line = String::new();
    for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
        if i > 0 {
            line.push_str("  ");
        }
        line.push_str(cell);
        if i + 1 < cells.len() {
            line.extend(std::iter::repeat_n(' ', width.saturating_sub(cell.chars().count())));
        }
    }
    out.push_str(line.trim_end());
    out.push('\n');
}
