package switchboard

import "time"

// Routing event types (see docs/protocol.md).
const (
	// EventQueue tells a waiting customer (and the inbox's staff) where the
	// conversation stands in the queue; Data is a QueueStatus (R8).
	EventQueue = "queue"
	// EventTransfer tells the two agents of a transfer request what became of
	// it; Data is the Transfer (R4).
	EventTransfer = "transfer"
	// EventAgent tells staff that an agent's routing state changed (chat
	// limit); Data is {user_id, chat_limit}.
	EventAgent = "agent"
)

// OfferState is where an offer of a conversation to an agent stands (R3).
type OfferState string

// Offer states. Only pending offers hold capacity.
const (
	OfferPending   OfferState = "pending"
	OfferAccepted  OfferState = "accepted"
	OfferDeclined  OfferState = "declined"
	OfferExpired   OfferState = "expired"
	OfferWithdrawn OfferState = "withdrawn" // the chat ended or was taken, or the agent left
)

// Offer is a conversation offered to one agent, who accepts or declines it
// before ExpiresAt. A conversation has at most one pending offer.
type Offer struct {
	ID             int64      `json:"id"`
	ConversationID int64      `json:"conversation_id"`
	InboxID        int64      `json:"inbox_id"`
	UserID         int64      `json:"user_id"`
	State          OfferState `json:"state"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      time.Time  `json:"expires_at"`
	ResolvedAt     *time.Time `json:"resolved_at"`
}

// TransferState is where a transfer request between two agents stands (R4).
type TransferState string

// Transfer states.
const (
	TransferPending   TransferState = "pending"
	TransferAccepted  TransferState = "accepted"
	TransferRejected  TransferState = "rejected"
	TransferExpired   TransferState = "expired"
	TransferCancelled TransferState = "cancelled" // the chat ended or moved, or the receiver left
)

// Transfer is agent FromUserID asking agent ToUserID to take a chat over.
// While it is pending the chat is "transferring" and stays with the sender.
type Transfer struct {
	ID             int64         `json:"id"`
	ConversationID int64         `json:"conversation_id"`
	InboxID        int64         `json:"inbox_id"`
	FromUserID     int64         `json:"from_user_id"`
	ToUserID       int64         `json:"to_user_id"`
	Note           string        `json:"note"`
	State          TransferState `json:"state"`
	CreatedAt      time.Time     `json:"created_at"`
	ExpiresAt      time.Time     `json:"expires_at"`
	ResolvedAt     *time.Time    `json:"resolved_at"`
}

// QueueStatus is what a waiting customer is told (R8): their place in the
// inbox's queue (1 is next) and a rough expected wait.
type QueueStatus struct {
	ConversationID  int64 `json:"conversation_id"`
	Position        int   `json:"position"`
	ExpectedWaitSec int   `json:"expected_wait_sec"`
}

// Candidate is an agent who could take a chat now: online, with spare
// capacity (R6).
type Candidate struct {
	UserID    int64   `json:"user_id"`
	Name      string  `json:"name"`
	Load      int     `json:"load"` // active chats plus pending offers
	ChatLimit int     `json:"chat_limit"`
	DeptIDs   []int64 `json:"department_ids"`
}

// EffectiveChatLimit is how many chats (offers included) an agent may hold
// when they are given a chat of an inbox: their own limit (the default when
// unset), lowered by the inbox's limit when it has one. An inbox limit never
// raises an agent above their own (R2, U4).
func EffectiveChatLimit(agentLimit, inboxLimit int) int {
	if agentLimit <= 0 {
		agentLimit = DefaultChatLimit
	}
	if inboxLimit > 0 && inboxLimit < agentLimit {
		return inboxLimit
	}
	return agentLimit
}
