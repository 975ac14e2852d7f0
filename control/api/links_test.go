package api_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/linkcsv"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/kv"
)

// mustOrgOnPlan makes org_<n> on plan with an Owner key.
func mustOrgOnPlan(t *testing.T, e *env, n, plan string) string {
	t.Helper()
	key := mustBootstrap(t, e.store, n, time.Time{})
	ctx := context.Background()
	o, _ := e.store.Org(ctx, "org_"+n)
	o.Plan = plan
	if err := e.store.UpdateOrg(ctx, o); err != nil {
		t.Fatal(err)
	}
	return key
}

func edgeRecord(t *testing.T, e *env, slug string) (kv.Link, bool) {
	t.Helper()
	l, ok, err := e.edge.Link([]byte("localhost"), []byte(slug))
	if err != nil {
		t.Fatal(err)
	}
	return l, ok
}

const fullLink = `{
	"url": "https://example.com/landing?x=1", "key": "spring-sale", "title": "Spring sale", "description": "20% off",
	"image": "https://example.com/og.png", "tags": ["Launch", "promo"], "externalId": "crm-42", "comments": "for the newsletter",
	"expiresAt": "2027-01-01T00:00:00Z", "expiredUrl": "https://example.com/over", "password": "s3cret",
	"ios": "https://apps.apple.com/app/x", "android": "https://play.google.com/store/apps/details?id=x",
	"geo": {"de": "https://example.de/", "AT": "https://example.at/"},
	"rules": [{"url": "https://example.com/fr", "language": ["fr"], "query": {"ref": ""}}],
	"variants": [{"url": "https://a.example.com/", "weight": 60}, {"url": "https://b.example.com/", "weight": 40}],
	"utm": {"source": "newsletter", "medium": "email", "campaign": "spring"},
	"forwardQuery": false, "redirectStatus": 301, "validSince": "2026-01-01T00:00:00Z", "maxClicks": 1000,
	"archived": false, "disabled": false, "doIndex": true, "doNotTrack": true,
	"preview": {"title": "Spring!", "description": "Sale", "image": "https://example.com/p.png"}
}`

func TestLinkObjectEveryField(t *testing.T) {
	e := mustStart(t)
	l := e.mustCall(t, 201, "POST", "/v1/links", e.key, fullLink)
	for field, want := range map[string]any{
		"key": "spring-sale", "title": "Spring sale", "description": "20% off", "externalId": "crm-42",
		"comments": "for the newsletter", "expiresAt": "2027-01-01T00:00:00.000Z", "expiredUrl": "https://example.com/over",
		"hasPassword": true, "ios": "https://apps.apple.com/app/x", "forwardQuery": false, "redirectStatus": float64(301),
		"validSince": "2026-01-01T00:00:00.000Z", "maxClicks": float64(1000), "archived": false, "doIndex": true,
		"doNotTrack": true, "shortLink": "https://localhost/spring-sale", "clicks": float64(0), "lastClickedAt": nil,
		"createdBy": "usr_1",
	} {
		if fmt.Sprint(l[field]) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", field, l[field], want)
		}
	}
	if _, ok := l["password"]; ok {
		t.Error("the response carries the password")
	}
	if r := e.do(t, "GET", "/v1/links/"+l["id"].(string)+"/qr?scale=2", e.key, nil); r.status != 200 ||
		r.header.Get("Content-Type") != "image/png" || !strings.HasPrefix(string(r.body), "\x89PNG") {
		t.Errorf("qr: %d %v", r.status, r.header)
	}
	if fmt.Sprint(l["tags"]) != "[Launch promo]" || fmt.Sprint(l["geo"]) != "map[AT:https://example.at/ DE:https://example.de/]" ||
		len(l["rules"].([]any)) != 1 || len(l["variants"].([]any)) != 2 || l["utm"].(map[string]any)["campaign"] != "spring" ||
		l["preview"].(map[string]any)["title"] != "Spring!" || !strings.HasSuffix(l["qrCode"].(string), "/v1/links/"+l["id"].(string)+"/qr") {
		t.Errorf("link %v", l)
	}
	// The edge record carries what the edge needs, shorthands expanded
	// after the explicit rules: ios, android, then geo by country.
	rec, ok := edgeRecord(t, e, "spring-sale")
	if !ok {
		t.Fatal("not on the edge")
	}
	if rec.Status != 301 || !rec.NoForwardQuery || rec.MaxClicks != 1000 || !strings.HasPrefix(rec.PasswordHash, "$argon2id$") ||
		rec.ExpiredURL != "https://example.com/over" || !rec.Indexable || !rec.DoNotTrack || rec.Preview.Title != "Spring!" || len(rec.UTM) != 3 ||
		len(rec.Variants) != 2 || rec.ExpiresAt != time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli() {
		t.Errorf("record %+v", rec)
	}
	var order []string
	for _, r := range rec.Rules {
		order = append(order, fmt.Sprint(r.Languages, r.Devices, r.Countries))
	}
	if strings.Join(order, " ") != "[fr] [] [] [] [ios] [] [] [android] [] [] [] [AT] [] [] [DE]" {
		t.Errorf("rule order %q", order)
	}
	if len(rec.Rules[0].Query) != 1 || rec.Rules[0].Query[0] != (kv.QueryParam{Name: "ref"}) {
		t.Errorf("rule query %+v", rec.Rules[0].Query)
	}
	// doNotTrack: null clears it, on the link and on the edge; a link
	// shows it false unless set.
	if u := e.mustCall(t, 200, "PATCH", "/v1/links/"+l["id"].(string), e.key, `{"doNotTrack":null}`); u["doNotTrack"] != false {
		t.Errorf("doNotTrack after null: %v", u["doNotTrack"])
	}
	if rec, ok := edgeRecord(t, e, "spring-sale"); !ok || rec.DoNotTrack {
		t.Errorf("record after doNotTrack null: %+v", rec)
	}
	if p := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com/plain"}`); p["doNotTrack"] != false {
		t.Errorf("a new link's doNotTrack: %v", p["doNotTrack"])
	}
}

func TestLinkValidation(t *testing.T) {
	e := mustStart(t)
	for _, tc := range []struct{ body, field string }{
		{`{"url":"javascript:alert(1)"}`, "url"},
		{`{"url":"data:text/html,x"}`, "url"},
		{`{"url":"file:///etc/passwd"}`, "url"},
		{`{"url":"https://user:pw@example.com/"}`, "url"},
		{`{"url":"https://localhost/loop"}`, "url"},
		{`{"url":"https://LOCALHOST./loop"}`, "url"},
		{`{"url":"https://example.com","key":"_h0p/x"}`, "key"},
		{`{"url":"https://example.com","key":"a b"}`, "key"},
		{`{"url":"https://example.com","geo":{"XX":"https://example.com"}}`, "geo"},
		{`{"url":"https://example.com","variants":[{"url":"https://a.example","weight":50},{"url":"https://b.example","weight":40}]}`, "variants"},
		{`{"url":"https://example.com","variants":[{"url":"https://a.example","weight":100}]}`, "variants"},
		{`{"url":"https://example.com","redirectStatus":303}`, "redirectStatus"},
		{`{"url":"https://example.com","expiresAt":"2020-01-01T00:00:00Z"}`, "expiresAt"},
		{`{"url":"https://example.com","expiresAt":"tomorrow"}`, "expiresAt"},
		{`{"url":"https://example.com","maxClicks":0}`, "maxClicks"},
		{`{"url":"https://example.com","rules":[{"url":"https://x.example"}]}`, "rules[0]"},
		{`{"url":"https://example.com","rules":[{"url":"https://x.example","device":["toaster"]}]}`, "rules[0].device"},
		{`{"url":"https://example.com","rules":[{"url":"https://x.example","language":["english"]}]}`, "rules[0].language"},
		{`{"url":"https://example.com","rules":[{"url":"https://x.example","countri":["US"]}]}`, "rules[0].countri"},
		{`{"url":"https://example.com","title":"` + strings.Repeat("t", 513) + `"}`, "title"},
		{`{"url":"https://example.com","tags":"x"}`, "tags"},
		{`{"url":"https://example.com","flavour":"x"}`, "flavour"},
		{`{"url":"https://example.com","preview":{"image":"ftp://x"}}`, "preview.image"},
		{`{"url":"https://example.com","preview":{"title":"` + strings.Repeat("p", 257) + `"}}`, "preview.title"},
		{`{"url":"https://example.com","description":"` + strings.Repeat("d", 2049) + `"}`, "description"},
		{`{"url":"https://example.com","comments":"` + strings.Repeat("c", 4097) + `"}`, "comments"},
		{`{"url":"https://example.com","externalId":"` + strings.Repeat("e", 256) + `"}`, "externalId"},
		{`{"url":"https://example.com","image":"javascript:x"}`, "image"},
		{`{"url":"https://example.com","expiredUrl":"/relative"}`, "expiredUrl"},
		{`{"url":"https://example.com","ios":"itms://x"}`, "ios"},
		{`{"url":"https://example.com","android":"https://localhost/loop"}`, "android"},
		{`{"url":"https://example.com","password":"` + strings.Repeat("p", 129) + `"}`, "password"},
		{`{"url":"https://example.com","utm":{"source":"` + strings.Repeat("u", 257) + `"}}`, "utm.source"},
		{`{"url":"https://example.com","utm":{"sauce":"x"}}`, "utm.sauce"},
		{`{"url":"https://example.com","tags":[` + strings.TrimSuffix(strings.Repeat(`"t",`, 1), ",") + `,` + manyTags(21) + `]}`, "tags"},
		{`{"url":"https://example.com","tags":[""]}`, "tags"},
		{`{"url":"https://example.com","geo":{"US":"notaurl"}}`, "geo.US"},
		{`{"url":"https://example.com","variants":[{"url":"https://a.example","weight":0},{"url":"https://b.example","weight":100}]}`, "variants[0].weight"},
		{`{"url":"https://example.com","rules":[` + manyRules(51) + `]}`, "rules"},
		{`{"url":"https://example.com","rules":[{"url":"https://x.example","query":{"":"x"}}]}`, "rules[0].query"},
		{`{"url":"https://example.com","rules":[{"url":"https://x.example","country":["ZZ"]}]}`, "rules[0].country"},
		{`{"url":"https://example.com","rules":[{"url":"https://x.example","os":[""]}]}`, "rules[0].os"},
		{`{"url":"https://example.com","rules":[{"url":"https://x.example","after":"2027-01-02T00:00:00Z","before":"2027-01-01T00:00:00Z"}]}`, "rules[0].before"},
		{`{"url":"https://example.com","rules":[{"url":"javascript:x","device":["ios"]}]}`, "rules[0].url"},
		{`{"url":"https://example.com","key":"robots.txt"}`, "key"},
		{`{"url":"https://example.com","domain":"other.example"}`, "domain"},
		{`{"url":"https://example.com/` + strings.Repeat("a", 8200) + `"}`, "url"},
		{`{"url":42}`, "url"},
	} {
		status, m, _ := e.call(t, "POST", "/v1/links", e.key, tc.body)
		details, _ := m["error"].(map[string]any)["details"].([]any)
		if status != 400 || len(details) == 0 || details[0].(map[string]any)["field"] != tc.field {
			t.Errorf("%s: %d %v, want 400 naming %s", tc.body, status, m, tc.field)
		}
	}
	// Hosts browsers take that IDNA's lookup profile refuses: the edge
	// sends them by the mapping they are checked with (shared/urlhost).
	for _, u := range []string{"https://a_ü.example/ä", "https://-ü.example/ä"} {
		e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"`+u+`"}`)
	}
	// Every invalid field is reported at once.
	_, m, _ := e.call(t, "POST", "/v1/links", e.key, `{"url":"ftp://x","redirectStatus":1,"maxClicks":-1}`)
	if details := m["error"].(map[string]any)["details"].([]any); len(details) != 3 {
		t.Errorf("details %v", details)
	}
}

func TestLinkUpdateInfoUpsert(t *testing.T) {
	e := mustStart(t)
	l := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com/a","key":"old","externalId":"ext-1","tags":["a"]}`)
	id := l["id"].(string)
	// A slug change: the old one stops resolving.
	u := e.mustCall(t, 200, "PATCH", "/v1/links/"+id, e.key, `{"key":"new","title":"T","tags":["A","b"],"expiresAt":null}`)
	if u["key"] != "new" || u["title"] != "T" || fmt.Sprint(u["tags"]) != "[a b]" {
		t.Errorf("patched %v", u)
	}
	if _, ok := edgeRecord(t, e, "old"); ok {
		t.Error("old slug still on the edge")
	}
	if rec, ok := edgeRecord(t, e, "new"); !ok || rec.Version != 2 {
		t.Errorf("new slug on the edge: %+v %v", rec, ok)
	}
	// Clearing with null, and url cannot go.
	if u := e.mustCall(t, 200, "PATCH", "/v1/links/"+id, e.key, `{"title":null}`); u["title"] != nil {
		t.Errorf("title after null %v", u["title"])
	}
	if status, _, _ := e.call(t, "PATCH", "/v1/links/"+id, e.key, `{"url":null}`); status != 400 {
		t.Errorf("url null: %d", status)
	}
	other := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com/b","key":"taken"}`)
	if status, m, _ := e.call(t, "PATCH", "/v1/links/"+id, e.key, `{"key":"taken"}`); status != 409 || errCode(m) != "ALREADY_EXIST" {
		t.Errorf("rename onto a taken key: %d %v", status, m)
	}
	if status, _, _ := e.call(t, "PATCH", "/v1/links/"+other["id"].(string), e.key, `{"externalId":"ext-1"}`); status != 409 {
		t.Errorf("taken externalId: %d", status)
	}
	// Info by domain+key and by externalId.
	if got := e.mustCall(t, 200, "GET", "/v1/links/info?domain=localhost&key=new", e.key, ""); got["id"] != id {
		t.Errorf("info by key %v", got)
	}
	if got := e.mustCall(t, 200, "GET", "/v1/links/info?externalId=ext-1", e.key, ""); got["id"] != id {
		t.Errorf("info by externalId %v", got)
	}
	e.mustCall(t, 404, "GET", "/v1/links/info?key=nope", e.key, "")
	e.mustCall(t, 400, "GET", "/v1/links/info", e.key, "")
	// Upsert: the same url returns (and updates) the existing link.
	up := e.mustCall(t, 201, "PUT", "/v1/links/upsert", e.key, `{"url":"https://example.com/up"}`)
	again := e.mustCall(t, 200, "PUT", "/v1/links/upsert", e.key, `{"url":"https://example.com/up","title":"now titled"}`)
	if again["id"] != up["id"] || again["title"] != "now titled" {
		t.Errorf("upsert %v then %v", up, again)
	}
	// The most common upsert sends only the url: the second call answers
	// the existing link as it is.
	first := e.mustCall(t, 201, "PUT", "/v1/links/upsert", e.key, `{"url":"https://example.com/upsert-me"}`)
	second := e.mustCall(t, 200, "PUT", "/v1/links/upsert", e.key, `{"url":"https://example.com/upsert-me"}`)
	if second["id"] != first["id"] || second["updatedAt"] != first["updatedAt"] {
		t.Errorf("upsert with only a url: %v then %v", first, second)
	}
}

func TestLinkListsCountsAndBulk(t *testing.T) {
	e := mustStart(t)
	e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com/first","key":"first"}`)
	e.mustCall(t, 200, "DELETE", "/v1/links/"+e.mustCall(t, 200, "GET", "/v1/links/info?key=first", e.key, "")["id"].(string), e.key, "")
	// Bulk create: one raft entry for the batch, per-item results in order.
	before := e.edge.AppliedIndex()
	res := e.mustCall(t, 200, "POST", "/v1/links/bulk", e.key, `[
		{"url":"https://example.com/1","key":"b1","tags":["red"]},
		{"url":"javascript:x"},
		{"url":"https://example.com/2","key":"b2","tags":["red","blue"],"externalId":"e2"},
		{"url":"https://example.com/3","key":"b1"},
		{"url":"https://example.com/4","key":"b4","bogus":1},
		{"url":"https://example.com/5","key":"b5","archived":true}
	]`)["data"].([]any)
	var codes []string
	for _, r := range res {
		item := r.(map[string]any)
		if item["error"] != nil {
			codes = append(codes, errCode(item))
		} else {
			codes = append(codes, "ok")
		}
	}
	if strings.Join(codes, " ") != "ok VALIDATION_ERROR ok ALREADY_EXIST VALIDATION_ERROR ok" {
		t.Errorf("bulk results %v", codes)
	}
	if got := e.edge.AppliedIndex() - before; got != 1 {
		t.Errorf("bulk create took %d raft entries, want 1", got)
	}
	for i := range 4 {
		e.mustCall(t, 201, "POST", "/v1/links", e.key, fmt.Sprintf(`{"url":"https://example.com/l%d","key":"l%d"}`, i, i))
	}
	page := func(q string) (keys []string, next string) {
		m := e.mustCall(t, 200, "GET", "/v1/links?"+q, e.key, "")
		for _, l := range m["data"].([]any) {
			keys = append(keys, l.(map[string]any)["key"].(string))
		}
		next, _ = m["nextCursor"].(string)
		return keys, next
	}
	keys, next := page("limit=3")
	if strings.Join(keys, ",") != "l3,l2,l1" || next == "" {
		t.Errorf("page 1 %v %q", keys, next)
	}
	keys, next = page("limit=3&cursor=" + next)
	if strings.Join(keys, ",") != "l0,b5,b2" {
		t.Errorf("page 2 %v", keys)
	}
	keys, next = page("limit=3&cursor=" + next)
	if strings.Join(keys, ",") != "b1" || next != "" {
		t.Errorf("page 3 %v %q", keys, next)
	}
	for q, want := range map[string]string{
		"tag=RED":                  "b2,b1",
		"tag=nope":                 "",
		"search=example.com/l":     "l3,l2,l1,l0",
		"externalId=e2":            "b2",
		"archived=true":            "b5",
		"order=asc&limit=2":        "b1,b2",
		"createdBy=usr_1&tag=blue": "b2",
	} {
		if keys, _ := page(q); strings.Join(keys, ",") != want {
			t.Errorf("%s: %v, want %s", q, keys, want)
		}
	}
	e.mustCall(t, 400, "GET", "/v1/links?sort=popularity", e.key, "")
	e.mustCall(t, 400, "GET", "/v1/links?limit=101", e.key, "")
	_, first := page("limit=1")
	e.mustCall(t, 400, "GET", "/v1/links?order=asc&cursor="+first, e.key, "")

	if c := e.mustCall(t, 200, "GET", "/v1/links/count", e.key, ""); c["count"] != float64(7) {
		t.Errorf("count %v", c)
	}
	tags := e.mustCall(t, 200, "GET", "/v1/links/count?groupBy=tag", e.key, "")["groups"].([]any)
	if len(tags) != 2 {
		t.Errorf("by tag %v", tags)
	}
	if d := e.mustCall(t, 200, "GET", "/v1/links/count?groupBy=domain", e.key, "")["groups"].([]any); len(d) != 1 || d[0].(map[string]any)["count"] != float64(7) {
		t.Errorf("by domain %v", d)
	}

	// Bulk update by externalIds and ids, then bulk delete: one entry each.
	before = e.edge.AppliedIndex()
	upd := e.mustCall(t, 200, "PATCH", "/v1/links/bulk", e.key, `{"externalIds":["e2","missing"],"data":{"disabled":true}}`)["data"].([]any)
	if upd[0].(map[string]any)["link"].(map[string]any)["disabled"] != true || errCode(upd[1].(map[string]any)) != "NOT_FOUND" {
		t.Errorf("bulk update %v", upd)
	}
	if rec, _ := edgeRecord(t, e, "b2"); !rec.Disabled {
		t.Error("disabled did not reach the edge")
	}
	e.mustCall(t, 400, "PATCH", "/v1/links/bulk", e.key, `{"ids":["x"],"data":{"key":"same-for-all"}}`)
	ids := []string{}
	for _, k := range []string{"l0", "l1"} {
		ids = append(ids, e.mustCall(t, 200, "GET", "/v1/links/info?key="+k, e.key, "")["id"].(string))
	}
	del := e.mustCall(t, 200, "DELETE", "/v1/links/bulk", e.key, `{"ids":["`+ids[0]+`","`+ids[1]+`","link_nope"]}`)["data"].([]any)
	if len(del) != 3 || errCode(del[2].(map[string]any)) != "NOT_FOUND" {
		t.Errorf("bulk delete %v", del)
	}
	if got := e.edge.AppliedIndex() - before; got != 2 {
		t.Errorf("bulk update + delete took %d raft entries, want 2", got)
	}
	if _, ok := edgeRecord(t, e, "l0"); ok {
		t.Error("bulk-deleted link still on the edge")
	}
	tooMany := "[" + strings.TrimSuffix(strings.Repeat(`{"url":"https://example.com"},`, 1001), ",") + "]"
	e.mustCall(t, 400, "POST", "/v1/links/bulk", e.key, tooMany)
}

func TestTags(t *testing.T) {
	e := mustStart(t)
	tag := e.mustCall(t, 201, "POST", "/v1/tags", e.key, `{"name":"Launch","color":"red"}`)
	if status, m, _ := e.call(t, "POST", "/v1/tags", e.key, `{"name":"launch"}`); status != 409 || errCode(m) != "ALREADY_EXIST" {
		t.Errorf("same name other case: %d %v", status, m)
	}
	e.mustCall(t, 400, "POST", "/v1/tags", e.key, `{"name":"x","color":"chartreuse"}`)
	e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com","key":"tagged","tags":["LAUNCH"]}`)
	if got := e.mustCall(t, 200, "GET", "/v1/links/info?key=tagged", e.key, ""); fmt.Sprint(got["tags"]) != "[Launch]" {
		t.Errorf("tag names on link %v", got["tags"])
	}
	renamed := e.mustCall(t, 200, "PATCH", "/v1/tags/"+tag["id"].(string), e.key, `{"name":"Go-live"}`)
	if renamed["name"] != "Go-live" || renamed["color"] != "red" {
		t.Errorf("renamed %v", renamed)
	}
	if got := e.mustCall(t, 200, "GET", "/v1/links/info?key=tagged", e.key, ""); fmt.Sprint(got["tags"]) != "[Go-live]" {
		t.Errorf("after rename %v", got["tags"])
	}
	if list := e.mustCall(t, 200, "GET", "/v1/tags", e.key, "")["data"].([]any); len(list) != 1 {
		t.Errorf("tags %v", list)
	}
	e.mustCall(t, 200, "DELETE", "/v1/tags/"+tag["id"].(string), e.key, "")
	if got := e.mustCall(t, 200, "GET", "/v1/links/info?key=tagged", e.key, ""); fmt.Sprint(got["tags"]) != "[]" {
		t.Errorf("after delete %v", got["tags"])
	}
	e.mustCall(t, 404, "DELETE", "/v1/tags/"+tag["id"].(string), e.key, "")
}

func TestImportExport(t *testing.T) {
	e := mustStart(t)
	for _, fixture := range []string{"native.csv", "bitly.csv", "shlink.csv"} {
		data, err := os.ReadFile("../linkcsv/testdata/" + fixture)
		if err != nil {
			t.Fatal(err)
		}
		_, m, r := e.call(t, "POST", "/v1/links/import", e.key, string(data), "Content-Type", "text/csv")
		if r.status != 200 || m["imported"].(float64) < 1 {
			t.Errorf("%s: %d %s", fixture, r.status, r.body)
		}
		for _, row := range m["rows"].([]any) {
			if row := row.(map[string]any); row["error"] != nil && errCode(row) == "INTERNAL" {
				t.Errorf("%s line %v: %v", fixture, row["line"], row["error"])
			}
		}
	}
	// A row that fails leaves nothing behind; the others go in.
	_, m, _ := e.call(t, "POST", "/v1/links/import", e.key, "url,key,tags\nhttps://example.com/ok,imp-ok,newtag\njavascript:x,imp-bad,othertag\n")
	if m["imported"] != float64(1) || m["failed"] != float64(1) {
		t.Fatalf("import %v", m)
	}
	for _, tg := range e.mustCall(t, 200, "GET", "/v1/tags", e.key, "")["data"].([]any) {
		if tg.(map[string]any)["name"] == "othertag" {
			t.Error("the failed row created its tag")
		}
	}
	e.mustCall(t, 400, "POST", "/v1/links/import", e.key, "not,a,known,header\n1,2,3,4\n")

	// Export streams every link, and re-reads as H0p's format.
	r := e.do(t, "GET", "/v1/links/export", e.key, nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("export %d %v", r.status, r.header)
	}
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	count := e.mustCall(t, 200, "GET", "/v1/links/count", e.key, "")["count"].(float64)
	if len(rows)-1 != int(count) || rows[0][0] != "url" {
		t.Errorf("export has %d rows for %v links; header %v", len(rows)-1, count, rows[0])
	}
}

func TestPlans(t *testing.T) {
	e := mustStart(t)
	free := mustOrgOnPlan(t, e, "free", "free")
	pro := mustOrgOnPlan(t, e, "pro", "pro")
	for i := range 25 {
		e.mustCall(t, 201, "POST", "/v1/links", free, fmt.Sprintf(`{"url":"https://example.com/%d"}`, i))
	}
	status, m, _ := e.call(t, "POST", "/v1/links", free, `{"url":"https://example.com/26"}`)
	if status != 403 || errCode(m) != "PLAN_LIMIT_REACHED" || !strings.Contains(fmt.Sprint(m), "linksPerMonth") {
		t.Errorf("26th link on free: %d %v", status, m)
	}
	// Deleting does not give the month's quota back.
	list := e.mustCall(t, 200, "GET", "/v1/links?limit=1", free, "")["data"].([]any)
	e.mustCall(t, 200, "DELETE", "/v1/links/"+list[0].(map[string]any)["id"].(string), free, "")
	e.mustCall(t, 403, "POST", "/v1/links", free, `{"url":"https://example.com/27"}`)
	org := e.mustCall(t, 200, "GET", "/v1/org", free, "")
	if org["plan"] != "free" || org["usage"].(map[string]any)["linksCreatedThisMonth"] != float64(25) ||
		org["limits"].(map[string]any)["linksPerMonth"] != float64(25) || org["features"].(map[string]any)["passwordLinks"] == true {
		t.Errorf("org %v", org)
	}
	// Next month the quota is back.
	e.now = e.now.AddDate(0, 1, 0)
	e.mustCall(t, 201, "POST", "/v1/links", free, `{"url":"https://example.com/next-month"}`)

	for _, tc := range []struct{ key, body, code, names string }{
		{free, `{"url":"https://example.com","password":"x"}`, "FEATURE_NOT_AVAILABLE", "passwordLinks"},
		{free, `{"url":"https://example.com","ios":"https://apps.apple.com/x"}`, "FEATURE_NOT_AVAILABLE", "targetingRules"},
		{pro, `{"url":"https://example.com","variants":[{"url":"https://a.example","weight":50},{"url":"https://b.example","weight":50}]}`, "FEATURE_NOT_AVAILABLE", "abVariants"},
	} {
		if status, m, _ := e.call(t, "POST", "/v1/links", tc.key, tc.body); status != 403 || errCode(m) != tc.code || !strings.Contains(fmt.Sprint(m), tc.names) {
			t.Errorf("%s: %d %v", tc.body, status, m)
		}
	}
	e.mustCall(t, 201, "POST", "/v1/links", pro, `{"url":"https://example.com","password":"x","geo":{"US":"https://example.us"}}`)

	// Tags: free allows 5.
	for i := range 5 {
		e.mustCall(t, 201, "POST", "/v1/tags", free, fmt.Sprintf(`{"name":"t%d"}`, i))
	}
	if status, m, _ := e.call(t, "POST", "/v1/tags", free, `{"name":"t5"}`); status != 403 || errCode(m) != "PLAN_LIMIT_REACHED" {
		t.Errorf("6th tag: %d %v", status, m)
	}
	// API keys: free allows 3 (the Owner key is one).
	for i := range 2 {
		e.mustCall(t, 201, "POST", "/v1/api-keys", free, fmt.Sprintf(`{"name":"k%d","type":"bot"}`, i))
	}
	if status, m, _ := e.call(t, "POST", "/v1/api-keys", free, `{"name":"k3","type":"bot"}`); status != 403 || errCode(m) != "PLAN_LIMIT_REACHED" {
		t.Errorf("4th key: %d %v", status, m)
	}
	_ = apikey.Bot
	_ = store.Org{}
}

func manyTags(n int) string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf(`"tag%d"`, i))
	}
	return strings.Join(out, ",")
}

func manyRules(n int) string {
	var out []string
	for range n {
		out = append(out, `{"url":"https://x.example","device":["ios"]}`)
	}
	return strings.Join(out, ",")
}

// Single creates that arrive together are written as one bulk per org
// (links/coalesce.go); every caller still gets its own answer: plan limits
// and taken keys are decided per create, and each create has its own audit
// entry, in its own org.
func TestConcurrentSingleCreates(t *testing.T) {
	e := mustStart(t)
	free := mustOrgOnPlan(t, e, "free", "free") // 25 links a month
	pro := mustOrgOnPlan(t, e, "pro", "pro")
	type outcome struct {
		org    string
		status int
		id     string
		code   string
	}
	var (
		mu  sync.Mutex
		out []outcome
		wg  sync.WaitGroup
	)
	create := func(org, key, body string) {
		status, m, _ := e.call(t, "POST", "/v1/links", key, body)
		id, _ := m["id"].(string)
		mu.Lock()
		out = append(out, outcome{org, status, id, errCode(m)})
		mu.Unlock()
	}
	for i := range 40 {
		wg.Go(func() { create("free", free, fmt.Sprintf(`{"url":"https://example.com/free/%d"}`, i)) })
		wg.Go(func() { create("pro", pro, fmt.Sprintf(`{"url":"https://example.com/pro/%d"}`, i)) })
		body := fmt.Sprintf(`{"url":"https://example.com/own/%d"}`, i)
		if i%8 == 0 {
			body = fmt.Sprintf(`{"url":"https://example.com/own/%d","key":"wanted"}`, i)
		}
		wg.Go(func() { create("1", e.key, body) })
	}
	wg.Wait()

	count := map[string]int{}
	for _, o := range out {
		count[fmt.Sprintf("%s %d %s", o.org, o.status, o.code)]++
		if o.status != 201 {
			continue
		}
		l, err := e.store.Link(context.Background(), "org_"+o.org, o.id)
		if err != nil {
			t.Errorf("created %s is not in org_%s: %v", o.id, o.org, err)
			continue
		}
		if rec, ok := edgeRecord(t, e, l.Key); !ok || rec.ID != o.id {
			t.Errorf("%s (%s) is not on the edge after its 201", o.id, l.Key)
		}
		audit, err := e.store.AuditLogs(context.Background(), store.AuditFilter{OrgID: "org_" + o.org, ResourceID: o.id, Limit: 10})
		if err != nil || len(audit) != 1 || audit[0].Action != "link.created" ||
			!strings.Contains(string(audit[0].Diff), `"id":"`+o.id+`"`) || !strings.Contains(string(audit[0].Diff), `"key":"`+l.Key+`"`) {
			t.Errorf("audit of %s: %+v %v", o.id, audit, err)
		}
	}
	want := map[string]int{
		"free 201 ": 25, "free 403 PLAN_LIMIT_REACHED": 15,
		"pro 201 ": 40,
		"1 201 ":   36, "1 409 ALREADY_EXIST": 4,
	}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("outcomes %v, want %v", count, want)
	}
}

// A file refused as a whole creates nothing: it is read to its end before
// the first link is created.
func TestImportRefusedFileCreatesNothing(t *testing.T) {
	e := mustStart(t)
	var b strings.Builder
	b.WriteString("url,key\n")
	for i := range linkcsv.MaxRows + 1 {
		fmt.Fprintf(&b, "https://example.com/%d,k%d\n", i, i)
	}
	status, m, _ := e.call(t, "POST", "/v1/links/import", e.key, b.String(), "Content-Type", "text/csv")
	if status != 400 || errCode(m) != "VALIDATION_ERROR" || !strings.Contains(fmt.Sprint(m), "rows") {
		t.Errorf("import of %d rows: %d %v", linkcsv.MaxRows+1, status, m)
	}
	if n := e.linkCount(t, "org_1"); n != 0 {
		t.Errorf("the refused file created %d links", n)
	}
}
