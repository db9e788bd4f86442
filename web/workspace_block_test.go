package web_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"strings"
	"testing"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
	"github.com/switchboard/switchboard/web/webtest"
)

// The "Block this customer" form offers the phone only when it is a number
// a phone block can store (sb.NormalizePhone), shows it as it will be
// stored, and has a place for the API's error.
func TestWorkspaceBlockFormPhone(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	inbox := env.Inbox(t, "Support")
	agent := env.User(t, sb.RoleAgent, true, inbox.ID)
	c := endedChat(t, env, inbox, agent, "Pat Phone", "Hello")
	setPhone := func(phone string) {
		t.Helper()
		err := env.DB.Write(context.Background(), func(tx *store.Tx) error {
			ct, err := tx.Contact(c.ContactID)
			if err != nil {
				return err
			}
			ct.Phone = phone
			return tx.UpdateContact(ct)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	info := func() string {
		t.Helper()
		code, _, body := pageAs(t, env, agent, fmt.Sprintf("/app/c/%d/info", c.ID))
		if code != http.StatusOK {
			t.Fatalf("GET info: %d %s", code, body)
		}
		i := strings.Index(body, `class="block-form"`)
		if i < 0 {
			t.Fatalf("no block form in the info panel:\n%s", body)
		}
		form := body[i:]
		if j := strings.Index(form, "</details>"); j > 0 {
			form = form[:j]
		}
		if !strings.Contains(form, `class="form-error" role="alert"`) {
			t.Errorf("the block form has no place for an error:\n%s", form)
		}
		return html.UnescapeString(form)
	}

	for _, bad := range []string{"call me after 5", "12", "+1 (555) 0100 ext. 7"} {
		setPhone(bad)
		if form := info(); strings.Contains(form, `value="phone"`) || strings.Contains(form, "Phone number") {
			t.Errorf("phone %q is offered for a block:\n%s", bad, form)
		}
	}
	setPhone("0044 (0)20 7946-0000")
	form := info()
	if !strings.Contains(form, `value="phone"`) || !strings.Contains(form, "Phone number (+442079460000)") {
		t.Errorf("a valid phone is not offered in its normalised form:\n%s", form)
	}
	// What the form offers, the API takes.
	b, err := env.Service.BlockFromConversation(context.Background(),
		&sb.Principal{UserID: agent.ID, Name: agent.Name, Role: agent.Role, Operator: true, InboxIDs: agent.InboxIDs}, c.ID, sb.BlockPhone, "")
	if err != nil || b.Value != "+442079460000" {
		t.Fatalf("blocking the offered phone: %+v, %v", b, err)
	}
}
