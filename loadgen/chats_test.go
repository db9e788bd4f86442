package loadgen

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestChatVerification feeds one receiver hand-made message events and
// checks that the tally finds exactly the faults put in.
func TestChatVerification(t *testing.T) {
	r := newRunner(Config{Target: "http://127.0.0.1:1"}.WithDefaults())
	cr := &chatRun{r: r, byConv: map[int64]*chat{}, lat: [2]*latency{newLatency(), newLatency()}, commit: newLatency(), lag: newLatency()}
	cr.ready.Store(true)
	visitor, agentSock := &socket{r: r, name: "visitor"}, &socket{r: r, name: "agent"}
	ch := &chat{idx: 3, conv: 42, visitor: visitor, agent: agentSock}
	ch.views[atVisitor].maxK = [2]int{-1, -1}
	ch.views[atAgent].maxK = [2]int{-1, -1}
	cr.chats, cr.byConv[42] = []*chat{ch}, ch
	ch.next[toAgent] = 5 // the visitor sent c0…c4

	deliver := func(s *socket, seq int64, dir, k int) {
		t.Helper()
		p := cr.message(ch, dir, k, time.Millisecond)
		var f struct {
			Body     string `json:"body"`
			ClientID string `json:"client_id"`
		}
		if err := json.Unmarshal(p.frame, &f); err != nil {
			t.Fatal(err)
		}
		data := fmt.Sprintf(`{"id":%d,"conversation_id":42,"thread":"public","seq":%d,"body":%q,"client_id":%q}`, seq, seq, f.Body, f.ClientID)
		cr.event(s, &inFrame{Type: "event", Event: "message", Data: json.RawMessage(data)}, 2*time.Millisecond)
	}
	// At the agent: c0, c1, c3, c2 (late), c3 again; c4 never.
	deliver(agentSock, 1, toAgent, 0)
	deliver(agentSock, 2, toAgent, 1)
	deliver(agentSock, 4, toAgent, 3)
	deliver(agentSock, 3, toAgent, 2)
	deliver(agentSock, 4, toAgent, 3)
	// The visitor's echo: all five, in order.
	for k := range 5 {
		deliver(visitor, int64(k+1), toAgent, k)
	}
	// A stranger's message on the visitor's socket.
	cr.event(visitor, &inFrame{Type: "event", Event: "message", Data: json.RawMessage(`{"conversation_id":7,"seq":1}`)}, 0)

	var res Result
	cr.tally(&res, 0, time.Second)
	if res.Lost != 1 || res.Duplicated != 1 || res.Reordered != 1 {
		t.Errorf("lost %d, duplicated %d, reordered %d; want 1, 1, 1", res.Lost, res.Duplicated, res.Reordered)
	}
	if got := r.misdelivered.Load(); got != 1 {
		t.Errorf("misdelivered %d; want 1", got)
	}
	if res.MessagesDelivered != 4 || res.DeliveryP50Ms == nil || *res.DeliveryP50Ms != 1 {
		t.Errorf("delivered %d with p50 %v; want 4 at 1 ms", res.MessagesDelivered, res.DeliveryP50Ms)
	}
}

func TestClientIDs(t *testing.T) {
	for _, tc := range []struct {
		id      string
		chat    int
		dir, k  int
		matches bool
	}{
		{"c12-3", 3, toAgent, 12, true},
		{"a0-3", 3, toCustomer, 0, true},
		{"a0-4", 3, 0, 0, false}, // another chat's
		{"start", 3, 0, 0, false},
		{"c-3", 3, 0, 0, false},
	} {
		dir, k, ok := parseClientID(tc.id, tc.chat)
		if ok != tc.matches || (ok && (dir != tc.dir || k != tc.k)) {
			t.Errorf("parseClientID(%q, %d) = %d, %d, %v; want %d, %d, %v", tc.id, tc.chat, dir, k, ok, tc.dir, tc.k, tc.matches)
		}
	}
}

func TestServerStartupLine(t *testing.T) {
	log := []byte("{\"msg\":\"applied migration\"}\nnot json\n{\"msg\":\"switchboard ready\",\"startup_ms\":144}\n")
	if got := serverStartup(log); got != 144*time.Millisecond {
		t.Errorf("serverStartup = %s; want 144ms", got)
	}
	if got := serverStartup([]byte("nothing")); got != -1 {
		t.Errorf("serverStartup without the line = %s; want -1", got)
	}
}

func TestSourceAddresses(t *testing.T) {
	s := newSources("http://127.0.0.1:8080", true, 20)
	if !s.spread {
		if os.Getenv("CI") == "true" {
			t.Fatal("source spreading is off; CI runs on Linux, where it must work")
		}
		t.Skip("source spreading needs Linux")
	}
	for _, tc := range []struct {
		i    int
		want string
	}{{0, "127.0.0.1"}, {19, "127.0.0.1"}, {20, "127.0.0.2"}, {20 * 254, "127.0.1.1"}} {
		if got := s.addr(tc.i).String(); got != tc.want {
			t.Errorf("addr(%d) = %s; want %s", tc.i, got, tc.want)
		}
	}
	if newSources("http://[::1]:8080", true, 20).spread {
		t.Error("spreading towards ::1; want none (one address only)")
	}
}
