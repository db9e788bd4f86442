package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/client"
)

// burstRun is the burst scenario: conversations arrive on an open-loop
// schedule in one inbox whose agents are online; the routing engine offers
// each to an agent, who accepts it and, after Hold, ends it so that its
// capacity serves the next. It measures the time from each arrival's
// scheduled moment to the offer on an agent's socket.
type burstRun struct {
	r        *runner
	inbox    int64
	agentOf  []agent
	agents   []*socket
	visitors []*client.Client
	runCtx   context.Context
	work     sync.WaitGroup // accepts and ends in flight

	mu       sync.Mutex
	arrivals map[int64]time.Duration   // conversation → scheduled arrival
	offers   map[int64][]time.Duration // conversation → when each offer of it arrived
	visible  map[int64]time.Duration   // conversation → its first conversation event on an agent socket

	started  atomic.Int64
	httpTime *latency
}

var _ handler = (*burstRun)(nil)

func (r *runner) runBurst(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	b := &burstRun{
		r: r, runCtx: runCtx, httpTime: newLatency(),
		arrivals: make(map[int64]time.Duration), offers: make(map[int64][]time.Duration), visible: make(map[int64]time.Duration),
	}
	if err := r.signIn(ctx); err != nil {
		return nil, err
	}
	defer r.cleanUp()
	var readers sync.WaitGroup
	defer func() {
		stop()
		for _, s := range b.agents {
			s.close()
		}
		readers.Wait()
		b.work.Wait()
	}()
	if cfg.Cleanup {
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			r.disableAgents(ctx, b.agentOf)
		}()
	}
	if err := b.setUp(ctx, &readers); err != nil {
		return nil, err
	}
	res := &Result{ArrivalsScheduled: cfg.Arrivals, Connections: len(b.agents)}

	r.logf("burst: %d arrivals at %.0f/s to %d agents (chat limit %d)", cfg.Arrivals, cfg.ArrivalRate, cfg.Agents, cfg.AgentChatLimit)
	cpu0, self0, busy0 := r.serverCPU(), cpuTime(), machineBusy()
	began := r.now()
	var arrivals sync.WaitGroup
	func() {
		defer lockPacer()()
		interval := float64(time.Second) / cfg.ArrivalRate
		for i := range cfg.Arrivals {
			due := began + time.Duration(float64(i)*interval)
			if !r.waitUntil(ctx, due) {
				return
			}
			arrivals.Add(1)
			go func() {
				defer arrivals.Done()
				b.arrive(ctx, i, due)
			}()
		}
	}()
	arrivals.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	ended := r.now()
	r.cpuShares(res, ended-began, r.serverCPU()-cpu0, cpuTime()-self0, machineBusy()-busy0)
	b.drain(ctx)
	res.DurationS = (ended - began).Seconds()
	if m, err := r.serverMemory(ctx); err == nil {
		res.ServerRSSBytes, res.ServerGoroutines = m.RSS, m.Goroutines
	}
	stop()
	for _, s := range b.agents {
		s.close()
	}
	readers.Wait()
	b.work.Wait()
	b.tally(res)
	return res, nil
}

// setUp makes the inbox, the agents (connected and online) and the visitors.
func (b *burstRun) setUp(ctx context.Context, readers *sync.WaitGroup) error {
	r, cfg := b.r, b.r.cfg
	in, err := r.admin.CreateInbox(ctx, fmt.Sprintf("Loadgen %s burst", r.runID), sb.ChannelWidget, nil)
	if err != nil {
		return fmt.Errorf("create the inbox: %w", err)
	}
	b.inbox = in.ID
	r.logf("set-up: %d agents, %d visitors", cfg.Agents, cfg.Arrivals)
	b.agentOf, err = r.makeAgents(ctx, cfg.Agents, cfg.AgentChatLimit, func(int) int64 { return b.inbox }, r.clientAddrs(cfg.Agents))
	if err != nil {
		return err
	}
	for i, a := range b.agentOf {
		b.agents = append(b.agents, &socket{r: r, name: fmt.Sprintf("agent %d", i), token: a.token, addr: a.addr, h: b, idx: i})
	}
	if err := r.connectAll(ctx, b.runCtx, b.agents, readers); err != nil {
		return err
	}
	for _, a := range b.agentOf {
		if _, err := a.c.SetPresence(ctx, sb.PresenceOnline); err != nil {
			return fmt.Errorf("set agent %d online: %w", a.id, err)
		}
	}
	addrOf := r.clientAddrs(cfg.Arrivals)
	b.visitors = make([]*client.Client, cfg.Arrivals)
	return r.parallel(ctx, cfg.Arrivals, cfg.DialConcurrency, func(ctx context.Context, i int) error {
		vc, err := r.api.createVisitor(ctx, addrOf(i), b.inbox)
		if err != nil {
			return fmt.Errorf("create visitor %d: %w", i, err)
		}
		b.visitors[i] = vc
		return nil
	})
}

// arrive is one customer starting a chat at its scheduled time.
func (b *burstRun) arrive(ctx context.Context, i int, due time.Duration) {
	conv, _, _, err := b.visitors[i].StartConversation(ctx, b.inbox, "lg burst", fmt.Sprintf("b%d", i))
	b.httpTime.record(b.r.now() - due)
	if err != nil {
		b.r.problem("arrival %d: %v", i, err)
		return
	}
	b.started.Add(1)
	b.mu.Lock()
	b.arrivals[conv.ID] = due
	b.mu.Unlock()
	if conv.Status == sb.StatusEnded {
		b.r.problem("arrival %d became a ticket (%s): were the agents online?", i, conv.Ticket)
	}
}

func (b *burstRun) event(s *socket, f *inFrame, at time.Duration) {
	switch f.Event {
	case "conversation":
		b.mu.Lock()
		if _, ok := b.visible[f.ConversationID]; !ok {
			b.visible[f.ConversationID] = at
		}
		b.mu.Unlock()
	case "offer":
		var o sb.Offer
		if err := json.Unmarshal(f.Data, &o); err != nil || o.State != sb.OfferPending {
			return
		}
		b.mu.Lock()
		b.offers[o.ConversationID] = append(b.offers[o.ConversationID], at)
		b.mu.Unlock()
		b.work.Add(1)
		go func() {
			defer b.work.Done()
			b.serve(b.agentOf[s.idx], &o)
		}()
	}
}

// serve accepts an offer, holds the chat for Hold and ends it.
func (b *burstRun) serve(a agent, o *sb.Offer) {
	ctx, cancel := context.WithTimeout(b.runCtx, time.Minute)
	defer cancel()
	if err := acceptOffer(ctx, a.c, o.ID); err != nil {
		if ctx.Err() == nil {
			b.r.problem("agent %d: accept offer %d: %v", a.id, o.ID, err)
		}
		return
	}
	if err := sleep(ctx, b.r.cfg.Hold); err != nil {
		return
	}
	if _, err := a.c.End(ctx, o.ConversationID); err != nil && ctx.Err() == nil {
		b.r.problem("agent %d: end chat %d: %v", a.id, o.ConversationID, err)
	}
}

func (*burstRun) ack(*socket, *send, *wireMessage, time.Duration) {}
func (*burstRun) refused(*socket, *send)                          {}
func (*burstRun) resent(*socket, *send)                           {}

// drain waits until every started arrival has been offered, or the drain time is up.
func (b *burstRun) drain(ctx context.Context) {
	deadline := time.Now().Add(b.r.cfg.Drain + b.r.cfg.Hold)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		b.mu.Lock()
		waiting := 0
		for conv := range b.arrivals {
			if len(b.offers[conv]) == 0 {
				waiting++
			}
		}
		b.mu.Unlock()
		if waiting == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *burstRun) tally(res *Result) {
	offer, visible := newLatency(), newLatency()
	b.mu.Lock()
	for conv, due := range b.arrivals {
		if at, ok := b.visible[conv]; ok {
			visible.record(at - due)
		}
		offs := b.offers[conv]
		if len(offs) == 0 {
			res.Unoffered++
			continue
		}
		res.Offers++
		res.RepeatedOffers += int64(len(offs) - 1)
		offer.record(offs[0] - due)
	}
	b.mu.Unlock()
	res.ArrivalsStarted = b.started.Load()
	if p := offer.percentiles(); p.Count > 0 {
		res.Offer = &p
		res.OfferP50Ms, res.OfferP99Ms = ptr(p.P50), ptr(p.P99)
	}
	if p := visible.percentiles(); p.Count > 0 {
		res.Visible = &p
	}
	if p := b.httpTime.percentiles(); p.Count > 0 {
		res.ArrivalHTTP = &p
	}
	switch {
	case res.ArrivalsStarted < int64(res.ArrivalsScheduled):
		res.Failure = fmt.Sprintf("%d of %d arrivals could not start a chat", int64(res.ArrivalsScheduled)-res.ArrivalsStarted, res.ArrivalsScheduled)
	case res.Offers == 0:
		res.Failure = "no offers arrived: is the routing engine running?"
	case res.Unoffered > 0:
		res.Failure = fmt.Sprintf("%d chats were never offered within the drain time", res.Unoffered)
	}
}
