package routing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// fireDue fires every deadline due now. Each is claimed in the transaction
// that acts on it, so it fires once even with several engines running.
func (e *Engine) fireDue(ctx context.Context) error {
	var errs []error
	for {
		due, err := e.db.DueDeadlines(ctx, e.clock.Now(), e.cfg.Batch)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		fired := 0
		for _, d := range due {
			ok, err := e.fire(ctx, d)
			if err != nil {
				errs = append(errs, fmt.Errorf("fire %s deadline %d: %w", d.Kind, d.ID, err))
				continue
			}
			if ok {
				fired++
				if e.cfg.Fired != nil {
					e.cfg.Fired(d)
				}
			}
		}
		if len(due) < e.cfg.Batch || fired == 0 {
			return errors.Join(errs...)
		}
	}
}

// fire acts on one deadline; ok reports whether this engine claimed it.
func (e *Engine) fire(ctx context.Context, d store.Deadline) (ok bool, err error) {
	switch d.Kind {
	case store.DeadlineOffer:
		return e.expireOffer(ctx, d)
	case store.DeadlineTransfer:
		return e.expireTransfer(ctx, d)
	case store.DeadlineIdle:
		return e.completeIdle(ctx, d)
	case store.DeadlinePresence:
		return e.presenceLapsed(ctx, d)
	}
	e.log.Warn("routing: unknown deadline dropped", "kind", d.Kind, "id", d.ID)
	return e.claimOnly(ctx, d)
}

// claimOnly removes a deadline whose subject is gone.
func (e *Engine) claimOnly(ctx context.Context, d store.Deadline) (ok bool, err error) {
	err = e.db.Write(ctx, func(tx *store.Tx) error {
		ok, err = tx.ClaimDeadline(d)
		return err
	})
	return ok, err
}

// expireOffer sends an unanswered offer's conversation to the next agent
// (R3). An agent who lets MaxMissedOffers offers in a row expire is set away,
// so that customers stop waiting on them.
func (e *Engine) expireOffer(ctx context.Context, d store.Deadline) (ok bool, err error) {
	o, err := e.db.Offer(ctx, d.RefID)
	if sb.ErrorCode(err) == sb.ENOTFOUND {
		return e.claimOnly(ctx, d)
	}
	if err != nil {
		return false, err
	}
	var away bool
	err = e.db.Write(ctx, func(tx *store.Tx) error {
		ok, away = false, false
		c, err := tx.Conversation(o.ConversationID)
		if err != nil {
			return err
		}
		if ok, err = tx.ClaimDeadline(d); !ok || err != nil {
			return err
		}
		o, err := tx.Offer(d.RefID)
		if err != nil || o.State != sb.OfferPending {
			return err
		}
		missed, err := tx.ReturnOffer(c, o, sb.OfferExpired, nil)
		if err != nil {
			return err
		}
		in, err := tx.Inbox(o.InboxID)
		if err != nil {
			return err
		}
		maxMissed := in.Settings.MaxMissedOffers
		if maxMissed <= 0 {
			maxMissed = sb.DefaultInboxSettings().MaxMissedOffers
		}
		away = missed >= maxMissed
		return nil
	})
	if err == nil && away {
		// A transaction of its own, which locks in the usual order; should
		// it fail, the agent's next expiry tries again.
		if err := setPresence(ctx, e.db, o.UserID, sb.PresenceAway, "missed_offers"); err != nil {
			e.log.Error("routing: set agent away after missed offers", "user_id", o.UserID, "err", err)
		}
	}
	return ok, err
}

// expireTransfer ends an unanswered transfer request: the chat stays with
// the sender, who is told (R4).
func (e *Engine) expireTransfer(ctx context.Context, d store.Deadline) (ok bool, err error) {
	t, err := e.db.Transfer(ctx, d.RefID)
	if sb.ErrorCode(err) == sb.ENOTFOUND {
		return e.claimOnly(ctx, d)
	}
	if err != nil {
		return false, err
	}
	err = e.db.Write(ctx, func(tx *store.Tx) error {
		ok = false
		c, err := tx.Conversation(t.ConversationID)
		if err != nil {
			return err
		}
		if ok, err = tx.ClaimDeadline(d); !ok || err != nil {
			return err
		}
		t, err := tx.Transfer(d.RefID)
		if err != nil || t.State != sb.TransferPending {
			return err
		}
		return tx.AnswerTransfer(c, t, sb.TransferExpired, nil)
	})
	return ok, err
}

// completeIdle ends a live conversation after its inbox's inactivity
// timeout (C7); when there was activity since the deadline was set, it sets
// the next one instead.
func (e *Engine) completeIdle(ctx context.Context, d store.Deadline) (ok bool, err error) {
	err = e.db.Write(ctx, func(tx *store.Tx) error {
		ok = false
		c, err := tx.Conversation(d.RefID)
		if sb.ErrorCode(err) == sb.ENOTFOUND {
			ok, err = tx.ClaimDeadline(d)
			return err
		}
		if err != nil {
			return err
		}
		if ok, err = tx.ClaimDeadline(d); !ok || err != nil {
			return err
		}
		if !c.Status.Live() || c.Ticket != sb.TicketNone {
			return nil
		}
		in, err := tx.Inbox(c.InboxID)
		if err != nil {
			return err
		}
		timeout := store.IdleTimeout(c, in.Settings)
		if timeout == 0 {
			// A bot has it: no timer now. Forget its place in the queue, so
			// that it is admitted afresh (with a new timer) when it waits again.
			return tx.LeaveQueue(c.ID)
		}
		if due := c.LastActivity.Add(timeout); due.After(tx.Now()) {
			// Check again when it is due, or sooner should the status change.
			return tx.Schedule(store.DeadlineIdle, c.ID, minTime(due, tx.Now().Add(store.IdleCheck(in.Settings))))
		}
		return tx.EndIdle(c, timeout)
	})
	return ok, err
}

// presenceLapsed sets an agent offline when their grace period after their
// last connection closed has passed and they have not reconnected (P1).
func (e *Engine) presenceLapsed(ctx context.Context, d store.Deadline) (ok bool, err error) {
	err = e.db.Write(ctx, func(tx *store.Tx) error {
		ok = false
		convs, err := lockAgentConversations(tx, d.RefID)
		if err != nil {
			return err
		}
		a, err := tx.LockAgent(d.RefID)
		if sb.ErrorCode(err) == sb.ENOTFOUND {
			ok, err = tx.ClaimDeadline(d)
			return err
		}
		if err != nil {
			return err
		}
		if ok, err = tx.ClaimDeadline(d); !ok || err != nil {
			return err
		}
		n, err := tx.Connections(d.RefID)
		if err != nil || n > 0 || a.Presence == sb.PresenceOffline {
			return err // reconnected, maybe to another node
		}
		return applyPresence(tx, a, convs, sb.PresenceOffline, "disconnected", nil)
	})
	return ok, err
}

// lockAgentConversations locks, in id order, the conversations an agent's
// pending offers and inbound transfer requests are about: the first step of
// the lock order for a change of the agent's presence.
func lockAgentConversations(tx *store.Tx, userID int64) (map[int64]*sb.Conversation, error) {
	offers, err := tx.PendingOffersOf(userID)
	if err != nil {
		return nil, err
	}
	transfers, err := tx.PendingTransfersTo(userID)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, o := range offers {
		ids = append(ids, o.ConversationID)
	}
	for _, t := range transfers {
		ids = append(ids, t.ConversationID)
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

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
