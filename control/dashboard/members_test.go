package dashboard_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/h0p/h0p/control/apiclient"
)

var inviteLinkRe = regexp.MustCompile(`data-copy="([^"]+/invite/([^"]+))"`)

// mustMember is the member of the bootstrap org with email.
func (s *stack) mustMember(t *testing.T, email string) apiclient.Member {
	t.Helper()
	p, err := s.owner(t).ListMembers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range p.Data {
		if m.Email == email {
			return m
		}
	}
	t.Fatalf("no member %s in %+v", email, p.Data)
	return apiclient.Member{}
}

// isMember reports whether email is a member of the bootstrap org.
func (s *stack) isMember(t *testing.T, email string) bool {
	t.Helper()
	p, err := s.owner(t).ListMembers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range p.Data {
		if m.Email == email {
			return true
		}
	}
	return false
}

// TestInviteChangeRoleRemove: an Admin invites someone, the invitation's
// link is shown once and accepted on /invite/{token} by a new person, who
// is then listed; the Admin changes their role and removes them after a
// confirmation. Field errors are shown beside the field.
func TestInviteChangeRoleRemove(t *testing.T) {
	s := mustStart(t)
	admin := s.mustPerson(t, "ada@example.com", "admin")

	p := admin.get("/members")
	if p.status != 200 || !strings.Contains(p.body, "ada@example.com") || !strings.Contains(p.body, "owner@localhost") ||
		!strings.Contains(p.body, "Change role") || !strings.Contains(p.body, `action="/members/invite"`) ||
		strings.Contains(p.body, `<option value="owner"`) || !strings.Contains(p.body, `href="/audit"`) {
		t.Fatalf("an Admin's members page (no Owner role offered): %d\n%s", p.status, p.body)
	}

	p = admin.submit("/members", "/members/invite", url.Values{"email": {"bob@example.com"}, "role": {"member"}})
	m := inviteLinkRe.FindStringSubmatch(p.body)
	if p.status != 200 || m == nil || !strings.Contains(p.body, "shown this once") || p.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("the invitation's answer: %d\n%s", p.status, p.body)
	}
	link, token := html.UnescapeString(m[1]), html.UnescapeString(m[2])
	if link != s.url+"/invite/"+token {
		t.Errorf("invitation link %q, want on %s", link, s.url)
	}
	for _, path := range []string{"/members", "/audit"} {
		if p := admin.get(path); p.status != 200 || strings.Contains(p.body, token) {
			t.Errorf("GET %s: %d, or it shows the invitation's token", path, p.status)
		}
	}

	for _, path := range []string{"/members", "/audit", "/members/leave"} {
		if p := admin.get(path); p.status != 200 || p.header.Get("Content-Security-Policy") != wantCSP ||
			p.header.Get("X-Frame-Options") != "DENY" || strings.Contains(p.body, "<script>") {
			t.Errorf("GET %s: %d, or its security headers: %v", path, p.status, p.header)
		}
	}

	bob := s.browser(t)
	bob.mustJoin(token, "Bob", "a long password")
	if p := admin.get("/members"); !strings.Contains(p.body, "bob@example.com") || !strings.Contains(p.body, "Bob") {
		t.Errorf("the new member is not listed:\n%s", p.body)
	}
	bobID := s.mustMember(t, "bob@example.com").UserID

	for _, tc := range []struct {
		email, role, field string
		status             int
	}{
		{"not an address", "member", `id="email-err"`, http.StatusBadRequest},
		{"bob@example.com", "member", "already a member", http.StatusBadRequest},
		{"carl@example.com", "boss", `id="role-err"`, http.StatusBadRequest},
		{"carl@example.com", "owner", "only an Owner", http.StatusForbidden}, // forged: not offered
	} {
		p := admin.submit("/members", "/members/invite", url.Values{"email": {tc.email}, "role": {tc.role}})
		if p.status != tc.status || !strings.Contains(p.body, tc.field) || inviteLinkRe.MatchString(p.body) {
			t.Errorf("invite %s as %s: %d, want %d and %q\n%s", tc.email, tc.role, p.status, tc.status, tc.field, p.body)
		}
	}

	p = admin.submit("/members", "/members/"+bobID+"/role", url.Values{"role": {"admin"}})
	if p.status != http.StatusSeeOther || p.location() != "/members" {
		t.Fatalf("change role: %d\n%s", p.status, p.body)
	}
	if got := s.mustMember(t, "bob@example.com").Role; got != "admin" {
		t.Errorf("bob's role %q, want admin", got)
	}
	if p := admin.get("/members"); !strings.Contains(p.body, "Bob is now admin.") {
		t.Errorf("no word of the change:\n%s", p.body)
	}
	if p := admin.submit("/members", "/members/"+bobID+"/role", url.Values{"role": {"boss"}}); p.status != http.StatusBadRequest ||
		!strings.Contains(p.body, "role must be owner, admin or member") {
		t.Errorf("a role that is none: %d\n%s", p.status, p.body)
	}

	if p := admin.get("/members/" + bobID + "/remove"); p.status != 200 || !strings.Contains(p.body, "Remove the member") {
		t.Errorf("the confirmation page: %d\n%s", p.status, p.body)
	}
	if p := admin.get("/members/usr_nope/remove"); p.status != http.StatusNotFound {
		t.Errorf("removing no one: %d", p.status)
	}
	p = admin.submit("/members/"+bobID+"/remove", "/members/"+bobID+"/remove", nil)
	if p.status != http.StatusSeeOther || p.location() != "/members" {
		t.Fatalf("remove: %d\n%s", p.status, p.body)
	}
	if s.isMember(t, "bob@example.com") {
		t.Error("bob is still a member")
	}
}

// TestMemberSeesNoMemberActions: a Member sees the members but no form
// that changes them, nor the audit log; forged POSTs are refused by the
// API and the refusal shown; a POST without the CSRF token is 403 and
// changes nothing.
func TestMemberSeesNoMemberActions(t *testing.T) {
	s := mustStart(t)
	admin := s.mustPerson(t, "ada@example.com", "admin")
	b := s.mustPerson(t, "bob@example.com", "member")
	adaID := s.mustMember(t, "ada@example.com").UserID

	p := b.get("/members")
	if p.status != 200 || !strings.Contains(p.body, "ada@example.com") || strings.Contains(p.body, "Change role") ||
		strings.Contains(p.body, "/remove") || strings.Contains(p.body, "/members/invite") || strings.Contains(p.body, `href="/audit"`) ||
		!strings.Contains(p.body, `href="/members/leave"`) {
		t.Errorf("a Member's members page: %d\n%s", p.status, p.body)
	}
	if p := b.get("/members/" + adaID + "/remove"); p.status != http.StatusForbidden || strings.Contains(p.body, "Remove the member") {
		t.Errorf("a Member's confirmation page: %d", p.status)
	}
	if p := b.get("/audit"); p.status != http.StatusForbidden || !strings.Contains(p.body, "You may not do this") {
		t.Errorf("a Member's audit log: %d\n%s", p.status, p.body)
	}
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/members/" + adaID + "/role", url.Values{"role": {"member"}}},
		{"/members/" + adaID + "/remove", nil},
		{"/members/invite", url.Values{"email": {"eve@example.com"}, "role": {"admin"}}},
	} {
		p := b.submit("/members", tc.path, tc.form)
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "You may not do this") || inviteLinkRe.MatchString(p.body) {
			t.Errorf("a Member's forged POST %s: %d\n%s", tc.path, p.status, p.body)
		}
	}
	for _, path := range []string{"/members/" + adaID + "/role", "/members/" + adaID + "/remove", "/members/invite", "/members/leave"} {
		for _, token := range []string{"", "x"} {
			f := url.Values{"role": {"member"}, "email": {"eve@example.com"}}
			if token != "" {
				f.Set("csrf", token)
			}
			if p := admin.post(path, f); p.status != http.StatusForbidden || !strings.Contains(p.body, "security token") {
				t.Errorf("POST %s with token %q: %d, want 403", path, token, p.status)
			}
		}
	}
	if m := s.mustMember(t, "ada@example.com"); m.Role != "admin" {
		t.Errorf("ada after refused posts: %+v", m)
	}
	if s.isMember(t, "eve@example.com") {
		t.Error("eve invited")
	}
}

// TestLastOwner: the last Owner can neither leave nor be demoted, and
// the page says why; once another Owner exists, they leave.
func TestLastOwner(t *testing.T) {
	s := mustStart(t)
	olga := s.mustPerson(t, "olga@example.com", "owner")
	olgaID := s.mustMember(t, "olga@example.com").UserID
	bootID := s.mustMember(t, "owner@localhost").UserID

	if p := olga.get("/members"); !strings.Contains(p.body, `<option value="owner"`) {
		t.Errorf("an Owner is offered the Owner role:\n%s", p.body)
	}
	if p := olga.submit("/members", "/members/"+bootID+"/role", url.Values{"role": {"admin"}}); p.status != http.StatusSeeOther {
		t.Fatalf("demote the other Owner: %d\n%s", p.status, p.body)
	}
	if p := olga.get("/members/leave"); p.status != 200 || !strings.Contains(p.body, "Leave the organization") {
		t.Errorf("the leave page: %d\n%s", p.status, p.body)
	}
	if p := olga.get("/members/" + olgaID + "/remove"); p.status != http.StatusSeeOther || p.location() != "/members/leave" {
		t.Errorf("removing oneself: %d %s", p.status, p.location())
	}
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/members/leave", nil},
		{"/members/" + olgaID + "/role", url.Values{"role": {"admin"}}},
	} {
		p := olga.submit("/members", tc.path, tc.form)
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "last Owner") || !strings.Contains(p.body, "olga@example.com") {
			t.Errorf("POST %s as the last Owner: %d\n%s", tc.path, p.status, p.body)
		}
	}
	if m := s.mustMember(t, "olga@example.com"); m.Role != "owner" {
		t.Errorf("olga after the refusals: %+v", m)
	}

	p := olga.submit("/members", "/members/invite", url.Values{"email": {"otto@example.com"}, "role": {"owner"}})
	m := inviteLinkRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("invite an Owner: %d\n%s", p.status, p.body)
	}
	s.browser(t).mustJoin(html.UnescapeString(m[2]), "Otto", "a long password")
	// Olga has another organization: she goes on in it.
	mine, err := s.mustOrgOf(t, "Olga's", "olga@example.com").GetOrg(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p = olga.submit("/members/leave", "/members/leave", nil)
	if p.status != http.StatusSeeOther || p.location() != "/links" || olga.cookie("h0p_org") != mine.ID {
		t.Fatalf("leave: %d %s, org cookie %q, want %s\n%s", p.status, p.location(), olga.cookie("h0p_org"), mine.ID, p.body)
	}
	if s.isMember(t, "olga@example.com") {
		t.Error("olga is still a member")
	}
	if p := olga.get("/links"); p.status != 200 || !strings.Contains(p.body, "You left the organization.") {
		t.Errorf("after leaving: %d\n%s", p.status, p.body)
	}
}

// TestLeaveTheOnlyOrganization: a person who leaves their only
// organization is signed out.
func TestLeaveTheOnlyOrganization(t *testing.T) {
	s := mustStart(t)
	b := s.mustPerson(t, "bob@example.com", "member")
	p := b.submit("/members/leave", "/members/leave", nil)
	if p.status != http.StatusSeeOther || p.location() != "/login" || b.cookie("h0p_session") != "" {
		t.Fatalf("leave: %d %s\n%s", p.status, p.location(), p.body)
	}
	if s.isMember(t, "bob@example.com") {
		t.Error("bob is still a member")
	}
}
