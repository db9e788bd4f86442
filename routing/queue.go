package routing

import (
	"context"
	"errors"
	"math"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// admitBatch bounds the conversations admitted in one transaction.
const admitBatch = 100

// admit decides, for each waiting conversation not yet in a queue, whether
// it queues for an agent or becomes a ticket: outside the inbox's business
// hours, or with no operator of the inbox online, it is a ticket (R7).
func (e *Engine) admit(ctx context.Context) error {
	for {
		ids, err := e.db.Unadmitted(ctx, admitBatch)
		if err != nil || len(ids) == 0 {
			return err
		}
		admitted := 0
		err = e.db.Write(ctx, func(tx *store.Tx) error {
			admitted = 0
			inboxes := map[int64]admission{}
			// With nobody waiting, a new conversation is offered at once, in
			// this transaction; otherwise the assign pass serves the queue
			// oldest first.
			direct, err := tx.QueueEmpty()
			if err != nil {
				return err
			}
			for _, id := range ids {
				c, err := tx.LockUnadmitted(id)
				if err != nil {
					return err
				}
				if c == nil {
					continue // gone, or another node admits it
				}
				a, ok := inboxes[c.InboxID]
				if !ok {
					if a, err = admissionOf(tx, c.InboxID); err != nil {
						return err
					}
					inboxes[c.InboxID] = a
				}
				queued, err := a.admit(tx, c)
				if err != nil {
					return err
				}
				admitted++
				if queued && direct {
					out, err := offerTx(tx, c, 0, a.inbox.Settings, false)
					if err != nil {
						return err
					}
					direct = out == offered
				}
			}
			return nil
		})
		if err != nil || len(ids) < admitBatch || admitted == 0 {
			return err
		}
	}
}

// admission is what decides the fate of an inbox's new conversations, read
// once per transaction.
type admission struct {
	inbox  *sb.Inbox
	open   bool
	online bool
}

func admissionOf(tx *store.Tx, inboxID int64) (admission, error) {
	in, err := tx.Inbox(inboxID)
	if err != nil {
		return admission{}, err
	}
	a := admission{inbox: in, open: in.Settings.BusinessHours.Open(tx.Now())}
	if a.open {
		if a.online, err = tx.AnyOnline(inboxID); err != nil {
			return admission{}, err
		}
	}
	return a, nil
}

// ticketReason says why a new conversation of the inbox becomes a ticket
// now: "closed" (outside business hours) or "nobody_online"; "" when it
// queues for an agent.
func (a admission) ticketReason() string {
	switch {
	case !a.open:
		return "closed"
	case !a.online:
		return "nobody_online"
	}
	return ""
}

// admit queues c or makes it a ticket; queued reports which.
func (a admission) admit(tx *store.Tx, c *sb.Conversation) (queued bool, err error) {
	if reason := a.ticketReason(); reason != "" {
		return false, tx.MakeTicket(c, a.inbox.Settings.OutOfHoursMessage, reason)
	}
	return true, tx.Enqueue(c, a.inbox.Settings)
}

// pool is the set of agents who may take a queued conversation.
type pool struct{ inbox, dept int64 }

// outcome is what one offer attempt came to.
type outcome int

const (
	skipped outcome = iota // the conversation no longer waits, or another node has it
	offered
	nobody // no agent of its pool may take it now
)

// assign offers queued conversations, oldest first, each to the best agent
// of its pool (R1–R3). Once a pool has nobody left, the younger
// conversations of that pool are not tried: capacity only shrinks during a
// pass.
//
// It reports whether conversations may still wait, for announce.
func (e *Engine) assign(ctx context.Context) (waiting bool, err error) {
	queue, err := e.db.Queue(ctx, e.cfg.Batch)
	if err != nil {
		return true, err
	}
	full := map[pool]bool{}
	settings := map[int64]sb.InboxSettings{}
	var errs []error
	for _, q := range queue {
		p := pool{q.InboxID, q.DepartmentID}
		if full[p] || full[pool{q.InboxID, 0}] {
			waiting = true
			continue
		}
		out, err := e.offer(ctx, q.ConversationID, settings)
		if err != nil {
			errs = append(errs, err)
		}
		switch {
		case err != nil, out == skipped:
			waiting = true
		case out == nobody:
			waiting = true
			full[p] = true
		}
	}
	return waiting || len(queue) == e.cfg.Batch, errors.Join(errs...)
}

// offer makes one queued conversation an offer, in one transaction that
// re-checks the agent's presence and capacity with their row locked.
func (e *Engine) offer(ctx context.Context, convID int64, settings map[int64]sb.InboxSettings) (outcome, error) {
	var out outcome
	err := e.db.Write(ctx, func(tx *store.Tx) error {
		out = skipped
		c, rs, err := tx.LockQueued(convID)
		if err != nil || c == nil {
			return err
		}
		s, ok := settings[c.InboxID]
		if !ok {
			in, err := tx.Inbox(c.InboxID)
			if err != nil {
				return err
			}
			s = in.Settings
			settings[c.InboxID] = s
		}
		out, err = offerTx(tx, c, rs.SkipUserID, s, true)
		return err
	})
	return out, err
}

// offerTx offers queued conversation c (locked), of an inbox with settings
// s, to the best agent who may take it, tried last: avoid. The agent's row
// is locked and their presence and capacity checked again before the offer
// is made. With wait false, an agent whose row another transaction holds is
// not waited for (skipped): for transactions that lock several agents.
func offerTx(tx *store.Tx, c *sb.Conversation, avoid int64, s sb.InboxSettings, wait bool) (outcome, error) {
	var dept int64
	if c.DepartmentID != nil {
		dept = *c.DepartmentID
	}
	ttl := time.Duration(max(s.OfferTimeoutSec, 1)) * time.Second
	for range 5 {
		uid, ok, err := tx.FindCandidate(c.InboxID, dept, s.ChatLimit, avoid)
		if err != nil {
			return skipped, err
		}
		if !ok {
			return nobody, nil
		}
		var a *store.AgentLoad
		if wait {
			a, err = tx.LockAgent(uid)
		} else {
			a, err = tx.TryLockAgent(uid)
		}
		if err != nil || a == nil {
			return skipped, err
		}
		if !a.Available(s.ChatLimit) {
			continue // another node took their last room since the search
		}
		if _, err := tx.CreateOffer(c, uid, ttl); err != nil {
			return skipped, err
		}
		return offered, nil
	}
	return skipped, nil
}

// announce tells queued customers whose position changed where they stand
// and about how long they will wait (R8).
func (e *Engine) announce(ctx context.Context) error {
	queue, err := e.db.Queue(ctx, math.MaxInt32)
	if err != nil {
		return err
	}
	pos := map[int64]int{}
	var changed []store.QueueEntry
	var positions []int
	for _, q := range queue {
		pos[q.InboxID]++
		if worthTelling(q.Told, pos[q.InboxID]) {
			changed = append(changed, q)
			positions = append(positions, pos[q.InboxID])
		}
	}
	if len(changed) == 0 {
		return nil
	}
	online, err := e.db.OnlineCounts(ctx)
	if err != nil {
		return err
	}
	return e.db.Write(ctx, func(tx *store.Tx) error {
		for i, q := range changed {
			qs := sb.QueueStatus{ConversationID: q.ConversationID, Position: positions[i],
				ExpectedWaitSec: e.expectedWait(positions[i], online[q.InboxID])}
			if err := tx.AnnounceQueue(q, qs); err != nil {
				return err
			}
		}
		return nil
	})
}

// worthTelling reports whether a customer told position told should now
// hear of position pos: always near the head of the queue, and further back
// when it moved by a tenth or more, so that a long queue moving by one does
// not cost a message to everyone in it.
func worthTelling(told, pos int) bool {
	switch {
	case told == pos:
		return false
	case told == 0 || pos <= 10:
		return true
	}
	return abs(told-pos)*10 >= told
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// expectedWait estimates the wait of the customer at position pos of a queue
// served by n online agents: every agent frees a place about once per
// HandleTime.
func (e *Engine) expectedWait(pos, n int) int {
	return int(math.Ceil(float64(pos) * e.cfg.HandleTime.Seconds() / float64(max(n, 1))))
}

// reconcile withdraws offers and transfer requests whose conversation moved
// on by a path that did not withdraw them (it ended, say), giving the
// capacity they held back at once rather than at their expiry.
func (e *Engine) reconcile(ctx context.Context) error {
	var errs []error
	offers, err := e.db.StaleOffers(ctx)
	if err != nil {
		return err
	}
	for _, o := range offers {
		errs = append(errs, e.db.Write(ctx, func(tx *store.Tx) error {
			c, err := tx.Conversation(o.ConversationID)
			if err != nil {
				return err
			}
			_, err = tx.DropStaleOffer(c, o.ID)
			return err
		}))
	}
	transfers, err := e.db.StaleTransfers(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, t := range transfers {
		errs = append(errs, e.db.Write(ctx, func(tx *store.Tx) error {
			c, err := tx.Conversation(t.ConversationID)
			if err != nil {
				return err
			}
			_, err = tx.DropStaleTransfer(c, t.ID)
			return err
		}))
	}
	return errors.Join(errs...)
}
