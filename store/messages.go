package store

import (
	"context"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	sb "github.com/switchboard/switchboard"
)

// messageSelect reads messages with the name, type and size of their file.
const messageSelect = `SELECT m.id, m.conversation_id, m.thread, m.seq, m.sender, m.author_id, m.author_name, m.body, m.client_id,
	m.attachment_id, m.mentions, m.created_at, a.file_name, a.content_type, a.size
	FROM messages m LEFT JOIN attachments a ON a.id = m.attachment_id`

func scanMessage(row interface{ Scan(...any) error }) (*sb.Message, error) {
	var m sb.Message
	var author, att nullInt
	var clientID *string
	var mentions string
	var created int64
	var fileName, contentType *string
	var size *int64
	if err := row.Scan(&m.ID, &m.ConversationID, &m.Thread, &m.Seq, &m.Sender, &author, &m.AuthorName, &m.Body, &clientID, &att, &mentions, &created,
		&fileName, &contentType, &size); err != nil {
		return nil, err
	}
	m.AuthorID, m.AttachmentID = author.ptr(), att.ptr()
	if m.AttachmentID != nil && fileName != nil && contentType != nil && size != nil {
		m.Attachment = &sb.Attachment{ID: *m.AttachmentID, ConversationID: m.ConversationID, FileName: *fileName, ContentType: *contentType, Size: *size, UploadedBy: m.Sender}
	}
	if clientID != nil {
		m.ClientID = *clientID
	}
	if mentions != "" {
		if err := json.Unmarshal([]byte(mentions), &m.Mentions); err != nil {
			return nil, fmt.Errorf("message %d mentions: %w", m.ID, err)
		}
	}
	m.CreatedAt = fromMicros(created)
	return &m, nil
}

// CreateMessage stores m in conversation c (read with tx.Conversation, so its
// row is locked), giving it the next sequence number of its thread. If the
// client id was used before in this conversation, the original message is
// returned with created == false and nothing is stored.
func (tx *Tx) CreateMessage(c *sb.Conversation, m *sb.Message) (created bool, err error) {
	if !m.Thread.Valid() {
		return false, sb.Errorf(sb.EINVALID, "Thread %q is not valid.", m.Thread)
	}
	if err := sb.ValidateClientID(m.ClientID); err != nil {
		return false, err
	}
	if m.ClientID != "" {
		orig, err := scanMessage(tx.q.QueryRowContext(tx.ctx, messageSelect+` WHERE m.conversation_id = $1 AND m.client_id = $2`, c.ID, m.ClientID))
		if err == nil {
			*m = *orig
			return false, nil
		}
		if err := notFound(err, "Message"); sb.ErrorCode(err) != sb.ENOTFOUND {
			return false, err
		}
	}
	if err := sb.ValidateBody(m.Body, m.AttachmentID != nil); err != nil {
		return false, err
	}
	counter := "last_seq"
	if m.Thread != sb.ThreadPublic {
		counter = "internal_seq"
	}
	preview := m.Body
	if m.Thread == sb.ThreadPublic {
		if m.Body == "" && m.AttachmentID != nil {
			preview = "📎 Attachment"
			if m.Attachment != nil {
				preview = "📎 " + m.Attachment.FileName
			}
		}
		preview = truncate(preview, 140)
	}
	var seq int64
	var q string
	if m.Thread == sb.ThreadPublic {
		q = `UPDATE conversations SET last_seq = last_seq + 1, last_preview = $1, last_activity_at = $2 WHERE id = $3 RETURNING last_seq`
		err = tx.q.QueryRowContext(tx.ctx, q, preview, micros(tx.now), c.ID).Scan(&seq)
	} else {
		q = `UPDATE conversations SET ` + counter + ` = ` + counter + ` + 1 WHERE id = $1 RETURNING ` + counter
		err = tx.q.QueryRowContext(tx.ctx, q, c.ID).Scan(&seq)
	}
	if err != nil {
		return false, notFound(err, "Conversation")
	}
	m.ConversationID, m.Seq, m.CreatedAt = c.ID, seq, tx.now
	var clientID any
	if m.ClientID != "" {
		clientID = m.ClientID
	}
	var mentions string
	if len(m.Mentions) > 0 {
		b, _ := json.Marshal(m.Mentions)
		mentions = string(b)
	}
	err = tx.q.QueryRowContext(tx.ctx, `INSERT INTO messages (conversation_id, thread, seq, sender, author_id, author_name, body, client_id, attachment_id, mentions, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		m.ConversationID, string(m.Thread), m.Seq, string(m.Sender), nullInt64(m.AuthorID), m.AuthorName, m.Body, clientID, nullInt64(m.AttachmentID), mentions, micros(m.CreatedAt)).Scan(&m.ID)
	if err != nil {
		return false, fmt.Errorf("insert message: %w", err)
	}
	if m.Thread == sb.ThreadPublic {
		c.LastSeq, c.LastPreview, c.LastActivity = seq, preview, tx.now
	}
	aud := sb.AudienceConversation
	if m.Thread != sb.ThreadPublic {
		aud = sb.AudienceStaff
	}
	e := sb.NewEvent(sb.EventMessage, aud, m)
	e.InboxID, e.ConversationID, e.ContactID = c.InboxID, c.ID, c.ContactID
	tx.Emit(e)
	return true, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Messages returns up to limit messages of a thread with seq > after, in order.
func (db *DB) Messages(ctx context.Context, conversationID int64, thread sb.Thread, after int64, limit int) ([]*sb.Message, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := db.read.QueryContext(ctx, messageSelect+`
		WHERE m.conversation_id = $1 AND m.thread = $2 AND m.seq > $3 ORDER BY m.seq LIMIT $4`, conversationID, string(thread), after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*sb.Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Message returns one message by id.
func (db *DB) Message(ctx context.Context, id int64) (*sb.Message, error) {
	m, err := scanMessage(db.read.QueryRowContext(ctx, messageSelect+` WHERE m.id = $1`, id))
	return m, notFound(err, "Message")
}

// MessageByClientID returns the message a client id named in a conversation.
func (db *DB) MessageByClientID(ctx context.Context, conversationID int64, clientID string) (*sb.Message, error) {
	m, err := scanMessage(db.read.QueryRowContext(ctx, messageSelect+` WHERE m.conversation_id = $1 AND m.client_id = $2`, conversationID, clientID))
	return m, notFound(err, "Message")
}
