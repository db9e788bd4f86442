package browsertest

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/client"
	"github.com/switchboard/switchboard/store"
)

// TestScreenshot sets up the README's picture of the workspace at
// 1280×800 (an agent in a chat, her list, a new offer, and the chat's
// details) and checks that it renders; with SWITCHBOARD_SCREENSHOT=1 it
// also writes it to docs/screenshot.png:
//
//	SWITCHBOARD_SCREENSHOT=1 go test ./web/browsertest -run TestScreenshot
func TestScreenshot(t *testing.T) {
	draw := os.Getenv("SWITCHBOARD_SCREENSHOT") != ""
	o := newOrg(t)
	h := newHarness(t, o.env)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	o.write(t, func(tx *store.Tx) error {
		in, err := tx.Inbox(o.inbox.ID)
		if err != nil {
			return err
		}
		in.Name = "Acme web chat"
		if err := tx.UpdateInbox(in); err != nil {
			return err
		}
		for _, name := range []string{"Billing", "Shipping", "Account"} {
			if err := tx.CreateCategory(&sb.Category{Name: name}); err != nil {
				return err
			}
		}
		a, err := tx.User(o.alice.ID)
		if err != nil {
			return err
		}
		a.ChatLimit = 5
		return tx.UpdateUser(a)
	})
	o.online(t, o.alice)
	alice := o.env.SessionClient(t, o.alice)
	bob := o.env.SessionClient(t, o.bob)

	type customer struct {
		name, email, first string
		v                  *client.Client
		c                  *sb.Conversation
	}
	people := []*customer{
		{name: "Maria Garcia", email: "maria@example.com", first: "Hi, I was charged twice for my March invoice. Can you help?"},
		{name: "Jonas Becker", email: "jonas@example.org", first: "Is the Pro plan billed per seat or per workspace?"},
		{name: "Priya Natarajan", email: "priya@example.net", first: "My export to CSV stops at 10,000 rows."},
		{name: "Chen Wei", email: "chen@example.com", first: "Can I change the e-mail address on my account?"},
	}
	for i, p := range people {
		p.v = o.env.VisitorClient(t, o.inbox.ID)
		_, err := p.v.UpdateVisitor(ctx, p.name, p.email)
		must(err)
		if i == 0 {
			// Maria wrote once before: her earlier chat shows above this one.
			old, _, _, err := p.v.StartConversation(ctx, o.inbox.ID, "How do I download my invoices?", "")
			must(err)
			o.assigned(t, old, o.alice)
			_, _, err = alice.SendMessage(ctx, old.ID, sb.ThreadPublic, "Under **Settings → Billing → Invoices**, each one has a PDF link.", "")
			must(err)
			_, err = alice.End(ctx, old.ID)
			must(err)
		}
		p.c, _, _, err = p.v.StartConversation(ctx, o.inbox.ID, p.first, "")
		must(err)
		o.assigned(t, p.c, o.alice)
	}
	say := func(c *sb.Conversation, body string) {
		_, _, err := alice.SendMessage(ctx, c.ID, sb.ThreadPublic, body, "")
		must(err)
	}
	hear := func(p *customer, body string) {
		_, _, err := p.v.VisitorSend(ctx, p.c.ID, body, "")
		must(err)
	}
	maria := people[0]
	say(maria.c, "Hi Maria! I'm sorry about that — let me look at your invoices.")
	hear(maria, "Thanks. It's invoice **INV-2031**, paid on 3 March.")
	say(maria.c, "I can see two charges:\n- 3 March, €49.00\n- 3 March, €49.00\nI'll refund the second one now.")
	hear(maria, "Great, how long will the refund take?")
	say(maria.c, "Refunds reach your card in **3–5 business days**. You'll get an e-mail as soon as it's on its way.")
	hear(maria, "Perfect, thank you so much!")
	say(people[1].c, "Hi Jonas, the Pro plan is billed per seat: https://example.com/pricing")
	hear(people[1], "And can I move seats between teams?")
	hear(people[2], "It happens with every report, even small ones.")
	_, err := alice.AddNote(ctx, maria.c.ID, "VIP customer since 2021 — handle refunds quickly.")
	must(err)
	_, _, err = alice.SendMessage(ctx, maria.c.ID, sb.ThreadInternal, "@bob do refunds of duplicate charges need approval?", "")
	must(err)
	_, _, err = bob.SendMessage(ctx, maria.c.ID, sb.ThreadInternal, "@alice no approval needed under €100.", "")
	must(err)
	cats, err := o.env.DB.Categories(ctx)
	must(err)
	for _, c := range cats {
		if c.Name == "Billing" {
			_, err = alice.Do(ctx, "PATCH", "/api/v1/conversations/"+itoa(maria.c.ID), map[string]any{"category_id": c.ID}, nil)
			must(err)
		}
	}

	tab := h.open("alice")
	tab.signIn(o.alice)
	tab.goTo("/app/c/" + itoa(maria.c.ID))
	// Alice has read Maria's chat and Jonas's; a new customer arrives and is offered to her.
	tab.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#search").blur()`))
	newcomer := o.env.VisitorClient(t, o.inbox.ID)
	_, err = newcomer.UpdateVisitor(ctx, "Fatima Zahra", "fatima@example.com")
	must(err)
	_, _, _, err = newcomer.StartConversation(ctx, o.inbox.ID, "The mobile app logs me out every day.", "")
	must(err)
	tab.wait("the offer", `!!document.querySelector("#offers .offer .offer-text") && !document.querySelector("#offers .offer .offer-text").textContent.startsWith("…")`)
	if draw {
		time.Sleep(1500 * time.Millisecond) // the countdown ticks into a round number, for the picture only
	}
	buf, err := chromedp.Run(tab.ctx, chromedp.CaptureScreenshot())
	must(err)
	cfg, err := png.DecodeConfig(bytes.NewReader(buf))
	if err != nil || cfg.Width != 1280 || cfg.Height != 800 {
		t.Fatalf("screenshot: %dx%d (%v), want a 1280x800 PNG", cfg.Width, cfg.Height, err)
	}
	if !draw {
		return
	}
	out := filepath.Join("..", "..", "docs", "screenshot.png")
	must(os.WriteFile(out, buf, 0o644))
	t.Logf("wrote %s", out)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
