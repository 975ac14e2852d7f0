package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/h0p/h0p/control/store"
)

// AddAPIUsage adds in upserts, one a row, in one transaction: a flush
// counts whole or not at all, and flushes of several nodes add up.
func (q queries) AddAPIUsage(ctx context.Context, rows []store.APIUsage) error {
	if len(rows) == 0 {
		return nil
	}
	return q.atomic(ctx, func(q queries) error {
		for _, r := range rows {
			_, err := q.db.ExecContext(ctx, `INSERT INTO api_usage (org_id, principal_kind, principal_id, day, route, status_class,
				requests, rate_limited, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
				ON CONFLICT (org_id, principal_kind, principal_id, day, route, status_class) DO UPDATE SET
				requests = api_usage.requests + excluded.requests,
				rate_limited = api_usage.rate_limited + excluded.rate_limited,
				last_used_at = CASE WHEN api_usage.last_used_at > excluded.last_used_at THEN api_usage.last_used_at ELSE excluded.last_used_at END`,
				r.OrgID, r.PrincipalKind, r.PrincipalID, r.Day, r.Route, r.Status, r.Requests, r.RateLimited, ms(r.LastUsedAt))
			if err != nil {
				return fmt.Errorf("add api usage: %w", err)
			}
		}
		return nil
	})
}

// usageGroups are what SumAPIUsage selects as a group's kind and value,
// and what it groups and orders by: fixed texts, so the query texts stay a
// fixed set. PostgreSQL refuses a constant in GROUP BY, so the total has
// none.
var usageGroups = map[string]struct{ kind, group, by string }{
	store.UsageTotal:    {"''", "''", ""},
	store.UsageByCaller: {"principal_kind", "principal_id", " GROUP BY principal_kind, principal_id ORDER BY principal_kind{C}, principal_id{C}"},
	store.UsageByDay:    {"''", "day", " GROUP BY day ORDER BY day"},
	store.UsageByRoute:  {"''", "route", " GROUP BY route ORDER BY route{C}"},
	store.UsageByStatus: {"''", "status_class", " GROUP BY status_class ORDER BY status_class"},
}

func (q queries) SumAPIUsage(ctx context.Context, f store.APIUsageFilter, groupBy string) ([]store.APIUsageSum, error) {
	g, ok := usageGroups[groupBy]
	if !ok {
		return nil, fmt.Errorf("sum api usage: unknown grouping %q", groupBy)
	}
	var a args
	query := `SELECT ` + g.kind + `, ` + g.group + `, COALESCE(SUM(requests), 0),
		COALESCE(SUM(CASE WHEN status_class IN ('4xx', '5xx') THEN requests ELSE 0 END), 0),
		COALESCE(SUM(rate_limited), 0), MAX(last_used_at)
		FROM api_usage WHERE org_id = ` + a.add(f.OrgID) + ` AND day >= ` + a.add(f.From) + ` AND day <= ` + a.add(f.To)
	if f.PrincipalID != "" {
		query += ` AND principal_kind = ` + a.add(f.PrincipalKind) + ` AND principal_id = ` + a.add(f.PrincipalID)
	}
	rows, err := q.db.QueryContext(ctx, query+g.by, a...)
	return collect("sum api usage", rows, err, func(r rowScanner) (store.APIUsageSum, error) {
		var (
			s    store.APIUsageSum
			last sql.NullInt64
		)
		if err := r.Scan(&s.Kind, &s.Group, &s.Requests, &s.Errors, &s.RateLimited, &last); err != nil {
			return s, err
		}
		s.LastUsedAt = fromNullMs(last)
		return s, nil
	})
}
