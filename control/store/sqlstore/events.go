package sqlstore

import (
	"context"

	"github.com/h0p/h0p/control/store"
)

// AppendEvent stores events in multi-row statements (queries.insertRows);
// an empty or JSON null payload is NULL.
func (q queries) AppendEvent(ctx context.Context, es ...store.Event) error {
	rows := make([]any, 0, 6*len(es))
	for _, e := range es {
		rows = append(rows, e.ID, e.OrgID, e.Type, e.ResourceID, nullJSON(e.Payload), ms(e.CreatedAt))
	}
	return q.insertRows(ctx, "append event",
		`INSERT INTO events (id, org_id, type, resource_id, payload, created_at) VALUES `, 6, rows)
}
