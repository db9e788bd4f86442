package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/client"
	"github.com/switchboard/switchboard/web/webtest"
)

// nextMessage returns the next message event of a conversation on conn,
// skipping other events.
func nextMessage(t *testing.T, conn *client.Conn, convID int64) sb.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		e, err := conn.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for a message of conversation %d: %v", convID, err)
		}
		if e.Type == sb.EventMessage && e.ConversationID == convID {
			var m sb.Message
			if err := json.Unmarshal(e.Data, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
}

// waitEvent returns the next event on conn that matches.
func waitEvent(t *testing.T, conn *client.Conn, what string, match func(*sb.Event) bool) *sb.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		e, err := conn.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if match(e) {
			return e
		}
	}
}

// drain returns the events that arrive on conn within d.
func drain(conn *client.Conn, d time.Duration) []*sb.Event {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out []*sb.Event
	for {
		e, err := conn.Next(ctx)
		if err != nil {
			return out
		}
		out = append(out, e)
	}
}

func dialHello(t *testing.T, c *client.Client, after int64) (*client.Conn, client.Ready) {
	t.Helper()
	ctx := context.Background()
	conn, err := c.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ready, err := conn.Hello(ctx, after)
	if err != nil {
		t.Fatal(err)
	}
	return conn, ready
}

// TestEndToEnd is the foundation issue's "done means", over real sockets:
// a customer starts a conversation through the visitor API, an agent sees
// it, takes it and replies on the WebSocket, and the customer receives the
// reply; the customer disconnects, the agent writes meanwhile, and the
// customer, reconnecting with its last position, receives exactly what it
// missed, in order, once; repeated sends are stored once; an agent outside
// the inbox hears nothing of it.
func TestEndToEnd(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	ctx := context.Background()
	sales := env.Inbox(t, "Sales")
	support := env.Inbox(t, "Support")
	agentUser := env.User(t, sb.RoleAgent, true, sales.ID)
	outsiderUser := env.User(t, sb.RoleAgent, true, support.ID)
	agent := env.TokenClient(t, agentUser)
	outsider := env.TokenClient(t, outsiderUser)

	agentWS, ready := dialHello(t, agent, 0)
	if ready.UserID != agentUser.ID || ready.Resync {
		t.Fatalf("agent ready = %+v", ready)
	}
	outsiderWS, _ := dialHello(t, outsider, 0)

	// The customer starts a conversation through the visitor API.
	customer := env.VisitorClient(t, sales.ID)
	conv, first, created, err := customer.StartConversation(ctx, sales.ID, "Hello, I need help with my order", "cust-1")
	if err != nil || !created || first == nil {
		t.Fatalf("start conversation: created=%v first=%v err=%v", created, first, err)
	}
	customerWS, _ := dialHello(t, customer, 0)

	// The agent sees it arrive, takes it and replies.
	if got := nextMessage(t, agentWS, conv.ID); got.Body != first.Body || got.Sender != sb.SenderCustomer {
		t.Fatalf("agent saw %+v, want the customer's first message", got)
	}
	if c, err := agent.Take(ctx, conv.ID); err != nil || c.Status != sb.StatusAssigned {
		t.Fatalf("take: %+v, %v", c, err)
	}
	reply, err := agentWS.Send(ctx, conv.ID, sb.ThreadPublic, "Hi! Let me look at that.", "agent-1")
	if err != nil {
		t.Fatalf("agent reply: %v", err)
	}
	if got := nextMessage(t, customerWS, conv.ID); got.ID != reply.ID || got.Body != reply.Body {
		t.Fatalf("customer received %+v, want %+v", got, reply)
	}

	// The customer goes away; the agent writes three messages meanwhile, on
	// both transports.
	last := customerWS.Pos()
	customerWS.Close()
	var missed []sb.Message
	for i := 1; i <= 3; i++ {
		body := fmt.Sprintf("While you were away, %d", i)
		var m sb.Message
		if i == 2 {
			mp, created, err := agent.SendMessage(ctx, conv.ID, sb.ThreadPublic, body, fmt.Sprintf("away-%d", i))
			if err != nil || !created {
				t.Fatalf("send over REST: created=%v err=%v", created, err)
			}
			m = *mp
		} else if m, err = agentWS.Send(ctx, conv.ID, sb.ThreadPublic, body, fmt.Sprintf("away-%d", i)); err != nil {
			t.Fatalf("send over WebSocket: %v", err)
		}
		missed = append(missed, m)
	}

	// The customer comes back with its last position: exactly the three, in order, once.
	customerWS, ready = dialHello(t, customer, last)
	if ready.Resync {
		t.Fatalf("reconnect after %d: resync, want a replay", last)
	}
	var got []sb.Message
	for _, e := range drain(customerWS, 500*time.Millisecond) {
		if e.Pos <= last && e.Pos != 0 {
			t.Errorf("replayed event %d is not after %d", e.Pos, last)
		}
		if e.Type == sb.EventMessage {
			var m sb.Message
			if err := json.Unmarshal(e.Data, &m); err != nil {
				t.Fatal(err)
			}
			got = append(got, m)
		}
	}
	if len(got) != len(missed) {
		t.Fatalf("after reconnecting the customer got %d messages, want %d: %+v", len(got), len(missed), got)
	}
	for i := range missed {
		if got[i].ID != missed[i].ID || got[i].Body != missed[i].Body {
			t.Errorf("replayed message %d = %q (id %d), want %q (id %d)", i, got[i].Body, got[i].ID, missed[i].Body, missed[i].ID)
		}
	}
	// And live delivery resumes with no gap.
	live, err := agentWS.Send(ctx, conv.ID, sb.ThreadPublic, "Found it: it ships tomorrow.", "agent-live")
	if err != nil {
		t.Fatal(err)
	}
	if m := nextMessage(t, customerWS, conv.ID); m.ID != live.ID {
		t.Fatalf("after resuming the customer got %+v, want %+v", m, live)
	}

	t.Run("a repeated send is stored once", func(t *testing.T) {
		before, err := customer.VisitorMessages(ctx, conv.ID, 0, 500)
		if err != nil {
			t.Fatal(err)
		}
		m1, created1, err := agent.SendMessage(ctx, conv.ID, sb.ThreadPublic, "Once over REST", "dup-rest")
		if err != nil || !created1 {
			t.Fatalf("first REST send: created=%v err=%v", created1, err)
		}
		m2, created2, err := agent.SendMessage(ctx, conv.ID, sb.ThreadPublic, "Once over REST", "dup-rest")
		if err != nil || created2 || m2.ID != m1.ID {
			t.Fatalf("repeated REST send: created=%v id=%d (first %d) err=%v", created2, m2.ID, m1.ID, err)
		}
		w1, err := agentWS.Send(ctx, conv.ID, sb.ThreadPublic, "Once over the WebSocket", "dup-ws")
		if err != nil {
			t.Fatal(err)
		}
		w2, err := agentWS.Send(ctx, conv.ID, sb.ThreadPublic, "Once over the WebSocket", "dup-ws")
		if err != nil || w2.ID != w1.ID {
			t.Fatalf("repeated WebSocket send: id %d (first %d), err %v", w2.ID, w1.ID, err)
		}
		v1, _, err := customer.VisitorSend(ctx, conv.ID, "Thanks!", "dup-visitor")
		if err != nil {
			t.Fatal(err)
		}
		v2, created, err := customer.VisitorSend(ctx, conv.ID, "Thanks!", "dup-visitor")
		if err != nil || created || v2.ID != v1.ID {
			t.Fatalf("repeated visitor send: created=%v id=%d (first %d) err=%v", created, v2.ID, v1.ID, err)
		}
		after, err := customer.VisitorMessages(ctx, conv.ID, 0, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before)+3 {
			t.Errorf("messages went from %d to %d, want +3", len(before), len(after))
		}
		// The customer's stream carries each of them once.
		seen := map[int64]int{}
		for _, e := range drain(customerWS, 300*time.Millisecond) {
			if e.Type == sb.EventMessage {
				var m sb.Message
				json.Unmarshal(e.Data, &m)
				seen[m.ID]++
			}
		}
		for _, id := range []int64{m1.ID, w1.ID, v1.ID} {
			if seen[id] != 1 {
				t.Errorf("message %d reached the customer %d times, want once", id, seen[id])
			}
		}
	})

	t.Run("an agent outside the inbox receives nothing of it", func(t *testing.T) {
		// A chat in the outsider's own inbox marks how far their stream has got.
		other := env.VisitorClient(t, support.ID)
		marker, _, _, err := other.StartConversation(ctx, support.ID, "Hello support", "")
		if err != nil {
			t.Fatal(err)
		}
		var leaked []*sb.Event
		waitEvent(t, outsiderWS, "the marker chat", func(e *sb.Event) bool {
			if e.ConversationID == conv.ID || e.InboxID == sales.ID {
				leaked = append(leaked, e)
			}
			return e.ConversationID == marker.ID
		})
		for _, e := range leaked {
			t.Errorf("the outsider received %s event %d of conversation %d", e.Type, e.Pos, e.ConversationID)
		}
		if _, err := outsider.Conversation(ctx, conv.ID); client.StatusOf(err) != 404 {
			t.Errorf("outsider GET conversation: %v, want 404", err)
		}
		if _, err := outsiderWS.Send(ctx, conv.ID, sb.ThreadPublic, "sneaky", "sneak-1"); sb.ErrorCode(err) != sb.ENOTFOUND {
			t.Errorf("outsider send over WebSocket: %v, want not_found", err)
		}
	})
}

// TestWebSocketOutlivesRequestTimeouts: the http.Server's read and write
// time-outs bound API calls, not WebSocket connections.
func TestWebSocketOutlivesRequestTimeouts(t *testing.T) {
	env := webtest.New(t, webtest.Options{ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond})
	ctx := context.Background()
	inbox := env.Inbox(t, "Sales")
	agentUser := env.User(t, sb.RoleAgent, true, inbox.ID)
	agent := env.TokenClient(t, agentUser)
	ws, _ := dialHello(t, agent, 0)
	time.Sleep(time.Second)
	customer := env.VisitorClient(t, inbox.ID)
	conv, _, _, err := customer.StartConversation(ctx, inbox.ID, "Still there?", "")
	if err != nil {
		t.Fatal(err)
	}
	if m := nextMessage(t, ws, conv.ID); m.Body != "Still there?" {
		t.Fatalf("got %+v", m)
	}
	if _, err := agent.Take(ctx, conv.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if _, err := ws.Send(ctx, conv.ID, sb.ThreadPublic, "Yes!", ""); err != nil {
		t.Fatalf("send after the time-outs: %v", err)
	}
}

// TestPipelinedSends: an agent's socket carrying two chats sends a run of
// messages without waiting for each acknowledgement (the server queues them
// together). Every one is acked and stored once, in the order it was sent,
// and the customers receive them in that order.
func TestPipelinedSends(t *testing.T) {
	env := webtest.New(t, webtest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inbox := env.Inbox(t, "Sales")
	agentUser := env.User(t, sb.RoleAgent, true, inbox.ID)
	agent := env.TokenClient(t, agentUser)
	agentWS, _ := dialHello(t, agent, 0)

	var convs [2]int64
	var customerWS [2]*client.Conn
	for i := range convs {
		customer := env.VisitorClient(t, inbox.ID)
		conv, _, _, err := customer.StartConversation(ctx, inbox.ID, "Hello", fmt.Sprintf("start-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := agent.Take(ctx, conv.ID); err != nil {
			t.Fatal(err)
		}
		convs[i] = conv.ID
		customerWS[i], _ = dialHello(t, customer, 0)
	}

	const n = 150 // more than a connection may have in flight, so the reader also waits
	waits := make([]func(context.Context) (sb.Message, error), n)
	for i := range n {
		var err error
		waits[i], err = agentWS.Queue(ctx, convs[i%2], sb.ThreadPublic, fmt.Sprintf("reply %d", i), fmt.Sprintf("pipe-%d", i))
		if err != nil {
			t.Fatal(err)
		}
	}
	var lastID int64
	lastSeq := map[int64]int64{}
	want := map[int64][]int64{}
	for i, wait := range waits {
		m, err := wait(ctx)
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if m.Body != fmt.Sprintf("reply %d", i) || m.ConversationID != convs[i%2] {
			t.Fatalf("send %d acked with %+v", i, m)
		}
		if m.ID <= lastID || m.Seq <= lastSeq[m.ConversationID] {
			t.Fatalf("send %d stored out of order: id %d after %d, seq %d after %d", i, m.ID, lastID, m.Seq, lastSeq[m.ConversationID])
		}
		lastID, lastSeq[m.ConversationID] = m.ID, m.Seq
		want[m.ConversationID] = append(want[m.ConversationID], m.ID)
	}
	for i, conv := range convs {
		for j, id := range want[conv] {
			if m := nextMessage(t, customerWS[i], conv); m.ID != id {
				t.Fatalf("customer %d's message %d is %d (%q), want %d", i, j, m.ID, m.Body, id)
			}
		}
	}
}
