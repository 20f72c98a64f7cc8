#!/usr/bin/env bash
# E2AP codec benchmark: criterion (qsafe-asn1) then pycrate on the same PDUs,
# printed side by side with the ratio. Both run in this one invocation so the
# ratio compares numbers from the same machine state.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import pycrate_asn1dir' 2>/dev/null || { echo "== pip install pycrate"; pip install -q pycrate; }
echo "== criterion: cargo bench -p qsafe-asn1 --bench e2ap"
cargo bench -p qsafe-asn1 --bench e2ap -- "$@"
echo "== pycrate on the same PDUs"
python3 tests/conformance/pycrate_bench.py
