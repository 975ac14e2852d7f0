package openapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/h0p/h0p/shared/apierror"
)

// Profiles a document is rendered for: "" the whole document, "actions"
// what a ChatGPT custom action imports.
const (
	ProfileFull    = ""
	ProfileActions = "actions"
)

// The GPT builder's limits on an imported document (OpenAI's "Production
// notes on GPT Actions"): summaries and operation descriptions of at most
// 300 characters, parameter descriptions of at most 700; custom request
// headers are not sent.
const (
	ActionsMaxDescription      = 300
	ActionsMaxParamDescription = 700
)

// actionsOperations are the operations an assistant calls: links, tags,
// stats, events, domains read, each answering JSON. Not sign-in, sessions,
// API keys, members, org administration, files, or exports as files. Not
// QR codes: a GPT action carries text, not images (OpenAI's "Production
// notes on GPT Actions"), and saveQrCode, though it answers JSON, names a
// stored file whose bytes only a key can read, which a chat cannot show.
var actionsOperations = []string{
	"createLink", "listLinks", "getLink", "updateLink", "deleteLink", "upsertLink", "getLinkInfo", "countLinks",
	"createLinks", "updateLinks", "deleteLinks",
	"listTags", "createTag", "updateTag", "deleteTag",
	"getStats", "listEvents",
	"listDomains", "getDomain",
}

// ActionsOperations lists the operationIds the actions profile keeps.
func ActionsOperations() []string { return slices.Clone(actionsOperations) }

// Rendered is the document as served: JSON and its entity tag.
type Rendered struct {
	JSON []byte
	ETag string
}

// Render is the document for profile with servers = [serverURL]; each
// (profile, serverURL) is rendered once. An unknown profile is a
// VALIDATION_ERROR naming profile.
func (d *Document) Render(profile, serverURL string) (Rendered, error) {
	if profile != ProfileFull && profile != ProfileActions {
		return Rendered{}, apierror.Invalid("profile", "must be actions, or absent for the whole document")
	}
	cacheKey := profile + "\x00" + serverURL
	if r, ok := d.rendered.Load(cacheKey); ok {
		return r.(Rendered), nil
	}
	t := d.Tree()
	t["servers"] = []any{map[string]any{"url": serverURL, "description": "This API"}}
	if profile == ProfileActions {
		d.actions(t)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(t); err != nil {
		return Rendered{}, err
	}
	sum := sha256.Sum256(buf.Bytes())
	r := Rendered{JSON: buf.Bytes(), ETag: `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`}
	d.rendered.Store(cacheKey, r)
	return r, nil
}

// actions cuts tree t down to the actions profile.
func (d *Document) actions(t map[string]any) {
	paths := mapAt(t, "paths")
	params := mapAt(mapAt(t, "components"), "parameters")
	for p, v := range paths {
		item, _ := v.(map[string]any)
		kept := false
		for _, m := range Methods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			if !slices.Contains(actionsOperations, fmt.Sprint(op["operationId"])) {
				delete(item, m)
				continue
			}
			kept = true
			if sec, ok := op["security"].([]any); ok && len(sec) > 0 {
				op["security"] = []any{map[string]any{"apiKey": []any{}}}
			}
			for _, f := range []string{"summary", "description"} {
				if s, ok := op[f].(string); ok {
					op[f] = trim(s, ActionsMaxDescription)
				}
			}
			setParams(op, params)
			for _, r := range mapAt(op, "responses") {
				if m, ok := r.(map[string]any); ok {
					delete(m, "headers")
				}
			}
		}
		if !kept {
			delete(paths, p)
			continue
		}
		setParams(item, params)
	}
	t["security"] = []any{map[string]any{"apiKey": []any{}}}
	comps := mapAt(t, "components")
	schemes := mapAt(comps, "securitySchemes")
	comps["securitySchemes"] = map[string]any{"apiKey": schemes["apiKey"]}
	for _, r := range mapAt(comps, "responses") {
		if m, ok := r.(map[string]any); ok {
			delete(m, "headers")
		}
	}
	for _, p := range mapAt(comps, "parameters") {
		if m, ok := p.(map[string]any); ok {
			if s, ok := m["description"].(string); ok {
				m["description"] = trim(s, ActionsMaxParamDescription)
			}
		}
	}
	prune(t)
}

// setParams drops header parameters (the builder sends no custom
// headers) from m's parameters, and trims the inline ones' descriptions.
// params are the document's parameter components.
func setParams(m, params map[string]any) {
	list, ok := m["parameters"].([]any)
	if !ok {
		return
	}
	out := []any{}
	for _, p := range list {
		pm, _ := p.(map[string]any)
		if ref, ok := pm["$ref"].(string); ok {
			name, _ := strings.CutPrefix(ref, "#/components/parameters/")
			pm, _ = params[name].(map[string]any)
		}
		if pm["in"] == "header" {
			continue
		}
		if s, ok := pm["description"].(string); ok {
			pm["description"] = trim(s, ActionsMaxParamDescription)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		delete(m, "parameters")
		return
	}
	m["parameters"] = out
}

// trim shortens s to at most max characters, at the end of a sentence when
// one ends in the second half, else at a word with "…".
func trim(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)[:max]
	cut := string(r)
	if i := strings.LastIndex(cut, ". "); i >= len(cut)/2 {
		return cut[:i+1]
	}
	r = r[:max-1]
	cut = string(r)
	if i := strings.LastIndex(cut, " "); i > 0 {
		cut = cut[:i]
	}
	return cut + "…"
}

// prune removes from t the components and tags nothing kept refers to.
func prune(t map[string]any) {
	comps := mapAt(t, "components")
	used := map[string]bool{}
	var visit func(v any)
	visit = func(v any) {
		walk(v, func(m map[string]any) {
			ref, ok := m["$ref"].(string)
			if !ok || used[ref] {
				return
			}
			used[ref] = true
			rest, _ := strings.CutPrefix(ref, "#/components/")
			sec, name, _ := strings.Cut(rest, "/")
			if c, ok := comps[sec].(map[string]any); ok {
				visit(c[name])
			}
		})
	}
	visit(t["paths"])
	for sec, v := range comps {
		if sec == "securitySchemes" {
			continue
		}
		c, _ := v.(map[string]any)
		for name := range c {
			if !used["#/components/"+sec+"/"+name] {
				delete(c, name)
			}
		}
		if len(c) == 0 {
			delete(comps, sec)
		}
	}
	tagsUsed := map[string]bool{}
	walk(t["paths"], func(m map[string]any) {
		if _, ok := m["operationId"]; ok {
			for _, tag := range asList(m["tags"]) {
				tagsUsed[tag] = true
			}
		}
	})
	if tags, ok := t["tags"].([]any); ok {
		t["tags"] = slices.DeleteFunc(tags, func(v any) bool {
			m, _ := v.(map[string]any)
			name, _ := m["name"].(string)
			return !tagsUsed[name]
		})
	}
}

func asList(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
