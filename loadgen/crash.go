package loadgen

import (
	"context"
	"fmt"
	"os"
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

// ownServer is the server the crash scenario runs: its process and data
// folder, and whether the folder is the tool's to remove.
type ownServer struct {
	proc    *serverProcess
	dir     string
	tempDir bool
}

// startOwnServer starts the server binary on cfg.DataDir (or a new
// temporary folder) and a free loopback port, waits until it is ready, and
// points cfg at it: Target, and the owner's credentials when the server
// printed them (an empty folder; otherwise cfg's own credentials are used).
func startOwnServer(ctx context.Context, cfg *Config) (*ownServer, error) {
	o := &ownServer{dir: cfg.DataDir}
	if o.dir == "" {
		dir, err := os.MkdirTemp("", "switchboard-crash-*")
		if err != nil {
			return nil, err
		}
		o.dir, o.tempDir = dir, true
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		o.close(nil, nil)
		return nil, err
	}
	o.proc = newServerProcess(cfg.ServerBin, o.dir, addr)
	fmt.Fprintf(cfg.Log, "starting %s on %s, data in %s\n", cfg.ServerBin, addr, o.dir)
	if err := o.proc.start(ctx); err != nil {
		o.close(nil, nil)
		return nil, err
	}
	cfg.Target = o.proc.url()
	if email, password, ok := o.proc.owner(); ok {
		cfg.Token, cfg.AdminEmail, cfg.AdminPassword = "", email, password
	} else if cfg.Token == "" && (cfg.AdminEmail == "" || cfg.AdminPassword == "") {
		o.close(nil, nil)
		return nil, fmt.Errorf("the server printed no owner password (%s has been used before): "+
			"pass --token, or --admin-email and --admin-password, or use an empty --data-dir", o.dir)
	}
	return o, nil
}

// close stops the server gracefully and removes a temporary data folder,
// unless the run failed its checks: the folder is then kept for a look.
// With res, it reports what the servers logged as errors, and where the
// data is when it stays (a --data-dir, or a failed run's folder).
func (o *ownServer) close(r *runner, res *Result) {
	if o == nil {
		return
	}
	if o.proc != nil {
		o.proc.stop()
	}
	if res != nil {
		lines := o.proc.errorLines()
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
	crashes int
	drops   int64    // connections the kills cut
	ready   *latency // kill to the restarted server's first 200 from /readyz
	failure string   // the server did not come back, or died by itself
	routing []string // what was wrong with the routing afterwards (checkRouting)
}

// crashes kills the server with SIGKILL every CrashEvery until traffic
// ends, and starts it again on the same folder and port each time. Each
// connected socket is marked first, so that its reconnect is timed from the
// kill. A kill is never less than half a period after the server was ready
// again. If the server does not come back (or dies on its own), the
// traffic stops and the report says why.
func (cr *chatRun) crashes(trafficCtx, ctx context.Context, stopTraffic func()) crashReport {
	r, p := cr.r, cr.r.proc
	rep := crashReport{ready: newLatency()}
	socks := cr.sockets(true)
	every := r.cfg.CrashEvery
	next := r.now() + every
	for {
		t := time.NewTimer(next - r.now())
		select {
		case <-trafficCtx.Done():
			t.Stop()
			return rep
		case <-p.exitedChan():
			t.Stop()
			if p.exitedByItself() {
				rep.failure = fmt.Sprintf("the server exited by itself (%s) at %.1fs; its output ends:\n%s",
					p.exitStatus(), r.now().Seconds(), tail(p.output(), 4096))
				stopTraffic()
				return rep
			}
		case <-t.C:
		}
		// The sockets ignore the acks of the last moments before the kill,
		// as if the server had died before they went out: a window in
		// which the messages are committed and their acks lost is then
		// certain, where a bare kill would hit one only by rare luck.
		killAt := r.now() + ackLossWindow
		drops := int64(0)
		for _, s := range socks {
			if s.crashing(killAt) {
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
			rep.failure = fmt.Sprintf("the server did not come back after crash %d: %v", rep.crashes, err)
			stopTraffic()
			return rep
		}
		readyAt := r.now()
		rep.ready.record(readyAt - killedAt)
		r.logf("crash %d: killed the server (pid %d) under %d connections; ready again after %s",
			rep.crashes, pid, drops, (readyAt - killedAt).Round(time.Millisecond))
		next = max(next+every, readyAt+every/2)
	}
}

// report puts the crash figures into res: the loop's, and the restarted
// servers' own start-up times from their logs.
func (rep crashReport) report(res *Result, p *serverProcess) {
	res.Crashes, res.CrashDrops = rep.crashes, rep.drops
	if pc := rep.ready.percentiles(); pc.Count > 0 {
		res.KillToReady = &pc
	}
	own := newLatency()
	if ds := p.startupTimes(); len(ds) > 1 {
		for _, d := range ds[1:] {
			own.record(d)
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
