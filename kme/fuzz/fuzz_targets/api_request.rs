//! Fuzzes the ETSI 014 endpoint as the HTTPS edge drives it: routing,
//! content-type check, GET query and POST JSON parsing, and the call on a
//! live link model, for any method, path, query, body and caller.
//!
//! Input: byte 0 picks the method, byte 1 the site, caller and content
//! type, the rest is `path \0 query \0 body`. The token `@K` in the query
//! or body is replaced by the ID of a key issued at site A by `ric-xapp`
//! for `e2node-1`, so dec_keys reaches its success and pairing paths.
//!
//! Properties: never panics; the status is one the endpoint documents;
//! 401 has no body, every other answer a JSON body, and every non-200 one a
//! string `message`; a non-200 answer changes nothing in the link (pool,
//! issued, retrieved, pending); a 200 enc_keys/dec_keys body holds exactly
//! the keys it reports delivering.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use qsafe_kme::endpoint::{self, Attachment, Request};
use qsafe_qkd::api::KeyRequest;
use qsafe_qkd::kme::{KmeLink, LinkConfig, Site};

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "HEAD", "DELETE", "get"];
const CALLERS: [Option<&str>; 4] = [Some("e2node-1"), Some("ric-xapp"), Some("intruder"), None];
const CONTENT_TYPES: [Option<&str>; 4] =
    [Some("application/json"), None, Some("text/plain"), Some("application/JSON; charset=utf-8")];

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let method = METHODS[data[0] as usize % METHODS.len()];
    let site = if data[1] & 1 == 0 { Site::A } else { Site::B };
    let caller = CALLERS[(data[1] >> 1) as usize % CALLERS.len()];
    let content_type = CONTENT_TYPES[(data[1] >> 3) as usize % CONTENT_TYPES.len()];
    let attachment = if data[1] & 0x20 != 0 { Attachment::only(["ric-xapp".to_string()]) } else { Attachment::any() };

    let now = Instant::now();
    let config = LinkConfig {
        kme_ids: ["kme-a".into(), "kme-b".into()],
        seed: Some(1),
        initial_key_count: 64,
        secret_key_rate_bps: 0,
        max_key_per_request: 16,
        max_pending_keys: 32,
        ..LinkConfig::default()
    };
    let Ok(mut link) = KmeLink::new(config, now) else { return };
    let Ok(issued) = link.enc_keys(Site::A, "ric-xapp", "e2node-1", &KeyRequest::new(2, None), now) else {
        return;
    };
    let known_id = issued.keys[0].key_id.to_string();

    let mut parts = data[2..].splitn(3, |b| *b == 0);
    let path = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let query = String::from_utf8_lossy(parts.next().unwrap_or_default()).replace("@K", &known_id);
    let body_raw = parts.next().unwrap_or_default();
    let body = String::from_utf8_lossy(body_raw).replace("@K", &known_id).into_bytes();
    let req = Request { method, path: &path, query: Some(&query), content_type };

    let before = link.stats();
    let answer = match endpoint::route(&req).and_then(|r| endpoint::check_content_type(&r, content_type).map(|()| r)) {
        Ok(route) => endpoint::serve(&mut link, site, &attachment, caller, &route, &body, now),
        Err(a) => a,
    };
    assert!(
        [200, 400, 401, 404, 405, 413, 415, 503].contains(&answer.status),
        "undocumented status {}",
        answer.status
    );
    match (&answer.body, answer.status) {
        (None, 401) => {}
        (Some(_), 401) => panic!("401 with a body"),
        (None, s) => panic!("{s} without a body"),
        (Some(b), s) => {
            let v: serde_json::Value = serde_json::from_slice(b).expect("every body is JSON");
            if s != 200 {
                assert!(v["message"].is_string(), "{s} without a message: {v}");
            } else if answer.delivered.keys > 0 {
                let keys = v["keys"].as_array().expect("a 200 with keys has a keys array");
                assert_eq!(keys.len() as u64, answer.delivered.keys);
                assert_eq!(answer.delivered.bits % 8, 0);
            }
        }
    }
    let after = link.stats();
    if answer.status != 200 {
        assert_eq!(
            (after.pool_bits, after.keys_issued_total, after.keys_retrieved_total, after.pending_keys),
            (before.pool_bits, before.keys_issued_total, before.keys_retrieved_total, before.pending_keys),
            "a {} answer changed the link",
            answer.status
        );
    }
});
