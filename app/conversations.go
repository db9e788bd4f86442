package app

import (
	"context"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/routing"
	"github.com/switchboard/switchboard/store"
)

// visibleInboxes returns the inbox ids p may list: nil for all (admins).
func visibleInboxes(p *sb.Principal) []int64 {
	if p.IsAdmin() {
		return nil
	}
	if p.InboxIDs == nil {
		return []int64{}
	}
	return p.InboxIDs
}

// conversationFor reads a conversation that p may see; anything else is not found.
func (s *Service) conversationFor(ctx context.Context, p *sb.Principal, id int64) (*sb.Conversation, error) {
	c, err := s.db.Conversation(ctx, id)
	if err != nil {
		return nil, err
	}
	if !p.CanSeeConversation(c) {
		return nil, sb.NotFound("Conversation")
	}
	return c, nil
}

// txConversationFor is conversationFor inside a transaction (row locked on PostgreSQL).
func txConversationFor(tx *store.Tx, p *sb.Principal, id int64) (*sb.Conversation, error) {
	c, err := tx.Conversation(id)
	if err != nil {
		return nil, err
	}
	if !p.CanSeeConversation(c) {
		return nil, sb.NotFound("Conversation")
	}
	return c, nil
}

// changeConversation runs change on a conversation p may see, read and
// locked in one transaction, and returns the conversation as it ends up.
func (s *Service) changeConversation(ctx context.Context, p *sb.Principal, id int64, change func(tx *store.Tx, c *sb.Conversation) error) (*sb.Conversation, error) {
	var out *sb.Conversation
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		c, err := txConversationFor(tx, p, id)
		if err != nil {
			return err
		}
		out = c
		return change(tx, c)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// StartConversation opens a widget visitor's conversation in an inbox, or
// returns the one already live there (created == false). While nobody can
// take a chat of the inbox, a visitor who has a ticket there writes to it
// instead, reopening it if it was closed (routing.FollowUpTicket): a new
// message never opens a second ticket nor repeats the out-of-hours message.
// An optional first message is stored with it.
func (s *Service) StartConversation(ctx context.Context, p *sb.Principal, inboxID int64, body, clientID string) (*sb.Conversation, *sb.Message, bool, error) {
	if !p.IsVisitor() {
		return nil, nil, false, sb.Errorf(sb.EFORBIDDEN, "Only visitors start conversations here.")
	}
	if _, err := s.widgetInbox(ctx, inboxID); err != nil {
		return nil, nil, false, err
	}
	if body != "" {
		if err := sb.ValidateBody(body, false); err != nil {
			return nil, nil, false, err
		}
	}
	var conv *sb.Conversation
	var msg *sb.Message
	var created bool
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		conv, msg, created = nil, nil, false
		contact, err := unblockedContact(tx, p)
		if err != nil {
			return err
		}
		c, err := visitorConversation(tx, p, inboxID)
		if err != nil {
			return err
		}
		if c == nil {
			c = &sb.Conversation{InboxID: inboxID, ContactID: p.ContactID, Channel: sb.ChannelWidget, Status: sb.StatusWaiting}
			if created, err = tx.CreateConversation(c, nil); err != nil {
				return err
			}
		}
		conv = c
		if body == "" {
			return nil
		}
		m := &sb.Message{Thread: sb.ThreadPublic, Sender: sb.SenderCustomer, AuthorName: contact.Name, Body: body, ClientID: clientID}
		stored, err := tx.CreateMessage(c, m)
		if err != nil {
			return err
		}
		msg = m
		if stored {
			return routing.TicketFollowedUp(tx, c)
		}
		return nil
	})
	if err != nil {
		return nil, nil, false, err
	}
	return conv, msg, created, nil
}

// visitorConversation returns, locked, the conversation of inbox inboxID
// that visitor p's next message joins: their live one, or the ticket they
// follow up while nobody can take a chat; nil when a new one should open.
func visitorConversation(tx *store.Tx, p *sb.Principal, inboxID int64) (*sb.Conversation, error) {
	c, err := tx.LiveConversation(inboxID, p.ContactID)
	if err == nil || sb.ErrorCode(err) != sb.ENOTFOUND {
		return c, err
	}
	t, err := routing.FollowUpTicket(tx, inboxID, p.ContactID)
	if err != nil || t == nil || !p.CanSeeConversation(t) {
		return nil, err
	}
	return t, nil
}

// Conversation returns one conversation p may see.
func (s *Service) Conversation(ctx context.Context, p *sb.Principal, id int64) (*sb.Conversation, error) {
	return s.conversationFor(ctx, p, id)
}

// ListFilter selects a list of conversations.
type ListFilter struct {
	Status     []sb.Status
	InboxID    *int64
	AssigneeID *int64
	Mine       bool
	Unassigned bool
	Ticket     *sb.TicketStatus
	Before     int64
	Limit      int
}

// Conversations lists conversations p may see: a visitor's own, or those of
// the inboxes a staff member belongs to (all for admins).
func (s *Service) Conversations(ctx context.Context, p *sb.Principal, f ListFilter) ([]*sb.Conversation, error) {
	sf := store.ConversationFilter{Statuses: f.Status, AssigneeID: f.AssigneeID, Unassigned: f.Unassigned, Ticket: f.Ticket, Before: f.Before, Limit: f.Limit}
	switch {
	case p.IsVisitor():
		cid := p.ContactID
		sf.ContactID = &cid
		out, err := s.db.Conversations(ctx, sf)
		if err != nil {
			return nil, err
		}
		mine := out[:0]
		for _, c := range out {
			if p.CanSeeConversation(c) {
				mine = append(mine, c)
			}
		}
		return mine, nil
	case p.IsStaff():
		sf.InboxIDs = visibleInboxes(p)
		if f.InboxID != nil {
			if !p.CanSeeInbox(*f.InboxID) {
				return []*sb.Conversation{}, nil
			}
			sf.InboxIDs = []int64{*f.InboxID}
		}
		if f.Mine {
			uid := p.UserID
			sf.AssigneeID = &uid
		}
		return s.db.Conversations(ctx, sf)
	}
	return nil, sb.Errorf(sb.EUNAUTHORIZED, "Log in first.")
}

// ConversationPatch is what staff may change on a conversation directly.
type ConversationPatch struct {
	CategoryID    *int64
	ClearCategory bool
}

// UpdateConversation applies a patch (C8: category).
func (s *Service) UpdateConversation(ctx context.Context, p *sb.Principal, id int64, patch ConversationPatch) (*sb.Conversation, error) {
	if !p.IsStaff() {
		return nil, sb.NotFound("Conversation")
	}
	return s.changeConversation(ctx, p, id, func(tx *store.Tx, c *sb.Conversation) error {
		ch := store.ConversationChange{Kind: "category", ActorID: &p.UserID}
		switch {
		case patch.ClearCategory:
			var none *int64
			ch.CategoryID = &none
		case patch.CategoryID != nil:
			ch.CategoryID = &patch.CategoryID
			ch.Data = map[string]any{"category_id": *patch.CategoryID}
		default:
			return nil
		}
		return tx.ChangeConversation(c, ch)
	})
}

// Take lets an operator take a live, unassigned chat of their inbox (C1).
// The chat limit holds.
func (s *Service) Take(ctx context.Context, p *sb.Principal, id int64) (*sb.Conversation, error) {
	if !p.IsStaff() {
		return nil, sb.NotFound("Conversation")
	}
	return s.changeConversation(ctx, p, id, func(tx *store.Tx, c *sb.Conversation) error {
		if !p.Operator {
			return sb.Errorf(sb.EFORBIDDEN, "Only operators take chats.")
		}
		if c.Status != sb.StatusWaiting && c.Status != sb.StatusBot {
			if c.AssigneeID != nil && *c.AssigneeID == p.UserID && c.Status == sb.StatusAssigned {
				return nil
			}
			return sb.Errorf(sb.ECONFLICT, "The chat is %s and cannot be taken.", c.Status)
		}
		return tx.AssignTo(c, p.UserID, &p.UserID, true)
	})
}

// RequestHuman is the customer asking for a person: a bot chat starts waiting.
func (s *Service) RequestHuman(ctx context.Context, p *sb.Principal, id int64) (*sb.Conversation, error) {
	if !p.IsVisitor() {
		return nil, sb.NotFound("Conversation")
	}
	return s.changeConversation(ctx, p, id, func(tx *store.Tx, c *sb.Conversation) error {
		if !c.Status.Live() {
			return sb.Errorf(sb.ECONFLICT, "The conversation has ended.")
		}
		if c.Status != sb.StatusBot {
			return nil // already with, or on the way to, a person
		}
		waiting := sb.StatusWaiting
		return tx.ChangeConversation(c, store.ConversationChange{Status: &waiting, Kind: "human_requested"})
	})
}

// EndConversation ends a chat (C6): the customer, the assigned agent, or a
// supervisor of the inbox may end it.
func (s *Service) EndConversation(ctx context.Context, p *sb.Principal, id int64) (*sb.Conversation, error) {
	return s.changeConversation(ctx, p, id, func(tx *store.Tx, c *sb.Conversation) error {
		if !c.Status.Live() {
			return nil // ending twice is harmless
		}
		by := "customer"
		var actor *int64
		if p.IsStaff() {
			mine := c.AssigneeID != nil && *c.AssigneeID == p.UserID
			if !mine && !p.IsSupervisor() {
				return sb.Errorf(sb.EFORBIDDEN, "Only the assigned agent or a supervisor ends this chat.")
			}
			by, actor = "agent", &p.UserID
		}
		if err := tx.ReleaseAssignee(c); err != nil {
			return err
		}
		ended := sb.StatusEnded
		return tx.ChangeConversation(c, store.ConversationChange{Status: &ended, EndedBy: by, Kind: "ended", ActorID: actor})
	})
}

// History returns a conversation's recorded state changes (staff only).
func (s *Service) History(ctx context.Context, p *sb.Principal, id int64) ([]sb.HistoryEntry, error) {
	if !p.IsStaff() {
		return nil, sb.NotFound("Conversation")
	}
	if _, err := s.conversationFor(ctx, p, id); err != nil {
		return nil, err
	}
	return s.db.History(ctx, id)
}
