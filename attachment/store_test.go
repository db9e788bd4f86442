package attachment

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/switchboard/switchboard"
)

func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "files")
	s, err := NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// entries lists what the store directory holds.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	if left := entries(t, dir); len(left) != 0 {
		t.Errorf("store holds %v after a refusal, want nothing", left)
	}
}

func TestNewStoreCreatesPrivateDir(t *testing.T) {
	_, dir := newStore(t)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() || fi.Mode().Perm()&0o027 != 0 {
		t.Errorf("store dir mode %v, want a directory no wider than 0750", fi.Mode())
	}
	if _, err := NewStore(""); err == nil {
		t.Error("NewStore(\"\") succeeded")
	}
}

func TestSaveAndOpen(t *testing.T) {
	s, dir := newStore(t)
	for ext, sample := range samples(t) {
		t.Run(ext, func(t *testing.T) {
			saved, err := s.Save(bytes.NewReader(sample), "../uploads/My File."+ext, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(saved.Key) {
				t.Errorf("key %q is not 32 hex digits", saved.Key)
			}
			if got, want := saved.FileName, "My File."+ext; got != want {
				t.Errorf("FileName = %q, want %q", got, want)
			}
			if got, want := saved.Size, int64(len(sample)); got != want {
				t.Errorf("Size = %d, want %d", got, want)
			}
			if want, _ := Check(saved.FileName, head(sample)); saved.ContentType != want {
				t.Errorf("ContentType = %q, want %q", saved.ContentType, want)
			}
			f, err := s.Open(saved.Key)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := io.ReadAll(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, sample) {
				t.Error("stored bytes differ from the upload")
			}
		})
	}
	if got, want := len(entries(t, dir)), len(samples(t)); got != want {
		t.Errorf("store holds %d files, want %d (no temp files left)", got, want)
	}
}

func TestSaveKeysAreUnique(t *testing.T) {
	s, _ := newStore(t)
	seen := map[string]bool{}
	for range 50 {
		saved, err := s.Save(strings.NewReader("x"), "a.txt", 10)
		if err != nil {
			t.Fatal(err)
		}
		if seen[saved.Key] {
			t.Fatalf("key %q issued twice", saved.Key)
		}
		seen[saved.Key] = true
	}
}

func TestSaveSizeLimit(t *testing.T) {
	// One limit below HeadSize, where the excess shows in the head, and one
	// above it, where it shows while streaming the rest.
	for _, limit := range []int64{100, HeadSize, 64 << 10} {
		t.Run(formatSize(limit), func(t *testing.T) {
			s, dir := newStore(t)
			exact := bytes.Repeat([]byte("a"), int(limit))
			saved, err := s.Save(bytes.NewReader(exact), "a.txt", limit)
			if err != nil {
				t.Fatalf("a file of exactly the limit: %v", err)
			}
			if saved.Size != limit {
				t.Errorf("Size = %d, want %d", saved.Size, limit)
			}
			if err := s.Remove(saved.Key); err != nil {
				t.Fatal(err)
			}

			over := append(exact, 'a')
			_, err = s.Save(bytes.NewReader(over), "a.txt", limit)
			if got, want := switchboard.ErrorCode(err), switchboard.ETOOLARGE; got != want {
				t.Fatalf("limit+1 bytes: code %q (%v), want %q", got, err, want)
			}
			assertEmpty(t, dir)
		})
	}

	t.Run("message states the limit", func(t *testing.T) {
		s, _ := newStore(t)
		_, err := s.Save(infiniteText{}, "big.txt", 2<<20)
		if got, want := switchboard.ErrorMessage(err), "larger than the 2 MB limit"; !strings.Contains(got, want) {
			t.Errorf("message %q, want it to contain %q", got, want)
		}
	})

	t.Run("MaxBytesReader in front counts as too large", func(t *testing.T) {
		s, dir := newStore(t)
		body := io.NopCloser(io.LimitReader(infiniteText{}, 5000))
		r := http.MaxBytesReader(httptest.NewRecorder(), body, 1000)
		_, err := s.Save(r, "a.txt", 2000)
		if got, want := switchboard.ErrorCode(err), switchboard.ETOOLARGE; got != want {
			t.Fatalf("code %q (%v), want %q", got, err, want)
		}
		assertEmpty(t, dir)
	})

	t.Run("limit must be positive", func(t *testing.T) {
		s, _ := newStore(t)
		if _, err := s.Save(strings.NewReader("x"), "a.txt", 0); err == nil {
			t.Error("Save with limit 0 succeeded")
		}
	})
}

// infiniteText is an endless stream of text.
type infiniteText struct{}

func (infiniteText) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func TestSaveRefusalsLeaveNothing(t *testing.T) {
	tests := []struct {
		what string
		r    io.Reader
		name string
		code string
	}{
		{"disallowed extension", failingReader{}, "setup.exe", switchboard.EUNSUPPORTED},
		{"bad name", failingReader{}, "a\x00.txt", switchboard.EINVALID},
		{"content mismatch", bytes.NewReader(htmlScript), "cat.png", switchboard.EUNSUPPORTED},
		{"program", bytes.NewReader(elfHeader), "notes.txt", switchboard.EUNSUPPORTED},
		{"read error in head", io.MultiReader(strings.NewReader("abc"), failingReader{}), "a.txt", switchboard.EINTERNAL},
		{"read error in body", io.MultiReader(strings.NewReader(strings.Repeat("a", 4000)), failingReader{}), "a.txt", switchboard.EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.what, func(t *testing.T) {
			s, dir := newStore(t)
			_, err := s.Save(tt.r, tt.name, 1<<20)
			if got := switchboard.ErrorCode(err); got != tt.code {
				t.Fatalf("code %q (%v), want %q", got, err, tt.code)
			}
			assertEmpty(t, dir)
		})
	}
}

// failingReader fails every read; refusing by name must not read at all.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestOpenAndRemoveValidateKeys(t *testing.T) {
	s, dir := newStore(t)
	saved, err := s.Save(strings.NewReader("secret\n"), "a.txt", 100)
	if err != nil {
		t.Fatal(err)
	}
	// A file next to the store that traversal would reach.
	if err := os.WriteFile(filepath.Join(dir, "..", "outside"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	bad := []string{
		"", "../x", "../outside", "/etc/passwd", filepath.Join(dir, saved.Key),
		saved.Key[:31], saved.Key + "0", strings.ToUpper(saved.Key),
		"../" + saved.Key[3:], saved.Key[:30] + "/.", ".upload-1234567890123456789012345",
		strings.Repeat("g", 32), saved.Key[:31] + "\x00",
	}
	for _, key := range bad {
		if f, err := s.Open(key); switchboard.ErrorCode(err) != switchboard.EINVALID {
			if f != nil {
				f.Close()
			}
			t.Errorf("Open(%q) = %v, want EINVALID", key, err)
		}
		if err := s.Remove(key); switchboard.ErrorCode(err) != switchboard.EINVALID {
			t.Errorf("Remove(%q) = %v, want EINVALID", key, err)
		}
	}

	missing := strings.Repeat("0", 32)
	if _, err := s.Open(missing); switchboard.ErrorCode(err) != switchboard.ENOTFOUND {
		t.Errorf("Open(missing) = %v, want ENOTFOUND", err)
	}
	if err := s.Remove(missing); switchboard.ErrorCode(err) != switchboard.ENOTFOUND {
		t.Errorf("Remove(missing) = %v, want ENOTFOUND", err)
	}

	if err := s.Remove(saved.Key); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := s.Open(saved.Key); switchboard.ErrorCode(err) != switchboard.ENOTFOUND {
		t.Errorf("Open after Remove = %v, want ENOTFOUND", err)
	}
	assertEmpty(t, dir)
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{
		10 << 20: "10 MB", 3 << 19: "1.5 MB", 500 << 10: "500 KB", 1536: "1.5 KB", 100: "100 bytes",
	} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
