package app

import (
	"context"
	"errors"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/routing"
	"github.com/switchboard/switchboard/store"
)

// Messages returns messages of one thread with seq > after.
func (s *Service) Messages(ctx context.Context, p *sb.Principal, convID int64, thread sb.Thread, after int64, limit int) ([]*sb.Message, error) {
	if thread == "" {
		thread = sb.ThreadPublic
	}
	if !thread.Valid() {
		return nil, sb.Errorf(sb.EINVALID, "Thread must be public, internal or comment.")
	}
	if _, err := s.conversationFor(ctx, p, convID); err != nil {
		return nil, err
	}
	if !p.CanSeeThread(thread) {
		return nil, sb.NotFound("Conversation")
	}
	return s.db.Messages(ctx, convID, thread, after, limit)
}

// authoriseWrite decides whether p may post to a thread of c.
func authoriseWrite(p *sb.Principal, c *sb.Conversation, thread sb.Thread) error {
	if thread == sb.ThreadPublic {
		return p.CanWriteCustomer(c)
	}
	if !p.CanSeeConversation(c) {
		return sb.NotFound("Conversation")
	}
	return p.CanWriteInternal(c, thread)
}

func senderOf(p *sb.Principal) (sb.Sender, *int64) {
	if p.IsVisitor() {
		return sb.SenderCustomer, nil
	}
	id := p.UserID
	return sb.SenderAgent, &id
}

// SendMessage stores a message from p in a thread of a conversation. A
// repeated client id answers with the original message and created == false.
func (s *Service) SendMessage(ctx context.Context, p *sb.Principal, convID int64, thread sb.Thread, body, clientID string) (sb.Message, bool, error) {
	return s.QueueMessage(ctx, p, convID, thread, body, clientID)()
}

// QueueMessage is SendMessage in two steps: it returns once the message's
// write is queued, and wait returns what SendMessage would. Messages queued
// one after another are stored in that order (see store.DB.QueueWrite), so
// a connection can have several in flight. ctx must last until wait returns.
func (s *Service) QueueMessage(ctx context.Context, p *sb.Principal, convID int64, thread sb.Thread, body, clientID string) (wait func() (sb.Message, bool, error)) {
	fail := func(err error) func() (sb.Message, bool, error) {
		return func() (sb.Message, bool, error) { return sb.Message{}, false, err }
	}
	if thread == "" {
		thread = sb.ThreadPublic
	}
	if !thread.Valid() {
		return fail(sb.Errorf(sb.EINVALID, "Thread must be public, internal or comment."))
	}
	if err := sb.ValidateClientID(clientID); err != nil {
		return fail(err)
	}
	var m sb.Message
	var created bool
	written := s.db.QueueWrite(ctx, func(tx *store.Tx) error {
		c, err := txConversationFor(tx, p, convID)
		if err != nil {
			return err
		}
		if err := authoriseWrite(p, c, thread); err != nil {
			return err
		}
		sender, author := senderOf(p)
		m = sb.Message{Thread: thread, Sender: sender, AuthorID: author, AuthorName: p.Name, Body: body, ClientID: clientID}
		if p.IsVisitor() {
			if contact, err := tx.Contact(p.ContactID); err == nil {
				m.AuthorName = contact.Name
			}
		}
		if thread != sb.ThreadPublic {
			if m.Mentions, err = s.mentions(ctx, c, body); err != nil {
				return err
			}
		}
		if thread == sb.ThreadPublic {
			if err := mayFollowUp(tx, p, c); err != nil {
				return err
			}
		}
		if created, err = tx.CreateMessage(c, &m); err != nil || !created {
			return err
		}
		if p.IsVisitor() {
			if err := routing.TicketFollowedUp(tx, c); err != nil {
				return err
			}
		}
		for _, uid := range m.Mentions {
			e := sb.NewEvent(sb.EventNotification, sb.AudienceUser, sb.Notification{
				Kind: "mention", ConversationID: c.ID, FromUserID: p.UserID,
				Text: p.Name + " mentioned you: " + truncateText(body, 200),
			})
			e.UserID, e.InboxID, e.ConversationID = uid, c.InboxID, c.ID
			tx.Emit(e)
		}
		return nil
	})
	return func() (sb.Message, bool, error) {
		err := written()
		return m, created, err
	}
}

// mayFollowUp refuses visitor p's message to their closed ticket c when
// they are blocked: it would reopen the ticket, and a block stops what the
// customer starts anew (C12). Anything else may go on.
func mayFollowUp(tx *store.Tx, p *sb.Principal, c *sb.Conversation) error {
	if !p.IsVisitor() || c.Ticket != sb.TicketClosed {
		return nil
	}
	_, err := unblockedContact(tx, p)
	return err
}

// unblockedContact returns visitor p's contact, or EFORBIDDEN when the
// contact or the visitor is blocked (C12).
func unblockedContact(tx *store.Tx, p *sb.Principal) (*sb.Contact, error) {
	contact, err := tx.Contact(p.ContactID)
	if err != nil {
		return nil, err
	}
	blocked, err := tx.Blocked(contact, p.VisitorID)
	if err != nil {
		return nil, err
	}
	if blocked {
		return nil, sb.Errorf(sb.EFORBIDDEN, "You cannot start a conversation here.")
	}
	return contact, nil
}

var mentionPattern = regexp.MustCompile(`@([\p{L}\p{N}._-]+)`)

// mentions finds the users an internal post or comment tags with @name: the
// inbox's members (and admins), matched by first name or e-mail local part.
// There is no "tag everyone" (C9).
func (s *Service) mentions(ctx context.Context, c *sb.Conversation, body string) ([]int64, error) {
	found := mentionPattern.FindAllStringSubmatch(body, 10)
	if len(found) == 0 {
		return nil, nil
	}
	users, err := s.db.Users(ctx)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, f := range found {
		handle := strings.ToLower(strings.TrimRight(f[1], "._-"))
		for _, u := range users {
			if u.Disabled || !(u.Role.AtLeast(sb.RoleAdmin) || slices.Contains(u.InboxIDs, c.InboxID)) {
				continue
			}
			first := strings.ToLower(strings.Fields(u.Name + " x")[0])
			local, _, _ := strings.Cut(u.Email, "@")
			if (handle == first || handle == strings.ToLower(local)) && !slices.Contains(out, u.ID) {
				out = append(out, u.ID)
			}
		}
	}
	return out, nil
}

func truncateText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// Typing announces that p is typing in a conversation (ephemeral, never stored).
func (s *Service) Typing(ctx context.Context, p *sb.Principal, convID int64) error {
	c, err := s.conversationFor(ctx, p, convID)
	if err != nil {
		return err
	}
	if !c.Status.Live() {
		return nil
	}
	sender, _ := senderOf(p)
	name := p.Name
	if s.live == nil {
		return nil
	}
	e := sb.NewEvent(sb.EventTyping, sb.AudienceConversation, map[string]any{"conversation_id": c.ID, "sender": sender, "name": name})
	e.InboxID, e.ConversationID, e.ContactID, e.CreatedAt = c.InboxID, c.ID, c.ContactID, s.clock.Now()
	s.live.Ephemeral(e)
	return nil
}

var errDuplicateUpload = errors.New("duplicate upload")

// Upload stores a file streamed from r as an attachment message in the
// public thread. The size limit is enforced while streaming and the type by
// extension and content; nothing is kept when anything fails.
func (s *Service) Upload(ctx context.Context, p *sb.Principal, convID int64, r io.Reader, fileName, clientID string) (*sb.Message, *sb.Attachment, error) {
	if s.cfg.Files == nil {
		return nil, nil, sb.Errorf(sb.EUNAVAILABLE, "File uploads are not configured.")
	}
	if err := sb.ValidateClientID(clientID); err != nil {
		return nil, nil, err
	}
	c, err := s.conversationFor(ctx, p, convID)
	if err != nil {
		return nil, nil, err
	}
	if err := p.CanWriteCustomer(c); err != nil {
		return nil, nil, err
	}
	saved, err := s.cfg.Files.Save(r, fileName, s.cfg.MaxUploadBytes)
	if err != nil {
		return nil, nil, err
	}
	sender, author := senderOf(p)
	var m sb.Message
	var a sb.Attachment
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		c, err := txConversationFor(tx, p, convID)
		if err != nil {
			return err
		}
		if err := p.CanWriteCustomer(c); err != nil {
			return err
		}
		if err := mayFollowUp(tx, p, c); err != nil {
			return err
		}
		a = sb.Attachment{ConversationID: c.ID, FileName: saved.FileName, ContentType: saved.ContentType, Size: saved.Size, StorageKey: saved.Key, UploadedBy: sender}
		if err := tx.CreateAttachment(&a); err != nil {
			return err
		}
		m = sb.Message{Thread: sb.ThreadPublic, Sender: sender, AuthorID: author, AuthorName: p.Name, AttachmentID: &a.ID, Attachment: &a, ClientID: clientID, Body: ""}
		created, err := tx.CreateMessage(c, &m)
		if err != nil {
			return err
		}
		if !created {
			return errDuplicateUpload
		}
		if p.IsVisitor() {
			return routing.TicketFollowedUp(tx, c)
		}
		return nil
	})
	if err != nil {
		s.cfg.Files.Remove(saved.Key)
		if errors.Is(err, errDuplicateUpload) {
			return s.originalUpload(ctx, convID, clientID)
		}
		return nil, nil, err
	}
	return &m, &a, nil
}

// originalUpload answers a repeated upload with what the first one stored.
func (s *Service) originalUpload(ctx context.Context, convID int64, clientID string) (*sb.Message, *sb.Attachment, error) {
	m, err := s.db.MessageByClientID(ctx, convID, clientID)
	if err != nil {
		return nil, nil, err
	}
	if m.AttachmentID == nil {
		return nil, nil, sb.Errorf(sb.ECONFLICT, "client_id %q was used for a message without a file.", clientID)
	}
	a, err := s.db.Attachment(ctx, *m.AttachmentID)
	return m, a, err
}

// OpenAttachment returns an attachment p may see, with its file opened.
func (s *Service) OpenAttachment(ctx context.Context, p *sb.Principal, id int64) (*sb.Attachment, *os.File, error) {
	if s.cfg.Files == nil {
		return nil, nil, sb.NotFound("Attachment")
	}
	a, err := s.db.Attachment(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.conversationFor(ctx, p, a.ConversationID); err != nil {
		return nil, nil, sb.NotFound("Attachment")
	}
	f, err := s.cfg.Files.Open(a.StorageKey)
	if err != nil {
		return nil, nil, err
	}
	return a, f, nil
}
