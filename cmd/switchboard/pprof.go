package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// checkPprofAddr refuses a profiling address that is not loopback: profiles
// show request data and the endpoint has no authentication.
func checkPprofAddr(addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--pprof-addr: %w", err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--pprof-addr must be a loopback address (127.0.0.1:6060, [::1]:6060), not %q", addr)
	}
	return nil
}

// servePprof serves net/http/pprof on its own listener, apart from the
// public handler (BENCHMARKS.md: how the profiles were taken).
func (m *Main) servePprof(addr string) error {
	if err := checkPprofAddr(addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.pprofLn = ln
	m.goRun(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
			m.log.Error("pprof server stopped", "err", err)
		}
	})
	m.log.Info("profiling endpoint", "addr", "http://"+ln.Addr().String()+"/debug/pprof/")
	return nil
}
