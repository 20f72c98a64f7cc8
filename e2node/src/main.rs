//! `qsafe-e2node`: see the library docs and `qsafe-e2node --help`.

use std::process::ExitCode;

use clap::Parser;
use qsafe_config::shutdown::StopSignals;
use qsafe_e2node::config::{Cli, Settings};
use qsafe_e2node::keyed::KeyedMaterial;
use qsafe_e2node::sim;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::resolve(cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("qsafe-e2node: error: {e}");
            eprintln!("Try 'qsafe-e2node --help' for the flags, the config file keys and examples.");
            return ExitCode::from(2);
        }
    };
    let keyed = match settings.keyed.as_ref().map(|k| KeyedMaterial::load(k, settings.nodes)).transpose() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("qsafe-e2node: error: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("qsafe-e2node: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let duration = settings.duration;
    let summary = runtime.block_on(async move {
        let stop = StopSignals::install().map_err(|e| format!("cannot install signal handlers: {e}"))?;
        sim::run(settings, keyed, stop.spawn(duration)).await
    });
    match summary {
        Ok(summary) => {
            println!("{}", summary.line());
            if summary.all_set_up() {
                ExitCode::SUCCESS
            } else {
                for n in summary.nodes.iter().filter(|n| n.setups == 0) {
                    eprintln!(
                        "qsafe-e2node: node {} never completed E2 Setup{}",
                        n.node,
                        n.gave_up.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
                    );
                }
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("qsafe-e2node: error: {e}");
            ExitCode::FAILURE
        }
    }
}
