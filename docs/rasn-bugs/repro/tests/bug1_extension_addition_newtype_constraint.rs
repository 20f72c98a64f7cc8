//! Bug 1: a SEQUENCE extension addition whose type is a constrained newtype
//! (`#[rasn(delegate, value(..))]` / `#[rasn(delegate, size(..))]`) is APER
//! encoded and decoded without the newtype's constraint.
//!
//! Every test here FAILS on rasn 0.30.0. Expected bytes are pycrate 0.8.1's
//! APER encodings (X.691), see `rasn_bugs_repro::expected`.

use rasn::aper;
use rasn::types::Integer;
use rasn_bugs_repro::m::{AnonymousList, Item, Item2, List, Order};
use rasn_bugs_repro::{expected, hex, unhex};

fn item(order: i32) -> Item {
    Item::new(1, Some(Order(Integer::from(order))))
}

fn item2() -> Item2 {
    Item2::new(1, Some(List(vec![AnonymousList(7)])))
}

#[test]
fn integer_newtype_extension_addition_encodes_with_its_value_constraint() {
    // Expected 80 01 01 02 [00 05]; rasn 0.30 gives 80 01 01 02 [01 05]:
    // Order is encoded as an unconstrained INTEGER (length 01, value 05).
    let actual = aper::encode(&item(5)).expect("encode");
    assert_eq!(hex(&actual), expected::ITEM_ORDER_5);
}

#[test]
fn integer_newtype_extension_addition_encodes_with_its_value_constraint_200() {
    // Expected 80 01 01 02 [00 c8]; rasn 0.30 gives 80 01 01 03 [02 00 c8].
    let actual = aper::encode(&item(200)).expect("encode");
    assert_eq!(hex(&actual), expected::ITEM_ORDER_200);
}

#[test]
fn integer_newtype_extension_addition_decodes_reference_bytes() {
    // rasn 0.30 reads the open type contents 00 05 as an unconstrained
    // INTEGER (length 00) and fails / yields the wrong value.
    let decoded = aper::decode::<Item>(&unhex(expected::ITEM_ORDER_5));
    assert_eq!(decoded.map_err(|e| e.to_string()), Ok(item(5)));
}

#[test]
fn sequence_of_newtype_extension_addition_encodes_with_its_size_constraint() {
    // Expected 80 01 01 03 [00 00 07] (16-bit count for SIZE(1..65535));
    // rasn 0.30 gives 80 01 01 02 [01 07] (unconstrained length determinant).
    let actual = aper::encode(&item2()).expect("encode");
    assert_eq!(hex(&actual), expected::ITEM2_LIST_7);
}

#[test]
fn sequence_of_newtype_extension_addition_decodes_reference_bytes() {
    // rasn 0.30: "Unexpected extra data ..." (reads 00 as a zero-length list,
    // leaving 00 07 in the open type).
    let decoded = aper::decode::<Item2>(&unhex(expected::ITEM2_LIST_7));
    assert_eq!(decoded.map_err(|e| e.to_string()), Ok(item2()));
}
