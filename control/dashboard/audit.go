package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/shared/apierror"
)

// auditPageSize is the audit table's page: one API call.
const auditPageSize = 50

// auditData is the audit log page: its filters as typed (times in the
// browser's timezone), one page of entries, and the other pages' URLs.
type auditData struct {
	Actor, ResourceType, ResourceID, From, To, Zone string
	Entries                                         []auditRow
	Members                                         []apiclient.Member
	Types                                           []string
	Next, Prev, First                               string
}

// auditRow is an entry as the table shows it: who (a member's name
// when the actor is one), and its change summed up, with the whole of
// it for the details.
type auditRow struct {
	apiclient.AuditEntry
	When          *time.Time
	Actor         string
	Summary       string
	Before, After string
}

// auditFields are the filters, named as the API names them.
var auditFields = []string{"actor", "resourceType", "resourceId", "from", "to"}

// auditTypes are the kinds of target the audit log records, offered as
// a filter.
var auditTypes = []string{"apiKey", "domain", "file", "invitation", "link", "member", "org", "tag", "webhook"}

func (h *Handler) auditPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	q, loc := r.URL.Query(), timezone(r)
	d := auditData{Actor: strings.TrimSpace(q.Get("actor")), ResourceType: strings.TrimSpace(q.Get("resourceType")),
		ResourceID: strings.TrimSpace(q.Get("resourceId")), From: q.Get("from"), To: q.Get("to"), Zone: loc.String(),
		Types: auditTypes}
	cursor, back := q.Get("cursor"), q["back"]
	aq := apiclient.AuditQuery{Actor: d.Actor, ResourceType: d.ResourceType, ResourceID: d.ResourceID,
		Limit: auditPageSize, Cursor: cursor}
	bad := map[string]string{}
	for _, t := range []struct {
		name, value string
		to          *time.Time
	}{{"from", d.From, &aq.From}, {"to", d.To, &aq.To}} {
		if t.value == "" {
			continue
		}
		v, err := time.ParseInLocation(datetimeLocal, t.value, loc)
		if err != nil {
			bad[t.name] = "must be a date and time"
			continue
		}
		*t.to = v
	}
	ms, err := s.api.ListMembers(r.Context())
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d.Members = ms.Data
	if len(bad) > 0 {
		h.render(w, r, http.StatusBadRequest, "audit", view{Title: "Audit log", Section: "audit", Session: s,
			Error: "Please correct the fields marked below.", FieldErrors: bad, Data: d})
		return
	}
	p, err := s.api.ListAuditLogs(r.Context(), aq)
	if err != nil {
		if e, ok := errors.AsType[*apiclient.Error](err); ok && e.Code == apierror.ValidationError {
			fields, msg, _ := fieldErrors(err, auditFields...)
			h.render(w, r, http.StatusBadRequest, "audit", view{Title: "Audit log", Section: "audit", Session: s,
				Error: msg, FieldErrors: fields, Data: d})
			return
		}
		h.fail(w, r, s, err)
		return
	}
	names := map[string]string{}
	for _, m := range ms.Data {
		names[m.UserID] = displayName(m)
	}
	for _, e := range p.Data {
		d.Entries = append(d.Entries, auditRowOf(e, names))
	}
	if p.NextCursor != "" {
		nb := append(append([]string(nil), back...), cursor)
		if len(nb) > maxBack {
			nb = nb[len(nb)-maxBack:]
		}
		d.Next = d.url(p.NextCursor, nb)
	}
	if len(back) > 0 {
		d.Prev = d.url(back[len(back)-1], back[:len(back)-1])
	}
	if cursor != "" {
		d.First = d.url("", nil)
	}
	h.render(w, r, http.StatusOK, "audit", view{Title: "Audit log", Section: "audit", Session: s, Data: d})
}

// url is the audit log's URL with d's filters at cursor, with the
// cursors of the pages before it.
func (d auditData) url(cursor string, back []string) string {
	v := url.Values{}
	for k, x := range map[string]string{"actor": d.Actor, "resourceType": d.ResourceType, "resourceId": d.ResourceID,
		"from": d.From, "to": d.To, "cursor": cursor} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if len(back) > 0 {
		v["back"] = back
	}
	if len(v) == 0 {
		return "/audit"
	}
	return "/audit?" + v.Encode()
}

func auditRowOf(e apiclient.AuditEntry, names map[string]string) auditRow {
	row := auditRow{AuditEntry: e, When: parseTime(&e.At), Actor: e.ActorType + " " + e.ActorID}
	if n, ok := names[e.ActorID]; ok {
		row.Actor = n
	}
	var diff struct {
		Before, After json.RawMessage
	}
	if len(e.Diff) == 0 || json.Unmarshal(e.Diff, &diff) != nil {
		return row
	}
	row.Before, row.After = indent(diff.Before), indent(diff.After)
	row.Summary = summary(diff.Before, diff.After)
	return row
}

// summary says in a line what a change did: the fields it changed
// (role: member → admin), or what it made or removed.
func summary(before, after json.RawMessage) string {
	var b, a map[string]json.RawMessage
	json.Unmarshal(before, &b)
	json.Unmarshal(after, &a)
	switch {
	case b == nil && a == nil:
		return ""
	case b == nil:
		return "created" + named(a)
	case a == nil:
		return "removed" + named(b)
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(merged(a, b))) {
		if !bytes.Equal(b[k], a[k]) {
			parts = append(parts, fmt.Sprintf("%s: %s → %s", k, short(b[k]), short(a[k])))
		}
	}
	if len(parts) == 0 {
		return "no field changed"
	}
	const most = 4
	if len(parts) > most {
		parts = append(parts[:most], fmt.Sprintf("and %d more", len(parts)-most))
	}
	return strings.Join(parts, "; ")
}

func merged(a, b map[string]json.RawMessage) map[string]json.RawMessage {
	m := maps.Clone(a)
	maps.Copy(m, b)
	return m
}

// named is how a made or removed object is named in a summary: by the
// first of its naming fields it has.
func named(o map[string]json.RawMessage) string {
	for _, k := range []string{"name", "email", "key", "hostname", "url"} {
		if v, ok := o[k]; ok {
			return " " + short(v)
		}
	}
	return ""
}

// short is a JSON value in a summary: a string unquoted, anything long
// cut.
func short(v json.RawMessage) string {
	if len(v) == 0 {
		return "none"
	}
	var s string
	out := string(v)
	if json.Unmarshal(v, &s) == nil {
		out = s
	}
	if r := []rune(out); len(r) > 40 {
		out = string(r[:39]) + "…"
	}
	return out
}

func indent(v json.RawMessage) string {
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	var buf bytes.Buffer
	if json.Indent(&buf, v, "", "  ") != nil {
		return string(v)
	}
	return buf.String()
}
