// The wipe job: quick (signatures, first and last MiB, discard), zero (every byte) or secure (NVMe format / ATA
// security erase, refused per disk where the disk cannot) with percent progress and a result per disk.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type wipeResult struct {
	Name      string `json:"name"`
	Serial    string `json:"serial"`
	SizeBytes int64  `json:"sizeBytes"`
	Mode      string `json:"mode"`
	OK        bool   `json:"ok"`
	Code      string `json:"code,omitempty"`
	Error     string `json:"error,omitempty"`
}

type codedError struct {
	code string
	msg  string
}

func (e *codedError) Error() string { return e.msg }

func runWipe(ctx context.Context, c *client, params map[string]interface{}) result {
	mode, _ := params["mode"].(string)
	if mode != "quick" && mode != "zero" && mode != "secure" {
		return failed("BAD_JOB", fmt.Sprintf("wipe mode %q is not quick, zero or secure", mode))
	}
	c.started("choose disks")
	stopArrays(ctx)
	all := listDisks(ctx, false)
	targets := all
	if raw, ok := params["disks"].([]interface{}); ok && len(raw) > 0 {
		targets = nil
		for _, r := range raw {
			serial, _ := r.(string)
			var hit *disk
			for i := range all {
				if serial != "" && strings.EqualFold(all[i].Serial, serial) {
					hit = &all[i]
				}
			}
			if hit == nil {
				c.failedStep("choose disks", "no disk with serial "+serial)
				return failed("DISK_NOT_FOUND", fmt.Sprintf("no disk with serial %q on this host (disks: %s)", serial, describeDisks(all)))
			}
			targets = append(targets, *hit)
		}
	}
	if len(targets) == 0 {
		c.failedStep("choose disks", "no local disk")
		return failed("DISK_NOT_FOUND", "no local disk found (the ramdisk sees "+seenBlocks()+")")
	}
	var names []string
	for _, d := range targets {
		names = append(names, d.Name)
	}
	c.succeeded("choose disks", strings.Join(names, ", "))

	results := []wipeResult{}
	var firstErr *codedError
	for _, d := range targets {
		step := fmt.Sprintf("wipe %s (%s)", d.Name, mode)
		c.started(step)
		var err error
		switch mode {
		case "quick":
			err = quickWipe(ctx, d.Path, d.SizeBytes)
		case "zero":
			err = zeroWipe(ctx, c, step, d.Path, d.SizeBytes)
		case "secure":
			err = secureWipe(ctx, c, step, d)
		}
		r := wipeResult{Name: d.Name, Serial: d.Serial, SizeBytes: d.SizeBytes, Mode: mode, OK: err == nil}
		if err != nil {
			ce, ok := err.(*codedError)
			if !ok {
				ce = &codedError{"WIPE_FAILED", err.Error()}
			}
			r.Code, r.Error = ce.code, ce.msg
			if firstErr == nil {
				firstErr = ce
			}
			c.failedStep(step, ce.msg)
		} else {
			c.succeeded(step, "")
		}
		results = append(results, r)
	}
	out := map[string]interface{}{"disks": results}
	if firstErr != nil {
		res := failed(firstErr.code, firstErr.msg)
		res.Result = out
		return res
	}
	return result{OK: true, Result: out}
}

// quickWipe removes every signature, zeroes the first and last MiB (MBR, GPT and its backup, md 1.0 superblock)
// and discards the disk where it supports that.
func quickWipe(ctx context.Context, path string, size int64) error {
	parts, _ := filepath.Glob(filepath.Join("/sys/block", filepath.Base(path), filepath.Base(path)+"*"))
	for _, p := range parts {
		_, _ = run(ctx, time.Minute, "wipefs", "-a", "-f", "/dev/"+filepath.Base(p))
	}
	if _, err := run(ctx, time.Minute, "wipefs", "-a", "-f", path); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	const mib = 1 << 20
	zero := make([]byte, mib)
	ends := []int64{0}
	if size > mib {
		ends = append(ends, size-mib)
	}
	for _, off := range ends {
		n := int64(mib)
		if off+n > size {
			n = size - off
		}
		if _, err := f.WriteAt(zero[:n], off); err != nil {
			return fmt.Errorf("writing zeros at %d: %v", off, err)
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	// discard is best effort: most virtual and many real disks do not support it
	_, _ = run(ctx, 10*time.Minute, "blkdiscard", "-f", path)
	_, _ = run(ctx, 30*time.Second, "blockdev", "--rereadpt", path)
	return nil
}

// zeroWipe writes zeros over every byte, reporting percent.
func zeroWipe(ctx context.Context, c *client, step, path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 4<<20)
	var done int64
	lastPct, lastAt := -1, time.Now()
	for done < size {
		n := int64(len(buf))
		if size-done < n {
			n = size - done
		}
		if _, err := f.WriteAt(buf[:n], done); err != nil {
			return fmt.Errorf("writing zeros at byte %d of %s: %v", done, path, err)
		}
		done += n
		pct := int(done * 100 / size)
		if pct != lastPct && (time.Since(lastAt) > 2*time.Second || pct == 100) {
			c.percent(step, pct)
			lastPct, lastAt = pct, time.Now()
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	_, _ = run(ctx, 30*time.Second, "blockdev", "--rereadpt", path)
	return nil
}

// secureWipe asks the disk's own firmware to erase: NVMe Format with Secure Erase, or ATA Security Erase.
func secureWipe(ctx context.Context, c *client, step string, d disk) error {
	if strings.HasPrefix(d.Name, "nvme") {
		out, err := run(ctx, time.Minute, "nvme", "id-ctrl", d.Path, "-o", "json")
		if err != nil {
			return &codedError{"WIPE_UNSUPPORTED", fmt.Sprintf("%s: cannot read NVMe controller data (%v)", d.Name, err)}
		}
		var id struct {
			OACS int `json:"oacs"`
		}
		_ = json.Unmarshal([]byte(out), &id)
		if id.OACS&0x2 == 0 {
			return &codedError{"WIPE_UNSUPPORTED", fmt.Sprintf("%s (%s, serial %s) does not support NVMe Format: use mode zero", d.Name, d.Model, d.Serial)}
		}
		c.note(step, "nvme format --ses=1")
		if _, err := run(ctx, 6*time.Hour, "nvme", "format", d.Path, "--ses=1", "--force"); err != nil {
			return &codedError{"WIPE_FAILED", fmt.Sprintf("%s: NVMe secure format failed: %v", d.Name, err)}
		}
		return nil
	}
	out, err := run(ctx, time.Minute, "hdparm", "-I", d.Path)
	if err != nil || !strings.Contains(out, "Security:") {
		return &codedError{"WIPE_UNSUPPORTED", fmt.Sprintf("%s (%s, serial %s) supports neither ATA security erase nor NVMe format: use mode zero", d.Name, d.Model, d.Serial)}
	}
	sec := out[strings.Index(out, "Security:"):]
	if i := strings.Index(sec, "\n\t\n"); i > 0 {
		sec = sec[:i]
	}
	if !regexpLine(sec, `^\s*supported\s*$`) {
		return &codedError{"WIPE_UNSUPPORTED", fmt.Sprintf("%s (%s, serial %s) does not support the ATA security feature set: use mode zero", d.Name, d.Model, d.Serial)}
	}
	if !regexpLine(sec, `^\s*not\s+frozen\s*$`) {
		return &codedError{"WIPE_UNSUPPORTED", fmt.Sprintf("%s: ATA security is frozen by the firmware; power-cycle the host into the ramdisk without a BIOS password, or use mode zero", d.Name)}
	}
	const pass = "rackhand"
	if _, err := run(ctx, time.Minute, "hdparm", "--user-master", "u", "--security-set-pass", pass, d.Path); err != nil {
		return &codedError{"WIPE_FAILED", fmt.Sprintf("%s: setting the ATA security password failed: %v", d.Name, err)}
	}
	c.note(step, "ATA security erase (the disk's own estimate: "+eraseEstimate(sec)+")")
	if _, err := run(ctx, 12*time.Hour, "hdparm", "--user-master", "u", "--security-erase", pass, d.Path); err != nil {
		return &codedError{"WIPE_FAILED", fmt.Sprintf("%s: ATA security erase failed: %v (the disk may still hold the password %q)", d.Name, err, pass)}
	}
	return nil
}

func regexpLine(text, re string) bool {
	for _, l := range strings.Split(text, "\n") {
		if matchRE(re, l) {
			return true
		}
	}
	return false
}

func eraseEstimate(sec string) string {
	for _, l := range strings.Split(sec, "\n") {
		if strings.Contains(l, "SECURITY ERASE UNIT") {
			return strings.TrimSpace(l)
		}
	}
	return "unknown"
}
