package store

import (
	"context"
	"fmt"

	sb "github.com/switchboard/switchboard"
)

const contactColumns = `id, name, email, phone, created_at`

func scanContact(row interface{ Scan(...any) error }) (*sb.Contact, error) {
	var c sb.Contact
	var created int64
	if err := row.Scan(&c.ID, &c.Name, &c.Email, &c.Phone, &created); err != nil {
		return nil, err
	}
	c.CreatedAt = fromMicros(created)
	return &c, nil
}

func getContact(ctx context.Context, q querier, id int64) (*sb.Contact, error) {
	c, err := scanContact(q.QueryRowContext(ctx, `SELECT `+contactColumns+` FROM contacts WHERE id = $1`, id))
	return c, notFound(err, "Contact")
}

// Contact returns a contact by id.
func (db *DB) Contact(ctx context.Context, id int64) (*sb.Contact, error) {
	return getContact(ctx, db.read, id)
}

// Contact returns a contact by id inside the transaction.
func (tx *Tx) Contact(id int64) (*sb.Contact, error) { return getContact(tx.ctx, tx.q, id) }

// CreateContact stores a new contact.
func (tx *Tx) CreateContact(c *sb.Contact) error {
	if err := c.Validate(); err != nil {
		return err
	}
	c.CreatedAt = tx.now
	return tx.q.QueryRowContext(tx.ctx, `INSERT INTO contacts (name, email, phone, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		c.Name, c.Email, c.Phone, micros(c.CreatedAt)).Scan(&c.ID)
}

// UpdateContact writes a contact's name, e-mail and phone.
func (tx *Tx) UpdateContact(c *sb.Contact) error {
	if err := c.Validate(); err != nil {
		return err
	}
	res, err := tx.q.ExecContext(tx.ctx, `UPDATE contacts SET name = $1, email = $2, phone = $3 WHERE id = $4`, c.Name, c.Email, c.Phone, c.ID)
	if err != nil {
		return fmt.Errorf("update contact: %w", err)
	}
	return mustAffect(res, "Contact")
}

// CreateVisitor stores a widget visitor with a fresh contact.
func (tx *Tx) CreateVisitor(v *sb.Visitor) error {
	if v.ContactID == 0 {
		c := &sb.Contact{}
		if err := tx.CreateContact(c); err != nil {
			return err
		}
		v.ContactID = c.ID
	}
	v.CreatedAt = tx.now
	return tx.q.QueryRowContext(tx.ctx, `INSERT INTO visitors (contact_id, token_hash, created_at) VALUES ($1, $2, $3) RETURNING id`,
		v.ContactID, v.TokenHash, micros(v.CreatedAt)).Scan(&v.ID)
}

// VisitorByHash finds a visitor by the hash of their token.
func (db *DB) VisitorByHash(ctx context.Context, hash []byte) (*sb.Visitor, error) {
	var v sb.Visitor
	var created int64
	err := db.read.QueryRowContext(ctx, `SELECT id, contact_id, token_hash, created_at FROM visitors WHERE token_hash = $1`, hash).
		Scan(&v.ID, &v.ContactID, &v.TokenHash, &created)
	if err != nil {
		return nil, notFound(err, "Visitor")
	}
	v.CreatedAt = fromMicros(created)
	return &v, nil
}
