package app

import (
	"context"
	"strconv"
	"strings"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// Blocks lists the blocks in force (C12). Supervisors and up.
func (s *Service) Blocks(ctx context.Context, p *sb.Principal) ([]sb.Block, error) {
	if !p.IsSupervisor() {
		return nil, sb.Errorf(sb.EFORBIDDEN, "Only supervisors manage blocks.")
	}
	return s.db.Blocks(ctx)
}

// BlockFromConversation blocks, for the whole organisation, the e-mail
// address, phone number or widget visitor of a conversation's customer
// (C12). Any staff member who can see the conversation may do it. The
// ongoing chat goes on: a block stops future conversations only.
func (s *Service) BlockFromConversation(ctx context.Context, p *sb.Principal, convID int64, kind sb.BlockKind, reason string) (*sb.Block, error) {
	if !p.IsStaff() {
		return nil, sb.NotFound("Conversation")
	}
	var b sb.Block
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		c, err := txConversationFor(tx, p, convID)
		if err != nil {
			return err
		}
		contact, err := tx.Contact(c.ContactID)
		if err != nil {
			return err
		}
		var value string
		switch kind {
		case sb.BlockEmail:
			if value = contact.Email; value == "" {
				return sb.Errorf(sb.EINVALID, "The customer has no e-mail address to block.")
			}
		case sb.BlockPhone:
			if value = contact.Phone; value == "" {
				return sb.Errorf(sb.EINVALID, "The customer has no phone number to block.")
			}
		case sb.BlockVisitor:
			v, err := tx.VisitorByContact(contact.ID)
			if sb.ErrorCode(err) == sb.ENOTFOUND {
				return sb.Errorf(sb.EINVALID, "The customer has no widget visitor to block.")
			}
			if err != nil {
				return err
			}
			value = strconv.FormatInt(v.ID, 10)
		default:
			return sb.Errorf(sb.EINVALID, "Block kind must be email, phone or visitor.")
		}
		b = sb.Block{Kind: kind, Value: value, Reason: strings.TrimSpace(reason), CreatedBy: p.UserID}
		if err := tx.CreateBlock(&b); err != nil {
			return err
		}
		// The conversation's timeline shows who blocked its customer; the
		// value itself stays in the block list.
		return tx.AddHistory(c, "blocked", &p.UserID, "", "", map[string]any{"block_id": b.ID, "kind": b.Kind})
	})
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// CreateBlock blocks an e-mail address, phone number or widget visitor id
// for the whole organisation. Supervisors and up.
func (s *Service) CreateBlock(ctx context.Context, p *sb.Principal, b sb.Block) (*sb.Block, error) {
	if !p.IsSupervisor() {
		return nil, sb.Errorf(sb.EFORBIDDEN, "Only supervisors manage blocks.")
	}
	b.ID, b.CreatedBy, b.Reason = 0, p.UserID, strings.TrimSpace(b.Reason)
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.CreateBlock(&b) }); err != nil {
		return nil, err
	}
	return &b, nil
}

// DeleteBlock lifts a block. Supervisors and up.
func (s *Service) DeleteBlock(ctx context.Context, p *sb.Principal, id int64) error {
	if !p.IsSupervisor() {
		return sb.Errorf(sb.EFORBIDDEN, "Only supervisors manage blocks.")
	}
	return s.db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteBlock(id) })
}
