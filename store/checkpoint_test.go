package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// TestCheckpointerKeepsTheLogSmall: the writer does not checkpoint SQLite's
// write-ahead log itself; the checkpointer does, beside it, and restarts the
// log once it passes its size, so under writes that never pause the log
// stays small and everything written is in the database.
func TestCheckpointerKeepsTheLogSmall(t *testing.T) {
	defer store.SetCheckpointing(64, 32)() // 256 KiB; every 32 commits
	dir := t.TempDir()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	wal := filepath.Join(dir, "switchboard.db-wal")
	var biggest int64
	n := 0
	for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); n++ {
		if err := db.Write(ctx, func(tx *store.Tx) error {
			return tx.CreateContact(&sb.Contact{Name: fmt.Sprint("contact ", n)})
		}); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(wal); err == nil && fi.Size() > biggest {
			biggest = fi.Size()
		}
	}
	if db.Checkpoints() == 0 {
		t.Fatal("no checkpoint ran")
	}
	// Without restarts the log grows by every commit's pages (at least one
	// 4 KiB page each); with them it stays near the limit, plus what the
	// writer adds while a checkpoint runs.
	if never := int64(n) * 4096; biggest > never/3 {
		t.Fatalf("the log grew to %d bytes over %d commits (%d without restarts): it is not restarted", biggest, n, never)
	}
	t.Logf("%d commits, %d checkpoints, log at most %d bytes", n, db.Checkpoints(), biggest)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(ctx, store.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	last, err := db.Contact(ctx, int64(n))
	if err != nil || last.Name != fmt.Sprint("contact ", n-1) {
		t.Fatalf("after reopening, contact %d is %+v (%v)", n, last, err)
	}
}

// Every commit is flushed to disk unless FastCommits says otherwise.
func TestSynchronousCommits(t *testing.T) {
	for _, c := range []struct {
		fast bool
		want int
	}{{false, 2}, {true, 1}} {
		db, err := store.Open(context.Background(), store.Config{Dir: t.TempDir(), FastCommits: c.fast})
		if err != nil {
			t.Fatal(err)
		}
		n, err := db.Synchronous()
		db.Close()
		if err != nil || n != c.want {
			t.Errorf("FastCommits %v: synchronous = %d (%v), want %d", c.fast, n, err, c.want)
		}
	}
}
