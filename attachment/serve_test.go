package attachment

import (
	"bytes"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var modTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func serve(t *testing.T, req *http.Request, body []byte, name, contentType string) *http.Response {
	t.Helper()
	if req == nil {
		req = httptest.NewRequest(http.MethodGet, "/files/x", nil)
	}
	rec := httptest.NewRecorder()
	Serve(rec, req, bytes.NewReader(body), name, contentType, int64(len(body)), modTime)
	return rec.Result()
}

// disposition parses Content-Disposition the way a browser would.
func disposition(t *testing.T, resp *http.Response) (kind, filename string) {
	t.Helper()
	v := resp.Header.Get("Content-Disposition")
	kind, params, err := mime.ParseMediaType(v)
	if err != nil {
		t.Fatalf("Content-Disposition %q: %v", v, err)
	}
	return kind, params["filename"]
}

func TestServeHeaders(t *testing.T) {
	all := samples(t)
	tests := []struct {
		what, name, contentType string
		body                    []byte
		wantType, wantKind      string
	}{
		{"png inline", "cat.png", "image/png", all["png"], "image/png", "inline"},
		{"jpeg inline", "cat.jpg", "image/jpeg", all["jpg"], "image/jpeg", "inline"},
		{"gif inline", "cat.gif", "image/gif", all["gif"], "image/gif", "inline"},
		{"bmp inline", "cat.bmp", "image/bmp", all["bmp"], "image/bmp", "inline"},
		{"svg attachment", "logo.svg", "image/svg+xml", all["svg"], "image/svg+xml; charset=utf-8", "attachment"},
		{"html-looking txt", "page.txt", "text/plain; charset=utf-8", htmlScript, "text/plain; charset=utf-8", "attachment"},
		{"csv", "a.csv", "text/csv", all["csv"], "text/csv; charset=utf-8", "attachment"},
		{"json", "a.json", "application/json", all["json"], "application/json; charset=utf-8", "attachment"},
		{"pdf", "a.pdf", "application/pdf", all["pdf"], "application/pdf", "attachment"},
		{"tiff not inline", "a.tif", "image/tiff", all["tif"], "image/tiff", "attachment"},
		{"zip", "a.zip", "application/zip", all["zip"], "application/zip", "attachment"},
		// Types Check never produces are not trusted.
		{"html record", "page.html", "text/html", htmlScript, "text/plain; charset=utf-8", "attachment"},
		{"xhtml record", "page.xhtml", "application/xhtml+xml", htmlScript, "application/octet-stream", "attachment"},
		{"garbage type", "x.bin", "not a type", []byte("x"), "application/octet-stream", "attachment"},
		{"empty type", "x.bin", "", []byte("x"), "application/octet-stream", "attachment"},
	}
	for _, tt := range tests {
		t.Run(tt.what, func(t *testing.T) {
			resp := serve(t, nil, tt.body, tt.name, tt.contentType)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			for h, want := range map[string]string{
				"Content-Type":            tt.wantType,
				"X-Content-Type-Options":  "nosniff",
				"Content-Security-Policy": "default-src 'none'; sandbox",
				"Cache-Control":           CacheControl,
			} {
				if got := resp.Header.Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if !strings.HasPrefix(CacheControl, "private, max-age=") {
				t.Errorf("Cache-Control %q is not private", CacheControl)
			}
			kind, filename := disposition(t, resp)
			if kind != tt.wantKind || filename != tt.name {
				t.Errorf("disposition %s %q, want %s %q", kind, filename, tt.wantKind, tt.name)
			}
			var got bytes.Buffer
			if _, err := got.ReadFrom(resp.Body); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), tt.body) {
				t.Error("body differs from the file")
			}
		})
	}
}

func TestContentDisposition(t *testing.T) {
	tests := []struct {
		name, want, decoded string
	}{
		{
			`résumé "final".pdf`,
			`attachment; filename="r_sum_ _final_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf`,
			`résumé "final".pdf`,
		},
		{
			"report.pdf\r\nSet-Cookie: a=b",
			`attachment; filename="report.pdfSet-Cookie: a=b"; filename*=UTF-8''report.pdfSet-Cookie%3A%20a%3Db`,
			"report.pdfSet-Cookie: a=b",
		},
		{
			"a; filename=evil.exe.pdf",
			`attachment; filename="a_ filename=evil.exe.pdf"; filename*=UTF-8''a%3B%20filename%3Devil.exe.pdf`,
			"a; filename=evil.exe.pdf",
		},
		{
			`back\slash.txt`,
			`attachment; filename="slash.txt"; filename*=UTF-8''slash.txt`,
			"slash.txt",
		},
		{"../../etc/passwd", `attachment; filename="passwd"; filename*=UTF-8''passwd`, "passwd"},
		{"100%.txt", `attachment; filename="100_.txt"; filename*=UTF-8''100%25.txt`, "100%.txt"},
		{"日本語.txt", `attachment; filename="___.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt`, "日本語.txt"},
		{"", `attachment; filename="download"; filename*=UTF-8''download`, "download"},
		{"\r\n", `attachment; filename="download"; filename*=UTF-8''download`, "download"},
		{"bad\xff.txt", `attachment; filename="bad_.txt"; filename*=UTF-8''bad_.txt`, "bad_.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ContentDisposition(false, tt.name)
			if got != tt.want {
				t.Errorf("ContentDisposition(%q)\n got %s\nwant %s", tt.name, got, tt.want)
			}
			if strings.ContainsAny(got, "\r\n") {
				t.Errorf("header value %q holds CR or LF", got)
			}
			if n := strings.Count(got, ";"); n != 2 {
				t.Errorf("header value %q has %d parameter separators, want 2", got, n)
			}
			_, params, err := mime.ParseMediaType(got)
			if err != nil {
				t.Fatalf("ParseMediaType(%q): %v", got, err)
			}
			if params["filename"] != tt.decoded {
				t.Errorf("a browser reads %q, want %q", params["filename"], tt.decoded)
			}
		})
	}
	if got := ContentDisposition(true, "cat.png"); !strings.HasPrefix(got, "inline; ") {
		t.Errorf("ContentDisposition(true) = %q, want inline", got)
	}
}

func TestServeRanges(t *testing.T) {
	body := []byte("0123456789")
	req := httptest.NewRequest(http.MethodGet, "/files/x", nil)
	req.Header.Set("Range", "bytes=2-5")
	resp := serve(t, req, body, "digits.txt", "text/plain; charset=utf-8")
	if resp.StatusCode != http.StatusPartialContent {
		t.Fatalf("status %d, want 206", resp.StatusCode)
	}
	var got bytes.Buffer
	if _, err := got.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	if got.String() != "2345" {
		t.Errorf("body %q, want %q", got.String(), "2345")
	}
	if got, want := resp.Header.Get("Content-Range"), "bytes 2-5/10"; got != want {
		t.Errorf("Content-Range %q, want %q", got, want)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("partial response without nosniff")
	}

	t.Run("not modified", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/files/x", nil)
		req.Header.Set("If-Modified-Since", modTime.Format(http.TimeFormat))
		if resp := serve(t, req, body, "d.txt", "text/plain"); resp.StatusCode != http.StatusNotModified {
			t.Errorf("status %d, want 304", resp.StatusCode)
		}
	})
}

func TestServeSendsOnlyTheRecordedSize(t *testing.T) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/files/x", nil)
	Serve(rec, req, bytes.NewReader([]byte("keep-this|not-this")), "a.txt", "text/plain", 9, modTime)
	if got, want := rec.Body.String(), "keep-this"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
}
