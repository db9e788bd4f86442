package app_test

import (
	"context"
	"testing"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/routing"
)

// TestRoutingAuthorization checks who may call the routing operations: each
// is refused to visitors, not found for staff outside the inbox, and
// forbidden to agents where only supervisors may act.
func TestRoutingAuthorization(t *testing.T) {
	ctx := context.Background()
	o := newOrg(t)
	eng := routing.New(o.db, routing.Config{NodeID: "app-test"})
	step := func() {
		t.Helper()
		if _, err := eng.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*sb.Principal{o.agent, o.outsider} {
		if err := routing.SetPresence(ctx, o.db, p.UserID, sb.PresenceOnline); err != nil {
			t.Fatal(err)
		}
	}
	v := o.visitor(t)
	conv, _, _, err := o.svc.StartConversation(ctx, v, o.inbox.ID, "Hello", "")
	if err != nil {
		t.Fatal(err)
	}
	step()
	offers, err := o.svc.Offers(ctx, o.agent)
	if err != nil || len(offers) != 1 || offers[0].ConversationID != conv.ID {
		t.Fatalf("agent's offers %+v %v", offers, err)
	}
	offer := offers[0]
	code := func(t *testing.T, err error, want string) {
		t.Helper()
		if got := sb.ErrorCode(err); got != want {
			t.Fatalf("code %q, want %q (%v)", got, want, err)
		}
	}

	t.Run("visitors are refused everything", func(t *testing.T) {
		_, err := o.svc.Offers(ctx, v)
		code(t, err, sb.EFORBIDDEN)
		_, err = o.svc.AcceptOffer(ctx, v, offer.ID)
		code(t, err, sb.EFORBIDDEN)
		_, _, err = o.svc.RequestTransfer(ctx, v, conv.ID, routing.TransferRequest{ToUserID: o.super.UserID})
		code(t, err, sb.EFORBIDDEN)
		_, err = o.svc.Assign(ctx, v, conv.ID, routing.AssignRequest{UserID: o.agent.UserID})
		code(t, err, sb.EFORBIDDEN)
		_, err = o.svc.Candidates(ctx, v, conv.ID, 0)
		code(t, err, sb.EFORBIDDEN)
		_, err = o.svc.CloseTicket(ctx, v, conv.ID)
		code(t, err, sb.EFORBIDDEN)
	})
	t.Run("an offer is only its agent's", func(t *testing.T) {
		_, err := o.svc.AcceptOffer(ctx, o.super, offer.ID)
		code(t, err, sb.ENOTFOUND)
		_, err = o.svc.DeclineOffer(ctx, o.outsider, offer.ID)
		code(t, err, sb.ENOTFOUND)
	})
	t.Run("staff outside the inbox see nothing", func(t *testing.T) {
		_, err := o.svc.Candidates(ctx, o.outsider, conv.ID, 0)
		code(t, err, sb.ENOTFOUND)
		_, _, err = o.svc.RequestTransfer(ctx, o.outsider, conv.ID, routing.TransferRequest{ToUserID: o.agent.UserID})
		code(t, err, sb.ENOTFOUND)
		outsideSuper := &sb.Principal{UserID: o.super.UserID, Role: sb.RoleSupervisor, InboxIDs: []int64{o.other.ID}}
		_, err = o.svc.Assign(ctx, outsideSuper, conv.ID, routing.AssignRequest{UserID: o.agent.UserID})
		code(t, err, sb.ENOTFOUND)
	})
	if _, err := o.svc.AcceptOffer(ctx, o.agent, offer.ID); err != nil {
		t.Fatal(err)
	}
	t.Run("only supervisors assign", func(t *testing.T) {
		_, err := o.svc.Assign(ctx, o.agent, conv.ID, routing.AssignRequest{UserID: o.agent.UserID})
		code(t, err, sb.EFORBIDDEN)
		cands, err := o.svc.Candidates(ctx, o.agent, conv.ID, 0)
		if err != nil || len(cands) != 1 || cands[0].UserID != o.agent.UserID {
			t.Fatalf("candidates %+v %v", cands, err)
		}
		got, err := o.svc.Assign(ctx, o.super, conv.ID, routing.AssignRequest{UserID: o.agent.UserID})
		if err != nil || *got.AssigneeID != o.agent.UserID {
			t.Fatalf("supervisor assign: %+v %v", got, err)
		}
	})
	t.Run("only the agent who has the chat transfers it", func(t *testing.T) {
		_, _, err := o.svc.RequestTransfer(ctx, o.super, conv.ID, routing.TransferRequest{ToUserID: o.agent.UserID})
		code(t, err, sb.EFORBIDDEN)
	})
	t.Run("tickets are the supervisors'", func(t *testing.T) {
		for _, p := range []*sb.Principal{o.agent, o.outsider} {
			if err := routing.SetPresence(ctx, o.db, p.UserID, sb.PresenceOffline); err != nil {
				t.Fatal(err)
			}
		}
		w := o.visitor(t)
		ticket, _, _, err := o.svc.StartConversation(ctx, w, o.inbox.ID, "Anyone?", "")
		if err != nil {
			t.Fatal(err)
		}
		step()
		if got, _ := o.db.Conversation(ctx, ticket.ID); got.Ticket != sb.TicketUnassigned {
			t.Fatalf("not a ticket: %+v", got)
		}
		_, err = o.svc.AssignTicket(ctx, o.agent, ticket.ID, o.agent.UserID)
		code(t, err, sb.EFORBIDDEN)
		_, err = o.svc.CloseTicket(ctx, o.outsider, ticket.ID)
		code(t, err, sb.ENOTFOUND)
		got, err := o.svc.AssignTicket(ctx, o.super, ticket.ID, o.agent.UserID)
		if err != nil || got.Ticket != sb.TicketAssigned {
			t.Fatalf("assign ticket: %+v %v", got, err)
		}
		// The assigned agent may now reply to the customer (S3).
		if _, _, err := o.svc.SendMessage(ctx, o.agent, ticket.ID, sb.ThreadPublic, "We are on it.", ""); err != nil {
			t.Fatalf("assigned agent replies to the ticket: %v", err)
		}
		if got, err = o.svc.CloseTicket(ctx, o.super, ticket.ID); err != nil || got.Ticket != sb.TicketClosed {
			t.Fatalf("close: %+v %v", got, err)
		}
		if got, err = o.svc.ReopenTicket(ctx, o.super, ticket.ID); err != nil || got.Ticket != sb.TicketAssigned {
			t.Fatalf("reopen: %+v %v", got, err)
		}
	})
}
