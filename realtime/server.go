package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard"
)

// Authenticator tells who a WebSocket client is, by the same rules as the REST API.
type Authenticator interface {
	// AuthenticateRequest authenticates the upgrade request by its session
	// cookie or its Authorization header, and reports whether the credentials
	// came from a cookie (the Server then checks Origin). With neither
	// present it returns a nil principal and a nil error.
	AuthenticateRequest(r *http.Request) (p *switchboard.Principal, cookie bool, err error)
	// AuthenticateToken authenticates the token of a hello frame: an API
	// token (sba_…) or a visitor token (sbv_…). ctx is the upgrade request's,
	// so what middleware put there (the client address, for rate limits) is
	// available.
	AuthenticateToken(ctx context.Context, token string) (*switchboard.Principal, error)
}

// Actions are what clients do over the WebSocket: the same domain calls the
// REST API makes, which authorise p themselves.
type Actions interface {
	// QueueMessage queues the storing of a message (once per client ID)
	// and returns; wait then returns the stored message. Messages queued
	// one after another must be stored in that order: a connection's sends
	// are queued as they arrive, without waiting for the ones before them to
	// be committed. ctx lasts until wait returns.
	QueueMessage(ctx context.Context, p *switchboard.Principal, conversationID int64, thread switchboard.Thread, body, clientID string) (wait func() (switchboard.Message, error))
	// Typing checks that p may see the conversation and then publishes the
	// typing event itself with Hub.Ephemeral: only it knows the
	// conversation's inbox and contact, which decide who receives the event.
	Typing(ctx context.Context, p *switchboard.Principal, conversationID int64) error
}

// ServerOptions configures a Server; zero values take the defaults.
type ServerOptions struct {
	// AllowedOrigins are origins other than the server's own (for example
	// "https://app.example.com") from which cookie-authenticated clients may
	// connect.
	AllowedOrigins []string
	// HelloTimeout is how long a client has to send hello (default 10 s).
	HelloTimeout time.Duration
	// PingInterval is how often an idle connection is pinged (default 30 s).
	PingInterval time.Duration
	// PongTimeout is how long a ping waits for its answer (default 30 s), so
	// a silent client is closed after at most PingInterval+PongTimeout.
	PongTimeout time.Duration
	// WriteTimeout bounds the writing of each frame (default 10 s).
	WriteTimeout time.Duration
	// ActionTimeout bounds each send and typing action (default 15 s).
	ActionTimeout time.Duration
	// ReadLimit is the largest client frame in bytes (default 64 KiB);
	// larger ones close the connection with 1009.
	ReadLimit int64
	// Clock defaults to the system clock.
	Clock switchboard.Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Presence, when set, hears each staff connection open (after hello)
	// and close, so presence can follow real connections (P1).
	Presence Presence
}

// Presence is told when staff connections open and close.
type Presence interface {
	OnConnect(userID int64)
	OnDisconnect(userID int64)
}

func (o ServerOptions) withDefaults() ServerOptions {
	if o.HelloTimeout <= 0 {
		o.HelloTimeout = 10 * time.Second
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 30 * time.Second
	}
	if o.PongTimeout <= 0 {
		o.PongTimeout = 30 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.ActionTimeout <= 0 {
		o.ActionTimeout = 15 * time.Second
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = 64 << 10
	}
	if o.Clock == nil {
		o.Clock = switchboard.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// typingInterval is the shortest time between two typing events a
// connection forwards for one conversation: clients send at most one every
// 3 s; the slack absorbs jitter.
const typingInterval = 2 * time.Second

// Server is the WebSocket endpoint (GET /api/v1/ws) speaking docs/protocol.md.
// Each connection has one goroutine reading (the handler's) and one writing.
type Server struct {
	hub     *Hub
	auth    Authenticator
	actions Actions
	opts    ServerOptions
	logger  *slog.Logger
	upgrade upgradeFunc

	mu       sync.Mutex
	sessions map[*session]struct{}
	closing  bool
	wg       sync.WaitGroup // one per session
}

// NewServer returns the WebSocket endpoint for hub.
func NewServer(hub *Hub, auth Authenticator, actions Actions, opts ServerOptions) *Server {
	opts = opts.withDefaults()
	return &Server{
		hub:      hub,
		auth:     auth,
		actions:  actions,
		opts:     opts,
		logger:   opts.Logger,
		upgrade:  coderUpgrader(opts.ReadLimit),
		sessions: make(map[*session]struct{}),
	}
}

// ServeHTTP upgrades the request and serves the connection until it ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "Method not allowed.", http.StatusMethodNotAllowed)
		return
	}
	// Read before authenticating: a DisconnectUser from now on refuses this
	// connection even if it was authenticated with the old session.
	since := s.hub.epoch.Load()
	p, cookie, authErr := s.auth.AuthenticateRequest(r)
	if cookie && !s.originAllowed(r) {
		// Cross-site WebSocket hijacking: a foreign page riding on the
		// browser's cookie. Refused before upgrading.
		http.Error(w, "Origin not allowed.", http.StatusForbidden)
		return
	}
	sess := s.open()
	if sess == nil {
		http.Error(w, "Shutting down.", http.StatusServiceUnavailable)
		return
	}
	c, err := s.upgrade(w, r)
	if err != nil {
		s.close(sess)
		return
	}
	// Serve on a goroutine of our own and let net/http's end: it would sit
	// idle for the connection's life holding the request and a stack grown
	// while parsing it. The context keeps the request's values (middleware's
	// client address, for the authenticator) but not its cancellation, which
	// comes when this handler returns: a connection ends when it is closed.
	ctx := context.WithoutCancel(r.Context())
	go func() {
		sub := sess.start(ctx, c, p, authErr, since)
		if sub == nil {
			_ = c.CloseNow()
			s.close(sess)
			return
		}
		// The reader lives as long as the connection, and its stack is most
		// of what an idle connection costs: it starts afresh rather than on
		// this goroutine's, which hello's authentication may have grown.
		go func() {
			defer s.close(sess)
			sess.run(ctx, sub)
		}()
	}()
}

// originAllowed reports whether the request's Origin is the server's own
// (same host, as the browser addressed it) or an allowed one.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, allowed := range s.opts.AllowedOrigins {
		if strings.EqualFold(strings.TrimSuffix(allowed, "/"), origin) {
			return true
		}
	}
	return false
}

func (s *Server) open() *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil
	}
	sess := &session{srv: s, finished: make(chan struct{})}
	// No writer until the subscription is in place; what arrives before is
	// picked up by the first one.
	sess.writing.Store(true)
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	return sess
}

func (s *Server) close(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
	s.wg.Done()
}

// Shutdown refuses new connections, tells every client to reconnect
// ({"type":"reconnect"}, close 1012) and waits for the connections to end;
// when ctx ends first it drops the rest. http.Server.Shutdown does not see
// hijacked connections, so call this before it.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for sess := range s.sessions {
		sess.shutdown()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for sess := range s.sessions {
			sess.closeNow()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}

func (s *Server) logInternal(msg string, err error, p *switchboard.Principal) {
	if switchboard.ErrorCode(err) != switchboard.EINTERNAL {
		return
	}
	args := []any{"err", err}
	if p != nil {
		args = append(args, "user_id", p.UserID, "visitor_id", p.VisitorID)
	}
	s.logger.Error(msg, args...)
}

// session is one connection. Its reader is the goroutine running serve. It
// has a writer goroutine only while there is something to write (see kick).
type session struct {
	srv *Server
	ctx context.Context

	mu           sync.Mutex
	conn         conn
	helloPending bool // whoever clears it ends the hello phase: the hello, its timeout or Shutdown
	stopping     bool
	sub          *Subscription

	writing   atomic.Bool   // a writer goroutine runs, or the connection is done
	again     atomic.Bool   // there was something to write since the writer last looked
	pingDue   atomic.Bool   // set by pingTimer, cleared by the writer
	pingTimer *time.Timer   // set before the first writer starts
	finished  chan struct{} // closed by the writer that ends the connection

	// Sends in flight (see queueSend).
	sendMu   sync.Mutex
	replies  []func() []byte // the answers to sends, in the order the sends came
	replying bool            // a goroutine is writing them (replyAll)
	slots    chan struct{}   // one per send in flight; made by the first send
	sends    sync.WaitGroup  // replyAll goroutines

	// Owned by the reading goroutine.
	p          *switchboard.Principal
	typingConv int64
	typingAt   time.Time
}

// maxSendsInFlight bounds a connection's sends queued but not yet answered;
// at the bound the reader stops reading until one is answered.
const maxSendsInFlight = 64

func (sess *session) attach(c conn) bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.conn = c
	sess.helloPending = !sess.stopping
	return !sess.stopping
}

func (sess *session) leaveHello() bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	ok := sess.helloPending
	sess.helloPending = false
	return ok
}

func (sess *session) attachSub(sub *Subscription) bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.sub = sub
	return !sess.stopping
}

// shutdown asks the connection to tell its client to reconnect; called with srv.mu held.
func (sess *session) shutdown() {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.stopping = true
	switch {
	case sess.helloPending:
		sess.helloPending = false
		go sess.sayReconnect() // its reader then sees the connection closed
	case sess.sub != nil:
		sess.sub.closeWith(errShutdown) // its writer says reconnect
	}
}

func (sess *session) closeNow() {
	sess.mu.Lock()
	c := sess.conn
	sess.mu.Unlock()
	if c != nil {
		_ = c.CloseNow()
	}
}

// start says hello and subscribes; it returns nil when the connection is to
// end (it has then said why to the client).
func (sess *session) start(ctx context.Context, c conn, reqP *switchboard.Principal, reqErr error, since uint64) *Subscription {
	sess.ctx = ctx
	if !sess.attach(c) {
		sess.sayReconnect()
		return nil
	}
	p, after, ok := sess.hello(ctx, reqP, reqErr)
	if !ok {
		return nil
	}
	sub, err := sess.srv.hub.subscribe(ctx, p, after, since, sess.kick)
	if err != nil {
		sess.endWith(err)
		return nil
	}
	if !sess.attachSub(sub) {
		sub.Close()
		sess.sayReconnect()
		return nil
	}
	sess.p = p
	return sub
}

// run serves a subscribed connection until it ends: it reads the client's
// frames while writers send what the subscription has.
func (sess *session) run(ctx context.Context, sub *Subscription) {
	defer sess.conn.CloseNow()
	defer sub.Close()
	p := sess.p
	if pres := sess.srv.opts.Presence; pres != nil && p.IsStaff() {
		pres.OnConnect(p.UserID)
		defer pres.OnDisconnect(p.UserID)
	}
	sess.pingTimer = time.AfterFunc(sess.srv.opts.PingInterval, func() {
		sess.pingDue.Store(true)
		sess.kick()
	})
	defer sess.pingTimer.Stop()
	sess.writing.Store(false)
	sess.kick() // the replay, then ready or resync

	sess.read(ctx, sub)
	// Sends already queued are committed whatever happens to the
	// connection; wait for them, so that a shutdown waits too.
	sess.sends.Wait()
	// The connection is closed, by the client or by a writer; either way
	// the writer is done once it has seen the subscription end.
	sub.closeWith(errClosed)
	<-sess.finished
}

// hello waits for the client's hello and authenticates it.
func (sess *session) hello(ctx context.Context, reqP *switchboard.Principal, reqErr error) (*switchboard.Principal, int64, bool) {
	srv := sess.srv
	if reqErr != nil {
		if sess.leaveHello() {
			srv.logInternal("realtime: authenticate request", reqErr, nil)
			sess.fail(reqErr, CloseUnauthorized)
		}
		return nil, 0, false
	}
	timer := time.AfterFunc(srv.opts.HelloTimeout, func() {
		if sess.leaveHello() {
			sess.fail(switchboard.Errorf(switchboard.EINVALID, "Expected hello within %s.", srv.opts.HelloTimeout), closePolicyViolation)
		}
	})
	data, err := sess.conn.Read(ctx)
	if !sess.leaveHello() {
		return nil, 0, false // timed out or shutting down: the connection is being closed
	}
	timer.Stop()
	if err != nil {
		return nil, 0, false
	}

	var h helloFrame
	if typ, err := frameType(data); err != nil || typ != frameHello {
		sess.fail(switchboard.Errorf(switchboard.EINVALID, "The first frame must be hello."), closePolicyViolation)
		return nil, 0, false
	}
	if err := decodeStrict(data, &h); err != nil {
		sess.fail(err, closePolicyViolation)
		return nil, 0, false
	}
	if h.After < 0 {
		sess.fail(switchboard.Errorf(switchboard.EINVALID, "after must not be negative."), closePolicyViolation)
		return nil, 0, false
	}
	p := reqP
	if h.Token != "" {
		if p, err = srv.auth.AuthenticateToken(ctx, h.Token); err != nil {
			srv.logInternal("realtime: authenticate token", err, nil)
			sess.fail(err, CloseUnauthorized)
			return nil, 0, false
		}
	}
	if p == nil {
		sess.fail(switchboard.Errorf(switchboard.EUNAUTHORIZED, "Sign in, or send a token in hello."), CloseUnauthorized)
		return nil, 0, false
	}
	return p, h.After, true
}

// read handles the client's frames until the connection ends.
func (sess *session) read(ctx context.Context, sub *Subscription) {
	for {
		data, err := sess.conn.Read(ctx)
		if err != nil {
			return
		}
		typ, err := frameType(data)
		if err == nil && typ == frameSend {
			sess.queueSend(ctx, data, sub)
			continue
		}
		if reply := sess.handle(ctx, typ, err, data); reply != nil {
			sub.reply(reply)
		}
	}
}

// queueSend queues a send frame's message and returns without waiting for
// it to be committed, so that a connection carrying many chats (an agent's)
// has its messages committed together rather than one after another. The
// answers (ack or error) go out in the order the sends came.
func (sess *session) queueSend(ctx context.Context, data []byte, sub *Subscription) {
	if sess.slots == nil {
		sess.slots = make(chan struct{}, maxSendsInFlight)
	}
	sess.slots <- struct{}{} // released once answered
	reply := sess.send1(ctx, data)
	sess.sendMu.Lock()
	sess.replies = append(sess.replies, reply)
	start := !sess.replying
	sess.replying = true
	sess.sendMu.Unlock()
	if start {
		sess.sends.Add(1)
		go sess.replyAll(sub)
	}
}

// send1 checks a send frame and queues its message; the function it returns
// waits for the outcome and builds the answer.
func (sess *session) send1(ctx context.Context, data []byte) func() []byte {
	var f sendFrame
	failed := func(clientID string, err error) func() []byte {
		return func() []byte { return marshalError(clientID, err) }
	}
	if err := decodeStrict(data, &f); err != nil {
		return failed(looseClientID(data), err)
	}
	if f.Thread == "" {
		f.Thread = switchboard.ThreadPublic
	}
	if !f.Thread.Valid() {
		return failed(f.ClientID, switchboard.Errorf(switchboard.EINVALID, "thread must be public, internal or comment."))
	}
	if f.ConversationID <= 0 {
		return failed(f.ClientID, switchboard.Errorf(switchboard.EINVALID, "conversation_id is required."))
	}
	ctx, cancel := context.WithTimeout(ctx, sess.srv.opts.ActionTimeout)
	wait := sess.srv.actions.QueueMessage(ctx, sess.p, f.ConversationID, f.Thread, f.Body, f.ClientID)
	return func() []byte {
		defer cancel()
		m, err := wait()
		if err != nil {
			sess.srv.logInternal("realtime: send message", err, sess.p)
			return marshalError(f.ClientID, err)
		}
		return mustMarshal(ackFrame{Type: frameAck, ClientID: f.ClientID, Message: m})
	}
}

// replyAll answers the sends in flight, in order, and ends when there are
// none; queueSend starts it when there is none running.
func (sess *session) replyAll(sub *Subscription) {
	defer sess.sends.Done()
	for {
		sess.sendMu.Lock()
		if len(sess.replies) == 0 {
			sess.replies = nil
			sess.replying = false
			sess.sendMu.Unlock()
			return
		}
		reply := sess.replies[0]
		sess.replies[0] = nil
		sess.replies = sess.replies[1:]
		sess.sendMu.Unlock()
		sub.reply(reply())
		<-sess.slots
	}
}

// handle answers one client frame; it returns the reply, if any.
func (sess *session) handle(ctx context.Context, typ string, err error, data []byte) []byte {
	if err != nil {
		return marshalError("", err)
	}
	switch typ {
	case frameTyping:
		return sess.handleTyping(ctx, data)
	case framePing:
		var f pingFrame
		if err := decodeStrict(data, &f); err != nil {
			return marshalError("", err)
		}
		return pongFrame
	case frameHello:
		return marshalError("", switchboard.Errorf(switchboard.EINVALID, "hello was already received."))
	}
	return marshalError("", switchboard.Errorf(switchboard.EINVALID, "Unknown frame type."))
}

// looseClientID finds the client_id of a send frame that failed strict
// decoding, so that the client can match the error to its message.
func looseClientID(data []byte) string {
	var f struct {
		ClientID string `json:"client_id"`
	}
	if json.Unmarshal(data, &f) != nil || switchboard.ValidateClientID(f.ClientID) != nil {
		return ""
	}
	return f.ClientID
}

func (sess *session) handleTyping(ctx context.Context, data []byte) []byte {
	var f typingFrame
	if err := decodeStrict(data, &f); err != nil {
		return marshalError("", err)
	}
	now := sess.srv.opts.Clock.Now()
	if f.ConversationID == sess.typingConv && now.Sub(sess.typingAt) < typingInterval {
		return nil // a flood of typing frames is dropped, not answered
	}
	sess.typingConv, sess.typingAt = f.ConversationID, now
	ctx, cancel := context.WithTimeout(ctx, sess.srv.opts.ActionTimeout)
	defer cancel()
	if err := sess.srv.actions.Typing(ctx, sess.p, f.ConversationID); err != nil {
		sess.srv.logInternal("realtime: typing", err, sess.p)
		return marshalError("", err)
	}
	return nil
}

// kick makes sure a writer goroutine runs. An idle connection has none: a
// parked goroutine keeps a stack of at least 4 KiB once it has written
// anything, a fifth of what an idle connection may cost, so a writer is
// started when there is something to write (a frame, a ping, the end) and
// ends when there is not. Starting a goroutine costs about what waking a
// parked one does.
func (sess *session) kick() {
	sess.again.Store(true)
	if sess.writing.CompareAndSwap(false, true) {
		go sess.write()
	}
}

// write is the writer goroutine: it writes until nothing is due.
func (sess *session) write() {
	for {
		sess.again.Store(false)
		if !sess.flush() {
			close(sess.finished) // writing stays set: no writer starts again
			return
		}
		sess.writing.Store(false)
		// A kick between flush's last look and the Store above found a
		// writer running and relied on it: take over its work, unless a
		// kick since has started a new writer.
		if !sess.again.Load() || !sess.writing.CompareAndSwap(false, true) {
			return
		}
	}
}

// flush sends what is due: a ping, then the queued frames. It reports false
// when the connection is done.
func (sess *session) flush() bool {
	for {
		if sess.pingDue.Swap(false) {
			if !sess.ping() {
				return false
			}
			sess.pingTimer.Reset(sess.srv.opts.PingInterval)
		}
		data, err := sess.sub.poll(sess.ctx)
		if err != nil {
			sess.endWith(err)
			return false
		}
		if data == nil {
			return true
		}
		if !sess.send(data) {
			return false
		}
	}
}

func (sess *session) send(data []byte) bool {
	ctx, cancel := context.WithTimeout(sess.ctx, sess.srv.opts.WriteTimeout)
	defer cancel()
	if err := sess.conn.Write(ctx, data); err != nil {
		_ = sess.conn.CloseNow()
		return false
	}
	return true
}

func (sess *session) ping() bool {
	ctx, cancel := context.WithTimeout(sess.ctx, sess.srv.opts.PongTimeout)
	defer cancel()
	if err := sess.conn.Ping(ctx); err != nil {
		_ = sess.conn.CloseNow() // silent for too long
		return false
	}
	return true
}

// endWith closes the connection the way the reason the subscription ended calls for.
func (sess *session) endWith(err error) {
	switch {
	case errors.Is(err, errClosed):
		// The client went away or the reader ended; nothing to say.
	case errors.Is(err, ErrSlowConsumer):
		_ = sess.conn.Close(CloseSlowConsumer, "slow consumer")
	case errors.Is(err, ErrSessionChanged):
		_ = sess.conn.Close(CloseSessionChanged, "session changed")
	case errors.Is(err, errShutdown), errors.Is(err, ErrHubStopped):
		sess.sayReconnect()
	case switchboard.ErrorCode(err) == switchboard.EUNAUTHORIZED:
		sess.fail(err, CloseUnauthorized)
	default:
		sess.srv.logInternal("realtime: subscription", err, sess.p)
		sess.fail(err, closeInternalError)
	}
}

// fail sends an error frame and closes the connection with code; internal
// errors always close with 1011.
func (sess *session) fail(err error, code int) {
	if switchboard.ErrorCode(err) == switchboard.EINTERNAL {
		code = closeInternalError
	}
	ctx, cancel := context.WithTimeout(context.Background(), sess.srv.opts.WriteTimeout)
	_ = sess.conn.Write(ctx, marshalError("", err))
	cancel()
	_ = sess.conn.Close(code, closeReason(code))
}

func (sess *session) sayReconnect() {
	ctx, cancel := context.WithTimeout(context.Background(), sess.srv.opts.WriteTimeout)
	_ = sess.conn.Write(ctx, reconnectFrame)
	cancel()
	_ = sess.conn.Close(CloseServiceRestart, closeReason(CloseServiceRestart))
}

func closeReason(code int) string {
	switch code {
	case CloseUnauthorized:
		return "unauthorized"
	case CloseServiceRestart:
		return "service restart"
	case closeInternalError:
		return "internal error"
	}
	return "policy violation"
}
