#!/usr/bin/env bash
# Independent conformance check of the CA with pyca/cryptography >= 50 (see pyca_ca_check.py).
# Needs `python` on PATH with cryptography >= 50 (the repo's venv: target/pyenv/bin).
set -euo pipefail
cd "$(dirname "$0")/../../.."
python -c 'import cryptography, sys; v = tuple(int(x) for x in cryptography.__version__.split(".")[:2]); sys.exit(0 if v >= (50, 0) else "cryptography >= 50 required, found " + cryptography.__version__)'
cargo build -q -p qsafe-rapp --bin qsafe-rapp
target_dir="$(cargo metadata --format-version 1 --no-deps | python -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
python ca/tests/conformance/pyca_ca_check.py --rapp "$target_dir/debug/qsafe-rapp"
