package outbound_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/outbound"
)

func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		reason string // "" for a public address
	}{
		{"127.0.0.1", "loopback"},
		{"127.255.1.2", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"}, // IPv4-mapped
		{"10.1.2.3", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"::ffff:192.168.1.1", "private"},
		{"169.254.169.254", "link-local"}, // cloud metadata
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"100.64.0.1", "carrier-grade NAT"},
		{"100.100.100.200", "carrier-grade NAT"}, // Alibaba metadata
		{"fd00:ec2::254", "unique local"},        // AWS IPv6 metadata
		{"fc00::1", "unique local"},
		{"224.0.0.1", "multicast"},
		{"ff02::1", "multicast"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"255.255.255.255", "reserved"},
		{"240.0.0.1", "reserved"},
		{"64:ff9b::7f00:1", "NAT64"}, // NAT64 of 127.0.0.1
		{"64:ff9b::a00:1", "NAT64"},  // NAT64 of 10.0.0.1
		{"64:ff9b:1::1", "NAT64"},    // local-use NAT64
		{"2002:7f00:1::1", "6to4"},   // 6to4 of 127.0.0.1
		{"2002:c0a8:101::1", "6to4"}, // 6to4 of 192.168.1.1
		{"2001:0:4136:e378::1", "Teredo"},
		{"::7f00:1", "IPv4-compatible"},
		{"192.0.0.170", "IETF protocol assignments"},
		{"192.0.2.1", "documentation"},
		{"2001:db8::1", "documentation"},
		{"198.18.0.1", "benchmarking"},
		{"8.8.8.8", ""},
		{"93.184.216.34", ""},
		{"172.32.0.1", ""},
		{"100.128.0.1", ""},
		{"2606:4700:4700::1111", ""},
		{"::ffff:8.8.8.8", ""},
	} {
		reason, refused := outbound.Refused(netip.MustParseAddr(tc.addr))
		if refused != (tc.reason != "") || reason != tc.reason {
			t.Errorf("Refused(%s) = %q, %v; want %q, %v", tc.addr, reason, refused, tc.reason, tc.reason != "")
		}
	}
	if _, refused := outbound.Refused(netip.Addr{}); !refused {
		t.Error("the zero address is not refused")
	}
}

// resolver answers from a table, counting lookups; a name may have a list of
// answers, one per lookup (the last repeats), to play DNS rebinding.
type resolver struct {
	names   map[string][][]netip.Addr
	lookups atomic.Int64
}

func (r *resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	n := r.lookups.Add(1)
	answers, ok := r.names[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	i := min(int(n)-1, len(answers)-1)
	return answers[i], nil
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func newClient(t *testing.T, cfg outbound.Config) *outbound.Client {
	t.Helper()
	c, err := outbound.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func get(t *testing.T, c *outbound.Client, rawURL string) (string, error) {
	t.Helper()
	req, err := http.NewRequest("GET", rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func serve(t *testing.T, h http.HandlerFunc) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return srv, u.Port()
}

func TestGuard(t *testing.T) {
	var hits atomic.Int64
	srv, port := serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/to-loopback":
			http.Redirect(w, r, "http://127.0.0.1:"+r.Host[strings.LastIndex(r.Host, ":")+1:]+"/secret", http.StatusFound)
		case "/to-private-name":
			http.Redirect(w, r, "http://intranet.test:"+r.URL.Query().Get("port")+"/secret", http.StatusFound)
		case "/to-allowed":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/to-file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		default:
			fmt.Fprint(w, "ok")
		}
	})
	res := &resolver{names: map[string][][]netip.Addr{
		"hooks.test":    {addrs("127.0.0.1")},
		"intranet.test": {addrs("10.0.0.7", "127.0.0.1")},
		"metadata.test": {addrs("169.254.169.254")},
		"mixed.test":    {addrs("10.0.0.9", "127.0.0.1")},
	}}

	t.Run("loopback refused by default", func(t *testing.T) {
		c := newClient(t, outbound.Config{})
		before := hits.Load()
		_, err := get(t, c, srv.URL)
		var b *outbound.BlockedError
		if !errors.As(err, &b) || b.Reason != "loopback" {
			t.Fatalf("err = %v, want a loopback BlockedError", err)
		}
		if hits.Load() != before {
			t.Fatal("the server was reached")
		}
	})
	t.Run("a name resolving to a private address is refused", func(t *testing.T) {
		c := newClient(t, outbound.Config{Resolver: res})
		for _, host := range []string{"intranet.test", "metadata.test"} {
			if _, err := get(t, c, "http://"+host+":"+port+"/"); !outbound.IsBlocked(err) {
				t.Errorf("%s: err = %v, want blocked", host, err)
			}
		}
	})
	t.Run("an allowed address is reached", func(t *testing.T) {
		c := newClient(t, outbound.Config{Allow: []string{"127.0.0.0/8"}})
		if body, err := get(t, c, srv.URL+"/x"); err != nil || body != "ok" {
			t.Fatalf("got %q, %v", body, err)
		}
	})
	t.Run("an allowed name is reached, but a redirect from it to loopback is refused", func(t *testing.T) {
		c := newClient(t, outbound.Config{Resolver: res, Allow: []string{"hooks.test"}})
		if body, err := get(t, c, "http://hooks.test:"+port+"/to-allowed"); err != nil || body != "ok" {
			t.Fatalf("allowed: got %q, %v", body, err)
		}
		if _, err := get(t, c, "http://hooks.test:"+port+"/to-loopback"); !outbound.IsBlocked(err) {
			t.Fatalf("redirect to 127.0.0.1: err = %v, want blocked", err)
		}
		if _, err := get(t, c, "http://hooks.test:"+port+"/to-private-name?port="+port); !outbound.IsBlocked(err) {
			t.Fatalf("redirect to a private name: err = %v, want blocked", err)
		}
		if _, err := get(t, c, "http://hooks.test:"+port+"/to-file"); err == nil || outbound.IsBlocked(err) {
			t.Fatalf("redirect to file://: err = %v, want a scheme refusal", err)
		}
	})
	t.Run("only the allowed addresses of a name are dialled", func(t *testing.T) {
		c := newClient(t, outbound.Config{Resolver: res, Allow: []string{"127.0.0.1"}})
		if body, err := get(t, c, "http://mixed.test:"+port+"/"); err != nil || body != "ok" {
			t.Fatalf("got %q, %v", body, err)
		}
	})
	t.Run("the name is resolved again at each request (DNS rebinding)", func(t *testing.T) {
		r := &resolver{names: map[string][][]netip.Addr{"rebind.test": {addrs("93.184.216.34"), addrs("127.0.0.1")}}}
		c := newClient(t, outbound.Config{Resolver: r})
		if err := c.Check(context.Background(), "https://rebind.test/hook"); err != nil {
			t.Fatalf("check while public: %v", err)
		}
		if _, err := get(t, c, "http://rebind.test:"+port+"/"); !outbound.IsBlocked(err) {
			t.Fatalf("after rebinding to loopback: err = %v, want blocked", err)
		}
	})
	t.Run("schemes and user info", func(t *testing.T) {
		c := newClient(t, outbound.Config{Allow: []string{"127.0.0.1"}})
		for _, u := range []string{"file:///etc/passwd", "gopher://127.0.0.1:" + port + "/", "http://user:pw@127.0.0.1:" + port + "/"} {
			if _, err := get(t, c, u); err == nil {
				t.Errorf("%s was fetched", u)
			}
			if err := c.Check(context.Background(), u); err == nil {
				t.Errorf("Check(%s) passed", u)
			}
		}
	})
	t.Run("too many redirects", func(t *testing.T) {
		_, port := serve(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path+"x", http.StatusFound) })
		c := newClient(t, outbound.Config{Allow: []string{"127.0.0.1"}, MaxRedirects: 3})
		if _, err := get(t, c, "http://127.0.0.1:"+port+"/"); err == nil || !strings.Contains(err.Error(), "redirects") {
			t.Fatalf("err = %v, want a redirect limit", err)
		}
	})
	t.Run("SetAllow takes effect", func(t *testing.T) {
		c := newClient(t, outbound.Config{})
		if err := c.SetAllow([]string{"127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := get(t, c, srv.URL); err != nil {
			t.Fatalf("after allowing: %v", err)
		}
		if err := c.SetAllow([]string{"not a host!"}); err == nil {
			t.Fatal("a bad entry was accepted")
		}
	})
}

func TestLimits(t *testing.T) {
	big := strings.Repeat("x", 4096)
	_, port := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sized":
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			io.WriteString(w, big)
		case "/chunked":
			for i := 0; i < 4; i++ {
				io.WriteString(w, big[:1024])
				w.(http.Flusher).Flush()
			}
		case "/exact":
			io.WriteString(w, big[:1024])
		case "/hang":
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}
	})
	base := "http://127.0.0.1:" + port
	c := newClient(t, outbound.Config{Allow: []string{"127.0.0.1"}, MaxResponseBytes: 1024, Timeout: 200 * time.Millisecond})
	for _, path := range []string{"/sized", "/chunked"} {
		if _, err := get(t, c, base+path); !errors.Is(err, outbound.ErrTooLarge) {
			t.Errorf("%s: err = %v, want ErrTooLarge", path, err)
		}
	}
	if body, err := get(t, c, base+"/exact"); err != nil || len(body) != 1024 {
		t.Errorf("a body of exactly the limit: %d bytes, %v", len(body), err)
	}
	req, _ := http.NewRequestWithContext(outbound.WithLimit(context.Background(), 8192), "GET", base+"/sized", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(b) != len(big) {
		t.Errorf("with a larger per-request limit: %d bytes, %v", len(b), err)
	}
	_, err = get(t, c, base+"/hang")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("a hanging server: err = %v, want a time-out", err)
	}
}
