package routing_test

import (
	"fmt"
	"slices"
	"testing"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/routing"
	"github.com/switchboard/switchboard/store"
)

// admin returns the service over the world's store and an owner to call it as.
func (w *world) admin() (*app.Service, *sb.Principal) {
	w.t.Helper()
	u := &sb.User{Email: fmt.Sprintf("owner-%d@example.com", w.seq.Add(1)), Name: "Owner", Role: sb.RoleOwner}
	w.write(func(tx *store.Tx) error { return tx.CreateUser(u, "") })
	return app.New(w.db, nil, w.clock, quietLogger(), app.Config{}), &sb.Principal{UserID: u.ID, Name: u.Name, Role: u.Role}
}

// withdrawnOffers returns the ids of the offers withdrawn since a mark.
func (w *world) withdrawnOffers(mark int) []int64 {
	var out []int64
	for _, e := range w.eventsSince(mark, sb.EventOffer) {
		if o := decode[sb.Offer](w.t, e); o.State == sb.OfferWithdrawn {
			out = append(out, o.ID)
		}
	}
	return out
}

// ticketOf makes an open ticket of a new customer in the inbox, assigned to u.
func (w *world) ticketOf(in *sb.Inbox, u *sb.User) *sb.Conversation {
	w.t.Helper()
	t := &sb.Conversation{InboxID: in.ID, Status: sb.StatusEnded, Ticket: sb.TicketUnassigned}
	w.write(func(tx *store.Tx) error {
		ct := &sb.Contact{Name: fmt.Sprintf("Customer %d", w.seq.Add(1))}
		if err := tx.CreateContact(ct); err != nil {
			return err
		}
		t.ContactID = ct.ID
		_, err := tx.CreateConversation(t, nil)
		return err
	})
	if _, err := routing.AssignTicket(w.ctx(), w.db, u.ID, t.ID, u.ID, nil); err != nil {
		w.t.Fatal(err)
	}
	return w.conv(t.ID)
}

// TestAgentLeavesAnInbox: taking an agent out of an inbox, or disabling
// them, withdraws at once what routing offered them there — the chat is
// offered to someone else in the next step, with no clock moved — and gives
// back what they had: live chats return to the queue ahead of later
// arrivals, open tickets become unassigned.
func TestAgentLeavesAnInbox(t *testing.T) {
	eachBackend(t, func(t *testing.T, d backend) {
		t.Run("a pending offer is withdrawn and the chat offered to another agent", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", nil)
			anna := w.agent("anna", 3, in)
			ben := w.agent("ben", 3, in)
			w.presence(ben, sb.PresenceAway)
			c := w.arrive(in)
			w.step()
			o := w.pendingOffer(c)
			if o == nil || o.UserID != anna.ID {
				t.Fatalf("offer %+v, want one to anna", o)
			}
			w.presence(ben, sb.PresenceOnline)
			svc, owner := w.admin()
			m := w.mark()
			if err := svc.RemoveInboxMember(w.ctx(), owner, in.ID, anna.ID); err != nil {
				t.Fatal(err)
			}
			if got := w.withdrawnOffers(m); !slices.Equal(got, []int64{o.ID}) {
				t.Fatalf("withdrawn offers %v, want [%d] with the membership change", got, o.ID)
			}
			if got := w.conv(c.ID); got.Status != sb.StatusWaiting {
				t.Fatalf("conversation is %s, want waiting", got.Status)
			}
			if l := w.load(anna); l.Offered != 0 {
				t.Fatalf("anna still holds %d offers", l.Offered)
			}
			w.step() // no time passes: the offer did not have to expire
			if next := w.pendingOffer(c); next == nil || next.UserID != ben.ID {
				t.Fatalf("next offer %+v, want one to ben", next)
			}
			if kinds := w.historyKinds(c); !slices.Contains(kinds, "offer_withdrawn") {
				t.Fatalf("history %v", kinds)
			}
		})

		t.Run("their chats return to the queue first and their tickets become unassigned", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", nil)
			other := w.inbox("Other", nil)
			anna := w.agent("anna", 2, in, other)
			ben := w.agent("ben", 1, in)
			w.presence(ben, sb.PresenceAway)
			mine := w.assignedTo(in, anna)
			elsewhere := w.assignedTo(other, anna)
			ticket := w.ticketOf(in, anna)
			closed := w.ticketOf(in, anna)
			if _, err := routing.CloseTicket(w.ctx(), w.db, anna.ID, closed.ID, nil); err != nil {
				t.Fatal(err)
			}
			later := w.arrive(in) // anna is full, ben away: it waits
			w.step()
			if w.pendingOffer(later) != nil {
				t.Fatal("the later chat was offered")
			}
			svc, owner := w.admin()
			ids := []int64{other.ID}
			if _, err := svc.UpdateUser(w.ctx(), owner, anna.ID, app.UserPatch{InboxIDs: &ids}); err != nil {
				t.Fatal(err)
			}
			got := w.conv(mine.ID)
			if got.Status != sb.StatusWaiting || got.AssigneeID != nil {
				t.Fatalf("anna's chat is %s with %v, want waiting for anyone", got.Status, got.AssigneeID)
			}
			if kinds := w.historyKinds(mine); kinds[len(kinds)-1] != "returned" {
				t.Fatalf("history %v, want it to end with returned", kinds)
			}
			if got := w.conv(elsewhere.ID); got.Status != sb.StatusAssigned || *got.AssigneeID != anna.ID {
				t.Fatalf("the chat of the other inbox is %s with %v, want it still anna's", got.Status, got.AssigneeID)
			}
			if l := w.load(anna); l.Active != 1 {
				t.Fatalf("anna has %d active chats, want 1", l.Active)
			}
			if got := w.conv(ticket.ID); got.Ticket != sb.TicketUnassigned || got.AssigneeID != nil {
				t.Fatalf("anna's ticket is %q with %v, want unassigned", got.Ticket, got.AssigneeID)
			}
			if kinds := w.historyKinds(ticket); kinds[len(kinds)-1] != "ticket_unassigned" {
				t.Fatalf("ticket history %v", kinds)
			}
			// Her closed ticket keeps its record; reopened, it goes to the supervisors.
			reopened, err := routing.ReopenTicket(w.ctx(), w.db, owner.UserID, closed.ID, nil)
			if err != nil || reopened.Ticket != sb.TicketUnassigned || reopened.AssigneeID != nil {
				t.Fatalf("reopened %+v, %v; want unassigned", reopened, err)
			}
			w.presence(ben, sb.PresenceOnline)
			w.step()
			if o := w.pendingOffer(mine); o == nil || o.UserID != ben.ID {
				t.Fatalf("offer %+v: the returned chat goes to ben before the later one", o)
			}
		})

		t.Run("a transfer request to them is cancelled and the chat stays with its sender", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", nil)
			anna := w.agent("anna", 3, in)
			ben := w.agent("ben", 3, in)
			c := w.assignedTo(in, ben)
			_, tr, err := routing.RequestTransfer(w.ctx(), w.db, ben.ID, c.ID, routing.TransferRequest{ToUserID: anna.ID}, nil)
			if err != nil {
				t.Fatal(err)
			}
			svc, owner := w.admin()
			if err := svc.RemoveInboxMember(w.ctx(), owner, in.ID, anna.ID); err != nil {
				t.Fatal(err)
			}
			got, err := w.db.Transfer(w.ctx(), tr.ID)
			if err != nil || got.State != sb.TransferCancelled {
				t.Fatalf("transfer %+v, %v; want cancelled", got, err)
			}
			if c := w.conv(c.ID); c.Status != sb.StatusAssigned || *c.AssigneeID != ben.ID {
				t.Fatalf("chat is %s with %v, want it still ben's", c.Status, c.AssigneeID)
			}
			if l := w.load(anna); l.Offered != 0 {
				t.Fatalf("anna still holds %d requests", l.Offered)
			}
		})

		t.Run("an admin keeps the chats of an inbox they still see", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", nil)
			ada := w.agent("ada", 3, in)
			w.write(func(tx *store.Tx) error {
				u, err := tx.User(ada.ID)
				if err != nil {
					return err
				}
				u.Role = sb.RoleAdmin
				return tx.UpdateUser(u)
			})
			c := w.assignedTo(in, ada)
			svc, owner := w.admin()
			if err := svc.RemoveInboxMember(w.ctx(), owner, in.ID, ada.ID); err != nil {
				t.Fatal(err)
			}
			if got := w.conv(c.ID); got.Status != sb.StatusAssigned || *got.AssigneeID != ada.ID {
				t.Fatalf("chat is %s with %v, want it still ada's", got.Status, got.AssigneeID)
			}
		})

		t.Run("disabling an agent gives back everything, in every inbox", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", nil)
			other := w.inbox("Other", nil)
			anna := w.agent("anna", 3, in, other)
			ben := w.agent("ben", 3, in, other)
			chat := w.assignedTo(other, anna)
			ticket := w.ticketOf(in, anna)
			w.presence(ben, sb.PresenceAway)
			offered := w.arrive(in)
			w.step()
			o := w.pendingOffer(offered)
			if o == nil || o.UserID != anna.ID {
				t.Fatalf("offer %+v, want one to anna", o)
			}
			w.presence(ben, sb.PresenceOnline)
			svc, owner := w.admin()
			m := w.mark()
			disabled := true
			if _, err := svc.UpdateUser(w.ctx(), owner, anna.ID, app.UserPatch{Disabled: &disabled}); err != nil {
				t.Fatal(err)
			}
			if got := w.withdrawnOffers(m); !slices.Equal(got, []int64{o.ID}) {
				t.Fatalf("withdrawn offers %v, want [%d]", got, o.ID)
			}
			if l := w.load(anna); l.Presence != sb.PresenceOffline || l.Active != 0 || l.Offered != 0 {
				t.Fatalf("anna's load %+v, want offline with nothing", l)
			}
			if got := w.conv(ticket.ID); got.Ticket != sb.TicketUnassigned {
				t.Fatalf("ticket is %q, want unassigned", got.Ticket)
			}
			w.step()
			for _, c := range []*sb.Conversation{offered, chat} {
				if o := w.pendingOffer(c); o == nil || o.UserID != ben.ID {
					t.Fatalf("conversation %d: offer %+v, want one to ben", c.ID, o)
				}
			}
		})

		t.Run("an agent who stops taking chats loses their offers, not their chats", func(t *testing.T) {
			w := newWorld(t, d)
			in := w.inbox("Web", nil)
			anna := w.agent("anna", 3, in)
			chat := w.assignedTo(in, anna)
			offered := w.arrive(in)
			w.step()
			o := w.pendingOffer(offered)
			if o == nil || o.UserID != anna.ID {
				t.Fatalf("offer %+v, want one to anna", o)
			}
			svc, owner := w.admin()
			no := false
			if _, err := svc.UpdateUser(w.ctx(), owner, anna.ID, app.UserPatch{Operator: &no}); err != nil {
				t.Fatal(err)
			}
			if got := w.conv(offered.ID); got.Status != sb.StatusWaiting {
				t.Fatalf("offered chat is %s, want waiting", got.Status)
			}
			if got := w.conv(chat.ID); got.Status != sb.StatusAssigned || *got.AssigneeID != anna.ID {
				t.Fatalf("anna's chat is %s with %v, want it still hers", got.Status, got.AssigneeID)
			}
		})
	})
}
