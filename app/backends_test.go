package app_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/internal/testpg"
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
func postgresSchema(t *testing.T) string { return testpg.URL(t) }

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
