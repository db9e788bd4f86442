package web

import (
	"context"
	"net/http"

	sb "github.com/switchboard/switchboard"
	"github.com/switchboard/switchboard/app"
)

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	us, err := s.svc.Users(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, items(us))
	return nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	var req app.NewUser
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	u, err := s.svc.CreateUser(r.Context(), p, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, u)
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u, err := s.svc.User(r.Context(), p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req app.UserPatch
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	u, err := s.svc.UpdateUser(r.Context(), p, id, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) listInboxes(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	ins, err := s.svc.Inboxes(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, items(ins))
	return nil
}

func (s *Server) createInbox(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	var req app.NewInbox
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	in, err := s.svc.CreateInbox(r.Context(), p, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, in)
	return nil
}

func (s *Server) getInbox(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	in, err := s.svc.Inbox(r.Context(), p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, in)
	return nil
}

func (s *Server) updateInbox(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req app.InboxPatch
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	in, err := s.svc.UpdateInbox(r.Context(), p, id, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, in)
	return nil
}

func (s *Server) addInboxMember(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	return s.changeMember(w, r, p, s.svc.AddInboxMember)
}

func (s *Server) removeInboxMember(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	return s.changeMember(w, r, p, s.svc.RemoveInboxMember)
}

func (s *Server) changeMember(w http.ResponseWriter, r *http.Request, p *sb.Principal,
	change func(ctx context.Context, p *sb.Principal, inboxID, userID int64) error) error {
	inboxID, err := pathID(r, "id")
	if err != nil {
		return err
	}
	userID, err := pathID(r, "user_id")
	if err != nil {
		return err
	}
	if err := change(r.Context(), p, inboxID, userID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listDepartments(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	ds, err := s.svc.Departments(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, items(ds))
	return nil
}

func (s *Server) createDepartment(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	var req app.NewDepartment
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	d, err := s.svc.CreateDepartment(r.Context(), p, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, d)
	return nil
}

func (s *Server) getDepartment(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	d, err := s.svc.Department(r.Context(), p, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) updateDepartment(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req app.DepartmentPatch
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	d, err := s.svc.UpdateDepartment(r.Context(), p, id, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) deleteDepartment(w http.ResponseWriter, r *http.Request, p *sb.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.svc.DeleteDepartment(r.Context(), p, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
