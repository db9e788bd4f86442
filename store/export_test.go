package store

import "context"

// SetCheckpointing changes the log size at which the checkpointer restarts
// the log and how many commits wake it, until restore is called.
func SetCheckpointing(pages int, commits int64) (restore func()) {
	oldPages, oldCommits := restartPages, kickEvery
	restartPages, kickEvery = pages, commits
	return func() { restartPages, kickEvery = oldPages, oldCommits }
}

// Checkpoints is how many checkpoints the checkpointer has run.
func (db *DB) Checkpoints() int64 { return db.checkpoints.Load() }

// Synchronous is the writer connection's synchronous setting (1 NORMAL, 2 FULL).
func (db *DB) Synchronous() (n int, err error) {
	err = db.Write(context.Background(), func(tx *Tx) error {
		return tx.q.QueryRowContext(tx.ctx, `PRAGMA synchronous`).Scan(&n)
	})
	return n, err
}
