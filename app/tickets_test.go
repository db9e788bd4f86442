package app_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/routing"
	"github.com/switchboard/switchboard/store"
)

// TestCustomerFollowUpsJoinTheirTicket: a chat out of hours becomes a ticket
// with one out-of-hours message; what the customer writes next, however the
// widget sends it, joins that ticket — one ticket, one out-of-hours message,
// every message in it. A closed ticket is reopened by the customer's
// message (and they are told once that nobody is in); in business hours the
// customer gets a live chat again.
func TestCustomerFollowUpsJoinTheirTicket(t *testing.T) {
	monday8pm := time.Date(2026, 3, 2, 20, 0, 0, 0, time.UTC)
	clk := &stepClock{now: monday8pm}
	eachBackend(t, clk, func(t *testing.T, db *store.DB) {
		clk.set(monday8pm)
		ctx := context.Background()
		svc := app.New(db, nil, clk, nil, app.Config{})
		eng := routing.New(db, routing.Config{Clock: clk, Logger: quietLogger(), NodeID: "app-test"})
		step := func() {
			t.Helper()
			if _, err := eng.Step(ctx); err != nil {
				t.Fatal(err)
			}
		}
		in := &sb.Inbox{Name: "Web", Settings: sb.DefaultInboxSettings()}
		in.Settings.BusinessHours.Weekly = []sb.OpenPeriod{{Weekday: 1, Start: 9 * 60, End: 17 * 60}} // Mondays 9 to 5
		agent := &sb.User{Email: "a@example.com", Name: "Al", Role: sb.RoleAgent, Operator: true, ChatLimit: 3}
		super := &sb.User{Email: "s@example.com", Name: "Sue", Role: sb.RoleSupervisor}
		if err := db.Write(ctx, func(tx *store.Tx) error {
			if err := tx.CreateInbox(in); err != nil {
				return err
			}
			for _, u := range []*sb.User{agent, super} {
				if err := tx.CreateUser(u, ""); err != nil {
					return err
				}
				if err := tx.AddInboxMember(in.ID, u.ID); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// Someone is online: only the business hours make the ticket.
		if err := routing.SetPresence(ctx, db, agent.ID, sb.PresenceOnline); err != nil {
			t.Fatal(err)
		}
		superP := &sb.Principal{UserID: super.ID, Name: super.Name, Role: super.Role, InboxIDs: []int64{in.ID}}
		token, _, err := svc.CreateVisitor(ctx, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		v, err := svc.AuthenticateVisitor(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		// start is how the widget sends a message when it shows no live chat.
		start := func(body string) (*sb.Conversation, bool) {
			t.Helper()
			c, _, created, err := svc.StartConversation(ctx, v, in.ID, body, "")
			if err != nil {
				t.Fatal(err)
			}
			step()
			return c, created
		}
		// send is a message to a conversation the visitor has open.
		send := func(id int64, body string) {
			t.Helper()
			if _, _, err := svc.SendMessage(ctx, v, id, sb.ThreadPublic, body, ""); err != nil {
				t.Fatal(err)
			}
			step()
		}
		senders := func(id int64) (customer, system int) {
			t.Helper()
			msgs, err := db.Messages(ctx, id, sb.ThreadPublic, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				switch m.Sender {
				case sb.SenderCustomer:
					customer++
				case sb.SenderSystem:
					system++
				}
			}
			return customer, system
		}
		conversations := func() []*sb.Conversation {
			t.Helper()
			cs, err := svc.Conversations(ctx, v, app.ListFilter{})
			if err != nil {
				t.Fatal(err)
			}
			return cs
		}
		historyCount := func(id int64, kind string) int {
			t.Helper()
			h, err := db.History(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return len(slices.DeleteFunc(h, func(e sb.HistoryEntry) bool { return e.Kind != kind }))
		}

		first, created := start("Hello, anyone there?")
		if !created {
			t.Fatal("the first message opened no conversation")
		}
		ticket, err := db.Conversation(ctx, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ticket.Ticket != sb.TicketUnassigned || ticket.Status != sb.StatusEnded {
			t.Fatalf("out of hours: %s, ticket %q; want an unassigned ticket", ticket.Status, ticket.Ticket)
		}
		if _, system := senders(ticket.ID); system != 1 {
			t.Fatalf("%d out-of-hours messages, want 1", system)
		}

		t.Run("three more messages join the ticket", func(t *testing.T) {
			if c, created := start("Are you there?"); created || c.ID != ticket.ID {
				t.Fatalf("a new message went to conversation %d (created %v), not ticket %d", c.ID, created, ticket.ID)
			}
			send(ticket.ID, "My order 1234 is late.")
			if c, created := start("It was due on Friday."); created || c.ID != ticket.ID {
				t.Fatalf("a new message went to conversation %d (created %v), not ticket %d", c.ID, created, ticket.ID)
			}
			if cs := conversations(); len(cs) != 1 {
				t.Fatalf("%d conversations, want the one ticket", len(cs))
			}
			if customer, system := senders(ticket.ID); customer != 4 || system != 1 {
				t.Fatalf("ticket has %d customer and %d out-of-hours messages, want 4 and 1", customer, system)
			}
			if got, _ := db.Conversation(ctx, ticket.ID); got.Ticket != sb.TicketUnassigned {
				t.Fatalf("ticket is %q, want it still unassigned", got.Ticket)
			}
			if n := historyCount(ticket.ID, "ticket"); n != 1 {
				t.Fatalf("made a ticket %d times", n)
			}
		})

		t.Run("a closed ticket reopens with the customer's message", func(t *testing.T) {
			if _, err := svc.CloseTicket(ctx, superP, ticket.ID); err != nil {
				t.Fatal(err)
			}
			if c, created := start("Sorry, one more thing."); created || c.ID != ticket.ID {
				t.Fatalf("a new message went to conversation %d (created %v), not ticket %d", c.ID, created, ticket.ID)
			}
			got, err := db.Conversation(ctx, ticket.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Ticket != sb.TicketUnassigned {
				t.Fatalf("ticket is %q after the customer wrote, want unassigned", got.Ticket)
			}
			send(ticket.ID, "And another.")
			if customer, system := senders(ticket.ID); customer != 6 || system != 2 {
				t.Fatalf("ticket has %d customer and %d out-of-hours messages, want 6 and 2 (once more on reopening)", customer, system)
			}
			if n := historyCount(ticket.ID, "ticket_reopened"); n != 1 {
				t.Fatalf("reopened %d times", n)
			}
			if cs := conversations(); len(cs) != 1 {
				t.Fatalf("%d conversations, want the one ticket", len(cs))
			}
		})

		t.Run("a blocked customer cannot reopen their ticket", func(t *testing.T) {
			if _, err := svc.CloseTicket(ctx, superP, ticket.ID); err != nil {
				t.Fatal(err)
			}
			b, err := svc.CreateBlock(ctx, superP, sb.Block{Kind: sb.BlockVisitor, Value: strconv.FormatInt(v.VisitorID, 10)})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = svc.SendMessage(ctx, v, ticket.ID, sb.ThreadPublic, "Let me in.", "")
			wantCode(t, err, sb.EFORBIDDEN)
			_, _, _, err = svc.StartConversation(ctx, v, in.ID, "Let me in.", "")
			wantCode(t, err, sb.EFORBIDDEN)
			if got, _ := db.Conversation(ctx, ticket.ID); got.Ticket != sb.TicketClosed {
				t.Fatalf("ticket is %q, want it still closed", got.Ticket)
			}
			if err := svc.DeleteBlock(ctx, superP, b.ID); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("in business hours the customer gets a live chat", func(t *testing.T) {
			clk.advance(6*24*time.Hour + 14*time.Hour) // next Monday, 10:00
			c, created := start("Good morning!")
			if !created || c.ID == ticket.ID {
				t.Fatalf("conversation %d (created %v): want a new chat, not ticket %d", c.ID, created, ticket.ID)
			}
			if got, _ := db.Conversation(ctx, c.ID); got.Ticket != sb.TicketNone || got.Status != sb.StatusAssigning {
				t.Fatalf("new chat is %s, ticket %q; want it offered to the agent", got.Status, got.Ticket)
			}
			if customer, _ := senders(ticket.ID); customer != 6 {
				t.Fatalf("the ticket got the chat's message")
			}
		})
	})
}

func (c *stepClock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}
