package links

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/webhooks"
	"github.com/h0p/h0p/shared/clicks"
)

var _ ClickWebhooks = (*webhooks.Subscriptions)(nil)

// mustWebhook stores an endpoint of org for events with scope.
func (s *stack) mustWebhook(t *testing.T, id, org, events, scope string, disabled bool) {
	t.Helper()
	w := store.Webhook{ID: id, OrgID: org, URL: "https://hooks.example.com/" + id, Events: json.RawMessage(events),
		Scope: json.RawMessage(scope), Secret: []byte{1}, Version: 1, CreatedBy: "usr_1", CreatedAt: t0, UpdatedAt: t0}
	if disabled {
		w.DisabledAt, w.DisabledReason = t0, "gone"
	}
	if err := s.store.CreateWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
}

func (s *stack) clickedEvents() []store.Event {
	var out []store.Event
	for _, e := range s.events.all() {
		if e.Type == "link.clicked" {
			out = append(out, e)
		}
	}
	return out
}

type clickedPayload struct {
	Click map[string]any `json:"click"`
	Link  map[string]any `json:"link"`
}

// Ingestion writes a link.clicked event for each admitted click on a link
// an enabled link.clicked endpoint of its org covers (by link, by tag, all
// links), bots included, and none for other clicks, a disabled endpoint,
// clicks beyond the plan or a batch shipped again.
func TestRecordClicksWritesClickedEvents(t *testing.T) {
	s := mustStack(t)
	ctx := context.Background()
	s.ShortLink = func(domain, key string) string { return "https://" + domain + "/" + key }
	s.APIURL = "https://api.example.com"
	index := webhooks.NewSubscriptions(s.store, quiet)
	s.ClickWebhooks = index

	principal := func(org string) access.Principal {
		return access.Principal{Kind: access.UserKey, OrgID: org, UserID: "usr_1", KeyID: "key_" + org}
	}
	create := func(org, body string) Link {
		t.Helper()
		l, err := s.Create(ctx, principal(org), mustInput(t, body))
		if err != nil {
			t.Fatalf("create %s: %v", body, err)
		}
		return l
	}
	for _, o := range []store.Org{{ID: "org_2", Plan: "enterprise"}, {ID: "org_3", Plan: "enterprise"}, {ID: "org_4", Plan: "free"}} {
		o.Name, o.CreatedAt = o.ID, t0
		if err := s.store.CreateOrg(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	byLink := create("org_1", `{"url":"https://example.com/a","key":"a","password":"secret-1234"}`)
	byTag := create("org_1", `{"url":"https://example.com/t","key":"t","tags":["promo"]}`)
	other := create("org_1", `{"url":"https://example.com/n","key":"n","tags":["other"]}`)
	all := create("org_2", `{"url":"https://example.com/b","key":"b"}`)
	off := create("org_3", `{"url":"https://example.com/d","key":"d"}`)
	limited := create("org_4", `{"url":"https://example.com/f","key":"f"}`)
	promo, err := s.store.TagByName(ctx, "org_1", "promo")
	if err != nil {
		t.Fatal(err)
	}
	s.mustWebhook(t, "wh_link", "org_1", `["link.clicked"]`, fmt.Sprintf(`{"linkIds":[%q]}`, byLink.ID), false)
	s.mustWebhook(t, "wh_tag", "org_1", `["link.created","link.clicked"]`, fmt.Sprintf(`{"tags":[%q]}`, promo.ID), false)
	s.mustWebhook(t, "wh_created", "org_1", `["link.created"]`, `{"allLinks":true}`, false)
	s.mustWebhook(t, "wh_all", "org_2", `["link.clicked"]`, `{"allLinks":true}`, false)
	s.mustWebhook(t, "wh_off", "org_3", `["link.clicked"]`, `{"allLinks":true}`, true)
	s.mustWebhook(t, "wh_limited", "org_4", `["link.clicked"]`, `{"allLinks":true}`, false)
	if err := index.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// org_4 has room for one more click this month.
	limit := int64(plans.Get("free").Limits[plans.ClicksPerMonth])
	if _, err := s.store.AddUsage(ctx, "org_4", plans.Period(t0), plans.ClicksPerMonth, limit-1); err != nil {
		t.Fatal(err)
	}

	human := click(byLink.ID, 1, false)
	human.ID, human.Country, human.Device, human.Browser, human.OS = [16]byte{0xab, 1}, "FR", "Mobile", "Safari", "iOS"
	human.RefererHost, human.QR, human.IPHash = "news.example.com", true, [16]byte{0xee, 0xee}
	b := clicks.Batch{Edge: "e1/x", Seq: 1, Clicks: []clicks.Click{
		human, click(byLink.ID, 2, true), click(byTag.ID, 3, false), click(other.ID, 4, false), click(all.ID, 5, false),
		click(off.ID, 6, false), click(limited.ID, 7, false), click(limited.ID, 8, false)}}
	s.mustRecord(t, b)

	got := s.clickedEvents()
	var gotLinks []string
	for _, e := range got {
		gotLinks = append(gotLinks, e.ResourceID)
		if !strings.HasPrefix(e.ID, "evt_") || !e.CreatedAt.Equal(t0) {
			t.Errorf("event %s at %v", e.ID, e.CreatedAt)
		}
		if strings.Contains(string(e.Payload), "ipHash") || strings.Contains(string(e.Payload), "eeee") ||
			strings.Contains(strings.ToLower(string(e.Payload)), "argon") {
			t.Errorf("event %s shows a secret: %s", e.ID, e.Payload)
		}
	}
	wantLinks := []string{byLink.ID, byLink.ID, byTag.ID, all.ID, limited.ID}
	if !slices.Equal(gotLinks, wantLinks) {
		t.Fatalf("events of links %v, want %v", gotLinks, wantLinks)
	}
	orgs := []string{"org_1", "org_1", "org_1", "org_2", "org_4"}
	for i, e := range got {
		if e.OrgID != orgs[i] {
			t.Errorf("event %d of org %s, want %s", i, e.OrgID, orgs[i])
		}
	}

	var first, bot, tagged clickedPayload
	for i, p := range []*clickedPayload{&first, &bot, &tagged} {
		if err := json.Unmarshal(got[i].Payload, p); err != nil {
			t.Fatal(err)
		}
	}
	wantClick := map[string]any{"id": "clk_ab010000000000000000000000000000", "timestamp": "2026-11-25T12:00:00.000000001Z",
		"linkId": byLink.ID, "domain": "localhost", "key": "a", "country": "FR", "device": "Mobile", "browser": "Safari",
		"os": "iOS", "referer": "news.example.com", "trigger": "qr", "bot": false}
	if fmt.Sprint(first.Click) != fmt.Sprint(wantClick) {
		t.Errorf("click\n got %v\nwant %v", first.Click, wantClick)
	}
	if bot.Click["bot"] != true || bot.Click["trigger"] != "link" {
		t.Errorf("bot click %v", bot.Click)
	}
	// The link as the API shows it, once the batch is counted.
	for k, want := range map[string]any{"id": byLink.ID, "domain": "localhost", "key": "a", "url": "https://example.com/a",
		"shortLink": "https://localhost/a", "qrCode": "https://api.example.com/v1/links/" + byLink.ID + "/qr",
		"hasPassword": true, "clicks": 1.0, "lastClickedAt": "2026-11-25T12:00:00.000Z"} {
		if first.Link[k] != want {
			t.Errorf("link %s = %v, want %v", k, first.Link[k], want)
		}
	}
	if fmt.Sprint(tagged.Link["tags"]) != "[promo]" {
		t.Errorf("tagged link's tags %v", tagged.Link["tags"])
	}

	// Shipped again: counted once, its events written once.
	if again := s.mustRecord(t, b); !again.Counted {
		t.Fatal("not counted before")
	}
	if n := len(s.clickedEvents()); n != len(wantLinks) {
		t.Errorf("%d events after the batch came again, want %d", n, len(wantLinks))
	}
}

// Without an index, or with no endpoint wanting clicks, ingestion writes
// no event.
func TestRecordClicksWithoutClickedEndpoints(t *testing.T) {
	s := mustStack(t)
	l := s.mustCreate(t, `{"url":"https://example.com/a","key":"a"}`)
	s.mustWebhook(t, "wh_1", "org_1", `["link.created","link.updated"]`, ``, false)
	s.mustRecord(t, clicks.Batch{Edge: "e1/x", Seq: 1, Clicks: []clicks.Click{click(l.ID, 0, false)}})
	index := webhooks.NewSubscriptions(s.store, quiet)
	if err := index.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.ClickWebhooks = index
	s.mustRecord(t, clicks.Batch{Edge: "e1/x", Seq: 2, Clicks: []clicks.Click{click(l.ID, 0, false)}})
	if evs := s.clickedEvents(); len(evs) != 0 {
		t.Errorf("events %+v", evs)
	}
}
