package client

import (
	"context"
	"fmt"
	"io"

	sb "github.com/switchboard/switchboard"
)

// PublicInbox is what the widget may know of an inbox before a visitor exists.
type PublicInbox struct {
	ID                int64  `json:"id"`
	Name              string `json:"name"`
	Greeting          string `json:"greeting"`
	Open              bool   `json:"open"`
	OutOfHoursMessage string `json:"out_of_hours_message"`
}

// The widget's visitor API. CreateVisitor sets the client's token; the other
// methods need a visitor token.

// WidgetInbox returns the public face of a widget inbox.
func (c *Client) WidgetInbox(ctx context.Context, inboxID int64) (*PublicInbox, error) {
	var out PublicInbox
	_, err := c.Do(ctx, "GET", fmt.Sprintf("/api/v1/widget/inboxes/%d", inboxID), nil, &out)
	return &out, err
}

// CreateVisitor starts a widget visitor for an inbox and makes the client
// act as it (SetToken).
func (c *Client) CreateVisitor(ctx context.Context, inboxID int64) (string, *sb.Visitor, error) {
	var out struct {
		Token   string      `json:"token"`
		Visitor *sb.Visitor `json:"visitor"`
	}
	if _, err := c.Do(ctx, "POST", "/api/v1/widget/visitors", map[string]int64{"inbox_id": inboxID}, &out); err != nil {
		return "", nil, err
	}
	c.SetToken(out.Token)
	return out.Token, out.Visitor, nil
}

// UpdateVisitor sets the visitor's own name and e-mail.
func (c *Client) UpdateVisitor(ctx context.Context, name, email string) (*sb.Contact, error) {
	var out sb.Contact
	_, err := c.Do(ctx, "PATCH", "/api/v1/widget/me", map[string]string{"name": name, "email": email}, &out)
	return &out, err
}

// StartConversation opens the visitor's conversation in an inbox (or
// returns the live one, created == false), with an optional first message.
func (c *Client) StartConversation(ctx context.Context, inboxID int64, body, clientID string) (*sb.Conversation, *sb.Message, bool, error) {
	var out struct {
		Conversation *sb.Conversation `json:"conversation"`
		Message      *sb.Message      `json:"message"`
	}
	status, err := c.Do(ctx, "POST", "/api/v1/widget/conversations",
		map[string]any{"inbox_id": inboxID, "body": body, "client_id": clientID}, &out)
	return out.Conversation, out.Message, status == 201, err
}

// VisitorConversations lists the visitor's conversations, newest first.
func (c *Client) VisitorConversations(ctx context.Context) ([]*sb.Conversation, error) {
	var out List[*sb.Conversation]
	_, err := c.Do(ctx, "GET", "/api/v1/widget/conversations", nil, &out)
	return out.Items, err
}

// VisitorMessages returns the visitor's messages of a conversation with seq > after.
func (c *Client) VisitorMessages(ctx context.Context, convID int64, after int64, limit int) ([]*sb.Message, error) {
	return c.messages(ctx, fmt.Sprintf("/api/v1/widget/conversations/%d/messages", convID), "", after, limit)
}

// VisitorSend posts the visitor's message; created is false for a repeated clientID.
func (c *Client) VisitorSend(ctx context.Context, convID int64, body, clientID string) (*sb.Message, bool, error) {
	var out sb.Message
	status, err := c.Do(ctx, "POST", fmt.Sprintf("/api/v1/widget/conversations/%d/messages", convID),
		map[string]string{"body": body, "client_id": clientID}, &out)
	return &out, status == 201, err
}

// VisitorUpload sends the visitor's file.
func (c *Client) VisitorUpload(ctx context.Context, convID int64, file io.Reader, fileName, clientID string) (*Upload, error) {
	var out Upload
	err := c.upload(ctx, fmt.Sprintf("/api/v1/widget/conversations/%d/attachments", convID), file, fileName, clientID, &out)
	return &out, err
}

// VisitorDownload writes an attachment of the visitor's conversation to w.
func (c *Client) VisitorDownload(ctx context.Context, id int64, w io.Writer) error {
	_, err := c.DoRaw(ctx, "GET", fmt.Sprintf("/api/v1/widget/attachments/%d", id), "", nil, w)
	return err
}

// RequestHuman asks for a person instead of the bot.
func (c *Client) RequestHuman(ctx context.Context, convID int64) (*sb.Conversation, error) {
	return c.conversationAction(ctx, fmt.Sprintf("/api/v1/widget/conversations/%d/human", convID))
}

// VisitorEnd ends the visitor's chat.
func (c *Client) VisitorEnd(ctx context.Context, convID int64) (*sb.Conversation, error) {
	return c.conversationAction(ctx, fmt.Sprintf("/api/v1/widget/conversations/%d/end", convID))
}
