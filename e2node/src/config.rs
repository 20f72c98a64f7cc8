//! Command line, config file and environment of `qsafe-e2node`, merged into
//! [`Settings`]. Precedence: command-line flag > `QSAFE_E2NODE_*`
//! environment variable > `--config` file > built-in default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
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

What the indications carry (for RIC-side checks): each KPM indication message
(Format 1) lists the measurements followed by QSAFE.IndicationSeq.Hi and
QSAFE.IndicationSeq.Lo, whose first record holds a 64-bit per-node sequence
number (0, 1, 2, ... across subscriptions and reconnects); the KPM header's
colletStartTime is the NTP send time (latency = receive time - it).

Logs: RUST_LOG (default info), on stderr. On exit a summary line on stdout:
indications sent and controls handled per node. Exit status 0 when every
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
        })
    }
}
