// Package outbound is the one HTTP client for every request Switchboard makes
// to the outside world: webhook deliveries, channel media downloads, bot
// providers (SECURITY.md rule 7). It resolves host names itself and refuses
// to connect to loopback, private, link-local, carrier-grade NAT, multicast,
// NAT64/6to4 and the other special ranges (Refused) — on the first request
// and on every redirect, because the check sits where connections are made,
// on the addresses actually dialled, so a name that resolves differently the
// second time (DNS rebinding) gains nothing. Every request has a time-out and
// every response body a size limit. An admin may allow named internal hosts
// or address ranges explicitly (Config.Allow).
package outbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Resolver looks host names up; *net.Resolver is one. Tests give their own.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config holds a client's settings; New applies the defaults.
type Config struct {
	// Timeout bounds a whole request, body included (default 15 s); a
	// context deadline may shorten it.
	Timeout time.Duration
	// DialTimeout bounds one connection attempt (default 5 s).
	DialTimeout time.Duration
	// MaxResponseBytes bounds a response body (default 16 MiB); reading
	// past it fails with ErrTooLarge. WithLimit changes it per request.
	MaxResponseBytes int64
	// MaxRedirects is how many redirects a request follows (default 5).
	MaxRedirects int
	// Allow lists internal hosts an admin lets requests reach: host names
	// (any address they resolve to is allowed) and IP addresses or CIDR
	// ranges. Empty: only public addresses.
	Allow []string
	// Resolver looks names up (default net.DefaultResolver).
	Resolver Resolver
	// UserAgent is sent with every request (default "Switchboard").
	UserAgent string
}

// ErrTooLarge is what reading a response body past its limit returns.
var ErrTooLarge = errors.New("outbound: response body too large")

// BlockedError is a request refused because it would reach an address that
// is not on the public internet.
type BlockedError struct {
	Host   string     // the host name or address requested
	Addr   netip.Addr // the address refused
	Reason string     // e.g. "loopback", "private"
}

func (e *BlockedError) Error() string {
	if e.Host == e.Addr.String() {
		return fmt.Sprintf("outbound: %s is a %s address: refused", e.Addr, e.Reason)
	}
	return fmt.Sprintf("outbound: %s resolves to %s, a %s address: refused", e.Host, e.Addr, e.Reason)
}

// IsBlocked reports whether err (from Do, or from reading a body) is a
// refused destination.
func IsBlocked(err error) bool {
	var b *BlockedError
	return errors.As(err, &b)
}

// Client is an HTTP client that only reaches the public internet and what
// its allow-list names. Safe for concurrent use.
type Client struct {
	cfg   Config
	allow atomic.Pointer[allowList]
	hc    *http.Client
}

// New returns a client. It fails only on an allow-list entry that is
// neither a host name nor an address or range.
func New(cfg Config) (*Client, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = 16 << 20
	}
	if cfg.MaxRedirects <= 0 {
		cfg.MaxRedirects = 5
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "Switchboard"
	}
	c := &Client{cfg: cfg}
	if err := c.SetAllow(cfg.Allow); err != nil {
		return nil, err
	}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would hide the destination from the guard
		DialContext:           c.dial,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.DialTimeout,
		ResponseHeaderTimeout: cfg.Timeout,
		ExpectContinueTimeout: time.Second,
	}
	c.hc = &http.Client{
		Transport: &limitedTransport{next: transport, c: c},
		Timeout:   cfg.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > cfg.MaxRedirects {
				return fmt.Errorf("outbound: more than %d redirects", cfg.MaxRedirects)
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("outbound: redirect to a %q URL refused", req.URL.Scheme)
			}
			return nil
		},
	}
	return c, nil
}

// SetAllow replaces the allow-list (see Config.Allow) for requests that
// connect from now on.
func (c *Client) SetAllow(entries []string) error {
	a, err := parseAllow(entries)
	if err != nil {
		return err
	}
	c.allow.Store(a)
	return nil
}

// HTTPClient returns the guarded *http.Client, for code that needs one.
// Its responses have the client's size limit too.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// Do sends req through the guard. Only http and https URLs are fetched.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if req.URL == nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") {
		return nil, errors.New("outbound: only http and https URLs are fetched")
	}
	if req.URL.User != nil {
		return nil, errors.New("outbound: URLs with user info are refused; send credentials in a header")
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.cfg.UserAgent)
	}
	return c.hc.Do(req)
}

// Check reports whether a URL could be fetched: its scheme, and the
// addresses its host resolves to now. Settings pages call it to refuse a
// webhook or provider URL when it is saved; Do checks again at every
// request, because names can resolve differently later.
func (c *Client) Check(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("outbound: not an http or https URL")
	}
	if u.User != nil {
		return errors.New("outbound: URLs with user info are refused")
	}
	_, err = c.resolve(ctx, u.Hostname())
	return err
}

type limitKey struct{}

// WithLimit returns a context whose requests may read at most n bytes of
// response body, instead of the client's MaxResponseBytes.
func WithLimit(ctx context.Context, n int64) context.Context {
	return context.WithValue(ctx, limitKey{}, n)
}

// limitedTransport puts the size limit on every response body.
type limitedTransport struct {
	next http.RoundTripper
	c    *Client
}

func (t *limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	limit := t.c.cfg.MaxResponseBytes
	if n, ok := req.Context().Value(limitKey{}).(int64); ok && n > 0 {
		limit = n
	}
	if resp.ContentLength > limit {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %d bytes announced, %d allowed", ErrTooLarge, resp.ContentLength, limit)
	}
	resp.Body = &limitedBody{r: resp.Body, left: limit}
	return resp, nil
}

type limitedBody struct {
	r    io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells a body that ends exactly at the limit from
		// one that goes on.
		var one [1]byte
		if n, _ := b.r.Read(one[:]); n > 0 {
			return 0, ErrTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.r.Close() }

// dial connects to one of the vetted addresses of addr's host.
func (c *Client) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := c.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: c.cfg.DialTimeout}
	var errs []error
	for _, ip := range ips {
		// Dial the address itself, never the name: a second lookup could
		// answer differently.
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// resolve returns the addresses of host that requests may reach, or a
// *BlockedError when there are none.
func (c *Client) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	allow := c.allow.Load()
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		ips = []netip.Addr{ip}
	} else {
		if ips, err = c.cfg.Resolver.LookupNetIP(ctx, "ip", host); err != nil {
			return nil, fmt.Errorf("outbound: look up %s: %w", host, err)
		}
		if allow.hosts[host] {
			return ips, nil
		}
	}
	var ok []netip.Addr
	var blocked *BlockedError
	for _, ip := range ips {
		ip = ip.Unmap()
		if reason, refused := Refused(ip); refused && !allow.contains(ip) {
			if blocked == nil {
				blocked = &BlockedError{Host: host, Addr: ip, Reason: reason}
			}
			continue
		}
		ok = append(ok, ip)
	}
	if len(ok) == 0 {
		if blocked == nil {
			return nil, fmt.Errorf("outbound: %s has no address", host)
		}
		return nil, blocked
	}
	return ok, nil
}

// allowList is a parsed Config.Allow.
type allowList struct {
	hosts    map[string]bool
	prefixes []netip.Prefix
}

func (a *allowList) contains(ip netip.Addr) bool {
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ParseAllow checks allow-list entries as New and SetAllow read them.
func ParseAllow(entries []string) error {
	_, err := parseAllow(entries)
	return err
}

func parseAllow(entries []string) (*allowList, error) {
	a := &allowList{hosts: map[string]bool{}}
	for _, e := range entries {
		e = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(e)), ".")
		if e == "" {
			continue
		}
		if p, err := netip.ParsePrefix(e); err == nil {
			a.prefixes = append(a.prefixes, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(e); err == nil {
			a.prefixes = append(a.prefixes, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		if !validHostName(e) {
			return nil, fmt.Errorf("outbound: allow-list entry %q is not a host name, address or CIDR range", e)
		}
		a.hosts[e] = true
	}
	return a, nil
}

func validHostName(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
