package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/client"
)

// Directions of a chat's messages, which are also the indexes of the two
// receivers: a message is meant for the other side and echoed to its sender.
const (
	toAgent    = 0 // customer → agent, sent by the visitor
	toCustomer = 1 // agent → customer, sent by the agent
	atVisitor  = 0
	atAgent    = 1
)

// chat is one conversation between a visitor socket and an agent socket,
// with what each side sent and saw. Each field has one writer: next is the
// scheduler's; acked[d] and refused[d] belong to the reading goroutine of
// direction d's sender, views[i] to receiver i's. They are read together
// only after every goroutine has stopped.
type chat struct {
	idx     int
	conv    int64
	visitor *socket
	agent   *socket
	next    [2]int
	acked   [2]bitset
	ackIDs  [2]idList // the stored message each ack named
	refused [2]bitset
	views   [2]view
}

// view is what one receiver saw of a chat.
type view struct {
	lastSeq    int64
	seen       [2]bitset // message numbers, per direction
	ids        [2]idList // the stored message of each number seen
	maxK       [2]int
	duplicated int64
	reordered  int64
}

// chatRun is the steady and reconnect scenarios: traffic in active chats on
// an open-loop schedule, verified message by message.
type chatRun struct {
	r        *runner
	chats    []*chat
	byConv   map[int64]*chat // read-only once traffic starts
	visitors []*socket
	agents   []*socket
	agentOf  []agent
	idle     []*socket
	runCtx   context.Context // the sockets' lifetime

	amu      sync.Mutex
	assigned map[int64]chan struct{} // closed when the conversation's offer was accepted

	lat    [2]*latency // delivery, by direction
	commit *latency    // scheduled send to ack
	lag    *latency    // scheduled send to actual send

	ready                          atomic.Bool // set-up is over: byConv is complete
	sent, acked, delivered, echoed atomic.Int64
	resends, resendsCommitted      atomic.Int64 // re-sends after a resume; those committed before it
	lastDelivery                   atomic.Int64 // run time of the latest delivery, ns
	pad                            string
}

var _ handler = (*chatRun)(nil)

func (r *runner) runChats(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	cr := &chatRun{
		r: r, byConv: make(map[int64]*chat, cfg.Chats), runCtx: runCtx, assigned: make(map[int64]chan struct{}),
		lat: [2]*latency{newLatency(), newLatency()}, commit: newLatency(), lag: newLatency(),
	}
	if err := r.signIn(ctx); err != nil {
		return nil, err
	}
	defer r.cleanUp()
	var readers sync.WaitGroup
	closeAll := func() {
		stop()
		for _, s := range cr.sockets(true) {
			if s != nil { // a set-up that failed half-way leaves gaps
				s.close()
			}
		}
		readers.Wait()
	}
	defer closeAll()
	if cfg.Cleanup {
		defer cr.cleanUp()
	}
	if err := cr.setUp(ctx, &readers); err != nil {
		return nil, err
	}
	res := &Result{Chats: cfg.Chats, RateMsgsPerS: cfg.Rate}
	if cfg.Idle > 0 {
		if err := r.connectIdle(ctx, runCtx, cr.idle, &readers, res); err != nil {
			return nil, err
		}
	}
	r.logf("connecting %d visitors", len(cr.visitors))
	if err := r.connectAll(ctx, runCtx, cr.visitors, &readers); err != nil {
		return nil, err
	}
	res.Connections = len(cr.sockets(true))

	memCtx, stopMem := context.WithCancel(ctx)
	defer stopMem()
	mem := r.sampleMemory(memCtx, time.Second)

	r.logf("traffic: %d chats, %.0f msg/s for %s", cfg.Chats, cfg.Rate, cfg.Duration)
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	defer stopTraffic()
	var storms sync.WaitGroup
	if cfg.Scenario == ScenarioReconnect {
		storms.Add(1)
		go func() {
			defer storms.Done()
			res.Storms, res.StormDrops = cr.storms(trafficCtx)
		}()
	}
	var crashes crashReport
	if cfg.Scenario == ScenarioCrash {
		storms.Add(1)
		go func() {
			defer storms.Done()
			crashes = cr.crashes(trafficCtx, ctx, stopTraffic)
		}()
	}
	cpu0, self0, busy0 := r.serverCPU(), cpuTime(), machineBusy()
	began := r.now()
	cr.schedule(trafficCtx, began, cfg.Duration)
	ended := r.now()
	r.cpuShares(res, ended-began, r.serverCPU()-cpu0, cpuTime()-self0, machineBusy()-busy0)
	stopTraffic()
	storms.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	res.Drained = cr.drain(ctx)
	var routing []string
	if cfg.Scenario == ScenarioCrash && crashes.failure == "" {
		routing = cr.checkRouting(ctx)
	}

	m, err := r.serverMemory(ctx)
	if err != nil {
		r.problem("read server memory: %v", err)
	}
	stopMem()
	res.ServerRSSBytes, res.ServerGoroutines = m.RSS, m.Goroutines
	res.ServerRSSPeakBytes = max(mem.peakRSS(), m.RSS)

	closeAll()
	cr.tally(res, began, ended)
	if cfg.Scenario == ScenarioCrash {
		crashes.routing = routing
		if crashes.failure == "" {
			hc, err := cr.checkHistory(ctx)
			if err != nil {
				crashes.failure = fmt.Sprintf("could not read the stored messages back: %v", err)
			}
			res.HistoryChecked = err == nil
			res.HistoryLost, res.HistoryDuplicated, res.HistoryWrong = hc.lost, hc.duplicated, hc.wrong
		}
		crashes.report(res, r.procs)
		res.Nodes = len(r.procs)
		for _, ch := range cr.chats {
			if ch.visitor.node != ch.agent.node {
				res.CrossNodeChats++
			}
		}
	}
	return res, nil
}

// sockets returns the chat sockets, with the idle ones too if asked.
func (cr *chatRun) sockets(idle bool) []*socket {
	var all []*socket
	if idle {
		all = append(all, cr.idle...)
	}
	return append(append(all, cr.visitors...), cr.agents...)
}

// setUp makes an inbox and an agent per ChatsPerAgent chats and connects
// the agents, online; then the visitors, whose conversations the routing
// engine offers to their agent, who accepts (or, with no offer coming,
// takes them); then the idle visitors.
func (cr *chatRun) setUp(ctx context.Context, readers *sync.WaitGroup) error {
	r, cfg := cr.r, cr.r.cfg
	nAgents := (cfg.Chats + cfg.ChatsPerAgent - 1) / cfg.ChatsPerAgent
	r.logf("set-up: %d inboxes and agents, %d chats", nAgents, cfg.Chats)
	// One inbox per agent: staff receive every event of their inboxes, so
	// an agent sharing an inbox with the others would receive all traffic.
	inboxes := make([]int64, nAgents)
	err := r.parallel(ctx, nAgents, 8, func(ctx context.Context, i int) error {
		in, err := r.admin.CreateInbox(ctx, fmt.Sprintf("Loadgen %s chats %d", r.runID, i), sb.ChannelWidget, nil)
		if err != nil {
			return fmt.Errorf("create an inbox: %w", err)
		}
		inboxes[i] = in.ID
		return nil
	})
	if err != nil {
		return err
	}
	agents, err := r.makeAgents(ctx, nAgents, cfg.ChatsPerAgent, func(i int) int64 { return inboxes[i] }, r.clientAddrs(nAgents))
	cr.agentOf = agents
	if err != nil {
		return err
	}
	nodes := max(len(r.wsURLs), 1)
	for i, a := range agents {
		cr.agents = append(cr.agents, &socket{r: r, name: fmt.Sprintf("agent %d", i), token: a.token, addr: a.addr, h: cr, idx: i, node: i % nodes})
	}
	if err := r.connectAll(ctx, cr.runCtx, cr.agents, readers); err != nil {
		return err
	}
	for _, a := range agents {
		if _, err := a.c.SetPresence(ctx, sb.PresenceOnline); err != nil {
			return fmt.Errorf("set agent %d online: %w", a.id, err)
		}
	}

	visitorAddr := r.clientAddrs(cfg.Chats)
	cr.chats = make([]*chat, cfg.Chats)
	cr.visitors = make([]*socket, cfg.Chats)
	var mu sync.Mutex
	err = r.parallel(ctx, cfg.Chats, cfg.DialConcurrency, func(ctx context.Context, i int) error {
		a := i / cfg.ChatsPerAgent
		addr := visitorAddr(i)
		vc, err := r.api.createVisitor(ctx, addr, inboxes[a])
		if err != nil {
			return fmt.Errorf("create visitor %d: %w", i, err)
		}
		conv, _, _, err := vc.StartConversation(ctx, inboxes[a], "lg start", "start")
		if err != nil {
			return fmt.Errorf("start chat %d: %w", i, err)
		}
		if err := cr.awaitAssigned(ctx, agents[a], conv.ID); err != nil {
			return fmt.Errorf("chat %d: %w", i, err)
		}
		v := &socket{r: r, name: fmt.Sprintf("visitor %d", i), token: vc.Token(), addr: addr, h: cr, idx: i, node: visitorNode(i, a, nodes)}
		ch := &chat{idx: i, conv: conv.ID, visitor: v, agent: cr.agents[a]}
		ch.views[atVisitor].maxK = [2]int{-1, -1}
		ch.views[atAgent].maxK = [2]int{-1, -1}
		cr.chats[i], cr.visitors[i] = ch, v
		mu.Lock()
		cr.byConv[conv.ID] = ch
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	if cfg.Idle > 0 {
		if cr.idle, err = r.idleVisitors(ctx, cfg.Idle); err != nil {
			return err
		}
	}
	header := len("lg ") + 19 + 1
	cr.pad = strings.Repeat("x", max(cfg.MessageSize-header, 1))
	cr.ready.Store(true)
	return nil
}

// visitorNode is the cluster node the customer of chat i, whose agent is
// agent a (on node a mod nodes), connects to: another node than its agent's
// for three chats in four, so that most messages cross nodes (over NATS),
// and the agent's own for the fourth.
func visitorNode(i, a, nodes int) int {
	if nodes <= 1 {
		return 0
	}
	if i%4 == 3 {
		return a % nodes
	}
	return (a + 1 + i%(nodes-1)) % nodes
}

// assignWait is how long the set-up waits for an offer it knows is coming.
const assignWait = 30 * time.Second

// awaitAssigned returns once conv is the agent's: the routing engine offers
// a new chat to the online agent of its inbox, who accepts it (offered);
// on a server that routes nothing the agent takes it by hand. Taking fails
// with a conflict when an offer is already out; its accept is then awaited.
func (cr *chatRun) awaitAssigned(ctx context.Context, a agent, conv int64) error {
	select {
	case <-cr.assignedChan(conv):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(200 * time.Millisecond):
	}
	_, err := a.c.Take(ctx, conv)
	if err == nil {
		return nil
	}
	if client.StatusOf(err) != http.StatusConflict {
		return fmt.Errorf("take: %w", err)
	}
	select {
	case <-cr.assignedChan(conv):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(assignWait):
		return fmt.Errorf("the chat was neither offered to its agent within %s nor could be taken: %w", assignWait, err)
	}
}

func (cr *chatRun) assignedChan(conv int64) chan struct{} {
	cr.amu.Lock()
	defer cr.amu.Unlock()
	ch, ok := cr.assigned[conv]
	if !ok {
		ch = make(chan struct{})
		cr.assigned[conv] = ch
	}
	return ch
}

// offered accepts an offer made to one of the run's agents (set-up).
func (cr *chatRun) offered(s *socket, f *inFrame) {
	var o struct {
		ID             int64  `json:"id"`
		ConversationID int64  `json:"conversation_id"`
		State          string `json:"state"`
	}
	if err := json.Unmarshal(f.Data, &o); err != nil || o.State != "pending" {
		return
	}
	a := cr.agentOf[s.idx]
	go func() {
		ctx, cancel := context.WithTimeout(cr.runCtx, 30*time.Second)
		defer cancel()
		if err := acceptOffer(ctx, a.c, o.ID); err != nil {
			cr.r.problem("%s: accept offer %d: %v", s.name, o.ID, err)
			return
		}
		ch := cr.assignedChan(o.ConversationID)
		cr.amu.Lock()
		select {
		case <-ch:
		default:
			close(ch)
		}
		cr.amu.Unlock()
	}()
}

// cleanUp ends the run's chats and disables its agents.
func (cr *chatRun) cleanUp() {
	r := cr.r
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := r.parallel(ctx, len(cr.chats), 16, func(ctx context.Context, i int) error {
		ch := cr.chats[i]
		if ch == nil {
			return nil
		}
		_, err := cr.agentOf[ch.agent.idx].c.End(ctx, ch.conv)
		return err
	})
	if err != nil {
		r.logf("clean-up: end chats: %v", err)
	}
	r.disableAgents(ctx, cr.agentOf)
}

// schedule sends messages on an open-loop schedule from began for dur:
// message j is due at began + j/Rate, whatever happened to the ones before,
// and its latency counts from then. Chats take turns, and each chat's
// customer and agent take turns.
func (cr *chatRun) schedule(ctx context.Context, began, dur time.Duration) {
	defer lockPacer()()
	n := len(cr.chats)
	interval := float64(time.Second) / cr.r.cfg.Rate
	for j := 0; ; j++ {
		due := began + time.Duration(float64(j)*interval)
		if due-began >= dur || !cr.r.waitUntil(ctx, due) {
			return
		}
		ch := cr.chats[j%n]
		dir := (j / n) % 2
		k := ch.next[dir]
		ch.next[dir]++
		p := cr.message(ch, dir, k, due)
		cr.lag.record(cr.r.now() - due)
		if dir == toAgent {
			ch.visitor.send(ctx, p)
		} else {
			ch.agent.send(ctx, p)
		}
		cr.sent.Add(1)
	}
}

// message builds the send frame of message k of a chat's direction. The
// client id names the direction, number and chat, so it is unique on the
// agent's socket too; the body carries the scheduled time.
func (cr *chatRun) message(ch *chat, dir, k int, due time.Duration) *send {
	id := appendClientID(nil, dir, k, ch.idx)
	b := make([]byte, 0, 96+len(cr.pad))
	b = append(b, `{"type":"send","conversation_id":`...)
	b = strconv.AppendInt(b, ch.conv, 10)
	b = append(b, `,"body":"lg `...)
	b = strconv.AppendInt(b, int64(due), 10)
	b = append(b, ' ')
	b = append(b, cr.pad...)
	b = append(b, `","client_id":"`...)
	b = append(b, id...)
	b = append(b, `"}`...)
	return &send{frame: b, convID: ch.conv, clientID: string(id), sched: due, chat: ch, dir: dir, k: k}
}

// appendClientID appends the client id of message k of a chat's direction.
func appendClientID(b []byte, dir, k, chatIdx int) []byte {
	b = append(b, "ca"[dir])
	b = strconv.AppendInt(b, int64(k), 10)
	b = append(b, '-')
	return strconv.AppendInt(b, int64(chatIdx), 10)
}

// clientID is appendClientID's string.
func clientID(dir, k, chatIdx int) string { return string(appendClientID(nil, dir, k, chatIdx)) }

// parseClientID reads a client id made by message; ok is false for other
// messages (the opening one, or anyone else's).
func parseClientID(id string, chatIdx int) (dir, k int, ok bool) {
	if len(id) < 4 || (id[0] != 'c' && id[0] != 'a') {
		return 0, 0, false
	}
	num, idx, found := strings.Cut(id[1:], "-")
	if !found {
		return 0, 0, false
	}
	k, err := strconv.Atoi(num)
	if err != nil || idx != strconv.Itoa(chatIdx) {
		return 0, 0, false
	}
	if id[0] == 'a' {
		dir = toCustomer
	}
	return dir, k, true
}

// scheduledAt reads the scheduled time from a body made by message.
func scheduledAt(body string) (time.Duration, bool) {
	rest, ok := strings.CutPrefix(body, "lg ")
	if !ok {
		return 0, false
	}
	num, _, _ := strings.Cut(rest, " ")
	ns, err := strconv.ParseInt(num, 10, 64)
	return time.Duration(ns), err == nil
}

// event checks a message event against what its receiver saw before.
func (cr *chatRun) event(s *socket, f *inFrame, at time.Duration) {
	switch f.Event {
	case "offer":
		cr.offered(s, f)
		return
	case "message":
		if !cr.ready.Load() {
			return // the set-up's opening messages, while byConv is being filled
		}
	default:
		return
	}
	m, err := parseMessage(f.Data)
	if err != nil {
		cr.r.problem("%s: unreadable message event: %v", s.name, err)
		return
	}
	ch := cr.byConv[m.ConversationID]
	rcv := atVisitor
	switch {
	case ch != nil && s == ch.visitor:
	case ch != nil && s == ch.agent:
		rcv = atAgent
	default:
		cr.r.count(&cr.r.misdelivered)
		cr.r.problem("%s received a message of conversation %d, which is not its own", s.name, m.ConversationID)
		return
	}
	v := &ch.views[rcv]
	dir, k, ok := parseClientID(m.ClientID, ch.idx)
	if !ok {
		if m.Seq <= v.lastSeq {
			v.reordered++
		}
		v.lastSeq = max(v.lastSeq, m.Seq)
		return
	}
	if v.seen[dir].has(k) {
		v.duplicated++
		return
	}
	v.seen[dir].set(k)
	v.ids[dir].set(k, m.ID)
	if m.Seq <= v.lastSeq || k < v.maxK[dir] {
		v.reordered++
	}
	v.lastSeq, v.maxK[dir] = max(v.lastSeq, m.Seq), max(v.maxK[dir], k)
	if dir == rcv {
		cr.echoed.Add(1) // the sender's own copy
		return
	}
	if due, ok := scheduledAt(m.Body); ok {
		cr.lat[dir].record(at - due)
	}
	cr.delivered.Add(1)
	for {
		last := cr.lastDelivery.Load()
		if int64(at) <= last || cr.lastDelivery.CompareAndSwap(last, int64(at)) {
			break
		}
	}
}

func (cr *chatRun) ack(s *socket, p *send, m *wireMessage, at time.Duration) {
	p.chat.acked[p.dir].set(p.k)
	p.chat.ackIDs[p.dir].set(p.k, m.ID)
	cr.commit.record(at - p.sched)
	cr.acked.Add(1)
}

func (cr *chatRun) refused(s *socket, p *send) {
	p.chat.refused[p.dir].set(p.k)
}

// resent counts a send going out again after a resume, and whether it had
// been committed before: the sender's own copy of it came with the replay
// (or before the connection was lost), so its ack was what was lost, and
// the server must answer the re-send with the original message.
func (cr *chatRun) resent(s *socket, p *send) {
	cr.resends.Add(1)
	// The sender of direction d is also receiver d: views[p.dir] is its own.
	if p.chat.views[p.dir].seen[p.dir].has(p.k) {
		cr.resendsCommitted.Add(1)
	}
}

// storms drops a share of the chat sockets at once, every StormEvery, until
// ctx ends; each reconnects at once with its last position.
func (cr *chatRun) storms(ctx context.Context) (storms int, drops int64) {
	all := cr.sockets(false)
	n := max(1, int(float64(len(all))*cr.r.cfg.StormFraction+0.5))
	t := time.NewTicker(cr.r.cfg.StormEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return storms, drops
		case <-t.C:
		}
		storms++
		for _, i := range rand.Perm(len(all))[:n] {
			if all[i].drop() {
				drops++
			}
		}
		cr.r.logf("storm %d: dropped %d sockets", storms, n)
	}
}

// drain waits until every send is acked and every acked message has reached
// both sides, or until the drain time is up; it reports whether everything
// arrived in time.
func (cr *chatRun) drain(ctx context.Context) bool {
	deadline := time.Now().Add(cr.r.cfg.Drain)
	for {
		unacked := 0
		for _, s := range cr.visitors {
			unacked += s.unacked()
		}
		for _, s := range cr.agents {
			unacked += s.unacked()
		}
		acked := cr.acked.Load()
		if unacked == 0 && cr.delivered.Load() >= acked && cr.echoed.Load() >= acked {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			cr.r.logf("drain: gave up with %d sends unacked, %d/%d delivered, %d/%d echoed", unacked, cr.delivered.Load(), acked, cr.echoed.Load(), acked)
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tally counts what arrived against what was sent, once every goroutine has stopped.
func (cr *chatRun) tally(res *Result, began, ended time.Duration) {
	res.DurationS = (ended - began).Seconds()
	res.MessagesSent = cr.sent.Load()
	res.MessagesAcked = cr.acked.Load()
	res.MessagesDelivered = cr.delivered.Load()
	res.Resent, res.ResentCommitted = cr.resends.Load(), cr.resendsCommitted.Load()
	for _, s := range cr.sockets(false) {
		res.UnackedAtEnd += int64(len(s.pending))
	}
	for _, ch := range cr.chats {
		for dir := range 2 {
			// A message is committed once the server acked it or anyone
			// received it; each committed message must reach both sides.
			// One neither acked nor received by the end was never answered:
			// the server fell behind (or dropped the send), which is not
			// the same as losing a committed message.
			var committed bitset
			for k := range ch.next[dir] {
				switch {
				case ch.refused[dir].has(k):
				case ch.acked[dir].has(k), ch.views[atVisitor].seen[dir].has(k), ch.views[atAgent].seen[dir].has(k):
					committed.set(k)
				default:
					res.Unanswered++
				}
			}
			for rcv := range 2 {
				res.Lost += int64(ch.views[rcv].seen[dir].missing(committed))
			}
			// An ack names the stored message; a receiver that got another
			// one under the same client id saw a second copy of a re-send.
			for k, id := range ch.ackIDs[dir] {
				for rcv := range 2 {
					if got := ch.views[rcv].ids[dir].get(k); id != 0 && got != 0 && got != id {
						res.AckMismatches++
					}
				}
			}
		}
		for rcv := range 2 {
			res.Duplicated += ch.views[rcv].duplicated
			res.Reordered += ch.views[rcv].reordered
		}
	}
	window := max(time.Duration(cr.lastDelivery.Load()), ended) - began
	if window > 0 {
		res.ThroughputMsgsPerS = float64(res.MessagesDelivered) / window.Seconds()
	}
	res.setDelivery(merge(cr.lat[0], cr.lat[1]).percentiles())
	if p := cr.lat[toAgent].percentiles(); p.Count > 0 {
		res.DeliveryToAgent = &p
	}
	if p := cr.lat[toCustomer].percentiles(); p.Count > 0 {
		res.DeliveryToCustomer = &p
	}
	if p := cr.commit.percentiles(); p.Count > 0 {
		res.Ack = &p
	}
	if p := cr.lag.percentiles(); p.Count > 0 {
		res.SendLag = &p
	}
	switch {
	case res.Unanswered > 0:
		res.Failure = fmt.Sprintf("%d sends were neither acknowledged nor delivered %s after the last one: the server did not keep up", res.Unanswered, cr.r.cfg.Drain)
	case !res.Drained:
		res.Failure = fmt.Sprintf("messages were still arriving %s after the last send: the server did not keep up", cr.r.cfg.Drain)
	}
	if !res.Drained && res.Lost > 0 {
		cr.r.problem("the server was still behind when the drain ended: some of the %d counted as lost may have been on their way (a longer --drain tells)", res.Lost)
	}
}
