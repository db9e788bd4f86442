package routing

import (
	"context"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// Tickets (R7, R8, S3). A conversation that arrives when nobody can take it
// becomes a ticket: the chat ends, the customer gets the inbox's
// out-of-hours message, and a supervisor assigns, closes and reopens it.
//
// What the customer writes next follows what Zendesk, Freshdesk and
// Chatwoot do with a reply to a ticket: it joins the ticket rather than
// opening another one. While nobody can take a chat, a customer's new
// message goes to their open ticket of the inbox (the newest, if several),
// and, when their latest conversation there is a closed ticket, reopens it —
// PRODUCT.md sets no age limit, so a closed ticket is reopened however old.
// Only tickets that the customer's own conversations became count: a ticket
// staff linked to a chat (C11) is the team's follow-up, not the customer's
// thread.
// The out-of-hours message is sent when a ticket opens (it is made, or the
// customer reopens it while nobody can answer): at most once per stretch a
// ticket is open, never on every message. When somebody can take a chat, a
// customer writing again gets a live chat as usual (C6); their open ticket
// stays for its supervisor, and the agent sees it in the customer's history
// (C2).

// FollowUpTicket returns the ticket that a customer's new message in an
// inbox joins instead of opening a conversation, or nil when a conversation
// should open: when an agent can take a chat of the inbox now, or the
// customer has no open ticket there and their latest conversation is not a
// closed ticket (linked tickets aside, see above). The ticket's row is locked. Call TicketFollowedUp once the
// customer's message is stored in it.
func FollowUpTicket(tx *store.Tx, inboxID, contactID int64) (*sb.Conversation, error) {
	a, err := admissionOf(tx, inboxID)
	if err != nil || a.ticketReason() == "" {
		return nil, err
	}
	t, err := tx.OpenTicket(inboxID, contactID)
	if err == nil {
		return t, nil
	}
	if sb.ErrorCode(err) != sb.ENOTFOUND {
		return nil, err
	}
	last, err := tx.LatestConversation(inboxID, contactID)
	switch {
	case sb.ErrorCode(err) == sb.ENOTFOUND:
		return nil, nil
	case err != nil:
		return nil, err
	case last.Ticket == sb.TicketClosed && last.ParentID == nil:
		return last, nil
	}
	return nil, nil
}

// TicketFollowedUp does what a customer's message, just stored in ticket c
// (locked), does to it. An open ticket only gains the message: the customer
// was told the out-of-hours message when it opened. A closed ticket reopens,
// to its assignee if they may still have it (who is told); while nobody can
// take a chat of the inbox the customer is told the out-of-hours message
// again, once, as when the ticket opened.
func TicketFollowedUp(tx *store.Tx, c *sb.Conversation) error {
	if c.Ticket != sb.TicketClosed {
		return nil
	}
	if err := reopenTicket(tx, c, nil, map[string]any{"by": "customer"}); err != nil {
		return err
	}
	if c.AssigneeID != nil {
		tx.Notify(*c.AssigneeID, c.InboxID, sb.Notification{Kind: "ticket", ConversationID: c.ID,
			Text: "The customer wrote again: a ticket of yours was reopened."})
	}
	a, err := admissionOf(tx, c.InboxID)
	if err != nil || a.ticketReason() == "" {
		return err
	}
	return tx.SendOutOfHoursMessage(c, a.inbox.Settings.OutOfHoursMessage)
}

// reopenTicket reopens closed ticket c (locked): to its assignee when they
// may still have it, unassigned otherwise.
func reopenTicket(tx *store.Tx, c *sb.Conversation, actorID *int64, data any) error {
	keep := false
	if c.AssigneeID != nil {
		var err error
		if keep, err = mayHoldTicket(tx, c.InboxID, *c.AssigneeID); err != nil {
			return err
		}
	}
	return tx.ReopenTicket(c, keep, actorID, data)
}

// mayHoldTicket reports whether a user may have a ticket of an inbox: an
// enabled member of it, or an admin (who sees every inbox). A user who does
// not exist may not.
func mayHoldTicket(tx *store.Tx, inboxID, userID int64) (bool, error) {
	u, err := tx.User(userID)
	if sb.ErrorCode(err) == sb.ENOTFOUND {
		return false, nil
	}
	if err != nil || u.Disabled {
		return false, err
	}
	if u.Role.AtLeast(sb.RoleAdmin) {
		return true, nil
	}
	return tx.IsInboxMember(inboxID, userID)
}

// AssignTicket gives a ticket to a member of its inbox, who may then reply (S3).
func AssignTicket(ctx context.Context, db *store.DB, actorID, convID, userID int64, auth Authorize) (*sb.Conversation, error) {
	return ticketOp(ctx, db, convID, auth, func(tx *store.Tx, c *sb.Conversation) error {
		if _, err := tx.User(userID); sb.ErrorCode(err) == sb.ENOTFOUND {
			return sb.NotFound("Agent")
		}
		ok, err := mayHoldTicket(tx, c.InboxID, userID)
		if err != nil {
			return err
		}
		if !ok {
			return sb.Errorf(sb.EINVALID, "That user is not a member of this inbox.")
		}
		if err := tx.AssignTicket(c, userID, &actorID); err != nil {
			return err
		}
		tx.Notify(userID, c.InboxID, sb.Notification{Kind: "ticket", ConversationID: c.ID, FromUserID: actorID, Text: "A ticket was assigned to you."})
		return nil
	})
}

// CloseTicket closes a ticket (S3).
func CloseTicket(ctx context.Context, db *store.DB, actorID, convID int64, auth Authorize) (*sb.Conversation, error) {
	return ticketOp(ctx, db, convID, auth, func(tx *store.Tx, c *sb.Conversation) error { return tx.CloseTicket(c, &actorID) })
}

// ReopenTicket reopens a closed ticket (S3): to its assignee when they may
// still have it, unassigned otherwise.
func ReopenTicket(ctx context.Context, db *store.DB, actorID, convID int64, auth Authorize) (*sb.Conversation, error) {
	return ticketOp(ctx, db, convID, auth, func(tx *store.Tx, c *sb.Conversation) error { return reopenTicket(tx, c, &actorID, nil) })
}

func ticketOp(ctx context.Context, db *store.DB, convID int64, auth Authorize, fn func(tx *store.Tx, c *sb.Conversation) error) (*sb.Conversation, error) {
	var out *sb.Conversation
	err := db.Write(ctx, func(tx *store.Tx) error {
		out = nil
		c, err := tx.Conversation(convID)
		if err != nil {
			return err
		}
		if err := auth.check(c); err != nil {
			return err
		}
		if err := fn(tx, c); err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}
