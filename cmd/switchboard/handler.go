package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/switchboard/switchboard/realtime"
	"github.com/switchboard/switchboard/web"
)

// buildHandler wires the HTTP layer: the REST API and pages (web), the
// WebSocket endpoint (realtime) and the metrics registry.
func (m *Main) buildHandler(demo demoData) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := web.NewMetrics(reg)
	m.ws = realtime.NewServer(m.hub, web.NewAuthenticator(m.svc), web.NewActions(m.svc), realtime.ServerOptions{
		AllowedOrigins: m.Config.AllowedOrigins,
		Logger:         m.log,
	})
	return web.New(web.Config{
		AllowedOrigins: m.Config.AllowedOrigins,
		SecureCookies:  m.Config.SecureCookies,
		DemoInboxID:    demo.InboxID,
	}, m.svc, m.ws, metrics, m.log), nil
}
