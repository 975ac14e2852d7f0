package webhooks

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/h0p/h0p/control/store"
)

// Subscriptions is which links have an enabled link.clicked endpoint, held
// in memory so click ingestion asks it without a store read: per org, its
// allLinks, link IDs and tag IDs. An org with no such endpoint is one map
// lookup.
//
// It is loaded from the store by Refresh, again every Interval by Run, and
// at once when this node's Service changes an endpoint (Changed). Another
// control node's change is seen within Interval.
type Subscriptions struct {
	Store    WebhookLister
	Interval time.Duration // 0: 5 s
	Logger   *slog.Logger

	idx     atomic.Pointer[map[string]*clickScope]
	changed chan struct{} // one pending reload; made by New
}

// WebhookLister reads every org's enabled endpoints of an event; a
// store.Store is one.
type WebhookLister interface {
	EnabledWebhooks(ctx context.Context, event string) ([]store.Webhook, error)
}

// clickScope is what one org's enabled link.clicked endpoints cover.
type clickScope struct {
	all   bool
	links map[string]bool
	tags  map[string]bool
}

// NewSubscriptions is an empty index over st; Refresh loads it.
func NewSubscriptions(st WebhookLister, logger *slog.Logger) *Subscriptions {
	return &Subscriptions{Store: st, Logger: logger, changed: make(chan struct{}, 1)}
}

// Subscribed says whether an enabled link.clicked endpoint of orgID covers
// link linkID. tagIDs gives the link's tag IDs; it is called only when the
// answer depends on them (the org's endpoints name tags, not the link).
func (x *Subscriptions) Subscribed(orgID, linkID string, tagIDs func() []string) bool {
	idx := x.idx.Load()
	if idx == nil {
		return false
	}
	sc := (*idx)[orgID]
	switch {
	case sc == nil:
		return false
	case sc.all || sc.links[linkID]:
		return true
	case len(sc.tags) == 0:
		return false
	}
	return slices.ContainsFunc(tagIDs(), func(id string) bool { return sc.tags[id] })
}

// Refresh loads the index from the store.
func (x *Subscriptions) Refresh(ctx context.Context) error {
	ws, err := x.Store.EnabledWebhooks(ctx, LinkClicked)
	if err != nil {
		return fmt.Errorf("load link.clicked endpoints: %w", err)
	}
	idx := map[string]*clickScope{}
	for _, sw := range ws {
		w, err := decode(sw)
		if err != nil {
			return err
		}
		if !w.DisabledAt.IsZero() || !slices.Contains(w.events, LinkClicked) {
			continue // the store's match is textual
		}
		sc := idx[w.OrgID]
		if sc == nil {
			sc = &clickScope{links: map[string]bool{}, tags: map[string]bool{}}
			idx[w.OrgID] = sc
		}
		sc.all = sc.all || w.scope.AllLinks
		for _, id := range w.scope.LinkIDs {
			sc.links[id] = true
		}
		for _, id := range w.scope.Tags {
			sc.tags[id] = true
		}
	}
	x.idx.Store(&idx)
	return nil
}

// Changed asks Run to reload at once; it never blocks. Nil-safe, so a
// Service without an index calls it too.
func (x *Subscriptions) Changed() {
	if x == nil {
		return
	}
	select {
	case x.changed <- struct{}{}:
	default: // a reload is pending already, and will read this change
	}
}

// Run reloads the index every Interval and after each Changed, until ctx
// ends. A failed reload keeps the index it had and is logged.
func (x *Subscriptions) Run(ctx context.Context) {
	every := x.Interval
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-x.changed:
		}
		if err := x.Refresh(ctx); err != nil && ctx.Err() == nil {
			x.logger().Warn("link.clicked subscriptions kept as they were", "err", err)
		}
	}
}

func (x *Subscriptions) logger() *slog.Logger {
	if x.Logger == nil {
		return slog.Default()
	}
	return x.Logger
}
