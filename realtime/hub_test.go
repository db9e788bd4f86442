package realtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard"
)

var (
	conv = switchboard.AudienceConversation
	stf  = switchboard.AudienceStaff
	usr  = switchboard.AudienceUser
	org  = switchboard.AudienceOrg
)

func TestHubGapFilling(t *testing.T) {
	t.Run("reads the events before a batch that skips ahead from the log", func(t *testing.T) {
		log := &memLog{}
		h := startHub(t, log, HubOptions{})
		s := subscribe(t, h, admin, 0)
		if g := next(t, s); g.Type != frameReady || g.Pos != 0 {
			t.Fatalf("got %+v, want ready at 0", g)
		}
		log.commit(ev(org, 0, 0, 0, "a")) // 1: committed by another node, never announced
		log.skip(2)                       // 2, 3: rolled back, a permanent gap
		log.commit(ev(org, 0, 0, 0, "b")) // 4
		h.Publish(log.commit(ev(org, 0, 0, 0, "c"), ev(org, 0, 0, 0, "d")))
		wantTags(t, s, "a", "b", "c", "d")

		h.Publish(log.all()[2:]) // repeated: delivered already
		h.Publish(log.commit(ev(org, 0, 0, 0, "e")))
		wantTags(t, s, "e")
	})

	t.Run("delivers in position order when publishes arrive out of order", func(t *testing.T) {
		log := &memLog{}
		h := startHub(t, log, HubOptions{})
		s := subscribe(t, h, admin, 0)
		next(t, s) // ready
		first := log.commit(ev(org, 0, 0, 0, "first"))
		second := log.commit(ev(org, 0, 0, 0, "second"))
		h.Publish(second)
		h.Publish(first)
		h.Publish(log.commit(ev(org, 0, 0, 0, "third")))
		wantTags(t, s, "first", "second", "third")
	})

	t.Run("retries when the log fails and loses nothing", func(t *testing.T) {
		log := &memLog{failed: make(chan struct{}, 1)}
		h := startHub(t, log, HubOptions{PollInterval: -1})
		s := subscribe(t, h, admin, 0)
		next(t, s) // ready
		log.commit(ev(org, 0, 0, 0, "unannounced"))
		log.setErr(errors.New("database restarting"))
		h.Publish(log.commit(ev(org, 0, 0, 0, "announced")))
		select { // the hub tried to fill the gap
		case <-log.failed:
		case <-time.After(wait):
			t.Fatal("the hub did not read the log")
		}
		log.setErr(nil) // the retry, after its back-off, succeeds
		wantTags(t, s, "unannounced", "announced")
	})
}

func TestHubNotify(t *testing.T) {
	t.Run("reads announced events from the log", func(t *testing.T) {
		log := &memLog{}
		h := startHub(t, log, HubOptions{PollInterval: -1})
		s := subscribe(t, h, admin, 0)
		next(t, s)
		log.commit(ev(org, 0, 0, 0, "a"), ev(org, 0, 0, 0, "b"))
		h.Notify(2)
		h.Notify(1) // out of date: nothing more
		h.Notify(2) // repeated: nothing more
		wantTags(t, s, "a", "b")
		h.Publish(log.commit(ev(org, 0, 0, 0, "c")))
		wantTags(t, s, "c")
	})

	t.Run("a bogus announcement does not mask later ones", func(t *testing.T) {
		log := &memLog{}
		h := startHub(t, log, HubOptions{PollInterval: -1})
		s := subscribe(t, h, admin, 0)
		next(t, s)
		h.Notify(1 << 62)
		log.commit(ev(org, 0, 0, 0, "a"))
		h.Notify(1)
		wantTags(t, s, "a")
	})

	t.Run("polling finds events whose announcement was lost", func(t *testing.T) {
		log := &memLog{}
		h := startHub(t, log, HubOptions{PollInterval: 10 * time.Millisecond})
		s := subscribe(t, h, admin, 0)
		next(t, s)
		log.commit(ev(org, 0, 0, 0, "lost"))
		wantTags(t, s, "lost")
	})
}

func TestHubAuthorization(t *testing.T) {
	log := &memLog{}
	h := startHub(t, log, HubOptions{})
	principals := map[string]*switchboard.Principal{
		"agent1": agent1, "agent2": agent2, "admin": admin, "visitor5": visitor5, "visitor6": visitor6,
	}
	want := map[string][]string{
		"agent1":   {"conv-1-5", "staff-1", "user-1", "org"},
		"agent2":   {"conv-2-6", "user-2", "org"},
		"admin":    {"conv-1-5", "conv-2-6", "staff-1", "org"},
		"visitor5": {"conv-1-5"},
		"visitor6": {"conv-2-6"},
	}
	subs := map[string]*Subscription{}
	for name, p := range principals {
		subs[name] = subscribe(t, h, p, 0)
		next(t, subs[name]) // ready
	}
	for _, e := range []switchboard.Event{
		ev(conv, 1, 5, 0, "conv-1-5"),
		ev(conv, 2, 6, 0, "conv-2-6"),
		ev(stf, 1, 5, 0, "staff-1"), // internal thread of contact 5's conversation
		ev(usr, 0, 0, 1, "user-1"),
		ev(usr, 0, 0, 2, "user-2"),
		ev(org, 0, 0, 0, "org"),
		{Type: "mystery", Audience: "unknown", InboxID: 1, Data: []byte(`{"tag":"unknown"}`)},
	} {
		h.Publish(log.commit(e))
	}
	// A last event for each subscriber alone marks the end of what it gets.
	for name, p := range principals {
		if p.IsStaff() {
			h.Publish(log.commit(ev(usr, 0, 0, p.UserID, "end-"+name)))
		} else {
			h.Publish(log.commit(ev(conv, 99, p.ContactID, 0, "end-"+name)))
		}
	}
	for name, s := range subs {
		t.Run(name, func(t *testing.T) {
			var tags []string
			for {
				g := next(t, s)
				tag := g.tag()
				if tag == "end-"+name {
					break
				}
				if len(tag) > 4 && tag[:4] == "end-" {
					continue // another subscriber's end marker (admins see inbox 99)
				}
				tags = append(tags, tag)
			}
			if fmt.Sprint(tags) != fmt.Sprint(want[name]) {
				t.Errorf("got %v, want %v", tags, want[name])
			}
		})
	}
}

func TestHubSubscribe(t *testing.T) {
	log := &memLog{}
	for i := range 10 {
		log.commit(ev(conv, int64(1+i%2), 5, 0, fmt.Sprint(i+1))) // odd tags in inbox 1
	}
	log.trim(3) // retention: 4..10 are kept
	h := startHub(t, log, HubOptions{ReplayBatch: 2})

	t.Run("replays what the principal may see, then is ready", func(t *testing.T) {
		s := subscribe(t, h, agent1, 3)
		wantTags(t, s, "5", "7", "9")
		if g := next(t, s); g.Type != frameReady || g.Pos != 10 || g.UserID != 1 {
			t.Fatalf("got %+v, want ready at 10 for user 1", g)
		}
	})
	t.Run("after 0 starts live without replay", func(t *testing.T) {
		s := subscribe(t, h, agent1, 0)
		if g := next(t, s); g.Type != frameReady || g.Pos != 10 {
			t.Fatalf("got %+v, want ready at 10", g)
		}
	})
	t.Run("after older than the log keeps is a resync", func(t *testing.T) {
		s := subscribe(t, h, agent1, 2)
		if g := next(t, s); g.Type != frameResync || g.Pos != 10 {
			t.Fatalf("got %+v, want resync at 10", g)
		}
		if !s.Resync() {
			t.Error("Resync() = false")
		}
	})
	t.Run("after ahead of the log is a resync", func(t *testing.T) {
		s := subscribe(t, h, agent1, 11)
		if g := next(t, s); g.Type != frameResync || g.Pos != 10 {
			t.Fatalf("got %+v, want resync at 10", g)
		}
	})
	t.Run("refuses principals that are not signed in", func(t *testing.T) {
		_, err := h.Subscribe(context.Background(), &switchboard.Principal{}, 0)
		if switchboard.ErrorCode(err) != switchboard.EUNAUTHORIZED {
			t.Fatalf("got %v, want unauthorized", err)
		}
	})
}

// TestHubReplayOverlapsLive makes the replay read events that also arrive
// live: each must be sent once.
func TestHubReplayOverlapsLive(t *testing.T) {
	log := &memLog{}
	for range 10 {
		log.commit(ev(org, 0, 0, 0, "old"))
	}
	h := startHub(t, log, HubOptions{ReplayBatch: 1000})
	s := subscribe(t, h, admin, 5) // live from 10 on; the replay has not started
	for range 5 {
		h.Publish(log.commit(ev(org, 0, 0, 0, "new"))) // 11..15: live, and in the replay's one page
	}
	var got []int64
	for {
		g := next(t, s)
		if g.Type == frameReady {
			if g.Pos < 10 {
				t.Errorf("ready at %d, want at least 10", g.Pos)
			}
			h.Publish(log.commit(ev(org, 0, 0, 0, "end")))
			continue
		}
		if g.tag() == "end" {
			break
		}
		got = append(got, g.Pos)
	}
	if want := "[6 7 8 9 10 11 12 13 14 15]"; fmt.Sprint(got) != want {
		t.Fatalf("got %v, want %s", got, want)
	}
}

// TestHubResumeWhilePublishing checks the hand-off from replay to live:
// events committed while a subscription replays arrive once, in order.
func TestHubResumeWhilePublishing(t *testing.T) {
	log := &memLog{}
	for i := range 300 {
		log.commit(ev(conv, int64(1+i%2), 5, 0, "missed"))
	}
	h := startHub(t, log, HubOptions{ReplayBatch: 3, SendBuffer: 100000})
	after := int64(17)

	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 100 {
				// Concurrent commits publish out of order now and then.
				h.Publish(log.commit(ev(conv, int64(1+(i+w)%2), 5, 0, "live")))
			}
		})
	}
	s := subscribe(t, h, agent1, after)
	wg.Wait()
	end := log.commit(ev(usr, 0, 0, agent1.UserID, "end"))
	h.Publish(end)

	// The replay may read the end marker, so ready can come before or after it.
	var got []int64
	ready, ended := int64(-1), false
	for ready < 0 || !ended {
		switch g := next(t, s); {
		case g.Type == frameReady:
			ready = g.Pos
		case g.tag() == "end":
			ended = true
		default:
			got = append(got, g.Pos)
		}
	}
	var want []int64
	for _, e := range log.all() {
		if e.Pos > after && e.InboxID == 1 && e.Audience == conv {
			want = append(want, e.Pos)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got positions\n%v\nwant\n%v", got, want)
	}
	if ready < 300 {
		t.Errorf("ready at %d, want at least 300 (the log's end when subscribing)", ready)
	}
}

func TestHubSlowConsumer(t *testing.T) {
	log := &memLog{}
	metrics := newTestMetrics()
	h := startHub(t, log, HubOptions{SendBuffer: 4, StaffSendBuffer: 4, Metrics: metrics})
	slow := subscribe(t, h, admin, 0)
	fast := subscribe(t, h, agent1, 0)
	next(t, fast)
	for i := range 10 {
		h.Publish(log.commit(ev(conv, 1, 5, 0, fmt.Sprint(i))))
		wantTags(t, fast, fmt.Sprint(i))
	}
	metrics.waitFor(t, "slow consumer", func(m *testMetrics) bool { return m.slow == 1 })
	// The slow one ends at once, without the frames still queued: its
	// client reconnects and resumes from the log.
	if _, err := slow.Next(context.Background()); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("got %v, want ErrSlowConsumer", err)
	}
}

func TestHubDisconnectUser(t *testing.T) {
	log := &memLog{}
	h := startHub(t, log, HubOptions{})
	a := subscribe(t, h, agent1, 0)
	b := subscribe(t, h, agent1, 0)
	other := subscribe(t, h, agent2, 0)
	for _, s := range []*Subscription{a, b, other} {
		next(t, s)
	}
	h.DisconnectUser(agent1.UserID)
	for _, s := range []*Subscription{a, b} {
		if _, err := s.Next(context.Background()); !errors.Is(err, ErrSessionChanged) {
			t.Fatalf("got %v, want ErrSessionChanged", err)
		}
	}
	h.Publish(log.commit(ev(org, 0, 0, 0, "still here")))
	wantTags(t, other, "still here")

	t.Run("a session authenticated before the change is refused", func(t *testing.T) {
		since := h.epoch.Load()
		h.DisconnectUser(agent2.UserID)
		if _, err := h.subscribe(context.Background(), agent2, 0, since, nil); !errors.Is(err, ErrSessionChanged) {
			t.Fatalf("got %v, want ErrSessionChanged", err)
		}
		subscribe(t, h, agent2, 0) // authenticated afterwards: fine
	})
}

func TestHubStop(t *testing.T) {
	log := &memLog{}
	h := NewHub(log, HubOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	s := subscribe(t, h, visitor5, 0)
	next(t, s)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrHubStopped) {
		t.Fatalf("got %v, want ErrHubStopped", err)
	}
	if _, err := h.Subscribe(context.Background(), visitor5, 0); !errors.Is(err, ErrHubStopped) {
		t.Fatalf("Subscribe after stop: got %v, want ErrHubStopped", err)
	}
	h.Publish(log.commit(ev(org, 0, 0, 0, "x"))) // must not block
	h.DisconnectUser(1)                          // must not block
}

// filterLog is a memLog that filters replays as the store does, and counts
// the events it hands out.
type filterLog struct {
	memLog
	read atomic.Int64
}

func (l *filterLog) EventsFor(ctx context.Context, after int64, limit int, f switchboard.EventFilter) ([]switchboard.Event, error) {
	var out []switchboard.Event
	p := &switchboard.Principal{ContactID: f.ContactID, UserID: f.UserID, InboxIDs: f.InboxIDs, Role: switchboard.RoleAgent}
	if f.ContactID != 0 {
		p.VisitorID = 1
	}
	if f.AllInboxes {
		p.Role = switchboard.RoleAdmin
	}
	for {
		page, err := l.EventsAfter(ctx, after, limit)
		if err != nil || len(page) == 0 {
			l.read.Add(int64(len(out)))
			return out, err
		}
		for i := range page {
			after = page[i].Pos
			if p.CanSeeEvent(&page[i]) {
				out = append(out, page[i])
				if len(out) == limit {
					l.read.Add(int64(len(out)))
					return out, nil
				}
			}
		}
	}
}

// TestHubFilteredReplay: with a log that filters, a resume reads only what
// the client may see, and the client is then at the newest position even
// when the last events were not for it (so it does not fall behind the
// log's retention while its chat is quiet).
func TestHubFilteredReplay(t *testing.T) {
	log := &filterLog{}
	h := startHub(t, log, HubOptions{ReplayBatch: 3})
	log.commit(ev(switchboard.AudienceOrg, 0, 0, 0, "before"))
	mine := log.commit(ev(switchboard.AudienceConversation, 1, 5, 0, "a"))
	for i := range 50 {
		log.commit(ev(switchboard.AudienceConversation, 1, 6, 0, fmt.Sprint("other", i)))
	}
	log.commit(ev(switchboard.AudienceConversation, 1, 5, 0, "b"), ev(switchboard.AudienceConversation, 1, 5, 0, "c"),
		ev(switchboard.AudienceConversation, 1, 5, 0, "d"))
	last := log.commit(ev(switchboard.AudienceStaff, 1, 5, 0, "internal"))

	s := subscribe(t, h, visitor5, mine[0].Pos-1)
	wantTags(t, s, "a", "b", "c", "d")
	ready := next(t, s)
	if ready.Type != frameReady || ready.Pos != last[0].Pos {
		t.Fatalf("after the replay: %+v, want ready at %d (the newest position)", ready, last[0].Pos)
	}
	if n := log.read.Load(); n != 4 {
		t.Fatalf("the replay read %d events, want the visitor's 4", n)
	}
}

// TestHubSendBuffers: staff subscriptions may queue more frames than
// visitors' before they are dropped as slow consumers.
func TestHubSendBuffers(t *testing.T) {
	log := &memLog{}
	metrics := newTestMetrics()
	h := startHub(t, log, HubOptions{SendBuffer: 3, StaffSendBuffer: 6, Metrics: metrics})
	staff := subscribe(t, h, agent1, 0)
	visitor := subscribe(t, h, visitor5, 0)
	for i := range 5 { // neither reads
		h.Publish(log.commit(ev(conv, 1, 5, 0, fmt.Sprint(i))))
	}
	metrics.waitFor(t, "the visitor dropped", func(m *testMetrics) bool { return m.slow == 1 })
	if _, err := visitor.Next(context.Background()); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("visitor: %v, want ErrSlowConsumer", err)
	}
	next(t, staff) // ready
	wantTags(t, staff, "0", "1", "2", "3", "4")
	metrics.mu.Lock()
	slow := metrics.slow
	metrics.mu.Unlock()
	if slow != 1 {
		t.Fatal("the staff subscription was dropped too")
	}
}
