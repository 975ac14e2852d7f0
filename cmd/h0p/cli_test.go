package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/shared/apierror"
)

// cliEnv runs the CLI against one h0p dev.
type cliEnv struct {
	t   *testing.T
	env map[string]string
}

// run runs h0p args in process and answers its stdout, stderr and exit
// status.
func (e cliEnv) run(args ...string) (string, string, int) {
	e.t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr, func(k string) string { return e.env[k] })
	return stdout.String(), stderr.String(), code
}

// must runs h0p args and fails the test unless it exits 0.
func (e cliEnv) must(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("h0p %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// mustJSON runs h0p args --json and decodes what it prints into v.
func (e cliEnv) mustJSON(v any, args ...string) {
	e.t.Helper()
	out := e.must(append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		e.t.Fatalf("h0p %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// runProcess runs the test binary as h0p with args (split on blanks) and
// env added to this process's environment.
func runProcess(t *testing.T, args string, env ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), "H0P_TEST_AS_MAIN=1", "H0P_TEST_ARGS="+args), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// fieldOf is the value of key in the key: value lines of out.
func fieldOf(out, key string) string {
	for line := range strings.Lines(out) {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestCLIRoundTrip(t *testing.T) {
	cfg := devConfig{APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0",
		DataDir: t.TempDir(), DefaultDomain: "localhost", RateLimits: ratelimit.Limits{PerSecond: 1000, PerMinute: 100_000}}
	d := mustStartDevWith(t, cfg, quiet)
	defer d.stop(t)
	e := cliEnv{t, map[string]string{"H0P_API_KEY": keyLine.FindStringSubmatch(d.stdout)[1],
		"H0P_API_URL": "http://" + d.control.Addr()}}

	// create → get, by ID and by domain and key.
	out := e.must("links", "create", "--url", "https://example.com/docs", "--key", "docs", "--tag", "guide,docs",
		"--expires-at", "2030-01-01", "--title", "Docs")
	id := fieldOf(out, "id")
	if !strings.HasPrefix(id, "link_") || fieldOf(out, "url") != "https://example.com/docs" ||
		fieldOf(out, "tags") != "guide, docs" || fieldOf(out, "expiresAt") != "2030-01-01T00:00:00Z" {
		t.Fatalf("create printed:\n%s", out)
	}
	shortLink := fieldOf(out, "shortLink")
	if out := e.must("links", "get", id); fieldOf(out, "shortLink") != shortLink || fieldOf(out, "title") != "Docs" {
		t.Errorf("get printed:\n%s", out)
	}
	var byKey apiclient.Link
	e.mustJSON(&byKey, "links", "get", "--domain", "localhost", "--key", "docs")
	if byKey.ID != id || byKey.ShortLink != shortLink {
		t.Errorf("get by key: %+v", byKey)
	}
	e.must("links", "create", "--url", "https://example.com/blog")

	// list: a table, the API's page as JSON, pages and --all.
	out = e.must("links", "list")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") ||
		!strings.Contains(out, shortLink) || !strings.Contains(out, "https://example.com/blog") {
		t.Errorf("list printed:\n%s", out)
	}
	var page map[string]json.RawMessage
	e.mustJSON(&page, "links", "list", "--limit", "1")
	if string(page["nextCursor"]) == "null" || !strings.HasPrefix(string(page["data"]), "[") {
		t.Errorf("list --limit 1 --json: %s", page)
	}
	if out := e.must("links", "list", "--limit", "1"); !strings.Contains(out, "(more: --cursor ") {
		t.Errorf("list --limit 1 printed no hint:\n%s", out)
	}
	var everything apiclient.Page[apiclient.Link]
	e.mustJSON(&everything, "links", "list", "--limit", "1", "--all")
	if len(everything.Data) != 2 || everything.NextCursor != "" {
		t.Errorf("list --all: %d links, cursor %q", len(everything.Data), everything.NextCursor)
	}
	var searched apiclient.Page[apiclient.Link]
	e.mustJSON(&searched, "links", "list", "--search", "blog")
	if len(searched.Data) != 1 || searched.Data[0].URL != "https://example.com/blog" {
		t.Errorf("list --search blog: %+v", searched.Data)
	}

	// update changes what it is given; "" clears.
	out = e.must("links", "update", id, "--url", "https://example.com/docs/v2", "--expires-at", "", "--tag", "")
	if fieldOf(out, "url") != "https://example.com/docs/v2" || fieldOf(out, "expiresAt") != "" ||
		fieldOf(out, "tags") != "" || fieldOf(out, "title") != "Docs" {
		t.Errorf("update printed:\n%s", out)
	}

	// stats: a click on the edge, counted.
	req, _ := http.NewRequest("GET", "http://"+d.edge.Addr()+"/docs", nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, func() bool {
		var count struct{ Clicks int64 }
		e.mustJSON(&count, "stats", "--link-id", id)
		return count.Clicks == 1
	})
	if out := e.must("stats", "--unique"); fieldOf(out, "clicks") != "1" || fieldOf(out, "visitors") != "1" {
		t.Errorf("stats printed:\n%s", out)
	}
	out = e.must("stats", "--group-by", "top_links", "--interval", "7d")
	if !strings.Contains(out, id) || !strings.Contains(out, "localhost/docs") {
		t.Errorf("stats --group-by top_links printed:\n%s", out)
	}
	if out := e.must("stats", "--group-by", "browsers", "--key", "docs"); !strings.Contains(out, "Firefox") {
		t.Errorf("stats --group-by browsers printed:\n%s", out)
	}

	// domains: add, list, get and delete by name.
	out = e.must("domains", "add", "go.example.com")
	if fieldOf(out, "status") != "pending" || !strings.Contains(out, "_h0p-challenge.go.example.com") {
		t.Errorf("domains add printed:\n%s", out)
	}
	if out := e.must("domains", "list"); !strings.Contains(out, "go.example.com") || !strings.Contains(out, "pending") {
		t.Errorf("domains list printed:\n%s", out)
	}
	var dom apiclient.Domain
	e.mustJSON(&dom, "domains", "get", "go.example.com")
	if dom.Name != "go.example.com" || !strings.HasPrefix(dom.ID, "dom_") {
		t.Errorf("domains get: %+v", dom)
	}
	e.must("domains", "delete", dom.ID)
	var doms apiclient.Page[apiclient.Domain]
	if e.mustJSON(&doms, "domains", "list"); len(doms.Data) != 0 {
		t.Errorf("domains after delete: %+v", doms.Data)
	}

	// delete of several goes on past a failure, tells each, and fails.
	var a, b apiclient.Link
	e.mustJSON(&a, "links", "create", "--url", "https://example.com/a")
	e.mustJSON(&b, "links", "create", "--url", "https://example.com/b")
	out, errOut, code := e.run("links", "delete", a.ID, "link_nope", b.ID)
	if code != 1 || out != "deleted "+a.ID+"\ndeleted "+b.ID+"\n" ||
		!regexp.MustCompile(`^h0p: links delete link_nope: NOT_FOUND: .*\nh0p: links delete: deleted 2 of 3 links\n$`).MatchString(errOut) {
		t.Errorf("delete of 3, one missing: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// delete, then the link is gone: one line, exit 1.
	if out := e.must("links", "delete", id); out != "deleted "+id+"\n" {
		t.Errorf("delete printed %q", out)
	}
	_, errOut, code = e.run("links", "get", id)
	if code != 1 || !regexp.MustCompile(`^h0p: NOT_FOUND: link not found \(request req_\w+\)\n$`).MatchString(errOut) {
		t.Errorf("get deleted link: exit %d, stderr %q", code, errOut)
	}

	// As a real process: errors are one line on stderr and the exit status
	// says whose they are.
	env := []string{"H0P_API_URL=" + e.env["H0P_API_URL"], "H0P_API_KEY=" + e.env["H0P_API_KEY"]}
	tests := []struct {
		name   string
		args   string
		env    []string
		code   int
		stderr string // a regexp of the last line
		lines  int    // lines on stderr; 0: any
	}{
		{"bad url", "links create --url ftp://example.com", env, 1,
			`^h0p: VALIDATION_ERROR: url: must be an absolute http or https URL \(request req_\w+\)$`, 1},
		{"wrong key", "links list", append(env, "H0P_API_KEY=h0p_u_000000000000000000000000000000000000"), 1,
			`^h0p: UNAUTHORIZED: .* \(request req_\w+\)$`, 1},
		{"bad stats query", "stats --group-by planets", env, 1, `^h0p: VALIDATION_ERROR: groupBy: unknown grouping "planets"`, 1},
		{"no key", "links list", append(env, "H0P_API_KEY="), 2, `^h0p: H0P_API_KEY is not set`, 1},
		{"missing --url", "links create --key x", env, 2, `^h0p: links create: --url is required$`, 1},
		{"unknown subcommand", "links frob", env, 2, `^h0p: unknown links command "frob"$`, 0},
		{"unknown flag", "links list --frob", env, 2, `^h0p: flag provided but not defined: -frob$`, 0},
		{"no subcommand", "domains", env, 2, `^h0p: domains: name a command$`, 0},
		{"nothing to update", "links update " + id, env, 2, `^h0p: links update: nothing to change`, 1},
		{"bad time", "links create --url https://example.com --expires-at soon", env, 2, `^h0p: --expires-at "soon": want`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runProcess(t, tt.args, tt.env...)
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			if code != tt.code || out != "" || (tt.lines > 0 && len(lines) != tt.lines) ||
				!regexp.MustCompile(tt.stderr).MatchString(lines[len(lines)-1]) {
				t.Errorf("h0p %s: exit %d (want %d), stdout %q, stderr:\n%s", tt.args, code, tt.code, out, errOut)
			}
		})
	}
	out, _, code = runProcess(t, "links list --json", env...)
	if code != 0 || !strings.Contains(out, `"nextCursor": null`) {
		t.Errorf("links list --json as a process: exit %d, %s", code, out)
	}
}

// At the product's limits, commands in a row wait out the 429s rather
// than fail; domains get by name makes two calls.
func TestCLIWaitsOutRateLimits(t *testing.T) {
	cfg := devConfig{APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0",
		DataDir: t.TempDir(), DefaultDomain: "localhost", RateLimits: ratelimit.Limits{PerSecond: 2, PerMinute: 100}}
	d := mustStartDevWith(t, cfg, quiet)
	defer d.stop(t)
	e := cliEnv{t, map[string]string{"H0P_API_KEY": keyLine.FindStringSubmatch(d.stdout)[1],
		"H0P_API_URL": "http://" + d.control.Addr()}}
	e.must("domains", "add", "go.example.com")
	for range 3 {
		e.must("domains", "get", "go.example.com")
	}
	e.must("domains", "delete", "go.example.com")
}

func TestCLIHelp(t *testing.T) {
	e := cliEnv{t, map[string]string{}}
	for _, args := range [][]string{{"help"}, {"links", "--help"}, {"links", "create", "--help"}, {"stats", "-h"},
		{"domains", "help"}, {"domains", "add", "--help"}} {
		out, errOut, code := e.run(args...)
		if code != 0 || !strings.Contains(out, "Usage") || errOut != "" {
			t.Errorf("h0p %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errOut)
		}
	}
	if out, _, _ := e.run("links", "create", "--help"); !strings.Contains(out, "--expires-at") || !strings.Contains(out, "H0P_API_KEY") {
		t.Errorf("links create --help:\n%s", out)
	}
}

func TestCLIErrorLine(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&apiclient.Error{Status: 400, Code: apierror.ValidationError, Message: "url: must be an absolute http or https URL",
			Details: []apierror.Detail{{Field: "url", Reason: "must be an absolute http or https URL"}}, RequestID: "req_1"},
			"VALIDATION_ERROR: url: must be an absolute http or https URL (request req_1)"},
		{&apiclient.Error{Status: 403, Code: apierror.PlanLimitReached, Message: "the free plan keeps 30 days of clicks",
			Details: []apierror.Detail{{Field: "start", Reason: "beyond the 30-day retention"}}, RequestID: "req_2"},
			"PLAN_LIMIT_REACHED: the free plan keeps 30 days of clicks (start: beyond the 30-day retention) (request req_2)"},
		{&apiclient.Error{Status: 502, Code: apierror.Internal, Message: "Bad Gateway"}, "INTERNAL: Bad Gateway"},
		{errors.New("apiclient: GET /v1/links: connection refused"), "apiclient: GET /v1/links: connection refused"},
	}
	for _, tt := range tests {
		if got := errorLine(tt.err); got != tt.want {
			t.Errorf("errorLine(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// retryServer answers 429 with Retry-After until it has been asked
// limited times, then 200, counting the requests.
type retryServer struct {
	*httptest.Server
	requests atomic.Int32
}

func mustStartRetryServer(t *testing.T, retryAfter string, limited int32) *retryServer {
	t.Helper()
	s := &retryServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.requests.Add(1) > limited {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"data":[],"nextCursor":null}`)
			return
		}
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":{"code":"RATE_LIMITED","message":"rate limit exceeded","requestId":"req_1"}}`)
	}))
	t.Cleanup(s.Close)
	return s
}

// The CLI waits out a short Retry-After, at most maxRetries times, and
// gives up at once on a long one, saying how long.
func TestCLIRetries(t *testing.T) {
	for _, tc := range []struct {
		name       string
		retryAfter string
		limited    int32
		status     int
		waits      []time.Duration
	}{
		{"short waits", "2", 2, 200, []time.Duration{2 * time.Second, 2 * time.Second}},
		{"no Retry-After", "", 1, 200, []time.Duration{time.Second}},
		{"too many", "1", 100, 429, slices.Repeat([]time.Duration{time.Second}, maxRetries)},
		{"too long to wait", "120", 1, 429, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := mustStartRetryServer(t, tc.retryAfter, tc.limited)
			var waits []time.Duration
			rt := patientTransport{next: http.DefaultTransport, sleep: func(_ context.Context, d time.Duration) error {
				waits = append(waits, d)
				return nil
			}}
			req, _ := http.NewRequest("GET", srv.URL+"/v1/links", nil)
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status || !slices.Equal(waits, tc.waits) {
				t.Errorf("status %d, waits %v; want %d, %v", resp.StatusCode, waits, tc.status, tc.waits)
			}
		})
	}

	srv := mustStartRetryServer(t, "120", 1)
	e := cliEnv{t, map[string]string{"H0P_API_KEY": "h0p_b_x", "H0P_API_URL": srv.URL}}
	_, errOut, code := e.run("links", "list")
	if code != 1 || errOut != "h0p: RATE_LIMITED: rate limit exceeded (retry in 120 s) (request req_1)\n" || srv.requests.Load() != 1 {
		t.Errorf("a 429 asking for 120 s: exit %d, stderr %q, %d requests", code, errOut, srv.requests.Load())
	}
}

// The CLI follows no redirect: the key never reaches another host.
func TestCLIRefusesRedirects(t *testing.T) {
	var got atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		t.Errorf("redirect followed: %s with x-api-key %q", r.URL, r.Header.Get("x-api-key"))
	}))
	defer elsewhere.Close()
	redirector := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/v1/links/link_1", http.StatusFound))
	defer redirector.Close()
	e := cliEnv{t, map[string]string{"H0P_API_KEY": "h0p_b_secret", "H0P_API_URL": redirector.URL}}
	_, errOut, code := e.run("links", "get", "link_1")
	if code != 1 || !strings.Contains(errOut, "redirect to "+elsewhere.URL) || got.Load() != 0 {
		t.Errorf("a redirect: exit %d, stderr %q", code, errOut)
	}
}
