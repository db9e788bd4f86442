package realtime

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard/switchboard"
)

// BenchmarkFanout measures the hub: one op is one event published and
// received by every subscriber that may see it (each drained by its own
// goroutine, as the WebSocket writers do).
func BenchmarkFanout(b *testing.B) {
	b.Run("1000 agents, each event to all", func(b *testing.B) {
		principals := make([]*switchboard.Principal, 1000)
		for i := range principals {
			principals[i] = &switchboard.Principal{UserID: int64(i + 1), Role: switchboard.RoleAgent, InboxIDs: []int64{1}}
		}
		benchmarkFanout(b, principals, func(int) (int64, int64) { return 1, 1 }, 1000)
	})
	b.Run("100 agents and 10000 visitors, each event to its conversation", func(b *testing.B) {
		principals := make([]*switchboard.Principal, 0, 10100)
		for i := range 100 {
			principals = append(principals, &switchboard.Principal{UserID: int64(i + 1), Role: switchboard.RoleAgent, InboxIDs: []int64{int64(i%10 + 1)}})
		}
		for i := range 10000 {
			principals = append(principals, &switchboard.Principal{VisitorID: int64(i + 1), ContactID: int64(i + 1)})
		}
		// Each event: inbox i%10+1 (10 agents) and one contact (1 visitor).
		benchmarkFanout(b, principals, func(i int) (int64, int64) { return int64(i%10 + 1), int64(i%10000 + 1) }, 11)
	})
}

func benchmarkFanout(b *testing.B, principals []*switchboard.Principal, target func(i int) (inbox, contact int64), perEvent int) {
	log := &memLog{}
	h := NewHub(log, HubOptions{SendBuffer: 1 << 30, PollInterval: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.Run(ctx)

	var received sync.WaitGroup
	var drained sync.WaitGroup
	received.Add(b.N * perEvent)
	for _, p := range principals {
		s, err := h.Subscribe(ctx, p, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Next(ctx); err != nil { // ready
			b.Fatal(err)
		}
		drained.Go(func() {
			for {
				if _, err := s.Next(ctx); err != nil {
					return
				}
				received.Done()
			}
		})
	}
	events := make([]switchboard.Event, b.N)
	for i := range events {
		inbox, contact := target(i)
		events[i] = switchboard.NewEvent(switchboard.EventMessage, switchboard.AudienceConversation, map[string]string{"body": "Hello, how can I help you today?"})
		events[i].InboxID, events[i].ContactID, events[i].ConversationID = inbox, contact, contact
	}

	b.ReportAllocs()
	b.ResetTimer()
	for i := range events {
		h.Publish(log.commit(events[i : i+1 : i+1]...))
	}
	received.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perEvent), "ns/delivery")
	cancel()
	drained.Wait()
}

// BenchmarkFanoutWebSocket measures the whole path: one op is one event
// written to 1,000 WebSocket connections and read by their clients.
func BenchmarkFanoutWebSocket(b *testing.B) {
	const n = 1000
	log := &memLog{}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := NewHub(log, HubOptions{SendBuffer: 1 << 20, PollInterval: -1, Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.Run(ctx)
	srv := NewServer(h, &fakeAuth{tokens: tokens}, nil, ServerOptions{Logger: quiet})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Shutdown(context.Background())
	addr := strings.TrimPrefix(ts.URL, "http://")

	var received sync.WaitGroup
	received.Add(b.N * n)
	for range n {
		c := rawConnectAs(b, addr, "sba_admin")
		defer c.Close()
		go func() {
			br := bufio.NewReader(c)
			for {
				if _, err := readFrame(br); err != nil {
					return
				}
				received.Done()
			}
		}()
	}
	data := strings.Repeat("x", 200)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		h.Publish(log.commit(ev(org, 0, 0, 0, data)))
	}
	received.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
}

// readFrame reads one unmasked server frame and returns its payload length.
func readFrame(br *bufio.Reader) (int, error) {
	var head [2]byte
	if _, err := io.ReadFull(br, head[:]); err != nil {
		return 0, err
	}
	size := int(head[1] & 0x7f)
	switch size {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			return 0, err
		}
		size = int(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			return 0, err
		}
		size = int(binary.BigEndian.Uint64(ext[:]))
	}
	_, err := br.Discard(size)
	return size, err
}
