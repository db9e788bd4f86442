// Package web is Switchboard's HTTP face: the JSON API under /api/v1 (its
// routes in routes.go, described by openapi.json), the WebSocket endpoint's
// mount point and authentication, the widget script, the demo page, health
// and metrics. Handlers parse, call the app layer (which authorises) and
// answer; error codes become HTTP statuses in json.go and nowhere else.
package web

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/realtime"
)

//go:embed ui/static ui/templates openapi.json
var assets embed.FS

// Config holds the HTTP layer's settings; zero values take the defaults.
type Config struct {
	// AllowedOrigins are origins besides the server's own (for example
	// "https://support.example.com") from which browsers may send
	// cookie-authenticated requests. The same list goes to the WebSocket
	// endpoint (realtime.ServerOptions.AllowedOrigins).
	AllowedOrigins []string
	// SecureCookies marks the session cookie Secure even when the request
	// did not come over TLS (set it behind a TLS-terminating proxy).
	SecureCookies bool
	// TrustedProxies are the addresses of reverse proxies whose
	// X-Forwarded-For is believed; otherwise the header is ignored.
	TrustedProxies []netip.Prefix
	// DemoInboxID is the inbox the /demo page embeds; 0 disables the page.
	DemoInboxID int64
	// NewVisitors limits widget visitors created per client address
	// (default 30 at once, then one every 2 s), shared by every node on
	// PostgreSQL (app.Service.NewRateLimiter).
	NewVisitors app.Limit
	// MetricsToken, when set, lets a request with Authorization: Bearer
	// and this token read /metrics from anywhere. Without it, only
	// requests straight from this host may (see metricsAccess).
	MetricsToken string
}

func (c Config) withDefaults() Config {
	if c.NewVisitors.Burst <= 0 || c.NewVisitors.Every <= 0 {
		c.NewVisitors = app.Limit{Burst: 30, Every: 2 * time.Second}
	}
	return c
}

// Server is the HTTP handler of Switchboard.
type Server struct {
	cfg      Config
	svc      *app.Service
	ws       http.Handler
	metrics  *Metrics
	log      *slog.Logger
	routes   []route
	handler  http.Handler
	pages    *template.Template
	widgetJS []byte
	openAPI  []byte
	visitors app.RateLimiter // new widget visitors per client address
}

// New returns the HTTP handler. ws is the WebSocket endpoint mounted at
// GET /api/v1/ws (a *realtime.Server built with NewAuthenticator(svc));
// metrics may be nil (a private registry is used) and so may log.
func New(cfg Config, svc *app.Service, ws http.Handler, metrics *Metrics, log *slog.Logger) *Server {
	cfg = cfg.withDefaults()
	if metrics == nil {
		metrics = NewMetrics(prometheus.NewRegistry())
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		cfg:      cfg,
		svc:      svc,
		ws:       ws,
		metrics:  metrics,
		log:      log,
		pages:    template.Must(template.ParseFS(assets, "ui/templates/*.html")),
		widgetJS: mustRead("ui/static/widget.js"),
		openAPI:  mustRead("openapi.json"),
	}
	if svc != nil { // nil only where the route table alone is wanted (openapi_test.go)
		s.visitors = svc.NewRateLimiter("new-visitors", cfg.NewVisitors)
	}
	s.routes = s.routeTable()
	mux := http.NewServeMux()
	for _, rt := range s.routes {
		mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	// withCaller outermost: the request log written by observe names the
	// client address it finds.
	s.handler = s.withCaller(s.observe(s.secure(mux)))
	return s
}

func mustRead(name string) []byte {
	b, err := fs.ReadFile(assets, name)
	if err != nil {
		panic("web: embedded file missing: " + err.Error())
	}
	return b
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Route describes one registered route, for tests and documentation.
type Route struct {
	Method  string // GET, POST, …
	Pattern string // the ServeMux path pattern, e.g. /api/v1/conversations/{id}
	Access  string // "public", "staff", "visitor" or "websocket"
}

// Routes lists every registered route, in registration order.
func (s *Server) Routes() []Route {
	out := make([]Route, len(s.routes))
	for i, rt := range s.routes {
		out[i] = Route{Method: rt.method, Pattern: rt.pattern, Access: rt.access.String()}
	}
	return out
}

// NewHTTPServer returns an http.Server for h with Switchboard's time-outs:
// 10 s to send the headers, 60 s to send the body and 120 s to receive the
// answer of an API call (uploads and downloads extend these per request;
// hijacked WebSocket connections have none), 120 s idle keep-alive, 64 KiB
// of headers.
func NewHTTPServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.Default()
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Actions adapts the app layer to what the WebSocket endpoint needs
// (realtime.Actions): the same calls the REST handlers make.
type Actions struct{ svc *app.Service }

var _ realtime.Actions = Actions{}

// NewActions returns the WebSocket endpoint's actions on svc.
func NewActions(svc *app.Service) Actions { return Actions{svc: svc} }

// QueueMessage implements realtime.Actions.
func (a Actions) QueueMessage(ctx context.Context, p *sb.Principal, convID int64, thread sb.Thread, body, clientID string) func() (sb.Message, error) {
	wait := a.svc.QueueMessage(ctx, p, convID, thread, body, clientID)
	return func() (sb.Message, error) {
		m, _, err := wait()
		return m, err
	}
}

// Typing implements realtime.Actions.
func (a Actions) Typing(ctx context.Context, p *sb.Principal, convID int64) error {
	return a.svc.Typing(ctx, p, convID)
}
