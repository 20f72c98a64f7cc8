//! `qsafe-rapp scan ...`: the quantum-readiness scanner (qsafe-scan).

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use qsafe_scan::model::{Classification, ScanReport, Target, ToolInfo};
use qsafe_scan::progress::BarProgress;
use qsafe_scan::{NoProgress, ScanConfig, ScanProgress, parse_targets_with_default_port};

const SCAN_HELP: &str = "\
Classification (per endpoint):
  full-pqc            an ML-KEM group is accepted (X25519MLKEM768-only or MLKEM768-only probe
                      completes) AND CertificateVerify is ML-DSA AND every certificate sent
                      (leaf, intermediates) has an ML-DSA key and an ML-DSA signature
  hybrid-kex-only     an ML-KEM group is accepted, but authentication is classical somewhere
                      (the notes say where)
  quantum-vulnerable  no ML-KEM group accepted: recorded traffic can be decrypted later
  unreachable         no TLS: connect failed, timed out, or the peer does not speak TLS
Notes also flag expired / not-yet-valid certificates, TLS 1.0/1.1, classical groups accepted
alongside ML-KEM (downgradeable), and HelloRetryRequest behaviour.

Probes per endpoint: a raw TLS 1.3 ClientHello (reachability), the default rustls handshake
(versions, suite, group, signature scheme, chain, client-certificate demand), three group
probes (X25519MLKEM768 only, MLKEM768 only, classical only), a HelloRetryRequest probe (x25519
share, X25519MLKEM768 listed first) and raw TLS 1.2 / 1.1 / 1.0 probes (--no-legacy: no 1.1/1.0).
The scanner accepts any certificate: it observes, it does not trust.

Targets: host:port, [ipv6]:port, ip:port, separated by spaces, commas or newlines; '#' starts a
comment. A bare host needs --default-port.

Examples:
  qsafe-rapp scan ric.lab:443 10.0.0.7:36421 '[fd00::5]:8443'
  qsafe-rapp scan --targets-file inventory.txt --format cbom --output cbom.json
  cat inventory.txt | qsafe-rapp scan --targets-file - --json > today.json
  qsafe-rapp scan --targets-file inventory.txt --fail-on hybrid-kex-only   # CI gate
  qsafe-rapp scan diff yesterday.json today.json --exit-code

Exit status: 0 done; 1 bad input or I/O error; 3 with --fail-on when an endpoint is at or below
the given class (unreachable endpoints never trigger it).
Environment: QSAFE_RAPP_SCAN_CONCURRENCY, QSAFE_RAPP_SCAN_TIMEOUT.";

const DIFF_HELP: &str = "\
Endpoints are matched by host:port. Reports classification moves (improved / regressed),
accepted groups, versions, signature scheme, leaf key, client-auth changes, and added or
removed endpoints.

Examples:
  qsafe-rapp scan diff yesterday.json today.json
  qsafe-rapp scan diff yesterday.json today.json --format json
  qsafe-rapp scan diff yesterday.json today.json --exit-code || echo changed

Exit status: 0 (also when different, unless --exit-code: then 1 when different); 1 on bad input.";

/// Arguments of `qsafe-rapp scan`: either targets to scan, or `diff OLD NEW`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, after_help = SCAN_HELP)]
pub struct ScanArgs {
    #[command(subcommand)]
    command: Option<ScanCommand>,
    /// Endpoints to scan: host:port, [ipv6]:port (see below).
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,
    /// Read targets from FILE (`-` = stdin), in addition to TARGETs.
    #[arg(long, short = 'f', value_name = "FILE")]
    targets_file: Option<PathBuf>,
    /// Port for targets given without one (otherwise they are an error).
    #[arg(long, value_name = "PORT")]
    default_port: Option<u16>,
    /// Endpoints probed at once.
    #[arg(long, value_name = "N", env = "QSAFE_RAPP_SCAN_CONCURRENCY", default_value_t = 32,
          value_parser = clap::value_parser!(u16).range(1..=4096))]
    concurrency: u16,
    /// Per-probe timeout (connect + handshake), seconds; an endpoint takes at most ~3x this.
    #[arg(long, value_name = "SECS", env = "QSAFE_RAPP_SCAN_TIMEOUT", default_value = "5", value_parser = parse_secs)]
    timeout: Duration,
    /// Output format (default: table; the global --json means json).
    #[arg(long, value_enum)]
    format: Option<ScanFormat>,
    /// Write the output to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Skip the TLS 1.0 / 1.1 probes.
    #[arg(long)]
    no_legacy: bool,
    /// Exit with status 3 if an endpoint is classified at or below this class.
    #[arg(long, value_enum, value_name = "CLASS")]
    fail_on: Option<FailOn>,
    /// No progress bar (it is drawn on stderr only when stderr is a terminal).
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum ScanCommand {
    /// Compare two JSON scan reports (`scan --format json` outputs).
    #[command(after_help = DIFF_HELP)]
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
struct DiffArgs {
    /// The older report (JSON).
    old: PathBuf,
    /// The newer report (JSON).
    new: PathBuf,
    /// Output format (default: table, i.e. text; the global --json means json).
    #[arg(long, value_enum)]
    format: Option<DiffFormat>,
    /// Exit with status 1 when the reports differ.
    #[arg(long)]
    exit_code: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ScanFormat {
    /// Aligned text table with a summary line.
    Table,
    /// The full report (qsafe-scan JSON model; input of `scan diff`).
    Json,
    /// CycloneDX 1.6 cryptographic bill of materials.
    Cbom,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DiffFormat {
    /// Text.
    Table,
    /// JSON.
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum FailOn {
    /// Fail if any endpoint is quantum-vulnerable.
    QuantumVulnerable,
    /// Fail if any endpoint is quantum-vulnerable or hybrid-kex-only (i.e. not full PQC).
    HybridKexOnly,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(v > 0.0 && v <= 600.0) {
        return Err(format!("timeout must be > 0 and <= 600 seconds, got {s}"));
    }
    Ok(Duration::from_secs_f64(v))
}

/// Runs `qsafe-rapp scan`.
pub async fn run(args: ScanArgs, json: bool) -> Result<(), String> {
    if let Some(ScanCommand::Diff(d)) = args.command {
        return diff(d, json);
    }
    let targets = collect_targets(&args)?;
    let format = args.format.unwrap_or(if json { ScanFormat::Json } else { ScanFormat::Table });
    let config = ScanConfig {
        concurrency: usize::from(args.concurrency),
        timeout: args.timeout,
        probe_legacy_versions: !args.no_legacy,
        tool: ToolInfo { name: "qsafe-rapp".into(), version: env!("CARGO_PKG_VERSION").into() },
    };
    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(BarProgress::stderr);
    let progress: &dyn ScanProgress = match &bar {
        Some(b) => b,
        None => &NoProgress,
    };
    let report = qsafe_scan::scan(targets, &config, progress).await;
    if let Some(b) = &bar {
        b.finish();
    }
    let text = match format {
        ScanFormat::Table => qsafe_scan::output::table::render(&report),
        ScanFormat::Json => json_text(serde_json::to_string_pretty(&report))?,
        ScanFormat::Cbom => json_text(serde_json::to_string_pretty(&qsafe_scan::output::cbom::to_cbom(&report)))?,
    };
    emit(&text, args.output.as_deref())?;
    if args.output.is_some() && !args.quiet {
        eprintln!("{}", qsafe_scan::output::table::summary(&report));
    }
    if let Some(threshold) = args.fail_on {
        let failing = failing(&report, threshold);
        if !failing.is_empty() {
            eprintln!(
                "qsafe-rapp: --fail-on {}: {} endpoint(s) at or below it: {}",
                threshold.to_possible_value().map_or_else(String::new, |v| v.get_name().to_owned()),
                failing.len(),
                failing.join(", ")
            );
            std::process::exit(3);
        }
    }
    Ok(())
}

fn failing(report: &ScanReport, threshold: FailOn) -> Vec<String> {
    report
        .endpoints
        .iter()
        .filter(|e| match threshold {
            FailOn::QuantumVulnerable => e.classification == Classification::QuantumVulnerable,
            FailOn::HybridKexOnly => {
                matches!(e.classification, Classification::QuantumVulnerable | Classification::HybridKeyExchangeOnly)
            }
        })
        .map(|e| e.target.key())
        .collect()
}

fn collect_targets(args: &ScanArgs) -> Result<Vec<Target>, String> {
    let mut out: Vec<Target> = Vec::new();
    let mut push = |text: &str, origin: &str| -> Result<(), String> {
        let parsed = parse_targets_with_default_port(text, args.default_port).map_err(|e| format!("{origin}: {e}"))?;
        for t in parsed {
            if !out.iter().any(|o| o.host == t.host && o.port == t.port) {
                out.push(t);
            }
        }
        Ok(())
    };
    for t in &args.targets {
        push(t, "target argument").map_err(|e| e.replace("line 1: ", ""))?;
    }
    if let Some(file) = &args.targets_file {
        let text = if file.as_os_str() == "-" {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map_err(|e| format!("reading targets from stdin: {e}"))?;
            s
        } else {
            std::fs::read_to_string(file).map_err(|e| format!("cannot read targets file {}: {e}", file.display()))?
        };
        let origin = if file.as_os_str() == "-" { "stdin".to_owned() } else { file.display().to_string() };
        push(&text, &origin)?;
    }
    if out.is_empty() {
        return Err("no targets: give host:port arguments or --targets-file FILE (see `qsafe-rapp scan --help`)".into());
    }
    Ok(out)
}

fn json_text(r: Result<String, serde_json::Error>) -> Result<String, String> {
    r.map(|s| s + "\n").map_err(|e| format!("encoding JSON: {e}"))
}

fn emit(text: &str, output: Option<&Path>) -> Result<(), String> {
    match output {
        Some(path) => std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(|e| format!("writing stdout: {e}"))
        }
    }
}

fn load_report(path: &Path) -> Result<ScanReport, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a qsafe scan report (`scan --format json` output): {e}", path.display()))
}

fn diff(args: DiffArgs, json: bool) -> Result<(), String> {
    let old = load_report(&args.old)?;
    let new = load_report(&args.new)?;
    let d = qsafe_scan::output::diff::diff(&old, &new);
    let format = args.format.unwrap_or(if json { DiffFormat::Json } else { DiffFormat::Table });
    let text = match format {
        DiffFormat::Table => d.render_text(),
        DiffFormat::Json => json_text(serde_json::to_string_pretty(&d))?,
    };
    emit(&text, None)?;
    if args.exit_code && !d.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}
