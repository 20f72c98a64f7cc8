//! Fuzzes the KME link model with request bodies straight from the wire, as the `qsafe-kme`
//! server would feed it: a sequence of calls (enc_keys, dec_keys, status, time steps, faults)
//! whose request bodies are parsed by the `api` parsers.
//!
//! Input: records separated by 0xFF. Record byte 0 picks the call, byte 1 the site and the SAEs,
//! the rest is the body (JSON, or a query string for the GET forms). A dec_keys record may
//! instead reuse key IDs issued earlier (so the happy path is reached). Properties:
//! * nothing panics;
//! * a failing call changes no key state (pool bits, pending keys, issue/retrieve totals);
//! * a successful enc_keys takes exactly number × size bits from the pool, and the keys
//!   have the requested count and size;
//! * a successful dec_keys returns the requested IDs, in order, with the bytes the master got,
//!   and a key is never delivered twice to the same slave.
#![no_main]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use qsafe_qkd::api::{KeyId, KeyIds, KeyRequest};
use qsafe_qkd::kme::{KmeLink, LinkConfig, Site};

const SAES: [&str; 4] = ["S0", "S1", "S2", ""];

fn key_state(link: &KmeLink) -> (u64, u64, u64, u64) {
    let s = link.stats();
    (s.pool_bits, s.pending_keys, s.keys_issued_total, s.keys_retrieved_total)
}

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut now = t0;
    let config = LinkConfig {
        kme_ids: ["KA".into(), "KB".into()],
        key_size: 64,
        min_key_size: 8,
        max_key_size: 512,
        max_key_count: 64,
        max_key_per_request: 8,
        max_sae_id_count: 2,
        secret_key_rate_bps: 1000,
        seed: Some(0),
        initial_key_count: 16,
        max_pending_keys: 32,
    };
    let mut link = KmeLink::new(config, t0).expect("valid config");
    // Key bytes as issued, and who has fetched them (to check exactly-once).
    let mut issued: Vec<KeyId> = Vec::new();
    let mut bytes: HashMap<KeyId, Vec<u8>> = HashMap::new();
    let mut fetched: HashMap<(KeyId, &str), ()> = HashMap::new();

    for record in data.split(|b| *b == 0xFF).take(64) {
        let &[op, who, ref body @ ..] = record else { continue };
        let site = if who & 1 == 0 { Site::A } else { Site::B };
        let caller = SAES[usize::from(who >> 1) & 3];
        let other = SAES[usize::from(who >> 3) & 3];
        let before = key_state(&link);
        match op % 8 {
            0 | 1 => {
                let req = if op % 8 == 0 {
                    KeyRequest::from_json(body)
                } else {
                    KeyRequest::from_query(&String::from_utf8_lossy(body))
                };
                let Ok(req) = req else { continue };
                match link.enc_keys(site, caller, other, &req, now) {
                    Ok(container) => {
                        let number = req.number.unwrap_or(1) as usize;
                        let size = u64::from(req.size.unwrap_or(64));
                        assert_eq!(container.keys.len(), number);
                        assert!(container.keys.iter().all(|k| k.key.len_bits() == size));
                        assert_eq!(key_state(&link).0, before.0 - number as u64 * size);
                        for k in container.keys {
                            assert!(bytes.insert(k.key_id, k.key.as_bytes().to_vec()).is_none(), "key_ID reused");
                            issued.push(k.key_id);
                        }
                    }
                    Err(_) => assert_eq!(key_state(&link), before),
                }
            }
            2 | 3 => {
                let req = if op % 8 == 2 {
                    KeyIds::from_json(body)
                } else {
                    KeyIds::from_query(&String::from_utf8_lossy(body))
                };
                let Ok(req) = req else { continue };
                dec(&mut link, site, caller, other, &req, now, before, &bytes, &mut fetched);
            }
            4 => {
                // Reuse issued IDs: each body byte picks one.
                if issued.is_empty() {
                    continue;
                }
                let req = KeyIds::new(body.iter().take(8).map(|b| issued[usize::from(*b) % issued.len()]));
                dec(&mut link, site, caller, other, &req, now, before, &bytes, &mut fetched);
            }
            5 => {
                if let Ok(status) = link.status(site, caller, other, now) {
                    assert_eq!(status.stored_key_count, link.stats().pool_bits / 64);
                }
            }
            6 => {
                now += Duration::from_millis(u64::from(who) * 7);
                // Credit the generation now, so that `before` of the next call already has it.
                link.advance(now);
            }
            _ => match who % 3 {
                0 => link.faults().link_down ^= true,
                1 => link.faults().fail_next = u32::from(who >> 4),
                _ => link.drain(),
            },
        }
    }
});

#[allow(clippy::too_many_arguments)]
fn dec<'a>(
    link: &mut KmeLink,
    site: Site,
    caller: &'a str,
    master: &str,
    req: &KeyIds,
    now: Instant,
    before: (u64, u64, u64, u64),
    bytes: &HashMap<KeyId, Vec<u8>>,
    fetched: &mut HashMap<(KeyId, &'a str), ()>,
) {
    match link.dec_keys(site, caller, master, req, now) {
        Ok(container) => {
            let ids: Vec<KeyId> = req.ids().collect();
            assert_eq!(container.keys.iter().map(|k| k.key_id).collect::<Vec<_>>(), ids);
            for k in &container.keys {
                assert_eq!(Some(&k.key.as_bytes().to_vec()), bytes.get(&k.key_id), "slave and master differ");
                assert!(fetched.insert((k.key_id, caller), ()).is_none(), "delivered twice to {caller}");
            }
        }
        Err(_) => assert_eq!(key_state(link), before),
    }
}
