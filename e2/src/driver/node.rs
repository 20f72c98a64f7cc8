//! [`NodeClient`]: one [`E2NodeAgent`] driven over a (re)connecting transport.

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use qsafe_asn1::e2ap_asn as asn;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant as TokioInstant;

use super::{DriverError, RicHandle};
use crate::common::{NotAdmittedAction, RequestId, Transmit};
use crate::node::{E2NodeAgent, E2NodeConfig, Event, NodeError, NodeStats};
use crate::transport::memory::MemTransport;
use crate::transport::sctp::{SctpAssociation, SctpOptions};
use crate::transport::{DownReason, E2Receiver, E2Sender, E2Transport, Peer, TransportError, TransportEvent};

/// Opens associations to the RIC for a [`NodeClient`] (one attempt per call;
/// the client retries with backoff).
pub trait Connector: Send + 'static {
    /// The transport it makes.
    type Transport: E2Transport + Send + 'static;

    /// One connection attempt.
    fn connect(&mut self) -> impl Future<Output = Result<Self::Transport, TransportError>> + Send;

    /// Called before the client drops an association on purpose
    /// ([`NodeHandle::drop_association`]): SCTP makes the close an ABORT.
    fn prepare_abort(_sender: &<Self::Transport as E2Transport>::Sender) {}

    /// Where it connects, for logs.
    fn describe(&self) -> String;
}

/// Kernel SCTP to `addr` (one [`SctpAssociation::connect`] per attempt).
#[derive(Debug, Clone)]
pub struct SctpConnector {
    /// The RIC's E2 address.
    pub addr: SocketAddr,
    /// Socket options.
    pub options: SctpOptions,
}

impl Connector for SctpConnector {
    type Transport = SctpAssociation;

    fn connect(&mut self) -> impl Future<Output = Result<SctpAssociation, TransportError>> + Send {
        SctpAssociation::connect(self.addr, self.options.clone())
    }

    fn prepare_abort(sender: &crate::transport::sctp::SctpSender) {
        let _ = sender.abort_on_close();
    }

    fn describe(&self) -> String {
        format!("sctp://{}", self.addr)
    }
}

/// In-memory associations to a [`super::RicServer`] in the same process.
#[derive(Debug, Clone)]
pub struct MemoryConnector {
    /// The RIC.
    pub ric: RicHandle,
}

impl Connector for MemoryConnector {
    type Transport = MemTransport;

    fn connect(&mut self) -> impl Future<Output = Result<MemTransport, TransportError>> + Send {
        let r = self.ric.connect_memory().map_err(|_| TransportError::Closed);
        std::future::ready(r)
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}

/// Behaviour of a [`NodeClient`].
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Reconnect after the association is lost (each time with a new E2
    /// Setup). Default true.
    pub reconnect: bool,
    /// First delay between failed connection attempts. Default 20 ms.
    pub backoff_initial: Duration,
    /// Largest delay (doubling from the first). Default 2 s.
    pub backoff_max: Duration,
    /// Give up when no attempt succeeded for this long (`None`: never).
    /// Default 30 s. A kernel without SCTP gives up at once.
    pub connect_deadline: Option<Duration>,
    /// Application commands buffered. Default 4096.
    pub command_capacity: usize,
    /// PDUs buffered towards the writer task. Default 1024.
    pub writer_capacity: usize,
    /// PDUs the agent may have produced but not yet handed to the writer
    /// before application commands (indications) wait. Default 1024.
    pub outbox_limit: usize,
}

impl Default for NodeOptions {
    fn default() -> Self {
        Self {
            reconnect: true,
            backoff_initial: Duration::from_millis(20),
            backoff_max: Duration::from_secs(2),
            connect_deadline: Some(Duration::from_secs(30)),
            command_capacity: 4096,
            writer_capacity: 1024,
            outbox_limit: 1024,
        }
    }
}

/// What a [`NodeClient`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// A connection attempt failed; the next one follows after `retry_in`.
    ConnectFailed {
        /// The error.
        error: String,
        /// Delay until the next attempt.
        retry_in: Duration,
    },
    /// The association is up; E2 SETUP REQUEST was sent.
    Connected {
        /// The RIC.
        peer: Peer,
        /// The node's own end of the association (kernel SCTP), if known.
        local: Option<std::net::SocketAddr>,
    },
    /// An event of the agent (setup complete, subscription requested, …).
    Agent(Event),
    /// The association is gone (the agent has cleared its subscriptions).
    Disconnected {
        /// Why, when the transport said.
        reason: Option<DownReason>,
    },
    /// No connection attempt succeeded before [`NodeOptions::connect_deadline`]; the client stopped.
    GaveUp {
        /// The last error.
        error: String,
    },
}

/// Counters of a [`NodeClient`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeCommandStats {
    /// The agent's counters (accumulated across associations).
    pub agent: NodeStats,
    /// Associations that came up.
    pub connections: u64,
    /// Indication commands the agent refused (subscription gone, not set up).
    pub indications_refused: u64,
    /// PDUs handed to the transport.
    pub pdus_sent: u64,
}

enum Command {
    Indication { subscription: RequestId, action_id: u8, header: Bytes, message: Bytes },
    Accept { request: RequestId, admitted: Vec<u8>, not_admitted: Vec<NotAdmittedAction>, reply: Reply },
    Reject { request: RequestId, cause: asn::Cause, reply: Reply },
    Ack { request: RequestId, outcome: Option<Bytes>, reply: Reply },
    Fail { request: RequestId, cause: asn::Cause, outcome: Option<Bytes>, reply: Reply },
    Reset { cause: asn::Cause, reply: Reply },
    DropAssociation,
    Stats { reply: oneshot::Sender<NodeCommandStats> },
    Shutdown,
}

type Reply = oneshot::Sender<Result<(), DriverError>>;

/// The application's (cloneable) access to a [`NodeClient`].
#[derive(Debug, Clone)]
pub struct NodeHandle {
    cmd: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

/// One emulated (or real) E2 node: an [`E2NodeAgent`] in its own task,
/// connected through a [`Connector`].
#[derive(Debug)]
pub struct NodeClient {
    /// Commands.
    pub handle: NodeHandle,
    /// Events (unbounded: the client never waits for the application).
    pub events: mpsc::UnboundedReceiver<NodeEvent>,
    /// The task; yields the final counters.
    pub task: JoinHandle<NodeCommandStats>,
}

impl NodeClient {
    /// Starts the node task: connects, runs E2 Setup, serves the RIC.
    pub fn spawn<C: Connector>(config: E2NodeConfig, connector: C, options: NodeOptions) -> Result<Self, NodeError> {
        let agent = E2NodeAgent::new(config)?;
        let (cmd_tx, cmd_rx) = mpsc::channel(options.command_capacity.max(1));
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(agent, connector, options, cmd_rx, ev_tx));
        Ok(Self { handle: NodeHandle { cmd: cmd_tx }, events: ev_rx, task })
    }
}

impl NodeHandle {
    async fn call(&self, make: impl FnOnce(Reply) -> Command) -> Result<(), DriverError> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(make(tx)).await.map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)?
    }

    /// Queues a RIC INDICATION (report or insert per the action). Waits only
    /// while the client's buffers are full (backpressure); a refusal by the
    /// agent (subscription gone) is counted in
    /// [`NodeCommandStats::indications_refused`], not returned.
    pub async fn send_indication(
        &self,
        subscription: RequestId,
        action_id: u8,
        header: Bytes,
        message: Bytes,
    ) -> Result<(), DriverError> {
        self.cmd
            .send(Command::Indication { subscription, action_id, header, message })
            .await
            .map_err(|_| DriverError::Stopped)
    }

    /// Admits a requested subscription (see [`E2NodeAgent::accept_subscription`]).
    pub async fn accept_subscription(
        &self,
        request: RequestId,
        admitted: Vec<u8>,
        not_admitted: Vec<NotAdmittedAction>,
    ) -> Result<(), DriverError> {
        self.call(|reply| Command::Accept { request, admitted, not_admitted, reply }).await
    }

    /// Refuses a requested subscription with RIC SUBSCRIPTION FAILURE.
    pub async fn reject_subscription(&self, request: RequestId, cause: asn::Cause) -> Result<(), DriverError> {
        self.call(|reply| Command::Reject { request, cause, reply }).await
    }

    /// Acknowledges a control request.
    pub async fn ack_control(&self, request: RequestId, outcome: Option<Bytes>) -> Result<(), DriverError> {
        self.call(|reply| Command::Ack { request, outcome, reply }).await
    }

    /// Fails a control request (RIC CONTROL FAILURE).
    pub async fn fail_control(
        &self,
        request: RequestId,
        cause: asn::Cause,
        outcome: Option<Bytes>,
    ) -> Result<(), DriverError> {
        self.call(|reply| Command::Fail { request, cause, outcome, reply }).await
    }

    /// Sends RESET REQUEST (clears the node's subscriptions).
    pub async fn reset(&self, cause: asn::Cause) -> Result<(), DriverError> {
        self.call(|reply| Command::Reset { cause, reply }).await
    }

    /// Drops the association (an ABORT on SCTP); the client reconnects if
    /// [`NodeOptions::reconnect`].
    pub async fn drop_association(&self) -> Result<(), DriverError> {
        self.cmd.send(Command::DropAssociation).await.map_err(|_| DriverError::Stopped)
    }

    /// Counters so far.
    pub async fn stats(&self) -> Result<NodeCommandStats, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(Command::Stats { reply: tx }).await.map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)
    }

    /// Stops the client after the commands queued before it (the task's
    /// result has the final counters).
    pub async fn shutdown(&self) -> Result<(), DriverError> {
        self.cmd.send(Command::Shutdown).await.map_err(|_| DriverError::Stopped)
    }
}

fn now() -> std::time::Instant {
    TokioInstant::now().into_std()
}

enum Exit {
    Down(Option<DownReason>),
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Drop,
    Stop,
}

struct State {
    agent: E2NodeAgent,
    stats: NodeCommandStats,
    events: mpsc::UnboundedSender<NodeEvent>,
}

impl State {
    fn emit(&self, ev: NodeEvent) {
        let _ = self.events.send(ev);
    }

    fn drain_events(&mut self) {
        while let Some(ev) = self.agent.poll_event() {
            let _ = self.events.send(NodeEvent::Agent(ev));
        }
    }

    /// A command (or the end of the command channel: `None`) received while
    /// no association is up; `Flow::Stop` ends the driver.
    fn command_while_disconnected(&mut self, cmd: Option<Command>) -> Flow {
        let flow = cmd.map_or(Flow::Stop, |c| self.command(c));
        self.drain_events();
        flow
    }

    fn command(&mut self, cmd: Command) -> Flow {
        let now = now();
        let reply = |r: Reply, res: Result<(), NodeError>| {
            let _ = r.send(res.map_err(DriverError::from));
        };
        match cmd {
            Command::Indication { subscription, action_id, header, message } => {
                if let Err(e) = self.agent.send_indication(subscription, action_id, header, message) {
                    self.stats.indications_refused += 1;
                    tracing::debug!(%subscription, error = %e, "indication refused");
                }
            }
            Command::Accept { request, admitted, not_admitted, reply: r } => {
                reply(r, self.agent.accept_subscription(request, &admitted, not_admitted))
            }
            Command::Reject { request, cause, reply: r } => reply(r, self.agent.reject_subscription(request, cause)),
            Command::Ack { request, outcome, reply: r } => reply(r, self.agent.ack_control(request, outcome)),
            Command::Fail { request, cause, outcome, reply: r } => {
                reply(r, self.agent.fail_control(request, cause, outcome))
            }
            Command::Reset { cause, reply: r } => {
                let timeout = self.agent.config().procedure_timeout;
                reply(r, self.agent.reset(now, cause, timeout).map(drop))
            }
            Command::DropAssociation => return Flow::Drop,
            Command::Stats { reply } => {
                let _ = reply.send(self.snapshot());
            }
            Command::Shutdown => return Flow::Stop,
        }
        Flow::Continue
    }

    fn snapshot(&self) -> NodeCommandStats {
        let a = self.agent.stats();
        let mut s = self.stats;
        s.agent.pdus_received += a.pdus_received;
        s.agent.pdus_undecodable += a.pdus_undecodable;
        s.agent.indications_sent += a.indications_sent;
        s.agent.error_indications_sent += a.error_indications_sent;
        s.agent.error_indications_received += a.error_indications_received;
        s
    }
}

async fn run<C: Connector>(
    agent: E2NodeAgent,
    mut connector: C,
    options: NodeOptions,
    mut cmds: mpsc::Receiver<Command>,
    events: mpsc::UnboundedSender<NodeEvent>,
) -> NodeCommandStats {
    let mut st = State { agent, stats: NodeCommandStats::default(), events };
    let target = connector.describe();
    'connect: loop {
        // ---- connect, with backoff, until the deadline
        let give_up_at = options.connect_deadline.map(|d| TokioInstant::now() + d);
        let mut backoff = options.backoff_initial;
        let transport = loop {
            let error = tokio::select! {
                biased;
                cmd = cmds.recv() => {
                    if st.command_while_disconnected(cmd) == Flow::Stop {
                        break 'connect;
                    }
                    continue;
                }
                r = connector.connect() => match r {
                    Ok(t) => break t,
                    Err(e) => (matches!(e, TransportError::SctpUnavailable { .. }), e.to_string()),
                },
            };
            let (hopeless, error) = error;
            if hopeless || give_up_at.is_some_and(|at| TokioInstant::now() + backoff > at) {
                tracing::warn!(%target, %error, "giving up connecting to the RIC");
                st.emit(NodeEvent::GaveUp { error });
                break 'connect;
            }
            tracing::debug!(%target, %error, ?backoff, "connection to the RIC failed; retrying");
            st.emit(NodeEvent::ConnectFailed { error, retry_in: backoff });
            let wake = tokio::time::sleep(backoff);
            tokio::pin!(wake);
            loop {
                tokio::select! {
                    biased;
                    cmd = cmds.recv() => {
                        if st.command_while_disconnected(cmd) == Flow::Stop {
                            break 'connect;
                        }
                    }
                    _ = &mut wake => break,
                }
            }
            backoff = (backoff * 2).min(options.backoff_max);
        };

        // ---- serve the association
        let local = transport.local();
        let (sender, mut receiver) = transport.into_split();
        let abort_handle = sender.clone();
        let (wtx, wrx) = mpsc::channel::<Transmit>(options.writer_capacity.max(1));
        let sent = Arc::new(AtomicU64::new(0));
        let writer = tokio::spawn(write_loop(sender, wrx, sent.clone()));
        let mut outbox: VecDeque<Transmit> = VecDeque::new();
        let mut batch = Vec::with_capacity(64);
        let mut up = false;
        let exit = loop {
            while let Some(t) = st.agent.poll_transmit() {
                outbox.push_back(t);
            }
            while !outbox.is_empty() {
                match wtx.try_reserve() {
                    Ok(permit) => {
                        if let Some(t) = outbox.pop_front() {
                            permit.send(t);
                        }
                    }
                    Err(_) => break,
                }
            }
            st.drain_events();
            let deadline = st.agent.poll_timeout();
            tokio::select! {
                biased;
                ev = receiver.recv() => {
                    let now = now();
                    match ev {
                        Ok(Some(TransportEvent::Frame(f))) => st.agent.handle_pdu(now, f.stream, &f.payload),
                        Ok(Some(TransportEvent::Up { peer, .. })) => {
                            up = true;
                            st.stats.connections += 1;
                            tracing::info!(%peer, node = %st.agent.config().node_id, "association up; E2 Setup");
                            st.emit(NodeEvent::Connected { peer, local });
                            st.agent.connection_up(now);
                        }
                        Ok(Some(TransportEvent::Restart { .. })) => {
                            st.agent.connection_lost(now);
                            st.agent.connection_up(now);
                        }
                        Ok(Some(TransportEvent::Shutdown)) => {}
                        Ok(Some(TransportEvent::Down { reason })) => break Exit::Down(Some(reason)),
                        Ok(None) => break Exit::Down(None),
                        Err(e) if !e.is_fatal() => tracing::warn!(error = %e, "E2 receive error"),
                        Err(e) => {
                            tracing::warn!(error = %e, "E2 association failed");
                            break Exit::Down(None);
                        }
                    }
                }
                permit = wtx.reserve(), if !outbox.is_empty() => {
                    if let (Ok(permit), Some(t)) = (permit, outbox.pop_front()) {
                        permit.send(t);
                    }
                }
                _ = sleep_until(deadline), if deadline.is_some() => st.agent.handle_timeout(now()),
                n = cmds.recv_many(&mut batch, 64), if outbox.len() < options.outbox_limit => {
                    // n == 0: every handle is gone; stop like Shutdown.
                    let mut stop = (n == 0).then_some(true);
                    for cmd in batch.drain(..) {
                        match st.command(cmd) {
                            Flow::Continue => {}
                            Flow::Drop => stop = stop.or(Some(false)),
                            Flow::Stop => stop = Some(true),
                        }
                    }
                    match stop {
                        Some(true) => break Exit::Stop,
                        Some(false) => {
                            C::prepare_abort(&abort_handle);
                            break Exit::Down(None);
                        }
                        None => {}
                    }
                }
            }
        };
        let reason = match exit {
            Exit::Down(reason) => reason,
            Exit::Stop => {
                // Flush what is queued, then close.
                while let Some(t) = st.agent.poll_transmit() {
                    outbox.push_back(t);
                }
                for t in outbox.drain(..) {
                    if wtx.send(t).await.is_err() {
                        break;
                    }
                }
                drop(wtx);
                let _ = writer.await;
                st.stats.pdus_sent += sent.load(Ordering::Relaxed);
                if up {
                    st.agent.connection_lost(now());
                }
                st.drain_events();
                return st.snapshot();
            }
        };
        // ---- the association is gone
        drop(wtx);
        drop(receiver);
        drop(abort_handle);
        writer.abort();
        let _ = writer.await;
        st.stats.pdus_sent += sent.load(Ordering::Relaxed);
        if up {
            st.agent.connection_lost(now());
        }
        st.drain_events();
        st.emit(NodeEvent::Disconnected { reason });
        if !options.reconnect {
            break;
        }
    }
    st.drain_events();
    st.snapshot()
}

async fn write_loop<S: E2Sender>(mut tx: S, mut rx: mpsc::Receiver<Transmit>, sent: Arc<AtomicU64>) {
    let mut batch = Vec::with_capacity(64);
    while rx.recv_many(&mut batch, 64).await > 0 {
        for t in batch.drain(..) {
            match tx.send(t.stream, Bytes::from(t.bytes)).await {
                Ok(()) => {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "E2 node writer: send failed");
                    if e.is_fatal() {
                        return;
                    }
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(TokioInstant::from_std(d)).await,
        None => std::future::pending().await,
    }
}
