// Package app holds Switchboard's operations as the API offers them: each
// method takes the calling Principal, authorises it with the domain's rules,
// validates input and runs one store transaction. REST handlers and the
// WebSocket both call these methods, so both paths check exactly the same.
package app

import (
	"log/slog"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/attachment"
	"github.com/switchboard/switchboard/store"
)

// Ephemeral delivers an event that is not stored (typing indicators).
type Ephemeral interface {
	Ephemeral(e sb.Event)
}

// Config holds the service's settings, with defaults applied by New.
type Config struct {
	// MaxUploadBytes is the attachment size limit (default 25 MB).
	MaxUploadBytes int64
	// Files keeps uploaded attachments; uploads are refused without it.
	Files *attachment.Store
	// SessionIdle ends a browser session unused for this long (default 12 h).
	SessionIdle time.Duration
	// SessionAbsolute ends every browser session this long after login (default 7 days).
	SessionAbsolute time.Duration
	// LoginLimits bound login attempts per account and per client address
	// (see auth.go), shared by every node on PostgreSQL (see limits.go).
	LoginLimits LoginLimits
}

// Service is the application layer over the store.
type Service struct {
	db    *store.DB
	live  Ephemeral
	clock sb.Clock
	log   *slog.Logger
	cfg   Config
	auth  *authState // sessions, login limits and the user-change hook (auth.go)
}

// New returns a service. live may be nil (no typing indicators).
func New(db *store.DB, live Ephemeral, clock sb.Clock, log *slog.Logger, cfg Config) *Service {
	if cfg.MaxUploadBytes == 0 {
		cfg.MaxUploadBytes = 25 << 20
	}
	if clock == nil {
		clock = sb.SystemClock{}
	}
	if log == nil {
		log = slog.Default()
	}
	cfg.applyAuthDefaults()
	s := &Service{db: db, live: live, clock: clock, log: log, cfg: cfg}
	s.auth = newAuthState(s)
	return s
}

// DB returns the store, for reads that need no authorisation beyond what the caller did.
func (s *Service) DB() *store.DB { return s.db }

// Config returns the service's settings.
func (s *Service) Config() Config { return s.cfg }
