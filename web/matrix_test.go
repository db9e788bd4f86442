package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/client"
	"github.com/switchboard/switchboard/store"
	"github.com/switchboard/switchboard/web"
	"github.com/switchboard/switchboard/web/webtest"
)

// persona is one kind of caller of the authorisation matrix (SECURITY.md).
type persona int

const (
	anonymous  persona = iota
	visitorA           // owns the conversation under test
	visitorB           // another visitor of the same inbox
	agentIn            // an operator of the conversation's inbox, its assignee
	agentOut           // an operator of another inbox only
	supervisor         // a supervisor of the conversation's inbox
	admin              // an admin, member of no inbox
	personas
)

func (p persona) String() string {
	return [...]string{"anonymous", "visitor A", "visitor B", "agent in inbox", "agent outside inbox", "supervisor", "admin"}[p]
}

// ok is any 2xx status in the matrix.
const ok = 2

// want is the expected status per persona: ok or an exact error status.
type want [personas]int

// seeOther is a redirect to the login page.
const seeOther = 303

// pageFor: workspace pages send whoever is not signed in as staff to the login page.
func pageFor(in, out, sup, adm int) want {
	return want{seeOther, seeOther, seeOther, in, out, sup, adm}
}

// staffOnly: visitors and anonymous callers are unauthorized on the staff API.
func staffOnly(in, out, sup, adm int) want { return want{401, 401, 401, in, out, sup, adm} }

var (
	everyone    = want{ok, ok, ok, ok, ok, ok, ok}
	anyStaff    = staffOnly(ok, ok, ok, ok)
	inboxStaff  = staffOnly(ok, 404, ok, ok)   // whoever can see the inbox
	adminOnly   = staffOnly(403, 403, 403, ok) // organisation settings
	inboxAdmin  = staffOnly(403, 404, 403, ok) // inbox settings: members who are not admins are refused, others never see it
	supervisors = staffOnly(403, 403, ok, ok)  // blocks, organisation-wide canned responses
	ownVisitor  = want{401, ok, 404, 401, 401, 401, 401}
	anyVisitor  = want{401, ok, ok, 401, 401, 401, 401}
	pageStaff   = pageFor(ok, ok, ok, ok)  // a workspace page any staff member may open
	pageInbox   = pageFor(ok, 404, ok, ok) // a workspace page of a conversation or customer
)

// matrixRow is one route of the matrix: how to call it and what each persona gets.
type matrixRow struct {
	method, pattern string
	path            func(w *world) string // the concrete path; nil: the pattern itself
	body            func(w *world) any    // a JSON body, or nil
	upload          bool                  // send a small text file as multipart
	mutates         bool                  // each persona gets a fresh world
	waiting         bool                  // the conversation is left unassigned
	relogin         bool                  // staff sessions end (logout, password): sign in again after
	want            want
	check           func(t *testing.T, f *fixture, p persona) int // instead of an HTTP request
}

var uniq atomic.Int64

func next() int64 { return uniq.Add(1) }

func matrixRows() []matrixRow {
	conv := func(suffix string) func(w *world) string {
		return func(w *world) string { return fmt.Sprintf("/api/v1/conversations/%d%s", w.conversation().ID, suffix) }
	}
	widgetConv := func(suffix string) func(w *world) string {
		return func(w *world) string {
			return fmt.Sprintf("/api/v1/widget/conversations/%d%s", w.conversation().ID, suffix)
		}
	}
	appConv := func(suffix string) func(w *world) string {
		return func(w *world) string { return fmt.Sprintf("/app/c/%d%s", w.conversation().ID, suffix) }
	}
	text := func(body string) func(*world) any { return func(*world) any { return map[string]string{"body": body} } }
	return append(routingRows(), []matrixRow{
		{method: "GET", pattern: "/healthz", want: everyone},
		{method: "GET", pattern: "/readyz", want: everyone},
		// Every persona calls from 127.0.0.1, and /metrics serves this host
		// whatever its credentials; others need the metrics token (TestMetricsAccess).
		{method: "GET", pattern: "/metrics", want: everyone},
		{method: "GET", pattern: "/api/v1/openapi.json", want: everyone},
		{method: "GET", pattern: "/widget.js", want: everyone},
		{method: "GET", pattern: "/demo", want: everyone},
		{method: "GET", pattern: "/{$}", path: func(*world) string { return "/" }, want: everyone},
		{method: "GET", pattern: "/api/v1/ws", want: want{401, ok, ok, ok, ok, ok, ok}, check: checkWebSocket},

		// The workspace: pages send the signed-out to /login; fragments answer like the API.
		{method: "GET", pattern: "/login", want: want{ok, ok, ok, seeOther, seeOther, seeOther, seeOther}},
		{method: "GET", pattern: "/app/static/{file...}", want: everyone, path: func(*world) string { return "/app/static/app/main.js" }},
		{method: "GET", pattern: "/app", want: pageStaff},
		{method: "GET", pattern: "/app/c/{id}", want: pageInbox,
			path: func(w *world) string { return fmt.Sprintf("/app/c/%d", w.conversation().ID) }},
		{method: "GET", pattern: "/app/contacts/{id}", want: pageInbox,
			path: func(w *world) string { return fmt.Sprintf("/app/contacts/%d", w.conversation().ContactID) }},
		{method: "GET", pattern: "/app/board", want: pageFor(403, 403, ok, ok)},
		{method: "GET", pattern: "/app/agents/{id}", want: pageFor(ok, 403, ok, ok), // the agent's own, or a supervisor
			path: func(w *world) string { return fmt.Sprintf("/app/agents/%d", w.f.users[agentIn].ID) }},
		{method: "GET", pattern: "/app/settings", want: pageStaff},
		{method: "GET", pattern: "/app/settings/{section}", want: pageFor(404, 404, ok, ok),
			path: func(*world) string { return "/app/settings/blocks" }},
		{method: "GET", pattern: "/app/list", want: anyStaff},
		{method: "GET", pattern: "/app/counters", want: anyStaff},
		{method: "GET", pattern: "/app/export", want: inboxStaff,
			path: func(w *world) string { return fmt.Sprintf("/app/export?format=json&id=%d", w.conversation().ID) }},
		{method: "GET", pattern: "/app/c/{id}/pane", path: appConv("/pane"), want: inboxStaff},
		{method: "GET", pattern: "/app/c/{id}/head", path: appConv("/head"), want: inboxStaff},
		{method: "GET", pattern: "/app/c/{id}/info", path: appConv("/info"), want: inboxStaff},
		{method: "GET", pattern: "/app/c/{id}/messages", path: appConv("/messages"), want: inboxStaff},
		{method: "GET", pattern: "/app/c/{id}/summary", path: appConv("/summary"), want: inboxStaff},

		{method: "POST", pattern: "/api/v1/auth/login", relogin: true, want: everyone,
			body: func(w *world) any {
				return map[string]string{"email": w.f.users[agentIn].Email, "password": webtest.Password}
			}},
		{method: "POST", pattern: "/api/v1/auth/logout", relogin: true, want: anyStaff},
		{method: "GET", pattern: "/api/v1/me", want: anyStaff},
		{method: "PATCH", pattern: "/api/v1/me", want: anyStaff, body: func(*world) any { return map[string]string{"name": "Renamed"} }},
		{method: "PUT", pattern: "/api/v1/me/password", relogin: true, want: anyStaff,
			body: func(*world) any {
				return map[string]string{"current_password": webtest.Password, "new_password": webtest.Password}
			}},
		{method: "PUT", pattern: "/api/v1/me/presence", want: anyStaff, body: func(*world) any { return map[string]string{"presence": "away"} }},
		{method: "GET", pattern: "/api/v1/tokens", want: anyStaff},
		{method: "POST", pattern: "/api/v1/tokens", want: anyStaff, body: func(*world) any { return map[string]string{"name": "ci"} }},
		{method: "DELETE", pattern: "/api/v1/tokens/{id}", mutates: true, want: staffOnly(ok, 404, 404, 404), // agent in's own token
			path: func(w *world) string { return fmt.Sprintf("/api/v1/tokens/%d", w.agentToken()) }},

		{method: "GET", pattern: "/api/v1/users", want: anyStaff},
		{method: "POST", pattern: "/api/v1/users", want: adminOnly, body: func(*world) any {
			return map[string]any{"email": fmt.Sprintf("new%d@example.com", next()), "name": "New", "role": "agent", "password": webtest.Password}
		}},
		{method: "GET", pattern: "/api/v1/users/{id}", want: anyStaff,
			path: func(w *world) string { return fmt.Sprintf("/api/v1/users/%d", w.f.users[agentIn].ID) }},
		{method: "PATCH", pattern: "/api/v1/users/{id}", mutates: true, want: adminOnly, // an agent cannot change roles
			path: func(w *world) string { return fmt.Sprintf("/api/v1/users/%d", w.user()) },
			body: func(*world) any { return map[string]string{"role": "supervisor"} }},

		{method: "GET", pattern: "/api/v1/inboxes", want: anyStaff},
		{method: "POST", pattern: "/api/v1/inboxes", want: adminOnly, body: func(*world) any { return map[string]string{"name": "New inbox"} }},
		{method: "GET", pattern: "/api/v1/inboxes/{id}", want: inboxStaff,
			path: func(w *world) string { return fmt.Sprintf("/api/v1/inboxes/%d", w.f.inbox.ID) }},
		{method: "PATCH", pattern: "/api/v1/inboxes/{id}", want: inboxAdmin,
			path: func(w *world) string { return fmt.Sprintf("/api/v1/inboxes/%d", w.f.inbox.ID) },
			body: func(*world) any { return map[string]any{"settings": map[string]string{"greeting": "Hello!"}} }},
		{method: "PUT", pattern: "/api/v1/inboxes/{id}/members/{user_id}", mutates: true, want: inboxAdmin,
			path: func(w *world) string { return fmt.Sprintf("/api/v1/inboxes/%d/members/%d", w.f.inbox.ID, w.user()) }},
		{method: "DELETE", pattern: "/api/v1/inboxes/{id}/members/{user_id}", mutates: true, want: inboxAdmin,
			path: func(w *world) string {
				return fmt.Sprintf("/api/v1/inboxes/%d/members/%d", w.f.inbox.ID, w.user(w.f.inbox.ID))
			}},

		{method: "GET", pattern: "/api/v1/departments", want: anyStaff},
		{method: "POST", pattern: "/api/v1/departments", want: adminOnly,
			body: func(*world) any { return map[string]string{"name": fmt.Sprintf("Dept %d", next())} }},
		{method: "GET", pattern: "/api/v1/departments/{id}", want: anyStaff,
			path: func(w *world) string { return fmt.Sprintf("/api/v1/departments/%d", w.department()) }},
		{method: "PATCH", pattern: "/api/v1/departments/{id}", mutates: true, want: adminOnly,
			path: func(w *world) string { return fmt.Sprintf("/api/v1/departments/%d", w.department()) },
			body: func(*world) any { return map[string]string{"name": fmt.Sprintf("Dept %d", next())} }},
		{method: "DELETE", pattern: "/api/v1/departments/{id}", mutates: true, want: adminOnly,
			path: func(w *world) string { return fmt.Sprintf("/api/v1/departments/%d", w.department()) }},

		{method: "GET", pattern: "/api/v1/conversations", want: anyStaff},
		{method: "GET", pattern: "/api/v1/conversations/{id}", path: conv(""), want: inboxStaff},
		{method: "PATCH", pattern: "/api/v1/conversations/{id}", path: conv(""), mutates: true, want: inboxStaff,
			body: func(w *world) any { return map[string]any{"category_id": w.category()} }},
		{method: "GET", pattern: "/api/v1/conversations/{id}/messages", path: conv("/messages"), want: inboxStaff},
		{method: "POST", pattern: "/api/v1/conversations/{id}/messages", path: conv("/messages"), mutates: true,
			want: staffOnly(ok, 404, 403, 403), body: text("Hello from staff")}, // a supervisor cannot post to the customer
		{method: "POST", pattern: "/api/v1/conversations/{id}/take", path: conv("/take"), mutates: true, waiting: true,
			want: staffOnly(ok, 404, 403, 403)}, // only operators take chats
		{method: "POST", pattern: "/api/v1/conversations/{id}/end", path: conv("/end"), mutates: true, want: inboxStaff},
		{method: "POST", pattern: "/api/v1/conversations/{id}/tickets", path: conv("/tickets"), mutates: true, want: inboxStaff},
		{method: "GET", pattern: "/api/v1/conversations/{id}/history", path: conv("/history"), want: inboxStaff},
		{method: "GET", pattern: "/api/v1/conversations/{id}/notes", path: conv("/notes"), want: inboxStaff},
		{method: "POST", pattern: "/api/v1/conversations/{id}/notes", path: conv("/notes"), mutates: true, want: inboxStaff, body: text("A note")},
		{method: "POST", pattern: "/api/v1/conversations/{id}/attachments", path: conv("/attachments"), mutates: true, upload: true,
			want: staffOnly(ok, 404, 403, 403)},
		{method: "POST", pattern: "/api/v1/conversations/{id}/block", path: conv("/block"), mutates: true, want: inboxStaff,
			body: func(*world) any { return map[string]string{"kind": "visitor", "reason": "spam"} }},
		{method: "GET", pattern: "/api/v1/attachments/{id}", want: inboxStaff,
			path: func(w *world) string { return fmt.Sprintf("/api/v1/attachments/%d", w.attachment()) }},
		{method: "GET", pattern: "/api/v1/contacts/{id}", want: inboxStaff,
			path: func(w *world) string { return fmt.Sprintf("/api/v1/contacts/%d", w.conversation().ContactID) }},
		{method: "GET", pattern: "/api/v1/contacts/{id}/conversations", want: inboxStaff,
			path: func(w *world) string {
				return fmt.Sprintf("/api/v1/contacts/%d/conversations", w.conversation().ContactID)
			}},

		{method: "GET", pattern: "/api/v1/categories", want: anyStaff},
		{method: "POST", pattern: "/api/v1/categories", want: adminOnly,
			body: func(*world) any { return map[string]string{"name": fmt.Sprintf("Category %d", next())} }},
		{method: "DELETE", pattern: "/api/v1/categories/{id}", mutates: true, want: adminOnly,
			path: func(w *world) string { return fmt.Sprintf("/api/v1/categories/%d", w.category()) }},
		{method: "GET", pattern: "/api/v1/canned-responses", want: anyStaff},
		{method: "POST", pattern: "/api/v1/canned-responses", want: supervisors,
			body: func(*world) any {
				return map[string]any{"shortcut": fmt.Sprintf("s%d", next()), "body": "Hi!", "personal": false}
			}},
		{method: "PATCH", pattern: "/api/v1/canned-responses/{id}", mutates: true, want: supervisors,
			path: func(w *world) string { return fmt.Sprintf("/api/v1/canned-responses/%d", w.canned()) },
			body: func(*world) any { return map[string]string{"title": "Renamed"} }},
		{method: "DELETE", pattern: "/api/v1/canned-responses/{id}", mutates: true, want: supervisors,
			path: func(w *world) string { return fmt.Sprintf("/api/v1/canned-responses/%d", w.canned()) }},
		{method: "GET", pattern: "/api/v1/blocks", want: supervisors},
		{method: "POST", pattern: "/api/v1/blocks", want: supervisors,
			body: func(*world) any {
				return map[string]string{"kind": "email", "value": fmt.Sprintf("spam%d@example.com", next())}
			}},
		{method: "DELETE", pattern: "/api/v1/blocks/{id}", mutates: true, want: supervisors,
			path: func(w *world) string { return fmt.Sprintf("/api/v1/blocks/%d", w.block()) }},

		{method: "GET", pattern: "/api/v1/widget/inboxes/{id}", want: everyone,
			path: func(w *world) string { return fmt.Sprintf("/api/v1/widget/inboxes/%d", w.f.inbox.ID) }},
		{method: "POST", pattern: "/api/v1/widget/visitors", want: everyone,
			body: func(w *world) any { return map[string]int64{"inbox_id": w.f.inbox.ID} }},
		{method: "PATCH", pattern: "/api/v1/widget/me", want: anyVisitor,
			body: func(*world) any { return map[string]string{"name": "Vera", "email": "vera@example.com"} }},
		{method: "GET", pattern: "/api/v1/widget/conversations", want: anyVisitor},
		{method: "POST", pattern: "/api/v1/widget/conversations", mutates: true, want: anyVisitor,
			body: func(w *world) any { w.conversation(); return map[string]any{"inbox_id": w.f.inbox.ID, "body": "Hi"} }},
		{method: "GET", pattern: "/api/v1/widget/conversations/{id}/messages", path: widgetConv("/messages"), want: ownVisitor},
		{method: "POST", pattern: "/api/v1/widget/conversations/{id}/messages", path: widgetConv("/messages"), mutates: true,
			want: ownVisitor, body: text("Hello from the visitor")},
		{method: "POST", pattern: "/api/v1/widget/conversations/{id}/attachments", path: widgetConv("/attachments"), mutates: true,
			upload: true, want: ownVisitor},
		{method: "GET", pattern: "/api/v1/widget/attachments/{id}", want: ownVisitor,
			path: func(w *world) string { return fmt.Sprintf("/api/v1/widget/attachments/%d", w.attachment()) }},
		{method: "POST", pattern: "/api/v1/widget/conversations/{id}/human", path: widgetConv("/human"), mutates: true, want: ownVisitor},
		{method: "POST", pattern: "/api/v1/widget/conversations/{id}/end", path: widgetConv("/end"), mutates: true, want: ownVisitor},
	}...)
}

// fixture is an organisation: the inbox under test with its agent and
// supervisor, another inbox with its agent, an admin; staff signed in with
// browser sessions.
type fixture struct {
	t      *testing.T
	env    *webtest.Env
	inbox  *sb.Inbox
	other  *sb.Inbox
	users  map[persona]*sb.User
	staff  map[persona]*client.Client
	anon   *client.Client
	shared *world
}

func newFixture(t *testing.T) *fixture {
	env := webtest.New(t, webtest.Options{Web: web.Config{DemoInboxID: 1}})
	f := &fixture{t: t, env: env, users: map[persona]*sb.User{}, staff: map[persona]*client.Client{}}
	f.inbox = env.Inbox(t, "Sales")
	f.other = env.Inbox(t, "Support")
	if f.inbox.ID != 1 {
		t.Fatalf("first inbox has id %d, want 1 (the demo inbox)", f.inbox.ID)
	}
	f.users[agentIn] = env.User(t, sb.RoleAgent, true, f.inbox.ID)
	f.users[agentOut] = env.User(t, sb.RoleAgent, true, f.other.ID)
	f.users[supervisor] = env.User(t, sb.RoleSupervisor, false, f.inbox.ID)
	f.users[admin] = env.User(t, sb.RoleAdmin, false)
	f.login()
	f.anon = f.client()
	f.shared = f.newWorld(false)
	return f
}

func (f *fixture) login() {
	for p, u := range f.users {
		c := f.client()
		if _, err := c.Login(context.Background(), u.Email, webtest.Password); err != nil {
			f.t.Fatal(err)
		}
		f.staff[p] = c
	}
}

// client returns a client that shows redirects instead of following them.
func (f *fixture) client() *client.Client {
	hc := &http.Client{
		Transport:     f.env.HTTP.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c, err := client.New(f.env.URL, client.WithHTTPClient(hc))
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *fixture) principal(p persona) *sb.Principal {
	u := f.users[p]
	return &sb.Principal{UserID: u.ID, Name: u.Name, Role: u.Role, Operator: u.Operator, InboxIDs: u.InboxIDs}
}

// world holds the objects one request works on, created when first asked for.
type world struct {
	f          *fixture
	waiting    bool
	a, b       *client.Client
	conv       *sb.Conversation
	attachID   int64
	deptID     int64
	categoryID int64
	cannedID   int64
	blockID    int64
	tokenID    int64
}

func (f *fixture) newWorld(waiting bool) *world { return &world{f: f, waiting: waiting} }

func (w *world) visitor(p persona) *client.Client {
	if w.a == nil {
		w.a, w.b = w.f.client(), w.f.client()
		for _, c := range []*client.Client{w.a, w.b} {
			if _, _, err := c.CreateVisitor(context.Background(), w.f.inbox.ID); err != nil {
				w.f.t.Fatal(err)
			}
		}
	}
	if p == visitorA {
		return w.a
	}
	return w.b
}

// conversation is visitor A's live chat in the inbox, assigned to the agent in it unless waiting.
func (w *world) conversation() *sb.Conversation {
	if w.conv != nil {
		return w.conv
	}
	t, ctx := w.f.t, context.Background()
	c, _, _, err := w.visitor(visitorA).StartConversation(ctx, w.f.inbox.ID, "I need help", "")
	if err != nil {
		t.Fatal(err)
	}
	if !w.waiting {
		if c, err = w.f.env.Service.Take(ctx, w.f.principal(agentIn), c.ID); err != nil {
			t.Fatal(err)
		}
	}
	w.conv = c
	return c
}

// end ends the world's conversation, so that the agent's chat count stays below their limit.
func (w *world) end() {
	if w.conv != nil {
		if _, err := w.f.env.Service.EndConversation(context.Background(), w.f.principal(admin), w.conv.ID); err != nil {
			w.f.t.Fatal(err)
		}
	}
}

func (w *world) attachment() int64 {
	if w.attachID == 0 {
		up, err := w.visitor(visitorA).VisitorUpload(context.Background(), w.conversation().ID, strings.NewReader("hello"), "hello.txt", "")
		if err != nil {
			w.f.t.Fatal(err)
		}
		w.attachID = up.Attachment.ID
	}
	return w.attachID
}

func (w *world) write(fn func(tx *store.Tx) error) {
	if err := w.f.env.DB.Write(context.Background(), fn); err != nil {
		w.f.t.Fatal(err)
	}
}

func (w *world) department() int64 {
	if w.deptID == 0 {
		d := &sb.Department{Name: fmt.Sprintf("Department %d", next())}
		w.write(func(tx *store.Tx) error { return tx.CreateDepartment(d) })
		w.deptID = d.ID
	}
	return w.deptID
}

func (w *world) category() int64 {
	if w.categoryID == 0 {
		c := &sb.Category{Name: fmt.Sprintf("Category %d", next())}
		w.write(func(tx *store.Tx) error { return tx.CreateCategory(c) })
		w.categoryID = c.ID
	}
	return w.categoryID
}

func (w *world) canned() int64 {
	if w.cannedID == 0 {
		c := &sb.CannedResponse{Shortcut: fmt.Sprintf("c%d", next()), Body: "Thanks!"}
		w.write(func(tx *store.Tx) error { return tx.CreateCannedResponse(c) })
		w.cannedID = c.ID
	}
	return w.cannedID
}

func (w *world) block() int64 {
	if w.blockID == 0 {
		b := &sb.Block{Kind: sb.BlockEmail, Value: fmt.Sprintf("b%d@example.com", next()), CreatedBy: w.f.users[admin].ID}
		w.write(func(tx *store.Tx) error { return tx.CreateBlock(b) })
		w.blockID = b.ID
	}
	return w.blockID
}

// agentToken is an API token of the agent in the inbox.
func (w *world) agentToken() int64 {
	if w.tokenID == 0 {
		_, tok := w.f.env.Token(w.f.t, w.f.users[agentIn])
		w.tokenID = tok.ID
	}
	return w.tokenID
}

// user is a fresh agent, member of the given inboxes.
func (w *world) user(inboxIDs ...int64) int64 {
	u := &sb.User{Email: fmt.Sprintf("fresh%d@example.com", next()), Name: "Fresh", Role: sb.RoleAgent}
	w.write(func(tx *store.Tx) error {
		if err := tx.CreateUser(u, ""); err != nil {
			return err
		}
		return tx.SetUserInboxes(u.ID, inboxIDs)
	})
	return u.ID
}

// call makes the row's request as persona p and returns the status.
func (f *fixture) call(row matrixRow, w *world, p persona) int {
	t := f.t
	path := row.pattern
	if row.path != nil {
		path = row.path(w)
	}
	var ctype string
	var body []byte
	switch {
	case row.upload:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		part, _ := mw.CreateFormFile("file", "notes.txt")
		part.Write([]byte("some notes"))
		mw.Close()
		ctype, body = mw.FormDataContentType(), buf.Bytes()
	case row.body != nil:
		var err error
		if body, err = json.Marshal(row.body(w)); err != nil {
			t.Fatal(err)
		}
		ctype = "application/json"
	}
	var c *client.Client
	switch p {
	case anonymous:
		c = f.anon
	case visitorA, visitorB:
		c = w.visitor(p)
	default:
		c = f.staff[p]
	}
	status, err := c.DoRaw(context.Background(), row.method, path, ctype, bytes.NewReader(body), nil)
	if status == 0 {
		t.Fatalf("%s %s as %s: %v", row.method, path, p, err)
	}
	if status >= 400 && !strings.HasPrefix(path, "/app") {
		var apiErr *client.Error
		if !asAPIError(err, &apiErr) || apiErr.Message == "" {
			t.Errorf("%s %s as %s: %d without a JSON error body (%v)", row.method, path, p, status, err)
		}
	}
	return status
}

func asAPIError(err error, target **client.Error) bool {
	e, ok := err.(*client.Error)
	if ok {
		*target = e
	}
	return ok
}

// checkWebSocket connects as the persona and says hello.
func checkWebSocket(t *testing.T, f *fixture, p persona) int {
	ctx := context.Background()
	var c *client.Client
	switch p {
	case anonymous:
		c = f.anon
	case visitorA, visitorB:
		c = f.shared.visitor(p)
	default:
		c = f.staff[p]
	}
	conn, err := c.Dial(ctx)
	if err != nil {
		t.Fatalf("dial as %s: %v", p, err)
	}
	defer conn.Close()
	ready, err := conn.Hello(ctx, 0)
	if err != nil {
		if client.CloseCode(err) == 4401 {
			return 401
		}
		t.Fatalf("hello as %s: %v", p, err)
	}
	if p >= agentIn && ready.UserID != f.users[p].ID {
		t.Errorf("ready as %s names user %d, want %d", p, ready.UserID, f.users[p].ID)
	}
	return 200
}

// TestAuthorizationMatrix calls every registered route as each persona of
// SECURITY.md and checks what each gets. A route without a row fails.
func TestAuthorizationMatrix(t *testing.T) {
	f := newFixture(t)
	rows := matrixRows()
	byRoute := map[string]matrixRow{}
	for _, row := range rows {
		key := row.method + " " + row.pattern
		if _, dup := byRoute[key]; dup {
			t.Fatalf("two matrix rows for %s", key)
		}
		byRoute[key] = row
	}
	for _, rt := range f.env.Web.Routes() {
		if _, ok := byRoute[rt.Method+" "+rt.Pattern]; !ok {
			t.Errorf("route %s %s has no row in the authorisation matrix", rt.Method, rt.Pattern)
		}
		delete(byRoute, rt.Method+" "+rt.Pattern)
	}
	for key := range byRoute {
		t.Errorf("matrix row %s is not a registered route", key)
	}
	for _, row := range rows {
		t.Run(row.method+" "+row.pattern, func(t *testing.T) {
			f.t = t
			defer func() { f.t = nil }()
			for p := anonymous; p < personas; p++ {
				got := f.run(row, p)
				want := row.want[p]
				if want == ok && (got < 200 || got > 299) || want != ok && got != want {
					t.Errorf("as %s: status %d, want %s", p, got, statusText(want))
				}
			}
			if row.relogin {
				f.login()
			}
		})
	}
}

// run makes one cell of the matrix: the row's request as persona p.
func (f *fixture) run(row matrixRow, p persona) int {
	if row.check != nil {
		return row.check(f.t, f, p)
	}
	if !row.mutates {
		return f.call(row, f.shared, p)
	}
	w := f.newWorld(row.waiting)
	defer w.end()
	return f.call(row, w, p)
}

func statusText(s int) string {
	if s == ok {
		return "2xx"
	}
	return fmt.Sprint(s)
}
