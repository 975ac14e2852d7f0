package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/shared/dnstest"
)

var domainIDRe = regexp.MustCompile(`^/domains/([0-9A-Za-z_]+)$`)

// withDNS points the stack's domain checks at the test DNS server, with
// the edges at edge.example.net.
func withDNS(z *dnstest.Server) func(*control.Config) {
	return func(c *control.Config) {
		c.DNSResolver = z.Addr()
		c.EdgeHostName = "edge.example.net"
	}
}

// TestDomainLifecycle: add a domain (a bad name first: the API's error
// beside the field), see the DNS records to publish, verify before they
// are published (still pending) and after (verified), change its
// settings (a refused combination shown beside its field), and delete it
// after the confirmation page.
func TestDomainLifecycle(t *testing.T) {
	z := dnstest.Start(t)
	s := mustStart(t, withDNS(z))
	ctx := context.Background()
	b := s.mustPerson(t, "ada@example.com", "admin")

	p := b.submit("/domains/new", "/domains/new", url.Values{"name": {"not a domain"}, "notFoundUrl": {"https://example.com/404"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="name-err"`) ||
		!strings.Contains(p.body, `value="https://example.com/404"`) {
		t.Fatalf("a bad name: %d\n%s", p.status, p.body)
	}
	p = b.submit("/domains/new", "/domains/new", url.Values{"name": {"go.example.com"},
		"notFoundUrl": {"https://example.com/404"}, "redirectStatus": {"302"}, "httpsRedirect": {"1"}})
	m := domainIDRe.FindStringSubmatch(p.location())
	if p.status != http.StatusSeeOther || m == nil {
		t.Fatalf("add: %d %q\n%s", p.status, p.location(), p.body)
	}
	id := m[1]
	d, err := s.owner(t).GetDomain(ctx, id)
	if err != nil || d.Name != "go.example.com" || deref(d.NotFoundURL) != "https://example.com/404" || !d.HTTPSRedirect {
		t.Fatalf("added: %+v %v", d, err)
	}
	page := b.get("/domains/" + id)
	for _, want := range []string{"Domain added", "pending", "_h0p-challenge.go.example.com", d.VerificationToken,
		"edge.example.net", "Verify now", "not checked yet"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the domain's page has no %q", want)
		}
	}
	if p := b.get("/domains"); p.status != 200 || !strings.Contains(p.body, "/domains/"+id) || !strings.Contains(p.body, "pending") {
		t.Errorf("the domains list: %d", p.status)
	}
	// The same name again: beside the name.
	if p := b.submit("/domains/new", "/domains/new", url.Values{"name": {"go.example.com"}}); p.status != http.StatusBadRequest ||
		!strings.Contains(p.body, `id="name-err"`) {
		t.Errorf("a name added already: %d\n%s", p.status, p.body)
	}

	verify := func() string {
		t.Helper()
		p := b.submit("/domains/"+id, "/domains/"+id+"/verify", nil)
		if p.status != http.StatusSeeOther || p.location() != "/domains/"+id {
			t.Fatalf("verify: %d %q\n%s", p.status, p.location(), p.body)
		}
		return b.get(p.location()).body
	}
	if body := verify(); !strings.Contains(body, "do not check out yet") || !strings.Contains(body, "nothing") {
		t.Errorf("verify without records:\n%s", body)
	}
	if d, _ := s.owner(t).GetDomain(ctx, id); d.Status != "pending" {
		t.Errorf("status %q, want pending", d.Status)
	}
	z.Set(t, "_h0p-challenge.go.example.com", "TXT", `"`+d.VerificationToken+`"`)
	z.Set(t, "go.example.com", "CNAME", "edge.example.net.")
	if body := verify(); !strings.Contains(body, "Verified: go.example.com") || strings.Contains(body, "not checked yet") {
		t.Errorf("verify with the records:\n%s", body)
	}
	if d, _ := s.owner(t).GetDomain(ctx, id); d.Status != "verified" {
		t.Errorf("status %q, want verified", d.Status)
	}

	// HSTS without the redirect: the API's refusal, beside hsts.
	p = b.submit("/domains/"+id, "/domains/"+id, url.Values{"hsts": {"1"}, "redirectStatus": {"302"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "field-error") {
		t.Errorf("hsts without the redirect: %d\n%s", p.status, p.body)
	}
	p = b.submit("/domains/"+id, "/domains/"+id, url.Values{"primary": {"1"}, "redirectStatus": {"301"},
		"httpsRedirect": {"1"}, "hsts": {"1"}, "rootUrl": {"https://example.com/"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("settings: %d\n%s", p.status, p.body)
	}
	d, err = s.owner(t).GetDomain(ctx, id)
	if err != nil || !d.Primary || d.RedirectStatus != 301 || !d.HSTS || d.NotFoundURL != nil ||
		deref(d.RootURL) != "https://example.com/" {
		t.Errorf("settings saved (an emptied URL cleared): %+v %v", d, err)
	}

	if p := b.get("/domains/" + id + "/delete"); p.status != 200 || !strings.Contains(p.body, "cannot be undone") {
		t.Errorf("the confirmation page: %d", p.status)
	}
	if p := b.submit("/domains/"+id+"/delete", "/domains/"+id+"/delete", nil); p.status != http.StatusSeeOther ||
		p.location() != "/domains" {
		t.Fatalf("delete: %d %q\n%s", p.status, p.location(), p.body)
	}
	if _, err := s.owner(t).GetDomain(ctx, id); !apiclient.IsCode(err, "NOT_FOUND") {
		t.Errorf("after delete: %v", err)
	}
}

// TestDomainWithLinks: a domain that still has links is not deleted
// unless its links go too; the API's refusal is on the confirmation page.
func TestDomainWithLinks(t *testing.T) {
	z := dnstest.Start(t)
	s := mustStart(t, withDNS(z))
	ctx := context.Background()
	d, err := s.owner(t).AddDomain(ctx, apiclient.DomainInput{Name: apiclient.Ptr("go.example.com")})
	if err != nil {
		t.Fatal(err)
	}
	z.Set(t, "_h0p-challenge.go.example.com", "TXT", `"`+d.VerificationToken+`"`)
	z.Set(t, "go.example.com", "CNAME", "edge.example.net.")
	if _, err := s.owner(t).VerifyDomain(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.owner(t).CreateLink(ctx, apiclient.LinkInput{URL: apiclient.Ptr("https://example.com/"),
		Domain: apiclient.Ptr("go.example.com")}); err != nil {
		t.Fatal(err)
	}
	b := s.mustPerson(t, "ada@example.com", "admin")
	path := "/domains/" + d.ID + "/delete"
	if p := b.submit(path, path, nil); p.status != http.StatusConflict || !strings.Contains(p.body, `name="force"`) ||
		!strings.Contains(p.body, `role="alert"`) {
		t.Fatalf("delete with links: %d\n%s", p.status, p.body)
	}
	if p := b.submit(path, path, url.Values{"force": {"1"}}); p.status != http.StatusSeeOther {
		t.Fatalf("delete with its links: %d\n%s", p.status, p.body)
	}
	if _, err := s.owner(t).GetDomain(ctx, d.ID); !apiclient.IsCode(err, "NOT_FOUND") {
		t.Errorf("after delete: %v", err)
	}
}

// TestDomainsPermissions: a Member may add and verify domains but sees
// no Delete (its confirmation page and a forged POST are refused); a POST without the CSRF token is 403 and adds nothing;
// another org's domain is a 404 page.
func TestDomainsPermissions(t *testing.T) {
	z := dnstest.Start(t)
	s := mustStart(t, withDNS(z))
	ctx := context.Background()
	b := s.mustPerson(t, "bob@example.com", "member")

	if p := b.post("/domains/new", url.Values{"name": {"go.example.com"}}); p.status != http.StatusForbidden {
		t.Errorf("no CSRF token: %d", p.status)
	}
	if p := b.post("/domains/new", url.Values{"name": {"go.example.com"}, "csrf": {"forged"}}); p.status != http.StatusForbidden {
		t.Errorf("a wrong CSRF token: %d", p.status)
	}
	if ds, err := s.owner(t).ListDomains(ctx, apiclient.ListQuery{}); err != nil || len(ds.Data) != 0 {
		t.Fatalf("after refused POSTs: %+v %v", ds.Data, err)
	}

	p := b.submit("/domains/new", "/domains/new", url.Values{"name": {"go.example.com"}})
	m := domainIDRe.FindStringSubmatch(p.location())
	if p.status != http.StatusSeeOther || m == nil {
		t.Fatalf("a member adds: %d %q\n%s", p.status, p.location(), p.body)
	}
	page := b.get("/domains/" + m[1])
	if page.status != 200 || strings.Contains(page.body, "/delete") || !strings.Contains(page.body, "Verify now") {
		t.Errorf("a member's domain page: %d\n%s", page.status, page.body)
	}
	if p := b.submit("/domains/"+m[1], "/domains/"+m[1]+"/delete", nil); p.status != http.StatusForbidden ||
		!strings.Contains(p.body, "You may not do this") {
		t.Errorf("a member's forged delete: %d\n%s", p.status, p.body)
	}
	if p := b.get("/domains/" + m[1] + "/delete"); p.status != http.StatusForbidden {
		t.Errorf("a member's confirmation page: %d", p.status)
	}

	other := s.mustOrgOf(t, "Other", "eve@example.com")
	s.mustSetPlan(t, other, "pro")
	od, err := other.AddDomain(ctx, apiclient.DomainInput{Name: apiclient.Ptr("other.example.com")})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/domains/" + od.ID, "/domains/" + od.ID + "/delete"} {
		if p := b.get(path); p.status != http.StatusNotFound || strings.Contains(p.body, "other.example.com") {
			t.Errorf("GET %s of another org: %d", path, p.status)
		}
	}
	if p := b.submit("/domains", "/domains/"+od.ID+"/verify", nil); p.status != http.StatusNotFound {
		t.Errorf("verify another org's domain: %d", p.status)
	}
}

// mustSetPlan moves c's org to plan, as h0p admin set-plan does.
func (s *stack) mustSetPlan(t testing.TB, c *apiclient.Client, plan string) {
	t.Helper()
	ctx := context.Background()
	o, err := c.GetOrg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	svc, st, err := control.OpenAccounts(ctx, control.Config{DataDir: filepath.Join(s.dir, "control")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := svc.SetPlan(ctx, o.ID, plan); err != nil {
		t.Fatal(err)
	}
}
