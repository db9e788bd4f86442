package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/attachment"
	"github.com/switchboard/switchboard/outbound"
	"github.com/switchboard/switchboard/realtime"
	"github.com/switchboard/switchboard/routing"
	"github.com/switchboard/switchboard/store"
	"github.com/switchboard/switchboard/web"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Main is the running program: end-to-end tests start it as the real thing.
type Main struct {
	Config Config
	// Clock is the program's clock (tests may steer it).
	Clock sb.Clock

	out io.Writer
	log *slog.Logger
	db  *store.DB
	hub *realtime.Hub
	ws  *realtime.Server
	bus realtime.Bus
	svc *app.Service
	eng *routing.Engine
	// outbound is the one guarded HTTP client of every request to the
	// outside (webhooks, channel media, bot providers).
	outbound *outbound.Client
	srv      *http.Server
	ln       net.Listener
	stop     context.CancelFunc

	pprofLn net.Listener
	wg      sync.WaitGroup
}

// NewMain returns a program with default configuration, printing to out.
func NewMain(out io.Writer) *Main {
	return &Main{out: out, Clock: sb.SystemClock{}, Config: Config{
		Addr: ":8080", DataDir: "switchboard-data", MaxUploadMB: 25, OwnerEmail: "owner@switchboard.local",
		LogLevel: "info", ShutdownGrace: 10 * time.Second, EventRetention: 72 * time.Hour,
	}}
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// Open starts the program: storage, realtime, HTTP. It returns once the
// server is listening.
func (m *Main) Open(ctx context.Context) (err error) {
	start := time.Now()
	c := m.Config
	m.log = newLogger(m.out, c.LogLevel)
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if m.db, err = store.Open(ctx, store.Config{URL: c.DatabaseURL, Dir: c.DataDir, Clock: m.Clock, Logger: m.log, FastCommits: c.FastCommits}); err != nil {
		return err
	}
	if err := bootstrapOwner(ctx, m.db, c.OwnerEmail, m.out); err != nil {
		return err
	}
	var demo demoData
	if c.Demo {
		if demo, err = seedDemo(ctx, m.db, m.out); err != nil {
			return err
		}
	}
	files, err := attachment.NewStore(filepath.Join(c.DataDir, "files"))
	if err != nil {
		return err
	}
	if m.outbound, err = outbound.New(outbound.Config{Allow: c.OutboundAllow}); err != nil {
		return err
	}

	runCtx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := web.NewMetrics(reg)
	hubOpts := realtime.HubOptions{Logger: m.log, Metrics: metrics}
	if c.NATSURL != "" {
		nb, err := realtime.NewNATSBus(c.NATSURL, "switchboard.events")
		if err != nil {
			return fmt.Errorf("connect to NATS: %w", err)
		}
		m.bus = nb
		hubOpts.Bus = nb
	}
	m.hub = realtime.NewHub(m.db, hubOpts)
	m.db.OnCommit(m.hub.Publish)
	m.goRun(func() { m.hub.Run(runCtx) })
	m.goRun(func() { m.pruneEvents(runCtx) })

	// The routing engine hears this node's commits directly and the other
	// nodes' through the bus.
	m.eng = routing.New(m.db, routing.Config{Clock: m.Clock, Logger: m.log, NodeID: c.NodeID})
	if m.bus != nil {
		if _, err := m.bus.Subscribe(func(int64) { m.eng.Notify() }); err != nil {
			return fmt.Errorf("subscribe to NATS: %w", err)
		}
	}
	m.goRun(func() {
		if err := m.eng.Run(runCtx); err != nil {
			m.log.Error("routing engine stopped", "err", err)
		}
	})

	m.svc = app.New(m.db, m.hub, m.Clock, m.log, app.Config{MaxUploadBytes: int64(c.MaxUploadMB) << 20, Files: files})
	// Role, inbox and password changes close the user's open WebSockets at once.
	m.svc.SetUserChangeHook(m.hub.DisconnectUser)
	handler := m.buildHandler(demo, metrics)
	m.srv = web.NewHTTPServer(c.Addr, handler, m.log)
	if m.ln, err = net.Listen("tcp", c.Addr); err != nil {
		return err
	}
	m.goRun(func() {
		if err := m.srv.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("http server stopped", "err", err)
		}
	})
	if c.PprofAddr != "" {
		if err := m.servePprof(c.PprofAddr); err != nil {
			return err
		}
	}
	m.log.Info("switchboard ready", "addr", m.ln.Addr().String(), "database", m.db.Dialect(), "node", m.eng.NodeID(), "startup_ms", time.Since(start).Milliseconds())
	fmt.Fprintf(m.out, "Switchboard is listening on http://%s\n", displayAddr(m.ln.Addr().String()))
	return nil
}

func (m *Main) goRun(f func()) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f()
	}()
}

// URL is the base URL the program listens on.
func (m *Main) URL() string { return "http://" + displayAddr(m.ln.Addr().String()) }

func displayAddr(addr string) string {
	if strings.HasPrefix(addr, "[::]:") {
		return "localhost:" + strings.TrimPrefix(addr, "[::]:")
	}
	if strings.HasPrefix(addr, "0.0.0.0:") {
		return "localhost:" + strings.TrimPrefix(addr, "0.0.0.0:")
	}
	return addr
}

// Close shuts down gracefully: WebSocket clients are told to reconnect,
// requests in flight finish (up to the grace period), then background work
// stops and the database closes.
func (m *Main) Close() error {
	grace := m.Config.ShutdownGrace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var errs []error
	if m.ws != nil {
		errs = append(errs, m.ws.Shutdown(ctx))
	}
	if m.srv != nil {
		errs = append(errs, m.srv.Shutdown(ctx))
	} else if m.ln != nil {
		m.ln.Close()
	}
	if m.pprofLn != nil {
		m.pprofLn.Close()
	}
	if m.stop != nil {
		m.stop()
	}
	m.wg.Wait()
	if m.bus != nil {
		errs = append(errs, m.bus.Close())
	}
	if m.db != nil {
		errs = append(errs, m.db.Close())
	}
	return errors.Join(errs...)
}

// pruneEvents drops realtime events older than the retention, hourly.
func (m *Main) pruneEvents(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if _, err := m.db.PruneEvents(ctx, m.Clock.Now().Add(-m.Config.EventRetention)); err != nil && ctx.Err() == nil {
			m.log.Error("prune events", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
