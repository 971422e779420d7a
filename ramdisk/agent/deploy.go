// The deploy job: pick the disk(s), stream the image onto it verifying sha256 on the way (no temp copy), grow the
// root partition, configure the installed system.
package main

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

type deployParams struct {
	Image struct {
		URL       string `json:"url"`
		SHA256    string `json:"sha256"`
		Format    string `json:"format"`
		SizeBytes int64  `json:"sizeBytes"`
	} `json:"image"`
	Disk struct {
		Pick   string `json:"pick"`
		Serial string `json:"serial"`
	} `json:"disk"`
	Mirror      bool         `json:"mirror"`
	RootSizeMiB int64        `json:"rootSizeMiB"`
	Config      systemConfig `json:"config"`
}

type systemConfig struct {
	Hostname          string   `json:"hostname"`
	Domain            string   `json:"domain"`
	RootPasswordHash  string   `json:"rootPasswordHash"`
	SSHKeys           []string `json:"sshKeys"`
	Network           *netCfg  `json:"network"`
	PostInstallScript string   `json:"postInstallScript"`
	CloudInit         string   `json:"cloudInit"`
}

type netCfg struct {
	Interfaces []struct {
		MAC       string   `json:"mac"`
		Addresses []string `json:"addresses"`
		Gateway   string   `json:"gateway"`
		DNS       []string `json:"dns"`
	} `json:"interfaces"`
}

var (
	sha256RE   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	domainRE   = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
)

func decodeParams(params map[string]interface{}, into interface{}) error {
	b, err := json.Marshal(params)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

func (p *deployParams) validate() error {
	switch {
	case !strings.HasPrefix(p.Image.URL, "http://") && !strings.HasPrefix(p.Image.URL, "https://"):
		return fmt.Errorf("image.url %q is not an http(s) URL", p.Image.URL)
	case !sha256RE.MatchString(strings.ToLower(p.Image.SHA256)):
		return errors.New("image.sha256 must be 64 hex digits")
	case p.Image.Format != "raw" && p.Image.Format != "raw.gz" && p.Image.Format != "raw.zst" && p.Image.Format != "raw.xz":
		return fmt.Errorf("image.format %q is not raw, raw.gz, raw.zst or raw.xz", p.Image.Format)
	case !hostnameRE.MatchString(p.Config.Hostname):
		return fmt.Errorf("config.hostname %q is not a host name label", p.Config.Hostname)
	case p.Config.Domain != "" && !domainRE.MatchString(p.Config.Domain):
		return fmt.Errorf("config.domain %q is not a domain name", p.Config.Domain)
	case p.Config.RootPasswordHash != "" && (!strings.HasPrefix(p.Config.RootPasswordHash, "$6$") || strings.ContainsAny(p.Config.RootPasswordHash, ":\n")):
		return errors.New("config.rootPasswordHash must be a SHA-512 crypt hash ($6$…)")
	case p.RootSizeMiB < 0:
		return errors.New("rootSizeMiB must not be negative")
	}
	for _, k := range p.Config.SSHKeys {
		if strings.ContainsAny(k, "\n\r") {
			return errors.New("config.sshKeys: a key must be one line")
		}
	}
	return nil
}

func runDeploy(ctx context.Context, c *client, params map[string]interface{}) result {
	var p deployParams
	if err := decodeParams(params, &p); err != nil {
		return failed("BAD_JOB", "deploy params: "+err.Error())
	}
	p.Image.SHA256 = strings.ToLower(p.Image.SHA256)
	if err := p.validate(); err != nil {
		return failed("BAD_JOB", err.Error())
	}

	c.started("choose disk")
	stopArrays(ctx)
	n := 1
	if p.Mirror {
		n = 2
	}
	chosen, err := pickDisks(listDisks(ctx, false), p.Disk.Pick, p.Disk.Serial, n)
	if err != nil {
		c.failedStep("choose disk", err.Error())
		return failed("DISK_NOT_FOUND", err.Error())
	}
	target := chosen[0].Path
	for _, d := range chosen {
		if err := quickWipe(ctx, d.Path, d.SizeBytes); err != nil {
			c.failedStep("choose disk", err.Error())
			return failed("DISK_WRITE_FAILED", fmt.Sprintf("clearing %s: %v", d.Path, err))
		}
	}
	desc := fmt.Sprintf("%s (%s, serial %s, %d MiB)", chosen[0].Path, chosen[0].Model, chosen[0].Serial, chosen[0].SizeBytes>>20)
	if p.Mirror {
		desc += fmt.Sprintf(" mirrored with %s (serial %s)", chosen[1].Path, chosen[1].Serial)
	}
	c.succeeded("choose disk", desc)
	if p.Mirror {
		c.started("create mirror")
		md, err := createMirror(ctx, chosen[0].Path, chosen[1].Path)
		if err != nil {
			c.failedStep("create mirror", err.Error())
			return failed("MIRROR_FAILED", err.Error())
		}
		target = md
		c.succeeded("create mirror", md+" = RAID1 (metadata 1.0) of "+chosen[0].Path+" and "+chosen[1].Path)
	}

	written, sum, ferr := streamImage(ctx, c, p, target)
	if ferr != nil {
		if ferr.code == "IMAGE_CORRUPT" || ferr.code == "IMAGE_INVALID" {
			c.failedStep("verify checksum", ferr.msg)
			// the disk must not boot half an image: take its partition tables and signatures away
			for _, d := range chosen {
				_ = quickWipe(ctx, d.Path, d.SizeBytes)
			}
		}
		return failed(ferr.code, ferr.msg)
	}
	c.succeeded("verify checksum", "sha256 "+sum)

	c.started("grow root partition")
	root, growNote, err := growRoot(ctx, target, p.RootSizeMiB)
	if err != nil {
		c.failedStep("grow root partition", err.Error())
		return failed("PARTITION_FAILED", err.Error())
	}
	c.succeeded("grow root partition", growNote)

	c.started("configure system")
	notes, err := configureSystem(ctx, c, root, p.Config)
	if err != nil {
		var ce *codedError
		if errors.As(err, &ce) {
			return failed(ce.code, ce.msg)
		}
		c.failedStep("configure system", err.Error())
		return failed("CONFIGURE_FAILED", err.Error())
	}
	c.succeeded("configure system", strings.Join(notes, "; "))
	syscall.Sync()
	res := map[string]interface{}{"disk": chosen[0].Path, "serial": chosen[0].Serial, "bytesWritten": written, "sha256": sum, "rootPartition": root.path}
	if p.Mirror {
		res["mirror"] = map[string]interface{}{"device": target, "disks": []string{chosen[0].Path, chosen[1].Path}, "serials": []string{chosen[0].Serial, chosen[1].Serial}}
	}
	return result{OK: true, Result: res}
}

func createMirror(ctx context.Context, a, b string) (string, error) {
	md := "/dev/md0"
	_, err := run(ctx, 2*time.Minute, "mdadm", "--create", md, "--run", "--metadata=1.0", "--level=1", "--raid-devices=2", "--homehost=any", a, b)
	if err != nil {
		return "", err
	}
	if !waitForPath(md, 10*time.Second) {
		return "", errors.New(md + " did not appear after mdadm --create")
	}
	return md, nil
}

// countingReader counts the served bytes and reports percent of the total at most every 2 s.
type countingReader struct {
	r       io.Reader
	n       int64
	total   func() int64
	onPct   func(int)
	lastPct int32
	lastAt  time.Time
}

func (cr *countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	atomic.AddInt64(&cr.n, int64(n))
	if t := cr.total(); t > 0 && n > 0 {
		pct := int(atomic.LoadInt64(&cr.n) * 100 / t)
		if pct > 100 {
			pct = 100
		}
		if int32(pct) != cr.lastPct && (time.Since(cr.lastAt) > 2*time.Second || pct == 100) {
			cr.lastPct, cr.lastAt = int32(pct), time.Now()
			cr.onPct(pct)
		}
	}
	return n, err
}

// streamImage writes the decompressed image to dev while hashing the served bytes; the hash decides.
func streamImage(ctx context.Context, c *client, p deployParams, dev string) (int64, string, *codedError) {
	step := "stream image"
	c.started(step)
	rr, err := openImage(ctx, p.Image.URL, func(s string) { c.note(step, s) })
	if err != nil {
		ce := asCoded(err, "IMAGE_UNAVAILABLE")
		c.failedStep(step, ce.msg)
		return 0, "", ce
	}
	defer rr.Close()
	hasher := sha256.New()
	total := func() int64 {
		if rr.total > 0 {
			return rr.total
		}
		return p.Image.SizeBytes
	}
	counted := &countingReader{r: rr, total: total, onPct: func(pct int) { c.percent(step, pct) }, lastPct: -1}
	src := io.TeeReader(counted, hasher)

	out, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		return 0, "", &codedError{"DISK_WRITE_FAILED", fmt.Sprintf("open %s: %v", dev, err)}
	}
	defer out.Close()

	var dec io.Reader
	var cmd *exec.Cmd
	switch p.Image.Format {
	case "raw":
		dec = src
	case "raw.gz":
		gz, err := gzip.NewReader(src)
		if err != nil {
			return 0, "", finishCorrupt(c, step, src, hasher, p, "not gzip data: "+err.Error())
		}
		dec = gz
	case "raw.zst", "raw.xz":
		tool := map[string]string{"raw.zst": "zstd", "raw.xz": "xz"}[p.Image.Format]
		cmd = exec.CommandContext(ctx, tool, "-dc")
		cmd.Stdin = src
		var stderr strings.Builder
		cmd.Stderr = &stderr
		pipe, err := cmd.StdoutPipe()
		if err == nil {
			err = cmd.Start()
		}
		if err != nil {
			return 0, "", &codedError{"AGENT_ERROR", fmt.Sprintf("cannot start %s: %v", tool, err)}
		}
		dec = &toolReader{pipe: pipe, cmd: cmd, stderr: &stderr, tool: tool}
	}

	buf := make([]byte, 4<<20)
	written, copyErr := io.CopyBuffer(onlyWriter{out}, dec, buf)
	var writeErr, readErr error
	if copyErr != nil {
		if _, isWrite := copyErr.(writeError); isWrite {
			writeErr = copyErr
		} else {
			readErr = copyErr
		}
	}
	if cmd != nil && writeErr != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	if writeErr != nil {
		if errors.Is(writeErr, syscall.ENOSPC) {
			msg := fmt.Sprintf("the image is larger than %s (%d bytes written before the disk was full): choose a larger disk", dev, written)
			c.failedStep(step, msg)
			return written, "", &codedError{"DISK_TOO_SMALL", msg}
		}
		c.failedStep(step, writeErr.Error())
		return written, "", &codedError{"DISK_WRITE_FAILED", fmt.Sprintf("writing %s: %v", dev, writeErr)}
	}
	if readErr != nil {
		var ce *codedError
		if errors.As(readErr, &ce) {
			c.failedStep(step, ce.msg)
			return written, "", ce
		}
		return written, "", finishCorrupt(c, step, src, hasher, p, readErr.Error())
	}
	// a decompressor may stop at the end of its frame: whatever the server still sends counts for the hash
	if _, err := io.Copy(io.Discard, src); err != nil {
		ce := asCoded(err, "IMAGE_UNAVAILABLE")
		c.failedStep(step, ce.msg)
		return written, "", ce
	}
	if err := out.Sync(); err != nil {
		return written, "", &codedError{"DISK_WRITE_FAILED", fmt.Sprintf("flushing %s: %v", dev, err)}
	}
	c.succeeded(step, fmt.Sprintf("%d bytes served, %d bytes written to %s", atomic.LoadInt64(&counted.n), written, dev))
	c.started("verify checksum")
	sum := hex.EncodeToString(hasher.Sum(nil))
	if sum != p.Image.SHA256 {
		return written, sum, &codedError{"IMAGE_CORRUPT", fmt.Sprintf("image sha256 is %s, expected %s: the file on rackhand is corrupt or was replaced; re-import it (the disk was wiped)", sum, p.Image.SHA256)}
	}
	return written, sum, nil
}

// finishCorrupt tells a corrupt download (sha256 differs) from a valid file in a wrong format by reading the rest.
func finishCorrupt(c *client, step string, src io.Reader, hasher interface{ Sum([]byte) []byte }, p deployParams, why string) *codedError {
	c.failedStep(step, "decompressing: "+why)
	if _, err := io.Copy(io.Discard, src); err != nil {
		return asCoded(err, "IMAGE_UNAVAILABLE")
	}
	sum := hex.EncodeToString(hasher.Sum(nil))
	if sum != p.Image.SHA256 {
		return &codedError{"IMAGE_CORRUPT", fmt.Sprintf("image sha256 is %s, expected %s (%s): the file on rackhand is corrupt; re-import it (the disk was wiped)", sum, p.Image.SHA256, why)}
	}
	return &codedError{"IMAGE_INVALID", fmt.Sprintf("the image matches its sha256 but is not valid %s (%s): import it with the right format", p.Image.Format, why)}
}

func asCoded(err error, code string) *codedError {
	var ce *codedError
	if errors.As(err, &ce) {
		return ce
	}
	return &codedError{code, err.Error()}
}

type writeError struct{ error }

func (w writeError) Unwrap() error { return w.error }

// onlyWriter hides ReaderFrom (so io.CopyBuffer uses our buffer) and marks write errors as such.
type onlyWriter struct{ f *os.File }

func (w onlyWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		return n, writeError{err}
	}
	return n, nil
}

// toolReader reads a decompressor's stdout; at its end, a failed exit becomes the read error.
type toolReader struct {
	pipe   io.Reader
	cmd    *exec.Cmd
	stderr *strings.Builder
	tool   string
	done   bool
}

func (t *toolReader) Read(p []byte) (int, error) {
	if t.done {
		return 0, io.EOF
	}
	n, err := t.pipe.Read(p)
	if err == io.EOF {
		t.done = true
		if werr := t.cmd.Wait(); werr != nil {
			return n, fmt.Errorf("%s: %s", t.tool, lastLine(t.stderr.String(), werr.Error()))
		}
	}
	return n, err
}
