package attachment

import (
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode"
)

// CacheControl is sent with every file: content never changes under a key, access to it can.
const CacheControl = "private, max-age=3600"

// Serve writes a stored file with headers that keep the browser from running it, honouring Range requests.
func Serve(w http.ResponseWriter, r *http.Request, f io.ReadSeeker, name, contentType string, size int64, modTime time.Time) {
	ctype, inline := servedAs(contentType)
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", CacheControl)
	h.Set("Content-Disposition", ContentDisposition(inline, name))
	// Serve exactly the recorded size, whatever has happened to the file since.
	if ra, ok := f.(io.ReaderAt); ok && size >= 0 {
		f = io.NewSectionReader(ra, 0, size)
	}
	// The name is already in Content-Disposition; ServeContent only uses it
	// to guess a type, which is set above.
	http.ServeContent(w, r, "", modTime, f)
}

// servedAs returns the Content-Type to send for a stored content type and
// whether the file may be shown inline. Only types Check can produce are sent
// as they are; anything else goes out as a download of opaque bytes (or
// plain text), so a bad record can never make the browser render HTML.
func servedAs(contentType string) (ctype string, inline bool) {
	base, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "application/octet-stream", false
	}
	switch base {
	case "image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp":
		return base, true
	case "text/plain", "text/csv", "application/json", "application/xml", "image/svg+xml":
		return base + "; charset=utf-8", false
	}
	for _, ext := range Extensions() {
		if ft, _ := typeOf(ext); ft.contentType == base {
			return base, false
		}
	}
	if strings.HasPrefix(base, "text/") {
		return "text/plain; charset=utf-8", false
	}
	return "application/octet-stream", false
}

// ContentDisposition returns an RFC 6266 header value with an ASCII filename and a UTF-8 filename*.
func ContentDisposition(inline bool, name string) string {
	name = headerName(name)
	kind := "attachment"
	if inline {
		kind = "inline"
	}
	return kind + `; filename="` + asciiFallback(name) + `"; filename*=UTF-8''` + percentEncode(name)
}

// headerName reduces a name to something safe to offer: no path, no
// control or bidirectional characters, never empty.
func headerName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || isBidiControl(r) {
			return -1
		}
		return r
	}, baseName(name))
	name = strings.TrimSpace(name)
	if name == "" || name == "." || name == ".." {
		return "download"
	}
	return name
}

// asciiFallback is the quoted filename for clients without RFC 5987
// support: printable ASCII only, with the characters that end or escape a
// quoted string, separate parameters or get percent-decoded replaced.
func asciiFallback(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r >= 0x7f:
			return '_'
		case r == '"' || r == '\\' || r == ';' || r == '%':
			return '_'
		}
		return r
	}, name)
}

// percentEncode encodes a UTF-8 string as an RFC 5987 value: every byte
// outside attr-char is percent-encoded.
func percentEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// isAttrChar reports RFC 5987's attr-char.
func isAttrChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
