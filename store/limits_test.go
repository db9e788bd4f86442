package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard/switchboard/store"
)

func TestRateLimits(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	const burst, every = 3, time.Minute
	eachBackend(t, func(t *testing.T, db *store.DB) {
		take := func(key string, now time.Time) bool {
			t.Helper()
			ok, err := db.TakeRateLimit(ctx, key, burst, every, now)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		allows := func(key string, now time.Time) bool {
			t.Helper()
			ok, err := db.RateLimitAllows(ctx, key, burst, every, now)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		prune := func(now time.Time, limit int) int {
			t.Helper()
			n, err := db.PruneRateLimits(ctx, now, limit)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}

		t.Run("a burst, then one per interval", func(t *testing.T) {
			if !allows("a", t0) {
				t.Fatal("an unknown key is refused")
			}
			for i := range burst {
				if !take("a", t0) {
					t.Fatalf("take %d of the burst refused", i+1)
				}
			}
			if allows("a", t0) || take("a", t0) {
				t.Fatal("a take past the burst was allowed")
			}
			if !take("b", t0) {
				t.Fatal("another key was limited")
			}
			if allows("a", t0.Add(every-time.Second)) {
				t.Fatal("allowed before an interval passed")
			}
			if !take("a", t0.Add(every)) || take("a", t0.Add(every)) {
				t.Fatal("one take should come back per interval")
			}
			// A clock behind the stored time (another node's) refills nothing.
			if take("a", t0) {
				t.Fatal("a take allowed with an earlier clock")
			}
			// Long quiet refills the burst, never more.
			later := t0.Add(time.Hour)
			for range burst {
				if !take("a", later) {
					t.Fatal("the burst did not come back")
				}
			}
			if take("a", later) {
				t.Fatal("more than the burst came back")
			}
		})
		t.Run("a refund gives one take back, never past the burst or now", func(t *testing.T) {
			refund := func(key string, now time.Time) {
				t.Helper()
				if err := db.RefundRateLimit(ctx, key, every, now); err != nil {
					t.Fatal(err)
				}
			}
			at := t0.Add(12 * time.Hour)
			for range burst {
				take("r", at)
			}
			refund("r", at)
			if !take("r", at) || take("r", at) {
				t.Fatal("a refund should give back exactly one take")
			}
			for range burst + 1 {
				refund("r", at)
			}
			for i := range burst {
				if !take("r", at) {
					t.Fatalf("take %d after the refunds refused", i+1)
				}
			}
			if take("r", at) {
				t.Fatal("refunds filled the bucket past its burst")
			}
			// After a refill, a refund stops at full: time passed is not given twice.
			later := at.Add(every)
			refund("r", later)
			refund("r", later)
			for range burst {
				if !take("r", later) {
					t.Fatal("the burst is not back")
				}
			}
			if take("r", later) {
				t.Fatal("a refund after a refill gave more than the burst")
			}
			refund("unknown", at) // nothing to give back, and no error
			if !allows("unknown", at) {
				t.Fatal("an unknown key is refused after a refund")
			}
		})
		t.Run("pruning deletes full buckets only, a batch at a time", func(t *testing.T) {
			now := t0.Add(24 * time.Hour)
			prune(now.Add(-2*time.Hour), 1000) // what the case above left
			for i := range 5 {
				take(fmt.Sprintf("full-soon-%d", i), now) // full again one interval later
			}
			take("busy", now)
			take("busy", now) // full again two intervals later
			if n := prune(now, 1000); n != 0 {
				t.Fatalf("pruned %d buckets still in use", n)
			}
			at := now.Add(every)
			if n := prune(at, 2); n != 2 {
				t.Fatalf("pruned %d, want a batch of 2", n)
			}
			if n := prune(at, 1000); n != 3 {
				t.Fatalf("pruned %d, want the other 3 full buckets", n)
			}
			if allows("busy", at) != true || !take("busy", at) || !take("busy", at) || take("busy", at) {
				t.Fatal("the busy bucket was pruned or miscounted")
			}
			if n := prune(at.Add(10*every), 1000); n != 1 {
				t.Fatalf("pruned %d, want the busy bucket once it filled up", n)
			}
		})
	})
}
