package store

import (
	"context"
	"fmt"

	sb "github.com/switchboard/switchboard"
)

// eventNote is the realtime event of a new team note (C8); Data is the Note.
// It belongs with the other event types in the domain package.
const eventNote = "note"

// CreateNote stores a note for the team on conversation c and announces it
// to the staff who can see c's inbox.
func (tx *Tx) CreateNote(c *sb.Conversation, n *sb.Note) error {
	if err := sb.ValidateBody(n.Body, false); err != nil {
		return err
	}
	n.ConversationID, n.CreatedAt = c.ID, tx.now
	err := tx.q.QueryRowContext(tx.ctx, `INSERT INTO notes (conversation_id, author_id, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		n.ConversationID, n.AuthorID, n.Body, micros(n.CreatedAt)).Scan(&n.ID)
	if isForeignKeyViolation(err) {
		return sb.Errorf(sb.ENOTFOUND, "Conversation or author not found.")
	}
	if err != nil {
		return fmt.Errorf("insert note: %w", err)
	}
	e := sb.NewEvent(sb.EventNote, sb.AudienceStaff, n)
	e.InboxID, e.ConversationID = c.InboxID, c.ID
	tx.Emit(e)
	return nil
}

// Notes returns a conversation's notes, oldest first.
func (db *DB) Notes(ctx context.Context, conversationID int64) ([]sb.Note, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, conversation_id, author_id, body, created_at
		FROM notes WHERE conversation_id = $1 ORDER BY id`, conversationID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []sb.Note{}
	for rows.Next() {
		var n sb.Note
		var created int64
		if err := rows.Scan(&n.ID, &n.ConversationID, &n.AuthorID, &n.Body, &created); err != nil {
			return nil, err
		}
		n.CreatedAt = fromMicros(created)
		out = append(out, n)
	}
	return out, rows.Err()
}
