#!/usr/bin/env bash
# The main job on embedded defaults. Today: (1) the E2AP/E2SM-KPM codec
# walking through one E2 session's PDUs; (2) the key plane of one E2 link: a
# qsafe-kme KME pair, ETSI 014 enc_keys/dec_keys over ML-DSA-65 +
# X25519MLKEM768 mutual TLS, ML-KEM-768 and the hybrid combiner giving both
# ends the same ESP keys; (3) the rApp: its PQC CA issuing an E2 node's
# ML-DSA-65 certificate, and a quantum-readiness scan (table + CycloneDX CBOM)
# of three reference TLS servers. It grows into the full xApp + rApp demo as
# the components land.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo not found: install Rust >= 1.85 (rustup) first" >&2; exit 1; }
echo "== building (release)"
cargo build --release --quiet -p qsafe-tools --bin qsafe-e2ap
cargo build --release --quiet -p qsafe-kme --example key_plane_demo
cargo build --release --quiet -p qsafe-rapp --bin qsafe-rapp
cargo build --release --quiet -p qsafe-scan --example pqc_tls_server
echo "== qsafe-e2ap demo"
target/release/qsafe-e2ap demo
echo
echo "== the key plane of one E2 link (kme/examples/key_plane_demo.rs)"
target/release/examples/key_plane_demo

echo
echo "== the rApp: PQC CA and quantum-readiness scan (qsafe-rapp ca / scan)"
RAPP=target/release/qsafe-rapp
DEMO="$(mktemp -d)"
SERVERS=()
cleanup() {
  for pid in "${SERVERS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$DEMO"
}
trap cleanup EXIT
export QSAFE_CA_DIR="$DEMO/ca" QSAFE_CA_PASSPHRASE="demo passphrase, not for production"
echo "\$ qsafe-rapp ca init"
"$RAPP" ca init
echo "\$ qsafe-rapp ca issue --profile e2-node --cn gnb-1 --dns gnb-1.ran.example ..."
"$RAPP" ca issue --profile e2-node --cn gnb-1 --dns gnb-1.ran.example \
  --out-cert "$DEMO/gnb-1.pem" --out-key "$DEMO/gnb-1.key"
echo "\$ qsafe-rapp ca show"
"$RAPP" ca show
# three reference servers (full PQC, hybrid key exchange, classical) on loopback ports; not
# started in $(...), so their pids reach SERVERS and the cleanup stops them
TARGETS=()
for mode in full-pqc hybrid classical; do
  out="$DEMO/server-$mode.out" deadline=$((SECONDS + 30))
  target/release/examples/pqc_tls_server --mode "$mode" --port 0 >"$out" 2>"$DEMO/server-$mode.err" &
  SERVERS+=("$!")
  until grep -q '^listening on ' "$out" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "demo: the $mode server did not start" >&2; cat "$DEMO/server-$mode.err" >&2; exit 1; }
    sleep 0.1 # polling for the readiness line
  done
  TARGETS+=("$(awk '/^listening on /{print $NF; exit}' "$out")")
done
echo "\$ qsafe-rapp scan ${TARGETS[*]}"
"$RAPP" scan --quiet "${TARGETS[@]}"
"$RAPP" scan --quiet --format cbom --output "$DEMO/cbom.json" "${TARGETS[@]}"
echo "CycloneDX 1.6 CBOM: $(grep -c '"bom-ref"' "$DEMO/cbom.json") components, $(wc -c <"$DEMO/cbom.json") bytes (qsafe-rapp scan --format cbom)"
