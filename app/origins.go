package app

import (
	"context"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// An inbox's allowed_origins keep other websites from embedding its chat.
// Origin is what a browser says about the page that makes a request, not a
// credential: anything but a browser may leave it out, and requests without
// one pass. So these checks stop the widget working inside foreign pages;
// they do not stop a server that relays requests. Callers pass the Origin of
// cross-origin requests only ("" for the server's own pages and for clients
// that send none). Settings are read on every call, never cached, so that a
// removed origin stops working with the next request.

// ErrOriginNotAllowed refuses a widget request from a page whose origin the
// inbox does not allow. The web layer recognises it to withhold CORS.
var ErrOriginNotAllowed = sb.Errorf(sb.EFORBIDDEN, "This website may not use this chat: its origin is not in the inbox's allowed origins.")

// CheckWidgetOrigin refuses the widget of an inbox to a page of origin the
// inbox does not allow. An inbox that is not a widget inbox is not found.
func (s *Service) CheckWidgetOrigin(ctx context.Context, inboxID int64, origin string) error {
	if origin == "" {
		return nil
	}
	in, err := s.widgetInbox(ctx, inboxID)
	if err != nil {
		return err
	}
	if !in.Settings.AllowsOrigin(origin) {
		return ErrOriginNotAllowed
	}
	return nil
}

// CheckVisitorOrigin refuses a visitor calling from a page of origin when an
// inbox they have a conversation in does not allow it. A visitor is not
// bound to an inbox, their conversations are: one without a conversation in
// such an inbox passes, and starting one there is checked by
// CheckWidgetOrigin. REST requests and WebSocket hellos both call it.
func (s *Service) CheckVisitorOrigin(ctx context.Context, p *sb.Principal, origin string) error {
	if origin == "" || !p.IsVisitor() {
		return nil
	}
	refusing, err := s.widgetInboxes(ctx, func(in *sb.Inbox) bool { return !in.Settings.AllowsOrigin(origin) })
	if err != nil || len(refusing) == 0 {
		return err
	}
	contactID := p.ContactID
	cs, err := s.db.Conversations(ctx, store.ConversationFilter{InboxIDs: refusing, ContactID: &contactID, Limit: 1})
	if err != nil {
		return err
	}
	if len(cs) > 0 {
		return ErrOriginNotAllowed
	}
	return nil
}

// WidgetAllowsOrigin reports whether some widget inbox may be used from a
// page of origin. A CORS preflight names neither the inbox nor the visitor,
// so this is all that can be asked when answering one.
func (s *Service) WidgetAllowsOrigin(ctx context.Context, origin string) (bool, error) {
	allowing, err := s.widgetInboxes(ctx, func(in *sb.Inbox) bool { return in.Settings.AllowsOrigin(origin) })
	return len(allowing) > 0, err
}

// widgetInboxes returns the ids of the widget inboxes that match. There are
// few inboxes, and reading them all is one query.
func (s *Service) widgetInboxes(ctx context.Context, match func(*sb.Inbox) bool) ([]int64, error) {
	all, err := s.db.Inboxes(ctx)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, in := range all {
		if in.Channel == sb.ChannelWidget && match(in) {
			ids = append(ids, in.ID)
		}
	}
	return ids, nil
}
