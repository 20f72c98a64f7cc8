//! Helpers shared by the integration tests and the benchmark (included with `#[path]`).
#![allow(dead_code)] // each includer uses a subset

use std::sync::{Arc, Mutex};

use rustls::client::ResolvesClientCert;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::{CertifiedKey, Signer, SigningKey};
use rustls::{ClientConnection, ServerConnection, SignatureAlgorithm, SignatureScheme};

/// Drives a client and a server connection against each other through in-memory buffers until
/// both finished the handshake (no sockets, no async). Returns the TLS bytes sent
/// (client to server, server to client).
pub fn handshake_in_memory(
    client: &mut ClientConnection,
    server: &mut ServerConnection,
) -> Result<(usize, usize), rustls::Error> {
    let mut buf = Vec::with_capacity(32 * 1024);
    let (mut to_server, mut to_client) = (0, 0);
    // A TLS 1.3 mutual handshake takes 2 round trips; the bound only stops a broken peer loop.
    for _ in 0..16 {
        to_server += transfer(&mut buf, client, server)?;
        to_client += transfer(&mut buf, server, client)?;
        if !client.is_handshaking() && !server.is_handshaking() && !client.wants_write() && !server.wants_write() {
            return Ok((to_server, to_client));
        }
    }
    Err(rustls::Error::General("handshake did not finish in 16 flights".into()))
}

fn transfer<A, B, DA, DB>(buf: &mut Vec<u8>, from: &mut A, to: &mut B) -> Result<usize, rustls::Error>
where
    A: std::ops::DerefMut<Target = rustls::ConnectionCommon<DA>>,
    B: std::ops::DerefMut<Target = rustls::ConnectionCommon<DB>>,
    DA: rustls::SideData,
    DB: rustls::SideData,
{
    buf.clear();
    while from.wants_write() {
        from.write_tls(buf).map_err(|e| rustls::Error::General(e.to_string()))?;
    }
    let mut rd = &buf[..];
    while !rd.is_empty() {
        to.read_tls(&mut rd).map_err(|e| rustls::Error::General(e.to_string()))?;
        to.process_new_packets()?;
    }
    Ok(buf.len())
}

/// Records the SignatureScheme each CertificateVerify was signed with.
#[derive(Clone, Debug, Default)]
pub struct SchemeLog(Arc<Mutex<Vec<SignatureScheme>>>);

impl SchemeLog {
    pub fn schemes(&self) -> Vec<SignatureScheme> {
        self.0.lock().expect("log lock").clone()
    }

    fn wrap(&self, ck: Arc<CertifiedKey>) -> Arc<CertifiedKey> {
        let key = Arc::new(RecordingKey { inner: ck.key.clone(), log: self.clone() });
        Arc::new(CertifiedKey { cert: ck.cert.clone(), key, ocsp: ck.ocsp.clone() })
    }
}

#[derive(Debug)]
struct RecordingKey {
    inner: Arc<dyn SigningKey>,
    log: SchemeLog,
}

impl SigningKey for RecordingKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        let signer = self.inner.choose_scheme(offered)?;
        self.log.0.lock().expect("log lock").push(signer.scheme());
        Some(signer)
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        self.inner.algorithm()
    }
}

#[derive(Debug)]
struct RecordingServerResolver {
    inner: Arc<dyn ResolvesServerCert>,
    log: SchemeLog,
}

impl ResolvesServerCert for RecordingServerResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.inner.resolve(client_hello).map(|ck| self.log.wrap(ck))
    }
}

#[derive(Debug)]
struct RecordingClientResolver {
    inner: Arc<dyn ResolvesClientCert>,
    log: SchemeLog,
}

impl ResolvesClientCert for RecordingClientResolver {
    fn resolve(&self, hints: &[&[u8]], sigschemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.inner.resolve(hints, sigschemes).map(|ck| self.log.wrap(ck))
    }

    fn has_certs(&self) -> bool {
        self.inner.has_certs()
    }
}

/// A copy of `config` whose CertificateVerify signatures are logged.
pub fn record_server_signatures(config: &rustls::ServerConfig) -> (Arc<rustls::ServerConfig>, SchemeLog) {
    let log = SchemeLog::default();
    let mut config = config.clone();
    config.cert_resolver = Arc::new(RecordingServerResolver { inner: config.cert_resolver.clone(), log: log.clone() });
    (Arc::new(config), log)
}

/// A copy of `config` whose CertificateVerify signatures are logged.
pub fn record_client_signatures(config: &rustls::ClientConfig) -> (Arc<rustls::ClientConfig>, SchemeLog) {
    let log = SchemeLog::default();
    let mut config = config.clone();
    config.client_auth_cert_resolver =
        Arc::new(RecordingClientResolver { inner: config.client_auth_cert_resolver.clone(), log: log.clone() });
    (Arc::new(config), log)
}

/// Upper bound for one loopback handshake + echo; only reached if something hangs.
const TCP_GUARD: std::time::Duration = std::time::Duration::from_secs(30);

/// One mutual-TLS handshake over loopback TCP plus a one-byte echo; returns what each side saw
/// (server, client). In TLS 1.3 the server judges the client certificate after the client
/// finished, so a refusal shows up on the client as an alert instead of the echo.
pub async fn handshake_and_echo(
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
    server_name: &'static str,
) -> (std::io::Result<qsafe_pqc::tls::HandshakeSummary>, std::io::Result<qsafe_pqc::tls::HandshakeSummary>) {
    use qsafe_pqc::tls::HandshakeSummary;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let server_side = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut tls = tokio_rustls::TlsAcceptor::from(server).accept(tcp).await?;
        let summary = HandshakeSummary::of(tls.get_ref().1);
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte).await?;
        tls.write_all(&byte).await?;
        tls.shutdown().await?;
        Ok::<_, std::io::Error>(summary)
    });
    let client_side = async move {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let name = rustls::pki_types::ServerName::try_from(server_name).expect("server name");
        let mut tls = tokio_rustls::TlsConnector::from(client).connect(name, tcp).await?;
        let summary = HandshakeSummary::of(tls.get_ref().1);
        tls.write_all(b"q").await?;
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte).await?;
        assert_eq!(&byte, b"q");
        Ok::<_, std::io::Error>(summary)
    };
    let client_result = tokio::time::timeout(TCP_GUARD, client_side).await.expect("client hung");
    let server_result = tokio::time::timeout(TCP_GUARD, server_side).await.expect("server hung").expect("server task");
    (server_result, client_result)
}

/// The rustls error inside an I/O error from tokio-rustls, if any.
pub fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())
}
