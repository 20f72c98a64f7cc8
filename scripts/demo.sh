#!/usr/bin/env bash
# The main job on embedded defaults. Today: (1) the E2AP/E2SM-KPM codec
# walking through one E2 session's PDUs; (2) the key plane of one E2 link: a
# qsafe-kme KME pair, ETSI 014 enc_keys/dec_keys over ML-DSA-65 +
# X25519MLKEM768 mutual TLS, ML-KEM-768 and the hybrid combiner giving both
# ends the same ESP keys. It grows into the full xApp + rApp demo as the
# components land.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo not found: install Rust >= 1.85 (rustup) first" >&2; exit 1; }
echo "== building (release)"
cargo build --release --quiet -p qsafe-tools --bin qsafe-e2ap
cargo build --release --quiet -p qsafe-kme --example key_plane_demo
echo "== qsafe-e2ap demo"
target/release/qsafe-e2ap demo
echo
echo "== the key plane of one E2 link (kme/examples/key_plane_demo.rs)"
target/release/examples/key_plane_demo
