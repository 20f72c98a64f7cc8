#!/usr/bin/env bash
# Runs the project's cargo-fuzz targets for a fixed time each.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
#   SECONDS_PER_TARGET  default 60
#   TARGET              CRATE_DIR:TARGET (e.g. asn1:e2ap_pdu_decode, e2:sctp_wire)
#                       or a bare target name; default: every target of every
#                       fuzz crate (each */fuzz/ directory: asn1, e2, qkd, ...)
#
# Each target starts from its committed seeds (<crate>/fuzz/seeds/<target>/)
# and past findings (<crate>/fuzz/regressions/<target>/), both read-only, plus
# a scratch corpus (<crate>/fuzz/corpus/<target>/, git-ignored, kept between
# runs so coverage accumulates). A regression input that still fails makes
# the run fail at once. Exits non-zero as soon as a target crashes, panics,
# fails an assertion, times out or runs out of memory, and prints the
# reproducer path under <crate>/fuzz/artifacts/<target>/.
#
# Environment:
#   FUZZ_SANITIZER  sanitizer for cargo fuzz (default: address; "none" is ~2x faster)
#   FUZZ_ARGS       extra libFuzzer flags, e.g. "-max_len=20000"
#   FUZZ_FEATURES   cargo features of the fuzz crates, e.g. "skip-known-bugs"
#                   (asn1: skip inputs of already reported, still unfixed bugs)
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
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Every "crate:target" pair: the [[bin]] names of each */fuzz/Cargo.toml.
all_targets() {
    local toml crate
    for toml in "$ROOT"/*/fuzz/Cargo.toml; do
        crate="$(basename "$(dirname "$(dirname "$toml")")")"
        sed -n '/^\[\[bin\]\]/,/^name/ s/^name *= *"\(.*\)"/\1/p' "$toml" | sed "s/^/$crate:/"
    done
}
mapfile -t ALL < <(all_targets)
TARGETS=()
if [ $# -eq 0 ]; then
    TARGETS=("${ALL[@]}")
else
    for want in "$@"; do
        found=""
        for t in "${ALL[@]}"; do
            if [ "$t" = "$want" ] || [ "${t#*:}" = "$want" ]; then TARGETS+=("$t"); found=1; fi
        done
        [ -n "$found" ] || { echo "no fuzz target $want; known: ${ALL[*]}" >&2; exit 2; }
    done
fi
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
flags_for() { # CRATE -> BUILD_FLAGS
    # One target directory for every fuzz crate: they share most dependencies
    # (rasn, rustls, aws-lc), which then build once.
    BUILD_FLAGS=(--fuzz-dir "$ROOT/$1/fuzz" --target-dir "$ROOT/target/fuzz" --debug-assertions --sanitizer "$SANITIZER")
    if [ -n "${FUZZ_FEATURES:-}" ] && grep -q "^\[features\]" "$ROOT/$1/fuzz/Cargo.toml"; then
        BUILD_FLAGS+=(--features "$FUZZ_FEATURES")
    fi
}

say "building targets: ${TARGETS[*]}"
for ct in "${TARGETS[@]}"; do
    flags_for "${ct%%:*}"
    cargo fuzz build "${BUILD_FLAGS[@]}" "${ct#*:}"
done

LOG_DIR="$(mktemp -d -t qsafe-fuzz.XXXXXX)"

status=0
for ct in "${TARGETS[@]}"; do
    crate="${ct%%:*}" t="${ct#*:}"
    FUZZ_DIR="$ROOT/$crate/fuzz"
    flags_for "$crate"
    corpus="$FUZZ_DIR/corpus/$t"
    mkdir -p "$corpus"
    inputs=("$corpus")
    for extra in seeds regressions; do
        if [ -d "$FUZZ_DIR/$extra/$t" ]; then
            inputs+=("$FUZZ_DIR/$extra/$t")
        elif [ "$extra" = seeds ]; then
            say "warning: no seed directory $crate/fuzz/seeds/$t (regenerate: cargo run --manifest-path $crate/fuzz/Cargo.toml --example make_seeds)"
        fi
    done
    say "running $ct for ${SECS}s (inputs: ${inputs[*]#"$ROOT"/})"
    log="$LOG_DIR/$crate-$t.log"
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
        say "FAILED: $ct exited with status $rc"
        # The panic message / sanitizer report, then the failing input.
        grep -E -A3 'panicked at|ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)' "$log" | head -n 24 | sed 's/^/    /'
        grep -E -A3 '^MS: [0-9]+ ' "$log" | tail -n 4 | sed 's/^/    /'
        say "full libFuzzer output: $log"
        if [ -n "$artifact" ]; then
            say "reproducer: $artifact"
            say "  replay:   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir $crate/fuzz -a $t $artifact"
            say "  minimise: RUSTC_BOOTSTRAP=1 cargo fuzz tmin --fuzz-dir $crate/fuzz -a $t $artifact"
        fi
        break
    fi
    say "$ct: ok ($(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 | sed -E 's/[[:space:]]+/ /g'))"
done

if [ "$status" -eq 0 ]; then
    rm -rf "$LOG_DIR"
    say "all targets ran ${SECS}s without a crash"
fi
exit "$status"
