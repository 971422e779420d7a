// Running the Debian tools: bounded time, output captured, failures as one line that names the tool.
package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// run executes a tool with a time limit and returns its stdout; an error carries the last line of its stderr.
func run(ctx context.Context, limit time.Duration, name string, args ...string) (string, error) {
	return runInput(ctx, limit, "", name, args...)
}

func runInput(ctx context.Context, limit time.Duration, stdin string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return out.String(), fmt.Errorf("%s did not finish within %s", name, limit)
	}
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %s", name, strings.Join(args, " "), lastLine(errb.String(), out.String(), err.Error()))
	}
	return out.String(), nil
}

// lastLine is the last non-empty line of the first text that has one.
func lastLine(texts ...string) string {
	for _, t := range texts {
		lines := strings.Split(strings.TrimSpace(t), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			if l := strings.TrimSpace(lines[i]); l != "" {
				if len(l) > 300 {
					l = l[:300] + "…"
				}
				return l
			}
		}
	}
	return "failed"
}

func matchRE(re, s string) bool {
	return regexp.MustCompile(re).MatchString(s)
}
