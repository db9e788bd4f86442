package web

// The agent and supervisor workspace (docs/workspace.md): server-rendered
// html/template pages and fragments, with htmx and a few ES modules in
// ui/static/app. Every write the workspace makes goes through the JSON API
// and the WebSocket, like any other client; the handlers here only read and
// render. Everything a customer controls reaches the page through
// html/template's escaping.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	sb "github.com/switchboard/switchboard"
)

// workspaceUI holds the workspace's templates and static files, parsed and
// hashed once when the program starts.
type workspaceUI struct {
	pages  map[string]*template.Template // page name → its template set
	static map[string]staticFile         // path under ui/static → file
}

// staticFile is an embedded browser file with its validator.
type staticFile struct {
	body []byte
	etag string
	typ  string
}

// workspacePages are the full pages; each is parsed with the shared
// partials of ui/templates/workspace/partials.
var workspacePages = []string{"login", "app", "contact", "board", "agent", "settings"}

// workspace is immutable after start-up; handlers only read it.
var workspace = mustWorkspaceUI()

func mustWorkspaceUI() *workspaceUI {
	w := &workspaceUI{pages: map[string]*template.Template{}, static: map[string]staticFile{}}
	err := fs.WalkDir(assets, "ui/static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(p, "ui/static/")
		if !strings.HasPrefix(rel, "app/") && !strings.HasPrefix(rel, "vendor/") {
			return nil // the widget and others are served by their own routes
		}
		b, err := fs.ReadFile(assets, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		typ := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) {
		case ".js":
			typ = "text/javascript; charset=utf-8"
		case ".css":
			typ = "text/css; charset=utf-8"
		case ".svg":
			typ = "image/svg+xml"
		case ".md", ".LICENSE":
			typ = "text/plain; charset=utf-8"
		}
		if typ == "" {
			typ = "application/octet-stream"
		}
		w.static[rel] = staticFile{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, typ: typ}
		return nil
	})
	if err != nil {
		panic("web: workspace static files: " + err.Error())
	}
	funcs := template.FuncMap{
		"asset":     w.assetURL,
		"format":    formatBody,
		"ago":       agoText,
		"clock":     clockText,
		"iso":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"date":      func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04") },
		"initial":   initial,
		"bytes":     byteSize,
		"capped":    capped,
		"dict":      dict,
		"channel":   channelLabel,
		"icon":      channelIcon,
		"status":    statusLabel,
		"hasID":     hasID,
		"deref":     func(p *int64) int64 { return derefID(p) },
		"hhmm":      minutesText,
		"weekday":   func(d int) string { return time.Weekday(d).String() },
		"joinIDs":   joinIDs,
		"plus":      func(a, b int) int { return a + b },
		"query":     func(v url.Values) template.URL { return template.URL(v.Encode()) },
		"shortcuts": func() []shortcut { return workspaceShortcuts },
		"roles":     func() []sb.Role { return []sb.Role{sb.RoleAgent, sb.RoleSupervisor, sb.RoleAdmin, sb.RoleOwner} },
		"hasInbox":  func(u *sb.User, id int64) bool { return slices.Contains(u.InboxIDs, id) },
		"hasDept":   func(u *sb.User, id int64) bool { return slices.Contains(u.DeptIDs, id) },
		"hasMember": func(d *sb.Department, id int64) bool { return slices.Contains(d.MemberIDs, id) },
	}
	base, err := template.New("").Funcs(funcs).ParseFS(assets, "ui/templates/workspace/partials/*.html")
	if err != nil {
		panic("web: workspace templates: " + err.Error())
	}
	for _, name := range workspacePages {
		t := template.Must(base.Clone())
		if _, err := t.ParseFS(assets, "ui/templates/workspace/"+name+".html"); err != nil {
			panic("web: workspace template " + name + ": " + err.Error())
		}
		w.pages[name] = t
	}
	w.pages["fragments"] = base
	return w
}

// assetURL is the URL of a static file with its content hash, so a new
// build is never served from a stale cache.
func (w *workspaceUI) assetURL(name string) (string, error) {
	f, ok := w.static[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return "/app/static/" + name + "?v=" + strings.Trim(f.etag, `"`), nil
}

// serveWorkspaceStatic serves the workspace's ES modules, styles, icons and
// the vendored htmx. Modules import each other without hashes, so every
// answer is revalidated (ETag), which costs a 304.
func (s *Server) serveWorkspaceStatic(w http.ResponseWriter, r *http.Request, _ *sb.Principal) error {
	f, ok := workspace.static[r.PathValue("file")]
	if !ok {
		return sb.NotFound("File")
	}
	h := w.Header()
	h.Set("Content-Type", f.typ)
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", "no-cache")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.Write(f.body)
	return nil
}

// renderWorkspace executes a template of a page (or "fragments") into a buffer first,
// so that a failing template answers 500 instead of half a page.
func (s *Server) renderWorkspace(w http.ResponseWriter, status int, page, name string, data any) error {
	t, ok := workspace.pages[page]
	if !ok {
		return fmt.Errorf("no page %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("render %s/%s: %w", page, name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Vary", "HX-Request")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
	return nil
}

// authPage authenticates a workspace page by its session cookie. A visitor
// who is not signed in is sent to the login page, and told so, instead of
// getting the API's JSON error. It reports whether the page may go on.
func (s *Server) authPage(w http.ResponseWriter, r *http.Request) (*sb.Principal, credentials, bool, error) {
	p, creds, err := s.authStaff(r)
	if err == nil {
		return p, creds, true, nil
	}
	if sb.ErrorCode(err) != sb.EUNAUTHORIZED {
		return nil, credentials{}, false, err
	}
	next := r.URL.Path
	if r.URL.RawQuery != "" {
		next += "?" + r.URL.RawQuery
	}
	target := "/login?next=" + url.QueryEscape(next)
	if r.Header.Get("HX-Request") != "" {
		// htmx follows this header with a full navigation.
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
		return nil, credentials{}, false, nil
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil, credentials{}, false, nil
}

// safeNext keeps a post-login redirect on this site's workspace.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/app") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/app"
	}
	return next
}

// loginPage serves the sign-in form; signing in itself is POST
// /api/v1/auth/login, called by ui/static/app/login.js.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, _ *sb.Principal) error {
	next := safeNext(r.URL.Query().Get("next"))
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		if _, _, err := s.svc.AuthenticateSession(r.Context(), c.Value); err == nil {
			http.Redirect(w, r, next, http.StatusSeeOther)
			return nil
		}
	}
	return s.renderWorkspace(w, http.StatusOK, "login", "login", struct {
		Title string
		Next  string
	}{"Sign in · Switchboard", next})
}

// pageError answers a failed workspace page with a page, not JSON: the
// same status and the domain's message.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	err = translateError(err)
	code := sb.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if code == sb.EINTERNAL || !ok {
		if r.Context().Err() != nil {
			return
		}
		s.log.Error("page failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	data := struct {
		Title, Message string
		Status         int
	}{"Switchboard", sb.ErrorMessage(err), status}
	if rerr := s.renderWorkspace(w, status, "fragments", "error-page", data); rerr != nil {
		s.log.Error("render error page", "err", rerr)
	}
}
