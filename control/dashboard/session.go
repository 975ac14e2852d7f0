package dashboard

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/shared/apierror"
)

// Cookies of the dashboard.
const (
	sessionCookie = "h0p_session" // the session token
	orgCookie     = "h0p_org"     // the chosen organization's id
	preCookie     = "h0p_csrf"    // the CSRF secret of the forms before sign-in
	flashCookie   = "h0p_flash"   // a message for the next page
	tzCookie      = "h0p_tz"      // the browser's timezone (app.js)
	csrfField     = "csrf"
	csrfPurpose   = "h0p dashboard csrf"
)

// formExpired is the refusal of a POST without its CSRF token.
const formExpired = "This form has expired or did not come from this site (its security token is missing or wrong). " +
	"Go back, reload the page and try again."

func csrfKey(pepper []byte) ([]byte, error) {
	if len(pepper) < 32 {
		return nil, fmt.Errorf("dashboard: pepper of %d bytes, want at least 32", len(pepper))
	}
	k, err := hkdf.Key(sha256.New, pepper, nil, csrfPurpose, 32)
	if err != nil {
		return nil, fmt.Errorf("dashboard: derive the CSRF key: %w", err)
	}
	return k, nil
}

// csrfToken is the CSRF token bound to secret (a session token, or the
// pre-sign-in cookie), for the purpose what.
func (h *Handler) csrfToken(what, secret string) string {
	m := hmac.New(sha256.New, h.csrfKey)
	m.Write([]byte(what + "\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (h *Handler) validCSRF(r *http.Request, what, secret string) bool {
	got := r.PostFormValue(csrfField)
	return got != "" && secret != "" && hmac.Equal([]byte(got), []byte(h.csrfToken(what, secret)))
}

// session is the signed-in person of a request: their API client, and
// what GET /v1/me says of them (loaded when a page first needs it).
type session struct {
	api    *apiclient.Client
	csrf   string
	org    string
	loaded bool
	Me     apiclient.Me
}

// Can reports whether the person may do action on resource in the
// chosen organization.
func (s *session) Can(resource, action string) bool { return s.Me.Can(resource, action) }

// Admin reports whether the person is an Admin or Owner of the chosen
// organization.
func (s *session) Admin() bool { return s.Me.Role == "admin" || s.Me.Role == "owner" }

// load reads GET /v1/me once.
func (s *session) load(ctx context.Context) error {
	if s.loaded {
		return nil
	}
	me, err := s.api.Me(ctx)
	if err != nil {
		return err
	}
	s.Me, s.loaded = me, true
	return nil
}

// client is an API client acting as token in org, through the API's
// router, from the request's address.
func (h *Handler) client(r *http.Request, token, org string) *apiclient.Client {
	c, err := apiclient.NewSession(apiclient.InProcessURL, token, org)
	if err != nil {
		panic(err) // InProcessURL is valid
	}
	c.HTTPClient = &http.Client{Transport: apiclient.InProcess(h.cfg.API, r.RemoteAddr),
		CheckRedirect: apiclient.RefuseRedirect}
	c.UserAgent = "h0p-dashboard"
	return c
}

type pageFunc func(w http.ResponseWriter, r *http.Request, s *session)

// signedIn runs next for a signed-in person: without a session cookie
// the person is sent to sign in (and back here after); a POST without
// the session's CSRF token is 403 before anything else happens.
func (h *Handler) signedIn(next pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		if err != nil || c.Value == "" {
			toLogin(w, r)
			return
		}
		org := ""
		if o, err := r.Cookie(orgCookie); err == nil {
			org = o.Value
		}
		s := &session{api: h.client(r, c.Value, org), csrf: h.csrfToken("session", c.Value), org: org}
		if r.Method == http.MethodPost && !h.validCSRF(r, "session", c.Value) {
			h.problem(w, r, nil, http.StatusForbidden, formExpired)
			return
		}
		next(w, r, s)
	}
}

// page loads the session's person before rendering a page: a session the
// API no longer knows goes back to sign in, and a chosen organization
// the person left is forgotten.
func (h *Handler) page(w http.ResponseWriter, r *http.Request, s *session) bool {
	err := s.load(r.Context())
	if err == nil {
		return true
	}
	if s.org != "" && apiclient.IsCode(err, apierror.NotFound) {
		clearCookie(w, r, orgCookie)
		target := r.URL.RequestURI()
		if r.Method != http.MethodGet {
			target = "/links"
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return false
	}
	if apiclient.IsCode(err, apierror.ValidationError) {
		// Several organizations and none chosen: signing in chooses one.
		h.endSession(r, s.api)
		clearSession(w, r)
		toLogin(w, r)
		return false
	}
	h.fail(w, r, nil, err)
	return false
}

// toLogin sends the request to the sign-in page, to come back to its
// page (a GET's) afterwards.
func toLogin(w http.ResponseWriter, r *http.Request) {
	target := "/login"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// localPath is next when it is a path of this site, else "/links": a
// next that names another host (//evil, https://evil, /\evil) is ignored.
func localPath(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/links"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/links"
	}
	return next
}

// httpsKey marks a request's context when the dashboard's public URL is
// https (Handler.ServeHTTP).
type httpsKey struct{}

// secure reports whether r's cookies are Secure: r came over TLS, or
// people reach the dashboard over https (through a proxy that terminates
// TLS, r.TLS is nil).
func secure(r *http.Request) bool {
	return r.TLS != nil || r.Context().Value(httpsKey{}) != nil
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", Expires: expires, HttpOnly: true,
		Secure: secure(r), SameSite: http.SameSiteLaxMode})
}

func clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: secure(r), SameSite: http.SameSiteLaxMode})
}

func clearSession(w http.ResponseWriter, r *http.Request) {
	clearCookie(w, r, sessionCookie)
	clearCookie(w, r, orgCookie)
}

// flash leaves msg for the next page the person sees.
func flash(w http.ResponseWriter, r *http.Request, msg string) {
	setCookie(w, r, flashCookie, url.QueryEscape(msg), time.Time{})
}

func takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil || c.Value == "" {
		return ""
	}
	clearCookie(w, r, flashCookie)
	msg, _ := url.QueryUnescape(c.Value)
	return msg
}

// preSecret is the request's pre-sign-in CSRF secret, made (and set as a
// cookie) when it has none.
func preSecret(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(preCookie); err == nil && c.Value != "" {
		return c.Value
	}
	b := make([]byte, 18)
	rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: v, Path: "/", HttpOnly: true, Secure: secure(r),
		SameSite: http.SameSiteStrictMode})
	return v
}

func (h *Handler) validPreCSRF(r *http.Request) bool {
	c, err := r.Cookie(preCookie)
	return err == nil && h.validCSRF(r, "pre", c.Value)
}

type loginData struct {
	Email, Next string
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "login", view{Title: "Sign in", CSRF: h.csrfToken("pre", preSecret(w, r)),
		Data: loginData{Next: localPath(r.URL.Query().Get("next"))}})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if !h.validPreCSRF(r) {
		h.problem(w, r, nil, http.StatusForbidden, formExpired)
		return
	}
	email, next := r.PostFormValue("email"), localPath(r.PostFormValue("next"))
	l, err := h.client(r, "", "").Login(r.Context(), email, r.PostFormValue("password"))
	if err != nil {
		msg := "Sign-in failed."
		if e, ok := errors.AsType[*apiclient.Error](err); ok {
			msg = e.Message
			if e.Status == http.StatusUnauthorized {
				msg = "Wrong email or password."
			}
		}
		h.render(w, r, http.StatusUnauthorized, "login", view{Title: "Sign in", Error: msg,
			CSRF: h.csrfToken("pre", preSecret(w, r)), Data: loginData{Email: email, Next: next}})
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" && c.Value != l.Token {
		// Signing in over a session: it ends, not only its cookie.
		if h.endSession(r, h.client(r, c.Value, "")) != nil {
			flash(w, r, "Signed in. Your previous session could not be ended on the server now; it ends when it expires.")
		}
	}
	h.startSession(w, r, l, "")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// startSession sets the cookies of a new session, in org (the first of
// the person's organizations when "").
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, l apiclient.Login, org string) {
	setCookie(w, r, sessionCookie, l.Token, l.ExpiresAt)
	if org == "" && len(l.Organizations) > 0 {
		org = l.Organizations[0].OrgID
	}
	if org != "" {
		setCookie(w, r, orgCookie, org, h.orgExpiry())
	} else {
		clearCookie(w, r, orgCookie)
	}
}

// endSession ends the session of api's client on the server, best
// effort (an already ended one is fine): it reports, and logs, a failure.
func (h *Handler) endSession(r *http.Request, api *apiclient.Client) error {
	err := api.Logout(r.Context())
	if err == nil || apiclient.IsCode(err, apierror.Unauthorized) {
		return nil
	}
	h.cfg.Logger.Warn("dashboard: end a session", "route", r.Pattern, "err", redact(err.Error()))
	return err
}

// logout signs the browser out whatever happens: its cookies are
// cleared even when the server could not end the session, which the page
// then says.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, s *session) {
	err := h.endSession(r, s.api)
	clearSession(w, r)
	if err == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login", view{Title: "Sign in",
		Error: "You are signed out in this browser, but the server could not end your session now; " +
			"it ends when it expires.",
		CSRF: h.csrfToken("pre", preSecret(w, r)), Data: loginData{Next: "/links"}})
}

func (h *Handler) switchOrg(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.page(w, r, s) {
		return
	}
	org := r.PostFormValue("org")
	for _, m := range s.Me.Organizations {
		if m.OrgID == org {
			setCookie(w, r, orgCookie, org, h.orgExpiry())
			http.Redirect(w, r, "/links", http.StatusSeeOther)
			return
		}
	}
	h.problem(w, r, s, http.StatusNotFound, "You are not a member of this organization.")
}

// orgExpiry is when the org cookie ends: long after any session (it is a
// choice, not a secret: the API checks the membership on every call), so
// it never ends before the session does; signing in sets it anew.
func (h *Handler) orgExpiry() time.Time { return h.cfg.Now().Add(400 * 24 * time.Hour) }

type inviteData struct {
	Token    string
	SignedIn bool
	Name     string
}

func (h *Handler) invitePage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		h.signedIn(func(w http.ResponseWriter, r *http.Request, s *session) {
			if !h.page(w, r, s) {
				return
			}
			h.render(w, r, http.StatusOK, "invite", view{Title: "Accept the invitation", Session: s,
				Data: inviteData{Token: token, SignedIn: true}})
		})(w, r)
		return
	}
	h.render(w, r, http.StatusOK, "invite", view{Title: "Accept the invitation",
		CSRF: h.csrfToken("pre", preSecret(w, r)), Data: inviteData{Token: token}})
}

func (h *Handler) acceptInvite(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		h.signedIn(func(w http.ResponseWriter, r *http.Request, s *session) {
			// The organization the person works in now, which they keep.
			if !h.page(w, r, s) {
				return
			}
			a, err := s.api.AcceptInvitation(r.Context(), token, "", "")
			if err != nil {
				h.fail(w, r, s, err)
				return
			}
			if s.org == "" && s.Me.OrgID != "" {
				// Their only organization was implied; with two it must
				// be named.
				setCookie(w, r, orgCookie, s.Me.OrgID, h.orgExpiry())
			}
			flash(w, r, h.joinedMessage(r, s, a.OrgID))
			http.Redirect(w, r, "/links", http.StatusSeeOther)
		})(w, r)
		return
	}
	if !h.validPreCSRF(r) {
		h.problem(w, r, nil, http.StatusForbidden, formExpired)
		return
	}
	name, pw := r.PostFormValue("name"), r.PostFormValue("password")
	anon := h.client(r, "", "")
	a, err := anon.AcceptInvitation(r.Context(), token, name, pw)
	if err == nil {
		var l apiclient.Login
		if l, err = anon.Login(r.Context(), a.User.Email, pw); err == nil {
			h.startSession(w, r, l, a.OrgID)
			flash(w, r, "Welcome: you joined the organization.")
			http.Redirect(w, r, "/links", http.StatusSeeOther)
			return
		}
	}
	fields, msg, ok := fieldErrors(err, "name", "password")
	if !ok {
		h.fail(w, r, nil, err)
		return
	}
	h.render(w, r, http.StatusBadRequest, "invite", view{Title: "Accept the invitation", Error: msg, FieldErrors: fields,
		CSRF: h.csrfToken("pre", preSecret(w, r)), Data: inviteData{Token: token, Name: name}})
}

// joinedMessage says which organization the signed-in person s joined
// (org, with their role there as GET /v1/me tells it) and that they stay
// in the one they were in.
func (h *Handler) joinedMessage(r *http.Request, s *session, org string) string {
	joined := "organization " + org
	if me, err := s.api.Me(r.Context()); err == nil {
		for _, m := range me.Organizations {
			if m.OrgID == org {
				joined += " as " + m.Role
			}
		}
	}
	return "You joined " + joined + ". You are still working in " + s.Me.OrgID +
		": choose the other in the Organization menu to work in it."
}

// timezone is the browser's timezone (app.js sets it), or UTC.
func timezone(r *http.Request) *time.Location {
	if c, err := r.Cookie(tzCookie); err == nil {
		name, _ := url.QueryUnescape(c.Value)
		if loc, err := time.LoadLocation(name); err == nil && name != "" && name != "Local" {
			return loc
		}
	}
	return time.UTC
}
