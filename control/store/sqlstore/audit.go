package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/h0p/h0p/control/store"
)

// AppendAudit stores entries in multi-row statements (queries.insertRows);
// an empty or JSON null diff is NULL and reads back nil. Empty fields
// (KeyID for a session, RequestID, IP) are stored as "".
func (q queries) AppendAudit(ctx context.Context, es ...store.AuditEntry) error {
	rows := make([]any, 0, 12*len(es))
	for _, e := range es {
		rows = append(rows, e.ID, e.OrgID, ms(e.At), e.ActorType, e.ActorID, e.KeyID, e.Action, e.ResourceType,
			e.ResourceID, e.RequestID, e.IP, nullJSON(e.Diff))
	}
	return q.insertRows(ctx, "append audit", `INSERT INTO audit_logs
		(id, org_id, at, actor_type, actor_id, key_id, action, resource_type, resource_id, request_id, ip, diff)
		VALUES `, 12, rows)
}

// AuditLogs lists newest first: by id, which the column compares
// byte-wise on both engines, so the Before cursor agrees with the ULIDs'
// time order.
func (q queries) AuditLogs(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	var a args
	where := []string{"org_id = " + a.add(f.OrgID)}
	if f.ActorID != "" {
		where = append(where, "actor_id = "+a.add(f.ActorID))
	}
	if f.ResourceType != "" {
		where = append(where, "resource_type = "+a.add(f.ResourceType))
	}
	if f.ResourceID != "" {
		where = append(where, "resource_id = "+a.add(f.ResourceID))
	}
	if !f.From.IsZero() {
		where = append(where, "at >= "+a.add(ms(f.From)))
	}
	if !f.To.IsZero() {
		where = append(where, "at < "+a.add(ms(f.To)))
	}
	if f.Before != "" {
		where = append(where, "id < "+a.add(f.Before))
	}
	rows, err := q.db.QueryContext(ctx, `SELECT id, org_id, at, actor_type, actor_id, key_id, action, resource_type,
		resource_id, request_id, ip, diff FROM audit_logs WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id DESC LIMIT `+a.add(limit(f.Limit)), a...)
	return collect("audit logs", rows, err, func(r rowScanner) (store.AuditEntry, error) {
		var (
			e    store.AuditEntry
			at   int64
			diff sql.NullString
		)
		if err := r.Scan(&e.ID, &e.OrgID, &at, &e.ActorType, &e.ActorID, &e.KeyID, &e.Action, &e.ResourceType,
			&e.ResourceID, &e.RequestID, &e.IP, &diff); err != nil {
			return store.AuditEntry{}, fmt.Errorf("scan audit entry: %w", err)
		}
		e.At, e.Diff = fromMs(at), fromNullJSON(diff)
		return e, nil
	})
}
