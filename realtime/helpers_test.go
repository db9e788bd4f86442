package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/switchboard/switchboard"
)

// wait is how long a test waits for something that should happen at once.
const wait = 10 * time.Second

// memLog is an in-memory EventLog. commit assigns positions under the lock,
// so commits are in position order, as the store guarantees.
type memLog struct {
	mu     sync.Mutex
	events []switchboard.Event
	last   int64
	err    error
	failed chan struct{} // if set, signalled when a read fails
}

var _ switchboard.EventLog = (*memLog)(nil)

func (l *memLog) EventsAfter(ctx context.Context, after int64, limit int) ([]switchboard.Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		if l.failed != nil {
			select {
			case l.failed <- struct{}{}:
			default:
			}
		}
		return nil, l.err
	}
	i := sort.Search(len(l.events), func(i int) bool { return l.events[i].Pos > after })
	n := min(limit, len(l.events)-i)
	return slices.Clone(l.events[i : i+n]), nil
}

func (l *memLog) EventBounds(ctx context.Context) (int64, int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return 0, 0, l.err
	}
	if len(l.events) == 0 {
		return 0, 0, nil
	}
	return l.events[0].Pos, l.events[len(l.events)-1].Pos, nil
}

// commit stores events as one transaction and returns them with their positions.
func (l *memLog) commit(events ...switchboard.Event) []switchboard.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range events {
		l.last++
		events[i].Pos = l.last
		events[i].CreatedAt = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	l.events = append(l.events, events...)
	return events
}

// skip uses up n positions, as transactions that roll back do.
func (l *memLog) skip(n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last += n
}

// trim forgets the events up to pos, as retention does.
func (l *memLog) trim(pos int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := sort.Search(len(l.events), func(i int) bool { return l.events[i].Pos > pos })
	l.events = slices.Delete(l.events, 0, i)
}

func (l *memLog) setErr(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
}

func (l *memLog) all() []switchboard.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// ev builds an event whose data carries tag, so that tests can name it.
func ev(aud switchboard.Audience, inbox, contact, user int64, tag string) switchboard.Event {
	e := switchboard.NewEvent(switchboard.EventMessage, aud, map[string]string{"tag": tag})
	e.InboxID, e.ContactID, e.UserID = inbox, contact, user
	if aud != switchboard.AudienceOrg && aud != switchboard.AudienceUser {
		e.ConversationID = inbox*100 + contact
	}
	return e
}

// Principals used across the tests.
var (
	agent1   = &switchboard.Principal{UserID: 1, Name: "Ann", Role: switchboard.RoleAgent, Operator: true, InboxIDs: []int64{1}}
	agent2   = &switchboard.Principal{UserID: 2, Name: "Bob", Role: switchboard.RoleAgent, Operator: true, InboxIDs: []int64{2}}
	admin    = &switchboard.Principal{UserID: 3, Name: "Cat", Role: switchboard.RoleAdmin}
	visitor5 = &switchboard.Principal{VisitorID: 50, ContactID: 5}
	visitor6 = &switchboard.Principal{VisitorID: 60, ContactID: 6}
)

// startHub runs a hub until the test ends.
func startHub(t *testing.T, log switchboard.EventLog, opts HubOptions) *Hub {
	t.Helper()
	h := NewHub(log, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(wait):
			t.Error("hub did not stop")
		}
	})
	return h
}

// got is any server frame, decoded.
type got struct {
	Type     string          `json:"type"`
	Pos      int64           `json:"pos"`
	Event    string          `json:"event"`
	UserID   int64           `json:"user_id"`
	Data     json.RawMessage `json:"data"`
	ClientID string          `json:"client_id"`
	Code     string          `json:"code"`
	Message  json.RawMessage `json:"message"`
}

// tag is the tag of an event built by ev.
func (g got) tag() string {
	var d struct{ Tag string }
	_ = json.Unmarshal(g.Data, &d)
	return d.Tag
}

func decode(t *testing.T, b []byte) got {
	t.Helper()
	var g got
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("frame %s: %v", b, err)
	}
	return g
}

// next reads the next frame of a subscription.
func next(t *testing.T, s *Subscription) got {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	b, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return decode(t, b)
}

func subscribe(t *testing.T, h *Hub, p *switchboard.Principal, after int64) *Subscription {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	s, err := h.Subscribe(ctx, p, after)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// wantTags reads frames until n event frames have arrived and compares their tags.
func wantTags(t *testing.T, s *Subscription, want ...string) {
	t.Helper()
	var tags []string
	for len(tags) < len(want) {
		g := next(t, s)
		if g.Type != frameEvent {
			t.Fatalf("got %s frame, want event (so far %v)", g.Type, tags)
		}
		tags = append(tags, g.tag())
	}
	if !slices.Equal(tags, want) {
		t.Fatalf("got events %v, want %v", tags, want)
	}
}

// testMetrics records the hub's counters so that tests can wait for them.
type testMetrics struct {
	mu          sync.Mutex
	subscribers int
	slow        int
	changed     chan struct{}
}

func newTestMetrics() *testMetrics { return &testMetrics{changed: make(chan struct{}, 1)} }

func (m *testMetrics) Delivered(int) {}
func (m *testMetrics) LogRead(int)   {}
func (m *testMetrics) SlowConsumer() { m.update(func() { m.slow++ }) }
func (m *testMetrics) Subscribers(n int) {
	m.update(func() { m.subscribers = n })
}

func (m *testMetrics) update(f func()) {
	m.mu.Lock()
	f()
	m.mu.Unlock()
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// waitFor waits until cond holds for the recorded counters.
func (m *testMetrics) waitFor(t *testing.T, what string, cond func(m *testMetrics) bool) {
	t.Helper()
	deadline := time.After(wait)
	for {
		m.mu.Lock()
		ok := cond(m)
		m.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-m.changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// fakeAuth knows a fixed set of credentials: "session" cookies, bearer
// tokens and hello tokens all map through tokens.
type fakeAuth struct {
	tokens map[string]*switchboard.Principal
}

func (a *fakeAuth) AuthenticateRequest(r *http.Request) (*switchboard.Principal, bool, error) {
	if c, err := r.Cookie("session"); err == nil {
		if p := a.tokens[c.Value]; p != nil {
			return p, true, nil
		}
		return nil, true, switchboard.Errorf(switchboard.EUNAUTHORIZED, "Session expired.")
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if p := a.tokens[tok]; p != nil {
			return p, false, nil
		}
		return nil, false, switchboard.Errorf(switchboard.EUNAUTHORIZED, "Invalid token.")
	}
	return nil, false, nil
}

func (a *fakeAuth) AuthenticateToken(ctx context.Context, token string) (*switchboard.Principal, error) {
	if p := a.tokens[token]; p != nil {
		return p, nil
	}
	return nil, switchboard.Errorf(switchboard.EUNAUTHORIZED, "Invalid token.")
}

// fakeActions stores messages in the memLog and publishes them, as the
// domain service does. Conversation 42 is in inbox 1 with contact 5; any
// other conversation is not found.
type fakeActions struct {
	log *memLog
	hub *Hub

	mu   sync.Mutex
	sent map[string]switchboard.Message
}

func (a *fakeActions) QueueMessage(ctx context.Context, p *switchboard.Principal, conversationID int64, thread switchboard.Thread, body, clientID string) func() (switchboard.Message, error) {
	m, err := a.send(ctx, p, conversationID, thread, body, clientID)
	return func() (switchboard.Message, error) { return m, err }
}

func (a *fakeActions) send(ctx context.Context, p *switchboard.Principal, conversationID int64, thread switchboard.Thread, body, clientID string) (switchboard.Message, error) {
	switch conversationID {
	case 42:
	case 500:
		return switchboard.Message{}, errors.New("pq: connection reset by peer") // must not reach the client
	default:
		return switchboard.Message{}, switchboard.NotFound("Conversation")
	}
	if err := switchboard.ValidateBody(body, false); err != nil {
		return switchboard.Message{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if m, ok := a.sent[clientID]; ok {
		return m, nil
	}
	m := switchboard.Message{ID: int64(len(a.sent) + 1), ConversationID: 42, Thread: thread, Body: body, ClientID: clientID, Sender: switchboard.SenderAgent}
	a.sent[clientID] = m
	e := switchboard.NewEvent(switchboard.EventMessage, switchboard.AudienceConversation, m)
	e.InboxID, e.ContactID, e.ConversationID = 1, 5, 42
	a.hub.Publish(a.log.commit(e))
	return m, nil
}

func (a *fakeActions) Typing(ctx context.Context, p *switchboard.Principal, conversationID int64) error {
	if conversationID != 42 {
		return switchboard.NotFound("Conversation")
	}
	e := switchboard.NewEvent(switchboard.EventTyping, switchboard.AudienceConversation,
		map[string]any{"conversation_id": 42, "sender": "agent", "name": p.Name})
	e.InboxID, e.ContactID, e.ConversationID = 1, 5, 42
	a.hub.Ephemeral(e)
	return nil
}

// testClock is a clock that moves only when told to.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a hub and a WebSocket server over a real listener.
type env struct {
	log     *memLog
	hub     *Hub
	srv     *Server
	ts      *httptest.Server
	metrics *testMetrics
}

// Credentials known to every env.
var tokens = map[string]*switchboard.Principal{
	"cookie-agent1": agent1,
	"sba_agent2":    agent2,
	"sba_admin":     admin,
	"sbv_visitor5":  visitor5,
	"sbv_visitor6":  visitor6,
}

func newEnv(t *testing.T, hubOpts HubOptions, srvOpts ServerOptions) *env {
	t.Helper()
	e := &env{log: &memLog{}, metrics: newTestMetrics()}
	hubOpts.Metrics = e.metrics
	e.hub = startHub(t, e.log, hubOpts)
	actions := &fakeActions{log: e.log, hub: e.hub, sent: make(map[string]switchboard.Message)}
	e.srv = NewServer(e.hub, &fakeAuth{tokens: tokens}, actions, srvOpts)
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/ws", e.srv)
	e.ts = httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		e.ts.Close()
	})
	return e
}

// publish commits events, each in its own transaction, and publishes them.
func (e *env) publish(events ...switchboard.Event) []switchboard.Event {
	var out []switchboard.Event
	for _, ev := range events {
		committed := e.log.commit(ev)
		e.hub.Publish(committed)
		out = append(out, committed...)
	}
	return out
}

func (e *env) url() string { return "ws" + strings.TrimPrefix(e.ts.URL, "http") + "/api/v1/ws" }

// client is a WebSocket client of the test server.
type client struct {
	t *testing.T
	c *websocket.Conn
}

// dialOpts say how a client authenticates at the upgrade.
type dialOpts struct {
	cookie string // session cookie value
	bearer string // Authorization: Bearer token
	origin string
	onPing func() // called for each ping the client answers
}

func (e *env) dialRaw(t *testing.T, o dialOpts) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if o.cookie != "" {
		h.Set("Cookie", "session="+o.cookie)
	}
	if o.bearer != "" {
		h.Set("Authorization", "Bearer "+o.bearer)
	}
	if o.origin != "" {
		h.Set("Origin", o.origin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	wo := &websocket.DialOptions{HTTPHeader: h}
	if o.onPing != nil {
		wo.OnPingReceived = func(context.Context, []byte) bool { o.onPing(); return true }
	}
	return websocket.Dial(ctx, e.url(), wo)
}

func (e *env) dial(t *testing.T, o dialOpts) *client {
	t.Helper()
	c, _, err := e.dialRaw(t, o)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return &client{t: t, c: c}
}

// connect dials with a hello token and waits for ready or resync.
func (e *env) connect(t *testing.T, token string, after int64) (*client, got) {
	t.Helper()
	c := e.dial(t, dialOpts{})
	c.send(map[string]any{"type": "hello", "token": token, "after": after})
	return c, c.readStart()
}

func (c *client) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.c.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) read() got {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, b, err := c.c.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return decode(c.t, b)
}

// readStart reads the ready or resync frame, failing on anything else.
func (c *client) readStart() got {
	c.t.Helper()
	g := c.read()
	if g.Type != frameReady && g.Type != frameResync {
		c.t.Fatalf("got %s frame, want ready or resync", g.Type)
	}
	return g
}

// readType reads frames until one of type typ, skipping events.
func (c *client) readType(typ string) got {
	c.t.Helper()
	for {
		g := c.read()
		if g.Type == typ {
			return g
		}
		if g.Type != frameEvent {
			c.t.Fatalf("got %s frame, want %s", g.Type, typ)
		}
	}
}

// wantClose reads until the connection closes and checks the close code.
func (c *client) wantClose(code websocket.StatusCode) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		_, b, err := c.c.Read(ctx)
		if err != nil {
			if got := websocket.CloseStatus(err); got != code {
				c.t.Fatalf("closed with %v (%v), want %v", got, err, code)
			}
			return
		}
		_ = b
	}
}
