package loadgen

import (
	"context"
	"fmt"
	"sync"
	"time"

	sb "github.com/switchboard/switchboard"
)

func (r *runner) runIdle(ctx context.Context) (*Result, error) {
	if r.cfg.InboxID == 0 {
		if err := r.signIn(ctx); err != nil {
			return nil, err
		}
		defer r.cleanUp()
	}
	socks, err := r.idleVisitors(ctx, r.cfg.Idle)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	var readers sync.WaitGroup
	defer func() {
		stop()
		for _, s := range socks {
			s.close()
		}
		readers.Wait()
	}()
	if err := r.connectIdle(ctx, runCtx, socks, &readers, res); err != nil {
		return nil, err
	}
	res.Connections = len(socks)

	r.logf("holding %d idle connections for %s", len(socks), r.cfg.Duration)
	memCtx, stopMem := context.WithCancel(ctx)
	mem := r.sampleMemory(memCtx, time.Second)
	cpu0, self0, busy0 := r.serverCPU(), cpuTime(), machineBusy()
	began := r.now()
	select {
	case <-ctx.Done():
		stopMem()
		return nil, ctx.Err()
	case <-time.After(r.cfg.Duration):
	}
	res.DurationS = (r.now() - began).Seconds()
	r.cpuShares(res, r.now()-began, r.serverCPU()-cpu0, cpuTime()-self0, machineBusy()-busy0)
	m, err := r.serverMemory(ctx)
	stopMem()
	if err != nil {
		r.problem("read server memory: %v", err)
	} else {
		res.ServerRSSBytes, res.ServerGoroutines = m.RSS, m.Goroutines
		res.ServerRSSPeakBytes = max(mem.peakRSS(), m.RSS)
		r.perConnection(res, res.baseline, m, len(socks)) // after the hold, the steadier figure
	}
	live := 0
	for _, s := range socks {
		s.mu.Lock()
		if s.live {
			live++
		}
		s.mu.Unlock()
	}
	if live < len(socks) {
		r.problem("%d of %d idle connections were down at the end of the hold", len(socks)-live, len(socks))
	}
	return res, nil
}

// idleVisitors makes n widget visitors in the configured inbox (or one of
// their own) and returns their sockets, not yet connected.
func (r *runner) idleVisitors(ctx context.Context, n int) ([]*socket, error) {
	inbox := r.cfg.InboxID
	if inbox == 0 {
		in, err := r.admin.CreateInbox(ctx, fmt.Sprintf("Loadgen %s idle", r.runID), sb.ChannelWidget, nil)
		if err != nil {
			return nil, fmt.Errorf("create the idle inbox: %w", err)
		}
		inbox = in.ID
	}
	r.logf("set-up: %d idle visitors in inbox %d", n, inbox)
	addrOf := r.clientAddrs(n)
	socks := make([]*socket, n)
	err := r.parallel(ctx, n, r.cfg.DialConcurrency, func(ctx context.Context, i int) error {
		vc, err := r.api.createVisitor(ctx, addrOf(i), inbox)
		if err != nil {
			return fmt.Errorf("create idle visitor %d: %w", i, err)
		}
		socks[i] = &socket{r: r, name: fmt.Sprintf("idle visitor %d", i), token: vc.Token(), addr: addrOf(i), h: nopHandler{}, idx: i, node: i % max(len(r.wsURLs), 1)}
		return nil
	})
	return socks, err
}

// connectIdle reads the server's memory, connects the idle sockets, lets
// the server settle and reads it again: the difference, per connection, is
// what an idle connection costs the server, all state included.
func (r *runner) connectIdle(ctx, runCtx context.Context, socks []*socket, readers *sync.WaitGroup, res *Result) error {
	if err := sleep(ctx, r.cfg.Settle); err != nil {
		return err
	}
	before, err := r.serverMemory(ctx)
	if err != nil {
		r.problem("read server memory: %v", err)
	}
	r.logf("connecting %d idle visitors (server RSS %s)", len(socks), bytesText(before.RSS))
	if err := r.connectAll(ctx, runCtx, socks, readers); err != nil {
		return err
	}
	res.IdleConnections = len(socks)
	if err := sleep(ctx, r.cfg.Settle); err != nil {
		return err
	}
	after, err := r.serverMemory(ctx)
	if err != nil {
		r.problem("read server memory: %v", err)
	}
	res.baseline = before
	res.ServerRSSBaseline = before.RSS
	r.perConnection(res, before, after, len(socks))
	r.logf("%d idle visitors connected (server RSS %s)", len(socks), bytesText(after.RSS))
	return nil
}

// perConnection sets the per-idle-connection figures from two memory readings.
func (r *runner) perConnection(res *Result, before, after memory, n int) {
	if n == 0 || before.RSS == 0 || after.RSS == 0 {
		return
	}
	per := func(a, b int64) *float64 { return ptr(float64(a-b) / float64(n)) }
	res.BytesPerIdleConn = per(after.RSS, before.RSS)
	if before.HeapInuse > 0 && after.HeapInuse > 0 {
		res.GoBytesPerIdleConn = per(after.HeapInuse+after.StackInuse, before.HeapInuse+before.StackInuse)
	}
	if before.Goroutines > 0 && after.Goroutines > 0 {
		res.GoroutinesPerIdleConn = per(after.Goroutines, before.Goroutines)
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
