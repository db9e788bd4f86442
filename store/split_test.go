package store

import (
	"slices"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	text := `-- a comment
CREATE TABLE a (x INTEGER);
CREATE TRIGGER a_ai AFTER INSERT ON a BEGIN
  INSERT INTO b VALUES (new.x);
  DELETE FROM c;
END;
CREATE FUNCTION f() RETURNS trigger AS $$
BEGIN
  -- kept: inside the body
  NEW.v := 1;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE INDEX a_x
    ON a(x);
`
	got := splitStatements(text)
	want := []string{
		"CREATE TABLE a (x INTEGER);",
		"CREATE TRIGGER a_ai AFTER INSERT ON a BEGIN\n  INSERT INTO b VALUES (new.x);\n  DELETE FROM c;\nEND;",
		"CREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n  -- kept: inside the body\n  NEW.v := 1;\n  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;",
		"CREATE INDEX a_x\n    ON a(x);",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestOwnsMigration(t *testing.T) {
	for _, tc := range []struct {
		file           string
		sqlite, postgr bool
	}{
		{"001_init.sql", true, true},
		{"020_search.sqlite.sql", true, false},
		{"020_search.postgres.sql", false, true},
		{"021_postgres_things.sql", true, true},
	} {
		if got := sqlite.ownsMigration(tc.file); got != tc.sqlite {
			t.Errorf("sqlite owns %s = %v", tc.file, got)
		}
		if got := postgres.ownsMigration(tc.file); got != tc.postgr {
			t.Errorf("postgres owns %s = %v", tc.file, got)
		}
	}
}
