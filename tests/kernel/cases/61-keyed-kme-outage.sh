# KME link down under each key-source mode, over kernel ESP: one KME pair
# and five xApps in netns b (one per mode/action, each its own E2 port and
# freshness policy), their keyed gNBs in netns a, one XFRM broker per netns.
# tests/kernel/lib/keyed_outage.py drives the phases against the xApps'
# /status and the KME's admin endpoint:
#   bootstrap  every link protected on hybrid (QKD + ML-KEM) keys;
#   outage     quantum link down + pool drained: either and at-least-pqc stay
#              protected on ML-KEM-only keys (rekeying), qkd-and-pqc+degrade
#              degrades (ML-KEM only, alarms), at-least-qkd+rekey keeps its
#              last hybrid key (alarms, failed rekeys change nothing),
#              qkd-and-pqc+isolate is isolated;
#   restore    quantum link up: every link back to protected/hybrid, every
#              alarm cleared (the isolated node re-bootstraps).
# While the outage holds, this script checks the kernel: the isolated node's
# association was ended by both sides (no SA, no policy left for it; the
# xApp refuses its E2 Setup attempts while it is barred), the other
# associations keep live SAs, and a capture on va sees ESP and cleartext
# SCTP only on the isolated node's port (its refused setup attempts). After the restore: KPM indications of the non-isolated
# groups all arrived in order (none missing or reordered); the brokers clean up.
# needs: bin qsafe-xapp qsafe-xapp
# needs: bin qsafe-e2node qsafe-e2node
# needs: bin qsafe-kme qsafe-kme
# needs: bin qsafe-xfrm qsafe-xfrm-broker
DESCRIPTION="keyed E2 over ESP, KME outage under each key-source mode: pqc fallback, degrade, old key, isolate; restore to hybrid"
TIMEOUT=300

run() {
    PIDS=""
    cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null; done; }
    fail() { echo "FAIL: $*"; cleanup; exit 1; }
    # group: name mode action nodes (port 36421 + i, HTTP 9464 + i, SAE IDs <name>-<n>)
    GROUPS_SPEC="either:either:rekey:2 pqc:at-least-pqc:rekey:1 degrade:qkd-and-pqc:degrade:2 oldkey:at-least-qkd:rekey:1 isolate:qkd-and-pqc:isolate:1"
    SAES=""
    for g in $GROUPS_SPEC; do
        # shellcheck disable=SC2046
        set -- $(echo "$g" | tr : ' ')
        name=$1; nodes=$4
        for i in $(seq 1 "$nodes"); do SAES="$SAES $name-$i"; done
    done
    . "$QSAFE_REPO/tests/kernel/lib/keyed.sh"
    # shellcheck disable=SC2086
    keyed_pki $SAES
    keyed_brokers
    keyed_kme 400 --secret-key-rate 1M

    i=0
    SPECS=""
    XAPPS=""
    NODE_PIDS=""
    for g in $GROUPS_SPEC; do
        # shellcheck disable=SC2046
        set -- $(echo "$g" | tr : ' ')
        name=$1; mode=$2; action=$3; nodes=$4
        port=$((36421 + i)); http=$((9464 + i)); i=$((i + 1))
        # A small QKD prefetch (the default 64 keys would hide the outage for a
        # minute) and a fast KME status poll; 1 s rekeys, 3 s max key age.
        cat > "$CASE_DIR/xapp-$name.toml" <<EOF
[keyplane]
prefetch-keys = 4
kme-status-ms = 250
grace-ms = 300
report-period-ms = 500
[freshness]
mode = "$mode"
onViolation = "$action"
rekeyPeriodSeconds = 1
maxKeyAgeSeconds = 3
recoveryHoldSeconds = 2
isolateDeadlineSeconds = 30
EOF
        keyed_group "$name" "$port" "$http" "$nodes"
        SPECS="$SPECS $name:$mode:$action:$nodes:http://$B4:$http"
    done
    ISOLATE_PORT=$((36421 + 4))

    RESULT="$CASE_DIR/outage.json"
    # shellcheck disable=SC2086
    ip netns exec b python3 "$QSAFE_REPO/tests/kernel/lib/keyed_outage.py" http://127.0.0.1:9180 "$RESULT" $SPECS \
        > "$CASE_DIR/driver.log" 2>&1 &
    DRIVER=$!
    PIDS="$PIDS $DRIVER"
    j=0
    while ! grep -q '"outage"' "$RESULT" 2>/dev/null; do
        kill -0 $DRIVER 2>/dev/null || { cat "$CASE_DIR/driver.log"; fail "driver ended before the outage phase"; }
        j=$((j + 1)); [ $j -lt 1500 ] || { cat "$CASE_DIR/driver.log"; fail "outage phase not reached"; }
        sleep 0.1
    done
    cat "$CASE_DIR/driver.log"

    # ---- the kernel while the outage holds. The isolated node's association
    #      was ended by both sides (its SAs and policy went with it); the node
    #      keeps trying E2 Setup on a new association, refused while barred.
    for n in a b; do
        sas=$(ip netns exec $n ip xfrm state | grep -cE "port $ISOLATE_PORT( |\$)")
        pols=$(ip netns exec $n ip xfrm policy | grep -cE "port $ISOLATE_PORT( |\$)")
        live=$(ip netns exec $n ip xfrm state | grep -c 'proto esp')
        echo "[case] netns $n: isolated node: $sas SAs, $pols policies; ESP SAs of the other links: $live"
        [ "$sas" = 0 ] || fail "netns $n: the isolated node still has SAs"
        [ "$pols" = 0 ] || fail "netns $n: the isolated node's ended association left policies"
        [ "$live" -ge 12 ] || fail "netns $n: expected the 6 other links' SAs (>= 12), found $live"
    done
    refused=$(grep -c "E2 Setup rejected" "$CASE_DIR/xapp-isolate.log" || true)
    echo "[case] the isolated node's E2 Setup attempts refused so far: $refused"
    ip netns exec a python3 "$QSAFE_REPO/tests/kernel/lib/capture.py" va "$CASE_DIR/capture.json" \
        "$CASE_DIR/capture.ready" 5 || fail "capture"
    echo "[case] capture during the outage: $(cat "$CASE_DIR/capture.json")"
    python3 - "$CASE_DIR/capture.json" "$ISOLATE_PORT" <<'PY' || fail "capture during the outage"
import json, sys
c = json.load(open(sys.argv[1]))
barred = c["sctp_ports"].get(sys.argv[2], 0)
# ESP for the six keyed links; cleartext SCTP only on the isolated node's
# port (its refused E2 Setup attempts), none for the others.
ok = c["esp"] > 0 and c["sctp"] == barred
print(f"[case] ESP {c['esp']}, cleartext SCTP {c['sctp']} (all of it the barred node's setup attempts: {ok})")
sys.exit(0 if ok else 1)
PY
    touch "$RESULT.go"

    wait $DRIVER || { cat "$CASE_DIR/driver.log"; fail "restore phase (see driver.log, xapp-*.log)"; }
    sed -n '/restored\|back to/p' "$CASE_DIR/driver.log"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("METRIC keyed_outage_state_reached_s=%.1f" % r["reached_s"]); print("METRIC keyed_restore_hybrid_s=%.1f" % r["restored_s"])' "$RESULT"

    # ---- stop: nodes first (their summaries), then the xApps (theirs)
    for p in $NODE_PIDS; do kill -TERM "$p"; done
    for p in $NODE_PIDS; do wait "$p" || fail "a qsafe-e2node exited with $? (see e2node-*.log)"; done
    for p in $XAPPS; do kill -TERM "$p"; done
    for p in $XAPPS; do wait "$p" || fail "a qsafe-xapp exited with $? (see xapp-*.log)"; done
    for g in either pqc degrade oldkey; do
        python3 - "$g" "$CASE_DIR/xapp-$g.json" <<'PY' || fail "KPM of group $g"
import json, sys
s = json.load(open(sys.argv[2]))
bad = [l for l in s["links"] if l["indications"] == 0 or l["seq_missing"] or l["seq_reordered"] or l["undecodable"]]
print(f"[case] {sys.argv[1]}: {s['indications']} KPM indications over {len(s['links'])} links, none missing or reordered: {not bad}")
sys.exit(1 if bad or not s["links"] else 0)
PY
    done
    failed=$(grep -h -c "key plane: rekey failed" "$CASE_DIR"/xapp-*.log | awk '{s+=$1} END {print s+0}')
    done_=$(grep -h -c "key plane: rekey done" "$CASE_DIR"/xapp-*.log | awk '{s+=$1} END {print s+0}')
    refused=$(grep -h -c "cannot rekey now" "$CASE_DIR"/xapp-*.log | awk '{s+=$1} END {print s+0}')
    echo "[case] rekeys: $done_ done, $failed failed after REKEY was sent, $refused not started (no key the mode accepts)"
    echo "METRIC keyed_outage_rekeys_done=$done_"
    keyed_brokers_stop
    cleanup
    echo "PASS KME outage per key-source mode over ESP"
}
