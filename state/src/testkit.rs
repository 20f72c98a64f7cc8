//! Test helper: a real `nats-server -js` on a free loopback port with a
//! temporary store directory (feature `testkit`; used by this crate's and by
//! `qsafe-events`' tests).
//!
//! [`NatsServer::start`] waits until the server accepts connections (it polls
//! with a deadline, no fixed sleeps), [`NatsServer::kill`] and
//! [`NatsServer::start_again`] restart it on the same port with the same store
//! directory, and dropping it kills it. The binary is `$QSAFE_NATS_SERVER` or
//! `nats-server` on the `PATH` (also looked for in `/usr/sbin`, where Debian
//! installs it). When it is missing, [`NatsServer::start`] fails the test with a
//! clear message if `QSAFE_REQUIRE_NATS=1` (CI), and otherwise prints
//! `SKIPPED` and returns `None`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a start may take before the test fails.
const START_DEADLINE: Duration = Duration::from_secs(20);

/// A running `nats-server -js` (killed on drop).
#[derive(Debug)]
pub struct NatsServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    starts: u32,
    max_payload: usize,
}

/// The nats-server binary, if there is one (`$QSAFE_NATS_SERVER` when set,
/// even if it names no file: that is how a test run simulates its absence).
pub fn nats_server_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("QSAFE_NATS_SERVER") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

/// Whether tests must fail rather than skip without nats-server.
pub fn nats_required() -> bool {
    std::env::var("QSAFE_REQUIRE_NATS").is_ok_and(|v| v == "1")
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()).expect("no free loopback port").port()
}

impl NatsServer {
    /// Starts a server for test `test`; `None` (after printing `SKIPPED`) when
    /// there is no nats-server and `QSAFE_REQUIRE_NATS` is not `1`.
    ///
    /// # Panics
    /// When nats-server is missing and required, or does not come up.
    pub fn start(test: &str) -> Option<NatsServer> {
        Self::start_with_max_payload(test, 2 * 1024 * 1024)
    }

    /// [`start`](Self::start) with another `max_payload` (the default here is
    /// 2 MiB, room for the largest state value; the NATS default is 1 MiB).
    ///
    /// # Panics
    /// As [`start`](Self::start).
    pub fn start_with_max_payload(test: &str, max_payload: usize) -> Option<NatsServer> {
        let Some(bin) = nats_server_binary() else {
            assert!(
                !nats_required(),
                "{test}: nats-server not found (QSAFE_REQUIRE_NATS=1): install it (`apt-get install -y nats-server`) \
                 or point QSAFE_NATS_SERVER at the binary"
            );
            // Straight to stderr: the test harness captures print macros.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: nats-server not found (set QSAFE_REQUIRE_NATS=1 to make this a failure)"
            );
            return None;
        };
        let dir = tempfile::Builder::new().prefix("qsafe-nats-").tempdir().expect("temp dir");
        let mut server = NatsServer { bin, dir, port: 0, child: None, starts: 0, max_payload };
        // A free port can be taken by someone else between our probe and the
        // server's bind: try a few.
        for attempt in 0..5 {
            server.port = free_port();
            match server.spawn_and_wait() {
                Ok(()) => return Some(server),
                Err(e) if attempt < 4 => eprintln!("{test}: nats-server start failed ({e}), retrying on another port"),
                Err(e) => panic!("{test}: nats-server did not start: {e}"),
            }
        }
        unreachable!()
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory.
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// Whether the server is running (as far as this handle knows).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server (SIGKILL: no graceful shutdown, as in a crash) and
    /// waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same store directory.
    ///
    /// # Panics
    /// When it does not come up.
    pub fn start_again(&mut self) {
        self.kill();
        self.spawn_and_wait().expect("nats-server restart");
    }

    /// [`kill`](Self::kill) then [`start_again`](Self::start_again).
    pub fn restart(&mut self) {
        self.kill();
        self.start_again();
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("nats-{}.log", self.starts))
    }

    fn spawn_and_wait(&mut self) -> Result<(), String> {
        self.starts += 1;
        let conf = self.dir.path().join("nats.conf");
        let text = format!(
            "listen: \"127.0.0.1:{}\"\nmax_payload: {}\njetstream {{\n  store_dir: \"{}\"\n}}\n",
            self.port,
            self.max_payload,
            self.store_dir().display()
        );
        std::fs::write(&conf, text).map_err(|e| format!("writing {}: {e}", conf.display()))?;
        let log = std::fs::File::create(self.log_path()).map_err(|e| format!("log file: {e}"))?;
        let log2 = log.try_clone().map_err(|e| format!("log file: {e}"))?;
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                return Err(format!("exited with {status}: {}", self.log_tail()));
            }
            if self.answers_info() {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(format!("not accepting connections after {START_DEADLINE:?}: {}", self.log_tail()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Connects and reads the server's `INFO` line (the client port is opened
    /// after JetStream has been enabled and its streams recovered).
    fn answers_info(&self) -> bool {
        let Ok(stream) = TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, self.port).into(), Duration::from_secs(1))
        else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).is_ok()
            && line.starts_with("INFO ")
            && line.contains("\"jetstream\"")
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// The temporary directory holding the store, configuration and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
