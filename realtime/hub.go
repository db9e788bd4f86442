// Package realtime delivers committed events to clients as they happen: a
// Hub that fans events out in position order and resumes reconnecting
// clients from the event log, the WebSocket endpoint (Server) that speaks
// docs/protocol.md, and the Bus that tells the other nodes of a cluster that
// events were committed.
//
// Wiring, done in cmd/: the store calls Hub.Publish after each commit; the hub
// announces the position on its Bus (HubOptions.Bus), and the hubs of the
// other nodes read the new events from the log. The database stays the single
// source of truth: the hub only ever delivers what the log holds, so lost or
// repeated bus messages, reordered Publish calls and permanent gaps in the
// positions never lose, repeat or reorder an event.
package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard"
)

// Reasons a subscription ends, other than its owner closing it.
var (
	// ErrSlowConsumer: the subscription's buffer was full; the client reconnects and resumes.
	ErrSlowConsumer = errors.New("realtime: slow consumer")
	// ErrSessionChanged: DisconnectUser was called for the subscription's user.
	ErrSessionChanged = errors.New("realtime: session changed")
	// ErrHubStopped: the hub's Run has returned.
	ErrHubStopped = errors.New("realtime: hub stopped")

	errClosed   = errors.New("realtime: subscription closed")
	errShutdown = errors.New("realtime: server shutting down")
)

// Metrics receives the hub's counters, for an adapter to the Prometheus
// registry; every method must be cheap and safe for concurrent use.
type Metrics interface {
	// Delivered counts one event handed to n subscriptions.
	Delivered(n int)
	// LogRead counts n events read from the log to fill a gap or catch up.
	LogRead(n int)
	// SlowConsumer counts a subscription dropped because its buffer was full.
	SlowConsumer()
	// Subscribers reports the number of registered subscriptions.
	Subscribers(n int)
}

type nopMetrics struct{}

func (nopMetrics) Delivered(int)   {}
func (nopMetrics) LogRead(int)     {}
func (nopMetrics) SlowConsumer()   {}
func (nopMetrics) Subscribers(int) {}

// HubOptions configures a Hub; zero values take the defaults.
type HubOptions struct {
	// SendBuffer is how many frames may wait for a visitor's subscription
	// before it is dropped as a slow consumer (default 256).
	SendBuffer int
	// StaffSendBuffer is the same for staff (default 4096). A staff socket
	// carries every event of the user's inboxes — an agent with ten busy
	// chats receives hundreds of frames a second — so when the server is
	// starved of CPU for a moment its queue fills far sooner than a
	// visitor's; staff connections are few, and the queue holds pointers
	// to frames shared with other subscribers (BENCHMARKS.md, finding 5).
	StaffSendBuffer int
	// ReplayBatch is how many events one log query reads (default 500).
	ReplayBatch int
	// PollInterval is how often the hub asks the log whether it missed
	// events, which bounds the delay when a bus notification is lost
	// (default 10 s; negative: never).
	PollInterval time.Duration
	// LogTimeout bounds each log query made by the hub (default 10 s).
	LogTimeout time.Duration
	// Bus, when set, carries the positions this node commits to the other
	// nodes and theirs to this hub.
	Bus Bus
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics defaults to none.
	Metrics Metrics
}

func (o HubOptions) withDefaults() HubOptions {
	if o.SendBuffer <= 0 {
		o.SendBuffer = 256
	}
	if o.StaffSendBuffer <= 0 {
		o.StaffSendBuffer = 4096
	}
	if o.ReplayBatch <= 0 {
		o.ReplayBatch = 500
	}
	if o.PollInterval == 0 {
		o.PollInterval = 10 * time.Second
	}
	if o.LogTimeout <= 0 {
		o.LogTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = nopMetrics{}
	}
	return o
}

const (
	publishQueue   = 1024 // Publish batches waiting for the hub; beyond, the hub reads the log instead
	ephemeralQueue = 1024 // typing events waiting; beyond, they are dropped
	minBackoff     = 100 * time.Millisecond
	maxBackoff     = 5 * time.Second
	busTimeout     = 5 * time.Second
)

// Hub fans committed events out to subscriptions, exactly once and in
// position order, each to the principals that may see it. One goroutine
// (Run) owns its state; everything else talks to it through channels.
type Hub struct {
	log     switchboard.EventLog
	opts    HubOptions
	logger  *slog.Logger
	metrics Metrics

	publishc    chan []switchboard.Event
	ephemeralc  chan switchboard.Event
	notifyc     chan struct{} // capacity 1: notifications coalesce into notified
	notified    atomic.Int64  // the highest position announced since Run last took it
	registerc   chan registration
	unregisterc chan *Subscription
	disconnectc chan disconnection
	epoch       atomic.Uint64 // counts DisconnectUser calls; see subscribe
	running     atomic.Bool
	done        chan struct{} // closed when Run returns

	// Owned by Run's goroutine.
	last           int64 // highest position delivered
	target         int64 // highest position known to be committed
	staff          []*Subscription
	byUser         map[int64][]*Subscription
	byContact      map[int64][]*Subscription
	count          int
	disconnectedAt map[int64]uint64 // user → epoch of their last DisconnectUser
	dropped        []*Subscription  // slow consumers found during one fan-out
	retrying       bool
	backoff        time.Duration
	retry          *time.Timer
}

type registration struct {
	s     *Subscription
	since uint64
	reply chan registered
}

type registered struct {
	pos int64
	err error
}

type disconnection struct {
	userID int64
	epoch  uint64
}

// NewHub returns a hub reading missed events from log. Call Run to start it.
func NewHub(log switchboard.EventLog, opts HubOptions) *Hub {
	opts = opts.withDefaults()
	return &Hub{
		log:            log,
		opts:           opts,
		logger:         opts.Logger,
		metrics:        opts.Metrics,
		publishc:       make(chan []switchboard.Event, publishQueue),
		ephemeralc:     make(chan switchboard.Event, ephemeralQueue),
		notifyc:        make(chan struct{}, 1),
		registerc:      make(chan registration),
		unregisterc:    make(chan *Subscription, 1024),
		disconnectc:    make(chan disconnection, 64),
		done:           make(chan struct{}),
		byUser:         make(map[int64][]*Subscription),
		byContact:      make(map[int64][]*Subscription),
		disconnectedAt: make(map[int64]uint64),
	}
}

// Run delivers events until ctx is done; then it ends every subscription
// (ErrHubStopped) and returns nil. It returns an error only if it cannot
// start, and may be called once.
func (h *Hub) Run(ctx context.Context) error {
	if !h.running.CompareAndSwap(false, true) {
		return errors.New("realtime: hub already running")
	}
	defer close(h.done)
	if h.opts.Bus != nil {
		unsubscribe, err := h.opts.Bus.Subscribe(h.Notify)
		if err != nil {
			return fmt.Errorf("realtime: subscribe to bus: %w", err)
		}
		defer unsubscribe()
	}
	h.retry = time.NewTimer(time.Hour)
	h.retry.Stop()
	defer h.retry.Stop()
	var poll <-chan time.Time
	if h.opts.PollInterval > 0 {
		t := time.NewTicker(h.opts.PollInterval)
		defer t.Stop()
		poll = t.C
	}
	if !h.start(ctx) {
		h.stop()
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			h.stop()
			return nil
		case events := <-h.publishc:
			h.publish(ctx, events)
		case <-h.notifyc:
			// A local commit is announced on the bus after its batch was queued:
			// deliver the queued batches first, which usually makes reading the log unnecessary.
			for n := len(h.publishc); n > 0; n-- {
				h.publish(ctx, <-h.publishc)
			}
			// Taking the value (not just reading it) lets a later, lower
			// announcement through after a bogus high one.
			h.catchUp(ctx, h.notified.Swap(0))
		case e := <-h.ephemeralc:
			h.fanout(&e)
		case r := <-h.registerc:
			h.admit(r)
		case s := <-h.unregisterc:
			h.remove(s)
		case d := <-h.disconnectc:
			h.disconnect(d)
		case <-poll:
			h.poll(ctx)
		case <-h.retry.C:
			h.retrying = false
			h.catchUp(ctx, h.target)
		}
	}
}

// start sets the hub's position to the newest in the log, so that it
// delivers what is committed from now on; it retries until ctx is done.
func (h *Hub) start(ctx context.Context) bool {
	backoff := minBackoff
	for {
		_, newest, err := h.bounds(ctx)
		if err == nil {
			h.last, h.target = newest, newest
			return true
		}
		h.logger.Error("realtime: read event bounds", "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (h *Hub) bounds(ctx context.Context) (oldest, newest int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, h.opts.LogTimeout)
	defer cancel()
	return h.log.EventBounds(ctx)
}

// Publish hands the hub events that a local transaction has just committed,
// in position order, and announces them on the bus, if any. Call it after
// the commit, never before: the hub trusts that every position below a
// published one is final. It does not wait for the delivery. The hub keeps
// the slice: do not modify it afterwards.
func (h *Hub) Publish(events []switchboard.Event) {
	if len(events) == 0 {
		return
	}
	newest := events[len(events)-1].Pos
	select {
	case h.publishc <- events:
	default:
		// The hub is behind. The events are committed, so it reads them from
		// the log when it gets there; the caller never waits.
		h.Notify(newest)
	}
	if h.opts.Bus != nil {
		ctx, cancel := context.WithTimeout(context.Background(), busTimeout)
		defer cancel()
		if err := h.opts.Bus.Publish(ctx, newest); err != nil {
			// Other nodes catch up at their next notification or poll.
			h.logger.Warn("realtime: announce on bus", "pos", newest, "err", err)
		}
	}
}

// Notify tells the hub that events up to pos are committed (announced by
// another node); it reads those it has not delivered from the log. Repeated
// and out-of-date notifications cost nothing.
func (h *Hub) Notify(pos int64) {
	for {
		cur := h.notified.Load()
		if pos <= cur {
			return
		}
		if h.notified.CompareAndSwap(cur, pos) {
			break
		}
	}
	select {
	case h.notifyc <- struct{}{}:
	default: // a wake-up is already pending; it reads the new maximum
	}
}

// Ephemeral delivers e now, with position 0, to the subscriptions that may
// see it; it is never replayed. It is for typing indicators, so when the hub
// is overloaded e is dropped rather than waited for.
func (h *Hub) Ephemeral(e switchboard.Event) {
	e.Pos = 0
	select {
	case h.ephemeralc <- e:
	default:
	}
}

// DisconnectUser ends every subscription of the user (ErrSessionChanged), so
// that a changed role, a disabled user or a logout takes effect at once: the
// client reconnects and is authenticated again. Call it after committing the
// change.
func (h *Hub) DisconnectUser(userID int64) {
	d := disconnection{userID: userID, epoch: h.epoch.Add(1)}
	select {
	case h.disconnectc <- d:
	case <-h.done:
	}
}

// Subscribe registers p for the events it may see and returns its stream:
// the events after position after (when after > 0), then a ready frame, then
// live events; or, when the log no longer holds everything after after (or
// after is ahead of it), a resync frame and then live events. p must not be
// modified afterwards.
func (h *Hub) Subscribe(ctx context.Context, p *switchboard.Principal, after int64) (*Subscription, error) {
	return h.subscribe(ctx, p, after, h.epoch.Load(), nil)
}

// subscribe refuses p when DisconnectUser was called for its user after
// since: the WebSocket server reads since before authenticating, so a
// session changed while it was being authenticated cannot slip through.
// notify, when set, is called when the subscription has something to read.
func (h *Hub) subscribe(ctx context.Context, p *switchboard.Principal, after int64, since uint64, notify func()) (*Subscription, error) {
	if !p.IsStaff() && !p.IsVisitor() {
		return nil, switchboard.Errorf(switchboard.EUNAUTHORIZED, "Sign in first.")
	}
	if after < 0 {
		return nil, switchboard.Errorf(switchboard.EINVALID, "after must not be negative.")
	}
	s := newSubscription(h, p, notify)
	// Register first: from here on, live events queue up while we replay, so
	// nothing committed during the replay can fall between the two.
	livePos, err := h.register(ctx, s, since)
	if err != nil {
		return nil, err
	}
	if after == 0 {
		s.startAt(frameReady, livePos)
		return s, nil
	}
	oldest, newest, err := h.bounds(ctx)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("realtime: read event bounds: %w", err)
	}
	if after > newest || after < oldest-1 {
		s.resync = true
		s.startAt(frameResync, max(newest, livePos))
		return s, nil
	}
	// Replay up to the newest committed event, not only to livePos: events
	// the hub has yet to deliver arrive before ready too, and live copies of
	// them are skipped.
	s.replayTo = max(livePos, newest)
	s.cursor = after
	s.phase = phaseReplay
	return s, nil
}

func (h *Hub) register(ctx context.Context, s *Subscription, since uint64) (int64, error) {
	r := registration{s: s, since: since, reply: make(chan registered, 1)}
	select {
	case h.registerc <- r:
	case <-h.done:
		return 0, ErrHubStopped
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case res := <-r.reply:
		return res.pos, res.err
	case <-h.done:
		return 0, ErrHubStopped
	}
}

func (h *Hub) unsubscribe(s *Subscription) {
	select {
	case h.unregisterc <- s:
	case <-h.done:
	}
}

// publish delivers a batch committed by this node, first reading from the
// log what lies between the last delivered position and the batch.
func (h *Hub) publish(ctx context.Context, events []switchboard.Event) {
	events = h.undelivered(events)
	if len(events) == 0 {
		return
	}
	if events[0].Pos > h.last+1 {
		// The positions in between were committed by another node or by a
		// transaction that published after us, or were never committed
		// (rolled back). Writers commit in position order, so now that this
		// batch is committed every lower position is final and the log
		// holds exactly the events among them: no waiting for gaps to fill.
		if !h.catchUp(ctx, events[0].Pos-1) {
			// The retry reads this batch from the log too.
			h.target = max(h.target, events[len(events)-1].Pos)
			return
		}
		events = h.undelivered(events)
	}
	for i := range events {
		if events[i].Pos > h.last {
			h.deliver(&events[i])
		}
	}
}

// undelivered drops the leading events already delivered (repeated
// announcements, or events read from the log before their Publish arrived).
func (h *Hub) undelivered(events []switchboard.Event) []switchboard.Event {
	for len(events) > 0 && events[0].Pos <= h.last {
		events = events[1:]
	}
	return events
}

// catchUp delivers events from the log until it has passed until or reached
// the end of the log. When the log fails it schedules a retry (with back-off,
// so a failing database is not hammered) and reports false.
func (h *Hub) catchUp(ctx context.Context, until int64) bool {
	h.target = max(h.target, until)
	if h.retrying {
		return false
	}
	for h.last < until {
		rctx, cancel := context.WithTimeout(ctx, h.opts.LogTimeout)
		events, err := h.log.EventsAfter(rctx, h.last, h.opts.ReplayBatch)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				h.logger.Error("realtime: read events", "after", h.last, "err", err)
				h.scheduleRetry()
			}
			return false
		}
		h.metrics.LogRead(len(events))
		for i := range events {
			if events[i].Pos > h.last {
				h.deliver(&events[i])
			}
		}
		if len(events) < h.opts.ReplayBatch {
			break
		}
	}
	h.backoff = 0
	return true
}

func (h *Hub) scheduleRetry() {
	h.backoff = min(max(2*h.backoff, minBackoff), maxBackoff)
	h.retrying = true
	h.retry.Reset(h.backoff)
}

// poll catches up with events no notification told us about.
func (h *Hub) poll(ctx context.Context) {
	_, newest, err := h.bounds(ctx)
	if err != nil {
		if ctx.Err() == nil {
			h.logger.Warn("realtime: poll event bounds", "err", err)
		}
		return
	}
	if newest > h.last {
		h.catchUp(ctx, newest)
	}
}

func (h *Hub) deliver(e *switchboard.Event) {
	h.fanout(e)
	h.last = e.Pos
}

// fanout hands e to every subscription whose principal may see it. The
// indexes only narrow the candidates to those CanSeeEvent could accept (a
// visitor sees only conversation events of its own contact; a user event
// goes to that user); CanSeeEvent decides for each.
func (h *Hub) fanout(e *switchboard.Event) {
	var f *frame // marshalled once, when the first recipient is found, and shared
	n := 0
	switch e.Audience {
	case switchboard.AudienceUser:
		n += h.offer(h.byUser[e.UserID], e, &f)
	case switchboard.AudienceConversation:
		n += h.offer(h.staff, e, &f)
		n += h.offer(h.byContact[e.ContactID], e, &f)
	default:
		n += h.offer(h.staff, e, &f)
	}
	h.metrics.Delivered(n)
	for i, s := range h.dropped {
		h.remove(s)
		h.metrics.SlowConsumer()
		h.logger.Debug("realtime: dropped slow consumer", "user_id", s.p.UserID, "visitor_id", s.p.VisitorID)
		h.dropped[i] = nil
	}
	h.dropped = h.dropped[:0]
}

func (h *Hub) offer(subs []*Subscription, e *switchboard.Event, f **frame) int {
	n := 0
	for _, s := range subs {
		if !s.p.CanSeeEvent(e) {
			continue
		}
		if *f == nil {
			*f = &frame{pos: e.Pos, data: marshalEvent(e)}
		}
		if s.push(*f) {
			n++
		} else {
			h.dropped = append(h.dropped, s) // removed after the loop: it changes these slices
		}
	}
	return n
}

func (h *Hub) admit(r registration) {
	// A DisconnectUser that has returned must refuse this subscription, not
	// close it after admitting it: apply the ones still queued first.
	for n := len(h.disconnectc); n > 0; n-- {
		h.disconnect(<-h.disconnectc)
	}
	p := r.s.p
	if p.IsStaff() && h.disconnectedAt[p.UserID] > r.since {
		r.reply <- registered{err: ErrSessionChanged}
		return
	}
	h.add(r.s)
	r.reply <- registered{pos: h.last}
}

func (h *Hub) add(s *Subscription) {
	if s.p.IsStaff() {
		s.idx = len(h.staff)
		h.staff = append(h.staff, s)
		h.byUser[s.p.UserID] = append(h.byUser[s.p.UserID], s)
	} else {
		h.byContact[s.p.ContactID] = append(h.byContact[s.p.ContactID], s)
	}
	s.registered = true
	h.count++
	h.metrics.Subscribers(h.count)
}

func (h *Hub) remove(s *Subscription) {
	if !s.registered {
		return
	}
	s.registered = false
	if s.p.IsStaff() {
		last := len(h.staff) - 1
		h.staff[s.idx] = h.staff[last]
		h.staff[s.idx].idx = s.idx
		h.staff[last] = nil
		h.staff = h.staff[:last]
		without(h.byUser, s.p.UserID, s)
	} else {
		without(h.byContact, s.p.ContactID, s)
	}
	h.count--
	h.metrics.Subscribers(h.count)
}

func without(index map[int64][]*Subscription, key int64, s *Subscription) {
	subs := index[key]
	if i := slices.Index(subs, s); i >= 0 {
		subs = slices.Delete(subs, i, i+1)
	}
	if len(subs) == 0 {
		delete(index, key)
	} else {
		index[key] = subs
	}
}

func (h *Hub) disconnect(d disconnection) {
	h.disconnectedAt[d.userID] = max(h.disconnectedAt[d.userID], d.epoch)
	for _, s := range slices.Clone(h.byUser[d.userID]) {
		s.closeWith(ErrSessionChanged)
		h.remove(s)
	}
}

func (h *Hub) stop() {
	for _, s := range h.staff {
		s.closeWith(ErrHubStopped)
	}
	for _, subs := range h.byContact {
		for _, s := range subs {
			s.closeWith(ErrHubStopped)
		}
	}
}
