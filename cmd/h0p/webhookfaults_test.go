package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Webhook delivery survives a control crash: 1,000 link.created messages,
// pending because the receiver answers 503, are all delivered after a
// SIGKILL of the control process and its restart on the same data (the
// store is PostgreSQL, raft in its data directory).
//
// The receiver fails until the kill, then answers 200. The kill comes once
// it has refused a first share of the attempts: at that moment some
// messages wait in backoff (attempted once), the rest were never tried,
// and events may not all be fanned out yet. So the restarted process must
// pick up every kind of pending work from the store; and since no attempt
// before the kill succeeded, the first retry of each message succeeds and
// the whole test fits in well under a minute (the first backoff is 5 s).
func TestFaultWebhookDeliveryThroughControlCrash(t *testing.T) {
	needFaults(t)
	const links = 1000
	recv := newWebhookReceiver(t)
	recv.failing.Store(true)
	c := newTestCluster(t, 1, 0, "--webhook-allow-http", "--webhook-allow-networks", "127.0.0.0/8")
	c.startAll()
	began := time.Now()

	// The bootstrap key is on disk just before its org commits: a 401
	// right after the start is retried.
	body := `{"url":"` + recv.URL + `/created","events":["link.created"]}`
	r := c.call("c1", "POST", "/v1/webhooks", body)
	for deadline := time.Now().Add(10 * time.Second); r.status == 401 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		r = c.call("c1", "POST", "/v1/webhooks", body)
	}
	if r.status != 201 {
		t.Fatalf("create endpoint: %d %v %v", r.status, r.body, r.err)
	}
	whID, secret := r.body["id"].(string), r.body["secret"].(string)

	items := make([]string, links)
	for i := range items {
		items[i] = fmt.Sprintf(`{"url":"https://example.com/crash/%d"}`, i)
	}
	r = c.call("c1", "POST", "/v1/links/bulk", "["+strings.Join(items, ",")+"]")
	if r.status != 200 {
		t.Fatalf("bulk create: %d %v %v", r.status, r.body, r.err)
	}
	created := map[string]bool{}
	for _, it := range r.body["data"].([]any) {
		l, _ := it.(map[string]any)["link"].(map[string]any)
		if l == nil {
			t.Fatalf("bulk create item failed: %v", it)
		}
		created[l["id"].(string)] = true
	}
	if len(created) != links {
		t.Fatalf("bulk create made %d links, want %d", len(created), links)
	}

	mustWaitUntil(t, 20*time.Second, "the first refused attempts", func() bool { return len(recv.received()) >= 100 })
	c.signal("c1", syscall.SIGKILL) // returns once it is dead
	refused := map[string]bool{}
	for _, h := range recv.received() {
		refused[h.header.Get("webhook-id")] = true
	}
	recv.failing.Store(false)
	if len(refused) >= links {
		t.Fatalf("every message was attempted before the kill: none was left untried")
	}
	t.Logf("control killed %v after the cluster was ready, with %d of %d messages attempted (all refused with 503)",
		time.Since(began).Round(time.Millisecond), len(refused), links)

	c.start("c1")
	c.waitReady("c1", 60*time.Second)
	restarted := time.Now()

	// Every delivery the receiver accepted: signed, link.created, one of
	// the links created; by webhook-id (a resend counts once but is
	// counted).
	delivered := map[string]string{} // webhook-id → link ID
	sends := map[string]int{}        // webhook-id → accepted requests
	checked := 0
	collect := func() {
		hs := recv.received()
		for _, h := range hs[checked:] {
			if h.status != 200 {
				continue
			}
			id := h.header.Get("webhook-id")
			if err := verifyWebhook(secret, h.header, h.body, h.at); err != nil {
				t.Fatalf("delivery %s: %v", id, err)
			}
			var m struct {
				Type string `json:"type"`
				Data struct {
					ID string `json:"id"`
				} `json:"data"`
			}
			if err := json.Unmarshal(h.body, &m); err != nil || m.Type != "link.created" || !created[m.Data.ID] {
				t.Fatalf("delivery %s: %v: %s", id, err, h.body)
			}
			if prev, ok := delivered[id]; ok && prev != m.Data.ID {
				t.Fatalf("webhook-id %s sent for %s and %s", id, prev, m.Data.ID)
			}
			delivered[id] = m.Data.ID
			sends[id]++
		}
		checked = len(hs)
	}
	mustWaitUntil(t, 45*time.Second, fmt.Sprintf("%d distinct deliveries", links), func() bool {
		collect()
		return len(delivered) >= links
	})
	t.Logf("%d messages delivered %v after the restart was ready (%v after the first start)", len(delivered),
		time.Since(restarted).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))

	byLink := map[string]bool{}
	dups := 0
	for id, l := range delivered {
		byLink[l] = true
		dups += sends[id] - 1
	}
	if len(byLink) != links {
		t.Errorf("%d webhook-ids carry %d distinct links, want the %d created", len(delivered), len(byLink), links)
	}
	t.Logf("duplicate deliveries (same webhook-id accepted again): %d", dups)

	// The deliveries log agrees: one message per link, each delivered, the
	// ones refused before the kill after more than one attempt.
	logged := map[string]bool{}
	retried := 0
	cursor := ""
	mustWaitUntil(t, 10*time.Second, "every message logged as delivered", func() bool {
		for {
			r := c.call("c1", "GET", "/v1/webhooks/"+whID+"/deliveries?limit=100&cursor="+url.QueryEscape(cursor), "")
			if r.status != 200 {
				t.Fatalf("deliveries: %d %v %v", r.status, r.body, r.err)
			}
			for _, it := range r.body["data"].([]any) {
				d := it.(map[string]any)
				if d["status"] != "delivered" {
					// Its 200 came, but is not recorded yet: read again.
					logged, retried, cursor = map[string]bool{}, 0, ""
					return false
				}
				id := d["id"].(string)
				logged[id] = true
				if refused[id] && d["attempts"].(float64) > 1 {
					retried++
				}
			}
			next, _ := r.body["nextCursor"].(string)
			if next == "" {
				return true
			}
			cursor = next
		}
	})
	for _, id := range slices.Sorted(maps.Keys(delivered)) {
		if !logged[id] {
			t.Errorf("message %s reached the receiver but is not in the deliveries log", id)
		}
	}
	if len(logged) != links {
		t.Errorf("deliveries log holds %d messages, want %d", len(logged), links)
	}
	t.Logf("%d of the %d messages refused before the kill show more than one attempt", retried, len(refused))
	if retried == 0 {
		t.Error("no message refused before the kill was retried after it: none was in backoff at the kill")
	}
}
