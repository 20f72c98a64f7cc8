//! # qsafe-kme — an ETSI GS QKD 014 KME-pair simulator
//!
//! One process runs one QKD link: two Key Management Entities, KME A and
//! KME B, at the two ends of a simulated quantum channel. Each KME has its
//! own HTTPS listener serving the ETSI GS QKD 014 V1.1.1 key delivery API to
//! the Secure Application Entities (SAEs) attached to it; both share one
//! [`qsafe_qkd::kme::KmeLink`], which holds the key pool and the spec's
//! semantics (exactly-once pairing of `enc_keys` at one site with `dec_keys`
//! at the other, the 400/401/503 answers). This crate adds what a KME needs
//! around that model to stand next to real QKD gear:
//!
//! * [`endpoint`]: the HTTP mapping of the API (routes, GET and POST forms,
//!   status codes and bodies) as pure functions;
//! * [`identity`]: the calling SAE from the client certificate (CN, DNS SAN
//!   or URI SAN), the KME ID from the server certificate;
//! * [`tls`]: mutual TLS through `qsafe-pqc` (X25519MLKEM768 preferred,
//!   ML-DSA certificates);
//! * [`server`]: the tokio edge — listeners, connections, the generator that
//!   drives the link with real time, graceful shutdown;
//! * [`admin`]: runtime fault injection and `/metrics` on a loopback
//!   plain-HTTP listener; [`metrics`]: the Prometheus families;
//! * [`pki`]: the demo PKI and loading of PEM files; [`config`]: flags,
//!   `QSAFE_KME_*` environment and TOML file;
//! * [`client`]: a small mTLS client of the API, used by the tests, the
//!   benchmark and smoke checks.
//!
//! Key bytes are held in zeroizing buffers from the link to the socket
//! write and never appear in logs or `Debug` output (a test captures all
//! tracing output of an enc/dec run and looks for them).

pub mod admin;
pub mod client;
pub mod config;
pub mod endpoint;
pub mod identity;
pub mod metrics;
pub mod pki;
pub mod server;
pub mod tls;

pub use qsafe_qkd::kme::Site;

/// The metrics label of a site.
pub fn site_label(site: Site) -> &'static str {
    match site {
        Site::A => "A",
        Site::B => "B",
    }
}
