package store

import (
	"fmt"

	sb "github.com/switchboard/switchboard"
)

// AssignTo gives conversation c (read in this tx) to a user, moving it to
// assigned. The users.active_chats counter of the old and new assignee is
// kept in the same transaction, and whatever c's routing held on other
// agents (a pending offer, a transfer request) is withdrawn. With
// enforceLimit, the user's row is locked and the assignment refused when
// their chats plus pending offers reach their limit (lowered by the inbox's
// limit, if any), so the limit holds when several nodes assign at once (R2).
func (tx *Tx) AssignTo(c *sb.Conversation, userID int64, actorID *int64, enforceLimit bool) error {
	a, err := tx.LockAgent(userID)
	if err != nil {
		return err
	}
	if a.Disabled {
		return sb.NotFound("User")
	}
	if c.AssigneeID != nil && *c.AssigneeID == userID && c.Status == sb.StatusAssigned {
		return nil
	}
	in, err := tx.Inbox(c.InboxID)
	if err != nil {
		return err
	}
	if enforceLimit {
		load := a.Load()
		if c.Status == sb.StatusAssigning {
			// An offer of c to this very agent already holds their capacity.
			if o, err := tx.PendingOffer(c.ID); err == nil && o.UserID == userID {
				load--
			}
		}
		if limit := sb.EffectiveChatLimit(a.ChatLimit, in.Settings.ChatLimit); load >= limit {
			return sb.Errorf(sb.ECONFLICT, "The agent is at their limit of %d chats.", limit)
		}
	}
	if err := tx.ReleaseAssignee(c); err != nil {
		return err
	}
	if _, err := tx.q.ExecContext(tx.ctx, `UPDATE users SET active_chats = active_chats + 1, last_assigned_at = $1 WHERE id = $2`, micros(tx.now), userID); err != nil {
		return fmt.Errorf("count chat: %w", err)
	}
	assigned := sb.StatusAssigned
	uid := &userID
	err = tx.ChangeConversation(c, ConversationChange{Status: &assigned, AssigneeID: &uid, Kind: "assigned", ActorID: actorID, Data: map[string]any{"assignee_id": userID}})
	if err != nil {
		return err
	}
	if err := tx.leaveQueue(c.ID, true); err != nil {
		return err
	}
	return tx.ensureIdleDeadline(c)
}

// ReleaseAssignee takes c's current assignee's count down by one and
// withdraws what c's routing holds on other agents (a pending offer or
// transfer request, whose capacity is given back); it does not change c
// itself. Call it, before changing c, when a chat ends or moves to someone
// else.
func (tx *Tx) ReleaseAssignee(c *sb.Conversation) error {
	switch c.Status {
	case sb.StatusAssigning, sb.StatusTransferring:
		if err := tx.dropPending(c, "The transfer was cancelled: the chat ended or was reassigned."); err != nil {
			return err
		}
	}
	if c.AssigneeID == nil || !c.Status.Live() {
		return nil
	}
	_, err := tx.q.ExecContext(tx.ctx, `UPDATE users SET active_chats = active_chats - 1 WHERE id = $1 AND active_chats > 0`, *c.AssigneeID)
	return err
}
