package switchboard

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Sender is who wrote a message.
type Sender string

// Senders.
const (
	SenderCustomer Sender = "customer"
	SenderAgent    Sender = "agent"
	SenderBot      Sender = "bot"
	SenderSystem   Sender = "system"
)

// Thread separates what the customer sees from what only the team sees.
type Thread string

// Threads of a conversation.
const (
	ThreadPublic   Thread = "public"   // the conversation with the customer
	ThreadInternal Thread = "internal" // the agents' internal discussion (C9)
	ThreadComment  Thread = "comment"  // supervisor comments (S2)
)

// Valid reports whether t is a known thread.
func (t Thread) Valid() bool { return t == ThreadPublic || t == ThreadInternal || t == ThreadComment }

// MaxMessageLen is the longest message body accepted, in bytes.
const MaxMessageLen = 10000

// Message is one message of a conversation, in one of its threads. Seq is
// dense per conversation and thread, assigned in the insert transaction.
type Message struct {
	ID             int64  `json:"id"`
	ConversationID int64  `json:"conversation_id"`
	Thread         Thread `json:"thread"`
	Seq            int64  `json:"seq"`
	Sender         Sender `json:"sender"`
	AuthorID       *int64 `json:"author_id"` // the user, for agent messages, notes and comments
	AuthorName     string `json:"author_name"`
	Body           string `json:"body"`
	ClientID       string `json:"client_id,omitempty"`
	AttachmentID   *int64 `json:"attachment_id"`
	// Attachment describes the file of an attachment message.
	Attachment *Attachment `json:"attachment,omitempty"`
	Mentions   []int64     `json:"mentions,omitempty"`
	CreatedAt  time.Time   `json:"created_at"`
}

// ValidateBody checks a message body.
func ValidateBody(body string, allowEmpty bool) error {
	if !utf8.ValidString(body) {
		return Errorf(EINVALID, "Message is not valid UTF-8.")
	}
	if len(body) > MaxMessageLen {
		return Errorf(EINVALID, "Message is longer than %d bytes.", MaxMessageLen)
	}
	if !allowEmpty && strings.TrimSpace(body) == "" {
		return Errorf(EINVALID, "Message is empty.")
	}
	return nil
}

// ValidateClientID checks a client-chosen idempotency id.
func ValidateClientID(id string) error {
	if len(id) > 64 {
		return Errorf(EINVALID, "client_id must be at most 64 characters.")
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' || r == ':') {
			return Errorf(EINVALID, "client_id may hold only letters, digits and - _ . :")
		}
	}
	return nil
}

// Note is a note for the team on a conversation (C8).
type Note struct {
	ID             int64     `json:"id"`
	ConversationID int64     `json:"conversation_id"`
	AuthorID       int64     `json:"author_id"`
	Body           string    `json:"body"`
	CreatedAt      time.Time `json:"created_at"`
}

// Category classifies conversations (C8).
type Category struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// Attachment is a file uploaded to a conversation (C4).
type Attachment struct {
	ID             int64     `json:"id"`
	ConversationID int64     `json:"conversation_id"`
	FileName       string    `json:"file_name"`
	ContentType    string    `json:"content_type"`
	Size           int64     `json:"size"`
	StorageKey     string    `json:"-"`
	UploadedBy     Sender    `json:"uploaded_by"`
	CreatedAt      time.Time `json:"created_at"`
}

// CannedResponse is a prepared reply, organisation-wide (OwnerID nil) or personal (C5).
type CannedResponse struct {
	ID        int64     `json:"id"`
	OwnerID   *int64    `json:"owner_id"`
	Shortcut  string    `json:"shortcut"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks a canned response.
func (c *CannedResponse) Validate() error {
	c.Shortcut = strings.TrimPrefix(strings.TrimSpace(c.Shortcut), "/")
	if c.Shortcut == "" || len(c.Shortcut) > 32 {
		return Errorf(EINVALID, "Shortcut must be 1 to 32 characters.")
	}
	for _, r := range c.Shortcut {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return Errorf(EINVALID, "Shortcut may hold only lower-case letters, digits, - and _.")
		}
	}
	c.Title = strings.TrimSpace(c.Title)
	if len(c.Title) > 100 {
		return Errorf(EINVALID, "Title must be at most 100 characters.")
	}
	return ValidateBody(c.Body, false)
}
