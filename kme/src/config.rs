//! Command line, config file and environment of `qsafe-kme`, merged into
//! [`ServeSettings`] / [`DemoPkiSettings`]. Precedence: command-line flag >
//! `QSAFE_KME_*` environment variable > `--config` TOML file > built-in
//! default. Everything is checked here, before a socket is opened, so a bad
//! setting is one clear error and nothing starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use qsafe_config::{invalid, read_toml};
use serde::Deserialize;

use crate::identity::{SaeIdSource, validate_id};

pub use qsafe_config::ConfigError;

const EXAMPLES: &str = "\
An example session (three shells; curl 7.x+ with OpenSSL):

  # 1. a demo PKI: ML-DSA-65 CA, server certificates for kme-a and kme-b,
  #    client certificates for the SAEs ric-xapp and e2node-1
  qsafe-kme demo-pki --out ./pki

  # 2. the KME pair: KME A on 8443, KME B on 8444, admin/metrics on 9180
  qsafe-kme serve --pki-dir ./pki

  # 3. ric-xapp (master, site A) asks KME A for two keys shared with e2node-1
  curl --cacert pki/ca.pem --cert pki/sae-ric-xapp.pem --key pki/sae-ric-xapp.key \\
       https://localhost:8443/api/v1/keys/e2node-1/status
  curl --cacert pki/ca.pem --cert pki/sae-ric-xapp.pem --key pki/sae-ric-xapp.key \\
       -H 'Content-Type: application/json' -d '{\"number\": 2, \"size\": 256}' \\
       https://localhost:8443/api/v1/keys/e2node-1/enc_keys
  #    e2node-1 (slave, site B) gets the same key from KME B by its key_ID
  curl --cacert pki/ca.pem --cert pki/sae-e2node-1.pem --key pki/sae-e2node-1.key \\
       'https://localhost:8444/api/v1/keys/ric-xapp/dec_keys?key_ID=<key_ID from above>'

  # faults and metrics (plain HTTP, loopback only)
  curl -X POST localhost:9180/admin/link/down      # no new keys
  curl -X POST localhost:9180/admin/drain          # empty both pools
  curl -X POST 'localhost:9180/admin/latency?ms=250'
  curl -X POST 'localhost:9180/admin/fail?count=5' # next 5 API requests get 503
  curl localhost:9180/admin/state
  curl localhost:9180/metrics

  The ML-DSA certificates need a TLS stack that speaks ML-DSA (rustls, OpenSSL
  3.5+). For older stacks: qsafe-kme demo-pki --out ./pki --algorithm ecdsa-p256

Config file (TOML; every key optional, names as the long flags of `serve`):
  listen-a = \"127.0.0.1:8443\"
  listen-b = \"127.0.0.1:8444\"
  admin-listen = \"127.0.0.1:9180\"
  pki-dir = \"/etc/qsafe-kme/pki\"
  sae-id-source = \"cn\"          # or \"san-dns\", \"san-uri\"
  sae-a = [\"ric-xapp\"]           # SAEs attached to KME A (absent: any SAE the CA certified)
  sae-b = [\"e2node-1\"]
  tls-kx = \"hybrid-preferred\"   # or \"pq-only\", \"classical-only\"
  tls-auth = \"any\"              # or \"ml-dsa-only\"
  key-size = 256
  secret-key-rate = \"1M\"        # bit/s: 10k ~ 100 km fibre, 1M ~ 20 km
  max-key-count = 100000

Logs: RUST_LOG (default info) on stderr; no key material is ever logged.
Exit status: 0 after a signal-initiated shutdown, 1 on a runtime error,
2 on a usage or configuration error.";

/// Top-level command line.
#[derive(Debug, Parser)]
#[command(
    name = "qsafe-kme",
    version,
    about = "An ETSI GS QKD 014 KME-pair simulator: one QKD link, two HTTPS KMEs with mutual TLS",
    long_about = "An ETSI GS QKD 014 KME-pair simulator. One process runs one QKD link between \
two sites: KME A and KME B, each with its own HTTPS listener (mutual TLS; the calling SAE is \
identified by its client certificate), sharing a key pool filled at a configurable secret key \
rate. Faults (link down, drain, latency, 503 bursts) are injected at run time over a loopback \
admin endpoint, which also serves Prometheus metrics.",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the KME pair (generates a throw-away demo PKI if none is configured).
    #[command(after_help = EXAMPLES)]
    Serve(Box<ServeArgs>),
    /// Write a demo PKI (CA, KME server certificates, SAE client certificates) as PEM files.
    DemoPki(DemoPkiArgs),
}

/// Key exchange groups the KMEs' TLS offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KxPolicy {
    /// X25519MLKEM768 first, classical groups as fallback for older clients.
    #[default]
    HybridPreferred,
    /// Only post-quantum (hybrid) groups; TLS 1.3 only.
    PqOnly,
    /// Only classical groups (for comparison runs).
    ClassicalOnly,
}

/// Signature algorithms the KMEs accept in client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthPolicy {
    /// ML-DSA and classical (ECDSA, Ed25519, RSA) certificates.
    #[default]
    Any,
    /// ML-DSA certificates only.
    MlDsaOnly,
}

/// Where the SAE ID is read from in a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SaeIdFrom {
    /// Subject common name.
    #[default]
    Cn,
    /// The single DNS subject alternative name.
    SanDns,
    /// The single URI subject alternative name (see --sae-id-uri-prefix).
    SanUri,
}

/// Signature algorithm of the demo PKI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PkiAlgorithm {
    /// ML-DSA-65 (FIPS 204) everywhere.
    #[default]
    MlDsa65,
    /// ECDSA P-256 everywhere, for TLS stacks without ML-DSA (OpenSSL < 3.5).
    EcdsaP256,
}

/// `qsafe-kme serve` flags (each also settable by `QSAFE_KME_<NAME>` and in the config file).
#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// TOML config file (keys as these long flags; flags and QSAFE_KME_* override it).
    #[arg(long, env = "QSAFE_KME_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// HTTPS address of KME A [default: 127.0.0.1:8443]. Port 0 picks a free port.
    #[arg(long, env = "QSAFE_KME_LISTEN_A", value_name = "ADDR")]
    pub listen_a: Option<SocketAddr>,
    /// HTTPS address of KME B [default: 127.0.0.1:8444].
    #[arg(long, env = "QSAFE_KME_LISTEN_B", value_name = "ADDR")]
    pub listen_b: Option<SocketAddr>,
    /// Plain-HTTP admin and /metrics address [default: 127.0.0.1:9180]. It has no
    /// authentication: a non-loopback address also needs --admin-allow-remote.
    #[arg(long, env = "QSAFE_KME_ADMIN_LISTEN", value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,
    /// Allow a non-loopback --admin-listen (anyone reaching it can take the link down or drain the pool).
    #[arg(long, env = "QSAFE_KME_ADMIN_ALLOW_REMOTE")]
    pub admin_allow_remote: bool,
    /// Directory laid out by `qsafe-kme demo-pki` (ca.pem, kme-a.pem/.key, kme-b.pem/.key)
    /// [default: generate a fresh demo PKI in a new temporary directory and print where].
    #[arg(long, env = "QSAFE_KME_PKI_DIR", value_name = "DIR")]
    pub pki_dir: Option<PathBuf>,
    /// CA certificate(s) (PEM) that client certificates must chain to [default: PKI_DIR/ca.pem].
    #[arg(long, env = "QSAFE_KME_CLIENT_CA", value_name = "FILE")]
    pub client_ca: Option<PathBuf>,
    /// KME A certificate chain (PEM) [default: PKI_DIR/kme-a.pem]; its subject CN is KME A's ID.
    #[arg(long, env = "QSAFE_KME_CERT_A", value_name = "FILE")]
    pub cert_a: Option<PathBuf>,
    /// KME A private key (PEM, PKCS#8) [default: PKI_DIR/kme-a.key].
    #[arg(long, env = "QSAFE_KME_KEY_A", value_name = "FILE")]
    pub key_a: Option<PathBuf>,
    /// KME B certificate chain (PEM) [default: PKI_DIR/kme-b.pem].
    #[arg(long, env = "QSAFE_KME_CERT_B", value_name = "FILE")]
    pub cert_b: Option<PathBuf>,
    /// KME B private key (PEM, PKCS#8) [default: PKI_DIR/kme-b.key].
    #[arg(long, env = "QSAFE_KME_KEY_B", value_name = "FILE")]
    pub key_b: Option<PathBuf>,
    /// Expected KME ID of KME A: must equal its certificate's CN; names the
    /// certificate when a PKI is generated [default: the CN; kme-a when generating].
    #[arg(long, env = "QSAFE_KME_KME_ID_A", value_name = "ID")]
    pub kme_id_a: Option<String>,
    /// Expected KME ID of KME B [default: the CN; kme-b when generating].
    #[arg(long, env = "QSAFE_KME_KME_ID_B", value_name = "ID")]
    pub kme_id_b: Option<String>,
    /// SAEs attached to KME A, comma-separated; others get 401 there [default: any SAE
    /// with a certificate from the client CA]. Also the client certificates of a generated PKI.
    #[arg(long, env = "QSAFE_KME_SAE_A", value_name = "IDS", value_delimiter = ',')]
    pub sae_a: Option<Vec<String>>,
    /// SAEs attached to KME B, comma-separated [default: any SAE].
    #[arg(long, env = "QSAFE_KME_SAE_B", value_name = "IDS", value_delimiter = ',')]
    pub sae_b: Option<Vec<String>>,
    /// Where the SAE ID is read from in the client certificate [default: cn].
    #[arg(long, env = "QSAFE_KME_SAE_ID_SOURCE", value_enum)]
    pub sae_id_source: Option<SaeIdFrom>,
    /// With --sae-id-source san-uri: only URIs with this prefix count, and the
    /// prefix is removed (e.g. spiffe://ran.example/sae/) [default: none].
    #[arg(long, env = "QSAFE_KME_SAE_ID_URI_PREFIX", value_name = "PREFIX")]
    pub sae_id_uri_prefix: Option<String>,
    /// TLS key exchange groups offered [default: hybrid-preferred].
    #[arg(long, env = "QSAFE_KME_TLS_KX", value_enum)]
    pub tls_kx: Option<KxPolicy>,
    /// Client certificate signature algorithms accepted [default: any].
    #[arg(long, env = "QSAFE_KME_TLS_AUTH", value_enum)]
    pub tls_auth: Option<AuthPolicy>,
    /// Default key size in bits (status `key_size`) [default: 256].
    #[arg(long, env = "QSAFE_KME_KEY_SIZE", value_name = "BITS")]
    pub key_size: Option<u32>,
    /// Smallest key size a request may ask for, bits [default: 64].
    #[arg(long, env = "QSAFE_KME_MIN_KEY_SIZE", value_name = "BITS")]
    pub min_key_size: Option<u32>,
    /// Largest key size a request may ask for, bits [default: 1024].
    #[arg(long, env = "QSAFE_KME_MAX_KEY_SIZE", value_name = "BITS")]
    pub max_key_size: Option<u32>,
    /// Pool bound: most keys of key-size bits stored (status `max_key_count`);
    /// key generated while the pool is full is lost, as on a real link [default: 100000].
    #[arg(long, env = "QSAFE_KME_MAX_KEY_COUNT", value_name = "N")]
    pub max_key_count: Option<u64>,
    /// Keys of key-size bits in the pool at start [default: 0, the pool fills at the secret key rate].
    #[arg(long, env = "QSAFE_KME_INITIAL_KEY_COUNT", value_name = "N")]
    pub initial_key_count: Option<u64>,
    /// Most keys issued by enc_keys and not yet fetched by their slave; the
    /// oldest are dropped past this [default: 100000].
    #[arg(long, env = "QSAFE_KME_MAX_PENDING_KEYS", value_name = "N")]
    pub max_pending_keys: Option<u64>,
    /// Most keys per enc_keys/dec_keys request [default: 128].
    #[arg(long, env = "QSAFE_KME_MAX_KEY_PER_REQUEST", value_name = "N")]
    pub max_key_per_request: Option<u32>,
    /// Most additional_slave_SAE_IDs per request; 0 = no multicast [default: 0].
    #[arg(long, env = "QSAFE_KME_MAX_SAE_ID_COUNT", value_name = "N")]
    pub max_sae_id_count: Option<u32>,
    /// Secret key rate of the simulated QKD link, bit/s; k/M/G suffixes
    /// (10k ~ 100 km of fibre, 1M ~ 20 km) [default: 1M].
    #[arg(long, env = "QSAFE_KME_SECRET_KEY_RATE", value_name = "BPS", value_parser = parse_rate)]
    pub secret_key_rate: Option<u64>,
    /// Seed the key generator: reproducible keys FOR TESTS ONLY (they are not secret)
    /// [default: operating-system randomness].
    #[arg(long, env = "QSAFE_KME_SEED", value_name = "N")]
    pub seed: Option<u64>,
    /// Largest accepted request body, bytes [default: 65536].
    #[arg(long, env = "QSAFE_KME_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Most simultaneous HTTPS connections per KME [default: 256].
    #[arg(long, env = "QSAFE_KME_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Time allowed for a TLS handshake, seconds [default: 10].
    #[arg(long, env = "QSAFE_KME_HANDSHAKE_TIMEOUT", value_name = "SECS")]
    pub handshake_timeout: Option<f64>,
    /// A connection is closed when no complete request header arrives within
    /// this many seconds: the keep-alive idle time, and the bound on slow
    /// headers [default: 60].
    #[arg(long, env = "QSAFE_KME_IDLE_TIMEOUT", value_name = "SECS")]
    pub idle_timeout: Option<f64>,
}

/// `qsafe-kme demo-pki` flags.
#[derive(Debug, Args)]
pub struct DemoPkiArgs {
    /// Output directory (created, mode 0700; existing PKI files are not overwritten without --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Signature algorithm of every certificate [default: ml-dsa-65].
    #[arg(long, value_enum, default_value_t)]
    pub algorithm: PkiAlgorithm,
    /// KME ID of KME A (CN of its server certificate).
    #[arg(long, default_value = "kme-a", value_name = "ID")]
    pub kme_id_a: String,
    /// KME ID of KME B.
    #[arg(long, default_value = "kme-b", value_name = "ID")]
    pub kme_id_b: String,
    /// SAE IDs to issue client certificates for (CN = ID, DNS SAN = ID,
    /// URI SAN = urn:qsafe:sae:ID), comma-separated or repeated.
    #[arg(long = "sae", value_name = "ID", value_delimiter = ',', default_values = ["ric-xapp", "e2node-1"])]
    pub sae: Vec<String>,
    /// Extra DNS names for both KME server certificates (localhost is always in).
    #[arg(long = "dns", value_name = "NAME", value_delimiter = ',')]
    pub dns: Vec<String>,
    /// Extra IP addresses for both KME server certificates (127.0.0.1 and ::1 are always in).
    #[arg(long = "ip", value_name = "ADDR", value_delimiter = ',')]
    pub ip: Vec<std::net::IpAddr>,
    /// Certificate validity, days.
    #[arg(long, default_value_t = 365, value_name = "DAYS")]
    pub validity_days: u32,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

/// Parses `1000`, `10k`, `1.5M`, `2G` (decimal multipliers) as bit/s.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1e3),
        Some((i, 'm' | 'M')) => (&t[..i], 1e6),
        Some((i, 'g' | 'G')) => (&t[..i], 1e9),
        _ => (t, 1.0),
    };
    let v: f64 = num.trim().parse().map_err(|_| format!("{s:?}: expected bit/s such as 10000, 10k, 1.5M"))?;
    let bps = v * mult;
    if !(bps.is_finite() && (1.0..=1e12).contains(&bps)) {
        return Err(format!("{s:?}: expected 1 bit/s ..= 1 Tbit/s"));
    }
    Ok(bps.round() as u64)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum FileRate {
    Number(u64),
    Text(String),
}

/// The config file's keys (all optional; kebab-case like the flags).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    listen_a: Option<SocketAddr>,
    listen_b: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
    admin_allow_remote: Option<bool>,
    pki_dir: Option<PathBuf>,
    client_ca: Option<PathBuf>,
    cert_a: Option<PathBuf>,
    key_a: Option<PathBuf>,
    cert_b: Option<PathBuf>,
    key_b: Option<PathBuf>,
    kme_id_a: Option<String>,
    kme_id_b: Option<String>,
    sae_a: Option<Vec<String>>,
    sae_b: Option<Vec<String>>,
    sae_id_source: Option<SaeIdFrom>,
    sae_id_uri_prefix: Option<String>,
    tls_kx: Option<KxPolicy>,
    tls_auth: Option<AuthPolicy>,
    key_size: Option<u32>,
    min_key_size: Option<u32>,
    max_key_size: Option<u32>,
    max_key_count: Option<u64>,
    initial_key_count: Option<u64>,
    max_pending_keys: Option<u64>,
    max_key_per_request: Option<u32>,
    max_sae_id_count: Option<u32>,
    secret_key_rate: Option<FileRate>,
    seed: Option<u64>,
    max_body_bytes: Option<usize>,
    max_connections: Option<usize>,
    handshake_timeout: Option<f64>,
    idle_timeout: Option<f64>,
}

/// The parameters of the simulated link (the status fields of ETSI 014 §6.1
/// plus the generator's rate and seed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkParams {
    /// Default key size, bits.
    pub key_size: u32,
    /// Smallest key size, bits.
    pub min_key_size: u32,
    /// Largest key size, bits.
    pub max_key_size: u32,
    /// Pool bound (keys of `key_size`).
    pub max_key_count: u64,
    /// Most keys per request.
    pub max_key_per_request: u32,
    /// Most additional slave SAEs (0: no multicast).
    pub max_sae_id_count: u32,
    /// Secret key rate, bit/s.
    pub secret_key_rate_bps: u64,
    /// Deterministic generator seed (tests only).
    pub seed: Option<u64>,
    /// Keys (of `key_size` bits) in the pool at start.
    pub initial_key_count: u64,
    /// Most keys issued to masters and not yet fetched by their slaves;
    /// older ones are evicted past this.
    pub max_pending_keys: u64,
}

impl Default for LinkParams {
    fn default() -> Self {
        Self {
            key_size: 256,
            min_key_size: 64,
            max_key_size: 1024,
            max_key_count: 100_000,
            max_key_per_request: 128,
            max_sae_id_count: 0,
            secret_key_rate_bps: 1_000_000,
            seed: None,
            initial_key_count: 0,
            max_pending_keys: 100_000,
        }
    }
}

impl LinkParams {
    /// The link model's configuration with these parameters.
    pub fn link_config(&self, kme_ids: [String; 2]) -> qsafe_qkd::kme::LinkConfig {
        qsafe_qkd::kme::LinkConfig {
            kme_ids,
            key_size: self.key_size,
            min_key_size: self.min_key_size,
            max_key_size: self.max_key_size,
            max_key_count: self.max_key_count,
            max_key_per_request: self.max_key_per_request,
            max_sae_id_count: self.max_sae_id_count,
            secret_key_rate_bps: self.secret_key_rate_bps,
            seed: self.seed,
            initial_key_count: self.initial_key_count,
            max_pending_keys: self.max_pending_keys,
        }
    }

    /// Checks the constraints of ETSI 014 and of the link model between the
    /// fields, plus two of the HTTP edge: a key of `max-key-size` must fit a
    /// response comfortably, and multicast lists stay short.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.link_config(["A".into(), "B".into()])
            .validate()
            .map_err(|e| invalid("link parameters", format!("{e} (flags use - for _)")))?;
        if self.max_key_size > 1 << 20 {
            return Err(invalid("--max-key-size", format!("{}: at most 1048576 bits", self.max_key_size)));
        }
        if self.max_sae_id_count > 64 {
            return Err(invalid("--max-sae-id-count", format!("{}: at most 64", self.max_sae_id_count)));
        }
        if self.initial_key_count > self.max_key_count {
            return Err(invalid(
                "initial-key-count",
                format!("{}: more than max-key-count ({})", self.initial_key_count, self.max_key_count),
            ));
        }
        Ok(())
    }
}

/// Where the TLS material comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PkiSource {
    /// PEM files on disk.
    Files(PkiFiles),
    /// Generate a demo PKI into a fresh temporary directory at start.
    Generate,
}

/// PEM files of the two KMEs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiFiles {
    /// CA bundle that client certificates must chain to.
    pub client_ca: PathBuf,
    /// KME A chain.
    pub cert_a: PathBuf,
    /// KME A key.
    pub key_a: PathBuf,
    /// KME B chain.
    pub cert_b: PathBuf,
    /// KME B key.
    pub key_b: PathBuf,
}

impl PkiFiles {
    /// The `demo-pki` layout under `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            client_ca: dir.join(crate::pki::CA_CERT),
            cert_a: dir.join(crate::pki::KME_A_CERT),
            key_a: dir.join(crate::pki::KME_A_KEY),
            cert_b: dir.join(crate::pki::KME_B_CERT),
            key_b: dir.join(crate::pki::KME_B_KEY),
        }
    }
}

/// TLS policy of both KME listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TlsPolicy {
    /// Key exchange.
    pub kx: KxPolicy,
    /// Client certificate algorithms.
    pub auth: AuthPolicy,
}

/// Connection limits of the HTTPS listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body (bytes).
    pub max_body_bytes: usize,
    /// Most simultaneous connections per KME.
    pub max_connections: usize,
    /// TLS handshake timeout.
    pub handshake_timeout: Duration,
    /// Keep-alive idle and request-header timeout.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            max_connections: 256,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Everything `serve` needs, resolved and checked.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// HTTPS addresses of KME A and KME B.
    pub listen: [SocketAddr; 2],
    /// Admin and metrics address.
    pub admin_listen: SocketAddr,
    /// TLS material.
    pub pki: PkiSource,
    /// Expected KME IDs of A and B (`None`: take the certificate CN).
    pub kme_ids: [Option<String>; 2],
    /// SAEs attached to A and B (`None`: any SAE the client CA certified).
    pub attached_saes: [Option<Vec<String>>; 2],
    /// SAE ID source.
    pub sae_id_source: SaeIdSource,
    /// TLS policy.
    pub tls: TlsPolicy,
    /// Link parameters.
    pub link: LinkParams,
    /// Connection limits.
    pub limits: Limits,
}

impl Default for ServeSettings {
    /// The embedded defaults: loopback listeners on fixed ports, a generated PKI.
    fn default() -> Self {
        Self {
            listen: [SocketAddr::from(([127, 0, 0, 1], 8443)), SocketAddr::from(([127, 0, 0, 1], 8444))],
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 9180)),
            pki: PkiSource::Generate,
            kme_ids: [None, None],
            attached_saes: [None, None],
            sae_id_source: SaeIdSource::CommonName,
            tls: TlsPolicy::default(),
            link: LinkParams::default(),
            limits: Limits::default(),
        }
    }
}

fn id_list(what: &'static str, ids: Option<Vec<String>>) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(ids) = ids else { return Ok(None) };
    let ids: Vec<String> = ids.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    if ids.is_empty() {
        return Err(invalid(what, "an empty list would refuse every SAE; leave it out to accept any"));
    }
    for id in &ids {
        validate_id(id).map_err(|e| invalid(what, e.to_string()))?;
    }
    Ok(Some(ids))
}

impl ServeSettings {
    /// Merges flags/environment (already in `args`) over the config file over defaults, and checks.
    pub fn resolve(args: ServeArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => read_toml::<FileConfig>(path)?,
            None => FileConfig::default(),
        };
        let d = Self::default();
        let listen = [
            args.listen_a.or(file.listen_a).unwrap_or(d.listen[0]),
            args.listen_b.or(file.listen_b).unwrap_or(d.listen[1]),
        ];
        if listen[0] == listen[1] && listen[0].port() != 0 {
            return Err(invalid("--listen-b", format!("{}: KME A and KME B need different addresses", listen[1])));
        }
        let admin_listen = args.admin_listen.or(file.admin_listen).unwrap_or(d.admin_listen);
        let allow_remote = args.admin_allow_remote || file.admin_allow_remote.unwrap_or(false);
        if !admin_listen.ip().is_loopback() && !allow_remote {
            return Err(invalid(
                "--admin-listen",
                format!(
                    "{admin_listen} is not a loopback address; the admin endpoint has no authentication \
                     (anyone reaching it can take the link down), add --admin-allow-remote to accept that"
                ),
            ));
        }
        if listen.contains(&admin_listen) && admin_listen.port() != 0 {
            return Err(invalid("--admin-listen", format!("{admin_listen} is also a KME listener")));
        }

        let pki_dir = args.pki_dir.or(file.pki_dir);
        let client_ca = args.client_ca.or(file.client_ca);
        let cert_a = args.cert_a.or(file.cert_a);
        let key_a = args.key_a.or(file.key_a);
        let cert_b = args.cert_b.or(file.cert_b);
        let key_b = args.key_b.or(file.key_b);
        let pki = match pki_dir {
            Some(dir) => {
                let base = PkiFiles::in_dir(&dir);
                PkiSource::Files(PkiFiles {
                    client_ca: client_ca.unwrap_or(base.client_ca),
                    cert_a: cert_a.unwrap_or(base.cert_a),
                    key_a: key_a.unwrap_or(base.key_a),
                    cert_b: cert_b.unwrap_or(base.cert_b),
                    key_b: key_b.unwrap_or(base.key_b),
                })
            }
            None => match (client_ca, cert_a, key_a, cert_b, key_b) {
                (None, None, None, None, None) => PkiSource::Generate,
                (Some(client_ca), Some(cert_a), Some(key_a), Some(cert_b), Some(key_b)) => {
                    PkiSource::Files(PkiFiles { client_ca, cert_a, key_a, cert_b, key_b })
                }
                _ => {
                    return Err(invalid(
                        "PKI files",
                        "without --pki-dir, give all of --client-ca, --cert-a, --key-a, --cert-b, --key-b \
                         (or none, to generate a demo PKI)",
                    ));
                }
            },
        };

        let kme_ids = [args.kme_id_a.or(file.kme_id_a), args.kme_id_b.or(file.kme_id_b)];
        for (what, id) in [("--kme-id-a", &kme_ids[0]), ("--kme-id-b", &kme_ids[1])] {
            if let Some(id) = id {
                validate_id(id).map_err(|e| invalid(what, e.to_string()))?;
            }
        }
        if kme_ids[0].is_some() && kme_ids[0] == kme_ids[1] {
            return Err(invalid("--kme-id-b", "KME A and KME B need different IDs"));
        }
        let attached_saes =
            [id_list("--sae-a", args.sae_a.or(file.sae_a))?, id_list("--sae-b", args.sae_b.or(file.sae_b))?];

        let uri_prefix = args.sae_id_uri_prefix.or(file.sae_id_uri_prefix);
        let sae_id_source = match args.sae_id_source.or(file.sae_id_source).unwrap_or_default() {
            SaeIdFrom::Cn => SaeIdSource::CommonName,
            SaeIdFrom::SanDns => SaeIdSource::SanDns,
            SaeIdFrom::SanUri => SaeIdSource::SanUri { prefix: uri_prefix.clone().unwrap_or_default() },
        };
        if uri_prefix.is_some() && !matches!(sae_id_source, SaeIdSource::SanUri { .. }) {
            return Err(invalid("--sae-id-uri-prefix", "only meaningful with --sae-id-source san-uri"));
        }

        let tls = TlsPolicy {
            kx: args.tls_kx.or(file.tls_kx).unwrap_or_default(),
            auth: args.tls_auth.or(file.tls_auth).unwrap_or_default(),
        };

        let secret_key_rate_bps = match (args.secret_key_rate, file.secret_key_rate) {
            (Some(r), _) => r,
            (None, Some(FileRate::Number(n))) => {
                parse_rate(&n.to_string()).map_err(|e| invalid("secret-key-rate", e))?
            }
            (None, Some(FileRate::Text(s))) => parse_rate(&s).map_err(|e| invalid("secret-key-rate", e))?,
            (None, None) => d.link.secret_key_rate_bps,
        };
        let link = LinkParams {
            key_size: args.key_size.or(file.key_size).unwrap_or(d.link.key_size),
            min_key_size: args.min_key_size.or(file.min_key_size).unwrap_or(d.link.min_key_size),
            max_key_size: args.max_key_size.or(file.max_key_size).unwrap_or(d.link.max_key_size),
            max_key_count: args.max_key_count.or(file.max_key_count).unwrap_or(d.link.max_key_count),
            max_key_per_request: args
                .max_key_per_request
                .or(file.max_key_per_request)
                .unwrap_or(d.link.max_key_per_request),
            max_sae_id_count: args.max_sae_id_count.or(file.max_sae_id_count).unwrap_or(d.link.max_sae_id_count),
            secret_key_rate_bps,
            seed: args.seed.or(file.seed),
            initial_key_count: args.initial_key_count.or(file.initial_key_count).unwrap_or(d.link.initial_key_count),
            max_pending_keys: args.max_pending_keys.or(file.max_pending_keys).unwrap_or(d.link.max_pending_keys),
        };
        link.check()?;

        let max_body_bytes = args.max_body_bytes.or(file.max_body_bytes).unwrap_or(d.limits.max_body_bytes);
        if !(256..=16 << 20).contains(&max_body_bytes) {
            return Err(invalid("--max-body-bytes", format!("{max_body_bytes}: expected 256..=16777216")));
        }
        let max_connections = args.max_connections.or(file.max_connections).unwrap_or(d.limits.max_connections);
        if !(1..=65_536).contains(&max_connections) {
            return Err(invalid("--max-connections", format!("{max_connections}: expected 1..=65536")));
        }
        let seconds = |what: &'static str, v: Option<f64>, default: Duration| match v {
            None => Ok(default),
            Some(s) if s.is_finite() && s > 0.0 && s <= 3600.0 => Ok(Duration::from_secs_f64(s)),
            Some(s) => Err(invalid(what, format!("{s}: expected 0 < seconds <= 3600"))),
        };
        let handshake_timeout = seconds(
            "--handshake-timeout",
            args.handshake_timeout.or(file.handshake_timeout),
            d.limits.handshake_timeout,
        )?;
        let idle_timeout = seconds("--idle-timeout", args.idle_timeout.or(file.idle_timeout), d.limits.idle_timeout)?;

        Ok(Self {
            listen,
            admin_listen,
            pki,
            kme_ids,
            attached_saes,
            sae_id_source,
            tls,
            link,
            limits: Limits { max_body_bytes, max_connections, handshake_timeout, idle_timeout },
        })
    }
}

/// Everything `demo-pki` needs, checked.
#[derive(Debug, Clone)]
pub struct DemoPkiSettings {
    /// Output directory.
    pub out: PathBuf,
    /// Signature algorithm.
    pub algorithm: PkiAlgorithm,
    /// KME IDs of A and B.
    pub kme_ids: [String; 2],
    /// SAE client certificates to issue.
    pub saes: Vec<String>,
    /// Extra server DNS names.
    pub dns: Vec<String>,
    /// Extra server IPs.
    pub ips: Vec<std::net::IpAddr>,
    /// Validity.
    pub validity: Duration,
    /// Overwrite existing files.
    pub force: bool,
}

impl DemoPkiSettings {
    /// Checks the flags.
    pub fn resolve(args: DemoPkiArgs) -> Result<Self, ConfigError> {
        validate_id(&args.kme_id_a).map_err(|e| invalid("--kme-id-a", e.to_string()))?;
        validate_id(&args.kme_id_b).map_err(|e| invalid("--kme-id-b", e.to_string()))?;
        if args.kme_id_a == args.kme_id_b {
            return Err(invalid("--kme-id-b", "KME A and KME B need different IDs"));
        }
        let mut saes: Vec<String> = Vec::new();
        for id in args.sae.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            validate_id(id).map_err(|e| invalid("--sae", e.to_string()))?;
            if [&args.kme_id_a, &args.kme_id_b].contains(&&id.to_string()) {
                return Err(invalid("--sae", format!("{id:?} is also a KME ID")));
            }
            if !saes.iter().any(|s| s == id) {
                saes.push(id.to_string());
            }
        }
        if saes.is_empty() {
            return Err(invalid("--sae", "at least one SAE is needed"));
        }
        if !(1..=36_500).contains(&args.validity_days) {
            return Err(invalid("--validity-days", format!("{}: expected 1..=36500", args.validity_days)));
        }
        Ok(Self {
            out: args.out,
            algorithm: args.algorithm,
            kme_ids: [args.kme_id_a, args.kme_id_b],
            saes,
            dns: args.dns.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
            ips: args.ip,
            validity: Duration::from_secs(u64::from(args.validity_days) * 86_400),
            force: args.force,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(argv: &[&str]) -> Result<ServeSettings, ConfigError> {
        let mut full = vec!["qsafe-kme", "serve"];
        full.extend_from_slice(argv);
        let cli = Cli::try_parse_from(full).map_err(|e| invalid("argv", e.to_string()))?;
        match cli.command {
            Command::Serve(a) => ServeSettings::resolve(*a),
            Command::DemoPki(_) => unreachable!(),
        }
    }

    #[test]
    fn embedded_defaults() {
        let s = serve(&[]).unwrap();
        assert_eq!(s.pki, PkiSource::Generate);
        assert_eq!(s.link, LinkParams::default());
        assert_eq!(s.listen[0].port(), 8443);
        assert!(s.admin_listen.ip().is_loopback());
        assert_eq!(s.sae_id_source, SaeIdSource::CommonName);
        assert_eq!(s.tls, TlsPolicy { kx: KxPolicy::HybridPreferred, auth: AuthPolicy::Any });
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("10k"), Ok(10_000));
        assert_eq!(parse_rate("1.5M"), Ok(1_500_000));
        assert_eq!(parse_rate("2G"), Ok(2_000_000_000));
        assert_eq!(parse_rate(" 1234 "), Ok(1234));
        for bad in ["", "k", "0", "-5", "1e20", "fast", "NaN"] {
            assert!(parse_rate(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn file_then_env_then_flag() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kme.toml");
        std::fs::write(
            &path,
            "key-size = 512\nmax-key-size = 2048\nsecret-key-rate = \"10k\"\nsae-a = [\"ric-xapp\"]\n\
             sae-id-source = \"san-uri\"\nsae-id-uri-prefix = \"urn:qsafe:sae:\"\ntls-kx = \"pq-only\"\n\
             pki-dir = \"/nonexistent\"\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let s = serve(&["--config", p]).unwrap();
        assert_eq!(s.link.key_size, 512);
        assert_eq!(s.link.secret_key_rate_bps, 10_000);
        assert_eq!(s.attached_saes[0].as_deref(), Some(&["ric-xapp".to_string()][..]));
        assert_eq!(s.sae_id_source, SaeIdSource::SanUri { prefix: "urn:qsafe:sae:".into() });
        assert_eq!(s.tls.kx, KxPolicy::PqOnly);
        assert_eq!(s.pki, PkiSource::Files(PkiFiles::in_dir(Path::new("/nonexistent"))));
        // A flag wins over the file.
        let s = serve(&["--config", p, "--key-size", "128", "--secret-key-rate", "2M"]).unwrap();
        assert_eq!((s.link.key_size, s.link.secret_key_rate_bps), (128, 2_000_000));
    }

    #[test]
    fn bad_settings_are_clear_errors() {
        let cases: &[(&[&str], &str)] = &[
            (&["--key-size", "100"], "multiple of 8"),
            (&["--key-size", "2048"], "min_key_size <= key_size <= max_key_size"),
            (&["--max-key-per-request", "0"], "max_key_per_request"),
            (&["--initial-key-count", "200000"], "initial-key-count"),
            (&["--max-key-size", "2097152"], "--max-key-size"),
            (&["--admin-listen", "0.0.0.0:9180"], "--admin-allow-remote"),
            (&["--listen-b", "127.0.0.1:8443"], "different addresses"),
            (&["--cert-a", "x.pem"], "without --pki-dir"),
            (&["--sae-a", ","], "empty list"),
            (&["--sae-a", "a/b"], "--sae-a"),
            (&["--sae-id-uri-prefix", "urn:x:"], "san-uri"),
            (&["--kme-id-a", "x", "--kme-id-b", "x"], "different IDs"),
            (&["--max-body-bytes", "10"], "--max-body-bytes"),
            (&["--handshake-timeout", "0"], "--handshake-timeout"),
            (&["--idle-timeout", "inf"], "--idle-timeout"),
            (&["--config", "/nonexistent/kme.toml"], "cannot read config file"),
        ];
        for (argv, needle) in cases {
            let e = serve(argv).expect_err(needle).to_string();
            assert!(e.contains(needle), "{argv:?}: {e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kme.toml");
        std::fs::write(&path, "key-sise = 256\n").unwrap();
        let e = serve(&["--config", path.to_str().unwrap()]).unwrap_err().to_string();
        assert!(e.contains("key-sise"), "{e}");
        // Remote admin is allowed when asked for.
        assert!(serve(&["--admin-listen", "0.0.0.0:9180", "--admin-allow-remote"]).is_ok());
    }

    #[test]
    fn demo_pki_flags() {
        let cli = Cli::try_parse_from(["qsafe-kme", "demo-pki", "--out", "/tmp/x"]).unwrap();
        let Command::DemoPki(a) = cli.command else { panic!() };
        let s = DemoPkiSettings::resolve(a).unwrap();
        assert_eq!(s.saes, ["ric-xapp", "e2node-1"]);
        assert_eq!(s.kme_ids, ["kme-a".to_string(), "kme-b".to_string()]);
        assert_eq!(s.algorithm, PkiAlgorithm::MlDsa65);
        let cli = Cli::try_parse_from([
            "qsafe-kme",
            "demo-pki",
            "--out",
            "/tmp/x",
            "--sae",
            "a,b",
            "--sae",
            "a",
            "--algorithm",
            "ecdsa-p256",
        ])
        .unwrap();
        let Command::DemoPki(a) = cli.command else { panic!() };
        let s = DemoPkiSettings::resolve(a).unwrap();
        assert_eq!(s.saes, ["a", "b"]);
        assert_eq!(s.algorithm, PkiAlgorithm::EcdsaP256);
        let cli = Cli::try_parse_from(["qsafe-kme", "demo-pki", "--out", "x", "--sae", "kme-a"]).unwrap();
        let Command::DemoPki(a) = cli.command else { panic!() };
        assert!(DemoPkiSettings::resolve(a).unwrap_err().to_string().contains("also a KME ID"));
    }
}
