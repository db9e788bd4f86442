package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	sb "github.com/switchboard/switchboard"
)

// Deadline kinds.
const (
	DeadlineOffer    = "offer"    // RefID: the offer; it expires
	DeadlineTransfer = "transfer" // RefID: the transfer request; it expires
	DeadlineIdle     = "idle"     // RefID: the conversation; it ends after inactivity (C7)
	DeadlinePresence = "presence" // RefID: the user; their last connection closed (P1)
)

// Deadline is something that must happen at a time: a row until it fires.
type Deadline struct {
	ID    int64
	Kind  string
	RefID int64
	DueAt time.Time
}

// Schedule sets the deadline of kind for ref to due, replacing an earlier one.
func (tx *Tx) Schedule(kind string, ref int64, due time.Time) error {
	_, err := tx.q.ExecContext(tx.ctx, `INSERT INTO deadlines (kind, ref_id, due_at) VALUES ($1, $2, $3)
		ON CONFLICT (kind, ref_id) DO UPDATE SET due_at = excluded.due_at`, kind, ref, micros(due))
	if err != nil {
		return fmt.Errorf("schedule %s deadline: %w", kind, err)
	}
	return nil
}

// scheduleBy makes sure the deadline of kind for ref is due at due or earlier.
func (tx *Tx) scheduleBy(kind string, ref int64, due time.Time) error {
	_, err := tx.q.ExecContext(tx.ctx, `INSERT INTO deadlines (kind, ref_id, due_at) VALUES ($1, $2, $3)
		ON CONFLICT (kind, ref_id) DO UPDATE SET due_at = excluded.due_at WHERE excluded.due_at < deadlines.due_at`, kind, ref, micros(due))
	if err != nil {
		return fmt.Errorf("schedule %s deadline: %w", kind, err)
	}
	return nil
}

// Unschedule removes the deadline of kind for ref, if any.
func (tx *Tx) Unschedule(kind string, ref int64) error {
	_, err := tx.q.ExecContext(tx.ctx, `DELETE FROM deadlines WHERE kind = $1 AND ref_id = $2`, kind, ref)
	return err
}

// IdleTimeout is how long conversation c may go without activity in its
// status before it is ended (C7); 0 when its status has no such limit.
func IdleTimeout(c *sb.Conversation, s sb.InboxSettings) time.Duration {
	d := sb.DefaultInboxSettings()
	assigned, waiting := s.AssignedIdleSec, s.WaitingIdleSec
	if assigned <= 0 {
		assigned = d.AssignedIdleSec
	}
	if waiting <= 0 {
		waiting = d.WaitingIdleSec
	}
	switch c.Status {
	case sb.StatusAssigned, sb.StatusTransferring:
		return time.Duration(assigned) * time.Second
	case sb.StatusWaiting, sb.StatusAssigning:
		return time.Duration(waiting) * time.Second
	}
	return 0
}

// IdleCheck is how often a live conversation's inactivity is checked at
// most: the shorter of the inbox's two timeouts. Checking that often, a
// conversation that changes status (and so timeout) between two checks is
// still ended on time, without its deadline being moved at every step.
func IdleCheck(s sb.InboxSettings) time.Duration {
	c := &sb.Conversation{Status: sb.StatusAssigned}
	w := &sb.Conversation{Status: sb.StatusWaiting}
	return min(IdleTimeout(c, s), IdleTimeout(w, s))
}

// ensureIdleDeadline makes sure live conversation c's inactivity is checked
// no later than IdleCheck after its last activity.
func (tx *Tx) ensureIdleDeadline(c *sb.Conversation) error {
	in, err := tx.Inbox(c.InboxID)
	if err != nil {
		return err
	}
	return tx.scheduleBy(DeadlineIdle, c.ID, c.LastActivity.Add(IdleCheck(in.Settings)))
}

// DueDeadlines returns up to limit deadlines due at now, earliest first.
func (db *DB) DueDeadlines(ctx context.Context, now time.Time, limit int) ([]Deadline, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, kind, ref_id, due_at FROM deadlines WHERE due_at <= $1 ORDER BY due_at, id LIMIT $2`, micros(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Deadline
	for rows.Next() {
		var d Deadline
		var due int64
		if err := rows.Scan(&d.ID, &d.Kind, &d.RefID, &due); err != nil {
			return nil, err
		}
		d.DueAt = fromMicros(due)
		out = append(out, d)
	}
	return out, rows.Err()
}

// NextDeadline returns when the earliest deadline is due; ok is false when
// there is none.
func (db *DB) NextDeadline(ctx context.Context) (due time.Time, ok bool, err error) {
	var us sql.NullInt64
	if err := db.read.QueryRowContext(ctx, `SELECT MIN(due_at) FROM deadlines`).Scan(&us); err != nil {
		return time.Time{}, false, err
	}
	if !us.Valid {
		return time.Time{}, false, nil
	}
	return fromMicros(us.Int64), true, nil
}

// PendingDeadlines returns every deadline still to fire (for tests).
func (db *DB) PendingDeadlines(ctx context.Context) ([]Deadline, error) {
	return db.DueDeadlines(ctx, time.Unix(1<<40, 0), 1<<30)
}

// ClaimDeadline takes deadline d for this transaction if it is still there
// and due: it is deleted, so it fires exactly once, with whatever the
// transaction does about it. On PostgreSQL a deadline another node is firing
// is skipped. Lock what the deadline acts on first (see the lock order).
func (tx *Tx) ClaimDeadline(d Deadline) (bool, error) {
	var due int64
	err := tx.q.QueryRowContext(tx.ctx, `SELECT due_at FROM deadlines WHERE id = $1`+tx.d.skipLocked(), d.ID).Scan(&due)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim deadline: %w", err)
	}
	if due > micros(tx.now) {
		return false, nil // moved later since it was read
	}
	if _, err := tx.q.ExecContext(tx.ctx, `DELETE FROM deadlines WHERE id = $1`, d.ID); err != nil {
		return false, fmt.Errorf("claim deadline: %w", err)
	}
	return true, nil
}

// SetConnections records how many realtime connections a user has open on a node.
func (tx *Tx) SetConnections(node string, userID int64, n int) error {
	var err error
	if n <= 0 {
		_, err = tx.q.ExecContext(tx.ctx, `DELETE FROM user_connections WHERE node_id = $1 AND user_id = $2`, node, userID)
	} else {
		_, err = tx.q.ExecContext(tx.ctx, `INSERT INTO user_connections (node_id, user_id, conns) VALUES ($1, $2, $3)
			ON CONFLICT (user_id, node_id) DO UPDATE SET conns = excluded.conns`, node, userID, n)
	}
	if isForeignKeyViolation(err) {
		return sb.NotFound("User")
	}
	return err
}

// Connections returns how many realtime connections a user has open on all nodes.
func (tx *Tx) Connections(userID int64) (int, error) {
	var n int
	err := tx.q.QueryRowContext(tx.ctx, `SELECT COALESCE(SUM(conns), 0) FROM user_connections WHERE user_id = $1`, userID).Scan(&n)
	return n, err
}

// ClearNodeConnections forgets a node's connections (it restarted) and
// returns the users who had some.
func (tx *Tx) ClearNodeConnections(node string) ([]int64, error) {
	users, err := ids(tx.ctx, tx.q, `SELECT user_id FROM user_connections WHERE node_id = $1 ORDER BY user_id`, node)
	if err != nil {
		return nil, err
	}
	_, err = tx.q.ExecContext(tx.ctx, `DELETE FROM user_connections WHERE node_id = $1`, node)
	return users, err
}
