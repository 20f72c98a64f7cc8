//! E2 node id ↔ NATS subject token.
//!
//! Events for node `N` go to `qsafe.events.e2.<token(N)>`. A NATS subject
//! token must not contain `.`, `*`, `>` or whitespace, but E2 node ids contain
//! `/` and `:` and may contain any of those. The token is the node id with
//! every byte outside `A-Z a-z 0-9 _ - / :` written as `%XX` (upper-case
//! hex, like URL percent-encoding; `%` itself is escaped too). The mapping
//! is reversible and one-to-one: [`node_from_token`] accepts only the
//! canonical form (upper-case hex, nothing escaped that needn't be), so one
//! node has exactly one subject and a consumer can filter on it.
//!
//! `gNB/001-01/0x1000:28` → `gNB/001-01/0x1000:28`;
//! `ng-eNB 7.a*>` → `ng-eNB%207%2Ea%2A%3E`.

use crate::EventsError;

/// Where E2 security events are published: `qsafe.events.e2.<node token>`.
pub const E2_SUBJECT_PREFIX: &str = "qsafe.events.e2.";
/// Longest node id, in bytes.
pub const MAX_NODE_LEN: usize = 512;

fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/' | b':')
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Checks a node id: 1 to [`MAX_NODE_LEN`] bytes (any characters).
pub fn validate_node(node: &str) -> Result<(), EventsError> {
    if node.is_empty() || node.len() > MAX_NODE_LEN {
        return Err(EventsError::InvalidEvent(format!("node id must be 1 to {MAX_NODE_LEN} bytes")));
    }
    Ok(())
}

/// The subject token of a node id.
pub fn node_token(node: &str) -> String {
    let mut out = String::with_capacity(node.len());
    for &b in node.as_bytes() {
        if plain(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The node id of a subject token (the inverse of [`node_token`]); refuses
/// anything [`node_token`] would not produce.
pub fn node_from_token(token: &str) -> Result<String, EventsError> {
    let bad = |why: &str| EventsError::InvalidSubject(format!("token {token:?}: {why}"));
    if token.is_empty() {
        return Err(bad("empty"));
    }
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let (Some(hi), Some(lo)) =
                (bytes.get(i + 1).copied().and_then(hex_value), bytes.get(i + 2).copied().and_then(hex_value))
            else {
                return Err(bad("'%' not followed by two upper-case hex digits"));
            };
            let decoded = hi << 4 | lo;
            if plain(decoded) {
                return Err(bad("escapes a character that is not escaped"));
            }
            out.push(decoded);
            i += 3;
        } else if plain(b) {
            out.push(b);
            i += 1;
        } else {
            return Err(bad("character outside A-Z a-z 0-9 _ - / : and %XX"));
        }
    }
    String::from_utf8(out).map_err(|_| bad("not UTF-8"))
}

/// `qsafe.events.e2.<node token>`.
pub fn subject_for_node(node: &str) -> String {
    format!("{E2_SUBJECT_PREFIX}{}", node_token(node))
}

/// The node id of an event subject.
pub fn node_from_subject(subject: &str) -> Result<String, EventsError> {
    let token = subject
        .strip_prefix(E2_SUBJECT_PREFIX)
        .ok_or_else(|| EventsError::InvalidSubject(format!("{subject:?} does not start with {E2_SUBJECT_PREFIX}")))?;
    node_from_token(token)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn is_valid_subject_token(t: &str) -> bool {
        !t.is_empty() && !t.bytes().any(|b| b == b'.' || b == b'*' || b == b'>' || b.is_ascii_whitespace() || b < 0x20)
    }

    #[test]
    fn examples() {
        assert_eq!(node_token("gNB/001-01/0x1000:28"), "gNB/001-01/0x1000:28");
        assert_eq!(node_token("ng-eNB 7.a*>"), "ng-eNB%207%2Ea%2A%3E");
        assert_eq!(node_token("100%"), "100%25");
        assert_eq!(node_token("ü"), "%C3%BC");
        assert_eq!(subject_for_node("gNB/1.2"), "qsafe.events.e2.gNB/1%2E2");
        assert_eq!(node_from_subject("qsafe.events.e2.gNB/1%2E2").unwrap(), "gNB/1.2");
    }

    #[test]
    fn round_trip_every_byte_and_some_unicode() {
        let mut nodes: Vec<String> = (0u8..=127).map(|b| format!("gNB/{}x", char::from(b))).collect();
        nodes.extend(
            ["a.b.c", "*", ">", " ", "\t\n\r", "%", "%25", "ü€😀", "gNB/001-01/0x1000:28", "x y.z*>%"]
                .map(String::from),
        );
        let all_ascii: String = (1u8..=127).map(char::from).collect();
        nodes.push(all_ascii);
        let mut tokens = std::collections::HashSet::new();
        for n in &nodes {
            let t = node_token(n);
            assert!(is_valid_subject_token(&t), "{n:?} -> {t:?}");
            assert_eq!(node_from_token(&t).unwrap(), *n, "{t:?}");
            assert!(tokens.insert(t), "two nodes, one token");
        }
    }

    #[test]
    fn non_canonical_tokens_are_refused() {
        for bad in ["", "a.b", "a b", "a*", "%2e", "%2", "%", "%G0", "%41", "%2F", "a%", "%FF", "%C3"] {
            assert!(node_from_token(bad).is_err(), "{bad:?}");
        }
        assert!(node_from_subject("qsafe.events.other.x").is_err());
    }
}
