//! ASN.1 REAL contents octets (ITU-T X.690 §8.5), for the three E2SM-KPM
//! `REAL` alternatives.
//!
//! rasn 0.30 has no APER REAL. An APER REAL (X.691 §15) is an unconstrained
//! length determinant followed by exactly these X.690 contents octets — the
//! same bits as an unconstrained OCTET STRING. `build.rs` therefore compiles
//! KPM's REALs as OCTET STRING, and this module turns the contents into an
//! `f64` and back (`kpm::record_value` / `kpm::record_real` use it). The encoder emits the DER/CER canonical form (base 2,
//! scaling factor 0, odd mantissa), which is what pycrate emits too:
//! 1.5 → `80 FF 03`.

/// Why REAL contents octets could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RealError {
    #[error("REAL: binary encoding with base bits 11 (reserved)")]
    ReservedBase,
    #[error("REAL: contents end inside the {0}")]
    Truncated(&'static str),
    #[error("REAL: exponent longer than 8 octets")]
    ExponentTooLong,
    #[error("REAL: special value {0:#04x} is not defined")]
    UnknownSpecial(u8),
    #[error("REAL: decimal form {0:?} is not a valid ISO 6093 number")]
    BadDecimal(String),
}

/// `x · 2^exp` without intermediate overflow or underflow, in constant time
/// whatever the exponent (a peer may send an 8-octet exponent).
fn ldexp(x: f64, exp: i64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    // |x| < 2^128 here, and f64 spans 2^-1074 ..< 2^1024: beyond ±2200 the
    // result is certainly infinite or zero.
    let exp = exp.clamp(-2200, 2200) as i32;
    let mut y = x;
    let mut rest = exp;
    while rest != 0 {
        let step = rest.clamp(-1000, 1000);
        y *= 2f64.powi(step);
        rest -= step;
    }
    y
}

/// Decodes X.690 REAL contents octets.
pub fn decode(contents: &[u8]) -> Result<f64, RealError> {
    let Some((&first, rest)) = contents.split_first() else {
        return Ok(0.0);
    };
    if first & 0x80 != 0 {
        let negative = first & 0x40 != 0;
        let base_log2: i64 = match (first >> 4) & 0x3 {
            0 => 1,
            1 => 3,
            2 => 4,
            _ => return Err(RealError::ReservedBase),
        };
        let scale = i64::from((first >> 2) & 0x3);
        let (exp_len, rest) = match first & 0x3 {
            n @ 0..=2 => (usize::from(n) + 1, rest),
            _ => {
                let (&n, rest) = rest.split_first().ok_or(RealError::Truncated("exponent length"))?;
                (usize::from(n), rest)
            }
        };
        if exp_len == 0 || exp_len > 8 {
            return Err(RealError::ExponentTooLong);
        }
        if rest.len() < exp_len {
            return Err(RealError::Truncated("exponent"));
        }
        let (exp_bytes, mantissa) = rest.split_at(exp_len);
        let mut exponent: i64 = if exp_bytes[0] & 0x80 != 0 { -1 } else { 0 };
        for &b in exp_bytes {
            exponent = (exponent << 8) | i64::from(b);
        }
        // Keep the 16 most significant mantissa octets; shift the rest into the exponent.
        let kept = mantissa.len().min(16);
        let n = mantissa[..kept].iter().fold(0u128, |acc, &b| acc << 8 | u128::from(b));
        let dropped_bits = 8 * (mantissa.len() - kept) as i64;
        let e2 = exponent.saturating_mul(base_log2).saturating_add(scale).saturating_add(dropped_bits);
        let magnitude = ldexp(n as f64, e2);
        return Ok(if negative { -magnitude } else { magnitude });
    }
    if first & 0x40 != 0 {
        return match first {
            0x40 => Ok(f64::INFINITY),
            0x41 => Ok(f64::NEG_INFINITY),
            0x42 => Ok(f64::NAN),
            0x43 => Ok(-0.0),
            other => Err(RealError::UnknownSpecial(other)),
        };
    }
    // Decimal (ISO 6093 NR1/NR2/NR3).
    let text = String::from_utf8_lossy(rest).trim().replace(',', ".");
    text.parse::<f64>().map_err(|_| RealError::BadDecimal(text))
}

/// Encodes an `f64` as canonical X.690 REAL contents octets.
pub fn encode(value: f64) -> Vec<u8> {
    if value == 0.0 {
        return if value.is_sign_negative() { vec![0x43] } else { Vec::new() };
    }
    if value.is_nan() {
        return vec![0x42];
    }
    if value.is_infinite() {
        return vec![if value > 0.0 { 0x40 } else { 0x41 }];
    }
    let bits = value.to_bits();
    let negative = bits >> 63 == 1;
    let raw_exp = ((bits >> 52) & 0x7FF) as i64;
    let frac = bits & ((1 << 52) - 1);
    let (mut mantissa, mut exponent) = if raw_exp == 0 { (frac, -1074) } else { (frac | 1 << 52, raw_exp - 1075) };
    let tz = mantissa.trailing_zeros();
    mantissa >>= tz;
    exponent += i64::from(tz);

    let exp_bytes = minimal_twos_complement(exponent);
    let mut out = Vec::with_capacity(12);
    let exp_format = match exp_bytes.len() {
        1 => 0,
        2 => 1,
        3 => 2,
        _ => 3,
    };
    out.push(0x80 | if negative { 0x40 } else { 0 } | exp_format);
    if exp_format == 3 {
        out.push(exp_bytes.len() as u8);
    }
    out.extend_from_slice(&exp_bytes);
    let m = mantissa.to_be_bytes();
    let skip = m.iter().take_while(|&&b| b == 0).count();
    out.extend_from_slice(&m[skip..]);
    out
}

fn minimal_twos_complement(v: i64) -> Vec<u8> {
    let b = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (cur, next) = (b[start], b[start + 1]);
        if (cur == 0x00 && next & 0x80 == 0) || (cur == 0xFF && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    b[start..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pycrate_one_and_a_half() {
        assert_eq!(encode(1.5), vec![0x80, 0xFF, 0x03]);
        assert_eq!(decode(&[0x80, 0xFF, 0x03]), Ok(1.5));
    }

    #[test]
    fn round_trips_and_specials() {
        for v in [1.0, -2.5, 0.1, 1e300, -1e-300, 5e-324, f64::MAX, f64::MIN_POSITIVE, 123456.789, -0.0, 0.0] {
            let back = decode(&encode(v)).unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{v}");
        }
        assert!(decode(&encode(f64::NAN)).unwrap().is_nan());
        assert_eq!(decode(&encode(f64::INFINITY)), Ok(f64::INFINITY));
        assert_eq!(decode(&encode(f64::NEG_INFINITY)), Ok(f64::NEG_INFINITY));
    }

    #[test]
    fn other_bases_and_decimal() {
        // base 8, exponent 1, mantissa 3 → 24; base 16, exponent -1, mantissa 8 → 0.5
        assert_eq!(decode(&[0x90, 0x01, 0x03]), Ok(24.0));
        assert_eq!(decode(&[0xA0, 0xFF, 0x08]), Ok(0.5));
        // scaling factor F=1: 3 · 2^1 · 2^0 = 6
        assert_eq!(decode(&[0x84, 0x00, 0x03]), Ok(6.0));
        // NR3 decimal "15E-1"
        assert_eq!(decode(b"\x0315E-1"), Ok(1.5));
    }

    #[test]
    fn malformed_is_an_error_not_a_panic() {
        assert_eq!(decode(&[0xB0, 0, 1]), Err(RealError::ReservedBase));
        assert_eq!(decode(&[0x81, 0x00]), Err(RealError::Truncated("exponent")));
        assert_eq!(decode(&[0x83]), Err(RealError::Truncated("exponent length")));
        assert_eq!(decode(&[0x83, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Err(RealError::ExponentTooLong));
        assert_eq!(decode(&[0x44]), Err(RealError::UnknownSpecial(0x44)));
        assert!(matches!(decode(b"\x03abc"), Err(RealError::BadDecimal(_))));
        // A zero mantissa with a huge exponent returns at once (fuzzing found
        // the old loop ran for ~2^53 iterations), and so does a huge one.
        assert_eq!(decode(&[0x83, 8, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00]), Ok(0.0));
        assert_eq!(decode(&[0x83, 8, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]), Ok(f64::INFINITY));
        assert_eq!(decode(&[0x83, 8, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x01]), Ok(0.0));
        // A huge mantissa does not panic either.
        assert!(decode(&[&[0x80u8, 0x00][..], &[0xFF; 40][..]].concat()).unwrap().is_finite());
    }
}
