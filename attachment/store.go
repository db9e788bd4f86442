package attachment

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"github.com/switchboard/switchboard"
)

// KeyLen is the length of a storage key: 128 random bits in lower-case hex.
const KeyLen = 32

// tempPattern names files being written; they never look like a key.
const tempPattern = ".upload-*"

// Store keeps uploaded files in one directory under random names.
type Store struct {
	dir string
}

// Saved describes a file that Save has stored.
type Saved struct {
	Key         string // storage key for Open and Remove
	Size        int64  // bytes stored
	ContentType string // as returned by Check
	FileName    string // the cleaned name (CleanName)
}

// NewStore returns a Store keeping its files in dir, creating it if needed.
func NewStore(dir string) (*Store, error) {
	if dir == "" {
		return nil, fmt.Errorf("attachment: store directory not set")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("attachment: create store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Save checks and stores the file read from r, refusing it past limit bytes; on error nothing is left on disk.
func (s *Store) Save(r io.Reader, fileName string, limit int64) (Saved, error) {
	if limit <= 0 {
		return Saved{}, fmt.Errorf("attachment: size limit must be positive, not %d", limit)
	}
	name, err := CleanName(fileName)
	if err != nil {
		return Saved{}, err
	}
	// Refuse a wrong extension before reading anything.
	if _, ok := typeOf(Ext(name)); !ok {
		return Saved{}, notAllowed(Ext(name))
	}

	// Reading one byte past the limit is how we tell "exactly limit" from
	// "too large" without trusting any declared length.
	lr := io.LimitReader(r, limit+1)
	head := make([]byte, HeadSize)
	n, err := io.ReadFull(lr, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return Saved{}, readError(err, limit)
	}
	head = head[:n]
	if int64(n) > limit {
		return Saved{}, tooLarge(limit)
	}
	contentType, err := Check(name, head)
	if err != nil {
		return Saved{}, err
	}

	tmp, err := os.CreateTemp(s.dir, tempPattern)
	if err != nil {
		return Saved{}, fmt.Errorf("attachment: create temp file: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()

	if _, err := tmp.Write(head); err != nil {
		return Saved{}, fmt.Errorf("attachment: write: %w", err)
	}
	rest, err := io.Copy(tmp, lr)
	if err != nil {
		return Saved{}, readError(err, limit)
	}
	size := int64(n) + rest
	if size > limit {
		return Saved{}, tooLarge(limit)
	}
	// The message that refers to this file is committed after Save returns,
	// so the file must be on disk by then.
	if err := tmp.Sync(); err != nil {
		return Saved{}, fmt.Errorf("attachment: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return Saved{}, fmt.Errorf("attachment: close: %w", err)
	}
	key := newKey()
	if err := os.Rename(tmp.Name(), filepath.Join(s.dir, key)); err != nil {
		return Saved{}, fmt.Errorf("attachment: rename: %w", err)
	}
	committed = true
	return Saved{Key: key, Size: size, ContentType: contentType, FileName: name}, nil
}

// Open opens the stored file with the given key for reading.
func (s *Store) Open(key string) (*os.File, error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	// validKey already rules out any path; OpenInRoot is a second wall.
	f, err := os.OpenInRoot(s.dir, key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, switchboard.NotFound("Attachment")
	} else if err != nil {
		return nil, fmt.Errorf("attachment: open: %w", err)
	}
	return f, nil
}

// Remove deletes the stored file with the given key.
func (s *Store) Remove(key string) error {
	if err := validKey(key); err != nil {
		return err
	}
	err := os.Remove(filepath.Join(s.dir, key))
	if errors.Is(err, fs.ErrNotExist) {
		return switchboard.NotFound("Attachment")
	} else if err != nil {
		return fmt.Errorf("attachment: remove: %w", err)
	}
	return nil
}

// newKey returns 128 bits from crypto/rand in hex. crypto/rand.Read does not
// fail on supported platforms (it aborts the program instead).
func newKey() string {
	b := make([]byte, KeyLen/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// validKey accepts exactly KeyLen lower-case hex digits, so a key can never
// name a path, a temp file or anything outside the store.
func validKey(key string) error {
	if len(key) != KeyLen {
		return switchboard.Errorf(switchboard.EINVALID, "Invalid attachment key.")
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return switchboard.Errorf(switchboard.EINVALID, "Invalid attachment key.")
		}
	}
	return nil
}

// readError maps a failed read of the upload: an http.MaxBytesReader in
// front of us tripping is the upload being too large too.
func readError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(limit)
	}
	return fmt.Errorf("attachment: read upload: %w", err)
}

func tooLarge(limit int64) error {
	return switchboard.Errorf(switchboard.ETOOLARGE, "The file is larger than the %s limit.", formatSize(limit))
}

// formatSize writes a limit the way people set it: "10 MB", "1.5 MB", "500 KB".
func formatSize(n int64) string {
	const kb, mb = 1 << 10, 1 << 20
	switch {
	case n >= mb && n%mb == 0:
		return fmt.Sprintf("%d MB", n/mb)
	case n >= mb:
		return fmt.Sprintf("%.1f MB", float64(n)/mb)
	case n >= kb && n%kb == 0:
		return fmt.Sprintf("%d KB", n/kb)
	case n >= kb:
		return fmt.Sprintf("%.1f KB", float64(n)/kb)
	}
	return fmt.Sprintf("%d bytes", n)
}
