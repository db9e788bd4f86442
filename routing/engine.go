// Package routing decides who serves whom (issue 3): agents' presence,
// capacity, offers, transfers, queues, business hours, tickets and
// inactivity timers.
//
// The database is the single source of truth and every decision is made in
// a database transaction that re-checks what it relies on (the agent's row
// is locked on PostgreSQL), so limits hold when several processes route at
// once. The Engine serves the queues: it reacts to every committed event
// that can change who should get what (store.DB.OnCommit in this process,
// Notify for the other nodes), and fires deadlines — offer and transfer
// expiry, inactivity completion, presence grace — which are rows with a due
// time, each claimed and fired exactly once by one process. No polling
// interval decides how long a customer waits.
//
// The operations people start (accept an offer, transfer, assign, set
// presence, tickets) are functions of this package over the store; package
// app authorises the caller and calls them.
package routing

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// Config holds the engine's settings; zero values take the defaults.
type Config struct {
	// Clock tells the time (default: the system clock). Give the store the
	// same clock. When a test moves a fake clock, it calls Notify (or Step).
	Clock sb.Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// NodeID names this process among the cluster's nodes, for counting
	// realtime connections (default: the host name, the process id and a
	// random suffix: two processes on one host must never share an id, or
	// each would count and clear the other's connections). A node that
	// stops is forgotten NodeTimeout after its last heartbeat and its agents
	// get the grace period to reconnect; one that restarts with the same
	// configured id forgets its earlier connections at once.
	NodeID string
	// NodeTimeout is how long a node may go without a heartbeat before the
	// others forget its connections (default 45 s). A node beats every third
	// of it.
	NodeTimeout time.Duration
	// PresenceGrace is how long an online agent whose last connection closed
	// stays online, waiting for a reconnect (default 30 s).
	PresenceGrace time.Duration
	// HandleTime is how long an agent takes over a chat on average, for the
	// expected wait told to queued customers (default 3 min).
	HandleTime time.Duration
	// Batch bounds the rows one step reads at a time (default 500).
	Batch int
	// Fired, if set, is called after each deadline fired, once committed.
	Fired func(store.Deadline)
}

func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = sb.SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.NodeID == "" {
		c.NodeID = defaultNodeID()
	}
	if c.NodeTimeout <= 0 {
		c.NodeTimeout = 45 * time.Second
	}
	if c.PresenceGrace <= 0 {
		c.PresenceGrace = 30 * time.Second
	}
	if c.HandleTime <= 0 {
		c.HandleTime = 3 * time.Minute
	}
	if c.Batch <= 0 {
		c.Batch = 500
	}
	return c
}

// defaultNodeID names a process uniquely: by its host and process id for
// people reading the database, and by a random suffix for uniqueness, since
// a process id is reused across restarts and containers.
func defaultNodeID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "node"
	}
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), rand.Text()[:8])
}

// Engine serves the queues and fires the deadlines of one process. Several
// engines may share a PostgreSQL database.
type Engine struct {
	db       *store.DB
	cfg      Config
	clock    sb.Clock
	log      *slog.Logger
	wake     chan struct{}
	running  atomic.Bool
	started  bool      // owned by the goroutine calling Step
	nextBeat time.Time // when to beat next; owned by the goroutine calling Step

	needStep   atomic.Bool // a wake-up asks for a step, not only the next deadline
	stale      atomic.Bool // an offer or transfer may have been left behind
	queueEmpty atomic.Bool // nobody waited after the last step

	connMu sync.Mutex // serialises connection-count writes, so the last written is the latest
	conns  map[int64]int
}

// New returns an engine over db; it hears the commits of db at once. Call
// Run to start it.
func New(db *store.DB, cfg Config) *Engine {
	cfg = cfg.withDefaults()
	e := &Engine{db: db, cfg: cfg, clock: cfg.Clock, log: cfg.Logger, wake: make(chan struct{}, 1), conns: map[int64]int{}}
	db.OnCommit(e.onCommit)
	return e
}

// Notify tells the engine that something may have changed: another node
// committed events, or a test moved the clock. It never blocks; wake-ups
// coalesce.
func (e *Engine) Notify() {
	e.needStep.Store(true)
	e.signal()
}

// rearm tells the engine to read when the next deadline is due: one may
// have been set earlier than the one it waits for.
func (e *Engine) rearm() { e.signal() }

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// onCommit wakes the engine for the committed events that can change who
// should get what: a conversation that starts waiting, or, while some wait,
// capacity that frees up. An offer being made or accepted only moves
// capacity around; it, and every other routing step, only rearms the timer.
func (e *Engine) onCommit(events []sb.Event) {
	var c change
	for i := range events {
		c = c.or(classify(&events[i]))
	}
	if c.stale {
		e.stale.Store(true)
	}
	switch {
	case c.work, (c.capacity || c.stale) && !e.queueEmpty.Load():
		e.Notify()
	case c.capacity || c.rearm:
		e.rearm()
	}
}

// change is what a committed event means to the engine.
type change struct {
	work     bool // a conversation waits: serve it
	capacity bool // an agent may have room: serve the queue, if anyone waits
	rearm    bool // a deadline may have been set
	stale    bool // an offer or transfer may have been left behind (reconcile)
}

func (c change) or(d change) change {
	return change{c.work || d.work, c.capacity || d.capacity, c.rearm || d.rearm, c.stale || d.stale}
}

// routingKinds are the history kinds of this package's own steps out of
// assigning or transferring, which leave no offer or transfer behind.
var routingKinds = map[string]bool{
	"offer_accepted": true, "offer_declined": true, "offer_expired": true, "offer_withdrawn": true,
	"transfer_accepted": true, "transfer_rejected": true, "transfer_expired": true, "transfer_cancelled": true,
}

func classify(ev *sb.Event) change {
	switch ev.Type {
	case sb.EventPresence:
		// Whoever set it, an agent who is no longer online holds no offer:
		// reconcile withdraws what another path left with them.
		var d struct {
			Presence sb.Presence `json:"presence"`
		}
		json.Unmarshal(ev.Data, &d)
		return change{capacity: true, stale: d.Presence != sb.PresenceOnline, work: d.Presence != sb.PresenceOnline}
	case sb.EventAgent:
		return change{capacity: true}
	case sb.EventHistory:
		var h sb.HistoryEntry
		if json.Unmarshal(ev.Data, &h) != nil {
			return change{work: true, stale: true}
		}
		c := change{rearm: true}
		if (h.FromStatus == sb.StatusAssigning || h.FromStatus == sb.StatusTransferring) && !routingKinds[h.Kind] {
			c.stale = true
		}
		switch {
		case h.ToStatus == sb.StatusWaiting && h.Kind != "queued":
			c.work = true
		case h.ToStatus == sb.StatusEnded, h.ToStatus == sb.StatusFailed, h.ToStatus == sb.StatusBot,
			h.Kind == "assigned", h.Kind == "transfer_accepted", h.Kind == "department":
			c.capacity = true
		}
		return c
	case sb.EventOffer, sb.EventTransfer:
		var d struct {
			State string `json:"state"`
		}
		if json.Unmarshal(ev.Data, &d) != nil {
			return change{work: true}
		}
		return change{rearm: true, capacity: d.State != "pending" && d.State != string(sb.OfferAccepted)}
	}
	return change{}
}

// Run serves the queues and fires deadlines until ctx is done. It returns
// nil then; it may be called once.
func (e *Engine) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("routing: engine already running")
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var backoff time.Duration
	step := true
	for ctx.Err() == nil {
		var next time.Time
		var err error
		if need := e.needStep.Swap(false); step || need {
			next, err = e.Step(ctx)
		} else {
			next, err = e.nextDeadline(ctx)
		}
		wait := time.Hour
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			backoff = min(max(2*backoff, 50*time.Millisecond), 5*time.Second)
			wait = backoff
			e.log.Error("routing: step", "err", err, "retry_in", backoff)
		default:
			backoff = 0
			if !next.IsZero() {
				wait = max(0, min(wait, next.Sub(e.clock.Now())))
			}
		}
		timer.Reset(wait)
		step = err != nil
		select {
		case <-ctx.Done():
		case <-e.wake:
		case <-timer.C:
			step = true
		}
	}
	return nil
}

// nextDeadline returns when the next deadline or heartbeat is due (zero:
// none).
func (e *Engine) nextDeadline(ctx context.Context) (time.Time, error) {
	due, ok, err := e.db.NextDeadline(ctx)
	if err != nil {
		return time.Time{}, err
	}
	if !ok || !e.nextBeat.IsZero() && e.nextBeat.Before(due) {
		due = e.nextBeat
	}
	return due, nil
}

// start forgets the connections this node had before it (re)started: their
// agents get the grace period to reconnect. Connections this engine has
// seen already are kept. The first Step calls it.
func (e *Engine) start(ctx context.Context) error {
	e.connMu.Lock()
	defer e.connMu.Unlock()
	return e.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.TouchNode(e.cfg.NodeID); err != nil {
			return err
		}
		users, err := tx.ClearNodeConnections(e.cfg.NodeID)
		if err != nil {
			return err
		}
		for _, uid := range users {
			if e.conns[uid] > 0 {
				continue
			}
			if err := tx.Schedule(store.DeadlinePresence, uid, tx.Now().Add(e.cfg.PresenceGrace)); err != nil {
				return err
			}
		}
		return e.recordConnections(tx)
	})
}

// recordConnections writes the connections this engine has seen (connMu held).
func (e *Engine) recordConnections(tx *store.Tx) error {
	for uid, n := range e.conns {
		if err := tx.SetConnections(e.cfg.NodeID, uid, n); err != nil {
			return err
		}
	}
	return nil
}

// beat tells the other nodes that this one is alive, and forgets the nodes
// that stopped saying so — crashed, or restarted under a new id — with the
// connections they counted: their agents get the grace period to reconnect,
// here or elsewhere, before they go offline (P1). A node that was itself
// forgotten (it stalled for longer than NodeTimeout) records its
// connections again.
func (e *Engine) beat(ctx context.Context) error {
	e.connMu.Lock()
	defer e.connMu.Unlock()
	return e.db.Write(ctx, func(tx *store.Tx) error {
		known, err := tx.TouchNode(e.cfg.NodeID)
		if err != nil {
			return err
		}
		if !known {
			if err := e.recordConnections(tx); err != nil {
				return err
			}
		}
		if err := tx.AdoptUnknownNodes(); err != nil {
			return err
		}
		before := tx.Now().Add(-e.cfg.NodeTimeout)
		silent, err := tx.SilentNodes(before)
		if err != nil {
			return err
		}
		for _, node := range silent {
			users, ok, err := tx.ForgetNode(node, before)
			if err != nil {
				return err
			}
			if ok {
				e.log.Info("routing: forgot a silent node's connections", "node", node, "users", len(users))
			}
			for _, uid := range users {
				if err := tx.Schedule(store.DeadlinePresence, uid, tx.Now().Add(e.cfg.PresenceGrace)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// NodeID returns the name this engine counts its node's connections under.
func (e *Engine) NodeID() string { return e.cfg.NodeID }

// Step does everything that is due now: it fires due deadlines, tells the
// other nodes this one is alive (and forgets those that stopped), tidies
// what other paths left behind, admits new waiting conversations (or makes
// them tickets), offers queued conversations to agents oldest first, and
// tells queued customers their position. It returns when the next deadline
// or heartbeat is due (zero: none). Run calls it on every wake-up; tests call it directly,
// from one goroutine at a time.
func (e *Engine) Step(ctx context.Context) (next time.Time, err error) {
	if !e.started {
		if err := e.start(ctx); err != nil {
			return time.Time{}, fmt.Errorf("routing: start: %w", err)
		}
		e.started = true
		e.stale.Store(true)
	}
	errs := []error{e.fireDue(ctx)}
	if now := e.clock.Now(); !now.Before(e.nextBeat) {
		if err := e.beat(ctx); err != nil {
			errs = append(errs, fmt.Errorf("routing: heartbeat: %w", err))
		} else {
			e.nextBeat = now.Add(e.cfg.NodeTimeout / 3)
		}
	}
	if e.stale.Swap(false) {
		if err := e.reconcile(ctx); err != nil {
			e.stale.Store(true)
			errs = append(errs, err)
		}
	}
	errs = append(errs, e.admit(ctx))
	waiting, err := e.assign(ctx)
	errs = append(errs, err)
	e.queueEmpty.Store(!waiting)
	if waiting {
		errs = append(errs, e.announce(ctx))
	}
	next, err = e.nextDeadline(ctx)
	return next, errors.Join(append(errs, err)...)
}
