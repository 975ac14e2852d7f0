package dashboard_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/control/controltest"
	"github.com/h0p/h0p/edge"
	"github.com/h0p/h0p/edge/clickspool"
	"github.com/h0p/h0p/replication"
)

var quiet = controltest.Quiet

// stack is a control node serving the dashboard, over a real
// single-voter raft node, on 127.0.0.1 and a temp dir, with its
// bootstrap Owner's API key. opts change control's config before it
// opens.
type stack struct {
	control *control.Server
	url     string
	key     string
	dir     string
	// edge is the redirect server's address (host:port) when the stack
	// has one (mustStartWithEdge).
	edge string
}

func mustStart(t testing.TB, opts ...func(*control.Config)) *stack {
	t.Helper()
	return start(t, false, opts...)
}

// mustStartWithEdge is mustStart with a real edge beside control, wired
// as h0p dev wires it: it serves the short links from the store the raft
// node writes, and its clicks go through its disk spool and a shipper to
// control's ingest in process. It believes X-Forwarded-For from
// 127.0.0.0/8, so a test can click from a country.
func mustStartWithEdge(t testing.TB, opts ...func(*control.Config)) *stack {
	t.Helper()
	return start(t, true, opts...)
}

func start(t testing.TB, withEdge bool, opts ...func(*control.Config)) *stack {
	t.Helper()
	ctx := context.Background()
	var (
		edgeSrv *edge.Server
		shipper *clickspool.Shipper
	)
	n := controltest.Start(t, control.Config{Dashboard: true}, func(n *controltest.Node, cfg *control.Config) {
		if withEdge {
			edgeSrv, shipper = mustEdge(t, n.Dir, n.Edge)
			_, port, err := net.SplitHostPort(edgeSrv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			cfg.ShortLinkScheme, cfg.ShortLinkPort = "http", port
			cfg.EdgeAddrs, cfg.Salts, cfg.EdgeDomains = []string{edgeSrv.Addr()}, n.Edge, n.Edge
		}
		for _, o := range opts {
			o(cfg)
		}
	})
	srv := n.Control
	s := &stack{control: srv, url: srv.URL(), dir: n.Dir, key: n.Key}
	if withEdge {
		// The edge stops first (cleanups run last-registered first), so
		// its shipper's last batches still find control up.
		shipper.Sink = clickspool.SinkFunc(srv.IngestClicks)
		edgeCtx, stopEdge := context.WithCancel(ctx)
		edgeDone := make(chan error, 1)
		go func() { edgeDone <- shipper.RunBeside(edgeCtx, edgeSrv.Run) }()
		t.Cleanup(func() {
			stopEdge()
			if err := <-edgeDone; err != nil {
				t.Error(err)
			}
			edgeSrv.Close()
		})
		s.edge = edgeSrv.Addr()
	}
	return s
}

// mustEdge opens an edge on 127.0.0.1 over st, and its click spool under
// dir; the shipper's Sink is control's, set once control is open.
func mustEdge(t testing.TB, dir string, st *replication.Store) (*edge.Server, *clickspool.Shipper) {
	t.Helper()
	e, err := edge.New(edge.Config{Addr: "127.0.0.1:0", DefaultDomain: "localhost", Logger: quiet, Loops: 1,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, st)
	if err != nil {
		t.Fatal(err)
	}
	spool, err := clickspool.Open(filepath.Join(dir, "clicks"), clickspool.Options{NodeID: "edge", Logger: quiet})
	if err != nil {
		e.Close()
		t.Fatal(err)
	}
	return e, &clickspool.Shipper{Spool: spool, Queue: e, Logger: quiet, Interval: 20 * time.Millisecond}
}

// owner is an API client with the bootstrap Owner's key.
func (s *stack) owner(t testing.TB) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(s.url, s.key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mustInvite invites email into the bootstrap org with role, and answers
// the invitation's token.
func (s *stack) mustInvite(t testing.TB, email, role string) string {
	t.Helper()
	var inv struct {
		Token string `json:"token"`
	}
	if err := s.owner(t).Do(context.Background(), "POST", "/v1/invitations", nil,
		map[string]string{"email": email, "role": role}, &inv); err != nil {
		t.Fatal(err)
	}
	return inv.Token
}

// browser is a person's HTTP client of the dashboard: it keeps cookies
// and follows no redirect, so tests see each answer.
type browser struct {
	t    testing.TB
	base string
	hc   *http.Client
}

func (s *stack) browser(t testing.TB) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: s.url, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// page is an answer: its status, headers and body.
type page struct {
	status int
	header http.Header
	body   string
}

func (p page) location() string { return p.header.Get("Location") }

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest("GET", b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post sends form to path as a browser would.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of the form on the page at path.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	p := b.get(path)
	m := csrfRe.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("GET %s: %d, no CSRF token in\n%s", path, p.status, p.body)
	}
	return m[1]
}

// submit posts form to action with the CSRF token of the page at from.
func (b *browser) submit(from, action string, form url.Values) page {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", b.csrf(from))
	return b.post(action, form)
}

// cookie is the value of the browser's cookie name ("" when none).
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.base)
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// mustJoin accepts an invitation on the dashboard as a new account,
// which signs the browser in.
func (b *browser) mustJoin(token, name, pw string) {
	b.t.Helper()
	p := b.submit("/invite/"+token, "/invite/"+token, url.Values{"name": {name}, "password": {pw}})
	if p.status != http.StatusSeeOther || p.location() != "/links" || b.cookie("h0p_session") == "" {
		b.t.Fatalf("join: %d %s\n%s", p.status, p.location(), p.body)
	}
}

// mustSignIn signs the browser in on the sign-in page.
func (b *browser) mustSignIn(email, pw string) page {
	b.t.Helper()
	p := b.submit("/login", "/login", url.Values{"email": {email}, "password": {pw}, "next": {"/links"}})
	if p.status != http.StatusSeeOther {
		b.t.Fatalf("sign in: %d\n%s", p.status, p.body)
	}
	return p
}

// mustPerson is a browser signed in as a new person of the bootstrap org
// with role.
func (s *stack) mustPerson(t testing.TB, email, role string) *browser {
	t.Helper()
	b := s.browser(t)
	b.mustJoin(s.mustInvite(t, email, role), "Person "+role, "a long password")
	return b
}

// mustOrgOf makes another org whose Owner is the person with email, as
// h0p admin create-org does, and answers an API client with the Owner's
// key in it.
func (s *stack) mustOrgOf(t testing.TB, name, email string) *apiclient.Client {
	t.Helper()
	ctx := context.Background()
	svc, st, err := control.OpenAccounts(ctx, control.Config{DataDir: filepath.Join(s.dir, "control")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var key string
	if _, err := svc.CreateOrgWithOwner(ctx, name, email, "", "free", func(k string) error { key = k; return nil }); err != nil {
		t.Fatal(err)
	}
	c, err := apiclient.New(s.url, key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
