package store

import (
	"database/sql"
	"slices"
	"testing"

	"github.com/switchboard/switchboard/internal/testpg"
)

func TestFoldText(t *testing.T) {
	for in, want := range map[string]string{
		"Crème Brûlée":   "creme brulee",
		"ÉCOLE":          "ecole",
		"Straße":         "strasse",
		"Łódź":           "lodz",
		"Søren Kierkeg":  "soren kierkeg",
		"naïve café":     "naive cafe",
		"İstanbul":       "istanbul",
		"plain ascii 42": "plain ascii 42",
	} {
		if got := foldText(in); got != want {
			t.Errorf("foldText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSearchTerms(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"Crème brûlée", []string{"creme", "brulee"}},
		{`"drop" OR table*; -- NEAR(x) :* & !`, []string{"drop", "or", "table", "near", "x"}},
		{"+44 20 7946", []string{"44", "20", "7946"}},
		{"a a A", []string{"a"}},
		{"   ", nil},
		{"1 2 3 4 5 6 7 8 9 10", []string{"1", "2", "3", "4", "5", "6", "7", "8"}},
	} {
		if got := SearchTerms(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("SearchTerms(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := SearchTerms(string(make([]rune, 0)) + "ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé")
	if len(long) != 1 || len(long[0]) > maxTermLen {
		t.Errorf("a long word: %q", long)
	}
}

// TestFTSQueryBothBackends indexes folded text the way the search tables do
// and checks that both backends find the same rows for the same queries.
func TestFTSQueryBothBackends(t *testing.T) {
	docs := []string{"Crème brûlée recipe", "Creme fraiche", "Straße in Łódź", "nothing here"}
	queries := map[string][]int{
		"creme":           {1, 2},
		"CRÈME brû":       {1},
		"strasse lodz":    {3},
		"rec":             {1},
		`"; DROP TABLE x`: nil,
	}
	backends := map[string]func(t *testing.T) (*sql.DB, dialect){
		"sqlite": func(t *testing.T) (*sql.DB, dialect) {
			db, err := sql.Open("sqlite", ":memory:")
			if err != nil {
				t.Fatal(err)
			}
			db.SetMaxOpenConns(1)
			if _, err := db.Exec(`CREATE VIRTUAL TABLE docs USING fts5(body, tokenize='unicode61')`); err != nil {
				t.Fatal(err)
			}
			for i, d := range docs {
				if _, err := db.Exec(`INSERT INTO docs (rowid, body) VALUES ($1, $2)`, i+1, foldText(d)); err != nil {
					t.Fatal(err)
				}
			}
			return db, sqlite
		},
		"postgres": func(t *testing.T) (*sql.DB, dialect) {
			db, err := sql.Open("pgx", testpg.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`CREATE TABLE docs (id BIGINT PRIMARY KEY, body TSVECTOR NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			for i, d := range docs {
				if _, err := db.Exec(`INSERT INTO docs (id, body) VALUES ($1, to_tsvector('simple', $2))`, i+1, foldText(d)); err != nil {
					t.Fatal(err)
				}
			}
			return db, postgres
		},
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			db, d := backends[name](t)
			defer db.Close()
			for q, want := range queries {
				fq := d.ftsQuery(SearchTerms(q))
				var got []int
				if fq != "" {
					stmt := `SELECT rowid FROM docs WHERE docs MATCH $1 ORDER BY rowid`
					if d.name == postgres.name {
						stmt = `SELECT id FROM docs WHERE body @@ to_tsquery('simple', $1) ORDER BY id`
					}
					rows, err := db.Query(stmt, fq)
					if err != nil {
						t.Fatalf("%q (%s): %v", q, fq, err)
					}
					for rows.Next() {
						var id int
						rows.Scan(&id)
						got = append(got, id)
					}
					rows.Close()
				}
				if !slices.Equal(got, want) {
					t.Errorf("%q (%s): got %v, want %v", q, fq, got, want)
				}
			}
		})
	}
}
