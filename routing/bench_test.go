package routing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/realtime"
	"github.com/switchboard/switchboard/routing"
	"github.com/switchboard/switchboard/store"
)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkOfferLatency measures the time from a conversation needing a
// human (the start of the write that creates it, waiting) to the offer
// arriving on the agent's realtime subscription — the stream the WebSocket
// writes out — on SQLite, one node, with 1,000 online agents (each
// subscribed, as their browsers would be) and 200 arrivals per second. Each
// iteration is one arrival; run it with -benchtime=4000x for 20 seconds of
// traffic. Agents accept after 0.2–2 s and end chats 2–8 s later, so
// capacity stays ample and the figure is the router's, not a queue's.
// BENCH_AGENTS and BENCH_RATE change the load.
func BenchmarkOfferLatency(b *testing.B) {
	nAgents, rate := envInt("BENCH_AGENTS", 1000), envInt("BENCH_RATE", 200)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := sqliteDatabase(b).open(b, sb.SystemClock{})
	hub := realtime.NewHub(db, realtime.HubOptions{Logger: quietLogger(), SendBuffer: 4096})
	db.OnCommit(hub.Publish)
	eng := routing.New(db, routing.Config{Logger: quietLogger(), NodeID: "bench"})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(2)
	go func() { defer wg.Done(); hub.Run(ctx) }()
	go func() { defer wg.Done(); eng.Run(ctx) }()

	in := &sb.Inbox{Name: "Web", Settings: sb.DefaultInboxSettings()}
	if err := db.Write(ctx, func(tx *store.Tx) error { return tx.CreateInbox(in) }); err != nil {
		b.Fatal(err)
	}
	var agents []*sb.User
	for i := 0; i < nAgents; i += 100 {
		err := db.Write(ctx, func(tx *store.Tx) error {
			for j := i; j < min(i+100, nAgents); j++ {
				u := &sb.User{Email: fmt.Sprintf("agent%d@example.com", j), Name: fmt.Sprintf("Agent %d", j), Role: sb.RoleAgent, Operator: true, ChatLimit: 3}
				if err := tx.CreateUser(u, ""); err != nil {
					return err
				}
				if err := tx.AddInboxMember(in.ID, u.ID); err != nil {
					return err
				}
				if err := tx.SetPresence(u.ID, sb.PresenceOnline); err != nil {
					return err
				}
				agents = append(agents, u)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}

	var mu sync.Mutex
	arrived := map[int64]time.Time{}
	var latencies []time.Duration
	offered := map[int64]bool{}
	// When each first offer was committed, to tell the router's share from the delivery's.
	// When each conversation was committed waiting, and its first offer.
	created, committed := map[int64]time.Time{}, map[int64]time.Time{}
	db.OnCommit(func(events []sb.Event) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for _, e := range events {
			switch {
			case e.Type == sb.EventOffer && e.Audience == sb.AudienceUser:
				if _, ok := committed[e.ConversationID]; !ok {
					committed[e.ConversationID] = now
				}
			case e.Type == sb.EventConversation:
				if _, ok := created[e.ConversationID]; !ok {
					created[e.ConversationID] = now
				}
			}
		}
	})
	done := make(chan struct{}, 1<<16)

	endChat := func(convID int64) {
		db.Write(ctx, func(tx *store.Tx) error {
			c, err := tx.Conversation(convID)
			if err != nil || !c.Status.Live() {
				return err
			}
			if err := tx.ReleaseAssignee(c); err != nil {
				return err
			}
			ended := sb.StatusEnded
			return tx.ChangeConversation(c, store.ConversationChange{Status: &ended, EndedBy: "agent"})
		})
	}
	agent := func(u *sb.User, seed uint64) {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(seed, 1))
		sub, err := hub.Subscribe(ctx, &sb.Principal{UserID: u.ID, Name: u.Name, Role: sb.RoleAgent, Operator: true, InboxIDs: []int64{in.ID}}, 0)
		if err != nil {
			b.Error(err)
			return
		}
		defer sub.Close()
		for {
			f, err := sub.Next(ctx)
			if err != nil {
				if ctx.Err() == nil {
					b.Error(err)
				}
				return
			}
			// Frames start {"type":"event","pos":…,"event":"…": look only there.
			if !bytes.Contains(f[:min(len(f), 64)], []byte(`"event":"offer"`)) {
				continue
			}
			got := time.Now()
			var fr struct {
				Data sb.Offer `json:"data"`
			}
			if err := json.Unmarshal(f, &fr); err != nil || fr.Data.State != sb.OfferPending {
				continue
			}
			o := fr.Data
			for {
				mu.Lock()
				t0, ok := arrived[o.ConversationID]
				if ok && !offered[o.ConversationID] {
					offered[o.ConversationID] = true
					latencies = append(latencies, got.Sub(t0))
					done <- struct{}{}
				}
				mu.Unlock()
				if ok {
					break
				}
				time.Sleep(100 * time.Microsecond) // the arrival's write has not returned yet
			}
			accept := time.Duration(200+rng.IntN(1800)) * time.Millisecond
			chat := time.Duration(2000+rng.IntN(6000)) * time.Millisecond
			time.AfterFunc(accept, func() {
				if ctx.Err() != nil {
					return
				}
				if _, err := routing.AcceptOffer(ctx, db, u.ID, o.ID, nil); err == nil {
					time.AfterFunc(chat, func() {
						if ctx.Err() == nil {
							endChat(o.ConversationID)
						}
					})
				}
			})
		}
	}
	for i, u := range agents {
		wg.Add(1)
		go agent(u, uint64(i))
	}
	time.Sleep(500 * time.Millisecond) // let every subscription register

	b.ResetTimer()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := range b.N {
		<-tick.C
		ct := &sb.Contact{Name: fmt.Sprintf("Customer %d", i)}
		t0 := time.Now()
		var id int64
		err := db.Write(ctx, func(tx *store.Tx) error {
			if err := tx.CreateContact(ct); err != nil {
				return err
			}
			c := &sb.Conversation{InboxID: in.ID, ContactID: ct.ID, Status: sb.StatusWaiting}
			if _, err := tx.CreateConversation(c, nil); err != nil {
				return err
			}
			id = c.ID
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		mu.Lock()
		arrived[id] = t0
		mu.Unlock()
	}
	timeout := time.After(30 * time.Second)
	for range b.N {
		select {
		case <-done:
		case <-timeout:
			b.Fatalf("only %d of %d arrivals got an offer", len(latencies), b.N)
		}
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	var commit, router []time.Duration
	for id, t := range committed {
		if t0, ok := arrived[id]; ok {
			commit = append(commit, t.Sub(t0))
		}
		if t0, ok := created[id]; ok {
			router = append(router, t.Sub(t0))
		}
	}
	q := func(d []time.Duration, p float64) float64 {
		if len(d) == 0 {
			return 0
		}
		slices.Sort(d)
		return float64(d[min(len(d)-1, int(p*float64(len(d))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(latencies, 0.50), "p50-ms")
	b.ReportMetric(q(latencies, 0.99), "p99-ms")
	b.ReportMetric(q(latencies, 1), "max-ms")
	b.ReportMetric(q(commit, 0.50), "commit-p50-ms")
	b.ReportMetric(q(commit, 0.99), "commit-p99-ms")
	b.ReportMetric(q(router, 0.50), "router-p50-ms")
	b.ReportMetric(q(router, 0.99), "router-p99-ms")
	b.ReportMetric(0, "ns/op")
}
