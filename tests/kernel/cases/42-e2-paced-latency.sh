# Indication latency of an unloaded path over kernel SCTP: 10 emulated E2
# nodes each send 500 sequenced KPM indications paced at 100/s (1 000/s in
# all, a fraction of what the path carries at full speed), so the latency
# (KPM header send time vs receive time, same guest clock) is the per-hop
# cost -- encode, node driver, SCTP, RIC driver, decode, dispatch -- not
# queueing as in 40-e2-100-nodes. None lost or reordered; controls and
# reconnect are covered by case 40 and skipped here.
# Prints METRIC e2_paced_latency_p50_ms / _p99_ms / _max_ms.
# needs: example qsafe-e2 ric_check
# needs: bin qsafe-e2node qsafe-e2node
DESCRIPTION="E2AP: 10 nodes x 500 indications paced at 100/s each; p50/p99 latency"
TIMEOUT=120
in_b() {
    "$QSAFE_BIN/ric_check" --listen "$B4:36421" --nodes 10 --count 500 --controls 0 --no-reconnect \
        --metric-prefix e2_paced --setup-deadline 30 --deadline 60
}
in_a() {
    "$QSAFE_BIN/qsafe-e2node" --ric "$B4" --nodes 10 --rate 100 --count 500 --connect-timeout 3
}
