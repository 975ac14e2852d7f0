package dashboard

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/shared/apierror"
)

type domainsData struct {
	Domains []apiclient.Domain
	// Next and First are URLs of the table's other pages ("": none).
	Next, First string
}

func (h *Handler) domainsPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	cursor := r.URL.Query().Get("cursor")
	p, err := s.api.ListDomains(r.Context(), apiclient.ListQuery{Limit: pageSize, Cursor: cursor})
	if staleCursor(w, r, err, cursor, "/domains") {
		return
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := domainsData{Domains: p.Data}
	if p.NextCursor != "" {
		d.Next = "/domains?cursor=" + url.QueryEscape(p.NextCursor)
	}
	if cursor != "" {
		d.First = "/domains"
	}
	h.render(w, r, http.StatusOK, "domains", view{Title: "Domains", Section: "domains", Session: s, Data: d})
}

// domainForm is a domain's settings as the form holds them.
type domainForm struct {
	ID, Name                             string
	RootURL, NotFoundURL, ExpiredURL     string
	RedirectStatus                       string
	Indexable, DoNotTrack, HTTPSRedirect bool
	HSTS, Primary                        bool
}

// domainFields are the form's fields, named as the API names them.
var domainFields = []string{"name", "rootUrl", "notFoundUrl", "expiredUrl", "redirectStatus", "indexable",
	"doNotTrack", "httpsRedirect", "hsts", "primary"}

// redirectStatuses are the statuses a domain's links may answer with.
var redirectStatuses = []string{"301", "302", "307", "308"}

func domainFormOf(d apiclient.Domain) domainForm {
	return domainForm{ID: d.ID, Name: d.Name, RootURL: deref(d.RootURL), NotFoundURL: deref(d.NotFoundURL),
		ExpiredURL: deref(d.ExpiredURL), RedirectStatus: strconv.Itoa(d.RedirectStatus), Indexable: d.Indexable,
		DoNotTrack: d.DoNotTrack, HTTPSRedirect: d.HTTPSRedirect, HSTS: d.HSTS, Primary: d.Primary}
}

func domainFormFrom(r *http.Request) domainForm {
	v := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	on := func(name string) bool { return r.PostFormValue(name) != "" }
	return domainForm{Name: v("name"), RootURL: v("rootUrl"), NotFoundURL: v("notFoundUrl"),
		ExpiredURL: v("expiredUrl"), RedirectStatus: v("redirectStatus"), Indexable: on("indexable"),
		DoNotTrack: on("doNotTrack"), HTTPSRedirect: on("httpsRedirect"), HSTS: on("hsts"), Primary: on("primary")}
}

// input is the API's input of f: on create, the URLs left empty are left
// out and primary is not sent (only a verified domain can be primary); on
// update, empty URLs are cleared.
func (f domainForm) input(update bool) (apiclient.DomainInput, map[string]string) {
	in := apiclient.DomainInput{Indexable: &f.Indexable, DoNotTrack: &f.DoNotTrack,
		HTTPSRedirect: &f.HTTPSRedirect, HSTS: &f.HSTS}
	if update {
		in.Primary = &f.Primary
	} else {
		in.Name = &f.Name
	}
	text := func(name, value string, dst **string) {
		switch {
		case value != "":
			*dst = &value
		case update:
			in.Clear = append(in.Clear, name)
		}
	}
	text("rootUrl", f.RootURL, &in.RootURL)
	text("notFoundUrl", f.NotFoundURL, &in.NotFoundURL)
	text("expiredUrl", f.ExpiredURL, &in.ExpiredURL)
	if f.RedirectStatus != "" {
		n, err := strconv.Atoi(f.RedirectStatus)
		if err != nil {
			return in, map[string]string{"redirectStatus": "must be 301, 302, 307 or 308"}
		}
		in.RedirectStatus = &n
	}
	return in, nil
}

type domainFormData struct {
	Form     domainForm
	Statuses []string
}

func (h *Handler) newDomainPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	if !s.Can("domains", "create") {
		h.problem(w, r, s, http.StatusForbidden, "You may not add domains in this organization.")
		return
	}
	f := domainForm{RedirectStatus: "302", HTTPSRedirect: true}
	h.render(w, r, http.StatusOK, "domainsnew", view{Title: "Add a domain", Section: "domains", Session: s,
		Data: domainFormData{Form: f, Statuses: redirectStatuses}})
}

func (h *Handler) createDomain(w http.ResponseWriter, r *http.Request, s *session) {
	f := domainFormFrom(r)
	in, bad := f.input(false)
	if bad == nil {
		d, err := s.api.AddDomain(r.Context(), in)
		if err == nil {
			flash(w, r, "Domain added: publish its DNS records, then verify it.")
			http.Redirect(w, r, "/domains/"+url.PathEscape(d.ID), http.StatusSeeOther)
			return
		}
		var msg string
		var ok bool
		if bad, msg, ok = fieldErrors(err, domainFields...); !ok {
			h.fail(w, r, s, err)
			return
		}
		if apiclient.IsCode(err, apierror.AlreadyExist) && len(bad) == 0 {
			// The name is another domain's.
			bad, msg = map[string]string{"name": msg}, "Please correct the fields marked below."
		}
		h.newDomainAgain(w, r, s, f, bad, msg)
		return
	}
	h.newDomainAgain(w, r, s, f, bad, "Please correct the fields marked below.")
}

func (h *Handler) newDomainAgain(w http.ResponseWriter, r *http.Request, s *session, f domainForm,
	fields map[string]string, msg string) {
	if !h.page(w, r, s) {
		return
	}
	h.render(w, r, http.StatusBadRequest, "domainsnew", view{Title: "Add a domain", Section: "domains", Session: s,
		Error: msg, FieldErrors: fields, Data: domainFormData{Form: f, Statuses: redirectStatuses}})
}

// recordRow is one DNS record a domain needs, with what the last check
// found of the same type and name.
type recordRow struct {
	Type, Name, Value string
	Found             []string
	OK                bool
}

type domainData struct {
	Domain  apiclient.Domain
	Records []recordRow
	Checked bool // the domain's DNS was checked at least once
	// CertSummary is what the certificate's status means, in words.
	CertSummary string
	Form        domainForm
	Statuses    []string
}

// recordRows pairs the records a domain needs with those found.
func recordRows(d apiclient.Domain) []recordRow {
	if d.Records == nil {
		return nil
	}
	norm := func(s string) string { return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), ".")) }
	var rows []recordRow
	for _, e := range d.Records.Expected {
		row := recordRow{Type: e.Type, Name: e.Name, Value: e.Value}
		for _, f := range d.Records.Found {
			if f.Type == e.Type && norm(f.Name) == norm(e.Name) {
				row.Found = append(row.Found, f.Value)
				if norm(f.Value) == norm(e.Value) || f.Type == "TXT" && strings.TrimSpace(f.Value) == e.Value {
					row.OK = true
				}
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// certSummary says in plain words what the domain's certificate state
// (the API's certificate.status) means for it.
func certSummary(d apiclient.Domain) string {
	switch d.Certificate.Status {
	case "pending":
		return "Being obtained: the edges answer the certificate authority's check (ACME HTTP-01); this takes a few minutes."
	case "issued":
		return "Valid: the edges serve the domain over HTTPS, and the certificate is renewed before it expires."
	case "renewing":
		return "Valid, and being renewed: a new certificate is being obtained before this one expires."
	case "failed":
		return "Not obtained: the last attempt failed, see below. It is tried again automatically; check that the domain's DNS records still point at the edges."
	}
	switch d.Status {
	case "verified":
		return "None: this server does not obtain certificates (no ACME directory is configured)."
	case "misconfigured":
		return "None: the domain is not served; one is obtained again once it verifies."
	}
	return "None yet: one is obtained once the domain is verified."
}

func (h *Handler) domainData(d apiclient.Domain) domainData {
	return domainData{Domain: d, Records: recordRows(d), Checked: d.LastCheckedAt != nil, CertSummary: certSummary(d),
		Form: domainFormOf(d), Statuses: redirectStatuses}
}

func (h *Handler) domainPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	d, err := s.api.GetDomain(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.render(w, r, http.StatusOK, "domainsshow", view{Title: d.Name, Section: "domains", Session: s,
		Data: h.domainData(d)})
}

func (h *Handler) updateDomain(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	f := domainFormFrom(r)
	in, bad := f.input(true)
	msg := "Please correct the fields marked below."
	if bad == nil {
		_, err := s.api.UpdateDomain(r.Context(), id, in)
		if err == nil {
			flash(w, r, "Domain settings saved.")
			http.Redirect(w, r, "/domains/"+url.PathEscape(id), http.StatusSeeOther)
			return
		}
		var ok bool
		if bad, msg, ok = fieldErrors(err, domainFields...); !ok {
			h.fail(w, r, s, err)
			return
		}
	}
	if !h.page(w, r, s) {
		return
	}
	d, err := s.api.GetDomain(r.Context(), id)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	data := h.domainData(d)
	f.ID, f.Name = d.ID, d.Name
	data.Form = f
	h.render(w, r, http.StatusBadRequest, "domainsshow", view{Title: d.Name, Section: "domains", Session: s,
		Error: msg, FieldErrors: bad, Data: data})
}

// verifyDomain checks the domain's DNS now and says what came of it; a
// check whose lookups failed changes nothing and says so.
func (h *Handler) verifyDomain(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	d, err := s.api.VerifyDomain(r.Context(), id)
	switch {
	case apiclient.IsCode(err, apierror.Unavailable):
		e, _ := errors.AsType[*apiclient.Error](err)
		flash(w, r, "The check could not be made: "+e.Message+".")
	case err != nil:
		h.fail(w, r, s, err)
		return
	case d.Status == "verified":
		flash(w, r, "Verified: "+d.Name+" is served by the edges.")
	case d.Status == "misconfigured":
		flash(w, r, "The DNS records do not check out: "+d.Name+" is misconfigured and not served.")
	default:
		flash(w, r, "The DNS records do not check out yet: "+d.Name+" is still pending.")
	}
	http.Redirect(w, r, "/domains/"+url.PathEscape(id), http.StatusSeeOther)
}

type domainDeleteData struct {
	Domain apiclient.Domain
	// Force: the person may delete the domain's links with it.
	Force bool
}

func (h *Handler) deleteDomainPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	d, err := s.api.GetDomain(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	if !s.Can("domains", "delete") {
		h.problem(w, r, s, http.StatusForbidden, "You may not delete domains in this organization.")
		return
	}
	h.render(w, r, http.StatusOK, "domainsdelete", view{Title: "Delete " + d.Name, Section: "domains", Session: s,
		Data: domainDeleteData{Domain: d, Force: s.Can("shortLinks", "delete")}})
}

// deleteDomain deletes the domain; a domain that still has links is
// refused (409) unless the person asked for its links to go too, and
// the refusal is shown on the confirmation page.
func (h *Handler) deleteDomain(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	err := s.api.DeleteDomain(r.Context(), id, r.PostFormValue("force") != "")
	if err == nil {
		flash(w, r, "Domain deleted.")
		http.Redirect(w, r, "/domains", http.StatusSeeOther)
		return
	}
	e, ok := errors.AsType[*apiclient.Error](err)
	if !ok || e.Status != http.StatusConflict {
		h.fail(w, r, s, err)
		return
	}
	if !h.page(w, r, s) {
		return
	}
	d, gerr := s.api.GetDomain(r.Context(), id)
	if gerr != nil {
		h.fail(w, r, s, gerr)
		return
	}
	h.render(w, r, http.StatusConflict, "domainsdelete", view{Title: "Delete " + d.Name, Section: "domains",
		Session: s, Error: e.Message, Data: domainDeleteData{Domain: d, Force: s.Can("shortLinks", "delete")}})
}
