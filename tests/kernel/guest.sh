#!/bin/sh
# tests/kernel/guest.sh — runs INSIDE the user-mode-Linux guest, started by the
# per-run init script that tests/kernel/run.sh writes. Do not run it on a host.
#
# The guest's root filesystem is the host's (hostfs): every write outside the
# tmpfs mounts below lands on the host disk. So this script writes only to
# $QSAFE_RESULTS (the run directory the host prepared), /run and /tmp (tmpfs).
#
# Input (environment, set by the init script):
#   QSAFE_REPO     the workspace root
#   QSAFE_RUN      the run directory (host path, visible through hostfs)
#   QSAFE_BIN      directory of the binaries the host built for the cases
#   QSAFE_CASES    space-separated case files to run, in order
#   QSAFE_MODULES  kernel modules to load
# Output: $QSAFE_RUN/results/<case>.status ("PASS" or "FAIL <why>"),
#   <case>.log (everything the case printed), and DONE (written last) or
#   SETUP_FAILED. Progress lines on the console start with "[kt] ".
#
# POSIX sh (dash): no bashisms.

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
RES="$QSAFE_RUN/results"

say() { echo "[kt] $*"; }

setup_failed() {
    say "SETUP FAILED: $*"
    echo "$*" > "$RES/SETUP_FAILED"
    sync
    exit 1
}

# now_ms: milliseconds since the epoch (dash arithmetic is 64-bit).
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ---------------------------------------------------------------- base system
mount -t proc proc /proc || setup_failed "mount /proc"
mount -t sysfs sysfs /sys || setup_failed "mount /sys"
mount -t tmpfs -o mode=755 run /run || setup_failed "mount /run"
# A tmpfs on /tmp hides the host's /tmp: skip it when the workspace or the run
# directory live there (the guest then shares the host's /tmp, harmlessly).
case "$QSAFE_REPO/ $QSAFE_RUN/" in
    /tmp/*) say "workspace under /tmp: keeping the host's /tmp" ;;
    *) mount -t tmpfs -o mode=1777 tmp /tmp || setup_failed "mount /tmp" ;;
esac

# ---------------------------------------------------------------- modules
# The UML kernel's modules are in /usr/lib/uml/modules/<ver>, but modprobe
# looks in /lib/modules/<ver>, which the host may not have, and creating it
# would write to the host disk. So: bind the module tree under a tmpfs root
# and run modprobe with -d <that root>, also for the kernel's own
# request_module() (crypto templates, etc.) via /proc/sys/kernel/modprobe.
KVER=$(uname -r)
MODSRC=/usr/lib/uml/modules/$KVER
MODROOT=/run/qsafe-modroot
[ -d "$MODSRC" ] || setup_failed "no UML modules at $MODSRC (package user-mode-linux)"
mkdir -p "$MODROOT/lib/modules/$KVER" || setup_failed "mkdir $MODROOT"
mount --bind "$MODSRC" "$MODROOT/lib/modules/$KVER" || setup_failed "bind-mount $MODSRC"
cat > /run/qsafe-modprobe <<EOF
#!/bin/sh
exec /sbin/modprobe -d $MODROOT "\$@"
EOF
chmod 755 /run/qsafe-modprobe
echo /run/qsafe-modprobe > /proc/sys/kernel/modprobe
for m in $QSAFE_MODULES; do
    /run/qsafe-modprobe "$m" || setup_failed "modprobe $m"
done
say "kernel $KVER up; modules: $QSAFE_MODULES"

# ---------------------------------------------------------------- topology
# Two network namespaces joined by a veth pair, fresh for every case:
#   netns a: va 10.99.0.1/24 fd00:99::1/64  <->  netns b: vb 10.99.0.2/24 fd00:99::2/64
A4=10.99.0.1
B4=10.99.0.2
A6=fd00:99::1
B6=fd00:99::2
export A4 B4 A6 B6

topo_up() {
    ip netns add a && ip netns add b &&
        ip link add va netns a type veth peer name vb netns b &&
        ip -n a addr add $A4/24 dev va && ip -n b addr add $B4/24 dev vb &&
        ip -n a addr add $A6/64 dev va nodad && ip -n b addr add $B6/64 dev vb nodad &&
        ip -n a link set lo up && ip -n b link set lo up &&
        ip -n a link set va up && ip -n b link set vb up || return 1
    # SCTP signs its state cookie with md5 by default, per namespace; "none"
    # avoids depending on that module.
    for n in a b; do
        ip netns exec $n sh -c 'echo none > /proc/sys/net/sctp/cookie_hmac_alg' || return 1
    done
}

topo_down() {
    ip netns del a 2>/dev/null
    ip netns del b 2>/dev/null
    return 0
}

# ---------------------------------------------------------------- cases
passed=0
failed=0

# in_ns NS TIMEOUT CASEFILE FUNC: run function FUNC of CASEFILE in netns NS.
in_ns() {
    ip netns exec "$1" timeout -k 5 "$2" sh -c '. "$1" && "$2"' sh "$3" "$4"
}

run_case() {
    f=$1
    name=$(basename "$f" .sh)
    log="$RES/$name.log"
    CASE_DIR="$RES/$name.d"
    export CASE_DIR
    mkdir -p "$CASE_DIR"
    # Read the case's settings, each in a subshell (a case is sh that defines
    # DESCRIPTION, TIMEOUT and either the functions in_a + in_b, or run).
    T=$(unset TIMEOUT; . "$f" >/dev/null 2>&1; echo "${TIMEOUT:-60}")
    DESC=$(unset DESCRIPTION; . "$f" >/dev/null 2>&1; printf '%s' "$DESCRIPTION")
    MODE=$(
        . "$f" >/dev/null 2>&1
        is_fn() { case "$(type "$1" 2>/dev/null)" in *function*) return 0 ;; esac; return 1; }
        if is_fn run; then echo script; elif is_fn in_a && is_fn in_b; then echo pair; else echo none; fi
    )
    say "RUN  $name: $DESC"
    t0=$(now_ms)
    why=""
    if ! topo_up > "$log" 2>&1; then
        why="topology setup failed"
    elif [ "$MODE" = pair ]; then
        # The server side (netns b) in the background, the client side (netns
        # a) in the foreground; the client retries connect until the server
        # listens, so no other synchronisation is needed.
        in_ns b "$T" "$f" in_b > "$CASE_DIR/b.log" 2>&1 &
        bpid=$!
        in_ns a "$T" "$f" in_a > "$CASE_DIR/a.log" 2>&1
        arc=$?
        if [ $arc -ne 0 ]; then
            # The client failed: do not let the server wait for its full timeout.
            ( s=0; while kill -0 $bpid 2>/dev/null && [ $s -lt 50 ]; do sleep 0.1; s=$((s + 1)); done
              kill -TERM $bpid 2>/dev/null ) &
        fi
        wait $bpid
        brc=$?
        { echo "--- netns b (in_b), exit $brc"; cat "$CASE_DIR/b.log"
          echo "--- netns a (in_a), exit $arc"; cat "$CASE_DIR/a.log"; } >> "$log"
        [ $arc -eq 0 ] && [ $brc -eq 0 ] || why="in_a exit $arc, in_b exit $brc"
        [ $arc -eq 124 ] || [ $brc -eq 124 ] && why="$why (124 = timed out after ${T}s)"
    elif [ "$MODE" = script ]; then
        timeout -k 5 "$T" sh -c '. "$1" && run' sh "$f" >> "$log" 2>&1
        rc=$?
        [ $rc -eq 0 ] || why="run exit $rc"
        [ $rc -eq 124 ] && why="$why (timed out after ${T}s)"
    else
        why="case defines neither run() nor in_a() and in_b()"
    fi
    topo_down
    ms=$(( $(now_ms) - t0 ))
    if [ -z "$why" ]; then
        passed=$((passed + 1))
        echo "PASS ${ms}ms" > "$RES/$name.status"
        say "PASS $name (${ms} ms)"
    else
        failed=$((failed + 1))
        echo "FAIL ${ms}ms $why" > "$RES/$name.status"
        say "FAIL $name (${ms} ms): $why"
    fi
    sync
}

export QSAFE_REPO QSAFE_RUN QSAFE_BIN RUST_BACKTRACE=1
for f in $QSAFE_CASES; do
    run_case "$f"
done
echo "$passed $failed" > "$RES/DONE"
sync
say "guest done: $passed passed, $failed failed"
exit 0
