package client

import (
	"context"
	"fmt"

	sb "github.com/switchboard/switchboard"
)

// The routing API (issue 3): offers, transfers, supervisor assignment, tickets.

// TransferRequest says where a chat goes: to an agent, or to an inbox and/or a department.
type TransferRequest struct {
	ToUserID       int64  `json:"to_user_id,omitempty"`
	ToInboxID      int64  `json:"to_inbox_id,omitempty"`
	ToDepartmentID int64  `json:"to_department_id,omitempty"`
	Note           string `json:"note,omitempty"`
}

// TransferAnswer is a conversation after a transfer step, with its request
// (nil for a transfer to an inbox or a department).
type TransferAnswer struct {
	Conversation *sb.Conversation `json:"conversation"`
	Transfer     *sb.Transfer     `json:"transfer"`
}

// Offers lists the chats offered to the caller.
func (c *Client) Offers(ctx context.Context) ([]*sb.Offer, error) {
	var out struct {
		Items []*sb.Offer `json:"items"`
	}
	_, err := c.Do(ctx, "GET", "/api/v1/me/offers", nil, &out)
	return out.Items, err
}

// AcceptOffer takes a chat offered to the caller.
func (c *Client) AcceptOffer(ctx context.Context, offerID int64) (*sb.Conversation, error) {
	return c.conversationAction(ctx, fmt.Sprintf("/api/v1/offers/%d/accept", offerID))
}

// DeclineOffer turns down a chat offered to the caller.
func (c *Client) DeclineOffer(ctx context.Context, offerID int64) (*sb.Conversation, error) {
	return c.conversationAction(ctx, fmt.Sprintf("/api/v1/offers/%d/decline", offerID))
}

// Transfers lists the transfer requests the caller sent or must answer.
func (c *Client) Transfers(ctx context.Context) ([]*sb.Transfer, error) {
	var out struct {
		Items []*sb.Transfer `json:"items"`
	}
	_, err := c.Do(ctx, "GET", "/api/v1/me/transfers", nil, &out)
	return out.Items, err
}

// RequestTransfer hands the caller's chat on.
func (c *Client) RequestTransfer(ctx context.Context, convID int64, req TransferRequest) (*TransferAnswer, error) {
	var out TransferAnswer
	_, err := c.Do(ctx, "POST", fmt.Sprintf("/api/v1/conversations/%d/transfer", convID), req, &out)
	return &out, err
}

// AnswerTransfer accepts or rejects a transfer request made to the caller.
func (c *Client) AnswerTransfer(ctx context.Context, transferID int64, accept bool) (*TransferAnswer, error) {
	action := "reject"
	if accept {
		action = "accept"
	}
	var out TransferAnswer
	_, err := c.Do(ctx, "POST", fmt.Sprintf("/api/v1/transfers/%d/%s", transferID, action), nil, &out)
	return &out, err
}

// Assign assigns or reassigns a live chat (supervisors): to an agent, a
// department (0: none), or both.
func (c *Client) Assign(ctx context.Context, convID, userID, deptID int64) (*sb.Conversation, error) {
	body := map[string]int64{}
	if userID != 0 {
		body["user_id"] = userID
	}
	if deptID != 0 {
		body["department_id"] = deptID
	}
	var out sb.Conversation
	_, err := c.Do(ctx, "POST", fmt.Sprintf("/api/v1/conversations/%d/assign", convID), body, &out)
	return &out, err
}

// Candidates lists the agents who could take a chat now, optionally of a department (0: any).
func (c *Client) Candidates(ctx context.Context, convID, deptID int64) ([]sb.Candidate, error) {
	path := fmt.Sprintf("/api/v1/conversations/%d/candidates", convID)
	if deptID != 0 {
		path += fmt.Sprintf("?department_id=%d", deptID)
	}
	var out struct {
		Items []sb.Candidate `json:"items"`
	}
	_, err := c.Do(ctx, "GET", path, nil, &out)
	return out.Items, err
}

// AssignTicket gives a ticket to a member of its inbox (supervisors).
func (c *Client) AssignTicket(ctx context.Context, convID, userID int64) (*sb.Conversation, error) {
	var out sb.Conversation
	_, err := c.Do(ctx, "POST", fmt.Sprintf("/api/v1/conversations/%d/ticket/assign", convID), map[string]int64{"user_id": userID}, &out)
	return &out, err
}

// CloseTicket closes a ticket (supervisors).
func (c *Client) CloseTicket(ctx context.Context, convID int64) (*sb.Conversation, error) {
	return c.conversationAction(ctx, fmt.Sprintf("/api/v1/conversations/%d/ticket/close", convID))
}

// ReopenTicket reopens a closed ticket (supervisors).
func (c *Client) ReopenTicket(ctx context.Context, convID int64) (*sb.Conversation, error) {
	return c.conversationAction(ctx, fmt.Sprintf("/api/v1/conversations/%d/ticket/reopen", convID))
}
