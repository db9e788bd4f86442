package app_test

import (
	"context"
	"fmt"
	"testing"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/store"
)

type org struct {
	svc      *app.Service
	db       *store.DB
	inbox    *sb.Inbox
	other    *sb.Inbox
	agent    *sb.Principal
	outsider *sb.Principal
	super    *sb.Principal
}

func newOrg(t *testing.T) org {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	o := org{svc: app.New(db, nil, nil, nil, app.Config{}), db: db}
	o.inbox = &sb.Inbox{Name: "Web", Settings: sb.DefaultInboxSettings()}
	o.other = &sb.Inbox{Name: "Other", Settings: sb.DefaultInboxSettings()}
	users := []*sb.User{
		{Email: "a@x.io", Name: "Alice", Role: sb.RoleAgent, Operator: true, ChatLimit: 2},
		{Email: "o@x.io", Name: "Otto", Role: sb.RoleAgent, Operator: true, ChatLimit: 2},
		{Email: "s@x.io", Name: "Sue", Role: sb.RoleSupervisor, ChatLimit: 2},
	}
	err = db.Write(ctx, func(tx *store.Tx) error {
		for _, in := range []*sb.Inbox{o.inbox, o.other} {
			if err := tx.CreateInbox(in); err != nil {
				return err
			}
		}
		for _, u := range users {
			if err := tx.CreateUser(u, ""); err != nil {
				return err
			}
		}
		if err := tx.AddInboxMember(o.inbox.ID, users[0].ID); err != nil {
			return err
		}
		if err := tx.AddInboxMember(o.other.ID, users[1].ID); err != nil {
			return err
		}
		return tx.AddInboxMember(o.inbox.ID, users[2].ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	principal := func(u *sb.User, inboxes ...int64) *sb.Principal {
		return &sb.Principal{UserID: u.ID, Name: u.Name, Role: u.Role, Operator: u.Operator, InboxIDs: inboxes}
	}
	o.agent = principal(users[0], o.inbox.ID)
	o.outsider = principal(users[1], o.other.ID)
	o.super = principal(users[2], o.inbox.ID)
	return o
}

func (o org) visitor(t *testing.T) *sb.Principal {
	t.Helper()
	ctx := context.Background()
	token, _, err := o.svc.CreateVisitor(ctx, o.inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := o.svc.AuthenticateVisitor(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConversationLifecycle(t *testing.T) {
	ctx := context.Background()
	o := newOrg(t)
	v := o.visitor(t)
	conv, msg, created, err := o.svc.StartConversation(ctx, v, o.inbox.ID, "Hello", "c1")
	if err != nil || !created || msg == nil || msg.Seq != 1 {
		t.Fatalf("start: %v %v %v", msg, created, err)
	}
	t.Run("starting again returns the live conversation", func(t *testing.T) {
		again, _, created, err := o.svc.StartConversation(ctx, v, o.inbox.ID, "", "")
		if err != nil || created || again.ID != conv.ID {
			t.Fatalf("got %v created=%v err=%v", again, created, err)
		}
	})
	t.Run("outsider sees nothing", func(t *testing.T) {
		if _, err := o.svc.Conversation(ctx, o.outsider, conv.ID); sb.ErrorCode(err) != sb.ENOTFOUND {
			t.Fatalf("got %v", err)
		}
		if _, err := o.svc.Take(ctx, o.outsider, conv.ID); sb.ErrorCode(err) != sb.ENOTFOUND {
			t.Fatalf("take: got %v", err)
		}
		list, err := o.svc.Conversations(ctx, o.outsider, app.ListFilter{})
		if err != nil || len(list) != 0 {
			t.Fatalf("list: %v %v", list, err)
		}
	})
	t.Run("another visitor sees nothing", func(t *testing.T) {
		v2 := o.visitor(t)
		if _, err := o.svc.Messages(ctx, v2, conv.ID, sb.ThreadPublic, 0, 10); sb.ErrorCode(err) != sb.ENOTFOUND {
			t.Fatalf("got %v", err)
		}
		if _, _, err := o.svc.SendMessage(ctx, v2, conv.ID, sb.ThreadPublic, "hi", ""); sb.ErrorCode(err) != sb.ENOTFOUND {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("supervisor cannot write to the customer", func(t *testing.T) {
		if _, _, err := o.svc.SendMessage(ctx, o.super, conv.ID, sb.ThreadPublic, "hi", ""); sb.ErrorCode(err) != sb.EFORBIDDEN {
			t.Fatalf("got %v", err)
		}
		if _, _, err := o.svc.SendMessage(ctx, o.super, conv.ID, sb.ThreadComment, "@alice please check", ""); err != nil {
			t.Fatalf("comment: %v", err)
		}
	})
	t.Run("visitor cannot read the internal thread", func(t *testing.T) {
		if _, err := o.svc.Messages(ctx, v, conv.ID, sb.ThreadComment, 0, 10); sb.ErrorCode(err) != sb.ENOTFOUND {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("agent takes, replies once per client id, ends", func(t *testing.T) {
		if _, err := o.svc.Take(ctx, o.agent, conv.ID); err != nil {
			t.Fatal(err)
		}
		m1, created1, err := o.svc.SendMessage(ctx, o.agent, conv.ID, sb.ThreadPublic, "Hi, Alice here", "a1")
		m2, created2, err2 := o.svc.SendMessage(ctx, o.agent, conv.ID, sb.ThreadPublic, "Hi, Alice here", "a1")
		if err != nil || err2 != nil || !created1 || created2 || m1.ID != m2.ID {
			t.Fatalf("dedupe: %v %v %v %v", created1, created2, err, err2)
		}
		u, _ := o.db.User(ctx, o.agent.UserID)
		if u.ActiveChats != 1 {
			t.Fatalf("active chats = %d, want 1", u.ActiveChats)
		}
		if _, err := o.svc.EndConversation(ctx, v, conv.ID); err != nil {
			t.Fatal(err)
		}
		u, _ = o.db.User(ctx, o.agent.UserID)
		if u.ActiveChats != 0 {
			t.Fatalf("active chats after end = %d, want 0", u.ActiveChats)
		}
		if _, _, err := o.svc.SendMessage(ctx, v, conv.ID, sb.ThreadPublic, "more", ""); sb.ErrorCode(err) != sb.ECONFLICT {
			t.Fatalf("send after end: %v", err)
		}
	})
	t.Run("mention notifies", func(t *testing.T) {
		events, err := o.db.EventsAfter(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range events {
			if e.Type == sb.EventNotification && e.UserID == o.agent.UserID {
				found = true
			}
		}
		if !found {
			t.Fatal("no mention notification for alice")
		}
	})
}

func TestTakeHoldsTheChatLimit(t *testing.T) {
	ctx := context.Background()
	o := newOrg(t)
	for i := range 3 {
		v := o.visitor(t)
		conv, _, _, err := o.svc.StartConversation(ctx, v, o.inbox.ID, fmt.Sprintf("chat %d", i), "")
		if err != nil {
			t.Fatal(err)
		}
		_, err = o.svc.Take(ctx, o.agent, conv.ID)
		if i < 2 && err != nil {
			t.Fatalf("take %d: %v", i, err)
		}
		if i == 2 && sb.ErrorCode(err) != sb.ECONFLICT {
			t.Fatalf("third take over a limit of 2: got %v, want conflict", err)
		}
	}
}

func TestCreateLinkedTicket(t *testing.T) {
	ctx := context.Background()
	o := newOrg(t)
	v := o.visitor(t)
	if _, err := o.svc.UpdateVisitorContact(ctx, v, "Carol", "carol@example.com"); err != nil {
		t.Fatal(err)
	}
	conv, _, _, err := o.svc.StartConversation(ctx, v, o.inbox.ID, "My order never came", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.svc.CreateLinkedTicket(ctx, o.outsider, conv.ID); sb.ErrorCode(err) != sb.ENOTFOUND {
		t.Fatalf("outsider: got %v, want not found", err)
	}
	if _, err := o.svc.CreateLinkedTicket(ctx, v, conv.ID); sb.ErrorCode(err) != sb.ENOTFOUND {
		t.Fatalf("visitor: got %v, want not found", err)
	}
	ticket, err := o.svc.CreateLinkedTicket(ctx, o.agent, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ticket.ParentID == nil || *ticket.ParentID != conv.ID || ticket.Ticket != sb.TicketUnassigned ||
		ticket.ContactID != conv.ContactID || ticket.InboxID != conv.InboxID || ticket.Subject != "From chat #1 with Carol <carol@example.com>" {
		t.Fatalf("ticket %+v", ticket)
	}
	internal, err := o.svc.Messages(ctx, o.agent, conv.ID, sb.ThreadInternal, 0, 10)
	if err != nil || len(internal) != 1 || internal[0].Sender != sb.SenderSystem {
		t.Fatalf("internal thread during the chat: %v %v", internal, err)
	}
	// After the chat ended, a linked ticket posts nothing to the thread (C9).
	if _, err := o.svc.EndConversation(ctx, v, conv.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := o.svc.CreateLinkedTicket(ctx, o.agent, conv.ID); err != nil {
		t.Fatal(err)
	}
	internal, _ = o.svc.Messages(ctx, o.agent, conv.ID, sb.ThreadInternal, 0, 10)
	if len(internal) != 1 {
		t.Fatalf("internal thread after the chat: %d messages, want 1", len(internal))
	}
	// The live chat of the same customer is still possible next to the tickets.
	if _, _, created, err := o.svc.StartConversation(ctx, v, o.inbox.ID, "Another question", ""); err != nil || !created {
		t.Fatalf("new chat beside the tickets: created=%v err=%v", created, err)
	}
}
