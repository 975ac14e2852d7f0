package links

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/identity"
	"github.com/h0p/h0p/control/outbox"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/store/sqlstore"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/kv"
	"github.com/h0p/h0p/shared/password"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// t0 is the stack's clock.
var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// owner is usr_1 acting in org_1 with a user key.
var owner = access.Principal{Kind: access.UserKey, OrgID: "org_1", UserID: "usr_1", KeyID: "key_1",
	Role: identity.RoleOwner, Grants: access.OfRole(identity.RoleOwner)}

// stack is a Service over the real write path: SQLite, the outbox and a
// single-voter raft node applying to a Pebble edge store.
type stack struct {
	*Service
	store  *sqlstore.Store
	edge   *replication.Store
	events *eventLog
}

// mustStack starts a stack holding org_1 on the enterprise plan. Link
// passwords are hashed with cheap parameters.
func mustStack(t testing.TB) *stack {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	edge, err := replication.OpenStore(filepath.Join(dir, "edge"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	node, err := replication.Open(replication.Config{NodeID: "t", RaftAddr: "127.0.0.1:0", Dir: filepath.Join(dir, "raft"),
		Voter: true, Bootstrap: true, Logger: quiet, HeartbeatTimeout: 200 * time.Millisecond}, edge)
	if err != nil {
		edge.Close()
		t.Fatal(err)
	}
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "control.db"))
	if err != nil {
		node.Close()
		edge.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Close()
		node.Close()
		edge.Close()
	})
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := node.WaitLeader(waitCtx); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateOrg(ctx, store.Org{ID: "org_1", Name: "Org", Plan: "enterprise", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return t0 }
	events := &eventLog{}
	pub := &outbox.Publisher{Applier: node, Store: st, Logger: quiet, Now: now}
	t.Cleanup(pub.Wait) // before the store closes: its deletes are done
	s := &Service{
		Store:          eventStore{st, events},
		Publisher:      pub,
		DefaultDomain:  "localhost",
		Now:            now,
		PasswordParams: password.Params{Memory: 1024, Time: 1, Threads: 1},
	}
	return &stack{Service: s, store: st, edge: edge, events: events}
}

// eventLog keeps the events of committed writes.
type eventLog struct {
	mu     sync.Mutex
	events []store.Event
}

func (l *eventLog) all() []store.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// eventStore records the events a write appends once it commits.
type eventStore struct {
	store.Store
	log *eventLog
}

func (s eventStore) Write(ctx context.Context, fn func(store.Queries) error) error {
	q := &eventQueries{}
	err := s.Store.Write(ctx, func(tx store.Queries) error {
		q.Queries, q.events = tx, nil
		return fn(q)
	})
	if err == nil {
		s.log.mu.Lock()
		s.log.events = append(s.log.events, q.events...)
		s.log.mu.Unlock()
	}
	return err
}

type eventQueries struct {
	store.Queries
	events []store.Event
}

func (q *eventQueries) AppendEvent(ctx context.Context, es ...store.Event) error {
	q.events = append(q.events, es...)
	return q.Queries.AppendEvent(ctx, es...)
}

// mustInput decodes a link input.
func mustInput(t *testing.T, body string) Input {
	t.Helper()
	in, err := DecodeInput([]byte(body))
	if err != nil {
		t.Fatalf("DecodeInput(%s): %v", body, err)
	}
	return in
}

func (s *stack) mustCreate(t *testing.T, body string) Link {
	t.Helper()
	l, err := s.Create(context.Background(), owner, mustInput(t, body))
	if err != nil {
		t.Fatalf("create %s: %v", body, err)
	}
	return l
}

func (s *stack) mustUpdate(t *testing.T, id, body string) Link {
	t.Helper()
	l, err := s.Update(context.Background(), owner, id, mustInput(t, body))
	if err != nil {
		t.Fatalf("update %s: %v", body, err)
	}
	return l
}

// edgeLink is the record the edge holds for slug on localhost.
func (s *stack) edgeLink(t *testing.T, slug string) (kv.Link, bool) {
	t.Helper()
	l, ok, err := s.edge.Link([]byte("localhost"), []byte(slug))
	if err != nil {
		t.Fatal(err)
	}
	return l, ok
}

// mustActions lists the actions of link id's audit entries, oldest first.
func (s *stack) mustActions(t *testing.T, id string) []string {
	t.Helper()
	entries, err := s.store.AuditLogs(context.Background(), store.AuditFilter{OrgID: "org_1", ResourceID: id, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range slices.Backward(entries) {
		actions = append(actions, e.Action)
	}
	return actions
}

// wantInvalid fails unless err is one VALIDATION_ERROR naming field first.
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	e, ok := errors.AsType[*apierror.Error](err)
	if !ok || e.Code != apierror.ValidationError || len(e.Details) == 0 || e.Details[0].Field != field {
		t.Errorf("error %v, want VALIDATION_ERROR on %s", err, field)
	}
}

func wantCode(t *testing.T, err error, code apierror.Code) {
	t.Helper()
	if e, ok := errors.AsType[*apierror.Error](err); !ok || e.Code != code {
		t.Errorf("error %v, want %s", err, code)
	}
}

// TestCreateAndRead: a created link has every field it was given, what
// the service decides (ID, slug, version, times, author), is on the edge
// once Create returns, and reads back the same by ID, key and external ID.
func TestCreateAndRead(t *testing.T) {
	s := mustStack(t)
	ctx := context.Background()
	l := s.mustCreate(t, `{"url":"https://example.com/a","key":"spring","title":"Spring","externalId":" crm-1 ",
		"tags":["Launch"],"expiresAt":"2027-01-01T00:00:00Z","redirectStatus":301,"maxClicks":5,"forwardQuery":false,
		"password":"pw","utm":{"source":"news"},"ios":"https://apps.apple.com/x",
		"rules":[{"url":"https://example.com/fr","language":["FR"]}],"preview":{"title":"P"}}`)
	if !strings.HasPrefix(l.ID, "link_") || l.Domain != "localhost" || l.Key != "spring" || l.Version != 1 ||
		l.Title != "Spring" || l.ExternalID != "crm-1" || !slices.Equal(l.TagNames, []string{"Launch"}) ||
		!l.ExpiresAt.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) || l.RedirectStatus != 301 || l.MaxClicks != 5 ||
		!l.NoForwardQuery || !strings.HasPrefix(l.PasswordHash, "$argon2id$") || l.UTM.Source != "news" ||
		l.Rules[0].Language[0] != "fr" || l.Preview.Title != "P" || l.CreatedBy != "usr_1" || !l.CreatedAt.Equal(t0) {
		t.Errorf("created %+v", l)
	}

	rec, ok := s.edgeLink(t, "spring")
	if !ok || rec.ID != l.ID || rec.URL != "https://example.com/a" || rec.Version != 1 || rec.Status != 301 ||
		rec.MaxClicks != 5 || !rec.NoForwardQuery || rec.PasswordHash != l.PasswordHash || len(rec.UTM) != 1 ||
		len(rec.Rules) != 2 || rec.Rules[1].Devices[0] != "ios" {
		t.Errorf("edge record %+v %v", rec, ok)
	}

	want := ViewOf(l)
	for name, read := range map[string]func() (Link, error){
		"id":         func() (Link, error) { return s.Get(ctx, owner, l.ID) },
		"key":        func() (Link, error) { return s.Info(ctx, owner, "LOCALHOST", "spring", "") },
		"externalId": func() (Link, error) { return s.Info(ctx, owner, "", "", "crm-1") },
	} {
		got, err := read()
		if err != nil || !equalViews(ViewOf(got), want) {
			t.Errorf("by %s: %+v %v, want %+v", name, ViewOf(got), err, want)
		}
	}
	if _, err := s.Get(ctx, access.Principal{OrgID: "org_2"}, l.ID); err == nil {
		t.Error("another org reads the link")
	}

	// Without a key, a random one of 7 characters.
	if r := s.mustCreate(t, `{"url":"https://example.com/b"}`); len(r.Key) != 7 {
		t.Errorf("random key %q", r.Key)
	}
}

func equalViews(a, b View) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestCreateRefusals(t *testing.T) {
	s := mustStack(t)
	ctx := context.Background()
	s.mustCreate(t, `{"url":"https://example.com/a","key":"taken","externalId":"ext"}`)
	for _, tc := range []struct{ body, field string }{
		{`{}`, "url"},
		{`{"url":null}`, "url"},
		{`{"url":"ftp://example.com/"}`, "url"},
		{`{"url":"https://localhost/loop"}`, "url"},
		{`{"url":"https://example.com/","domain":"other.example"}`, "domain"},
		{`{"url":"https://example.com/","key":"_h0p/x"}`, "key"},
		{`{"url":"https://example.com/","tags":["a|b"]}`, "tags"},
		{`{"url":"https://example.com/","expiresAt":"2020-01-01T00:00:00Z"}`, "expiresAt"},
		{`{"url":"https://example.com/","rules":[{"url":"https://example.com/r"}]}`, "rules[0]"},
		{`{"url":"https://example.com/","variants":[{"url":"https://a.example/","weight":50}]}`, "variants"},
	} {
		_, err := s.Create(ctx, owner, mustInput(t, tc.body))
		wantInvalid(t, err, tc.field)
	}
	_, err := s.Create(ctx, owner, mustInput(t, `{"url":"https://example.com/b","key":"taken"}`))
	wantCode(t, err, apierror.AlreadyExist)
	_, err = s.Create(ctx, owner, mustInput(t, `{"url":"https://example.com/b","externalId":"ext"}`))
	wantCode(t, err, apierror.AlreadyExist)
	if n, err := s.store.CountLinks(ctx, store.LinkFilter{OrgID: "org_1"}, ""); err != nil || n[0].Count != 1 {
		t.Errorf("links after refusals: %v %v, want 1", n, err)
	}
}

// TestUpdate: an absent member keeps its value, null clears it, a value
// sets it; every change is a new version on the edge.
func TestUpdate(t *testing.T) {
	s := mustStack(t)
	ctx := context.Background()
	l := s.mustCreate(t, `{"url":"https://example.com/a","key":"old","title":"T","description":"D","tags":["a"],
		"maxClicks":3,"geo":{"de":"https://example.de/"}}`)

	u := s.mustUpdate(t, l.ID, `{"title":"T2","tags":["A","b"],"maxClicks":null}`)
	if u.Title != "T2" || u.Description != "D" || !slices.Equal(u.TagNames, []string{"a", "b"}) || u.MaxClicks != 0 ||
		u.Geo["DE"] != "https://example.de/" || u.Version != 2 || u.URL != "https://example.com/a" {
		t.Errorf("updated %+v", u)
	}
	if rec, ok := s.edgeLink(t, "old"); !ok || rec.Version != 2 || rec.MaxClicks != 0 || len(rec.Rules) != 1 {
		t.Errorf("edge record %+v %v", rec, ok)
	}

	// null clears; a new key moves the link on the edge.
	u = s.mustUpdate(t, l.ID, `{"description":null,"geo":null,"key":"new","url":"https://example.com/b"}`)
	if u.Description != "" || u.Geo != nil || u.Key != "new" || u.URL != "https://example.com/b" || u.Version != 3 {
		t.Errorf("cleared %+v", u)
	}
	if _, ok := s.edgeLink(t, "old"); ok {
		t.Error("the old key still resolves on the edge")
	}
	if rec, ok := s.edgeLink(t, "new"); !ok || rec.URL != "https://example.com/b" || len(rec.Rules) != 0 {
		t.Errorf("edge record %+v %v", rec, ok)
	}

	// An empty change is a new version still.
	if u := s.mustUpdate(t, l.ID, `{}`); u.Version != 4 {
		t.Errorf("version %d after {}", u.Version)
	}

	other := s.mustCreate(t, `{"url":"https://example.com/c","key":"taken","externalId":"ext"}`)
	for _, tc := range []struct {
		body string
		code apierror.Code
	}{
		{`{"url":null}`, apierror.ValidationError},
		{`{"key":"taken"}`, apierror.AlreadyExist},
		{`{"externalId":"ext"}`, apierror.AlreadyExist},
		{`{"redirectStatus":303}`, apierror.ValidationError},
	} {
		_, err := s.Update(ctx, owner, l.ID, mustInput(t, tc.body))
		wantCode(t, err, tc.code)
	}
	_, err := s.Update(ctx, owner, "link_nope", mustInput(t, `{"title":"x"}`))
	wantCode(t, err, apierror.NotFound)
	if got, _ := s.Get(ctx, owner, l.ID); got.Version != 4 || got.Key != "new" {
		t.Errorf("refused updates changed the link: %+v", got)
	}
	if got, _ := s.Get(ctx, owner, other.ID); got.Version != 1 {
		t.Errorf("refused updates changed another link: %+v", got)
	}

	// Many links, one change; one missing target fails alone.
	rs, err := s.UpdateMany(ctx, owner, []Target{{ExternalID: "ext"}, {ID: "link_nope"}, {ID: l.ID}}, mustInput(t, `{"archived":true}`))
	if err != nil || len(rs) != 3 || !rs[0].Link.Archived || rs[0].Link.ID != other.ID || !rs[2].Link.Archived {
		t.Fatalf("update many: %+v %v", rs, err)
	}
	wantCode(t, rs[1].Err, apierror.NotFound)
}

// TestUpsert: a url the org has on the domain answers its link, changed
// only when the input sets more than url and domain; a new url creates
// one.
func TestUpsert(t *testing.T) {
	s := mustStack(t)
	ctx := context.Background()
	first, created, err := s.Upsert(ctx, owner, mustInput(t, `{"url":"https://example.com/u"}`))
	if err != nil || !created || first.Version != 1 {
		t.Fatalf("first upsert: %+v %v %v", first, created, err)
	}
	again, created, err := s.Upsert(ctx, owner, mustInput(t, `{"url":"https://example.com/u","domain":"localhost"}`))
	if err != nil || created || again.ID != first.ID || again.Version != 1 {
		t.Errorf("second upsert: %+v %v %v", again, created, err)
	}
	titled, created, err := s.Upsert(ctx, owner, mustInput(t, `{"url":"https://example.com/u","title":"now titled"}`))
	if err != nil || created || titled.ID != first.ID || titled.Version != 2 || titled.Title != "now titled" {
		t.Errorf("upsert with a title: %+v %v %v", titled, created, err)
	}
	if rec, ok := s.edgeLink(t, first.Key); !ok || rec.Version != 2 {
		t.Errorf("edge record %+v %v", rec, ok)
	}
	if got := s.mustActions(t, first.ID); !slices.Equal(got, []string{"link.created", "link.updated"}) {
		t.Errorf("audit actions %q, want created then updated", got)
	}

	for _, body := range []string{`{}`, `{"url":null}`, `{"title":"t"}`} {
		_, _, err := s.Upsert(ctx, owner, mustInput(t, body))
		wantInvalid(t, err, "url")
	}
	_, _, err = s.Upsert(ctx, owner, mustInput(t, `{"url":"https://example.com/u","domain":"other.example"}`))
	wantInvalid(t, err, "domain")
}

// TestDoNotTrack: doNotTrack is false unless set, shown in the view,
// cleared by null and carried to the edge record by create, update, a
// bulk update and an upsert.
func TestDoNotTrack(t *testing.T) {
	s := mustStack(t)
	ctx := context.Background()
	expect := func(what string, l Link, want bool) {
		t.Helper()
		if l.DoNotTrack != want || ViewOf(l).DoNotTrack != want {
			t.Errorf("%s: doNotTrack %v, view %v, want %v", what, l.DoNotTrack, ViewOf(l).DoNotTrack, want)
		}
		if rec, ok := s.edgeLink(t, l.Key); !ok || rec.Version != l.Version || rec.DoNotTrack != want {
			t.Errorf("%s: edge record %+v %v, want doNotTrack %v", what, rec, ok, want)
		}
	}
	plain := s.mustCreate(t, `{"url":"https://example.com/a","key":"a"}`)
	expect("default", plain, false)
	if b, _ := json.Marshal(ViewOf(plain)); !strings.Contains(string(b), `"doNotTrack":false`) {
		t.Errorf("view %s without doNotTrack", b)
	}
	quiet := s.mustCreate(t, `{"url":"https://example.com/q","key":"q","doNotTrack":true}`)
	expect("created with it", quiet, true)
	expect("another change keeps it", s.mustUpdate(t, quiet.ID, `{"title":"T"}`), true)
	expect("null clears it", s.mustUpdate(t, quiet.ID, `{"doNotTrack":null}`), false)
	expect("update sets it", s.mustUpdate(t, quiet.ID, `{"doNotTrack":true}`), true)

	rs, err := s.UpdateMany(ctx, owner, []Target{{ID: plain.ID}, {ID: quiet.ID}}, mustInput(t, `{"doNotTrack":false}`))
	if err != nil || rs[0].Err != nil || rs[1].Err != nil {
		t.Fatalf("update many: %+v %v", rs, err)
	}
	expect("bulk update", rs[0].Link, false)
	expect("bulk update", rs[1].Link, false)

	up, created, err := s.Upsert(ctx, owner, mustInput(t, `{"url":"https://example.com/a","doNotTrack":true}`))
	if err != nil || created || up.ID != plain.ID {
		t.Fatalf("upsert: %+v %v %v", up, created, err)
	}
	expect("upsert", up, true)
	if got, err := s.Get(ctx, owner, plain.ID); err != nil || !got.DoNotTrack {
		t.Errorf("read back: %+v %v", got, err)
	}
}

func TestDelete(t *testing.T) {
	s := mustStack(t)
	ctx := context.Background()
	a := s.mustCreate(t, `{"url":"https://example.com/a","key":"a"}`)
	b := s.mustCreate(t, `{"url":"https://example.com/b","key":"b","externalId":"ext-b"}`)

	d, err := s.Delete(ctx, owner, a.ID)
	if err != nil || d.ID != a.ID || d.Key != "a" {
		t.Errorf("delete: %+v %v", d, err)
	}
	if _, ok := s.edgeLink(t, "a"); ok {
		t.Error("a deleted link still resolves on the edge")
	}
	_, err = s.Get(ctx, owner, a.ID)
	wantCode(t, err, apierror.NotFound)
	_, err = s.Delete(ctx, owner, a.ID)
	wantCode(t, err, apierror.NotFound)

	rs, err := s.DeleteMany(ctx, owner, []Target{{ExternalID: "ext-b"}, {ExternalID: "ext-nope"}})
	if err != nil || len(rs) != 2 || rs[0].Link.ID != b.ID {
		t.Fatalf("delete many: %+v %v", rs, err)
	}
	wantCode(t, rs[1].Err, apierror.NotFound)
	if _, ok := s.edgeLink(t, "b"); ok {
		t.Error("b still resolves on the edge")
	}
	// The slug is free again.
	s.mustCreate(t, `{"url":"https://example.com/a2","key":"a"}`)
}

// TestJournal: every change has its audit entry and its event, attributed
// to its principal, holding the link as View shows it (without the
// API's shortLink and qrCode, and never the password).
func TestJournal(t *testing.T) {
	s := mustStack(t)
	ctx := context.Background()
	l := s.mustCreate(t, `{"url":"https://example.com/a","key":"j","title":"T","password":"secret","tags":["x"]}`)
	u := s.mustUpdate(t, l.ID, `{"title":"T2"}`)
	if _, err := s.Delete(ctx, owner, l.ID); err != nil {
		t.Fatal(err)
	}

	entries, err := s.store.AuditLogs(ctx, store.AuditFilter{OrgID: "org_1", ResourceID: l.ID, Limit: 10})
	if err != nil || len(entries) != 3 {
		t.Fatalf("audit entries %+v %v", entries, err)
	}
	slices.Reverse(entries) // oldest first
	var diffs []map[string]map[string]any
	for i, want := range []string{"link.created", "link.updated", "link.deleted"} {
		e := entries[i]
		if e.Action != want || e.ActorID != "usr_1" || e.KeyID != "key_1" || e.ResourceType != "link" || !e.At.Equal(t0) {
			t.Errorf("entry %d: %+v, want %s by usr_1", i, e, want)
		}
		var d map[string]map[string]any
		if err := json.Unmarshal(e.Diff, &d); err != nil {
			t.Fatalf("entry %d diff %s: %v", i, e.Diff, err)
		}
		diffs = append(diffs, d)
	}
	created, deleted := diffs[0]["after"], diffs[2]["before"]
	if created["title"] != "T" || created["hasPassword"] != true || created["key"] != "j" || deleted["title"] != "T2" {
		t.Errorf("created %v, deleted %v", created, deleted)
	}
	if diffs[1]["before"]["title"] != "T" || diffs[1]["after"]["title"] != "T2" || len(diffs[1]["after"]) != 1 {
		t.Errorf("update diff %v, want the title alone", diffs[1])
	}
	for _, side := range []map[string]any{created, deleted} {
		for _, field := range []string{"password", "shortLink", "qrCode"} {
			if _, ok := side[field]; ok {
				t.Errorf("journal view has %s: %v", field, side)
			}
		}
	}

	events := s.events.all()
	if len(events) != 3 {
		t.Fatalf("%d events, want 3", len(events))
	}
	for i, want := range []string{"link.created", "link.updated", "link.deleted"} {
		if e := events[i]; e.Type != want || e.ResourceID != l.ID || e.OrgID != "org_1" || !strings.HasPrefix(e.ID, "evt_") {
			t.Errorf("event %d: %+v, want %s", i, e, want)
		}
	}
	// A change's event is the link after it; a delete's, the link before.
	after, _ := json.Marshal(ViewOf(u))
	if string(events[1].Payload) != string(after) || string(events[2].Payload) != string(after) {
		t.Errorf("payloads %s / %s, want %s", events[1].Payload, events[2].Payload, after)
	}
}

// TestTags: tags are named on links and made on first use; names match
// case-insensitively and keep the org's spelling.
func TestTags(t *testing.T) {
	s := mustStack(t)
	ctx := context.Background()
	a := s.mustCreate(t, `{"url":"https://example.com/a","tags":["Launch"," promo ","launch"]}`)
	if !slices.Equal(a.TagNames, []string{"Launch", "promo"}) {
		t.Errorf("tags %q", a.TagNames)
	}
	b := s.mustCreate(t, `{"url":"https://example.com/b","tags":["LAUNCH","new"]}`)
	if !slices.Equal(b.TagNames, []string{"Launch", "new"}) {
		t.Errorf("tags %q, want the org's spelling", b.TagNames)
	}
	tags, _, err := s.Tags(ctx, owner, TagQuery{})
	var names []string
	for _, tag := range tags {
		names = append(names, tag.Name)
	}
	if err != nil || !slices.Equal(names, []string{"Launch", "new", "promo"}) {
		t.Errorf("org tags %q %v", names, err)
	}
	if ls, _, err := s.List(ctx, owner, Query{Tag: "launch"}); err != nil || len(ls) != 2 {
		t.Errorf("links tagged launch: %d %v", len(ls), err)
	}

	// Replacing and clearing.
	if u := s.mustUpdate(t, a.ID, `{"tags":["new"]}`); !slices.Equal(u.TagNames, []string{"new"}) {
		t.Errorf("replaced tags %q", u.TagNames)
	}
	if u := s.mustUpdate(t, a.ID, `{"tags":null}`); len(u.TagNames) != 0 {
		t.Errorf("cleared tags %q", u.TagNames)
	}

	many := make([]string, maxTags+1)
	for i := range many {
		many[i] = `"t` + strings.Repeat("x", i) + `"`
	}
	for _, body := range []string{
		`{"url":"https://example.com/c","tags":[""]}`,
		`{"url":"https://example.com/c","tags":["a\nb"]}`,
		`{"url":"https://example.com/c","tags":["a|b"]}`,
		`{"url":"https://example.com/c","tags":["` + strings.Repeat("x", 51) + `"]}`,
		`{"url":"https://example.com/c","tags":[` + strings.Join(many, ",") + `]}`,
	} {
		_, err := s.Create(ctx, owner, mustInput(t, body))
		wantInvalid(t, err, "tags")
	}
}
