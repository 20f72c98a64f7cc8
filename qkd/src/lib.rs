//! qsafe-qkd: the ETSI GS QKD 014 key delivery API as qsafe-ran uses it.
//!
//! * [`api`]: the wire types (JSON bodies with the spec's field names, GET query forms, paths),
//!   with key bytes in zeroizing buffers that never print.
//! * [`kme`]: a sans-IO model of one QKD link's two KMEs (pool in bits, exactly-once delivery to
//!   the slave, the spec's 400/401/503 answers, fault injection). The `qsafe-kme` server and the
//!   client's tests put HTTPS in front of it.
//! * [`client`]: the SAE side, async over HTTP/1.1 and mutual TLS, checking the KME ID in the
//!   server certificate, with retries on 503 and transport errors only.
//! * [`prefetch`]: a per (master, slave) buffer of ready keys refilled in the background, whose
//!   refill decisions are a sans-IO state machine.
//!
//! The split follows the rest of qsafe-ran: protocol logic is pure state, tokio and sockets
//! stay at the edge.

pub mod api;
pub mod client;
pub mod kme;
pub mod prefetch;
