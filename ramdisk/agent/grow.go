// Growing the written image's root partition to fill the disk (or to rootSizeMiB) and its ext filesystem with it.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

type partition struct {
	path   string
	number int
	start  int64
	size   int64
	ptype  string
	name   string
	fstype string
	label  string
}

const (
	gptRootX86_64  = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709"
	gptLinuxData   = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
	sectorSizeBase = 512
)

func readPartitions(ctx context.Context, dev string) (label string, parts []partition, sectorSize int64, err error) {
	out, err := run(ctx, 30*time.Second, "sfdisk", "-J", dev)
	if err != nil {
		return "", nil, 0, fmt.Errorf("the image has no readable partition table on %s: %v", dev, err)
	}
	var t struct {
		PT struct {
			Label      string `json:"label"`
			SectorSize int64  `json:"sectorsize"`
			Partitions []struct {
				Node  string `json:"node"`
				Start int64  `json:"start"`
				Size  int64  `json:"size"`
				Type  string `json:"type"`
				Name  string `json:"name"`
			} `json:"partitions"`
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal([]byte(out), &t); err != nil {
		return "", nil, 0, fmt.Errorf("sfdisk -J %s: %v", dev, err)
	}
	if t.PT.SectorSize == 0 {
		t.PT.SectorSize = sectorSizeBase
	}
	for _, p := range t.PT.Partitions {
		var num int
		fmt.Sscanf(p.Node[len(strings.TrimRight(p.Node, "0123456789")):], "%d", &num)
		parts = append(parts, partition{path: p.Node, number: num, start: p.Start, size: p.Size, ptype: strings.ToUpper(p.Type), name: p.Name})
	}
	return t.PT.Label, parts, t.PT.SectorSize, nil
}

func probeFS(ctx context.Context, p *partition) {
	out, _ := run(ctx, 30*time.Second, "blkid", "-p", "-o", "export", p.path)
	for _, l := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "TYPE":
			p.fstype = v
		case "LABEL":
			p.label = v
		}
	}
}

// findRoot: the GPT root (x86-64) type, else a partition named or labelled root, else the last Linux partition.
func findRoot(parts []partition) *partition {
	for i := range parts {
		if parts[i].ptype == gptRootX86_64 {
			return &parts[i]
		}
	}
	for i := range parts {
		if strings.EqualFold(parts[i].name, "root") || strings.EqualFold(parts[i].label, "root") {
			return &parts[i]
		}
	}
	var best *partition
	for i := range parts {
		p := &parts[i]
		linux := p.ptype == gptLinuxData || p.ptype == "83"
		fs := strings.HasPrefix(p.fstype, "ext") || p.fstype == "xfs" || p.fstype == "btrfs"
		if (linux || fs) && (best == nil || p.start > best.start) {
			best = p
		}
	}
	return best
}

// growRoot re-reads the table the image brought, finds the root partition and grows it when it is the last one.
func growRoot(ctx context.Context, dev string, rootMiB int64) (*partition, string, error) {
	_, _ = run(ctx, 30*time.Second, "blockdev", "--rereadpt", dev)
	label, parts, sector, err := readPartitions(ctx, dev)
	if err != nil {
		return nil, "", err
	}
	for i := range parts {
		waitForPath(parts[i].path, 5*time.Second)
		probeFS(ctx, &parts[i])
	}
	root := findRoot(parts)
	if root == nil {
		return nil, "", fmt.Errorf("the image on %s has no Linux root partition (%d partitions): build it with a root partition", dev, len(parts))
	}
	for _, p := range parts {
		if p.start > root.start {
			return root, fmt.Sprintf("%s is root but not the last partition: not grown", root.path), nil
		}
	}
	if label == "gpt" {
		// the backup GPT of a small image sits in the middle of a big disk: move it to the end first
		if _, err := run(ctx, time.Minute, "sfdisk", "--relocate", "gpt-bak-std", dev); err != nil {
			return nil, "", err
		}
	}
	size := "+"
	if rootMiB > 0 {
		if rootMiB*(1<<20)/sector <= root.size {
			return root, fmt.Sprintf("%s is already %d MiB (rootSizeMiB %d): not changed", root.path, root.size*sector>>20, rootMiB), nil
		}
		size = fmt.Sprintf("%dM", rootMiB)
	}
	before := root.size
	if _, err := runInput(ctx, time.Minute, ", "+size+"\n", "sfdisk", "--no-reread", "--no-tell-kernel", "-q", "-N", fmt.Sprint(root.number), dev); err != nil {
		return nil, "", fmt.Errorf("resizing %s: %v", root.path, err)
	}
	if _, err := run(ctx, 30*time.Second, "blockdev", "--rereadpt", dev); err != nil {
		return nil, "", fmt.Errorf("the kernel did not take the new partition table of %s: %v", dev, err)
	}
	_, parts, _, err = readPartitions(ctx, dev)
	if err != nil {
		return nil, "", err
	}
	for i := range parts {
		if parts[i].number == root.number {
			parts[i].fstype, parts[i].label = root.fstype, root.label
			*root = parts[i]
		}
	}
	waitForPath(root.path, 5*time.Second)
	note := fmt.Sprintf("%s grown from %d to %d MiB", root.path, before*sector>>20, root.size*sector>>20)
	switch {
	case strings.HasPrefix(root.fstype, "ext"):
		// e2fsck exits 1 when it corrected something: that is fine before a resize
		cmd := exec.CommandContext(ctx, "e2fsck", "-f", "-p", root.path)
		if out, err := cmd.CombinedOutput(); err != nil && cmd.ProcessState != nil && cmd.ProcessState.ExitCode() > 1 {
			return nil, "", fmt.Errorf("e2fsck %s: %s", root.path, lastLine(string(out), err.Error()))
		}
		if _, err := run(ctx, 30*time.Minute, "resize2fs", root.path); err != nil {
			return nil, "", err
		}
		note += ", " + root.fstype + " resized"
	default:
		note += fmt.Sprintf(", filesystem %q not resized here (it grows on first boot if the image does that)", root.fstype)
	}
	return root, note, nil
}
