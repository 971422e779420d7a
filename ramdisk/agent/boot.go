// Kernel command line (rackhand.url, ip=, rackhand.mac, rackhand.dns, console=), console logging, network bring-up.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

type bootConfig struct {
	url      string
	ip       string // "dhcp" or the nfsroot-style static spec
	mac      string
	dns      []string
	consoles []string
}

func readBootConfig(path string) (bootConfig, error) {
	b := bootConfig{ip: "dhcp"}
	raw, err := os.ReadFile(path)
	if err != nil {
		return b, err
	}
	return parseBootArgs(string(raw))
}

func parseBootArgs(cmdline string) (bootConfig, error) {
	b := bootConfig{ip: "dhcp"}
	for _, arg := range strings.Fields(cmdline) {
		k, v, _ := strings.Cut(arg, "=")
		switch k {
		case "rackhand.url":
			b.url = strings.TrimRight(v, "/")
		case "ip":
			b.ip = v
		case "rackhand.mac":
			b.mac = strings.ToLower(v)
		case "rackhand.dns":
			b.dns = strings.Split(v, ",")
		case "console":
			name, _, _ := strings.Cut(v, ",")
			b.consoles = append(b.consoles, name)
		}
	}
	if b.url == "" {
		return b, errors.New("no rackhand.url on the kernel command line")
	}
	if !strings.HasPrefix(b.url, "http://") && !strings.HasPrefix(b.url, "https://") {
		return b, fmt.Errorf("rackhand.url %q is not an http(s) URL", b.url)
	}
	return b, nil
}

var (
	logMu sync.Mutex
	logTo []io.Writer
)

// openConsoles logs to every console= device, not only /dev/console (which is just the last one given).
func openConsoles(names []string) {
	seen := map[string]bool{}
	for _, n := range names {
		p := "/dev/" + n
		if seen[p] {
			continue
		}
		seen[p] = true
		if f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0); err == nil {
			logTo = append(logTo, f)
		}
	}
	if len(logTo) == 0 {
		logTo = []io.Writer{os.Stdout}
	}
}

func logf(format string, a ...interface{}) {
	line := "rackhand-agent: " + fmt.Sprintf(format, a...) + "\r\n"
	logMu.Lock()
	defer logMu.Unlock()
	if len(logTo) == 0 {
		logTo = []io.Writer{os.Stdout}
	}
	for _, w := range logTo {
		_, _ = io.WriteString(w, line)
	}
}

// physicalNics are the interfaces backed by a device (not lo, bridges, bonds or tunnels), sorted by name.
func physicalNics() []string {
	entries, _ := os.ReadDir("/sys/class/net")
	var out []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join("/sys/class/net", e.Name(), "device")); err == nil {
			out = append(out, e.Name())
		}
	}
	return out
}

func readSys(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// bringUpNetwork configures the interface(s): static from ip=<client>::<gw>:<mask>:<host>:<dev>:off, else DHCP.
func bringUpNetwork(ctx context.Context, b bootConfig) error {
	_, _ = run(ctx, 5*time.Second, "ip", "link", "set", "lo", "up")
	var nics []string
	for i := 0; i < 50; i++ {
		nics = physicalNics()
		if len(nics) > 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(nics) == 0 {
		return errors.New("no network interface appeared: the ramdisk may lack this NIC's driver")
	}
	if b.mac != "" {
		var match []string
		for _, n := range nics {
			if strings.EqualFold(readSys("/sys/class/net/"+n+"/address"), b.mac) {
				match = append(match, n)
			}
		}
		if len(match) == 0 {
			return fmt.Errorf("no interface has rackhand.mac=%s (found %s)", b.mac, strings.Join(nics, ", "))
		}
		nics = match
	}
	if b.ip != "dhcp" && b.ip != "" && b.ip != "on" && b.ip != "any" {
		return staticNetwork(ctx, b, nics)
	}
	for _, n := range nics {
		_, _ = run(ctx, 5*time.Second, "ip", "link", "set", n, "up")
	}
	delay := 2 * time.Second
	for attempt := 1; attempt <= 8; attempt++ {
		for _, n := range nics {
			logf("DHCP on %s (attempt %d)", n, attempt)
			if _, err := run(ctx, 30*time.Second, "udhcpc", "-i", n, "-n", "-q", "-f", "-t", "4", "-T", "2", "-s", "/etc/udhcpc.script"); err == nil {
				logf("network up: %s %s", n, addrsOf(n))
				writeDNS(b.dns, true)
				return nil
			}
		}
		time.Sleep(delay)
		if delay < 30*time.Second {
			delay *= 2
		}
	}
	return fmt.Errorf("no DHCP answer on %s: check the DHCP server or boot with ip=<addr>::<gw>:<mask>::<dev>:off", strings.Join(nics, ", "))
}

func staticNetwork(ctx context.Context, b bootConfig, nics []string) error {
	f := strings.Split(b.ip, ":")
	for len(f) < 7 {
		f = append(f, "")
	}
	client, gw, mask, dev := f[0], f[2], f[3], f[5]
	ip := net.ParseIP(client).To4()
	if ip == nil {
		return fmt.Errorf("ip=%s: %q is not an IPv4 address", b.ip, client)
	}
	prefix := 24
	if mask != "" {
		m := net.ParseIP(mask).To4()
		if m == nil {
			return fmt.Errorf("ip=%s: netmask %q is not dotted IPv4", b.ip, mask)
		}
		prefix, _ = net.IPMask(m).Size()
	}
	if dev == "" {
		dev = nics[0]
	}
	steps := [][]string{
		{"ip", "link", "set", dev, "up"},
		{"ip", "addr", "add", fmt.Sprintf("%s/%d", client, prefix), "dev", dev},
	}
	if gw != "" {
		steps = append(steps, []string{"ip", "route", "add", "default", "via", gw, "dev", dev})
	}
	for _, s := range steps {
		if _, err := run(ctx, 10*time.Second, s[0], s[1:]...); err != nil {
			return fmt.Errorf("static address on %s: %v", dev, err)
		}
	}
	writeDNS(b.dns, false)
	// give the link a moment (e1000 needs ~1-2 s for carrier)
	for i := 0; i < 30 && readSys("/sys/class/net/"+dev+"/carrier") != "1"; i++ {
		time.Sleep(200 * time.Millisecond)
	}
	logf("network up: %s %s/%d", dev, client, prefix)
	return nil
}

func writeDNS(servers []string, keepExisting bool) {
	if len(servers) == 0 {
		return
	}
	var sb strings.Builder
	for _, s := range servers {
		if net.ParseIP(s) != nil {
			sb.WriteString("nameserver " + s + "\n")
		}
	}
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if keepExisting {
		flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	if f, err := os.OpenFile("/etc/resolv.conf", flag, 0o644); err == nil {
		_, _ = f.WriteString(sb.String())
		_ = f.Close()
	}
}

func addrsOf(name string) string {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return ""
	}
	addrs, _ := ifc.Addrs()
	var s []string
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			s = append(s, ipn.String())
		}
	}
	return strings.Join(s, " ")
}
