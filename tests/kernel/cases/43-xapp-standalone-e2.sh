# The xApp binary in standalone mode (its own RIC role) over kernel SCTP:
# qsafe-xapp serves E2 in netns b; 10 qsafe-e2node gNBs in netns a set up,
# the xApp subscribes to each node's E2SM-KPM function on its own (it is not
# told about the nodes), and each node sends 100 indications at 50/s. After
# --duration the xApp prints its JSON summary, which must show 10 links,
# each set up once and subscribed once, with exactly 100 indications that all
# decode (the nodes have left by then: their --duration is shorter). (Deadlines, not sleeps: sending takes ~2 s of the xApp's 12 s.)
# needs: bin qsafe-xapp qsafe-xapp
# needs: bin qsafe-e2node qsafe-e2node
DESCRIPTION="qsafe-xapp standalone: 10 nodes set up, auto KPM subscription, 100 indications each"
TIMEOUT=60
in_b() {
    "$QSAFE_BIN/qsafe-xapp" --e2-listen "$B4:36421" --kpm-period-ms 1000 --duration 12 > "$CASE_DIR/summary.json" || return 1
    python3 - "$CASE_DIR/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
links = s["links"]
bad = [l for l in links if not (l["setups"] == 1 and l["kpm_subscriptions"] == 1
                                and l["indications"] == 100 and l["undecodable"] == 0)]
print(f"[xapp] {len(links)} links, {s['connected']} connected, {s['indications']} indications")
if len(links) != 10 or bad:
    print("FAIL: unexpected links:", json.dumps(bad or links, indent=1))
    sys.exit(1)
print("PASS xapp summary")
PY
}
in_a() {
    "$QSAFE_BIN/qsafe-e2node" --ric "$B4" --nodes 10 --rate 50 --count 100 --duration 6 --connect-timeout 5
}
