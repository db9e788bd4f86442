package loadgen

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"sync"
	"time"
)

// sources hands out source addresses and an HTTP client per address.
//
// The server limits new visitors and logins per client address (30 at
// once, then one every 2 s), as it should; thousands of visitors from one
// address would be refused. Real visitors come from many addresses, so the
// tool gives every ClientsPerSource clients their own address in
// 127.0.0.0/8, all of which Linux routes to loopback. Each address has its
// own HTTP client, so a pooled connection never carries one client's
// request from another's address.
type sources struct {
	spread  bool
	perAddr int

	mu      sync.Mutex
	clients map[netip.Addr]*http.Client
}

// newSources decides whether spreading is possible: on Linux, towards an
// IPv4 loopback target.
func newSources(target string, spread bool, perAddr int) *sources {
	if spread && runtime.GOOS == "linux" {
		u, err := url.Parse(target)
		if err == nil {
			ip, err := netip.ParseAddr(u.Hostname())
			spread = (err == nil && ip.Is4() && ip.IsLoopback()) || u.Hostname() == "localhost"
		} else {
			spread = false
		}
	} else {
		spread = false
	}
	return &sources{spread: spread, perAddr: max(perAddr, 1), clients: make(map[netip.Addr]*http.Client)}
}

// addr returns the source address of the i-th client: 127.0.0.1 for the
// first perAddr clients, then 127.0.0.2, and so on (skipping .0 and .255).
func (s *sources) addr(i int) netip.Addr {
	if !s.spread {
		return netip.Addr{}
	}
	g := i / s.perAddr
	return netip.AddrFrom4([4]byte{127, byte(g / (254 * 256) % 256), byte(g / 254 % 256), byte(1 + g%254)})
}

// client returns the HTTP client whose connections come from addr (the
// system's choice for the zero Addr).
func (s *sources) client(addr netip.Addr) *http.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[addr]; ok {
		return c
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: -1}
	if addr.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: addr.AsSlice()}
	}
	c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}}
	s.clients[addr] = c
	return c
}

// close drops the idle connections of every client.
func (s *sources) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clients {
		c.CloseIdleConnections()
	}
}
