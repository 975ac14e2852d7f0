package openapi_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/h0p/h0p/control/openapi"
	"github.com/h0p/h0p/shared/apierror"
)

const testURL = "https://api.example.com"

func mustLoad(t *testing.T) *openapi.Document {
	t.Helper()
	d, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// mustRender renders profile and loads it with kin-openapi.
func mustRender(t *testing.T, profile string) (*openapi3.T, map[string]any) {
	t.Helper()
	r, err := mustLoad(t).Render(profile, testURL)
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(r.JSON)
	if err != nil {
		t.Fatalf("load %q: %v", profile, err)
	}
	var tree map[string]any
	if err := json.Unmarshal(r.JSON, &tree); err != nil {
		t.Fatal(err)
	}
	return doc, tree
}

func TestDocumentValidates(t *testing.T) {
	for _, profile := range []string{openapi.ProfileFull, openapi.ProfileActions} {
		t.Run("profile="+profile, func(t *testing.T) {
			doc, _ := mustRender(t, profile)
			if got := doc.OpenAPI; got != "3.1.0" {
				t.Errorf("openapi = %q, want 3.1.0", got)
			}
			if err := doc.Validate(context.Background()); err != nil {
				t.Fatalf("validate: %v", err)
			}
			if len(doc.Servers) != 1 || doc.Servers[0].URL != testURL {
				t.Errorf("servers = %v, want [%s]", doc.Servers, testURL)
			}
		})
	}
}

// TestOperationsComplete: every operation has an operationId (unique, a
// camelCase verb), a summary, a description and tags.
func TestOperationsComplete(t *testing.T) {
	doc, _ := mustRender(t, openapi.ProfileFull)
	known := map[string]bool{}
	for _, tag := range doc.Tags {
		known[tag.Name] = true
	}
	ids := map[string]string{}
	camel := regexp.MustCompile(`^[a-z]+[A-Za-z0-9]*$`)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			switch {
			case op.OperationID == "":
				t.Errorf("%s: no operationId", where)
			case !camel.MatchString(op.OperationID):
				t.Errorf("%s: operationId %q is not camelCase", where, op.OperationID)
			case ids[op.OperationID] != "":
				t.Errorf("%s: operationId %q is %s's too", where, op.OperationID, ids[op.OperationID])
			}
			ids[op.OperationID] = where
			if op.Summary == "" || op.Description == "" {
				t.Errorf("%s: summary %q, description %q: want both", where, op.Summary, op.Description)
			}
			if len(op.Tags) == 0 {
				t.Errorf("%s: no tags", where)
			}
			for _, tag := range op.Tags {
				if !known[tag] {
					t.Errorf("%s: tag %q is not in the document's tags", where, tag)
				}
			}
		}
	}
}

// TestPropertiesTyped: every property of every schema says its type (or
// is a $ref, or a combination of schemas).
func TestPropertiesTyped(t *testing.T) {
	_, tree := mustRender(t, openapi.ProfileFull)
	var check func(where string, v any)
	check = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				for name, p := range props {
					pm, _ := p.(map[string]any)
					_, typed := pm["type"]
					for _, k := range []string{"$ref", "allOf", "oneOf", "anyOf", "const"} {
						_, ok := pm[k]
						typed = typed || ok
					}
					if !typed {
						t.Errorf("%s.properties.%s: no type", where, name)
					}
				}
			}
			for k, e := range v {
				check(where+"."+k, e)
			}
		case []any:
			for i, e := range v {
				check(where+"["+strconv.Itoa(i)+"]", e)
			}
		}
	}
	check("", tree)
}

// TestErrorCodes: ErrorCode lists every code of shared/apierror.
func TestErrorCodes(t *testing.T) {
	doc, _ := mustRender(t, openapi.ProfileFull)
	var got []string
	for _, v := range doc.Components.Schemas["ErrorCode"].Value.Enum {
		got = append(got, v.(string))
	}
	want := []string{}
	for _, c := range []apierror.Code{apierror.Unauthorized, apierror.Forbidden, apierror.NotFound, apierror.MethodNotAllowed,
		apierror.AlreadyExist, apierror.PlanLimitReached, apierror.FeatureNotAvailable, apierror.ValidationError,
		apierror.PayloadTooLarge, apierror.UnsupportedMediaType, apierror.RateLimited, apierror.Internal,
		apierror.Unavailable, apierror.IdempotencyKeyInUse, apierror.IdempotencyKeyReused} {
		want = append(want, string(c))
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("ErrorCode enum = %v, want %v", got, want)
	}
}

// base is a minimal base.yaml for loader tests.
const base = `
openapi: 3.1.0
info: {title: t, version: "1"}
security: [{apiKey: []}]
components:
  securitySchemes:
    apiKey: {type: apiKey, in: header, name: x-api-key}
  schemas:
    Thing: {type: object}
  parameters:
    IdempotencyKey: {name: Idempotency-Key, in: header, schema: {type: string}}
  headers:
    XRequestId: {schema: {type: string}}
    RateLimit: {schema: {type: string}}
    RateLimitPolicy: {schema: {type: string}}
    IdempotentReplayed: {schema: {type: string}}
  responses:
    ValidationError: {description: x}
    Unauthorized: {description: x}
    Forbidden: {description: x}
    NotFound: {description: x}
    Conflict: {description: x}
    IdempotencyKeyReused: {description: x}
    TooLarge: {description: x}
    RateLimited: {description: x}
    Internal: {description: x}
    Unavailable: {description: x}
`

func TestLoadFSRefuses(t *testing.T) {
	thing := "paths:\n  /things:\n    get:\n      responses: {\"200\": {description: ok}}\n"
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no base", map[string]string{"a.yaml": thing}, "no base.yaml"},
		{"paths in base", map[string]string{"base.yaml": base + "paths: {}\n"}, "base.yaml: holds paths"},
		{"path twice", map[string]string{"base.yaml": base, "a.yaml": thing, "b.yaml": thing},
			"path /things is in a.yaml and b.yaml"},
		{"component of base again", map[string]string{"base.yaml": base, "a.yaml": "components:\n  schemas:\n    Thing: {type: string}\n"},
			"components.schemas.Thing is in base.yaml and a.yaml"},
		{"component twice", map[string]string{"base.yaml": base,
			"a.yaml": "components:\n  headers:\n    H: {schema: {type: string}}\n",
			"b.yaml": "components:\n  headers:\n    H: {schema: {type: string}}\n"},
			"components.headers.H is in a.yaml and b.yaml"},
		{"other top-level key", map[string]string{"base.yaml": base, "a.yaml": "info: {title: x}\n"}, `a.yaml: "info"`},
		{"dangling ref", map[string]string{"base.yaml": base,
			"a.yaml": "components:\n  schemas:\n    A: {$ref: '#/components/schemas/Nope'}\n"},
			"$ref to no component: #/components/schemas/Nope"},
		{"base without a default's response", map[string]string{
			"base.yaml": strings.Replace(base, "    Unavailable: {description: x}\n", "", 1), "a.yaml": thing},
			"$ref to no component: #/components/responses/Unavailable"},
		{"external ref", map[string]string{"base.yaml": base,
			"a.yaml": "components:\n  schemas:\n    A: {$ref: 'other.yaml#/A'}\n"},
			"$ref to no component: other.yaml#/A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for name, s := range tt.files {
				fsys[name] = &fstest.MapFile{Data: []byte(s)}
			}
			_, err := openapi.LoadFS(fsys)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadFS: %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestDefaults: the loader adds the answers any request can get, and
// keeps those an operation lists.
func TestDefaults(t *testing.T) {
	part := `
paths:
  /public:
    get:
      security: []
      responses: {"200": {description: ok}}
  /things:
    get:
      responses: {"200": {description: ok}}
    post:
      requestBody: {content: {application/json: {schema: {type: object}}}}
      responses:
        "201": {description: ok}
        "404": {description: a specific one}
  /things/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: string}}
    get:
      responses: {"200": {description: ok}}
`
	d, err := openapi.LoadFS(fstest.MapFS{"base.yaml": {Data: []byte(base)}, "things.yaml": {Data: []byte(part)}})
	if err != nil {
		t.Fatal(err)
	}
	paths := d.Tree()["paths"].(map[string]any)
	op := func(p, m string) map[string]any { return paths[p].(map[string]any)[m].(map[string]any) }
	codes := func(o map[string]any) []string {
		var out []string
		for c := range o["responses"].(map[string]any) {
			out = append(out, c)
		}
		sort.Strings(out)
		return out
	}
	tests := []struct {
		path, method string
		want         []string
	}{
		{"/public", "get", []string{"200", "429", "500", "503"}},
		{"/things", "post", []string{"201", "400", "401", "403", "404", "409", "413", "422", "429", "500", "503"}},
		{"/things", "get", []string{"200", "400", "401", "403", "404", "429", "500", "503"}},
		{"/things/{id}", "get", []string{"200", "400", "401", "403", "404", "429", "500", "503"}},
	}
	for _, tt := range tests {
		if got := codes(op(tt.path, tt.method)); !slices.Equal(got, tt.want) {
			t.Errorf("%s %s: responses %v, want %v", tt.method, tt.path, got, tt.want)
		}
	}
	if got := op("/things", "post")["responses"].(map[string]any)["404"].(map[string]any)["description"]; got != "a specific one" {
		t.Errorf("a listed 404 became %v", got)
	}
	params, _ := op("/things", "post")["parameters"].([]any)
	if len(params) != 1 || params[0].(map[string]any)["$ref"] != "#/components/parameters/IdempotencyKey" {
		t.Errorf("POST /things parameters = %v, want the IdempotencyKey", params)
	}
	h := op("/public", "get")["responses"].(map[string]any)["200"].(map[string]any)["headers"].(map[string]any)
	for _, name := range []string{"X-Request-Id", "RateLimit", "RateLimit-Policy"} {
		if _, ok := h[name]; !ok {
			t.Errorf("200 of GET /public has no %s header", name)
		}
	}
	created := op("/things", "post")["responses"].(map[string]any)["201"].(map[string]any)["headers"].(map[string]any)
	if _, ok := created["Idempotent-Replayed"]; !ok {
		t.Error("201 of POST /things has no Idempotent-Replayed header")
	}
	if _, ok := h["Idempotent-Replayed"]; ok {
		t.Error("200 of GET /public has an Idempotent-Replayed header")
	}
}

func TestActionsProfile(t *testing.T) {
	doc, tree := mustRender(t, openapi.ProfileActions)
	allowed := openapi.ActionsOperations()
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if !slices.Contains(allowed, op.OperationID) {
				t.Errorf("%s (%s) is not an actions operation", where, op.OperationID)
			}
			for name, s := range map[string]string{"summary": op.Summary, "description": op.Description} {
				if n := utf8.RuneCountInString(s); n > openapi.ActionsMaxDescription {
					t.Errorf("%s: %s of %d characters", where, name, n)
				}
			}
			for _, p := range append(item.Parameters, op.Parameters...) {
				if p.Value.In == "header" {
					t.Errorf("%s: header parameter %s", where, p.Value.Name)
				}
				if n := utf8.RuneCountInString(p.Value.Description); n > openapi.ActionsMaxParamDescription {
					t.Errorf("%s: parameter %s: description of %d characters", where, p.Value.Name, n)
				}
			}
			for status, r := range op.Responses.Map() {
				for mt := range r.Value.Content {
					if mt != "application/json" {
						t.Errorf("%s: answers %s with %s; an action carries JSON only", where, status, mt)
					}
				}
			}
			if op.Security != nil {
				for _, req := range *op.Security {
					for name := range req {
						if name != "apiKey" {
							t.Errorf("%s: security %s", where, name)
						}
					}
				}
			}
		}
	}
	schemes := doc.Components.SecuritySchemes
	if len(schemes) != 1 || schemes["apiKey"] == nil || schemes["apiKey"].Value.In != "header" || schemes["apiKey"].Value.Name != "x-api-key" {
		t.Errorf("security schemes = %v, want apiKey in the x-api-key header alone", schemes)
	}
	if strings.Contains(mustJSON(t, tree), "#/components/securitySchemes/bearer") {
		t.Error("the actions profile mentions bearer")
	}
	if _, err := mustLoad(t).Render("gpt", testURL); err == nil || apierror.From(err).Details[0].Field != "profile" {
		t.Errorf("Render(gpt): %v, want a VALIDATION_ERROR on profile", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDocsAssets: the reference page loads nothing from elsewhere.
func TestDocsAssets(t *testing.T) {
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	for _, name := range []string{"index.html", "docs.js", "docs.css"} {
		b, err := fs.ReadFile(openapi.Docs(), name)
		if err != nil {
			t.Fatal(err)
		}
		if m := external.Find(b); m != nil {
			t.Errorf("%s refers to %s", name, m)
		}
	}
}
