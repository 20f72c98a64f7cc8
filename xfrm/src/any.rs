//! [`AnyDataPlane`]: the data plane a binary picks at startup.

use std::sync::Arc;

use crate::{BrokerClient, DataPlane, DataPlaneError, Direction, Link, MemoryDataPlane, SaCounters, SaRequest};

/// The broker (kernel ESP, when the binary was given a broker socket) or the
/// in-process model (no privileges: tests, demos). The xApp and the E2 node
/// simulator choose by configuration; the model is shared through an `Arc`
/// so tests can inspect it.
#[derive(Debug)]
pub enum AnyDataPlane {
    /// `qsafe-xfrm-broker` over its Unix socket.
    Broker(BrokerClient),
    /// The in-process model.
    Memory(Arc<MemoryDataPlane>),
}

impl DataPlane for AnyDataPlane {
    async fn install_sa(&self, req: SaRequest) -> Result<(), DataPlaneError> {
        match self {
            AnyDataPlane::Broker(d) => d.install_sa(req).await,
            AnyDataPlane::Memory(d) => d.install_sa(req).await,
        }
    }

    async fn delete_sa(&self, link: Link, direction: Direction, spi: u32) -> Result<(), DataPlaneError> {
        match self {
            AnyDataPlane::Broker(d) => d.delete_sa(link, direction, spi).await,
            AnyDataPlane::Memory(d) => d.delete_sa(link, direction, spi).await,
        }
    }

    async fn sa_counters(&self, link: Link, direction: Direction, spi: u32) -> Result<SaCounters, DataPlaneError> {
        match self {
            AnyDataPlane::Broker(d) => d.sa_counters(link, direction, spi).await,
            AnyDataPlane::Memory(d) => d.sa_counters(link, direction, spi).await,
        }
    }

    async fn require_esp(&self, link: Link) -> Result<(), DataPlaneError> {
        match self {
            AnyDataPlane::Broker(d) => d.require_esp(link).await,
            AnyDataPlane::Memory(d) => d.require_esp(link).await,
        }
    }

    async fn release_esp(&self, link: Link) -> Result<(), DataPlaneError> {
        match self {
            AnyDataPlane::Broker(d) => d.release_esp(link).await,
            AnyDataPlane::Memory(d) => d.release_esp(link).await,
        }
    }

    async fn delete_all(&self, link: Link) -> Result<u32, DataPlaneError> {
        match self {
            AnyDataPlane::Broker(d) => d.delete_all(link).await,
            AnyDataPlane::Memory(d) => d.delete_all(link).await,
        }
    }
}
