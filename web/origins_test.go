package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/client"
	"github.com/switchboard/switchboard/web/webtest"
)

const (
	shopOrigin = "https://shop.example"
	evilOrigin = "https://evil.example"
)

// widgetAnswer is what a page of origin would learn from a widget API call.
type widgetAnswer struct {
	status int
	acao   string // Access-Control-Allow-Origin
	code   string // the error code, if any
	body   []byte
}

// widgetCall makes a widget API request as a browser page of origin would
// ("" for no Origin header: a server or curl), with a visitor token if given.
func widgetCall(t *testing.T, env *webtest.Env, method, path, origin, token string, body any) widgetAnswer {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, env.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := env.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	a := widgetAnswer{status: res.StatusCode, acao: res.Header.Get("Access-Control-Allow-Origin")}
	a.body, _ = io.ReadAll(res.Body)
	if res.StatusCode >= 400 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(a.body, &e); err != nil || e.Error.Message == "" {
			t.Errorf("%s %s: %d without a JSON error: %q", method, path, res.StatusCode, a.body)
		}
		a.code = e.Error.Code
	}
	return a
}

// preflight asks, as a browser does before a cross-origin POST, whether
// origin may send it.
func preflight(t *testing.T, env *webtest.Env, path, origin string) widgetAnswer {
	t.Helper()
	req, err := http.NewRequest("OPTIONS", env.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	res, err := env.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return widgetAnswer{status: res.StatusCode, acao: res.Header.Get("Access-Control-Allow-Origin")}
}

// allowedFrom: a successful answer that the page of origin may read.
func allowedFrom(t *testing.T, what string, a widgetAnswer, origin string) {
	t.Helper()
	if a.status < 200 || a.status > 299 {
		t.Errorf("%s: status %d (%s), want 2xx", what, a.status, a.body)
	}
	if origin != "" && a.acao != origin {
		t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", what, a.acao, origin)
	}
}

// refused: 403 forbidden, and no CORS permission for the page to read it.
func refused(t *testing.T, what string, a widgetAnswer) {
	t.Helper()
	if a.status != http.StatusForbidden || a.acao != "" {
		t.Errorf("%s: status %d, Access-Control-Allow-Origin %q (%s); want 403 and none", what, a.status, a.acao, a.body)
	}
	if a.code != "" && a.code != sb.EFORBIDDEN {
		t.Errorf("%s: error code %q, want %q", what, a.code, sb.EFORBIDDEN)
	}
}

// originsEnv is a server whose only widget inbox allows shop.example, set by
// an admin through the API (in a form that needs normalising).
func originsEnv(t *testing.T) (*webtest.Env, *client.Client, *sb.Inbox) {
	t.Helper()
	env := webtest.New(t, webtest.Options{})
	admin := env.TokenClient(t, env.User(t, sb.RoleAdmin, false))
	shop, err := admin.CreateInbox(context.Background(), "Shop", sb.ChannelWidget,
		map[string]any{"allowed_origins": []string{"HTTPS://Shop.Example:443/", "http://localhost:3000"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(shop.Settings.AllowedOrigins), "[https://shop.example http://localhost:3000]"; got != want {
		t.Fatalf("stored allowed_origins = %s, want %s", got, want)
	}
	return env, admin, shop
}

func createVisitorFrom(t *testing.T, env *webtest.Env, inboxID int64, origin string) (widgetAnswer, string) {
	t.Helper()
	a := widgetCall(t, env, "POST", "/api/v1/widget/visitors", origin, "", map[string]int64{"inbox_id": inboxID})
	var out struct{ Token string }
	_ = json.Unmarshal(a.body, &out)
	return a, out.Token
}

func startFrom(t *testing.T, env *webtest.Env, inboxID int64, origin, token string) (widgetAnswer, int64) {
	t.Helper()
	a := widgetCall(t, env, "POST", "/api/v1/widget/conversations", origin, token,
		map[string]any{"inbox_id": inboxID, "body": "Hello", "client_id": client.NewClientID()})
	var out struct {
		Conversation struct{ ID int64 } `json:"conversation"`
	}
	_ = json.Unmarshal(a.body, &out)
	return a, out.Conversation.ID
}

func sendFrom(t *testing.T, env *webtest.Env, convID int64, origin, token string) widgetAnswer {
	t.Helper()
	return widgetCall(t, env, "POST", fmt.Sprintf("/api/v1/widget/conversations/%d/messages", convID), origin, token,
		map[string]string{"body": "More", "client_id": client.NewClientID()})
}

func TestWidgetAllowedOrigins(t *testing.T) {
	env, admin, shop := originsEnv(t)
	ctx := context.Background()

	// The shop's visitor, created and chatting from the shop's page.
	a, token := createVisitorFrom(t, env, shop.ID, shopOrigin)
	allowedFrom(t, "create a visitor from the allowed origin", a, shopOrigin)
	a, convID := startFrom(t, env, shop.ID, shopOrigin, token)
	allowedFrom(t, "start a conversation from the allowed origin", a, shopOrigin)
	messages := func() int {
		t.Helper()
		ms, err := env.DB.Messages(ctx, convID, sb.ThreadPublic, 0, 200)
		if err != nil {
			t.Fatal(err)
		}
		return len(ms)
	}

	t.Run("allowed origin", func(t *testing.T) {
		allowedFrom(t, "preflight", preflight(t, env, "/api/v1/widget/visitors", shopOrigin), shopOrigin)
		allowedFrom(t, "inbox", widgetCall(t, env, "GET", fmt.Sprintf("/api/v1/widget/inboxes/%d", shop.ID), shopOrigin, "", nil), shopOrigin)
		allowedFrom(t, "send", sendFrom(t, env, convID, shopOrigin, token), shopOrigin)
		allowedFrom(t, "list", widgetCall(t, env, "GET", "/api/v1/widget/conversations", shopOrigin, token, nil), shopOrigin)
		allowedFrom(t, "second allowed origin", sendFrom(t, env, convID, "http://localhost:3000", token), "http://localhost:3000")
	})

	t.Run("foreign origins", func(t *testing.T) {
		before := messages()
		for _, origin := range []string{
			evilOrigin,
			"https://shop.example.evil.example", // a look-alike host
			"http://shop.example",               // another scheme
			"https://shop.example:8443",         // another port
			"null",                              // a sandboxed frame or a file
		} {
			refused(t, origin+": preflight", preflight(t, env, "/api/v1/widget/visitors", origin))
			a, _ := createVisitorFrom(t, env, shop.ID, origin)
			refused(t, origin+": create a visitor", a)
			refused(t, origin+": inbox", widgetCall(t, env, "GET", fmt.Sprintf("/api/v1/widget/inboxes/%d", shop.ID), origin, "", nil))
			// The shop visitor's token, used from a foreign page.
			refused(t, origin+": send", sendFrom(t, env, convID, origin, token))
			refused(t, origin+": list", widgetCall(t, env, "GET", "/api/v1/widget/conversations", origin, token, nil))
			refused(t, origin+": update me", widgetCall(t, env, "PATCH", "/api/v1/widget/me", origin, token, map[string]string{"name": "Eve"}))
			a, _ = startFrom(t, env, shop.ID, origin, token)
			refused(t, origin+": start a conversation", a)
		}
		if got := messages(); got != before {
			t.Errorf("refused sends stored %d messages", got-before)
		}
	})

	t.Run("no Origin: not a browser", func(t *testing.T) {
		a, tok := createVisitorFrom(t, env, shop.ID, "")
		allowedFrom(t, "create a visitor", a, "")
		a, conv := startFrom(t, env, shop.ID, "", tok)
		allowedFrom(t, "start a conversation", a, "")
		allowedFrom(t, "send", sendFrom(t, env, conv, "", tok), "")
		allowedFrom(t, "the shop visitor's send", sendFrom(t, env, convID, "", token), "")
	})

	t.Run("the server's own pages", func(t *testing.T) {
		allowedFrom(t, "send", sendFrom(t, env, convID, env.URL, token), "")
	})

	t.Run("a visitor of an open inbox starting a chat in the shop's", func(t *testing.T) {
		open := env.Inbox(t, "Anywhere")
		a, tok := createVisitorFrom(t, env, open.ID, evilOrigin)
		allowedFrom(t, "create a visitor in the open inbox", a, evilOrigin)
		a, _ = startFrom(t, env, shop.ID, evilOrigin, tok)
		refused(t, "start a conversation in the shop's inbox", a)
	})

	t.Run("a removed origin stops working at once", func(t *testing.T) {
		if _, err := admin.Do(ctx, "PATCH", fmt.Sprintf("/api/v1/inboxes/%d", shop.ID),
			map[string]any{"settings": map[string]any{"allowed_origins": []string{"http://localhost:3000"}}}, nil); err != nil {
			t.Fatal(err)
		}
		refused(t, "send", sendFrom(t, env, convID, shopOrigin, token))
		a, _ := createVisitorFrom(t, env, shop.ID, shopOrigin)
		refused(t, "create a visitor", a)
	})

	t.Run("invalid origins are refused", func(t *testing.T) {
		for _, o := range []string{"shop.example", "https://shop.example/path", "ftp://shop.example", "https://user@shop.example", "*"} {
			_, err := admin.Do(ctx, "PATCH", fmt.Sprintf("/api/v1/inboxes/%d", shop.ID),
				map[string]any{"settings": map[string]any{"allowed_origins": []string{o}}}, nil)
			if client.StatusOf(err) != http.StatusBadRequest {
				t.Errorf("allowed origin %q: %v, want 400", o, err)
			}
		}
	})
}

func TestWidgetAnyOrigin(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	open := env.Inbox(t, "Anywhere") // allowed_origins empty: any site may embed it
	for _, origin := range []string{evilOrigin, shopOrigin, "null"} {
		allowedFrom(t, origin+": preflight", preflight(t, env, "/api/v1/widget/visitors", origin), origin)
		a, token := createVisitorFrom(t, env, open.ID, origin)
		allowedFrom(t, origin+": create a visitor", a, origin)
		a, convID := startFrom(t, env, open.ID, origin, token)
		allowedFrom(t, origin+": start a conversation", a, origin)
		allowedFrom(t, origin+": send", sendFrom(t, env, convID, origin, token), origin)
		if typ, code := helloFrom(t, env, origin, token); typ != "ready" {
			t.Errorf("%s: hello answered %s %s, want ready", origin, typ, code)
		}
	}
}

// helloFrom opens a WebSocket as a page of origin would ("" for none) and
// says hello with token; it returns the answer's type and error code.
func helloFrom(t *testing.T, env *webtest.Env, origin, token string) (typ, code string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(env.URL, "http")+"/api/v1/ws", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial from %q: %v", origin, err)
	}
	defer conn.CloseNow()
	hello, _ := json.Marshal(map[string]any{"type": "hello", "token": token, "after": 0})
	if err := conn.Write(ctx, websocket.MessageText, hello); err != nil {
		t.Fatal(err)
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("hello from %q: %v", origin, err)
		}
		var f struct{ Type, Code string }
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		if f.Type == "ready" || f.Type == "error" {
			if f.Type == "error" {
				// The server closes after an error frame.
				if _, _, err := conn.Read(ctx); websocket.CloseStatus(err) != 4401 {
					t.Errorf("after the error frame: %v, want close 4401", err)
				}
			}
			return f.Type, f.Code
		}
	}
}

func TestWidgetWebSocketOrigins(t *testing.T) {
	env, _, shop := originsEnv(t)
	// A visitor chatting in the shop's inbox.
	a, token := createVisitorFrom(t, env, shop.ID, shopOrigin)
	allowedFrom(t, "create a visitor", a, shopOrigin)
	if a, _ := startFrom(t, env, shop.ID, shopOrigin, token); a.status != http.StatusCreated {
		t.Fatalf("start a conversation: %d %s", a.status, a.body)
	}
	for _, c := range []struct {
		name, origin   string
		wantTyp, wantC string
	}{
		{"from the allowed origin", shopOrigin, "ready", ""},
		{"from the allowed origin, written differently", "HTTPS://SHOP.EXAMPLE", "ready", ""},
		{"without Origin", "", "ready", ""},
		{"from the server's own pages", env.URL, "ready", ""},
		{"from a foreign origin", evilOrigin, "error", sb.EFORBIDDEN},
		{"from a look-alike origin", "https://shop.example.evil.example", "error", sb.EFORBIDDEN},
		{"from a null origin", "null", "error", sb.EFORBIDDEN},
	} {
		t.Run(c.name, func(t *testing.T) {
			if typ, code := helloFrom(t, env, c.origin, token); typ != c.wantTyp || code != c.wantC {
				t.Errorf("hello answered %q %q, want %q %q", typ, code, c.wantTyp, c.wantC)
			}
		})
	}
}
