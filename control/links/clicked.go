package links

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/plans"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/clicks"
)

// link.clicked events. Counting a batch (clicks.go) also writes, in the
// same transaction, one link.clicked event per click it admitted (bots
// included, flagged) on a link that an enabled link.clicked endpoint of
// its org covers (Service.ClickWebhooks): so a batch shipped twice writes
// its events once, and clicks beyond the plan's limit, not stored, write
// none. The payload is {"click": ClickView, "link": View}: the click as
// GET /v1/events shows it (never its IP hash) and the link, after the
// batch's counts, as the API shows it. The cost is a map lookup per link
// of the batch for an org without such endpoints; for the covered links,
// one read of the links and one of their org's tags, and an event row per
// click.

// ClickWebhooks says which links an enabled link.clicked endpoint covers
// (control/webhooks.Subscriptions), from memory.
type ClickWebhooks interface {
	// Subscribed: tagIDs gives the link's tag IDs, read only if needed.
	Subscribed(orgID, linkID string, tagIDs func() []string) bool
}

// ClickView is a click as GET /v1/events and link.clicked events show it.
type ClickView struct {
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	LinkID    string `json:"linkId"`
	Domain    string `json:"domain"`
	Key       string `json:"key"`
	Country   string `json:"country"`
	Device    string `json:"device"`
	Browser   string `json:"browser"`
	OS        string `json:"os"`
	Referer   string `json:"referer"`
	Trigger   string `json:"trigger"`
	Bot       bool   `json:"bot"`
}

// ClickViewOf is the view of c, on the link whose key is key.
func ClickViewOf(c *clicks.Click, key string) ClickView {
	return ClickView{ID: c.IDString(), Timestamp: c.Time.UTC().Format(time.RFC3339Nano), LinkID: c.LinkID,
		Domain: c.Domain, Key: key, Country: c.Country, Device: c.Device, Browser: c.Browser, OS: c.OS,
		Referer: c.RefererHost, Trigger: analytics.Value(analytics.DimTrigger, c), Bot: c.Bot}
}

// apiView is l as the API shows it, with its short link and QR code
// address when the Service knows them.
func (s *Service) apiView(l Link) View {
	v := ViewOf(l)
	if s.ShortLink != nil {
		v.ShortLink = s.ShortLink(l.Domain, l.Key)
	}
	if s.APIURL != "" {
		v.QRCode = s.APIURL + "/v1/links/" + l.ID + "/qr"
	}
	return v
}

// clickEvents appends the link.clicked events of batch b, which adm
// admitted, inside the Write that counted it.
func (s *Service) clickEvents(ctx context.Context, q store.Queries, b *clicks.Batch, adm admission, now time.Time) error {
	if s.ClickWebhooks == nil {
		return nil
	}
	// Rows read for tag scopes, by org: each org's links of the batch at
	// once, the first time one of its links needs its tags.
	rows := map[string]store.Link{}
	loaded := map[string]bool{}
	load := func(orgID string, linkIDs []string) error {
		for chunk := range slices.Chunk(linkIDs, 500) {
			ls, err := q.LinksByID(ctx, chunk)
			if err != nil {
				return err
			}
			for _, l := range ls {
				if l.OrgID == orgID {
					rows[l.ID] = l
				}
			}
		}
		return nil
	}
	var (
		loadErr error
		cur     string
		curOrg  string
	)
	tagIDs := func() []string {
		if !loaded[curOrg] {
			loaded[curOrg] = true
			var linkIDs []string
			for id, org := range adm.Links {
				if org == curOrg {
					linkIDs = append(linkIDs, id)
				}
			}
			if err := load(curOrg, linkIDs); err != nil && loadErr == nil {
				loadErr = err
			}
		}
		return rows[cur].TagIDs
	}
	subscribed := map[string]bool{}
	for id, org := range adm.Links {
		cur, curOrg = id, org
		if s.ClickWebhooks.Subscribed(org, id, tagIDs) {
			subscribed[id] = true
		}
	}
	if loadErr != nil {
		return loadErr
	}
	if len(subscribed) == 0 {
		return nil
	}
	got := adm.apply(b)
	// The links with an event, read now (after the counts) if not yet.
	var missing []string
	for id := range subscribed {
		if _, ok := rows[id]; !ok {
			missing = append(missing, id)
		}
	}
	for chunk := range slices.Chunk(missing, 500) {
		ls, err := q.LinksByID(ctx, chunk)
		if err != nil {
			return err
		}
		for _, l := range ls {
			if l.OrgID == adm.Links[l.ID] {
				rows[l.ID] = l
			}
		}
	}
	views := map[string]json.RawMessage{} // link → its view, encoded once
	tags := map[string]*tagIndex{}        // org → its tags
	var events []store.Event
	for i := range got.Clicks {
		c, org := &got.Clicks[i], got.Orgs[i]
		row, ok := rows[c.LinkID]
		if !subscribed[c.LinkID] || !ok {
			continue
		}
		view, ok := views[c.LinkID]
		if !ok {
			ti := tags[org]
			if ti == nil {
				var err error
				if ti, err = loadTags(ctx, q, org, plans.Plan{}); err != nil {
					return err
				}
				tags[org] = ti
			}
			l, err := fromStore(row, ti)
			if err != nil {
				return fmt.Errorf("link %s: %w", row.ID, err)
			}
			if view, err = json.Marshal(s.apiView(l)); err != nil {
				return fmt.Errorf("encode link %s: %w", row.ID, err)
			}
			views[c.LinkID] = view
		}
		cv, err := json.Marshal(ClickViewOf(c, row.Key))
		if err != nil {
			return err
		}
		payload := make([]byte, 0, len(`{"click":,"link":}`)+len(cv)+len(view))
		payload = append(append(append(append(append(payload, `{"click":`...), cv...), `,"link":`...), view...), '}')
		events = append(events, store.Event{ID: ids.New("evt", now), OrgID: org, Type: "link.clicked",
			ResourceID: c.LinkID, Payload: payload, CreatedAt: now})
	}
	if len(events) == 0 {
		return nil
	}
	return q.AppendEvent(ctx, events...)
}
