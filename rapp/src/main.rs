//! `qsafe-rapp`: the SMO side of qsafe-ran (see the crate docs). Thin: parse,
//! wire the crates, run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use qsafe_a1::client::{A1ClientConfig, A1PolicyClient, A1pConfig, AnyA1Client, PmsConfig, PutOutcome};
use qsafe_events::ConsumerConfig;
use qsafe_rapp::e2view::E2ViewKeeper;
use qsafe_state::StateConfig;
use serde_json::Value;

mod ca_cli;
mod scan_cli;

const EXAMPLES: &str = "\
Examples:
  # the policy types a standalone xApp (or any near-RT RIC) serves over A1-P v2
  qsafe-rapp a1 types --a1p http://127.0.0.1:9464

  # put a key-freshness policy, be told when it is enforced, wait for it
  qsafe-rapp a1 put qsafe-e2-key-freshness_1.0.0 lab-1 policy.json --a1p http://127.0.0.1:9464
  qsafe-rapp a1 status qsafe-e2-key-freshness_1.0.0 lab-1 --wait ENFORCED --a1p http://127.0.0.1:9464

  # the same through an A1 policy management service (A1PMS v2)
  qsafe-rapp a1 put qsafe-e2-key-freshness_1.0.0 lab-1 policy.json \\
      --pms http://pms:8081 --ric ric1 --service qsafe-rapp

  # the per-node E2 security view from the xApp's events (durable consumer; state in redb)
  qsafe-rapp e2-view --nats-url nats://127.0.0.1:4222 --state-path rapp-state.redb

  # the PQC CA: ML-DSA-87 root + ML-DSA-65 issuing CA, keys encrypted at rest
  QSAFE_CA_PASSPHRASE='a long secret passphrase' qsafe-rapp ca init --ca-dir ca
  qsafe-rapp ca sign du1.csr --profile o1-server --dns du1.oam.example --ca-dir ca --out du1.pem

  # which endpoints are quantum-safe: table, JSON or a CycloneDX 1.6 CBOM; diff two scans
  qsafe-rapp scan --targets-file inventory.txt --format cbom --output cbom.json
  qsafe-rapp scan diff yesterday.json today.json

`qsafe-rapp <command> --help` teaches each command.

Environment: QSAFE_RAPP_A1P, QSAFE_RAPP_PMS, QSAFE_RAPP_RIC, QSAFE_RAPP_SERVICE,
QSAFE_RAPP_NATS_URL, QSAFE_RAPP_DURABLE, QSAFE_RAPP_STATE_PATH, QSAFE_RAPP_STATE_NATS_URL.";

/// The qsafe-ran rApp: a PQC certificate authority, a quantum-readiness scanner
/// (CycloneDX CBOM), A1 policies towards the near-RT RIC's xApp, and the E2
/// security view from the xApp's NATS JetStream events.
#[derive(Debug, Parser)]
#[command(name = "qsafe-rapp", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Machine-readable output (JSON) instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A1 policies: list types, put, get, delete, status.
    A1 {
        #[command(subcommand)]
        op: A1Op,
        #[command(flatten)]
        target: A1Target,
    },
    /// The per-node view of E2 security from the xApp's events (NATS JetStream).
    E2View(E2ViewArgs),
    /// The PQC certificate authority: ML-DSA root and issuing CA, CSR signing, revocation, CRL.
    Ca(ca_cli::CaArgs),
    /// Quantum-readiness scan of TLS endpoints: table, JSON or CycloneDX 1.6 CBOM; diff two scans.
    Scan(scan_cli::ScanArgs),
}

#[derive(Debug, Subcommand)]
enum A1Op {
    /// The policy type ids served.
    Types,
    /// Create or replace a policy from a JSON file (`-` = stdin). Idempotent.
    Put {
        /// Policy type id (e.g. qsafe-e2-key-freshness_1.0.0).
        type_id: String,
        /// Policy id.
        policy_id: String,
        /// The policy JSON.
        file: PathBuf,
        /// Where the RIC POSTs status changes (A1-P notificationDestination).
        #[arg(long, value_name = "URL")]
        notify: Option<String>,
    },
    /// A policy's body.
    Get {
        /// Policy type id.
        type_id: String,
        /// Policy id.
        policy_id: String,
    },
    /// Delete a policy.
    Delete {
        /// Policy type id.
        type_id: String,
        /// Policy id.
        policy_id: String,
    },
    /// A policy's status; with --wait, poll until enforceStatus equals it.
    Status {
        /// Policy type id.
        type_id: String,
        /// Policy id.
        policy_id: String,
        /// ENFORCED or NOT_ENFORCED: poll until the status says so.
        #[arg(long, value_name = "STATUS")]
        wait: Option<String>,
        /// Deadline of --wait, seconds.
        #[arg(long, default_value_t = 60.0, value_name = "SECS")]
        timeout: f64,
    },
}

#[derive(Debug, Args)]
struct A1Target {
    /// A1-P v2 apiRoot of the near-RT RIC or standalone xApp (http://HOST:PORT).
    #[arg(long, global = true, env = "QSAFE_RAPP_A1P", value_name = "URL", conflicts_with = "pms")]
    a1p: Option<String>,
    /// A1PMS v2 base URL (http://HOST:PORT), instead of --a1p.
    #[arg(long, global = true, env = "QSAFE_RAPP_PMS", value_name = "URL")]
    pms: Option<String>,
    /// With --pms: the near-RT RIC id.
    #[arg(long, global = true, env = "QSAFE_RAPP_RIC", value_name = "ID")]
    ric: Option<String>,
    /// With --pms: this rApp's service id.
    #[arg(long, global = true, env = "QSAFE_RAPP_SERVICE", value_name = "ID", default_value = "qsafe-rapp")]
    service: String,
}

#[derive(Debug, Args)]
struct E2ViewArgs {
    /// NATS server the xApp publishes to.
    #[arg(long, env = "QSAFE_RAPP_NATS_URL", value_name = "URL")]
    nats_url: String,
    /// Durable consumer name (replicas of one rApp share it).
    #[arg(long, env = "QSAFE_RAPP_DURABLE", default_value = "qsafe-rapp")]
    durable: String,
    /// Durable state in this redb file (default backend).
    #[arg(long, env = "QSAFE_RAPP_STATE_PATH", value_name = "FILE", default_value = "qsafe-rapp-state.redb")]
    state_path: PathBuf,
    /// Durable state in JetStream KV on this NATS server instead of redb (HA, scale-out).
    #[arg(long, env = "QSAFE_RAPP_STATE_NATS_URL", value_name = "URL")]
    state_nats_url: Option<String>,
    /// Keep following (print the view whenever events arrived) instead of catching up once.
    #[arg(long)]
    follow: bool,
    /// Catch-up ends after this long without an event, seconds.
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    idle: f64,
}

fn client(t: &A1Target) -> Result<AnyA1Client, String> {
    let config = match (&t.a1p, &t.pms) {
        (Some(url), None) => A1ClientConfig::Direct(A1pConfig::new(url.clone())),
        (None, Some(url)) => {
            let ric = t.ric.clone().ok_or("--pms needs --ric (the near-RT RIC id the policies are for)")?;
            A1ClientConfig::Pms(PmsConfig::new(url.clone(), ric, t.service.clone()))
        }
        _ => return Err("say where A1 goes: --a1p URL (A1-P v2) or --pms URL --ric ID (A1PMS v2)".into()),
    };
    AnyA1Client::new(config).map_err(|e| e.to_string())
}

fn print(json: bool, v: &Value, text: impl FnOnce() -> String) {
    if json {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    } else {
        println!("{}", text());
    }
}

async fn a1(op: A1Op, target: A1Target, json: bool) -> Result<(), String> {
    let c = client(&target)?;
    match op {
        A1Op::Types => {
            let ids = c.policy_type_ids().await.map_err(|e| e.to_string())?;
            print(json, &serde_json::json!(ids), || ids.join("\n"));
        }
        A1Op::Put { type_id, policy_id, file, notify } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).map_err(|e| format!("stdin: {e}"))?
            } else {
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?
            };
            let policy: Value =
                serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", file.display()))?;
            let out =
                c.put_policy(&type_id, &policy_id, &policy, notify.as_deref()).await.map_err(|e| e.to_string())?;
            let word = if out == PutOutcome::Created { "created" } else { "updated" };
            print(json, &serde_json::json!({ "policyId": policy_id, "result": word }), || {
                format!("{policy_id}: {word}")
            });
        }
        A1Op::Get { type_id, policy_id } => {
            match c.get_policy(&type_id, &policy_id).await.map_err(|e| e.to_string())? {
                Some(v) => println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
                None => return Err(format!("{type_id}/{policy_id}: no such policy")),
            }
        }
        A1Op::Delete { type_id, policy_id } => {
            if !c.delete_policy(&type_id, &policy_id).await.map_err(|e| e.to_string())? {
                return Err(format!("{type_id}/{policy_id}: no such policy"));
            }
            print(json, &serde_json::json!({ "policyId": policy_id, "result": "deleted" }), || {
                format!("{policy_id}: deleted")
            });
        }
        A1Op::Status { type_id, policy_id, wait, timeout } => {
            let deadline =
                Instant::now() + Duration::try_from_secs_f64(timeout).map_err(|e| format!("--timeout: {e}"))?;
            loop {
                let s = c.policy_status(&type_id, &policy_id).await.map_err(|e| e.to_string())?;
                let Some(s) = s else { return Err(format!("{type_id}/{policy_id}: no such policy")) };
                let done = wait.as_deref().is_none_or(|w| s["enforceStatus"] == w);
                if done {
                    print(json, &s, || {
                        let reason = s["enforceReason"].as_str().map(|r| format!(" ({r})")).unwrap_or_default();
                        format!("{policy_id}: {}{reason}", s["enforceStatus"].as_str().unwrap_or("?"))
                    });
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    return Err(format!("{policy_id}: still {} after {timeout} s", s["enforceStatus"]));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    Ok(())
}

async fn e2_view(a: E2ViewArgs, json: bool) -> Result<(), String> {
    let state = match &a.state_nats_url {
        Some(url) => StateConfig::jetstream(url.clone(), qsafe_state::DEFAULT_BUCKET),
        None => StateConfig::redb(a.state_path.clone()),
    };
    let state = qsafe_state::open(&state).await.map_err(|e| format!("durable state: {e}"))?;
    let mut cfg = ConsumerConfig::new(a.nats_url.clone());
    cfg.durable_name = a.durable.clone();
    let mut keeper = E2ViewKeeper::open(cfg, state).await.map_err(|e| e.to_string())?;
    let idle = Duration::try_from_secs_f64(a.idle).map_err(|e| format!("--idle: {e}"))?;
    loop {
        let n = keeper.catch_up(idle).await.map_err(|e| e.to_string())?;
        if n > 0 || !a.follow {
            let view = keeper.view();
            let v = serde_json::to_value(view).unwrap_or_default();
            print(json, &v, || {
                let mut out = format!("{} events applied; {n} new\n", view.events_applied());
                for (node, nv) in view.nodes() {
                    out.push_str(&format!("{node}: {}\n", serde_json::to_string(nv).unwrap_or_default()));
                }
                out
            });
        }
        if !a.follow {
            return Ok(());
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("qsafe-rapp: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json = cli.json;
    let result = runtime.block_on(async move {
        match cli.command {
            Command::A1 { op, target } => a1(op, target, json).await,
            Command::E2View(a) => e2_view(a, json).await,
            Command::Ca(a) => ca_cli::run(a, json).await,
            Command::Scan(a) => scan_cli::run(a, json).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("qsafe-rapp: error: {e}");
            ExitCode::FAILURE
        }
    }
}
