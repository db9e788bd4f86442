package store

// SetCheckpointing changes the log size at which the checkpointer restarts
// the log and how many commits wake it, until restore is called.
func SetCheckpointing(pages int, commits int64) (restore func()) {
	oldPages, oldCommits := restartPages, kickEvery
	restartPages, kickEvery = pages, commits
	return func() { restartPages, kickEvery = oldPages, oldCommits }
}

// Checkpoints is how many checkpoints the checkpointer has run.
func (db *DB) Checkpoints() int64 { return db.checkpoints.Load() }
