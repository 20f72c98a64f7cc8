# Shared steps of the keyed-E2 kernel cases (60-62), sourced by a case's run()
# after it defined fail() and PIDS:
#   keyed_pki SAE...        demo PKI in $CASE_DIR/pki for ric-xapp + the SAEs ($PKI)
#   keyed_brokers           one qsafe-xfrm-broker per netns (/run/qsafe-xfrm-{a,b}.sock)
#   keyed_kme KEYS [ARGS]   the KME pair in netns b: A on $B4:8443, B on $B4:8444,
#                           admin 127.0.0.1:9180, KEYS keys in stock
#   keyed_group NAME PORT HTTP NODES [NODE-ARGS]
#                           qsafe-xapp in netns b (config $CASE_DIR/xapp-NAME.toml,
#                           E2 on $B4:PORT, HTTP on $B4:HTTP) and NODES keyed gNBs
#                           (SAE IDs NAME-<n>) in netns a; appends to XAPPS,
#                           NODE_PIDS and PIDS; output in xapp-NAME.*, e2node-NAME.*
#   keyed_brokers_stop      SIGTERM the brokers; fails if an SA is left behind

keyed_pki() {
    PKI="$CASE_DIR/pki"
    saes=ric-xapp
    for s in "$@"; do saes="$saes,$s"; done
    "$QSAFE_BIN/qsafe-kme" demo-pki --out "$PKI" --sae "$saes" --ip "$B4" --ip "$A4" > "$CASE_DIR/pki.log" 2>&1 \
        || fail "demo-pki: $(cat "$CASE_DIR/pki.log")"
}

keyed_brokers() {
    for n in a b; do
        ip netns exec $n env RUST_LOG=info "$QSAFE_BIN/qsafe-xfrm-broker" --socket "/run/qsafe-xfrm-$n.sock" \
            --allow-uid 0 --allow-net 10.99.0.0/24 2> "$CASE_DIR/broker-$n.log" &
        eval "BROKER_$n=\$!"
        PIDS="$PIDS $!"
    done
}

# (TCP to the KMEs: not subject to the SCTP ESP policies)
keyed_kme() {
    keys=$1
    shift
    ip netns exec b env RUST_LOG=warn "$QSAFE_BIN/qsafe-kme" serve --pki-dir "$PKI" \
        --listen-a "$B4:8443" --listen-b "$B4:8444" --admin-listen 127.0.0.1:9180 \
        --initial-key-count "$keys" "$@" > "$CASE_DIR/kme.out" 2> "$CASE_DIR/kme.log" &
    PIDS="$PIDS $!"
}

keyed_group() {
    g_name=$1; g_port=$2; g_http=$3; g_nodes=$4
    shift 4
    ip netns exec b env RUST_LOG=info "$QSAFE_BIN/qsafe-xapp" --config "$CASE_DIR/xapp-$g_name.toml" \
        --e2-listen "$B4:$g_port" --pki-dir "$PKI" --kme "https://$B4:8443" \
        --xfrm-broker /run/qsafe-xfrm-b.sock --http-listen "$B4:$g_http" --kpm-period-ms 1000 \
        > "$CASE_DIR/xapp-$g_name.json" 2> "$CASE_DIR/xapp-$g_name.log" &
    XAPPS="$XAPPS $!"
    PIDS="$PIDS $!"
    ip netns exec a env RUST_LOG=info "$QSAFE_BIN/qsafe-e2node" --ric "$B4:$g_port" --nodes "$g_nodes" --keyed \
        --sae-id-prefix "$g_name-" --pki-dir "$PKI" --kme "https://$B4:8444" --xfrm-broker /run/qsafe-xfrm-a.sock \
        --grace-ms 300 --rate 100 --connect-timeout 30 "$@" \
        > "$CASE_DIR/e2node-$g_name.out" 2> "$CASE_DIR/e2node-$g_name.log" &
    NODE_PIDS="$NODE_PIDS $!"
    PIDS="$PIDS $!"
}

keyed_brokers_stop() {
    kill -TERM "$BROKER_a" "$BROKER_b"
    wait "$BROKER_a"; wait "$BROKER_b"
    for n in a b; do
        left=$(ip netns exec $n ip xfrm state | grep -c 'proto esp')
        [ "$left" = 0 ] || fail "netns $n: $left SAs left after the broker stopped"
    done
}
