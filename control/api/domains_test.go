package api_test

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/domains"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/store"
)

// dnsServer is a real DNS server on the loopback (UDP and TCP on one
// port) answering from a zone the test changes.
type dnsServer struct {
	addr string
	mu   sync.Mutex
	rrs  map[string][]dns.RR // by lowercase FQDN
}

func mustDNS(t *testing.T) *dnsServer {
	t.Helper()
	z := &dnsServer{rrs: map[string][]dns.RR{}}
	mux := dns.NewServeMux()
	mux.HandleFunc(".", z.serve)
	var udp net.PacketConn
	var tcp net.Listener
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			continue
		}
		udp, tcp = pc, l
		break
	}
	if udp == nil {
		t.Fatal("no free port for UDP and TCP")
	}
	z.addr = udp.LocalAddr().String()
	servers := []*dns.Server{{PacketConn: udp, Handler: mux}, {Listener: tcp, Handler: mux}}
	for _, s := range servers {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		<-started
	}
	t.Cleanup(func() {
		for _, s := range servers {
			s.Shutdown()
		}
	})
	return z
}

// set replaces the zone's records of name (type and values in rr text).
func (z *dnsServer) set(t *testing.T, name string, rrs ...string) {
	t.Helper()
	z.mu.Lock()
	defer z.mu.Unlock()
	fqdn := dns.Fqdn(strings.ToLower(name))
	z.rrs[fqdn] = nil
	for _, text := range rrs {
		rr, err := dns.NewRR(fqdn + " 60 IN " + text)
		if err != nil {
			t.Fatal(err)
		}
		z.rrs[fqdn] = append(z.rrs[fqdn], rr)
	}
}

func (z *dnsServer) serve(w dns.ResponseWriter, req *dns.Msg) {
	z.mu.Lock()
	defer z.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	if _, ok := z.rrs[name]; !ok {
		m.Rcode = dns.RcodeNameError
	}
	for range 8 { // follow CNAMEs within the zone
		var next string
		for _, rr := range z.rrs[name] {
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, rr)
			} else if c, ok := rr.(*dns.CNAME); ok && q.Qtype != dns.TypeCNAME {
				m.Answer = append(m.Answer, rr)
				next = strings.ToLower(c.Target)
			}
		}
		if next == "" {
			break
		}
		name = next
		if _, ok := z.rrs[name]; ok {
			m.Rcode = dns.RcodeSuccess
		}
	}
	w.WriteMsg(m)
}

// useDNS points the env's domain checks at z, with the edges at
// edge.example.net and 192.0.2.10 / 2001:db8::10.
func (e *env) useDNS(z *dnsServer) {
	e.domains.Checker = &domains.Checker{Resolver: domains.NewResolver(z.addr), EdgeHost: "edge.example.net",
		EdgeIPs: []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}}
}

type domainJSON struct {
	ID, Name, Status, VerificationToken string
	Primary                             bool
	RedirectStatus                      int
	RootURL                             *string
	ServedUntil                         *time.Time
	Records                             struct{ Expected, Found []domains.Record }
}

func mustDomainJSON(t *testing.T, r response, status int) domainJSON {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	var d domainJSON
	if err := json.Unmarshal(r.body, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDomainVerificationLifecycle(t *testing.T) {
	e := mustStart(t)
	z := mustDNS(t)
	e.useDNS(z)
	d := mustDomainJSON(t, e.do(t, "POST", "/v1/domains", e.key,
		strings.NewReader(`{"name":"Go.Example.COM.","rootUrl":"https://example.com/home","doNotTrack":true}`)), 201)
	if !strings.HasPrefix(d.ID, "dom_") || d.Name != "go.example.com" || d.Status != "pending" || d.VerificationToken == "" ||
		d.RedirectStatus != 302 || len(d.Records.Expected) != 4 || d.Records.Expected[0].Type != "TXT" {
		t.Fatalf("created %+v", d)
	}
	verify := func() domainJSON {
		t.Helper()
		return mustDomainJSON(t, e.do(t, "POST", "/v1/domains/"+d.ID+"/verify", e.key, nil), 200)
	}
	served := func() bool {
		_, ok, err := e.edge.Domain([]byte("go.example.com"))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	// Nothing published: pending.
	if v := verify(); v.Status != "pending" || len(v.Records.Found) != 0 {
		t.Errorf("no records: %+v", v)
	}
	// The TXT alone is not enough.
	z.set(t, "_h0p-challenge.go.example.com", `TXT "`+d.VerificationToken+`"`)
	if v := verify(); v.Status != "pending" || len(v.Records.Found) != 1 {
		t.Errorf("TXT only: %+v", v)
	}
	// TXT and a CNAME to the edges: verified and on the edges.
	z.set(t, "edge.example.net", "A 192.0.2.10")
	z.set(t, "go.example.com", "CNAME edge.example.net.")
	if v := verify(); v.Status != "verified" || v.ServedUntil != nil {
		t.Fatalf("verified: %+v", v)
	}
	if rec, ok, _ := e.edge.Domain([]byte("go.example.com")); !ok || rec.RootURL != "https://example.com/home" || !rec.DoNotTrack || !strings.HasPrefix(rec.OrgID, "org_") {
		t.Errorf("edge record %+v %v", rec, ok)
	}
	// Records removed: still served within the grace period.
	z.set(t, "go.example.com")
	z.set(t, "_h0p-challenge.go.example.com")
	e.now = e.now.Add(24 * time.Hour)
	v := verify()
	if v.Status != "verified" || v.ServedUntil == nil || !served() {
		t.Errorf("within grace: %+v served %v", v, served())
	}
	// Past the grace: misconfigured and off the edges.
	e.now = e.now.Add(48 * time.Hour)
	if v := verify(); v.Status != "misconfigured" || served() {
		t.Errorf("after grace: %+v served %v", v, served())
	}
	// A records to the edges verify it again; the recheck does the same.
	z.set(t, "go.example.com", "A 192.0.2.10", "AAAA 2001:db8::10")
	z.set(t, "_h0p-challenge.go.example.com", `TXT "`+d.VerificationToken+`"`)
	e.now = e.now.Add(2 * time.Hour)
	if n, err := e.domains.Recheck(context.Background(), time.Hour); err != nil || n != 1 {
		t.Fatalf("recheck: %d %v", n, err)
	}
	if !served() {
		t.Error("not served after the recheck")
	}
	// A records elsewhere do not point at the edges.
	z.set(t, "go.example.com", "A 192.0.2.10", "A 198.51.100.1")
	e.now = e.now.Add(100 * time.Hour)
	if v := verify(); v.Status != "misconfigured" {
		t.Errorf("foreign A record: %+v", v)
	}
}

func TestDomainErrors(t *testing.T) {
	e := mustStart(t)
	z := mustDNS(t)
	e.useDNS(z)
	post := func(key, body string) response {
		return e.do(t, "POST", "/v1/domains", key, strings.NewReader(body))
	}
	for _, tt := range []struct{ name, body string }{
		{"ipv4", `{"name":"192.0.2.1"}`},
		{"ipv6", `{"name":"[2001:db8::1]"}`},
		{"public_suffix", `{"name":"co.uk"}`},
		{"tld", `{"name":"com"}`},
		{"unknown_tld", `{"name":"go.notatld"}`},
		{"platform", `{"name":"h0p.link"}`},
		{"platform_sub", `{"name":"x.h0p.link"}`},
		{"too_long", `{"name":"` + strings.Repeat("a.", 130) + `com"}`},
		{"bad_idn", `{"name":"xn--a.com"}`},
		{"underscore", `{"name":"a_b.example.com"}`},
		{"missing", `{}`},
	} {
		r := post(e.key, tt.body)
		if r.status != 400 || !strings.Contains(string(r.body), `"field":"name"`) {
			t.Errorf("%s: %d %s", tt.name, r.status, r.body)
		}
	}
	if r := post(e.key, `{"name":"a.example.com","redirectStatus":303}`); r.status != 400 || !strings.Contains(string(r.body), "redirectStatus") {
		t.Errorf("redirectStatus 303: %d %s", r.status, r.body)
	}
	// IDNs are stored in punycode.
	if d := mustDomainJSON(t, post(e.key, `{"name":"Bücher.example.com"}`), 201); d.Name != "xn--bcher-kva.example.com" {
		t.Errorf("IDN stored as %q", d.Name)
	}
	d := mustDomainJSON(t, post(e.key, `{"name":"go.example.com"}`), 201)
	// Names are unique across orgs.
	other := mustBootstrap(t, e.store, "2", time.Time{})
	if r := post(other, `{"name":"GO.example.com"}`); r.status != 409 || !strings.Contains(string(r.body), "ALREADY_EXIST") {
		t.Errorf("taken name: %d %s", r.status, r.body)
	}
	// Another org's domain is not found.
	for _, m := range []string{"GET", "PATCH", "DELETE"} {
		var body *strings.Reader
		if m == "PATCH" {
			body = strings.NewReader(`{"indexable":true}`)
		} else {
			body = strings.NewReader("")
		}
		if r := e.do(t, m, "/v1/domains/"+d.ID, other, body); r.status != 404 {
			t.Errorf("other org %s: %d %s", m, r.status, r.body)
		}
	}
	if r := e.do(t, "POST", "/v1/domains/"+d.ID+"/verify", other, nil); r.status != 404 {
		t.Errorf("other org verify: %d", r.status)
	}
	// Only a verified domain can be primary.
	if r := e.do(t, "PATCH", "/v1/domains/"+d.ID, e.key, strings.NewReader(`{"primary":true}`)); r.status != 400 {
		t.Errorf("primary while pending: %d %s", r.status, r.body)
	}
	// A Member may create, read and update, not delete.
	member := mustMember(t, e, "org_1", "usr_member")
	if r := e.do(t, "PATCH", "/v1/domains/"+d.ID, member, strings.NewReader(`{"indexable":true}`)); r.status != 200 {
		t.Errorf("member patch: %d %s", r.status, r.body)
	}
	if r := e.do(t, "DELETE", "/v1/domains/"+d.ID, member, nil); r.status != 403 {
		t.Errorf("member delete: %d %s", r.status, r.body)
	}
	// Paging.
	r := e.do(t, "GET", "/v1/domains?limit=1", e.key, nil)
	var page struct {
		Data       []domainJSON
		NextCursor *string
	}
	json.Unmarshal(r.body, &page)
	if r.status != 200 || len(page.Data) != 1 || page.NextCursor == nil {
		t.Fatalf("page 1: %d %s", r.status, r.body)
	}
	r = e.do(t, "GET", "/v1/domains?limit=1&cursor="+*page.NextCursor, e.key, nil)
	page.Data, page.NextCursor = nil, nil
	json.Unmarshal(r.body, &page)
	if r.status != 200 || len(page.Data) != 1 || page.Data[0].ID != d.ID || page.NextCursor != nil {
		t.Errorf("page 2: %d %s", r.status, r.body)
	}
	// Plans: free has no custom domains; pro has 3.
	ctx := context.Background()
	if err := e.store.UpdateOrg(ctx, store.Org{ID: "org_2", Name: "Org 2", Plan: "free"}); err != nil {
		t.Fatal(err)
	}
	if r := post(other, `{"name":"free.example.com"}`); r.status != 403 || !strings.Contains(string(r.body), "FEATURE_NOT_AVAILABLE") {
		t.Errorf("free plan: %d %s", r.status, r.body)
	}
	if err := e.store.UpdateOrg(ctx, store.Org{ID: "org_2", Name: "Org 2", Plan: "pro"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		mustDomainJSON(t, post(other, `{"name":"`+n+`.pro.example.com"}`), 201)
	}
	if r := post(other, `{"name":"d.pro.example.com"}`); r.status != 403 || !strings.Contains(string(r.body), "PLAN_LIMIT_REACHED") {
		t.Errorf("pro limit: %d %s", r.status, r.body)
	}
	// Audit entries.
	logs, err := e.store.AuditLogs(ctx, store.AuditFilter{OrgID: "org_1", ResourceType: "domain", Limit: 10})
	if err != nil || len(logs) != 3 {
		t.Errorf("audit: %d entries %v", len(logs), err)
	}
}

// mustMember adds a Member with a user key of every Member permission to
// org and returns the key.
func mustMember(t *testing.T, e *env, org, user string) string {
	t.Helper()
	ctx := context.Background()
	key := apikey.Generate(apikey.User)
	err := e.store.Write(ctx, func(q store.Queries) error {
		if err := q.CreateUser(ctx, store.User{ID: user, Email: user + "@example.com", EmailVerifiedAt: e.now, CreatedAt: e.now}); err != nil {
			return err
		}
		if err := q.AddMember(ctx, store.Member{OrgID: org, UserID: user, Role: identity.RoleMember, CreatedAt: e.now}); err != nil {
			return err
		}
		return q.CreateAPIKey(ctx, store.APIKey{ID: "key_" + user, OrgID: org, Type: identity.KeyUser, UserID: user,
			Prefix: apikey.Prefix(key), Digest: apikey.Digest(pepper, key), CreatedBy: user, CreatedAt: e.now,
			Permissions: access.OfRole(identity.RoleMember).Permissions()})
	})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestDomainLinks(t *testing.T) {
	e := mustStart(t)
	z := mustDNS(t)
	e.useDNS(z)
	d := mustDomainJSON(t, e.do(t, "POST", "/v1/domains", e.key, strings.NewReader(`{"name":"go.example.com"}`)), 201)
	link := func(body string) response { return e.do(t, "POST", "/v1/links", e.key, strings.NewReader(body)) }
	if r := link(`{"url":"https://example.com","domain":"go.example.com"}`); r.status != 400 || !strings.Contains(string(r.body), "not verified") {
		t.Errorf("link on a pending domain: %d %s", r.status, r.body)
	}
	z.set(t, "_h0p-challenge.go.example.com", `TXT "`+d.VerificationToken+`"`)
	z.set(t, "go.example.com", "A 192.0.2.10")
	mustDomainJSON(t, e.do(t, "POST", "/v1/domains/"+d.ID+"/verify", e.key, nil), 200)
	if r := link(`{"url":"https://example.com/a","domain":"GO.example.com"}`); r.status != 201 {
		t.Errorf("link on a verified domain: %d %s", r.status, r.body)
	}
	// Another org cannot use it.
	other := mustBootstrap(t, e.store, "2", time.Time{})
	if r := e.do(t, "POST", "/v1/links", other, strings.NewReader(`{"url":"https://example.com","domain":"go.example.com"}`)); r.status != 400 {
		t.Errorf("other org's domain: %d %s", r.status, r.body)
	}
	// The primary domain is where links without one go.
	if p := mustDomainJSON(t, e.do(t, "PATCH", "/v1/domains/"+d.ID, e.key, strings.NewReader(`{"primary":true}`)), 200); !p.Primary {
		t.Errorf("primary %+v", p)
	}
	if m := mustCreate(t, e, e.key, `{"url":"https://example.com/b"}`); m["domain"] != "go.example.com" {
		t.Errorf("link without a domain went to %v", m["domain"])
	}
	// Delete: 409 with the count, then force deletes the links too.
	r := e.do(t, "DELETE", "/v1/domains/"+d.ID, e.key, nil)
	if r.status != 409 || !strings.Contains(string(r.body), "2 links") {
		t.Errorf("delete with links: %d %s", r.status, r.body)
	}
	if r := e.do(t, "DELETE", "/v1/domains/"+d.ID+"?force=true", e.key, nil); r.status != 200 {
		t.Fatalf("force delete: %d %s", r.status, r.body)
	}
	if _, ok, _ := e.edge.Domain([]byte("go.example.com")); ok {
		t.Error("edge still has the deleted domain")
	}
	logs, _ := e.store.AuditLogs(context.Background(), store.AuditFilter{OrgID: "org_1", ResourceType: "link", Limit: 10})
	deleted := 0
	for _, l := range logs {
		if l.Action == "link.deleted" {
			deleted++
		}
	}
	if deleted != 2 {
		t.Errorf("%d link.deleted audit entries, want 2", deleted)
	}
	if m := mustCreate(t, e, e.key, `{"url":"https://example.com/c"}`); m["domain"] != "localhost" {
		t.Errorf("after delete, link went to %v", m["domain"])
	}
}

// The edge settings: defaults shown, validated, and carried to the edges
// in the domain's record once it is verified, and again on each change.
func TestDomainEdgeSettings(t *testing.T) {
	e := mustStart(t)
	z := mustDNS(t)
	e.useDNS(z)
	type settings struct {
		RedirectStatus      int
		Indexable           bool
		HTTPSRedirect, HSTS bool
	}
	show := func(r response, status int) settings {
		t.Helper()
		if r.status != status {
			t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
		}
		var s settings
		if err := json.Unmarshal(r.body, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	r := e.do(t, "POST", "/v1/domains", e.key, strings.NewReader(`{"name":"go.example.com"}`))
	if s := show(r, 201); s != (settings{RedirectStatus: 302, HTTPSRedirect: true}) {
		t.Errorf("defaults: %+v", s)
	}
	d := mustDomainJSON(t, r, 201)
	patch := func(body string) response {
		return e.do(t, "PATCH", "/v1/domains/"+d.ID, e.key, strings.NewReader(body))
	}
	s := show(patch(`{"redirectStatus":301,"indexable":true,"hsts":true}`), 200)
	if s != (settings{RedirectStatus: 301, Indexable: true, HTTPSRedirect: true, HSTS: true}) {
		t.Errorf("patched: %+v", s)
	}
	for _, tt := range []struct{ body, field string }{
		{`{"httpsRedirect":false}`, "httpsRedirect"}, // hsts is on
		{`{"httpsRedirect":"no"}`, "httpsRedirect"},
		{`{"hsts":1}`, "hsts"},
	} {
		if r := patch(tt.body); r.status != 400 || !strings.Contains(string(r.body), `"field":"`+tt.field+`"`) {
			t.Errorf("%s: %d %s", tt.body, r.status, r.body)
		}
	}
	if r := e.do(t, "POST", "/v1/domains", e.key, strings.NewReader(`{"name":"b.example.com","hsts":true,"httpsRedirect":false}`)); r.status != 400 ||
		!strings.Contains(string(r.body), `"field":"hsts"`) {
		t.Errorf("create with hsts and no redirect: %d %s", r.status, r.body)
	}

	// Verified: the edges get the settings.
	z.set(t, "_h0p-challenge.go.example.com", `TXT "`+d.VerificationToken+`"`)
	z.set(t, "go.example.com", "A 192.0.2.10")
	if v := mustDomainJSON(t, e.do(t, "POST", "/v1/domains/"+d.ID+"/verify", e.key, nil), 200); v.Status != "verified" {
		t.Fatalf("verify: %+v", v)
	}
	rec, ok, _ := e.edge.Domain([]byte("go.example.com"))
	if !ok || rec.RedirectStatus != 301 || !rec.Indexable || rec.NoHTTPSRedirect || !rec.HSTS {
		t.Errorf("edge record %+v %v", rec, ok)
	}
	// Both off in one request; null sets a default again.
	if s := show(patch(`{"hsts":false,"httpsRedirect":false,"redirectStatus":null}`), 200); s !=
		(settings{RedirectStatus: 302, Indexable: true}) {
		t.Errorf("redirect off: %+v", s)
	}
	rec, _, _ = e.edge.Domain([]byte("go.example.com"))
	if rec.RedirectStatus != 0 || !rec.NoHTTPSRedirect || rec.HSTS {
		t.Errorf("edge record after the change %+v", rec)
	}
	if s := show(patch(`{"httpsRedirect":null}`), 200); !s.HTTPSRedirect {
		t.Errorf("httpsRedirect null: %+v", s)
	}
	if rec, _, _ = e.edge.Domain([]byte("go.example.com")); rec.NoHTTPSRedirect {
		t.Errorf("edge record, redirect on again: %+v", rec)
	}
}
