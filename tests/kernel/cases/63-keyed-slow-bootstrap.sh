# A slow node at bootstrap, over kernel ESP. The first REKEY on an
# association installs the node's ESP-required policy; from then on the
# node's kernel drops whatever the RIC still sends in clear, including later
# plaintext REKEYs. So a bootstrap outcome that reaches the RIC's key plane
# late (after it gave the epoch up) or never must not leave the link stuck
# (docs/rekey-protocol.md, "A late or lost bootstrap outcome"). Two xApps in
# netns b (KME A), one keyed gNB each in netns a (KME B), both nodes with the
# fault injection --fault-slow-bootstrap-ms (their first dec_keys is held):
#   late      9 s: the xApp gave the epoch up at 8 s (2 s timeout, 3
#             retransmissions), but a RIC Control procedure of a
#             retransmission is still open (5 s), so the signed outcome
#             reaches the key plane: it must adopt it ("late outcome of an
#             abandoned REKEY: switching to it");
#   fallback  13 s: every procedure has expired, the outcome is lost; the
#             RIC never switches, and the node must return to bootstrap after
#             --bootstrap-confirm-ms 3000 ("back to bootstrap"), after which
#             the RIC's next REKEY gets through.
# Both links must end protected on hybrid keys with KPM indications flowing in
# order (the node holds KPM until protected), and a capture on va then sees
# ESP and no cleartext SCTP. The xApps' /status is polled with deadlines.
# needs: bin qsafe-xapp qsafe-xapp
# needs: bin qsafe-e2node qsafe-e2node
# needs: bin qsafe-kme qsafe-kme
# needs: bin qsafe-xfrm qsafe-xfrm-broker
DESCRIPTION="keyed E2 over ESP, slow node at bootstrap: late outcome adopted by the RIC; lost outcome -> node falls back to bootstrap; both end protected"
TIMEOUT=180

run() {
    PIDS=""
    cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; }
    fail() { echo "FAIL: $*"; cleanup; exit 1; }
    . "$QSAFE_REPO/tests/kernel/lib/keyed.sh"
    keyed_pki late-1 fallback-1
    keyed_brokers
    keyed_kme 400 --secret-key-rate 1M

    i=0
    XAPPS=""
    NODE_PIDS=""
    URLS=""
    for spec in late:9000 fallback:13000; do
        name=${spec%%:*}; delay=${spec#*:}
        port=$((36421 + i)); http=$((9464 + i)); i=$((i + 1))
        cat > "$CASE_DIR/xapp-$name.toml" <<EOF
[keyplane]
prefetch-keys = 4
grace-ms = 300
report-period-ms = 500
[freshness]
mode = "qkd-and-pqc"
onViolation = "rekey"
rekeyPeriodSeconds = 3
maxKeyAgeSeconds = 60
isolateDeadlineSeconds = 120
EOF
        ip netns exec b env RUST_LOG=info "$QSAFE_BIN/qsafe-xapp" --config "$CASE_DIR/xapp-$name.toml" \
            --e2-listen "$B4:$port" --pki-dir "$PKI" --kme "https://$B4:8443" \
            --xfrm-broker /run/qsafe-xfrm-b.sock --http-listen "$B4:$http" --kpm-period-ms 1000 \
            > "$CASE_DIR/xapp-$name.json" 2> "$CASE_DIR/xapp-$name.log" &
        XAPPS="$XAPPS $!"
        PIDS="$PIDS $!"
        ip netns exec a env RUST_LOG=info "$QSAFE_BIN/qsafe-e2node" --ric "$B4:$port" --nodes 1 --keyed \
            --sae-id-prefix "$name-" --pki-dir "$PKI" --kme "https://$B4:8444" --xfrm-broker /run/qsafe-xfrm-a.sock \
            --grace-ms 300 --rate 100 --connect-timeout 30 \
            --fault-slow-bootstrap-ms "$delay" --bootstrap-confirm-ms 3000 \
            > "$CASE_DIR/e2node-$name.out" 2> "$CASE_DIR/e2node-$name.log" &
        NODE_PIDS="$NODE_PIDS $!"
        PIDS="$PIDS $!"
        URLS="$URLS $name=http://$B4:$http"
    done

    # ---- both links end protected on hybrid keys (deadline 90 s), then carry KPM
    # shellcheck disable=SC2086
    ip netns exec b python3 - $URLS <<'PY' || fail "links not protected (see xapp-*.log, e2node-*.log)"
import json, sys, time, urllib.request
urls = dict(a.split("=", 1) for a in sys.argv[1:])
t0 = time.monotonic()
deadline = t0 + 90
done = {}
while len(done) < len(urls) and time.monotonic() < deadline:
    for name, url in urls.items():
        if name in done:
            continue
        try:
            s = json.load(urllib.request.urlopen(f"{url}/status", timeout=5))
        except OSError:
            continue
        ok = [l for l in s["links"] if l["state"] == "protected" and l["keySource"] == "hybrid" and l["epoch"] >= 1]
        if len(s["links"]) == 1 and ok:
            done[name] = (round(time.monotonic() - t0, 1), ok[0]["epoch"])
            print(f"[case] {name}: protected/hybrid at epoch {ok[0]['epoch']} after {done[name][0]} s")
    time.sleep(0.2)
sys.exit(0 if len(done) == len(urls) else 1)
PY
    grep -q "late outcome of an abandoned REKEY: switching to it" "$CASE_DIR/xapp-late.log" \
        || fail "late: the xApp did not adopt the late bootstrap outcome"
    echo "[case] late: $(grep -c 'late outcome of an abandoned REKEY: switching' "$CASE_DIR/xapp-late.log") late outcome(s) adopted by the xApp"
    grep -q "back to bootstrap" "$CASE_DIR/e2node-fallback.log" \
        || fail "fallback: the node did not return to bootstrap"
    echo "[case] fallback: the node returned to bootstrap $(grep -c 'back to bootstrap' "$CASE_DIR/e2node-fallback.log") time(s)"
    if grep -q "back to bootstrap" "$CASE_DIR/e2node-late.log"; then
        fail "late: the node fell back although the xApp adopted its outcome"
    fi

    # ---- now ESP only on the wire
    ip netns exec a python3 "$QSAFE_REPO/tests/kernel/lib/capture.py" va "$CASE_DIR/capture.json" \
        "$CASE_DIR/capture.ready" 3 || fail "capture"
    echo "[case] capture after protection: $(cat "$CASE_DIR/capture.json")"
    python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); sys.exit(0 if c["esp"] > 0 and c["sctp"] == 0 else 1)' \
        "$CASE_DIR/capture.json" || fail "cleartext SCTP after protection"

    for p in $NODE_PIDS; do kill -TERM "$p"; done
    for p in $NODE_PIDS; do wait "$p" || fail "a qsafe-e2node exited with $? (see e2node-*.log)"; done
    for p in $XAPPS; do kill -TERM "$p"; done
    for p in $XAPPS; do wait "$p" || fail "a qsafe-xapp exited with $? (see xapp-*.log)"; done
    for g in late fallback; do
        python3 - "$g" "$CASE_DIR/xapp-$g.json" <<'PY' || fail "KPM of $g"
import json, sys
s = json.load(open(sys.argv[2]))
bad = [l for l in s["links"] if l["indications"] == 0 or l["seq_missing"] or l["seq_reordered"] or l["undecodable"]]
print(f"[case] {sys.argv[1]}: {s['indications']} KPM indications, none missing or reordered: {not bad}")
sys.exit(1 if bad or not s["links"] else 0)
PY
    done
    keyed_brokers_stop
    cleanup
    echo "PASS slow bootstrap: late outcome adopted, lost outcome recovered by the node's fallback"
}
