#!/usr/bin/python3
"""ra.py IFACE PREFIX|none : the LAN's IPv6 router, reduced to its router advertisements.

A real LAN with an IPv6 router answers a router solicitation at once; iPXE waits for that
(~16 s timeout) before it runs its boot file, so without it every iPXE stage costs ~16 s
(see the e2e's *-stock modes). This sends an RA (prefix PREFIX::/64, autonomous; router
lifetime 0, so nobody routes through us) to ff02::1 on each solicitation and every 3 s.
Runs inside the e2e's LAN namespace only. Stdlib only.
"""
import select
import socket
import struct
import sys
import time


def main():
    iface, prefix = sys.argv[1], sys.argv[2]
    idx = socket.if_nametoindex(iface)
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
    # receive router solicitations (sent to all-routers)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, socket.inet_pton(socket.AF_INET6, "ff02::2") + struct.pack("@I", idx))
    # PREFIX "none": an RA without a prefix (hosts get no address, no route from it); iPXE's
    # autoconf still completes on it
    pfx = socket.inet_pton(socket.AF_INET6, prefix) if prefix != "none" else None
    # RA: type 134, code 0, checksum (kernel fills), cur hop limit 64, flags 0 (no DHCPv6),
    # router lifetime 0, reachable 0, retrans 0; option 3 = prefix information (L+A flags)
    ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 0, 0, 0)
    if pfx:
        ra += struct.pack("!BBBBIII", 3, 4, 64, 0xC0, 600, 300, 0) + pfx
    dst = ("ff02::1", 0, 0, idx)
    last = 0.0
    while True:
        r, _, _ = select.select([s], [], [], 1.0)
        now = time.time()
        send = now - last >= 3.0
        if r:
            data, _ = s.recvfrom(2048)
            if data and data[0] == 133:  # router solicitation
                send = True
        if send:
            try:
                s.sendto(ra, dst)
            except OSError as e:
                print("ra.py: send failed: %s" % e, file=sys.stderr, flush=True)
            last = now


if __name__ == "__main__":
    main()
