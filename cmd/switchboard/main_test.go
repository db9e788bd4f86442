package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/client"
)

// syncBuffer collects the program's output safely across goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startMain(t *testing.T, dir string, demo bool) (*Main, *syncBuffer) {
	t.Helper()
	out := &syncBuffer{}
	m := NewMain(out)
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = dir
	m.Config.Demo = demo
	m.Config.LogLevel = "warn"
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m, out
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var passwordLine = regexp.MustCompile(`(?m)^\s+(?:e-mail:\s+(\S+)|password:\s+(\S+))`)

func TestFirstStartCreatesOwnerWithOneTimePassword(t *testing.T) {
	dir := t.TempDir()
	m, out := startMain(t, dir, false)
	ctx := context.Background()
	found := passwordLine.FindAllStringSubmatch(out.String(), -1)
	if len(found) != 2 {
		t.Fatalf("owner credentials not printed:\n%s", out.String())
	}
	email, password := found[0][1], found[1][2]
	if len(password) < 16 {
		t.Fatalf("password %q is too short to be random", password)
	}
	c, err := client.New(m.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, email, password); err != nil {
		t.Fatalf("log in with printed credentials: %v", err)
	}
	if _, err := c.Login(ctx, email, "changeme-changeme"); err == nil {
		t.Fatal("a guessed password logged in")
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/api/v1/openapi.json", "/widget.js"} {
		if code, _ := get(t, m.URL()+path); code != http.StatusOK {
			t.Errorf("GET %s = %d", path, code)
		}
	}
	if code, _ := get(t, m.URL()+"/demo"); code != http.StatusNotFound {
		t.Errorf("/demo without demo mode = %d, want 404", code)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	// A second start on the same data creates no second owner and prints no password.
	m2, out2 := startMain(t, dir, false)
	defer m2.Close()
	if strings.Contains(out2.String(), "password:") {
		t.Fatalf("second start printed a password:\n%s", out2.String())
	}
}

func TestDemoModeServesWidgetPage(t *testing.T) {
	m, out := startMain(t, t.TempDir(), true)
	defer m.Close()
	if n := strings.Count(out.String(), "password:"); n != 5 { // the owner and four demo people
		t.Fatalf("printed %d passwords, want 5:\n%s", n, out.String())
	}
	code, body := get(t, m.URL()+"/demo")
	if code != http.StatusOK || !strings.Contains(body, `src="/widget.js"`) || !strings.Contains(body, `data-inbox="1"`) {
		t.Fatalf("/demo = %d:\n%s", code, body)
	}
}

func TestShutdownTellsWebSocketClientsToReconnect(t *testing.T) {
	m, _ := startMain(t, t.TempDir(), true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.New(m.URL())
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := c.CreateVisitor(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	conn, err := c.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Hello(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-conn.Done():
	case <-ctx.Done():
		t.Fatal("connection still open after shutdown")
	}
	if code := client.CloseCode(conn.Err()); code != 1012 {
		t.Fatalf("close code %d (%v), want 1012 service restart", code, conn.Err())
	}
}
