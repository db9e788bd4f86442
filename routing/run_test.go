package routing_test

import (
	"context"
	"sync"
	"testing"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/routing"
	"github.com/switchboard/switchboard/store"
)

// TestRun checks the engine as it runs in a server: on the system clock,
// woken only by commits and its own timer — no test calls Step.
func TestRun(t *testing.T) {
	t.Parallel()
	db := sqliteDatabase(t).open(t, sb.SystemClock{})
	eng := routing.New(db, routing.Config{Logger: quietLogger(), NodeID: "run"})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); eng.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	w := &world{t: t, db: db, clock: nil}
	in := w.inbox("Web", func(s *sb.InboxSettings) { s.OfferTimeoutSec, s.TransferTimeoutSec = 5, 5 })
	a := w.agent("anna", 3, in)
	b := w.agent("ben", 3, in)

	waitFor := func(what string, limit time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s", what, limit)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	start := time.Now()
	c := w.arrive(in)
	var first *sb.Offer
	waitFor("an offer", time.Second, func() bool { first = w.pendingOffer(c); return first != nil })
	t.Logf("offered after %s", time.Since(start))
	// Nobody answers: the engine's own timer expires the offer and offers the chat to the other agent.
	waitFor("the next offer", 7*time.Second, func() bool { o := w.pendingOffer(c); return o != nil && o.ID != first.ID })
	if elapsed := time.Since(start); elapsed < 5*time.Second {
		t.Fatalf("expired after %s, before the 5 s timeout", elapsed)
	}
	o := w.pendingOffer(c)
	if _, err := routing.AcceptOffer(ctx, db, o.UserID, o.ID, nil); err != nil {
		t.Fatal(err)
	}
	// A transfer request sets a deadline that only the timer can fire.
	from, to := a, b
	if o.UserID == b.ID {
		from, to = b, a
	}
	if _, _, err := routing.RequestTransfer(ctx, db, from.ID, c.ID, routing.TransferRequest{ToUserID: to.ID}, nil); err != nil {
		t.Fatal(err)
	}
	requested := time.Now()
	waitFor("the transfer to expire", 7*time.Second, func() bool { return w.conv(c.ID).Status == sb.StatusAssigned })
	if elapsed := time.Since(requested); elapsed < 4900*time.Millisecond {
		t.Fatalf("transfer expired after %s", elapsed)
	}
	d, err := db.PendingDeadlines(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, dl := range d {
		if dl.Kind != store.DeadlineIdle {
			t.Fatalf("deadline %+v left", dl)
		}
	}
}
