package dashboard

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/h0p/h0p/control/apiclient"
)

type orgData struct {
	Org    apiclient.Org
	Limits []limitRow
	Name   string // the rename form's value
}

// limitRow is one line of the plan's table: what is counted, how much is
// used, and the plan's bound ("unlimited", "not in the plan").
type limitRow struct {
	Name, Used, Limit string
}

// limitNames are the plan limits the organization page shows, with what
// of the usage counts against each.
var limitNames = []struct {
	key, label string
	used       func(apiclient.OrgUsage) int64
}{
	{"linksPerMonth", "Links created this month", func(u apiclient.OrgUsage) int64 { return u.LinksCreatedThisMonth }},
	{"trackedClicksPerMonth", "Tracked clicks this month", func(u apiclient.OrgUsage) int64 { return u.TrackedClicksThisMonth }},
	{"customDomains", "Custom domains", func(u apiclient.OrgUsage) int64 { return int64(u.CustomDomains) }},
	{"tags", "Tags", func(u apiclient.OrgUsage) int64 { return int64(u.Tags) }},
	{"apiKeys", "API keys", func(u apiclient.OrgUsage) int64 { return int64(u.APIKeys) }},
	{"webhooks", "Webhooks", func(u apiclient.OrgUsage) int64 { return int64(u.Webhooks) }},
	{"files", "Files", func(u apiclient.OrgUsage) int64 { return int64(u.Files) }},
	{"filesStorageBytes", "File storage (bytes)", func(u apiclient.OrgUsage) int64 { return u.FilesStorageBytes }},
}

func limitRows(o apiclient.Org) []limitRow {
	var rows []limitRow
	seen := map[string]bool{}
	for _, n := range limitNames {
		seen[n.key] = true
		rows = append(rows, limitRow{Name: n.label, Used: itoa(n.used(o.Usage)), Limit: limitText(o.Limits, n.key)})
	}
	// Limits of the plan the page has no usage for: shown with their bound.
	var rest []string
	for k := range o.Limits {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		rows = append(rows, limitRow{Name: k, Used: "", Limit: limitText(o.Limits, k)})
	}
	return rows
}

func limitText(limits map[string]*int, key string) string {
	v, ok := limits[key]
	switch {
	case !ok || v == nil:
		return "unlimited"
	case *v == 0:
		return "not in the plan"
	}
	return itoa(int64(*v))
}

func (h *Handler) orgPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	o, err := s.api.GetOrg(r.Context())
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.render(w, r, http.StatusOK, "org", view{Title: "Organization", Session: s,
		Data: orgData{Org: o, Limits: limitRows(o), Name: o.Name}})
}

func (h *Handler) renameOrg(w http.ResponseWriter, r *http.Request, s *session) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if _, err := s.api.RenameOrg(r.Context(), name); err != nil {
		fields, msg, ok := fieldErrors(err, "name")
		if !ok {
			h.fail(w, r, s, err)
			return
		}
		if !h.page(w, r, s) {
			return
		}
		o, err := s.api.GetOrg(r.Context())
		if err != nil {
			h.fail(w, r, s, err)
			return
		}
		h.render(w, r, http.StatusBadRequest, "org", view{Title: "Organization", Session: s, Error: msg,
			FieldErrors: fields, Data: orgData{Org: o, Limits: limitRows(o), Name: name}})
		return
	}
	flash(w, r, "Organization renamed.")
	http.Redirect(w, r, "/org", http.StatusSeeOther)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
