//! Command line, config file and environment of `qsafe-e2node`, merged into
//! [`Settings`]. Precedence: command-line flag > `QSAFE_E2NODE_*`
//! environment variable > `--config` file > built-in default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use qsafe_asn1::e2sm_qkd::{KemAlgorithm, KeySourceMode};
use qsafe_config::{invalid, read_toml, seconds};
use qsafe_e2::transport::resolve_e2_address;
use serde::Deserialize;

pub use qsafe_config::ConfigError;

const EXAMPLES: &str = "\
Examples:
  # one gNB against a RIC listening on the default E2 port 36421
  qsafe-e2node --ric 10.0.0.1

  # 100 gNBs (gNB ids 0x100..0x163), KPM with two measurements, 10 indications/s each
  qsafe-e2node --ric 10.0.0.1:36421 --nodes 100 --gnb-id 0x100 \\
      --measurements DRB.UEThpDl,DRB.UEThpUl --rate 10

  # load test: every subscription gets 100000 indications as fast as possible
  qsafe-e2node --ric [fd00::1]:36421 --nodes 20 --rate max --count 100000

  # large PDUs (64 KiB KPM messages), control requests answered with a failure
  qsafe-e2node --ric 10.0.0.1 --indication-size 65536 --control fail

  # from a file, one setting overridden by the environment
  QSAFE_E2NODE_NODES=5 qsafe-e2node --config e2node.toml

  # keyed E2 links (E2SM-QKD, RAN function 3): a demo PKI and a KME pair, node i
  # is SAE e2node-<i+1> and fetches QKD keys from KME B; the RIC (xApp) is SAE ric-xapp
  qsafe-kme demo-pki --out ./pki --sae ric-xapp,e2node-1,e2node-2
  qsafe-kme serve --pki-dir ./pki &
  qsafe-e2node --ric 10.0.0.1 --nodes 2 --keyed --pki-dir ./pki \\
      --kme https://localhost:8444 --kme-id kme-b --mode qkd-and-pqc
  # ... with kernel IPsec through the privileged broker (else an in-memory model)
  qsafe-e2node --ric 10.0.0.1 --keyed --pki-dir ./pki --kme https://localhost:8444 \\
      --xfrm-broker /run/qsafe/xfrm.sock

Config file (TOML; every key optional, names as the long flags):
  ric = \"10.0.0.1:36421\"
  nodes = 10
  gnb-id = 4096
  plmn = \"001-01\"
  measurements = [\"DRB.UEThpDl\", \"DRB.UEThpUl\"]
  rate = 10            # or \"max\"; absent: the subscription's reporting period
  count = 1000
  indication-size = 0
  control = \"ack\"      # or \"fail\"
  connect-timeout = 30
  duration = 60
  keyed = true         # the keys below only matter with keyed = true
  sae-id-prefix = \"e2node-\"
  pki-dir = \"./pki\"
  trust-anchors = \"./pki/ca.pem\"
  kme = \"https://localhost:8444\"
  kme-id = \"kme-b\"
  modes = [\"qkd-and-pqc\", \"at-least-qkd\", \"at-least-pqc\", \"either\"]
  mode = \"qkd-and-pqc\"
  kem = \"ml-kem-768\"
  grace-ms = 2000
  sa-max-bytes = 0     # kernel hard byte limit per SA (soft at 3/4); 0: none
  bootstrap-confirm-ms = 10000  # back to bootstrap if the RIC never switches to the first SA
  fault-slow-bootstrap-ms = 0   # fault injection: answer the first REKEY this much later
  xfrm-broker = \"/run/qsafe/xfrm.sock\"

What the indications carry (for RIC-side checks): each KPM indication message
(Format 1) lists the measurements followed by QSAFE.IndicationSeq.Hi and
QSAFE.IndicationSeq.Lo, whose first record holds a 64-bit per-node sequence
number (0, 1, 2, ... across subscriptions and reconnects); the KPM header's
colletStartTime is the NTP send time (latency = receive time - it).

Keyed mode (--keyed): every node also offers E2SM-QKD (RAN function id 3,
revision 1) with its SAE ID (--sae-id-prefix + (i+1)), its ML-DSA chain from
--pki-dir (sae-<ID>.pem / sae-<ID>.key, also its KME mTLS identity) and a signed
ML-KEM key; the RIC's REKEY/SET-MODE/ISOLATE controls (ack requested) are
verified against --trust-anchors and answered with a signed outcome; QKD keys
come from --kme by dec_keys (without --kme: PQC-only). KPM indications are held
until the link is protected by ESP. Without --xfrm-broker the SAs live in an
in-memory model (no privileges; the RIC's switch to a new SA is assumed at the
first report tick after the node's ack).

Logs: RUST_LOG (default info), on stderr. On exit a summary line on stdout:
indications sent and controls handled per node (keyed: also epoch, rekeys
applied and refusals by cause per node). Exit status 0 when every
node completed E2 Setup at least once, 1 otherwise, 2 for a usage error.";

/// How control requests are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ControlAnswer {
    /// RIC CONTROL ACKNOWLEDGE.
    Ack,
    /// RIC CONTROL FAILURE (cause ricRequest/control-failed-to-execute).
    Fail,
}

/// Indication pacing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// As fast as the association takes them.
    Max,
    /// This many per second per subscription action.
    PerSecond(f64),
}

fn parse_rate(s: &str) -> Result<Rate, String> {
    if s.eq_ignore_ascii_case("max") {
        return Ok(Rate::Max);
    }
    match s.parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(Rate::PerSecond(r)),
        _ => Err(format!("{s:?}: expected a positive number of indications per second, or \"max\"")),
    }
}

/// An E2 node simulator: emulates N gNBs, each with its own SCTP association
/// to the RIC, offering E2SM-KPM v3 and sending sequenced KPM indications.
#[derive(Debug, Parser)]
#[command(name = "qsafe-e2node", version, after_help = EXAMPLES)]
pub struct Cli {
    /// RIC E2 address: IPv4 or IPv6, port optional (default 36421), e.g.
    /// 10.0.0.1, 10.0.0.1:36421, fd00::1, [fd00::1]:36421, ric.example:36421.
    #[arg(long, env = "QSAFE_E2NODE_RIC", value_name = "ADDR")]
    pub ric: Option<String>,
    /// Number of emulated E2 nodes, each with its own association [default: 1].
    #[arg(long, env = "QSAFE_E2NODE_NODES", value_name = "N")]
    pub nodes: Option<u32>,
    /// gNB id of the first node (decimal or 0x hex); node i gets base + i,
    /// as a 28-bit gNB id [default: 0x1000].
    #[arg(long, env = "QSAFE_E2NODE_GNB_ID", value_name = "ID", value_parser = parse_u32)]
    pub gnb_id: Option<u32>,
    /// PLMN of the nodes, MCC-MNC [default: 001-01].
    #[arg(long, env = "QSAFE_E2NODE_PLMN", value_name = "MCC-MNC")]
    pub plmn: Option<String>,
    /// KPM measurements offered and reported, comma-separated [default: DRB.UEThpDl].
    #[arg(long, env = "QSAFE_E2NODE_MEASUREMENTS", value_name = "NAMES", value_delimiter = ',')]
    pub measurements: Option<Vec<String>>,
    /// Indications per second per subscription action, or "max" [default:
    /// the subscription's KPM reporting period].
    #[arg(long, env = "QSAFE_E2NODE_RATE", value_name = "N|max", value_parser = parse_rate)]
    pub rate: Option<Rate>,
    /// Stop a subscription's indications after this many [default: unlimited].
    #[arg(long, env = "QSAFE_E2NODE_COUNT", value_name = "N")]
    pub count: Option<u64>,
    /// Pad each KPM indication message to at least this many bytes [default: 0, no padding].
    #[arg(long, env = "QSAFE_E2NODE_INDICATION_SIZE", value_name = "BYTES")]
    pub indication_size: Option<usize>,
    /// Answer RIC control requests with an acknowledge or a failure [default: ack].
    #[arg(long, env = "QSAFE_E2NODE_CONTROL", value_enum)]
    pub control: Option<ControlAnswer>,
    /// Give up (and exit) when the RIC cannot be reached for this many seconds [default: 30].
    #[arg(long, env = "QSAFE_E2NODE_CONNECT_TIMEOUT", value_name = "SECS")]
    pub connect_timeout: Option<f64>,
    /// Stop after this many seconds [default: run until Ctrl-C, SIGTERM or give-up].
    #[arg(long, env = "QSAFE_E2NODE_DURATION", value_name = "SECS")]
    pub duration: Option<f64>,
    /// TOML config file (keys as the long flags; flags and QSAFE_E2NODE_* override it).
    #[arg(long, env = "QSAFE_E2NODE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Keyed E2 links: also offer E2SM-QKD (RAN function 3) and protect the
    /// association with rekeyed ESP SAs [default: false].
    #[arg(long, env = "QSAFE_E2NODE_KEYED", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub keyed: Option<bool>,
    /// Keyed: SAE ID of node i = this prefix + (i+1) [default: e2node-].
    #[arg(long, env = "QSAFE_E2NODE_SAE_ID_PREFIX", value_name = "PREFIX")]
    pub sae_id_prefix: Option<String>,
    /// Keyed: directory with sae-<ID>.pem / sae-<ID>.key per node and ca.pem
    /// (as `qsafe-kme demo-pki` writes it).
    #[arg(long, env = "QSAFE_E2NODE_PKI_DIR", value_name = "DIR")]
    pub pki_dir: Option<PathBuf>,
    /// Keyed: PEM roots that verify the RIC's ML-DSA chain [default: <pki-dir>/ca.pem].
    #[arg(long, env = "QSAFE_E2NODE_TRUST_ANCHORS", value_name = "FILE")]
    pub trust_anchors: Option<PathBuf>,
    /// Keyed: the nodes' KME (ETSI 014, KME B), e.g. https://localhost:8444
    /// [default: none: every QKD fetch fails, PQC-only node].
    #[arg(long, env = "QSAFE_E2NODE_KME", value_name = "URL")]
    pub kme: Option<String>,
    /// Keyed: the KME ID its server certificate must carry [default: kme-b].
    #[arg(long, env = "QSAFE_E2NODE_KME_ID", value_name = "ID")]
    pub kme_id: Option<String>,
    /// Keyed: supported key-source modes, comma-separated [default: all four].
    #[arg(long, env = "QSAFE_E2NODE_MODES", value_name = "MODES", value_delimiter = ',', value_enum)]
    pub modes: Option<Vec<ModeArg>>,
    /// Keyed: initial key-source mode [default: qkd-and-pqc].
    #[arg(long, env = "QSAFE_E2NODE_MODE", value_name = "MODE", value_enum)]
    pub mode: Option<ModeArg>,
    /// Keyed: the nodes' ephemeral KEM [default: ml-kem-768].
    #[arg(long, env = "QSAFE_E2NODE_KEM", value_name = "KEM", value_enum)]
    pub kem: Option<KemArg>,
    /// Keyed: minimum grace before old SAs are deleted, ms [default: 2000].
    #[arg(long, env = "QSAFE_E2NODE_GRACE_MS", value_name = "MS")]
    pub grace_ms: Option<u64>,
    /// Keyed: kernel hard byte limit per SA (soft limit at 3/4), a backstop behind the RIC's
    /// rekeys; 0 = none [default: 0].
    #[arg(long, env = "QSAFE_E2NODE_SA_MAX_BYTES", value_name = "BYTES")]
    pub sa_max_bytes: Option<u64>,
    /// Keyed: after the first REKEY on an association (which makes ESP required), how long a
    /// node waits for a packet under the new SA (the RIC switched) before it returns to
    /// bootstrap, so that the RIC's next REKEY, sent in clear, is not dropped; ms
    /// [default: 10000].
    #[arg(long, env = "QSAFE_E2NODE_BOOTSTRAP_CONFIRM_MS", value_name = "MS")]
    pub bootstrap_confirm_ms: Option<u64>,
    /// Keyed, fault injection: each node answers the first hybrid/QKD REKEY on an association
    /// this much later (its dec_keys is delayed), like an overloaded node; exercises the RIC's
    /// retransmissions, late adoption and the bootstrap fallback; ms [default: 0].
    #[arg(long, env = "QSAFE_E2NODE_FAULT_SLOW_BOOTSTRAP_MS", value_name = "MS")]
    pub fault_slow_bootstrap_ms: Option<u64>,
    /// Keyed: Unix socket of qsafe-xfrm-broker for kernel SAs [default: none:
    /// an in-memory data plane, no privileges].
    #[arg(long, env = "QSAFE_E2NODE_XFRM_BROKER", value_name = "PATH")]
    pub xfrm_broker: Option<PathBuf>,
}

/// A key-source mode on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModeArg {
    /// QKD key and ML-KEM secret, both required.
    QkdAndPqc,
    /// QKD key required; ML-KEM mixed in when present.
    AtLeastQkd,
    /// ML-KEM required; QKD mixed in when present.
    AtLeastPqc,
    /// Either source.
    Either,
}

impl From<ModeArg> for KeySourceMode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::QkdAndPqc => KeySourceMode::QkdAndPqc,
            ModeArg::AtLeastQkd => KeySourceMode::AtLeastQkd,
            ModeArg::AtLeastPqc => KeySourceMode::AtLeastPqc,
            ModeArg::Either => KeySourceMode::Either,
        }
    }
}

/// The nodes' KEM on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KemArg {
    /// ML-KEM-768.
    #[value(name = "ml-kem-768")]
    #[serde(rename = "ml-kem-768")]
    MlKem768,
    /// ML-KEM-1024.
    #[value(name = "ml-kem-1024")]
    #[serde(rename = "ml-kem-1024")]
    MlKem1024,
}

impl From<KemArg> for KemAlgorithm {
    fn from(k: KemArg) -> Self {
        match k {
            KemArg::MlKem768 => KemAlgorithm::MlKem768,
            KemArg::MlKem1024 => KemAlgorithm::MlKem1024,
        }
    }
}

/// The keyed-mode settings (paths only; [`crate::keyed::KeyedMaterial::load`] reads them).
#[derive(Debug, Clone)]
pub struct KeyedSettings {
    /// SAE ID prefix.
    pub sae_id_prefix: String,
    /// PKI directory.
    pub pki_dir: PathBuf,
    /// Trust anchors file.
    pub trust_anchors: PathBuf,
    /// KME URL.
    pub kme: Option<String>,
    /// KME ID.
    pub kme_id: String,
    /// Supported modes.
    pub modes: Vec<KeySourceMode>,
    /// Initial mode.
    pub mode: KeySourceMode,
    /// KEM.
    pub kem: KemAlgorithm,
    /// Grace.
    pub grace: Duration,
    /// Kernel hard byte limit per SA (None: none).
    pub sa_max_bytes: Option<u64>,
    /// How long the bootstrap SA waits for evidence that the RIC switched.
    pub bootstrap_confirm: Duration,
    /// Fault injection: delay of the first QKD fetch on an association.
    pub fault_slow_bootstrap: Duration,
    /// Broker socket.
    pub xfrm_broker: Option<PathBuf>,
}

impl KeyedSettings {
    /// SAE ID of node `i`.
    pub fn sae_id(&self, i: u32) -> String {
        format!("{}{}", self.sae_id_prefix, u64::from(i) + 1)
    }
}

fn parse_u32(s: &str) -> Result<u32, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("{s:?}: {e}"))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum FileRate {
    Number(f64),
    Text(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum FileId {
    Number(u32),
    Text(String),
}

/// The config file's keys (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    ric: Option<String>,
    nodes: Option<u32>,
    gnb_id: Option<FileId>,
    plmn: Option<String>,
    measurements: Option<Vec<String>>,
    rate: Option<FileRate>,
    count: Option<u64>,
    indication_size: Option<usize>,
    control: Option<ControlAnswer>,
    connect_timeout: Option<f64>,
    duration: Option<f64>,
    keyed: Option<bool>,
    sae_id_prefix: Option<String>,
    pki_dir: Option<PathBuf>,
    trust_anchors: Option<PathBuf>,
    kme: Option<String>,
    kme_id: Option<String>,
    modes: Option<Vec<ModeArg>>,
    mode: Option<ModeArg>,
    kem: Option<KemArg>,
    grace_ms: Option<u64>,
    sa_max_bytes: Option<u64>,
    bootstrap_confirm_ms: Option<u64>,
    fault_slow_bootstrap_ms: Option<u64>,
    xfrm_broker: Option<PathBuf>,
}

/// Bits of the emulated gNB ids.
pub const GNB_ID_BITS: u8 = 28;

/// Everything the simulator needs, resolved and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The RIC's E2 address.
    pub ric: SocketAddr,
    /// Emulated nodes.
    pub nodes: u32,
    /// gNB id of node 0.
    pub gnb_id: u32,
    /// MCC.
    pub mcc: String,
    /// MNC.
    pub mnc: String,
    /// KPM measurements.
    pub measurements: Vec<String>,
    /// Pacing (`None`: the subscription's reporting period).
    pub rate: Option<Rate>,
    /// Indications per subscription action.
    pub count: Option<u64>,
    /// Minimum KPM message size.
    pub indication_size: usize,
    /// Control answers.
    pub control: ControlAnswer,
    /// Give up connecting after.
    pub connect_timeout: Duration,
    /// Stop after.
    pub duration: Option<Duration>,
    /// Keyed E2 links (`--keyed`).
    pub keyed: Option<KeyedSettings>,
}

/// Resolves `ADDR` / `ADDR:PORT` (IPv4, IPv6 with or without brackets, host names).
pub fn parse_ric(s: &str) -> Result<SocketAddr, ConfigError> {
    resolve_e2_address(s).map_err(|why| invalid("--ric", why))
}

impl Settings {
    /// Merges flags/environment (already in `cli`) over the config file over defaults, and checks.
    pub fn resolve(cli: Cli) -> Result<Self, ConfigError> {
        let file = match &cli.config {
            Some(path) => read_toml::<FileConfig>(path)?,
            None => FileConfig::default(),
        };
        let ric = cli.ric.or(file.ric).ok_or_else(|| {
            invalid("--ric", "the RIC address is required (flag --ric, QSAFE_E2NODE_RIC, or `ric` in the config file)")
        })?;
        let ric = parse_ric(&ric)?;
        let nodes = cli.nodes.or(file.nodes).unwrap_or(1);
        if nodes == 0 || nodes > 65_535 {
            return Err(invalid("--nodes", format!("{nodes}: expected 1..=65535")));
        }
        let gnb_id = match (cli.gnb_id, file.gnb_id) {
            (Some(id), _) => id,
            (None, Some(FileId::Number(id))) => id,
            (None, Some(FileId::Text(s))) => parse_u32(&s).map_err(|e| invalid("gnb-id", e))?,
            (None, None) => 0x1000,
        };
        let max = (1u64 << GNB_ID_BITS) - 1;
        if u64::from(gnb_id) + u64::from(nodes) - 1 > max {
            return Err(invalid(
                "--gnb-id",
                format!("{gnb_id:#x} + {nodes} nodes exceeds the {GNB_ID_BITS}-bit gNB id range"),
            ));
        }
        let plmn = cli.plmn.or(file.plmn).unwrap_or_else(|| "001-01".into());
        let (mcc, mnc) = plmn
            .split_once('-')
            .filter(|(mcc, mnc)| {
                mcc.len() == 3
                    && (2..=3).contains(&mnc.len())
                    && (mcc.chars().chain(mnc.chars())).all(|c| c.is_ascii_digit())
            })
            .ok_or_else(|| invalid("--plmn", format!("{plmn:?}: expected MCC-MNC, e.g. 001-01")))?;
        let measurements = cli.measurements.or(file.measurements).unwrap_or_else(|| vec!["DRB.UEThpDl".into()]);
        let measurements: Vec<String> =
            measurements.into_iter().map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).collect();
        let names: Vec<&str> = measurements.iter().map(String::as_str).collect();
        qsafe_asn1::kpm::ran_function_description(&names).map_err(|e| invalid("--measurements", e.to_string()))?;
        let rate = match (cli.rate, file.rate) {
            (Some(r), _) => Some(r),
            (None, Some(FileRate::Number(n))) => Some(parse_rate(&n.to_string()).map_err(|e| invalid("rate", e))?),
            (None, Some(FileRate::Text(s))) => Some(parse_rate(&s).map_err(|e| invalid("rate", e))?),
            (None, None) => None,
        };
        let indication_size = cli.indication_size.or(file.indication_size).unwrap_or(0);
        if indication_size > 16 << 20 {
            return Err(invalid("--indication-size", format!("{indication_size}: at most 16 MiB")));
        }
        let connect_timeout =
            seconds("--connect-timeout", cli.connect_timeout.or(file.connect_timeout).unwrap_or(30.0))?;
        let duration = cli.duration.or(file.duration).map(|d| seconds("--duration", d)).transpose()?;
        let keyed = if cli.keyed.or(file.keyed).unwrap_or(false) {
            let pki_dir = cli
                .pki_dir
                .or(file.pki_dir)
                .ok_or_else(|| invalid("--pki-dir", "--keyed needs the PKI directory (sae-<ID>.pem/.key, ca.pem)"))?;
            let trust_anchors = cli.trust_anchors.or(file.trust_anchors).unwrap_or_else(|| pki_dir.join("ca.pem"));
            let modes: Vec<KeySourceMode> = cli
                .modes
                .or(file.modes)
                .unwrap_or_else(|| vec![ModeArg::QkdAndPqc, ModeArg::AtLeastQkd, ModeArg::AtLeastPqc, ModeArg::Either])
                .into_iter()
                .map(KeySourceMode::from)
                .fold(Vec::new(), |mut v, m| {
                    if !v.contains(&m) {
                        v.push(m);
                    }
                    v
                });
            if modes.is_empty() {
                return Err(invalid("--modes", "at least one mode"));
            }
            let mode = KeySourceMode::from(cli.mode.or(file.mode).unwrap_or(ModeArg::QkdAndPqc));
            if !modes.contains(&mode) {
                return Err(invalid("--mode", format!("{mode:?} is not among the supported --modes")));
            }
            let grace_ms = cli.grace_ms.or(file.grace_ms).unwrap_or(2000);
            if grace_ms > 600_000 {
                return Err(invalid("--grace-ms", format!("{grace_ms}: at most 600000")));
            }
            let sa_max_bytes = match cli.sa_max_bytes.or(file.sa_max_bytes).unwrap_or(0) {
                0 => None,
                b if b < 65_536 => {
                    return Err(invalid("--sa-max-bytes", format!("{b}: at least 65536 (or 0 for none)")));
                }
                b => Some(b),
            };
            let bootstrap_confirm_ms = cli.bootstrap_confirm_ms.or(file.bootstrap_confirm_ms).unwrap_or(10_000);
            if !(1000..=600_000).contains(&bootstrap_confirm_ms) {
                return Err(invalid(
                    "--bootstrap-confirm-ms",
                    format!("{bootstrap_confirm_ms}: between 1000 and 600000"),
                ));
            }
            let fault_slow_bootstrap_ms = cli.fault_slow_bootstrap_ms.or(file.fault_slow_bootstrap_ms).unwrap_or(0);
            if fault_slow_bootstrap_ms > 600_000 {
                return Err(invalid("--fault-slow-bootstrap-ms", format!("{fault_slow_bootstrap_ms}: at most 600000")));
            }
            let sae_id_prefix = cli.sae_id_prefix.or(file.sae_id_prefix).unwrap_or_else(|| "e2node-".into());
            if sae_id_prefix.len() > 200 {
                return Err(invalid("--sae-id-prefix", "at most 200 characters"));
            }
            let kme = cli.kme.or(file.kme).filter(|k| !k.is_empty());
            Some(KeyedSettings {
                sae_id_prefix,
                pki_dir,
                trust_anchors,
                kme,
                kme_id: cli.kme_id.or(file.kme_id).unwrap_or_else(|| "kme-b".into()),
                modes,
                mode,
                kem: cli.kem.or(file.kem).unwrap_or(KemArg::MlKem768).into(),
                grace: Duration::from_millis(grace_ms),
                sa_max_bytes,
                bootstrap_confirm: Duration::from_millis(bootstrap_confirm_ms),
                fault_slow_bootstrap: Duration::from_millis(fault_slow_bootstrap_ms),
                xfrm_broker: cli.xfrm_broker.or(file.xfrm_broker),
            })
        } else {
            None
        };
        Ok(Self {
            ric,
            nodes,
            gnb_id,
            mcc: mcc.into(),
            mnc: mnc.into(),
            measurements,
            rate,
            count: cli.count.or(file.count),
            indication_size,
            control: cli.control.or(file.control).unwrap_or(ControlAnswer::Ack),
            connect_timeout,
            duration,
            keyed,
        })
    }
}
