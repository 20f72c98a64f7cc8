#!/usr/bin/env bash
# The main job on embedded defaults. Today: the E2AP/E2SM-KPM codec walking
# through one E2 session's PDUs. It grows into the full xApp + rApp demo as
# the components land.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo not found: install Rust >= 1.85 (rustup) first" >&2; exit 1; }
echo "== building (release)"
cargo build --release --quiet -p qsafe-tools --bin qsafe-e2ap
echo "== qsafe-e2ap demo"
target/release/qsafe-e2ap demo
