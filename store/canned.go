package store

import (
	"context"
	"fmt"

	sb "github.com/switchboard/switchboard"
)

const cannedColumns = `id, owner_id, shortcut, title, body, created_at`

func scanCanned(row interface{ Scan(...any) error }) (*sb.CannedResponse, error) {
	var c sb.CannedResponse
	var owner nullInt
	var created int64
	if err := row.Scan(&c.ID, &owner, &c.Shortcut, &c.Title, &c.Body, &created); err != nil {
		return nil, err
	}
	c.OwnerID, c.CreatedAt = owner.ptr(), fromMicros(created)
	return &c, nil
}

func getCanned(ctx context.Context, q querier, id int64) (*sb.CannedResponse, error) {
	c, err := scanCanned(q.QueryRowContext(ctx, `SELECT `+cannedColumns+` FROM canned_responses WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "Canned response")
	}
	return c, nil
}

// CannedResponse returns a canned response by id. Callers check that the
// caller may see it: a personal one belongs to its owner only.
func (db *DB) CannedResponse(ctx context.Context, id int64) (*sb.CannedResponse, error) {
	return getCanned(ctx, db.read, id)
}

// CannedResponse returns a canned response by id inside the transaction.
func (tx *Tx) CannedResponse(id int64) (*sb.CannedResponse, error) {
	return getCanned(tx.ctx, tx.q, id)
}

// CannedResponses returns the organisation-wide canned responses and the
// personal ones of userID, by shortcut; where a personal and an
// organisation-wide one share a shortcut, the personal one comes first.
func (db *DB) CannedResponses(ctx context.Context, userID int64) ([]sb.CannedResponse, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+cannedColumns+` FROM canned_responses
		WHERE owner_id IS NULL OR owner_id = $1
		ORDER BY shortcut, CASE WHEN owner_id IS NULL THEN 1 ELSE 0 END, id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []sb.CannedResponse{}
	for rows.Next() {
		c, err := scanCanned(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, rows.Err()
}

// cannedConflict is the error of a shortcut already taken in the same scope.
func cannedConflict(c *sb.CannedResponse) error {
	if c.OwnerID == nil {
		return sb.Errorf(sb.ECONFLICT, "An organisation-wide canned response with shortcut /%s already exists.", c.Shortcut)
	}
	return sb.Errorf(sb.ECONFLICT, "You already have a canned response with shortcut /%s.", c.Shortcut)
}

// CreateCannedResponse stores a canned response: organisation-wide when
// OwnerID is nil, personal otherwise. Shortcuts are unique per owner, and
// among the organisation-wide ones.
func (tx *Tx) CreateCannedResponse(c *sb.CannedResponse) error {
	if err := c.Validate(); err != nil {
		return err
	}
	c.CreatedAt = tx.now
	err := tx.q.QueryRowContext(tx.ctx, `INSERT INTO canned_responses (owner_id, shortcut, title, body, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		nullInt64(c.OwnerID), c.Shortcut, c.Title, c.Body, micros(c.CreatedAt)).Scan(&c.ID)
	if isUniqueViolation(err) {
		return cannedConflict(c)
	}
	if isForeignKeyViolation(err) {
		return sb.NotFound("User")
	}
	if err != nil {
		return fmt.Errorf("insert canned response: %w", err)
	}
	return nil
}

// UpdateCannedResponse writes a canned response's shortcut, title and body;
// its owner never changes. c.OwnerID must be the stored owner, so that a
// clash is reported in the right scope.
func (tx *Tx) UpdateCannedResponse(c *sb.CannedResponse) error {
	if err := c.Validate(); err != nil {
		return err
	}
	res, err := tx.q.ExecContext(tx.ctx, `UPDATE canned_responses SET shortcut = $1, title = $2, body = $3 WHERE id = $4`,
		c.Shortcut, c.Title, c.Body, c.ID)
	if isUniqueViolation(err) {
		return cannedConflict(c)
	}
	if err != nil {
		return fmt.Errorf("update canned response: %w", err)
	}
	return mustAffect(res, "Canned response")
}

// DeleteCannedResponse removes a canned response.
func (tx *Tx) DeleteCannedResponse(id int64) error {
	res, err := tx.q.ExecContext(tx.ctx, `DELETE FROM canned_responses WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete canned response: %w", err)
	}
	return mustAffect(res, "Canned response")
}
