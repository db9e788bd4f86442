package switchboard

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Contact is a customer, with the identities they write from.
type Contact struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Phone     string    `json:"phone"`
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks and normalises a contact. Everything here is
// customer-controlled text: it is only ever rendered escaped.
func (c *Contact) Validate() error {
	c.Name = strings.TrimSpace(c.Name)
	c.Email = NormalizeEmail(c.Email)
	c.Phone = strings.TrimSpace(c.Phone)
	if !utf8.ValidString(c.Name) || len(c.Name) > 200 {
		return Errorf(EINVALID, "Name must be valid text of at most 200 bytes.")
	}
	if c.Email != "" {
		if err := ValidateEmail(c.Email); err != nil {
			return err
		}
	}
	if len(c.Phone) > 32 {
		return Errorf(EINVALID, "Phone must be at most 32 characters.")
	}
	return nil
}

// Visitor is a website-widget visitor: a browser holding a random token bound
// to one contact. The token is stored only as a hash.
type Visitor struct {
	ID        int64     `json:"id"`
	ContactID int64     `json:"contact_id"`
	TokenHash []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// BlockKind is what a block matches.
type BlockKind string

// Block kinds (C12).
const (
	BlockEmail   BlockKind = "email"
	BlockPhone   BlockKind = "phone"
	BlockVisitor BlockKind = "visitor"
)

// Block stops future conversations from a contact's e-mail, phone or widget visitor (C12).
type Block struct {
	ID        int64     `json:"id"`
	Kind      BlockKind `json:"kind"`
	Value     string    `json:"value"`
	Reason    string    `json:"reason"`
	CreatedBy int64     `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks a block.
func (b *Block) Validate() error {
	switch b.Kind {
	case BlockEmail:
		b.Value = NormalizeEmail(b.Value)
	case BlockPhone:
		phone, err := NormalizePhone(b.Value)
		if err != nil {
			return err
		}
		b.Value = phone
	case BlockVisitor:
		b.Value = strings.TrimSpace(b.Value)
	default:
		return Errorf(EINVALID, "Block kind must be email, phone or visitor.")
	}
	if b.Value == "" || len(b.Value) > 254 {
		return Errorf(EINVALID, "Block value must be 1 to 254 characters.")
	}
	if utf8.RuneCountInString(b.Reason) > 250 {
		return Errorf(EINVALID, "Reason must be at most 250 characters.")
	}
	return nil
}

// NormalizePhone returns a phone number in the one form blocks are stored and
// matched in (C12), so that "+44 20 7946 0000", "+442079460000" and
// "0044 (0)20 7946-0000" are the same number: spaces, dashes, dots and
// parentheses go, an international "00" prefix becomes "+", and the "(0)"
// that some countries write after their code is dropped. What is left must be
// 3 to 15 digits (E.164 allows 15), after an optional "+"; anything else is
// invalid. A national number ("020 7946 0000") stays national: telling its
// country would take a numbering-plan library, and a channel reports senders
// in international form anyway. Migration 006 wrote the blocks stored before
// in this form; change both together.
func NormalizePhone(s string) (string, error) {
	n := strings.TrimSpace(s)
	if strings.HasPrefix(n, "+") || strings.HasPrefix(n, "00") {
		n = strings.ReplaceAll(n, "(0)", "")
	}
	n = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\u00a0', '-', '.', '(', ')':
			return -1
		}
		return r
	}, n)
	if strings.HasPrefix(n, "00") {
		n = "+" + n[2:]
	}
	digits := strings.TrimPrefix(n, "+")
	if len(digits) < 3 || len(digits) > 15 || strings.ContainsFunc(digits, notDigit) {
		return "", Errorf(EINVALID, "%.40q is not a phone number: use digits, with + or 00 before the country code.", s)
	}
	return n, nil
}

func notDigit(r rune) bool { return r < '0' || r > '9' }
