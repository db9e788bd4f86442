package routing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/internal/testpg"
	"github.com/switchboard/switchboard/routing"
	"github.com/switchboard/switchboard/store"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// start is a Monday, 10:00 UTC.
var start = time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)

func newClock() *fakeClock { return &fakeClock{t: start} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// database opens handles on one test database: each call to open is a new
// *store.DB on the same data, so tests can restart or run two "nodes".
type database struct {
	name string
	dsn  string // PostgreSQL only
	open func(t testing.TB, clock sb.Clock) *store.DB
}

// backend makes fresh test databases of one kind.
type backend func(t testing.TB) database

// eachBackend runs f with SQLite and, when SWITCHBOARD_TEST_DATABASE_URL is
// set, PostgreSQL (each database a fresh schema). Under CI=true a missing
// PostgreSQL fails the test instead of skipping it.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { f(t, sqliteDatabase) })
	t.Run("postgres", func(t *testing.T) {
		postgresAvailable(t)
		f(t, postgresDatabase)
	})
}

func postgresAvailable(t testing.TB) { testpg.Require(t) }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func sqliteDatabase(t testing.TB) database {
	dir := t.TempDir()
	return database{name: "sqlite", open: func(t testing.TB, clock sb.Clock) *store.DB {
		t.Helper()
		db, err := store.Open(context.Background(), store.Config{Dir: dir, Clock: clock, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}}
}

func postgresDatabase(t testing.TB) database {
	t.Helper()
	dsn := testpg.URL(t)
	return database{name: "postgres", dsn: dsn, open: func(t testing.TB, clock sb.Clock) *store.DB {
		t.Helper()
		db, err := store.Open(context.Background(), store.Config{URL: dsn, Clock: clock, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}}
}

// world is one organisation over a database, with an engine driven by hand.
type world struct {
	t     testing.TB
	d     database
	clock *fakeClock
	db    *store.DB
	eng   *routing.Engine
	fired map[int64]int // deadline id → times fired

	mu     sync.Mutex
	events []sb.Event
	seq    atomic.Int64
}

func newWorld(t testing.TB, b backend) *world {
	t.Helper()
	w := &world{t: t, d: b(t), clock: newClock(), fired: map[int64]int{}}
	w.open()
	return w
}

// open (re)opens the store and a fresh engine on it.
func (w *world) open() {
	w.t.Helper()
	w.db = w.d.open(w.t, w.clock)
	w.db.OnCommit(func(events []sb.Event) {
		w.mu.Lock()
		w.events = append(w.events, events...)
		w.mu.Unlock()
	})
	w.eng = routing.New(w.db, routing.Config{Clock: w.clock, Logger: quietLogger(), NodeID: "test",
		Fired: func(d store.Deadline) {
			w.mu.Lock()
			w.fired[d.ID]++
			w.mu.Unlock()
		}})
}

// restart closes the store and engine, as a process exit would, and opens new ones.
func (w *world) restart() {
	w.t.Helper()
	w.db.Close()
	w.open()
}

func (w *world) ctx() context.Context { return context.Background() }

// step runs one engine step and fails the test on error.
func (w *world) step() {
	w.t.Helper()
	if _, err := w.eng.Step(w.ctx()); err != nil {
		w.t.Fatalf("step: %v", err)
	}
}

// advance moves the clock and lets the engine act.
func (w *world) advance(d time.Duration) {
	w.t.Helper()
	w.clock.Advance(d)
	w.step()
}

func (w *world) write(fn func(tx *store.Tx) error) {
	w.t.Helper()
	if err := w.db.Write(w.ctx(), fn); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) inbox(name string, edit func(s *sb.InboxSettings)) *sb.Inbox {
	w.t.Helper()
	in := &sb.Inbox{Name: name, Settings: sb.DefaultInboxSettings()}
	if edit != nil {
		edit(&in.Settings)
	}
	w.write(func(tx *store.Tx) error { return tx.CreateInbox(in) })
	return in
}

// agent creates an online operator with a chat limit, member of the inboxes.
func (w *world) agent(name string, limit int, inboxes ...*sb.Inbox) *sb.User {
	w.t.Helper()
	u := &sb.User{Email: fmt.Sprintf("%s-%d@example.com", name, w.seq.Add(1)), Name: name, Role: sb.RoleAgent, Operator: true, ChatLimit: limit}
	w.write(func(tx *store.Tx) error {
		if err := tx.CreateUser(u, ""); err != nil {
			return err
		}
		for _, in := range inboxes {
			if err := tx.AddInboxMember(in.ID, u.ID); err != nil {
				return err
			}
		}
		return nil
	})
	w.presence(u, sb.PresenceOnline)
	return u
}

func (w *world) presence(u *sb.User, p sb.Presence) {
	w.t.Helper()
	if err := routing.SetPresence(w.ctx(), w.db, u.ID, p); err != nil {
		w.t.Fatal(err)
	}
}

// arrive opens a waiting conversation of a new customer in the inbox.
func (w *world) arrive(in *sb.Inbox) *sb.Conversation {
	w.t.Helper()
	c := &sb.Conversation{InboxID: in.ID, Status: sb.StatusWaiting}
	w.write(func(tx *store.Tx) error {
		ct := &sb.Contact{Name: fmt.Sprintf("Customer %d", w.seq.Add(1))}
		if err := tx.CreateContact(ct); err != nil {
			return err
		}
		c.ContactID = ct.ID
		_, err := tx.CreateConversation(c, nil)
		return err
	})
	return c
}

func (w *world) conv(id int64) *sb.Conversation {
	w.t.Helper()
	c, err := w.db.Conversation(w.ctx(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *world) load(u *sb.User) store.AgentLoad {
	w.t.Helper()
	all, err := w.db.AgentLoads(w.ctx())
	if err != nil {
		w.t.Fatal(err)
	}
	for _, a := range all {
		if a.UserID == u.ID {
			return a
		}
	}
	w.t.Fatalf("no user %d", u.ID)
	return store.AgentLoad{}
}

// pendingOffer returns the pending offer of a conversation, or nil.
func (w *world) pendingOffer(c *sb.Conversation) *sb.Offer {
	w.t.Helper()
	all, err := w.db.AllPendingOffers(w.ctx())
	if err != nil {
		w.t.Fatal(err)
	}
	for _, o := range all {
		if o.ConversationID == c.ID {
			return o
		}
	}
	return nil
}

func (w *world) offersTo(u *sb.User) []*sb.Offer {
	w.t.Helper()
	all, err := w.db.PendingOffers(w.ctx(), u.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	return all
}

// mark returns the position in the captured events, for eventsSince.
func (w *world) mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.events)
}

// eventsSince returns the captured events of a type (all types: "") since a mark.
func (w *world) eventsSince(mark int, typ string) []sb.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []sb.Event
	for _, e := range w.events[mark:] {
		if typ == "" || e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// historyKinds returns the kinds of a conversation's history, in order.
func (w *world) historyKinds(c *sb.Conversation) []string {
	w.t.Helper()
	h, err := w.db.History(w.ctx(), c.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, e := range h {
		out = append(out, e.Kind)
	}
	return out
}

func decode[T any](t testing.TB, e sb.Event) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(e.Data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func mustCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := sb.ErrorCode(err); got != code {
		t.Fatalf("error code %q, want %q (%v)", got, code, err)
	}
}
