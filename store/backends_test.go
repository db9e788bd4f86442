package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/internal/testpg"
	"github.com/switchboard/switchboard/store"
)

// eachBackend runs f against a fresh SQLite database and, when
// SWITCHBOARD_TEST_DATABASE_URL is set, a fresh PostgreSQL schema. Under
// CI=true a missing PostgreSQL fails the test instead of skipping it.
func eachBackend(t *testing.T, f func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		f(t, OpenSQLite(t))
	})
	t.Run("postgres", func(t *testing.T) {
		f(t, OpenPostgres(t))
	})
}

// OpenSQLite opens a store in a temporary folder.
func OpenSQLite(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// OpenPostgres opens a store in a fresh schema of the test database.
func OpenPostgres(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{URL: postgresURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// postgresURL makes a fresh schema in the test database and returns a URL
// that uses it.
func postgresURL(t testing.TB) string { return testpg.URL(t) }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// write runs fn in a transaction and fails the test on error.
func write(t testing.TB, db *store.DB, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := db.Write(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// fixture is a small organisation: an inbox, an agent in it and a contact.
type fixture struct {
	inbox   *sb.Inbox
	agent   *sb.User
	contact *sb.Contact
}

func newFixture(t testing.TB, db *store.DB) fixture {
	t.Helper()
	f := fixture{
		inbox:   &sb.Inbox{Name: "Website", Settings: sb.DefaultInboxSettings()},
		agent:   &sb.User{Email: "alice@example.com", Name: "Alice", Role: sb.RoleAgent, Operator: true, ChatLimit: 3},
		contact: &sb.Contact{Name: "Carol"},
	}
	write(t, db, func(tx *store.Tx) error {
		if err := tx.CreateInbox(f.inbox); err != nil {
			return err
		}
		if err := tx.CreateUser(f.agent, "hash"); err != nil {
			return err
		}
		if err := tx.AddInboxMember(f.inbox.ID, f.agent.ID); err != nil {
			return err
		}
		return tx.CreateContact(f.contact)
	})
	return f
}
