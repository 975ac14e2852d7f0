package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/h0p/h0p/control/apiclient"
)

// webhookEvents are the events an endpoint may subscribe to, in the
// API's order.
var webhookEvents = []string{"link.created", "link.updated", "link.deleted", "link.clicked"}

// Scopes of the webhook form: which links' events an endpoint receives.
const (
	scopeDefault = ""     // created, updated and deleted of every link
	scopeAll     = "all"  // allLinks
	scopeTags    = "tags" // links with one of the tags
	scopeLinks   = "links"
)

func (h *Handler) webhooksPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	cursor := r.URL.Query().Get("cursor")
	p, err := s.api.ListWebhooks(r.Context(), apiclient.ListQuery{Limit: pageSize, Cursor: cursor})
	if staleCursor(w, r, err, cursor, "/webhooks") {
		return
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := webhooksData{Webhooks: p.Data}
	if p.NextCursor != "" {
		d.Next = "/webhooks?cursor=" + url.QueryEscape(p.NextCursor)
	}
	if cursor != "" {
		d.First = "/webhooks"
	}
	h.render(w, r, http.StatusOK, "webhooks", view{Title: "Webhooks", Section: "webhooks", Session: s, Data: d})
}

type webhooksData struct {
	Webhooks    []apiclient.Webhook
	Next, First string
}

// webhookForm is an endpoint as its form holds it.
type webhookForm struct {
	URL, Description, Scope, LinkIDs string
	Events, Tags                     map[string]bool
	// AllEvents and OrgTags are the choices the form offers; TagsErr
	// says why the tags could not be read.
	AllEvents []string
	OrgTags   []apiclient.Tag
	TagsErr   string
}

var webhookFields = []string{"url", "events", "description", "linkIds", "tags", "allLinks"}

func (h *Handler) webhookFormFor(r *http.Request, s *session, f webhookForm) webhookForm {
	f.AllEvents = webhookEvents
	if s.Can("shortLinks", "read") {
		p, err := s.api.ListTags(r.Context(), apiclient.ListQuery{Limit: 100})
		if err != nil {
			f.TagsErr = h.message(r, err)
		}
		f.OrgTags = p.Data
	}
	return f
}

func (h *Handler) newWebhookPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	if !s.Can("webhooks", "create") {
		h.problem(w, r, s, http.StatusForbidden, "You may not create webhooks in this organization.")
		return
	}
	f := h.webhookFormFor(r, s, webhookForm{Events: map[string]bool{"link.created": true}})
	h.render(w, r, http.StatusOK, "webhooksnew", view{Title: "New webhook", Section: "webhooks", Session: s, Data: f})
}

func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	r.ParseForm()
	f := webhookForm{URL: strings.TrimSpace(r.PostFormValue("url")),
		Description: strings.TrimSpace(r.PostFormValue("description")), Scope: r.PostFormValue("scope"),
		LinkIDs: strings.TrimSpace(r.PostFormValue("linkIds")), Events: map[string]bool{}, Tags: map[string]bool{}}
	in := apiclient.WebhookInput{URL: f.URL, Description: f.Description}
	for _, e := range r.PostForm["event"] {
		if !f.Events[e] {
			f.Events[e] = true
			in.Events = append(in.Events, e)
		}
	}
	for _, t := range r.PostForm["tag"] {
		f.Tags[t] = true
	}
	switch f.Scope {
	case scopeAll:
		in.AllLinks = true
	case scopeTags:
		in.Tags = r.PostForm["tag"]
	case scopeLinks:
		for id := range strings.SplitSeq(f.LinkIDs, ",") {
			if id = strings.TrimSpace(id); id != "" {
				in.LinkIDs = append(in.LinkIDs, id)
			}
		}
	}
	// An empty events list is sent as one: the API says what it wants.
	if in.Events == nil {
		in.Events = []string{}
	}
	wh, err := s.api.CreateWebhook(r.Context(), in)
	if err == nil {
		h.showWebhookSecret(w, r, s, wh, "Webhook created.")
		return
	}
	fields, msg, ok := fieldErrors(err, webhookFields...)
	if !ok {
		h.fail(w, r, s, err)
		return
	}
	if !h.page(w, r, s) {
		return
	}
	h.render(w, r, http.StatusBadRequest, "webhooksnew", view{Title: "New webhook", Section: "webhooks", Session: s,
		Error: msg, FieldErrors: fields, Data: h.webhookFormFor(r, s, f)})
}

type webhookSecretData struct {
	Webhook apiclient.Webhook
	Secret  string
}

// showWebhookSecret answers the page that shows wh's signing secret: the
// one time it is shown, in the answer to the POST that made it: nothing
// after the API's answer may keep it from the person (see showSecret).
func (h *Handler) showWebhookSecret(w http.ResponseWriter, r *http.Request, s *session, wh apiclient.WebhookSecret,
	msg string) {
	h.render(w, r, http.StatusOK, "webhookssecret", view{Title: "Webhook secret", Section: "webhooks", Session: s,
		Flash: msg, Data: webhookSecretData{Webhook: wh.Webhook, Secret: wh.Secret}})
}

type webhookData struct {
	Webhook     apiclient.Webhook
	Deliveries  []apiclient.WebhookDelivery
	Next, First string
}

func (h *Handler) webhookPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	id, cursor := r.PathValue("id"), r.URL.Query().Get("cursor")
	wh, err := s.api.GetWebhook(r.Context(), id)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	p, err := s.api.ListWebhookDeliveries(r.Context(), id, apiclient.ListQuery{Limit: pageSize, Cursor: cursor})
	if staleCursor(w, r, err, cursor, "/webhooks/"+url.PathEscape(id)) {
		return
	}
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	d := webhookData{Webhook: wh, Deliveries: p.Data}
	if p.NextCursor != "" {
		d.Next = "/webhooks/" + url.PathEscape(id) + "?cursor=" + url.QueryEscape(p.NextCursor)
	}
	if cursor != "" {
		d.First = "/webhooks/" + url.PathEscape(id)
	}
	h.render(w, r, http.StatusOK, "webhooksshow", view{Title: wh.URL, Section: "webhooks", Session: s, Data: d})
}

// testWebhook sends a ping now and says how the receiver answered.
func (h *Handler) testWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	a, err := s.api.TestWebhook(r.Context(), id)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	switch {
	case a.Success && a.StatusCode != nil:
		flash(w, r, fmt.Sprintf("Test ping delivered: the endpoint answered %d in %d ms.", *a.StatusCode, a.LatencyMs))
	case a.StatusCode != nil:
		flash(w, r, fmt.Sprintf("Test ping failed: the endpoint answered %d in %d ms.", *a.StatusCode, a.LatencyMs))
	default:
		flash(w, r, "Test ping failed: "+a.Error+".")
	}
	http.Redirect(w, r, "/webhooks/"+url.PathEscape(id), http.StatusSeeOther)
}

func (h *Handler) enableWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if _, err := s.api.EnableWebhook(r.Context(), id); err != nil {
		h.fail(w, r, s, err)
		return
	}
	flash(w, r, "Webhook enabled: its waiting messages are delivered again.")
	http.Redirect(w, r, "/webhooks/"+url.PathEscape(id), http.StatusSeeOther)
}

func (h *Handler) rotateWebhookSecret(w http.ResponseWriter, r *http.Request, s *session) {
	wh, err := s.api.RotateWebhookSecret(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.showWebhookSecret(w, r, s, wh, "Secret rotated: the old one signs beside it for a day.")
}

func (h *Handler) deliveryPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	id := r.PathValue("id")
	d, err := s.api.GetWebhookDelivery(r.Context(), id, r.PathValue("msg"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	h.render(w, r, http.StatusOK, "webhooksdelivery", view{Title: "Delivery " + d.ID, Section: "webhooks",
		Session: s, Data: deliveryData{WebhookID: id, Delivery: d, Payload: string(d.Payload)}})
}

type deliveryData struct {
	WebhookID string
	Delivery  apiclient.WebhookDeliveryDetail
	Payload   string
}

func (h *Handler) retryDelivery(w http.ResponseWriter, r *http.Request, s *session) {
	id, msg := r.PathValue("id"), r.PathValue("msg")
	back := "/webhooks/" + url.PathEscape(id) + "/deliveries/" + url.PathEscape(msg)
	if _, err := s.api.RetryWebhookDelivery(r.Context(), id, msg); err != nil {
		if e, ok := errors.AsType[*apiclient.Error](err); ok && e.Status == http.StatusBadRequest {
			flash(w, r, "Not retried: "+strings.Join(detailReasons(e), "; ")+".")
			http.Redirect(w, r, back, http.StatusSeeOther)
			return
		}
		h.fail(w, r, s, err)
		return
	}
	flash(w, r, "Retry queued: the message is sent again now.")
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// detailReasons are the reasons of a validation error (its message when
// it has none).
func detailReasons(e *apiclient.Error) []string {
	var out []string
	for _, d := range e.Details {
		out = append(out, d.Reason)
	}
	if len(out) == 0 {
		out = []string{e.Message}
	}
	return out
}

func (h *Handler) deleteWebhookPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	wh, err := s.api.GetWebhook(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	if !s.Can("webhooks", "delete") {
		h.problem(w, r, s, http.StatusForbidden, "You may not delete webhooks in this organization.")
		return
	}
	h.render(w, r, http.StatusOK, "webhooksdelete", view{Title: "Delete the webhook", Section: "webhooks",
		Session: s, Data: wh})
}

func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request, s *session) {
	if err := s.api.DeleteWebhook(r.Context(), r.PathValue("id")); err != nil {
		h.fail(w, r, s, err)
		return
	}
	flash(w, r, "Webhook deleted.")
	http.Redirect(w, r, "/webhooks", http.StatusSeeOther)
}
