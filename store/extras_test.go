package store_test

import (
	"context"
	"encoding/json"
	"testing"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// startConversation opens a conversation of contactID in inboxID.
func startConversation(t testing.TB, db *store.DB, inboxID, contactID int64) *sb.Conversation {
	t.Helper()
	c := &sb.Conversation{InboxID: inboxID, ContactID: contactID}
	write(t, db, func(tx *store.Tx) error {
		_, err := tx.CreateConversation(c, nil)
		return err
	})
	return c
}

// endConversation ends a conversation, so that the contact may start another.
func endConversation(t testing.TB, db *store.DB, id int64) {
	t.Helper()
	ended := sb.StatusEnded
	write(t, db, func(tx *store.Tx) error {
		c, err := tx.Conversation(id)
		if err != nil {
			return err
		}
		return tx.ChangeConversation(c, store.ConversationChange{Status: &ended, EndedBy: "agent"})
	})
}

// wantCode fails the test unless err has the given code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := sb.ErrorCode(err); got != code {
		t.Fatalf("code %q, want %q (%v)", got, code, err)
	}
}

func TestNotes(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		conv := startConversation(t, db, f.inbox.ID, f.contact.ID)
		_, before, err := db.EventBounds(ctx)
		if err != nil {
			t.Fatal(err)
		}
		note := &sb.Note{AuthorID: f.agent.ID, Body: "Asked for a refund last week."}
		write(t, db, func(tx *store.Tx) error {
			c, err := tx.Conversation(conv.ID)
			if err != nil {
				return err
			}
			return tx.CreateNote(c, note)
		})
		t.Run("read back in order", func(t *testing.T) {
			write(t, db, func(tx *store.Tx) error {
				return tx.CreateNote(conv, &sb.Note{AuthorID: f.agent.ID, Body: "second"})
			})
			got, err := db.Notes(ctx, conv.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].ID != note.ID || got[0].Body != note.Body || got[0].AuthorID != f.agent.ID ||
				got[0].ConversationID != conv.ID || !got[0].CreatedAt.Equal(note.CreatedAt) || got[1].Body != "second" {
				t.Fatalf("got %+v", got)
			}
		})
		t.Run("announced to the staff of the inbox", func(t *testing.T) {
			events, err := db.EventsAfter(ctx, before, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(events) == 0 {
				t.Fatal("no event")
			}
			e := events[0]
			if e.Type != "note" || e.Audience != sb.AudienceStaff || e.InboxID != f.inbox.ID || e.ConversationID != conv.ID {
				t.Fatalf("event %+v", e)
			}
			var n sb.Note
			if err := json.Unmarshal(e.Data, &n); err != nil || n.ID != note.ID {
				t.Fatalf("event data %s (%v)", e.Data, err)
			}
		})
		t.Run("empty body is invalid", func(t *testing.T) {
			wantCode(t, db.Write(ctx, func(tx *store.Tx) error {
				return tx.CreateNote(conv, &sb.Note{AuthorID: f.agent.ID, Body: "  "})
			}), sb.EINVALID)
		})
		t.Run("unknown author is not found", func(t *testing.T) {
			wantCode(t, db.Write(ctx, func(tx *store.Tx) error {
				return tx.CreateNote(conv, &sb.Note{AuthorID: 9999, Body: "x"})
			}), sb.ENOTFOUND)
		})
		t.Run("a conversation without notes has an empty list", func(t *testing.T) {
			got, err := db.Notes(ctx, 9999)
			if err != nil || got == nil || len(got) != 0 {
				t.Fatalf("got %v, %v; want an empty list", got, err)
			}
		})
	})
}

func TestCategories(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		billing, sales := &sb.Category{Name: " Billing "}, &sb.Category{Name: "Sales"}
		write(t, db, func(tx *store.Tx) error {
			if err := tx.CreateCategory(sales); err != nil {
				return err
			}
			return tx.CreateCategory(billing)
		})
		t.Run("listed by name", func(t *testing.T) {
			got, err := db.Categories(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0] != (sb.Category{ID: billing.ID, Name: "Billing"}) || got[1].ID != sales.ID {
				t.Fatalf("got %+v", got)
			}
		})
		t.Run("duplicate name is a conflict", func(t *testing.T) {
			wantCode(t, db.Write(ctx, func(tx *store.Tx) error { return tx.CreateCategory(&sb.Category{Name: "Billing"}) }), sb.ECONFLICT)
		})
		t.Run("empty name is invalid", func(t *testing.T) {
			wantCode(t, db.Write(ctx, func(tx *store.Tx) error { return tx.CreateCategory(&sb.Category{Name: " "}) }), sb.EINVALID)
		})
		t.Run("read by id", func(t *testing.T) {
			got, err := db.Category(ctx, billing.ID)
			if err != nil || got.Name != "Billing" {
				t.Fatalf("got %+v, %v", got, err)
			}
			_, err = db.Category(ctx, 9999)
			wantCode(t, err, sb.ENOTFOUND)
		})
		t.Run("deleting clears it from conversations", func(t *testing.T) {
			conv := startConversation(t, db, f.inbox.ID, f.contact.ID)
			cat := &billing.ID
			write(t, db, func(tx *store.Tx) error {
				c, err := tx.Conversation(conv.ID)
				if err != nil {
					return err
				}
				return tx.ChangeConversation(c, store.ConversationChange{CategoryID: &cat})
			})
			write(t, db, func(tx *store.Tx) error { return tx.DeleteCategory(billing.ID) })
			got, err := db.Conversation(ctx, conv.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.CategoryID != nil {
				t.Fatalf("category_id = %d, want none", *got.CategoryID)
			}
			_, err = db.Category(ctx, billing.ID)
			wantCode(t, err, sb.ENOTFOUND)
			wantCode(t, db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteCategory(billing.ID) }), sb.ENOTFOUND)
		})
	})
}

func TestCannedResponses(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		bob := &sb.User{Email: "bob@example.com", Name: "Bob", Role: sb.RoleAgent}
		write(t, db, func(tx *store.Tx) error { return tx.CreateUser(bob, "") })
		create := func(owner *int64, shortcut string) (*sb.CannedResponse, error) {
			c := &sb.CannedResponse{OwnerID: owner, Shortcut: shortcut, Title: shortcut, Body: "Body of " + shortcut}
			return c, db.Write(ctx, func(tx *store.Tx) error { return tx.CreateCannedResponse(c) })
		}
		mustCreate := func(owner *int64, shortcut string) *sb.CannedResponse {
			t.Helper()
			c, err := create(owner, shortcut)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		orgHello := mustCreate(nil, "/hello")
		orgBye := mustCreate(nil, "bye")
		aliceHello := mustCreate(&f.agent.ID, "hello")
		bobThanks := mustCreate(&bob.ID, "thanks")

		t.Run("shortcut unique among organisation-wide ones", func(t *testing.T) {
			_, err := create(nil, "hello")
			wantCode(t, err, sb.ECONFLICT)
		})
		t.Run("shortcut unique per owner", func(t *testing.T) {
			_, err := create(&f.agent.ID, "hello")
			wantCode(t, err, sb.ECONFLICT)
			if _, err := create(&bob.ID, "hello"); err != nil {
				t.Fatalf("another user's personal shortcut: %v", err)
			}
		})
		t.Run("a user sees the organisation's and their own", func(t *testing.T) {
			got, err := db.CannedResponses(ctx, f.agent.ID)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, c := range got {
				ids = append(ids, c.ID)
			}
			want := []int64{orgBye.ID, aliceHello.ID, orgHello.ID}
			if len(ids) != len(want) || ids[0] != want[0] || ids[1] != want[1] || ids[2] != want[2] {
				t.Fatalf("got ids %v, want %v", ids, want)
			}
			if got[1].OwnerID == nil || *got[1].OwnerID != f.agent.ID || got[2].OwnerID != nil || got[1].Body != "Body of hello" {
				t.Fatalf("got %+v", got)
			}
		})
		t.Run("update keeps the owner and checks the shortcut", func(t *testing.T) {
			c := *bobThanks
			c.Shortcut, c.Body = "ty", "Thank you!"
			write(t, db, func(tx *store.Tx) error { return tx.UpdateCannedResponse(&c) })
			got, err := db.CannedResponse(ctx, bobThanks.ID)
			if err != nil || got.Shortcut != "ty" || got.Body != "Thank you!" || got.OwnerID == nil || *got.OwnerID != bob.ID {
				t.Fatalf("got %+v, %v", got, err)
			}
			c = *orgBye
			c.Shortcut = "hello"
			wantCode(t, db.Write(ctx, func(tx *store.Tx) error { return tx.UpdateCannedResponse(&c) }), sb.ECONFLICT)
			c.ID, c.Shortcut = 9999, "free"
			wantCode(t, db.Write(ctx, func(tx *store.Tx) error { return tx.UpdateCannedResponse(&c) }), sb.ENOTFOUND)
		})
		t.Run("invalid shortcut", func(t *testing.T) {
			_, err := create(nil, "Hello There")
			wantCode(t, err, sb.EINVALID)
		})
		t.Run("delete", func(t *testing.T) {
			write(t, db, func(tx *store.Tx) error { return tx.DeleteCannedResponse(orgBye.ID) })
			_, err := db.CannedResponse(ctx, orgBye.ID)
			wantCode(t, err, sb.ENOTFOUND)
			wantCode(t, db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteCannedResponse(orgBye.ID) }), sb.ENOTFOUND)
		})
	})
}

func TestBlocks(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		block := func(kind sb.BlockKind, value string) (*sb.Block, error) {
			b := &sb.Block{Kind: kind, Value: value, Reason: "spam", CreatedBy: f.agent.ID}
			return b, db.Write(ctx, func(tx *store.Tx) error { return tx.CreateBlock(b) })
		}
		blocked := func(c *sb.Contact, visitorID int64) bool {
			t.Helper()
			var got bool
			write(t, db, func(tx *store.Tx) error {
				var err error
				got, err = tx.Blocked(c, visitorID)
				return err
			})
			return got
		}
		byEmail, err := block(sb.BlockEmail, " Spammer@Example.com ")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := block(sb.BlockPhone, "+15550100"); err != nil {
			t.Fatal(err)
		}
		if _, err := block(sb.BlockVisitor, "42"); err != nil {
			t.Fatal(err)
		}
		t.Run("same kind and value twice is a conflict", func(t *testing.T) {
			_, err := block(sb.BlockEmail, "spammer@example.com")
			wantCode(t, err, sb.ECONFLICT)
			if msg := sb.ErrorMessage(err); msg != "The e-mail address spammer@example.com is already blocked." {
				t.Fatalf("message %q", msg)
			}
		})
		t.Run("same value of another kind is no conflict", func(t *testing.T) {
			if _, err := block(sb.BlockVisitor, "5550142"); err != nil {
				t.Fatal(err)
			}
			if _, err := block(sb.BlockPhone, "5550142"); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("a phone number is one block however it is written", func(t *testing.T) {
			b, err := block(sb.BlockPhone, "+44 (0)20 7946-0000")
			if err != nil {
				t.Fatal(err)
			}
			if b.Value != "+442079460000" {
				t.Fatalf("stored as %q", b.Value)
			}
			for _, v := range []string{"+442079460000", "0044 20 7946 0000", "+44 20 7946 0000"} {
				_, err := block(sb.BlockPhone, v)
				wantCode(t, err, sb.ECONFLICT)
			}
			for _, v := range []string{"0044 20 7946 0000", "+44.20.7946.0000", "+44 20 7946 0000"} {
				if !blocked(&sb.Contact{Phone: v}, 0) {
					t.Errorf("a sender writing from %q is not blocked", v)
				}
			}
			if blocked(&sb.Contact{Phone: "+44 20 7946 0001"}, 0) {
				t.Error("another number is blocked")
			}
			write(t, db, func(tx *store.Tx) error { return tx.DeleteBlock(b.ID) })
		})
		t.Run("a phone block must be a phone number", func(t *testing.T) {
			for _, v := range []string{"call me", "+44 20 7946 0000 ext 3", "12"} {
				_, err := block(sb.BlockPhone, v)
				wantCode(t, err, sb.EINVALID)
			}
		})
		t.Run("a visitor block needs a visitor id", func(t *testing.T) {
			for _, v := range []string{"abc", "0", "-3", "007"} {
				_, err := block(sb.BlockVisitor, v)
				wantCode(t, err, sb.EINVALID)
			}
		})
		t.Run("matches e-mail, phone and visitor", func(t *testing.T) {
			cases := []struct {
				name    string
				contact *sb.Contact
				visitor int64
				want    bool
			}{
				{"e-mail in another case", &sb.Contact{Email: "SPAMMER@example.com"}, 0, true},
				{"phone", &sb.Contact{Phone: " +15550100"}, 0, true},
				{"visitor", &sb.Contact{}, 42, true},
				{"visitor without a contact", nil, 42, true},
				{"someone else", &sb.Contact{Email: "carol@example.com", Phone: "+15550199"}, 7, false},
				{"nobody", nil, 0, false},
				{"phone block value is not a visitor", nil, 4, false},
			}
			for _, c := range cases {
				if got := blocked(c.contact, c.visitor); got != c.want {
					t.Errorf("%s: blocked = %v, want %v", c.name, got, c.want)
				}
			}
		})
		t.Run("listed newest first", func(t *testing.T) {
			got, err := db.Blocks(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 5 || got[4].ID != byEmail.ID || got[4].Value != "spammer@example.com" || got[4].Reason != "spam" ||
				got[4].CreatedBy != f.agent.ID || !got[4].CreatedAt.Equal(byEmail.CreatedAt) {
				t.Fatalf("got %+v", got)
			}
		})
		t.Run("lifted", func(t *testing.T) {
			write(t, db, func(tx *store.Tx) error { return tx.DeleteBlock(byEmail.ID) })
			if blocked(&sb.Contact{Email: "spammer@example.com"}, 0) {
				t.Fatal("still blocked after the block was lifted")
			}
			wantCode(t, db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteBlock(byEmail.ID) }), sb.ENOTFOUND)
		})
	})
}

func TestAttachments(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		conv := startConversation(t, db, f.inbox.ID, f.contact.ID)
		a := &sb.Attachment{ConversationID: conv.ID, FileName: "invoice.pdf", ContentType: "application/pdf", Size: 1234,
			StorageKey: "0123456789abcdef0123456789abcdef", UploadedBy: sb.SenderCustomer}
		write(t, db, func(tx *store.Tx) error { return tx.CreateAttachment(a) })
		t.Run("read back", func(t *testing.T) {
			got, err := db.Attachment(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if *got != *a {
				t.Fatalf("got %+v, want %+v", got, a)
			}
		})
		t.Run("unknown is not found", func(t *testing.T) {
			_, err := db.Attachment(ctx, 9999)
			wantCode(t, err, sb.ENOTFOUND)
		})
		t.Run("unknown conversation is not found", func(t *testing.T) {
			b := *a
			b.ConversationID, b.StorageKey = 9999, "ffffffffffffffffffffffffffffffff"
			wantCode(t, db.Write(ctx, func(tx *store.Tx) error { return tx.CreateAttachment(&b) }), sb.ENOTFOUND)
		})
		t.Run("storage key used twice is a conflict", func(t *testing.T) {
			b := *a
			wantCode(t, db.Write(ctx, func(tx *store.Tx) error { return tx.CreateAttachment(&b) }), sb.ECONFLICT)
		})
	})
}

func TestContactJourney(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		sms := &sb.Inbox{Name: "SMS", Channel: sb.ChannelSMS, Settings: sb.DefaultInboxSettings()}
		other := &sb.Contact{Name: "Dan"}
		write(t, db, func(tx *store.Tx) error {
			if err := tx.CreateInbox(sms); err != nil {
				return err
			}
			return tx.CreateContact(other)
		})
		first := startConversation(t, db, f.inbox.ID, f.contact.ID)
		endConversation(t, db, first.ID)
		second := startConversation(t, db, sms.ID, f.contact.ID)
		third := startConversation(t, db, f.inbox.ID, f.contact.ID)
		startConversation(t, db, f.inbox.ID, other.ID)

		journey := func(inboxIDs []int64) []int64 {
			t.Helper()
			got, err := db.ContactConversations(ctx, f.contact.ID, inboxIDs)
			if err != nil {
				t.Fatal(err)
			}
			out := []int64{}
			for _, c := range got {
				if c.ContactID != f.contact.ID {
					t.Fatalf("conversation %d of contact %d in the journey", c.ID, c.ContactID)
				}
				out = append(out, c.ID)
			}
			return out
		}
		same := func(a, b []int64) bool {
			if len(a) != len(b) {
				return false
			}
			for i := range a {
				if a[i] != b[i] {
					return false
				}
			}
			return true
		}
		t.Run("every inbox, newest first", func(t *testing.T) {
			if got, want := journey(nil), []int64{third.ID, second.ID, first.ID}; !same(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
		t.Run("limited to inboxes", func(t *testing.T) {
			if got, want := journey([]int64{f.inbox.ID}), []int64{third.ID, first.ID}; !same(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			if got := journey([]int64{}); len(got) != 0 {
				t.Fatalf("no inboxes: got %v", got)
			}
		})
		t.Run("contact visible through its inboxes", func(t *testing.T) {
			for _, c := range []struct {
				inboxes []int64
				want    bool
			}{{nil, true}, {[]int64{sms.ID}, true}, {[]int64{9999}, false}, {[]int64{}, false}} {
				got, err := db.ContactInInboxes(ctx, f.contact.ID, c.inboxes)
				if err != nil || got != c.want {
					t.Errorf("inboxes %v: got %v, %v; want %v", c.inboxes, got, err, c.want)
				}
			}
		})
		t.Run("visitor by contact is the newest", func(t *testing.T) {
			var v1, v2 sb.Visitor
			write(t, db, func(tx *store.Tx) error {
				v1 = sb.Visitor{ContactID: f.contact.ID, TokenHash: []byte("h1")}
				if err := tx.CreateVisitor(&v1); err != nil {
					return err
				}
				v2 = sb.Visitor{ContactID: f.contact.ID, TokenHash: []byte("h2")}
				return tx.CreateVisitor(&v2)
			})
			write(t, db, func(tx *store.Tx) error {
				got, err := tx.VisitorByContact(f.contact.ID)
				if err != nil {
					return err
				}
				if got.ID != v2.ID {
					t.Errorf("got visitor %d, want %d", got.ID, v2.ID)
				}
				_, err = tx.VisitorByContact(other.ID)
				wantCode(t, err, sb.ENOTFOUND)
				return nil
			})
		})
	})
}
