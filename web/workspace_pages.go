package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/attachment"
)

// uploadExtensions is the C4 allow-list, for the composer's checks before
// an upload starts (the server checks again).
var uploadExtensions = strings.Join(attachment.Extensions(), ",")

func jsonInto(raw json.RawMessage, v any) bool {
	return len(raw) > 0 && json.Unmarshal(raw, v) == nil
}

// appView is the whole workspace page.
type appView struct {
	Title   string
	Section string
	V       *viewer
	List    *viewList
	Pane    *viewPane
	Info    *viewInfo
	Pos     int64 // the event position the page is current to; the WebSocket resumes after it
}

// workspacePage serves /app and /app/c/{id}: the shell with the lists, and
// the conversation when one is named.
func (s *Server) workspacePage(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	ctx := r.Context()
	// Read the position first: events after it may already be in what is
	// rendered, and are then applied twice harmlessly (by id, by seq).
	_, pos, err := s.svc.DB().EventBounds(ctx)
	if err != nil {
		return err
	}
	v, err := s.loadViewer(ctx, p, credentialsOf(r))
	if err != nil {
		return err
	}
	view := &appView{Title: "Switchboard", Section: "inbox", V: v, Pos: pos}
	var open int64
	if raw := r.PathValue("id"); raw != "" {
		if open, err = pathID(r, "id"); err != nil {
			return err
		}
		if view.Pane, err = s.buildPane(ctx, v, open); err != nil {
			return err
		}
		if view.Info, err = s.buildInfo(ctx, v, view.Pane.C, view.Pane.Contact, view.Pane.journey); err != nil {
			return err
		}
		view.Title = view.Pane.Name + " · Switchboard"
	}
	if view.List, err = s.buildList(ctx, v, parseListQuery(r, v), open); err != nil {
		return err
	}
	return s.renderWorkspace(w, http.StatusOK, "app", "app", view)
}

// workspaceList serves a conversation list fragment (tabs, filters, search).
func (s *Server) workspaceList(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	v, err := s.loadViewer(r.Context(), p, credentialsOf(r))
	if err != nil {
		return err
	}
	open, _ := strconv.ParseInt(r.URL.Query().Get("open"), 10, 64)
	l, err := s.buildList(r.Context(), v, parseListQuery(r, v), open)
	if err != nil {
		return err
	}
	return s.renderWorkspace(w, http.StatusOK, "fragments", "list", l)
}

// workspacePane serves the centre pane of a conversation, with the right
// panel as an out-of-band swap.
func (s *Server) workspacePane(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	v, err := s.loadViewer(ctx, p, credentialsOf(r))
	if err != nil {
		return err
	}
	pane, err := s.buildPane(ctx, v, id)
	if err != nil {
		return err
	}
	info, err := s.buildInfo(ctx, v, pane.C, pane.Contact, pane.journey)
	if err != nil {
		return err
	}
	info.Tab = r.URL.Query().Get("info")
	return s.renderWorkspace(w, http.StatusOK, "fragments", "pane-with-info", struct {
		Pane *viewPane
		Info *viewInfo
	}{pane, info})
}

// workspaceHeader serves a conversation's header alone: status, agent and
// actions change; the log and the composer stay.
func (s *Server) workspaceHeader(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	v, err := s.loadViewer(r.Context(), p, credentialsOf(r))
	if err != nil {
		return err
	}
	pane, err := s.buildPane(r.Context(), v, id)
	if err != nil {
		return err
	}
	return s.renderWorkspace(w, http.StatusOK, "fragments", "pane-head", pane)
}

// workspaceInfo serves the right panel of a conversation.
func (s *Server) workspaceInfo(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	v, err := s.loadViewer(ctx, p, credentialsOf(r))
	if err != nil {
		return err
	}
	c, err := s.svc.Conversation(ctx, p, id)
	if err != nil {
		return err
	}
	ct, err := s.contactCache(p).get(ctx, c.ContactID)
	if err != nil {
		return err
	}
	info, err := s.buildInfo(ctx, v, c, ct, nil)
	if err != nil {
		return err
	}
	info.Tab = r.URL.Query().Get("tab")
	return s.renderWorkspace(w, http.StatusOK, "fragments", "info", info)
}

// workspaceMessages serves messages of one thread as log items: those with
// seq > after (new ones, on an event), or, with before, the older page
// above the oldest shown. Items carry stable ids (msg-{id}), so the client
// replaces instead of duplicating.
func (s *Server) workspaceMessages(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	after, _, err := queryInt(r, "after")
	if err != nil {
		return err
	}
	before, hasBefore, err := queryInt(r, "before")
	if err != nil {
		return err
	}
	thread := sb.Thread(r.URL.Query().Get("thread"))
	if thread == "" {
		thread = sb.ThreadPublic
	}
	limit := 200
	if hasBefore {
		after = max(0, before-1-paneMessages)
		limit = int(before - 1 - after)
	}
	v, err := s.loadViewer(ctx, p, credentialsOf(r))
	if err != nil {
		return err
	}
	c, err := s.svc.Conversation(ctx, p, id)
	if err != nil {
		return err
	}
	ct, err := s.contactCache(p).get(ctx, c.ContactID)
	if err != nil {
		return err
	}
	var msgs []*sb.Message
	if limit > 0 {
		if msgs, err = s.svc.Messages(ctx, p, id, thread, after, limit); err != nil {
			return err
		}
	}
	out := struct {
		Messages []viewMessage
		C        *sb.Conversation
		Earlier  bool // a whole earlier chat, rendered into its section
		FirstSeq int64
	}{C: c, Earlier: r.URL.Query().Get("earlier") != ""}
	if hasBefore {
		out.FirstSeq = after + 1
	}
	name := displayName(ct)
	for _, m := range msgs {
		out.Messages = append(out.Messages, v.message(m, name))
	}
	return s.renderWorkspace(w, http.StatusOK, "fragments", "messages", out)
}

// counters is what the top bar counts (W4), for the red and blue pills.
type counters struct {
	// Mine are the viewer's live chats with their last sequence numbers; the
	// browser knows what it has read and counts the unread ones.
	Mine []counterChat `json:"mine"`
	// Unassigned counts the live chats nobody has yet (capped at 100).
	Unassigned int `json:"unassigned"`
	// Tickets counts the unassigned tickets (capped at 100).
	Tickets int `json:"tickets"`
	// Operator and Supervisor say which counters apply.
	Operator   bool  `json:"operator"`
	Supervisor bool  `json:"supervisor"`
	Pos        int64 `json:"pos"`
}

type counterChat struct {
	ID      int64     `json:"id"`
	LastSeq int64     `json:"last_seq"`
	Status  sb.Status `json:"status"`
}

// workspaceCounters serves the counters as JSON; the page refreshes them
// on conversation events.
func (s *Server) workspaceCounters(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	ctx := r.Context()
	v, err := s.loadViewer(ctx, p, credentialsOf(r))
	if err != nil {
		return err
	}
	none := sb.TicketNone
	out := counters{Mine: []counterChat{}, Operator: p.Operator, Supervisor: p.IsSupervisor()}
	if p.Operator {
		mine, err := s.conversations(ctx, v, listQuery{Tab: "mine"}.filter(p))
		if err != nil {
			return err
		}
		for _, c := range mine {
			out.Mine = append(out.Mine, counterChat{ID: c.ID, LastSeq: c.LastSeq, Status: c.Status})
		}
	}
	waiting, err := s.conversations(ctx, v, listQueryUnassigned(&none))
	if err != nil {
		return err
	}
	out.Unassigned = len(waiting)
	ticket := sb.TicketUnassigned
	tickets, err := s.conversations(ctx, v, listQueryUnassigned(&ticket))
	if err != nil {
		return err
	}
	out.Tickets = len(tickets)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listQueryUnassigned selects up to 100 conversations nobody holds: live
// chats (ticket "") or tickets of the given state.
func listQueryUnassigned(t *sb.TicketStatus) app.ListFilter {
	f := app.ListFilter{Unassigned: true, Ticket: t, Limit: 100}
	if *t == sb.TicketNone {
		f.Status = []sb.Status{sb.StatusWaiting, sb.StatusAssigning}
	}
	return f
}

// appFilter selects one agent's chats (not tickets) in some statuses.
func appFilter(assignee *int64, statuses []sb.Status, limit int) app.ListFilter {
	none := sb.TicketNone
	return app.ListFilter{AssigneeID: assignee, Status: statuses, Ticket: &none, Limit: limit}
}
