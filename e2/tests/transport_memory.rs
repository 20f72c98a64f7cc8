//! The in-memory transport: event order, stream checks, close-as-Down,
//! backpressure and full duplex through split halves, and a driver written
//! against the `E2Transport` trait.
// Helpers outside #[test] fns panic on purpose: a panic is how a test reports.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use qsafe_e2::transport::memory::{self, MemTransport};
use qsafe_e2::transport::{
    DownReason, E2AP_PPID, E2Frame, E2Receiver, E2Sender, E2Transport, Peer, TransportError, TransportEvent,
};

async fn expect_up(t: &mut impl E2Receiver) -> Peer {
    match t.recv().await {
        Ok(Some(TransportEvent::Up { peer, outbound_streams, inbound_streams })) => {
            assert_eq!((outbound_streams, inbound_streams), (memory::DEFAULT_STREAMS, memory::DEFAULT_STREAMS));
            peer
        }
        other => panic!("expected Up, got {other:?}"),
    }
}

async fn expect_frame(t: &mut impl E2Receiver) -> E2Frame {
    match t.recv().await {
        Ok(Some(TransportEvent::Frame(f))) => f,
        other => panic!("expected a frame, got {other:?}"),
    }
}

#[tokio::test]
async fn up_first_then_frames_with_stream_and_ppid() {
    let (mut a, mut b) = memory::pair(4);
    let pa = expect_up(&mut a).await;
    let pb = expect_up(&mut b).await;
    assert_eq!(pa, pb);
    assert_eq!(a.peer(), pa);
    assert!(matches!(pa, Peer::Memory(_)));

    a.send(2, Bytes::from_static(b"setup")).await.unwrap();
    a.send_frame(E2Frame { stream: 3, ppid: 0, payload: Bytes::from_static(b"e2sim style") }).await.unwrap();
    let f = expect_frame(&mut b).await;
    assert_eq!((f.stream, f.ppid, &f.payload[..]), (2, E2AP_PPID, &b"setup"[..]));
    let f = expect_frame(&mut b).await;
    assert_eq!((f.stream, f.ppid, &f.payload[..]), (3, 0, &b"e2sim style"[..]));

    b.send(0, Bytes::from(vec![7u8; 1 << 20])).await.unwrap();
    let f = expect_frame(&mut a).await;
    assert_eq!(f.payload.len(), 1 << 20);
}

#[tokio::test]
async fn a_stream_beyond_the_pair_is_rejected_like_sctp() {
    let (mut a, _b) = memory::pair_with_streams(4, 2);
    match a.send(2, Bytes::from_static(b"x")).await {
        Err(TransportError::InvalidStream { stream: 2, streams: 2 }) => {}
        other => panic!("expected InvalidStream, got {other:?}"),
    }
    a.send(1, Bytes::from_static(b"x")).await.unwrap();
}

#[tokio::test]
async fn closing_one_end_is_down_on_the_other_after_pending_frames() {
    let (mut a, mut b) = memory::pair(4);
    a.send(0, Bytes::from_static(b"last words")).await.unwrap();
    drop(a);
    expect_up(&mut b).await;
    assert_eq!(&expect_frame(&mut b).await.payload[..], b"last words");
    assert_eq!(b.recv().await.unwrap(), Some(TransportEvent::Down { reason: DownReason::Closed }));
    assert_eq!(b.recv().await.unwrap(), None);
    assert_eq!(b.recv().await.unwrap(), None);
    assert!(matches!(b.send(0, Bytes::from_static(b"?")).await, Err(TransportError::Closed)));
}

#[tokio::test]
async fn zero_capacity_is_clamped_not_a_panic() {
    let (mut a, mut b) = memory::pair(0);
    a.send(0, Bytes::from_static(b"1")).await.unwrap();
    expect_up(&mut b).await;
    expect_frame(&mut b).await;
}

#[tokio::test(start_paused = true)]
async fn a_full_channel_applies_backpressure() {
    let (mut a, mut b) = memory::pair(2);
    a.send(0, Bytes::from_static(b"1")).await.unwrap();
    a.send(0, Bytes::from_static(b"2")).await.unwrap();
    // The third send must wait until the receiver drains.
    let blocked = tokio::time::timeout(Duration::from_secs(1), a.send(0, Bytes::from_static(b"3"))).await;
    assert!(blocked.is_err(), "send on a full channel should wait");
    expect_up(&mut b).await;
    expect_frame(&mut b).await;
    a.send(0, Bytes::from_static(b"3")).await.unwrap();
}

/// Full duplex: each end's writer and reader run as separate tasks and
/// stream N frames both ways through tiny channels at the same time. A
/// half-duplex design (send waits for recv on the same task) would deadlock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_run_full_duplex() {
    const N: u32 = 20_000;
    let (a, b) = memory::pair(8);
    let mut tasks = Vec::new();
    for end in [a, b] {
        let (mut tx, mut rx) = end.into_split();
        let mut tx2 = tx.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..N {
                let sender = if i % 2 == 0 { &mut tx } else { &mut tx2 };
                sender.send((i % 4) as u16, Bytes::copy_from_slice(&i.to_be_bytes())).await.unwrap();
            }
            0u32
        }));
        tasks.push(tokio::spawn(async move {
            expect_up(&mut rx).await;
            let mut next = 0u32;
            while next < N {
                let f = expect_frame(&mut rx).await;
                let i = u32::from_be_bytes(f.payload[..].try_into().unwrap());
                assert_eq!(i, next, "frames arrive in order");
                assert_eq!(f.stream, (i % 4) as u16);
                next += 1;
            }
            next
        }));
    }
    let mut received = 0;
    for t in tasks {
        received += tokio::time::timeout(Duration::from_secs(60), t).await.unwrap().unwrap();
    }
    assert_eq!(received, 2 * N);
}

/// A tiny "procedure driver" written only against the traits: echo every
/// frame back on its stream until the peer goes down; return frames echoed.
async fn echo<T: E2Transport>(t: T) -> Result<usize, TransportError> {
    let (mut tx, mut rx) = t.into_split();
    let mut n = 0;
    while let Some(ev) = rx.recv().await? {
        match ev {
            TransportEvent::Frame(f) => {
                tx.send(f.stream, f.payload).await?;
                n += 1;
            }
            TransportEvent::Down { .. } => break,
            _ => {}
        }
    }
    Ok(n)
}

#[tokio::test]
async fn a_trait_generic_driver_runs_over_the_memory_pair() {
    let (mut client, server): (MemTransport, MemTransport) = memory::pair(16);
    let server = tokio::spawn(echo(server));
    expect_up(&mut client).await;
    for i in 0..100u8 {
        client.send(u16::from(i % 4), Bytes::from(vec![i; usize::from(i) + 1])).await.unwrap();
        let f = expect_frame(&mut client).await;
        assert_eq!((f.stream, f.payload.len(), f.payload[0]), (u16::from(i % 4), usize::from(i) + 1, i));
    }
    drop(client);
    assert_eq!(server.await.unwrap().unwrap(), 100);
}
