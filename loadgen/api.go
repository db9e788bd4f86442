package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/client"
)

// api makes the REST clients of the set-up (package client), each sending
// from a chosen source address. The realtime traffic does not go through
// package client: its connections wait for each send's ack, where the load
// generator keeps an open-loop schedule and one goroutine per socket.
type api struct {
	base string
	src  *sources
}

// as returns a client acting with token ("" for none) from addr.
func (a *api) as(addr netip.Addr, token string) *client.Client {
	c, err := client.New(a.base, client.WithHTTPClient(a.src.client(addr)), client.WithToken(token))
	if err != nil {
		panic("loadgen: " + err.Error()) // the target was validated
	}
	return c
}

// retrying repeats f while it is refused with 429 (a rate limit: with
// source spreading off, or a stricter server) or 503, waiting longer each
// time, until ctx ends.
func retrying(ctx context.Context, f func() error) error {
	wait := 250 * time.Millisecond
	for {
		err := f()
		if s := client.StatusOf(err); s != http.StatusTooManyRequests && s != http.StatusServiceUnavailable {
			return err
		}
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("%w (gave up: %v)", err, ctx.Err())
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// login signs in from addr with a password and returns a client holding a
// fresh API token of that user (the session only makes the token).
func (a *api) login(ctx context.Context, addr netip.Addr, email, password, tokenName string) (*client.Client, *sb.User, int64, error) {
	c := a.as(addr, "")
	var u *sb.User
	err := retrying(ctx, func() error {
		var err error
		u, err = c.Login(ctx, email, password)
		return err
	})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("log in as %s: %w", email, err)
	}
	tok, t, err := c.CreateToken(ctx, tokenName)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("make an API token for %s: %w", email, err)
	}
	return a.as(addr, tok), u, t.ID, nil
}

// createVisitor makes a widget visitor from addr and returns a client acting as it.
func (a *api) createVisitor(ctx context.Context, addr netip.Addr, inboxID int64) (*client.Client, error) {
	c := a.as(addr, "")
	err := retrying(ctx, func() error {
		_, _, err := c.CreateVisitor(ctx, inboxID)
		return err
	})
	return c, err
}

// acceptOffer accepts an offer made to the caller.
func acceptOffer(ctx context.Context, c *client.Client, offerID int64) error {
	_, err := c.Do(ctx, "POST", "/api/v1/offers/"+strconv.FormatInt(offerID, 10)+"/accept", nil, nil)
	return err
}

// metrics reads the named samples (without labels) from /metrics.
func (a *api) metrics(ctx context.Context, names ...string) (map[string]float64, error) {
	var buf bytes.Buffer
	if _, err := a.as(netip.Addr{}, "").DoRaw(ctx, "GET", "/metrics", "", nil, &buf); err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	out := make(map[string]float64, len(names))
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !want[name] {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}
