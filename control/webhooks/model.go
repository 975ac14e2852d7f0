package webhooks

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/h0p/h0p/control/jsonbody"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
)

// Event types an endpoint may subscribe to.
const (
	LinkCreated = "link.created"
	LinkUpdated = "link.updated"
	LinkDeleted = "link.deleted"
	LinkClicked = "link.clicked"
)

// Events are the event types, in the order errors list them.
var Events = []string{LinkCreated, LinkUpdated, LinkDeleted, LinkClicked}

// Bounds of an endpoint's input.
const (
	maxDescription = 500
	maxScopeIDs    = 100
)

// Input is what a client writes when it creates or changes an endpoint.
type Input struct {
	URL         jsonbody.Opt[string]   `json:"url"`
	Events      jsonbody.Opt[[]string] `json:"events"`
	Description jsonbody.Opt[string]   `json:"description"`
	LinkIDs     jsonbody.Opt[[]string] `json:"linkIds"`
	Tags        jsonbody.Opt[[]string] `json:"tags"`
	AllLinks    jsonbody.Opt[bool]     `json:"allLinks"`
}

// DecodeInput reads a request body.
func DecodeInput(b []byte) (Input, error) {
	var in Input
	return in, jsonbody.Decode(b, &in)
}

// Scope is which links' events an endpoint receives: those of LinkIDs,
// of links carrying one of Tags (tag IDs), or of every link (AllLinks).
// At most one is set; none means every link for created, updated and
// deleted, and is refused with link.clicked.
type Scope struct {
	LinkIDs  []string `json:"linkIds,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	AllLinks bool     `json:"allLinks,omitempty"`
}

func (s Scope) empty() bool { return len(s.LinkIDs) == 0 && len(s.Tags) == 0 && !s.AllLinks }

// Webhook is a stored endpoint with its events and scope decoded.
type Webhook struct {
	store.Webhook
	events []string
	scope  Scope
}

func decode(sw store.Webhook) (Webhook, error) {
	w := Webhook{Webhook: sw}
	if err := json.Unmarshal(sw.Events, &w.events); err != nil {
		return Webhook{}, fmt.Errorf("webhook %s events: %w", sw.ID, err)
	}
	if len(sw.Scope) > 0 {
		if err := json.Unmarshal(sw.Scope, &w.scope); err != nil {
			return Webhook{}, fmt.Errorf("webhook %s scope: %w", sw.ID, err)
		}
	}
	return w, nil
}

func (w *Webhook) encode() (store.Webhook, error) {
	sw := w.Webhook
	var err error
	if sw.Events, err = json.Marshal(w.events); err != nil {
		return store.Webhook{}, err
	}
	sw.Scope = nil
	if !w.scope.empty() {
		if sw.Scope, err = json.Marshal(w.scope); err != nil {
			return store.Webhook{}, err
		}
	}
	return sw, nil
}

// checkEvents refuses an empty list, an unknown event and one listed twice.
func checkEvents(events []string) error {
	if len(events) == 0 {
		return apierror.Invalid("events", "must list at least one of "+strings.Join(Events, ", "))
	}
	for i, e := range events {
		field := fmt.Sprintf("events[%d]", i)
		if !slices.Contains(Events, e) {
			return apierror.Invalid(field, fmt.Sprintf("unknown event %q; one of %s", e, strings.Join(Events, ", ")))
		}
		if slices.Index(events, e) < i {
			return apierror.Invalid(field, fmt.Sprintf("%s is listed twice", e))
		}
	}
	return nil
}

// checkIDs refuses more than maxScopeIDs, an empty ID and one listed twice.
func checkIDs(field string, ids []string) error {
	if len(ids) > maxScopeIDs {
		return apierror.Invalid(field, fmt.Sprintf("must list at most %d", maxScopeIDs))
	}
	for i, id := range ids {
		if id == "" {
			return apierror.Invalid(fmt.Sprintf("%s[%d]", field, i), "must not be empty")
		}
		if slices.Index(ids, id) < i {
			return apierror.Invalid(fmt.Sprintf("%s[%d]", field, i), "is listed twice")
		}
	}
	return nil
}

// apply sets what in sets on w, but the URL, which the service checks
// against the egress policy. Scope members replace the whole scope when
// any of them is sent.
func (w *Webhook) apply(in Input) error {
	if in.Events.Set {
		if err := checkEvents(in.Events.V); err != nil {
			return err
		}
		w.events = in.Events.V
	}
	if in.Description.Set {
		if len([]rune(in.Description.V)) > maxDescription {
			return apierror.Invalid("description", fmt.Sprintf("must be at most %d characters", maxDescription))
		}
		w.Description = in.Description.V // null: ""
	}
	if in.LinkIDs.Set || in.Tags.Set || in.AllLinks.Set {
		var s Scope
		if err := checkIDs("linkIds", in.LinkIDs.V); err != nil {
			return err
		}
		if err := checkIDs("tags", in.Tags.V); err != nil {
			return err
		}
		s.LinkIDs, s.Tags, s.AllLinks = in.LinkIDs.V, in.Tags.V, in.AllLinks.V
		given := 0
		for _, set := range []bool{len(s.LinkIDs) > 0, len(s.Tags) > 0, s.AllLinks} {
			if set {
				given++
			}
		}
		if given > 1 {
			field := "tags"
			if s.AllLinks {
				field = "allLinks"
			}
			return apierror.Invalid(field, "give one of linkIds, tags or allLinks: true")
		}
		w.scope = s
	}
	if i := slices.Index(w.events, LinkClicked); i >= 0 && w.scope.empty() {
		return apierror.Invalid(fmt.Sprintf("events[%d]", i), "link.clicked needs a scope: linkIds, tags or allLinks: true")
	}
	return nil
}

// View is how an endpoint is shown, by the API and in audit entries. It
// never holds a secret.
type View struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Description string   `json:"description"`
	Events      []string `json:"events"`
	LinkIDs     []string `json:"linkIds,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	AllLinks    bool     `json:"allLinks"`
	Disabled    bool     `json:"disabled"`
	// DisabledAt and DisabledReason say when and why deliveries stopped.
	DisabledAt     *time.Time `json:"disabledAt"`
	DisabledReason *string    `json:"disabledReason"`
	// PreviousSecretExpiresAt is set while the secret replaced by the
	// last rotation still signs beside the new one.
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt"`
	CreatedAt               time.Time  `json:"createdAt"`
	UpdatedAt               time.Time  `json:"updatedAt"`
}

// Created is an endpoint with its secret, shown once: by create and by
// rotate-secret.
type Created struct {
	View
	Secret string `json:"secret"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
