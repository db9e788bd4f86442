package app

import (
	"context"
	"fmt"
	"slices"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/routing"
	"github.com/switchboard/switchboard/store"
)

// NewUser is what an admin gives to create a user.
type NewUser struct {
	Email         string  `json:"email"`
	Name          string  `json:"name"`
	Role          sb.Role `json:"role"`
	RoleName      string  `json:"role_name"`
	Operator      bool    `json:"operator"`
	ChatLimit     *int    `json:"chat_limit"` // nil: sb.DefaultChatLimit
	Password      string  `json:"password"`
	InboxIDs      []int64 `json:"inbox_ids"`
	DepartmentIDs []int64 `json:"department_ids"`
}

// UserPatch changes some of a user's fields; nil fields stay as they are.
type UserPatch struct {
	Email         *string  `json:"email"`
	Name          *string  `json:"name"`
	Role          *sb.Role `json:"role"`
	RoleName      *string  `json:"role_name"`
	Operator      *bool    `json:"operator"`
	ChatLimit     *int     `json:"chat_limit"`
	Disabled      *bool    `json:"disabled"`
	InboxIDs      *[]int64 `json:"inbox_ids"`
	DepartmentIDs *[]int64 `json:"department_ids"`
}

var errStaffOnly = sb.Errorf(sb.EFORBIDDEN, "Only staff may do this.")

// Me returns the caller's own user.
func (s *Service) Me(ctx context.Context, p *sb.Principal) (*sb.User, error) {
	if !p.IsStaff() {
		return nil, errStaffOnly
	}
	return s.db.User(ctx, p.UserID)
}

// Users lists every user of the organisation, for any staff member (they
// pick colleagues to transfer to, assign and mention).
func (s *Service) Users(ctx context.Context, p *sb.Principal) ([]*sb.User, error) {
	if !p.IsStaff() {
		return nil, errStaffOnly
	}
	return s.db.Users(ctx)
}

// User returns one user, for any staff member.
func (s *Service) User(ctx context.Context, p *sb.Principal, id int64) (*sb.User, error) {
	if !p.IsStaff() {
		return nil, errStaffOnly
	}
	return s.db.User(ctx, id)
}

// CreateUser adds a user. Admins create supervisors and agents; only the
// owner creates admins and owners.
func (s *Service) CreateUser(ctx context.Context, p *sb.Principal, in NewUser) (*sb.User, error) {
	if err := p.CanManageUsers(in.Role); err != nil {
		return nil, err
	}
	if err := sb.ValidatePassword(in.Password); err != nil {
		return nil, err
	}
	u := &sb.User{Email: in.Email, Name: in.Name, Role: in.Role, RoleName: in.RoleName, Operator: in.Operator, ChatLimit: sb.DefaultChatLimit}
	if in.ChatLimit != nil {
		u.ChatLimit = *in.ChatLimit
	}
	if err := u.Validate(); err != nil {
		return nil, err
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.CreateUser(u, hash); err != nil {
			return err
		}
		if err := tx.SetUserInboxes(u.ID, in.InboxIDs); err != nil {
			return err
		}
		if err := tx.SetUserDepartments(u.ID, in.DepartmentIDs); err != nil {
			return err
		}
		created, err := tx.User(u.ID)
		if err != nil {
			return err
		}
		*u = *created
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// UpdateUser changes a user. Only admins change users; only the owner
// changes admins and owners or grants those roles; nobody changes their own
// role or disables themselves. When the user's role, inboxes or disabled
// flag change, their sessions see it on the next request and their open
// WebSockets are closed (SetUserChangeHook). A user disabled, no longer an
// operator or out of an inbox keeps no offer, transfer request, chat or
// ticket they can no longer take, in the same transaction (releaseRouting).
func (s *Service) UpdateUser(ctx context.Context, p *sb.Principal, id int64, patch UserPatch) (*sb.User, error) {
	if !p.IsAdmin() {
		return nil, sb.Errorf(sb.EFORBIDDEN, "Only admins manage users.")
	}
	var u *sb.User
	var accessChanged bool
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		accessChanged = false
		var err error
		if u, err = tx.User(id); err != nil {
			return err
		}
		was := *u
		self := u.ID == p.UserID
		if !self && u.Role.AtLeast(sb.RoleAdmin) && p.Role != sb.RoleOwner {
			return sb.Errorf(sb.EFORBIDDEN, "Only the owner changes admins and owners.")
		}
		if patch.Role != nil && *patch.Role != u.Role {
			if self {
				return sb.Errorf(sb.EFORBIDDEN, "Nobody changes their own role.")
			}
			if err := p.CanManageUsers(*patch.Role); err != nil {
				return err
			}
			u.Role, accessChanged = *patch.Role, true
		}
		if patch.Disabled != nil && *patch.Disabled != u.Disabled {
			if self {
				return sb.Errorf(sb.EFORBIDDEN, "You cannot disable your own account.")
			}
			u.Disabled, accessChanged = *patch.Disabled, true
		}
		if patch.Email != nil {
			u.Email = *patch.Email
		}
		if patch.Name != nil {
			u.Name = *patch.Name
		}
		if patch.RoleName != nil {
			u.RoleName = *patch.RoleName
		}
		if patch.Operator != nil {
			u.Operator = *patch.Operator
		}
		if patch.ChatLimit != nil {
			u.ChatLimit = *patch.ChatLimit
		}
		if err := releaseRouting(tx, p.UserID, &was, u, patch.InboxIDs); err != nil {
			return err
		}
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		if patch.ChatLimit != nil {
			// Announce the new limit so the router serves the queue at once (R3).
			if err := tx.SetChatLimit(u.ID, u.ChatLimit); err != nil {
				return err
			}
		}
		if u.Disabled && accessChanged {
			if err := tx.DeleteUserSessions(u.ID); err != nil {
				return fmt.Errorf("end sessions: %w", err)
			}
		}
		if patch.InboxIDs != nil {
			want := slices.Compact(slices.Sorted(slices.Values(*patch.InboxIDs)))
			if !slices.Equal(want, u.InboxIDs) {
				if err := tx.SetUserInboxes(u.ID, want); err != nil {
					return err
				}
				accessChanged = true
			}
		}
		if patch.DepartmentIDs != nil {
			if err := tx.SetUserDepartments(u.ID, *patch.DepartmentIDs); err != nil {
				return err
			}
		}
		u, err = tx.User(id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if accessChanged {
		s.userChanged(id)
	}
	return u, nil
}

// UpdateMe changes the caller's own name.
func (s *Service) UpdateMe(ctx context.Context, p *sb.Principal, name string) (*sb.User, error) {
	if !p.IsStaff() {
		return nil, errStaffOnly
	}
	var u *sb.User
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		if u, err = tx.User(p.UserID); err != nil {
			return err
		}
		u.Name = name
		return tx.UpdateUser(u)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// SetPresence sets the caller's own presence (P1) and tells everyone.
func (s *Service) SetPresence(ctx context.Context, p *sb.Principal, presence sb.Presence) (*sb.User, error) {
	if !p.IsStaff() {
		return nil, errStaffOnly
	}
	if !presence.Valid() {
		return nil, sb.Errorf(sb.EINVALID, "Presence must be online, away or offline.")
	}
	// Routing withdraws the offers of an agent going away or offline in the
	// same transaction, and serves the queue when one comes online.
	if err := routing.SetPresence(ctx, s.db, p.UserID, presence); err != nil {
		return nil, err
	}
	return s.db.User(ctx, p.UserID)
}

// ChangePassword replaces the caller's password after checking the current
// one. Every session of the user ends, this one included, and their open
// WebSockets are closed. Failed checks count against the account's login limit.
func (s *Service) ChangePassword(ctx context.Context, p *sb.Principal, current, next string) error {
	if !p.IsStaff() {
		return errStaffOnly
	}
	u, hash, err := s.userWithHash(ctx, p.UserID)
	if err != nil {
		return err
	}
	// The current password is checked as Login checks one: the attempt is
	// taken from the account's budget first and given back if it was right,
	// so checks in flight at once cannot all pass the limit.
	key := "account:" + u.Email
	limited := sb.Errorf(sb.ERATELIMIT, "Too many failed attempts. Try again in a few minutes.")
	if err := allow(ctx, s.auth.byAccount, key, limited); err != nil {
		return err
	}
	if err := take(ctx, s.auth.byAccount, key, limited); err != nil {
		return err
	}
	if len(current) > maxPasswordBytes || !CheckPassword(hash, current) {
		return sb.Errorf(sb.EFORBIDDEN, "The current password is wrong.")
	}
	if err := s.auth.byAccount.Refund(context.WithoutCancel(ctx), key); err != nil {
		s.log.Warn("refund password check", "err", err)
	}
	if err := sb.ValidatePassword(next); err != nil {
		return err
	}
	newHash, err := HashPassword(next)
	if err != nil {
		return err
	}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.SetPassword(p.UserID, newHash) }); err != nil {
		return err
	}
	s.userChanged(p.UserID)
	return nil
}

func (s *Service) userWithHash(ctx context.Context, id int64) (*sb.User, string, error) {
	u, err := s.db.User(ctx, id)
	if err != nil {
		return nil, "", err
	}
	u2, hash, err := s.db.UserByEmail(ctx, u.Email)
	if err != nil {
		return nil, "", err
	}
	if u2.ID != id { // the e-mail changed between the two reads
		return nil, "", sb.Errorf(sb.ECONFLICT, "Your account changed meanwhile; try again.")
	}
	return u2, hash, nil
}
