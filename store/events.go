package store

import (
	"context"
	"encoding/json"
	"time"

	sb "github.com/switchboard/switchboard"
)

var _ sb.EventLog = (*DB)(nil)

// EventsAfter returns up to limit committed events with Pos > after, in order.
func (db *DB) EventsAfter(ctx context.Context, after int64, limit int) ([]sb.Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := db.read.QueryContext(ctx, `SELECT pos, type, audience, inbox_id, conversation_id, contact_id, user_id, data, created_at
		FROM events WHERE pos > $1 ORDER BY pos LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sb.Event
	for rows.Next() {
		var e sb.Event
		var data string
		var created int64
		if err := rows.Scan(&e.Pos, &e.Type, &e.Audience, &e.InboxID, &e.ConversationID, &e.ContactID, &e.UserID, &data, &created); err != nil {
			return nil, err
		}
		e.Data = json.RawMessage(data)
		e.CreatedAt = fromMicros(created)
		out = append(out, e)
	}
	return out, rows.Err()
}

// EventBounds returns the oldest retained and newest event positions.
func (db *DB) EventBounds(ctx context.Context) (oldest, newest int64, err error) {
	var lo, hi *int64
	if err := db.read.QueryRowContext(ctx, `SELECT MIN(pos), MAX(pos) FROM events`).Scan(&lo, &hi); err != nil {
		return 0, 0, err
	}
	if lo == nil || hi == nil {
		// The stream may be empty after pruning; the newest position is then
		// the table's high-water mark, which both backends keep.
		return 0, db.eventHighWater(ctx), nil
	}
	return *lo, *hi, nil
}

func (db *DB) eventHighWater(ctx context.Context) int64 {
	var n int64
	if db.d == sqlite {
		db.read.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)`).Scan(&n)
	} else {
		db.read.QueryRowContext(ctx, `SELECT COALESCE(last_value, 0) FROM events_pos_seq WHERE is_called`).Scan(&n)
	}
	return n
}

// PruneEvents deletes events older than the cutoff; clients further behind resync.
func (db *DB) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.Write(ctx, func(tx *Tx) error {
		res, err := tx.q.ExecContext(tx.ctx, `DELETE FROM events WHERE created_at < $1`, micros(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
