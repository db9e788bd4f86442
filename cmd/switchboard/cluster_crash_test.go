package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/switchboard/switchboard/internal/testpg"
	"github.com/switchboard/switchboard/loadgen"
)

// TestLoadgenClusterCrash runs the load generator's crash scenario against
// a cluster of two servers — the program built into a temporary folder —
// sharing a fresh PostgreSQL schema and an in-process NATS server. Most
// chats have their customer on one node and their agent on the other, so
// their messages cross nodes over NATS; the tool kills the nodes in turn
// with SIGKILL, restarts each on its port, and checks that every
// acknowledged message reached both sides exactly once and in order, is
// stored once, and that the chats stayed assigned and the agents online.
// The second run has the tool run NATS itself and restart it between the
// kills (--restart-nats). It checks the tool's verdict, no timing thresholds. Without
// SWITCHBOARD_TEST_DATABASE_URL it is skipped (failed under CI=true).
func TestLoadgenClusterCrash(t *testing.T) {
	testpg.Require(t)
	bin := buildProgram(t)
	for _, tc := range []struct {
		name        string
		restartNATS bool // the tool runs NATS and restarts it between kills; else the test runs it
	}{
		{"kills", false},
		{"kills and NATS restarts", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var log bytes.Buffer
			c := loadgen.Config{
				Scenario:      loadgen.ScenarioCrash,
				ServerBin:     bin,
				DataDir:       t.TempDir(),
				Nodes:         2,
				DatabaseURL:   testpg.URL(t),
				RestartNATS:   tc.restartNATS,
				Duration:      3500 * time.Millisecond,
				CrashEvery:    time.Second,
				Chats:         8,
				ChatsPerAgent: 2,
				Rate:          100,
				Drain:         15 * time.Second,
				Settle:        200 * time.Millisecond,
				SpreadSources: true,
				Cleanup:       true,
				Log:           &log,
			}
			if !tc.restartNATS {
				c.NATSURL = startNATS(t)
			} else {
				// A node that reconnects to NATS after the other announced
				// what it committed meanwhile hears of it only at its hub's
				// next poll of the log (10 s): the drain outlasts that.
				c.Drain = 20 * time.Second
			}
			res, err := loadgen.Run(ctx, c)
			if err != nil {
				t.Fatalf("run: %v\n%s", err, log.Bytes())
			}
			var table bytes.Buffer
			_ = res.WriteTable(&table)
			if !res.OK {
				t.Fatalf("the run failed its own checks:\n%s\n%s", table.Bytes(), log.Bytes())
			}
			// Both nodes were killed at least once; most chats crossed nodes.
			if res.Nodes != 2 || res.Crashes < 2 || res.KillToResume == nil || res.KillToReady == nil {
				t.Errorf("%d nodes, %d crashes, resumes %v, restarts %v; want 2 nodes, both killed, and figures", res.Nodes, res.Crashes, res.KillToResume, res.KillToReady)
			}
			if tc.restartNATS && res.NATSRestarts == 0 {
				t.Errorf("NATS was not restarted")
			}
			if res.CrossNodeChats*2 <= res.Chats {
				t.Errorf("%d of %d chats across nodes; want most", res.CrossNodeChats, res.Chats)
			}
			if res.MessagesSent == 0 || res.MessagesDelivered != res.MessagesSent || !res.HistoryChecked {
				t.Errorf("sent %d, delivered %d, history checked %v; want all delivered and the history read back", res.MessagesSent, res.MessagesDelivered, res.HistoryChecked)
			}
			for _, p := range res.Problems {
				if strings.Contains(p, "DATA RACE") {
					t.Errorf("a server found a data race: %s", p)
				}
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("\n%s\n%s", table.Bytes(), log.Bytes())
			}
		})
	}
}

// startNATS runs a NATS server in this process on a random loopback port
// and returns its URL; the servers under test connect to it.
func startNATS(t *testing.T) string {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("the NATS server is not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL()
}
