#!/usr/bin/env bash
# Conformance run of the quantum-readiness scanner against independent and reference peers:
#
#   * tlslite-ng (pure Python TLS 1.3 with x25519mlkem768), in `hybrid` and `classical` modes,
#     and a `legacy` TLS 1.0-1.2 one (the raw legacy-version probes);
#   * rustls reference servers (scan/examples/pqc_tls_server.rs): full-pqc, hybrid, classical.
#
# Scans all six with `qsafe-rapp scan` (JSON and CycloneDX CBOM), asserts the
# classifications, and validates the CBOM with cbom_check.py.
#
#   PATH=/work/main/target/pyenv/bin:$PATH bash scan/tests/conformance/run.sh
#
# Needs `python` with tlslite-ng 0.8.2, kyber-py, cryptography and cyclonedx-python-lib.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
HERE="$ROOT/scan/tests/conformance"
cd "$ROOT"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

python -c 'import tlslite' || { echo "run.sh: python has no tlslite-ng (use the project venv)" >&2; exit 1; }

cargo build -q -p qsafe-rapp
cargo build -q -p qsafe-scan --example pqc_tls_server
RAPP="$ROOT/target/debug/qsafe-rapp"
SERVER="$ROOT/target/debug/examples/pqc_tls_server"

# start NAME PATTERN CMD...: starts CMD with stdout in $WORK/NAME.out, waits (max 30 s) until a
# line matches PATTERN (the server's readiness line) and sets STARTED to that line's last word.
# Not called in $(...): the server's pid must reach PIDS in this shell, or cleanup cannot stop it.
start() {
    local name="$1" pattern="$2"
    shift 2
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    local pid="$!" deadline=$((SECONDS + 30))
    PIDS+=("$pid")
    until grep -q "$pattern" "$WORK/$name.out" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "run.sh: $name exited before it was ready:" >&2
            cat "$WORK/$name.err" >&2
            exit 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "run.sh: $name not ready after 30 s" >&2
            exit 1
        fi
        sleep 0.1 # polling the readiness line, not waiting blindly
    done
    STARTED="$(grep "$pattern" "$WORK/$name.out" | head -n1 | awk '{print $NF}')"
}

start tlslite-hybrid '^ready ' python "$HERE/tlslite_server.py" --mode hybrid
TL_HYBRID="127.0.0.1:$STARTED"
start tlslite-classical '^ready ' python "$HERE/tlslite_server.py" --mode classical
TL_CLASSICAL="127.0.0.1:$STARTED"
start tlslite-legacy '^ready ' python "$HERE/tlslite_server.py" --mode legacy
TL_LEGACY="127.0.0.1:$STARTED"
start rustls-full-pqc '^listening on ' "$SERVER" --mode full-pqc --port 0
RS_PQC="$STARTED"
start rustls-hybrid '^listening on ' "$SERVER" --mode hybrid --port 0
RS_HYBRID="$STARTED"
start rustls-classical '^listening on ' "$SERVER" --mode classical --port 0
RS_CLASSICAL="$STARTED"
echo "run.sh: peers: tlslite hybrid $TL_HYBRID, classical $TL_CLASSICAL, legacy $TL_LEGACY," \
    "rustls full-pqc $RS_PQC, hybrid $RS_HYBRID, classical $RS_CLASSICAL"

TARGETS=("$TL_HYBRID" "$TL_CLASSICAL" "$RS_PQC" "$RS_HYBRID" "$RS_CLASSICAL" "$TL_LEGACY")
cargo run -q -p qsafe-rapp -- scan "${TARGETS[@]}" --timeout 15 --quiet --format json --output "$WORK/scan.json"
cargo run -q -p qsafe-rapp -- scan "${TARGETS[@]}" --timeout 15 --quiet --format cbom --output "$WORK/scan.cbom.json"
"$RAPP" scan "${TARGETS[@]}" --timeout 15 --quiet

python - "$WORK/scan.json" "${TARGETS[@]}" <<'PY'
import json, sys

report = json.load(open(sys.argv[1]))
tl_h, tl_c, rs_pqc, rs_h, rs_c, tl_l = sys.argv[2:8]
eps = {f"{e['target']['host']}:{e['target']['port']}": e for e in report["endpoints"]}
failures = []
passed = 0

def check(cond, what):
    global passed
    print(("ok   " if cond else "FAIL ") + what)
    if cond:
        passed += 1
    else:
        failures.append(what)

def probe(e, offered):
    return next(p for p in e["group_probes"] if p["offered"] == offered)

def group(e):
    n = e.get("negotiated") or {}
    return (n.get("group") or {}).get("name")

e = eps[tl_h]
check(e["classification"] == "hybrid_key_exchange_only", f"tlslite hybrid -> hybrid_key_exchange_only ({e['classification']})")
check(group(e) == "X25519MLKEM768", f"tlslite hybrid negotiated X25519MLKEM768 ({group(e)})")
check(probe(e, "x25519_mlkem768_only")["accepted"], "tlslite hybrid accepts the X25519MLKEM768-only offer")
check(probe(e, "classical_only")["accepted"], "tlslite hybrid also accepts classical-only (downgradeable)")
print(f"info tlslite hybrid HRR probe: {e['hello_retry']}")

e = eps[tl_c]
check(e["classification"] == "quantum_vulnerable", f"tlslite classical -> quantum_vulnerable ({e['classification']})")
check(not probe(e, "x25519_mlkem768_only")["accepted"], "tlslite classical refuses X25519MLKEM768-only")

e = eps[rs_pqc]
check(e["classification"] == "full_pqc", f"rustls full-pqc -> full_pqc ({e['classification']})")
check(e["negotiated"]["signature_scheme"]["name"] == "mldsa65", "rustls full-pqc signs with mldsa65")
e = eps[rs_h]
check(e["classification"] == "hybrid_key_exchange_only", f"rustls hybrid -> hybrid_key_exchange_only ({e['classification']})")
e = eps[rs_c]
check(e["classification"] == "quantum_vulnerable", f"rustls classical -> quantum_vulnerable ({e['classification']})")

e = eps[tl_l]
check(e["classification"] == "quantum_vulnerable", f"tlslite legacy -> quantum_vulnerable ({e['classification']})")
check(e["tls_versions"] == ["TLSv1.2", "TLSv1.1", "TLSv1.0"], f"tlslite legacy versions 1.2/1.1/1.0 ({e['tls_versions']})")
check(any("TLSv1.0 accepted" in n for n in e["notes"]), "tlslite legacy: TLS 1.0 noted")
for key in (tl_h, tl_c, rs_pqc, rs_h, rs_c):
    check("TLSv1.0" not in eps[key]["tls_versions"], f"{key}: no TLS 1.0")

cbom_path = sys.argv[1].replace("scan.json", "scan.cbom.json")
cbom = json.load(open(cbom_path))
check(cbom.get("bomFormat") == "CycloneDX" and cbom.get("specVersion") == "1.6", "CBOM is CycloneDX 1.6")
names = json.dumps(cbom)
check("X25519MLKEM768" in names and "ML-DSA" in names, "CBOM names X25519MLKEM768 and ML-DSA")
print(f"conformance: {passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
PY

python "$HERE/cbom_check.py" "$WORK/scan.cbom.json"
echo "run.sh: conformance OK"
