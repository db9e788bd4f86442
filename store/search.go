package store

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Full-text search is the one thing the two backends do in different words
// (ARCHITECTURE.md): SQLite keeps an FTS5 table, PostgreSQL a tsvector
// column with a GIN index. To make both find the same things, neither is
// left to fold text its own way: what is indexed and what is searched for
// both go through foldText here first, so case and diacritics ("Crème",
// "CREME", "creme") compare alike on both; the SQLite tables use the
// unicode61 tokenizer and PostgreSQL the 'simple' configuration (no stemming,
// no stop words), which split folded text into the same words. A query is
// turned into words by SearchTerms and into the backend's query syntax by
// dialect.ftsQuery: every word must match, the last ones as prefixes.

// maxSearchTerms bounds the words of one query; maxTermLen the length of one.
const (
	maxSearchTerms = 8
	maxTermLen     = 64
)

// unfoldable are letters with no Unicode decomposition that people still
// write without their mark.
var unfoldable = strings.NewReplacer(
	"ß", "ss", "ẞ", "ss", "æ", "ae", "Æ", "ae", "œ", "oe", "Œ", "oe",
	"ø", "o", "Ø", "o", "ł", "l", "Ł", "l", "đ", "d", "Đ", "d", "ð", "d", "Ð", "d",
	"þ", "th", "Þ", "th", "ı", "i", "ħ", "h", "Ħ", "h",
)

// foldText returns s in the form the search indexes hold: lower case,
// without diacritics.
func foldText(s string) string {
	s = unfoldable.Replace(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return norm.NFC.String(b.String())
}

// SearchTerms splits a query typed by a person into the folded words it
// searches for: runs of letters and digits, at most maxSearchTerms of them,
// each cut to maxTermLen bytes, without repeats. Everything else (quotes,
// operators, punctuation) only separates words, so no query syntax of either
// backend can be injected.
func SearchTerms(query string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(foldText(query), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r)
	}) {
		if len(w) > maxTermLen {
			w = truncateRunes(w, maxTermLen)
		}
		if !containsString(out, w) {
			out = append(out, w)
		}
		if len(out) == maxSearchTerms {
			break
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// truncateRunes cuts s to at most n bytes on a character boundary.
func truncateRunes(s string, n int) string {
	for n > 0 && n < len(s) && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// ftsQuery returns terms (from SearchTerms) as a query in the backend's
// syntax, every term a prefix that must match: an FTS5 MATCH expression on
// SQLite, a to_tsquery('simple', …) argument on PostgreSQL. No terms give
// "": the caller must not search at all then.
func (d dialect) ftsQuery(terms []string) string {
	parts := make([]string, 0, len(terms))
	for _, t := range terms {
		if d.name == postgres.name {
			parts = append(parts, t+":*")
		} else {
			parts = append(parts, `"`+strings.ReplaceAll(t, `"`, `""`)+`"*`)
		}
	}
	if d.name == postgres.name {
		return strings.Join(parts, " & ")
	}
	return strings.Join(parts, " ")
}
