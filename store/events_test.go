package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// TestEventsFor: a filtered read returns exactly the events the principal
// may see (CanSeeEvent), in order, page by page, for visitors, agents of
// some inboxes, admins, and principals who may see nothing.
func TestEventsFor(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(7, 9))
		audiences := []sb.Audience{sb.AudienceConversation, sb.AudienceStaff, sb.AudienceUser, sb.AudienceOrg}
		before, err := db.EventsAfter(ctx, 0, 100000)
		if err != nil {
			t.Fatal(err)
		}
		start := int64(0)
		if len(before) > 0 {
			start = before[len(before)-1].Pos
		}
		for range 20 {
			write(t, db, func(tx *store.Tx) error {
				for range 30 {
					e := sb.NewEvent("test", audiences[rng.IntN(len(audiences))], map[string]int{"n": rng.IntN(100)})
					e.InboxID = rng.Int64N(4)   // 0: none
					e.ContactID = rng.Int64N(4) // 0: none
					e.UserID = rng.Int64N(4)    // 0: none
					e.ConversationID = rng.Int64N(3)
					tx.Emit(e)
				}
				return nil
			})
		}
		all, err := db.EventsAfter(ctx, start, 100000)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 600 {
			t.Fatalf("%d events written, want 600", len(all))
		}
		principals := map[string]*sb.Principal{
			"visitor of contact 2":  {VisitorID: 9, ContactID: 2},
			"visitor of no contact": {VisitorID: 9},
			"agent of inboxes 1, 3": {UserID: 2, Role: sb.RoleAgent, InboxIDs: []int64{1, 3}},
			"agent of no inbox":     {UserID: 3, Role: sb.RoleAgent},
			"supervisor of inbox 2": {UserID: 1, Role: sb.RoleSupervisor, InboxIDs: []int64{2}},
			"admin":                 {UserID: 1, Role: sb.RoleAdmin},
			"nobody":                {},
		}
		for name, p := range principals {
			var want []int64
			for i := range all {
				if p.CanSeeEvent(&all[i]) {
					want = append(want, all[i].Pos)
				}
			}
			// Read in small pages, as a replay does.
			var got []int64
			for after := start; ; {
				page, err := db.EventsFor(ctx, after, 7, p.EventFilter())
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for _, e := range page {
					if e.Pos <= after {
						t.Fatalf("%s: event %d is not after %d", name, e.Pos, after)
					}
					after = e.Pos
					// The interface allows extra events; this log returns none.
					if !p.CanSeeEvent(&e) {
						t.Fatalf("%s: event %d (%s, inbox %d, contact %d, user %d) is not theirs to see",
							name, e.Pos, e.Audience, e.InboxID, e.ContactID, e.UserID)
					}
					got = append(got, e.Pos)
				}
				if len(page) < 7 {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: got %d events %v, want %d %v", name, len(got), got, len(want), want)
			}
			if name != "admin" && len(want) == len(all) {
				t.Errorf("%s may see every event: the random events do not test the filter", name)
			}
		}
	})
}

// TestGroupCommitIsolatesFailures: writes queued together share a commit on
// SQLite, each in its own savepoint; the ones that fail leave nothing, the
// others all commit with their events, in queue order.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 40
		ids := make([]int64, n)
		waits := make([]func() error, n)
		for i := range n {
			waits[i] = db.QueueWrite(ctx, func(tx *store.Tx) error {
				c := &sb.Contact{Name: fmt.Sprintf("contact %d", i)}
				if err := tx.CreateContact(c); err != nil {
					return err
				}
				ids[i] = c.ID
				e := sb.NewEvent("test", sb.AudienceOrg, map[string]int{"i": i})
				tx.Emit(e)
				if i%3 == 1 {
					return sb.Errorf(sb.ECONFLICT, "job %d fails after writing", i)
				}
				return nil
			})
		}
		var last int64
		for i, wait := range waits {
			err := wait()
			if (err != nil) != (i%3 == 1) {
				t.Fatalf("job %d: %v", i, err)
			}
			// A failed job's id may be taken by a later job (SQLite reuses
			// rowids), so the name tells whose contact it is.
			c, cerr := db.Contact(ctx, ids[i])
			mine := cerr == nil && c.Name == fmt.Sprintf("contact %d", i)
			switch {
			case i%3 == 1 && mine:
				t.Fatalf("failed job %d left its contact %d", i, ids[i])
			case i%3 == 1 && cerr != nil && sb.ErrorCode(cerr) != sb.ENOTFOUND:
				t.Fatal(cerr)
			case i%3 != 1 && !mine:
				t.Fatalf("job %d's contact %d: %+v %v", i, ids[i], c, cerr)
			case i%3 != 1:
				if ids[i] <= last {
					t.Fatalf("job %d's contact %d not after %d: not in queue order", i, ids[i], last)
				}
				last = ids[i]
			}
		}
		events, err := db.EventsAfter(ctx, 0, 100000)
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, e := range events {
			if e.Type == "test" {
				var d struct{ I int }
				if err := json.Unmarshal(e.Data, &d); err != nil || d.I%3 == 1 {
					t.Fatalf("event %s of a failed job", e.Data)
				}
				seen++
			}
		}
		if want := n - (n+1)/3; seen != want {
			t.Fatalf("%d events, want %d", seen, want)
		}
	})
}
