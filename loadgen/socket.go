package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// inFrame is a server frame as the tool reads it (docs/protocol.md). An
// ack's "message" is the stored message; an error's is a text.
type inFrame struct {
	Type           string          `json:"type"`
	Pos            int64           `json:"pos"`
	Event          string          `json:"event"`
	ConversationID int64           `json:"conversation_id"`
	UserID         int64           `json:"user_id"`
	Data           json.RawMessage `json:"data"`
	ClientID       string          `json:"client_id"`
	Code           string          `json:"code"`
	Message        json.RawMessage `json:"message"`
}

// wireMessage is the part of a stored message the tool checks.
type wireMessage struct {
	ID             int64  `json:"id"`
	ConversationID int64  `json:"conversation_id"`
	Thread         string `json:"thread"`
	Seq            int64  `json:"seq"`
	Sender         string `json:"sender"`
	Body           string `json:"body"`
	ClientID       string `json:"client_id"`
}

// send is one message a socket sends: kept until its ack arrives, and sent
// again (same client id) after a reconnect if it has not.
type send struct {
	frame    []byte
	convID   int64
	clientID string
	sched    time.Duration // when the open-loop schedule wanted it sent
	chat     *chat
	dir      int
	k        int
	written  bool // it went out on a connection at least once (guarded by the socket's mu)
}

// handler is what a scenario does with a socket's frames. Each socket's
// frames are handled by one goroutine at a time, in the order they arrive.
type handler interface {
	event(s *socket, f *inFrame, at time.Duration)
	ack(s *socket, p *send, m *wireMessage, at time.Duration)
	refused(s *socket, p *send)
	// resent is told, after a resume's replay and before the re-send, of
	// each unacknowledged send that had gone out on the lost connection.
	resent(s *socket, p *send)
}

// nopHandler ignores everything (idle connections).
type nopHandler struct{}

func (nopHandler) event(*socket, *inFrame, time.Duration)          {}
func (nopHandler) ack(*socket, *send, *wireMessage, time.Duration) {}
func (nopHandler) refused(*socket, *send)                          {}
func (nopHandler) resent(*socket, *send)                           {}

// socket is one client's WebSocket, across reconnects: a visitor or an
// agent. One goroutine reads it (loop); the scheduler writes to it (send).
type socket struct {
	r     *runner
	name  string
	token string // said in hello: a visitor token or an API token
	addr  netip.Addr
	h     handler
	idx   int // the socket's number within its kind, for the scenario's own use
	node  int // the cluster node it connects to (crash with Nodes > 1); 0 otherwise

	// mu guards the fields below it and is only held briefly, so that the
	// reading goroutine, which takes it for every ack, never waits for a
	// write the server is slow to take.
	mu        sync.Mutex
	conn      *websocket.Conn
	live      bool // ready and flushed: sends go straight out
	dropping  bool // a storm dropped it on purpose
	killed    bool // the server is being killed under it (crash)
	droppedAt time.Duration
	pending   []*send

	// wmu orders the writes: the flush after a reconnect before anything newer.
	wmu sync.Mutex

	pos int64 // highest position applied; owned by the reading goroutine
}

// open dials, says hello with the last position, reads the replayed events
// and returns the connection once the server says ready. Pending sends
// are flushed, in order, before anything new goes out.
func (s *socket) open(ctx context.Context) (*websocket.Conn, error) {
	c, _, err := websocket.Dial(ctx, s.r.wsURLs[s.node], &websocket.DialOptions{HTTPClient: s.r.src.client(s.addr)})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	hello := `{"type":"hello","token":` + strconv.Quote(s.token) + `,"after":` + strconv.FormatInt(s.pos, 10) + `}`
	if err := c.Write(ctx, websocket.MessageText, []byte(hello)); err != nil {
		c.CloseNow()
		return nil, err
	}
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			c.CloseNow()
			return nil, err
		}
		f, err := s.handle(data)
		if err != nil {
			c.CloseNow()
			return nil, err
		}
		switch f {
		case "ready", "resync":
			s.wmu.Lock()
			defer s.wmu.Unlock()
			for _, p := range s.resume(c) {
				if err := c.Write(ctx, websocket.MessageText, p.frame); err != nil {
					s.mu.Lock()
					s.conn, s.live = nil, false
					s.mu.Unlock()
					c.CloseNow()
					return nil, err
				}
			}
			return c, nil
		}
	}
}

// resume makes c the socket's live connection once the server said ready,
// and returns the pending sends to write on it, in order. The caller holds
// wmu until they are written, so that nothing newer overtakes them. The
// replay is in by then, so the handler is told of each re-send first: it
// can tell which had been committed before the connection was lost.
func (s *socket) resume(c *websocket.Conn) []*send {
	s.mu.Lock()
	s.conn, s.dropping, s.killed, s.live = c, false, false, true
	flush := slices.Clone(s.pending)
	var again []*send
	for _, p := range flush {
		if p.written {
			again = append(again, p)
		}
		p.written = true
	}
	s.mu.Unlock()
	for _, p := range again {
		s.h.resent(s, p)
	}
	return flush
}

// handle applies one server frame and returns its type, or an error that
// ends the connection.
func (s *socket) handle(data []byte) (string, error) {
	at := s.r.now()
	f, err := parseFrame(data)
	if err != nil {
		return "", fmt.Errorf("%s: unreadable frame %.200q: %w", s.name, data, err)
	}
	switch f.Type {
	case "event":
		if f.Pos > 0 {
			if f.Pos <= s.pos {
				s.r.count(&s.r.posErrors)
				s.r.problem("%s: event at position %d after %d", s.name, f.Pos, s.pos)
			} else {
				s.pos = f.Pos
			}
		}
		s.h.event(s, &f, at)
	case "ready":
		if f.Pos < s.pos {
			s.r.count(&s.r.posErrors)
			s.r.problem("%s: ready at position %d after %d", s.name, f.Pos, s.pos)
		}
		s.pos = max(s.pos, f.Pos)
	case "resync":
		if s.pos > 0 {
			// Events may have been missed: the tool cannot reload through
			// REST as a real client would, so it counts this as a failure.
			s.r.count(&s.r.resyncs)
			s.r.problem("%s: the server could not resume from position %d (resync)", s.name, s.pos)
		}
		s.pos = f.Pos
	case "ack":
		m, err := parseMessage(f.Message)
		if err != nil {
			return "", fmt.Errorf("%s: unreadable ack %.200q: %w", s.name, data, err)
		}
		p, ignored := s.acked(m.ConversationID, f.ClientID)
		switch {
		case ignored:
			s.r.count(&s.r.acksIgnored)
		case p != nil:
			s.h.ack(s, p, &m, at)
		default:
			s.r.count(&s.r.strayAcks)
		}
	case "error":
		text := jsonString(f.Message)
		if f.ClientID == "" {
			return "", fmt.Errorf("%s: server error %s: %s", s.name, f.Code, text)
		}
		if p := s.failed(f.ClientID); p != nil {
			s.h.refused(s, p)
		}
		s.r.count(&s.r.sendErrors)
		s.r.problem("%s: send %s refused: %s: %s", s.name, f.ClientID, f.Code, text)
	}
	return f.Type, nil
}

// loop reads c until it fails, then reconnects with the last position,
// until ctx ends.
func (s *socket) loop(ctx context.Context, c *websocket.Conn) {
	backoff := 100 * time.Millisecond
	for {
		err := s.read(ctx, c)
		s.mu.Lock()
		s.live, s.conn = false, nil
		dropped, killed, droppedAt := s.dropping, s.killed, s.droppedAt
		s.mu.Unlock()
		c.CloseNow()
		if ctx.Err() != nil {
			return
		}
		if !dropped && !killed {
			switch websocket.CloseStatus(err) {
			case 4008:
				s.r.count(&s.r.slowDrops)
			case 1012:
				s.r.count(&s.r.restartDrops)
			default:
				s.r.count(&s.r.lostConns)
			}
			s.r.problem("%s: connection ended by the server or network at %.1fs: %v", s.name, s.r.now().Seconds(), err)
			droppedAt = s.r.now()
		}
		for {
			if c, err = s.open(ctx); err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			if websocket.CloseStatus(err) == 4401 {
				s.r.problem("%s: cannot reconnect: %v", s.name, err)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
		}
		backoff = 100 * time.Millisecond
		s.r.count(&s.r.reconnects)
		if killed {
			s.r.resume.record(s.r.now() - droppedAt)
		} else {
			s.r.reconnect.record(s.r.now() - droppedAt)
		}
	}
}

func (s *socket) read(ctx context.Context, c *websocket.Conn) error {
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return err
		}
		if _, err := s.handle(data); err != nil {
			return err
		}
	}
}

// send queues p and, when the socket is live, writes it at once. A write
// that fails closes the connection; p goes out again after the reconnect.
func (s *socket) send(ctx context.Context, p *send) {
	s.mu.Lock()
	s.pending = append(s.pending, p)
	c := s.conn
	live := s.live
	p.written = live
	s.mu.Unlock()
	if !live {
		return // the flush after the reconnect sends it
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := c.Write(ctx, websocket.MessageText, p.frame); err != nil {
		c.CloseNow() // the reading goroutine reconnects; p is still pending
	}
}

// drop closes the connection abruptly, as a network failure would; the
// reading goroutine reconnects at once.
func (s *socket) drop() bool {
	s.mu.Lock()
	c := s.conn
	if c == nil || !s.live {
		s.mu.Unlock()
		return false
	}
	s.live, s.dropping, s.droppedAt = false, true, s.r.now()
	s.mu.Unlock()
	c.CloseNow()
	return true
}

// crashing marks a connected socket whose server is about to be killed at
// at, so that its reconnect is timed from the kill and not counted as a
// connection lost by surprise; until then it ignores acks (see acked). It
// reports whether the socket was connected.
func (s *socket) crashing(at time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil || s.dropping {
		return false
	}
	s.killed, s.droppedAt = true, at
	return true
}

// acked removes and returns the pending send a server ack answers. While
// the socket's server is about to be killed, acks are ignored (ignored is
// true, the send stays pending), as if lost with the server: their
// messages were committed, and the re-sends after the resume must be
// answered with them.
func (s *socket) acked(convID int64, clientID string) (found *send, ignored bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range s.pending {
		if p.convID == convID && p.clientID == clientID {
			if s.killed {
				return nil, true
			}
			s.pending = append(s.pending[:i], s.pending[i+1:]...)
			return p, false
		}
	}
	return nil, false
}

// failed removes and returns the pending send the server refused. Client
// ids are unique per socket, not only per conversation (see chatRun.frame).
func (s *socket) failed(clientID string) *send {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range s.pending {
		if p.clientID == clientID {
			s.pending = append(s.pending[:i], s.pending[i+1:]...)
			return p
		}
	}
	return nil
}

// unacked returns the number of sends still waiting for their ack.
func (s *socket) unacked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// close ends the connection at the end of the run.
func (s *socket) close() {
	s.mu.Lock()
	c := s.conn
	s.live = false
	s.mu.Unlock()
	if c != nil {
		c.CloseNow()
	}
}
