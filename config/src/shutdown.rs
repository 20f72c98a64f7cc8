//! When a binary stops: SIGINT (Ctrl-C), SIGTERM, or a `--duration` that
//! ran out — the same three ways for every qsafe-ran binary.
//!
//! The handlers are installed by [`StopSignals::install`], before the binary
//! says it is ready, so a signal that arrives right after the ready line
//! still stops it gracefully (instead of killing it with the default action).

use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch;

/// SIGINT and SIGTERM handlers, registered up front.
#[derive(Debug)]
pub struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
}

impl StopSignals {
    /// Registers the handlers (inside a tokio runtime).
    pub fn install() -> std::io::Result<Self> {
        Ok(Self { interrupt: signal(SignalKind::interrupt())?, terminate: signal(SignalKind::terminate())? })
    }

    /// Returns on SIGINT, SIGTERM or once `duration` (if any) has passed,
    /// logging which.
    pub async fn wait(mut self, duration: Option<Duration>) {
        let timer = async {
            match duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.interrupt.recv() => tracing::info!("SIGINT: stopping"),
            _ = self.terminate.recv() => tracing::info!("SIGTERM: stopping"),
            _ = timer => tracing::info!("--duration elapsed: stopping"),
        }
    }

    /// Waits in a task of its own; the receiver turns true when it is time to stop.
    pub fn spawn(self, duration: Option<Duration>) -> watch::Receiver<bool> {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            self.wait(duration).await;
            let _ = tx.send(true);
        });
        rx
    }
}
