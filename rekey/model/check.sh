#!/usr/bin/env bash
# Model-checks rekey/model/rekey.pml with spin (see the header of the model for the
# properties). Fails on any error; also checks that the deliberately broken variants
# (-DBROKEN_EARLY_DELETE, -DNO_BOOTSTRAP_REPAIR) are caught. Needs spin and a C compiler.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cc="${CC:-cc}"

run() { # name, spin defines, cc defines, pan flags, expect (pass|fail)
  local name="$1" sdefs="$2" cdefs="$3" flags="$4" expect="$5"
  mkdir -p "$work/$name"
  cp "$here/rekey.pml" "$work/$name/"
  (
    cd "$work/$name"
    # shellcheck disable=SC2086
    spin -a $sdefs rekey.pml >spin.log 2>&1 || { cat spin.log; exit 2; }
    # shellcheck disable=SC2086
    "$cc" -O2 -w $cdefs -o pan pan.c
    # shellcheck disable=SC2086
    ./pan $flags >pan.log 2>&1 || true
  )
  local log="$work/$name/pan.log"
  local errors states
  errors="$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$log" | tail -1)"
  states="$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$log" | tail -1)"
  if [ -z "$errors" ]; then
    echo "FAIL $name: pan did not finish"; cat "$log"; return 1
  fi
  if grep -q "search not completed\|max search depth too small" "$log"; then
    echo "FAIL $name: search incomplete"; grep -E "depth|completed" "$log"; return 1
  fi
  if [ "$expect" = pass ]; then
    if [ "$errors" != 0 ]; then
      echo "FAIL $name: $errors error(s)"; grep -E "violated|error" "$log"
      (cd "$work/$name" && spin -t -p rekey.pml | tail -40) || true
      return 1
    fi
    echo "ok   $name: $states states, 0 errors"
  else
    if [ "$errors" = 0 ]; then
      echo "FAIL $name: the broken variant was NOT caught"; return 1
    fi
    echo "ok   $name: counterexample found as required ($(grep -m1 -o 'assertion violated.*' "$log"), depth $(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$log"))"
    (cd "$work/$name" && spin -t $2 rekey.pml 2>/dev/null | grep -E "assertion|violated" | head -3) || true
  fi
}

# Safety: P1-P4 and invalid end states; 1 retransmission, up to 2 losses (so giving up is
# explored too), 3 epochs, up to 2 data packets in flight per direction.
run safety "-DR=1 -DLOSSMAX=2" "-DSAFETY -DNOCLAIM -DCOLLAPSE" "-m100000" pass
# Liveness: <> ric_finished under weak fairness (acceptance cycles).
run liveness "-DR=1 -DLOSSMAX=1" "-DCOLLAPSE -DNFAIR=3" "-m200000 -a -f" pass
# Mutation: the node deletes its old inbound SA at ack, without evidence.
run broken-early-delete "-DR=1 -DLOSSMAX=2 -DBROKEN_EARLY_DELETE" "-DSAFETY -DNOCLAIM" "-m100000" fail
# Mutation: no late adoption and no bootstrap fallback (a lost or late bootstrap outcome left
# the node requiring ESP while the RIC still sent in clear: found in the kernel tier).
run no-bootstrap-repair "-DR=1 -DLOSSMAX=2 -DNO_BOOTSTRAP_REPAIR" "-DSAFETY -DNOCLAIM" "-m100000" fail
