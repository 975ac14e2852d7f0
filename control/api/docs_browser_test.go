package api_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/h0p/h0p/control/openapi"
)

// mustBrowser starts a headless Chromium for the test, or skips it when
// there is none and H0P_REQUIRE_CHROMIUM is not 1 (CI sets it).
func mustBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("H0P_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("H0P_REQUIRE_CHROMIUM=1 and no chromium: %v", err)
		}
		t.Skip("no chromium binary (apt-get install chromium); H0P_REQUIRE_CHROMIUM=1 makes this a failure")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-background-networking", true))
	ctx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 20*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelBrowser() // closes the tab and the browser
		cancelAlloc()   // waits for the process and removes its profile
	})
	return ctx
}

// pageWatch records what a page does that the test forbids: console
// errors (CSP violations and failed loads included), uncaught exceptions,
// and every request the page sends.
type pageWatch struct {
	mu       sync.Mutex
	errors   []string
	requests []string
}

func (w *pageWatch) listen(t *testing.T, ctx context.Context) {
	err := chromedp.Listen(ctx, func(ev any) {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				w.errors = append(w.errors, "console."+string(ev.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			w.errors = append(w.errors, "exception: "+msg)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				w.errors = append(w.errors, fmt.Sprintf("log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		case *network.EventRequestWillBeSent:
			w.requests = append(w.requests, ev.Request.URL)
		}
	})
	if err != nil {
		t.Fatalf("listen to the page: %v", err)
	}
}

// TestDocsPageInBrowser loads /docs in a real browser, from the real
// router serving the real document: every operation is shown under its
// first tag, an opened one renders its parameters and response schema,
// and the page logs no error and sends no request off its origin.
func TestDocsPageInBrowser(t *testing.T) {
	ctx := mustBrowser(t)
	e := mustStart(t)
	d, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}

	// What the page must show: operationIds by their first tag, and
	// summaries by operationId.
	want := map[string][]string{}
	summaries := map[string]string{}
	for _, item := range d.Tree()["paths"].(map[string]any) {
		for _, m := range openapi.Methods {
			op, ok := item.(map[string]any)[m].(map[string]any)
			if !ok {
				continue
			}
			id := op["operationId"].(string)
			tag := op["tags"].([]any)[0].(string)
			want[tag] = append(want[tag], id)
			summaries[id], _ = op["summary"].(string)
		}
	}
	if len(want["webhooks"]) == 0 || summaries["createLink"] == "" {
		t.Fatalf("the document has no webhooks operation or no createLink: %v", want)
	}

	var w pageWatch
	w.listen(t, ctx)
	start := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			w.mu.Lock()
			defer w.mu.Unlock()
			t.Fatalf("browsing /docs: %v (the page logged %v)", err, w.errors)
		}
	}
	mustText := func(a chromedp.Action[string]) string {
		t.Helper()
		s, err := chromedp.Run(ctx, a)
		must(err)
		return s
	}
	must(chromedp.Do(ctx, chromedp.Navigate(e.url+"/docs"), chromedp.WaitVisible(chromedp.ID("createLink"))))
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[map[string][]string](`Object.fromEntries(
		[...document.querySelectorAll("section.tag")].map((s) =>
			[s.querySelector("h2").textContent, [...s.querySelectorAll(":scope > details.op")].map((d) => d.id)]))`))
	must(err)
	linkSummary := mustText(chromedp.TextContent(chromedp.CSS(`#createLink > summary .summary`)))
	whSummary := mustText(chromedp.TextContent(chromedp.CSS(`#createWebhook > summary .summary`)))
	// Open an operation, then its 200 answer.
	must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#getLink > summary`)),
		chromedp.WaitVisible(chromedp.CSS(`#getLink table.params`))))
	params := mustText(chromedp.Text(chromedp.CSS(`#getLink table.params`)))
	must(chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#getLink details.response.s2 > summary`)),
		chromedp.WaitVisible(chromedp.CSS(`#getLink details.response.s2 table.props`))))
	schema := mustText(chromedp.Text(chromedp.CSS(`#getLink details.response.s2`)))
	t.Logf("rendered and browsed in %v", time.Since(start).Round(time.Millisecond))

	for tag, ids := range want {
		got := slices.Sorted(slices.Values(shown[tag]))
		if slices.Sort(ids); !slices.Equal(got, ids) {
			t.Errorf("tag %s shows %v, want %v", tag, got, ids)
		}
	}
	for tag := range shown {
		if _, ok := want[tag]; !ok {
			t.Errorf("the page shows tag %s, which no operation has", tag)
		}
	}
	if linkSummary != summaries["createLink"] || whSummary != summaries["createWebhook"] {
		t.Errorf("summaries %q, %q; want %q, %q", linkSummary, whSummary, summaries["createLink"], summaries["createWebhook"])
	}
	for _, s := range []string{"id", "path"} {
		if !strings.Contains(params, s) {
			t.Errorf("getLink's parameters show no %q: %q", s, params)
		}
	}
	for _, s := range []string{"Link", "shortLink", "createdAt", "required"} {
		if !strings.Contains(schema, s) {
			t.Errorf("getLink's 200 answer shows no %q: %q", s, schema)
		}
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	for _, msg := range w.errors {
		t.Errorf("the page logged an error: %s", msg)
	}
	origin, _ := url.Parse(e.url)
	fetchedDoc := false
	for _, raw := range w.requests {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != origin.Scheme || u.Host != origin.Host {
			t.Errorf("the page sent a request off its origin: %s", raw)
		}
		fetchedDoc = fetchedDoc || err == nil && u.Path == "/v1/openapi.json"
	}
	if !fetchedDoc {
		t.Errorf("the page never fetched the document; it sent %v", w.requests)
	}
}
