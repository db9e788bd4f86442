package realtime

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
)

// TestIdleConnectionMemory measures what one idle, subscribed WebSocket
// connection costs the server: heap and stacks, the WebSocket library and
// net/http included. Clients are raw sockets so that their side costs
// almost nothing (a few hundred bytes of socket state, counted too).
func TestIdleConnectionMemory(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("opens 1000 connections")
	}
	const n = 1000
	log := &memLog{}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := startHub(t, log, HubOptions{Logger: quiet})
	srv := NewServer(h, &fakeAuth{tokens: tokens}, nil, ServerOptions{Logger: quiet})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Shutdown(context.Background())
	addr := strings.TrimPrefix(ts.URL, "http://")

	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// One connection first, so that one-time costs are not counted.
	conns = append(conns, rawConnect(t, addr))
	before := memory()
	for range n {
		conns = append(conns, rawConnect(t, addr))
	}
	after := memory()
	if path := os.Getenv("HEAPPROFILE"); path != "" {
		// To see where it goes: HEAPPROFILE=heap.out go test -run IdleConnectionMemory -memprofilerate=1
		writeHeapProfile(t, path)
	}
	perConn := float64(after.bytes-before.bytes) / n
	goroutines := float64(after.goroutines-before.goroutines) / n
	t.Logf("per idle connection: %.0f bytes (heap %.0f, stacks %.0f), %.2f goroutines",
		perConn, float64(after.heap-before.heap)/n, float64(after.stacks-before.stacks)/n, goroutines)
	// ARCHITECTURE.md: at most 20 KB per idle connection, all state included.
	if perConn > 20<<10 {
		t.Errorf("%.0f bytes per idle connection, want at most %d", perConn, 20<<10)
	}
	// The reader only: an idle connection has no writer goroutine (session.kick).
	if goroutines > 1.05 {
		t.Errorf("%.2f goroutines per idle connection, want 1", goroutines)
	}
}

type memoryUse struct {
	heap, stacks, bytes uint64
	goroutines          int
}

func memory() memoryUse {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memoryUse{heap: m.HeapInuse, stacks: m.StackInuse, bytes: m.HeapInuse + m.StackInuse, goroutines: runtime.NumGoroutine()}
}

// rawConnect opens a WebSocket by hand, says hello as visitor 5 and reads
// the ready frame.
func rawConnect(t *testing.T, addr string) net.Conn {
	t.Helper()
	return rawConnectAs(t, addr, "sbv_visitor5")
}

// rawConnectAs is rawConnect with the given hello token.
func rawConnectAs(t testing.TB, addr, token string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr)
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	hello, _ := json.Marshal(map[string]any{"type": "hello", "token": token})
	frame := []byte{0x81, 0x80 | byte(len(hello)), 0, 0, 0, 0} // text, masked with a zero key
	if _, err := c.Write(append(frame, hello...)); err != nil {
		t.Fatal(err)
	}
	var head [2]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, head[1]&0x7f) // the ready frame is short: a 7-bit length
	if _, err := io.ReadFull(br, payload); err != nil || !strings.Contains(string(payload), `"ready"`) {
		t.Fatalf("ready: %q %v", payload, err)
	}
	return c
}

func writeHeapProfile(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		t.Fatal(err)
	}
}
