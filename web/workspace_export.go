package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	sb "github.com/switchboard/switchboard"
)

// Export limits: a filtered list exports at most this many chats; JSON
// carries each chat's transcript (W6).
const (
	maxExportChats = 5000
	exportMessages = 500
)

// exportChat is one ended chat as the JSON export writes it.
type exportChat struct {
	ID       int64         `json:"id"`
	Inbox    string        `json:"inbox"`
	Channel  sb.Channel    `json:"channel"`
	Status   sb.Status     `json:"status"`
	Ticket   string        `json:"ticket_status,omitempty"`
	Category string        `json:"category,omitempty"`
	Agent    string        `json:"agent,omitempty"`
	Customer exportContact `json:"customer"`
	Started  time.Time     `json:"started_at"`
	Ended    *time.Time    `json:"ended_at"`
	EndedBy  string        `json:"ended_by,omitempty"`
	Messages []exportMsg   `json:"messages"`
}

type exportContact struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

type exportMsg struct {
	Seq    int64     `json:"seq"`
	At     time.Time `json:"at"`
	Sender sb.Sender `json:"sender"`
	Author string    `json:"author,omitempty"`
	Body   string    `json:"body"`
	File   string    `json:"file,omitempty"`
}

// workspaceExport serves W6: with id, one chat's transcript; otherwise the
// ended chats of a list query (the closed tab unless tickets are asked
// for). Members export only what they can see: every read goes through the
// app layer with the caller's principal.
func (s *Server) workspaceExport(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	ctx := r.Context()
	format := r.URL.Query().Get("format")
	if format != "csv" && format != "json" {
		return sb.Errorf(sb.EINVALID, "format must be csv or json.")
	}
	v, err := s.loadViewer(ctx, p, credentialsOf(r))
	if err != nil {
		return err
	}
	var convs []*sb.Conversation
	name := "switchboard-chats"
	if raw := r.URL.Query().Get("id"); raw != "" {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id <= 0 {
			return sb.Errorf(sb.EINVALID, "id must be a positive integer.")
		}
		c, err := s.svc.Conversation(ctx, p, id)
		if err != nil {
			return err
		}
		convs = []*sb.Conversation{c}
		name = fmt.Sprintf("switchboard-chat-%d", id)
	} else {
		lq := parseListQuery(r, v)
		if lq.Tab != "tickets" {
			lq.Tab = "closed"
		}
		lq.Limit = maxListRows
		f := lq.filter(p)
		for len(convs) < maxExportChats {
			f.Limit = maxListRows
			page, err := s.conversations(ctx, v, f)
			if err != nil {
				return err
			}
			for _, c := range page {
				f.Before = c.ID
				if (lq.From.IsZero() || !c.CreatedAt.Before(lq.From)) && (lq.To.IsZero() || c.CreatedAt.Before(lq.To)) &&
					(lq.Channel == "" || c.Channel == lq.Channel) && (lq.Category == 0 || hasID(c.CategoryID, lq.Category)) {
					convs = append(convs, c)
				}
			}
			if len(page) < maxListRows || (!lq.From.IsZero() && page[len(page)-1].CreatedAt.Before(lq.From)) {
				break
			}
		}
	}
	cc := s.contactCache(p)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.%s"`, name, format))
	one := len(convs) == 1 && r.URL.Query().Get("id") != ""
	if format == "csv" {
		h.Set("Content-Type", "text/csv; charset=utf-8")
		cw := csv.NewWriter(w)
		if one {
			return s.exportTranscriptCSV(ctx, cw, v, convs[0], cc)
		}
		cw.Write([]string{"id", "inbox", "channel", "customer", "email", "phone", "agent", "status", "ticket", "category", "started_at", "ended_at", "ended_by", "messages", "last_message"})
		for _, c := range convs {
			ct, err := cc.get(ctx, c.ContactID)
			if err != nil {
				return err
			}
			ended := ""
			if c.EndedAt != nil {
				ended = c.EndedAt.UTC().Format(time.RFC3339)
			}
			cw.Write(csvSafe(strconv.FormatInt(c.ID, 10), v.InboxName(c.InboxID), string(c.Channel), displayName(ct), ct.Email, ct.Phone,
				v.UserName(c.AssigneeID), string(c.Status), string(c.Ticket), v.CategoryName(c.CategoryID),
				c.CreatedAt.UTC().Format(time.RFC3339), ended, c.EndedBy, strconv.FormatInt(c.LastSeq, 10), c.LastPreview))
		}
		cw.Flush()
		return cw.Error()
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	enc := json.NewEncoder(w)
	if one {
		chat, err := s.exportChat(ctx, v, convs[0], cc)
		if err != nil {
			return err
		}
		return enc.Encode(chat)
	}
	// A JSON array written chat by chat, so a long export never sits in memory.
	w.Write([]byte("[\n"))
	for i, c := range convs {
		chat, err := s.exportChat(ctx, v, c, cc)
		if err != nil {
			return err
		}
		if i > 0 {
			w.Write([]byte(",\n"))
		}
		b, _ := json.Marshal(chat)
		w.Write(b)
	}
	_, err = w.Write([]byte("\n]\n"))
	return err
}

func (s *Server) exportChat(ctx context.Context, v *viewer, c *sb.Conversation, cc *contacts) (*exportChat, error) {
	ct, err := cc.get(ctx, c.ContactID)
	if err != nil {
		return nil, err
	}
	out := &exportChat{ID: c.ID, Inbox: v.InboxName(c.InboxID), Channel: c.Channel, Status: c.Status, Ticket: string(c.Ticket),
		Category: v.CategoryName(c.CategoryID), Agent: v.UserName(c.AssigneeID),
		Customer: exportContact{ID: ct.ID, Name: displayName(ct), Email: ct.Email, Phone: ct.Phone},
		Started:  c.CreatedAt, Ended: c.EndedAt, EndedBy: c.EndedBy, Messages: []exportMsg{}}
	msgs, err := s.svc.Messages(ctx, v.P, c.ID, sb.ThreadPublic, 0, exportMessages)
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		vm := v.message(m, out.Customer.Name)
		em := exportMsg{Seq: m.Seq, At: m.CreatedAt, Sender: m.Sender, Author: vm.Author, Body: m.Body}
		if m.Attachment != nil {
			em.File = m.Attachment.FileName
		}
		out.Messages = append(out.Messages, em)
	}
	return out, nil
}

func (s *Server) exportTranscriptCSV(ctx context.Context, cw *csv.Writer, v *viewer, c *sb.Conversation, cc *contacts) error {
	chat, err := s.exportChat(ctx, v, c, cc)
	if err != nil {
		return err
	}
	cw.Write([]string{"conversation", "seq", "at", "sender", "author", "body", "file"})
	for _, m := range chat.Messages {
		cw.Write(csvSafe(strconv.FormatInt(c.ID, 10), strconv.FormatInt(m.Seq, 10), m.At.UTC().Format(time.RFC3339), string(m.Sender), m.Author, m.Body, m.File))
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses spreadsheet formulas: a cell a customer wrote that starts
// with = + - @ (or a tab or CR) is prefixed with an apostrophe.
func csvSafe(cells ...string) []string {
	for i, c := range cells {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			cells[i] = "'" + c
		}
	}
	return cells
}
