package web

import (
	"context"
	"errors"
	"net/http"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
)

// access is who may call a route, and how they prove it.
type access int

const (
	public    access = iota // anyone; no credentials read
	staff                   // a session cookie (CSRF-checked on writes) or an API token (sba_…)
	visitor                 // a widget visitor token (sbv_…)
	websocket               // the WebSocket endpoint authenticates its clients itself
	page                    // a workspace page: a session cookie; the signed-out are sent to /login (workspace.go)
)

// String names the access kind, as Route.Access reports it.
func (a access) String() string {
	return [...]string{"public", "staff", "visitor", "websocket", "page"}[a]
}

// handlerFunc is a route's handler: p is the authenticated caller (nil
// for public routes). A returned error is answered as JSON by wrap.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p *sb.Principal) error

type route struct {
	method  string
	pattern string
	access  access
	handle  handlerFunc
}

// routeTable is every route of the server, in one place. The OpenAPI test
// and the authorisation-matrix test enumerate it through Routes.
func (s *Server) routeTable() []route {
	const v1 = "/api/v1"
	return []route{
		// Operations and documents.
		{"GET", "/healthz", public, s.healthz},
		{"GET", "/readyz", public, s.readyz},
		{"GET", "/metrics", public, s.serveMetrics},
		{"GET", v1 + "/openapi.json", public, s.openAPIDoc},
		{"GET", "/widget.js", public, s.widgetScript},
		{"GET", "/demo", public, s.demoPage},
		{"GET", "/{$}", public, s.indexPage},

		// Realtime.
		{"GET", v1 + "/ws", websocket, s.webSocket},

		// The workspace (workspace*.go): pages, the fragments they fetch, static files.
		{"GET", "/login", public, s.loginPage},
		{"GET", "/app/static/{file...}", public, s.serveWorkspaceStatic},
		{"GET", "/app", page, s.workspacePage},
		{"GET", "/app/c/{id}", page, s.workspacePage},
		{"GET", "/app/contacts/{id}", page, s.contactPage},
		{"GET", "/app/board", page, s.boardPage},
		{"GET", "/app/agents/{id}", page, s.agentPage},
		{"GET", "/app/settings", page, s.settingsPage},
		{"GET", "/app/settings/{section}", page, s.settingsPage},
		{"GET", "/app/list", staff, s.workspaceList},
		{"GET", "/app/counters", staff, s.workspaceCounters},
		{"GET", "/app/export", staff, s.workspaceExport},
		{"GET", "/app/c/{id}/pane", staff, s.workspacePane},
		{"GET", "/app/c/{id}/head", staff, s.workspaceHeader},
		{"GET", "/app/c/{id}/info", staff, s.workspaceInfo},
		{"GET", "/app/c/{id}/messages", staff, s.workspaceMessages},
		{"GET", "/app/c/{id}/summary", staff, s.workspaceSummary},

		// Sessions, the caller, API tokens.
		{"POST", v1 + "/auth/login", public, s.login},
		{"POST", v1 + "/auth/logout", staff, s.logout},
		{"GET", v1 + "/me", staff, s.me},
		{"PATCH", v1 + "/me", staff, s.updateMe},
		{"PUT", v1 + "/me/password", staff, s.changePassword},
		{"PUT", v1 + "/me/presence", staff, s.setPresence},
		{"GET", v1 + "/tokens", staff, s.listTokens},
		{"POST", v1 + "/tokens", staff, s.createToken},
		{"DELETE", v1 + "/tokens/{id}", staff, s.deleteToken},

		// People and places.
		{"GET", v1 + "/users", staff, s.listUsers},
		{"POST", v1 + "/users", staff, s.createUser},
		{"GET", v1 + "/users/{id}", staff, s.getUser},
		{"PATCH", v1 + "/users/{id}", staff, s.updateUser},
		{"GET", v1 + "/inboxes", staff, s.listInboxes},
		{"POST", v1 + "/inboxes", staff, s.createInbox},
		{"GET", v1 + "/inboxes/{id}", staff, s.getInbox},
		{"PATCH", v1 + "/inboxes/{id}", staff, s.updateInbox},
		{"PUT", v1 + "/inboxes/{id}/members/{user_id}", staff, s.addInboxMember},
		{"DELETE", v1 + "/inboxes/{id}/members/{user_id}", staff, s.removeInboxMember},
		{"GET", v1 + "/departments", staff, s.listDepartments},
		{"POST", v1 + "/departments", staff, s.createDepartment},
		{"GET", v1 + "/departments/{id}", staff, s.getDepartment},
		{"PATCH", v1 + "/departments/{id}", staff, s.updateDepartment},
		{"DELETE", v1 + "/departments/{id}", staff, s.deleteDepartment},

		// Conversations.
		{"GET", v1 + "/conversations", staff, s.listConversations},
		{"GET", v1 + "/conversations/{id}", staff, s.getConversation},
		{"PATCH", v1 + "/conversations/{id}", staff, s.updateConversation},
		{"GET", v1 + "/conversations/{id}/messages", staff, s.listMessages},
		{"POST", v1 + "/conversations/{id}/messages", staff, s.sendMessage},
		{"POST", v1 + "/conversations/{id}/take", staff, s.takeConversation},
		{"POST", v1 + "/conversations/{id}/end", staff, s.endConversation},
		{"POST", v1 + "/conversations/{id}/tickets", staff, s.createLinkedTicket},
		{"GET", v1 + "/conversations/{id}/history", staff, s.conversationHistory},
		{"GET", v1 + "/conversations/{id}/notes", staff, s.listNotes},
		{"POST", v1 + "/conversations/{id}/notes", staff, s.addNote},
		{"POST", v1 + "/conversations/{id}/attachments", staff, s.upload},
		{"POST", v1 + "/conversations/{id}/block", staff, s.blockFromConversation},
		{"GET", v1 + "/attachments/{id}", staff, s.download},
		{"GET", v1 + "/contacts/{id}", staff, s.getContact},
		{"GET", v1 + "/contacts/{id}/conversations", staff, s.contactConversations},

		// Routing (routing.go): offers, transfers, supervisor assignment, tickets.
		{"GET", v1 + "/me/offers", staff, s.listOffers},
		{"GET", v1 + "/me/transfers", staff, s.listTransfers},
		{"POST", v1 + "/offers/{id}/accept", staff, s.acceptOffer},
		{"POST", v1 + "/offers/{id}/decline", staff, s.declineOffer},
		{"POST", v1 + "/transfers/{id}/accept", staff, s.answerTransfer(true)},
		{"POST", v1 + "/transfers/{id}/reject", staff, s.answerTransfer(false)},
		{"POST", v1 + "/conversations/{id}/transfer", staff, s.requestTransfer},
		{"POST", v1 + "/conversations/{id}/assign", staff, s.assignConversation},
		{"GET", v1 + "/conversations/{id}/candidates", staff, s.candidates},
		{"POST", v1 + "/conversations/{id}/ticket/assign", staff, s.assignTicket},
		{"POST", v1 + "/conversations/{id}/ticket/close", staff, s.closeTicket},
		{"POST", v1 + "/conversations/{id}/ticket/reopen", staff, s.reopenTicket},

		// Catalogues.
		{"GET", v1 + "/categories", staff, s.listCategories},
		{"POST", v1 + "/categories", staff, s.createCategory},
		{"DELETE", v1 + "/categories/{id}", staff, s.deleteCategory},
		{"GET", v1 + "/canned-responses", staff, s.listCanned},
		{"POST", v1 + "/canned-responses", staff, s.createCanned},
		{"PATCH", v1 + "/canned-responses/{id}", staff, s.updateCanned},
		{"DELETE", v1 + "/canned-responses/{id}", staff, s.deleteCanned},
		{"GET", v1 + "/blocks", staff, s.listBlocks},
		{"POST", v1 + "/blocks", staff, s.createBlock},
		{"DELETE", v1 + "/blocks/{id}", staff, s.deleteBlock},

		// The widget's visitor API (CORS-enabled, no cookies; an inbox's
		// allowed origins are checked in widget.go and authVisitor).
		{"GET", v1 + "/widget/inboxes/{id}", public, s.widgetInbox},
		{"POST", v1 + "/widget/visitors", public, s.createVisitor},
		{"PATCH", v1 + "/widget/me", visitor, s.updateVisitor},
		{"GET", v1 + "/widget/conversations", visitor, s.widgetConversations},
		{"POST", v1 + "/widget/conversations", visitor, s.startConversation},
		{"GET", v1 + "/widget/conversations/{id}/messages", visitor, s.widgetMessages},
		{"POST", v1 + "/widget/conversations/{id}/messages", visitor, s.widgetSend},
		{"POST", v1 + "/widget/conversations/{id}/attachments", visitor, s.upload},
		{"GET", v1 + "/widget/attachments/{id}", visitor, s.download},
		{"POST", v1 + "/widget/conversations/{id}/human", visitor, s.requestHuman},
		{"POST", v1 + "/widget/conversations/{id}/end", visitor, s.endConversation},
	}
}

// wrap authenticates a request as its route requires and answers the
// handler's error, if any.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setRoute(r, rt.pattern)
		var p *sb.Principal
		var err error
		switch rt.access {
		case staff:
			var creds credentials
			p, creds, err = s.authStaff(r)
			if err == nil {
				r = r.WithContext(context.WithValue(r.Context(), credentialsKey{}, creds))
			}
		case visitor:
			p, err = s.authVisitor(r)
		case websocket:
			// The endpoint authenticates in hello. Hijacking the connection
			// lifts the server's read and write time-outs (net/http clears
			// the deadlines); the endpoint keeps its own ping time-outs.
		case page:
			var creds credentials
			var ok bool
			if p, creds, ok, err = s.authPage(w, r); err == nil && !ok {
				return // sent to the login page
			}
			r = r.WithContext(context.WithValue(r.Context(), credentialsKey{}, creds))
		}
		if err == nil {
			err = rt.handle(w, r, p)
		}
		if errors.Is(err, app.ErrOriginNotAllowed) {
			withdrawCORS(w.Header())
		}
		if err != nil && rt.access == page {
			s.pageError(w, r, err)
		} else if err != nil {
			s.writeError(w, r, err)
		}
	})
}
