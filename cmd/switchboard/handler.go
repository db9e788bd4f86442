package main

import (
	"net/http"

	"github.com/switchboard/switchboard/realtime"
	"github.com/switchboard/switchboard/web"
)

// buildHandler wires the HTTP layer: the REST API and pages (web) and the
// WebSocket endpoint (realtime).
func (m *Main) buildHandler(demo demoData, metrics *web.Metrics) http.Handler {
	m.ws = realtime.NewServer(m.hub, web.NewAuthenticator(m.svc), web.NewActions(m.svc), realtime.ServerOptions{
		AllowedOrigins: m.Config.AllowedOrigins,
		Logger:         m.log,
		Presence:       m.eng,
	})
	return web.New(web.Config{
		AllowedOrigins: m.Config.AllowedOrigins,
		SecureCookies:  m.Config.SecureCookies,
		DemoInboxID:    demo.InboxID,
		MetricsToken:   m.Config.MetricsToken,
		TrustedProxies: m.Config.TrustedProxies,
	}, m.svc, m.ws, metrics, m.log)
}
