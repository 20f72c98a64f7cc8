//! Fuzzes every parser of network input in `qsafe_qkd::api`: the JSON bodies (key request,
//! key IDs, key container, status, error), the GET query strings, and the URL path.
//!
//! The first byte selects the parser (mod 8), the rest is its input. Properties:
//! * no parser panics, whatever the bytes;
//! * whatever parses serialises, and the serialisation parses back to an equal value (JSON
//!   bodies, query strings and paths alike), so what we send is what we read;
//! * parse errors are bounded in size (they never echo a whole hostile input).
#![no_main]

use libfuzzer_sys::fuzz_target;
use qsafe_qkd::api::{ErrorBody, KeyContainer, KeyIds, KeyRequest, Status, path};

fn check_error(e: &qsafe_qkd::api::ApiError) {
    let text = e.to_string();
    assert!(text.len() < 2048, "error message of {} bytes", text.len());
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else { return };
    let text = std::str::from_utf8(input);
    match selector % 8 {
        0 => match KeyRequest::from_json(input) {
            Ok(v) => assert_eq!(KeyRequest::from_json(&v.to_json()).expect("re-parse"), v),
            Err(e) => check_error(&e),
        },
        1 => match KeyIds::from_json(input) {
            Ok(v) => assert_eq!(KeyIds::from_json(&v.to_json()).expect("re-parse"), v),
            Err(e) => check_error(&e),
        },
        2 => match KeyContainer::from_json(input) {
            Ok(v) => assert_eq!(KeyContainer::from_json(&v.to_json()).expect("re-parse"), v),
            Err(e) => check_error(&e),
        },
        3 => match Status::from_json(input) {
            Ok(v) => assert_eq!(Status::from_json(&v.to_json()).expect("re-parse"), v),
            Err(e) => check_error(&e),
        },
        4 => match ErrorBody::from_json(input) {
            Ok(v) => assert_eq!(ErrorBody::from_json(&v.to_json()).expect("re-parse"), v),
            Err(e) => check_error(&e),
        },
        5 => {
            let Ok(q) = text else { return };
            match KeyRequest::from_query(q) {
                Ok(v) => {
                    let again = v.to_query().expect("a parsed query has only number and size");
                    assert_eq!(KeyRequest::from_query(&again).expect("re-parse"), v);
                }
                Err(e) => check_error(&e),
            }
        }
        6 => {
            let Ok(q) = text else { return };
            match KeyIds::from_query(q) {
                Ok(v) => {
                    let again = v.to_query().expect("a parsed query has no extensions");
                    assert_eq!(KeyIds::from_query(&again).expect("re-parse"), v);
                }
                Err(e) => check_error(&e),
            }
        }
        _ => {
            let Ok(p) = text else { return };
            if let Some((sae, call)) = path::parse(p) {
                assert!(!sae.is_empty());
                assert_eq!(path::parse(&path::build(&sae, call)), Some((sae, call)));
            }
        }
    }
});
