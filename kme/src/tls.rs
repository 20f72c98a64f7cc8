//! TLS of the two KME listeners, built with `qsafe-pqc`.
//!
//! ETSI GS QKD 014 §4 makes mutual TLS mandatory: every connection must
//! present a client certificate chaining to the configured CA, checked by
//! rustls (webpki) during the handshake, so an SAE with a certificate from
//! any other CA never reaches the HTTP layer. The policies are
//! `qsafe-pqc`'s: key exchange X25519MLKEM768 first (confidentiality against
//! harvest-now-decrypt-later) with classical fallbacks unless `pq-only`, and
//! client certificates of any algorithm unless `ml-dsa-only`. ALPN
//! advertises `http/1.1` only, the one protocol the API is served over.

use std::sync::Arc;

use qsafe_pqc::tls::{AuthPolicy, KeyExchangePolicy, TlsConfigError};
use rustls::ServerConfig;

use crate::Site;
use crate::config::{self, TlsPolicy};
use crate::pki::KmeTlsMaterial;

/// The `qsafe-pqc` key exchange policy.
pub fn kx_policy(p: config::KxPolicy) -> KeyExchangePolicy {
    match p {
        config::KxPolicy::HybridPreferred => KeyExchangePolicy::HybridPreferred,
        config::KxPolicy::PqOnly => KeyExchangePolicy::PqOnly,
        config::KxPolicy::ClassicalOnly => KeyExchangePolicy::ClassicalOnly,
    }
}

/// The `qsafe-pqc` authentication policy.
pub fn auth_policy(p: config::AuthPolicy) -> AuthPolicy {
    match p {
        config::AuthPolicy::Any => AuthPolicy::Any,
        config::AuthPolicy::MlDsaOnly => AuthPolicy::MlDsaOnly,
    }
}

/// The server config of one KME (client certificates required).
pub fn server_config(
    material: &KmeTlsMaterial,
    site: Site,
    policy: TlsPolicy,
) -> Result<Arc<ServerConfig>, TlsConfigError> {
    let base = qsafe_pqc::tls::server_config(
        &material.identities[site.index()],
        Some(&material.client_roots),
        kx_policy(policy.kx),
        auth_policy(policy.auth),
    )?;
    let mut cfg = (*base).clone();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
