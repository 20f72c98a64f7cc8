# The same transport over IPv6 (fd00:99::/64 on the veth pair, no DAD).
# needs: example qsafe-e2 sctp_check
DESCRIPTION="IPv6 association: Up with IPv6 peers, PDUs up to 65537 B echoed, graceful close"
TIMEOUT=60
in_b() { "$QSAFE_BIN/sctp_check" serve echo --listen "[$B6]:36421"; }
in_a() { "$QSAFE_BIN/sctp_check" drive echo --connect "[$B6]:36421"; }
