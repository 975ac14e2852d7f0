package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/store"
)

// Schedule is the wait before each retry: Schedule[n-1] after the n-th
// failed attempt, each with Jitter. A message failing its last attempt
// (len(Schedule)+1 in all) is failed.
var Schedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour}

// Bounds of the dispatcher.
const (
	// MaxRetryAfter bounds a receiver's Retry-After.
	MaxRetryAfter = 24 * time.Hour
	// FailingFor is how long an endpoint's failures last before it is
	// disabled.
	FailingFor = 5 * 24 * time.Hour
	// ClickBatch is how many link.clicked events of one fan-out pass one
	// message carries at most.
	ClickBatch = 100
	// fanoutBatch is how many events one fan-out transaction takes.
	fanoutBatch = 500
	// dueWebhooks is how many endpoints with due messages one delivery
	// pass reads, and dueBatch how many of one endpoint's due messages
	// its sender reads at a time.
	dueWebhooks = 1000
	dueBatch    = 100
)

// ActorID names the dispatcher in audit entries (actor type "system").
const ActorID = "webhook-dispatcher"

// Dispatcher turns events into messages (fan-out) and delivers them, at
// least once, through its Service's client, signing and store.
type Dispatcher struct {
	Service *Service
	// Leader says whether this node may dispatch; nil: always (one node).
	Leader func() bool
	// Period between passes; zero: a second.
	Period time.Duration
	// Parallel bounds the endpoints in flight at once; zero: 16.
	Parallel int
	// Jitter spreads a retry's wait; nil: ±15% at random.
	Jitter func(time.Duration) time.Duration
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer

	once    sync.Once
	wake    chan struct{}
	mu      sync.Mutex
	busy    map[string]bool // endpoints with a delivery in flight
	slots   chan struct{}
	wg      sync.WaitGroup
	total   *prometheus.CounterVec
	seconds *prometheus.HistogramVec
	due     prometheus.Gauge
}

func (d *Dispatcher) init() {
	d.once.Do(func() {
		d.wake = make(chan struct{}, 1)
		d.busy = map[string]bool{}
		n := d.Parallel
		if n <= 0 {
			n = 16
		}
		d.slots = make(chan struct{}, n)
		d.total = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "h0p_webhook_deliveries_total",
			Help: "Webhook delivery attempts by outcome (delivered, retrying, failed, refused).",
		}, []string{"outcome"})
		d.seconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "h0p_webhook_delivery_seconds",
			Help:    "Webhook delivery attempt latency by outcome.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
		}, []string{"outcome"})
		d.due = prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "h0p_webhook_messages_due",
			Help: "Webhook messages due for an attempt, as of the last pass.",
		})
		if d.Registerer != nil {
			d.Registerer.MustRegister(d.total, d.seconds, d.due)
		}
	})
}

// Wake asks for a pass now rather than at the next period.
func (d *Dispatcher) Wake() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run makes a pass every Period (or when woken) while this node leads,
// until ctx ends; then it waits for the deliveries in flight.
func (d *Dispatcher) Run(ctx context.Context) {
	d.init()
	period := d.Period
	if period <= 0 {
		period = time.Second
	}
	t := time.NewTicker(period)
	defer t.Stop()
	defer d.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wake:
		}
		if d.Leader != nil && !d.Leader() {
			continue
		}
		if err := d.Tick(ctx); err != nil && ctx.Err() == nil {
			d.Service.logger().Error("webhook dispatch", "err", err)
		}
	}
}

// Tick makes one pass: it fans every pending event out, then starts the
// delivery of each endpoint's due messages that is not in flight already.
// Wait waits for the deliveries.
func (d *Dispatcher) Tick(ctx context.Context) error {
	d.init()
	for {
		n, err := d.fanOut(ctx)
		if err != nil {
			return fmt.Errorf("fan out: %w", err)
		}
		if n < fanoutBatch {
			break
		}
	}
	return d.deliverDue(ctx)
}

// Wait waits for the deliveries in flight.
func (d *Dispatcher) Wait() { d.wg.Wait() }

// target is an endpoint as fan-out matches events against it.
type target struct {
	Webhook
	clicks  *store.WebhookMessage // the open batch of link.clicked
	batch   []json.RawMessage
	batchAt time.Time // its first click's
	opened  bool      // in the pass's list of endpoints with batches
}

// orgTargets are an org's enabled endpoints and its tags by name, read once
// per fan-out pass.
type orgTargets struct {
	hooks []*target
	tags  map[string]string // lower-case name → ID; nil until needed
}

// fanOut turns up to fanoutBatch pending events into messages in one
// transaction, which also marks them done, and returns how many it took.
func (d *Dispatcher) fanOut(ctx context.Context) (int, error) {
	s := d.Service
	var n int
	err := s.Store.Write(ctx, func(q store.Queries) error {
		evs, err := q.PendingEvents(ctx, fanoutBatch)
		if err != nil || len(evs) == 0 {
			return err
		}
		n = len(evs)
		now := s.now()
		orgs := map[string]*orgTargets{}
		var msgs []*store.WebhookMessage
		var open []*target
		evIDs := make([]string, len(evs))
		for i, ev := range evs {
			evIDs[i] = ev.ID
			ot, ok := orgs[ev.OrgID]
			if !ok {
				if ot, err = loadTargets(ctx, q, ev.OrgID); err != nil {
					return err
				}
				orgs[ev.OrgID] = ot
			}
			link := eventLink(ev)
			for _, t := range ot.hooks {
				if ev.CreatedAt.Before(t.CreatedAt) || !slices.Contains(t.events, ev.Type) {
					continue
				}
				match, err := d.inScope(ctx, q, ot, t.scope, ev.OrgID, link)
				if err != nil {
					return err
				}
				if !match {
					continue
				}
				if ev.Type == LinkClicked && t.clicks != nil {
					// The batch closes when full; the next click opens another.
					if t.batch = append(t.batch, ev.Payload); len(t.batch) == ClickBatch {
						if err := closeBatch(t); err != nil {
							return err
						}
					}
					continue
				}
				m := &store.WebhookMessage{ID: ids.New("msg", now), WebhookID: t.ID, OrgID: t.OrgID, EventID: ev.ID,
					EventType: ev.Type, Status: store.MessagePending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
				msgs = append(msgs, m)
				if ev.Type == LinkClicked {
					if !t.opened {
						t.opened, open = true, append(open, t)
					}
					// The first click's time stands for the batch.
					t.clicks, t.batch, t.batchAt = m, []json.RawMessage{ev.Payload}, ev.CreatedAt
					continue
				}
				if m.Payload, err = body(ev.Type, ev.CreatedAt, linkData(ev.Payload)); err != nil {
					return err
				}
			}
		}
		for _, t := range open {
			if t.clicks != nil {
				if err := closeBatch(t); err != nil {
					return err
				}
			}
		}
		for _, m := range msgs {
			if err := q.CreateWebhookMessage(ctx, *m); err != nil {
				return err
			}
		}
		return q.MarkEventsFannedOut(ctx, now, evIDs...)
	})
	return n, err
}

// closeBatch writes the body of t's open click batch: one click as it
// came, several as {"clicks":[…]}.
func closeBatch(t *target) error {
	var data any = t.batch[0]
	if len(t.batch) > 1 {
		data = struct {
			Clicks []json.RawMessage `json:"clicks"`
		}{t.batch}
	}
	var err error
	t.clicks.Payload, err = body(LinkClicked, t.batchAt, data)
	t.clicks, t.batch = nil, nil
	return err
}

// linkData is the data of a link.created, updated or deleted event: the
// link as the API shows it (as it was, for a delete).
func linkData(payload json.RawMessage) any {
	if len(payload) == 0 {
		return json.RawMessage("null")
	}
	return payload
}

func body(typ string, at time.Time, data any) (json.RawMessage, error) {
	return json.Marshal(struct {
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      any       `json:"data"`
	}{typ, at.UTC(), data})
}

func loadTargets(ctx context.Context, q store.Queries, orgID string) (*orgTargets, error) {
	sws, err := q.Webhooks(ctx, store.WebhookFilter{OrgID: orgID, Limit: -1})
	if err != nil {
		return nil, err
	}
	ot := &orgTargets{}
	for _, sw := range sws {
		if !sw.DisabledAt.IsZero() {
			continue
		}
		w, err := decode(sw)
		if err != nil {
			return nil, err
		}
		ot.hooks = append(ot.hooks, &target{Webhook: w})
	}
	return ot, nil
}

// eventLinkRef is what fan-out reads of an event's link.
type eventLinkRef struct {
	ID   string
	Tags []string // names; nil: not in the payload
}

// eventLink finds the link of ev in its payload: the link itself
// (link.created, updated, deleted) or under "link" (link.clicked).
func eventLink(ev store.Event) eventLinkRef {
	var p struct {
		ID   string    `json:"id"`
		Tags *[]string `json:"tags"`
		Link *struct {
			ID   string    `json:"id"`
			Tags *[]string `json:"tags"`
		} `json:"link"`
	}
	json.Unmarshal(ev.Payload, &p)
	ref := eventLinkRef{ID: p.ID}
	tags := p.Tags
	if p.Link != nil {
		ref.ID, tags = p.Link.ID, p.Link.Tags
	}
	if ref.ID == "" {
		ref.ID = ev.ResourceID
	}
	if tags != nil {
		ref.Tags = *tags
		if ref.Tags == nil {
			ref.Tags = []string{}
		}
	}
	return ref
}

// inScope says whether link is in sc. Tags are matched by ID: the
// payload's tag names through the org's tags, or the store's when the
// payload has none.
func (d *Dispatcher) inScope(ctx context.Context, q store.Queries, ot *orgTargets, sc Scope, orgID string, link eventLinkRef) (bool, error) {
	switch {
	case sc.AllLinks || sc.empty():
		return true, nil
	case len(sc.LinkIDs) > 0:
		return slices.Contains(sc.LinkIDs, link.ID), nil
	}
	if link.Tags == nil {
		ids, err := q.LinkIDsByTags(ctx, orgID, sc.Tags)
		return slices.Contains(ids, link.ID), err
	}
	if ot.tags == nil {
		tags, err := q.Tags(ctx, orgID)
		if err != nil {
			return false, err
		}
		ot.tags = make(map[string]string, len(tags))
		for _, t := range tags {
			ot.tags[strings.ToLower(t.Name)] = t.ID
		}
	}
	for _, name := range link.Tags {
		if id, ok := ot.tags[strings.ToLower(name)]; ok && slices.Contains(sc.Tags, id) {
			return true, nil
		}
	}
	return false, nil
}

// deliverDue starts, for each endpoint with due messages and no delivery
// in flight, the delivery of its due messages, oldest first, while a slot
// is free.
func (d *Dispatcher) deliverDue(ctx context.Context) error {
	s := d.Service
	now := s.now()
	if n, err := s.Store.CountDueWebhookMessages(ctx, now); err == nil {
		d.due.Set(float64(n))
	}
	// By endpoint, not by message: an endpoint with a backlog (a dead one
	// whose messages are all due again) takes one place, so it delays no
	// other.
	order, err := s.Store.DueWebhooks(ctx, now, dueWebhooks)
	if err != nil {
		return fmt.Errorf("due webhooks: %w", err)
	}
	for _, id := range order {
		d.mu.Lock()
		if d.busy[id] {
			d.mu.Unlock()
			continue
		}
		select {
		case d.slots <- struct{}{}:
		default:
			d.mu.Unlock()
			return nil // every slot is taken: the next pass goes on
		}
		d.busy[id] = true
		d.mu.Unlock()
		d.wg.Go(func() {
			defer func() {
				d.mu.Lock()
				delete(d.busy, id)
				d.mu.Unlock()
				<-d.slots
			}()
			// The endpoint's due messages, a batch at a time, until none
			// is due: an endpoint is limited by its own answers, not by
			// the passes.
			for ctx.Err() == nil {
				q, err := s.Store.DueWebhookMessages(ctx, id, s.now(), dueBatch)
				if err != nil {
					s.logger().Error("webhook dispatch: due messages", "webhook", id, "err", err)
					return
				}
				if len(q) == 0 || !d.drain(ctx, q) {
					return
				}
			}
		})
	}
	return nil
}

// drain delivers one endpoint's messages in order, one at a time, and
// says whether it sent them all: false when the endpoint is gone or
// disabled, an attempt could not be recorded, or ctx ended.
func (d *Dispatcher) drain(ctx context.Context, msgs []store.WebhookMessage) bool {
	s := d.Service
	sw, err := s.Store.Webhook(ctx, msgs[0].OrgID, msgs[0].WebhookID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.logger().Error("webhook dispatch: read endpoint", "webhook", msgs[0].WebhookID, "err", err)
		}
		return false
	}
	for _, m := range msgs {
		if ctx.Err() != nil || !sw.DisabledAt.IsZero() {
			return false
		}
		if sw, err = d.deliver(ctx, sw, m); err != nil {
			if ctx.Err() == nil {
				s.logger().Error("webhook delivery", "message", m.ID, "err", err)
			}
			return false
		}
	}
	return sw.DisabledAt.IsZero()
}

// deliver makes one attempt of m to sw and records it, and returns the
// endpoint as the attempt left it (disabled, perhaps).
func (d *Dispatcher) deliver(ctx context.Context, sw store.Webhook, m store.WebhookMessage) (store.Webhook, error) {
	s := d.Service
	w, err := decode(sw)
	if err != nil {
		return sw, err
	}
	at := s.now()
	keys, err := s.keys(w, at)
	if err != nil {
		return sw, err
	}
	a := s.send(ctx, w.URL, keys, m.ID, at, m.Payload)
	if ctx.Err() != nil {
		// Shutting down (or leadership lost): the attempt is not recorded
		// and the message stays due, for the next leader.
		return sw, ctx.Err()
	}
	// The attempt was made: it is recorded even if ctx ends meanwhile.
	ctx = context.WithoutCancel(ctx)
	var outcome string
	err = s.Store.Write(ctx, func(q store.Queries) error {
		cur, err := q.WebhookMessage(ctx, m.OrgID, m.ID)
		if errors.Is(err, store.ErrNotFound) {
			return nil // deleted with its endpoint meanwhile
		}
		if err != nil {
			return err
		}
		a.Attempt = cur.Attempts + 1
		if err := q.AppendWebhookAttempt(ctx, a.WebhookAttempt); err != nil {
			return err
		}
		cur.Attempts, cur.UpdatedAt = a.Attempt, s.now()
		cur.LastStatusCode, cur.LastLatency, cur.LastResponse = a.StatusCode, a.Latency, a.Response
		switch {
		case a.ok():
			cur.Status, cur.NextAttemptAt, outcome = store.MessageDelivered, time.Time{}, store.MessageDelivered
		case a.Attempt > len(Schedule):
			cur.Status, cur.NextAttemptAt, outcome = store.MessageFailed, time.Time{}, store.MessageFailed
		default:
			cur.Status, outcome = store.MessageRetrying, store.MessageRetrying
			cur.NextAttemptAt = at.Add(d.wait(a.Attempt, a.retryAfter, at))
		}
		if err := q.UpdateWebhookMessage(ctx, cur); err != nil {
			return err
		}
		if a.ok() {
			return nil
		}
		reason := ""
		if a.StatusCode == http.StatusGone {
			reason = "the endpoint answered 410 Gone"
		} else {
			since, err := q.WebhookFailingSince(ctx, sw.ID, sw.UpdatedAt)
			if err != nil {
				return err
			}
			if !since.IsZero() && at.Sub(since) >= FailingFor {
				reason = "deliveries failed for 5 days"
			}
		}
		if reason == "" {
			return nil
		}
		return d.disable(ctx, q, &sw, reason)
	})
	if err != nil {
		return sw, err
	}
	if !sw.DisabledAt.IsZero() {
		d.Service.Subscriptions.Changed() // no more link.clicked events for it
	}
	if a.refused {
		outcome = "refused"
	}
	if outcome != "" {
		d.total.WithLabelValues(outcome).Inc()
		d.seconds.WithLabelValues(outcome).Observe(a.Latency.Seconds())
	}
	return sw, nil
}

// disable stops deliveries to sw, with an audit entry by the dispatcher.
func (d *Dispatcher) disable(ctx context.Context, q store.Queries, sw *store.Webhook, reason string) error {
	s := d.Service
	w, e, err := s.changeIn(ctx, q, access.Principal{Kind: access.System, OrgID: sw.OrgID}, sw.ID, "webhook.disabled",
		func(_ store.Queries, w *Webhook) error {
			w.DisabledAt, w.DisabledReason = s.now(), reason
			return nil
		})
	if err != nil {
		return err
	}
	e.ActorID = ActorID
	*sw = w.Webhook
	s.logger().Info("webhook disabled", "webhook", sw.ID, "org", sw.OrgID, "reason", reason)
	return q.AppendAudit(ctx, e)
}

// wait is how long to wait after failed attempt n (1, 2, …): the
// schedule's, with jitter, or the receiver's Retry-After (seconds or an
// HTTP date), kept within [the schedule's, MaxRetryAfter].
func (d *Dispatcher) wait(n int, retryAfter string, at time.Time) time.Duration {
	base := Schedule[n-1]
	if ra, ok := parseRetryAfter(retryAfter, at); ok {
		return min(max(ra, base), max(MaxRetryAfter, base))
	}
	if d.Jitter != nil {
		return d.Jitter(base)
	}
	return time.Duration(float64(base) * (0.85 + 0.3*rand.Float64()))
}

func parseRetryAfter(v string, at time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, int64(MaxRetryAfter/time.Second))) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return t.Sub(at), true
}
