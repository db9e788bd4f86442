package browsertest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/store"
)

// widgetTicketState is what the widget shows of its conversation.
type widgetTicketState struct {
	Composer, Ended   bool   // the composer is shown; "Start a new chat" is shown
	Status            string // the status line
	Sections          int    // conversations shown
	EndMarks          int    // "Chat ended" marks
	Mine, Sending     []string
	Them, System      []string
	ActiveIsTextarea  bool
	LastSectionHasAll bool // every message of the customer is in the last conversation shown
}

const widgetTicketJS = `(root) => {
	const texts = (sel) => Array.from(root.querySelectorAll(sel), (e) => e.textContent);
	const secs = root.querySelectorAll('section');
	const last = secs[secs.length - 1];
	const mine = root.querySelectorAll('.msg.me[data-seq]');
	return {
		Composer: !root.querySelector('.composer').hidden, Ended: !root.querySelector('.ended').hidden,
		Status: root.querySelector('.status').textContent, Sections: secs.length,
		EndMarks: texts('section > .divider').filter((t) => t.startsWith('Chat ended')).length,
		Mine: texts('.msg.me[data-seq] .bubble'), Sending: texts('.msg.me:not([data-seq]) .meta'),
		Them: texts('.msg.them[data-seq] .bubble'), System: texts('.msg.sys[data-seq] .bubble'),
		ActiveIsTextarea: !!root.activeElement && root.activeElement.tagName === 'TEXTAREA',
		LastSectionHasAll: !!last && Array.from(mine).every((m) => last.contains(m)),
	};
}`

// count counts the strings that contain sub.
func count(list []string, sub string) int {
	n := 0
	for _, s := range list {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

// Out of hours, a customer's chat becomes a ticket (R7, R8). The widget
// keeps the composer: what the customer writes joins the ticket (once, no
// second out-of-hours message), the agent's reply to the ticket arrives
// live, a closed ticket shows as ended, and "Start a new chat" reopens it
// in place rather than showing a second conversation.
func TestWidgetTicketStaysWritable(t *testing.T) {
	o := newOrg(t)
	const away = "We are closed today; we will answer tomorrow."
	today := time.Now().UTC().Format("2006-01-02")
	o.settings(t, func(s *sb.InboxSettings) {
		s.BusinessHours = sb.BusinessHours{TimeZone: "UTC", Holidays: []string{today}}
		s.OutOfHoursMessage = away
	})
	h := newHarness(t, o.env)
	ctx := context.Background()

	customer := h.open("customer")
	customer.do(chromedp.Navigate(o.env.URL + "/demo"))
	customer.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`localStorage.setItem("switchboard:%s:inbox:%d:profile", "1")`, o.env.URL, o.inbox.ID)))
	customer.do(chromedp.Navigate(o.env.URL + "/demo"))
	customer.wait("the widget", `window.Switchboard && window.Switchboard.widget`)
	customer.do(chromedp.Evaluate[chromedp.Void](`Switchboard.open()`))
	waitWidget(customer, "the focused composer", widgetTicketJS, func(s widgetTicketState) bool { return s.ActiveIsTextarea })
	customer.typeKeys("My invoice shows the wrong address.")
	customer.press("Enter")

	// The chat becomes a ticket; the widget still takes messages.
	conversations := func() []*sb.Conversation {
		t.Helper()
		cs, err := o.env.DB.Conversations(ctx, store.ConversationFilter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	var ticket *sb.Conversation
	deadline := time.Now().Add(step)
	for ticket == nil {
		if cs := conversations(); len(cs) == 1 && cs[0].Ticket == sb.TicketUnassigned {
			ticket = cs[0]
		} else if time.Now().After(deadline) {
			t.Fatalf("the out-of-hours chat did not become a ticket: %+v", cs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s := waitWidget(customer, "the ticket shown as writable", widgetTicketJS, func(s widgetTicketState) bool {
		return s.Composer && strings.Contains(s.Status, "reply here") && count(s.System, away) == 1
	})
	if s.Ended || s.EndMarks != 0 {
		t.Errorf("the open ticket shows as ended: %+v", s)
	}

	// The customer writes again: it joins the ticket, once, and is acknowledged.
	waitWidget(customer, "the focused composer", widgetTicketJS, func(s widgetTicketState) bool { return s.ActiveIsTextarea })
	customer.typeKeys("It should be 12 Rue de la Paix.")
	customer.press("Enter")
	s = waitWidget(customer, "the follow-up acknowledged", widgetTicketJS, func(s widgetTicketState) bool {
		return count(s.Mine, "Rue de la Paix") > 0 && len(s.Sending) == 0
	})
	if count(s.Mine, "Rue de la Paix") != 1 || s.Sections != 1 || !s.LastSectionHasAll || !s.Composer || count(s.System, away) != 1 {
		t.Errorf("after the follow-up the widget shows %+v", s)
	}
	if cs := conversations(); len(cs) != 1 || cs[0].ID != ticket.ID || cs[0].Ticket != sb.TicketUnassigned {
		t.Fatalf("the follow-up did not join the ticket: %+v", cs)
	}

	// A supervisor assigns the ticket; the agent's reply arrives live.
	sam, alice := o.env.SessionClient(t, o.sam), o.env.SessionClient(t, o.alice)
	if _, err := sam.AssignTicket(ctx, ticket.ID, o.alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := alice.SendMessage(ctx, ticket.ID, sb.ThreadPublic, "Sorry about that: I have corrected the address.", ""); err != nil {
		t.Fatal(err)
	}
	s = waitWidget(customer, "the agent's reply", widgetTicketJS, func(s widgetTicketState) bool {
		return count(s.Them, "corrected the address") == 1
	})
	if !s.Composer || s.Ended {
		t.Errorf("the assigned ticket does not take messages: %+v", s)
	}

	// Closed: ended, with "Start a new chat".
	if _, err := sam.CloseTicket(ctx, ticket.ID); err != nil {
		t.Fatal(err)
	}
	waitWidget(customer, "the closed ticket shown as ended", widgetTicketJS, func(s widgetTicketState) bool {
		return s.Ended && !s.Composer && s.EndMarks == 1 && strings.Contains(s.Status, "Chat ended")
	})

	// Its first message reopens the ticket (still out of hours): the widget
	// shows it in that conversation, not in a second one.
	inWidget[bool](customer, `(root) => { root.querySelector('.ended button').click(); return true; }`)
	waitWidget(customer, "the composer of a new chat", widgetTicketJS, func(s widgetTicketState) bool { return s.Composer && s.ActiveIsTextarea })
	customer.typeKeys("The invoice came back wrong again.")
	customer.press("Enter")
	s = waitWidget(customer, "the reopened ticket", widgetTicketJS, func(s widgetTicketState) bool {
		return count(s.Mine, "came back wrong") > 0 && len(s.Sending) == 0 && s.EndMarks == 0 && count(s.System, away) == 2 &&
			strings.Contains(s.Status, "reply here")
	})
	if count(s.Mine, "came back wrong") != 1 || s.Sections != 1 || !s.LastSectionHasAll || !s.Composer || s.Ended {
		t.Errorf("after reopening the widget shows %+v", s)
	}
	if cs := conversations(); len(cs) != 1 || cs[0].ID != ticket.ID || cs[0].Ticket == sb.TicketClosed {
		t.Fatalf("the message did not reopen the ticket: %+v", cs)
	}
	checkConsole(t, customer)
}
