package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// TestPhoneBlocksMigration stores phone blocks the way they were kept before
// migration 006 (as typed), runs it again, and checks that they are
// normalised, merged when they are one number, and left alone when they are
// no number at all.
func TestPhoneBlocksMigration(t *testing.T) {
	type backend struct {
		cfg    func(t *testing.T) store.Config
		driver func(cfg store.Config) (string, string)
	}
	backends := map[string]backend{
		"sqlite": {
			cfg: func(t *testing.T) store.Config { return store.Config{Dir: t.TempDir()} },
			driver: func(cfg store.Config) (string, string) {
				return "sqlite", "file:" + filepath.Join(cfg.Dir, "switchboard.db") + "?_pragma=busy_timeout(10000)"
			},
		},
		"postgres": {
			cfg:    func(t *testing.T) store.Config { return store.Config{URL: postgresURL(t)} },
			driver: func(cfg store.Config) (string, string) { return "pgx", cfg.URL },
		},
	}
	for _, name := range []string{"sqlite", "postgres"} {
		b := backends[name]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			cfg := b.cfg(t)
			db, err := store.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, db)
			db.Close()

			raw, err := sql.Open(b.driver(cfg))
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []string{
				"+44 20 7946 0000", // the oldest of one number: kept
				"0044 20 7946 0000",
				"+44 (0)20 7946-0000",
				"+442079460000",
				"+1 (555) 010-0199",
				"020 7946 0001",
				"call me maybe", // no number: left as it is
			} {
				if _, err := raw.Exec(`INSERT INTO blocks (kind, value, reason, created_by, created_at) VALUES ('phone', $1, '', $2, 0)`, v, f.agent.ID); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := raw.Exec(`INSERT INTO blocks (kind, value, reason, created_by, created_at) VALUES ('email', 'a  b@example.com', '', $1, 0)`, f.agent.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Exec(`DELETE FROM schema_migrations WHERE version = 6`); err != nil {
				t.Fatal(err)
			}
			raw.Close()

			db, err = store.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			blocks, err := db.Blocks(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range blocks {
				got = append(got, string(b.Kind)+" "+b.Value)
			}
			slices.Reverse(got) // oldest first
			want := []string{"phone +442079460000", "phone +15550100199", "phone 02079460001", "phone call me maybe", "email a  b@example.com"}
			if !slices.Equal(got, want) {
				t.Fatalf("blocks after the migration:\n got %q\nwant %q", got, want)
			}
			if err := db.Write(ctx, func(tx *store.Tx) error {
				blocked, err := tx.Blocked(&sb.Contact{Phone: "+44 20 7946 0000"}, 0)
				if err == nil && !blocked {
					t.Error("the migrated block does not match the number")
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
