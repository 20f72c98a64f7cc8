# The e2 crate's own SCTP integration tests (e2/tests/transport_sctp.rs), run
# where SCTP exists: on the host they assert the "kernel SCTP not available"
# error; here QSAFE_EXPECT_SCTP=1 makes them require a working loopback
# association (IPv4 and IPv6; 64 KiB and 1 MiB PDUs; Up; Down on abort).
# needs: test qsafe-e2 transport_sctp
DESCRIPTION="cargo test transport_sctp inside the guest (SCTP present: loopback must work)"
TIMEOUT=60
run() {
    QSAFE_EXPECT_SCTP=1 ip netns exec a "$QSAFE_BIN/transport_sctp" --test-threads=1
}
