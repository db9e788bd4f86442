package app

import (
	"context"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// CreateVisitor starts a widget visitor for an inbox: a fresh contact and a
// random token (returned once; only its hash is kept).
func (s *Service) CreateVisitor(ctx context.Context, inboxID int64) (string, *sb.Visitor, error) {
	if _, err := s.widgetInbox(ctx, inboxID); err != nil {
		return "", nil, err
	}
	raw, hash := NewToken(PrefixVisitor)
	v := &sb.Visitor{TokenHash: hash}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.CreateVisitor(v) }); err != nil {
		return "", nil, err
	}
	return raw, v, nil
}

// AuthenticateVisitor turns a visitor token into a principal. Anything but a
// known token is unauthorized; nothing a visitor types grants access.
func (s *Service) AuthenticateVisitor(ctx context.Context, token string) (*sb.Principal, error) {
	if !wellFormed(token, PrefixVisitor) {
		return nil, sb.Errorf(sb.EUNAUTHORIZED, "The visitor token is not valid.")
	}
	v, err := s.db.VisitorByHash(ctx, HashToken(token))
	if sb.ErrorCode(err) == sb.ENOTFOUND {
		return nil, sb.Errorf(sb.EUNAUTHORIZED, "The visitor token is not valid.")
	}
	if err != nil {
		return nil, err
	}
	return &sb.Principal{VisitorID: v.ID, ContactID: v.ContactID}, nil
}

// UpdateVisitorContact sets the visitor's own name and e-mail (a pre-chat form).
func (s *Service) UpdateVisitorContact(ctx context.Context, p *sb.Principal, name, email string) (*sb.Contact, error) {
	if !p.IsVisitor() {
		return nil, sb.Errorf(sb.EFORBIDDEN, "Only visitors update their own details here.")
	}
	var c *sb.Contact
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		if c, err = tx.Contact(p.ContactID); err != nil {
			return err
		}
		c.Name, c.Email = name, email
		return tx.UpdateContact(c)
	})
	return c, err
}

// PublicInbox is what the widget may know of an inbox before anyone logs in.
type PublicInbox struct {
	ID                int64  `json:"id"`
	Name              string `json:"name"`
	Greeting          string `json:"greeting"`
	Open              bool   `json:"open"`
	OutOfHoursMessage string `json:"out_of_hours_message"`
}

// PublicInbox returns the public face of a widget inbox.
func (s *Service) PublicInbox(ctx context.Context, inboxID int64) (*PublicInbox, error) {
	in, err := s.widgetInbox(ctx, inboxID)
	if err != nil {
		return nil, err
	}
	return &PublicInbox{
		ID: in.ID, Name: in.Name, Greeting: in.Settings.Greeting,
		Open:              in.Settings.BusinessHours.Open(s.clock.Now()),
		OutOfHoursMessage: in.Settings.OutOfHoursMessage,
	}, nil
}

func (s *Service) widgetInbox(ctx context.Context, inboxID int64) (*sb.Inbox, error) {
	in, err := s.db.Inbox(ctx, inboxID)
	if err != nil {
		return nil, err
	}
	if in.Channel != sb.ChannelWidget {
		return nil, sb.NotFound("Inbox")
	}
	return in, nil
}
