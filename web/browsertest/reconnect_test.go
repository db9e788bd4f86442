package browsertest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// offline cuts a tab off the network (or brings it back): requests and new
// WebSockets fail, and navigator.onLine says so.
func (tb *tab) offline(off bool) {
	tb.h.t.Helper()
	tb.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		var rules []*network.Conditions
		if off {
			rules = []*network.Conditions{{Offline: true, DownloadThroughput: -1, UploadThroughput: -1}}
		}
		if _, err := cdp.Call(ctx, t, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: rules}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: off, DownloadThroughput: -1, UploadThroughput: -1})
		return err
	}))
}

// The workspace stays right across a dropped connection: after a few
// seconds it says it is reconnecting and greys the list; a reply written
// meanwhile waits; when the network is back it resumes from its last
// position, shows what it missed once, and sends the waiting reply once.
func TestDroppedConnectionResumes(t *testing.T) {
	o := newOrg(t)
	h := newHarness(t, o.env)
	o.online(t, o.alice)
	visitor, c := o.customerChat(t, "Marie Curie", "Is my parcel on its way?")
	o.assigned(t, c, o.alice)
	agent := h.open("alice")
	agent.signIn(o.alice)
	agent.goTo(fmt.Sprintf("/app/c/%d", c.ID))

	agent.offline(true)
	o.env.Hub.DisconnectUser(o.alice.ID) // the server drops the socket as well
	agent.wait("the connection to be lost", `window.switchboard.rt.state !== "online"`)
	if eval[bool](agent, `!document.querySelector("#conn-banner").hidden`) {
		t.Error("the banner showed at once; it should wait a few seconds")
	}
	agent.wait("the Reconnecting banner", `!document.querySelector("#conn-banner").hidden`)
	if !eval[bool](agent, `!document.querySelector("#list-paused").hidden && document.querySelector("#list").classList.contains("is-paused")`) {
		t.Error("the list is not marked as paused")
	}

	// While away: the customer writes, and the agent answers.
	ctx := context.Background()
	if _, _, err := visitor.VisitorSend(ctx, c.ID, "Hello? Are you still there?", ""); err != nil {
		t.Fatal(err)
	}
	agent.click("#composer-text")
	agent.typeKeys("Yes, sorry, my connection dropped.")
	agent.press("Enter")
	agent.wait("the reply waiting for the connection", `[...document.querySelectorAll("#log .msg.is-pending")].some(m => m.textContent.includes("Waiting for connection"))`)
	time.Sleep(500 * time.Millisecond)

	agent.offline(false)
	agent.wait("the connection back", `window.switchboard.rt.state === "online" && document.querySelector("#conn-banner").hidden`)
	agent.wait("the missed message", `document.querySelector("#log").textContent.includes("Are you still there?")`)
	agent.wait("the reply sent", `![...document.querySelectorAll("#log .msg.is-pending")].length && document.querySelector("#log").textContent.includes("my connection dropped")`)
	log := eval[string](agent, `document.querySelector("#log").textContent`)
	for _, s := range []string{"Are you still there?", "my connection dropped"} {
		if n := strings.Count(log, s); n != 1 {
			t.Errorf("%q shows %d times in the log, want once", s, n)
		}
	}
	msgs, err := visitor.VisitorMessages(ctx, c.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		if strings.Contains(m.Body, "my connection dropped") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the customer got the reply %d times, want once", n)
	}
	if eval[bool](agent, `document.querySelector("#list").classList.contains("is-paused")`) {
		t.Error("the list is still paused")
	}
}
