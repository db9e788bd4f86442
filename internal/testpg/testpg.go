// Package testpg gives tests a PostgreSQL database of their own: a fresh
// schema of the test database named by SWITCHBOARD_TEST_DATABASE_URL,
// dropped when the test ends. Without the variable a test is skipped on a
// developer's machine and fails under CI=true, where PostgreSQL must be
// tested.
package testpg

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver
)

// Require skips t, or fails it under CI=true, when there is no test database.
func Require(t testing.TB) {
	t.Helper()
	if os.Getenv("SWITCHBOARD_TEST_DATABASE_URL") != "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("SWITCHBOARD_TEST_DATABASE_URL is not set; CI must test PostgreSQL")
	}
	t.Skip("SWITCHBOARD_TEST_DATABASE_URL not set")
}

// URL makes a fresh schema in the test database and returns a URL whose
// connections use it (search_path).
func URL(t testing.TB) string {
	t.Helper()
	Require(t)
	base := os.Getenv("SWITCHBOARD_TEST_DATABASE_URL")
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
