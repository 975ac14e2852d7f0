package sqlstore

import (
	"context"
	"fmt"

	"github.com/h0p/h0p/control/store"
)

func (q queries) HasOrgs(ctx context.Context) (bool, error) {
	var has bool
	if err := q.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM orgs)`).Scan(&has); err != nil {
		return false, fmt.Errorf("has orgs: %w", err)
	}
	return has, nil
}

// plan is the plan an org is stored with: none given is the free plan.
func plan(p string) string {
	if p == "" {
		return "free"
	}
	return p
}

func (q queries) CreateOrg(ctx context.Context, o store.Org) error {
	res, err := q.db.ExecContext(ctx, `INSERT INTO orgs (id, name, plan, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, o.ID, o.Name, plan(o.Plan), ms(o.CreatedAt))
	return inserted("insert org", 1, res, err)
}

func (q queries) Org(ctx context.Context, id string) (store.Org, error) {
	var (
		o  store.Org
		at int64
	)
	err := q.db.QueryRowContext(ctx, `SELECT id, name, plan, created_at FROM orgs WHERE id = $1`, id).Scan(&o.ID, &o.Name, &o.Plan, &at)
	if err != nil {
		return store.Org{}, scanErr("org", err)
	}
	o.CreatedAt = fromMs(at)
	return o, nil
}

func (q queries) UpdateOrg(ctx context.Context, o store.Org) error {
	res, err := q.db.ExecContext(ctx, `UPDATE orgs SET name = $1, plan = $2 WHERE id = $3`, o.Name, plan(o.Plan), o.ID)
	return oneRow("update org", res, err)
}
