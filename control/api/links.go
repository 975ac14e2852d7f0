package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/linkcsv"
	"github.com/h0p/h0p/control/links"
	"github.com/h0p/h0p/control/qr"
	"github.com/h0p/h0p/shared/apierror"
)

// linkView is a link as the API shows it: the service's view with the
// link's short link and the address of its QR code.
func (h *handler) linkView(l links.Link) links.View {
	v := links.ViewOf(l)
	v.ShortLink = h.ShortLink(l.Domain, l.Key)
	v.QRCode = h.APIURL + "/v1/links/" + l.ID + "/qr"
	return v
}

func decodeLinkInput(c *gin.Context) (links.Input, error) {
	b, err := readBody(c)
	if err != nil {
		return links.Input{}, err
	}
	return links.DecodeInput(b)
}

func (h *handler) createLink(c *gin.Context) {
	in, err := decodeLinkInput(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	l, err := h.Links.Create(c.Request.Context(), principalOf(c), in)
	h.respond(c, http.StatusCreated, h.linkView(l), err)
}

func (h *handler) getLink(c *gin.Context) {
	l, err := h.Links.Get(c.Request.Context(), principalOf(c), c.Param("id"))
	h.respond(c, http.StatusOK, h.linkView(l), err)
}

func (h *handler) linkInfo(c *gin.Context) {
	l, err := h.Links.Info(c.Request.Context(), principalOf(c), c.Query("domain"), c.Query("key"), c.Query("externalId"))
	h.respond(c, http.StatusOK, h.linkView(l), err)
}

func (h *handler) patchLink(c *gin.Context) {
	in, err := decodeLinkInput(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	l, err := h.Links.Update(c.Request.Context(), principalOf(c), c.Param("id"), in)
	h.respond(c, http.StatusOK, h.linkView(l), err)
}

func (h *handler) deleteLink(c *gin.Context) {
	l, err := h.Links.Delete(c.Request.Context(), principalOf(c), c.Param("id"))
	h.respond(c, http.StatusOK, gin.H{"id": l.ID}, err)
}

func (h *handler) upsertLink(c *gin.Context) {
	in, err := decodeLinkInput(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	l, created, err := h.Links.Upsert(c.Request.Context(), principalOf(c), in)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	h.respond(c, status, h.linkView(l), err)
}

// boolQuery reads an optional true/false query parameter.
func boolQuery(c *gin.Context, name string) (*bool, error) {
	v := c.Query(name)
	if v == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return nil, apierror.Invalid(name, "must be true or false")
	}
	return &b, nil
}

func linkQuery(c *gin.Context) (links.Query, error) {
	q := links.Query{Domain: c.Query("domain"), Tag: c.Query("tag"), Search: c.Query("search"),
		ExternalID: c.Query("externalId"), CreatedBy: c.Query("createdBy"), Sort: c.Query("sort"),
		Order: c.Query("order"), Cursor: c.Query("cursor")}
	var err error
	if q.Archived, err = boolQuery(c, "archived"); err != nil {
		return q, err
	}
	if q.Disabled, err = boolQuery(c, "disabled"); err != nil {
		return q, err
	}
	q.Limit, err = queryLimit(c)
	return q, err
}

func (h *handler) listLinks(c *gin.Context) {
	q, err := linkQuery(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	ls, next, err := h.Links.List(c.Request.Context(), principalOf(c), q)
	h.respond(c, http.StatusOK, pageOf(ls, h.linkView, next), err)
}

func (h *handler) countLinks(c *gin.Context) {
	q, err := linkQuery(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	groupBy := c.Query("groupBy")
	counts, err := h.Links.Count(c.Request.Context(), principalOf(c), q, groupBy)
	if err != nil {
		h.fail(c, err)
		return
	}
	if groupBy == "" {
		c.JSON(http.StatusOK, gin.H{"count": counts[0].Count})
		return
	}
	groups := make([]gin.H, 0, len(counts))
	for _, g := range counts {
		groups = append(groups, gin.H{groupBy: g.Group, "count": g.Count})
	}
	c.JSON(http.StatusOK, gin.H{"groups": groups})
}

// bulkItem is one result of a bulk call: the link (a deleted one by its id
// alone, as DELETE /v1/links/{id} answers), or the item's error in the
// envelope's shape.
type bulkItem struct {
	Index int      `json:"index"`
	Link  any      `json:"link,omitempty"` // *links.View, or deletedJSON
	Error *errJSON `json:"error,omitempty"`
}

// deletedJSON is a deleted link.
type deletedJSON struct {
	ID string `json:"id"`
}

type errJSON struct {
	Code    apierror.Code     `json:"code"`
	Message string            `json:"message"`
	Details []apierror.Detail `json:"details,omitempty"`
}

func (h *handler) bulkResults(c *gin.Context, results []links.Result, withLinks bool) []bulkItem {
	out := make([]bulkItem, len(results))
	for i, r := range results {
		out[i].Index = i
		if r.Err != nil {
			e := apierror.From(r.Err)
			if e.Code == apierror.Internal {
				h.Logger.Error("bulk item failed", "err", r.Err, "requestId", c.GetString(ctxRequestID))
			}
			out[i].Error = &errJSON{e.Code, e.Message, e.Details}
			continue
		}
		if withLinks {
			v := h.linkView(r.Link)
			out[i].Link = &v
		} else {
			out[i].Link = deletedJSON{r.Link.ID}
		}
	}
	return out
}

func (h *handler) bulkCreate(c *gin.Context) {
	b, err := readBody(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		h.fail(c, apierror.Invalid("body", "must be a JSON array of links"))
		return
	}
	ins := make([]links.Input, len(raws))
	bad := map[int]error{}
	for i, raw := range raws {
		if ins[i], err = links.DecodeInput(raw); err != nil {
			bad[i] = err
			ins[i] = links.Input{} // fails validation (no url) but keeps its place
		}
	}
	results, err := h.Links.CreateMany(c.Request.Context(), principalOf(c), ins)
	if err != nil {
		h.fail(c, err)
		return
	}
	for i, e := range bad {
		results[i] = links.Result{Err: e}
	}
	c.JSON(http.StatusOK, gin.H{"data": h.bulkResults(c, results, true)})
}

// bulkTargets names the links of a bulk update or delete: by id, under
// H0p's name (ids) or Dub's (linkIds), or by externalIds. One call names its
// links one way: the results' indexes are positions in that one list, so a
// body with two of the lists is refused, naming the second, rather than
// guessing which wins or how they merge.
type bulkTargets struct {
	IDs         *[]string `json:"ids"`
	LinkIDs     *[]string `json:"linkIds"`
	ExternalIDs *[]string `json:"externalIds"`
}

// bulkUpdateBody is a bulk update: the links, as bulkTargets names them,
// and the changes for each. (Not an embedded bulkTargets: encoding/json
// would name a mistyped list "bulkTargets.linkIds" in its error.)
type bulkUpdateBody struct {
	IDs         *[]string       `json:"ids"`
	LinkIDs     *[]string       `json:"linkIds"`
	ExternalIDs *[]string       `json:"externalIds"`
	Data        json.RawMessage `json:"data"`
}

func (b bulkUpdateBody) targets() ([]links.Target, error) {
	return bulkTargets{b.IDs, b.LinkIDs, b.ExternalIDs}.targets()
}

func (t bulkTargets) targets() ([]links.Target, error) {
	var (
		field string
		list  []string
	)
	for _, l := range []struct {
		name string
		ids  *[]string
	}{{"ids", t.IDs}, {"linkIds", t.LinkIDs}, {"externalIds", t.ExternalIDs}} {
		if l.ids == nil {
			continue
		}
		if field != "" {
			return nil, apierror.Invalid(l.name, "give one of ids, linkIds and externalIds, not "+field+" and "+l.name)
		}
		field, list = l.name, *l.ids
	}
	switch {
	case field == "":
		return nil, apierror.Invalid("ids", "is required: give ids (or linkIds) or externalIds")
	case len(list) == 0:
		return nil, apierror.Invalid(field, "is empty; name at least one link")
	case len(list) > links.MaxBulk:
		return nil, apierror.Invalid(field, fmt.Sprintf("at most %d links per call", links.MaxBulk))
	}
	out := make([]links.Target, len(list))
	for i, id := range list {
		if field == "externalIds" {
			out[i].ExternalID = id
		} else {
			out[i].ID = id
		}
	}
	return out, nil
}

func (h *handler) bulkUpdate(c *gin.Context) {
	var t bulkUpdateBody
	if err := decodeJSON(c, &t); err != nil {
		h.fail(c, err)
		return
	}
	targets, err := t.targets()
	if err != nil {
		h.fail(c, err)
		return
	}
	if len(t.Data) == 0 || string(t.Data) == "null" {
		h.fail(c, apierror.Invalid("data", "is required: the changes to apply"))
		return
	}
	in, err := links.DecodeInput(t.Data)
	if err != nil {
		h.fail(c, err)
		return
	}
	if in.Key.Set || in.ExternalID.Set {
		h.fail(c, apierror.Invalid("data", "key and externalId are per link; change them one link at a time"))
		return
	}
	results, err := h.Links.UpdateMany(c.Request.Context(), principalOf(c), targets, in)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"data": h.bulkResults(c, results, true)})
}

func (h *handler) bulkDelete(c *gin.Context) {
	var t bulkTargets
	if err := decodeJSON(c, &t); err != nil {
		h.fail(c, err)
		return
	}
	targets, err := t.targets()
	if err != nil {
		h.fail(c, err)
		return
	}
	results, err := h.Links.DeleteMany(c.Request.Context(), principalOf(c), targets)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"data": h.bulkResults(c, results, false)})
}

// --- tags ------------------------------------------------------------------

type tagRequest struct {
	Name  *string `json:"name"`
	Color *string `json:"color"`
}

func (h *handler) listTags(c *gin.Context) {
	q := links.TagQuery{Cursor: c.Query("cursor")}
	var err error
	if q.Limit, err = queryLimit(c); err != nil {
		h.fail(c, err)
		return
	}
	tags, next, err := h.Links.Tags(c.Request.Context(), principalOf(c), q)
	h.respond(c, http.StatusOK, pageOf(tags, links.TagViewOf, next), err)
}

func (h *handler) createTag(c *gin.Context) {
	var req tagRequest
	if err := decodeJSON(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	name, color := "", ""
	if req.Name != nil {
		name = *req.Name
	}
	if req.Color != nil {
		color = *req.Color
	}
	t, err := h.Links.CreateTag(c.Request.Context(), principalOf(c), name, color)
	h.respond(c, http.StatusCreated, links.TagViewOf(t), err)
}

func (h *handler) patchTag(c *gin.Context) {
	var req tagRequest
	if err := decodeJSON(c, &req); err != nil {
		h.fail(c, err)
		return
	}
	t, err := h.Links.UpdateTag(c.Request.Context(), principalOf(c), c.Param("id"), req.Name, req.Color)
	h.respond(c, http.StatusOK, links.TagViewOf(t), err)
}

func (h *handler) deleteTag(c *gin.Context) {
	id := c.Param("id")
	err := h.Links.DeleteTag(c.Request.Context(), principalOf(c), id)
	h.respond(c, http.StatusOK, gin.H{"id": id}, err)
}

// --- import / export -------------------------------------------------------

// exportLinks streams the org's links as CSV (H0p's format, which import
// reads back).
func (h *handler) exportLinks(c *gin.Context) {
	p := principalOf(c)
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="links.csv"`)
	w := linkcsv.NewWriter(c.Writer)
	n := 0
	err := h.Links.Export(c.Request.Context(), p, func(l links.Link) error {
		if err := w.Write(linkcsv.ExportRow{ID: l.ID, Domain: l.Domain, Key: l.Key, URL: l.URL,
			ShortLink: h.ShortLink(l.Domain, l.Key), Title: l.Title, Tags: l.TagNames, ExternalID: l.ExternalID,
			Clicks: l.Clicks, CreatedAt: l.CreatedAt}); err != nil {
			return err
		}
		if n++; n%100 == 0 {
			return w.Flush()
		}
		return nil
	})
	if err == nil {
		err = w.Flush()
	}
	switch {
	case err != nil && !c.Writer.Written():
		c.Writer.Header().Del("Content-Disposition")
		c.Writer.Header().Del("Content-Type")
		h.fail(c, err)
	case err != nil:
		// Part of the file is out: the status is sent, so log and cut the
		// connection (recoverPanic lets it through): the client sees a
		// broken download, not a short file that looks whole.
		h.Logger.Error("export links", "err", err, "requestId", c.GetString(ctxRequestID))
		panic(http.ErrAbortHandler)
	}
}

type importRow struct {
	Line  int      `json:"line"`
	ID    string   `json:"id,omitempty"`
	Error *errJSON `json:"error,omitempty"`
}

// importLinks creates links from a CSV body (H0p's, Bitly's or Shlink's
// export), reporting every row.
func (h *handler) importLinks(c *gin.Context) {
	results, err := h.Links.Import(c.Request.Context(), principalOf(c), c.Request.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		err = apierror.New(apierror.PayloadTooLarge, "import files are at most 20 MiB")
	}
	if err != nil {
		// A file found too long after MaxRows rows ends the import when
		// batches of it are created already.
		if slices.ContainsFunc(results, func(r links.ImportResult) bool { return r.ID != "" }) {
			changedAnyway(c)
		}
		h.fail(c, err)
		return
	}
	rows := make([]importRow, 0, len(results))
	imported := 0
	for _, r := range results {
		row := importRow{Line: r.Line, ID: r.ID}
		if r.Err != nil {
			e := apierror.From(r.Err)
			row.Error = &errJSON{e.Code, e.Message, e.Details}
		} else {
			imported++
		}
		rows = append(rows, row)
	}
	c.JSON(http.StatusOK, gin.H{"imported": imported, "failed": len(rows) - imported, "rows": rows})
}

// linkQR answers the link's QR code, drawn as the query asks (control/qr
// has the options): the short link with ?qr=1, so the edge can tell scans
// from clicks.
func (h *handler) linkQR(c *gin.Context) {
	o, err := qr.ParseOptions(c.Request.URL.Query())
	if err != nil {
		h.fail(c, err)
		return
	}
	_, img, err := h.renderQR(c, c.Param("id"), &o)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Cache-Control", "private, max-age=300")
	c.Header("X-Content-Type-Options", "nosniff")
	if o.Format == qr.SVG {
		// An SVG opened on its own is a document: no scripts, no fetches;
		// a logo is a data: image inside it.
		csp := "default-src 'none'; style-src 'unsafe-inline'"
		if o.Logo != nil {
			csp += "; img-src data:"
		}
		c.Header("Content-Security-Policy", csp)
	}
	c.Data(http.StatusOK, o.Format.ContentType(), img)
}

// renderQR draws link id's QR code with o, loading its logo into o: the
// options are checked before, so a bad one is 400 naming it whatever the
// link.
func (h *handler) renderQR(c *gin.Context, id string, o *qr.Options) (links.Link, []byte, error) {
	p := principalOf(c)
	l, err := h.Links.Get(c.Request.Context(), p, id)
	if err != nil {
		return l, nil, err
	}
	if o.LogoID != "" {
		if h.Logos == nil {
			return l, nil, apierror.Invalid("logo", "logos are not available yet")
		}
		if access.Check(p, access.Need{Resource: access.Files, Action: access.Read}) != access.Allowed {
			return l, nil, apierror.New(apierror.Forbidden, "a logo is a file: it needs the files read permission")
		}
		if o.Logo, err = h.Logos.LogoImage(c.Request.Context(), p, o.LogoID); err != nil {
			return l, nil, err
		}
	}
	img, err := qr.Render(h.ShortLink(l.Domain, l.Key)+"?qr=1", *o)
	return l, img, err
}
