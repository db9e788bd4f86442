package app_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"os"
	"testing"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// eachBackend runs f against a fresh SQLite store and, when
// SWITCHBOARD_TEST_DATABASE_URL is set, a fresh PostgreSQL schema, for the
// operations whose correctness depends on how the store locks (read-modify-
// write, concurrent writers). Under CI=true a missing PostgreSQL fails the
// test instead of skipping it.
func eachBackend(t *testing.T, clock sb.Clock, f func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { f(t, openStore(t, "", clock)) })
	t.Run("postgres", func(t *testing.T) { f(t, openStore(t, postgresSchema(t), clock)) })
}

// postgresSchema makes a fresh schema in the test database and returns a URL
// that uses it.
func postgresSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv("SWITCHBOARD_TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SWITCHBOARD_TEST_DATABASE_URL is not set; CI must test PostgreSQL")
		}
		t.Skip("SWITCHBOARD_TEST_DATABASE_URL not set")
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := sql.Open("pgx", base); err == nil {
			a.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
			a.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openStore opens a store: PostgreSQL at dsn, or SQLite in a temporary folder.
func openStore(t *testing.T, dsn string, clock sb.Clock) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{URL: dsn, Dir: t.TempDir(), Clock: clock, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
