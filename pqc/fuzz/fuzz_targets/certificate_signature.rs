//! Fuzzes ML-DSA message-signature verification against a peer certificate (both from the
//! network: the certificate from TLS, the signature from the application protocol).
//!
//! Input: 2-byte big-endian certificate length, certificate DER, 1-byte message length, message,
//! then the signature (the rest).
//!
//! Properties:
//! * `certificate_algorithm` and `verify_with_certificate` never panic;
//! * a signature that verifies does not verify for the message with one more byte (no
//!   "accept anything" path).
#![no_main]

use libfuzzer_sys::fuzz_target;
use qsafe_pqc::pki::certificate_algorithm;
use qsafe_pqc::sign::verify_with_certificate;
use rustls_pki_types::CertificateDer;

fn split(data: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (len, rest) = data.split_first_chunk::<2>()?;
    let (cert, rest) = rest.split_at_checked(usize::from(u16::from_be_bytes(*len)))?;
    let (len, rest) = rest.split_first()?;
    let (msg, sig) = rest.split_at_checked(usize::from(*len))?;
    Some((cert, msg, sig))
}

fuzz_target!(|data: &[u8]| {
    let Some((cert, msg, sig)) = split(data) else {
        return;
    };
    let cert = CertificateDer::from(cert);
    let _ = certificate_algorithm(&cert);
    if verify_with_certificate(&cert, msg, sig).is_ok() {
        let mut longer = msg.to_vec();
        longer.push(0);
        assert!(verify_with_certificate(&cert, &longer, sig).is_err(), "signature verifies for two messages");
    }
});
