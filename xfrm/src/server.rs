//! The broker's serving loop, generic over the data plane so it runs
//! unprivileged in tests (over [`crate::MemoryDataPlane`]) and for real in
//! `qsafe-xfrm-broker` (over [`crate::DirectNetlink`]).
//!
//! Per connection: check the peer's credentials (`SO_PEERCRED`) once,
//! then `read frame → decode_request (validates) → data plane → response`
//! until the client closes. A refused peer gets one error response and the
//! connection is closed; a malformed request gets an error response and
//! changes nothing; a frame with a bad length ends the connection (the
//! framing is lost). Keys are never logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

use crate::protocol::{self, AllowList, ErrorCode, Request, Response};
use crate::{DataPlane, DataPlaneError};

/// Most connections served at once; more are refused.
pub const MAX_CONNECTIONS: usize = 64;

/// Who may talk to the broker: a peer is allowed when its uid is in
/// `uids` or its gid is in `gids`.
#[derive(Debug, Clone, Default)]
pub struct PeerPolicy {
    /// Allowed user ids.
    pub uids: Vec<u32>,
    /// Allowed group ids (the peer's primary gid, as `SO_PEERCRED` reports it).
    pub gids: Vec<u32>,
}

impl PeerPolicy {
    /// `Ok` if allowed, else the reason.
    pub fn check(&self, uid: u32, gid: u32) -> Result<(), String> {
        if self.uids.contains(&uid) || self.gids.contains(&gid) {
            Ok(())
        } else {
            Err(format!("peer uid {uid} gid {gid} is not in --allow-uid {:?} / --allow-gid {:?}", self.uids, self.gids))
        }
    }
}

/// Runs one request against the data plane.
pub async fn execute<P: DataPlane>(plane: &P, req: Request) -> Response {
    let r: Result<Response, DataPlaneError> = match req {
        Request::Ping => Ok(Response::Ok),
        Request::InstallSa(sa) => plane.install_sa(sa).await.map(|()| Response::Ok),
        Request::DeleteSa { link, direction, spi } => {
            plane.delete_sa(link, direction, spi).await.map(|()| Response::Ok)
        }
        Request::SaCounters { link, direction, spi } => {
            plane.sa_counters(link, direction, spi).await.map(Response::Counters)
        }
        Request::RequireEsp(link) => plane.require_esp(link).await.map(|()| Response::Ok),
        Request::ReleaseEsp(link) => plane.release_esp(link).await.map(|()| Response::Ok),
        Request::DeleteAll(link) => plane.delete_all(link).await.map(Response::Count),
    };
    r.unwrap_or_else(|e| Response::from_error(&e))
}

fn describe(req: &Request) -> String {
    match req {
        Request::Ping => "ping".into(),
        Request::InstallSa(sa) => {
            format!("install_sa {} {} spi {:#x} window {}", sa.link, sa.direction, sa.spi, sa.replay_window)
        }
        Request::DeleteSa { link, direction, spi } | Request::SaCounters { link, direction, spi } => {
            format!("{} {link} {direction} spi {spi:#x}", req.name())
        }
        Request::RequireEsp(l) | Request::ReleaseEsp(l) | Request::DeleteAll(l) => format!("{} {l}", req.name()),
    }
}

async fn send(stream: &mut UnixStream, r: &Response) -> std::io::Result<()> {
    stream.write_all(&protocol::frame(&protocol::encode_response(r))).await
}

/// Serves one connection until the client closes it (or an I/O error).
pub async fn serve_connection<P: DataPlane>(
    mut stream: UnixStream,
    plane: &P,
    peers: &PeerPolicy,
    allow: &AllowList,
) -> std::io::Result<()> {
    let cred = stream.peer_cred()?;
    let (uid, gid, pid) = (cred.uid(), cred.gid(), cred.pid().unwrap_or(0));
    if let Err(why) = peers.check(uid, gid) {
        tracing::warn!(uid, gid, pid, "refused connection: {why}");
        send(&mut stream, &Response::Error { code: ErrorCode::NotAllowed, errno: 0, message: why }).await?;
        // Let the client finish writing its request and read the answer
        // before the connection goes away (bounded).
        let mut sink = [0u8; 256];
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
        return Ok(());
    }
    tracing::debug!(uid, gid, pid, "client connected");
    loop {
        let body = match protocol::read_frame(&mut stream).await? {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(()),
            Err(e) => {
                tracing::warn!(uid, pid, "bad frame, closing: {e}");
                send(&mut stream, &Response::from_request_error(&e)).await?;
                return Ok(());
            }
        };
        let resp = match protocol::decode_request(&body, allow) {
            Err(e) => {
                tracing::warn!(uid, pid, "refused request: {e}");
                Response::from_request_error(&e)
            }
            Ok(req) => {
                let what = describe(&req);
                let resp = execute(plane, req).await;
                match &resp {
                    Response::Error { message, .. } => tracing::warn!(uid, pid, "{what}: failed: {message}"),
                    _ if what == "ping" => tracing::debug!(uid, pid, "ping"),
                    _ => tracing::info!(uid, pid, "{what}: ok"),
                }
                resp
            }
        };
        drop(body);
        send(&mut stream, &resp).await?;
    }
}

/// Accepts connections until `stop` turns true.
pub async fn run<P: DataPlane + 'static>(
    listener: UnixListener,
    plane: Arc<P>,
    peers: Arc<PeerPolicy>,
    allow: Arc<AllowList>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let (mut stream, _) = tokio::select! {
            r = listener.accept() => r?,
            _ = stop.wait_for(|s| *s) => return Ok(()),
        };
        if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            tracing::warn!("refused connection: {MAX_CONNECTIONS} connections open");
            let _ = send(
                &mut stream,
                &Response::Error { code: ErrorCode::Internal, errno: 0, message: "too many connections".into() },
            )
            .await;
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (plane, peers, allow, active) = (plane.clone(), peers.clone(), allow.clone(), active.clone());
        tokio::spawn(async move {
            if let Err(e) = serve_connection(stream, &*plane, &peers, &allow).await {
                tracing::debug!("connection ended: {e}");
            }
            active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}
