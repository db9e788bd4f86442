package web

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/switchboard/switchboard/app"
)

// Security headers sent with every response. Attachments replace the CSP
// with their own sandboxing one (attachment.Serve).
const (
	// Images may also come from blob: and data: URLs: the widget and the
	// workspace show attachments they fetched with credentials that way.
	contentSecurityPolicy = "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
	referrerPolicy        = "same-origin"
)

// Request deadlines. http.Server's ReadTimeout and WriteTimeout (see
// NewHTTPServer) bound ordinary API calls; uploads and downloads get longer.
// WebSocket connections are hijacked, which clears the deadlines.
const transferTimeout = 15 * time.Minute

// statusWriter records the status and size of a response. It unwraps, so
// http.ResponseController and the WebSocket library reach the connection.
type statusWriter struct {
	http.ResponseWriter
	status   int
	written  int64
	hijacked bool
}

// WriteHeader records the status and sends it.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records the size and sends b.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.written += int64(n)
	return n, err
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack records that the connection was taken over (a WebSocket upgrade).
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
		w.status = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

// Flush sends buffered data to the client.
func (w *statusWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// knownMethods bounds the method label of the metrics.
var knownMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}

// requestInfo is filled in as a request travels: wrap records the route
// that matched (the ServeMux sets Request.Pattern only on its own copy).
type requestInfo struct{ route string }

type requestInfoKey struct{}

// setRoute records the matched route of a request for its log line and metrics.
func setRoute(r *http.Request, pattern string) {
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		info.route = pattern
	}
}

// observe logs and measures every request, and turns panics into 500s.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		sw := &statusWriter{ResponseWriter: w}
		s.metrics.inFlight.Inc()
		defer func() {
			s.metrics.inFlight.Dec()
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v)
				if sw.status == 0 && !sw.hijacked {
					s.writeError(sw, r, errors.New("panic"))
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			method := r.Method
			if !knownMethods[method] {
				method = "OTHER"
			}
			d := time.Since(start)
			s.metrics.observe(method, info.route, status, d, sw.hijacked)
			level := s.logLevel(r, status)
			s.log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "route", info.route,
				"status", status, "bytes", sw.written, "duration", d, "addr", callerOf(r.Context()).addr)
		}()
		next.ServeHTTP(sw, r)
	})
}

func (s *Server) logLevel(r *http.Request, status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelWarn
	case r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics":
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// secure sets the security headers of every response and answers the
// widget API's CORS preflights.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", referrerPolicy)
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if strings.HasPrefix(r.URL.Path, "/api/v1/widget/") && (s.refusePreflight(w, r) || corsPreflight(w, r)) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// corsPreflight adds the widget API's CORS headers: the sites that embed
// the widget call it, and no credentials are involved (visitors send their
// token in Authorization), so the Origin is echoed and cookies are never
// allowed. An inbox's allowed origins are checked once the request names
// the inbox (refusals withdraw these headers: withdrawCORS). It answers
// preflight requests itself and reports whether it did.
func corsPreflight(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	if !isPreflight(r) {
		h.Set("Access-Control-Expose-Headers", "Content-Disposition, Content-Length")
		return false
	}
	h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
}

// refusePreflight answers a widget API preflight from a page that no widget
// inbox may be used from with 403 and no CORS headers, so the browser never
// sends the request; it reports whether it did. A preflight carries neither
// the inbox nor the visitor's token: whether this inbox allows the origin
// is decided on the request itself.
func (s *Server) refusePreflight(w http.ResponseWriter, r *http.Request) bool {
	origin := foreignOrigin(r.Context())
	if origin == "" || !isPreflight(r) {
		return false
	}
	allowed, err := s.svc.WidgetAllowsOrigin(r.Context(), origin)
	if err == nil && allowed {
		return false
	}
	if err == nil {
		err = app.ErrOriginNotAllowed
	}
	w.Header().Add("Vary", "Origin")
	s.writeError(w, r, err)
	return true
}

// withdrawCORS removes what corsPreflight granted, from the answer to a
// request whose origin its inbox refused: the page may not read it.
func withdrawCORS(h http.Header) {
	h.Del("Access-Control-Allow-Origin")
	h.Del("Access-Control-Expose-Headers")
	h.Del("Cross-Origin-Resource-Policy")
}

// setDeadlines replaces the connection's read and write deadlines for this
// request; the zero time removes them.
func setDeadlines(w http.ResponseWriter, read, write time.Time) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(read)
	_ = rc.SetWriteDeadline(write)
}

// caller is where a request comes from, as withCaller found it.
type caller struct {
	addr     string // the client's address (clientAddrOf)
	limitKey string // what per-address limits count it under (app.AddressKey)
	origin   string // the Origin of a request from another site's page (foreignOriginOf)
}

type callerKey struct{}

// withCaller puts the client's address and the Origin of a cross-origin
// request in the request context. The WebSocket endpoint keeps the context
// of its upgrade request, so hello's authentication sees them too.
func (s *Server) withCaller(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := s.clientAddrOf(r)
		c := caller{addr: addr, limitKey: app.AddressKey(addr), origin: foreignOriginOf(r)}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

// clientAddrOf returns the client's address: the peer's address, or, when
// the peer is a trusted proxy, the address it reports in X-Forwarded-For.
// Client-supplied headers are ignored otherwise.
func (s *Server) clientAddrOf(r *http.Request) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	addr := peer.Addr().Unmap()
	if !s.trusted(addr) {
		return addr.String()
	}
	// Walk X-Forwarded-For from the right: the last address not of a
	// trusted proxy is the client.
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		addr = a.Unmap()
		if !s.trusted(addr) {
			break
		}
	}
	return addr.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// foreignOriginOf returns the Origin of a request made by a page of another
// site, and "" for the server's own pages (the workspace, the demo page) and
// for callers that send no Origin (servers, curl): an inbox's allowed
// origins only concern the sites that embed the widget.
func foreignOriginOf(r *http.Request) string {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	if u, err := url.Parse(origin); err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) {
		return ""
	}
	return origin
}

func callerOf(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c
}

// clientAddr returns the client address withCaller found as every
// per-address limit (logins, failed tokens, new visitors) counts it: the
// address, or for IPv6 its /64 (app.AddressKey).
func clientAddr(ctx context.Context) string {
	return callerOf(ctx).limitKey
}

// foreignOrigin returns the cross-origin Origin withCaller found, or "".
func foreignOrigin(ctx context.Context) string {
	return callerOf(ctx).origin
}
