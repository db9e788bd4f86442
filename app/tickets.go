package app

import (
	"context"
	"fmt"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// CreateLinkedTicket opens an unassigned ticket linked to a conversation
// (C11), for the same customer and inbox, with the customer's details in its
// subject. During a live chat the system notes it in the internal thread
// (C9); after the chat ended it does not.
func (s *Service) CreateLinkedTicket(ctx context.Context, p *sb.Principal, convID int64) (*sb.Conversation, error) {
	if !p.IsStaff() {
		return nil, sb.NotFound("Conversation")
	}
	var ticket *sb.Conversation
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		c, err := txConversationFor(tx, p, convID)
		if err != nil {
			return err
		}
		contact, err := tx.Contact(c.ContactID)
		if err != nil {
			return err
		}
		subject := fmt.Sprintf("From chat #%d", c.ID)
		if who := contactLabel(contact); who != "" {
			subject += " with " + who
		}
		parent := c.ID
		t := &sb.Conversation{InboxID: c.InboxID, ContactID: c.ContactID, Channel: c.Channel, Status: sb.StatusEnded,
			Ticket: sb.TicketUnassigned, Subject: truncateText(subject, 200), ParentID: &parent}
		if _, err := tx.CreateConversation(t, &p.UserID); err != nil {
			return err
		}
		if err := tx.AddHistory(c, "linked_ticket", &p.UserID, "", "", map[string]any{"ticket_id": t.ID}); err != nil {
			return err
		}
		if c.Status.Live() {
			note := &sb.Message{Thread: sb.ThreadInternal, Sender: sb.SenderSystem, AuthorName: "Switchboard",
				Body: fmt.Sprintf("%s created linked ticket #%d.", p.Name, t.ID)}
			if _, err := tx.CreateMessage(c, note); err != nil {
				return err
			}
		}
		ticket = t
		return nil
	})
	return ticket, err
}

// contactLabel names a contact by what is known of them.
func contactLabel(c *sb.Contact) string {
	switch {
	case c.Name != "" && c.Email != "":
		return c.Name + " <" + c.Email + ">"
	case c.Name != "":
		return c.Name
	case c.Email != "":
		return c.Email
	}
	return c.Phone
}
