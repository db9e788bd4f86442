package routing

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// Authorize checks, inside the transaction with the conversation's row
// locked, that the caller may act on the conversation; nil allows. Package
// app passes the Principal's rules here, so that a chat moved to another
// inbox meanwhile is not acted on by someone who can no longer see it.
type Authorize func(c *sb.Conversation) error

func (a Authorize) check(c *sb.Conversation) error {
	if a == nil {
		return nil
	}
	return a(c)
}

func offerClosed(o *sb.Offer) error {
	switch o.State {
	case sb.OfferExpired:
		return sb.Errorf(sb.ECONFLICT, "The offer has expired.")
	case sb.OfferAccepted:
		return sb.Errorf(sb.ECONFLICT, "The offer was already accepted.")
	case sb.OfferDeclined:
		return sb.Errorf(sb.ECONFLICT, "The offer was already declined.")
	}
	return sb.Errorf(sb.ECONFLICT, "The offer was withdrawn.")
}

// answerOffer runs fn on a pending offer made to userID and its locked
// conversation; offers made to others are not found.
func answerOffer(ctx context.Context, db *store.DB, userID, offerID int64, auth Authorize, fn func(tx *store.Tx, c *sb.Conversation, o *sb.Offer) error) (*sb.Conversation, error) {
	o, err := db.Offer(ctx, offerID)
	if err != nil {
		return nil, err
	}
	if o.UserID != userID {
		return nil, sb.NotFound("Offer")
	}
	var out *sb.Conversation
	err = db.Write(ctx, func(tx *store.Tx) error {
		c, err := tx.Conversation(o.ConversationID)
		if err != nil {
			return err
		}
		if err := auth.check(c); err != nil {
			return err
		}
		o, err := tx.Offer(offerID)
		if err != nil {
			return err
		}
		if o.State != sb.OfferPending {
			return offerClosed(o)
		}
		if err := fn(tx, c, o); err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

// AcceptOffer is the agent userID taking the chat offered to them (R3).
func AcceptOffer(ctx context.Context, db *store.DB, userID, offerID int64, auth Authorize) (*sb.Conversation, error) {
	return answerOffer(ctx, db, userID, offerID, auth, func(tx *store.Tx, c *sb.Conversation, o *sb.Offer) error {
		return tx.AcceptOffer(c, o)
	})
}

// DeclineOffer is the agent userID turning an offer down: the chat goes to
// the next agent, and to them again only if nobody else can take it (R3).
func DeclineOffer(ctx context.Context, db *store.DB, userID, offerID int64, auth Authorize) (*sb.Conversation, error) {
	return answerOffer(ctx, db, userID, offerID, auth, func(tx *store.Tx, c *sb.Conversation, o *sb.Offer) error {
		_, err := tx.ReturnOffer(c, o, sb.OfferDeclined, &userID)
		return err
	})
}

// PendingOffers lists the offers waiting for a user's answer.
func PendingOffers(ctx context.Context, db *store.DB, userID int64) ([]*sb.Offer, error) {
	return db.PendingOffers(ctx, userID)
}

// SetPresence sets an agent's presence (P1). Going away or offline gives the
// offers and transfer requests they hold back to the queue and the senders.
func SetPresence(ctx context.Context, db *store.DB, userID int64, p sb.Presence) error {
	return setPresence(ctx, db, userID, p, "")
}

func setPresence(ctx context.Context, db *store.DB, userID int64, p sb.Presence, reason string) error {
	if !p.Valid() {
		return sb.Errorf(sb.EINVALID, "Presence %q is not one of online, away, offline.", p)
	}
	return db.Write(ctx, func(tx *store.Tx) error {
		convs, err := lockAgentConversations(tx, userID)
		if err != nil {
			return err
		}
		a, err := tx.LockAgent(userID)
		if err != nil {
			return err
		}
		return applyPresence(tx, a, convs, p, reason, nil)
	})
}

// applyPresence changes agent a's presence (row locked, and convs: the
// conversations of their pending offers and transfers, locked before it).
func applyPresence(tx *store.Tx, a *store.AgentLoad, convs map[int64]*sb.Conversation, p sb.Presence, reason string, actorID *int64) error {
	if a.Presence == p {
		if p == sb.PresenceOnline && a.Missed > 0 {
			return tx.ResetMissedOffers(a.UserID)
		}
		return nil
	}
	if err := tx.SetPresence(a.UserID, p); err != nil {
		return err
	}
	a.Presence = p
	if p == sb.PresenceOnline {
		return tx.ResetMissedOffers(a.UserID)
	}
	conv := func(id int64) (*sb.Conversation, error) {
		if c, ok := convs[id]; ok {
			return c, nil
		}
		return tx.Conversation(id) // made since they were locked: rare, and a deadlock is retried
	}
	offers, err := tx.PendingOffersOf(a.UserID)
	if err != nil {
		return err
	}
	for _, o := range offers {
		c, err := conv(o.ConversationID)
		if err != nil {
			return err
		}
		if _, err := tx.ReturnOffer(c, o, sb.OfferWithdrawn, actorID); err != nil {
			return err
		}
	}
	transfers, err := tx.PendingTransfersTo(a.UserID)
	if err != nil {
		return err
	}
	for _, t := range transfers {
		c, err := conv(t.ConversationID)
		if err != nil {
			return err
		}
		if err := tx.AnswerTransfer(c, t, sb.TransferCancelled, actorID); err != nil {
			return err
		}
	}
	switch reason {
	case "missed_offers":
		tx.Notify(a.UserID, 0, sb.Notification{Kind: "presence", Text: "You were set away because several chat offers in a row went unanswered."})
	case "disconnected":
		tx.Notify(a.UserID, 0, sb.Notification{Kind: "presence", Text: "You were set offline because your connection was lost."})
	}
	return nil
}

// SetChatLimit changes an agent's chat limit; raising it serves the queue at once (R2, R3).
func SetChatLimit(ctx context.Context, db *store.DB, userID int64, limit int) error {
	return db.Write(ctx, func(tx *store.Tx) error { return tx.SetChatLimit(userID, limit) })
}

// TransferRequest says where agent wants a chat to go: to an agent (who
// must accept), or to another inbox and/or a department (R4, R5).
type TransferRequest struct {
	ToUserID       int64  `json:"to_user_id,omitempty"`
	ToInboxID      int64  `json:"to_inbox_id,omitempty"`
	ToDepartmentID int64  `json:"to_department_id,omitempty"`
	Note           string `json:"note,omitempty"`
}

// Validate checks a transfer request.
func (r *TransferRequest) Validate() error {
	r.Note = strings.TrimSpace(r.Note)
	if !utf8.ValidString(r.Note) || len(r.Note) > 500 {
		return sb.Errorf(sb.EINVALID, "The note must be at most 500 characters.")
	}
	switch {
	case r.ToUserID < 0 || r.ToInboxID < 0 || r.ToDepartmentID < 0:
		return sb.Errorf(sb.EINVALID, "Ids must be positive.")
	case r.ToUserID != 0 && (r.ToInboxID != 0 || r.ToDepartmentID != 0):
		return sb.Errorf(sb.EINVALID, "Transfer to an agent, or to an inbox and/or a department, not both.")
	case r.ToUserID == 0 && r.ToInboxID == 0 && r.ToDepartmentID == 0:
		return sb.Errorf(sb.EINVALID, "Choose an agent, an inbox or a department to transfer to.")
	}
	return nil
}

// RequestTransfer is agent userID, who has the chat, handing it on (R4, R5).
// To an agent, it creates a transfer request (returned) that the receiver
// accepts or rejects before it expires; the receiver must be online with
// room. To an inbox or a department, the chat goes straight to that queue —
// refused, with a clear message, when nobody there is available.
func RequestTransfer(ctx context.Context, db *store.DB, userID, convID int64, req TransferRequest, auth Authorize) (*sb.Conversation, *sb.Transfer, error) {
	if err := req.Validate(); err != nil {
		return nil, nil, err
	}
	var out *sb.Conversation
	var tr *sb.Transfer
	err := db.Write(ctx, func(tx *store.Tx) error {
		out, tr = nil, nil
		c, err := tx.Conversation(convID)
		if err != nil {
			return err
		}
		if err := auth.check(c); err != nil {
			return err
		}
		if c.AssigneeID == nil || *c.AssigneeID != userID || !c.Status.Live() {
			return sb.Errorf(sb.EFORBIDDEN, "Only the agent who has the chat can transfer it.")
		}
		if c.Status == sb.StatusTransferring {
			return sb.Errorf(sb.ECONFLICT, "A transfer of this chat is already pending.")
		}
		if c.Status != sb.StatusAssigned {
			return sb.Errorf(sb.ECONFLICT, "A %s chat cannot be transferred.", c.Status)
		}
		if req.ToUserID != 0 {
			tr, err = transferToAgent(tx, c, userID, req)
		} else {
			err = transferToQueue(tx, c, userID, req)
		}
		out = c
		return err
	})
	return out, tr, err
}

func transferToAgent(tx *store.Tx, c *sb.Conversation, from int64, req TransferRequest) (*sb.Transfer, error) {
	if req.ToUserID == from {
		return nil, sb.Errorf(sb.EINVALID, "You already have this chat.")
	}
	in, err := tx.Inbox(c.InboxID)
	if err != nil {
		return nil, err
	}
	a, err := tx.LockAgent(req.ToUserID)
	if sb.ErrorCode(err) == sb.ENOTFOUND {
		return nil, sb.NotFound("Agent")
	}
	if err != nil {
		return nil, err
	}
	member, err := tx.IsInboxMember(c.InboxID, req.ToUserID)
	if err != nil {
		return nil, err
	}
	if !member || a.Disabled || !a.Operator {
		return nil, sb.Errorf(sb.EINVALID, "That agent does not take chats of this inbox.")
	}
	if !a.Available(in.Settings.ChatLimit) {
		return nil, sb.Errorf(sb.ECONFLICT, "That agent is not available: offline, away or at their chat limit.")
	}
	ttl := time.Duration(max(in.Settings.TransferTimeoutSec, 1)) * time.Second
	return tx.CreateTransfer(c, from, req.ToUserID, req.Note, ttl)
}

func transferToQueue(tx *store.Tx, c *sb.Conversation, from int64, req TransferRequest) error {
	inboxID := c.InboxID
	if req.ToInboxID != 0 {
		inboxID = req.ToInboxID
	}
	in, err := tx.Inbox(inboxID)
	if err != nil {
		return err
	}
	if req.ToDepartmentID != 0 {
		ok, err := tx.DepartmentExists(req.ToDepartmentID)
		if err != nil {
			return err
		}
		if !ok {
			return sb.NotFound("Department")
		}
	}
	if inboxID == c.InboxID && req.ToDepartmentID == 0 {
		return sb.Errorf(sb.EINVALID, "The chat is already in this inbox; choose another inbox, a department or an agent.")
	}
	uid, ok, err := tx.FindCandidate(inboxID, req.ToDepartmentID, in.Settings.ChatLimit, from)
	if err != nil {
		return err
	}
	if !ok || uid == from {
		if req.ToDepartmentID != 0 {
			return sb.Errorf(sb.ECONFLICT, "Nobody in that department is available right now; the chat stays with you.")
		}
		return sb.Errorf(sb.ECONFLICT, "Nobody in that inbox is available right now; the chat stays with you.")
	}
	return tx.Requeue(c, inboxID, req.ToDepartmentID, from, "transferred", &from,
		map[string]any{"from_user_id": from, "to_inbox_id": inboxID, "to_department_id": req.ToDepartmentID, "note": req.Note})
}

// AnswerTransfer is agent userID accepting or rejecting a transfer request
// made to them (R4). Accepted, the chat is theirs; rejected, it stays with
// the sender. The sender is told either way.
func AnswerTransfer(ctx context.Context, db *store.DB, userID, transferID int64, accept bool, auth Authorize) (*sb.Conversation, *sb.Transfer, error) {
	t, err := db.Transfer(ctx, transferID)
	if err != nil {
		return nil, nil, err
	}
	if t.ToUserID != userID {
		return nil, nil, sb.NotFound("Transfer")
	}
	var out *sb.Conversation
	err = db.Write(ctx, func(tx *store.Tx) error {
		c, err := tx.Conversation(t.ConversationID)
		if err != nil {
			return err
		}
		if err := auth.check(c); err != nil {
			return err
		}
		t, err = tx.Transfer(transferID)
		if err != nil {
			return err
		}
		if t.State != sb.TransferPending {
			return sb.Errorf(sb.ECONFLICT, "The transfer request is %s.", t.State)
		}
		state := sb.TransferRejected
		if accept {
			state = sb.TransferAccepted
		}
		if err := tx.AnswerTransfer(c, t, state, &userID); err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, t, err
}

// AssignRequest is a supervisor's choice for a live chat (R6): an agent, a
// department, or both (the chat goes to the agent and is filed under the
// department).
type AssignRequest struct {
	UserID       int64 `json:"user_id,omitempty"`
	DepartmentID int64 `json:"department_id,omitempty"`
}

// Assign is supervisor actorID assigning or reassigning a live chat (R6).
// With an agent, the chat is theirs at once; the agent must be an online
// member of the inbox with room. With only a department, the chat goes to
// that department's queue — refused when nobody there is available.
func Assign(ctx context.Context, db *store.DB, actorID, convID int64, req AssignRequest, auth Authorize) (*sb.Conversation, error) {
	if req.UserID < 0 || req.DepartmentID < 0 || req.UserID == 0 && req.DepartmentID == 0 {
		return nil, sb.Errorf(sb.EINVALID, "Choose an agent, a department or both.")
	}
	var out *sb.Conversation
	err := db.Write(ctx, func(tx *store.Tx) error {
		out = nil
		c, err := tx.Conversation(convID)
		if err != nil {
			return err
		}
		if err := auth.check(c); err != nil {
			return err
		}
		if c.Ticket != sb.TicketNone {
			return sb.Errorf(sb.ECONFLICT, "This is a ticket; assign it as a ticket.")
		}
		if !c.Status.Live() {
			return sb.Errorf(sb.ECONFLICT, "The conversation has ended.")
		}
		if req.DepartmentID != 0 {
			ok, err := tx.DepartmentExists(req.DepartmentID)
			if err != nil {
				return err
			}
			if !ok {
				return sb.NotFound("Department")
			}
		}
		out = c
		if req.UserID != 0 {
			return assignToAgent(tx, c, actorID, req)
		}
		return assignToDepartment(tx, c, actorID, req.DepartmentID)
	})
	return out, err
}

func assignToAgent(tx *store.Tx, c *sb.Conversation, actorID int64, req AssignRequest) error {
	if c.AssigneeID != nil && *c.AssigneeID == req.UserID && c.Status == sb.StatusAssigned && req.DepartmentID == 0 {
		return nil
	}
	in, err := tx.Inbox(c.InboxID)
	if err != nil {
		return err
	}
	a, err := tx.LockAgent(req.UserID)
	if sb.ErrorCode(err) == sb.ENOTFOUND {
		return sb.NotFound("Agent")
	}
	if err != nil {
		return err
	}
	member, err := tx.IsInboxMember(c.InboxID, req.UserID)
	if err != nil {
		return err
	}
	if !member || a.Disabled || !a.Operator {
		return sb.Errorf(sb.EINVALID, "That agent does not take chats of this inbox.")
	}
	// Capacity that c's routing already holds on this agent converts.
	if o, err := tx.PendingOffer(c.ID); err == nil && o.UserID == req.UserID {
		a.Offered--
	}
	if t, err := tx.PendingTransfer(c.ID); err == nil && t.ToUserID == req.UserID {
		a.Offered--
	}
	mine := c.AssigneeID != nil && *c.AssigneeID == req.UserID
	if !mine && !a.Available(in.Settings.ChatLimit) {
		return sb.Errorf(sb.ECONFLICT, "That agent is not available: offline, away or at their chat limit.")
	}
	previous := c.AssigneeID
	if req.DepartmentID != 0 {
		dept := req.DepartmentID
		c.DepartmentID = &dept // written with the assignment
	}
	if mine {
		// Same agent, new department: a plain change.
		return tx.ChangeConversation(c, store.ConversationChange{Kind: "department", ActorID: &actorID,
			Data: map[string]any{"department_id": req.DepartmentID}})
	}
	if err := tx.AssignTo(c, req.UserID, &actorID, false); err != nil {
		return err
	}
	tx.Notify(req.UserID, c.InboxID, sb.Notification{Kind: "assigned", ConversationID: c.ID, FromUserID: actorID,
		Text: "A supervisor assigned a chat to you."})
	if previous != nil && *previous != req.UserID {
		tx.Notify(*previous, c.InboxID, sb.Notification{Kind: "reassigned", ConversationID: c.ID, FromUserID: actorID,
			Text: "A supervisor reassigned one of your chats."})
	}
	return nil
}

func assignToDepartment(tx *store.Tx, c *sb.Conversation, actorID, deptID int64) error {
	in, err := tx.Inbox(c.InboxID)
	if err != nil {
		return err
	}
	var current int64
	if c.AssigneeID != nil {
		current = *c.AssigneeID
	}
	uid, ok, err := tx.FindCandidate(c.InboxID, deptID, in.Settings.ChatLimit, current)
	if err != nil {
		return err
	}
	if !ok || uid == current {
		return sb.Errorf(sb.ECONFLICT, "Nobody in that department is available right now.")
	}
	if c.Status == sb.StatusWaiting {
		// Still queued: it keeps its place, now for the department.
		dept := &deptID
		return tx.ChangeConversation(c, store.ConversationChange{DepartmentID: &dept, Kind: "department", ActorID: &actorID,
			Data: map[string]any{"department_id": deptID}})
	}
	previous := c.AssigneeID
	err = tx.Requeue(c, c.InboxID, deptID, current, "reassigned", &actorID, map[string]any{"department_id": deptID})
	if err != nil {
		return err
	}
	if previous != nil {
		tx.Notify(*previous, c.InboxID, sb.Notification{Kind: "reassigned", ConversationID: c.ID, FromUserID: actorID,
			Text: "A supervisor moved one of your chats to a department."})
	}
	return nil
}

// Candidates lists the agents a chat of conversation c could go to now —
// online members of its inbox with room, least loaded first — optionally
// only those of a department (R6; also the list an agent transfers from).
func Candidates(ctx context.Context, db *store.DB, c *sb.Conversation, deptID int64) ([]sb.Candidate, error) {
	in, err := db.Inbox(ctx, c.InboxID)
	if err != nil {
		return nil, err
	}
	return db.Candidates(ctx, c.InboxID, deptID, in.Settings.ChatLimit)
}
