//! `e2ap-xcheck`: a JSON-lines bridge from our E2AP/E2SM-KPM codec to
//! `tests/conformance/pycrate_xcheck.py`.
//!
//! Why it exists: the strongest evidence that an APER codec is right is that
//! an independent implementation agrees with it bit for bit and value for
//! value. pycrate is such an implementation, but it is Python; this binary
//! exposes exactly the public API of `qsafe-asn1` that the rest of qsafe-ran
//! uses (typed `E2apPdu` decode/encode/JER, the raw generated types, the KPM
//! payload types) to a single long-lived Python process, so that thousands
//! of values can be compared cheaply. It holds no logic of its own: every
//! answer is one library call, and every failure is reported, never hidden.
//!
//! Protocol: one JSON object per line on stdin, one JSON answer per line on
//! stdout, in order.
//!
//! | request | answer |
//! |---|---|
//! | `{"op":"decode","hex":H}` | `{"ok":true,"jer":J,"reencoded":H1,"raw_reencoded":H2,"skipped":[{"id":..,"criticality":..}]}` |
//! | `{"op":"encode","jer":J}` | `{"ok":true,"hex":H}` |
//! | `{"op":"kpm-decode","type":T,"hex":H}` | `{"ok":true,"jer":J,"reencoded":H1}` (`"jer":null,"jer_error":E` where only the JER view fails) |
//! | `{"op":"kpm-encode","type":T,"jer":J}` | `{"ok":true,"hex":H}` |
//!
//! `J` for E2AP is [`E2apPdu::to_jer`] (open types opened), `H1` is
//! [`E2apPdu::encode`] of the decoded typed value and `H2` is
//! [`reencode_raw`] (generated types only). `T` is the ASN.1 name of one of
//! the five E2SM-KPM top-level types ([`KpmPayloadKind`]); its JER is
//! `rasn::jer` of the generated type (KPM REALs appear as hex strings of their X.690 contents, see
//! `qsafe_asn1::real`). Every error, including a panic inside the codec,
//! is answered as `{"ok":false,"error":"..."}` and the bridge keeps running.

use std::io::{self, BufRead, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};

use qsafe_asn1::e2ap::{E2apPdu, reencode_raw};
use qsafe_asn1::e2ap_asn::Criticality;
use qsafe_asn1::kpm::KpmPayloadKind;
use serde_json::{Value, json};

type Answer = Result<Value, String>;

fn field<'a>(req: &'a Value, name: &str) -> Result<&'a Value, String> {
    req.get(name).ok_or_else(|| format!("request has no {name:?}"))
}

fn hex_field(req: &Value, name: &str) -> Result<Vec<u8>, String> {
    let text = field(req, name)?.as_str().ok_or_else(|| format!("{name:?} is not a string"))?;
    hex::decode(text).map_err(|e| format!("{name:?}: bad hex: {e}"))
}

fn criticality(c: Criticality) -> &'static str {
    match c {
        Criticality::reject => "reject",
        Criticality::ignore => "ignore",
        Criticality::notify => "notify",
    }
}

fn decode(req: &Value) -> Answer {
    let bytes = hex_field(req, "hex")?;
    let (pdu, report) = E2apPdu::decode_with_report(&bytes).map_err(|e| e.to_string())?;
    let jer = pdu.to_jer().map_err(|e| format!("to_jer: {e}"))?;
    let reencoded = pdu.encode().map_err(|e| format!("typed re-encode: {e}"))?;
    let raw = reencode_raw(&bytes).map_err(|e| format!("raw re-encode: {e}"))?;
    let skipped: Vec<Value> =
        report.skipped.iter().map(|s| json!({ "id": s.id, "criticality": criticality(s.criticality) })).collect();
    Ok(json!({
        "jer": jer,
        "reencoded": hex::encode(reencoded),
        "raw_reencoded": hex::encode(raw),
        "skipped": skipped,
    }))
}

fn encode(req: &Value) -> Answer {
    let pdu = E2apPdu::from_jer(field(req, "jer")?).map_err(|e| e.to_string())?;
    let bytes = pdu.encode().map_err(|e| e.to_string())?;
    Ok(json!({ "hex": hex::encode(bytes) }))
}

fn kpm(req: &Value, decoding: bool) -> Answer {
    let name = field(req, "type")?.as_str().ok_or("\"type\" is not a string")?;
    let kind = KpmPayloadKind::from_name(name).ok_or_else(|| format!("unknown E2SM-KPM type {name:?}"))?;
    if !decoding {
        let bytes = kind.encode_from_jer(field(req, "jer")?).map_err(|e| e.to_string())?;
        return Ok(json!({ "hex": hex::encode(bytes) }));
    }
    let bytes = hex_field(req, "hex")?;
    let reencoded = hex::encode(kind.reencode(&bytes).map_err(|e| e.to_string())?);
    // The JER view can fail where APER does not (rasn's JER has no INTEGERs
    // beyond 64 bits): answer the re-encoding anyway and say why JER failed.
    Ok(match kind.decode_to_jer(&bytes) {
        Ok(jer) => json!({ "jer": jer, "reencoded": reencoded }),
        Err(e) => json!({ "jer": null, "jer_error": e.to_string(), "reencoded": reencoded }),
    })
}

fn answer(line: &str) -> Value {
    let run = || -> Answer {
        let req: Value = serde_json::from_str(line).map_err(|e| format!("request is not JSON: {e}"))?;
        match field(&req, "op")?.as_str() {
            Some("decode") => decode(&req),
            Some("encode") => encode(&req),
            Some("kpm-decode") => kpm(&req, true),
            Some("kpm-encode") => kpm(&req, false),
            _ => Err(format!("unknown op {}", req["op"])),
        }
    };
    // A panic is a codec bug; report it as an answer so the caller can count it.
    let result = catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Err(format!("PANIC: {msg}"))
    });
    match result {
        Ok(Value::Object(mut m)) => {
            m.insert("ok".into(), Value::Bool(true));
            Value::Object(m)
        }
        Ok(other) => json!({ "ok": true, "value": other }),
        Err(error) => json!({ "ok": false, "error": error }),
    }
}

fn main() -> io::Result<()> {
    let stdin = io::stdin();
    let mut out = io::BufWriter::new(io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        serde_json::to_writer(&mut out, &answer(&line))?;
        out.write_all(b"\n")?;
        out.flush()?;
    }
    Ok(())
}
