# Association notifications: Up on accept/connect; Down(CommLost) when the
# peer aborts (both directions); Shutdown then Down(ShutdownComplete) on a
# graceful close; recv ends (None) after Down; send after Down fails.
# needs: example qsafe-e2 sctp_check
DESCRIPTION="Up on accept, Down(CommLost) on abort, Shutdown/Down(ShutdownComplete) on close"
TIMEOUT=60
in_b() { "$QSAFE_BIN/sctp_check" serve updown --listen "$B4:36421"; }
in_a() { "$QSAFE_BIN/sctp_check" drive updown --connect "$B4:36421"; }
