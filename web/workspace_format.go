package web

import (
	"html"
	"html/template"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// formatBody renders a message body with the composer's basic formatting
// (C3): **bold**, *italic* or _italic_, `code`, ``` code blocks ```, lines
// starting with "- " or "1. " as lists, [text](https://…) links and bare
// http(s) links. Every piece of text is escaped; the only tags produced are
// the ones written here, and links are http(s) only. The customer's widget
// (web/ui/static/widget.js) renders the same grammar with DOM nodes; its
// browser test compares the two message by message.
func formatBody(body string) template.HTML {
	var b strings.Builder
	lines := strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n")
	var list string // "ul" or "ol" while inside a list
	closeList := func() {
		if list != "" {
			b.WriteString("</" + list + ">")
			list = ""
		}
	}
	paragraph := false // whether the previous line was text (joined with <br>)
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trim := strings.TrimSpace(line)
		if strings.HasPrefix(trim, "```") {
			closeList()
			var code []string
			j := i + 1
			for ; j < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[j]), "```"); j++ {
				code = append(code, lines[j])
			}
			if j < len(lines) || len(code) > 0 {
				b.WriteString("<pre><code>")
				b.WriteString(html.EscapeString(strings.Join(code, "\n")))
				b.WriteString("</code></pre>")
				paragraph = false
				i = j
				continue
			}
		}
		kind, item := listItem(trim)
		if kind != "" {
			if list != kind {
				closeList()
				b.WriteString("<" + kind + ">")
				list = kind
			}
			b.WriteString("<li>")
			formatInline(&b, item)
			b.WriteString("</li>")
			paragraph = false
			continue
		}
		closeList()
		if paragraph {
			b.WriteString("<br>")
		}
		formatInline(&b, line)
		paragraph = true
	}
	closeList()
	return template.HTML(b.String())
}

// listItem recognises "- item", "* item" and "12. item".
func listItem(s string) (kind, item string) {
	if strings.HasPrefix(s, "- ") || strings.HasPrefix(s, "* ") {
		return "ul", s[2:]
	}
	n := 0
	for n < len(s) && n < 4 && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n > 0 && strings.HasPrefix(s[n:], ". ") {
		return "ol", s[n+2:]
	}
	return "", ""
}

// formatInline writes one line's inline markup.
func formatInline(b *strings.Builder, s string) {
	prev := ' ' // the character before s: emphasis opens only after a space or punctuation
	for len(s) > 0 {
		switch {
		case s[0] == '`':
			if end := strings.IndexByte(s[1:], '`'); end > 0 {
				b.WriteString("<code>" + html.EscapeString(s[1:1+end]) + "</code>")
				s, prev = s[end+2:], '`'
				continue
			}
		case strings.HasPrefix(s, "**"):
			if end := strings.Index(s[2:], "**"); end > 0 {
				b.WriteString("<strong>")
				formatInline(b, s[2:2+end])
				b.WriteString("</strong>")
				s, prev = s[end+4:], '*'
				continue
			}
		case (s[0] == '*' || s[0] == '_') && opens(prev) && len(s) > 1 && s[1] != s[0]:
			if end := strings.IndexByte(s[1:], s[0]); end > 0 && !spaceAtEdge(s[1:1+end]) && wordEnd(s[end+2:]) {
				b.WriteString("<em>")
				formatInline(b, s[1:1+end])
				b.WriteString("</em>")
				s, prev = s[end+2:], '_'
				continue
			}
		case s[0] == '[':
			if text, href, rest, ok := markdownLink(s); ok {
				writeLink(b, href, text)
				s, prev = rest, ')'
				continue
			}
		case s[0] == 'h' && (strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")):
			end := strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '<' || r == '>' || r == '"' })
			if end < 0 {
				end = len(s)
			}
			link := strings.TrimRight(s[:end], ".,;:!?)'")
			if safeURL(link) {
				writeLink(b, link, link)
				s, prev = s[len(link):], '/'
				continue
			}
		}
		// Plain text up to the next character that may start markup.
		next := strings.IndexAny(s[1:], "`*_[h")
		if next < 0 {
			next = len(s) - 1
		}
		chunk := s[:next+1]
		if !utf8.ValidString(chunk) {
			chunk = strings.ToValidUTF8(chunk, "\uFFFD")
		}
		b.WriteString(html.EscapeString(chunk))
		prev, _ = utf8.DecodeLastRuneInString(chunk)
		s = s[next+1:]
	}
}

// opens reports whether emphasis may open after r: at a word's start, so
// that snake_case, 2*3*4 and window.__name stay as they are.
func opens(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune("([{\"'", r)
}

// wordEnd reports whether s starts at a word boundary, so that snake_case
// words are not read as italics.
func wordEnd(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s == "" || !(unicode.IsLetter(r) || unicode.IsDigit(r))
}

// markdownLink parses "[text](url)" at the start of s.
func markdownLink(s string) (text, href, rest string, ok bool) {
	close := strings.Index(s, "](")
	if close < 1 || strings.ContainsRune(s[:close], '\n') {
		return "", "", "", false
	}
	end := strings.IndexByte(s[close+2:], ')')
	if end < 0 {
		return "", "", "", false
	}
	href = s[close+2 : close+2+end]
	if !safeURL(href) {
		return "", "", "", false
	}
	return s[1:close], href, s[close+3+end:], true
}

// safeURL accepts absolute http(s) URLs only: never javascript:, data: or
// relative links into the workspace.
func safeURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && !strings.ContainsAny(s, " \t\n\"'<>`")
}

func writeLink(b *strings.Builder, href, text string) {
	b.WriteString(`<a href="` + html.EscapeString(href) + `" target="_blank" rel="noopener noreferrer nofollow ugc">`)
	b.WriteString(html.EscapeString(text))
	b.WriteString("</a>")
}

// spaceAtEdge reports whether emphasised text starts or ends with a space,
// whole characters compared (an em space or a no-break space is several
// bytes): "_ word_" is not emphasis.
func spaceAtEdge(inner string) bool {
	first, _ := utf8.DecodeRuneInString(inner)
	last, _ := utf8.DecodeLastRuneInString(inner)
	return unicode.IsSpace(first) || unicode.IsSpace(last)
}
