package store

import (
	"context"
	"fmt"
	"strings"

	sb "github.com/switchboard/switchboard"
)

func getCategory(ctx context.Context, q querier, id int64) (*sb.Category, error) {
	var c sb.Category
	err := q.QueryRowContext(ctx, `SELECT id, name FROM categories WHERE id = $1`, id).Scan(&c.ID, &c.Name)
	if err != nil {
		return nil, notFound(err, "Category")
	}
	return &c, nil
}

// Category returns a category by id.
func (db *DB) Category(ctx context.Context, id int64) (*sb.Category, error) {
	return getCategory(ctx, db.read, id)
}

// Category returns a category by id inside the transaction.
func (tx *Tx) Category(id int64) (*sb.Category, error) { return getCategory(tx.ctx, tx.q, id) }

// Categories lists the categories by name.
func (db *DB) Categories(ctx context.Context) ([]sb.Category, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, name FROM categories ORDER BY name, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []sb.Category{}
	for rows.Next() {
		var c sb.Category
		if err := rows.Scan(&c.ID, &c.Name); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CreateCategory stores a category; names are unique.
func (tx *Tx) CreateCategory(c *sb.Category) error {
	c.Name = strings.TrimSpace(c.Name)
	if c.Name == "" || len(c.Name) > 100 {
		return sb.Errorf(sb.EINVALID, "Category name must be 1 to 100 characters.")
	}
	err := tx.q.QueryRowContext(tx.ctx, `INSERT INTO categories (name) VALUES ($1) RETURNING id`, c.Name).Scan(&c.ID)
	if isUniqueViolation(err) {
		return sb.Errorf(sb.ECONFLICT, "A category named %q already exists.", c.Name)
	}
	if err != nil {
		return fmt.Errorf("insert category: %w", err)
	}
	return nil
}

// DeleteCategory removes a category; the conversations it classified are left without one.
func (tx *Tx) DeleteCategory(id int64) error {
	if _, err := tx.q.ExecContext(tx.ctx, `UPDATE conversations SET category_id = NULL WHERE category_id = $1`, id); err != nil {
		return fmt.Errorf("clear category: %w", err)
	}
	res, err := tx.q.ExecContext(tx.ctx, `DELETE FROM categories WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete category: %w", err)
	}
	return mustAffect(res, "Category")
}
