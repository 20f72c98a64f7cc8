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
    . "$QSAFE_REPO/tests/kernel/lib/keyed.sh"
    keyed_pki e2node-1
    keyed_brokers
    keyed_kme 200

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
    keyed_brokers_stop
    cleanup
    echo "PASS hostile RIC: every forged REKEY refused, nothing changed, desync recovered"
}
