package store

import (
	"fmt"

	sb "github.com/switchboard/switchboard"
)

// AssignTo gives conversation c (read in this tx) to a user, moving it to
// assigned. The users.active_chats counter of the old and new assignee is
// kept in the same transaction. With enforceLimit, the user's row is locked
// and the assignment refused when they are at their chat limit, so the limit
// holds when several nodes assign at once.
func (tx *Tx) AssignTo(c *sb.Conversation, userID int64, actorID *int64, enforceLimit bool) error {
	var active, limit int
	var disabled bool
	err := tx.q.QueryRowContext(tx.ctx, `SELECT active_chats, chat_limit, disabled FROM users WHERE id = $1`+tx.d.forUpdate, userID).Scan(&active, &limit, &disabled)
	if err != nil {
		return notFound(err, "User")
	}
	if disabled {
		return sb.NotFound("User")
	}
	if c.AssigneeID != nil && *c.AssigneeID == userID && c.Status == sb.StatusAssigned {
		return nil
	}
	if enforceLimit && active >= limit {
		return sb.Errorf(sb.ECONFLICT, "The agent is at their limit of %d chats.", limit)
	}
	if err := tx.ReleaseAssignee(c); err != nil {
		return err
	}
	if _, err := tx.q.ExecContext(tx.ctx, `UPDATE users SET active_chats = active_chats + 1, last_assigned_at = $1 WHERE id = $2`, micros(tx.now), userID); err != nil {
		return fmt.Errorf("count chat: %w", err)
	}
	assigned := sb.StatusAssigned
	uid := &userID
	return tx.ChangeConversation(c, ConversationChange{Status: &assigned, AssigneeID: &uid, Kind: "assigned", ActorID: actorID, Data: map[string]any{"assignee_id": userID}})
}

// ReleaseAssignee takes c's current assignee's count down by one; it does
// not change c itself. Call it when a chat ends or moves to someone else.
func (tx *Tx) ReleaseAssignee(c *sb.Conversation) error {
	if c.AssigneeID == nil || !c.Status.Live() {
		return nil
	}
	_, err := tx.q.ExecContext(tx.ctx, `UPDATE users SET active_chats = active_chats - 1 WHERE id = $1 AND active_chats > 0`, *c.AssigneeID)
	return err
}
