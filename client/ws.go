package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	sb "github.com/switchboard/switchboard"
)

// Conn is a realtime connection speaking docs/protocol.md. One goroutine
// reads frames from the server: events queue up for Next, acks and errors
// of sends go to the Send that waits for them. Safe for concurrent use.
type Conn struct {
	ws     *websocket.Conn
	token  string
	cancel context.CancelFunc
	done   chan struct{} // closed when the reader ends
	err    error         // why the reader ended; set before done is closed

	events chan *sb.Event
	ready  chan Ready
	pos    atomic.Int64

	mu      sync.Mutex
	waiters map[string]chan reply
	lastErr *Error // the last error frame not tied to a send (e.g. authentication)
}

// Ready is the server's answer to hello.
type Ready struct {
	// Resync is true when the server could not replay from the position
	// given: reload state through REST and continue from Pos.
	Resync bool
	// Pos is the stream position after the replay.
	Pos int64
	// UserID is the staff user the connection belongs to (0 for visitors).
	UserID int64
}

type reply struct {
	msg sb.Message
	err error
}

// eventQueue is how many events may wait for Next before the reader stops
// reading (and the server, in time, drops the connection as a slow consumer).
const eventQueue = 4096

// Dial opens a realtime connection as the client's caller: its session
// cookie (with our Origin, as a browser sends it), or its token, which Hello
// sends. Call Hello next.
func (c *Client) Dial(ctx context.Context) (*Conn, error) {
	scheme := "ws"
	if c.base.Scheme == "https" {
		scheme = "wss"
	}
	u := scheme + "://" + c.base.Host + c.base.Path + "/api/v1/ws"
	h := http.Header{}
	h.Set("Origin", c.origin())
	ws, res, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: c.hc, HTTPHeader: h})
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("client: dial %s: HTTP %d: %w", u, res.StatusCode, err)
		}
		return nil, fmt.Errorf("client: dial %s: %w", u, err)
	}
	ws.SetReadLimit(1 << 20)
	rctx, cancel := context.WithCancel(context.Background())
	conn := &Conn{
		ws:      ws,
		token:   c.Token(),
		cancel:  cancel,
		done:    make(chan struct{}),
		events:  make(chan *sb.Event, eventQueue),
		ready:   make(chan Ready, 1),
		waiters: make(map[string]chan reply),
	}
	go conn.read(rctx)
	return conn, nil
}

// Hello authenticates and names the last position this client applied (0
// for a fresh start). It returns once the server has replayed what was
// missed (those events are waiting for Next) and said ready or resync.
func (c *Conn) Hello(ctx context.Context, after int64) (Ready, error) {
	frame := map[string]any{"type": "hello", "after": after}
	if c.token != "" {
		frame["token"] = c.token
	}
	if err := c.write(ctx, frame); err != nil {
		return Ready{}, err
	}
	select {
	case r := <-c.ready:
		if r.Pos > c.pos.Load() {
			c.pos.Store(r.Pos)
		}
		return r, nil
	case <-c.done:
		return Ready{}, c.err
	case <-ctx.Done():
		return Ready{}, ctx.Err()
	}
}

// Next returns the next event, in stream order.
func (c *Conn) Next(ctx context.Context) (*sb.Event, error) {
	select {
	case e := <-c.events:
		return e, nil
	default:
	}
	select {
	case e := <-c.events:
		return e, nil
	case <-c.done:
		// Events that arrived before the end are still delivered.
		select {
		case e := <-c.events:
			return e, nil
		default:
			return nil, c.err
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Pos returns the highest event position received.
func (c *Conn) Pos() int64 { return c.pos.Load() }

// Send posts a message and waits for the server's acknowledgement: the
// committed message (the original one when clientID was used before). An
// empty clientID gets a random one.
func (c *Conn) Send(ctx context.Context, convID int64, thread sb.Thread, body, clientID string) (sb.Message, error) {
	wait, err := c.Queue(ctx, convID, thread, body, clientID)
	if err != nil {
		return sb.Message{}, err
	}
	return wait(ctx)
}

// Queue posts a message without waiting for its acknowledgement; wait
// returns it, as Send would. Messages queued one after another on a
// connection are stored in that order.
func (c *Conn) Queue(ctx context.Context, convID int64, thread sb.Thread, body, clientID string) (wait func(context.Context) (sb.Message, error), err error) {
	if clientID == "" {
		clientID = NewClientID()
	}
	ch := make(chan reply, 1)
	c.mu.Lock()
	if _, busy := c.waiters[clientID]; busy {
		c.mu.Unlock()
		return nil, fmt.Errorf("client: a send with client id %q is already waiting", clientID)
	}
	c.waiters[clientID] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.waiters, clientID)
		c.mu.Unlock()
	}
	frame := map[string]any{"type": "send", "conversation_id": convID, "thread": thread, "body": body, "client_id": clientID}
	if err := c.write(ctx, frame); err != nil {
		forget()
		return nil, err
	}
	return func(ctx context.Context) (sb.Message, error) {
		defer forget()
		select {
		case r := <-ch:
			return r.msg, r.err
		case <-c.done:
			return sb.Message{}, c.err
		case <-ctx.Done():
			return sb.Message{}, ctx.Err()
		}
	}, nil
}

// Typing tells the others in a conversation that the caller is typing.
func (c *Conn) Typing(ctx context.Context, convID int64) error {
	return c.write(ctx, map[string]any{"type": "typing", "conversation_id": convID})
}

// Ping asks the server for a pong (the answer is not waited for).
func (c *Conn) Ping(ctx context.Context) error {
	return c.write(ctx, map[string]any{"type": "ping"})
}

// Close closes the connection normally and waits for the reader to end.
func (c *Conn) Close() error {
	err := c.ws.Close(websocket.StatusNormalClosure, "")
	c.cancel()
	<-c.done
	return err
}

// Done is closed when the connection has ended; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, once Done is closed.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// CloseCode returns the WebSocket close code in err (e.g. 4401
// unauthorized, 4001 session changed, 4008 slow consumer, 1012 restart), or -1.
func CloseCode(err error) int { return int(websocket.CloseStatus(err)) }

func (c *Conn) write(ctx context.Context, frame any) error {
	b, err := json.Marshal(frame)
	if err != nil {
		return fmt.Errorf("client: encode frame: %w", err)
	}
	return c.ws.Write(ctx, websocket.MessageText, b)
}

// inFrame is any server frame; fields are filled by type.
type inFrame struct {
	Type     string          `json:"type"`
	Pos      int64           `json:"pos"`
	UserID   int64           `json:"user_id"`
	ClientID string          `json:"client_id"`
	Code     string          `json:"code"`
	Message  json.RawMessage `json:"message"`
}

func (c *Conn) read(ctx context.Context) {
	var err error
	defer func() {
		c.mu.Lock()
		if c.lastErr != nil && CloseCode(err) >= 4000 {
			err = fmt.Errorf("%w (%w)", c.lastErr, err)
		}
		c.mu.Unlock()
		c.err = err
		close(c.done)
	}()
	for {
		var data []byte
		if _, data, err = c.ws.Read(ctx); err != nil {
			return
		}
		var f inFrame
		if err = json.Unmarshal(data, &f); err != nil {
			err = fmt.Errorf("client: bad frame from server: %w", err)
			_ = c.ws.Close(websocket.StatusProtocolError, "bad frame")
			return
		}
		switch f.Type {
		case "event":
			var e sb.Event
			if err = json.Unmarshal(data, &e); err != nil {
				err = fmt.Errorf("client: bad event from server: %w", err)
				return
			}
			if e.Pos > c.pos.Load() {
				c.pos.Store(e.Pos)
			}
			select {
			case c.events <- &e:
			case <-ctx.Done():
				err = ctx.Err()
				return
			}
		case "ready", "resync":
			select {
			case c.ready <- Ready{Resync: f.Type == "resync", Pos: f.Pos, UserID: f.UserID}:
			default:
			}
		case "ack":
			var m sb.Message
			if err = json.Unmarshal(f.Message, &m); err != nil {
				err = fmt.Errorf("client: bad ack from server: %w", err)
				return
			}
			c.answer(f.ClientID, reply{msg: m})
		case "error":
			var msg string
			_ = json.Unmarshal(f.Message, &msg)
			e := &Error{Code: f.Code, Message: msg}
			if f.ClientID == "" || !c.answer(f.ClientID, reply{err: e}) {
				c.mu.Lock()
				c.lastErr = e
				c.mu.Unlock()
			}
		}
	}
}

// answer hands a reply to the Send waiting for clientID.
func (c *Conn) answer(clientID string, r reply) bool {
	c.mu.Lock()
	ch, ok := c.waiters[clientID]
	c.mu.Unlock()
	if ok {
		select {
		case ch <- r:
		default: // a second answer for one send; the first one counts
		}
	}
	return ok
}

// LastError returns the last error frame the server sent that no Send was waiting for.
func (c *Conn) LastError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastErr == nil {
		return nil
	}
	return c.lastErr
}

// NewClientID returns a random client id for idempotent sends.
func NewClientID() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic("client: crypto/rand failed: " + err.Error())
	}
	return "c-" + hex.EncodeToString(b)
}
