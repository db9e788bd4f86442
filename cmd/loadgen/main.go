// Command loadgen drives a running Switchboard with many visitors and agents
// over real WebSockets and reports delivery latency, throughput, time to
// offer, memory per connection and start-up time — and whether every
// message arrived exactly once and in order, also across kill -9s of a
// server it runs itself (--scenario crash). See BENCHMARKS.md.
//
//	go run ./cmd/loadgen --target http://127.0.0.1:8080 --scenario steady \
//	    --admin-email owner@switchboard.local --admin-password '…'
//
// It exits with status 1 when the run found lost, doubled or reordered
// messages (or another failure), and 2 when it could not run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/switchboard/switchboard/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c loadgen.Config
	var asJSON, quiet bool
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: loadgen --scenario %s [flags]\n\n", strings.Join(loadgen.Scenarios, "|"))
		fs.PrintDefaults()
	}
	fs.StringVar(&c.Target, "target", "http://127.0.0.1:8080", "the server's base URL (loopback only; crash starts its own server)")
	fs.StringVar(&c.Scenario, "scenario", loadgen.ScenarioSteady, "what to run: "+strings.Join(loadgen.Scenarios, ", "))
	fs.DurationVar(&c.Duration, "duration", 0, "traffic or hold time (default 30s)")
	fs.StringVar(&c.Token, "token", "", "an owner's or admin's API token (sba_…); or use --admin-email and --admin-password")
	fs.StringVar(&c.AdminEmail, "admin-email", "", "owner or admin e-mail (the owner is printed on the server's first start)")
	fs.StringVar(&c.AdminPassword, "admin-password", "", "its password (printed once on the server's first start)")
	fs.Int64Var(&c.InboxID, "inbox", 0, "idle: an existing widget inbox (e.g. the --demo one); no credentials needed then")
	fs.IntVar(&c.Chats, "chats", 0, "active chats (default 1000; reconnect and crash 200)")
	fs.Float64Var(&c.Rate, "rate", 0, "messages per second, both directions together (default 1000; reconnect and crash 500)")
	fs.IntVar(&c.MessageSize, "message-size", 0, "message body bytes (default 64)")
	fs.IntVar(&c.ChatsPerAgent, "chats-per-agent", 0, "chats on each agent's socket, 1–100 (default 10)")
	fs.IntVar(&c.Idle, "idle", 0, "idle visitor connections (idle: default 1000; steady: extra, alongside the chats)")
	fs.IntVar(&c.Agents, "agents", 0, "burst: online agents (default 20)")
	fs.IntVar(&c.AgentChatLimit, "agent-chat-limit", 0, "burst: each agent's chat limit (default 5)")
	fs.IntVar(&c.Arrivals, "arrivals", 0, "burst: conversations arriving (default 500)")
	fs.Float64Var(&c.ArrivalRate, "arrival-rate", 0, "burst: arrivals per second (default 100)")
	fs.DurationVar(&c.Hold, "hold", 0, "burst: how long an agent keeps an accepted chat before ending it")
	fs.DurationVar(&c.StormEvery, "storm-every", 0, "reconnect: time between storms (default 3s)")
	fs.Float64Var(&c.StormFraction, "storm-fraction", 0, "reconnect: share of clients dropped per storm (default 0.5)")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "read the server's RSS from /proc/<pid> instead of /metrics")
	fs.StringVar(&c.ServerBin, "server-bin", "", "startup, crash: the switchboard binary to start (go build -o /tmp/switchboard ./cmd/switchboard)")
	fs.DurationVar(&c.CrashEvery, "crash-every", 0, "crash: time between kills of the server (SIGKILL; default 5s)")
	fs.StringVar(&c.DataDir, "data-dir", "", "crash: the server's data folder (default: a new temporary one, removed unless the run fails); a cluster's nodes use node-1, node-2, … in it")
	fs.IntVar(&c.Nodes, "nodes", 1, "crash: run a cluster of this many servers (own ports, folders and --node-id; one killed at a time, in turn); more than 1 needs --database-url")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "crash: the PostgreSQL URL every server started gets (--database-url; an empty database or schema, e.g. ?search_path=lg1, lets the tool read the owner's password)")
	fs.StringVar(&c.NATSURL, "nats-url", "", "crash: the NATS URL every server started gets (--nats-url); empty with --nodes 2 or more: the tool runs a NATS server itself")
	fs.BoolVar(&c.RestartNATS, "restart-nats", false, "crash: also restart the tool's own NATS server halfway between kills (--nodes 2 or more, no --nats-url)")
	fs.IntVar(&c.StartupRuns, "startup-runs", 0, "startup: how many starts (default 5)")
	fs.BoolVar(&c.SpreadSources, "spread-sources", true, "spread clients over source addresses 127.x.y.z (Linux), as real visitors come from many")
	fs.IntVar(&c.ClientsPerSource, "clients-per-source", 0, "clients sharing one source address (default 20; the server allows 30 new visitors per address at once)")
	fs.IntVar(&c.DialConcurrency, "dial-concurrency", 0, "handshakes and set-up requests in flight (default 100)")
	fs.DurationVar(&c.Drain, "drain", 0, "after the last send, how long to wait for stragglers before counting them lost (default 10s)")
	fs.DurationVar(&c.Settle, "settle", 0, "quiet time before reading the server's memory (default 3s)")
	fs.BoolVar(&c.Cleanup, "cleanup", true, "end the run's chats and disable its agents afterwards")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object instead of the table")
	fs.BoolVar(&quiet, "quiet", false, "no progress lines on stderr")
	cpuProfile := fs.String("cpuprofile", "", "write the tool's own CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if !quiet {
		c.Log = stderr
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	res, err := loadgen.Run(ctx, c)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	if asJSON {
		err = res.WriteJSON(stdout)
	} else {
		err = res.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	if !res.OK {
		return 1
	}
	return 0
}
