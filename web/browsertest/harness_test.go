// Package browsertest drives the workspace and the widget in real headless
// Chromium (chromedp) against a real server (webtest), for the journeys of
// docs/workspace.md. Without Chromium the tests skip on a laptop and fail
// under CI=true. A failing test saves a screenshot of every browser it
// opened into its artifact directory (go test -artifacts keeps it) and into
// $TMPDIR/switchboard-browsertest.
package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/web/webtest"
)

// chromium finds the browser: $CHROMIUM, then the usual names. Under
// CI=true a missing browser fails the test; elsewhere it skips.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is not installed; CI must run the browser tests (.ci/run installs it)")
	}
	t.Skip("Chromium is not installed; skipping the browser tests")
	return ""
}

// step bounds one browser step; the journeys wait for live updates with it.
const step = 15 * time.Second

// harness is one browser for one test, with a tab per person (each in its
// own browser context, so cookies and storage are separate).
type harness struct {
	t       *testing.T
	env     *webtest.Env
	browser context.Context
	mu      sync.Mutex
	tabs    []*tab
}

// newHarness starts Chromium and, unless given one, a server.
func newHarness(t *testing.T, env *webtest.Env) *harness {
	t.Helper()
	exe := chromium(t)
	if env == nil {
		env = webtest.New(t, webtest.Options{})
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("start Chromium: %v", err)
	}
	h := &harness{t: t, env: env, browser: bctx}
	t.Cleanup(func() {
		if t.Failed() {
			h.screenshots()
		}
		cancelBrowser()
		cancelAlloc()
	})
	return h
}

// tab is one person's browser tab.
type tab struct {
	h       *harness
	name    string
	ctx     context.Context
	mu      sync.Mutex
	console []string
}

// open gives a person a tab of their own at 1280×800.
func (h *harness) open(name string) *tab {
	h.t.Helper()
	ctx, _ := chromedp.NewContext(h.browser, chromedp.WithNewBrowserContext())
	tb := &tab{h: h, name: name, ctx: ctx}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		h.t.Fatalf("%s: open tab: %v", name, err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line+1))
			tb.mu.Unlock()
		}
	}()
	h.mu.Lock()
	h.tabs = append(h.tabs, tb)
	h.mu.Unlock()
	return tb
}

// screenshots saves what every tab shows, for a failing test.
func (h *harness) screenshots() {
	dirs := []string{h.t.ArtifactDir(), filepath.Join(os.TempDir(), "switchboard-browsertest")}
	for _, tb := range h.tabs {
		ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
		buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		cancel()
		if err != nil {
			h.t.Logf("%s: screenshot: %v", tb.name, err)
			continue
		}
		name := strings.NewReplacer("/", "_", " ", "_").Replace(h.t.Name() + "-" + tb.name + ".png")
		for _, d := range dirs {
			if err := os.MkdirAll(d, 0o755); err == nil {
				p := filepath.Join(d, name)
				if os.WriteFile(p, buf, 0o644) == nil {
					h.t.Logf("%s: screenshot saved to %s", tb.name, p)
				}
			}
		}
		tb.mu.Lock()
		for _, line := range tb.console {
			h.t.Logf("%s console: %s", tb.name, line)
		}
		tb.mu.Unlock()
	}
}

// do runs browser steps, failing the test on an error.
func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.h.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 2*step)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.h.t.Fatalf("%s: %v", tb.name, err)
	}
}

// click clicks what a CSS selector finds, with the mouse. Live updates may
// replace the element between finding and clicking it; then it finds it
// again.
func (tb *tab) click(sel string) {
	tb.h.t.Helper()
	var err error
	for range 5 {
		ctx, cancel := context.WithTimeout(tb.ctx, step)
		err = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel)))
		cancel()
		if err == nil || !strings.Contains(err.Error(), "Could not find node") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		tb.h.t.Fatalf("%s: click %s: %v", tb.name, sel, err)
	}
}

// eval evaluates JavaScript in the page and returns its value.
func eval[T any](tb *tab, js string) T {
	tb.h.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, step)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAsValue))
	if err != nil {
		tb.h.t.Fatalf("%s: evaluate %q: %v", tb.name, js, err)
	}
	return v
}

// wait polls a JavaScript predicate until it is truthy.
func (tb *tab) wait(what, js string) {
	tb.h.t.Helper()
	deadline := time.Now().Add(step)
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, step+5*time.Second)
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(100*time.Millisecond)))
		cancel()
		if err == nil {
			return
		}
		// The page reloaded under the poll: poll the new one.
		reloaded := strings.Contains(err.Error(), "Cannot find context") || strings.Contains(err.Error(), "context was destroyed") ||
			strings.Contains(err.Error(), "navigated or closed") || strings.Contains(err.Error(), "Not attached")
		if !reloaded || time.Now().After(deadline) {
			tb.h.t.Fatalf("%s: waiting for %s: %v", tb.name, what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// text returns the text of the first element a CSS selector finds ("" if none).
func (tb *tab) text(sel string) string {
	tb.h.t.Helper()
	return eval[string](tb, fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, sel))
}

// signIn sets the session cookie of u (signed in through the API), so a
// test starts in the workspace without typing.
func (tb *tab) signIn(u *sb.User) {
	tb.h.t.Helper()
	c := tb.h.env.SessionClient(tb.h.t, u)
	ck := c.SessionCookie()
	tb.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.SetCookie, network.SetCookieParams{
			Name: ck.Name, Value: ck.Value, URL: tb.h.env.URL + "/", Path: "/", HTTPOnly: new(true),
			SameSite: network.CookieSameSiteLax,
		})
		return err
	}))
}

// goTo opens a workspace path and waits until its scripts are running.
func (tb *tab) goTo(path string) {
	tb.h.t.Helper()
	for i := 0; ; i++ {
		// A page that reloads itself (a saved settings form) may abort a
		// navigation started at the same moment: then go again.
		ctx, cancel := context.WithTimeout(tb.ctx, step)
		err := chromedp.Do(ctx, chromedp.Navigate(tb.h.env.URL+path))
		cancel()
		if err == nil {
			break
		}
		if i == 3 || !strings.Contains(err.Error(), "ERR_ABORTED") {
			tb.h.t.Fatalf("%s: open %s: %v", tb.name, path, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	tb.wait("the workspace to start", `!!window.switchboard && (!window.switchboard.rt || window.switchboard.rt.state === "online")`)
}

// shadowText returns the text of the page including every shadow root, open
// or closed (the widget draws inside a closed one), as DevTools sees it.
func (tb *tab) shadowText() string {
	tb.h.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, step)
	defer cancel()
	root, err := chromedp.Call(ctx, dom.GetDocument, dom.GetDocumentParams{Depth: new(int64(-1)), Pierce: new(true)})
	if err != nil {
		tb.h.t.Fatalf("%s: read the DOM: %v", tb.name, err)
	}
	var b strings.Builder
	var walk func(n *cdp.Node)
	walk = func(n *cdp.Node) {
		if n == nil {
			return
		}
		if n.NodeType == 3 { // a text node
			b.WriteString(n.NodeValue)
			b.WriteByte(' ')
		}
		if n.NodeName == "SCRIPT" || n.NodeName == "STYLE" {
			return
		}
		for _, c := range n.ShadowRoots {
			walk(c)
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(root.Root)
	return b.String()
}

// waitShadowText waits until the page's text, shadow roots included, holds want.
func (tb *tab) waitShadowText(what, want string) {
	tb.h.t.Helper()
	deadline := time.Now().Add(step)
	for {
		if strings.Contains(tb.shadowText(), want) {
			return
		}
		if time.Now().After(deadline) {
			tb.h.t.Fatalf("%s: waiting for %s: %q never appeared", tb.name, what, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// typeKeys types text into whatever has the focus, as a person would.
func (tb *tab) typeKeys(s string) {
	tb.h.t.Helper()
	tb.do(chromedp.KeyEvent(s))
}

// press presses one special key (Enter, Tab, Escape, ArrowDown…) with
// optional modifiers, as a keyboard does: keydown, then keyup. Unlike
// KeyEvent("\r"), no char event follows, so a page that handles the key on
// keydown and cancels it sees exactly what a browser would send.
func (tb *tab) press(key string, modifiers ...chromedp.Modifier) {
	tb.h.t.Helper()
	codes := map[string]int64{"Enter": 13, "Tab": 9, "Escape": 27, "ArrowDown": 40, "ArrowUp": 38, "F6": 117}
	code, ok := codes[key]
	domCode := key
	if len(key) == 1 && key[0] >= 'a' && key[0] <= 'z' {
		// A letter: the page sees its keydown (a shortcut), and a letter it
		// did not cancel would be typed by the char event that follows in a
		// real browser; shortcuts cancel it, so none is sent here.
		code, ok, domCode = int64(key[0]-'a'+'A'), true, "Key"+strings.ToUpper(key)
	}
	if !ok {
		tb.h.t.Fatalf("press: unknown key %q", key)
	}
	var mods int64
	for _, m := range modifiers {
		mods |= int64(m)
	}
	tb.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
				Type: typ, Key: key, Code: domCode, Modifiers: mods, WindowsVirtualKeyCode: code, NativeVirtualKeyCode: code,
			})
			if err != nil {
				return err
			}
		}
		return nil
	}))
}

// get fetches a path with u's session, outside the browser.
func get(t *testing.T, env *webtest.Env, u *sb.User, path string) (*http.Response, error) {
	t.Helper()
	c := env.SessionClient(t, u)
	req, err := http.NewRequest("GET", env.URL+path, nil)
	if err != nil {
		return nil, err
	}
	req.AddCookie(c.SessionCookie())
	return env.HTTP.Client().Do(req)
}
