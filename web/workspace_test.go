package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/web/webtest"
)

// pageAs fetches a workspace path with u's browser session.
func pageAs(t *testing.T, env *webtest.Env, u *sb.User, path string) (int, http.Header, string) {
	t.Helper()
	c := env.SessionClient(t, u)
	req, _ := http.NewRequest("GET", env.URL+path, nil)
	req.AddCookie(c.SessionCookie())
	res, err := env.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// endedChat is a customer's chat, answered by agent and ended.
func endedChat(t *testing.T, env *webtest.Env, inbox *sb.Inbox, agent *sb.User, name, first string) *sb.Conversation {
	t.Helper()
	ctx := context.Background()
	v := env.VisitorClient(t, inbox.ID)
	if _, err := v.UpdateVisitor(ctx, name, ""); err != nil {
		t.Fatal(err)
	}
	c, _, _, err := v.StartConversation(ctx, inbox.ID, first, "")
	if err != nil {
		t.Fatal(err)
	}
	p := &sb.Principal{UserID: agent.ID, Name: agent.Name, Role: agent.Role, Operator: true, InboxIDs: agent.InboxIDs}
	if _, err := env.Service.Take(ctx, p, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.Service.SendMessage(ctx, p, c.ID, sb.ThreadPublic, "Happy to help.", ""); err != nil {
		t.Fatal(err)
	}
	if c, err = env.Service.EndConversation(ctx, p, c.ID); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestWorkspaceExport(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	inbox, other := env.Inbox(t, "Sales"), env.Inbox(t, "Support")
	agent := env.User(t, sb.RoleAgent, true, inbox.ID)
	outsider := env.User(t, sb.RoleAgent, true, other.ID)
	formula := `=HYPERLINK("https://evil.example","click")`
	c := endedChat(t, env, inbox, agent, "+Mallory", formula)

	t.Run("a filtered list as CSV, with formulas defused", func(t *testing.T) {
		status, h, body := pageAs(t, env, agent, "/app/export?tab=closed&format=csv")
		if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || !strings.Contains(h.Get("Content-Disposition"), "attachment") {
			t.Fatalf("status %d, headers %v", status, h)
		}
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 || rows[0][0] != "id" || rows[1][0] != fmt.Sprint(c.ID) {
			t.Fatalf("rows %q", rows)
		}
		if got := rows[1][3]; got != "'+Mallory" {
			t.Errorf("customer cell %q, want the formula defused", got)
		}
	})
	t.Run("one chat as JSON, with its transcript", func(t *testing.T) {
		status, _, body := pageAs(t, env, agent, fmt.Sprintf("/app/export?id=%d&format=json", c.ID))
		if status != 200 {
			t.Fatalf("status %d: %s", status, body)
		}
		var chat struct {
			ID       int64 `json:"id"`
			Messages []struct {
				Sender string `json:"sender"`
				Body   string `json:"body"`
			} `json:"messages"`
		}
		if err := json.Unmarshal([]byte(body), &chat); err != nil {
			t.Fatal(err)
		}
		if chat.ID != c.ID || len(chat.Messages) != 2 || chat.Messages[0].Body != formula || chat.Messages[1].Sender != "agent" {
			t.Errorf("export %+v", chat)
		}
	})
	t.Run("members export only what they can see", func(t *testing.T) {
		if status, _, _ := pageAs(t, env, outsider, fmt.Sprintf("/app/export?id=%d&format=csv", c.ID)); status != 404 {
			t.Errorf("an agent of another inbox got %d for the chat's export, want 404", status)
		}
		status, _, body := pageAs(t, env, outsider, "/app/export?tab=closed&format=json")
		var chats []json.RawMessage
		if err := json.Unmarshal([]byte(body), &chats); status != 200 || err != nil || len(chats) != 0 {
			t.Errorf("an agent of another inbox exported %d: %q (%v)", status, body, err)
		}
	})
}

// Every workspace page renders for the people who may open it, with a
// strict CSP and nothing inline.
func TestWorkspacePagesRender(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	inbox := env.Inbox(t, "Sales")
	agent := env.User(t, sb.RoleAgent, true, inbox.ID)
	admin := env.User(t, sb.RoleAdmin, true, inbox.ID)
	c := endedChat(t, env, inbox, agent, "Zoe", "Where is my order?")
	paths := []string{"/app", fmt.Sprintf("/app/c/%d", c.ID), fmt.Sprintf("/app/contacts/%d", c.ContactID), "/app/board",
		fmt.Sprintf("/app/agents/%d", agent.ID), "/app/settings"}
	for _, s := range []string{"profile", "canned", "blocks", "users", "inboxes", "departments", "categories"} {
		paths = append(paths, "/app/settings/"+s)
	}
	for _, path := range paths {
		status, h, body := pageAs(t, env, admin, path)
		if status != 200 {
			t.Errorf("%s: status %d", path, status)
			continue
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		for _, bad := range []string{"<script>", " style=", " onclick=", " onload=", "javascript:"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: the page holds %q", path, bad)
			}
		}
	}
	if status, _, body := pageAs(t, env, agent, "/app/c/999999"); status != 404 || !strings.Contains(body, "<html") {
		t.Errorf("a missing chat: status %d, want a 404 page", status)
	}
}

// The inbox settings show the sites allowed to embed the widget, one per
// line, for the form to send back as allowed_origins.
func TestWorkspaceInboxAllowedOrigins(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	inbox := env.Inbox(t, "Shop")
	admin := env.User(t, sb.RoleAdmin, true, inbox.ID)
	ctx := context.Background()
	if _, err := env.TokenClient(t, admin).Do(ctx, "PATCH", fmt.Sprintf("/api/v1/inboxes/%d", inbox.ID),
		map[string]any{"settings": map[string]any{"allowed_origins": []string{"https://shop.example", "http://localhost:3000"}}}, nil); err != nil {
		t.Fatal(err)
	}
	status, _, body := pageAs(t, env, admin, fmt.Sprintf("/app/settings/inboxes?inbox=%d", inbox.ID))
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	want := `name="allowed_origins" rows="2" spellcheck="false" placeholder="https://shop.example">https://shop.example` + "\n" + `http://localhost:3000</textarea>`
	if !strings.Contains(body, want) {
		i := strings.Index(body, `name="allowed_origins"`)
		t.Fatalf("the allowed sites field is not filled in: %.300s", body[max(i, 0):])
	}
}
