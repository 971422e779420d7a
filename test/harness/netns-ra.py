# Test harness: unsolicited IPv6 router advertisements on one interface (SLAAC prefix, router lifetime 0),
# so iPXE's IPv6 autoconfiguration finishes at once instead of timing out (~13 s per iPXE DHCP).
# Usage (inside the lab namespace): python3 netns-ra.py IFNAME PREFIX   e.g. br0 fd5c:7a1b:213::
import socket
import struct
import sys
import time

ifname, prefix = sys.argv[1], sys.argv[2]
idx = socket.if_nametoindex(ifname)
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)  # RFC 4861: hop limit must be 255
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)

# type 134, code 0, checksum (the kernel fills it for ICMPv6 raw sockets), hop limit 64, no M/O flags,
# router lifetime 0 (not a default router), reachable time 0, retrans timer 0
ra = struct.pack('!BBHBBHII', 134, 0, 0, 64, 0, 0, 0, 0)
# prefix information: on-link + autonomous, valid 1 day, preferred 4 h
ra += struct.pack('!BBBBIII', 3, 4, 64, 0xC0, 86400, 14400, 0) + socket.inet_pton(socket.AF_INET6, prefix)

while True:
    try:
        s.sendto(ra, ('ff02::1', 0, 0, idx))
    except OSError as e:  # link-local address not ready yet (DAD) - try again next round
        sys.stderr.write('ra: %s\n' % e)
    time.sleep(1)
