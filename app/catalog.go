package app

import (
	"context"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// Categories lists the categories conversations can be filed under (C8).
func (s *Service) Categories(ctx context.Context, p *sb.Principal) ([]sb.Category, error) {
	if !p.IsStaff() {
		return nil, sb.Errorf(sb.EFORBIDDEN, "Only staff see categories.")
	}
	return s.db.Categories(ctx)
}

// CreateCategory adds a category; names are unique. Admins only.
func (s *Service) CreateCategory(ctx context.Context, p *sb.Principal, name string) (*sb.Category, error) {
	if !p.IsAdmin() {
		return nil, sb.Errorf(sb.EFORBIDDEN, "Only admins manage categories.")
	}
	c := &sb.Category{Name: name}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.CreateCategory(c) }); err != nil {
		return nil, err
	}
	return c, nil
}

// DeleteCategory removes a category; conversations filed under it are left
// without one. Admins only.
func (s *Service) DeleteCategory(ctx context.Context, p *sb.Principal, id int64) error {
	if !p.IsAdmin() {
		return sb.Errorf(sb.EFORBIDDEN, "Only admins manage categories.")
	}
	return s.db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteCategory(id) })
}

// CannedResponses lists the canned responses p may insert (C5): the
// organisation's and p's own.
func (s *Service) CannedResponses(ctx context.Context, p *sb.Principal) ([]sb.CannedResponse, error) {
	if !p.IsStaff() {
		return nil, sb.Errorf(sb.EFORBIDDEN, "Only staff use canned responses.")
	}
	return s.db.CannedResponses(ctx, p.UserID)
}

// CreateCannedResponse adds a canned response: a personal one owned by p
// (any staff), or an organisation-wide one (supervisors and up).
func (s *Service) CreateCannedResponse(ctx context.Context, p *sb.Principal, c sb.CannedResponse, personal bool) (*sb.CannedResponse, error) {
	if !p.IsStaff() {
		return nil, sb.Errorf(sb.EFORBIDDEN, "Only staff use canned responses.")
	}
	c.ID, c.OwnerID = 0, nil
	if personal {
		owner := p.UserID
		c.OwnerID = &owner
	} else if !p.IsSupervisor() {
		return nil, sb.Errorf(sb.EFORBIDDEN, "Only supervisors manage organisation-wide canned responses.")
	}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.CreateCannedResponse(&c) }); err != nil {
		return nil, err
	}
	return &c, nil
}

// cannedFor reads a canned response p may change: their own personal one,
// or an organisation-wide one if p is a supervisor. Someone else's personal
// response is not found, whoever asks.
func cannedFor(tx *store.Tx, p *sb.Principal, id int64) (*sb.CannedResponse, error) {
	c, err := tx.CannedResponse(id)
	if err != nil {
		return nil, err
	}
	if c.OwnerID != nil {
		if *c.OwnerID != p.UserID {
			return nil, sb.NotFound("Canned response")
		}
		return c, nil
	}
	if !p.IsSupervisor() {
		return nil, sb.Errorf(sb.EFORBIDDEN, "Only supervisors manage organisation-wide canned responses.")
	}
	return c, nil
}

// UpdateCannedResponse changes a canned response's shortcut, title and body;
// who owns it never changes.
func (s *Service) UpdateCannedResponse(ctx context.Context, p *sb.Principal, id int64, c sb.CannedResponse) (*sb.CannedResponse, error) {
	if !p.IsStaff() {
		return nil, sb.Errorf(sb.EFORBIDDEN, "Only staff use canned responses.")
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		old, err := cannedFor(tx, p, id)
		if err != nil {
			return err
		}
		c.ID, c.OwnerID, c.CreatedAt = old.ID, old.OwnerID, old.CreatedAt
		return tx.UpdateCannedResponse(&c)
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// DeleteCannedResponse removes one of p's personal canned responses, or an
// organisation-wide one if p is a supervisor.
func (s *Service) DeleteCannedResponse(ctx context.Context, p *sb.Principal, id int64) error {
	if !p.IsStaff() {
		return sb.Errorf(sb.EFORBIDDEN, "Only staff use canned responses.")
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := cannedFor(tx, p, id); err != nil {
			return err
		}
		return tx.DeleteCannedResponse(id)
	})
}
