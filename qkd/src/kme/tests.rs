use super::*;
use crate::api::messages;
use serde_json::Map;

const M: &str = "SAE_master";
const S: &str = "SAE_slave";

fn config() -> LinkConfig {
    LinkConfig {
        kme_ids: ["KME_A".into(), "KME_B".into()],
        key_size: 256,
        min_key_size: 64,
        max_key_size: 1024,
        max_key_count: 100,
        max_key_per_request: 8,
        max_sae_id_count: 0,
        secret_key_rate_bps: 2560, // 10 default keys per second
        seed: Some(7),
        initial_key_count: 0,
        max_pending_keys: 1000,
    }
}

/// A link with `keys` default-size keys in the pool, and its start time.
fn link_with(config: LinkConfig, keys: u64) -> (KmeLink, Instant) {
    let t0 = Instant::now();
    let link = KmeLink::new(LinkConfig { initial_key_count: keys, ..config }, t0).unwrap();
    (link, t0)
}

/// The state a request may change: pool, pending records, issue/retrieve totals.
fn key_state(link: &KmeLink) -> (u64, u64, u64, u64, Vec<KeyId>) {
    let s = link.stats();
    let mut ids: Vec<KeyId> = link.pending.keys().copied().collect();
    ids.sort();
    (s.pool_bits, s.pending_keys, s.keys_issued_total, s.keys_retrieved_total, ids)
}

fn expect_400(result: Result<KeyContainer, KmeError>, message: &str) -> ErrorBody {
    match result {
        Err(KmeError::BadRequest(body)) => {
            assert_eq!(body.message, message, "{body:?}");
            body
        }
        other => panic!("expected 400 {message:?}, got {other:?}"),
    }
}

#[test]
fn config_validation_names_the_problem() {
    let ok = config();
    assert_eq!(ok.validate(), Ok(()));
    assert_eq!(LinkConfig::default().validate(), Ok(()));
    let cases: Vec<(LinkConfig, ConfigError)> = vec![
        (LinkConfig { kme_ids: ["".into(), "B".into()], ..ok.clone() }, ConfigError::EmptyKmeId(0)),
        (LinkConfig { kme_ids: ["X".into(), "X".into()], ..ok.clone() }, ConfigError::SameKmeIds("X".into())),
        (LinkConfig { key_size: 250, ..ok.clone() }, ConfigError::SizeNotMultipleOf8 { name: "key_size", value: 250 }),
        (
            LinkConfig { min_key_size: 0, ..ok.clone() },
            ConfigError::SizeNotMultipleOf8 { name: "min_key_size", value: 0 },
        ),
        (LinkConfig { min_key_size: 512, ..ok.clone() }, ConfigError::SizeOrder { min: 512, default: 256, max: 1024 }),
        (
            LinkConfig { max_key_count: 0, ..ok.clone() },
            ConfigError::TooSmall { name: "max_key_count", min: 1, value: 0 },
        ),
        (
            LinkConfig { max_key_per_request: 0, ..ok.clone() },
            ConfigError::TooSmall { name: "max_key_per_request", min: 1, value: 0 },
        ),
        (
            LinkConfig { max_pending_keys: 7, ..ok.clone() },
            ConfigError::TooSmall { name: "max_pending_keys", min: 8, value: 7 },
        ),
        (LinkConfig { max_key_count: u64::MAX, ..ok.clone() }, ConfigError::CapacityOverflow),
    ];
    for (config, expected) in cases {
        assert_eq!(KmeLink::new(config, Instant::now()).unwrap_err(), expected);
    }
}

#[test]
fn status_follows_the_calling_site_and_reports_the_live_count() {
    let (mut link, t0) = link_with(config(), 3);
    let a = link.status(Site::A, M, S, t0).unwrap();
    assert_eq!((a.source_kme_id.as_str(), a.target_kme_id.as_str()), ("KME_A", "KME_B"));
    assert_eq!((a.master_sae_id.as_str(), a.slave_sae_id.as_str()), (M, S));
    assert_eq!(a.stored_key_count, 3);
    assert_eq!((a.key_size, a.min_key_size, a.max_key_size), (256, 64, 1024));
    assert_eq!((a.max_key_count, a.max_key_per_request, a.max_sae_id_count), (100, 8, 0));
    let b = link.status(Site::B, S, M, t0 + Duration::from_millis(500)).unwrap();
    assert_eq!((b.source_kme_id.as_str(), b.target_kme_id.as_str()), ("KME_B", "KME_A"));
    assert_eq!(b.stored_key_count, 8, "3 initial + 5 generated in 0.5 s");
    link.enc_keys(Site::A, M, S, &KeyRequest::new(2, None), t0 + Duration::from_millis(500)).unwrap();
    assert_eq!(link.status(Site::B, S, M, t0 + Duration::from_millis(500)).unwrap().stored_key_count, 6);
    // Keys of another size are cut from the same bits: 4 x 64 bits = one default key.
    link.enc_keys(Site::B, M, S, &KeyRequest::new(4, Some(64)), t0 + Duration::from_millis(500)).unwrap();
    assert_eq!(link.status(Site::A, M, S, t0 + Duration::from_millis(500)).unwrap().stored_key_count, 5);
}

#[test]
fn status_errors() {
    let (mut link, t0) = link_with(config(), 1);
    assert_eq!(link.status(Site::A, "", S, t0).unwrap_err(), KmeError::Unauthorized);
    assert_eq!(link.status(Site::A, M, "", t0).unwrap_err().http_status(), 400);
    link.faults().fail_next = 1;
    let err = link.status(Site::A, M, S, t0).unwrap_err();
    assert_eq!(err.http_status(), 503);
    assert!(err.body().is_some());
    assert!(link.status(Site::A, M, S, t0).is_ok());
    let s = link.stats().status;
    assert_eq!((s.ok, s.bad_request, s.unauthorized, s.unavailable), (1, 1, 1, 1));
}

#[test]
fn generation_is_exact_capped_and_stops_while_the_link_is_down() {
    let rate_config =
        LinkConfig { secret_key_rate_bps: 1001, max_key_count: 20, key_size: 64, min_key_size: 64, ..config() };
    let (mut stepped, t0) = link_with(rate_config.clone(), 0);
    let mut once = KmeLink::new(rate_config, t0).unwrap();
    // 1001 bit/s in 7 ms steps leaves a fractional bit each step; the carry keeps it exact.
    for i in 1..=100u32 {
        stepped.advance(t0 + Duration::from_millis(7) * i);
    }
    once.advance(t0 + Duration::from_millis(700));
    assert_eq!(stepped.stats().pool_bits, 700, "floor(1001 * 0.7)");
    assert_eq!(once.stats().pool_bits, 700);
    // Capped at 20 x 64 bits; the rest counts as overflow.
    once.advance(t0 + Duration::from_secs(2));
    let s = once.stats();
    assert_eq!(s.pool_bits, 1280);
    assert_eq!(s.generated_bits_total, 1280);
    assert_eq!(s.overflow_bits_total, 2002 - 1280);
    // An earlier `now` changes nothing.
    once.drain();
    once.advance(t0);
    assert_eq!(once.stats().pool_bits, 0);
    // Link down: nothing generated, and the time spent down is not credited later.
    once.faults().link_down = true;
    once.advance(t0 + Duration::from_secs(3));
    assert_eq!(once.stats().pool_bits, 0);
    assert!(once.stats().link_down);
    once.faults().link_down = false;
    once.advance(t0 + Duration::from_millis(3100));
    assert_eq!(once.stats().pool_bits, 100);
    assert_eq!(once.stats().drained_bits_total, 1280);
}

#[test]
fn a_slave_gets_the_masters_keys_exactly_once_at_the_other_site() {
    let (mut link, t0) = link_with(config(), 10);
    let issued = link.enc_keys(Site::A, M, S, &KeyRequest::new(3, Some(512)), t0).unwrap();
    assert_eq!(issued.keys.len(), 3);
    assert!(issued.keys.iter().all(|k| k.key.len_bits() == 512));
    let ids = KeyIds::new(issued.keys.iter().map(|k| k.key_id));
    // The issuing site does not hand the keys out again.
    expect_400(link.dec_keys(Site::A, S, M, &ids, t0), messages::KEYS_NOT_FOUND);
    let fetched = link.dec_keys(Site::B, S, M, &ids, t0).unwrap();
    assert_eq!(fetched.keys, issued.keys, "same IDs, same bytes, same order");
    let again = expect_400(link.dec_keys(Site::B, S, M, &ids, t0), messages::KEYS_NOT_FOUND);
    let missing = &again.details.unwrap()[0]["key_IDs_not_found"];
    assert_eq!(missing.as_array().unwrap().len(), 3);
    assert_eq!(link.stats().pending_keys, 0);
    assert_eq!(link.stats().keys_retrieved_total, 3);
    // Keys are distinct and IDs are v4 UUIDs.
    assert_ne!(issued.keys[0].key, issued.keys[1].key);
    assert_eq!(issued.keys[0].key_id.as_uuid().get_version_num(), 4);
}

#[test]
fn keys_can_be_fetched_in_parts_and_in_any_order() {
    let (mut link, t0) = link_with(config(), 10);
    let issued = link.enc_keys(Site::B, M, S, &KeyRequest::new(3, None), t0).unwrap();
    let second = link.dec_keys(Site::A, S, M, &KeyIds::new([issued.keys[2].key_id]), t0).unwrap();
    assert_eq!(second.keys[0], issued.keys[2]);
    let rest = link.dec_keys(Site::A, S, M, &KeyIds::new([issued.keys[1].key_id, issued.keys[0].key_id]), t0).unwrap();
    assert_eq!(rest.keys[0], issued.keys[1]);
    assert_eq!(rest.keys[1], issued.keys[0]);
}

#[test]
fn dec_keys_by_an_sae_that_is_not_the_slave_is_401_and_changes_nothing() {
    let (mut link, t0) = link_with(config(), 10);
    let issued = link.enc_keys(Site::A, M, S, &KeyRequest::new(2, None), t0).unwrap();
    let ids = KeyIds::new(issued.keys.iter().map(|k| k.key_id));
    let before = key_state(&link);
    assert_eq!(link.dec_keys(Site::B, "SAE_intruder", M, &ids, t0).unwrap_err(), KmeError::Unauthorized);
    assert_eq!(link.dec_keys(Site::B, M, M, &ids, t0).unwrap_err(), KmeError::Unauthorized, "the master is no slave");
    assert_eq!(link.dec_keys(Site::B, "", M, &ids, t0).unwrap_err(), KmeError::Unauthorized);
    // 401 wins over "not found" when one of the keys exists for someone else.
    let mixed = KeyIds::new([issued.keys[0].key_id, KeyId::from_random_bytes([1; 16])]);
    assert_eq!(link.dec_keys(Site::B, "SAE_intruder", M, &mixed, t0).unwrap_err(), KmeError::Unauthorized);
    assert_eq!(key_state(&link), before);
    assert_eq!(link.stats().dec_keys.unauthorized, 4);
    assert_eq!(link.dec_keys(Site::B, S, M, &ids, t0).unwrap().keys, issued.keys);
}

#[test]
fn dec_keys_bad_requests_change_nothing() {
    let (mut link, t0) = link_with(config(), 10);
    let issued = link.enc_keys(Site::A, M, S, &KeyRequest::new(2, None), t0).unwrap();
    let (k0, k1) = (issued.keys[0].key_id, issued.keys[1].key_id);
    let unknown = KeyId::from_random_bytes([9; 16]);
    let before = key_state(&link);

    // Unknown ID next to a good one: nothing is delivered (no partial answer).
    let body = expect_400(link.dec_keys(Site::B, S, M, &KeyIds::new([k0, unknown]), t0), messages::KEYS_NOT_FOUND);
    assert_eq!(body.details.unwrap()[0]["key_IDs_not_found"], serde_json::json!([unknown.to_string()]));
    // Wrong master in the path.
    expect_400(link.dec_keys(Site::B, S, "SAE_other", &KeyIds::new([k0]), t0), messages::KEYS_NOT_FOUND);
    // Empty list, duplicates, empty master.
    expect_400(link.dec_keys(Site::B, S, M, &KeyIds::default(), t0), messages::PARAMETERS_OUT_OF_RANGE);
    expect_400(link.dec_keys(Site::B, S, M, &KeyIds::new([k0, k1, k0]), t0), messages::PARAMETERS_OUT_OF_RANGE);
    expect_400(link.dec_keys(Site::B, S, "", &KeyIds::new([k0]), t0), messages::PARAMETERS_OUT_OF_RANGE);
    assert_eq!(key_state(&link), before);
    assert_eq!(link.stats().dec_keys.bad_request, 5);
    assert_eq!(link.dec_keys(Site::B, S, M, &KeyIds::new([k1, k0]), t0).unwrap().keys.len(), 2);
}

#[test]
fn enc_keys_bad_requests_get_the_spec_answers_and_change_nothing() {
    let (mut link, t0) = link_with(config(), 50);
    let before = key_state(&link);
    let ext = |name: &str| {
        let mut m = Map::new();
        m.insert(name.to_owned(), serde_json::json!("direct"));
        m
    };
    let cases: Vec<(KeyRequest, &str, &str)> = vec![
        (KeyRequest::new(1, Some(100)), messages::SIZE_NOT_MULTIPLE_OF_8, "size"),
        (KeyRequest::new(1, Some(7)), messages::SIZE_NOT_MULTIPLE_OF_8, "size"),
        (KeyRequest::new(1, Some(56)), messages::PARAMETERS_OUT_OF_RANGE, "size_unsupported"),
        (KeyRequest::new(1, Some(1032)), messages::PARAMETERS_OUT_OF_RANGE, "size_unsupported"),
        (KeyRequest::new(0, None), messages::PARAMETERS_OUT_OF_RANGE, "number_unsupported"),
        (KeyRequest::new(9, None), messages::PARAMETERS_OUT_OF_RANGE, "number_unsupported"),
        (
            KeyRequest { extension_mandatory: Some(vec![ext("abc_route_type")]), ..KeyRequest::default() },
            messages::EXTENSION_MANDATORY_UNSUPPORTED,
            "extension_mandatory_unsupported",
        ),
        (
            KeyRequest { additional_slave_sae_ids: Some(vec!["SAE_other".into()]), ..KeyRequest::default() },
            messages::PARAMETERS_OUT_OF_RANGE,
            "additional_slave_SAE_IDs_unsupported",
        ),
    ];
    for (req, message, detail) in cases {
        let body = expect_400(link.enc_keys(Site::A, M, S, &req, t0), message);
        let details = body.details.expect("details");
        assert!(details[0].get(detail).is_some(), "{req:?}: {details:?}");
    }
    let body = expect_400(
        link.enc_keys(
            Site::A,
            M,
            S,
            &KeyRequest { extension_mandatory: Some(vec![ext("abc_route_type")]), ..KeyRequest::default() },
            t0,
        ),
        messages::EXTENSION_MANDATORY_UNSUPPORTED,
    );
    assert_eq!(
        body.details.unwrap()[0]["extension_mandatory_unsupported"],
        serde_json::json!([{"abc_route_type": "direct"}])
    );
    expect_400(link.enc_keys(Site::A, M, "", &KeyRequest::default(), t0), messages::PARAMETERS_OUT_OF_RANGE);
    assert_eq!(link.enc_keys(Site::A, "", S, &KeyRequest::default(), t0).unwrap_err(), KmeError::Unauthorized);
    assert_eq!(key_state(&link), before);
    assert_eq!(link.stats().enc_keys.bad_request, 10);

    // Boundaries are accepted; empty extension lists and optional extensions are fine.
    for req in [
        KeyRequest::new(8, Some(64)),
        KeyRequest::new(1, Some(1024)),
        KeyRequest {
            extension_mandatory: Some(vec![]),
            extension_optional: Some(vec![ext("abc_max_age")]),
            additional_slave_sae_ids: Some(vec![]),
            ..KeyRequest::default()
        },
    ] {
        link.enc_keys(Site::A, M, S, &req, t0).unwrap();
    }
}

#[test]
fn not_enough_key_material_is_503_with_a_body_and_no_partial_delivery() {
    let (mut link, t0) = link_with(config(), 2);
    let before = key_state(&link);
    let err = link.enc_keys(Site::A, M, S, &KeyRequest::new(3, None), t0).unwrap_err();
    assert_eq!(err.http_status(), 503);
    let details = err.body().unwrap().details.clone().unwrap();
    assert_eq!(details[0]["requested_bits"], 768);
    assert_eq!(details[0]["stored_bits"], 512);
    assert_eq!(key_state(&link), before);
    // Exactly what is there can be taken.
    assert_eq!(link.enc_keys(Site::A, M, S, &KeyRequest::new(2, None), t0).unwrap().keys.len(), 2);
    assert_eq!(link.enc_keys(Site::A, M, S, &KeyRequest::new(1, Some(64)), t0).unwrap_err().http_status(), 503);
    // 100 ms later one key (256 bits) has been generated.
    assert!(link.enc_keys(Site::A, M, S, &KeyRequest::new(1, None), t0 + Duration::from_millis(100)).is_ok());
}

#[test]
fn link_down_serves_stored_keys_but_generates_none() {
    let (mut link, t0) = link_with(config(), 1);
    link.faults().link_down = true;
    assert!(link.enc_keys(Site::A, M, S, &KeyRequest::default(), t0 + Duration::from_secs(5)).is_ok());
    assert_eq!(link.status(Site::A, M, S, t0 + Duration::from_secs(10)).unwrap().stored_key_count, 0);
    assert_eq!(
        link.enc_keys(Site::A, M, S, &KeyRequest::default(), t0 + Duration::from_secs(10)).unwrap_err().http_status(),
        503
    );
    link.faults().link_down = false;
    assert_eq!(link.status(Site::A, M, S, t0 + Duration::from_secs(11)).unwrap().stored_key_count, 10);
}

#[test]
fn injected_failures_hit_every_call_then_stop() {
    let (mut link, t0) = link_with(config(), 10);
    let issued = link.enc_keys(Site::A, M, S, &KeyRequest::new(1, None), t0).unwrap();
    let before = key_state(&link);
    link.faults().fail_next = 3;
    assert_eq!(link.status(Site::A, M, S, t0).unwrap_err().http_status(), 503);
    assert_eq!(link.enc_keys(Site::A, M, S, &KeyRequest::default(), t0).unwrap_err().http_status(), 503);
    let ids = KeyIds::new([issued.keys[0].key_id]);
    assert_eq!(link.dec_keys(Site::B, S, M, &ids, t0).unwrap_err().http_status(), 503);
    assert_eq!(key_state(&link), before);
    assert_eq!(link.faults().fail_next, 0);
    assert_eq!(link.dec_keys(Site::B, S, M, &ids, t0).unwrap().keys, issued.keys);
}

#[test]
fn drain_empties_the_pool_but_keeps_issued_keys() {
    let (mut link, t0) = link_with(config(), 10);
    let issued = link.enc_keys(Site::A, M, S, &KeyRequest::new(1, None), t0).unwrap();
    link.drain();
    assert_eq!(link.status(Site::A, M, S, t0).unwrap().stored_key_count, 0);
    assert_eq!(link.stats().drained_bits_total, 9 * 256);
    assert_eq!(link.dec_keys(Site::B, S, M, &KeyIds::new([issued.keys[0].key_id]), t0).unwrap().keys, issued.keys);
}

#[test]
fn multicast_delivers_once_to_each_named_slave() {
    let (mut link, t0) = link_with(LinkConfig { max_sae_id_count: 2, ..config() }, 10);
    let with = |extra: &[&str]| KeyRequest {
        additional_slave_sae_ids: Some(extra.iter().map(|s| (*s).to_owned()).collect()),
        ..KeyRequest::new(1, None)
    };
    expect_400(link.enc_keys(Site::A, M, S, &with(&["S2", "S3", "S4"]), t0), messages::PARAMETERS_OUT_OF_RANGE);
    expect_400(link.enc_keys(Site::A, M, S, &with(&["S2", "S2"]), t0), messages::PARAMETERS_OUT_OF_RANGE);
    expect_400(link.enc_keys(Site::A, M, S, &with(&[S]), t0), messages::PARAMETERS_OUT_OF_RANGE);
    expect_400(link.enc_keys(Site::A, M, S, &with(&[""]), t0), messages::PARAMETERS_OUT_OF_RANGE);
    let issued = link.enc_keys(Site::A, M, S, &with(&["S2", "S3"]), t0).unwrap();
    let ids = KeyIds::new([issued.keys[0].key_id]);
    for slave in [S, "S3", "S2"] {
        assert_eq!(link.dec_keys(Site::B, slave, M, &ids, t0).unwrap().keys, issued.keys, "{slave}");
        expect_400(link.dec_keys(Site::B, slave, M, &ids, t0), messages::KEYS_NOT_FOUND);
        assert_eq!(link.stats().pending_keys, u64::from(slave != "S2"));
    }
    assert_eq!(link.stats().keys_retrieved_total, 3);
}

#[test]
fn unfetched_keys_past_the_bound_are_evicted_oldest_first() {
    let (mut link, t0) = link_with(LinkConfig { max_pending_keys: 8, ..config() }, 100);
    let first = link.enc_keys(Site::A, M, S, &KeyRequest::new(4, None), t0).unwrap();
    let second = link.enc_keys(Site::A, M, S, &KeyRequest::new(4, None), t0).unwrap();
    // Fetch one of the first batch: 7 pending, so 3 more evict the 2 oldest still pending.
    link.dec_keys(Site::B, S, M, &KeyIds::new([first.keys[0].key_id]), t0).unwrap();
    let third = link.enc_keys(Site::A, M, S, &KeyRequest::new(3, None), t0).unwrap();
    let s = link.stats();
    assert_eq!((s.pending_keys, s.pending_evicted_total), (8, 2));
    for k in &first.keys[1..3] {
        expect_400(link.dec_keys(Site::B, S, M, &KeyIds::new([k.key_id]), t0), messages::KEYS_NOT_FOUND);
    }
    let rest: Vec<KeyId> = first.keys[3..].iter().chain(&second.keys).chain(&third.keys).map(|k| k.key_id).collect();
    assert_eq!(link.dec_keys(Site::B, S, M, &KeyIds::new(rest), t0).unwrap().keys.len(), 8);
}

#[test]
fn a_seed_makes_keys_and_ids_reproducible() {
    let (mut a, t0) = link_with(config(), 5);
    let (mut b, _) = link_with(config(), 5);
    let (mut c, _) = link_with(LinkConfig { seed: Some(8), ..config() }, 5);
    let req = KeyRequest::new(2, None);
    let ka = a.enc_keys(Site::A, M, S, &req, t0).unwrap();
    assert_eq!(ka, b.enc_keys(Site::A, M, S, &req, t0).unwrap());
    assert_ne!(ka, c.enc_keys(Site::A, M, S, &req, t0).unwrap());
    let (mut os, _) = link_with(LinkConfig { seed: None, ..config() }, 5);
    assert_ne!(ka, os.enc_keys(Site::A, M, S, &req, t0).unwrap());
}

#[test]
fn debug_output_never_contains_key_bytes() {
    let (mut link, t0) = link_with(config(), 5);
    let issued = link.enc_keys(Site::A, M, S, &KeyRequest::new(1, Some(64)), t0).unwrap();
    let hex_key = hex::encode(issued.keys[0].key.as_bytes());
    for text in [format!("{link:?}"), format!("{issued:?}"), format!("{:?}", link.stats())] {
        assert!(!text.contains(&hex_key), "{text}");
        assert!(!text.contains(&format!("{:?}", issued.keys[0].key.as_bytes())), "{text}");
    }
}

#[test]
fn site_helpers_and_error_accessors() {
    assert_eq!(Site::A.other(), Site::B);
    assert_eq!(Site::B.index(), 1);
    let (link, _) = link_with(config(), 0);
    assert_eq!(link.site_of("KME_B"), Some(Site::B));
    assert_eq!(link.site_of("nope"), None);
    assert_eq!(KmeError::Unauthorized.body(), None);
    assert_eq!(KmeError::BadRequest(ErrorBody::new("x")).http_status(), 400);
}

// ---------------------------------------------------------------------------------------------
// Random sequences of calls against a reference model.

mod model {
    use super::*;
    use proptest::prelude::*;

    const SAES: [&str; 3] = ["S0", "S1", "S2"];
    const SIZES: [Option<u32>; 7] = [None, Some(8), Some(12), Some(64), Some(128), Some(512), Some(520)];

    #[derive(Debug, Clone)]
    enum Op {
        Advance { ms: u64 },
        Status { site: Site, caller: usize },
        Enc { site: Site, master: usize, slave: usize, number: u32, size: usize, extra: Option<usize> },
        Dec { site: Site, caller: usize, master: usize, picks: Vec<Option<usize>> },
        Drain,
        ToggleLinkDown,
    }

    fn site() -> impl Strategy<Value = Site> {
        prop_oneof![Just(Site::A), Just(Site::B)]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u64..1500).prop_map(|ms| Op::Advance { ms }),
            1 => (site(), 0..3usize).prop_map(|(site, caller)| Op::Status { site, caller }),
            5 => (site(), 0..3usize, 0..3usize, 0u32..6, 0..SIZES.len(), proptest::option::weighted(0.2, 0..3usize))
                .prop_map(|(site, master, slave, number, size, extra)| Op::Enc { site, master, slave, number, size, extra }),
            6 => (site(), 0..3usize, 0..3usize, proptest::collection::vec(proptest::option::weighted(0.9, 0..64usize), 0..4))
                .prop_map(|(site, caller, master, picks)| Op::Dec { site, caller, master, picks }),
            1 => Just(Op::Drain),
            1 => Just(Op::ToggleLinkDown),
        ]
    }

    /// What the spec says should be stored: the reference the link is checked against.
    struct Pending {
        id: KeyId,
        master: usize,
        origin: Site,
        slaves: Vec<(usize, bool)>,
        bytes: Vec<u8>,
    }

    struct Reference {
        pool_bits: u64,
        link_down: bool,
        pending: Vec<Pending>,
        /// Every key_ID ever issued, for picks (fetched or not).
        issued: Vec<KeyId>,
    }

    // key_size 64, sizes 8..=512, 4 keys per request, 20 keys capacity, 1 bit per ms, one
    // additional slave allowed.
    fn link_config() -> LinkConfig {
        LinkConfig {
            kme_ids: ["KA".into(), "KB".into()],
            key_size: 64,
            min_key_size: 8,
            max_key_size: 512,
            max_key_count: 20,
            max_key_per_request: 4,
            max_sae_id_count: 1,
            secret_key_rate_bps: 1000,
            seed: Some(1),
            initial_key_count: 4,
            max_pending_keys: 1_000_000,
        }
    }

    fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
        const CAP: u64 = 20 * 64;
        let t0 = Instant::now();
        let mut now = t0;
        let mut link = KmeLink::new(link_config(), t0).unwrap();
        let mut r = Reference { pool_bits: 256, link_down: false, pending: Vec::new(), issued: Vec::new() };
        for op in ops {
            match op {
                Op::Advance { ms } => {
                    now += Duration::from_millis(ms);
                    if !r.link_down {
                        r.pool_bits = (r.pool_bits + ms).min(CAP);
                    }
                    link.advance(now);
                }
                Op::Status { site, caller } => {
                    let st = link.status(site, SAES[caller], "peer", now).unwrap();
                    prop_assert_eq!(st.stored_key_count, r.pool_bits / 64);
                    prop_assert_eq!(st.source_kme_id, link.kme_id(site));
                }
                Op::Drain => {
                    link.drain();
                    r.pool_bits = 0;
                }
                Op::ToggleLinkDown => {
                    r.link_down = !r.link_down;
                    link.faults().link_down = r.link_down;
                }
                Op::Enc { site, master, slave, number, size, extra } => {
                    let req = KeyRequest {
                        additional_slave_sae_ids: extra.map(|e| vec![SAES[e].to_owned()]),
                        ..KeyRequest { number: Some(number), size: SIZES[size], ..KeyRequest::default() }
                    };
                    let bits = SIZES[size].unwrap_or(64);
                    let result = link.enc_keys(site, SAES[master], SAES[slave], &req, now);
                    let expect_400 = number == 0
                        || number > 4
                        || bits % 8 != 0
                        || !(8..=512).contains(&bits)
                        || extra == Some(slave);
                    let need = u64::from(number) * u64::from(bits);
                    if expect_400 {
                        prop_assert_eq!(result.map_err(|e| e.http_status()).err(), Some(400));
                    } else if need > r.pool_bits {
                        prop_assert_eq!(result.map_err(|e| e.http_status()).err(), Some(503));
                    } else {
                        let container = result.map_err(|e| TestCaseError::fail(format!("{e}")))?;
                        prop_assert_eq!(container.keys.len(), number as usize);
                        r.pool_bits -= need;
                        for key in container.keys {
                            prop_assert_eq!(key.key.len_bits(), u64::from(bits));
                            prop_assert!(!r.issued.contains(&key.key_id), "key_ID reused");
                            let mut slaves = vec![(slave, false)];
                            slaves.extend(extra.map(|e| (e, false)));
                            r.issued.push(key.key_id);
                            r.pending.push(Pending {
                                id: key.key_id,
                                master,
                                origin: site,
                                slaves,
                                bytes: key.key.as_bytes().to_vec(),
                            });
                        }
                    }
                }
                Op::Dec { site, caller, master, picks } => {
                    let ids: Vec<KeyId> = picks
                        .iter()
                        .map(|p| match p {
                            Some(i) if !r.issued.is_empty() => r.issued[i % r.issued.len()],
                            _ => KeyId::from_random_bytes([0x5a; 16]),
                        })
                        .collect();
                    let result = link.dec_keys(site, SAES[caller], SAES[master], &KeyIds::new(ids.clone()), now);
                    let mut unique = ids.clone();
                    unique.sort();
                    unique.dedup();
                    let expected: Result<(), u16> = if ids.is_empty() || unique.len() != ids.len() {
                        Err(400)
                    } else {
                        let mut unauthorized = false;
                        let mut missing = false;
                        for id in &ids {
                            match r.pending.iter().find(|p| p.id == *id && p.origin != site && p.master == master) {
                                None => missing = true,
                                Some(p) => match p.slaves.iter().find(|(s, _)| *s == caller) {
                                    None => unauthorized = true,
                                    Some((_, true)) => missing = true,
                                    Some((_, false)) => {}
                                },
                            }
                        }
                        if unauthorized {
                            Err(401)
                        } else if missing {
                            Err(400)
                        } else {
                            Ok(())
                        }
                    };
                    match (expected, result) {
                        (Err(code), Err(e)) => prop_assert_eq!(code, e.http_status()),
                        (Ok(()), Ok(container)) => {
                            prop_assert_eq!(container.keys.len(), ids.len());
                            for (key, id) in container.keys.iter().zip(&ids) {
                                prop_assert_eq!(key.key_id, *id);
                                let Some(p) = r.pending.iter_mut().find(|p| p.id == *id) else {
                                    return Err(TestCaseError::fail("delivered a key the reference lacks"));
                                };
                                prop_assert_eq!(key.key.as_bytes(), &p.bytes[..], "slave and master keys differ");
                                for s in &mut p.slaves {
                                    if s.0 == caller {
                                        s.1 = true;
                                    }
                                }
                            }
                            r.pending.retain(|p| p.slaves.iter().any(|(_, fetched)| !fetched));
                        }
                        (expected, result) => {
                            return Err(TestCaseError::fail(format!("expected {expected:?}, got {result:?}")));
                        }
                    }
                }
            }
            let stats = link.stats();
            prop_assert_eq!(stats.pool_bits, r.pool_bits);
            prop_assert_eq!(stats.pending_keys, r.pending.len() as u64);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        #[test]
        fn random_call_sequences_match_the_reference(ops in proptest::collection::vec(op(), 1..80)) {
            run(ops)?;
        }
    }

    #[test]
    fn model_sees_a_full_round_trip() {
        // A fixed sequence, so the reference's happy path is known to be exercised.
        let ops = vec![
            Op::Enc { site: Site::A, master: 0, slave: 1, number: 2, size: 0, extra: Some(2) },
            Op::Dec { site: Site::B, caller: 1, master: 0, picks: vec![Some(0), Some(1)] },
            Op::Dec { site: Site::B, caller: 2, master: 0, picks: vec![Some(1)] },
            Op::Dec { site: Site::B, caller: 0, master: 0, picks: vec![Some(0)] },
            Op::Dec { site: Site::B, caller: 2, master: 0, picks: vec![Some(0)] },
        ];
        run(ops).unwrap();
        let mut link = KmeLink::new(link_config(), Instant::now()).unwrap();
        assert_eq!(link.stats().pool_bits, 256);
        assert!(link.enc_keys(Site::A, "S0", "S1", &KeyRequest::new(4, None), Instant::now()).is_ok());
    }
}
