package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/web/webtest"
)

// rawRequest is a request built byte by byte, as an attacker or a broken client sends it.
type rawRequest struct {
	method, path string
	ctype        string
	body         []byte
	header       map[string]string
}

// send makes the request and returns the status and the decoded error body.
func send(t *testing.T, env *webtest.Env, r rawRequest) (int, string) {
	t.Helper()
	req, err := http.NewRequest(r.method, env.URL+r.path, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	res, err := env.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode < 400 {
		return res.StatusCode, ""
	}
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: error answered as %q, want JSON", r.method, r.path, ct)
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("%s %s: error body %q is not {\"error\":{\"code\",\"message\"}}", r.method, r.path, b)
	}
	return res.StatusCode, e.Error.Code
}

func multipartFile(t *testing.T, name string, content []byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	part.Write(content)
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// elfHeader starts a Linux executable.
var elfHeader = []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00\x01\x00\x00\x00")

// TestBadInputChangesNothing sends malformed, oversized, wrongly typed and
// unknown-field bodies, disallowed and disguised files and forged
// credentials: each gets a 4xx JSON error, and nothing is stored or changed.
func TestBadInputChangesNothing(t *testing.T) {
	const uploadLimit = 4 << 10
	env := webtest.New(t, webtest.Options{App: app.Config{MaxUploadBytes: uploadLimit}})
	ctx := context.Background()
	inbox := env.Inbox(t, "Sales")
	agentUser := env.User(t, sb.RoleAgent, true, inbox.ID)
	adminUser := env.User(t, sb.RoleAdmin, false)
	agentToken, _ := env.Token(t, agentUser)
	adminToken, _ := env.Token(t, adminUser)
	customer := env.VisitorClient(t, inbox.ID)
	conv, _, _, err := customer.StartConversation(ctx, inbox.ID, "Hello", "")
	if err != nil {
		t.Fatal(err)
	}
	agent := env.TokenClient(t, agentUser)
	if _, err := agent.Take(ctx, conv.ID); err != nil {
		t.Fatal(err)
	}
	staff := map[string]string{"Authorization": "Bearer " + agentToken}
	adminAuth := map[string]string{"Authorization": "Bearer " + adminToken}
	visitorAuth := map[string]string{"Authorization": "Bearer " + customer.Token()}
	msgs := fmt.Sprintf("/api/v1/conversations/%d/messages", conv.ID)
	widgetMsgs := fmt.Sprintf("/api/v1/widget/conversations/%d/messages", conv.ID)
	uploads := fmt.Sprintf("/api/v1/conversations/%d/attachments", conv.ID)
	widgetUploads := fmt.Sprintf("/api/v1/widget/conversations/%d/attachments", conv.ID)
	const js = "application/json"
	big := []byte(`{"body":"` + strings.Repeat("a", 1<<20) + `"}`)

	upload := func(name string, content []byte) (string, []byte) { return multipartFile(t, name, content) }
	exeType, exeBody := upload("tool.exe", []byte("MZ\x90\x00 not really a program"))
	pngType, pngBody := upload("photo.png", append(append([]byte{}, elfHeader...), make([]byte, 64)...))
	bigType, bigBody := upload("notes.txt", bytes.Repeat([]byte("a"), uploadLimit+1))
	hugeType, hugeBody := upload("notes.txt", bytes.Repeat([]byte("a"), 200<<10))
	forgedAPI, _ := app.NewToken(app.PrefixAPI)
	forgedVisitor, _ := app.NewToken(app.PrefixVisitor)
	forgedSession, _ := app.NewToken(app.PrefixSession)

	cases := []struct {
		name       string
		req        rawRequest
		wantStatus int
		wantCode   string
	}{
		{"malformed JSON", rawRequest{"POST", msgs, js, []byte(`{"body": "hi"`), staff}, 400, sb.EINVALID},
		{"not JSON at all", rawRequest{"POST", msgs, js, []byte(`body=hi`), staff}, 400, sb.EINVALID},
		{"empty body", rawRequest{"POST", msgs, js, nil, staff}, 400, sb.EINVALID},
		{"unknown field", rawRequest{"POST", msgs, js, []byte(`{"body":"hi","sender":"bot"}`), staff}, 400, sb.EINVALID},
		{"wrong type", rawRequest{"POST", msgs, js, []byte(`{"body":42}`), staff}, 400, sb.EINVALID},
		{"array instead of object", rawRequest{"POST", msgs, js, []byte(`["hi"]`), staff}, 400, sb.EINVALID},
		{"two JSON values", rawRequest{"POST", msgs, js, []byte(`{"body":"a"}{"body":"b"}`), staff}, 400, sb.EINVALID},
		{"unknown thread", rawRequest{"POST", msgs, js, []byte(`{"body":"hi","thread":"secret"}`), staff}, 400, sb.EINVALID},
		{"bad client id", rawRequest{"POST", msgs, js, []byte(`{"body":"hi","client_id":"<script>"}`), staff}, 400, sb.EINVALID},
		{"empty message", rawRequest{"POST", msgs, js, []byte(`{"body":"   "}`), staff}, 400, sb.EINVALID},
		{"form content type", rawRequest{"POST", msgs, "application/x-www-form-urlencoded", []byte(`body=hi`), staff}, 415, sb.EUNSUPPORTED},
		{"no content type", rawRequest{"POST", msgs, "", []byte(`{"body":"hi"}`), staff}, 415, sb.EUNSUPPORTED},
		{"oversize body", rawRequest{"POST", msgs, js, big, staff}, 413, sb.ETOOLARGE},
		{"visitor picks a thread", rawRequest{"POST", widgetMsgs, js, []byte(`{"body":"hi","thread":"internal"}`), visitorAuth}, 400, sb.EINVALID},
		{"visitor sets their id", rawRequest{"PATCH", "/api/v1/widget/me", js, []byte(`{"name":"x","contact_id":1}`), visitorAuth}, 400, sb.EINVALID},
		{"mass assignment of role", rawRequest{"PATCH", "/api/v1/me", js, []byte(`{"name":"Agent","role":"owner"}`), staff}, 400, sb.EINVALID},
		{"mass assignment of inboxes", rawRequest{"PATCH", "/api/v1/me", js, []byte(`{"inbox_ids":[1,2,3]}`), staff}, 400, sb.EINVALID},
		{"user with wrong types", rawRequest{"POST", "/api/v1/users", js, []byte(`{"email":"x@example.com","name":"X","role":"agent","password":1234567890}`), adminAuth}, 400, sb.EINVALID},
		{"user with unknown role", rawRequest{"POST", "/api/v1/users", js, []byte(`{"email":"x@example.com","name":"X","role":"god","password":"long enough password"}`), adminAuth}, 400, sb.EINVALID},
		{"inbox with unknown setting", rawRequest{"POST", "/api/v1/inboxes", js, []byte(`{"name":"X","settings":{"admin":true}}`), adminAuth}, 400, sb.EINVALID},
		{"inbox with wrong setting type", rawRequest{"PATCH", fmt.Sprintf("/api/v1/inboxes/%d", inbox.ID), js, []byte(`{"settings":{"chat_limit":"lots"}}`), adminAuth}, 400, sb.EINVALID},
		{"inbox with an origin that is a URL", rawRequest{"POST", "/api/v1/inboxes", js, []byte(`{"name":"X","settings":{"allowed_origins":["https://shop.example/support"]}}`), adminAuth}, 400, sb.EINVALID},
		{"inbox with an origin without a scheme", rawRequest{"PATCH", fmt.Sprintf("/api/v1/inboxes/%d", inbox.ID), js, []byte(`{"settings":{"allowed_origins":["shop.example"]}}`), adminAuth}, 400, sb.EINVALID},
		{"bad path id", rawRequest{"GET", "/api/v1/conversations/abc", "", nil, staff}, 400, sb.EINVALID},
		{"bad limit", rawRequest{"GET", "/api/v1/conversations?limit=lots", "", nil, staff}, 400, sb.EINVALID},
		{"bad status filter", rawRequest{"GET", "/api/v1/conversations?status=deleted", "", nil, staff}, 400, sb.EINVALID},
		{"bad thread", rawRequest{"GET", msgs + "?thread=secret", "", nil, staff}, 400, sb.EINVALID},

		{"oversize upload", rawRequest{"POST", uploads, bigType, bigBody, staff}, 413, sb.ETOOLARGE},
		{"oversize upload refused by length", rawRequest{"POST", widgetUploads, hugeType, hugeBody, visitorAuth}, 413, sb.ETOOLARGE},
		{"disallowed file type", rawRequest{"POST", widgetUploads, exeType, exeBody, visitorAuth}, 415, sb.EUNSUPPORTED},
		{"disguised file type", rawRequest{"POST", uploads, pngType, pngBody, staff}, 415, sb.EUNSUPPORTED},
		{"upload without a file", rawRequest{"POST", uploads, "multipart/form-data; boundary=x", []byte("--x--\r\n"), staff}, 400, sb.EINVALID},
		{"upload not multipart", rawRequest{"POST", uploads, js, []byte(`{}`), staff}, 415, sb.EUNSUPPORTED},

		{"forged API token", rawRequest{"POST", msgs, js, []byte(`{"body":"hi"}`), map[string]string{"Authorization": "Bearer " + forgedAPI}}, 401, sb.EUNAUTHORIZED},
		{"garbage API token", rawRequest{"GET", "/api/v1/me", "", nil, map[string]string{"Authorization": "Bearer sba_garbage"}}, 401, sb.EUNAUTHORIZED},
		{"not a bearer header", rawRequest{"GET", "/api/v1/me", "", nil, map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4="}}, 401, sb.EUNAUTHORIZED},
		{"visitor token on the staff API", rawRequest{"GET", "/api/v1/conversations", "", nil, visitorAuth}, 401, sb.EUNAUTHORIZED},
		{"API token on the widget API", rawRequest{"GET", "/api/v1/widget/conversations", "", nil, staff}, 401, sb.EUNAUTHORIZED},
		{"forged visitor token", rawRequest{"POST", widgetMsgs, js, []byte(`{"body":"hi"}`), map[string]string{"Authorization": "Bearer " + forgedVisitor}}, 401, sb.EUNAUTHORIZED},
		{"garbage visitor token", rawRequest{"GET", "/api/v1/widget/conversations", "", nil, map[string]string{"Authorization": "Bearer sbv_" + strings.Repeat("A", 43)}}, 401, sb.EUNAUTHORIZED},
		{"forged session cookie", rawRequest{"POST", msgs, js, []byte(`{"body":"hi"}`), map[string]string{"Cookie": "sb_session=" + forgedSession}}, 401, sb.EUNAUTHORIZED},
		{"garbage session cookie", rawRequest{"GET", "/api/v1/me", "", nil, map[string]string{"Cookie": "sb_session=nonsense"}}, 401, sb.EUNAUTHORIZED},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := env.Count(t)
			msgsBefore, err := env.DB.Messages(ctx, conv.ID, sb.ThreadPublic, 0, 500)
			if err != nil {
				t.Fatal(err)
			}
			status, code := send(t, env, tc.req)
			if status != tc.wantStatus || code != tc.wantCode {
				t.Errorf("got %d %s, want %d %s", status, code, tc.wantStatus, tc.wantCode)
			}
			if after := env.Count(t); after != before {
				t.Errorf("the store changed: %+v, was %+v", after, before)
			}
			msgsAfter, err := env.DB.Messages(ctx, conv.ID, sb.ThreadPublic, 0, 500)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgsAfter) != len(msgsBefore) {
				t.Errorf("messages went from %d to %d", len(msgsBefore), len(msgsAfter))
			}
		})
	}

	t.Run("the caller's role and inboxes are unchanged", func(t *testing.T) {
		u, err := env.DB.User(ctx, agentUser.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Role != sb.RoleAgent || len(u.InboxIDs) != 1 || u.Name != agentUser.Name {
			t.Errorf("agent is now %+v", u)
		}
	})
}
