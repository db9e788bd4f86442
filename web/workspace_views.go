package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
)

// viewer is the signed-in person and the organisation's small catalogues a
// page needs to name things: read once per request.
type viewer struct {
	P          *sb.Principal
	Me         *sb.User
	CSRF       string
	Now        time.Time
	Users      []*sb.User
	users      map[int64]*sb.User
	Inboxes    []*sb.Inbox
	inboxes    map[int64]*sb.Inbox
	categories []sb.Category    // read when first asked for
	depts      []*sb.Department // read when first asked for
	load       func() error     // reads categories and departments
	loaded     bool
}

// Categories lists the categories (C8), read once per request when needed.
func (v *viewer) Categories() ([]sb.Category, error) {
	if err := v.catalogues(); err != nil {
		return nil, err
	}
	return v.categories, nil
}

// Depts lists the departments, read once per request when needed.
func (v *viewer) Depts() ([]*sb.Department, error) {
	if err := v.catalogues(); err != nil {
		return nil, err
	}
	return v.depts, nil
}

func (v *viewer) catalogues() error {
	if v.loaded {
		return nil
	}
	if err := v.load(); err != nil {
		return err
	}
	v.loaded = true
	return nil
}

// loadViewer reads what every workspace page shows about its viewer.
func (s *Server) loadViewer(ctx context.Context, p *sb.Principal, creds credentials) (*viewer, error) {
	v := &viewer{P: p, Now: s.svc.DB().Now().Now(), users: map[int64]*sb.User{}, inboxes: map[int64]*sb.Inbox{}}
	if creds.session != nil {
		v.CSRF = creds.session.CSRFToken
	}
	var err error
	if v.Users, err = s.svc.Users(ctx, p); err != nil {
		return nil, err
	}
	for _, u := range v.Users {
		v.users[u.ID] = u
		if u.ID == p.UserID {
			v.Me = u
		}
	}
	if v.Me == nil {
		return nil, errNotSignedIn
	}
	if v.Inboxes, err = s.svc.Inboxes(ctx, p); err != nil {
		return nil, err
	}
	for _, in := range v.Inboxes {
		v.inboxes[in.ID] = in
	}
	v.load = func() (err error) {
		if v.categories, err = s.svc.Categories(ctx, p); err != nil {
			return err
		}
		v.depts, err = s.svc.Departments(ctx, p)
		return err
	}
	return v, nil
}

// UserName names a user, or says the account is gone.
func (v *viewer) UserName(id *int64) string {
	if id == nil {
		return ""
	}
	if u, ok := v.users[*id]; ok {
		return u.Name
	}
	return fmt.Sprintf("User %d", *id)
}

// User returns a user by id, or nil.
func (v *viewer) User(id int64) *sb.User { return v.users[id] }

// InboxName names an inbox.
func (v *viewer) InboxName(id int64) string {
	if in, ok := v.inboxes[id]; ok {
		return in.Name
	}
	return fmt.Sprintf("Inbox %d", id)
}

// CategoryName names a category, or "" for none.
func (v *viewer) CategoryName(id *int64) string {
	if id == nil {
		return ""
	}
	cats, _ := v.Categories()
	for _, c := range cats {
		if c.ID == *id {
			return c.Name
		}
	}
	return ""
}

// DeptName names a department, or "" for none.
func (v *viewer) DeptName(id *int64) string {
	if id == nil {
		return ""
	}
	depts, _ := v.Depts()
	for _, d := range depts {
		if d.ID == *id {
			return d.Name
		}
	}
	return ""
}

// Agents are the operators, by name: who can hold chats.
func (v *viewer) Agents() []*sb.User {
	var out []*sb.User
	for _, u := range v.Users {
		if u.Operator && !u.Disabled {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b *sb.User) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Channels lists the channels of the inboxes the viewer sees.
func (v *viewer) Channels() []sb.Channel {
	var out []sb.Channel
	for _, in := range v.Inboxes {
		if !slices.Contains(out, in.Channel) {
			out = append(out, in.Channel)
		}
	}
	return out
}

// contacts caches the contacts one request names.
type contacts struct {
	s    *Server
	p    *sb.Principal
	byID map[int64]*sb.Contact
}

func (s *Server) contactCache(p *sb.Principal) *contacts {
	return &contacts{s: s, p: p, byID: map[int64]*sb.Contact{}}
}

// get returns a contact; the caller saw one of its conversations, so it is
// read directly. A missing one reads as an empty contact.
func (c *contacts) get(ctx context.Context, id int64) (*sb.Contact, error) {
	if ct, ok := c.byID[id]; ok {
		return ct, nil
	}
	ct, err := c.s.svc.DB().Contact(ctx, id)
	if sb.ErrorCode(err) == sb.ENOTFOUND {
		ct, err = &sb.Contact{ID: id}, nil
	}
	if err != nil {
		return nil, err
	}
	c.byID[id] = ct
	return ct, nil
}

// displayName is what a customer is called in the workspace.
func displayName(c *sb.Contact) string {
	switch {
	case c.Name != "":
		return c.Name
	case c.Email != "":
		return c.Email
	case c.Phone != "":
		return c.Phone
	}
	return fmt.Sprintf("Visitor %d", c.ID)
}

// ---- lists (W1, W3, W5) ----

// listQuery is what a conversation list shows: a tab and the filters.
type listQuery struct {
	Tab      string // mine, unassigned, live, closed, tickets
	Ticket   string // for tickets: unassigned, assigned, closed ("" = open ones)
	Q        string
	Status   sb.Status
	Inbox    int64
	Channel  sb.Channel
	Agent    int64 // -1: unassigned
	Category int64
	From, To time.Time
	Limit    int
}

// listLimits: a list shows up to Limit rows ("Show more" raises it up to
// maxListRows); filters that the store cannot apply are applied here over
// at most maxListScan of the newest matching conversations.
const (
	defaultListRows = 50
	maxListRows     = 200
	maxListScan     = 2000
	// maxSearchScan bounds a search by name, which reads each scanned
	// chat's customer; the store has no name index to search with.
	maxSearchScan = 500
)

// Tabs lists the tabs of a viewer (W1, W3): operators start with their own
// chats and the unassigned ones; supervisors see every live chat of their
// inboxes grouped by agent.
func (v *viewer) Tabs() []tab {
	var out []tab
	if v.P.Operator {
		out = append(out, tab{"mine", "My chats"}, tab{"unassigned", "Unassigned"})
	}
	if v.P.IsSupervisor() || !v.P.Operator {
		out = append(out, tab{"live", "Live"})
	}
	return append(out, tab{"closed", "Closed"}, tab{"tickets", "Tickets"})
}

type tab struct{ ID, Label string }

// DefaultTab is the first tab a viewer sees.
func (v *viewer) DefaultTab() string { return v.Tabs()[0].ID }

func parseListQuery(r *http.Request, v *viewer) listQuery {
	q := r.URL.Query()
	lq := listQuery{Tab: q.Get("tab"), Ticket: q.Get("ticket"), Q: strings.TrimSpace(q.Get("q")), Limit: defaultListRows}
	if !slices.ContainsFunc(v.Tabs(), func(t tab) bool { return t.ID == lq.Tab }) {
		lq.Tab = v.DefaultTab()
	}
	switch lq.Ticket {
	case "unassigned", "assigned", "closed":
	default:
		lq.Ticket = ""
	}
	if len(lq.Q) > 100 {
		lq.Q = lq.Q[:100]
	}
	lq.Status = sb.Status(q.Get("status"))
	switch lq.Status {
	case sb.StatusBot, sb.StatusWaiting, sb.StatusAssigning, sb.StatusAssigned, sb.StatusTransferring, sb.StatusEnded, sb.StatusFailed:
	default:
		lq.Status = ""
	}
	lq.Inbox, _ = strconv.ParseInt(q.Get("inbox"), 10, 64)
	if c := sb.Channel(q.Get("channel")); c.Valid() {
		lq.Channel = c
	}
	lq.Agent, _ = strconv.ParseInt(q.Get("agent"), 10, 64)
	lq.Category, _ = strconv.ParseInt(q.Get("category"), 10, 64)
	if t, err := time.Parse("2006-01-02", q.Get("from")); err == nil {
		lq.From = t
	}
	if t, err := time.Parse("2006-01-02", q.Get("to")); err == nil {
		lq.To = t.Add(24 * time.Hour)
	}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		lq.Limit = min(n, maxListRows)
	}
	return lq
}

// Values returns the query as URL parameters (for "Show more" and export).
func (lq listQuery) Values() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" && val != "0" {
			v.Set(k, val)
		}
	}
	set("tab", lq.Tab)
	set("ticket", lq.Ticket)
	set("q", lq.Q)
	set("status", string(lq.Status))
	set("inbox", strconv.FormatInt(lq.Inbox, 10))
	set("channel", string(lq.Channel))
	set("agent", strconv.FormatInt(lq.Agent, 10))
	set("category", strconv.FormatInt(lq.Category, 10))
	if !lq.From.IsZero() {
		v.Set("from", lq.From.Format("2006-01-02"))
	}
	if !lq.To.IsZero() {
		v.Set("to", lq.To.Add(-24*time.Hour).Format("2006-01-02"))
	}
	return v
}

// FromText and ToText are the date filters as the date inputs want them.
func (lq listQuery) FromText() string {
	if lq.From.IsZero() {
		return ""
	}
	return lq.From.Format("2006-01-02")
}

// ToText is the inclusive end date.
func (lq listQuery) ToText() string {
	if lq.To.IsZero() {
		return ""
	}
	return lq.To.Add(-24 * time.Hour).Format("2006-01-02")
}

// Filtered reports whether any filter beyond the tab is set.
func (lq listQuery) Filtered() bool {
	return lq.Q != "" || lq.Status != "" || lq.Inbox != 0 || lq.Channel != "" || lq.Agent != 0 || lq.Category != 0 || !lq.From.IsZero() || !lq.To.IsZero()
}

var liveStatuses = []sb.Status{sb.StatusBot, sb.StatusWaiting, sb.StatusAssigning, sb.StatusAssigned, sb.StatusTransferring}

// filter returns the store-side part of a list query.
func (lq listQuery) filter(p *sb.Principal) app.ListFilter {
	none := sb.TicketNone
	f := app.ListFilter{Ticket: &none}
	switch lq.Tab {
	case "mine":
		f.Mine = true
		f.Status = liveStatuses
	case "unassigned":
		f.Unassigned = true
		f.Status = []sb.Status{sb.StatusWaiting, sb.StatusAssigning}
	case "live":
		f.Status = liveStatuses
	case "closed":
		f.Status = []sb.Status{sb.StatusEnded, sb.StatusFailed}
	case "tickets":
		t := sb.TicketStatus(lq.Ticket)
		if t == "" {
			t = sb.TicketUnassigned
		}
		f.Ticket = &t
	}
	if lq.Status != "" {
		f.Status = []sb.Status{lq.Status}
	}
	if lq.Inbox != 0 {
		id := lq.Inbox
		f.InboxID = &id
	}
	switch {
	case lq.Agent > 0 && !f.Mine:
		id := lq.Agent
		f.AssigneeID = &id
	case lq.Agent < 0:
		f.Unassigned = true
	}
	return f
}

// viewRow is one row of a conversation list. Everything it shows is worked
// out here, so that rendering a long list calls no template functions.
type viewRow struct {
	C       *sb.Conversation
	Name    string
	Agent   string
	Inbox   string
	New     bool // live and nobody has it yet (W4)
	Mine    bool
	Open    bool // the chat open in the centre
	Plain   bool // a plain link, on pages without the conversation pane
	Preview string
	Status  string
	Ago     string
	When    string
	Icon    template.HTML
}

// newRow prepares a list row.
func (v *viewer) newRow(c *sb.Conversation, name string) viewRow {
	return viewRow{
		C: c, Name: name, Agent: v.UserName(c.AssigneeID), Inbox: v.InboxName(c.InboxID),
		New:     c.Status.Live() && c.AssigneeID == nil && c.Ticket == sb.TicketNone,
		Mine:    c.AssigneeID != nil && *c.AssigneeID == v.P.UserID,
		Preview: c.LastPreview, Status: statusLabel(c.Status), Ago: agoText(v.Now, c.LastActivity),
		When: c.LastActivity.UTC().Format(time.RFC3339), Icon: channelIcon(c.Channel),
	}
}

// viewGroup is the rows of one agent (or of nobody) in a list (W1).
type viewGroup struct {
	Key   string
	Label string
	Rows  []viewRow
}

// viewList is a rendered list: its query, groups, and whether more exists.
type viewList struct {
	Query   listQuery
	Groups  []viewGroup
	Count   int
	More    bool // more rows than shown
	Partial bool // the filters were applied to the newest Scanned chats only
	Scanned int
	Grouped bool
	Tabs    []tab
	Open    int64 // the conversation open in the centre, marked selected
	V       *viewer
}

// MoreQuery is the query of "Show more".
func (l *viewList) MoreQuery() url.Values {
	q := l.Query.Values()
	q.Set("limit", strconv.Itoa(min(l.Query.Limit*2, maxListRows)))
	return q
}

// CanShowMore reports whether "Show more" can show more rows.
func (l *viewList) CanShowMore() bool { return l.More && l.Query.Limit < maxListRows }

// conversations runs a list filter as ordered index ranges: one store
// query per status, and for tickets (no status) one per inbox, merged
// newest first. One query over several statuses or inboxes makes the
// database sort every match before it can return the first page; each
// range alone stops at the page size (store/migrations/004_workspace.sql).
func (s *Server) conversations(ctx context.Context, v *viewer, f app.ListFilter) ([]*sb.Conversation, error) {
	var parts []app.ListFilter
	switch {
	case len(f.Status) > 1:
		for _, st := range f.Status {
			g := f
			g.Status = []sb.Status{st}
			parts = append(parts, g)
		}
	case len(f.Status) == 0 && f.InboxID == nil && len(v.Inboxes) > 1:
		for _, in := range v.Inboxes {
			g := f
			g.InboxID = &in.ID
			parts = append(parts, g)
		}
	default:
		return s.svc.Conversations(ctx, v.P, f)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	var all []*sb.Conversation
	for _, g := range parts {
		page, err := s.svc.Conversations(ctx, v.P, g)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
	}
	slices.SortFunc(all, func(a, b *sb.Conversation) int { return cmp.Compare(b.ID, a.ID) })
	return all[:min(len(all), limit)], nil
}

// buildList runs a list query: the store filters by tab, inbox, agent and
// status through its indexes; the rest (channel, category, dates, name) is
// applied here to the newest rows, page by page, up to maxListScan rows.
func (s *Server) buildList(ctx context.Context, v *viewer, lq listQuery, open int64) (*viewList, error) {
	f := lq.filter(v.P)
	cc := s.contactCache(v.P)
	needle := strings.ToLower(lq.Q)
	var rows []viewRow
	scanned := 0
	l := &viewList{Query: lq, Tabs: v.Tabs(), Open: open, V: v}
	for {
		f.Limit = maxListRows
		if !lq.Filtered() {
			f.Limit = lq.Limit + 1
		}
		page, err := s.conversations(ctx, v, f)
		if err != nil {
			return nil, err
		}
		stop := len(page) < f.Limit
		for _, c := range page {
			scanned++
			f.Before = c.ID
			if !lq.From.IsZero() && c.CreatedAt.Before(lq.From) {
				stop = true // ids grow with time: everything further is older
				break
			}
			if (!lq.To.IsZero() && !c.CreatedAt.Before(lq.To)) ||
				(lq.Channel != "" && c.Channel != lq.Channel) ||
				(lq.Category != 0 && (c.CategoryID == nil || *c.CategoryID != lq.Category)) {
				continue
			}
			ct, err := cc.get(ctx, c.ContactID)
			if err != nil {
				return nil, err
			}
			name := displayName(ct)
			if needle != "" && !strings.Contains(strings.ToLower(name), needle) &&
				!strings.Contains(strings.ToLower(ct.Email), needle) && !strings.Contains(ct.Phone, needle) &&
				strconv.FormatInt(c.ID, 10) != needle {
				continue
			}
			row := v.newRow(c, name)
			row.Open = c.ID == open
			rows = append(rows, row)
			if len(rows) > lq.Limit {
				break
			}
		}
		if len(rows) > lq.Limit {
			l.More = true
			rows = rows[:lq.Limit]
			break
		}
		if stop {
			break
		}
		if scanned >= maxListScan || (needle != "" && scanned >= maxSearchScan) {
			l.Partial = true
			l.Scanned = scanned
			break
		}
	}
	l.Count = len(rows)
	l.Grouped = lq.Tab != "mine" && lq.Tab != "unassigned"
	if !l.Grouped {
		l.Groups = []viewGroup{{Key: lq.Tab, Rows: rows}}
		return l, nil
	}
	byKey := map[string]*viewGroup{}
	var order []string
	for _, row := range rows {
		key, label := "none", "Unassigned"
		if row.C.AssigneeID != nil {
			key, label = strconv.FormatInt(*row.C.AssigneeID, 10), row.Agent
		}
		g, ok := byKey[key]
		if !ok {
			g = &viewGroup{Key: key, Label: label}
			byKey[key] = g
			order = append(order, key)
		}
		g.Rows = append(g.Rows, row)
	}
	// Unassigned first (it needs someone), then agents by name.
	slices.SortStableFunc(order, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "none":
			return -1
		case b == "none":
			return 1
		}
		return strings.Compare(byKey[a].Label, byKey[b].Label)
	})
	for _, k := range order {
		l.Groups = append(l.Groups, *byKey[k])
	}
	return l, nil
}

// ---- the open conversation ----

// viewMessage is one message as the log shows it.
type viewMessage struct {
	M      *sb.Message
	Author string
	Class  string // customer, agent, bot, system; "mine" is added for the viewer's own
	Mine   bool
}

func (v *viewer) message(m *sb.Message, customer string) viewMessage {
	vm := viewMessage{M: m, Class: string(m.Sender), Author: m.AuthorName}
	switch m.Sender {
	case sb.SenderCustomer:
		if vm.Author == "" {
			vm.Author = customer
		}
	case sb.SenderBot:
		if vm.Author == "" {
			vm.Author = "Bot"
		}
	case sb.SenderSystem:
		vm.Author = "Switchboard"
	default:
		if m.AuthorID != nil {
			vm.Mine = *m.AuthorID == v.P.UserID
			if u := v.users[*m.AuthorID]; u != nil {
				vm.Author = u.Name
			}
		}
	}
	return vm
}

// viewEarlier is one of the customer's earlier conversations (C2).
type viewEarlier struct {
	C     *sb.Conversation
	Agent string
	Inbox string
}

// viewPane is the centre of the workspace: one conversation.
type viewPane struct {
	C        *sb.Conversation
	Contact  *sb.Contact
	Name     string
	Inbox    string
	Agent    string
	Messages []viewMessage
	FirstSeq int64 // the oldest message shown; earlier ones load on demand
	Earlier  []viewEarlier
	journey  []*sb.Conversation // the customer's chats, for the information panel too
	// What the viewer may do here.
	CanWrite   bool   // the composer to the customer
	Watching   bool   // a supervisor watching (S1): no composer to the customer
	ReadOnly   string // why there is no composer, when there is none
	CanEnd     bool
	CanTake    bool
	CanManage  bool // supervisor assign / reassign (R6)
	IsTicket   bool
	MaxUpload  int64
	Extensions string
	V          *viewer
}

// paneMessages is how many of a conversation's newest messages open with it.
const paneMessages = 200

// buildPane reads one conversation for the centre pane.
func (s *Server) buildPane(ctx context.Context, v *viewer, id int64) (*viewPane, error) {
	c, err := s.svc.Conversation(ctx, v.P, id)
	if err != nil {
		return nil, err
	}
	ct, err := s.contactCache(v.P).get(ctx, c.ContactID)
	if err != nil {
		return nil, err
	}
	pane := &viewPane{C: c, Contact: ct, Name: displayName(ct), Inbox: v.InboxName(c.InboxID), Agent: v.UserName(c.AssigneeID), V: v,
		MaxUpload: s.svc.Config().MaxUploadBytes, Extensions: uploadExtensions, IsTicket: c.Ticket != sb.TicketNone}
	after := max(0, c.LastSeq-paneMessages)
	msgs, err := s.svc.Messages(ctx, v.P, c.ID, sb.ThreadPublic, after, paneMessages)
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		pane.Messages = append(pane.Messages, v.message(m, pane.Name))
	}
	pane.FirstSeq = after + 1
	journey, err := s.svc.ContactConversations(ctx, v.P, c.ContactID)
	if err != nil && sb.ErrorCode(err) != sb.ENOTFOUND {
		return nil, err
	}
	pane.journey = journey
	for _, e := range journey {
		if e.ID < c.ID && len(pane.Earlier) < 20 {
			pane.Earlier = append(pane.Earlier, viewEarlier{C: e, Agent: v.UserName(e.AssigneeID), Inbox: v.InboxName(e.InboxID)})
		}
	}
	slices.Reverse(pane.Earlier) // oldest first, above the current chat
	writeErr := v.P.CanWriteCustomer(c)
	pane.CanWrite = writeErr == nil
	mine := c.AssigneeID != nil && *c.AssigneeID == v.P.UserID
	switch {
	case pane.CanWrite:
	case !c.Status.Live() && c.Ticket != sb.TicketAssigned:
		pane.ReadOnly = "This chat has ended."
		if c.Ticket == sb.TicketUnassigned {
			pane.ReadOnly = "This ticket is waiting to be assigned."
		}
	case v.P.IsSupervisor() && !mine:
		pane.Watching = true
		pane.ReadOnly = "Watching — the customer can't see you. Comment in the Comments tab."
	case c.AssigneeID == nil:
		pane.ReadOnly = "Nobody has this chat yet."
	default:
		pane.ReadOnly = "This chat is " + pane.Agent + "'s."
	}
	pane.CanEnd = c.Status.Live() && (mine || v.P.IsSupervisor())
	pane.CanTake = v.P.Operator && (c.Status == sb.StatusWaiting || c.Status == sb.StatusBot) && c.Ticket == sb.TicketNone
	pane.CanManage = v.P.IsSupervisor()
	return pane, nil
}

// viewNote is a team note with its author.
type viewNote struct {
	N      sb.Note
	Author string
}

// viewHistory is one line of a conversation's timeline (H2).
type viewHistory struct {
	H    sb.HistoryEntry
	Text string
}

// viewInfo is the right panel: details (C8), the internal discussion (C9),
// supervisor comments (S2) and the customer's journey (H2).
type viewInfo struct {
	C           *sb.Conversation
	Contact     *sb.Contact
	Name        string
	Inbox       string
	Agent       string
	Dept        string
	Notes       []viewNote
	Internal    []viewMessage
	Comments    []viewMessage
	Journey     []viewEarlier
	History     []viewHistory
	CanInternal bool
	CanComment  bool
	CanTicket   bool // create a linked ticket (C11), when the server offers it
	CanBlock    []sb.BlockKind
	BlockPhone  string // the customer's phone as a block stores it, when it is a valid number
	Tab         string
	V           *viewer
}

// buildInfo reads the right panel of a conversation; journey is the
// customer's chats when the caller has read them already (nil: read here).
func (s *Server) buildInfo(ctx context.Context, v *viewer, c *sb.Conversation, ct *sb.Contact, journey []*sb.Conversation) (*viewInfo, error) {
	info := &viewInfo{C: c, Contact: ct, Name: displayName(ct), Inbox: v.InboxName(c.InboxID), Agent: v.UserName(c.AssigneeID), Dept: v.DeptName(c.DepartmentID), V: v}
	notes, err := s.svc.Notes(ctx, v.P, c.ID)
	if err != nil {
		return nil, err
	}
	for _, n := range notes {
		author := v.UserName(&n.AuthorID)
		info.Notes = append(info.Notes, viewNote{N: n, Author: author})
	}
	for _, t := range []sb.Thread{sb.ThreadInternal, sb.ThreadComment} {
		msgs, err := s.svc.Messages(ctx, v.P, c.ID, t, 0, 500)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			vm := v.message(m, info.Name)
			if t == sb.ThreadInternal {
				info.Internal = append(info.Internal, vm)
			} else {
				info.Comments = append(info.Comments, vm)
			}
		}
	}
	info.CanInternal = v.P.CanWriteInternal(c, sb.ThreadInternal) == nil
	info.CanComment = v.P.CanWriteInternal(c, sb.ThreadComment) == nil
	if journey == nil {
		if journey, err = s.svc.ContactConversations(ctx, v.P, c.ContactID); err != nil && sb.ErrorCode(err) != sb.ENOTFOUND {
			return nil, err
		}
	}
	for _, e := range journey {
		if len(info.Journey) == 10 {
			break
		}
		info.Journey = append(info.Journey, viewEarlier{C: e, Agent: v.UserName(e.AssigneeID), Inbox: v.InboxName(e.InboxID)})
	}
	hist, err := s.svc.History(ctx, v.P, c.ID)
	if err != nil {
		return nil, err
	}
	for _, h := range hist {
		info.History = append(info.History, viewHistory{H: h, Text: v.historyText(h)})
	}
	info.CanTicket = c.Status.Live() && s.hasRoute("POST", "/api/v1/conversations/{id}/tickets")
	if ct.Email != "" {
		info.CanBlock = append(info.CanBlock, sb.BlockEmail)
	}
	// A phone block is stored normalised and refuses what is not a number
	// (sb.NormalizePhone): offer it only for a phone that is one.
	if phone, err := sb.NormalizePhone(ct.Phone); err == nil {
		info.CanBlock = append(info.CanBlock, sb.BlockPhone)
		info.BlockPhone = phone
	}
	if c.Channel == sb.ChannelWidget {
		info.CanBlock = append(info.CanBlock, sb.BlockVisitor)
	}
	return info, nil
}

// hasRoute reports whether the server serves a route, so that the page
// offers only what the API can do.
func (s *Server) hasRoute(method, pattern string) bool {
	for _, rt := range s.routes {
		if rt.method == method && rt.pattern == pattern {
			return true
		}
	}
	return false
}

// historyText says in words what a history entry recorded.
func (v *viewer) historyText(h sb.HistoryEntry) string {
	who := ""
	if h.ActorID != nil {
		who = v.UserName(h.ActorID)
	}
	by := func(s string) string {
		if who == "" {
			return s
		}
		return s + " by " + who
	}
	switch h.Kind {
	case "created":
		return "Chat started (" + statusLabel(h.ToStatus) + ")"
	case "assigned":
		var d struct {
			AssigneeID int64 `json:"assignee_id"`
		}
		if jsonInto(h.Data, &d) && d.AssigneeID != 0 {
			return by("Assigned to " + v.UserName(&d.AssigneeID))
		}
		return by("Assigned")
	case "ended":
		return by("Ended")
	case "category":
		return by("Category changed")
	case "blocked":
		return by("Customer blocked")
	case "human_requested":
		return "The customer asked for a person"
	}
	text := strings.ReplaceAll(h.Kind, "_", " ")
	if text != "" {
		text = strings.ToUpper(text[:1]) + text[1:]
	}
	if h.ToStatus != "" {
		text += " → " + statusLabel(h.ToStatus)
	}
	return by(text)
}

// ---- small template helpers ----

func derefID(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func hasID(p *int64, id int64) bool { return p != nil && *p == id }

func initial(name string) string {
	for _, r := range name {
		if r > ' ' && utf8.ValidRune(r) {
			return strings.ToUpper(string(r))
		}
	}
	return "?"
}

// capped writes a counter as the UX guide wants it: "99+" past 99.
func capped(n int) string {
	if n > 99 {
		return "99+"
	}
	return strconv.Itoa(n)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func agoText(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "now"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d < 7*24*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	return t.UTC().Format("2 Jan")
}

func clockText(t time.Time) string { return t.UTC().Format("15:04") }

func minutesText(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}

// dict builds a map for passing several values to a sub-template.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, errors.New("dict wants key, value pairs")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, errors.New("dict keys are strings")
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// channelIcons are the channels' icons, each with its name for screen
// readers and as a tooltip; made once, as they never change.
var channelIcons = func() map[sb.Channel]template.HTML {
	shapes := map[sb.Channel]string{
		sb.ChannelWidget:    `<path d="M2 3h12v8H6l-3 3v-3H2z" fill="currentColor"/>`,
		sb.ChannelWhatsApp:  `<circle cx="8" cy="8" r="6" fill="none" stroke="currentColor" stroke-width="2"/><path d="M3 14l1-3" stroke="currentColor" stroke-width="2"/>`,
		sb.ChannelSMS:       `<rect x="2" y="3" width="12" height="9" rx="2" fill="currentColor"/>`,
		sb.ChannelMessenger: `<path d="M8 2a6 6 0 0 0-4 10.5V15l2.5-1.4A6 6 0 1 0 8 2z" fill="currentColor"/>`,
		sb.ChannelInstagram: `<rect x="2" y="2" width="12" height="12" rx="4" fill="none" stroke="currentColor" stroke-width="2"/><circle cx="8" cy="8" r="2.5" fill="currentColor"/>`,
		sb.ChannelAPI:       `<path d="M3 5l5-3 5 3v6l-5 3-5-3z" fill="currentColor"/>`,
	}
	out := map[sb.Channel]template.HTML{}
	for c, shape := range shapes {
		label := channelLabel(c)
		out[c] = template.HTML(`<span class="ch ch-` + string(c) + `" title="` + label + `"><svg aria-hidden="true" viewBox="0 0 16 16" width="14" height="14">` +
			shape + `</svg><span class="visually-hidden">` + label + `</span></span>`)
	}
	return out
}()

// channelIcon returns a channel's icon; unknown channels get the API's.
func channelIcon(c sb.Channel) template.HTML {
	if icon, ok := channelIcons[c]; ok {
		return icon
	}
	return channelIcons[sb.ChannelAPI]
}

func channelLabel(c sb.Channel) string {
	switch c {
	case sb.ChannelWidget:
		return "Website"
	case sb.ChannelWhatsApp:
		return "WhatsApp"
	case sb.ChannelSMS:
		return "SMS"
	case sb.ChannelMessenger:
		return "Messenger"
	case sb.ChannelInstagram:
		return "Instagram"
	case sb.ChannelAPI:
		return "API"
	}
	return string(c)
}

func statusLabel(s sb.Status) string {
	switch s {
	case sb.StatusBot:
		return "With bot"
	case sb.StatusWaiting:
		return "Waiting"
	case sb.StatusAssigning:
		return "Offered"
	case sb.StatusAssigned:
		return "Assigned"
	case sb.StatusTransferring:
		return "Transferring"
	case sb.StatusEnded:
		return "Ended"
	case sb.StatusFailed:
		return "Failed"
	}
	return string(s)
}

// shortcut is one line of the shortcut sheet (UX §2).
type shortcut struct{ Keys, Action string }

var workspaceShortcuts = []shortcut{
	{"Ctrl+K", "Command palette"},
	{"?  ·  Ctrl+/", "This sheet"},
	{"J / K", "Next / previous chat in the list"},
	{"Alt+J / Alt+K", "Next / previous chat, anywhere"},
	{"Alt+Shift+↓", "Next chat with unread messages"},
	{"Alt+N", "Take the oldest unassigned chat"},
	{"Alt+A / Alt+D", "Accept / decline the offer"},
	{"R / Esc", "Focus the composer / leave it"},
	{"/", "Canned responses (in the composer)"},
	{"Enter · Shift+Enter", "Send · new line (Ctrl+Enter always sends)"},
	{"F6 / Shift+F6", "Next / previous pane"},
	{"Alt+O", "Show or hide the information panel"},
	{"Alt+T", "Transfer"},
	{"Alt+E · Alt+Shift+E", "End chat · end and open the next"},
}

// Statuses lists the conversation statuses a list can be filtered by.
func (v *viewer) Statuses() []sb.Status {
	return []sb.Status{sb.StatusBot, sb.StatusWaiting, sb.StatusAssigning, sb.StatusAssigned, sb.StatusTransferring, sb.StatusEnded, sb.StatusFailed}
}
