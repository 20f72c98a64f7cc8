//! An in-memory E2 transport: two connected ends over bounded tokio
//! channels, with the same event semantics as an SCTP association, so that
//! procedure logic (E2 setup, subscriptions, indications, ...) runs in plain
//! `cargo test` without a kernel.
//!
//! * Each end's first event is [`TransportEvent::Up`] with
//!   [`Peer::Memory`]`(n)`, `n` shared by both ends of one pair.
//! * Frames keep stream, PPID and payload; a send on a stream `>=` the pair's
//!   stream count fails with [`TransportError::InvalidStream`], as SCTP does.
//! * When one end is gone (the transport, or both of its halves, dropped),
//!   the other end receives [`TransportEvent::Down`] with
//!   [`DownReason::Closed`] after every frame already sent, then `Ok(None)`;
//!   its sends fail with [`TransportError::Closed`]. (Clones of a
//!   [`MemSender`] keep the direction open until the last one is dropped.)
//! * `capacity` bounds each direction: a send waits while the channel is
//!   full (backpressure, like a full socket buffer).

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use super::{DownReason, E2Frame, E2Receiver, E2Sender, E2Transport, Peer, TransportError, TransportEvent};

/// Streams a [`pair`] has in each direction (like `SctpOptions::default()`).
pub const DEFAULT_STREAMS: u16 = 4;

static NEXT_PAIR: AtomicU64 = AtomicU64::new(1);

/// Two connected in-memory ends with [`DEFAULT_STREAMS`] streams; each
/// direction buffers up to `capacity` frames (at least 1).
pub fn pair(capacity: usize) -> (MemTransport, MemTransport) {
    pair_with_streams(capacity, DEFAULT_STREAMS)
}

/// Like [`pair`] with `streams` streams in each direction.
pub fn pair_with_streams(capacity: usize, streams: u16) -> (MemTransport, MemTransport) {
    let id = NEXT_PAIR.fetch_add(1, Ordering::Relaxed);
    let cap = capacity.max(1);
    let (tx_ab, rx_ab) = mpsc::channel(cap);
    let (tx_ba, rx_ba) = mpsc::channel(cap);
    let end = |tx, rx| MemTransport {
        tx: MemSender { tx, streams },
        rx: MemReceiver { rx, id, streams, state: State::Fresh },
    };
    (end(tx_ab, rx_ba), end(tx_ba, rx_ab))
}

/// One end of an in-memory pair.
#[derive(Debug)]
pub struct MemTransport {
    tx: MemSender,
    rx: MemReceiver,
}

/// Sending half of a [`MemTransport`].
#[derive(Debug, Clone)]
pub struct MemSender {
    tx: mpsc::Sender<E2Frame>,
    streams: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Fresh,
    Open,
    Done,
}

/// Receiving half of a [`MemTransport`].
#[derive(Debug)]
pub struct MemReceiver {
    rx: mpsc::Receiver<E2Frame>,
    id: u64,
    streams: u16,
    state: State,
}

impl E2Sender for MemSender {
    async fn send_frame(&mut self, frame: E2Frame) -> Result<(), TransportError> {
        if frame.stream >= self.streams {
            return Err(TransportError::InvalidStream { stream: frame.stream, streams: self.streams });
        }
        self.tx.send(frame).await.map_err(|_| TransportError::Closed)
    }
}

impl E2Receiver for MemReceiver {
    async fn recv(&mut self) -> Result<Option<TransportEvent>, TransportError> {
        match self.state {
            State::Fresh => {
                self.state = State::Open;
                Ok(Some(TransportEvent::Up {
                    peer: Peer::Memory(self.id),
                    outbound_streams: self.streams,
                    inbound_streams: self.streams,
                }))
            }
            State::Open => match self.rx.recv().await {
                Some(frame) => Ok(Some(TransportEvent::Frame(frame))),
                None => {
                    self.state = State::Done;
                    Ok(Some(TransportEvent::Down { reason: DownReason::Closed }))
                }
            },
            State::Done => Ok(None),
        }
    }
}

impl E2Sender for MemTransport {
    async fn send_frame(&mut self, frame: E2Frame) -> Result<(), TransportError> {
        self.tx.send_frame(frame).await
    }
}

impl E2Receiver for MemTransport {
    async fn recv(&mut self) -> Result<Option<TransportEvent>, TransportError> {
        self.rx.recv().await
    }
}

impl E2Transport for MemTransport {
    type Sender = MemSender;
    type Receiver = MemReceiver;

    fn peer(&self) -> Peer {
        Peer::Memory(self.rx.id)
    }

    fn into_split(self) -> (MemSender, MemReceiver) {
        (self.tx, self.rx)
    }
}
