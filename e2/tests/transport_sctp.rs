//! Kernel SCTP in plain `cargo test`.
//!
//! On a kernel without SCTP (like the CI host) every entry point must fail
//! with the one typed error "kernel SCTP not available: load the sctp
//! module". Where SCTP exists (a developer machine with the module, or the
//! user-mode-Linux tier, which runs this very binary in a guest and sets
//! `QSAFE_EXPECT_SCTP=1`) the same tests instead assert a working loopback
//! association: ECONNREFUSED without a listener, Up on both sides, 64 KiB
//! and 1 MiB PDUs whole with PPID 70, an oversized PDU refused without
//! harm, Down when the client aborts.
// Helpers outside #[test] fns panic on purpose: a panic is how a test reports.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use qsafe_e2::transport::sctp::{SctpAssociation, SctpListener, SctpOptions, kernel_sctp_available};
use qsafe_e2::transport::{DownReason, E2AP_PPID, E2Receiver, E2Sender, Peer, TransportError, TransportEvent};

const MESSAGE: &str = "kernel SCTP not available: load the sctp module";

fn expect_sctp() -> bool {
    std::env::var("QSAFE_EXPECT_SCTP").is_ok_and(|v| v == "1")
}

/// `None` when SCTP is missing (after asserting the error is the right one).
fn sctp_or_assert_missing() -> Option<()> {
    match kernel_sctp_available() {
        Ok(()) => {
            assert!(Path::new("/proc/net/sctp").exists(), "an SCTP socket exists, so must /proc/net/sctp");
            Some(())
        }
        Err(e @ TransportError::SctpUnavailable { .. }) => {
            assert_eq!(e.to_string(), MESSAGE);
            assert!(!expect_sctp(), "QSAFE_EXPECT_SCTP=1 but: {e} ({:?})", std::error::Error::source(&e));
            assert!(
                !Path::new("/proc/net/sctp").exists(),
                "SCTP reported missing although /proc/net/sctp exists: {e:?}"
            );
            None
        }
        Err(e) => panic!("expected SctpUnavailable or success, got {e:?}"),
    }
}

#[tokio::test]
async fn listener_and_connect_report_missing_sctp_with_one_clear_error() {
    if sctp_or_assert_missing().is_some() {
        // SCTP present: the same calls must work (the loopback test below
        // exercises them fully).
        let l = SctpListener::bind("127.0.0.1:0".parse().unwrap(), SctpOptions::default()).await.unwrap();
        assert_ne!(l.local_addr().port(), 0);
        return;
    }
    let bind = SctpListener::bind("127.0.0.1:0".parse().unwrap(), SctpOptions::default()).await;
    match bind {
        Err(e @ TransportError::SctpUnavailable { .. }) => assert_eq!(e.to_string(), MESSAGE),
        other => panic!("bind: expected SctpUnavailable, got {other:?}"),
    }
    let connect = SctpAssociation::connect("127.0.0.1:36421".parse().unwrap(), SctpOptions::default()).await;
    match connect {
        Err(e @ TransportError::SctpUnavailable { .. }) => assert_eq!(e.to_string(), MESSAGE),
        other => panic!("connect: expected SctpUnavailable, got {other:?}"),
    }
    let v6 = SctpListener::bind("[::1]:0".parse().unwrap(), SctpOptions::default()).await;
    assert!(matches!(v6, Err(TransportError::SctpUnavailable { .. })), "IPv6 bind: {v6:?}");
}

async fn next_event(rx: &mut impl E2Receiver) -> TransportEvent {
    match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
        Ok(Ok(Some(ev))) => ev,
        other => panic!("expected an event, got {other:?}"),
    }
}

/// Nobody listens: connect must fail fast with ECONNREFUSED. (Regression: the
/// refused socket polls EPOLLERR|EPOLLIN but never EPOLLOUT, so waiting for
/// writability alone hung until the connect timeout.)
async fn refused(addr: SocketAddr) {
    let free = SctpListener::bind(addr, SctpOptions::default()).await.unwrap().local_addr();
    let t0 = std::time::Instant::now();
    let r = SctpAssociation::connect(free, SctpOptions::default()).await;
    match r {
        Err(TransportError::Connect { source, .. }) if source.kind() == std::io::ErrorKind::ConnectionRefused => {}
        other => panic!("connect to {free} with no listener: expected ECONNREFUSED, got {other:?}"),
    }
    assert!(t0.elapsed() < Duration::from_secs(5), "refusal took {:?}", t0.elapsed());
}

async fn loopback(addr: SocketAddr) {
    refused(addr).await;
    let opts = SctpOptions { send_buffer: Some(4 << 20), recv_buffer: Some(1 << 20), ..SctpOptions::default() };
    // The server accepts PDUs up to 1 MiB + 1 byte; anything larger is peer
    // input to survive, not to buffer without bound.
    let max = (1 << 20) + 1;
    let listener = SctpListener::bind(addr, SctpOptions { max_pdu_size: max, ..opts.clone() }).await.unwrap();
    let target = listener.local_addr();
    let (client, server) = tokio::join!(
        SctpAssociation::connect_with_retry(target, opts.clone(), Duration::from_secs(10)),
        listener.accept()
    );
    let (mut client, mut server) = (client.unwrap(), server.unwrap());
    for (name, side) in [("client", &mut client), ("server", &mut server)] {
        match next_event(side).await {
            TransportEvent::Up { peer: Peer::Sctp(_), outbound_streams: 4, inbound_streams: 4 } => {}
            other => panic!("{name}: expected Up with 4/4 streams, got {other:?}"),
        }
    }
    for (i, len) in [1usize, 4097, 65536, 65537, 1 << 20].into_iter().enumerate() {
        let pdu: Bytes = (0..len).map(|j| (j * 31 + i) as u8).collect::<Vec<u8>>().into();
        let stream = (i % 4) as u16;
        client.send(stream, pdu.clone()).await.unwrap();
        match next_event(&mut server).await {
            TransportEvent::Frame(f) => {
                assert_eq!((f.stream, f.ppid, f.payload.len()), (stream, E2AP_PPID, len));
                assert!(f.payload == pdu, "PDU of {len} bytes differs");
            }
            other => panic!("expected a frame, got {other:?}"),
        }
    }
    // Oversized: reported as a typed error, discarded, association still usable.
    client.send(1, Bytes::from(vec![1u8; max + 4096])).await.unwrap();
    client.send(2, Bytes::from_static(b"after the oversized one")).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(20), server.recv()).await {
        Ok(Err(TransportError::PduTooLargeReceived { len, max: m })) => assert_eq!((len, m), (max + 4096, max)),
        other => panic!("expected PduTooLargeReceived, got {other:?}"),
    }
    match next_event(&mut server).await {
        TransportEvent::Frame(f) => assert_eq!((f.stream, &f.payload[..]), (2, &b"after the oversized one"[..])),
        other => panic!("expected the next frame, got {other:?}"),
    }
    client.abort().unwrap();
    match next_event(&mut server).await {
        TransportEvent::Down { reason: DownReason::CommLost { .. } } => {}
        other => panic!("expected Down(CommLost), got {other:?}"),
    }
    assert_eq!(server.recv().await.unwrap(), None);
}

#[tokio::test]
async fn loopback_association_when_sctp_is_available() {
    if sctp_or_assert_missing().is_none() {
        eprintln!("kernel SCTP missing here: the error was asserted; loopback checked in tests/kernel/");
        return;
    }
    loopback("127.0.0.1:0".parse().unwrap()).await;
    if std::net::UdpSocket::bind("[::1]:0").is_ok() {
        loopback("[::1]:0".parse().unwrap()).await;
    }
}
