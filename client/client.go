// Package client is a Go client of Switchboard's public API: the staff REST
// API (with an API token or a browser-style session login), the widget's
// visitor API, and the realtime WebSocket protocol (docs/protocol.md). The
// tests and the load generator use it; so can integrations.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"

	sb "github.com/switchboard/switchboard"
)

// Client talks to one Switchboard server as one caller: a staff member (by
// API token or session), a widget visitor (by visitor token) or nobody.
// It is safe for concurrent use.
type Client struct {
	base *url.URL
	hc   *http.Client

	mu    sync.Mutex
	token string // bearer token: sba_… or sbv_…
	csrf  string // the session's CSRF token after Login
}

// Option configures a Client.
type Option func(*Client)

// WithToken makes the client send an API token (sba_…) or visitor token (sbv_…).
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient sets the HTTP client used (its Jar, if any, keeps the session cookie).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// New returns a client of the server at baseURL (e.g. "http://localhost:8080").
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q must be http(s)://host[:port]", baseURL)
	}
	c := &Client{base: u}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	return c, nil
}

// SetToken replaces the bearer token; "" sends none (a session cookie, if any, is used instead).
func (c *Client) SetToken(token string) {
	c.mu.Lock()
	c.token = token
	c.mu.Unlock()
}

// Token returns the bearer token the client sends.
func (c *Client) Token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// CSRFToken returns the session's CSRF token after Login.
func (c *Client) CSRFToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.csrf
}

// BaseURL returns the server's base URL.
func (c *Client) BaseURL() string { return c.base.String() }

// Error is an error answer of the API. It unwraps to the domain error, so
// switchboard.ErrorCode works on it.
type Error struct {
	Status  int
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("switchboard api: %d %s: %s", e.Status, e.Code, e.Message)
}

// Unwrap returns the error as the domain's *switchboard.Error.
func (e *Error) Unwrap() error { return &sb.Error{Code: e.Code, Message: e.Message} }

// StatusOf returns the HTTP status of an API error, or 0 for other errors.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Do sends a request with a JSON body (nil for none) and decodes a JSON
// answer into out (nil to discard it). It returns the HTTP status; error
// answers come back as *Error.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) (int, error) {
	var r io.Reader
	ctype := ""
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("client: encode request: %w", err)
		}
		r, ctype = bytes.NewReader(b), "application/json"
	}
	return c.DoRaw(ctx, method, path, ctype, r, out)
}

// DoRaw is Do with a body already encoded as ctype.
func (c *Client) DoRaw(ctx context.Context, method, path, ctype string, body io.Reader, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return 0, fmt.Errorf("client: %w", err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	c.authorize(req)
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 400 {
		return res.StatusCode, decodeError(res)
	}
	if out == nil || res.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode, nil
	}
	if w, ok := out.(io.Writer); ok {
		_, err = io.Copy(w, res.Body)
		return res.StatusCode, err
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return res.StatusCode, fmt.Errorf("client: %s %s: decode answer: %w", method, path, err)
	}
	return res.StatusCode, nil
}

// authorize adds the bearer token, or, for a session, the CSRF token and
// our own Origin (as a browser would).
func (c *Client) authorize(req *http.Request) {
	c.mu.Lock()
	token, csrf := c.token, c.csrf
	c.mu.Unlock()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
		return
	}
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
		req.Header.Set("Origin", c.origin())
	}
}

func (c *Client) origin() string { return c.base.Scheme + "://" + c.base.Host }

func decodeError(res *http.Response) error {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if json.Unmarshal(b, &body) != nil || body.Error.Code == "" {
		return &Error{Status: res.StatusCode, Code: codeOfStatus(res.StatusCode), Message: strings.TrimSpace(string(b))}
	}
	return &Error{Status: res.StatusCode, Code: body.Error.Code, Message: body.Error.Message}
}

// codeOfStatus guesses the code of an error answer that was not JSON (from a proxy, say).
func codeOfStatus(status int) string {
	switch status {
	case 400:
		return sb.EINVALID
	case 401:
		return sb.EUNAUTHORIZED
	case 403:
		return sb.EFORBIDDEN
	case 404:
		return sb.ENOTFOUND
	case 409:
		return sb.ECONFLICT
	case 413:
		return sb.ETOOLARGE
	case 415:
		return sb.EUNSUPPORTED
	case 429:
		return sb.ERATELIMIT
	case 503:
		return sb.EUNAVAILABLE
	}
	return sb.EINTERNAL
}

// List is the shape of every list answer.
type List[T any] struct {
	Items []T `json:"items"`
}

// Login signs in with e-mail and password like a browser: the session
// cookie goes into the client's cookie jar (one is created if needed) and
// later requests carry the CSRF token. Any bearer token is dropped. Call it
// before sharing the client between goroutines.
func (c *Client) Login(ctx context.Context, email, password string) (*sb.User, error) {
	if c.hc.Jar == nil {
		jar, _ := cookiejar.New(nil)
		hc := *c.hc
		hc.Jar = jar
		c.hc = &hc
	}
	c.mu.Lock()
	c.token, c.csrf = "", ""
	c.mu.Unlock()
	var out struct {
		User      *sb.User `json:"user"`
		CSRFToken string   `json:"csrf_token"`
	}
	if _, err := c.Do(ctx, "POST", "/api/v1/auth/login", map[string]string{"email": email, "password": password}, &out); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.csrf = out.CSRFToken
	c.mu.Unlock()
	return out.User, nil
}

// Logout ends the session.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.Do(ctx, "POST", "/api/v1/auth/logout", nil, nil)
	c.mu.Lock()
	c.csrf = ""
	c.mu.Unlock()
	return err
}

// SessionCookie returns the session cookie the client holds, if any.
func (c *Client) SessionCookie() *http.Cookie {
	if c.hc.Jar == nil {
		return nil
	}
	for _, ck := range c.hc.Jar.Cookies(c.base) {
		if ck.Name == "sb_session" {
			return ck
		}
	}
	return nil
}

// upload sends one file as multipart/form-data with a client id, streaming it.
func (c *Client) upload(ctx context.Context, path string, file io.Reader, fileName, clientID string, out any) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			if clientID != "" {
				if err := mw.WriteField("client_id", clientID); err != nil {
					return err
				}
			}
			part, err := mw.CreateFormFile("file", fileName)
			if err != nil {
				return err
			}
			if _, err := io.Copy(part, file); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	_, err := c.DoRaw(ctx, "POST", path, mw.FormDataContentType(), pr, out)
	pr.Close()
	return err
}

// Upload is the answer to a file upload.
type Upload struct {
	Message    *sb.Message    `json:"message"`
	Attachment *sb.Attachment `json:"attachment"`
}
