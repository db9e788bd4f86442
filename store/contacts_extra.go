package store

import (
	"context"
	"fmt"
	"strings"

	sb "github.com/switchboard/switchboard"
)

// inboxScope returns an "inbox_id IN (…)" condition for inboxIDs, numbering
// its placeholders after the args already given, and the args extended.
func inboxScope(inboxIDs []int64, args []any) (string, []any) {
	ph := make([]string, len(inboxIDs))
	for i, id := range inboxIDs {
		args = append(args, id)
		ph[i] = fmt.Sprintf("$%d", len(args))
	}
	return "inbox_id IN (" + strings.Join(ph, ", ") + ")", args
}

// ContactConversations returns every conversation of a contact in the given
// inboxes (nil: all; empty: none), newest first: the customer's journey (H1, H2).
func (db *DB) ContactConversations(ctx context.Context, contactID int64, inboxIDs []int64) ([]*sb.Conversation, error) {
	out := []*sb.Conversation{}
	if inboxIDs != nil && len(inboxIDs) == 0 {
		return out, nil
	}
	q := `SELECT ` + conversationColumns + ` FROM conversations WHERE contact_id = $1`
	args := []any{contactID}
	if inboxIDs != nil {
		var cond string
		cond, args = inboxScope(inboxIDs, args)
		q += " AND " + cond
	}
	rows, err := db.read.QueryContext(ctx, q+` ORDER BY id DESC`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ContactInInboxes reports whether a contact has a conversation in one of
// the given inboxes (nil: any inbox): whether staff limited to those inboxes
// may see the contact.
func (db *DB) ContactInInboxes(ctx context.Context, contactID int64, inboxIDs []int64) (bool, error) {
	if inboxIDs != nil && len(inboxIDs) == 0 {
		return false, nil
	}
	q := `SELECT COUNT(*) FROM conversations WHERE contact_id = $1`
	args := []any{contactID}
	if inboxIDs != nil {
		var cond string
		cond, args = inboxScope(inboxIDs, args)
		q += " AND " + cond
	}
	var n int
	if err := db.read.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}

// VisitorByContact returns the newest widget visitor bound to a contact.
func (tx *Tx) VisitorByContact(contactID int64) (*sb.Visitor, error) {
	var v sb.Visitor
	var created int64
	err := tx.q.QueryRowContext(tx.ctx, `SELECT id, contact_id, token_hash, created_at FROM visitors
		WHERE contact_id = $1 ORDER BY id DESC LIMIT 1`, contactID).
		Scan(&v.ID, &v.ContactID, &v.TokenHash, &created)
	if err != nil {
		return nil, notFound(err, "Visitor")
	}
	v.CreatedAt = fromMicros(created)
	return &v, nil
}
