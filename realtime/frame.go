package realtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/switchboard/switchboard"
)

// Frame types of the protocol (docs/protocol.md).
const (
	frameHello     = "hello"
	frameSend      = "send"
	frameTyping    = "typing"
	framePing      = "ping"
	frameEvent     = "event"
	frameReady     = "ready"
	frameResync    = "resync"
	frameAck       = "ack"
	frameError     = "error"
	framePong      = "pong"
	frameReconnect = "reconnect"
)

// WebSocket close codes the server uses. Codes 4000–4999 are ours
// (RFC 6455 §7.4.2); the others are the standard ones.
const (
	// CloseSlowConsumer: the client read too slowly and was dropped; it resumes with its last pos.
	CloseSlowConsumer = 4008
	// CloseUnauthorized: authentication failed; reconnecting with the same credentials will fail again.
	CloseUnauthorized = 4401
	// CloseSessionChanged: the user's role, inboxes or session changed (DisconnectUser); reconnect
	// and reload, as what the user may see has changed.
	CloseSessionChanged = 4001
	// CloseServiceRestart: the server is shutting down; reconnect with back-off and resume.
	CloseServiceRestart = 1012

	closePolicyViolation = 1008
	closeInternalError   = 1011
)

// Frames whose bytes never change are built once.
var (
	pongFrame      = []byte(`{"type":"pong"}`)
	reconnectFrame = []byte(`{"type":"reconnect"}`)
)

// eventFrame is an event as sent to clients: the event's own fields after "type".
type eventFrame struct {
	Type string `json:"type"`
	*switchboard.Event
}

func marshalEvent(e *switchboard.Event) []byte {
	return mustMarshal(eventFrame{Type: frameEvent, Event: e})
}

type positionFrame struct {
	Type   string `json:"type"`
	Pos    int64  `json:"pos"`
	UserID int64  `json:"user_id,omitempty"`
}

type errorFrame struct {
	Type     string `json:"type"`
	ClientID string `json:"client_id,omitempty"`
	Code     string `json:"code"`
	Message  string `json:"message"`
}

func marshalError(clientID string, err error) []byte {
	return mustMarshal(errorFrame{
		Type:     frameError,
		ClientID: clientID,
		Code:     switchboard.ErrorCode(err),
		Message:  switchboard.ErrorMessage(err),
	})
}

type ackFrame struct {
	Type     string              `json:"type"`
	ClientID string              `json:"client_id,omitempty"`
	Message  switchboard.Message `json:"message"`
}

// Client frames. Each is decoded strictly: unknown fields are refused.
type (
	helloFrame struct {
		Type  string `json:"type"`
		Token string `json:"token"`
		After int64  `json:"after"`
	}
	sendFrame struct {
		Type           string             `json:"type"`
		ConversationID int64              `json:"conversation_id"`
		Thread         switchboard.Thread `json:"thread"`
		Body           string             `json:"body"`
		ClientID       string             `json:"client_id"`
	}
	typingFrame struct {
		Type           string `json:"type"`
		ConversationID int64  `json:"conversation_id"`
	}
	pingFrame struct {
		Type string `json:"type"`
	}
)

// frameType reads only the "type" of a client frame, to pick the strict type to decode it into.
func frameType(data []byte) (string, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return "", switchboard.Errorf(switchboard.EINVALID, "A frame must be a JSON object.")
	}
	return head.Type, nil
}

// decodeStrict decodes one JSON object into v, refusing unknown fields and trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return switchboard.Errorf(switchboard.EINVALID, "Malformed frame: %s.", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return switchboard.Errorf(switchboard.EINVALID, "Malformed frame: data after the object.")
	}
	return nil
}

// jsonProblem describes a decoding error without echoing the client's input.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return "field " + typeErr.Field + " has the wrong type"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return "unknown field"
	}
	return "not valid JSON"
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own frame types holding domain types are marshalled; failing is a programming error.
		panic("realtime: marshal frame: " + err.Error())
	}
	return b
}
