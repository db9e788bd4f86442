package web

import (
	"bytes"
	"context"
	"net/http"
	"time"

	sb "github.com/switchboard/switchboard"
)

var (
	errNoWebSocket  = sb.Errorf(sb.EUNAVAILABLE, "The WebSocket endpoint is not configured.")
	errDemoDisabled = sb.Errorf(sb.ENOTFOUND, "The demo page is not enabled on this server.")
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ *sb.Principal) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz reports whether the database answers.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ *sb.Principal) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.svc.DB().Ping(ctx); err != nil {
		s.log.Warn("readiness check failed", "err", err)
		return sb.Errorf(sb.EUNAVAILABLE, "The database does not answer.")
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, _ *sb.Principal) error {
	if err := s.metricsAccess(r); err != nil {
		return err
	}
	s.metrics.handler().ServeHTTP(w, r)
	return nil
}

func (s *Server) openAPIDoc(w http.ResponseWriter, r *http.Request, _ *sb.Principal) error {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Access-Control-Allow-Origin", "*")
	w.Write(s.openAPI)
	return nil
}

// widgetScript serves the embedded widget. Any site may load it; it is
// cached briefly so that a new version reaches visitors soon.
func (s *Server) widgetScript(w http.ResponseWriter, r *http.Request, _ *sb.Principal) error {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(s.widgetJS))
	return nil
}

// demoPage shows a stand-in company site embedding the widget (demo mode only).
func (s *Server) demoPage(w http.ResponseWriter, r *http.Request, _ *sb.Principal) error {
	if s.cfg.DemoInboxID == 0 {
		return errDemoDisabled
	}
	return s.render(w, "demo.html", struct {
		InboxID       int64
		AgentLoginURL string
	}{s.cfg.DemoInboxID, "/"})
}

// indexPage is a placeholder until the workspace exists.
func (s *Server) indexPage(w http.ResponseWriter, r *http.Request, _ *sb.Principal) error {
	return s.render(w, "index.html", struct{ DemoInboxID int64 }{s.cfg.DemoInboxID})
}

// render executes a page template into a buffer first, so that a failing
// template never sends half a page.
func (s *Server) render(w http.ResponseWriter, name string, data any) error {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, data); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
	return nil
}

// webSocket hands the request to the realtime endpoint.
func (s *Server) webSocket(w http.ResponseWriter, r *http.Request, _ *sb.Principal) error {
	if s.ws == nil {
		return errNoWebSocket
	}
	s.ws.ServeHTTP(w, r)
	return nil
}
