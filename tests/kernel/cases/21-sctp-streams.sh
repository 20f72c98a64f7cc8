# 4 streams each way (SCTP_INITMSG); 100 frames on each of streams 0-3 arrive
# with their stream ids, in order per stream; stream 4 is refused with a typed
# error; a PPID 0 frame (OSC e2sim) is accepted.
# needs: example qsafe-e2 sctp_check
DESCRIPTION="frames on streams 0..3 keep their stream ids; stream 4 refused; PPID 0 accepted"
TIMEOUT=60
in_b() { "$QSAFE_BIN/sctp_check" serve streams --listen "$B4:36421"; }
in_a() { "$QSAFE_BIN/sctp_check" drive streams --connect "$B4:36421"; }
