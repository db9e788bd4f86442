package browsertest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The main actions work from the keyboard (UX §2), with visible focus and
// the keys shown on the buttons.
func TestKeyboardShortcuts(t *testing.T) {
	o := newOrg(t)
	h := newHarness(t, o.env)
	o.online(t, o.alice)
	_, first := o.customerChat(t, "Ada Lovelace", "First question")
	o.assigned(t, first, o.alice)
	_, second := o.customerChat(t, "Grace Hopper", "Second question")
	o.assigned(t, second, o.alice)

	agent := h.open("alice")
	agent.signIn(o.alice)
	agent.goTo("/app")
	agent.wait("both chats in the list", fmt.Sprintf(`document.querySelector("#conv-%d") && document.querySelector("#conv-%d")`, first.ID, second.ID))

	// J and K move through the list; Enter opens.
	agent.press("j")
	if got := eval[string](agent, `document.activeElement.closest(".row") ? document.activeElement.closest(".row").id : ""`); got != fmt.Sprintf("conv-%d", second.ID) {
		t.Errorf("J focused %q, want the first row (the newest chat, %d)", got, second.ID)
	}
	if !eval[bool](agent, `document.activeElement.matches(":focus-visible")`) {
		t.Error("the focused row has no visible focus")
	}
	agent.press("j")
	agent.press("k")
	agent.press("Enter")
	agent.wait("the chat to open", fmt.Sprintf(`document.querySelector("#conv-pane[data-id='%d']")`, second.ID))

	// Alt+J opens the next chat from anywhere.
	agent.press("j", chromedp.ModifierAlt)
	agent.wait("Alt+J to open the next chat", fmt.Sprintf(`document.querySelector("#conv-pane[data-id='%d']")`, first.ID))

	// R focuses the composer; Esc leaves it for the log.
	agent.press("r")
	agent.wait("the composer focused", `document.activeElement && document.activeElement.id === "composer-text"`)
	if got := eval[string](agent, `document.querySelector("#composer-text").value`); got != "" {
		t.Errorf("R typed %q into the composer", got)
	}
	agent.press("Escape")
	agent.wait("the log focused", `document.activeElement && document.activeElement.id === "log"`)

	// F6 moves between the panes.
	agent.press("F6")
	agent.wait("F6 to the composer", `document.activeElement && document.activeElement.id === "composer-text"`)
	agent.press("F6")
	agent.wait("F6 to the information panel", `document.activeElement && !!document.activeElement.closest("#info")`)

	// Ctrl+K opens the palette; ? the shortcut sheet.
	agent.press("k", chromedp.ModifierCtrl)
	agent.wait("the palette", `document.querySelector("#palette").open && document.activeElement.id === "palette-input"`)
	agent.typeKeys("transfer")
	agent.wait("the Transfer command", `document.querySelector("#palette-list").textContent.includes("Transfer this chat")`)
	agent.press("Escape")
	agent.wait("the palette closed", `!document.querySelector("#palette").open`)
	agent.click("#log")
	agent.typeKeys("?")
	agent.wait("the shortcut sheet", `document.querySelector("#help").open`)
	agent.press("Escape")

	// Alt+O hides and shows the information panel.
	agent.press("o", chromedp.ModifierAlt)
	agent.wait("the panel hidden", `document.querySelector("#ws-body").classList.contains("info-hidden")`)
	agent.press("o", chromedp.ModifierAlt)
	agent.wait("the panel back", `!document.querySelector("#ws-body").classList.contains("info-hidden")`)

	// Alt+T opens the transfer dialog; Alt+E ends the chat.
	agent.press("t", chromedp.ModifierAlt)
	agent.wait("the transfer dialog", `document.querySelector("#transfer-dialog").open`)
	agent.press("Escape")
	agent.wait("the transfer dialog closed", `!document.querySelector("#transfer-dialog").open`)
	agent.press("e", chromedp.ModifierAlt)
	agent.wait("the chat ended", `document.querySelector("#conv-pane").dataset.status === "ended"`)

	// Buttons say their keys.
	keys := eval[[]string](agent, `[...document.querySelectorAll("[aria-keyshortcuts]")].map(e => e.getAttribute("aria-keyshortcuts"))`)
	for _, want := range []string{"Control+K Meta+K", "Shift+Slash Control+Slash"} {
		if !slices.Contains(keys, want) {
			t.Errorf("no control with aria-keyshortcuts %q (have %q)", want, keys)
		}
	}
	// Every field has a name a screen reader can say.
	unlabeled := eval[[]string](agent, `[...document.querySelectorAll("input:not([type=hidden]), select, textarea")].filter(e => {
		if (e.labels && e.labels.length) return false;
		return !(e.getAttribute("aria-label") || e.getAttribute("aria-labelledby") || e.title);
	}).map(e => e.outerHTML.slice(0, 80))`)
	if len(unlabeled) > 0 {
		t.Errorf("fields without a label: %q", unlabeled)
	}
	checkConsole(t, agent)
}

// The widget works at phone width: the panel fills the screen and a
// customer can write.
func TestWidgetAtPhoneWidth(t *testing.T) {
	o := newOrg(t)
	h := newHarness(t, o.env)
	o.online(t, o.alice)
	customer := h.open("phone")
	customer.do(chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2)),
		chromedp.Navigate(o.env.URL+"/demo"))
	customer.wait("the widget", `window.Switchboard && window.Switchboard.widget`)
	customer.do(chromedp.Evaluate[chromedp.Void](`Switchboard.open()`))
	customer.waitShadowText("the open panel", "Hi! How can we help?")
	width, height := customer.shadowBox(func(n *cdp.Node) bool { return attr(n, "id") == "sb-panel" })
	if width < 370 || height < 700 {
		t.Errorf("the open panel is %d×%d at 375×740; it should fill the screen", width, height)
	}
	fontSize := customer.shadowStyle(func(n *cdp.Node) bool { return n.NodeName == "TEXTAREA" }, "font-size")
	if fontSize != "16px" {
		t.Errorf("the composer's text is %s; under 16 px, iOS zooms into it", fontSize)
	}
}

func attr(n *cdp.Node, name string) string {
	for i := 0; i+1 < len(n.Attributes); i += 2 {
		if n.Attributes[i] == name {
			return n.Attributes[i+1]
		}
	}
	return ""
}

// shadowFind finds a node anywhere in the page, shadow roots included.
func (tb *tab) shadowFind(match func(*cdp.Node) bool) *cdp.Node {
	tb.h.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, step)
	defer cancel()
	root, err := chromedp.Call(ctx, dom.GetDocument, dom.GetDocumentParams{Depth: new(int64(-1)), Pierce: new(true)})
	if err != nil {
		tb.h.t.Fatalf("%s: read the DOM: %v", tb.name, err)
	}
	var found *cdp.Node
	var walk func(n *cdp.Node)
	walk = func(n *cdp.Node) {
		if n == nil || found != nil {
			return
		}
		if match(n) {
			found = n
			return
		}
		for _, c := range n.ShadowRoots {
			walk(c)
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(root.Root)
	if found == nil {
		tb.h.t.Fatalf("%s: no such node", tb.name)
	}
	return found
}

// shadowBox returns the size of a node found anywhere in the page.
func (tb *tab) shadowBox(match func(*cdp.Node) bool) (w, h int64) {
	tb.h.t.Helper()
	n := tb.shadowFind(match)
	ctx, cancel := context.WithTimeout(tb.ctx, step)
	defer cancel()
	box, err := chromedp.Call(ctx, dom.GetBoxModel, dom.GetBoxModelParams{NodeID: n.NodeID})
	if err != nil {
		tb.h.t.Fatalf("%s: box model: %v", tb.name, err)
	}
	return box.Model.Width, box.Model.Height
}

// shadowStyle returns a computed style of a node found anywhere in the page.
func (tb *tab) shadowStyle(match func(*cdp.Node) bool, prop string) string {
	tb.h.t.Helper()
	n := tb.shadowFind(match)
	ctx, cancel := context.WithTimeout(tb.ctx, step)
	defer cancel()
	obj, err := chromedp.Call(ctx, dom.ResolveNode, dom.ResolveNodeParams{NodeID: n.NodeID})
	if err != nil {
		tb.h.t.Fatalf("%s: resolve node: %v", tb.name, err)
	}
	on := func(p *runtime.CallFunctionOnParams) { p.ObjectID = obj.Object.ObjectID }
	v, err := chromedp.Run(ctx, chromedp.CallFunctionOn[string](fmt.Sprintf(`function() { return getComputedStyle(this).getPropertyValue(%q) }`, prop), on))
	if err != nil {
		tb.h.t.Fatalf("%s: computed style: %v", tb.name, err)
	}
	return v
}
