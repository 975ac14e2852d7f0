package dashboard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/shared/apierror"
)

//go:embed templates static
var files embed.FS

// Config wires the dashboard.
type Config struct {
	// API is the API's router: every call of the dashboard goes through
	// it, in process.
	API http.Handler
	// Pepper is control's key pepper, from which the CSRF key is derived
	// (every control node holds the same).
	Pepper []byte
	// PublicURL is the URL people reach control at (its public API
	// URL): when it is https, cookies are Secure even on requests that
	// came in plain from a proxy that terminates TLS.
	PublicURL string
	Logger    *slog.Logger
	Now       func() time.Time
	// Sleep waits d or until ctx ends (its error), as a page that waits
	// for a rate limit does; nil: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Handler serves the dashboard's pages and assets.
type Handler struct {
	cfg     Config
	csrfKey []byte
	pages   map[string]*template.Template
	assets  map[string]string // a static file's name → its URL with a version
	static  http.Handler
	mux     *http.ServeMux
	https   bool // PublicURL is https: every cookie is Secure
}

var _ http.Handler = (*Handler)(nil)

// New builds the dashboard.
func New(cfg Config) (*Handler, error) {
	if cfg.API == nil {
		return nil, errors.New("dashboard: no API handler")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	key, err := csrfKey(cfg.Pepper)
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, csrfKey: key, assets: map[string]string{},
		https: strings.HasPrefix(strings.ToLower(cfg.PublicURL), "https://")}
	static, err := fs.Sub(files, "static")
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	// Asset URLs carry a digest of their content, so browsers may keep
	// them for a year and still never use a stale one.
	if err := fs.WalkDir(static, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h.assets[name] = "/static/" + name + "?v=" + hex.EncodeToString(sum[:6])
		return nil
	}); err != nil {
		return nil, fmt.Errorf("dashboard: assets: %w", err)
	}
	h.static = http.StripPrefix("/static/", http.FileServerFS(static))
	if err := h.parseTemplates(); err != nil {
		return nil, err
	}
	h.mux = h.routes()
	return h, nil
}

func (h *Handler) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /static/", h.serveStatic)
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/links", http.StatusSeeOther)
	})
	m.HandleFunc("GET /login", h.loginPage)
	m.HandleFunc("POST /login", h.login)
	m.HandleFunc("POST /logout", h.signedIn(h.logout))
	m.HandleFunc("GET /invite/{token}", h.invitePage)
	m.HandleFunc("POST /invite/{token}", h.acceptInvite)
	m.HandleFunc("GET /org", h.signedIn(h.orgPage))
	m.HandleFunc("POST /org", h.signedIn(h.renameOrg))
	m.HandleFunc("POST /org/switch", h.signedIn(h.switchOrg))
	m.HandleFunc("GET /links", h.signedIn(h.linksPage))
	m.HandleFunc("GET /links/new", h.signedIn(h.newLinkPage))
	m.HandleFunc("POST /links/bulk", h.signedIn(h.bulkLinks))
	m.HandleFunc("GET /links/import", h.signedIn(h.importPage))
	m.HandleFunc("POST /links/import", limitUpload(maxImport, h.signedIn(h.importLinks)))
	m.HandleFunc("GET /links/export", h.signedIn(h.exportLinks))
	m.HandleFunc("POST /links/new", h.signedIn(h.createLink))
	m.HandleFunc("GET /links/{id}", h.signedIn(h.linkPage))
	m.HandleFunc("GET /links/{id}/edit", h.signedIn(h.editLinkPage))
	m.HandleFunc("POST /links/{id}/edit", h.signedIn(h.updateLink))
	m.HandleFunc("GET /links/{id}/delete", h.signedIn(h.deleteLinkPage))
	m.HandleFunc("POST /links/{id}/delete", h.signedIn(h.deleteLink))
	m.HandleFunc("POST /links/{id}/archive", h.signedIn(h.archiveLink))
	m.HandleFunc("GET /links/{id}/qr", h.signedIn(h.linkQR))
	m.HandleFunc("GET /links/{id}/preview-image", h.signedIn(h.previewImage))
	m.HandleFunc("GET /files/{id}/image", h.signedIn(h.fileImage))
	m.HandleFunc("GET /links/{id}/analytics", h.signedIn(h.linkAnalyticsPage))
	m.HandleFunc("GET /analytics", h.signedIn(h.analyticsPage))
	m.HandleFunc("GET /analytics/events", h.signedIn(h.eventsPage))
	m.HandleFunc("GET /analytics/export", h.signedIn(h.exportClicks))
	m.HandleFunc("GET /domains", h.signedIn(h.domainsPage))
	m.HandleFunc("GET /domains/new", h.signedIn(h.newDomainPage))
	m.HandleFunc("POST /domains/new", h.signedIn(h.createDomain))
	m.HandleFunc("GET /domains/{id}", h.signedIn(h.domainPage))
	m.HandleFunc("POST /domains/{id}", h.signedIn(h.updateDomain))
	m.HandleFunc("POST /domains/{id}/verify", h.signedIn(h.verifyDomain))
	m.HandleFunc("GET /domains/{id}/delete", h.signedIn(h.deleteDomainPage))
	m.HandleFunc("POST /domains/{id}/delete", h.signedIn(h.deleteDomain))
	m.HandleFunc("GET /keys", h.signedIn(h.keysPage))
	m.HandleFunc("GET /keys/new", h.signedIn(h.newKeyPage))
	m.HandleFunc("POST /keys/new", h.signedIn(h.createKey))
	m.HandleFunc("GET /keys/{id}", h.signedIn(h.keyPage))
	m.HandleFunc("POST /keys/{id}/rotate", h.signedIn(h.rotateKey))
	m.HandleFunc("GET /keys/{id}/delete", h.signedIn(h.deleteKeyPage))
	m.HandleFunc("POST /keys/{id}/delete", h.signedIn(h.deleteKey))
	m.HandleFunc("GET /webhooks", h.signedIn(h.webhooksPage))
	m.HandleFunc("GET /webhooks/new", h.signedIn(h.newWebhookPage))
	m.HandleFunc("POST /webhooks/new", h.signedIn(h.createWebhook))
	m.HandleFunc("GET /webhooks/{id}", h.signedIn(h.webhookPage))
	m.HandleFunc("POST /webhooks/{id}/test", h.signedIn(h.testWebhook))
	m.HandleFunc("POST /webhooks/{id}/enable", h.signedIn(h.enableWebhook))
	m.HandleFunc("POST /webhooks/{id}/rotate", h.signedIn(h.rotateWebhookSecret))
	m.HandleFunc("GET /webhooks/{id}/delete", h.signedIn(h.deleteWebhookPage))
	m.HandleFunc("POST /webhooks/{id}/delete", h.signedIn(h.deleteWebhook))
	m.HandleFunc("GET /webhooks/{id}/deliveries/{msg}", h.signedIn(h.deliveryPage))
	m.HandleFunc("POST /webhooks/{id}/deliveries/{msg}/retry", h.signedIn(h.retryDelivery))
	m.HandleFunc("GET /members", h.signedIn(h.membersPage))
	m.HandleFunc("POST /members/invite", h.signedIn(h.invite))
	m.HandleFunc("POST /members/{id}/role", h.signedIn(h.setMemberRole))
	m.HandleFunc("GET /members/{id}/remove", h.signedIn(h.removeMemberPage))
	m.HandleFunc("POST /members/{id}/remove", h.signedIn(h.removeMember))
	m.HandleFunc("GET /members/leave", h.signedIn(h.leavePage))
	m.HandleFunc("POST /members/leave", h.signedIn(h.leave))
	m.HandleFunc("GET /audit", h.signedIn(h.auditPage))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.problem(w, r, nil, http.StatusNotFound, "There is no page here.")
	})
	return m
}

// Security headers of every answer of the dashboard.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	// The API calls of a page are a person's clicks: the API gives them
	// the session's interactive budget (ratelimit.Interactive), which no
	// request from the network can claim.
	ctx := ratelimit.Interactive(r.Context())
	if h.https {
		ctx = context.WithValue(ctx, httpsKey{}, true)
	}
	h.mux.ServeHTTP(w, r.WithContext(ctx))
}

func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.assets[strings.TrimPrefix(r.URL.Path, "/static/")]; !ok {
		h.problem(w, r, nil, http.StatusNotFound, "There is no such file.")
		return
	}
	if r.URL.Query().Get("v") != "" {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	h.static.ServeHTTP(w, r)
}

// view is what every page's template gets.
type view struct {
	Title string
	// Session is the signed-in person (nil on the sign-in pages).
	Session *session
	// Section is the nav entry of the page (links, org).
	Section string
	CSRF    string
	Flash   string
	// Error is a message about the whole form or page; FieldErrors are
	// the API's validation errors by the field they name.
	Error       string
	FieldErrors map[string]string
	Data        any
}

func (h *Handler) parseTemplates() error {
	funcs := template.FuncMap{
		"asset": func(name string) string { return h.assets[name] },
		"when":  when,
		"join":  strings.Join,
		"field": field,
		"focus": func(in input, focus bool) input { in.Focus = focus; return in },
		"rule":  ruleSummary,
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html",
		"templates/partials/*.html")
	if err != nil {
		return fmt.Errorf("dashboard: layout: %w", err)
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	h.pages = map[string]*template.Template{}
	for _, name := range names {
		base := strings.TrimPrefix(name, "templates/")
		if base == "layout.html" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(files, name)
		if err != nil {
			return fmt.Errorf("dashboard: %s: %w", base, err)
		}
		h.pages[strings.TrimSuffix(base, ".html")] = t
	}
	return nil
}

// render answers page with v, status 200 unless status says otherwise.
// The page is rendered whole before anything is written, so a template
// error is a 500, not half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	t, ok := h.pages[page]
	if !ok {
		panic("dashboard: no page " + page)
	}
	switch {
	case v.Section != "":
	case strings.HasPrefix(r.URL.Path, "/links"):
		v.Section = "links"
	case strings.HasPrefix(r.URL.Path, "/org"):
		v.Section = "org"
	}
	if v.Session != nil && v.Session.load(r.Context()) != nil {
		// A refusal answered before the person was read (a post's), and
		// the person cannot be read now: the page without the nav.
		v.Session = nil
	}
	if v.Session != nil {
		v.CSRF = v.Session.csrf
		if v.Flash == "" {
			v.Flash = takeFlash(w, r)
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		h.cfg.Logger.Error("dashboard: render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// problem answers a page that says what went wrong, with status.
func (h *Handler) problem(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	h.render(w, r, status, "problem", view{Title: http.StatusText(status), Session: s, Error: msg,
		Data: status})
}

// fail answers err of the API: 401 sends the person to sign in again,
// the other refusals are pages that say what the API said.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	e, ok := errors.AsType[*apiclient.Error](err)
	if !ok {
		h.logFailure(r, err)
		h.problem(w, r, s, http.StatusInternalServerError, "Something went wrong on our side.")
		return
	}
	switch e.Status {
	case http.StatusUnauthorized:
		clearSession(w, r)
		toLogin(w, r)
		return
	case http.StatusForbidden:
		h.problem(w, r, s, http.StatusForbidden, "You may not do this: "+e.Message+".")
	case http.StatusNotFound:
		h.problem(w, r, s, http.StatusNotFound, "Not found: "+e.Message+".")
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", fmt.Sprint(int(e.RetryAfter.Seconds())))
		h.problem(w, r, s, http.StatusTooManyRequests,
			fmt.Sprintf("Too many requests: wait %s and try again.", e.RetryAfter))
	default:
		if e.Status >= 500 {
			h.logFailure(r, err)
		}
		status := e.Status
		if status < 400 {
			status = http.StatusBadGateway
		}
		msg := e.Message
		if e.RequestID != "" {
			msg += " (request " + e.RequestID + ")"
		}
		h.problem(w, r, s, status, msg)
	}
}

// logFailure logs a failed API call of the page r: its route (r.Pattern,
// never the path, which may hold an invitation's token) and err with the
// tokens of paths redacted.
func (h *Handler) logFailure(r *http.Request, err error) {
	h.cfg.Logger.Error("dashboard: API call", "route", r.Pattern, "err", redact(err.Error()))
}

// tokenInPath is the secret segment of a path: an invitation's token, in
// the dashboard's (/invite/…) or the API's (/v1/invitations/…/accept).
var tokenInPath = regexp.MustCompile(`(/invit(?:e|ations)/)[^/?#\s"]+`)

// redact is s with the tokens of the paths it names replaced.
func redact(s string) string { return tokenInPath.ReplaceAllString(s, "${1}…") }

// fieldErrors splits a validation error of the API into the messages
// beside the form's fields (named as the API names them) and the rest.
func fieldErrors(err error, fields ...string) (map[string]string, string, bool) {
	e, ok := errors.AsType[*apiclient.Error](err)
	// The plan's refusals keep what was typed; a missing permission is a
	// page (fail).
	planRefusal := e != nil && (e.Code == apierror.PlanLimitReached || e.Code == apierror.FeatureNotAvailable)
	if !ok || e.Status != http.StatusBadRequest && e.Status != http.StatusConflict && !planRefusal {
		return nil, "", false
	}
	byField := map[string]string{}
	var rest []string
	known := map[string]bool{}
	for _, f := range fields {
		known[f] = true
	}
	add := func(field, msg string) {
		if byField[field] != "" {
			msg = byField[field] + "; " + msg
		}
		byField[field] = msg
	}
	for _, d := range e.Details {
		// A part of a field (geo.US, variants[1].url, events[0]) is shown
		// beside the field, named.
		base, part := d.Field, ""
		if i := strings.IndexAny(d.Field, ".["); i > 0 && !known[d.Field] {
			base, part = d.Field[:i], d.Field[i:]
		}
		switch {
		case known[d.Field]:
			add(d.Field, d.Reason)
		case known[base]:
			add(base, partName(part)+" "+d.Reason)
		case d.Field != "":
			rest = append(rest, d.Field+" "+d.Reason)
		default:
			rest = append(rest, d.Reason)
		}
	}
	msg := e.Message
	if len(e.Details) > 0 && len(rest) == 0 {
		msg = "Please correct the fields marked below."
	} else if len(rest) > 0 {
		msg = strings.Join(rest, "; ")
	}
	if e.Status == http.StatusConflict && known["key"] && len(byField) == 0 {
		byField["key"] = e.Message
		msg = "Please correct the fields marked below."
	}
	return byField, msg, true
}

// partName is how a message names a part of a field: ".US" is "US",
// "[1].url" is "item 2 url" (the API counts from 0, people from 1).
func partName(part string) string {
	if rest, ok := strings.CutPrefix(part, "["); ok {
		if n, tail, ok := strings.Cut(rest, "]"); ok {
			if i, err := strconv.Atoi(n); err == nil {
				return strings.TrimSpace("item " + strconv.Itoa(i+1) + " " + strings.TrimPrefix(tail, "."))
			}
		}
	}
	return strings.TrimPrefix(part, ".")
}

// when is a time as pages show it: a <time> element whose text is UTC,
// which app.js rewrites in the browser's timezone.
func when(t any) template.HTML {
	var tt time.Time
	switch v := t.(type) {
	case time.Time:
		tt = v
	case *time.Time:
		if v == nil {
			return ""
		}
		tt = *v
	default:
		return ""
	}
	if tt.IsZero() {
		return ""
	}
	tt = tt.UTC()
	return template.HTML(fmt.Sprintf(`<time datetime="%s">%s</time>`,
		tt.Format(time.RFC3339), template.HTMLEscapeString(tt.Format("2006-01-02 15:04 UTC"))))
}

// input is a form field as the "input" template draws it.
type input struct {
	Name, Label, Value, Type, Err, Help, List string
	Required                                  bool
	// Focus is whether the page focuses the field when it opens.
	Focus bool
}

func field(name, label, value, typ string, errs map[string]string, help string, required bool, list string) input {
	return input{Name: name, Label: label, Value: value, Type: typ, Err: errs[name], Help: help, Required: required,
		List: list}
}
