//! The RIC's view of the E2 nodes it has met: who they are, which RAN
//! functions it accepted from them, their component configurations, and
//! whether they are connected right now. Nodes are never forgotten on their
//! own: a lost association marks the node [`ConnectionState::Disconnected`],
//! a new E2 Setup marks it connected again.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use crate::common::{ComponentConfig, ComponentKey, E2NodeId, RanFunction};

use super::AssociationId;

/// Whether a node has a live, set-up association.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// E2 Setup succeeded on `association` at `since`.
    Connected {
        /// The association.
        association: AssociationId,
        /// When E2 Setup completed.
        since: Instant,
    },
    /// The association was lost at `since`.
    Disconnected {
        /// When the association was lost.
        since: Instant,
    },
}

/// What the RIC knows about one E2 node.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// Its global id.
    pub id: E2NodeId,
    /// Connected or not.
    pub connection: ConnectionState,
    /// The RAN functions the RIC accepted, by RAN function id.
    pub ran_functions: BTreeMap<u16, RanFunction>,
    /// Its component configurations, in the order received.
    pub components: Vec<ComponentConfig>,
    /// When the node first completed E2 Setup.
    pub first_setup: Instant,
    /// When it last completed E2 Setup.
    pub last_setup: Instant,
    /// How many E2 Setups it completed.
    pub setups: u32,
}

impl NodeInfo {
    /// The association, when connected.
    pub fn association(&self) -> Option<AssociationId> {
        match self.connection {
            ConnectionState::Connected { association, .. } => Some(association),
            ConnectionState::Disconnected { .. } => None,
        }
    }

    /// Whether the node is connected.
    pub fn is_connected(&self) -> bool {
        self.association().is_some()
    }

    /// One component's configuration.
    pub fn component(&self, key: &ComponentKey) -> Option<&ComponentConfig> {
        self.components.iter().find(|c| &c.key == key)
    }

    pub(crate) fn upsert_component(&mut self, config: ComponentConfig) {
        match self.components.iter_mut().find(|c| c.key == config.key) {
            Some(existing) => *existing = config,
            None => self.components.push(config),
        }
    }

    pub(crate) fn replace_component(&mut self, config: ComponentConfig) -> bool {
        match self.components.iter_mut().find(|c| c.key == config.key) {
            Some(existing) => {
                *existing = config;
                true
            }
            None => false,
        }
    }

    pub(crate) fn remove_component(&mut self, key: &ComponentKey) -> bool {
        let before = self.components.len();
        self.components.retain(|c| &c.key != key);
        self.components.len() != before
    }
}

/// Every E2 node the RIC has met, keyed by global E2 node id.
#[derive(Debug, Clone, Default)]
pub struct NodeRegistry {
    nodes: HashMap<E2NodeId, NodeInfo>,
}

impl NodeRegistry {
    /// One node.
    pub fn get(&self, id: &E2NodeId) -> Option<&NodeInfo> {
        self.nodes.get(id)
    }

    /// All nodes, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &NodeInfo> {
        self.nodes.values()
    }

    /// The connected nodes.
    pub fn connected(&self) -> impl Iterator<Item = &NodeInfo> {
        self.nodes.values().filter(|n| n.is_connected())
    }

    /// How many nodes are known.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is known.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub(crate) fn get_mut(&mut self, id: &E2NodeId) -> Option<&mut NodeInfo> {
        self.nodes.get_mut(id)
    }

    /// Records a completed E2 Setup; returns whether the node was known before.
    pub(crate) fn record_setup(
        &mut self,
        id: &E2NodeId,
        association: AssociationId,
        now: Instant,
        ran_functions: BTreeMap<u16, RanFunction>,
        components: Vec<ComponentConfig>,
    ) -> bool {
        let connection = ConnectionState::Connected { association, since: now };
        match self.nodes.get_mut(id) {
            Some(node) => {
                node.connection = connection;
                node.ran_functions = ran_functions;
                node.components = components;
                node.last_setup = now;
                node.setups = node.setups.saturating_add(1);
                true
            }
            None => {
                self.nodes.insert(
                    id.clone(),
                    NodeInfo {
                        id: id.clone(),
                        connection,
                        ran_functions,
                        components,
                        first_setup: now,
                        last_setup: now,
                        setups: 1,
                    },
                );
                false
            }
        }
    }

    pub(crate) fn mark_disconnected(&mut self, id: &E2NodeId, now: Instant) {
        if let Some(node) = self.nodes.get_mut(id) {
            node.connection = ConnectionState::Disconnected { since: now };
        }
    }

    pub(crate) fn remove(&mut self, id: &E2NodeId) -> Option<NodeInfo> {
        self.nodes.remove(id)
    }
}
