package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/loadgen"
)

// TestLoadgenSmoke runs every scenario of the load generator briefly
// against the real program (SQLite in a temporary folder, a random port),
// so that the tool keeps working as the server changes; the crash scenario
// against the program built into a temporary folder, which it kills with
// SIGKILL twice. It checks the tool's own verdict — nothing lost, doubled or
// reordered on a healthy server — and no performance thresholds;
// BENCHMARKS.md has the figures.
func TestLoadgenSmoke(t *testing.T) {
	var out lockedBuffer
	m := NewMain(&out)
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = t.TempDir()
	m.Config.LogLevel = "error"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	found := regexp.MustCompile(`password: (\S+)`).FindSubmatch(out.Bytes())
	if found == nil {
		t.Fatalf("no owner password in the output:\n%s", out.Bytes())
	}
	base := loadgen.Config{
		Target:        m.URL(),
		AdminEmail:    m.Config.OwnerEmail,
		AdminPassword: string(found[1]),
		Duration:      time.Second,
		Chats:         6,
		Rate:          60,
		ChatsPerAgent: 3,
		Agents:        2,
		Arrivals:      8,
		ArrivalRate:   20,
		StormEvery:    300 * time.Millisecond,
		Drain:         10 * time.Second,
		Settle:        200 * time.Millisecond,
		SpreadSources: true,
		Cleanup:       true,
	}
	for _, tc := range []struct {
		scenario string
		adjust   func(t *testing.T, c *loadgen.Config)
		check    func(t *testing.T, res *loadgen.Result)
	}{
		{loadgen.ScenarioSteady, func(t *testing.T, c *loadgen.Config) { c.Idle = 10 }, func(t *testing.T, res *loadgen.Result) {
			if res.MessagesSent == 0 || res.MessagesDelivered != res.MessagesSent {
				t.Errorf("sent %d, delivered %d; want all delivered", res.MessagesSent, res.MessagesDelivered)
			}
			if res.DeliveryP50Ms == nil || res.IdleConnections != 10 {
				t.Errorf("delivery p50 %v, idle connections %d; want a figure and 10", res.DeliveryP50Ms, res.IdleConnections)
			}
		}},
		{loadgen.ScenarioReconnect, nil, func(t *testing.T, res *loadgen.Result) {
			if res.Storms == 0 || res.Reconnects == 0 {
				t.Errorf("%d storms, %d reconnects; want some of each", res.Storms, res.Reconnects)
			}
			if res.MessagesDelivered != res.MessagesSent {
				t.Errorf("sent %d, delivered %d; want all delivered", res.MessagesSent, res.MessagesDelivered)
			}
		}},
		{loadgen.ScenarioBurst, nil, func(t *testing.T, res *loadgen.Result) {
			if res.Offers != int64(res.ArrivalsScheduled) || res.OfferP50Ms == nil {
				t.Errorf("%d of %d arrivals offered; want all, with a time to offer", res.Offers, res.ArrivalsScheduled)
			}
		}},
		{loadgen.ScenarioIdle, func(t *testing.T, c *loadgen.Config) { c.Idle = 50 }, func(t *testing.T, res *loadgen.Result) {
			if res.Connections != 50 || res.BytesPerIdleConn == nil {
				t.Errorf("%d connections, %v bytes each; want 50 and a figure", res.Connections, res.BytesPerIdleConn)
			}
		}},
		// The crash scenario kills a server of its own with SIGKILL, which
		// needs a separate process: the program built from this module.
		{loadgen.ScenarioCrash, func(t *testing.T, c *loadgen.Config) {
			c.ServerBin = buildProgram(t)
			c.DataDir = t.TempDir()
			c.Duration, c.CrashEvery, c.Rate = 2500*time.Millisecond, time.Second, 100
		}, func(t *testing.T, res *loadgen.Result) {
			if res.Crashes == 0 || res.KillToResume == nil || res.KillToReady == nil {
				t.Errorf("%d crashes, resumes %v, restarts %v; want some of each", res.Crashes, res.KillToResume, res.KillToReady)
			}
			if res.MessagesSent == 0 || res.MessagesDelivered != res.MessagesSent {
				t.Errorf("sent %d, delivered %d; want all delivered", res.MessagesSent, res.MessagesDelivered)
			}
			for _, p := range res.Problems {
				if strings.Contains(p, "DATA RACE") {
					t.Errorf("the server found a data race: %s", p)
				}
			}
		}},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			if tc.scenario == loadgen.ScenarioBurst && !routesOffers(t, m.URL()) {
				t.Fatal("the API has no offer routes: the burst scenario cannot accept offers")
			}
			c := base
			c.Scenario = tc.scenario
			if tc.adjust != nil {
				tc.adjust(t, &c)
			}
			var log bytes.Buffer
			c.Log = &log
			res, err := loadgen.Run(ctx, c)
			if err != nil {
				t.Fatalf("run: %v\n%s", err, log.Bytes())
			}
			if !res.OK {
				var table bytes.Buffer
				_ = res.WriteTable(&table)
				t.Errorf("the run failed its own checks:\n%s\n%s", table.Bytes(), log.Bytes())
			}
			tc.check(t, res)
		})
	}
}

// buildProgram builds this program into a temporary folder and returns its
// path. The go command works from the local module cache. Under -race the
// program is built with it too: the packages this test was compiled from
// are then reused, and the server's own races are reported.
func buildProgram(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go") // go test puts its own go first on PATH
	if err != nil {
		t.Fatalf("no go command to build the program with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "switchboard")
	args := []string{"build", "-o", bin}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "-race" && s.Value == "true" {
				args = append(args, "-race")
			}
		}
	}
	out, err := exec.Command(goTool, append(args, ".")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// routesOffers reports whether the server's API lets agents accept offers,
// which the burst scenario does.
func routesOffers(t *testing.T, base string) bool {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(doc, []byte(`/offers/{id}/accept"`))
}

// lockedBuffer collects the program's output, written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
