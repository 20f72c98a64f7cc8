//! # qsafe-rapp — the SMO side of qsafe-ran
//!
//! The rApp drives post-quantum certificate rollout (ML-DSA-65 certificates,
//! X25519MLKEM768 mutual TLS) across O1 (NETCONF over TLS, ietf-keystore /
//! truststore) and O2 (O2ims inventory → Kubernetes TLS secrets): scan, plan,
//! trust anchors first, canary and waves, verify, rollback, resume after a
//! crash. It publishes the `qsafe-pqc-trust` A1 policy the xApp uses to
//! authenticate E2 nodes' ML-KEM keys.
//!
//! What is here today:
//!
//! * The PQC certificate authority, [`qsafe_ca`] (`qsafe-rapp ca …`): an
//!   ML-DSA-87/-65 root and ML-DSA-65 issuing CA with keys encrypted at rest,
//!   CSR signing under profiles for O1/O2 endpoints and E2 nodes, revocation,
//!   CRLs and root rollover with a cross certificate.
//! * The quantum-readiness scanner, [`qsafe_scan`] (`qsafe-rapp scan …`):
//!   concurrent TLS probes (ML-KEM groups, HelloRetryRequest, versions,
//!   signature scheme, chain, client-certificate demand), a verdict per
//!   endpoint, and table / JSON / CycloneDX 1.6 CBOM output; `scan diff`.
//! * A1 policies through [`qsafe_a1::client`]: directly over A1-P v2 (a
//!   standalone xApp or any near-RT RIC) or through an A1PMS v2, chosen by
//!   configuration (`qsafe-rapp a1 …`).
//! * [`e2view`]: the per-node view of E2 security kept from the xApp's NATS
//!   JetStream events by a durable consumer, saved in the durable state
//!   (`qsafe-rapp e2-view …`).
//!
//! The rollout engine over O1 and O2 arrives with its issue.

pub mod e2view;
