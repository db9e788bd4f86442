package app_test

import (
	"context"
	"strings"
	"testing"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/store"
)

// teamFixture is a small organisation on a real SQLite store: two inboxes, their
// agents, a supervisor of the first, an admin, and a customer who wrote to
// both inboxes.
type teamFixture struct {
	svc             *app.Service
	db              *store.DB
	sales, support  *sb.Inbox
	customer        *sb.Contact
	visitor         *sb.Visitor
	salesChat       *sb.Conversation
	supportChat     *sb.Conversation
	agent, outsider *sb.Principal // an agent of sales; an agent of support only
	supervisor      *sb.Principal // supervisor of sales
	admin           *sb.Principal // member of nothing, sees everything
	customerP       *sb.Principal // the customer, as a widget visitor
}

func newTeamFixture(t *testing.T) *teamFixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	o := &teamFixture{
		db:       db,
		svc:      app.New(db, nil, nil, nil, app.Config{}),
		sales:    &sb.Inbox{Name: "Sales", Settings: sb.DefaultInboxSettings()},
		support:  &sb.Inbox{Name: "Support", Settings: sb.DefaultInboxSettings()},
		customer: &sb.Contact{Name: "Carol", Email: "carol@example.com"},
	}
	users := map[string]*sb.User{}
	err = db.Write(ctx, func(tx *store.Tx) error {
		for _, in := range []*sb.Inbox{o.sales, o.support} {
			if err := tx.CreateInbox(in); err != nil {
				return err
			}
		}
		for _, u := range []*sb.User{
			{Email: "alice@example.com", Name: "Alice", Role: sb.RoleAgent, Operator: true},
			{Email: "oscar@example.com", Name: "Oscar", Role: sb.RoleAgent, Operator: true},
			{Email: "sue@example.com", Name: "Sue", Role: sb.RoleSupervisor},
			{Email: "adam@example.com", Name: "Adam", Role: sb.RoleAdmin},
		} {
			if err := tx.CreateUser(u, ""); err != nil {
				return err
			}
			users[u.Name] = u
		}
		if err := tx.CreateContact(o.customer); err != nil {
			return err
		}
		o.visitor = &sb.Visitor{ContactID: o.customer.ID, TokenHash: []byte("carol's token hash")}
		if err := tx.CreateVisitor(o.visitor); err != nil {
			return err
		}
		o.salesChat = &sb.Conversation{InboxID: o.sales.ID, ContactID: o.customer.ID}
		if _, err := tx.CreateConversation(o.salesChat, nil); err != nil {
			return err
		}
		o.supportChat = &sb.Conversation{InboxID: o.support.ID, ContactID: o.customer.ID, Channel: sb.ChannelSMS}
		_, err := tx.CreateConversation(o.supportChat, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	o.agent = &sb.Principal{UserID: users["Alice"].ID, Name: "Alice", Role: sb.RoleAgent, Operator: true, InboxIDs: []int64{o.sales.ID}}
	o.outsider = &sb.Principal{UserID: users["Oscar"].ID, Name: "Oscar", Role: sb.RoleAgent, Operator: true, InboxIDs: []int64{o.support.ID}}
	o.supervisor = &sb.Principal{UserID: users["Sue"].ID, Name: "Sue", Role: sb.RoleSupervisor, InboxIDs: []int64{o.sales.ID}}
	o.admin = &sb.Principal{UserID: users["Adam"].ID, Name: "Adam", Role: sb.RoleAdmin}
	o.customerP = &sb.Principal{VisitorID: o.visitor.ID, ContactID: o.customer.ID}
	return o
}

// wantErrCode fails the test unless err has the given code.
func wantErrCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := sb.ErrorCode(err); got != code {
		t.Fatalf("code %q, want %q (%v)", got, code, err)
	}
}

func TestNotesAuthorisation(t *testing.T) {
	ctx := context.Background()
	o := newTeamFixture(t)
	note, err := o.svc.AddNote(ctx, o.agent, o.salesChat.ID, "Prefers e-mail.")
	if err != nil {
		t.Fatal(err)
	}
	if note.AuthorID != o.agent.UserID || note.ConversationID != o.salesChat.ID {
		t.Fatalf("note %+v", note)
	}
	t.Run("staff of the inbox and admins read them", func(t *testing.T) {
		for _, p := range []*sb.Principal{o.agent, o.supervisor, o.admin} {
			got, err := o.svc.Notes(ctx, p, o.salesChat.ID)
			if err != nil || len(got) != 1 || got[0].Body != "Prefers e-mail." {
				t.Fatalf("%s: got %+v, %v", p.Name, got, err)
			}
		}
	})
	t.Run("agent outside the inbox gets not found", func(t *testing.T) {
		_, err := o.svc.Notes(ctx, o.outsider, o.salesChat.ID)
		wantErrCode(t, err, sb.ENOTFOUND)
		_, err = o.svc.AddNote(ctx, o.outsider, o.salesChat.ID, "sneaky")
		wantErrCode(t, err, sb.ENOTFOUND)
	})
	t.Run("the customer never sees them", func(t *testing.T) {
		_, err := o.svc.Notes(ctx, o.customerP, o.salesChat.ID)
		wantErrCode(t, err, sb.ENOTFOUND)
		_, err = o.svc.AddNote(ctx, o.customerP, o.salesChat.ID, "hi")
		wantErrCode(t, err, sb.ENOTFOUND)
	})
	t.Run("unknown conversation is not found", func(t *testing.T) {
		_, err := o.svc.AddNote(ctx, o.admin, 9999, "x")
		wantErrCode(t, err, sb.ENOTFOUND)
	})
	t.Run("empty note is invalid", func(t *testing.T) {
		_, err := o.svc.AddNote(ctx, o.agent, o.salesChat.ID, " ")
		wantErrCode(t, err, sb.EINVALID)
	})
}

func TestCategoriesAuthorisation(t *testing.T) {
	ctx := context.Background()
	o := newTeamFixture(t)
	t.Run("only admins create", func(t *testing.T) {
		_, err := o.svc.CreateCategory(ctx, o.supervisor, "Billing")
		wantErrCode(t, err, sb.EFORBIDDEN)
	})
	c, err := o.svc.CreateCategory(ctx, o.admin, "Billing")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("staff list them", func(t *testing.T) {
		got, err := o.svc.Categories(ctx, o.agent)
		if err != nil || len(got) != 1 || got[0] != *c {
			t.Fatalf("got %+v, %v", got, err)
		}
		_, err = o.svc.Categories(ctx, o.customerP)
		wantErrCode(t, err, sb.EFORBIDDEN)
	})
	t.Run("duplicate is a conflict", func(t *testing.T) {
		_, err := o.svc.CreateCategory(ctx, o.admin, "Billing")
		wantErrCode(t, err, sb.ECONFLICT)
	})
	t.Run("only admins delete", func(t *testing.T) {
		wantErrCode(t, o.svc.DeleteCategory(ctx, o.agent, c.ID), sb.EFORBIDDEN)
		if err := o.svc.DeleteCategory(ctx, o.admin, c.ID); err != nil {
			t.Fatal(err)
		}
		wantErrCode(t, o.svc.DeleteCategory(ctx, o.admin, c.ID), sb.ENOTFOUND)
	})
}

func TestCannedResponsesAuthorisation(t *testing.T) {
	ctx := context.Background()
	o := newTeamFixture(t)
	greeting := sb.CannedResponse{Shortcut: "hello", Title: "Greeting", Body: "Hello! How can I help?"}
	t.Run("agent cannot create organisation-wide ones", func(t *testing.T) {
		_, err := o.svc.CreateCannedResponse(ctx, o.agent, greeting, false)
		wantErrCode(t, err, sb.EFORBIDDEN)
	})
	orgWide, err := o.svc.CreateCannedResponse(ctx, o.supervisor, greeting, false)
	if err != nil {
		t.Fatalf("supervisor creates an organisation-wide response: %v", err)
	}
	if orgWide.OwnerID != nil {
		t.Fatalf("organisation-wide response owned by %d", *orgWide.OwnerID)
	}
	mine, err := o.svc.CreateCannedResponse(ctx, o.agent, sb.CannedResponse{Shortcut: "/sig", Body: "— Alice"}, true)
	if err != nil {
		t.Fatalf("agent creates a personal response: %v", err)
	}
	if mine.OwnerID == nil || *mine.OwnerID != o.agent.UserID || mine.Shortcut != "sig" {
		t.Fatalf("personal response %+v", mine)
	}
	shortcuts := func(p *sb.Principal) string {
		t.Helper()
		got, err := o.svc.CannedResponses(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, c := range got {
			s = append(s, c.Shortcut)
		}
		return strings.Join(s, ",")
	}
	t.Run("personal responses are invisible to others", func(t *testing.T) {
		if got, want := shortcuts(o.agent), "hello,sig"; got != want {
			t.Fatalf("owner sees %q, want %q", got, want)
		}
		for _, p := range []*sb.Principal{o.outsider, o.supervisor, o.admin} {
			if got, want := shortcuts(p), "hello"; got != want {
				t.Fatalf("%s sees %q, want %q", p.Name, got, want)
			}
		}
	})
	t.Run("someone else's personal one is not found", func(t *testing.T) {
		for _, p := range []*sb.Principal{o.outsider, o.admin} {
			_, err := o.svc.UpdateCannedResponse(ctx, p, mine.ID, sb.CannedResponse{Shortcut: "sig", Body: "hijacked"})
			wantErrCode(t, err, sb.ENOTFOUND)
			wantErrCode(t, o.svc.DeleteCannedResponse(ctx, p, mine.ID), sb.ENOTFOUND)
		}
	})
	t.Run("the owner edits their own", func(t *testing.T) {
		got, err := o.svc.UpdateCannedResponse(ctx, o.agent, mine.ID, sb.CannedResponse{Shortcut: "sig", Body: "Best, Alice"})
		if err != nil || got.Body != "Best, Alice" || got.OwnerID == nil || *got.OwnerID != o.agent.UserID {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("agent cannot change organisation-wide ones", func(t *testing.T) {
		_, err := o.svc.UpdateCannedResponse(ctx, o.agent, orgWide.ID, greeting)
		wantErrCode(t, err, sb.EFORBIDDEN)
		wantErrCode(t, o.svc.DeleteCannedResponse(ctx, o.agent, orgWide.ID), sb.EFORBIDDEN)
	})
	t.Run("duplicate organisation shortcut is a conflict", func(t *testing.T) {
		_, err := o.svc.CreateCannedResponse(ctx, o.admin, greeting, false)
		wantErrCode(t, err, sb.ECONFLICT)
	})
	t.Run("supervisor deletes organisation-wide ones", func(t *testing.T) {
		if err := o.svc.DeleteCannedResponse(ctx, o.supervisor, orgWide.ID); err != nil {
			t.Fatal(err)
		}
		if got := shortcuts(o.agent); got != "sig" {
			t.Fatalf("after delete the agent sees %q", got)
		}
	})
	t.Run("visitors have none", func(t *testing.T) {
		_, err := o.svc.CannedResponses(ctx, o.customerP)
		wantErrCode(t, err, sb.EFORBIDDEN)
	})
}

func TestBlocksAuthorisation(t *testing.T) {
	ctx := context.Background()
	o := newTeamFixture(t)
	blocked := func() bool {
		t.Helper()
		var got bool
		err := o.db.Write(ctx, func(tx *store.Tx) error {
			var err error
			got, err = tx.Blocked(o.customer, 0)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	t.Run("reason longer than 250 characters is refused", func(t *testing.T) {
		_, err := o.svc.BlockFromConversation(ctx, o.agent, o.salesChat.ID, sb.BlockEmail, strings.Repeat("é", 251))
		wantErrCode(t, err, sb.EINVALID)
		if blocked() {
			t.Fatal("a refused block was stored")
		}
	})
	t.Run("agent outside the inbox gets not found", func(t *testing.T) {
		_, err := o.svc.BlockFromConversation(ctx, o.outsider, o.salesChat.ID, sb.BlockEmail, "")
		wantErrCode(t, err, sb.ENOTFOUND)
		_, err = o.svc.BlockFromConversation(ctx, o.customerP, o.salesChat.ID, sb.BlockEmail, "")
		wantErrCode(t, err, sb.ENOTFOUND)
	})
	t.Run("a value the customer lacks is invalid", func(t *testing.T) {
		_, err := o.svc.BlockFromConversation(ctx, o.agent, o.salesChat.ID, sb.BlockPhone, "")
		wantErrCode(t, err, sb.EINVALID)
		_, err = o.svc.BlockFromConversation(ctx, o.agent, o.salesChat.ID, "ip", "")
		wantErrCode(t, err, sb.EINVALID)
	})
	var byEmail *sb.Block
	t.Run("block from conversation blocks the e-mail", func(t *testing.T) {
		var err error
		byEmail, err = o.svc.BlockFromConversation(ctx, o.agent, o.salesChat.ID, sb.BlockEmail, strings.Repeat("é", 250))
		if err != nil {
			t.Fatal(err)
		}
		if byEmail.Kind != sb.BlockEmail || byEmail.Value != "carol@example.com" || byEmail.CreatedBy != o.agent.UserID {
			t.Fatalf("block %+v", byEmail)
		}
		if !blocked() {
			t.Fatal("the customer's e-mail is not blocked")
		}
		c, err := o.db.Conversation(ctx, o.salesChat.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Status.Live() {
			t.Fatalf("the ongoing chat became %s; a block must not end it", c.Status)
		}
		_, err = o.svc.BlockFromConversation(ctx, o.agent, o.salesChat.ID, sb.BlockEmail, "")
		wantErrCode(t, err, sb.ECONFLICT)
	})
	t.Run("block from conversation blocks the widget visitor", func(t *testing.T) {
		b, err := o.svc.BlockFromConversation(ctx, o.agent, o.salesChat.ID, sb.BlockVisitor, "")
		if err != nil {
			t.Fatal(err)
		}
		var got bool
		err = o.db.Write(ctx, func(tx *store.Tx) error {
			got, err = tx.Blocked(nil, o.visitor.ID)
			return err
		})
		if err != nil || !got || b.Kind != sb.BlockVisitor {
			t.Fatalf("visitor blocked = %v, %v (block %+v)", got, err, b)
		}
	})
	t.Run("only supervisors list, create and lift blocks", func(t *testing.T) {
		_, err := o.svc.Blocks(ctx, o.agent)
		wantErrCode(t, err, sb.EFORBIDDEN)
		_, err = o.svc.CreateBlock(ctx, o.agent, sb.Block{Kind: sb.BlockPhone, Value: "+15550100"})
		wantErrCode(t, err, sb.EFORBIDDEN)
		wantErrCode(t, o.svc.DeleteBlock(ctx, o.agent, byEmail.ID), sb.EFORBIDDEN)

		phone, err := o.svc.CreateBlock(ctx, o.supervisor, sb.Block{Kind: sb.BlockPhone, Value: "+15550100", Reason: "abuse", CreatedBy: 12345})
		if err != nil {
			t.Fatal(err)
		}
		if phone.CreatedBy != o.supervisor.UserID {
			t.Fatalf("created by %d, want the caller %d", phone.CreatedBy, o.supervisor.UserID)
		}
		list, err := o.svc.Blocks(ctx, o.supervisor)
		if err != nil || len(list) != 3 {
			t.Fatalf("got %+v, %v", list, err)
		}
		if err := o.svc.DeleteBlock(ctx, o.supervisor, byEmail.ID); err != nil {
			t.Fatal(err)
		}
		if blocked() {
			t.Fatal("still blocked after the block was lifted")
		}
	})
}

func TestContactsAuthorisation(t *testing.T) {
	ctx := context.Background()
	o := newTeamFixture(t)
	var stranger sb.Contact
	if err := o.db.Write(ctx, func(tx *store.Tx) error { return tx.CreateContact(&stranger) }); err != nil {
		t.Fatal(err)
	}
	t.Run("staff who see one of the contact's conversations see the contact", func(t *testing.T) {
		for _, p := range []*sb.Principal{o.agent, o.outsider, o.admin} {
			got, err := o.svc.Contact(ctx, p, o.customer.ID)
			if err != nil || got.Email != "carol@example.com" {
				t.Fatalf("%s: got %+v, %v", p.Name, got, err)
			}
		}
	})
	t.Run("a contact without a visible conversation is not found", func(t *testing.T) {
		_, err := o.svc.Contact(ctx, o.agent, stranger.ID)
		wantErrCode(t, err, sb.ENOTFOUND)
		_, err = o.svc.ContactConversations(ctx, o.agent, stranger.ID)
		wantErrCode(t, err, sb.ENOTFOUND)
		_, err = o.svc.Contact(ctx, o.customerP, o.customer.ID)
		wantErrCode(t, err, sb.ENOTFOUND)
		_, err = o.svc.Contact(ctx, o.admin, 9999)
		wantErrCode(t, err, sb.ENOTFOUND)
	})
	t.Run("the journey is limited to the inboxes the caller sees", func(t *testing.T) {
		cases := []struct {
			p    *sb.Principal
			want []int64
		}{
			{o.agent, []int64{o.salesChat.ID}},
			{o.outsider, []int64{o.supportChat.ID}},
			{o.admin, []int64{o.supportChat.ID, o.salesChat.ID}},
		}
		for _, c := range cases {
			got, err := o.svc.ContactConversations(ctx, c.p, o.customer.ID)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, conv := range got {
				ids = append(ids, conv.ID)
			}
			if len(ids) != len(c.want) || ids[0] != c.want[0] || (len(ids) > 1 && ids[1] != c.want[1]) {
				t.Fatalf("%s: got %v, want %v", c.p.Name, ids, c.want)
			}
		}
	})
}
