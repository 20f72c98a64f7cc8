//! rustls reference servers on loopback, one per configuration the scanner must tell apart.
//! Used by the tests, by `examples/pqc_tls_server.rs` (the conformance run) and for demos; not
//! for production.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use qsafe_pqc::pki::{CertificateAuthority, CertifiedKey, LeafProfile, LeafUsage, SignatureAlgorithm};
use rustls::crypto::SupportedKxGroup;
use rustls::crypto::aws_lc_rs::{self as provider, kx_group};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A server configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerProfile {
    /// ML-DSA chain (root ML-DSA-87 not sent, intermediate ML-DSA-65, leaf ML-DSA-65),
    /// X25519MLKEM768 only, TLS 1.3.
    FullPqc,
    /// ECDSA P-256 chain, rustls' default groups (X25519MLKEM768, x25519, secp256r1,
    /// secp384r1), TLS 1.3 and 1.2.
    Hybrid,
    /// ECDSA P-256 chain, x25519 and secp256r1 only, TLS 1.3 and 1.2.
    Classical,
    /// ML-DSA chain, pure MLKEM768 only, TLS 1.3.
    PureMlkem,
    /// ECDSA P-256 chain, x25519/secp256r1, TLS 1.2 only.
    Tls12Classical,
    /// [`Self::Hybrid`] that requires a client certificate.
    ClientAuthRequired,
    /// [`Self::Hybrid`] that asks for a client certificate but accepts none.
    ClientAuthOptional,
}

impl ServerProfile {
    /// Every profile.
    pub const ALL: [Self; 7] = [
        Self::FullPqc,
        Self::Hybrid,
        Self::Classical,
        Self::PureMlkem,
        Self::Tls12Classical,
        Self::ClientAuthRequired,
        Self::ClientAuthOptional,
    ];

    /// Command-line name, e.g. `full-pqc`.
    pub fn name(self) -> &'static str {
        match self {
            Self::FullPqc => "full-pqc",
            Self::Hybrid => "hybrid",
            Self::Classical => "classical",
            Self::PureMlkem => "pure-mlkem",
            Self::Tls12Classical => "tls12-classical",
            Self::ClientAuthRequired => "client-auth-required",
            Self::ClientAuthOptional => "client-auth-optional",
        }
    }
}

impl fmt::Display for ServerProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ServerProfile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|p| p.name()).collect();
            format!("unknown server profile `{s}` (expected one of: {})", names.join(", "))
        })
    }
}

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// A server identity: chain `[leaf, intermediate]` under a root of `root_alg`.
pub fn identity(
    root_alg: SignatureAlgorithm,
    issuing_alg: SignatureAlgorithm,
    leaf_alg: SignatureAlgorithm,
) -> Result<CertifiedKey, String> {
    let root = CertificateAuthority::new_root("qsafe-scan test root", root_alg, 30 * DAY).map_err(|e| e.to_string())?;
    let issuing =
        root.new_intermediate("qsafe-scan test issuing CA", issuing_alg, 20 * DAY).map_err(|e| e.to_string())?;
    let profile = LeafProfile::new("qsafe-scan test server", LeafUsage::Server)
        .with_dns_name("localhost")
        .with_ip_address(IpAddr::V4(Ipv4Addr::LOCALHOST))
        .with_ip_address(IpAddr::V6(Ipv6Addr::LOCALHOST))
        .with_algorithm(leaf_alg)
        .with_validity(10 * DAY);
    issuing.issue(&profile).map_err(|e| e.to_string())
}

/// A rustls server config for `profile` (fresh keys each call).
pub fn server_config(profile: ServerProfile) -> Result<Arc<ServerConfig>, String> {
    use SignatureAlgorithm::{EcdsaP256, MlDsa65, MlDsa87};
    static TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
    static TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
    static BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
    let default_groups = provider::DEFAULT_KX_GROUPS.to_vec();
    let classical: Vec<&'static dyn SupportedKxGroup> = vec![kx_group::X25519, kx_group::SECP256R1];
    let (id, groups, versions) = match profile {
        ServerProfile::FullPqc => (identity(MlDsa87, MlDsa65, MlDsa65)?, vec![kx_group::X25519MLKEM768], TLS13),
        ServerProfile::PureMlkem => (identity(MlDsa87, MlDsa65, MlDsa65)?, vec![kx_group::MLKEM768], TLS13),
        ServerProfile::Hybrid | ServerProfile::ClientAuthRequired | ServerProfile::ClientAuthOptional => {
            (identity(EcdsaP256, EcdsaP256, EcdsaP256)?, default_groups, BOTH)
        }
        ServerProfile::Classical => (identity(EcdsaP256, EcdsaP256, EcdsaP256)?, classical, BOTH),
        ServerProfile::Tls12Classical => (identity(EcdsaP256, EcdsaP256, EcdsaP256)?, classical, TLS12),
    };
    let mut p = provider::default_provider();
    p.kx_groups = groups;
    if versions.len() == 1 {
        p.cipher_suites.retain(|s| s.version() == versions[0]);
    }
    let p = Arc::new(p);
    let builder =
        ServerConfig::builder_with_provider(p.clone()).with_protocol_versions(versions).map_err(|e| e.to_string())?;
    let builder = match profile {
        ServerProfile::ClientAuthRequired | ServerProfile::ClientAuthOptional => {
            let client_root =
                CertificateAuthority::new_root("qsafe-scan client root", EcdsaP256, DAY).map_err(|e| e.to_string())?;
            let mut store = RootCertStore::empty();
            store.add(client_root.certificate().clone()).map_err(|e| e.to_string())?;
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(store), p);
            let v = if profile == ServerProfile::ClientAuthOptional { v.allow_unauthenticated() } else { v };
            builder.with_client_cert_verifier(v.build().map_err(|e| e.to_string())?)
        }
        _ => builder.with_no_client_auth(),
    };
    builder.with_single_cert(id.chain().to_vec(), id.private_key()).map(Arc::new).map_err(|e| e.to_string())
}

/// A running server; stops when dropped.
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// `host:port` for a target list.
    pub fn target(&self) -> String {
        self.addr.to_string()
    }
}

/// Starts a `profile` server on 127.0.0.1 (ephemeral port).
pub async fn spawn(profile: ServerProfile) -> Result<TestServer, String> {
    spawn_with_config(server_config(profile)?, "127.0.0.1:0").await
}

/// Starts a server with `config` on `bind`. Each connection: TLS handshake, then read until the
/// client closes, then close_notify.
pub async fn spawn_with_config(config: Arc<ServerConfig>, bind: &str) -> Result<TestServer, String> {
    let listener = TcpListener::bind(bind).await.map_err(|e| format!("bind {bind}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(Ok(mut tls)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await else {
                    return;
                };
                let mut buf = [0u8; 1024];
                while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut buf)).await {
                    if n == 0 {
                        break;
                    }
                }
                let _ = tls.shutdown().await;
            });
        }
    });
    Ok(TestServer { addr, task })
}

/// A TCP server that accepts and never answers (holds each connection open).
pub async fn spawn_blackhole() -> Result<TestServer, String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    Ok(TestServer { addr, task })
}

/// A TCP server that answers every connection with `answer` and closes (e.g. an HTTP error).
pub async fn spawn_plain(answer: &'static [u8]) -> Result<TestServer, String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                // Read the client's first bytes before answering, and drain after, so the
                // close is a FIN and not a reset that would race the answer.
                let mut buf = [0u8; 4096];
                let _ = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
                let _ = s.write_all(answer).await;
                let _ = s.shutdown().await;
                while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
    Ok(TestServer { addr, task })
}
