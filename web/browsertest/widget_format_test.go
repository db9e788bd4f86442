package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	sb "github.com/switchboard/switchboard"
)

// An agent's formatting shows in the customer's widget as elements, exactly
// as the workspace renders it (web/workspace_format.go), and what only
// looks like HTML stays text: no element, no script, no alert.
func TestWidgetFormatsAgentMessages(t *testing.T) {
	o := newOrg(t)
	h := newHarness(t, o.env)
	o.online(t, o.alice)
	visitor, c := o.customerChat(t, "Fay Fisher", "Hello, where is my **order**?")
	o.assigned(t, c, o.alice)
	ctx := context.Background()
	alice := o.env.SessionClient(t, o.alice)
	for _, body := range formatCorpus() {
		if _, _, err := alice.SendMessage(ctx, c.ID, sb.ThreadPublic, body, ""); err != nil {
			t.Fatalf("send %q: %v", body, err)
		}
	}

	customer := h.open("customer")
	var dialogs atomic.Int32
	if err := chromedp.Listen(customer.ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs.Add(1)
			go chromedp.Do(customer.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error { // never leave the page blocked
				_, err := cdp.Call(ctx, t, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{})
				return err
			}))
		}
	}); err != nil {
		t.Fatal(err)
	}
	customer.do(chromedp.Navigate(o.env.URL + "/demo"))
	customer.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`localStorage.setItem("switchboard:%s:inbox:%d:token", %q); localStorage.setItem("switchboard:%s:inbox:%d:profile", "1")`,
		o.env.URL, o.inbox.ID, visitor.Token(), o.env.URL, o.inbox.ID)))
	customer.do(chromedp.Navigate(o.env.URL + "/demo"))
	customer.wait("the widget", `window.Switchboard && window.Switchboard.widget`)
	customer.do(chromedp.Evaluate[chromedp.Void](`Switchboard.open()`))

	// Every message loaded over REST matches the workspace, element for element.
	want := workspaceBodies(t, customer, o, c.ID, 0)
	if len(want) < len(formatCorpus()) {
		t.Fatalf("the workspace shows %d message bodies, want at least %d", len(want), len(formatCorpus()))
	}
	got := waitWidget(customer, "every message", widgetBodiesJS, func(got map[string]string) bool {
		for seq := range want {
			if _, ok := got[seq]; !ok {
				return false
			}
		}
		return true
	})
	compareBodies(t, want, got)

	// A reply arriving live: each mark becomes its element.
	const reply = "Your order is **on its way** and _should arrive Friday_. Track it with `track --order 1042` at " +
		"https://example.com/track?order=1042&ref=chat. or read [the FAQ](https://example.com/faq#shipping).\n" +
		"[click here](javascript:alert(1)) <img src=x onerror=alert(1)> <img src=x onerror=\"window.__pwned=1\">"
	m, _, err := alice.SendMessage(ctx, c.ID, sb.ThreadPublic, reply, "")
	if err != nil {
		t.Fatal(err)
	}
	type link struct{ Href, Rel, Target, Text string }
	type shown struct {
		Strong, Em, Code []string
		Links            []link
		Text             string
		Lines            int
		Split            int // text nodes right after another: a run of text broken up
		Injected         int
	}
	live := waitWidget(customer, "the live reply", fmt.Sprintf(`(root) => {
		const b = root.querySelector('.msg[data-seq="%d"] .bubble');
		if (!b) return null;
		const texts = (sel) => Array.from(b.querySelectorAll(sel), (e) => e.textContent);
		return {
			Strong: texts("strong"), Em: texts("em"), Code: texts("code"),
			Links: Array.from(b.querySelectorAll("a"), (a) => ({Href: a.getAttribute("href"), Rel: a.getAttribute("rel"), Target: a.getAttribute("target"), Text: a.textContent})),
			Text: b.textContent, Lines: b.querySelectorAll("br").length,
			Split: Array.from([b, ...b.querySelectorAll("*")], (e) => Array.from(e.childNodes).filter((n) => n.nodeType === 3 && n.previousSibling && n.previousSibling.nodeType === 3).length).reduce((a, n) => a + n, 0),
			Injected: root.querySelectorAll("img, script, iframe, object, embed, [onerror], [onload], [onmouseover], a[href^='javascript:' i], a[href^='data:' i]").length,
		};
	}`, m.Seq), func(s *shown) bool { return s != nil })
	const rel = "noopener noreferrer nofollow ugc" // the workspace's own
	wantShown := shown{
		Strong: []string{"on its way"}, Em: []string{"should arrive Friday"}, Code: []string{"track --order 1042"},
		Links: []link{
			{"https://example.com/track?order=1042&ref=chat", rel, "_blank", "https://example.com/track?order=1042&ref=chat"},
			{"https://example.com/faq#shipping", rel, "_blank", "the FAQ"},
		},
		Lines: 1,
	}
	for _, part := range []string{"[click here](javascript:alert(1))", "<img src=x onerror=alert(1)>", `<img src=x onerror="window.__pwned=1">`} {
		if !strings.Contains(live.Text, part) {
			t.Errorf("the reply does not show %q as text: %q", part, live.Text)
		}
	}
	live.Text = ""
	if !reflect.DeepEqual(*live, wantShown) {
		t.Errorf("the live reply shows\n %+v\nwant\n %+v", *live, wantShown)
	}
	compareBodies(t, workspaceBodies(t, customer, o, c.ID, m.Seq-1), waitWidget(customer, "the live reply", widgetBodiesJS,
		func(map[string]string) bool { return true }))

	if got := eval[string](customer, `String(window.__pwned)`); got != "undefined" {
		t.Errorf("window.__pwned is %s in the widget: a payload ran", got)
	}
	if n := dialogs.Load(); n > 0 {
		t.Errorf("%d alert dialogs opened: a payload ran", n)
	}
	checkConsole(t, customer)
}

// serializeJS writes a node as the markup it stands for: tags, every
// attribute, and text (with line ends as the HTML parser reads them).
const serializeJS = `(n) => {
	const ser = (n) => n.nodeType === 3 ? n.data.replace(/\r\n?/g, "\n").replace(/&/g, "&amp;").replace(/</g, "&lt;")
		: n.nodeType !== 1 ? "" : "<" + n.localName + Array.from(n.attributes, (a) => " " + a.name + "=" + JSON.stringify(a.value)).sort().join("") + ">" +
			Array.from(n.childNodes, ser).join("") + "</" + n.localName + ">";
	return ser(n);
}`

// widgetBodiesJS maps each message's seq to its bubble's markup, without
// the sender's name for screen readers.
const widgetBodiesJS = `(root) => {
	const out = {};
	for (const m of root.querySelectorAll(".msg[data-seq]")) {
		const b = m.querySelector(".bubble");
		if (b) out[m.dataset.seq] = Array.from(b.childNodes).filter((n) => !(n.classList && n.classList.contains("sr"))).map(` + serializeJS + `).join("");
	}
	return out;
}`

// workspaceBodies maps the seq of each message after seq after to the
// markup of its body as the workspace renders it, read by the browser's
// HTML parser in an inert document.
func workspaceBodies(t *testing.T, tb *tab, o *org, convID, after int64) map[string]string {
	t.Helper()
	res, err := get(t, o.env, o.alice, fmt.Sprintf("/app/c/%d/messages?after=%d", convID, after))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	html, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("the workspace's messages: %d %v", res.StatusCode, err)
	}
	arg, _ := json.Marshal(string(html))
	return eval[map[string]string](tb, `((html) => {
		const doc = new DOMParser().parseFromString(html, "text/html"), out = {};
		for (const li of doc.querySelectorAll("li.msg[data-seq]")) {
			const b = li.querySelector(".msg-body");
			if (b) out[li.dataset.seq] = Array.from(b.childNodes).map(`+serializeJS+`).join("");
		}
		return out;
	})(`+string(arg)+`)`)
}

func compareBodies(t *testing.T, want, got map[string]string) {
	t.Helper()
	for seq, w := range want {
		if got[seq] != w {
			t.Errorf("message %s differs\n widget:    %s\n workspace: %s", seq, got[seq], w)
		}
	}
}

// formatCorpus is what the formatter must agree on: the cases of
// web/workspace_format_test.go, nested and unbalanced marks, and random
// mixtures of marks, links, lists and HTML (the same every run).
//
// Left out: a mark next to a non-ASCII space or a letter such as "à"
// (_voilà_). The workspace tests single bytes of UTF-8 for spaces there, so
// some letters count as spaces; the widget tests characters.
func formatCorpus() []string {
	corpus := []string{
		`a < b & "c"`, "a **b** c", "*a* and _b_", "my_var_name and 2*3*4", "window.__pwned=1 __init__",
		"run `a **b** <c>`", "```\n<b>x</b>\n```", "```go\nfmt.Println(\"hi\")\n  ```\nafter", "one\ntwo\r\nthree\rfour",
		"- a\n- b\n1. c\n22. d\ntext", "* star\n   - indented\n12345. not a list", "[docs](https://example.com/a?b=1&c=2)",
		"see https://example.com/x.", "[x](javascript:alert(1))", "[x](data:text/html,hi)", "[x](JaVaScRiPt:alert(1))",
		"<script>alert(1)</script>", `[x](https://e.com/"onmouseover="a)`, "**bold _italic_ bold**", "_italic **bold** italic_",
		"**a _b** c_", "_a **b_ c**", "***a***", "`a**b`**", "**`x**`", "**unclosed bold", "_unclosed", "`unclosed",
		"**", "__", "``", "```", "a\n\nb", "HTTPS://EXAMPLE.COM/UP and [up](HTTPS://EXAMPLE.COM)",
		"http://localhost:8080/x_y_z?q=a*b*c", "(https://example.com/paren)", `'_quoted_' "*double*" [*bracket*] {_brace_}`,
		"_é_ *😀* _x_y _ü_ü", "[a [b](https://e.com) c](https://f.com)", "mailto:someone@example.com [mail](mailto:a@b.c)",
		"https://user@example.com:443/p?q#f https://e.com:x/ https://[::1]:80/ https://a:1:2/", "https://e.com/%zz https://e.com/?%zz",
		`<img src=x onerror=alert(1)>`, `"'><svg onload=alert(1)>`, "\u202Eevil.exe", "[**not bold**](https://e.com/a_b_)",
	}
	toks := []string{"**", "*", "_", "`", "```", "[", "](", ")", "https://e.com/", "http://x.y/a_b", "https://", "HTTPS://E.com",
		"javascript:", " ", "  ", "\n", "\r\n", "- ", "* ", "1. ", "a", "b", "é", "😀", "(", "'", `"`, ".", ",", "!", "?",
		"<b>", "<img src=x onerror=alert(1)>", "&", "%", "%zz", "@", ":", "[::1]", `\`, "#", "?q=1", "/", "\t", "x_y", "2*3"}
	r := rand.New(rand.NewPCG(1, 2))
	for len(corpus) < 110 {
		var b strings.Builder
		for range 1 + r.IntN(14) {
			b.WriteString(toks[r.IntN(len(toks))])
		}
		if s := b.String(); strings.TrimSpace(s) != "" && !slices.Contains(corpus, s) {
			corpus = append(corpus, s)
		}
	}
	return corpus
}

// inWidget calls fn, a JavaScript function, with the widget's closed shadow
// root and decodes its JSON result; before the widget is drawn, it returns
// the zero value.
func inWidget[T any](tb *tab, fn string) T {
	tb.h.t.Helper()
	var out T
	tb.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		doc, err := cdp.Call(ctx, t, dom.GetDocument, dom.GetDocumentParams{Depth: new(int64(-1)), Pierce: new(true)})
		if err != nil {
			return err
		}
		var shadow cdp.BackendNodeID
		var find func(n *cdp.Node)
		find = func(n *cdp.Node) {
			if n == nil || shadow != 0 {
				return
			}
			if n.NodeName == "SWITCHBOARD-WIDGET" && len(n.ShadowRoots) > 0 {
				shadow = n.ShadowRoots[0].BackendNodeID
			}
			for _, c := range n.Children {
				find(c)
			}
		}
		find(doc.Root)
		if shadow == 0 {
			return nil
		}
		obj, err := cdp.Call(ctx, t, dom.ResolveNode, dom.ResolveNodeParams{BackendNodeID: shadow})
		if err != nil {
			return err
		}
		defer cdp.Call(ctx, t, runtime.ReleaseObject, runtime.ReleaseObjectParams{ObjectID: obj.Object.ObjectID})
		res, err := cdp.Call(ctx, t, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
			FunctionDeclaration: "function () { return JSON.stringify((" + fn + ")(this)); }",
			ObjectID:            obj.Object.ObjectID, ReturnByValue: new(true),
		})
		if err != nil {
			return err
		}
		if ex := res.ExceptionDetails; ex != nil {
			if ex.Exception != nil {
				return fmt.Errorf("in the widget: %s", ex.Exception.Description)
			}
			return fmt.Errorf("in the widget: %s", ex.Text)
		}
		var s string
		if err := json.Unmarshal(res.Result.Value, &s); err != nil {
			return err
		}
		return json.Unmarshal([]byte(s), &out)
	}))
	return out
}

// waitWidget polls fn in the widget until ready accepts what it returns.
func waitWidget[T any](tb *tab, what, fn string, ready func(T) bool) T {
	tb.h.t.Helper()
	deadline := time.Now().Add(2 * step)
	for {
		v := inWidget[T](tb, fn)
		if ready(v) {
			return v
		}
		if time.Now().After(deadline) {
			tb.h.t.Fatalf("%s: waiting for %s in the widget; last saw %+v", tb.name, what, v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
