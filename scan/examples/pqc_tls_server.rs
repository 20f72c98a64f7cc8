//! A rustls TLS server in one of the scanner's reference configurations, for the conformance
//! run (`scan/tests/conformance/run.sh`) and demos.
//!
//!     cargo run -p qsafe-scan --example pqc_tls_server -- --mode full-pqc --port 0
//!
//! Modes: full-pqc, hybrid, classical, pure-mlkem, tls12-classical, client-auth-required,
//! client-auth-optional. Prints `listening on ADDR` once it accepts connections, then serves
//! until killed.

use std::io::Write;

use qsafe_scan::testserver::{ServerProfile, server_config, spawn_with_config};

fn usage() -> String {
    "usage: pqc_tls_server --mode full-pqc|hybrid|classical|pure-mlkem|tls12-classical|client-auth-required|client-auth-optional [--port N] [--bind IP]".into()
}

fn parse() -> Result<(ServerProfile, String), String> {
    let mut mode = None;
    let mut port = "0".to_owned();
    let mut bind = "127.0.0.1".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--mode" => mode = Some(args.next().ok_or_else(usage)?.parse::<ServerProfile>()?),
            "--port" => port = args.next().ok_or_else(usage)?,
            "--bind" => bind = args.next().ok_or_else(usage)?,
            _ => return Err(usage()),
        }
    }
    let mode = mode.ok_or_else(usage)?;
    Ok((mode, format!("{bind}:{port}")))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let (mode, bind) = match parse() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let server = match server_config(mode) {
        Ok(config) => spawn_with_config(config, &bind).await,
        Err(e) => Err(e),
    };
    let server = match server {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pqc_tls_server: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("listening on {}", server.addr);
    let _ = std::io::stdout().flush();
    std::future::pending::<()>().await;
    std::process::ExitCode::SUCCESS
}
