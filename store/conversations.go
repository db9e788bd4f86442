package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	sb "github.com/switchboard/switchboard"
)

const conversationColumns = `id, inbox_id, contact_id, channel, status, assignee_id, department_id, category_id, ticket_status,
	subject, last_seq, last_preview, last_activity_at, created_at, ended_at, ended_by, parent_id`

func scanConversation(row interface{ Scan(...any) error }) (*sb.Conversation, error) {
	var c sb.Conversation
	var assignee, dept, cat, ended, parent nullInt
	var last, created int64
	err := row.Scan(&c.ID, &c.InboxID, &c.ContactID, &c.Channel, &c.Status, &assignee, &dept, &cat, &c.Ticket,
		&c.Subject, &c.LastSeq, &c.LastPreview, &last, &created, &ended, &c.EndedBy, &parent)
	if err != nil {
		return nil, err
	}
	c.AssigneeID, c.DepartmentID, c.CategoryID, c.ParentID = assignee.ptr(), dept.ptr(), cat.ptr(), parent.ptr()
	c.LastActivity, c.CreatedAt = fromMicros(last), fromMicros(created)
	if ended.Valid {
		t := fromMicros(ended.Int64)
		c.EndedAt = &t
	}
	return &c, nil
}

func getConversation(ctx context.Context, q querier, id int64, lock string) (*sb.Conversation, error) {
	c, err := scanConversation(q.QueryRowContext(ctx, `SELECT `+conversationColumns+` FROM conversations WHERE id = $1`+lock, id))
	return c, notFound(err, "Conversation")
}

// Conversation returns a conversation by id. Callers check access with Principal.
func (db *DB) Conversation(ctx context.Context, id int64) (*sb.Conversation, error) {
	return getConversation(ctx, db.read, id, "")
}

// Conversation returns a conversation by id inside the transaction, locking
// its row on PostgreSQL so that concurrent changes to it serialise.
func (tx *Tx) Conversation(id int64) (*sb.Conversation, error) {
	return getConversation(tx.ctx, tx.q, id, tx.d.forUpdate)
}

// LiveConversation returns the contact's live conversation in an inbox.
func (tx *Tx) LiveConversation(inboxID, contactID int64) (*sb.Conversation, error) {
	c, err := scanConversation(tx.q.QueryRowContext(tx.ctx, `SELECT `+conversationColumns+` FROM conversations
		WHERE inbox_id = $1 AND contact_id = $2 AND status NOT IN ('ended', 'failed') AND ticket_status = ''`+tx.d.forUpdate, inboxID, contactID))
	return c, notFound(err, "Conversation")
}

// CreateConversation stores a new conversation and records its creation. If
// the contact already has a live conversation in the inbox, that one is
// returned with created == false: the database's unique index decides, so
// two racing starts end in one conversation.
func (tx *Tx) CreateConversation(c *sb.Conversation, actorID *int64) (created bool, err error) {
	if c.Status == "" {
		c.Status = sb.StatusWaiting
	}
	if c.Channel == "" {
		c.Channel = sb.ChannelWidget
	}
	c.CreatedAt, c.LastActivity = tx.now, tx.now
	rows, err := tx.q.QueryContext(tx.ctx, `INSERT INTO conversations (inbox_id, contact_id, channel, status, assignee_id, department_id, ticket_status, subject, last_activity_at, created_at, parent_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING RETURNING id`,
		c.InboxID, c.ContactID, string(c.Channel), string(c.Status), nullInt64(c.AssigneeID), nullInt64(c.DepartmentID), string(c.Ticket), c.Subject,
		micros(c.LastActivity), micros(c.CreatedAt), nullInt64(c.ParentID))
	if isForeignKeyViolation(err) {
		return false, sb.Errorf(sb.ENOTFOUND, "Inbox or contact not found.")
	}
	if err != nil {
		return false, fmt.Errorf("insert conversation: %w", err)
	}
	inserted := rows.Next()
	if inserted {
		err = rows.Scan(&c.ID)
	}
	rows.Close()
	if err != nil {
		return false, err
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	if !inserted {
		live, err := tx.LiveConversation(c.InboxID, c.ContactID)
		if err != nil {
			return false, err
		}
		*c = *live
		return false, nil
	}
	if err := tx.AddHistory(c, "created", actorID, "", c.Status, nil); err != nil {
		return false, err
	}
	tx.emitConversation(c)
	return true, nil
}

// ConversationChange is a change of a conversation's state.
type ConversationChange struct {
	Status       *sb.Status
	AssigneeID   **int64
	DepartmentID **int64
	CategoryID   **int64
	Ticket       *sb.TicketStatus
	EndedBy      string
	Kind         string // the history kind; defaults to "status" or "updated"
	ActorID      *int64
	Data         any // extra detail for the history entry
}

// ChangeConversation applies a change to c (read in this transaction),
// checks the status machine, records history and emits events.
func (tx *Tx) ChangeConversation(c *sb.Conversation, ch ConversationChange) error {
	from := c.Status
	kind := ch.Kind
	if ch.Status != nil && *ch.Status != c.Status {
		if !c.Status.CanMove(*ch.Status) {
			return sb.Errorf(sb.ECONFLICT, "A %s conversation cannot become %s.", c.Status, *ch.Status)
		}
		c.Status = *ch.Status
		if kind == "" {
			kind = "status"
		}
		if !c.Status.Live() {
			now := tx.now
			c.EndedAt = &now
			c.EndedBy = ch.EndedBy
		} else {
			c.EndedAt = nil
			c.EndedBy = ""
		}
	}
	if ch.AssigneeID != nil {
		c.AssigneeID = *ch.AssigneeID
	}
	if ch.DepartmentID != nil {
		c.DepartmentID = *ch.DepartmentID
	}
	if ch.CategoryID != nil {
		c.CategoryID = *ch.CategoryID
	}
	if ch.Ticket != nil {
		c.Ticket = *ch.Ticket
	}
	if kind == "" {
		kind = "updated"
	}
	c.LastActivity = tx.now
	var ended any
	if c.EndedAt != nil {
		ended = micros(*c.EndedAt)
	}
	_, err := tx.q.ExecContext(tx.ctx, `UPDATE conversations SET status = $1, assignee_id = $2, department_id = $3, category_id = $4,
		ticket_status = $5, ended_at = $6, ended_by = $7, last_activity_at = $8 WHERE id = $9`,
		string(c.Status), nullInt64(c.AssigneeID), nullInt64(c.DepartmentID), nullInt64(c.CategoryID), string(c.Ticket), ended, c.EndedBy, micros(c.LastActivity), c.ID)
	if isForeignKeyViolation(err) {
		return sb.Errorf(sb.ENOTFOUND, "Agent, department or category not found.")
	}
	if isUniqueViolation(err) {
		return sb.Errorf(sb.ECONFLICT, "The customer already has a live conversation in this inbox.")
	}
	if err != nil {
		return fmt.Errorf("update conversation: %w", err)
	}
	var to sb.Status
	if from != c.Status {
		to = c.Status
	} else {
		from = ""
	}
	if err := tx.AddHistory(c, kind, ch.ActorID, from, to, ch.Data); err != nil {
		return err
	}
	tx.emitConversation(c)
	return nil
}

func (tx *Tx) emitConversation(c *sb.Conversation) {
	e := sb.NewEvent(sb.EventConversation, sb.AudienceConversation, c)
	e.InboxID, e.ConversationID, e.ContactID = c.InboxID, c.ID, c.ContactID
	tx.Emit(e)
}

// AddHistory appends an entry to a conversation's history and announces it to staff.
func (tx *Tx) AddHistory(c *sb.Conversation, kind string, actorID *int64, from, to sb.Status, data any) error {
	h := sb.HistoryEntry{ConversationID: c.ID, Kind: kind, ActorID: actorID, FromStatus: from, ToStatus: to, CreatedAt: tx.now}
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return err
		}
		h.Data = b
	}
	err := tx.q.QueryRowContext(tx.ctx, `INSERT INTO history (conversation_id, kind, actor_id, from_status, to_status, data, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		h.ConversationID, h.Kind, nullInt64(h.ActorID), string(h.FromStatus), string(h.ToStatus), string(h.Data), micros(h.CreatedAt)).Scan(&h.ID)
	if err != nil {
		return fmt.Errorf("insert history: %w", err)
	}
	e := sb.NewEvent(sb.EventHistory, sb.AudienceStaff, h)
	e.InboxID, e.ConversationID = c.InboxID, c.ID
	tx.Emit(e)
	return nil
}

// History returns a conversation's history, oldest first.
func (db *DB) History(ctx context.Context, conversationID int64) ([]sb.HistoryEntry, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, conversation_id, kind, actor_id, from_status, to_status, data, created_at
		FROM history WHERE conversation_id = $1 ORDER BY id`, conversationID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []sb.HistoryEntry{}
	for rows.Next() {
		var h sb.HistoryEntry
		var actor nullInt
		var data string
		var created int64
		if err := rows.Scan(&h.ID, &h.ConversationID, &h.Kind, &actor, &h.FromStatus, &h.ToStatus, &data, &created); err != nil {
			return nil, err
		}
		h.ActorID = actor.ptr()
		if data != "" {
			h.Data = json.RawMessage(data)
		}
		h.CreatedAt = fromMicros(created)
		out = append(out, h)
	}
	return out, rows.Err()
}

// ConversationFilter selects conversations for a list. Results are newest
// first and paged by id (Before).
type ConversationFilter struct {
	InboxIDs   []int64 // nil: all inboxes (admins); empty: none
	Statuses   []sb.Status
	AssigneeID *int64
	Unassigned bool
	ContactID  *int64
	Ticket     *sb.TicketStatus
	Before     int64 // page: ids below this
	Limit      int
}

// Conversations lists conversations matching f.
func (db *DB) Conversations(ctx context.Context, f ConversationFilter) ([]*sb.Conversation, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.InboxIDs != nil {
		if len(f.InboxIDs) == 0 {
			return []*sb.Conversation{}, nil
		}
		ph := make([]string, len(f.InboxIDs))
		for i, id := range f.InboxIDs {
			ph[i] = arg(id)
		}
		where = append(where, "inbox_id IN ("+strings.Join(ph, ", ")+")")
	}
	if len(f.Statuses) > 0 {
		ph := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			ph[i] = arg(string(s))
		}
		where = append(where, "status IN ("+strings.Join(ph, ", ")+")")
	}
	if f.AssigneeID != nil {
		where = append(where, "assignee_id = "+arg(*f.AssigneeID))
	}
	if f.Unassigned {
		where = append(where, "assignee_id IS NULL")
	}
	if f.ContactID != nil {
		where = append(where, "contact_id = "+arg(*f.ContactID))
	}
	if f.Ticket != nil {
		where = append(where, "ticket_status = "+arg(string(*f.Ticket)))
	}
	if f.Before > 0 {
		where = append(where, "id < "+arg(f.Before))
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	q := `SELECT ` + conversationColumns + ` FROM conversations`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT " + arg(f.Limit)
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*sb.Conversation{}
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
