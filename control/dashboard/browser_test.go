package dashboard_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/shared/dnstest"
)

// chromium is the path of a Chromium binary, or the test is skipped
// (failed when H0P_REQUIRE_CHROMIUM=1, as CI sets it).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("H0P_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("no chromium binary on PATH, and H0P_REQUIRE_CHROMIUM=1")
	}
	t.Skip("no chromium binary on PATH (apt-get install chromium)")
	return ""
}

// tab is one browser tab: its steps fail the test with their name. With
// H0P_SCREENSHOTS set, shot writes PNGs of its 1280×800 viewport there.
type tab struct {
	t   *testing.T
	ctx context.Context
	dir string
}

// mustBrowser starts headless Chromium (exe) and answers its first tab,
// in a fresh profile that is gone when the test ends.
func mustBrowser(t *testing.T, exe string) *tab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1280, 800))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	t.Cleanup(cancelBrowser)
	dir := os.Getenv("H0P_SCREENSHOTS")
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b := &tab{t: t, ctx: ctx, dir: dir}
	b.do("start the browser", chromedp.EmulateViewport(1280, 800))
	return b
}

// incognito is a tab in a new browser context of the same browser: no
// cookies shared with the others, as another person's browser.
func (b *tab) incognito() *tab {
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	in := &tab{t: b.t, ctx: ctx, dir: b.dir}
	in.do("open a tab in a new browser context", chromedp.EmulateViewport(1280, 800))
	return in
}

func (b *tab) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
}

func (b *tab) shot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if b.dir == "" {
			return nil
		}
		png, err := chromedp.CaptureScreenshot()(ctx, tg)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644)
	})
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("the text of %s: %v", sel, err)
	}
	return strings.TrimSpace(v)
}

func (b *tab) eval(js string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("%s: %v", js, err)
	}
	return v
}

// html is the page as the browser holds it.
func (b *tab) html() string { return b.eval(`document.documentElement.outerHTML`) }

func (b *tab) location() string {
	b.t.Helper()
	u, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

// cookie is the value of the tab's cookie name for the page's URL, HttpOnly
// or not ("" when none).
func (b *tab) cookie(name string) string {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// scrollTo scrolls the page so that sel starts at its top, for a
// screenshot of what follows it.
func scrollTo(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](fmt.Sprintf(`window.scrollTo(0, document.querySelector(%q).getBoundingClientRect().top + window.scrollY - 16)`, sel))(ctx, tg)
		return err
	})
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// signIn signs in on the sign-in page that opening /links leads to.
func (b *tab) signIn(base, email, pw string) {
	b.t.Helper()
	b.do("sign in as "+email,
		chromedp.Navigate(base+"/links"),
		chromedp.WaitVisible(css(`#email`)),
		b.shot("login"),
		chromedp.SendKeys(css(`#email`), email),
		chromedp.SendKeys(css(`#password`), pw),
		chromedp.Click(css(`form[action="/login"] button[type="submit"]`)),
		// What only signed-in pages have: the sign-in page has an h1 too.
		chromedp.WaitVisible(css(`form[action="/logout"]`)),
	)
	if h := b.text(`h1`); h != "Links" {
		b.t.Fatalf("after sign-in as %s: %q", email, h)
	}
}

// browserUA is a desktop Chrome's User-Agent: the edge counts its clicks
// (a bot's would be left out of the analytics).
const browserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// mustFollow requests the short link on the edge at addr as a browser
// from client (an address the edge reads from X-Forwarded-For; "": the
// connection's), and answers where it redirects. Until the link reached
// the edge's store it is a 404 there, which counts no click; those are
// tried again.
func mustFollow(t *testing.T, addr, shortLink, client string) string {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Dial the edge's address, with the short link's Host.
		req, err := http.NewRequest("GET", shortLink, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Host = addr
		req.Host = strings.TrimPrefix(strings.TrimPrefix(shortLink, "http://"), "https://")
		req.Host, _, _ = strings.Cut(req.Host, "/")
		req.Header.Set("User-Agent", browserUA)
		if client != "" {
			req.Header.Set("X-Forwarded-For", client)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if resp.StatusCode < 300 || resp.StatusCode > 308 {
			t.Fatalf("GET %s on the edge: %d", shortLink, resp.StatusCode)
		}
		return resp.Header.Get("Location")
	}
}

// mustClicked waits until control counts n clicks of the link (the
// edge's spool ships them every few milliseconds).
func mustClicked(t *testing.T, c *apiclient.Client, linkID string, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := c.GetStats(context.Background(), apiclient.StatsQuery{GroupBy: "count", Interval: "24h",
			Filters: apiclient.Filters{LinkID: []string{linkID}}})
		if err != nil {
			t.Fatal(err)
		}
		if st.Clicks == n {
			return
		}
		if st.Clicks > n || time.Now().After(deadline) {
			t.Fatalf("control counts %d clicks of the link, want %d", st.Clicks, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var (
	linkPathRe = regexp.MustCompile(`/links/(link_[0-9A-Za-z]+)$`)
	keyPathRe  = regexp.MustCompile(`^/keys/(key_[0-9A-Za-z]+)$`)
	chartRe    = regexp.MustCompile(`^Clicks over time: (\d+) clicks?`)
)

// TestBrowserJourney drives the dashboard with headless Chromium as
// people would, against control beside a real edge: sign in, create a
// link with tags and a rule by country, find it by search, follow its
// short link on the edge as a browser (once from the rule's country),
// see exactly those clicks on its analytics, create a read-only bot key
// and see its secret once, add a domain and see the DNS records to
// publish, sign out (the old session cookie opens nothing); and a Member,
// in another browser context, sees no actions on the API keys page.
// With H0P_SCREENSHOTS set, it writes PNG screenshots of the pages it
// sees there.
func TestBrowserJourney(t *testing.T) {
	exe := chromium(t)
	z := dnstest.Start(t)
	s := mustStartWithEdge(t, withDNS(z))
	ctx := context.Background()
	s.mustPerson(t, "ada@example.com", "admin")
	s.mustPerson(t, "bob@example.com", "member")
	owner := s.owner(t)
	// The org's other links and a webhook, so the tables have rows. The
	// webhook hears of deletions only, and this test deletes nothing:
	// nothing is sent to its (public) address.
	z.Set(t, "hooks.example.com", "A", "93.184.215.14")
	for i, u := range []string{"https://example.com/docs", "https://example.com/blog/launch", "https://example.com/pricing"} {
		if _, err := owner.CreateLink(ctx, apiclient.LinkInput{URL: apiclient.Ptr(u), Title: apiclient.Ptr(fmt.Sprintf("Page %d", i+1)),
			Tags: []string{"site"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := owner.CreateWebhook(ctx, apiclient.WebhookInput{URL: "https://hooks.example.com/h0p",
		Description: "CRM", Events: []string{"link.deleted"}, AllLinks: true}); err != nil {
		t.Fatal(err)
	}

	b := mustBrowser(t, exe)
	b.signIn(s.url, "ada@example.com", "a long password")

	const dest, destUS = "https://example.com/spring-sale", "https://example.com/us/spring-sale"
	b.do("create a link with tags and a rule by country",
		chromedp.Click(css(`a[href="/links/new"]`)),
		chromedp.WaitVisible(css(`#url`)),
		chromedp.SendKeys(css(`#url`), dest),
		chromedp.SendKeys(css(`#tags`), "spring, news"),
		chromedp.SendKeys(css(`#title`), "Spring sale"),
		chromedp.SendKeys(css(`#geo`), "US "+destUS),
		scrollTo(`body`),
		b.shot("link-form"),
		chromedp.Click(css(`form.linkform .actions button[type="submit"]`)),
		chromedp.WaitVisible(css(`.flash`)),
		b.shot("link"),
	)
	if f := b.text(`.flash`); f != "Link created." {
		t.Errorf("after create: flash %q", f)
	}
	m := linkPathRe.FindStringSubmatch(b.location())
	if m == nil {
		t.Fatalf("after create, the page is %s", b.location())
	}
	linkID := m[1]
	if d := b.text(`dl.fields`); !strings.Contains(d, dest) || !strings.Contains(d, "news") || !strings.Contains(d, "US: "+destUS) {
		t.Errorf("the link's page: %q", d)
	}
	shortLink := b.eval(`document.querySelector("dl.fields dd a").href`)
	if !strings.HasPrefix(shortLink, "http://localhost:") {
		t.Fatalf("the short link %q is not on the edge", shortLink)
	}

	b.do("find it by search",
		chromedp.Navigate(s.url+"/links"),
		chromedp.WaitVisible(css(`#q`)),
		chromedp.SendKeys(css(`#q`), "spring"),
		chromedp.Click(css(`form.filters button[type="submit"]`)),
		// Wait for what only the results have (their Clear link): the
		// page before has a table too, which goes away.
		chromedp.WaitVisible(css(`form.filters a[href="/links"]`)),
		b.shot("links-searched"),
	)
	if n := b.eval(`String(document.querySelectorAll("table.links tbody tr").length)`); n != "1" {
		t.Errorf("search: %s rows, want 1", n)
	}
	// app.js ran (the CSP lets the site's own script in): times show in
	// the browser's timezone, their UTC text kept as a title.
	if tz := b.eval(`document.querySelector("table.links time").title`); !strings.HasSuffix(tz, "UTC") {
		t.Errorf("the time's title %q: app.js did not run", tz)
	}

	// Follow the short link on the edge: from here, then once from the
	// US (a trusted proxy's X-Forwarded-For), which the rule sends on.
	const clicks = 5
	for i := range clicks {
		client, want := "", dest
		if i == clicks-1 {
			client, want = "8.8.8.8", destUS
		}
		if got := mustFollow(t, s.edge, shortLink, client); got != want {
			t.Errorf("click %d from %q went to %q, want %q", i, client, got, want)
		}
	}
	mustClicked(t, owner, linkID, clicks)
	b.do("the link's analytics",
		chromedp.Navigate(s.url+"/links/"+linkID+"/analytics"),
		chromedp.WaitVisible(css(`.total`)),
		scrollTo(`section.totals`),
		b.shot("link-analytics"),
	)
	if n := b.text(`.total`); n != strconv.Itoa(clicks) {
		t.Errorf("the link's analytics say %s clicks, want %d", n, clicks)
	}
	label := b.eval(`document.querySelector('[aria-label^="Clicks over time"]').getAttribute("aria-label")`)
	if m := chartRe.FindStringSubmatch(label); m == nil || m[1] != strconv.Itoa(clicks) {
		t.Errorf("the chart says %q, want %d clicks", label, clicks)
	}
	if c := b.eval(`document.querySelector('[aria-label^="Countries"]').getAttribute("aria-label")`); !strings.Contains(c, "United States 1 click") {
		t.Errorf("the countries chart says %q", c)
	}
	b.do("the organization's analytics", chromedp.Navigate(s.url+"/analytics"), chromedp.WaitVisible(css(`.total`)),
		scrollTo(`section.totals`), b.shot("analytics"))
	if n := b.text(`.total`); n != strconv.Itoa(clicks) {
		t.Errorf("the organization's analytics say %s clicks, want %d", n, clicks)
	}
	b.do("the links table", chromedp.Navigate(s.url+"/links"), chromedp.WaitVisible(css(`table.links`)), b.shot("links"))

	b.do("create a read-only bot key",
		chromedp.Navigate(s.url+"/keys/new"),
		chromedp.WaitVisible(css(`#name`)),
		chromedp.SendKeys(css(`#name`), "Reporting bot"),
		chromedp.Click(css(`#type-bot`)),
		chromedp.Click(css(`#grant-shortLinks-read`)),
		chromedp.Click(css(`form[action="/keys/new"] button[type="submit"]`)),
		chromedp.WaitVisible(css(`#secret`)),
		b.shot("key-created"),
	)
	secret, err := chromedp.Run(b.ctx, chromedp.Value(css(`#secret`)))
	if err != nil || !strings.HasPrefix(secret, "h0p_b_") {
		t.Fatalf("the secret shown: %q %v", secret, err)
	}
	if p := b.text(`dl.fields`); !strings.Contains(p, "bot") {
		t.Errorf("the new key: %q", p)
	}
	bot, err := apiclient.New(s.url, secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bot.ListLinks(ctx, apiclient.LinkQuery{}); err != nil {
		t.Errorf("GET /v1/links with the read-only key: %v", err)
	}
	_, err = bot.CreateLink(ctx, apiclient.LinkInput{URL: apiclient.Ptr("https://example.com/no")})
	if e, ok := errors.AsType[*apiclient.Error](err); !ok || e.Status != http.StatusForbidden {
		t.Errorf("POST /v1/links with the read-only key: %v, want a 403", err)
	}
	b.do("the key's page", chromedp.Click(css(`main a[href^="/keys/key_"]`)), chromedp.WaitVisible(css(`h2`)))
	keyPath := strings.TrimPrefix(b.location(), s.url)
	if keyPathRe.FindStringSubmatch(keyPath) == nil {
		t.Fatalf("the key's page is at %s", keyPath)
	}
	for _, visit := range []struct {
		name   string
		action chromedp.Action[chromedp.Void]
	}{
		{"the key's page", chromedp.Sleep(0)},
		{"reloaded", chromedp.Reload()},
		{"the keys list", chromedp.Navigate(s.url + "/keys")},
		{"the key's page again", chromedp.Navigate(s.url + keyPath)},
	} {
		b.do(visit.name, visit.action, chromedp.WaitVisible(css(`h1`)))
		if strings.Contains(b.html(), secret) {
			t.Errorf("%s shows the secret", visit.name)
		}
	}

	b.do("add a domain",
		chromedp.Navigate(s.url+"/domains/new"),
		chromedp.WaitVisible(css(`#name`)),
		chromedp.SendKeys(css(`#name`), "go.example.com"),
		chromedp.Click(css(`form[action="/domains/new"] button[type="submit"]`)),
		chromedp.WaitVisible(css(`table.records`)),
		b.shot("domain"),
	)
	if st := b.text(`.heading .badge`); st != "pending" {
		t.Errorf("the new domain is %q", st)
	}
	records := b.eval(`Array.from(document.querySelectorAll("table.records tbody tr"), r => r.cells[0].textContent + " " + r.cells[1].textContent + " " + r.cells[2].textContent).join("\n")`)
	for _, want := range []string{"TXT _h0p-challenge.go.example.com", "CNAME go.example.com edge.example.net"} {
		if !strings.Contains(records, want) {
			t.Errorf("the records to publish have no %q:\n%s", want, records)
		}
	}

	b.do("the webhooks", chromedp.Navigate(s.url+"/webhooks"), chromedp.WaitVisible(css(`table`)), b.shot("webhooks"))
	if w := b.text(`table`); !strings.Contains(w, "CRM") {
		t.Errorf("the webhooks list: %q", w)
	}
	b.do("the organization page", chromedp.Navigate(s.url+"/org"), chromedp.WaitVisible(css(`table`)), b.shot("org"))

	member := b.incognito()
	member.dir = "" // its pages are the same, with less on them
	member.signIn(s.url, "bob@example.com", "a long password")
	member.do("a member's API keys", chromedp.Navigate(s.url+"/keys"), chromedp.WaitVisible(css(`h1`)))
	if h := member.text(`h1`); h != "API keys" {
		t.Fatalf("a member's /keys: %q", h)
	}
	// A Member has no say over the organization's keys (every one here is
	// another person's or a bot's); the one thing the API lets them do is
	// make a user key of their own, and that is all /keys/new offers.
	if n := member.eval(`String(document.querySelectorAll('form[action$="/rotate"], a[href$="/delete"], main a[href^="/keys/key_"]').length)`); n != "0" {
		t.Errorf("a member's keys page has %s key actions:\n%s", n, member.html())
	}
	member.do("a member's new key", chromedp.Navigate(s.url+"/keys/new"), chromedp.WaitVisible(css(`#type-user`)))
	if n := member.eval(`String(document.querySelectorAll('#type-bot').length)`); n != "0" {
		t.Errorf("a member is offered a bot key:\n%s", member.html())
	}

	session := b.cookie("h0p_session")
	if session == "" {
		t.Fatal("no session cookie")
	}
	b.do("sign out",
		chromedp.Click(css(`form[action="/logout"] button`)),
		chromedp.WaitVisible(css(`#email`)),
		chromedp.Navigate(s.url+"/links"),
		chromedp.WaitVisible(css(`#email`)),
	)
	if u := b.location(); !strings.Contains(u, "/login?next=") {
		t.Errorf("after sign-out, /links is at %s", u)
	}
	// The old cookie, sent again, is a session the server ended.
	old := s.browser(t)
	req, err := http.NewRequest("GET", s.url+"/links", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: "h0p_session", Value: session})
	if p := old.do(req); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/login") {
		t.Errorf("/links with the old session cookie: %d %s", p.status, p.location())
	}
}

// TestBrowserLiveCard: on the link form, the social preview card follows
// what is typed in the destination and the preview fields: an image file
// of the org is loaded from the dashboard, an image elsewhere is shown
// as its URL and never fetched (the page's CSP would refuse it anyway).
func TestBrowserLiveCard(t *testing.T) {
	exe := chromium(t)
	s := mustStart(t, withFiles(t))
	// A gradient, as a card image would have something on it.
	card := image.NewRGBA(image.Rect(0, 0, 240, 126))
	for x := range 240 {
		for y := range 126 {
			card.Set(x, y, color.RGBA{R: uint8(x / 2), G: 87, B: uint8(120 + y), A: 255})
		}
	}
	var img bytes.Buffer
	if err := png.Encode(&img, card); err != nil {
		t.Fatal(err)
	}
	fileID := s.mustUpload(t, "card.png", img.Bytes())
	s.mustPerson(t, "ada@example.com", "member")
	b := mustBrowser(t, exe)
	b.signIn(s.url, "ada@example.com", "a long password")

	b.do("type a preview",
		chromedp.Navigate(s.url+"/links/new"),
		chromedp.WaitVisible(css(`#card-body .card-none`)),
		chromedp.SendKeys(css(`#url`), "https://example.com/summer"),
		chromedp.SendKeys(css(`#preview\.title`), "Summer <sale>"),
		chromedp.SendKeys(css(`#preview\.description`), "Everything half price"),
		chromedp.SendKeys(css(`#preview\.image`), "https://cdn.example.net/card.png"),
		chromedp.WaitVisible(css(`#card-body .card-image a`)),
	)
	if got := b.text(`#card-body figcaption`); !strings.Contains(got, "example.com") || !strings.Contains(got, "Summer <sale>") ||
		!strings.Contains(got, "Everything half price") {
		t.Errorf("the card says %q", got)
	}
	if n := b.eval(`String(document.querySelectorAll("#card-body img").length)`); n != "0" {
		t.Errorf("an image elsewhere is loaded (%s img)", n)
	}
	b.eval(`document.getElementById("preview.image").value = ""`)
	b.do("an image file of the org",
		chromedp.SendKeys(css(`#preview\.image`), fileID),
		chromedp.WaitVisible(css(`#card-body img`)),
	)
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`(() => { const i = document.querySelector("#card-body img"); return i && i.complete && i.naturalWidth > 0; })()`)); err != nil {
		t.Fatalf("the image file does not load: %v", err)
	}
	if src := b.eval(`document.querySelector("#card-body img").getAttribute("src")`); src != "/files/"+fileID+"/image" {
		t.Errorf("the image's src: %q", src)
	}
	// Add a rule: the form comes back from the server with what was
	// typed, its card drawn there, the new rule's URL focused.
	b.do("add a rule",
		chromedp.Click(css(`button[name="rule"][value="add"]`)),
		chromedp.WaitVisible(css(`#rules\[0\]\.url`)),
	)
	if f := b.eval(`document.activeElement.id`); f != "rules[0].url" {
		t.Errorf("after Add a rule, the focus is on %q", f)
	}
	if src := b.eval(`document.querySelector("#card-body img").getAttribute("src")`); src != "/files/"+fileID+"/image" {
		t.Errorf("the server's card: the image's src %q", src)
	}
	b.do("fill the rule",
		chromedp.SendKeys(css(`#rules\[0\]\.url`), "https://example.com/summer/de"),
		chromedp.Click(css(`#rules\[0\]\.device-mobile`)),
		chromedp.SendKeys(css(`#rules\[0\]\.country`), "DE, AT"),
		scrollTo(`fieldset.rules`), b.shot("link-form-rules"),
		scrollTo(`fieldset.rules + fieldset`), b.shot("link-form-card"),
	)
	b.eval(`["preview.title", "preview.description", "preview.image"].forEach(id => document.getElementById(id).value = ""), ""`)
	b.do("empty the preview",
		chromedp.SendKeys(css(`#preview\.title`), "x"+kb.Backspace),
		chromedp.WaitVisible(css(`#card-body .card-none`)),
	)
}
