package browsertest

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/switchboard/switchboard/store"
)

// The "Block this customer" form shows the API's refusal in the form
// itself: here the customer's e-mail address is gone by the time the agent
// blocks it.
func TestWorkspaceBlockShowsError(t *testing.T) {
	o := newOrg(t)
	h := newHarness(t, o.env)
	visitor, c := o.customerChat(t, "Eve Example", "Hello")
	if _, err := visitor.UpdateVisitor(context.Background(), "Eve Example", "eve@example.com"); err != nil {
		t.Fatal(err)
	}
	alice := h.open("alice")
	if err := chromedp.Listen(alice.ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok { // "Block this customer?": yes
			go chromedp.Do(alice.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				_, err := cdp.Call(ctx, t, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
				return err
			}))
		}
	}); err != nil {
		t.Fatal(err)
	}
	alice.signIn(o.alice)
	alice.goTo(fmt.Sprintf("/app/c/%d", c.ID))
	alice.wait("the block form", `!!document.querySelector('.block-form input[value="email"]')`)
	alice.click(".block-form summary")
	alice.wait("the form open", `document.querySelector('.block-form').open`)
	o.write(t, func(tx *store.Tx) error {
		ct, err := tx.Contact(c.ContactID)
		if err != nil {
			return err
		}
		ct.Email = ""
		return tx.UpdateContact(ct)
	})
	alice.click(`.block-form input[value="email"]`)
	alice.click(`.block-form button[type=submit]`)
	alice.wait("the refusal in the form", `(() => { const e = document.querySelector('.block-form .form-error');
		return e && !e.hidden && e.textContent.includes("no e-mail address") && document.querySelector('.block-form').open; })()`)
	checkConsole(t, alice)
}
