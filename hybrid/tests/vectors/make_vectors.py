#!/usr/bin/env python3
"""Independent implementation of the qsafe-hybrid key combiner; writes the
fixed test vectors that hybrid/tests/vectors.rs checks the Rust crate against.

    python3 hybrid/tests/vectors/make_vectors.py      # rewrites combiner.json

Standard library only: HKDF (RFC 5869) is written out with `hmac` and
`hashlib`, and checked against RFC 5869's own test cases before anything is
written. The byte layout follows docs/hybrid-combiner.md, not the Rust code.
The output is deterministic: every input is fixed or derived from a label
with SHA-256, so re-running reproduces combiner.json byte for byte.
"""

import hashlib
import hmac
import json
import os
import struct
import sys

LABEL = b"qsafe-ran e2 link key v1"
DIRECTIONS = (("ric_to_node", b"ric-to-node"), ("node_to_ric", b"node-to-ric"))
MODES = ("qkd-and-pqc", "at-least-qkd", "at-least-pqc", "either")
MIN_QKD, MAX_QKD, PQC_LEN, MAX_ID = 16, 1024, 32, 255
KEYMAT_LEN = 36  # AES-256 key (32) || rfc4106 salt (4)


# ------------------------------------------------------------------ RFC 5869


def hkdf_extract(hash_name, salt, ikm):
    return hmac.new(salt, ikm, hash_name).digest()


def hkdf_expand(hash_name, prk, info, length):
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hash_name).digest()
        out += block
        counter += 1
    return out[:length]


def self_test():
    """RFC 5869 appendix A.1-A.3 (SHA-256): our HKDF is HKDF."""
    cases = [
        (
            "0b" * 22,
            "000102030405060708090a0b0c",
            "f0f1f2f3f4f5f6f7f8f9",
            42,
            "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        ),
        (
            bytes(range(0x00, 0x50)).hex(),
            bytes(range(0x60, 0xB0)).hex(),
            bytes(range(0xB0, 0x100)).hex(),
            82,
            "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09"
            "da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87",
        ),
        (
            "0b" * 22,
            "",
            "",
            42,
            "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
        ),
    ]
    for ikm, salt, info, length, prk_hex, okm_hex in cases:
        prk = hkdf_extract("sha256", bytes.fromhex(salt), bytes.fromhex(ikm))
        assert prk.hex() == prk_hex, "HKDF-Extract disagrees with RFC 5869"
        okm = hkdf_expand("sha256", prk, bytes.fromhex(info), length)
        assert okm.hex() == okm_hex, "HKDF-Expand disagrees with RFC 5869"


# ------------------------------------------------------------------ the combiner


def u16(n):
    return struct.pack(">H", n)


def prefixed(b):
    return u16(len(b)) + b


def uuid_bytes(text):
    parts = text.split("-")
    assert [len(p) for p in parts] == [8, 4, 4, 4, 12], text
    return bytes.fromhex("".join(parts))


def check(v):
    """The validation rules of the design note, in its order. Returns an
    error code (the Rust test maps CombineError variants to these) or None."""
    qkd, pqc = v["qkd_key"], v["pqc_secret"]
    if qkd is not None and not MIN_QKD <= len(bytes.fromhex(qkd)) <= MAX_QKD:
        return "qkd-key-length"
    if pqc is not None and len(bytes.fromhex(pqc)) != PQC_LEN:
        return "pqc-secret-length"
    for field in ("ric_id", "node_id"):
        n = len(bytes.fromhex(v[field]))
        if n == 0:
            return "empty-endpoint-id"
        if n > MAX_ID:
            return "endpoint-id-too-long"
    for field in ("spi_ric_to_node", "spi_node_to_ric"):
        if v[field] < 256:
            return "reserved-spi"
    if v["transcript"] == "":
        return "empty-transcript"
    mode = v["mode"]
    if mode in ("qkd-and-pqc", "at-least-qkd") and qkd is None:
        return "qkd-required"
    if mode in ("qkd-and-pqc", "at-least-pqc") and pqc is None:
        return "pqc-required"
    if qkd is None and pqc is None:
        return "no-source"
    return None


def combine(v):
    qkd = bytes.fromhex(v["qkd_key"]) if v["qkd_key"] is not None else b""
    pqc = bytes.fromhex(v["pqc_secret"]) if v["pqc_secret"] is not None else b""
    source = {(True, True): "hybrid", (True, False): "qkd", (False, True): "pqc"}[
        (v["qkd_key"] is not None, v["pqc_secret"] is not None)
    ]
    ikm = prefixed(qkd) + prefixed(pqc)
    salt = hashlib.sha384(bytes.fromhex(v["transcript"])).digest()
    prk = hkdf_extract("sha384", salt, ikm)
    key_id = b"\x01" + uuid_bytes(v["key_id"]) if v["key_id"] is not None else b"\x00"
    out = {"source": source, "ikm": ikm.hex(), "salt": salt.hex(), "prk": prk.hex()}
    for name, direction in DIRECTIONS:
        info = (
            prefixed(LABEL)
            + prefixed(direction)
            + prefixed(v["mode"].encode())
            + prefixed(source.encode())
            + prefixed(bytes.fromhex(v["ric_id"]))
            + prefixed(bytes.fromhex(v["node_id"]))
            + key_id
            + struct.pack(">QII", v["epoch"], v["spi_ric_to_node"], v["spi_node_to_ric"])
        )
        keymat = hkdf_expand("sha384", prk, info, KEYMAT_LEN)
        out["info_" + name] = info.hex()
        out[name] = {"key": keymat[:32].hex(), "salt": keymat[32:].hex()}
    return out


# ------------------------------------------------------------------ inputs


def material(label, n):
    """n deterministic bytes named by a label."""
    out, counter = b"", 0
    while len(out) < n:
        out += hashlib.sha256(label.encode() + struct.pack(">I", counter)).digest()
        counter += 1
    return out[:n]


KEY_ID = "bc490419-7d60-487f-adc1-4ddcc177c139"


def base(**changes):
    v = {
        "mode": "qkd-and-pqc",
        "qkd_key": material("qkd key", 32).hex(),
        "key_id": KEY_ID,
        "pqc_secret": material("ml-kem shared secret", 32).hex(),
        "ric_id": b"ric-001-01-00005".hex(),
        "node_id": b"gnb-001-01-0000e000-28".hex(),
        "epoch": 1,
        "spi_ric_to_node": 0x10000001,
        "spi_node_to_ric": 0x20000001,
        "transcript": material("rekey transcript", 200).hex(),
    }
    v.update(changes)
    return v


def vectors():
    out = []
    # Every mode x presence combination (QKD key, ML-KEM secret present or not).
    for mode in MODES:
        for has_qkd in (True, False):
            for has_pqc in (True, False):
                changes = {"mode": mode}
                if not has_qkd:
                    changes.update(qkd_key=None, key_id=None)
                if not has_pqc:
                    changes["pqc_secret"] = None
                name = "%s/qkd=%s/pqc=%s" % (mode, "yes" if has_qkd else "no", "yes" if has_pqc else "no")
                out.append((name, base(**changes)))
    # Edges of the inputs.
    out += [
        ("qkd key 128 bits", base(qkd_key=material("short qkd", 16).hex(), mode="at-least-qkd", pqc_secret=None)),
        ("qkd key 8192 bits", base(qkd_key=material("long qkd", 1024).hex())),
        ("qkd key 256 bytes (length prefix > 255)", base(qkd_key=material("mid qkd", 256).hex(), mode="either")),
        ("epoch 0", base(epoch=0)),
        ("epoch 2^64-1", base(epoch=2**64 - 1)),
        ("spi 256 and 2^32-1", base(spi_ric_to_node=256, spi_node_to_ric=2**32 - 1)),
        ("same spi both ways", base(spi_ric_to_node=0x3000, spi_node_to_ric=0x3000)),
        ("ids of 1 and 255 bytes", base(ric_id="52", node_id=material("long node id", 255).hex())),
        ("utf-8 ids", base(ric_id="rïc-ü".encode().hex(), node_id="gnb-ß-東京".encode().hex())),
        ("ids swapped", base(ric_id=b"gnb-001-01-0000e000-28".hex(), node_id=b"ric-001-01-00005".hex())),
        ("one-byte transcript", base(transcript="00")),
        ("4 KiB transcript", base(transcript=material("big transcript", 4096).hex())),
        ("key_ID all zero", base(key_id="00000000-0000-0000-0000-000000000000")),
        ("key_ID upper case", base(key_id=KEY_ID.upper())),
        ("all-zero secrets", base(qkd_key="00" * 32, pqc_secret="00" * 32)),
    ]
    # Bad inputs: an error, whatever the mode.
    out += [
        ("qkd key 127 bits", base(qkd_key=material("x", 15).hex())),
        ("qkd key 8200 bits", base(qkd_key=material("x", 1025).hex())),
        ("qkd key empty", base(qkd_key="")),
        ("bad qkd key is not treated as absent", base(mode="at-least-pqc", qkd_key=material("x", 8).hex())),
        ("ml-kem secret 31 bytes", base(pqc_secret=material("x", 31).hex())),
        ("ml-kem secret 33 bytes", base(pqc_secret=material("x", 33).hex())),
        ("bad ml-kem secret is not treated as absent", base(mode="at-least-qkd", pqc_secret=material("x", 64).hex())),
        ("empty ric id", base(ric_id="")),
        ("empty node id", base(node_id="")),
        ("ric id 256 bytes", base(ric_id=material("x", 256).hex())),
        ("node id 256 bytes", base(node_id=material("x", 256).hex())),
        ("spi 255 ric to node", base(spi_ric_to_node=255)),
        ("spi 0 node to ric", base(spi_node_to_ric=0)),
        ("empty transcript", base(transcript="")),
    ]
    return out


def main():
    self_test()
    here = os.path.dirname(os.path.abspath(__file__))
    result = []
    for name, v in vectors():
        v = dict(v, name=name)
        error = check(v)
        if error is not None:
            v["expected"] = {"error": error}
        else:
            v["expected"] = combine(v)
        result.append(v)
    doc = {
        "description": "qsafe-hybrid combiner vectors: HKDF-SHA-384, IKM = u16 len || QKD key || u16 len || ML-KEM "
        "secret, salt = SHA-384(transcript), info per docs/hybrid-combiner.md. Generated by make_vectors.py "
        "(Python standard library); do not edit by hand.",
        "label": LABEL.decode(),
        "vectors": result,
    }
    path = os.path.join(here, "combiner.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, ensure_ascii=True)
        f.write("\n")
    ok = sum(1 for v in result if "error" not in v["expected"])
    print("wrote %s: %d vectors (%d keys, %d errors)" % (path, len(result), ok, len(result) - ok), file=sys.stderr)


if __name__ == "__main__":
    main()
