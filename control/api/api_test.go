package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/accounts"
	"github.com/h0p/h0p/control/analytics/pebblestore"
	"github.com/h0p/h0p/control/api"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/domains"
	"github.com/h0p/h0p/control/egress"
	"github.com/h0p/h0p/control/files"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/links"
	"github.com/h0p/h0p/control/mail"
	"github.com/h0p/h0p/control/mail/mailtest"
	"github.com/h0p/h0p/control/openapi/openapitest"
	"github.com/h0p/h0p/control/outbox"
	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/control/stats"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/store/sqlstore"
	"github.com/h0p/h0p/control/usage"
	"github.com/h0p/h0p/control/webhooks"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/password"
	"github.com/h0p/h0p/shared/sealed"
)

var update = flag.Bool("update", false, "rewrite golden files")

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var pepper = bytes.Repeat([]byte{7}, 32)

type env struct {
	url      string
	key      string // Owner key of org_1
	store    *sqlstore.Store
	edge     *replication.Store
	now      time.Time
	accounts *accounts.Service
	limiter  *ratelimit.Memory
	router   *gin.Engine
	mail     *mailtest.Server // receives every email the API sends
	// holdWrite and holdPublish, when set, run before each link write
	// (before its SQL transaction) and before each raft apply (after the
	// commit): tests hold a request inside its handler with them, or fail
	// it there (idempotency_test.go).
	holdWrite, holdPublish atomic.Pointer[func() error]
	links                  *links.Service
	hashes                 atomic.Int64      // link passwords hashed
	outbox                 *outbox.Publisher // Wait: the deletes of applied entries are done
	domains                *domains.Service  // tests point its Checker at their DNS server
	usage                  *usage.Recorder
	webhooks               *webhooks.Service // tests change its Policy
	files                  *files.Service
	blobs                  testBlobs
}

// testWebhookPolicy lets webhooks reach receivers on the loopback over
// plain http, and gives up on a receiver after a second.
var testWebhookPolicy = egress.Policy{AllowHTTP: true, AllowNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	Resolver: domains.NewResolver("127.0.0.1:1"), Timeout: time.Second}

var fastPasswords = password.Params{Memory: 1024, Time: 1, Threads: 1}

// testEdgeAddrs are where the API under test says its edges answer: one on
// the loopback, one on every address of this host.
var testEdgeAddrs = []string{"127.0.0.1:8081", "[::]:8082"}

// mustStart runs the API over the real stack: SQLite, the outbox, a
// single-voter raft node over TCP and the Pebble edge store.
func mustStart(t testing.TB) *env {
	t.Helper()
	// Most tests are not about rate limits: make them generous.
	return mustStartLimits(t, ratelimit.Limits{PerSecond: 1000, PerMinute: 100000})
}

// mustStartLimits is mustStart with limits; opts change the router's
// configuration.
func mustStartLimits(t testing.TB, limits ratelimit.Limits, opts ...func(*api.Config)) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	edgeStore, err := replication.OpenStore(filepath.Join(dir, "edge"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	node, err := replication.Open(replication.Config{NodeID: "t", RaftAddr: "127.0.0.1:0", Dir: filepath.Join(dir, "raft"),
		Voter: true, Bootstrap: true, Logger: quiet, HeartbeatTimeout: 200 * time.Millisecond}, edgeStore)
	if err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := node.WaitLeader(waitCtx); err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "control.db"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: st, edge: edgeStore, now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	now := func() time.Time { return e.now }
	e.key = mustBootstrap(t, st, "1", time.Time{})
	pub := &outbox.Publisher{Applier: node, Store: st, Logger: quiet, Now: now}
	e.outbox = pub
	e.mail = mailtest.Start(t)
	mailer, err := mail.ParseURL(e.mail.URL)
	if err != nil {
		t.Fatal(err)
	}
	e.accounts = &accounts.Service{Store: st, Pepper: pepper, Now: now, PasswordParams: fastPasswords,
		Mailer: mailer, APIURL: "https://api.example.com", Logger: quiet}
	e.limiter = ratelimit.NewMemory(now)
	edges, err := links.ParseEdgeAddrs(testEdgeAddrs)
	if err != nil {
		t.Fatal(err)
	}
	e.links = &links.Service{Store: heldStore{st, &e.holdWrite}, Publisher: heldPublisher{pub, &e.holdPublish}, DefaultDomain: "localhost", Now: now, Edges: edges,
		HashPassword: func(pw string) string {
			e.hashes.Add(1)
			return password.Hash(pw, fastPasswords)
		}}
	e.domains = &domains.Service{Store: st, Publisher: pub, Links: e.links, Now: now, Logger: quiet,
		Platform: []string{"localhost", "h0p.link"}, Checker: &domains.Checker{Resolver: domains.NewResolver("127.0.0.1:1")}}
	e.usage = &usage.Recorder{Store: st, Now: now, Logger: quiet}
	hookKeys, err := sealed.NewKey(pepper, webhooks.SecretPurpose)
	if err != nil {
		t.Fatal(err)
	}
	e.webhooks = &webhooks.Service{Store: st, Policy: testWebhookPolicy, Client: testWebhookPolicy.Client(),
		Sealer: hookKeys, UserAgent: "H0p-Webhooks/test", Now: now, Logger: quiet}
	e.blobs = newTestBlobs(t, filepath.Join(dir, "blobs"), now)
	e.files = &files.Service{Store: st, Blobs: e.blobs, Now: now, Logger: quiet}
	clickStore, err := pebblestore.Open(filepath.Join(dir, "analytics"), pebblestore.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clickStore.Close() })
	cfg := api.Config{
		Store: st, Pepper: pepper, Now: now, Logger: quiet,
		Stats:     &stats.Service{Store: st, Clicks: clickStore, Now: now},
		Accounts:  e.accounts,
		Limiter:   e.limiter,
		Limits:    limits,
		Links:     e.links,
		Domains:   e.domains,
		Usage:     e.usage,
		Webhooks:  e.webhooks,
		Files:     e.files,
		ShortLink: func(d, k string) string { return "https://" + d + "/" + k },
	}
	for _, o := range opts {
		o(&cfg)
	}
	r := api.NewRouter(cfg)
	r.GET("/v1/panic", func(*gin.Context) { panic("boom") })
	e.router = r
	// Every request to the API is checked against its document; the
	// dashboard's pages (when a test mounts one) are not the API's.
	checked := openapitest.Contract(t, r)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if cfg.Dashboard == nil || api.IsAPIPath(req.URL.Path) {
			checked.ServeHTTP(w, req)
			return
		}
		r.ServeHTTP(w, req)
	}))
	e.url = srv.URL
	// Public file URLs are the test server's, as a real one's are its
	// public URL's.
	fileURLs, err := files.NewURLs(srv.URL, pepper)
	if err != nil {
		t.Fatal(err)
	}
	e.files.URLs, e.files.Links, e.links.FileURL = fileURLs, e.links, fileURLs.URL
	t.Cleanup(func() {
		srv.Close()
		pub.Wait()
		st.Close()
		node.Close()
		edgeStore.Close()
	})
	return e
}

// mustBootstrap creates org_<n> with an Owner (usr_<n>) holding a user key
// with every Owner permission, and returns the key.
func mustBootstrap(t testing.TB, st store.Store, n string, expires time.Time) string {
	t.Helper()
	ctx := context.Background()
	key := apikey.Generate(apikey.User)
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // the API answers no object without its creation time
	err := st.Write(ctx, func(q store.Queries) error {
		if err := q.CreateOrg(ctx, store.Org{ID: "org_" + n, Name: "Org " + n, Plan: "enterprise", CreatedAt: created}); err != nil {
			return err
		}
		if err := q.CreateUser(ctx, store.User{ID: "usr_" + n, Email: "owner" + n + "@example.com", EmailVerifiedAt: time.Unix(0, 0),
			CreatedAt: created}); err != nil {
			return err
		}
		if err := q.AddMember(ctx, store.Member{OrgID: "org_" + n, UserID: "usr_" + n, Role: identity.RoleOwner, CreatedAt: created}); err != nil {
			return err
		}
		return q.CreateAPIKey(ctx, store.APIKey{ID: "key_" + n, OrgID: "org_" + n, Type: identity.KeyUser, UserID: "usr_" + n,
			Prefix: apikey.Prefix(key), Digest: apikey.Digest(pepper, key), CreatedBy: "usr_" + n, CreatedAt: created, ExpiresAt: expires,
			Permissions: access.OfRole(identity.RoleOwner).Permissions()})
	})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) do(t *testing.T, method, path, key string, body io.Reader, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

var requestIDPattern = regexp.MustCompile(`"requestId":"req_[0-9A-Z]{26}"`)

// checkErrorGolden checks an error response against testdata/<name>.json,
// with the request ID masked.
func checkErrorGolden(t *testing.T, name string, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if !requestIDPattern.Match(r.body) {
		t.Errorf("no request id in %s", r.body)
	}
	if id := r.header.Get("X-Request-Id"); !strings.Contains(string(r.body), id) || id == "" {
		t.Errorf("X-Request-Id %q does not match the body", id)
	}
	got := requestIDPattern.ReplaceAll(r.body, []byte(`"requestId":"REQ"`))
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatalf("error body is not JSON: %s", r.body)
	}
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", name+".json")
	if *update {
		os.WriteFile(path, pretty.Bytes(), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update): %v", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("error body:\n%s\nwant:\n%s", pretty.Bytes(), want)
	}
}

func TestErrorEnvelopeOnEveryPath(t *testing.T) {
	e := mustStart(t)
	expiredKey := mustBootstrap(t, e.store, "expired", e.now.Add(-time.Second))
	wellFormedUnknown := apikey.Generate(apikey.Bot)
	bigJSON := `{"url":"https://example.com/` + strings.Repeat("a", 2<<20) + `"}`
	tests := []struct {
		name         string
		method, path string
		key          string
		body         string
		headers      []string
		status       int
	}{
		{"unknown_route", "GET", "/nope", "", "", nil, 404},
		{"unknown_route_v1", "GET", "/v1/nope", e.key, "", nil, 404},
		{"trailing_slash", "GET", "/v1/links/", e.key, "", nil, 404},
		{"wrong_method", "PUT", "/v1/links", e.key, "{}", nil, 405},
		{"missing_key", "POST", "/v1/links", "", `{"url":"https://example.com"}`, nil, 401},
		{"malformed_key", "POST", "/v1/links", "h0p_u_nope", `{"url":"https://example.com"}`, nil, 401},
		{"unknown_key", "POST", "/v1/links", wellFormedUnknown, `{"url":"https://example.com"}`, nil, 401},
		{"expired_key", "POST", "/v1/links", expiredKey, `{"url":"https://example.com"}`, nil, 401},
		{"malformed_json", "POST", "/v1/links", e.key, `{"url":`, nil, 400},
		{"empty_body", "POST", "/v1/links", e.key, ``, nil, 400},
		{"two_values", "POST", "/v1/links", e.key, `{"url":"https://example.com"}{}`, nil, 400},
		{"unknown_field", "POST", "/v1/links", e.key, `{"url":"https://example.com","nope":1}`, nil, 400},
		{"wrong_type", "POST", "/v1/links", e.key, `{"url":42}`, nil, 400},
		{"body_too_deep", "POST", "/v1/links", e.key, `{"url":"https://example.com","tags":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, nil, 400},
		{"body_too_large", "POST", "/v1/links", e.key, bigJSON, nil, 413},
		{"url_missing", "POST", "/v1/links", e.key, `{}`, nil, 400},
		{"url_javascript", "POST", "/v1/links", e.key, `{"url":"javascript:alert(1)"}`, nil, 400},
		{"url_relative", "POST", "/v1/links", e.key, `{"url":"/relative/path"}`, nil, 400},
		{"url_ftp", "POST", "/v1/links", e.key, `{"url":"ftp://example.com/file"}`, nil, 400},
		{"url_no_host", "POST", "/v1/links", e.key, `{"url":"https:///path"}`, nil, 400},
		{"url_too_long", "POST", "/v1/links", e.key, `{"url":"https://example.com/` + strings.Repeat("a", 8200) + `"}`, nil, 400},
		{"url_spaces", "POST", "/v1/links", e.key, `{"url":" https://example.com"}`, nil, 400},
		{"key_bad_chars", "POST", "/v1/links", e.key, `{"url":"https://example.com","key":"a b"}`, nil, 400},
		{"key_reserved", "POST", "/v1/links", e.key, `{"url":"https://example.com","key":"robots.txt"}`, nil, 400},
		{"domain_unknown", "POST", "/v1/links", e.key, `{"url":"https://example.com","domain":"evil.example"}`, nil, 400},
		{"link_not_found", "GET", "/v1/links/link_nope", e.key, "", nil, 404},
		{"delete_not_found", "DELETE", "/v1/links/link_nope", e.key, "", nil, 404},
		{"panic", "GET", "/v1/panic", "", "", nil, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			checkErrorGolden(t, tt.name, e.do(t, tt.method, tt.path, tt.key, body, tt.headers...), tt.status)
		})
	}
	t.Run("body_too_large_chunked", func(t *testing.T) {
		// No Content-Length: the limit must hold while reading.
		r := e.do(t, "POST", "/v1/links", e.key, io.MultiReader(strings.NewReader(bigJSON)))
		checkErrorGolden(t, "body_too_large", r, 413)
	})
	t.Run("wrong_method_allow", func(t *testing.T) {
		if allow := e.do(t, "PUT", "/v1/links", e.key, nil).header.Get("Allow"); allow != "POST, GET" {
			t.Errorf("Allow %q, want POST, GET", allow)
		}
	})
	// Nothing above may have created a link.
	if pending, _ := e.store.PendingOutbox(context.Background(), e.now.Add(time.Hour), 10); len(pending) != 0 {
		t.Errorf("bad requests left outbox entries: %v", pending)
	}
}

func mustCreate(t *testing.T, e *env, key, body string) map[string]any {
	t.Helper()
	r := e.do(t, "POST", "/v1/links", key, strings.NewReader(body))
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLinkLifecycle(t *testing.T) {
	e := mustStart(t)
	m := mustCreate(t, e, e.key, `{"url":"https://example.com/a?b=1"}`)
	id, key := m["id"].(string), m["key"].(string)
	if !strings.HasPrefix(id, "link_") || len(key) != 7 || m["domain"] != "localhost" ||
		m["url"] != "https://example.com/a?b=1" || m["shortLink"] != "https://localhost/"+key ||
		m["createdAt"] != "2026-11-25T12:00:00.000Z" || m["updatedAt"] != "2026-11-25T12:00:00.000Z" {
		t.Errorf("created link %v", m)
	}
	// The 201 came after the raft apply: the edge store has it already.
	if l, ok, _ := e.edge.Link([]byte("localhost"), []byte(key)); !ok || l.URL != "https://example.com/a?b=1" || l.ID != id {
		t.Errorf("edge store after 201: %+v %v", l, ok)
	}
	// Bearer works as well as x-api-key.
	r := e.do(t, "GET", "/v1/links/"+id, "", nil, "Authorization", "Bearer "+e.key)
	if r.status != 200 || !strings.Contains(string(r.body), `"id":"`+id+`"`) {
		t.Errorf("get: %d %s", r.status, r.body)
	}
	// A given key is honoured; taking it again conflicts.
	custom := mustCreate(t, e, e.key, `{"url":"https://example.com/c","key":"Docs/Intro"}`)
	if custom["key"] != "Docs/Intro" {
		t.Errorf("custom key %v", custom["key"])
	}
	checkErrorGolden(t, "key_taken", e.do(t, "POST", "/v1/links", e.key, strings.NewReader(`{"url":"https://example.com/d","key":"Docs/Intro"}`)), 409)

	// Another org sees none of it.
	other := mustBootstrap(t, e.store, "2", time.Time{})
	if r := e.do(t, "GET", "/v1/links/"+id, other, nil); r.status != 404 {
		t.Errorf("other org get: %d", r.status)
	}
	if r := e.do(t, "DELETE", "/v1/links/"+id, other, nil); r.status != 404 {
		t.Errorf("other org delete: %d", r.status)
	}

	r = e.do(t, "DELETE", "/v1/links/"+id, e.key, nil)
	if r.status != 200 || string(r.body) != `{"id":"`+id+`"}` {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	if _, ok, _ := e.edge.Link([]byte("localhost"), []byte(key)); ok {
		t.Error("edge store still has the deleted link")
	}
	if r := e.do(t, "GET", "/v1/links/"+id, e.key, nil); r.status != 404 {
		t.Errorf("get after delete: %d", r.status)
	}
	// The outbox is empty once every change was applied.
	e.outbox.Wait()
	if pending, _ := e.store.PendingOutbox(context.Background(), e.now.Add(time.Hour), 10); len(pending) != 0 {
		t.Errorf("outbox not drained: %d entries", len(pending))
	}
}

// FuzzCreateLinkBody: whatever body a client sends, the answer is a 201 or an
// error in the envelope with a 4xx status — never a 5xx, never a crash.
func FuzzCreateLinkBody(f *testing.F) {
	for _, s := range []string{
		`{"url":"https://example.com"}`, `{"url":"https://example.com","key":"a/b"}`,
		`{"url":"javascript:x"}`, `{"url":null}`, `[]`, `{"url":"http://[::1]:80/x"}`, "\x00",
	} {
		f.Add(s)
	}
	e := mustStart(f)
	f.Fuzz(func(t *testing.T, body string) {
		r := e.do(t, "POST", "/v1/links", e.key, strings.NewReader(body))
		if r.status == 201 {
			return
		}
		var env struct {
			Error struct{ Code, Message, RequestID string }
		}
		if r.status >= 500 || json.Unmarshal(r.body, &env) != nil || env.Error.Code == "" || env.Error.Message == "" {
			t.Fatalf("body %q: %d %s", body, r.status, r.body)
		}
	})
}
