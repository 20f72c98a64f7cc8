//! `xfrm_check`: a small client of `qsafe-xfrm-broker` for the kernel tier
//! (`tests/kernel/cases/50-xfrm-*.sh`) and for trying the broker by hand.
//!
//! ```text
//! xfrm_check --socket /run/b.sock ping --wait 10
//! xfrm_check --socket S install  --local A --peer B --reqid 7 --dir out --spi 0x1001 --key <72 hex digits>
//! xfrm_check --socket S counters --local A --peer B --reqid 7 --dir out --spi 0x1001 [--min-packets 1 --wait 10]
//! xfrm_check --socket S delete   --local A --peer B --reqid 7 --dir out --spi 0x1001
//! xfrm_check --socket S require-esp|release-esp|delete-all --local A --peer B --reqid 7
//! ```
//!
//! Every link takes `--local-port P --peer-port Q` (SCTP ports, default 0 =
//! any port: the host-wide link) to address one association.
//!
//! Exit status: 0 done, 1 failed, 3 refused by the broker (peer credentials
//! or policy), 4 no such SA.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use qsafe_xfrm::{BrokerClient, DataPlane, DataPlaneError, Direction, Lifetime, Link, SaRequest};
use zeroize::Zeroizing;

#[derive(Parser, Debug)]
#[command(about = "client of qsafe-xfrm-broker (kernel tier checks)")]
struct Cli {
    /// The broker's socket.
    #[arg(long)]
    socket: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Debug, Clone, Copy)]
struct LinkArgs {
    #[arg(long)]
    local: IpAddr,
    #[arg(long)]
    peer: IpAddr,
    #[arg(long)]
    reqid: u32,
    /// This host's SCTP port of the association (0 = any).
    #[arg(long, default_value_t = 0)]
    local_port: u16,
    /// The peer's SCTP port (0 = any).
    #[arg(long, default_value_t = 0)]
    peer_port: u16,
}

impl LinkArgs {
    fn link(&self) -> Link {
        Link::host(self.local, self.peer, self.reqid).with_ports(self.local_port, self.peer_port)
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Dir {
    In,
    Out,
}

impl From<Dir> for Direction {
    fn from(d: Dir) -> Self {
        match d {
            Dir::In => Direction::Inbound,
            Dir::Out => Direction::Outbound,
        }
    }
}

fn spi(s: &str) -> Result<u32, String> {
    match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    }
    .map_err(|e| format!("{s}: {e}"))
}

#[derive(Args, Debug, Clone, Copy)]
struct SaArgs {
    #[command(flatten)]
    link: LinkArgs,
    #[arg(long)]
    dir: Dir,
    #[arg(long, value_parser = spi)]
    spi: u32,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Ping the broker, retrying the connection for up to --wait seconds.
    Ping {
        #[arg(long, default_value_t = 0.0)]
        wait: f64,
    },
    /// Install one SA.
    Install {
        #[command(flatten)]
        sa: SaArgs,
        /// 36 bytes as 72 hex digits (AES-256 key ‖ salt).
        #[arg(long)]
        key: String,
        #[arg(long, default_value_t = qsafe_xfrm::DEFAULT_REPLAY_WINDOW)]
        replay_window: u32,
        #[arg(long)]
        soft_bytes: Option<u64>,
        #[arg(long)]
        hard_bytes: Option<u64>,
    },
    /// Delete one SA.
    Delete {
        #[command(flatten)]
        sa: SaArgs,
    },
    /// Print an SA's counters; with --min-packets, wait until it has carried that many.
    Counters {
        #[command(flatten)]
        sa: SaArgs,
        #[arg(long, default_value_t = 0)]
        min_packets: u64,
        #[arg(long, default_value_t = 10.0)]
        wait: f64,
    },
    /// Install the ESP-required policy pair.
    RequireEsp {
        #[command(flatten)]
        link: LinkArgs,
    },
    /// Remove it.
    ReleaseEsp {
        #[command(flatten)]
        link: LinkArgs,
    },
    /// Delete every SA of the link.
    DeleteAll {
        #[command(flatten)]
        link: LinkArgs,
    },
}

async fn run(cli: Cli) -> Result<(), DataPlaneError> {
    let c = match &cli.cmd {
        Cmd::Ping { wait } => BrokerClient::connect_with_retry(&cli.socket, Duration::from_secs_f64(*wait)).await?,
        _ => BrokerClient::connect(&cli.socket).await?,
    };
    match cli.cmd {
        Cmd::Ping { .. } => c.ping().await?,
        Cmd::Install { sa, key, replay_window, soft_bytes, hard_bytes } => {
            let bytes =
                Zeroizing::new(hex::decode(key.trim()).map_err(|e| DataPlaneError::Invalid(format!("--key: {e}")))?);
            let mut keymat = Zeroizing::new([0u8; qsafe_xfrm::KEYMAT_LEN]);
            if bytes.len() != keymat.len() {
                return Err(DataPlaneError::Invalid(format!("--key: {} bytes, expected 36", bytes.len())));
            }
            keymat.copy_from_slice(&bytes);
            let mut req = SaRequest::new(sa.link.link(), sa.dir.into(), sa.spi, keymat);
            req.replay_window = replay_window;
            req.lifetime = Lifetime {
                soft_bytes: soft_bytes.unwrap_or(u64::MAX),
                hard_bytes: hard_bytes.unwrap_or(u64::MAX),
                ..Lifetime::UNLIMITED
            };
            c.install_sa(req).await?;
        }
        Cmd::Delete { sa } => c.delete_sa(sa.link.link(), sa.dir.into(), sa.spi).await?,
        Cmd::Counters { sa, min_packets, wait } => {
            let until = Instant::now() + Duration::from_secs_f64(wait);
            loop {
                let n = c.sa_counters(sa.link.link(), sa.dir.into(), sa.spi).await?;
                if n.packets >= min_packets {
                    println!(
                        "spi={:#x} dir={} bytes={} packets={} add_time={}",
                        sa.spi,
                        Direction::from(sa.dir),
                        n.bytes,
                        n.packets,
                        n.add_time
                    );
                    break;
                }
                if Instant::now() >= until {
                    println!("spi={:#x} bytes={} packets={}", sa.spi, n.bytes, n.packets);
                    return Err(DataPlaneError::Io(format!("fewer than {min_packets} packets after {wait} s")));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Cmd::RequireEsp { link } => c.require_esp(link.link()).await?,
        Cmd::ReleaseEsp { link } => c.release_esp(link.link()).await?,
        Cmd::DeleteAll { link } => {
            let n = c.delete_all(link.link()).await?;
            println!("deleted {n} SAs");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("xfrm_check: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xfrm_check: {e}");
            match e {
                DataPlaneError::Refused(_) => ExitCode::from(3),
                DataPlaneError::NotFound { .. } => ExitCode::from(4),
                _ => ExitCode::FAILURE,
            }
        }
    }
}
