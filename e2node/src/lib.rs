//! # qsafe-e2node — an E2 node simulator
//!
//! Emulates `--nodes N` gNBs against a near-RT RIC over kernel SCTP, each
//! with its own association and global E2 node id (gNB id `--gnb-id` + i,
//! 28 bits, PLMN `--plmn`). Every node:
//!
//! * runs E2 Setup offering one RAN function, E2SM-KPM v3
//!   ([`qsafe_asn1::kpm::RAN_FUNCTION_OID`], RAN function id
//!   [`sim::KPM_RAN_FUNCTION_ID`]) with REPORT style 1 over `--measurements`;
//! * answers RIC subscriptions: REPORT actions whose KPM action definition
//!   decodes are admitted, other actions are not admitted
//!   (ricRequest/action-not-supported); a request with no admissible action,
//!   or an event trigger that is not a KPM Format 1 periodic trigger, gets
//!   RIC SUBSCRIPTION FAILURE;
//! * sends KPM indications for each admitted action at `--rate` per second
//!   (`max`: as fast as the association takes them; default: the event
//!   trigger's reporting period), `--count` per action at most, messages
//!   padded to `--indication-size` bytes. Each carries a 64-bit per-node
//!   sequence number and its send time (see
//!   [`qsafe_e2::driver::traffic`] for where: the `QSAFE.IndicationSeq.Hi/Lo`
//!   measurements of the message, and the header's `colletStartTime`);
//! * answers RIC control requests with ACKNOWLEDGE or FAILURE (`--control`),
//!   answers RIC Reset, logs Error Indications, and after an association
//!   loss reconnects (backoff, up to `--connect-timeout`) and runs E2 Setup
//!   again.
//!
//! On exit (Ctrl-C, SIGTERM, `--duration`, or every node gave up
//! reconnecting) it prints one summary line: indications sent and controls
//! handled per node.
//!
//! With `--keyed` every node also offers E2SM-QKD (RAN function id
//! [`keyed::QKD_RAN_FUNCTION_ID`]) and runs the node side of the keyed E2
//! link ([`keyed::NodeKeyPlane`] over [`qsafe_rekey::NodeLink`]): signed
//! REKEY/SET-MODE/ISOLATE handling, QKD keys by `dec_keys`, ESP SAs through
//! the XFRM broker (or an in-memory model), and KPM held until protected.
//!
//! [`config`] merges flags, `QSAFE_E2NODE_*` environment variables and a
//! TOML `--config` file; [`sim`] runs the nodes on
//! [`qsafe_e2::driver::NodeClient`].

pub mod config;
pub mod keyed;
pub mod sim;
