//! [`RicServer`]: one task owning the [`Ric`], socket tasks per association,
//! and the application's [`RicHandle`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use qsafe_asn1::e2ap_asn as asn;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant as TokioInstant;

use super::DriverError;
use crate::common::{E2NodeId, NotAdmittedAction, RequestId, Transmit};
use crate::ric::{
    AssociationId, ControlRequest, Event, Indication, NodeRegistry, Ric, RicConfig, RicStats, SubscriptionRequest,
};
use crate::transport::memory::{self, MemTransport};
use crate::transport::sctp::{SctpAssociation, SctpListener};
use crate::transport::{E2Receiver, E2Sender, E2Transport, Peer, TransportEvent};

/// Tuning of a [`RicServer`].
#[derive(Debug, Clone)]
pub struct RicServerOptions {
    /// Timeout of subscribe, unsubscribe, control and reset requests. Default 5 s.
    pub request_timeout: Duration,
    /// Frames (from all associations) buffered towards the RIC task. Default 8192.
    pub inbound_capacity: usize,
    /// Most inbound messages handled before the RIC's output is flushed. Default 256.
    pub batch: usize,
    /// PDUs buffered per association towards its writer; when full the peer
    /// is not reading and the association is closed. Default 4096.
    pub writer_capacity: usize,
    /// Indications buffered per subscription before the RIC task waits for
    /// the consumer (backpressure). Default 8192.
    pub subscription_capacity: usize,
    /// Lifecycle events kept for slow [`RicHandle::events`] receivers. Default 4096.
    pub event_capacity: usize,
    /// Buffer (frames per direction) of the in-memory pairs made by
    /// [`RicHandle::connect_memory`]. Default 1024.
    pub memory_capacity: usize,
}

impl Default for RicServerOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(5),
            inbound_capacity: 8192,
            batch: 256,
            writer_capacity: 4096,
            subscription_capacity: 8192,
            event_capacity: 4096,
            memory_capacity: 1024,
        }
    }
}

/// Counters of a [`RicServer`] (the [`Ric`]'s own plus the driver's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RicServerStats {
    /// The state machine's counters.
    pub ric: RicStats,
    /// Associations that came up.
    pub associations_up: u64,
    /// Associations that went down or were closed.
    pub associations_down: u64,
    /// Associations the RIC closed (setup wait expired, writer full, `disconnect`).
    pub associations_closed: u64,
    /// Indications handed to subscribers.
    pub indications_delivered: u64,
    /// Indications for a subscription whose receiver was dropped.
    pub indications_unrouted: u64,
    /// PDUs handed to association writers.
    pub pdus_sent: u64,
}

/// An established subscription: its id, what the node admitted, and the
/// channel of its indications (closed when the subscription ends: deleted,
/// node disconnected, reset).
#[derive(Debug)]
pub struct RicSubscription {
    /// Its RIC request id.
    pub id: RequestId,
    /// The node.
    pub node: E2NodeId,
    /// The RAN function.
    pub ran_function_id: u16,
    /// Admitted action ids.
    pub admitted: Vec<u8>,
    /// Actions the node did not admit.
    pub not_admitted: Vec<NotAdmittedAction>,
    /// The indications, in arrival order.
    pub indications: mpsc::Receiver<Indication>,
}

impl RicSubscription {
    /// The next indication; `None` once the subscription has ended and every
    /// indication was received.
    pub async fn recv(&mut self) -> Option<Indication> {
        self.indications.recv().await
    }

    /// Up to `limit` indications at once (at least one unless ended).
    pub async fn recv_many(&mut self, buffer: &mut Vec<Indication>, limit: usize) -> usize {
        self.indications.recv_many(buffer, limit).await
    }
}

/// A RIC CONTROL ACKNOWLEDGE (or, without an ack request, the request queued).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlOutcome {
    /// The request id used.
    pub request: RequestId,
    /// Whether the node acknowledged (false: no ack was requested).
    pub acknowledged: bool,
    /// `ricControlOutcome`, if any.
    pub outcome: Option<Bytes>,
    /// `ricCallProcessID`, if echoed.
    pub call_process_id: Option<Bytes>,
}

type Reply<T> = oneshot::Sender<Result<T, DriverError>>;
type Closer = Box<dyn Fn() + Send + Sync>;

enum Command {
    Subscribe { node: E2NodeId, request: SubscriptionRequest, timeout: Duration, reply: Reply<RicSubscription> },
    Unsubscribe { id: RequestId, timeout: Duration, reply: Reply<()> },
    Control { node: E2NodeId, request: ControlRequest, timeout: Duration, reply: Reply<ControlOutcome> },
    Reset { node: E2NodeId, cause: asn::Cause, timeout: Duration, reply: Reply<()> },
    Registry { reply: oneshot::Sender<NodeRegistry> },
    Peer { node: E2NodeId, reply: oneshot::Sender<Option<Peer>> },
    Disconnect { node: E2NodeId, reply: Reply<()> },
    Bar { node: E2NodeId, barred: bool, reply: oneshot::Sender<bool> },
    Stats { reply: oneshot::Sender<RicServerStats> },
    Shutdown { reply: oneshot::Sender<RicServerStats> },
}

enum Inbound {
    Up { link: u64, peer: Peer, writer: mpsc::Sender<Transmit>, close: oneshot::Sender<()>, closer: Option<Closer> },
    Frame { link: u64, stream: u16, payload: Bytes },
    Restart { link: u64 },
    Down { link: u64 },
}

/// The RIC driver: one task owning a [`Ric`]. Stop it with
/// [`RicServer::shutdown`] (or [`RicHandle::shutdown`]).
#[derive(Debug)]
pub struct RicServer {
    handle: RicHandle,
    task: JoinHandle<RicServerStats>,
}

/// The application's (cloneable) access to a [`RicServer`].
#[derive(Clone)]
pub struct RicHandle {
    cmd: mpsc::Sender<Command>,
    inbound: mpsc::Sender<Inbound>,
    events: broadcast::Sender<Event>,
    next_link: Arc<AtomicU64>,
    options: Arc<RicServerOptions>,
}

impl std::fmt::Debug for RicHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RicHandle").field("stopped", &self.cmd.is_closed()).finish()
    }
}

impl RicServer {
    /// Starts the RIC task (on the current tokio runtime).
    pub fn spawn(config: RicConfig, options: RicServerOptions) -> Self {
        let (cmd_tx, cmd_rx) = mpsc::channel(256);
        let (in_tx, in_rx) = mpsc::channel(options.inbound_capacity.max(1));
        let (ev_tx, _) = broadcast::channel(options.event_capacity.max(1));
        let options = Arc::new(options);
        let handle = RicHandle {
            cmd: cmd_tx,
            inbound: in_tx,
            events: ev_tx.clone(),
            next_link: Arc::new(AtomicU64::new(1)),
            options: options.clone(),
        };
        let task = RicTask {
            ric: Ric::new(config),
            options,
            links: HashMap::new(),
            by_assoc: HashMap::new(),
            subs: HashMap::new(),
            pending_subscribe: HashMap::new(),
            pending_unsubscribe: HashMap::new(),
            pending_control: HashMap::new(),
            pending_reset: HashMap::new(),
            events: ev_tx,
            stats: RicServerStats::default(),
        };
        let task = tokio::spawn(task.run(cmd_rx, in_rx));
        Self { handle, task }
    }

    /// A handle for applications and listeners.
    pub fn handle(&self) -> RicHandle {
        self.handle.clone()
    }

    /// Closes every association (queued PDUs are still written), stops the
    /// task and returns its final counters.
    pub async fn shutdown(self) -> RicServerStats {
        let _ = self.handle.shutdown().await;
        self.task.await.unwrap_or_default()
    }
}

impl RicHandle {
    /// Serves an E2 association (any transport): spawns its reader and
    /// writer tasks; the RIC sees it once the transport reports `Up`.
    pub fn attach<T: E2Transport + Send + 'static>(&self, transport: T) {
        self.attach_with(transport, None);
    }

    /// Serves a kernel SCTP association; when the RIC closes it (setup wait
    /// expired, [`RicHandle::disconnect`], …) the association is aborted.
    pub fn attach_sctp(&self, association: SctpAssociation) {
        let (tx, rx) = association.into_split();
        let abort = tx.clone();
        let closer: Closer = Box::new(move || {
            if let Err(e) = abort.abort_on_close() {
                tracing::debug!(error = %e, "SO_LINGER for abort failed");
            }
        });
        self.attach_halves(tx, rx, Some(closer));
    }

    fn attach_with<T: E2Transport + Send + 'static>(&self, transport: T, closer: Option<Closer>) {
        let (tx, rx) = transport.into_split();
        self.attach_halves(tx, rx, closer);
    }

    fn attach_halves<S, R>(&self, tx: S, rx: R, closer: Option<Closer>)
    where
        S: E2Sender + 'static,
        R: E2Receiver + 'static,
    {
        let link = self.next_link.fetch_add(1, Ordering::Relaxed);
        let (wtx, wrx) = mpsc::channel(self.options.writer_capacity.max(1));
        tokio::spawn(writer(link, tx, wrx));
        tokio::spawn(reader(link, rx, self.inbound.clone(), wtx, closer));
    }

    /// An in-memory association to this RIC: returns the node's end.
    pub fn connect_memory(&self) -> Result<MemTransport, DriverError> {
        if self.cmd.is_closed() {
            return Err(DriverError::Stopped);
        }
        let (node_end, ric_end) = memory::pair(self.options.memory_capacity);
        self.attach(ric_end);
        Ok(node_end)
    }

    /// Accepts associations from `listener` until the server stops; each is
    /// served as by [`RicHandle::attach_sctp`].
    pub fn serve_sctp(&self, listener: SctpListener) -> JoinHandle<()> {
        let handle = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = handle.cmd.closed() => break,
                    accepted = listener.accept() => match accepted {
                        Ok(assoc) => {
                            tracing::debug!(peer = %assoc.peer_addr(), "SCTP association accepted");
                            handle.attach_sctp(assoc);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "SCTP accept failed");
                            if e.is_fatal() {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                        }
                    },
                }
            }
        })
    }

    /// Lifecycle events (every [`Event`] except indications, which go to
    /// their [`RicSubscription`]).
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(make(tx)).await.map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)?
    }

    /// Subscribes and waits for the node's answer (RIC SUBSCRIPTION RESPONSE
    /// → the subscription; FAILURE, timeout or loss → an error).
    pub async fn subscribe(
        &self,
        node: &E2NodeId,
        request: SubscriptionRequest,
    ) -> Result<RicSubscription, DriverError> {
        let timeout = self.options.request_timeout;
        self.call(|reply| Command::Subscribe { node: node.clone(), request, timeout, reply }).await
    }

    /// Deletes a subscription and waits for the node's answer.
    pub async fn unsubscribe(&self, id: RequestId) -> Result<(), DriverError> {
        let timeout = self.options.request_timeout;
        self.call(|reply| Command::Unsubscribe { id, timeout, reply }).await
    }

    /// Sends a RIC CONTROL REQUEST; with `ack_requested` waits for the
    /// acknowledge (failure → [`DriverError::ControlFailed`]).
    pub async fn control(&self, node: &E2NodeId, request: ControlRequest) -> Result<ControlOutcome, DriverError> {
        let timeout = self.options.request_timeout;
        self.call(|reply| Command::Control { node: node.clone(), request, timeout, reply }).await
    }

    /// Resets the node's E2 association and waits for RESET RESPONSE.
    pub async fn reset(&self, node: &E2NodeId, cause: asn::Cause) -> Result<(), DriverError> {
        let timeout = self.options.request_timeout;
        self.call(|reply| Command::Reset { node: node.clone(), cause, timeout, reply }).await
    }

    /// Closes (aborts, for SCTP) the node's association.
    pub async fn disconnect(&self, node: &E2NodeId) -> Result<(), DriverError> {
        self.call(|reply| Command::Disconnect { node: node.clone(), reply }).await
    }

    /// Bars a node (its E2 Setup is refused with a `TimeToWait`, so it keeps
    /// retrying) or admits it again; see [`crate::ric::Ric::bar`]. Returns
    /// whether its barring changed.
    pub async fn bar(&self, node: &E2NodeId, barred: bool) -> Result<bool, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Command::Bar { node: node.clone(), barred, reply: tx })
            .await
            .map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)
    }

    /// A snapshot of the node registry.
    pub async fn registry(&self) -> Result<NodeRegistry, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(Command::Registry { reply: tx }).await.map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)
    }

    /// The address of the node's current association (its SCTP primary
    /// peer address and port), if it is connected. The key plane uses it
    /// for the IPsec selectors of the link.
    pub async fn peer(&self, node: &E2NodeId) -> Result<Option<Peer>, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(Command::Peer { node: node.clone(), reply: tx }).await.map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)
    }

    /// Counters so far.
    pub async fn stats(&self) -> Result<RicServerStats, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(Command::Stats { reply: tx }).await.map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)
    }

    /// Stops the server: every association is closed after its queued PDUs
    /// are written; returns the final counters.
    pub async fn shutdown(&self) -> Result<RicServerStats, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(Command::Shutdown { reply: tx }).await.map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)
    }
}

// ------------------------------------------------------------------ socket tasks

async fn writer<S: E2Sender>(link: u64, mut tx: S, mut rx: mpsc::Receiver<Transmit>) {
    let mut batch = Vec::with_capacity(64);
    while rx.recv_many(&mut batch, 64).await > 0 {
        for t in batch.drain(..) {
            if let Err(e) = tx.send(t.stream, Bytes::from(t.bytes)).await {
                tracing::debug!(link, error = %e, "E2 writer: send failed");
                if e.is_fatal() {
                    return;
                }
            }
        }
    }
}

async fn reader<R: E2Receiver>(
    link: u64,
    mut rx: R,
    inbound: mpsc::Sender<Inbound>,
    writer: mpsc::Sender<Transmit>,
    closer: Option<Closer>,
) {
    let (close_tx, mut close_rx) = oneshot::channel::<()>();
    let mut up = Some((writer, close_tx, closer));
    loop {
        let event = tokio::select! {
            biased;
            _ = &mut close_rx, if up.is_none() => return,
            ev = rx.recv() => ev,
        };
        let msg = match event {
            Ok(Some(TransportEvent::Frame(f))) => Inbound::Frame { link, stream: f.stream, payload: f.payload },
            Ok(Some(TransportEvent::Up { peer, .. })) => match up.take() {
                Some((writer, close, closer)) => Inbound::Up { link, peer, writer, close, closer },
                None => continue,
            },
            Ok(Some(TransportEvent::Restart { .. })) => Inbound::Restart { link },
            Ok(Some(TransportEvent::Shutdown)) => continue,
            Ok(Some(TransportEvent::Down { reason })) => {
                tracing::debug!(link, ?reason, "E2 association down");
                Inbound::Down { link }
            }
            Ok(None) => return,
            Err(e) if !e.is_fatal() => {
                tracing::warn!(link, error = %e, "E2 receive error");
                continue;
            }
            Err(e) => {
                tracing::warn!(link, error = %e, "E2 association failed");
                Inbound::Down { link }
            }
        };
        let last = matches!(msg, Inbound::Down { .. });
        if up.is_some() && last {
            return; // never came up: nothing to report
        }
        if inbound.send(msg).await.is_err() || last {
            return;
        }
    }
}

// ------------------------------------------------------------------ the RIC task

struct Link {
    assoc: AssociationId,
    peer: Peer,
    writer: mpsc::Sender<Transmit>,
    /// Dropping it stops the reader.
    _close: oneshot::Sender<()>,
    closer: Option<Closer>,
}

struct RicTask {
    ric: Ric,
    options: Arc<RicServerOptions>,
    links: HashMap<u64, Link>,
    by_assoc: HashMap<AssociationId, u64>,
    subs: HashMap<RequestId, mpsc::Sender<Indication>>,
    pending_subscribe: HashMap<RequestId, Reply<RicSubscription>>,
    pending_unsubscribe: HashMap<RequestId, Reply<()>>,
    pending_control: HashMap<RequestId, Reply<ControlOutcome>>,
    pending_reset: HashMap<E2NodeId, Reply<()>>,
    events: broadcast::Sender<Event>,
    stats: RicServerStats,
}

fn now() -> std::time::Instant {
    TokioInstant::now().into_std()
}

impl RicTask {
    async fn run(mut self, mut cmds: mpsc::Receiver<Command>, mut inbound: mpsc::Receiver<Inbound>) -> RicServerStats {
        let mut batch = Vec::with_capacity(self.options.batch.max(1));
        loop {
            let deadline = self.ric.poll_timeout();
            tokio::select! {
                biased;
                cmd = cmds.recv() => match cmd {
                    Some(Command::Shutdown { reply }) => {
                        let stats = self.shutdown();
                        let _ = reply.send(stats);
                        return stats;
                    }
                    Some(cmd) => self.command(cmd),
                    None => return self.shutdown(),
                },
                _ = sleep_until(deadline), if deadline.is_some() => self.ric.handle_timeout(now()),
                n = inbound.recv_many(&mut batch, self.options.batch.max(1)) => {
                    if n == 0 {
                        return self.shutdown();
                    }
                    let now = now();
                    for msg in batch.drain(..) {
                        self.inbound(now, msg);
                    }
                }
            }
            self.flush().await;
        }
    }

    fn shutdown(&mut self) -> RicServerStats {
        let now = now();
        for (_, link) in self.links.drain() {
            let _ = self.ric.connection_lost(now, link.assoc);
            self.stats.associations_down += 1;
        }
        self.by_assoc.clear();
        self.subs.clear();
        self.snapshot()
    }

    fn snapshot(&self) -> RicServerStats {
        RicServerStats { ric: self.ric.stats(), ..self.stats }
    }

    fn inbound(&mut self, now: std::time::Instant, msg: Inbound) {
        match msg {
            Inbound::Frame { link, stream, payload } => {
                if let Some(l) = self.links.get(&link) {
                    // Unknown association: closed by us a moment ago.
                    let _ = self.ric.handle_pdu(now, l.assoc, stream, &payload);
                }
            }
            Inbound::Up { link, peer, writer, close, closer } => {
                let assoc = self.ric.connection_up(now);
                tracing::debug!(%peer, %assoc, "E2 association up");
                self.stats.associations_up += 1;
                self.by_assoc.insert(assoc, link);
                self.links.insert(link, Link { assoc, peer, writer, _close: close, closer });
            }
            Inbound::Restart { link } => {
                if let Some(l) = self.links.get_mut(&link) {
                    let _ = self.ric.connection_lost(now, l.assoc);
                    self.by_assoc.remove(&l.assoc);
                    l.assoc = self.ric.connection_up(now);
                    self.by_assoc.insert(l.assoc, link);
                }
            }
            Inbound::Down { link } => {
                if let Some(l) = self.links.remove(&link) {
                    self.by_assoc.remove(&l.assoc);
                    let _ = self.ric.connection_lost(now, l.assoc);
                    self.stats.associations_down += 1;
                }
            }
        }
    }

    /// Closes an association from the RIC side.
    fn close(&mut self, assoc: AssociationId) {
        let Some(link) = self.by_assoc.remove(&assoc) else { return };
        if let Some(l) = self.links.remove(&link)
            && let Some(closer) = &l.closer
        {
            closer();
            // Dropping `l` closes the writer channel (the writer flushes and
            // exits) and stops the reader: both halves go, the transport closes.
        }
        let _ = self.ric.connection_lost(now(), assoc);
        self.stats.associations_closed += 1;
        self.stats.associations_down += 1;
    }

    fn command(&mut self, cmd: Command) {
        let now = now();
        match cmd {
            Command::Subscribe { node, request, timeout, reply } => {
                match self.ric.subscribe(now, &node, request, timeout) {
                    Ok(id) => {
                        self.pending_subscribe.insert(id, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::Unsubscribe { id, timeout, reply } => match self.ric.unsubscribe(now, id, timeout) {
                Ok(()) => {
                    // An unanswered subscribe is abandoned.
                    if let Some(r) = self.pending_subscribe.remove(&id) {
                        let _ = r.send(Err(DriverError::Timeout("subscription (deleted meanwhile)")));
                    }
                    self.pending_unsubscribe.insert(id, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Command::Control { node, request, timeout, reply } => {
                let ack = request.ack_requested;
                match self.ric.control(now, &node, request, timeout) {
                    Ok(id) if ack => {
                        self.pending_control.insert(id, reply);
                    }
                    Ok(id) => {
                        let outcome =
                            ControlOutcome { request: id, acknowledged: false, outcome: None, call_process_id: None };
                        let _ = reply.send(Ok(outcome));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Command::Reset { node, cause, timeout, reply } => match self.ric.reset(now, &node, cause, timeout) {
                Ok(()) => {
                    self.pending_reset.insert(node, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Command::Bar { node, barred, reply } => {
                let _ = reply.send(self.ric.bar(&node, barred));
            }
            Command::Disconnect { node, reply } => {
                let assoc = self.ric.registry().get(&node).and_then(|n| n.association());
                match assoc {
                    Some(a) => {
                        self.close(a);
                        let _ = reply.send(Ok(()));
                    }
                    None => {
                        let err = if self.ric.registry().get(&node).is_some() {
                            crate::ric::RicError::NodeNotConnected(node)
                        } else {
                            crate::ric::RicError::UnknownNode(node)
                        };
                        let _ = reply.send(Err(err.into()));
                    }
                }
            }
            Command::Registry { reply } => {
                let _ = reply.send(self.ric.registry().clone());
            }
            Command::Peer { node, reply } => {
                let assoc = self.ric.registry().get(&node).and_then(|n| n.association());
                let peer = assoc.and_then(|a| self.by_assoc.get(&a)).and_then(|l| self.links.get(l)).map(|l| l.peer);
                let _ = reply.send(peer);
            }
            Command::Stats { reply } => {
                let _ = reply.send(self.snapshot());
            }
            Command::Shutdown { .. } => {}
        }
    }

    /// Writes what the RIC wants sent and dispatches its events, until both
    /// are drained.
    async fn flush(&mut self) {
        loop {
            let mut overflow = Vec::new();
            let mut moved = false;
            while let Some((assoc, t)) = self.ric.poll_transmit() {
                moved = true;
                let Some(link) = self.by_assoc.get(&assoc).and_then(|l| self.links.get(l)) else { continue };
                match link.writer.try_send(t) {
                    Ok(()) => self.stats.pdus_sent += 1,
                    Err(mpsc::error::TrySendError::Full(_)) => overflow.push(assoc),
                    Err(mpsc::error::TrySendError::Closed(_)) => {}
                }
            }
            for assoc in overflow {
                tracing::warn!(%assoc, "E2 peer is not reading (writer queue full): closing the association");
                self.close(assoc);
            }
            while let Some(ev) = self.ric.poll_event() {
                moved = true;
                self.dispatch(ev).await;
            }
            if !moved {
                break;
            }
        }
    }

    fn end_subscription(&mut self, id: RequestId, node: &E2NodeId) {
        self.subs.remove(&id);
        if let Some(r) = self.pending_subscribe.remove(&id) {
            let _ = r.send(Err(DriverError::NodeGone(Box::new(node.clone()))));
        }
        if let Some(r) = self.pending_unsubscribe.remove(&id) {
            let _ = r.send(Ok(()));
        }
    }

    fn end_control(&mut self, id: RequestId, node: &E2NodeId) {
        if let Some(r) = self.pending_control.remove(&id) {
            let _ = r.send(Err(DriverError::NodeGone(Box::new(node.clone()))));
        }
    }

    async fn dispatch(&mut self, ev: Event) {
        if let Event::Indication(ind) = ev {
            let id = ind.subscription;
            let Some(tx) = self.subs.get(&id) else {
                self.stats.indications_unrouted += 1;
                return;
            };
            let delivered = match tx.try_send(ind) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(ind)) => tx.send(ind).await.is_ok(),
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            };
            if delivered {
                self.stats.indications_delivered += 1;
            } else {
                self.stats.indications_unrouted += 1;
                self.subs.remove(&id);
            }
            return;
        }
        match &ev {
            Event::SubscriptionEstablished { subscription, node, ran_function_id, admitted, not_admitted } => {
                let (tx, rx) = mpsc::channel(self.options.subscription_capacity.max(1));
                let sub = RicSubscription {
                    id: *subscription,
                    node: node.clone(),
                    ran_function_id: *ran_function_id,
                    admitted: admitted.clone(),
                    not_admitted: not_admitted.clone(),
                    indications: rx,
                };
                match self.pending_subscribe.remove(subscription) {
                    Some(reply) => match reply.send(Ok(sub)) {
                        Ok(()) => {
                            self.subs.insert(*subscription, tx);
                        }
                        Err(_) => {
                            // Nobody waits for it any more: delete it.
                            let _ = self.ric.unsubscribe(now(), *subscription, self.options.request_timeout);
                        }
                    },
                    None => {
                        let _ = self.ric.unsubscribe(now(), *subscription, self.options.request_timeout);
                    }
                }
            }
            Event::SubscriptionFailed { subscription, node, cause, .. } => {
                if let Some(r) = self.pending_subscribe.remove(subscription) {
                    let _ = r.send(Err(DriverError::SubscriptionFailed {
                        subscription: *subscription,
                        node: Box::new(node.clone()),
                        cause: cause.clone(),
                    }));
                }
            }
            Event::SubscriptionTimedOut { subscription, .. } => {
                if let Some(r) = self.pending_subscribe.remove(subscription) {
                    let _ = r.send(Err(DriverError::Timeout("subscription request")));
                }
            }
            Event::SubscriptionDeleted { subscription, node, .. } => self.end_subscription(*subscription, node),
            Event::SubscriptionDeleteFailed { subscription, cause, still_active, node } => {
                if !still_active {
                    self.subs.remove(subscription);
                    self.end_subscription(*subscription, node);
                } else if let Some(r) = self.pending_unsubscribe.remove(subscription) {
                    let _ =
                        r.send(Err(DriverError::DeleteFailed { subscription: *subscription, cause: cause.clone() }));
                }
            }
            Event::SubscriptionDeleteTimedOut { subscription, still_active, node } => {
                if let Some(r) = self.pending_unsubscribe.remove(subscription) {
                    let _ = r.send(Err(DriverError::Timeout("subscription delete")));
                }
                if !still_active {
                    self.end_subscription(*subscription, node);
                }
            }
            Event::ControlAcknowledged { request, outcome, call_process_id, .. } => {
                if let Some(r) = self.pending_control.remove(request) {
                    let _ = r.send(Ok(ControlOutcome {
                        request: *request,
                        acknowledged: true,
                        outcome: outcome.clone(),
                        call_process_id: call_process_id.clone(),
                    }));
                }
            }
            Event::ControlFailed { request, node, cause, outcome, .. } => {
                if let Some(r) = self.pending_control.remove(request) {
                    let _ = r.send(Err(DriverError::ControlFailed {
                        request: *request,
                        node: Box::new(node.clone()),
                        cause: cause.clone(),
                        outcome: outcome.clone(),
                    }));
                }
            }
            Event::ControlTimedOut { request, .. } => {
                if let Some(r) = self.pending_control.remove(request) {
                    let _ = r.send(Err(DriverError::Timeout("control request")));
                }
            }
            Event::NodeDisconnected { node, subscriptions_lost, controls_lost, .. } => {
                for id in subscriptions_lost {
                    self.end_subscription(*id, node);
                }
                for id in controls_lost {
                    self.end_control(*id, node);
                }
                if let Some(r) = self.pending_reset.remove(node) {
                    let _ = r.send(Err(DriverError::NodeGone(Box::new(node.clone()))));
                }
            }
            Event::ResetByNode { node, subscriptions_cleared, controls_aborted, .. } => {
                for id in subscriptions_cleared {
                    self.end_subscription(*id, node);
                }
                for id in controls_aborted {
                    self.end_control(*id, node);
                }
            }
            Event::ResetCompleted { node, subscriptions_cleared, controls_aborted } => {
                for id in subscriptions_cleared {
                    self.end_subscription(*id, node);
                }
                for id in controls_aborted {
                    self.end_control(*id, node);
                }
                if let Some(r) = self.pending_reset.remove(node) {
                    let _ = r.send(Ok(()));
                }
            }
            Event::ResetTimedOut { node } => {
                if let Some(r) = self.pending_reset.remove(node) {
                    let _ = r.send(Err(DriverError::Timeout("reset")));
                }
            }
            Event::SetupWaitExpired { association } => {
                tracing::info!(%association, "no E2 Setup in time: closing the association");
                self.close(*association);
            }
            _ => {}
        }
        // Lifecycle events to whoever listens (none listening is fine).
        let _ = self.events.send(ev);
    }
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(TokioInstant::from_std(d)).await,
        None => std::future::pending().await,
    }
}
