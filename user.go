package switchboard

import (
	"net/mail"
	"strings"
	"time"
)

// Role is what a user may do in the organisation (U1).
type Role string

// Roles, from most to least powerful.
const (
	RoleOwner      Role = "owner"
	RoleAdmin      Role = "admin"
	RoleSupervisor Role = "supervisor"
	RoleAgent      Role = "agent"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleOwner, RoleAdmin, RoleSupervisor, RoleAgent:
		return true
	}
	return false
}

// rank orders roles; a higher rank includes the powers of the lower ones.
func (r Role) rank() int {
	switch r {
	case RoleOwner:
		return 4
	case RoleAdmin:
		return 3
	case RoleSupervisor:
		return 2
	case RoleAgent:
		return 1
	}
	return 0
}

// AtLeast reports whether r has at least the powers of other.
func (r Role) AtLeast(other Role) bool { return r.rank() >= other.rank() }

// DefaultChatLimit is the number of active chats an agent gets at most (R2).
const DefaultChatLimit = 3

// Presence is an agent's availability (P1).
type Presence string

// Presence values.
const (
	PresenceOnline  Presence = "online"
	PresenceAway    Presence = "away"
	PresenceOffline Presence = "offline"
)

// Valid reports whether p is a known presence.
func (p Presence) Valid() bool {
	return p == PresenceOnline || p == PresenceAway || p == PresenceOffline
}

// User is a person of the organisation: owner, admin, supervisor or agent.
type User struct {
	ID       int64  `json:"id"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     Role   `json:"role"`
	RoleName string `json:"role_name,omitempty"` // display name of an agent-level role, e.g. "account manager"
	// Operator is true for users who take chats, whatever their role (U1).
	Operator  bool `json:"operator"`
	ChatLimit int  `json:"chat_limit"`
	// ActiveChats is how many live chats the user holds now (maintained by the store).
	ActiveChats int       `json:"active_chats"`
	Presence    Presence  `json:"presence"`
	Disabled    bool      `json:"disabled"`
	InboxIDs    []int64   `json:"inbox_ids"`
	DeptIDs     []int64   `json:"department_ids"`
	CreatedAt   time.Time `json:"created_at"`
}

// NormalizeEmail lower-cases and trims an e-mail address.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidateEmail checks that s is a plain address.
func ValidateEmail(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return Errorf(EINVALID, "E-mail address %q is not valid.", s)
	}
	return nil
}

// Validate checks a user before it is stored.
func (u *User) Validate() error {
	u.Email = NormalizeEmail(u.Email)
	u.Name = strings.TrimSpace(u.Name)
	if err := ValidateEmail(u.Email); err != nil {
		return err
	}
	if u.Name == "" || len(u.Name) > 100 {
		return Errorf(EINVALID, "Name must be 1 to 100 characters.")
	}
	if !u.Role.Valid() {
		return Errorf(EINVALID, "Role %q is not one of owner, admin, supervisor, agent.", u.Role)
	}
	if u.ChatLimit < 0 || u.ChatLimit > 100 {
		return Errorf(EINVALID, "Chat limit must be between 0 and 100.")
	}
	if u.Presence == "" {
		u.Presence = PresenceOffline
	}
	if !u.Presence.Valid() {
		return Errorf(EINVALID, "Presence %q is not valid.", u.Presence)
	}
	return nil
}

// ValidatePassword enforces the minimum password rules.
func ValidatePassword(p string) error {
	if len(p) < 10 {
		return Errorf(EINVALID, "Password must be at least 10 characters.")
	}
	if len(p) > 200 {
		return Errorf(EINVALID, "Password must be at most 200 characters.")
	}
	return nil
}

// Session is a logged-in browser. The token itself is never stored, only its hash.
type Session struct {
	ID        int64     `json:"-"`
	UserID    int64     `json:"user_id"`
	TokenHash []byte    `json:"-"`
	CSRFToken string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	SeenAt    time.Time `json:"seen_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// APIToken is a bearer token for integrations, acting as its user.
type APIToken struct {
	ID        int64     `json:"id"`
	UserID    int64     `json:"user_id"`
	Name      string    `json:"name"`
	TokenHash []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}
