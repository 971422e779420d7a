// The rackhand ramdisk agent: brings the network up, fetches its one job from rackhand, runs it, reports the result.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// version is reported in every job result so rackhand can tell which agent ran.
const version = "1"

func main() {
	boot, err := readBootConfig("/proc/cmdline")
	if len(os.Args) > 1 {
		// rackhand-agent URL: run against a given job URL (a person debugging from a rescue shell)
		boot.url = strings.TrimRight(os.Args[1], "/")
		err = nil
	}
	openConsoles(boot.consoles)
	logf("rackhand agent v%s starting", version)
	if err != nil {
		fatalf("%v: boot with rackhand.url=<BASE>/boot/agent/<TOKEN>", err)
	}
	ctx := context.Background()
	if os.Getenv("RACKHAND_AGENT_SKIP_NETWORK") == "" {
		if err := bringUpNetwork(ctx, boot); err != nil {
			fatalf("network: %v", err)
		}
	}
	waitForStorage()
	c := newClient(boot.url)
	job, err := c.fetchJob(ctx)
	if err == errNoJob {
		logf("nothing is armed for this host's token (GET %s/job answered 404): powering off", boot.url)
		powerOff()
	}
	if err != nil {
		fatalf("cannot fetch the job from %s: %v", boot.url, err)
	}
	logf("job: %s", job.Action)
	c.startProgress()
	res := runJob(ctx, c, job)
	c.flushProgress(60 * time.Second)
	if err := c.postResult(ctx, res); err != nil {
		logf("result not delivered: %v", err)
	}
	if res.OK {
		logf("job %s succeeded", job.Action)
	} else {
		logf("job %s failed: %s: %s", job.Action, res.Code, res.Reason)
	}
	after := job.after()
	switch {
	case job.Action == "rescue" || job.Action == "end":
		powerOff()
	case after == "wait" || job.Action == "deploy":
		// rackhand sets the boot device and resets the host through its BMC
		syscall.Sync()
		waitForever("waiting for rackhand to reboot this host")
	case after == "reboot":
		syscall.Sync()
		logf("rebooting")
		_ = syscall.Reboot(syscall.LINUX_REBOOT_CMD_RESTART)
	default:
		powerOff()
	}
}

// runJob dispatches one job; every failure comes back as a result with a code and a one-line reason.
func runJob(ctx context.Context, c *client, job *job) (res result) {
	defer func() {
		if r := recover(); r != nil {
			res = failed("AGENT_ERROR", fmt.Sprintf("agent bug in %s: %v", job.Action, r))
		}
	}()
	switch job.Action {
	case "inspect":
		return runInspect(ctx, c, job.Params)
	case "wipe":
		return runWipe(ctx, c, job.Params)
	case "deploy":
		return runDeploy(ctx, c, job.Params)
	case "rescue":
		return runRescue(ctx, c, job.Params)
	case "end":
		return result{OK: true, Result: map[string]interface{}{}}
	}
	return failed("BAD_JOB", fmt.Sprintf("unknown action %q: this agent (v%s) knows inspect, wipe, deploy, rescue", job.Action, version))
}

func powerOff() {
	syscall.Sync()
	logf("powering off")
	time.Sleep(500 * time.Millisecond)
	_ = syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
	// not PID 1 or not allowed: leave it to /init
	os.Exit(0)
}

func waitForever(why string) {
	for {
		logf("%s", why)
		time.Sleep(5 * time.Minute)
	}
}

// fatalf reports a failure that leaves no job to report to, then lets /init power the host off.
func fatalf(format string, a ...interface{}) {
	logf("FATAL: "+format, a...)
	os.Exit(2)
}
