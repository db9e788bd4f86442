package web

import (
	"regexp"
	"strings"
	"testing"
)

func TestFormatBody(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain text is escaped", `a < b & "c"`, `a &lt; b &amp; &#34;c&#34;`},
		{"bold", "a **b** c", "a <strong>b</strong> c"},
		{"italic with stars and underscores", "*a* and _b_", "<em>a</em> and <em>b</em>"},
		{"snake_case stays", "my_var_name and 2*3*4", "my_var_name and 2*3*4"},
		{"emphasis of letters that take several bytes", "_voilà_ and *Å*", "<em>voilà</em> and <em>Å</em>"},
		{"a no-break or em space at the edge is not emphasis", "_\u00a0x_ and _x\u2003_", "_\u00a0x_ and _x\u2003_"},
		{"dunder names stay", "window.__pwned=1 __init__", "window.__pwned=1 __init__"},
		{"inline code is literal", "run `a **b** <c>`", "run <code>a **b** &lt;c&gt;</code>"},
		{"code block", "```\n<b>x</b>\n```", "<pre><code>&lt;b&gt;x&lt;/b&gt;</code></pre>"},
		{"lines", "one\ntwo", "one<br>two"},
		{"bulleted list", "- a\n- b", "<ul><li>a</li><li>b</li></ul>"},
		{"numbered list", "1. a\n2. b", "<ol><li>a</li><li>b</li></ol>"},
		{"markdown link", "[docs](https://example.com/a?b=1&c=2)",
			`<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer nofollow ugc">docs</a>`},
		{"bare link without trailing punctuation", "see https://example.com/x.",
			`see <a href="https://example.com/x" target="_blank" rel="noopener noreferrer nofollow ugc">https://example.com/x</a>.`},
		{"javascript link stays text", "[x](javascript:alert(1))", "[x](javascript:alert(1))"},
		{"data link stays text", "[x](data:text/html,hi)", "[x](data:text/html,hi)"},
		{"script stays text", "<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"quote in a link cannot break out", `[x](https://e.com/"onmouseover="a)`,
			`[x](<a href="https://e.com/" target="_blank" rel="noopener noreferrer nofollow ugc">https://e.com/</a>&#34;onmouseover=&#34;a)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(formatBody(tc.in)); got != tc.want {
				t.Errorf("formatBody(%q)\n got %s\nwant %s", tc.in, got, tc.want)
			}
		})
	}
}

var (
	allowedTags = regexp.MustCompile(`</?(strong|em|code|pre|ul|ol|li|br)>|<a href="https?://[^"<>]*" target="_blank" rel="noopener noreferrer nofollow ugc">|</a>`)
	hrefs       = regexp.MustCompile(`href="([^"]*)"`)
)

// FuzzFormatBody: whatever a customer writes, the only markup out is the
// formatter's own tags, and every link is http(s).
func FuzzFormatBody(f *testing.F) {
	for _, s := range []string{"**a**", "_a_ *b*", "`c`", "- x\n1. y", "[t](https://e.com)", "https://e.com/?a=<b>",
		`<img src=x onerror=alert(1)>`, "[x](javascript:alert(1))", "```\n<s>\n```", "\u202Eevil", `"'><svg onload=1>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := string(formatBody(in))
		rest := allowedTags.ReplaceAllString(out, "")
		if strings.ContainsAny(rest, "<>") {
			t.Fatalf("formatBody(%q) = %q: markup beyond the formatter's tags", in, out)
		}
		for _, m := range hrefs.FindAllStringSubmatch(out, -1) {
			if !strings.HasPrefix(m[1], "http://") && !strings.HasPrefix(m[1], "https://") {
				t.Fatalf("formatBody(%q) links to %q", in, m[1])
			}
		}
	})
}
