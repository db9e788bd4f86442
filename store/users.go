package store

import (
	"context"
	"database/sql"
	"fmt"

	sb "github.com/switchboard/switchboard"
)

const userColumns = `id, email, name, role, role_name, operator, chat_limit, active_chats, presence, disabled, created_at`

func scanUser(row interface{ Scan(...any) error }) (*sb.User, error) {
	var u sb.User
	var created int64
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.RoleName, &u.Operator, &u.ChatLimit, &u.ActiveChats, &u.Presence, &u.Disabled, &created); err != nil {
		return nil, err
	}
	u.CreatedAt = fromMicros(created)
	return &u, nil
}

// loadUserLinks fills a user's inbox and department ids.
func loadUserLinks(ctx context.Context, q querier, u *sb.User) error {
	var err error
	if u.InboxIDs, err = ids(ctx, q, `SELECT inbox_id FROM inbox_members WHERE user_id = $1 ORDER BY inbox_id`, u.ID); err != nil {
		return err
	}
	u.DeptIDs, err = ids(ctx, q, `SELECT department_id FROM department_members WHERE user_id = $1 ORDER BY department_id`, u.ID)
	return err
}

func ids(ctx context.Context, q querier, query string, args ...any) ([]int64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func getUser(ctx context.Context, q querier, id int64) (*sb.User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "User")
	}
	return u, loadUserLinks(ctx, q, u)
}

// User returns a user by id, with inbox and department ids.
func (db *DB) User(ctx context.Context, id int64) (*sb.User, error) { return getUser(ctx, db.read, id) }

// User returns a user by id inside the transaction.
func (tx *Tx) User(id int64) (*sb.User, error) { return getUser(tx.ctx, tx.q, id) }

// UserByEmail returns a user and their password hash, for login.
func (db *DB) UserByEmail(ctx context.Context, email string) (*sb.User, string, error) {
	var hash string
	var id int64
	err := db.read.QueryRowContext(ctx, `SELECT id, password_hash FROM users WHERE email = $1`, sb.NormalizeEmail(email)).Scan(&id, &hash)
	if err != nil {
		return nil, "", notFound(err, "User")
	}
	u, err := db.User(ctx, id)
	return u, hash, err
}

// Users lists all users, by id.
func (db *DB) Users(ctx context.Context) ([]*sb.User, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY id`)
	if err != nil {
		return nil, err
	}
	var out []*sb.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, u := range out {
		if err := loadUserLinks(ctx, db.read, u); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CountUsers returns how many users exist (first start creates the owner).
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

// CreateUser stores a new user with a password hash; the e-mail must be free.
func (tx *Tx) CreateUser(u *sb.User, passwordHash string) error {
	if err := u.Validate(); err != nil {
		return err
	}
	u.CreatedAt = tx.now
	err := tx.q.QueryRowContext(tx.ctx, `INSERT INTO users (email, name, role, role_name, operator, chat_limit, presence, disabled, password_hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		u.Email, u.Name, string(u.Role), u.RoleName, u.Operator, u.ChatLimit, string(u.Presence), u.Disabled, passwordHash, micros(u.CreatedAt)).Scan(&u.ID)
	if isUniqueViolation(err) {
		return sb.Errorf(sb.ECONFLICT, "A user with e-mail %s already exists.", u.Email)
	}
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	if u.InboxIDs == nil {
		u.InboxIDs = []int64{}
	}
	if u.DeptIDs == nil {
		u.DeptIDs = []int64{}
	}
	return nil
}

// UpdateUser writes a user's editable fields (not the password).
func (tx *Tx) UpdateUser(u *sb.User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	res, err := tx.q.ExecContext(tx.ctx, `UPDATE users SET email = $1, name = $2, role = $3, role_name = $4, operator = $5, chat_limit = $6, disabled = $7 WHERE id = $8`,
		u.Email, u.Name, string(u.Role), u.RoleName, u.Operator, u.ChatLimit, u.Disabled, u.ID)
	if isUniqueViolation(err) {
		return sb.Errorf(sb.ECONFLICT, "A user with e-mail %s already exists.", u.Email)
	}
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	return mustAffect(res, "User")
}

// SetPassword replaces a user's password hash and ends their sessions.
func (tx *Tx) SetPassword(userID int64, hash string) error {
	res, err := tx.q.ExecContext(tx.ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, userID)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if err := mustAffect(res, "User"); err != nil {
		return err
	}
	_, err = tx.q.ExecContext(tx.ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
	return err
}

// SetPresence changes an agent's presence and emits a presence event.
func (tx *Tx) SetPresence(userID int64, p sb.Presence) error {
	if !p.Valid() {
		return sb.Errorf(sb.EINVALID, "Presence %q is not valid.", p)
	}
	res, err := tx.q.ExecContext(tx.ctx, `UPDATE users SET presence = $1, presence_at = $2 WHERE id = $3`, string(p), micros(tx.now), userID)
	if err != nil {
		return fmt.Errorf("set presence: %w", err)
	}
	if err := mustAffect(res, "User"); err != nil {
		return err
	}
	tx.Emit(sb.NewEvent(sb.EventPresence, sb.AudienceOrg, map[string]any{"user_id": userID, "presence": p}))
	return nil
}

// SetUserInboxes replaces a user's inbox memberships.
func (tx *Tx) SetUserInboxes(userID int64, inboxIDs []int64) error {
	if _, err := tx.q.ExecContext(tx.ctx, `DELETE FROM inbox_members WHERE user_id = $1`, userID); err != nil {
		return err
	}
	for _, id := range inboxIDs {
		if err := tx.AddInboxMember(id, userID); err != nil {
			return err
		}
	}
	return nil
}

// SetUserDepartments replaces a user's department memberships.
func (tx *Tx) SetUserDepartments(userID int64, deptIDs []int64) error {
	if _, err := tx.q.ExecContext(tx.ctx, `DELETE FROM department_members WHERE user_id = $1`, userID); err != nil {
		return err
	}
	for _, id := range deptIDs {
		_, err := tx.q.ExecContext(tx.ctx, `INSERT INTO department_members (department_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, id, userID)
		if isForeignKeyViolation(err) {
			return sb.NotFound("Department")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func mustAffect(res sql.Result, kind string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return sb.NotFound(kind)
	}
	return nil
}

// CreateSession stores a session (the token only as its hash).
func (tx *Tx) CreateSession(s *sb.Session) error {
	s.CreatedAt, s.SeenAt = tx.now, tx.now
	return tx.q.QueryRowContext(tx.ctx, `INSERT INTO sessions (user_id, token_hash, csrf_token, created_at, seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		s.UserID, s.TokenHash, s.CSRFToken, micros(s.CreatedAt), micros(s.SeenAt), micros(s.ExpiresAt)).Scan(&s.ID)
}

// SessionByHash finds a session by the hash of its token.
func (db *DB) SessionByHash(ctx context.Context, hash []byte) (*sb.Session, error) {
	var s sb.Session
	var c, seen, exp int64
	err := db.read.QueryRowContext(ctx, `SELECT id, user_id, token_hash, csrf_token, created_at, seen_at, expires_at FROM sessions WHERE token_hash = $1`, hash).
		Scan(&s.ID, &s.UserID, &s.TokenHash, &s.CSRFToken, &c, &seen, &exp)
	if err != nil {
		return nil, notFound(err, "Session")
	}
	s.CreatedAt, s.SeenAt, s.ExpiresAt = fromMicros(c), fromMicros(seen), fromMicros(exp)
	return &s, nil
}

// TouchSession records that a session was used.
func (tx *Tx) TouchSession(id int64) error {
	_, err := tx.q.ExecContext(tx.ctx, `UPDATE sessions SET seen_at = $1 WHERE id = $2`, micros(tx.now), id)
	return err
}

// DeleteSession ends a session.
func (tx *Tx) DeleteSession(id int64) error {
	_, err := tx.q.ExecContext(tx.ctx, `DELETE FROM sessions WHERE id = $1`, id)
	return err
}

// DeleteUserSessions ends every session of a user.
func (tx *Tx) DeleteUserSessions(userID int64) error {
	_, err := tx.q.ExecContext(tx.ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
	return err
}

// CreateAPIToken stores an API token (only its hash).
func (tx *Tx) CreateAPIToken(t *sb.APIToken) error {
	t.CreatedAt = tx.now
	return tx.q.QueryRowContext(tx.ctx, `INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		t.UserID, t.Name, t.TokenHash, micros(t.CreatedAt)).Scan(&t.ID)
}

// APITokenByHash finds an API token by the hash of its value.
func (db *DB) APITokenByHash(ctx context.Context, hash []byte) (*sb.APIToken, error) {
	var t sb.APIToken
	var c int64
	err := db.read.QueryRowContext(ctx, `SELECT id, user_id, name, token_hash, created_at FROM api_tokens WHERE token_hash = $1`, hash).
		Scan(&t.ID, &t.UserID, &t.Name, &t.TokenHash, &c)
	if err != nil {
		return nil, notFound(err, "Token")
	}
	t.CreatedAt = fromMicros(c)
	return &t, nil
}

// APITokens lists a user's API tokens.
func (db *DB) APITokens(ctx context.Context, userID int64) ([]sb.APIToken, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, user_id, name, created_at FROM api_tokens WHERE user_id = $1 ORDER BY id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []sb.APIToken{}
	for rows.Next() {
		var t sb.APIToken
		var c int64
		if err := rows.Scan(&t.ID, &t.UserID, &t.Name, &c); err != nil {
			return nil, err
		}
		t.CreatedAt = fromMicros(c)
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteAPIToken revokes one of a user's tokens.
func (tx *Tx) DeleteAPIToken(userID, id int64) error {
	res, err := tx.q.ExecContext(tx.ctx, `DELETE FROM api_tokens WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return err
	}
	return mustAffect(res, "Token")
}
