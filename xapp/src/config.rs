//! Settings of `qsafe-xapp`: command-line flags > `QSAFE_XAPP_*`
//! environment variables > the `--config` TOML file > built-in defaults.
//!
//! The file has one table per concern, so that the key plane, A1 and metrics
//! settings of later components slot in next to `[e2]` without renaming
//! anything operators already wrote. Unknown keys are errors (a typo must not
//! silently fall back to a default).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use qsafe_config::{invalid, read_toml, seconds};
use qsafe_e2::transport::{DEFAULT_E2_PORT, resolve_e2_address};
use serde::Deserialize;

pub use qsafe_config::ConfigError;

const EXAMPLES: &str = "\
Examples:
  # standalone: terminate E2 on the default port, subscribe to every node's KPM
  qsafe-xapp --e2-listen 0.0.0.0:36421

  # OSC E2T's port, only E2SM-KPM functions accepted, no KPM subscriptions
  qsafe-xapp --e2-listen [::]:36422 --accept-oid 1.3.6.1.4.1.53148.1.3.2.2 --kpm-period-ms 0

  # from a file, one setting overridden by the environment
  QSAFE_XAPP_E2_LISTEN=10.0.0.1:36421 qsafe-xapp --config xapp.toml

  # try it with the simulator: 10 emulated gNBs (needs kernel SCTP: modprobe sctp)
  qsafe-xapp --duration 30 &  qsafe-e2node --ric 127.0.0.1 --nodes 10 --rate 10

  # the key plane: QKD (KME A) + ML-KEM keyed links, kernel ESP through the broker,
  # /metrics and /status on 127.0.0.1:9464 (PKI from `qsafe-kme demo-pki --out pki
  # --sae ric-xapp,e2node-1,...`)
  qsafe-xapp --e2-listen 10.0.0.1 --pki-dir pki --kme https://10.0.0.1:8443 \\
      --xfrm-broker /run/qsafe-xfrm.sock --mode qkd-and-pqc --rekey-period 30

Config file (TOML; every key optional; flags and QSAFE_XAPP_* override it):
  [e2]
  listen = \"0.0.0.0:36421\"      # ADDR[:PORT], IPv4 or IPv6
  plmn = \"001-01\"               # PLMN of the RIC's GlobalRIC-ID (MCC-MNC)
  ric-id = 5                    # 20-bit ric-ID of the GlobalRIC-ID
  requestor-id = 1001           # ricRequestorID of this xApp's RIC request ids
  accept-oids = []              # RAN function OIDs accepted; empty: all
  setup-wait = 30               # seconds a new association may go without E2 Setup
  kpm-period-ms = 1000          # KPM reporting period subscribed per node; 0: none
  kpm-measurements = [\"DRB.UEThpDl\"]
  [keyplane]                    # present with pki-dir: the key plane is on
  pki-dir = \"pki\"               # ca.pem, sae-<sae-id>.pem/.key
  sae-id = \"ric-xapp\"           # ETSI 014 master SAE ID
  trust-anchors = \"pki/ca.pem\"  # PQC roots for the nodes' ML-DSA chains
  kme = \"https://10.0.0.1:8443\" # absent: no QKD (ML-KEM-only modes rekey)
  kme-id = \"kme-a\"
  xfrm-broker = \"/run/qsafe-xfrm.sock\"  # absent: in-process model, no kernel ESP
  http-listen = \"127.0.0.1:9464\"
  report-period-ms = 1000       # E2SM-QKD REPORT period subscribed per node
  grace-ms = 2000               # old SAs live this long after a switch
  prefetch-keys = 64            # QKD keys held ready per node (refill below a quarter)
  kme-status-ms = 5000          # KME status poll (stock, time-to-empty)
  sa-max-bytes = 0              # kernel hard byte limit per SA, above maxBytesPerKey; 0: none
  [a1]
  store = \"a1-policies.redb\"    # A1-P v2 at /A1-P/v2 on http-listen; policies kept here
  state-nats-url = \"nats://127.0.0.1:4222\"  # or in JetStream KV (replicas share them)
  [events]
  nats-url = \"nats://127.0.0.1:4222\"  # E2 security events on JetStream (qsafe.events.e2.<node>)
  [freshness]                   # the key-freshness policy (docs/key-freshness.md)
  mode = \"qkd-and-pqc\"          # or at-least-qkd, at-least-pqc, either
  rekeyPeriodSeconds = 60
  maxKeyAgeSeconds = 300
  onViolation = \"rekey\"         # or degrade, isolate

What it does (standalone mode, RIC role): serves E2AP over kernel SCTP,
accepts E2 Setup, keeps the registry of E2 nodes and their RAN functions,
subscribes to each node's E2SM-KPM function and counts the indications per
link; reconnecting nodes are set up and subscribed again. With the key plane
(--pki-dir), every node offering E2SM-QKD gets a keyed link: the xApp verifies
the node's ML-DSA chain, subscribes to its REPORTs, rekeys it (QKD key from
the KME + ML-KEM, signed REKEY, make-before-break ESP SAs) on the policy's
schedule and enforces the freshness policy (rekey, degrade, isolate).

Logs: RUST_LOG (default info), on stderr. On exit (Ctrl-C, SIGTERM or
--duration) a JSON summary on stdout: one object per E2 node with its setups,
connection state and indications. Exit status 0, 1 on a runtime error, 2 for
a usage error.";

/// The near-RT RIC xApp of qsafe-ran: QKD + ML-KEM keyed E2 links.
#[derive(Debug, Parser)]
#[command(name = "qsafe-xapp", version, after_help = EXAMPLES)]
pub struct Cli {
    /// SCTP address to serve E2 on, ADDR[:PORT] [default: 0.0.0.0:36421].
    #[arg(long, env = "QSAFE_XAPP_E2_LISTEN", value_name = "ADDR")]
    pub e2_listen: Option<String>,
    /// PLMN of the RIC's GlobalRIC-ID, MCC-MNC [default: 001-01].
    #[arg(long, env = "QSAFE_XAPP_PLMN", value_name = "MCC-MNC")]
    pub plmn: Option<String>,
    /// 20-bit ric-ID of the GlobalRIC-ID [default: 5].
    #[arg(long, env = "QSAFE_XAPP_RIC_ID", value_name = "ID")]
    pub ric_id: Option<u32>,
    /// ricRequestorID of the RIC request ids this xApp allocates [default: 1001].
    #[arg(long, env = "QSAFE_XAPP_REQUESTOR_ID", value_name = "ID")]
    pub requestor_id: Option<u16>,
    /// Accept only RAN functions with this OID (repeat or comma-separate) [default: all].
    #[arg(long = "accept-oid", env = "QSAFE_XAPP_ACCEPT_OIDS", value_name = "OID", value_delimiter = ',')]
    pub accept_oids: Option<Vec<String>>,
    /// Seconds a new association may go without a successful E2 Setup [default: 30].
    #[arg(long, env = "QSAFE_XAPP_SETUP_WAIT", value_name = "SECS")]
    pub setup_wait: Option<f64>,
    /// KPM reporting period subscribed on every node, ms; 0 = no subscription [default: 1000].
    #[arg(long, env = "QSAFE_XAPP_KPM_PERIOD_MS", value_name = "MS")]
    pub kpm_period_ms: Option<u32>,
    /// KPM measurements to subscribe, comma-separated [default: DRB.UEThpDl].
    #[arg(long, env = "QSAFE_XAPP_KPM_MEASUREMENTS", value_name = "NAMES", value_delimiter = ',')]
    pub kpm_measurements: Option<Vec<String>>,
    /// Key plane: directory with the PKI (`ca.pem`, `sae-<SAE ID>.pem/.key`, as written by
    /// `qsafe-kme demo-pki`). Setting it turns the key plane on [default: off].
    #[arg(long, env = "QSAFE_XAPP_PKI_DIR", value_name = "DIR")]
    pub pki_dir: Option<PathBuf>,
    /// Key plane: the xApp's SAE ID (ETSI 014 master SAE; names its certificate) [default: ric-xapp].
    #[arg(long, env = "QSAFE_XAPP_SAE_ID", value_name = "ID")]
    pub sae_id: Option<String>,
    /// Key plane: PEM file of the PQC trust anchors for E2 nodes' certificates [default: <pki-dir>/ca.pem].
    #[arg(long, env = "QSAFE_XAPP_TRUST_ANCHORS", value_name = "FILE")]
    pub trust_anchors: Option<PathBuf>,
    /// Key plane: the xApp's KME (ETSI GS QKD 014, https://HOST:PORT) [default: none, ML-KEM only].
    #[arg(long, env = "QSAFE_XAPP_KME", value_name = "URL")]
    pub kme: Option<String>,
    /// Key plane: the KME ID its server certificate must carry [default: kme-a].
    #[arg(long, env = "QSAFE_XAPP_KME_ID", value_name = "ID")]
    pub kme_id: Option<String>,
    /// Key plane: Unix socket of qsafe-xfrm-broker (kernel ESP) [default: none, an in-process model].
    #[arg(long, env = "QSAFE_XAPP_XFRM_BROKER", value_name = "PATH")]
    pub xfrm_broker: Option<PathBuf>,
    /// Address of the HTTP endpoint (/metrics, /status, /healthz) [default: 127.0.0.1:9464 with the key plane].
    #[arg(long, env = "QSAFE_XAPP_HTTP_LISTEN", value_name = "ADDR")]
    pub http_listen: Option<SocketAddr>,
    /// Key plane: the key-source mode (qkd-and-pqc, at-least-qkd, at-least-pqc, either) [default: qkd-and-pqc].
    #[arg(long, env = "QSAFE_XAPP_MODE", value_name = "MODE")]
    pub mode: Option<String>,
    /// Key plane: seconds between scheduled rekeys [default: 60].
    #[arg(long, env = "QSAFE_XAPP_REKEY_PERIOD", value_name = "SECS")]
    pub rekey_period: Option<f64>,
    /// Key plane: what a violation triggers: rekey, degrade or isolate [default: rekey].
    #[arg(long, env = "QSAFE_XAPP_ON_VIOLATION", value_name = "ACTION")]
    pub on_violation: Option<String>,
    /// Key plane: QKD keys held ready per node [default: 64]. A KME outage shows once they are spent.
    #[arg(long, env = "QSAFE_XAPP_PREFETCH_KEYS", value_name = "N")]
    pub prefetch_keys: Option<usize>,
    /// Key plane: KME status poll period in ms (stock and time-to-empty) [default: 5000].
    #[arg(long, env = "QSAFE_XAPP_KME_STATUS_MS", value_name = "MS")]
    pub kme_status_ms: Option<u32>,
    /// Key plane: kernel hard byte limit per SA (soft limit at 3/4), a backstop behind the policy's
    /// maxBytesPerKey rekey; 0 = none [default: 0].
    #[arg(long, env = "QSAFE_XAPP_SA_MAX_BYTES", value_name = "BYTES")]
    pub sa_max_bytes: Option<u64>,
    /// A1: serve the A1-P v2 termination at /A1-P/v2 on the HTTP endpoint, with policies
    /// persisted in this redb file (created if missing) [default: off].
    #[arg(long, env = "QSAFE_XAPP_A1_STORE", value_name = "FILE")]
    pub a1_store: Option<PathBuf>,
    /// A1: keep the policies in a JetStream KV bucket (qsafe_xapp_a1) on this NATS server
    /// instead of the redb file (replicas share them) [default: the file].
    #[arg(long, env = "QSAFE_XAPP_A1_STATE_NATS_URL", value_name = "URL")]
    pub a1_state_nats_url: Option<String>,
    /// NATS server for E2 security events on JetStream (qsafe.events.e2.<node>; link state,
    /// violations, rekey results, alarms), e.g. nats://127.0.0.1:4222 [default: none, no events].
    #[arg(long, env = "QSAFE_XAPP_NATS_URL", value_name = "URL")]
    pub nats_url: Option<String>,
    /// Stop after this many seconds [default: run until Ctrl-C or SIGTERM].
    #[arg(long, env = "QSAFE_XAPP_DURATION", value_name = "SECS")]
    pub duration: Option<f64>,
    /// TOML config file (see below).
    #[arg(long, env = "QSAFE_XAPP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    e2: FileE2,
    #[serde(default)]
    keyplane: FileKeyPlane,
    /// The key-freshness policy (the struct A1 fills later), as a table.
    freshness: Option<toml::Value>,
    #[serde(default)]
    events: FileEvents,
    #[serde(default)]
    a1: FileA1,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileA1 {
    store: Option<PathBuf>,
    state_nats_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileEvents {
    nats_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileKeyPlane {
    pki_dir: Option<PathBuf>,
    sae_id: Option<String>,
    trust_anchors: Option<PathBuf>,
    kme: Option<String>,
    kme_id: Option<String>,
    xfrm_broker: Option<PathBuf>,
    http_listen: Option<SocketAddr>,
    report_period_ms: Option<u32>,
    grace_ms: Option<u32>,
    prefetch_keys: Option<usize>,
    kme_status_ms: Option<u32>,
    sa_max_bytes: Option<u64>,
}

/// The key plane's settings (present when a PKI directory is configured).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyPlaneConfig {
    /// PKI directory.
    pub pki_dir: PathBuf,
    /// The xApp's SAE ID.
    pub sae_id: String,
    /// PQC trust anchors (PEM file).
    pub trust_anchors: PathBuf,
    /// The KME: URL and KME ID.
    pub kme: Option<(String, String)>,
    /// The XFRM broker's socket (None: in-process model).
    pub xfrm_broker: Option<PathBuf>,
    /// E2SM-QKD reporting period.
    pub report_period: Duration,
    /// Make-before-break grace.
    pub grace: Duration,
    /// QKD keys held ready per node (the prefetch buffer's capacity).
    pub prefetch_keys: usize,
    /// KME status poll period.
    pub kme_status_period: Duration,
    /// Kernel hard byte limit per SA, the backstop behind the policy's
    /// max-bytes rekey (soft limit at 3/4); None: no kernel limit.
    pub sa_max_bytes: Option<u64>,
    /// The key-freshness policy.
    pub policy: crate::policy::FreshnessPolicy,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileE2 {
    listen: Option<String>,
    plmn: Option<String>,
    ric_id: Option<u32>,
    requestor_id: Option<u16>,
    accept_oids: Option<Vec<String>>,
    setup_wait: Option<f64>,
    kpm_period_ms: Option<u32>,
    kpm_measurements: Option<Vec<String>>,
}

/// The KPM subscription made on every node that offers E2SM-KPM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpmWatch {
    /// Reporting period.
    pub period_ms: u32,
    /// Measurements.
    pub measurements: Vec<String>,
}

/// The E2 (RIC role) settings.
#[derive(Debug, Clone, PartialEq)]
pub struct E2Settings {
    /// Where E2 is served.
    pub listen: SocketAddr,
    /// MCC of the GlobalRIC-ID.
    pub mcc: String,
    /// MNC of the GlobalRIC-ID.
    pub mnc: String,
    /// ric-ID (20 bits).
    pub ric_id: u32,
    /// ricRequestorID.
    pub requestor_id: u16,
    /// Accepted RAN function OIDs (empty: all).
    pub accept_oids: Vec<String>,
    /// Setup wait.
    pub setup_wait: Duration,
    /// KPM subscription per node (None: none).
    pub kpm: Option<KpmWatch>,
}

/// Everything the xApp needs, resolved and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// E2 (standalone RIC role).
    pub e2: E2Settings,
    /// The key plane (None: E2 only).
    pub keyplane: Option<KeyPlaneConfig>,
    /// The HTTP endpoint.
    pub http_listen: Option<SocketAddr>,
    /// Stop after.
    pub duration: Option<Duration>,
    /// NATS server for E2 security events (None: no events).
    pub nats_url: Option<String>,
    /// The A1-P v2 termination (None: off).
    pub a1: Option<crate::a1::A1Settings>,
}

/// Splits and checks `MCC-MNC`.
pub fn parse_plmn(plmn: &str) -> Result<(String, String), String> {
    plmn.split_once('-')
        .filter(|(mcc, mnc)| {
            mcc.len() == 3 && (2..=3).contains(&mnc.len()) && mcc.chars().chain(mnc.chars()).all(|c| c.is_ascii_digit())
        })
        .map(|(mcc, mnc)| (mcc.to_string(), mnc.to_string()))
        .ok_or_else(|| format!("{plmn:?}: expected MCC-MNC, e.g. 001-01"))
}

impl Settings {
    /// Merges flags/environment (already in `cli`) over the config file over defaults, and checks.
    pub fn resolve(cli: Cli) -> Result<Self, ConfigError> {
        let file = match &cli.config {
            Some(path) => read_toml::<FileConfig>(path)?,
            None => FileConfig::default(),
        };
        let f = file.e2;
        let listen = cli.e2_listen.or(f.listen).unwrap_or_else(|| format!("0.0.0.0:{DEFAULT_E2_PORT}"));
        let listen = resolve_e2_address(&listen).map_err(|why| invalid("--e2-listen", why))?;
        let (mcc, mnc) = parse_plmn(&cli.plmn.or(f.plmn).unwrap_or_else(|| "001-01".into()))
            .map_err(|why| invalid("--plmn", why))?;
        let ric_id = cli.ric_id.or(f.ric_id).unwrap_or(5);
        if ric_id >> 20 != 0 {
            return Err(invalid("--ric-id", format!("{ric_id}: the ric-ID has 20 bits (0..=1048575)")));
        }
        let accept_oids: Vec<String> = cli
            .accept_oids
            .or(f.accept_oids)
            .unwrap_or_default()
            .into_iter()
            .map(|o| o.trim().to_string())
            .filter(|o| !o.is_empty())
            .collect();
        if let Some(bad) = accept_oids.iter().find(|o| !is_dotted_oid(o)) {
            return Err(invalid(
                "--accept-oid",
                format!("{bad:?} is not a dotted OID such as 1.3.6.1.4.1.53148.1.3.2.2"),
            ));
        }
        let setup_wait = seconds("--setup-wait", cli.setup_wait.or(f.setup_wait).unwrap_or(30.0))?;
        let period_ms = cli.kpm_period_ms.or(f.kpm_period_ms).unwrap_or(1000);
        let kpm = if period_ms == 0 {
            None
        } else {
            let measurements: Vec<String> = cli
                .kpm_measurements
                .or(f.kpm_measurements)
                .unwrap_or_else(|| vec!["DRB.UEThpDl".into()])
                .into_iter()
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect();
            let names: Vec<&str> = measurements.iter().map(String::as_str).collect();
            qsafe_asn1::kpm::action_definition_format1(&names, period_ms)
                .map_err(|e| invalid("--kpm-measurements", e.to_string()))?;
            Some(KpmWatch { period_ms, measurements })
        };
        let duration = cli.duration.map(|d| seconds("--duration", d)).transpose()?;
        let k = file.keyplane;
        let mut policy = match &file.freshness {
            Some(table) => {
                let text = toml::to_string(table).map_err(|e| invalid("[freshness]", e.to_string()))?;
                crate::policy::FreshnessPolicy::from_toml(&text).map_err(|e| invalid("[freshness]", e.to_string()))?
            }
            None => crate::policy::FreshnessPolicy::default(),
        };
        if let Some(mode) = &cli.mode {
            policy.mode = mode.parse().map_err(|e: qsafe_hybrid::ParseModeError| invalid("--mode", e.to_string()))?;
        }
        if let Some(p) = cli.rekey_period {
            policy.rekey_period = seconds("--rekey-period", p)?;
            if policy.max_key_age < policy.rekey_period {
                policy.max_key_age = policy.rekey_period * 5;
            }
        }
        if let Some(a) = &cli.on_violation {
            policy.on_violation = match a.as_str() {
                "rekey" => crate::policy::OnViolation::Rekey,
                "degrade" => crate::policy::OnViolation::Degrade,
                "isolate" => crate::policy::OnViolation::Isolate,
                other => {
                    return Err(invalid("--on-violation", format!("{other:?}: expected rekey, degrade or isolate")));
                }
            };
        }
        policy.validate().map_err(|e| invalid("[freshness]", e.to_string()))?;
        let keyplane = match cli.pki_dir.or(k.pki_dir) {
            None => None,
            Some(pki_dir) => {
                let trust_anchors = cli.trust_anchors.or(k.trust_anchors).unwrap_or_else(|| pki_dir.join("ca.pem"));
                let kme = cli.kme.or(k.kme).map(|url| (url, cli.kme_id.or(k.kme_id).unwrap_or_else(|| "kme-a".into())));
                let report_ms = k.report_period_ms.unwrap_or(1000);
                if !(10..=3_600_000).contains(&report_ms) {
                    return Err(invalid("report-period-ms", format!("{report_ms}: expected 10..=3600000")));
                }
                let grace_ms = k.grace_ms.unwrap_or(2000);
                if grace_ms > 600_000 {
                    return Err(invalid("grace-ms", format!("{grace_ms}: at most 600000")));
                }
                let prefetch_keys = cli.prefetch_keys.or(k.prefetch_keys).unwrap_or(64);
                if !(1..=4096).contains(&prefetch_keys) {
                    return Err(invalid("--prefetch-keys", format!("{prefetch_keys}: expected 1..=4096")));
                }
                let status_ms = cli.kme_status_ms.or(k.kme_status_ms).unwrap_or(5000);
                if !(100..=3_600_000).contains(&status_ms) {
                    return Err(invalid("--kme-status-ms", format!("{status_ms}: expected 100..=3600000")));
                }
                let sa_max_bytes = match cli.sa_max_bytes.or(k.sa_max_bytes).unwrap_or(0) {
                    0 => None,
                    b if b < 65_536 => {
                        return Err(invalid(
                            "--sa-max-bytes",
                            format!("{b}: at least 65536 (or 0 for none); the limit is a backstop, not the schedule"),
                        ));
                    }
                    b if b <= policy.max_bytes_per_key => {
                        return Err(invalid(
                            "--sa-max-bytes",
                            format!(
                                "{b}: must exceed the policy's maxBytesPerKey ({}), or the kernel deletes SAs \
                                 before the policy rekeys them",
                                policy.max_bytes_per_key
                            ),
                        ));
                    }
                    b => Some(b),
                };
                Some(KeyPlaneConfig {
                    prefetch_keys,
                    kme_status_period: Duration::from_millis(status_ms.into()),
                    sa_max_bytes,
                    sae_id: cli.sae_id.or(k.sae_id).unwrap_or_else(|| "ric-xapp".into()),
                    pki_dir,
                    trust_anchors,
                    kme,
                    xfrm_broker: cli.xfrm_broker.or(k.xfrm_broker),
                    report_period: Duration::from_millis(report_ms.into()),
                    grace: Duration::from_millis(grace_ms.into()),
                    policy,
                })
            }
        };
        let http_listen = cli
            .http_listen
            .or(k.http_listen)
            .or_else(|| keyplane.as_ref().map(|_| SocketAddr::from(([127, 0, 0, 1], 9464))));
        let nats_url = cli.nats_url.or(file.events.nats_url).filter(|u| !u.trim().is_empty());
        if let Some(u) = &nats_url {
            let ok = ["nats://", "tls://", "ws://", "wss://"].iter().any(|p| u.starts_with(p)) && u.len() <= 2048;
            if !ok {
                return Err(invalid(
                    "--nats-url",
                    format!("{u:?}: expected nats://HOST:PORT (or tls://, ws://, wss://)"),
                ));
            }
            if keyplane.is_none() {
                return Err(invalid("--nats-url", "E2 security events come from the key plane: set --pki-dir too"));
            }
        }
        let a1_nats = cli.a1_state_nats_url.or(file.a1.state_nats_url).filter(|u| !u.trim().is_empty());
        let a1_store = cli.a1_store.or(file.a1.store);
        if a1_nats.is_some() && a1_store.is_none() {
            return Err(invalid("--a1-state-nats-url", "turn the A1 termination on with --a1-store too"));
        }
        let a1 = a1_store.map(|store| crate::a1::A1Settings { store, state_nats_url: a1_nats });
        if a1.is_some() && keyplane.is_none() {
            return Err(invalid("--a1-store", "A1 policies act on the key plane: set --pki-dir too"));
        }
        Ok(Self {
            keyplane,
            http_listen,
            nats_url,
            a1,
            e2: E2Settings {
                listen,
                mcc,
                mnc,
                ric_id,
                requestor_id: cli.requestor_id.or(f.requestor_id).unwrap_or(1001),
                accept_oids,
                setup_wait,
                kpm,
            },
            duration,
        })
    }
}

fn is_dotted_oid(s: &str) -> bool {
    let mut arcs = 0;
    for arc in s.split('.') {
        if arc.is_empty() || !arc.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        arcs += 1;
    }
    arcs >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        Cli::parse_from(std::iter::once("qsafe-xapp").chain(args.iter().copied()))
    }

    #[test]
    fn defaults() {
        let s = Settings::resolve(cli(&[])).expect("defaults");
        assert_eq!(s.e2.listen, "0.0.0.0:36421".parse().expect("addr"));
        assert_eq!((s.e2.mcc.as_str(), s.e2.mnc.as_str(), s.e2.ric_id, s.e2.requestor_id), ("001", "01", 5, 1001));
        assert_eq!(s.e2.kpm, Some(KpmWatch { period_ms: 1000, measurements: vec!["DRB.UEThpDl".into()] }));
        assert!(s.e2.accept_oids.is_empty());
    }

    #[test]
    fn file_then_flags() {
        let dir = std::env::temp_dir().join(format!("qsafe-xapp-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("xapp.toml");
        std::fs::write(
            &path,
            "[e2]\nlisten = \"[::1]\"\nplmn = \"310-410\"\nkpm-period-ms = 0\naccept-oids = [\"1.3.6.1.4.1.53148.1.3.2.2\"]\n",
        )
        .expect("write");
        let p = path.to_str().expect("utf-8");
        let s = Settings::resolve(cli(&["--config", p])).expect("file");
        assert_eq!(s.e2.listen, "[::1]:36421".parse().expect("addr"));
        assert_eq!((s.e2.mcc.as_str(), s.e2.mnc.as_str()), ("310", "410"));
        assert_eq!(s.e2.kpm, None);
        assert_eq!(s.e2.accept_oids, vec!["1.3.6.1.4.1.53148.1.3.2.2".to_string()]);
        let s = Settings::resolve(cli(&["--config", p, "--e2-listen", "127.0.0.1:36422", "--kpm-period-ms", "100"]))
            .expect("flags");
        assert_eq!(s.e2.listen, "127.0.0.1:36422".parse().expect("addr"));
        assert_eq!(s.e2.kpm.map(|k| k.period_ms), Some(100));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn bad_settings_are_named() {
        for (args, what) in [
            (&["--plmn", "1-2"][..], "--plmn"),
            (&["--ric-id", "2000000"][..], "--ric-id"),
            (&["--accept-oid", "kpm"][..], "--accept-oid"),
            (&["--setup-wait", "0"][..], "--setup-wait"),
            (&["--e2-listen", "no such host.invalid"][..], "--e2-listen"),
            (&["--kpm-measurements", ","][..], "--kpm-measurements"),
            (&["--duration", "0"][..], "--duration"),
        ] {
            match Settings::resolve(cli(args)) {
                Err(ConfigError::Invalid { what: w, .. }) => assert_eq!(w, what, "{args:?}"),
                other => panic!("{args:?}: expected an invalid {what}, got {other:?}"),
            }
        }
    }

    #[test]
    fn key_plane_and_freshness_tables() {
        let dir = std::env::temp_dir().join(format!("qsafe-xapp-config-kp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("xapp.toml");
        std::fs::write(
            &path,
            "[keyplane]\npki-dir = \"pki\"\nkme = \"https://10.0.0.1:8443\"\ngrace-ms = 500\n\
             prefetch-keys = 4\nkme-status-ms = 250\nsa-max-bytes = 2147483648\n\
             [freshness]\nmode = \"at-least-pqc\"\nrekeyPeriodSeconds = 30\nmaxKeyAgeSeconds = 90\nonViolation = \"degrade\"\n",
        )
        .expect("write");
        let p = path.to_str().expect("utf-8");
        let s = Settings::resolve(cli(&["--config", p])).expect("file");
        let k = s.keyplane.expect("key plane on");
        assert_eq!(k.trust_anchors, PathBuf::from("pki/ca.pem"));
        assert_eq!(k.kme, Some(("https://10.0.0.1:8443".into(), "kme-a".into())));
        assert_eq!(k.grace, Duration::from_millis(500));
        assert_eq!(k.policy.mode, qsafe_hybrid::Mode::AtLeastPqc);
        assert_eq!(k.policy.rekey_period, Duration::from_secs(30));
        assert_eq!(k.policy.on_violation, crate::policy::OnViolation::Degrade);
        assert_eq!(s.http_listen, Some("127.0.0.1:9464".parse().expect("addr")));
        assert_eq!(
            (k.prefetch_keys, k.kme_status_period, k.sa_max_bytes),
            (4, Duration::from_millis(250), Some(2 << 30))
        );
        let s =
            Settings::resolve(cli(&["--config", p, "--mode", "either", "--on-violation", "isolate"])).expect("flags");
        let k = s.keyplane.expect("key plane on");
        assert_eq!(
            (k.policy.mode, k.policy.on_violation),
            (qsafe_hybrid::Mode::Either, crate::policy::OnViolation::Isolate)
        );
        for (args, what) in [
            (&["--mode", "qkd-only"][..], "--mode"),
            (&["--on-violation", "panic"][..], "--on-violation"),
            (&["--rekey-period", "0"][..], "--rekey-period"),
            (&["--prefetch-keys", "0"][..], "--prefetch-keys"),
            (&["--kme-status-ms", "5"][..], "--kme-status-ms"),
            (&["--sa-max-bytes", "1000"][..], "--sa-max-bytes"),
            (&["--sa-max-bytes", "1048576"][..], "--sa-max-bytes"),
        ] {
            let mut full = vec!["--config", p];
            full.extend_from_slice(args);
            match Settings::resolve(cli(&full)) {
                Err(ConfigError::Invalid { what: w, .. }) => assert_eq!(w, what, "{args:?}"),
                other => panic!("{args:?}: expected an invalid {what}, got {other:?}"),
            }
        }
        std::fs::write(&path, "[freshness]\nrekeyPeriodSeconds = 0\n").expect("write");
        assert!(Settings::resolve(cli(&["--config", p])).is_err(), "a bad policy is refused");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn unknown_file_keys_are_errors() {
        let dir = std::env::temp_dir().join(format!("qsafe-xapp-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("xapp.toml");
        std::fs::write(&path, "[e2]\nlisten-on = \"0.0.0.0\"\n").expect("write");
        let err = Settings::resolve(cli(&["--config", path.to_str().expect("utf-8")])).expect_err("unknown key");
        assert!(err.to_string().contains("listen-on"), "{err}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
