# Kernel IPsec for the E2 link through qsafe-xfrm-broker, in both namespaces:
# a broker per netns (the only privileged process), driven by the example
# client xfrm_check over its Unix socket. Checks, in order:
#  (e) a client whose uid is not allowed (setpriv --reuid 65534) is refused
#      (exit 3, reason logged by the broker) and installs nothing;
#  (a) per-direction ESP SAs (rfc4106(gcm(aes)), SCTP selectors) + the
#      ESP-required policy pair on both sides: sctp_check echo passes and
#      the SA packet counters rise on both sides;
#  (b) an AF_PACKET capture on va sees ESP (proto 50) and no SCTP (132);
#  (d) make-before-break while 1 KiB PDUs stream: new inbound SAs, then new
#      outbound SAs, old ones deleted once the new inbound SAs carried
#      traffic; sctp_check's count (sent == arrived) proves nothing was lost;
#  (c) SAs deleted, policies kept: SCTP does not pass (fail-closed) and
#      nothing leaves in clear;
#  (g) per-association links: two SCTP associations between the same two
#      addresses (local ports 40001 and 40002 -> 36421, one reqid), each
#      with its own SA pair and policy pair (selectors with ports, 4
#      policies per side, not 2): each association uses only its own SAs;
#      deleting one link's SAs stops only that association (fail-closed per
#      link, nothing in clear) while the other keeps passing; releasing one
#      link's policies leaves the other's;
#  (h) byte-limit backstop: an SA with soft/hard byte limits carries traffic
#      below them; the kernel announces the soft expiry and deletes the SA
#      at the hard limit, so the association stops, nothing in clear;
#  IPv6: the same SAs/policies for fd00:99::1 <-> fd00:99::2 carry an echo;
#  cleanup: on SIGTERM each broker deletes everything it installed.
# needs: example qsafe-xfrm xfrm_check
# needs: bin qsafe-xfrm qsafe-xfrm-broker
# needs: example qsafe-e2 sctp_check
DESCRIPTION="xfrm broker: ESP SAs + ESP-required policy, capture, make-before-break, fail-closed, per-association links, byte-limit backstop, uid refusal, cleanup"
TIMEOUT=240

run() {
    X="$QSAFE_BIN/xfrm_check"
    S="$QSAFE_BIN/sctp_check"
    SOCK_A=/run/qsafe-xfrm-a.sock
    SOCK_B=/run/qsafe-xfrm-b.sock
    LA="--local $A4 --peer $B4 --reqid 7"
    LB="--local $B4 --peer $A4 --reqid 7"
    L6A="--local $A6 --peer $B6 --reqid 8"
    L6B="--local $B6 --peer $A6 --reqid 8"
    # 36-byte keys (AES-256 key ‖ salt), one per direction and generation
    K1=$(printf '11%.0s' $(seq 36)); K2=$(printf '22%.0s' $(seq 36))
    K3=$(printf '33%.0s' $(seq 36)); K4=$(printf '44%.0s' $(seq 36))
    K5=$(printf '55%.0s' $(seq 36)); K6=$(printf '66%.0s' $(seq 36))
    PIDS=""

    cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; }
    fail() { echo "FAIL: $*"; cleanup; exit 1; }
    xa() { ip netns exec a "$X" --socket "$SOCK_A" "$@"; }
    xb() { ip netns exec b "$X" --socket "$SOCK_B" "$@"; }
    packets() { sed -n 's/.*packets=\([0-9]*\).*/\1/p'; }

    # ---- capture: tests/kernel/lib/capture.py counts IP protocols on an
    #      interface until SIGTERM (or its time limit)
    # ---- SCTP associations from a chosen local port (sctp_check cannot bind one):
    #   assoc.py serve LISTEN_IP:PORT READY_FILE TIMEOUT   echo server, one association at a time
    #   assoc.py ping BIND_IP:PORT CONNECT_IP:PORT TIMEOUT COUNT   exit 0 echoed, 2 no association
    cat > "$CASE_DIR/assoc.py" <<'PY'
import signal, socket, sys, time
def addr(s):
    h, p = s.rsplit(":", 1)
    return (h, int(p))
def sctp():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return s
if sys.argv[1] == "serve":
    ls = sctp()
    ls.bind(addr(sys.argv[2]))
    ls.listen(8)
    ls.settimeout(0.2)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    open(sys.argv[3], "w").close()
    end = time.time() + float(sys.argv[4])
    while not stop and time.time() < end:
        try:
            c, peer = ls.accept()
        except (socket.timeout, InterruptedError):
            continue
        c.settimeout(5)
        n = 0
        try:
            while True:
                m = c.recv(65536)
                if not m:
                    break
                c.sendall(m)
                n += 1
        except OSError as e:
            print(f"[serve] {peer[0]}:{peer[1]}: {e}", flush=True)
        c.close()
        print(f"[serve] association from {peer[0]}:{peer[1]}: {n} messages echoed", flush=True)
    sys.exit(0)
else:
    bind, dst, timeout, count = sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
    c = sctp()
    c.bind(addr(bind))
    c.settimeout(timeout)
    try:
        c.connect(addr(dst))
        for i in range(count):
            msg = (f"{bind} #{i} " * 20).encode()
            c.sendall(msg)
            back = c.recv(65536)
            if back != msg:
                print(f"[ping] {bind} -> {dst}: echo {i} differs", flush=True)
                sys.exit(1)
    except OSError as e:
        print(f"[ping] {bind} -> {dst}: no association: {e!r}", flush=True)
        sys.exit(2)
    local = c.getsockname()
    c.close()
    print(f"[ping] {local[0]}:{local[1]} -> {dst}: {count} echoes", flush=True)
PY

    # capture_start NAME / capture_stop NAME: sets ESP and SCTP
    capture_start() {
        rm -f "$CASE_DIR/$1.ready" "$CASE_DIR/$1.json"
        ip netns exec a python3 "$QSAFE_REPO/tests/kernel/lib/capture.py" va "$CASE_DIR/$1.json" "$CASE_DIR/$1.ready" 600 &
        CAP=$!
        PIDS="$PIDS $CAP"
        i=0
        while [ ! -f "$CASE_DIR/$1.ready" ]; do
            i=$((i + 1)); [ $i -lt 100 ] || fail "capture $1 did not start"; sleep 0.1
        done
    }
    capture_stop() {
        kill -TERM "$CAP"; wait "$CAP" || fail "capture $1 failed"
        ESP=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["esp"])' "$CASE_DIR/$1.json")
        SCTP=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sctp"])' "$CASE_DIR/$1.json")
        echo "[case] capture $1: $(cat "$CASE_DIR/$1.json")"
    }

    # ---- brokers
    for n in a b; do
        ip netns exec $n env RUST_LOG=info "$QSAFE_BIN/qsafe-xfrm-broker" --socket "/run/qsafe-xfrm-$n.sock" \
            --allow-uid 0 --allow-net 10.99.0.0/24,fd00:99::/64 --socket-group 65534 \
            2> "$CASE_DIR/broker-$n.log" &
        eval "BROKER_$n=\$!"
        PIDS="$PIDS $!"
    done
    xa ping --wait 10 || fail "broker a not ready"
    xb ping --wait 10 || fail "broker b not ready"
    echo "[case] brokers ready: $(stat -c '%a %U:%G' $SOCK_A)"

    # ---- (e) a uid that is not allowed
    ip netns exec a setpriv --reuid 65534 --regid 65534 --clear-groups \
        "$X" --socket "$SOCK_A" install $LA --dir out --spi 0x1001 --key "$K1"
    rc=$?
    [ $rc -eq 3 ] || fail "(e) uid 65534: expected exit 3 (refused), got $rc"
    grep -q 'refused connection: peer uid 65534' "$CASE_DIR/broker-a.log" || fail "(e) refusal not logged"
    [ "$(ip -n a xfrm state | grep -c '^src')" -eq 0 ] || fail "(e) an SA appeared"
    echo "[case] (e) uid 65534 refused (exit 3), logged, nothing installed"

    # ---- (a) SAs + ESP-required policies, both sides (A->B 0x1001, B->A 0x2001)
    xa install $LA --dir out --spi 0x1001 --key "$K1" || fail "install a out"
    xa install $LA --dir in --spi 0x2001 --key "$K2" || fail "install a in"
    xb install $LB --dir in --spi 0x1001 --key "$K1" || fail "install b in"
    xb install $LB --dir out --spi 0x2001 --key "$K2" || fail "install b out"
    xa require-esp $LA || fail "require-esp a"
    xb require-esp $LB || fail "require-esp b"
    xa install $LA --dir out --spi 0x1001 --key "$K1" && fail "duplicate SPI accepted"
    [ "$(ip -n a xfrm policy | grep -c 'dir \(in\|out\)')" -eq 2 ] || fail "policies in a: $(ip -n a xfrm policy)"
    ip -n a xfrm state | grep -q 'rfc4106(gcm(aes))' || fail "no AEAD SA in a: $(ip -n a xfrm state)"

    capture_start protected
    ip netns exec b "$S" serve echo --listen "$B4:36421" --timeout 30 &
    SRV=$!
    PIDS="$PIDS $SRV"
    ip netns exec a "$S" drive echo --connect "$B4:36421" --timeout 30 || fail "(a) echo over ESP failed"
    wait $SRV || fail "(a) echo server failed"
    capture_stop protected
    for c in "xa counters $LA --dir out --spi 0x1001" "xa counters $LA --dir in --spi 0x2001" \
        "xb counters $LB --dir in --spi 0x1001" "xb counters $LB --dir out --spi 0x2001"; do
        out=$($c --min-packets 1 --wait 5) || fail "(a) no packets: $c"
        echo "[case] (a) $(echo "$c" | cut -d' ' -f1) $out"
    done
    [ "$ESP" -gt 0 ] || fail "(b) no ESP packets captured"
    [ "$SCTP" -eq 0 ] || fail "(b) $SCTP SCTP packets in clear"
    echo "METRIC xfrm_capture_esp_packets=$ESP"
    echo "METRIC xfrm_capture_sctp_packets=$SCTP"

    # ---- (d) make-before-break while traffic flows (A->B 0x1002, B->A 0x2002)
    ip netns exec b "$S" serve throughput --listen "$B4:36421" --timeout 60 > "$CASE_DIR/mbb-serve.log" 2>&1 &
    SRV=$!
    PIDS="$PIDS $SRV"
    ip netns exec a "$S" drive throughput --connect "$B4:36421" --seconds 8 --timeout 60 > "$CASE_DIR/mbb-drive.log" 2>&1 &
    DRV=$!
    PIDS="$PIDS $DRV"
    base=$(xa counters $LA --dir out --spi 0x1001 | packets)
    xa counters $LA --dir out --spi 0x1001 --min-packets $((base + 50)) --wait 15 > /dev/null ||
        fail "(d) traffic did not start on the old SAs"
    # new inbound SAs first, on both sides ...
    xa install $LA --dir in --spi 0x2002 --key "$K4" || fail "(d) install a in new"
    xb install $LB --dir in --spi 0x1002 --key "$K3" || fail "(d) install b in new"
    # ... then the new outbound SAs (the kernel prefers the newest)
    xa install $LA --dir out --spi 0x1002 --key "$K3" || fail "(d) install a out new"
    xb install $LB --dir out --spi 0x2002 --key "$K4" || fail "(d) install b out new"
    # grace: until the new inbound SAs have carried traffic on both sides
    xb counters $LB --dir in --spi 0x1002 --min-packets 20 --wait 15 > /dev/null || fail "(d) A did not switch"
    xa counters $LA --dir in --spi 0x2002 --min-packets 20 --wait 15 > /dev/null || fail "(d) B did not switch"
    old_a=$(xa counters $LA --dir out --spi 0x1001 | packets)
    xa delete $LA --dir out --spi 0x1001 || fail "(d) delete a out old"
    xa delete $LA --dir in --spi 0x2001 || fail "(d) delete a in old"
    xb delete $LB --dir in --spi 0x1001 || fail "(d) delete b in old"
    xb delete $LB --dir out --spi 0x2001 || fail "(d) delete b out old"
    xa counters $LA --dir in --spi 0x2001 >/dev/null 2>&1
    [ $? -eq 4 ] || fail "(d) old SA still readable"
    at_delete=$(xb counters $LB --dir in --spi 0x1002 | packets)
    wait $DRV || { cat "$CASE_DIR/mbb-drive.log"; fail "(d) throughput driver failed"; }
    wait $SRV || { cat "$CASE_DIR/mbb-serve.log"; fail "(d) throughput server failed (lost PDUs?)"; }
    cat "$CASE_DIR/mbb-serve.log" "$CASE_DIR/mbb-drive.log"
    new_b=$(xb counters $LB --dir in --spi 0x1002 | packets)
    new_a=$(xa counters $LA --dir in --spi 0x2002 | packets)
    [ "$new_b" -gt "$at_delete" ] || fail "(d) new SA idle after the old ones were deleted"
    echo "[case] (d) old A->B SA carried $old_a packets; new A->B $new_b (b in), new B->A $new_a (a in); no PDU lost"
    echo "METRIC xfrm_mbb_old_sa_packets=$old_a"
    echo "METRIC xfrm_mbb_new_sa_packets=$new_b"

    # ---- (c) fail-closed: SAs gone, policies stay
    xa delete-all $LA || fail "(c) delete-all a"
    xb delete-all $LB || fail "(c) delete-all b"
    [ "$(ip -n a xfrm state | grep -c '^src')" -eq 0 ] || fail "(c) SAs left in a"
    [ "$(ip -n b xfrm policy | grep -c 'dir \(in\|out\)')" -eq 2 ] || fail "(c) policies gone in b"
    capture_start closed
    ip netns exec b "$S" serve echo --listen "$B4:36421" --timeout 30 > /dev/null 2>&1 &
    SRV=$!
    PIDS="$PIDS $SRV"
    timeout -k 2 8 ip netns exec a "$S" drive echo --connect "$B4:36421" --deadline 3 --timeout 5 > "$CASE_DIR/closed.log" 2>&1 &&
        fail "(c) SCTP passed without SAs"
    kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null
    capture_stop closed
    [ "$SCTP" -eq 0 ] || fail "(c) $SCTP SCTP packets left in clear"
    echo "[case] (c) without SAs the association does not come up; $SCTP SCTP / $ESP ESP packets on the wire"

    # ---- (g) per-association links: two associations A:40001 / A:40002 -> B:36421, one reqid
    xa release-esp $LA || fail "(g) release host-wide a"
    xb release-esp $LB || fail "(g) release host-wide b"
    [ -z "$(ip -n a xfrm policy)" ] || fail "(g) host-wide policies left in a: $(ip -n a xfrm policy)"
    P1A="--local $A4 --peer $B4 --reqid 9 --local-port 40001 --peer-port 36421"
    P1B="--local $B4 --peer $A4 --reqid 9 --local-port 36421 --peer-port 40001"
    P2A="--local $A4 --peer $B4 --reqid 9 --local-port 40002 --peer-port 36421"
    P2B="--local $B4 --peer $A4 --reqid 9 --local-port 36421 --peer-port 40002"
    # link 1: A->B 0x5001, B->A 0x5101; link 2: A->B 0x6001, B->A 0x6101
    xa install $P1A --dir out --spi 0x5001 --key "$K1" || fail "(g) install a out 1"
    xa install $P1A --dir in --spi 0x5101 --key "$K2" || fail "(g) install a in 1"
    xb install $P1B --dir in --spi 0x5001 --key "$K1" || fail "(g) install b in 1"
    xb install $P1B --dir out --spi 0x5101 --key "$K2" || fail "(g) install b out 1"
    xa install $P2A --dir out --spi 0x6001 --key "$K3" || fail "(g) install a out 2"
    xa install $P2A --dir in --spi 0x6101 --key "$K4" || fail "(g) install a in 2"
    xb install $P2B --dir in --spi 0x6001 --key "$K3" || fail "(g) install b in 2"
    xb install $P2B --dir out --spi 0x6101 --key "$K4" || fail "(g) install b out 2"
    for l in "$P1A" "$P2A"; do xa require-esp $l || fail "(g) require-esp a $l"; done
    for l in "$P1B" "$P2B"; do xb require-esp $l || fail "(g) require-esp b $l"; done
    for n in a b; do
        np=$(ip -n $n xfrm policy | grep -c 'dir \(in\|out\)')
        [ "$np" -eq 4 ] || fail "(g) $np policies in $n (the two links collided?): $(ip -n $n xfrm policy)"
        for port in 40001 40002; do
            [ "$(ip -n $n xfrm policy | grep -c "proto sctp .*port $port")" -eq 2 ] ||
                fail "(g) no policy pair with port $port in $n: $(ip -n $n xfrm policy)"
        done
    done
    ip -n a xfrm state | grep -q 'sel src 10.99.0.1/32 dst 10.99.0.2/32 proto sctp sport 40001 dport 36421' ||
        fail "(g) SA selector without ports: $(ip -n a xfrm state)"
    echo "[case] (g) 2 links on $A4 <-> $B4: 4 SAs + 4 policies per side, selectors with ports"
    gsrv_start() {
        rm -f "$CASE_DIR/assoc.ready"
        ip netns exec b python3 "$CASE_DIR/assoc.py" serve "$B4:36421" "$CASE_DIR/assoc.ready" 60 \
            >> "$CASE_DIR/assoc-serve.log" 2>&1 &
        GSRV=$!
        PIDS="$PIDS $GSRV"
        i=0
        while [ ! -f "$CASE_DIR/assoc.ready" ]; do
            i=$((i + 1)); [ $i -lt 100 ] || fail "(g) SCTP server did not start"; sleep 0.1
        done
    }
    gping() { ip netns exec a python3 "$CASE_DIR/assoc.py" ping "$A4:$1" "$B4:36421" "$2" 5; }
    gpackets() { "$@" | packets; }
    gsrv_start
    gping 40001 10 || fail "(g) association 1 over its SAs failed"
    p1=$(gpackets xa counters $P1A --dir out --spi 0x5001)
    p2=$(gpackets xa counters $P2A --dir out --spi 0x6001)
    [ "$p1" -gt 0 ] && [ "$p2" -eq 0 ] || fail "(g) association 1 used link 2's SA? (link 1 $p1, link 2 $p2 packets)"
    gping 40002 10 || fail "(g) association 2 over its SAs failed"
    q1=$(gpackets xa counters $P1A --dir out --spi 0x5001)
    q2=$(gpackets xa counters $P2A --dir out --spi 0x6001)
    [ "$q2" -gt 0 ] && [ "$q1" -eq "$p1" ] || fail "(g) association 2 used link 1's SA? (link 1 $p1 -> $q1, link 2 $q2)"
    r1=$(gpackets xb counters $P1B --dir in --spi 0x5001)
    r2=$(gpackets xb counters $P2B --dir in --spi 0x6001)
    [ "$r1" -gt 0 ] && [ "$r2" -gt 0 ] || fail "(g) b inbound SAs idle (link 1 $r1, link 2 $r2)"
    echo "[case] (g) each association on its own SAs: A->B link 1 $p1 packets, link 2 $q2 (b in: $r1 / $r2)"
    # fail-closed per link: link 1's SAs deleted (both sides), its policies kept
    xa delete-all $P1A || fail "(g) delete-all a link 1"
    xb delete-all $P1B || fail "(g) delete-all b link 1"
    ip -n a xfrm state | grep -q 'spi 0x00005001' && fail "(g) link 1 SA left in a"
    ip -n a xfrm state | grep -q 'spi 0x00006001' || fail "(g) link 2 SA gone from a"
    capture_start perlink
    timeout -k 2 10 ip netns exec a python3 "$CASE_DIR/assoc.py" ping "$A4:40001" "$B4:36421" 3 1 &&
        fail "(g) association 1 came up without its SAs"
    gping 40002 10 || fail "(g) association 2 stopped when link 1's SAs were deleted"
    capture_stop perlink
    [ "$SCTP" -eq 0 ] || fail "(g) $SCTP SCTP packets in clear"
    [ "$ESP" -gt 0 ] || fail "(g) no ESP for association 2"
    s2=$(gpackets xb counters $P2B --dir in --spi 0x6001)
    [ "$s2" -gt "$r2" ] || fail "(g) link 2's SA idle after link 1's deletion ($r2 -> $s2)"
    echo "[case] (g) link 1 SAs deleted: association 1 blocked, association 2 passes ($r2 -> $s2 packets, $ESP ESP / $SCTP SCTP on the wire)"
    # releasing link 1's policies leaves link 2's
    xa release-esp $P1A || fail "(g) release-esp a link 1"
    [ "$(ip -n a xfrm policy | grep -c 'dir \(in\|out\)')" -eq 2 ] || fail "(g) release of link 1 took: $(ip -n a xfrm policy)"
    [ "$(ip -n a xfrm policy | grep -c 'port 40002')" -eq 2 ] || fail "(g) link 2's policies gone: $(ip -n a xfrm policy)"
    gping 40002 3 || fail "(g) association 2 after link 1's release"
    kill -TERM "$GSRV"; wait "$GSRV"
    cat "$CASE_DIR/assoc-serve.log"
    grep -q "from $A4:40001" "$CASE_DIR/assoc-serve.log" || fail "(g) server never saw port 40001"
    echo "[case] (g) link 1 policies released, link 2's kept and passing"

    # ---- (h) byte-limit backstop: link 3 (A:40003), A->B SA with soft 12 KiB /
    #      hard 16 KiB. Below the soft limit traffic passes; the kernel signals
    #      the soft expiry, then deletes the SA at the hard limit: the
    #      association stops (ESP still required), nothing leaves in clear.
    P3A="--local $A4 --peer $B4 --reqid 10 --local-port 40003 --peer-port 36421"
    P3B="--local $B4 --peer $A4 --reqid 10 --local-port 36421 --peer-port 40003"
    xa install $P3A --dir out --spi 0x7001 --key "$K5" --soft-bytes 12288 --hard-bytes 16384 || fail "(h) install a out"
    xa install $P3A --dir in --spi 0x7101 --key "$K6" || fail "(h) install a in"
    xb install $P3B --dir in --spi 0x7001 --key "$K5" || fail "(h) install b in"
    xb install $P3B --dir out --spi 0x7101 --key "$K6" || fail "(h) install b out"
    xa require-esp $P3A || fail "(h) require-esp a"
    xb require-esp $P3B || fail "(h) require-esp b"
    ip -n a -s xfrm state | grep -A12 'spi 0x00007001' | grep -q 'soft 12288(bytes), hard 16384(bytes)' ||
        fail "(h) byte limits not in the kernel: $(ip -n a -s xfrm state | grep -A12 'spi 0x00007001')"
    ip netns exec a ip xfrm monitor expire > "$CASE_DIR/expire.log" 2>&1 &
    MON=$!
    PIDS="$PIDS $MON"
    gsrv_start
    gping 40003 5 || fail "(h) traffic below the soft limit failed"
    below=$(xa counters $P3A --dir out --spi 0x7001 | sed -n 's/.*bytes=\([0-9]*\).*/\1/p')
    capture_start backstop
    ip netns exec a python3 "$CASE_DIR/assoc.py" ping "$A4:40003" "$B4:36421" 5 200 &&
        fail "(h) 200 echoes passed through a 16 KiB hard limit"
    capture_stop backstop
    kill -TERM "$GSRV" 2>/dev/null; wait "$GSRV" 2>/dev/null
    xa counters $P3A --dir out --spi 0x7001 > /dev/null 2>&1
    [ $? -eq 4 ] || fail "(h) the SA outlived its hard byte limit: $(ip -n a -s xfrm state | grep -A12 'spi 0x00007001')"
    kill "$MON" 2>/dev/null; wait "$MON" 2>/dev/null
    grep -q 'hard 0' "$CASE_DIR/expire.log" || fail "(h) no soft expiry event: $(cat "$CASE_DIR/expire.log")"
    grep -q 'hard 1' "$CASE_DIR/expire.log" || fail "(h) no hard expiry event: $(cat "$CASE_DIR/expire.log")"
    [ "$SCTP" -eq 0 ] || fail "(h) $SCTP SCTP packets in clear after the hard expiry"
    [ "$(ip -n a xfrm policy | grep -c 'port 40003')" -eq 2 ] || fail "(h) link 3's policies gone"
    echo "[case] (h) $below bytes under the SA below the soft limit; soft then hard expiry at 12/16 KiB, SA deleted by the kernel, association stopped, $SCTP SCTP in clear"
    xa release-esp $P3A || fail "(h) release a"
    xb release-esp $P3B || fail "(h) release b"
    xb delete-all $P3B || fail "(h) delete-all b"
    xa delete-all $P3A || fail "(h) delete-all a"

    # ---- IPv6
    xa install $L6A --dir out --spi 0x3001 --key "$K5" || fail "v6 install a out"
    xa install $L6A --dir in --spi 0x4001 --key "$K6" || fail "v6 install a in"
    xb install $L6B --dir in --spi 0x3001 --key "$K5" || fail "v6 install b in"
    xb install $L6B --dir out --spi 0x4001 --key "$K6" || fail "v6 install b out"
    xa require-esp $L6A || fail "v6 require-esp a"
    xb require-esp $L6B || fail "v6 require-esp b"
    ip netns exec b "$S" serve echo --listen "[$B6]:36421" --timeout 30 &
    SRV=$!
    PIDS="$PIDS $SRV"
    ip netns exec a "$S" drive echo --connect "[$B6]:36421" --timeout 30 || fail "IPv6 echo over ESP failed"
    wait $SRV || fail "IPv6 echo server failed"
    out=$(xb counters $L6B --dir in --spi 0x3001 --min-packets 1 --wait 5) || fail "IPv6 SA idle"
    echo "[case] IPv6: b $out"

    # ---- cleanup by the brokers on SIGTERM
    kill -TERM "$BROKER_a" "$BROKER_b"
    wait "$BROKER_a" || fail "broker a exit status"
    wait "$BROKER_b" || fail "broker b exit status"
    for n in a b; do
        [ -z "$(ip -n $n xfrm state)" ] || fail "SAs left in $n after SIGTERM: $(ip -n $n xfrm state)"
        [ -z "$(ip -n $n xfrm policy)" ] || fail "policies left in $n after SIGTERM: $(ip -n $n xfrm policy)"
        grep 'cleaned up' "$CASE_DIR/broker-$n.log" | tail -n 1
        [ ! -e "/run/qsafe-xfrm-$n.sock" ] || fail "socket of $n not removed"
    done
    if grep -q -i "$K1\|$K3\|1111111111" "$CASE_DIR/broker-a.log" "$CASE_DIR/broker-b.log"; then
        fail "a key appears in a broker log"
    fi
    echo "--- broker a log"; cat "$CASE_DIR/broker-a.log"
    echo "PASS xfrm broker"
}
