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

What it does today (standalone mode, RIC role): serves E2AP over kernel SCTP,
accepts E2 Setup, keeps the registry of E2 nodes and their RAN functions,
subscribes to each node's E2SM-KPM function and counts the indications per
link; reconnecting nodes are set up and subscribed again. The QKD/ML-KEM key
plane, IPsec, key freshness and A1 attach to these links as they land.

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
    /// Stop after.
    pub duration: Option<Duration>,
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
        Ok(Self {
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
