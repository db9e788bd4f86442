package web_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/web"
)

// openAPIPath turns a ServeMux pattern into the document's path.
func openAPIPath(pattern string) string {
	p := strings.ReplaceAll(pattern, "{$}", "")
	return strings.ReplaceAll(p, "...}", "}")
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	srv := web.New(web.Config{}, nil, nil, nil, nil)
	registered := map[string]bool{}
	for _, rt := range srv.Routes() {
		path, method := openAPIPath(rt.Pattern), strings.ToLower(rt.Method)
		registered[method+" "+path] = true
		op, ok := doc.Paths[path][method]
		if !ok {
			t.Errorf("route %s %s is not in openapi.json", rt.Method, rt.Pattern)
			continue
		}
		var o struct {
			OperationID string `json:"operationId"`
			Parameters  []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
			Responses map[string]json.RawMessage `json:"responses"`
			Security  *[]map[string][]string     `json:"security"`
		}
		if err := json.Unmarshal(op, &o); err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			continue
		}
		if o.OperationID == "" || len(o.Responses) == 0 || o.Security == nil {
			t.Errorf("%s %s: operationId, responses and security are required", method, path)
		}
		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			if !slices.ContainsFunc(o.Parameters, func(p struct {
				Name string `json:"name"`
				In   string `json:"in"`
			}) bool {
				return p.Name == m[1] && p.In == "path"
			}) {
				t.Errorf("%s %s: path parameter %s is not documented", method, path, m[1])
			}
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if !registered[method+" "+path] {
				t.Errorf("openapi.json documents %s %s, which is not registered", strings.ToUpper(method), path)
			}
		}
	}
}

func TestOpenAPIReferencesResolve(t *testing.T) {
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	components := doc["components"].(map[string]any)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
				group, _ := components[parts[0]].(map[string]any)
				if len(parts) != 2 || group[parts[1]] == nil {
					t.Errorf("$ref %s does not resolve", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
}

// rateLimitedRoutes are the public routes that count attempts per address
// or account (app.LoginLimits, web.Config.NewVisitors) and answer 429.
var rateLimitedRoutes = map[string]bool{
	"post /api/v1/auth/login":      true,
	"post /api/v1/widget/visitors": true,
}

// TestOpenAPIDeclaresRateLimits: every route that can answer 429 declares
// it, with the shared RateLimited response, and no other route does. Routes
// that take a bearer token (staff, pages, visitor) can: refused tokens
// count against the address's budget (app.Service.CountFailedToken). The
// WebSocket answers a limited hello with an error frame, not a status.
func TestOpenAPIDeclaresRateLimits(t *testing.T) {
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Ref string `json:"$ref"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	srv := web.New(web.Config{}, nil, nil, nil, nil)
	for _, rt := range srv.Routes() {
		path, method := openAPIPath(rt.Pattern), strings.ToLower(rt.Method)
		op, ok := doc.Paths[path][method]
		if !ok {
			continue // TestOpenAPIDescribesEveryRoute reports it
		}
		limited := rateLimitedRoutes[method+" "+path] || rt.Access == "staff" || rt.Access == "page" || rt.Access == "visitor"
		r, declared := op.Responses["429"]
		switch {
		case limited && !declared:
			t.Errorf("%s %s (%s) can answer 429 but does not declare it", rt.Method, path, rt.Access)
		case !limited && declared:
			t.Errorf("%s %s (%s) declares 429, which it never answers", rt.Method, path, rt.Access)
		case declared && r.Ref != "#/components/responses/RateLimited":
			t.Errorf("%s %s: 429 is %q, want the shared #/components/responses/RateLimited", rt.Method, path, r.Ref)
		}
	}
}
