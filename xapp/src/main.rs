//! `qsafe-xapp`: see the library docs and `qsafe-xapp --help`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use qsafe_xapp::config::{Cli, Settings};
use qsafe_xapp::e2::E2Role;
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
        let mut e2 = E2Role::new(&settings.e2)?;
        e2.serve_sctp(settings.e2.listen).await?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(stop_on_signal_or_timer(settings.duration, stop_tx));
        Ok::<_, qsafe_xapp::e2::E2RoleError>(e2.run(stop_rx).await)
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

async fn stop_on_signal_or_timer(duration: Option<Duration>, stop: tokio::sync::watch::Sender<bool>) {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    let timer = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: stopping"),
        _ = term => tracing::info!("SIGTERM: stopping"),
        _ = timer => tracing::info!("--duration elapsed: stopping"),
    }
    let _ = stop.send(true);
}
