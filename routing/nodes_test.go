package routing_test

import (
	"os"
	"strings"
	"testing"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/routing"
	"github.com/switchboard/switchboard/store"
)

// node starts another engine on the world's database, as a second process
// would; id "" takes the default.
func (w *world) node(id string) *routing.Engine {
	w.t.Helper()
	e := routing.New(w.db, routing.Config{Clock: w.clock, Logger: quietLogger(), NodeID: id})
	if _, err := e.Step(w.ctx()); err != nil {
		w.t.Fatal(err)
	}
	return e
}

// presenceOf returns an agent's presence.
func (w *world) presenceOf(u *sb.User) sb.Presence {
	w.t.Helper()
	return w.load(u).Presence
}

// TestNodes: the processes that count realtime connections (P1) never
// share an id by default, and the connections of one that stops are
// forgotten once it has been silent for NodeTimeout (45 s), so that its
// agents go offline after the grace period (30 s) unless they reconnect.
func TestNodes(t *testing.T) {
	t.Run("default ids are unique per process", func(t *testing.T) {
		w := newWorld(t, sqliteDatabase)
		a, b := w.node(""), w.node("")
		if a.NodeID() == b.NodeID() {
			t.Fatalf("two engines share the id %q", a.NodeID())
		}
		if host, _ := os.Hostname(); !strings.HasPrefix(a.NodeID(), host+"-") {
			t.Fatalf("id %q does not name the host %q", a.NodeID(), host)
		}
	})
	eachBackend(t, func(t *testing.T, d backend) {
		t.Run("two processes on one host keep their own connection counts", func(t *testing.T) {
			w := newWorld(t, d)
			anna := w.agent("anna", 3, w.inbox("Web", nil))
			one, two := w.node(""), w.node("")
			one.OnConnect(anna.ID)
			two.OnConnect(anna.ID)
			two.OnDisconnect(anna.ID)   // the tab on the other process closed
			w.advance(40 * time.Second) // past the grace period
			if got := w.presenceOf(anna); got != sb.PresenceOnline {
				t.Fatalf("anna is %s while connected to the first process", got)
			}
		})

		t.Run("a silent node's connections are forgotten", func(t *testing.T) {
			w := newWorld(t, d)
			anna := w.agent("anna", 3, w.inbox("Web", nil))
			crashed := w.node("crashed")
			crashed.OnConnect(anna.ID)
			w.advance(30 * time.Second) // it does not step again: it crashed
			if got := w.presenceOf(anna); got != sb.PresenceOnline {
				t.Fatalf("anna is %s before the node was silent for long", got)
			}
			w.advance(20 * time.Second) // silent for 50 s: forgotten, the grace period starts
			w.advance(29 * time.Second)
			if got := w.presenceOf(anna); got != sb.PresenceOnline {
				t.Fatalf("anna is %s within the grace period", got)
			}
			w.advance(time.Second)
			if got := w.presenceOf(anna); got != sb.PresenceOffline {
				t.Fatalf("anna is %s after her node crashed and the grace period passed", got)
			}
		})

		t.Run("a stalled node records its connections again", func(t *testing.T) {
			w := newWorld(t, d)
			anna := w.agent("anna", 3, w.inbox("Web", nil))
			stalled := w.node("stalled")
			stalled.OnConnect(anna.ID)
			w.advance(50 * time.Second) // forgotten by the others
			if _, err := stalled.Step(w.ctx()); err != nil {
				t.Fatal(err)
			}
			w.advance(time.Minute)
			if got := w.presenceOf(anna); got != sb.PresenceOnline {
				t.Fatalf("anna is %s although her node came back", got)
			}
		})

		t.Run("connections counted without heartbeats are forgotten too", func(t *testing.T) {
			w := newWorld(t, d)
			anna := w.agent("anna", 3, w.inbox("Web", nil))
			// Counted under a host name by a version without heartbeats, which then stopped.
			w.write(func(tx *store.Tx) error { return tx.SetConnections("old-host", anna.ID, 2) })
			w.step()
			w.advance(50 * time.Second)
			w.advance(30 * time.Second)
			if got := w.presenceOf(anna); got != sb.PresenceOffline {
				t.Fatalf("anna is %s: connections of a node nobody keeps alive still count", got)
			}
		})
	})
}
