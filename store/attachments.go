package store

import (
	"context"
	"fmt"

	sb "github.com/switchboard/switchboard"
)

// CreateAttachment records a file already saved under a.StorageKey.
func (tx *Tx) CreateAttachment(a *sb.Attachment) error {
	if a.StorageKey == "" || a.FileName == "" || a.Size < 0 {
		return sb.Errorf(sb.EINVALID, "Attachment needs a storage key, a file name and a size.")
	}
	a.CreatedAt = tx.now
	err := tx.q.QueryRowContext(tx.ctx, `INSERT INTO attachments (conversation_id, file_name, content_type, size, storage_key, uploaded_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		a.ConversationID, a.FileName, a.ContentType, a.Size, a.StorageKey, string(a.UploadedBy), micros(a.CreatedAt)).Scan(&a.ID)
	if isForeignKeyViolation(err) {
		return sb.NotFound("Conversation")
	}
	if isUniqueViolation(err) {
		return sb.Errorf(sb.ECONFLICT, "The attachment's storage key is already in use.")
	}
	if err != nil {
		return fmt.Errorf("insert attachment: %w", err)
	}
	return nil
}

// Attachment returns an attachment by id. Callers check that the caller may
// see its conversation.
func (db *DB) Attachment(ctx context.Context, id int64) (*sb.Attachment, error) {
	var a sb.Attachment
	var created int64
	err := db.read.QueryRowContext(ctx, `SELECT id, conversation_id, file_name, content_type, size, storage_key, uploaded_by, created_at
		FROM attachments WHERE id = $1`, id).
		Scan(&a.ID, &a.ConversationID, &a.FileName, &a.ContentType, &a.Size, &a.StorageKey, &a.UploadedBy, &created)
	if err != nil {
		return nil, notFound(err, "Attachment")
	}
	a.CreatedAt = fromMicros(created)
	return &a, nil
}
