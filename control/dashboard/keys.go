package dashboard

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/apiclient"
)

// keyRow is a key as the pages show it: times parsed, its grants summed
// up in the resources' order.
type keyRow struct {
	apiclient.APIKey
	Created           time.Time
	LastUsed, Expires *time.Time
	Summary           string
}

func keyRowOf(k apiclient.APIKey) keyRow {
	row := keyRow{APIKey: k, LastUsed: parseTime(k.LastUsedAt), Expires: parseTime(k.ExpiresAt)}
	if t := parseTime(&k.CreatedAt); t != nil {
		row.Created = *t
	}
	var parts []string
	for _, res := range access.Resources {
		if acts := k.Permissions[string(res)]; len(acts) > 0 {
			var ordered []string
			for _, a := range access.Actions {
				for _, x := range acts {
					if x == string(a) {
						ordered = append(ordered, x)
					}
				}
			}
			parts = append(parts, string(res)+": "+strings.Join(ordered, ", "))
		}
	}
	row.Summary = strings.Join(parts, "; ")
	if row.Summary == "" {
		row.Summary = "none"
	}
	return row
}

// parseTime reads a time of the API ("" or nil: none).
func parseTime(s *string) *time.Time {
	if s == nil || *s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return nil
	}
	return &t
}

// ownKey reports whether k is the person's own user key: the API lets
// them create, rotate and revoke it without apiKeys permissions.
func ownKey(s *session, k apiclient.APIKey) bool {
	return k.Type == "user" && k.UserID != "" && k.UserID == s.Me.User.ID
}

// mayRotate reports whether the person may rotate k: their own user key,
// or, with apiKeys:update, a bot key (another's user key is its person's
// alone).
func mayRotate(s *session, k apiclient.APIKey) bool {
	return ownKey(s, k) || k.Type != "user" && s.Can("apiKeys", "update")
}

// mayRevoke reports whether the person may revoke k: their own user key,
// or any with apiKeys:delete (the API refuses a key of a higher role).
func mayRevoke(s *session, k apiclient.APIKey) bool {
	return ownKey(s, k) || s.Can("apiKeys", "delete")
}

func (h *Handler) keysPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	p, err := s.api.ListAPIKeys(r.Context())
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	var rows []keyRow
	for _, k := range p.Data {
		rows = append(rows, keyRowOf(k))
	}
	h.render(w, r, http.StatusOK, "keys", view{Title: "API keys", Section: "keys", Session: s, Data: rows})
}

// grantCell is one checkbox of the key form's resource × action grid:
// Allowed says whether the person may grant it (their role's).
type grantCell struct {
	Resource, Action string
	Allowed, Checked bool
}

type grantRow struct {
	Resource string
	Cells    []grantCell
}

type keyForm struct {
	Name, Type, ExpiresAt, Zone string
	// UserOnly: the person may not create keys (apiKeys:create), only
	// their own user key, which the API allows anyone.
	UserOnly bool
	Grants   []grantRow
	Actions  []string
}

// keyFields are the key form's fields, named as the API names them.
var keyFields = []string{"name", "type", "permissions", "expiresAt"}

// newKeyForm is the key form for s, with checked ("resource:action")
// ticked.
func newKeyForm(s *session, checked map[string]bool, loc *time.Location) keyForm {
	f := keyForm{Type: "bot", Zone: loc.String(), UserOnly: !s.Can("apiKeys", "create")}
	if f.UserOnly {
		f.Type = "user"
	}
	for _, a := range access.Actions {
		f.Actions = append(f.Actions, string(a))
	}
	for _, res := range access.Resources {
		row := grantRow{Resource: string(res)}
		for _, a := range access.Actions {
			row.Cells = append(row.Cells, grantCell{Resource: string(res), Action: string(a),
				Allowed: s.Can(string(res), string(a)), Checked: checked[string(res)+":"+string(a)]})
		}
		f.Grants = append(f.Grants, row)
	}
	return f
}

func (h *Handler) newKeyPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	h.render(w, r, http.StatusOK, "keysnew", view{Title: "New API key", Section: "keys", Session: s,
		Data: newKeyForm(s, nil, timezone(r))})
}

// createKey asks the API for the key the form describes, with the grants
// ticked as sent (the API refuses those beyond the person's role), and
// answers its secret, shown this once.
func (h *Handler) createKey(w http.ResponseWriter, r *http.Request, s *session) {
	r.ParseForm()
	loc := timezone(r)
	checked := map[string]bool{}
	perms := map[string][]string{}
	for _, g := range r.PostForm["grant"] {
		res, act, ok := strings.Cut(g, ":")
		if !ok || checked[g] {
			continue
		}
		checked[g] = true
		perms[res] = append(perms[res], act)
	}
	in := apiclient.APIKeyInput{Name: strings.TrimSpace(r.PostFormValue("name")), Type: r.PostFormValue("type"),
		Permissions: perms}
	expires := strings.TrimSpace(r.PostFormValue("expiresAt"))
	bad, msg := map[string]string(nil), "Please correct the fields marked below."
	if expires != "" {
		t, err := time.ParseInLocation(datetimeLocal, expires, loc)
		if err != nil {
			bad = map[string]string{"expiresAt": "must be a date and time"}
		}
		in.ExpiresAt = t.UTC().Format(time.RFC3339)
	}
	if bad == nil {
		k, err := s.api.CreateAPIKey(r.Context(), in)
		if err == nil {
			h.showSecret(w, r, s, k, "API key created.")
			return
		}
		var ok bool
		if bad, msg, ok = fieldErrors(err, keyFields...); !ok {
			h.fail(w, r, s, err)
			return
		}
	}
	if !h.page(w, r, s) {
		return
	}
	f := newKeyForm(s, checked, loc)
	f.Name, f.ExpiresAt = in.Name, expires
	if !f.UserOnly {
		f.Type = in.Type
	}
	h.render(w, r, http.StatusBadRequest, "keysnew", view{Title: "New API key", Section: "keys", Session: s,
		Error: msg, FieldErrors: bad, Data: f})
}

type secretData struct {
	Key    keyRow
	Secret string
}

// showSecret answers the page that shows k's secret: the one time it is
// shown. It is rendered in the answer to the POST, never stored, and no
// GET page has it. Nothing after the API's answer may keep it from the
// person (after a rotate the old secret is dead): when the person cannot
// be read now, render draws the page without the nav.
func (h *Handler) showSecret(w http.ResponseWriter, r *http.Request, s *session, k apiclient.APIKeySecret, msg string) {
	h.render(w, r, http.StatusOK, "keyssecret", view{Title: "Your new API key", Section: "keys", Session: s,
		Flash: msg, Data: secretData{Key: keyRowOf(k.APIKey), Secret: k.Key}})
}

type keyData struct {
	Key keyRow
	// Rotate and Revoke: the actions the person may take on the key.
	Rotate, Revoke bool
	Usage          *apiclient.KeyUsage
	UsageErr       string
	Interval       string
}

// intervals a key's usage can be read over.
var usageIntervals = map[string]bool{"24h": true, "7d": true, "30d": true, "90d": true}

func (h *Handler) keyPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	id := r.PathValue("id")
	k, err := s.api.GetAPIKey(r.Context(), id)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := keyData{Key: keyRowOf(k), Interval: r.URL.Query().Get("interval"), Rotate: mayRotate(s, k),
		Revoke: mayRevoke(s, k)}
	if !usageIntervals[d.Interval] {
		d.Interval = "30d"
	}
	// The usage is a part of the page: when the API cannot give it, the
	// page says so and shows the rest.
	if u, err := s.api.GetKeyUsage(r.Context(), id, d.Interval); err == nil {
		d.Usage = &u
	} else if e, ok := errors.AsType[*apiclient.Error](err); ok && e.Status != http.StatusUnauthorized {
		d.UsageErr = e.Message
	} else {
		h.fail(w, r, s, err)
		return
	}
	h.render(w, r, http.StatusOK, "keysshow", view{Title: k.Name, Section: "keys", Session: s, Data: d})
}

func (h *Handler) rotateKey(w http.ResponseWriter, r *http.Request, s *session) {
	k, err := s.api.RotateAPIKey(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.showSecret(w, r, s, k, "API key rotated: the old secret no longer works.")
}

func (h *Handler) deleteKeyPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	k, err := s.api.GetAPIKey(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	if !mayRevoke(s, k) {
		h.problem(w, r, s, http.StatusForbidden, "You may not revoke API keys in this organization.")
		return
	}
	h.render(w, r, http.StatusOK, "keysdelete", view{Title: "Revoke " + k.Name, Section: "keys", Session: s,
		Data: keyRowOf(k)})
}

func (h *Handler) deleteKey(w http.ResponseWriter, r *http.Request, s *session) {
	if err := s.api.DeleteAPIKey(r.Context(), r.PathValue("id")); err != nil {
		h.fail(w, r, s, err)
		return
	}
	flash(w, r, "API key revoked: it no longer works.")
	http.Redirect(w, r, "/keys", http.StatusSeeOther)
}
