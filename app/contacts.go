package app

import (
	"context"

	sb "github.com/switchboard/switchboard"
)

// Contact returns a customer record to staff who can see at least one of
// the customer's conversations (admins: every contact).
func (s *Service) Contact(ctx context.Context, p *sb.Principal, id int64) (*sb.Contact, error) {
	if !p.IsStaff() {
		return nil, sb.NotFound("Contact")
	}
	if !p.IsAdmin() {
		ok, err := s.db.ContactInInboxes(ctx, id, visibleInboxes(p))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, sb.NotFound("Contact")
		}
	}
	return s.db.Contact(ctx, id)
}

// ContactConversations returns a customer's journey (H1, H2): their
// conversations and tickets in the inboxes p can see, newest first.
func (s *Service) ContactConversations(ctx context.Context, p *sb.Principal, contactID int64) ([]*sb.Conversation, error) {
	if _, err := s.Contact(ctx, p, contactID); err != nil {
		return nil, err
	}
	return s.db.ContactConversations(ctx, contactID, visibleInboxes(p))
}
