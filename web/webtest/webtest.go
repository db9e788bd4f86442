// Package webtest starts a complete Switchboard server for tests, wired as
// cmd/switchboard wires it: a real SQLite store in a temporary folder, the
// app service, the realtime hub and WebSocket endpoint, and the HTTP
// handler on a real listener. Helpers create inboxes, users and clients.
package webtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/attachment"
	"github.com/switchboard/switchboard/client"
	"github.com/switchboard/switchboard/realtime"
	"github.com/switchboard/switchboard/store"
	"github.com/switchboard/switchboard/web"
)

// Options adjust the server; zero values take test-friendly defaults.
type Options struct {
	Web      web.Config
	App      app.Config // Files is always set by New
	Realtime realtime.ServerOptions
	Clock    sb.Clock
	// Logger receives the server's logs (default: discarded).
	Logger *slog.Logger
	// ReadTimeout and WriteTimeout replace web.NewHTTPServer's, to test
	// what outlives them.
	ReadTimeout, WriteTimeout time.Duration
}

// Env is a running server and its parts.
type Env struct {
	URL      string
	HTTP     *httptest.Server
	DB       *store.DB
	Service  *app.Service
	Hub      *realtime.Hub
	WS       *realtime.Server
	Web      *web.Server
	FilesDir string
}

// New starts a server that stops when the test ends.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	ctx := context.Background()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dir := t.TempDir()
	db, err := store.Open(ctx, store.Config{Dir: filepath.Join(dir, "data"), Clock: o.Clock, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	filesDir := filepath.Join(dir, "files")
	files, err := attachment.NewStore(filesDir)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	metrics := web.NewMetrics(reg)
	hub := realtime.NewHub(db, realtime.HubOptions{Metrics: metrics, Logger: log, PollInterval: time.Second})
	db.OnCommit(hub.Publish)

	appCfg := o.App
	appCfg.Files = files
	if appCfg.LoginLimits.PerAddress.Burst == 0 {
		// Tests log in often from one address.
		appCfg.LoginLimits.PerAddress = app.Limit{Burst: 1000, Every: time.Millisecond}
	}
	svc := app.New(db, hub, o.Clock, log, appCfg)
	svc.SetUserChangeHook(hub.DisconnectUser)

	rtOpts := o.Realtime
	rtOpts.AllowedOrigins = o.Web.AllowedOrigins
	if rtOpts.Logger == nil {
		rtOpts.Logger = log
	}
	ws := realtime.NewServer(hub, web.NewAuthenticator(svc), web.NewActions(svc), rtOpts)

	webCfg := o.Web
	if webCfg.NewVisitors.Burst == 0 {
		webCfg.NewVisitors = app.Limit{Burst: 1000, Every: time.Millisecond}
	}
	h := web.New(webCfg, svc, ws, metrics, log)

	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() {
		defer close(hubDone)
		if err := hub.Run(hubCtx); err != nil {
			log.Error("hub", "err", err)
		}
	}()

	ts := httptest.NewUnstartedServer(h)
	std := web.NewHTTPServer("", h, log)
	ts.Config.ReadHeaderTimeout = std.ReadHeaderTimeout
	ts.Config.ReadTimeout = std.ReadTimeout
	ts.Config.WriteTimeout = std.WriteTimeout
	ts.Config.IdleTimeout = std.IdleTimeout
	ts.Config.MaxHeaderBytes = std.MaxHeaderBytes
	ts.Config.ErrorLog = std.ErrorLog
	if o.ReadTimeout > 0 {
		ts.Config.ReadTimeout = o.ReadTimeout
	}
	if o.WriteTimeout > 0 {
		ts.Config.WriteTimeout = o.WriteTimeout
	}
	ts.Start()

	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ws.Shutdown(sctx)
		ts.Close()
		stopHub()
		<-hubDone
		db.Close()
	})
	return &Env{URL: ts.URL, HTTP: ts, DB: db, Service: svc, Hub: hub, WS: ws, Web: h, FilesDir: filesDir}
}

var seq atomic.Int64

// Password is the password of every user the helpers create.
const Password = "correct horse battery staple"

// Inbox creates a widget inbox.
func (e *Env) Inbox(t testing.TB, name string) *sb.Inbox {
	t.Helper()
	in := &sb.Inbox{Name: name, Channel: sb.ChannelWidget, Settings: sb.DefaultInboxSettings()}
	e.write(t, func(tx *store.Tx) error { return tx.CreateInbox(in) })
	return in
}

// User creates a user with Password and the given inbox memberships.
func (e *Env) User(t testing.TB, role sb.Role, operator bool, inboxIDs ...int64) *sb.User {
	t.Helper()
	hash, err := app.HashPassword(Password)
	if err != nil {
		t.Fatal(err)
	}
	n := seq.Add(1)
	u := &sb.User{Email: fmt.Sprintf("%s%d@example.com", role, n), Name: fmt.Sprintf("%s %d", role, n), Role: role, Operator: operator, ChatLimit: sb.DefaultChatLimit}
	e.write(t, func(tx *store.Tx) error {
		if err := tx.CreateUser(u, hash); err != nil {
			return err
		}
		return tx.SetUserInboxes(u.ID, inboxIDs)
	})
	got, err := e.DB.User(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Token issues an API token for a user, straight in the store.
func (e *Env) Token(t testing.TB, u *sb.User) (string, *sb.APIToken) {
	t.Helper()
	raw, hash := app.NewToken(app.PrefixAPI)
	tok := &sb.APIToken{UserID: u.ID, Name: "test", TokenHash: hash}
	e.write(t, func(tx *store.Tx) error { return tx.CreateAPIToken(tok) })
	return raw, tok
}

// Client returns a client of the server with no credentials.
func (e *Env) Client(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New(e.URL, client.WithHTTPClient(e.HTTP.Client()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TokenClient returns a client acting as u with a fresh API token.
func (e *Env) TokenClient(t testing.TB, u *sb.User) *client.Client {
	t.Helper()
	raw, _ := e.Token(t, u)
	c := e.Client(t)
	c.SetToken(raw)
	return c
}

// SessionClient returns a client signed in as u with a browser-style session.
func (e *Env) SessionClient(t testing.TB, u *sb.User) *client.Client {
	t.Helper()
	c := e.Client(t)
	if _, err := c.Login(context.Background(), u.Email, Password); err != nil {
		t.Fatalf("login as %s: %v", u.Email, err)
	}
	return c
}

// VisitorClient returns a client acting as a new widget visitor of an inbox.
func (e *Env) VisitorClient(t testing.TB, inboxID int64) *client.Client {
	t.Helper()
	c := e.Client(t)
	if _, _, err := c.CreateVisitor(context.Background(), inboxID); err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *Env) write(t testing.TB, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := e.DB.Write(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// Counts is a summary of what the store holds, to check that a refused
// request changed nothing.
type Counts struct {
	Users, Inboxes, Departments, Conversations, Categories, Blocks, Files int
	LastEvent                                                             int64
}

// Count summarises the store: rows of each kind and the newest event
// position (every write of note emits an event), and the stored files.
func (e *Env) Count(t testing.TB) Counts {
	t.Helper()
	ctx := context.Background()
	var c Counts
	must := func(err error) {
		if err != nil {
			t.Helper()
			t.Fatal(err)
		}
	}
	users, err := e.DB.Users(ctx)
	must(err)
	inboxes, err := e.DB.Inboxes(ctx)
	must(err)
	depts, err := e.DB.Departments(ctx)
	must(err)
	convs, err := e.DB.Conversations(ctx, store.ConversationFilter{Limit: 200})
	must(err)
	cats, err := e.DB.Categories(ctx)
	must(err)
	blocks, err := e.DB.Blocks(ctx)
	must(err)
	_, c.LastEvent, err = e.DB.EventBounds(ctx)
	must(err)
	files, err := os.ReadDir(e.FilesDir)
	must(err)
	c.Users, c.Inboxes, c.Departments, c.Conversations, c.Categories, c.Blocks, c.Files =
		len(users), len(inboxes), len(depts), len(convs), len(cats), len(blocks), len(files)
	return c
}
