package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/client"
	"github.com/switchboard/switchboard/web"
	"github.com/switchboard/switchboard/web/webtest"
)

// sessionCookie returns the session cookie a signed-in client holds.
func sessionCookie(t *testing.T, c *client.Client) *http.Cookie {
	t.Helper()
	ck := c.SessionCookie()
	if ck == nil {
		t.Fatal("no session cookie")
	}
	return ck
}

func TestCSRF(t *testing.T) {
	env := webtest.New(t, webtest.Options{Web: web.Config{AllowedOrigins: []string{"https://support.example.com"}}})
	u := env.User(t, sb.RoleAgent, true)
	signedIn := env.SessionClient(t, u)
	cookie := "sb_session=" + sessionCookie(t, signedIn).Value
	csrf := signedIn.CSRFToken()
	if csrf == "" {
		t.Fatal("login gave no CSRF token")
	}
	// A token that differs from the real one in its first character (a fixed
	// replacement would equal the real token whenever it starts with it).
	wrong := "x" + csrf[1:]
	if csrf[0] == 'x' {
		wrong = "y" + csrf[1:]
	}
	origin := env.URL
	apiToken, _ := env.Token(t, u)
	body := []byte(`{"name":"integration"}`)
	const js = "application/json"

	cases := []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"cookie without the CSRF token", map[string]string{"Cookie": cookie, "Origin": origin}, 403},
		{"cookie with a wrong CSRF token", map[string]string{"Cookie": cookie, "Origin": origin, "X-CSRF-Token": wrong}, 403},
		{"cookie and token from a foreign origin", map[string]string{"Cookie": cookie, "Origin": "https://evil.example", "X-CSRF-Token": csrf}, 403},
		{"cookie and token from a null origin", map[string]string{"Cookie": cookie, "Origin": "null", "X-CSRF-Token": csrf}, 403},
		{"cookie and token sent cross-site", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site", "X-CSRF-Token": csrf}, 403},
		{"cookie and token from the same origin", map[string]string{"Cookie": cookie, "Origin": origin, "X-CSRF-Token": csrf}, 201},
		{"cookie and token from an allowed origin", map[string]string{"Cookie": cookie, "Origin": "https://support.example.com", "X-CSRF-Token": csrf}, 201},
		{"cookie and token without Origin (not a browser)", map[string]string{"Cookie": cookie, "X-CSRF-Token": csrf}, 201},
		{"bearer token needs no CSRF token", map[string]string{"Authorization": "Bearer " + apiToken, "Origin": "https://evil.example"}, 201},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, err := env.DB.APITokens(context.Background(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			status, code := send(t, env, rawRequest{"POST", "/api/v1/tokens", js, body, tc.header})
			if status != tc.want {
				t.Fatalf("status %d (%s), want %d", status, code, tc.want)
			}
			after, _ := env.DB.APITokens(context.Background(), u.ID)
			if created := len(after) - len(before); (status == 201) != (created == 1) || created > 1 {
				t.Errorf("%d tokens created", created)
			}
		})
	}

	t.Run("reads need no CSRF token", func(t *testing.T) {
		if status, _ := send(t, env, rawRequest{"GET", "/api/v1/me", "", nil, map[string]string{"Cookie": cookie}}); status != 200 {
			t.Errorf("GET /me with the cookie only: %d, want 200", status)
		}
	})
	t.Run("login from a foreign page is refused", func(t *testing.T) {
		login := []byte(`{"email":"` + u.Email + `","password":"` + webtest.Password + `"}`)
		if status, _ := send(t, env, rawRequest{"POST", "/api/v1/auth/login", js, login, map[string]string{"Origin": "https://evil.example"}}); status != 403 {
			t.Errorf("cross-origin login: %d, want 403", status)
		}
	})
	t.Run("a cookie WebSocket from a foreign origin is refused", func(t *testing.T) {
		h := http.Header{"Cookie": {cookie}, "Origin": {"https://evil.example"}}
		wsURL := strings.Replace(env.URL, "http", "ws", 1) + "/api/v1/ws"
		conn, res, err := websocket.Dial(context.Background(), wsURL, &websocket.DialOptions{HTTPHeader: h})
		if err == nil {
			conn.CloseNow()
			t.Fatal("the upgrade was accepted")
		}
		if res == nil || res.StatusCode != 403 {
			t.Errorf("upgrade answered %v, want 403", res)
		}
	})
}

func TestSessionCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		env := webtest.New(t, webtest.Options{Web: web.Config{SecureCookies: secure}})
		u := env.User(t, sb.RoleAgent, true)
		res, err := env.HTTP.Client().Post(env.URL+"/api/v1/auth/login", "application/json",
			strings.NewReader(`{"email":"`+u.Email+`","password":"`+webtest.Password+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		var ck *http.Cookie
		for _, c := range res.Cookies() {
			if c.Name == web.CookieName {
				ck = c
			}
		}
		if ck == nil {
			t.Fatal("no session cookie")
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure != secure || ck.MaxAge <= 0 {
			t.Errorf("cookie %+v: want HttpOnly, SameSite=Lax, Path=/, Secure=%v, a MaxAge", ck, secure)
		}
		if !strings.HasPrefix(ck.Value, app.PrefixSession) || len(ck.Value) < len(app.PrefixSession)+22 {
			t.Errorf("session token %q is not at least 128 random bits", ck.Value)
		}
	}
}

func TestLoginAndLogout(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	ctx := context.Background()
	u := env.User(t, sb.RoleAgent, true)
	c := env.Client(t)

	if _, err := c.Login(ctx, u.Email, "wrong password!"); client.StatusOf(err) != 401 {
		t.Fatalf("wrong password: %v, want 401", err)
	}
	if _, err := c.Login(ctx, "nobody@example.com", webtest.Password); client.StatusOf(err) != 401 {
		t.Fatalf("unknown account: %v, want 401", err)
	}
	me, err := c.Login(ctx, strings.ToUpper(u.Email), webtest.Password)
	if err != nil || me.ID != u.ID {
		t.Fatalf("login: %+v, %v", me, err)
	}
	old := sessionCookie(t, c).Value
	if got, err := c.Me(ctx); err != nil || got.ID != u.ID {
		t.Fatalf("me: %+v, %v", got, err)
	}
	// A new login gets a new token.
	if _, err := c.Login(ctx, u.Email, webtest.Password); err != nil {
		t.Fatal(err)
	}
	if sessionCookie(t, c).Value == old {
		t.Error("a second login reused the session token")
	}
	current := sessionCookie(t, c).Value
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if status, _ := send(t, env, rawRequest{"GET", "/api/v1/me", "", nil, map[string]string{"Cookie": "sb_session=" + current}}); status != 401 {
		t.Errorf("the logged-out session still works: %d", status)
	}
	if status, _ := send(t, env, rawRequest{"GET", "/api/v1/me", "", nil, map[string]string{"Cookie": "sb_session=" + old}}); status != 200 {
		t.Errorf("the other session ended too: %d", status)
	}
}

func TestLoginAttemptsAreLimited(t *testing.T) {
	env := webtest.New(t, webtest.Options{App: app.Config{LoginLimits: app.LoginLimits{
		PerAccount: app.Limit{Burst: 3, Every: time.Hour},
		PerAddress: app.Limit{Burst: 100, Every: time.Hour},
	}}})
	ctx := context.Background()
	u := env.User(t, sb.RoleAgent, true)
	c := env.Client(t)
	for i := 0; i < 3; i++ {
		if _, err := c.Login(ctx, u.Email, "not the password"); client.StatusOf(err) != 401 {
			t.Fatalf("attempt %d: %v, want 401", i, err)
		}
	}
	if _, err := c.Login(ctx, u.Email, webtest.Password); client.StatusOf(err) != 429 {
		t.Fatalf("after 3 failures even the right password: %v, want 429", err)
	}
	other := env.User(t, sb.RoleAgent, true)
	if _, err := c.Login(ctx, other.Email, webtest.Password); err != nil {
		t.Fatalf("another account is not limited: %v", err)
	}
}

// TestAccessChangesTakeEffectAtOnce: removing a user from an inbox,
// changing their role or disabling them applies to their next request and
// closes their open WebSockets.
func TestAccessChangesTakeEffectAtOnce(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	ctx := context.Background()
	inbox := env.Inbox(t, "Sales")
	agentUser := env.User(t, sb.RoleAgent, true, inbox.ID)
	adminUser := env.User(t, sb.RoleOwner, false)
	agent := env.SessionClient(t, agentUser)
	tokenAgent := env.TokenClient(t, agentUser)
	admin := env.TokenClient(t, adminUser)
	customer := env.VisitorClient(t, inbox.ID)
	conv, _, _, err := customer.StartConversation(ctx, inbox.ID, "Hello", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := agent.Conversation(ctx, conv.ID); err != nil {
		t.Fatal(err)
	}
	ws, _ := dialHello(t, agent, 0)

	// Removed from the inbox: the conversation is gone for them, and the socket closes.
	if _, err := admin.Do(ctx, "DELETE", fmt.Sprintf("/api/v1/inboxes/%d/members/%d", inbox.ID, agentUser.ID), nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.Conversation(ctx, conv.ID); client.StatusOf(err) != 404 {
		t.Errorf("after removal: %v, want 404", err)
	}
	select {
	case <-ws.Done():
		if code := client.CloseCode(ws.Err()); code != 4001 {
			t.Errorf("socket closed with %d (%v), want 4001", code, ws.Err())
		}
	case <-time.After(5 * time.Second):
		t.Error("the agent's socket stayed open after removal from the inbox")
	}

	// Promoted: the new role applies on the next request.
	if _, err := admin.UpdateUser(ctx, agentUser.ID, map[string]any{"role": "admin"}); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.Conversation(ctx, conv.ID); err != nil {
		t.Errorf("as admin: %v", err)
	}

	// Disabled: every credential is refused at once.
	if _, err := admin.UpdateUser(ctx, agentUser.ID, map[string]any{"disabled": true}); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.Me(ctx); client.StatusOf(err) != 401 {
		t.Errorf("disabled, session: %v, want 401", err)
	}
	if _, err := tokenAgent.Me(ctx); client.StatusOf(err) != 401 {
		t.Errorf("disabled, API token: %v, want 401", err)
	}
	if _, err := env.Client(t).Login(ctx, agentUser.Email, webtest.Password); client.StatusOf(err) != 401 {
		t.Errorf("disabled, login: %v, want 401", err)
	}
	conn, err := tokenAgent.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Hello(ctx, 0); client.CloseCode(err) != 4401 {
		t.Errorf("disabled, WebSocket hello: %v, want close 4401", err)
	}
}

func TestAPITokens(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	ctx := context.Background()
	u := env.User(t, sb.RoleAgent, true)
	session := env.SessionClient(t, u)
	raw, tok, err := session.CreateToken(ctx, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(raw, app.PrefixAPI) || tok.Name != "ci" {
		t.Fatalf("token %q %+v", raw, tok)
	}
	bearer := env.Client(t)
	bearer.SetToken(raw)
	if me, err := bearer.Me(ctx); err != nil || me.ID != u.ID {
		t.Fatalf("me with the token: %+v, %v", me, err)
	}
	var list client.List[sb.APIToken]
	if _, err := bearer.Do(ctx, "GET", "/api/v1/tokens", nil, &list); err != nil || len(list.Items) != 1 {
		t.Fatalf("tokens: %+v, %v", list, err)
	}
	if err := session.DeleteToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := bearer.Me(ctx); client.StatusOf(err) != 401 {
		t.Errorf("revoked token: %v, want 401", err)
	}
}

func TestSecurityHeaders(t *testing.T) {
	env := webtest.New(t, webtest.Options{Web: web.Config{DemoInboxID: 1}})
	env.Inbox(t, "Demo")
	for _, path := range []string{"/", "/demo", "/api/v1/me", "/healthz", "/widget.js", "/api/v1/openapi.json", "/nowhere"} {
		res, err := env.HTTP.Client().Get(env.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		h := res.Header
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
			t.Errorf("%s: nosniff/Referrer-Policy missing: %v", path, h)
		}
		csp := h.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: CSP %q lacks %s", path, csp, d)
			}
		}
	}
}

func TestWidgetCORS(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	// A widget inbox that any site may embed: without one, no page may
	// use the widget API and preflights are refused (origins_test.go).
	env.Inbox(t, "Shop")
	req, _ := http.NewRequest("OPTIONS", env.URL+"/api/v1/widget/visitors", nil)
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type,authorization")
	res, err := env.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	h := res.Header
	if res.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") || h.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight: %d %v", res.StatusCode, h)
	}
	// The staff API answers no CORS.
	req, _ = http.NewRequest("GET", env.URL+"/api/v1/me", nil)
	req.Header.Set("Origin", "https://shop.example")
	res, err = env.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("the staff API allowed a foreign origin")
	}
}

func TestOperationalEndpoints(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	u, _ := url.Parse(env.URL)
	for _, c := range [][2]string{
		{"/healthz", `"ok"`},
		{"/readyz", `"ready"`},
		{"/metrics", `switchboard_http_requests_total{code="200",method="GET",route="/healthz"} 1`},
		{"/widget.js", "Switchboard website widget"},
		{"/demo", "not enabled"},
	} {
		path, want := c[0], c[1]
		res, err := env.HTTP.Client().Get(u.String() + path)
		if err != nil {
			t.Fatal(err)
		}
		b := new(strings.Builder)
		_, _ = io.Copy(b, res.Body)
		res.Body.Close()
		if !strings.Contains(b.String(), want) {
			t.Errorf("%s: body lacks %q", path, want)
		}
	}
}
