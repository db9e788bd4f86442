package loadgen

import (
	"encoding/json"
	"errors"
	"strconv"
)

// The tool reads every frame the server sends — tens of thousands a second
// on the same two cores as the server — and needs only a few top-level
// fields. encoding/json validated and decoded each frame twice (the frame,
// then its data) and was a quarter of the tool's CPU; this reads the fields
// in one pass without building anything else.

var errBadJSON = errors.New("malformed JSON object")

// eachMember calls f with the key and raw value of each member of the JSON
// object b, in order, until f returns false.
func eachMember(b []byte, f func(key, value []byte) bool) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errBadJSON
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	for i < len(b) {
		if b[i] != '"' {
			return errBadJSON
		}
		end := skipValue(b, i)
		if end < 0 {
			return errBadJSON
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return errBadJSON
		}
		i = skipSpace(b, i+1)
		end = skipValue(b, i)
		if end < 0 {
			return errBadJSON
		}
		if !f(key, b[i:end]) {
			return nil
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return errBadJSON
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return nil
		default:
			return errBadJSON
		}
	}
	return errBadJSON
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just after the JSON value starting at b[i],
// or -1 if there is none.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return -1
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end := skipValue(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default: // a number, true, false or null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// jsonString returns the text of a raw JSON string ("" for anything else).
func jsonString(raw []byte) string {
	if len(raw) < 2 || raw[0] != '"' {
		return ""
	}
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			_ = json.Unmarshal(raw, &s) // escapes are rare: error texts, not the tool's own bodies
			return s
		}
	}
	return string(inner)
}

// jsonInt returns the value of a raw JSON integer (0 for anything else).
func jsonInt(raw []byte) int64 {
	n, _ := strconv.ParseInt(string(raw), 10, 64)
	return n
}

// parseFrame reads the fields of a server frame the tool uses.
func parseFrame(data []byte) (inFrame, error) {
	var f inFrame
	err := eachMember(data, func(key, v []byte) bool {
		switch string(key) {
		case "type":
			f.Type = jsonString(v)
		case "pos":
			f.Pos = jsonInt(v)
		case "event":
			f.Event = jsonString(v)
		case "conversation_id":
			f.ConversationID = jsonInt(v)
		case "user_id":
			f.UserID = jsonInt(v)
		case "data":
			f.Data = v
		case "client_id":
			f.ClientID = jsonString(v)
		case "code":
			f.Code = jsonString(v)
		case "message":
			f.Message = v
		}
		return true
	})
	return f, err
}

// parseMessage reads the fields of a stored message the tool checks.
func parseMessage(data []byte) (wireMessage, error) {
	var m wireMessage
	err := eachMember(data, func(key, v []byte) bool {
		switch string(key) {
		case "id":
			m.ID = jsonInt(v)
		case "conversation_id":
			m.ConversationID = jsonInt(v)
		case "thread":
			m.Thread = jsonString(v)
		case "seq":
			m.Seq = jsonInt(v)
		case "sender":
			m.Sender = jsonString(v)
		case "body":
			m.Body = jsonString(v)
		case "client_id":
			m.ClientID = jsonString(v)
		}
		return true
	})
	return m, err
}
