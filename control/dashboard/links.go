package dashboard

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/shared/apierror"
)

// pageSize is the links table's page: one API call, whatever the number
// of links of the org.
const pageSize = 50

// maxBack bounds the cursors of earlier pages a links URL carries (for
// Previous); past it, the oldest are dropped and First page remains.
const maxBack = 30

// paging is the URLs of a cursor table's other pages ("": none), for the
// page at cursor after the pages at back, whose API page's next cursor
// is next; at is the table's URL at a cursor with its back cursors.
func paging(cursor string, back []string, next string, at func(cursor string, back []string) string) (nextURL, prev, first string) {
	if next != "" {
		nb := append(append([]string(nil), back...), cursor)
		if len(nb) > maxBack {
			nb = nb[len(nb)-maxBack:]
		}
		nextURL = at(next, nb)
	}
	if len(back) > 0 {
		prev = at(back[len(back)-1], back[:len(back)-1])
	}
	if cursor != "" {
		first = at("", nil)
	}
	return nextURL, prev, first
}

// staleCursor sends the request to start (the table's first page) when
// err is the API's refusal of cursor (one of other filters, or stale),
// and reports whether it did.
func staleCursor(w http.ResponseWriter, r *http.Request, err error, cursor, start string) bool {
	if cursor == "" || !apiclient.IsCode(err, apierror.ValidationError) {
		return false
	}
	http.Redirect(w, r, start, http.StatusSeeOther)
	return true
}

type linksData struct {
	Search, Tag, Domain, Sort string
	Links                     []apiclient.Link
	// Next, Prev and First are URLs of the table's other pages ("": none).
	Next, Prev, First string
	// Self is this page's URL, where the bulk form comes back to.
	Self string
}

func (h *Handler) linksPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	d := linksData{Search: strings.TrimSpace(q.Get("q")), Tag: strings.TrimSpace(q.Get("tag")),
		Domain: strings.TrimSpace(q.Get("domain")), Sort: q.Get("sort")}
	if d.Sort != "clicks" {
		d.Sort = "createdAt"
	}
	cursor, back := q.Get("cursor"), q["back"]
	if !h.page(w, r, s) {
		return
	}
	p, err := s.api.ListLinks(r.Context(), apiclient.LinkQuery{Search: d.Search, Tag: d.Tag, Domain: d.Domain,
		Sort: d.Sort, Limit: pageSize, Cursor: cursor})
	if staleCursor(w, r, err, cursor, d.url("", nil)) {
		return
	}
	if e, ok := errors.AsType[*apiclient.Error](err); ok && e.Code == apierror.ValidationError {
		// A filter the API refuses: said above the filters, to correct.
		_, msg, _ := fieldErrors(err)
		h.render(w, r, http.StatusBadRequest, "links", view{Title: "Links", Session: s, Data: d, Error: msg})
		return
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d.Links, d.Self = p.Data, d.url(cursor, back)
	d.Next, d.Prev, d.First = paging(cursor, back, p.NextCursor, d.url)
	h.render(w, r, http.StatusOK, "links", view{Title: "Links", Session: s, Data: d})
}

// url is the links table's URL with d's filters at cursor, with the
// cursors of the pages before it.
func (d linksData) url(cursor string, back []string) string {
	v := url.Values{}
	for k, x := range map[string]string{"q": d.Search, "tag": d.Tag, "domain": d.Domain, "cursor": cursor} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if d.Sort != "createdAt" {
		v.Set("sort", d.Sort)
	}
	if len(back) > 0 {
		v["back"] = back
	}
	if len(v) == 0 {
		return "/links"
	}
	return "/links?" + v.Encode()
}

// linkForm is a link as its form holds it: strings as typed, times in the
// browser's timezone.
type linkForm struct {
	ID                                                     string
	URL, Domain, Key, Tags, Title, Description             string
	ExpiresAt, ExpiredURL, Password                        string
	RemovePassword, Archived, HasPassword                  bool
	UTMSource, UTMMedium, UTMCampaign, UTMTerm, UTMContent string
	// IOS and Android are the devices' destinations; Geo is one
	// "country URL" a line, Variants one "URL weight" a line.
	IOS, Android, Geo, Variants string
	// Rules are the link's targeting rules, in the order the edge tries
	// them (before the device and country shorthands).
	Rules []ruleForm
	// The preview social networks show (preview.title, …).
	PreviewTitle, PreviewDescription, PreviewImage string
	// Card is the preview card of the preview fields, nil when they are
	// empty; Own is this server's public URL, whose /f/ files the card
	// may load.
	Card *previewCard
	Own  string
	Zone string
	// Focus names the control to focus when the form comes back from
	// one of its rule buttons; MaxRules is whether it has the API's
	// most rules.
	Focus    string
	MaxRules bool
	// Domains are the org's domains, offered in the domain field;
	// DomainsErr says why they could not be read.
	Domains    []string
	DomainsErr string
}

// formFields are the fields of the link form, named as the API names
// them, beside which its validation errors are shown.
var formFields = []string{"url", "domain", "key", "tags", "title", "description", "expiresAt", "expiredUrl",
	"password", "archived", "utm", "utm.source", "utm.medium", "utm.campaign", "utm.term", "utm.content",
	"ios", "android", "geo", "variants", "preview", "preview.title", "preview.description", "preview.image"}

const datetimeLocal = "2006-01-02T15:04"

func formOf(l apiclient.Link, loc *time.Location) linkForm {
	f := linkForm{ID: l.ID, URL: l.URL, Domain: l.Domain, Key: l.Key, Tags: strings.Join(l.Tags, ", "),
		Title: deref(l.Title), Description: deref(l.Description), ExpiredURL: deref(l.ExpiredURL),
		Archived: l.Archived, HasPassword: l.HasPassword, UTMSource: l.UTM.Source, UTMMedium: l.UTM.Medium,
		UTMCampaign: l.UTM.Campaign, UTMTerm: l.UTM.Term, UTMContent: l.UTM.Content, Zone: loc.String()}
	if l.ExpiresAt != nil {
		f.ExpiresAt = l.ExpiresAt.In(loc).Format(datetimeLocal)
	}
	f.IOS, f.Android = deref(l.IOS), deref(l.Android)
	if p := l.Preview; p != nil {
		f.PreviewTitle, f.PreviewDescription, f.PreviewImage = p.Title, p.Description, p.Image
	}
	var lines []string
	for _, c := range slices.Sorted(maps.Keys(l.Geo)) {
		lines = append(lines, c+" "+l.Geo[c])
	}
	f.Geo = strings.Join(lines, "\n")
	lines = nil
	for _, v := range l.Variants {
		lines = append(lines, v.URL+" "+strconv.Itoa(v.Weight))
	}
	f.Variants = strings.Join(lines, "\n")
	for _, ru := range l.Rules {
		f.Rules = append(f.Rules, ruleFormOf(ru, loc))
	}
	return f
}

func formFrom(r *http.Request) linkForm {
	v := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	return linkForm{URL: v("url"), Domain: v("domain"), Key: v("key"), Tags: v("tags"), Title: v("title"),
		Description: v("description"), ExpiresAt: v("expiresAt"), ExpiredURL: v("expiredUrl"),
		Password: r.PostFormValue("password"), RemovePassword: r.PostFormValue("removePassword") != "",
		Archived: r.PostFormValue("archived") != "", UTMSource: v("utm.source"), UTMMedium: v("utm.medium"),
		UTMCampaign: v("utm.campaign"), UTMTerm: v("utm.term"), UTMContent: v("utm.content"),
		IOS: v("ios"), Android: v("android"), Geo: v("geo"), Variants: v("variants"),
		PreviewTitle: v("preview.title"), PreviewDescription: v("preview.description"),
		PreviewImage: v("preview.image"), Rules: rulesFrom(r), Zone: timezone(r).String()}
}

// input is the API's input of f: on create, the fields left empty are
// left out (the API's defaults); on update, they are cleared. A time
// that is not one is the form's own error, by field.
func (f linkForm) input(update bool, loc *time.Location) (apiclient.LinkInput, map[string]string) {
	in := apiclient.LinkInput{URL: &f.URL, Archived: &f.Archived}
	text := func(name, value string, dst **string) {
		switch {
		case value != "":
			*dst = &value
		case update:
			in.Clear = append(in.Clear, name)
		}
	}
	text("title", f.Title, &in.Title)
	text("description", f.Description, &in.Description)
	text("expiredUrl", f.ExpiredURL, &in.ExpiredURL)
	text("ios", f.IOS, &in.IOS)
	text("android", f.Android, &in.Android)
	for line := range strings.Lines(f.Geo) {
		parts := strings.Fields(line)
		if len(parts) == 0 {
			continue
		}
		if len(parts) != 2 {
			return in, map[string]string{"geo": "takes one line per country: a country code, a space and a URL"}
		}
		if in.Geo == nil {
			in.Geo = map[string]string{}
		}
		in.Geo[strings.ToUpper(parts[0])] = parts[1]
	}
	if len(in.Geo) == 0 && update {
		in.Clear = append(in.Clear, "geo")
	}
	for line := range strings.Lines(f.Variants) {
		parts := strings.Fields(line)
		if len(parts) == 0 {
			continue
		}
		w, err := 0, error(nil)
		if len(parts) == 2 {
			w, err = strconv.Atoi(parts[1])
		}
		if len(parts) != 2 || err != nil {
			return in, map[string]string{"variants": "takes one line per destination: a URL, a space and a weight (a whole number)"}
		}
		in.Variants = append(in.Variants, apiclient.Variant{URL: parts[0], Weight: w})
	}
	if len(in.Variants) == 0 && update {
		in.Clear = append(in.Clear, "variants")
	}
	for i, rf := range f.Rules {
		ru, bad := rf.rule(fmt.Sprintf("rules[%d]", i), loc)
		if bad != nil {
			return in, bad
		}
		in.Rules = append(in.Rules, ru)
	}
	if len(in.Rules) == 0 && update {
		in.Clear = append(in.Clear, "rules")
	}
	preview := apiclient.Preview{Title: f.PreviewTitle, Description: f.PreviewDescription, Image: f.PreviewImage}
	switch {
	case preview != (apiclient.Preview{}):
		in.Preview = &preview
	case update:
		in.Clear = append(in.Clear, "preview")
	}
	if f.Domain != "" {
		in.Domain = &f.Domain
	}
	if f.Key != "" {
		in.Key = &f.Key
	}
	for t := range strings.SplitSeq(f.Tags, ",") {
		if t = strings.TrimSpace(t); t != "" {
			in.Tags = append(in.Tags, t)
		}
	}
	if len(in.Tags) == 0 && update {
		in.Clear = append(in.Clear, "tags")
	}
	if f.ExpiresAt != "" {
		t, err := time.ParseInLocation(datetimeLocal, f.ExpiresAt, loc)
		if err != nil {
			return in, map[string]string{"expiresAt": "must be a date and time"}
		}
		in.ExpiresAt = &t
	} else if update {
		in.Clear = append(in.Clear, "expiresAt")
	}
	switch {
	case f.Password != "":
		in.Password = &f.Password
	case f.RemovePassword && update:
		in.Clear = append(in.Clear, "password")
	}
	utm := apiclient.UTM{Source: f.UTMSource, Medium: f.UTMMedium, Campaign: f.UTMCampaign, Term: f.UTMTerm,
		Content: f.UTMContent}
	if utm != (apiclient.UTM{}) || update {
		in.UTM = &utm
	}
	return in, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// domains are the org's domain names for the form, when the person may
// read them (the field takes any name otherwise), or why they could not
// be read.
func (h *Handler) domains(r *http.Request, s *session) ([]string, string) {
	if !s.Can("domains", "read") {
		return nil, ""
	}
	p, err := s.api.ListDomains(r.Context(), apiclient.ListQuery{Limit: 100})
	if err != nil {
		return nil, h.message(r, err)
	}
	var names []string
	for _, d := range p.Data {
		names = append(names, d.Name)
	}
	return names, ""
}

func (h *Handler) newLinkPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	h.showForm(w, r, s, http.StatusOK, "New link", linkForm{Zone: timezone(r).String()}, nil, "")
}

func (h *Handler) createLink(w http.ResponseWriter, r *http.Request, s *session) {
	f := formFrom(r)
	if h.ruleButton(w, r, s, "New link", f) {
		return
	}
	f.Rules = slices.DeleteFunc(f.Rules, ruleForm.blank)
	in, bad := f.input(false, timezone(r))
	if bad == nil {
		l, err := s.api.CreateLink(r.Context(), in)
		if err == nil {
			flash(w, r, "Link created.")
			http.Redirect(w, r, "/links/"+url.PathEscape(l.ID), http.StatusSeeOther)
			return
		}
		h.formFailed(w, r, s, "New link", f, err)
		return
	}
	h.formAgain(w, r, s, "New link", f, bad, "Please correct the fields marked below.")
}

// formFailed shows the form again with the API's validation errors
// beside their fields; other refusals are pages.
func (h *Handler) formFailed(w http.ResponseWriter, r *http.Request, s *session, title string, f linkForm, err error) {
	fields, msg, ok := fieldErrors(err, append(formFields, ruleFields(len(f.Rules))...)...)
	if !ok {
		h.fail(w, r, s, err)
		return
	}
	h.formAgain(w, r, s, title, f, fields, msg)
}

func (h *Handler) formAgain(w http.ResponseWriter, r *http.Request, s *session, title string, f linkForm,
	fields map[string]string, msg string) {
	h.showForm(w, r, s, http.StatusBadRequest, title, f, fields, msg)
}

// ruleButton answers a press of one of the form's rule buttons (add,
// move, remove: the button "rule"), if it was one: the form again, with
// what was typed and the rules changed, saving nothing.
func (h *Handler) ruleButton(w http.ResponseWriter, r *http.Request, s *session, title string, f linkForm) bool {
	op := r.PostFormValue("rule")
	if op == "" {
		return false
	}
	f.Rules, f.Focus = editRules(f.Rules, op)
	h.showForm(w, r, s, http.StatusOK, title, f, nil, "")
	return true
}

// showForm renders the link form with f: the org's domains offered, the
// rules numbered, the preview card of its preview fields.
func (h *Handler) showForm(w http.ResponseWriter, r *http.Request, s *session, status int, title string, f linkForm,
	fields map[string]string, msg string) {
	if !h.page(w, r, s) {
		return
	}
	f.Password = "" // never sent back to the browser
	f.Domains, f.DomainsErr = h.domains(r, s)
	numberRules(f.Rules)
	f.MaxRules = len(f.Rules) >= maxRules
	f.Card, f.Own = h.formCard(f), strings.TrimSuffix(h.cfg.PublicURL, "/")
	h.render(w, r, status, "linkform", view{Title: title, Session: s, Data: f, Error: msg, FieldErrors: fields})
}

func (h *Handler) linkPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	l, err := s.api.GetLink(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d, fields, msg, err := h.design(r, s, l.ID)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	status := http.StatusOK
	if fields != nil || msg != "" {
		status = http.StatusBadRequest
	}
	h.render(w, r, status, "link", view{Title: l.ShortLink, Session: s,
		Data: linkPage{Link: l, QR: d, Card: h.cardOf(l)}, Error: msg, FieldErrors: fields})
}

// linkPage is what a link's page shows: the link, its QR designer and
// the card social networks show of it.
type linkPage struct {
	apiclient.Link
	QR   qrDesign
	Card *previewCard
}

func (h *Handler) editLinkPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	l, err := s.api.GetLink(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.showForm(w, r, s, http.StatusOK, "Edit "+l.ShortLink, formOf(l, timezone(r)), nil, "")
}

func (h *Handler) updateLink(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	f := formFrom(r)
	f.ID, f.HasPassword = id, r.PostFormValue("hasPassword") != ""
	if h.ruleButton(w, r, s, "Edit link", f) {
		return
	}
	f.Rules = slices.DeleteFunc(f.Rules, ruleForm.blank)
	in, bad := f.input(true, timezone(r))
	if bad != nil {
		h.formAgain(w, r, s, "Edit link", f, bad, "Please correct the fields marked below.")
		return
	}
	if _, err := s.api.UpdateLink(r.Context(), id, in); err != nil {
		h.formFailed(w, r, s, "Edit link", f, err)
		return
	}
	flash(w, r, "Link saved.")
	http.Redirect(w, r, "/links/"+url.PathEscape(id), http.StatusSeeOther)
}

func (h *Handler) deleteLinkPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	l, err := s.api.GetLink(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.render(w, r, http.StatusOK, "delete", view{Title: "Delete " + l.ShortLink, Session: s, Data: l})
}

func (h *Handler) deleteLink(w http.ResponseWriter, r *http.Request, s *session) {
	if err := s.api.DeleteLink(r.Context(), r.PathValue("id")); err != nil {
		h.fail(w, r, s, err)
		return
	}
	flash(w, r, "Link deleted.")
	http.Redirect(w, r, "/links", http.StatusSeeOther)
}

func (h *Handler) archiveLink(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	archived := r.PostFormValue("archived") == "true"
	if _, err := s.api.UpdateLink(r.Context(), id, apiclient.LinkInput{Archived: &archived}); err != nil {
		h.fail(w, r, s, err)
		return
	}
	if archived {
		flash(w, r, "Link archived.")
	} else {
		flash(w, r, "Link restored from the archive.")
	}
	http.Redirect(w, r, "/links/"+url.PathEscape(id), http.StatusSeeOther)
}

// linkQR answers the link's QR code as a download, PNG or SVG, drawn by
// the API (GET /v1/links/{id}/qr) with the designer's options.
func (h *Handler) linkQR(w http.ResponseWriter, r *http.Request, s *session) {
	id, o := r.PathValue("id"), qrOptionsOf(r.URL.Query())
	format := o.Format
	img, err := s.api.LinkQR(r.Context(), id, o)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	ct := "image/png"
	if format == "svg" {
		ct = "image/svg+xml"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", `attachment; filename="qr-`+safeName(id)+"."+format+`"`)
	w.Header().Set("Cache-Control", "private, max-age=300")
	w.Write(img)
}

// safeName keeps the characters of an ID that are safe in a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return -1
	}, s)
}
