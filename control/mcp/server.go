package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/shared/apierror"
)

// Options shape a server.
type Options struct {
	// Version names the build in the server's implementation info
	// ("": devel).
	Version string
	// Logger receives the SDK's logs (nil: none).
	Logger *slog.Logger
	// APIURL is the API's base URL as the server's user reaches it, for
	// the URLs tools answer (a QR code file's contentUrl).
	APIURL string
}

// clientFunc is the API client a request's tools call with: one for
// stdio, the session's key's for HTTP.
type clientFunc func(extra *mcpsdk.RequestExtra) (*apiclient.Client, error)

// NewServer is H0p's MCP server: its tools, resources and prompts call the
// API through c, with c's key.
func NewServer(c *apiclient.Client, opts Options) *mcpsdk.Server {
	return newServer(func(*mcpsdk.RequestExtra) (*apiclient.Client, error) { return c, nil }, opts)
}

const instructions = `H0p makes short links on an organization's domains and counts their clicks.
Every tool is one call of H0p's API with the API key this server was given: the key's permissions,
the organization's plan limits and the key's rate limit (5 requests a second, 100 a minute by
default) apply. Links are named by id (link_…), or by domain and key (the slug), or by externalId.
A refused call answers an error with the API's code (FORBIDDEN, NOT_FOUND, VALIDATION_ERROR, …),
its message, and the fields at fault.`

func newServer(clients clientFunc, opts Options) *mcpsdk.Server {
	version := opts.Version
	if version == "" {
		version = "devel"
	}
	s := mcpsdk.NewServer(&mcpsdk.Implementation{Name: "h0p", Title: "H0p", Version: version},
		&mcpsdk.ServerOptions{Instructions: instructions, Logger: opts.Logger})
	s.AddReceivingMiddleware(explainArguments)
	h := &handlers{clients: clients, publicURL: strings.TrimRight(opts.APIURL, "/")}
	h.addTools(s)
	h.addResources(s)
	addPrompts(s)
	return s
}

// handlers answer the server's tools and resources with API calls.
type handlers struct {
	clients   clientFunc
	publicURL string
}

// call makes one API call and answers its JSON body (an empty one as {}),
// or the API's refusal as a ToolError.
func (h *handlers) call(ctx context.Context, extra *mcpsdk.RequestExtra, method, path string, q url.Values, body any) (json.RawMessage, error) {
	c, err := h.clients(extra)
	if err != nil {
		return nil, err
	}
	var out json.RawMessage
	if err := c.Do(ctx, method, path, q, body, &out); err != nil {
		return nil, toolError(err)
	}
	if len(out) == 0 {
		out = json.RawMessage(`{}`)
	}
	return out, nil
}

// explainArguments gives the SDK's refusal of a tool's arguments (they
// break its input schema; the text names the property) the code and the
// advice of the API's refusals.
func explainArguments(next mcpsdk.MethodHandler) mcpsdk.MethodHandler {
	return func(ctx context.Context, method string, req mcpsdk.Request) (mcpsdk.Result, error) {
		res, err := next(ctx, method, req)
		if r, ok := res.(*mcpsdk.CallToolResult); ok && err == nil && r.IsError && len(r.Content) == 1 {
			if t, ok := r.Content[0].(*mcpsdk.TextContent); ok && strings.HasPrefix(t.Text, `validating "arguments"`) {
				t.Text = "VALIDATION_ERROR: the arguments do not match the tool's input schema: " + t.Text +
					"\nFix the property named above and call again."
			}
		}
		return res, err
	}
}

// ToolError is a refused or failed API call as a tool's error: its text,
// which a model reads, says the code, the message, the fields at fault
// and what to do next.
type ToolError struct {
	Text string
	// API is the API's answer (nil: the API was not reached).
	API *apiclient.Error
	err error
}

func (e *ToolError) Error() string { return e.Text }
func (e *ToolError) Unwrap() error { return e.err }

// toolError turns an API client's error into a ToolError.
func toolError(err error) error {
	e, ok := errors.AsType[*apiclient.Error](err)
	if !ok {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return &ToolError{Text: "the H0p API could not be reached: " + err.Error() +
			"; check H0P_API_URL and that the API is up, then retry", err: err}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (HTTP %d): %s", e.Code, e.Status, e.Message)
	for _, d := range e.Details {
		fmt.Fprintf(&b, "\n- field %s: %s", d.Field, d.Reason)
	}
	if hint := hintFor(e); hint != "" {
		b.WriteString("\n" + hint)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, "\n(request %s)", e.RequestID)
	}
	return &ToolError{Text: b.String(), API: e, err: err}
}

// hintFor says what a model can do about a refusal.
func hintFor(e *apiclient.Error) string {
	switch e.Code {
	case apierror.Forbidden:
		if perm, ok := strings.CutPrefix(e.Message, "missing permission "); ok {
			return "This API key lacks " + perm + ": retrying will not help; it needs a key granted " + perm + "."
		}
		return "This API key may not do this: retrying with it will not help."
	case apierror.Unauthorized:
		return "The API key is missing, invalid or expired: check the key this server was given (H0P_API_KEY)."
	case apierror.ValidationError:
		return "Fix the fields named above and call again."
	case apierror.NotFound:
		return "Nothing by that name in this organization: list_links, list_domains or list_tags find what exists."
	case apierror.AlreadyExist:
		return "It exists already: choose another key or name, or read the existing one."
	case apierror.RateLimited:
		if e.RetryAfter > 0 {
			return fmt.Sprintf("The key's rate limit is spent: wait %s, then retry.", e.RetryAfter)
		}
		return "The key's rate limit is spent: wait a few seconds, then retry."
	case apierror.Unavailable:
		return "The API could not confirm this in time; it may still happen: read the object back before retrying."
	case apierror.PlanLimitReached, apierror.FeatureNotAvailable:
		return "The organization's plan does not allow this: retrying will not help."
	}
	return ""
}

// checkID refuses an id argument (field) that is not an id of prefix's
// objects: prefix_ then letters, digits, _ and -. An id goes into the
// API's path as it is, so "export", "" or "a/b" would name another route.
func checkID(field, prefix, id string) error {
	rest, ok := strings.CutPrefix(id, prefix+"_")
	if !ok || rest == "" || len(id) > maxIDLen || strings.ContainsFunc(rest, notIDRune) {
		return &ToolError{Text: fmt.Sprintf("VALIDATION_ERROR: %s %q is not an id of the kind this takes (%s_…)", field, id, prefix) +
			"\nFix the field named above and call again; list_links or list_domains find ids."}
	}
	return nil
}

// maxIDLen bounds an id: a prefix and a 26-character ULID fit well within.
const maxIDLen = 64

func notIDRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
}

// inputSchema is T's JSON schema with edit applied to its properties.
// Optional fields are Go pointers, which the inferred schema lets be null;
// a tool's arguments leave out what they do not set, so null is dropped
// from every property's types.
func inputSchema[T any](edit func(props map[string]*jsonschema.Schema)) *jsonschema.Schema {
	s, err := jsonschema.For[T](nil)
	if err != nil {
		panic(fmt.Sprintf("input schema of %T: %v", *new(T), err))
	}
	dropNull(s)
	if edit != nil {
		edit(s.Properties)
	}
	return s
}

func dropNull(s *jsonschema.Schema) {
	if s == nil {
		return
	}
	if len(s.Types) == 2 && s.Types[0] == "null" {
		s.Type, s.Types = s.Types[1], nil
	}
	for _, p := range s.Properties {
		dropNull(p)
	}
	dropNull(s.Items)
}

// outputSchema is an object with properties described (and any others).
func outputSchema(props map[string]*jsonschema.Schema) *jsonschema.Schema {
	return &jsonschema.Schema{Type: "object", Properties: props}
}

func ptr[T any](v T) *T { return &v }

// enum sets p's allowed values.
func enum(p *jsonschema.Schema, values ...any) { p.Enum = values }

// bounds sets p's minimum and maximum.
func bounds(p *jsonschema.Schema, min, max float64) { p.Minimum, p.Maximum = &min, &max }
