//! The E2 security event and its JSON form (documented with an example per
//! kind in `events/README.md`).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::EventsError;
use crate::subject::{subject_for_node, validate_node};

/// Longest event id.
pub const MAX_ID_LEN: usize = 128;

/// The security state of an E2 link (as the xApp's `LinkState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkState {
    /// No SA yet (bootstrap), or reconnected after an isolation.
    Unprotected,
    /// SAs keyed as the policy's mode demands.
    Protected,
    /// SAs keyed from ML-KEM only where the policy wanted QKD.
    Degraded,
    /// SAs removed while ESP stays required: no E2 traffic passes.
    Isolated,
}

/// Which sources a link key was derived from (as `qsafe_hybrid::KeySource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeySource {
    /// A QKD key alone.
    Qkd,
    /// An ML-KEM shared secret alone.
    Pqc,
    /// Both.
    Hybrid,
}

/// Alarm severity (as the xApp's freshness alarms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Trouble ahead.
    Warning,
    /// Freshness or protection below policy.
    Major,
    /// The link is unprotected or cut off.
    Critical,
}

/// What happened (`"kind": {"type": "...", ...}` in JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum EventKind {
    /// The link's security state changed.
    LinkStateChanged {
        /// The state before.
        from: LinkState,
        /// The state now.
        to: LinkState,
    },
    /// A key-freshness limit was exceeded (`what` names the measure as the
    /// xApp's alarms do: `key-age`, `sa-bytes`, `sa-packets`,
    /// `kme-stock-low`, `time-to-empty`, …).
    FreshnessViolation {
        /// The measure.
        what: String,
        /// Its value (seconds, bytes, packets or keys, as the measure).
        value: f64,
        /// The policy limit it crossed.
        limit: f64,
    },
    /// A rekey of the link finished.
    RekeyResult {
        /// The epoch the rekey was for.
        epoch: u64,
        /// Whether the new SAs are in use.
        ok: bool,
        /// Which sources the new key came from (on success).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_source: Option<KeySource>,
        /// From REKEY to outcome, in milliseconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency_ms: Option<u64>,
        /// Why it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<String>,
    },
    /// An alarm was raised (or its severity or text changed).
    AlarmRaised {
        /// The alarm's name (`key-age`, `link-isolated`, …); one active alarm
        /// per name and node.
        alarm: String,
        /// How bad.
        severity: Severity,
        /// For people.
        text: String,
    },
    /// An alarm was cleared.
    AlarmCleared {
        /// The alarm's name.
        alarm: String,
    },
}

impl EventKind {
    /// The JSON `type`: `linkStateChanged`, `freshnessViolation`, ….
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::LinkStateChanged { .. } => "linkStateChanged",
            EventKind::FreshnessViolation { .. } => "freshnessViolation",
            EventKind::RekeyResult { .. } => "rekeyResult",
            EventKind::AlarmRaised { .. } => "alarmRaised",
            EventKind::AlarmCleared { .. } => "alarmCleared",
        }
    }
}

/// One E2 security event, as published by the xApp and consumed by the rApp.
///
/// `id` is the deduplication id: JetStream drops a second publication with the
/// same id within the stream's duplicate window (it is sent as
/// `Nats-Msg-Id`), and the consumer drops redeliveries of an id it already
/// processed. The publisher chooses it: a random UUID ([`new`](Self::new)) for
/// a one-off event, or a stable hash of the content
/// ([`with_stable_id`](Self::with_stable_id)) so that the same fact emitted
/// again, e.g. after an xApp restart, is the same event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct E2SecurityEvent {
    /// Deduplication id: 1 to 128 characters of `A-Z a-z 0-9 _ . : -`.
    pub id: String,
    /// The E2 node id, e.g. `gNB/001-01/0x1000:28`.
    pub node: String,
    /// When it happened (RFC 3339, UTC).
    #[serde(with = "rfc3339_utc")]
    pub at: OffsetDateTime,
    /// What happened.
    pub kind: EventKind,
}

/// The current time in UTC, to the millisecond (what events carry).
pub fn now_utc_millis() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(u32::from(now.millisecond()) * 1_000_000).unwrap_or(now)
}

impl E2SecurityEvent {
    /// An event happening now with a random (UUID v4) id.
    pub fn new(node: impl Into<String>, kind: EventKind) -> Self {
        E2SecurityEvent { id: uuid::Uuid::new_v4().to_string(), node: node.into(), at: now_utc_millis(), kind }
    }

    /// An event whose id is a hash of its node, time and kind: publishing the
    /// same fact twice (e.g. after a restart) is deduplicated.
    pub fn with_stable_id(node: impl Into<String>, at: OffsetDateTime, kind: EventKind) -> Self {
        let mut event =
            E2SecurityEvent { id: String::new(), node: node.into(), at: at.to_offset(time::UtcOffset::UTC), kind };
        event.id = event.content_hash();
        event
    }

    /// A hex SHA-256 (first 128 bits) of node, time and kind.
    pub fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.node.as_bytes());
        h.update([0]);
        h.update(rfc3339_utc::format(&self.at).as_bytes());
        h.update([0]);
        h.update(serde_json::to_vec(&self.kind).unwrap_or_default());
        h.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The NATS subject: `qsafe.events.e2.<node token>`.
    pub fn subject(&self) -> String {
        subject_for_node(&self.node)
    }

    /// Checks the id and the node id.
    pub fn validate(&self) -> Result<(), EventsError> {
        validate_id(&self.id)?;
        validate_node(&self.node)
    }

    /// The JSON form.
    pub fn to_json(&self) -> Result<Vec<u8>, EventsError> {
        serde_json::to_vec(self).map_err(|e| EventsError::Json(e.to_string()))
    }

    /// Parses and validates the JSON form.
    pub fn from_json(bytes: &[u8]) -> Result<Self, EventsError> {
        let event: E2SecurityEvent = serde_json::from_slice(bytes).map_err(|e| EventsError::Json(e.to_string()))?;
        event.validate()?;
        Ok(event)
    }
}

/// Checks an event id: 1 to [`MAX_ID_LEN`] characters of `A-Z a-z 0-9 _ . : -`
/// (safe in a `Nats-Msg-Id` header).
pub fn validate_id(id: &str) -> Result<(), EventsError> {
    if id.is_empty()
        || id.len() > MAX_ID_LEN
        || !id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
    {
        return Err(EventsError::InvalidEvent(format!(
            "id {:?}: 1 to {MAX_ID_LEN} characters of A-Z a-z 0-9 _ . : -",
            id.chars().take(64).collect::<String>()
        )));
    }
    Ok(())
}

/// RFC 3339 in UTC (`2025-06-01T12:00:00.5Z`); any offset is accepted when
/// reading and converted to UTC.
pub mod rfc3339_utc {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use time::format_description::well_known::Rfc3339;
    use time::{OffsetDateTime, UtcOffset};

    /// The text form.
    pub fn format(at: &OffsetDateTime) -> String {
        at.to_offset(UtcOffset::UTC).format(&Rfc3339).unwrap_or_default()
    }

    /// Serde serializer.
    pub fn serialize<S: Serializer>(at: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let text = at.to_offset(UtcOffset::UTC).format(&Rfc3339).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    /// Serde deserializer.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339).map(|t| t.to_offset(UtcOffset::UTC)).map_err(D::Error::custom)
    }

    /// For `Option<OffsetDateTime>` fields.
    pub mod option {
        use super::*;

        /// Serde serializer.
        pub fn serialize<S: Serializer>(at: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => super::serialize(at, s),
                None => s.serialize_none(),
            }
        }

        /// Serde deserializer.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
            let text = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
            text.map(|t| {
                OffsetDateTime::parse(&t, &Rfc3339).map(|t| t.to_offset(UtcOffset::UTC)).map_err(D::Error::custom)
            })
            .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn at() -> OffsetDateTime {
        OffsetDateTime::parse("2025-06-01T12:00:00.250Z", &time::format_description::well_known::Rfc3339).unwrap()
    }

    fn ev(kind: EventKind) -> E2SecurityEvent {
        E2SecurityEvent { id: "3f2a".into(), node: "gNB/001-01/0x1000:28".into(), at: at(), kind }
    }

    #[test]
    fn json_shape_per_kind() {
        let cases = [
            (
                EventKind::LinkStateChanged { from: LinkState::Protected, to: LinkState::Degraded },
                json!({"type": "linkStateChanged", "from": "protected", "to": "degraded"}),
            ),
            (
                EventKind::FreshnessViolation { what: "key-age".into(), value: 3720.5, limit: 3600.0 },
                json!({"type": "freshnessViolation", "what": "key-age", "value": 3720.5, "limit": 3600.0}),
            ),
            (
                EventKind::RekeyResult {
                    epoch: 42,
                    ok: true,
                    key_source: Some(KeySource::Hybrid),
                    latency_ms: Some(87),
                    cause: None,
                },
                json!({"type": "rekeyResult", "epoch": 42, "ok": true, "keySource": "hybrid", "latencyMs": 87}),
            ),
            (
                EventKind::RekeyResult {
                    epoch: 43,
                    ok: false,
                    key_source: None,
                    latency_ms: None,
                    cause: Some("kme".into()),
                },
                json!({"type": "rekeyResult", "epoch": 43, "ok": false, "cause": "kme"}),
            ),
            (
                EventKind::AlarmRaised {
                    alarm: "link-isolated".into(),
                    severity: Severity::Critical,
                    text: "cut".into(),
                },
                json!({"type": "alarmRaised", "alarm": "link-isolated", "severity": "critical", "text": "cut"}),
            ),
            (EventKind::AlarmCleared { alarm: "key-age".into() }, json!({"type": "alarmCleared", "alarm": "key-age"})),
        ];
        for (kind, want) in cases {
            let e = ev(kind);
            let v = serde_json::to_value(&e).unwrap();
            assert_eq!(
                v,
                json!({"id": "3f2a", "node": "gNB/001-01/0x1000:28", "at": "2025-06-01T12:00:00.25Z", "kind": want})
            );
            assert_eq!(E2SecurityEvent::from_json(&e.to_json().unwrap()).unwrap(), e);
        }
    }

    #[test]
    fn offsets_become_utc_and_bad_input_is_refused() {
        let e = E2SecurityEvent::from_json(
            br#"{"id":"a","node":"n","at":"2025-06-01T14:00:00+02:00","kind":{"type":"alarmCleared","alarm":"x"}}"#,
        )
        .unwrap();
        assert_eq!(
            e.at,
            OffsetDateTime::parse("2025-06-01T12:00:00Z", &time::format_description::well_known::Rfc3339).unwrap()
        );
        assert!(serde_json::to_string(&e).unwrap().contains("\"2025-06-01T12:00:00Z\""));
        for bad in [
            r#"{"id":"a","node":"n","at":"yesterday","kind":{"type":"alarmCleared","alarm":"x"}}"#,
            r#"{"id":"a","node":"n","at":"2025-06-01T12:00:00Z","kind":{"type":"unknown"}}"#,
            r#"{"id":"a b","node":"n","at":"2025-06-01T12:00:00Z","kind":{"type":"alarmCleared","alarm":"x"}}"#,
            r#"{"id":"a","node":"","at":"2025-06-01T12:00:00Z","kind":{"type":"alarmCleared","alarm":"x"}}"#,
            r#"{"id":"a","at":"2025-06-01T12:00:00Z","kind":{"type":"alarmCleared","alarm":"x"}}"#,
        ] {
            assert!(E2SecurityEvent::from_json(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn readme_examples_parse_one_per_kind() {
        let readme = include_str!("../README.md");
        let mut kinds = std::collections::BTreeSet::new();
        for block in readme.split("```json").skip(1) {
            let json = block.split("```").next().unwrap();
            let e = E2SecurityEvent::from_json(json.as_bytes()).unwrap_or_else(|err| panic!("{err}: {json}"));
            assert_eq!(serde_json::to_value(&e).unwrap(), serde_json::from_str::<serde_json::Value>(json).unwrap());
            kinds.insert(e.kind.name());
        }
        assert_eq!(kinds.len(), 5, "{kinds:?}");
    }

    #[test]
    fn ids() {
        let a = E2SecurityEvent::new("n", EventKind::AlarmCleared { alarm: "x".into() });
        let b = E2SecurityEvent::new("n", EventKind::AlarmCleared { alarm: "x".into() });
        assert_ne!(a.id, b.id);
        a.validate().unwrap();
        assert_eq!(a.at.nanosecond() % 1_000_000, 0);
        let kind = EventKind::RekeyResult { epoch: 1, ok: true, key_source: None, latency_ms: None, cause: None };
        let s1 = E2SecurityEvent::with_stable_id("n", at(), kind.clone());
        let s2 = E2SecurityEvent::with_stable_id("n", at(), kind.clone());
        let s3 = E2SecurityEvent::with_stable_id("m", at(), kind);
        assert_eq!(s1.id, s2.id);
        assert_ne!(s1.id, s3.id);
        assert_eq!(s1.id.len(), 32);
        s1.validate().unwrap();
        assert!(validate_id(&"x".repeat(129)).is_err());
        assert!(validate_id("a\r\nb").is_err());
    }
}
