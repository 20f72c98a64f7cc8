# The node side of the rekey protocol under attack, over kernel ESP: the
# example hostile_ric (qsafe-e2node/examples) in netns b keys one
# qsafe-e2node --keyed gNB in netns a (KME pair in netns b, one XFRM broker
# per netns) with honest hybrid rekeys, and in between sends
#   - a tampered REKEY (a signed field changed after signing): bad-signature;
#   - a replayed REKEY (an earlier applied REKEY's bytes): replayed-epoch;
#   - a REKEY naming a key_ID KME B never issued: qkd-key-not-found, then a
#     fresh key at a new epoch succeeds (desync recovery).
# Each refusal must leave the node's SA as it was (its REPORT's epoch and
# SPIs), and the KPM indications must keep arriving in order over ESP. The
# node's own summary must count exactly one refusal of each cause.
# needs: example qsafe-e2node hostile_ric
# needs: bin qsafe-e2node qsafe-e2node
# needs: bin qsafe-kme qsafe-kme
# needs: bin qsafe-xfrm qsafe-xfrm-broker
DESCRIPTION="keyed E2 over ESP under attack: tampered REKEY, replayed epoch, key-ID desync refused/recovered, KPM in order"
TIMEOUT=150

run() {
    PIDS=""
    cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; }
    fail() { echo "FAIL: $*"; cleanup; exit 1; }
    PKI="$CASE_DIR/pki"
    "$QSAFE_BIN/qsafe-kme" demo-pki --out "$PKI" --sae ric-xapp,e2node-1 --ip "$B4" --ip "$A4" > "$CASE_DIR/pki.log" 2>&1 \
        || fail "demo-pki: $(cat "$CASE_DIR/pki.log")"
    for n in a b; do
        ip netns exec $n env RUST_LOG=info "$QSAFE_BIN/qsafe-xfrm-broker" --socket "/run/qsafe-xfrm-$n.sock" \
            --allow-uid 0 --allow-net 10.99.0.0/24 2> "$CASE_DIR/broker-$n.log" &
        eval "BROKER_$n=\$!"
        PIDS="$PIDS $!"
    done
    ip netns exec b env RUST_LOG=warn "$QSAFE_BIN/qsafe-kme" serve --pki-dir "$PKI" \
        --listen-a "$B4:8443" --listen-b "$B4:8444" --admin-listen 127.0.0.1:9180 \
        --initial-key-count 200 > "$CASE_DIR/kme.out" 2> "$CASE_DIR/kme.log" &
    PIDS="$PIDS $!"

    ip netns exec b "$QSAFE_BIN/hostile_ric" --listen "$B4:36421" --pki-dir "$PKI" --kme "https://$B4:8443" \
        --xfrm-broker /run/qsafe-xfrm-b.sock --rekeys 3 > "$CASE_DIR/hostile.json" 2> "$CASE_DIR/hostile.log" &
    HOSTILE=$!
    PIDS="$PIDS $HOSTILE"
    ip netns exec a env RUST_LOG=info "$QSAFE_BIN/qsafe-e2node" --ric "$B4" --nodes 1 --keyed \
        --pki-dir "$PKI" --kme "https://$B4:8444" --xfrm-broker /run/qsafe-xfrm-a.sock \
        --grace-ms 300 --rate 200 --connect-timeout 30 --duration 90 \
        > "$CASE_DIR/e2node.out" 2> "$CASE_DIR/e2node.log" &
    NODE=$!
    PIDS="$PIDS $NODE"

    wait $HOSTILE
    rc=$?
    cat "$CASE_DIR/hostile.log"
    echo "[case] hostile_ric: $(cat "$CASE_DIR/hostile.json")"
    [ $rc -eq 0 ] || fail "hostile_ric exit $rc (its failed expectations are above)"
    kill -TERM $NODE
    wait $NODE || fail "qsafe-e2node exit status (see e2node.log)"
    line=$(cat "$CASE_DIR/e2node.out")
    echo "[case] node: $line"
    for cause in bad-signature:1 replayed-epoch:1 qkd-key-not-found:1; do
        echo "$line" | grep -q "$cause" || fail "the node's summary does not count $cause"
    done
    kill -TERM $BROKER_a $BROKER_b
    wait $BROKER_a; wait $BROKER_b
    for n in a b; do
        left=$(ip netns exec $n ip xfrm state | grep -c 'proto esp')
        [ "$left" = 0 ] || fail "netns $n: $left SAs left after the broker stopped"
    done
    cleanup
    echo "PASS hostile RIC: every forged REKEY refused, nothing changed, desync recovered"
}
