#!/usr/bin/env python3
"""Test harness: plays a switch port's LLDP agent, sending one LLDPDU a second out of an interface (a lab bridge).

Usage: lldp-sender.py IFACE CHASSIS_MAC PORT_ID SYSTEM_NAME PORT_DESCRIPTION
"""
import socket
import struct
import sys
import time

iface, chassis, port, sysname, portdesc = sys.argv[1:6]


def tlv(t, v):
    return struct.pack('!H', (t << 9) | len(v)) + v


mac = bytes(int(x, 16) for x in chassis.split(':'))
pdu = (tlv(1, b'\x04' + mac) + tlv(2, b'\x05' + port.encode()) + tlv(3, struct.pack('!H', 120))
       + tlv(4, portdesc.encode()) + tlv(5, sysname.encode()) + tlv(0, b''))
frame = b'\x01\x80\xc2\x00\x00\x0e' + mac + b'\x88\xcc' + pdu
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
print('lldp sender ready', flush=True)
while True:
    s.send(frame)
    time.sleep(1)
