package routing

import (
	"maps"
	"slices"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// When an admin takes an agent out of an inbox, disables them or stops them
// taking chats, routing must not leave customers waiting on them: an offer
// would otherwise hold its chat until it expired, and a chat of an inbox the
// agent can no longer see would stay with someone who cannot answer it. The
// functions below run inside the admin's transaction, before the user's row
// is written (the lock order: conversations, then users), so the change and
// its consequences commit together and the router, woken by their events,
// offers those chats to someone else at once.

// LeaveInbox is routing's part of taking user userID out of inbox inboxID
// (U2, U4). The offers and transfer requests of that inbox waiting for their
// answer are withdrawn: an offered chat waits for the next agent, a
// transferred one stays with its sender. Unless the user still sees the
// inbox (seesInbox: an admin), their live chats there go back to the queue
// ahead of later arrivals, and their open tickets there become unassigned,
// each with a history entry.
func LeaveInbox(tx *store.Tx, userID, inboxID int64, seesInbox bool, actorID *int64) error {
	return release(tx, userID, releasing{inboxID: inboxID, work: !seesInbox, reason: "left_inbox"}, actorID)
}

// DisableAgent is routing's part of disabling user userID: they go offline,
// whatever was offered to them is withdrawn, their live chats go back to the
// queue and their open tickets become unassigned, in every inbox.
func DisableAgent(tx *store.Tx, userID int64, actorID *int64) error {
	return release(tx, userID, releasing{work: true, offline: true, reason: "disabled"}, actorID)
}

// StopOperating is routing's part of making user userID no longer an
// operator: the offers and transfer requests waiting for their answer are
// withdrawn, since they take no new chats; the chats they have stay theirs
// to finish.
func StopOperating(tx *store.Tx, userID int64, actorID *int64) error {
	return release(tx, userID, releasing{reason: "not_operator"}, actorID)
}

// releasing says what release gives back.
type releasing struct {
	inboxID int64  // only in this inbox; 0: in every inbox
	work    bool   // also the chats and tickets the agent has
	offline bool   // and set the agent offline
	reason  string // for the history: "left_inbox", "disabled", "not_operator"
}

func (r releasing) covers(c *sb.Conversation) bool { return r.inboxID == 0 || c.InboxID == r.inboxID }

// release withdraws and gives back what r says of agent userID's routing.
func release(tx *store.Tx, userID int64, r releasing, actorID *int64) error {
	convs, err := lockReleased(tx, userID, r)
	if err != nil {
		return err
	}
	a, err := tx.LockAgent(userID)
	if err != nil {
		return err
	}
	if r.offline && a.Presence != sb.PresenceOffline {
		if err := tx.SetPresence(userID, sb.PresenceOffline); err != nil {
			return err
		}
	}
	conv := func(id int64) (*sb.Conversation, error) {
		if c, ok := convs[id]; ok {
			return c, nil
		}
		return tx.Conversation(id) // offered since they were locked: rare, and a deadlock is retried
	}
	offers, err := tx.PendingOffersOf(userID)
	if err != nil {
		return err
	}
	for _, o := range offers {
		c, err := conv(o.ConversationID)
		if err != nil {
			return err
		}
		if r.covers(c) {
			if _, err := tx.ReturnOffer(c, o, sb.OfferWithdrawn, actorID); err != nil {
				return err
			}
		}
	}
	transfers, err := tx.PendingTransfersTo(userID)
	if err != nil {
		return err
	}
	for _, t := range transfers {
		c, err := conv(t.ConversationID)
		if err != nil {
			return err
		}
		if r.covers(c) {
			if err := tx.AnswerTransfer(c, t, sb.TransferCancelled, actorID); err != nil {
				return err
			}
		}
	}
	if !r.work {
		return nil
	}
	for _, id := range slices.Sorted(maps.Keys(convs)) {
		if err := giveBack(tx, convs[id], userID, r, actorID); err != nil {
			return err
		}
	}
	return nil
}

// lockReleased locks, in id order, the conversations release may change:
// those of the agent's pending offers and inbound transfer requests in the
// inbox, and with r.work the chats and tickets they have there.
func lockReleased(tx *store.Tx, userID int64, r releasing) (map[int64]*sb.Conversation, error) {
	var ids []int64
	offers, err := tx.PendingOffersOf(userID)
	if err != nil {
		return nil, err
	}
	for _, o := range offers {
		if r.inboxID == 0 || o.InboxID == r.inboxID {
			ids = append(ids, o.ConversationID)
		}
	}
	transfers, err := tx.PendingTransfersTo(userID)
	if err != nil {
		return nil, err
	}
	for _, t := range transfers {
		if r.inboxID == 0 || t.InboxID == r.inboxID {
			ids = append(ids, t.ConversationID)
		}
	}
	if r.work {
		held, err := tx.HeldBy(userID, r.inboxID)
		if err != nil {
			return nil, err
		}
		ids = append(ids, held...)
	}
	slices.Sort(ids)
	convs := map[int64]*sb.Conversation{}
	for _, id := range slices.Compact(ids) {
		c, err := tx.Conversation(id)
		if err != nil {
			return nil, err
		}
		convs[id] = c
	}
	return convs, nil
}

// giveBack takes conversation c (locked) from agent userID when it is
// theirs in the released inbox: a live chat returns to its queue, an open
// ticket becomes unassigned.
func giveBack(tx *store.Tx, c *sb.Conversation, userID int64, r releasing, actorID *int64) error {
	if c.AssigneeID == nil || *c.AssigneeID != userID || !r.covers(c) {
		return nil
	}
	data := map[string]any{"user_id": userID, "reason": r.reason}
	switch {
	case c.Ticket == sb.TicketAssigned:
		return tx.UnassignTicket(c, actorID, data)
	case c.Ticket == sb.TicketNone && (c.Status == sb.StatusAssigned || c.Status == sb.StatusTransferring):
		if err := tx.ReturnToQueue(c, "returned", actorID, data); err != nil {
			return err
		}
		if r.reason == "left_inbox" {
			tx.Notify(userID, c.InboxID, sb.Notification{Kind: "reassigned", ConversationID: c.ID,
				Text: "You left this chat's inbox: the chat went back to the queue."})
		}
	}
	return nil
}
