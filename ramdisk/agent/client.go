// The HTTP side of ramdisk/PROTOCOL.md: job, progress (queued, retried, heartbeats), result (retried until delivered).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

type job struct {
	Action string                 `json:"action"`
	Params map[string]interface{} `json:"params"`
}

func (j *job) after() string {
	s, _ := j.Params["after"].(string)
	return s
}

type progress struct {
	Step    string `json:"step"`
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
	Percent *int   `json:"percent,omitempty"`
}

type result struct {
	OK     bool        `json:"ok"`
	Result interface{} `json:"result,omitempty"`
	Code   string      `json:"code,omitempty"`
	Reason string      `json:"reason,omitempty"`
	Agent  string      `json:"agentVersion"`
}

func failed(code, reason string) result {
	return result{OK: false, Code: code, Reason: reason}
}

var errNoJob = errors.New("no job")

// permanentError is an HTTP answer that retrying will not change (4xx other than 408/429).
type permanentError struct{ status int }

func (e permanentError) Error() string { return fmt.Sprintf("HTTP %d", e.status) }

type client struct {
	base  string
	http  *http.Client
	queue chan progress
	done  chan struct{}

	mu       sync.Mutex
	step     string
	lastSent time.Time
}

func newClient(base string) *client {
	return &client{base: base, http: &http.Client{Timeout: 30 * time.Second}}
}

// call does one request; 2xx → body, 404 → errNoJob, other 4xx → permanentError, else a retryable error.
func (c *client) call(ctx context.Context, method, path string, body interface{}) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "rackhand-agent/"+version)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return data, nil
	case resp.StatusCode == 404 || resp.StatusCode == 410:
		return nil, errNoJob
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != 408 && resp.StatusCode != 429:
		return nil, permanentError{resp.StatusCode}
	}
	return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
}

// retry calls until success, a final answer, or the budget is spent; backoff 1 s doubling to 30 s.
func (c *client) retry(ctx context.Context, what string, budget time.Duration, method, path string, body interface{}) ([]byte, error) {
	deadline := time.Now().Add(budget)
	delay := time.Second
	for attempt := 1; ; attempt++ {
		data, err := c.call(ctx, method, path, body)
		if err == nil || err == errNoJob {
			return data, err
		}
		var perm permanentError
		if errors.As(err, &perm) {
			return nil, fmt.Errorf("%s: rackhand answered %v", what, err)
		}
		if time.Now().Add(delay).After(deadline) {
			return nil, fmt.Errorf("%s: giving up after %d attempts: %v", what, attempt, err)
		}
		logf("%s: %v; retrying in %s", what, err, delay)
		time.Sleep(delay)
		if delay *= 2; delay > 30*time.Second {
			delay = 30 * time.Second
		}
	}
}

func (c *client) fetchJob(ctx context.Context) (*job, error) {
	data, err := c.retry(ctx, "GET job", 10*time.Minute, "GET", "/job", nil)
	if err != nil {
		return nil, err
	}
	var j job
	if err := json.Unmarshal(data, &j); err != nil || j.Action == "" {
		return nil, fmt.Errorf("GET job: the answer is not a job: %.200s", string(data))
	}
	if j.Params == nil {
		j.Params = map[string]interface{}{}
	}
	return &j, nil
}

// pollJob is one quick GET /job (rescue checks whether it is still armed); transient errors are not an end.
func (c *client) pollJob(ctx context.Context) (action string, err error) {
	data, err := c.call(ctx, "GET", "/job", nil)
	if err != nil {
		return "", err
	}
	var j job
	if err := json.Unmarshal(data, &j); err != nil {
		return "", err
	}
	return j.Action, nil
}

// startProgress starts the sender; progress never blocks the job, and a silence of 25 s sends a heartbeat.
func (c *client) startProgress() {
	c.queue = make(chan progress, 512)
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case p, ok := <-c.queue:
				if !ok {
					return
				}
				c.send(p)
			case <-tick.C:
				c.mu.Lock()
				idle := time.Since(c.lastSent) > 25*time.Second
				step := c.step
				c.mu.Unlock()
				if idle && step != "" {
					c.send(progress{Step: step, State: "heartbeat"})
				}
			}
		}
	}()
}

func (c *client) send(p progress) {
	_, err := c.retry(context.Background(), "POST progress", 2*time.Minute, "POST", "/progress", p)
	c.mu.Lock()
	c.lastSent = time.Now()
	c.mu.Unlock()
	if err != nil && err != errNoJob {
		logf("progress %q %s not delivered: %v", p.Step, p.State, err)
	}
}

func (c *client) post(p progress) {
	c.mu.Lock()
	if p.State == "started" || p.State == "note" {
		c.step = p.Step
	}
	c.mu.Unlock()
	line := p.Step + ": " + p.State
	if p.Percent != nil {
		line += fmt.Sprintf(" %d%%", *p.Percent)
	}
	if p.Message != "" {
		line += " — " + p.Message
	}
	logf("%s", line)
	if c.queue == nil {
		return
	}
	select {
	case c.queue <- p:
	default:
		if p.Percent == nil {
			logf("progress queue full: %q dropped", p.Step)
		}
	}
}

func (c *client) started(step string) { c.post(progress{Step: step, State: "started"}) }
func (c *client) succeeded(step, msg string) {
	c.post(progress{Step: step, State: "succeeded", Message: msg})
}
func (c *client) failedStep(step, msg string) {
	c.post(progress{Step: step, State: "failed", Message: msg})
}
func (c *client) note(step, msg string) { c.post(progress{Step: step, State: "note", Message: msg}) }
func (c *client) percent(step string, pct int) {
	c.post(progress{Step: step, State: "started", Percent: &pct})
}

// flushProgress waits (bounded) until queued progress is out, so the result arrives after the steps it ends.
func (c *client) flushProgress(limit time.Duration) {
	if c.queue == nil {
		return
	}
	close(c.queue)
	select {
	case <-c.done:
	case <-time.After(limit):
		logf("progress still queued after %s; sending the result anyway", limit)
	}
	c.queue = nil
}

func (c *client) postResult(ctx context.Context, r result) error {
	r.Agent = version
	_, err := c.retry(ctx, "POST result", 10*time.Minute, "POST", "/result", r)
	if err == errNoJob {
		return errors.New("rackhand no longer knows this token (404)")
	}
	return err
}
