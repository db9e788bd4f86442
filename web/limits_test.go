package web_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/client"
	"github.com/switchboard/switchboard/web"
	"github.com/switchboard/switchboard/web/webtest"
)

// TestFailedTokensAreLimitedOnEveryTransport: refused API and visitor
// tokens, over REST and in a WebSocket hello, draw on the client address's
// login budget (SECURITY.md rule 4); tokens that work cost nothing, and
// keep working once the budget is spent.
func TestFailedTokensAreLimitedOnEveryTransport(t *testing.T) {
	env := webtest.New(t, webtest.Options{App: app.Config{LoginLimits: app.LoginLimits{
		PerAddress: app.Limit{Burst: 4, Every: time.Hour},
	}}})
	ctx := context.Background()
	inbox := env.Inbox(t, "Sales")
	u := env.User(t, sb.RoleAgent, true, inbox.ID)
	staff := env.TokenClient(t, u)
	visitor := env.VisitorClient(t, inbox.ID)
	wrongAPI, _ := app.NewToken(app.PrefixAPI)
	wrongVisitor, _ := app.NewToken(app.PrefixVisitor)
	withToken := func(token string) *client.Client {
		c := env.Client(t)
		c.SetToken(token)
		return c
	}
	hello := func(c *client.Client) error {
		t.Helper()
		conn, err := c.Dial(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, err = conn.Hello(ctx, 0)
		return err
	}

	// Well above the budget of working calls, on both transports.
	for range 10 {
		if _, err := staff.Me(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := visitor.VisitorConversations(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if err := hello(staff); err != nil {
			t.Fatal(err)
		}
		if err := hello(visitor); err != nil {
			t.Fatal(err)
		}
	}

	// Four failures, one per way in, use the budget up.
	if _, err := withToken(wrongAPI).Me(ctx); client.StatusOf(err) != 401 {
		t.Fatalf("wrong API token over REST: %v, want 401", err)
	}
	if _, err := withToken(wrongVisitor).VisitorConversations(ctx); client.StatusOf(err) != 401 {
		t.Fatalf("wrong visitor token over REST: %v, want 401", err)
	}
	if err := hello(withToken(wrongVisitor)); sb.ErrorCode(err) != sb.EUNAUTHORIZED || client.CloseCode(err) != 4401 {
		t.Fatalf("wrong visitor token in hello: %v, want unauthorized and close 4401", err)
	}
	if err := hello(withToken(wrongAPI)); sb.ErrorCode(err) != sb.EUNAUTHORIZED {
		t.Fatalf("wrong API token in hello: %v, want unauthorized", err)
	}

	// Then every way in is limited, logins too.
	if _, err := withToken(wrongAPI).Me(ctx); client.StatusOf(err) != 429 {
		t.Errorf("wrong API token over REST: %v, want 429", err)
	}
	if _, err := withToken(wrongVisitor).VisitorConversations(ctx); client.StatusOf(err) != 429 {
		t.Errorf("wrong visitor token over REST: %v, want 429", err)
	}
	if err := hello(withToken(wrongVisitor)); sb.ErrorCode(err) != sb.ERATELIMIT || client.CloseCode(err) != 4401 {
		t.Errorf("wrong visitor token in hello: %v, want rate_limited and close 4401", err)
	}
	if _, err := env.Client(t).Login(ctx, u.Email, webtest.Password); client.StatusOf(err) != 429 {
		t.Errorf("login from the address: %v, want 429", err)
	}
	// Tokens that work are checked before the budget (app.Service.CountFailedToken).
	if _, err := staff.Me(ctx); err != nil {
		t.Errorf("a real API token: %v", err)
	}
	if err := hello(visitor); err != nil {
		t.Errorf("a real visitor token in hello: %v", err)
	}
}

// TestNewVisitorsAreLimited: new widget visitors per client address, with
// the clock the service is given.
func TestNewVisitorsAreLimited(t *testing.T) {
	clk := &limitClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	env := webtest.New(t, webtest.Options{Clock: clk, Web: web.Config{NewVisitors: app.Limit{Burst: 3, Every: time.Minute}}})
	ctx := context.Background()
	inbox := env.Inbox(t, "Sales")
	for i := range 3 {
		if _, _, err := env.Client(t).CreateVisitor(ctx, inbox.ID); err != nil {
			t.Fatalf("visitor %d: %v", i, err)
		}
	}
	if _, _, err := env.Client(t).CreateVisitor(ctx, inbox.ID); client.StatusOf(err) != 429 {
		t.Fatalf("a fourth visitor at once: %v, want 429", err)
	}
	clk.advance(time.Minute)
	if _, _, err := env.Client(t).CreateVisitor(ctx, inbox.ID); err != nil {
		t.Fatalf("a minute later: %v", err)
	}
}

// TestLimitsCountIPv6ByPrefix: every per-address limit (failed logins,
// failed tokens, new visitors) counts an IPv6 client by its /64, seen as
// the peer or through a trusted proxy, and an IPv4-mapped address as its
// IPv4 address; other networks keep their own budgets.
func TestLimitsCountIPv6ByPrefix(t *testing.T) {
	env := webtest.New(t, webtest.Options{
		App: app.Config{LoginLimits: app.LoginLimits{PerAddress: app.Limit{Burst: 3, Every: time.Hour}}},
		Web: web.Config{
			NewVisitors:    app.Limit{Burst: 2, Every: time.Hour},
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")},
		},
	})
	inbox := env.Inbox(t, "Sales")
	wrongToken, _ := app.NewToken(app.PrefixAPI)
	// from serves a request whose peer is peer (and, through the trusted
	// proxy, whose client is forwarded) and returns its status.
	from := func(peer, forwarded, method, path, body, token string) int {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.RemoteAddr = peer
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if forwarded != "" {
			req.Header.Set("X-Forwarded-For", forwarded)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		env.Web.ServeHTTP(rec, req)
		return rec.Code
	}
	login := func(peer, forwarded string) int {
		t.Helper()
		return from(peer, forwarded, "POST", "/api/v1/auth/login", `{"email":"nobody@example.com","password":"wrong password"}`, "")
	}
	badToken := func(peer, forwarded string) int {
		t.Helper()
		return from(peer, forwarded, "GET", "/api/v1/me", "", wrongToken)
	}
	newVisitor := func(peer, forwarded string) int {
		t.Helper()
		return from(peer, forwarded, "POST", "/api/v1/widget/visitors", fmt.Sprintf(`{"inbox_id":%d}`, inbox.ID), "")
	}
	want := func(what string, got, want int) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %d, want %d", what, got, want)
		}
	}

	// Failed logins and tokens share one budget of 3 per address: three
	// hosts of one /64, one through the proxy, use it up for the whole /64.
	want("a login from 2001:db8:1:2::1", login("[2001:db8:1:2::1]:40000", ""), 401)
	want("a token from 2001:db8:1:2::2", badToken("[2001:db8:1:2::2]:40000", ""), 401)
	want("a login via the proxy for 2001:db8:1:2:aaaa::3", login("10.9.0.1:40000", "2001:db8:1:2:aaaa::3"), 401)
	want("a login from 2001:db8:1:2:ffff:ffff:ffff:ffff", login("[2001:db8:1:2:ffff:ffff:ffff:ffff]:40000", ""), 429)
	want("a token via the proxy for 2001:db8:1:2::9", badToken("10.9.0.1:40000", "2001:db8:1:2::9"), 429)
	// The next /64 has its own.
	want("a login from 2001:db8:1:3::1", login("[2001:db8:1:3::1]:40000", ""), 401)
	want("a token from 2001:db8:1:1::1", badToken("[2001:db8:1:1::1]:40000", ""), 401)

	// IPv4: each address its own budget, IPv4-mapped IPv6 the same as IPv4.
	for range 3 {
		want("a login from 192.0.2.1", login("192.0.2.1:40000", ""), 401)
	}
	want("a login from ::ffff:192.0.2.1", login("[::ffff:192.0.2.1]:40000", ""), 429)
	want("a login via the proxy for ::ffff:192.0.2.1", login("10.9.0.1:40000", "::ffff:192.0.2.1"), 429)
	want("a login from 192.0.2.2", login("192.0.2.2:40000", ""), 401)

	// New visitors: 2 per address.
	want("a visitor from 2001:db8:5:6::1", newVisitor("[2001:db8:5:6::1]:40000", ""), 201)
	want("a visitor via the proxy for 2001:db8:5:6:1::1", newVisitor("10.9.0.1:40000", "2001:db8:5:6:1::1"), 201)
	want("a visitor from 2001:db8:5:6::ffff", newVisitor("[2001:db8:5:6::ffff]:40000", ""), 429)
	want("a visitor from 2001:db8:5:7::1", newVisitor("[2001:db8:5:7::1]:40000", ""), 201)
}

// limitClock is a clock the test moves by hand.
type limitClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *limitClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *limitClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
