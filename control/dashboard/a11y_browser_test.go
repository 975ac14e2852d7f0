package dashboard_test

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/shared/dnstest"
)

// axeSource is axe-core 4.10.2 (Deque Systems, MPL-2.0: testdata/axe/LICENSE),
// the accessibility engine the audit runs in each page.
//
//go:embed testdata/axe/axe.min.js
var axeSource string

// axeViolation is one rule axe found broken on a page, with the elements
// that break it.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

// axeAudit runs axe's WCAG 2 A and AA rules in the tab's page (injected
// through DevTools, so the page's Content-Security-Policy stays as it
// is) and answers the violations of impact serious or critical.
func (b *tab) axeAudit() []axeViolation {
	b.t.Helper()
	const run = `(async () => {
		const r = await axe.run(document, {
			runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
			resultTypes: ["violations"],
		});
		return JSON.stringify(r.violations.filter(v => v.impact === "serious" || v.impact === "critical"));
	})()`
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](axeSource+"\n;true")); err != nil {
		b.t.Fatalf("inject axe: %v", err)
	}
	out, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](run, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("run axe: %v", err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		b.t.Fatalf("axe's results: %v", err)
	}
	return vs
}

// prefer makes the tab's pages see prefers-color-scheme: scheme.
func (b *tab) prefer(scheme string) {
	b.t.Helper()
	_, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
	if err != nil {
		b.t.Fatalf("prefer the %s colour scheme: %v", scheme, err)
	}
}

func (v axeViolation) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "%s (%s): %s", v.ID, v.Impact, v.Help)
	for _, n := range v.Nodes {
		fmt.Fprintf(&s, "\n    %v %s", n.Target, n.HTML)
	}
	return s.String()
}

// TestAccessibility audits every main page of the dashboard with axe-core
// in Chromium, in light and dark colour schemes: no WCAG 2 A or AA rule
// of serious or critical impact may be broken.
func TestAccessibility(t *testing.T) {
	exe := chromium(t)
	z := dnstest.Start(t)
	s := mustStart(t, withDNS(z))
	ctx := context.Background()
	s.mustPerson(t, "ada@example.com", "admin")
	owner := s.owner(t)
	l, err := owner.CreateLink(ctx, apiclient.LinkInput{URL: apiclient.Ptr("https://example.com/spring"),
		Title: apiclient.Ptr("Spring sale"), Tags: []string{"spring"},
		Preview: &apiclient.Preview{Title: "Spring sale", Description: "Everything at half price", Image: "https://cdn.example.com/a.png"},
		Rules:   []apiclient.Rule{{URL: "https://example.com/de", Country: []string{"DE"}}}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := owner.AddDomain(ctx, apiclient.DomainInput{Name: apiclient.Ptr("go.example.com")})
	if err != nil {
		t.Fatal(err)
	}

	b := mustBrowser(t, exe)
	pages := []struct{ name, path string }{{"sign-in", ""}}
	b.signIn(s.url, "ada@example.com", "a long password")
	pages = append(pages, []struct{ name, path string }{
		{"links", "/links"},
		{"link", "/links/" + l.ID},
		{"new link form", "/links/new"},
		{"link form", "/links/" + l.ID + "/edit"},
		{"link analytics", "/links/" + l.ID + "/analytics"},
		{"analytics", "/analytics"},
		{"events", "/analytics/events"},
		{"domains", "/domains"},
		{"domain", "/domains/" + d.ID},
		{"keys", "/keys"},
		{"new key", "/keys/new"},
		{"webhooks", "/webhooks"},
		{"new webhook", "/webhooks/new"},
		{"members", "/members"},
		{"audit", "/audit"},
		{"org", "/org"},
	}...)
	for _, scheme := range []string{"light", "dark"} {
		b.prefer(scheme)
		for _, p := range pages {
			if p.path == "" {
				// The sign-in page, as someone signed out sees it.
				in := b.incognito()
				in.prefer(scheme)
				in.do("the sign-in page", chromedp.Navigate(s.url+"/login"), chromedp.WaitVisible(css(`#email`)))
				for _, v := range in.axeAudit() {
					t.Errorf("%s (%s): %s", p.name, scheme, v)
				}
				// The audit finds what it should: an image without a text
				// and a button without a name, added to the page.
				in.eval(`document.querySelector("main").insertAdjacentHTML("beforeend", '<img src="/static/nothing.png"><button type="button"></button>'), ""`)
				var ids []string
				for _, v := range in.axeAudit() {
					ids = append(ids, v.ID)
				}
				if got := strings.Join(ids, " "); !strings.Contains(got, "image-alt") || !strings.Contains(got, "button-name") {
					t.Errorf("axe found %q on a page with an image without alt and a button without name", got)
				}
				continue
			}
			b.do(p.name, chromedp.Navigate(s.url+p.path), chromedp.WaitVisible(css(`h1`)))
			for _, v := range b.axeAudit() {
				t.Errorf("%s (%s): %s", p.name, scheme, v)
			}
		}
		// The link form with the API's errors beside its fields.
		b.do("the link form refused", chromedp.Navigate(s.url+"/links/"+l.ID+"/edit"), chromedp.WaitVisible(css(`#url`)))
		b.eval(`document.getElementById("rules[0].country").value = "XX", document.getElementById("preview.image").value = "ftp://x", ""`)
		b.do("save the link form", chromedp.Click(css(`form.linkform .actions button[type="submit"]`)),
			chromedp.WaitVisible(css(`.field-error`)))
		for _, v := range b.axeAudit() {
			t.Errorf("the link form refused (%s): %s", scheme, v)
		}
	}
}

// focusJS marks the focused element as reached (data-tabbed) and
// describes it: its id, name or tag and text, and " (no focus style)"
// when nothing shows it has the focus (no outline, no box shadow).
const focusJS = `(() => {
	const e = document.activeElement;
	if (!e || e === document.body) return "body";
	e.dataset.tabbed = "1";
	const s = getComputedStyle(e);
	const shown = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0 || s.boxShadow !== "none";
	return (e.id || e.tagName !== "BUTTON" && e.getAttribute("name") || e.tagName.toLowerCase() + " " + e.textContent.trim()) + (shown ? "" : " (no focus style)");
})()`

// tabThrough presses Tab from where the page puts the focus (the
// start, or the field it focuses) until the focus comes back to where it
// began (at most max times), and answers the elements it reached, in
// order.
func (b *tab) tabThrough(max int) []string {
	b.t.Helper()
	var seen []string
	if d := b.eval(focusJS); d != "body" {
		// Focused by the page, not by Tab: its style is checked when Tab
		// comes back to it.
		seen = append(seen, strings.TrimSuffix(d, " (no focus style)"))
	}
	for range max {
		b.do("press Tab", chromedp.KeyEvent(kb.Tab))
		d := b.eval(focusJS)
		if len(seen) > 0 && (strings.TrimSuffix(d, " (no focus style)") == seen[0] || d == "body") {
			if d != "body" {
				seen[0] = d // its style, now that Tab reached it
			}
			break
		}
		seen = append(seen, d)
	}
	return seen
}

// TestKeyboard: on the sign-in page, Tab reaches the email, the password
// and the submit button in that order; on the link form, Tab reaches
// every control, and each shows that it has the focus.
func TestKeyboard(t *testing.T) {
	exe := chromium(t)
	s := mustStart(t)
	ctx := context.Background()
	s.mustPerson(t, "ada@example.com", "admin")
	l, err := s.owner(t).CreateLink(ctx, apiclient.LinkInput{URL: apiclient.Ptr("https://example.com/spring"),
		Rules: []apiclient.Rule{{URL: "https://example.com/de", Country: []string{"DE"}}, {URL: "https://example.com/m", Device: []string{"mobile"}}}})
	if err != nil {
		t.Fatal(err)
	}

	b := mustBrowser(t, exe)
	b.do("the sign-in page", chromedp.Navigate(s.url+"/login"), chromedp.WaitVisible(css(`#email`)))
	got := strings.Join(b.tabThrough(20), " → ")
	if !strings.Contains(got, "email → password → button Sign in") {
		t.Errorf("Tab on the sign-in page: %s", got)
	}
	if strings.Contains(got, "no focus style") {
		t.Errorf("Tab on the sign-in page reaches an element that does not show its focus: %s", got)
	}

	b.signIn(s.url, "ada@example.com", "a long password")
	for _, path := range []string{"/links/new", "/links/" + l.ID + "/edit"} {
		b.do(path, chromedp.Navigate(s.url+path), chromedp.WaitVisible(css(`#url`)))
		reached := b.tabThrough(300)
		for _, d := range reached {
			if strings.HasSuffix(d, "(no focus style)") {
				t.Errorf("%s: %s", path, d)
			}
		}
		missed := b.eval(`Array.from(document.querySelectorAll("form.linkform :is(input:not([type=hidden]), select, textarea, button, a[href])"))
			.filter(e => e.offsetParent !== null && !e.dataset.tabbed).map(e => e.id || e.getAttribute("name") || e.outerHTML).join("\n")`)
		if missed != "" {
			t.Errorf("%s: Tab does not reach:\n%s\n(it reaches %s)", path, missed, strings.Join(reached, " → "))
		}
	}

	// Enter in a field saves the link, though rule buttons come before
	// the visible Save.
	b.do("press Enter in the URL field",
		chromedp.Navigate(s.url+"/links/"+l.ID+"/edit"),
		chromedp.WaitVisible(css(`#url`)),
		chromedp.SetValue(css(`#url`), "https://example.com/summer"),
		chromedp.Focus(css(`#url`)),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(css(`.flash`)),
	)
	if got, err := s.owner(t).GetLink(ctx, l.ID); err != nil || got.URL != "https://example.com/summer" || len(got.Rules) != 2 {
		t.Errorf("after Enter: %+v %v", got, err)
	}
}
