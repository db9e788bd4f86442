// Package loadgen drives a running Switchboard over real WebSockets and its
// public API, as many widget visitors and agents at once, and measures what
// they see: delivery latency from the scheduled send time (an open-loop
// schedule, so a stalled server cannot hide its stalls), time to offer,
// server memory per idle connection, and — for every message — whether it
// arrived exactly once and in order at every intended receiver.
//
// cmd/loadgen is its command line; BENCHMARKS.md says how to run each
// scenario and what the figures were.
package loadgen

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// Scenarios.
const (
	// ScenarioSteady: N active chats, each agent and customer writing at a
	// shared total rate; optionally with a crowd of idle connections alongside.
	ScenarioSteady = "steady"
	// ScenarioBurst: conversations arriving at a rate, routed to online agents;
	// measures the time from arrival to the offer on an agent's socket.
	ScenarioBurst = "burst"
	// ScenarioIdle: a crowd of idle visitor connections; measures server memory per connection.
	ScenarioIdle = "idle"
	// ScenarioReconnect: steady traffic while a share of the clients drop at
	// once and resume from their last position, again and again.
	ScenarioReconnect = "reconnect"
	// ScenarioCrash: steady traffic against a server the tool runs itself
	// and kills with SIGKILL again and again, restarting it on the same
	// data; nothing acknowledged may be lost, doubled or reordered.
	ScenarioCrash = "crash"
	// ScenarioStartup: starts the server binary on an empty database until
	// /readyz answers, a few times.
	ScenarioStartup = "startup"
)

// Scenarios lists the scenarios in the order the documentation gives them.
var Scenarios = []string{ScenarioSteady, ScenarioBurst, ScenarioIdle, ScenarioReconnect, ScenarioCrash, ScenarioStartup}

// Config is one run of the load generator. Zero values take the scenario's
// defaults (WithDefaults).
type Config struct {
	// Target is the server's base URL; it must be a loopback address.
	Target string
	// Scenario is one of Scenarios.
	Scenario string
	// Duration is how long traffic (or the idle hold) lasts.
	Duration time.Duration

	// Credentials of an owner or admin: an API token (sba_…), or an e-mail
	// and password to log in with. Steady, burst and reconnect need them;
	// idle needs them only without InboxID; crash only with a DataDir whose
	// server has started before (on an empty one it reads the password the
	// server prints).
	Token         string
	AdminEmail    string
	AdminPassword string
	// InboxID is an existing widget inbox for idle visitors (the demo inbox,
	// say); 0 creates one.
	InboxID int64

	// Chats is the number of active chats (steady, reconnect).
	Chats int
	// Rate is the total message rate in messages per second, both directions together.
	Rate float64
	// MessageSize is the body size in bytes (at least the header the tool writes).
	MessageSize int
	// ChatsPerAgent is how many chats one agent socket carries (1–100).
	ChatsPerAgent int
	// Idle is the number of idle visitor connections (idle; steady alongside the chats).
	Idle int

	// Agents is the number of online agents routing offers to (burst).
	Agents int
	// AgentChatLimit is each burst agent's chat limit (1–100).
	AgentChatLimit int
	// Arrivals is the number of conversations arriving (burst).
	Arrivals int
	// ArrivalRate is arrivals per second (burst).
	ArrivalRate float64
	// Hold is how long a burst agent keeps an accepted chat before ending it.
	Hold time.Duration

	// StormEvery is the time between reconnect storms.
	StormEvery time.Duration
	// StormFraction is the share of the clients dropped in each storm (0–1].
	StormFraction float64

	// ServerPID, when set, reads the server's memory from /proc/<pid>
	// instead of /metrics.
	ServerPID int
	// ServerBin is the switchboard binary the startup and crash scenarios run.
	ServerBin string
	// DataDir is the data folder of the server the crash scenario runs; empty:
	// a new temporary folder, removed afterwards unless the run failed.
	DataDir string
	// CrashEvery is the time between kills in the crash scenario.
	CrashEvery time.Duration
	// Nodes is how many server processes the crash scenario runs as one
	// cluster (default 1): each on its own loopback port, data folder
	// (DataDir/node-1, …) and --node-id (loadgen-1, …), all on DatabaseURL
	// and NATSURL. The chats' customers and agents are spread so that most
	// chats cross nodes; each kill takes the next node in turn.
	Nodes int
	// DatabaseURL and NATSURL are passed to every server the crash scenario
	// starts (--database-url, --nats-url). A cluster (Nodes > 1) needs the
	// database; without NATSURL the tool runs a NATS server of its own.
	DatabaseURL string
	NATSURL     string
	// RestartNATS also restarts the tool's own NATS server (a cluster
	// without NATSURL) halfway between kills: the nodes' connections to it
	// are cut and what they announce meanwhile is lost.
	RestartNATS bool
	// StartupRuns is how many times the startup scenario starts the server.
	StartupRuns int

	// SpreadSources spreads clients over source addresses 127.x.y.z, as real
	// visitors come from many addresses: the server limits new visitors and
	// logins per address. Linux routes all of 127.0.0.0/8 to loopback.
	SpreadSources bool
	// ClientsPerSource is how many visitors or agents share one source address.
	ClientsPerSource int
	// DialConcurrency bounds connection handshakes and setup requests in flight.
	DialConcurrency int
	// Settle is how long the server is left alone before its memory is
	// read, so that the garbage of what was just done is collected.
	Settle time.Duration
	// Drain is how long to wait, after the last send, for outstanding
	// acknowledgements and deliveries before counting what is missing as lost.
	Drain time.Duration
	// Cleanup ends the chats and disables the agents the run created.
	Cleanup bool

	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// WithDefaults returns c with zero values replaced by the scenario's defaults.
func (c Config) WithDefaults() Config {
	if c.Scenario == "" {
		c.Scenario = ScenarioSteady
	}
	if c.Target == "" {
		c.Target = "http://127.0.0.1:8080"
	}
	c.Target = strings.TrimRight(c.Target, "/")
	orDefault(&c.Duration, 30*time.Second)
	if c.Chats <= 0 {
		c.Chats = map[string]int{ScenarioReconnect: 200, ScenarioCrash: 200}[c.Scenario]
		if c.Chats == 0 {
			c.Chats = 1000
		}
	}
	if c.Rate <= 0 {
		c.Rate = map[string]float64{ScenarioReconnect: 500, ScenarioCrash: 500}[c.Scenario]
		if c.Rate == 0 {
			c.Rate = 1000
		}
	}
	orDefault(&c.MessageSize, 64)
	orDefault(&c.ChatsPerAgent, 10)
	if c.Scenario == ScenarioIdle && c.Idle <= 0 {
		c.Idle = 1000
	}
	orDefault(&c.Agents, 20)
	orDefault(&c.AgentChatLimit, 5)
	orDefault(&c.Arrivals, 500)
	orDefault(&c.ArrivalRate, 100)
	orDefault(&c.StormEvery, 3*time.Second)
	orDefault(&c.StormFraction, 0.5)
	orDefault(&c.CrashEvery, 5*time.Second)
	orDefault(&c.Nodes, 1)
	orDefault(&c.StartupRuns, 5)
	orDefault(&c.ClientsPerSource, 20)
	orDefault(&c.DialConcurrency, 100)
	orDefault(&c.Settle, 3*time.Second)
	orDefault(&c.Drain, 10*time.Second)
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// Validate checks a configuration after WithDefaults.
func (c Config) Validate() error {
	known := false
	for _, s := range Scenarios {
		known = known || s == c.Scenario
	}
	if !known {
		return fmt.Errorf("unknown scenario %q (one of %s)", c.Scenario, strings.Join(Scenarios, ", "))
	}
	if err := checkLoopback(c.Target); err != nil {
		return err
	}
	if c.ChatsPerAgent > 100 || c.AgentChatLimit > 100 {
		return fmt.Errorf("an agent holds at most 100 chats (--chats-per-agent, --agent-chat-limit)")
	}
	if c.StormFraction > 1 {
		return fmt.Errorf("--storm-fraction must be in (0, 1]")
	}
	if c.MessageSize > 10000 {
		return fmt.Errorf("--message-size must be at most 10000 bytes (the server's limit)")
	}
	if (c.Scenario == ScenarioStartup || c.Scenario == ScenarioCrash) && c.ServerBin == "" {
		return fmt.Errorf("the %s scenario needs --server-bin (go build -o /tmp/switchboard ./cmd/switchboard)", c.Scenario)
	}
	if c.Scenario == ScenarioCrash && c.CrashEvery < 100*time.Millisecond {
		return fmt.Errorf("--crash-every must be at least 100ms")
	}
	if c.Scenario == ScenarioCrash && c.Duration <= c.CrashEvery {
		return fmt.Errorf("--duration (%s) must be longer than --crash-every (%s), or nothing crashes", c.Duration, c.CrashEvery)
	}
	if c.Nodes > 1 && c.Scenario != ScenarioCrash {
		return fmt.Errorf("--nodes is for the crash scenario, which runs its own servers")
	}
	if c.Nodes > 16 {
		return fmt.Errorf("--nodes must be at most 16")
	}
	if c.Nodes > 1 && c.DatabaseURL == "" {
		return fmt.Errorf("a cluster (--nodes %d) shares one PostgreSQL database: pass --database-url", c.Nodes)
	}
	if c.RestartNATS && (c.Nodes < 2 || c.NATSURL != "") {
		return fmt.Errorf("--restart-nats restarts the NATS server the tool runs for a cluster: use it with --nodes 2 or more and no --nats-url")
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return fmt.Errorf("--database-url must be a postgres:// URL")
	}
	needsAdmin := c.Scenario == ScenarioSteady || c.Scenario == ScenarioBurst || c.Scenario == ScenarioReconnect ||
		(c.Scenario == ScenarioIdle && c.InboxID == 0)
	if needsAdmin && c.Token == "" && (c.AdminEmail == "" || c.AdminPassword == "") {
		return fmt.Errorf("scenario %s needs an owner or admin: --token sba_… or --admin-email and --admin-password "+
			"(the server prints the owner's password on its first start)", c.Scenario)
	}
	return nil
}

// checkLoopback refuses targets that are not on this machine: the tool
// opens thousands of connections and must never be pointed elsewhere.
func checkLoopback(target string) error {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--target must be an http:// URL, got %q", target)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--target must be a loopback address (127.0.0.1, ::1 or localhost), got %q", host)
	}
	return nil
}

// orDefault sets *p to def when it is not positive (unset, or nonsense from a flag).
func orDefault[T int | int64 | float64 | time.Duration](p *T, def T) {
	if *p <= 0 {
		*p = def
	}
}
