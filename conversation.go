package switchboard

import (
	"encoding/json"
	"time"
)

// Status is where a conversation stands in its life.
type Status string

// Conversation statuses: bot → waiting → assigning → assigned → transferring → ended / failed.
const (
	StatusBot          Status = "bot"
	StatusWaiting      Status = "waiting"
	StatusAssigning    Status = "assigning"
	StatusAssigned     Status = "assigned"
	StatusTransferring Status = "transferring"
	StatusEnded        Status = "ended"
	StatusFailed       Status = "failed"
)

// Live reports whether a conversation in status s is still going on.
func (s Status) Live() bool { return s != StatusEnded && s != StatusFailed && s != "" }

// transitions lists, for each status, the statuses it may move to.
var transitions = map[Status][]Status{
	StatusBot:          {StatusWaiting, StatusAssigning, StatusAssigned, StatusEnded, StatusFailed},
	StatusWaiting:      {StatusAssigning, StatusAssigned, StatusBot, StatusEnded, StatusFailed},
	StatusAssigning:    {StatusAssigned, StatusWaiting, StatusBot, StatusEnded, StatusFailed},
	StatusAssigned:     {StatusTransferring, StatusAssigned, StatusWaiting, StatusBot, StatusEnded, StatusFailed},
	StatusTransferring: {StatusAssigned, StatusEnded, StatusFailed},
	StatusEnded:        {StatusWaiting, StatusAssigned}, // a ticket reopened, or a template answered (N3)
	StatusFailed:       {},
}

// CanMove reports whether a conversation may go from status s to next.
func (s Status) CanMove(next Status) bool {
	for _, t := range transitions[s] {
		if t == next {
			return true
		}
	}
	return false
}

// TicketStatus is the state of a conversation that became a ticket (R7, S3).
type TicketStatus string

// Ticket statuses; "" means the conversation is not a ticket.
const (
	TicketNone       TicketStatus = ""
	TicketUnassigned TicketStatus = "unassigned"
	TicketAssigned   TicketStatus = "assigned"
	TicketClosed     TicketStatus = "closed"
)

// Conversation is one chat of a contact in an inbox.
type Conversation struct {
	ID           int64        `json:"id"`
	InboxID      int64        `json:"inbox_id"`
	ContactID    int64        `json:"contact_id"`
	Channel      Channel      `json:"channel"`
	Status       Status       `json:"status"`
	AssigneeID   *int64       `json:"assignee_id"`
	DepartmentID *int64       `json:"department_id"`
	CategoryID   *int64       `json:"category_id"`
	Ticket       TicketStatus `json:"ticket_status"`
	Subject      string       `json:"subject"`
	LastSeq      int64        `json:"last_seq"`
	LastPreview  string       `json:"last_preview"`
	LastActivity time.Time    `json:"last_activity_at"`
	CreatedAt    time.Time    `json:"created_at"`
	EndedAt      *time.Time   `json:"ended_at"`
	EndedBy      string       `json:"ended_by,omitempty"` // "customer", "agent", "system"
	// ParentID links a ticket created from a conversation (C11).
	ParentID *int64 `json:"parent_id"`
}

// HistoryEntry is one entry of the append-only record of a conversation's
// state changes: what journeys and timelines (H2) are built from.
type HistoryEntry struct {
	ID             int64           `json:"id"`
	ConversationID int64           `json:"conversation_id"`
	Kind           string          `json:"kind"` // e.g. "created", "status", "assigned", "offer", "transfer", "ended"
	ActorID        *int64          `json:"actor_id"`
	FromStatus     Status          `json:"from_status,omitempty"`
	ToStatus       Status          `json:"to_status,omitempty"`
	Data           json.RawMessage `json:"data,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
}
