# 200 PDUs of 1 B .. 1 MiB (4095/4096/4097, 65535/65536/65537, 1048576 among
# them) on streams 0-3: each arrives whole, byte-identical, on its stream,
# with PPID 70, and comes back the same way (echo).
# needs: example qsafe-e2 sctp_check
DESCRIPTION="200 PDUs of 1 B..1 MiB arrive whole and byte-identical, right stream, PPID 70"
TIMEOUT=120
in_b() { "$QSAFE_BIN/sctp_check" serve large-pdus --listen "$B4:36421" --timeout 110; }
in_a() { "$QSAFE_BIN/sctp_check" drive large-pdus --connect "$B4:36421" --timeout 110; }
