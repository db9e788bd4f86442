package browsertest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	sb "github.com/switchboard/switchboard"
)

// An admin changes the organisation from the settings pages: every form
// reaches the API and the change is stored.
func TestSettingsPages(t *testing.T) {
	o := newOrg(t)
	h := newHarness(t, o.env)
	admin := o.person(t, "Ada Admin", sb.RoleAdmin, false)
	tb := h.open("admin")
	tb.signIn(admin)
	ctx := context.Background()
	// save submits a settings form, which reloads the page once saved.
	save := func(sel string) {
		t.Helper()
		tb.do(chromedp.Evaluate[chromedp.Void](`window.__unsaved = true`))
		tb.click(sel)
		tb.wait("the page to reload after saving", `!window.__unsaved && document.readyState === "complete" && !!window.switchboard`)
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(step)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s never happened", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// A category.
	tb.goTo("/app/settings/categories")
	tb.click(`form[data-api="POST /api/v1/categories"] input[name=name]`)
	tb.typeKeys("Refunds")
	save(`form[data-api="POST /api/v1/categories"] button[type=submit]`)
	eventually("the category", func() bool {
		cs, _ := o.env.DB.Categories(ctx)
		return slices.ContainsFunc(cs, func(c sb.Category) bool { return c.Name == "Refunds" })
	})

	// An organisation-wide canned response.
	tb.goTo("/app/settings/canned")
	tb.click(`form[data-api="POST /api/v1/canned-responses"] input[name=shortcut]`)
	tb.typeKeys("hours")
	tb.click(`form[data-api="POST /api/v1/canned-responses"] textarea[name=body]`)
	tb.typeKeys("We are open 9 to 5 on weekdays.")
	save(`form[data-api="POST /api/v1/canned-responses"] button[type=submit]`)
	eventually("the canned response", func() bool {
		cs, _ := o.env.DB.CannedResponses(ctx, admin.ID)
		return slices.ContainsFunc(cs, func(c sb.CannedResponse) bool { return c.Shortcut == "hours" && c.OwnerID == nil })
	})

	// The inbox: greeting, Monday's hours, time zone.
	tb.goTo("/app/settings/inboxes")
	tb.do(chromedp.SetValue(chromedp.CSS(`textarea[name=greeting]`), "Hello from Acme!"),
		chromedp.SetValue(chromedp.CSS(`input[name=time_zone]`), "Europe/Berlin"))
	tb.click(`[data-weekday="1"] input[name=open]`)
	tb.do(chromedp.SetValue(chromedp.CSS(`[data-weekday="1"] input[name=start]`), "08:30"))
	save(`form[data-build="hours"] button[type=submit]`)
	eventually("the inbox settings", func() bool {
		in, err := o.env.DB.Inbox(ctx, o.inbox.ID)
		return err == nil && in.Settings.Greeting == "Hello from Acme!" && in.Settings.BusinessHours.TimeZone == "Europe/Berlin" &&
			slices.Equal(in.Settings.BusinessHours.Weekly, []sb.OpenPeriod{{Weekday: 1, Start: 8*60 + 30, End: 17 * 60}})
	})

	// Bob leaves the inbox.
	tb.goTo("/app/settings/inboxes")
	tb.click(fmt.Sprintf(`input[data-member-user="%d"]`, o.bob.ID))
	eventually("Bob out of the inbox", func() bool {
		u, err := o.env.DB.User(ctx, o.bob.ID)
		return err == nil && !slices.Contains(u.InboxIDs, o.inbox.ID)
	})

	// Alice's chat limit.
	tb.goTo("/app/settings/users")
	sel := fmt.Sprintf(`form[data-api="PATCH /api/v1/users/%d"]`, o.alice.ID)
	tb.do(chromedp.SetValue(chromedp.CSS(sel+` input[name=chat_limit]`), "5"))
	save(sel + ` button[type=submit]`)
	eventually("Alice's new limit", func() bool {
		u, err := o.env.DB.User(ctx, o.alice.ID)
		return err == nil && u.ChatLimit == 5 && u.Role == sb.RoleAgent && u.Operator
	})

	// A block, then lifted.
	tb.goTo("/app/settings/blocks")
	tb.click(`form[data-api="POST /api/v1/blocks"] input[name=value]`)
	tb.typeKeys("spam@example.com")
	save(`form[data-api="POST /api/v1/blocks"] button[type=submit]`)
	tb.wait("the block listed", `document.querySelector("main").textContent.includes("spam@example.com")`)
	tb.click(`button[data-call^="DELETE /api/v1/blocks/"]`)
	eventually("the block lifted", func() bool {
		bs, err := o.env.DB.Blocks(ctx)
		return err == nil && len(bs) == 0
	})
	checkConsole(t, tb)
}

// The live board (S4) follows what happens without a reload: an agent
// coming online shows at once.
func TestLiveBoardUpdates(t *testing.T) {
	o := newOrg(t)
	h := newHarness(t, o.env)
	o.online(t, o.alice)
	sam := h.open("sam")
	sam.signIn(o.sam)
	sam.goTo("/app/board")
	stat := `[...document.querySelectorAll(".stat")].find(s => s.textContent.includes("agents online")).querySelector(".stat-n").textContent`
	if got := eval[string](sam, stat); got != "1" {
		t.Fatalf("the board shows %s agents online, want 1", got)
	}
	o.online(t, o.bob)
	sam.wait("Bob online on the board", stat+` === "2"`)
	sam.wait("Bob's status in the table", `[...document.querySelectorAll("#board tbody tr")].some(r => r.textContent.includes("Bob Baker") && r.textContent.includes("online"))`)
	checkConsole(t, sam)
}
