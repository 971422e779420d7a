// LLDP neighbours: a raw AF_PACKET socket per NIC reads ethertype 0x88cc frames and decodes the chassis and port TLVs.
package main

import (
	"context"
	"encoding/binary"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

type lldpInfo struct {
	ChassisID       string `json:"chassisId"`
	PortID          string `json:"portId"`
	SystemName      string `json:"systemName"`
	PortDescription string `json:"portDescription"`
}

const ethPLLDP = 0x88cc

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// readLLDP listens on every NIC at once until each has heard a neighbour or the wait is over.
func readLLDP(nics []nic, wait time.Duration) map[string]*lldpInfo {
	found := map[string]*lldpInfo{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range nics {
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			if info := readLLDPOn(name, wait); info != nil {
				mu.Lock()
				found[name] = info
				mu.Unlock()
			}
		}(n.Name)
	}
	wg.Wait()
	return found
}

func readLLDPOn(name string, wait time.Duration) *lldpInfo {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return nil
	}
	_, _ = run(context.Background(), 5*time.Second, "ip", "link", "set", name, "up")
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(htons(ethPLLDP)))
	if err != nil {
		logf("LLDP on %s: %v", name, err)
		return nil
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(ethPLLDP), Ifindex: ifc.Index}); err != nil {
		return nil
	}
	// the LLDP multicast address is link-local: make the NIC deliver it
	addMembership(fd, ifc.Index, []byte{0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e})
	deadline := time.Now().Add(wait)
	buf := make([]byte, 9000)
	for time.Now().Before(deadline) {
		left := time.Until(deadline)
		if left > time.Second {
			left = time.Second
		}
		tv := syscall.NsecToTimeval(left.Nanoseconds())
		_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil || n < 14 {
			continue
		}
		if info := parseLLDP(buf[:n]); info != nil {
			return info
		}
	}
	return nil
}

// parseLLDP decodes an Ethernet frame carrying LLDPDU TLVs; nil when it is not one or is truncated.
func parseLLDP(frame []byte) *lldpInfo {
	if len(frame) < 14 || binary.BigEndian.Uint16(frame[12:14]) != ethPLLDP {
		return nil
	}
	p := frame[14:]
	info := &lldpInfo{}
	for len(p) >= 2 {
		h := binary.BigEndian.Uint16(p[:2])
		typ, ln := int(h>>9), int(h&0x1ff)
		if 2+ln > len(p) {
			return nil
		}
		v := p[2 : 2+ln]
		p = p[2+ln:]
		switch typ {
		case 0:
			if info.ChassisID == "" {
				return nil
			}
			return info
		case 1:
			info.ChassisID = lldpID(v)
		case 2:
			info.PortID = lldpID(v)
		case 4:
			info.PortDescription = printable(v)
		case 5:
			info.SystemName = printable(v)
		}
	}
	if info.ChassisID == "" {
		return nil
	}
	return info
}

// lldpID renders a chassis/port id TLV: subtype 4 (chassis) / 3 (port) are MAC addresses, the rest text.
func lldpID(v []byte) string {
	if len(v) < 2 {
		return ""
	}
	if (v[0] == 4 || v[0] == 3) && len(v) == 7 {
		return net.HardwareAddr(v[1:]).String()
	}
	return printable(v[1:])
}

func printable(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if r < 32 || r == 127 {
			return -1
		}
		return r
	}, string(b))
	if len(s) > 255 {
		s = s[:255]
	}
	return s
}

// packetMreq is struct packet_mreq (linux/if_packet.h); the syscall package has no wrapper for it.
type packetMreq struct {
	ifindex int32
	typ     uint16
	alen    uint16
	address [8]byte
}

func addMembership(fd, ifindex int, mac []byte) {
	m := packetMreq{ifindex: int32(ifindex), typ: syscall.PACKET_MR_MULTICAST, alen: uint16(len(mac))}
	copy(m.address[:], mac)
	_, _, _ = syscall.Syscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), syscall.SOL_PACKET, syscall.PACKET_ADD_MEMBERSHIP,
		uintptr(unsafe.Pointer(&m)), unsafe.Sizeof(m), 0)
}
