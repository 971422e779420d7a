// Configuring the installed system on its root filesystem: hostname, root hash, SSH keys, static network,
// cloud-init NoCloud seed, post-install script.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const targetDir = "/mnt/target"

func configureSystem(ctx context.Context, c *client, root *partition, cfg systemConfig) ([]string, error) {
	_ = os.MkdirAll(targetDir, 0o755)
	fstype := root.fstype
	if fstype == "" {
		fstype = "auto"
	}
	if _, err := run(ctx, time.Minute, "mount", "-t", fstype, root.path, targetDir); err != nil {
		return nil, fmt.Errorf("mounting the root filesystem %s (%s): %v", root.path, fstype, err)
	}
	defer func() {
		_, _ = run(context.Background(), time.Minute, "umount", targetDir)
	}()
	t := func(p string) string { return filepath.Join(targetDir, p) }
	var notes []string
	fqdn := cfg.Hostname
	if cfg.Domain != "" {
		fqdn += "." + cfg.Domain
	}
	if err := os.MkdirAll(t("etc"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(t("etc/hostname"), []byte(cfg.Hostname+"\n"), 0o644); err != nil {
		return nil, err
	}
	if err := editHosts(t("etc/hosts"), cfg.Hostname, fqdn); err != nil {
		return nil, err
	}
	notes = append(notes, "hostname "+fqdn)
	if cfg.RootPasswordHash != "" {
		if err := setRootHash(t("etc/shadow"), cfg.RootPasswordHash); err != nil {
			return nil, err
		}
		notes = append(notes, "root password hash set")
	}
	home := rootHome(t("etc/passwd"))
	if len(cfg.SSHKeys) > 0 {
		if err := writeKeys(filepath.Join(targetDir, home), cfg.SSHKeys); err != nil {
			return nil, err
		}
		notes = append(notes, fmt.Sprintf("%d SSH keys", len(cfg.SSHKeys)))
	}
	if cfg.Network != nil && len(cfg.Network.Interfaces) > 0 {
		n, err := writeNetwork(cfg.Network)
		if err != nil {
			return nil, err
		}
		notes = append(notes, n)
	}
	hasCloudInit := exists(t("usr/bin/cloud-init")) || exists(t("etc/cloud/cloud.cfg"))
	if hasCloudInit {
		if err := writeNoCloudSeed(cfg, fqdn); err != nil {
			return nil, err
		}
		notes = append(notes, "cloud-init NoCloud seed")
	} else if cfg.CloudInit != "" {
		c.note("configure system", "the image has no cloud-init: cloud_init_script not applied (the direct edits were made)")
	}
	if cfg.PostInstallScript != "" {
		c.succeeded("configure system", strings.Join(notes, "; "))
		if err := postInstall(ctx, c, home, cfg.PostInstallScript); err != nil {
			return nil, err
		}
		notes = append(notes, "post-install script ran")
		c.started("configure system")
	}
	return notes, nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// resolveIn follows symlinks inside the target root (absolute links point into the target, not the ramdisk).
func resolveIn(root, p string) string {
	for i := 0; i < 16; i++ {
		full := filepath.Join(root, p)
		link, err := os.Readlink(full)
		if err != nil {
			return full
		}
		if filepath.IsAbs(link) {
			p = link
		} else {
			p = filepath.Join(filepath.Dir(p), link)
		}
	}
	return filepath.Join(root, p)
}

func editHosts(path, host, fqdn string) error {
	old, _ := os.ReadFile(path)
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(old), "\n"), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "127.0.1.1") || l == "" && len(lines) == 0 {
			continue
		}
		lines = append(lines, l)
	}
	if len(old) == 0 {
		lines = []string{"127.0.0.1\tlocalhost"}
	}
	entry := "127.0.1.1\t" + fqdn
	if fqdn != host {
		entry += "\t" + host
	}
	out := []string{lines[0], entry}
	out = append(out, lines[1:]...)
	return os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), 0o644)
}

func setRootHash(path, hash string) error {
	st, err := os.Stat(path)
	mode := os.FileMode(0o640)
	if err == nil {
		mode = st.Mode().Perm()
	}
	old, _ := os.ReadFile(path)
	var lines []string
	found := false
	for _, l := range strings.Split(strings.TrimRight(string(old), "\n"), "\n") {
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "root:") {
			f := strings.Split(l, ":")
			for len(f) < 9 {
				f = append(f, "")
			}
			f[1] = hash
			l = strings.Join(f, ":")
			found = true
		}
		lines = append(lines, l)
	}
	if !found {
		days := time.Now().Unix() / 86400
		lines = append([]string{fmt.Sprintf("root:%s:%d:0:99999:7:::", hash, days)}, lines...)
	}
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), mode)
}

func rootHome(passwd string) string {
	b, _ := os.ReadFile(passwd)
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) >= 6 && f[0] == "root" && strings.HasPrefix(f[5], "/") {
			return f[5]
		}
	}
	return "/root"
}

func writeKeys(home string, keys []string) error {
	dir := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	_ = os.Chmod(home, 0o700)
	_ = os.Chmod(dir, 0o700)
	return os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(strings.Join(keys, "\n")+"\n"), 0o600)
}

func nicNameByMAC(mac string) string {
	for _, n := range physicalNics() {
		if strings.EqualFold(readSys("/sys/class/net/"+n+"/address"), mac) {
			return n
		}
	}
	return ""
}

// writeNetwork writes systemd-networkd files (matched by MAC) and ifupdown stanzas where the image uses those.
func writeNetwork(n *netCfg) (string, error) {
	t := func(p string) string { return filepath.Join(targetDir, p) }
	networkd := exists(t("etc/systemd/network")) || exists(t("lib/systemd/systemd-networkd")) || exists(t("usr/lib/systemd/systemd-networkd"))
	ifupdown := exists(t("etc/network/interfaces"))
	var written []string
	for _, ifc := range n.Interfaces {
		mac, err := net.ParseMAC(ifc.MAC)
		if err != nil {
			return "", fmt.Errorf("config.network: %q is not a MAC address", ifc.MAC)
		}
		for _, a := range ifc.Addresses {
			if _, _, err := net.ParseCIDR(a); err != nil {
				return "", fmt.Errorf("config.network: %q is not an address/prefix", a)
			}
		}
		id := strings.ReplaceAll(mac.String(), ":", "")
		if networkd || !ifupdown {
			var sb strings.Builder
			fmt.Fprintf(&sb, "# written by rackhand\n[Match]\nMACAddress=%s\n\n[Network]\n", mac)
			for _, a := range ifc.Addresses {
				fmt.Fprintf(&sb, "Address=%s\n", a)
			}
			if ifc.Gateway != "" {
				fmt.Fprintf(&sb, "Gateway=%s\n", ifc.Gateway)
			}
			for _, d := range ifc.DNS {
				fmt.Fprintf(&sb, "DNS=%s\n", d)
			}
			if err := os.MkdirAll(t("etc/systemd/network"), 0o755); err != nil {
				return "", err
			}
			p := "etc/systemd/network/10-rackhand-" + id + ".network"
			if err := os.WriteFile(t(p), []byte(sb.String()), 0o644); err != nil {
				return "", err
			}
			written = append(written, "/"+p)
		}
		if ifupdown {
			name := nicNameByMAC(mac.String())
			if name == "" {
				name = "eth0"
			}
			var sb strings.Builder
			fmt.Fprintf(&sb, "# written by rackhand for %s (the name the rackhand ramdisk's kernel gave it)\nauto %s\n", mac, name)
			for i, a := range ifc.Addresses {
				fam := "inet"
				if strings.Contains(a, ":") {
					fam = "inet6"
				}
				fmt.Fprintf(&sb, "iface %s %s static\n    address %s\n", name, fam, a)
				if i == 0 && ifc.Gateway != "" {
					fmt.Fprintf(&sb, "    gateway %s\n", ifc.Gateway)
				}
				if i == 0 && len(ifc.DNS) > 0 {
					fmt.Fprintf(&sb, "    dns-nameservers %s\n", strings.Join(ifc.DNS, " "))
				}
			}
			_ = os.MkdirAll(t("etc/network/interfaces.d"), 0o755)
			p := "etc/network/interfaces.d/rackhand-" + id
			if err := os.WriteFile(t(p), []byte(sb.String()), 0o644); err != nil {
				return "", err
			}
			written = append(written, "/"+p)
		}
	}
	return "static network: " + strings.Join(written, ", "), nil
}

func writeNoCloudSeed(cfg systemConfig, fqdn string) error {
	dir := filepath.Join(targetDir, "var/lib/cloud/seed/nocloud")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	id := sha256.Sum256([]byte(fmt.Sprintf("%s|%d", fqdn, time.Now().UnixNano())))
	meta := fmt.Sprintf("instance-id: rackhand-%s\nlocal-hostname: %s\n", hex.EncodeToString(id[:6]), fqdn)
	user := cfg.CloudInit
	if user == "" {
		user = "#cloud-config\n{}\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "meta-data"), []byte(meta), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "user-data"), []byte(user), 0o600); err != nil {
		return err
	}
	if cfg.Network != nil && len(cfg.Network.Interfaces) > 0 {
		var sb strings.Builder
		sb.WriteString("version: 2\nethernets:\n")
		for i, ifc := range cfg.Network.Interfaces {
			fmt.Fprintf(&sb, "  rh%d:\n    match:\n      macaddress: \"%s\"\n    addresses: [%s]\n", i, strings.ToLower(ifc.MAC), quoteList(ifc.Addresses))
			if ifc.Gateway != "" {
				fmt.Fprintf(&sb, "    gateway4: \"%s\"\n", ifc.Gateway)
			}
			if len(ifc.DNS) > 0 {
				fmt.Fprintf(&sb, "    nameservers:\n      addresses: [%s]\n", quoteList(ifc.DNS))
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "network-config"), []byte(sb.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = `"` + x + `"`
	}
	return strings.Join(q, ", ")
}

// postInstall runs the script chrooted in the installed system (with /dev, /proc, /sys), or leaves it in root's home.
func postInstall(ctx context.Context, c *client, home, script string) error {
	step := "post-install script"
	c.started(step)
	rel := filepath.Join(home, "rackhand-post-install.sh")
	if err := os.WriteFile(filepath.Join(targetDir, rel), []byte(script), 0o700); err != nil {
		return err
	}
	if !exists(resolveIn(targetDir, "/bin/sh")) {
		c.succeeded(step, "the image has no /bin/sh: the script was left in "+rel)
		return nil
	}
	for _, m := range []string{"dev", "proc", "sys"} {
		_ = os.MkdirAll(filepath.Join(targetDir, m), 0o755)
		_, _ = run(ctx, 30*time.Second, "mount", "--bind", "/"+m, filepath.Join(targetDir, m))
	}
	defer func() {
		for _, m := range []string{"sys", "proc", "dev"} {
			_, _ = run(context.Background(), 30*time.Second, "umount", "-l", filepath.Join(targetDir, m))
		}
	}()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, "chroot", targetDir, "/bin/sh", rel)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + home, "RACKHAND_POST_INSTALL=1"}
	out, err := cmd.CombinedOutput()
	_ = os.WriteFile(filepath.Join(targetDir, home, "rackhand-post-install.log"), out, 0o600)
	if err != nil {
		msg := fmt.Sprintf("post-install script failed (%v): %s", err, lastLine(string(out), ""))
		if cctx.Err() != nil {
			msg = "post-install script did not finish within 30 minutes"
		}
		c.failedStep(step, msg)
		return &codedError{"POST_INSTALL_FAILED", msg}
	}
	c.succeeded(step, "exit 0: "+lastLine(string(out), "no output"))
	return nil
}

var _ = errors.New
