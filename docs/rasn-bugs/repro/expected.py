#!/usr/bin/env python3
"""Computes the reference APER bytes used in src/lib.rs (`expected`) with
pycrate (pip install pycrate; tested with 0.8.1), independently of rasn.

    python3 expected.py
"""
import importlib, os, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def compile_module(asn, name, tmp):
    subprocess.run(["pycrate_asn1compile.py", "-i", os.path.join(HERE, asn), "-o", os.path.join(tmp, name)],
                   check=True, stdout=subprocess.DEVNULL)
    sys.path.insert(0, tmp)
    return importlib.import_module(name)


with tempfile.TemporaryDirectory() as tmp:
    m = compile_module("bug1.asn", "bug1_pycrate", tmp).M
    r = compile_module("bug2.asn", "bug2_pycrate", tmp).R

    cases = [
        ("ITEM_ORDER_5", m.Item, {"a": 1, "order": 5}),
        ("ITEM_ORDER_200", m.Item, {"a": 1, "order": 200}),
        ("ITEM2_LIST_7", m.Item2, {"a": 1, "list": [7]}),
        ("REAL_1_5", r.Real, (3, 2, -1)),  # 1.5 = 3 * 2^-1
    ]
    for name, typ, val in cases:
        typ.set_val(val)
        aper = typ.to_aper()
        typ.from_aper(aper)
        assert typ.get_val() == val, (name, typ.get_val())
        print(f"{name:15} APER {aper.hex()}   UPER {typ.to_uper().hex()}")

    # Supplementary values quoted in ../../rasn-bugs.md.
    extra = os.path.join(tmp, "extra.asn")
    with open(extra, "w") as f:
        f.write("X DEFINITIONS AUTOMATIC TAGS ::= BEGIN\n"
                "Order ::= INTEGER (0..255, ...)\n"
                "RootItem ::= SEQUENCE { a INTEGER (0..255), order Order OPTIONAL, ... }\n"
                "Small ::= INTEGER (0..255)\n"
                "Item3 ::= SEQUENCE { a INTEGER (0..255), ..., s Small OPTIONAL }\n"
                "END\n")
    x = compile_module(extra, "extra_pycrate", tmp).X
    x.RootItem.set_val({"a": 1, "order": 5})
    print("RootItem {a 1, order 5}    APER", x.RootItem.to_aper().hex())
    x.Item3.set_val({"a": 1, "s": 5})
    print("Item3 {a 1, s 5}           OER ", x.Item3.to_oer().hex(), "  APER", x.Item3.to_aper().hex())
    m.Order.set_val(5)
    m.List.set_val([7])
    print("Order 5 alone APER", m.Order.to_aper().hex(), "  List {7} alone APER", m.List.to_aper().hex())
    for rasn_bytes in ("800101020105", "800101030200c8"):
        m.Item.from_aper(bytes.fromhex(rasn_bytes))
        print(f"pycrate decode of rasn's Item {rasn_bytes}:", m.Item.get_val())
    r.Real.set_val((3, 2, -1))
    print("REAL 1.5 BER", r.Real.to_ber().hex())
    r.Real.set_val((1234, 10, -2))
    print("REAL {1234, 10, -2} APER", r.Real.to_aper().hex())
