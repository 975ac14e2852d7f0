package edge_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/phuslu/iploc"

	"github.com/h0p/h0p/edge"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/clicks"
	"github.com/h0p/h0p/shared/kv"
	"github.com/h0p/h0p/shared/password"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

type testEdge struct {
	url   string
	srv   *edge.Server
	now   atomic.Int64 // unix ms
	fsm   *replication.FSM
	index uint64 // of the last command applied
}

// takeClicks takes the clicks the edge queued since the last take,
// waiting up to 5 s for at least n of them.
func (te *testEdge) takeClicks(t *testing.T, n int) []clicks.Click {
	t.Helper()
	var (
		got      []clicks.Click
		e        clicks.Encoder
		deadline = time.Now().Add(5 * time.Second)
	)
	for {
		te.srv.TakeClicks(&e)
		cs, err := e.Decode()
		if err != nil {
			t.Fatalf("decoding the queued clicks: %v", err)
		}
		if got = append(got, cs...); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d clicks queued, want %d", len(got), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// apply commits one more command to the edge's store through the FSM.
func (te *testEdge) apply(t *testing.T, ops ...kv.Op) {
	t.Helper()
	te.index++
	if res := te.fsm.Apply(&raft.Log{Index: te.index, Data: kv.Command{Ops: ops}.Encode()}); res != nil {
		t.Fatal(res)
	}
}

// mustEngine runs an edge over a real store holding ops, trusting 127.0.0.1
// as a proxy, with a clock the test moves.
func mustEngine(t *testing.T, queue int, ops ...kv.Op) *testEdge {
	t.Helper()
	return startEngine(t, func(te *testEdge) edge.Config {
		return edge.Config{
			Addr: "127.0.0.1:0", DefaultDomain: "localhost", FallbackToDefault: true, Logger: quiet,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, ClickQueue: queue,
			ClickSalt: []byte("salt"), PasswordAttempts: 3,
			Now: func() time.Time { return time.UnixMilli(te.now.Load()).UTC() },
		}
	}, ops...)
}

// startEngine runs an edge configured by config over a real store holding
// ops (one command through the real FSM), until the test ends.
func startEngine(t *testing.T, config func(*testEdge) edge.Config, ops ...kv.Op) *testEdge {
	t.Helper()
	return startEngineOver(t, config, nil, ops...)
}

// startEngineOver is startEngine with the edge reading the store through
// wrap, unless it is nil.
func startEngineOver(t *testing.T, config func(*testEdge) edge.Config, wrap func(edge.LinkReader) edge.LinkReader,
	ops ...kv.Op) *testEdge {
	t.Helper()
	store, err := replication.OpenStore(t.TempDir(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	te := &testEdge{fsm: replication.NewFSM(store, quiet)}
	te.apply(t, ops...)
	te.now.Store(t0.UnixMilli())
	var links edge.LinkReader = store
	if wrap != nil {
		links = wrap(store)
	}
	srv, err := edge.New(config(te), links)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		srv.Close()
		store.Close()
	})
	te.url, te.srv = "http://"+srv.Addr(), srv
	return te
}

func put(l kv.Link) kv.Op {
	if l.Domain == "" {
		l.Domain = "localhost"
	}
	if l.ID == "" {
		l.ID = "link_" + l.Slug
	}
	l.Version = 1
	return kv.Op{Type: kv.OpPutLink, Link: &l}
}

type req struct {
	method, path string
	headers      map[string]string
	body         string
	jar          http.CookieJar
}

type answer struct {
	status   int
	location string
	header   http.Header
	body     string
}

func (te *testEdge) do(t *testing.T, r req) answer {
	t.Helper()
	if r.method == "" {
		r.method = "GET"
	}
	hr, _ := http.NewRequest(r.method, te.url+r.path, strings.NewReader(r.body))
	for k, v := range r.headers {
		if k == "Host" {
			hr.Host = v
		} else {
			hr.Header.Set(k, v)
		}
	}
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	c := &http.Client{Jar: r.jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("Location"), resp.Header, string(b)}
}

const (
	iPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
	android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"
	windows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
	slack   = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
)

func TestTargetingRules(t *testing.T) {
	after := t0.Add(time.Hour).UnixMilli()
	te := mustEngine(t, 1024, put(kv.Link{Slug: "app", URL: "https://example.com/", Rules: []kv.Rule{
		{URL: "https://fr.example/", Languages: []string{"fr"}},
		{URL: "https://promo.example/", Query: []kv.QueryParam{{Name: "ref", Value: "ad"}}},
		{URL: "https://late.example/", After: after},
		{URL: "https://apps.apple.com/x", Devices: []string{"ios"}},
		{URL: "https://play.google.com/x", Devices: []string{"android"}},
		{URL: "https://firefox.example/", Browsers: []string{"firefox"}, OS: []string{"linux"}},
		{URL: "https://us.example/", Countries: []string{"US"}},
		{URL: "https://desktop.example/", Devices: []string{"desktop"}},
	}}))
	for _, tc := range []struct {
		name    string
		path    string
		headers map[string]string
		want    string
	}{
		{"language", "/app", map[string]string{"Accept-Language": "fr-CA,en;q=0.5", "User-Agent": iPhone}, "https://fr.example/"},
		{"language by q", "/app", map[string]string{"Accept-Language": "en;q=0.4, fr;q=0.9", "User-Agent": iPhone}, "https://fr.example/"},
		{"language q=0 is not wanted", "/app", map[string]string{"Accept-Language": "fr;q=0", "User-Agent": iPhone}, "https://apps.apple.com/x"},
		{"query equal", "/app?ref=ad", map[string]string{"User-Agent": iPhone}, "https://promo.example/?ref=ad"},
		{"query other value", "/app?ref=mail", map[string]string{"User-Agent": iPhone}, "https://apps.apple.com/x?ref=mail"},
		{"ios", "/app", map[string]string{"User-Agent": iPhone}, "https://apps.apple.com/x"},
		{"android", "/app", map[string]string{"User-Agent": android}, "https://play.google.com/x"},
		{"browser and os", "/app", map[string]string{"User-Agent": firefox}, "https://firefox.example/"},
		{"country from a trusted proxy", "/app", map[string]string{"User-Agent": "", "X-Forwarded-For": "8.8.8.8"}, "https://us.example/"},
		{"country from Forwarded", "/app", map[string]string{"User-Agent": "", "Forwarded": `for="8.8.8.8:1234"`}, "https://us.example/"},
		{"desktop", "/app", map[string]string{"User-Agent": windows}, "https://desktop.example/"},
		{"no rule", "/app", map[string]string{"User-Agent": ""}, "https://example.com/"},
	} {
		if a := te.do(t, req{path: tc.path, headers: tc.headers}); a.status != 302 || a.location != tc.want {
			t.Errorf("%s: %d %q, want %q", tc.name, a.status, a.location, tc.want)
		}
	}
	// Time rules use the edge's clock.
	te.now.Store(after)
	if a := te.do(t, req{path: "/app", headers: map[string]string{"User-Agent": iPhone}}); a.location != "https://late.example/" {
		t.Errorf("after: %q", a.location)
	}
}

func TestUntrustedForwardedForIsIgnored(t *testing.T) {
	te := mustEngine(t, 16, put(kv.Link{Slug: "us", URL: "https://example.com/", Rules: []kv.Rule{
		{URL: "https://us.example/", Countries: []string{"US"}}}}))
	// 127.0.0.1 is trusted, but the hop left of an untrusted one is not.
	a := te.do(t, req{path: "/us", headers: map[string]string{"X-Forwarded-For": "8.8.8.8, 10.1.2.3"}})
	if a.location != "https://example.com/" {
		t.Errorf("a spoofed hop behind an untrusted one was believed: %q", a.location)
	}
}

func TestQueryForwardingAndUTM(t *testing.T) {
	te := mustEngine(t, 16,
		put(kv.Link{Slug: "fwd", URL: "https://example.com/p?a=dest&keep=1", UTM: []kv.QueryParam{{Name: "utm_source", Value: "news"}}}),
		put(kv.Link{Slug: "nofwd", URL: "https://example.com/p?a=dest", NoForwardQuery: true}),
	)
	a := te.do(t, req{path: "/fwd?a=incoming&qr=1&x=2"})
	u, _ := url.Parse(a.location)
	q := u.Query()
	if q.Get("a") != "incoming" || q.Get("keep") != "1" || q.Get("x") != "2" || q.Has("qr") || q.Get("utm_source") != "news" {
		t.Errorf("forwarded: %q", a.location)
	}
	if a := te.do(t, req{path: "/nofwd?a=incoming"}); a.location != "https://example.com/p?a=dest" {
		t.Errorf("forwardQuery off: %q", a.location)
	}
}

func TestVariantsAreWeightedAndSticky(t *testing.T) {
	te := mustEngine(t, 1024, put(kv.Link{Slug: "ab", URL: "https://example.com/", Variants: []kv.Variant{
		{URL: "https://a.example/", Weight: 80}, {URL: "https://b.example/", Weight: 20}}}))
	counts := map[string]int{}
	for range 400 {
		counts[te.do(t, req{path: "/ab"}).location]++
	}
	if counts["https://a.example/"] < 260 || counts["https://b.example/"] < 40 {
		t.Errorf("weights 80/20 gave %v", counts)
	}
	jar, _ := cookiejar.New(nil)
	first := te.do(t, req{path: "/ab", jar: jar}).location
	for range 20 {
		if got := te.do(t, req{path: "/ab", jar: jar}).location; got != first {
			t.Fatalf("not sticky: %q then %q", first, got)
		}
	}
}

func TestDecisionOrderExpiryAndStatus(t *testing.T) {
	past, future := t0.Add(-time.Hour).UnixMilli(), t0.Add(time.Hour).UnixMilli()
	te := mustEngine(t, 16,
		kv.Op{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: "go.example", RootURL: "https://home.example/",
			NotFoundURL: "https://home.example/404", ExpiredURL: "https://home.example/expired", Version: 1}},
		put(kv.Link{Slug: "off", URL: "https://example.com/", Disabled: true}),
		put(kv.Link{Slug: "soon", URL: "https://example.com/", ValidSince: future}),
		put(kv.Link{Slug: "exp", URL: "https://example.com/", ExpiresAt: past, ExpiredURL: "https://example.com/over"}),
		put(kv.Link{Slug: "exp410", URL: "https://example.com/", ExpiresAt: past}),
		put(kv.Link{Slug: "used", URL: "https://example.com/", MaxClicks: 10, ClicksExhausted: true}),
		put(kv.Link{ID: "link_goexp", Domain: "go.example", Slug: "exp", URL: "https://example.com/", ExpiresAt: past}),
		put(kv.Link{Slug: "perm", URL: "https://example.com/", Status: 301}),
		put(kv.Link{Slug: "permrules", URL: "https://example.com/", Status: 308, Rules: []kv.Rule{{URL: "https://x.example/", Devices: []string{"ios"}}}}),
		put(kv.Link{Slug: "temp", URL: "https://example.com/", Status: 307, Indexable: true}),
	)
	for _, tc := range []struct {
		path, host string
		status     int
		location   string
		cache      string
		noindex    bool
	}{
		{"/off", "", 404, "", "no-store", true},
		{"/soon", "", 404, "", "no-store", true},
		{"/exp", "", 302, "https://example.com/over", "no-store", true},
		{"/exp410", "", 410, "", "no-store", true},
		{"/used", "", 410, "", "no-store", true},
		{"/exp", "go.example", 302, "https://home.example/expired", "no-store", true},
		{"/", "go.example", 302, "https://home.example/", "no-store", true},
		{"/missing", "go.example", 302, "https://home.example/404", "no-store", true},
		{"/perm", "", 301, "https://example.com/", "public, max-age=3600", true},
		{"/permrules", "", 308, "https://example.com/", "no-store", true},
		{"/temp", "", 307, "https://example.com/", "no-store", false},
	} {
		a := te.do(t, req{path: tc.path, headers: map[string]string{"Host": tc.host}})
		if tc.host == "" {
			a = te.do(t, req{path: tc.path})
		}
		if a.status != tc.status || a.location != tc.location || a.header.Get("Cache-Control") != tc.cache ||
			(a.header.Get("X-Robots-Tag") == "noindex") != tc.noindex {
			t.Errorf("%s%s: %d %q cache %q robots %q", tc.host, tc.path, a.status, a.location,
				a.header.Get("Cache-Control"), a.header.Get("X-Robots-Tag"))
		}
	}
	if a := te.do(t, req{path: "/exp410"}); !strings.Contains(a.body, "expired") {
		t.Errorf("410 page %q", a.body)
	}
	// HEAD is GET without a body.
	if a := te.do(t, req{method: "HEAD", path: "/exp410"}); a.status != 410 || a.body != "" {
		t.Errorf("HEAD: %d %q", a.status, a.body)
	}
	if a := te.do(t, req{path: "/robots.txt"}); a.status != 200 || !strings.Contains(a.body, "User-agent") {
		t.Errorf("robots.txt: %d %q", a.status, a.body)
	}
	if a := te.do(t, req{path: "/favicon.ico"}); a.status != 204 {
		t.Errorf("favicon: %d", a.status)
	}
}

func TestPasswordLinks(t *testing.T) {
	hash := password.Hash("open sesame", password.Params{Memory: 1024, Time: 1, Threads: 1})
	te := mustEngine(t, 16, put(kv.Link{Slug: "secret", URL: "https://example.com/private", PasswordHash: hash}),
		put(kv.Link{Slug: "ü.example", URL: "https://example.com/private", PasswordHash: hash}))
	a := te.do(t, req{path: "/secret"})
	if a.status != 200 || !strings.Contains(a.body, `<form method="post">`) || a.location != "" {
		t.Fatalf("form: %d %q", a.status, a.body)
	}
	if a := te.do(t, req{method: "POST", path: "/secret", body: "password=nope"}); a.status != 401 {
		t.Errorf("wrong password: %d", a.status)
	}
	jar, _ := cookiejar.New(nil)
	a = te.do(t, req{method: "POST", path: "/secret", body: "password=open+sesame", jar: jar})
	if a.status != 303 || a.location != "/secret" {
		t.Fatalf("right password: %d %q", a.status, a.location)
	}
	if a := te.do(t, req{path: "/secret", jar: jar}); a.status != 302 || a.location != "https://example.com/private" {
		t.Errorf("with the cookie: %d %q", a.status, a.location)
	}
	// A path a browser would read as another host stays on this one.
	for _, p := range []string{"//secret", "/\\secret"} {
		if a := te.do(t, req{method: "POST", path: p, body: "password=open+sesame"}); a.status == 303 && a.location != "/."+p {
			t.Errorf("POST %s: 303 to %q", p, a.location)
		}
	}
	// A path sent in UTF-8 is percent-encoded as a browser sends it; its
	// first segment is not a host.
	const form = "password=open+sesame"
	if got := exchange(t, te.srv.Addr(), "POST //ü.example HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Content-Length: "+strconv.Itoa(len(form))+"\r\nConnection: close\r\n\r\n"+form); got != "303 /.//%C3%BC.example" {
		t.Errorf("POST //ü.example: %s, want 303 /.//%%C3%%BC.example", got)
	}
	// The cookie lasts an hour.
	te.now.Add(int64(61 * time.Minute / time.Millisecond))
	if a := te.do(t, req{path: "/secret", jar: jar}); a.status != 200 {
		t.Errorf("after an hour: %d", a.status)
	}
	// A forged cookie does not pass.
	if a := te.do(t, req{path: "/secret", headers: map[string]string{"Cookie": "h0p_pw_link_secret=99999999999.abcd"}}); a.status != 200 {
		t.Errorf("forged cookie: %d", a.status)
	}
	// Attempts are limited per IP and link: 3 a minute here.
	codes := ""
	for range 4 {
		codes += http.StatusText(te.do(t, req{method: "POST", path: "/secret", body: "password=guess"}).status) + ","
	}
	if !strings.HasSuffix(codes, "Too Many Requests,") {
		t.Errorf("attempts: %s", codes)
	}
}

// Password checks running at once are bounded: beyond the bound a form
// post gets a 503 at once and counts no attempt. An IPv6 client's attempts
// count by its /64.
func TestPasswordChecksBounded(t *testing.T) {
	slow := password.Hash("open sesame", password.Params{Memory: 32 * 1024, Time: 4, Threads: 1})
	fast := password.Hash("open sesame", password.Params{Memory: 1024, Time: 1, Threads: 1})
	te := startEngine(t, func(te *testEdge) edge.Config {
		return edge.Config{
			Addr: "127.0.0.1:0", DefaultDomain: "localhost", FallbackToDefault: true, Logger: quiet,
			TrustedProxies:   []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
			PasswordAttempts: 2, PasswordChecks: 1,
			Now: func() time.Time { return time.UnixMilli(te.now.Load()).UTC() },
		}
	}, put(kv.Link{Slug: "slow", URL: "https://example.com/s", PasswordHash: slow}),
		put(kv.Link{Slug: "fast", URL: "https://example.com/f", PasswordHash: fast}))
	post := func(path, from string) (int, error) {
		hr, _ := http.NewRequest("POST", te.url+path, strings.NewReader("password=nope"))
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		hr.Header.Set("X-Forwarded-For", from)
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	// Four clients at once, one check at a time: whoever comes first is
	// checked (401), the others are told to come back (503).
	statuses := make(map[string]int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			from := fmt.Sprintf("192.0.2.%d", i+1)
			code, err := post("/slow", from)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			statuses[from] = code
			mu.Unlock()
		})
	}
	wg.Wait()
	told := ""
	n := map[int]int{}
	for from, code := range statuses {
		n[code]++
		if code == 503 {
			told = from
		}
	}
	if n[401] < 1 || n[503] < 1 || n[401]+n[503] != 4 {
		t.Fatalf("statuses %v: want 401s and 503s only, at least one of each", statuses)
	}
	// The 503 counted no attempt: that client still has both.
	for _, want := range []int{401, 401, 429} {
		if code, err := post("/slow", told); err != nil || code != want {
			t.Errorf("%s after its 503: %d %v, want %d", told, code, err, want)
		}
	}
	// Two addresses of one /64 share its attempts; another /64 has its own.
	for _, c := range []struct {
		from string
		want int
	}{{"2001:db8::1", 401}, {"2001:db8::2", 401}, {"2001:db8::3", 429}, {"2001:db8:0:1::1", 401}} {
		if code, err := post("/fast", c.from); err != nil || code != c.want {
			t.Errorf("from %s: %d %v, want %d", c.from, code, err, c.want)
		}
	}
}

func TestPreviewBotsAndClicks(t *testing.T) {
	te := mustEngine(t, 2,
		put(kv.Link{Slug: "p", URL: "https://example.com/", Preview: kv.Preview{Title: "A <title>", Image: "https://example.com/i.png"}}),
		put(kv.Link{Slug: "plain", URL: "https://example.com/"}),
	)
	a := te.do(t, req{path: "/p", headers: map[string]string{"User-Agent": slack}})
	if a.status != 200 || !strings.Contains(a.body, `property="og:title" content="A &lt;title&gt;"`) ||
		!strings.Contains(a.body, `og:image`) {
		t.Errorf("preview: %d %q", a.status, a.body)
	}
	if a := te.do(t, req{path: "/plain", headers: map[string]string{"User-Agent": slack}}); a.status != 302 {
		t.Errorf("social bot without preview: %d", a.status)
	}
	// Redirects hand clicks to the queue; bots are flagged.
	te.do(t, req{path: "/p?qr=1", headers: map[string]string{"User-Agent": iPhone, "Referer": "https://news.example/a",
		"X-Forwarded-For": "8.8.8.8"}})
	cs := te.takeClicks(t, 2)
	c := cs[len(cs)-1]
	if c.LinkID != "link_p" || !c.QR || c.Country != "US" || c.RefererHost != "news.example" || c.OS != "iOS" ||
		c.Bot || c.IPHash == [16]byte{} || c.ID == [16]byte{} || !strings.HasPrefix(c.IDString(), "clk_") {
		t.Errorf("click %+v", c)
	}
	// A full queue (2 clicks) drops, never blocks.
	for range 5 {
		if a := te.do(t, req{path: "/plain", headers: map[string]string{"User-Agent": "curl/8.0"}}); a.status != 302 {
			t.Fatalf("redirect with a full queue: %d", a.status)
		}
	}
	if cs := te.takeClicks(t, 2); len(cs) != 2 || !cs[0].Bot {
		t.Errorf("clicks %+v, want 2, curl's flagged as a bot", cs)
	}
}

// TestClicksOnOneConnection: the edge remembers a connection's last
// User-Agent and client address (edge.visitorMemo); each click still has
// its own request's facts when they change between requests on the
// connection, as they do behind a proxy.
func TestClicksOnOneConnection(t *testing.T) {
	te := mustEngine(t, 16, put(kv.Link{Slug: "plain", URL: "https://example.com/"}))
	conn, err := net.Dial("tcp", strings.TrimPrefix(te.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	type visitor struct{ ua, ip, os string }
	visitors := []visitor{{iPhone, "8.8.8.8", "iOS"}, {iPhone, "8.8.8.8", "iOS"}, {firefox, "81.2.69.160", "Linux"},
		{iPhone, "81.2.69.160", "iOS"}, {firefox, "8.8.8.8", "Linux"}}
	var got []clicks.Click
	for _, v := range visitors {
		fmt.Fprintf(conn, "GET /plain HTTP/1.1\r\nHost: localhost\r\nUser-Agent: %s\r\nX-Forwarded-For: %s\r\n\r\n", v.ua, v.ip)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 302 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		got = append(got, te.takeClicks(t, 1)...)
	}
	hashes := map[string][16]byte{}
	for i, v := range visitors {
		c := got[i]
		if want := iploc.IPCountry(netip.MustParseAddr(v.ip)); c.OS != v.os || c.Country != want && !(want == "ZZ" && c.Country == "") {
			t.Errorf("click %d: OS %q country %q, want %q %q", i, c.OS, c.Country, v.os, iploc.IPCountry(netip.MustParseAddr(v.ip)))
		}
		if h, ok := hashes[v.ip]; ok && h != c.IPHash {
			t.Errorf("click %d: another hash for %s", i, v.ip)
		}
		hashes[v.ip] = c.IPHash
	}
	if hashes["8.8.8.8"] == hashes["81.2.69.160"] {
		t.Error("two addresses, one hash")
	}
}

// A destination with a line break (a record the API would refuse) cannot
// add a header to the answer.
func TestLocationWithLineBreak(t *testing.T) {
	te := mustEngine(t, 16, put(kv.Link{Slug: "crlf", URL: "https://example.com/\r\nSet-Cookie: a=1"}))
	a := te.do(t, req{path: "/crlf"})
	if a.status >= 500 || a.header.Get("Set-Cookie") != "" {
		t.Errorf("%d %q", a.status, a.header)
	}
}

func TestHostAndPathEdgeCases(t *testing.T) {
	te := mustEngine(t, 16,
		kv.Op{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: "xn--bcher-kva.example", Version: 1}},
		put(kv.Link{Domain: "xn--bcher-kva.example", Slug: "idn", URL: "https://example.com/idn"}),
		put(kv.Link{Slug: "x", URL: "https://example.com/x"}),
	)
	// A browser sends punycode; a raw UTF-8 Host is converted too.
	if a := te.do(t, req{path: "/idn", headers: map[string]string{"Host": "xn--bcher-kva.example"}}); a.status != 302 {
		t.Errorf("punycode host: %d", a.status)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(te.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /idn HTTP/1.1\r\nHost: BÜCHER.example\r\nConnection: close\r\n\r\n")
	raw, _ := io.ReadAll(conn)
	if !strings.HasPrefix(string(raw), "HTTP/1.1 302") || !strings.Contains(string(raw), "Location: https://example.com/idn") {
		t.Errorf("UTF-8 host: %q", raw)
	}
	for _, p := range []string{"/" + strings.Repeat("a", 3000), "/x%00", "/%FF%FE", "/a/../../x"} {
		if a := te.do(t, req{path: p}); a.status >= 500 {
			t.Errorf("%.40s: %d", p, a.status)
		} else if p != "/a/../../x" && a.status != 400 {
			t.Errorf("%.40s: %d, want 400", p, a.status)
		}
	}
}

// TestCacheFollowsTheStore: the edge caches decoded links; every apply that
// changes a link (update, delete, re-create) shows on the next request, also
// while readers race the writes.
func TestCacheFollowsTheStore(t *testing.T) {
	version := uint64(0)
	link := func(u string) kv.Op {
		version++
		return kv.Op{Type: kv.OpPutLink, Link: &kv.Link{ID: "link_c", Domain: "localhost", Slug: "c", URL: u, Version: version}}
	}
	te := mustEngine(t, 0, link("https://example.com/1"))
	putURL := func(u string) { te.apply(t, link(u)) }

	for i := range 3 { // warm the cache
		if a := te.do(t, req{path: "/c"}); a.location != "https://example.com/1" {
			t.Fatalf("request %d: %d %q", i, a.status, a.location)
		}
	}
	putURL("https://example.com/2")
	if a := te.do(t, req{path: "/c"}); a.location != "https://example.com/2" {
		t.Fatalf("after update: %d %q", a.status, a.location)
	}
	version++
	te.apply(t, kv.Op{Type: kv.OpDeleteLink, Delete: &kv.LinkDelete{ID: "link_c", Version: version}})
	if a := te.do(t, req{path: "/c"}); a.status != 404 {
		t.Fatalf("after delete: %d %q", a.status, a.location)
	}
	putURL("https://example.com/3")
	if a := te.do(t, req{path: "/c"}); a.location != "https://example.com/3" {
		t.Fatalf("after re-create: %d %q", a.status, a.location)
	}

	// Readers hammer the link while it changes; once writes stop, every
	// answer is the last write.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := noRedirect.Get(te.url + "/c")
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	for i := range 200 {
		putURL(fmt.Sprintf("https://example.com/race/%d", i))
	}
	close(stop)
	wg.Wait()
	for range 3 {
		if a := te.do(t, req{path: "/c"}); a.location != "https://example.com/race/199" {
			t.Fatalf("after the race: %d %q", a.status, a.location)
		}
	}
}

// panickyLinks panics reading the link "boom": a stand-in for any bug on
// the request path.
type panickyLinks struct{ edge.LinkReader }

func (p panickyLinks) Link(host, slug []byte) (kv.Link, bool, error) {
	if string(slug) == "boom" {
		panic("boom")
	}
	return p.LinkReader.Link(host, slug)
}

// A request whose answer panics gets a 500 and its connection closes; the
// edge goes on serving everyone else.
func TestPanicAnsweringOneRequest(t *testing.T) {
	te := startEngineOver(t, func(*testEdge) edge.Config {
		return edge.Config{Addr: "127.0.0.1:0", DefaultDomain: "localhost", FallbackToDefault: true, Logger: quiet}
	}, func(l edge.LinkReader) edge.LinkReader { return panickyLinks{l} }, put(kv.Link{Slug: "x", URL: "https://example.com/x"}))
	for _, request := range []string{
		"GET /boom HTTP/1.1\r\nHost: localhost\r\n\r\n",     // the plain path, then serve
		"GET /boom?a=1 HTTP/1.1\r\nHost: localhost\r\n\r\n", // serve alone
	} {
		conn, err := net.Dial("tcp", te.srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, request)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		raw, err := io.ReadAll(conn) // to the close
		conn.Close()
		if err != nil || !strings.HasPrefix(string(raw), "HTTP/1.1 500") || !strings.Contains(string(raw), "Connection: close") {
			t.Fatalf("panicking answer: %q %v", raw, err)
		}
		if a := te.do(t, req{path: "/x"}); a.status != 302 {
			t.Fatalf("after a panic: %d", a.status)
		}
	}
}

// Every edge answers ACME HTTP-01 requests from its replicated store, on
// any host it serves, until control deletes the answer; a link cannot
// shadow the path.
func TestACMEChallenges(t *testing.T) {
	const token = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
	keyAuth := token + ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
	te := mustEngine(t, 16,
		kv.Op{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: "links.example.test", OrgID: "org_1", Version: 1}},
		kv.Op{Type: kv.OpPutChallenge, Challenge: &kv.Challenge{Token: token, KeyAuth: keyAuth}})
	for _, host := range []string{"localhost", "links.example.test"} {
		a := te.do(t, req{path: kv.ChallengePath + token, headers: map[string]string{"Host": host}})
		if a.status != 200 || a.body != keyAuth || a.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d %q %q", host, a.status, a.body, a.header.Get("Cache-Control"))
		}
	}
	for _, path := range []string{kv.ChallengePath + "unknown", kv.ChallengePath + "bad%2Ftoken", kv.ChallengePath, kv.ChallengePath + token + "/x"} {
		if a := te.do(t, req{path: path}); a.status != 404 {
			t.Errorf("%s: %d %q", path, a.status, a.body)
		}
	}
	te.apply(t, kv.Op{Type: kv.OpDeleteChallenge, Challenge: &kv.Challenge{Token: token}})
	if a := te.do(t, req{path: kv.ChallengePath + token}); a.status != 404 {
		t.Errorf("after the delete: %d %q", a.status, a.body)
	}
}
