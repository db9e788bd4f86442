// Package store keeps Switchboard's data in SQL: SQLite by default (pure Go,
// WAL, one writer with group commit) and PostgreSQL for a cluster. The SQL is
// written once; dialect.go holds the few words that differ.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver

	sb "github.com/switchboard/switchboard"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Config says where the data lives.
type Config struct {
	// URL is a postgres:// URL; empty means SQLite in Dir.
	URL string
	// Dir is the SQLite data folder (created if missing).
	Dir string
	// Clock tells the time; defaults to the system clock.
	Clock sb.Clock
	// Logger; defaults to slog.Default().
	Logger *slog.Logger
	// FastCommits, on SQLite, does not flush the log to disk at each commit
	// (synchronous=NORMAL): a crashed process loses nothing, but a power cut
	// or an operating-system crash may lose the last commits — messages
	// already acknowledged. By default every commit is flushed
	// (synchronous=FULL), as PostgreSQL does; group commit shares one flush
	// among the writes that commit together.
	FastCommits bool
}

// DB is the store. Reads go to a pool; writes go through Write.
type DB struct {
	d      dialect
	read   *sql.DB // readers (SQLite: a read-only pool; PostgreSQL: the one pool)
	write  *sql.DB // SQLite: one writer connection; PostgreSQL: same as read
	clock  sb.Clock
	log    *slog.Logger
	path   string
	jobs   chan *writeJob
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once

	// SQLite checkpoints (see checkpointer).
	ckpt        *sql.DB
	ckptKick    chan struct{} // the writer's "many commits since": do not wait for the tick
	ckptDone    chan struct{}
	restartDue  atomic.Bool // set by the checkpointer, done by the writer
	commits     atomic.Int64
	checkpoints atomic.Int64

	hookMu sync.RWMutex
	hooks  []func([]sb.Event)
}

// Open opens (creating if needed) the database and applies migrations.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	db := &DB{clock: cfg.Clock, log: cfg.Logger, stop: make(chan struct{}), done: make(chan struct{})}
	if db.clock == nil {
		db.clock = sb.SystemClock{}
	}
	if db.log == nil {
		db.log = slog.Default()
	}
	var err error
	if strings.HasPrefix(cfg.URL, "postgres://") || strings.HasPrefix(cfg.URL, "postgresql://") {
		db.d = postgres
		if db.read, err = sql.Open("pgx", cfg.URL); err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		db.read.SetMaxOpenConns(max(8, 4*runtime.GOMAXPROCS(0)))
		db.read.SetMaxIdleConns(max(8, 4*runtime.GOMAXPROCS(0)))
		db.write = db.read
		close(db.done)
	} else if cfg.URL != "" {
		return nil, sb.Errorf(sb.EINVALID, "Database URL must start with postgres://; leave it empty for the embedded SQLite.")
	} else {
		db.d = sqlite
		if cfg.Dir == "" {
			cfg.Dir = "switchboard-data"
		}
		if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
			return nil, fmt.Errorf("create data folder: %w", err)
		}
		db.path = filepath.Join(cfg.Dir, "switchboard.db")
		// wal_autocheckpoint(0): the writer never checkpoints; checkpointer
		// does, beside it. journal_size_limit: a log file that a burst grew
		// is cut back to 64 MiB when the log restarts.
		synchronous := "FULL"
		if cfg.FastCommits {
			synchronous = "NORMAL"
		}
		pragmas := "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(" + synchronous + ")" +
			"&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(67108864)&_txlock=immediate"
		if db.write, err = sql.Open("sqlite", "file:"+db.path+"?"+pragmas); err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		db.write.SetMaxOpenConns(1)
		db.write.SetMaxIdleConns(1)
		db.write.SetConnMaxLifetime(0)
		db.write.SetConnMaxIdleTime(0)
		if db.read, err = sql.Open("sqlite", "file:"+db.path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=query_only(1)"); err != nil {
			return nil, fmt.Errorf("open sqlite readers: %w", err)
		}
		n := max(4, 2*runtime.GOMAXPROCS(0))
		db.read.SetMaxOpenConns(n)
		db.read.SetMaxIdleConns(n)
		if db.ckpt, err = sql.Open("sqlite", "file:"+db.path+"?_pragma=busy_timeout(10000)"); err != nil {
			return nil, fmt.Errorf("open sqlite checkpointer: %w", err)
		}
		db.ckpt.SetMaxOpenConns(1)
		db.ckpt.SetMaxIdleConns(1)
	}
	if err := db.write.PingContext(ctx); err != nil {
		db.closeConns()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := db.migrate(ctx); err != nil {
		db.closeConns()
		return nil, err
	}
	if db.d == sqlite {
		// Let SQLite refresh the planner's statistics where they are missing
		// or stale, so list queries keep using the right index as data grows.
		if _, err := db.write.ExecContext(ctx, `PRAGMA optimize=0x10002`); err != nil {
			db.log.Warn("sqlite optimize", "err", err)
		}
		db.jobs = make(chan *writeJob, 1024)
		go db.writer()
		db.ckptDone = make(chan struct{})
		db.ckptKick = make(chan struct{}, 1)
		go db.checkpointer()
	}
	return db, nil
}

// checkpointEvery is how often the checkpointer looks for new commits, and
// kickEvery how many commits make the writer wake it before that.
const checkpointEvery = 100 * time.Millisecond

var kickEvery int64 = 512 // a variable for tests

// committed counts a commit, for the checkpointer.
func (db *DB) committed() {
	if db.commits.Add(1)%kickEvery == 0 {
		select {
		case db.ckptKick <- struct{}{}:
		default:
		}
	}
}

// restartPages is the size of the write-ahead log (in 4 KiB pages) at which
// the checkpointer restarts it (a variable for tests).
var restartPages = 4096

// checkpointer copies committed pages from SQLite's write-ahead log into the
// database file, on a connection of its own. Left to the writer (SQLite's
// default, every 1,000 pages of log), the copy ran inside a commit every
// 100-200 commits at 1,000 msg/s and held up every write queued behind it
// for milliseconds: the p99 of delivery (BENCHMARKS.md). A PASSIVE
// checkpoint never blocks the writer. But under steady writes it never
// catches up with the end of the log, so the log would never start over
// (it grew to a gigabyte in 30 s): past restartPages the writer, between two
// commits, runs a RESTART checkpoint, which copies the little that PASSIVE
// has not and sends the log back to its beginning (restartLog).
func (db *DB) checkpointer() {
	defer close(db.ckptDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var seen int64
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
		case <-db.ckptKick:
		}
		n := db.commits.Load()
		if n == seen {
			continue
		}
		seen = n
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		logPages, err := db.checkpoint(ctx, db.ckpt, "PASSIVE")
		cancel()
		if err != nil {
			db.log.Warn("sqlite checkpoint", "err", err)
			continue
		}
		if logPages >= restartPages {
			db.restartDue.Store(true)
		}
	}
}

// restartLog is the writer's part: when the checkpointer asks, it restarts
// the log between two commits, when no write can come in between.
func (db *DB) restartLog(ctx context.Context, conn *sql.Conn) {
	if !db.restartDue.CompareAndSwap(true, false) {
		return
	}
	if _, err := db.checkpoint(ctx, conn, "RESTART"); err != nil {
		db.log.Warn("sqlite log restart", "err", err)
	}
}

// checkpoint runs one checkpoint of the given mode on q and returns the size
// of the log, in pages, that it found.
func (db *DB) checkpoint(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, mode string) (logPages int, err error) {
	var busy, done int
	if err := q.QueryRowContext(ctx, `PRAGMA wal_checkpoint(`+mode+`)`).Scan(&busy, &logPages, &done); err != nil {
		return 0, err
	}
	db.checkpoints.Add(1)
	return logPages, nil
}

// Close stops the writer and closes the connections.
func (db *DB) Close() error {
	var err error
	db.closed.Do(func() {
		close(db.stop)
		<-db.done
		if db.ckptDone != nil {
			<-db.ckptDone
		}
		err = db.closeConns()
	})
	return err
}

func (db *DB) closeConns() error {
	var errs []error
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	if db.ckpt != nil {
		errs = append(errs, db.ckpt.Close())
	}
	if db.write != nil && db.write != db.read {
		errs = append(errs, db.write.Close())
	}
	return errors.Join(errs...)
}

// Dialect names the backend: "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.d.name }

// Now returns the store's clock time.
func (db *DB) Now() sb.Clock { return db.clock }

// OnCommit registers f to be called after every commit with the events it
// committed, in position order. f must be quick: it runs on the write path.
func (db *DB) OnCommit(f func([]sb.Event)) {
	db.hookMu.Lock()
	defer db.hookMu.Unlock()
	db.hooks = append(db.hooks, f)
}

func (db *DB) runHooks(events []sb.Event) {
	if len(events) == 0 {
		return
	}
	db.hookMu.RLock()
	defer db.hookMu.RUnlock()
	for _, f := range db.hooks {
		f(events)
	}
}

// Ping checks that the database answers (for /readyz).
func (db *DB) Ping(ctx context.Context) error { return db.read.PingContext(ctx) }

// migrate applies the embedded migrations that have not run yet, each in its
// own transaction. A lock keeps two nodes from migrating at once.
func (db *DB) migrate(ctx context.Context) error {
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if db.d == postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(727001)`); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(727001)`)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		var version int
		base := filepath.Base(name)
		if _, err := fmt.Sscanf(base, "%d_", &version); err != nil {
			return fmt.Errorf("migrate: bad file name %q", base)
		}
		if !db.d.ownsMigration(base) {
			continue
		}
		var n int
		if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if n > 0 {
			continue
		}
		text, err := migrationFS.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		for _, stmt := range splitStatements(db.d.rewrite(string(text))) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				tx.Rollback()
				return fmt.Errorf("migrate %s: %w\n%s", base, err, stmt)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, version, base); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		db.log.Info("applied migration", "name", base)
	}
	return nil
}

// splitStatements splits a migration on semicolons at line ends, dropping
// comments. Migrations keep one statement per semicolon-terminated block;
// the semicolons inside a trigger's body (from a line ending in BEGIN to a
// line "END;") and inside a dollar-quoted PostgreSQL body ($$ … $$) do not
// end a statement.
func splitStatements(text string) []string {
	var out []string
	var cur strings.Builder
	inTrigger, inDollar := false, false
	for _, line := range strings.Split(text, "\n") {
		trim := strings.TrimSpace(line)
		if !inDollar && (strings.HasPrefix(trim, "--") || trim == "") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.Count(line, "$$")%2 == 1 {
			inDollar = !inDollar
		}
		upper := strings.ToUpper(trim)
		if !inDollar && strings.HasSuffix(upper, "BEGIN") {
			inTrigger = true
		}
		if inDollar || inTrigger && upper != "END;" || !strings.HasSuffix(trim, ";") {
			continue
		}
		inTrigger = false
		out = append(out, strings.TrimSpace(cur.String()))
		cur.Reset()
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
