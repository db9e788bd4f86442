package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/store"
)

// stepClock is a clock the test moves by hand.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

const testPassword = "a long enough password"

// authOrg is an organisation for the auth, user and inbox tests: an owner,
// an admin, a supervisor and an agent, two inboxes, on a real SQLite store.
type authOrg struct {
	svc                          *app.Service
	db                           *store.DB
	clock                        *stepClock
	owner, admin, sup, agent     *sb.User
	ownerP, adminP, supP, agentP *sb.Principal
	sales, support               *sb.Inbox
	changed                      []int64 // users the change hook was called for
	changedMu                    sync.Mutex
}

func newAuthOrg(t *testing.T, cfg app.Config) *authOrg {
	t.Helper()
	ctx := context.Background()
	clk := &stepClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(ctx, store.Config{Dir: t.TempDir(), Clock: clk, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	o := &authOrg{db: db, clock: clk, svc: app.New(db, nil, clk, nil, cfg)}
	o.svc.SetUserChangeHook(func(id int64) {
		o.changedMu.Lock()
		o.changed = append(o.changed, id)
		o.changedMu.Unlock()
	})
	hash, err := app.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	o.sales = &sb.Inbox{Name: "Sales", Settings: sb.DefaultInboxSettings()}
	o.support = &sb.Inbox{Name: "Support", Settings: sb.DefaultInboxSettings()}
	mk := func(email string, role sb.Role) *sb.User {
		return &sb.User{Email: email, Name: string(role), Role: role, Operator: role == sb.RoleAgent, ChatLimit: 3}
	}
	o.owner, o.admin = mk("owner@example.com", sb.RoleOwner), mk("admin@example.com", sb.RoleAdmin)
	o.sup, o.agent = mk("sup@example.com", sb.RoleSupervisor), mk("agent@example.com", sb.RoleAgent)
	err = db.Write(ctx, func(tx *store.Tx) error {
		for _, in := range []*sb.Inbox{o.sales, o.support} {
			if err := tx.CreateInbox(in); err != nil {
				return err
			}
		}
		for _, u := range []*sb.User{o.owner, o.admin, o.sup, o.agent} {
			if err := tx.CreateUser(u, hash); err != nil {
				return err
			}
		}
		if err := tx.SetUserInboxes(o.sup.ID, []int64{o.sales.ID}); err != nil {
			return err
		}
		return tx.SetUserInboxes(o.agent.ID, []int64{o.sales.ID})
	})
	if err != nil {
		t.Fatal(err)
	}
	o.ownerP, o.adminP, o.supP, o.agentP = o.principal(t, o.owner), o.principal(t, o.admin), o.principal(t, o.sup), o.principal(t, o.agent)
	return o
}

func (o *authOrg) principal(t *testing.T, u *sb.User) *sb.Principal {
	t.Helper()
	raw, tok := app.NewToken(app.PrefixAPI)
	if err := o.db.Write(context.Background(), func(tx *store.Tx) error {
		return tx.CreateAPIToken(&sb.APIToken{UserID: u.ID, Name: "t", TokenHash: tok})
	}); err != nil {
		t.Fatal(err)
	}
	p, err := o.svc.AuthenticateAPIToken(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (o *authOrg) hookCalls() []int64 {
	o.changedMu.Lock()
	defer o.changedMu.Unlock()
	return slices.Clone(o.changed)
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := sb.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func TestLogin(t *testing.T) {
	ctx := context.Background()
	o := newAuthOrg(t, app.Config{})

	t.Run("right password starts a session", func(t *testing.T) {
		token, csrf, u, err := o.svc.Login(ctx, " AGENT@example.com ", testPassword, "10.0.0.1")
		if err != nil || u.ID != o.agent.ID || csrf == "" || len(token) < 40 {
			t.Fatalf("login: %q %q %+v %v", token, csrf, u, err)
		}
		p, sess, err := o.svc.AuthenticateSession(ctx, token)
		if err != nil || p.UserID != o.agent.ID || sess.CSRFToken != csrf {
			t.Fatalf("authenticate: %+v %+v %v", p, sess, err)
		}
		if !slices.Equal(p.InboxIDs, []int64{o.sales.ID}) || p.Role != sb.RoleAgent || !p.Operator {
			t.Errorf("principal %+v", p)
		}
	})
	t.Run("wrong password, unknown account and garbage are unauthorized alike", func(t *testing.T) {
		for _, c := range [][2]string{{"agent@example.com", "wrong password"}, {"nobody@example.com", testPassword}, {"", ""}} {
			_, _, _, err := o.svc.Login(ctx, c[0], c[1], "10.0.0.2")
			wantCode(t, err, sb.EUNAUTHORIZED)
		}
	})
	t.Run("garbage session tokens are unauthorized", func(t *testing.T) {
		for _, tok := range []string{"", "x", "sbs_", "sbs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "sba_nope"} {
			_, _, err := o.svc.AuthenticateSession(ctx, tok)
			wantCode(t, err, sb.EUNAUTHORIZED)
		}
	})
}

func TestLoginLimits(t *testing.T) {
	ctx := context.Background()
	o := newAuthOrg(t, app.Config{LoginLimits: app.LoginLimits{
		PerAccount: app.Limit{Burst: 2, Every: time.Hour},
		PerAddress: app.Limit{Burst: 5, Every: time.Hour},
	}})
	for i := 0; i < 2; i++ {
		_, _, _, err := o.svc.Login(ctx, "agent@example.com", "wrong password", "10.0.0.1")
		wantCode(t, err, sb.EUNAUTHORIZED)
	}
	_, _, _, err := o.svc.Login(ctx, "agent@example.com", testPassword, "10.0.0.9")
	wantCode(t, err, sb.ERATELIMIT) // per account, from any address
	// Per address: 5 failures in all from 10.0.0.1 (2 used above), whatever the accounts.
	for i := 0; i < 3; i++ {
		_, _, _, err := o.svc.Login(ctx, fmt.Sprintf("ghost%d@example.com", i), testPassword, "10.0.0.1")
		wantCode(t, err, sb.EUNAUTHORIZED)
	}
	_, _, _, err = o.svc.Login(ctx, "sup@example.com", testPassword, "10.0.0.1")
	wantCode(t, err, sb.ERATELIMIT)
	// Successful logins do not count.
	for i := 0; i < 10; i++ {
		if _, _, _, err := o.svc.Login(ctx, "sup@example.com", testPassword, "10.0.0.2"); err != nil {
			t.Fatal(err)
		}
	}
	// The limits refill with time.
	o.clock.advance(time.Hour)
	if _, _, _, err := o.svc.Login(ctx, "agent@example.com", testPassword, "10.0.0.1"); err != nil {
		t.Fatalf("after an hour: %v", err)
	}
}

func TestSessionTimeouts(t *testing.T) {
	ctx := context.Background()
	o := newAuthOrg(t, app.Config{SessionIdle: time.Hour, SessionAbsolute: 5 * time.Hour})
	login := func() string {
		token, _, _, err := o.svc.Login(ctx, "agent@example.com", testPassword, "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		return token
	}

	t.Run("idle", func(t *testing.T) {
		token := login()
		o.clock.advance(50 * time.Minute)
		if _, _, err := o.svc.AuthenticateSession(ctx, token); err != nil {
			t.Fatalf("used within the idle time: %v", err)
		}
		o.clock.advance(50 * time.Minute) // 50 min after the last use: still fine
		if _, _, err := o.svc.AuthenticateSession(ctx, token); err != nil {
			t.Fatalf("use renews the idle time: %v", err)
		}
		o.clock.advance(61 * time.Minute)
		_, _, err := o.svc.AuthenticateSession(ctx, token)
		wantCode(t, err, sb.EUNAUTHORIZED)
	})
	t.Run("absolute", func(t *testing.T) {
		token := login()
		for i := 0; i < 5; i++ {
			o.clock.advance(55 * time.Minute)
			if _, _, err := o.svc.AuthenticateSession(ctx, token); err != nil {
				t.Fatalf("after %d uses: %v", i, err)
			}
		}
		o.clock.advance(26 * time.Minute) // 5 h 1 min after login, busy all along
		_, _, err := o.svc.AuthenticateSession(ctx, token)
		wantCode(t, err, sb.EUNAUTHORIZED)
	})
	t.Run("logout", func(t *testing.T) {
		token := login()
		if err := o.svc.Logout(ctx, token); err != nil {
			t.Fatal(err)
		}
		_, _, err := o.svc.AuthenticateSession(ctx, token)
		wantCode(t, err, sb.EUNAUTHORIZED)
	})
	t.Run("password change ends every session", func(t *testing.T) {
		token := login()
		p, _, err := o.svc.AuthenticateSession(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		err = o.svc.ChangePassword(ctx, p, "not my password", "a new long password")
		wantCode(t, err, sb.EFORBIDDEN)
		if err := o.svc.ChangePassword(ctx, p, testPassword, "a new long password"); err != nil {
			t.Fatal(err)
		}
		_, _, err = o.svc.AuthenticateSession(ctx, token)
		wantCode(t, err, sb.EUNAUTHORIZED)
		if _, _, _, err := o.svc.Login(ctx, "agent@example.com", "a new long password", "10.0.0.1"); err != nil {
			t.Fatalf("login with the new password: %v", err)
		}
		if !slices.Contains(o.hookCalls(), o.agent.ID) {
			t.Error("the change hook was not called")
		}
	})
}

func TestAPITokenLifecycle(t *testing.T) {
	ctx := context.Background()
	o := newAuthOrg(t, app.Config{})
	raw, tok, err := o.svc.CreateAPIToken(ctx, o.agentP, "  ci  ")
	if err != nil || tok.Name != "ci" {
		t.Fatalf("create: %+v %v", tok, err)
	}
	if p, err := o.svc.AuthenticateAPIToken(ctx, raw); err != nil || p.UserID != o.agent.ID {
		t.Fatalf("authenticate: %+v %v", p, err)
	}
	// Someone else's token is not found.
	wantCode(t, o.svc.DeleteAPIToken(ctx, o.supP, tok.ID), sb.ENOTFOUND)
	if err := o.svc.DeleteAPIToken(ctx, o.agentP, tok.ID); err != nil {
		t.Fatal(err)
	}
	_, err = o.svc.AuthenticateAPIToken(ctx, raw)
	wantCode(t, err, sb.EUNAUTHORIZED)
	_, _, err = o.svc.CreateAPIToken(ctx, &sb.Principal{VisitorID: 1, ContactID: 1}, "x")
	wantCode(t, err, sb.EFORBIDDEN)
}

func TestUserManagementRules(t *testing.T) {
	ctx := context.Background()
	o := newAuthOrg(t, app.Config{})
	role := func(r sb.Role) *sb.Role { return &r }
	yes := true

	cases := []struct {
		name  string
		by    *sb.Principal
		user  *sb.User
		patch app.UserPatch
		code  string
	}{
		{"an agent cannot change roles", o.agentP, o.sup, app.UserPatch{Role: role(sb.RoleAgent)}, sb.EFORBIDDEN},
		{"an agent cannot promote themselves", o.agentP, o.agent, app.UserPatch{Role: role(sb.RoleAdmin)}, sb.EFORBIDDEN},
		{"a supervisor cannot change users", o.supP, o.agent, app.UserPatch{Role: role(sb.RoleSupervisor)}, sb.EFORBIDDEN},
		{"an admin cannot grant admin", o.adminP, o.agent, app.UserPatch{Role: role(sb.RoleAdmin)}, sb.EFORBIDDEN},
		{"an admin cannot grant owner", o.adminP, o.agent, app.UserPatch{Role: role(sb.RoleOwner)}, sb.EFORBIDDEN},
		{"an admin cannot touch the owner", o.adminP, o.owner, app.UserPatch{Disabled: &yes}, sb.EFORBIDDEN},
		{"nobody changes their own role", o.ownerP, o.owner, app.UserPatch{Role: role(sb.RoleAgent)}, sb.EFORBIDDEN},
		{"nobody disables themselves", o.adminP, o.admin, app.UserPatch{Disabled: &yes}, sb.EFORBIDDEN},
		{"an unknown role is invalid", o.ownerP, o.agent, app.UserPatch{Role: role("god")}, sb.EINVALID},
		{"an unknown user is not found", o.adminP, &sb.User{ID: 999}, app.UserPatch{}, sb.ENOTFOUND},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := o.db.User(ctx, tc.user.ID)
			_, err := o.svc.UpdateUser(ctx, tc.by, tc.user.ID, tc.patch)
			wantCode(t, err, tc.code)
			if after, _ := o.db.User(ctx, tc.user.ID); before != nil && (after.Role != before.Role || after.Disabled != before.Disabled) {
				t.Errorf("the user changed: %+v", after)
			}
		})
	}

	t.Run("an admin promotes an agent to supervisor, and the hook fires", func(t *testing.T) {
		u, err := o.svc.UpdateUser(ctx, o.adminP, o.agent.ID, app.UserPatch{Role: role(sb.RoleSupervisor)})
		if err != nil || u.Role != sb.RoleSupervisor {
			t.Fatalf("%+v %v", u, err)
		}
		if !slices.Contains(o.hookCalls(), o.agent.ID) {
			t.Error("hook not called")
		}
	})
	t.Run("the owner grants admin", func(t *testing.T) {
		if _, err := o.svc.UpdateUser(ctx, o.ownerP, o.sup.ID, app.UserPatch{Role: role(sb.RoleAdmin)}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("creating users", func(t *testing.T) {
		_, err := o.svc.CreateUser(ctx, o.supP, app.NewUser{Email: "x@example.com", Name: "X", Role: sb.RoleAgent, Password: testPassword})
		wantCode(t, err, sb.EFORBIDDEN)
		_, err = o.svc.CreateUser(ctx, o.adminP, app.NewUser{Email: "x@example.com", Name: "X", Role: sb.RoleAdmin, Password: testPassword})
		wantCode(t, err, sb.EFORBIDDEN)
		_, err = o.svc.CreateUser(ctx, o.adminP, app.NewUser{Email: "x@example.com", Name: "X", Role: sb.RoleAgent, Password: "short"})
		wantCode(t, err, sb.EINVALID)
		u, err := o.svc.CreateUser(ctx, o.adminP, app.NewUser{Email: "X@Example.com", Name: "X", Role: sb.RoleAgent, Operator: true,
			Password: testPassword, InboxIDs: []int64{o.support.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "x@example.com" || u.ChatLimit != sb.DefaultChatLimit || !slices.Equal(u.InboxIDs, []int64{o.support.ID}) {
			t.Errorf("created %+v", u)
		}
		_, err = o.svc.CreateUser(ctx, o.adminP, app.NewUser{Email: "x@example.com", Name: "X", Role: sb.RoleAgent, Password: testPassword})
		wantCode(t, err, sb.ECONFLICT)
		if _, _, _, err := o.svc.Login(ctx, "x@example.com", testPassword, "10.0.0.1"); err != nil {
			t.Errorf("the new user cannot log in: %v", err)
		}
	})
}

func TestDisablingAndInboxChangesApplyAtOnce(t *testing.T) {
	ctx := context.Background()
	o := newAuthOrg(t, app.Config{})
	token, _, _, err := o.svc.Login(ctx, "agent@example.com", testPassword, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	apiToken, _, err := o.svc.CreateAPIToken(ctx, o.agentP, "t")
	if err != nil {
		t.Fatal(err)
	}

	ids := []int64{o.support.ID}
	if _, err := o.svc.UpdateUser(ctx, o.adminP, o.agent.ID, app.UserPatch{InboxIDs: &ids}); err != nil {
		t.Fatal(err)
	}
	p, _, err := o.svc.AuthenticateSession(ctx, token)
	if err != nil || !slices.Equal(p.InboxIDs, ids) {
		t.Fatalf("after the inbox change: %+v %v", p, err)
	}

	yes := true
	if _, err := o.svc.UpdateUser(ctx, o.adminP, o.agent.ID, app.UserPatch{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	_, _, err = o.svc.AuthenticateSession(ctx, token)
	wantCode(t, err, sb.EUNAUTHORIZED)
	_, err = o.svc.AuthenticateAPIToken(ctx, apiToken)
	wantCode(t, err, sb.EUNAUTHORIZED)
	_, _, _, err = o.svc.Login(ctx, "agent@example.com", testPassword, "10.0.0.1")
	wantCode(t, err, sb.EUNAUTHORIZED)
	if n := len(o.hookCalls()); n != 2 {
		t.Errorf("hook called %d times, want 2 (inboxes, disabled)", n)
	}
}

func TestSelfService(t *testing.T) {
	ctx := context.Background()
	o := newAuthOrg(t, app.Config{})
	u, err := o.svc.UpdateMe(ctx, o.agentP, "  Agnes  ")
	if err != nil || u.Name != "Agnes" || u.Role != sb.RoleAgent {
		t.Fatalf("update me: %+v %v", u, err)
	}
	_, err = o.svc.UpdateMe(ctx, o.agentP, "")
	wantCode(t, err, sb.EINVALID)
	if u, err = o.svc.SetPresence(ctx, o.agentP, sb.PresenceOnline); err != nil || u.Presence != sb.PresenceOnline {
		t.Fatalf("presence: %+v %v", u, err)
	}
	_, err = o.svc.SetPresence(ctx, o.agentP, "busy")
	wantCode(t, err, sb.EINVALID)
	visitor := &sb.Principal{VisitorID: 1, ContactID: 1}
	_, err = o.svc.Me(ctx, visitor)
	wantCode(t, err, sb.EFORBIDDEN)
}

func TestInboxes(t *testing.T) {
	ctx := context.Background()
	o := newAuthOrg(t, app.Config{})

	t.Run("members see their inboxes, admins all", func(t *testing.T) {
		for _, c := range []struct {
			p    *sb.Principal
			want int
		}{{o.agentP, 1}, {o.supP, 1}, {o.adminP, 2}} {
			ins, err := o.svc.Inboxes(ctx, c.p)
			if err != nil || len(ins) != c.want {
				t.Errorf("role %s sees %d inboxes (%v), want %d", c.p.Role, len(ins), err, c.want)
			}
		}
		_, err := o.svc.Inbox(ctx, o.agentP, o.support.ID)
		wantCode(t, err, sb.ENOTFOUND)
		in, err := o.svc.Inbox(ctx, o.agentP, o.sales.ID)
		if err != nil || !slices.Contains(in.MemberIDs, o.agent.ID) {
			t.Errorf("inbox %+v %v", in, err)
		}
	})
	t.Run("only admins change inboxes", func(t *testing.T) {
		name := "Sales EU"
		_, err := o.svc.UpdateInbox(ctx, o.agentP, o.sales.ID, app.InboxPatch{Name: &name})
		wantCode(t, err, sb.EFORBIDDEN)
		_, err = o.svc.UpdateInbox(ctx, o.agentP, o.support.ID, app.InboxPatch{Name: &name})
		wantCode(t, err, sb.ENOTFOUND)
		_, err = o.svc.CreateInbox(ctx, o.supP, app.NewInbox{Name: "X"})
		wantCode(t, err, sb.EFORBIDDEN)
	})
	t.Run("settings are merged strictly", func(t *testing.T) {
		in, err := o.svc.UpdateInbox(ctx, o.adminP, o.sales.ID, app.InboxPatch{Settings: []byte(`{"greeting":"Hej!","chat_limit":5}`)})
		if err != nil {
			t.Fatal(err)
		}
		if in.Settings.Greeting != "Hej!" || in.Settings.ChatLimit != 5 || in.Settings.OfferTimeoutSec != 30 {
			t.Errorf("settings %+v", in.Settings)
		}
		for _, bad := range []string{`{"admin":true}`, `{"chat_limit":"many"}`, `[1]`, `{"chat_limit":500}`} {
			_, err := o.svc.UpdateInbox(ctx, o.adminP, o.sales.ID, app.InboxPatch{Settings: []byte(bad)})
			wantCode(t, err, sb.EINVALID)
		}
		created, err := o.svc.CreateInbox(ctx, o.adminP, app.NewInbox{Name: "Chat", Settings: []byte(`{"greeting":"Yo"}`)})
		if err != nil || created.Channel != sb.ChannelWidget || created.Settings.Greeting != "Yo" || created.Settings.AssignedIdleSec != 3600 {
			t.Errorf("created %+v %v", created, err)
		}
	})
	t.Run("membership changes call the hook", func(t *testing.T) {
		if err := o.svc.AddInboxMember(ctx, o.supP, o.sales.ID, o.agent.ID); sb.ErrorCode(err) != sb.EFORBIDDEN {
			t.Errorf("supervisor adds a member: %v", err)
		}
		if err := o.svc.AddInboxMember(ctx, o.adminP, o.support.ID, o.agent.ID); err != nil {
			t.Fatal(err)
		}
		if err := o.svc.AddInboxMember(ctx, o.adminP, o.support.ID, o.agent.ID); err != nil {
			t.Fatalf("adding twice: %v", err)
		}
		wantCode(t, o.svc.AddInboxMember(ctx, o.adminP, o.support.ID, 999), sb.ENOTFOUND)
		if err := o.svc.RemoveInboxMember(ctx, o.adminP, o.sales.ID, o.agent.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, o.svc.RemoveInboxMember(ctx, o.adminP, o.sales.ID, o.agent.ID), sb.ENOTFOUND)
		u, _ := o.db.User(ctx, o.agent.ID)
		if !slices.Equal(u.InboxIDs, []int64{o.support.ID}) {
			t.Errorf("inboxes %v", u.InboxIDs)
		}
		if calls := o.hookCalls(); len(calls) < 3 {
			t.Errorf("hook calls %v", calls)
		}
	})
}

func TestDepartments(t *testing.T) {
	ctx := context.Background()
	o := newAuthOrg(t, app.Config{})
	_, err := o.svc.CreateDepartment(ctx, o.supP, app.NewDepartment{Name: "Billing"})
	wantCode(t, err, sb.EFORBIDDEN)
	d, err := o.svc.CreateDepartment(ctx, o.adminP, app.NewDepartment{Name: "Billing", MemberIDs: []int64{o.agent.ID}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = o.svc.CreateDepartment(ctx, o.adminP, app.NewDepartment{Name: "Billing"})
	wantCode(t, err, sb.ECONFLICT)
	got, err := o.svc.Department(ctx, o.agentP, d.ID)
	if err != nil || !slices.Equal(got.MemberIDs, []int64{o.agent.ID}) {
		t.Fatalf("department %+v %v", got, err)
	}
	name := "Payments"
	_, err = o.svc.UpdateDepartment(ctx, o.agentP, d.ID, app.DepartmentPatch{Name: &name})
	wantCode(t, err, sb.EFORBIDDEN)
	if got, err = o.svc.UpdateDepartment(ctx, o.adminP, d.ID, app.DepartmentPatch{Name: &name}); err != nil || got.Name != name || len(got.MemberIDs) != 1 {
		t.Fatalf("rename: %+v %v", got, err)
	}
	wantCode(t, o.svc.DeleteDepartment(ctx, o.supP, d.ID), sb.EFORBIDDEN)
	if err := o.svc.DeleteDepartment(ctx, o.adminP, d.ID); err != nil {
		t.Fatal(err)
	}
	_, err = o.svc.Department(ctx, o.adminP, d.ID)
	wantCode(t, err, sb.ENOTFOUND)
}
