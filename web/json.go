package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	sb "github.com/switchboard/switchboard"
)

// maxJSONBody is the largest JSON request body accepted.
const maxJSONBody = 1 << 20

// statusOf maps each error code to its HTTP status: the one place where codes become statuses.
var statusOf = map[string]int{
	sb.EINVALID:      http.StatusBadRequest,
	sb.EUNAUTHORIZED: http.StatusUnauthorized,
	sb.EFORBIDDEN:    http.StatusForbidden,
	sb.ENOTFOUND:     http.StatusNotFound,
	sb.ECONFLICT:     http.StatusConflict,
	sb.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	sb.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	sb.ERATELIMIT:    http.StatusTooManyRequests,
	sb.EUNAVAILABLE:  http.StatusServiceUnavailable,
	sb.EINTERNAL:     http.StatusInternalServerError,
}

// errorBody is the JSON shape of every error answer.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError answers with err as a JSON error. Only internal errors are
// logged: the others are the client's business and are in its answer.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	err = translateError(err)
	code := sb.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		code, status = sb.EINTERNAL, http.StatusInternalServerError
	}
	if code == sb.EINTERNAL {
		if r.Context().Err() != nil {
			// The client went away mid-request; there is nobody to answer
			// and nothing to fix.
			return
		}
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if code == sb.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
	}
	var body errorBody
	body.Error.Code = code
	body.Error.Message = sb.ErrorMessage(err)
	writeJSON(w, status, body)
}

// translateError turns the standard library's errors that carry a meaning
// for the client into domain errors.
func translateError(err error) error {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return sb.Errorf(sb.ETOOLARGE, "The request body is larger than %d bytes.", tooBig.Limit)
	case errors.Is(err, context.DeadlineExceeded) && sb.ErrorCode(err) == sb.EINTERNAL:
		return sb.Errorf(sb.EUNAVAILABLE, "The server took too long; try again.")
	}
	return err
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own response types are marshalled; failing is a programming error.
		panic("web: marshal response: " + err.Error())
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// list is the shape of every list answer.
type list[T any] struct {
	Items []T `json:"items"`
}

// items wraps a slice in a list answer; a nil slice becomes [].
func items[T any](s []T) list[T] {
	if s == nil {
		s = []T{}
	}
	return list[T]{Items: s}
}

// decodeJSON reads the request body into v: at most maxJSONBody bytes,
// declared as JSON, exactly one JSON value, no unknown fields, right types.
// Every failure is an EINVALID (or ETOOLARGE, EUNSUPPORTED) error that
// says what was wrong without echoing the input.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return sb.Errorf(sb.EUNSUPPORTED, "The request body must be JSON (Content-Type: application/json).")
		}
	} else {
		// A body without a type could be a cross-site form post; refuse it.
		return sb.Errorf(sb.EUNSUPPORTED, "The request body must be JSON (Content-Type: application/json).")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return sb.Errorf(sb.EINVALID, "The request body must hold exactly one JSON value.")
	}
	return nil
}

// jsonError describes a decoding error.
func jsonError(err error) error {
	var (
		syntax  *json.SyntaxError
		typ     *json.UnmarshalTypeError
		tooBig  *http.MaxBytesError
		invalid *sb.Error
	)
	switch {
	case errors.As(err, &tooBig):
		return err
	case errors.As(err, &invalid):
		return err // from a type's own UnmarshalJSON
	case errors.Is(err, io.EOF):
		return sb.Errorf(sb.EINVALID, "The request body is empty; it must be a JSON object.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return sb.Errorf(sb.EINVALID, "The request body is cut short: malformed JSON.")
	case errors.As(err, &syntax):
		return sb.Errorf(sb.EINVALID, "Malformed JSON at byte %d.", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return sb.Errorf(sb.EINVALID, "The request body must be a JSON %s, not %s.", jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		return sb.Errorf(sb.EINVALID, "Field %q must be %s, not %s.", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return sb.Errorf(sb.EINVALID, "Unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return sb.Errorf(sb.EINVALID, "The request body is not valid JSON.")
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "true or false"
	case kind == "slice", kind == "array":
		return "an array"
	case kind == "struct", kind == "map":
		return "an object"
	}
	return "of another type"
}

// pathID reads a positive integer path parameter.
func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, sb.Errorf(sb.EINVALID, "%s in the path must be a positive integer.", name)
	}
	return id, nil
}

// queryInt reads an optional non-negative integer query parameter.
func queryInt(r *http.Request, name string) (int64, bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, false, sb.Errorf(sb.EINVALID, "Query parameter %s must be a non-negative integer.", name)
	}
	return n, true, nil
}

// queryBool reads an optional boolean query parameter.
func queryBool(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, sb.Errorf(sb.EINVALID, "Query parameter %s must be true or false.", name)
	}
	return b, nil
}

// queryLimit reads the limit query parameter: 1 to max, def when absent.
func queryLimit(r *http.Request, def, max int) (int, error) {
	n, ok, err := queryInt(r, "limit")
	if err != nil {
		return 0, err
	}
	if !ok {
		return def, nil
	}
	if n < 1 || n > int64(max) {
		return 0, sb.Errorf(sb.EINVALID, "Query parameter limit must be between 1 and %d.", max)
	}
	return int(n), nil
}

// optionalID is a JSON field that may be absent, null or an id; PATCH
// bodies use it to tell "leave as is" from "clear".
type optionalID struct {
	Set bool   // the field was present
	ID  *int64 // nil when it was null
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *optionalID) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.ID = nil
		return nil
	}
	var id int64
	if err := json.Unmarshal(b, &id); err != nil || id <= 0 {
		return sb.Errorf(sb.EINVALID, "An id must be a positive integer or null.")
	}
	o.ID = &id
	return nil
}
