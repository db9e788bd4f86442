package loadgen

import (
	"bytes"
	"encoding/json"
	"testing"
)

var sampleFrames = []string{
	`{"type":"event","pos":1291,"event":"message","inbox_id":1,"conversation_id":42,"data":{"id":9,"conversation_id":42,"thread":"public","seq":3,"sender":"customer","author_id":null,"author_name":"","body":"lg 123 xx","client_id":"c1-3","attachment_id":null,"created_at":"2026-11-22T04:00:00Z"},"created_at":"2026-11-22T04:00:00Z"}`,
	`{"type":"ack","client_id":"a7-1","message":{"id":10,"conversation_id":5,"seq":4,"body":"say \"hi\" — {ok}","mentions":[1,2]}}`,
	`{"type":"error","client_id":"c1-0","code":"forbidden","message":"Only the assigned agent can write to the customer \u2014 sorry."}`,
	`{"type":"ready","pos":1290,"user_id":7}`,
	` { "type" : "event" , "pos" : 5 , "event" : "offer" , "data" : { "id" : 1 , "state" : "pending" } } `,
	`{}`,
}

// TestParseFrameMatchesEncodingJSON holds the fast frame reader to what
// encoding/json makes of the same frames.
func TestParseFrameMatchesEncodingJSON(t *testing.T) {
	for _, s := range sampleFrames {
		checkParseFrame(t, []byte(s))
	}
	for _, bad := range []string{``, `[]`, `{"type":}`, `{"type":"x"`, `{"a":"b" "c":1}`, `{"a":"unterminated}`} {
		if _, err := parseFrame([]byte(bad)); err == nil {
			t.Errorf("parseFrame(%q) succeeded; want an error", bad)
		}
	}
}

func FuzzParseFrame(f *testing.F) {
	for _, s := range sampleFrames {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// encoding/json also matches keys case-insensitively and unescapes
		// them; the server writes plain lower-case keys, which is all the
		// fast reader knows.
		if bytes.ContainsAny(data, "ABCDEFGHIJKLMNOPQRSTUVWXYZ\\") || bytes.ContainsRune(data, 'ſ') || bytes.ContainsRune(data, 'K') {
			return
		}
		checkParseFrame(t, data)
	})
}

func checkParseFrame(t *testing.T, data []byte) {
	t.Helper()
	var want inFrame
	if json.Unmarshal(data, &want) != nil {
		return // not a frame encoding/json accepts; the fast reader may do anything but panic
	}
	got, err := parseFrame(data)
	if err != nil {
		t.Fatalf("parseFrame(%s): %v", data, err)
	}
	if !bytes.Equal(compact(got.Data), compact(want.Data)) || !bytes.Equal(compact(got.Message), compact(want.Message)) {
		t.Fatalf("parseFrame(%s) raw fields = %s, %s; want %s, %s", data, got.Data, got.Message, want.Data, want.Message)
	}
	type plain struct {
		typ, event, clientID, code string
		pos, conv, user            int64
	}
	flat := func(f inFrame) plain {
		return plain{f.Type, f.Event, f.ClientID, f.Code, f.Pos, f.ConversationID, f.UserID}
	}
	if flat(got) != flat(want) {
		t.Fatalf("parseFrame(%s) = %+v; want %+v", data, got, want)
	}
	var wantMsg wireMessage
	if len(want.Data) > 0 && json.Unmarshal(want.Data, &wantMsg) == nil {
		if gotMsg, err := parseMessage(want.Data); err != nil || gotMsg != wantMsg {
			t.Fatalf("parseMessage(%s) = %+v, %v; want %+v", want.Data, gotMsg, err, wantMsg)
		}
	}
}

func compact(b []byte) []byte {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	var out bytes.Buffer
	if json.Compact(&out, b) != nil {
		return b
	}
	return out.Bytes()
}
