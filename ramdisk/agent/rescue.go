// The rescue job: an SSH server (dropbear) for the given keys or root hash until rackhand disarms the job.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"
)

func runRescue(ctx context.Context, c *client, params map[string]interface{}) result {
	var p struct {
		SSHKeys          []string `json:"sshKeys"`
		RootPasswordHash string   `json:"rootPasswordHash"`
	}
	if err := decodeParams(params, &p); err != nil {
		return failed("BAD_JOB", "rescue params: "+err.Error())
	}
	if len(p.SSHKeys) == 0 && p.RootPasswordHash == "" {
		return failed("BAD_JOB", "rescue needs sshKeys or rootPasswordHash")
	}
	c.started("start SSH")
	if len(p.SSHKeys) > 0 {
		if err := writeKeys("/root", p.SSHKeys); err != nil {
			return failed("AGENT_ERROR", err.Error())
		}
	}
	hash := "*"
	if p.RootPasswordHash != "" {
		hash = p.RootPasswordHash
	}
	if err := os.WriteFile("/etc/shadow", []byte(fmt.Sprintf("root:%s:19000:0:99999:7:::\n", hash)), 0o600); err != nil {
		return failed("AGENT_ERROR", err.Error())
	}
	_ = os.MkdirAll("/etc/dropbear", 0o700)
	if _, err := run(ctx, 2*time.Minute, "dropbearkey", "-t", "ed25519", "-f", "/etc/dropbear/dropbear_ed25519_host_key"); err != nil {
		return failed("AGENT_ERROR", "generating the SSH host key: "+err.Error())
	}
	args := []string{"-F", "-E", "-p", "22", "-r", "/etc/dropbear/dropbear_ed25519_host_key"}
	if p.RootPasswordHash == "" {
		args = append(args, "-s") // keys only
	}
	var ssh *exec.Cmd
	start := func() error {
		ssh = exec.Command("dropbear", args...)
		return ssh.Start()
	}
	if err := start(); err != nil {
		c.failedStep("start SSH", err.Error())
		return failed("AGENT_ERROR", "starting dropbear: "+err.Error())
	}
	exited := make(chan error, 1)
	go func() { exited <- ssh.Wait() }()
	// "ssh root@…" is a promise the moment the task shows it: dropbear has forked by now but may not listen yet.
	if err := waitListening("127.0.0.1:22", 15*time.Second); err != nil {
		_ = ssh.Process.Kill()
		c.failedStep("start SSH", err.Error())
		return failed("AGENT_ERROR", "dropbear is not listening on port 22: "+err.Error())
	}
	var addrs []string
	for _, n := range physicalNics() {
		for _, a := range strings.Fields(addrsOf(n)) {
			addrs = append(addrs, "ssh root@"+strings.Split(a, "/")[0])
		}
	}
	c.succeeded("start SSH", "rescue ready: "+strings.Join(addrs, ", "))
	c.started("rescue")
	misses := 0
	for {
		select {
		case err := <-exited:
			c.note("rescue", fmt.Sprintf("dropbear exited (%v): restarting", err))
			time.Sleep(2 * time.Second)
			if err := start(); err == nil {
				go func() { exited <- ssh.Wait() }()
			}
		case <-time.After(10 * time.Second):
		}
		action, err := c.pollJob(ctx)
		switch {
		case err == errNoJob || (err == nil && action != "rescue"):
			c.succeeded("rescue", "disarmed by rackhand: powering off")
			if ssh.Process != nil {
				_ = ssh.Process.Kill()
			}
			return result{OK: true, Result: map[string]interface{}{"ended": "disarmed"}}
		case err != nil:
			misses++
			if misses%6 == 1 {
				logf("rescue: cannot reach rackhand (%v); SSH stays up", err)
			}
		default:
			misses = 0
		}
	}
}

// waitListening returns once a TCP connection to addr succeeds, or the last dial error after `within`.
func waitListening(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
