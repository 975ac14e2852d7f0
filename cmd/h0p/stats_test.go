package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/h0p/h0p/control/analytics/chstore/chtest"
	"github.com/h0p/h0p/control/ratelimit"
)

// statsGet calls a stats endpoint and decodes its JSON answer into out.
func (r *runningDev) statsGet(t *testing.T, key, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+r.control.Addr()+path, nil)
	req.Header.Set("x-api-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v in %s", path, err, b)
		}
	}
	return resp.StatusCode
}

// visit is one redirect of the traffic: which link, as whom.
type visit struct {
	key, ua, ip, referer string
	qr                   bool
}

// The proof on h0p dev: 10,000 redirects with varied User-Agents,
// client addresses (through a trusted proxy), referrers, QR scans and
// bots go edge → spool → control, and every stats grouping, filter,
// exclusion, unique count and zone answers exactly what was sent.
func TestDevStatsCountEveryRedirectExactly(t *testing.T) { testDevStats(t, "") }

// The same with the click store on ClickHouse.
func TestDevStatsCountEveryRedirectExactlyOnClickHouse(t *testing.T) {
	testDevStats(t, chtest.Database(t))
}

func testDevStats(t *testing.T, clickhouseURL string) {
	cfg := devConfig{APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0",
		DataDir: t.TempDir(), DefaultDomain: "localhost", Trusted: "127.0.0.1/32", ClickHouseURL: clickhouseURL,
		RateLimits: ratelimit.Limits{PerSecond: 10_000, PerMinute: 1_000_000}}
	d := mustStartDevWith(t, cfg, quiet)
	defer d.stop(t)
	key := keyLine.FindStringSubmatch(d.stdout)[1]
	for _, body := range []string{
		`{"url":"https://example.com/a","key":"a","tags":["promo"],"utm":{"source":"newsletter"}}`,
		`{"url":"https://example.com/b","key":"b"}`,
		`{"url":"https://example.com/probe","key":"probe"}`,
	} {
		if status, l := d.api(t, "POST", "/v1/links", key, body); status != 201 {
			t.Fatalf("create: %d %v", status, l)
		}
	}
	uas := []string{
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
		"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
		"curl/8.5.0",
	}
	ips := []string{"8.8.8.8", "81.2.69.142", "200.147.67.142", "2001:4860:4860::8888", "203.0.113.7"}
	referers := []string{"https://news.example/today", "https://t.co/xyz", ""}

	client := &http.Client{CheckRedirect: noRedirect.CheckRedirect, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	send := func(v visit) {
		u := "http://" + d.edge.Addr() + "/" + v.key
		if v.qr {
			u += "?qr=1"
		}
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("User-Agent", v.ua)
		req.Header.Set("X-Forwarded-For", v.ip)
		if v.referer != "" {
			req.Header.Set("Referer", v.referer)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 302 {
			t.Errorf("%s: %d", u, resp.StatusCode)
		}
	}
	// What the edge makes of each User-Agent and address, learnt from one
	// probe each: the counts below then test the counting, exactly.
	for i, ua := range uas {
		send(visit{key: "probe", ua: ua, ip: ips[i]})
	}
	var probes struct {
		Data []map[string]any `json:"data"`
	}
	waitFor(t, func() bool {
		d.statsGet(t, key, "/v1/events?key=probe&bots=include", &probes)
		return len(probes.Data) == len(uas)
	})
	agent, country := map[string][3]string{}, map[string]string{}
	bot := map[string]bool{}
	for i := range uas {
		e := probes.Data[len(uas)-1-i] // newest first
		agent[uas[i]] = [3]string{e["device"].(string), e["browser"].(string), e["os"].(string)}
		country[ips[i]] = e["country"].(string)
		bot[uas[i]] = e["bot"].(bool)
	}
	if !bot["curl/8.5.0"] || bot[uas[0]] {
		t.Fatalf("bot flags %v", bot)
	}

	// The traffic, and what it should count.
	const n = 10_000
	var visits []visit
	for i := range n {
		v := visit{key: "a", ua: uas[i%len(uas)], ip: ips[(i/len(uas))%len(ips)], referer: referers[i%len(referers)], qr: i%7 == 0}
		if i%3 == 0 {
			v.key = "b"
		}
		visits = append(visits, v)
	}
	work := make(chan visit)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for v := range work {
				send(v)
			}
		})
	}
	for _, v := range visits {
		work <- v
	}
	close(work)
	wg.Wait()

	type tally map[string]int64
	humans, all := tally{}, tally{}
	byKey := func(m tally, k string) { m[k]++ }
	want := map[string]tally{}
	count := func(group, value string) {
		if want[group] == nil {
			want[group] = tally{}
		}
		want[group][value]++
	}
	visitors := map[string]bool{}
	usVisitorsOnA := map[string]bool{}
	var aClicks, bClicks, notUS, bMobile int64
	for _, v := range visits {
		byKey(all, v.key)
		if bot[v.ua] {
			continue
		}
		byKey(humans, v.key)
		ag := agent[v.ua]
		count("devices", ag[0])
		count("browsers", ag[1])
		count("os", ag[2])
		count("countries", orUnknown(country[v.ip]))
		ref := "(direct)"
		if v.referer != "" {
			u, _ := url.Parse(v.referer)
			ref = u.Host
		}
		count("referers", ref)
		trig := "link"
		if v.qr {
			trig = "qr"
		}
		count("triggers", trig)
		visitors[v.ip] = true
		if v.key == "a" {
			aClicks++
			count("utm_sources", "newsletter")
			count("top_tags", "promo")
			if country[v.ip] == "US" {
				usVisitorsOnA[v.ip] = true
			}
		} else {
			bClicks++
			if strings.EqualFold(ag[0], "mobile") {
				bMobile++
			}
		}
		if country[v.ip] != "US" {
			notUS++
		}
	}
	total := aClicks + bClicks

	var count0 struct{ Clicks int64 }
	waitFor(t, func() bool {
		d.statsGet(t, key, "/v1/stats?groupBy=count&interval=24h&key=a,b&bots=include", &count0)
		return count0.Clicks == int64(n)
	})

	var c struct{ Clicks, Visitors int64 }
	for path, wantClicks := range map[string]int64{
		"/v1/stats?key=a,b":                               total,
		"/v1/stats?groupBy=count&key=a":                   aClicks,
		"/v1/stats?groupBy=count&key=a,b&bots=only":       int64(n) - total,
		"/v1/stats?groupBy=count&key=a,b&country=-US":     notUS,
		"/v1/stats?groupBy=count&key=b&device=mobile":     bMobile,
		"/v1/stats?groupBy=count&tag=promo":               aClicks,
		"/v1/stats?groupBy=count&tag=-promo&key=a,b":      bClicks,
		"/v1/stats?groupBy=count&key=a,b&trigger=qr,link": total,
		"/v1/stats?groupBy=count&interval=7d&key=a,b":     total,
	} {
		c.Clicks = -1
		if status := d.statsGet(t, key, path, &c); status != 200 || c.Clicks != wantClicks {
			t.Errorf("%s: %d, clicks %d, want %d", path, status, c.Clicks, wantClicks)
		}
	}
	if d.statsGet(t, key, "/v1/stats?groupBy=count&key=a,b&unique=true", &c); c.Visitors != int64(len(visitors)) {
		t.Errorf("unique visitors %d, want %d", c.Visitors, len(visitors))
	}
	if d.statsGet(t, key, "/v1/stats?groupBy=count&key=a&country=US&unique=true", &c); c.Visitors != int64(len(usVisitorsOnA)) {
		t.Errorf("unique US visitors of a %d, want %d", c.Visitors, len(usVisitorsOnA))
	}

	field := map[string]string{"devices": "device", "browsers": "browser", "os": "os", "countries": "country",
		"referers": "referer", "triggers": "trigger", "utm_sources": "utm_source", "top_tags": "tag"}
	for group, wantRows := range want {
		var rows []map[string]any
		if status := d.statsGet(t, key, "/v1/stats?key=a,b&groupBy="+group, &rows); status != 200 {
			t.Errorf("%s: %d", group, status)
			continue
		}
		got := tally{}
		for _, r := range rows {
			got[fmt.Sprint(r[field[group]])] = int64(r["clicks"].(float64))
		}
		if fmt.Sprint(got) != fmt.Sprint(wantRows) {
			t.Errorf("%s: %v, want %v", group, got, wantRows)
		}
	}
	var top []map[string]any
	d.statsGet(t, key, "/v1/stats?groupBy=top_links&key=a,b", &top)
	if len(top) != 2 || top[0]["key"] != "a" || int64(top[0]["clicks"].(float64)) != aClicks {
		t.Errorf("top_links %v", top)
	}

	// Day buckets follow the zone: in Kiritimati (UTC+14) today's clicks
	// fall in the bucket of its own midnight.
	var series []struct {
		Start  string
		Clicks int64
	}
	if status := d.statsGet(t, key, "/v1/stats?groupBy=timeseries&interval=7d&granularity=day&timezone=Pacific/Kiritimati&key=a,b", &series); status != 200 {
		t.Fatalf("timeseries: %d", status)
	}
	var sum int64
	for _, p := range series {
		sum += p.Clicks
		if !strings.HasSuffix(p.Start, "T00:00:00+14:00") {
			t.Errorf("bucket start %s is not midnight in Kiritimati", p.Start)
		}
	}
	if sum != total {
		t.Errorf("timeseries sums to %d, want %d", sum, total)
	}

	// A link's own counters moved: people only.
	_, a := d.api(t, "GET", "/v1/links/info?domain=localhost&key=a", key, "")
	if a["clicks"] != float64(aClicks) || a["lastClickedAt"] == nil {
		t.Errorf("link a: clicks %v, lastClickedAt %v; want %d", a["clicks"], a["lastClickedAt"], aClicks)
	}
	// Bad input names its parameter.
	for path, param := range map[string]string{
		"/v1/stats?groupBy=weekday":                 "groupBy",
		"/v1/stats?interval=2w":                     "interval",
		"/v1/stats?timezone=Mars/Olympus":           "timezone",
		"/v1/stats?start=2026-12-05&end=2026-12-01": "start",
		"/v1/stats?trigger=email":                   "trigger",
		"/v1/stats?colour=red":                      "colour",
	} {
		req, _ := http.NewRequest("GET", "http://"+d.control.Addr()+path, nil)
		req.Header.Set("x-api-key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error struct {
				Code    string
				Details []struct{ Field string }
			}
		}
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != 400 || e.Error.Code != "VALIDATION_ERROR" || len(e.Error.Details) == 0 || e.Error.Details[0].Field != param {
			t.Errorf("%s: %d %+v, want a VALIDATION_ERROR naming %s", path, resp.StatusCode, e.Error, param)
		}
	}
	// The export has a row per click, after its header.
	req, _ := http.NewRequest("GET", "http://"+d.control.Addr()+"/v1/stats/export?key=a,b&bots=include", nil)
	req.Header.Set("x-api-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if lines := strings.Count(string(body), "\n"); resp.StatusCode != 200 || lines != n+1 {
		t.Errorf("export: %d, %d lines, want %d", resp.StatusCode, lines, n+1)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
