//! Minimal PEM (RFC 7468) encoder, and a decoder for the labels `rustls-pki-types` does not know.
//!
//! Decoding of certificates, CRLs, CSRs and plain keys goes through `rustls-pki-types` (the same
//! parser rustls users already trust). We write PEM ourselves because private keys must go into
//! a zeroizing buffer, which the `pem` crate cannot do (it returns a plain `String` and keeps the
//! DER in a plain `Vec`); and we decode `ENCRYPTED PRIVATE KEY` (PKCS#8 PBES2, the rApp CA's
//! keys at rest), a label `rustls-pki-types` has no section for. Base64 is small enough to own.

use zeroize::Zeroizing;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// RFC 7468 §2: generators wrap base64 lines at exactly 64 characters.
const LINE_LEN: usize = 64;

/// Appends `label`-framed PEM of `der` to `out`. `out` is a `Zeroizing<String>` so the caller can
/// use it for secrets; for public data the zeroizing is harmless.
/// Appends the PEM of `der` under `label` to `out` (64-column lines), reserving first so a secret
/// is never copied into a reallocated, un-zeroized buffer.
pub fn encode_into(out: &mut Zeroizing<String>, label: &str, der: &[u8]) {
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

/// PEM of public data (certificates, CRLs).
pub fn encode(label: &str, der: &[u8]) -> String {
    let mut out = Zeroizing::new(String::new());
    encode_into(&mut out, label, der);
    std::mem::take(&mut *out)
}

/// PEM of secret data (private keys), in a buffer wiped on drop.
pub fn encode_secret(label: &str, der: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    encode_into(&mut out, label, der);
    out
}

/// Decodes the first `label` block in `text` into a buffer wiped on drop. `None` if there is no
/// such block or its body is not valid base64.
pub fn decode(label: &str, text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let mut out = Zeroizing::new(Vec::with_capacity((stop - start) * 3 / 4));
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut padding = 0;
    for c in text[start..stop].bytes() {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            padding += 1;
            continue;
        }
        if padding > 0 {
            return None;
        }
        let v = ALPHABET.iter().position(|a| *a == c)?;
        acc = (acc << 6) | u32::try_from(v).ok()?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    if padding > 2 {
        return None;
    }
    Some(out)
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

    #[test]
    fn decode_round_trips_and_refuses_bad_base64() {
        for len in [0usize, 1, 2, 3, 47, 48, 49, 200] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let pem = encode_secret("ENCRYPTED PRIVATE KEY", &data);
            assert_eq!(&decode("ENCRYPTED PRIVATE KEY", &pem).expect("decodes")[..], &data[..]);
        }
        assert!(decode("X", "-----BEGIN X-----\n!!\n-----END X-----\n").is_none());
        assert!(decode("X", "-----BEGIN X-----\nZg=x\n-----END X-----\n").is_none());
        assert!(decode("Y", "-----BEGIN X-----\nZg==\n-----END X-----\n").is_none());
    }
}
