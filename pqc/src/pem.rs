//! Minimal PEM (RFC 7468) *encoder*.
//!
//! Decoding goes through `rustls-pki-types` (the same parser rustls users already trust); we only
//! need to write PEM, and we need to do it into a zeroizing buffer for private keys, which the
//! `pem` crate cannot (it returns a plain `String` and keeps the DER in a plain `Vec`). Encoding
//! base64 is small enough to own.

use zeroize::Zeroizing;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// RFC 7468 §2: generators wrap base64 lines at exactly 64 characters.
const LINE_LEN: usize = 64;

/// Appends `label`-framed PEM of `der` to `out`. `out` is a `Zeroizing<String>` so the caller can
/// use it for secrets; for public data the zeroizing is harmless.
pub(crate) fn encode_into(out: &mut Zeroizing<String>, label: &str, der: &[u8]) {
    let body_len = der.len().div_ceil(3) * 4;
    // Reserve up front so the secret is never copied into a reallocated, un-zeroized buffer.
    out.reserve(label.len() * 2 + 32 + body_len + body_len / LINE_LEN + 1);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    let mut column = 0;
    for chunk in der.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = [
            ALPHABET[(n >> 18) as usize & 63],
            ALPHABET[(n >> 12) as usize & 63],
            if chunk.len() > 1 { ALPHABET[(n >> 6) as usize & 63] } else { b'=' },
            if chunk.len() > 2 { ALPHABET[n as usize & 63] } else { b'=' },
        ];
        for c in chars {
            out.push(char::from(c));
            column += 1;
            if column == LINE_LEN {
                out.push('\n');
                column = 0;
            }
        }
    }
    if column != 0 {
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
}

/// PEM of public data (certificates).
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let mut out = Zeroizing::new(String::new());
    encode_into(&mut out, label, der);
    std::mem::take(&mut *out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn base64_padding_matches_rfc4648_vectors() {
        // RFC 4648 §10 test vectors, framed as PEM.
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let pem = encode("X", input.as_bytes());
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            assert_eq!(body, expected, "input {input:?}");
        }
    }

    #[test]
    fn long_input_wraps_at_64_and_round_trips_through_pki_types() {
        let der: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let pem = encode("CERTIFICATE", &der);
        for line in pem.lines() {
            assert!(line.len() <= 64 || line.starts_with("-----"), "line too long: {line}");
        }
        let parsed = CertificateDer::from_pem_slice(pem.as_bytes()).expect("parse back");
        assert_eq!(parsed.as_ref(), der.as_slice());
    }
}
