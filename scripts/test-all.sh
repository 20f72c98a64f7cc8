#!/usr/bin/env bash
# Runs every test tier of qsafe-ran, installing what is missing first.
#
#   scripts/test-all.sh            # everything
#   QSAFE_FUZZ_SECONDS=0 scripts/test-all.sh   # skip the fuzz smoke run
#
# Tiers (each prints a "== " header; a failure stops the run):
#   1. prerequisites: Debian packages (apt-get) and a Python venv with pycrate
#   2. cargo fmt --check and cargo clippy -D warnings
#   3. cargo test --workspace (unit, integration, doc tests; E2AP/KPM test
#      vectors from ../shared/testvectors — required when CI=true)
#   4. independent implementations: pycrate (E2AP/KPM APER), pyca/cryptography
#      (X.509, ML-DSA, ML-KEM; the rApp CA's hierarchy and CRL), tlslite-ng (a
#      TLS 1.3 X25519MLKEM768 server the scanner classifies), cyclonedx-python-lib
#      (the scanner's CBOM against the CycloneDX 1.6 schema), Python ETSI GS QKD
#      014 clients and curl
#   5. kernel tier: real kernel SCTP (and later ESP) in user-mode Linux,
#      tests/kernel/run.sh (installs user-mode-linux, kmod, iproute2)
#   6. cargo-fuzz smoke run of every fuzz target
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
stage_pass=0
CURRENT_STAGE="start"
stage() {
  CURRENT_STAGE="$*"
  echo
  echo "== $*"
  # CI: the disk left (the workspace's targets are large; a full disk fails builds)
  if [ -n "${CI:-}" ]; then df -h "$ROOT" | awk 'NR == 2 {print "   (disk: " $4 " free of " $2 ")"}'; fi
}
ok() { stage_pass=$((stage_pass + 1)); }
# The last line names the stage that failed (CI logs are long).
trap 'rc=$?; if [ $rc -ne 0 ]; then echo; echo "== test-all: FAILED (exit $rc) in stage: $CURRENT_STAGE"; fi' EXIT
# Smaller targets: no incremental caches in CI (they are never reused there).
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

stage "prerequisites"
if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust >= 1.85 (rustup) first; Debian's packaged Rust is too old" >&2
  exit 1
fi
echo "rust: $(rustc --version)"
# shellcheck source=lib/need-apt.sh
source "$ROOT/scripts/lib/need-apt.sh"
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt python3 python3-venv python3-pip
VENV="$ROOT/target/pyenv"
if [ ! -x "$VENV/bin/python" ]; then
  echo "python venv: creating $VENV"
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import pycrate_asn1dir, cryptography, qkdsec, etsi_qkd_014_client, requests, tlslite, kyber_py, cyclonedx, jsonschema' 2>/dev/null; then
  echo "pip install -r tests/requirements.txt (into $VENV)"
  "$VENV/bin/pip" install -q -r tests/requirements.txt
fi
export PATH="$VENV/bin:$PATH"
echo "python: $(python --version); $(python -c 'import importlib.metadata as m; print(", ".join(p + " " + m.version(p) for p in ("pycrate", "cryptography", "etsi-qkd-014-client", "qkdsec", "tlslite-ng", "cyclonedx-python-lib")))')"
# liboqs (qsafe-pqc's optional `oqs` backend) builds with cmake and bindgen
# (libclang); curl is one of the independent ETSI 014 clients.
need_apt cmake libclang-dev curl
# spin (+ a C compiler) model-checks the rekey protocol; tcpdump captures the
# veth in the kernel tier (ESP on the wire, no cleartext SCTP).
need_apt spin gcc tcpdump
export QSAFE_REQUIRE_SPIN=1
# nats-server (JetStream): the events and durable-state tests start their own
# servers on free ports (the package's systemd unit is not used).
need_apt nats-server
export QSAFE_REQUIRE_NATS=1
# the scanner's CBOM test validates with cyclonedx-python-lib from the venv
export QSAFE_REQUIRE_CYCLONEDX=1 QSAFE_PYTHON="$VENV/bin/python"
if [ -n "${CI:-}" ]; then export QSAFE_REQUIRE_SHARED=1; fi
if [ -d "$ROOT/../shared/testvectors" ]; then
  echo "test vectors: $ROOT/../shared/testvectors"
else
  echo "test vectors: ../shared/testvectors not present (vector tests will say SKIPPED unless QSAFE_REQUIRE_SHARED=1)"
fi
ok

stage "format and lints: cargo fmt --check; cargo clippy --workspace --all-targets -D warnings"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo clippy -p qsafe-pqc --features oqs --all-targets --quiet -- -D warnings
ok

stage "unit, integration and doc tests: cargo test --workspace; qsafe-pqc with the liboqs backend"
cargo test --workspace
cargo test -p qsafe-pqc --features oqs
ok

stage "independent codec cross-check: pycrate vs qsafe-asn1 (E2AP, E2SM-KPM, E2SM-QKD)"
python tests/conformance/pycrate_xcheck.py
python tests/conformance/e2sm_qkd_xcheck.py
ok

stage "model check: spin on the rekey protocol (rekey/model)"
rekey/model/check.sh
ok

stage "independent PQC stack: pyca/cryptography (OpenSSL) vs qsafe-pqc certificates, ML-DSA, ML-KEM"
cargo run -q -p qsafe-pqc --example pqc_conformance -- write target/pqc-conformance
python pqc/tests/conformance/pyca_check.py target/pqc-conformance
ok

stage "rApp PKI and scanner vs independent stacks: pyca/cryptography (CA, CRL, cross-signed root), tlslite-ng (TLS 1.3 X25519MLKEM768 peer), cyclonedx-python-lib (CBOM 1.6 schema)"
ca/tests/conformance/run.sh
scan/tests/conformance/run.sh
ok

stage "independent ETSI 014 clients: etsi-qkd-014-client, qkdsec (doctor), curl vs the KME model and qsafe-kme"
cargo test -q -p qsafe-qkd --test conformance -- --ignored
kme/tests/interop/run.sh
ok

stage "kernel tier: user-mode Linux with kernel SCTP (tests/kernel/run.sh)"
tests/kernel/run.sh
ok

FUZZ_SECONDS="${QSAFE_FUZZ_SECONDS:-15}"
if [ "$FUZZ_SECONDS" != 0 ]; then
  stage "fuzz smoke run: ${FUZZ_SECONDS}s per target"
  scripts/fuzz.sh "$FUZZ_SECONDS"
  ok
fi

echo
echo "stages: ${stage_pass} passed, 0 failed"
