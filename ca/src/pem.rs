//! Minimal PEM (RFC 7468) encode/decode for labels rustls-pki-types does not know
//! (`ENCRYPTED PRIVATE KEY`), into zeroizing buffers so key material is wiped after use.

use zeroize::Zeroizing;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// PEM-encodes `der` under `label` (64-column base64 lines).
pub fn encode(label: &str, der: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(der.len() * 4 / 3 + der.len() / 48 + label.len() * 2 + 40));
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for line in der.chunks(48) {
        for chunk in line.chunks(3) {
            let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            out.push(char::from(ALPHABET[(n >> 18) as usize & 63]));
            out.push(char::from(ALPHABET[(n >> 12) as usize & 63]));
            out.push(if chunk.len() > 1 { char::from(ALPHABET[(n >> 6) as usize & 63]) } else { '=' });
            out.push(if chunk.len() > 2 { char::from(ALPHABET[n as usize & 63]) } else { '=' });
        }
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// Decodes the first `label` block in `text`. `None` if there is none or it is not valid base64.
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
    #![allow(clippy::unwrap_used)]
    #[test]
    fn round_trip() {
        for len in [0usize, 1, 2, 3, 47, 48, 49, 200] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let pem = super::encode("ENCRYPTED PRIVATE KEY", &data);
            assert_eq!(&super::decode("ENCRYPTED PRIVATE KEY", &pem).unwrap()[..], &data[..]);
        }
        assert!(super::decode("X", "-----BEGIN X-----\n!!\n-----END X-----\n").is_none());
    }
}
