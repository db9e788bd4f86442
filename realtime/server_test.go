package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/switchboard/switchboard"
)

func TestServerDeliversWhatEachPrincipalMaySee(t *testing.T) {
	e := newEnv(t, HubOptions{}, ServerOptions{})
	clients := map[string]*client{}

	// Each way of authenticating: cookie (same origin), bearer header, hello token.
	c := e.dial(t, dialOpts{cookie: "cookie-agent1", origin: e.ts.URL})
	c.send(map[string]any{"type": "hello"})
	if g := c.readStart(); g.UserID != agent1.UserID {
		t.Fatalf("ready for user %d, want %d", g.UserID, agent1.UserID)
	}
	clients["agent1"] = c
	c = e.dial(t, dialOpts{bearer: "sba_agent2"})
	c.send(map[string]any{"type": "hello"})
	c.readStart()
	clients["agent2"] = c
	clients["admin"], _ = e.connect(t, "sba_admin", 0)
	clients["visitor5"], _ = e.connect(t, "sbv_visitor5", 0)
	clients["visitor6"], _ = e.connect(t, "sbv_visitor6", 0)

	e.publish(
		ev(conv, 1, 5, 0, "conv-1-5"),
		ev(conv, 2, 6, 0, "conv-2-6"),
		ev(stf, 1, 5, 0, "staff-1"),
		ev(usr, 0, 0, 1, "user-1"),
		ev(usr, 0, 0, 2, "user-2"),
		ev(org, 0, 0, 0, "org"),
	)
	ends := map[string]switchboard.Event{
		"agent1":   ev(usr, 0, 0, 1, "end"),
		"agent2":   ev(usr, 0, 0, 2, "end"),
		"admin":    ev(usr, 0, 0, 3, "end"),
		"visitor5": ev(conv, 99, 5, 0, "end-visitor5"),
		"visitor6": ev(conv, 99, 6, 0, "end-visitor6"),
	}
	for _, end := range ends {
		e.publish(end)
	}
	want := map[string]string{
		"agent1":   "[conv-1-5 staff-1 user-1 org]",
		"agent2":   "[conv-2-6 user-2 org]",
		"admin":    "[conv-1-5 conv-2-6 staff-1 org]",
		"visitor5": "[conv-1-5]",
		"visitor6": "[conv-2-6]",
	}
	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			c.t = t
			var tags []string
			for {
				g := c.readType(frameEvent)
				if g.tag() == "end" || g.tag() == "end-"+name {
					break
				}
				if !strings.HasPrefix(g.tag(), "end-") {
					tags = append(tags, g.tag())
				}
			}
			if got := fmt.Sprint(tags); got != want[name] {
				t.Errorf("got %s, want %s", got, want[name])
			}
		})
	}
}

func TestServerResume(t *testing.T) {
	e := newEnv(t, HubOptions{ReplayBatch: 2}, ServerOptions{})
	c, ready := e.connect(t, "cookie-agent1", 0)
	e.publish(ev(conv, 1, 5, 0, "seen-1"), ev(conv, 1, 5, 0, "seen-2"))
	var last int64
	for range 2 {
		last = c.readType(frameEvent).Pos
	}
	if last <= ready.Pos {
		t.Fatalf("event at %d, not after ready at %d", last, ready.Pos)
	}
	_ = c.c.Close(websocket.StatusNormalClosure, "")

	e.publish(
		ev(conv, 1, 5, 0, "missed-1"),
		ev(conv, 2, 6, 0, "other inbox"),
		ev(stf, 1, 5, 0, "missed-2"),
		ev(usr, 0, 0, 2, "someone else's"),
		ev(org, 0, 0, 0, "missed-3"),
	)
	c = e.dial(t, dialOpts{})
	c.send(map[string]any{"type": "hello", "token": "cookie-agent1", "after": last})
	var tags []string
	for {
		g := c.read()
		if g.Type == frameReady {
			if g.Pos != last+5 {
				t.Errorf("ready at %d, want %d", g.Pos, last+5)
			}
			break
		}
		tags = append(tags, g.tag())
	}
	if got, want := fmt.Sprint(tags), "[missed-1 missed-2 missed-3]"; got != want {
		t.Fatalf("replayed %s, want %s", got, want)
	}
	e.publish(ev(conv, 1, 5, 0, "live"))
	if g := c.read(); g.tag() != "live" || g.Pos != last+6 {
		t.Fatalf("got %s at %d, want live at %d", g.tag(), g.Pos, last+6)
	}
}

func TestServerResumeWhilePublishing(t *testing.T) {
	e := newEnv(t, HubOptions{ReplayBatch: 5, SendBuffer: 100000}, ServerOptions{})
	for i := range 200 {
		e.publish(ev(conv, int64(1+i%2), 5, 0, "missed"))
	}
	after := int64(50)
	c := e.dial(t, dialOpts{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for i := range 100 {
				e.publish(ev(conv, int64(1+i%2), 5, 0, "live"))
			}
		})
	}
	c.send(map[string]any{"type": "hello", "token": "sba_agent2", "after": after})
	wg.Wait()
	e.publish(ev(usr, 0, 0, agent2.UserID, "end"))

	var got []int64
	for {
		g := c.read()
		if g.Type == frameReady {
			continue
		}
		if g.tag() == "end" {
			break
		}
		got = append(got, g.Pos)
	}
	var want []int64
	for _, ev := range e.log.all() {
		if ev.Pos > after && ev.InboxID == 2 {
			want = append(want, ev.Pos)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got positions\n%v\nwant\n%v", got, want)
	}
}

func TestServerResync(t *testing.T) {
	e := newEnv(t, HubOptions{}, ServerOptions{})
	for range 10 {
		e.publish(ev(org, 0, 0, 0, "old"))
	}
	e.log.trim(5)
	for _, tc := range []struct {
		name  string
		after int64
		want  string
	}{
		{"older than the log keeps", 4, frameResync},
		{"just before the oldest kept", 5, frameReady},
		{"ahead of the log", 11, frameResync},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dial(t, dialOpts{})
			c.send(map[string]any{"type": "hello", "token": "sba_admin", "after": tc.after})
			g := c.readType(tc.want)
			if g.Pos != 10 {
				t.Errorf("%s at %d, want 10", g.Type, g.Pos)
			}
		})
	}
	t.Run("live events follow a resync", func(t *testing.T) {
		c := e.dial(t, dialOpts{})
		c.send(map[string]any{"type": "hello", "token": "sba_admin", "after": 1})
		c.readType(frameResync)
		e.publish(ev(org, 0, 0, 0, "new"))
		if g := c.read(); g.tag() != "new" || g.Pos != 11 {
			t.Fatalf("got %+v, want the new event at 11", g)
		}
	})
}

func TestServerSlowConsumer(t *testing.T) {
	e := newEnv(t, HubOptions{SendBuffer: 4, StaffSendBuffer: 4}, ServerOptions{})
	slow, _ := e.connect(t, "sba_admin", 0)
	fast, _ := e.connect(t, "sbv_visitor5", 0)

	// The slow client reads nothing; big events fill the socket buffers and
	// then its queue. Each event waits for the fast client, so the fast one
	// never falls behind.
	big := strings.Repeat("x", 60<<10)
	for i := 0; ; i++ {
		if i == 5000 {
			t.Fatal("the slow consumer was never dropped")
		}
		e.publish(ev(conv, 1, 5, 0, big))
		fast.readType(frameEvent)
		e.metrics.mu.Lock()
		dropped := e.metrics.slow > 0
		e.metrics.mu.Unlock()
		if dropped {
			break
		}
	}
	e.publish(ev(conv, 1, 5, 0, "after the drop"))
	if g := fast.readType(frameEvent); g.tag() != "after the drop" {
		t.Fatalf("fast client got %q", g.tag())
	}
	slow.wantClose(CloseSlowConsumer)
}

func TestServerOrigin(t *testing.T) {
	e := newEnv(t, HubOptions{}, ServerOptions{AllowedOrigins: []string{"https://app.example.com"}})
	for _, tc := range []struct {
		name string
		opts dialOpts
		want int
	}{
		{"cookie from a foreign origin", dialOpts{cookie: "cookie-agent1", origin: "https://evil.example"}, http.StatusForbidden},
		{"cookie without origin", dialOpts{cookie: "cookie-agent1"}, http.StatusForbidden},
		{"cookie from a look-alike origin", dialOpts{cookie: "cookie-agent1", origin: "https://app.example.com.evil.example"}, http.StatusForbidden},
		{"cookie from the own origin", dialOpts{cookie: "cookie-agent1", origin: e.ts.URL}, http.StatusSwitchingProtocols},
		{"cookie from an allowed origin", dialOpts{cookie: "cookie-agent1", origin: "https://app.example.com"}, http.StatusSwitchingProtocols},
		{"bearer token from any origin", dialOpts{bearer: "sba_agent2", origin: "https://evil.example"}, http.StatusSwitchingProtocols},
		{"hello token from any origin", dialOpts{origin: "https://evil.example"}, http.StatusSwitchingProtocols},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := e.dialRaw(t, tc.opts)
			if c != nil {
				defer c.CloseNow()
			}
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

func TestServerHello(t *testing.T) {
	e := newEnv(t, HubOptions{}, ServerOptions{HelloTimeout: 200 * time.Millisecond})
	for _, tc := range []struct {
		name     string
		opts     dialOpts
		hello    string // "" sends nothing
		wantCode string
		close    websocket.StatusCode
	}{
		{"no hello in time", dialOpts{}, "", switchboard.EINVALID, closePolicyViolation},
		{"another frame first", dialOpts{}, `{"type":"ping"}`, switchboard.EINVALID, closePolicyViolation},
		{"not JSON", dialOpts{}, `hello`, switchboard.EINVALID, closePolicyViolation},
		{"unknown field", dialOpts{}, `{"type":"hello","token":"sba_admin","admin":true}`, switchboard.EINVALID, closePolicyViolation},
		{"negative after", dialOpts{}, `{"type":"hello","token":"sba_admin","after":-1}`, switchboard.EINVALID, closePolicyViolation},
		{"bad token", dialOpts{}, `{"type":"hello","token":"sbv_guessed"}`, switchboard.EUNAUTHORIZED, CloseUnauthorized},
		{"no credentials", dialOpts{}, `{"type":"hello"}`, switchboard.EUNAUTHORIZED, CloseUnauthorized},
		{"expired cookie", dialOpts{cookie: "expired", origin: e.ts.URL}, "", switchboard.EUNAUTHORIZED, CloseUnauthorized},
		{"bad bearer token", dialOpts{bearer: "sba_guessed"}, "", switchboard.EUNAUTHORIZED, CloseUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dial(t, tc.opts)
			if tc.hello != "" {
				c.sendRaw([]byte(tc.hello))
			}
			g := c.read()
			if g.Type != frameError || g.Code != tc.wantCode {
				t.Fatalf("got %+v, want error %s", g, tc.wantCode)
			}
			c.wantClose(tc.close)
		})
	}
}

func TestServerSend(t *testing.T) {
	clock := &testClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := newEnv(t, HubOptions{}, ServerOptions{Clock: clock})
	c, _ := e.connect(t, "cookie-agent1", 0)

	t.Run("ack once committed, and the event", func(t *testing.T) {
		c.t = t
		c.send(map[string]any{"type": "send", "conversation_id": 42, "body": "Hello", "client_id": "c-1"})
		var ack, event got
		for ack.Type == "" || event.Type == "" {
			switch g := c.read(); g.Type {
			case frameAck:
				ack = g
			case frameEvent:
				event = g
			default:
				t.Fatalf("unexpected %+v", g)
			}
		}
		var m switchboard.Message
		if err := json.Unmarshal(ack.Message, &m); err != nil {
			t.Fatal(err)
		}
		if ack.ClientID != "c-1" || m.Body != "Hello" || m.Thread != switchboard.ThreadPublic {
			t.Errorf("ack %+v, message %+v", ack, m)
		}
		if event.Event != switchboard.EventMessage || event.Pos == 0 {
			t.Errorf("event %+v", event)
		}
	})
	for _, tc := range []struct {
		name, frame, clientID, code string
	}{
		{"not found", `{"type":"send","conversation_id":7,"body":"Hi","client_id":"c-2"}`, "c-2", switchboard.ENOTFOUND},
		{"invalid body", `{"type":"send","conversation_id":42,"body":" ","client_id":"c-3"}`, "c-3", switchboard.EINVALID},
		{"unknown thread", `{"type":"send","conversation_id":42,"thread":"secret","body":"Hi","client_id":"c-4"}`, "c-4", switchboard.EINVALID},
		{"unknown field", `{"type":"send","conversation_id":42,"body":"Hi","client_id":"c-5","sender":"bot"}`, "c-5", switchboard.EINVALID},
		{"wrong type", `{"type":"send","conversation_id":"42","body":"Hi","client_id":"c-6"}`, "c-6", switchboard.EINVALID},
		{"internal error, not leaked", `{"type":"send","conversation_id":500,"body":"Hi","client_id":"c-7"}`, "c-7", switchboard.EINTERNAL},
		{"unknown frame", `{"type":"subscribe"}`, "", switchboard.EINVALID},
		{"second hello", `{"type":"hello"}`, "", switchboard.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			c.sendRaw([]byte(tc.frame))
			g := c.read()
			if g.Type != frameError || g.ClientID != tc.clientID || g.Code != tc.code {
				t.Fatalf("got %+v, want error %s for %q", g, tc.code, tc.clientID)
			}
			if strings.Contains(string(g.Message), "pq:") {
				t.Errorf("internal detail leaked: %s", g.Message)
			}
		})
	}
	t.Run("ping", func(t *testing.T) {
		c.t = t
		c.send(map[string]any{"type": "ping"})
		if g := c.read(); g.Type != framePong {
			t.Fatalf("got %+v, want pong", g)
		}
	})
	t.Run("typing reaches the conversation, once per interval", func(t *testing.T) {
		c.t = t
		v, _ := e.connect(t, "sbv_visitor5", 0)
		typing := func() {
			c.send(map[string]any{"type": "typing", "conversation_id": 42})
			c.send(map[string]any{"type": "ping"}) // the pong says the typing frame was handled
			c.readType(framePong)
		}
		wantTyping := func() {
			t.Helper()
			if g := v.read(); g.Type != frameEvent || g.Event != switchboard.EventTyping || g.Pos != 0 {
				t.Fatalf("got %+v, want a typing event at 0", g)
			}
		}
		typing()
		wantTyping()
		clock.Add(time.Second)
		typing() // too soon: dropped
		// Ephemeral events reach the hub in order, so the marker comes
		// first only if that typing event was never sent.
		e.hub.Ephemeral(ev(conv, 1, 5, 0, "next"))
		if g := v.read(); g.tag() != "next" {
			t.Fatalf("got %+v, want the next event (the second typing was dropped)", g)
		}
		clock.Add(2 * time.Second)
		typing()
		wantTyping()
	})
}

func TestServerDisconnectUser(t *testing.T) {
	e := newEnv(t, HubOptions{}, ServerOptions{})
	a, _ := e.connect(t, "cookie-agent1", 0)
	b, _ := e.connect(t, "sba_agent2", 0)
	e.hub.DisconnectUser(agent1.UserID)
	a.wantClose(CloseSessionChanged)
	e.publish(ev(org, 0, 0, 0, "still here"))
	if g := b.read(); g.tag() != "still here" {
		t.Fatalf("got %+v", g)
	}
}

func TestServerShutdown(t *testing.T) {
	e := newEnv(t, HubOptions{}, ServerOptions{})
	a, _ := e.connect(t, "sba_admin", 0)
	b, _ := e.connect(t, "sbv_visitor6", 0)
	silent := e.dial(t, dialOpts{}) // still to say hello
	e.metrics.waitFor(t, "two subscribers", func(m *testMetrics) bool { return m.subscribers == 2 })

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	shutdown := make(chan error, 1)
	go func() { shutdown <- e.srv.Shutdown(ctx) }()
	for _, c := range []*client{a, b, silent} {
		if g := c.read(); g.Type != frameReconnect {
			t.Fatalf("got %+v, want reconnect", g)
		}
		c.wantClose(CloseServiceRestart)
	}
	if err := <-shutdown; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	_, resp, err := e.dialRaw(t, dialOpts{})
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after shutdown: %v %v, want 503", resp, err)
	}
}

func TestServerLimits(t *testing.T) {
	t.Run("a frame over 64 KiB closes with 1009", func(t *testing.T) {
		e := newEnv(t, HubOptions{}, ServerOptions{})
		c, _ := e.connect(t, "sba_admin", 0)
		c.send(map[string]any{"type": "send", "conversation_id": 42, "body": strings.Repeat("x", 65<<10)})
		c.wantClose(websocket.StatusMessageTooBig)
	})
	t.Run("a client that answers pings stays", func(t *testing.T) {
		e := newEnv(t, HubOptions{}, ServerOptions{PingInterval: 20 * time.Millisecond, PongTimeout: time.Second})
		pings := make(chan struct{}, 100)
		c := e.dial(t, dialOpts{onPing: func() { pings <- struct{}{} }})
		c.send(map[string]any{"type": "hello", "token": "sba_admin"})
		c.readStart()
		frames := make(chan got, 1)
		go func() { // the client answers pings while it reads
			frames <- c.read()
		}()
		for range 3 {
			select {
			case <-pings:
			case <-time.After(wait):
				t.Fatal("no ping")
			}
		}
		e.publish(ev(org, 0, 0, 0, "still connected"))
		if g := <-frames; g.tag() != "still connected" {
			t.Fatalf("got %+v", g)
		}
	})
	t.Run("a silent client is dropped", func(t *testing.T) {
		e := newEnv(t, HubOptions{}, ServerOptions{PingInterval: 20 * time.Millisecond, PongTimeout: 20 * time.Millisecond})
		c := e.dial(t, dialOpts{})
		c.send(map[string]any{"type": "hello", "token": "sba_admin"})
		// The client does not read, so it answers no ping.
		e.metrics.waitFor(t, "a subscriber", func(m *testMetrics) bool { return m.subscribers == 1 })
		e.metrics.waitFor(t, "the silent client to be dropped", func(m *testMetrics) bool { return m.subscribers == 0 })
	})
}
