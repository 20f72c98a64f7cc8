//! The broker's serving loop end to end, unprivileged: `BrokerClient` ↔
//! `server::serve_connection` over a Unix socket pair ↔ `MemoryDataPlane`.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::sync::Arc;
use std::time::Duration;

use qsafe_xfrm::protocol::{self, AllowList, ErrorCode, Prefix, Response};
use qsafe_xfrm::server::{self, PeerPolicy};
use qsafe_xfrm::{BrokerClient, DataPlane, DataPlaneError, Direction, Link, MemoryDataPlane, SaRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use zeroize::Zeroizing;

fn allow() -> AllowList {
    AllowList { nets: vec![Prefix::parse("10.99.0.0/24").unwrap(), Prefix::parse("fd00:99::/64").unwrap()] }
}

fn link() -> Link {
    Link::host("10.99.0.1".parse().unwrap(), "10.99.0.2".parse().unwrap(), 7)
}

fn sa(direction: Direction, spi: u32) -> SaRequest {
    SaRequest::new(link(), direction, spi, Zeroizing::new([0x42; 36]))
}

fn own_ids() -> (u32, u32) {
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let c = UnixStream::from_std({
        a.set_nonblocking(true).unwrap();
        a
    })
    .unwrap()
    .peer_cred()
    .unwrap();
    (c.uid(), c.gid())
}

/// A client connected to a server task over a socket pair.
fn serve(plane: Arc<MemoryDataPlane>, peers: PeerPolicy) -> (BrokerClient, tokio::task::JoinHandle<()>) {
    let (a, b) = UnixStream::pair().unwrap();
    let task = tokio::spawn(async move {
        server::serve_connection(b, &*plane, &peers, &allow()).await.unwrap();
    });
    (BrokerClient::from_stream(a), task)
}

fn me() -> PeerPolicy {
    let (uid, _) = own_ids();
    PeerPolicy { uids: vec![uid], gids: vec![] }
}

#[tokio::test]
async fn the_whole_api_through_the_broker() {
    let plane = Arc::new(MemoryDataPlane::new());
    let (c, task) = serve(plane.clone(), me());
    let l = link();
    c.ping().await.unwrap();
    c.install_sa(sa(Direction::Inbound, 0x1001)).await.unwrap();
    c.install_sa(sa(Direction::Outbound, 0x2001)).await.unwrap();
    assert_eq!(c.install_sa(sa(Direction::Outbound, 0x2001)).await, Err(DataPlaneError::Exists { spi: 0x2001 }));
    c.require_esp(l).await.unwrap();
    assert!(plane.esp_required(&l));
    plane.bump(0x1001, 1500, 3).unwrap();
    let n = c.sa_counters(l, Direction::Inbound, 0x1001).await.unwrap();
    assert_eq!((n.bytes, n.packets), (1500, 3));
    assert_eq!(
        c.sa_counters(l, Direction::Outbound, 0x1001).await,
        Err(DataPlaneError::NotFound { link: l, direction: Direction::Outbound, spi: 0x1001 })
    );
    c.delete_sa(l, Direction::Inbound, 0x1001).await.unwrap();
    assert!(matches!(c.delete_sa(l, Direction::Inbound, 0x1001).await, Err(DataPlaneError::NotFound { .. })));
    assert_eq!(c.delete_all(l).await.unwrap(), 1);
    assert_eq!(plane.sa_count(), 0);
    c.release_esp(l).await.unwrap();
    assert!(!plane.esp_required(&l));
    // validation by the broker: outside --allow-net, reserved SPI → nothing changes
    let before = plane.changes();
    let mut outside = sa(Direction::Inbound, 0x3001);
    outside.link.peer = "192.0.2.1".parse().unwrap();
    assert!(matches!(c.install_sa(outside).await, Err(DataPlaneError::Refused(m)) if m.contains("192.0.2.1")));
    assert!(
        matches!(c.install_sa(sa(Direction::Inbound, 7)).await, Err(DataPlaneError::Invalid(m)) if m.contains("reserved"))
    );
    assert_eq!(plane.changes(), before);
    drop(c);
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
}

/// Two SCTP associations between the same two addresses (two local ports
/// towards the RIC's 36421) through the broker: each link has its own SAs
/// and policy pair, and deleting one link's SAs leaves the other's.
#[tokio::test]
async fn two_associations_on_one_address_pair() {
    let plane = Arc::new(MemoryDataPlane::new());
    let (c, task) = serve(plane.clone(), me());
    let one = Link::association("10.99.0.1:40001".parse().unwrap(), "10.99.0.2:36421".parse().unwrap(), 11);
    let two = Link::association("10.99.0.1:40002".parse().unwrap(), "10.99.0.2:36421".parse().unwrap(), 12);
    for (l, spi) in [(one, 0x1100), (two, 0x1200)] {
        c.install_sa(SaRequest::new(l, Direction::Outbound, spi, Zeroizing::new([1; 36]))).await.unwrap();
        c.install_sa(SaRequest::new(l, Direction::Inbound, spi + 1, Zeroizing::new([2; 36]))).await.unwrap();
        c.require_esp(l).await.unwrap();
    }
    assert_eq!(plane.sa(0x1100).unwrap().link, one, "ports carried through the protocol");
    assert_eq!(plane.sa(0x1200).unwrap().link, two);
    assert!(plane.esp_required(&one) && plane.esp_required(&two));
    assert!(matches!(c.delete_sa(two, Direction::Outbound, 0x1100).await, Err(DataPlaneError::NotFound { .. })));
    assert_eq!(c.delete_all(one).await.unwrap(), 2);
    assert!(plane.carry(&one, Direction::Outbound, 100).is_err(), "link one fails closed");
    assert_eq!(plane.carry(&two, Direction::Outbound, 100).unwrap(), Some(0x1200), "link two still passes");
    assert_eq!(c.sa_counters(two, Direction::Outbound, 0x1200).await.unwrap().packets, 1);
    drop(c);
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_peer_not_allowed_is_refused() {
    let (uid, gid) = own_ids();
    let plane = Arc::new(MemoryDataPlane::new());
    let (c, task) =
        serve(plane.clone(), PeerPolicy { uids: vec![uid.wrapping_add(1)], gids: vec![gid.wrapping_add(1)] });
    match c.install_sa(sa(Direction::Inbound, 0x1001)).await {
        Err(DataPlaneError::Refused(m)) => assert!(m.contains(&format!("uid {uid}")), "{m}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(plane.sa_count(), 0);
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
    // allowed by gid alone
    let (c, _task) = serve(plane, PeerPolicy { uids: vec![], gids: vec![gid] });
    c.ping().await.unwrap();
}

#[tokio::test]
async fn malformed_requests_get_errors_and_change_nothing() {
    let plane = Arc::new(MemoryDataPlane::new());
    let (mut a, b) = UnixStream::pair().unwrap();
    let p = plane.clone();
    let task = tokio::spawn(async move { server::serve_connection(b, &*p, &me(), &allow()).await.unwrap() });
    async fn answer(a: &mut UnixStream) -> Response {
        let body = protocol::read_frame(a).await.unwrap().unwrap().unwrap();
        protocol::decode_response(&body).unwrap()
    }
    let v = protocol::VERSION;
    for body in [vec![9u8, 0], vec![v, 42], vec![v, 1, 4, 10, 99], vec![v, 0, 0], vec![1, 0], vec![1, 4, 4, 10, 99]] {
        a.write_all(&protocol::frame(&body)).await.unwrap();
        assert!(matches!(
            answer(&mut a).await,
            Response::Error { code: ErrorCode::Malformed | ErrorCode::Version, .. }
        ));
    }
    // a version-1 request gets the Version code
    a.write_all(&protocol::frame(&[1, 0])).await.unwrap();
    assert!(matches!(answer(&mut a).await, Response::Error { code: ErrorCode::Version, .. }));
    // still usable
    a.write_all(&protocol::frame(&[v, 0])).await.unwrap();
    assert_eq!(answer(&mut a).await, Response::Ok);
    assert_eq!(plane.changes(), 0);
    // a frame length of 0 loses the framing: error, then the broker closes
    a.write_all(&0u32.to_be_bytes()).await.unwrap();
    assert!(matches!(answer(&mut a).await, Response::Error { code: ErrorCode::Malformed, .. }));
    let mut rest = Vec::new();
    a.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    task.await.unwrap();
}

#[tokio::test]
async fn listener_serves_until_stopped() {
    let dir = std::env::temp_dir().join(format!("qsafe-xfrm-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("b.sock");
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let plane = Arc::new(MemoryDataPlane::new());
    let srv = tokio::spawn(server::run(listener, plane.clone(), Arc::new(me()), Arc::new(allow()), rx));
    let c = BrokerClient::connect_with_retry(&path, Duration::from_secs(5)).await.unwrap();
    let c2 = BrokerClient::connect(&path).await.unwrap();
    c.install_sa(sa(Direction::Inbound, 0x500)).await.unwrap();
    assert_eq!(c2.install_sa(sa(Direction::Inbound, 0x500)).await, Err(DataPlaneError::Exists { spi: 0x500 }));
    tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), srv).await.unwrap().unwrap().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The same driver code runs against every implementation.
async fn make_before_break<P: DataPlane>(p: &P) -> Result<(), DataPlaneError> {
    let l = link();
    p.install_sa(sa(Direction::Inbound, 0x100)).await?;
    p.install_sa(sa(Direction::Outbound, 0x200)).await?;
    p.require_esp(l).await?;
    p.install_sa(sa(Direction::Inbound, 0x101)).await?;
    p.install_sa(sa(Direction::Outbound, 0x201)).await?;
    p.delete_sa(l, Direction::Inbound, 0x100).await?;
    p.delete_sa(l, Direction::Outbound, 0x200).await?;
    p.sa_counters(l, Direction::Outbound, 0x201).await?;
    assert_eq!(p.delete_all(l).await?, 2);
    p.release_esp(l).await
}

#[tokio::test]
async fn drivers_can_swap_implementations() {
    make_before_break(&MemoryDataPlane::new()).await.unwrap();
    let plane = Arc::new(MemoryDataPlane::new());
    let (c, _task) = serve(plane.clone(), me());
    make_before_break(&c).await.unwrap();
    assert_eq!(plane.sa_count(), 0);
}
