package store

import (
	"context"
	"fmt"
	"time"

	sb "github.com/switchboard/switchboard"
)

const transferColumns = `id, conversation_id, inbox_id, from_user_id, to_user_id, note, state, created_at, expires_at, resolved_at`

func scanTransfer(row rowScanner) (*sb.Transfer, error) {
	var t sb.Transfer
	var created, expires, resolved int64
	if err := row.Scan(&t.ID, &t.ConversationID, &t.InboxID, &t.FromUserID, &t.ToUserID, &t.Note, &t.State, &created, &expires, &resolved); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt = fromMicros(created), fromMicros(expires)
	if resolved != 0 {
		r := fromMicros(resolved)
		t.ResolvedAt = &r
	}
	return &t, nil
}

func queryTransfers(ctx context.Context, q querier, query string, args ...any) ([]*sb.Transfer, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*sb.Transfer{}
	for rows.Next() {
		t, err := scanTransfer(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Transfer returns a transfer request by id.
func (db *DB) Transfer(ctx context.Context, id int64) (*sb.Transfer, error) {
	t, err := scanTransfer(db.read.QueryRowContext(ctx, `SELECT `+transferColumns+` FROM transfers WHERE id = $1`, id))
	return t, notFound(err, "Transfer")
}

// Transfer returns a transfer request by id inside the transaction.
func (tx *Tx) Transfer(id int64) (*sb.Transfer, error) {
	t, err := scanTransfer(tx.q.QueryRowContext(tx.ctx, `SELECT `+transferColumns+` FROM transfers WHERE id = $1`, id))
	return t, notFound(err, "Transfer")
}

// PendingTransfer returns the pending transfer request of a conversation.
func (tx *Tx) PendingTransfer(convID int64) (*sb.Transfer, error) {
	t, err := scanTransfer(tx.q.QueryRowContext(tx.ctx, `SELECT `+transferColumns+` FROM transfers WHERE conversation_id = $1 AND state = 'pending'`, convID))
	return t, notFound(err, "Transfer")
}

// PendingTransfersTo returns the transfer requests waiting for a user's answer.
func (tx *Tx) PendingTransfersTo(userID int64) ([]*sb.Transfer, error) {
	return queryTransfers(tx.ctx, tx.q, `SELECT `+transferColumns+` FROM transfers WHERE to_user_id = $1 AND state = 'pending' ORDER BY id`, userID)
}

// PendingTransfers returns the transfer requests a user sent or must answer.
func (db *DB) PendingTransfers(ctx context.Context, userID int64) ([]*sb.Transfer, error) {
	return queryTransfers(ctx, db.read, `SELECT `+transferColumns+` FROM transfers
		WHERE state = 'pending' AND (to_user_id = $1 OR conversation_id IN (SELECT id FROM conversations WHERE assignee_id = $1 AND status = 'transferring'))
		ORDER BY id`, userID)
}

// AllPendingTransfers returns every pending transfer request (for tests).
func (db *DB) AllPendingTransfers(ctx context.Context) ([]*sb.Transfer, error) {
	return queryTransfers(ctx, db.read, `SELECT `+transferColumns+` FROM transfers WHERE state = 'pending' ORDER BY id`)
}

// StaleTransfers returns pending transfers that a path other than routing's
// left behind: their conversation is no longer transferring (it ended or
// moved), or their receiver can no longer take it (away, offline, disabled).
func (db *DB) StaleTransfers(ctx context.Context) ([]*sb.Transfer, error) {
	return queryTransfers(ctx, db.read, `SELECT t.id, t.conversation_id, t.inbox_id, t.from_user_id, t.to_user_id, t.note, t.state, t.created_at, t.expires_at, t.resolved_at
		FROM transfers t JOIN conversations c ON c.id = t.conversation_id JOIN users u ON u.id = t.to_user_id
		WHERE t.state = 'pending' AND (c.status <> 'transferring' OR u.presence <> 'online' OR NOT u.operator OR u.disabled)`)
}

// CreateTransfer records agent from's request that agent to take over
// conversation c (locked, assigned to from). The request holds one unit of
// to's capacity (its row locked and checked by the caller) until it is
// answered; the chat shows "transferring" and stays with from (R4).
func (tx *Tx) CreateTransfer(c *sb.Conversation, from, to int64, note string, ttl time.Duration) (*sb.Transfer, error) {
	t := &sb.Transfer{ConversationID: c.ID, InboxID: c.InboxID, FromUserID: from, ToUserID: to, Note: note, State: sb.TransferPending,
		CreatedAt: tx.now, ExpiresAt: tx.now.Add(ttl)}
	err := tx.q.QueryRowContext(tx.ctx, `INSERT INTO transfers (conversation_id, inbox_id, from_user_id, to_user_id, note, state, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7) RETURNING id`, t.ConversationID, t.InboxID, from, to, note, micros(t.CreatedAt), micros(t.ExpiresAt)).Scan(&t.ID)
	if isUniqueViolation(err) {
		return nil, sb.Errorf(sb.ECONFLICT, "A transfer of this chat is already pending.")
	}
	if err != nil {
		return nil, fmt.Errorf("insert transfer: %w", err)
	}
	if _, err := tx.q.ExecContext(tx.ctx, `UPDATE users SET offered_chats = offered_chats + 1 WHERE id = $1`, to); err != nil {
		return nil, fmt.Errorf("count transfer: %w", err)
	}
	transferring := sb.StatusTransferring
	err = tx.ChangeConversation(c, ConversationChange{Status: &transferring, Kind: "transfer_requested", ActorID: &from,
		Data: map[string]any{"transfer_id": t.ID, "from_user_id": from, "to_user_id": to, "note": note}})
	if err != nil {
		return nil, err
	}
	if err := tx.Schedule(DeadlineTransfer, t.ID, t.ExpiresAt); err != nil {
		return nil, err
	}
	fromName, toName := tx.userName(from), tx.userName(to)
	tx.emitTransfer(t)
	tx.Notify(to, c.InboxID, sb.Notification{Kind: "transfer", ConversationID: c.ID, FromUserID: from,
		Text: fmt.Sprintf("%s asks you to take over a chat.", fromName)})
	tx.Notify(from, c.InboxID, sb.Notification{Kind: "transfer", ConversationID: c.ID, FromUserID: from,
		Text: fmt.Sprintf("Transfer request sent to %s.", toName)})
	return t, nil
}

func (tx *Tx) emitTransfer(t *sb.Transfer) {
	for _, uid := range []int64{t.FromUserID, t.ToUserID} {
		e := sb.NewEvent(sb.EventTransfer, sb.AudienceUser, t)
		e.UserID, e.InboxID, e.ConversationID = uid, t.InboxID, t.ConversationID
		tx.Emit(e)
	}
}

// resolveTransfer closes a pending transfer, gives back the capacity it held
// on the receiver, and tells both agents (the sender hears every outcome).
func (tx *Tx) resolveTransfer(t *sb.Transfer, state sb.TransferState, text string) error {
	res, err := tx.q.ExecContext(tx.ctx, `UPDATE transfers SET state = $1, resolved_at = $2 WHERE id = $3 AND state = 'pending'`, string(state), micros(tx.now), t.ID)
	if err != nil {
		return fmt.Errorf("resolve transfer: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return sb.Errorf(sb.ECONFLICT, "The transfer request is no longer open.")
	}
	t.State = state
	now := tx.now
	t.ResolvedAt = &now
	activeExpr := "active_chats"
	if state == sb.TransferAccepted {
		activeExpr = "active_chats + 1"
	}
	if _, err := tx.q.ExecContext(tx.ctx, `UPDATE users SET offered_chats = CASE WHEN offered_chats > 0 THEN offered_chats - 1 ELSE 0 END,
		active_chats = `+activeExpr+` WHERE id = $1`, t.ToUserID); err != nil {
		return fmt.Errorf("release transfer: %w", err)
	}
	if err := tx.Unschedule(DeadlineTransfer, t.ID); err != nil {
		return err
	}
	tx.emitTransfer(t)
	n := sb.Notification{Kind: "transfer_result", ConversationID: t.ConversationID, FromUserID: t.ToUserID, Text: text}
	tx.Notify(t.FromUserID, t.InboxID, n)
	if state == sb.TransferExpired || state == sb.TransferCancelled {
		tx.Notify(t.ToUserID, t.InboxID, n)
	}
	return nil
}

// AnswerTransfer resolves conversation c's (locked) pending transfer t.
// Accepted, the chat moves to the receiver; rejected, expired or cancelled,
// it stays with the sender (R4). actorID is who answered (nil: the system).
func (tx *Tx) AnswerTransfer(c *sb.Conversation, t *sb.Transfer, state sb.TransferState, actorID *int64) error {
	if state == sb.TransferPending {
		return fmt.Errorf("answer transfer: bad state %q", state)
	}
	toName := tx.userName(t.ToUserID)
	var text string
	switch state {
	case sb.TransferAccepted:
		text = fmt.Sprintf("%s took over the chat.", toName)
	case sb.TransferRejected:
		text = fmt.Sprintf("%s declined the transfer; the chat stays with you.", toName)
	case sb.TransferExpired:
		text = fmt.Sprintf("%s did not answer the transfer in time; the chat stays with you.", toName)
	default:
		text = "The transfer was cancelled; the chat stays with you."
	}
	if state == sb.TransferAccepted {
		// The sender's chat moves to the receiver.
		if c.AssigneeID != nil && c.Status.Live() {
			if _, err := tx.q.ExecContext(tx.ctx, `UPDATE users SET active_chats = active_chats - 1 WHERE id = $1 AND active_chats > 0`, *c.AssigneeID); err != nil {
				return err
			}
		}
	}
	if err := tx.resolveTransfer(t, state, text); err != nil {
		return err
	}
	if c.Status != sb.StatusTransferring {
		return nil
	}
	assigned := sb.StatusAssigned
	ch := ConversationChange{Status: &assigned, Kind: "transfer_" + string(state), ActorID: actorID,
		Data: map[string]any{"transfer_id": t.ID, "from_user_id": t.FromUserID, "to_user_id": t.ToUserID}}
	if state == sb.TransferAccepted {
		to := &t.ToUserID
		ch.AssigneeID = &to
	}
	// The inactivity check of c still holds (IdleCheck).
	return tx.ChangeConversation(c, ch)
}

// DropStaleTransfer cancels a pending transfer whose conversation (locked) is
// no longer transferring, or whose receiver can no longer take it (the chat
// stays with the sender); false when there was nothing to do.
func (tx *Tx) DropStaleTransfer(c *sb.Conversation, transferID int64) (bool, error) {
	t, err := tx.Transfer(transferID)
	if err != nil || t.State != sb.TransferPending {
		return false, err
	}
	if c.Status != sb.StatusTransferring {
		err = tx.resolveTransfer(t, sb.TransferCancelled, "The transfer was cancelled because the chat changed.")
		return err == nil, err
	}
	a, err := tx.LockAgent(t.ToUserID)
	if err != nil {
		return false, err
	}
	if a.Presence == sb.PresenceOnline && a.Operator && !a.Disabled {
		return false, nil
	}
	err = tx.AnswerTransfer(c, t, sb.TransferCancelled, nil)
	return err == nil, err
}

// Requeue puts live conversation c (locked) back in a queue — of inbox
// inboxID (another one or its own) and department deptID (0: none) (R5, R6)
// — released by its agent and with what its routing held withdrawn. avoid is
// tried last by the router.
func (tx *Tx) Requeue(c *sb.Conversation, inboxID, deptID, avoid int64, kind string, actorID *int64, data any) error {
	return tx.requeue(c, inboxID, deptID, avoid, tx.now, kind, actorID, data)
}

// ReturnToQueue puts live conversation c (locked), whose agent can no
// longer serve it, back in its queue — same inbox, same department — with
// what its routing held withdrawn. It is served before those who arrived
// after its customer (its place is when the conversation began), since
// the customer was already being served.
func (tx *Tx) ReturnToQueue(c *sb.Conversation, kind string, actorID *int64, data any) error {
	var dept int64
	if c.DepartmentID != nil {
		dept = *c.DepartmentID
	}
	return tx.requeue(c, c.InboxID, dept, 0, c.CreatedAt, kind, actorID, data)
}

func (tx *Tx) requeue(c *sb.Conversation, inboxID, deptID, avoid int64, queuedAt time.Time, kind string, actorID *int64, data any) error {
	if err := tx.ReleaseAssignee(c); err != nil {
		return err
	}
	if c.Status == sb.StatusTransferring {
		// Its transfer request was just cancelled; a transferring chat goes
		// back to assigned before it can wait again.
		assigned := sb.StatusAssigned
		if err := tx.ChangeConversation(c, ConversationChange{Status: &assigned, Kind: "transfer_cancelled", ActorID: actorID}); err != nil {
			return err
		}
	}
	oldInbox := c.InboxID
	if inboxID != c.InboxID {
		_, err := tx.q.ExecContext(tx.ctx, `UPDATE conversations SET inbox_id = $1 WHERE id = $2`, inboxID, c.ID)
		if isUniqueViolation(err) {
			return sb.Errorf(sb.ECONFLICT, "The customer already has a live conversation in that inbox.")
		}
		if isForeignKeyViolation(err) {
			return sb.NotFound("Inbox")
		}
		if err != nil {
			return fmt.Errorf("move conversation: %w", err)
		}
		c.InboxID = inboxID
	}
	var skip any
	if avoid != 0 {
		skip = avoid
	}
	if _, err := tx.q.ExecContext(tx.ctx, `UPDATE conversations SET queued_at = $1, skip_user_id = $2 WHERE id = $3`, micros(queuedAt), skip, c.ID); err != nil {
		return err
	}
	if err := tx.forgetPosition(c.ID); err != nil {
		return err
	}
	waiting := sb.StatusWaiting
	var none *int64
	var dept *int64
	if deptID != 0 {
		dept = &deptID
	}
	ch := ConversationChange{Status: &waiting, AssigneeID: &none, DepartmentID: &dept, Kind: kind, ActorID: actorID, Data: data}
	if err := tx.ChangeConversation(c, ch); err != nil {
		return err
	}
	if oldInbox != c.InboxID {
		// The staff of the old inbox see the chat leave.
		e := sb.NewEvent(sb.EventConversation, sb.AudienceStaff, c)
		e.InboxID, e.ConversationID = oldInbox, c.ID
		tx.Emit(e)
	}
	return tx.ensureIdleDeadline(c)
}
