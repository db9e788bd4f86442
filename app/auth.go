package app

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// maxPasswordBytes bounds what is hashed at login; longer input cannot be a
// valid password (sb.ValidatePassword) and is refused without work.
const maxPasswordBytes = 1024

// Limit is a token bucket: Burst attempts at once, then one more every Every.
type Limit struct {
	Burst int
	Every time.Duration
}

// LoginLimits bound failed login attempts (what guessing passwords takes;
// successful logins from a busy office are not held back). They are kept in
// memory, per node: a cluster of n nodes allows up to n times as many
// attempts, and a restart forgets them.
type LoginLimits struct {
	// PerAccount limits failed logins (and failed password checks) per
	// e-mail address (default 10, then one per minute).
	PerAccount Limit
	// PerAddress limits failed logins per client address, whatever the
	// accounts (default 30, then one every 2 s).
	PerAddress Limit
}

func (c *Config) applyAuthDefaults() {
	if c.SessionIdle <= 0 {
		c.SessionIdle = 12 * time.Hour
	}
	if c.SessionAbsolute <= 0 {
		c.SessionAbsolute = 7 * 24 * time.Hour
	}
	if c.LoginLimits.PerAccount.Burst <= 0 || c.LoginLimits.PerAccount.Every <= 0 {
		c.LoginLimits.PerAccount = Limit{Burst: 10, Every: time.Minute}
	}
	if c.LoginLimits.PerAddress.Burst <= 0 || c.LoginLimits.PerAddress.Every <= 0 {
		c.LoginLimits.PerAddress = Limit{Burst: 30, Every: 2 * time.Second}
	}
}

// Limiter counts attempts per key (an address, an account) in memory with
// one token bucket per key. It is safe for concurrent use.
type Limiter struct {
	limit Limit
	clock sb.Clock

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxLimiterKeys bounds a Limiter's memory: past it, full buckets are
// forgotten, and if that is not enough, all of them.
const maxLimiterKeys = 100_000

// NewLimiter returns a limiter allowing l per key.
func NewLimiter(l Limit, clock sb.Clock) *Limiter {
	if clock == nil {
		clock = sb.SystemClock{}
	}
	return &Limiter{limit: l, clock: clock, buckets: make(map[string]*bucket)}
}

// Allow reports whether key has an attempt left, without using it.
func (l *Limiter) Allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refill(key).tokens >= 1
}

// Take uses one of key's attempts; it reports false, using nothing, when none is left.
func (l *Limiter) Take(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(key)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// refill returns key's bucket topped up for the time passed; called with mu held.
func (l *Limiter) refill(key string) *bucket {
	now := l.clock.Now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxLimiterKeys {
			l.prune(now)
		}
		b = &bucket{tokens: float64(l.limit.Burst), at: now}
		l.buckets[key] = b
		return b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(float64(l.limit.Burst), b.tokens+float64(d)/float64(l.limit.Every))
		b.at = now
	}
	return b
}

func (l *Limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.at))/float64(l.limit.Every) >= float64(l.limit.Burst) {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxLimiterKeys {
		clear(l.buckets)
	}
}

// authState is the Service's authentication state.
type authState struct {
	byAccount *Limiter
	byAddress *Limiter

	dummyOnce sync.Once
	dummy     string // a hash verified when the account does not exist, so both cases take as long

	userChanged atomic.Pointer[func(userID int64)]
}

func newAuthState(cfg Config, clock sb.Clock) *authState {
	return &authState{
		byAccount: NewLimiter(cfg.LoginLimits.PerAccount, clock),
		byAddress: NewLimiter(cfg.LoginLimits.PerAddress, clock),
	}
}

func (a *authState) dummyHash() string {
	a.dummyOnce.Do(func() {
		a.dummy, _ = HashPassword("not a password of anyone")
	})
	return a.dummy
}

// sessionTouchEvery is how stale a session's seen time may get before a
// request records it: the idle timeout is hours, a write per request is not needed.
const sessionTouchEvery = time.Minute

var errBadLogin = sb.Errorf(sb.EUNAUTHORIZED, "Wrong e-mail address or password.")

// Login checks an e-mail and password and starts a browser session. It
// returns the session token (for the cookie; only its hash is stored) and
// the session's CSRF token. Failed attempts are limited per client address
// and per account (LoginLimits); unknown accounts, wrong passwords and
// disabled users get the same answer in about the same time.
func (s *Service) Login(ctx context.Context, email, password, addr string) (token, csrf string, u *sb.User, err error) {
	account := sb.NormalizeEmail(email)
	if !s.auth.byAddress.Allow("addr:" + addr) {
		return "", "", nil, sb.Errorf(sb.ERATELIMIT, "Too many failed logins from your address. Try again in a few minutes.")
	}
	if !s.auth.byAccount.Allow("account:" + account) {
		return "", "", nil, sb.Errorf(sb.ERATELIMIT, "Too many failed logins for this account. Try again in a few minutes.")
	}
	fail := func() (string, string, *sb.User, error) {
		s.auth.byAddress.Take("addr:" + addr)
		s.auth.byAccount.Take("account:" + account)
		return "", "", nil, errBadLogin
	}
	if account == "" || password == "" || len(password) > maxPasswordBytes {
		return fail()
	}
	u, hash, err := s.db.UserByEmail(ctx, account)
	switch {
	case sb.ErrorCode(err) == sb.ENOTFOUND:
		CheckPassword(s.auth.dummyHash(), password)
		return fail()
	case err != nil:
		return "", "", nil, fmt.Errorf("login: %w", err)
	}
	if !CheckPassword(hash, password) || u.Disabled {
		return fail()
	}
	token, csrf, err = s.startSession(ctx, u.ID)
	if err != nil {
		return "", "", nil, err
	}
	return token, csrf, u, nil
}

// startSession stores a new session for a user and returns its tokens.
func (s *Service) startSession(ctx context.Context, userID int64) (token, csrf string, err error) {
	token, hash := NewToken(PrefixSession)
	csrf, _ = NewToken("")
	sess := &sb.Session{UserID: userID, TokenHash: hash, CSRFToken: csrf, ExpiresAt: s.clock.Now().Add(s.cfg.SessionAbsolute)}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.CreateSession(sess) }); err != nil {
		return "", "", fmt.Errorf("create session: %w", err)
	}
	return token, csrf, nil
}

var errNoSession = sb.Errorf(sb.EUNAUTHORIZED, "You are not signed in, or your session has ended. Sign in again.")

// AuthenticateSession turns a session token into the caller's principal,
// built from the user's current row (role, inboxes, disabled), so changes
// take effect on the next request. It also returns the session, whose CSRF
// token state-changing requests must carry.
func (s *Service) AuthenticateSession(ctx context.Context, token string) (*sb.Principal, *sb.Session, error) {
	if !wellFormed(token, PrefixSession) {
		return nil, nil, errNoSession
	}
	sess, err := s.db.SessionByHash(ctx, HashToken(token))
	if sb.ErrorCode(err) == sb.ENOTFOUND {
		return nil, nil, errNoSession
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read session: %w", err)
	}
	now := s.clock.Now()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.SeenAt) >= s.cfg.SessionIdle {
		if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteSession(sess.ID) }); err != nil {
			s.log.Warn("delete expired session", "err", err)
		}
		return nil, nil, errNoSession
	}
	p, err := s.principalOf(ctx, sess.UserID)
	if err != nil {
		return nil, nil, err
	}
	if now.Sub(sess.SeenAt) >= sessionTouchEvery {
		if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.TouchSession(sess.ID) }); err != nil {
			return nil, nil, fmt.Errorf("touch session: %w", err)
		}
		sess.SeenAt = now
	}
	return p, sess, nil
}

// Logout ends the session of a token; an unknown token is not an error.
func (s *Service) Logout(ctx context.Context, token string) error {
	if !wellFormed(token, PrefixSession) {
		return nil
	}
	sess, err := s.db.SessionByHash(ctx, HashToken(token))
	if sb.ErrorCode(err) == sb.ENOTFOUND {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read session: %w", err)
	}
	return s.db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteSession(sess.ID) })
}

var errBadToken = sb.Errorf(sb.EUNAUTHORIZED, "The API token is not valid.")

// AuthenticateAPIToken turns an API token (sba_…) into its user's principal,
// built from the user's current row.
func (s *Service) AuthenticateAPIToken(ctx context.Context, token string) (*sb.Principal, error) {
	if !wellFormed(token, PrefixAPI) {
		return nil, errBadToken
	}
	t, err := s.db.APITokenByHash(ctx, HashToken(token))
	if sb.ErrorCode(err) == sb.ENOTFOUND {
		return nil, errBadToken
	}
	if err != nil {
		return nil, fmt.Errorf("read api token: %w", err)
	}
	return s.principalOf(ctx, t.UserID)
}

// principalOf builds the principal of a user from their current row; a
// disabled or deleted user is unauthorized.
func (s *Service) principalOf(ctx context.Context, userID int64) (*sb.Principal, error) {
	u, err := s.db.User(ctx, userID)
	if sb.ErrorCode(err) == sb.ENOTFOUND {
		return nil, errNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("read user: %w", err)
	}
	if u.Disabled {
		return nil, sb.Errorf(sb.EUNAUTHORIZED, "Your account is disabled.")
	}
	return &sb.Principal{UserID: u.ID, Name: u.Name, Role: u.Role, Operator: u.Operator, InboxIDs: u.InboxIDs}, nil
}

// APITokens lists the caller's own API tokens (never their values).
func (s *Service) APITokens(ctx context.Context, p *sb.Principal) ([]sb.APIToken, error) {
	if !p.IsStaff() {
		return nil, sb.Errorf(sb.EFORBIDDEN, "Only staff hold API tokens.")
	}
	return s.db.APITokens(ctx, p.UserID)
}

// maxAPITokens is how many API tokens one user may hold.
const maxAPITokens = 50

// CreateAPIToken issues an API token acting as the caller. The token is
// returned once; only its hash is kept.
func (s *Service) CreateAPIToken(ctx context.Context, p *sb.Principal, name string) (string, *sb.APIToken, error) {
	if !p.IsStaff() {
		return "", nil, sb.Errorf(sb.EFORBIDDEN, "Only staff hold API tokens.")
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", nil, sb.Errorf(sb.EINVALID, "Token name must be 1 to 100 characters.")
	}
	have, err := s.db.APITokens(ctx, p.UserID)
	if err != nil {
		return "", nil, err
	}
	if len(have) >= maxAPITokens {
		return "", nil, sb.Errorf(sb.ECONFLICT, "You already hold %d API tokens; revoke one first.", maxAPITokens)
	}
	raw, hash := NewToken(PrefixAPI)
	t := &sb.APIToken{UserID: p.UserID, Name: name, TokenHash: hash}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.CreateAPIToken(t) }); err != nil {
		return "", nil, err
	}
	return raw, t, nil
}

// DeleteAPIToken revokes one of the caller's tokens. WebSockets the token
// opened are closed (all of the user's: they reconnect with what is still valid).
func (s *Service) DeleteAPIToken(ctx context.Context, p *sb.Principal, id int64) error {
	if !p.IsStaff() {
		return sb.Errorf(sb.EFORBIDDEN, "Only staff hold API tokens.")
	}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteAPIToken(p.UserID, id) }); err != nil {
		return err
	}
	s.userChanged(p.UserID)
	return nil
}

// SetUserChangeHook sets f to be called after a user's access changed (role,
// inboxes, disabled, password, revoked tokens): main closes that user's open
// WebSockets with it (realtime.Hub.DisconnectUser), so the change takes
// effect at once there too.
func (s *Service) SetUserChangeHook(f func(userID int64)) {
	if f == nil {
		s.auth.userChanged.Store(nil)
		return
	}
	s.auth.userChanged.Store(&f)
}

func (s *Service) userChanged(userID int64) {
	if f := s.auth.userChanged.Load(); f != nil {
		(*f)(userID)
	}
}
