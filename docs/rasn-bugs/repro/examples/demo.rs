//! Prints the evidence quoted in `../../rasn-bugs.md`: actual vs expected
//! bytes, the workarounds, controls, and which rasn codecs support REAL.
//! Run with `cargo run --example demo`. Exits non-zero if a workaround or
//! control does not behave as documented.

use rasn::prelude::*;
use rasn::{aper, uper};
use rasn_bugs_repro::m::{AnonymousList, Item, Item2, List, Order};
use rasn_bugs_repro::{expected, hex, real, unhex, workaround};

fn check(ok: bool, what: &str) {
    println!("    -> {}: {what}", if ok { "ok" } else { "UNEXPECTED" });
    if !ok {
        std::process::exit(1);
    }
}

fn main() {
    let order = |v: i32| Some(Order(Integer::from(v)));
    let list = || Some(List(vec![AnonymousList(7)]));

    println!("== Bug 1: constrained newtype as a SEQUENCE extension addition (APER)");
    for (name, v, want) in [("order 5", 5, expected::ITEM_ORDER_5), ("order 200", 200, expected::ITEM_ORDER_200)] {
        let gen = hex(&aper::encode(&Item::new(1, order(v))).unwrap());
        let fix = hex(&aper::encode(&workaround::Item::new(1, order(v))).unwrap());
        println!("  Item {{ a 1, {name} }}");
        println!("    expected (pycrate)       {want}");
        println!("    rasn, generated code     {gen}");
        println!("    rasn, field constraint   {fix}");
        check(fix == want, "workaround encodes the reference bytes");
    }
    let gen = hex(&aper::encode(&Item2::new(1, list())).unwrap());
    let fix = hex(&aper::encode(&workaround::Item2::new(1, list())).unwrap());
    println!("  Item2 {{ a 1, list {{ 7 }} }}");
    println!("    expected (pycrate)       {}", expected::ITEM2_LIST_7);
    println!("    rasn, generated code     {gen}");
    println!("    rasn, field constraint   {fix}");
    check(fix == expected::ITEM2_LIST_7, "workaround encodes the reference bytes");

    println!("  the same in UPER (pycrate: Item order 5 = 808081014000, Item2 = 80808180000380)");
    let u1 = hex(&uper::encode(&Item::new(1, order(5))).unwrap());
    let u1w = hex(&uper::encode(&workaround::Item::new(1, order(5))).unwrap());
    let u2 = hex(&uper::encode(&Item2::new(1, list())).unwrap());
    let u2w = hex(&uper::encode(&workaround::Item2::new(1, list())).unwrap());
    println!("    Item:  generated {u1}, field constraint {u1w}");
    println!("    Item2: generated {u2}, field constraint {u2w}");
    check(u1w == "808081014000" && u2w == "80808180000380", "workaround encodes the UPER reference bytes");

    println!("  decoding the reference bytes");
    let d = aper::decode::<Item>(&unhex(expected::ITEM_ORDER_5));
    println!("    Item,  generated code:   {d:?}");
    let w = aper::decode::<workaround::Item>(&unhex(expected::ITEM_ORDER_5));
    println!("    Item,  field constraint: {w:?}");
    let w = w.map_err(|e| e.to_string());
    check(w.ok() == Some(workaround::Item::new(1, order(5))), "workaround decodes the reference bytes");
    let d = aper::decode::<Item2>(&unhex(expected::ITEM2_LIST_7));
    println!("    Item2, generated code:   {d:?}");
    let w = aper::decode::<workaround::Item2>(&unhex(expected::ITEM2_LIST_7));
    println!("    Item2, field constraint: {w:?}");
    let w = w.map_err(|e| e.to_string());
    check(w.ok() == Some(workaround::Item2::new(1, list())), "workaround decodes the reference bytes");

    println!("  controls: the same newtypes outside an extension addition");
    let o = hex(&aper::encode(&Order(Integer::from(5))).unwrap());
    let l = hex(&aper::encode(&List(vec![AnonymousList(7)])).unwrap());
    println!("    Order 5 alone            {o}   (pycrate 0005)");
    println!("    List {{ 7 }} alone         {l} (pycrate 000007)");
    check(o == "0005" && l == "000007", "the newtype constraints work at top level");
    // RootItem ::= SEQUENCE { a INTEGER (0..255), order Order OPTIONAL, ... }
    #[derive(AsnType, Debug, Clone, Decode, Encode, PartialEq)]
    #[rasn(automatic_tags)]
    #[non_exhaustive]
    struct RootItem {
        #[rasn(value("0..=255"))]
        a: u8,
        order: Option<Order>,
    }
    let r = hex(&aper::encode(&RootItem { a: 1, order: order(5) }).unwrap());
    println!("    RootItem {{ a 1, order 5 }} {r} (pycrate 40010005; Order as a root OPTIONAL field)");
    check(r == "40010005", "a root OPTIONAL field of the newtype type is fine");

    println!("  also OER: a non-extensible constrained newtype as an extension addition");
    // Small ::= INTEGER (0..255); Item3 ::= SEQUENCE { a INTEGER (0..255), ..., s Small OPTIONAL }
    #[derive(AsnType, Debug, Clone, Decode, Encode, PartialEq)]
    #[rasn(delegate, value("0..=255"))]
    struct Small(u8);
    #[derive(AsnType, Debug, Clone, Decode, Encode, PartialEq)]
    #[rasn(automatic_tags)]
    #[non_exhaustive]
    struct Item3 {
        #[rasn(value("0..=255"))]
        a: u8,
        #[rasn(extension_addition)]
        s: Option<Small>,
    }
    let v = Item3 { a: 1, s: Some(Small(5)) };
    println!("    Item3 {{ a 1, s 5 }} OER  {} (pycrate 80010207800105)", hex(&rasn::oer::encode(&v).unwrap()));
    println!("    Item3 {{ a 1, s 5 }} APER {} (pycrate 8001010105)", hex(&aper::encode(&v).unwrap()));

    println!("  root cause: constraints seen by the derive for the field type Option<T>");
    println!("    <Order as AsnType>::CONSTRAINTS.value()         = {:?}", Order::CONSTRAINTS.value());
    println!("    <Option<Order> as AsnType>::CONSTRAINTS.value() = {:?}", <Option<Order>>::CONSTRAINTS.value());
    println!("    <List as AsnType>::CONSTRAINTS.size()           = {:?}", List::CONSTRAINTS.size());
    println!("    <Option<List> as AsnType>::CONSTRAINTS.size()   = {:?}", <Option<List>>::CONSTRAINTS.size());

    println!();
    println!("== Bug 2: REAL (f64) 1.5 per codec (rasn 0.30, default features incl. f64)");
    fn row<E: std::fmt::Display>(codec: &str, enc: Result<String, E>, dec: Result<f64, rasn::error::DecodeError>) {
        let enc = enc.map_err(|e| e.to_string());
        let dec = dec.map_err(|e| e.to_string());
        println!("    {codec:5} encode: {enc:?}");
        println!("    {codec:5} decode: {dec:?}");
    }
    let b = |r: Result<Vec<u8>, rasn::error::EncodeError>| r.map(|v| hex(&v));
    let pycrate_ber = unhex("090380ff03");
    row("BER", b(rasn::ber::encode(&1.5f64)), rasn::ber::decode::<f64>(&pycrate_ber));
    row("CER", b(rasn::cer::encode(&1.5f64)), rasn::cer::decode::<f64>(&pycrate_ber));
    row("DER", b(rasn::der::encode(&1.5f64)), rasn::der::decode::<f64>(&pycrate_ber));
    row("APER", b(aper::encode(&1.5f64)), aper::decode::<f64>(&unhex(expected::REAL_1_5)));
    row("UPER", b(uper::encode(&1.5f64)), uper::decode::<f64>(&unhex(expected::REAL_1_5)));
    let oer = rasn::oer::encode(&1.5f64).unwrap();
    row("OER", Ok::<_, rasn::error::EncodeError>(hex(&oer)), rasn::oer::decode::<f64>(&oer));
    let coer = rasn::coer::encode(&1.5f64).unwrap();
    row("COER", Ok::<_, rasn::error::EncodeError>(hex(&coer)), rasn::coer::decode::<f64>(&coer));
    let jer = rasn::jer::encode(&1.5f64).unwrap();
    row("JER", Ok::<_, rasn::error::EncodeError>(jer.clone()), rasn::jer::decode::<f64>(&jer));
    let xer = rasn::xer::encode(&1.5f64).unwrap();
    row("XER", Ok::<_, rasn::error::EncodeError>(String::from_utf8_lossy(&xer).into_owned()), rasn::xer::decode::<f64>(&xer));
    let avn = rasn::avn::encode(&1.5f64).unwrap();
    row("AVN", Ok::<_, rasn::error::EncodeError>(avn.clone()), rasn::avn::decode::<f64>(&avn));

    println!("  workaround: REAL carried as an unconstrained OCTET STRING of X.690 contents");
    let os = hex(&aper::encode(&real::one_and_a_half()).unwrap());
    let back = aper::decode::<OctetString>(&unhex(expected::REAL_1_5)).unwrap();
    println!("    APER OCTET STRING 80ff03 -> {os} (pycrate REAL 1.5: {})", expected::REAL_1_5);
    println!("    APER decode of pycrate's REAL 1.5 as OCTET STRING -> contents {}", hex(&back));
    check(os == expected::REAL_1_5 && back.as_ref() == real::CONTENTS_1_5, "wire-identical");
}
