package dashboard_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control/apiclient"
)

const wantCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// TestSignInSetsTheSessionCookie: signing in sets h0p_session to a
// session token the API accepts, HttpOnly, SameSite=Lax, Path=/, expiring
// with the session (not Secure over plain http), and h0p_org; a wrong
// password is a page that says so.
func TestSignInSetsTheSessionCookie(t *testing.T) {
	s := mustStart(t)
	s.mustPerson(t, "ada@example.com", "member")

	b := s.browser(t)
	bad := b.submit("/login", "/login", url.Values{"email": {"ada@example.com"}, "password": {"not the password"}})
	if bad.status != http.StatusUnauthorized || !strings.Contains(bad.body, "Wrong email or password") {
		t.Errorf("wrong password: %d\n%s", bad.status, bad.body)
	}
	p := b.submit("/login?next=/org", "/login", url.Values{"email": {"ada@example.com"}, "password": {"a long password"},
		"next": {"/org"}})
	if p.status != http.StatusSeeOther || p.location() != "/org" {
		t.Fatalf("sign in: %d %q", p.status, p.location())
	}
	var sess, org *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		switch c.Name {
		case "h0p_session":
			sess = c
		case "h0p_org":
			org = c
		}
	}
	if sess == nil || org == nil || org.Value == "" {
		t.Fatalf("cookies: %v", p.header["Set-Cookie"])
	}
	if !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" || sess.Secure ||
		sess.Expires.Before(time.Now().Add(time.Hour)) {
		t.Errorf("session cookie: %+v", sess)
	}
	c, err := apiclient.NewSession(s.url, sess.Value, org.Value)
	if err != nil {
		t.Fatal(err)
	}
	if me, err := c.Me(context.Background()); err != nil || me.User.Email != "ada@example.com" {
		t.Errorf("the cookie's session: %+v %v", me, err)
	}
}

// TestNextIsALocalPath: after signing in, a next that is not a path of
// this site is ignored.
func TestNextIsALocalPath(t *testing.T) {
	s := mustStart(t)
	s.mustPerson(t, "ada@example.com", "member")
	for next, want := range map[string]string{
		"/links?q=a":           "/links?q=a",
		"//evil.example/x":     "/links",
		"https://evil.example": "/links",
		"/\\evil.example":      "/links",
		"javascript:alert(1)":  "/links",
	} {
		b := s.browser(t)
		p := b.submit("/login", "/login", url.Values{"email": {"ada@example.com"}, "password": {"a long password"},
			"next": {next}})
		if p.status != http.StatusSeeOther || p.location() != want {
			t.Errorf("next %q: %d %q, want %q", next, p.status, p.location(), want)
		}
	}
	if p := s.browser(t).get("/links/new"); p.status != http.StatusSeeOther || p.location() != "/login?next=%2Flinks%2Fnew" {
		t.Errorf("signed out: %d %q", p.status, p.location())
	}
}

// TestEveryAnswerCarriesTheSecurityHeaders: pages, errors, assets and
// redirects, signed in or not.
func TestEveryAnswerCarriesTheSecurityHeaders(t *testing.T) {
	s := mustStart(t)
	b := s.mustPerson(t, "ada@example.com", "admin")
	l, err := s.owner(t).CreateLink(context.Background(), apiclient.LinkInput{URL: apiclient.Ptr("https://example.com/a")})
	if err != nil {
		t.Fatal(err)
	}
	anon := s.browser(t)
	for _, tc := range []struct {
		b      *browser
		path   string
		status int
	}{
		{anon, "/login", 200}, {anon, "/links", 303}, {anon, "/invite/h0p_i_nope", 200}, {anon, "/", 303},
		{anon, "/static/style.css", 200}, {anon, "/static/app.js", 200}, {anon, "/static/nope.js", 404},
		{b, "/links", 200}, {b, "/links?q=a&sort=clicks", 200}, {b, "/links/new", 200}, {b, "/links/" + l.ID, 200},
		{b, "/links/" + l.ID + "/edit", 200}, {b, "/links/" + l.ID + "/delete", 200}, {b, "/org", 200},
		{b, "/links/" + l.ID + "/qr?format=svg", 200}, {b, "/links/link_nope", 404}, {b, "/nope", 404},
	} {
		p := tc.b.get(tc.path)
		if p.status != tc.status {
			t.Errorf("GET %s: %d, want %d\n%s", tc.path, p.status, tc.status, p.body)
		}
		for name, want := range map[string]string{"Content-Security-Policy": wantCSP, "X-Frame-Options": "DENY",
			"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"} {
			if got := p.header.Get(name); got != want {
				t.Errorf("GET %s: %s %q, want %q", tc.path, name, got, want)
			}
		}
		if strings.HasPrefix(p.header.Get("Content-Type"), "text/html") && strings.Contains(p.body, "<script>") {
			t.Errorf("GET %s: inline script", tc.path)
		}
	}
}

// TestAPIPathsStayTheAPIs: with the dashboard mounted, unknown API paths
// are 404 in the JSON envelope, and the API's routes answer as before.
func TestAPIPathsStayTheAPIs(t *testing.T) {
	s := mustStart(t)
	for _, path := range []string{"/v1/nope", "/v1", "/docs/nope.js", "/f/x", "/cluster/x"} {
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			Error struct{ Code string } `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&env)
		resp.Body.Close()
		if resp.StatusCode != 404 || err != nil || env.Error.Code != "NOT_FOUND" {
			t.Errorf("GET %s: %d %v %+v, want 404 NOT_FOUND in the envelope", path, resp.StatusCode, err, env)
		}
	}
	if _, err := s.owner(t).ListLinks(context.Background(), apiclient.LinkQuery{}); err != nil {
		t.Error(err)
	}
}

// TestPostWithoutCSRFChangesNothing: every state-changing form refuses a
// POST without its token, or with another session's, with 403.
func TestPostWithoutCSRFChangesNothing(t *testing.T) {
	s := mustStart(t)
	ctx := context.Background()
	b := s.mustPerson(t, "ada@example.com", "admin")
	other := s.mustPerson(t, "max@example.com", "admin")
	l, err := s.owner(t).CreateLink(ctx, apiclient.LinkInput{URL: apiclient.Ptr("https://example.com/a")})
	if err != nil {
		t.Fatal(err)
	}
	foreign := other.csrf("/links/new")
	for _, tc := range []struct{ path string }{
		{"/links/new"}, {"/links/" + l.ID + "/edit"}, {"/links/" + l.ID + "/delete"}, {"/links/" + l.ID + "/archive"},
		{"/org"}, {"/org/switch"}, {"/logout"},
	} {
		form := url.Values{"url": {"https://example.com/changed"}, "archived": {"true"}, "name": {"Renamed"}}
		for _, token := range []string{"", foreign, "x"} {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			if token != "" {
				f.Set("csrf", token)
			}
			if p := b.post(tc.path, f); p.status != http.StatusForbidden || !strings.Contains(p.body, "security token") {
				t.Errorf("POST %s with token %q: %d, want 403", tc.path, token, p.status)
			}
		}
	}
	got, err := s.owner(t).GetLink(ctx, l.ID)
	if err != nil || got.URL != "https://example.com/a" || got.Archived {
		t.Errorf("the link after refused posts: %+v %v", got, err)
	}
	if p := b.get("/links"); p.status != http.StatusOK {
		t.Errorf("the session after a refused sign-out: %d", p.status)
	}
	if p := s.browser(t).post("/login", url.Values{"email": {"ada@example.com"}, "password": {"a long password"}}); p.status != http.StatusForbidden {
		t.Errorf("sign-in without its token: %d", p.status)
	}
}

// TestAnotherOrgsLinkIsNotFound: a link of an org the person is not in,
// or not acting in, is 404 on every page of a link.
func TestAnotherOrgsLinkIsNotFound(t *testing.T) {
	s := mustStart(t)
	ctx := context.Background()
	ada := s.mustPerson(t, "ada@example.com", "member")
	max := s.mustPerson(t, "max@example.com", "member")
	// Ada owns an org of her own too, with a link in it.
	c := s.mustOrgOf(t, "Ada's", "ada@example.com")
	org, err := c.GetOrg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.CreateLink(ctx, apiclient.LinkInput{URL: apiclient.Ptr("https://example.com/ada")})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/links/" + l.ID, "/links/" + l.ID + "/edit", "/links/" + l.ID + "/delete",
		"/links/" + l.ID + "/qr?format=png"} {
		for name, b := range map[string]*browser{"another org's member": max, "its owner acting in another org": ada} {
			if p := b.get(path); p.status != http.StatusNotFound || !strings.Contains(p.body, "Not found") {
				t.Errorf("%s: GET %s: %d", name, path, p.status)
			}
		}
	}
	for _, path := range []string{"/links/" + l.ID + "/delete", "/links/" + l.ID + "/archive"} {
		if p := max.submit("/links", path, url.Values{"archived": {"true"}}); p.status != http.StatusNotFound {
			t.Errorf("POST %s: %d", path, p.status)
		}
	}
	if _, err := c.GetLink(ctx, l.ID); err != nil {
		t.Errorf("the link after another org's posts: %v", err)
	}
	// Switching to her org, Ada sees it.
	if p := ada.submit("/links", "/org/switch", url.Values{"org": {org.ID}}); p.status != http.StatusSeeOther {
		t.Fatalf("switch: %d\n%s", p.status, p.body)
	}
	if p := ada.get("/links/" + l.ID); p.status != http.StatusOK || !strings.Contains(p.body, "https://example.com/ada") {
		t.Errorf("after the switch: %d", p.status)
	}
	if p := max.submit("/links", "/org/switch", url.Values{"org": {org.ID}}); p.status != http.StatusNotFound {
		t.Errorf("switch to an org one is not in: %d", p.status)
	}
}

// TestMemberSeesNoAdminAction: renaming the org is an Admin's; a Member
// does not see the form, and a forged post is the API's 403, said in the
// page.
func TestMemberSeesNoAdminAction(t *testing.T) {
	s := mustStart(t)
	admin := s.mustPerson(t, "ada@example.com", "admin")
	member := s.mustPerson(t, "max@example.com", "member")
	if p := admin.get("/org"); p.status != 200 || !strings.Contains(p.body, `action="/org"`) {
		t.Errorf("an Admin's org page: %d, no rename form", p.status)
	}
	p := member.get("/org")
	if p.status != 200 || strings.Contains(p.body, `action="/org"`) || !strings.Contains(p.body, "Limits and usage") {
		t.Errorf("a Member's org page: %d\n%s", p.status, p.body)
	}
	p = member.submit("/org", "/org", url.Values{"name": {"Renamed"}})
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "You may not do this") || !strings.Contains(p.body, "admin") {
		t.Errorf("a Member's rename: %d\n%s", p.status, p.body)
	}
	if p := admin.submit("/org", "/org", url.Values{"name": {"Renamed"}}); p.status != http.StatusSeeOther {
		t.Errorf("an Admin's rename: %d\n%s", p.status, p.body)
	}
	if p := member.get("/org"); !strings.Contains(p.body, "Renamed") {
		t.Error("the org's new name is not shown")
	}
}

// TestSignOutEndsTheSession: signing out ends the session on the server:
// the old cookie no longer opens a page, nor calls the API.
func TestSignOutEndsTheSession(t *testing.T) {
	s := mustStart(t)
	b := s.mustPerson(t, "ada@example.com", "member")
	token := b.cookie("h0p_session")
	p := b.submit("/links", "/logout", nil)
	if p.status != http.StatusSeeOther || p.location() != "/login" || b.cookie("h0p_session") != "" {
		t.Fatalf("sign out: %d %q, cookie %q", p.status, p.location(), b.cookie("h0p_session"))
	}
	old := s.browser(t)
	u, _ := url.Parse(s.url)
	old.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "h0p_session", Value: token, Path: "/"}})
	if p := old.get("/links"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/login") {
		t.Errorf("the old cookie: %d %q", p.status, p.location())
	}
	c, _ := apiclient.NewSession(s.url, token, "")
	if _, err := c.Me(context.Background()); err == nil {
		t.Error("the old session still calls the API")
	}
}
