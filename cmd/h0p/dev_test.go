package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h0p/h0p/control/store/pgtest"
	"github.com/h0p/h0p/shared/clicks"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type runningDev struct {
	*dev
	stdout string
	cancel context.CancelFunc
	done   chan error
}

// mustStartDev starts `h0p dev` in-process on 127.0.0.1:0 ports.
func mustStartDev(t *testing.T, dataDir string, slugs ...slugFlags) *runningDev {
	t.Helper()
	cfg := devConfig{
		APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0",
		DataDir: dataDir, DefaultDomain: "localhost",
	}
	if len(slugs) > 0 {
		cfg.Slugs = slugs[0]
	}
	return mustStartDevWith(t, cfg, quiet)
}

// mustStartDevWith starts `h0p dev` with cfg, logging to logger.
func mustStartDevWith(t *testing.T, cfg devConfig, logger *slog.Logger) *runningDev {
	t.Helper()
	var stdout bytes.Buffer
	d, err := openDev(context.Background(), cfg, logger, &stdout)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningDev{dev: d, stdout: stdout.String(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.run(ctx) }()
	return r
}

func (r *runningDev) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("dev did not stop")
	}
	if err := r.close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

func (r *runningDev) api(t *testing.T, method, path, key, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+r.control.Addr()+path, strings.NewReader(body))
	req.Header.Set("x-api-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func get(t *testing.T, client *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

var keyLine = regexp.MustCompile(`^H0P_API_KEY=(h0p_u_[0-9A-Za-z]{36})\n$`)

// The newcomer's tour, end to end: bootstrap key, create a link over HTTP,
// follow its redirect on the edge to a real destination, delete it, and find
// everything as it was after a restart.
func TestDevEndToEnd(t *testing.T) {
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "landed on "+r.URL.RequestURI())
	}))
	defer dest.Close()
	dataDir := t.TempDir()

	d := mustStartDev(t, dataDir)
	m := keyLine.FindStringSubmatch(d.stdout)
	if m == nil {
		t.Fatalf("stdout %q: want one H0P_API_KEY line", d.stdout)
	}
	key := m[1]
	fileKey, err := os.ReadFile(filepath.Join(dataDir, "bootstrap.key"))
	if err != nil || strings.TrimSpace(string(fileKey)) != key {
		t.Fatalf("bootstrap.key: %q %v", fileKey, err)
	}
	if fi, _ := os.Stat(filepath.Join(dataDir, "bootstrap.key")); fi.Mode().Perm() != 0o600 {
		t.Errorf("bootstrap.key mode %v", fi.Mode().Perm())
	}

	status, link := d.api(t, "POST", "/v1/links", key, `{"url":"`+dest.URL+`/a?b=1"}`)
	if status != 201 {
		t.Fatalf("create: %d %v", status, link)
	}
	slug, id := link["key"].(string), link["id"].(string)
	edgeURL := "http://" + d.edge.Addr()
	if link["shortLink"] != "http://localhost:"+d.edge.Addr()[strings.LastIndex(d.edge.Addr(), ":")+1:]+"/"+slug {
		t.Errorf("shortLink %v", link["shortLink"])
	}
	// Follow the redirect to the destination (Host 127.0.0.1 falls back to
	// the default domain).
	resp, body := get(t, http.DefaultClient, edgeURL+"/"+slug)
	if resp.StatusCode != 200 || body != "landed on /a?b=1" {
		t.Fatalf("following %s: %d %q", slug, resp.StatusCode, body)
	}
	resp, _ = get(t, noRedirect, edgeURL+"/"+slug)
	if resp.StatusCode != 302 || resp.Header.Get("Location") != dest.URL+"/a?b=1" {
		t.Errorf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := get(t, noRedirect, edgeURL+"/no-such-link"); resp.StatusCode != 404 || !strings.Contains(body, "<html") {
		t.Errorf("unknown slug: %d %q", resp.StatusCode, body)
	}
	if status, got := d.api(t, "GET", "/v1/links/"+id, key, ""); status != 200 || got["url"] != dest.URL+"/a?b=1" {
		t.Errorf("get link: %d %v", status, got)
	}

	// Admin endpoints.
	admin := "http://" + d.admin.Addr()
	for _, p := range []string{"/healthz", "/readyz"} {
		if resp, body := get(t, http.DefaultClient, admin+p); resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	_, metrics := get(t, http.DefaultClient, admin+"/metrics")
	for _, name := range []string{"h0p_edge_requests_total", "h0p_edge_link_cache_lookups_total", "h0p_edge_click_queue_depth", "h0p_edge_clicks_dropped_total", "h0p_api_requests_total", "h0p_raft_applied_index", "go_goroutines"} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	// A second link, deleted; then restart.
	_, gone := d.api(t, "POST", "/v1/links", key, `{"url":"https://example.com/gone","key":"gone"}`)
	if status, _ := d.api(t, "DELETE", "/v1/links/"+gone["id"].(string), key, ""); status != 200 {
		t.Fatalf("delete: %d", status)
	}
	if resp, _ := get(t, noRedirect, edgeURL+"/gone"); resp.StatusCode != 404 {
		t.Errorf("deleted link: %d, want 404", resp.StatusCode)
	}
	d.stop(t)

	d = mustStartDev(t, dataDir)
	defer d.stop(t)
	if d.stdout != "" {
		t.Errorf("restart printed %q; want no new key", d.stdout)
	}
	edgeURL = "http://" + d.edge.Addr()
	if resp, _ := get(t, noRedirect, edgeURL+"/"+slug); resp.StatusCode != 302 || resp.Header.Get("Location") != dest.URL+"/a?b=1" {
		t.Errorf("after restart: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := get(t, noRedirect, edgeURL+"/gone"); resp.StatusCode != 404 {
		t.Errorf("deleted link after restart: %d", resp.StatusCode)
	}
	if status, _ := d.api(t, "GET", "/v1/links/"+id, key, ""); status != 200 {
		t.Errorf("old key after restart: %d", status)
	}
}

func TestDevHelpDocumentsFlags(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"dev", "--help"}, &out, &out, func(string) string { return "" }); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"--api-addr", "--edge-addr", "--admin-addr", "--data", "--default-domain", "H0P_DATA",
		"/metrics", "/healthz", "/readyz", "/status", "/debug/pprof/", "--pprof", "--smtp-url", "--database-url",
		"--public-api-url (H0P_PUBLIC_API_URL)", "http://<domain>:<port of --edge-addr>/<key>", "qrCode",
		"--click-spool-mib (H0P_CLICK_SPOOL_MIB)"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("help lacks %s:\n%s", f, out.String())
		}
	}
}

// h0p admin --help prints the admin commands and succeeds.
func TestAdminHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "help"} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"admin", arg}, &out, &errOut, func(string) string { return "" })
		if code != 0 || !strings.Contains(out.String(), "h0p admin create-org") || errOut.Len() != 0 {
			t.Errorf("admin %s: exit %d, stdout %q, stderr %q", arg, code, out.String(), errOut.String())
		}
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	fs := newFlags("x", "", io.Discard)
	a := fs.String("api-addr", "default", "")
	b := fs.String("data", "default", "")
	env := map[string]string{"H0P_API_ADDR": "from-env", "H0P_DATA": "from-env"}
	if err := parseFlags(fs, []string{"--data", "from-flag"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if *a != "from-env" || *b != "from-flag" {
		t.Errorf("api-addr %q data %q", *a, *b)
	}
	// A secret from a file: H0P_X_FILE, when H0P_X is not set.
	secret := filepath.Join(t.TempDir(), "smtp-url")
	os.WriteFile(secret, []byte("smtp://u:p@mail.example.com\n"), 0o600)
	fs = newFlags("x", "", io.Discard)
	smtp := fs.String("smtp-url", "", "")
	env = map[string]string{"H0P_SMTP_URL_FILE": secret}
	if err := parseFlags(fs, nil, func(k string) string { return env[k] }); err != nil || *smtp != "smtp://u:p@mail.example.com" {
		t.Errorf("smtp-url from a file: %q %v", *smtp, err)
	}
	env["H0P_SMTP_URL_FILE"] = filepath.Join(t.TempDir(), "missing")
	if err := parseFlags(newFlags("x", "", io.Discard), nil, func(k string) string { return env[k] }); err != nil {
		t.Errorf("a _FILE of a flag that does not exist is not read: %v", err)
	}
}

// An install that starts from nothing: h0p admin create-org makes an org
// and an Owner key, and set-password lets the Owner log in; h0p dev on the
// same data directory serves both.
func TestAdminCreateOrgAndSetPassword(t *testing.T) {
	dataDir := t.TempDir()
	var out, errOut bytes.Buffer
	env := func(k string) string {
		if k == "H0P_PASSWORD" {
			return "a long enough password"
		}
		return ""
	}
	if code := run(context.Background(), []string{"admin", "create-org", "--data", dataDir, "--name", "Acme", "--owner-email", "boss@acme.example"}, &out, &errOut, env); code != 0 {
		t.Fatalf("create-org: %d %s", code, errOut.String())
	}
	m := keyLine.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("stdout %q", out.String())
	}
	if code := run(context.Background(), []string{"admin", "set-password", "--data", dataDir, "--email", "boss@acme.example"}, &out, &errOut, env); code != 0 {
		t.Fatalf("set-password: %d %s", code, errOut.String())
	}
	d := mustStartDev(t, dataDir)
	defer d.stop(t)
	if status, org := d.api(t, "GET", "/v1/org", m[1], ""); status != 200 || org["name"] != "Acme" {
		t.Errorf("org with the admin-made key: %d %v", status, org)
	}
	if status, login := d.api(t, "POST", "/v1/auth/login", "", `{"email":"boss@acme.example","password":"a long enough password"}`); status != 200 || login["token"] == nil {
		t.Errorf("login: %d %v", status, login)
	}
}

// An operator's command against a store that has keys, without the pepper
// they were made with, refuses to run: it would print a key nobody accepts.
func TestAdminRefusesAStoreWithoutItsPepper(t *testing.T) {
	_, dbURL := pgtest.Schema(t)
	env := func(string) string { return "" }
	createOrg := func(dataDir string, extra ...string) (int, string) {
		var out, errOut bytes.Buffer
		args := append([]string{"admin", "create-org", "--data", dataDir, "--database-url", dbURL, "--name", "Acme",
			"--owner-email", "boss@acme.example"}, extra...)
		return run(context.Background(), args, &out, &errOut, env), errOut.String()
	}
	first := t.TempDir()
	if code, msg := createOrg(first); code != 0 {
		t.Fatalf("first create-org on an empty store: %d %s", code, msg)
	}
	// A second machine without the pepper file: refused, nothing created.
	other := t.TempDir()
	if code, msg := createOrg(other); code == 0 || !strings.Contains(msg, "pepper") {
		t.Errorf("create-org without the pepper: %d %s", code, msg)
	}
	if _, err := os.Stat(filepath.Join(other, "control", "pepper")); err == nil {
		t.Error("a new pepper was written")
	}
	// With the cluster's pepper it runs.
	if code, msg := createOrg(other, "--pepper-file", filepath.Join(first, "control", "pepper")); code != 0 {
		t.Errorf("create-org with the pepper: %d %s", code, msg)
	}
}

func TestDevSlugOptions(t *testing.T) {
	d := mustStartDev(t, t.TempDir(), slugFlags{Length: 12, NoLookalike: true})
	defer d.stop(t)
	key := keyLine.FindStringSubmatch(d.stdout)[1]
	for range 4 { // under dev's 5 requests a second
		status, l := d.api(t, "POST", "/v1/links", key, `{"url":"https://example.com"}`)
		slug, _ := l["key"].(string)
		if status != 201 || len(slug) != 12 || strings.ContainsAny(slug, "0O1lI") {
			t.Fatalf("create: %d %q", status, slug)
		}
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := parsePrefixes("x", "10.0.0.0/8, 192.168.1.7 ,::1,2001:db8::/32")
	if err != nil || fmt.Sprint(got) != "[10.0.0.0/8 192.168.1.7/32 ::1/128 2001:db8::/32]" {
		t.Errorf("%v %v", got, err)
	}
	if _, err := parsePrefixes("x", "10.0.0.0/99"); err == nil {
		t.Error("bad CIDR accepted")
	}
}

// The admin address serves what --help lists, and Go's profiles only with
// --pprof.
func TestDevAdminEndpoints(t *testing.T) {
	for _, pprof := range []bool{false, true} {
		d := mustStartDevWith(t, devConfig{APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
			RaftAddr: "127.0.0.1:0", DataDir: t.TempDir(), DefaultDomain: "localhost", Pprof: pprof}, quiet)
		for path, want := range map[string]int{"/metrics": 200, "/healthz": 200, "/readyz": 200, "/status": 200,
			"/debug/pprof/": map[bool]int{false: 404, true: 200}[pprof], "/debug/pprof/heap": map[bool]int{false: 404, true: 200}[pprof],
			"/debug/pprof/cmdline": 404} {
			if resp, _ := get(t, http.DefaultClient, "http://"+d.admin.Addr()+path); resp.StatusCode != want {
				t.Errorf("pprof=%v: %s answers %d, want %d", pprof, path, resp.StatusCode, want)
			}
		}
		d.stop(t)
	}
}

// Without --smtp-url, h0p dev writes its emails to the log: a new account's
// verification code can be read there, and used.
func TestDevLogsEmails(t *testing.T) {
	var logs syncBuffer
	d := mustStartDevWith(t, devConfig{APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		RaftAddr: "127.0.0.1:0", DataDir: t.TempDir(), DefaultDomain: "localhost"}, slog.New(slog.NewTextHandler(&logs, nil)))
	defer d.stop(t)
	key := keyLine.FindStringSubmatch(d.stdout)[1]
	status, inv := d.api(t, "POST", "/v1/invitations", key, `{"email":"ada@example.com","role":"member"}`)
	if status != 201 {
		t.Fatalf("invite: %d %v", status, inv)
	}
	if status, m := d.api(t, "POST", "/v1/invitations/"+inv["token"].(string)+"/accept", "", `{"name":"Ada","password":"long enough password"}`); status != 200 {
		t.Fatalf("accept: %d %v", status, m)
	}
	code := regexp.MustCompile(`Confirm your email.*(h0p_e_[0-9A-Za-z]{36})`).FindStringSubmatch(logs.String())
	if code == nil {
		t.Fatalf("no verification email in the log:\n%s", logs.String())
	}
	_, login := d.api(t, "POST", "/v1/auth/login", "", `{"email":"ada@example.com","password":"long enough password"}`)
	sess := login["token"].(string)
	if status, m := d.api(t, "POST", "/v1/auth/verify-email", sess, `{"token":"`+code[1]+`"}`); status != 200 {
		t.Errorf("verify with the logged code: %d %v", status, m)
	}
}

// h0p dev tells control where its edge listens: a destination there, in
// whatever form a browser reads the address, would loop and is refused.
func TestDevRefusesDestinationsOnItsEdge(t *testing.T) {
	d := mustStartDev(t, t.TempDir())
	defer d.stop(t)
	key := keyLine.FindStringSubmatch(d.stdout)[1]
	_, port, _ := strings.Cut(d.edge.Addr(), ":")
	for _, u := range []string{"http://127.0.0.1:" + port + "/x", "http://[::1]:" + port + "/x", "http://0x7f000001:" + port + "/"} {
		status, m := d.api(t, "POST", "/v1/links", key, `{"url":"`+u+`"}`)
		if status != 400 || !strings.Contains(fmt.Sprint(m), "loop") {
			t.Errorf("%s: %d %v", u, status, m)
		}
	}
}

func TestControlHelpDocumentsEdgeAddrs(t *testing.T) {
	var out bytes.Buffer
	run(context.Background(), []string{"control", "--help"}, &out, &out, func(string) string { return "" })
	for _, f := range []string{"--edge-addrs (H0P_EDGE_ADDRS)", "--public-api-url (H0P_PUBLIC_API_URL)", "qrCode",
		"--short-link-scheme", "<scheme>://<domain>[:<port>]/<key>", "--short-link-port"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("help lacks %s:\n%s", f, out.String())
		}
	}
}

// A link's shortLink is built on the edge's address and its qrCode on the
// API's public URL: by default the API's own address as a client on this
// machine reaches it (localhost, as short links on the default domain),
// else --public-api-url; the qrCode answers a PNG.
func TestDevPublicURLs(t *testing.T) {
	for _, public := range []string{"", "https://api.example.test/h0p/"} {
		d := mustStartDevWith(t, devConfig{APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
			RaftAddr: "127.0.0.1:0", DataDir: t.TempDir(), DefaultDomain: "localhost", PublicAPIURL: public}, quiet)
		key := keyLine.FindStringSubmatch(d.stdout)[1]
		status, l := d.api(t, "POST", "/v1/links", key, `{"url":"https://example.com/","key":"k"}`)
		if status != 201 {
			t.Fatalf("create: %d %v", status, l)
		}
		_, apiPort, _ := strings.Cut(d.control.Addr(), ":")
		_, edgePort, _ := strings.Cut(d.edge.Addr(), ":")
		wantQR := "http://localhost:" + apiPort + "/v1/links/" + l["id"].(string) + "/qr"
		if public != "" {
			wantQR = "https://api.example.test/h0p/v1/links/" + l["id"].(string) + "/qr"
		}
		if l["qrCode"] != wantQR || l["shortLink"] != "http://localhost:"+edgePort+"/k" {
			t.Errorf("public API URL %q: qrCode %v, want %s; shortLink %v", public, l["qrCode"], wantQR, l["shortLink"])
		}
		if public == "" {
			req, _ := http.NewRequest("GET", wantQR, nil)
			req.Header.Set("x-api-key", key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
				t.Errorf("GET %s: %d %s", wantQR, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		}
		d.stop(t)
	}
	for _, bad := range []string{"localhost:8080", "ftp://x.example", "https://x.example/?a=1", "https://u:p@x.example"} {
		var out bytes.Buffer
		args := []string{"dev", "--public-api-url", bad, "--data", t.TempDir(), "--api-addr", "127.0.0.1:0",
			"--edge-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--raft-addr", "127.0.0.1:0"}
		if code := run(context.Background(), args, &out, &out, func(string) string { return "" }); code != 1 ||
			!strings.Contains(out.String(), "public API URL") {
			t.Errorf("--public-api-url %s: exit %d\n%s", bad, code, out.String())
		}
	}
}

// h0p's usage names every admin command.
func TestUsageListsAdminCommands(t *testing.T) {
	var out bytes.Buffer
	run(context.Background(), []string{"help"}, &out, &out, func(string) string { return "" })
	for _, c := range []string{"certs", "create-org", "set-password", "set-plan"} {
		if !strings.Contains(out.String(), c) {
			t.Errorf("usage lacks admin %s:\n%s", c, out.String())
		}
	}
}

func TestEdgeHelpDocumentsTheClickSpool(t *testing.T) {
	var out bytes.Buffer
	run(context.Background(), []string{"edge", "--help"}, &out, &out, func(string) string { return "" })
	if !strings.Contains(out.String(), "--click-spool-mib (H0P_CLICK_SPOOL_MIB)") {
		t.Errorf("help lacks --click-spool-mib:\n%s", out.String())
	}
}

// clickIngest records the click batches h0p dev hands over in process.
type clickIngest struct {
	mu      sync.Mutex
	batches []clicks.Batch
}

func (in *clickIngest) take(ctx context.Context, data []byte) error {
	var b clicks.Batch
	if err := b.UnmarshalBinary(data); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.batches = append(in.batches, b)
	return nil
}

func (in *clickIngest) clicks() []clicks.Click {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []clicks.Click
	for _, b := range in.batches {
		out = append(out, b.Clicks...)
	}
	return out
}

// h0p dev spools every redirect's click in its data directory; while
// nothing takes them they stay there, across a restart, and once
// something takes them in process they all arrive, in order.
func TestDevSpoolsClicksAndShipsThemInProcess(t *testing.T) {
	dataDir := t.TempDir()
	cfg := devConfig{APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0",
		DataDir: dataDir, DefaultDomain: "localhost",
		IngestClicks: func(context.Context, []byte) error { return errors.New("control is away") }}
	d := mustStartDevWith(t, cfg, quiet)
	key := keyLine.FindStringSubmatch(d.stdout)[1]
	status, link := d.api(t, "POST", "/v1/links", key, `{"url":"https://example.com/clicked","key":"clicked"}`)
	if status != 201 {
		t.Fatalf("create: %d %v", status, link)
	}
	for range 3 {
		if resp, _ := get(t, noRedirect, "http://"+d.edge.Addr()+"/clicked"); resp.StatusCode != 302 {
			t.Fatalf("redirect: %d", resp.StatusCode)
		}
	}
	_, metrics := get(t, http.DefaultClient, "http://"+d.admin.Addr()+"/metrics")
	for _, name := range []string{"h0p_edge_clicks_spooled_total", "h0p_edge_clicks_spool_bytes", "h0p_edge_clicks_spool_dropped_total"} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	d.stop(t)
	segs, _ := filepath.Glob(filepath.Join(dataDir, "clicks", "*.slot"))
	if len(segs) == 0 {
		t.Fatal("no click segment in <data>/clicks after a stop")
	}

	in := &clickIngest{}
	cfg.IngestClicks = in.take
	d = mustStartDevWith(t, cfg, quiet)
	defer d.stop(t)
	if resp, _ := get(t, noRedirect, "http://"+d.edge.Addr()+"/clicked"); resp.StatusCode != 302 {
		t.Fatalf("redirect: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(in.clicks()) < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := in.clicks()
	if len(got) != 4 {
		t.Fatalf("%d clicks reached the ingest, want 4", len(got))
	}
	for i, c := range got {
		if c.LinkID != link["id"] || (i > 0 && c.Time.Before(got[i-1].Time)) {
			t.Errorf("click %d: %+v", i, c)
		}
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for i, b := range in.batches {
		if !strings.HasPrefix(b.Edge, "dev/") || b.Edge != in.batches[0].Edge || (i > 0 && b.Seq <= in.batches[i-1].Seq) {
			t.Errorf("batch %d: edge %q seq %d", i, b.Edge, b.Seq)
		}
	}
}
