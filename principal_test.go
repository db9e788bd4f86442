package switchboard

import "testing"

// A customer writes to their own ticket, open or closed, but not to a ticket
// staff made from their chat (C11); its assignee writes to either.
func TestCanWriteCustomerTickets(t *testing.T) {
	parent := int64(7)
	agent := int64(3)
	visitor := &Principal{VisitorID: 1, ContactID: 5}
	assignee := &Principal{UserID: agent, Role: RoleAgent, InboxIDs: []int64{1}}
	ticket := func(status TicketStatus, parentID *int64) *Conversation {
		return &Conversation{InboxID: 1, ContactID: 5, Channel: ChannelWidget, Status: StatusEnded,
			Ticket: status, ParentID: parentID, AssigneeID: &agent}
	}
	for _, tc := range []struct {
		name string
		p    *Principal
		c    *Conversation
		want string
	}{
		{"visitor, own open ticket", visitor, ticket(TicketUnassigned, nil), ""},
		{"visitor, own closed ticket", visitor, ticket(TicketClosed, nil), ""},
		{"visitor, linked ticket", visitor, ticket(TicketAssigned, &parent), ECONFLICT},
		{"visitor, ended chat", visitor, ticket(TicketNone, nil), ECONFLICT},
		{"assignee, linked ticket", assignee, ticket(TicketAssigned, &parent), ""},
		{"assignee, own ticket", assignee, ticket(TicketAssigned, nil), ""},
	} {
		err := tc.p.CanWriteCustomer(tc.c)
		if (tc.want == "" && err != nil) || (tc.want != "" && ErrorCode(err) != tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
