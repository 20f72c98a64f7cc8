//! [`BrokerClient`]: the data plane through `qsafe-xfrm-broker`.
//!
//! One Unix stream connection, one request at a time (calls are serialised
//! by a mutex). Encoded requests that carry key material are zeroized
//! after they are written. A connection that failed is re-opened on the
//! next call.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::sync::Mutex;

use crate::protocol::{self, ErrorCode, Request, Response};
use crate::{DataPlane, DataPlaneError, Direction, Link, SaCounters, SaRequest};

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The broker client.
#[derive(Debug)]
pub struct BrokerClient {
    path: PathBuf,
    conn: Mutex<Option<UnixStream>>,
}

fn io(e: std::io::Error) -> DataPlaneError {
    DataPlaneError::Io(e.to_string())
}

impl BrokerClient {
    /// Connects to the broker at `path`.
    pub async fn connect(path: impl AsRef<Path>) -> Result<Self, DataPlaneError> {
        let path = path.as_ref().to_path_buf();
        let s = UnixStream::connect(&path).await.map_err(|e| DataPlaneError::Io(format!("{}: {e}", path.display())))?;
        Ok(BrokerClient { path, conn: Mutex::new(Some(s)) })
    }

    /// Connects, retrying while the socket does not exist or nobody listens
    /// yet, until `deadline` has passed; then pings.
    pub async fn connect_with_retry(path: impl AsRef<Path>, deadline: Duration) -> Result<Self, DataPlaneError> {
        let until = Instant::now() + deadline;
        let mut wait = Duration::from_millis(20);
        loop {
            match Self::connect(path.as_ref()).await {
                Ok(c) => {
                    c.ping().await?;
                    return Ok(c);
                }
                Err(e) if Instant::now() >= until => return Err(e),
                Err(_) => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_millis(500));
                }
            }
        }
    }

    /// A client over an already connected stream (tests, socket pairs).
    pub fn from_stream(stream: UnixStream) -> Self {
        BrokerClient { path: PathBuf::new(), conn: Mutex::new(Some(stream)) }
    }

    /// Liveness check.
    pub async fn ping(&self) -> Result<(), DataPlaneError> {
        match self.call(&Request::Ping).await? {
            Response::Ok => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Sends one request, returns the broker's response (errors included).
    pub async fn call(&self, req: &Request) -> Result<Response, DataPlaneError> {
        let frame = protocol::frame(&protocol::encode_request(req));
        let mut guard = self.conn.lock().await;
        if guard.is_none() {
            if self.path.as_os_str().is_empty() {
                return Err(DataPlaneError::Io("connection closed".into()));
            }
            *guard = Some(UnixStream::connect(&self.path).await.map_err(io)?);
        }
        let Some(stream) = guard.as_mut() else { return Err(DataPlaneError::Io("not connected".into())) };
        let r = tokio::time::timeout(REQUEST_TIMEOUT, async {
            // A broker that refuses the peer answers at once and closes: the
            // write may then fail (EPIPE) while its answer is still readable.
            let written = stream.write_all(&frame).await;
            match protocol::read_frame(stream).await {
                Ok(Ok(Some(b))) => Ok(Ok(Some(b))),
                other => written.and(other),
            }
        })
        .await;
        drop(frame);
        let body = match r {
            Err(_) => Err(DataPlaneError::Io("broker did not answer in time".into())),
            Ok(Err(e)) => Err(io(e)),
            Ok(Ok(Ok(Some(b)))) => Ok(b),
            Ok(Ok(Ok(None))) => Err(DataPlaneError::Io("broker closed the connection".into())),
            Ok(Ok(Err(e))) => Err(DataPlaneError::Protocol(e.to_string())),
        };
        let body = match body {
            Ok(b) => b,
            Err(e) => {
                *guard = None;
                return Err(e);
            }
        };
        protocol::decode_response(&body).map_err(DataPlaneError::Protocol)
    }

    async fn simple(&self, req: Request) -> Result<Response, DataPlaneError> {
        let (link, direction, spi) = match &req {
            Request::InstallSa(sa) => (Some(sa.link), Some(sa.direction), sa.spi),
            Request::DeleteSa { link, direction, spi } | Request::SaCounters { link, direction, spi } => {
                (Some(*link), Some(*direction), *spi)
            }
            _ => (None, None, 0),
        };
        match self.call(&req).await? {
            Response::Error { code, errno, message } => Err(match code {
                ErrorCode::Exists => DataPlaneError::Exists { spi },
                ErrorCode::NotFound => match (link, direction) {
                    (Some(link), Some(direction)) => DataPlaneError::NotFound { link, direction, spi },
                    _ => DataPlaneError::Protocol(message),
                },
                ErrorCode::Malformed => DataPlaneError::Invalid(message),
                ErrorCode::NotAllowed => DataPlaneError::Refused(message),
                ErrorCode::Kernel => DataPlaneError::Kernel { op: req.name().into(), errno, message },
                ErrorCode::Internal | ErrorCode::Version => DataPlaneError::Protocol(message),
            }),
            ok => Ok(ok),
        }
    }
}

fn unexpected(r: Response) -> DataPlaneError {
    DataPlaneError::Protocol(format!("unexpected response {r:?}"))
}

fn ok(r: Response) -> Result<(), DataPlaneError> {
    match r {
        Response::Ok => Ok(()),
        other => Err(unexpected(other)),
    }
}

impl DataPlane for BrokerClient {
    async fn install_sa(&self, req: SaRequest) -> Result<(), DataPlaneError> {
        ok(self.simple(Request::InstallSa(req)).await?)
    }
    async fn delete_sa(&self, link: Link, direction: Direction, spi: u32) -> Result<(), DataPlaneError> {
        ok(self.simple(Request::DeleteSa { link, direction, spi }).await?)
    }
    async fn sa_counters(&self, link: Link, direction: Direction, spi: u32) -> Result<SaCounters, DataPlaneError> {
        match self.simple(Request::SaCounters { link, direction, spi }).await? {
            Response::Counters(c) => Ok(c),
            other => Err(unexpected(other)),
        }
    }
    async fn require_esp(&self, link: Link) -> Result<(), DataPlaneError> {
        ok(self.simple(Request::RequireEsp(link)).await?)
    }
    async fn release_esp(&self, link: Link) -> Result<(), DataPlaneError> {
        ok(self.simple(Request::ReleaseEsp(link)).await?)
    }
    async fn delete_all(&self, link: Link) -> Result<u32, DataPlaneError> {
        match self.simple(Request::DeleteAll(link)).await? {
            Response::Count(n) => Ok(n),
            other => Err(unexpected(other)),
        }
    }
}
