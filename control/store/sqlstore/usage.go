package sqlstore

import (
	"context"
	"fmt"
)

// AddUsage counts in one upsert, so concurrent calls on one counter all
// count.
func (q queries) AddUsage(ctx context.Context, orgID, period, metric string, delta int64) (int64, error) {
	var v int64
	err := q.db.QueryRowContext(ctx, `INSERT INTO usage (org_id, period, metric, value) VALUES ($1, $2, $3, $4)
		ON CONFLICT (org_id, period, metric) DO UPDATE SET value = usage.value + excluded.value
		RETURNING value`, orgID, period, metric, delta).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("add usage: %w", err)
	}
	return v, nil
}

func (q queries) Usage(ctx context.Context, orgID, period string) (map[string]int64, error) {
	type counter struct {
		metric string
		value  int64
	}
	rows, err := q.db.QueryContext(ctx, `SELECT metric, value FROM usage WHERE org_id = $1 AND period = $2`, orgID, period)
	cs, err := collect("usage", rows, err, func(r rowScanner) (counter, error) {
		var c counter
		if err := r.Scan(&c.metric, &c.value); err != nil {
			return counter{}, fmt.Errorf("usage: %w", err)
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(cs))
	for _, c := range cs {
		out[c.metric] = c.value
	}
	return out, nil
}
