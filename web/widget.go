package web

import (
	"net/http"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
)

func (s *Server) widgetInbox(w http.ResponseWriter, r *http.Request, _ *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.svc.CheckWidgetOrigin(r.Context(), id, foreignOrigin(r.Context())); err != nil {
		return err
	}
	in, err := s.svc.PublicInbox(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, in)
	return nil
}

// createVisitor starts a widget visitor. Anyone may, so it is limited per
// client address: each call stores a contact and a visitor.
func (s *Server) createVisitor(w http.ResponseWriter, r *http.Request, _ *sb.Principal) error {
	var req struct {
		InboxID int64 `json:"inbox_id"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.InboxID <= 0 {
		return sb.Errorf(sb.EINVALID, "inbox_id is required.")
	}
	// Checked before the rate limit: a refused request takes nothing from
	// the address's allowance.
	if err := s.svc.CheckWidgetOrigin(r.Context(), req.InboxID, foreignOrigin(r.Context())); err != nil {
		return err
	}
	ok, err := s.visitors.Take(r.Context(), clientAddr(r.Context()))
	if err != nil {
		return err
	}
	if !ok {
		return sb.Errorf(sb.ERATELIMIT, "Too many new visitors from your address. Try again in a minute.")
	}
	token, v, err := s.svc.CreateVisitor(r.Context(), req.InboxID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, struct {
		Token   string      `json:"token"`
		Visitor *sb.Visitor `json:"visitor"`
	}{token, v})
	return nil
}

func (s *Server) updateVisitor(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	var req struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	c, err := s.svc.UpdateVisitorContact(r.Context(), p, req.Name, req.Email)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) widgetConversations(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	before, _, err := queryInt(r, "before")
	if err != nil {
		return err
	}
	limit, err := queryLimit(r, 50, 200)
	if err != nil {
		return err
	}
	cs, err := s.svc.Conversations(r.Context(), p, app.ListFilter{Before: before, Limit: limit})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, items(cs))
	return nil
}

// startConversation opens the visitor's conversation in an inbox, with an
// optional first message: 201 when it was created, 200 with the live one
// when the visitor already has one there.
func (s *Server) startConversation(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	var req struct {
		InboxID  int64  `json:"inbox_id"`
		Body     string `json:"body"`
		ClientID string `json:"client_id"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.InboxID <= 0 {
		return sb.Errorf(sb.EINVALID, "inbox_id is required.")
	}
	// The visitor's own inboxes were checked with their token (authVisitor);
	// the one they start a conversation in may be another.
	if err := s.svc.CheckWidgetOrigin(r.Context(), req.InboxID, foreignOrigin(r.Context())); err != nil {
		return err
	}
	c, m, created, err := s.svc.StartConversation(r.Context(), p, req.InboxID, req.Body, req.ClientID)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, struct {
		Conversation *sb.Conversation `json:"conversation"`
		Message      *sb.Message      `json:"message"`
	}{c, m})
	return nil
}
