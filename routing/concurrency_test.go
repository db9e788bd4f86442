package routing_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/routing"
	"github.com/switchboard/switchboard/store"
)

// node is one process of a cluster: its own store handle and engine.
type node struct {
	db  *store.DB
	eng *routing.Engine
}

// cluster is several nodes on one PostgreSQL schema, with a shared fake clock.
type cluster struct {
	t     *testing.T
	d     database
	clock *fakeClock
	nodes []node

	mu    sync.Mutex
	fired map[int64]int
}

func newCluster(t *testing.T, n int) *cluster {
	postgresAvailable(t)
	d := postgresDatabase(t)
	c := &cluster{t: t, d: d, clock: newClock(), fired: map[int64]int{}}
	for i := range n {
		db := d.open(t, c.clock)
		eng := routing.New(db, routing.Config{Clock: c.clock, Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})), NodeID: fmt.Sprintf("node%d", i),
			Fired: func(d store.Deadline) {
				c.mu.Lock()
				c.fired[d.ID]++
				c.mu.Unlock()
			}})
		c.nodes = append(c.nodes, node{db, eng})
	}
	// The bus: every commit wakes the other nodes' engines.
	for i, n := range c.nodes {
		n.db.OnCommit(func([]sb.Event) {
			for j, m := range c.nodes {
				if j != i {
					m.eng.Notify()
				}
			}
		})
	}
	return c
}

// checkCapacity fails when an agent holds more than their limit.
func checkCapacity(t *testing.T, db *store.DB) {
	t.Helper()
	loads, err := db.AgentLoads(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range loads {
		if l.Load() > sb.EffectiveChatLimit(l.ChatLimit, 0) {
			t.Fatalf("agent %d holds %d chats and offers, above their limit %d", l.UserID, l.Load(), l.ChatLimit)
		}
	}
}

// checkRows verifies, at rest, that the counters match the rows and that
// every conversation on offer is offered to exactly one agent.
func checkRows(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	loads, err := db.AgentLoads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	offers, err := db.AllPendingOffers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	offered, active := map[int64]int{}, map[int64]int{}
	seen := map[int64]bool{}
	for _, o := range offers {
		if seen[o.ConversationID] {
			t.Fatalf("conversation %d offered twice", o.ConversationID)
		}
		seen[o.ConversationID] = true
		offered[o.UserID]++
	}
	var before int64
	for {
		page, err := db.Conversations(ctx, store.ConversationFilter{Statuses: []sb.Status{sb.StatusAssigning, sb.StatusAssigned}, Before: before, Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			if c.Status == sb.StatusAssigned {
				active[*c.AssigneeID]++
			} else if !seen[c.ID] {
				t.Fatalf("conversation %d assigning without an offer", c.ID)
			}
		}
		if len(page) < 200 {
			break
		}
		before = page[len(page)-1].ID
	}
	for _, l := range loads {
		if l.Active != active[l.UserID] || l.Offered != offered[l.UserID] {
			t.Fatalf("agent %d: counters active %d offered %d, rows %d and %d", l.UserID, l.Active, l.Offered, active[l.UserID], offered[l.UserID])
		}
	}
}

// TestTwoEnginesPostgres runs two engines on one PostgreSQL database, as two
// nodes would, assigning at once: no agent ever exceeds their limit, no
// conversation is offered twice, every deadline fires once.
func TestTwoEnginesPostgres(t *testing.T) {
	c := newCluster(t, 2)
	ctx := context.Background()
	w := &world{t: t, db: c.nodes[0].db, clock: c.clock}
	in := w.inbox("Web", func(s *sb.InboxSettings) { s.OfferTimeoutSec, s.MaxMissedOffers = 5, 5 })
	var agents []*sb.User
	capacity := 0
	for i := range 8 {
		limit := 1 + i%3
		capacity += limit
		agents = append(agents, w.agent(fmt.Sprintf("agent%d", i), limit, in))
	}

	t.Run("a burst assigned by both at once", func(t *testing.T) {
		for range 80 {
			w.arrive(in)
		}
		var wg sync.WaitGroup
		for _, n := range c.nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 5 {
					if _, err := n.eng.Step(ctx); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		checkCapacity(t, c.nodes[0].db)
		checkRows(t, c.nodes[0].db)
		offers, err := c.nodes[1].db.AllPendingOffers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(offers) != capacity {
			t.Fatalf("%d offers, want every agent full (%d)", len(offers), capacity)
		}
	})

	t.Run("deadlines due on both nodes fire once", func(t *testing.T) {
		before, err := c.nodes[0].db.AllPendingOffers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c.clock.Advance(6 * time.Second) // every offer has expired
		var wg sync.WaitGroup
		for _, n := range c.nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := n.eng.Step(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		c.mu.Lock()
		fired := len(c.fired)
		for id, n := range c.fired {
			if n != 1 {
				t.Errorf("deadline %d fired %d times", id, n)
			}
		}
		c.mu.Unlock()
		if fired != len(before) {
			t.Fatalf("%d deadlines fired, want the %d offers' expiries", fired, len(before))
		}
		after, err := c.nodes[0].db.AllPendingOffers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != capacity {
			t.Fatalf("%d offers after the expiries, want %d: every agent offered a chat again", len(after), capacity)
		}
		checkRows(t, c.nodes[0].db)
	})

	t.Run("churn with both engines running", func(t *testing.T) {
		runCtx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		defer func() {
			// Also when a check fails: every goroutine ends before the test does.
			stop()
			wg.Wait()
		}()
		for _, n := range c.nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n.eng.Run(runCtx)
			}()
		}
		var ops, failures atomic.Int64
		worker := func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, seed))
			for runCtx.Err() == nil {
				n := c.nodes[rng.IntN(len(c.nodes))]
				var err error
				switch r := rng.IntN(20); {
				case r < 2:
					offers, _ := n.db.AllPendingOffers(ctx)
					if len(offers) == 0 {
						continue
					}
					o := offers[rng.IntN(len(offers))]
					if r < 1 {
						_, err = routing.AcceptOffer(ctx, n.db, o.UserID, o.ID, nil)
					} else {
						_, err = routing.DeclineOffer(ctx, n.db, o.UserID, o.ID, nil)
					}
				case r < 9:
					page, _ := n.db.Conversations(ctx, store.ConversationFilter{Statuses: []sb.Status{sb.StatusAssigned}, Limit: 50})
					if len(page) == 0 {
						continue
					}
					conv := page[rng.IntN(len(page))]
					err = n.db.Write(ctx, func(tx *store.Tx) error {
						cc, err := tx.Conversation(conv.ID)
						if err != nil || !cc.Status.Live() {
							return err
						}
						if err := tx.ReleaseAssignee(cc); err != nil {
							return err
						}
						ended := sb.StatusEnded
						return tx.ChangeConversation(cc, store.ConversationChange{Status: &ended, EndedBy: "agent"})
					})
				case r < 12:
					w := &world{t: t, db: n.db, clock: c.clock}
					w.arrive(in)
				case r < 15:
					time.Sleep(2 * time.Millisecond)
					continue
				default:
					a := agents[rng.IntN(len(agents))]
					p := sb.PresenceOnline
					if rng.IntN(3) == 0 {
						p = sb.PresenceAway
					}
					err = routing.SetPresence(ctx, n.db, a.ID, p)
				}
				ops.Add(1)
				if err != nil {
					switch sb.ErrorCode(err) {
					case sb.ECONFLICT, sb.ENOTFOUND:
					default:
						failures.Add(1)
						t.Errorf("operation failed: %v", err)
					}
				}
			}
		}
		for i := range 4 {
			wg.Add(1)
			go worker(uint64(i))
		}
		// Time passes, so offers expire and both engines race to fire them.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				time.Sleep(10 * time.Millisecond)
				c.clock.Advance(5 * time.Second)
				for _, n := range c.nodes {
					n.eng.Notify()
				}
			}
		}()
		deadline := time.Now().Add(4 * time.Second)
		for time.Now().Before(deadline) {
			checkCapacity(t, c.nodes[0].db)
			time.Sleep(10 * time.Millisecond)
		}
		stop()
		wg.Wait()
		for _, n := range c.nodes {
			if _, err := n.eng.Step(ctx); err != nil {
				t.Fatal(err)
			}
		}
		checkCapacity(t, c.nodes[0].db)
		checkRows(t, c.nodes[0].db)
		c.mu.Lock()
		defer c.mu.Unlock()
		for id, n := range c.fired {
			if n != 1 {
				t.Fatalf("deadline %d fired %d times", id, n)
			}
		}
		t.Logf("%d operations, %d deadlines fired", ops.Load(), len(c.fired))
		if len(c.fired) == 0 {
			t.Fatal("no deadline fired: the test did not exercise expiry")
		}
	})
}

// testWriter sends log output to the test's log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
