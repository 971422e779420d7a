// The image download: one HTTP GET that resumes with a Range request when the connection drops mid-stream.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// resumingReader reads a URL from start to end; a broken connection is reopened at the current offset (Range)
// with backoff, up to a bounded number of times without progress.
type resumingReader struct {
	ctx    context.Context
	url    string
	client *http.Client
	body   io.ReadCloser
	offset int64
	total  int64 // -1 until known
	fails  int
	eof    bool
	onNote func(string)
}

func openImage(ctx context.Context, url string, onNote func(string)) (*resumingReader, error) {
	r := &resumingReader{ctx: ctx, url: url, total: -1, onNote: onNote,
		// no overall timeout (images are large); a stalled read is caught by the header timeout and TCP keepalive
		client: &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 30 * time.Second, DisableCompression: true}}}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *resumingReader) open() error {
	delay := time.Second
	for {
		err := r.tryOpen()
		if err == nil {
			return nil
		}
		var fatal *codedError
		if errors.As(err, &fatal) {
			return err
		}
		r.fails++
		if r.fails > 8 {
			return &codedError{"IMAGE_UNAVAILABLE", fmt.Sprintf("image %s: %v (gave up after %d attempts)", r.url, err, r.fails)}
		}
		if r.onNote != nil {
			r.onNote(fmt.Sprintf("image download: %v; retrying at byte %d in %s", err, r.offset, delay))
		}
		time.Sleep(delay)
		if delay *= 2; delay > 30*time.Second {
			delay = 30 * time.Second
		}
	}
}

func (r *resumingReader) tryOpen() error {
	req, err := http.NewRequestWithContext(r.ctx, "GET", r.url, nil)
	if err != nil {
		return &codedError{"BAD_JOB", fmt.Sprintf("image url %q: %v", r.url, err)}
	}
	req.Header.Set("User-Agent", "rackhand-agent/"+version)
	if r.offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", r.offset))
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	switch {
	case r.offset == 0 && resp.StatusCode == 200:
		r.total = resp.ContentLength
	case r.offset > 0 && resp.StatusCode == 206:
		// Content-Range: bytes START-END/TOTAL must start where we are
		cr := resp.Header.Get("Content-Range")
		if !strings.HasPrefix(cr, fmt.Sprintf("bytes %d-", r.offset)) {
			resp.Body.Close()
			return &codedError{"IMAGE_UNAVAILABLE", fmt.Sprintf("image server resumed at %q, not at byte %d", cr, r.offset)}
		}
		if i := strings.LastIndex(cr, "/"); i > 0 && r.total < 0 {
			r.total, _ = strconv.ParseInt(cr[i+1:], 10, 64)
		}
	case r.offset > 0 && resp.StatusCode == 200:
		resp.Body.Close()
		return &codedError{"IMAGE_UNAVAILABLE", fmt.Sprintf("image server does not support Range: cannot resume %s at byte %d", r.url, r.offset)}
	case resp.StatusCode == 404:
		resp.Body.Close()
		return &codedError{"IMAGE_MISSING", fmt.Sprintf("image %s not found on rackhand (HTTP 404): import it with `rackhand images import`", r.url)}
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != 408 && resp.StatusCode != 429:
		resp.Body.Close()
		return &codedError{"IMAGE_UNAVAILABLE", fmt.Sprintf("image %s: HTTP %d", r.url, resp.StatusCode)}
	default:
		resp.Body.Close()
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	r.body = resp.Body
	return nil
}

func (r *resumingReader) Read(p []byte) (int, error) {
	if r.eof {
		return 0, io.EOF
	}
	for {
		if r.body == nil {
			if err := r.open(); err != nil {
				return 0, err
			}
		}
		n, err := r.body.Read(p)
		r.offset += int64(n)
		if n > 0 {
			r.fails = 0
		}
		if err == nil {
			return n, nil
		}
		r.body.Close()
		r.body = nil
		if err == io.EOF && (r.total < 0 || r.offset >= r.total) {
			r.eof = true
			return n, io.EOF
		}
		if r.ctx.Err() != nil {
			return n, r.ctx.Err()
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if r.onNote != nil {
			r.onNote(fmt.Sprintf("image download interrupted at byte %d (%v): resuming", r.offset, err))
		}
		if n > 0 {
			return n, nil
		}
	}
}

func (r *resumingReader) Close() error {
	if r.body != nil {
		return r.body.Close()
	}
	return nil
}
