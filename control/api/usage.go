package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/usage"
	"github.com/h0p/h0p/shared/apierror"
)

// keyUsage is one key's usage over ?interval= (control/usage): the key is
// read as GET /v1/api-keys/:id reads it, so the same callers see it.
func (h *handler) keyUsage(c *gin.Context) {
	if h.Usage == nil {
		h.fail(c, errNoUsage)
		return
	}
	ctx, p := c.Request.Context(), principalOf(c)
	k, err := h.Accounts.Key(ctx, p, c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	span, err := usage.ParseInterval(c.Query("interval"), h.Now())
	if err != nil {
		h.fail(c, err)
		return
	}
	rep, err := h.Usage.Caller(ctx, usage.Caller{OrgID: p.OrgID, Kind: usage.KindKey, ID: k.ID}, span)
	// "id", as the key's own view says; "key" is a key's secret there.
	h.respond(c, http.StatusOK, struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		usage.CallerReport
	}{k.ID, k.Name, rep}, err)
}

// callerRow is a row of the org's usage by key: an API key's, or a
// signed-in user's (their sessions), named.
type callerRow struct {
	Key     string `json:"key,omitempty"`
	User    string `json:"user,omitempty"`
	Name    string `json:"name"`
	Deleted bool   `json:"deleted,omitempty"` // a key deleted since
	usage.Row
}

// orgUsage is the org's usage over ?interval= grouped by ?groupBy= (key,
// the default, route or status). A bot key sees the rows of the keys it
// may read (bot keys); people see every caller's.
func (h *handler) orgUsage(c *gin.Context) {
	if h.Usage == nil {
		h.fail(c, errNoUsage)
		return
	}
	ctx, p := c.Request.Context(), principalOf(c)
	groupBy, err := usage.ParseGroupBy(c.DefaultQuery("groupBy", "key"))
	if err != nil {
		h.fail(c, err)
		return
	}
	span, err := usage.ParseInterval(c.Query("interval"), h.Now())
	if err != nil {
		h.fail(c, err)
		return
	}
	rows, err := h.Usage.Org(ctx, p.OrgID, groupBy, span)
	if err != nil {
		h.fail(c, err)
		return
	}
	type answer struct {
		GroupBy string `json:"groupBy"`
		usage.Span
		Data any `json:"data"`
	}
	if groupBy != "key" {
		h.respond(c, http.StatusOK, answer{groupBy, span, rows}, nil)
		return
	}
	named, err := h.nameCallers(c, p, rows)
	h.respond(c, http.StatusOK, answer{groupBy, span, named}, err)
}

// nameCallers names the rows of an org's usage by key, leaving out those
// p may not see.
func (h *handler) nameCallers(c *gin.Context, p access.Principal, rows []usage.Row) ([]callerRow, error) {
	ctx := c.Request.Context()
	visible, err := h.Accounts.Keys(ctx, p)
	if err != nil {
		return nil, err
	}
	keyNames := map[string]string{}
	for _, k := range visible {
		keyNames[k.ID] = k.Name
	}
	all, err := h.Store.APIKeys(ctx, p.OrgID)
	if err != nil {
		return nil, err
	}
	exists := map[string]bool{}
	for _, k := range all {
		exists[k.ID] = true
	}
	members, err := h.Store.Members(ctx, p.OrgID)
	if err != nil {
		return nil, err
	}
	people := map[string]string{}
	for _, m := range members {
		people[m.UserID] = m.Email
		if m.Name != "" {
			people[m.UserID] = m.Name
		}
	}
	out := make([]callerRow, 0, len(rows))
	for _, r := range rows {
		name, seen := keyNames[r.ID]
		switch {
		case r.Kind == usage.KindKey && seen:
			out = append(out, callerRow{Key: r.ID, Name: name, Row: r})
		case !p.IsPerson():
			// A bot key reads bot keys only, not people or deleted keys.
		case r.Kind == usage.KindKey:
			out = append(out, callerRow{Key: r.ID, Deleted: !exists[r.ID], Row: r})
		case r.Kind == usage.KindUser:
			out = append(out, callerRow{User: r.ID, Name: people[r.ID], Row: r})
		}
	}
	return out, nil
}

var errNoUsage = apierror.New(apierror.NotFound, "API usage is not recorded on this server")
