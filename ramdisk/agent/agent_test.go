// Unit tests of the agent's parsers: kernel command line, LLDP frames (with garbage and truncation), partition paths;
// and the rescue job's wait for its SSH server to listen.
package main

import (
	"math/rand"
	"net"
	"testing"
	"time"
)

func TestParseBootArgs(t *testing.T) {
	b, err := parseBootArgs("console=tty0 console=ttyS0,115200n8 rackhand.url=http://10.0.0.1:8080/boot/agent/abc/ ip=10.0.0.5::10.0.0.1:255.255.255.0:::off rackhand.mac=AA:BB:CC:DD:EE:FF rackhand.dns=1.1.1.1,9.9.9.9")
	if err != nil {
		t.Fatal(err)
	}
	if b.url != "http://10.0.0.1:8080/boot/agent/abc" || b.mac != "aa:bb:cc:dd:ee:ff" || len(b.dns) != 2 || b.ip != "10.0.0.5::10.0.0.1:255.255.255.0:::off" {
		t.Fatalf("parsed %+v", b)
	}
	if len(b.consoles) != 2 || b.consoles[1] != "ttyS0" {
		t.Fatalf("consoles %v", b.consoles)
	}
	if _, err := parseBootArgs("quiet"); err == nil {
		t.Fatal("no rackhand.url must be an error")
	}
	if _, err := parseBootArgs("rackhand.url=ftp://x"); err == nil {
		t.Fatal("a non-http url must be an error")
	}
}

func lldpFrame() []byte {
	f := []byte{0x01, 0x80, 0xc2, 0, 0, 0x0e, 2, 0, 0, 0, 0, 1, 0x88, 0xcc}
	tlv := func(typ int, v []byte) {
		h := uint16(typ<<9 | len(v))
		f = append(f, byte(h>>8), byte(h))
		f = append(f, v...)
	}
	tlv(1, []byte{4, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55})
	tlv(2, append([]byte{5}, "Ethernet12"...))
	tlv(3, []byte{0, 120})
	tlv(4, []byte("uplink to rack 7"))
	tlv(5, []byte("tor-7.dc1"))
	tlv(0, nil)
	return f
}

func TestParseLLDP(t *testing.T) {
	info := parseLLDP(lldpFrame())
	if info == nil || info.ChassisID != "00:11:22:33:44:55" || info.PortID != "Ethernet12" || info.SystemName != "tor-7.dc1" || info.PortDescription != "uplink to rack 7" {
		t.Fatalf("parsed %+v", info)
	}
}

func TestParseLLDPGarbageAndTruncation(t *testing.T) {
	f := lldpFrame()
	for n := 0; n < len(f); n++ {
		parseLLDP(f[:n]) // must not panic
	}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		b := make([]byte, r.Intn(200))
		r.Read(b)
		if len(b) > 13 && i%2 == 0 {
			b[12], b[13] = 0x88, 0xcc
		}
		parseLLDP(b)
	}
}

func TestPartitionPath(t *testing.T) {
	for in, want := range map[string]string{"/dev/sda": "/dev/sda3", "/dev/nvme0n1": "/dev/nvme0n1p3", "/dev/md0": "/dev/md0p3"} {
		if got := partitionPath(in, 3); got != want {
			t.Fatalf("%s → %s, want %s", in, got, want)
		}
	}
}

func TestPickDisks(t *testing.T) {
	ds := []disk{{Name: "sda", Serial: "A", SizeBytes: 10}, {Name: "sdb", Serial: "B", SizeBytes: 30}, {Name: "sdc", Serial: "C", SizeBytes: 20}}
	if got, _ := pickDisks(ds, "largest", "", 1); got[0].Name != "sdb" {
		t.Fatal(got)
	}
	if got, _ := pickDisks(ds, "smallest", "", 2); got[0].Name != "sda" || got[1].Name != "sdc" {
		t.Fatal(got)
	}
	if got, _ := pickDisks(ds, "serial", "c", 2); got[0].Name != "sdc" || got[1].Name != "sdb" {
		t.Fatal(got)
	}
	if _, err := pickDisks(ds, "serial", "Z", 1); err == nil {
		t.Fatal("unknown serial must fail")
	}
	if _, err := pickDisks(ds[:1], "largest", "", 2); err == nil {
		t.Fatal("a mirror on one disk must fail")
	}
}

func TestWaitListening(t *testing.T) {
	// A port nobody listens on yet: the wait ends when the listener appears, not before.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()
	if err := waitListening(addr, 200*time.Millisecond); err == nil {
		t.Fatal("nothing listens: want an error")
	}
	opened := make(chan net.Listener, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Error(err)
		}
		opened <- l
	}()
	if err := waitListening(addr, 5*time.Second); err != nil {
		t.Fatalf("listener opened after 300 ms: %v", err)
	}
	if l := <-opened; l != nil {
		l.Close()
	}
}
