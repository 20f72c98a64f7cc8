# E2AP end to end over kernel SCTP: 100 emulated E2 nodes (qsafe-e2node, one
# association each) against the RIC driver (e2/examples/ric_check.rs). All
# 100 complete E2 Setup; one KPM subscription per node; 1000 sequenced
# indications per node at max rate (100 000 in all) arrive with each node's
# 64-bit sequence contiguous (none lost, none reordered); 3 RIC CONTROL round
# trips are acknowledged; one node's association is aborted by the RIC and the
# node reconnects, sets up again (reconnected) and its sequence continues.
# Prints METRIC e2_indications_per_s, e2_latency_p50_ms / _p99_ms (send time
# in the KPM header vs receive time; same guest clock), setup/reconnect times.
# The simulator gives up 3 s after the RIC has gone, then exits 0 if every
# node set up.
# needs: example qsafe-e2 ric_check
# needs: bin qsafe-e2node qsafe-e2node
DESCRIPTION="E2AP: 100 nodes set up, 100x1000 KPM indications in sequence, controls, abort+reconnect"
TIMEOUT=300
in_b() {
    "$QSAFE_BIN/ric_check" --listen "$B4:36421" --nodes 100 --count 1000 --controls 3 \
        --setup-deadline 90 --deadline 240 --reconnect-deadline 30
}
in_a() {
    "$QSAFE_BIN/qsafe-e2node" --ric "$B4" --nodes 100 --rate max --count 1000 --connect-timeout 3
}
