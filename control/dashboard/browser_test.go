package dashboard_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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

// TestBrowserSignInCreateFindSignOut drives the dashboard with headless
// Chromium as a person would: sign in, create a link with tags, find it
// by search, open it, sign out. With H0P_SCREENSHOTS set, it writes PNG
// screenshots of the pages it sees there.
func TestBrowserSignInCreateFindSignOut(t *testing.T) {
	exe := chromium(t)
	s := mustStart(t)
	s.mustPerson(t, "ada@example.com", "admin")

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1280, 900))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	defer cancelBrowser()

	dir := os.Getenv("H0P_SCREENSHOTS")
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if dir == "" {
				return nil
			}
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
		})
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("the text of %s: %v", sel, err)
		}
		return strings.TrimSpace(v)
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }

	do("sign in",
		chromedp.Navigate(s.url+"/links"),
		chromedp.WaitVisible(css(`#email`)),
		shot("login"),
		chromedp.SendKeys(css(`#email`), "ada@example.com"),
		chromedp.SendKeys(css(`#password`), "a long password"),
		chromedp.Click(css(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(css(`a[href="/links/new"]`)),
	)
	if h := text(`h1`); h != "Links" {
		t.Fatalf("after sign-in: %q", h)
	}
	do("create a link with tags",
		chromedp.Click(css(`a[href="/links/new"]`)),
		chromedp.WaitVisible(css(`#url`)),
		chromedp.SendKeys(css(`#url`), "https://example.com/spring-sale"),
		chromedp.SendKeys(css(`#tags`), "spring, news"),
		chromedp.SendKeys(css(`#title`), "Spring sale"),
		shot("link-new"),
		chromedp.Click(css(`form.linkform button[type="submit"]`)),
		chromedp.WaitVisible(css(`.flash`)),
		shot("link"),
	)
	if f := text(`.flash`); f != "Link created." {
		t.Errorf("after create: flash %q", f)
	}
	do("find it by search",
		chromedp.Navigate(s.url+"/links"),
		chromedp.WaitVisible(css(`#q`)),
		chromedp.SendKeys(css(`#q`), "spring"),
		chromedp.Click(css(`form.filters button[type="submit"]`)),
		// Wait for what only the results have (their Clear link): the
		// page before has a table too, which goes away.
		chromedp.WaitVisible(css(`form.filters a[href="/links"]`)),
		shot("links"),
	)
	if n := eval(`String(document.querySelectorAll("table.links tbody tr").length)`); n != "1" {
		t.Errorf("search: %s rows, want 1", n)
	}
	// app.js ran (the CSP lets the site's own script in): times show in
	// the browser's timezone, their UTC text kept as a title.
	if tz := eval(`document.querySelector("table.links time").title`); !strings.HasSuffix(tz, "UTC") {
		t.Errorf("the time's title %q: app.js did not run", tz)
	}
	do("open it",
		chromedp.Click(css(`table.links tbody tr td a`)),
		chromedp.WaitVisible(css(`dl.fields`)),
	)
	if d := text(`dl.fields`); !strings.Contains(d, "https://example.com/spring-sale") || !strings.Contains(d, "news") {
		t.Errorf("the link's page: %q", d)
	}
	do("the organization page", chromedp.Navigate(s.url+"/org"), chromedp.WaitVisible(css(`table`)), shot("org"))
	do("sign out",
		chromedp.Click(css(`form[action="/logout"] button`)),
		chromedp.WaitVisible(css(`#email`)),
		chromedp.Navigate(s.url+"/links"),
		chromedp.WaitVisible(css(`#email`)),
	)
	if u, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.Contains(u, "/login?next=") {
		t.Errorf("after sign-out, /links is at %s (%v)", u, err)
	}
}
