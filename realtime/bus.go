package realtime

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
)

// Bus tells the nodes of a cluster that events were committed. It carries
// only positions: the database holds the events, so a lost or repeated
// notification delays nothing for long (the hub also polls the log) and
// loses nothing.
type Bus interface {
	// Publish announces that events up to pos are committed.
	Publish(ctx context.Context, pos int64) error
	// Subscribe calls fn with each position announced, until unsubscribe is
	// called. fn must return quickly (Hub.Notify does).
	Subscribe(fn func(pos int64)) (unsubscribe func(), err error)
	// Close releases the bus.
	Close() error
}

var (
	_ Bus = (*LocalBus)(nil)
	_ Bus = (*NATSBus)(nil)
)

// LocalBus is the bus within one process: a single node, where it is not
// even needed (Hub.Publish feeds the local hub directly), or several hubs
// in one test.
type LocalBus struct {
	mu     sync.Mutex
	subs   map[int]func(int64)
	nextID int
	closed bool
}

// NewLocalBus returns an in-process bus.
func NewLocalBus() *LocalBus {
	return &LocalBus{subs: make(map[int]func(int64))}
}

// Publish calls every subscriber with pos, synchronously.
func (b *LocalBus) Publish(ctx context.Context, pos int64) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return errors.New("realtime: bus closed")
	}
	fns := make([]func(int64), 0, len(b.subs))
	for _, fn := range b.subs {
		fns = append(fns, fn)
	}
	b.mu.Unlock()
	for _, fn := range fns {
		fn(pos)
	}
	return nil
}

// Subscribe registers fn.
func (b *LocalBus) Subscribe(fn func(pos int64)) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errors.New("realtime: bus closed")
	}
	id := b.nextID
	b.nextID++
	b.subs[id] = fn
	return func() {
		b.mu.Lock()
		delete(b.subs, id)
		b.mu.Unlock()
	}, nil
}

// Close drops every subscriber.
func (b *LocalBus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	clear(b.subs)
	return nil
}

// DefaultNATSSubject is the subject positions are announced on when none is given.
const DefaultNATSSubject = "switchboard.events"

// NATSBus is the bus of a cluster, over NATS core pub/sub (at most once:
// see Bus for why that is enough). A node does not hear its own
// announcements, so two hubs in one process need a NATSBus each.
type NATSBus struct {
	nc      *nats.Conn
	subject string

	mu   sync.Mutex
	subs map[int]func(int64)
	next int
}

// catchUpAll is announced to subscribers when the bus (re)connects: what
// was announced while it was away is lost, so hubs read the log to its end
// (Hub.Notify takes any position) instead of waiting for their next poll —
// up to 10 s of delay between nodes after a NATS restart, measured by the
// load generator's cluster crash scenario.
const catchUpAll = math.MaxInt64

// NewNATSBus connects to the NATS server at url; positions travel on subject.
// When NATS is not there yet the node starts anyway and connects later.
func NewNATSBus(url, subject string) (*NATSBus, error) {
	if subject == "" {
		subject = DefaultNATSSubject
	}
	b := &NATSBus{subject: subject, subs: make(map[int]func(int64))}
	nc, err := nats.Connect(url,
		nats.Name("switchboard"),
		// Our own announcements are useless to us: the local hub already has the events.
		nats.NoEcho(),
		// Keep reconnecting after a NATS restart, and start while NATS is
		// down: a cluster recovers by itself, in either order.
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ConnectHandler(func(*nats.Conn) { b.announce(catchUpAll) }),
		nats.ReconnectHandler(func(*nats.Conn) { b.announce(catchUpAll) }),
	)
	if err != nil {
		return nil, fmt.Errorf("realtime: connect to nats: %w", err)
	}
	b.nc = nc
	return b, nil
}

// announce calls every subscriber with pos.
func (b *NATSBus) announce(pos int64) {
	b.mu.Lock()
	fns := make([]func(int64), 0, len(b.subs))
	for _, fn := range b.subs {
		fns = append(fns, fn)
	}
	b.mu.Unlock()
	for _, fn := range fns {
		fn(pos)
	}
}

// Publish announces pos; it does not wait for delivery.
func (b *NATSBus) Publish(ctx context.Context, pos int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.nc.Publish(b.subject, strconv.AppendInt(nil, pos, 10)); err != nil {
		return fmt.Errorf("realtime: publish on nats: %w", err)
	}
	return nil
}

// Subscribe calls fn with the positions other nodes announce; malformed
// messages are ignored.
func (b *NATSBus) Subscribe(fn func(pos int64)) (func(), error) {
	sub, err := b.nc.Subscribe(b.subject, func(m *nats.Msg) {
		pos, err := strconv.ParseInt(string(m.Data), 10, 64)
		if err != nil || pos <= 0 {
			return
		}
		fn(pos)
	})
	if err != nil {
		return nil, fmt.Errorf("realtime: subscribe on nats: %w", err)
	}
	b.mu.Lock()
	id := b.next
	b.next++
	b.subs[id] = fn
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		delete(b.subs, id)
		b.mu.Unlock()
		_ = sub.Unsubscribe()
	}, nil
}

// Flush waits until the server has received everything published so far.
func (b *NATSBus) Flush(ctx context.Context) error { return b.nc.FlushWithContext(ctx) }

// Close closes the connection.
func (b *NATSBus) Close() error {
	b.nc.Close()
	return nil
}
