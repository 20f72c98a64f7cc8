//! Configuration of the RIC role.

use std::collections::BTreeSet;
use std::time::Duration;

use qsafe_asn1::e2ap_asn as asn;

/// Which RAN functions an E2 node may register (E2 Setup, RIC Service Update).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FunctionAcceptance {
    /// Every function is accepted.
    #[default]
    AcceptAll,
    /// Only functions whose RAN function OID is listed; the others are
    /// rejected with cause ricService / ran-function-not-supported.
    AcceptOids(BTreeSet<String>),
}

impl FunctionAcceptance {
    /// Only the given OIDs.
    pub fn oids<I: IntoIterator<Item = S>, S: Into<String>>(oids: I) -> Self {
        Self::AcceptOids(oids.into_iter().map(Into::into).collect())
    }

    /// Whether a function with this OID is accepted.
    pub fn accepts(&self, oid: &str) -> bool {
        match self {
            Self::AcceptAll => true,
            Self::AcceptOids(oids) => oids.contains(oid),
        }
    }
}

/// Configuration of a [`super::Ric`].
#[derive(Debug, Clone)]
pub struct RicConfig {
    /// `GlobalRIC-ID` sent in every E2 Setup Response.
    pub global_ric_id: asn::GlobalRICID,
    /// `ricRequestorID` of every RIC request id this RIC allocates (one per
    /// xApp; other xApps' requestor ids are never dispatched here).
    pub requestor_id: u16,
    /// The first `ricInstanceID` handed out (then round-robin over 0..=65535,
    /// skipping ids in use). Default 1.
    pub first_instance_id: u16,
    /// Which RAN functions are accepted.
    pub function_acceptance: FunctionAcceptance,
    /// SCTP stream for the procedures the RIC initiates (answers go back on
    /// the stream the request came on). Default 0.
    pub stream: u16,
    /// `TimeToWait` sent with an E2 Setup Failure for a node id that is still
    /// connected on another association (the old association has usually just
    /// not been noticed dead yet). Default 5 s.
    pub duplicate_setup_time_to_wait: Option<asn::TimeToWait>,
    /// Timeout of the deletes the RIC starts on its own: after a subscription
    /// request timed out and when a node requires a deletion. Default 5 s.
    pub internal_delete_timeout: Duration,
    /// How long a new association may go without a successful E2 Setup
    /// before [`super::Event::SetupWaitExpired`] tells the driver to close
    /// it; `None` waits forever. Default 30 s.
    pub setup_wait: Option<Duration>,
    /// `TimeToWait` sent with the E2 Setup Failure that refuses a barred node
    /// ([`super::Ric::bar`]). Default 2 s.
    pub barred_time_to_wait: asn::TimeToWait,
}

impl RicConfig {
    /// A configuration with the defaults above.
    pub fn new(global_ric_id: asn::GlobalRICID, requestor_id: u16) -> Self {
        Self {
            global_ric_id,
            requestor_id,
            first_instance_id: 1,
            function_acceptance: FunctionAcceptance::AcceptAll,
            stream: 0,
            duplicate_setup_time_to_wait: Some(asn::TimeToWait::v5s),
            internal_delete_timeout: Duration::from_secs(5),
            setup_wait: Some(Duration::from_secs(30)),
            barred_time_to_wait: asn::TimeToWait::v2s,
        }
    }
}
