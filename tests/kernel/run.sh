#!/usr/bin/env bash
# tests/kernel/run.sh — the user-mode-Linux (UML) test tier: real kernel SCTP
# (and later ESP/XFRM) on a machine whose own kernel has neither.
#
#   tests/kernel/run.sh                 # every case in tests/kernel/cases/
#   tests/kernel/run.sh 20 ipv6         # cases whose file name contains "20" or "ipv6"
#   tests/kernel/run.sh --list          # list cases
#
# Environment:
#   QSAFE_UML_MEM=512M          guest memory
#   QSAFE_UML_TIMEOUT=<s>       whole-guest watchdog (default: sum of case timeouts + 90)
#   QSAFE_UML_MODULES="..."     modules loaded in the guest (default below)
#   QSAFE_KERNEL_RUNDIR=<dir>   where run directories go (default target/kernel-tier)
#   QSAFE_*                     every QSAFE_ variable is passed on to the guest's cases
#
# What it does: installs what is missing (apt-get: user-mode-linux kmod
# iproute2 python3), builds what the selected cases declare in their
# "# needs:" lines (cargo build --release), writes a per-run init script,
# boots the UML kernel with the host filesystem as its root, lets
# tests/kernel/guest.sh run the cases in two fresh network namespaces each,
# then reads the results the guest wrote into the run directory, prints every
# case's output, and ends with "N passed, M failed". Exit status: 0 only if
# every selected case passed and the guest reported completion.
# See tests/kernel/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CASES_DIR="$HERE/cases"
MODULES=${QSAFE_UML_MODULES:-"sctp veth xfrm_user esp4 esp6 gcm"}
MEM=${QSAFE_UML_MEM:-512M}

say() { echo "kernel-tier: $*"; }
die() { echo "kernel-tier: error: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

# ---------------------------------------------------------------- cases
mapfile -t ALL < <(find "$CASES_DIR" -maxdepth 1 -name '*.sh' | sort)
[ ${#ALL[@]} -gt 0 ] || die "no cases in $CASES_DIR"
if [ "${1:-}" = "--list" ]; then
  for f in "${ALL[@]}"; do
    printf '%-28s %s\n' "$(basename "$f" .sh)" "$(sed -n 's/^DESCRIPTION="\(.*\)"$/\1/p' "$f")"
  done
  exit 0
fi
CASES=()
if [ $# -eq 0 ]; then
  CASES=("${ALL[@]}")
else
  for f in "${ALL[@]}"; do
    for pat in "$@"; do
      if [[ "$(basename "$f")" == *"$pat"* ]]; then CASES+=("$f"); break; fi
    done
  done
  [ ${#CASES[@]} -gt 0 ] || die "no case matches: $*"
fi

# ---------------------------------------------------------------- prerequisites
# shellcheck source=../../scripts/lib/need-apt.sh
source "$ROOT/scripts/lib/need-apt.sh"
need_apt user-mode-linux kmod iproute2 python3
command -v linux.uml >/dev/null || die "linux.uml not found after installing user-mode-linux"
UML_VER=$(linux.uml --version 2>/dev/null | head -n1 || true)
[ -d "/usr/lib/uml/modules/$UML_VER" ] || die "no modules for UML $UML_VER in /usr/lib/uml/modules"
say "UML kernel $UML_VER ($(command -v linux.uml)); cases: ${#CASES[@]}"

# ---------------------------------------------------------------- run directory
# Not under /tmp: the guest mounts a tmpfs there.
RUNS=${QSAFE_KERNEL_RUNDIR:-$ROOT/target/kernel-tier}
mkdir -p "$RUNS"
RUN=$(mktemp -d "$RUNS/run-$(date +%Y%m%d-%H%M%S)-XXXX")
mkdir -p "$RUN/results" "$RUN/bin"
ln -sfn "$RUN" "$RUNS/latest"
# Keep the 10 newest run directories.
find "$RUNS" -maxdepth 1 -name 'run-*' -type d -printf '%T@ %p\n' | sort -rn | tail -n +11 | cut -d' ' -f2- |
  while IFS= read -r old; do rm -rf -- "$old"; done
say "run directory: $RUN"

# ---------------------------------------------------------------- build
# Each case lists what it needs:  "# needs: example|test|bin <package> <name>".
# Build each package's needs in one cargo call and link the executables into
# $RUN/bin under their target names (test binaries carry a hash suffix).
declare -A BY_PKG=()
while read -r _ _ kind pkg name _; do
  case "$kind" in example | test | bin) ;; *) die "bad needs line: $kind $pkg $name" ;; esac
  BY_PKG[$pkg]+=" --$kind $name"
done < <(grep -h '^# needs:' "${CASES[@]}" | sort -u)
for pkg in "${!BY_PKG[@]}"; do
  # shellcheck disable=SC2086
  say "cargo build --release -p $pkg${BY_PKG[$pkg]}"
  t0=$SECONDS
  # shellcheck disable=SC2086
  (cd "$ROOT" && cargo build --release --message-format=json-render-diagnostics -p "$pkg" ${BY_PKG[$pkg]}) \
    > "$RUN/build-$pkg.json" || die "cargo build failed for $pkg"
  python3 - "$RUN/build-$pkg.json" "$RUN/bin" <<'PY' || die "could not find the built executables"
import json, os, sys
out = sys.argv[2]
for line in open(sys.argv[1]):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        dst = os.path.join(out, m["target"]["name"])
        if os.path.lexists(dst):
            os.remove(dst)
        os.symlink(m["executable"], dst)
PY
  say "built in $((SECONDS - t0)) s: $(cd "$RUN/bin" && ls | tr '\n' ' ')"
done

# ---------------------------------------------------------------- init script
case_timeouts=0
for f in "${CASES[@]}"; do
  t=$(sed -n 's/^TIMEOUT=\([0-9]*\).*/\1/p' "$f" | head -n1)
  case_timeouts=$((case_timeouts + ${t:-60} + 10))
done
WATCHDOG=${QSAFE_UML_TIMEOUT:-$((case_timeouts + 90))}

{
  echo '#!/bin/sh'
  echo "# Generated by tests/kernel/run.sh for this run: the guest's init (PID 1)."
  echo "# It must never exit (that panics the guest): it always ends in poweroff -f."
  printf 'QSAFE_REPO=%q\nQSAFE_RUN=%q\nQSAFE_BIN=%q\nQSAFE_MODULES=%q\n' "$ROOT" "$RUN" "$RUN/bin" "$MODULES"
  printf 'QSAFE_CASES=%q\n' "${CASES[*]}"
  echo 'export QSAFE_REPO QSAFE_RUN QSAFE_BIN QSAFE_MODULES QSAFE_CASES'
  # Pass the caller's other QSAFE_* settings on to the cases.
  while IFS='=' read -r k _; do
    case "$k" in QSAFE_REPO | QSAFE_RUN | QSAFE_BIN | QSAFE_MODULES | QSAFE_CASES | "") ;;
      QSAFE_*) printf 'export %s=%q\n' "$k" "${!k}" ;; esac
  done < <(env | grep '^QSAFE_' || true)
  echo "/bin/sh $(printf '%q' "$HERE/guest.sh")"
  echo 'sync'
  echo 'poweroff -f'
} > "$RUN/init.sh"
chmod 755 "$RUN/init.sh"

# ---------------------------------------------------------------- boot
# con0 is the console (our stdout); con=null silences the other consoles.
# The guest's progress lines start with "[kt] "; the full console is in
# console.log. The watchdog kills the whole UML process group (setsid) if the
# guest has not powered off in time.
say "booting UML (mem=$MEM, watchdog ${WATCHDOG} s)"
t_boot=$SECONDS
setsid linux.uml mem="$MEM" rootfstype=hostfs rootflags=/ rw init="$RUN/init.sh" \
  con=null con0=fd:0,fd:1 < /dev/null > "$RUN/console.log" 2>&1 &
uml=$!
tail -n +1 -F --pid=$uml "$RUN/console.log" 2>/dev/null | sed -un 's/\r$//; s/^\[kt\] /  guest: /p' &
tailer=$!
timed_out=""
while kill -0 $uml 2>/dev/null; do
  if [ $((SECONDS - t_boot)) -ge "$WATCHDOG" ]; then
    timed_out=1
    say "watchdog: guest still running after ${WATCHDOG} s; killing it"
    kill -TERM -- -$uml 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 $uml 2>/dev/null || break; sleep 1; done
    kill -KILL -- -$uml 2>/dev/null || true
    break
  fi
  sleep 0.5
done
uml_rc=0
wait $uml || uml_rc=$?
wait $tailer 2>/dev/null || true
say "guest ran $((SECONDS - t_boot)) s (linux.uml exit $uml_rc)"

# ---------------------------------------------------------------- results
passed=0
failed=0
metrics=()
for f in "${CASES[@]}"; do
  name=$(basename "$f" .sh)
  status_file="$RUN/results/$name.status"
  echo
  echo "=== $name"
  if [ -f "$RUN/results/$name.log" ]; then sed 's/^/    /' "$RUN/results/$name.log"; fi
  if [ -f "$status_file" ] && [ "$(cut -d' ' -f1 < "$status_file")" = PASS ]; then
    passed=$((passed + 1))
    echo "=== PASS $name ($(cut -d' ' -f2 < "$status_file"))"
  else
    failed=$((failed + 1))
    if [ -f "$status_file" ]; then
      echo "=== FAIL $name: $(cut -d' ' -f2- < "$status_file")"
    else
      echo "=== FAIL $name: no result (the guest did not run it or did not report)"
    fi
  fi
  if [ -f "$RUN/results/$name.log" ]; then
    while IFS= read -r m; do metrics+=("$name: ${m#METRIC }"); done < <(grep -h '^METRIC ' "$RUN/results/$name.log" || true)
  fi
done

echo
if [ -f "$RUN/results/SETUP_FAILED" ]; then
  say "guest setup failed: $(cat "$RUN/results/SETUP_FAILED")"
fi
if [ ! -f "$RUN/results/DONE" ]; then
  [ -n "$timed_out" ] && say "the guest was killed by the watchdog"
  say "the guest never reported completion; last console lines:"
  tr -d '\r' < "$RUN/console.log" | tail -n 25 | sed 's/^/    /'
  # A missing report is a failure even if every case that reported passed.
  [ "$failed" -gt 0 ] || failed=1
fi
for m in "${metrics[@]}"; do say "metric $m"; done
say "results in $RUN"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
