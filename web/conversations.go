package web

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/attachment"
)

// Message list limits.
const (
	defaultMessages = 100
	maxMessages     = 500
)

// conversationPage is a page of the conversation list; NextBefore is the
// cursor of the next (older) page, absent on the last one.
type conversationPage struct {
	Items      []*sb.Conversation `json:"items"`
	NextBefore int64              `json:"next_before,omitempty"`
}

// parseListFilter reads the conversation list's query parameters.
func parseListFilter(r *http.Request) (app.ListFilter, error) {
	var f app.ListFilter
	q := r.URL.Query()
	for _, v := range q["status"] {
		for _, st := range strings.Split(v, ",") {
			st := sb.Status(strings.TrimSpace(st))
			if !knownStatus(st) {
				return f, sb.Errorf(sb.EINVALID, "Unknown status %q.", st)
			}
			f.Status = append(f.Status, st)
		}
	}
	for _, name := range []string{"inbox_id", "assignee_id"} {
		n, ok, err := queryInt(r, name)
		if err != nil {
			return f, err
		}
		if ok {
			if name == "inbox_id" {
				f.InboxID = &n
			} else {
				f.AssigneeID = &n
			}
		}
	}
	var err error
	if f.Mine, err = queryBool(r, "mine"); err != nil {
		return f, err
	}
	if f.Unassigned, err = queryBool(r, "unassigned"); err != nil {
		return f, err
	}
	if t := q.Get("ticket"); t != "" {
		ts := sb.TicketStatus(t)
		switch ts {
		case sb.TicketUnassigned, sb.TicketAssigned, sb.TicketClosed:
		case "none":
			ts = sb.TicketNone
		default:
			return f, sb.Errorf(sb.EINVALID, "ticket must be none, unassigned, assigned or closed.")
		}
		f.Ticket = &ts
	}
	if f.Before, _, err = queryInt(r, "before"); err != nil {
		return f, err
	}
	if f.Limit, err = queryLimit(r, 50, 200); err != nil {
		return f, err
	}
	return f, nil
}

func knownStatus(s sb.Status) bool {
	switch s {
	case sb.StatusBot, sb.StatusWaiting, sb.StatusAssigning, sb.StatusAssigned, sb.StatusTransferring, sb.StatusEnded, sb.StatusFailed:
		return true
	}
	return false
}

func (s *Server) listConversations(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	f, err := parseListFilter(r)
	if err != nil {
		return err
	}
	cs, err := s.svc.Conversations(r.Context(), p, f)
	if err != nil {
		return err
	}
	page := conversationPage{Items: cs}
	if page.Items == nil {
		page.Items = []*sb.Conversation{}
	}
	if len(cs) == f.Limit && len(cs) > 0 {
		page.NextBefore = cs[len(cs)-1].ID
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (s *Server) getConversation(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	c, err := s.svc.Conversation(r.Context(), p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) updateConversation(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req struct {
		CategoryID optionalID `json:"category_id"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	var patch app.ConversationPatch
	if req.CategoryID.Set {
		patch.CategoryID, patch.ClearCategory = req.CategoryID.ID, req.CategoryID.ID == nil
	}
	c, err := s.svc.UpdateConversation(r.Context(), p, id, patch)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// listMessages serves both APIs: visitors always read the public thread.
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	thread := sb.Thread(r.URL.Query().Get("thread"))
	if thread == "" {
		thread = sb.ThreadPublic
	}
	if !thread.Valid() {
		return sb.Errorf(sb.EINVALID, "thread must be public, internal or comment.")
	}
	after, _, err := queryInt(r, "after")
	if err != nil {
		return err
	}
	limit, err := queryLimit(r, defaultMessages, maxMessages)
	if err != nil {
		return err
	}
	ms, err := s.svc.Messages(r.Context(), p, id, thread, after, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, items(ms))
	return nil
}

// widgetMessages is listMessages without a choice of thread.
func (s *Server) widgetMessages(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	if t := r.URL.Query().Get("thread"); t != "" && t != string(sb.ThreadPublic) {
		return sb.NotFound("Conversation")
	}
	return s.listMessages(w, r, p)
}

// sendRequest is the body of a message post.
type sendRequest struct {
	Thread   sb.Thread `json:"thread"`
	Body     string    `json:"body"`
	ClientID string    `json:"client_id"`
}

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req sendRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	return s.send(w, r, p, id, req)
}

func (s *Server) send(w http.ResponseWriter, r *http.Request, p *sb.Principal, convID int64, req sendRequest) error {
	m, created, err := s.svc.SendMessage(r.Context(), p, convID, req.Thread, req.Body, req.ClientID)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK // a retry: the original message
	}
	writeJSON(w, status, m)
	return nil
}

func (s *Server) widgetSend(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req struct {
		Body     string `json:"body"`
		ClientID string `json:"client_id"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	return s.send(w, r, p, id, sendRequest{Thread: sb.ThreadPublic, Body: req.Body, ClientID: req.ClientID})
}

// conversationAction answers an action that returns the conversation.
func (s *Server) conversationAction(w http.ResponseWriter, r *http.Request, p *sb.Principal,
	act func(*http.Request, *sb.Principal, int64) (*sb.Conversation, error)) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	c, err := act(r, p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) takeConversation(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	return s.conversationAction(w, r, p, func(r *http.Request, p *sb.Principal, id int64) (*sb.Conversation, error) {
		return s.svc.Take(r.Context(), p, id)
	})
}

func (s *Server) endConversation(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	return s.conversationAction(w, r, p, func(r *http.Request, p *sb.Principal, id int64) (*sb.Conversation, error) {
		return s.svc.EndConversation(r.Context(), p, id)
	})
}

func (s *Server) createLinkedTicket(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	return s.conversationAction(w, r, p, func(r *http.Request, p *sb.Principal, id int64) (*sb.Conversation, error) {
		return s.svc.CreateLinkedTicket(r.Context(), p, id)
	})
}

func (s *Server) requestHuman(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	return s.conversationAction(w, r, p, func(r *http.Request, p *sb.Principal, id int64) (*sb.Conversation, error) {
		return s.svc.RequestHuman(r.Context(), p, id)
	})
}

func (s *Server) conversationHistory(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	h, err := s.svc.History(r.Context(), p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, items(h))
	return nil
}

func (s *Server) listNotes(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ns, err := s.svc.Notes(r.Context(), p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, items(ns))
	return nil
}

func (s *Server) addNote(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req struct {
		Body string `json:"body"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	n, err := s.svc.AddNote(r.Context(), p, id, req.Body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, n)
	return nil
}

// multipartOverhead is what a multipart body may hold besides the file: the
// part headers, the boundaries and a client_id field.
const multipartOverhead = 64 << 10

// upload streams a multipart/form-data body's "file" part into the app
// layer, which checks type and size as it stores it; nothing is buffered
// beyond the part being read. An optional "client_id" field must come
// before the file. Serves both APIs.
func (s *Server) upload(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	limit := s.svc.Config().MaxUploadBytes
	if r.ContentLength > limit+multipartOverhead {
		return sb.Errorf(sb.ETOOLARGE, "The file is larger than the limit of %d bytes.", limit)
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return sb.Errorf(sb.EUNSUPPORTED, "Send the file as multipart/form-data in a part named \"file\".")
	}
	deadline := time.Now().Add(transferTimeout)
	setDeadlines(w, deadline, deadline)
	r.Body = http.MaxBytesReader(w, r.Body, limit+multipartOverhead)
	mr, err := r.MultipartReader()
	if err != nil {
		return sb.Errorf(sb.EINVALID, "The multipart body is malformed.")
	}
	var clientID string
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return sb.Errorf(sb.EINVALID, "The body has no part named \"file\".")
		}
		if err != nil {
			return multipartError(err)
		}
		switch part.FormName() {
		case "client_id":
			b, err := io.ReadAll(io.LimitReader(part, 65))
			if err != nil {
				return multipartError(err)
			}
			clientID = string(b)
			if err := sb.ValidateClientID(clientID); err != nil {
				return err
			}
		case "file":
			m, a, err := s.svc.Upload(r.Context(), p, id, part, part.FileName(), clientID)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusCreated, struct {
				Message    *sb.Message    `json:"message"`
				Attachment *sb.Attachment `json:"attachment"`
			}{m, a})
			return nil
		default:
			return sb.Errorf(sb.EINVALID, "Unknown form field %q; send client_id and file.", part.FormName())
		}
	}
}

func multipartError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return err
	}
	return sb.Errorf(sb.EINVALID, "The multipart body is malformed.")
}

// download serves an attachment as a download (inline only for safe
// images) with a sandboxing CSP. Serves both APIs.
func (s *Server) download(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	a, f, err := s.svc.OpenAttachment(r.Context(), p, id)
	if err != nil {
		return err
	}
	defer f.Close()
	setDeadlines(w, time.Time{}, time.Now().Add(transferTimeout))
	attachment.Serve(w, r, f, a.FileName, a.ContentType, a.Size, a.CreatedAt)
	return nil
}

func (s *Server) blockFromConversation(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req struct {
		Kind   sb.BlockKind `json:"kind"`
		Reason string       `json:"reason"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	b, err := s.svc.BlockFromConversation(r.Context(), p, id, req.Kind, req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, b)
	return nil
}

func (s *Server) getContact(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	c, err := s.svc.Contact(r.Context(), p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) contactConversations(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	cs, err := s.svc.ContactConversations(r.Context(), p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, items(cs))
	return nil
}

func (s *Server) listCategories(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	cs, err := s.svc.Categories(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, items(cs))
	return nil
}

func (s *Server) createCategory(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	c, err := s.svc.CreateCategory(r.Context(), p, req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) deleteCategory(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	return s.deleteByID(w, r, p, s.svc.DeleteCategory)
}

func (s *Server) listCanned(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	cs, err := s.svc.CannedResponses(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, items(cs))
	return nil
}

func (s *Server) createCanned(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	var req struct {
		Shortcut string `json:"shortcut"`
		Title    string `json:"title"`
		Body     string `json:"body"`
		Personal bool   `json:"personal"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	c, err := s.svc.CreateCannedResponse(r.Context(), p, sb.CannedResponse{Shortcut: req.Shortcut, Title: req.Title, Body: req.Body}, req.Personal)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (s *Server) updateCanned(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req struct {
		Shortcut *string `json:"shortcut"`
		Title    *string `json:"title"`
		Body     *string `json:"body"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	// Fields left out keep their values: start from the response as the
	// caller sees it. One the caller cannot see is left to the app layer
	// to refuse.
	var c sb.CannedResponse
	all, err := s.svc.CannedResponses(r.Context(), p)
	if err != nil {
		return err
	}
	for _, have := range all {
		if have.ID == id {
			c = have
		}
	}
	if req.Shortcut != nil {
		c.Shortcut = *req.Shortcut
	}
	if req.Title != nil {
		c.Title = *req.Title
	}
	if req.Body != nil {
		c.Body = *req.Body
	}
	out, err := s.svc.UpdateCannedResponse(r.Context(), p, id, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) deleteCanned(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	return s.deleteByID(w, r, p, s.svc.DeleteCannedResponse)
}

func (s *Server) listBlocks(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	bs, err := s.svc.Blocks(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, items(bs))
	return nil
}

func (s *Server) createBlock(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	var req struct {
		Kind   sb.BlockKind `json:"kind"`
		Value  string       `json:"value"`
		Reason string       `json:"reason"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	b, err := s.svc.CreateBlock(r.Context(), p, sb.Block{Kind: req.Kind, Value: req.Value, Reason: req.Reason})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, b)
	return nil
}

func (s *Server) deleteBlock(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	return s.deleteByID(w, r, p, s.svc.DeleteBlock)
}

// deleteByID answers a DELETE of an object by its path id with 204.
func (s *Server) deleteByID(w http.ResponseWriter, r *http.Request, p *sb.Principal,
	del func(ctx context.Context, p *sb.Principal, id int64) error) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := del(r.Context(), p, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
