package client

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	sb "github.com/switchboard/switchboard"
)

// The staff API. Every method needs an API token (WithToken, SetToken) or a Login.

// Me returns the signed-in user.
func (c *Client) Me(ctx context.Context) (*sb.User, error) {
	var out struct {
		User *sb.User `json:"user"`
	}
	_, err := c.Do(ctx, "GET", "/api/v1/me", nil, &out)
	return out.User, err
}

// SetPresence sets the caller's presence.
func (c *Client) SetPresence(ctx context.Context, p sb.Presence) (*sb.User, error) {
	var u sb.User
	_, err := c.Do(ctx, "PUT", "/api/v1/me/presence", map[string]sb.Presence{"presence": p}, &u)
	return &u, err
}

// ChangePassword changes the caller's password; every session ends.
func (c *Client) ChangePassword(ctx context.Context, current, next string) error {
	_, err := c.Do(ctx, "PUT", "/api/v1/me/password", map[string]string{"current_password": current, "new_password": next}, nil)
	return err
}

// CreateToken issues an API token for the caller; the raw token is returned once.
func (c *Client) CreateToken(ctx context.Context, name string) (string, *sb.APIToken, error) {
	var out struct {
		Token    string       `json:"token"`
		APIToken *sb.APIToken `json:"api_token"`
	}
	_, err := c.Do(ctx, "POST", "/api/v1/tokens", map[string]string{"name": name}, &out)
	return out.Token, out.APIToken, err
}

// DeleteToken revokes one of the caller's API tokens.
func (c *Client) DeleteToken(ctx context.Context, id int64) error {
	_, err := c.Do(ctx, "DELETE", fmt.Sprintf("/api/v1/tokens/%d", id), nil, nil)
	return err
}

// NewUser is the body of CreateUser.
type NewUser struct {
	Email         string  `json:"email"`
	Name          string  `json:"name"`
	Role          sb.Role `json:"role"`
	RoleName      string  `json:"role_name,omitempty"`
	Operator      bool    `json:"operator"`
	ChatLimit     *int    `json:"chat_limit,omitempty"`
	Password      string  `json:"password"`
	InboxIDs      []int64 `json:"inbox_ids,omitempty"`
	DepartmentIDs []int64 `json:"department_ids,omitempty"`
}

// Users lists the organisation's users.
func (c *Client) Users(ctx context.Context) ([]*sb.User, error) {
	var out List[*sb.User]
	_, err := c.Do(ctx, "GET", "/api/v1/users", nil, &out)
	return out.Items, err
}

// CreateUser adds a user (admins).
func (c *Client) CreateUser(ctx context.Context, u NewUser) (*sb.User, error) {
	var out sb.User
	_, err := c.Do(ctx, "POST", "/api/v1/users", u, &out)
	return &out, err
}

// UpdateUser changes a user (admins); patch holds only the fields to change,
// e.g. map[string]any{"role": "supervisor"}.
func (c *Client) UpdateUser(ctx context.Context, id int64, patch map[string]any) (*sb.User, error) {
	var out sb.User
	_, err := c.Do(ctx, "PATCH", fmt.Sprintf("/api/v1/users/%d", id), patch, &out)
	return &out, err
}

// Inboxes lists the inboxes the caller may see.
func (c *Client) Inboxes(ctx context.Context) ([]*sb.Inbox, error) {
	var out List[*sb.Inbox]
	_, err := c.Do(ctx, "GET", "/api/v1/inboxes", nil, &out)
	return out.Items, err
}

// CreateInbox adds an inbox (admins); settings may be nil for the defaults.
func (c *Client) CreateInbox(ctx context.Context, name string, channel sb.Channel, settings map[string]any) (*sb.Inbox, error) {
	body := map[string]any{"name": name, "channel": channel}
	if settings != nil {
		body["settings"] = settings
	}
	var out sb.Inbox
	_, err := c.Do(ctx, "POST", "/api/v1/inboxes", body, &out)
	return &out, err
}

// AddInboxMember makes a user a member of an inbox (admins).
func (c *Client) AddInboxMember(ctx context.Context, inboxID, userID int64) error {
	_, err := c.Do(ctx, "PUT", fmt.Sprintf("/api/v1/inboxes/%d/members/%d", inboxID, userID), nil, nil)
	return err
}

// ListOptions filter the conversation list; zero values do not filter.
type ListOptions struct {
	Status     []sb.Status
	InboxID    int64
	AssigneeID int64
	Mine       bool
	Unassigned bool
	Ticket     string // "none", "unassigned", "assigned" or "closed"
	Before     int64  // the cursor of the previous page's NextBefore
	Limit      int
}

// ConversationPage is one page of the conversation list.
type ConversationPage struct {
	Items      []*sb.Conversation `json:"items"`
	NextBefore int64              `json:"next_before"`
}

// Conversations lists the conversations the caller may see, newest first.
func (c *Client) Conversations(ctx context.Context, o ListOptions) (*ConversationPage, error) {
	q := url.Values{}
	if len(o.Status) > 0 {
		s := make([]string, len(o.Status))
		for i, st := range o.Status {
			s[i] = string(st)
		}
		q.Set("status", strings.Join(s, ","))
	}
	setID := func(k string, v int64) {
		if v > 0 {
			q.Set(k, strconv.FormatInt(v, 10))
		}
	}
	setID("inbox_id", o.InboxID)
	setID("assignee_id", o.AssigneeID)
	setID("before", o.Before)
	setID("limit", int64(o.Limit))
	if o.Mine {
		q.Set("mine", "true")
	}
	if o.Unassigned {
		q.Set("unassigned", "true")
	}
	if o.Ticket != "" {
		q.Set("ticket", o.Ticket)
	}
	path := "/api/v1/conversations"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out ConversationPage
	_, err := c.Do(ctx, "GET", path, nil, &out)
	return &out, err
}

// Conversation returns one conversation.
func (c *Client) Conversation(ctx context.Context, id int64) (*sb.Conversation, error) {
	var out sb.Conversation
	_, err := c.Do(ctx, "GET", fmt.Sprintf("/api/v1/conversations/%d", id), nil, &out)
	return &out, err
}

// Messages returns up to limit messages of a thread with seq > after (limit 0: the server's default).
func (c *Client) Messages(ctx context.Context, convID int64, thread sb.Thread, after int64, limit int) ([]*sb.Message, error) {
	return c.messages(ctx, fmt.Sprintf("/api/v1/conversations/%d/messages", convID), thread, after, limit)
}

func (c *Client) messages(ctx context.Context, path string, thread sb.Thread, after int64, limit int) ([]*sb.Message, error) {
	q := url.Values{}
	if thread != "" {
		q.Set("thread", string(thread))
	}
	q.Set("after", strconv.FormatInt(after, 10))
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out List[*sb.Message]
	_, err := c.Do(ctx, "GET", path+"?"+q.Encode(), nil, &out)
	return out.Items, err
}

// SendMessage posts a message to a thread; created is false when clientID
// was used before and the original message is returned.
func (c *Client) SendMessage(ctx context.Context, convID int64, thread sb.Thread, body, clientID string) (*sb.Message, bool, error) {
	var out sb.Message
	status, err := c.Do(ctx, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", convID),
		map[string]string{"thread": string(thread), "body": body, "client_id": clientID}, &out)
	return &out, status == 201, err
}

// Take takes an unassigned chat.
func (c *Client) Take(ctx context.Context, convID int64) (*sb.Conversation, error) {
	return c.conversationAction(ctx, fmt.Sprintf("/api/v1/conversations/%d/take", convID))
}

// End ends a chat.
func (c *Client) End(ctx context.Context, convID int64) (*sb.Conversation, error) {
	return c.conversationAction(ctx, fmt.Sprintf("/api/v1/conversations/%d/end", convID))
}

func (c *Client) conversationAction(ctx context.Context, path string) (*sb.Conversation, error) {
	var out sb.Conversation
	_, err := c.Do(ctx, "POST", path, nil, &out)
	return &out, err
}

// History returns a conversation's recorded state changes.
func (c *Client) History(ctx context.Context, convID int64) ([]sb.HistoryEntry, error) {
	var out List[sb.HistoryEntry]
	_, err := c.Do(ctx, "GET", fmt.Sprintf("/api/v1/conversations/%d/history", convID), nil, &out)
	return out.Items, err
}

// AddNote saves a note for the team on a conversation.
func (c *Client) AddNote(ctx context.Context, convID int64, body string) (*sb.Note, error) {
	var out sb.Note
	_, err := c.Do(ctx, "POST", fmt.Sprintf("/api/v1/conversations/%d/notes", convID), map[string]string{"body": body}, &out)
	return &out, err
}

// Upload sends a file to a conversation's public thread.
func (c *Client) Upload(ctx context.Context, convID int64, file io.Reader, fileName, clientID string) (*Upload, error) {
	var out Upload
	err := c.upload(ctx, fmt.Sprintf("/api/v1/conversations/%d/attachments", convID), file, fileName, clientID, &out)
	return &out, err
}

// Download writes an attachment's content to w.
func (c *Client) Download(ctx context.Context, id int64, w io.Writer) error {
	_, err := c.DoRaw(ctx, "GET", fmt.Sprintf("/api/v1/attachments/%d", id), "", nil, w)
	return err
}
