#!/usr/bin/env python3
"""Cross-checks the E2SM-QKD v01.00 codec of qsafe-asn1 against pycrate.

pycrate (PyPI `pycrate`) is an independent ASN.1 compiler and APER runtime.
This script compiles asn1/modules/e2sm-qkd-v01.00/e2sm-qkd-v01.00.asn with
pycrate_asn1compile.py and drives our typed codec (qsafe_asn1::e2sm_qkd)
through the JSON-lines bridge asn1/examples/e2sm_qkd_xcheck.rs:

  values    fixed realistic values (ML-DSA-65 chains of 2 x ~5.5 KB,
            ML-KEM-768 keys/ciphertexts, ML-DSA-65 signatures) and seeded
            random values of all eight payload types, within every range
            and size bound:
            (a) pycrate APER -> ours decodes -> our JER equals pycrate's JER,
                and our re-encoding is byte-identical with pycrate's;
            (b) pycrate JER -> ours encodes -> the bytes are pycrate's, and
                pycrate decodes them to the original value.
  rules     values valid for the ASN.1 but breaking a field rule of the
            module comments (no trigger, kemKeyId without kemCiphertext,
            header command vs message, extended sizes, empty/oversized IDs
            encoded from a relaxed copy of the module): ours refuses them
            with Invalid naming the field.
  future    a copy of the module with extension additions a later version
            could make (new ENUMERATED values, a new CHOICE alternative, new
            SEQUENCE fields): unknown enum values / alternatives decode to
            Invalid, unknown SEQUENCE additions are skipped.
  vectors   asn1/tests/vectors/e2sm-qkd/vectors.json (pinned pycrate hex,
            used by asn1/tests/e2sm_qkd.rs) equals what pycrate encodes now.
            --write-vectors rewrites it.

Run:  python3 tests/conformance/e2sm_qkd_xcheck.py [--seed N] [--count N]
      (with pycrate installed, e.g. target/pyenv/bin/python)
Env:  E2SM_QKD_XCHECK=<path to a built e2sm_qkd_xcheck example> skips cargo.

The last line of output is exactly "N passed, M failed"; the exit status is
non-zero when M > 0.
"""

import argparse
import importlib.util
import json
import os
import pathlib
import random
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULE = ROOT / "asn1/modules/e2sm-qkd-v01.00/e2sm-qkd-v01.00.asn"
VECTORS = ROOT / "asn1/tests/vectors/e2sm-qkd/vectors.json"

TYPES = {
    "E2SM-QKD-RANfunction-Definition": "E2SM_QKD_RANfunction_Definition",
    "E2SM-QKD-EventTrigger": "E2SM_QKD_EventTrigger",
    "E2SM-QKD-ActionDefinition": "E2SM_QKD_ActionDefinition",
    "E2SM-QKD-IndicationHeader": "E2SM_QKD_IndicationHeader",
    "E2SM-QKD-IndicationMessage": "E2SM_QKD_IndicationMessage",
    "E2SM-QKD-ControlHeader": "E2SM_QKD_ControlHeader",
    "E2SM-QKD-ControlMessage": "E2SM_QKD_ControlMessage",
    "E2SM-QKD-ControlOutcome": "E2SM_QKD_ControlOutcome",
}

MODES = ["qkd-and-pqc", "at-least-qkd", "at-least-pqc", "either"]
SOURCES = ["qkd", "pqc", "hybrid"]
STATES = ["unprotected", "protected", "degraded", "isolated"]
ALGS = ["ml-kem-768", "ml-kem-1024"]
REASONS = ["periodic", "epoch-change", "mode-change", "state-change"]
COMMANDS = ["rekey", "set-mode", "isolate", "restore"]
CAUSES = ["malformed", "bad-signature", "untrusted-certificate", "wrong-sae-id", "replayed-epoch",
          "unknown-kem-key", "kem-failure", "qkd-key-not-found", "kme-unavailable", "mode-not-supported",
          "mode-violation", "spi-in-use", "sa-install-failed", "busy"]
PRINTABLE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?"
U32 = 2**32 - 1
U64 = 2**64 - 1

# ML-DSA-65 / ML-KEM-768 sizes (FIPS 204 / FIPS 203).
MLDSA65_SIG = 3309
MLKEM768_EK = 1184
MLKEM768_CT = 1088
CERT = 5500


def pattern(n, seed):
    """Deterministic bytes, the same as `pattern` in asn1/tests/e2sm_qkd.rs."""
    return bytes((seed + 31 * i) % 256 for i in range(n))


# --------------------------------------------------------------------------
# pycrate

def pycrate_compile(text, tmp, name):
    src = pathlib.Path(tmp) / f"{name}.asn"
    src.write_text(text)
    # The compiler next to this interpreter (a venv's bin/), else the one on PATH.
    sibling = pathlib.Path(sys.executable).parent / "pycrate_asn1compile.py"
    cmd = [sys.executable, str(sibling)] if sibling.exists() else [shutil.which("pycrate_asn1compile.py") or "pycrate_asn1compile.py"]
    subprocess.run(cmd + ["-i", str(src), "-o", f"{tmp}/{name}"], check=True, capture_output=True)
    spec = importlib.util.spec_from_file_location(name, f"{tmp}/{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.E2SM_QKD_IEs


def py_encode(M, ty, value):
    obj = getattr(M, TYPES[ty])
    obj.set_val(value)
    return obj.to_aper().hex(), json.loads(obj.to_jer())


def py_decode(M, ty, hexstr):
    obj = getattr(M, TYPES[ty])
    obj.from_aper(bytes.fromhex(hexstr))
    return obj.get_val()


def patch(text, old, new):
    assert text.count(old) == 1, f"module text changed: cannot patch {old!r}"
    return text.replace(old, new)


def future_module(text):
    """A plausible later minor version: extension additions everywhere we test.

    Each SEQUENCE gets ONE extension addition (or one group): pycrate 0.8.1
    mis-encodes a SEQUENCE with two or more extension additions at some bit
    offsets (an extra 0x00 octet before the first open type; e.g.
    `A ::= SEQUENCE { b BOOLEAN, ..., x BOOLEAN OPTIONAL, y BOOLEAN OPTIONAL }`,
    {b TRUE, x TRUE}: pycrate c0c0000180, X.691 / asn1tools 0.169 / rasn
    c0c00180). asn1/tests/e2sm_qkd.rs checks that case with fixed bytes."""
    text = patch(text, "    either,         -- whichever is available (both when both are)\n    ...\n",
                 "    either,\n    ...,\n    qkd-only\n")
    text = patch(text, "    busy,                  -- another rekey of this link is in progress\n    ...\n",
                 "    busy,\n    ...,\n    quota-exceeded\n")
    text = patch(text, "KeySource ::= ENUMERATED { qkd, pqc, hybrid, ... }",
                 "KeySource ::= ENUMERATED { qkd, pqc, hybrid, ..., qkd-only }")
    text = patch(text, "    includeNextKemKey   BOOLEAN,     -- attach a fresh SignedKemKey to every report\n    ...\n",
                 "    includeNextKemKey   BOOLEAN,\n    ...,\n    reportCounters UTF8String OPTIONAL\n")
    text = patch(text, "    nextKemKey          SignedKemKey OPTIONAL,\n    ...\n}\n\n-- ****",
                 "    nextKemKey          SignedKemKey OPTIONAL,\n    ...,\n    [[ kmeLatencyMs INTEGER (0..65535) OPTIONAL ]]\n}\n\n-- ****")
    text = patch(text, "    isolate             IsolateCommand,        -- header command isolate or restore\n    ...\n",
                 "    isolate             IsolateCommand,\n    ...,\n    ping NULL\n")
    return text


def relaxed_module(text):
    """Wire-identical to v01.00 (UTF8String sizes are not PER-visible), so that
    pycrate can encode IDs that break the SIZE rule."""
    return patch(text, "SAE-ID ::= UTF8String (SIZE(1..255))", "SAE-ID ::= UTF8String")


# --------------------------------------------------------------------------
# values

def kem_key(kid, alg="ml-kem-768", ek=MLKEM768_EK, sig=MLDSA65_SIG, seed=0):
    return {"kemKeyId": kid, "algorithm": alg, "encapsulationKey": pattern(ek, seed + 1), "signature": pattern(sig, seed + 2)}


def pinned():
    """(name, type, value): the vectors pinned in asn1/tests/vectors/e2sm-qkd
    (asn1/tests/e2sm_qkd.rs builds the same values in Rust)."""
    chain = [pattern(CERT, 10), pattern(CERT - 123, 11)]
    return [
        ("ran-function-definition", "E2SM-QKD-RANfunction-Definition", {
            "ranFunctionShortName": "QSAFE-E2SM-QKD",
            "ranFunctionOID": "2.25.203644067033296839980795250821322911839.2.1",
            "ranFunctionDescription": "QKD and ML-KEM keyed IPsec for the E2 link",
            "nodeSaeId": "gnb-001-sae", "nodeKmeId": "KME-B",
            "supportedModes": ["qkd-and-pqc", "at-least-pqc", "either"],
            "certificateChain": chain,
            "firstKemKey": kem_key(1, seed=20)}),
        ("event-trigger", "E2SM-QKD-EventTrigger", {"reportingPeriodMs": 1000, "onChange": True}),
        ("action-definition", "E2SM-QKD-ActionDefinition", {"includeNextKemKey": True}),
        ("indication-header", "E2SM-QKD-IndicationHeader", {"timestamp": bytes(range(1, 9)), "reason": "epoch-change"}),
        ("indication-message", "E2SM-QKD-IndicationMessage", {
            "linkState": "protected", "mode": "qkd-and-pqc",
            "currentSa": {"epoch": 7, "keyId": pattern(16, 30), "spiRicToNode": 256, "spiNodeToRic": U32,
                          "keySource": "hybrid", "ageMs": 123456, "inboundBytes": U64, "inboundPackets": 0,
                          "outboundBytes": 2**40 + 5, "outboundPackets": 65536},
            "kmeStoredKeys": 1234,
            "nextKemKey": kem_key(8, seed=40)}),
        ("control-header", "E2SM-QKD-ControlHeader", {"command": "restore"}),
        ("control-message-rekey", "E2SM-QKD-ControlMessage", ("rekey", {
            "epoch": 8, "ricSaeId": "ric-sae", "nodeSaeId": "gnb-001-sae", "keyId": pattern(16, 50),
            "kemKeyId": 8, "kemCiphertext": pattern(MLKEM768_CT, 51), "spiRicToNode": 0x1000, "spiNodeToRic": 0x1001,
            "mode": "qkd-and-pqc", "keySource": "hybrid", "activation": {"graceMs": 600000},
            "ricCertificateChain": [pattern(CERT, 52), pattern(CERT - 77, 53)],
            "signature": pattern(MLDSA65_SIG, 54)})),
        ("control-message-restore", "E2SM-QKD-ControlMessage", ("isolate", {
            "epoch": 8, "ricSaeId": "ric-sae", "nodeSaeId": "gnb-001-sae", "isolate": False,
            "signature": pattern(MLDSA65_SIG, 60)})),
        ("control-outcome-success", "E2SM-QKD-ControlOutcome", {
            "command": "rekey", "epoch": 8, "result": ("success", "hybrid"),
            "nextKemKey": kem_key(9, seed=70), "signature": pattern(MLDSA65_SIG, 71)}),
        ("control-outcome-failure", "E2SM-QKD-ControlOutcome", {
            "command": "rekey", "epoch": 9, "result": ("failure", "qkd-key-not-found"),
            "signature": pattern(MLDSA65_SIG, 72)}),
    ]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def pick(self, xs):
        return self.r.choice(xs)

    def maybe(self):
        return self.r.random() < 0.5

    def u32(self, lo=0, hi=U32):
        return self.pick([lo, hi, self.r.randint(lo, hi), self.r.randint(lo, min(hi, lo + 300))])

    def u64(self):
        return self.pick([0, U64, self.r.randint(0, U64), self.r.randint(0, 70000)])

    def octets(self, lo, hi):
        n = self.pick([lo, hi, self.r.randint(lo, hi), self.r.randint(lo, min(hi, lo + 40))])
        return self.r.randbytes(n)

    def utf8(self, lo=1, hi=255):
        n = self.pick([lo, hi, self.r.randint(lo, min(hi, 40))])
        alphabet = "abcXYZ019-_.:/ éü€日本\U0001F510"
        return "".join(self.pick(alphabet) for _ in range(n))

    def printable(self, hi):
        n = self.pick([1, hi, self.r.randint(1, min(hi, 60))])
        return "".join(self.pick(PRINTABLE) for _ in range(n))

    def kem_key(self):
        return {"kemKeyId": self.u32(), "algorithm": self.pick(ALGS),
                "encapsulationKey": self.octets(1, 4096), "signature": self.octets(1, 8192)}

    def chain(self):
        n = self.pick([1, 8, self.r.randint(1, 8)])
        return [self.octets(1, self.pick([300, 65535])) for _ in range(n)]

    def value(self, ty):
        if ty == "E2SM-QKD-RANfunction-Definition":
            return {"ranFunctionShortName": self.printable(150), "ranFunctionOID": self.printable(1000),
                    "ranFunctionDescription": self.printable(150), "nodeSaeId": self.utf8(), "nodeKmeId": self.utf8(),
                    "supportedModes": [self.pick(MODES) for _ in range(self.r.randint(1, 8))],
                    "certificateChain": self.chain(), "firstKemKey": self.kem_key()}
        if ty == "E2SM-QKD-EventTrigger":
            v = {"onChange": self.maybe()}
            if self.maybe() or not v["onChange"]:
                v["reportingPeriodMs"] = self.u32(10, 3600000)
            return v
        if ty == "E2SM-QKD-ActionDefinition":
            return {"includeNextKemKey": self.maybe()}
        if ty == "E2SM-QKD-IndicationHeader":
            return {"timestamp": self.r.randbytes(8), "reason": self.pick(REASONS)}
        if ty == "E2SM-QKD-IndicationMessage":
            v = {"linkState": self.pick(STATES), "mode": self.pick(MODES)}
            if self.maybe():
                sa = {"epoch": self.u32(), "spiRicToNode": self.u32(256), "spiNodeToRic": self.u32(256),
                      "keySource": self.pick(SOURCES), "ageMs": self.u32(), "inboundBytes": self.u64(),
                      "inboundPackets": self.u64(), "outboundBytes": self.u64(), "outboundPackets": self.u64()}
                if self.maybe():
                    sa["keyId"] = self.r.randbytes(16)
                v["currentSa"] = sa
            if self.maybe():
                v["kmeStoredKeys"] = self.u32()
            if self.maybe():
                v["nextKemKey"] = self.kem_key()
            return v
        if ty == "E2SM-QKD-ControlHeader":
            return {"command": self.pick(COMMANDS)}
        if ty == "E2SM-QKD-ControlMessage":
            alt = self.pick(["rekey", "setMode", "isolate"])
            base = {"epoch": self.u32(), "ricSaeId": self.utf8(), "nodeSaeId": self.utf8()}
            if alt == "rekey":
                v = dict(base, spiRicToNode=self.u32(256), spiNodeToRic=self.u32(256), mode=self.pick(MODES),
                         keySource=self.pick(SOURCES), activation={"graceMs": self.u32(0, 600000)},
                         signature=self.octets(1, 8192))
                if self.maybe():
                    v["keyId"] = self.r.randbytes(16)
                if self.maybe():
                    v["kemKeyId"] = self.u32()
                    v["kemCiphertext"] = self.octets(1, 4096)
                if self.maybe():
                    v["ricCertificateChain"] = self.chain()
                return ("rekey", v)
            if alt == "setMode":
                return ("setMode", dict(base, mode=self.pick(MODES), signature=self.octets(1, 8192)))
            return ("isolate", dict(base, isolate=self.maybe(), signature=self.octets(1, 8192)))
        if ty == "E2SM-QKD-ControlOutcome":
            result = ("success", self.pick(SOURCES)) if self.maybe() else ("failure", self.pick(CAUSES))
            v = {"command": self.pick(COMMANDS), "epoch": self.u32(), "result": result, "signature": self.octets(1, 8192)}
            if self.maybe():
                v["nextKemKey"] = self.kem_key()
            return v
        raise ValueError(ty)


# --------------------------------------------------------------------------
# the bridge

class Bridge:
    def __init__(self):
        exe = os.environ.get("E2SM_QKD_XCHECK")
        if not exe:
            subprocess.run(["cargo", "build", "-q", "-p", "qsafe-asn1", "--example", "e2sm_qkd_xcheck"], cwd=ROOT, check=True)
            target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
            exe = str(pathlib.Path(target) / "debug/examples/e2sm_qkd_xcheck")
        self.p = subprocess.Popen([exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)

    def ask(self, req):
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("the e2sm_qkd_xcheck bridge exited")
        return json.loads(line)

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {what}: {detail}"[:2000])


def norm(v):
    """JER as compared: octet strings (hex) in lower case."""
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, str) and re.fullmatch(r"[0-9A-F]+", v) and len(v) % 2 == 0:
        return v.lower()
    return v


def both_ways(M, bridge, tally, name, ty, value):
    hexstr, jer = py_encode(M, ty, value)
    # (a) pycrate bytes -> ours
    ans = bridge.ask({"type": ty, "hex": hexstr})
    if not ans.get("ok"):
        tally.check(False, f"{name} decode", ans)
    else:
        tally.check(norm(ans["jer"]) == norm(jer), f"{name} decode: JER differs",
                    f"\n ours    {json.dumps(ans['jer'])[:600]}\n pycrate {json.dumps(jer)[:600]}")
        tally.check(ans["hex"] == hexstr, f"{name} re-encode differs", f"\n ours    {ans['hex'][:200]}\n pycrate {hexstr[:200]}")
    # (b) pycrate JER -> ours encodes -> pycrate decodes
    ans = bridge.ask({"type": ty, "jer": jer})
    if not ans.get("ok"):
        tally.check(False, f"{name} encode", ans)
    else:
        tally.check(ans["hex"] == hexstr, f"{name} encode: bytes differ", f"\n ours    {ans['hex'][:200]}\n pycrate {hexstr[:200]}")
        try:
            back = py_decode(M, ty, ans["hex"])
            tally.check(back == value, f"{name} encode: pycrate reads a different value", f"{str(back)[:300]}")
        except Exception as e:  # noqa: BLE001 - any pycrate failure is a mismatch
            tally.check(False, f"{name} encode: pycrate cannot decode ours", repr(e))
    return hexstr


def expect_invalid(bridge, tally, name, req, field):
    ans = bridge.ask(req)
    tally.check(not ans.get("ok") and ans.get("kind") == "Invalid" and ans.get("field") == field,
                f"{name}: want Invalid on {field}", ans)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=20250601)
    ap.add_argument("--count", type=int, default=40, help="random values per payload type")
    ap.add_argument("--write-vectors", action="store_true", help=f"rewrite {VECTORS.relative_to(ROOT)}")
    args = ap.parse_args()

    text = MODULE.read_text()
    tally = Tally()
    with tempfile.TemporaryDirectory() as tmp:
        M = pycrate_compile(text, tmp, "qkd")
        F = pycrate_compile(future_module(text), tmp, "qkd_future")
        R = pycrate_compile(relaxed_module(text), tmp, "qkd_relaxed")
        bridge = Bridge()
        try:
            # values: pinned, then random
            vectors = []
            for name, ty, value in pinned():
                h = both_ways(M, bridge, tally, name, ty, value)
                vectors.append({"name": name, "type": ty, "hex": h})
            gen = Gen(args.seed)
            for ty in TYPES:
                for i in range(args.count):
                    both_ways(M, bridge, tally, f"{ty} random #{i}", ty, gen.value(ty))

            # rules
            h, _ = py_encode(M, "E2SM-QKD-EventTrigger", {"onChange": False})
            expect_invalid(bridge, tally, "no trigger", {"type": "E2SM-QKD-EventTrigger", "hex": h}, "reportingPeriodMs")
            expect_invalid(bridge, tally, "no trigger (encode)", {"type": "E2SM-QKD-EventTrigger", "jer": {"onChange": False}}, "reportingPeriodMs")
            rekey = dict(pinned()[6][2][1])
            no_ct = {k: v for k, v in rekey.items() if k != "kemCiphertext"}
            no_id = {k: v for k, v in rekey.items() if k != "kemKeyId"}
            for nm, val, field in (("kemKeyId without kemCiphertext", no_ct, "rekey.kemCiphertext"),
                                   ("kemCiphertext without kemKeyId", no_id, "rekey.kemKeyId")):
                h, j = py_encode(M, "E2SM-QKD-ControlMessage", ("rekey", val))
                expect_invalid(bridge, tally, nm, {"type": "E2SM-QKD-ControlMessage", "hex": h}, field)
                expect_invalid(bridge, tally, nm + " (encode)", {"type": "E2SM-QKD-ControlMessage", "jer": j}, field)
            restore = pinned()[7][2]
            h_msg, _ = py_encode(M, "E2SM-QKD-ControlMessage", restore)
            for cmd in COMMANDS:
                h_hdr, _ = py_encode(M, "E2SM-QKD-ControlHeader", {"command": cmd})
                req = {"type": "control", "header": h_hdr, "message": h_msg}
                if cmd == "restore":
                    ans = bridge.ask(req)
                    tally.check(ans.get("ok") and ans.get("command") == "restore", "control restore/restore", ans)
                else:
                    expect_invalid(bridge, tally, f"header {cmd} with a RESTORE message", req, "command")
            h_hdr, _ = py_encode(M, "E2SM-QKD-ControlHeader", {"command": "set-mode"})
            h_msg, _ = py_encode(M, "E2SM-QKD-ControlMessage", pinned()[6][2])
            expect_invalid(bridge, tally, "header set-mode with a REKEY message",
                           {"type": "control", "header": h_hdr, "message": h_msg}, "command")
            rfd = dict(pinned()[0][2])
            for field, val in (("ranFunctionShortName", "S" * 151), ("ranFunctionDescription", "D" * 151),
                               ("ranFunctionOID", "1" * 1001)):
                h, _ = py_encode(M, "E2SM-QKD-RANfunction-Definition", dict(rfd, **{field: val}))
                expect_invalid(bridge, tally, f"{field} in its size extension",
                               {"type": "E2SM-QKD-RANfunction-Definition", "hex": h}, field)
            setmode = {"epoch": 1, "ricSaeId": "ric", "nodeSaeId": "node", "mode": "either", "signature": b"\x01"}
            for field, sae in (("setMode.ricSaeId", ""), ("setMode.ricSaeId", "x" * 256), ("setMode.ricSaeId", "é" * 256)):
                h, _ = py_encode(R, "E2SM-QKD-ControlMessage", ("setMode", dict(setmode, ricSaeId=sae)))
                expect_invalid(bridge, tally, f"SAE ID of {len(sae)} characters", {"type": "E2SM-QKD-ControlMessage", "hex": h}, field)
            h, _ = py_encode(R, "E2SM-QKD-ControlMessage", ("setMode", dict(setmode, ricSaeId="é" * 255)))
            ans = bridge.ask({"type": "E2SM-QKD-ControlMessage", "hex": h})
            tally.check(ans.get("ok") and ans["hex"] == h, "SAE ID of 255 two-octet characters (510 octets) is valid", ans)

            # future: extension additions of a later minor version
            h, _ = py_encode(F, "E2SM-QKD-ActionDefinition", {"includeNextKemKey": True, "reportCounters": "counters"})
            ans = bridge.ask({"type": "E2SM-QKD-ActionDefinition", "hex": h})
            tally.check(ans.get("ok") and ans["jer"] == {"includeNextKemKey": True}, "unknown SEQUENCE extension additions are skipped", ans)
            ind = dict(pinned()[4][2], kmeLatencyMs=12)
            h, _ = py_encode(F, "E2SM-QKD-IndicationMessage", ind)
            ans = bridge.ask({"type": "E2SM-QKD-IndicationMessage", "hex": h})
            want = {k: v for k, v in ind.items() if k != "kmeLatencyMs"}
            h_want, jer_want = py_encode(M, "E2SM-QKD-IndicationMessage", want)
            tally.check(ans.get("ok") and norm(ans["jer"]) == norm(jer_want) and ans["hex"] == h_want,
                        "unknown extension group skipped (IndicationMessage)", str(ans)[:300])
            cases = [
                ("unknown KeySourceMode", "E2SM-QKD-IndicationMessage", {"linkState": "protected", "mode": "qkd-only"}, "mode"),
                ("unknown KeySourceMode in a list", "E2SM-QKD-RANfunction-Definition",
                 dict(rfd, supportedModes=["either", "qkd-only"]), "supportedModes"),
                ("unknown KeySource in a CHOICE", "E2SM-QKD-ControlOutcome",
                 {"command": "rekey", "epoch": 1, "result": ("success", "qkd-only"), "signature": b"\x01"}, "result"),
                ("unknown ControlFailureCause", "E2SM-QKD-ControlOutcome",
                 {"command": "rekey", "epoch": 1, "result": ("failure", "quota-exceeded"), "signature": b"\x01"}, "result"),
                ("unknown ControlMessage alternative", "E2SM-QKD-ControlMessage", ("ping", 0), None),
            ]
            for nm, ty, val, field in cases:
                h, _ = py_encode(F, ty, val)
                ans = bridge.ask({"type": ty, "hex": h})
                ok = not ans.get("ok") and ans.get("kind") == "Invalid" and (field is None or ans.get("field") == field)
                tally.check(ok, f"{nm}: want Invalid" + (f" on {field}" if field else ""), ans)
        finally:
            bridge.close()

    # pinned vectors
    doc = {"comment": "E2SM-QKD v01.00 APER vectors encoded by pycrate; written by tests/conformance/e2sm_qkd_xcheck.py "
                      "--write-vectors; read by asn1/tests/e2sm_qkd.rs", "vectors": vectors}
    if args.write_vectors:
        VECTORS.parent.mkdir(parents=True, exist_ok=True)
        VECTORS.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {VECTORS.relative_to(ROOT)} ({len(vectors)} vectors)")
    else:
        try:
            pinned_doc = json.loads(VECTORS.read_text())
            tally.check(pinned_doc["vectors"] == vectors, "pinned vectors differ from pycrate's encoding",
                        f"rerun with --write-vectors ({VECTORS.relative_to(ROOT)})")
        except FileNotFoundError:
            tally.check(False, "pinned vectors missing", f"run with --write-vectors ({VECTORS.relative_to(ROOT)})")

    print(f"{tally.passed} passed, {tally.failed} failed")
    sys.exit(1 if tally.failed else 0)


if __name__ == "__main__":
    main()
