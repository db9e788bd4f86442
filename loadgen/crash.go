package loadgen

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	sb "github.com/switchboard/switchboard"
)

// The crash scenario is the steady one against a server the tool runs
// itself and kills with SIGKILL every CrashEvery: no graceful shutdown, the
// SQLite WAL left as the kill found it, acks in flight lost with the
// process. It starts the server again at once on the same data folder and
// port. The clients see their connections die, reconnect with back-off
// until the server is back, resume from their last position and re-send,
// with the same client ids, whatever was not acknowledged; sends scheduled
// meanwhile wait and go out after ready. The chat checks are the steady
// ones, and a resync fails the run: the events are committed with the
// messages, so positions must survive a crash.

// ownServer is the server the crash scenario runs — or the nodes of the
// cluster it runs (Config.Nodes) — with their processes and data folder,
// and whether the folder is the tool's to remove.
type ownServer struct {
	procs   []*serverProcess // one per node; procs[0] is the Target
	dir     string
	tempDir bool
}

// startOwnServer starts the server binary on cfg.DataDir (or a new
// temporary folder) and a free loopback port, waits until it is ready, and
// points cfg at it: Target, and the owner's credentials when the server
// printed them (an empty folder or database; otherwise cfg's own
// credentials are used). A cluster's nodes each get a free port, a folder
// of their own under it and a node id, and share cfg's database and NATS;
// the first is started alone (it migrates the database and makes the
// owner), then the others, and Target is the first.
func startOwnServer(ctx context.Context, cfg *Config) (*ownServer, error) {
	o := &ownServer{dir: cfg.DataDir}
	if o.dir == "" {
		dir, err := os.MkdirTemp("", "switchboard-crash-*")
		if err != nil {
			return nil, err
		}
		o.dir, o.tempDir = dir, true
	}
	taken := map[string]bool{}
	for i := range cfg.Nodes {
		addr, err := freeLoopbackAddr()
		for err == nil && taken[addr] {
			addr, err = freeLoopbackAddr()
		}
		if err != nil {
			o.close(nil, nil)
			return nil, err
		}
		taken[addr] = true
		dir := o.dir
		var args []string
		if cfg.DatabaseURL != "" {
			args = append(args, "--database-url", cfg.DatabaseURL)
		}
		if cfg.NATSURL != "" {
			args = append(args, "--nats-url", cfg.NATSURL)
		}
		if cfg.Nodes > 1 {
			dir = filepath.Join(o.dir, fmt.Sprintf("node-%d", i+1))
			if err := os.MkdirAll(dir, 0o700); err != nil {
				o.close(nil, nil)
				return nil, err
			}
			args = append(args, "--node-id", fmt.Sprintf("loadgen-%d", i+1))
		}
		o.procs = append(o.procs, newServerProcess(cfg.ServerBin, dir, addr, args...))
	}
	for i, p := range o.procs {
		fmt.Fprintf(cfg.Log, "starting %s on %s, data in %s%s\n", cfg.ServerBin, p.addr, p.dir, nodeNote(cfg.Nodes, i))
		if err := p.start(ctx); err != nil {
			o.close(nil, nil)
			return nil, fmt.Errorf("node %d: %w", i+1, err)
		}
	}
	cfg.Target = o.procs[0].url()
	if email, password, ok := o.procs[0].owner(); ok {
		cfg.Token, cfg.AdminEmail, cfg.AdminPassword = "", email, password
	} else if cfg.Token == "" && (cfg.AdminEmail == "" || cfg.AdminPassword == "") {
		o.close(nil, nil)
		where := o.dir
		if cfg.DatabaseURL != "" {
			where = "the database"
		}
		return nil, fmt.Errorf("the server printed no owner password (%s has been used before): "+
			"pass --token, or --admin-email and --admin-password, or use an empty --data-dir or database", where)
	}
	return o, nil
}

// nodeNote names node i of a cluster in a log line ("" for a single server).
func nodeNote(nodes, i int) string {
	if nodes <= 1 {
		return ""
	}
	return fmt.Sprintf(" (node %d of %d, --node-id loadgen-%d)", i+1, nodes, i+1)
}

// close stops the servers gracefully and removes a temporary data folder,
// unless the run failed its checks: the folder is then kept for a look.
// With res, it reports what the servers logged as errors, and where the
// data is when it stays (a --data-dir, or a failed run's folder).
func (o *ownServer) close(r *runner, res *Result) {
	if o == nil {
		return
	}
	var wg sync.WaitGroup
	for _, p := range o.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop()
		}()
	}
	wg.Wait()
	if res != nil {
		var lines []string
		for i, p := range o.procs {
			for _, l := range p.errorLines() {
				if len(o.procs) > 1 {
					l = fmt.Sprintf("node %d %s", i+1, l)
				}
				lines = append(lines, l)
			}
		}
		for i, l := range lines {
			if i == 5 {
				res.Problems = append(res.Problems, fmt.Sprintf("… and %d more server error lines", len(lines)-i))
				break
			}
			res.Problems = append(res.Problems, "server logged: "+l)
		}
	}
	if !o.tempDir || res != nil && !res.OK {
		if res != nil {
			res.DataDir = o.dir // what is left to look at
		}
		return
	}
	if err := os.RemoveAll(o.dir); err != nil && r != nil {
		r.logf("remove %s: %v", o.dir, err)
	}
}

// ackLossWindow is how long before each kill the clients ignore acks.
const ackLossWindow = 20 * time.Millisecond

// crashReport is what the crash loop did.
type crashReport struct {
	crashes      int
	natsRestarts int
	drops        int64    // connections the kills cut
	ready        *latency // kill to the restarted server's first 200 from /readyz
	failure      string   // the server did not come back, or died by itself
	routing      []string // what was wrong with the routing afterwards (checkRouting)
}

// crashes kills a server with SIGKILL every CrashEvery until traffic
// ends — in a cluster, the next node in turn — and starts it again on the
// same folder and port each time. Each socket connected to it is marked
// first, so that its reconnect is timed from the kill. A kill is never less
// than half a period after the last restarted server was ready again. If a
// server does not come back (or any node dies on its own), the traffic
// stops and the report says why.
func (cr *chatRun) crashes(trafficCtx, ctx context.Context, stopTraffic func()) crashReport {
	r, procs := cr.r, cr.r.procs
	rep := crashReport{ready: newLatency()}
	every := r.cfg.CrashEvery
	next := r.now() + every
	watch := time.NewTicker(20 * time.Millisecond)
	defer watch.Stop()
	var natsDue <-chan time.Time // the NATS restart between this kill and the next
	for {
		t := time.NewTimer(next - r.now())
		for waiting := true; waiting; {
			select {
			case <-trafficCtx.Done():
				t.Stop()
				return rep
			case <-natsDue:
				natsDue = nil
				down, err := r.nats.restart()
				if err != nil {
					t.Stop()
					rep.failure = fmt.Sprintf("could not restart NATS: %v", err)
					stopTraffic()
					return rep
				}
				rep.natsRestarts++
				r.logf("NATS restart %d: no NATS server for %s", rep.natsRestarts, down.Round(time.Millisecond))
			case <-watch.C:
				for i, p := range procs {
					if p.exitedByItself() {
						t.Stop()
						rep.failure = fmt.Sprintf("the server%s exited by itself (%s) at %.1fs; its output ends:\n%s",
							nodeName(len(procs), i), p.exitStatus(), r.now().Seconds(), tail(p.output(), 4096))
						stopTraffic()
						return rep
					}
				}
			case <-t.C:
				waiting = false
			}
		}
		node := rep.crashes % len(procs)
		p := procs[node]
		// The sockets ignore the acks of the last moments before the kill,
		// as if the server had died before they went out: a window in
		// which the messages are committed and their acks lost is then
		// certain, where a bare kill would hit one only by rare luck.
		killAt := r.now() + ackLossWindow
		drops := int64(0)
		for _, s := range cr.sockets(true) {
			if s.node == node && s.crashing(killAt) {
				drops++
			}
		}
		time.Sleep(ackLossWindow)
		killedAt := r.now()
		pid := p.pid()
		p.kill()
		rep.crashes++
		rep.drops += drops
		// The restart is not cut short when the traffic ends: the drain
		// and the clean-up need the server.
		if err := p.start(ctx); err != nil {
			rep.failure = fmt.Sprintf("the server%s did not come back after crash %d: %v", nodeName(len(procs), node), rep.crashes, err)
			stopTraffic()
			return rep
		}
		readyAt := r.now()
		rep.ready.record(readyAt - killedAt)
		r.logf("crash %d: killed the server%s (pid %d) under %d connections; ready again after %s",
			rep.crashes, nodeName(len(procs), node), pid, drops, (readyAt - killedAt).Round(time.Millisecond))
		next = max(next+every, readyAt+every/2)
		if r.cfg.RestartNATS && r.nats != nil {
			natsDue = time.After((next - readyAt) / 2)
		}
	}
}

// nodeName names node i in a message about "the server" (nothing for a single one).
func nodeName(nodes, i int) string {
	if nodes <= 1 {
		return ""
	}
	return fmt.Sprintf(" of node %d", i+1)
}

// report puts the crash figures into res: the loop's, and the restarted
// servers' own start-up times from their logs.
func (rep crashReport) report(res *Result, procs []*serverProcess) {
	res.Crashes, res.CrashDrops, res.NATSRestarts = rep.crashes, rep.drops, rep.natsRestarts
	if pc := rep.ready.percentiles(); pc.Count > 0 {
		res.KillToReady = &pc
	}
	own := newLatency()
	for _, p := range procs {
		if ds := p.startupTimes(); len(ds) > 1 {
			for _, d := range ds[1:] {
				own.record(d)
			}
		}
	}
	if pc := own.percentiles(); pc.Count > 0 {
		res.RestartServerMs = &pc
	}
	if len(rep.routing) > 0 && rep.failure == "" {
		rep.failure = fmt.Sprintf("the routing did not survive the crashes: %s", rep.routing[0])
		if len(rep.routing) > 1 {
			rep.failure += fmt.Sprintf(" (and %d more)", len(rep.routing)-1)
		}
		res.Problems = append(res.Problems, rep.routing[1:min(len(rep.routing), maxProblems)]...)
	}
	if rep.failure != "" {
		if res.Failure != "" {
			rep.failure += "; then: " + res.Failure
		}
		res.Failure = rep.failure
	}
}

// checkRouting asks the restarted server whether the routing survived the
// crashes: every chat still assigned to its agent, every agent (who
// reconnected) online. It returns what is wrong.
func (cr *chatRun) checkRouting(ctx context.Context) []string {
	r := cr.r
	var mu sync.Mutex
	var wrong []string
	note := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		wrong = append(wrong, fmt.Sprintf(format, args...))
	}
	err := r.parallel(ctx, len(cr.chats), 16, func(ctx context.Context, i int) error {
		ch := cr.chats[i]
		a := cr.agentOf[ch.agent.idx]
		c, err := r.admin.Conversation(ctx, ch.conv)
		if err != nil {
			return fmt.Errorf("read conversation %d: %w", ch.conv, err)
		}
		if c.Status != sb.StatusAssigned || c.AssigneeID == nil || *c.AssigneeID != a.id {
			assignee := "none"
			if c.AssigneeID != nil {
				assignee = fmt.Sprint(*c.AssigneeID)
			}
			note("chat %d (conversation %d) is %s, assignee %s, after the crashes; want assigned to agent %d", i, ch.conv, c.Status, assignee, a.id)
		}
		return nil
	})
	if err == nil {
		err = r.parallel(ctx, len(cr.agentOf), 16, func(ctx context.Context, i int) error {
			u, err := cr.agentOf[i].c.Me(ctx)
			if err != nil {
				return fmt.Errorf("read agent %d: %w", cr.agentOf[i].id, err)
			}
			if u.Presence != sb.PresenceOnline {
				note("agent %d is %s after the crashes; want online", u.ID, u.Presence)
			}
			return nil
		})
	}
	if err != nil {
		note("could not check the routing after the crashes: %v", err)
	}
	slices.Sort(wrong)
	return wrong
}

// historyPage is how many messages checkHistory reads at a time (the API's most).
const historyPage = 500

// historyCheck is what checkHistory found wrong in the stored messages.
type historyCheck struct {
	lost, duplicated, wrong int64
}

// checkHistory reads every chat's stored messages back through the API
// after the crashes and compares them with what the clients saw. Receipt
// alone does not prove durability: a server that told its clients before
// committing would deliver a message and then forget it in a crash. So
// each committed message (acked, or received by anyone) must be stored
// exactly once, under the id its ack and receivers had, in the order its
// sender sent it. Call it once the sockets' goroutines have stopped.
func (cr *chatRun) checkHistory(ctx context.Context) (historyCheck, error) {
	r := cr.r
	var mu sync.Mutex
	var hc historyCheck
	err := r.parallel(ctx, len(cr.chats), 16, func(ctx context.Context, i int) error {
		ch := cr.chats[i]
		var stored [2]idList
		var c historyCheck
		lastK := [2]int{-1, -1}
		for after := int64(0); ; {
			ms, err := r.admin.Messages(ctx, ch.conv, sb.ThreadPublic, after, historyPage)
			if err != nil {
				return fmt.Errorf("read the messages of conversation %d: %w", ch.conv, err)
			}
			for _, m := range ms {
				after = m.Seq
				dir, k, ok := parseClientID(m.ClientID, ch.idx)
				switch {
				case !ok:
				case stored[dir].get(k) != 0:
					c.duplicated++
					r.problem("chat %d: %s is stored twice (messages %d and %d)", i, m.ClientID, stored[dir].get(k), m.ID)
				default:
					stored[dir].set(k, m.ID)
					if k < lastK[dir] {
						c.wrong++
						r.problem("chat %d: %s is stored after a later message of its sender", i, m.ClientID)
					}
					lastK[dir] = max(lastK[dir], k)
				}
			}
			if len(ms) < historyPage {
				break
			}
		}
		for dir := range 2 {
			for k := range ch.next[dir] {
				// The ids it was acked and delivered under (0: not known).
				known := [3]int64{ch.ackIDs[dir].get(k), ch.views[0].ids[dir].get(k), ch.views[1].ids[dir].get(k)}
				got := stored[dir].get(k)
				switch {
				case known == [3]int64{}: // never committed as far as anyone knows
				case got == 0:
					c.lost++
					r.problem("chat %d: %s (acked or delivered as %v) was committed but is not stored", i, clientID(dir, k, i), known)
				default:
					for _, id := range known {
						if id != 0 && id != got {
							c.wrong++
							r.problem("chat %d: %s is stored as message %d, acked or delivered as %v", i, clientID(dir, k, i), got, known)
							break
						}
					}
				}
			}
		}
		mu.Lock()
		hc.lost, hc.duplicated, hc.wrong = hc.lost+c.lost, hc.duplicated+c.duplicated, hc.wrong+c.wrong
		mu.Unlock()
		return nil
	})
	return hc, err
}
