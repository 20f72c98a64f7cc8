//! A small HTTP/1.1 client for the simulator: one keep-alive connection,
//! over mutual TLS to a KME or plain TCP to the admin listener.
//!
//! It exists for the integration tests, the benchmark and smoke checks,
//! where what matters is seeing the KME's answers exactly as sent (status,
//! headers, raw body) rather than a typed result; the SAE-side client with
//! retries and KME-ID checks is `qsafe_qkd::client`. Response bodies are
//! zeroizing, since a 200 from enc_keys/dec_keys carries keys.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

/// Why a request did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// TCP connect failed.
    #[error("connect to {addr}: {source}")]
    Connect {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS handshake failed (e.g. the server refused our certificate).
    #[error("TLS handshake with {addr}: {source}")]
    Tls {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server name is not a valid DNS name or IP address.
    #[error("invalid server name {0:?}")]
    ServerName(String),
    /// HTTP-level failure (connection closed, malformed answer).
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    /// The request could not be built.
    #[error("request: {0}")]
    Request(#[from] hyper::http::Error),
}

/// An answer as received.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// `Allow`, if any.
    pub allow: Option<String>,
    /// The body (zeroizing: it may hold keys).
    pub body: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("allow", &self.allow)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Reply {
    /// The body parsed as JSON (`Value::Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    /// The body as text (for error bodies and metrics).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    driver: JoinHandle<()>,
    negotiated_group: Option<String>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("host", &self.host).finish_non_exhaustive()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Connection {
    /// Connects over mutual TLS (`config` carries roots and client certificate).
    pub async fn tls(addr: SocketAddr, server_name: &str, config: Arc<ClientConfig>) -> Result<Self, ClientError> {
        let name =
            ServerName::try_from(server_name.to_owned()).map_err(|_| ClientError::ServerName(server_name.into()))?;
        let tcp = TcpStream::connect(addr).await.map_err(|source| ClientError::Connect { addr, source })?;
        let _ = tcp.set_nodelay(true);
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|source| ClientError::Tls { addr, source })?;
        let group = tls.get_ref().1.negotiated_key_exchange_group().map(|g| format!("{:?}", g.name()));
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self { sender, host: format!("{server_name}:{}", addr.port()), driver, negotiated_group: group })
    }

    /// Connects over plain TCP (the admin listener).
    pub async fn plain(addr: SocketAddr) -> Result<Self, ClientError> {
        let tcp = TcpStream::connect(addr).await.map_err(|source| ClientError::Connect { addr, source })?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self { sender, host: addr.to_string(), driver, negotiated_group: None })
    }

    /// The TLS key exchange group, e.g. `X25519MLKEM768`.
    pub fn negotiated_group(&self) -> Option<&str> {
        self.negotiated_group.as_deref()
    }

    /// Sends a request; a JSON `body` gets `Content-Type: application/json`.
    pub async fn send(
        &mut self,
        method: Method,
        path_and_query: &str,
        body: Option<&[u8]>,
    ) -> Result<Reply, ClientError> {
        self.send_with(method, path_and_query, body, body.map(|_| "application/json")).await
    }

    /// Sends a request with an explicit content type (or none).
    pub async fn send_with(
        &mut self,
        method: Method,
        path_and_query: &str,
        body: Option<&[u8]>,
        content_type: Option<&str>,
    ) -> Result<Reply, ClientError> {
        let mut b = Request::builder().method(method).uri(path_and_query).header(HOST, &self.host);
        if let Some(ct) = content_type {
            b = b.header(CONTENT_TYPE, ct);
        }
        let req = b.body(Full::new(Bytes::copy_from_slice(body.unwrap_or_default())))?;
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let header =
            |name: hyper::header::HeaderName| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let content_type = header(CONTENT_TYPE);
        let allow = header(hyper::header::ALLOW);
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Reply { status, content_type, allow, body: Zeroizing::new(body.to_vec()) })
    }

    /// `GET`.
    pub async fn get(&mut self, path_and_query: &str) -> Result<Reply, ClientError> {
        self.send(Method::GET, path_and_query, None).await
    }

    /// `POST` with a JSON body.
    pub async fn post_json(&mut self, path: &str, json: &[u8]) -> Result<Reply, ClientError> {
        self.send(Method::POST, path, Some(json)).await
    }

    /// `POST` without a body (admin actions).
    pub async fn post_empty(&mut self, path_and_query: &str) -> Result<Reply, ClientError> {
        self.send_with(Method::POST, path_and_query, None, None).await
    }
}
