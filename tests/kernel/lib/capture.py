"""Counts IP protocols seen on an interface (AF_PACKET), for the kernel tier.

    capture.py IFACE OUT.json READY_FILE SECONDS

Writes READY_FILE once the socket is bound, captures for SECONDS (or until
SIGTERM), then writes {"esp", "sctp", "other_ip", "frames", "dropped"} to
OUT.json. "sctp" counts cleartext SCTP (IP protocol 132): with ESP in place
it must stay 0; "sctp_ports" splits it by port (each frame counts once for
its source and once for its destination port). Frames are counted as the veth hands them over (GSO
super-frames count once), so they are fewer than the SA packet counters.
"""
import json
import signal
import socket
import sys
import time

iface, out, ready, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE: 8 MiB, no drops in bursts
s.bind((iface, 0))
s.settimeout(0.1)
counts = {"esp": 0, "sctp": 0, "other_ip": 0, "frames": 0, "dropped": 0, "sctp_ports": {}}
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
open(ready, "w").close()
end = time.monotonic() + seconds
while not stop and time.monotonic() < end:
    try:
        f = s.recv(65535)
    except (socket.timeout, InterruptedError):
        continue
    counts["frames"] += 1
    et = int.from_bytes(f[12:14], "big")
    proto = f[23] if et == 0x0800 and len(f) > 23 else (f[20] if et == 0x86DD and len(f) > 20 else None)
    if proto == 50:
        counts["esp"] += 1
    elif proto == 132:
        counts["sctp"] += 1
        l4 = 14 + (f[14] & 0x0F) * 4 if et == 0x0800 else 14 + 40
        if len(f) >= l4 + 4:
            for port in {int.from_bytes(f[l4:l4 + 2], "big"), int.from_bytes(f[l4 + 2:l4 + 4], "big")}:
                counts["sctp_ports"][str(port)] = counts["sctp_ports"].get(str(port), 0) + 1
    elif proto is not None:
        counts["other_ip"] += 1
try:
    counts["dropped"] = int.from_bytes(s.getsockopt(263, 6, 8)[4:8], "little")  # PACKET_STATISTICS
except OSError:
    pass
json.dump(counts, open(out, "w"))
