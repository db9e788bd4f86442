package routing_test

import (
	"slices"
	"testing"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/routing"
	"github.com/switchboard/switchboard/store"
)

func TestOffers(t *testing.T) {
	eachBackend(t, func(t *testing.T, d backend) {
		t.Run("offer accepted", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", nil)
			alice := w.agent("alice", 3, in)
			m := w.mark()
			c := w.arrive(in)
			w.step()
			o := w.pendingOffer(c)
			if o == nil || o.UserID != alice.ID {
				t.Fatalf("pending offer %+v, want one to alice", o)
			}
			if got := w.conv(c.ID).Status; got != sb.StatusAssigning {
				t.Fatalf("status %s, want assigning", got)
			}
			var toAlice []sb.Event
			for _, e := range w.eventsSince(m, sb.EventOffer) {
				if e.Audience == sb.AudienceUser && e.UserID == alice.ID {
					toAlice = append(toAlice, e)
				}
			}
			if len(toAlice) != 1 || decode[sb.Offer](t, toAlice[0]).State != sb.OfferPending {
				t.Fatalf("offer events to alice: %+v", toAlice)
			}
			if got := w.load(alice); got.Offered != 1 || got.Active != 0 {
				t.Fatalf("alice load %+v, want 1 offered", got)
			}
			got, err := routing.AcceptOffer(w.ctx(), w.db, alice.ID, o.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != sb.StatusAssigned || got.AssigneeID == nil || *got.AssigneeID != alice.ID {
				t.Fatalf("after accept: %+v", got)
			}
			if got := w.load(alice); got.Offered != 0 || got.Active != 1 {
				t.Fatalf("alice load %+v, want 1 active", got)
			}
			if kinds := w.historyKinds(c); !slices.Equal(kinds, []string{"created", "queued", "offer", "offer_accepted"}) {
				t.Fatalf("history %v", kinds)
			}
			_, err = routing.AcceptOffer(w.ctx(), w.db, alice.ID, o.ID, nil)
			mustCode(t, err, sb.ECONFLICT)
		})

		t.Run("offer to someone else is not found", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", nil)
			alice := w.agent("alice", 3, in)
			bob := w.agent("bob", 3)
			c := w.arrive(in)
			w.step()
			o := w.pendingOffer(c)
			_, err := routing.AcceptOffer(w.ctx(), w.db, bob.ID, o.ID, nil)
			mustCode(t, err, sb.ENOTFOUND)
			_, err = routing.DeclineOffer(w.ctx(), w.db, bob.ID, o.ID, nil)
			mustCode(t, err, sb.ENOTFOUND)
			if w.pendingOffer(c).UserID != alice.ID {
				t.Fatal("offer changed")
			}
		})

		t.Run("least loaded first, ties to the longest idle", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", nil)
			alice := w.agent("alice", 3, in)
			bob := w.agent("bob", 3, in)
			carol := w.agent("carol", 3, in)
			// Each gets one chat, in the order alice, bob, carol.
			for _, u := range []*sb.User{alice, bob, carol} {
				c := w.arrive(in)
				w.step()
				o := w.pendingOffer(c)
				if o.UserID != u.ID {
					t.Fatalf("offer to %d, want %s (%d)", o.UserID, u.Name, u.ID)
				}
				if _, err := routing.AcceptOffer(w.ctx(), w.db, u.ID, o.ID, nil); err != nil {
					t.Fatal(err)
				}
				w.clock.Advance(time.Second)
			}
			// All have one chat: alice waited longest since hers.
			c := w.arrive(in)
			w.step()
			if o := w.pendingOffer(c); o.UserID != alice.ID {
				t.Fatalf("offer to %d, want alice (%d)", o.UserID, alice.ID)
			}
		})

		t.Run("agent at capacity is skipped; offers count against it", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", nil)
			alice := w.agent("alice", 1, in)
			c1 := w.arrive(in)
			w.step()
			if o := w.pendingOffer(c1); o == nil || o.UserID != alice.ID {
				t.Fatalf("first offer %+v", o)
			}
			bob := w.agent("bob", 2, in)
			c2 := w.arrive(in)
			c3 := w.arrive(in)
			w.step()
			if o := w.pendingOffer(c2); o == nil || o.UserID != bob.ID {
				t.Fatalf("second offer %+v, want bob (alice's pending offer fills her limit)", o)
			}
			if o := w.pendingOffer(c3); o == nil || o.UserID != bob.ID {
				t.Fatalf("third offer %+v, want bob", o)
			}
			c4 := w.arrive(in)
			w.step()
			if o := w.pendingOffer(c4); o != nil {
				t.Fatalf("fourth conversation offered to %d above every limit", o.UserID)
			}
			if got := w.conv(c4.ID).Status; got != sb.StatusWaiting {
				t.Fatalf("status %s, want waiting", got)
			}
		})

		t.Run("offer expired goes to the next agent", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", func(s *sb.InboxSettings) { s.OfferTimeoutSec = 20 })
			alice := w.agent("alice", 3, in)
			bob := w.agent("bob", 3, in)
			c := w.arrive(in)
			w.step()
			first := w.pendingOffer(c)
			w.advance(19 * time.Second)
			if o := w.pendingOffer(c); o.ID != first.ID {
				t.Fatal("offer expired early")
			}
			w.advance(time.Second)
			second := w.pendingOffer(c)
			if second == nil || second.UserID == first.UserID {
				t.Fatalf("after expiry: %+v, want an offer to the other agent", second)
			}
			if got := w.load(alice).Offered + w.load(bob).Offered; got != 1 {
				t.Fatalf("offered total %d, want 1", got)
			}
			kinds := w.historyKinds(c)
			if !slices.Contains(kinds, "offer_expired") {
				t.Fatalf("history %v lacks offer_expired", kinds)
			}
		})

		t.Run("declined goes to the next agent, then back when nobody else", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", nil)
			alice := w.agent("alice", 3, in)
			bob := w.agent("bob", 3, in)
			c := w.arrive(in)
			w.step()
			o := w.pendingOffer(c)
			first := o.UserID
			if _, err := routing.DeclineOffer(w.ctx(), w.db, first, o.ID, nil); err != nil {
				t.Fatal(err)
			}
			w.step()
			o = w.pendingOffer(c)
			if o.UserID == first {
				t.Fatal("re-offered to the agent who declined")
			}
			other := o.UserID
			w.presence(map[int64]*sb.User{alice.ID: alice, bob.ID: bob}[first], sb.PresenceAway)
			if _, err := routing.DeclineOffer(w.ctx(), w.db, other, o.ID, nil); err != nil {
				t.Fatal(err)
			}
			w.step()
			if o := w.pendingOffer(c); o == nil || o.UserID != other {
				t.Fatalf("offer %+v, want it back with the only online agent", o)
			}
		})

		t.Run("missed offers in a row set the agent away", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", func(s *sb.InboxSettings) { s.MaxMissedOffers = 2 })
			alice := w.agent("alice", 3, in)
			c := w.arrive(in)
			w.step()
			w.advance(30 * time.Second) // missed 1, offered again
			if o := w.pendingOffer(c); o == nil || o.UserID != alice.ID {
				t.Fatalf("offer %+v, want alice again", o)
			}
			m := w.mark()
			w.advance(30 * time.Second) // missed 2: away
			if got := w.load(alice); got.Presence != sb.PresenceAway || got.Offered != 0 {
				t.Fatalf("alice %+v, want away without offers", got)
			}
			if o := w.pendingOffer(c); o != nil {
				t.Fatalf("offer %+v to an away agent", o)
			}
			if got := w.conv(c.ID).Status; got != sb.StatusWaiting {
				t.Fatalf("status %s, want waiting", got)
			}
			if len(w.eventsSince(m, sb.EventPresence)) != 1 {
				t.Fatal("no presence event")
			}
			w.presence(alice, sb.PresenceOnline)
			w.step()
			if o := w.pendingOffer(c); o == nil || o.UserID != alice.ID {
				t.Fatalf("offer %+v, want alice once back", o)
			}
			if got := w.load(alice).Missed; got != 0 {
				t.Fatalf("missed %d after coming back, want 0", got)
			}
		})
	})
}

func TestQueue(t *testing.T) {
	eachBackend(t, func(t *testing.T, d backend) {
		t.Run("oldest first when capacity frees up", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", nil)
			alice := w.agent("alice", 1, in)
			busy := w.arrive(in)
			w.step()
			o := w.pendingOffer(busy)
			if _, err := routing.AcceptOffer(w.ctx(), w.db, alice.ID, o.ID, nil); err != nil {
				t.Fatal(err)
			}
			var queued []*sb.Conversation
			for range 3 {
				queued = append(queued, w.arrive(in))
				w.clock.Advance(time.Second)
				w.step()
			}
			for _, c := range queued {
				if w.conv(c.ID).Status != sb.StatusWaiting {
					t.Fatal("offered above the limit")
				}
			}
			// The chat ends (as app.EndConversation does it): the oldest is served.
			w.write(func(tx *store.Tx) error {
				c, err := tx.Conversation(busy.ID)
				if err != nil {
					return err
				}
				if err := tx.ReleaseAssignee(c); err != nil {
					return err
				}
				ended := sb.StatusEnded
				return tx.ChangeConversation(c, store.ConversationChange{Status: &ended, EndedBy: "agent"})
			})
			w.step()
			if o := w.pendingOffer(queued[0]); o == nil || o.UserID != alice.ID {
				t.Fatalf("oldest not offered: %+v", o)
			}
			if w.pendingOffer(queued[1]) != nil || w.pendingOffer(queued[2]) != nil {
				t.Fatal("younger conversations offered")
			}
		})

		t.Run("a raised limit serves the queue", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", nil)
			alice := w.agent("alice", 1, in)
			w.arrive(in)
			c2 := w.arrive(in)
			w.step()
			if w.pendingOffer(c2) != nil {
				t.Fatal("offered above the limit")
			}
			if err := routing.SetChatLimit(w.ctx(), w.db, alice.ID, 2); err != nil {
				t.Fatal(err)
			}
			w.step()
			if o := w.pendingOffer(c2); o == nil || o.UserID != alice.ID {
				t.Fatalf("after raising the limit: %+v", o)
			}
		})

		t.Run("an inbox limit lowers the agent's", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("VIP", func(s *sb.InboxSettings) { s.ChatLimit = 1 })
			w.agent("alice", 3, in)
			c1 := w.arrive(in)
			c2 := w.arrive(in)
			w.step()
			if w.pendingOffer(c1) == nil || w.pendingOffer(c2) != nil {
				t.Fatal("the inbox limit of 1 did not hold")
			}
		})

		t.Run("customers are told their position and expected wait", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", nil)
			alice := w.agent("alice", 1, in)
			first := w.arrive(in)
			w.step()
			m := w.mark()
			c2 := w.arrive(in)
			c3 := w.arrive(in)
			w.step()
			queue := w.eventsSince(m, sb.EventQueue)
			if len(queue) != 2 {
				t.Fatalf("%d queue events, want 2", len(queue))
			}
			for i, c := range []*sb.Conversation{c2, c3} {
				e := queue[i]
				qs := decode[sb.QueueStatus](t, e)
				if e.Audience != sb.AudienceConversation || e.ConversationID != c.ID || e.ContactID != c.ContactID ||
					qs.ConversationID != c.ID || qs.Position != i+1 || qs.ExpectedWaitSec <= 0 {
					t.Fatalf("queue event %d: %+v %+v", i, e, qs)
				}
			}
			w.step()
			if n := len(w.eventsSince(m, sb.EventQueue)); n != 2 {
				t.Fatalf("unchanged positions announced again (%d events)", n)
			}
			if _, err := routing.DeclineOffer(w.ctx(), w.db, alice.ID, w.pendingOffer(first).ID, nil); err != nil {
				t.Fatal(err)
			}
			m = w.mark()
			w.step() // first goes back to alice (the only agent): c2 and c3 keep their places
			if n := len(w.eventsSince(m, sb.EventQueue)); n != 0 {
				t.Fatalf("%d queue events, want none", n)
			}
			o := w.pendingOffer(first)
			if _, err := routing.AcceptOffer(w.ctx(), w.db, alice.ID, o.ID, nil); err != nil {
				t.Fatal(err)
			}
			if err := routing.SetChatLimit(w.ctx(), w.db, alice.ID, 2); err != nil {
				t.Fatal(err)
			}
			m = w.mark()
			w.step() // c2 is offered; c3 moves up to 1
			queue = w.eventsSince(m, sb.EventQueue)
			if len(queue) != 1 || queue[0].ConversationID != c3.ID || decode[sb.QueueStatus](t, queue[0]).Position != 1 {
				t.Fatalf("queue events %+v", queue)
			}
		})
	})
}

func TestTickets(t *testing.T) {
	eachBackend(t, func(t *testing.T, d backend) {
		t.Run("outside business hours a conversation becomes a ticket", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", func(s *sb.InboxSettings) {
				s.OutOfHoursMessage = "We are closed."
				// Open on Mondays 12:00–18:00 in Paris; it is 10:00 UTC (12:00 in Paris) on Monday...
				s.BusinessHours = sb.BusinessHours{TimeZone: "Europe/Paris", Weekly: []sb.OpenPeriod{{Weekday: 1, Start: 13 * 60, End: 18 * 60}}}
			})
			w.agent("alice", 3, in)
			m := w.mark()
			c := w.arrive(in) // ...but only from 13:00.
			w.step()
			got := w.conv(c.ID)
			if got.Ticket != sb.TicketUnassigned || got.Status != sb.StatusEnded || got.EndedBy != "system" {
				t.Fatalf("conversation %+v, want an unassigned ticket", got)
			}
			msgs := w.eventsSince(m, sb.EventMessage)
			if len(msgs) != 1 || msgs[0].Audience != sb.AudienceConversation {
				t.Fatalf("message events %+v", msgs)
			}
			if msg := decode[sb.Message](t, msgs[0]); msg.Body != "We are closed." || msg.Sender != sb.SenderSystem {
				t.Fatalf("message %+v", msg)
			}
			if w.pendingOffer(c) != nil {
				t.Fatal("a ticket was offered")
			}
			w.clock.Advance(time.Hour) // 13:00 in Paris: open
			c2 := w.arrive(in)
			w.step()
			if w.pendingOffer(c2) == nil {
				t.Fatal("not offered during business hours")
			}
		})

		t.Run("with nobody online a conversation becomes a ticket", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", nil)
			alice := w.agent("alice", 3, in)
			w.presence(alice, sb.PresenceAway)
			c := w.arrive(in)
			w.step()
			if got := w.conv(c.ID); got.Ticket != sb.TicketUnassigned {
				t.Fatalf("conversation %+v, want a ticket", got)
			}
			if !slices.Contains(w.historyKinds(c), "ticket") {
				t.Fatal("no ticket history")
			}
		})

		t.Run("supervisors assign, close and reopen tickets", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", nil)
			alice := w.agent("alice", 3, in)
			outsider := w.agent("olga", 3)
			boss := w.agent("boss", 3, in)
			for _, u := range []*sb.User{alice, outsider, boss} {
				w.presence(u, sb.PresenceOffline)
			}
			c := w.arrive(in)
			w.step()
			_, err := routing.AssignTicket(w.ctx(), w.db, boss.ID, c.ID, outsider.ID, nil)
			mustCode(t, err, sb.EINVALID)
			got, err := routing.AssignTicket(w.ctx(), w.db, boss.ID, c.ID, alice.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Ticket != sb.TicketAssigned || *got.AssigneeID != alice.ID {
				t.Fatalf("after assign: %+v", got)
			}
			p := &sb.Principal{UserID: alice.ID, Role: sb.RoleAgent, Operator: true, InboxIDs: []int64{in.ID}}
			if err := p.CanWriteCustomer(got); err != nil {
				t.Fatalf("assigned agent cannot reply: %v", err)
			}
			if got, err = routing.CloseTicket(w.ctx(), w.db, boss.ID, c.ID, nil); err != nil || got.Ticket != sb.TicketClosed {
				t.Fatalf("close: %+v %v", got, err)
			}
			_, err = routing.AssignTicket(w.ctx(), w.db, boss.ID, c.ID, alice.ID, nil)
			mustCode(t, err, sb.ECONFLICT)
			if got, err = routing.ReopenTicket(w.ctx(), w.db, boss.ID, c.ID, nil); err != nil || got.Ticket != sb.TicketAssigned {
				t.Fatalf("reopen: %+v %v", got, err)
			}
			kinds := w.historyKinds(c)
			for _, k := range []string{"ticket", "ticket_assigned", "ticket_closed", "ticket_reopened"} {
				if !slices.Contains(kinds, k) {
					t.Fatalf("history %v lacks %s", kinds, k)
				}
			}
		})
	})
}

// assignedTo brings a new conversation of the inbox to agent u.
func (w *world) assignedTo(in *sb.Inbox, u *sb.User) *sb.Conversation {
	w.t.Helper()
	c := w.arrive(in)
	w.write(func(tx *store.Tx) error {
		cc, err := tx.Conversation(c.ID)
		if err != nil {
			return err
		}
		return tx.AssignTo(cc, u.ID, nil, true)
	})
	return w.conv(c.ID)
}

func notificationsTo(w *world, mark int, u *sb.User) []sb.Notification {
	var out []sb.Notification
	for _, e := range w.eventsSince(mark, sb.EventNotification) {
		if e.UserID == u.ID && e.Audience == sb.AudienceUser {
			out = append(out, decode[sb.Notification](w.t, e))
		}
	}
	return out
}

func TestTransfers(t *testing.T) {
	eachBackend(t, func(t *testing.T, d backend) {
		setup := func(t *testing.T) (*world, *sb.Inbox, *sb.User, *sb.User, *sb.Conversation) {
			w := newWorld(t, d)
			in := w.inbox("Web", nil)
			a := w.agent("anna", 3, in)
			b := w.agent("ben", 3, in)
			c := w.assignedTo(in, a)
			return w, in, a, b, c
		}

		t.Run("accepted moves the chat, both told", func(t *testing.T) {
			w, _, a, b, c := setup(t)
			m := w.mark()
			got, tr, err := routing.RequestTransfer(w.ctx(), w.db, a.ID, c.ID, routing.TransferRequest{ToUserID: b.ID, Note: "billing"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != sb.StatusTransferring || *got.AssigneeID != a.ID {
				t.Fatalf("while pending: %+v", got)
			}
			if len(notificationsTo(w, m, b)) != 1 || len(notificationsTo(w, m, a)) != 1 {
				t.Fatal("both agents should be notified of the request")
			}
			if got := w.load(b); got.Offered != 1 {
				t.Fatalf("ben %+v: the request should hold his capacity", got)
			}
			m = w.mark()
			got, _, err = routing.AnswerTransfer(w.ctx(), w.db, b.ID, tr.ID, true, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != sb.StatusAssigned || *got.AssigneeID != b.ID {
				t.Fatalf("after accept: %+v", got)
			}
			if la, lb := w.load(a), w.load(b); la.Active != 0 || lb.Active != 1 || lb.Offered != 0 {
				t.Fatalf("loads anna %+v ben %+v", la, lb)
			}
			if n := notificationsTo(w, m, a); len(n) != 1 || n[0].Kind != "transfer_result" {
				t.Fatalf("anna's notifications %+v", n)
			}
		})

		t.Run("rejected keeps the chat with the sender, who is told", func(t *testing.T) {
			w, _, a, b, c := setup(t)
			_, tr, err := routing.RequestTransfer(w.ctx(), w.db, a.ID, c.ID, routing.TransferRequest{ToUserID: b.ID}, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = routing.AnswerTransfer(w.ctx(), w.db, a.ID, tr.ID, true, nil)
			mustCode(t, err, sb.ENOTFOUND) // only the receiver answers
			m := w.mark()
			got, _, err := routing.AnswerTransfer(w.ctx(), w.db, b.ID, tr.ID, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != sb.StatusAssigned || *got.AssigneeID != a.ID {
				t.Fatalf("after reject: %+v", got)
			}
			if n := notificationsTo(w, m, a); len(n) != 1 || n[0].Kind != "transfer_result" {
				t.Fatalf("anna's notifications %+v", n)
			}
			if got := w.load(b); got.Offered != 0 || got.Active != 0 {
				t.Fatalf("ben %+v", got)
			}
		})

		t.Run("expired keeps the chat with the sender, who is told", func(t *testing.T) {
			w, _, a, b, c := setup(t)
			_, tr, err := routing.RequestTransfer(w.ctx(), w.db, a.ID, c.ID, routing.TransferRequest{ToUserID: b.ID}, nil)
			if err != nil {
				t.Fatal(err)
			}
			w.advance(59 * time.Second)
			if w.conv(c.ID).Status != sb.StatusTransferring {
				t.Fatal("expired early")
			}
			m := w.mark()
			w.advance(time.Second)
			got := w.conv(c.ID)
			if got.Status != sb.StatusAssigned || *got.AssigneeID != a.ID {
				t.Fatalf("after expiry: %+v", got)
			}
			if n := notificationsTo(w, m, a); len(n) != 1 || n[0].Kind != "transfer_result" {
				t.Fatalf("anna's notifications %+v", n)
			}
			if n := notificationsTo(w, m, b); len(n) != 1 {
				t.Fatalf("ben's notifications %+v", n)
			}
			_, _, err = routing.AnswerTransfer(w.ctx(), w.db, b.ID, tr.ID, true, nil)
			mustCode(t, err, sb.ECONFLICT)
			if !slices.Contains(w.historyKinds(c), "transfer_expired") {
				t.Fatal("no transfer_expired history")
			}
		})

		t.Run("to an unavailable agent is refused", func(t *testing.T) {
			w, _, a, b, c := setup(t)
			w.presence(b, sb.PresenceAway)
			_, _, err := routing.RequestTransfer(w.ctx(), w.db, a.ID, c.ID, routing.TransferRequest{ToUserID: b.ID}, nil)
			mustCode(t, err, sb.ECONFLICT)
			_, _, err = routing.RequestTransfer(w.ctx(), w.db, b.ID, c.ID, routing.TransferRequest{ToUserID: a.ID}, nil)
			mustCode(t, err, sb.EFORBIDDEN)
		})

		t.Run("to a department with nobody available is refused", func(t *testing.T) {
			w, in, a, b, c := setup(t)
			dept := &sb.Department{Name: "Billing", MemberIDs: []int64{b.ID}}
			w.write(func(tx *store.Tx) error { return tx.CreateDepartment(dept) })
			w.presence(b, sb.PresenceOffline)
			_, _, err := routing.RequestTransfer(w.ctx(), w.db, a.ID, c.ID, routing.TransferRequest{ToDepartmentID: dept.ID}, nil)
			mustCode(t, err, sb.ECONFLICT)
			if got := w.conv(c.ID); got.Status != sb.StatusAssigned || *got.AssigneeID != a.ID {
				t.Fatalf("chat moved: %+v", got)
			}
			// With Ben online it goes to the department's queue and to him.
			w.presence(b, sb.PresenceOnline)
			got, _, err := routing.RequestTransfer(w.ctx(), w.db, a.ID, c.ID, routing.TransferRequest{ToDepartmentID: dept.ID}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != sb.StatusWaiting || got.AssigneeID != nil || *got.DepartmentID != dept.ID || got.InboxID != in.ID {
				t.Fatalf("after transfer: %+v", got)
			}
			w.step()
			if o := w.pendingOffer(c); o == nil || o.UserID != b.ID {
				t.Fatalf("offer %+v, want ben", o)
			}
			if got := w.load(a); got.Active != 0 {
				t.Fatalf("anna still counts the chat: %+v", got)
			}
		})

		t.Run("to another inbox", func(t *testing.T) {
			w, _, a, _, c := setup(t)
			other := w.inbox("Sales", nil)
			_, _, err := routing.RequestTransfer(w.ctx(), w.db, a.ID, c.ID, routing.TransferRequest{ToInboxID: other.ID}, nil)
			mustCode(t, err, sb.ECONFLICT)
			sam := w.agent("sam", 3, other)
			got, _, err := routing.RequestTransfer(w.ctx(), w.db, a.ID, c.ID, routing.TransferRequest{ToInboxID: other.ID}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.InboxID != other.ID {
				t.Fatalf("inbox %d, want %d", got.InboxID, other.ID)
			}
			w.step()
			if o := w.pendingOffer(c); o == nil || o.UserID != sam.ID {
				t.Fatalf("offer %+v, want sam", o)
			}
		})
	})
}

func TestSupervisorAssign(t *testing.T) {
	eachBackend(t, func(t *testing.T, d backend) {
		w := newWorld(t, d)
		in := w.inbox("Web", nil)
		a := w.agent("anna", 3, in)
		b := w.agent("ben", 1, in)
		boss := w.agent("boss", 3, in)
		w.presence(boss, sb.PresenceOffline)
		c := w.assignedTo(in, a)

		cands, err := routing.Candidates(w.ctx(), w.db, c, 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, cand := range cands {
			ids = append(ids, cand.UserID)
		}
		if !slices.Equal(ids, []int64{b.ID, a.ID}) {
			t.Fatalf("candidates %v, want ben (load 0) then anna (load 1)", ids)
		}

		m := w.mark()
		got, err := routing.Assign(w.ctx(), w.db, boss.ID, c.ID, routing.AssignRequest{UserID: b.ID}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != sb.StatusAssigned || *got.AssigneeID != b.ID {
			t.Fatalf("after reassign: %+v", got)
		}
		if la, lb := w.load(a), w.load(b); la.Active != 0 || lb.Active != 1 {
			t.Fatalf("loads anna %+v ben %+v", la, lb)
		}
		if len(notificationsTo(w, m, b)) != 1 || len(notificationsTo(w, m, a)) != 1 {
			t.Fatal("both agents should be told")
		}
		// Ben is full now; he is no candidate and cannot be given another chat.
		c2 := w.assignedTo(in, a)
		_, err = routing.Assign(w.ctx(), w.db, boss.ID, c2.ID, routing.AssignRequest{UserID: b.ID}, nil)
		mustCode(t, err, sb.ECONFLICT)
		cands, _ = routing.Candidates(w.ctx(), w.db, c2, 0)
		if len(cands) != 1 || cands[0].UserID != a.ID {
			t.Fatalf("candidates %+v", cands)
		}
		// An unauthorised caller is stopped inside the transaction.
		_, err = routing.Assign(w.ctx(), w.db, boss.ID, c2.ID, routing.AssignRequest{UserID: a.ID},
			func(*sb.Conversation) error { return sb.NotFound("Conversation") })
		mustCode(t, err, sb.ENOTFOUND)
		if !slices.Contains(w.historyKinds(c), "assigned") {
			t.Fatal("no history")
		}
	})
}

func TestInactivityCompletion(t *testing.T) {
	eachBackend(t, func(t *testing.T, d backend) {
		t.Run("assigned chat ends after an hour without activity, across a restart", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", nil)
			a := w.agent("anna", 3, in)
			c := w.arrive(in)
			w.step()
			if _, err := routing.AcceptOffer(w.ctx(), w.db, a.ID, w.pendingOffer(c).ID, nil); err != nil {
				t.Fatal(err)
			}
			w.advance(30 * time.Minute)
			// The customer writes: the hour starts again.
			w.write(func(tx *store.Tx) error {
				cc, err := tx.Conversation(c.ID)
				if err != nil {
					return err
				}
				_, err = tx.CreateMessage(cc, &sb.Message{Thread: sb.ThreadPublic, Sender: sb.SenderCustomer, Body: "still there?"})
				return err
			})
			w.advance(59 * time.Minute)
			if !w.conv(c.ID).Status.Live() {
				t.Fatal("ended despite activity")
			}
			w.restart()
			w.clock.Advance(2 * time.Minute)
			if _, err := w.eng.Step(w.ctx()); err != nil {
				t.Fatal(err)
			}
			got := w.conv(c.ID)
			if got.Status != sb.StatusEnded || got.EndedBy != "system" {
				t.Fatalf("after the restart: %+v", got)
			}
			if got := w.load(a); got.Active != 0 {
				t.Fatalf("anna still counts the chat: %+v", got)
			}
			w.advance(24 * time.Hour)
			n := 0
			for _, k := range w.historyKinds(c) {
				if k == "inactivity" {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("ended %d times", n)
			}
			for id, n := range w.fired {
				if n != 1 {
					t.Fatalf("deadline %d fired %d times", id, n)
				}
			}
		})

		t.Run("waiting chat ends after the waiting timeout", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", func(s *sb.InboxSettings) { s.WaitingIdleSec, s.AssignedIdleSec = 3600, 4*3600 })
			u := w.agent("full", 1, in)
			busy := w.assignedTo(in, u)
			c := w.arrive(in)
			w.step()
			w.advance(59 * time.Minute)
			if got := w.conv(c.ID).Status; got != sb.StatusWaiting {
				t.Fatalf("status %s, want waiting", got)
			}
			w.advance(time.Minute)
			if got := w.conv(c.ID); got.Status != sb.StatusEnded || got.EndedBy != "system" {
				t.Fatalf("after an hour of waiting: %+v", got)
			}
			if !w.conv(busy.ID).Status.Live() {
				t.Fatal("the assigned chat ended on the waiting timeout")
			}
		})
	})
}

func TestPresenceSetElsewhere(t *testing.T) {
	eachBackend(t, func(t *testing.T, d backend) {
		w := newWorld(t, d)
		in := w.inbox("Web", func(s *sb.InboxSettings) { s.MaxMissedOffers = 2 })
		a := w.agent("anna", 3, in)
		c := w.arrive(in)
		w.step()
		w.advance(30 * time.Second) // anna misses one
		if got := w.load(a).Missed; got != 1 {
			t.Fatalf("missed %d, want 1", got)
		}
		// Presence changed by a path that knows nothing of routing (a plain store write).
		w.write(func(tx *store.Tx) error { return tx.SetPresence(a.ID, sb.PresenceAway) })
		w.step()
		if got := w.load(a); got.Offered != 0 {
			t.Fatalf("anna is away and holds %d offers", got.Offered)
		}
		if got := w.conv(c.ID).Status; got != sb.StatusWaiting {
			t.Fatalf("status %s, want waiting", got)
		}
		w.write(func(tx *store.Tx) error { return tx.SetPresence(a.ID, sb.PresenceOnline) })
		w.step()
		w.advance(30 * time.Second) // a new streak: one miss is not two
		if got := w.load(a); got.Presence != sb.PresenceOnline || got.Missed != 1 {
			t.Fatalf("anna %+v, want online with a streak of 1", got)
		}
	})
}

func TestPresenceFollowsConnections(t *testing.T) {
	eachBackend(t, func(t *testing.T, d backend) {
		w := newWorld(t, d)
		in := w.inbox("Web", nil)
		a := w.agent("anna", 3, in)
		w.eng.OnConnect(a.ID)
		w.eng.OnConnect(a.ID)
		c := w.arrive(in)
		w.step()
		if w.pendingOffer(c) == nil {
			t.Fatal("no offer")
		}
		w.eng.OnDisconnect(a.ID)
		w.advance(time.Minute)
		if got := w.load(a); got.Presence != sb.PresenceOnline {
			t.Fatal("offline while a connection is open")
		}
		w.eng.OnDisconnect(a.ID)
		w.advance(20 * time.Second)
		w.eng.OnConnect(a.ID) // back within the grace period
		w.advance(time.Minute)
		if got := w.load(a); got.Presence != sb.PresenceOnline {
			t.Fatal("offline after reconnecting within the grace period")
		}
		w.eng.OnDisconnect(a.ID)
		w.advance(29 * time.Second)
		if got := w.load(a); got.Presence != sb.PresenceOnline {
			t.Fatal("offline before the grace period ended")
		}
		w.advance(time.Second)
		if got := w.load(a); got.Presence != sb.PresenceOffline || got.Offered != 0 {
			t.Fatalf("anna %+v, want offline with no offers", got)
		}
		if got := w.conv(c.ID); got.Status != sb.StatusWaiting {
			t.Fatalf("conversation %s, want back in the queue", got.Status)
		}
	})
}

func TestBotTakesBackAWaitingChat(t *testing.T) {
	w := newWorld(t, sqliteDatabase)
	in := w.inbox("Web", func(s *sb.InboxSettings) { s.WaitingIdleSec, s.AssignedIdleSec = 3600, 10*3600 })
	full := w.agent("full", 1, in)
	w.assignedTo(in, full)
	c := w.arrive(in)
	w.step()
	setStatus := func(st sb.Status) {
		w.write(func(tx *store.Tx) error {
			cc, err := tx.Conversation(c.ID)
			if err != nil {
				return err
			}
			return tx.ChangeConversation(cc, store.ConversationChange{Status: &st})
		})
	}
	setStatus(sb.StatusBot) // a bot takes it back while it waits
	w.advance(2 * time.Hour)
	if !w.conv(c.ID).Status.Live() {
		t.Fatal("a bot's chat was ended by the router")
	}
	setStatus(sb.StatusWaiting) // the customer asks for a person again
	w.step()
	w.advance(61 * time.Minute)
	if got := w.conv(c.ID); got.Status != sb.StatusEnded || got.EndedBy != "system" {
		t.Fatalf("waiting again for an hour, then: %+v", got)
	}
}
