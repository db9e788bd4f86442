package routing_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/routing"
	"github.com/switchboard/switchboard/store"
)

// TestSimulation drives thousands of random events — arrivals, presence
// changes, connections, accepts, declines, expiries, transfers, supervisor
// assignments, limit changes, ends, restarts — through the engine with a
// fake clock, and checks the routing invariants after every step. Set
// SIM_SEED to replay a failure and SIM_STEPS to run longer.
func TestSimulation(t *testing.T) {
	steps := 3000
	if testing.Short() || raceEnabled {
		steps = 600 // the race detector makes each step some ten times slower
	}
	if s, err := strconv.Atoi(os.Getenv("SIM_STEPS")); err == nil {
		steps = s
	}
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("SIM_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Logf("SIM_SEED=%d", seed)
		newSim(t, sqliteDatabase, seed).run(steps)
	})
	t.Run("postgres", func(t *testing.T) {
		postgresAvailable(t)
		t.Logf("SIM_SEED=%d", seed)
		newSim(t, postgresDatabase, seed).run(max(steps/5, 300))
	})
}

type simAgent struct {
	user    *sb.User
	inboxes []int64
	depts   []int64
	conns   int // open connections on the (one) node
}

type sim struct {
	*world
	rng     *rand.Rand
	svc     *app.Service
	inboxes []*sb.Inbox
	dept    *sb.Department
	agents  []*simAgent
	boss    *sb.User
	// queuedAt is when each conversation joined its queue, from the history.
	queuedAt map[int64]time.Time
	seen     int // events consumed by follow
	// lastLoad is each agent's load after the previous step.
	lastLoad map[int64]int
	step     int
	log      []string
}

func newSim(t *testing.T, b backend, seed uint64) *sim {
	s := &sim{world: newWorld(t, b), rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), queuedAt: map[int64]time.Time{}, lastLoad: map[int64]int{}}
	s.svc = app.New(s.db, nil, s.clock, quietLogger(), app.Config{})
	for i := range 3 {
		s.inboxes = append(s.inboxes, s.inbox(fmt.Sprintf("Inbox %d", i), func(st *sb.InboxSettings) {
			st.OfferTimeoutSec = 10 + s.rng.IntN(30)
			st.TransferTimeoutSec = 20 + s.rng.IntN(40)
			st.AssignedIdleSec = 600 + s.rng.IntN(1200)
			st.WaitingIdleSec = 900 + s.rng.IntN(1800)
			st.MaxMissedOffers = 2 + s.rng.IntN(2)
			switch i {
			case 1:
				st.ChatLimit = 2
			case 2:
				// Closed 00:00–06:00 UTC every day: some arrivals become tickets.
				for d := range 7 {
					st.BusinessHours.Weekly = append(st.BusinessHours.Weekly, sb.OpenPeriod{Weekday: d, Start: 6 * 60, End: 24 * 60})
				}
			}
		}))
	}
	for i := range 12 {
		var ins []*sb.Inbox
		for _, in := range s.inboxes {
			if s.rng.IntN(2) == 0 {
				ins = append(ins, in)
			}
		}
		if len(ins) == 0 {
			ins = append(ins, s.inboxes[i%len(s.inboxes)])
		}
		u := s.agent(fmt.Sprintf("agent%d", i), 1+s.rng.IntN(3), ins...)
		a := &simAgent{user: u}
		for _, in := range ins {
			a.inboxes = append(a.inboxes, in.ID)
		}
		s.agents = append(s.agents, a)
	}
	s.dept = &sb.Department{Name: "Billing"}
	for _, a := range s.agents[:5] {
		s.dept.MemberIDs = append(s.dept.MemberIDs, a.user.ID)
	}
	s.write(func(tx *store.Tx) error { return tx.CreateDepartment(s.dept) })
	for _, a := range s.agents[:5] {
		a.depts = []int64{s.dept.ID}
	}
	s.boss = &sb.User{Email: "boss@example.com", Name: "Boss", Role: sb.RoleSupervisor}
	s.write(func(tx *store.Tx) error { return tx.CreateUser(s.boss, "") })
	return s
}

func (s *sim) agentOf(id int64) *simAgent {
	for _, a := range s.agents {
		if a.user.ID == id {
			return a
		}
	}
	return nil
}

func (s *sim) principal(a *simAgent) *sb.Principal {
	return &sb.Principal{UserID: a.user.ID, Name: a.user.Name, Role: sb.RoleAgent, Operator: true, InboxIDs: a.inboxes}
}

func (s *sim) pick(n int) int { return s.rng.IntN(n) }

func (s *sim) logf(format string, args ...any) {
	s.log = append(s.log, fmt.Sprintf("%d %s: ", s.step, s.clock.Now().Format("15:04:05"))+fmt.Sprintf(format, args...))
	if len(s.log) > 40 {
		s.log = s.log[1:]
	}
}

// expected reports whether err is an outcome a caller may get in a race
// (the offer expired meanwhile, the agent is full, ...), not a bug.
func (s *sim) expected(err error) {
	s.t.Helper()
	switch sb.ErrorCode(err) {
	case "", sb.ECONFLICT, sb.EINVALID, sb.ENOTFOUND, sb.EFORBIDDEN:
		return
	}
	s.fail("unexpected error: %v", err)
}

func (s *sim) fail(format string, args ...any) {
	s.t.Helper()
	for _, l := range s.log {
		s.t.Log(l)
	}
	s.t.Fatalf("step %d: "+format, append([]any{s.step}, args...)...)
}

func (s *sim) live() []*sb.Conversation {
	s.t.Helper()
	var out []*sb.Conversation
	var before int64
	for {
		page, err := s.db.Conversations(s.ctx(), store.ConversationFilter{
			Statuses: []sb.Status{sb.StatusWaiting, sb.StatusAssigning, sb.StatusAssigned, sb.StatusTransferring}, Before: before, Limit: 200})
		if err != nil {
			s.t.Fatal(err)
		}
		out = append(out, page...)
		if len(page) < 200 {
			return out
		}
		before = page[len(page)-1].ID
	}
}

func (s *sim) run(steps int) {
	for s.step = 1; s.step <= steps; s.step++ {
		s.act()
		if _, err := s.eng.Step(s.ctx()); err != nil {
			s.fail("engine step: %v", err)
		}
		s.check()
	}
}

// act performs one random event.
func (s *sim) act() {
	ctx := s.ctx()
	live := s.live()
	byStatus := func(st ...sb.Status) []*sb.Conversation {
		var out []*sb.Conversation
		for _, c := range live {
			if slices.Contains(st, c.Status) {
				out = append(out, c)
			}
		}
		return out
	}
	a := s.agents[s.pick(len(s.agents))]
	switch r := s.pick(100); {
	case r < 18:
		in := s.inboxes[s.pick(len(s.inboxes))]
		c := s.arrive(in)
		s.logf("arrive conversation %d in inbox %d", c.ID, in.ID)
	case r < 26:
		p := []sb.Presence{sb.PresenceOnline, sb.PresenceOnline, sb.PresenceAway, sb.PresenceOffline}[s.pick(4)]
		if s.pick(3) == 0 {
			// The web API's own presence call, which knows nothing of routing.
			s.logf("agent %d sets %s through app.SetPresence", a.user.ID, p)
			_, err := s.svc.SetPresence(ctx, s.principal(a), p)
			s.expected(err)
		} else {
			s.logf("agent %d sets %s", a.user.ID, p)
			s.expected(routing.SetPresence(ctx, s.db, a.user.ID, p))
		}
	case r < 31:
		if a.conns > 0 && s.pick(2) == 0 {
			a.conns--
			s.logf("agent %d disconnects (%d left)", a.user.ID, a.conns)
			s.eng.OnDisconnect(a.user.ID)
		} else {
			a.conns++
			s.logf("agent %d connects (%d)", a.user.ID, a.conns)
			s.eng.OnConnect(a.user.ID)
		}
	case r < 45, r < 52:
		offers, err := s.db.AllPendingOffers(ctx)
		if err != nil {
			s.t.Fatal(err)
		}
		if len(offers) == 0 {
			return
		}
		o := offers[s.pick(len(offers))]
		if r < 45 {
			s.logf("agent %d accepts offer %d of conversation %d", o.UserID, o.ID, o.ConversationID)
			_, err = routing.AcceptOffer(ctx, s.db, o.UserID, o.ID, nil)
		} else {
			s.logf("agent %d declines offer %d of conversation %d", o.UserID, o.ID, o.ConversationID)
			_, err = routing.DeclineOffer(ctx, s.db, o.UserID, o.ID, nil)
		}
		s.expected(err)
	case r < 64:
		d := time.Duration(1+s.pick(60)) * time.Second
		if s.pick(20) == 0 {
			d = time.Duration(10+s.pick(50)) * time.Minute
		}
		s.logf("time passes: %s", d)
		s.clock.Advance(d)
	case r < 69:
		cs := byStatus(sb.StatusAssigned)
		if len(cs) == 0 {
			return
		}
		c := cs[s.pick(len(cs))]
		var req routing.TransferRequest
		switch s.pick(3) {
		case 0:
			req.ToUserID = s.agents[s.pick(len(s.agents))].user.ID
		case 1:
			req.ToDepartmentID = s.dept.ID
		case 2:
			req.ToInboxID = s.inboxes[s.pick(len(s.inboxes))].ID
		}
		s.logf("agent %d transfers conversation %d: %+v", *c.AssigneeID, c.ID, req)
		_, _, err := routing.RequestTransfer(ctx, s.db, *c.AssigneeID, c.ID, req, nil)
		s.expected(err)
	case r < 74:
		ts, err := s.db.AllPendingTransfers(ctx)
		if err != nil {
			s.t.Fatal(err)
		}
		if len(ts) == 0 {
			return
		}
		tr := ts[s.pick(len(ts))]
		accept := s.pick(2) == 0
		s.logf("agent %d answers transfer %d of conversation %d: %v", tr.ToUserID, tr.ID, tr.ConversationID, accept)
		_, _, err = routing.AnswerTransfer(ctx, s.db, tr.ToUserID, tr.ID, accept, nil)
		s.expected(err)
	case r < 84:
		if len(live) == 0 {
			return
		}
		c := live[s.pick(len(live))]
		p := &sb.Principal{VisitorID: 1, ContactID: c.ContactID}
		if c.AssigneeID != nil && s.pick(2) == 0 {
			p = s.principal(s.agentOf(*c.AssigneeID))
		}
		s.logf("conversation %d (%s) ended by %+v", c.ID, c.Status, p.UserID)
		_, err := s.svc.EndConversation(ctx, p, c.ID)
		s.expected(err)
	case r < 87:
		if len(live) == 0 {
			return
		}
		c := live[s.pick(len(live))]
		req := routing.AssignRequest{UserID: a.user.ID}
		if s.pick(3) == 0 {
			req = routing.AssignRequest{DepartmentID: s.dept.ID}
		}
		s.logf("supervisor assigns conversation %d (%s): %+v", c.ID, c.Status, req)
		_, err := routing.Assign(ctx, s.db, s.boss.ID, c.ID, req, nil)
		s.expected(err)
	case r < 89:
		cs := byStatus(sb.StatusWaiting)
		if len(cs) == 0 {
			return
		}
		c := cs[s.pick(len(cs))]
		s.logf("agent %d takes conversation %d", a.user.ID, c.ID)
		_, err := s.svc.Take(ctx, s.principal(a), c.ID)
		s.expected(err)
	case r < 92:
		limit := 1 + s.pick(4)
		s.logf("agent %d's limit becomes %d", a.user.ID, limit)
		s.expected(routing.SetChatLimit(ctx, s.db, a.user.ID, limit))
	case r < 99:
		if len(live) == 0 {
			return
		}
		c := live[s.pick(len(live))]
		s.logf("customer writes in conversation %d", c.ID)
		s.write(func(tx *store.Tx) error {
			cc, err := tx.Conversation(c.ID)
			if err != nil {
				return err
			}
			_, err = tx.CreateMessage(cc, &sb.Message{Thread: sb.ThreadPublic, Sender: sb.SenderCustomer, Body: "hello?"})
			return err
		})
	default:
		s.logf("restart")
		s.restart()
		s.svc = app.New(s.db, nil, s.clock, quietLogger(), app.Config{})
		for _, a := range s.agents {
			a.conns = 0 // the node's connections are gone with it
		}
	}
}

// follow reads the events committed since the last call and keeps the
// queue times they imply; it returns the offers made meanwhile.
func (s *sim) follow() (offers []sb.Offer) {
	for _, e := range s.eventsSince(s.seen, "") {
		switch e.Type {
		case sb.EventHistory:
			var h sb.HistoryEntry
			json.Unmarshal(e.Data, &h)
			switch {
			case h.Kind == "queued", h.ToStatus == sb.StatusWaiting && (h.Kind == "transferred" || h.Kind == "reassigned"):
				s.queuedAt[h.ConversationID] = h.CreatedAt
			case h.ToStatus == sb.StatusAssigned, h.ToStatus == sb.StatusEnded:
				delete(s.queuedAt, h.ConversationID)
			}
		case sb.EventOffer:
			var o sb.Offer
			json.Unmarshal(e.Data, &o)
			if o.State == sb.OfferPending {
				offers = append(offers, o)
			}
		}
	}
	s.seen = s.mark()
	return offers
}

// check verifies the invariants of routing.
func (s *sim) check() {
	s.t.Helper()
	ctx := s.ctx()
	now := s.clock.Now()
	newOffers := s.follow()
	loads, err := s.db.AgentLoads(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	load := map[int64]store.AgentLoad{}
	for _, l := range loads {
		load[l.UserID] = l
	}
	offers, err := s.db.AllPendingOffers(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	transfers, err := s.db.AllPendingTransfers(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	deadlines, err := s.db.PendingDeadlines(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	scheduled := map[string]bool{}
	for _, d := range deadlines {
		scheduled[fmt.Sprintf("%s/%d", d.Kind, d.RefID)] = true
		if !d.DueAt.After(now) {
			s.fail("deadline %+v is due at %s and did not fire", d, now)
		}
	}
	for id, n := range s.fired {
		if n != 1 {
			s.fail("deadline %d fired %d times", id, n)
		}
	}
	live := s.live()
	conv := map[int64]*sb.Conversation{}
	active := map[int64]int{}
	for _, c := range live {
		conv[c.ID] = c
		if c.Status == sb.StatusAssigned || c.Status == sb.StatusTransferring {
			if c.AssigneeID == nil {
				s.fail("conversation %d is %s without an assignee", c.ID, c.Status)
			}
			active[*c.AssigneeID]++
		}
		if !scheduled[fmt.Sprintf("idle/%d", c.ID)] {
			s.fail("live conversation %d (%s) has no inactivity deadline", c.ID, c.Status)
		}
	}

	// Offers: one per conversation, only while it is assigning, only to
	// online members of its inbox, never expired, each with its deadline.
	offered := map[int64]int{}
	offerOf := map[int64]*sb.Offer{}
	for _, o := range offers {
		if offerOf[o.ConversationID] != nil {
			s.fail("conversation %d offered to two agents: %d and %d", o.ConversationID, offerOf[o.ConversationID].UserID, o.UserID)
		}
		offerOf[o.ConversationID] = o
		offered[o.UserID]++
		c := conv[o.ConversationID]
		if c == nil || c.Status != sb.StatusAssigning {
			s.fail("pending offer %+v of a conversation that is not assigning (%+v)", o, c)
		}
		l := load[o.UserID]
		if l.Presence != sb.PresenceOnline {
			s.fail("agent %d is %s and holds offer %d", o.UserID, l.Presence, o.ID)
		}
		if a := s.agentOf(o.UserID); a == nil || !slices.Contains(a.inboxes, c.InboxID) {
			s.fail("offer %+v to an agent outside inbox %d", o, c.InboxID)
		}
		if c.DepartmentID != nil && !slices.Contains(s.agentOf(o.UserID).depts, *c.DepartmentID) {
			s.fail("offer %+v of a department chat to an agent outside it", o)
		}
		if !o.ExpiresAt.After(now) {
			s.fail("offer %+v expired at %s and is still pending", o, now)
		}
		if !scheduled[fmt.Sprintf("offer/%d", o.ID)] {
			s.fail("offer %d has no deadline", o.ID)
		}
	}
	transferOf := map[int64]bool{}
	for _, tr := range transfers {
		transferOf[tr.ConversationID] = true
		offered[tr.ToUserID]++
		if c := conv[tr.ConversationID]; c == nil || c.Status != sb.StatusTransferring {
			s.fail("pending transfer %+v of a conversation that is not transferring", tr)
		}
		if !tr.ExpiresAt.After(now) {
			s.fail("transfer %+v expired and is still pending", tr)
		}
		if !scheduled[fmt.Sprintf("transfer/%d", tr.ID)] {
			s.fail("transfer %d has no deadline", tr.ID)
		}
	}
	for _, c := range live {
		if c.Status == sb.StatusAssigning && offerOf[c.ID] == nil {
			s.fail("conversation %d is assigning without an offer", c.ID)
		}
		if c.Status == sb.StatusTransferring && !transferOf[c.ID] {
			s.fail("conversation %d is transferring without a request", c.ID)
		}
	}

	// Counters match the rows; nobody's load grew above their limit.
	for _, a := range s.agents {
		l := load[a.user.ID]
		if l.Active != active[a.user.ID] || l.Offered != offered[a.user.ID] {
			s.fail("agent %d counters active %d offered %d, rows say %d and %d", a.user.ID, l.Active, l.Offered, active[a.user.ID], offered[a.user.ID])
		}
		if l.Load() > s.lastLoad[a.user.ID] && l.Load() > sb.EffectiveChatLimit(l.ChatLimit, 0) {
			s.fail("agent %d's load grew to %d, above their limit %d", a.user.ID, l.Load(), l.ChatLimit)
		}
		s.lastLoad[a.user.ID] = l.Load()
	}
	inboxOf := map[int64]*sb.Inbox{}
	for _, in := range s.inboxes {
		inboxOf[in.ID] = in
	}
	// Offers are made last in a step, so an agent's load just before an
	// offer is their load now less the offers made to them from it on.
	loadBefore := make([]int, len(newOffers))
	later := map[int64]int{}
	for i := len(newOffers) - 1; i >= 0; i-- {
		later[newOffers[i].UserID]++
		l := load[newOffers[i].UserID]
		loadBefore[i] = l.Load() - later[newOffers[i].UserID]
	}

	// The queue: nobody who could take a waiting conversation is left idle,
	// and no offer went to an agent who could have taken an older one.
	queue, err := s.db.Queue(ctx, 100000)
	if err != nil {
		s.t.Fatal(err)
	}
	eligible := func(a *simAgent, inbox, dept int64) bool {
		return slices.Contains(a.inboxes, inbox) && (dept == 0 || slices.Contains(a.depts, dept))
	}
	for _, q := range queue {
		for _, a := range s.agents {
			l := load[a.user.ID]
			if eligible(a, q.InboxID, q.DepartmentID) && l.Available(inboxOf[q.InboxID].Settings.ChatLimit) {
				s.fail("conversation %d waits while agent %d could take it (%+v)", q.ConversationID, a.user.ID, l)
			}
		}
		if at, ok := s.queuedAt[q.ConversationID]; !ok || !at.Equal(q.QueuedAt) {
			s.fail("conversation %d queued at %s, the history says %s", q.ConversationID, q.QueuedAt, at)
		}
	}
	for i, o := range newOffers {
		l := load[o.UserID]
		if limit := sb.EffectiveChatLimit(l.ChatLimit, inboxOf[o.InboxID].Settings.ChatLimit); loadBefore[i] >= limit {
			s.fail("offer %+v to agent %d with load %d, at the limit %d of its inbox", o, o.UserID, loadBefore[i], limit)
		}
		at, ok := s.queuedAt[o.ConversationID]
		if !ok {
			continue // already accepted or ended in this step
		}
		for _, q := range queue {
			older := q.QueuedAt.Before(at) || q.QueuedAt.Equal(at) && q.ConversationID < o.ConversationID
			room := loadBefore[i] < sb.EffectiveChatLimit(l.ChatLimit, inboxOf[q.InboxID].Settings.ChatLimit)
			if older && room && eligible(s.agentOf(o.UserID), q.InboxID, q.DepartmentID) {
				s.fail("conversation %d (queued %s) was offered to agent %d before older conversation %d (queued %s)",
					o.ConversationID, at, o.UserID, q.ConversationID, q.QueuedAt)
			}
		}
	}
	unadmitted, err := s.db.Unadmitted(ctx, 10)
	if err != nil {
		s.t.Fatal(err)
	}
	if len(unadmitted) > 0 {
		s.fail("conversations %v were not admitted", unadmitted)
	}
}
