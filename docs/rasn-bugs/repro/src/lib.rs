//! Minimal reproductions of two rasn 0.30 APER problems; see `../../rasn-bugs.md`.
//!
//! * [`m`] is the unmodified rasn-compiler 0.16 output for `bug1.asn`.
//! * [`workaround`] is the same two SEQUENCEs with the newtype's constraint
//!   copied onto the extension-addition field (what qsafe-ran's
//!   `asn1/build.rs::copy_newtype_constraints_to_extension_fields` does).
//! * [`real`] holds the expected APER bytes for bug 2 and the OCTET STRING workaround.

#[rustfmt::skip]
mod generated;

pub use generated::m;

/// Reference APER encodings computed with pycrate 0.8.1 (see `../../rasn-bugs.md`
/// for the script), independent of rasn.
pub mod expected {
    /// `Item ::= { a 1, order 5 }`: `80` ext bit + `a`, `01` a = 1, `01` bitmap
    /// length - 1 = 0 and bitmap `1`, `02` open-type length, `00 05` =
    /// `Order` 5 (extension bit 0 + pad, one aligned octet for 0..255).
    pub const ITEM_ORDER_5: &str = "800101020005";
    /// `Item ::= { a 1, order 200 }`.
    pub const ITEM_ORDER_200: &str = "8001010200c8";
    /// `Item2 ::= { a 1, list { 7 } }`: open type `03` + `00 00` (count - 1
    /// in a 16-bit aligned field for SIZE(1..65535)) + `07`.
    pub const ITEM2_LIST_7: &str = "80010103000007";
    /// `Real ::= REAL` value 1.5 = `{ mantissa 3, base 2, exponent -1 }`:
    /// length `03`, X.690 contents `80 ff 03`.
    pub const REAL_1_5: &str = "0380ff03";
}

/// The qsafe-ran workaround for bug 1: identical to [`m::Item`] / [`m::Item2`]
/// except that the extension-addition field repeats its type's constraint.
pub mod workaround {
    use rasn::prelude::*;

    use super::m::{List, Order};

    #[derive(AsnType, Debug, Clone, Decode, Encode, PartialEq, Eq, Hash)]
    #[rasn(automatic_tags)]
    #[non_exhaustive]
    pub struct Item {
        #[rasn(value("0..=255"))]
        pub a: u8,
        #[rasn(extension_addition, value("0..=255", extensible))]
        pub order: Option<Order>,
    }

    #[derive(AsnType, Debug, Clone, Decode, Encode, PartialEq, Eq, Hash)]
    #[rasn(automatic_tags)]
    #[non_exhaustive]
    pub struct Item2 {
        #[rasn(value("0..=255"))]
        pub a: u8,
        #[rasn(extension_addition, size("1..=65535"))]
        pub list: Option<List>,
    }

    impl Item {
        pub fn new(a: u8, order: Option<Order>) -> Self {
            Self { a, order }
        }
    }

    impl Item2 {
        pub fn new(a: u8, list: Option<List>) -> Self {
            Self { a, list }
        }
    }
}

/// Bug 2 workaround: an APER `REAL` is an unconstrained length determinant +
/// the X.690 (CER) contents octets, i.e. exactly an unconstrained OCTET STRING.
pub mod real {
    use rasn::types::OctetString;

    /// X.690 §8.5.7 binary form of 1.5 (= 3 * 2^-1): header `80` (binary,
    /// positive, base 2, F = 0, 1-octet exponent), exponent `ff` (-1), mantissa `03`.
    pub const CONTENTS_1_5: [u8; 3] = [0x80, 0xff, 0x03];

    /// `REAL` 1.5 carried as OCTET STRING.
    pub fn one_and_a_half() -> OctetString {
        OctetString::from_static(&CONTENTS_1_5)
    }
}

/// Lower-case hex, for readable assertion messages.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses lower- or upper-case hex (no separators).
pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit")).collect()
}
