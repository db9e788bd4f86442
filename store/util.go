package store

import (
	"database/sql"
	"errors"
	"strings"

	sb "github.com/switchboard/switchboard"
)

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// notFound turns sql.ErrNoRows into the domain's not-found error.
func notFound(err error, kind string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return sb.NotFound(kind)
	}
	return err
}

// nullInt64 maps an optional id to a nullable column value.
func nullInt64(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// ptrInt64 maps a scanned nullable column to an optional id.
func ptrInt64(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}

// nullInt is a nullable BIGINT that scans on both drivers.
type nullInt struct{ sql.NullInt64 }

// ptr returns the value as an optional id.
func (n nullInt) ptr() *int64 { return ptrInt64(n.NullInt64) }
