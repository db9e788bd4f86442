package switchboard

import (
	"context"
	"encoding/json"
	"time"
)

// Audience says who may receive an event. The realtime path checks it for
// every event and every connection, with the same rules as REST (Principal).
type Audience string

// Audiences.
const (
	// AudienceConversation: staff who can see the inbox, and the visitor who owns the conversation's contact.
	AudienceConversation Audience = "conversation"
	// AudienceStaff: staff who can see the inbox (internal thread, comments, routing steps).
	AudienceStaff Audience = "staff"
	// AudienceUser: one user only (notifications, offers addressed to them).
	AudienceUser Audience = "user"
	// AudienceOrg: every staff member (presence).
	AudienceOrg Audience = "org"
)

// Event types sent to realtime clients.
const (
	EventMessage      = "message"      // a message was stored; Data is the Message
	EventConversation = "conversation" // a conversation changed; Data is the Conversation
	EventPresence     = "presence"     // an agent's presence changed; Data is {user_id, presence}
	EventNotification = "notification" // something for one user; Data is a Notification
	EventTyping       = "typing"       // ephemeral: someone is typing; Data is {conversation_id, sender, name}
	EventHistory      = "history"      // a history entry was recorded; Data is the HistoryEntry
	EventOffer        = "offer"        // routing: an offer to one agent
	EventNote         = "note"         // a team note was saved (C8); Data is the Note
)

// Event is something that happened, as realtime clients see it. Every
// committed event has a position (Pos) in one stream, assigned in commit
// order; a client that reconnects names the last position it saw and gets
// exactly what it missed. Ephemeral events (typing) have Pos 0 and are never
// replayed.
type Event struct {
	Pos            int64           `json:"pos"`
	Type           string          `json:"event"`
	Audience       Audience        `json:"-"`
	InboxID        int64           `json:"inbox_id,omitempty"`
	ConversationID int64           `json:"conversation_id,omitempty"`
	ContactID      int64           `json:"-"`
	UserID         int64           `json:"user_id,omitempty"` // for AudienceUser: the recipient
	Data           json.RawMessage `json:"data"`
	CreatedAt      time.Time       `json:"created_at"`
}

// NewEvent builds an event with data marshalled to JSON.
func NewEvent(typ string, aud Audience, data any) Event {
	b, err := json.Marshal(data)
	if err != nil {
		// Only domain types are passed here; failing to marshal one is a programming error.
		panic("switchboard: marshal event data: " + err.Error())
	}
	return Event{Type: typ, Audience: aud, Data: b}
}

// Notification is a message for one user: a mention, a transfer request, an outcome.
type Notification struct {
	Kind           string `json:"kind"` // "mention", "transfer", "transfer_result", "new_chat", ...
	ConversationID int64  `json:"conversation_id,omitempty"`
	Text           string `json:"text"`
	FromUserID     int64  `json:"from_user_id,omitempty"`
}

// EventLog reads committed events in position order; the realtime hub uses it
// to resume clients and to fill gaps. Its contract: positions are assigned and
// committed in position order (the writer holds a lock from taking a number
// until its commit), so once a position is visible every lower one is final —
// present, or a permanent gap. EventBounds keeps reporting the highest
// position ever assigned even when retention has emptied the log.
type EventLog interface {
	// EventsAfter returns up to limit events with Pos > after, in order.
	EventsAfter(ctx context.Context, after int64, limit int) ([]Event, error)
	// EventBounds returns the oldest retained and the newest position (0, 0 when empty).
	EventBounds(ctx context.Context) (oldest, newest int64, err error)
}

// FilteredEventLog is an EventLog that can narrow a read to the events one
// principal may see, so that resuming a client costs what it missed rather
// than what everyone did.
type FilteredEventLog interface {
	EventLog
	// EventsFor returns up to limit events with Pos > after that f lets
	// through, in order. It may return events f does not let through (the
	// caller checks each with CanSeeEvent), never fewer than f lets through.
	EventsFor(ctx context.Context, after int64, limit int, f EventFilter) ([]Event, error)
}

// EventFilter is CanSeeEvent in a form an event log can query with
// (Principal.EventFilter).
type EventFilter struct {
	// ContactID, for a visitor: the conversation events of its contact only.
	ContactID int64
	// AllInboxes, for admins: the conversation and staff events of every inbox.
	AllInboxes bool
	// InboxIDs, for other staff: the conversation and staff events of these inboxes.
	InboxIDs []int64
	// UserID, for staff: the events addressed to this user, and every org event.
	UserID int64
}
