package store

import (
	sb "github.com/switchboard/switchboard"
)

// MakeTicket turns waiting conversation c (locked) into an unassigned ticket
// (R7): the chat ends, the ticket waits for a supervisor, and the customer is
// told message (the inbox's out-of-hours message) as a system message (R8).
// reason says why, for the history: "closed" or "nobody_online".
func (tx *Tx) MakeTicket(c *sb.Conversation, message, reason string) error {
	if err := tx.SendOutOfHoursMessage(c, message); err != nil {
		return err
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

// SendOutOfHoursMessage tells the customer of conversation c (locked) the
// inbox's out-of-hours message, as a system message (R8); nothing when the
// inbox has none.
func (tx *Tx) SendOutOfHoursMessage(c *sb.Conversation, message string) error {
	if message == "" {
		return nil
	}
	m := &sb.Message{Thread: sb.ThreadPublic, Sender: sb.SenderSystem, Body: message}
	_, err := tx.CreateMessage(c, m)
	return err
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

// ReopenTicket reopens closed ticket c (locked): back to its assignee when
// keepAssignee (the caller checked that they may still have it), unassigned
// otherwise (S3). data, if any, is the history entry's detail.
func (tx *Tx) ReopenTicket(c *sb.Conversation, keepAssignee bool, actorID *int64, data any) error {
	switch c.Ticket {
	case sb.TicketNone:
		return sb.Errorf(sb.ECONFLICT, "The conversation is not a ticket.")
	case sb.TicketUnassigned, sb.TicketAssigned:
		return nil
	}
	next, assignee := sb.TicketUnassigned, (*int64)(nil)
	if keepAssignee && c.AssigneeID != nil {
		next, assignee = sb.TicketAssigned, c.AssigneeID
	}
	return tx.ChangeConversation(c, ConversationChange{Ticket: &next, AssigneeID: &assignee, Kind: "ticket_reopened", ActorID: actorID, Data: data})
}

// UnassignTicket takes open ticket c (locked) from its assignee: it waits
// unassigned for a supervisor again (S3). data is the history entry's detail.
func (tx *Tx) UnassignTicket(c *sb.Conversation, actorID *int64, data any) error {
	if c.Ticket != sb.TicketAssigned {
		return nil
	}
	unassigned := sb.TicketUnassigned
	var none *int64
	return tx.ChangeConversation(c, ConversationChange{Ticket: &unassigned, AssigneeID: &none, Kind: "ticket_unassigned", ActorID: actorID, Data: data})
}

// OpenTicket returns the newest open ticket (unassigned or assigned) in an
// inbox that a conversation of the contact became — not one staff linked to
// a conversation (C11) — its row locked on PostgreSQL; not found when there
// is none.
func (tx *Tx) OpenTicket(inboxID, contactID int64) (*sb.Conversation, error) {
	c, err := scanConversation(tx.q.QueryRowContext(tx.ctx, `SELECT `+conversationColumns+` FROM conversations
		WHERE contact_id = $1 AND inbox_id = $2 AND ticket_status IN ('unassigned', 'assigned') AND parent_id IS NULL
		ORDER BY id DESC LIMIT 1`+tx.d.forUpdate, contactID, inboxID))
	return c, notFound(err, "Ticket")
}

// LatestConversation returns the contact's newest conversation in an inbox,
// its row locked on PostgreSQL; not found when there is none.
func (tx *Tx) LatestConversation(inboxID, contactID int64) (*sb.Conversation, error) {
	c, err := scanConversation(tx.q.QueryRowContext(tx.ctx, `SELECT `+conversationColumns+` FROM conversations
		WHERE contact_id = $1 AND inbox_id = $2 ORDER BY id DESC LIMIT 1`+tx.d.forUpdate, contactID, inboxID))
	return c, notFound(err, "Conversation")
}
