package app

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// Token prefixes say what a bearer token is before any lookup.
const (
	PrefixVisitor = "sbv_"
	PrefixAPI     = "sba_"
	PrefixSession = "sbs_"
)

// NewToken returns a fresh token of 256 random bits with the given prefix,
// and the hash under which it is stored. The raw token is never stored.
func NewToken(prefix string) (raw string, hash []byte) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("app: crypto/rand failed: " + err.Error())
	}
	raw = prefix + base64.RawURLEncoding.EncodeToString(b)
	return raw, HashToken(raw)
}

// HashToken returns the stored form of a token.
func HashToken(raw string) []byte {
	h := sha256.Sum256([]byte(raw))
	return h[:]
}

// wellFormed reports whether raw looks like a token of this kind, so
// garbage is refused without a database lookup.
func wellFormed(raw, prefix string) bool {
	if !strings.HasPrefix(raw, prefix) || len(raw) != len(prefix)+43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(raw[len(prefix):])
	return err == nil
}
