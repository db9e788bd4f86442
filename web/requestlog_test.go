package web_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/switchboard/switchboard/web/webtest"
)

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Split(bytes.TrimSpace(l.b.Bytes()), []byte("\n"))
}

// The request log names the route, the status and the client's address.
func TestRequestLog(t *testing.T) {
	logs := &lockedBuffer{}
	env := webtest.New(t, webtest.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	resp, err := http.Get(env.URL + "/api/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, line := range logs.lines() {
		var rec struct {
			Msg, Path, Route, Addr string
			Status                 int
		}
		if json.Unmarshal(line, &rec) != nil || rec.Msg != "request" || rec.Path != "/api/v1/me" {
			continue
		}
		if rec.Status != http.StatusUnauthorized || rec.Route != "/api/v1/me" || rec.Addr != "127.0.0.1" {
			t.Fatalf("request log %s", line)
		}
		return
	}
	t.Fatalf("no request log line for /api/v1/me in %d lines", len(logs.lines()))
}
