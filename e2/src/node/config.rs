//! Configuration of the E2 node role.

use std::time::Duration;

use crate::common::{ComponentConfig, E2NodeId, RanFunction};

/// How the agent answers RIC SUBSCRIPTION REQUESTs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SubscriptionPolicy {
    /// Emit [`super::Event::SubscriptionRequested`] and wait for
    /// [`super::E2NodeAgent::accept_subscription`] /
    /// [`super::E2NodeAgent::reject_subscription`].
    #[default]
    Ask,
    /// Admit every action of every valid request at once (simulators).
    AdmitAll,
}

/// How the agent answers RIC CONTROL REQUESTs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ControlPolicy {
    /// Emit [`super::Event::ControlRequested`] and wait for
    /// [`super::E2NodeAgent::ack_control`] / [`super::E2NodeAgent::fail_control`].
    #[default]
    Ask,
    /// Acknowledge every valid request at once (when an ack is requested),
    /// still emitting [`super::Event::ControlRequested`] for information.
    AcknowledgeAll,
}

/// Configuration of one [`super::E2NodeAgent`].
#[derive(Debug, Clone)]
pub struct E2NodeConfig {
    /// The node's global id.
    pub node_id: E2NodeId,
    /// RAN functions offered in E2 Setup (1..256, distinct ids).
    pub ran_functions: Vec<RanFunction>,
    /// Component configurations reported in E2 Setup (1..1024).
    pub components: Vec<ComponentConfig>,
    /// SCTP stream for the procedures the node initiates (answers go back on
    /// the stream the request came on). Default 0.
    pub stream: u16,
    /// How long to wait for E2 SETUP RESPONSE before sending the request
    /// again. Default 5 s.
    pub setup_timeout: Duration,
    /// After an E2 SETUP FAILURE without `TimeToWait`: retry after this
    /// delay, or give up (`None`). Default 5 s.
    pub setup_retry_delay: Option<Duration>,
    /// Timeout of the procedures the agent starts by itself (the RIC Service
    /// Update answering a RIC Service Query). Default 5 s.
    pub procedure_timeout: Duration,
    /// How RIC subscriptions are decided.
    pub subscription_policy: SubscriptionPolicy,
    /// How RIC control requests are decided.
    pub control_policy: ControlPolicy,
}

impl E2NodeConfig {
    /// A configuration with the defaults above.
    pub fn new(node_id: E2NodeId, ran_functions: Vec<RanFunction>, components: Vec<ComponentConfig>) -> Self {
        Self {
            node_id,
            ran_functions,
            components,
            stream: 0,
            setup_timeout: Duration::from_secs(5),
            setup_retry_delay: Some(Duration::from_secs(5)),
            procedure_timeout: Duration::from_secs(5),
            subscription_policy: SubscriptionPolicy::Ask,
            control_policy: ControlPolicy::Ask,
        }
    }
}
