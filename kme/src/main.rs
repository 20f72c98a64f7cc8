//! `qsafe-kme`: see the library docs and `qsafe-kme --help`.

use qsafe_config::shutdown::StopSignals;
use std::process::ExitCode;

use clap::Parser;
use qsafe_kme::Site;
use qsafe_kme::config::{Cli, Command, DemoPkiSettings, ServeSettings};
use qsafe_kme::pki::DemoPki;
use tracing_subscriber::EnvFilter;

fn usage_error(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("qsafe-kme: error: {e}");
    eprintln!("Try 'qsafe-kme --help' for the flags, the config file keys and an example session.");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Command::DemoPki(args) => demo_pki(args),
        Command::Serve(args) => serve(*args),
    }
}

fn demo_pki(args: qsafe_kme::config::DemoPkiArgs) -> ExitCode {
    let settings = match DemoPkiSettings::resolve(args) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let written = DemoPki::generate(&settings).and_then(|pki| pki.write(&settings.out, settings.force));
    match written {
        Ok(files) => {
            println!(
                "demo PKI ({}) in {}: KME A = {:?}, KME B = {:?}, SAEs = {}",
                qsafe_kme::pki::signature_algorithm(settings.algorithm),
                settings.out.display(),
                settings.kme_ids[0],
                settings.kme_ids[1],
                settings.saes.join(", ")
            );
            for f in files {
                let secret = f.extension().is_some_and(|e| e == "key");
                println!("  {}{}", f.display(), if secret { "  (private key, mode 0600)" } else { "" });
            }
            println!("next: qsafe-kme serve --pki-dir {}", settings.out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("qsafe-kme: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: qsafe_kme::config::ServeArgs) -> ExitCode {
    let settings = match ServeSettings::resolve(args) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("qsafe-kme: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        // Handlers first: a signal that arrives once the ready line is out must stop us gracefully.
        let signals = match StopSignals::install() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("qsafe-kme: error: cannot install signal handlers: {e}");
                return ExitCode::FAILURE;
            }
        };
        if settings.link.seed.is_some() {
            tracing::warn!("--seed is set: keys are reproducible and NOT secret (tests only)");
        }
        let running = match qsafe_kme::server::start(settings).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("qsafe-kme: error: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Some(dir) = running.generated_pki_dir() {
            println!("qsafe-kme: no PKI configured; generated a demo PKI (ML-DSA-65) in {}", dir.display());
            println!(
                "qsafe-kme: SAE client certificates: {}/sae-<ID>.pem and .key, CA: {}/ca.pem",
                dir.display(),
                dir.display()
            );
        }
        // One line with every address, for people and for scripts (port 0 resolved).
        println!(
            "qsafe-kme: ready kme-a=https://{} ({}) kme-b=https://{} ({}) admin=http://{}",
            running.addr(Site::A),
            running.kme_id(Site::A),
            running.addr(Site::B),
            running.kme_id(Site::B),
            running.admin_addr()
        );
        signals.wait(None).await;
        running.shutdown().await;
        tracing::info!("stopped");
        ExitCode::SUCCESS
    })
}
