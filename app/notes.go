package app

import (
	"context"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// Notes returns the team's notes on a conversation (C8), oldest first, to
// staff who can see its inbox.
func (s *Service) Notes(ctx context.Context, p *sb.Principal, convID int64) ([]sb.Note, error) {
	if !p.IsStaff() {
		return nil, sb.NotFound("Conversation")
	}
	if _, err := s.conversationFor(ctx, p, convID); err != nil {
		return nil, err
	}
	return s.db.Notes(ctx, convID)
}

// AddNote saves a note for the team on a conversation (C8). Notes stay
// writable after the chat ended: they are how the team remembers a customer.
func (s *Service) AddNote(ctx context.Context, p *sb.Principal, convID int64, body string) (*sb.Note, error) {
	if !p.IsStaff() {
		return nil, sb.NotFound("Conversation")
	}
	if err := sb.ValidateBody(body, false); err != nil {
		return nil, err
	}
	var n sb.Note
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		c, err := txConversationFor(tx, p, convID)
		if err != nil {
			return err
		}
		n = sb.Note{AuthorID: p.UserID, Body: body}
		return tx.CreateNote(c, &n)
	})
	if err != nil {
		return nil, err
	}
	return &n, nil
}
