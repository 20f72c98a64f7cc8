//! The `key_ID` of a QKD key (ETSI GS QKD 014: a UUID string, e.g.
//! `bc490419-7d60-487f-adc1-4ddcc177c139`). Not secret: it names the key
//! both KMEs hold, and binding it into the derivation ties a link key to
//! exactly one QKD key.

use std::fmt;
use std::str::FromStr;

use crate::error::ParseKeyIdError;

/// A QKD `key_ID`: the 16 bytes of its UUID.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 16]);

impl KeyId {
    /// A key id from the UUID's 16 bytes (big-endian, as written).
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        KeyId(bytes)
    }

    /// The UUID's 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl FromStr for KeyId {
    type Err = ParseKeyIdError;

    /// Parses the canonical, hyphenated UUID form (8-4-4-4-12 hex digits,
    /// either case), the form ETSI GS QKD 014 uses for `key_ID`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParseKeyIdError { given: s.chars().take(64).collect(), reason };
        let b = s.as_bytes();
        if b.len() != 36 {
            return Err(err("expected 36 characters (8-4-4-4-12 hex digits)"));
        }
        let mut out = [0u8; 16];
        let mut digits = b.iter().enumerate().filter(|(i, _)| !matches!(i, 8 | 13 | 18 | 23)).map(|(_, c)| *c);
        for (i, c) in b.iter().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) && *c != b'-' {
                return Err(err("hyphens expected after hex digits 8, 12, 16 and 20"));
            }
        }
        for byte in &mut out {
            let (Some(hi), Some(lo)) = (digits.next(), digits.next()) else {
                return Err(err("expected 32 hex digits"));
            };
            let (Some(hi), Some(lo)) = (hex_value(hi), hex_value(lo)) else {
                return Err(err("not a hex digit"));
            };
            *byte = hi << 4 | lo;
        }
        Ok(KeyId(out))
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for KeyId {
    /// The canonical lower-case hyphenated UUID form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_canonical_form() {
        let text = "bc490419-7d60-487f-adc1-4ddcc177c139";
        let id: KeyId = text.parse().expect("valid");
        assert_eq!(
            id.as_bytes(),
            &[0xbc, 0x49, 0x04, 0x19, 0x7d, 0x60, 0x48, 0x7f, 0xad, 0xc1, 0x4d, 0xdc, 0xc1, 0x77, 0xc1, 0x39]
        );
        assert_eq!(id.to_string(), text);
        let upper: KeyId = text.to_uppercase().parse().expect("upper case");
        assert_eq!(upper, id);
        assert_eq!(format!("{id:?}"), format!("KeyId({text})"));
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            "",
            "bc4904197d60487fadc14ddcc177c139",
            "bc490419-7d60-487f-adc1-4ddcc177c13",
            "bc490419-7d60-487f-adc1-4ddcc177c1399",
            "bc490419+7d60-487f-adc1-4ddcc177c139",
            "bc490419-7d60-487f-adc1-4ddcc177c13g",
            "{c490419-7d60-487f-adc1-4ddcc177c139",
            "bc490419-7d60-487f-adc1-4ddcc177c1é",
        ] {
            let e = bad.parse::<KeyId>().expect_err(bad);
            assert!(e.to_string().contains("key_ID"), "{e}");
        }
    }
}
