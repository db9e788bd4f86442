package loadgen

import (
	"strings"
	"testing"
	"time"
)

// TestVisitorNode: three chats in four have their customer on another node
// than their agent; a single server has every client on it.
func TestVisitorNode(t *testing.T) {
	for _, nodes := range []int{2, 3, 5} {
		cross := 0
		for i := range 40 {
			a := i / 3
			n := visitorNode(i, a, nodes)
			if n < 0 || n >= nodes {
				t.Fatalf("%d nodes: chat %d on node %d", nodes, i, n)
			}
			if n != a%nodes {
				cross++
			} else if i%4 != 3 {
				t.Errorf("%d nodes: chat %d is on its agent's node %d", nodes, i, n)
			}
		}
		if cross != 30 {
			t.Errorf("%d nodes: %d of 40 chats cross nodes; want 30", nodes, cross)
		}
	}
	if n := visitorNode(7, 2, 1); n != 0 {
		t.Errorf("one node: chat on node %d", n)
	}
}

// TestClusterConfig: a cluster is for the crash scenario and needs a
// shared database; --restart-nats needs the tool's own NATS.
func TestClusterConfig(t *testing.T) {
	base := Config{Scenario: ScenarioCrash, ServerBin: "/bin/true", Duration: 3 * time.Second, CrashEvery: time.Second}
	for _, tc := range []struct {
		adjust func(c *Config)
		want   string // "" for valid
	}{
		{func(c *Config) {}, ""},
		{func(c *Config) { c.Nodes = 2 }, "--database-url"},
		{func(c *Config) { c.Nodes, c.DatabaseURL = 2, "postgres://x/y" }, ""},
		{func(c *Config) { c.Nodes, c.DatabaseURL, c.NATSURL = 2, "postgres://x/y", "nats://127.0.0.1:4222" }, ""},
		{func(c *Config) { c.Nodes, c.DatabaseURL = 2, "mysql://x/y" }, "postgres://"},
		{func(c *Config) { c.Nodes, c.DatabaseURL, c.Scenario = 2, "postgres://x/y", ScenarioSteady }, "crash scenario"},
		{func(c *Config) { c.RestartNATS = true }, "--restart-nats"},
		{func(c *Config) {
			c.Nodes, c.DatabaseURL, c.NATSURL, c.RestartNATS = 2, "postgres://x/y", "nats://127.0.0.1:4222", true
		}, "--restart-nats"},
		{func(c *Config) { c.Nodes, c.DatabaseURL, c.RestartNATS = 2, "postgres://x/y", true }, ""},
	} {
		c := base
		c.Token = "sba_x"
		tc.adjust(&c)
		err := c.WithDefaults().Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", c, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("nodes %d, database %q, nats %q, restart %v, scenario %s: got %v, want an error about %s", c.Nodes, c.DatabaseURL, c.NATSURL, c.RestartNATS, c.Scenario, err, tc.want)
		}
	}
}

// TestOwnNATSRestart: the tool's NATS server comes back on its port.
func TestOwnNATSRestart(t *testing.T) {
	n, err := startOwnNATS()
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	url := n.url()
	if _, err := n.restart(); err != nil {
		t.Fatal(err)
	}
	if n.url() != url || !n.ns.ReadyForConnections(time.Second) {
		t.Fatalf("restarted on %s (was %s), ready %v", n.url(), url, n.ns.ReadyForConnections(0))
	}
}
