package loadgen

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ownNATS is the NATS server the crash scenario runs inside the tool for a
// cluster given no NATSURL: on a loopback port it keeps, so that it can be
// restarted under the nodes (RestartNATS) and they reconnect to it.
type ownNATS struct {
	mu   sync.Mutex
	port int // -1 until the first start has picked one
	ns   *server.Server
}

// natsReadyLimit bounds the wait for one start of the NATS server to
// accept connections (a start that could not bind its port never does).
const natsReadyLimit = 2 * time.Second

// startOwnNATS starts a NATS server on a free loopback port.
func startOwnNATS() (*ownNATS, error) {
	n := &ownNATS{port: -1}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.start(); err != nil {
		return nil, err
	}
	return n, nil
}

// start runs a server on n's port (a free one the first time) and waits
// until it accepts connections; n.mu is held. A start that cannot take the
// port the previous server has just let go is tried again for a moment.
func (n *ownNATS) start() error {
	var err error
	for try := 0; try < 5; try++ {
		var ns *server.Server
		ns, err = server.NewServer(&server.Options{Host: "127.0.0.1", Port: n.port, NoLog: true, NoSigs: true})
		if err != nil {
			return fmt.Errorf("start NATS: %w", err)
		}
		go ns.Start()
		if ns.ReadyForConnections(natsReadyLimit) {
			n.ns = ns
			if a, ok := ns.Addr().(*net.TCPAddr); ok {
				n.port = a.Port
			}
			return nil
		}
		ns.Shutdown()
		ns.WaitForShutdown()
		err = fmt.Errorf("the NATS server on port %d was not ready within %s", n.port, natsReadyLimit)
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// url is the server's client URL.
func (n *ownNATS) url() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return fmt.Sprintf("nats://127.0.0.1:%d", n.port)
}

// restart shuts the server down — every node's connection is cut, and
// what is published meanwhile is lost — and starts a new one on the same
// port; it returns how long there was none.
func (n *ownNATS) restart() (time.Duration, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	began := time.Now()
	if n.ns != nil {
		n.ns.Shutdown()
		n.ns.WaitForShutdown()
		n.ns = nil
	}
	err := n.start()
	return time.Since(began), err
}

// close shuts the server down.
func (n *ownNATS) close() {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ns != nil {
		n.ns.Shutdown()
		n.ns.WaitForShutdown()
		n.ns = nil
	}
}
