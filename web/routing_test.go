package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
	"github.com/switchboard/switchboard/attachment"
	"github.com/switchboard/switchboard/client"
	"github.com/switchboard/switchboard/realtime"
	"github.com/switchboard/switchboard/routing"
	"github.com/switchboard/switchboard/store"
	"github.com/switchboard/switchboard/web"
)

// Helpers of the authorisation matrix for the routing routes (routing.go):
// each builds, straight in the store, the routing state a row acts on.

// operator is a fresh online operator of the inbox under test.
func (w *world) operator() int64 {
	u := &sb.User{Email: fmt.Sprintf("op%d@example.com", next()), Name: "Operator", Role: sb.RoleAgent, Operator: true, ChatLimit: 3}
	w.write(func(tx *store.Tx) error {
		if err := tx.CreateUser(u, ""); err != nil {
			return err
		}
		if err := tx.AddInboxMember(w.f.inbox.ID, u.ID); err != nil {
			return err
		}
		return tx.SetPresence(u.ID, sb.PresenceOnline)
	})
	return u.ID
}

// offer offers the world's waiting conversation to the agent in the inbox.
func (w *world) offer() int64 {
	c := w.conversation()
	var id int64
	w.write(func(tx *store.Tx) error {
		cc, err := tx.Conversation(c.ID)
		if err != nil {
			return err
		}
		if err := tx.Enqueue(cc, w.f.inbox.Settings); err != nil {
			return err
		}
		o, err := tx.CreateOffer(cc, w.f.users[agentIn].ID, time.Minute)
		if err != nil {
			return err
		}
		id = o.ID
		return nil
	})
	return id
}

// transferToAgentIn gives the world's waiting conversation to a fresh
// operator, who asks the agent in the inbox to take it over.
func (w *world) transferToAgentIn() int64 {
	c := w.conversation()
	from := w.operator()
	var id int64
	w.write(func(tx *store.Tx) error {
		cc, err := tx.Conversation(c.ID)
		if err != nil {
			return err
		}
		if err := tx.AssignTo(cc, from, nil, false); err != nil {
			return err
		}
		t, err := tx.CreateTransfer(cc, from, w.f.users[agentIn].ID, "", time.Minute)
		if err != nil {
			return err
		}
		id = t.ID
		return nil
	})
	return id
}

// ticket makes the world's waiting conversation an unassigned ticket.
func (w *world) ticket() *sb.Conversation {
	c := w.conversation()
	w.write(func(tx *store.Tx) error {
		cc, err := tx.Conversation(c.ID)
		if err != nil {
			return err
		}
		return tx.MakeTicket(cc, "We are closed.", "closed")
	})
	return c
}

// routingRows are the authorisation matrix's rows of the routing routes.
func routingRows() []matrixRow {
	offer := func(action string) func(w *world) string {
		return func(w *world) string { return fmt.Sprintf("/api/v1/offers/%d/%s", w.offer(), action) }
	}
	transfer := func(action string) func(w *world) string {
		return func(w *world) string { return fmt.Sprintf("/api/v1/transfers/%d/%s", w.transferToAgentIn(), action) }
	}
	conv := func(suffix string) func(w *world) string {
		return func(w *world) string { return fmt.Sprintf("/api/v1/conversations/%d%s", w.conversation().ID, suffix) }
	}
	ticket := func(op string) func(w *world) string {
		return func(w *world) string { return fmt.Sprintf("/api/v1/conversations/%d/ticket/%s", w.ticket().ID, op) }
	}
	onlyAgentIn := staffOnly(ok, 404, 404, 404) // an offer or request is only its agent's
	supervisorsOfInbox := staffOnly(403, 404, ok, ok)
	return []matrixRow{
		{method: "GET", pattern: "/api/v1/me/offers", want: anyStaff},
		{method: "GET", pattern: "/api/v1/me/transfers", want: anyStaff},
		{method: "POST", pattern: "/api/v1/offers/{id}/accept", path: offer("accept"), mutates: true, waiting: true, want: onlyAgentIn},
		{method: "POST", pattern: "/api/v1/offers/{id}/decline", path: offer("decline"), mutates: true, waiting: true, want: onlyAgentIn},
		{method: "POST", pattern: "/api/v1/transfers/{id}/accept", path: transfer("accept"), mutates: true, waiting: true, want: onlyAgentIn},
		{method: "POST", pattern: "/api/v1/transfers/{id}/reject", path: transfer("reject"), mutates: true, waiting: true, want: onlyAgentIn},
		{method: "POST", pattern: "/api/v1/conversations/{id}/transfer", path: conv("/transfer"), mutates: true,
			want: staffOnly(ok, 404, 403, 403), // only the agent who has the chat
			body: func(w *world) any { return map[string]any{"to_user_id": w.operator(), "note": "billing"} }},
		{method: "POST", pattern: "/api/v1/conversations/{id}/assign", path: conv("/assign"), mutates: true, want: supervisorsOfInbox,
			body: func(w *world) any { return map[string]any{"user_id": w.operator()} }},
		{method: "GET", pattern: "/api/v1/conversations/{id}/candidates", path: conv("/candidates"), want: inboxStaff},
		{method: "POST", pattern: "/api/v1/conversations/{id}/ticket/assign", path: ticket("assign"), mutates: true, waiting: true,
			want: supervisorsOfInbox, body: func(w *world) any { return map[string]any{"user_id": w.f.users[agentIn].ID} }},
		{method: "POST", pattern: "/api/v1/conversations/{id}/ticket/close", path: ticket("close"), mutates: true, waiting: true,
			want: supervisorsOfInbox},
		{method: "POST", pattern: "/api/v1/conversations/{id}/ticket/reopen", path: ticket("reopen"), mutates: true, waiting: true,
			want: supervisorsOfInbox},
	}
}

// routingClock is the fake clock of the routing scenarios.
type routingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *routingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *routingClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// routingServer is a whole server — store, app, hub, WebSocket endpoint,
// HTTP handler on a real listener — with its routing engine running, on a
// data folder that outlives a restart.
type routingServer struct {
	t     *testing.T
	dir   string
	clock *routingClock
	db    *store.DB
	eng   *routing.Engine
	url   string
	stop  func()
}

func newRoutingServer(t *testing.T) *routingServer {
	s := &routingServer{t: t, dir: t.TempDir(), clock: &routingClock{t: time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)}}
	s.start()
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *routingServer) start() {
	t, ctx := s.t, context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(ctx, store.Config{Dir: filepath.Join(s.dir, "data"), Clock: s.clock, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	files, err := attachment.NewStore(filepath.Join(s.dir, "files"))
	if err != nil {
		t.Fatal(err)
	}
	hub := realtime.NewHub(db, realtime.HubOptions{Logger: log, PollInterval: time.Second})
	db.OnCommit(hub.Publish)
	svc := app.New(db, hub, s.clock, log, app.Config{Files: files})
	svc.SetUserChangeHook(hub.DisconnectUser)
	ws := realtime.NewServer(hub, web.NewAuthenticator(svc), web.NewActions(svc), realtime.ServerOptions{Logger: log})
	h := web.New(web.Config{NewVisitors: app.Limit{Burst: 1000, Every: time.Millisecond}}, svc, ws, nil, log)
	eng := routing.New(db, routing.Config{Clock: s.clock, Logger: log, NodeID: "web-test"})
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); hub.Run(runCtx) }()
	go func() { defer wg.Done(); eng.Run(runCtx) }()
	ts := httptest.NewServer(h)
	s.db, s.eng, s.url = db, eng, ts.URL
	s.stop = func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		ws.Shutdown(sctx)
		ts.Close()
		cancel()
		wg.Wait()
		db.Close()
		s.stop = func() {}
	}
}

// restart stops the server, as a process exit would, and starts it again on the same data.
func (s *routingServer) restart() {
	s.stop()
	s.start()
}

// advance moves the clock and wakes the engine, as time passing would.
func (s *routingServer) advance(d time.Duration) {
	s.clock.advance(d)
	s.eng.Notify()
}

func (s *routingServer) write(fn func(tx *store.Tx) error) {
	s.t.Helper()
	if err := s.db.Write(context.Background(), fn); err != nil {
		s.t.Fatal(err)
	}
}

func (s *routingServer) inbox(edit func(*sb.InboxSettings)) *sb.Inbox {
	in := &sb.Inbox{Name: fmt.Sprintf("Inbox %d", next()), Channel: sb.ChannelWidget, Settings: sb.DefaultInboxSettings()}
	if edit != nil {
		edit(&in.Settings)
	}
	s.write(func(tx *store.Tx) error { return tx.CreateInbox(in) })
	return in
}

// staff is a user of the server with an API token, and the client acting as them.
type staff struct {
	user  *sb.User
	token string
	c     *client.Client
}

func (s *routingServer) staff(role sb.Role, operator bool, limit int, inboxes ...int64) *staff {
	u := &sb.User{Email: fmt.Sprintf("u%d@example.com", next()), Name: fmt.Sprintf("%s %d", role, next()), Role: role, Operator: operator, ChatLimit: limit}
	raw, hash := app.NewToken(app.PrefixAPI)
	s.write(func(tx *store.Tx) error {
		if err := tx.CreateUser(u, ""); err != nil {
			return err
		}
		if err := tx.SetUserInboxes(u.ID, inboxes); err != nil {
			return err
		}
		return tx.CreateAPIToken(&sb.APIToken{UserID: u.ID, Name: "test", TokenHash: hash})
	})
	st := &staff{user: u, token: raw}
	st.c = s.client(raw)
	return st
}

// client returns a client of the server, with a bearer token if given.
func (s *routingServer) client(token string) *client.Client {
	c, err := client.New(s.url)
	if err != nil {
		s.t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

// online sets the agent online through the API.
func (s *routingServer) online(st *staff) {
	s.t.Helper()
	if _, err := st.c.SetPresence(context.Background(), sb.PresenceOnline); err != nil {
		s.t.Fatal(err)
	}
}

// listen opens a WebSocket for c and returns its event stream.
func (s *routingServer) listen(c *client.Client) *client.Conn { return s.resume(c, 0) }

// resume opens a WebSocket for c that replays the events after position after.
func (s *routingServer) resume(c *client.Client, after int64) *client.Conn {
	s.t.Helper()
	ctx := context.Background()
	conn, err := c.Dial(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { conn.Close() })
	if _, err := conn.Hello(ctx, after); err != nil {
		s.t.Fatal(err)
	}
	return conn
}

// visitor is a widget visitor of an inbox with a conversation started, and its event stream.
func (s *routingServer) visitor(in *sb.Inbox) (*client.Client, *sb.Conversation, *client.Conn) {
	s.t.Helper()
	ctx := context.Background()
	c := s.client("")
	if _, _, err := c.CreateVisitor(ctx, in.ID); err != nil {
		s.t.Fatal(err)
	}
	conn := s.listen(c)
	conv, _, _, err := c.StartConversation(ctx, in.ID, "Hello, I need help", "")
	if err != nil {
		s.t.Fatal(err)
	}
	return c, conv, conn
}

// await reads conn's events until one matches, failing after a few seconds.
func await(t *testing.T, conn *client.Conn, what string, match func(e *sb.Event) bool) *sb.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		e, err := conn.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if match(e) {
			return e
		}
	}
}

func dataOf[T any](t *testing.T, e *sb.Event) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(e.Data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// offerEvent matches an offer event of a conversation in a state.
func offerEvent(convID int64, state sb.OfferState) func(e *sb.Event) bool {
	return func(e *sb.Event) bool {
		if e.Type != sb.EventOffer || e.ConversationID != convID {
			return false
		}
		var o sb.Offer
		return json.Unmarshal(e.Data, &o) == nil && o.State == state
	}
}

// conversationEvent matches a conversation event satisfying ok.
func conversationEvent(convID int64, ok func(c sb.Conversation) bool) func(e *sb.Event) bool {
	return func(e *sb.Event) bool {
		if e.Type != sb.EventConversation || e.ConversationID != convID {
			return false
		}
		var c sb.Conversation
		return json.Unmarshal(e.Data, &c) == nil && ok(c)
	}
}

// notification matches a notification of a kind.
func notification(kind string) func(e *sb.Event) bool {
	return func(e *sb.Event) bool {
		if e.Type != sb.EventNotification {
			return false
		}
		var n sb.Notification
		return json.Unmarshal(e.Data, &n) == nil && n.Kind == kind
	}
}

// transferEvent matches a transfer event in a state.
func transferEvent(state sb.TransferState) func(e *sb.Event) bool {
	return func(e *sb.Event) bool {
		if e.Type != sb.EventTransfer {
			return false
		}
		var tr sb.Transfer
		return json.Unmarshal(e.Data, &tr) == nil && tr.State == state
	}
}

func TestRoutingOverTheAPI(t *testing.T) {
	ctx := context.Background()

	t.Run("offer accepted", func(t *testing.T) {
		s := newRoutingServer(t)
		in := s.inbox(nil)
		anna := s.staff(sb.RoleAgent, true, 3, in.ID)
		s.online(anna)
		annaWS := s.listen(anna.c)
		_, conv, visitorWS := s.visitor(in)
		e := await(t, annaWS, "the offer", offerEvent(conv.ID, sb.OfferPending))
		o := dataOf[sb.Offer](t, e)
		if o.UserID != anna.user.ID || e.UserID != anna.user.ID {
			t.Fatalf("offer %+v to %d", o, e.UserID)
		}
		offers, err := anna.c.Offers(ctx)
		if err != nil || len(offers) != 1 || offers[0].ID != o.ID {
			t.Fatalf("GET /me/offers: %+v %v", offers, err)
		}
		got, err := anna.c.AcceptOffer(ctx, o.ID)
		if err != nil || got.Status != sb.StatusAssigned || *got.AssigneeID != anna.user.ID {
			t.Fatalf("accept: %+v %v", got, err)
		}
		await(t, visitorWS, "the customer sees the chat assigned", conversationEvent(conv.ID, func(c sb.Conversation) bool { return c.Status == sb.StatusAssigned }))
		if _, err := anna.c.AcceptOffer(ctx, o.ID); client.StatusOf(err) != 409 {
			t.Fatalf("accepting twice: %v, want 409", err)
		}
	})

	t.Run("offer expired goes to the next agent", func(t *testing.T) {
		s := newRoutingServer(t)
		in := s.inbox(nil)
		anna, ben := s.staff(sb.RoleAgent, true, 3, in.ID), s.staff(sb.RoleAgent, true, 3, in.ID)
		s.online(anna)
		s.online(ben)
		ws := map[int64]*client.Conn{anna.user.ID: s.listen(anna.c), ben.user.ID: s.listen(ben.c)}
		_, conv, _ := s.visitor(in)
		// Neither got a chat before: whoever is offered it first, the other is next.
		var first *sb.Offer
		for deadline := time.Now().Add(5 * time.Second); first == nil; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("no offer")
			}
			for _, st := range []*staff{anna, ben} {
				if offers, err := st.c.Offers(ctx); err == nil && len(offers) == 1 {
					first = offers[0]
				}
			}
		}
		await(t, ws[first.UserID], "the offer on the agent's connection", offerEvent(conv.ID, sb.OfferPending))
		other := anna
		if first.UserID == anna.user.ID {
			other = ben
		}
		s.advance(30 * time.Second)
		await(t, ws[first.UserID], "the first agent sees the offer expire", offerEvent(conv.ID, sb.OfferExpired))
		e := await(t, ws[other.user.ID], "the next agent's offer", offerEvent(conv.ID, sb.OfferPending))
		if o := dataOf[sb.Offer](t, e); o.UserID != other.user.ID {
			t.Fatalf("re-offered to %d, want %d", o.UserID, other.user.ID)
		}
	})

	t.Run("an agent at capacity is skipped; the customer is told their place", func(t *testing.T) {
		s := newRoutingServer(t)
		in := s.inbox(nil)
		full := s.staff(sb.RoleAgent, true, 1, in.ID)
		s.online(full)
		fullWS := s.listen(full.c)
		_, busy, _ := s.visitor(in)
		e := await(t, fullWS, "the first offer", offerEvent(busy.ID, sb.OfferPending))
		if _, err := full.c.AcceptOffer(ctx, dataOf[sb.Offer](t, e).ID); err != nil {
			t.Fatal(err)
		}
		// Nobody has room: the next customer waits, and is told so.
		_, waiting, waitingWS := s.visitor(in)
		q := await(t, waitingWS, "the queue position", func(e *sb.Event) bool { return e.Type == sb.EventQueue && e.ConversationID == waiting.ID })
		if qs := dataOf[sb.QueueStatus](t, q); qs.Position != 1 || qs.ExpectedWaitSec <= 0 {
			t.Fatalf("queue status %+v", qs)
		}
		// An agent with room comes online: the waiting chat goes to them, not to the full one.
		cara := s.staff(sb.RoleAgent, true, 3, in.ID)
		caraWS := s.listen(cara.c)
		s.online(cara)
		e = await(t, caraWS, "the offer to the agent with room", offerEvent(waiting.ID, sb.OfferPending))
		if o := dataOf[sb.Offer](t, e); o.UserID != cara.user.ID {
			t.Fatalf("offer %+v", o)
		}
	})

	t.Run("transfers: accepted, rejected, expired, each side told", func(t *testing.T) {
		s := newRoutingServer(t)
		in := s.inbox(nil)
		anna, ben := s.staff(sb.RoleAgent, true, 3, in.ID), s.staff(sb.RoleAgent, true, 3, in.ID)
		s.online(anna)
		annaWS, benWS := s.listen(anna.c), s.listen(ben.c)
		chat := func() *sb.Conversation {
			_, conv, _ := s.visitor(in)
			e := await(t, annaWS, "an offer", offerEvent(conv.ID, sb.OfferPending))
			if _, err := anna.c.AcceptOffer(ctx, dataOf[sb.Offer](t, e).ID); err != nil {
				t.Fatal(err)
			}
			return conv
		}
		c1, c2, c3 := chat(), chat(), chat()
		s.online(ben)

		// Accepted: the chat moves to Ben; Anna is told.
		ans, err := anna.c.RequestTransfer(ctx, c1.ID, client.TransferRequest{ToUserID: ben.user.ID, Note: "billing question"})
		if err != nil || ans.Conversation.Status != sb.StatusTransferring || ans.Transfer == nil {
			t.Fatalf("request: %+v %v", ans, err)
		}
		await(t, benWS, "Ben's request", transferEvent(sb.TransferPending))
		await(t, benWS, "Ben's notification", notification("transfer"))
		await(t, annaWS, "Anna's confirmation", notification("transfer"))
		pending, err := ben.c.Transfers(ctx)
		if err != nil || len(pending) != 1 || pending[0].Note != "billing question" {
			t.Fatalf("GET /me/transfers: %+v %v", pending, err)
		}
		ans, err = ben.c.AnswerTransfer(ctx, ans.Transfer.ID, true)
		if err != nil || *ans.Conversation.AssigneeID != ben.user.ID {
			t.Fatalf("accept: %+v %v", ans, err)
		}
		await(t, annaWS, "Anna hears it was accepted", transferEvent(sb.TransferAccepted))
		await(t, annaWS, "Anna's result", notification("transfer_result"))

		// Rejected: the chat stays with Anna, who is told.
		ans, err = anna.c.RequestTransfer(ctx, c2.ID, client.TransferRequest{ToUserID: ben.user.ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := anna.c.AnswerTransfer(ctx, ans.Transfer.ID, true); client.StatusOf(err) != 404 {
			t.Fatalf("the sender answering: %v, want 404", err)
		}
		ans, err = ben.c.AnswerTransfer(ctx, ans.Transfer.ID, false)
		if err != nil || *ans.Conversation.AssigneeID != anna.user.ID || ans.Conversation.Status != sb.StatusAssigned {
			t.Fatalf("reject: %+v %v", ans, err)
		}
		await(t, annaWS, "Anna hears it was rejected", transferEvent(sb.TransferRejected))
		await(t, annaWS, "Anna's result", notification("transfer_result"))

		// Expired: nobody answers within the transfer timeout; Anna keeps it and is told, so is Ben.
		if _, err = anna.c.RequestTransfer(ctx, c3.ID, client.TransferRequest{ToUserID: ben.user.ID}); err != nil {
			t.Fatal(err)
		}
		s.advance(61 * time.Second)
		await(t, annaWS, "Anna hears it expired", transferEvent(sb.TransferExpired))
		await(t, annaWS, "Anna's result", notification("transfer_result"))
		await(t, benWS, "Ben hears it expired", transferEvent(sb.TransferExpired))
		got, err := anna.c.Conversation(ctx, c3.ID)
		if err != nil || got.Status != sb.StatusAssigned || *got.AssigneeID != anna.user.ID {
			t.Fatalf("after expiry: %+v %v", got, err)
		}
	})

	t.Run("a transfer to a department with nobody available is refused", func(t *testing.T) {
		s := newRoutingServer(t)
		in := s.inbox(nil)
		anna, ben := s.staff(sb.RoleAgent, true, 3, in.ID), s.staff(sb.RoleAgent, true, 3, in.ID)
		dept := &sb.Department{Name: "Billing", MemberIDs: []int64{ben.user.ID}}
		s.write(func(tx *store.Tx) error { return tx.CreateDepartment(dept) })
		s.online(anna)
		annaWS := s.listen(anna.c)
		_, conv, _ := s.visitor(in)
		e := await(t, annaWS, "an offer", offerEvent(conv.ID, sb.OfferPending))
		if _, err := anna.c.AcceptOffer(ctx, dataOf[sb.Offer](t, e).ID); err != nil {
			t.Fatal(err)
		}
		_, err := anna.c.RequestTransfer(ctx, conv.ID, client.TransferRequest{ToDepartmentID: dept.ID})
		var apiErr *client.Error
		if !errors.As(err, &apiErr) || apiErr.Status != 409 || !strings.Contains(apiErr.Message, "Nobody in that department is available") {
			t.Fatalf("transfer to an empty department: %v", err)
		}
		if got, _ := anna.c.Conversation(ctx, conv.ID); got.Status != sb.StatusAssigned || *got.AssigneeID != anna.user.ID {
			t.Fatalf("the chat moved: %+v", got)
		}
	})

	t.Run("a supervisor reassigns a chat", func(t *testing.T) {
		s := newRoutingServer(t)
		in := s.inbox(nil)
		anna, ben := s.staff(sb.RoleAgent, true, 3, in.ID), s.staff(sb.RoleAgent, true, 3, in.ID)
		boss := s.staff(sb.RoleSupervisor, false, 3, in.ID)
		s.online(anna)
		annaWS, benWS := s.listen(anna.c), s.listen(ben.c)
		_, conv, _ := s.visitor(in)
		e := await(t, annaWS, "an offer", offerEvent(conv.ID, sb.OfferPending))
		if _, err := anna.c.AcceptOffer(ctx, dataOf[sb.Offer](t, e).ID); err != nil {
			t.Fatal(err)
		}
		if _, err := anna.c.Assign(ctx, conv.ID, anna.user.ID, 0); client.StatusOf(err) != 403 {
			t.Fatalf("an agent assigning: %v, want 403", err)
		}
		s.online(ben)
		cands, err := boss.c.Candidates(ctx, conv.ID, 0)
		if err != nil || len(cands) != 2 || cands[0].UserID != ben.user.ID {
			t.Fatalf("candidates %+v %v (Ben, with no chat, first)", cands, err)
		}
		got, err := boss.c.Assign(ctx, conv.ID, ben.user.ID, 0)
		if err != nil || *got.AssigneeID != ben.user.ID || got.Status != sb.StatusAssigned {
			t.Fatalf("reassign: %+v %v", got, err)
		}
		await(t, benWS, "Ben is told", notification("assigned"))
		await(t, annaWS, "Anna is told", notification("reassigned"))
	})

	t.Run("outside business hours a conversation becomes a ticket", func(t *testing.T) {
		s := newRoutingServer(t)
		in := s.inbox(func(st *sb.InboxSettings) {
			st.OutOfHoursMessage = "We are closed; we will write back."
			st.BusinessHours = sb.BusinessHours{TimeZone: "UTC", Weekly: []sb.OpenPeriod{{Weekday: 1, Start: 13 * 60, End: 17 * 60}}}
		})
		anna := s.staff(sb.RoleAgent, true, 3, in.ID)
		boss := s.staff(sb.RoleSupervisor, false, 3, in.ID)
		s.online(anna)
		_, conv, visitorWS := s.visitor(in)
		e := await(t, visitorWS, "the out-of-hours message", func(e *sb.Event) bool {
			return e.Type == sb.EventMessage && e.ConversationID == conv.ID && dataOf[sb.Message](t, e).Sender == sb.SenderSystem
		})
		if m := dataOf[sb.Message](t, e); m.Body != "We are closed; we will write back." {
			t.Fatalf("message %+v", m)
		}
		await(t, visitorWS, "the ticket", conversationEvent(conv.ID, func(c sb.Conversation) bool { return c.Ticket == sb.TicketUnassigned }))
		got, err := boss.c.AssignTicket(ctx, conv.ID, anna.user.ID)
		if err != nil || got.Ticket != sb.TicketAssigned {
			t.Fatalf("assign ticket: %+v %v", got, err)
		}
		if _, _, err := anna.c.SendMessage(ctx, conv.ID, sb.ThreadPublic, "Hello! Back to you now.", ""); err != nil {
			t.Fatalf("the assigned agent replies: %v", err)
		}
		if got, err = boss.c.CloseTicket(ctx, conv.ID); err != nil || got.Ticket != sb.TicketClosed {
			t.Fatalf("close: %+v %v", got, err)
		}
	})

	t.Run("inactivity completion after a restart of the server", func(t *testing.T) {
		s := newRoutingServer(t)
		in := s.inbox(nil)
		anna := s.staff(sb.RoleAgent, true, 3, in.ID)
		s.online(anna)
		annaWS := s.listen(anna.c)
		_, conv, _ := s.visitor(in)
		e := await(t, annaWS, "an offer", offerEvent(conv.ID, sb.OfferPending))
		if _, err := anna.c.AcceptOffer(ctx, dataOf[sb.Offer](t, e).ID); err != nil {
			t.Fatal(err)
		}
		s.advance(40 * time.Minute)
		pos := annaWS.Pos()
		s.restart() // the process stops mid-way through the hour...
		s.advance(21 * time.Minute)
		// ...and is back: the deadline survived and fires once. Anna's
		// browser reconnects and resumes where it was.
		anna.c = s.client(anna.token)
		annaWS = s.resume(anna.c, pos)
		await(t, annaWS, "the chat ends", conversationEvent(conv.ID, func(c sb.Conversation) bool {
			return c.Status == sb.StatusEnded && c.EndedBy == "system"
		}))
		history, err := anna.c.History(ctx, conv.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, h := range history {
			if h.Kind == "inactivity" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("ended by inactivity %d times", n)
		}
	})
}
