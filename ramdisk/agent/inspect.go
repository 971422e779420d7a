// The inspect job: system, firmware, CPUs, memory, disks, NICs (with an LLDP neighbour when one answers), health.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

type nic struct {
	Name      string    `json:"name"`
	MAC       string    `json:"mac"`
	Driver    string    `json:"driver"`
	Link      bool      `json:"link"`
	SpeedMbps *int      `json:"speedMbps"`
	LLDP      *lldpInfo `json:"lldp"`
}

type healthCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

func numParam(p map[string]interface{}, key string, def float64) float64 {
	if v, ok := p[key].(float64); ok {
		return v
	}
	return def
}

func runInspect(ctx context.Context, c *client, params map[string]interface{}) result {
	inv := map[string]interface{}{}
	c.started("inspect hardware")
	dmi := "/sys/class/dmi/id/"
	inv["system"] = map[string]string{
		"vendor": readSys(dmi + "sys_vendor"), "model": readSys(dmi + "product_name"),
		"serial": readSys(dmi + "product_serial"), "uuid": readSys(dmi + "product_uuid"),
	}
	mode := "bios"
	if _, err := os.Stat("/sys/firmware/efi"); err == nil {
		mode = "uefi"
	}
	inv["firmware"] = map[string]string{"mode": mode, "vendor": readSys(dmi + "bios_vendor"), "version": readSys(dmi + "bios_version")}
	inv["cpus"] = cpuInfo()
	dmiOut, _ := run(ctx, 30*time.Second, "dmidecode")
	inv["memoryBytes"] = memoryBytes(dmiOut)
	disks := listDisks(ctx, true)
	if disks == nil {
		disks = []disk{}
	}
	inv["disks"] = disks
	nics := listNics()
	c.succeeded("inspect hardware", fmt.Sprintf("%d disks, %d NICs", len(disks), len(nics)))

	if wait := numParam(params, "lldpWaitSeconds", 35); wait > 0 && len(nics) > 0 {
		c.started("LLDP neighbours")
		found := readLLDP(nics, time.Duration(wait*float64(time.Second)))
		n := 0
		for i := range nics {
			if l, ok := found[nics[i].Name]; ok {
				nics[i].LLDP = l
				n++
			}
		}
		c.succeeded("LLDP neighbours", fmt.Sprintf("%d of %d NICs heard a neighbour", n, len(nics)))
	}
	inv["nics"] = nics

	if h, _ := params["healthChecks"].(bool); h {
		c.started("health checks")
		checks := healthChecks(disks, nics)
		bad := 0
		for _, ch := range checks {
			if !ch.OK {
				bad++
			}
		}
		inv["health"] = map[string]interface{}{"checks": checks}
		c.succeeded("health checks", fmt.Sprintf("%d checks, %d failed", len(checks), bad))
	}
	raw := map[string]string{"dmidecode": capText(dmiOut)}
	if out, err := run(ctx, 30*time.Second, "lsblk", "-J", "-b", "-O"); err == nil {
		raw["lsblk"] = capText(out)
	}
	inv["raw"] = raw
	return result{OK: true, Result: map[string]interface{}{"inventory": inv}}
}

func capText(s string) string {
	if len(s) > 64<<10 {
		return s[:64<<10] + "\n[cut]"
	}
	return s
}

func cpuInfo() map[string]interface{} {
	raw, _ := os.ReadFile("/proc/cpuinfo")
	model := ""
	sockets := map[string]bool{}
	cores := map[string]bool{}
	threads := 0
	phys := "0"
	for _, line := range strings.Split(string(raw), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "processor":
			threads++
		case "model name":
			model = v
		case "physical id":
			phys = v
			sockets[v] = true
		case "core id":
			cores[phys+"/"+v] = true
		}
	}
	nSockets, nCores := len(sockets), len(cores)
	if nSockets == 0 {
		nSockets = 1
	}
	if nCores == 0 {
		nCores = threads
	}
	return map[string]interface{}{"model": model, "sockets": nSockets, "cores": nCores, "threads": threads}
}

var dimmSize = regexp.MustCompile(`(?m)^\s*Size:\s*(\d+)\s*(kB|KB|MB|GB|TB)\s*$`)

// memoryBytes is the installed memory: the sum of the SMBIOS memory devices, else what the kernel has online.
func memoryBytes(dmi string) int64 {
	var total int64
	for _, block := range strings.Split(dmi, "\n\n") {
		if !strings.Contains(block, "Memory Device\n") {
			continue
		}
		m := dimmSize.FindStringSubmatch(block)
		if m == nil {
			continue
		}
		n, _ := strconv.ParseInt(m[1], 10, 64)
		mult := map[string]int64{"kB": 1 << 10, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[m[2]]
		total += n * mult
	}
	if total > 0 {
		return total
	}
	bs, _ := strconv.ParseInt(readSys("/sys/devices/system/memory/block_size_bytes"), 16, 64)
	blocks, _ := filepath.Glob("/sys/devices/system/memory/memory*/online")
	for _, b := range blocks {
		if readSys(b) == "1" {
			total += bs
		}
	}
	return total
}

func listNics() []nic {
	var out []nic
	for _, n := range physicalNics() {
		sys := "/sys/class/net/" + n
		drv, _ := os.Readlink(sys + "/device/driver")
		x := nic{Name: n, MAC: readSys(sys + "/address"), Driver: filepath.Base(drv), Link: readSys(sys+"/carrier") == "1"}
		if drv == "" {
			x.Driver = ""
		}
		if s, err := strconv.Atoi(readSys(sys + "/speed")); err == nil && s > 0 {
			x.SpeedMbps = &s
		}
		out = append(out, x)
	}
	if out == nil {
		out = []nic{}
	}
	return out
}

func healthChecks(disks []disk, nics []nic) []healthCheck {
	var checks []healthCheck
	checks = append(checks, healthCheck{Name: "disks present", OK: len(disks) > 0, Detail: fmt.Sprintf("%d local disks", len(disks))})
	for _, d := range disks {
		ch := healthCheck{Name: "SMART " + d.Name, OK: true, Detail: "SMART not available"}
		if d.Smart != nil && d.Smart.Healthy != nil {
			ch.OK = *d.Smart.Healthy
			ch.Detail = map[bool]string{true: "SMART overall health passed", false: "SMART overall health FAILED: replace the disk"}[ch.OK]
		}
		checks = append(checks, ch)
	}
	up := 0
	for _, n := range nics {
		if n.Link {
			up++
		}
	}
	checks = append(checks, healthCheck{Name: "network link", OK: up > 0, Detail: fmt.Sprintf("%d of %d NICs have link", up, len(nics))})
	mem := memoryBytes("")
	checks = append(checks, healthCheck{Name: "memory online", OK: mem > 0, Detail: fmt.Sprintf("%d MiB online", mem>>20)})
	return checks
}

// jsonString is for notes that quote a value.
func jsonString(v interface{}) string {
	b, _ := json.Marshal(v)
	return string(b)
}
