//! `qsafe-xapp`: see the library docs and `qsafe-xapp --help`.

use std::process::ExitCode;

use clap::Parser;
use qsafe_config::shutdown::StopSignals;
use qsafe_xapp::config::{Cli, Settings};
use qsafe_xapp::e2::E2Role;
use qsafe_xapp::startup;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::resolve(cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("qsafe-xapp: error: {e}");
            eprintln!("Try 'qsafe-xapp --help' for the flags, the config file keys and examples.");
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
            eprintln!("qsafe-xapp: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let stop = StopSignals::install().map_err(|e| format!("cannot install signal handlers: {e}"))?;
        let stop = stop.spawn(settings.duration);
        let mut e2 = E2Role::new(&settings.e2).map_err(|e| e.to_string())?;
        let local = e2.serve_sctp(settings.e2.listen).await.map_err(|e| e.to_string())?;
        let mut events = qsafe_xapp::events::E2Events::default();
        let _http = match &settings.keyplane {
            Some(config) => {
                let (keyplane, http, _) =
                    startup::key_plane_with_a1(config, settings.http_listen, settings.a1.as_ref(), local, stop.clone())
                        .await?;
                if let Some(url) = &settings.nats_url {
                    keyplane.set_events(startup::events(url)?);
                    tracing::info!(url = %url, "publishing E2 security events to NATS JetStream");
                }
                events = keyplane.events();
                e2.set_key_plane(keyplane);
                http
            }
            None => None,
        };
        let summary = e2.run(stop).await;
        if let Some(p) = events.publisher() {
            let flushed = p.flush(std::time::Duration::from_secs(5)).await;
            tracing::info!(flushed, stats = ?p.stats(), "event publisher stopped");
        }
        Ok::<_, String>(summary)
    });
    match result {
        Ok(summary) => match serde_json::to_string(&summary) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("qsafe-xapp: error: cannot write the summary: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("qsafe-xapp: error: {e}");
            ExitCode::FAILURE
        }
    }
}
