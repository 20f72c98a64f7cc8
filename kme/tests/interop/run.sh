#!/usr/bin/env bash
# Interop of qsafe-kme with independent ETSI GS QKD 014 clients from PyPI
# (etsi-qkd-014-client, qkdsec) and curl. Builds qsafe-kme, writes a demo
# PKI, starts the KME pair on free loopback ports, runs etsi014_python.py,
# stops the KME. Exits non-zero on any mismatch.
#
#   kme/tests/interop/run.sh [extra etsi014_python.py flags]
#
# Environment:
#   PYTHON        interpreter with requirements.txt installed
#                 (default: target/pyenv/bin/python, created and filled if missing)
#   QSAFE_KME_BIN a prebuilt qsafe-kme (default: cargo build, then target/debug/qsafe-kme)
#
# Why ECDSA P-256 certificates here: Python's ssl module (and curl) use the
# system OpenSSL, 3.0 on Debian 12, which verifies neither ML-DSA
# certificates nor CertificateVerify signatures (OpenSSL >= 3.5 does). The
# KMEs still offer X25519MLKEM768 first; a client without ML-KEM negotiates
# X25519, which the script prints from the server's metrics. The ML-DSA +
# X25519MLKEM768 path is covered by the Rust integration tests
# (kme/tests/api.rs) against rustls.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
HERE="$ROOT/kme/tests/interop"
cd "$ROOT"

PYTHON="${PYTHON:-$ROOT/target/pyenv/bin/python}"
if [ ! -x "$PYTHON" ]; then
  echo "[interop] creating venv $ROOT/target/pyenv"
  python3 -m venv "$ROOT/target/pyenv"
  PYTHON="$ROOT/target/pyenv/bin/python"
fi
if ! "$PYTHON" -c 'import etsi_qkd_014_client, qkdsec.client, qkdsec.doctor' 2>/dev/null; then
  echo "[interop] pip install -r kme/tests/interop/requirements.txt"
  "$PYTHON" -m pip install -q -r "$HERE/requirements.txt"
fi
command -v curl >/dev/null || { echo "[interop] curl is required" >&2; exit 1; }

if [ -z "${QSAFE_KME_BIN:-}" ]; then
  echo "[interop] cargo build -p qsafe-kme --bin qsafe-kme"
  cargo build -q -p qsafe-kme --bin qsafe-kme
  QSAFE_KME_BIN="$ROOT/target/debug/qsafe-kme"
fi

WORK="$(mktemp -d)"
KME_PID=""
cleanup() {
  if [ -n "$KME_PID" ] && kill -0 "$KME_PID" 2>/dev/null; then
    kill -TERM "$KME_PID" 2>/dev/null || true
    wait "$KME_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$QSAFE_KME_BIN" demo-pki --out "$WORK/pki" --algorithm ecdsa-p256 --sae ric-xapp,e2node-1,intruder

mkfifo "$WORK/ready"
RUST_LOG="${RUST_LOG:-warn}" "$QSAFE_KME_BIN" serve --pki-dir "$WORK/pki" \
  --listen-a 127.0.0.1:0 --listen-b 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
  --initial-key-count 1000 >"$WORK/ready" &
KME_PID=$!

# The ready line carries the ports the kernel picked (a blocking read on the
# fifo, bounded by a timeout, not a sleep).
READY=""
exec 3<"$WORK/ready"
while IFS= read -r -t 60 line <&3; do
  echo "[qsafe-kme] $line"
  case "$line" in "qsafe-kme: ready "*) READY="$line"; break ;; esac
done
[ -n "$READY" ] || { echo "[interop] qsafe-kme did not report ready" >&2; exit 1; }
# Keep draining stdout so the server never blocks on a full pipe.
cat <&3 >/dev/null &

port_of() { sed -E "s/.*$1=[a-z]+:\/\/127\.0\.0\.1:([0-9]+).*/\1/" <<<"$READY"; }
KME_A="https://localhost:$(port_of kme-a)"
KME_B="https://localhost:$(port_of kme-b)"
ADMIN="http://127.0.0.1:$(port_of admin)"
echo "[interop] KME A $KME_A, KME B $KME_B, admin $ADMIN"

"$PYTHON" "$HERE/etsi014_python.py" --kme-a "$KME_A" --kme-b "$KME_B" --admin "$ADMIN" --pki "$WORK/pki" "$@"
