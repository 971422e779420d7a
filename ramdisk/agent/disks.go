// Local disks from /sys/block (model and serial from smartctl when it knows them), and picking disks for a job.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

type disk struct {
	Name       string     `json:"name"`
	Path       string     `json:"path"`
	Model      string     `json:"model"`
	Serial     string     `json:"serial"`
	SizeBytes  int64      `json:"sizeBytes"`
	Rotational bool       `json:"rotational"`
	Transport  string     `json:"transport"`
	Smart      *smartInfo `json:"smart,omitempty"`
}

type smartInfo struct {
	Available bool  `json:"available"`
	Healthy   *bool `json:"healthy"`
}

// skippedBlockPrefixes are block devices that are never a server's local disk.
var skippedBlockPrefixes = []string{"loop", "ram", "zram", "sr", "md", "dm-", "nbd", "fd"}

func listDisks(ctx context.Context, withSmart bool) []disk {
	entries, _ := os.ReadDir("/sys/block")
	var out []disk
	for _, e := range entries {
		name := e.Name()
		skip := false
		for _, p := range skippedBlockPrefixes {
			if strings.HasPrefix(name, p) {
				skip = true
			}
		}
		sys := filepath.Join("/sys/block", name)
		if skip || readSys(sys+"/removable") == "1" {
			continue
		}
		sectors, _ := strconv.ParseInt(readSys(sys+"/size"), 10, 64)
		if sectors == 0 {
			continue
		}
		d := disk{
			Name:       name,
			Path:       "/dev/" + name,
			SizeBytes:  sectors * 512,
			Rotational: readSys(sys+"/queue/rotational") == "1",
			Model:      firstNonEmpty(readSys(sys+"/device/model"), readSys(sys+"/device/name")),
			Serial:     firstNonEmpty(readSys(sys+"/device/serial"), readSys(sys+"/serial"), vpdSerial(sys+"/device/vpd_pg80")),
			Transport:  transportOf(sys),
		}
		smartFill(ctx, &d, withSmart)
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// vpdSerial reads SCSI VPD page 0x80 (unit serial number); libata answers it with the ATA serial.
func vpdSerial(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 4 {
		return ""
	}
	n := int(b[3])
	if 4+n > len(b) {
		n = len(b) - 4
	}
	return strings.TrimSpace(string(b[4 : 4+n]))
}

func transportOf(sys string) string {
	link, err := filepath.EvalSymlinks(sys)
	if err != nil {
		return ""
	}
	switch {
	case strings.HasPrefix(filepath.Base(sys), "nvme"):
		return "nvme"
	case strings.Contains(link, "/usb"):
		return "usb"
	case strings.Contains(link, "/ata"):
		return "sata"
	case strings.Contains(link, "/virtio"):
		return "virtio"
	case strings.Contains(link, "/host"):
		return "sas"
	}
	return ""
}

// smartFill takes model/serial from smartctl (full ATA strings, not the 16-character SCSI ones) and, when asked, health.
func smartFill(ctx context.Context, d *disk, health bool) {
	args := []string{"-j", "-i", d.Path}
	if health {
		args = []string{"-j", "-i", "-H", d.Path}
	}
	out, _ := run(ctx, 30*time.Second, "smartctl", args...)
	var s struct {
		ModelName    string `json:"model_name"`
		SerialNumber string `json:"serial_number"`
		SmartSupport *struct {
			Available bool `json:"available"`
			Enabled   bool `json:"enabled"`
		} `json:"smart_support"`
		SmartStatus *struct {
			Passed bool `json:"passed"`
		} `json:"smart_status"`
	}
	if json.Unmarshal([]byte(out), &s) != nil {
		if health {
			d.Smart = &smartInfo{}
		}
		return
	}
	if s.ModelName != "" {
		d.Model = s.ModelName
	}
	if s.SerialNumber != "" {
		d.Serial = s.SerialNumber
	}
	if health {
		info := &smartInfo{Available: s.SmartSupport != nil && s.SmartSupport.Available}
		if s.SmartStatus != nil {
			ok := s.SmartStatus.Passed
			info.Healthy = &ok
		}
		// NVMe has no smart_support block but does report smart_status
		if s.SmartStatus != nil && s.SmartSupport == nil {
			info.Available = true
		}
		d.Smart = info
	}
}

// pickDisks chooses n disks for deploy: largest, smallest or the one with a serial (plus the next by size for a mirror).
func pickDisks(disks []disk, pick, serial string, n int) ([]disk, error) {
	if len(disks) == 0 {
		return nil, fmt.Errorf("no local disk found (the ramdisk sees %s)", seenBlocks())
	}
	sorted := append([]disk(nil), disks...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].SizeBytes > sorted[j].SizeBytes })
	if pick == "smallest" {
		sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].SizeBytes < sorted[j].SizeBytes })
	}
	if pick == "serial" {
		idx := -1
		for i, d := range sorted {
			if serial != "" && strings.EqualFold(d.Serial, serial) {
				idx = i
			}
		}
		if idx < 0 {
			return nil, fmt.Errorf("no disk with serial %q (disks: %s)", serial, describeDisks(disks))
		}
		chosen := sorted[idx]
		sorted = append([]disk{chosen}, append(sorted[:idx:idx], sorted[idx+1:]...)...)
	} else if pick != "largest" && pick != "smallest" && pick != "" {
		return nil, fmt.Errorf("disk.pick %q is not largest, smallest or serial", pick)
	}
	if len(sorted) < n {
		return nil, fmt.Errorf("a mirror needs %d disks, this host has %d (%s)", n, len(sorted), describeDisks(disks))
	}
	return sorted[:n], nil
}

func describeDisks(ds []disk) string {
	var s []string
	for _, d := range ds {
		s = append(s, fmt.Sprintf("%s %s serial %s %d GB", d.Name, d.Model, d.Serial, d.SizeBytes/1e9))
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "; ")
}

func seenBlocks() string {
	entries, _ := os.ReadDir("/sys/block")
	var s []string
	for _, e := range entries {
		s = append(s, e.Name())
	}
	if len(s) == 0 {
		return "no block devices: the storage controller's driver may be missing"
	}
	return strings.Join(s, ", ")
}

// partitionPath is the device of partition n of a disk (sda3, nvme0n1p3, md0p3).
func partitionPath(diskPath string, n int) string {
	last := diskPath[len(diskPath)-1]
	if last >= '0' && last <= '9' {
		return fmt.Sprintf("%sp%d", diskPath, n)
	}
	return fmt.Sprintf("%s%d", diskPath, n)
}

// waitForPath waits for a device node to appear (devtmpfs creates partition nodes after a rescan).
func waitForPath(p string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(p); err == nil {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// stopArrays stops any md array so its member disks can be written (an old install's RAID is assembled by nobody
// here, but be safe).
func stopArrays(ctx context.Context) {
	_, _ = run(ctx, 30*time.Second, "mdadm", "--stop", "--scan")
}

// waitForStorage gives the storage drivers' asynchronous probing time to finish: the set of block devices must
// stay the same for two seconds (at most ten seconds in all), so a job never sees a disk list mid-scan.
func waitForStorage() {
	deadline := time.Now().Add(10 * time.Second)
	last, since := "", time.Now()
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir("/sys/block")
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		cur := strings.Join(names, ",")
		if cur != last {
			last, since = cur, time.Now()
		} else if time.Since(since) >= 2*time.Second && hasDiskName(names) {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func hasDiskName(names []string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, "sd") || strings.HasPrefix(n, "nvme") || strings.HasPrefix(n, "vd") || strings.HasPrefix(n, "xvd") {
			return true
		}
	}
	return false
}
