package main

import (
	"flag"
	"io"
	"testing"
)

// TestNodeID: --node-id (or SWITCHBOARD_NODE_ID) names the node to the
// routing engine; without it every process gets an id of its own.
func TestNodeID(t *testing.T) {
	parse := func(args ...string) Config {
		t.Helper()
		var c Config
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.bindFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := parse("--node-id", "web-1"); c.NodeID != "web-1" {
		t.Fatalf("--node-id gave %q", c.NodeID)
	}
	t.Setenv("SWITCHBOARD_NODE_ID", "web-2")
	if c := parse(); c.NodeID != "web-2" {
		t.Fatalf("SWITCHBOARD_NODE_ID gave %q", c.NodeID)
	}

	m, _ := startMain(t, t.TempDir(), false)
	defer m.Close()
	if got := m.eng.NodeID(); got == "" || got == "web-2" {
		t.Fatalf("default node id %q", got)
	}
	named := NewMain(io.Discard)
	named.Config.Addr, named.Config.DataDir, named.Config.LogLevel = "127.0.0.1:0", t.TempDir(), "warn"
	named.Config.NodeID = "web-3"
	if err := named.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer named.Close()
	if got := named.eng.NodeID(); got != "web-3" {
		t.Fatalf("configured node id %q, engine uses %q", "web-3", got)
	}
}
