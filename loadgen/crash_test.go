package loadgen

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestResendAfterCrash walks one sender through a crash as the tool sees
// it: two sends out, the server killed after committing the first (its
// ack ignored, as if lost; its echo in), the resume, and the re-sends'
// acks. The server answering the committed one with the original is
// clean; answering it with a second copy is caught.
func TestResendAfterCrash(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		reackID                   int64 // the id the server acks the committed re-send with
		wantMismatches, wantDupes int64
	}{
		{"the original", 100, 0, 0},
		{"a second copy", 300, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRunner(Config{Target: "http://127.0.0.1:1"}.WithDefaults())
			cr := &chatRun{r: r, byConv: map[int64]*chat{}, lat: [2]*latency{newLatency(), newLatency()}, commit: newLatency(), lag: newLatency()}
			cr.ready.Store(true)
			visitor, agentSock := &socket{r: r, name: "visitor", h: cr}, &socket{r: r, name: "agent", h: cr}
			ch := &chat{idx: 0, conv: 42, visitor: visitor, agent: agentSock}
			ch.views[atVisitor].maxK = [2]int{-1, -1}
			ch.views[atAgent].maxK = [2]int{-1, -1}
			cr.chats, cr.byConv[42] = []*chat{ch}, ch
			ch.next[toAgent] = 2
			p0, p1 := cr.message(ch, toAgent, 0, time.Millisecond), cr.message(ch, toAgent, 1, time.Millisecond)
			p0.written, p1.written = true, true
			visitor.pending = []*send{p0, p1}

			frame := func(s *socket, format string, args ...any) {
				t.Helper()
				if _, err := s.handle([]byte(fmt.Sprintf(format, args...))); err != nil {
					t.Fatal(err)
				}
			}
			message := func(p *send, id, seq int64) string {
				var f struct {
					Body string `json:"body"`
				}
				if err := json.Unmarshal(p.frame, &f); err != nil {
					t.Fatal(err)
				}
				return fmt.Sprintf(`{"id":%d,"conversation_id":42,"thread":"public","seq":%d,"body":%q,"client_id":%q}`, id, seq, f.Body, p.clientID)
			}
			event := func(s *socket, pos int64, p *send, id, seq int64) {
				frame(s, `{"type":"event","pos":%d,"event":"message","conversation_id":42,"data":%s}`, pos, message(p, id, seq))
			}
			ack := func(s *socket, p *send, id, seq int64) {
				frame(s, `{"type":"ack","client_id":%q,"message":%s}`, p.clientID, message(p, id, seq))
			}

			// c0 is committed; the kill is coming: its ack is ignored.
			visitor.killed = true
			ack(visitor, p0, 100, 1)
			event(visitor, 1, p0, 100, 1)
			event(agentSock, 1, p0, 100, 1)
			if got := r.acksIgnored.Load(); got != 1 || visitor.unacked() != 2 {
				t.Fatalf("%d acks ignored, %d unacked; want 1 and 2", got, visitor.unacked())
			}

			// The resume: both go out again; c0 was committed before.
			if flush := visitor.resume(nil); len(flush) != 2 {
				t.Fatalf("flushed %d; want 2", len(flush))
			}
			ack(visitor, p0, tc.reackID, 1)
			if tc.reackID != 100 { // a second copy also comes as an event
				event(visitor, 2, p0, tc.reackID, 2)
				event(agentSock, 2, p0, tc.reackID, 2)
			}
			ack(visitor, p1, 200, 3)
			event(visitor, 3, p1, 200, 3)
			event(agentSock, 3, p1, 200, 3)

			var res Result
			cr.tally(&res, 0, time.Second)
			if res.Resent != 2 || res.ResentCommitted != 1 {
				t.Errorf("resent %d, committed before %d; want 2 and 1", res.Resent, res.ResentCommitted)
			}
			if res.Lost != 0 || res.Unanswered != 0 || res.AckMismatches != tc.wantMismatches || res.Duplicated != tc.wantDupes {
				t.Errorf("lost %d, unanswered %d, ack mismatches %d, duplicated %d; want 0, 0, %d, %d",
					res.Lost, res.Unanswered, res.AckMismatches, res.Duplicated, tc.wantMismatches, tc.wantDupes)
			}
		})
	}
}

// TestServerOutput reads what the tool needs from a server's output: the
// owner's one-time password, start-up times, errors and race reports.
func TestServerOutput(t *testing.T) {
	p := newServerProcess("switchboard", "/tmp/x", "127.0.0.1:1")
	first := &syncBuffer{limit: 1 << 10}
	fmt.Fprint(first, "\nCreated the owner account. Log in with:\n  e-mail:   owner@switchboard.local\n  password: s3cret-Pass\nThis password is shown once.\n")
	fmt.Fprint(first, `{"level":"INFO","msg":"switchboard ready","startup_ms":12}`+"\n")
	second := &syncBuffer{limit: 1 << 10}
	fmt.Fprint(second, `{"level":"ERROR","msg":"routing: record connection"}`+"\n==================\nWARNING: DATA RACE\nWrite at 0x1 by goroutine 7:\n  main.f()\n==================\n")
	fmt.Fprint(second, `{"level":"INFO","msg":"switchboard ready","startup_ms":30}`+"\n")
	p.outputs = []*syncBuffer{first, second}

	if email, password, ok := p.owner(); !ok || email != "owner@switchboard.local" || password != "s3cret-Pass" {
		t.Errorf("owner() = %q, %q, %v; want the printed ones", email, password, ok)
	}
	if got := p.startupTimes(); len(got) != 2 || got[1] != 30*time.Millisecond {
		t.Errorf("startupTimes() = %v; want [12ms 30ms]", got)
	}
	lines := p.errorLines()
	if len(lines) != 2 || !strings.Contains(lines[0], "routing: record connection") || !strings.Contains(lines[1], "main.f()") {
		t.Errorf("errorLines() = %q; want the error and the race report", lines)
	}
	limited := &syncBuffer{limit: 4}
	fmt.Fprint(limited, "abcdefgh")
	if got := limited.String(); got != "abcd" {
		t.Errorf("a buffer limited to 4 bytes kept %q; want abcd", got)
	}
}

// TestMain lets the test binary stand in for the server (fakeServer).
func TestMain(m *testing.M) {
	if os.Getenv("LOADGEN_FAKE_SERVER") == "1" {
		fakeServer()
		return
	}
	os.Exit(m.Run())
}

// fakeServer stands in for the switchboard binary in TestServerProcess,
// as far as the tool's process handling sees it: "serve --addr A --data D"
// prints an owner's password on the first start in D (before it listens,
// as the real one does), fails when A is taken, and answers /readyz.
func fakeServer() {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr, data := fs.String("addr", "", ""), fs.String("data", "", "")
	_ = fs.Parse(os.Args[2:])
	marker := filepath.Join(*data, "owner")
	if _, err := os.Stat(marker); err != nil {
		_ = os.WriteFile(marker, nil, 0o600)
		fmt.Print("\nCreated the owner account. Log in with:\n  e-mail:   owner@example.test\n  password: fake-password-1\n")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Println("switchboard:", err)
		os.Exit(1)
	}
	fmt.Println(`{"level":"INFO","msg":"switchboard ready","startup_ms":1}`)
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
}

// TestServerProcess starts a stand-in server while its port is still
// taken, kills and restarts it on the same port and folder, and tells a
// server that died by itself from one the tool killed.
func TestServerProcess(t *testing.T) {
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOADGEN_FAKE_SERVER", "1")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(300*time.Millisecond, func() { taken.Close() })
	p := newServerProcess(bin, t.TempDir(), taken.Addr().String())
	defer p.stop()

	if err := p.start(ctx); err != nil {
		t.Fatalf("start while the port was taken: %v", err)
	}
	if n := len(p.outputs); n < 2 {
		t.Errorf("ready after %d tries; want a retry while the port was taken", n)
	}
	if email, password, ok := p.owner(); !ok || email != "owner@example.test" || password != "fake-password-1" {
		t.Errorf("owner() = %q, %q, %v; want what the first try printed", email, password, ok)
	}

	first := p.pid()
	p.kill()
	if !p.hasExited() || p.exitedByItself() {
		t.Fatalf("after kill: exited %v, by itself %v; want true, false", p.hasExited(), p.exitedByItself())
	}
	if err := p.start(ctx); err != nil {
		t.Fatalf("restart on the same port: %v", err)
	}
	if p.pid() == first || p.pid() == 0 {
		t.Errorf("pid %d after the restart, %d before; want a new process", p.pid(), first)
	}
	if got := len(p.startupTimes()); got != 2 {
		t.Errorf("%d start-up times; want one per successful start, 2", got)
	}

	other, err := os.FindProcess(p.pid())
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exitedChan():
	case <-ctx.Done():
		t.Fatal("the process did not exit")
	}
	if !p.exitedByItself() {
		t.Error("a server killed by someone else: exitedByItself false; want true")
	}
	if p.cpu() <= 0 {
		t.Error("no CPU time counted for the exited processes")
	}
}
