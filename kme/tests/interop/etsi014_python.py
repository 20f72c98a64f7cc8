#!/usr/bin/env python3
"""Interop of qsafe-kme with two independent ETSI GS QKD 014 clients from PyPI.

Clients (see requirements.txt):
  * etsi-qkd-014-client 0.9.0 (LIP6, `QKD014Client`), requests-based;
  * qkdsec 0.3.0 (`ETSI014Client` and its conformance probe `qkdsec.doctor`).
The other side of every comparison is curl (libcurl + OpenSSL), so no key
byte is checked by code we wrote against code we wrote.

Scenario (master SAE at site A, slave SAE at site B, mutual TLS everywhere):
  1. status at both KMEs via both Python clients: all spec fields present,
     with the right KME IDs, SAE IDs and limits;
  2. Python enc_keys at KME A (GET and POST forms, both clients), curl
     dec_keys at KME B: same bytes under the same key_IDs;
  3. curl enc_keys at KME A, Python dec_keys at KME B (both clients): same;
  4. spec answers seen through the Python clients: 400 with the spec's
     message on a second dec_keys and on size=100, 401 for an SAE that is not
     the slave, 503 during an injected fault burst;
  5. qkdsec's conformance probe against KME A, with the outcome of every
     probe pinned (two probes disagree with the spec; see README).

Exits non-zero on any mismatch. Run by run.sh, which starts qsafe-kme.
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import urllib.request

import requests
from etsi_qkd_014_client import QKD014Client
from qkdsec.client import ETSI014Client
from qkdsec.client.errors import KMEHTTPError
from qkdsec.doctor import format_text, run_all

FAILURES = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        FAILURES.append(what)


class Sae:
    """One SAE's credentials: PEM files of the demo PKI."""

    def __init__(self, pki, sae_id):
        self.id = sae_id
        self.cert = os.path.join(pki, f"sae-{sae_id}.pem")
        self.key = os.path.join(pki, f"sae-{sae_id}.key")
        self.ca = os.path.join(pki, "ca.pem")

    def qkdsec(self, url):
        return ETSI014Client(url, client_cert=(self.cert, self.key), verify=self.ca, timeout=10)

    def lip6(self, url):
        return QKD014Client(url.removeprefix("https://"), self.cert, self.key, self.ca)

    def curl(self, method, url, body=None):
        cmd = ["curl", "-sS", "--fail-with-body", "--cacert", self.ca, "--cert", self.cert, "--key", self.key,
               "-X", method, url]
        if body is not None:
            cmd += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise RuntimeError(f"curl {method} {url}: exit {out.returncode}: {out.stderr} {out.stdout}")
        return json.loads(out.stdout)


def keys_of(container):
    """{key_ID: raw bytes} of a JSON key container (from curl)."""
    return {k["key_ID"]: base64.b64decode(k["key"]) for k in container["keys"]}


def check_status(name, st, source, target, master, slave):
    check(
        (st["source_KME_ID"], st["target_KME_ID"], st["master_SAE_ID"], st["slave_SAE_ID"])
        == (source, target, master, slave),
        f"{name}: status IDs {st['source_KME_ID']}->{st['target_KME_ID']}, {st['master_SAE_ID']}->{st['slave_SAE_ID']}",
    )
    check((st["key_size"], st["max_key_size"], st["min_key_size"], st["max_key_per_request"]) == (256, 1024, 64, 128),
          f"{name}: status limits key_size={st['key_size']} min/max={st['min_key_size']}/{st['max_key_size']}"
          f" per_request={st['max_key_per_request']}")
    check(isinstance(st["stored_key_count"], int) and st["stored_key_count"] > 0,
          f"{name}: stored_key_count={st['stored_key_count']}")
    check(st["max_SAE_ID_count"] == 0 and st["max_key_count"] > 0,
          f"{name}: max_SAE_ID_count={st['max_SAE_ID_count']} max_key_count={st['max_key_count']}")


def main():
    sys.stdout.reconfigure(line_buffering=True)  # interleave with stderr in CI logs
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kme-a", required=True, help="https://localhost:PORT of KME A")
    ap.add_argument("--kme-b", required=True, help="https://localhost:PORT of KME B")
    ap.add_argument("--admin", required=True, help="http://127.0.0.1:PORT of the admin listener")
    ap.add_argument("--pki", required=True, help="demo PKI directory (qsafe-kme demo-pki)")
    ap.add_argument("--kme-ids", default="kme-a,kme-b")
    ap.add_argument("--master", default="ric-xapp")
    ap.add_argument("--slave", default="e2node-1")
    ap.add_argument("--intruder", default="intruder")
    a = ap.parse_args()
    kme_a_id, kme_b_id = a.kme_ids.split(",")
    master, slave, intruder = Sae(a.pki, a.master), Sae(a.pki, a.slave), Sae(a.pki, a.intruder)
    enc_a = f"{a.kme_a}/api/v1/keys/{slave.id}/enc_keys"
    dec_b = f"{a.kme_b}/api/v1/keys/{master.id}/dec_keys"

    print("== 1. status through both Python clients")
    st = master.qkdsec(a.kme_a).status(slave.id)
    check_status("qkdsec @A", vars(st) | {
        "source_KME_ID": st.source_kme_id, "target_KME_ID": st.target_kme_id, "master_SAE_ID": st.master_sae_id,
        "slave_SAE_ID": st.slave_sae_id, "max_SAE_ID_count": st.max_sae_id_count}, kme_a_id, kme_b_id, master.id, slave.id)
    code, data = master.lip6(a.kme_a).get_status(slave.id)
    check(code == 200, f"LIP6 @A: status HTTP {code}")
    check_status("LIP6 @A", {
        "source_KME_ID": data.source_kme_id, "target_KME_ID": data.target_kme_id, "master_SAE_ID": data.master_sae_id,
        "slave_SAE_ID": data.slave_sae_id, "key_size": data.key_size, "stored_key_count": data.stored_key_count,
        "max_key_count": data.max_key_count, "max_key_per_request": data.max_key_per_request,
        "max_key_size": data.max_key_size, "min_key_size": data.min_key_size,
        "max_SAE_ID_count": data.max_sae_id_count}, kme_a_id, kme_b_id, master.id, slave.id)
    code, data = slave.lip6(a.kme_b).get_status(master.id)
    check(code == 200 and data.source_kme_id == kme_b_id and data.master_sae_id == slave.id,
          f"LIP6 @B: status HTTP {code}, source {data.source_kme_id}, master {data.master_sae_id}")

    print("== 2. Python enc_keys at KME A, curl dec_keys at KME B")
    py_keys = {}
    q = master.qkdsec(a.kme_a)
    for k in q.get_enc_keys(slave.id, number=2, size=256, method="GET"):
        py_keys[k.key_id] = k.key
    for k in q.get_enc_keys(slave.id, number=2, size=512, method="POST",
                            extension_optional=[{"qkdsec_interop": True}]):
        check(len(k.key) == 64, f"qkdsec POST size=512: {len(k.key) * 8}-bit key")
        py_keys[k.key_id] = k.key
    code, data = master.lip6(a.kme_a).get_key(slave.id, number=3, size=128)  # POST form
    check(code == 200 and len(data.keys) == 3, f"LIP6 enc_keys POST number=3: HTTP {code}")
    for k in data.keys:
        py_keys[k.key_id] = base64.b64decode(k.key)
    code, data = master.lip6(a.kme_a).get_key(slave.id)  # GET form, server defaults
    check(code == 200 and len(data.keys) == 1, f"LIP6 enc_keys GET (defaults): HTTP {code}")
    for k in data.keys:
        check(len(base64.b64decode(k.key)) == 32, "LIP6 GET: default key_size 256 bits")
        py_keys[k.key_id] = base64.b64decode(k.key)
    check(len(py_keys) == 8, f"8 distinct key_IDs from the Python clients ({len(py_keys)})")
    curl_keys = keys_of(slave.curl("POST", dec_b, {"key_IDs": [{"key_ID": i} for i in py_keys]}))
    check(curl_keys == py_keys, f"curl dec_keys at B returns the Python clients' {len(py_keys)} keys byte for byte")

    print("== 3. curl enc_keys at KME A, Python dec_keys at KME B")
    issued = keys_of(master.curl("POST", enc_a, {"number": 4, "size": 256}))
    ids = list(issued)
    got = {k.key_id: k.key for k in slave.qkdsec(a.kme_b).get_dec_keys(master.id, key_ids=ids[:2])}
    check(got == {i: issued[i] for i in ids[:2]}, "qkdsec dec_keys at B matches curl's enc_keys bytes")
    code, data = slave.lip6(a.kme_b).get_key_with_key_IDs(master.id, ids[2:])
    got = {k.key_id: base64.b64decode(k.key) for k in data.keys} if code == 200 else {}
    check(code == 200 and got == {i: issued[i] for i in ids[2:]},
          f"LIP6 dec_keys at B matches curl's enc_keys bytes (HTTP {code})")

    print("== 4. spec error answers through the Python clients")
    try:
        slave.qkdsec(a.kme_b).get_dec_keys(master.id, key_ids=ids[:1])
        check(False, "second dec_keys of the same key must fail")
    except KMEHTTPError as e:
        check(e.status_code == 400 and e.message == "one or more keys specified are not found on KME",
              f"second dec_keys: HTTP {e.status_code} {e.message!r}")
    try:
        master.qkdsec(a.kme_a).get_enc_keys(slave.id, number=1, size=100)
        check(False, "size=100 must fail")
    except KMEHTTPError as e:
        check(e.status_code == 400 and e.message == "size shall be a multiple of 8",
              f"size=100: HTTP {e.status_code} {e.message!r}")
    code, data = master.lip6(a.kme_a).get_key(slave.id, number=1, size=100)
    check(code == 400 and data.message == "size shall be a multiple of 8", f"LIP6 size=100: HTTP {code}")
    fresh = keys_of(master.curl("GET", enc_a))
    try:
        intruder.qkdsec(a.kme_b).get_dec_keys(master.id, key_ids=list(fresh))
        check(False, "dec_keys by an SAE that is not the slave must fail")
    except KMEHTTPError as e:
        check(e.status_code == 401 and e.message == "", f"not the slave: HTTP {e.status_code}, empty body")
    # The LIP6 client calls response.json() on every non-200 answer, so a
    # spec-conformant 401 (no body) makes it raise; record that, do not hide it.
    try:
        code, _ = intruder.lip6(a.kme_b).get_key_with_key_IDs(master.id, list(fresh))
        check(code == 401, f"LIP6 not the slave: HTTP {code}")
    except requests.exceptions.JSONDecodeError:
        print("note  LIP6 client raises JSONDecodeError on the spec's body-less 401 (client limitation)")
    urllib.request.urlopen(urllib.request.Request(f"{a.admin}/admin/fail?count=1", method="POST"), timeout=10).read()
    try:
        master.qkdsec(a.kme_a).status(slave.id)
        check(False, "injected 503 must fail")
    except KMEHTTPError as e:
        check(e.status_code == 503 and "unavailable" in e.message, f"injected fault: HTTP {e.status_code} {e.message!r}")
    check(master.qkdsec(a.kme_a).status(slave.id).source_kme_id == kme_a_id, "served again after the burst")

    print("== 5. qkdsec doctor (conformance probe) against KME A")
    report = run_all(master.qkdsec(a.kme_a), slave.id)
    outcome = {r.name: r.status.value for r in report.results}
    expected = {
        "reachability": "pass",
        "status_fields": "pass",
        "enc_keys_get": "pass",
        "enc_keys_post": "pass",
        "enc_keys_caps": "pass",
        "extensions_accepted": "pass",
        # The probe fetches dec_keys from the *same* KME with the slave's ID in
        # the path; ETSI 014 pairs enc_keys at the master's KME with dec_keys
        # at the slave's KME naming the master (sections 5.3/5.4). Our step 2/3
        # above is the spec's round trip, and it passes.
        "dec_keys_roundtrip": "fail",
        # The probe expects 404 for an unknown key_ID; ETSI 014 section 5.4
        # says 400 "one or more keys specified are not found on KME".
        "error_contract_404": "warn",
        "error_contract_400": "pass",
        "latency": "pass",
    }
    # The probe's own report, with the expected non-passes marked as such
    # (a bare "FAIL" there is a known deviation of the probe, not ours; CI
    # log readers search for FAIL).
    text = format_text(report)
    for name, want in expected.items():
        if want != "pass" and outcome.get(name) == want:
            text = text.replace(f"{want.upper()}  {name}", f"{want}* {name}")
    print(text)
    print("  (* expected: the probe's known deviation, see etsi014_python.py)")
    for name, want in expected.items():
        check(outcome.get(name) == want, f"doctor probe {name}: {outcome.get(name)} (expected {want})")

    metrics = urllib.request.urlopen(f"{a.admin}/metrics", timeout=10).read().decode()
    groups = sorted(line for line in metrics.splitlines() if line.startswith("qsafe_kme_tls_handshakes_total"))
    print("TLS key exchange groups negotiated (server side):")
    for g in groups:
        print("  " + g)

    print()
    if FAILURES:
        print(f"{len(FAILURES)} check(s) FAILED:")
        for f in FAILURES:
            print("  " + f)
        return 1
    print("all interop checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
