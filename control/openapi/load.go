package openapi

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

//go:embed spec/*.yaml
var specFiles embed.FS

// Document is the merged document as a JSON tree (maps, slices, strings,
// numbers, booleans), defaults added.
type Document struct {
	root     map[string]any
	rendered sync.Map // profile + "\x00" + server URL → Rendered
}

var embedded = sync.OnceValues(func() (*Document, error) {
	sub, err := fs.Sub(specFiles, "spec")
	if err != nil {
		return nil, err
	}
	return LoadFS(sub)
})

// Load is the API's document, from the files embedded in the binary;
// loaded once.
func Load() (*Document, error) { return embedded() }

// componentSections are the parts of components a file may add to.
var componentSections = []string{"schemas", "parameters", "responses", "headers", "requestBodies", "securitySchemes"}

// LoadFS merges the *.yaml files at the top of fsys: base.yaml, a whole
// document without paths, and the others, each holding only paths and
// components. A path, or a component of a section, defined twice is an
// error naming both files. Every $ref must name a component of the merged
// document.
func LoadFS(fsys fs.FS) (*Document, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	if !slices.Contains(names, "base.yaml") {
		return nil, errors.New("openapi: no base.yaml")
	}
	root, err := readYAML(fsys, "base.yaml")
	if err != nil {
		return nil, err
	}
	if _, ok := root["paths"]; ok {
		return nil, errors.New("openapi: base.yaml: holds paths; put them in a file of their resource")
	}
	paths := map[string]any{}
	root["paths"] = paths
	components := mapAt(root, "components")
	// where records the file that defined each path and component.
	where := map[string]string{}
	for _, sec := range componentSections {
		for name := range mapAt(components, sec) {
			where[sec+"/"+name] = "base.yaml"
		}
	}
	for _, name := range names {
		if name == "base.yaml" {
			continue
		}
		part, err := readYAML(fsys, name)
		if err != nil {
			return nil, err
		}
		for k := range part {
			if k != "paths" && k != "components" {
				return nil, fmt.Errorf("openapi: %s: %q: a part holds only paths and components", name, k)
			}
		}
		for p, item := range mapAt(part, "paths") {
			if prev, ok := where["paths/"+p]; ok {
				return nil, fmt.Errorf("openapi: path %s is in %s and %s", p, prev, name)
			}
			where["paths/"+p] = name
			paths[p] = item
		}
		for sec, v := range mapAt(part, "components") {
			if !slices.Contains(componentSections, sec) {
				return nil, fmt.Errorf("openapi: %s: components.%s: a part adds only %s", name, sec, strings.Join(componentSections, ", "))
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("openapi: %s: components.%s is not a map", name, sec)
			}
			dst := mapAt(components, sec)
			for k, c := range m {
				if prev, ok := where[sec+"/"+k]; ok {
					return nil, fmt.Errorf("openapi: components.%s.%s is in %s and %s", sec, k, prev, name)
				}
				where[sec+"/"+k] = name
				dst[k] = c
			}
		}
	}
	d := &Document{root: root}
	if err := d.addDefaults(); err != nil {
		return nil, err
	}
	// After the defaults: they refer to base.yaml's components.
	if err := d.checkRefs(); err != nil {
		return nil, err
	}
	return d, nil
}

func readYAML(fsys fs.FS, name string) (map[string]any, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("openapi: %s: %w", name, err)
	}
	m, ok := normalize(v).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("openapi: %s: not a map", name)
	}
	return m, nil
}

// normalize makes YAML's tree a JSON one: map keys become strings (a
// response code written 200 is "200").
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normalize(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = normalize(e)
		}
	}
	return v
}

// mapAt is m[key] as a map, created when absent.
func mapAt(m map[string]any, key string) map[string]any {
	if v, ok := m[key].(map[string]any); ok {
		return v
	}
	v := map[string]any{}
	m[key] = v
	return v
}

// walk calls f on every map of the tree under v.
func walk(v any, f func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		f(v)
		for _, e := range v {
			walk(e, f)
		}
	case []any:
		for _, e := range v {
			walk(e, f)
		}
	}
}

// checkRefs refuses a $ref that is not a component of the document.
func (d *Document) checkRefs() error {
	var bad []string
	walk(d.root, func(m map[string]any) {
		ref, ok := m["$ref"].(string)
		if !ok {
			return
		}
		if _, ok := d.resolve(ref); !ok {
			bad = append(bad, ref)
		}
	})
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("openapi: $ref to no component: %s", strings.Join(slices.Compact(bad), ", "))
	}
	return nil
}

// resolve finds the component ref names: "#/components/<section>/<name>".
func (d *Document) resolve(ref string) (map[string]any, bool) {
	rest, ok := strings.CutPrefix(ref, "#/components/")
	if !ok {
		return nil, false
	}
	sec, name, ok := strings.Cut(rest, "/")
	if !ok {
		return nil, false
	}
	c, ok := mapAt(d.root, "components")[sec].(map[string]any)
	if !ok {
		return nil, false
	}
	v, ok := c[name].(map[string]any)
	return v, ok
}

// deref follows m's $ref, if it has one.
func (d *Document) deref(m map[string]any) map[string]any {
	if ref, ok := m["$ref"].(string); ok {
		if v, ok := d.resolve(ref); ok {
			return v
		}
	}
	return m
}

// Methods are the operations of a path item, in the order documents list
// them.
var Methods = []string{"get", "put", "post", "patch", "delete", "head", "options", "trace"}

// operation is one operation of the document.
type operation struct {
	path, method string
	item, op     map[string]any
}

// operations lists the document's operations by path and method.
func (d *Document) operations() []operation {
	paths := mapAt(d.root, "paths")
	keys := make([]string, 0, len(paths))
	for p := range paths {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	var out []operation
	for _, p := range keys {
		item, _ := paths[p].(map[string]any)
		for _, m := range Methods {
			if op, ok := item[m].(map[string]any); ok {
				out = append(out, operation{p, m, item, op})
			}
		}
	}
	return out
}

// params is an operation's parameters, the path item's included, resolved.
func (d *Document) params(o operation) []map[string]any {
	var out []map[string]any
	for _, src := range []map[string]any{o.item, o.op} {
		list, _ := src["parameters"].([]any)
		for _, p := range list {
			if m, ok := p.(map[string]any); ok {
				out = append(out, d.deref(m))
			}
		}
	}
	return out
}

// secured reports whether o needs credentials: its security, else the
// document's, lists requirements none of which is empty.
func (d *Document) secured(o operation) bool {
	sec, ok := o.op["security"].([]any)
	if !ok {
		sec, _ = d.root["security"].([]any)
	}
	if len(sec) == 0 {
		return false
	}
	for _, r := range sec {
		if m, ok := r.(map[string]any); !ok || len(m) == 0 {
			return false
		}
	}
	return true
}

// addDefaults adds to every operation what any request of its kind can
// get (doc.go has the rules), and the request-id and rate-limit headers to
// every response.
func (d *Document) addDefaults() error {
	for _, o := range d.operations() {
		secured := d.secured(o)
		write := o.method == "post" || o.method == "put" || o.method == "patch" || o.method == "delete"
		if secured && write && !slices.ContainsFunc(d.params(o), func(p map[string]any) bool {
			return p["in"] == "header" && strings.EqualFold(fmt.Sprint(p["name"]), "Idempotency-Key")
		}) {
			list, _ := o.op["parameters"].([]any)
			o.op["parameters"] = append(list, map[string]any{"$ref": "#/components/parameters/IdempotencyKey"})
		}
		params := d.params(o)
		_, hasBody := o.op["requestBody"]
		hasPath := strings.Contains(o.path, "{")
		responses, ok := o.op["responses"].(map[string]any)
		if !ok {
			return fmt.Errorf("openapi: %s %s: no responses", strings.ToUpper(o.method), o.path)
		}
		add := func(when bool, code, name string) {
			if _, ok := responses[code]; when && !ok {
				responses[code] = map[string]any{"$ref": "#/components/responses/" + name}
			}
		}
		// Secured: a session of a user in several organizations that
		// names none (x-org-id) is a 400 on any route.
		add(len(params) > 0 || hasBody || secured, "400", "ValidationError")
		add(secured, "401", "Unauthorized")
		add(secured, "403", "Forbidden")
		add(hasPath || secured, "404", "NotFound")
		add(secured && write, "409", "Conflict")
		add(hasBody, "413", "TooLarge")
		add(secured && write, "422", "IdempotencyKeyReused")
		add(true, "429", "RateLimited")
		add(true, "500", "Internal")
		add(true, "503", "Unavailable")
		for code, r := range responses {
			m, ok := r.(map[string]any)
			if !ok {
				continue
			}
			addHeaders(m)
			// A write's success may be the replay of an earlier one with
			// the same Idempotency-Key.
			if _, isRef := m["$ref"]; secured && write && !isRef && strings.HasPrefix(code, "2") {
				if h := mapAt(m, "headers"); h["Idempotent-Replayed"] == nil {
					h["Idempotent-Replayed"] = map[string]any{"$ref": "#/components/headers/IdempotentReplayed"}
				}
			}
		}
	}
	for _, r := range mapAt(mapAt(d.root, "components"), "responses") {
		if m, ok := r.(map[string]any); ok {
			addHeaders(m)
		}
	}
	return nil
}

// addHeaders gives response r (not a $ref) the headers every answer has.
func addHeaders(r map[string]any) {
	if _, ok := r["$ref"]; ok {
		return
	}
	h := mapAt(r, "headers")
	for name, ref := range map[string]string{"X-Request-Id": "XRequestId", "RateLimit": "RateLimit", "RateLimit-Policy": "RateLimitPolicy"} {
		if _, ok := h[name]; !ok {
			h[name] = map[string]any{"$ref": "#/components/headers/" + ref}
		}
	}
}

// clone deep-copies a JSON tree.
func clone(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = clone(e)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = clone(e)
		}
		return s
	}
	return v
}

// Tree is a copy of the document's JSON tree.
func (d *Document) Tree() map[string]any { return clone(d.root).(map[string]any) }
