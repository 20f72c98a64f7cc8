# How many PDUs of 65 600 bytes (just above 64 KiB, like a large E2
# indication) per second one association carries, streamed rather than
# ping-pong as in 20-sctp-large-pdus, with the transport's default options.
# Guards the receive-buffer default (qsafe_e2::transport::sctp::
# DEFAULT_RECV_BUFFER): with the kernel's ~208 KiB default such a stream
# crawls at ~6 PDUs/s, with 1 MiB it moves at ~2 000/s; below 100/s fails.
# Prints METRIC sctp_65600B_pdus_per_s.
# needs: example qsafe-e2 sctp_check
DESCRIPTION="throughput: 65 600-byte PDUs/s over one association for 3 s (>= 100/s)"
TIMEOUT=60
in_b() { "$QSAFE_BIN/sctp_check" serve throughput --listen "$B4:36421" --min-rate 100; }
in_a() {
    "$QSAFE_BIN/sctp_check" drive throughput --connect "$B4:36421" --pdu-size 65600 \
        --seconds "${QSAFE_THROUGHPUT_SECONDS:-3}"
}
