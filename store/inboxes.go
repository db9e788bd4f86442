package store

import (
	"context"
	"encoding/json"
	"fmt"

	sb "github.com/switchboard/switchboard"
)

func scanInbox(row interface{ Scan(...any) error }) (*sb.Inbox, error) {
	var in sb.Inbox
	var settings string
	var created int64
	if err := row.Scan(&in.ID, &in.Name, &in.Channel, &settings, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(settings), &in.Settings); err != nil {
		return nil, fmt.Errorf("inbox %d settings: %w", in.ID, err)
	}
	in.CreatedAt = fromMicros(created)
	return &in, nil
}

func getInbox(ctx context.Context, q querier, id int64) (*sb.Inbox, error) {
	in, err := scanInbox(q.QueryRowContext(ctx, `SELECT id, name, channel, settings, created_at FROM inboxes WHERE id = $1`, id))
	return in, notFound(err, "Inbox")
}

// Inbox returns an inbox by id.
func (db *DB) Inbox(ctx context.Context, id int64) (*sb.Inbox, error) {
	return getInbox(ctx, db.read, id)
}

// Inbox returns an inbox by id inside the transaction.
func (tx *Tx) Inbox(id int64) (*sb.Inbox, error) { return getInbox(tx.ctx, tx.q, id) }

// Inboxes lists inboxes; with a non-nil only, just those ids.
func (db *DB) Inboxes(ctx context.Context) ([]*sb.Inbox, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, name, channel, settings, created_at FROM inboxes ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*sb.Inbox{}
	for rows.Next() {
		in, err := scanInbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// CreateInbox stores a new inbox.
func (tx *Tx) CreateInbox(in *sb.Inbox) error {
	if err := in.Validate(); err != nil {
		return err
	}
	settings, err := json.Marshal(in.Settings)
	if err != nil {
		return err
	}
	in.CreatedAt = tx.now
	return tx.q.QueryRowContext(tx.ctx, `INSERT INTO inboxes (name, channel, settings, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		in.Name, string(in.Channel), string(settings), micros(in.CreatedAt)).Scan(&in.ID)
}

// UpdateInbox writes an inbox's name and settings.
func (tx *Tx) UpdateInbox(in *sb.Inbox) error {
	if err := in.Validate(); err != nil {
		return err
	}
	settings, err := json.Marshal(in.Settings)
	if err != nil {
		return err
	}
	res, err := tx.q.ExecContext(tx.ctx, `UPDATE inboxes SET name = $1, settings = $2 WHERE id = $3`, in.Name, string(settings), in.ID)
	if err != nil {
		return err
	}
	return mustAffect(res, "Inbox")
}

// AddInboxMember makes a user a member of an inbox (idempotent).
func (tx *Tx) AddInboxMember(inboxID, userID int64) error {
	_, err := tx.q.ExecContext(tx.ctx, `INSERT INTO inbox_members (inbox_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, inboxID, userID)
	if isForeignKeyViolation(err) {
		return sb.Errorf(sb.ENOTFOUND, "Inbox or user not found.")
	}
	return err
}

// RemoveInboxMember removes a user from an inbox.
func (tx *Tx) RemoveInboxMember(inboxID, userID int64) error {
	res, err := tx.q.ExecContext(tx.ctx, `DELETE FROM inbox_members WHERE inbox_id = $1 AND user_id = $2`, inboxID, userID)
	if err != nil {
		return err
	}
	return mustAffect(res, "Membership")
}

// InboxMembers lists the ids of an inbox's members.
func (db *DB) InboxMembers(ctx context.Context, inboxID int64) ([]int64, error) {
	return ids(ctx, db.read, `SELECT user_id FROM inbox_members WHERE inbox_id = $1 ORDER BY user_id`, inboxID)
}

func scanDepartment(ctx context.Context, q querier, row interface{ Scan(...any) error }) (*sb.Department, error) {
	var d sb.Department
	var created int64
	if err := row.Scan(&d.ID, &d.Name, &created); err != nil {
		return nil, err
	}
	d.CreatedAt = fromMicros(created)
	return &d, nil
}

func getDepartment(ctx context.Context, q querier, id int64, lock string) (*sb.Department, error) {
	d, err := scanDepartment(ctx, q, q.QueryRowContext(ctx, `SELECT id, name, created_at FROM departments WHERE id = $1`+lock, id))
	if err != nil {
		return nil, notFound(err, "Department")
	}
	d.MemberIDs, err = ids(ctx, q, `SELECT user_id FROM department_members WHERE department_id = $1 ORDER BY user_id`, id)
	return d, err
}

// Department returns a department with its member ids.
func (db *DB) Department(ctx context.Context, id int64) (*sb.Department, error) {
	return getDepartment(ctx, db.read, id, "")
}

// Department returns a department with its member ids inside the
// transaction, locking its row on PostgreSQL: every change of a department
// locks it first, so a read-modify-write here loses no concurrent edit.
func (tx *Tx) Department(id int64) (*sb.Department, error) {
	return getDepartment(tx.ctx, tx.q, id, tx.d.forUpdate)
}

// Departments lists departments with their member ids.
func (db *DB) Departments(ctx context.Context) ([]*sb.Department, error) {
	all, err := ids(ctx, db.read, `SELECT id FROM departments ORDER BY id`)
	if err != nil {
		return nil, err
	}
	out := make([]*sb.Department, 0, len(all))
	for _, id := range all {
		d, err := db.Department(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// CreateDepartment stores a department and its members.
func (tx *Tx) CreateDepartment(d *sb.Department) error {
	if err := d.Validate(); err != nil {
		return err
	}
	d.CreatedAt = tx.now
	err := tx.q.QueryRowContext(tx.ctx, `INSERT INTO departments (name, created_at) VALUES ($1, $2) RETURNING id`, d.Name, micros(d.CreatedAt)).Scan(&d.ID)
	if isUniqueViolation(err) {
		return sb.Errorf(sb.ECONFLICT, "A department named %q already exists.", d.Name)
	}
	if err != nil {
		return err
	}
	return tx.setDepartmentMembers(d)
}

// UpdateDepartment renames a department and replaces its members.
func (tx *Tx) UpdateDepartment(d *sb.Department) error {
	if err := d.Validate(); err != nil {
		return err
	}
	res, err := tx.q.ExecContext(tx.ctx, `UPDATE departments SET name = $1 WHERE id = $2`, d.Name, d.ID)
	if isUniqueViolation(err) {
		return sb.Errorf(sb.ECONFLICT, "A department named %q already exists.", d.Name)
	}
	if err != nil {
		return err
	}
	if err := mustAffect(res, "Department"); err != nil {
		return err
	}
	return tx.setDepartmentMembers(d)
}

func (tx *Tx) setDepartmentMembers(d *sb.Department) error {
	if _, err := tx.q.ExecContext(tx.ctx, `DELETE FROM department_members WHERE department_id = $1`, d.ID); err != nil {
		return err
	}
	if d.MemberIDs == nil {
		d.MemberIDs = []int64{}
	}
	for _, uid := range d.MemberIDs {
		_, err := tx.q.ExecContext(tx.ctx, `INSERT INTO department_members (department_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, d.ID, uid)
		if isForeignKeyViolation(err) {
			return sb.NotFound("User")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// DeleteDepartment removes a department.
func (tx *Tx) DeleteDepartment(id int64) error {
	if _, err := tx.q.ExecContext(tx.ctx, `UPDATE conversations SET department_id = NULL WHERE department_id = $1`, id); err != nil {
		return err
	}
	res, err := tx.q.ExecContext(tx.ctx, `DELETE FROM departments WHERE id = $1`, id)
	if err != nil {
		return err
	}
	return mustAffect(res, "Department")
}
