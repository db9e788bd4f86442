package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	sb "github.com/switchboard/switchboard"
)

// querier is what both *sql.DB, *sql.Conn and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Tx is one unit of work: everything done through it commits together or not
// at all, and the events it emits are stored in the same transaction and
// handed to OnCommit hooks only after the commit.
type Tx struct {
	ctx    context.Context
	q      querier
	d      dialect
	now    time.Time
	events []sb.Event
}

// Now is the transaction's time: every row it writes carries the same instant.
func (tx *Tx) Now() time.Time { return tx.now }

// Emit records an event to be stored with this transaction and published after it commits.
func (tx *Tx) Emit(e sb.Event) {
	e.CreatedAt = tx.now
	tx.events = append(tx.events, e)
}

// flushEvents inserts the emitted events, assigning their positions.
func (tx *Tx) flushEvents() error {
	for i := range tx.events {
		e := &tx.events[i]
		err := tx.q.QueryRowContext(tx.ctx, `INSERT INTO events (type, audience, inbox_id, conversation_id, contact_id, user_id, data, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING pos`,
			e.Type, string(e.Audience), e.InboxID, e.ConversationID, e.ContactID, e.UserID, string(e.Data), micros(e.CreatedAt)).Scan(&e.Pos)
		if err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
	}
	return nil
}

type writeJob struct {
	ctx    context.Context
	fn     func(*Tx) error
	done   chan error
	events []sb.Event
}

// maxBatch bounds how many write jobs share one SQLite commit.
const maxBatch = 128

// Write runs fn in a transaction. On SQLite, concurrent writes are batched
// into one commit by the single writer (group commit), each in its own
// savepoint so one failing job does not undo another. On PostgreSQL each
// call is its own transaction, retried on serialization failures.
// fn may run more than once on PostgreSQL: it must not have side effects
// outside tx.
func (db *DB) Write(ctx context.Context, fn func(*Tx) error) error {
	return db.QueueWrite(ctx, fn)()
}

// QueueWrite is Write in two steps: it returns once fn is queued, and wait
// returns what Write would. On SQLite writes run and commit in the order
// they were queued, so a caller may queue several writes before waiting for
// the first (pipelining) and they still take effect in its order. On
// PostgreSQL, where each write is its own transaction, QueueWrite runs fn before
// it returns.
func (db *DB) QueueWrite(ctx context.Context, fn func(*Tx) error) (wait func() error) {
	if db.d == postgres {
		err := db.writePostgres(ctx, fn)
		return func() error { return err }
	}
	job := &writeJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
	var err error
	select {
	case db.jobs <- job:
		// Once queued, the job runs or fails with its batch; wait for that
		// so the caller never reports failure for work that was committed.
		return func() error { return <-job.done }
	case <-ctx.Done():
		err = ctx.Err()
	case <-db.stop:
		err = sb.Errorf(sb.EUNAVAILABLE, "The server is shutting down.")
	}
	return func() error { return err }
}

func (db *DB) writer() {
	defer close(db.done)
	ctx := context.Background()
	conn, err := db.write.Conn(ctx)
	if err != nil {
		db.log.Error("sqlite writer: no connection", "err", err)
		for {
			select {
			case job := <-db.jobs:
				job.done <- err
			case <-db.stop:
				return
			}
		}
	}
	defer conn.Close()
	stmts := newStmtCache(conn)
	defer stmts.close()
	batch := make([]*writeJob, 0, maxBatch)
	for {
		var first *writeJob
		select {
		case first = <-db.jobs:
		case <-db.stop:
			// Drain what was queued before the stop, then quit.
			for {
				select {
				case job := <-db.jobs:
					job.done <- sb.Errorf(sb.EUNAVAILABLE, "The server is shutting down.")
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	more:
		for len(batch) < maxBatch {
			select {
			case job := <-db.jobs:
				batch = append(batch, job)
			default:
				break more
			}
		}
		db.commitBatch(ctx, conn, stmts, batch)
		db.restartLog(ctx, conn)
	}
}

func (db *DB) commitBatch(ctx context.Context, conn *sql.Conn, stmts *stmtCache, batch []*writeJob) {
	fail := func(err error) {
		for _, job := range batch {
			job.done <- err
		}
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		fail(fmt.Errorf("begin: %w", err))
		return
	}
	now := db.clock.Now()
	errs := make([]error, len(batch))
	for i, job := range batch {
		if err := job.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if _, err := stmts.ExecContext(ctx, "SAVEPOINT job"); err != nil {
			errs[i] = err
			continue
		}
		tx := &Tx{ctx: job.ctx, q: stmts, d: db.d, now: now}
		err := job.fn(tx)
		if err == nil {
			err = tx.flushEvents()
		}
		if err != nil {
			errs[i] = err
			if _, rerr := stmts.ExecContext(ctx, "ROLLBACK TO job"); rerr != nil {
				conn.ExecContext(ctx, "ROLLBACK")
				fail(fmt.Errorf("rollback savepoint: %w", rerr))
				return
			}
		} else {
			job.events = tx.events
		}
		if _, err := stmts.ExecContext(ctx, "RELEASE job"); err != nil {
			conn.ExecContext(ctx, "ROLLBACK")
			fail(fmt.Errorf("release savepoint: %w", err))
			return
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		conn.ExecContext(ctx, "ROLLBACK")
		fail(fmt.Errorf("commit: %w", err))
		return
	}
	db.committed()
	var events []sb.Event
	for i, job := range batch {
		if errs[i] == nil {
			events = append(events, job.events...)
		}
	}
	db.runHooks(events)
	for i, job := range batch {
		job.done <- errs[i]
	}
}

// stmtCache prepares each statement the SQLite writer runs once and reuses
// it: parsing SQL was a third of the server's CPU under load (BENCHMARKS.md).
// Only the writer goroutine uses it, so it needs no lock. Statements are
// bound to the writer's one connection.
type stmtCache struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

// maxCachedStmts bounds the cache; statements past it run unprepared.
const maxCachedStmts = 512

func newStmtCache(conn *sql.Conn) *stmtCache {
	return &stmtCache{conn: conn, stmts: make(map[string]*sql.Stmt)}
}

func (c *stmtCache) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := c.stmts[query]; ok {
		return st
	}
	if len(c.stmts) >= maxCachedStmts {
		return nil
	}
	// Prepare with a context that outlives this job: the statement stays.
	st, err := c.conn.PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil // the plain call below reports the error
	}
	c.stmts[query] = st
	return st
}

// ExecContext implements querier.
func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.conn.ExecContext(ctx, query, args...)
}

// QueryContext implements querier.
func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.conn.QueryContext(ctx, query, args...)
}

// QueryRowContext implements querier.
func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.conn.QueryRowContext(ctx, query, args...)
}

func (c *stmtCache) close() {
	for _, st := range c.stmts {
		st.Close()
	}
}

// eventLockKey serialises event-emitting PostgreSQL transactions from the
// moment they insert events until they commit, so positions are assigned in
// commit order: once a position is visible, every lower one is final.
const eventLockKey = 727002

func (db *DB) writePostgres(ctx context.Context, fn func(*Tx) error) error {
	for attempt := 0; ; attempt++ {
		events, err := db.writePostgresOnce(ctx, fn)
		if err == nil {
			db.runHooks(events)
			return nil
		}
		var pgErr *pgconn.PgError
		if attempt < 5 && errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01") {
			continue
		}
		return err
	}
}

func (db *DB) writePostgresOnce(ctx context.Context, fn func(*Tx) error) ([]sb.Event, error) {
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer sqlTx.Rollback()
	tx := &Tx{ctx: ctx, q: sqlTx, d: db.d, now: db.clock.Now()}
	if err := fn(tx); err != nil {
		return nil, err
	}
	if len(tx.events) > 0 {
		if _, err := sqlTx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, eventLockKey); err != nil {
			return nil, fmt.Errorf("lock events: %w", err)
		}
		if err := tx.flushEvents(); err != nil {
			return nil, err
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return tx.events, nil
}

// micros converts a time to the stored form.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros converts the stored form back.
func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// isUniqueViolation reports whether err is a unique-constraint failure on either backend.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	return err != nil && containsAny(err.Error(), "UNIQUE constraint failed", "constraint failed: UNIQUE")
}

// isForeignKeyViolation reports whether err is a foreign-key failure on either backend.
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23503"
	}
	return err != nil && containsAny(err.Error(), "FOREIGN KEY constraint failed")
}
