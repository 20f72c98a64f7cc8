//! Writes the seed corpus of the fuzz targets to `e2/fuzz/seeds/<target>/`.
//!
//! ```text
//! cargo run --manifest-path e2/fuzz/Cargo.toml --example make_seeds
//! ```
//!
//! E2AP seeds are not hand-built: a `Ric` and an `E2NodeAgent` (the
//! harness configurations, with the node deciding by hand) run every
//! procedure against each other — E2 Setup (and a refused duplicate),
//! subscriptions admitted and refused, indications (report and insert,
//! E2SM-KPM payloads), controls acknowledged and failed, deletes (RIC- and
//! node-initiated, and one for an id the node does not know), resets both
//! ways, RIC Service Update / Query, E2 Node Configuration Update, and Error
//! Indications for a garbled PDU — and every PDU each side sends is kept.
//! What the node sent seeds `ric_handle_pdu`, what the RIC sent seeds
//! `node_handle_pdu`. The ids match the state the targets start from
//! (subscription `1001/1`, pending control `1001/2`), so the seeds reach
//! the deep paths, not just "unknown request id".
//!
//! SCTP seeds: the kernel-layout notifications and control messages of
//! `qsafe_e2::fuzzing`, plus the `SCTP_ASSOC_CHANGE` bytes recorded from a
//! Linux 6.1 guest, each checked to parse as expected.
//!
//! The output is deterministic (no clock or randomness reaches the bytes):
//! re-running the generator reproduces the committed files byte for byte.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use qsafe_asn1::e2ap::E2apPdu;
use qsafe_asn1::e2ap_asn as asn;
use qsafe_asn1::kpm::{self, KpmPayload};
use qsafe_e2::common::{ComponentConfig, NotAdmittedAction, RanFunction};
use qsafe_e2::fuzzing::{self, Notification, sac_state};
use qsafe_e2::node::{self, ConfigurationUpdate, ControlPolicy, E2NodeAgent, ServiceUpdate, SubscriptionPolicy};
use qsafe_e2::ric::{AssociationId, Ric};

#[path = "../fuzz_targets/harness.rs"]
mod harness;

use harness::{INPUT_STREAM, OTHER, TIMEOUT};

type Res<T> = Result<T, Box<dyn Error>>;

/// A RIC and one node, with every PDU each side sent, in order.
struct Recorder {
    now: Instant,
    ric: Ric,
    node: E2NodeAgent,
    association: AssociationId,
    from_ric: Vec<Vec<u8>>,
    from_node: Vec<Vec<u8>>,
    /// Deliver what the RIC sends to the node (off to make the node miss a request).
    node_listens: bool,
}

impl Recorder {
    fn pump(&mut self) -> Res<()> {
        loop {
            let mut moved = false;
            while let Some((a, t)) = self.ric.poll_transmit() {
                moved = true;
                if a != self.association {
                    continue;
                }
                self.from_ric.push(t.bytes.clone());
                if self.node_listens {
                    self.node.handle_pdu(self.now, INPUT_STREAM, &t.bytes);
                }
            }
            while let Some(t) = self.node.poll_transmit() {
                moved = true;
                self.from_node.push(t.bytes.clone());
                self.ric.handle_pdu(self.now, self.association, INPUT_STREAM, &t.bytes)?;
            }
            if !moved {
                break;
            }
        }
        while self.ric.poll_event().is_some() {}
        Ok(())
    }

    /// The node's pending decisions, in order.
    fn node_events(&mut self) -> Vec<node::Event> {
        std::iter::from_fn(|| self.node.poll_event()).collect()
    }
}

fn kpm_indication() -> Res<(Vec<u8>, Vec<u8>)> {
    let header = kpm::indication_header([0xE9, 0x6B, 0x2E, 0x40, 0x80, 0, 0, 0]).encode_aper()?;
    let records = (0u32..12)
        .map(|i| {
            if i % 3 == 0 {
                kpm::record_real(f64::from(i) * 1.5)
            } else {
                qsafe_asn1::kpm_asn::MeasurementRecordItem::integer(i * 1000)
            }
        })
        .collect();
    let message = kpm::indication_message_format1(records, 1000).encode_aper()?;
    Ok((header, message))
}

/// PDUs as sent, in order.
type Pdus = Vec<Vec<u8>>;

/// Runs every procedure once; returns (node → RIC, RIC → node) PDUs.
fn exchange() -> Res<(Pdus, Pdus)> {
    let now = Instant::now();
    let mut config = harness::node_config();
    config.subscription_policy = SubscriptionPolicy::Ask;
    config.control_policy = ControlPolicy::Ask;
    let mut ric = Ric::new(harness::ric_config());
    let association = ric.connection_up(now);
    let node = E2NodeAgent::new(config.clone())?;
    let mut r =
        Recorder { now, ric, node, association, from_ric: Vec::new(), from_node: Vec::new(), node_listens: true };
    let node_id = harness::node_id();

    // E2 Setup.
    r.node.connection_up(now);
    r.pump()?;
    if !r.node.is_established() {
        return Err("E2 Setup failed".into());
    }
    r.node_events();

    // Subscription 1001/1, admitted (action 2 not admitted, with a cause).
    let sub = r.ric.subscribe(now, &node_id, harness::kpm_subscription(), TIMEOUT)?;
    r.pump()?;
    let not_admitted = vec![NotAdmittedAction {
        action_id: 2,
        cause: asn::Cause::ricRequest(asn::CauseRICrequest::action_not_supported),
    }];
    r.node.accept_subscription(sub, &[1], not_admitted)?;
    r.pump()?;
    // The harness state admits both actions; a second request admits both
    // too (1001/2 here, the harness's pending control id; its delete below).
    let sub2 = r.ric.subscribe(now, &node_id, harness::kpm_subscription(), TIMEOUT)?;
    r.pump()?;
    r.node.accept_subscription(sub2, &[1, 2], Vec::new())?;
    r.pump()?;

    // Indications: report with KPM payloads, insert with a call process id.
    let (header, message) = kpm_indication()?;
    r.node.send_indication(sub, 1, header.clone(), message.clone())?;
    r.node.send_insert_indication(sub2, 2, b"insert-hdr".to_vec(), b"insert-msg".to_vec(), b"cp-7".to_vec())?;
    r.pump()?;

    // Controls: acknowledged with an outcome, then failed.
    let control = r.ric.control(now, &node_id, harness::control_request(), TIMEOUT)?;
    r.pump()?;
    r.node.ack_control(control, Some(b"done".to_vec().into()))?;
    r.pump()?;
    let mut no_ack = harness::control_request();
    no_ack.ack_requested = false;
    no_ack.call_process_id = Some(b"cp-1".to_vec().into());
    let control = r.ric.control(now, &node_id, no_ack, TIMEOUT)?;
    r.pump()?;
    r.node.fail_control(control, asn::Cause::ricRequest(asn::CauseRICrequest::control_message_invalid), None)?;
    r.pump()?;

    // A refused subscription (to the second function).
    let mut refused = harness::kpm_subscription();
    refused.ran_function_id = OTHER;
    let sub3 = r.ric.subscribe(now, &node_id, refused, TIMEOUT)?;
    r.pump()?;
    r.node.reject_subscription(sub3, asn::Cause::ricRequest(asn::CauseRICrequest::function_resource_limit))?;
    r.pump()?;

    // Deletes: required by the node (the RIC deletes at once), requested by
    // the RIC, and one for a subscription the node never heard of.
    r.node.require_deletion(&[(sub2, asn::Cause::misc(asn::CauseMisc::om_intervention))])?;
    r.pump()?;
    r.ric.unsubscribe(now, sub, TIMEOUT)?;
    r.pump()?;
    r.node_listens = false;
    let unknown = r.ric.subscribe(now, &node_id, harness::kpm_subscription(), TIMEOUT)?;
    r.pump()?;
    r.node_listens = true;
    r.ric.unsubscribe(now, unknown, TIMEOUT)?;
    r.pump()?;
    r.node_events();

    // Global procedures started by the node.
    let update = ServiceUpdate {
        added: vec![RanFunction::new(9, 1, "1.3.6.1.4.1.53148.1.2.2.2", b"ccc-definition".to_vec())],
        modified: vec![RanFunction::new(OTHER, 4, "1.3.6.1.4.1.53148.1.1.2.3", b"rc-definition-v4".to_vec())],
        deleted: Vec::new(),
    };
    r.node.service_update(now, update, TIMEOUT)?;
    r.pump()?;
    let components = ConfigurationUpdate {
        added: vec![ComponentConfig::f1(8, b"f1 setup request 8".to_vec(), b"f1 setup response 8".to_vec())?],
        updated: vec![ComponentConfig::f1(7, b"f1 du config update".to_vec(), b"f1 du config ack".to_vec())?],
        removed: Vec::new(),
    };
    r.node.configuration_update(now, components, TIMEOUT)?;
    r.pump()?;
    r.node.reset(now, asn::Cause::misc(asn::CauseMisc::unspecified), TIMEOUT)?;
    r.pump()?;

    // Global procedures started by the RIC.
    r.ric.service_query(&node_id)?;
    r.pump()?;
    r.ric.reset(now, &node_id, asn::Cause::misc(asn::CauseMisc::om_intervention), TIMEOUT)?;
    r.pump()?;

    // Error Indications: each side answers a garbled PDU (a setup request
    // with its IE container cut short).
    let garbled = &r.from_node[0][..12].to_vec();
    r.ric.handle_pdu(now, association, INPUT_STREAM, garbled)?;
    r.node.handle_pdu(now, INPUT_STREAM, garbled);
    r.pump()?;

    // A duplicate E2 Setup on a second association: refused with TimeToWait.
    let second = r.ric.connection_up(now);
    let mut twin = E2NodeAgent::new(config)?;
    twin.connection_up(now);
    while let Some(t) = twin.poll_transmit() {
        r.ric.handle_pdu(now, second, INPUT_STREAM, &t.bytes)?;
    }
    while let Some((a, t)) = r.ric.poll_transmit() {
        if a == second {
            r.from_ric.push(t.bytes);
        }
    }
    Ok((r.from_node, r.from_ric))
}

fn file_names(pdus: &[Vec<u8>]) -> Res<Vec<(String, &[u8])>> {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    pdus.iter()
        .map(|bytes| {
            let pdu = E2apPdu::decode(bytes)?;
            let base = snake(pdu.name());
            let n = seen.entry(base.clone()).or_default();
            *n += 1;
            Ok((format!("{base}_{n}.aper"), &bytes[..]))
        })
        .collect()
}

/// `RICsubscriptionResponse` → `ric_subscription_response`,
/// `E2setupRequest` → `e2setup_request` (the asn1 seeds' names).
fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let upper_run = i >= 2 && chars[i - 1].is_ascii_uppercase() && chars[i - 2].is_ascii_uppercase();
        if (c.is_ascii_uppercase() && prev.is_some_and(|p| p.is_ascii_lowercase()))
            || (c.is_ascii_lowercase() && upper_run)
        {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn notification_seeds() -> Vec<(&'static str, Vec<u8>, Notification)> {
    let assoc =
        |state, error, o, i| Notification::AssocChange { state, error, outbound_streams: o, inbound_streams: i };
    // COMM_LOST, cause 12 (user abort), as recorded in a UML Linux 6.1
    // guest: sn_length 24, 4 bytes of sac_info (see transport/wire.rs).
    #[cfg(target_endian = "little")]
    let recorded = vec![
        0x01, 0x80, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0xaa, 0xbb, 0xcc, 0xdd,
    ];
    #[cfg(not(target_endian = "little"))]
    let recorded = fuzzing::assoc_change(sac_state::COMM_LOST, 12, 0, 0);
    let mut unknown = fuzzing::shutdown_event();
    unknown[..2].copy_from_slice(&0x8002u16.to_ne_bytes()); // SCTP_PEER_ADDR_CHANGE-sized header
    vec![
        ("comm_up", fuzzing::assoc_change(sac_state::COMM_UP, 0, 4, 4), assoc(sac_state::COMM_UP, 0, 4, 4)),
        ("comm_lost_linux61", recorded, assoc(sac_state::COMM_LOST, 12, 0, 0)),
        ("restart", fuzzing::assoc_change(sac_state::RESTART, 0, 8, 2), assoc(sac_state::RESTART, 0, 8, 2)),
        (
            "shutdown_comp",
            fuzzing::assoc_change(sac_state::SHUTDOWN_COMP, 0, 0, 0),
            assoc(sac_state::SHUTDOWN_COMP, 0, 0, 0),
        ),
        (
            "cant_start",
            fuzzing::assoc_change(sac_state::CANT_STR_ASSOC, 1, 0, 0),
            assoc(sac_state::CANT_STR_ASSOC, 1, 0, 0),
        ),
        ("shutdown_event", fuzzing::shutdown_event(), Notification::Shutdown),
        (
            "partial_delivery_aborted",
            fuzzing::partial_delivery_event(0, 1, 77),
            Notification::PartialDelivery { indication: 0 },
        ),
        ("other_type", unknown, Notification::Other { kind: 0x8002 }),
    ]
}

/// A control-data seed: name, bytes, and the `(stream, PPID)` it must parse to.
type ControlSeed = (&'static str, Vec<u8>, Option<(u16, u32)>);

fn control_seeds() -> Vec<ControlSeed> {
    let hdr = fuzzing::cmsg_header_len();
    let usz = std::mem::size_of::<usize>();
    // An unrelated control message (level 0, type 0, 4 bytes) in front.
    let mut unrelated = vec![0u8; hdr + fuzzing::cmsg_align(4)];
    unrelated[..usz].copy_from_slice(&(hdr + 4).to_ne_bytes());
    unrelated.extend_from_slice(&fuzzing::rcvinfo_cmsg(2, 70));
    // SCTP_RCVINFO followed by an SCTP_NXTINFO (type 4, 16 bytes of data).
    let mut with_nxtinfo = fuzzing::rcvinfo_cmsg(1, 0);
    let mut nxt = vec![0u8; hdr + fuzzing::cmsg_align(16)];
    nxt[..usz].copy_from_slice(&(hdr + 16).to_ne_bytes());
    nxt[usz..usz + 4].copy_from_slice(&132i32.to_ne_bytes());
    nxt[usz + 4..usz + 8].copy_from_slice(&4i32.to_ne_bytes());
    with_nxtinfo.extend_from_slice(&nxt);
    vec![
        ("rcvinfo_e2ap", fuzzing::rcvinfo_cmsg(0, 70), Some((0, 70))),
        ("rcvinfo_stream3_ppid0", fuzzing::rcvinfo_cmsg(3, 0), Some((3, 0))),
        ("unrelated_then_rcvinfo", unrelated, Some((2, 70))),
        ("rcvinfo_then_nxtinfo", with_nxtinfo, Some((1, 0))),
        ("sndinfo_only", fuzzing::sndinfo_cmsg(1, 70), None),
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Res<()> {
    fs::write(dir.join(name), bytes)?;
    println!("{:>5} bytes  {}", bytes.len(), dir.join(name).display());
    Ok(())
}

fn fresh_dir(root: &Path, target: &str) -> Res<PathBuf> {
    let dir = root.join(target);
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn main() -> Res<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let (from_node, from_ric) = exchange()?;

    let dir = fresh_dir(&root, "ric_handle_pdu")?;
    for (name, bytes) in file_names(&from_node)? {
        write(&dir, &name, bytes)?;
    }
    let dir = fresh_dir(&root, "node_handle_pdu")?;
    for (name, bytes) in file_names(&from_ric)? {
        write(&dir, &name, bytes)?;
    }

    let dir = fresh_dir(&root, "sctp_wire")?;
    for (name, bytes, expected) in notification_seeds() {
        if fuzzing::parse_notification(&bytes) != Ok(expected) {
            return Err(format!("notification seed {name} does not parse as {expected:?}").into());
        }
        write(&dir, &format!("0_notification_{name}.bin"), &[&[0u8][..], &bytes].concat())?;
    }
    for (name, bytes, expected) in control_seeds() {
        if fuzzing::parse_rcvinfo(&bytes) != expected {
            return Err(format!("control seed {name} does not parse as {expected:?}").into());
        }
        write(&dir, &format!("1_cmsg_{name}.bin"), &[&[1u8][..], &bytes].concat())?;
    }

    // Every E2AP seed must leave the targets' checks quiet.
    for bytes in &from_node {
        harness::exercise_ric(&mut harness::ric_under_test(), bytes);
    }
    for bytes in &from_ric {
        harness::exercise_node(&mut harness::node_under_test(), bytes);
    }
    Ok(())
}
