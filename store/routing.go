package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	sb "github.com/switchboard/switchboard"
)

// This file holds the data side of routing (issue 3): agents' load, the
// queue, and offers. The routing package decides what happens; the methods
// here make each step happen completely — rows, counters, history and
// events in one transaction — so the counters always match the rows.
//
// Lock order on PostgreSQL, followed by every routing transaction so that
// they never deadlock one another: conversations (by id), then users, then
// deadlines. (A deadlock with other code is retried by Write.)

// skipLocked is the row-lock suffix that passes over rows another
// transaction holds; SQLite has a single writer and needs none.
func (d dialect) skipLocked() string {
	if d.forUpdate == "" {
		return ""
	}
	return d.forUpdate + " SKIP LOCKED"
}

// rowScanner is what *sql.Row and *sql.Rows offer.
type rowScanner interface{ Scan(...any) error }

// withExtra scans a row's leading columns with an existing scanner and the
// trailing ones into extra.
type withExtra struct {
	row   rowScanner
	extra []any
}

func (w withExtra) Scan(dest ...any) error { return w.row.Scan(append(dest, w.extra...)...) }

// AgentLoad is an agent's routing state.
type AgentLoad struct {
	UserID    int64
	Presence  sb.Presence
	Operator  bool
	Disabled  bool
	ChatLimit int
	Active    int // assigned live chats
	Offered   int // pending offers and inbound transfer requests
	Missed    int // offers in a row that expired
}

// Load is what counts against the agent's limit: chats and pending offers.
func (a *AgentLoad) Load() int { return a.Active + a.Offered }

// HasRoom reports whether the agent may get one more chat of an inbox with
// the given chat limit (0: none).
func (a *AgentLoad) HasRoom(inboxLimit int) bool {
	return a.Load() < sb.EffectiveChatLimit(a.ChatLimit, inboxLimit)
}

// Available reports whether the agent may be given a chat now: an enabled,
// online operator with room.
func (a *AgentLoad) Available(inboxLimit int) bool {
	return a.Presence == sb.PresenceOnline && a.Operator && !a.Disabled && a.HasRoom(inboxLimit)
}

// LockAgent reads an agent's routing state, locking their row on PostgreSQL
// so that capacity checked here still holds at commit.
func (tx *Tx) LockAgent(userID int64) (*AgentLoad, error) {
	a := AgentLoad{UserID: userID}
	err := tx.q.QueryRowContext(tx.ctx, `SELECT presence, operator, disabled, chat_limit, active_chats, offered_chats, missed_offers
		FROM users WHERE id = $1`+tx.d.forUpdate, userID).
		Scan(&a.Presence, &a.Operator, &a.Disabled, &a.ChatLimit, &a.Active, &a.Offered, &a.Missed)
	if err != nil {
		return nil, notFound(err, "User")
	}
	return &a, nil
}

// TryLockAgent is LockAgent for a transaction that already holds other
// agents' rows: on PostgreSQL it does not wait for a row another
// transaction holds (which could deadlock) but returns nil.
func (tx *Tx) TryLockAgent(userID int64) (*AgentLoad, error) {
	a := AgentLoad{UserID: userID}
	err := tx.q.QueryRowContext(tx.ctx, `SELECT presence, operator, disabled, chat_limit, active_chats, offered_chats, missed_offers
		FROM users WHERE id = $1`+tx.d.skipLocked(), userID).
		Scan(&a.Presence, &a.Operator, &a.Disabled, &a.ChatLimit, &a.Active, &a.Offered, &a.Missed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// QueueEmpty reports whether no admitted conversation waits in any queue.
func (tx *Tx) QueueEmpty() (bool, error) {
	found, err := exists(tx.ctx, tx.q, `SELECT 1 FROM conversations
		WHERE status = 'waiting' AND ticket_status = '' AND queued_at IS NOT NULL LIMIT 1`)
	return !found, err
}

// AgentLoads reads the routing state of every user, by id (for tests and the live board).
func (db *DB) AgentLoads(ctx context.Context) ([]AgentLoad, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, presence, operator, disabled, chat_limit, active_chats, offered_chats, missed_offers FROM users ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AgentLoad
	for rows.Next() {
		var a AgentLoad
		if err := rows.Scan(&a.UserID, &a.Presence, &a.Operator, &a.Disabled, &a.ChatLimit, &a.Active, &a.Offered, &a.Missed); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// IsInboxMember reports whether a user is a member of an inbox.
func (tx *Tx) IsInboxMember(inboxID, userID int64) (bool, error) {
	return exists(tx.ctx, tx.q, `SELECT 1 FROM inbox_members WHERE inbox_id = $1 AND user_id = $2`, inboxID, userID)
}

// HeldBy returns the ids of what user userID has in inbox inboxID (0: in
// every inbox): live chats assigned to them and open tickets assigned to
// them, in id order (the lock order).
func (tx *Tx) HeldBy(userID, inboxID int64) ([]int64, error) {
	return ids(tx.ctx, tx.q, `SELECT id FROM conversations WHERE assignee_id = $1 AND ($2 = 0 OR inbox_id = $2)
		AND (status IN ('assigned', 'transferring') AND ticket_status = '' OR ticket_status = 'assigned') ORDER BY id`, userID, inboxID)
}

// InDepartment reports whether a user belongs to a department.
func (tx *Tx) InDepartment(deptID, userID int64) (bool, error) {
	return exists(tx.ctx, tx.q, `SELECT 1 FROM department_members WHERE department_id = $1 AND user_id = $2`, deptID, userID)
}

// DepartmentExists reports whether a department exists.
func (tx *Tx) DepartmentExists(deptID int64) (bool, error) {
	return exists(tx.ctx, tx.q, `SELECT 1 FROM departments WHERE id = $1`, deptID)
}

func exists(ctx context.Context, q querier, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// candidateWhere selects the agents who may be given a chat of inbox $1 now:
// online, enabled operators who are members, with room under their own limit
// and under the inbox's limit $2 (0: none), in department $3 (0: any).
const candidateWhere = `m.inbox_id = $1 AND u.presence = 'online' AND u.operator AND NOT u.disabled
	AND u.active_chats + u.offered_chats < (CASE WHEN u.chat_limit > 0 THEN u.chat_limit ELSE 3 END)
	AND ($2 = 0 OR u.active_chats + u.offered_chats < $2)
	AND ($3 = 0 OR EXISTS (SELECT 1 FROM department_members d WHERE d.department_id = $3 AND d.user_id = u.id))`

// availableWhere selects the agents of users u who may be given a chat of
// inbox $1 now: online, enabled operators who are members, with room under
// their own limit and under the inbox's limit $2 (0: none), in department $3
// (0: any). Its first terms are those of the users_available index.
const availableWhere = `u.presence = 'online' AND u.operator AND NOT u.disabled
	AND u.active_chats + u.offered_chats < (CASE WHEN u.chat_limit > 0 THEN u.chat_limit ELSE 3 END)
	AND ($2 = 0 OR u.active_chats + u.offered_chats < $2)
	AND EXISTS (SELECT 1 FROM inbox_members m WHERE m.inbox_id = $1 AND m.user_id = u.id)
	AND ($3 = 0 OR EXISTS (SELECT 1 FROM department_members d WHERE d.department_id = $3 AND d.user_id = u.id))`

// preferred is the router's order of agents: least loaded, then the one who
// got a chat least recently (R1); users_available serves it.
const preferred = `u.active_chats + u.offered_chats, u.last_assigned_at, u.id`

// FindCandidate picks the agent to offer a chat of an inbox to (R1, R2): among
// those who may take it, the least loaded, ties going to the one who got a
// chat least recently; avoid (an agent who just declined it) comes only when
// nobody else may take it. ok is false when nobody may take it.
func (tx *Tx) FindCandidate(inboxID, deptID int64, inboxLimit int, avoid int64) (userID int64, ok bool, err error) {
	err = tx.q.QueryRowContext(tx.ctx, `SELECT u.id FROM users u WHERE `+availableWhere+` AND u.id <> $4
		ORDER BY `+preferred+` LIMIT 1`, inboxID, inboxLimit, deptID, avoid).Scan(&userID)
	if errors.Is(err, sql.ErrNoRows) && avoid != 0 {
		err = tx.q.QueryRowContext(tx.ctx, `SELECT u.id FROM users u WHERE `+availableWhere+` AND u.id = $4`,
			inboxID, inboxLimit, deptID, avoid).Scan(&userID)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("find candidate: %w", err)
	}
	return userID, true, nil
}

// Candidates lists the agents who may take a chat of an inbox now (R6), least
// loaded first.
func (db *DB) Candidates(ctx context.Context, inboxID, deptID int64, inboxLimit int) ([]sb.Candidate, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT u.id, u.name, u.active_chats + u.offered_chats, u.chat_limit
		FROM users u WHERE `+availableWhere+` ORDER BY `+preferred+` LIMIT 500`, inboxID, inboxLimit, deptID)
	if err != nil {
		return nil, err
	}
	out := []sb.Candidate{}
	for rows.Next() {
		var c sb.Candidate
		if err := rows.Scan(&c.UserID, &c.Name, &c.Load, &c.ChatLimit); err != nil {
			rows.Close()
			return nil, err
		}
		c.ChatLimit = sb.EffectiveChatLimit(c.ChatLimit, inboxLimit)
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].DeptIDs, err = ids(ctx, db.read, `SELECT department_id FROM department_members WHERE user_id = $1 ORDER BY department_id`, out[i].UserID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AnyOnline reports whether an enabled operator of the inbox is online,
// whatever their load (R7: otherwise a new chat becomes a ticket).
func (tx *Tx) AnyOnline(inboxID int64) (bool, error) {
	return exists(tx.ctx, tx.q, `SELECT 1 FROM inbox_members m JOIN users u ON u.id = m.user_id
		WHERE m.inbox_id = $1 AND u.presence = 'online' AND u.operator AND NOT u.disabled LIMIT 1`, inboxID)
}

// OnlineCounts returns, per inbox, how many enabled operators are online.
func (db *DB) OnlineCounts(ctx context.Context) (map[int64]int, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT m.inbox_id, COUNT(*) FROM inbox_members m JOIN users u ON u.id = m.user_id
		WHERE u.presence = 'online' AND u.operator AND NOT u.disabled GROUP BY m.inbox_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var inbox int64
		var n int
		if err := rows.Scan(&inbox, &n); err != nil {
			return nil, err
		}
		out[inbox] = n
	}
	return out, rows.Err()
}

// RouteState is the routing bookkeeping of a conversation.
type RouteState struct {
	QueuedAt   *time.Time // when it joined the queue; nil: not admitted
	SkipUserID int64      // the agent to try last
}

const routeColumns = `, queued_at, skip_user_id`

func scanRouted(row rowScanner) (*sb.Conversation, RouteState, error) {
	var rs RouteState
	var queued, skip nullInt
	c, err := scanConversation(withExtra{row, []any{&queued, &skip}})
	if err != nil {
		return nil, rs, err
	}
	if queued.Valid {
		t := fromMicros(queued.Int64)
		rs.QueuedAt = &t
	}
	if skip.Valid {
		rs.SkipUserID = skip.Int64
	}
	return c, rs, nil
}

// RoutedConversation reads a conversation with its routing state, locking
// its row on PostgreSQL.
func (tx *Tx) RoutedConversation(id int64) (*sb.Conversation, RouteState, error) {
	c, rs, err := scanRouted(tx.q.QueryRowContext(tx.ctx, `SELECT `+conversationColumns+routeColumns+` FROM conversations WHERE id = $1`+tx.d.forUpdate, id))
	return c, rs, notFound(err, "Conversation")
}

// LockQueued reads a conversation that waits in the queue, locking it. It
// returns nil, without error, when the conversation no longer waits or (on
// PostgreSQL) another node is working on it.
func (tx *Tx) LockQueued(id int64) (*sb.Conversation, RouteState, error) {
	c, rs, err := scanRouted(tx.q.QueryRowContext(tx.ctx, `SELECT `+conversationColumns+routeColumns+` FROM conversations
		WHERE id = $1 AND status = 'waiting' AND ticket_status = '' AND queued_at IS NOT NULL`+tx.d.skipLocked(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, rs, nil
	}
	return c, rs, err
}

// LockUnadmitted reads a waiting conversation that the router has not
// admitted to the queue yet, locking it; nil when there is none by that id.
func (tx *Tx) LockUnadmitted(id int64) (*sb.Conversation, error) {
	c, _, err := scanRouted(tx.q.QueryRowContext(tx.ctx, `SELECT `+conversationColumns+routeColumns+` FROM conversations
		WHERE id = $1 AND status = 'waiting' AND ticket_status = '' AND queued_at IS NULL`+tx.d.skipLocked(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return c, err
}

// QueueEntry is a conversation waiting in the queue.
type QueueEntry struct {
	ConversationID int64
	InboxID        int64
	ContactID      int64
	DepartmentID   int64 // 0: none
	QueuedAt       time.Time
	Told           int // the position last told to the customer; 0: none
}

// Queue returns up to limit queued conversations, oldest first: the order
// in which they are served (R3).
func (db *DB) Queue(ctx context.Context, limit int) ([]QueueEntry, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT c.id, c.inbox_id, c.contact_id, c.department_id, c.queued_at, COALESCE(p.position, 0)
		FROM conversations c LEFT JOIN queue_positions p ON p.conversation_id = c.id
		WHERE c.status = 'waiting' AND c.ticket_status = '' AND c.queued_at IS NOT NULL ORDER BY c.queued_at, c.id LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []QueueEntry
	for rows.Next() {
		var e QueueEntry
		var dept nullInt
		var queued int64
		if err := rows.Scan(&e.ConversationID, &e.InboxID, &e.ContactID, &dept, &queued, &e.Told); err != nil {
			return nil, err
		}
		e.DepartmentID, e.QueuedAt = dept.Int64, fromMicros(queued)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Unadmitted returns the ids of up to limit waiting conversations the router
// has not admitted yet, oldest first.
func (db *DB) Unadmitted(ctx context.Context, limit int) ([]int64, error) {
	return ids(ctx, db.read, `SELECT id FROM conversations
		WHERE status = 'waiting' AND ticket_status = '' AND queued_at IS NULL ORDER BY id LIMIT $1`, limit)
}

// Enqueue admits waiting conversation c (locked) of an inbox with settings s
// to its queue, and starts its inactivity timer.
func (tx *Tx) Enqueue(c *sb.Conversation, s sb.InboxSettings) error {
	if _, err := tx.q.ExecContext(tx.ctx, `UPDATE conversations SET queued_at = $1 WHERE id = $2`, micros(tx.now), c.ID); err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	if err := tx.AddHistory(c, "queued", nil, "", "", nil); err != nil {
		return err
	}
	return tx.scheduleBy(DeadlineIdle, c.ID, c.LastActivity.Add(IdleCheck(s)))
}

// AnnounceQueue records and tells the customer a queued conversation's
// position (R8), unless that position was already told or the conversation
// no longer waits.
func (tx *Tx) AnnounceQueue(e QueueEntry, qs sb.QueueStatus) error {
	res, err := tx.q.ExecContext(tx.ctx, `INSERT INTO queue_positions (conversation_id, position)
		SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM conversations WHERE id = $1 AND status = 'waiting')
		ON CONFLICT (conversation_id) DO UPDATE SET position = excluded.position WHERE queue_positions.position <> excluded.position`,
		e.ConversationID, qs.Position)
	if err != nil {
		return fmt.Errorf("announce queue: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	ev := sb.NewEvent(sb.EventQueue, sb.AudienceConversation, qs)
	ev.InboxID, ev.ConversationID, ev.ContactID = e.InboxID, e.ConversationID, e.ContactID
	tx.Emit(ev)
	return nil
}

// leaveQueue clears a conversation's queue bookkeeping once a person has it
// (forget: and the position told, unless an offer already forgot it).
func (tx *Tx) leaveQueue(convID int64, forget bool) error {
	if _, err := tx.q.ExecContext(tx.ctx, `UPDATE conversations SET queued_at = NULL, skip_user_id = NULL WHERE id = $1`, convID); err != nil {
		return err
	}
	if !forget {
		return nil
	}
	return tx.forgetPosition(convID)
}

// LeaveQueue clears a conversation's place in the queue, for one that left
// routing (a bot took it back): when it waits again it is admitted afresh.
func (tx *Tx) LeaveQueue(convID int64) error { return tx.leaveQueue(convID, true) }

// forgetPosition forgets the position told to a customer, who is told
// again should the conversation wait again.
func (tx *Tx) forgetPosition(convID int64) error {
	_, err := tx.q.ExecContext(tx.ctx, `DELETE FROM queue_positions WHERE conversation_id = $1`, convID)
	return err
}

const offerColumns = `id, conversation_id, inbox_id, user_id, state, created_at, expires_at, resolved_at`

func scanOffer(row rowScanner) (*sb.Offer, error) {
	var o sb.Offer
	var created, expires, resolved int64
	if err := row.Scan(&o.ID, &o.ConversationID, &o.InboxID, &o.UserID, &o.State, &created, &expires, &resolved); err != nil {
		return nil, err
	}
	o.CreatedAt, o.ExpiresAt = fromMicros(created), fromMicros(expires)
	if resolved != 0 {
		t := fromMicros(resolved)
		o.ResolvedAt = &t
	}
	return &o, nil
}

func queryOffers(ctx context.Context, q querier, query string, args ...any) ([]*sb.Offer, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*sb.Offer{}
	for rows.Next() {
		o, err := scanOffer(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// Offer returns an offer by id.
func (db *DB) Offer(ctx context.Context, id int64) (*sb.Offer, error) {
	o, err := scanOffer(db.read.QueryRowContext(ctx, `SELECT `+offerColumns+` FROM offers WHERE id = $1`, id))
	return o, notFound(err, "Offer")
}

// Offer returns an offer by id inside the transaction.
func (tx *Tx) Offer(id int64) (*sb.Offer, error) {
	o, err := scanOffer(tx.q.QueryRowContext(tx.ctx, `SELECT `+offerColumns+` FROM offers WHERE id = $1`, id))
	return o, notFound(err, "Offer")
}

// PendingOffer returns the pending offer of a conversation.
func (tx *Tx) PendingOffer(convID int64) (*sb.Offer, error) {
	o, err := scanOffer(tx.q.QueryRowContext(tx.ctx, `SELECT `+offerColumns+` FROM offers WHERE conversation_id = $1 AND state = 'pending'`, convID))
	return o, notFound(err, "Offer")
}

// PendingOffersOf returns a user's pending offers, oldest first.
func (tx *Tx) PendingOffersOf(userID int64) ([]*sb.Offer, error) {
	return queryOffers(tx.ctx, tx.q, `SELECT `+offerColumns+` FROM offers WHERE user_id = $1 AND state = 'pending' ORDER BY id`, userID)
}

// PendingOffers returns a user's pending offers, oldest first.
func (db *DB) PendingOffers(ctx context.Context, userID int64) ([]*sb.Offer, error) {
	return queryOffers(ctx, db.read, `SELECT `+offerColumns+` FROM offers WHERE user_id = $1 AND state = 'pending' ORDER BY id`, userID)
}

// AllPendingOffers returns every pending offer (for tests and the live board).
func (db *DB) AllPendingOffers(ctx context.Context) ([]*sb.Offer, error) {
	return queryOffers(ctx, db.read, `SELECT `+offerColumns+` FROM offers WHERE state = 'pending' ORDER BY id`)
}

// StaleOffers returns pending offers that a path other than routing's left
// behind: their conversation is no longer being offered (it ended, or was
// taken), or their agent can no longer take it (away, offline, disabled).
func (db *DB) StaleOffers(ctx context.Context) ([]*sb.Offer, error) {
	return queryOffers(ctx, db.read, `SELECT o.id, o.conversation_id, o.inbox_id, o.user_id, o.state, o.created_at, o.expires_at, o.resolved_at
		FROM offers o JOIN conversations c ON c.id = o.conversation_id JOIN users u ON u.id = o.user_id
		WHERE o.state = 'pending' AND (c.status <> 'assigning' OR u.presence <> 'online' OR NOT u.operator OR u.disabled)`)
}

// CreateOffer offers conversation c (locked, waiting) to an agent whose row
// this transaction locked and found available: the offer holds one unit of
// their capacity until it is resolved, the conversation becomes assigning,
// the expiry is scheduled, and the agent is told (R1, R3).
func (tx *Tx) CreateOffer(c *sb.Conversation, userID int64, ttl time.Duration) (*sb.Offer, error) {
	o := &sb.Offer{ConversationID: c.ID, InboxID: c.InboxID, UserID: userID, State: sb.OfferPending, CreatedAt: tx.now, ExpiresAt: tx.now.Add(ttl)}
	err := tx.q.QueryRowContext(tx.ctx, `INSERT INTO offers (conversation_id, inbox_id, user_id, state, created_at, expires_at)
		VALUES ($1, $2, $3, 'pending', $4, $5) RETURNING id`, o.ConversationID, o.InboxID, o.UserID, micros(o.CreatedAt), micros(o.ExpiresAt)).Scan(&o.ID)
	if isUniqueViolation(err) {
		return nil, sb.Errorf(sb.ECONFLICT, "The conversation is already offered to an agent.")
	}
	if err != nil {
		return nil, fmt.Errorf("insert offer: %w", err)
	}
	if _, err := tx.q.ExecContext(tx.ctx, `UPDATE users SET offered_chats = offered_chats + 1, last_assigned_at = $1 WHERE id = $2`, micros(tx.now), userID); err != nil {
		return nil, fmt.Errorf("count offer: %w", err)
	}
	if err := tx.forgetPosition(c.ID); err != nil {
		return nil, err
	}
	assigning := sb.StatusAssigning
	err = tx.ChangeConversation(c, ConversationChange{Status: &assigning, Kind: "offer",
		Data: map[string]any{"offer_id": o.ID, "user_id": userID, "expires_at": o.ExpiresAt}})
	if err != nil {
		return nil, err
	}
	if err := tx.Schedule(DeadlineOffer, o.ID, o.ExpiresAt); err != nil {
		return nil, err
	}
	tx.emitOffer(o)
	return o, nil
}

func (tx *Tx) emitOffer(o *sb.Offer) {
	e := sb.NewEvent(sb.EventOffer, sb.AudienceUser, o)
	e.UserID, e.InboxID, e.ConversationID = o.UserID, o.InboxID, o.ConversationID
	tx.Emit(e)
}

// resolveOffer closes a pending offer and gives back the capacity it held;
// the agent's count of missed offers grows on expiry and restarts when they
// answer. It returns that count.
func (tx *Tx) resolveOffer(o *sb.Offer, state sb.OfferState, accepted bool) (missed int, err error) {
	res, err := tx.q.ExecContext(tx.ctx, `UPDATE offers SET state = $1, resolved_at = $2 WHERE id = $3 AND state = 'pending'`, string(state), micros(tx.now), o.ID)
	if err != nil {
		return 0, fmt.Errorf("resolve offer: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, sb.Errorf(sb.ECONFLICT, "The offer is no longer open.")
	}
	o.State = state
	now := tx.now
	o.ResolvedAt = &now
	missedExpr := "missed_offers"
	args := []any{o.UserID}
	switch state {
	case sb.OfferExpired:
		// A streak of misses ends when the agent's presence changed since the last.
		missedExpr = "CASE WHEN presence_at >= missed_at THEN 1 ELSE missed_offers + 1 END, missed_at = $2"
		args = append(args, micros(tx.now))
	case sb.OfferAccepted, sb.OfferDeclined:
		missedExpr = "0"
	}
	activeExpr := "active_chats"
	if accepted {
		activeExpr = "active_chats + 1"
	}
	err = tx.q.QueryRowContext(tx.ctx, `UPDATE users SET offered_chats = CASE WHEN offered_chats > 0 THEN offered_chats - 1 ELSE 0 END,
		active_chats = `+activeExpr+`, missed_offers = `+missedExpr+` WHERE id = $1 RETURNING missed_offers`, args...).Scan(&missed)
	if err != nil {
		return 0, fmt.Errorf("release offer: %w", err)
	}
	if err := tx.Unschedule(DeadlineOffer, o.ID); err != nil {
		return 0, err
	}
	tx.emitOffer(o)
	return missed, nil
}

// AcceptOffer gives conversation c (locked) to the agent its pending offer o
// was made to: the capacity the offer held becomes an active chat (R3).
func (tx *Tx) AcceptOffer(c *sb.Conversation, o *sb.Offer) error {
	if c.Status != sb.StatusAssigning {
		return sb.Errorf(sb.ECONFLICT, "The conversation is %s, no longer on offer.", c.Status)
	}
	if _, err := tx.resolveOffer(o, sb.OfferAccepted, true); err != nil {
		return err
	}
	assigned := sb.StatusAssigned
	uid := &o.UserID
	err := tx.ChangeConversation(c, ConversationChange{Status: &assigned, AssigneeID: &uid, Kind: "offer_accepted", ActorID: &o.UserID,
		Data: map[string]any{"offer_id": o.ID, "user_id": o.UserID}})
	if err != nil {
		return err
	}
	// The inactivity check set when c was queued still holds (IdleCheck).
	return tx.leaveQueue(c.ID, false)
}

// ReturnOffer resolves c's pending offer o as declined, expired or withdrawn
// and puts c back in the queue, in its old place, with the agent tried last
// next time. It returns the agent's count of offers missed in a row.
func (tx *Tx) ReturnOffer(c *sb.Conversation, o *sb.Offer, state sb.OfferState, actorID *int64) (missed int, err error) {
	if state == sb.OfferAccepted || state == sb.OfferPending {
		return 0, fmt.Errorf("return offer: bad state %q", state)
	}
	if missed, err = tx.resolveOffer(o, state, false); err != nil {
		return 0, err
	}
	if c.Status != sb.StatusAssigning {
		return missed, nil
	}
	if _, err := tx.q.ExecContext(tx.ctx, `UPDATE conversations SET skip_user_id = $1 WHERE id = $2`, o.UserID, c.ID); err != nil {
		return 0, err
	}
	waiting := sb.StatusWaiting
	err = tx.ChangeConversation(c, ConversationChange{Status: &waiting, Kind: "offer_" + string(state), ActorID: actorID,
		Data: map[string]any{"offer_id": o.ID, "user_id": o.UserID}})
	return missed, err
}

// dropPending withdraws what a conversation's routing holds on other agents
// — a pending offer, a pending transfer request — without changing the
// conversation itself (it is ending or moving).
func (tx *Tx) dropPending(c *sb.Conversation, text string) error {
	if o, err := tx.PendingOffer(c.ID); err == nil {
		if _, err := tx.resolveOffer(o, sb.OfferWithdrawn, false); err != nil {
			return err
		}
	} else if sb.ErrorCode(err) != sb.ENOTFOUND {
		return err
	}
	if t, err := tx.PendingTransfer(c.ID); err == nil {
		if err := tx.resolveTransfer(t, sb.TransferCancelled, text); err != nil {
			return err
		}
	} else if sb.ErrorCode(err) != sb.ENOTFOUND {
		return err
	}
	return nil
}

// DropStaleOffer withdraws a pending offer whose conversation (locked) is no
// longer assigning, or whose agent can no longer take it (the conversation
// then waits again); false when there was nothing to do.
func (tx *Tx) DropStaleOffer(c *sb.Conversation, offerID int64) (bool, error) {
	o, err := tx.Offer(offerID)
	if err != nil || o.State != sb.OfferPending {
		return false, err
	}
	if c.Status != sb.StatusAssigning {
		_, err = tx.resolveOffer(o, sb.OfferWithdrawn, false)
		return err == nil, err
	}
	a, err := tx.LockAgent(o.UserID)
	if err != nil {
		return false, err
	}
	if a.Presence == sb.PresenceOnline && a.Operator && !a.Disabled {
		return false, nil
	}
	_, err = tx.ReturnOffer(c, o, sb.OfferWithdrawn, nil)
	return err == nil, err
}

// Notify emits a notification for one user.
func (tx *Tx) Notify(userID int64, inboxID int64, n sb.Notification) {
	e := sb.NewEvent(sb.EventNotification, sb.AudienceUser, n)
	e.UserID, e.InboxID, e.ConversationID = userID, inboxID, n.ConversationID
	tx.Emit(e)
}

// userName returns a user's display name ("" when unknown).
func (tx *Tx) userName(id int64) string {
	var name string
	tx.q.QueryRowContext(tx.ctx, `SELECT name FROM users WHERE id = $1`, id).Scan(&name)
	return name
}

// SetChatLimit changes an agent's chat limit and announces it, so that the
// router serves the queue at once when a limit is raised (R3).
func (tx *Tx) SetChatLimit(userID int64, limit int) error {
	if limit < 0 || limit > 100 {
		return sb.Errorf(sb.EINVALID, "Chat limit must be between 0 and 100.")
	}
	res, err := tx.q.ExecContext(tx.ctx, `UPDATE users SET chat_limit = $1 WHERE id = $2`, limit, userID)
	if err != nil {
		return fmt.Errorf("set chat limit: %w", err)
	}
	if err := mustAffect(res, "User"); err != nil {
		return err
	}
	tx.Emit(sb.NewEvent(sb.EventAgent, sb.AudienceOrg, map[string]any{"user_id": userID, "chat_limit": limit}))
	return nil
}

// EndIdle ends live conversation c (locked) after timeout without activity
// (C7): its agent is released and what its routing held is withdrawn.
func (tx *Tx) EndIdle(c *sb.Conversation, timeout time.Duration) error {
	if err := tx.ReleaseAssignee(c); err != nil {
		return err
	}
	ended := sb.StatusEnded
	err := tx.ChangeConversation(c, ConversationChange{Status: &ended, EndedBy: "system", Kind: "inactivity",
		Data: map[string]any{"idle_sec": int(timeout / time.Second)}})
	if err != nil {
		return err
	}
	return tx.leaveQueue(c.ID, true)
}

// ResetMissedOffers restarts an agent's count of offers missed in a row.
func (tx *Tx) ResetMissedOffers(userID int64) error {
	_, err := tx.q.ExecContext(tx.ctx, `UPDATE users SET missed_offers = 0 WHERE id = $1`, userID)
	return err
}
