package app

import (
	"context"
	"errors"
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

// LoginLimits bound failed login attempts (what guessing passwords takes;
// successful logins from a busy office are not held back). On PostgreSQL
// they are kept in the database, one budget for every node that survives
// restarts; on SQLite (one node) in memory (NewRateLimiter).
type LoginLimits struct {
	// PerAccount limits failed logins (and failed password checks) per
	// e-mail address (default 10, then one per minute).
	PerAccount Limit
	// PerAddress limits failed logins, and failed API and visitor token
	// checks (CountFailedToken), per client address (an IPv6 client's /64,
	// AddressKey), whatever the accounts (default 30, then one every 2 s).
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

// authState is the Service's authentication state.
type authState struct {
	byAccount RateLimiter // keyed "account:" + normalised e-mail
	byAddress RateLimiter // keyed "addr:" + client address key (AddressKey)

	dummyOnce sync.Once
	dummy     string // a hash verified when the account does not exist, so both cases take as long

	userChanged atomic.Pointer[func(userID int64)]
}

func newAuthState(s *Service) *authState {
	return &authState{
		byAccount: s.NewRateLimiter("login-account", s.cfg.LoginLimits.PerAccount),
		byAddress: s.NewRateLimiter("login-address", s.cfg.LoginLimits.PerAddress),
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

var (
	errAddressLimited = sb.Errorf(sb.ERATELIMIT, "Too many failed logins from your address. Try again in a few minutes.")
	errAccountLimited = sb.Errorf(sb.ERATELIMIT, "Too many failed logins for this account. Try again in a few minutes.")
)

// Login checks an e-mail and password and starts a browser session. It
// returns the session token (for the cookie; only its hash is stored) and
// the session's CSRF token. Failed attempts are limited per client address
// and per account (LoginLimits); unknown accounts, wrong passwords and
// disabled users get the same answer in about the same time. addr is the
// client's address as per-address limits count it (AddressKey).
//
// Each attempt takes from both budgets before the password is checked and
// gives back on success: a check takes a while, and attempts in flight at
// once, on any node, must not all pass a limit that only the last of them
// would reach. An attempt refused by a limit checks no password.
func (s *Service) Login(ctx context.Context, email, password, addr string) (token, csrf string, u *sb.User, err error) {
	account := sb.NormalizeEmail(email)
	addrKey, accountKey := "addr:"+addr, "account:"+account
	// Reads first: an exhausted budget is turned away without a write.
	if err := allow(ctx, s.auth.byAddress, addrKey, errAddressLimited); err != nil {
		return "", "", nil, err
	}
	if err := allow(ctx, s.auth.byAccount, accountKey, errAccountLimited); err != nil {
		return "", "", nil, err
	}
	if err := take(ctx, s.auth.byAddress, addrKey, errAddressLimited); err != nil {
		return "", "", nil, err
	}
	if err := take(ctx, s.auth.byAccount, accountKey, errAccountLimited); err != nil {
		// Not attempted: the address gets its attempt back.
		s.refundLogin(ctx, addrKey, "")
		return "", "", nil, err
	}
	// From here the attempt is paid for; what does not count is refunded.
	refund := func(err error) (string, string, *sb.User, error) {
		s.refundLogin(ctx, addrKey, accountKey)
		return "", "", nil, err
	}
	if account == "" || password == "" || len(password) > maxPasswordBytes {
		return "", "", nil, errBadLogin
	}
	u, hash, err := s.db.UserByEmail(ctx, account)
	switch {
	case sb.ErrorCode(err) == sb.ENOTFOUND:
		CheckPassword(s.auth.dummyHash(), password)
		return "", "", nil, errBadLogin
	case err != nil:
		return refund(fmt.Errorf("login: %w", err))
	}
	if !CheckPassword(hash, password) || u.Disabled {
		return "", "", nil, errBadLogin
	}
	token, csrf, err = s.startSession(ctx, u.ID)
	if err != nil {
		return refund(err)
	}
	s.refundLogin(ctx, addrKey, accountKey)
	return token, csrf, u, nil
}

// refundLogin gives back the attempt Login took from the address's budget
// and, unless accountKey is "", the account's. A failure is logged, not
// returned: a budget one attempt short is no reason to fail what it was for
// (a session that exists, a limit error).
func (s *Service) refundLogin(ctx context.Context, addrKey, accountKey string) {
	ctx = context.WithoutCancel(ctx) // a client gone meanwhile still gets it back
	err := s.auth.byAddress.Refund(ctx, addrKey)
	if accountKey != "" {
		err = errors.Join(err, s.auth.byAccount.Refund(ctx, accountKey))
	}
	if err != nil {
		s.log.Warn("refund login attempt", "err", err)
	}
}

// allow returns limited when l has no attempt left for key.
func allow(ctx context.Context, l RateLimiter, key string, limited error) error {
	ok, err := l.Allow(ctx, key)
	if err != nil {
		return fmt.Errorf("check rate limit: %w", err)
	}
	if !ok {
		return limited
	}
	return nil
}

// take takes one of key's attempts from l, or returns limited when none is left.
func take(ctx context.Context, l RateLimiter, key string, limited error) error {
	ok, err := l.Take(ctx, key)
	if err != nil {
		return fmt.Errorf("count login attempt: %w", err)
	}
	if !ok {
		return limited
	}
	return nil
}

var errTokensLimited = sb.Errorf(sb.ERATELIMIT, "Too many failed authentications from your address. Try again in a few minutes.")

// CountFailedToken charges a failed bearer token authentication (err, from
// AuthenticateAPIToken, AuthenticateVisitor or a refused token of the wrong
// kind) to the client address's login budget (LoginLimits.PerAddress; addr
// as AddressKey makes it), so
// guessing tokens over REST or a WebSocket hello draws on the same budget
// as guessing passwords. It returns err, or a rate-limit error once the
// address has nothing left. Only unauthorized errors count: a nil err (a
// token that worked) and other refusals (an origin an inbox does not allow)
// pass through untouched and cost nothing.
//
// Unlike a login, a token is checked before its address's budget: tokens
// carry 256 random bits, so the budget is not what stops guessing; it bounds
// the failed lookups one address can cause, and a real token keeps working
// from an address that a neighbour behind the same NAT has used up.
func (s *Service) CountFailedToken(ctx context.Context, addr string, err error) error {
	if sb.ErrorCode(err) != sb.EUNAUTHORIZED {
		return err
	}
	ok, terr := s.auth.byAddress.Take(ctx, "addr:"+addr)
	switch {
	case terr != nil:
		return fmt.Errorf("count failed token: %w", terr)
	case !ok:
		return errTokensLimited
	}
	return err
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
