//! `qsafe-rapp scan ...`: the quantum-readiness scanner (qsafe-scan). Skeleton.

use clap::Args;

/// Arguments of `qsafe-rapp scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {}

/// Runs `qsafe-rapp scan`.
pub async fn run(_args: ScanArgs, _json: bool) -> Result<(), String> {
    Err("scan: not built yet".into())
}
