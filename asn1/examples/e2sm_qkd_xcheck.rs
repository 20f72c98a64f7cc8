//! JSON-lines bridge between `tests/conformance/e2sm_qkd_xcheck.py` (pycrate)
//! and the typed E2SM-QKD codec (`qsafe_asn1::e2sm_qkd`).
//!
//! One request per stdin line, one answer per stdout line:
//!
//! * `{"type": T, "hex": H}`: decode `H` as payload `T` with the typed
//!   layer; answer `{"ok": true, "jer": J, "hex": H2}` where `J` is the typed
//!   value written as X.697 JER (as pycrate's `to_jer()`, octet strings in
//!   lower-case hex) and `H2` its re-encoding.
//! * `{"type": T, "jer": J}`: read the typed value from JER and encode it;
//!   answer `{"ok": true, "hex": H}`.
//! * `{"type": "control", "header": H1, "message": H2}`: `decode_control`.
//!
//! Errors answer `{"ok": false, "kind": "Decode"|"Encode"|"Invalid"|"Jer",
//! "field": F, "error": E}`. The JER mapping below is written field by field
//! from the ASN.1 names, independently of `codec.rs`'s conversions, so that a
//! field mix-up there shows up against pycrate.
//!
//! Run: `cargo run -q -p qsafe-asn1 --example e2sm_qkd_xcheck`.

use std::io::{BufRead, Write};

use bytes::Bytes;
use qsafe_asn1::e2sm_qkd::*;
use serde_json::{Map, Value, json};

type Jer<T> = Result<T, String>;

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let answer = match serde_json::from_str::<Value>(&line) {
            Ok(req) => handle(&req),
            Err(e) => json!({"ok": false, "kind": "Jer", "error": format!("request is not JSON: {e}")}),
        };
        if writeln!(out, "{answer}").and_then(|_| out.flush()).is_err() {
            break;
        }
    }
}

fn handle(req: &Value) -> Value {
    let ty = req.get("type").and_then(Value::as_str).unwrap_or("");
    if ty == "control" {
        let h = req.get("header").and_then(Value::as_str).unwrap_or("");
        let m = req.get("message").and_then(Value::as_str).unwrap_or("");
        let (Ok(h), Ok(m)) = (hex::decode(h), hex::decode(m)) else {
            return json!({"ok": false, "kind": "Jer", "error": "bad hex"});
        };
        return match decode_control(&h, &m) {
            Ok((hdr, msg)) => {
                json!({"ok": true, "command": command_jer(hdr.command), "jer": control_message_jer(&msg)})
            }
            Err(e) => error(&e),
        };
    }
    match ty {
        "E2SM-QKD-RANfunction-Definition" => run::<RanFunctionDefinition>(req, ran_function_jer, ran_function_from),
        "E2SM-QKD-EventTrigger" => run::<EventTrigger>(req, event_trigger_jer, event_trigger_from),
        "E2SM-QKD-ActionDefinition" => run::<ActionDefinition>(req, action_jer, action_from),
        "E2SM-QKD-IndicationHeader" => run::<IndicationHeader>(req, ind_header_jer, ind_header_from),
        "E2SM-QKD-IndicationMessage" => run::<IndicationMessage>(req, ind_message_jer, ind_message_from),
        "E2SM-QKD-ControlHeader" => run::<ControlHeader>(req, ctl_header_jer, ctl_header_from),
        "E2SM-QKD-ControlMessage" => run::<ControlMessage>(req, control_message_jer, control_message_from),
        "E2SM-QKD-ControlOutcome" => run::<ControlOutcome>(req, outcome_jer, outcome_from),
        other => json!({"ok": false, "kind": "Jer", "error": format!("unknown type {other:?}")}),
    }
}

fn run<T: E2smQkdPayload>(req: &Value, to: fn(&T) -> Value, from: fn(&Value) -> Jer<T>) -> Value {
    if let Some(h) = req.get("hex").and_then(Value::as_str) {
        let Ok(bytes) = hex::decode(h) else {
            return json!({"ok": false, "kind": "Jer", "error": "bad hex"});
        };
        return match T::decode(&bytes) {
            Ok(v) => match v.encode() {
                Ok(again) => json!({"ok": true, "jer": to(&v), "hex": hex::encode(again)}),
                Err(e) => error(&e),
            },
            Err(e) => error(&e),
        };
    }
    let Some(j) = req.get("jer") else {
        return json!({"ok": false, "kind": "Jer", "error": "request has neither hex nor jer"});
    };
    match from(j) {
        Ok(v) => match v.encode() {
            Ok(b) => json!({"ok": true, "hex": hex::encode(b)}),
            Err(e) => error(&e),
        },
        Err(e) => json!({"ok": false, "kind": "Jer", "error": e}),
    }
}

fn error(e: &E2smQkdError) -> Value {
    let (kind, field) = match e {
        E2smQkdError::Decode { .. } => ("Decode", ""),
        E2smQkdError::Encode { .. } => ("Encode", ""),
        E2smQkdError::Invalid { field, .. } => ("Invalid", *field),
    };
    json!({"ok": false, "kind": kind, "field": field, "error": e.to_string()})
}

// ---------------------------------------------------------------------------
// JER helpers

fn obj(pairs: Vec<(&str, Option<Value>)>) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    }
    Value::Object(m)
}

fn hexv(b: &[u8]) -> Value {
    Value::String(hex::encode(b))
}

fn field<'a>(j: &'a Value, name: &str) -> Jer<&'a Value> {
    j.get(name).ok_or_else(|| format!("missing {name}"))
}

fn opt<'a>(j: &'a Value, name: &str) -> Option<&'a Value> {
    j.get(name)
}

fn s(v: &Value) -> Jer<String> {
    v.as_str().map(str::to_string).ok_or_else(|| format!("not a string: {v}"))
}

fn u32v(v: &Value) -> Jer<u32> {
    v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| format!("not a u32: {v}"))
}

fn u64v(v: &Value) -> Jer<u64> {
    v.as_u64().ok_or_else(|| format!("not a u64: {v}"))
}

fn boolv(v: &Value) -> Jer<bool> {
    v.as_bool().ok_or_else(|| format!("not a boolean: {v}"))
}

fn octets(v: &Value) -> Jer<Bytes> {
    hex::decode(s(v)?).map(Bytes::from).map_err(|e| format!("bad hex: {e}"))
}

fn fixed<const N: usize>(v: &Value) -> Jer<[u8; N]> {
    let b = octets(v)?;
    <[u8; N]>::try_from(b.as_ref()).map_err(|_| format!("want {N} octets"))
}

/// A one-key object `{alt: value}` (JER CHOICE).
fn choice(v: &Value) -> Jer<(&str, &Value)> {
    let m = v.as_object().ok_or("CHOICE is not an object")?;
    match m.iter().next() {
        Some((k, v)) if m.len() == 1 => Ok((k.as_str(), v)),
        _ => Err("CHOICE must have one key".into()),
    }
}

macro_rules! enum_jer {
    ($to:ident, $from:ident, $ty:ty, { $($v:ident = $s:literal),* $(,)? }) => {
        fn $to(v: $ty) -> Value {
            Value::String(match v { $(<$ty>::$v => $s,)* }.to_string())
        }
        fn $from(v: &Value) -> Jer<$ty> {
            match v.as_str() {
                $(Some($s) => Ok(<$ty>::$v),)*
                _ => Err(format!("bad {}: {v}", stringify!($ty))),
            }
        }
    };
}

enum_jer!(mode_jer, mode_from, KeySourceMode, {
    QkdAndPqc = "qkd-and-pqc", AtLeastQkd = "at-least-qkd", AtLeastPqc = "at-least-pqc", Either = "either",
});
enum_jer!(source_jer, source_from, KeySource, { Qkd = "qkd", Pqc = "pqc", Hybrid = "hybrid" });
enum_jer!(state_jer, state_from, LinkState, {
    Unprotected = "unprotected", Protected = "protected", Degraded = "degraded", Isolated = "isolated",
});
enum_jer!(alg_jer, alg_from, KemAlgorithm, { MlKem768 = "ml-kem-768", MlKem1024 = "ml-kem-1024" });
enum_jer!(reason_jer, reason_from, ReportReason, {
    Periodic = "periodic", EpochChange = "epoch-change", ModeChange = "mode-change", StateChange = "state-change",
});
enum_jer!(command_jer, command_from, ControlCommand, {
    Rekey = "rekey", SetMode = "set-mode", Isolate = "isolate", Restore = "restore",
});
enum_jer!(cause_jer, cause_from, ControlFailureCause, {
    Malformed = "malformed", BadSignature = "bad-signature", UntrustedCertificate = "untrusted-certificate",
    WrongSaeId = "wrong-sae-id", ReplayedEpoch = "replayed-epoch", UnknownKemKey = "unknown-kem-key",
    KemFailure = "kem-failure", QkdKeyNotFound = "qkd-key-not-found", KmeUnavailable = "kme-unavailable",
    ModeNotSupported = "mode-not-supported", ModeViolation = "mode-violation", SpiInUse = "spi-in-use",
    SaInstallFailed = "sa-install-failed", Busy = "busy",
});

fn kem_key_jer(k: &SignedKemKey) -> Value {
    json!({
        "kemKeyId": k.kem_key_id,
        "algorithm": alg_jer(k.algorithm),
        "encapsulationKey": hexv(&k.encapsulation_key),
        "signature": hexv(&k.signature),
    })
}

fn kem_key_from(j: &Value) -> Jer<SignedKemKey> {
    Ok(SignedKemKey {
        kem_key_id: u32v(field(j, "kemKeyId")?)?,
        algorithm: alg_from(field(j, "algorithm")?)?,
        encapsulation_key: octets(field(j, "encapsulationKey")?)?,
        signature: octets(field(j, "signature")?)?,
    })
}

fn chain_jer(c: &[Bytes]) -> Value {
    Value::Array(c.iter().map(|b| hexv(b)).collect())
}

fn chain_from(j: &Value) -> Jer<Vec<Bytes>> {
    j.as_array().ok_or("chain is not an array")?.iter().map(octets).collect()
}

// ---------------------------------------------------------------------------
// Payloads

fn ran_function_jer(r: &RanFunctionDefinition) -> Value {
    json!({
        "ranFunctionShortName": r.short_name,
        "ranFunctionOID": r.oid,
        "ranFunctionDescription": r.description,
        "nodeSaeId": r.node_sae_id,
        "nodeKmeId": r.node_kme_id,
        "supportedModes": r.supported_modes.iter().map(|m| mode_jer(*m)).collect::<Vec<_>>(),
        "certificateChain": chain_jer(&r.certificate_chain),
        "firstKemKey": kem_key_jer(&r.first_kem_key),
    })
}

fn ran_function_from(j: &Value) -> Jer<RanFunctionDefinition> {
    Ok(RanFunctionDefinition {
        short_name: s(field(j, "ranFunctionShortName")?)?,
        oid: s(field(j, "ranFunctionOID")?)?,
        description: s(field(j, "ranFunctionDescription")?)?,
        node_sae_id: s(field(j, "nodeSaeId")?)?,
        node_kme_id: s(field(j, "nodeKmeId")?)?,
        supported_modes: field(j, "supportedModes")?
            .as_array()
            .ok_or("supportedModes is not an array")?
            .iter()
            .map(mode_from)
            .collect::<Jer<_>>()?,
        certificate_chain: chain_from(field(j, "certificateChain")?)?,
        first_kem_key: kem_key_from(field(j, "firstKemKey")?)?,
    })
}

fn event_trigger_jer(t: &EventTrigger) -> Value {
    obj(vec![("reportingPeriodMs", t.reporting_period_ms.map(|v| json!(v))), ("onChange", Some(json!(t.on_change)))])
}

fn event_trigger_from(j: &Value) -> Jer<EventTrigger> {
    Ok(EventTrigger {
        reporting_period_ms: opt(j, "reportingPeriodMs").map(u32v).transpose()?,
        on_change: boolv(field(j, "onChange")?)?,
    })
}

fn action_jer(a: &ActionDefinition) -> Value {
    json!({"includeNextKemKey": a.include_next_kem_key})
}

fn action_from(j: &Value) -> Jer<ActionDefinition> {
    Ok(ActionDefinition { include_next_kem_key: boolv(field(j, "includeNextKemKey")?)? })
}

fn ind_header_jer(h: &IndicationHeader) -> Value {
    json!({"timestamp": hexv(&h.timestamp), "reason": reason_jer(h.reason)})
}

fn ind_header_from(j: &Value) -> Jer<IndicationHeader> {
    Ok(IndicationHeader { timestamp: fixed(field(j, "timestamp")?)?, reason: reason_from(field(j, "reason")?)? })
}

fn current_sa_jer(c: &CurrentSa) -> Value {
    obj(vec![
        ("epoch", Some(json!(c.epoch))),
        ("keyId", c.key_id.map(|k| hexv(&k))),
        ("spiRicToNode", Some(json!(c.spi_ric_to_node))),
        ("spiNodeToRic", Some(json!(c.spi_node_to_ric))),
        ("keySource", Some(source_jer(c.key_source))),
        ("ageMs", Some(json!(c.age_ms))),
        ("inboundBytes", Some(json!(c.inbound_bytes))),
        ("inboundPackets", Some(json!(c.inbound_packets))),
        ("outboundBytes", Some(json!(c.outbound_bytes))),
        ("outboundPackets", Some(json!(c.outbound_packets))),
    ])
}

fn current_sa_from(j: &Value) -> Jer<CurrentSa> {
    Ok(CurrentSa {
        epoch: u32v(field(j, "epoch")?)?,
        key_id: opt(j, "keyId").map(fixed).transpose()?,
        spi_ric_to_node: u32v(field(j, "spiRicToNode")?)?,
        spi_node_to_ric: u32v(field(j, "spiNodeToRic")?)?,
        key_source: source_from(field(j, "keySource")?)?,
        age_ms: u32v(field(j, "ageMs")?)?,
        inbound_bytes: u64v(field(j, "inboundBytes")?)?,
        inbound_packets: u64v(field(j, "inboundPackets")?)?,
        outbound_bytes: u64v(field(j, "outboundBytes")?)?,
        outbound_packets: u64v(field(j, "outboundPackets")?)?,
    })
}

fn ind_message_jer(m: &IndicationMessage) -> Value {
    obj(vec![
        ("linkState", Some(state_jer(m.link_state))),
        ("mode", Some(mode_jer(m.mode))),
        ("currentSa", m.current_sa.as_ref().map(current_sa_jer)),
        ("kmeStoredKeys", m.kme_stored_keys.map(|v| json!(v))),
        ("nextKemKey", m.next_kem_key.as_ref().map(kem_key_jer)),
    ])
}

fn ind_message_from(j: &Value) -> Jer<IndicationMessage> {
    Ok(IndicationMessage {
        link_state: state_from(field(j, "linkState")?)?,
        mode: mode_from(field(j, "mode")?)?,
        current_sa: opt(j, "currentSa").map(current_sa_from).transpose()?,
        kme_stored_keys: opt(j, "kmeStoredKeys").map(u32v).transpose()?,
        next_kem_key: opt(j, "nextKemKey").map(kem_key_from).transpose()?,
    })
}

fn ctl_header_jer(h: &ControlHeader) -> Value {
    json!({"command": command_jer(h.command)})
}

fn ctl_header_from(j: &Value) -> Jer<ControlHeader> {
    Ok(ControlHeader { command: command_from(field(j, "command")?)? })
}

fn control_message_jer(m: &ControlMessage) -> Value {
    match m {
        ControlMessage::Rekey(r) => json!({"rekey": obj(vec![
            ("epoch", Some(json!(r.epoch))),
            ("ricSaeId", Some(json!(r.ric_sae_id))),
            ("nodeSaeId", Some(json!(r.node_sae_id))),
            ("keyId", r.key_id.map(|k| hexv(&k))),
            ("kemKeyId", r.kem_key_id.map(|v| json!(v))),
            ("kemCiphertext", r.kem_ciphertext.as_ref().map(|b| hexv(b))),
            ("spiRicToNode", Some(json!(r.spi_ric_to_node))),
            ("spiNodeToRic", Some(json!(r.spi_node_to_ric))),
            ("mode", Some(mode_jer(r.mode))),
            ("keySource", Some(source_jer(r.key_source))),
            ("activation", Some(json!({"graceMs": r.grace_ms}))),
            ("ricCertificateChain", r.ric_certificate_chain.as_deref().map(chain_jer)),
            ("signature", Some(hexv(&r.signature))),
        ])}),
        ControlMessage::SetMode(c) => json!({"setMode": {
            "epoch": c.epoch, "ricSaeId": c.ric_sae_id, "nodeSaeId": c.node_sae_id,
            "mode": mode_jer(c.mode), "signature": hexv(&c.signature),
        }}),
        ControlMessage::Isolate(c) => json!({"isolate": {
            "epoch": c.epoch, "ricSaeId": c.ric_sae_id, "nodeSaeId": c.node_sae_id,
            "isolate": c.isolate, "signature": hexv(&c.signature),
        }}),
    }
}

fn control_message_from(j: &Value) -> Jer<ControlMessage> {
    let (alt, j) = choice(j)?;
    Ok(match alt {
        "rekey" => ControlMessage::Rekey(RekeyCommand {
            epoch: u32v(field(j, "epoch")?)?,
            ric_sae_id: s(field(j, "ricSaeId")?)?,
            node_sae_id: s(field(j, "nodeSaeId")?)?,
            key_id: opt(j, "keyId").map(fixed).transpose()?,
            kem_key_id: opt(j, "kemKeyId").map(u32v).transpose()?,
            kem_ciphertext: opt(j, "kemCiphertext").map(octets).transpose()?,
            spi_ric_to_node: u32v(field(j, "spiRicToNode")?)?,
            spi_node_to_ric: u32v(field(j, "spiNodeToRic")?)?,
            mode: mode_from(field(j, "mode")?)?,
            key_source: source_from(field(j, "keySource")?)?,
            grace_ms: u32v(field(field(j, "activation")?, "graceMs")?)?,
            ric_certificate_chain: opt(j, "ricCertificateChain").map(chain_from).transpose()?,
            signature: octets(field(j, "signature")?)?,
        }),
        "setMode" => ControlMessage::SetMode(SetModeCommand {
            epoch: u32v(field(j, "epoch")?)?,
            ric_sae_id: s(field(j, "ricSaeId")?)?,
            node_sae_id: s(field(j, "nodeSaeId")?)?,
            mode: mode_from(field(j, "mode")?)?,
            signature: octets(field(j, "signature")?)?,
        }),
        "isolate" => ControlMessage::Isolate(IsolateCommand {
            epoch: u32v(field(j, "epoch")?)?,
            ric_sae_id: s(field(j, "ricSaeId")?)?,
            node_sae_id: s(field(j, "nodeSaeId")?)?,
            isolate: boolv(field(j, "isolate")?)?,
            signature: octets(field(j, "signature")?)?,
        }),
        other => return Err(format!("unknown ControlMessage alternative {other}")),
    })
}

fn outcome_jer(o: &ControlOutcome) -> Value {
    let result = match o.result {
        ControlResult::Success(s) => json!({"success": source_jer(s)}),
        ControlResult::Failure(c) => json!({"failure": cause_jer(c)}),
    };
    obj(vec![
        ("command", Some(command_jer(o.command))),
        ("epoch", Some(json!(o.epoch))),
        ("result", Some(result)),
        ("nextKemKey", o.next_kem_key.as_ref().map(kem_key_jer)),
        ("signature", Some(hexv(&o.signature))),
    ])
}

fn outcome_from(j: &Value) -> Jer<ControlOutcome> {
    let (alt, r) = choice(field(j, "result")?)?;
    let result = match alt {
        "success" => ControlResult::Success(source_from(r)?),
        "failure" => ControlResult::Failure(cause_from(r)?),
        other => return Err(format!("unknown result alternative {other}")),
    };
    Ok(ControlOutcome {
        command: command_from(field(j, "command")?)?,
        epoch: u32v(field(j, "epoch")?)?,
        result,
        next_kem_key: opt(j, "nextKemKey").map(kem_key_from).transpose()?,
        signature: octets(field(j, "signature")?)?,
    })
}
