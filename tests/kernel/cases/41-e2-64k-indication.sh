# E2AP with 64 KiB KPM indications over kernel SCTP: one emulated node sends
# 100 indications padded to >= 65536 bytes (--indication-size); the RIC driver
# (e2/examples/ric_check.rs) checks each arrives whole (message >= 65536 B)
# and in sequence, then a control round trip and an abort + reconnect.
# needs: example qsafe-e2 ric_check
# needs: bin qsafe-e2node qsafe-e2node
DESCRIPTION="E2AP: 100 KPM indications of 64 KiB from one node, whole and in sequence"
TIMEOUT=120
in_b() {
    "$QSAFE_BIN/ric_check" --listen "$B4:36421" --nodes 1 --count 100 --min-message-size 65536 \
        --controls 1 --metric-prefix e2_64KiB --setup-deadline 30 --deadline 60
}
in_a() {
    "$QSAFE_BIN/qsafe-e2node" --ric "$B4" --nodes 1 --rate max --count 100 --indication-size 65536 --connect-timeout 3
}
