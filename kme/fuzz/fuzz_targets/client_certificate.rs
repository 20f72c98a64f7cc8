//! Fuzzes reading the SAE ID from a client certificate (DER as received in
//! the TLS handshake; rustls has checked the chain, but this parser still
//! must not trust the structure) and the KME ID (subject CN).
//!
//! Properties: never panics, for every ID source; an ID that comes back
//! passes `validate_id` (usable as a path segment, printable ASCII).
#![no_main]

use libfuzzer_sys::fuzz_target;
use qsafe_kme::identity::{SaeIdSource, common_name, sae_id_from_certificate, validate_id};

fuzz_target!(|der: &[u8]| {
    let sources = [
        SaeIdSource::CommonName,
        SaeIdSource::SanDns,
        SaeIdSource::SanUri { prefix: String::new() },
        SaeIdSource::SanUri { prefix: "urn:qsafe:sae:".into() },
    ];
    for source in &sources {
        if let Ok(id) = sae_id_from_certificate(der, source) {
            assert!(validate_id(&id).is_ok(), "{source}: returned an invalid ID {id:?}");
        }
    }
    let _ = common_name(der);
});
