package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	sb "github.com/switchboard/switchboard"
)

// pageView is what every page beside the conversations shows: the top bar
// and its own content.
type pageView struct {
	Title   string
	Section string
	V       *viewer
	Pos     int64
}

func (s *Server) pageView(ctx context.Context, r *http.Request, p *sb.Principal, title, section string) (*pageView, error) {
	_, pos, err := s.svc.DB().EventBounds(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.loadViewer(ctx, p, credentialsOf(r))
	if err != nil {
		return nil, err
	}
	return &pageView{Title: title + " · Switchboard", Section: section, V: v, Pos: pos}, nil
}

// conversationSummary is what an offer card shows of its chat.
type conversationSummary struct {
	ID           int64      `json:"id"`
	Name         string     `json:"name"`
	Channel      sb.Channel `json:"channel"`
	ChannelLabel string     `json:"channel_label"`
	Inbox        string     `json:"inbox"`
	Preview      string     `json:"preview"`
	Status       sb.Status  `json:"status"`
	CreatedAt    time.Time  `json:"created_at"`
	FromName     string     `json:"from_name,omitempty"` // who has it now (a transfer's sender)
}

// workspaceSummary serves an offer card's text as JSON: the customer,
// channel, inbox and first customer message, all plain text.
func (s *Server) workspaceSummary(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	c, err := s.svc.Conversation(ctx, p, id)
	if err != nil {
		return err
	}
	ct, err := s.contactCache(p).get(ctx, c.ContactID)
	if err != nil {
		return err
	}
	out := conversationSummary{ID: c.ID, Name: displayName(ct), Channel: c.Channel, ChannelLabel: channelLabel(c.Channel), Status: c.Status, CreatedAt: c.CreatedAt, Preview: c.LastPreview}
	if in, err := s.svc.Inbox(ctx, p, c.InboxID); err == nil {
		out.Inbox = in.Name
	}
	msgs, err := s.svc.Messages(ctx, p, c.ID, sb.ThreadPublic, 0, 20)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Sender == sb.SenderCustomer && m.Body != "" {
			out.Preview = truncateRunes(m.Body, 140)
			break
		}
	}
	if c.AssigneeID != nil {
		if u, err := s.svc.User(ctx, p, *c.AssigneeID); err == nil {
			out.FromName = u.Name
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// ---- the customer record (H1, H2) ----

type contactView struct {
	*pageView
	Contact  *sb.Contact
	Name     string
	Journey  []viewEarlier
	Selected *sb.Conversation
	History  []viewHistory
	Messages []viewMessage
}

// contactPage shows a customer and every transaction of theirs the viewer
// may see: chats and tickets with agent and status; one selected shows its
// whole timeline ("view all transactions").
func (s *Server) contactPage(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	ctx := r.Context()
	ct, err := s.svc.Contact(ctx, p, id)
	if err != nil {
		return err
	}
	pv, err := s.pageView(ctx, r, p, displayName(ct), "inbox")
	if err != nil {
		return err
	}
	view := &contactView{pageView: pv, Contact: ct, Name: displayName(ct)}
	journey, err := s.svc.ContactConversations(ctx, p, id)
	if err != nil {
		return err
	}
	for _, c := range journey {
		view.Journey = append(view.Journey, viewEarlier{C: c, Agent: pv.V.UserName(c.AssigneeID), Inbox: pv.V.InboxName(c.InboxID)})
	}
	sel, _ := strconv.ParseInt(r.URL.Query().Get("c"), 10, 64)
	if sel == 0 && len(journey) > 0 {
		sel = journey[0].ID
	}
	for _, c := range journey {
		if c.ID != sel {
			continue
		}
		view.Selected = c
		hist, err := s.svc.History(ctx, p, c.ID)
		if err != nil {
			return err
		}
		for _, h := range hist {
			view.History = append(view.History, viewHistory{H: h, Text: pv.V.historyText(h)})
		}
		msgs, err := s.svc.Messages(ctx, p, c.ID, sb.ThreadPublic, 0, 500)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			view.Messages = append(view.Messages, pv.V.message(m, view.Name))
		}
	}
	return s.renderWorkspace(w, http.StatusOK, "contact", "contact", view)
}

// ---- the live board (S4) and agent summaries (W2) ----

type boardInbox struct {
	Inbox       *sb.Inbox
	Waiting     int
	Capped      bool
	LongestWait time.Duration
	AverageWait time.Duration
	Offered     int
	Active      int
	Agents      int // online members
}

type boardAgent struct {
	U          *sb.User
	Active     int
	Limit      int
	OldestWait time.Duration // how long their quietest chat has had no activity
	NeedsHelp  bool
}

type boardView struct {
	*pageView
	Inboxes  []boardInbox
	Agents   []boardAgent
	Now      time.Time
	Capacity int
	Online   int
}

// boardScan bounds how many live chats the board reads.
const boardScan = 1000

func (s *Server) buildBoard(ctx context.Context, v *viewer) (*boardView, error) {
	b := &boardView{Now: v.Now}
	oldest := map[int64]time.Duration{}
	// One pass over the live chats of every visible inbox, newest first.
	byInbox := map[int64]*boardInbox{}
	waitSum := map[int64]time.Duration{}
	for _, in := range v.Inboxes {
		byInbox[in.ID] = &boardInbox{Inbox: in}
	}
	f := listQuery{Tab: "live"}.filter(v.P)
	scanned := 0
	for scanned < boardScan {
		f.Limit = maxListRows
		page, err := s.conversations(ctx, v, f)
		if err != nil {
			return nil, err
		}
		for _, c := range page {
			f.Before = c.ID
			scanned++
			bi := byInbox[c.InboxID]
			if bi == nil {
				continue
			}
			switch c.Status {
			case sb.StatusWaiting:
				bi.Waiting++
				wait := v.Now.Sub(c.CreatedAt)
				waitSum[c.InboxID] += wait
				bi.LongestWait = max(bi.LongestWait, wait)
			case sb.StatusAssigning:
				bi.Offered++
			case sb.StatusAssigned, sb.StatusTransferring:
				bi.Active++
				if c.AssigneeID != nil {
					oldest[*c.AssigneeID] = max(oldest[*c.AssigneeID], v.Now.Sub(c.LastActivity))
				}
			}
		}
		if len(page) < maxListRows {
			break
		}
	}
	for _, in := range v.Inboxes {
		bi := byInbox[in.ID]
		bi.Capped = scanned >= boardScan
		if bi.Waiting > 0 {
			bi.AverageWait = waitSum[in.ID] / time.Duration(bi.Waiting)
		}
		for _, u := range v.Users {
			if u.Operator && !u.Disabled && u.Presence == sb.PresenceOnline && slices.Contains(u.InboxIDs, in.ID) {
				bi.Agents++
			}
		}
		b.Inboxes = append(b.Inboxes, *bi)
	}
	for _, u := range v.Agents() {
		limit := u.ChatLimit
		if limit <= 0 {
			limit = sb.DefaultChatLimit
		}
		a := boardAgent{U: u, Active: u.ActiveChats, Limit: limit, OldestWait: oldest[u.ID]}
		a.NeedsHelp = a.OldestWait > 5*time.Minute || (u.Presence == sb.PresenceOnline && a.Active >= a.Limit)
		if u.Presence == sb.PresenceOnline {
			b.Online++
			b.Capacity += max(0, limit-a.Active)
		}
		b.Agents = append(b.Agents, a)
	}
	// Sort by need: online agents at their limit or with a long-waiting
	// customer first, then by load.
	presenceRank := map[sb.Presence]int{sb.PresenceOnline: 0, sb.PresenceAway: 1, sb.PresenceOffline: 2}
	slices.SortStableFunc(b.Agents, func(x, y boardAgent) int {
		switch {
		case x.NeedsHelp != y.NeedsHelp:
			if x.NeedsHelp {
				return -1
			}
			return 1
		case presenceRank[x.U.Presence] != presenceRank[y.U.Presence]:
			return presenceRank[x.U.Presence] - presenceRank[y.U.Presence]
		}
		return y.Active*100/y.Limit - x.Active*100/x.Limit
	})
	slices.SortStableFunc(b.Inboxes, func(x, y boardInbox) int { return int(y.LongestWait - x.LongestWait) })
	return b, nil
}

// boardPage serves the live board: the page, or with HX-Request its region
// alone (the page fetches it again when events arrive).
func (s *Server) boardPage(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	if !p.IsSupervisor() {
		return sb.Errorf(sb.EFORBIDDEN, "The live board is for supervisors.")
	}
	ctx := r.Context()
	pv, err := s.pageView(ctx, r, p, "Live board", "board")
	if err != nil {
		return err
	}
	b, err := s.buildBoard(ctx, pv.V)
	if err != nil {
		return err
	}
	b.pageView = pv
	name := "board"
	if r.Header.Get("HX-Request") != "" {
		name = "board-region"
	}
	return s.renderWorkspace(w, http.StatusOK, "board", name, b)
}

type agentView struct {
	*pageView
	Agent        *sb.User
	Active       []viewRow
	EndedToday   []viewRow
	Transferring int
	FirstReply   time.Duration // average time to the first agent reply, chats ended today
	Replies      int
	Now          time.Time
}

// agentSummaryChats bounds the chats whose messages the summary reads.
const agentSummaryChats = 50

// agentPage summarises one agent's chats and interactions (W2): active
// now, ended today and how fast they answered.
func (s *Server) agentPage(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if !p.IsSupervisor() && p.UserID != id {
		return sb.Errorf(sb.EFORBIDDEN, "Agent summaries are for supervisors.")
	}
	ctx := r.Context()
	pv, err := s.pageView(ctx, r, p, "Agent", "board")
	if err != nil {
		return err
	}
	u := pv.V.User(id)
	if u == nil {
		return sb.NotFound("User")
	}
	view := &agentView{pageView: pv, Agent: u, Now: pv.V.Now}
	view.Title = u.Name + " · Switchboard"
	cc := s.contactCache(p)
	row := func(c *sb.Conversation) (viewRow, error) {
		ct, err := cc.get(ctx, c.ContactID)
		if err != nil {
			return viewRow{}, err
		}
		row := pv.V.newRow(c, displayName(ct))
		row.Plain = true
		return row, nil
	}
	live, err := s.conversations(ctx, pv.V, appFilter(&id, liveStatuses, maxListRows))
	if err != nil {
		return err
	}
	for _, c := range live {
		vr, err := row(c)
		if err != nil {
			return err
		}
		if c.Status == sb.StatusTransferring {
			view.Transferring++
		}
		view.Active = append(view.Active, vr)
	}
	midnight := pv.V.Now.Truncate(24 * time.Hour)
	ended, err := s.conversations(ctx, pv.V, appFilter(&id, []sb.Status{sb.StatusEnded}, maxListRows))
	if err != nil {
		return err
	}
	var total time.Duration
	for _, c := range ended {
		if c.EndedAt == nil || c.EndedAt.Before(midnight) {
			continue
		}
		vr, err := row(c)
		if err != nil {
			return err
		}
		view.EndedToday = append(view.EndedToday, vr)
		if len(view.EndedToday) > agentSummaryChats {
			continue
		}
		msgs, err := s.svc.Messages(ctx, p, c.ID, sb.ThreadPublic, 0, 100)
		if err != nil {
			return err
		}
		var asked time.Time
		for _, m := range msgs {
			if m.Sender == sb.SenderCustomer && asked.IsZero() {
				asked = m.CreatedAt
			}
			if m.Sender == sb.SenderAgent && m.AuthorID != nil && *m.AuthorID == id && !asked.IsZero() {
				total += m.CreatedAt.Sub(asked)
				view.Replies++
				break
			}
		}
	}
	if view.Replies > 0 {
		view.FirstReply = total / time.Duration(view.Replies)
	}
	return s.renderWorkspace(w, http.StatusOK, "agent", "agent", view)
}

// ---- settings ----

type settingsView struct {
	*pageView
	Tab      string
	Inbox    *sb.Inbox
	Members  []int64
	Canned   []sb.CannedResponse
	Blocks   []sb.Block
	Hours    []hoursRow
	Sections []tab
	Origin   string // this server, for the widget's embed code
}

// hoursRow is one weekday of the business-hours editor.
type hoursRow struct {
	Weekday    int
	Open       bool
	Start, End int
}

// settingsSections lists the settings a viewer may open.
func settingsSections(p *sb.Principal) []tab {
	out := []tab{{"profile", "Your profile"}, {"canned", "Canned responses"}}
	if p.IsSupervisor() {
		out = append(out, tab{"blocks", "Blocked visitors"})
	}
	if p.IsAdmin() {
		out = append(out, tab{"users", "Users and roles"}, tab{"inboxes", "Inboxes and hours"}, tab{"departments", "Departments"}, tab{"categories", "Categories"})
	}
	return out
}

// settingsPage serves /app/settings/{section}; every change is made by the
// page's forms through the JSON API, which authorises it again.
func (s *Server) settingsPage(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	ctx := r.Context()
	pv, err := s.pageView(ctx, r, p, "Settings", "settings")
	if err != nil {
		return err
	}
	view := &settingsView{pageView: pv, Tab: r.PathValue("section"), Sections: settingsSections(p), Origin: "http://" + r.Host}
	if r.TLS != nil || s.cfg.SecureCookies {
		view.Origin = "https://" + r.Host
	}
	if view.Tab == "" {
		view.Tab = "profile"
	}
	if !slices.ContainsFunc(view.Sections, func(t tab) bool { return t.ID == view.Tab }) {
		return sb.NotFound("Settings page")
	}
	switch view.Tab {
	case "canned":
		if view.Canned, err = s.svc.CannedResponses(ctx, p); err != nil {
			return err
		}
	case "blocks":
		if view.Blocks, err = s.svc.Blocks(ctx, p); err != nil {
			return err
		}
	case "inboxes":
		if raw := r.URL.Query().Get("inbox"); raw != "" || len(pv.V.Inboxes) > 0 {
			id, _ := strconv.ParseInt(raw, 10, 64)
			if id == 0 {
				id = pv.V.Inboxes[0].ID
			}
			in, err := s.svc.Inbox(ctx, p, id)
			if err != nil {
				return err
			}
			view.Inbox, view.Members = &in.Inbox, in.MemberIDs
			for d := 0; d < 7; d++ {
				row := hoursRow{Weekday: d, Start: 9 * 60, End: 17 * 60}
				for _, op := range in.Settings.BusinessHours.Weekly {
					if op.Weekday == d {
						row.Open, row.Start, row.End = true, op.Start, op.End
						break
					}
				}
				view.Hours = append(view.Hours, row)
			}
		}
	}
	return s.renderWorkspace(w, http.StatusOK, "settings", "settings", view)
}

// Minutes is a duration of seconds in whole minutes, for the timeout fields.
func (v *settingsView) Minutes(sec int) int { return sec / 60 }

// IsMember reports whether a user is a member of the inbox being edited.
func (v *settingsView) IsMember(id int64) bool { return slices.Contains(v.Members, id) }

// AllowedOrigins lists the sites that may embed the inbox's widget, one per line.
func (v *settingsView) AllowedOrigins() string {
	if v.Inbox == nil {
		return ""
	}
	return strings.Join(v.Inbox.Settings.AllowedOrigins, "\n")
}

// Holidays lists the inbox's holidays for the text field.
func (v *settingsView) Holidays() string {
	if v.Inbox == nil {
		return ""
	}
	return strings.Join(v.Inbox.Settings.BusinessHours.Holidays, ", ")
}
