package web

import (
	"context"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/realtime"
)

// Session cookie and CSRF header names.
const (
	CookieName = "sb_session"
	CSRFHeader = "X-CSRF-Token"
)

// credentials says how a request authenticated.
type credentials struct {
	session *sb.Session // set for cookie sessions
	token   string      // the raw session token, for logout
}

type credentialsKey struct{}

func credentialsOf(r *http.Request) credentials {
	c, _ := r.Context().Value(credentialsKey{}).(credentials)
	return c
}

var (
	errNotSignedIn = sb.Errorf(sb.EUNAUTHORIZED, "Sign in, or send Authorization: Bearer with an API token.")
	errNoVisitor   = sb.Errorf(sb.EUNAUTHORIZED, "Send Authorization: Bearer with your visitor token.")
	errBadAuthz    = sb.Errorf(sb.EUNAUTHORIZED, "The Authorization header must be \"Bearer <token>\".")
	errWrongToken  = sb.Errorf(sb.EUNAUTHORIZED, "This token is not valid for this API.")
	errCrossOrigin = sb.Errorf(sb.EFORBIDDEN, "Cross-origin requests are not allowed here.")
	errMissingCSRF = sb.Errorf(sb.EFORBIDDEN, "The X-CSRF-Token header is missing or wrong; reload the page.")
)

// bearer returns the token of an Authorization: Bearer header.
func bearer(r *http.Request) (token string, present bool, err error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false, nil
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", true, errBadAuthz
	}
	return strings.TrimSpace(tok), true, nil
}

// authStaff authenticates a staff API request: an API token in
// Authorization, or else the session cookie. Cookie-authenticated requests
// that change state must come from our own origin and carry the session's
// CSRF token; bearer requests need neither (browsers never add them on
// their own).
func (s *Server) authStaff(r *http.Request) (*sb.Principal, credentials, error) {
	tok, present, err := bearer(r)
	if err != nil {
		return nil, credentials{}, countFailedToken(r.Context(), s.svc, err)
	}
	if present {
		p, err := s.authAPIToken(r.Context(), tok)
		return p, credentials{}, countFailedToken(r.Context(), s.svc, err)
	}
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return nil, credentials{}, errNotSignedIn
	}
	p, sess, err := s.svc.AuthenticateSession(r.Context(), c.Value)
	if err != nil {
		return nil, credentials{}, err
	}
	if !safeMethod(r.Method) {
		if !s.sameOrigin(r) {
			return nil, credentials{}, errCrossOrigin
		}
		got := r.Header.Get(CSRFHeader)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRFToken)) != 1 {
			return nil, credentials{}, errMissingCSRF
		}
	}
	return p, credentials{session: sess, token: c.Value}, nil
}

// authAPIToken authenticates a staff API request's bearer token.
func (s *Server) authAPIToken(ctx context.Context, tok string) (*sb.Principal, error) {
	if !strings.HasPrefix(tok, app.PrefixAPI) {
		return nil, errWrongToken
	}
	return s.svc.AuthenticateAPIToken(ctx, tok)
}

// authVisitor authenticates a widget API request by its visitor token.
func (s *Server) authVisitor(r *http.Request) (*sb.Principal, error) {
	tok, present, err := bearer(r)
	if !present {
		return nil, errNoVisitor
	}
	if err == nil && !strings.HasPrefix(tok, app.PrefixVisitor) {
		err = errWrongToken
	}
	var p *sb.Principal
	if err == nil {
		p, err = authenticateVisitor(r.Context(), s.svc, tok)
	}
	return p, countFailedToken(r.Context(), s.svc, err)
}

// countFailedToken charges a refused bearer token to the client's address
// (app.Service.CountFailedToken): REST and WebSocket hello alike, so tokens
// are guessed no faster over one than the other.
func countFailedToken(ctx context.Context, svc *app.Service, err error) error {
	if err == nil {
		return nil
	}
	return svc.CountFailedToken(ctx, clientAddr(ctx), err)
}

// authenticateVisitor turns a visitor token into a principal, REST and
// WebSocket alike, and refuses it to a page of another site that an inbox
// of the visitor's conversations does not allow (allowed_origins).
func authenticateVisitor(ctx context.Context, svc *app.Service, token string) (*sb.Principal, error) {
	p, err := svc.AuthenticateVisitor(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := svc.CheckVisitorOrigin(ctx, p, foreignOrigin(ctx)); err != nil {
		return nil, err
	}
	return p, nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin reports whether a browser request comes from our own origin
// (or an allowed one). Requests without Origin and Sec-Fetch-Site are not
// from a browser page, or from one too old to send them; the CSRF token
// still protects those.
func (s *Server) sameOrigin(r *http.Request) bool {
	if origin := r.Header.Get("Origin"); origin != "" {
		return s.originAllowed(r, origin)
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}

func (s *Server) originAllowed(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, allowed := range s.cfg.AllowedOrigins {
		if strings.EqualFold(strings.TrimSuffix(allowed, "/"), origin) {
			return true
		}
	}
	return false
}

// setSessionCookie sends the session cookie: HttpOnly, SameSite=Lax,
// Secure over TLS (or when configured), living as long as the session may.
func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    token,
		Path:     "/",
		MaxAge:   int(s.svc.Config().SessionAbsolute.Seconds()),
		HttpOnly: true,
		Secure:   r.TLS != nil || s.cfg.SecureCookies,
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: r.TLS != nil || s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
}

// sessionBody is the answer to login and GET /me.
type sessionBody struct {
	User      *sb.User `json:"user"`
	CSRFToken string   `json:"csrf_token,omitempty"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, _ *sb.Principal) error {
	if !s.sameOrigin(r) {
		return errCrossOrigin
	}
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	token, csrf, u, err := s.svc.Login(r.Context(), req.Email, req.Password, clientAddr(r.Context()))
	if err != nil {
		return err
	}
	s.setSessionCookie(w, r, token)
	writeJSON(w, http.StatusOK, sessionBody{User: u, CSRFToken: csrf})
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, _ *sb.Principal) error {
	if c := credentialsOf(r); c.session != nil {
		if err := s.svc.Logout(r.Context(), c.token); err != nil {
			return err
		}
		s.clearSessionCookie(w, r)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	u, err := s.svc.Me(r.Context(), p)
	if err != nil {
		return err
	}
	body := sessionBody{User: u}
	if c := credentialsOf(r); c.session != nil {
		body.CSRFToken = c.session.CSRFToken
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (s *Server) updateMe(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	u, err := s.svc.UpdateMe(r.Context(), p, req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	var req struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := s.svc.ChangePassword(r.Context(), p, req.CurrentPassword, req.NewPassword); err != nil {
		return err
	}
	// Every session ended, this one too: the browser signs in again.
	if credentialsOf(r).session != nil {
		s.clearSessionCookie(w, r)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) setPresence(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	var req struct {
		Presence sb.Presence `json:"presence"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	u, err := s.svc.SetPresence(r.Context(), p, req.Presence)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	ts, err := s.svc.APITokens(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, items(ts))
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	raw, t, err := s.svc.CreateAPIToken(r.Context(), p, req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, struct {
		Token    string       `json:"token"`
		APIToken *sb.APIToken `json:"api_token"`
	}{raw, t})
	return nil
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.svc.DeleteAPIToken(r.Context(), p, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Authenticator tells the WebSocket endpoint who a client is, by the same
// rules as the REST API (it implements realtime.Authenticator).
type Authenticator struct{ svc *app.Service }

var _ realtime.Authenticator = Authenticator{}

// NewAuthenticator returns the WebSocket endpoint's authenticator on svc.
func NewAuthenticator(svc *app.Service) Authenticator { return Authenticator{svc: svc} }

// AuthenticateRequest implements realtime.Authenticator: a bearer token in
// Authorization, or else the session cookie. A cookie that no longer names a
// session is ignored rather than refused, so that a page holding both a stale
// cookie and a token (the widget on the demo page) can still say hello with
// its token.
func (a Authenticator) AuthenticateRequest(r *http.Request) (*sb.Principal, bool, error) {
	tok, present, err := bearer(r)
	if err != nil {
		return nil, false, countFailedToken(r.Context(), a.svc, err)
	}
	if present {
		p, err := a.AuthenticateToken(r.Context(), tok)
		return p, false, err
	}
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return nil, false, nil
	}
	p, _, err := a.svc.AuthenticateSession(r.Context(), c.Value)
	if sb.ErrorCode(err) == sb.EUNAUTHORIZED {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	return p, true, nil
}

// AuthenticateToken implements realtime.Authenticator: an API token (sba_…)
// or a visitor token (sbv_…). ctx is the upgrade request's, so a visitor is
// checked against the Origin of the page that opened the WebSocket, as on
// REST. The check is made at hello: an open connection keeps it until it
// reconnects. A refused token counts against the client address's login
// budget, as on REST.
func (a Authenticator) AuthenticateToken(ctx context.Context, token string) (*sb.Principal, error) {
	var p *sb.Principal
	var err error
	switch {
	case strings.HasPrefix(token, app.PrefixAPI):
		p, err = a.svc.AuthenticateAPIToken(ctx, token)
	case strings.HasPrefix(token, app.PrefixVisitor):
		p, err = authenticateVisitor(ctx, a.svc, token)
	default:
		err = sb.Errorf(sb.EUNAUTHORIZED, "The token is not valid.")
	}
	return p, countFailedToken(ctx, a.svc, err)
}
