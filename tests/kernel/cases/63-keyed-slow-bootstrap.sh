# A slow node at bootstrap, over kernel ESP. The first REKEY on an
# association installs the node's ESP-required policy; from then on the
# node's kernel drops whatever the RIC still sends in clear, including later
# plaintext REKEYs. So a bootstrap outcome that reaches the RIC's key plane
# late (after it gave the epoch up) or never must not leave the link stuck
# (docs/rekey-protocol.md, "A late or lost bootstrap outcome"). Two xApps in
# netns b (KME A), one keyed gNB each in netns a (KME B), both nodes with the
# fault injection --fault-slow-bootstrap-ms (their first dec_keys is held):
#   late      9 s after the REKEY reached the node: around the xApp's give-up
#             (8 s: 2 s timeout, 3 retransmissions) and before its last RIC
#             Control procedure closes (11 s). Where the outcome lands depends
#             on the E2 path's delay (seconds in a loaded UML guest), so this
#             node may take either repair: the key plane adopts the late
#             outcome ("late outcome of an abandoned REKEY: switching to it";
#             xapp/tests/keyed_slow_node.rs proves that path
#             deterministically in memory), or the node falls back;
#   fallback  13 s: every procedure has expired, the outcome is lost; the
#             RIC never switches, and the node must return to bootstrap after
#             --bootstrap-confirm-ms 4000 ("back to bootstrap"), after which
#             the RIC's next REKEY gets through.
# Both links must end protected on hybrid keys and STAY protected (each node
# falls back at most once: a fallback after the RIC switched would cut the
# link from the other side), the nodes end with SAs, KPM indications flow in
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
        keyed_group "$name" "$port" "$http" 1 --fault-slow-bootstrap-ms "$delay" --bootstrap-confirm-ms 4000
        URLS="$URLS $name=http://$B4:$http"
    done

    # ---- both links end protected on hybrid keys (deadline 90 s) and stay so for
    #      10 s (longer than --bootstrap-confirm-ms: a wrong fallback would show)
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
if len(done) < len(urls):
    sys.exit(1)
hold = time.monotonic() + 10
while time.monotonic() < hold:
    for name, url in urls.items():
        s = json.load(urllib.request.urlopen(f"{url}/status", timeout=5))
        if [l for l in s["links"] if l["state"] != "protected"]:
            print(f"[case] {name}: left protected: {s['links']}")
            sys.exit(1)
    time.sleep(0.2)
print("[case] both links stayed protected for 10 s")
PY
    adopted=$(grep -c "late outcome of an abandoned REKEY: switching to it" "$CASE_DIR/xapp-late.log" || true)
    late_fb=$(grep -c "rekey::node.*back to bootstrap" "$CASE_DIR/e2node-late.log" || true)
    fb=$(grep -c "rekey::node.*back to bootstrap" "$CASE_DIR/e2node-fallback.log" || true)
    echo "[case] late: late outcomes adopted by the xApp: $adopted, node fallbacks: $late_fb"
    echo "[case] fallback: node fallbacks: $fb"
    [ $((adopted + late_fb)) -ge 1 ] || fail "late: neither repair ran (was the fault injected?)"
    [ "$late_fb" -le 1 ] || fail "late: the node fell back more than once"
    [ "$fb" = 1 ] || fail "fallback: expected exactly one return to bootstrap, got $fb"

    # ---- now ESP only on the wire
    ip netns exec a python3 "$QSAFE_REPO/tests/kernel/lib/capture.py" va "$CASE_DIR/capture.json" \
        "$CASE_DIR/capture.ready" 3 || fail "capture"
    echo "[case] capture after protection: $(cat "$CASE_DIR/capture.json")"
    python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); sys.exit(0 if c["esp"] > 0 and c["sctp"] == 0 else 1)' \
        "$CASE_DIR/capture.json" || fail "cleartext SCTP after protection"

    for p in $NODE_PIDS; do kill -TERM "$p"; done
    for p in $NODE_PIDS; do wait "$p" || fail "a qsafe-e2node exited with $? (see e2node-*.log)"; done
    for g in late fallback; do
        line=$(cat "$CASE_DIR/e2node-$g.out")
        echo "[case] $g node: $line"
        echo "$line" | grep -q "keyed_epoch_per_node=\[0\]" && fail "$g: the node ended without SAs (back in bootstrap)"
    done
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
