package web

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
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
				"status", status, "bytes", sw.written, "duration", d, "addr", clientAddr(r.Context()))
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
		if strings.HasPrefix(r.URL.Path, "/api/v1/widget/") && corsPreflight(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// corsPreflight adds the widget API's CORS headers: any site may embed the
// widget, and no credentials are involved (visitors send their token in
// Authorization), so the Origin is echoed and cookies are never allowed.
// It answers preflight requests itself and reports whether it did.
func corsPreflight(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
		h.Set("Access-Control-Expose-Headers", "Content-Disposition, Content-Length")
		return false
	}
	h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// setDeadlines replaces the connection's read and write deadlines for this
// request; the zero time removes them.
func setDeadlines(w http.ResponseWriter, read, write time.Time) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(read)
	_ = rc.SetWriteDeadline(write)
}

type addrKey struct{}

// withClientAddr puts the client's address in the request context: the
// peer's address, or, when the peer is a trusted proxy, the address it
// reports in X-Forwarded-For. Client-supplied headers are ignored otherwise.
func (s *Server) withClientAddr(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := s.clientAddrOf(r)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), addrKey{}, addr)))
	})
}

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

// clientAddr returns the client address withClientAddr found.
func clientAddr(ctx context.Context) string {
	a, _ := ctx.Value(addrKey{}).(string)
	return a
}
