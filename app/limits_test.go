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

	t.Run("successful logins write nothing", func(t *testing.T) {
		for i := range 10 {
			if err := login(nodes[i%2], "sup@example.com", testPassword, "10.0.0.1"); err != nil {
				t.Fatal(err)
			}
		}
		if n := rateLimitRows(t, dsn); n != 0 {
			t.Fatalf("%d buckets stored after successful logins, want 0", n)
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
