package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	sb "github.com/switchboard/switchboard"
)

var _ sb.EventLog = (*DB)(nil)

var _ sb.FilteredEventLog = (*DB)(nil)

const eventColumns = `pos, type, audience, inbox_id, conversation_id, contact_id, user_id, data, created_at`

// EventsAfter returns up to limit committed events with Pos > after, in order.
func (db *DB) EventsAfter(ctx context.Context, after int64, limit int) ([]sb.Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	return db.queryEvents(ctx, `SELECT `+eventColumns+` FROM events WHERE pos > $1 ORDER BY pos LIMIT $2`, after, limit)
}

// EventsFor returns up to limit committed events with Pos > after that f
// lets through, in order. It walks the positions after the client's and
// skips, inside the database, what the client may not see: a fraction of a
// microsecond per event, where reading every event back into Go to check it
// cost several. An index on events(contact_id, pos) would make a visitor's
// resume cost only what it missed, but it is one more B-tree insert at a
// random place for every event: measured at 8,000 msg/s it doubled delivery
// latency (BENCHMARKS.md), for the sake of resumes far behind, which are rare.
func (db *DB) EventsFor(ctx context.Context, after int64, limit int, f sb.EventFilter) ([]sb.Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	switch {
	case f.ContactID != 0:
		return db.queryEvents(ctx, `SELECT `+eventColumns+` FROM events
			WHERE pos > $2 AND contact_id = $1 AND audience = 'conversation'
			ORDER BY pos LIMIT $3`, f.ContactID, after, limit)
	case f.UserID == 0:
		return nil, nil // neither a visitor nor staff: nothing
	case f.AllInboxes:
		return db.queryEvents(ctx, `SELECT `+eventColumns+` FROM events
			WHERE pos > $1 AND (audience <> 'user' OR user_id = $2) ORDER BY pos LIMIT $3`, after, f.UserID, limit)
	}
	// The inbox list becomes parameters: a staff member has a handful.
	args := []any{after, f.UserID, limit}
	inboxes := "NULL" // matches no event
	if len(f.InboxIDs) > 0 {
		var b strings.Builder
		for i, id := range f.InboxIDs {
			if i > 0 {
				b.WriteByte(',')
			}
			args = append(args, id)
			fmt.Fprintf(&b, "$%d", len(args))
		}
		inboxes = b.String()
	}
	return db.queryEvents(ctx, `SELECT `+eventColumns+` FROM events
		WHERE pos > $1 AND (audience = 'org' OR (audience = 'user' AND user_id = $2)
			OR (audience IN ('conversation', 'staff') AND inbox_id IN (`+inboxes+`)))
		ORDER BY pos LIMIT $3`, args...)
}

func (db *DB) queryEvents(ctx context.Context, query string, args ...any) ([]sb.Event, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
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
