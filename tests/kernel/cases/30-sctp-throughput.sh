# How many 1 KiB PDUs per second one association carries (single UML vCPU,
# so both ends and the kernel share one CPU). Prints METRIC sctp_1KiB_pdus_per_s.
# needs: example qsafe-e2 sctp_check
DESCRIPTION="throughput: 1 KiB PDUs/s over one association for 3 s"
TIMEOUT=60
in_b() { "$QSAFE_BIN/sctp_check" serve throughput --listen "$B4:36421"; }
in_a() { "$QSAFE_BIN/sctp_check" drive throughput --connect "$B4:36421" --seconds "${QSAFE_THROUGHPUT_SECONDS:-3}"; }
