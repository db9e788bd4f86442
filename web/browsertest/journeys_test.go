package browsertest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/client"
	"github.com/switchboard/switchboard/routing"
	"github.com/switchboard/switchboard/store"
	"github.com/switchboard/switchboard/web"
	"github.com/switchboard/switchboard/web/webtest"
)

// org is a small organisation: one widget inbox (the demo page's), Alice
// and Bob who take chats, and Sam who supervises.
type org struct {
	env   *webtest.Env
	inbox *sb.Inbox
	alice *sb.User
	bob   *sb.User
	sam   *sb.User
}

func newOrg(t *testing.T) *org {
	t.Helper()
	env := webtest.New(t, webtest.Options{Web: web.Config{DemoInboxID: 1}})
	o := &org{env: env, inbox: env.Inbox(t, "Website")}
	if o.inbox.ID != 1 {
		t.Fatalf("the first inbox has id %d; the demo page shows inbox 1", o.inbox.ID)
	}
	// The routing engine serves the queue: offers, transfer expiry, tickets.
	eng := routing.New(env.DB, routing.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), NodeID: "browsertest"})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		eng.Run(ctx)
	}()
	t.Cleanup(func() {
		stop()
		<-done
	})
	o.alice = o.person(t, "Alice Archer", sb.RoleAgent, true)
	o.bob = o.person(t, "Bob Baker", sb.RoleAgent, true)
	o.sam = o.person(t, "Sam Sloane", sb.RoleSupervisor, false)
	o.write(t, func(tx *store.Tx) error {
		return tx.CreateCannedResponse(&sb.CannedResponse{Shortcut: "thanks", Title: "Thank you",
			Body: "Thanks for waiting! Here is your receipt."})
	})
	return o
}

// person is a member of the inbox with a real name, so @first-name mentions work.
func (o *org) person(t *testing.T, name string, role sb.Role, operator bool) *sb.User {
	t.Helper()
	u := o.env.User(t, role, operator, o.inbox.ID)
	u.Name = name
	o.write(t, func(tx *store.Tx) error { return tx.UpdateUser(u) })
	return u
}

func (o *org) write(t *testing.T, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := o.env.DB.Write(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func (o *org) principal(u *sb.User) *sb.Principal {
	return &sb.Principal{UserID: u.ID, Name: u.Name, Role: u.Role, Operator: u.Operator, InboxIDs: []int64{o.inbox.ID}}
}

// online sets a person's presence through the API, as their status control does.
func (o *org) online(t *testing.T, u *sb.User) {
	t.Helper()
	if _, err := o.env.SessionClient(t, u).SetPresence(context.Background(), sb.PresenceOnline); err != nil {
		t.Fatal(err)
	}
}

// customerChat starts a chat as a widget visitor through the visitor API.
func (o *org) customerChat(t *testing.T, name, first string) (*client.Client, *sb.Conversation) {
	t.Helper()
	v := o.env.VisitorClient(t, o.inbox.ID)
	ctx := context.Background()
	if _, err := v.UpdateVisitor(ctx, name, ""); err != nil {
		t.Fatal(err)
	}
	c, _, _, err := v.StartConversation(ctx, o.inbox.ID, first, "")
	if err != nil {
		t.Fatal(err)
	}
	return v, c
}

// assigned gives a chat to an agent, who must be the one online: the
// routing engine offers it to them and they accept.
func (o *org) assigned(t *testing.T, c *sb.Conversation, u *sb.User) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(step)
	for time.Now().Before(deadline) {
		offers, err := o.env.Service.Offers(ctx, o.principal(u))
		if err != nil {
			t.Fatal(err)
		}
		for _, of := range offers {
			if of.ConversationID == c.ID {
				if _, err := o.env.Service.AcceptOffer(ctx, o.principal(u), of.ID); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("chat %d was never offered to %s", c.ID, u.Name)
}

// settings changes the inbox's settings.
func (o *org) settings(t *testing.T, change func(*sb.InboxSettings)) {
	t.Helper()
	o.write(t, func(tx *store.Tx) error {
		in, err := tx.Inbox(o.inbox.ID)
		if err != nil {
			return err
		}
		change(&in.Settings)
		return tx.UpdateInbox(in)
	})
}

// takeOrAccept accepts the offer of a chat if the routing engine made one,
// and otherwise takes the chat from the Unassigned list: both are how an
// agent starts a chat they were alerted to.
func takeOrAccept(t *testing.T, agent *tab, convID int64) {
	t.Helper()
	agent.wait("an alert for the new chat", fmt.Sprintf(
		`document.querySelector("#offers .offer") || document.querySelector("#conv-%d") || window.switchboard.notifier.played.includes("new_chat")`, convID))
	if eval[bool](agent, `!!document.querySelector("#offers .offer .btn-primary")`) {
		agent.click("#offers .offer .btn-primary")
	} else {
		agent.click(`.tabs [data-tab="unassigned"]`)
		agent.wait("the chat in Unassigned", fmt.Sprintf(`!!document.querySelector("#conv-%d .row-link")`, convID))
		if !eval[bool](agent, fmt.Sprintf(`document.querySelector("#conv-%d").classList.contains("is-new")`, convID)) {
			t.Errorf("the waiting chat has no New mark")
		}
		agent.click(fmt.Sprintf("#conv-%d .row-link", convID))
		agent.wait("the chat to open", fmt.Sprintf(`document.querySelector("#conv-pane[data-id='%d'] [data-action=take]")`, convID))
		agent.click(`#conv-pane [data-action=take]`)
	}
	agent.wait("the composer of the accepted chat", fmt.Sprintf(`document.querySelector("#conv-pane[data-id='%d'] #composer-text")`, convID))
}

// Journey 1: a customer writes in the widget; the agent is alerted,
// accepts, answers with a /shortcut canned response and a file; the
// customer sees both; the agent ends the chat; it appears under Closed.
func TestJourneyWidgetToClosed(t *testing.T) {
	o := newOrg(t)
	h := newHarness(t, o.env)
	o.online(t, o.alice)
	agent := h.open("alice")
	agent.signIn(o.alice)
	agent.goTo("/app")

	customer := h.open("customer")
	customer.do(chromedp.Navigate(o.env.URL + "/demo"))
	customer.wait("the widget", `window.Switchboard && window.Switchboard.widget`)
	customer.do(chromedp.Evaluate[chromedp.Void](`Switchboard.open()`))
	time.Sleep(300 * time.Millisecond) // the widget moves focus into its composer
	customer.typeKeys("Hello, my order #1042 has not arrived.")
	customer.press("Enter")

	// The agent is alerted and accepts the chat.
	var conv *sb.Conversation
	deadline := time.Now().Add(step)
	for conv == nil && time.Now().Before(deadline) {
		cs, err := o.env.DB.Conversations(context.Background(), store.ConversationFilter{Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) > 0 {
			conv = cs[0]
		}
		time.Sleep(100 * time.Millisecond)
	}
	if conv == nil {
		t.Fatal("the customer's message created no conversation")
	}
	takeOrAccept(t, agent, conv.ID)
	agent.wait("the customer's message in the log", `document.querySelector("#log").textContent.includes("my order #1042")`)

	// Typing shows both ways.
	customer.typeKeys("One more thing")
	agent.wait("the customer typing", `document.querySelector("#typing").textContent.includes("is typing")`)
	customer.press("Enter")
	agent.wait("the customer's second message", `document.querySelector("#log").textContent.includes("One more thing")`)
	agent.click("#composer-text")
	agent.typeKeys("Sure")
	customer.waitShadowText("the agent typing in the widget", "is typing")
	agent.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#composer-text").value = ""`))

	// A /shortcut canned response, picked from the suggestions.
	agent.click("#composer-text")
	agent.typeKeys("/than")
	agent.wait("the canned suggestions", `!document.querySelector("#canned-suggest").hidden && document.querySelector("#canned-suggest").textContent.includes("/thanks")`)
	agent.press("Enter") // inserts the response
	if got := eval[string](agent, `document.querySelector("#composer-text").value`); got != "Thanks for waiting! Here is your receipt." {
		t.Fatalf("the composer holds %q after picking /thanks", got)
	}
	agent.press("Enter") // sends it
	agent.wait("the sent reply in the log", `[...document.querySelectorAll("#log .msg-agent[data-seq]")].some(m => m.textContent.includes("Here is your receipt"))`)

	// A file, attached with the file picker and sent.
	file := filepath.Join(t.TempDir(), "receipt-1042.txt")
	if err := os.WriteFile(file, []byte("Order 1042: 1 × blue teapot, €24.00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	agent.do(chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{file}))
	agent.wait("the file chip", `document.querySelector("#chips .chip") && document.querySelector("#chips").textContent.includes("receipt-1042.txt")`)
	agent.click("#composer .send")
	agent.wait("the file in the log", `[...document.querySelectorAll("#log .msg[data-seq] .file-name")].some(f => f.textContent === "receipt-1042.txt")`)

	// The customer sees both.
	customer.waitShadowText("the canned reply in the widget", "Thanks for waiting! Here is your receipt.")
	customer.waitShadowText("the file in the widget", "receipt-1042.txt")

	// The agent ends the chat (two clicks, so a stray one does not) and it is under Closed.
	agent.click(`#conv-actions [data-action="end"]`)
	agent.wait("the second click's prompt", `document.querySelector('#conv-actions [data-action="end"]').textContent.includes("again")`)
	agent.click(`#conv-actions [data-action="end"]`)
	agent.wait("the ended chat", `document.querySelector("#conv-pane").dataset.status === "ended" && !document.querySelector("#composer-text")`)
	agent.click(`.tabs [data-tab="closed"]`)
	agent.wait("the chat under Closed", fmt.Sprintf(`!!document.querySelector("#list-body[data-tab=closed] #conv-%d")`, conv.ID))
	customer.waitShadowText("the end of the chat in the widget", "ended")
	checkConsole(t, agent)
}

// Journey 3: a supervisor watches a live chat and comments "@alice please
// check the refund policy"; Alice is notified and sees the comment; the
// supervisor has no way to write to the customer.
func TestJourneySupervisorWatchesAndComments(t *testing.T) {
	o := newOrg(t)
	h := newHarness(t, o.env)
	o.online(t, o.alice)
	visitor, c := o.customerChat(t, "Grace Hopper", "I'd like a refund for my last order.")
	o.assigned(t, c, o.alice)

	alice := h.open("alice")
	alice.signIn(o.alice)
	alice.goTo("/app")

	sam := h.open("sam")
	sam.signIn(o.sam)
	sam.goTo(fmt.Sprintf("/app/c/%d", c.ID))
	sam.wait("the chat", `document.querySelector("#log").textContent.includes("refund for my last order")`)
	if eval[bool](sam, `!!document.querySelector("#composer, #composer-text")`) {
		t.Fatal("the supervisor has a composer to the customer")
	}
	if got := sam.text("#composer-off"); !strings.Contains(got, "Watching") {
		t.Errorf("the pane says %q, want the watching note", got)
	}
	// Watching is live: the customer's next message appears.
	if _, _, err := visitor.VisitorSend(context.Background(), c.ID, "Order 7731, paid by card.", ""); err != nil {
		t.Fatal(err)
	}
	sam.wait("the customer's new message while watching", `document.querySelector("#log").textContent.includes("Order 7731")`)

	// The comment, with an @name suggestion.
	sam.click(`#info [data-tab="comment"]`)
	sam.click("#compose-comment")
	sam.typeKeys("@ali")
	sam.wait("the mention suggestion", `!document.querySelector("#mention-comment").hidden && document.querySelector("#mention-comment").textContent.includes("Alice Archer")`)
	sam.press("Tab") // picks @alice
	sam.typeKeys("please check the refund policy")
	sam.press("Enter")
	sam.wait("the posted comment", `[...document.querySelectorAll("#thread-comment .msg[data-seq]")].some(m => m.textContent.includes("@alice please check the refund policy"))`)

	// Alice is notified and sees the comment.
	alice.wait("the mention notification", `document.querySelector("#toasts").textContent.includes("please check the refund policy")`)
	if !eval[bool](alice, `window.switchboard.notifier.played.includes("mention")`) {
		t.Error("no sound was played for the mention")
	}
	alice.goTo(fmt.Sprintf("/app/c/%d", c.ID))
	alice.click(`#info [data-tab="comment"]`)
	alice.wait("the comment in Alice's Comments tab", `document.querySelector("#thread-comment").textContent.includes("@alice please check the refund policy")`)
	if eval[bool](alice, `!!document.querySelector("#compose-comment")`) {
		t.Error("an agent can write supervisor comments")
	}
	// And the customer never sees it.
	msgs, err := visitor.VisitorMessages(context.Background(), c.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if strings.Contains(m.Body, "refund policy") {
			t.Fatalf("the customer received the comment: %+v", m)
		}
	}
	checkConsole(t, sam)
}

// Journey 2: agent A transfers to B; B rejects and A sees it; A transfers
// again and B lets it expire and A sees it; the third time B accepts and the
// chat moves to B's list.
func TestJourneyTransferRejectExpireAccept(t *testing.T) {
	o := newOrg(t)
	o.settings(t, func(s *sb.InboxSettings) { s.TransferTimeoutSec = 5 })
	h := newHarness(t, o.env)
	o.online(t, o.alice)
	_, c := o.customerChat(t, "Ada Lovelace", "Can someone from billing help me?")
	o.assigned(t, c, o.alice)
	o.online(t, o.bob)

	alice := h.open("alice")
	alice.signIn(o.alice)
	alice.goTo(fmt.Sprintf("/app/c/%d", c.ID))
	bob := h.open("bob")
	bob.signIn(o.bob)
	bob.goTo("/app")

	transfer := func(round string) {
		t.Helper()
		alice.wait(round+": the Transfer button", `!!document.querySelector('#conv-actions [data-action="transfer"]')`)
		// The pane re-renders when a transfer's outcome arrives, and a click on
		// the button it replaces is lost: click until the dialog is open.
		alice.wait(round+": the transfer dialog", `(() => {
			const d = document.querySelector("#transfer-dialog");
			if (d && d.open) return true;
			document.querySelector('#conv-actions [data-action="transfer"]')?.click();
			return false;
		})()`)
		alice.wait(round+": Bob among the available agents", fmt.Sprintf(`!!document.querySelector('#transfer-dialog[open] #transfer-agents li[data-user="%d"]')`, o.bob.ID))
		if eval[bool](alice, fmt.Sprintf(`!!document.querySelector('#transfer-agents li[data-user="%d"]')`, o.alice.ID)) {
			t.Errorf("%s: Alice is offered herself", round)
		}
		alice.click(fmt.Sprintf(`#transfer-agents li[data-user="%d"]`, o.bob.ID))
		alice.click(`#transfer-form button[type=submit]`)
		alice.wait(round+": the dialog to close", `!document.querySelector("#transfer-dialog").open`)
		bob.wait(round+": the transfer request", `!!document.querySelector("#offers .offer.is-transfer .btn-primary")`)
	}
	outcome := func(round, want string) {
		t.Helper()
		alice.wait(round+": the outcome", fmt.Sprintf(`document.querySelector("#toasts").textContent.toLowerCase().includes(%q)`, want))
		alice.wait(round+": the chat still Alice's", `document.querySelector("#conv-pane").dataset.status === "assigned" && !!document.querySelector("#composer-text")`)
		alice.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#toasts").replaceChildren()`))
	}

	// 1. Bob rejects.
	transfer("first transfer")
	bob.click(`#offers .offer.is-transfer .btn:not(.btn-primary)`)
	outcome("rejected", "declined the transfer")

	// 2. Bob lets it expire (the inbox's transfer timeout is 5 s).
	transfer("second transfer")
	bob.wait("the countdown", `/\d+s/.test(document.querySelector("#offers .offer.is-transfer .offer-count").textContent)`)
	outcome("expired", "did not answer the transfer in time")
	bob.wait("the expired request to go", `!document.querySelector("#offers .offer.is-transfer .btn-primary")`)

	// 3. Bob accepts: the chat is his.
	transfer("third transfer")
	bob.click(`#offers .offer.is-transfer .btn-primary`)
	bob.wait("the chat open for Bob with a composer", fmt.Sprintf(`document.querySelector("#conv-pane[data-id='%d'] #composer-text")`, c.ID))
	bob.click(`.tabs [data-tab="mine"]`)
	bob.wait("the chat in Bob's list", fmt.Sprintf(`!!document.querySelector("#list-body[data-tab=mine] #conv-%d")`, c.ID))
	alice.wait("Alice to lose the composer", `!document.querySelector("#composer-text")`)
	alice.click(`.tabs [data-tab="mine"]`)
	alice.wait("the chat gone from Alice's list", fmt.Sprintf(`document.querySelector("#list-body[data-tab=mine]") && !document.querySelector("#list-body[data-tab=mine] #conv-%d")`, c.ID))
	checkConsole(t, alice)
	checkConsole(t, bob)
}

// Journey 4: a chat out of business hours becomes a ticket; the supervisor
// assigns it; the agent replies.
func TestJourneyOutOfHoursTicket(t *testing.T) {
	o := newOrg(t)
	today := time.Now().UTC().Format("2006-01-02")
	o.settings(t, func(s *sb.InboxSettings) {
		s.BusinessHours = sb.BusinessHours{TimeZone: "UTC", Holidays: []string{today}}
		s.OutOfHoursMessage = "We are closed today; we will answer tomorrow."
	})
	h := newHarness(t, o.env)
	o.online(t, o.alice)
	visitor, c := o.customerChat(t, "Linus Pauling", "My invoice shows the wrong address.")
	deadline := time.Now().Add(step)
	for {
		got, err := o.env.DB.Conversation(context.Background(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Ticket == sb.TicketUnassigned {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the out-of-hours chat did not become a ticket: %+v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}

	sam := h.open("sam")
	sam.signIn(o.sam)
	sam.goTo("/app?tab=tickets")
	sam.wait("the ticket in the Tickets tab", fmt.Sprintf(`!!document.querySelector("#list-body[data-tab=tickets] #conv-%d")`, c.ID))
	sam.click(fmt.Sprintf("#conv-%d .row-link", c.ID))
	sam.wait("the ticket's Assign button", `!!document.querySelector('#conv-actions [data-action="assign"]')`)
	sam.click(`#conv-actions [data-action="assign"]`)
	sam.wait("Alice in the picker", fmt.Sprintf(`!!document.querySelector('#assign-agents li[data-user="%d"]')`, o.alice.ID))
	sam.click(fmt.Sprintf(`#assign-agents li[data-user="%d"]`, o.alice.ID))
	sam.click(`#assign-form button[type=submit]`)
	sam.wait("the ticket assigned", `document.querySelector("#conv-pane").dataset.ticket === "assigned"`)

	alice := h.open("alice")
	alice.signIn(o.alice)
	alice.goTo("/app?tab=tickets")
	alice.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('#filters [name=tab]').value='tickets'`))
	alice.goTo(fmt.Sprintf("/app/c/%d", c.ID))
	alice.wait("the composer of the assigned ticket", `!!document.querySelector("#composer-text")`)
	alice.click("#composer-text")
	alice.typeKeys("Sorry about that, Linus: I have corrected the address on the invoice.")
	alice.press("Enter")
	alice.wait("the reply in the log", `[...document.querySelectorAll("#log .msg-agent[data-seq]")].some(m => m.textContent.includes("corrected the address"))`)
	msgs, err := visitor.VisitorMessages(context.Background(), c.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(msgs, func(m *sb.Message) bool { return strings.Contains(m.Body, "corrected the address") }) {
		t.Errorf("the customer did not get the reply; they have %d messages", len(msgs))
	}
	checkConsole(t, sam)
	checkConsole(t, alice)
}

// xssPayloads are what a customer could try as a name, a message and a
// file name; each must show as the same text, and the canary stay unset.
var xssPayloads = struct{ name, message, file string }{
	name:    `<img src=x onerror="window.__pwned=1">Eve`,
	message: "<script>window.__pwned=1</script> <svg onload=window.__pwned=1> [click me](javascript:window.__pwned=1) \u202Etxt.exe",
	file:    `"><img src=x onerror=window.__pwned=1>.txt`,
}

// Journey 5: a customer name, message and file name carrying script
// payloads render as text, and the canary window.__pwned stays undefined.
func TestJourneyCustomerPayloadsRenderAsText(t *testing.T) {
	o := newOrg(t)
	h := newHarness(t, o.env)
	o.online(t, o.alice)
	visitor, c := o.customerChat(t, xssPayloads.name, xssPayloads.message)
	if _, err := visitor.VisitorUpload(context.Background(), c.ID, strings.NewReader("hello"), xssPayloads.file, ""); err != nil {
		t.Fatal(err)
	}
	o.assigned(t, c, o.alice)
	agent := h.open("alice")
	agent.signIn(o.alice)
	agent.goTo(fmt.Sprintf("/app/c/%d", c.ID))
	agent.wait("the payload message", `document.querySelector("#log").textContent.includes("window.__pwned=1</script>")`)
	checks := map[string]string{
		"name in the header":     `document.querySelector("#conv-title").textContent`,
		"name in the list":       fmt.Sprintf(`document.querySelector("#conv-%d .row-name").textContent`, c.ID),
		"name in the info panel": `document.querySelector("#info .customer h3").textContent`,
		"file name":              `document.querySelector("#log .file-name").textContent`,
	}
	wants := map[string]string{
		"name in the header": xssPayloads.name, "name in the list": xssPayloads.name,
		"name in the info panel": xssPayloads.name, "file name": xssPayloads.file,
	}
	for what, js := range checks {
		if got := eval[string](agent, js); got != wants[what] {
			t.Errorf("%s shows %q, want the payload as text %q", what, got, wants[what])
		}
	}
	if !strings.Contains(eval[string](agent, `document.querySelector("#log").textContent`), "[click me](javascript:window.__pwned=1)") {
		t.Error("the javascript: link was not left as text")
	}
	injected := eval[int](agent, `document.querySelectorAll("#ws-body script, #ws-body img[src='x'], #ws-body svg[onload], #ws-body [onerror], a[href^='javascript:']").length`)
	if injected != 0 {
		t.Errorf("%d elements came from the payloads", injected)
	}
	// Live updates render the same way: the payload again, as a new message.
	if _, _, err := visitor.VisitorSend(context.Background(), c.ID, xssPayloads.message+" again", ""); err != nil {
		t.Fatal(err)
	}
	agent.wait("the live payload message", `document.querySelector("#log").textContent.includes("txt.exe again")`)
	// The palette and search results show names as text too.
	agent.goTo("/app?tab=mine")
	agent.wait("the list", fmt.Sprintf(`!!document.querySelector("#conv-%d")`, c.ID))
	if got := eval[string](agent, `String(window.__pwned)`); got != "undefined" {
		t.Fatalf("window.__pwned is %s: a payload ran", got)
	}
	// The customer's own widget shows them as text as well.
	customer := h.open("customer")
	customer.do(chromedp.Navigate(o.env.URL + "/demo"))
	customer.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`localStorage.setItem("switchboard:%s:inbox:%d:token", %q); localStorage.setItem("switchboard:%s:inbox:%d:profile", "1")`,
		o.env.URL, o.inbox.ID, visitor.Token(), o.env.URL, o.inbox.ID)))
	customer.do(chromedp.Navigate(o.env.URL + "/demo"))
	customer.wait("the widget", `window.Switchboard && window.Switchboard.widget`)
	customer.do(chromedp.Evaluate[chromedp.Void](`Switchboard.open()`))
	customer.waitShadowText("the payload message in the widget", "window.__pwned=1</script>")
	if got := eval[string](customer, `String(window.__pwned)`); got != "undefined" {
		t.Fatalf("window.__pwned is %s in the widget: a payload ran", got)
	}
	checkConsole(t, agent)
}

// checkConsole fails on script errors and CSP violations in a tab.
func checkConsole(t *testing.T, tb *tab) {
	t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, line := range tb.console {
		if strings.Contains(line, "Content Security Policy") || strings.HasPrefix(line, "exception") {
			t.Errorf("%s console: %s", tb.name, line)
		}
	}
}
