#!/usr/bin/env bash
# Runs the qsafe-asn1 cargo-fuzz targets (asn1/fuzz/) for a fixed time each.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
#   SECONDS_PER_TARGET  default 60
#   TARGET              default: every target (e2ap_pdu_decode kpm_decode real_decode)
#
# Each target starts from its committed seeds (asn1/fuzz/seeds/<target>/) and
# past findings (asn1/fuzz/regressions/<target>/), both read-only, plus a
# scratch corpus (asn1/fuzz/corpus/<target>/, git-ignored, kept between runs
# so coverage accumulates). A regression input that still fails makes the
# run fail at once. Exits non-zero as soon as a
# target crashes, panics, fails an assertion, times out or runs out of
# memory, and prints the reproducer path under asn1/fuzz/artifacts/<target>/.
#
# Environment:
#   FUZZ_SANITIZER  sanitizer for cargo fuzz (default: address; "none" is ~2x faster)
#   FUZZ_ARGS       extra libFuzzer flags, e.g. "-max_len=20000"
#   FUZZ_FEATURES   cargo features of the fuzz crate, e.g. "skip-known-bugs"
#                   (skip inputs of already reported, still unfixed bugs)
#
# cargo-fuzz needs nightly-only rustc flags (-Z sanitizer, coverage passes).
# Only stable Rust is installed here, so RUSTC_BOOTSTRAP=1 unlocks them.
set -euo pipefail

SECS="${1:-60}"
shift || true
if ! [[ "$SECS" =~ ^[0-9]+$ ]] || [ "$SECS" -lt 1 ]; then
    echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(e2ap_pdu_decode kpm_decode real_decode)
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ_DIR="$ROOT/asn1/fuzz"
SANITIZER="${FUZZ_SANITIZER:-address}"
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_PROGRESS_WHEN=never

say() { printf '[fuzz] %s\n' "$*"; }

if ! cargo fuzz --version >/dev/null 2>&1; then
    say "cargo-fuzz not found: installing it (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked
fi
say "$(cargo fuzz --version), $(rustc --version), sanitizer=$SANITIZER, debug assertions on"

# Same build flags for build and run, so `run` does not rebuild.
BUILD_FLAGS=(--fuzz-dir "$FUZZ_DIR" --debug-assertions --sanitizer "$SANITIZER")
if [ -n "${FUZZ_FEATURES:-}" ]; then
    BUILD_FLAGS+=(--features "$FUZZ_FEATURES")
    say "fuzz crate features: $FUZZ_FEATURES"
fi

say "building targets: ${TARGETS[*]}"
for t in "${TARGETS[@]}"; do
    cargo fuzz build "${BUILD_FLAGS[@]}" "$t"
done

LOG_DIR="$(mktemp -d -t qsafe-fuzz.XXXXXX)"

status=0
for t in "${TARGETS[@]}"; do
    corpus="$FUZZ_DIR/corpus/$t"
    mkdir -p "$corpus"
    inputs=("$corpus")
    for extra in seeds regressions; do
        if [ -d "$FUZZ_DIR/$extra/$t" ]; then
            inputs+=("$FUZZ_DIR/$extra/$t")
        elif [ "$extra" = seeds ]; then
            say "warning: no seed directory asn1/fuzz/seeds/$t (regenerate: cargo run --manifest-path asn1/fuzz/Cargo.toml --example make_seeds)"
        fi
    done
    say "running $t for ${SECS}s (inputs: ${inputs[*]#"$ROOT"/})"
    log="$LOG_DIR/$t.log"
    set +e
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    cargo fuzz run "${BUILD_FLAGS[@]}" "$t" "${inputs[@]}" -- \
        -max_total_time="$SECS" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
        ${FUZZ_ARGS:-} 2>&1 | tee "$log" | grep -E --line-buffered '^#[0-9]+[[:space:]]+(INITED|DONE|pulse)|^stat::|ERROR|panicked|Test unit written|^Done'
    rc=${PIPESTATUS[0]}
    set -e
    if [ "$rc" -ne 0 ]; then
        status=1
        artifact="$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -1 | sed 's/^Test unit written to //')"
        say "FAILED: $t exited with status $rc"
        # The panic message / sanitizer report, then the failing input.
        grep -E -A3 'panicked at|ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)' "$log" | head -n 24 | sed 's/^/    /'
        grep -E -A3 '^MS: [0-9]+ ' "$log" | tail -n 4 | sed 's/^/    /'
        say "full libFuzzer output: $log"
        if [ -n "$artifact" ]; then
            say "reproducer: $artifact"
            say "  replay:   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir asn1/fuzz -a $t $artifact"
            say "  minimise: RUSTC_BOOTSTRAP=1 cargo fuzz tmin --fuzz-dir asn1/fuzz -a $t $artifact"
        fi
        break
    fi
    say "$t: ok ($(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 | sed -E 's/[[:space:]]+/ /g'))"
done

if [ "$status" -eq 0 ]; then
    rm -rf "$LOG_DIR"
    say "all targets ran ${SECS}s without a crash"
fi
exit "$status"
