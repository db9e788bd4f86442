package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/routing"
	"github.com/switchboard/switchboard/store"
)

// NewInbox is what an admin gives to create an inbox.
type NewInbox struct {
	Name    string     `json:"name"`
	Channel sb.Channel `json:"channel"`
	// Settings that are left out take their defaults.
	Settings json.RawMessage `json:"settings"`
}

// InboxPatch changes an inbox; nil fields stay as they are. Settings are
// merged: the fields given replace the current ones, the others stay.
type InboxPatch struct {
	Name     *string         `json:"name"`
	Settings json.RawMessage `json:"settings"`
}

// InboxWithMembers is an inbox with the ids of its members.
type InboxWithMembers struct {
	sb.Inbox
	MemberIDs []int64 `json:"member_ids"`
}

// NewDepartment is what an admin gives to create a department.
type NewDepartment struct {
	Name      string  `json:"name"`
	MemberIDs []int64 `json:"member_ids"`
}

// DepartmentPatch changes a department; nil fields stay as they are.
type DepartmentPatch struct {
	Name      *string  `json:"name"`
	MemberIDs *[]int64 `json:"member_ids"`
}

var errAdminOnly = sb.Errorf(sb.EFORBIDDEN, "Only admins may do this.")

// Inboxes lists the inboxes p may see: all for admins, their own for others.
func (s *Service) Inboxes(ctx context.Context, p *sb.Principal) ([]*sb.Inbox, error) {
	if !p.IsStaff() {
		return nil, errStaffOnly
	}
	all, err := s.db.Inboxes(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(in *sb.Inbox) bool { return !p.CanSeeInbox(in.ID) }), nil
}

// Inbox returns an inbox p may see, with its members; others are not found.
func (s *Service) Inbox(ctx context.Context, p *sb.Principal, id int64) (*InboxWithMembers, error) {
	if !p.CanSeeInbox(id) {
		return nil, sb.NotFound("Inbox")
	}
	in, err := s.db.Inbox(ctx, id)
	if err != nil {
		return nil, err
	}
	members, err := s.db.InboxMembers(ctx, id)
	if err != nil {
		return nil, err
	}
	return &InboxWithMembers{Inbox: *in, MemberIDs: members}, nil
}

// CreateInbox adds an inbox (admins).
func (s *Service) CreateInbox(ctx context.Context, p *sb.Principal, n NewInbox) (*sb.Inbox, error) {
	if !p.IsAdmin() {
		return nil, errAdminOnly
	}
	in := &sb.Inbox{Name: n.Name, Channel: n.Channel, Settings: sb.DefaultInboxSettings()}
	if err := mergeSettings(&in.Settings, n.Settings); err != nil {
		return nil, err
	}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.CreateInbox(in) }); err != nil {
		return nil, err
	}
	return in, nil
}

// UpdateInbox changes an inbox's name and settings (admins). Members who
// are not admins get forbidden; others do not learn that the inbox exists.
func (s *Service) UpdateInbox(ctx context.Context, p *sb.Principal, id int64, patch InboxPatch) (*sb.Inbox, error) {
	if !p.CanSeeInbox(id) {
		return nil, sb.NotFound("Inbox")
	}
	if !p.IsAdmin() {
		return nil, errAdminOnly
	}
	var in *sb.Inbox
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		if in, err = tx.Inbox(id); err != nil {
			return err
		}
		if patch.Name != nil {
			in.Name = *patch.Name
		}
		if err := mergeSettings(&in.Settings, patch.Settings); err != nil {
			return err
		}
		return tx.UpdateInbox(in)
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}

// mergeSettings decodes the given settings over the current ones, strictly:
// unknown fields and wrong types are invalid.
func mergeSettings(dst *sb.InboxSettings, raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return sb.Errorf(sb.EINVALID, "Setting %q has the wrong type.", typeErr.Field)
		}
		return sb.Errorf(sb.EINVALID, "Settings are not valid: %s.", settingsProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return sb.Errorf(sb.EINVALID, "Settings must be one JSON object.")
	}
	return nil
}

func settingsProblem(err error) string {
	const unknown = "json: unknown field "
	if msg := err.Error(); len(msg) > len(unknown) && msg[:len(unknown)] == unknown {
		return "unknown field " + msg[len(unknown):]
	}
	return "not a JSON object"
}

// AddInboxMember makes a user a member of an inbox (admins); idempotent.
func (s *Service) AddInboxMember(ctx context.Context, p *sb.Principal, inboxID, userID int64) error {
	return s.changeMembership(ctx, p, inboxID, userID, true)
}

// RemoveInboxMember removes a user from an inbox (admins). What routing
// offered them there is withdrawn at once, and their chats and tickets there
// go back to the queue and the supervisors (routing.LeaveInbox).
func (s *Service) RemoveInboxMember(ctx context.Context, p *sb.Principal, inboxID, userID int64) error {
	return s.changeMembership(ctx, p, inboxID, userID, false)
}

func (s *Service) changeMembership(ctx context.Context, p *sb.Principal, inboxID, userID int64, add bool) error {
	if !p.CanSeeInbox(inboxID) {
		return sb.NotFound("Inbox")
	}
	if !p.IsAdmin() {
		return errAdminOnly
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.Inbox(inboxID); err != nil {
			return err
		}
		u, err := tx.User(userID)
		if err != nil {
			return err
		}
		if add {
			return tx.AddInboxMember(inboxID, userID)
		}
		// Routing withdraws at once what waits on the user in the inbox, and
		// takes back what they can no longer see (admins see every inbox).
		if err := routing.LeaveInbox(tx, userID, inboxID, u.Role.AtLeast(sb.RoleAdmin), &p.UserID); err != nil {
			return err
		}
		return tx.RemoveInboxMember(inboxID, userID)
	})
	if err != nil {
		return err
	}
	s.userChanged(userID)
	return nil
}

// Departments lists the departments, for any staff member.
func (s *Service) Departments(ctx context.Context, p *sb.Principal) ([]*sb.Department, error) {
	if !p.IsStaff() {
		return nil, errStaffOnly
	}
	return s.db.Departments(ctx)
}

// Department returns one department, for any staff member.
func (s *Service) Department(ctx context.Context, p *sb.Principal, id int64) (*sb.Department, error) {
	if !p.IsStaff() {
		return nil, errStaffOnly
	}
	return s.db.Department(ctx, id)
}

// CreateDepartment adds a department (admins).
func (s *Service) CreateDepartment(ctx context.Context, p *sb.Principal, n NewDepartment) (*sb.Department, error) {
	if !p.IsAdmin() {
		return nil, errAdminOnly
	}
	d := &sb.Department{Name: n.Name, MemberIDs: n.MemberIDs}
	if err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.CreateDepartment(d) }); err != nil {
		return nil, err
	}
	return d, nil
}

// UpdateDepartment renames a department or replaces its members (admins).
func (s *Service) UpdateDepartment(ctx context.Context, p *sb.Principal, id int64, patch DepartmentPatch) (*sb.Department, error) {
	if !p.IsAdmin() {
		return nil, errAdminOnly
	}
	// Read, patch and write in one transaction, the row locked: two admins
	// changing different fields at once both keep their change.
	var d *sb.Department
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		if d, err = tx.Department(id); err != nil {
			return err
		}
		if patch.Name != nil {
			d.Name = *patch.Name
		}
		if patch.MemberIDs != nil {
			d.MemberIDs = *patch.MemberIDs
		}
		if err := tx.UpdateDepartment(d); err != nil {
			return err
		}
		d, err = tx.Department(id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// DeleteDepartment removes a department (admins); its conversations keep no department.
func (s *Service) DeleteDepartment(ctx context.Context, p *sb.Principal, id int64) error {
	if !p.IsAdmin() {
		return errAdminOnly
	}
	return s.db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteDepartment(id) })
}
