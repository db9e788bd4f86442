package store

import (
	sb "github.com/switchboard/switchboard"
)

// MakeTicket turns waiting conversation c (locked) into an unassigned ticket
// (R7): the chat ends, the ticket waits for a supervisor, and the customer is
// told message (the inbox's out-of-hours message) as a system message (R8).
// reason says why, for the history: "closed" or "nobody_online".
func (tx *Tx) MakeTicket(c *sb.Conversation, message, reason string) error {
	if message != "" {
		m := &sb.Message{Thread: sb.ThreadPublic, Sender: sb.SenderSystem, Body: message}
		if _, err := tx.CreateMessage(c, m); err != nil {
			return err
		}
	}
	if err := tx.ReleaseAssignee(c); err != nil {
		return err
	}
	ended, ticket := sb.StatusEnded, sb.TicketUnassigned
	err := tx.ChangeConversation(c, ConversationChange{Status: &ended, Ticket: &ticket, EndedBy: "system", Kind: "ticket",
		Data: map[string]any{"reason": reason}})
	if err != nil {
		return err
	}
	if err := tx.leaveQueue(c.ID, false); err != nil {
		return err
	}
	return tx.Unschedule(DeadlineIdle, c.ID)
}

// AssignTicket gives ticket c (locked) to a user, who may then reply to the
// customer (S3). The caller checks that the user may see the inbox.
func (tx *Tx) AssignTicket(c *sb.Conversation, userID int64, actorID *int64) error {
	if c.Ticket == sb.TicketNone {
		return sb.Errorf(sb.ECONFLICT, "The conversation is not a ticket.")
	}
	if c.Ticket == sb.TicketClosed {
		return sb.Errorf(sb.ECONFLICT, "The ticket is closed; reopen it first.")
	}
	assigned := sb.TicketAssigned
	uid := &userID
	return tx.ChangeConversation(c, ConversationChange{AssigneeID: &uid, Ticket: &assigned, Kind: "ticket_assigned", ActorID: actorID,
		Data: map[string]any{"assignee_id": userID}})
}

// CloseTicket closes ticket c (locked) (S3).
func (tx *Tx) CloseTicket(c *sb.Conversation, actorID *int64) error {
	switch c.Ticket {
	case sb.TicketNone:
		return sb.Errorf(sb.ECONFLICT, "The conversation is not a ticket.")
	case sb.TicketClosed:
		return nil
	}
	closed := sb.TicketClosed
	return tx.ChangeConversation(c, ConversationChange{Ticket: &closed, Kind: "ticket_closed", ActorID: actorID})
}

// ReopenTicket reopens closed ticket c (locked): back to its assignee, or
// unassigned when it had none (S3).
func (tx *Tx) ReopenTicket(c *sb.Conversation, actorID *int64) error {
	switch c.Ticket {
	case sb.TicketNone:
		return sb.Errorf(sb.ECONFLICT, "The conversation is not a ticket.")
	case sb.TicketUnassigned, sb.TicketAssigned:
		return nil
	}
	next := sb.TicketUnassigned
	if c.AssigneeID != nil {
		next = sb.TicketAssigned
	}
	return tx.ChangeConversation(c, ConversationChange{Ticket: &next, Kind: "ticket_reopened", ActorID: actorID})
}
