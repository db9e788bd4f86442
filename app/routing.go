package app

import (
	"context"
	"slices"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/routing"
	"github.com/switchboard/switchboard/store"
)

// The routing operations of the API (issue 3): offers, transfers,
// supervisor assignment, tickets. Each authorises the caller by the
// Principal's rules — checked again inside the transaction, on the
// conversation as it is then — and calls package routing, which holds the
// rules of routing itself (who may take what, capacity, timeouts).

// seeInbox is the Authorize of an operation on a conversation p must be able
// to see as staff; anything else is not found.
func seeInbox(p *sb.Principal) routing.Authorize {
	return func(c *sb.Conversation) error {
		if !p.CanSeeInbox(c.InboxID) {
			return sb.NotFound("Conversation")
		}
		return nil
	}
}

// superviseInbox is the Authorize of a supervisor's operation (R6, S3).
func superviseInbox(p *sb.Principal) routing.Authorize {
	return func(c *sb.Conversation) error {
		if !p.CanSeeInbox(c.InboxID) {
			return sb.NotFound("Conversation")
		}
		if !p.IsSupervisor() {
			return sb.Errorf(sb.EFORBIDDEN, "Only supervisors assign chats and tickets.")
		}
		return nil
	}
}

// releaseRouting is routing's part of an admin's change of user u (was: as
// it was before), run in the change's transaction before the user's row is
// written (routing's lock order): a user who is disabled, stops taking
// chats or leaves inboxes holds no offer there any more, and a chat or
// ticket they can no longer see goes back to the queue or the supervisors.
func releaseRouting(tx *store.Tx, actorID int64, was, u *sb.User, inboxIDs *[]int64) error {
	actor := &actorID
	if u.Disabled && !was.Disabled {
		return routing.DisableAgent(tx, u.ID, actor)
	}
	if was.Operator && !u.Operator {
		if err := routing.StopOperating(tx, u.ID, actor); err != nil {
			return err
		}
	}
	if inboxIDs == nil {
		return nil
	}
	after := &sb.Principal{UserID: u.ID, Role: u.Role, InboxIDs: *inboxIDs}
	for _, inboxID := range was.InboxIDs {
		if slices.Contains(*inboxIDs, inboxID) {
			continue
		}
		if err := routing.LeaveInbox(tx, u.ID, inboxID, after.CanSeeInbox(inboxID), actor); err != nil {
			return err
		}
	}
	return nil
}

// Offers lists the chats offered to the caller, waiting for their answer.
func (s *Service) Offers(ctx context.Context, p *sb.Principal) ([]*sb.Offer, error) {
	if !p.IsStaff() {
		return nil, errStaffOnly
	}
	return routing.PendingOffers(ctx, s.db, p.UserID)
}

// AcceptOffer takes a chat offered to the caller (R3).
func (s *Service) AcceptOffer(ctx context.Context, p *sb.Principal, offerID int64) (*sb.Conversation, error) {
	if !p.IsStaff() {
		return nil, errStaffOnly
	}
	return routing.AcceptOffer(ctx, s.db, p.UserID, offerID, seeInbox(p))
}

// DeclineOffer turns down a chat offered to the caller (R3).
func (s *Service) DeclineOffer(ctx context.Context, p *sb.Principal, offerID int64) (*sb.Conversation, error) {
	if !p.IsStaff() {
		return nil, errStaffOnly
	}
	return routing.DeclineOffer(ctx, s.db, p.UserID, offerID, seeInbox(p))
}

// Transfers lists the pending transfer requests the caller sent or must answer.
func (s *Service) Transfers(ctx context.Context, p *sb.Principal) ([]*sb.Transfer, error) {
	if !p.IsStaff() {
		return nil, errStaffOnly
	}
	return s.db.PendingTransfers(ctx, p.UserID)
}

// RequestTransfer hands the caller's chat to an agent (who must accept), an
// inbox or a department (R4, R5).
func (s *Service) RequestTransfer(ctx context.Context, p *sb.Principal, convID int64, req routing.TransferRequest) (*sb.Conversation, *sb.Transfer, error) {
	if !p.IsStaff() {
		return nil, nil, errStaffOnly
	}
	return routing.RequestTransfer(ctx, s.db, p.UserID, convID, req, seeInbox(p))
}

// AnswerTransfer accepts or rejects a transfer request made to the caller (R4).
func (s *Service) AnswerTransfer(ctx context.Context, p *sb.Principal, transferID int64, accept bool) (*sb.Conversation, *sb.Transfer, error) {
	if !p.IsStaff() {
		return nil, nil, errStaffOnly
	}
	return routing.AnswerTransfer(ctx, s.db, p.UserID, transferID, accept, seeInbox(p))
}

// Assign is a supervisor assigning or reassigning a live chat to an agent
// and/or a department (R6).
func (s *Service) Assign(ctx context.Context, p *sb.Principal, convID int64, req routing.AssignRequest) (*sb.Conversation, error) {
	if !p.IsStaff() {
		return nil, errStaffOnly
	}
	return routing.Assign(ctx, s.db, p.UserID, convID, req, superviseInbox(p))
}

// Candidates lists who could take a chat now (R6): online members of its
// inbox with room, optionally of a department. Any staff member who sees
// the inbox may ask — it is also the list an agent transfers from.
func (s *Service) Candidates(ctx context.Context, p *sb.Principal, convID, deptID int64) ([]sb.Candidate, error) {
	if !p.IsStaff() {
		return nil, errStaffOnly
	}
	c, err := s.conversationFor(ctx, p, convID)
	if err != nil {
		return nil, err
	}
	return routing.Candidates(ctx, s.db, c, deptID)
}

// AssignTicket gives a ticket to a member of its inbox (S3).
func (s *Service) AssignTicket(ctx context.Context, p *sb.Principal, convID, userID int64) (*sb.Conversation, error) {
	if !p.IsStaff() {
		return nil, errStaffOnly
	}
	return routing.AssignTicket(ctx, s.db, p.UserID, convID, userID, superviseInbox(p))
}

// CloseTicket closes a ticket (S3).
func (s *Service) CloseTicket(ctx context.Context, p *sb.Principal, convID int64) (*sb.Conversation, error) {
	if !p.IsStaff() {
		return nil, errStaffOnly
	}
	return routing.CloseTicket(ctx, s.db, p.UserID, convID, superviseInbox(p))
}

// ReopenTicket reopens a closed ticket (S3).
func (s *Service) ReopenTicket(ctx context.Context, p *sb.Principal, convID int64) (*sb.Conversation, error) {
	if !p.IsStaff() {
		return nil, errStaffOnly
	}
	return routing.ReopenTicket(ctx, s.db, p.UserID, convID, superviseInbox(p))
}
