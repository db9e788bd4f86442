package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/web"
	"github.com/switchboard/switchboard/web/webtest"
)

const metricsToken = "scrape-0123456789abcdef"

// getMetrics reads /metrics over the test server's listener, from
// 127.0.0.1, with the given headers; it returns the status and error code.
func getMetrics(t *testing.T, env *webtest.Env, header map[string]string) (int, string) {
	t.Helper()
	return send(t, env, rawRequest{method: "GET", path: "/metrics", header: header})
}

// metricsFrom serves /metrics to a request whose peer is addr, which the
// test's listener cannot produce for addresses other than 127.0.0.1.
func metricsFrom(t *testing.T, env *webtest.Env, addr string, header map[string]string) (int, string) {
	t.Helper()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.RemoteAddr = addr
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	env.Web.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	if rec.Code == http.StatusOK && !strings.Contains(string(body), "switchboard_http_requests_total") {
		t.Errorf("from %s: 200 without the metrics", addr)
	}
	return rec.Code, string(body)
}

func TestMetricsAccess(t *testing.T) {
	// The trusted proxy makes X-Forwarded-For believed for the client
	// address: it must still not count as this host.
	loopbackProxy := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	withToken := webtest.New(t, webtest.Options{Web: web.Config{MetricsToken: metricsToken, TrustedProxies: loopbackProxy}})
	without := webtest.New(t, webtest.Options{Web: web.Config{TrustedProxies: loopbackProxy}})
	bearer := map[string]string{"Authorization": "Bearer " + metricsToken}

	for _, c := range []struct {
		name     string
		env      *webtest.Env
		header   map[string]string
		want     int
		wantCode string
	}{
		{"this host, no token configured", without, nil, 200, ""},
		{"this host, a token configured", withToken, nil, 200, ""},
		{"this host with a wrong token", withToken, map[string]string{"Authorization": "Bearer wrong"}, 200, ""},
		{"a same-host proxy (X-Forwarded-For)", without, map[string]string{"X-Forwarded-For": "127.0.0.1"}, 403, sb.EFORBIDDEN},
		{"a same-host proxy (Forwarded)", without, map[string]string{"Forwarded": "for=127.0.0.1"}, 403, sb.EFORBIDDEN},
		{"a same-host proxy (X-Real-IP)", without, map[string]string{"X-Real-IP": "127.0.0.1"}, 403, sb.EFORBIDDEN},
		{"a same-host proxy, a token configured", withToken, map[string]string{"X-Forwarded-For": "203.0.113.9"}, 403, sb.EFORBIDDEN},
		{"a same-host proxy with the token", withToken, map[string]string{"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer " + metricsToken}, 200, ""},
		{"a same-host proxy with a wrong token", withToken, map[string]string{"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer " + metricsToken + "x"}, 401, sb.EUNAUTHORIZED},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, code := getMetrics(t, c.env, c.header)
			if status != c.want || code != c.wantCode {
				t.Errorf("status %d %q, want %d %q", status, code, c.want, c.wantCode)
			}
		})
	}

	for _, c := range []struct {
		name   string
		env    *webtest.Env
		addr   string
		header map[string]string
		want   int
	}{
		{"IPv6 loopback", without, "[::1]:40000", nil, 200},
		{"IPv4-mapped loopback", without, "[::ffff:127.0.0.1]:40000", nil, 200},
		{"another loopback address", without, "127.8.9.10:40000", nil, 200},
		{"a remote peer, no token configured", without, "203.0.113.5:40000", nil, 403},
		{"a remote peer with a token, none configured", without, "203.0.113.5:40000", bearer, 403},
		{"a remote peer without the token", withToken, "203.0.113.5:40000", nil, 403},
		{"a remote peer with the token", withToken, "203.0.113.5:40000", bearer, 200},
		{"a remote IPv6 peer with the token", withToken, "[2001:db8::1]:40000", bearer, 200},
		{"a remote peer with a wrong token", withToken, "203.0.113.5:40000", map[string]string{"Authorization": "Bearer " + metricsToken[1:]}, 401},
		{"a remote peer with another scheme", withToken, "203.0.113.5:40000", map[string]string{"Authorization": "Basic " + metricsToken}, 401},
		{"a private-network peer", without, "10.0.0.7:40000", nil, 403},
		{"a peer saying it is loopback", without, "203.0.113.5:40000", map[string]string{"X-Forwarded-For": "127.0.0.1"}, 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			if status, _ := metricsFrom(t, c.env, c.addr, c.header); status != c.want {
				t.Errorf("status %d, want %d", status, c.want)
			}
		})
	}
}
