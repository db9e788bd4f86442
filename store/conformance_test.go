package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

func TestUsers(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		t.Run("read back with memberships", func(t *testing.T) {
			got, err := db.User(ctx, f.agent.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Email != "alice@example.com" || got.Role != sb.RoleAgent || !got.Operator || len(got.InboxIDs) != 1 || got.InboxIDs[0] != f.inbox.ID {
				t.Fatalf("got %+v", got)
			}
		})
		t.Run("duplicate e-mail is a conflict", func(t *testing.T) {
			err := db.Write(ctx, func(tx *store.Tx) error {
				return tx.CreateUser(&sb.User{Email: "ALICE@example.com", Name: "A2", Role: sb.RoleAgent}, "")
			})
			if got := sb.ErrorCode(err); got != sb.ECONFLICT {
				t.Fatalf("code %q, want conflict (%v)", got, err)
			}
		})
		t.Run("unknown user is not found", func(t *testing.T) {
			_, err := db.User(ctx, 9999)
			if sb.ErrorCode(err) != sb.ENOTFOUND {
				t.Fatalf("got %v", err)
			}
		})
		t.Run("by e-mail returns the hash", func(t *testing.T) {
			u, hash, err := db.UserByEmail(ctx, " Alice@Example.com ")
			if err != nil || u.ID != f.agent.ID || hash != "hash" {
				t.Fatalf("got %v %q %v", u, hash, err)
			}
		})
	})
}

func TestConversationOneLivePerContact(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		var mu sync.Mutex
		seen := map[int64]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := db.Write(ctx, func(tx *store.Tx) error {
					c := &sb.Conversation{InboxID: f.inbox.ID, ContactID: f.contact.ID}
					if _, err := tx.CreateConversation(c, nil); err != nil {
						return err
					}
					mu.Lock()
					seen[c.ID]++
					mu.Unlock()
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if len(seen) != 1 {
			t.Fatalf("racing starts made %d conversations, want 1: %v", len(seen), seen)
		}
	})
}

func TestMessagesSequenceAndClientID(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		var conv sb.Conversation
		write(t, db, func(tx *store.Tx) error {
			conv = sb.Conversation{InboxID: f.inbox.ID, ContactID: f.contact.ID}
			_, err := tx.CreateConversation(&conv, nil)
			return err
		})
		send := func(body, clientID string, thread sb.Thread) (sb.Message, bool) {
			t.Helper()
			var m sb.Message
			var created bool
			write(t, db, func(tx *store.Tx) error {
				c, err := tx.Conversation(conv.ID)
				if err != nil {
					return err
				}
				m = sb.Message{Thread: thread, Sender: sb.SenderCustomer, Body: body, ClientID: clientID}
				created, err = tx.CreateMessage(c, &m)
				return err
			})
			return m, created
		}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				send(fmt.Sprintf("m%d", i), fmt.Sprintf("c%d", i), sb.ThreadPublic)
			}()
		}
		wg.Wait()
		first, created := send("again", "c3", sb.ThreadPublic)
		if created || first.Body != "m3" {
			t.Fatalf("retry with the same client id: created=%v body=%q, want the original", created, first.Body)
		}
		note, _ := send("internal", "", sb.ThreadInternal)
		if note.Seq != 1 {
			t.Fatalf("internal thread seq = %d, want 1", note.Seq)
		}
		msgs, err := db.Messages(ctx, conv.ID, sb.ThreadPublic, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 20 {
			t.Fatalf("stored %d messages, want 20", len(msgs))
		}
		for i, m := range msgs {
			if m.Seq != int64(i+1) {
				t.Fatalf("message %d has seq %d: sequence must be dense", i, m.Seq)
			}
		}
		got, _ := db.Conversation(ctx, conv.ID)
		if got.LastSeq != 20 {
			t.Fatalf("last_seq = %d, want 20", got.LastSeq)
		}
	})
}

func TestEventsInCommitOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var mu sync.Mutex
		var hooked []int64
		db.OnCommit(func(es []sb.Event) {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range es {
				hooked = append(hooked, e.Pos)
			}
		})
		f := newFixture(t, db)
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := db.Write(ctx, func(tx *store.Tx) error { return tx.SetPresence(f.agent.ID, sb.PresenceOnline) }); err != nil {
					t.Error(err)
				}
			}()
		}
		// A failing job in the same batch must not emit its events.
		boom := errors.New("boom")
		err := db.Write(ctx, func(tx *store.Tx) error {
			tx.Emit(sb.NewEvent(sb.EventNotification, sb.AudienceUser, sb.Notification{Text: "never"}))
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
		wg.Wait()
		events, err := db.EventsAfter(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 10 {
			t.Fatalf("stored %d events, want 10", len(events))
		}
		mu.Lock()
		defer mu.Unlock()
		if len(hooked) != 10 {
			t.Fatalf("hooks saw %d events, want 10", len(hooked))
		}
		for i := range events {
			if events[i].Type != sb.EventPresence || (i > 0 && events[i].Pos <= events[i-1].Pos) {
				t.Fatalf("events out of order: %+v", events)
			}
		}
		_, newest, err := db.EventBounds(ctx)
		if err != nil || newest != events[9].Pos {
			t.Fatalf("bounds newest=%d err=%v, want %d", newest, err, events[9].Pos)
		}
	})
}

func TestStatusMachine(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		var conv sb.Conversation
		write(t, db, func(tx *store.Tx) error {
			conv = sb.Conversation{InboxID: f.inbox.ID, ContactID: f.contact.ID}
			_, err := tx.CreateConversation(&conv, nil)
			return err
		})
		ended := sb.StatusEnded
		write(t, db, func(tx *store.Tx) error {
			c, err := tx.Conversation(conv.ID)
			if err != nil {
				return err
			}
			return tx.ChangeConversation(c, store.ConversationChange{Status: &ended, EndedBy: "customer"})
		})
		failed := sb.StatusTransferring
		err := db.Write(ctx, func(tx *store.Tx) error {
			c, err := tx.Conversation(conv.ID)
			if err != nil {
				return err
			}
			return tx.ChangeConversation(c, store.ConversationChange{Status: &failed})
		})
		if sb.ErrorCode(err) != sb.ECONFLICT {
			t.Fatalf("ended → transferring: got %v, want conflict", err)
		}
		h, err := db.History(ctx, conv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 2 || h[0].Kind != "created" || h[1].ToStatus != sb.StatusEnded {
			t.Fatalf("history %+v", h)
		}
		// A new conversation may start once the first has ended.
		write(t, db, func(tx *store.Tx) error {
			c := sb.Conversation{InboxID: f.inbox.ID, ContactID: f.contact.ID}
			created, err := tx.CreateConversation(&c, nil)
			if err == nil && (!created || c.ID == conv.ID) {
				return fmt.Errorf("expected a new conversation, got %d created=%v", c.ID, created)
			}
			return err
		})
	})
}
