//! # qsafe-rapp — the SMO side of qsafe-ran
//!
//! The rApp drives post-quantum certificate rollout (ML-DSA-65 certificates,
//! X25519MLKEM768 mutual TLS) across O1 (NETCONF over TLS, ietf-keystore /
//! truststore) and O2 (O2ims inventory → Kubernetes TLS secrets): scan, plan,
//! trust anchors first, canary and waves, verify, rollback, resume after a
//! crash. It publishes the `qsafe-pqc-trust` A1 policy the xApp uses to
//! authenticate E2 nodes' ML-KEM keys.
//!
//! The crate is reserved in the workspace layout; its PKI, scanner and
//! rollout engine arrive with their issues (see the README's crate map).
