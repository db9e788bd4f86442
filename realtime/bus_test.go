package realtime

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startNATS runs a NATS server in-process on a random port.
func startNATS(t *testing.T) string {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(wait) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL()
}

func newNATSBus(t *testing.T, url string) *NATSBus {
	t.Helper()
	b, err := NewNATSBus(url, "test.events")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestNATSBusBetweenHubs runs two nodes sharing one log: events committed on
// node A reach a subscriber on node B through the announcement alone (B does
// not poll).
func TestNATSBusBetweenHubs(t *testing.T) {
	url := startNATS(t)
	log := &memLog{}
	busA, busB := newNATSBus(t, url), newNATSBus(t, url)
	hubA := startHub(t, log, HubOptions{Bus: busA, PollInterval: -1})
	hubB := startHub(t, log, HubOptions{Bus: busB, PollInterval: -1})

	onA := subscribe(t, hubA, admin, 0)
	onB := subscribe(t, hubB, admin, 0)
	next(t, onA)
	next(t, onB)
	// B subscribed to the bus before it accepted a subscriber; make sure the
	// NATS server has seen that subscription before A announces.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := busB.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	var want []string
	for i := range 20 {
		tag := fmt.Sprint("a", i)
		want = append(want, tag)
		hubA.Publish(log.commit(ev(org, 0, 0, 0, tag)))
	}
	wantTags(t, onA, want...)
	wantTags(t, onB, want...)

	// And the other way round.
	hubB.Publish(log.commit(ev(org, 0, 0, 0, "from b")))
	if err := busA.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	wantTags(t, onA, "from b")
	wantTags(t, onB, "from b")
}

func TestNATSBusIgnoresGarbage(t *testing.T) {
	url := startNATS(t)
	a, b := newNATSBus(t, url), newNATSBus(t, url)
	got := make(chan int64, 10)
	unsubscribe, err := b.Subscribe(func(pos int64) { got <- pos })
	if err != nil {
		t.Fatal(err)
	}
	defer unsubscribe()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.nc.Publish("test.events", []byte("not a number")); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx, 42); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case pos := <-got:
			if pos == catchUpAll {
				continue // the bus connected: not an announcement
			}
			if pos != 42 {
				t.Fatalf("got %d, want 42", pos)
			}
			return
		case <-time.After(wait):
			t.Fatal("no announcement")
		}
	}
}

func TestLocalBusBetweenHubs(t *testing.T) {
	bus := NewLocalBus()
	t.Cleanup(func() { _ = bus.Close() }) // after the hubs have stopped
	log := &memLog{}
	hubA := startHub(t, log, HubOptions{Bus: bus, PollInterval: -1})
	hubB := startHub(t, log, HubOptions{Bus: bus, PollInterval: -1})
	onB := subscribe(t, hubB, visitor5, 0)
	next(t, onB)
	hubA.Publish(log.commit(ev(conv, 1, 5, 0, "x"), ev(conv, 1, 6, 0, "not yours"), ev(conv, 1, 5, 0, "y")))
	wantTags(t, onB, "x", "y")
}

// TestNATSBusCatchesUpAfterReconnect: what was announced while a node was
// cut off from NATS is lost; when the bus reconnects, the hub reads the log
// to its end at once rather than at its next poll (here: never).
func TestNATSBusCatchesUpAfterReconnect(t *testing.T) {
	opts := &server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(wait) {
		t.Fatal("nats server not ready")
	}
	url := ns.ClientURL()
	log := &memLog{}
	hub := startHub(t, log, HubOptions{Bus: newNATSBus(t, url), PollInterval: -1})
	s := subscribe(t, hub, admin, 0)
	next(t, s)

	// An event whose announcement never reaches this node.
	log.commit(ev(org, 0, 0, 0, "missed"))

	port := ns.Addr().(*net.TCPAddr).Port
	ns.Shutdown()
	ns.WaitForShutdown()
	opts2 := *opts
	opts2.Port = port
	ns2, err := server.NewServer(&opts2)
	if err != nil {
		t.Fatal(err)
	}
	go ns2.Start()
	t.Cleanup(ns2.Shutdown)
	if !ns2.ReadyForConnections(wait) {
		t.Fatal("restarted nats server not ready")
	}
	wantTags(t, s, "missed")
}
