package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestPprofAddrMustBeLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"":               true,
		"127.0.0.1:6060": true,
		"[::1]:6060":     true,
		"localhost:6060": true,
		":6060":          false, // every interface
		"0.0.0.0:6060":   false,
		"10.1.2.3:6060":  false,
		"example.com:1":  false,
		"127.0.0.1":      false, // no port
	} {
		if err := checkPprofAddr(addr); (err == nil) != ok {
			t.Errorf("checkPprofAddr(%q) = %v, want ok=%v", addr, err, ok)
		}
	}
}

// TestPprofEndpoint: with --pprof-addr the profiles are served on that
// listener, and never on the public one.
func TestPprofEndpoint(t *testing.T) {
	out := &syncBuffer{}
	m := NewMain(out)
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = t.TempDir()
	m.Config.LogLevel = "warn"
	m.Config.PprofAddr = "127.0.0.1:0"
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	code, body := get(t, "http://"+m.pprofLn.Addr().String()+"/debug/pprof/goroutine?debug=1")
	if code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Fatalf("pprof listener: %d %.200s", code, body)
	}
	if code, _ := get(t, m.URL()+"/debug/pprof/"); code == http.StatusOK {
		t.Fatal("the public listener serves /debug/pprof/")
	}

	m2 := NewMain(out)
	m2.Config.Addr = "127.0.0.1:0"
	m2.Config.DataDir = t.TempDir()
	m2.Config.LogLevel = "warn"
	m2.Config.PprofAddr = "0.0.0.0:0"
	if err := m2.Open(context.Background()); err == nil {
		m2.Close()
		t.Fatal("Open served profiles on every interface")
	}
	m2.Close()
}
