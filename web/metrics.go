package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/realtime"
)

// Metrics holds the Prometheus collectors of the HTTP layer and of the
// realtime hub (it implements realtime.Metrics; pass it in HubOptions).
type Metrics struct {
	gatherer prometheus.Gatherer

	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	inFlight   prometheus.Gauge
	subs       prometheus.Gauge
	delivered  prometheus.Counter
	deliveries prometheus.Counter
	logReads   prometheus.Counter
	slow       prometheus.Counter
}

var _ realtime.Metrics = (*Metrics)(nil)

// NewMetrics registers Switchboard's collectors with reg and serves reg at
// /metrics. Register the Go and process collectors on reg yourself if you
// want them (main does).
func NewMetrics(reg *prometheus.Registry) *Metrics {
	m := &Metrics{
		gatherer: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by method and route pattern (WebSocket connections excluded).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_http_requests_in_flight",
			Help: "HTTP requests being answered now (open WebSocket connections included).",
		}),
		subs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_realtime_subscriptions",
			Help: "Realtime subscriptions (authenticated WebSocket connections) registered with the hub.",
		}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_realtime_events_total",
			Help: "Events fanned out by the realtime hub.",
		}),
		deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_realtime_deliveries_total",
			Help: "Event frames handed to subscriptions (one event to n subscriptions counts n).",
		}),
		logReads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_realtime_log_reads_total",
			Help: "Events read back from the event log to fill gaps or resume clients.",
		}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_realtime_slow_consumers_total",
			Help: "Subscriptions dropped because the client read too slowly.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.inFlight, m.subs, m.delivered, m.deliveries, m.logReads, m.slow)
	return m
}

// Delivered implements realtime.Metrics.
func (m *Metrics) Delivered(n int) {
	m.delivered.Inc()
	m.deliveries.Add(float64(n))
}

// LogRead implements realtime.Metrics.
func (m *Metrics) LogRead(n int) { m.logReads.Add(float64(n)) }

// SlowConsumer implements realtime.Metrics.
func (m *Metrics) SlowConsumer() { m.slow.Inc() }

// Subscribers implements realtime.Metrics.
func (m *Metrics) Subscribers(n int) { m.subs.Set(float64(n)) }

// handler serves the registry in the Prometheus text format.
func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{})
}

var (
	errMetricsRefused = sb.Errorf(sb.EFORBIDDEN, "/metrics is served to this host only, or with Authorization: Bearer and the metrics token (--metrics-token).")
	errMetricsToken   = sb.Errorf(sb.EUNAUTHORIZED, "The metrics token is wrong.")
)

// metricsAccess decides who may read /metrics. The figures tell how busy
// the server is and which routes are called: they are for the operator's
// scraper, not for the Internet. A request straight from this host may;
// from anywhere else, a request bearing the configured metrics token.
func (s *Server) metricsAccess(r *http.Request) error {
	if fromThisHost(r) {
		return nil
	}
	tok, present, err := bearer(r)
	switch {
	case err != nil:
		return err
	case !present || s.cfg.MetricsToken == "":
		return errMetricsRefused
	case !sameSecret(tok, s.cfg.MetricsToken):
		return errMetricsToken
	}
	return nil
}

// sameSecret compares in constant time; hashing first hides the length too.
func sameSecret(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// forwardingHeaders are what reverse proxies add to the requests they pass on.
var forwardingHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip"}

// fromThisHost reports whether a request comes straight from this host: its
// peer (r.RemoteAddr, never a header) is a loopback address and it carries no
// proxy's forwarding headers. Behind a reverse proxy on the same host every
// request's peer is loopback; the headers the proxy adds tell its requests
// apart. A proxy that adds none must block /metrics itself.
func fromThisHost(r *http.Request) bool {
	for _, h := range forwardingHeaders {
		if len(r.Header.Values(h)) > 0 {
			return false
		}
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && peer.Addr().Unmap().IsLoopback()
}

// observe records one answered request. route is the route's pattern, so
// the label's values are bounded by the route table.
func (m *Metrics) observe(method, route string, status int, d time.Duration, upgraded bool) {
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	if !upgraded {
		m.duration.WithLabelValues(method, route).Observe(d.Seconds())
	}
}
