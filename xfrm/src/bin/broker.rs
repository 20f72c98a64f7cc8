//! `qsafe-xfrm-broker`: the only qsafe-ran process that needs
//! `CAP_NET_ADMIN`. See `qsafe-xfrm-broker --help` and `docs/xfrm-broker.md`.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use qsafe_config::shutdown::StopSignals;
use qsafe_config::{ConfigError, invalid, read_toml};
use qsafe_xfrm::direct::{DEFAULT_POLICY_PRIORITY, DirectNetlink};
use qsafe_xfrm::protocol::{AllowList, Prefix};
use qsafe_xfrm::server::{self, PeerPolicy};
use serde::Deserialize;
use tracing_subscriber::EnvFilter;

const DEFAULT_SOCKET: &str = "/run/qsafe/xfrm-broker.sock";

const EXAMPLES: &str = "\
Examples:
  # the xApp runs as uid 1000; E2 links are in 10.20.0.0/16
  qsafe-xfrm-broker --socket /run/qsafe/xfrm.sock --allow-uid 1000 --allow-net 10.20.0.0/16

  # clients in group qsafe (socket file group-owned by it, mode 0660), IPv4 and IPv6 links
  qsafe-xfrm-broker --socket-group qsafe --allow-gid 990 --allow-net 10.20.0.0/16,fd00:20::/64

  # from a file; leave the kernel state in place on exit (e.g. for an upgrade)
  QSAFE_XFRM_BROKER_KEEP_STATE=true qsafe-xfrm-broker --config /etc/qsafe/xfrm-broker.toml

  # least privilege: only CAP_NET_ADMIN, as a non-root user (systemd)
  #   AmbientCapabilities=CAP_NET_ADMIN  CapabilityBoundingSet=CAP_NET_ADMIN  NoNewPrivileges=yes

Config file (TOML; every key optional but allow-net, which a flag or env may give; flags and
QSAFE_XFRM_BROKER_* override it):
  socket = \"/run/qsafe/xfrm-broker.sock\"
  socket-group = \"qsafe\"          # name or gid; the socket file is mode 0660
  allow-uid = [1000]
  allow-gid = []
  allow-net = [\"10.20.0.0/16\"]    # both addresses of every link must be inside one
  policy-priority = 1000           # of the ESP-required policies (lower wins)
  keep-state = false

What it does: listens on a Unix stream socket; each client's SO_PEERCRED
uid/gid must be in --allow-uid/--allow-gid (if neither is given: uid 0 only);
requests (protocol v2, docs/xfrm-broker.md; v1 is refused) install/delete
ESP transport SAs (rfc4106(gcm(aes)), SCTP selectors) and ESP-required
policies for SCTP between two addresses inside --allow-net (one association's
ports, or any port), and read SA counters. Nothing
else: no other protocol, mode, algorithm or selector can be asked for, and
only SAs it installed itself can be read or deleted. On SIGTERM/SIGINT it
deletes everything it installed (unless --keep-state) and removes the socket.
Keys are never logged. Logs: RUST_LOG (default info) on stderr. Exit status
0, 1 on a runtime error, 2 for a usage error.";

/// Privileged XFRM broker of qsafe-ran: installs ESP SAs and policies for E2 links on behalf of unprivileged clients.
#[derive(Debug, Parser)]
#[command(name = "qsafe-xfrm-broker", version, after_help = EXAMPLES)]
struct Cli {
    /// Unix socket to listen on [default: /run/qsafe/xfrm-broker.sock].
    #[arg(long, env = "QSAFE_XFRM_BROKER_SOCKET", value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Group owning the socket file (name or gid); the file's mode is 0660.
    #[arg(long, env = "QSAFE_XFRM_BROKER_SOCKET_GROUP", value_name = "GROUP")]
    socket_group: Option<String>,
    /// Allowed client uid (repeat or comma-separate).
    #[arg(long = "allow-uid", env = "QSAFE_XFRM_BROKER_ALLOW_UID", value_name = "UID", value_delimiter = ',')]
    allow_uid: Option<Vec<u32>>,
    /// Allowed client gid (repeat or comma-separate).
    #[arg(long = "allow-gid", env = "QSAFE_XFRM_BROKER_ALLOW_GID", value_name = "GID", value_delimiter = ',')]
    allow_gid: Option<Vec<u32>>,
    /// Prefix the link addresses must be in (repeat or comma-separate; required).
    #[arg(long = "allow-net", env = "QSAFE_XFRM_BROKER_ALLOW_NET", value_name = "PREFIX", value_delimiter = ',')]
    allow_net: Option<Vec<String>>,
    /// Priority of the ESP-required policies (lower wins) [default: 1000].
    #[arg(long, env = "QSAFE_XFRM_BROKER_POLICY_PRIORITY", value_name = "N")]
    policy_priority: Option<u32>,
    /// Leave SAs and policies in the kernel on exit.
    #[arg(long, env = "QSAFE_XFRM_BROKER_KEEP_STATE", num_args = 0..=1, default_missing_value = "true")]
    keep_state: Option<bool>,
    /// TOML config file (see below).
    #[arg(long, env = "QSAFE_XFRM_BROKER_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    socket: Option<PathBuf>,
    socket_group: Option<toml_group::Group>,
    allow_uid: Option<Vec<u32>>,
    allow_gid: Option<Vec<u32>>,
    allow_net: Option<Vec<String>>,
    policy_priority: Option<u32>,
    keep_state: Option<bool>,
}

mod toml_group {
    /// A group as a name or a number.
    #[derive(Debug, serde::Deserialize)]
    #[serde(untagged)]
    pub enum Group {
        Id(u32),
        Name(String),
    }
}

#[derive(Debug)]
struct Settings {
    socket: PathBuf,
    socket_gid: Option<u32>,
    peers: PeerPolicy,
    allow: AllowList,
    priority: u32,
    keep_state: bool,
}

/// gid of a group name from /etc/group (or a number).
fn resolve_group(g: &str) -> Result<u32, ConfigError> {
    if let Ok(n) = g.parse::<u32>() {
        return Ok(n);
    }
    let groups =
        std::fs::read_to_string("/etc/group").map_err(|e| invalid("--socket-group", format!("/etc/group: {e}")))?;
    groups
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let gid = f.nth(1)?.parse::<u32>().ok()?;
            (name == g).then_some(gid)
        })
        .next()
        .ok_or_else(|| invalid("--socket-group", format!("no group {g} in /etc/group")))
}

impl Settings {
    fn resolve(cli: Cli) -> Result<Settings, ConfigError> {
        let file: FileConfig = match &cli.config {
            Some(p) => read_toml(p)?,
            None => FileConfig::default(),
        };
        let socket = cli.socket.or(file.socket).unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
        let socket_gid = match (cli.socket_group, file.socket_group) {
            (Some(g), _) => Some(resolve_group(&g)?),
            (None, Some(toml_group::Group::Id(n))) => Some(n),
            (None, Some(toml_group::Group::Name(g))) => Some(resolve_group(&g)?),
            (None, None) => None,
        };
        let mut peers = PeerPolicy {
            uids: cli.allow_uid.or(file.allow_uid).unwrap_or_default(),
            gids: cli.allow_gid.or(file.allow_gid).unwrap_or_default(),
        };
        if peers.uids.is_empty() && peers.gids.is_empty() {
            peers.uids.push(0);
        }
        let nets = cli.allow_net.or(file.allow_net).unwrap_or_default();
        if nets.is_empty() {
            return Err(invalid("--allow-net", "at least one prefix is required (e.g. --allow-net 10.20.0.0/16)"));
        }
        let nets = nets
            .iter()
            .map(|n| Prefix::parse(n))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("--allow-net", e))?;
        Ok(Settings {
            socket,
            socket_gid,
            peers,
            allow: AllowList { nets },
            priority: cli.policy_priority.or(file.policy_priority).unwrap_or(DEFAULT_POLICY_PRIORITY),
            keep_state: cli.keep_state.or(file.keep_state).unwrap_or(false),
        })
    }
}

/// Binds the socket: a stale socket file is replaced, anything else refused.
fn bind(path: &Path, gid: Option<u32>) -> Result<tokio::net::UnixListener, String> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(|e| format!("cannot remove stale socket {}: {e}", path.display()))?
        }
        Ok(_) => return Err(format!("{} exists and is not a socket", path.display())),
        Err(_) => {}
    }
    let l = tokio::net::UnixListener::bind(path).map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| format!("chmod 0660 {}: {e}", path.display()))?;
    if let Some(g) = gid {
        std::os::unix::fs::chown(path, None, Some(g)).map_err(|e| format!("chgrp {g} {}: {e}", path.display()))?;
    }
    Ok(l)
}

fn main() -> ExitCode {
    let settings = match Settings::resolve(Cli::parse()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("qsafe-xfrm-broker: error: {e}");
            eprintln!("Try 'qsafe-xfrm-broker --help' for the flags, the config file keys and examples.");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("qsafe-xfrm-broker: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let stop = StopSignals::install().map_err(|e| format!("cannot install signal handlers: {e}"))?;
        let plane = Arc::new(DirectNetlink::open(settings.priority).map_err(|e| format!("netlink XFRM socket: {e}"))?);
        let listener = bind(&settings.socket, settings.socket_gid)?;
        let nets: Vec<String> = settings.allow.nets.iter().map(ToString::to_string).collect();
        tracing::info!(
            socket = %settings.socket.display(),
            allow_uid = ?settings.peers.uids,
            allow_gid = ?settings.peers.gids,
            allow_net = ?nets,
            priority = settings.priority,
            "ready"
        );
        let served =
            server::run(listener, plane.clone(), Arc::new(settings.peers), Arc::new(settings.allow), stop.spawn(None))
                .await;
        let _ = std::fs::remove_file(&settings.socket);
        if settings.keep_state {
            let (sas, policies) = plane.installed();
            tracing::info!(sas, policies, "--keep-state: leaving SAs and policies in place");
        } else {
            let c = plane.cleanup();
            tracing::info!(sas = c.sas, policies = c.policies, failures = c.failures, "cleaned up");
            if c.failures > 0 {
                return Err(format!("{} objects could not be deleted", c.failures));
            }
        }
        served.map_err(|e| format!("accept: {e}"))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("qsafe-xfrm-broker: error: {e}");
            ExitCode::FAILURE
        }
    }
}
