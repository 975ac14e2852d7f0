package links

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/audit"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/store"
)

// journal collects the audit entries and domain events of one write, to
// append them together (multi-row inserts) before it commits.
type journal struct {
	now    time.Time
	audits []store.AuditEntry
	events []store.Event
}

func newJournal(now time.Time) *journal { return &journal{now: now} }

// add records one change of link id: before is nil for a create, after nil
// for a delete. A created or deleted link is encoded to JSON once, for both
// its audit entry and its event.
func (j *journal) add(p access.Principal, kind, id string, before, after *View) error {
	action := "link." + kind
	if before != nil && after != nil {
		payload, err := json.Marshal(after)
		if err != nil {
			return fmt.Errorf("encode link %s: %w", id, err)
		}
		j.append(p, audit.Entry(p, p.OrgID, j.now, action, "link", id, *before, *after), id, payload)
		return nil
	}
	side, obj := "after", after
	if after == nil {
		side, obj = "before", before
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("encode link %s: %w", id, err)
	}
	j.addObject(p, action, id, side, raw)
	return nil
}

// addObject records a create (side "after") or delete (side "before") of
// link id, already encoded as obj, which is also the event's payload.
func (j *journal) addObject(p access.Principal, action, id, side string, obj json.RawMessage) {
	j.append(p, audit.Object(p, p.OrgID, j.now, action, "link", id, side, obj), id, obj)
}

func (j *journal) append(p access.Principal, e store.AuditEntry, id string, payload json.RawMessage) {
	j.audits = append(j.audits, e)
	j.events = append(j.events, store.Event{ID: ids.New("evt", j.now), OrgID: p.OrgID, Type: e.Action,
		ResourceID: id, Payload: payload, CreatedAt: j.now})
}

// flush appends what was collected.
func (j *journal) flush(ctx context.Context, q store.Queries) error {
	if len(j.audits) == 0 {
		return nil
	}
	if err := q.AppendAudit(ctx, j.audits...); err != nil {
		return err
	}
	return q.AppendEvent(ctx, j.events...)
}
