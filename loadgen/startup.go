package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// runStartup starts the server binary StartupRuns times, each on an empty
// data folder and a free loopback port, and measures the time from starting
// the process to the first 200 from /readyz. The server's own figure (its
// "switchboard ready" log line's startup_ms) is reported alongside.
func (r *runner) runStartup(ctx context.Context) (*Result, error) {
	ready, self := newLatency(), newLatency()
	for i := range r.cfg.StartupRuns {
		d, own, err := r.startOnce(ctx)
		if err != nil {
			return nil, fmt.Errorf("start %d: %w", i+1, err)
		}
		ready.record(d)
		if own >= 0 {
			self.record(own)
		}
		r.logf("start %d: ready after %s (server says %s)", i+1, d.Round(time.Millisecond), own)
	}
	res := &Result{}
	p := ready.percentiles()
	res.StartupMs, res.StartupP50Ms = &p, ptr(p.P50)
	if p := self.percentiles(); p.Count > 0 {
		res.StartupServerMs = &p
	}
	return res, nil
}

// startOnce runs the server once and returns the time to ready and the
// server's own start-up time (-1 if it did not say).
func (r *runner) startOnce(ctx context.Context) (time.Duration, time.Duration, error) {
	dir, err := os.MkdirTemp("", "switchboard-startup-*")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	addr, err := freeLoopbackAddr()
	if err != nil {
		return 0, 0, err
	}
	p := newServerProcess(r.cfg.ServerBin, dir, addr)
	defer p.stop()
	began := time.Now()
	if err := p.start(ctx); err != nil {
		return 0, 0, err
	}
	d := time.Since(began)
	return d, serverStartup(p.output()), nil
}

// serverStartup finds startup_ms in the server's "switchboard ready" log line.
func serverStartup(log []byte) time.Duration {
	sc := bufio.NewScanner(bytes.NewReader(log))
	for sc.Scan() {
		var line struct {
			Msg       string `json:"msg"`
			StartupMs *int64 `json:"startup_ms"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.StartupMs != nil {
			return time.Duration(*line.StartupMs) * time.Millisecond
		}
	}
	return -1
}

// freeLoopbackAddr finds a free port on 127.0.0.1.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), nil
}

// syncBuffer is a bytes.Buffer the child's stdout and stderr may share. With
// a limit it keeps the first limit bytes and drops the rest.
type syncBuffer struct {
	limit int // 0: none
	mu    sync.Mutex
	buf   bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.limit > 0 {
		_, _ = b.buf.Write(p[:min(len(p), max(b.limit-b.buf.Len(), 0))])
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func (b *syncBuffer) String() string { return string(b.Bytes()) }
