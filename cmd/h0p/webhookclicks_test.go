package main

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control/ratelimit"
)

// The verifier agrees with the Standard Webhooks spec's example, and
// refuses a changed body, another secret and a stale timestamp.
func TestVerifyWebhookStandardExample(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		body   = `{"test": 2432232314}`
	)
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,bm9ldHUjKzFob2VudXRob2VodWUzMjRvdWVvdW9ldQo= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	at := time.Unix(1614265330, 0)
	for _, tt := range []struct {
		name, secret, body string
		at                 time.Time
		ok                 bool
	}{
		{"valid", secret, body, at, true},
		{"changed body", secret, `{"test": 2432232315}`, at, false},
		{"other secret", "whsec_" + strings.Repeat("A", 32), body, at, false},
		{"stale", secret, body, at.Add(webhookTolerance + time.Second), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := verifyWebhook(tt.secret, h, []byte(tt.body), tt.at); (err == nil) != tt.ok {
				t.Errorf("verify: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// deliveredClick is one click of a link.clicked delivery and the link it
// came with.
type deliveredClick struct {
	msgID string
	click map[string]any
	link  map[string]any
}

// clicksOf reads the clicks of a link.clicked body: data {"click","link"}
// for one, {"clicks":[{"click","link"},…]} for a batch (batched).
func clicksOf(t *testing.T, msgID string, body []byte) (cs []deliveredClick, batched bool) {
	t.Helper()
	type one struct {
		Click map[string]any `json:"click"`
		Link  map[string]any `json:"link"`
	}
	var m struct {
		Type string `json:"type"`
		Data struct {
			one
			Clicks []one `json:"clicks"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.Type != "link.clicked" {
		t.Fatalf("delivery %s: type %q, %v: %s", msgID, m.Type, err, body)
	}
	items := m.Data.Clicks
	if m.Data.Click != nil {
		items = append(items, m.Data.one)
	}
	if len(items) == 0 {
		t.Fatalf("delivery %s has no click: %s", msgID, body)
	}
	for _, it := range items {
		cs = append(cs, deliveredClick{msgID, it.Click, it.Link})
	}
	return cs, m.Data.Click == nil
}

// Redirects on h0p dev's edge become signed link.clicked deliveries: the
// click as GET /v1/events shows it with its link, never an IP hash; an
// endpoint scoped to one link gets that link's clicks only, one with
// allLinks every click.
func TestDevWebhookLinkClicked(t *testing.T) {
	recv := newWebhookReceiver(t)
	cfg := devConfig{APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0",
		DataDir: t.TempDir(), DefaultDomain: "localhost", Trusted: "127.0.0.1/32",
		RateLimits: ratelimit.Limits{PerSecond: 10_000, PerMinute: 1_000_000},
		Webhooks:   webhookFlags{allowHTTP: true, allowNetworks: "127.0.0.0/8"}}
	d := mustStartDevWith(t, cfg, quiet)
	defer d.stop(t)
	key := keyLine.FindStringSubmatch(d.stdout)[1]
	edgePort := d.edge.Addr()[strings.LastIndex(d.edge.Addr(), ":")+1:]

	linkID := map[string]string{}
	for _, k := range []string{"in", "out"} {
		status, l := d.api(t, "POST", "/v1/links", key, `{"url":"https://example.com/`+k+`","key":"`+k+`"}`)
		if status != 201 {
			t.Fatalf("create %s: %d %v", k, status, l)
		}
		linkID[k] = l["id"].(string)
	}
	secret := map[string]string{} // receiver path → its endpoint's secret
	webhookID := map[string]string{}
	for path, scope := range map[string]string{
		"/scoped": `"linkIds":["` + linkID["in"] + `"]`,
		"/all":    `"allLinks":true`,
	} {
		status, wh := d.api(t, "POST", "/v1/webhooks", key, `{"url":"`+recv.URL+path+`","events":["link.clicked"],`+scope+`}`)
		if status != 201 {
			t.Fatalf("create endpoint %s: %d %v", path, status, wh)
		}
		secret[path], webhookID[path] = wh["secret"].(string), wh["id"].(string)
	}

	const (
		iPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
		firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	)
	// Each visit differs from the others in its trigger, bot flag or
	// link, which is how its click is recognised below.
	visits := []clickVisit{
		{"qr", "in", iPhone, "8.8.8.8", "https://news.example/today", "?qr=1", map[string]any{
			"country": "US", "device": "Mobile", "browser": "Safari", "os": "iOS",
			"referer": "news.example", "trigger": "qr", "bot": false}},
		{"curl", "in", "curl/8.5.0", "8.8.8.8", "", "", map[string]any{
			"country": "US", "device": "Bot", "referer": "", "trigger": "link", "bot": true}},
		{"outside", "out", firefox, "8.8.8.8", "https://t.co/xyz", "", map[string]any{
			"country": "US", "browser": "Firefox", "os": "Linux", "referer": "t.co", "trigger": "link", "bot": false}},
		// Sent alone once the others are delivered: a lone click, in its
		// own shape.
		{"late", "in", firefox, "81.2.69.142", "", "", map[string]any{
			"country": "GB", "device": "Desktop", "browser": "Firefox", "os": "Linux", "referer": "", "trigger": "link", "bot": false}},
	}
	send := func(v clickVisit) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+d.edge.Addr()+"/"+v.key+v.query, nil)
		req.Host = "localhost"
		req.Header.Set("User-Agent", v.ua)
		req.Header.Set("X-Forwarded-For", v.ip)
		if v.referer != "" {
			req.Header.Set("Referer", v.referer)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 302 {
			t.Fatalf("%s: %d", v.name, resp.StatusCode)
		}
	}
	whichVisit := func(c map[string]any) string {
		switch {
		case c["linkId"] == linkID["out"]:
			return "outside"
		case c["trigger"] == "qr":
			return "qr"
		case c["bot"] == true:
			return "curl"
		case c["linkId"] == linkID["in"]:
			return "late"
		}
		return "unknown"
	}

	// Every delivery, checked as it comes: signed with its endpoint's
	// secret, no IP (hashed or not) anywhere in it; its clicks by visit,
	// per endpoint, distinct click IDs (a message sent twice counts once).
	got := map[string]map[string]deliveredClick{} // path → click ID → click
	seen := map[string]bool{}                     // requests checked, by webhook-id and path
	shapes := map[string]map[bool]int{}           // path → batched? → requests
	collect := func() {
		for _, r := range recv.received() {
			id := r.header.Get("webhook-id")
			if seen[r.path+" "+id] {
				continue
			}
			seen[r.path+" "+id] = true
			if err := verifyWebhook(secret[r.path], r.header, r.body, r.at); err != nil {
				t.Fatalf("delivery %s to %s: %v", id, r.path, err)
			}
			lower := strings.ToLower(string(r.body))
			for _, bad := range []string{"iphash", "ip_hash", "8.8.8.8", "81.2.69.142", "127.0.0.1"} {
				if strings.Contains(lower, bad) {
					t.Fatalf("delivery %s holds %q: %s", id, bad, r.body)
				}
			}
			if got[r.path] == nil {
				got[r.path] = map[string]deliveredClick{}
			}
			cs, batched := clicksOf(t, id, r.body)
			if shapes[r.path] == nil {
				shapes[r.path] = map[bool]int{}
			}
			shapes[r.path][batched]++
			for _, c := range cs {
				got[r.path][c.click["id"].(string)] = c
			}
		}
	}
	for round, vs := range [][]clickVisit{visits[:3], visits[3:]} {
		start := time.Now()
		for _, v := range vs {
			send(v)
		}
		mustWaitUntil(t, 10*time.Second, "the allLinks endpoint's clicks", func() bool {
			collect()
			return len(got["/all"]) >= 3+round
		})
		t.Logf("round %d: clicks delivered to the allLinks endpoint %v after the redirects", round+1, time.Since(start).Round(time.Millisecond))
	}
	// Fan-out writes an event's messages for every endpoint in one
	// transaction: the scoped endpoint's are written by now; wait until
	// each is delivered, then it has all it will ever get.
	mustWaitUntil(t, 10*time.Second, "the scoped endpoint's deliveries", func() bool {
		status, page := d.api(t, "GET", "/v1/webhooks/"+webhookID["/scoped"]+"/deliveries?limit=100", key, "")
		if status != 200 {
			t.Fatalf("deliveries: %d %v", status, page)
		}
		ms, _ := page["data"].([]any)
		for _, m := range ms {
			if m.(map[string]any)["status"] != "delivered" {
				return false
			}
		}
		return len(ms) > 0
	})
	collect()

	stored := map[string]map[string]any{} // click ID → GET /v1/events view
	for _, k := range []string{"in", "out"} {
		var events struct {
			Data []map[string]any `json:"data"`
		}
		if status := d.statsGet(t, key, "/v1/events?key="+k+"&bots=include", &events); status != 200 {
			t.Fatalf("events of %s: %d", k, status)
		}
		for _, e := range events.Data {
			stored[e["id"].(string)] = e
		}
	}
	for path, want := range map[string][]string{"/all": {"curl", "late", "outside", "qr"}, "/scoped": {"curl", "late", "qr"}} {
		var names []string
		for id, c := range got[path] {
			name := whichVisit(c.click)
			names = append(names, name)
			if e, ok := stored[id]; !ok || !jsonEqual(e, c.click) {
				t.Errorf("%s: click %v, GET /v1/events shows %v", path, c.click, e)
			}
			i := slices.IndexFunc(visits, func(v clickVisit) bool { return v.name == name })
			if i < 0 {
				t.Errorf("%s: click of no visit: %v", path, c.click)
				continue
			}
			v := visits[i]
			fields := map[string]any{"linkId": linkID[v.key], "domain": "localhost", "key": v.key}
			maps.Copy(fields, v.want)
			for f, x := range fields {
				if c.click[f] != x {
					t.Errorf("%s: %s click %s = %v, want %v", path, name, f, c.click[f], x)
				}
			}
			for _, f := range []string{"id", "timestamp", "device", "browser", "os"} {
				if s, _ := c.click[f].(string); s == "" && !(v.want["bot"] == true && (f == "browser" || f == "os")) {
					t.Errorf("%s: %s click has no %s: %v", path, name, f, c.click)
				}
			}
			if c.link["id"] != linkID[v.key] || c.link["url"] != "https://example.com/"+v.key ||
				c.link["shortLink"] != "http://localhost:"+edgePort+"/"+v.key {
				t.Errorf("%s: %s click's link %v", path, name, c.link)
			}
		}
		slices.Sort(names)
		if !slices.Equal(names, want) {
			t.Errorf("%s got the clicks of %v, want %v", path, names, want)
		}
	}
	for path := range got {
		t.Logf("%s: %d clicks in %d batched and %d lone deliveries", path, len(got[path]), shapes[path][true], shapes[path][false])
		if shapes[path][false] == 0 {
			t.Errorf("%s: the late click did not come alone", path)
		}
	}
}

// clickVisit is one redirect of TestDevWebhookLinkClicked and the click
// fields it should give.
type clickVisit struct {
	name, key, ua, ip, referer, query string
	want                              map[string]any
}

// jsonEqual says whether a and b encode to the same JSON.
func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
