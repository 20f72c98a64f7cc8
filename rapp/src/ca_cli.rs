//! `qsafe-rapp ca ...`: the PQC certificate authority (qsafe-ca). Skeleton.

use clap::Args;

/// Arguments of `qsafe-rapp ca`.
#[derive(Debug, Args)]
pub struct CaArgs {}

/// Runs `qsafe-rapp ca`.
pub async fn run(_args: CaArgs, _json: bool) -> Result<(), String> {
    Err("ca: not built yet".into())
}
