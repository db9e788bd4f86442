package store

import (
	"context"
	"fmt"
	"strconv"

	sb "github.com/switchboard/switchboard"
)

// blockNoun names what a block kind matches, for messages.
var blockNoun = map[sb.BlockKind]string{
	sb.BlockEmail:   "e-mail address",
	sb.BlockPhone:   "phone number",
	sb.BlockVisitor: "widget visitor",
}

// CreateBlock stores a block for the whole organisation (C12). Blocking the
// same kind and value twice is a conflict, decided by the unique index.
func (tx *Tx) CreateBlock(b *sb.Block) error {
	if err := b.Validate(); err != nil {
		return err
	}
	if b.Kind == sb.BlockVisitor {
		// Blocked matches visitors by their id written in decimal; anything
		// else could never match.
		if id, err := strconv.ParseInt(b.Value, 10, 64); err != nil || id <= 0 || strconv.FormatInt(id, 10) != b.Value {
			return sb.Errorf(sb.EINVALID, "A visitor block's value must be a visitor id.")
		}
	}
	b.CreatedAt = tx.now
	err := tx.q.QueryRowContext(tx.ctx, `INSERT INTO blocks (kind, value, reason, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		string(b.Kind), b.Value, b.Reason, b.CreatedBy, micros(b.CreatedAt)).Scan(&b.ID)
	if isUniqueViolation(err) {
		return sb.Errorf(sb.ECONFLICT, "The %s %s is already blocked.", blockNoun[b.Kind], b.Value)
	}
	if isForeignKeyViolation(err) {
		return sb.NotFound("User")
	}
	if err != nil {
		return fmt.Errorf("insert block: %w", err)
	}
	return nil
}

// Blocks lists the blocks, newest first.
func (db *DB) Blocks(ctx context.Context) ([]sb.Block, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, kind, value, reason, created_by, created_at FROM blocks ORDER BY id DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []sb.Block{}
	for rows.Next() {
		var b sb.Block
		var created int64
		if err := rows.Scan(&b.ID, &b.Kind, &b.Value, &b.Reason, &b.CreatedBy, &created); err != nil {
			return nil, err
		}
		b.CreatedAt = fromMicros(created)
		out = append(out, b)
	}
	return out, rows.Err()
}

// DeleteBlock lifts a block.
func (tx *Tx) DeleteBlock(id int64) error {
	res, err := tx.q.ExecContext(tx.ctx, `DELETE FROM blocks WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete block: %w", err)
	}
	return mustAffect(res, "Block")
}

// Blocked reports whether a new conversation from this contact (which may be
// nil) or widget visitor (0 for none) is refused: its e-mail address, phone
// number or visitor id is blocked.
func (tx *Tx) Blocked(contact *sb.Contact, visitorID int64) (bool, error) {
	// Blocks never hold an empty value, so "" matches nothing.
	var email, phone, visitor string
	if contact != nil {
		email = sb.NormalizeEmail(contact.Email)
		// Phone blocks are stored normalised; a contact's phone is written as
		// its channel or an agent gave it. One that is no phone number
		// matches no phone block.
		phone, _ = sb.NormalizePhone(contact.Phone)
	}
	if visitorID > 0 {
		visitor = strconv.FormatInt(visitorID, 10)
	}
	if email == "" && phone == "" && visitor == "" {
		return false, nil
	}
	var n int
	err := tx.q.QueryRowContext(tx.ctx, `SELECT COUNT(*) FROM blocks
		WHERE (kind = 'email' AND value = $1) OR (kind = 'phone' AND value = $2) OR (kind = 'visitor' AND value = $3)`,
		email, phone, visitor).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("check blocks: %w", err)
	}
	return n > 0, nil
}
