package web

import (
	"net/http"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/routing"
)

// Routing handlers (issue 3): offers, transfers, supervisor assignment,
// tickets. Each parses, calls the app layer (which authorises) and answers.

// transferAnswer is the answer of a transfer request or its answer: the
// conversation as it stands, and the request (null for a transfer to an
// inbox or a department, which has none).
type transferAnswer struct {
	Conversation *sb.Conversation `json:"conversation"`
	Transfer     *sb.Transfer     `json:"transfer"`
}

func (s *Server) listOffers(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	offers, err := s.svc.Offers(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, items(offers))
	return nil
}

func (s *Server) listTransfers(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	transfers, err := s.svc.Transfers(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, items(transfers))
	return nil
}

func (s *Server) acceptOffer(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	return s.conversationAction(w, r, p, func(r *http.Request, p *sb.Principal, id int64) (*sb.Conversation, error) {
		return s.svc.AcceptOffer(r.Context(), p, id)
	})
}

func (s *Server) declineOffer(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	return s.conversationAction(w, r, p, func(r *http.Request, p *sb.Principal, id int64) (*sb.Conversation, error) {
		return s.svc.DeclineOffer(r.Context(), p, id)
	})
}

func (s *Server) answerTransfer(accept bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		c, t, err := s.svc.AnswerTransfer(r.Context(), p, id, accept)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, transferAnswer{c, t})
		return nil
	}
}

func (s *Server) requestTransfer(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req routing.TransferRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	c, t, err := s.svc.RequestTransfer(r.Context(), p, id, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, transferAnswer{c, t})
	return nil
}

func (s *Server) assignConversation(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req routing.AssignRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	c, err := s.svc.Assign(r.Context(), p, id, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) candidates(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	dept, _, err := queryInt(r, "department_id")
	if err != nil {
		return err
	}
	list, err := s.svc.Candidates(r.Context(), p, id, dept)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, items(list))
	return nil
}

func (s *Server) assignTicket(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req struct {
		UserID int64 `json:"user_id"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.UserID <= 0 {
		return sb.Errorf(sb.EINVALID, "user_id must be a positive integer.")
	}
	c, err := s.svc.AssignTicket(r.Context(), p, id, req.UserID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *Server) closeTicket(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	return s.conversationAction(w, r, p, func(r *http.Request, p *sb.Principal, id int64) (*sb.Conversation, error) {
		return s.svc.CloseTicket(r.Context(), p, id)
	})
}

func (s *Server) reopenTicket(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	return s.conversationAction(w, r, p, func(r *http.Request, p *sb.Principal, id int64) (*sb.Conversation, error) {
		return s.svc.ReopenTicket(r.Context(), p, id)
	})
}
