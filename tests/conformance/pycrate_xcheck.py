#!/usr/bin/env python3
"""Cross-checks qsafe-asn1 (E2AP v03.01 + E2SM-KPM v03.00, APER) against pycrate.

pycrate (PyPI `pycrate`) is an independent ASN.1 runtime and compiler. This
script drives our codec through the `e2ap-xcheck` JSON-lines bridge
(tests/src/bin/e2ap_xcheck.rs) and checks, for every case:

  vectors  every *.hex in <testvectors>/{e2ap,e2ap-pycrate,e2sm-kpm-pycrate}:
           ours decodes it, our JER equals pycrate's JER of the same bytes,
           and the raw (generated-types) re-encoding is byte-identical.
  random   seeded random values of each of the 24 typed E2AP messages and of
           the five E2SM-KPM top-level types, generated from pycrate's own
           ASN.1 objects within their constraints:
           (i)  pycrate APER -> ours decodes -> same JER, and our re-encoding
                is byte-identical with pycrate's;
           (ii) pycrate JER -> ours encodes -> pycrate decodes our bytes ->
                the value equals the original (and the bytes are pycrate's).

Run:  python3 tests/conformance/pycrate_xcheck.py [--seed N] [--count N]
Env:  E2AP_XCHECK=<path to a built e2ap-xcheck> skips the cargo build;
      QSAFE_TESTVECTORS=<dir> (default <repo>/../shared/testvectors);
      QSAFE_REQUIRE_SHARED=1 makes missing vectors a failure.

The last line of output is exactly "N passed, M failed"; the exit status is
non-zero when M > 0. See tests/conformance/README.md.
"""

import argparse
import importlib.util
import json
import math
import os
import pathlib
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time

from pycrate_asn1dir import E2AP
from pycrate_asn1rt.asnobj_basic import REAL
from pycrate_asn1rt.codecs import ASN1CodecPER
from pycrate_asn1rt.setobj import ASN1RangeInt

ROOT = pathlib.Path(__file__).resolve().parents[2]
PDU = E2AP.E2AP_PDU_Descriptions.E2AP_PDU

# The 24 messages of the typed layer: the `pdus!` table at the bottom of
# asn1/src/e2ap/mod.rs (ASN.1 name, E2AP-PDU alternative). Procedure codes and
# procedure criticalities come from pycrate's E2AP-ELEMENTARY-PROCEDURES table.
MESSAGES = [
    ("E2setupRequest", "initiatingMessage"),
    ("E2setupResponse", "successfulOutcome"),
    ("E2setupFailure", "unsuccessfulOutcome"),
    ("RICsubscriptionRequest", "initiatingMessage"),
    ("RICsubscriptionResponse", "successfulOutcome"),
    ("RICsubscriptionFailure", "unsuccessfulOutcome"),
    ("RICsubscriptionDeleteRequest", "initiatingMessage"),
    ("RICsubscriptionDeleteResponse", "successfulOutcome"),
    ("RICsubscriptionDeleteFailure", "unsuccessfulOutcome"),
    ("RICsubscriptionDeleteRequired", "initiatingMessage"),
    ("RICindication", "initiatingMessage"),
    ("RICcontrolRequest", "initiatingMessage"),
    ("RICcontrolAcknowledge", "successfulOutcome"),
    ("RICcontrolFailure", "unsuccessfulOutcome"),
    ("ErrorIndication", "initiatingMessage"),
    ("ResetRequest", "initiatingMessage"),
    ("ResetResponse", "successfulOutcome"),
    ("RICserviceUpdate", "initiatingMessage"),
    ("RICserviceUpdateAcknowledge", "successfulOutcome"),
    ("RICserviceUpdateFailure", "unsuccessfulOutcome"),
    ("RICserviceQuery", "initiatingMessage"),
    ("E2nodeConfigurationUpdate", "initiatingMessage"),
    ("E2nodeConfigurationUpdateAcknowledge", "successfulOutcome"),
    ("E2nodeConfigurationUpdateFailure", "unsuccessfulOutcome"),
]

KPM_TYPES = [
    "E2SM-KPM-RANfunction-Description",
    "E2SM-KPM-EventTriggerDefinition",
    "E2SM-KPM-ActionDefinition",
    "E2SM-KPM-IndicationHeader",
    "E2SM-KPM-IndicationMessage",
]
KPM_VECTOR_PREFIX = {
    "KPM_ActionDefinition_": "E2SM-KPM-ActionDefinition",
    "KPM_EventTrigger_": "E2SM-KPM-EventTriggerDefinition",
    "KPM_IndicationHeader_": "E2SM-KPM-IndicationHeader",
    "KPM_IndicationMessage_": "E2SM-KPM-IndicationMessage",
}

PRINTABLE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?"
KIND_KEY = {"initiatingMessage": "InitiatingMessage", "successfulOutcome": "SuccessfulOutcome",
            "unsuccessfulOutcome": "UnsuccessfulOutcome"}


# --------------------------------------------------------------------------- pycrate REAL JER

def _real_to_jval(self):
    """X.697 JER of a REAL (replaces pycrate 0.8.1's REAL._to_jval).

    pycrate's own version is wrong on two counts, both off the APER path we
    test: base-2 values with exponent e >= 0 come out as m * 2**(e+1) (it
    computes `m * (2 << e)`), and +-INFINITY / NOT-A-NUMBER raise TypeError.
    The APER REAL coding itself (X.690 contents, canonical base 2) is pycrate's
    and is not touched.
    """
    m, base, e = self._val
    if base is None:
        return {1: "INF", -1: "-INF", 0: "NaN"}[m]
    if m == 0:
        return 0
    if base == 2:
        return math.ldexp(float(m), e)
    return float("%de%d" % (m, e))


REAL._to_jval = _real_to_jval
_real_safechk = REAL._safechk_val


def _real_safechk_specials(self, val):
    """pycrate documents (1, None, None) / (-1, None, None) as PLUS-/MINUS-INFINITY
    and encodes/decodes them, but its value check rejects them; accept them."""
    if val in ((1, None, None), (-1, None, None)):
        return
    _real_safechk(self, val)


REAL._safechk_val = _real_safechk_specials


# --------------------------------------------------------------------------- X.690 REAL contents

def x690_real_decode(b):
    """X.690 REAL contents octets -> float (mirror of qsafe_asn1::real::decode)."""
    if not b:
        return 0.0
    first = b[0]
    if first & 0x80:
        sign = -1.0 if first & 0x40 else 1.0
        base_bits = {0: 1, 1: 3, 2: 4}[(first >> 4) & 3]
        scale = (first >> 2) & 3
        lf = first & 3
        if lf < 3:
            exp_len, rest = lf + 1, b[1:]
        else:
            exp_len, rest = b[1], b[2:]
        exponent = int.from_bytes(rest[:exp_len], "big", signed=True)
        mantissa = int.from_bytes(rest[exp_len:], "big")
        return sign * math.ldexp(float(mantissa), exponent * base_bits + scale)
    if first & 0x40:
        return {0x40: math.inf, 0x41: -math.inf, 0x42: math.nan, 0x43: -0.0}[first]
    return float(b[1:].decode("ascii").strip().replace(",", "."))


def x690_real_encode(f):
    """float -> canonical X.690 REAL contents (base 2, F=0, odd mantissa), as pycrate encodes."""
    if f == 0.0:
        return b"\x43" if math.copysign(1.0, f) < 0 else b""
    if math.isnan(f):
        return b"\x42"
    if math.isinf(f):
        return b"\x40" if f > 0 else b"\x41"
    m, _, e = real_tuple(f)
    sign = 0x40 if m < 0 else 0
    m = abs(m)
    exp_len = ((e if e >= 0 else ~e).bit_length() + 8) // 8  # minimal two's complement
    exp = e.to_bytes(exp_len, "big", signed=True)
    mant = m.to_bytes((m.bit_length() + 7) // 8, "big")
    if exp_len <= 3:
        return bytes([0x80 | sign | (exp_len - 1)]) + exp + mant
    return bytes([0x80 | sign | 3, exp_len]) + exp + mant


def real_tuple(f):
    """float -> pycrate's canonical REAL value (mantissa, 2, exponent) with an odd mantissa."""
    if math.isinf(f):
        return (1 if f > 0 else -1, None, None)
    if f == 0.0:
        return (0, 2, 0)
    num, den = f.as_integer_ratio()
    e = -(den.bit_length() - 1)
    while num % 2 == 0:
        num //= 2
        e += 1
    return (num, 2, e)


def real_token(x):
    """A comparable token for a REAL: repr of the float (exact; keeps -0.0, inf)."""
    return "REAL(%r)" % x


# --------------------------------------------------------------------------- pycrate helpers

def comp_of(obj, name):
    """Component `name` of a SEQUENCE/CHOICE object, or None."""
    return obj._cont[name] if name in obj._cont else None


def type_name(obj):
    """The name pycrate uses for an open-type value: the type reference, else the builtin type."""
    return obj._typeref.called[1] if obj._typeref is not None else obj.TYPE


def table_entries(tab):
    v = tab._val
    return list(v.root) + (list(v.ext) if v.ext else [])


def open_entry(seq, field, jval_or_val):
    """For an OPEN component `field` of SEQUENCE `seq` constrained by a table,
    the table entry selected by the sibling key (e.g. `id`, `procedureCode`)."""
    o = seq._cont[field]
    if o._const_tab is None or not o._const_tab_at:
        return None
    key_field = o._const_tab_at[-1]
    key_name = seq._cont[key_field]._const_tab_id
    key = jval_or_val.get(key_field)
    for e in table_entries(o._const_tab):
        if e.get(key_name) == key:
            return e
    return None


def load_kpm(tmpdir):
    """Compiles E2SM-KPM v03.00 (+ E2SM common IEs) with pycrate_asn1compile.py and imports it."""
    mods = ROOT / "asn1" / "modules" / "e2sm-kpm-v03.00"
    out = pathlib.Path(tmpdir) / "kpm"
    script = pathlib.Path(sys.executable).parent / "pycrate_asn1compile.py"
    cmd = [sys.executable, str(script)] if script.exists() else [shutil.which("pycrate_asn1compile.py") or "pycrate_asn1compile.py"]
    cmd += ["-i", str(mods / "e2sm-v03.01.asn"), str(mods / "e2sm-kpm-v03.00.asn"), "-o", str(out)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    spec = importlib.util.spec_from_file_location("qsafe_kpm_pycrate", str(out) + ".py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.E2SM_KPM_IEs


def kpm_obj(kpm, name):
    return getattr(kpm, name.replace("-", "_"))


def procedure_table():
    """ASN.1 message name -> (pdu alternative, procedure code, procedure criticality)."""
    out = {}
    for alt in ("initiatingMessage", "successfulOutcome", "unsuccessfulOutcome"):
        seq = PDU._cont[alt]
        for e in table_entries(seq._cont["value"]._const_tab):
            t = e.get(KIND_KEY[alt])
            if t is not None:
                out[type_name(t)] = (alt, e["procedureCode"], e["criticality"])
    return out


# --------------------------------------------------------------------------- random values

class Gen:
    """Random pycrate values for any pycrate ASN.1 object, within its constraints."""

    LARGE_OCTETS = "RICindicationMessage"  # gets occasional 16..70 KiB values

    def __init__(self, rng):
        self.r = rng
        self.large = []  # sizes of the large octet strings generated

    def chance(self, p):
        return self.r.random() < p

    # sizes and integers --------------------------------------------------
    def _pick_range(self, items):
        it = self.r.choice(items)
        if isinstance(it, ASN1RangeInt):
            return it.lb, it.ub
        return it, it

    def string_size(self, const, cap):
        """size() for strings, never 0 inside a size range: pycrate 0.8.1 writes
        padding after the zero length of a string whose size is a range (its
        _to_per realigns unconditionally), where X.691 (02/2021) 11.9.3.3 says
        nothing follows a zero length -- rasn and asn1tools agree with X.691.
        run_empty_strings() pins our encoding of such values instead."""
        n = self.size(const, cap)
        if n == 0 and const is not None and any(isinstance(it, ASN1RangeInt) and it.lb != it.ub for it in const.root):
            return 1
        return n

    def size(self, const, cap=4):
        """A length within a SIZE constraint; small by default, sometimes an extension length."""
        if const is None:
            lb, ub, ext = 0, None, None
        else:
            lb, ub = self._pick_range(const.root)
            lb = 0 if lb is None else lb
            ext = const.ext
        if ext is not None and self.chance(0.08):
            if ext:  # explicit extension values
                lo, hi = self._pick_range(ext)
                return self.r.randint(lo if lo is not None else 0, hi if hi is not None else (lo or 0) + cap)
            if ub is not None:
                return ub + self.r.randint(1, 3)
        hi = lb + cap if ub is None else min(ub, lb + cap)
        if ub is not None and ub <= lb + cap:
            hi = ub
        x = self.r.random()
        if x < 0.2:
            return lb
        if x < 0.3 and ub is not None and ub - lb <= 64:
            return ub
        return self.r.randint(lb, hi)

    def integer(self, const):
        r = self.r
        if const is None or not const.root:
            # Unconstrained INTEGER: edge values and random magnitudes within 64 bits
            # (rasn's JER cannot show larger integers: see run_kpm_bigint).
            return r.choice([0, 1, -1, 127, 128, -128, -129, 255, 256, 65535, 65536, -65536,
                             2**31 - 1, -2**31, 2**32, 2**63 - 1, -2**63,
                             r.randint(-2**15, 2**15), r.randint(-2**40, 2**40), r.randint(-2**63, 2**63 - 1)])
        lb, ub = self._pick_range(const.root)
        if const.ext is not None and self.chance(0.1):
            # an extension value: above the root (or below a lower bound)
            if ub is not None and (lb is None or self.chance(0.7)):
                return ub + r.choice([1, 2, r.randint(1, 1000), r.randint(1, 2**31)])
            if lb is not None:
                return lb - r.choice([1, r.randint(1, 2**20)])
        if lb is None and ub is None:
            return self.integer(None)
        if lb is None:
            return ub - r.choice([0, 1, r.randint(0, 2**31)])
        if ub is None:
            return lb + r.choice([0, 1, r.randint(0, 2**31), r.randint(0, 2**62)])
        x = r.random()
        if x < 0.15:
            return lb
        if x < 0.3:
            return ub
        return r.randint(lb, ub)

    # types --------------------------------------------------------------
    def value(self, obj, depth=0):
        t = obj.TYPE
        fn = getattr(self, "v_" + t.replace(" ", "_"), None)
        if fn is None:
            raise NotImplementedError("no generator for ASN.1 type %s (%s)" % (t, obj.fullname()))
        return fn(obj, depth)

    def v_NULL(self, obj, depth):
        return 0

    def v_BOOLEAN(self, obj, depth):
        return self.chance(0.5)

    def v_INTEGER(self, obj, depth):
        return self.integer(obj._const_val)

    def v_REAL(self, obj, depth):
        r = self.r
        x = r.random()
        if x < 0.15:
            f = r.choice([0.0, 1.0, -1.0, 1.5, -2.25, 0.1, 1e300, -1e-300, 5e-324, 2.0**-1022,
                          1.7976931348623157e308, 123456.789, math.inf, -math.inf, 2.0**60, 3.0 * 2**70])
        elif x < 0.5:
            f = float(r.randint(-10**6, 10**6))
        elif x < 0.8:
            f = r.uniform(-1e6, 1e6)
        else:
            # any finite double (NaN excluded: pycrate 0.8.1 encodes its NaN as 0.0;
            # -0.0 excluded: pycrate's REAL value cannot represent it)
            while True:
                f = struct.unpack(">d", r.getrandbits(64).to_bytes(8, "big"))[0]
                if not math.isnan(f) and not math.isinf(f) and f != 0.0:
                    break
        return real_tuple(f)

    def v_ENUMERATED(self, obj, depth):
        if obj._ext and self.chance(0.2):
            return self.r.choice(obj._ext)
        return self.r.choice(obj._root)

    def _octets(self, n):
        return self.r.getrandbits(8 * n).to_bytes(n, "big") if n else b""

    def v_OCTET_STRING(self, obj, depth):
        if obj._typeref is not None and obj._typeref.called[1] == self.LARGE_OCTETS and self.chance(0.06):
            # around and beyond the 16 KiB APER fragment size, up to 70 KiB
            n = self.r.choice([16383, 16384, 16385, 32768, 49152, 65536,
                               self.r.randint(20 * 1024, 70 * 1024), self.r.randint(20 * 1024, 70 * 1024)])
            self.large.append(n)
        else:
            n = self.string_size(getattr(obj, "_const_sz", None), cap=12)
        return self._octets(n)

    def v_BIT_STRING(self, obj, depth):
        n = self.string_size(getattr(obj, "_const_sz", None), cap=40)
        return (self.r.getrandbits(n) if n else 0, n)

    def _alphabet(self, obj, default):
        alpha = getattr(obj, "_const_alpha", None)
        if alpha is None:
            return default
        chars = []
        for it in alpha.root:
            if isinstance(it, str):
                chars.append(it)
            else:
                chars.extend(chr(c) for c in range(ord(it.lb), ord(it.ub) + 1))
        return "".join(chars)

    def _string(self, obj, alphabet):
        n = self.string_size(getattr(obj, "_const_sz", None), cap=12)
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def v_PrintableString(self, obj, depth):
        return self._string(obj, self._alphabet(obj, PRINTABLE))

    def v_IA5String(self, obj, depth):
        return self._string(obj, self._alphabet(obj, "".join(chr(c) for c in range(32, 127))))

    def v_VisibleString(self, obj, depth):
        return self.v_IA5String(obj, depth)

    def v_UTF8String(self, obj, depth):
        return self._string(obj, self._alphabet(obj, PRINTABLE + "\u00e9\u00fc\u4e2d\U0001f600"))

    def v_OBJECT_IDENTIFIER(self, obj, depth):
        return (self.r.randint(0, 2), self.r.randint(0, 39)) + tuple(self.r.randint(0, 70000) for _ in range(self.r.randint(0, 6)))

    def v_CHOICE(self, obj, depth):
        names = list(obj._root)
        if obj._ext and self.chance(0.25):
            names = list(obj._ext)
        name = self.r.choice(names)
        return (name, self.value(obj._cont[name], depth + 1))

    def v_SEQUENCE(self, obj, depth, entry=None):
        out = {}
        tab_comps = [k for k, c in obj._cont.items() if c._const_tab is not None]
        if tab_comps and entry is None:
            # a single container (ProtocolIE-SingleContainer): pick an allowed object
            key_comp = next(k for k in tab_comps if not obj._cont[k]._const_tab_at)
            entry = self.r.choice(table_entries(obj._cont[key_comp]._const_tab))
        opt = set(obj._root_opt or [])
        for name in obj._root:
            comp = obj._cont[name]
            if name in opt and not self.chance(0.5):
                continue
            out[name] = self._component(comp, entry, depth)
        if obj._ext:
            groups_done = set()
            for name in obj._ext:
                grp = (obj._ext_ident or {}).get(name)
                if grp is not None:
                    if grp in groups_done:
                        continue
                    groups_done.add(grp)
                    if self.chance(0.4):
                        for gname in obj._ext_group[grp]:
                            gcomp = obj._cont[gname]
                            if getattr(gcomp, "_opt", False) and not self.chance(0.5):
                                continue
                            out[gname] = self._component(gcomp, entry, depth)
                elif self.chance(0.4):
                    out[name] = self._component(obj._cont[name], entry, depth)
        return out

    def _component(self, comp, entry, depth):
        if comp._const_tab is not None and entry is not None:
            v = entry[comp._const_tab_id]
            if comp.TYPE == "OPEN_TYPE":
                return (type_name(v), self.value(v, depth + 1))
            return v
        return self.value(comp, depth + 1)

    def v_SEQUENCE_OF(self, obj, depth):
        item = obj._cont
        if item._typeref is not None and item._typeref.called[1] == "ProtocolIE-Field":
            # A message's protocolIEs: exactly the IEs the message's IE set
            # defines, in the spec's order, with the spec's criticality;
            # mandatory always, optional/conditional at random.
            out = []
            for e in table_entries(item._cont["id"]._const_tab):
                if e["presence"] == "mandatory" or self.chance(0.5):
                    out.append(self.v_SEQUENCE(item, depth, entry=e))
            return out
        cap = 3 if depth < 6 else 1
        n = self.size(obj._const_sz, cap=cap)
        return [self.value(item, depth + 1) for _ in range(n)]


# --------------------------------------------------------------------------- JER normalisation

def normalise(obj, v, side):
    """Type-directed normalisation of a JER value so both codecs' JER compare.

    * OCTET STRING / BIT STRING hex is lower-cased: X.697 allows either case
      (rasn writes upper case, pycrate lower case).
    * REAL: ours is the hex of the X.690 contents (KPM REALs are compiled as
      OCTET STRING, see asn1/src/real.rs), pycrate's is a JSON number or
      "INF"/"-INF"/"NaN"; both become a float token.
    Nothing else is changed.
    """
    t = obj.TYPE
    if t in ("SEQUENCE", "SET") and isinstance(v, dict):
        out = {}
        for k, x in v.items():
            comp = comp_of(obj, k)
            if comp is None:
                out[k] = x
            elif comp.TYPE == "OPEN_TYPE":
                e = open_entry(obj, k, v)
                typ = e.get(comp._const_tab_id) if e else None
                out[k] = normalise(typ, x, side) if typ is not None else x
            else:
                out[k] = normalise(comp, x, side)
        return out
    if t == "CHOICE" and isinstance(v, dict) and len(v) == 1:
        (k, x), = v.items()
        comp = comp_of(obj, k)
        return {k: normalise(comp, x, side) if comp is not None else x}
    if t in ("SEQUENCE OF", "SET OF") and isinstance(v, list):
        return [normalise(obj._cont, x, side) for x in v]
    if t == "OCTET STRING" and isinstance(v, str):
        return v.lower()
    if t == "BIT STRING":
        if isinstance(v, str):
            return v.lower()
        if isinstance(v, dict) and isinstance(v.get("value"), str):
            return dict(v, value=v["value"].lower())
        return v
    if t == "REAL":
        if side == "ours" and isinstance(v, str):
            try:
                return real_token(x690_real_decode(bytes.fromhex(v)))
            except Exception as e:  # malformed contents: keep visible in the diff
                return "BAD-REAL(%s: %s)" % (v, e)
        if isinstance(v, (int, float)):
            return real_token(float(v))
        if isinstance(v, str):
            return real_token({"INF": math.inf, "-INF": -math.inf, "NaN": math.nan, "-0": -0.0, "0": 0.0}.get(v, v))
        if isinstance(v, dict) and "base10Value" in v:
            return real_token(float(v["base10Value"]))
    return v


def to_our_jer(obj, v):
    """pycrate JER -> the JER our KPM types expect: REAL numbers become the hex of
    their canonical X.690 contents (see normalise); everything else unchanged."""
    t = obj.TYPE
    if t in ("SEQUENCE", "SET") and isinstance(v, dict):
        return {k: to_our_jer(obj._cont[k], x) if k in obj._cont else x for k, x in v.items()}
    if t == "CHOICE" and isinstance(v, dict) and len(v) == 1:
        (k, x), = v.items()
        return {k: to_our_jer(obj._cont[k], x)}
    if t in ("SEQUENCE OF", "SET OF") and isinstance(v, list):
        return [to_our_jer(obj._cont, x) for x in v]
    if t == "REAL":
        f = {"INF": math.inf, "-INF": -math.inf, "NaN": math.nan, "-0": -0.0}.get(v, v) if isinstance(v, str) else float(v)
        return x690_real_encode(f).hex()
    return v


def spec_criticalities(v):
    """Rewrites, in pycrate's JER of an E2AP-PDU, every criticality that the
    E2AP tables fix (procedure criticality, IE criticality in every
    ProtocolIE-Field / SingleContainer) to the table's value. Returns the
    rewritten JER and the list of (path, wire value, table value) changed.

    Why: the typed layer (E2apPdu) does not keep received criticalities; it
    re-encodes and shows the criticality of the IE tables (E2AP §9). Third-
    party PDUs (OSC e2sim, srsRAN) send e.g. `reject` where the table says
    `ignore`; the raw re-encode check still proves the codec read those bits.
    """
    changed = []

    def walk(obj, x, path):
        t = obj.TYPE
        if t in ("SEQUENCE", "SET") and isinstance(x, dict):
            out = dict(x)
            for k in x:
                comp = comp_of(obj, k)
                if comp is None:
                    continue
                if comp._const_tab is not None and comp._const_tab_at and comp.TYPE != "OPEN_TYPE":
                    e = open_entry(obj, k, x)
                    if e is not None and e.get(comp._const_tab_id) != x[k]:
                        changed.append(("%s.%s" % (path, k), x[k], e[comp._const_tab_id]))
                        out[k] = e[comp._const_tab_id]
                elif comp.TYPE == "OPEN_TYPE":
                    e = open_entry(obj, k, x)
                    typ = e.get(comp._const_tab_id) if e else None
                    if typ is not None:
                        out[k] = walk(typ, x[k], "%s.%s" % (path, k))
                else:
                    out[k] = walk(comp, x[k], "%s.%s" % (path, k))
            return out
        if t == "CHOICE" and isinstance(x, dict) and len(x) == 1:
            (k, y), = x.items()
            comp = comp_of(obj, k)
            return {k: walk(comp, y, "%s.%s" % (path, k))} if comp is not None else x
        if t in ("SEQUENCE OF", "SET OF") and isinstance(x, list):
            return [walk(obj._cont, y, "%s[%d]" % (path, i)) for i, y in enumerate(x)]
        return x

    return walk(PDU, v, ""), changed


def first_diff(a, b, path=""):
    """Path and values of the first difference between two JSON values, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                return (path + "." + k, "<absent>", b[k])
            if k not in b:
                return (path + "." + k, a[k], "<absent>")
            d = first_diff(a[k], b[k], path + "." + k)
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_diff(x, y, "%s[%d]" % (path, i))
            if d:
                return d
        if len(a) != len(b):
            return (path, "list of %d" % len(a), "list of %d" % len(b))
        return None
    if isinstance(a, bool) != isinstance(b, bool) or a != b:
        return (path or "<root>", a, b)
    return None


def first_val_diff(a, b, path=""):
    """Like first_diff, for pycrate Python values (dict/list/tuple/bytes)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return first_diff_map(a, b, path)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b) and type(a) is type(b):
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_val_diff(x, y, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    if a != b:
        return (path or "<root>", a, b)
    return None


def first_diff_map(a, b, path):
    for k in sorted(set(a) | set(b), key=str):
        if k not in a or k not in b:
            return (path + "." + str(k), a.get(k, "<absent>"), b.get(k, "<absent>"))
        d = first_val_diff(a[k], b[k], path + "." + str(k))
        if d:
            return d
    return None


def short(x, n=160):
    s = x if isinstance(x, str) else repr(x)
    return s if len(s) <= n else s[:n] + "...(%d chars)" % len(s)


# --------------------------------------------------------------------------- the bridge

class Bridge:
    def __init__(self, path):
        self.path = path
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen([self.path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1 << 20)  # stderr inherited: panics stay visible

    def call(self, req):
        try:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except OSError:  # BrokenPipeError included
            line = ""
        if not line:
            # The bridge died (it should not: it catches panics). Count it and go on.
            rc = self.proc.poll()
            self.start()
            return {"ok": False, "error": "bridge died (exit %r)" % rc}
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def build_bridge():
    if os.environ.get("E2AP_XCHECK"):
        return os.environ["E2AP_XCHECK"]
    cmd = ["cargo", "build", "--release", "-p", "qsafe-tests", "--bin", "e2ap-xcheck", "--message-format=json-render-diagnostics"]
    p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit("cargo build of e2ap-xcheck failed")
    for line in p.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") and msg["target"]["name"] == "e2ap-xcheck":
            return msg["executable"]
    sys.exit("cargo did not report the e2ap-xcheck executable")


# --------------------------------------------------------------------------- the checks

class Results:
    def __init__(self):
        self.rows = {}  # type -> [vectors, random, failures]
        self.failures = []
        self.passed = 0
        self.pycrate_inconsistent = {}  # (type, 'encoder'|'decoder') -> count (see check_random)

    def _count(self, typ, kind):
        row = self.rows.setdefault(typ, [0, 0, 0])
        row[1 if kind == "random" else 0] += 1  # vectors and fixed cases share the first column
        return row

    def ok(self, typ, kind):
        self._count(typ, kind)
        self.passed += 1

    def fail(self, typ, kind, case, check, detail, repro=None):
        self._count(typ, kind)[2] += 1
        self.failures.append({"type": typ, "kind": kind, "case": case, "check": check, "detail": detail, "repro": repro})


class Mismatch(Exception):
    """One failed check: which check, what differed, and a bridge request that reproduces it."""

    def __init__(self, check, detail, repro=None):
        super().__init__(check)
        self.check, self.detail, self.repro = check, detail, repro


class Codec:
    """What is compared: the whole E2AP-PDU, or one E2SM-KPM top-level type."""

    def __init__(self, obj, kpm_type=None):
        self.obj, self.kpm_type = obj, kpm_type

    def decode_req(self, data):
        if self.kpm_type:
            return {"op": "kpm-decode", "type": self.kpm_type, "hex": data.hex()}
        return {"op": "decode", "hex": data.hex()}

    def encode_req(self, pj):
        if self.kpm_type:
            return {"op": "kpm-encode", "type": self.kpm_type, "jer": to_our_jer(self.obj, pj)}
        return {"op": "encode", "jer": pj}

    def pycrate_decode(self, data):
        try:
            self.obj.from_aper(data)
            return self.obj.get_val()
        finally:
            # pycrate leaves its APER offset stack dirty after a decoding error
            del ASN1CodecPER._off[:]

    def pycrate_jer(self, val):
        self.obj.set_val(val)
        return json.loads(self.obj.to_jer())


def compare_jer(codec, ours, theirs, repro, what="JER equal"):
    d = first_diff(normalise(codec.obj, ours, "ours"), normalise(codec.obj, theirs, "pycrate"))
    if d:
        raise Mismatch(what, "at %s: ours %s, pycrate %s" % (d[0], short(d[1]), short(d[2])), repro)


def our_decode(br, codec, data, pj, typed_identity=True):
    """(i) ours decodes `data`: same JER as pycrate's `pj`, byte-identical re-encodings."""
    req = codec.decode_req(data)
    ans = br.call(req)
    if not ans.get("ok"):
        raise Mismatch("ours decodes", ans.get("error"), req)
    compare_jer(codec, ans["jer"], pj, req)
    if "raw_reencoded" in ans and ans["raw_reencoded"] != data.hex():
        raise Mismatch("raw re-encode byte-identical", "ours %s vs %s" % (short(ans["raw_reencoded"], 80), short(data.hex(), 80)), req)
    if typed_identity and ans["reencoded"] != data.hex():
        raise Mismatch("re-encode byte-identical", "ours %s vs %s" % (short(ans["reencoded"], 80), short(data.hex(), 80)), req)
    if ans.get("skipped"):
        raise Mismatch("nothing skipped", ans["skipped"], req)
    return ans


def our_encode(br, codec, pj):
    """Ours encodes pycrate's JER; returns the bytes."""
    req = codec.encode_req(pj)
    enc = br.call(req)
    if not enc.get("ok"):
        raise Mismatch("ours encodes pycrate's JER", enc.get("error"), req)
    return bytes.fromhex(enc["hex"])


def pycrate_reads(codec, ours, val, pj):
    """pycrate's decoder reads our bytes back as the original value."""
    try:
        back = codec.pycrate_decode(ours)
    except Exception as e:
        raise Mismatch("pycrate decodes our encoding", repr(e), codec.encode_req(pj))
    d = first_val_diff(back, val)
    if d:
        raise Mismatch("value after our encoding", "at %s: %s vs %s" % (d[0], short(d[1]), short(d[2])), codec.encode_req(pj))


def check_random(br, codec, typ, case, val, res, kind="random"):
    """One random value `val` (a pycrate value) through both directions:

    (i)  pycrate's APER bytes -> our decoder: JER equal, re-encodings byte-identical;
    (ii) pycrate's JER -> our encoder: the bytes equal pycrate's, and pycrate's
         decoder reads them back as `val`.

    pycrate 0.8.1 is not always consistent with itself (its decoder does not
    give `val` back from its own bytes). Known causes: it mis-pads SEQUENCE
    extension additions when the root part ends off an octet boundary (its
    encoder computes the open type's alignment before writing the extension
    bitmap), and it loses track of its alignment after a fragmented open type.
    For such values the arbiter is the agreement of the remaining three
    parties: our encoder's bytes must decode, in ours, to pycrate's JER of
    `val`, and must either equal pycrate's bytes (pycrate's decoder is the odd
    one out) or be read back as `val` by pycrate's decoder (pycrate's encoder
    is). They are counted in the "pycrate self-inconsistent" note."""
    try:
        codec.obj.set_val(val)
        data = codec.obj.to_aper()
        pj = json.loads(codec.obj.to_jer())
    except Exception as e:
        res.fail(typ, kind, case, "generator: pycrate encodes the value", repr(e))
        return
    try:
        self_ok = codec.pycrate_decode(data) == val
    except Exception:
        self_ok = False
    problems = []

    def attempt(fn, *a):
        try:
            return fn(*a)
        except Mismatch as m:
            problems.append(m)
            return None

    ours = attempt(our_encode, br, codec, pj)
    if self_ok:
        attempt(our_decode, br, codec, data, pj)
        if ours is not None:
            attempt(pycrate_reads, codec, ours, val, pj)
            if ours != data and not problems:
                problems.append(Mismatch("our encoding byte-identical with pycrate's",
                                         "ours %s vs %s" % (short(ours.hex(), 80), short(data.hex(), 80)), codec.encode_req(pj)))
    elif ours is not None:
        odd_one = "decoder" if ours == data else "encoder"
        res.pycrate_inconsistent[(typ, odd_one)] = res.pycrate_inconsistent.get((typ, odd_one), 0) + 1
        attempt(our_decode, br, codec, ours, pj)
        if ours != data:
            attempt(pycrate_reads, codec, ours, val, pj)
    if problems:
        m = problems[0]
        detail = m.detail if len(problems) == 1 else "%s; also %s" % (
            m.detail, "; ".join("%s: %s" % (p.check, short(str(p.detail), 200)) for p in problems[1:]))
        res.fail(typ, kind, case, " + ".join(p.check for p in problems), detail, m.repro)
        return
    res.ok(typ, kind)


def run_vectors(br, kpm, res, notes):
    tv = pathlib.Path(os.environ.get("QSAFE_TESTVECTORS") or (ROOT.parent / "shared" / "testvectors"))
    if not tv.is_dir():
        if os.environ.get("QSAFE_REQUIRE_SHARED") == "1":
            res.fail("vectors", "vector", str(tv), "test vectors present", "not found and QSAFE_REQUIRE_SHARED=1")
        else:
            notes.append("SKIPPED vectors: %s not found (set QSAFE_TESTVECTORS; QSAFE_REQUIRE_SHARED=1 makes this a failure)" % tv)
        return
    e2ap = Codec(PDU)
    for sub in ("e2ap", "e2ap-pycrate"):
        for path in sorted((tv / sub).glob("*.hex")):
            name = "%s/%s" % (sub, path.name)
            data = bytes.fromhex("".join(path.read_text().split()))
            try:
                val = e2ap.pycrate_decode(data)
                typ = val[1]["value"][0]
                pj = json.loads(PDU.to_jer())
            except Exception as e:
                res.fail("vectors", "vector", name, "pycrate decodes", repr(e))
                continue
            try:
                req = e2ap.decode_req(data)
                ans = br.call(req)
                if not ans.get("ok"):
                    raise Mismatch("ours decodes", ans.get("error"), req)
                # IEs the typed layer skipped (unknown id, criticality ignore/notify) are
                # reported in "skipped" instead of shown: drop exactly those from pycrate's view.
                skipped = {(s["id"], s["criticality"]) for s in ans["skipped"]}
                alt = next(iter(pj))
                ies = pj[alt]["value"]["protocolIEs"]
                removed = [ie["id"] for ie in ies if (ie["id"], ie["criticality"]) in skipped]
                pj[alt]["value"]["protocolIEs"] = [ie for ie in ies if (ie["id"], ie["criticality"]) not in skipped]
                pj, changed = spec_criticalities(pj)
                compare_jer(e2ap, ans["jer"], pj, req)
                if ans["raw_reencoded"] != data.hex():
                    raise Mismatch("raw re-encode byte-identical", "differs", req)
                if not changed and not removed and ans["reencoded"] != data.hex():
                    # a PDU that follows the IE tables: the typed re-encoding must reproduce it
                    raise Mismatch("typed re-encode byte-identical", "differs", req)
            except Mismatch as m:
                res.fail(typ, "vector", name, m.check, m.detail, m.repro)
                continue
            if changed:
                notes.append("%s: %d criticalities on the wire differ from the IE tables; the typed layer shows the "
                             "tables' (%s)" % (name, len(changed), ", ".join("%s %s->%s" % c for c in changed[:3])))
            if removed:
                notes.append("%s: unknown IE id(s) %s skipped by the typed layer and reported in `skipped`" % (name, removed))
            res.ok(typ, "vector")
    for path in sorted((tv / "e2sm-kpm-pycrate").glob("*.hex")):
        name = "e2sm-kpm-pycrate/" + path.name
        typ = next((t for p, t in KPM_VECTOR_PREFIX.items() if path.name.startswith(p)), None)
        if typ is None:
            res.fail("vectors", "vector", name, "known KPM type prefix", "no type for this file name")
            continue
        codec = Codec(kpm_obj(kpm, typ), typ)
        data = bytes.fromhex("".join(path.read_text().split()))
        try:
            val = codec.pycrate_decode(data)
            pj = codec.pycrate_jer(val)
        except Exception as e:
            res.fail(typ, "vector", name, "pycrate decodes", repr(e))
            continue
        try:
            our_decode(br, codec, data, pj)
        except Mismatch as m:
            res.fail(typ, "vector", name, m.check, m.detail, m.repro)
            continue
        res.ok(typ, "vector")


def run_random_e2ap(br, gen, res, count, only):
    procs = procedure_table()
    codec = Codec(PDU)
    for name, alt in MESSAGES:
        if only and name not in only:
            continue
        p_alt, code, crit = procs[name]
        assert p_alt == alt, (name, p_alt, alt)
        msg = getattr(E2AP.E2AP_PDU_Contents, name)
        for i in range(count):
            try:
                val = (alt, {"procedureCode": code, "criticality": crit, "value": (name, gen.value(msg))})
            except Exception as e:
                res.fail(name, "random", "%s #%d" % (name, i), "generator", repr(e))
                continue
            check_random(br, codec, name, "%s #%d" % (name, i), val, res)


def run_random_kpm(br, kpm, gen, res, count, only):
    for typ in KPM_TYPES:
        if only and typ not in only:
            continue
        codec = Codec(kpm_obj(kpm, typ), typ)
        for i in range(count):
            try:
                val = gen.value(codec.obj)
            except Exception as e:
                res.fail(typ, "random", "%s #%d" % (typ, i), "generator", repr(e))
                continue
            check_random(br, codec, typ, "%s #%d" % (typ, i), val, res)


# Zero-length strings whose SIZE is a range, X.691 (02/2021) 11.9.3.3: the
# length (constrained whole number) is the last thing added -- no padding, no
# contents. pycrate pads there (see Gen.string_size), so these fixed cases pin
# our encoding against bytes derived by hand from X.691 (they also agree with
# asn1tools 0.169). E2SM-KPM-IndicationHeader-Format1: preamble octet (three
# extension bits, four presence bits, one bit of padding before the fixed
# 8-octet colletStartTime), the 8 octets, then the strings.
EMPTY_STRING_CASES = [
    # senderType "" (ext bit + 4-bit length 0), vendorName "ab" (ext bit + 6-bit length,
    # padding, then the octet-aligned characters)
    ({"senderType": "", "vendorName": "ab"}, "06" + "00" * 8 + "0020" + "6162"),
    # fileFormatversion "" (5 bits), senderName "K" (ext bit, padding, 2-octet aligned length, "K")
    ({"fileFormatversion": "", "senderName": "K"}, "18" + "00" * 8 + "00" + "0001" + "4b"),
    # all four empty: 5 bits, 1 bit + padding + 2-octet length 0, 5 bits, 7 bits + padding
    ({"fileFormatversion": "", "senderName": "", "senderType": "", "vendorName": ""}, "1e" + "00" * 8 + "00" + "0000" + "0000"),
]


def run_empty_strings(br, res):
    typ, row = "E2SM-KPM-IndicationHeader", "X.691 11.9.3.3 empty strings"
    for i, (fields, expected) in enumerate(EMPTY_STRING_CASES):
        jer = {"indicationHeader-formats": {"indicationHeader-Format1": dict(fields, colletStartTime="00" * 8)}}
        case = "%s #%d %s" % (row, i, sorted(fields))
        enc = br.call({"op": "kpm-encode", "type": typ, "jer": jer})
        dec = br.call({"op": "kpm-decode", "type": typ, "hex": expected})
        if not enc.get("ok") or enc["hex"] != expected:
            res.fail(row, "vector", case, "ours encodes the X.691 bytes", "ours %s, X.691 %s" % (enc.get("hex", enc.get("error")), expected),
                     {"op": "kpm-encode", "type": typ, "jer": jer})
        elif not dec.get("ok") or dec["jer"] != jer or dec["reencoded"] != expected:
            res.fail(row, "vector", case, "ours decodes the X.691 bytes", dec.get("error") or dec.get("jer"),
                     {"op": "kpm-decode", "type": typ, "hex": expected})
        else:
            res.ok(row, "vector")


def run_kpm_bigint(br, kpm, res):
    """Unconstrained KPM INTEGERs beyond 64 bits (BinRangeValue.valueInt).

    APER must carry them: our decode and re-encode of pycrate's bytes is
    byte-identical. X.697 JER shows any INTEGER as a JSON number, but rasn
    0.30's JER stops at 64 bits (docs/rasn-bugs.md, bug 3): our JER view must
    then fail with that reason, not with something else and not silently.
    If rasn lifts the limit, the JER must equal pycrate's."""
    typ = "E2SM-KPM-ActionDefinition"
    codec = Codec(kpm_obj(kpm, typ), typ)
    row = "KPM INTEGER beyond 64 bits"
    for big in [2**64, -2**63 - 1, 2**100 + 7]:
        case = "KPM INTEGER %d" % big
        val = {"ric-Style-Type": 1, "actionDefinition-formats": ("actionDefinition-Format1", {
            "measInfoList": [{"measType": ("measID", 1), "labelInfoList": [{"measLabel": {"noLabel": "true"}}]}],
            "granulPeriod": 1000,
            "distMeasBinRangeInfo": [{"measType": ("measID", 2), "binRangeDef": {
                "binRangeListX": [{"binIndex": 1, "startValue": ("valueInt", big), "endValue": ("valueInt", -big)}]}}]})}
        codec.obj.set_val(val)
        data = codec.obj.to_aper()
        pj = json.loads(codec.obj.to_jer())
        req = {"op": "kpm-decode", "type": typ, "hex": data.hex()}
        dec = br.call(req)
        if not dec.get("ok"):
            res.fail(row, "fixed", case, "ours decodes pycrate's APER", dec.get("error"), req)
        elif dec["reencoded"] != data.hex():
            res.fail(row, "fixed", case, "APER re-encode byte-identical", dec["reencoded"], req)
        elif dec["jer"] is None and "integer range" not in dec.get("jer_error", ""):
            res.fail(row, "fixed", case, "JER fails only for the documented 64-bit limit", dec.get("jer_error"), req)
        elif dec["jer"] is not None and normalise(codec.obj, dec["jer"], "ours") != normalise(codec.obj, pj, "pycrate"):
            res.fail(row, "fixed", case, "JER equals pycrate's", dec["jer"], req)
        else:
            res.ok(row, "fixed")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=20261124)
    ap.add_argument("--count", type=int, default=200, help="random values per type (default 200)")
    ap.add_argument("--only", action="append", help="restrict random checks to this ASN.1 type name (repeatable)")
    ap.add_argument("--no-vectors", action="store_true")
    ap.add_argument("--show", type=int, default=8, help="failures printed (default 8)")
    ap.add_argument("--failures-out", help="write every failure, with a bridge request reproducing it, as JSON lines")
    args = ap.parse_args()

    t0 = time.time()
    bridge_path = build_bridge()
    t_build = time.time() - t0
    br = Bridge(bridge_path)
    res = Results()
    notes = []
    with tempfile.TemporaryDirectory(prefix="qsafe-xcheck-") as tmp:
        kpm = load_kpm(tmp)
        t1 = time.time()
        if not args.no_vectors:
            run_vectors(br, kpm, res, notes)
        t2 = time.time()
        gen = Gen(random.Random(args.seed))
        run_random_e2ap(br, gen, res, args.count, args.only)
        t3 = time.time()
        run_random_kpm(br, kpm, gen, res, args.count, args.only)
        if not args.only:
            run_empty_strings(br, res)
            run_kpm_bigint(br, kpm, res)
        t4 = time.time()
    br.close()

    print("pycrate cross-check: seed %d, %d random values per type, bridge %s" % (args.seed, args.count, bridge_path))
    for n in notes:
        print("note: " + n)
    if gen.large:
        print("note: %d RICindication values carried a 16..70 KiB RICindicationMessage (sizes %s)" % (
            len(gen.large), ", ".join(str(n) for n in sorted(gen.large))))
    if res.pycrate_inconsistent:
        print("note: values pycrate cannot decode from its own bytes, judged by the other three parties "
              "(see check_random): %s" % ", ".join("%s %d (pycrate %s)" % (t, n, k) for (t, k), n in sorted(res.pycrate_inconsistent.items())))
    order = [m for m, _ in MESSAGES] + KPM_TYPES
    rows = order + sorted(set(res.rows) - set(order))
    w = max([len(k) for k in res.rows] + [10])
    print("%-*s %8s %8s %9s" % (w, "type", "vectors", "random", "failures"))  # "vectors" includes fixed cases
    for typ in rows:
        if typ in res.rows:
            print("%-*s %8d %8d %9d" % ((w, typ) + tuple(res.rows[typ])))
    if res.failures:
        # one failure of each (type, check) first, then the rest in order
        seen, distinct, rest = set(), [], []
        for f in res.failures:
            key = (f["type"], f["check"])
            (rest if key in seen else distinct).append(f)
            seen.add(key)
        shown = (distinct + rest)[: args.show]
        print("\n%d of %d failures (one per type and check first):" % (len(shown), len(res.failures)))
        for f in shown:
            print("- [%s] %s: %s: %s" % (f["type"], f["case"], f["check"], short(str(f["detail"]), 400)))
            if f["repro"]:
                print("    reproduce: echo '%s' | e2ap-xcheck" % short(json.dumps(f["repro"]), 300))
        if args.failures_out:
            with open(args.failures_out, "w") as fh:
                for f in res.failures:
                    fh.write(json.dumps(f, default=repr) + "\n")
            print("all failures written to %s" % args.failures_out)
    print("timing: build %.1fs, vectors %.1fs, random E2AP %.1fs, random KPM %.1fs, total %.1fs" % (
        t_build, t2 - t1, t3 - t2, t4 - t3, time.time() - t0))
    print("%d passed, %d failed" % (res.passed, len(res.failures)))
    return 1 if res.failures else 0


if __name__ == "__main__":
    sys.exit(main())
