package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/store"
)

func TestMemoryLimiter(t *testing.T) {
	ctx := context.Background()
	clk := &stepClock{now: time.Unix(1e9, 0)}
	l := app.NewMemoryLimiter(app.Limit{Burst: 2, Every: time.Minute}, clk)
	take := func(key string) bool {
		ok, err := l.Take(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !take("a") || !take("a") {
		t.Fatal("the burst was refused")
	}
	if ok, _ := l.Allow(ctx, "a"); ok || take("a") {
		t.Fatal("a third attempt was allowed at once")
	}
	if !take("b") {
		t.Fatal("another key was limited")
	}
	clk.advance(time.Minute)
	if !take("a") || take("a") {
		t.Fatal("one attempt per minute should come back")
	}
}

func TestAddressKey(t *testing.T) {
	for _, c := range []struct{ addr, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
		{"not an address", "not an address"},
		{"", ""},
	} {
		if got := app.AddressKey(c.addr); got != c.want {
			t.Errorf("AddressKey(%q) = %q, want %q", c.addr, got, c.want)
		}
	}
}

// node is one Switchboard node of a test cluster: its own store connection
// pool and service over the cluster's database.
func node(t *testing.T, dsn string, clk sb.Clock, cfg app.Config) (*app.Service, *store.DB) {
	t.Helper()
	db := openStore(t, dsn, clk)
	return app.New(db, nil, clk, nil, cfg), db
}

// createUser stores a user with testPassword.
func createUser(t *testing.T, db *store.DB, email string) *sb.User {
	t.Helper()
	hash, err := app.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	u := &sb.User{Email: email, Name: "Agent", Role: sb.RoleAgent, Operator: true, ChatLimit: 3}
	if err := db.Write(context.Background(), func(tx *store.Tx) error { return tx.CreateUser(u, hash) }); err != nil {
		t.Fatal(err)
	}
	return u
}

// rateLimitRows counts the stored buckets, straight from the database.
func rateLimitRows(t *testing.T, dsn string) int {
	t.Helper()
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRow(`SELECT COUNT(*) FROM rate_limits`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// busyRateLimits counts the stored buckets that are not full at now.
func busyRateLimits(t *testing.T, dsn string, now time.Time) int {
	t.Helper()
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRow(`SELECT COUNT(*) FROM rate_limits WHERE tat > $1`, now.UnixMicro()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRateLimiterFollowsTheBackend(t *testing.T) {
	ctx := context.Background()
	l := app.Limit{Burst: 1, Every: time.Hour}
	t.Run("sqlite keeps limits in memory", func(t *testing.T) {
		db := openStore(t, "", nil)
		a, b := app.New(db, nil, nil, nil, app.Config{}), app.New(db, nil, nil, nil, app.Config{})
		la, lb := a.NewRateLimiter("test", l), b.NewRateLimiter("test", l)
		if _, ok := la.(*app.MemoryLimiter); !ok {
			t.Fatalf("on SQLite the limiter is a %T, want *app.MemoryLimiter", la)
		}
		// Two services over one SQLite store (never two nodes) keep their own counts.
		if ok, err := la.Take(ctx, "k"); !ok || err != nil {
			t.Fatalf("first take: %v %v", ok, err)
		}
		if ok, err := lb.Take(ctx, "k"); !ok || err != nil {
			t.Fatalf("the other service's take: %v %v, want its own budget", ok, err)
		}
	})
	t.Run("postgres keeps limits in the database", func(t *testing.T) {
		dsn := postgresSchema(t)
		a, _ := node(t, dsn, nil, app.Config{})
		if la := a.NewRateLimiter("test", l); !isShared(la) {
			t.Fatalf("on PostgreSQL the limiter is a %T, want *app.SharedLimiter", la)
		}
	})
}

func isShared(l app.RateLimiter) bool {
	_, ok := l.(*app.SharedLimiter)
	return ok
}

// TestSharedLoginLimits: on PostgreSQL, two nodes (two services with their
// own connections to one database) draw failed logins from one budget per
// address and per account, which refills with the clock and survives a
// node's restart; successful logins write nothing.
func TestSharedLoginLimits(t *testing.T) {
	ctx := context.Background()
	dsn := postgresSchema(t)
	clk := &stepClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	cfg := app.Config{LoginLimits: app.LoginLimits{
		PerAccount: app.Limit{Burst: 4, Every: time.Hour},
		PerAddress: app.Limit{Burst: 6, Every: time.Minute},
	}}
	a, db := node(t, dsn, clk, cfg)
	b, _ := node(t, dsn, clk, cfg)
	nodes := []*app.Service{a, b}
	agent := createUser(t, db, "agent@example.com")
	createUser(t, db, "sup@example.com")
	login := func(svc *app.Service, email, password, addr string) error {
		t.Helper()
		_, _, _, err := svc.Login(ctx, email, password, addr)
		return err
	}

	t.Run("successful logins cost nothing", func(t *testing.T) {
		for i := range 10 {
			if err := login(nodes[i%2], "sup@example.com", testPassword, "10.0.0.1"); err != nil {
				t.Fatal(err)
			}
		}
		// Each took an attempt while it checked the password and gave it back.
		if n := busyRateLimits(t, dsn, clk.Now()); n != 0 {
			t.Fatalf("%d buckets not full after successful logins, want 0", n)
		}
	})
	t.Run("per address across nodes", func(t *testing.T) {
		for i := range 6 {
			err := login(nodes[i%2], fmt.Sprintf("ghost%d@example.com", i), testPassword, "10.0.0.1")
			wantCode(t, err, sb.EUNAUTHORIZED)
		}
		for _, svc := range nodes {
			wantCode(t, login(svc, "ghost@example.com", testPassword, "10.0.0.1"), sb.ERATELIMIT)
			wantCode(t, login(svc, "sup@example.com", testPassword, "10.0.0.1"), sb.ERATELIMIT)
		}
		if err := login(b, "sup@example.com", testPassword, "10.0.0.2"); err != nil {
			t.Fatalf("another address is limited: %v", err)
		}
	})
	t.Run("the budget refills with the clock", func(t *testing.T) {
		clk.advance(time.Minute)
		wantCode(t, login(b, "ghost@example.com", testPassword, "10.0.0.1"), sb.EUNAUTHORIZED)
		wantCode(t, login(a, "ghost@example.com", testPassword, "10.0.0.1"), sb.ERATELIMIT)
		clk.advance(time.Minute)
		if err := login(a, "sup@example.com", testPassword, "10.0.0.1"); err != nil {
			t.Fatalf("a minute later: %v", err)
		}
	})
	t.Run("per account across nodes and addresses", func(t *testing.T) {
		for i := range 4 {
			err := login(nodes[i%2], "Agent@Example.com", "wrong password", fmt.Sprintf("10.1.0.%d", i))
			wantCode(t, err, sb.EUNAUTHORIZED)
		}
		for _, svc := range nodes {
			wantCode(t, login(svc, "agent@example.com", testPassword, "10.2.0.1"), sb.ERATELIMIT)
		}
		// Changing a password checks the same budget.
		p := &sb.Principal{UserID: agent.ID, Role: sb.RoleAgent}
		wantCode(t, b.ChangePassword(ctx, p, testPassword, "another long password"), sb.ERATELIMIT)
	})
	t.Run("a restarted node remembers", func(t *testing.T) {
		c, _ := node(t, dsn, clk, cfg)
		wantCode(t, login(c, "agent@example.com", testPassword, "10.2.0.1"), sb.ERATELIMIT)
	})
}

// TestSharedTokenFailures: failed token authentications, on any node, draw
// on the address's login budget; those that succeed cost nothing.
func TestSharedTokenFailures(t *testing.T) {
	ctx := context.Background()
	dsn := postgresSchema(t)
	clk := &stepClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	cfg := app.Config{LoginLimits: app.LoginLimits{PerAddress: app.Limit{Burst: 3, Every: time.Hour}}}
	a, db := node(t, dsn, clk, cfg)
	b, _ := node(t, dsn, clk, cfg)
	user := createUser(t, db, "agent@example.com")
	raw, hash := app.NewToken(app.PrefixAPI)
	if err := db.Write(ctx, func(tx *store.Tx) error {
		return tx.CreateAPIToken(&sb.APIToken{UserID: user.ID, Name: "t", TokenHash: hash})
	}); err != nil {
		t.Fatal(err)
	}
	authenticate := func(svc *app.Service, token string) error {
		t.Helper()
		_, err := svc.AuthenticateAPIToken(ctx, token)
		return svc.CountFailedToken(ctx, "10.0.0.1", err)
	}
	wrong, _ := app.NewToken(app.PrefixAPI)
	for range 5 {
		if err := authenticate(a, raw); err != nil {
			t.Fatal(err)
		}
	}
	if n := rateLimitRows(t, dsn); n != 0 {
		t.Fatalf("%d buckets stored after successful authentications, want 0", n)
	}
	wantCode(t, authenticate(a, wrong), sb.EUNAUTHORIZED)
	wantCode(t, authenticate(b, "sba_garbage"), sb.EUNAUTHORIZED)
	wantCode(t, b.CountFailedToken(ctx, "10.0.0.1", sb.Errorf(sb.EFORBIDDEN, "origin")), sb.EFORBIDDEN) // not counted
	wantCode(t, authenticate(a, wrong), sb.EUNAUTHORIZED)
	wantCode(t, authenticate(b, wrong), sb.ERATELIMIT)
	_, _, _, err := a.Login(ctx, "agent@example.com", testPassword, "10.0.0.1")
	wantCode(t, err, sb.ERATELIMIT)
	if err := authenticate(b, raw); err != nil {
		t.Fatalf("a real token from the limited address: %v (tokens are checked first, see CountFailedToken)", err)
	}
}

// TestSharedLimiterConcurrentTakes: many goroutines on two nodes taking
// from one key at once are granted exactly the burst, first take of a new
// key included.
func TestSharedLimiterConcurrentTakes(t *testing.T) {
	ctx := context.Background()
	dsn := postgresSchema(t)
	clk := &stepClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	a, _ := node(t, dsn, clk, app.Config{})
	b, _ := node(t, dsn, clk, app.Config{})
	const burst, workers = 10, 24
	l := app.Limit{Burst: burst, Every: time.Hour}
	limiters := []app.RateLimiter{a.NewRateLimiter("test", l), b.NewRateLimiter("test", l)}
	for round := range 3 {
		key := fmt.Sprintf("key-%d", round)
		var granted atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, 2*workers)
		for i := range 2 * workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for range 2 {
					ok, err := limiters[i%2].Take(ctx, key)
					if err != nil {
						errs <- err
						return
					}
					if ok {
						granted.Add(1)
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if got := granted.Load(); got != burst {
			t.Fatalf("round %d: %d takes granted, want %d", round, got, burst)
		}
	}
}

// eachLimiterBackend runs f with the nodes of a test deployment: one
// service on SQLite (one node, limits in memory), two on PostgreSQL (two
// nodes, limits in the database), all on clk.
func eachLimiterBackend(t *testing.T, clk sb.Clock, cfg app.Config, f func(t *testing.T, nodes []*app.Service, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		db := openStore(t, "", clk)
		f(t, []*app.Service{app.New(db, nil, clk, nil, cfg)}, db)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := postgresSchema(t)
		a, db := node(t, dsn, clk, cfg)
		b, _ := node(t, dsn, clk, cfg)
		f(t, []*app.Service{a, b}, db)
	})
}

// TestLimiterRefund: a refund gives back what a take used, never more than
// the burst, on both kinds of limiter.
func TestLimiterRefund(t *testing.T) {
	ctx := context.Background()
	l := app.Limit{Burst: 2, Every: time.Minute}
	eachLimiterBackend(t, nil, app.Config{}, func(t *testing.T, nodes []*app.Service, db *store.DB) {
		clk := &stepClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
		var lim app.RateLimiter
		if len(nodes) > 1 {
			lim = app.NewSharedLimiter(db, "test", l, clk, nil)
		} else {
			lim = app.NewMemoryLimiter(l, clk)
		}
		take := func(key string) bool {
			t.Helper()
			ok, err := lim.Take(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		refund := func(key string) {
			t.Helper()
			if err := lim.Refund(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
		if !take("a") || !take("a") || take("a") {
			t.Fatal("want the burst of 2, then a refusal")
		}
		refund("a")
		if !take("a") || take("a") {
			t.Fatal("a refund should give back exactly one attempt")
		}
		refund("a")
		refund("a")
		refund("a") // one more than was taken
		if !take("a") || !take("a") || take("a") {
			t.Fatal("refunds filled the bucket past its burst")
		}
		// Refunds never reach before now: time that passed is not given twice.
		clk.advance(time.Minute) // one attempt back
		refund("a")              // and the other
		refund("a")
		if !take("a") || !take("a") || take("a") {
			t.Fatal("refunds after a refill gave more than the burst")
		}
		refund("never-taken")
		if !take("never-taken") || !take("never-taken") || take("never-taken") {
			t.Fatal("refunding an unknown key changed its burst")
		}
	})
}

// TestConcurrentLoginGuesses: wrong passwords guessed all at once, on every
// node, get exactly the burst of answers; the rest are refused by the limit
// without a password check (SECURITY.md rule 4).
func TestConcurrentLoginGuesses(t *testing.T) {
	const burst = 4
	ctx := context.Background()
	clk := &stepClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	for _, c := range []struct {
		name        string
		limits      app.LoginLimits
		email, addr func(i int) string
	}{
		{"per account", app.LoginLimits{PerAccount: app.Limit{Burst: burst, Every: time.Hour}},
			func(int) string { return "agent@example.com" }, func(i int) string { return fmt.Sprintf("10.0.%d.1", i) }},
		{"per address", app.LoginLimits{PerAddress: app.Limit{Burst: burst, Every: time.Hour}},
			func(i int) string { return fmt.Sprintf("guess%d@example.com", i) }, func(int) string { return "10.0.0.1" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			eachLimiterBackend(t, clk, app.Config{LoginLimits: c.limits}, func(t *testing.T, nodes []*app.Service, db *store.DB) {
				createUser(t, db, "agent@example.com")
				wantAnswers(t, 3*burst, sb.EUNAUTHORIZED, burst, func(i int) error {
					_, _, _, err := nodes[i%len(nodes)].Login(ctx, c.email(i), "wrong password", c.addr(i))
					return err
				})
			})
		})
	}
}

// TestLoginRefunds: a successful login gives back the attempt it took while
// its password was checked, on both budgets; refused attempts check no
// password, and unknown accounts take as long as known ones.
func TestLoginRefunds(t *testing.T) {
	ctx := context.Background()
	clk := &stepClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	cfg := app.Config{LoginLimits: app.LoginLimits{
		PerAccount: app.Limit{Burst: 3, Every: time.Hour},
		PerAddress: app.Limit{Burst: 5, Every: time.Hour},
	}}
	eachLimiterBackend(t, clk, cfg, func(t *testing.T, nodes []*app.Service, db *store.DB) {
		createUser(t, db, "agent@example.com")
		createUser(t, db, "sup@example.com")
		login := func(i int, email, password, addr string) error {
			t.Helper()
			_, _, _, err := nodes[i%len(nodes)].Login(ctx, email, password, addr)
			return err
		}
		// Per account: 2 of 3 failures, from other addresses, then many
		// successes; the third failure is still there, and only it.
		for i := range 2 {
			wantCode(t, login(i, "agent@example.com", "wrong password", fmt.Sprintf("10.1.0.%d", i)), sb.EUNAUTHORIZED)
		}
		for i := range 5 {
			if err := login(i, "agent@example.com", testPassword, "10.2.0.1"); err != nil {
				t.Fatalf("login %d: %v", i, err)
			}
		}
		wantCode(t, login(0, "agent@example.com", "wrong password", "10.1.0.9"), sb.EUNAUTHORIZED)
		wantCode(t, login(1, "agent@example.com", testPassword, "10.1.0.9"), sb.ERATELIMIT)

		// Per address: 4 of 5 failures, then successes, then one failure left.
		for i := range 4 {
			wantCode(t, login(i, fmt.Sprintf("ghost%d@example.com", i), testPassword, "10.3.0.1"), sb.EUNAUTHORIZED)
		}
		for i := range 5 {
			if err := login(i, "sup@example.com", testPassword, "10.3.0.1"); err != nil {
				t.Fatalf("login %d: %v", i, err)
			}
		}
		wantCode(t, login(0, "ghost@example.com", testPassword, "10.3.0.1"), sb.EUNAUTHORIZED)
		wantCode(t, login(1, "sup@example.com", testPassword, "10.3.0.1"), sb.ERATELIMIT)

		// A refused attempt checks no password. An unknown account checks
		// one all the same (a stand-in), so that both take as long.
		checks := func(f func()) int64 {
			before := app.PasswordChecks()
			f()
			return app.PasswordChecks() - before
		}
		if n := checks(func() {
			wantCode(t, login(0, "agent@example.com", "wrong password", "10.4.0.1"), sb.ERATELIMIT)
		}); n != 0 {
			t.Errorf("a refused login checked %d passwords, want none", n)
		}
		if n := checks(func() {
			wantCode(t, login(0, "nobody@example.com", "wrong password", "10.4.0.1"), sb.EUNAUTHORIZED)
		}); n != 1 {
			t.Errorf("a login of an unknown account checked %d passwords, want 1", n)
		}
	})
}

// TestConcurrentPasswordChecks: changing a password checks the current one
// against the account's budget as Login does: wrong guesses in flight at
// once, on any node, never get more answers than the budget allows, and a
// right one gives its attempt back.
func TestConcurrentPasswordChecks(t *testing.T) {
	const burst = 4
	ctx := context.Background()
	clk := &stepClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	cfg := app.Config{LoginLimits: app.LoginLimits{PerAccount: app.Limit{Burst: burst, Every: time.Hour}}}
	eachLimiterBackend(t, clk, cfg, func(t *testing.T, nodes []*app.Service, db *store.DB) {
		u := createUser(t, db, "agent@example.com")
		p := &sb.Principal{UserID: u.ID, Role: sb.RoleAgent}
		// Right answers first: they use up nothing.
		for range burst + 1 {
			if err := nodes[0].ChangePassword(ctx, p, testPassword, testPassword); err != nil {
				t.Fatalf("a right current password: %v", err)
			}
		}
		wantAnswers(t, 3*burst, sb.EFORBIDDEN, burst, func(i int) error {
			return nodes[i%len(nodes)].ChangePassword(ctx, p, "not my password", "a new long password")
		})
	})
}

// wantAnswers runs attempt(0…n-1) all at once and wants exactly answered of
// them answered with code (a wrong password) and the rest refused by a rate
// limit.
func wantAnswers(t *testing.T, n int, code string, answered int, attempt func(i int) error) {
	t.Helper()
	var wrong, limited atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := attempt(i)
			switch sb.ErrorCode(err) {
			case code:
				wrong.Add(1)
			case sb.ERATELIMIT:
				limited.Add(1)
			default:
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("unexpected answer: %v", err)
	}
	if wrong.Load() != int64(answered) || limited.Load() != int64(n-answered) {
		t.Fatalf("%d wrong-password answers and %d refusals, want %d and %d", wrong.Load(), limited.Load(), answered, n-answered)
	}
}
