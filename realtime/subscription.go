package realtime

import (
	"context"
	"fmt"
	"sync"

	"github.com/switchboard/switchboard"
)

// frame is one encoded server frame. Event frames are marshalled once and
// shared by every subscription that receives them, so they are never modified.
type frame struct {
	pos  int64 // the event's position; 0 for frames that are not positioned events
	data []byte
}

type phase uint8

const (
	phaseReplay phase = iota // reading missed events from the log
	phaseStart               // next: the ready or resync frame
	phaseLive                // draining live frames
)

// keptQueue is the largest queue capacity kept between bursts; larger ones
// are released so that an idle connection holds no big buffer.
const keptQueue = 32

// Subscription is one client's stream of frames: the events it missed, then
// ready or resync, then live events, each once and in position order. The
// hub writes to it; one goroutine reads it with Next.
type Subscription struct {
	hub    *Hub
	p      *switchboard.Principal
	resync bool

	// Read side, owned by one goroutine at a time: the caller of Next, or
	// the Server's current writer.
	phase    phase
	cursor   int64 // replay: the highest position read from the log
	replayTo int64 // the replay ends once it has passed this position
	floor    int64 // live frames at or below it were replayed or are covered by a resync
	page     []switchboard.Event
	pageNext int
	pageLast bool
	start    []byte
	batch    []*frame
	next     int

	// Shared by the hub, the reader and writers of replies.
	mu     sync.Mutex
	queue  []*frame
	limit  int
	err    error
	wake   chan struct{} // capacity 1: a frame was queued, or the subscription ended (for Next)
	notify func()        // called instead of signalling wake, when set (the Server's writer)
	done   chan struct{} // closed with err

	// Owned by the hub's goroutine.
	registered bool
	idx        int // in Hub.staff
}

// newSubscription returns a subscription that calls notify when there is
// something to read, or, with a nil notify, signals Next.
func newSubscription(h *Hub, p *switchboard.Principal, notify func()) *Subscription {
	s := &Subscription{
		hub:    h,
		p:      p,
		limit:  h.opts.SendBuffer,
		notify: notify,
		done:   make(chan struct{}),
	}
	if p.IsStaff() {
		s.limit = h.opts.StaffSendBuffer
	}
	if notify == nil {
		s.wake = make(chan struct{}, 1)
	}
	return s
}

// Resync reports whether the client must reload its state: its position was
// older than the log keeps, or ahead of it.
func (s *Subscription) Resync() bool { return s.resync }

// Close ends the subscription and unregisters it from the hub. It is safe to
// call more than once and from any goroutine.
func (s *Subscription) Close() {
	s.closeWith(errClosed)
	s.hub.unsubscribe(s)
}

// Next returns the next frame to send, waiting for one. The bytes may be
// shared with other subscriptions and must not be modified. After the
// subscription ends, Next returns why: ErrSlowConsumer, ErrSessionChanged,
// ErrHubStopped, an error reading the log while replaying, or, after
// Close, an unexported error.
func (s *Subscription) Next(ctx context.Context) ([]byte, error) {
	for {
		b, err := s.poll(ctx)
		if b != nil || err != nil {
			return b, err
		}
		select {
		case <-s.wake:
		case <-s.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// poll returns the next frame, or nil when none is queued yet; while
// replaying it reads the log.
func (s *Subscription) poll(ctx context.Context) ([]byte, error) {
	for {
		select {
		case <-s.done:
			return nil, s.closedErr()
		default:
		}
		switch s.phase {
		case phaseReplay:
			if s.pageNext < len(s.page) {
				e := &s.page[s.pageNext]
				s.pageNext++
				s.cursor = e.Pos
				if s.p.CanSeeEvent(e) {
					return marshalEvent(e), nil
				}
				continue
			}
			if s.pageLast || s.cursor >= s.replayTo {
				// Live frames cover everything after the position the hub had
				// reached at registration, which is at most replayTo; those up
				// to the cursor were just replayed and are skipped. A last
				// page has shown everything up to replayTo at least, so the
				// client is there even when the log skipped, for it, the
				// events it may not see.
				if s.pageLast {
					s.cursor = max(s.cursor, s.replayTo)
				}
				s.page = nil
				s.startAt(frameReady, s.cursor)
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, s.hub.opts.LogTimeout)
			events, err := s.readLog(rctx)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("realtime: replay after %d: %w", s.cursor, err)
			}
			s.hub.metrics.LogRead(len(events))
			s.page, s.pageNext, s.pageLast = events, 0, len(events) < s.hub.opts.ReplayBatch
		case phaseStart:
			b := s.start
			s.start = nil
			s.phase = phaseLive
			return b, nil
		case phaseLive:
			for s.next < len(s.batch) {
				f := s.batch[s.next]
				s.batch[s.next] = nil
				s.next++
				if f.pos == 0 || f.pos > s.floor {
					return f.data, nil
				}
			}
			if !s.refill() {
				return nil, nil
			}
		}
	}
}

// readLog reads the next page of the replay: only the events the client may
// see when the log can filter them.
func (s *Subscription) readLog(ctx context.Context) ([]switchboard.Event, error) {
	if fl, ok := s.hub.log.(switchboard.FilteredEventLog); ok {
		return fl.EventsFor(ctx, s.cursor, s.hub.opts.ReplayBatch, s.p.EventFilter())
	}
	return s.hub.log.EventsAfter(ctx, s.cursor, s.hub.opts.ReplayBatch)
}

// startAt queues the ready or resync frame and sets the position the client
// will be at.
func (s *Subscription) startAt(typ string, pos int64) {
	s.floor = pos
	s.start = mustMarshal(positionFrame{Type: typ, Pos: pos, UserID: s.p.UserID})
	s.phase = phaseStart
}

// refill takes the queued frames as the next batch, handing the drained
// batch's storage back as the queue. It reports whether there were any.
func (s *Subscription) refill() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return false
	}
	drained := s.batch[:0]
	if cap(drained) > keptQueue {
		drained = nil
	}
	s.batch, s.queue, s.next = s.queue, drained, 0
	return true
}

// push queues f; it reports false when the queue is full, and the
// subscription is then ended as a slow consumer.
func (s *Subscription) push(f *frame) bool {
	s.mu.Lock()
	switch {
	case s.err != nil:
		s.mu.Unlock()
		return true // already ended; its owner unregisters it
	case len(s.queue) >= s.limit:
		s.err = ErrSlowConsumer
		close(s.done)
		s.mu.Unlock()
		return false
	}
	wasEmpty := len(s.queue) == 0
	s.queue = append(s.queue, f)
	s.mu.Unlock()
	if wasEmpty {
		// A reader that finds the queue empty waits for a wake-up; one that
		// has not yet emptied it will take this frame along without one.
		s.signal()
	}
	return true
}

// signal wakes the reader, which then polls.
func (s *Subscription) signal() {
	if s.notify != nil {
		s.notify()
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// reply queues a frame answering the client (ack, error, pong); replies
// count against the same buffer as events.
func (s *Subscription) reply(data []byte) {
	if !s.push(&frame{data: data}) {
		s.hub.unsubscribe(s)
	}
}

func (s *Subscription) closeWith(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
		close(s.done)
	}
	s.mu.Unlock()
	s.signal()
}

func (s *Subscription) closedErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
