package switchboard

import "slices"

// Principal is who is calling: a staff user (by session or API token) or a
// widget visitor. Every authorisation decision of REST and WebSocket is made
// by its methods, here and nowhere else.
type Principal struct {
	UserID   int64
	Name     string
	Role     Role
	Operator bool
	InboxIDs []int64 // the inboxes the user is a member of

	VisitorID int64
	ContactID int64
}

// IsStaff reports whether p is a user of the organisation.
func (p *Principal) IsStaff() bool { return p != nil && p.UserID != 0 }

// IsVisitor reports whether p is a widget visitor.
func (p *Principal) IsVisitor() bool { return p != nil && p.VisitorID != 0 }

// IsAdmin reports whether p is an owner or admin.
func (p *Principal) IsAdmin() bool { return p.IsStaff() && p.Role.AtLeast(RoleAdmin) }

// IsSupervisor reports whether p may supervise (watch, comment, assign).
func (p *Principal) IsSupervisor() bool { return p.IsStaff() && p.Role.AtLeast(RoleSupervisor) }

// CanSeeInbox reports whether p may see the conversations of an inbox (U2).
func (p *Principal) CanSeeInbox(inboxID int64) bool {
	if !p.IsStaff() {
		return false
	}
	return p.IsAdmin() || slices.Contains(p.InboxIDs, inboxID)
}

// CanSeeConversation reports whether p may read a conversation.
func (p *Principal) CanSeeConversation(c *Conversation) bool {
	if p.IsVisitor() {
		return c.ContactID == p.ContactID && c.Channel == ChannelWidget
	}
	return p.CanSeeInbox(c.InboxID)
}

// CanSeeThread reports whether p may read a thread of a conversation it can see.
func (p *Principal) CanSeeThread(t Thread) bool {
	return t == ThreadPublic || p.IsStaff()
}

// CanWriteCustomer decides whether p may post to the customer in c: the
// visitor who owns it, or the operator it is assigned to. Supervisors watch
// but do not write to the customer (S1) unless the chat is theirs. A ticket
// is an ended chat that goes on in writing: its assignee replies, and the
// customer may write to it, open or closed (routing reopens a closed one) —
// unless staff made it from another chat (C11, ParentID): that ticket is the
// team's follow-up, which the customer reads but does not write to.
func (p *Principal) CanWriteCustomer(c *Conversation) error {
	if !p.CanSeeConversation(c) {
		return NotFound("Conversation")
	}
	customerTicket := c.Ticket != TicketNone && c.ParentID == nil
	ticketWriter := c.Ticket == TicketAssigned && p.IsStaff() || customerTicket && p.IsVisitor()
	if !c.Status.Live() && !ticketWriter {
		return Errorf(ECONFLICT, "The conversation has ended.")
	}
	if p.IsVisitor() {
		return nil
	}
	if c.AssigneeID != nil && *c.AssigneeID == p.UserID {
		return nil
	}
	return Errorf(EFORBIDDEN, "Only the assigned agent can write to the customer.")
}

// CanWriteInternal decides whether p may post in the internal thread (C9) or
// the comments (S2) of c.
func (p *Principal) CanWriteInternal(c *Conversation, t Thread) error {
	if !p.IsStaff() || !p.CanSeeInbox(c.InboxID) {
		return NotFound("Conversation")
	}
	if t == ThreadComment && !p.IsSupervisor() {
		return Errorf(EFORBIDDEN, "Only supervisors comment on chats.")
	}
	if t == ThreadInternal && !c.Status.Live() {
		return Errorf(ECONFLICT, "The internal discussion is read-only after the chat ended.")
	}
	return nil
}

// CanSeeEvent decides whether a realtime event reaches p.
func (p *Principal) CanSeeEvent(e *Event) bool {
	switch e.Audience {
	case AudienceConversation:
		if p.IsVisitor() {
			return p.ContactID != 0 && e.ContactID == p.ContactID
		}
		return p.CanSeeInbox(e.InboxID)
	case AudienceStaff:
		return p.CanSeeInbox(e.InboxID)
	case AudienceUser:
		return p.IsStaff() && e.UserID == p.UserID
	case AudienceOrg:
		return p.IsStaff()
	}
	return false
}

// EventFilter returns the events p may see (CanSeeEvent) as an event log
// query: a principal that may see nothing gets a filter that matches nothing.
func (p *Principal) EventFilter() EventFilter {
	switch {
	case p.IsVisitor():
		return EventFilter{ContactID: p.ContactID} // 0 matches nothing
	case p.IsStaff():
		return EventFilter{AllInboxes: p.IsAdmin(), InboxIDs: p.InboxIDs, UserID: p.UserID}
	}
	return EventFilter{}
}

// CanManageUsers reports whether p may create users and change roles; only
// owners create owners and admins.
func (p *Principal) CanManageUsers(target Role) error {
	if !p.IsAdmin() {
		return Errorf(EFORBIDDEN, "Only admins manage users.")
	}
	if target.AtLeast(RoleAdmin) && p.Role != RoleOwner {
		return Errorf(EFORBIDDEN, "Only the owner grants the %s role.", target)
	}
	return nil
}
