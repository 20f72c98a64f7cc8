//! Fuzzes what the rApp's consumer takes off NATS: a message's subject and
//! its JSON payload ([`E2SecurityEvent::from_json`]), then applied to the
//! per-node view.
//!
//! Input: `subject \0 payload` (no NUL: all of it is the payload).
//!
//! Properties: never panics; a subject that decodes to a node re-encodes to
//! the same subject (one subject per node); an event that parses is valid,
//! round-trips through its JSON, and applying it to the view twice changes
//! the view once at most (idempotent under redelivery).
#![no_main]

use libfuzzer_sys::fuzz_target;
use qsafe_events::{E2SecurityEvent, E2SecurityView, node_from_subject, subject_for_node};

fuzz_target!(|data: &[u8]| {
    let (subject, payload) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    if let Ok(subject) = std::str::from_utf8(subject)
        && let Ok(node) = node_from_subject(subject)
    {
        assert_eq!(subject_for_node(&node), subject);
    }
    if let Ok(event) = E2SecurityEvent::from_json(payload) {
        event.validate().expect("a parsed event is valid");
        let again = E2SecurityEvent::from_json(&event.to_json().expect("encodes")).expect("round trip");
        assert_eq!(again, event);
        let mut view = E2SecurityView::new();
        view.apply(&event);
        let once = view.clone();
        assert!(!view.apply(&event), "a redelivered event changed the view");
        assert_eq!(view, once);
    }
});
